/* Slot layout shared by the evaluation's accumulation (src/eval_accumulate.c) and its
 * plan and final figures (src/eval_figures.c); see the comment at the top of the latter. */
#ifndef RMENS_EVAL_INTERNAL_H
#define RMENS_EVAL_INTERNAL_H

#include <stddef.h>
#include <stdio.h>

#include "rmens/ensemble.h"
#include "rmens/eval.h"
#include "rmens/h5util.h"
#include "rmens/store.h"

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

/* rmens eval's calibration set-up (src/eval_calibration.c): for eval.calibration_pairs > 0,
 * the reward scale of the outcomes (members.h5's reward_scale, else a fallback with a
 * warning) and rm_eval_plan_calibration with the members' score_std. Collective. */
int eval_setup_calibration(const rm_settings *cfg, const char *members_path, rm_store *store, const rm_ensemble *ensemble,
                           rm_eval_plan *plan, MPI_Comm comm);

/* The calibration figures from the reduced totals (src/eval_calibration.c). */
int eval_calibration_finish(const rm_eval_plan *p, const double *total, rm_eval_results *out);

/* Writers shared by src/eval.c and src/eval_calibration.c. */
void eval_json_number(FILE *f, double v);
void eval_json_array(FILE *f, const double *v, int n);
/* results.json's ",\n"families": {...}" (src/eval_families.c): the single-member figures
 * averaged over each family's members, written when any member is not an MLP. */
void eval_json_families(FILE *f, const rm_eval_plan *p, const rm_eval_results *r, const rm_ensemble *e);
/* The name of the file loc is in, for messages: "results.h5", or "active.h5" when rmens
 * active writes the same groups (the file being written is a temporary sibling,
 * ".<name>.<tag>.tmp": its <name>). Writes it to buf and returns buf. */
const char *eval_h5_file_label(hid_t loc, char *buf, size_t n);
int eval_h5_doubles(hid_t loc, const char *name, const double *v, int rank, const hsize_t *dims);
hid_t eval_h5_group(hid_t loc, const char *name);
/* results.json / results.h5 parts of the calibration and error-by-disagreement figures. */
void eval_json_calibration(FILE *f, const rm_calibration_figures *c, int with_bins);
void eval_json_error_by_disagreement(FILE *f, const rm_disagreement_figures *d);
int eval_h5_calibration(hid_t loc, const char *name, const rm_calibration_figures *c);
int eval_h5_calibration_single(hid_t single, const rm_eval_plan *p, const rm_eval_results *r);
int eval_h5_error_by_disagreement(hid_t unc, const rm_disagreement_figures *d);

#endif
