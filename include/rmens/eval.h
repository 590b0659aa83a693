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

#include "rmens/config.h"
#include "rmens/metrics.h"

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

    size_t aggregator_slots; /* slots per aggregator: bon (sum, count) x n_bon, spearman, pair accuracy */
    size_t oracle_offset;    /* oracle best-of-n (sum, count) x n_bon */
    size_t member_spearman_offset; /* (sum, count) per member pair a < b */
    size_t n_slots;          /* doubles per block */
    size_t n_bench_counts;   /* int64 counters per rank: n_subsets x n_aggregators */
} rm_eval_plan;

/* Build the plan: bon sizes above K are skipped, ablation sizes above E skipped (empty
 * list: 1, 2, 4, ... and E); subsets drawn from (cfg->seed, RM_STREAM_ABLATION). */
int rm_eval_plan_create(rm_eval_plan *p, const rm_settings *cfg, int n_members, size_t n_responses);
void rm_eval_plan_free(rm_eval_plan *p);

/* Even contiguous split of n items over `parts`: [*begin, *end) of part `index` (the
 * first n % parts parts get one more). Used for blocks of test prompts and bench rows. */
void rm_eval_split(size_t n, int parts, int index, size_t *begin, size_t *end);

/* Per-rank scratch for the per-prompt work. */
typedef struct {
    rm_metric_scratch scratch;
    double *golden, *golden_ranks, *golden_by_score, *win; /* win: [n_bon][K] */
    double *aggregate;       /* [n_aggregators][K] */
    double *ranks, *member_ranks, *spread, *rank_error, *sort_buffer;
    int *member_pick;        /* [E] best-of-K pick of each member */
    uint64_t *pair_gt, *pair_eq;
} rm_eval_work;

int rm_eval_work_create(rm_eval_work *w, const rm_eval_plan *p);
void rm_eval_work_free(rm_eval_work *w);

/* Add one prompt's figures into a block's slots (n_slots doubles). z[m * member_stride + r]
 * is member m's standardised score of response r; golden[r] its golden reward. */
void rm_eval_accumulate_prompt(const rm_eval_plan *p, rm_eval_work *w, const float *z, size_t member_stride,
                               const float *golden, double *slots);
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
} rm_aggregate_figures;

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
} rm_eval_results;

/* From the reduced totals (rank 0). n_bench = 0: bench accuracy NaN. */
int rm_eval_finish(const rm_eval_plan *p, const double *total, const int64_t *bench_total, size_t n_bench,
                   rm_eval_results *out);
void rm_eval_results_free(rm_eval_results *r);

/* `rmens eval`: score cfg's store with <output>/members.h5, write results.h5 and
 * results.json into the output directory, print the table on rank 0. Collective. */
int rm_evaluate(const rm_settings *cfg, MPI_Comm comm, int force);

#endif
