/* The rows a member's pairs use, rounded once for bf16 products (internal to src/member).
 *
 * With model.precision = bf16 the first layer's product reads every minibatch row rounded
 * to bf16. Rounding the gathered fp32 rows at every step cost a pass over 10 240 x 2 048
 * values per step at the reference shapes, plus a gather of twice the bytes; the rows that
 * the pairs refer to are instead rounded once per member into a table of their own, and
 * each step gathers rounded rows from it. Rounding is per value, so the products see the
 * same bits either way. */
#ifndef RMENS_MEMBER_TRAIN_ROWS_H
#define RMENS_MEMBER_TRAIN_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "rmens/member/member.h"
#include "rmens/member/pairs.h"

typedef struct {
    void *table;      /* [n_rows, dim] rounded rows in the backend's form; NULL: gather fp32 */
    uint32_t *winner; /* [pairs->n]: pair i's winner row in table */
    uint32_t *loser;  /* [pairs->n] */
    size_t n_rows, dim, elem;
} rm_train_rows;

/* The table for `pairs` when the model's first product runs in bf16 and the table takes at
 * most RM_TRAIN_ROWS_MAX_BYTES; otherwise t->table stays NULL (the fp32 gather is used).
 * -1 with an error only when memory for the index runs out. */
int rm_train_rows_create(rm_train_rows *t, const rm_mlp *mlp, const rm_train_data *data, const rm_pairs *pairs);
void rm_train_rows_free(rm_train_rows *t);
/* X_low rows [0, n) = the winners of pairs ids[0..n), rows [n, 2n) = their losers. */
void rm_train_rows_gather(const rm_train_rows *t, void *X_low, const uint32_t *ids, size_t n);
/* The gather both forms use: dst rows [0, n) = rows winner[ids[i]] of src, rows [n, 2n) =
 * rows loser[ids[i]], row_bytes each, copied in pieces over the model's threads (8 MB per
 * minibatch at the reference shapes in fp32: alone, it was 3 % of a step at 2 threads). */
void rm_gather_pair_rows(void *dst, const void *src, size_t row_bytes, const uint32_t *winner, const uint32_t *loser,
                         const uint32_t *ids, size_t n);

#define RM_TRAIN_ROWS_MAX_BYTES ((size_t)2 << 30)

#endif
