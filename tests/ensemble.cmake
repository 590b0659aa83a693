# Distributed ensemble training (issue 4): real mpirun with 1-4 ranks.
rmens_script_test(ensemble_ranks_identical ${CMAKE_CURRENT_SOURCE_DIR}/ensemble/ranks_identical.sh)
rmens_script_test(ensemble_data_parallel ${CMAKE_CURRENT_SOURCE_DIR}/ensemble/data_parallel.sh)
rmens_script_test(ensemble_faults ${CMAKE_CURRENT_SOURCE_DIR}/ensemble/faults.sh)
set_tests_properties(ensemble_ranks_identical ensemble_data_parallel ensemble_faults PROPERTIES LABELS "mpi;e2e")
rmens_script_test(campaign_local ${CMAKE_CURRENT_SOURCE_DIR}/ensemble/campaign_local.sh)
set_tests_properties(campaign_local PROPERTIES LABELS "e2e;analysis")
