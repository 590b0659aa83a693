/* Calibration of preference probabilities: the per-pair terms and the binning behind the
 * expected calibration error, Brier score and log loss (see include/rmens/eval/metrics.h).
 * Pure functions; src/eval/eval_calibration.c sums them per prompt. */
#include <math.h>

#include "rmens/eval/metrics.h"

double rm_sigmoid(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x); /* exp(-x) would overflow for very negative x */
    return e / (1.0 + e);
}

double rm_uniform_edge(double lo, double hi, int bins, int i)
{
    /* np.linspace(lo, hi, bins + 1): arange * step + start, the last value set to stop */
    if (i >= bins) return hi;
    return (double)i * ((hi - lo) / (double)bins) + lo;
}

int rm_uniform_bin(double x, double lo, double hi, int bins)
{
    /* a first guess from the width, then corrected against the edges themselves so that
     * the bin is exactly that of the edge comparisons (the guess may be off by one where
     * x sits on an edge up to rounding) */
    double guess = (x - lo) / (hi - lo) * (double)bins;
    int b = guess <= 0 ? 0 : guess >= (double)(bins - 1) ? bins - 1 : (int)guess;
    while (b > 0 && x < rm_uniform_edge(lo, hi, bins, b)) b--;
    while (b < bins - 1 && x >= rm_uniform_edge(lo, hi, bins, b + 1)) b++;
    return b;
}

const double RM_DISAGREEMENT_EDGES[RM_DISAGREEMENT_BINS + 1] = {0.0,  0.005, 0.01, 0.02, 0.03, 0.05,
                                                                  0.075, 0.1, 0.15, 0.25, 0.5};

int rm_disagreement_bin(double x)
{
    int b = 0;
    while (b < RM_DISAGREEMENT_BINS - 1 && x >= RM_DISAGREEMENT_EDGES[b + 1]) b++;
    return b;
}

double rm_brier_term(double p, int y)
{
    double d = p - (y ? 1.0 : 0.0);
    return d * d;
}

double rm_log_loss_term(double p, int y)
{
    double q = p < RM_LOG_LOSS_CLIP ? RM_LOG_LOSS_CLIP : p > 1.0 - RM_LOG_LOSS_CLIP ? 1.0 - RM_LOG_LOSS_CLIP : p;
    return y ? -log(q) : -log(1.0 - q);
}

double rm_expected_calibration_error(const double *count, const double *probability_sum, const double *positive_sum,
                                     int bins)
{
    double total = 0.0, ece = 0.0;
    for (int b = 0; b < bins; b++) total += count[b];
    if (!(total > 0)) return NAN;
    for (int b = 0; b < bins; b++)
        if (count[b] > 0) ece += count[b] / total * fabs(probability_sum[b] / count[b] - positive_sum[b] / count[b]);
    return ece;
}

double rm_preference_error(double p, double golden_a, double golden_b)
{
    if (golden_a == golden_b) return NAN;
    if (p == 0.5) return 0.5;
    return (p > 0.5) == (golden_a > golden_b) ? 0.0 : 1.0;
}
