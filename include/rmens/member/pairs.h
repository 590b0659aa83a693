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
 *    another prompt, redrawn while it repeats (RM_STREAM_PROMPT_PAIRS).
 *
 * The split into training and validation pairs (train.val_split):
 *  - "pairs" (and "entries", whose members split their own lists later): the first
 *    n - floor(n * val_fraction) pairs of one permutation (RM_STREAM_VALIDATION) train.
 *  - "prompts": round(N' * val_fraction) of the N' usable train prompts, the first of one
 *    permutation of them (RM_STREAM_VAL_PROMPTS), validate. A pair trains when both its
 *    prompts train, validates when both validate, and is dropped otherwise (a cross-prompt
 *    pair with one item on each side), so no validation prompt is touched by training.
 *  - held-out fold (rmens select): with folds > 0 the train prompts are dealt into `folds`
 *    folds by one permutation (RM_STREAM_FOLDS; fold of position j: j * folds / N), and the
 *    pairs touching fold `heldout_fold` are dropped before either split, so they can
 *    score the fold. */
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
    int split_prompts;      /* train.val_split = "prompts" */
    int folds, heldout_fold;/* folds > 0: drop the pairs touching fold heldout_fold */
    uint64_t seed;
    /* Groups of prompts that a split or fold keeps together (pairs.source = "store": the
     * dialogue of each stored pair): prompt q belongs to group prompt_group[q] < n_groups,
     * and the permutations above deal groups instead of prompts. NULL: each prompt alone. */
    const uint32_t *prompt_group;
    size_t n_groups;
} rm_pairs_design;

typedef struct {
    size_t n;              /* all pairs */
    uint32_t *winner;      /* [n] flat item index of the item the annotator preferred */
    uint32_t *loser;       /* [n] */
    size_t n_train;        /* the first n_train entries of `order` are training pairs */
    size_t n_val;          /* order[n_train .. n_train + n_val) validate; the rest are dropped */
    uint32_t *order;       /* [n] permutation: training pairs, validation pairs, dropped pairs */
    const char *split_rule;/* train.val_split the split follows: "pairs", "entries" or "prompts" */
    /* The realised leak of the split (rm_pairs_split_overlap): the fraction of validation
     * pairs with an item whose prompt / whose response a training pair also uses. */
    double val_prompt_overlap, val_item_overlap;
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
/* The same with prompts grouped (rm_pairs_design.prompt_group; NULL: ungrouped). */
int rm_pairs_build_grouped(rm_pairs *p, const rm_settings *cfg, const float *rewards, size_t n_prompts,
                           size_t n_responses, const uint32_t *prompt_group, size_t n_groups);
void rm_pairs_free(rm_pairs *p);

/* Re-split labelled pairs p (order: a permutation of them) by prompts as above, for
 * d->split_prompts or d->folds (pairs a caller labelled itself: rmens active). */
int rm_pairs_split_by_prompts(rm_pairs *p, const rm_pairs_design *d, size_t n_prompts, size_t n_responses);

/* The train prompts of fold `fold` of `folds` (as the design's held-out fold): in_fold[p]
 * = 1 for them, 0 otherwise (in_fold[N]). */
int rm_pairs_fold_prompts(uint64_t seed, size_t n_prompts, int folds, int fold, unsigned char *in_fold);

/* The train prompts the design's held-out fold holds (d->folds > 0): in_fold[q] = 1 when
 * prompt q's unit (the prompt, or its group with d->prompt_group) is in fold
 * d->heldout_fold, 0 otherwise (in_fold[N]). */
int rm_pairs_heldout_prompts(const rm_pairs_design *d, size_t n_prompts, unsigned char *in_fold);

/* The leak between a training and a validation list of pair ids (items p*K + k):
 * the fractions of validation pairs with an item whose prompt, or which item itself,
 * appears in a training pair. NaN without validation pairs. */
int rm_pairs_split_overlap(const rm_pairs *p, size_t n_prompts, size_t n_responses, const uint32_t *train_ids,
                           size_t n_train, const uint32_t *val_ids, size_t n_val, double *prompt_overlap,
                           double *item_overlap);

#endif
