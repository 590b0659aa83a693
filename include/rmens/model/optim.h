/* Adam (Kingma & Ba) with optional decoupled weight decay (Loshchilov & Hutter). */
#ifndef RMENS_OPTIM_H
#define RMENS_OPTIM_H

#include <stddef.h>

typedef struct {
    size_t n;
    float *m, *v;  /* first and second moments [n], owned */
    long long step;
    float beta1, beta2, eps;
} rm_adam;

int rm_adam_create(rm_adam *a, size_t n);
void rm_adam_free(rm_adam *a);
/* One step: params -= lr * (mhat / (sqrt(vhat) + eps) + weight_decay * params). */
void rm_adam_step(rm_adam *a, float *params, const float *grads, float lr, float weight_decay);
/* The same step, leaving grads[0..n) zero: ready for the next step's accumulation. */
void rm_adam_step_clear(rm_adam *a, float *params, float *grads, float lr, float weight_decay);

#endif
