/* The gradient training loop of MLP members: one member, or a shared trunk's unit of
 * heads, on one rank or data-parallel over a group of ranks (src/member/train.c). The
 * registry (rmens/member/family.h) trains a member of any family through
 * rm_train_member; this is the MLP family's trainer. */
#ifndef RMENS_MEMBER_TRAIN_H
#define RMENS_MEMBER_TRAIN_H

#include <mpi.h>

#include "rmens/member/train_state.h"
#include "rmens/base/config.h"
#include "rmens/member/member.h"
#include "rmens/member/pairs.h"

/* The MLP family's trainer: rm_train_member_controlled's contract (rmens/member/family.h)
 * for an MLP member. */
int rm_train_mlp_member(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, int index,
                        MPI_Comm group, rm_member *out, rm_progress_fn progress, void *ctx, rm_train_control *control);

/* Train all E = ensemble.members heads (collective over `group`); out[E] receive the
 * members (their scores standardised, as rm_train_member's). controls: NULL, or [E] as
 * rm_train_member_controlled's, one per head: controls[0].should_stop stops the unit at a
 * step boundary; then every controls[e] is interrupted, out[e] holds head e's weights
 * (split off the unit) and history, controls[e].saved its part of the unit's state. To
 * resume, every controls[e] gets head e's member and state back (each head's state holds
 * its own part of the unit's Adam moments and kept weights, and its partial epoch loss). */
/* The caller checks ensemble.kind first (rm_ensemble_kind_check, rmens/member/family.h). */
int rm_train_shared_trunk(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, MPI_Comm group,
                          rm_member *out, rm_progress_fn progress, void *ctx, rm_train_control *controls);

#endif
