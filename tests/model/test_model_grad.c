/* Gradients of the MLP and both objectives against central finite differences, in
 * double precision (the same layer code instantiated for double), for a linear model and
 * a 2-hidden-layer model; the float path agrees with the double one; the objectives stay
 * finite at extreme scores; FLOP counts; Adam against a direct double implementation. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "../common/fd_grad.h"
#include "mlp_fp32.h"
#include "rmens/base/common.h"
#include "rmens/model/model.h"
#include "rmens/model/optim.h"
#include "rmens/base/rng.h"

enum { OBJ_BT, OBJ_CLF };

/* Summed loss of the model on 2B rows X (winners then losers). */
static double total_loss(const rm_mlp64 *m, rm_mlp64_workspace *ws, const double *X, int n_pairs, int objective,
                         double *scores, double *dscores, const double *labels)
{
    rm_mlp64_forward(m, ws, X, 2 * n_pairs, scores);
    if (objective == OBJ_BT) return rm_bt_loss64(scores, n_pairs, dscores, NULL);
    return rm_clf_loss64(scores, labels, 2 * n_pairs, dscores, NULL);
}

/* total_loss's arguments, for the finite differences (tests/common/fd_grad.h). */
typedef struct {
    const rm_mlp64 *m;
    rm_mlp64_workspace *ws;
    const double *X;
    int n_pairs, objective;
    double *scores, *dscores;
    const double *labels;
} loss_args;

static double loss_of(void *ctx)
{
    const loss_args *a = ctx;
    return total_loss(a->m, a->ws, a->X, a->n_pairs, a->objective, a->scores, a->dscores, a->labels);
}

static void check_gradients(int dim, const int *hidden, int n_hidden, int objective)
{
    const int n_pairs = 6, rows = 2 * n_pairs;
    rm_mlp mf;
    CHECK(rm_mlp_create(&mf, dim, hidden, n_hidden) == 0);
    rm_mlp_init_uniform(&mf, 7, 99);
    rm_mlp64 m;
    CHECK(rm_mlp64_from_float(&m, &mf) == 0);
    rm_mlp64_workspace ws;
    CHECK(rm_mlp64_workspace_create(&ws, &m, rows) == 0);

    double *X = malloc(sizeof(double) * rows * dim);
    double *scores = malloc(sizeof(double) * rows), *dscores = malloc(sizeof(double) * rows);
    double *labels = malloc(sizeof(double) * rows);
    double *grads = calloc(m.n_params, sizeof(double));
    for (int i = 0; i < rows * dim; i++) X[i] = rm_rand_normal(3, 5, (uint64_t)i);
    for (int i = 0; i < rows; i++) labels[i] = i < n_pairs ? 1.0 : 0.0;

    total_loss(&m, &ws, X, n_pairs, objective, scores, dscores, labels);
    rm_mlp64_backward(&m, &ws, X, rows, dscores, grads);

    /* every parameter: (L(p+h) - L(p-h)) / 2h, h = 1e-5, relative error at most 1e-6 */
    loss_args args = {&m, &ws, X, n_pairs, objective, scores, dscores, labels};
    double worst;
    int bad = test_fd_check(m.params, m.n_params, grads, 1e-5, 1e-6, loss_of, &args, &worst);
    printf("gradients D=%d hidden=%d layers objective=%s: %zu params, worst relative error %.3g\n", dim, n_hidden,
           objective == OBJ_BT ? "bt" : "clf", m.n_params, worst);
    CHECK(bad == 0);

    /* The float instantiation computes the same thing to float accuracy. */
    float *Xf = malloc(sizeof(float) * rows * dim), *sf = malloc(sizeof(float) * rows);
    float *dsf = malloc(sizeof(float) * rows), *lf = malloc(sizeof(float) * rows);
    float *gf = calloc(mf.n_params, sizeof(float));
    for (int i = 0; i < rows * dim; i++) Xf[i] = (float)X[i];
    for (int i = 0; i < rows; i++) lf[i] = (float)labels[i];
    rm_mlp_workspace wsf;
    CHECK(rm_mlp_workspace_create(&wsf, &mf, rows) == 0);
    rm_mlp_forward(&mf, &wsf, Xf, rows, sf);
    double loss64 = total_loss(&m, &ws, X, n_pairs, objective, scores, dscores, labels);
    double loss32 = objective == OBJ_BT ? rm_bt_loss(sf, n_pairs, dsf, NULL) : rm_clf_loss(sf, lf, rows, dsf, NULL);
    CHECK_CLOSE(loss32, loss64, 1e-5 * fmax(1, fabs(loss64)));
    for (int i = 0; i < rows; i++) CHECK_CLOSE(sf[i], scores[i], 1e-5 * fmax(1, fabs(scores[i])));
    rm_mlp_backward(&mf, &wsf, Xf, rows, dsf, gf);
    double gmax = 0;
    for (size_t i = 0; i < m.n_params; i++) gmax = fmax(gmax, fabs(grads[i]));
    int float_bad = 0;
    for (size_t i = 0; i < m.n_params; i++) float_bad += fabs(gf[i] - grads[i]) > 1e-4 * gmax;
    CHECK(float_bad == 0);

    rm_mlp_workspace_free(&wsf);
    free(Xf); free(sf); free(dsf); free(lf); free(gf);
    free(X); free(scores); free(dscores); free(labels); free(grads);
    rm_mlp64_workspace_free(&ws);
    rm_mlp64_free(&m);
    rm_mlp_free(&mf);
}

static void check_objectives_stable(void)
{
    /* margins of +-200: exp() would overflow a naive form in float */
    float s[4] = {100, -100, -100, 100}, ds[4];
    int correct = -1;
    double loss = rm_bt_loss(s, 2, ds, &correct);
    CHECK(isfinite(loss));
    CHECK_CLOSE(loss, 200.0, 1e-9);          /* pair 0: ~0, pair 1: -log sigmoid(-200) = 200 */
    CHECK(correct == 1);
    CHECK_CLOSE(ds[0], 0.0, 1e-30);
    CHECK_CLOSE(ds[1], -1.0, 1e-7);
    CHECK_CLOSE(ds[3], 1.0, 1e-7);
    float z[4] = {1000, -1000, 0, 0}, y[4] = {1, 1, 1, 0}, dz[4];
    loss = rm_clf_loss(z, y, 4, dz, &correct);
    CHECK(isfinite(loss));
    CHECK_CLOSE(loss, 1000.0 + 2 * log(2.0), 1e-6);
    CHECK_CLOSE(dz[0], 0.0, 1e-30);
    CHECK_CLOSE(dz[1], -1.0, 1e-7);
    CHECK_CLOSE(dz[2], -0.5, 1e-7);
    CHECK_CLOSE(dz[3], 0.5, 1e-7);
    CHECK(correct == 2); /* items 0 and 3: a score of 0 counts as predicting the loser */
}

static void check_flops(void)
{
    int hidden[2] = {1024, 512};
    rm_mlp m;
    CHECK(rm_mlp_create(&m, 2048, hidden, 2) == 0);
    CHECK(m.n_params == (size_t)2048 * 1024 + 1024 + 1024 * 512 + 512 + 512 + 1);
    CHECK_CLOSE(rm_mlp_forward_flops(&m, 1), 5.24288e6 + 1024.0, 1);          /* 2 (D H1 + H1 H2 + H2) */
    CHECK_CLOSE(rm_mlp_backward_flops(&m, 1), 2.0 * (2048.0 * 1024 + 2 * (1024.0 * 512 + 512)), 1);
    rm_mlp_free(&m);
}

static void check_adam(void)
{
    enum { N = 21 }; /* two SIMD blocks of 8 and a scalar remainder */
    rm_adam a;
    CHECK(rm_adam_create(&a, N) == 0);
    float p[N];
    for (int i = 0; i < N; i++) p[i] = (float)(0.25 * i - 2);
    double ref_p[N], ref_m[N] = {0}, ref_v[N] = {0};
    for (int i = 0; i < N; i++) ref_p[i] = p[i];
    const double lr = 0.01, wd = 0.1;
    for (int t = 1; t <= 4; t++) {
        float g[N];
        for (int i = 0; i < N; i++) g[i] = (float)(0.3 * (i % 7 - 3) + 0.1 * t + (i == 4 ? 1e-3 : 0));
        rm_adam_step(&a, p, g, (float)lr, (float)wd);
        for (int i = 0; i < N; i++) {
            ref_m[i] = 0.9 * ref_m[i] + 0.1 * g[i];
            ref_v[i] = 0.999 * ref_v[i] + 0.001 * (double)g[i] * g[i];
            double mhat = ref_m[i] / (1 - pow(0.9, t)), vhat = ref_v[i] / (1 - pow(0.999, t));
            ref_p[i] -= lr * (mhat / (sqrt(vhat) + 1e-8) + wd * ref_p[i]);
        }
    }
    for (int i = 0; i < N; i++) CHECK_CLOSE(p[i], ref_p[i], 1e-5);
    CHECK(a.step == 4);
    rm_adam_free(&a);
}

static void check_bad_architectures(void)
{
    rm_mlp m;
    int zero[1] = {0};
    CHECK(rm_mlp_create(&m, 8, zero, 1) == -1);
    CHECK(strstr(rm_last_error(), "model.hidden") != NULL);
    int many[RM_MAX_LAYERS] = {4, 4, 4, 4, 4, 4, 4, 4, 4};
    CHECK(rm_mlp_create(&m, 8, many, RM_MAX_LAYERS) == -1);
    CHECK(strstr(rm_last_error(), "hidden layers") != NULL);
    int huge[2] = {1000000, 1000000};
    CHECK(rm_mlp_create(&m, 8, huge, 2) == -1);  /* 1e12 weights cannot travel in one MPI message */
    CHECK(strstr(rm_last_error(), "parameters") != NULL);
    CHECK(rm_mlp_create(&m, 0, NULL, 0) == -1);
}

/* Scores and gradients must not depend on the thread count (rm_mlp_set_threads): with
 * one rank per member the ensemble file is promised bitwise identical for any number of
 * ranks, and ranks on a node share its cores. OpenBLAS's own threading fails this on
 * some CPUs (AMD EPYC with its Haswell kernels), hence the tiles; shapes with several
 * tiles in every product. */
static void check_thread_invariance(void)
{
    enum { ROWS = 600, DIM = 96, COUNTS = 3 };
    int hidden[2] = {300, 64}; /* 3 row tiles; 2 column tiles of the first bias and weight gradients */
    rm_mlp m;
    rm_mlp_workspace ws;
    CHECK(rm_mlp_create(&m, DIM, hidden, 2) == 0);
    CHECK(rm_mlp_workspace_create(&ws, &m, ROWS) == 0);
    rm_mlp_init_uniform(&m, 3, 4);
    float *X = malloc(sizeof(float) * ROWS * DIM), *scores[COUNTS], *grads[COUNTS], dscores[ROWS];
    for (int i = 0; i < ROWS * DIM; i++) X[i] = (float)rm_rand_normal(8, 9, (uint64_t)i);
    for (int t = 0; t < COUNTS; t++) {
        rm_mlp_set_threads(t + 1);
        scores[t] = malloc(sizeof(float) * ROWS);
        grads[t] = calloc(m.n_params, sizeof(float));
        rm_mlp_forward(&m, &ws, X, ROWS, scores[t]);
        rm_bt_loss(scores[t], ROWS / 2, dscores, NULL);
        rm_mlp_backward(&m, &ws, X, ROWS, dscores, grads[t]);
    }
    for (int t = 1; t < COUNTS; t++) {
        CHECK(memcmp(scores[0], scores[t], sizeof(float) * ROWS) == 0);
        CHECK(memcmp(grads[0], grads[t], sizeof(float) * m.n_params) == 0);
    }
    rm_mlp_set_threads(1);
    for (int t = 0; t < COUNTS; t++) { free(scores[t]); free(grads[t]); }
    free(X);
    rm_mlp_workspace_free(&ws);
    rm_mlp_free(&m);
}

/* rm_mlp_backward_pairs: equal to the plain backward up to round-off, and a bias gradient
 * that cancels within every pair (units active on both sides just below the output, under
 * BT) is exactly zero, for the whole batch and for any split of its pairs. */
static void check_paired_bias_gradients(void)
{
    enum { D = 6, N = 40 };
    int hidden[2] = {5, 4};
    rm_mlp m;
    CHECK(rm_mlp_create(&m, D, hidden, 2) == 0);
    rm_mlp_init_uniform(&m, 3, 4);
    /* Large positive biases in the last hidden layer keep its units active on every row. */
    for (int j = 0; j < 4; j++) m.params[m.bias_offset[1] + j] = 50.0f;
    float X[2 * N * D], scores[2 * N], dscores[2 * N];
    for (int i = 0; i < 2 * N * D; i++) X[i] = (float)rm_rand_normal(5, 6, (uint64_t)i);
    rm_mlp_workspace ws;
    CHECK(rm_mlp_workspace_create(&ws, &m, 2 * N) == 0);
    float *paired = calloc(m.n_params, sizeof(float)), *plain = calloc(m.n_params, sizeof(float));
    float *split = calloc(m.n_params, sizeof(float));
    rm_mlp_forward(&m, &ws, X, 2 * N, scores);
    rm_bt_loss(scores, N, dscores, NULL);
    rm_mlp_backward_pairs(&m, &ws, X, 2 * N, dscores, paired);
    rm_mlp_forward(&m, &ws, X, 2 * N, scores);
    rm_mlp_backward(&m, &ws, X, 2 * N, dscores, plain);
    double scale = 0;
    for (size_t i = 0; i < m.n_params; i++) scale = fmax(scale, fabs(plain[i]));
    for (size_t i = 0; i < m.n_params; i++) CHECK_CLOSE(paired[i], plain[i], 1e-5 * scale);
    /* The same pairs in two parts (13 and 27 pairs), as two ranks would take them. */
    int parts[2][2] = {{0, 13}, {13, N}};
    for (int p = 0; p < 2; p++) {
        int n = parts[p][1] - parts[p][0];
        float Xp[2 * N * D], sp[2 * N], dp[2 * N];
        memcpy(Xp, X + (size_t)parts[p][0] * D, (size_t)n * D * sizeof(float));
        memcpy(Xp + (size_t)n * D, X + (size_t)(N + parts[p][0]) * D, (size_t)n * D * sizeof(float));
        rm_mlp_forward(&m, &ws, Xp, 2 * n, sp);
        rm_bt_loss(sp, n, dp, NULL);
        rm_mlp_backward_pairs(&m, &ws, Xp, 2 * n, dp, split);
    }
    for (int j = 0; j < 4; j++) {
        CHECK(paired[m.bias_offset[1] + j] == 0.0f);
        CHECK(split[m.bias_offset[1] + j] == 0.0f);
    }
    CHECK(paired[m.bias_offset[2]] == 0.0f); /* the output bias cancels too */
    free(paired);
    free(plain);
    free(split);
    rm_mlp_workspace_free(&ws);
    rm_mlp_free(&m);
}

int main(void)
{
    int two_hidden[2] = {7, 5};
    check_gradients(9, NULL, 0, OBJ_BT);
    check_gradients(9, NULL, 0, OBJ_CLF);
    check_gradients(9, two_hidden, 2, OBJ_BT);
    check_gradients(9, two_hidden, 2, OBJ_CLF);
    check_objectives_stable();
    check_flops();
    check_adam();
    check_bad_architectures();
    check_thread_invariance();
    check_paired_bias_gradients();
    return check_status("test_model_grad");
}
