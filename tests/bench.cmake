# Performance benchmark (issue 7): helpers built with the tests; timings on a shared machine
# are never pass/fail, so the one ctest test here (bench_smoke, below) checks the shape of
# what the benchmark writes, never a rate. Run the whole benchmark:
#   /usr/bin/python3 tests/bench/run_bench.py --build build     (see tests/bench/README.md)

# The CPU's own arithmetic peak (issue 31): fp32 FMA, bf16 dot product, AMX tiles, 1 and 2
# threads. No -march: each kernel has its own target attribute and runs after a CPUID check,
# so the binary runs on AVX2-only CPUs too.
add_executable(bench_peak ${CMAKE_CURRENT_SOURCE_DIR}/bench/peak.c)
target_link_libraries(bench_peak PRIVATE Threads::Threads)
target_compile_options(bench_peak PRIVATE -Wall -Wextra)

# The benchmark's smoke test: run_bench.py --parts peak for a moment (the peak part, the
# sgemm limit, bench.json and its table), bench_peak on its AVX2 path, and fraction_of_peak
# on a stored bench.json. Checks shapes and positivity only; about 10 s.
add_test(NAME bench_smoke COMMAND ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/bench/smoke.py ${CMAKE_BINARY_DIR})
set_tests_properties(bench_smoke PROPERTIES LABELS "bench" TIMEOUT 300)

# The library limit: OpenBLAS cblas_sgemm at the model's GEMM shapes.
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
