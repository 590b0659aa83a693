# Reward-model core (issue 3): MLP, objectives, Adam, pairs, training one member.
# Model tests may use the internal double-precision MLP (src/model/model_internal.h).
function(rmens_model_test name source)
  rmens_unit_test(${name} ${source} model ${ARGN})
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
endfunction()

rmens_model_test(test_model_grad ${CMAKE_CURRENT_SOURCE_DIR}/model/test_model_grad.c)
rmens_model_test(test_train ${CMAKE_CURRENT_SOURCE_DIR}/model/test_train.c)
# Shared-trunk units (ensemble.kind = shared_trunk, issue 16): gradients against finite
# differences, initialisation, the heads' bootstrap weights.
rmens_model_test(test_trunk ${CMAKE_CURRENT_SOURCE_DIR}/model/test_trunk.c)
# bf16 products (model.precision, issue 15) against double references of the same rounded
# operands, on the emulated backend and on oneDNN where it has a bf16 kernel.
rmens_model_test(test_bf16 ${CMAKE_CURRENT_SOURCE_DIR}/model/test_bf16.c)
rmens_model_test(test_tiled_sgemm ${CMAKE_CURRENT_SOURCE_DIR}/model/test_tiled_sgemm.c)

# Training benchmark (issue 7): built with the tests, run by hand, never timed in ctest:
#   OPENBLAS_NUM_THREADS=2 build/tests/bench_train && /usr/bin/python3 tests/model/bench_train_torch.py
add_executable(bench_train ${CMAKE_CURRENT_SOURCE_DIR}/model/bench_train.c)
target_link_libraries(bench_train PRIVATE rmens_core)
# Scoring benchmark (rmens eval's inner loop against OpenBLAS on the same blocks), by hand:
#   OPENBLAS_NUM_THREADS=2 build/tests/bench_score
add_executable(bench_score ${CMAKE_CURRENT_SOURCE_DIR}/model/bench_score.c)
target_link_libraries(bench_score PRIVATE rmens_core)

# Data-parallel training over a group of 2 ranks.
add_executable(test_train_mpi ${CMAKE_CURRENT_SOURCE_DIR}/model/test_train_mpi.c)
target_link_libraries(test_train_mpi PRIVATE rmens_core)
target_include_directories(test_train_mpi PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
rmens_mpi_test(test_train_mpi 2 $<TARGET_FILE:test_train_mpi>)
set_property(TEST test_train_mpi APPEND PROPERTY LABELS model)

# Against the reference's libraries: scikit-learn (linear BT = logistic regression on pair
# differences) and PyTorch (forward of nn.Sequential with the same weights).
add_executable(model_dump ${CMAKE_CURRENT_SOURCE_DIR}/model/model_dump.c)
target_link_libraries(model_dump PRIVATE rmens_core)
foreach(reference sklearn torch)
  add_test(NAME test_model_${reference}
           COMMAND ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/model/check_reference.py ${reference} $<TARGET_FILE:model_dump>)
  set_tests_properties(test_model_${reference} PROPERTIES LABELS "model;python" TIMEOUT 300 ENVIRONMENT "OPENBLAS_NUM_THREADS=1")
endforeach()

# Issue 13, the seed protocol: under configs/seed_protocol.cfg (shapes scaled down) rmens'
# members and a PyTorch re-implementation of the seed lab's networks.py::train_model on
# the same pairs agree within the seed-to-seed spread (3 seeds each side); rmens' default
# rules on the same pairs are compared too, so the test shows it can tell them apart.
add_executable(seed_protocol_dump ${CMAKE_CURRENT_SOURCE_DIR}/model/seed_protocol_dump.c)
target_link_libraries(seed_protocol_dump PRIVATE rmens_core)
add_test(NAME test_seed_protocol_torch
         COMMAND ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/model/check_seed_protocol.py
                 $<TARGET_FILE:seed_protocol_dump> ${CMAKE_SOURCE_DIR}/configs/seed_protocol.cfg)
set_tests_properties(test_seed_protocol_torch PROPERTIES LABELS "model;python" TIMEOUT 300
  ENVIRONMENT "OPENBLAS_NUM_THREADS=1;OMP_NUM_THREADS=1;OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
