# Distributed ensemble training (issue 4): real mpirun with 1-4 ranks.
rmens_script_test(ensemble_ranks_identical ${CMAKE_CURRENT_SOURCE_DIR}/ensemble/ranks_identical.sh)
rmens_script_test(ensemble_data_parallel ${CMAKE_CURRENT_SOURCE_DIR}/ensemble/data_parallel.sh)
rmens_script_test(ensemble_faults ${CMAKE_CURRENT_SOURCE_DIR}/ensemble/faults.sh)
# Shared-trunk ensembles (ensemble.kind, issue 16): two tests of one script, so that only the
# SIGTERM-and-resume part runs alone (RUN_SERIAL, tests/CMakeLists.txt).
rmens_script_test(ensemble_shared_trunk ${CMAKE_CURRENT_SOURCE_DIR}/ensemble/shared_trunk.sh checks)
rmens_script_test(ensemble_shared_trunk_resume ${CMAKE_CURRENT_SOURCE_DIR}/ensemble/shared_trunk.sh resume)
set_tests_properties(ensemble_shared_trunk ensemble_shared_trunk_resume PROPERTIES LABELS "mpi;e2e")
# Members on several store views (issue 16).
rmens_script_test(ensemble_views ${CMAKE_CURRENT_SOURCE_DIR}/ensemble/views.sh)
set_tests_properties(ensemble_views PROPERTIES LABELS "mpi;e2e")
# The same in bf16 (issue 15): through oneDNN where it has a bf16 kernel, and emulated.
rmens_script_test(ensemble_ranks_identical_bf16 ${CMAKE_CURRENT_SOURCE_DIR}/ensemble/ranks_identical.sh bf16)
rmens_script_test(ensemble_ranks_identical_bf16_emulated ${CMAKE_CURRENT_SOURCE_DIR}/ensemble/ranks_identical.sh bf16)
set_property(TEST ensemble_ranks_identical_bf16_emulated APPEND PROPERTY ENVIRONMENT "RMENS_BF16_EMULATE=1")
set_tests_properties(ensemble_ranks_identical ensemble_ranks_identical_bf16 ensemble_ranks_identical_bf16_emulated
                     ensemble_data_parallel ensemble_faults PROPERTIES LABELS "mpi;e2e")
# Only the train responses the members use are read (rm_member_items_read), and the members
# are bitwise those of a whole read.
rmens_script_test(ensemble_partial_read ${CMAKE_CURRENT_SOURCE_DIR}/ensemble/partial_read.sh $<BOOL:${RMENS_HAVE_XGBOOST}>)
set_tests_properties(ensemble_partial_read PROPERTIES LABELS "mpi;e2e")
rmens_script_test(campaign_local ${CMAKE_CURRENT_SOURCE_DIR}/ensemble/campaign_local.sh)
set_tests_properties(campaign_local PROPERTIES LABELS "e2e;analysis")
# model.inputs (issue 28): views concatenated and standardised by the train split's moments;
# /inputs against numpy, the README's PyTorch and XGBoost snippets against /predictions,
# eval standardising with /inputs, a shared trunk on the composite, the refusals. The
# argument says whether rmens has XGBoost (the gbdt part runs only then).
rmens_script_test(ensemble_model_inputs ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/ensemble/test_model_inputs.py
                  $<BOOL:${RMENS_HAVE_XGBOOST}>)
set_tests_properties(ensemble_model_inputs PROPERTIES LABELS "mpi;e2e;python" TIMEOUT 300)
# --dry-run of train, eval, run and active (issue 30): the plan, nothing written, refusals.
rmens_script_test(ensemble_dry_run ${CMAKE_CURRENT_SOURCE_DIR}/ensemble/dry_run.sh)
