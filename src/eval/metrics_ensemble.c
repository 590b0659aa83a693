/* Ensemble aggregates, the member moments and the pair masks of one prompt (see
 * include/rmens/eval/metrics.h, "ensembles"). The loops run over tiles of responses with the
 * members outermost, so that each response gets the operations of the per-response
 * definition in the same order while the compiler vectorises across responses. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rmens/eval/metrics.h"

/* The squared deviations of the member variance are multiplied and added separately, never
 * fused: the build that these figures were first computed with (GCC 12, tuned for AMD Zen)
 * kept the two apart in its scalar loops, and left to contraction a vectorised loop would
 * fuse them. */
#define SEPARATE_MULTIPLY_ADD __attribute__((optimize("fp-contract=off")))

enum { MOMENT_TILE = 64 }; /* responses per tile: the members' rows read contiguously */

/* Over n <= MOMENT_TILE responses from r0: mean[t] = sum_i z_i / k in member order and, if
 * ss is not NULL, ss[t] = sum_i (z_i - mean)^2, the loops of the per-response code with
 * the responses innermost (the same operations in the same order for each response). */
SEPARATE_MULTIPLY_ADD static inline __attribute__((always_inline)) void
member_moments_n(const float *restrict z, size_t member_stride, const int *members, int k, size_t r0, size_t n,
                 double *restrict mean, double *restrict ss)
{
    for (size_t t = 0; t < n; t++) mean[t] = 0.0;
    for (int i = 0; i < k; i++) {
        const float *zi = z + (size_t)members[i] * member_stride + r0;
        for (size_t t = 0; t < n; t++) mean[t] += zi[t];
    }
    for (size_t t = 0; t < n; t++) mean[t] /= k;
    if (!ss) return;
    for (size_t t = 0; t < n; t++) ss[t] = 0.0;
    for (int i = 0; i < k; i++) {
        const float *zi = z + (size_t)members[i] * member_stride + r0;
        for (size_t t = 0; t < n; t++) {
            double d = zi[t] - mean[t];
            ss[t] += d * d;
        }
    }
}

/* Full tiles with the count known to the compiler, which vectorises the loops then (GCC's
 * -O2 cost model does not where a loop would need a scalar remainder). */
SEPARATE_MULTIPLY_ADD static void member_moments_tile(const float *z, size_t member_stride, const int *members, int k,
                                                      size_t r0, size_t n, double *mean, double *ss)
{
    if (n == MOMENT_TILE) member_moments_n(z, member_stride, members, k, r0, MOMENT_TILE, mean, ss);
    else member_moments_n(z, member_stride, members, k, r0, n, mean, ss);
}

SEPARATE_MULTIPLY_ADD void rm_member_moments(const float *z, size_t member_stride, const int *members, int k, size_t K,
                                             double *mean, double *ss)
{
    for (size_t r0 = 0; r0 < K; r0 += MOMENT_TILE) {
        size_t n = K - r0 < MOMENT_TILE ? K - r0 : MOMENT_TILE;
        member_moments_tile(z, member_stride, members, k, r0, n, mean + r0, ss + r0);
    }
}

/* Element-wise loops over tiles of MOMENT_TILE responses, the count known to the compiler in
 * full tiles so that GCC's -O2 vectorises them: f(t) for t < n, n = MOMENT_TILE or less. */
#define FOR_TILES(K, r0, n, body)                                                                                      \
    for (size_t r0 = 0; r0 < (K); r0 += MOMENT_TILE) {                                                                 \
        if ((K) - r0 >= MOMENT_TILE) {                                                                                 \
            const size_t n = MOMENT_TILE;                                                                              \
            body                                                                                                       \
        } else {                                                                                                       \
            const size_t n = (K) - r0;                                                                                 \
            body                                                                                                       \
        }                                                                                                              \
    }

void rm_uwo_from_moments(const double *restrict mean, const double *restrict ss, int k, double lambda, size_t K,
                         double *restrict out)
{
    FOR_TILES(K, r0, n, {
        for (size_t t = 0; t < n; t++) out[r0 + t] = mean[r0 + t] - lambda * ss[r0 + t] / k;
    })
}

/* sqrt of a sum of squares over k (never negative, so never an error for errno): without
 * errno to keep, the square roots vectorise; each is correctly rounded either way. */
__attribute__((optimize("no-math-errno"))) void rm_std_from_moments(const double *restrict ss, int k, size_t K,
                                                                     double *restrict out)
{
    FOR_TILES(K, r0, n, {
        for (size_t t = 0; t < n; t++) out[r0 + t] = sqrt(ss[r0 + t] / k);
    })
}

static void insertion_sort(double *v, int n)
{
    for (int i = 1; i < n; i++) {
        double x = v[i];
        int j = i - 1;
        while (j >= 0 && v[j] > x) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = x;
    }
}

/* fmin(value, x) as glibc computes it: x where x is below value or value is NaN, else
 * value (so value when x is NaN, and value for equal values of either zero's sign); as a
 * comparison the loop over responses vectorises, where the call to fmin did not. */
static inline double min_as_fmin(double value, double x)
{
    return x < value || value != value ? x : value;
}

/* The median of a full tile of responses, all members sorted side by side: an odd-even
 * transposition sort (k rounds of exchanges of neighbours) that exchanges only a strictly
 * greater value is, like the insertion sort of one response's members, a stable sort, so
 * the two leave the same values (the same zeros of either sign) in the middle. The order
 * of NaN is no order: a tile with one returns 0 and takes the insertion sort. */
#define MEDIAN_TILE_MAX_K 16

/* One exchange of neighbours for a tile: x[t], y[t] swapped where x[t] > y[t]. */
__attribute__((noinline)) static void exchange_greater(double *restrict x, double *restrict y)
{
    for (size_t t = 0; t < MOMENT_TILE; t++) {
        double a = x[t], b = y[t];
        int swap = b < a;
        x[t] = swap ? b : a;
        y[t] = swap ? a : b;
    }
}
static int member_median_tile(const float *restrict z, size_t member_stride, const int *members, int k, size_t r0,
                              double *restrict out)
{
    double v[MEDIAN_TILE_MAX_K][MOMENT_TILE];
    int nan = 0;
    for (int i = 0; i < k; i++) {
        const float *zi = z + (size_t)members[i] * member_stride + r0;
        for (size_t t = 0; t < MOMENT_TILE; t++) {
            v[i][t] = zi[t];
            nan |= zi[t] != zi[t];
        }
    }
    if (nan) return 0;
    for (int round = 0; round < k; round++)
        for (int i = round % 2; i + 1 < k; i += 2)
            exchange_greater(v[i], v[i + 1]);
    for (size_t t = 0; t < MOMENT_TILE; t++) out[t] = k % 2 ? v[k / 2][t] : 0.5 * (v[k / 2 - 1][t] + v[k / 2][t]);
    return 1;
}

/* The min aggregate over n responses from r0 (inlined with n constant for full tiles). */
static inline __attribute__((always_inline)) void member_min_n(const float *restrict z, size_t member_stride,
                                                               const int *members, int k, size_t r0, size_t n,
                                                               double *restrict out)
{
    const float *z0 = z + (size_t)members[0] * member_stride + r0;
    for (size_t t = 0; t < n; t++) out[t] = z0[t];
    for (int i = 1; i < k; i++) {
        const float *zi = z + (size_t)members[i] * member_stride + r0;
        for (size_t t = 0; t < n; t++) out[t] = min_as_fmin(out[t], zi[t]);
    }
}

SEPARATE_MULTIPLY_ADD void rm_aggregate(const float *z, size_t member_stride, const int *members, int k, size_t K,
                                        rm_aggregator agg, double lambda, double *out, double *sort_scratch)
{
    if (agg == RM_AGG_MEDIAN) {
        for (size_t r0 = 0; r0 < K; r0 += MOMENT_TILE) {
            size_t n = K - r0 < MOMENT_TILE ? K - r0 : MOMENT_TILE;
            if (n == MOMENT_TILE && k <= MEDIAN_TILE_MAX_K && member_median_tile(z, member_stride, members, k, r0, out + r0))
                continue;
            for (size_t r = r0; r < r0 + n; r++) {
                for (int i = 0; i < k; i++) sort_scratch[i] = z[(size_t)members[i] * member_stride + r];
                insertion_sort(sort_scratch, k);
                out[r] = k % 2 ? sort_scratch[k / 2] : 0.5 * (sort_scratch[k / 2 - 1] + sort_scratch[k / 2]);
            }
        }
        return;
    }
    if (agg == RM_AGG_MIN) {
        for (size_t r0 = 0; r0 < K; r0 += MOMENT_TILE) {
            size_t n = K - r0 < MOMENT_TILE ? K - r0 : MOMENT_TILE;
            if (n == MOMENT_TILE) member_min_n(z, member_stride, members, k, r0, MOMENT_TILE, out + r0);
            else member_min_n(z, member_stride, members, k, r0, n, out + r0);
        }
        return;
    }
    /* mean; uwo: mean - lambda * population variance (two passes: exact 0 for equal members) */
    for (size_t r0 = 0; r0 < K; r0 += MOMENT_TILE) {
        size_t n = K - r0 < MOMENT_TILE ? K - r0 : MOMENT_TILE;
        double ss[MOMENT_TILE];
        member_moments_tile(z, member_stride, members, k, r0, n, out + r0, agg == RM_AGG_UWO ? ss : NULL);
        if (agg == RM_AGG_UWO)
            for (size_t t = 0; t < n; t++) out[r0 + t] -= lambda * ss[t] / k;
    }
}

SEPARATE_MULTIPLY_ADD void rm_member_std(const float *z, size_t member_stride, const int *members, int k, size_t K,
                                         double *out)
{
    for (size_t r0 = 0; r0 < K; r0 += MOMENT_TILE) {
        size_t n = K - r0 < MOMENT_TILE ? K - r0 : MOMENT_TILE;
        double mean[MOMENT_TILE], ss[MOMENT_TILE];
        member_moments_tile(z, member_stride, members, k, r0, n, mean, ss);
        for (size_t t = 0; t < n; t++) out[r0 + t] = sqrt(ss[t] / k);
    }
}

size_t rm_pair_mask_words(int n_members)
{
    return ((size_t)n_members + 63) / 64;
}

void rm_pair_masks(const float *z, size_t member_stride, int n_members, size_t K, uint64_t *gt, uint64_t *eq)
{
    size_t words = rm_pair_mask_words(n_members);
    size_t n_pairs = K * (K - 1) / 2;
    memset(gt, 0, n_pairs * words * sizeof *gt);
    memset(eq, 0, n_pairs * words * sizeof *eq);
    for (int m = 0; m < n_members; m++) {
        const float *zm = z + (size_t)m * member_stride;
        uint64_t bit = (uint64_t)1 << (m % 64);
        size_t word = (size_t)m / 64, p = 0;
        for (size_t i = 0; i < K; i++)
            for (size_t j = i + 1; j < K; j++, p++) {
                /* branch-free: the compiler vectorises the inner loop */
                gt[p * words + word] |= bit & -(uint64_t)(zm[i] > zm[j]);
                eq[p * words + word] |= bit & -(uint64_t)(zm[i] == zm[j]);
            }
    }
}

void rm_pair_subset_stats(const uint64_t *gt, const uint64_t *eq, size_t words, size_t K, const uint64_t *subset, int k,
                          const double *reference, const double *golden, double *wrong, double *right,
                          double *agreeing)
{
    int64_t member_pairs = (int64_t)k * (k - 1) / 2;
    size_t levels = (size_t)member_pairs + 1;
    /* Counted in integers, without a branch on each pair's (unpredictable) correctness,
     * and added to the double histograms once: every count is an integer below 2^53, so
     * the doubles end up exactly as if 1.0 had been added per pair. */
    enum { LOCAL_LEVELS = 1024 };
    int64_t counts[2][LOCAL_LEVELS]; /* [0] wrong, [1] right, per level; more levels (k > 45):
                                      * counted straight into the doubles */
    int local = levels <= LOCAL_LEVELS;
    if (local) {
        memset(counts[0], 0, levels * sizeof(int64_t));
        memset(counts[1], 0, levels * sizeof(int64_t));
    }
    int64_t agree = 0;
    size_t p = 0;
    for (size_t i = 0; i < K; i++) {
        const double golden_i = golden[i], reference_i = reference[i];
        for (size_t j = i + 1; j < K; j++, p++) {
            int g = 0, q = 0;
            if (words == 1) { /* up to 64 members: the common case */
                g = __builtin_popcountll(gt[p] & subset[0]);
                q = __builtin_popcountll(eq[p] & subset[0]);
            } else {
                for (size_t w = 0; w < words; w++) {
                    g += __builtin_popcountll(gt[p * words + w] & subset[w]);
                    q += __builtin_popcountll(eq[p * words + w] & subset[w]);
                }
            }
            int l = k - g - q;
            int64_t agreeing_pairs = (int64_t)g * (g - 1) / 2 + (int64_t)l * (l - 1) / 2 + (int64_t)q * (q - 1) / 2;
            agree += agreeing_pairs;
            int64_t level = member_pairs - agreeing_pairs;
            /* Branch-free (the golden order of a pair is a coin flip to the predictor): the
             * reference orders the pair as the golden rewards do; pairs tied in golden
             * reward are not counted (the store holds no NaN). */
            int golden_above = golden_i > golden[j], golden_below = golden_i < golden[j];
            int correct = (golden_above & (reference_i > reference[j])) | (golden_below & (reference_i < reference[j]));
            int counted = golden_above | golden_below;
            if (local) {
                counts[correct][level] += counted;
            } else if (counted) {
                if (correct) right[level] += 1.0;
                else wrong[level] += 1.0;
            }
        }
    }
    if (local)
        for (size_t v = 0; v < levels; v++) {
            wrong[v] += (double)counts[0][v];
            right[v] += (double)counts[1][v];
        }
    *agreeing += (double)agree;
}
