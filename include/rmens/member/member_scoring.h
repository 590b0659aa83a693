/* Scoring members of any family through their family's operations, and a member's
 * standardisation over the train responses (src/member/member_scoring.c). */
#ifndef RMENS_MEMBER_MEMBER_SCORING_H
#define RMENS_MEMBER_MEMBER_SCORING_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "rmens/member/member.h"
#include "rmens/model/model.h"

/* A scorer for blocks of up to `capacity` rows of member m (m->family's scorer). */
int rm_member_scorer_create(rm_member_scorer *s, const rm_member *m, int capacity);
int rm_member_scorer_score(rm_member_scorer *s, const float *X, rm_mlp_input *in, int B, float *raw);
void rm_member_scorer_free(rm_member_scorer *s);

/* Score n items (flat indices, or rows 0..n-1 when items == NULL) of `embeddings` with
 * member m into scores[n], in blocks. Local. */
int rm_member_score_items(const rm_member *m, const float *embeddings, size_t dim, const uint32_t *items, size_t n,
                          float *scores);

/* Mean and population standard deviation of member m's scores over the train items, into
 * m->score_mean / score_std (collective over group; each rank scores its share): all N x K
 * of them (sample = 0, or >= N x K), or `sample` of them evenly spaced over the split
 * (item floor(j N K / sample) for j < sample: no random draw, the same items for every
 * member; train.standardise_responses). */
int rm_member_standardise_train(rm_member *m, const rm_train_data *data, size_t sample, MPI_Comm group);
/* The standardisation's items: 0 when it reads all n_items (sample 0 or >= n_items);
 * else `sample`, and rm_standardise_item(j) for j < sample is item j of them. */
size_t rm_standardise_items(size_t n_items, size_t sample);
static inline size_t rm_standardise_item(size_t j, size_t n_items, size_t sample)
{
    return (size_t)((unsigned __int128)j * n_items / sample);
}
/* The same for E members at once: with `unit` (a shared trunk's E-output MLP) one forward
 * scores every head, member e's statistics from column e; unit NULL: E = 1, m's own scores. */
int rm_members_standardise_train(rm_member *m, int E, const rm_mlp *unit, const rm_train_data *data, size_t sample,
                                 MPI_Comm group);

#endif
