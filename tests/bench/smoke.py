#!/usr/bin/python3
"""The benchmark's smoke test (ctest bench_smoke): its peak part runs, briefly, and what it
writes has the right shape. No rate is checked against another (the cores are shared).

    /usr/bin/python3 tests/bench/smoke.py BUILD_DIR

1. run_bench.py --parts peak with a few hundredths of a second per figure: the CPU peak
   (bench_peak) at the start and the end, the sgemm limit, bench.json and its table.
   bench.json's "peak": fp32 {"1", "2"} positive; bf16 the same, or null exactly when
   /proc/cpuinfo lacks avx512_bf16; amx_bf16 null without amx_bf16 (with it: figures, or
   null with the reason Linux refused the tiles); the ISA of each; the table's peak rows.
2. bench_peak on its AVX2 path (BENCH_PEAK_ISA=avx2, as on a CPU without AVX-512), where
   the CPU has AVX2 and FMA: ymm FMA figures, bf16 and AMX null.
3. fraction_of_peak on a stored bench.json (tests/bench/results/2026-12-01_amx.json, train
   and eval in fp32 and bf16, rmens and PyTorch) given the peak measured in 1: every entry
   gets its GFLOP/s over the peak of its precision at its ranks x threads, and the table
   prints it."""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_bench  # noqa: E402  (the functions under test: merge_peaks, add_fractions_of_peak, bench_table)

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print(f"FAIL: {what}", flush=True)
    return ok


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key.strip() == "flags":
                return set(value.split())
    sys.exit("smoke: no flags line in /proc/cpuinfo")


def rates(x, what):
    """x is {"1": GFLOP/s, "2": GFLOP/s}, both positive."""
    return (check(isinstance(x, dict) and sorted(x) == ["1", "2"], f"{what}: keys 1 and 2, got {x!r}")
            and check(all(isinstance(v, (int, float)) and v > 0 for v in x.values()), f"{what}: positive, got {x!r}"))


def check_peak(p, flags, what):
    for kind in ("fp32", "bf16", "amx_bf16", "isa"):
        check(kind in p, f"{what}: key {kind}")
    rates(p.get("fp32"), f"{what} fp32")
    if "avx512_bf16" in flags:
        rates(p.get("bf16"), f"{what} bf16 (the CPU has avx512_bf16)")
    else:
        check(p.get("bf16") is None, f"{what} bf16 null without avx512_bf16, got {p.get('bf16')!r}")
    if "amx_bf16" in flags and p.get("amx_bf16") is not None:
        rates(p["amx_bf16"], f"{what} amx_bf16")
    elif "amx_bf16" in flags:
        check(bool(p.get("amx_unavailable")), f"{what}: amx_bf16 null on an AMX CPU without a reason")
    else:
        check(p.get("amx_bf16") is None, f"{what} amx_bf16 null without amx_bf16, got {p.get('amx_bf16')!r}")
    isa = p.get("isa") or {}
    for kind in ("fp32", "bf16", "amx_bf16"):
        check((isa.get(kind) is None) == (p.get(kind) is None), f"{what}: isa.{kind} {isa.get(kind)!r} with figures {p.get(kind)!r}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build = os.path.abspath(sys.argv[1])
    flags = cpu_flags()
    t0 = time.perf_counter()

    # 1. the peak part through the benchmark driver
    with tempfile.TemporaryDirectory(prefix="bench_smoke_") as out:
        cmd = [sys.executable, os.path.join(HERE, "run_bench.py"), "--build", build, "--out", out, "--parts", "peak",
               "--peak-seconds", "0.03", "--sgemm-seconds", "0.02"]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        print(p.stdout)
        if not check(p.returncode == 0, f"run_bench.py --parts peak exited {p.returncode}"):
            sys.exit(1)
        with open(os.path.join(out, "bench.json")) as f:
            r = json.load(f)
    peak = r.get("peak") or {}
    check_peak(peak, flags, "bench.json peak")
    check(len(r.get("peak_runs", [])) == 2, "peak_runs: the start's and the end's")
    for j in r.get("peak_runs", []):
        check_peak(j, flags, "peak_runs[]")
    for kind in ("fp32", "bf16", "amx_bf16"):
        runs = [j[kind] for j in r.get("peak_runs", []) if j.get(kind)]
        if runs and peak.get(kind):
            check(all(peak[kind][t] == max(x[t] for x in runs) for t in ("1", "2")), f"peak.{kind}: the higher of the runs")
    table = "\n".join(r.get("table", []))
    check("CPU peak fp32 FMA, 1 / 2 threads" in table, "table: the fp32 peak row")
    check(("CPU peak bf16 dot, 1 / 2 threads" in table) == (peak.get("bf16") is not None), "table: the bf16 peak row")

    # 2. bench_peak's AVX2 path (what a CPU without AVX-512 runs)
    if {"avx2", "fma"} <= flags:
        p = subprocess.run([os.path.join(build, "tests", "bench_peak"), "0.02", "1,2"], env=dict(os.environ, BENCH_PEAK_ISA="avx2"),
                           stdout=subprocess.PIPE, text=True)
        if check(p.returncode == 0, f"bench_peak with BENCH_PEAK_ISA=avx2 exited {p.returncode}"):
            j = json.loads(p.stdout.strip().splitlines()[-1])
            check_peak(j, flags - {"avx512_bf16", "amx_bf16"}, "bench_peak avx2 path")
            check(j["isa"]["fp32"].startswith("avx2+fma: vfmadd231ps ymm"), f"avx2 path: isa {j['isa']['fp32']!r}")
            check(j["isa_cap"] == "avx2", "avx2 path: isa_cap")

    # 3. fraction_of_peak on a stored bench.json, with the peak measured above
    with open(os.path.join(HERE, "results", "2026-12-01_amx.json")) as f:
        old = json.load(f)
    old["peak"] = peak
    run_bench.add_fractions_of_peak(old)
    entries = []  # (entry, GFLOP/s, precision, threads)
    for th, x in old["train"].items():
        entries += [(x["rmens"], x["rmens"]["train_gflops"], "fp32", th), (x["torch"], x["torch"]["gflops"], "fp32", th),
                    (x["bf16"]["rmens"], x["bf16"]["rmens"]["train_gflops"], "bf16", th),
                    (x["bf16"]["torch"], x["bf16"]["torch"]["gflops"], "bf16", th)]
        check(x["fraction_of_peak"] == x["rmens"]["fraction_of_peak"], f"train {th}: fraction_of_peak beside fraction_of_sgemm")
    for precision, g in (("fp32", old["eval"]), ("bf16", old["eval"]["bf16"])):
        entries += [(g[k], g[k]["gflops"], precision, g[k]["ranks"] * g[k]["threads"]) for k in ("1x2", "2x1", "1x1")]
        entries.append((g["torch_2_threads"], g["torch_2_threads"]["gflops"], precision, 2))
    for entry, gflops, precision, th in entries:
        lim = (peak.get("fp32") if precision == "fp32" else peak.get("amx_bf16") or peak.get("bf16") or {}) or {}
        want = round(gflops / lim[str(th)], 3) if lim.get(str(th)) else None
        check("fraction_of_peak" in entry and entry["fraction_of_peak"] == want,
              f"{entry.get('bench', 'eval')} {precision} {th} thr: fraction_of_peak {entry.get('fraction_of_peak')!r}, want {want!r}")
    table = run_bench.bench_table(old)
    check(" of peak " in table, "stored bench.json's table: fractions of the peak")

    print(f"smoke: {'FAILED: ' + str(len(failures)) + ' check(s)' if failures else 'ok'} in {time.perf_counter() - t0:.1f} s")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
