/* The gbdt family (gradient-boosted trees on XGBoost's C API): its table, its trainer and
 * the pieces tests check against XGBoost and numerics (src/member/family_gbdt.c,
 * src/member/gbdt_train.c). */
#ifndef RMENS_MEMBER_FAMILY_GBDT_H
#define RMENS_MEMBER_FAMILY_GBDT_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "rmens/member/train_state.h"
#include "rmens/base/config.h"
#include "rmens/member/member.h"
#include "rmens/member/pairs.h"

/* without XGBoost at build time: every operation refuses */
extern const rm_family rm_family_gbdt;
/* Whether this build has XGBoost. */
int rm_family_have_xgboost(void);

/* The gbdt family's trainer: rm_train_member_controlled's contract (rmens/member/family.h). */
int rm_gbdt_train_member(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, int index,
                         MPI_Comm group, rm_member *out, rm_progress_fn progress, void *ctx, rm_train_control *control);

/* The Bradley-Terry pair loss as a per-row objective: for pairs (winner_row[p],
 * loser_row[p]) over rows with scores r, grad[i] and hess[i] are the first and second
 * derivatives of sum_p -log sigmoid(r_w - r_l) in r_i (the Hessian's diagonal), summed
 * over the pairs row i belongs to. Returns the summed loss. */
double rm_gbdt_bt_gradients(const float *scores, size_t n_rows, const uint32_t *winner_row, const uint32_t *loser_row,
                            size_t n_pairs, float *grad, float *hess);

#endif
