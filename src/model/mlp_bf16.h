/* The MLP's layers with bf16 products (model.precision = bf16; internal to rmens_core).
 *
 * Mixed precision as in PyTorch's autocast: every product of a hidden layer takes its
 * operands rounded to bf16 (inputs, weights, output gradients) and accumulates in fp32
 * into fp32 outputs; biases, ReLU, the fp32 activations kept for the backward, the scalar
 * head (one output: a memory-bound GEMV that bf16 would not speed up), gradients, master
 * weights and Adam stay fp32. The rounded operands live in the workspace: the weights
 * (once per forward, or once per workspace when scoring with frozen weights), the batch
 * input and each hidden activation (written by the tile that computes it), and the
 * output gradients of the backward. Tiles are those of the fp32 path (RM_TILE_ROWS
 * output rows, fixed by shape), each product single-threaded on the tile's worker. */
#ifndef RMENS_MLP_BF16_H
#define RMENS_MLP_BF16_H

#include "rmens/model/mlp_types.h"

/* Allocate the workspace's rounded operands for the current backend (idempotent). */
int rm_mlp_bf16_workspace_alloc(rm_mlp_workspace *ws, const rm_mlp *m);
void rm_mlp_bf16_workspace_free(rm_mlp_workspace *ws);

/* As rm_mlp_forward / rm_mlp_backward(_pairs). frozen: the parameters have not changed
 * since the last frozen call on this workspace (scoring), so the rounded weights are
 * reused. X_low: NULL, or X already rounded (rm_mlp_input). -1 with an error if a product
 * cannot be planned (memory). */
int rm_mlp_bf16_forward(const rm_mlp *m, rm_mlp_workspace *ws, const float *X, const void *X_low, int B,
                        float *scores, int frozen);
/* dst = bf16(src) in the backend's form, in fixed chunks over the threads. */
void rm_mlp_bf16_round(void *dst, const float *src, size_t n);
int rm_mlp_bf16_backward(const rm_mlp *m, rm_mlp_workspace *ws, const float *X, int B, const float *dscores,
                         float *grads, int paired);

#endif
