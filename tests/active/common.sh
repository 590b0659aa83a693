# Shared set-up for the rmens active tests: the ensemble tests' scratch directory, tiny
# store and mpirun helper, and a small active run (pool 2000, 200 initial, 2 x 100).
source "$SRCDIR/tests/ensemble/common.sh"
ACTIVE_SETS=("${COMMON_SETS[@]}" --set ensemble.members=3 --set train.batch_size=32
             --set active.pool=2000 --set active.initial=200 --set active.batch=100 --set active.rounds=2)
