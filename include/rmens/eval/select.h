/* Hyperparameters by prompt-grouped k-fold cross-validation on the train split
 * (`rmens select`, src/eval/select.c).
 *
 * select.grid lists axes "key: v1 | v2 | ..." (values in --set syntax); every combination
 * is one grid point, the first axis varying slowest. The train prompts are dealt into
 * select.folds folds by one seeded permutation (RM_STREAM_FOLDS, rmens/member/pairs.h).
 * For grid point g and fold f, select.members members (indexes 0..M-1, as in a run) train
 * on the pairs the configuration draws, minus every pair touching fold f (its own
 * train.val_split then applies to the rest), and score every response of fold f's prompts;
 * the fold's score is the within-prompt pair accuracy of the members' mean standardised
 * score against the golden reward (pairs of equal golden reward left out, a score tie
 * counting half), pooled over the fold's pairs. A point's score is the mean over folds;
 * the best point wins, the earlier one on a tie (list simpler settings first).
 *
 * The (point, fold) jobs are dealt over the ranks, each trained on one rank (its threads):
 * the scores, and so the choice, are the same for any rank count. The train split is held
 * once per input the grid uses (model.inputs may be an axis).
 *
 * <output>/select.json: {"metric", "folds", "members", "grid": [{"settings": {key: value},
 * "fold_scores": [...], "mean", "std"}], "choice": {"index", "settings", "mean"},
 * "provenance": {...}}. The caller then trains and evaluates with the chosen settings
 * (their merged config, in members.h5 and results.h5, records them). */
#ifndef RMENS_EVAL_SELECT_H
#define RMENS_EVAL_SELECT_H

#include <mpi.h>

#include "rmens/base/config.h"

#define RM_SELECT_MAX_POINTS 4096

/* The chosen grid point as --set overrides ("key=value", n of them; the strings are owned
 * by the struct). */
typedef struct {
    int n;
    char items[RM_MAX_SELECT_AXES][RM_SELECT_AXIS_MAX + 64];
} rm_select_choice;

/* Run the cross-validation of cfg's grid (cfg loaded from config_path with `sets`, which
 * every grid point's settings start from), write <output>/select.json, and return the
 * choice. Collective over comm; `force` overwrites an existing select.json. */
int rm_select(const rm_settings *cfg, const char *config_path, const char *const *sets, int n_sets, MPI_Comm comm,
              int force, rm_select_choice *choice);

#endif
