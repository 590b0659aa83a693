# Base layer (src/base): RNG known answers, configuration loading and validation, progress lines.
rmens_unit_test(test_rng ${CMAKE_CURRENT_SOURCE_DIR}/base/test_rng.c)
rmens_unit_test(test_config ${CMAKE_CURRENT_SOURCE_DIR}/base/test_config.c)
set_tests_properties(test_config PROPERTIES ENVIRONMENT "SRCDIR=${CMAKE_SOURCE_DIR}")
rmens_unit_test(test_progress ${CMAKE_CURRENT_SOURCE_DIR}/base/test_progress.c)
