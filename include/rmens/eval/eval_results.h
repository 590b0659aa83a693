/* The final figures of an evaluation: what results.json and results.h5 hold. */
#ifndef RMENS_EVAL_EVAL_RESULTS_H
#define RMENS_EVAL_EVAL_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "rmens/base/config.h"
#include "rmens/eval/metrics.h"

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

/* Feature bias of one eval.bias_features view (rmens/eval/eval_bias.h): the mean over test
 * prompts of the within-prompt Spearman of the view's first feature with each scorer (NaN
 * when no prompt has both sides non-constant), and the golden best-of-n of ranking the
 * responses by the feature alone. */
typedef struct {
    double golden;                     /* with the golden reward */
    double aggregate[3 + RM_MAX_LIST]; /* with each aggregator's score of the full ensemble (plan order) */
    double warm;                       /* with aggregators.warm's score (NaN without warm) */
    double *member;                    /* [E] with each member's own score */
    double single;                     /* the mean of member[] over the members where it is defined */
    double bon[RM_MAX_LIST];           /* [n_bon] golden best-of-n, the feature's highest value picked */
} rm_bias_figures;

typedef struct {
    rm_ensemble_figures full;
    rm_aggregate_figures *single;          /* [E] each member alone */
    rm_aggregate_figures single_mean, single_std; /* over members (std: population) */
    double oracle_bon[RM_MAX_LIST];
    double *member_spearman_matrix;        /* [E * E], 1 on the diagonal */
    rm_ensemble_figures *ablation;         /* [n_sizes], averaged over the size's subsets */
    rm_ensemble_figures *ablation_std;     /* [n_sizes], their population std over the subsets (0 for one subset) */
    double kl[RM_MAX_LIST];
    size_t n_bench;
    /* calibration pairs (all NaN / 0 when eval.calibration_pairs = 0) */
    uint64_t calibration_pairs;
    rm_calibration_figures calibration_mean;   /* the mean aggregator of the full ensemble */
    rm_calibration_figures calibration_single; /* ece, brier, log_loss: means over members; bins pooled */
    rm_calibration_figures *calibration_member; /* [E] */
    rm_disagreement_figures error_by_disagreement;
    /* the warm aggregator (rmens/eval/warm.h; filled by rm_warm_evaluate, has_warm 0 otherwise):
     * the weight average of the full ensemble, and per ablation size the mean over its
     * subsets of each subset's weight average, and their population std over the subsets */
    int has_warm;
    rm_aggregate_figures warm;
    rm_aggregate_figures *ablation_warm;   /* [n_sizes] */
    rm_aggregate_figures *ablation_warm_std; /* [n_sizes] */
    /* eval.bias_features (rm_eval_bias_finish; 0 and NULL without it) */
    int n_bias;
    rm_bias_figures *bias;                 /* [n_bias] in plan->bias order */
    /* a store of human-labelled pairs (rmens/eval/eval_pairs.h; NULL otherwise): results.json
     * "pairs_test", results.h5 /pairs_test. Not owned. */
    const struct rm_pairs_test *pairs_test;
} rm_eval_results;

#endif
