"""rmens.load_results: results.json and results.h5 of an `rmens eval` / `rmens run` as one
object (README "Results")."""
import collections.abc
import json
import os

import h5py

from ._h5 import attrs, text


class Results(collections.abc.Mapping):
    """A run's results: a read-only mapping over results.json (results["aggregators"]["mean"]
    ["bon"]["4"], results["ablation"]["2"]["std_over_subsets"]["aggregators"]["mean"]
    ["spearman"], ...), with results.h5 opened on first use (.h5, lazy h5py).

      .json         the results.json dict ({} when the run has only results.h5)
      .h5           results.h5 as an h5py.File (opened read-only on first access)
      .attrs        results.h5's root attributes (config, store, store_uuid, precision, ...)
      .config       the merged config text the run used
      .predictions  /predictions [E, N_test, K_test] standardised member scores (h5py
                    dataset; None unless the run had eval.save_predictions = true)
      .dir          the run directory"""

    def __init__(self, path):
        path = os.fspath(path)
        self.dir = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
        self.json_path = os.path.join(self.dir, "results.json")
        self.h5_path = os.path.join(self.dir, "results.h5")
        if not os.path.isfile(self.json_path) and not os.path.isfile(self.h5_path):
            raise FileNotFoundError(f"rmens.load_results: no results.json or results.h5 in {self.dir}")
        self.json = {}
        if os.path.isfile(self.json_path):
            with open(self.json_path, encoding="utf-8") as f:
                self.json = json.load(f)
        self._h5 = None

    # the mapping: results.json
    def __getitem__(self, key):
        return self.json[key]

    def __iter__(self):
        return iter(self.json)

    def __len__(self):
        return len(self.json)

    # results.h5, lazily
    @property
    def h5(self):
        if self._h5 is None:
            if not os.path.isfile(self.h5_path):
                raise FileNotFoundError(f"rmens.load_results: no results.h5 in {self.dir}")
            self._h5 = h5py.File(self.h5_path, "r")
        return self._h5

    @property
    def attrs(self):
        return attrs(self.h5)

    @property
    def config(self):
        return text(self.h5.attrs["config"]) if "config" in self.h5.attrs else None

    @property
    def predictions(self):
        return self.h5["predictions"] if "predictions" in self.h5 else None

    @property
    def members(self):
        """E, the number of members evaluated."""
        if "members" in self.json:
            return int(self.json["members"])
        return int(self.h5["single/spearman"].shape[0])

    def close(self):
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"rmens.Results({self.dir!r}: {', '.join(self.json) or 'results.h5 only'})"


def load_results(path):
    """The results of a run: `path` is its directory, its results.json or its results.h5."""
    return Results(path)
