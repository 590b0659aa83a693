/* The state of an interrupted member's training besides the member itself: what a
 * checkpoint stores to continue bit for bit (src/member/train_state.c). */
#ifndef RMENS_MEMBER_TRAIN_STATE_H
#define RMENS_MEMBER_TRAIN_STATE_H

#include <stddef.h>

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

#endif
