/* Test oracle: the evaluation statistics exactly as they were before issue 15 ("statistics
 * off the critical path") - src/eval/metrics.c and the per-prompt accumulation of
 * src/eval/eval_figures.c at commit cf05a3b, copied verbatim with rm_ renamed to oracle_ by a
 * script. The faster library code must give the same figures (tests/eval/test_stats_oracle.c).
 * Do not "fix" or speed up this file: its value is that it is the old code. */
#ifndef RMENS_STATS_ORACLE_H
#define RMENS_STATS_ORACLE_H

#include <stddef.h>
#include <stdint.h>

#include "rmens/eval/eval_accumulate.h"
#include "rmens/eval/eval_calibration.h"
#include "rmens/eval/eval_figures.h"
#include "rmens/eval/eval_plan.h"
#include "rmens/eval/eval_results.h"
#include "rmens/eval/eval_score.h"
#include "rmens/eval/metrics.h"

typedef struct {
    double value;
    size_t index;
} oracle_keyed;

typedef struct {
    size_t capacity;
    oracle_keyed *keyed;
    oracle_keyed *keyed_tmp;
    size_t *indices[2];
    double *values[4];
} oracle_scratch;

typedef struct {
    int64_t pairs, x_ties, y_ties, joint_ties, discordant;
} oracle_pair_counts;

typedef struct {
    oracle_scratch scratch;
    double *golden, *golden_ranks, *golden_by_score, *win;
    double *aggregate;
    double *ranks, *member_ranks, *spread, *rank_error, *sort_buffer;
    int *member_pick;
    uint64_t *pair_gt, *pair_eq;
} oracle_work;

int oracle_metric_scratch_create(oracle_scratch *s, size_t capacity);
void oracle_metric_scratch_free(oracle_scratch *s);
void oracle_sort_order(const double *values, size_t n, size_t *order, oracle_scratch *s);
void oracle_average_ranks(const double *values, size_t n, double *ranks, oracle_scratch *s);
void oracle_golden_by_score(const double *score, const double *golden, size_t K, double *golden_by_score, oracle_scratch *s);
double oracle_bon_kl(size_t n);
void oracle_bon_win_probabilities(size_t K, size_t n, double *win);
double oracle_bon_expected(const double *win, const double *golden_by_score, size_t K);
double oracle_best_of_n(const double *score, const double *golden, size_t K, size_t n, oracle_scratch *s);
double oracle_pearson(const double *a, const double *b, size_t n);
double oracle_spearman(const double *x, const double *y, size_t n, oracle_scratch *s);
void oracle_count_pairs(const double *x, const double *y, size_t n, oracle_pair_counts *out, oracle_scratch *s);
int64_t oracle_pairs_concordant(const oracle_pair_counts *c);
int64_t oracle_pair_accuracy_counts(const double *score, const double *golden, size_t K, int64_t *twice_correct, oracle_scratch *s);
double oracle_auroc(const double *score, const int *label, size_t n, oracle_scratch *s);
double oracle_auroc_levels(const double *positives, const double *negatives, int levels);
void oracle_aggregate(const float *z, size_t member_stride, const int *members, int k, size_t K, rm_aggregator agg,
                      double lambda, double *out, double *sort_scratch);
void oracle_member_std(const float *z, size_t member_stride, const int *members, int k, size_t K, double *out);
size_t oracle_pair_mask_words(int n_members);
void oracle_pair_masks(const float *z, size_t member_stride, int n_members, size_t K, uint64_t *gt, uint64_t *eq);
void oracle_pair_subset_stats(const uint64_t *gt, const uint64_t *eq, size_t words, size_t K, const uint64_t *subset, int k,
                              const double *reference, const double *golden, double *wrong, double *right, double *agreeing);

int oracle_eval_work_create(oracle_work *w, const rm_eval_plan *p);
void oracle_eval_work_free(oracle_work *w);
/* The old rm_eval_accumulate_prompt: adds one prompt's figures into slots. Uses the plan's
 * slot layout (unchanged by issue 15). */
void oracle_eval_accumulate_prompt(const rm_eval_plan *p, oracle_work *w, const float *z, size_t member_stride,
                                   const float *golden, double *slots);

#endif
