/* Thread-count-independent BLAS products (see src/tiled_blas.h). */
#include "tiled_blas.h"

#include <assert.h>
#include <pthread.h>

/* OpenBLAS's own entry point; declared here because cblas.h variants differ. */
void openblas_set_num_threads(int num_threads);

#define RM_MAX_TILE_THREADS 256

static int tile_threads = 1;
static __thread int current_worker; /* index of the worker running this thread's tiles */

/* The tiles' promise needs OpenBLAS single-threaded inside every tile: set on the first
 * product of the process (whoever calls the model) and again with every thread count. */
static pthread_once_t openblas_once = PTHREAD_ONCE_INIT;
static void openblas_single_threaded(void) { openblas_set_num_threads(1); }

void rm_tiled_set_threads(int threads)
{
    tile_threads = threads < 1 ? 1 : threads > RM_MAX_TILE_THREADS ? RM_MAX_TILE_THREADS : threads;
    openblas_single_threaded();
}

/* One product cut into n_tiles independent calls: tile t runs on worker t mod workers.
 * A thread is started per call and per extra worker; at the shapes where there is more
 * than one tile a call takes milliseconds, against tens of microseconds to start one. */
typedef struct {
    void (*run_tile)(const void *job, int tile);
    const void *job;
    int n_tiles, stride, first;
} tile_worker;

static void *tile_worker_main(void *arg)
{
    const tile_worker *w = arg;
    current_worker = w->first;
    for (int t = w->first; t < w->n_tiles; t += w->stride) w->run_tile(w->job, t);
    return NULL;
}

void rm_tiled_run(void (*run_tile)(const void *, int), const void *job, int n_tiles)
{
    if (n_tiles <= 0) return;
    pthread_once(&openblas_once, openblas_single_threaded);
    int workers = tile_threads < n_tiles ? tile_threads : n_tiles;
    pthread_t threads[RM_MAX_TILE_THREADS];
    tile_worker work[RM_MAX_TILE_THREADS] = {{0}};
    int started = 0;
    for (int i = 0; i < workers; i++) work[i] = (tile_worker){run_tile, job, n_tiles, workers, i};
    for (int i = 1; i < workers; i++) {
        if (pthread_create(&threads[i], NULL, tile_worker_main, &work[i]) != 0) break;
        started = i;
    }
    /* Tiles of workers that could not be started run here: same calls, same bits. */
    for (int i = started + 1; i < workers; i++) tile_worker_main(&work[i]);
    tile_worker_main(&work[0]);
    for (int i = 1; i <= started; i++) pthread_join(threads[i], NULL);
    current_worker = 0;
}

int rm_tiled_threads(void) { return tile_threads; }
int rm_tiled_worker(void) { return current_worker; }

int rm_tiled_count(int n) { return n <= 0 ? 0 : (n + RM_TILE_ROWS - 1) / RM_TILE_ROWS; }
int rm_tiled_rows(int n, int t) { return n - t * RM_TILE_ROWS < RM_TILE_ROWS ? n - t * RM_TILE_ROWS : RM_TILE_ROWS; }

/* GEMM, C (M,N) = alpha op(A) (M,K) op(B) (K,N) + beta C: tile t is rows
 * [t*RM_TILE_ROWS, ...) of C and the matching rows of op(A) (columns of A if transposed). */
#define DEFINE_TILED_GEMM(NAME, REAL, GEMM)                                                                   \
    typedef struct {                                                                                         \
        CBLAS_TRANSPOSE ta, tb;                                                                              \
        int M, N, K, lda, ldb, ldc;                                                                          \
        REAL alpha, beta;                                                                                    \
        const REAL *A, *B;                                                                                   \
        REAL *C;                                                                                             \
    } NAME##_job;                                                                                            \
    static void NAME##_tile(const void *p, int t)                                                            \
    {                                                                                                        \
        const NAME##_job *j = p;                                                                             \
        size_t r = (size_t)t * RM_TILE_ROWS;                                                                 \
        const REAL *A = j->ta == CblasNoTrans ? j->A + r * (size_t)j->lda : j->A + r;                       \
        GEMM(CblasRowMajor, j->ta, j->tb, rm_tiled_rows(j->M, t), j->N, j->K, j->alpha, A, j->lda, j->B, j->ldb,  \
             j->beta, j->C + r * (size_t)j->ldc, j->ldc);                                                    \
    }                                                                                                        \
    void NAME(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, REAL alpha,    \
              const REAL *A, int lda, const REAL *B, int ldb, REAL beta, REAL *C, int ldc)                   \
    {                                                                                                        \
        assert(order == CblasRowMajor);                                                                      \
        (void)order;                                                                                         \
        NAME##_job job = {ta, tb, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C};                             \
        rm_tiled_run(NAME##_tile, &job, rm_tiled_count(M));                                                           \
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

DEFINE_TILED_GEMM(rm_tiled_sgemm, float, cblas_sgemm)
DEFINE_TILED_GEMM(rm_tiled_dgemm, double, cblas_dgemm)
DEFINE_TILED_GEMV(rm_tiled_sgemv, float, cblas_sgemv)
DEFINE_TILED_GEMV(rm_tiled_dgemv, double, cblas_dgemv)
