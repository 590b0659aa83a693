# The layering (ARCHITECTURE.md; issue 27). The build itself refuses an upward #include
# (each layer compiles against a folder holding only its own and lower layers' headers) and
# an upward call (rmens_layer_check_<layer> links the layer's whole archive against the
# layers below). These tests keep both checks honest:
#  - layout_layers: no upward include or call, no cycle between files or between concepts
#    (a header and its source), measured from the sources and the build's object files;
#  - layout_refuses_upward_include: a file that includes an eval header does not compile
#    against the base layer's header folder (and does against the active layer's).
string(REPLACE ";" "," RMENS_LAYER_LIST "${RMENS_LAYERS};cli")
add_test(NAME layout_layers
         COMMAND ${SYSTEM_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/layout/check_layers.py --repo ${CMAKE_SOURCE_DIR}
                 --build ${CMAKE_BINARY_DIR} --layers ${RMENS_LAYER_LIST})
set_tests_properties(layout_layers PROPERTIES LABELS "layout" TIMEOUT 120)
add_test(NAME layout_refuses_upward_include
         COMMAND ${CMAKE_C_COMPILER} -fsyntax-only -I${CMAKE_BINARY_DIR}/layer_include/base
                 ${CMAKE_CURRENT_SOURCE_DIR}/layout/upward_include.c)
set_tests_properties(layout_refuses_upward_include PROPERTIES LABELS "layout" WILL_FAIL TRUE TIMEOUT 60)
# ... and the same file compiles against the active layer's folder (eval is below active):
# the refusal above is the layer rule, not a broken command.
list(TRANSFORM MPI_C_INCLUDE_DIRS PREPEND "-I" OUTPUT_VARIABLE RMENS_MPI_INCLUDE_FLAGS)
add_test(NAME layout_allows_downward_include
         COMMAND ${CMAKE_C_COMPILER} -fsyntax-only -I${CMAKE_BINARY_DIR}/layer_include/active ${RMENS_MPI_INCLUDE_FLAGS}
                 ${CMAKE_CURRENT_SOURCE_DIR}/layout/upward_include.c)
set_tests_properties(layout_allows_downward_include PROPERTIES LABELS "layout" TIMEOUT 60)
