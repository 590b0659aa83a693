"""rmens.Store: lazy h5py access to an rmens embedding store (include/rmens/store/store.h).

Nothing is read until asked for: the accessors return h5py datasets (slice them to read a
part), and features() reads only the rows asked for."""
import os

import h5py
import numpy as np

from ._h5 import attrs, text, texts

DEFAULT_VIEW = "default"


class Store:
    """An rmens store (store.h5), opened read-only.

    Splits are named as rmens names them:
      "train", "test"                       embeddings [N, K, D] (rewards: .rewards(split))
      "bench/chosen", "bench/rejected"      [N_bench, D]
      "pairs/train/chosen", ".../rejected"  [N_pairs, D], and "pairs/test/..." (pair stores)
    and every one exists once per view: the default view's at the top of the file, view
    v's under /views/<v>/ with its own D and dtype (float32 or float16)."""

    def __init__(self, path):
        self.path = os.fspath(path)
        if os.path.isdir(self.path):
            raise IsADirectoryError(f"rmens.Store: {self.path} is a directory, not a store file")
        self.file = h5py.File(self.path, "r")
        fmt = self.file.attrs.get("format")
        if fmt is not None and text(fmt) != "rmens-store":
            raise ValueError(f"rmens.Store: {self.path} is a {text(fmt)!r} file, not an rmens store")

    # --- the file -------------------------------------------------------------------------
    @property
    def attrs(self):
        """The root attributes (format, format_version, store_uuid, views, ...) as a dict."""
        return attrs(self.file)

    @property
    def uuid(self):
        return text(self.file.attrs["store_uuid"]) if "store_uuid" in self.file.attrs else None

    @property
    def views(self):
        """Every view's name, the default view first."""
        if "views" in self.file.attrs:
            return texts(self.file.attrs["views"])
        return [DEFAULT_VIEW]

    @property
    def splits(self):
        """The splits this store holds (of the names above; "bench" as its two sides)."""
        out = [s for s in ("train", "test") if f"{s}/embeddings" in self.file]
        out += [f"bench/{side}" for side in ("chosen", "rejected") if f"bench/{side}" in self.file]
        out += [f"pairs/{s}/{side}" for s in ("train", "test") for side in ("chosen", "rejected")
                if f"pairs/{s}/{side}" in self.file]
        return out

    def __getitem__(self, key):
        """Any object of the file by its HDF5 path (h5py, lazy)."""
        return self.file[key]

    def __contains__(self, key):
        return key in self.file

    def close(self):
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"rmens.Store({self.path!r}: views {self.views}, splits {self.splits})"

    # --- datasets ------------------------------------------------------------------------
    @staticmethod
    def dataset_path(split="test", view=DEFAULT_VIEW):
        """The HDF5 path of a split's embeddings in a view, e.g. ("test", "length") ->
        "views/length/test/embeddings"."""
        rel = f"{split}/embeddings" if split in ("train", "test") else split.strip("/")
        return rel if view in (None, DEFAULT_VIEW) else f"views/{view}/{rel}"

    def embeddings(self, split="test", view=DEFAULT_VIEW):
        """The split's embeddings in a view: an h5py.Dataset (lazy)."""
        path = self.dataset_path(split, view)
        if path not in self.file:
            raise KeyError(f"rmens.Store {self.path}: no /{path} (views {self.views}, splits {self.splits})")
        return self.file[path]

    def rewards(self, split="test"):
        """The golden rewards [N, K] of "train" or "test" (h5py.Dataset; the default view's)."""
        return self.file[f"{split}/rewards"]

    def dim(self, view=DEFAULT_VIEW):
        """D of a view."""
        for split in self.splits:
            path = self.dataset_path(split, view)
            if path in self.file:
                return int(self.file[path].shape[-1])
        raise KeyError(f"rmens.Store {self.path}: no view {view!r} (views {self.views})")

    def pairs(self, split="train", view=DEFAULT_VIEW):
        """A pair store's split as a dict of h5py datasets: chosen, rejected [N_pairs, D_view]
        and group [N_pairs] (the dialogue ids, the default view's; None when absent)."""
        chosen = self.embeddings(f"pairs/{split}/chosen", view)
        rejected = self.embeddings(f"pairs/{split}/rejected", view)
        group = self.file.get(f"pairs/{split}/group")
        return {"chosen": chosen, "rejected": rejected, "group": group}

    def features(self, views=(DEFAULT_VIEW,), split="test", rows=None):
        """The views' embeddings of a split concatenated along the last axis, as float32
        (float16 converts exactly): the raw input of a member reading these views (a
        member's .views). rows: None (all) or an index/slice of the split's first axis."""
        if isinstance(views, str):
            views = [views]
        sel = slice(None) if rows is None else rows
        parts = [np.asarray(self.embeddings(split, v)[sel], dtype=np.float32) for v in views]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)
