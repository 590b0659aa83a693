# Reward-model core (issue 3): MLP, objectives, Adam, pairs, training one member.
# Model tests may use the internal double-precision MLP (src/model_internal.h).
function(rmens_model_test name source)
  rmens_unit_test(${name} ${source} model ${ARGN})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_CURRENT_SOURCE_DIR}/unit)
endfunction()

rmens_model_test(test_model_grad ${CMAKE_CURRENT_SOURCE_DIR}/model/test_model_grad.c)
rmens_model_test(test_train ${CMAKE_CURRENT_SOURCE_DIR}/model/test_train.c)

# Training benchmark (issue 7): built with the tests, run by hand, never timed in ctest:
#   OPENBLAS_NUM_THREADS=2 build/tests/bench_train && /usr/bin/python3 tests/model/bench_train_torch.py
add_executable(bench_train ${CMAKE_CURRENT_SOURCE_DIR}/model/bench_train.c)
target_link_libraries(bench_train PRIVATE rmens_core)
