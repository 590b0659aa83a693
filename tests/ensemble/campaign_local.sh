#!/usr/bin/env bash
# jobs/campaign_local.sh: the demo sweep (3 annotator qualities) end to end without Slurm:
# store, 3 runs, campaign.csv with a row per run x aggregator x n, figures, report; a
# second call skips the finished points.
source "$(dirname "$0")/common.sh"
export RMENS_CAMPAIGN_DIR="$WORK/campaign"
"$SRCDIR/jobs/campaign_local.sh" "$SRCDIR/configs/sweeps/demo.sweep" >"$WORK/c.log" 2>&1 || { cat "$WORK/c.log"; fail "campaign"; }
for f in campaign.csv ablation.csv report.md figures/bon_vs_kl.png figures/annotator_quality.png; do
  [ -s "$WORK/campaign/$f" ] || fail "missing $f"
done
"$PYTHON" - "$WORK/campaign" <<'PY'
import csv, json, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(f"{d}/campaign.csv")))
betas = sorted({r["pairs.annotator_beta"] for r in rows})
assert betas == ["-1.0", "0.1", "1.0"], betas
for p in range(3):
    res = json.load(open(f"{d}/points/p{p:04d}/results.json"))
    mine = [r for r in rows if r["run"] == f"p{p:04d}" and r["aggregator"] == "mean"]
    assert mine, f"no rows for point {p}"
    for r in mine:
        assert abs(float(r["bon_reward"]) - res["aggregators"]["mean"]["bon"][r["n"]]) < 1e-9, r
print(f"campaign.csv: {len(rows)} rows, consistent with results.json")
PY
"$SRCDIR/jobs/campaign_local.sh" "$SRCDIR/configs/sweeps/demo.sweep" >"$WORK/c2.log" 2>&1 || fail "second call"
[ "$(grep -c "has results; skipped" "$WORK/c2.log")" = 3 ] || { cat "$WORK/c2.log"; fail "finished points not skipped"; }
echo "campaign_local: ok"
