# Shared initialisation and weight averaging (WARM, issue 16; rmens/warm.h).
rmens_unit_test(test_warm ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_warm.c)
# End to end (tests/eval/warm.sh): warm of identical members is the member; warm against
# numpy and bitwise identical for 1, 2, 3 ranks; refusals; shared initialisation through
# real training.
foreach(mode identical numpy refused init)
  rmens_script_test(warm_${mode} ${CMAKE_CURRENT_SOURCE_DIR}/eval/warm.sh ${mode})
  set_tests_properties(warm_${mode} PROPERTIES LABELS "mpi;e2e")
endforeach()
