# Slurm: the jobs/slurm/ scripts and jobs/campaign.sh, exercised for real on a private
# one-node Slurm cluster that tests/slurm/cluster.sh starts on localhost and always tears
# down (Debian slurm-wlm + munge; run as root). A cluster that cannot start fails the test
# with the reason; nothing is skipped. RESOURCE_LOCK slurm_cluster (with multinode_slurm):
# two clusters at once would only fight over the machine's 2 cores, so they run one at a
# time. They may run beside a test that is not a cluster: nothing in them is timed against
# the machine (the requeue test signals once an epoch line is logged; every wait is for a
# job state, bounded by minutes), and most of their time is Slurm scheduling, not work.
set(RMENS_SLURM_ENV
  "RMENS=${RMENS_BIN};MPIRUN=${MPIRUN};PYTHON=${SYSTEM_PYTHON};SRCDIR=${CMAKE_SOURCE_DIR};RMENS_ROOT=${CMAKE_SOURCE_DIR};OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")

# Preemption of a real 2-rank rmens training: USR1 forwarded, checkpoint, exit 75 ->
# scontrol requeue -> --resume -> COMPLETED, members bitwise equal to an uninterrupted run.
add_test(NAME slurm_requeue COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/slurm/test_requeue.sh)
set_tests_properties(slurm_requeue PROPERTIES LABELS "slurm" TIMEOUT 300 RESOURCE_LOCK slurm_cluster ENVIRONMENT "${RMENS_SLURM_ENV}")

# The demo config through the single-node script, a 3-task sweep array and the whole
# synth -> train -> eval -> report chain, with the real rmens; outputs checked.
add_test(NAME slurm_jobs COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/slurm/test_jobs.sh)
set_tests_properties(slurm_jobs PROPERTIES LABELS "slurm" TIMEOUT 1500 RESOURCE_LOCK slurm_cluster ENVIRONMENT "${RMENS_SLURM_ENV}")

# The campaign analysis (merge -> CSV, figures, report) on a hand-made campaign whose
# numbers are known, checked cell by cell; no Slurm needed.
add_test(NAME campaign_analysis COMMAND ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/slurm/test_analysis.py)
set_tests_properties(campaign_analysis PROPERTIES LABELS "slurm;analysis" TIMEOUT 300
  ENVIRONMENT "SRCDIR=${CMAKE_SOURCE_DIR};MPLBACKEND=Agg")

# Sweep `variant` axes and the ensemble-kinds table and figure (issue 16), on known numbers.
add_test(NAME campaign_kinds COMMAND ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/slurm/test_kinds.py)
set_tests_properties(campaign_kinds PROPERTIES LABELS "slurm;analysis" TIMEOUT 300
                     ENVIRONMENT "SRCDIR=${CMAKE_SOURCE_DIR}")
