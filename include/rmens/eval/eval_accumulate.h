/* The per-prompt figures of an evaluation, added into blocks of slots, over a team of
 * threads (src/eval/eval_accumulate.c). */
#ifndef RMENS_EVAL_EVAL_ACCUMULATE_H
#define RMENS_EVAL_EVAL_ACCUMULATE_H

#include <stddef.h>
#include <stdint.h>

#include "rmens/eval/eval_plan.h"
#include "rmens/eval/metrics.h"

/* Scratch for the per-prompt work of one thread. */
typedef struct {
    rm_metric_scratch scratch;
    rm_golden_sorted gold;   /* the prompt's golden rewards, sorted once */
    rm_bon_table bon;        /* win probabilities of every n */
    double *golden, *bon_values; /* [K], [n_bon] */
    double *aggregate;       /* [n_aggregators][K] */
    double *ranks, *mean_ranks, *member_ranks, *spread, *rank_error, *sort_buffer;
    double *square_sum;      /* [K] the current subset's sum of squared deviations from its mean */
    double *spread_ranks, *error_ranks; /* [K] each */
    int32_t *error_start;    /* [2 K + 2] responses below each rank error, counted */
    int32_t *mean_dense;     /* [K] dense ranks of the current subset's mean */
    int *member_pick;        /* [E] best-of-K pick of each member */
    double *proxy_values;    /* [n_bon] */
    double *member_probability; /* [E] P_m of one calibration pair */
    rm_pair_table pairs;     /* plan->pair_table */
    uint64_t *pair_gt, *pair_eq; /* otherwise */
    double *delta;           /* [n_slots] one prompt's figures, added to its block in one go */
    double *bias_scratch;    /* rm_eval_bias_scratch_doubles, only with eval.bias_features */
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
/* One scored piece of test prompts [q0, q1): rm_eval_accumulate_prompts's inputs and, with
 * eval.bias_features (plan->bias), each listed view's first feature of prompt q, response
 * r at features[i * feature_stride + (q - q0) K + r] (rm_eval_bias_read); features NULL:
 * the bias figures are left out. */
typedef struct {
    const float *z, *golden, *features;
    size_t member_stride, feature_stride, q0, q1;
} rm_eval_piece;
void rm_eval_accumulate_piece(const rm_eval_plan *p, rm_eval_team *t, const rm_eval_piece *piece, size_t first_block,
                              double *blocks);
/* Benchmark pairs: counts[subset * n_aggregators + a] += 2 if the aggregate scores chosen
 * above rejected, 1 if tied, for n pairs (z_* laid out like z above). */
void rm_eval_accumulate_bench(const rm_eval_plan *p, rm_eval_work *w, const float *z_chosen, const float *z_rejected,
                              size_t member_stride, size_t n, int64_t *counts);

#endif
