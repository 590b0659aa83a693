/* Shared-trunk ensembles (ensemble.kind = "shared_trunk"; Zhang et al. 2024, "Improving
 * RLHF with Efficient Reward Model Ensemble").
 *
 * One trunk D -> h1 -> ... -> hL (all hidden layers of model.hidden) is trained jointly
 * with E linear heads hL -> 1, one per member. During training the unit is one MLP
 * D -> h1 -> ... -> hL -> E (rmens/model/model.h with E outputs): the heads are the rows of its
 * last layer, so one forward of the trunk serves every head and the trunk receives the
 * sum of the heads' gradients (the loss is the sum of the heads' losses).
 *
 * What the results depend on:
 *  - initialisation: the trunk is member 0's (RM_STREAM_MEMBER(0, RM_MEMBER_INIT), the same
 *    counters as an independent member 0), head e is member e's own last layer (its own
 *    stream): a one-head unit is exactly independent member 0;
 *  - data: every step trains all heads on the same minibatch of member 0's training list
 *    (the pairs' split; train.val_split = "entries": member 0's split) in member 0's
 *    order. ensemble.data = "bootstrap": head e weighs each list entry by the number of
 *    times its own resample (RM_STREAM_MEMBER(e, RM_MEMBER_BOOTSTRAP), as an independent
 *    member would draw it) picked that pair, losses still divided by the minibatch size;
 *  - every head has its own history; early stopping and restore_best act on the unit,
 *    by the mean over heads of the validation loss;
 *  - the members written are ordinary MLP members D -> ... -> 1 (the trunk copied into
 *    each), standardised on the train responses one by one, so scoring, evaluation and
 *    `rmens active` treat heads as members. members.h5 stores the trunk once (/trunk,
 *    rmens/ensemble/members_file.h).
 * One rank group (group 0, parallel.ranks_per_member ranks, data-parallel) trains the unit;
 * further groups wait. A stop request (SIGTERM, train.checkpoint_minutes) stops the unit at
 * a step boundary: every head's checkpoint slot holds the head as a member (trunk copy and
 * output row, history) and its part of the unit's state (rm_trunk_split), which a resume
 * joins back (rm_trunk_join); the checkpoint format is an independent ensemble's. */
#ifndef RMENS_TRUNK_H
#define RMENS_TRUNK_H

#include <mpi.h>

#include "rmens/base/config.h"
#include "rmens/model/model.h"
#include "rmens/member/pairs.h"
#include "rmens/member/member.h"

/* Whether cfg asks for a shared trunk. */
int rm_settings_shared_trunk(const rm_settings *cfg);

/* The unit of E heads on dim inputs: created and initialised as above. */
int rm_trunk_unit_create(rm_mlp *unit, const rm_settings *cfg, int dim, int n_heads);
/* head[.] = head e of the unit as a one-output MLP (trunk copied; created here). */
int rm_trunk_unit_head(const rm_mlp *unit, int e, rm_mlp *head);

/* Any vector laid out like the unit's parameters (Adam's moments, the kept weights) and
 * head e's part of it laid out like a one-output member's: the trunk entries and row e of
 * the output layer. Split copies head e's part out; join copies it in (the trunk from
 * every head: they hold the same trunk). */
void rm_trunk_split(const rm_mlp *unit, const float *unit_vector, int e, float *head_vector);
void rm_trunk_join(const rm_mlp *unit, float *unit_vector, int e, const float *head_vector);
/* A head member's parameter count (the trunk plus one output). */
size_t rm_trunk_head_params(const rm_mlp *unit);

/* The reverse of rm_trunk_unit_head: the unit of E one-output heads (trunk from head 0,
 * row e of the output layer from head e). The heads are MLP members (the caller checks
 * their family). 1 when built; 0 (nothing built) when the heads do not share their trunk
 * bit for bit or differ in shape; -1 on an error. */
int rm_trunk_unit_from_heads(rm_mlp *unit, const rm_member *heads, int E);



/* The heads' objectives on a unit's scores [2n, E] (row i pair i's winner, row n+i its
 * loser; column e head e): dscores [2n, E] = scale x d(sum over heads of head e's
 * weighted summed loss) / d scores, so that the trunk's gradient is the sum of the
 * heads'. weights: [E][n] each pair's weight for each head, or NULL (all 1). clf: the
 * classification objective (winner 1, loser 0), else Bradley-Terry. head_loss[e] = head
 * e's weighted summed loss; returns their sum. column, dcolumn: scratch of 2n each. */
double rm_trunk_heads_objective(int clf, const float *scores, size_t n, int E, const float *weights, float scale,
                                float *dscores, float *head_loss, float *column, float *dcolumn);


/* members.h5: the group holding a shared trunk's layers once (its heads' groups name it in
 * their attribute `trunk`). */
#define RM_TRUNK_GROUP "/trunk"

#endif
