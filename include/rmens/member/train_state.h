/* Interrupting a member's training and continuing it bit for bit: the control a caller
 * passes, and the state besides the member itself that a checkpoint stores
 * (src/member/train_state.c). */
#ifndef RMENS_MEMBER_TRAIN_STATE_H
#define RMENS_MEMBER_TRAIN_STATE_H

#include <stddef.h>

#include "rmens/member/member.h"

/* Everything besides the member itself (weights, history, epochs_run, best_epoch,
 * pairs_trained) that training needs to continue bit for bit from a step boundary. */
typedef struct {
    int next_epoch;          /* 0-based epoch to continue */
    long long next_start;    /* position in that epoch's pair order of the next minibatch */
    long long adam_step;     /* Adam's step count */
    double epoch_loss;       /* loss summed over the epoch's steps so far */
    double best_val;         /* lowest validation loss so far (INFINITY before any) */
    int since_best;          /* epochs since best_val */
    double train_time;       /* seconds of training so far (for progress and ETA only) */
    size_t n_params;
    float *adam_m, *adam_v, *best_params; /* [n_params] each, owned */
} rm_train_state;

int rm_train_state_alloc(rm_train_state *s, size_t n_params);
void rm_train_state_free(rm_train_state *s);

/* Interrupting and resuming a member's training (rm_train_member_controlled,
 * rmens/member/family.h). */
typedef struct {
    /* Polled on every rank before each step; non-zero asks to stop at the next step
     * boundary. With S > 1 the request of any rank of the group stops them all together. */
    int (*should_stop)(void *ctx);
    void *stop_ctx;
    /* Continue from a checkpoint: member weights and history in *resume_member, the rest
     * in *resume_state (both as saved by an interrupted call). NULL: start afresh. */
    const rm_member *resume_member;
    const rm_train_state *resume_state;
    /* Out: set when training stopped on request; then *out holds the weights and history
     * so far (no standardisation) and *saved the state (caller frees it). */
    int interrupted;
    rm_train_state saved;
} rm_train_control;

#endif
