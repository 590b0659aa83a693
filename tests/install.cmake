# Installing rmens (issue 30): `cmake --install` of this build into a temporary prefix, then
# the installed tree alone: the demo from another directory, the man pages render, the bash
# completion offers the verbs, options and keys the binary has, --version names a commit and
# CITATION.cff the same version; and --print-config's output loads to the same settings.
rmens_script_test(install_tree ${CMAKE_CURRENT_SOURCE_DIR}/install/install_tree.sh)
set_property(TEST install_tree APPEND PROPERTY ENVIRONMENT
  "CMAKE_COMMAND=${CMAKE_COMMAND};BUILD_DIR=${CMAKE_BINARY_DIR};RMENS_PROJECT_VERSION=${PROJECT_VERSION};RMENS_DOCS=${RMENS_DOCS}")
rmens_script_test(install_print_config ${CMAKE_CURRENT_SOURCE_DIR}/install/print_config.sh)
set_tests_properties(install_tree install_print_config PROPERTIES LABELS "e2e;install")
