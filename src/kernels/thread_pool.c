/* The pool of compute threads (see include/rmens/kernels/thread_pool.h). */
#include "rmens/kernels/thread_pool.h"

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

int rm_tiled_worker(void) { return current_worker; }

int rm_set_blas_threads(MPI_Comm comm, int configured)
{
    int threads = rm_threads_per_rank(comm, configured);
    rm_tiled_set_threads(threads);
    return threads;
}
