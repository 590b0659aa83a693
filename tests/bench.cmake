# Performance benchmark (issue 7): helpers built with the tests, never registered as
# ctest tests (timings on a shared machine are not pass/fail). Run the whole benchmark:
#   /usr/bin/python3 tests/bench/run_bench.py --build build     (see tests/bench/README.md)
add_executable(bench_sgemm ${CMAKE_CURRENT_SOURCE_DIR}/bench/bench_sgemm.c)
target_include_directories(bench_sgemm PRIVATE ${CBLAS_INCLUDE_DIR})
target_link_libraries(bench_sgemm PRIVATE ${OPENBLAS_LIBRARY})
target_compile_options(bench_sgemm PRIVATE -Wall -Wextra)

# The bf16 limit (issue 15): oneDNN's bf16 matmul at the model's shapes beside cblas_sgemm.
# Optional: without oneDNN (libdnnl-dev) it is not built and run_bench.py marks its rows
# unavailable. The names are the benchmark's own, apart from the model's oneDNN lookup.
find_path(BENCH_DNNL_INCLUDE_DIR NAMES oneapi/dnnl/dnnl.h)
find_library(BENCH_DNNL_LIBRARY NAMES dnnl)
find_package(OpenMP COMPONENTS C)
if(BENCH_DNNL_INCLUDE_DIR AND BENCH_DNNL_LIBRARY)
  add_executable(bench_bf16 ${CMAKE_CURRENT_SOURCE_DIR}/bench/bench_bf16.c)
  target_include_directories(bench_bf16 PRIVATE ${BENCH_DNNL_INCLUDE_DIR} ${CBLAS_INCLUDE_DIR})
  target_link_libraries(bench_bf16 PRIVATE ${BENCH_DNNL_LIBRARY} ${OPENBLAS_LIBRARY} ${MATH_LIBRARY})
  if(OpenMP_C_FOUND)  # oneDNN's threads are OpenMP's: omp_set_num_threads (else OMP_NUM_THREADS)
    target_link_libraries(bench_bf16 PRIVATE OpenMP::OpenMP_C)
  endif()
  target_compile_options(bench_bf16 PRIVATE -Wall -Wextra)
else()
  message(STATUS "rmens bench: oneDNN (oneapi/dnnl/dnnl.h, libdnnl) not found - bench_bf16 not built")
endif()

# The D-optimal greedy selection of rmens active alone (issue 14), at the reference shapes
# by default: mpirun -n P build/tests/bench_dopt [POOL H E BATCH PAST OUT].
add_executable(bench_dopt ${CMAKE_CURRENT_SOURCE_DIR}/bench/bench_dopt.c)
target_link_libraries(bench_dopt PRIVATE rmens_core)
target_compile_options(bench_dopt PRIVATE -Wall -Wextra)
