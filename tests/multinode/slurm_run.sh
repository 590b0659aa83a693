#!/usr/bin/env bash
# Issue 10, test 4: `rmens run` end to end on a two-node Slurm cluster (tests/slurm/
# cluster.sh with SLURM_CLUSTER_NODES=2), submitted through the shipped
# jobs/slurm/multi_node.sbatch as `sbatch -N 2 -n 4 -c C`: srun --mpi=pmix starts 2 ranks
# on each simulated node, and --cpus-per-task sets their BLAS threads. Checks:
#   - the job COMPLETED, on both nodes, with srun --mpi=pmix and C BLAS threads per rank;
#   - members.h5 bitwise identical to a 1-rank run, results.json exactly equal;
#   - one node-shared train window per node, the size of the whole split, on two distinct
#     hosts (n1 and n2), each shared by that node's 2 ranks.
# SLURM_TEST_CPUS_PER_TASK (default 2) is C: each simulated node declares 2 x C CPUs to
# Slurm (it has this machine's cores; the test measures correctness, not speed).
export RMENS_TEST_TMP=/var/tmp # each simulated node has its own /tmp: all shared files elsewhere
source "$(dirname "$0")/../ensemble/common.sh"
export SLURM_CLUSTER_NODES=2
# shellcheck source=tests/slurm/cluster.sh
source "$SRCDIR/tests/slurm/cluster.sh"
trap 'slurm_cluster_stop; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

cpt="${SLURM_TEST_CPUS_PER_TASK:-2}"
export SLURM_CLUSTER_NODE_CPUS=$(( 2 * cpt ))
job_out="$WORK/slurm.out"
fail() {
  echo "FAIL: $*" >&2
  [ ! -f "$job_out" ] || { echo "----- job log $job_out" >&2; cat "$job_out" >&2; }
  [ -z "${SLURM_CLUSTER_DIR:-}" ] || slurm_cluster_dump_logs
  exit 1
}

make_store
run_mpi 1 run "$CFG" "${COMMON_SETS[@]}" --set output="$WORK/one" >"$WORK/one.log" 2>&1 ||
  { cat "$WORK/one.log"; fail "1-rank run"; }

slurm_cluster_start || fail "two-node Slurm cluster did not start"
export RMENS_ROOT="$SRCDIR"
cd "$WORK" || fail "cannot enter $WORK"
start=$SECONDS
job="$(sbatch --parsable -N 2 -n 4 -c "$cpt" --time=00:10:00 --output="$job_out" \
        "$SRCDIR/jobs/slurm/multi_node.sbatch" run "$CFG" "${COMMON_SETS[@]}" --set output="$WORK/slurm")" ||
  fail "sbatch refused the job"
slurm_wait_jobs 300 "$job" || fail "job $job did not finish within 300 s"
state="$(slurm_job_state "$job")"
[ "$state" = COMPLETED ] || fail "job $job ended $state"
echo "job $job: COMPLETED in $((SECONDS - start)) s"

nodes="$(scontrol show job "$job" | sed -n 's/^ *NodeList=\(.*\)/\1/p')"
[ "$nodes" = "n[1-2]" ] || fail "job ran on '$nodes', expected n[1-2]"
grep -qF "srun --mpi=pmix --ntasks=4 --cpus-per-task=$cpt" "$job_out" || fail "not launched with srun --mpi=pmix -n 4 -c $cpt"
# What rmens itself reports: BLAS threads from --cpus-per-task on every rank.
[ "$(grep -c "BLAS threads $cpt\$" "$job_out")" = 2 ] || fail "rmens did not report $cpt BLAS threads on both nodes"

# One window per node, each holding the whole split (300 x 6 responses x 24 floats, and
# the 300 x 6 golden rewards, 4 bytes each), shared by the node's 2 ranks, on n1 and n2.
expected=$(( (300 * 6 * 24 + 300 * 6) * 4 ))
grep "shared window" "$job_out"
[ "$(grep -c "in one shared window of $expected bytes for 2 rank(s)" "$job_out")" = 2 ] ||
  fail "expected exactly 2 windows of $expected bytes, each for 2 ranks"
hosts="$(grep "shared window" "$job_out" | sed -n 's/.*node \([^:]*\):.*/\1/p' | sort -u | tr '\n' ' ')"
[ "$hosts" = "n1 n2 " ] || fail "windows on hosts '$hosts', expected n1 and n2"

ranks="$("$PYTHON" -c 'import h5py,sys; print(int(h5py.File(sys.argv[1])["/"].attrs["ranks"]))' "$WORK/slurm/results.h5")"
[ "$ranks" = 4 ] || fail "results.h5 records $ranks ranks, expected 4"
"$PYTHON" "$SRCDIR/tests/ensemble/compare_members.py" "$WORK/one/members.h5" "$WORK/slurm/members.h5" ||
  fail "members differ from the 1-rank run"
"$PYTHON" "$SRCDIR/tests/ensemble/compare_results.py" 0 "$WORK/one/results.json" "$WORK/slurm/results.json" ||
  fail "results differ from the 1-rank run"
echo "slurm_run: ok (2 nodes x 2 ranks x $cpt BLAS threads under Slurm = 1 rank, bitwise)"
