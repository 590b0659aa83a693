/* Family internals shared by src/family*.c and src/train.c. */
#ifndef RMENS_FAMILY_INTERNAL_H
#define RMENS_FAMILY_INTERNAL_H

#include <string.h>

#include "rmens/family.h"

/* Rows [start, start + count) of a scoring pass: the embeddings themselves, or with
 * `items` (flat indices) those rows gathered into X. */
static inline const float *rm_scoring_block(float *X, const float *embeddings, size_t dim, const uint32_t *items,
                                            size_t start, size_t count)
{
    if (!items) return embeddings + start * dim;
    for (size_t i = 0; i < count; i++) memcpy(X + i * dim, embeddings + (size_t)items[start + i] * dim, dim * sizeof(float));
    return X;
}

/* The MLP's training loop (src/train.c). */
int rm_train_mlp_member(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, int index,
                        MPI_Comm group, rm_member *out, rm_progress_fn progress, void *ctx, rm_train_control *control);
/* Mean and population standard deviation of member m's scores over all train items,
 * into m->score_mean / score_std (collective over group; each rank scores its share). */
int rm_member_standardise_train(rm_member *m, const rm_train_data *data, MPI_Comm group);
/* The same for E members at once: with `unit` (a shared trunk's E-output MLP) one forward
 * scores every head, member e's statistics from column e; unit NULL: E = 1, m's own scores. */
int rm_members_standardise_train(rm_member *m, int E, const rm_mlp *unit, const rm_train_data *data, MPI_Comm group);
/* rm_member_lists, with resample = 0: the training list without ensemble.data's resample
 * (a shared trunk's common list; its heads weigh the entries instead). */
int rm_member_lists_of(const rm_settings *cfg, const rm_pairs *pairs, int index, int resample, uint32_t *train_ids,
                       uint32_t *val_ids);

#endif
