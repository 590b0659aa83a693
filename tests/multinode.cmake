# Multi-node (issue 10): two simulated nodes on loopback, by hand and under Slurm.
rmens_script_test(multinode_mpirun ${CMAKE_CURRENT_SOURCE_DIR}/multinode/two_nodes_mpirun.sh)
set_tests_properties(multinode_mpirun PROPERTIES LABELS "multinode;mpi;e2e")
# 4. `rmens run` through jobs/slurm/multi_node.sbatch on a two-node Slurm cluster
# (tests/slurm/cluster.sh, SLURM_CLUSTER_NODES=2): sbatch -N 2 -n 4 -c 2, srun --mpi=pmix; equal to 1 rank.
# RESOURCE_LOCK slurm_cluster: one Slurm cluster at a time (tests/slurm.cmake); its daemons
# and 4 ranks share the cores with at most one test that is not a cluster (nothing is timed).
rmens_script_test(multinode_slurm ${CMAKE_CURRENT_SOURCE_DIR}/multinode/slurm_run.sh)
set_tests_properties(multinode_slurm PROPERTIES LABELS "multinode;slurm;e2e" TIMEOUT 600 RESOURCE_LOCK slurm_cluster)

# The gradient allreduce of one training step, timed (tests/multinode/measure.sh uses it
# for tests/multinode/SCALING.md). The test checks the sum over two simulated nodes on a
# smaller buffer; the timing itself is never asserted.
add_executable(allreduce_time ${CMAKE_CURRENT_SOURCE_DIR}/multinode/allreduce_time.c)
target_link_libraries(allreduce_time PRIVATE MPI::MPI_C)
add_test(NAME multinode_allreduce COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/multinode/allreduce.sh $<TARGET_FILE:allreduce_time>)
set_tests_properties(multinode_allreduce PROPERTIES LABELS "multinode;mpi" TIMEOUT 120
  ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
