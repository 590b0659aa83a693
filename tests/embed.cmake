# The text embedder of jobs/embed (issue 28): its self-test, and the committed real arrays of
# tests/data/real/ re-embedded row by row and compared bit for bit (one test per data set, so a
# data set without text to embed skips alone). They need Node and the embedder's npm packages
# (tests/run.sh runs setup with RMENS_EMBEDDER=optional: `npm ci` in jobs/embed); without them,
# or without any text for a data set, they skip (exit 77) and print why.
set(EMBED_TESTS ${CMAKE_CURRENT_SOURCE_DIR}/embed)
add_test(NAME embed_selftest COMMAND ${EMBED_TESTS}/selftest.sh)
add_test(NAME embed_reembed_committed_hh_rlhf COMMAND ${SYSTEM_PYTHON} ${EMBED_TESTS}/reembed.py hh_rlhf)
add_test(NAME embed_reembed_committed_alpaca_eval COMMAND ${SYSTEM_PYTHON} ${EMBED_TESTS}/reembed.py alpaca_eval)
# NICE=0: the self-test runs its node processes at `nice 19` by default (for use beside other
# work); under ctest -j that would let the neighbouring tests starve it.
set_tests_properties(embed_selftest embed_reembed_committed_hh_rlhf embed_reembed_committed_alpaca_eval
  PROPERTIES LABELS "embed;e2e" TIMEOUT 300 SKIP_RETURN_CODE 77 ENVIRONMENT "NICE=0;PYTHON=${SYSTEM_PYTHON}")
