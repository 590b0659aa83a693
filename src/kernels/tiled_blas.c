/* Thread-count-independent BLAS products (see src/tiled_blas.h). */
#include "rmens/kernels/tiled_blas.h"

#include "rmens/base/parallel.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* OpenBLAS's own entry point; declared here because cblas.h variants differ. */
void openblas_set_num_threads(int num_threads);

#define RM_MAX_TILE_THREADS 256

static int tile_threads = 1;

/* The tiles' promise needs OpenBLAS single-threaded inside every tile: set on the first
 * product of the process (whoever calls the model) and again with every thread count. */
static pthread_once_t openblas_once = PTHREAD_ONCE_INIT;
static void openblas_single_threaded(void) { openblas_set_num_threads(1); }

void rm_tiled_set_threads(int threads)
{
    tile_threads = threads < 1 ? 1 : threads > RM_MAX_TILE_THREADS ? RM_MAX_TILE_THREADS : threads;
    openblas_single_threaded();
}

/* One product cut into n_tiles independent calls, run by a pool of threads started once
 * (a pthread_create per product and worker cost ~2% of a training step at 2 threads):
 * the caller and tile_threads - 1 helpers take tiles from a shared counter until none is
 * left. Who computes a tile never changes its bits, so the order tiles are taken in is
 * free. A helper waits for the next product spinning briefly (a step's products follow
 * each other within microseconds), then blocked on a condition variable. A call made
 * while the pool is busy (from inside a tile, or another application thread) runs its
 * tiles in the calling thread: same calls, same bits. */
#define POOL_SPINS 4000 /* ~0.1 ms of pause instructions before a helper blocks */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake, idle;
    int started;                 /* helpers running */
    atomic_ulong generation;     /* bumped for every product handed to the helpers */
    void (*run_tile)(const void *, int);           /* one of the two is set */
    void (*run_worker)(const void *, int, int);
    const void *job;
    int n_tiles, helpers;        /* helpers [0, helpers) take part in this product */
    atomic_int next_tile, pending;
    unsigned long start_generation[RM_MAX_TILE_THREADS]; /* a helper's first product comes after this */
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER};
static atomic_flag pool_busy = ATOMIC_FLAG_INIT;

/* The worker index of this thread while it runs tiles (0: the caller, 1.. the helpers);
 * per-worker resources key on it (the bf16 backend's oneDNN streams, rm_tiled_worker). */
static __thread int current_worker;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void take_tiles(void (*run_tile)(const void *, int), void (*run_worker)(const void *, int, int),
                       const void *job, int n_tiles, int worker)
{
    current_worker = worker;
    for (int t; (t = atomic_fetch_add_explicit(&pool.next_tile, 1, memory_order_relaxed)) < n_tiles;) {
        if (run_worker) run_worker(job, t, worker);
        else run_tile(job, t);
    }
}

static void *pool_main(void *arg)
{
    const int id = (int)(intptr_t)arg;
    pthread_mutex_lock(&pool.mu);
    unsigned long seen = pool.start_generation[id];
    pthread_mutex_unlock(&pool.mu);
    for (;;) {
        for (int spin = 0; spin < POOL_SPINS && atomic_load_explicit(&pool.generation, memory_order_acquire) == seen; spin++)
            cpu_relax();
        pthread_mutex_lock(&pool.mu);
        while (atomic_load(&pool.generation) == seen) pthread_cond_wait(&pool.wake, &pool.mu);
        seen = atomic_load(&pool.generation);
        const int mine = id < pool.helpers;
        void (*run_tile)(const void *, int) = pool.run_tile;
        void (*run_worker)(const void *, int, int) = pool.run_worker;
        const void *job = pool.job;
        const int n_tiles = pool.n_tiles;
        pthread_mutex_unlock(&pool.mu);
        if (!mine) continue;
        take_tiles(run_tile, run_worker, job, n_tiles, id + 1);
        if (atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool.mu);
            pthread_cond_signal(&pool.idle);
            pthread_mutex_unlock(&pool.mu);
        }
    }
    return NULL;
}

static void pool_run(void (*run_tile)(const void *, int), void (*run_worker)(const void *, int, int), const void *job,
                     int n_tiles)
{
    if (n_tiles <= 0) return;
    pthread_once(&openblas_once, openblas_single_threaded);
    int helpers = (tile_threads < n_tiles ? tile_threads : n_tiles) - 1;
    if (helpers <= 0 || atomic_flag_test_and_set_explicit(&pool_busy, memory_order_acquire)) {
        /* in this thread, as the worker it already is (a helper's nested call must not
         * take worker 0's resources while the caller uses them) */
        for (int t = 0; t < n_tiles; t++) {
            if (run_worker) run_worker(job, t, current_worker);
            else run_tile(job, t);
        }
        return;
    }
    pthread_mutex_lock(&pool.mu);
    while (pool.started < helpers) {
        pthread_t thread;
        pool.start_generation[pool.started] = atomic_load(&pool.generation);
        if (pthread_create(&thread, NULL, pool_main, (void *)(intptr_t)pool.started) != 0) break;
        pthread_detach(thread);
        pool.started++;
    }
    if (helpers > pool.started) helpers = pool.started; /* fewer helpers than asked: the caller does the rest */
    pool.run_tile = run_tile;
    pool.run_worker = run_worker;
    pool.job = job;
    pool.n_tiles = n_tiles;
    pool.helpers = helpers;
    atomic_store(&pool.next_tile, 0);
    atomic_store(&pool.pending, helpers);
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);

    take_tiles(run_tile, run_worker, job, n_tiles, 0);
    for (int spin = 0; spin < POOL_SPINS && atomic_load_explicit(&pool.pending, memory_order_acquire) > 0; spin++)
        cpu_relax();
    if (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&pool.mu);
        while (atomic_load(&pool.pending) > 0) pthread_cond_wait(&pool.idle, &pool.mu);
        pthread_mutex_unlock(&pool.mu);
    }
    atomic_flag_clear_explicit(&pool_busy, memory_order_release);
}

void rm_tiled_run(void (*run_tile)(const void *, int), const void *job, int n_tiles)
{
    pool_run(run_tile, NULL, job, n_tiles);
}

void rm_tiled_run_workers(void (*run)(const void *job, int tile, int worker), const void *job, int n_tiles)
{
    pool_run(NULL, run, job, n_tiles);
}

int rm_tiled_threads(void) { return tile_threads; }

int rm_tiled_count(int n) { return n <= 0 ? 0 : (n + RM_TILE_ROWS - 1) / RM_TILE_ROWS; }
int rm_tiled_rows(int n, int t) { return n - t * RM_TILE_ROWS < RM_TILE_ROWS ? n - t * RM_TILE_ROWS : RM_TILE_ROWS; }

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

int rm_tiled_worker(void) { return current_worker; }

int rm_set_blas_threads(MPI_Comm comm, int configured)
{
    int threads = rm_threads_per_rank(comm, configured);
    rm_tiled_set_threads(threads);
    return threads;
}
