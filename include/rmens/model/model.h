/* The reward model: an MLP  D -> h1 -> ... -> hL -> 1  with ReLU, on OpenBLAS.
 *
 * Parameters live in one contiguous float array, layer by layer (W0, b0, W1, b1, ...),
 * W_l row-major [out, in] as in PyTorch's nn.Linear, so Adam and MPI_Allreduce act on
 * one buffer and a member loads into PyTorch by copying arrays. An empty hidden list is
 * a linear reward model. Forward and backward work on whole minibatches with
 * cblas_sgemm (llm.c style: each layer a *_forward / *_backward pair), threaded by tiles
 * so that results do not depend on the thread count. */
#ifndef RMENS_MODEL_H
#define RMENS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "rmens/model/mlp_types.h"

/* Threads every forward, backward and scoring call of this process uses (default 1).
 * Results are bitwise the same for any count: every element of a product is computed the
 * same way whichever thread computes it (include/rmens/kernels/tiled_blas.h), and OpenBLAS itself stays
 * single-threaded. */
void rm_mlp_set_threads(int threads);

int rm_mlp_create(rm_mlp *m, int dim, const int *hidden, int n_hidden);
/* The same with n_outputs scores per row (a shared trunk's E heads, rmens/member/trunk.h): the
 * scores of rm_mlp_forward are then [B, n_outputs] row-major and dscores of the backward
 * the same shape. Everything else holds as for one output. */
int rm_mlp_create_outputs(rm_mlp *m, int dim, const int *hidden, int n_hidden, int n_outputs);
void rm_mlp_free(rm_mlp *m);
/* PyTorch's default nn.Linear initialisation: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
 * drawn from (seed, stream). */
void rm_mlp_init_uniform(rm_mlp *m, uint64_t seed, uint64_t stream);
/* Layer l alone, with the counters rm_mlp_init_uniform gives it. */
void rm_mlp_init_uniform_layer(rm_mlp *m, int l, uint64_t seed, uint64_t stream);
/* FLOPs of forward and backward (no input gradient at the first layer) for B rows. */
double rm_mlp_forward_flops(const rm_mlp *m, size_t rows);
double rm_mlp_backward_flops(const rm_mlp *m, size_t rows);

int rm_mlp_workspace_create(rm_mlp_workspace *ws, const rm_mlp *m, int capacity);
void rm_mlp_workspace_free(rm_mlp_workspace *ws);
/* For scoring with a model that does not change: ws keeps m's weights packed for the
 * forward's products (10 MB at the reference shapes), which every rm_mlp_forward of m
 * with ws then uses instead of packing them again (4% of a forward on 2 threads). Valid
 * until m's parameters change: call it again then (training never does; the bits are the
 * same either way). A no-op (0) where the products have no packing of their own. */
int rm_mlp_workspace_pack(rm_mlp_workspace *ws, const rm_mlp *m);

/* scores[B] = MLP(X[B, D]); keeps activations in ws for backward. The products run in the
 * process's precision (rmens/kernels/precision.h). */
void rm_mlp_forward(const rm_mlp *m, rm_mlp_workspace *ws, const float *X, int B, float *scores);
/* Rows that several models score (an ensemble scoring one block), prepared once: in bf16
 * their rounded copy, made over the threads, so that E members do not round the same rows
 * E times. In fp32 nothing is kept. */
typedef struct {
    void *low;        /* rounded rows in the bf16 backend's form, or NULL */
    size_t capacity;  /* values low can hold */
    size_t elem;      /* bytes per value of low */
    const float *rows;
    size_t n;         /* values prepared from `rows` */
    int uses;         /* forwards on these rows since they were prepared */
} rm_mlp_input;
int rm_mlp_input_create(rm_mlp_input *in, size_t max_values);
void rm_mlp_input_free(rm_mlp_input *in);
/* Prepare X (n = rows * D values) for the scoring calls that follow. */
void rm_mlp_input_prepare(rm_mlp_input *in, const float *X, size_t n);

/* rm_mlp_forward for scoring with parameters that do not change between the calls on this
 * workspace: in bf16 the weights are rounded on the first call only. `in`: NULL, or X
 * prepared by rm_mlp_input_prepare: bf16 uses its rounded rows as they are; fp32 packs the
 * rows for the first layer on the first forward after the prepare only (as
 * rm_mlp_forward_again). The bits are those of rm_mlp_forward either way. */
void rm_mlp_forward_frozen(const rm_mlp *m, rm_mlp_workspace *ws, const float *X, rm_mlp_input *in, int B,
                           float *scores);
/* The same, for the X (same pointer, same values) that the last rm_mlp_forward of this
 * process scored, with another model: scoring a block with every member of an ensemble,
 * the block is packed for the first layer's product once (repacked if another forward
 * came in between). The bits are the same as rm_mlp_forward's. */
void rm_mlp_forward_again(const rm_mlp *m, rm_mlp_workspace *ws, const float *X, int B, float *scores);
/* Training on rows kept rounded for the products: where the first layer's product runs in
 * bf16 (rm_mlp_takes_rounded_rows), a caller that scores the same rows at every step may
 * round them once (rm_lowp_round, the backend's form) and pass them here instead of the
 * fp32 rows; the backward that follows then takes X = NULL. Rounding is per value, so the
 * bits are those of rm_mlp_forward on the fp32 rows. */
int rm_mlp_takes_rounded_rows(const rm_mlp *m);
void rm_mlp_forward_rounded(const rm_mlp *m, rm_mlp_workspace *ws, const void *X_low, int B, float *scores);
/* grads[n_params] += d loss / d params, given dscores[B] = d loss / d scores and the
 * activations of the last forward on the same X (NULL after rm_mlp_forward_rounded). */
void rm_mlp_backward(const rm_mlp *m, rm_mlp_workspace *ws, const float *X, int B, const float *dscores, float *grads);
/* The same for B = 2n rows that are n pairs: row i and row n+i are the two sides of pair i
 * (winners first, then losers). Bias gradients add each pair's two rows first, so that a
 * gradient which cancels within every pair is exactly zero for any split of the pairs. */
void rm_mlp_backward_pairs(const rm_mlp *m, rm_mlp_workspace *ws, const float *X, int B, const float *dscores, float *grads);

/* Objectives. Both return the summed loss over the batch and write d(summed loss)/d score.
 * bt:  scores = [r_w (B), r_l (B)] for B pairs; loss_i = -log sigmoid(r_w - r_l).
 * clf: scores of 2B items with labels (winner 1, loser 0); BCE with logits. */
double rm_bt_loss(const float *scores, int n_pairs, float *dscores, int *n_correct);
double rm_clf_loss(const float *scores, const float *labels, int n, float *dscores, int *n_correct);

#endif
