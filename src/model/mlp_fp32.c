/* The MLP's layers and objectives in fp32 (the fast path) and double (the gradient tests):
 * mlp_template.h instantiated for both. model.c dispatches each product to these or to the
 * bf16 layers (mlp_bf16.c); see src/model/mlp_fp32.h. */
#include "mlp_fp32.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/kernels/matmul.h"
#include "rmens/kernels/tiled_blas.h"

#define REAL float
#define T(name) name##_f32
#define GEMM rm_tiled_sgemm
#define GEMV rm_tiled_sgemv
#define TILE_GEMM cblas_sgemm
#define TILE_GEMV cblas_sgemv
#define MLP rm_mlp
#define MLP_WS rm_mlp_workspace
#include "mlp_template.h"
#undef REAL
#undef T
#undef GEMM
#undef GEMV
#undef TILE_GEMM
#undef TILE_GEMV
#undef MLP
#undef MLP_WS

#define REAL double
#define T(name) name##_f64
#define GEMM rm_tiled_dgemm
#define GEMV rm_tiled_dgemv
#define TILE_GEMM cblas_dgemm
#define TILE_GEMV cblas_dgemv
#define MLP rm_mlp64
#define MLP_WS rm_mlp64_workspace
#include "mlp_template.h"
#undef REAL
#undef T
#undef GEMM
#undef GEMV
#undef TILE_GEMM
#undef TILE_GEMV
#undef MLP
#undef MLP_WS

void rm_mlp_bias_grad_f32(float *dbias, const float *dout, int B, int OC, int paired)
{
    bias_grad_job_f32 job = {dbias, dout, B, OC, paired};
    rm_tiled_run(bias_grad_tile_f32, &job, rm_tiled_count(OC));
}


int rm_mlp_f32_workspace_create(rm_mlp_workspace *ws, const rm_mlp *m, int capacity)
{
    return workspace_create_f32(ws, m, capacity);
}

void rm_mlp_f32_workspace_free(rm_mlp_workspace *ws) { workspace_free_f32(ws); }

void rm_mlp_f32_forward(const rm_mlp *m, rm_mlp_workspace *ws, const float *X, int B, float *scores, int again)
{
    mlp_forward_f32(m, ws, X, B, scores, again);
}

void rm_mlp_f32_backward(const rm_mlp *m, rm_mlp_workspace *ws, const float *X, int B, const float *dscores,
                         float *grads, int paired)
{
    mlp_backward_f32(m, ws, X, B, dscores, grads, paired);
}

double rm_bt_loss(const float *scores, int n_pairs, float *dscores, int *n_correct)
{
    return bt_loss_f32(scores, n_pairs, dscores, n_correct);
}

double rm_clf_loss(const float *scores, const float *labels, int n, float *dscores, int *n_correct)
{
    return clf_loss_f32(scores, labels, n, dscores, n_correct);
}

/* ---- double precision, for the gradient tests ---- */

int rm_mlp64_from_float(rm_mlp64 *out, const rm_mlp *m)
{
    memset(out, 0, sizeof *out);
    out->n_layers = m->n_layers;
    memcpy(out->dims, m->dims, sizeof out->dims);
    memcpy(out->weight_offset, m->weight_offset, sizeof out->weight_offset);
    memcpy(out->bias_offset, m->bias_offset, sizeof out->bias_offset);
    out->n_params = m->n_params;
    out->params = rm_alloc(m->n_params, sizeof(double), "model parameters (double)");
    if (!out->params) return -1;
    for (size_t i = 0; i < m->n_params; i++) out->params[i] = m->params[i];
    return 0;
}

void rm_mlp64_free(rm_mlp64 *m)
{
    free(m->params);
    memset(m, 0, sizeof *m);
}

int rm_mlp64_workspace_create(rm_mlp64_workspace *ws, const rm_mlp64 *m, int capacity)
{
    return workspace_create_f64(ws, m, capacity);
}

void rm_mlp64_workspace_free(rm_mlp64_workspace *ws) { workspace_free_f64(ws); }

void rm_mlp64_forward(const rm_mlp64 *m, rm_mlp64_workspace *ws, const double *X, int B, double *scores)
{
    mlp_forward_f64(m, ws, X, B, scores, 0);
}

void rm_mlp64_backward(const rm_mlp64 *m, rm_mlp64_workspace *ws, const double *X, int B, const double *dscores, double *grads)
{
    mlp_backward_f64(m, ws, X, B, dscores, grads, 0);
}

double rm_bt_loss64(const double *scores, int n_pairs, double *dscores, int *n_correct)
{
    return bt_loss_f64(scores, n_pairs, dscores, n_correct);
}

double rm_clf_loss64(const double *scores, const double *labels, int n, double *dscores, int *n_correct)
{
    return clf_loss_f64(scores, labels, n, dscores, n_correct);
}
