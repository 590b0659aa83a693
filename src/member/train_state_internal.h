/* The training loop's internal state, shared by src/member/train.c (the loop) and
 * src/member/train_state.c (saving it for a checkpoint and resuming from one). */
#ifndef RMENS_MEMBER_TRAIN_STATE_INTERNAL_H
#define RMENS_MEMBER_TRAIN_STATE_INTERNAL_H

#include <mpi.h>

#include "rmens/model/optim.h"
#include "rmens/member/member.h"
#include "rmens/member/train_state.h"
#include "rmens/member/pairs.h"
#include "train_rows.h"

/* Where a member's training time goes (the per-member line "time: ..."): wall seconds of
 * each phase on this rank, timed around the calls. */
enum {
    PHASE_SETUP,       /* model, lists, buffers, the rounded rows */
    PHASE_GATHER,      /* the minibatch's rows */
    PHASE_FORWARD,
    PHASE_OBJECTIVE,   /* loss and its gradient w.r.t. the scores */
    PHASE_BACKWARD,
    PHASE_SUM,         /* the gradient's Allreduce over the member's ranks */
    PHASE_ADAM,
    PHASE_VALIDATION,
    PHASE_FINISH,      /* the kept weights, standardisation over the train responses */
    N_PHASES
};

/* Everything the training loop allocates, freed in one place. */
typedef struct {
    rm_mlp_workspace ws;
    rm_adam adam;
    float *X, *scores, *dscores, *labels;
    float *grads;         /* [n_params + 2]: the gradient, the minibatch's summed loss, stop requests */
    float *best_params;
    uint32_t *train_ids;  /* pair ids of this member's training list (bootstrap: with repeats) */
    uint32_t *val_ids;    /* pair ids of its validation list */
    uint32_t *perm;       /* this epoch's order of train_ids (draw: the identity between steps) */
    uint32_t *swaps;      /* [batch] a drawn step's swaps, to undo them */
    uint32_t *batch_ids;
    size_t n_list;        /* entries of the training list */
    float *local_scores;  /* standardisation scores of this rank's share of the items */
    /* a shared trunk's E heads (rmens/member/trunk.h); heads = 1 for an independent member */
    int heads;
    float *head_weights;  /* [heads][n_list] bootstrap weights of the list entries, or NULL (all 1) */
    uint32_t *batch_pos;  /* [share_cap] list positions of batch_ids (with head_weights) */
    float *batch_weights; /* [heads][share_cap] the step's pairs' weights (with head_weights) */
    float *column, *dcolumn; /* [rows_cap] one head's scores and their gradients */
    rm_train_rows rows;   /* bf16: the pairs' rows rounded once (train_rows.h); rows.table NULL: fp32 X */
    void *X_low;          /* [rows_cap, dim] the step's rows gathered from rows.table */
    double phase[N_PHASES]; /* seconds per phase (enum above) */
} train_buffers;

/* The rules of the loop (train.*, pairs.both_orders, ensemble.data, model.objective). */
typedef struct {
    int clf, draw, rise, restore_best;
    size_t batch;
    int patience;
    float l2; /* train.l2 */
} loop_rules;

/* The loop's position and selection state: what a checkpoint saves beside the member. */
typedef struct {
    double best_val;
    int since_best;
    double train_time;
    int first_epoch;
    size_t first_start;
} loop_state;

/* One unit being trained: an independent member (heads = 1, its model out[0].mlp) or a
 * shared trunk with its heads (rmens/member/trunk.h: its model `unit`, the heads split off at
 * the end). */
typedef struct {
    const rm_settings *cfg;
    const rm_train_data *data;
    const rm_pairs *pairs;
    MPI_Comm group;
    int rank, size, index, heads, epochs;
    rm_member *out; /* [heads] */
    rm_mlp unit, *mlp;
    loop_rules r;
    size_t n_list, n_val, share_cap, epoch_entries;
    double per_pair_terms;
    double *mean_val;     /* [epochs] the mean over heads of the validation loss: what selects */
    double *resumed_loss; /* [heads] each head's loss summed over the resumed epoch's steps so far */
} unit_run;

/* ---- src/member/train_state.c ---- */

/* The mean over heads of epoch `epoch`'s validation loss, summed in head order. */
double rm_train_heads_mean_val(const unit_run *u, int epoch);
/* An independent member (heads = 1) from control's member and state; resumed_loss[0] its
 * partial epoch loss. */
int rm_train_resume_member(rm_member *out, train_buffers *b, loop_state *ls, const rm_train_control *control,
                           int epochs, double *resumed_loss);
/* A shared trunk's unit from its heads' checkpointed parts (controls[heads]). */
int rm_train_resume_unit(unit_run *u, train_buffers *b, loop_state *ls, const rm_train_control *controls);
/* The state after a step into control->saved (heads = 1), or every head's part of the
 * unit's into controls[e].saved and its weights into u->out[e] (shared trunk). */
int rm_train_save_member(rm_train_control *control, const train_buffers *b, const loop_state *ls, size_t n_params,
                         int epoch, size_t next_start, double epoch_loss, double epoch_seconds);
int rm_train_save_unit(unit_run *u, rm_train_control *controls, const train_buffers *b, const loop_state *ls,
                       int epoch, size_t next_start, const double *head_loss, double epoch_seconds);

#endif
