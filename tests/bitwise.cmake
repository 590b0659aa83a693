# Bitwise regression against commit e699003 (tests/bitwise/README.md): fixed small
# scenarios (synth, train, eval, run, active; fp32/bf16, 1 and 2 ranks, shared trunk, WARM,
# views, trees, a checkpoint) whose outputs must hash as the committed reference for this
# CPU (tests/bitwise/reference/<cpu-key>.txt). Exit 77 (skipped) without a reference for
# this CPU or for another kind of build (the sanitizer pass).
rmens_script_test(bitwise_outputs ${CMAKE_CURRENT_SOURCE_DIR}/bitwise/check_bitwise.sh)
set_tests_properties(bitwise_outputs PROPERTIES LABELS "e2e;mpi" SKIP_RETURN_CODE 77)
