"""`rmens inspect` on valid stores (1 and 2 ranks, float32/float16, with and without a
bench): shapes, dtypes, chunks, golden reward statistics equal numpy's, status ok."""
import os
import re

import h5py
import numpy as np

from storetest import RMENS, TempDir, check, finish, run, synth

with TempDir() as d:
    for dtype, bench, ranks in [("float32", 37, 1), ("float16", 0, 2)]:
        store = os.path.join(d, f"{dtype}.h5")
        synth(store, sets=[f"synth.dtype={dtype}", f"synth.bench_pairs={bench}"])
        _, out, _ = run([RMENS, "inspect", store, "--read-chunk-mb", "1"], ranks=ranks, expect=0)
        check("status          ok" in out, f"{dtype}: status ok in\n{out}")
        check(re.search(rf"^train\s+301\s+7\s+48\s+{dtype}\s+\[\d+, 7, 48\]", out, re.M), f"{dtype}: train line in\n{out}")
        check(re.search(rf"^test\s+53\s+19\s+48\s+{dtype}", out, re.M), f"{dtype}: test line in\n{out}")
        if bench:
            check(re.search(rf"^bench\s+37 chosen/rejected pairs, {dtype}", out, re.M), f"bench line in\n{out}")
        else:
            check(re.search(r"^bench\s+absent", out, re.M), f"bench absent in\n{out}")
        with h5py.File(store, "r") as f:
            check(f.attrs["store_uuid"] in out, "store_uuid printed")
            for split in ("train", "test"):
                r = f[f"{split}/rewards"][...].astype(np.float64)
                m = re.search(rf"^{split}\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+0/(\d+)\s+0/(\d+)", out, re.M)
                if not check(m, f"{split} reward line in\n{out}"):
                    continue
                lo, hi, mean, std = (float(x) for x in m.groups()[:4])
                check(abs(lo - r.min()) <= 1e-4 * abs(r.min()) and abs(hi - r.max()) <= 1e-4 * abs(r.max()),
                      f"{split}: min/max {lo}, {hi} vs numpy {r.min()}, {r.max()}")
                check(abs(mean - r.mean()) <= 1e-4 * max(1, abs(r.mean())) and abs(std - r.std()) <= 1e-4 * r.std(),
                      f"{split}: mean/std {mean}, {std} vs numpy {r.mean()}, {r.std()}")
                check(int(m.group(5)) == r.size and int(m.group(6)) == f[f"{split}/embeddings"].size,
                      f"{split}: value counts")
    _, out, _ = run([RMENS, "inspect", "--help"], expect=0)
    check(out.startswith("usage: rmens inspect STORE"), f"inspect --help: {out!r}")
    code, _, err = run([RMENS, "inspect"])
    check(code == 1 and "missing STORE" in err, f"inspect without STORE: {err!r}")
finish("store_inspect")
