/* bf16 products (model.precision = bf16, issue 15), on every backend this machine runs
 * (the emulated one always, oneDNN where it has a bf16 kernel):
 *  1. rounding to bf16: known answers (round to nearest even, ties, NaN, infinities,
 *     overflow), the uint16 and the float forms agree;
 *  2. every product of the model - forward out = inp @ W^T, weight gradient dW = dout^T @ inp,
 *     input gradient dinp = dout @ W - at every layer shape of the reference model
 *     (D 2048 -> 1024 -> 512) and of a small odd one, full tiles and a tail tile, against a
 *     double-precision product of the same bf16-rounded operands. Products of two bf16
 *     numbers are exact in fp32, so the only error is fp32 accumulation: the bound, for any
 *     summation order, is |C - ref| <= (K - 1) u sum_k |a_k b_k| with u = 2^-24; the test
 *     asserts it with a margin of 1 %, and also that the worst relative error is far from
 *     bf16's own 2^-8 (i.e. the operands were used in bf16 and nothing else was rounded);
 *  3. the bf16 MLP (forward and backward) against the fp32 one on the same data: scores and
 *     gradients agree to bf16 accuracy (this catches wiring errors: a wrong operand, a
 *     missing ReLU, a tail tile skipped), and the oneDNN and emulated MLPs agree closely;
 *  4. results do not depend on the thread count (1 vs 2 vs 3 threads, bitwise);
 *  5. training on rows rounded once (rm_mlp_forward_rounded, then the backward with X = NULL,
 *     as src/member/train_rows.c feeds it) gives the scores and gradients of the fp32 rows,
 *     bitwise;
 *  6. a training forward of 16 tiles or more (weights packed for that call) gives, bitwise,
 *     the scores of the same rows scored one tile at a time (weights read as kept);
 *  7. scoring with frozen weights (rm_mlp_forward_frozen: oneDNN reads them packed in its
 *     kernel's layout, made once) gives the training forward's scores bitwise, full and
 *     tail tiles, on its first call and on the calls that reuse the packed copy. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "rmens/kernels/matmul.h"
#include "rmens/base/common.h"
#include "rmens/model/model.h"
#include "rmens/kernels/precision.h"
#include "rmens/base/rng.h"
#include "rmens/kernels/tiled_blas.h"

static float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void check_rounding(void)
{
    const struct { uint32_t in; uint16_t out; } cases[] = {
        {0x3f800000u, 0x3f80}, /* 1.0 exact */
        {0x3f808000u, 0x3f80}, /* tie, even stays */
        {0x3f818000u, 0x3f82}, /* tie, odd rounds up */
        {0x3f808001u, 0x3f81}, /* above the tie */
        {0x3f807fffu, 0x3f80}, /* below the tie */
        {0xbf818000u, 0xbf82}, /* negative tie */
        {0x7f800000u, 0x7f80}, /* +inf */
        {0xff800000u, 0xff80}, /* -inf */
        {0x7f7fffffu, 0x7f80}, /* FLT_MAX rounds to +inf */
        {0x80000000u, 0x8000}, /* -0 */
        {0x00000001u, 0x0000}, /* smallest denormal rounds to 0 */
        {0x00018000u, 0x0002}, /* denormal tie, odd up */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float in = bits_to_float(cases[i].in), back;
        uint16_t bits;
        rm_bf16_round_bits(&bits, &in, 1);
        rm_bf16_round_floats(&back, &in, 1);
        uint32_t back_bits;
        memcpy(&back_bits, &back, sizeof back_bits);
        if (bits != cases[i].out) fprintf(stderr, "round 0x%08x: got 0x%04x expected 0x%04x\n", cases[i].in, bits, cases[i].out);
        CHECK(bits == cases[i].out);
        CHECK(back_bits == (uint32_t)cases[i].out << 16);
    }
    float nan = bits_to_float(0x7fc00001u), snan = bits_to_float(0x7f800001u), out;
    uint16_t b;
    rm_bf16_round_bits(&b, &nan, 1);
    CHECK((b & 0x7f80) == 0x7f80 && (b & 0x7f) != 0); /* still a NaN, not an infinity */
    rm_bf16_round_bits(&b, &snan, 1);
    CHECK((b & 0x7f80) == 0x7f80 && (b & 0x7f) != 0);
    rm_bf16_round_floats(&out, &nan, 1);
    CHECK(isnan(out));
    /* a vector long enough for the SIMD body and its remainder agrees with the scalar cases */
    enum { N = 1037 };
    float *v = malloc(N * sizeof(float)), *f = malloc(N * sizeof(float));
    uint16_t *u = malloc(N * sizeof(uint16_t));
    for (int i = 0; i < N; i++) v[i] = (float)((rm_rand_uniform(3, 1, (uint64_t)i) - 0.5) * pow(2.0, i % 40 - 20));
    rm_bf16_round_bits(u, v, N);
    rm_bf16_round_floats(f, v, N);
    int agree = 1;
    for (int i = 0; i < N; i++) {
        uint32_t fb;
        memcpy(&fb, &f[i], sizeof fb);
        agree &= fb == (uint32_t)u[i] << 16;
        agree &= fabsf(f[i] - v[i]) <= fabsf(v[i]) * (1.0f / 256); /* half an ulp of 8 bits: 2^-9 rel */
    }
    CHECK(agree);
    free(v), free(f), free(u);
}

/* ---- products against double-precision references of the same rounded operands ---- */

static float *random_floats(size_t n, uint64_t stream, double scale)
{
    float *a = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) a[i] = (float)((2 * rm_rand_uniform(11, stream, i) - 1) * scale);
    return a;
}

/* element (r, c) of op(X), X stored row-major with leading dimension ld */
static double at(const float *X, int trans, int ld, int r, int c)
{
    return trans ? X[(size_t)c * ld + r] : X[(size_t)r * ld + c];
}

typedef struct {
    double worst_ratio;  /* max |C - ref| / ((K-1) u sum|ab|) */
    double worst_rel;    /* max |C - ref| / sum|ab| */
} product_error;

/* C (M,N) = op(A) op(B) [+ C0] on the current backend, vs double of the same rounded inputs.
 * Every operand is a block of a wider matrix (leading dimensions larger than the block),
 * as the model's tiles are (a tile of dW reads a column block of dout). */
static product_error check_product(int ta, int tb, int M, int N, int K, int mode, uint64_t stream)
{
    int lda = (ta ? M : K) + 13, ldb = (tb ? K : N) + 5, ldc = N + 3;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    float *A = random_floats(na, stream, 1.0), *Bm = random_floats(nb, stream + 1, 0.05);
    float *C = random_floats(nc, stream + 2, 0.5), *C0 = malloc(nc * sizeof(float));
    memcpy(C0, C, nc * sizeof(float));
    float *bias = random_floats((size_t)N, stream + 3, 0.5);
    float *Ar = malloc(na * sizeof(float)), *Br = malloc(nb * sizeof(float)); /* rounded, as floats */
    rm_bf16_round_floats(Ar, A, na);
    rm_bf16_round_floats(Br, Bm, nb);
    size_t es = rm_lowp_size();
    void *Al = malloc(na * es), *Bl = malloc(nb * es);
    rm_lowp_round(Al, A, na);
    rm_lowp_round(Bl, Bm, nb);
    const rm_lowp_plan *plan = rm_lowp_plan_get(ta, tb, M, N, K, lda, ldb, ldc, mode);
    CHECK(plan != NULL);
    product_error e = {0, 0};
    if (plan) {
        rm_lowp_run(plan, Al, Bl, mode == RM_LOWP_BIAS ? bias : NULL, C);
        const double u = ldexp(1.0, -24);
        int untouched = 1;
        /* every element of small products; of the large ones every row at every 7th column
         * (shifted by the row, so all columns are covered across rows) */
        const int stride = (size_t)N * (size_t)K > 500000 ? 7 : 1;
        for (int i = 0; i < M; i++) {
            for (int j = i % stride; j < N; j += stride) {
                double ref = mode == RM_LOWP_ACCUMULATE ? C0[(size_t)i * ldc + j] : mode == RM_LOWP_BIAS ? bias[j] : 0;
                double mag = fabs(ref);
                for (int k = 0; k < K; k++) {
                    double p = at(Ar, ta, lda, i, k) * at(Br, tb, ldb, k, j);
                    ref += p;
                    mag += fabs(p);
                }
                double err = fabs((double)C[(size_t)i * ldc + j] - ref);
                double bound = (double)K * u * mag + 1e-30; /* K terms (K - 1 additions) plus C0 or the bias */
                if (err / bound > e.worst_ratio) e.worst_ratio = err / bound;
                if (mag > 0 && err / mag > e.worst_rel) e.worst_rel = err / mag;
            }
            for (int j = N; j < ldc; j++) untouched &= C[(size_t)i * ldc + j] == C0[(size_t)i * ldc + j];
        }
        CHECK(untouched); /* nothing written outside the block */
    }
    free(bias), free(A), free(Bm), free(C), free(C0), free(Ar), free(Br), free(Al), free(Bl);
    return e;
}

/* The three products of a layer C -> OC on `rows` rows, for one tile of `tile` rows. */
static void check_layer_products(const char *backend, int C, int OC, int tile)
{
    product_error f = check_product(0, 1, tile, OC, C, RM_LOWP_BIAS, 100); /* out = inp @ W^T + bias */
    product_error w = check_product(1, 0, tile < OC ? tile : OC, C, 600, RM_LOWP_ACCUMULATE, 200); /* dW += dout^T @ inp, K = 600 rows */
    product_error g = check_product(0, 0, tile, C, OC, RM_LOWP_OVERWRITE, 300); /* dinp = dout @ W */
    product_error all[3] = {f, w, g};
    const char *names[3] = {"forward", "weight-grad", "input-grad"};
    for (int i = 0; i < 3; i++) {
        printf("%-9s %-11s %5d -> %-5d tile %3d: error / fp32-accumulation bound %.3f, worst relative %.2e\n", backend,
               names[i], C, OC, tile, all[i].worst_ratio, all[i].worst_rel);
        CHECK(all[i].worst_ratio <= 1.01);
        CHECK(all[i].worst_rel < 1e-4); /* bf16 rounding of an output would be ~4e-3 */
    }
}

static void check_products(const char *backend)
{
    /* reference model D = 2048 -> 1024 -> 512 -> 1, full 256-row tiles and a 37-row tail */
    check_layer_products(backend, 2048, 1024, RM_TILE_ROWS);
    check_layer_products(backend, 1024, 512, RM_TILE_ROWS);
    check_layer_products(backend, 1024, 512, 37);
    /* a small odd model 24 -> 300 -> 8 */
    check_layer_products(backend, 24, 300, 88);
    check_layer_products(backend, 300, 8, RM_TILE_ROWS);
}

/* ---- the MLP in bf16 against fp32 ---- */

typedef struct {
    float *scores, *grads;
} mlp_result;

static mlp_result run_mlp(const rm_mlp *m, const float *X, int B)
{
    rm_mlp_workspace ws;
    mlp_result r = {malloc((size_t)B * sizeof(float)), calloc(m->n_params, sizeof(float))};
    CHECK(rm_mlp_workspace_create(&ws, m, B) == 0);
    float *dscores = malloc((size_t)B * sizeof(float));
    rm_mlp_forward(m, &ws, X, B, r.scores);
    rm_bt_loss(r.scores, B / 2, dscores, NULL);
    rm_mlp_backward_pairs(m, &ws, X, B, dscores, r.grads);
    rm_mlp_workspace_free(&ws);
    free(dscores);
    return r;
}

static double relative_l2(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

static int same_bits(const mlp_result *a, const mlp_result *b, const rm_mlp *m, int B)
{
    return memcmp(a->scores, b->scores, (size_t)B * sizeof(float)) == 0 &&
           memcmp(a->grads, b->grads, m->n_params * sizeof(float)) == 0;
}

static void free_result(mlp_result *r)
{
    free(r->scores);
    free(r->grads);
}

static void check_large_batch(const rm_mlp *m, const char *backend)
{
    const int B = 16 * 256, tile = 256; /* PACK_MIN_TILES tiles of BF16_TILE_ROWS */
    float *X = random_floats((size_t)B * (size_t)m->dims[0], 901, 1.0);
    float *whole = malloc((size_t)B * sizeof(float)), *tiles = malloc((size_t)B * sizeof(float));
    rm_mlp_workspace ws;
    CHECK(rm_mlp_workspace_create(&ws, m, B) == 0);
    rm_mlp_forward(m, &ws, X, B, whole);
    int packed = 0;
    for (int l = 0; l < m->n_layers; l++) packed += ws.low_packed[l] != NULL;
    for (int r = 0; r < B; r += tile) rm_mlp_forward(m, &ws, X + (size_t)r * (size_t)m->dims[0], tile, tiles + r);
    for (int l = 0; l < m->n_layers; l++) CHECK(ws.low_packed[l] == NULL); /* small calls read the weights as kept */
    CHECK(memcmp(whole, tiles, (size_t)B * sizeof(float)) == 0);
    printf("MLP %d-...-1 B %d, %s: training forward (%d layer(s) packed for the call) = tile by tile, bitwise\n",
           m->dims[0], B, backend, packed);
    rm_mlp_workspace_free(&ws);
    free(X), free(whole), free(tiles);
}

static void check_rounded_rows(const rm_mlp *m, const float *X, int B, const mlp_result *want, const char *backend)
{
    if (!rm_mlp_takes_rounded_rows(m)) {
        printf("MLP %d-%d-...: first layer not a bf16 product, trained on fp32 rows\n", m->dims[0], m->dims[1]);
        return;
    }
    rm_mlp_workspace ws;
    CHECK(rm_mlp_workspace_create(&ws, m, B) == 0);
    void *low = malloc((size_t)B * (size_t)m->dims[0] * rm_lowp_size());
    rm_lowp_round(low, X, (size_t)B * (size_t)m->dims[0]);
    mlp_result got = {malloc((size_t)B * sizeof(float)), calloc(m->n_params, sizeof(float))};
    float *dscores = malloc((size_t)B * sizeof(float));
    rm_mlp_forward_rounded(m, &ws, low, B, got.scores);
    rm_bt_loss(got.scores, B / 2, dscores, NULL);
    rm_mlp_backward_pairs(m, &ws, NULL, B, dscores, got.grads);
    CHECK(same_bits(&got, want, m, B));
    printf("MLP %d-...-1 B %d, %s: trained on rows rounded once = on the fp32 rows, bitwise\n", m->dims[0], B, backend);
    free_result(&got);
    free(dscores);
    free(low);
    rm_mlp_workspace_free(&ws);
}

static void check_frozen_scores(const rm_mlp *m, const float *X, int B, const float *want, const char *backend)
{
    rm_mlp_workspace ws;
    CHECK(rm_mlp_workspace_create(&ws, m, B) == 0);
    float *got = malloc((size_t)B * sizeof(float));
    for (int call = 0; call < 2; call++) {
        memset(got, 0, (size_t)B * sizeof(float));
        rm_mlp_forward_frozen(m, &ws, X, NULL, B, got);
        CHECK(memcmp(got, want, (size_t)B * sizeof(float)) == 0);
    }
    int packed = 0;
    for (int l = 0; l < m->n_layers; l++) packed += ws.low_packed[l] != NULL;
    printf("MLP %d-...-1 B %d, %s: frozen scoring (%d layer(s) read packed weights) = the forward, bitwise\n",
           m->dims[0], B, backend, packed);
    free(got);
    rm_mlp_workspace_free(&ws);
}

static void check_mlp(int dim, const int *hidden, int n_hidden, int B, int have_onednn)
{
    rm_mlp m;
    CHECK(rm_mlp_create(&m, dim, hidden, n_hidden) == 0);
    rm_mlp_init_uniform(&m, 5, 77);
    float *X = random_floats((size_t)B * dim, 900, 1.0);
    rm_tiled_set_threads(2);
    CHECK(rm_precision_set_backend(RM_MATMUL_FP32) == 0);
    mlp_result fp32 = run_mlp(&m, X, B);
    rm_matmul_backend backends[2] = {RM_MATMUL_BF16_EMULATED, RM_MATMUL_BF16_ONEDNN};
    mlp_result bf16[2];
    for (int k = 0; k < 1 + have_onednn; k++) {
        CHECK(rm_precision_set_backend(backends[k]) == 0);
        rm_tiled_set_threads(2);
        bf16[k] = run_mlp(&m, X, B);
        double es = relative_l2(bf16[k].scores, fp32.scores, (size_t)B);
        double eg = relative_l2(bf16[k].grads, fp32.grads, m.n_params);
        printf("MLP %d-%d-...(%d layers) B %d, %s: scores %.2e, gradients %.2e relative to fp32\n", dim, hidden[0],
               n_hidden + 1, B, k ? "oneDNN" : "emulated", es, eg);
        /* Scores: ~2^-9 per rounded operand, accumulated. Gradients: the input gradient of a
         * hidden layer (dout @ W over random-sign weights) cancels heavily, so its bf16
         * error is ~6 % of its norm; a float64 simulation of the same rounding points in
         * PyTorch gives 5.9 % (dinp) and 5.7 % (first-layer dW) at the reference shapes. A
         * wiring error (wrong operand, lost ReLU, skipped tile) is O(1). */
        CHECK(es < 2e-2 && eg < 0.15);
        CHECK(es > 0);                 /* and they really ran in bf16 */
        check_frozen_scores(&m, X, B, bf16[k].scores, k ? "oneDNN" : "emulated");
        check_rounded_rows(&m, X, B, &bf16[k], k ? "oneDNN" : "emulated");
        if (dim == 2048) check_large_batch(&m, k ? "oneDNN" : "emulated");
        /* bitwise the same for 1 and 3 threads */
        for (int threads = 1; threads <= 3; threads += 2) {
            rm_tiled_set_threads(threads);
            mlp_result again = run_mlp(&m, X, B);
            CHECK(same_bits(&again, &bf16[k], &m, B));
            free_result(&again);
        }
    }
    if (have_onednn) {
        double es = relative_l2(bf16[1].scores, bf16[0].scores, (size_t)B);
        double eg = relative_l2(bf16[1].grads, bf16[0].grads, m.n_params);
        printf("MLP oneDNN vs emulated: scores %.2e, gradients %.2e\n", es, eg);
        CHECK(es < 1e-2 && eg < 2e-2);
        free_result(&bf16[1]);
    }
    free_result(&bf16[0]);
    free_result(&fp32);
    CHECK(rm_precision_set_backend(RM_MATMUL_FP32) == 0);
    rm_mlp_free(&m);
    free(X);
}

int main(void)
{
    check_rounding();
    int have_onednn = rm_precision_onednn_available();
    printf("oneDNN bf16 matmul on this CPU: %s (%s)\n", have_onednn ? "yes" : "no", rm_lowp_kernel_name());
    CHECK(rm_precision_set_backend(RM_MATMUL_BF16_EMULATED) == 0);
    check_products("emulated");
    if (have_onednn) {
        CHECK(rm_precision_set_backend(RM_MATMUL_BF16_ONEDNN) == 0);
        check_products("oneDNN");
    }
    const int reference[2] = {1024, 512}, small[2] = {300, 8}, narrow[3] = {40, 1, 16};
    check_mlp(2048, reference, 2, 600, have_onednn);
    check_mlp(24, small, 2, 600, have_onednn);
    check_mlp(24, narrow, 3, 64, have_onednn); /* a hidden layer of width 1 (a GEMV) between products */
    /* auto's rule on a table of CPU identities (vendor, family, model, AMX-BF16, AVX512_BF16)
     * and oneDNN kernels: bf16 on AMX and on full-width AVX512_BF16 (Zen 5), fp32 elsewhere */
    static const struct {
        rm_cpu_identity cpu;
        const char *kernel;
        int bf16;
        const char *why;
    } table[] = {
        {{"AuthenticAMD", 23, 49, 0, 0}, "", 0, "oneDNN"},                      /* Zen 2, AVX2 only */
        {{"AuthenticAMD", 25, 1, 0, 0}, "", 0, "oneDNN"},                       /* Zen 3 EPYC, AVX2 only */
        {{"AuthenticAMD", 25, 17, 0, 1}, "brg:avx512_core_bf16", 0, "without AMX"}, /* Zen 4: 256-bit paths */
        {{"AuthenticAMD", 26, 2, 0, 1}, "brg:avx512_core_bf16", 1, "full 512-bit"}, /* Zen 5 EPYC */
        {{"AuthenticAMD", 26, 2, 0, 1}, "", 0, "oneDNN"},                       /* Zen 5, oneDNN capped at AVX2 */
        {{"GenuineIntel", 6, 85, 0, 1}, "brg:avx512_core_bf16", 0, "without AMX"}, /* Cooper Lake */
        {{"GenuineIntel", 6, 106, 0, 0}, "brg:avx512_core", 0, "no AMX-BF16"},  /* Ice Lake: AVX-512, no bf16 */
        {{"GenuineIntel", 6, 143, 1, 1}, "brg:avx512_core_amx_bf16", 1, "AMX"}, /* Sapphire Rapids */
        {{"GenuineIntel", 6, 143, 1, 1}, "brg:avx512_core_bf16", 0, "without AMX"}, /* AMX disabled in oneDNN */
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        char reason[192];
        int got = rm_precision_auto_choice(&table[i].cpu, table[i].kernel, reason, sizeof reason);
        CHECK(got == table[i].bf16 && strstr(reason, table[i].why) && strncmp(reason, got ? "auto: bf16" : "auto: fp32", 10) == 0);
        if (got != table[i].bf16) printf("auto table row %zu: got %d (%s)\n", i, got, reason);
    }
    /* on this CPU: select("auto") follows the rule on its own identity, and says why */
    rm_precision_info info;
    CHECK(rm_precision_select("auto", 0, &info) == 0);
    rm_cpu_identity self;
    rm_cpu_identity_read(&self);
    char reason[192];
    int want = rm_precision_auto_choice(&self, have_onednn ? rm_lowp_kernel_name() : NULL, reason, sizeof reason);
    CHECK((info.backend == RM_MATMUL_BF16_ONEDNN) == (want != 0) && strcmp(info.reason, reason) == 0);
    printf("auto on %s (%s family %d model %d, bf16 flags: %s): %s, %s; %s\n", info.cpu, self.vendor, self.family,
           self.model, info.cpu_bf16_flags, info.precision, info.kernel, info.reason);
    CHECK(rm_precision_select("fp16", 0, &info) != 0 && strstr(rm_last_error(), "model.precision"));
    return check_status("test_bf16");
}
