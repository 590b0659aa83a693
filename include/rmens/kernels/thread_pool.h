/* The compute threads of a rank: a pool started once that runs the tiles of a product
 * (src/kernels/thread_pool.c). Who computes a tile never changes its bits, so the thread
 * count never changes a result (rmens/kernels/tiled_blas.h says how the products keep
 * that promise). */
#ifndef RMENS_KERNELS_THREAD_POOL_H
#define RMENS_KERNELS_THREAD_POOL_H

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

#endif
