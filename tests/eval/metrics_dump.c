/* Writes random prompts (with ties) and rmens's figures for them, one case per line, for
 * check_metrics_scipy.py to recompute with scipy:
 *   n x[0..n) y[0..n) label[0..n) spearman discordant x_ties y_ties joint_ties
 *   pair_accuracy auroc
 * x plays golden, y the score; label the AUROC class with y as the predictor.
 * With a second file, the overoptimization and calibration figures (write_diagnostics). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "rmens/eval/metrics.h"
#include "rmens/base/rng.h"

/* One line per case:
 *   bon K score[K] golden[K] bon[n = 1..K] proxy_bon[n = 1..K] pick_quantile above_median
 *   cal N p[N] y[N] ece brier log_loss count[15] mean_probability[15] fraction_preferred[15]
 *   bin lo hi bins M x[M] bin[M]
 * Small K with many ties for best-of-n (a brute force over all n-subsets is cheap);
 * probabilities with exact bin edges, 0, 1 and values beyond the log-loss clip. */
static int write_diagnostics(FILE *out)
{
    rm_metric_scratch s;
    rm_golden_sorted g;
    if (rm_metric_scratch_create(&s, 16) != 0 || rm_golden_sorted_create(&g, 16) != 0) return 1;
    double score[16], golden[16], bon[16], proxy[16], ranks[16];
    size_t ns[16];
    for (int c = 0; c < 120; c++) {
        size_t K = 1 + (size_t)rm_rand_below(5, 60, (uint64_t)c, 8);
        double grid = c % 3 == 0 ? 1.0 : c % 3 == 1 ? 0.5 : 0.0; /* 0: continuous */
        for (size_t i = 0; i < K; i++) {
            double a = rm_rand_normal(6, 60, (uint64_t)c * 100 + i), b = rm_rand_normal(7, 60, (uint64_t)c * 100 + i);
            golden[i] = c % 4 == 0 ? floor(2 * a) : a;
            score[i] = grid > 0 ? grid * floor((0.7 * a + 0.7 * b) / grid) : 0.7 * a + 0.7 * b;
            ns[i] = i + 1;
        }
        rm_bon_table t;
        if (rm_bon_table_create(&t, K, ns, (int)K) != 0) return 1;
        rm_golden_sorted_set(&g, golden, K, &s);
        rm_score_figures f;
        rm_score_figures_compute(score, &g, &t, bon, proxy, ranks, NULL, &f, &s);
        rm_bon_table_free(&t);
        fprintf(out, "bon %zu", K);
        for (size_t i = 0; i < K; i++) fprintf(out, " %.17g", score[i]);
        for (size_t i = 0; i < K; i++) fprintf(out, " %.17g", golden[i]);
        for (size_t i = 0; i < K; i++) fprintf(out, " %.17g", bon[i]);
        for (size_t i = 0; i < K; i++) fprintf(out, " %.17g", proxy[i]);
        fprintf(out, " %.17g %.17g\n", f.pick_quantile, f.above_median);
    }
    for (int c = 0; c < 40; c++) {
        size_t N = 1 + (size_t)rm_rand_below(8, 61, (uint64_t)c, 3000);
        double brier = 0, log_loss = 0, count[RM_CALIBRATION_BINS] = {0}, sum_p[RM_CALIBRATION_BINS] = {0},
               positive[RM_CALIBRATION_BINS] = {0};
        fprintf(out, "cal %zu", N);
        double *p = malloc(N * sizeof(double));
        int *y = malloc(N * sizeof(int));
        if (!p || !y) return 1;
        for (size_t i = 0; i < N; i++) {
            uint64_t k = (uint64_t)c * 10000 + i;
            int kind = c % 2 ? (int)rm_rand_below(9, 61, k, 8) : 0; /* odd cases: edges and extremes */
            double u = rm_rand_normal(10, 61, k);
            p[i] = kind == 1 ? rm_uniform_edge(0, 1, RM_CALIBRATION_BINS, (int)rm_rand_below(11, 61, k, 16))
                 : kind == 2 ? (u > 0 ? 1.0 : 0.0)
                 : kind == 3 ? (u > 0 ? 1 - 1e-17 : 1e-17)
                 : rm_sigmoid(3 * u);
            y[i] = rm_rand_uniform(12, 61, k) < (c % 4 == 1 ? 0.5 : p[i]);
            brier += rm_brier_term(p[i], y[i]);
            log_loss += rm_log_loss_term(p[i], y[i]);
            int b = rm_uniform_bin(p[i], 0, 1, RM_CALIBRATION_BINS);
            count[b] += 1, sum_p[b] += p[i], positive[b] += y[i];
            fprintf(out, " %.17g", p[i]);
        }
        for (size_t i = 0; i < N; i++) fprintf(out, " %d", y[i]);
        fprintf(out, " %.17g %.17g %.17g", rm_expected_calibration_error(count, sum_p, positive, RM_CALIBRATION_BINS),
                brier / (double)N, log_loss / (double)N);
        for (int b = 0; b < RM_CALIBRATION_BINS; b++) fprintf(out, " %.17g", count[b]);
        for (int b = 0; b < RM_CALIBRATION_BINS; b++) fprintf(out, " %.17g", count[b] ? sum_p[b] / count[b] : NAN);
        for (int b = 0; b < RM_CALIBRATION_BINS; b++) fprintf(out, " %.17g", count[b] ? positive[b] / count[b] : NAN);
        fputc('\n', out);
        free(p);
        free(y);
    }
    /* the disagreement bins: their edges, then values on the edges, their neighbours, the
     * ends and random ones, then the bins */
    fprintf(out, "bin %d", RM_DISAGREEMENT_BINS);
    for (int b = 0; b <= RM_DISAGREEMENT_BINS; b++) fprintf(out, " %.17g", RM_DISAGREEMENT_EDGES[b]);
    fprintf(out, " 300");
    double x[300];
    for (int i = 0; i < 300; i++) {
        double e = RM_DISAGREEMENT_EDGES[i % 11];
        x[i] = i < 33 ? e : i < 66 ? nextafter(e, -1) : i < 99 ? nextafter(e, 1) : 0.5 * rm_rand_uniform(13, 62, (uint64_t)i);
        fprintf(out, " %.17g", x[i]);
    }
    for (int i = 0; i < 300; i++) fprintf(out, " %d", rm_disagreement_bin(x[i]));
    fputc('\n', out);
    rm_metric_scratch_free(&s);
    rm_golden_sorted_free(&g);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: %s OUTPUT [DIAGNOSTICS_OUTPUT]\n", argv[0]);
        return 2;
    }
    if (argc == 3) {
        FILE *diag = fopen(argv[2], "w");
        if (!diag) {
            perror(argv[2]);
            return 1;
        }
        int rc = write_diagnostics(diag);
        if (fclose(diag) != 0 || rc != 0) return 1;
    }
    FILE *out = fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        return 1;
    }
    rm_metric_scratch s;
    if (rm_metric_scratch_create(&s, 600) != 0) return 1;
    double x[600], y[600];
    int label[600];
    for (int c = 0; c < 80; c++) {
        size_t n = 2 + (size_t)rm_rand_below(1, 50, (uint64_t)c, 599);
        double gx = c % 4 == 0 ? 0.0 : 0.5 * (1 + c % 3), gy = c % 5 == 0 ? 0.0 : 0.25 * (1 + c % 4);
        for (size_t i = 0; i < n; i++) {
            double a = rm_rand_normal(2, 50, (uint64_t)c * 1000 + i), b = rm_rand_normal(3, 50, (uint64_t)c * 1000 + i);
            x[i] = gx > 0 ? gx * floor(a / gx) : a;
            y[i] = 0.6 * a + 0.8 * b;
            if (gy > 0) y[i] = gy * floor(y[i] / gy);
            label[i] = rm_rand_uniform(4, 50, (uint64_t)c * 1000 + i) < 0.5 + 0.3 * tanh(y[i]);
        }
        if (c == 7) label[0] = 1, label[1] = 0; /* keep both classes present on short cases */
        rm_pair_counts pc;
        rm_count_pairs(x, y, n, &pc, &s);
        int64_t twice = 0, valid = rm_pair_accuracy_counts(y, x, n, &twice, &s);
        double spearman = rm_spearman(x, y, n, &s), auroc = rm_auroc(y, label, n, &s);
        fprintf(out, "%zu", n);
        for (size_t i = 0; i < n; i++) fprintf(out, " %.17g", x[i]);
        for (size_t i = 0; i < n; i++) fprintf(out, " %.17g", y[i]);
        for (size_t i = 0; i < n; i++) fprintf(out, " %d", label[i]);
        fprintf(out, " %.17g %lld %lld %lld %lld %.17g %.17g\n", spearman, (long long)pc.discordant, (long long)pc.x_ties,
                (long long)pc.y_ties, (long long)pc.joint_ties, valid ? 0.5 * (double)twice / (double)valid : NAN, auroc);
    }
    rm_metric_scratch_free(&s);
    return fclose(out) == 0 ? 0 : 1;
}
