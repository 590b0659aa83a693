# The sanitizer pass (tests/run.sh): tests/sanitizer/keep_modules.c, the dlclose() it preloads
# into every process of that pass so that LeakSanitizer's check at exit does not read the
# module list hundreds of times per rank (~2 s each). A plain shared library, built without
# the sanitizers (they are options of the rmens_* targets only): Python and mpirun load it too.
if(RMENS_SANITIZE)
  add_library(rmens_keep_modules SHARED ${CMAKE_CURRENT_SOURCE_DIR}/sanitizer/keep_modules.c)
  set_target_properties(rmens_keep_modules PROPERTIES OUTPUT_NAME keep_modules PREFIX ""
                        LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
endif()
