/* Preference pairs from the train split and the simulated Bradley-Terry annotator.
 *
 * An item is a (prompt, response) of the train split, addressed by its flat index
 * p * K + k. Pairs and labels depend only on (seed, pair index): identical on any
 * number of ranks. */
#ifndef RMENS_PAIRS_H
#define RMENS_PAIRS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t n;              /* all pairs */
    uint32_t *winner;      /* [n] flat item index of the item the annotator preferred */
    uint32_t *loser;       /* [n] */
    size_t n_train;        /* the first n_train entries of `order` are training pairs */
    uint32_t *order;       /* [n] permutation: order[0..n_train) train, the rest validation */
    double label_agreement;/* fraction of (non-tied) pairs whose label agrees with the golden order */
    double reward_scale;   /* s: standard deviation of all train golden rewards */
} rm_pairs;

/* mode "cross_prompt" | "within_prompt"; beta < 0: perfect annotator. rewards[N*K]. */
int rm_pairs_build(rm_pairs *p, const float *rewards, size_t n_prompts, size_t n_responses,
                   const char *mode, size_t count, double beta, double val_fraction, uint64_t seed);
void rm_pairs_free(rm_pairs *p);

#endif
