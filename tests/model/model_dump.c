/* Writes what check_reference.py compares against scikit-learn and PyTorch:
 *
 *   model_dump sklearn DIR   a linear BT model with an L2 penalty trained to convergence
 *                            with the library (forward, rm_bt_loss, backward, Adam; the
 *                            L2 gradient lambda*w added here) on noisy synthetic pairs:
 *                            DIR/diffs.f32 [n, D] = x_winner - x_loser, DIR/coef.f64 [D],
 *                            DIR/meta.txt "n D lambda".
 *   model_dump torch DIR     a 2-hidden-layer MLP with its default initialisation and its
 *                            forward scores of random rows: DIR/params.f32 (the flat
 *                            layout W0 b0 W1 b1 W2 b2), DIR/x.f32 [R, D], DIR/scores.f32 [R],
 *                            DIR/meta.txt "R D H1 H2". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/model/model.h"
#include "rmens/model/optim.h"
#include "rmens/member/pairs.h"
#include "rmens/base/rng.h"
#include "../common/synthetic.h"

static int write_file(const char *dir, const char *name, const void *data, size_t bytes)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, bytes, f) != bytes || fclose(f) != 0) {
        fprintf(stderr, "model_dump: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

static int dump_sklearn(const char *dir)
{
    enum { D = 10, PAIRS = 2000 };
    const double lambda = 1e-2;
    synth_split split;
    rm_pairs pairs;
    if (synth_make(&split, 400, 5, D, 3) != 0 ||
        test_pairs_build(&pairs, split.rewards, split.n_prompts, split.n_responses, "cross_prompt", PAIRS, 2.0, 0.0, 4) != 0) {
        fprintf(stderr, "model_dump: %s\n", rm_last_error());
        return 1;
    }
    /* rows [0, n) winners, [n, 2n) losers: one full-batch BT forward per step */
    const size_t n = pairs.n;
    float *X = malloc(sizeof(float) * 2 * n * D), *diffs = malloc(sizeof(float) * n * D);
    float *scores = malloc(sizeof(float) * 2 * n), *dscores = malloc(sizeof(float) * 2 * n);
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < D; d++) {
            X[i * D + d] = split.embeddings[(size_t)pairs.winner[i] * D + d];
            X[(n + i) * D + d] = split.embeddings[(size_t)pairs.loser[i] * D + d];
            diffs[i * D + d] = X[i * D + d] - X[(n + i) * D + d];
        }
    rm_mlp m;
    rm_mlp_workspace ws;
    rm_adam adam;
    if (rm_mlp_create(&m, D, NULL, 0) != 0 || rm_mlp_workspace_create(&ws, &m, (int)(2 * n)) != 0 ||
        rm_adam_create(&adam, m.n_params) != 0)
        return 1;
    rm_mlp_init_uniform(&m, 1, 2);
    float *grads = malloc(sizeof(float) * m.n_params);
    /* minimise mean_i -log sigmoid(w.(x_w - x_l)) + lambda/2 |w|^2 with a decaying step:
     * Adam at a fixed rate would hover around the optimum at the scale of the rate */
    double loss = 0;
    for (int step = 0; step < 8000; step++) {
        memset(grads, 0, sizeof(float) * m.n_params);
        rm_mlp_forward(&m, &ws, X, (int)(2 * n), scores);
        loss = rm_bt_loss(scores, (int)n, dscores, NULL) / (double)n;
        for (size_t i = 0; i < 2 * n; i++) dscores[i] /= (float)n;
        rm_mlp_backward(&m, &ws, X, (int)(2 * n), dscores, grads);
        for (int d = 0; d < D; d++) grads[m.weight_offset[0] + d] += (float)lambda * m.params[m.weight_offset[0] + d];
        grads[m.bias_offset[0]] = 0; /* cancels in the difference (see train.c) */
        float lr = (float)fmax(1e-6, 0.02 * pow(0.998, step));
        rm_adam_step(&adam, m.params, grads, lr, 0.0f);
    }
    double coef[D];
    for (int d = 0; d < D; d++) coef[d] = m.params[m.weight_offset[0] + d];
    printf("model_dump sklearn: %zu pairs, D=%d, lambda=%g, final loss %.8f, label agreement %.3f\n", n, D, lambda,
           loss, pairs.label_agreement);
    char meta[256];
    snprintf(meta, sizeof meta, "%zu %d %.17g\n", n, D, lambda);
    int rc = write_file(dir, "diffs.f32", diffs, sizeof(float) * n * D) || write_file(dir, "coef.f64", coef, sizeof coef) ||
             write_file(dir, "meta.txt", meta, strlen(meta));
    free(X); free(diffs); free(scores); free(dscores); free(grads);
    rm_adam_free(&adam);
    rm_mlp_workspace_free(&ws);
    rm_mlp_free(&m);
    rm_pairs_free(&pairs);
    synth_free(&split);
    return rc ? 1 : 0;
}

static int dump_torch(const char *dir)
{
    enum { R = 9, D = 12, H1 = 7, H2 = 5 };
    int hidden[2] = {H1, H2};
    rm_mlp m;
    rm_mlp_workspace ws;
    if (rm_mlp_create(&m, D, hidden, 2) != 0 || rm_mlp_workspace_create(&ws, &m, R) != 0) return 1;
    rm_mlp_init_uniform(&m, 42, 7);
    float x[R * D], scores[R];
    for (int i = 0; i < R * D; i++) x[i] = (float)rm_rand_normal(5, 6, (uint64_t)i);
    rm_mlp_forward(&m, &ws, x, R, scores);
    char meta[128];
    snprintf(meta, sizeof meta, "%d %d %d %d\n", R, D, H1, H2);
    int rc = write_file(dir, "params.f32", m.params, sizeof(float) * m.n_params) ||
             write_file(dir, "x.f32", x, sizeof x) || write_file(dir, "scores.f32", scores, sizeof scores) ||
             write_file(dir, "meta.txt", meta, strlen(meta));
    rm_mlp_workspace_free(&ws);
    rm_mlp_free(&m);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: model_dump sklearn|torch DIR\n");
        return 2;
    }
    if (strcmp(argv[1], "sklearn") == 0) return dump_sklearn(argv[2]);
    if (strcmp(argv[1], "torch") == 0) return dump_torch(argv[2]);
    fprintf(stderr, "model_dump: unknown mode %s\n", argv[1]);
    return 2;
}
