/* The rows a member's pairs use, rounded once for bf16 products (see train_rows.h). */
#include "train_rows.h"

#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/kernels/matmul.h"
#include "rmens/kernels/tiled_blas.h"

#define ROWS_PER_PIECE 64 /* rows rounded, or pairs gathered, per piece of work over the threads */

void rm_train_rows_free(rm_train_rows *t)
{
    free(t->table);
    free(t->winner);
    free(t->loser);
    memset(t, 0, sizeof *t);
}

typedef struct {
    const rm_train_rows *t;
    const float *embeddings;
    const uint32_t *item_of_row;
} round_job;

static void round_piece(const void *p, int piece)
{
    const round_job *j = p;
    const size_t dim = j->t->dim, begin = (size_t)piece * ROWS_PER_PIECE;
    const size_t end = j->t->n_rows - begin < ROWS_PER_PIECE ? j->t->n_rows : begin + ROWS_PER_PIECE;
    for (size_t r = begin; r < end; r++)
        rm_lowp_round((char *)j->t->table + r * dim * j->t->elem, j->embeddings + (size_t)j->item_of_row[r] * dim, dim);
}

/* Rows numbered in order of first use by pair 0, 1, ...: winner[i] and loser[i] index them. */
static int number_rows(rm_train_rows *t, const rm_pairs *pairs, size_t n_items, uint32_t **item_of_row)
{
    uint32_t *row_of_item = rm_alloc(n_items, sizeof(uint32_t), "train row index");
    *item_of_row = rm_alloc(2 * pairs->n, sizeof(uint32_t), "train row index");
    t->winner = rm_alloc(pairs->n, sizeof(uint32_t), "train row index");
    t->loser = rm_alloc(pairs->n, sizeof(uint32_t), "train row index");
    if (!row_of_item || !*item_of_row || !t->winner || !t->loser) {
        free(row_of_item);
        return -1;
    }
    memset(row_of_item, 0xff, n_items * sizeof(uint32_t));
    t->n_rows = 0;
    for (size_t i = 0; i < pairs->n; i++) {
        const uint32_t items[2] = {pairs->winner[i], pairs->loser[i]};
        uint32_t *slots[2] = {&t->winner[i], &t->loser[i]};
        for (int s = 0; s < 2; s++) {
            if (row_of_item[items[s]] == UINT32_MAX) {
                row_of_item[items[s]] = (uint32_t)t->n_rows;
                (*item_of_row)[t->n_rows++] = items[s];
            }
            *slots[s] = row_of_item[items[s]];
        }
    }
    free(row_of_item);
    return 0;
}

int rm_train_rows_create(rm_train_rows *t, const rm_mlp *mlp, const rm_train_data *data, const rm_pairs *pairs)
{
    memset(t, 0, sizeof *t);
    if (!rm_mlp_takes_rounded_rows(mlp) || pairs->n == 0 || pairs->n > UINT32_MAX / 2) return 0;
    const size_t n_items = data->n_prompts * data->n_responses;
    t->dim = data->dim;
    t->elem = rm_lowp_size();
    uint32_t *item_of_row = NULL;
    if (number_rows(t, pairs, n_items, &item_of_row) != 0) {
        free(item_of_row);
        rm_train_rows_free(t);
        return -1;
    }
    /* a table larger than the cap (pairs over most of a big split) is not worth its memory:
     * the steps then round the gathered rows as before */
    if (t->n_rows * t->dim > RM_TRAIN_ROWS_MAX_BYTES / t->elem ||
        !(t->table = rm_alloc(t->n_rows * t->dim, t->elem, "rounded train rows"))) {
        rm_error_clear(); /* not an error: the fp32 gather serves */
        free(item_of_row);
        rm_train_rows_free(t);
        return 0;
    }
    round_job job = {t, data->embeddings, item_of_row};
    rm_tiled_run(round_piece, &job, (int)((t->n_rows + ROWS_PER_PIECE - 1) / ROWS_PER_PIECE));
    free(item_of_row);
    return 0;
}

typedef struct {
    char *dst;
    const char *src;
    size_t row_bytes, n;
    const uint32_t *winner, *loser, *ids;
} gather_job;

static void gather_piece(const void *p, int piece)
{
    const gather_job *j = p;
    const size_t row = j->row_bytes, begin = (size_t)piece * ROWS_PER_PIECE;
    const size_t end = j->n - begin < ROWS_PER_PIECE ? j->n : begin + ROWS_PER_PIECE;
    for (size_t i = begin; i < end; i++) {
        memcpy(j->dst + i * row, j->src + (size_t)j->winner[j->ids[i]] * row, row);
        memcpy(j->dst + (j->n + i) * row, j->src + (size_t)j->loser[j->ids[i]] * row, row);
    }
}

void rm_gather_pair_rows(void *dst, const void *src, size_t row_bytes, const uint32_t *winner, const uint32_t *loser,
                         const uint32_t *ids, size_t n)
{
    gather_job job = {dst, src, row_bytes, n, winner, loser, ids};
    rm_tiled_run(gather_piece, &job, (int)((n + ROWS_PER_PIECE - 1) / ROWS_PER_PIECE));
}

void rm_train_rows_gather(const rm_train_rows *t, void *X_low, const uint32_t *ids, size_t n)
{
    rm_gather_pair_rows(X_low, t->table, t->dim * t->elem, t->winner, t->loser, ids, n);
}
