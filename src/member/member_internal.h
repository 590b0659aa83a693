/* Member internals shared by the member layer's files (src/member/). */
#ifndef RMENS_MEMBER_INTERNAL_H
#define RMENS_MEMBER_INTERNAL_H

#include <string.h>

#include "rmens/member/member.h"
#include "rmens/member/pairs.h"

/* Rows [start, start + count) of a scoring pass: the embeddings themselves, or with
 * `items` (flat indices) those rows gathered into X. */
static inline const float *rm_scoring_block(float *X, const float *embeddings, size_t dim, const uint32_t *items,
                                            size_t start, size_t count)
{
    if (!items) return embeddings + start * dim;
    for (size_t i = 0; i < count; i++) memcpy(X + i * dim, embeddings + (size_t)items[start + i] * dim, dim * sizeof(float));
    return X;
}

/* rm_member_lists, with resample = 0: the training list without ensemble.data's resample
 * (a shared trunk's common list; its heads weigh the entries instead). */
int rm_member_lists_of(const rm_settings *cfg, const rm_pairs *pairs, int index, int resample, uint32_t *train_ids,
                       uint32_t *val_ids);

#endif
