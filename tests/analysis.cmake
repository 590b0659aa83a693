# Analysis of one run: analysis/plot_run.py on a real small `rmens run` (2 ranks) writes the
# four figures (six with pairs_test: the risk-coverage curve and reliability diagram on human labels) as non-empty PNGs of the expected pixel size, and on older results (fields
# deleted) skips what it cannot draw with a note, writing the others; ensemble_size.png's error
# bars are each aggregator's std_over_subsets.
rmens_script_test(analysis_plot_run ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/analysis/test_plot_run.py)
set_tests_properties(analysis_plot_run PROPERTIES LABELS "e2e;mpi;analysis")

# Campaign CSVs with human-labelled test pairs (issue 29): analysis/merge.py's pairs_* columns
# in campaign.csv and ablation.csv from a real run's results.json "pairs_test" (fixture
# tests/analysis/pairs_results.json) beside a run without; ablation.csv's <figure>_std columns
# (std over the ablation's subsets) and plots.py's error bars from them; analysis/report.py's
# pairs table; a campaign without pairs runs keeps its columns. No rmens needed.
add_test(NAME analysis_merge_pairs COMMAND ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/analysis/test_merge_pairs.py)
set_tests_properties(analysis_merge_pairs PROPERTIES LABELS "analysis" TIMEOUT 300
  ENVIRONMENT "SRCDIR=${CMAKE_SOURCE_DIR};MPLBACKEND=Agg")

# The rmens Python package (issue 30): analysis/ pip-installed (offline, --target) into a
# temporary directory; its load_members reproduce results.h5 /predictions (MLP, tree member
# when rmens has XGBoost, shared-trunk heads, model.inputs) to 1e-5; load_results, Store
# (views, pairs) and `python3 -m rmens.plot_run` on real small runs.
rmens_script_test(analysis_package ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/analysis/test_package.py
                  $<BOOL:${RMENS_HAVE_XGBOOST}>)
set_tests_properties(analysis_package PROPERTIES LABELS "e2e;mpi;analysis;python" TIMEOUT 300)
