/* Matrix products whose every bit is independent of the thread count.
 *
 * OpenBLAS's own threading splits a product differently for each thread count, and its
 * kernels round differently for different sub-problem shapes (seen on AMD EPYC, where
 * OpenBLAS 0.3.21 picks its Haswell kernels: 1 and 2 threads disagree in ~5% of the
 * elements of a 512x160x96 sgemm). A members file promised bitwise identical for any
 * rank count (1 rank with 2 threads against 2 ranks with 1 each) cannot rest on that.
 *
 * fp32 products on AVX-512 builds run on a GEMM of our own (src/tiled_sgemm.c) that
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
 * rm_mlp_set_threads in rmens/model.h). */
#ifndef RMENS_TILED_BLAS_H
#define RMENS_TILED_BLAS_H

#include <cblas.h>
#include <mpi.h>

#define RM_TILE_ROWS 256 /* rows of the output per tile: large enough to keep sgemm at its rate */

/* Threads that run the tiles; also puts OpenBLAS (again) at one thread per call. */
void rm_tiled_set_threads(int threads);
/* This rank's compute threads (rm_threads_per_rank, rmens/base/parallel.h) given to the
 * tiled products (OpenBLAS itself runs one thread per call), so the rank count never
 * changes a single bit of a member. Returns the count. */
int rm_set_blas_threads(MPI_Comm comm, int configured);

/* The tile count for n output rows, and a runner for callers that fuse elementwise work
 * (bias, ReLU) into each tile of a product: run_tile(job, t) for t in [0, n_tiles), over
 * the threads. Tiles must be independent. */
int rm_tiled_count(int n);
int rm_tiled_rows(int n, int tile);
void rm_tiled_run(void (*run_tile)(const void *job, int tile), const void *job, int n_tiles);
/* The same, telling each call which of the rm_tiled_threads() workers runs it (0 = the
 * caller), for tiles that need a buffer of their own. */
void rm_tiled_run_workers(void (*run)(const void *job, int tile, int worker), const void *job, int n_tiles);
int rm_tiled_threads(void);
/* The index in [0, rm_tiled_threads()) of the worker running the current tile (0
 * outside rm_tiled_run): per-worker resources (the bf16 backend's oneDNN streams). */
int rm_tiled_worker(void);

void rm_tiled_sgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int M, int N, int K,
                    float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* What a caller knows about a product's operands, for the own GEMM (NULL: nothing; the
 * other paths and the doubles ignore it):
 *   packed_b  op(B) packed ahead by rm_own_sgemm_pack_b with the same trans_b, N, K;
 *   a_reuse   RM_A_KEEP: keep op(A)'s packing for a later product with the same A;
 *             RM_A_AGAIN: A (pointer, shape and values) is the one of the last RM_A_KEEP
 *             product, whose packing is used if it is still there (repacked otherwise). */
enum { RM_A_NONE, RM_A_KEEP, RM_A_AGAIN };
typedef struct {
    const float *packed_b;
    int a_reuse;
} rm_gemm_hints;

/* A product with its elementwise epilogue fused: C (M,N) = (bias ? bias[j] : beta C) +
 * op(A) op(B), then C = max(C, 0) if relu (a NaN stays), then C = 0 where gate (M,N,
 * leading dimension ldg) <= 0 if gate (the ReLU's backward). Row-major. */
void rm_tiled_sgemm_ep(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int M, int N, int K, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc, const float *bias, int relu,
                       const float *gate, int ldg, const rm_gemm_hints *hints);
void rm_tiled_dgemm_ep(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int M, int N, int K, const double *A, int lda,
                       const double *B, int ldb, double beta, double *C, int ldc, const double *bias, int relu,
                       const double *gate, int ldg, const rm_gemm_hints *hints);

/* The fp32 GEMM of src/tiled_sgemm.c (AVX-512 builds): every element of C is computed by
 * the same instructions wherever it falls in the product and whoever computes it, so the
 * work is split over the threads freely and the packed operands are shared. Returns 0
 * when it did the product, -1 when the caller must (no AVX-512, alpha != 1, K = 0). */
/* What runs the fp32 products: "rmens avx512 sgemm" (this GEMM) or "openblas sgemm". */
const char *rm_own_sgemm_name(void);
int rm_own_sgemm(CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int M, int N, int K, float alpha, const float *A,
                 int lda, const float *B, int ldb, float beta, float *C, int ldc, const float *bias, int relu,
                 const float *gate, int ldg, const rm_gemm_hints *hints);
/* op(B) (K,N) packed once for many products with it (a model's weights while it scores):
 * the floats it takes (0: no own GEMM in this build), and the packing into a 64-byte
 * aligned buffer of that size (-1: not done). */
size_t rm_own_sgemm_packed_b_size(int N, int K);
int rm_own_sgemm_pack_b(CBLAS_TRANSPOSE trans_b, int N, int K, const float *B, int ldb, float *packed);

void rm_tiled_dgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE trans_a, CBLAS_TRANSPOSE trans_b, int M, int N, int K,
                    double alpha, const double *A, int lda, const double *B, int ldb, double beta, double *C, int ldc);
void rm_tiled_sgemv(CBLAS_ORDER order, CBLAS_TRANSPOSE trans, int M, int N, float alpha, const float *A, int lda,
                    const float *x, int incx, float beta, float *y, int incy);
void rm_tiled_dgemv(CBLAS_ORDER order, CBLAS_TRANSPOSE trans, int M, int N, double alpha, const double *A, int lda,
                    const double *x, int incx, double beta, double *y, int incy);

#endif
