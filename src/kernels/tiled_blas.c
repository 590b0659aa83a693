/* Thread-count-independent BLAS products (see include/rmens/kernels/tiled_blas.h). */
#include "rmens/kernels/tiled_blas.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

/* GEMM, C (M,N) = alpha op(A) (M,K) op(B) (K,N) + beta C, with the epilogue of
 * rm_tiled_sgemm_ep (bias in place of beta C, then ReLU or the ReLU's backward): tile t is
 * rows [t*RM_TILE_ROWS, ...) of C and the matching rows of op(A) (columns of A if
 * transposed), the epilogue done on the tile while it is in cache. The float products go
 * to rm_own_sgemm first (AVX-512); this is the path of the others, and of the doubles. */
#if defined(__GNUC__) && !defined(__clang__)
#define RM_VECTORISE __attribute__((optimize("tree-vectorize")))
#else
#define RM_VECTORISE
#endif
#define DEFINE_TILED_GEMM(NAME, REAL, GEMM, OWN)                                                              \
    typedef struct {                                                                                         \
        CBLAS_TRANSPOSE ta, tb;                                                                              \
        int M, N, K, lda, ldb, ldc, ldg, relu;                                                               \
        REAL alpha, beta;                                                                                    \
        const REAL *A, *B, *bias, *gate;                                                                     \
        REAL *C;                                                                                             \
    } NAME##_job;                                                                                            \
    RM_VECTORISE static void NAME##_epilogue(REAL *C, int ldc, const REAL *gate, int ldg, int rows, int N,   \
                                             int relu)                                                       \
    {                                                                                                        \
        for (int b = 0; b < rows; b++) {                                                                     \
            REAL *c = C + (size_t)b * ldc;                                                                   \
            /* written so that a NaN passes through (as in PyTorch) */                                      \
            if (relu)                                                                                        \
                for (int i = 0; i < N; i++) c[i] = c[i] < 0 ? 0 : c[i];                                      \
            if (gate) {                                                                                      \
                const REAL *g = gate + (size_t)b * ldg;                                                      \
                for (int i = 0; i < N; i++) c[i] = g[i] <= 0 ? 0 : c[i];                                     \
            }                                                                                                \
        }                                                                                                    \
    }                                                                                                        \
    static void NAME##_tile(const void *p, int t)                                                            \
    {                                                                                                        \
        const NAME##_job *j = p;                                                                             \
        size_t r = (size_t)t * RM_TILE_ROWS;                                                                 \
        const int rows = rm_tiled_rows(j->M, t);                                                             \
        const REAL *A = j->ta == CblasNoTrans ? j->A + r * (size_t)j->lda : j->A + r;                       \
        REAL *C = j->C + r * (size_t)j->ldc, beta = j->beta;                                                 \
        if (j->bias) {                                                                                       \
            /* bias first, then accumulate the product onto it (beta = 1): one pass over C */               \
            for (int b = 0; b < rows; b++) memcpy(C + (size_t)b * j->ldc, j->bias, (size_t)j->N * sizeof(REAL)); \
            beta = 1;                                                                                        \
        }                                                                                                    \
        GEMM(CblasRowMajor, j->ta, j->tb, rows, j->N, j->K, j->alpha, A, j->lda, j->B, j->ldb, beta, C, j->ldc); \
        if (j->relu || j->gate)                                                                              \
            NAME##_epilogue(C, j->ldc, j->gate ? j->gate + r * (size_t)j->ldg : NULL, j->ldg, rows, j->N, j->relu); \
    }                                                                                                        \
    static void NAME##_run(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, REAL alpha,          \
                           const REAL *A, int lda, const REAL *B, int ldb, REAL beta, REAL *C, int ldc,      \
                           const REAL *bias, int relu, const REAL *gate, int ldg, const rm_gemm_hints *hints) \
    {                                                                                                        \
        if (OWN(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, relu, gate, ldg, hints) == 0)    \
            return;                                                                                          \
        NAME##_job job = {ta, tb, M, N, K, lda, ldb, ldc, ldg, relu, alpha, beta, A, B, bias, gate, C};      \
        rm_tiled_run(NAME##_tile, &job, rm_tiled_count(M));                                                  \
    }                                                                                                        \
    void NAME(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, REAL alpha,    \
              const REAL *A, int lda, const REAL *B, int ldb, REAL beta, REAL *C, int ldc)                   \
    {                                                                                                        \
        assert(order == CblasRowMajor);                                                                      \
        (void)order;                                                                                         \
        NAME##_run(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL, 0, NULL, 0, NULL);            \
    }                                                                                                        \
    void NAME##_ep(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, const REAL *A, int lda,      \
                   const REAL *B, int ldb, REAL beta, REAL *C, int ldc, const REAL *bias, int relu,          \
                   const REAL *gate, int ldg, const rm_gemm_hints *hints)                                    \
    {                                                                                                        \
        NAME##_run(ta, tb, M, N, K, 1, A, lda, B, ldb, beta, C, ldc, bias, relu, gate, ldg, hints);          \
    }

/* doubles never take the own path */
static int no_own_dgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, double alpha, const double *A,
                        int lda, const double *B, int ldb, double beta, double *C, int ldc, const double *bias,
                        int relu, const double *gate, int ldg, const rm_gemm_hints *hints)
{
    (void)ta; (void)tb; (void)M; (void)N; (void)K; (void)alpha; (void)A; (void)lda; (void)B; (void)ldb;
    (void)beta; (void)C; (void)ldc; (void)bias; (void)relu; (void)gate; (void)ldg; (void)hints;
    return -1;
}

/* GEMV, y = alpha op(A) x + beta y, A (M,N): tile t is a range of y's elements, i.e.
 * rows of A (no transpose) or columns of A (transposed: each tile a narrower matrix). */
#define DEFINE_TILED_GEMV(NAME, REAL, GEMV)                                                                   \
    typedef struct {                                                                                         \
        CBLAS_TRANSPOSE trans;                                                                               \
        int M, N, lda, incx, incy;                                                                           \
        REAL alpha, beta;                                                                                    \
        const REAL *A, *x;                                                                                   \
        REAL *y;                                                                                             \
    } NAME##_job;                                                                                            \
    static void NAME##_tile(const void *p, int t)                                                            \
    {                                                                                                        \
        const NAME##_job *j = p;                                                                             \
        size_t r = (size_t)t * RM_TILE_ROWS;                                                                 \
        REAL *y = j->y + r * (size_t)j->incy;                                                                \
        if (j->trans == CblasNoTrans)                                                                        \
            GEMV(CblasRowMajor, CblasNoTrans, rm_tiled_rows(j->M, t), j->N, j->alpha, j->A + r * (size_t)j->lda,  \
                 j->lda, j->x, j->incx, j->beta, y, j->incy);                                                \
        else                                                                                                 \
            GEMV(CblasRowMajor, CblasTrans, j->M, rm_tiled_rows(j->N, t), j->alpha, j->A + r, j->lda, j->x,       \
                 j->incx, j->beta, y, j->incy);                                                              \
    }                                                                                                        \
    void NAME(CBLAS_ORDER order, CBLAS_TRANSPOSE trans, int M, int N, REAL alpha, const REAL *A, int lda,    \
              const REAL *x, int incx, REAL beta, REAL *y, int incy)                                         \
    {                                                                                                        \
        assert(order == CblasRowMajor);                                                                      \
        (void)order;                                                                                         \
        NAME##_job job = {trans, M, N, lda, incx, incy, alpha, beta, A, x, y};                               \
        rm_tiled_run(NAME##_tile, &job, rm_tiled_count(trans == CblasNoTrans ? M : N));                               \
    }

DEFINE_TILED_GEMM(rm_tiled_sgemm, float, cblas_sgemm, rm_own_sgemm)
DEFINE_TILED_GEMM(rm_tiled_dgemm, double, cblas_dgemm, no_own_dgemm)
DEFINE_TILED_GEMV(rm_tiled_sgemv, float, cblas_sgemv)
DEFINE_TILED_GEMV(rm_tiled_dgemv, double, cblas_dgemv)
