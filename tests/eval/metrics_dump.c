/* Writes random prompts (with ties) and rmens's figures for them, one case per line, for
 * check_metrics_scipy.py to recompute with scipy:
 *   n x[0..n) y[0..n) label[0..n) spearman discordant x_ties y_ties joint_ties
 *   pair_accuracy auroc
 * x plays golden, y the score; label the AUROC class with y as the predictor. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "rmens/metrics.h"
#include "rmens/rng.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTPUT\n", argv[0]);
        return 2;
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
