/* Saving the training loop's state for a checkpoint and resuming from one: an
 * independent member's, and a shared trunk's split over its heads (rmens/member/trunk.h). */
#include "train_state_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/member/trunk.h"

int rm_train_state_alloc(rm_train_state *s, size_t n_params)
{
    memset(s, 0, sizeof *s);
    s->n_params = n_params;
    s->best_val = INFINITY;
    s->adam_m = rm_alloc(n_params, sizeof(float), "Adam moments");
    s->adam_v = rm_alloc(n_params, sizeof(float), "Adam moments");
    s->best_params = rm_alloc(n_params, sizeof(float), "best parameters");
    if (!s->adam_m || !s->adam_v || !s->best_params) {
        rm_train_state_free(s);
        return -1;
    }
    return 0;
}

void rm_train_state_free(rm_train_state *s)
{
    free(s->adam_m);
    free(s->adam_v);
    free(s->best_params);
    memset(s, 0, sizeof *s);
}

/* Copy a member's history (as far as it got) into `out`, sized for `epochs`. */
static int restore_history(rm_member *out, const rm_member *from, int epochs)
{
    if (from->epochs_run < 0 || from->epochs_run > epochs)
        return rm_errorf("checkpoint: member %d ran %d epochs of %d", from->index, from->epochs_run, epochs);
    for (int e = 0; e < from->epochs_run; e++) {
        out->train_loss[e] = from->train_loss[e];
        out->val_loss[e] = from->val_loss[e];
        out->val_accuracy[e] = from->val_accuracy[e];
    }
    out->epochs_run = from->epochs_run;
    out->best_epoch = from->best_epoch;
    out->pairs_trained = from->pairs_trained;
    return 0;
}

/* ... and its weights. */
static int restore_member(rm_member *out, const rm_member *from, int epochs)
{
    if (from->mlp.n_params != out->mlp.n_params)
        return rm_errorf("checkpoint: member %d has %zu parameters, the model has %zu", from->index,
                         from->mlp.n_params, out->mlp.n_params);
    memcpy(out->mlp.params, from->mlp.params, out->mlp.n_params * sizeof(float));
    return restore_history(out, from, epochs);
}

/* The loop's position from a saved state (every head's holds the same). */
static void resume_position(loop_state *ls, train_buffers *b, const rm_train_state *rs)
{
    b->adam.step = rs->adam_step;
    ls->best_val = rs->best_val;
    ls->since_best = rs->since_best;
    ls->train_time = rs->train_time;
    ls->first_epoch = rs->next_epoch;
    ls->first_start = (size_t)rs->next_start;
}

int rm_train_resume_member(rm_member *out, train_buffers *b, loop_state *ls, const rm_train_control *control, int epochs,
                       double *resumed_loss)
{
    const rm_train_state *rs = control->resume_state;
    const size_t n_params = out->mlp.n_params;
    if (rs->n_params != n_params)
        return rm_errorf("member %d: checkpoint has %zu parameters, the model has %zu", out->index, rs->n_params, n_params);
    if (restore_member(out, control->resume_member, epochs) != 0) return -1;
    memcpy(b->adam.m, rs->adam_m, n_params * sizeof(float));
    memcpy(b->adam.v, rs->adam_v, n_params * sizeof(float));
    memcpy(b->best_params, rs->best_params, n_params * sizeof(float));
    resume_position(ls, b, rs);
    resumed_loss[0] = rs->epoch_loss;
    return 0;
}

static void save_position(rm_train_state *st, const train_buffers *b, const loop_state *ls, int epoch,
                          size_t next_start, double epoch_loss, double epoch_seconds)
{
    st->adam_step = b->adam.step;
    st->next_epoch = epoch;
    st->next_start = (long long)next_start;
    st->epoch_loss = epoch_loss;
    st->best_val = ls->best_val;
    st->since_best = ls->since_best;
    st->train_time = ls->train_time + epoch_seconds;
}

/* Hand the state after a step to the caller, which checkpoints. */
int rm_train_save_member(rm_train_control *control, const train_buffers *b, const loop_state *ls, size_t n_params,
                      int epoch, size_t next_start, double epoch_loss, double epoch_seconds)
{
    rm_train_state *st = &control->saved;
    if (rm_train_state_alloc(st, n_params) != 0) return -1;
    memcpy(st->adam_m, b->adam.m, n_params * sizeof(float));
    memcpy(st->adam_v, b->adam.v, n_params * sizeof(float));
    memcpy(st->best_params, b->best_params, n_params * sizeof(float));
    save_position(st, b, ls, epoch, next_start, epoch_loss, epoch_seconds);
    control->interrupted = 1;
    return 0;
}

/* The mean over heads of epoch `epoch`'s validation loss, summed in head order. */
double rm_train_heads_mean_val(const unit_run *u, int epoch)
{
    if (u->heads == 1) return u->out[0].val_loss[epoch];
    double sum = 0;
    for (int e = 0; e < u->heads; e++) sum += u->out[e].val_loss[epoch];
    return sum / u->heads;
}

/* A shared trunk from its heads' checkpointed parts (rm_train_shared_trunk): the unit's
 * weights, Adam moments and kept weights joined from every head's, each head's history
 * and partial epoch loss, the loop's position, and the selection history recomputed. */
int rm_train_resume_unit(unit_run *u, train_buffers *b, loop_state *ls, const rm_train_control *controls)
{
    const size_t n_head = rm_trunk_head_params(&u->unit);
    for (int e = 0; e < u->heads; e++) {
        const rm_member *from = controls[e].resume_member;
        const rm_train_state *rs = controls[e].resume_state;
        if (!from || !rs)
            return rm_errorf("member %d: the checkpoint has no state for this head of the shared trunk", u->index + e);
        if (rs->n_params != n_head || from->mlp.n_params != n_head)
            return rm_errorf("member %d: checkpoint has %zu parameters, a head of the shared trunk has %zu", u->index + e,
                             from->mlp.n_params, n_head);
        if (restore_history(&u->out[e], from, u->epochs) != 0) return -1;
        rm_trunk_join(&u->unit, u->unit.params, e, from->mlp.params);
        rm_trunk_join(&u->unit, b->adam.m, e, rs->adam_m);
        rm_trunk_join(&u->unit, b->adam.v, e, rs->adam_v);
        rm_trunk_join(&u->unit, b->best_params, e, rs->best_params);
        u->resumed_loss[e] = rs->epoch_loss;
    }
    resume_position(ls, b, controls[0].resume_state);
    for (int epoch = 0; epoch < u->out[0].epochs_run; epoch++) u->mean_val[epoch] = rm_train_heads_mean_val(u, epoch);
    return 0;
}

/* Hand a shared trunk's state to the caller: head e's weights in out[e], its part of the
 * unit's state in controls[e].saved. */
int rm_train_save_unit(unit_run *u, rm_train_control *controls, const train_buffers *b, const loop_state *ls,
                           int epoch, size_t next_start, const double *head_loss, double epoch_seconds)
{
    const size_t n_head = rm_trunk_head_params(&u->unit);
    for (int e = 0; e < u->heads; e++) {
        rm_train_state *st = &controls[e].saved;
        if (rm_trunk_unit_head(&u->unit, e, &u->out[e].mlp) != 0 || rm_train_state_alloc(st, n_head) != 0)
            return rm_error_context("member %d", u->index + e);
        rm_trunk_split(&u->unit, b->adam.m, e, st->adam_m);
        rm_trunk_split(&u->unit, b->adam.v, e, st->adam_v);
        rm_trunk_split(&u->unit, b->best_params, e, st->best_params);
        save_position(st, b, ls, epoch, next_start, head_loss[e], epoch_seconds);
        controls[e].interrupted = 1;
    }
    return 0;
}

