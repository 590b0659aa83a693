# Performance benchmark (issue 7): helpers built with the tests, never registered as
# ctest tests (timings on a shared machine are not pass/fail). Run the whole benchmark:
#   /usr/bin/python3 tests/bench/run_bench.py --build build     (see tests/bench/README.md)
add_executable(bench_sgemm ${CMAKE_CURRENT_SOURCE_DIR}/bench/bench_sgemm.c)
target_include_directories(bench_sgemm PRIVATE ${CBLAS_INCLUDE_DIR})
target_link_libraries(bench_sgemm PRIVATE ${OPENBLAS_LIBRARY})
target_compile_options(bench_sgemm PRIVATE -Wall -Wextra)
