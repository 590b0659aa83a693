# Analysis of one run: analysis/plot_run.py on a real small `rmens run` (2 ranks) writes the
# four figures (six with pairs_test: the risk-coverage curve and reliability diagram on human labels) as non-empty PNGs of the expected pixel size, and on older results (fields
# deleted) skips what it cannot draw with a note, writing the others.
rmens_script_test(analysis_plot_run ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/analysis/test_plot_run.py)
set_tests_properties(analysis_plot_run PROPERTIES LABELS "e2e;mpi;analysis")
