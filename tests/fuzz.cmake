# Fuzzing (issue 8): libFuzzer harnesses, built only with clang and -DRMENS_FUZZ=ON
# (tests/run.sh does this in its sanitizer pass). Each runs for a bounded time from a
# seed corpus copied to a scratch directory; any finding fails the test.
if(RMENS_FUZZ)
  set(RMENS_FUZZ_SECONDS 60 CACHE STRING "seconds per fuzz target in the test suite")
  set(RMENS_FUZZ_STORE_RUNS 5000 CACHE STRING "executions of fuzz_store at the most (and RMENS_FUZZ_SECONDS)")
  file(GLOB RMENS_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_*.c)
  foreach(src ${RMENS_FUZZ_SOURCES})
    get_filename_component(name ${src} NAME_WE)
    string(REPLACE "fuzz_" "" target_area ${name})
    add_executable(${name} ${src})
    target_link_libraries(${name} PRIVATE rmens_core)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    # The store target also stops after RMENS_FUZZ_STORE_RUNS executions (each opens an
    # HDF5 file: a fixed count keeps CI's share of the machine predictable).
    set(runs "")
    if(target_area STREQUAL "store")
      set(runs ${RMENS_FUZZ_STORE_RUNS})
    endif()
    add_test(NAME ${name}
      COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_fuzzer.sh $<TARGET_FILE:${name}>
              ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus_${target_area} ${RMENS_FUZZ_SECONDS} ${runs})
    set_tests_properties(${name} PROPERTIES LABELS "fuzz" TIMEOUT 600)
  endforeach()
endif()
