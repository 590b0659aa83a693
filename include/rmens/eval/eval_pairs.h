/* Figures on human-labelled test pairs (src/eval/eval_pairs.c): `rmens eval` on a store of
 * preference pairs (rmens/store/store_pairs.h) judges the members on /pairs/test against
 * the human label, into results.json "pairs_test" and results.h5 /pairs_test.
 *
 * From the standardised scores z[m, i, 0] (chosen) and z[m, i, 1] (rejected) of member m
 * on test pair i, and the member's score_std s_m:
 *  - P_m,i = sigmoid((z[m,i,0] - z[m,i,1]) s_m): member m's P(chosen preferred) (the
 *    difference of its raw scores, as its Bradley-Terry model reads them);
 *  - aggregator a (mean, min, median, uwo_lambda of rmens/eval/metrics.h, over the members'
 *    z of one reply): accuracy = the fraction of pairs with agg(chosen) > agg(rejected),
 *    a tie counting half;
 *  - the mean ensemble's P_i = mean_m P_m,i and its uncertainty u_i = population std_m P_m,i;
 *  - calibration on both orders, the 2n points (P_i, 1) and (1 - P_i, 0): Brier, log loss
 *    (p clipped to [1e-15, 1 - 1e-15]) and ECE over RM_CALIBRATION_BINS equal bins of [0, 1]
 *    (sklearn's brier_score_loss, log_loss and calibration_curve); the same per member;
 *  - selective: the pairs sorted by u ascending (ties by index), at coverage c_j = j / 10
 *    the first max(1, (j n + 5) / 10) pairs, the mean aggregator's accuracy on them;
 *  - disagreement_auroc: AUROC of u for the mean aggregator's errors (agg_mean(chosen) <=
 *    agg_mean(rejected)), ties in u counting half; NaN without both classes;
 *  - ensemble_size: per ablation size k of the plan, the mean over its member subsets of
 *    the subset's mean-aggregator accuracy and calibration, and their population std over
 *    the subsets (accuracy_std, ece_std, brier_std, log_loss_std; 0 for one subset).
 * Every figure is computed on rank 0 from all the scores, in pair order, so it is bitwise
 * the same for any rank count. */
#ifndef RMENS_EVAL_EVAL_PAIRS_H
#define RMENS_EVAL_EVAL_PAIRS_H

#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>

#include "rmens/eval/eval_plan.h"
#include "rmens/eval/metrics.h"

#define RM_SELECTIVE_LEVELS 10

typedef struct {
    double ece, brier, log_loss;
} rm_pairs_calibration;

typedef struct rm_pairs_test {
    size_t n;                /* test pairs */
    int E;
    float *z;                /* [E, n, 2] (complete on rank 0 after rm_pairs_test_gather) */
    double *score_std;       /* [E] */
    /* figures (rank 0, rm_pairs_test_compute) */
    int n_aggregators;
    double accuracy[3 + RM_MAX_LIST];            /* per aggregator of the plan */
    rm_pairs_calibration mean_calibration;
    double *member_accuracy;                     /* [E] */
    rm_pairs_calibration *member_calibration;    /* [E] */
    double single_accuracy, single_accuracy_std; /* mean, population std over members */
    rm_pairs_calibration single_calibration;     /* means over members */
    double selective_accuracy[RM_SELECTIVE_LEVELS];
    double disagreement_auroc;
    double bin_count[RM_CALIBRATION_BINS], bin_mean_p[RM_CALIBRATION_BINS], bin_frac_chosen[RM_CALIBRATION_BINS];
    double *size_accuracy, *size_accuracy_std;   /* [plan n_sizes] */
    rm_pairs_calibration *size_calibration;      /* [plan n_sizes] */
    rm_pairs_calibration *size_calibration_std;  /* [plan n_sizes] population std over the subsets */
} rm_pairs_test;

/* Room for E members' scores of n pairs, zeroed; member scales from score_std[E]. */
int rm_pairs_test_create(rm_pairs_test *t, int E, size_t n, const double *score_std);
void rm_pairs_test_free(rm_pairs_test *t);
/* An rm_eval_sink write (rmens/eval/eval_score.h): the z of pairs [q0, q1) (K = 2). */
int rm_pairs_test_collect(void *t, size_t q0, size_t q1, const float *z);
/* Collective: every rank's pairs to rank 0 (each pair is scored on exactly one rank). */
int rm_pairs_test_gather(rm_pairs_test *t, MPI_Comm comm);
/* Rank 0: every figure, with the plan's aggregators and ablation subsets. */
int rm_pairs_test_compute(rm_pairs_test *t, const rm_eval_plan *p);
/* results.json ",\n\"pairs_test\": {...}", results.h5 /pairs_test, the printed table. */
void rm_pairs_test_json(FILE *f, const rm_pairs_test *t, const rm_eval_plan *p);
int rm_pairs_test_h5(hid_t file, const rm_pairs_test *t, const rm_eval_plan *p);
void rm_pairs_test_print(FILE *out, const rm_pairs_test *t, const rm_eval_plan *p);

#endif
