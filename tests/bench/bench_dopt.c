/* The D-optimal greedy selection alone (issue 14): rm_dopt_greedy on a synthetic pool.
 *   mpirun -n P bench_dopt [POOL [H [E [BATCH [PAST]]]]]   (defaults 100000 512 5 1000 0)
 * Every candidate's features are a function of its global index only (a random ReLU layer
 * per member on clustered Gaussian embeddings, x = h(a) - h(b), d = x . v), so the picks
 * are the same for any rank count; each rank holds whole RM_DOPT_BLOCKs of the pool, as
 * rmens active. PAST = 1 starts the information from the first BATCH pairs (past_dopt),
 * which are then not eligible. Prints one JSON line on rank 0: the seconds of the greedy
 * selection (slowest rank) and an FNV-1a hash of the picked ids and gains, so that two
 * builds can be compared for identical selections; OUT (a 6th argument): the picks
 * (uint32 id, float64 gain each) written there by rank 0. */
#include <cblas.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/active/active_criteria.h"
#include "rmens/base/common.h"
#include "rmens/eval/eval_accumulate.h"
#include "rmens/eval/eval_calibration.h"
#include "rmens/eval/eval_figures.h"
#include "rmens/eval/eval_plan.h"
#include "rmens/eval/eval_results.h"
#include "rmens/eval/eval_score.h"
#include "rmens/base/parallel.h"
#include "rmens/kernels/tiled_blas.h"
#include "rmens/base/rng.h"

enum { DIM = 64, CLUSTERS = 200 };

/* embedding of response r (2 per pair): its cluster's centre plus noise */
static void embedding(uint64_t r, float *e)
{
    uint64_t c = rm_rand_below(5, 1, r, CLUSTERS);
    for (int k = 0; k < DIM; k++)
        e[k] = (float)(rm_rand_normal(5, 2, c * DIM + (uint64_t)k) + 0.7 * rm_rand_normal(5, 3, r * DIM + (uint64_t)k));
}

/* features x[(m * n + i) * H ..] and score differences d[m * n + i] of global pairs i0 .. i0 + n */
static void make_pool(size_t i0, size_t n, int H, int E, float *x, float *d)
{
    float *w = malloc(sizeof(float) * DIM * H), *v = malloc(sizeof(float) * H);
    float *emb = malloc(sizeof(float) * 2 * n * DIM), *h = malloc(sizeof(float) * 2 * n * H);
    for (size_t i = 0; i < 2 * n; i++) embedding(2 * (i0 + i / 2) + i % 2, emb + i * DIM);
    for (int m = 0; m < E; m++) {
        for (int k = 0; k < DIM * H; k++) w[k] = (float)(rm_rand_normal(6, (uint64_t)m, (uint64_t)k) / sqrt(DIM));
        for (int k = 0; k < H; k++) v[k] = (float)(rm_rand_normal(7, (uint64_t)m, (uint64_t)k) * 0.2);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(2 * n), H, DIM, 1.0f, emb, DIM, w, H, 0.0f, h, H);
        for (size_t i = 0; i < n; i++) {
            double s = 0;
            for (int k = 0; k < H; k++) {
                float a = fmaxf(h[2 * i * H + k], 0.0f), b = fmaxf(h[(2 * i + 1) * H + k], 0.0f);
                x[((size_t)m * n + i) * H + k] = a - b;
                s += (double)(a - b) * v[k];
            }
            d[(size_t)m * n + i] = (float)s;
        }
    }
    free(w), free(v), free(emb), free(h);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const size_t N = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    const int H = argc > 2 ? atoi(argv[2]) : 512, E = argc > 3 ? atoi(argv[3]) : 5;
    const size_t k = argc > 4 ? strtoul(argv[4], NULL, 10) : 1000;
    const int past = argc > 5 ? atoi(argv[5]) : 0;
    const double ridge = 1.0;
    const int threads = rm_set_blas_threads(MPI_COMM_WORLD, getenv("BENCH_DOPT_THREADS") ? atoi(getenv("BENCH_DOPT_THREADS")) : 0); /* as rmens active (0: cores / ranks) */
    size_t b0, b1, n_blocks = (N + RM_DOPT_BLOCK - 1) / RM_DOPT_BLOCK;
    rm_partition(n_blocks, size, rank, &b0, &b1);
    size_t i0 = b0 * RM_DOPT_BLOCK, i1 = b1 * RM_DOPT_BLOCK < N ? b1 * RM_DOPT_BLOCK : N;
    if (i0 > i1) i0 = i1;
    const size_t n = i1 - i0, n_lab = past ? k : 0;
    float *x = malloc(sizeof(float) * E * (n + 1) * H), *d = malloc(sizeof(float) * E * (n + 1));
    float *x_lab = malloc(sizeof(float) * E * (n_lab + 1) * H), *d_lab = malloc(sizeof(float) * E * (n_lab + 1));
    double *w = malloc(sizeof(double) * E * (n + 1)), *w_lab = malloc(sizeof(double) * E * (n_lab + 1));
    double *minv = malloc(sizeof(double) * E * H * H);
    uint32_t *ids = malloc(sizeof(uint32_t) * (n + 1));
    unsigned char *eligible = malloc(n + 1);
    rm_active_pick *picks = malloc(sizeof *picks * k);
    double t0 = rm_now();
    make_pool(i0, n, H, E, x, d);
    if (n_lab) make_pool(0, n_lab, H, E, x_lab, d_lab);
    rm_dopt_weights(d, n, E, n, w);
    rm_dopt_weights(d_lab, n_lab, E, n_lab, w_lab);
    for (size_t i = 0; i < n; i++) ids[i] = (uint32_t)(i0 + i), eligible[i] = i0 + i >= n_lab;
    double t_make = rm_now() - t0;
    MPI_Barrier(MPI_COMM_WORLD);
    t0 = rm_now();
    int rc = rm_dopt_start(E, H, n_lab, x_lab, w_lab, ridge, minv);
    rm_dopt_pool pool = {E, H, n, x, w, ids, eligible, getenv("BENCH_DOPT_EAGER") != NULL};
    if (rc == 0) rc = rm_dopt_greedy(MPI_COMM_WORLD, &pool, minv, k, picks);
    double sec = rm_now() - t0;
    if (rc != 0) {
        fprintf(stderr, "bench_dopt: %s\n", rm_last_error());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Allreduce(MPI_IN_PLACE, &sec, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    uint64_t hash = 1469598103934665603ull;
    for (size_t j = 0; j < k; j++) {
        unsigned char rec[12];
        memcpy(rec, &picks[j].id, 4), memcpy(rec + 4, &picks[j].crit, 8);
        for (int b = 0; b < 12; b++) hash = (hash ^ rec[b]) * 1099511628211ull;
    }
    if (rank == 0)
        printf("{\"threads\": %d, \"pool\": %zu, \"H\": %d, \"E\": %d, \"batch\": %zu, \"past\": %d, \"ranks\": %d, \"make_seconds\": %.2f, "
               "\"select_seconds\": %.3f, \"first\": [%u, %.9g], \"last\": [%u, %.9g], \"hash\": \"%016llx\"}\n",
               threads, N, H, E, k, past, size, t_make, sec, picks[0].id, picks[0].crit, picks[k - 1].id, picks[k - 1].crit,
               (unsigned long long)hash);
    FILE *o = rank == 0 && argc > 6 ? fopen(argv[6], "wb") : NULL;
    for (size_t j = 0; o && j < k; j++) fwrite(&picks[j].id, 4, 1, o), fwrite(&picks[j].crit, 8, 1, o);
    if (o) fclose(o);
    free(x), free(d), free(x_lab), free(d_lab), free(w), free(w_lab), free(minv), free(ids), free(eligible), free(picks);
    MPI_Finalize();
    return 0;
}
