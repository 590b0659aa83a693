/* Slot layout shared by the evaluation's accumulation (src/eval/eval_accumulate.c) and its
 * plan and final figures (src/eval/eval_figures.c); see the comment at the top of the latter. */
#ifndef RMENS_EVAL_EVAL_SLOTS_H
#define RMENS_EVAL_EVAL_SLOTS_H

#include <stddef.h>

#include "rmens/eval/metrics.h"

/* Ensemble slots of a subset, after its aggregators' slots. */
enum { SLOT_BEST_PICK = 0, SLOT_MEAN_STD = 2, SLOT_STD_RANK = 4, SLOT_AGREE = 6, SLOT_HIST = 8 };

/* Disagreement levels of a response pair for k members: 0..C(k,2) disagreeing member pairs. */
static inline size_t disagreement_levels(int k) { return (size_t)k * (size_t)(k - 1) / 2 + 1; }
static inline size_t ensemble_slots(int k) { return SLOT_HIST + 2 * disagreement_levels(k); }

/* Slots of one aggregator (plan->aggregator_slots = 4 n_bon + 8), from its offset:
 * bon (sum, count) x n_bon | spearman | pair accuracy (correct, valid) | proxy bon (sum,
 * count) x n_bon | pick quantile | above median. The first 2 n_bon + 4 are the layout the
 * statistics oracle (tests/eval/stats_oracle.c) fills. */
static inline size_t agg_slot_spearman(int n_bon) { return 2 * (size_t)n_bon; }
static inline size_t agg_slot_pair_accuracy(int n_bon) { return 2 * (size_t)n_bon + 2; }
static inline size_t agg_slot_proxy(int n_bon) { return 2 * (size_t)n_bon + 4; }
static inline size_t agg_slot_pick_quantile(int n_bon) { return 4 * (size_t)n_bon + 4; }
static inline size_t agg_slot_above_median(int n_bon) { return 4 * (size_t)n_bon + 6; }

/* Calibration slots (from plan->calibration.offset): predictor c = 0 (the mean aggregator
 * of the full ensemble) and 1 + m (member m), CAL_PREDICTOR_SLOTS each: Brier sum, log-loss
 * sum, pairs, then per reliability bin (pairs, sum of P, outcomes a); then per disagreement
 * bin (untied pairs, sum of std_m P_m, errors of the mean's side). */
enum { CAL_BRIER = 0, CAL_LOG_LOSS = 1, CAL_PAIRS = 2, CAL_BINS = 3 };
#define CAL_PREDICTOR_SLOTS (CAL_BINS + 3 * RM_CALIBRATION_BINS)
#define CAL_DISAGREEMENT_SLOTS (3 * RM_DISAGREEMENT_BINS)
static inline size_t calibration_slots(int n_members)
{
    return (size_t)(n_members + 1) * CAL_PREDICTOR_SLOTS + CAL_DISAGREEMENT_SLOTS;
}



#endif
