/* The reward-model MLP (see include/rmens/model/model.h): its architecture and parameter
 * layout, and the precision dispatcher that runs every product on the fp32 layers
 * (mlp_fp32.c, from mlp_template.h) or the bf16 layers (mlp_bf16.c). */
#include "rmens/model/model.h"

#include <limits.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlp_bf16.h"
#include "mlp_fp32.h"
#include "rmens/base/common.h"
#include "rmens/base/rng.h"
#include "rmens/kernels/matmul.h"
#include "rmens/kernels/precision.h"
#include "rmens/kernels/tiled_blas.h"

/* Architecture and parameter layout: W0, b0, W1, b1, ... Every width must fit a BLAS
 * int, and the parameter count an MPI count (gradients travel in one MPI_Allreduce). */
static int mlp_layout(int dim, const int *hidden, int n_hidden, int n_outputs, int *n_layers, int *dims,
                      size_t *weight_offset, size_t *bias_offset, size_t *n_params)
{
    if (n_outputs < 1) return rm_errorf("model: %d outputs; at least 1 is needed", n_outputs);
    if (dim < 1) return rm_errorf("model: input dimension %d must be at least 1", dim);
    if (n_hidden < 0 || n_hidden > RM_MAX_LAYERS - 1)
        return rm_errorf("model.hidden: %d hidden layers; at most %d are supported", n_hidden, RM_MAX_LAYERS - 1);
    dims[0] = dim;
    for (int l = 0; l < n_hidden; l++) {
        if (hidden[l] < 1) return rm_errorf("model.hidden: width %d of hidden layer %d must be at least 1", hidden[l], l + 1);
        dims[l + 1] = hidden[l];
    }
    *n_layers = n_hidden + 1;
    dims[*n_layers] = n_outputs;
    size_t total = 0;
    for (int l = 0; l < *n_layers; l++) {
        size_t weights = (size_t)dims[l] * (size_t)dims[l + 1];
        weight_offset[l] = total;
        bias_offset[l] = total + weights;
        total += weights + (size_t)dims[l + 1];
        if (total > (size_t)INT_MAX - 2)
            return rm_errorf("model.hidden: a %d-input model with these widths has more than %d parameters, "
                             "the limit of one MPI message; use narrower layers", dim, INT_MAX - 2);
    }
    *n_params = total;
    return 0;
}

void rm_mlp_set_threads(int threads) { rm_tiled_set_threads(threads); }

int rm_mlp_create(rm_mlp *m, int dim, const int *hidden, int n_hidden)
{
    return rm_mlp_create_outputs(m, dim, hidden, n_hidden, 1);
}

int rm_mlp_create_outputs(rm_mlp *m, int dim, const int *hidden, int n_hidden, int n_outputs)
{
    memset(m, 0, sizeof *m);
    if (mlp_layout(dim, hidden, n_hidden, n_outputs, &m->n_layers, m->dims, m->weight_offset, m->bias_offset, &m->n_params) != 0)
        return -1;
    m->params = rm_calloc(m->n_params, sizeof(float), "model parameters");
    if (!m->params) return -1;
    return 0;
}

void rm_mlp_free(rm_mlp *m)
{
    free(m->params);
    memset(m, 0, sizeof *m);
}

void rm_mlp_init_uniform(rm_mlp *m, uint64_t seed, uint64_t stream)
{
    for (int l = 0; l < m->n_layers; l++) rm_mlp_init_uniform_layer(m, l, seed, stream);
}

void rm_mlp_init_uniform_layer(rm_mlp *m, int l, uint64_t seed, uint64_t stream)
{
    /* The counter is the parameter's position in the flat array: any rank draws the same
     * initial model, and no state is carried between layers. */
    double bound = 1.0 / sqrt((double)m->dims[l]);
    size_t begin = m->weight_offset[l], end = m->bias_offset[l] + (size_t)m->dims[l + 1];
    for (size_t i = begin; i < end; i++) m->params[i] = (float)((2.0 * rm_rand_uniform(seed, stream, i) - 1.0) * bound);
}

double rm_mlp_forward_flops(const rm_mlp *m, size_t rows)
{
    /* 2 FLOPs per multiply-add of every weight per row: 2 B (D H1 + H1 H2 + H2) */
    double macs = 0;
    for (int l = 0; l < m->n_layers; l++) macs += (double)m->dims[l] * m->dims[l + 1];
    return 2.0 * (double)rows * macs;
}

double rm_mlp_backward_flops(const rm_mlp *m, size_t rows)
{
    /* weight gradients of every layer, plus input gradients of every layer but the first */
    double macs = 0;
    for (int l = 0; l < m->n_layers; l++) {
        macs += (double)m->dims[l] * m->dims[l + 1];
        if (l > 0) macs += (double)m->dims[l] * m->dims[l + 1];
    }
    return 2.0 * (double)rows * macs;
}

static int bf16_products(void) { return rm_precision_backend() != RM_MATMUL_FP32; }

int rm_mlp_workspace_create(rm_mlp_workspace *ws, const rm_mlp *m, int capacity)
{
    if (rm_mlp_f32_workspace_create(ws, m, capacity) != 0) return -1;
    if (bf16_products() && rm_mlp_bf16_workspace_alloc(ws, m) != 0) {
        rm_mlp_f32_workspace_free(ws);
        return -1;
    }
    return 0;
}

void rm_mlp_workspace_free(rm_mlp_workspace *ws)
{
    rm_mlp_bf16_workspace_free(ws);
    rm_mlp_f32_workspace_free(ws);
}

/* The workspace made its bf16 plans and buffers where errors are returned; a product of a
 * new shape that cannot be planned later is out of memory inside a step: say so and end. */
static void bf16_failed(void)
{
    fprintf(stderr, "rmens: error: %s\n", rm_last_error());
    fflush(stderr);
    abort();
}

int rm_mlp_workspace_pack(rm_mlp_workspace *ws, const rm_mlp *m)
{
    free(ws->packed);
    ws->packed = NULL;
    ws->packed_params = NULL;
    if (bf16_products()) return 0; /* bf16 keeps its own rounded weights (rm_mlp_forward_frozen) */
    size_t total = 0;
    for (int l = 0; l < m->n_layers; l++) {
        /* the hidden layers' products: out = inp @ W^T; the head (OC = 1) is a GEMV */
        size_t n = m->dims[l + 1] > 1 ? rm_own_sgemm_packed_b_size(m->dims[l + 1], m->dims[l]) : 0;
        ws->packed_offset[l] = n ? total : (size_t)-1;
        total += n;
    }
    if (total == 0) return 0;
    ws->packed = rm_alloc_aligned((total * sizeof(float) + 63) / 64 * 64, 64, "packed weights for scoring");
    if (!ws->packed) return -1;
    for (int l = 0; l < m->n_layers; l++)
        if (ws->packed_offset[l] != (size_t)-1)
            rm_own_sgemm_pack_b(CblasTrans, m->dims[l + 1], m->dims[l], m->params + m->weight_offset[l], m->dims[l],
                                ws->packed + ws->packed_offset[l]);
    ws->packed_params = m->params;
    return 0;
}

void rm_mlp_forward(const rm_mlp *m, rm_mlp_workspace *ws, const float *X, int B, float *scores)
{
    if (!bf16_products()) rm_mlp_f32_forward(m, ws, X, B, scores, 0);
    else if (rm_mlp_bf16_forward(m, ws, X, NULL, B, scores, 0) != 0) bf16_failed();
}

void rm_mlp_forward_again(const rm_mlp *m, rm_mlp_workspace *ws, const float *X, int B, float *scores)
{
    if (!bf16_products()) rm_mlp_f32_forward(m, ws, X, B, scores, 1);
    else if (rm_mlp_bf16_forward(m, ws, X, NULL, B, scores, 0) != 0) bf16_failed();
}

int rm_mlp_takes_rounded_rows(const rm_mlp *m)
{
    return bf16_products() && m->n_layers > 1 && m->dims[1] > 1; /* the first layer is a bf16 product */
}

void rm_mlp_forward_rounded(const rm_mlp *m, rm_mlp_workspace *ws, const void *X_low, int B, float *scores)
{
    if (!rm_mlp_takes_rounded_rows(m) || !X_low) {
        fprintf(stderr, "rmens: error: internal: rm_mlp_forward_rounded without a bf16 first layer or rows\n");
        abort();
    }
    if (rm_mlp_bf16_forward(m, ws, NULL, X_low, B, scores, 0) != 0) bf16_failed();
}

int rm_mlp_input_create(rm_mlp_input *in, size_t max_values)
{
    memset(in, 0, sizeof *in);
    if (!bf16_products()) return 0;
    in->elem = rm_lowp_size();
    in->low = rm_alloc(max_values, in->elem, "bf16 copy of the scored rows");
    if (!in->low) return -1;
    in->capacity = max_values;
    return 0;
}

void rm_mlp_input_free(rm_mlp_input *in)
{
    free(in->low);
    memset(in, 0, sizeof *in);
}

void rm_mlp_input_prepare(rm_mlp_input *in, const float *X, size_t n)
{
    in->rows = X;
    in->n = n;
    in->uses = 0;
    if (in->low && n <= in->capacity) rm_mlp_bf16_round(in->low, X, n);
}

void rm_mlp_forward_frozen(const rm_mlp *m, rm_mlp_workspace *ws, const float *X, rm_mlp_input *in, int B,
                           float *scores)
{
    if (!bf16_products()) {
        /* the first layer's packing of X kept from the first forward after the prepare */
        int again = in && in->rows == X && in->uses > 0;
        if (in) in->uses++;
        rm_mlp_f32_forward(m, ws, X, B, scores, again);
        return;
    }
    /* the prepared copy is used only if it is this backend's, of these rows, complete */
    const void *X_low = in && in->low && in->rows == X && in->n >= (size_t)B * (size_t)m->dims[0] &&
                                in->n <= in->capacity && in->elem == rm_lowp_size()
                            ? in->low
                            : NULL;
    if (rm_mlp_bf16_forward(m, ws, X, X_low, B, scores, 1) != 0) bf16_failed();
}

void rm_mlp_backward(const rm_mlp *m, rm_mlp_workspace *ws, const float *X, int B, const float *dscores, float *grads)
{
    if (!bf16_products()) rm_mlp_f32_backward(m, ws, X, B, dscores, grads, 0);
    else if (rm_mlp_bf16_backward(m, ws, X, B, dscores, grads, 0) != 0) bf16_failed();
}

void rm_mlp_backward_pairs(const rm_mlp *m, rm_mlp_workspace *ws, const float *X, int B, const float *dscores, float *grads)
{
    if (!bf16_products()) rm_mlp_f32_backward(m, ws, X, B, dscores, grads, B % 2 == 0);
    else if (rm_mlp_bf16_backward(m, ws, X, B, dscores, grads, B % 2 == 0) != 0) bf16_failed();
}

