/* Drive the active-learning criteria on a pool saved by tests/active/check_criteria.py:
 *   criteria_tool IN OUT
 * IN (little-endian): int32 E, n, H, n_lab, k; float64 ridge; float32 d[E][n]; float32
 * x[E][n][H] (member scores' differences and last-layer feature differences). Pairs
 * 0..n_lab-1 count as labelled: not eligible, and past_dopt's starting information.
 * Each rank takes its share of the candidates in blocks of RM_DOPT_BLOCK, as rmens
 * active does; rank 0 writes OUT: for every strategy k picks (uint32 id, float64
 * criterion), then, with one rank, every candidate's pointwise criterion [5][n] and
 * the D-optimal weights [E][n]. The D-optimal picks are checked here against the eager
 * greedy (rm_dopt_pool.eager): the same ids and the same gains, bit for bit. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/parallel.h"
#include "rmens/active/active_criteria.h"
#include "rmens/base/common.h"
#include "rmens/eval/eval_accumulate.h"
#include "rmens/eval/eval_calibration.h"
#include "rmens/eval/eval_figures.h"
#include "rmens/eval/eval_plan.h"
#include "rmens/eval/eval_results.h"
#include "rmens/eval/eval_score.h"

static int read_all(FILE *f, void *p, size_t n, size_t size) { return fread(p, size, n, f) == n ? 0 : -1; }

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc != 3) {
        fprintf(stderr, "usage: criteria_tool IN OUT\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    FILE *f = fopen(argv[1], "rb");
    int hdr[5];
    double ridge;
    if (!f || read_all(f, hdr, 5, sizeof(int)) || read_all(f, &ridge, 1, sizeof ridge)) MPI_Abort(MPI_COMM_WORLD, 2);
    const int E = hdr[0], H = hdr[2];
    const size_t n = (size_t)hdr[1], n_lab = (size_t)hdr[3], k = (size_t)hdr[4];
    float *d = malloc(sizeof(float) * E * n), *x = malloc(sizeof(float) * E * n * H);
    if (!d || !x || read_all(f, d, E * n, sizeof(float)) || read_all(f, x, E * n * H, sizeof(float))) MPI_Abort(MPI_COMM_WORLD, 2);
    fclose(f);

    /* this rank's candidates: whole blocks, as the pool shards of rmens active */
    size_t n_blocks = (n + RM_DOPT_BLOCK - 1) / RM_DOPT_BLOCK, b0, b1;
    rm_partition(n_blocks, size, rank, &b0, &b1);
    size_t i0 = b0 * RM_DOPT_BLOCK, i1 = b1 * RM_DOPT_BLOCK < n ? b1 * RM_DOPT_BLOCK : n;
    if (i0 > i1) i0 = i1;
    const size_t nl = i1 - i0;
    float *dl = malloc(sizeof(float) * E * (nl + 1)), *xl = malloc(sizeof(float) * E * (nl + 1) * H);
    uint32_t *ids = malloc(sizeof(uint32_t) * (nl + 1));
    unsigned char *eligible = malloc(nl + 1);
    double *crit = malloc(sizeof(double) * (nl + 1)), *w = malloc(sizeof(double) * E * (nl + 1));
    double *w_lab = malloc(sizeof(double) * E * (n_lab + 1)), *minv = malloc(sizeof(double) * E * H * H);
    float *x_lab = malloc(sizeof(float) * E * (n_lab + 1) * H);
    rm_active_pick *picks = malloc(sizeof *picks * k * 7);
    for (int m = 0; m < E; m++) {
        memcpy(dl + (size_t)m * nl, d + (size_t)m * n + i0, nl * sizeof(float));
        memcpy(xl + (size_t)m * nl * H, x + ((size_t)m * n + i0) * H, nl * H * sizeof(float));
        memcpy(x_lab + (size_t)m * n_lab * H, x + (size_t)m * n * H, n_lab * H * sizeof(float));
    }
    for (size_t i = 0; i < nl; i++) ids[i] = (uint32_t)(i0 + i), eligible[i] = i0 + i >= n_lab;
    rm_dopt_weights(dl, nl, E, nl, w);
    double *w_all = malloc(sizeof(double) * E * n);
    rm_dopt_weights(d, n, E, n, w_all);
    for (int m = 0; m < E; m++) memcpy(w_lab + (size_t)m * n_lab, w_all + (size_t)m * n, n_lab * sizeof(double));

    int rc = 0;
    for (int s = RM_ACTIVE_RANDOM; s <= RM_ACTIVE_LEVELSET && rc == 0; s++) {
        rm_active_pointwise((rm_active_strategy)s, dl, nl, E, nl, ids, 7, 1, crit);
        rc = rm_active_top(MPI_COMM_WORLD, crit, ids, eligible, nl, k, picks + (size_t)s * k);
    }
    rm_dopt_pool pool = {E, H, nl, xl, w, ids, eligible, 0};
    if (rc == 0) rc = rm_dopt_start(E, H, 0, NULL, NULL, ridge, minv);
    if (rc == 0) rc = rm_dopt_greedy(MPI_COMM_WORLD, &pool, minv, k, picks + 5 * k);
    if (rc == 0) rc = rm_dopt_start(E, H, n_lab, x_lab, w_lab, ridge, minv);
    if (rc == 0) rc = rm_dopt_greedy(MPI_COMM_WORLD, &pool, minv, k, picks + 6 * k);
    /* the lazy greedy against the eager one (every gain after every pick): bit for bit */
    rm_active_pick *eager = malloc(sizeof *eager * (k + 1));
    pool.eager = 1;
    for (int past = 0; past < 2 && rc == 0; past++) {
        rc = rm_dopt_start(E, H, past ? n_lab : 0, x_lab, w_lab, ridge, minv);
        if (rc == 0) rc = rm_dopt_greedy(MPI_COMM_WORLD, &pool, minv, k, eager);
        for (size_t j = 0; rc == 0 && j < k; j++)
            if (eager[j].id != picks[(5 + past) * k + j].id || memcmp(&eager[j].crit, &picks[(5 + past) * k + j].crit, sizeof(double)))
                rc = rm_errorf("%s: lazy pick %zu (%u, %.17g) != eager (%u, %.17g)", past ? "past_dopt" : "dopt", j,
                               picks[(5 + past) * k + j].id, picks[(5 + past) * k + j].crit, eager[j].id, eager[j].crit);
    }
    free(eager);
    if (rc != 0) {
        fprintf(stderr, "criteria_tool: %s\n", rm_last_error());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (rank == 0) {
        FILE *o = fopen(argv[2], "wb");
        if (!o) MPI_Abort(MPI_COMM_WORLD, 2);
        for (size_t i = 0; i < 7 * k; i++) {
            fwrite(&picks[i].id, sizeof(uint32_t), 1, o);
            fwrite(&picks[i].crit, sizeof(double), 1, o);
        }
        if (size == 1) {
            for (int s = RM_ACTIVE_RANDOM; s <= RM_ACTIVE_LEVELSET; s++) {
                rm_active_pointwise((rm_active_strategy)s, d, n, E, n, ids, 7, 1, crit);
                fwrite(crit, sizeof(double), n, o);
            }
            fwrite(w_all, sizeof(double), E * n, o);
        }
        if (fclose(o) != 0) MPI_Abort(MPI_COMM_WORLD, 2);
    }
    free(d), free(x), free(dl), free(xl), free(ids), free(eligible), free(crit), free(w), free(w_lab), free(minv);
    free(x_lab), free(picks), free(w_all);
    MPI_Finalize();
    return 0;
}
