# Human preference pairs (issue 29): pair stores, pairs.source = "store", eval's pairs_test.
# tests/pairs/hh_rlhf.py: the committed hh-rlhf harmless pairs imported and trained with
# configs/pairs.cfg on 1, 2, 3 ranks (bitwise), every pairs_test figure recomputed with numpy
# and scikit-learn (tests/pairs/check_pairs_test.py, which proves itself able to fail with
# --selftest), the mean ensemble against a logistic probe and length alone, label flips,
# refusals.
rmens_script_test(pairs_hh_rlhf ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/pairs/hh_rlhf.py)
set_tests_properties(pairs_hh_rlhf PROPERTIES LABELS "e2e;real" TIMEOUT 600)
rmens_script_test(pairs_check_selftest ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/pairs/check_pairs_test.py --selftest)
set_tests_properties(pairs_check_selftest PROPERTIES LABELS "e2e")
# rmens active on a pool of stored pairs: every strategy rank-invariant (1, 2 ranks) and
# blind to labels it has not selected (a store with every unselected label reversed gives
# the same rounds; the pool's pairs from tests/member/pairs_dump.c), resume after SIGKILL.
rmens_script_test(pairs_active ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/pairs/active_pairs.py $<TARGET_FILE:pairs_dump>)
set_tests_properties(pairs_active PROPERTIES LABELS "e2e;real;mpi" TIMEOUT 600)
