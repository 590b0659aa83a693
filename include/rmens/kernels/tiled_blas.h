/* Matrix products whose every bit is independent of the thread count.
 *
 * OpenBLAS's own threading splits a product differently for each thread count, and its
 * kernels round differently for different sub-problem shapes (seen on AMD EPYC, where
 * OpenBLAS 0.3.21 picks its Haswell kernels: 1 and 2 threads disagree in ~5% of the
 * elements of a 512x160x96 sgemm). A members file promised bitwise identical for any
 * rank count (1 rank with 2 threads against 2 ranks with 1 each) cannot rest on that.
 *
 * fp32 products on AVX-512 builds run on a GEMM of our own (src/kernels/tiled_sgemm.c) that
 * computes every element with the same instructions wherever it falls in the product,
 * so the threads split the work freely and share the packed operands; with OpenBLAS
 * under tiles, each tile re-packed the whole shared operand, and on AVX-512 (multiply-adds
 * twice as fast as on AVX2) that packing held training at 0.85 of the sgemm limit.
 *
 * Everywhere else (no AVX-512, the doubles of the gradient tests, GEMVs) OpenBLAS runs
 * single-threaded under tiles of a fixed number of output rows (output columns for the
 * GEMVs with a transposed matrix): the tiles depend only on the problem's shape, the
 * threads merely decide who computes which tile, so the result is the same for any count.
 *
 * The threads are a pool started once (rm_tiled_run). Same signatures as cblas_?gemm /
 * cblas_?gemv; row-major only. Internal to rmens_core (the public switch is
 * rm_set_blas_threads in rmens/kernels/thread_pool.h). */
#ifndef RMENS_TILED_BLAS_H
#define RMENS_TILED_BLAS_H

#include <cblas.h>

#include "rmens/kernels/thread_pool.h"
#include "rmens/kernels/tiled_sgemm.h"

void rm_tiled_sgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int M, int N, int K,
                    float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* A product with its elementwise epilogue fused: C (M,N) = (bias ? bias[j] : beta C) +
 * op(A) op(B), then C = max(C, 0) if relu (a NaN stays), then C = 0 where gate (M,N,
 * leading dimension ldg) <= 0 if gate (the ReLU's backward). Row-major. */
void rm_tiled_sgemm_ep(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int M, int N, int K, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc, const float *bias, int relu,
                       const float *gate, int ldg, const rm_gemm_hints *hints);
void rm_tiled_dgemm_ep(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int M, int N, int K, const double *A, int lda,
                       const double *B, int ldb, double beta, double *C, int ldc, const double *bias, int relu,
                       const double *gate, int ldg, const rm_gemm_hints *hints);

void rm_tiled_dgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int M, int N, int K,
                    double alpha, const double *A, int lda, const double *B, int ldb, double beta, double *C, int ldc);
void rm_tiled_sgemv(CBLAS_ORDER order, CBLAS_TRANSPOSE trans, int M, int N, float alpha, const float *A, int lda,
                    const float *x, int incx, float beta, float *y, int incy);
void rm_tiled_dgemv(CBLAS_ORDER order, CBLAS_TRANSPOSE trans, int M, int N, double alpha, const double *A, int lda,
                    const double *x, int incx, double beta, double *y, int incy);

#endif
