/* The MLP's data: its parameter layout and the workspace of a forward/backward pass,
 * shared by the fp32 layers, the bf16 layers and the dispatcher over them
 * (rmens/model/model.h says what they hold and how the results are laid out). */
#ifndef RMENS_MODEL_MLP_TYPES_H
#define RMENS_MODEL_MLP_TYPES_H

#include <stddef.h>

#define RM_MAX_LAYERS 9 /* hidden layers + output layer */

typedef struct {
    int n_layers;                   /* linear layers = hidden widths + 1 */
    int dims[RM_MAX_LAYERS + 1];    /* dims[0] = D, dims[n_layers] = 1 (E: a shared-trunk unit) */
    size_t n_params;
    float *params;                  /* [n_params], owned */
    size_t weight_offset[RM_MAX_LAYERS], bias_offset[RM_MAX_LAYERS];
} rm_mlp;

/* Activations of one forward pass, kept for backward; sized for up to `capacity` rows. */
typedef struct {
    int capacity;
    float *act[RM_MAX_LAYERS + 1]; /* act[l]: output of layer l-1 after ReLU, [B, dims[l]], l = 1..n_layers-1;
                                      act[0] (the input) and act[n_layers] (the scores) unused */
    float *grad_act[2];            /* scratch for backward, [B, max width] each */
    float *packed;                 /* or the weights in the products' own layout (rm_mlp_workspace_pack) */
    const float *packed_params;    /* ... of the model with these params */
    size_t packed_offset[RM_MAX_LAYERS]; /* layer l's in packed; (size_t)-1: none */
    /* model.precision = bf16 (rmens/kernels/precision.h): the products' operands rounded to bf16,
     * in the backend's form (include/rmens/kernels/matmul.h); NULL in fp32 */
    void *low_weights;             /* [n_params] */
    void *low_act[RM_MAX_LAYERS];  /* input of each hidden (product) layer, [capacity, dims[l]] */
    void *low_grad[2];             /* output gradients of product layers, [capacity, max width] */
    size_t low_elem;               /* bytes per element of the above */
    const float *low_weights_of;   /* rm_mlp_forward_frozen: the parameters low_weights hold */
    void *low_packed[RM_MAX_LAYERS]; /* frozen weights of product layer l in the kernel's layout
                                        (rm_lowp_pack_b), or NULL: the products read low_weights */
    const void *low_input;         /* the last forward's rounded batch (low_act[0] or prepared rows) */
} rm_mlp_workspace;

#endif
