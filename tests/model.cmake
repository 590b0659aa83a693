# Model layer (src/model, issue 3): the MLP, objectives and Adam; bf16 products.
# Model tests may use the internal double-precision MLP (src/model/mlp_fp32.h).
rmens_unit_test(test_model_grad ${CMAKE_CURRENT_SOURCE_DIR}/model/test_model_grad.c model)
# bf16 products (model.precision, issue 15) against double references of the same rounded
# operands, on the emulated backend and on oneDNN where it has a bf16 kernel.
rmens_unit_test(test_bf16 ${CMAKE_CURRENT_SOURCE_DIR}/model/test_bf16.c model)

# Scoring benchmark (rmens eval's inner loop against OpenBLAS on the same blocks), by hand:
#   OPENBLAS_NUM_THREADS=2 build/tests/bench_score
add_executable(bench_score ${CMAKE_CURRENT_SOURCE_DIR}/model/bench_score.c)
target_link_libraries(bench_score PRIVATE rmens_core)

# Against the reference's libraries: scikit-learn (linear BT = logistic regression on pair
# differences) and PyTorch (forward of nn.Sequential with the same weights).
add_executable(model_dump ${CMAKE_CURRENT_SOURCE_DIR}/model/model_dump.c)
target_link_libraries(model_dump PRIVATE rmens_core)
foreach(reference sklearn torch)
  add_test(NAME test_model_${reference}
           COMMAND ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/model/check_reference.py ${reference} $<TARGET_FILE:model_dump>)
  set_tests_properties(test_model_${reference} PROPERTIES LABELS "model;python" TIMEOUT 300 ENVIRONMENT "OPENBLAS_NUM_THREADS=1")
endforeach()
