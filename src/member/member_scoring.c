/* Scoring members of any family, and their standardisation over the train responses
 * (include/rmens/member/member_scoring.h). */
#include "rmens/member/member_scoring.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "member_internal.h"
#include "rmens/base/common.h"
#include "rmens/base/parallel.h"
#include "rmens/member/family_mlp.h"

/* Rows scored per call when scoring a list of items (as in training's standardisation). */
#define ITEM_BLOCK_ROWS 1024

/* Standardisation over all N*K train responses: each rank scores a contiguous share,
 * then mean and (population) standard deviation in two passes from the group totals. */
int rm_member_standardise_train(rm_member *out, const rm_train_data *data, size_t sample, MPI_Comm group)
{
    return rm_members_standardise_train(out, 1, NULL, data, sample, group);
}

size_t rm_standardise_items(size_t n_items, size_t sample)
{
    return sample > 0 && sample < n_items && n_items <= UINT32_MAX ? sample : 0;
}

/* The evenly spaced sample's items: floor(j n / sample), j < sample (increasing, distinct). */
static uint32_t *sample_items(size_t n_items, size_t sample)
{
    uint32_t *items = rm_alloc(sample, sizeof(uint32_t), "standardisation sample");
    for (size_t j = 0; items && j < sample; j++) items[j] = (uint32_t)rm_standardise_item(j, n_items, sample);
    return items;
}

int rm_members_standardise_train(rm_member *out, int E, const rm_mlp *unit, const rm_train_data *data, size_t sample,
                                 MPI_Comm group)
{
    const int index = out[0].index;
    int rank = 0, size = 1;
    MPI_Comm_rank(group, &rank);
    MPI_Comm_size(group, &size);
    /* a contiguous share of the items (of the sample's items) per rank */
    size_t n_items = data->n_prompts * data->n_responses;
    uint32_t *items = NULL;
    int status = 0;
    if (rm_standardise_items(n_items, sample) > 0) {
        status = (items = sample_items(n_items, sample)) ? 0 : -1;
        n_items = sample;
    }
    size_t lo, hi;
    rm_partition_floor(n_items, size, rank, &lo, &hi);
    if (status == 0 && data->loaded)
        status = items ? rm_train_data_require(data, items + lo, hi - lo, "standardisation")
                       : rm_errorf("standardisation over all train responses: only some were read (an internal error)");
    const size_t n = hi - lo, cols = (size_t)E;
    float *local = rm_alloc(n * cols, sizeof(float), "standardisation scores");
    double *sums = rm_calloc(2 * cols, sizeof(double), "standardisation sums"), *squares = sums + cols;
    const float *rows = items ? data->embeddings : data->embeddings + lo * data->dim;
    const uint32_t *mine = items ? items + lo : NULL;
    if (!local || !sums || status != 0) status = -1;
    else if (unit ? rm_member_score(unit, rows, data->dim, mine, n, local) != 0
                  : rm_member_score_items(out, rows, data->dim, mine, n, local) != 0)
        status = rm_error_context("member %d: scoring the train responses", index);
    free(items);
    if (size > 1 ? rm_all_ok(group, status) != 0 : status != 0) {
        free(local);
        free(sums);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t e = 0; e < cols; e++) sums[e] += local[i * cols + e];
    if (size > 1 && MPI_Allreduce(MPI_IN_PLACE, sums, E, MPI_DOUBLE, MPI_SUM, group) != MPI_SUCCESS)
        status = rm_errorf("member %d: MPI_Allreduce of the score sum failed", index);
    for (size_t i = 0; i < n; i++)
        for (size_t e = 0; e < cols; e++) {
            double d = (double)local[i * cols + e] - sums[e] / (double)n_items;
            squares[e] += d * d;
        }
    free(local);
    if (status == 0 && size > 1 && MPI_Allreduce(MPI_IN_PLACE, squares, E, MPI_DOUBLE, MPI_SUM, group) != MPI_SUCCESS)
        status = rm_errorf("member %d: MPI_Allreduce of the score variance failed", index);
    for (int e = 0; e < E && status == 0; e++) {
        out[e].score_mean = sums[e] / (double)n_items;
        out[e].score_std = sqrt(squares[e] / (double)n_items);
        if (!isfinite(out[e].score_mean) || !isfinite(out[e].score_std))
            status = rm_errorf("member %d: scores of the train responses are not finite (mean %g)", out[e].index,
                               out[e].score_mean);
    }
    free(sums);
    return status;
}

int rm_member_scorer_create(rm_member_scorer *s, const rm_member *m, int capacity)
{
    memset(s, 0, sizeof *s);
    s->member = m;
    return rm_member_family(m)->scorer_create(s, m, capacity);
}

int rm_member_scorer_score(rm_member_scorer *s, const float *X, rm_mlp_input *in, int B, float *raw)
{
    return rm_member_family(s->member)->score(s, X, in, B, raw);
}

void rm_member_scorer_free(rm_member_scorer *s)
{
    if (s->member) rm_member_family(s->member)->scorer_free(s);
    memset(s, 0, sizeof *s);
}

int rm_member_score_items(const rm_member *m, const float *embeddings, size_t dim, const uint32_t *items, size_t n,
                          float *scores)
{
    if (rm_member_family(m) == &rm_family_mlp) /* the MLP's own path, bit for bit as before */
        return rm_member_score(&m->mlp, embeddings, dim, items, n, scores);
    if (n == 0) return 0;
    int rows = n < ITEM_BLOCK_ROWS ? (int)n : ITEM_BLOCK_ROWS;
    rm_member_scorer sc;
    float *X = items ? rm_alloc((size_t)rows * dim, sizeof(float), "scoring rows") : NULL;
    int rc = items && !X ? -1 : rm_member_scorer_create(&sc, m, rows);
    if (rc != 0) {
        free(X);
        return rm_error_context("scoring member %d", m->index);
    }
    for (size_t start = 0; start < n && rc == 0; start += (size_t)rows) {
        size_t count = n - start < (size_t)rows ? n - start : (size_t)rows;
        const float *block = rm_scoring_block(X, embeddings, dim, items, start, count);
        rc = rm_member_scorer_score(&sc, block, NULL, (int)count, scores + start);
    }
    rm_member_scorer_free(&sc);
    free(X);
    return rc;
}
