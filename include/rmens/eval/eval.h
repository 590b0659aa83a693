/* Evaluation: scoring the test split with every member and reducing per-member
 * predictions to ensemble figures (best-of-n, Spearman, pairwise and benchmark accuracy,
 * agreement, uncertainty, ensemble-size ablation).
 *
 * The parallel shape (src/eval.c): test prompts are cut into fixed blocks of
 * RM_EVAL_BLOCK_PROMPTS, blocks are dealt contiguously over the ranks, and each rank
 * reads its prompts once, in pieces of eval.chunk_prompts, scoring each piece with every
 * member. Per-prompt figures are summed into their block in prompt order; rank 0 sums
 * the blocks in block order. Blocks do not depend on the rank count, so every figure is
 * bitwise identical for any number of ranks (a plain MPI_Allreduce of doubles is not).
 *
 * The accumulation and reduction below are public so that tests can drive them with
 * made-up predictions and a made-up partition. */
#ifndef RMENS_EVAL_H
#define RMENS_EVAL_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rmens/member/annotator.h"
#include "rmens/base/config.h"
#include "rmens/ensemble/ensemble.h"
#include "rmens/eval/metrics.h"
#include "rmens/store/store.h"

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

/* Calibration pairs (eval.calibration_pairs, src/eval_calibration.c): within-prompt test
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

/* Switch on the calibration figures (see rm_eval_calibration): cfg->eval_calibration_pairs
 * pairs over n_prompts test prompts, the annotator of cfg with reward scale reward_scale,
 * member_scale[E] the members' score_std. Adds the calibration slots to the plan, so it
 * must come before any work or team is created from it. 0 pairs: nothing to do. */
int rm_eval_plan_calibration(rm_eval_plan *p, const rm_settings *cfg, size_t n_prompts, double reward_scale,
                             const double *member_scale);

/* Even contiguous split of n items over `parts`: [*begin, *end) of part `index` (the
 * first n % parts parts get one more). Used for blocks of test prompts and bench rows. */
void rm_eval_split(size_t n, int parts, int index, size_t *begin, size_t *end);

/* Scratch for the per-prompt work of one thread. */
typedef struct {
    rm_metric_scratch scratch;
    rm_golden_sorted gold;   /* the prompt's golden rewards, sorted once */
    rm_bon_table bon;        /* win probabilities of every n */
    double *golden, *bon_values; /* [K], [n_bon] */
    double *aggregate;       /* [n_aggregators][K] */
    double *ranks, *mean_ranks, *member_ranks, *spread, *rank_error, *sort_buffer;
    int32_t *mean_dense;     /* [K] dense ranks of the current subset's mean */
    int *member_pick;        /* [E] best-of-K pick of each member */
    double *proxy_values;    /* [n_bon] */
    double *member_probability; /* [E] P_m of one calibration pair */
    rm_pair_table pairs;     /* plan->pair_table */
    uint64_t *pair_gt, *pair_eq; /* otherwise */
    double *delta;           /* [n_slots] one prompt's figures, added to its block in one go */
} rm_eval_work;

int rm_eval_work_create(rm_eval_work *w, const rm_eval_plan *p);
void rm_eval_work_free(rm_eval_work *w);

/* Add one prompt's figures into a block's slots (n_slots doubles, starting from zeros).
 * z[m * member_stride + r] is member m's standardised score of response r; golden[r] its
 * golden reward; `prompt` its index in the test split (which calibration pairs are its).
 * The figures are computed into w->delta, then added slot by slot: each
 * slot receives one value per prompt (0 where a figure is undefined), so the block's sums
 * are those of adding the figures one by one. */
void rm_eval_accumulate_prompt(const rm_eval_plan *p, rm_eval_work *w, const float *z, size_t member_stride,
                               const float *golden, size_t prompt, double *slots);
/* The calibration pairs of `prompt` into the delta d (src/eval_calibration.c). */
void rm_eval_calibration_prompt(const rm_eval_plan *p, rm_eval_work *w, const float *z, size_t member_stride,
                                const float *golden, size_t prompt, double *d);

/* The rank's threads for the statistics: one work each (fewer than asked when the pair
 * masks of more than 12 members would take more than 512 MiB in all). */
typedef struct {
    int n_threads;
    rm_eval_work *works; /* [n_threads] */
} rm_eval_team;

int rm_eval_team_create(rm_eval_team *t, const rm_eval_plan *p, int threads);
void rm_eval_team_free(rm_eval_team *t);

/* rm_eval_accumulate_prompt for prompts q0 <= q < q1 of a piece, over the team's threads:
 * prompt q's scores at z + (q - q0) K (member stride member_stride), its golden rewards at
 * golden + (q - q0) K, its block at blocks + (q / RM_EVAL_BLOCK_PROMPTS - first_block)
 * n_slots. Up to n_threads prompts are computed at once (through rm_tiled_run), each into
 * its thread's delta; the deltas are then added to their blocks in prompt order, so the
 * blocks are bitwise the same for any thread count. */
void rm_eval_accumulate_prompts(const rm_eval_plan *p, rm_eval_team *t, const float *z, size_t member_stride,
                                const float *golden, size_t q0, size_t q1, size_t first_block, double *blocks);
/* Benchmark pairs: counts[subset * n_aggregators + a] += 2 if the aggregate scores chosen
 * above rejected, 1 if tied, for n pairs (z_* laid out like z above). */
void rm_eval_accumulate_bench(const rm_eval_plan *p, rm_eval_work *w, const float *z_chosen, const float *z_rejected,
                              size_t member_stride, size_t n, int64_t *counts);

/* Collective: gather every rank's blocks (rank r holds blocks [first_block, first_block +
 * n_local_blocks)) and sum them on rank 0 in block order into total[n_slots]; sum the
 * integer bench counts into bench_total. total/bench_total are only written on rank 0. */
int rm_eval_reduce(const rm_eval_plan *p, MPI_Comm comm, const double *local_blocks, size_t n_local_blocks,
                   const int64_t *bench_local, double *total, int64_t *bench_total);

/* Final figures. NaN means undefined (written as null). */
typedef struct {
    double bon[RM_MAX_LIST];
    double spearman, pair_accuracy, bench_accuracy;
    double proxy_bon[RM_MAX_LIST]; /* the expected standardised aggregate score of the best-of-n pick */
    double pick_quantile, above_median; /* of the best-of-K pick, averaged over prompts (rm_score_figures) */
} rm_aggregate_figures;

/* Calibration of one predictor's P(a over b) on the calibration pairs: ECE over
 * RM_CALIBRATION_BINS bins of [0, 1] (rm_uniform_bin), the mean Brier and log-loss terms,
 * and the reliability bins: [lower, upper) edges, pairs, mean P, share with outcome a. */
typedef struct {
    double ece, brier, log_loss;
    double lower[RM_CALIBRATION_BINS], upper[RM_CALIBRATION_BINS], count[RM_CALIBRATION_BINS];
    double mean_probability[RM_CALIBRATION_BINS], fraction_preferred[RM_CALIBRATION_BINS];
} rm_calibration_figures;

/* Error of the mean aggregator's preferred side against the golden order (untied golden
 * pairs), by member disagreement std_m(P_m) in the RM_DISAGREEMENT_BINS bins of RM_DISAGREEMENT_EDGES. */
typedef struct {
    double lower[RM_DISAGREEMENT_BINS], upper[RM_DISAGREEMENT_BINS], count[RM_DISAGREEMENT_BINS];
    double disagreement[RM_DISAGREEMENT_BINS], error_rate[RM_DISAGREEMENT_BINS]; /* bin means */
} rm_disagreement_figures;

typedef struct {
    rm_aggregate_figures aggregate[3 + RM_MAX_LIST];
    double member_spearman, pair_agreement, best_pick_agreement;
    double mean_std, std_rank_error_spearman, disagreement_auroc;
} rm_ensemble_figures;

typedef struct {
    rm_ensemble_figures full;
    rm_aggregate_figures *single;          /* [E] each member alone */
    rm_aggregate_figures single_mean, single_std; /* over members (std: population) */
    double oracle_bon[RM_MAX_LIST];
    double *member_spearman_matrix;        /* [E * E], 1 on the diagonal */
    rm_ensemble_figures *ablation;         /* [n_sizes], averaged over the size's subsets */
    double kl[RM_MAX_LIST];
    size_t n_bench;
    /* calibration pairs (all NaN / 0 when eval.calibration_pairs = 0) */
    uint64_t calibration_pairs;
    rm_calibration_figures calibration_mean;   /* the mean aggregator of the full ensemble */
    rm_calibration_figures calibration_single; /* ece, brier, log_loss: means over members; bins pooled */
    rm_calibration_figures *calibration_member; /* [E] */
    rm_disagreement_figures error_by_disagreement;
    /* the warm aggregator (rmens/warm.h; filled by rm_warm_evaluate, has_warm 0 otherwise):
     * the weight average of the full ensemble, and per ablation size the mean over its
     * subsets of each subset's weight average */
    int has_warm;
    rm_aggregate_figures warm;
    rm_aggregate_figures *ablation_warm;   /* [n_sizes] */
} rm_eval_results;

/* From the reduced totals (rank 0). n_bench = 0: bench accuracy NaN. */
int rm_eval_finish(const rm_eval_plan *p, const double *total, const int64_t *bench_total, size_t n_bench,
                   rm_eval_results *out);
void rm_eval_results_free(rm_eval_results *r);

/* ---- scoring the test split with members in memory (`eval`, and `active` every round) ---- */

/* Where scored pieces go as they are made (eval.save_predictions): write(ctx, q0, q1, z)
 * gets the standardised scores of test prompts [q0, q1) (z[m * (q1-q0) K + ...]), called
 * collectively once per piece; done(ctx) after the last. Either may be NULL. */
typedef struct {
    int (*write)(void *ctx, size_t q0, size_t q1, const float *z);
    int (*done)(void *ctx);
    void *ctx;
} rm_eval_sink;

/* Slowest rank's seconds, and member x response forwards in all (on rank 0). */
typedef struct {
    double read, score, stats, reduce, scored;
    double flops; /* forward FLOPs the scoring did (a shared trunk's heads: the unit's, once per row) */
} rm_eval_timing;

/* Collective: score the store's test split and bench pairs with every member of e (every
 * rank holds all of them), reduce in block order, and on rank 0 compute *res (the
 * caller frees it). Bitwise identical for any rank count. */
int rm_eval_score(const rm_settings *cfg, MPI_Comm comm, rm_store *store, const rm_ensemble *e,
                  const rm_eval_plan *plan, int threads, const rm_eval_sink *sink, rm_eval_results *res,
                  rm_eval_timing *timing);


/* `rmens eval`: score cfg's store with <output>/members.h5, write results.h5 and
 * results.json into the output directory, print the table on rank 0. Collective. */
int rm_evaluate(const rm_settings *cfg, MPI_Comm comm, int force);

#endif
