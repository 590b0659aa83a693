# Active reward modelling (issue 14): the criteria against numpy, the verb end to end.
add_executable(active_criteria_tool ${CMAKE_CURRENT_SOURCE_DIR}/active/criteria_tool.c)
target_link_libraries(active_criteria_tool PRIVATE rmens_core)
add_test(NAME active_criteria COMMAND ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/active/check_criteria.py
         $<TARGET_FILE:active_criteria_tool> ${MPIRUN})
set_tests_properties(active_criteria PROPERTIES LABELS "mpi;active" TIMEOUT 300
  ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
rmens_script_test(active_ranks_identical ${CMAKE_CURRENT_SOURCE_DIR}/active/ranks_identical.sh)
set_tests_properties(active_ranks_identical PROPERTIES LABELS "mpi;e2e;active")
rmens_script_test(active_resume ${CMAKE_CURRENT_SOURCE_DIR}/active/resume.sh)
set_tests_properties(active_resume PROPERTIES LABELS "mpi;e2e;active;reliability")
rmens_script_test(active_train_equivalence ${CMAKE_CURRENT_SOURCE_DIR}/active/train_equivalence.sh)
rmens_script_test(active_bad_inputs ${CMAKE_CURRENT_SOURCE_DIR}/active/bad_inputs.sh)
set_tests_properties(active_train_equivalence active_bad_inputs PROPERTIES LABELS "mpi;e2e;active")
rmens_script_test(active_warm ${CMAKE_CURRENT_SOURCE_DIR}/active/warm.sh)
set_tests_properties(active_warm PROPERTIES LABELS "mpi;e2e;active")
rmens_script_test(active_campaign ${CMAKE_CURRENT_SOURCE_DIR}/active/campaign.sh)
set_tests_properties(active_campaign PROPERTIES LABELS "e2e;analysis;active")
