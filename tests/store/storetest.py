"""Shared helpers for the store's script tests (run by /usr/bin/python3 under ctest).

The environment (tests/CMakeLists.txt, rmens_script_test) provides RMENS, MPIRUN and
SRCDIR. Every check failure is collected, printed and turns into a non-zero exit."""
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

RMENS = os.environ["RMENS"]
MPIRUN = os.environ.get("MPIRUN", "mpirun")
SRCDIR = os.environ["SRCDIR"]
SMALL_CFG = os.path.join(SRCDIR, "tests", "store", "small.cfg")

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("CHECK FAILED:", what, file=sys.stderr)
    return cond


def run(args, ranks=1, expect=None):
    """Run a command (under mpirun when ranks > 1); returns (exit code, stdout, stderr)."""
    cmd = ([MPIRUN, "--oversubscribe", "-n", str(ranks)] if ranks > 1 else []) + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if expect is not None and p.returncode != expect:
        check(False, f"{' '.join(cmd)}: exit {p.returncode}, expected {expect}\nstdout: {p.stdout}\nstderr: {p.stderr}")
    return p.returncode, p.stdout, p.stderr


# Commands that run_all starts at once: a launch of rmens or store_tool (under mpirun or as
# an MPI singleton) mostly waits on process and MPI start-up, so one at a time leaves the
# cores idle. STORE_TEST_JOBS=1 runs them one by one.
JOBS = max(1, int(os.environ.get("STORE_TEST_JOBS", "3")))


def run_all(commands):
    """Runs independent commands, each (args, ranks[, expect]) as run() takes them, JOBS at
    a time; returns their (exit code, stdout, stderr) in the order given. The commands must
    not depend on each other (distinct output files)."""
    with ThreadPoolExecutor(JOBS) as pool:
        return list(pool.map(lambda c: run(*c), commands))


def synth(store, ranks=1, sets=(), force=True):
    args = [RMENS, "synth", SMALL_CFG, "--set", f"store={store}"]
    for s in sets:
        args += ["--set", s]
    if force:
        args.append("--force")
    return run(args, ranks=ranks, expect=0)


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="rmens-store-test-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def finish(name):
    if failures:
        print(f"{name}: {len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print(f"{name}: all checks passed")


# ---- content digests, as include/rmens/store/store.h defines them ----
DIGEST_STEP = np.uint64(0x9E3779B97F4A7C15)


def mix64(z):
    """SplitMix64's finaliser, elementwise on uint64 arrays."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def digest(arrays):
    """The content digest of a group's arrays (in order), from the values h5py reads."""
    total, first = np.uint64(0), 0
    with np.errstate(over="ignore"):
        for a in arrays:
            a = np.ascontiguousarray(a).reshape(-1)
            bits = a.view(np.uint16 if a.dtype == np.float16 else np.uint32).astype(np.uint64)
            j = np.arange(first, first + a.size, dtype=np.uint64)
            total = total + np.sum(mix64((j * DIGEST_STEP) ^ bits), dtype=np.uint64)
            first += a.size
    return "rmens-sum64-v1:%016x" % int(total)
