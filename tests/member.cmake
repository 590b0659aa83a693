# Preference pairs (issue 13): the comparison design and the annotator against numpy,
# built on 1, 2 and 3 MPI ranks by tests/pairs/pairs_dump.c.
add_executable(pairs_dump ${CMAKE_CURRENT_SOURCE_DIR}/pairs/pairs_dump.c)
target_link_libraries(pairs_dump PRIVATE rmens_core)
add_test(NAME pairs_design COMMAND ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/pairs/check_pairs.py
         $<TARGET_FILE:pairs_dump> ${MPIRUN})
set_tests_properties(pairs_design PROPERTIES LABELS "unit;mpi;python" TIMEOUT 300
  ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OPENBLAS_NUM_THREADS=1")
