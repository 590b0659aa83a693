# Reliability (issue 8): the bad-input table across verbs.
rmens_script_test(bad_inputs ${CMAKE_CURRENT_SOURCE_DIR}/reliability/bad_inputs.py)
set_tests_properties(bad_inputs PROPERTIES LABELS "e2e;reliability")
