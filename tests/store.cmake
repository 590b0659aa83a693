# The embedding store (issue 2): reader/writer, synth, import, inspect.
set(STORE_TESTS ${CMAKE_CURRENT_SOURCE_DIR}/store)

rmens_unit_test(test_store ${STORE_TESTS}/test_store.c)
set_tests_properties(test_store PROPERTIES ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
# (The checksum the direct chunk reads verify, store_fletcher32: tests/kernels.cmake.)

# Exposes the C reader and half conversions to the Python checks below.
add_executable(store_tool ${STORE_TESTS}/store_tool.c)
target_link_libraries(store_tool PRIVATE rmens_core)
set(STORE_TOOL $<TARGET_FILE:store_tool>)

rmens_script_test(store_half ${SYSTEM_PYTHON} ${STORE_TESTS}/test_half.py ${STORE_TOOL})
rmens_script_test(store_synth_ranks ${SYSTEM_PYTHON} ${STORE_TESTS}/test_synth_ranks.py)
rmens_script_test(store_synth_learnable ${SYSTEM_PYTHON} ${STORE_TESTS}/test_synth_learnable.py)
rmens_script_test(store_read_ranges ${SYSTEM_PYTHON} ${STORE_TESTS}/test_read_ranges.py ${STORE_TOOL})
rmens_script_test(store_import ${SYSTEM_PYTHON} ${STORE_TESTS}/test_import.py)
rmens_script_test(store_bad_input ${SYSTEM_PYTHON} ${STORE_TESTS}/test_bad_input.py ${STORE_TOOL})
rmens_script_test(store_inspect ${SYSTEM_PYTHON} ${STORE_TESTS}/test_inspect.py)
rmens_script_test(store_integrity ${SYSTEM_PYTHON} ${STORE_TESTS}/test_integrity.py)
rmens_script_test(store_views ${SYSTEM_PYTHON} ${STORE_TESTS}/test_views.py)
rmens_script_test(store_direct_chunks ${SYSTEM_PYTHON} ${STORE_TESTS}/test_direct_chunks.py ${STORE_TOOL})
# Stores of human preference pairs (issue 29): import on 1-3 ranks, h5py round trip, digests, inspect --verify, refusals.
rmens_script_test(store_pair_store ${SYSTEM_PYTHON} ${STORE_TESTS}/test_pair_store.py)
# Views of pair stores (issue 29): --view of pair inputs on 1 and 3 ranks, h5py round trip, digests, verify, refusals, runs.
rmens_script_test(store_pair_views ${SYSTEM_PYTHON} ${STORE_TESTS}/test_pair_views.py)
set_tests_properties(store_half store_synth_ranks store_synth_learnable store_read_ranges store_import
  store_bad_input store_inspect store_integrity store_views store_direct_chunks store_pair_store store_pair_views PROPERTIES LABELS "e2e;store")
