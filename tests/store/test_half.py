"""rm_half_to_float / rm_float_to_half against numpy, bit for bit: all 65536 half bit
patterns, and float32 values around every half rounding boundary (ties, overflow,
subnormals, NaN payloads)."""
import os
import sys

import numpy as np

from storetest import TempDir, check, finish, run

tool = sys.argv[1]
with TempDir() as d:
    halves = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    as_float = halves.view(np.float16).astype(np.float32)
    # Floats to convert: every half value, the midpoints between neighbours (exact ties),
    # one float32 ulp either side of each midpoint, values past the half range, random bits.
    f = as_float[np.isfinite(as_float)].astype(np.float64)
    f.sort()
    mid = ((f[1:] + f[:-1]) / 2).astype(np.float32)
    bits = mid.view(np.uint32)
    rng = np.random.default_rng(5)
    extra = np.array([65504, 65519.99, 65520, 65536, 1e10, -1e10, 1e-8, 2.0**-25, 2.0**-24, -2.0**-25,
                      np.inf, -np.inf, np.nan, -np.nan], dtype=np.float32)
    random_bits = rng.integers(0, 2**32, 200000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    values = np.concatenate([as_float, mid, (bits + 1).view(np.float32), (bits - 1).view(np.float32), extra,
                             random_bits]).astype(np.float32)
    values.tofile(os.path.join(d, "in.f32"))
    run([tool, "half", os.path.join(d, "all.f32"), os.path.join(d, "in.f32"), os.path.join(d, "out.f16")], expect=0)

    got = np.fromfile(os.path.join(d, "all.f32"), dtype=np.float32)
    check(got.size == 65536, "half_to_float wrote 65536 values")
    diff = np.nonzero(got.view(np.uint32) != as_float.view(np.uint32))[0]
    check(diff.size == 0, f"half->float differs from numpy at {diff.size} patterns, first {diff[:5]}")

    with np.errstate(over="ignore", invalid="ignore"):
        expect = values.astype(np.float16).view(np.uint16)
    got = np.fromfile(os.path.join(d, "out.f16"), dtype=np.uint16)
    check(got.size == values.size, "float_to_half wrote every value")
    diff = np.nonzero(got != expect)[0]
    check(diff.size == 0, f"float->half differs from numpy for {diff.size} of {values.size} values, e.g. "
          + ", ".join(f"{values[i]!r}: {got[i]:#06x} vs {expect[i]:#06x}" for i in diff[:5]))
finish("store_half")
