/* rmens's own fp32 GEMM (src/kernels/tiled_sgemm.c, AVX-512 builds), which the tiled
 * products (rmens/kernels/tiled_blas.h) try first. */
#ifndef RMENS_KERNELS_TILED_SGEMM_H
#define RMENS_KERNELS_TILED_SGEMM_H

#include <cblas.h>
#include <stddef.h>

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

/* The fp32 GEMM of src/kernels/tiled_sgemm.c (AVX-512 builds): every element of C is computed by
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

#endif
