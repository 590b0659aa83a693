#!/usr/bin/env bash
# bf16 evaluation against fp32 (issue 15) on the demo store: the same fp32-trained members
# scored with model.precision = fp32 and bf16 give figures within the tolerances a study
# can ignore - Spearman and pairwise accuracy within 0.005, best-of-n golden reward within
# 0.01 - through oneDNN where the CPU has a bf16 kernel and through the emulated backend;
# `auto` picks bf16 exactly where oneDNN runs an AMX kernel; members trained in bf16 are
# scored in fp32 too (precision belongs to the verb that runs); provenance says which.
set -euo pipefail
: "${RMENS:?}" "${MPIRUN:?}" "${PYTHON:?}" "${SRCDIR:?}"
WORK="$(mktemp -d /tmp/rmens_bf16.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
run_mpi() { local np="$1"; shift; timeout 300 "$MPIRUN" --oversubscribe --bind-to none -n "$np" "$RMENS" "$@"; }

CFG="$SRCDIR/configs/demo.cfg"
SETS=(--set store="$WORK/store.h5" --set parallel.blas_threads=1)
"$RMENS" synth "$CFG" "${SETS[@]}" --force >"$WORK/synth.log" 2>&1 || { cat "$WORK/synth.log"; fail "synth"; }
run_mpi 2 train "$CFG" "${SETS[@]}" --set output="$WORK/fp32" >"$WORK/train.log" 2>&1 || { cat "$WORK/train.log"; fail "train"; }
evaluate() { # evaluate NAME PRECISION [env...]: eval of the fp32 members into $WORK/NAME
  local name="$1" precision="$2"; shift 2
  mkdir -p "$WORK/$name" && ln -sf "$WORK/fp32/members.h5" "$WORK/$name/members.h5"
  env "$@" "$MPIRUN" --oversubscribe --bind-to none -n 2 -x ONEDNN_MAX_CPU_ISA -x RMENS_BF16_EMULATE "$RMENS" eval "$CFG" "${SETS[@]}" --set output="$WORK/$name" \
    --set model.precision="$precision" >"$WORK/$name.log" 2>&1 || { cat "$WORK/$name.log"; fail "eval $name"; }
}
evaluate eval_fp32 fp32
evaluate eval_bf16 bf16
evaluate eval_emulated bf16 RMENS_BF16_EMULATE=1
evaluate eval_auto auto
# A CPU where oneDNN has no bf16 kernel (an AVX2-only machine), simulated by capping
# oneDNN's ISA: bf16 runs emulated with a one-line warning, auto stays fp32.
evaluate eval_avx2 bf16 ONEDNN_MAX_CPU_ISA=AVX2
evaluate eval_avx2_auto auto ONEDNN_MAX_CPU_ISA=AVX2
[ "$(grep -c "warning: model.precision = \"bf16\": oneDNN has no bf16 kernel" "$WORK/eval_avx2.log")" = 1 ] \
  || { cat "$WORK/eval_avx2.log"; fail "bf16 without a oneDNN bf16 kernel: expected one warning (rank 0)"; }
# members trained in bf16, scored in fp32
run_mpi 2 train "$CFG" "${SETS[@]}" --set output="$WORK/bf16" --set model.precision=bf16 >"$WORK/train_bf16.log" 2>&1 \
  || { cat "$WORK/train_bf16.log"; fail "train in bf16"; }
run_mpi 2 eval "$CFG" "${SETS[@]}" --set output="$WORK/bf16" --set model.precision=fp32 >"$WORK/bf16_eval.log" 2>&1 \
  || { cat "$WORK/bf16_eval.log"; fail "fp32 eval of bf16 members"; }

"$PYTHON" - "$WORK" <<'PY'
import json, sys, h5py
work = sys.argv[1]
load = lambda name: json.load(open(f"{work}/{name}/results.json"))
ref = load("eval_fp32")
prov = ref["provenance"]
assert prov["precision"] == "fp32" and prov["matmul_kernel"] in ("openblas sgemm", "rmens avx512 sgemm") and prov["cpu"], prov
tol = {"spearman": 0.005, "pair_accuracy": 0.005, "bench_accuracy": 0.01}
def compare(name):
    got, worst = load(name), {}
    groups = list(ref["aggregators"]) + ["single"]
    for g in groups:
        a = ref["single"] if g == "single" else ref["aggregators"][g]
        b = got["single"] if g == "single" else got["aggregators"][g]
        for key, t in tol.items():
            d = abs(a[key] - b[key])
            worst[key] = max(worst.get(key, 0), d)
            assert d <= t, f"{name}: {g}.{key} {b[key]} vs fp32 {a[key]} (tolerance {t})"
        for n, v in a["bon"].items():
            d = abs(v - b["bon"][n])
            worst["bon"] = max(worst.get("bon", 0), d)
            assert d <= 0.01, f"{name}: {g}.bon[{n}] {b['bon'][n]} vs fp32 {v} (tolerance 0.01)"
    print(f"{name} ({got['provenance']['matmul_kernel']}): largest differences from fp32 " +
          ", ".join(f"{k} {v:.4f}" for k, v in worst.items()))
    return got
native = ref["provenance"]["cpu"]  # same machine for every run
bf16 = compare("eval_bf16")
emulated = compare("eval_emulated")
assert bf16["provenance"]["precision"] == "bf16" and emulated["provenance"]["precision"] == "bf16"
assert "emulated" in emulated["provenance"]["matmul_kernel"], emulated["provenance"]
auto = load("eval_auto")["provenance"]
assert auto["precision_requested"] == "auto"
onednn = bf16["provenance"]["matmul_kernel"].startswith("onednn")
print("oneDNN bf16 kernel here:", onednn, "- auto chose", auto["precision"], auto["matmul_kernel"])
avx2 = compare("eval_avx2")
assert "emulated" in avx2["provenance"]["matmul_kernel"], avx2["provenance"]
assert load("eval_avx2_auto")["provenance"]["precision"] == "fp32"
amx = onednn and "amx" in bf16["provenance"]["matmul_kernel"]
# auto's rule (include/rmens/kernels/precision.h): AMX, or AVX512_BF16 at full width (AMD family >= 26)
cpuinfo = open("/proc/cpuinfo").read().split("\n\n")[0]
field = lambda k: next((l.split(":", 1)[1].strip() for l in cpuinfo.splitlines() if l.split(":")[0].strip() == k), "")
full_width = field("vendor_id") == "AuthenticAMD" and int(field("cpu family") or 0) >= 26 and "avx512_bf16" in field("flags")
expect_bf16 = amx or (onednn and full_width)
assert (auto["precision"] == "bf16") == expect_bf16, (auto, bf16["provenance"])
assert auto["precision_reason"].startswith("auto: " + auto["precision"]), auto
if expect_bf16:
    assert auto["matmul_kernel"] == bf16["provenance"]["matmul_kernel"], auto
    compare("eval_auto")
# bf16-trained members: trained in bf16 (members.h5 /run), scored in fp32
with h5py.File(f"{work}/bf16/members.h5", "r") as f:
    assert f["run"].attrs["precision"] == "bf16", dict(f["run"].attrs)
cross = load("bf16")
assert cross["provenance"]["precision"] == "fp32"
assert cross["aggregators"]["mean"]["pair_accuracy"] > 0.6, cross["aggregators"]["mean"]
print("bf16-trained members scored in fp32: mean pair accuracy", round(cross["aggregators"]["mean"]["pair_accuracy"], 4),
      "vs fp32-trained", round(ref["aggregators"]["mean"]["pair_accuracy"], 4))
PY
echo "bf16_figures: ok"
