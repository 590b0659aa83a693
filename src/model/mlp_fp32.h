/* The fp32 layers of the MLP and its double-precision twin (src/model/mlp_fp32.c), internal
 * to the model layer and its tests.
 *
 * The double MLP runs the same layer code as the float model (src/model/mlp_template.h instantiated twice), so the
 * finite-difference gradient tests check exactly what trains, without float round-off
 * drowning the comparison. Not part of the public API. */
#ifndef RMENS_MODEL_MLP_FP32_H
#define RMENS_MODEL_MLP_FP32_H

#include "rmens/model/mlp_types.h"

typedef struct {
    int n_layers;
    int dims[RM_MAX_LAYERS + 1];
    size_t n_params;
    double *params;                 /* [n_params], owned; layout as rm_mlp */
    size_t weight_offset[RM_MAX_LAYERS], bias_offset[RM_MAX_LAYERS];
} rm_mlp64;

typedef struct {
    int capacity;
    double *act[RM_MAX_LAYERS + 1];
    double *grad_act[2];
    double *packed;                 /* never set: the doubles have no packed weights */
    const double *packed_params;
    size_t packed_offset[RM_MAX_LAYERS];
} rm_mlp64_workspace;

/* dbias (OC) += the column sums of dout (B,OC) in fp32, over the threads; paired: each
 * pair's two rows added first (rm_mlp_backward_pairs). The fp32 layers' own code, for the
 * bf16 layers (src/model/mlp_bf16.c), whose biases stay fp32. */
void rm_mlp_bias_grad_f32(float *dbias, const float *dout, int B, int OC, int paired);

/* The fp32 layers (src/model/mlp_fp32.c), which the dispatcher in model.c runs when the
 * products are not bf16: the workspace's fp32 buffers, the forward pass (`again`: the
 * first layer's packing of X kept from the previous forward) and the backward pass
 * (`paired`: rows 2i and 2i+1 are a pair, rm_mlp_backward_pairs). */
int rm_mlp_f32_workspace_create(rm_mlp_workspace *ws, const rm_mlp *m, int capacity);
void rm_mlp_f32_workspace_free(rm_mlp_workspace *ws);
void rm_mlp_f32_forward(const rm_mlp *m, rm_mlp_workspace *ws, const float *X, int B, float *scores, int again);
void rm_mlp_f32_backward(const rm_mlp *m, rm_mlp_workspace *ws, const float *X, int B, const float *dscores,
                         float *grads, int paired);

/* A double copy of a float model (same architecture and values). */
int rm_mlp64_from_float(rm_mlp64 *out, const rm_mlp *m);
void rm_mlp64_free(rm_mlp64 *m);
int rm_mlp64_workspace_create(rm_mlp64_workspace *ws, const rm_mlp64 *m, int capacity);
void rm_mlp64_workspace_free(rm_mlp64_workspace *ws);
void rm_mlp64_forward(const rm_mlp64 *m, rm_mlp64_workspace *ws, const double *X, int B, double *scores);
void rm_mlp64_backward(const rm_mlp64 *m, rm_mlp64_workspace *ws, const double *X, int B, const double *dscores, double *grads);
double rm_bt_loss64(const double *scores, int n_pairs, double *dscores, int *n_correct);
double rm_clf_loss64(const double *scores, const double *labels, int n, double *dscores, int *n_correct);

#endif
