#!/usr/bin/python3
"""rmens performance benchmark (issue 7): one run on this machine, every figure measured now.

    /usr/bin/python3 tests/bench/run_bench.py [--build build] [--out build/bench] [--reps 2]

Measures and prints a table, and writes <out>/bench.json (with the CPU's model and its
avx2 / avx512f / avx512_bf16 / amx_bf16 / amx_tile flags: native bf16 = AMX or AVX512_BF16):
  peak       the CPU's own arithmetic peak (build/tests/bench_peak, issue 31), 1 and 2
             threads, at the start and the end of the run (the higher kept): fp32 FMA
             (vfmadd231ps zmm, ymm without AVX-512), bf16 dot products (vdpbf16ps zmm, null
             without AVX512_BF16) and the AMX tile rate (tdpbf16ps, null without AMX).
             Every train and eval entry, rmens' and PyTorch's, gets fraction_of_peak: its
             GFLOP/s over the peak of its precision at its thread count (ranks x threads;
             bf16: the AMX rate where there is one), beside the library limits below.
             Measured whatever --parts says; --parts peak measures only the limits;
  sgemm      cblas_sgemm GFLOP/s at the model's GEMM shapes (build/tests/bench_sgemm), 1 and
             2 threads: the practical limit every other rate is divided by;
  bf16       the bf16 limit: oneDNN's bf16 matmul at the same shapes beside sgemm measured
             right after it (build/tests/bench_bf16, only built when oneDNN is found),
             1 and 2 threads, plain nn.Linear weights and the kernel's own layout, and
             single-threaded tiles of 256 / 512 / 1024 rows;
  train      rm_train_member at D = 2048 -> 1024 -> 512 -> 1, minibatch 512 pairs, in memory
             (build/tests/bench_train, which measures the sgemm limit between its epochs);
             the PyTorch reference on the same pairs/epochs/minibatch (torch_reference.py);
             in fp32 and, where the build has the bf16 backend (bench_train's third
             argument), in bf16 against the bf16 limit, beside PyTorch under autocast;
  eval       `rmens eval`, 4 members, streaming the test split of a store on disk, 1 rank
             and 2 ranks; the PyTorch reference scoring the same store with the same weights;
             fp32 and model.precision=bf16 (against the bf16 limit; PyTorch in bf16);
             the statistics' share of each eval's total;
  large      `rmens eval` of E = 4 / 16 / 64 quickly trained members on a small test split:
             per-member cost (total / E), E = 64 against E = 4, and what the ablation over
             sizes 1..64 adds to the E = 64 eval;
  ensemble   `rmens train` of 4 members at the reference shapes, 1 and 2 ranks;
  trunk      ensemble.kind = shared_trunk (issue 16's target: <= 1.3x one member's cost
             for E = 10): `rmens train` of one independent member and of a shared trunk
             with --trunk-heads heads on the eval store's pairs, 1 rank x 2 threads; the
             training seconds (members.h5 /run/member_train_seconds summed) and their ratio;
  memory     peak resident memory per rank of `rmens eval` on a test split larger than half
             the machine's RAM and on one a tenth of it (same eval.chunk_prompts);
  integrity  the parallel read rate of a store of --integrity-gb with Fletcher-32 checksums
             (as synth writes it) and of an h5py copy with the same chunks and none, read
             by the reader train and eval use (tests/store_tool readbench), 1 and 2 ranks:
             the checksum's cost (issue 18's target: <= 10 %); and `rmens inspect --verify`;
  active     `rmens active` (configs/active.cfg; --parts active, not by default) for entropy
             and past_dopt: pool 100 000, 1 000 initial labels, 2 rounds of 1 000, 5 members,
             2 ranks x 1 thread, on a 20 000 x 10 train / 50 x 500 test store of D = 2048:
             per round the seconds of train / score / select / evaluate (active.h5's
             /run/round_seconds), the pool's scoring rate (2 x pool x members responses per
             score second) and its GFLOP/s against the forward sgemm limit, the selection;
             and the D-optimal selection alone (build/tests/bench_dopt, dopt and past_dopt,
             1 x 2 and 2 x 1): seconds per 1000-pair batch and the rate of its multiply-adds;
  case_study the full configs/case_study.cfg (--case-study, run separately, in the
             background: it takes long), fp32 and model.precision=auto; included if its
             JSON exists.
The machine may be shared: the sgemm limit is measured right before each workload, each
workload is repeated --reps times, and the best rate (and its ratio to the limit measured
next to it) is kept. Timings are never pass/fail: the ctest test bench_smoke runs the peak
part briefly (tests/bench/smoke.py) and checks the shape of what it writes, never a rate."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
PYTHON = "/usr/bin/python3"  # Debian's, with python3-torch/numpy/h5py
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
# FLOPs per embedding row of the reference model (as rm_mlp_forward_flops/backward_flops):
# forward 2 (D H1 + H1 H2 + H2); backward 2 (D H1 + 2 H1 H2 + 2 H2): weight gradients of
# every layer, input gradients of every layer but the first (its input is data).
D, H1, H2 = 2048, 1024, 512
FORWARD_FLOPS = 2 * (D * H1 + H1 * H2 + H2)
BACKWARD_FLOPS = 2 * (D * H1 + 2 * H1 * H2 + 2 * H2)
MEMBERS = 4
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
NO_BF16_BACKEND = "bf16 backend not available in this build"
NO_NATIVE_BF16 = "no native bf16"  # the table shows this reason as the row's value
PEAK_KINDS = ("fp32", "bf16", "amx_bf16")  # bench_peak's figures: {"1": GFLOP/s, "2": ...} or null


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run_status(cmd, threads=None):
    """(exit status, output, wall seconds); threads: OpenBLAS's and OpenMP's (oneDNN, torch)"""
    env = dict(ENV)
    if threads is not None:
        env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(threads)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout, time.perf_counter() - t0


def run(cmd, threads=None, check=True):
    rc, out, wall = run_status(cmd, threads)
    if check and rc != 0:
        sys.exit(f"bench: command failed ({rc}): {' '.join(cmd)}\n{out[-4000:]}")
    return out, wall


def last_json(text):
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    sys.exit(f"bench: no JSON line in output:\n{text[-2000:]}")


def cpu_info():
    """The CPU's model name and the flags that decide the bf16 path (/proc/cpuinfo, else lscpu)."""
    model, flags = None, None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model is None:
                    model = value.strip()
                elif key == "flags" and flags is None:
                    flags = set(value.split())
    except OSError:
        pass
    if model is None or flags is None:
        try:
            out = subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True, env=dict(os.environ, LC_ALL="C")).stdout
            for line in out.splitlines():
                key, _, value = line.partition(":")
                if key.strip() == "Model name" and model is None:
                    model = value.strip()
                elif key.strip() == "Flags" and flags is None:
                    flags = set(value.split())
        except OSError:
            pass
    have = {f: f in (flags or ()) for f in CPU_FLAGS}
    via = [name for name, ok in (("AMX", have["amx_bf16"] and have["amx_tile"]), ("AVX512_BF16", have["avx512_bf16"])) if ok]
    return {"model": model or "unknown", "flags": have, "native_bf16": bool(via), "native_bf16_via": via}


def cpu_line(cpu):
    flags = " ".join(f if ok else f"-{f}" for f, ok in cpu["flags"].items())
    native = f"yes ({', '.join(cpu['native_bf16_via'])})" if cpu["native_bf16"] else "no"
    return f"CPU: {cpu['model']}; flags {flags}; native bf16: {native}"


def bf16_limit(j, workload):
    """The bf16 limit of a workload in bench_bf16's JSON: the faster of the two weight layouts
    (plain nn.Linear, the kernel's own) - what oneDNN reaches at these shapes."""
    w = (j or {}).get("workloads", {}).get(workload, {})
    rates = [r for r in (w.get("bf16_gflops"), w.get("bf16_any_gflops")) if r]
    return max(rates) if rates else None


def ratio(a, b, digits=3):
    return round(a / b, digits) if a and b else None


class Bench:
    def __init__(self, args):
        self.a = args
        self.build = os.path.abspath(args.build)
        self.rmens = os.path.join(self.build, "rmens")
        self.out = os.path.abspath(args.out)
        self.data = os.path.abspath(args.data or os.path.join(self.out, "data"))
        os.makedirs(self.data, exist_ok=True)
        self.mpirun = shutil.which("mpirun") or "mpirun"
        self.result = {"machine": {"cores": os.cpu_count(), "load_at_start": os.getloadavg(),
                                   "mem_total_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
                                   "started": time.strftime("%Y-%m-%d %H:%M:%S"), "cpu": cpu_info()}}
        self.cpu = self.result["machine"]["cpu"]
        self.config = os.path.join(SRC, "configs", "case_study.cfg")
        self._rmens_bf16 = self._train_bf16 = None

    def mpi(self, ranks):
        """mpirun prefix: no binding, so a rank's threads get the cores they are given
        (mpirun binds up to 2 ranks to one core each by default)."""
        return [self.mpirun, "--bind-to", "none", "-n", str(ranks)]

    # ---- the limits ----
    def peak(self):
        """bench_peak's JSON (the CPU's fp32 / bf16 / AMX peak at 1 and 2 threads), or a
        stand-in with the reason where it was not built."""
        exe = os.path.join(self.build, "tests", "bench_peak")
        if not os.path.exists(exe):
            return {"unavailable": "bench_peak not built (tests/bench.cmake)"}
        rc, out, _ = run_status([exe, str(self.a.peak_seconds), "1,2"])
        j = next((json.loads(l) for l in reversed(out.splitlines()) if l.startswith("{")), None)
        if rc != 0 or j is None:  # never the end of a long run: the rows say why instead
            log(f"bench_peak failed (exit {rc}): {out.strip()[-500:]}")
            return {"unavailable": f"bench_peak failed (exit {rc})"}
        log("CPU peak, GFLOP/s at 1 / 2 threads: " + "; ".join(
            f"{k} {j[k]['1']:.0f} / {j[k]['2']:.0f}" if j.get(k) else f"{k} none" for k in PEAK_KINDS) +
            f" (clock by an add chain {j['clock_ghz_add_chain']:.2f} GHz)")
        return j

    def measure_peak(self):
        """The peak at the start and at the end of the run: per figure the higher (another
        process on the cores only lowers it), both runs kept in peak_runs."""
        runs = self.result.setdefault("peak_runs", [])
        runs.append(self.peak())
        self.result["peak"] = merge_peaks(runs)

    def sgemm(self, threads, seconds=None):
        out, _ = run([os.path.join(self.build, "tests", "bench_sgemm"), str(threads), str(seconds or self.a.sgemm_seconds)])
        return last_json(out)

    def bf16(self, threads, workloads="all", seconds=None):
        """bench_bf16's JSON: oneDNN bf16 matmul beside sgemm (bf16 figures null where oneDNN
        has none; a stand-in with the reason where bench_bf16 was not built)."""
        exe = os.path.join(self.build, "tests", "bench_bf16")
        if not os.path.exists(exe):
            return {"bf16_available": False, "unavailable": "bench_bf16 not built (tests/bench.cmake found no oneDNN)"}
        out, _ = run([exe, str(threads), str(seconds or self.a.bf16_seconds), workloads], threads)
        return last_json(out)

    def bf16_matmul(self):
        """The bf16 limit at every shape, 1 and 2 threads; the tiles (1 thread) for the backend."""
        res = {}
        for threads in (1, 2):
            j = res[str(threads)] = self.bf16(threads)
            if not j.get("bf16_available"):
                log(f"bf16 matmul {threads} thread(s): unavailable: {j.get('unavailable')}")
                continue
            w = j["workloads"]
            log(f"bf16 matmul {threads} thread(s), {j['gemms']['fwd0_1024']['impl']}: " + "; ".join(
                f"{k} {w[k]['bf16_gflops']:.0f} (any {w[k]['bf16_any_gflops']:.0f}) vs sgemm {w[k]['sgemm_gflops']:.0f}"
                for k in ("train_step", "forward_1024", "forward_256")))
        self.result["bf16_limit"] = res

    def bf16_unavailable(self, need_backend=True):
        """Why bf16 rows of rmens (need_backend) or PyTorch cannot be measured here, or None."""
        if not self.cpu["native_bf16"]:
            return NO_NATIVE_BF16
        if need_backend:
            if self._rmens_bf16 is None:
                # the backend adds the key model.precision; an rmens without it rejects the key
                _, out, _ = run_status([self.rmens, "eval", "--help"])
                self._rmens_bf16 = "" if re.search(r"^\s*model\.precision\b", out, re.M) else \
                    f"{NO_BF16_BACKEND} (rmens has no model.precision)"
            return self._rmens_bf16 or None
        return None

    def bench_train_bf16(self):
        """Why bench_train cannot train in bf16, or None: a short probe run (its JSON carries
        "precision" once the backend is in)."""
        if self._train_bf16 is None:
            rc, out, _ = run_status([os.path.join(self.build, "tests", "bench_train"), "1024", "2", "bf16"], 1)
            j = next((json.loads(l) for l in reversed(out.splitlines()) if l.startswith("{")), None)
            if rc != 0 or j is None:
                self._train_bf16 = f"bench_train bf16 failed (exit {rc}): {out.strip().splitlines()[-1:] }"
            elif "precision" not in j:
                self._train_bf16 = f"{NO_BF16_BACKEND} (bench_train's JSON has no precision)"
            elif j["precision"] != "bf16":
                self._train_bf16 = f"bench_train asked for bf16 trained in {j['precision']} (kernel {j.get('kernel')})"
            else:
                self._train_bf16 = ""
        return self._train_bf16 or None

    # ---- training, in memory, one rank ----
    def train(self):
        res = {}
        for threads in (2, 1):
            best = None
            for rep in range(self.a.reps):
                out, _ = run([os.path.join(self.build, "tests", "bench_train"), str(self.a.train_pairs), str(self.a.train_epochs)], threads)
                c = last_json(out)
                t = last_json(run([PYTHON, os.path.join(HERE, "torch_reference.py"), "train", str(self.a.train_pairs),
                                   str(self.a.train_epochs), "512"], threads)[0])
                log(f"train {threads} thread(s) rep {rep + 1}: rmens {c['pairs_per_s']:.0f} pairs/s = "
                    f"{c['fraction_of_sgemm']:.3f} of sgemm {c['sgemm_gflops']:.1f}; torch {t['distinct_pairs_per_s']:.0f} distinct pairs/s")
                if best is None or c["fraction_of_sgemm"] > best[0]["fraction_of_sgemm"]:
                    best = (c, best[1] if best else t)
                if t["distinct_pairs_per_s"] > best[1]["distinct_pairs_per_s"]:
                    best = (best[0], t)
            c, t = best
            res[str(threads)] = {"rmens": c, "torch": t, "fraction_of_sgemm": c["fraction_of_sgemm"],
                                 "vs_torch_distinct_pairs": round(c["pairs_per_s"] / t["distinct_pairs_per_s"], 3)}
            res[str(threads)]["bf16"] = self.train_bf16(threads, c)
        self.result["train"] = res

    def train_bf16(self, threads, fp32):
        """bench_train in bf16 against the bf16 limit of the step's shapes (bench_bf16 run right
        before it), and PyTorch under autocast on the same pairs/epochs/minibatch."""
        res = {}
        why_torch = self.bf16_unavailable(need_backend=False)
        why = why_torch or self.bench_train_bf16()
        if why:
            res["unavailable"] = why
        if why_torch:
            return res
        best_c = best_t = None
        for rep in range(self.a.reps):
            c = None
            if not why:
                lim_j = self.bf16(threads, "train_step")
                lim = bf16_limit(lim_j, "train_step")
                out, _ = run([os.path.join(self.build, "tests", "bench_train"), str(self.a.train_pairs),
                              str(self.a.train_epochs), "bf16"], threads)
                c = last_json(out)
                c.update(bf16_limit_gflops=lim, fraction_of_bf16_limit=ratio(c["train_gflops"], lim, 4),
                         bf16_limit_sgemm_gflops=lim_j.get("workloads", {}).get("train_step", {}).get("sgemm_gflops"))
                if best_c is None or (c["fraction_of_bf16_limit"] or 0) > (best_c["fraction_of_bf16_limit"] or 0):
                    best_c = c
            t = last_json(run([PYTHON, os.path.join(HERE, "torch_reference.py"), "train", str(self.a.train_pairs),
                               str(self.a.train_epochs), "512", "bf16"], threads)[0])
            if best_t is None or t["distinct_pairs_per_s"] > best_t["distinct_pairs_per_s"]:
                best_t = t
            log(f"train bf16 {threads} thread(s) rep {rep + 1}: " +
                (f"rmens {c['pairs_per_s']:.0f} pairs/s ({c['train_gflops']:.0f} GFLOP/s, kernel {c.get('kernel')}) = "
                 f"{c['fraction_of_bf16_limit']} of the bf16 limit {c['bf16_limit_gflops']}; " if c else f"rmens: {why}; ") +
                f"torch autocast {t['distinct_pairs_per_s']:.0f} distinct pairs/s")
        res["torch"] = best_t
        if best_c:
            res.update(rmens=best_c, kernel=best_c.get("kernel"), bf16_limit_gflops=best_c["bf16_limit_gflops"],
                       fraction_of_bf16_limit=best_c["fraction_of_bf16_limit"],
                       vs_torch_bf16_distinct_pairs=ratio(best_c["pairs_per_s"], best_t["distinct_pairs_per_s"]),
                       vs_rmens_fp32=ratio(best_c["pairs_per_s"], fp32["pairs_per_s"]))
        return res

    # ---- a store on disk with 4 trained members ----
    def eval_store(self):
        store, run_dir = os.path.join(self.data, "eval_store.h5"), os.path.join(self.data, "eval_run")
        self.eval_sets = ["--set", f"store={store}", "--set", f"output={run_dir}", "--set", f"synth.dim={D}",
                          "--set", f"synth.train_prompts={self.a.train_prompts}", "--set", "synth.train_responses=10",
                          "--set", f"synth.test_prompts={self.a.test_prompts}", "--set", "synth.test_responses=500",
                          "--set", "synth.bench_pairs=0", "--set", f"ensemble.members={MEMBERS}",
                          "--set", f"pairs.count={self.a.ensemble_pairs}", "--set", f"train.epochs={self.a.ensemble_epochs}",
                          "--set", "train.batch_size=512", "--set", "train.patience=0", "--set", "model.hidden=[1024, 512]",
                          "--set", "eval.chunk_prompts=16", "--set", "eval.ablation_sizes=[]",
                          "--set", "model.precision=fp32"]  # case_study.cfg says auto; bf16 runs add their own --set
        self.config = os.path.join(SRC, "configs", "case_study.cfg")
        if not os.path.exists(store):
            log(f"synth: test split {self.a.test_prompts} x 500 x {D} float32 ({self.a.test_prompts * 500 * D * 4 / 1e9:.2f} GB)")
            run(self.mpi(2) + [self.rmens, "synth", self.config] + self.eval_sets + ["--force"])
        self.eval_store_path, self.eval_run = store, run_dir
        if not os.path.exists(os.path.join(run_dir, "members.h5")):
            run(self.mpi(2) + [self.rmens, "train", self.config] + self.eval_sets + ["--set", "parallel.blas_threads=1", "--force"])

    def ensemble(self):
        """rmens train of 4 members, reference shapes: 1 rank (1 and 2 threads), 2 ranks x 1 thread."""
        res = {}
        for ranks, threads in ((1, 1), (1, 2), (2, 1)):
            best = None
            for _ in range(self.a.reps):
                lim = self.sgemm(ranks * threads)["train_step_gflops"]
                out, wall = run(self.mpi(ranks) + [self.rmens, "train", self.config] + self.eval_sets +
                                ["--set", f"parallel.blas_threads={threads}", "--force"])
                if best is None or wall < best["wall_seconds"]:
                    best = {"ranks": ranks, "threads": threads, "wall_seconds": round(wall, 2), "sgemm_gflops": lim}
            res[f"{ranks}x{threads}"] = best
            log(f"ensemble train {ranks} rank(s) x {threads} thread(s): {best['wall_seconds']:.1f} s")
        t11, t12, t21 = (res[k]["wall_seconds"] for k in ("1x1", "1x2", "2x1"))
        res["efficiency_2_ranks_vs_1_rank_1_thread"] = round(t11 / (2 * t21), 3)
        res["speedup_2_ranks_vs_1_rank_2_threads"] = round(t12 / t21, 3)
        self.result["ensemble_train"] = res

    def trunk(self):
        """One independent member against a shared trunk of E heads: training seconds, 1 rank x 2 threads."""
        import h5py
        E, res = self.a.trunk_heads, {"heads": self.a.trunk_heads}
        kinds = (("independent_1", ["--set", "ensemble.members=1"]),
                 (f"shared_trunk_{E}", ["--set", f"ensemble.members={E}", "--set", "ensemble.kind=shared_trunk"]))
        for name, sets in kinds:
            best = None
            for _ in range(self.a.reps):
                lim = self.sgemm(2)["train_step_gflops"]
                out_dir = os.path.join(self.data, f"trunk_{name}")
                run(self.mpi(1) + [self.rmens, "train", self.config] + self.eval_sets + sets +
                    ["--set", f"output={out_dir}", "--set", "parallel.blas_threads=2", "--force"])
                with h5py.File(os.path.join(out_dir, "members.h5"), "r") as f:
                    seconds = float(f["run/member_train_seconds"][:].sum())
                    epochs = int(f["member_0"].attrs["epochs_run"])
                if best is None or seconds < best["train_seconds"]:
                    best = {"train_seconds": round(seconds, 2), "epochs_run": epochs, "sgemm_gflops": lim}
            res[name] = best
            log(f"trunk part: {name}: {best['train_seconds']:.1f} s for {best['epochs_run']} epochs")
        one, unit = res["independent_1"], res[f"shared_trunk_{E}"]
        # per epoch: early stopping may end the two runs after different epoch counts
        res["cost_vs_one_member"] = ratio(unit["train_seconds"] / unit["epochs_run"], one["train_seconds"] / one["epochs_run"])
        self.result["trunk"] = res

    @staticmethod
    def parse_eval(text):
        m = re.search(r"scored (\d+) test responses x (\d+) members .*?: (\d+) member-responses/s \(([\d.]+) GFLOP/s", text)
        t = re.search(r"read ([\d.]+) s, score ([\d.]+) s, statistics ([\d.]+) s; reduce ([\d.]+) s; total ([\d.]+) s", text)
        # /usr/bin/time's line of each rank; ranks' output may interleave mid-line
        rss = [int(x) for x in re.findall(r"PEAK_RSS_KB (\d+)", text)]
        if not m or not t:
            sys.exit(f"bench: cannot parse rmens eval output:\n{text[-3000:]}")
        # the bf16 backend may name the kernel it picked (e.g. "kernel brg:avx512_core_amx_bf16")
        kernel = re.search(r"\bkernel[\s:=]+\"([^\"]+)\"", text) or re.search(r"\bkernel[\s:=]+([\w:.+/-]+)", text)
        return {"responses": int(m.group(1)), "members": int(m.group(2)), "member_responses_per_s": float(m.group(3)),
                "gflops": float(m.group(4)), "read_seconds": float(t.group(1)), "score_seconds": float(t.group(2)),
                "statistics_seconds": float(t.group(3)), "reduce_seconds": float(t.group(4)), "total_seconds": float(t.group(5)),
                "statistics_share": ratio(float(t.group(3)), float(t.group(5))),
                "kernel": kernel.group(1) if kernel else None,
                "peak_rss_mib_per_rank": [round(k / 1024, 1) for k in rss]}

    def rmens_eval(self, ranks, threads, sets):
        # GNU time around each rank: its peak resident set (ru_maxrss), per rank
        out, wall = run(self.mpi(ranks) + ["/usr/bin/time", "-f", "PEAK_RSS_KB %M", self.rmens, "eval",
                         self.config] + sets + ["--set", f"parallel.blas_threads={threads}", "--force"])
        r = self.parse_eval(out)
        r["wall_seconds"] = round(wall, 2)
        return r

    def evaluation(self):
        res = {}
        for ranks, threads in ((1, 2), (2, 1), (1, 1)):
            best = None
            for rep in range(self.a.reps):
                lim = self.sgemm(ranks * threads)["forward_1024_gflops"]
                r = self.rmens_eval(ranks, threads, self.eval_sets)
                r.update(ranks=ranks, threads=threads, sgemm_forward_gflops=lim, fraction_of_sgemm=round(r["gflops"] / lim, 3))
                log(f"eval {ranks} rank(s) x {threads} thread(s) rep {rep + 1}: {r['member_responses_per_s']:.0f} "
                    f"member-responses/s, {r['gflops']:.1f} GFLOP/s = {r['fraction_of_sgemm']:.3f} of sgemm {lim:.1f}; "
                    f"read {r['read_seconds']} s, score {r['score_seconds']} s, statistics {r['statistics_seconds']} s")
                # the fastest repetition (a limit measured under a passing load can make a
                # slow run look efficient); its ratio is to the limit measured next to it
                if best is None or r["member_responses_per_s"] > best["member_responses_per_s"]:
                    best = r
            res[f"{ranks}x{threads}"] = best
        best_torch = None
        for rep in range(self.a.reps):
            t = last_json(run([PYTHON, os.path.join(HERE, "torch_reference.py"), "eval", self.eval_store_path,
                               os.path.join(self.eval_run, "members.h5"), "16"], 2)[0])
            log(f"torch eval 2 threads rep {rep + 1}: {t['member_responses_per_s']:.0f} member-responses/s")
            if best_torch is None or t["member_responses_per_s"] > best_torch["member_responses_per_s"]:
                best_torch = t
        res["torch_2_threads"] = best_torch
        res["vs_torch_scoring"] = round(res["1x2"]["member_responses_per_s"] / best_torch["member_responses_per_s"], 3)
        # end to end: responses scored per second of the whole verb (read, score, statistics)
        # against torch's read + score only (it computes no statistics)
        res["vs_torch_wall"] = round(best_torch["wall_seconds"] / res["1x2"]["total_seconds"], 3)
        res["scaling_2_ranks_vs_1_rank_2_threads"] = round(res["2x1"]["member_responses_per_s"] / res["1x2"]["member_responses_per_s"], 3)
        res["efficiency_2_ranks_vs_1_rank_1_thread"] = round(res["2x1"]["member_responses_per_s"] / (2 * res["1x1"]["member_responses_per_s"]), 3)
        res["bf16"] = self.evaluation_bf16(res)
        self.result["eval"] = res

    def evaluation_bf16(self, fp32):
        """rmens eval with model.precision=bf16 on the same store and members, against the bf16
        limit of a 1024-row forward (bench_bf16 right before it); PyTorch scoring in bf16."""
        res = {}
        why_torch = self.bf16_unavailable(need_backend=False)
        why = why_torch or self.bf16_unavailable()
        if why:
            res["unavailable"] = why
        if why_torch:
            return res
        for ranks, threads in (() if why else ((1, 2), (2, 1), (1, 1))):
            best = None
            for rep in range(self.a.reps):
                lim = bf16_limit(self.bf16(ranks * threads, "forward_1024"), "forward_1024")
                r = self.rmens_eval(ranks, threads, self.eval_sets + ["--set", "model.precision=bf16"])
                r.update(ranks=ranks, threads=threads, precision="bf16", bf16_limit_gflops=lim,
                         fraction_of_bf16_limit=ratio(r["gflops"], lim))
                log(f"eval bf16 {ranks} rank(s) x {threads} thread(s) rep {rep + 1}: {r['member_responses_per_s']:.0f} "
                    f"member-responses/s, {r['gflops']:.1f} GFLOP/s = {r['fraction_of_bf16_limit']} of the bf16 limit "
                    f"{lim} (kernel {r['kernel']}); score {r['score_seconds']} s, statistics {r['statistics_seconds']} s "
                    f"= {r['statistics_share']} of {r['total_seconds']} s")
                if best is None or r["member_responses_per_s"] > best["member_responses_per_s"]:
                    best = r
            best["vs_fp32"] = ratio(best["member_responses_per_s"], fp32[f"{ranks}x{threads}"]["member_responses_per_s"])
            res[f"{ranks}x{threads}"] = best
        best_torch = None
        for rep in range(self.a.reps):
            t = last_json(run([PYTHON, os.path.join(HERE, "torch_reference.py"), "eval", self.eval_store_path,
                               os.path.join(self.eval_run, "members.h5"), "16", "bf16"], 2)[0])
            log(f"torch eval bf16 2 threads rep {rep + 1}: {t['member_responses_per_s']:.0f} member-responses/s")
            if best_torch is None or t["member_responses_per_s"] > best_torch["member_responses_per_s"]:
                best_torch = t
        res["torch_2_threads"] = best_torch
        if "1x2" in res:
            res["vs_torch_bf16_scoring"] = ratio(res["1x2"]["member_responses_per_s"], best_torch["member_responses_per_s"])
            res["vs_torch_bf16_wall"] = ratio(best_torch["wall_seconds"], res["1x2"]["total_seconds"])
        return res

    # ---- large ensembles: per-member eval cost at E = 4 / 16 / 64, the ablation's cost ----
    def large_ensembles(self):
        """Tiny members (train.epochs=1, few pairs) at the reference shapes, so the cost measured
        is eval's: scoring plus statistics, on 2 ranks x 1 thread (as the case study). Per size E
        the eval without the ablation; at the largest E also with eval.ablation_sizes over
        1, 2, 4, ..., E. The ablation is off with its only size above E (skipped, no subsets)."""
        a = self.a
        store = os.path.join(self.data, "large_store.h5")
        train_pairs = int(a.large_pairs * 0.8)
        base = ["--set", f"store={store}", "--set", f"synth.dim={D}", "--set", f"synth.train_prompts={a.large_train_prompts}",
                "--set", "synth.train_responses=10", "--set", f"synth.test_prompts={a.large_test_prompts}",
                "--set", "synth.test_responses=500", "--set", "synth.bench_pairs=0", "--set", f"pairs.count={a.large_pairs}",
                "--set", "train.epochs=1", "--set", f"train.batch_size={min(512, train_pairs)}", "--set", "train.patience=0",
                "--set", "model.hidden=[1024, 512]", "--set", "eval.chunk_prompts=16", "--set", "parallel.blas_threads=1",
                "--set", "model.precision=fp32"]  # case_study.cfg says auto; the bf16 evals add their own
        sizes = a.large_sizes
        res = {"sizes": sizes, "test_prompts": a.large_test_prompts, "test_responses": 500, "ranks": 2, "threads": 1}
        log(f"large ensembles: synth test split {a.large_test_prompts} x 500 x {D}; train E = {sizes} tiny members")
        run(self.mpi(2) + [self.rmens, "synth", self.config] + base + ["--force"])
        runs = {}
        for E in sizes:
            runs[E] = base + ["--set", f"output={os.path.join(self.data, f'large_E{E}')}", "--set", f"ensemble.members={E}"]
            _, wall = run(self.mpi(2) + [self.rmens, "train", self.config] + runs[E] + ["--force"])
            log(f"large ensembles: trained E = {E} in {wall:.1f} s")
        why = self.bf16_unavailable()
        E_max = sizes[-1]
        ablation = [k for k in (1, 2, 4, 8, 16, 32, 64, 128, 256) if k < E_max] + [E_max]
        for precision in ("fp32", "bf16"):
            if precision == "bf16" and why:
                res["bf16"] = {"unavailable": why}
                continue
            p = res[precision] = {}
            extra = ["--set", f"model.precision={precision}"]  # explicit: case_study.cfg says auto
            cases = [(str(E), E, [f"{E + 1}"]) for E in sizes] + [(f"{E_max}_ablation", E_max, [str(k) for k in ablation])]
            for key, E, abl in cases:
                best = None
                for rep in range(a.reps):
                    out, wall = run(self.mpi(2) + [self.rmens, "eval", self.config] + runs[E] + extra +
                                    ["--set", f"eval.ablation_sizes=[{', '.join(abl)}]", "--force"])
                    r = self.parse_eval(out)
                    r.update(E=E, wall_seconds=round(wall, 2), ablation_sizes=[int(k) for k in abl if int(k) <= E],
                             per_member_seconds=round(r["total_seconds"] / E, 4), per_member_wall_seconds=round(wall / E, 4))
                    if best is None or r["total_seconds"] < best["total_seconds"]:
                        best = r
                p[key] = best
                log(f"large ensembles {precision} E = {E}{' + ablation' if 'ablation' in key else ''}: total "
                    f"{best['total_seconds']} s = {best['per_member_seconds']} s/member (score {best['score_seconds']} s, "
                    f"statistics {best['statistics_seconds']} s); process wall {best['wall_seconds']} s")
            p["per_member_ratio_max_vs_min"] = ratio(p[str(E_max)]["per_member_seconds"], p[str(sizes[0])]["per_member_seconds"])
            on, off = p[f"{E_max}_ablation"], p[str(E_max)]
            # the ablation adds statistics (and their reduction) only: measured there, the
            # figure does not move with the scoring's noise on a shared machine
            p["ablation_added"] = round((on["statistics_seconds"] + on["reduce_seconds"] - off["statistics_seconds"]
                                         - off["reduce_seconds"]) / off["total_seconds"], 3)
            p["ablation_added_total"] = round(on["total_seconds"] / off["total_seconds"] - 1, 3)
        self.result["large_ensembles"] = res
        if not a.keep_data:
            os.remove(store)
            for E in sizes:
                shutil.rmtree(os.path.join(self.data, f"large_E{E}"), ignore_errors=True)

    def memory(self):
        """Peak RSS per rank of rmens eval on a big and a small test split, same chunk."""
        res = {"chunk_prompts": self.a.memory_chunk}
        gb = lambda n: n * 500 * D * 4 / 1e9
        for label, prompts in (("small", self.a.big_prompts // 10), ("big", self.a.big_prompts)):
            store, run_dir = os.path.join(self.data, f"mem_{label}.h5"), os.path.join(self.data, f"mem_{label}_run")
            sets = ["--set", f"store={store}", "--set", f"output={run_dir}", "--set", f"synth.dim={D}",
                    "--set", "synth.train_prompts=200", "--set", "synth.train_responses=10",
                    "--set", f"synth.test_prompts={prompts}", "--set", "synth.test_responses=500", "--set", "synth.bench_pairs=0",
                    "--set", "ensemble.members=2", "--set", "pairs.count=1000", "--set", "train.epochs=1",
                    "--set", "train.batch_size=256", "--set", "model.hidden=[16]",  # cheap model: the split's size is the point
                    "--set", f"eval.chunk_prompts={self.a.memory_chunk}", "--set", "eval.ablation_sizes=[]",
                    "--set", "model.precision=fp32"]
            free = shutil.disk_usage(self.data).free
            if free < gb(prompts) * 1e9 * 1.1 + 5e9:
                res[label] = {"skipped": f"needs {gb(prompts):.1f} GB, {free / 1e9:.1f} GB free on {self.data}"}
                log(f"memory {label}: skipped, disk too small")
                continue
            log(f"memory {label}: synth test split {prompts} x 500 x {D} float32 = {gb(prompts):.1f} GB")
            _, synth_s = run(self.mpi(2) + [self.rmens, "synth", self.config] + sets + ["--force"])
            run(self.mpi(2) + [self.rmens, "train", self.config] + sets + ["--set", "parallel.blas_threads=1", "--force"])
            r = self.rmens_eval(2, 1, sets)
            r.update(test_split_gb=round(os.path.getsize(store) / 1e9, 2), synth_seconds=round(synth_s, 1))
            res[label] = r
            log(f"memory {label}: split {r['test_split_gb']} GB, peak RSS per rank {r['peak_rss_mib_per_rank']} MiB, "
                f"read {r['read_seconds']} s")
            if not self.a.keep_data:
                os.remove(store)
                shutil.rmtree(run_dir, ignore_errors=True)
        self.result["memory"] = res

    def integrity(self):
        """Read rate with and without Fletcher-32 on the same data (issue 18). Both files are
        read right after they are written, so both see the same page-cache state; each rate
        is the best of --reps."""
        a = self.a
        store, plain = os.path.join(self.data, "integrity.h5"), os.path.join(self.data, "integrity_plain.h5")
        prompts = max(1, int(a.integrity_gb * 1e9 / (10 * (D * 4 + 4))))
        sets = ["--set", f"store={store}", "--set", f"synth.dim={D}", "--set", f"synth.train_prompts={prompts}",
                "--set", "synth.train_responses=10", "--set", "synth.test_prompts=10", "--set", "synth.test_responses=10",
                "--set", "synth.bench_pairs=0"]
        log(f"integrity: synth {prompts} x 10 x {D} float32 ({a.integrity_gb:.1f} GB) with checksums")
        _, synth_s = run(self.mpi(2) + [self.rmens, "synth", self.config] + sets + ["--force"])
        copy = ("import h5py, sys\n"
                "with h5py.File(sys.argv[1]) as f, h5py.File(sys.argv[2], 'w') as g:\n"
                "    for k, v in f.attrs.items(): g.attrs[k] = v\n"
                "    for n in ('train/embeddings', 'train/rewards', 'test/embeddings', 'test/rewards'):\n"
                "        d = f[n]; o = g.create_dataset(n, d.shape, d.dtype, chunks=d.chunks)\n"
                "        for i in range(0, d.shape[0], d.chunks[0]): o[i:i + d.chunks[0]] = d[i:i + d.chunks[0]]\n")
        _, copy_s = run([PYTHON, "-c", copy, store, plain])
        tool = os.path.join(self.build, "tests", "store_tool")
        res = {"gb": round(os.path.getsize(store) / 1e9, 2), "synth_seconds": round(synth_s, 1),
               "h5py_copy_seconds": round(copy_s, 1), "read_chunk_mb": 64}
        for ranks in (1, 2):
            for label, path in (("checksummed", store), ("plain", plain)):
                rates = []
                for _ in range(a.reps):
                    out, _ = run(self.mpi(ranks) + [tool, "readbench", path, "64"])
                    rates.append(float(re.search(r"([\d.]+) MB/s", out).group(1)))
                res[f"{label}_{ranks}"] = max(rates)
            res[f"cost_{ranks}"] = round(1 - res[f"checksummed_{ranks}"] / res[f"plain_{ranks}"], 3)
            log(f"integrity, {ranks} rank(s): {res[f'checksummed_{ranks}']:.0f} MB/s with checksums, "
                f"{res[f'plain_{ranks}']:.0f} MB/s without: cost {100 * res[f'cost_{ranks}']:.1f} %")
        out, _ = run(self.mpi(2) + [self.rmens, "inspect", "--verify", store])
        res["verify_2"] = float(re.search(r"([\d.]+) MB/s", out).group(1))
        log(f"integrity: rmens inspect --verify, 2 ranks: {res['verify_2']:.0f} MB/s")
        if not a.keep_data:
            os.remove(store)
            os.remove(plain)
        self.result["integrity"] = res

    # ---- active labelling: seconds per round, the pool's scoring rate (issue 14) ----
    def active(self):
        """`rmens active` with configs/active.cfg at the reference shapes (D = 2048 -> 1024 -> 512),
        a 100 000-pair cross-prompt pool of a --active-train-prompts x 10 train split, a small
        test split (the evaluation is not the point), --active-rounds rounds of 1 000 pairs after
        1 000 initial labels, 5 members, 2 ranks x 1 thread; per strategy /run/round_seconds of
        active.h5 (train, score, select, evaluate per round). The pool's scoring rate is
        2 x pool x members responses per score second, its GFLOP/s those responses' forward
        FLOPs, against the 2-thread sgemm limit at the forward shapes measured right before."""
        import h5py
        a = self.a
        config = os.path.join(SRC, "configs", "active.cfg")
        store = os.path.join(self.data, "active_store.h5")
        base = ["--set", f"store={store}", "--set", f"synth.dim={D}", "--set", f"synth.train_prompts={a.active_train_prompts}",
                "--set", "synth.train_responses=10", "--set", f"synth.test_prompts={a.active_test_prompts}",
                "--set", "synth.test_responses=500", "--set", "synth.bench_pairs=0"]
        ranks, threads = 2, 1
        res = {"config": config, "ranks": ranks, "threads": threads, "train_prompts": a.active_train_prompts,
               "train_responses": 10, "test_prompts": a.active_test_prompts, "test_responses": 500, "pool": a.active_pool,
               "initial": 1000, "batch": 1000, "rounds": a.active_rounds, "members": a.active_members,
               "forward_flops_per_response": FORWARD_FLOPS, "strategies": {}}
        if not os.path.exists(store):
            gb = a.active_train_prompts * 10 * D * 4 / 1e9 + a.active_test_prompts * 500 * D * 4 / 1e9
            log(f"active: synth {a.active_train_prompts} x 10 train, {a.active_test_prompts} x 500 test, D = {D} ({gb:.2f} GB)")
            _, res["synth_seconds"] = run(self.mpi(2) + [self.rmens, "synth", config] + base + ["--force"])
        for strategy in a.active_strategies:
            run_dir = os.path.join(self.data, f"active_{strategy}")
            sets = base + ["--set", f"output={run_dir}", "--set", f"active.strategy={strategy}",
                           "--set", f"active.pool={a.active_pool}", "--set", "active.initial=1000", "--set", "active.batch=1000",
                           "--set", f"active.rounds={a.active_rounds}", "--set", f"ensemble.members={a.active_members}",
                           "--set", f"parallel.blas_threads={threads}"]
            best = None
            for rep in range(a.active_reps):
                lim = self.sgemm(ranks * threads)["forward_1024_gflops"]
                out, wall = run(self.mpi(ranks) + [self.rmens, "active", config] + sets + ["--force"])
                with h5py.File(os.path.join(run_dir, "active.h5"), "r") as f:
                    sec = f["run/round_seconds"][()]
                    attrs = {k: (v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, "item") else v)
                             for k, v in f["run"].attrs.items()}
                    labels = [int(x) for x in f["labels"][()]]
                rounds = []
                for r, (tr, sc, se, ev) in enumerate(sec):
                    x = {"round": r, "labels": labels[r], "train_seconds": round(float(tr), 3), "score_seconds": round(float(sc), 3),
                         "select_seconds": round(float(se), 3), "evaluate_seconds": round(float(ev), 3)}
                    if r > 0 and sc > 0:  # round 0 labels the initial pairs: nothing scored or selected
                        mrs = 2 * a.active_pool * a.active_members / sc
                        gflops = mrs * FORWARD_FLOPS / 1e9
                        x.update(member_responses_per_s=round(mrs), gflops=round(gflops, 1),
                                 fraction_of_sgemm=ratio(gflops, lim))
                    rounds.append(x)
                scored = [x for x in rounds if "gflops" in x]
                r_ = {"strategy": strategy, "wall_seconds": round(wall, 1), "sgemm_forward_gflops": lim,
                      "sgemm_forward_gflops_after": self.sgemm(ranks * threads)["forward_1024_gflops"],
                      "load_after": os.getloadavg(), "run": attrs, "rounds": rounds,
                      "best_fraction_of_sgemm": max((x["fraction_of_sgemm"] for x in scored), default=None)}
                log(f"active {strategy} rep {rep + 1}: wall {wall:.1f} s; " + "; ".join(
                    f"round {x['round']}: train {x['train_seconds']:.1f} score {x['score_seconds']:.2f} "
                    f"select {x['select_seconds']:.2f} evaluate {x['evaluate_seconds']:.1f} s"
                    + (f" ({x['member_responses_per_s']} member-responses/s = {x['fraction_of_sgemm']} of sgemm {lim:.1f})"
                       if "gflops" in x else "") for x in rounds))
                if best is None or (r_["best_fraction_of_sgemm"] or 0) > (best["best_fraction_of_sgemm"] or 0):
                    best = r_
            res["strategies"][strategy] = best
            if not a.keep_data:
                shutil.rmtree(run_dir, ignore_errors=True)
        res["dopt_select"] = self.active_select()
        self.result["active"] = res
        if not a.keep_data:
            os.remove(store)

    def active_select(self):
        """The D-optimal greedy selection alone (build/tests/bench_dopt, a synthetic pool of
        --active-pool pairs, H = 512, --active-members members, a batch of 1 000; dopt and
        past_dopt), 1 rank x 2 threads and 2 ranks x 1: seconds per batch (best of
        --active-reps), and the rate of its O(batch x pool x H x members) multiply-adds (as an
        eager greedy would do them) against the 2-thread sgemm limit measured right before."""
        a, out = self.a, []
        for past in (0, 1):
            for ranks, threads in ((1, 2), (2, 1)):
                lim = self.sgemm(ranks * threads)["forward_1024_gflops"]
                best = None
                for _ in range(a.active_reps):
                    o, _ = run(self.mpi(ranks) + ["-x", f"BENCH_DOPT_THREADS={threads}",
                                                  os.path.join(self.build, "tests", "bench_dopt"), str(a.active_pool), "512",
                                                  str(a.active_members), "1000", str(past)])
                    j = last_json(o)
                    if best is None or j["select_seconds"] < best["select_seconds"]:
                        best = j
                gflops = 2.0 * 1000 * a.active_pool * 512 * a.active_members / best["select_seconds"] / 1e9
                out.append(dict(best, strategy="past_dopt" if past else "dopt", gflops=round(gflops, 1),
                                sgemm_forward_gflops=lim, fraction_of_sgemm=ratio(gflops, lim), load_after=os.getloadavg()))
                log(f"dopt select ({out[-1]['strategy']}, {ranks} x {threads}): {best['select_seconds']:.2f} s per 1000-pair batch, "
                    f"{gflops:.1f} GFLOP/s = {out[-1]['fraction_of_sgemm']} of sgemm {lim:.1f}")
        return out

    def run_case_study(self):
        """configs/case_study.cfg end to end on 2 ranks: synth the store, then `rmens run` in fp32
        and with model.precision=auto (where the build has the bf16 backend and the CPU native
        bf16). Long (10-20 min): started on its own (--case-study), in the background; writes
        <out>/case_study.json, which a later benchmark run includes in its table.
        --case-study-set KEY=VALUE overrides the config (a reduced run, to test this path)."""
        config = os.path.join(SRC, "configs", "case_study.cfg")
        data = os.path.join(self.data, "case_study")
        os.makedirs(data, exist_ok=True)
        os.makedirs(self.out, exist_ok=True)
        store, run_dir = os.path.join(data, "store.h5"), os.path.join(data, "run")
        sets = ["--set", f"store={store}", "--set", f"output={run_dir}"]
        for kv in self.a.case_study_set:
            sets += ["--set", kv]
        scale = "reference scale" if not self.a.case_study_set else "reduced: " + ", ".join(self.a.case_study_set)
        res = {"config": config, "ranks": 2, "overrides": self.a.case_study_set, "cpu": self.cpu,
               "load_at_start": os.getloadavg(), "sgemm_before": self.sgemm(2)}
        why = self.bf16_unavailable()
        if not why:
            res["bf16_before"] = self.bf16(2, "train_step,forward_1024")
        log(f"case study: synth ({scale})")
        _, res["synth_seconds"] = run(self.mpi(2) + [self.rmens, "synth", config] + sets + ["--force"])
        for precision in ("fp32", "auto"):
            if precision == "auto" and why:
                res["auto"] = {"unavailable": why}
                log(f"case study: model.precision=auto skipped: {why}")
                continue
            log(f"case study: synth {res['synth_seconds']:.0f} s; rmens run on 2 ranks, model.precision={precision}")
            extra = ["--set", f"model.precision={precision}"]  # explicit: case_study.cfg says auto
            out, wall = run(self.mpi(2) + [self.rmens, "run", config] + sets + extra + ["--force"])
            with open(os.path.join(self.out, "case_study_run.log" if precision == "fp32" else f"case_study_run_{precision}.log"), "w") as f:
                f.write(out)
            trained = [float(x) for x in re.findall(r"done: \d+ member\(s\) trained, wall ([\d.]+)s", out)]
            e = self.parse_eval(out)
            r = {"precision": precision, "run_wall_seconds": round(wall, 1), "train_seconds": max(trained) if trained else None,
                 "eval_seconds": e["total_seconds"], "eval": e}
            # fp32 at the top level, as before issue 15 (older case_study.json files read the same)
            res.update(r) if precision == "fp32" else res.__setitem__(precision, r)
            log(f"case study {precision}: rmens run {wall / 60:.1f} min (train {r['train_seconds']} s, eval {r['eval_seconds']} s, "
                f"statistics {e['statistics_seconds']} s = {e['statistics_share']} of eval)")
        res["sgemm_after"] = self.sgemm(2)
        res["load_at_end"] = os.getloadavg()
        res["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
        with open(os.path.join(self.out, "case_study.json"), "w") as f:
            json.dump(res, f, indent=1)
        if not self.a.keep_data:
            shutil.rmtree(data, ignore_errors=True)

    def case_study(self):
        path = self.a.case_study_json or os.path.join(self.out, "case_study.json")
        if os.path.exists(path):
            with open(path) as f:
                self.result["case_study"] = json.load(f)

    # ---- report ----
    def table(self):
        """The table printed at the end and kept in bench.json (see bench_table)."""
        return bench_table(self.result)

    def main(self):
        a = self.a
        log(cpu_line(self.cpu))
        log(f"CPU peak and sgemm limit (1 and 2 threads), then {', '.join(p for p in a.parts if p != 'peak') or 'nothing else'}")
        self.measure_peak()
        self.result["sgemm_start"] = {str(t): self.sgemm(t) for t in (1, 2)}
        if "bf16" in a.parts:
            self.bf16_matmul()
        if "train" in a.parts:
            self.train()
        if "eval" in a.parts or "ensemble" in a.parts or "trunk" in a.parts:
            self.eval_store()
        if "ensemble" in a.parts:
            self.ensemble()
        if "trunk" in a.parts:
            self.trunk()
        if "eval" in a.parts:
            self.evaluation()
        if "large" in a.parts:
            self.large_ensembles()
        if "memory" in a.parts:
            self.memory()
        if "integrity" in a.parts:
            self.integrity()
        if "active" in a.parts:
            self.active()
        self.case_study()
        self.result["sgemm_end"] = {str(t): self.sgemm(t) for t in (1, 2)}
        self.measure_peak()
        add_fractions_of_peak(self.result)
        self.result["machine"]["load_at_end"] = os.getloadavg()
        if not a.keep_data:
            shutil.rmtree(self.data, ignore_errors=True)
        os.makedirs(self.out, exist_ok=True)
        with open(os.path.join(self.out, "bench.json"), "w") as f:  # the measurements, even if the table fails
            json.dump(self.result, f, indent=1)
        table = self.table()
        self.result["table"] = table.splitlines()
        with open(os.path.join(self.out, "bench.json"), "w") as f:
            json.dump(self.result, f, indent=1)
        print("\n" + table)
        print(f"\nwrote {os.path.join(self.out, 'bench.json')}")



# ---- the CPU's peak as the limit (issue 31) ----


def merge_peaks(runs):
    """bench.json's "peak": per kind and thread count the highest of bench_peak's runs (null
    where the CPU lacks the instructions), the ISA of each, and the add-chain clock."""
    ok = [j for j in runs if "unavailable" not in j]
    if not ok:
        return {"fp32": None, "bf16": None, "amx_bf16": None, "unavailable": runs[-1]["unavailable"]}
    peak = {}
    for kind in PEAK_KINDS:
        figures = [j[kind] for j in ok if j.get(kind)]
        peak[kind] = {t: max(f[t] for f in figures if t in f) for t in figures[0]} if figures else None
    last = ok[-1]
    peak.update(isa=last["isa"], nominal_flops_per_cycle=last.get("nominal_flops_per_cycle"),
                clock_ghz_add_chain=max(j["clock_ghz_add_chain"] for j in ok), amx_unavailable=last.get("amx_unavailable"))
    return peak


def peak_of(peak, precision, threads):
    """(GFLOP/s, kind) of the peak a rate of this precision on this many threads (ranks x
    threads) is a fraction of: fp32's FMA; bf16's AMX tile rate where the CPU has AMX, else
    its vdpbf16ps rate; (None, None) where not measured."""
    kinds = ("fp32",) if precision == "fp32" else ("amx_bf16", "bf16")
    for kind in kinds:
        figure = ((peak or {}).get(kind) or {}).get(str(threads))
        if figure:
            return figure, kind
    return None, None


def add_fractions_of_peak(r):
    """fraction_of_peak (with peak_gflops and peak_kind) in each train and eval entry of a
    benchmark's results r, rmens' and PyTorch's, from r["peak"]: the entry's GFLOP/s over
    the peak of its precision at its thread count. Also on an older bench.json given a peak."""
    peak = r.get("peak")

    def put(entry, gflops, precision, threads):
        if not entry or not gflops:
            return None
        lim, kind = peak_of(peak, precision, threads)
        entry.update(peak_gflops=lim, peak_kind=kind, fraction_of_peak=ratio(gflops, lim))
        return entry["fraction_of_peak"]

    for th, x in (r.get("train") or {}).items():
        x["fraction_of_peak"] = put(x.get("rmens"), (x.get("rmens") or {}).get("train_gflops"), "fp32", th)
        put(x.get("torch"), (x.get("torch") or {}).get("gflops"), "fp32", th)
        b = x.get("bf16") or {}
        if b.get("rmens"):
            b["fraction_of_peak"] = put(b["rmens"], b["rmens"].get("train_gflops"), "bf16", th)
        put(b.get("torch"), (b.get("torch") or {}).get("gflops"), "bf16", th)
    e = r.get("eval") or {}
    for precision, g in (("fp32", e), ("bf16", e.get("bf16") or {})):
        for k, x in g.items():
            if re.fullmatch(r"\d+x\d+", k) and isinstance(x, dict):
                put(x, x.get("gflops"), precision, x["ranks"] * x["threads"])
        put(g.get("torch_2_threads"), (g.get("torch_2_threads") or {}).get("gflops"), precision, 2)
    return r


# ---- the report: the table of Bench.table(), a row (measure, value, ratio / note) per figure ----


class TableRows:
    """The table's rows in order, as the part renderers below add them."""

    def __init__(self):
        self.rows = []

    def add(self, name, value, note=""):
        self.rows.append((name, value, note))

    def unavailable(self, name, why):
        """A bf16 row that could not be measured, and why."""
        native = why == NO_NATIVE_BF16
        self.add(name, NO_NATIVE_BF16 if native else "unavailable", "neither AMX nor AVX512_BF16 on this CPU" if native else why)


def join(*notes):
    """Notes joined by '; ', the empty ones left out (a trailing '; ' of the first kept)."""
    kept = [n for n in notes if n]
    return "; ".join(n.rstrip("; ") if i < len(kept) - 1 else n for i, n in enumerate(kept))


def of_limit(x, lim):
    """'0.812 of the bf16 limit 1642', or why there is no limit."""
    return f"{x:.3f} of the bf16 limit {lim:.0f}" if x and lim else "no bf16 limit measured"


def of_peak(x):
    """'0.812 of peak 443' for an entry with fraction_of_peak, else ''."""
    if not x or not x.get("fraction_of_peak"):
        return ""
    kind = {"amx_bf16": "AMX peak", "bf16": "bf16 peak"}.get(x.get("peak_kind"), "peak")
    return f"{x['fraction_of_peak']:.3f} of {kind} {x['peak_gflops']:.0f}"


def peak_rows(t, r):
    """The CPU's peak per kind, 1 / 2 threads, and the clock it implies at the nominal
    FLOPs per cycle of one core."""
    p = r.get("peak")
    if not p:
        return
    if "unavailable" in p:
        t.add("CPU peak (bench_peak)", "unavailable", p["unavailable"])
        return
    names = {"fp32": "fp32 FMA", "bf16": "bf16 dot", "amx_bf16": "AMX bf16"}
    for kind in PEAK_KINDS:
        x = p.get(kind)
        if not x:
            why = {"bf16": "no AVX512_BF16", "amx_bf16": p.get("amx_unavailable") or "no AMX"}.get(kind, "")
            t.add(f"CPU peak {names[kind]}", "none", why)
            continue
        per_cycle = (p.get("nominal_flops_per_cycle") or {}).get(kind)
        clock = f"= {x['1'] / per_cycle:.2f} GHz x {per_cycle:.0f} FLOP/cycle; " if per_cycle and x.get("1") else ""
        t.add(f"CPU peak {names[kind]}, 1 / 2 threads", " / ".join(f"{x[k]:.1f}" for k in sorted(x, key=int)) + " GFLOP/s",
              f"{clock}{p['isa'][kind]}" + (f"; add chain {p['clock_ghz_add_chain']:.2f} GHz" if kind == "fp32" else ""))


def limit_rows(t, r, cpu):
    """The CPU's peak, the sgemm limit and the bf16 limit per GEMM shape; returns bench_bf16's
    1-thread JSON for the tiles' table where the bf16 limit was measured with native bf16,
    else None."""
    peak_rows(t, r)
    s1, s2 = r["sgemm_start"]["1"], r["sgemm_start"]["2"]
    t.add("sgemm, train-step shapes, 1 / 2 threads", f"{s1['train_step_gflops']:.1f} / {s2['train_step_gflops']:.1f} GFLOP/s", "the limit")
    t.add("sgemm, forward shapes (1024 rows), 1 / 2 threads", f"{s1['forward_1024_gflops']:.1f} / {s2['forward_1024_gflops']:.1f} GFLOP/s",
          f"256 rows: {s1['forward_256_gflops']:.1f} / {s2['forward_256_gflops']:.1f}")
    if "bf16_limit" not in r:
        return None
    b1, b2 = r["bf16_limit"]["1"], r["bf16_limit"]["2"]
    if not cpu["native_bf16"] or not b1.get("bf16_available"):
        note = b1.get("unavailable") or ""
        if b1.get("bf16_available"):  # oneDNN emulates bf16 without native instructions
            w = b1["workloads"]["train_step"]
            note = f"oneDNN {b1['gemms']['fwd0_1024']['impl']} emulates: {w['bf16_gflops']:.0f} GFLOP/s 1 thr"
        t.add("bf16 matmul (oneDNN), the bf16 limit", NO_NATIVE_BF16 if not cpu["native_bf16"] else "unavailable", note)
        return None
    impl = b1["gemms"]["fwd0_1024"]["impl"]
    names = [("train_step", "train-step shapes (5 GEMMs)"), ("forward_1024", "forward shapes (1024 rows)"),
             ("fwd0_1024", "fwd L0 1024x1024, K 2048"), ("fwd1_1024", "fwd L1 1024x512, K 1024"),
             ("bwd1_weight", "bwd L1 dW 512x1024, K 1024"), ("bwd1_input", "bwd L1 dX 1024x1024, K 512"),
             ("bwd0_weight", "bwd L0 dW 1024x2048, K 1024")]
    for key, label in names:
        x1, x2 = b1["workloads"][key], b2["workloads"][key]
        t.add(f"bf16 matmul, {label}, 1 / 2 thr", f"{x1['bf16_gflops']:.0f} / {x2['bf16_gflops']:.0f} GFLOP/s",
              f"{x1['bf16_vs_sgemm']:.2f}x / {x2['bf16_vs_sgemm']:.2f}x sgemm {x1['sgemm_gflops']:.0f} / {x2['sgemm_gflops']:.0f}; "
              f"any layout {x1['bf16_any_gflops']:.0f} / {x2['bf16_any_gflops']:.0f}" + (f"; {impl}" if key == "train_step" else ""))
    return b1


def train_rows(t, r):
    """In-memory training per thread count: rmens and PyTorch, fp32 and bf16."""
    if "train" not in r:
        return
    for th in ("2", "1"):
        x = r["train"][th]
        c = x["rmens"]
        t.add(f"train {th} thr: distinct pairs/s (GFLOP/s)", f"{c['pairs_per_s']:.0f} ({c['train_gflops']:.1f})",
              join(of_peak(c), f"{x['fraction_of_sgemm']:.3f} of sgemm {c['sgemm_gflops']:.1f} (target >= 0.85)"))
        t.add(f"train {th} thr: PyTorch distinct pairs/s (GFLOP/s)",
              f"{x['torch']['distinct_pairs_per_s']:.0f} ({x['torch']['gflops']:.1f})",
              join(f"rmens/torch = {x['vs_torch_distinct_pairs']:.2f}x (target >= 2)", of_peak(x["torch"])))
        b = x.get("bf16")
        if b is None:
            continue
        if "rmens" in b:
            c = b["rmens"]
            t.add(f"train {th} thr bf16: distinct pairs/s (GFLOP/s)", f"{c['pairs_per_s']:.0f} ({c['train_gflops']:.1f})",
                  join(of_peak(c), f"{of_limit(b['fraction_of_bf16_limit'], b['bf16_limit_gflops'])}; "
                       f"{b['vs_rmens_fp32']:.2f}x fp32; kernel {b['kernel']}"))
        else:
            t.unavailable(f"train {th} thr bf16: distinct pairs/s", b["unavailable"])
        if b.get("torch"):
            # no rmens bf16 ratio (rmens bf16 not measured): c is still rmens fp32's figures then
            t.add(f"train {th} thr: PyTorch bf16 autocast distinct pairs/s (GFLOP/s)",
                  f"{b['torch']['distinct_pairs_per_s']:.0f} ({b['torch']['gflops']:.1f})",
                  join(f"rmens bf16/torch bf16 = {b['vs_torch_bf16_distinct_pairs']:.2f}x" if b.get("vs_torch_bf16_distinct_pairs")
                       else f"rmens/torch bf16 = {c['pairs_per_s'] / b['torch']['distinct_pairs_per_s']:.2f}x (rmens fp32)",
                       of_peak(b["torch"])))


def eval_rows(t, r):
    """`rmens eval` of the store on disk in fp32 per ranks x threads, PyTorch, the scaling."""
    if "eval" not in r:
        return
    e = r["eval"]
    for k in ("1x2", "2x1", "1x1"):
        x = e[k]
        t.add(f"eval {x['ranks']} rank x {x['threads']} thr: member-responses/s (GFLOP/s)",
              f"{x['member_responses_per_s']:.0f} ({x['gflops']:.1f})",
              join(of_peak(x), f"{x['fraction_of_sgemm']:.3f} of sgemm {x['sgemm_forward_gflops']:.1f} (target >= 0.90); ")
              + f"read {x['read_seconds']:.1f} s, score {x['score_seconds']:.1f} s, stats {x['statistics_seconds']:.1f} s"
              + (f" = {100 * x['statistics_share']:.0f} % of {x['total_seconds']:.1f} s" if x.get("statistics_share") else ""))
    x = e["torch_2_threads"]
    t.add("eval PyTorch 2 thr: member-responses/s (GFLOP/s)", f"{x['member_responses_per_s']:.0f} ({x['gflops']:.1f})",
          join(f"rmens/torch = {e['vs_torch_scoring']:.2f}x scoring (target >= 1), {e['vs_torch_wall']:.2f}x wall", of_peak(x)))
    t.add("eval 2 ranks vs 1 rank x 2 thr / vs 2 x (1 rank x 1 thr)",
          f"{e['scaling_2_ranks_vs_1_rank_2_threads']:.2f} / {e['efficiency_2_ranks_vs_1_rank_1_thread']:.2f}", "")
    eval_bf16_rows(t, e)


def eval_bf16_rows(t, e):
    """The same evals with model.precision=bf16 against the bf16 limit, and PyTorch in bf16."""
    b = e.get("bf16", {})
    if "unavailable" in b:
        t.unavailable("eval bf16: member-responses/s", b["unavailable"])
    for k in ("1x2", "2x1", "1x1"):
        if k not in b:
            continue
        x = b[k]
        t.add(f"eval bf16 {x['ranks']} rank x {x['threads']} thr: member-responses/s (GFLOP/s)",
              f"{x['member_responses_per_s']:.0f} ({x['gflops']:.1f})",
              join(of_peak(x), f"{of_limit(x['fraction_of_bf16_limit'], x['bf16_limit_gflops'])}; ") + f"{x['vs_fp32']:.2f}x fp32; "
              f"score {x['score_seconds']:.1f} s, stats {x['statistics_seconds']:.1f} s = "
              f"{100 * x['statistics_share']:.0f} % of {x['total_seconds']:.1f} s; kernel {x['kernel']}")
    if b.get("torch_2_threads"):
        x = b["torch_2_threads"]
        t.add("eval PyTorch bf16 2 thr: member-responses/s (GFLOP/s)", f"{x['member_responses_per_s']:.0f} ({x['gflops']:.1f})",
              join(f"rmens bf16/torch bf16 = {b['vs_torch_bf16_scoring']:.2f}x scoring, {b['vs_torch_bf16_wall']:.2f}x wall"
                   if b.get("vs_torch_bf16_scoring") else
                   f"rmens fp32/torch bf16 = {e['1x2']['member_responses_per_s'] / x['member_responses_per_s']:.2f}x scoring",
                   of_peak(x)))


def ensemble_rows(t, r):
    """`rmens train` of the 4-member ensemble, and the shared trunk against one member."""
    if "ensemble_train" in r:
        x = r["ensemble_train"]
        t.add(f"rmens train {MEMBERS} members: wall 1x1 / 1x2 / 2x1 (ranks x thr)",
              f"{x['1x1']['wall_seconds']:.1f} / {x['1x2']['wall_seconds']:.1f} / {x['2x1']['wall_seconds']:.1f} s",
              f"2-rank efficiency {x['efficiency_2_ranks_vs_1_rank_1_thread']:.2f}, speed-up over 1x2 {x['speedup_2_ranks_vs_1_rank_2_threads']:.2f}")
    if "trunk" in r:
        x = r["trunk"]
        E = x["heads"]
        t.add(f"shared trunk E = {E} vs one member: train s/epoch (1x2)",
              f"{x[f'shared_trunk_{E}']['train_seconds'] / x[f'shared_trunk_{E}']['epochs_run']:.2f} vs "
              f"{x['independent_1']['train_seconds'] / x['independent_1']['epochs_run']:.2f} s",
              f"cost {x['cost_vs_one_member']:.2f}x one member (target <= 1.3)")


def large_ensemble_rows(t, r):
    """Per-member eval cost for E = 4 / 16 / 64, and what the ablation adds at the largest E."""
    if "large_ensembles" not in r:
        return
    g = r["large_ensembles"]
    sizes, E_max = g["sizes"], g["sizes"][-1]
    for precision in ("fp32", "bf16"):
        p = g.get(precision)
        if not p:
            continue
        if "unavailable" in p:
            t.unavailable(f"eval E = {' / '.join(map(str, sizes))} {precision}", p["unavailable"])
            continue
        t.add(f"eval E = {' / '.join(map(str, sizes))} {precision}: s per member (total / E)",
              " / ".join(f"{p[str(E)]['per_member_seconds']:.3f}" for E in sizes),
              f"E={E_max} vs E={sizes[0]}: {p['per_member_ratio_max_vs_min']:.2f} (goal within 10 %); stats share "
              + " / ".join(f"{100 * p[str(E)]['statistics_share']:.0f} %" for E in sizes)
              + f"; {g['test_prompts']} x {g['test_responses']} test, 2 x 1")
        x, y = p[f"{E_max}_ablation"], p[str(E_max)]
        t.add(f"eval E = {E_max} {precision}: ablation over sizes 1..{E_max} adds", f"{100 * p['ablation_added']:+.0f} %",
              f"of eval's {y['total_seconds']:.1f} s: stats + reduce {x['statistics_seconds'] + x['reduce_seconds']:.2f} s vs "
              f"{y['statistics_seconds'] + y['reduce_seconds']:.2f} s without (totals: {100 * p['ablation_added_total']:+.0f} %); goal <= 20 %")


def memory_and_integrity_rows(t, r):
    """Peak memory of eval on the small and big split; the store's read rate with and
    without checksums, and `rmens inspect --verify`'s."""
    if "memory" in r:
        for label in ("small", "big"):
            m = r["memory"].get(label, {})
            if "skipped" in m:
                t.add(f"eval memory, {label} split", "skipped", m["skipped"])
            elif m and m.get("peak_rss_mib_per_rank"):
                t.add(f"eval peak RSS/rank, {m['test_split_gb']:.1f} GB split", f"{max(m['peak_rss_mib_per_rank']):.0f} MiB",
                      f"per rank {m['peak_rss_mib_per_rank']}, chunk_prompts {r['memory']['chunk_prompts']}")
    if "integrity" in r:
        g = r["integrity"]
        for ranks in (1, 2):
            t.add(f"store read {ranks} rank{'s' if ranks > 1 else ''}, Fletcher-32", f"{g[f'checksummed_{ranks}']:.0f} MB/s",
                  f"without checksums {g[f'plain_{ranks}']:.0f} MB/s: the checksum costs {100 * g[f'cost_{ranks}']:.1f} % "
                  f"(target <= 10 %); {g['gb']} GB store, page cache")
        t.add("rmens inspect --verify, 2 ranks", f"{g['verify_2']:.0f} MB/s", "checksums + NaN/Inf + content digests")


def active_rows(t, r):
    """`rmens active` per strategy and round, and the D-optimal selection alone."""
    if "active" not in r:
        return
    g = r["active"]
    shape = (f"pool {g['pool']}, {g['members']} members, {g['ranks']} x {g['threads']}; "
             f"{g['train_prompts']} x 10 train, {g['test_prompts']} x 500 test")
    for strategy, x in g["strategies"].items():
        for y in x["rounds"]:
            t.add(f"active {strategy} round {y['round']} ({y['labels']} labels): s train / score / select / eval",
                  f"{y['train_seconds']:.1f} / {y['score_seconds']:.1f} / {y['select_seconds']:.2f} / {y['evaluate_seconds']:.1f}",
                  shape if y["round"] == 0 else f"selection {y['select_seconds']:.2f} s")
            if "gflops" in y:  # round 0 scores no pool
                t.add(f"active {strategy} round {y['round']}: pool scoring member-responses/s (GFLOP/s)",
                      f"{y['member_responses_per_s']:.0f} ({y['gflops']:.1f})",
                      f"{y['fraction_of_sgemm']:.3f} of sgemm {x['sgemm_forward_gflops']:.1f} (target >= 0.85)")
    for y in g.get("dopt_select", []):
        t.add(f"active {y['strategy']} selection alone, {y['ranks']} x {y['threads']}: s per 1000-pair batch (GFLOP/s)",
              f"{y['select_seconds']:.2f} ({y['gflops']:.1f})",
              f"pool {y['pool']}, H {y['H']}, {y['E']} members; {y['fraction_of_sgemm']} of sgemm {y['sgemm_forward_gflops']:.1f}")


def case_study_rows(t, r):
    """The full case study's wall time in fp32 and with model.precision=auto."""
    if "case_study" not in r:
        return
    c = r["case_study"]
    amx = "AMX" in (c.get("cpu") or {}).get("native_bf16_via", [])  # older JSONs: no CPU recorded
    scale = "10 members, reference scale" if not c.get("overrides") else f"REDUCED by {len(c['overrides'])} overrides"

    def stats(x):
        return f", stats {100 * x['eval']['statistics_share']:.0f} % of eval" if x.get("eval", {}).get("statistics_share") else ""
    t.add(f"case study ({scale}), 2 ranks" + (", fp32" if "auto" in c else ""), f"{c['run_wall_seconds'] / 60:.1f} min",
          f"train {c.get('train_seconds') or float('nan'):.0f} s, eval {c.get('eval_seconds') or float('nan'):.0f} s{stats(c)} "
          + ("(goal on AMX <= 5 min)" if amx else "(goal < 12 min)"))
    x = c.get("auto")
    if x and "unavailable" in x:
        t.unavailable("case study, model.precision=auto", x["unavailable"])
    elif x:
        t.add(f"case study ({scale}), 2 ranks, model.precision=auto", f"{x['run_wall_seconds'] / 60:.1f} min",
              f"train {x.get('train_seconds') or float('nan'):.0f} s, eval {x['eval_seconds']:.0f} s{stats(x)}; "
              f"{c['run_wall_seconds'] / x['run_wall_seconds']:.2f}x fp32 (goal on AMX <= 2.5 min)")


def tiles_lines(tiles):
    """The single-threaded bf16 tiles of 256 / 512 / 1024 rows from bench_bf16's JSON."""
    lines = ["", "single-threaded tiles: bf16 matmul (oneDNN) vs sgemm, GFLOP/s, forward L0 (N 1024, K 2048) + L1 (N 512, K 1024)",
             f"{'rows':>5}  {'bf16':>7}  {'any':>7}  {'sgemm':>7}  {'ratio':>6}  {'L0 bf16':>8}  {'L0 any':>7}  {'L1 bf16':>8}  {'L1 any':>7}"]
    for rows in (256, 512, 1024):
        w, l0, l1 = (tiles["workloads"][f"{k}_{rows}"] for k in ("forward", "fwd0", "fwd1"))
        lines.append(f"{rows:>5}  {w['bf16_gflops']:>7.0f}  {w['bf16_any_gflops']:>7.0f}  {w['sgemm_gflops']:>7.0f}  "
                     f"{w['bf16_vs_sgemm']:>5.2f}x  {l0['bf16_gflops']:>8.0f}  {l0['bf16_any_gflops']:>7.0f}  "
                     f"{l1['bf16_gflops']:>8.0f}  {l1['bf16_any_gflops']:>7.0f}")
    g = tiles["gemms"]["fwd0_1024"]
    lines.append(f"kernel {g['impl']}; weights any -> {g['weights_any_format']} "
                 f"(plain nn.Linear = ba); max |bf16 - fp32| {g['max_abs_diff']:.3g} of |C| up to {g['max_abs_value']:.3g}")
    return lines


def render_table(cpu, rows, tiles):
    """The CPU line, the rows in columns as wide as the longest measure, then the tiles."""
    width = max(len(n) for n, _, _ in rows)
    lines = [cpu_line(cpu), "", f"{'measure':<{width}}  {'value':>24}  ratio / note", "-" * (width + 60)]
    lines += [f"{n:<{width}}  {v:>24}  {note}" for n, v, note in rows]
    if tiles:
        lines += tiles_lines(tiles)
    return "\n".join(lines)


def bench_table(r):
    """The table of a benchmark's results r (bench.json's fields): the parts that ran, in order."""
    cpu = r["machine"]["cpu"]
    t = TableRows()
    tiles = limit_rows(t, r, cpu)
    for part_rows in (train_rows, eval_rows, ensemble_rows, large_ensemble_rows, memory_and_integrity_rows,
                      active_rows, case_study_rows):
        part_rows(t, r)
    return render_table(cpu, t.rows, tiles)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(SRC, "build"), help="CMake build directory (rmens, tests/bench_*)")
    p.add_argument("--out", default=None, help="output directory for bench.json (default <build>/bench)")
    p.add_argument("--data", default=None, help="directory for the stores (default <out>/data; deleted afterwards)")
    p.add_argument("--parts", default="bf16,train,ensemble,trunk,eval,large,memory,integrity",
                   help="comma-separated subset of bf16,train,ensemble,trunk,eval,large,memory,integrity,active (active: not by "
                        "default); the CPU peak and the sgemm limit are measured whatever it says: --parts peak measures only them")
    p.add_argument("--peak-seconds", type=float, default=1.0,
                   help="seconds per figure of the CPU peak (bench_peak: best of 5 ms samples), at the start and the end")
    p.add_argument("--trunk-heads", type=int, default=10, help="heads E of the shared trunk in the trunk part")
    p.add_argument("--reps", type=int, default=2, help="repetitions of each workload (best kept)")
    p.add_argument("--sgemm-seconds", type=float, default=1.0, help="seconds per sgemm shape per measurement")
    p.add_argument("--bf16-seconds", type=float, default=0.5,
                   help="seconds per workload and way (bf16, bf16 any layout, sgemm) per bench_bf16 measurement")
    p.add_argument("--train-pairs", type=int, default=8192, help="distinct pairs per epoch, in-memory training")
    p.add_argument("--train-epochs", type=int, default=4, help="epochs of in-memory training (the first is warm-up)")
    p.add_argument("--train-prompts", type=int, default=1000, help="train prompts (x 10) of the eval store")
    p.add_argument("--test-prompts", type=int, default=200, help="test prompts (x 500) of the eval store")
    p.add_argument("--ensemble-pairs", type=int, default=5120, help="pairs.count for the 4-member ensemble")
    p.add_argument("--ensemble-epochs", type=int, default=3, help="train.epochs for the 4-member ensemble")
    p.add_argument("--big-prompts", type=int, default=3300,
                   help="test prompts (x 500 x 2048 float32) of the big memory split: 3300 = 13.5 GB; the small one has a tenth")
    p.add_argument("--integrity-gb", type=float, default=3.0, help="size of the store read with and without checksums")
    p.add_argument("--memory-chunk", type=int, default=16, help="eval.chunk_prompts of the memory runs")
    p.add_argument("--large-sizes", default="4,16,64", help="ensemble sizes E of the large-ensemble evals (ascending)")
    p.add_argument("--large-test-prompts", type=int, default=40, help="test prompts (x 500) of the large-ensemble store")
    p.add_argument("--large-train-prompts", type=int, default=200, help="train prompts (x 10) of the large-ensemble store")
    p.add_argument("--large-pairs", type=int, default=640, help="pairs.count of each large-ensemble member (1 epoch)")
    p.add_argument("--active-strategies", default="entropy,past_dopt",
                   help="active.strategy values of the active part (comma-separated)")
    p.add_argument("--active-pool", type=int, default=100000, help="active.pool of the active part")
    p.add_argument("--active-rounds", type=int, default=2, help="active.rounds (of 1000 pairs, after 1000 initial labels)")
    p.add_argument("--active-members", type=int, default=5, help="ensemble.members of the active part")
    p.add_argument("--active-train-prompts", type=int, default=20000,
                   help="train prompts (x 10) of the active store: the 100 000-pair cross-prompt pool's responses")
    p.add_argument("--active-test-prompts", type=int, default=50, help="test prompts (x 500) of the active store")
    p.add_argument("--active-reps", type=int, default=1,
                   help="runs of rmens active per strategy (each is minutes; every round scores the pool again)")
    p.add_argument("--case-study-json", default=None, help="case_study.sh's JSON (default <out>/case_study.json)")
    p.add_argument("--case-study", action="store_true",
                   help="run only the full case study (long; start it in the background with nohup) -> <out>/case_study.json")
    p.add_argument("--case-study-set", action="append", default=[], metavar="KEY=VALUE",
                   help="--set override of the case study (repeatable), e.g. for a reduced test of --case-study")
    p.add_argument("--keep-data", action="store_true", help="keep the synthetic stores")
    args = p.parse_args()
    args.out = args.out or os.path.join(args.build, "bench")
    args.parts = [x for x in args.parts.split(",") if x]
    args.active_strategies = [x for x in args.active_strategies.split(",") if x]
    args.large_sizes = sorted(int(x) for x in args.large_sizes.split(",") if x)
    bench = Bench(args)
    bench.run_case_study() if args.case_study else bench.main()
