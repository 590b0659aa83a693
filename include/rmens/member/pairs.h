/* Preference pairs from the train split: which items are compared (the comparison
 * design) and their labels (rmens/member/annotator.h).
 *
 * An item is a (prompt, response) of the train split, addressed by its flat index
 * p * K + k. Pairs and labels depend only on (seed, pair index): identical on any
 * number of ranks, and a larger pairs.count leaves the first pairs unchanged.
 *
 * The design (pairs.* keys):
 *  - candidates: the responses of a prompt that may be compared. "all"; "random_two": two
 *    responses fixed per prompt, drawn from RM_STREAM_CANDIDATES; "middle_two": positions
 *    floor(K/2) - 1 and floor(K/2) of the prompt's golden order (ascending, ties by
 *    response index; 4 and 5 of 10); "extremes": positions 0 and K - 1 (worst and best).
 *  - sampling "items": pair i draws its items independently (RM_STREAM_PAIRS, counters
 *    3i..3i+2). cross_prompt: two distinct candidate items of the whole split;
 *    within_prompt: a prompt, then two distinct candidates of it.
 *  - sampling "prompts": count / per_prompt distinct prompts, the first of one permutation
 *    of all prompts (RM_STREAM_PROMPT_ORDER), per_prompt pairs each (pairs j*per_prompt ..
 *    (j+1)*per_prompt - 1 belong to the j-th prompt), never the same unordered pair twice
 *    in a prompt. within_prompt: distinct pairs of its candidates (a partial shuffle of
 *    the C(c, 2) pairs); cross_prompt: a candidate of the prompt against a candidate of
 *    another prompt, redrawn while it repeats (RM_STREAM_PROMPT_PAIRS). */
#ifndef RMENS_PAIRS_H
#define RMENS_PAIRS_H

#include <stddef.h>
#include <stdint.h>

#include "rmens/member/annotator.h"
#include "rmens/base/config.h"

typedef struct {
    const char *mode;       /* "cross_prompt" | "within_prompt" */
    const char *sampling;   /* "items" | "prompts" */
    const char *candidates; /* "all" | "random_two" | "middle_two" | "extremes" */
    size_t count;           /* all pairs, train + validation */
    size_t per_prompt;      /* sampling = "prompts" */
    double val_fraction;
    uint64_t seed;
} rm_pairs_design;

typedef struct {
    size_t n;              /* all pairs */
    uint32_t *winner;      /* [n] flat item index of the item the annotator preferred */
    uint32_t *loser;       /* [n] */
    size_t n_train;        /* the first n_train entries of `order` are training pairs */
    uint32_t *order;       /* [n] permutation: order[0..n_train) train, the rest validation */
    double label_agreement;/* fraction of (non-tied) pairs whose label agrees with the golden order */
    double label_flip_rate;/* fraction of labels the flip step reversed */
    double reward_scale;   /* s of the annotator */
} rm_pairs;

/* The design of cfg (pairs.*, train.val_fraction, seed); the strings point into cfg. */
void rm_pairs_design_from_settings(rm_pairs_design *d, const rm_settings *cfg);

/* Build the pairs of design d on the train split (rewards[N*K]) labelled by annotator a.
 * Errors name the key: an unknown mode, sampling or candidate set, more prompts or
 * distinct pairs per prompt than the split has, a count that per_prompt does not divide. */
int rm_pairs_build(rm_pairs *p, const float *rewards, size_t n_prompts, size_t n_responses,
                   const rm_pairs_design *d, const rm_annotator *a);

/* Both steps from cfg: the annotator's scale (rm_annotator_scale on rewards), its
 * settings, the design, the pairs. */
int rm_pairs_build_from_settings(rm_pairs *p, const rm_settings *cfg, const float *rewards, size_t n_prompts,
                                 size_t n_responses);
void rm_pairs_free(rm_pairs *p);

#endif
