/* The MLP's forward and backward with bf16 products (see src/model/mlp_bf16.h). */
#include "mlp_bf16.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/kernels/matmul.h"
#include "mlp_fp32.h"
#include "rmens/base/common.h"
#include "rmens/kernels/tiled_blas.h"

/* Output rows per bf16 tile, fixed (like RM_TILE_ROWS for fp32): tiles depend on the shape
 * alone, so results do not depend on the thread count. */
#ifndef BF16_TILE_ROWS
#define BF16_TILE_ROWS 256
#endif
static int tile_count(int n) { return n <= 0 ? 0 : (n + BF16_TILE_ROWS - 1) / BF16_TILE_ROWS; }
static int tile_rows(int n, int t) { return n - t * BF16_TILE_ROWS < BF16_TILE_ROWS ? n - t * BF16_TILE_ROWS : BF16_TILE_ROWS; }

#define ROUND_CHUNK ((size_t)1 << 16) /* weights rounded in chunks of this many, over the threads */

static void *lowp_at(void *base, size_t index) { return (char *)base + index * rm_lowp_size(); }

/* Hidden layers are products (several outputs); the scalar head is a GEMV and stays fp32. */
/* A layer whose products run in bf16: every hidden layer wider than 1. The output layer
 * stays fp32 (one score, or a shared trunk's E heads): its product is small, and the
 * scores and their gradients are never rounded. */
static int is_product_layer(const rm_mlp *m, int l) { return l < m->n_layers - 1 && m->dims[l + 1] > 1; }

#if defined(__GNUC__) && !defined(__clang__)
#define RM_VECTORISE __attribute__((optimize("tree-vectorize")))
#else
#define RM_VECTORISE
#endif

/* As in src/model/mlp_template.h: a NaN passes through, so bad data surfaces as a NaN loss. */
RM_VECTORISE static void relu_forward(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = x[i] < 0 ? 0 : x[i];
}

/* ---- plans: the full-tile and the last-tile shape of each product of a layer ---- */

typedef struct {
    const rm_lowp_plan *full, *tail; /* tail: NULL when the rows divide into whole tiles */
} tile_plans;

static int plan_tiles(tile_plans *p, int trans_a, int trans_b, int rows, int N, int K, int lda, int ldb, int ldc,
                      int mode)
{
    p->full = p->tail = NULL;
    if (rows >= BF16_TILE_ROWS) {
        p->full = rm_lowp_plan_get(trans_a, trans_b, BF16_TILE_ROWS, N, K, lda, ldb, ldc, mode);
        if (!p->full) return -1;
    }
    if (rows % BF16_TILE_ROWS) {
        p->tail = rm_lowp_plan_get(trans_a, trans_b, rows % BF16_TILE_ROWS, N, K, lda, ldb, ldc, mode);
        if (!p->tail) return -1;
    }
    return 0;
}

static const rm_lowp_plan *plan_for(const tile_plans *p, int rows) { return rows == BF16_TILE_ROWS ? p->full : p->tail; }

/* layer l on B rows: out (B,OC) = inp (B,C) @ W^T + bias; W (OC,C) as nn.Linear */
static int plan_forward(tile_plans *p, const rm_mlp *m, int l, int B, int packed)
{
    int C = m->dims[l], OC = m->dims[l + 1];
    return plan_tiles(p, 0, 1, B, OC, C, C, C, OC, RM_LOWP_BIAS | (packed ? RM_LOWP_PACKED_B : 0));
}

/* dW (OC,C) += dout^T (OC,B) @ inp (B,C): tiles over the rows of dW */
static int plan_weight_grad(tile_plans *p, const rm_mlp *m, int l, int B)
{
    int C = m->dims[l], OC = m->dims[l + 1];
    return plan_tiles(p, 1, 0, OC, C, B, OC, C, C, RM_LOWP_ACCUMULATE);
}

/* dinp (B,C) = dout (B,OC) @ W (OC,C) */
static int plan_input_grad(tile_plans *p, const rm_mlp *m, int l, int B)
{
    int C = m->dims[l], OC = m->dims[l + 1];
    return plan_tiles(p, 0, 0, B, C, OC, OC, C, C, RM_LOWP_OVERWRITE);
}

/* ---- workspace ---- */

void rm_mlp_bf16_workspace_free(rm_mlp_workspace *ws)
{
    free(ws->low_weights);
    for (int l = 0; l < RM_MAX_LAYERS; l++) free(ws->low_act[l]), free(ws->low_packed[l]);
    memset(ws->low_packed, 0, sizeof ws->low_packed);
    for (int i = 0; i < 2; i++) free(ws->low_grad[i]);
    ws->low_weights = NULL;
    memset(ws->low_act, 0, sizeof ws->low_act);
    memset(ws->low_grad, 0, sizeof ws->low_grad);
    ws->low_elem = 0;
    ws->low_weights_of = NULL;
    ws->low_input = NULL;
}

int rm_mlp_bf16_workspace_alloc(rm_mlp_workspace *ws, const rm_mlp *m)
{
    size_t es = rm_lowp_size();
    if (ws->low_weights && ws->low_elem == es) return 0;
    rm_mlp_bf16_workspace_free(ws);
    size_t cap = (size_t)ws->capacity;
    int widest = 1;
    for (int l = 1; l < m->n_layers; l++) widest = m->dims[l] > widest ? m->dims[l] : widest;
    int ok = (ws->low_weights = rm_alloc(m->n_params, es, "bf16 weights")) != NULL;
    /* the batch's copy (layer 0) is made on the first forward that needs it: scoring with
     * prepared rows (rm_mlp_input) never does */
    for (int l = 1; l < m->n_layers && ok; l++)
        if (is_product_layer(m, l)) ok = (ws->low_act[l] = rm_alloc(cap * (size_t)m->dims[l], es, "bf16 activations")) != NULL;
    for (int i = 0; i < 2 && ok; i++) ok = (ws->low_grad[i] = rm_alloc(cap * (size_t)widest, es, "bf16 gradients")) != NULL;
    /* plan the products of a full-capacity call now, where an error can still be returned */
    for (int l = 0; l < m->n_layers && ok; l++) {
        if (!is_product_layer(m, l)) continue;
        tile_plans p;
        ok = plan_forward(&p, m, l, ws->capacity, 0) == 0 && plan_weight_grad(&p, m, l, ws->capacity) == 0 &&
             (l == 0 || plan_input_grad(&p, m, l, ws->capacity) == 0);
    }
    if (!ok) {
        rm_mlp_bf16_workspace_free(ws);
        return rm_error_context("model.precision = bf16");
    }
    ws->low_elem = es;
    return 0;
}

/* ---- rounding the weights, in fixed chunks over the threads ---- */

typedef struct {
    void *dst;
    const float *src;
    size_t n;
} round_job;

static void round_chunk(const void *p, int t)
{
    const round_job *j = p;
    size_t begin = (size_t)t * ROUND_CHUNK, n = j->n - begin < ROUND_CHUNK ? j->n - begin : ROUND_CHUNK;
    rm_lowp_round(lowp_at(j->dst, begin), j->src + begin, n);
}

void rm_mlp_bf16_round(void *dst, const float *src, size_t n)
{
    round_job job = {dst, src, n};
    rm_tiled_run(round_chunk, &job, (int)((n + ROUND_CHUNK - 1) / ROUND_CHUNK));
}

/* ---- forward ---- */

typedef struct {
    const rm_mlp *m;
    rm_mlp_workspace *ws;
    const float *inp; /* fp32 input of the layer: the batch for l = 0, else act[l] */
    const void *inp_low; /* l = 0: the batch already rounded (rm_mlp_input), or NULL */
    float *out;
    int B, l;
    tile_plans plans;
} layer_job;

// One tile of a hidden layer: rows [r0, r0 + rows) of out (B,OC) = bias + bf16(inp) @ bf16(W)^T,
// ReLU, and the bf16 copy of the result when it feeds another product.
static void forward_tile(const void *p, int t)
{
    const layer_job *j = p;
    const rm_mlp *m = j->m;
    const int l = j->l, C = m->dims[l], OC = m->dims[l + 1], rows = tile_rows(j->B, t);
    const size_t r0 = (size_t)t * BF16_TILE_ROWS;
    void *a;
    if (j->inp_low) {
        a = lowp_at((void *)j->inp_low, r0 * (size_t)C);
    } else {
        a = lowp_at(j->ws->low_act[l], r0 * (size_t)C);
        if (l == 0 || !is_product_layer(m, l - 1)) /* no bf16 copy of the input yet */
            rm_lowp_round(a, j->inp + r0 * (size_t)C, (size_t)rows * (size_t)C);
    }
    float *out = j->out + r0 * (size_t)OC;
    const rm_lowp_plan *plan = plan_for(&j->plans, rows);
    const void *w = rm_lowp_plan_packed(plan) ? j->ws->low_packed[l] : lowp_at(j->ws->low_weights, m->weight_offset[l]);
    rm_lowp_run(plan, a, w, m->params + m->bias_offset[l], out);
    if (l + 1 < m->n_layers && is_product_layer(m, l + 1))
        rm_lowp_relu_round(out, lowp_at(j->ws->low_act[l + 1], r0 * (size_t)OC), (size_t)rows * (size_t)OC);
    else
        relu_forward(out, (size_t)rows * (size_t)OC);
}

// One tile of an fp32 layer: the output layer (one score, or E heads) or a hidden layer of
// width 1 (which also takes the ReLU): out (rows,OC) = bias + inp (rows,C) @ W^T (C,OC).
static void head_tile(const void *p, int t)
{
    const layer_job *j = p;
    const rm_mlp *m = j->m;
    const int l = j->l, C = m->dims[l], OC = m->dims[l + 1], rows = tile_rows(j->B, t);
    const size_t r0 = (size_t)t * BF16_TILE_ROWS;
    float *out = j->out + r0 * (size_t)OC;
    const float *bias = m->params + m->bias_offset[l], *w = m->params + m->weight_offset[l];
    for (int b = 0; b < rows; b++)
        for (int o = 0; o < OC; o++) out[(size_t)b * OC + o] = bias[o];
    if (OC == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, rows, C, 1, j->inp + r0 * (size_t)C, C, w, 1, 1, out, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, OC, C, 1, j->inp + r0 * (size_t)C, C, w, C, 1, out, OC);
    if (l < m->n_layers - 1) relu_forward(out, (size_t)rows * (size_t)OC);
}

/* A forward of at least this many tiles packs the weights it has just rounded even though
 * they change at the next step (training's minibatches): one reorder of the weights
 * against each tile's own repacking of them inside the product. */
#define PACK_MIN_TILES 16

/* The weights in the kernel's own layout (on = 1): once per workspace and parameters when
 * frozen (scoring), once per call for large training batches; on = 0 drops them, so that
 * no product reads a copy of older weights. A layer whose full-tile product takes no
 * packed B keeps reading low_weights. The buffers are kept from call to call. */
static int pack_weights(const rm_mlp *m, rm_mlp_workspace *ws, int on)
{
    for (int l = 0; l < m->n_layers; l++) {
        const rm_lowp_plan *full = NULL;
        if (on && is_product_layer(m, l)) {
            int C = m->dims[l], OC = m->dims[l + 1];
            full = rm_lowp_plan_get(0, 1, BF16_TILE_ROWS, OC, C, C, C, OC, RM_LOWP_BIAS | RM_LOWP_PACKED_B);
            if (!full) return -1;
        }
        if (!rm_lowp_plan_packed(full)) {
            free(ws->low_packed[l]);
            ws->low_packed[l] = NULL;
            continue;
        }
        size_t bytes = (rm_lowp_packed_b_bytes(full) + 63) / 64 * 64;
        if (!ws->low_packed[l] && !(ws->low_packed[l] = rm_alloc_aligned(bytes, 64, "packed bf16 weights"))) return -1;
        if (rm_lowp_pack_b(full, lowp_at(ws->low_weights, m->weight_offset[l]), ws->low_packed[l]) != 0) {
            free(ws->low_packed[l]);
            ws->low_packed[l] = NULL;
            return -1;
        }
    }
    return 0;
}

int rm_mlp_bf16_forward(const rm_mlp *m, rm_mlp_workspace *ws, const float *X, const void *X_low, int B,
                        float *scores, int frozen)
{
    // X is (B,D), scores (B); ws->act[l] (B,dims[l]) fp32 and ws->low_act[l] its bf16 copy
    if (rm_mlp_bf16_workspace_alloc(ws, m) != 0) return -1;
    if (!X_low && is_product_layer(m, 0) && !ws->low_act[0] &&
        !(ws->low_act[0] = rm_alloc((size_t)ws->capacity * (size_t)m->dims[0], ws->low_elem, "bf16 copy of the batch")))
        return -1;
    ws->low_input = X_low ? X_low : ws->low_act[0]; /* what the backward's first layer reads */
    if (!frozen || ws->low_weights_of != m->params) {
        rm_mlp_bf16_round(ws->low_weights, m->params, m->n_params);
        ws->low_weights_of = NULL;
        if (pack_weights(m, ws, frozen || tile_count(B) >= PACK_MIN_TILES) != 0) return -1;
    }
    ws->low_weights_of = frozen ? m->params : NULL;
    const float *inp = X;
    for (int l = 0; l < m->n_layers; l++) {
        layer_job job = {m, ws, inp, l == 0 ? X_low : NULL, l == m->n_layers - 1 ? scores : ws->act[l + 1], B, l,
                         {NULL, NULL}};
        if (is_product_layer(m, l)) {
            if (plan_forward(&job.plans, m, l, B, ws->low_packed[l] != NULL) != 0) return -1;
            rm_tiled_run(forward_tile, &job, tile_count(B));
        } else {
            rm_tiled_run(head_tile, &job, tile_count(B));
        }
        inp = job.out;
    }
    return 0;
}

/* ---- backward ---- */

typedef struct {
    const rm_mlp *m;
    rm_mlp_workspace *ws;
    const float *dout;    /* (B,OC) fp32 */
    const void *low_dout; /* its bf16 copy (product layers) */
    float *dinp;          /* (B,C) */
    void *low_dinp;       /* its bf16 copy, when layer l-1 is a product */
    float *dweight;
    int B, l;
    tile_plans plans;
} grad_job;

// Tile t of dW: rows [t*TILE, ...) of dW (OC,C) += bf16(dout)^T (rows,B) @ bf16(inp) (B,C).
static void weight_grad_tile(const void *p, int t)
{
    const grad_job *j = p;
    const int C = j->m->dims[j->l], OC = j->m->dims[j->l + 1], rows = tile_rows(OC, t);
    const size_t r0 = (size_t)t * BF16_TILE_ROWS;
    const void *inp = j->l == 0 ? j->ws->low_input : j->ws->low_act[j->l];
    rm_lowp_run(plan_for(&j->plans, rows), lowp_at((void *)j->low_dout, r0), inp, NULL, j->dweight + r0 * (size_t)C);
}

// After the input gradient of rows [r0, r0 + rows): the ReLU below, and the bf16 copy.
static void input_grad_finish(const grad_job *j, size_t r0, int rows)
{
    const int C = j->m->dims[j->l];
    float *dinp = j->dinp + r0 * (size_t)C;
    rm_lowp_relu_backward_round(dinp, j->ws->act[j->l] + r0 * (size_t)C,
                                j->low_dinp ? lowp_at(j->low_dinp, r0 * (size_t)C) : NULL, (size_t)rows * (size_t)C);
}

// Tile t of dinp (B,C) = bf16(dout) (rows,OC) @ bf16(W) (OC,C), then ReLU backward.
static void input_grad_tile(const void *p, int t)
{
    const grad_job *j = p;
    const rm_mlp *m = j->m;
    const int C = m->dims[j->l], OC = m->dims[j->l + 1], rows = tile_rows(j->B, t);
    const size_t r0 = (size_t)t * BF16_TILE_ROWS;
    rm_lowp_run(plan_for(&j->plans, rows), lowp_at((void *)j->low_dout, r0 * (size_t)OC),
                lowp_at(j->ws->low_weights, m->weight_offset[j->l]), NULL, j->dinp + r0 * (size_t)C);
    input_grad_finish(j, r0, rows);
}

// Tile t of an fp32 layer's input gradient: dinp (rows,C) = dout (rows) outer w (C), or
// dout (rows,OC) @ W (OC,C) for E heads.
static void head_input_grad_tile(const void *p, int t)
{
    const grad_job *j = p;
    const rm_mlp *m = j->m;
    const int C = m->dims[j->l], OC = m->dims[j->l + 1], rows = tile_rows(j->B, t);
    const size_t r0 = (size_t)t * BF16_TILE_ROWS;
    const float *w = m->params + m->weight_offset[j->l];
    if (OC == 1) {
        for (int b = 0; b < rows; b++) {
            float g = j->dout[r0 + (size_t)b], *row = j->dinp + (r0 + (size_t)b) * (size_t)C;
            for (int c = 0; c < C; c++) row[c] = g * w[c];
        }
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, C, OC, 1, j->dout + r0 * (size_t)OC, OC, w, C, 0,
                    j->dinp + r0 * (size_t)C, C);
    }
    input_grad_finish(j, r0, rows);
}

static int layer_backward(grad_job *j, const float *inp, float *dbias, int paired)
{
    const rm_mlp *m = j->m;
    const int l = j->l, C = m->dims[l], OC = m->dims[l + 1];
    rm_mlp_bias_grad_f32(dbias, j->dout, j->B, OC, paired); /* fp32, exactly as the fp32 path */
    if (!is_product_layer(m, l)) {
        // the head: dweight (C) += inp^T (C,B) @ dout (B), or (OC,C) += dout^T (OC,B) @ inp (B,C), fp32
        if (OC == 1)
            rm_tiled_sgemv(CblasRowMajor, CblasTrans, j->B, C, 1, inp, C, j->dout, 1, 1, j->dweight, 1);
        else
            rm_tiled_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, j->B, 1, j->dout, OC, inp, C, 1, j->dweight, C);
        if (j->dinp) rm_tiled_run(head_input_grad_tile, j, tile_count(j->B));
        return 0;
    }
    if (plan_weight_grad(&j->plans, m, l, j->B) != 0) return -1;
    rm_tiled_run(weight_grad_tile, j, tile_count(OC));
    if (j->dinp) {
        if (plan_input_grad(&j->plans, m, l, j->B) != 0) return -1;
        rm_tiled_run(input_grad_tile, j, tile_count(j->B));
    }
    return 0;
}

int rm_mlp_bf16_backward(const rm_mlp *m, rm_mlp_workspace *ws, const float *X, int B, const float *dscores,
                         float *grads, int paired)
{
    // dscores is (B); grads (n_params) accumulated (+=); needs the last forward on the same X
    if (rm_mlp_bf16_workspace_alloc(ws, m) != 0) return -1;
    const float *dout = dscores;
    const void *low_dout = NULL;
    int next = 0;
    for (int l = m->n_layers - 1; l >= 0; l--) {
        grad_job job = {m, ws, dout, low_dout, NULL, NULL, grads + m->weight_offset[l], B, l, {NULL, NULL}};
        if (l > 0) {
            job.dinp = ws->grad_act[next];
            if (is_product_layer(m, l - 1)) job.low_dinp = ws->low_grad[next];
        }
        if (layer_backward(&job, l == 0 ? X : ws->act[l], grads + m->bias_offset[l], paired) != 0) return -1;
        dout = job.dinp;
        low_dout = job.low_dinp;
        next ^= 1;
    }
    return 0;
}
