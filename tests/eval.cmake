# Evaluation: metrics against brute force, Monte Carlo and scipy; the order-independent
# reduction; end-to-end figures for P = 1, 2, 3 ranks.
rmens_unit_test(test_metrics ${CMAKE_CURRENT_SOURCE_DIR}/eval/test_metrics.c)
add_executable(eval_metrics_dump ${CMAKE_CURRENT_SOURCE_DIR}/eval/metrics_dump.c)
target_link_libraries(eval_metrics_dump PRIVATE rmens_core)
add_test(NAME eval_metrics_scipy COMMAND ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/eval/check_metrics_scipy.py $<TARGET_FILE:eval_metrics_dump>)
set_tests_properties(eval_metrics_scipy PROPERTIES LABELS "unit" TIMEOUT 300)
# The reduction with made-up predictions and the real block partition over 1, 2, 3 ranks.
add_executable(test_eval_reduce ${CMAKE_CURRENT_SOURCE_DIR}/eval/test_eval_reduce.c)
target_link_libraries(test_eval_reduce PRIVATE rmens_core)
foreach(np 1 2 3)
  rmens_mpi_test(eval_reduce_np${np} ${np} $<TARGET_FILE:test_eval_reduce>)
endforeach()
# End to end with the store and members: figures identical for P = 1, 2, 3, checked
# against numpy/scipy recomputation from /predictions.
# The calibration pairs from the generator, for check_results.py's recomputation.
add_executable(eval_calibration_pairs_dump ${CMAKE_CURRENT_SOURCE_DIR}/eval/calibration_pairs_dump.c)
target_link_libraries(eval_calibration_pairs_dump PRIVATE rmens_core)
rmens_script_test(eval_ranks_identical ${CMAKE_CURRENT_SOURCE_DIR}/eval/ranks_identical.sh
                  $<TARGET_FILE:eval_calibration_pairs_dump>)
set_tests_properties(eval_ranks_identical PROPERTIES LABELS "mpi;e2e")
# The same with members on three store views of different D (issue 16).
rmens_script_test(eval_ranks_identical_views ${CMAKE_CURRENT_SOURCE_DIR}/eval/ranks_identical.sh
                  $<TARGET_FILE:eval_calibration_pairs_dump> views)
set_tests_properties(eval_ranks_identical_views PROPERTIES LABELS "mpi;e2e")
# bf16 evaluation within tolerance of fp32 on the demo store (issue 15).
rmens_script_test(eval_bf16_figures ${CMAKE_CURRENT_SOURCE_DIR}/eval/bf16_figures.sh)
set_tests_properties(eval_bf16_figures PROPERTIES LABELS "mpi;e2e")
# The statistics against the old implementation kept verbatim as the oracle
# (stats_oracle.c): random data with ties, many K, member counts and subsets, 1-3 threads.
rmens_unit_test(test_stats_oracle ${CMAKE_CURRENT_SOURCE_DIR}/eval/test_stats_oracle.c)
target_sources(test_stats_oracle PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/eval/stats_oracle.c)
# The oracle's sums compiled as scalar code, as the CI build (-O2) has always compiled them:
# at -O3 GCC vectorises oracle_bon_expected's products and adds them unfused, which differs
# in the last bit from the fused multiply-adds of the scalar loop (rm_bon_expected fuses
# them explicitly, so the library does not depend on the optimisation level).
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/eval/stats_oracle.c PROPERTIES COMPILE_OPTIONS "-fno-tree-vectorize")

# Weight averaging (WARM, issue 16; rmens/eval/warm.h) and the shared initialisation it
# needs (src/member/shared_init.c): initial weights, keys, refusals, rm_warm_decide and
# rm_warm_average, checkpoint fingerprints.
rmens_unit_test(test_warm ${CMAKE_CURRENT_SOURCE_DIR}/eval/test_warm.c)
# End to end (tests/eval/warm.sh): warm of identical members is the member; warm against
# numpy and bitwise identical for 1, 2, 3 ranks; refusals; the standardisation sample
# members.h5 records; shared initialisation through real training.
foreach(mode identical numpy refused recorded init)
  rmens_script_test(warm_${mode} ${CMAKE_CURRENT_SOURCE_DIR}/eval/warm.sh ${mode})
  set_tests_properties(warm_${mode} PROPERTIES LABELS "mpi;e2e")
endforeach()

# eval.bias_features (issue 28 item 5; rmens/eval/eval_bias.h): a "length" view imported into a
# synthetic store, `rmens run` on 1 and 2 ranks; feature_bias identical across rank counts and
# recomputed with numpy/scipy from /predictions, the golden rewards and the view; the default
# [] writes nothing new; an unknown view is refused in one line.
rmens_script_test(eval_feature_bias ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/eval/feature_bias.py)
set_tests_properties(eval_feature_bias PROPERTIES LABELS "mpi;e2e" TIMEOUT 300)

# Issue 28's acceptance on the committed AlpacaEval store (tests/data/real): configs/real_data.cfg's
# mean ensemble against scikit-learn's logistic probe (C by prompt-grouped CV) and length alone,
# with and without the length view; validation on unseen prompts within 0.03 of held out; 1, 2, 3
# ranks bitwise identical with model.inputs, val_split = "prompts", train.l2.
rmens_script_test(eval_real_data_alpaca ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/eval/real_data_alpaca.py)
set_tests_properties(eval_real_data_alpaca PROPERTIES LABELS "e2e;real" TIMEOUT 900)

# rmens select (rmens/eval/select.h; tests/eval/select_cv.py): a learning-rate grid with a
# bad and a good value and an exact tie, on a small synthetic store: the choice (first of
# the best means), fold scores and mean/std against numpy, the table's '*' and ETA lines,
# select.json and members.h5 identical on 1 and 2 ranks, the chosen values in the final
# run's merged config and its members those of `rmens run` with them, the held-out fold
# untrained on (~0.5 on a pure-noise store), fold scores unchanged by another test split,
# and the refusals (seed, malformed axis, unknown key, folds, an existing select.json).
rmens_script_test(select_cv ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/eval/select_cv.py main)
set_tests_properties(select_cv PROPERTIES LABELS "mpi;e2e" TIMEOUT 300)
# With train.val_split = "pairs" (the default) the folds' members must still hold out
# train.val_fraction of their pairs for validation (select.h: "its own train.val_split then
# applies to the rest").
rmens_script_test(select_cv_val_split ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/eval/select_cv.py val_split)
set_tests_properties(select_cv_val_split PROPERTIES LABELS "mpi;e2e" TIMEOUT 300)
