/* The plan of an evaluation (src/eval/eval_plan.c): which member subsets are aggregated,
 * which figures each accumulates and where in a block of slots they go. */
#ifndef RMENS_EVAL_EVAL_PLAN_H
#define RMENS_EVAL_EVAL_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "rmens/base/config.h"
#include "rmens/member/annotator.h"

#define RM_EVAL_BLOCK_PROMPTS 8

/* A set of members whose predictions are aggregated: the full ensemble, each member
 * alone, or one random subset of the ensemble-size ablation. */
typedef struct {
    int k;                 /* members */
    const int *members;    /* [k], ascending */
    const uint64_t *mask;  /* [mask_words] bit m set for each member m */
    int n_aggregators;     /* 1 (singles: the member itself) or the plan's full list */
    int ensemble_figures;  /* agreement and uncertainty are accumulated */
    size_t offset;         /* first slot of this subset in a block */
} rm_eval_subset;

typedef enum { RM_SUBSET_FULL = 0, RM_SUBSET_SINGLE = 1, RM_SUBSET_ABLATION = 2 } rm_subset_kind;

/* Calibration pairs (eval.calibration_pairs, src/eval/eval_calibration.c): within-prompt test
 * pairs i = 0..n_pairs-1 drawn from (seed, RM_STREAM_CALIBRATION_PAIRS): prompt
 * rm_rand_below(3i, N_test), responses a = rm_rand_below(3i+1, K), b = rm_rand_below(3i+2,
 * K-1) with b += b >= a; outcome rm_annotator_label(annotator, i, golden_a, golden_b)
 * (the run's annotator on the calibration streams). Each member's P_m(a over b) =
 * sigmoid(raw_a - raw_b) from its raw scores, raw = z score_std + score_mean, so the
 * difference is (z_a - z_b) score_std (member_scale); the mean aggregator's P is the mean
 * of the P_m. The pairs are listed by prompt, ascending within one, and summed into the
 * prompt's delta like every other figure, so they too are the same for any rank count. */
typedef struct {
    uint64_t n_pairs;       /* 0: off */
    size_t n_prompts;       /* N_test */
    size_t *prompt_first;   /* [n_prompts + 1]: prompt q's pairs are pair_index[prompt_first[q] .. [q+1]) */
    uint64_t *pair_index;   /* [n_pairs] */
    rm_annotator annotator;
    double *member_scale;   /* [E] score_std of each member */
    size_t offset;          /* first slot of the calibration figures in a block */
} rm_eval_calibration;

/* Feature-bias diagnostics (eval.bias_features, src/eval/eval_bias.c): store views whose
 * first feature (e.g. a response's length) is compared with the golden reward and with
 * every scorer, prompt by prompt. Per listed view, view_slots slots from offset + i
 * view_slots: Spearman with golden (sum, count) | with each aggregator of the full ensemble
 * (sum, count) x n_aggregators | with each member (sum, count) x E | golden best-of-n of
 * ranking by the feature (sum, count) x n_bon. */
typedef struct {
    int n_views;                          /* 0: off (eval.bias_features = [], the default) */
    int view[RM_MAX_VIEWS];               /* the store view index of each listed view */
    size_t dim[RM_MAX_VIEWS];             /* its F: feature 0 of F is the one compared */
    char names[RM_MAX_VIEWS][RM_NAME_MAX];
    size_t offset, view_slots;
} rm_eval_bias;

typedef struct {
    int n_members;          /* E */
    size_t n_responses;     /* K of the test split */
    int n_bon;              /* the configured n <= K */
    size_t bon_n[RM_MAX_LIST];
    int n_uwo;
    double uwo_lambda[RM_MAX_LIST];
    int n_aggregators;      /* mean, min, median, then uwo for each lambda */
    char aggregator_names[3 + RM_MAX_LIST][32];

    int n_sizes;            /* ablation sizes k <= E */
    int sizes[RM_MAX_LIST];
    int size_subsets[RM_MAX_LIST]; /* subsets averaged for each size */
    int size_first[RM_MAX_LIST];   /* index of its first subset in `subsets` */

    int n_subsets;          /* [0] full, [1..E] singles, then the ablation */
    rm_eval_subset *subsets;
    int *member_lists;      /* storage for the subsets' member lists */
    uint64_t *masks;        /* storage for their masks */
    size_t mask_words;
    int pair_statistics;    /* some subset has k >= 2: build pair masks per prompt */

    /* Figures computed once per prompt and repeated where they are provably the same:
     * subsets with the same members (ablation draws of one member list, the ablation's
     * whole-ensemble size), and aggregates equal to another one (one member: its mean,
     * min and median are the member; two: the median is their mean). */
    size_t *figure_source;  /* [n_subsets][n_aggregators]: slot offset of the aggregate whose
                             * per-prompt figures this one repeats (its own offset: computed) */
    int *ensemble_source;   /* [n_subsets]: subset whose ensemble figures this one repeats */
    int n_pair_columns;     /* distinct ensemble subsets with k >= 2: the pair statistics */
    int *pair_column;       /* [n_subsets]: its column, or -1 */
    int pair_table;         /* 1: rm_pair_table (E <= RM_PAIR_TABLE_MAX_MEMBERS), 0: pair masks */

    rm_eval_calibration calibration; /* rm_eval_plan_calibration; n_pairs 0 until then */
    rm_eval_bias bias;               /* rm_eval_plan_bias; n_views 0 until then */

    size_t aggregator_slots; /* slots per aggregator: bon (sum, count) x n_bon, spearman, pair accuracy,
                              * proxy bon (sum, count) x n_bon, pick quantile, above median */
    size_t oracle_offset;    /* oracle best-of-n (sum, count) x n_bon */
    size_t member_spearman_offset; /* (sum, count) per member pair a < b */
    size_t n_slots;          /* doubles per block */
    size_t n_bench_counts;   /* int64 counters per rank: n_subsets x n_aggregators */
} rm_eval_plan;

/* Build the plan: bon sizes above K are skipped, ablation sizes above E skipped (empty
 * list: 1, 2, 4, ... and E); subsets drawn from (cfg->seed, RM_STREAM_ABLATION). */
int rm_eval_plan_create(rm_eval_plan *p, const rm_settings *cfg, int n_members, size_t n_responses);
void rm_eval_plan_free(rm_eval_plan *p);

#endif
