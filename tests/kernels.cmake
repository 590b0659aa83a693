# Kernels layer (src/kernels): the model's products and the store's checksum.
# The tiled GEMM (src/kernels/tiled_sgemm.c) against a double reference, 1-3 threads.
rmens_unit_test(test_tiled_sgemm ${CMAKE_CURRENT_SOURCE_DIR}/kernels/test_tiled_sgemm.c model)
# src/kernels/fletcher32.c (the checksum the store's direct chunk reads verify) against HDF5's own.
rmens_unit_test(store_fletcher32 ${CMAKE_CURRENT_SOURCE_DIR}/kernels/test_fletcher32.c store)
