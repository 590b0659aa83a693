# Reliability (issue 8): the bad-input table across verbs.
rmens_script_test(bad_inputs ${CMAKE_CURRENT_SOURCE_DIR}/reliability/bad_inputs.py)
set_tests_properties(bad_inputs PROPERTIES LABELS "e2e;reliability")
rmens_script_test(kill_resume ${CMAKE_CURRENT_SOURCE_DIR}/reliability/kill_resume.sh)
rmens_script_test(kill_resume_bf16 ${CMAKE_CURRENT_SOURCE_DIR}/reliability/kill_resume.sh bf16)
set_tests_properties(kill_resume PROPERTIES LABELS "e2e;reliability;mpi")
# Not in the sanitizer pass (label mpi): the fp32 run covers the checkpoint code there.
set_tests_properties(kill_resume_bf16 PROPERTIES LABELS "e2e;reliability")
# Two runs on one output directory (issue 18): the run directory's lock.
rmens_script_test(concurrent_runs ${CMAKE_CURRENT_SOURCE_DIR}/reliability/concurrent_runs.sh)
set_property(TEST concurrent_runs APPEND PROPERTY LABELS "reliability;mpi")
# Full disks (issue 18): every verb on a small tmpfs in a private mount namespace (root).
rmens_script_test(full_disk ${CMAKE_CURRENT_SOURCE_DIR}/reliability/full_disk.sh)
set_property(TEST full_disk APPEND PROPERTY LABELS "reliability")
# A rank killed mid-job (issue 18): train, eval, active on 2, 3, 4 ranks, 5 points each.
rmens_script_test(kill_rank ${CMAKE_CURRENT_SOURCE_DIR}/reliability/kill_rank.sh)
set_property(TEST kill_rank APPEND PROPERTY LABELS "reliability;mpi")
# Ctrl-C without mpirun (issue 30): one SIGINT checkpoints (exit 75) and --resume is bitwise
# the uninterrupted run; a second SIGINT ends at once. Timed: RUN_SERIAL (tests/CMakeLists.txt).
rmens_script_test(interrupt ${CMAKE_CURRENT_SOURCE_DIR}/reliability/interrupt.sh)
set_tests_properties(interrupt PROPERTIES LABELS "e2e;reliability")
# Progress (issue 30): <output>/log.jsonl against members.h5 and active.json (1 and 2 ranks,
# trees, shared trunk, active), the whole rank's ETA and round 0's line.
rmens_script_test(progress_log ${CMAKE_CURRENT_SOURCE_DIR}/reliability/progress_log.sh)
set_property(TEST progress_log APPEND PROPERTY LABELS "reliability;mpi")
# Progress lines and --quiet (issue 30): synth, import and eval print throttled progress
# lines with an ETA (RMENS_PROGRESS_SECONDS sets the period); -q keeps the summary, warnings
# and errors alone, and changes no output file.
rmens_script_test(progress_quiet ${CMAKE_CURRENT_SOURCE_DIR}/reliability/progress_quiet.sh)
set_property(TEST progress_quiet APPEND PROPERTY LABELS "reliability;mpi")
