/* The MLP's layers and objectives, written once for any floating type.
 *
 * model.c includes this file twice: with REAL = float (the fast path every verb uses,
 * cblas_sgemm) and with REAL = double (cblas_dgemm; only the finite-difference gradient
 * tests use it), so the code the tests check is the code that trains. The includer
 * defines:
 *   REAL         float or double
 *   T(name)      name with a type suffix (static functions of each instance)
 *   GEMM, GEMV   rm_tiled_sgemm/rm_tiled_sgemv or the double ones (include/rmens/kernels/tiled_blas.h)
 *   TILE_GEMM, TILE_GEMV  cblas_?gemm/cblas_?gemv: single-threaded, inside one tile
 *   MLP, MLP_WS  the parameter and workspace structs (same fields, REAL arrays)
 * No include guard on purpose. */

/* ----------------------------------------------------------------------------------
 * relu: the forward's is fused into the product (GEMM_EP below), which overwrites the
 * pre-activation with its output; the backward only needs to know where the output is
 * positive. */

/* -O2 (the project's build) does not vectorise loops with a remainder; the elementwise
 * loops stream activations once per step, so they ask for it. Elementwise: the result is
 * the same bit for bit either way. */
#if defined(__GNUC__) && !defined(__clang__)
#define RM_VECTORISE __attribute__((optimize("tree-vectorize")))
#else
#define RM_VECTORISE
#endif

RM_VECTORISE static void T(relu_backward)(REAL *dx, const REAL *out, size_t n)
{
    // dx is d loss / d output on entry, d loss / d input on exit; out is the forward output
    for (size_t i = 0; i < n; i++) dx[i] = out[i] <= 0 ? 0 : dx[i];
}

/* ----------------------------------------------------------------------------------
 * linear: out = inp @ weight^T + bias   (weight row-major [OC, C], as nn.Linear) */

/* GEMM_EP: the product with its epilogue fused (rm_tiled_sgemm_ep / rm_tiled_dgemm_ep,
 * include/rmens/kernels/tiled_blas.h): bias, ReLU and the ReLU's backward are applied to each block of the
 * output while it is in cache, by the thread that computed it. */
#define RM_CAT_(a, b) a##b
#define RM_CAT(a, b) RM_CAT_(a, b)
#define GEMM_EP RM_CAT(GEMM, _ep)

// The scalar head (OC = 1), one tile of rows [t*RM_TILE_ROWS, ...): out = bias + inp @ w.
typedef struct {
    REAL *out;
    const REAL *inp, *weight, *bias;
    int B, C;
} T(head_job);

static void T(head_forward_tile)(const void *p, int t)
{
    const T(head_job) *j = p;
    const int rows = rm_tiled_rows(j->B, t), C = j->C;
    REAL *out = j->out + (size_t)t * RM_TILE_ROWS;
    for (int b = 0; b < rows; b++) out[b] = j->bias[0];
    TILE_GEMV(CblasRowMajor, CblasNoTrans, rows, C, 1, j->inp + (size_t)t * RM_TILE_ROWS * (size_t)C, C, j->weight, 1, 1, out, 1);
}

static void T(linear_forward)(REAL *out, const REAL *inp, const REAL *weight, const REAL *bias,
                              int B, int C, int OC, int relu, const rm_gemm_hints *hints)
{
    // out is (B,OC), inp is (B,C), weight is (OC,C), bias is (OC); relu: apply ReLU to out;
    // hints: weight^T packed ahead (rm_mlp_workspace_pack), inp's packing kept or reused
    if (OC == 1 && !relu) {
        T(head_job) job = {out, inp, weight, bias, B, C};
        rm_tiled_run(T(head_forward_tile), &job, rm_tiled_count(B));
        return;
    }
    // out (B,OC) = bias + inp (B,C) @ weight^T (C,OC), then the ReLU
    GEMM_EP(CblasNoTrans, CblasTrans, B, OC, C, inp, C, weight, C, 0, out, OC, bias, relu, NULL, 0, hints);
}

// One tile of the input gradient of the scalar head: rows of dinp (B,C) = dout (B) outer
// weight (C), then the ReLU's backward on the same rows (act: the forward output below).
typedef struct {
    REAL *dinp;
    const REAL *dout, *weight, *act;
    int B, C;
} T(input_grad_job);

static void T(input_grad_tile)(const void *p, int t)
{
    const T(input_grad_job) *j = p;
    const int rows = rm_tiled_rows(j->B, t), C = j->C;
    const size_t r = (size_t)t * RM_TILE_ROWS;
    REAL *dinp = j->dinp + r * (size_t)C;
    for (int b = 0; b < rows; b++) {
        REAL *dinp_b = dinp + (size_t)b * C;
        REAL g = j->dout[r + b];
        for (int c = 0; c < C; c++) dinp_b[c] = g * j->weight[c];
    }
    T(relu_backward)(dinp, j->act + r * (size_t)C, (size_t)rows * (size_t)C);
}

// One tile of the bias gradient: dbias[j] += sum over rows of dout[., j] for a range of
// columns, each column summed row by row in order (vectorised across columns: the same
// bits as the scalar loop, for any thread count). Paired rows (half = B/2): row i and
// row half+i are the two sides of pair i and are added first (see linear_backward).
typedef struct {
    REAL *dbias;
    const REAL *dout;
    int B, OC, paired;
} T(bias_grad_job);

RM_VECTORISE static void T(bias_grad_tile)(const void *p, int t)
{
    const T(bias_grad_job) *j = p;
    const int OC = j->OC, j0 = t * RM_TILE_ROWS, n = rm_tiled_rows(OC, t);
    REAL sum[RM_TILE_ROWS];
    for (int c = 0; c < n; c++) sum[c] = 0;
    if (j->paired) {
        const int h = j->B / 2;
        for (int i = 0; i < h; i++) {
            const REAL *a = j->dout + (size_t)i * OC + j0, *b = j->dout + (size_t)(h + i) * OC + j0;
            for (int c = 0; c < n; c++) sum[c] += a[c] + b[c];
        }
    } else {
        for (int i = 0; i < j->B; i++) {
            const REAL *a = j->dout + (size_t)i * OC + j0;
            for (int c = 0; c < n; c++) sum[c] += a[c];
        }
    }
    for (int c = 0; c < n; c++) j->dbias[j0 + c] += sum[c];
}

static void T(linear_backward)(REAL *dinp, REAL *dweight, REAL *dbias, const REAL *dout,
                               const REAL *inp, const REAL *weight, int paired,
                               int B, int C, int OC)
{
    // dinp is (B,C) or NULL (no input gradient: the first layer's input is the data); it
    // leaves with the ReLU's backward applied (inp is that ReLU's output),
    // dweight is (OC,C) and dbias (OC), accumulated (+=); dout is (B,OC), inp (B,C);
    // dbias (OC) += the column sums of dout, in one pass over dout, over the threads.
    // paired (B even): row i and row B/2+i are the two sides of pair i. Adding each
    // pair's rows first makes a bias gradient that cancels within every pair (a unit active
    // on both sides just below the output, under BT) exactly zero, however the minibatch
    // is split over ranks; summed in another order, round-off would leave a residue that
    // Adam's normalisation turns into lr-sized steps.
    T(bias_grad_job) bias_job = {dbias, dout, B, OC, paired};
    rm_tiled_run(T(bias_grad_tile), &bias_job, rm_tiled_count(OC));
    if (OC == 1) {
        // dweight (C) += inp^T (C,B) @ dout (B)
        GEMV(CblasRowMajor, CblasTrans, B, C, 1, inp, C, dout, 1, 1, dweight, 1);
    } else {
        // dweight (OC,C) += dout^T (OC,B) @ inp (B,C)
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, B, 1, dout, OC, inp, C, 1, dweight, C);
    }
    if (dinp && OC == 1) {
        // dinp (B,C) = dout (B) outer weight (C), masked by the ReLU below, tile by tile
        T(input_grad_job) job = {dinp, dout, weight, inp, B, C};
        rm_tiled_run(T(input_grad_tile), &job, rm_tiled_count(B));
    } else if (dinp) {
        // dinp (B,C) = dout (B,OC) @ weight (OC,C), masked by the ReLU below (inp, its output)
        GEMM_EP(CblasNoTrans, CblasNoTrans, B, C, OC, dout, OC, weight, C, 0, dinp, C, NULL, 0, inp, C, NULL);
    }
}

/* ----------------------------------------------------------------------------------
 * the network */

static void T(mlp_forward)(const MLP *m, MLP_WS *ws, const REAL *X, int B, REAL *scores, int again)
{
    // X is (B,D), scores (B); ws->act[l] (B,dims[l]) for the hidden layers l = 1..L-1;
    // again: X is the last forward's (another model's): its packing for layer 0 is reused
    const int L = m->n_layers;
    const REAL *inp = X;
    const int packed = ws->packed && ws->packed_params == m->params; /* for this model (see rm_mlp_workspace_pack) */
    for (int l = 0; l < L; l++) {
        REAL *out = (l == L - 1) ? scores : ws->act[l + 1];
        rm_gemm_hints hints = {NULL, l > 0 ? RM_A_NONE : again ? RM_A_AGAIN : RM_A_KEEP};
        if (packed && ws->packed_offset[l] != (size_t)-1) hints.packed_b = (const float *)(ws->packed + ws->packed_offset[l]);
        T(linear_forward)(out, inp, m->params + m->weight_offset[l], m->params + m->bias_offset[l],
                          B, m->dims[l], m->dims[l + 1], l < L - 1, &hints);
        inp = out;
    }
}

static void T(mlp_backward)(const MLP *m, MLP_WS *ws, const REAL *X, int B, const REAL *dscores, REAL *grads, int paired)
{
    // dscores is (B); grads (n_params) laid out like params, accumulated (+=).
    // The two grad_act buffers alternate: layer l reads dout from one, writes dinp to the other.
    const int L = m->n_layers;
    const REAL *dout = dscores;
    int next = 0;
    for (int l = L - 1; l >= 0; l--) {
        const REAL *inp = (l == 0) ? X : ws->act[l];
        REAL *dinp = (l == 0) ? NULL : ws->grad_act[next];
        T(linear_backward)(dinp, grads + m->weight_offset[l], grads + m->bias_offset[l], dout, inp,
                           m->params + m->weight_offset[l], paired, B, m->dims[l],
                           m->dims[l + 1]);
        if (l > 0) {
            dout = dinp;
            next ^= 1;
        }
    }
}

/* ----------------------------------------------------------------------------------
 * objectives: summed loss over the batch, d(summed loss)/d score.
 * softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|) never overflows, and
 * sigmoid is evaluated on the side where exp() is at most 1. */

static double T(softplus)(double x) { return (x > 0 ? x : 0) + log1p(exp(-fabs(x))); }

static double T(sigmoid)(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

static double T(bt_loss)(const REAL *scores, int n_pairs, REAL *dscores, int *n_correct)
{
    // scores is (2*n_pairs): winners' scores, then losers'; dscores the same shape
    double loss = 0;
    int correct = 0;
    for (int i = 0; i < n_pairs; i++) {
        double margin = (double)scores[i] - (double)scores[n_pairs + i];
        loss += T(softplus)(-margin);             // -log sigmoid(margin)
        double g = -T(sigmoid)(-margin);          // d loss / d margin
        dscores[i] = (REAL)g;
        dscores[n_pairs + i] = (REAL)-g;
        correct += margin > 0;
    }
    if (n_correct) *n_correct = correct;
    return loss;
}

static double T(clf_loss)(const REAL *scores, const REAL *labels, int n, REAL *dscores, int *n_correct)
{
    // scores, labels (1 winner, 0 loser) and dscores are (n); binary cross-entropy with logits
    double loss = 0;
    int correct = 0;
    for (int i = 0; i < n; i++) {
        double z = scores[i], y = labels[i];
        loss += T(softplus)(z) - z * y;           // -y log sigmoid(z) - (1-y) log(1 - sigmoid(z))
        dscores[i] = (REAL)(T(sigmoid)(z) - y);
        correct += (z > 0) == (y > 0.5);
    }
    if (n_correct) *n_correct = correct;
    return loss;
}

/* ----------------------------------------------------------------------------------
 * workspace */

static int T(workspace_create)(MLP_WS *ws, const MLP *m, int capacity)
{
    memset(ws, 0, sizeof *ws);
    if (capacity < 1) return rm_errorf("MLP workspace: capacity %d rows must be at least 1", capacity);
    ws->capacity = capacity;
    int widest = 1;
    for (int l = 1; l < m->n_layers; l++) {
        if (m->dims[l] > widest) widest = m->dims[l];
        ws->act[l] = rm_alloc((size_t)capacity * (size_t)m->dims[l], sizeof(REAL), "MLP activations");
        if (!ws->act[l]) goto fail;
    }
    for (int i = 0; i < 2; i++) {
        ws->grad_act[i] = rm_alloc((size_t)capacity * (size_t)widest, sizeof(REAL), "MLP activation gradients");
        if (!ws->grad_act[i]) goto fail;
    }
    return 0;
fail:
    for (int l = 0; l <= RM_MAX_LAYERS; l++) free(ws->act[l]);
    for (int i = 0; i < 2; i++) free(ws->grad_act[i]);
    memset(ws, 0, sizeof *ws);
    return -1;
}

static void T(workspace_free)(MLP_WS *ws)
{
    for (int l = 0; l <= RM_MAX_LAYERS; l++) free(ws->act[l]);
    for (int i = 0; i < 2; i++) free(ws->grad_act[i]);
    free(ws->packed);
    memset(ws, 0, sizeof *ws);
}
