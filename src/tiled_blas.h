/* Matrix products whose every bit is independent of the thread count.
 *
 * OpenBLAS's own threading splits a product differently for each thread count, and its
 * kernels round differently for different sub-problem shapes (seen on AMD EPYC, where
 * OpenBLAS 0.3.21 picks its Haswell kernels: 1 and 2 threads disagree in ~5% of the
 * elements of a 512x160x96 sgemm). A members file promised bitwise identical for any
 * rank count (1 rank with 2 threads against 2 ranks with 1 each) cannot rest on that.
 *
 * So OpenBLAS always runs single-threaded here, and each product is cut into tiles of
 * a fixed number of output rows (output columns for the GEMVs with a transposed
 * matrix). The tiles depend only on the problem's shape; the threads merely decide who
 * computes which tile, so the result is the same for any count. Measured at the
 * reference shapes, 2 threads over 256-row tiles run as fast as OpenBLAS's 2 threads.
 *
 * Same signatures as cblas_?gemm / cblas_?gemv; row-major only. Internal to rmens_core
 * (the public switch is rm_mlp_set_threads in rmens/model.h). */
#ifndef RMENS_TILED_BLAS_H
#define RMENS_TILED_BLAS_H

#include <cblas.h>

#define RM_TILE_ROWS 256 /* rows of the output per tile: large enough to keep sgemm at its rate */

/* Threads that run the tiles; also puts OpenBLAS (again) at one thread per call. */
void rm_tiled_set_threads(int threads);

/* The tile count for n output rows, and a runner for callers that fuse elementwise work
 * (bias, ReLU) into each tile of a product: run_tile(job, t) for t in [0, n_tiles), over
 * the threads. Tiles must be independent. */
int rm_tiled_count(int n);
int rm_tiled_rows(int n, int tile);
void rm_tiled_run(void (*run_tile)(const void *job, int tile), const void *job, int n_tiles);
/* The thread count, and the index in [0, threads) of the worker running the current tile
 * (0 outside rm_tiled_run): per-worker resources (the bf16 backend's streams). */
int rm_tiled_threads(void);
int rm_tiled_worker(void);

void rm_tiled_sgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int M, int N, int K,
                    float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
void rm_tiled_dgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int M, int N, int K,
                    double alpha, const double *A, int lda, const double *B, int ldb, double beta, double *C, int ldc);
void rm_tiled_sgemv(CBLAS_ORDER order, CBLAS_TRANSPOSE trans, int M, int N, float alpha, const float *A, int lda,
                    const float *x, int incx, float beta, float *y, int incy);
void rm_tiled_dgemv(CBLAS_ORDER order, CBLAS_TRANSPOSE trans, int M, int N, double alpha, const double *A, int lda,
                    const double *x, int incx, double beta, double *y, int incy);

#endif
