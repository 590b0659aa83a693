/* Calibration of the ensemble's preference probabilities on within-prompt test pairs
 * (eval.calibration_pairs; src/eval/eval_calibration.c). */
#ifndef RMENS_EVAL_EVAL_CALIBRATION_H
#define RMENS_EVAL_EVAL_CALIBRATION_H

#include <mpi.h>
#include <stddef.h>

#include "rmens/base/config.h"
#include "rmens/ensemble/members_file.h"
#include "rmens/eval/eval_plan.h"
#include "rmens/eval/eval_results.h"
#include "rmens/store/store.h"

/* Switch on the calibration figures (see rm_eval_calibration): cfg->eval_calibration_pairs
 * pairs over n_prompts test prompts, the annotator of cfg with reward scale reward_scale,
 * member_scale[E] the members' score_std. Adds the calibration slots to the plan, so it
 * must come before any work or team is created from it. 0 pairs: nothing to do. */
int rm_eval_plan_calibration(rm_eval_plan *p, const rm_settings *cfg, size_t n_prompts, double reward_scale,
                             const double *member_scale);

/* The calibration pairs of `prompt` into the delta d; member_probability: scratch of E. */
void rm_eval_calibration_prompt(const rm_eval_plan *p, double *member_probability, const float *z, size_t member_stride,
                                const float *golden, size_t prompt, double *d);

/* rmens eval's calibration set-up: for eval.calibration_pairs > 0, the reward scale of
 * the outcomes (members.h5's reward_scale, else a fallback with a warning) and
 * rm_eval_plan_calibration with the members' score_std. Collective. */
int rm_eval_setup_calibration(const rm_settings *cfg, const char *members_path, rm_store *store,
                              const rm_ensemble *ensemble, rm_eval_plan *plan, MPI_Comm comm);
/* The calibration figures from the reduced totals. */
int rm_eval_calibration_finish(const rm_eval_plan *p, const double *total, rm_eval_results *out);

#endif
