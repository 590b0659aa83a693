# Multi-node (issue 10): two simulated nodes on loopback, by hand and under Slurm.
rmens_script_test(multinode_mpirun ${CMAKE_CURRENT_SOURCE_DIR}/multinode/two_nodes_mpirun.sh)
set_tests_properties(multinode_mpirun PROPERTIES LABELS "multinode;mpi;e2e")
