#!/usr/bin/env bash
# RMENS_VERBS=active jobs/campaign_local.sh on a tiny sweep (random and past_dopt x 2 seeds),
# then analysis/plot_active.py: the label-efficiency figure, summary and report; a second
# call skips the finished points.
source "$(dirname "$0")/common.sh"
make_store
cat >"$WORK/tiny.sweep" <<SWEEP
base    $SRCDIR/configs/demo.cfg
output  $WORK/campaign
store   $STORE
set     synth.train_prompts = 300
set     synth.train_responses = 6
set     synth.test_prompts = 30
set     synth.test_responses = 12
set     synth.dim = 24
set     synth.bench_pairs = 50
set     model.hidden = [16, 8]
set     train.epochs = 3
set     train.batch_size = 32
set     ensemble.members = 3
set     parallel.blas_threads = 1
set     active.pool = 2000
set     active.initial = 200
set     active.batch = 100
set     active.rounds = 2
grid    active.strategy = "random", "past_dopt"
grid    seed = 1, 2
SWEEP
export RMENS_VERBS=active
"$SRCDIR/jobs/campaign_local.sh" "$WORK/tiny.sweep" >"$WORK/c.log" 2>&1 || { cat "$WORK/c.log"; fail "campaign"; }
for f in active_report.md active_summary.json figures/active_curves.png; do
  [ -s "$WORK/campaign/$f" ] || { cat "$WORK/c.log"; fail "missing $f"; }
done
"$PYTHON" - "$WORK/campaign" <<'PY'
import json, sys
import numpy as np
d = sys.argv[1]
s = json.load(open(f"{d}/active_summary.json"))
assert set(s["strategies"]) == {"random", "past_dopt"}, s["strategies"].keys()
for name, v in s["strategies"].items():
    assert v["seeds"] == 2, v
    runs = [json.load(open(f"{d}/points/p{p:04d}/active.json")) for p in range(4)]
    mine = [r for r in runs if r["strategy"] == name]
    bon = np.mean([[max(((int(n), b) for n, b in r["aggregators"]["mean"]["bon"].items()))[1] for r in run["rounds"]] for run in mine], axis=0)
    area = np.trapz(bon, [200, 300, 400]) / 200
    assert abs(area - v["bon_area"]) < 1e-12, (name, area, v["bon_area"])
    acc = np.mean([[r["aggregators"]["mean"]["pair_accuracy"] for r in run["rounds"]] for run in mine], axis=0)
    for f, n in v["labels_to_pair_accuracy_fraction"].items():
        first = [x for x, a in zip([200, 300, 400], acc) if a >= float(f) * s["full_pair_accuracy"]]
        assert n == (first[0] if first else None), (name, f, n, first)
    assert v["labels_to_95pct_pair_accuracy"] == v["labels_to_pair_accuracy_fraction"]["0.95"]
    for part, t in v["seconds_per_round"].items():
        want = np.median([[r["seconds"][part] for r in run["rounds"][1:]] for run in mine])
        assert abs(t - want) < 1e-12, (name, part, t, want)
assert s["strategies"]["random"]["bon_area_minus_random"] == 0
print("summary consistent with active.json")
PY
"$SRCDIR/jobs/campaign_local.sh" "$WORK/tiny.sweep" >"$WORK/c2.log" 2>&1 || fail "second call"
[ "$(grep -c "has results; skipped" "$WORK/c2.log")" = 4 ] || { cat "$WORK/c2.log"; fail "finished points not skipped"; }
# A campaign under way: past_dopt has seed 1 only. --common-seeds compares both on seed 1;
# --full takes an active.json's last round.
cp -r "$WORK/campaign" "$WORK/partial"
rm "$WORK/partial/points/p0003/active.json"
"$PYTHON" "$SRCDIR/analysis/plot_active.py" "$WORK/partial" --common-seeds \
  --full "$WORK/campaign/points/p0001/active.json" >"$WORK/p.log" 2>&1 || { cat "$WORK/p.log"; fail "plot_active --common-seeds"; }
"$PYTHON" - "$WORK/partial" "$WORK/campaign/points/p0001/active.json" <<'PY'
import json, sys
s = json.load(open(f"{sys.argv[1]}/active_summary.json"))
full = json.load(open(sys.argv[2]))["rounds"][-1]["aggregators"]["mean"]["pair_accuracy"]
assert s["full_pair_accuracy"] == full, (s["full_pair_accuracy"], full)
assert all(v["seeds"] == 1 for v in s["strategies"].values()), s["strategies"]
report = open(f"{sys.argv[1]}/active_report.md").read()
assert "Seeds every strategy has: 1." in report, report
PY
echo "active campaign: ok"
