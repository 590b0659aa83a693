/* Evaluation metrics of one prompt's responses: pure functions, no MPI, no I/O.
 *
 * Conventions shared by every function here:
 *  - a prompt has K responses; `score` is what a reward model (or an aggregate of an
 *    ensemble) assigns, `golden` the reference reward;
 *  - sorting is ascending by value with ties broken by response index, so results never
 *    depend on the sort algorithm;
 *  - ties are never broken arbitrarily in a figure: best-of-n shares a tied block's win
 *    probability equally (the same as breaking ties uniformly at random), ranks are
 *    averaged, a pair tied in score counts one half in pairwise accuracy and AUROC;
 *  - a figure that is undefined on the data (Spearman of a constant, AUROC without both
 *    classes) is NaN; callers skip NaN when averaging over prompts.
 * Functions that need temporary memory take an rm_metric_scratch sized for K. */
#ifndef RMENS_METRICS_H
#define RMENS_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    double value;
    size_t index;
} rm_keyed;

typedef struct {
    size_t capacity;     /* largest K the scratch serves */
    rm_keyed *keyed;     /* [capacity] */
    rm_keyed *keyed_tmp; /* [capacity] */
    size_t *indices[2];  /* [capacity] each */
    double *values[4];   /* [capacity] each */
} rm_metric_scratch;

int rm_metric_scratch_create(rm_metric_scratch *s, size_t capacity);
void rm_metric_scratch_free(rm_metric_scratch *s);

/* order[K]: response indices by ascending value (ties by index). */
void rm_sort_order(const double *values, size_t n, size_t *order, rm_metric_scratch *s);
/* ranks[K]: 1-based ranks, tied values get the average of the ranks they span. */
void rm_average_ranks(const double *values, size_t n, double *ranks, rm_metric_scratch *s);

/* ---- best-of-n ---- */

/* KL divergence of best-of-n sampling from the base policy: log n - (n - 1) / n. */
double rm_bon_kl(size_t n);

/* win[i] = C(i, n-1) / C(K, n): the probability that the (i+1)-th smallest of K distinct
 * scores is the largest of n drawn uniformly without replacement (0 for i < n-1). Computed
 * by the downward recurrence win[K-1] = n/K, win[i-1] = win[i] * (i+1-n) / i: every factor
 * is in [0, 1], so there is no overflow and values underflow gracefully to 0.
 * Requires 1 <= n <= K. */
void rm_bon_win_probabilities(size_t K, size_t n, double *win);

/* golden_by_score[K]: golden rewards in ascending score order, each block of tied scores
 * replaced by its mean golden reward. Then for any n, the exact expected golden reward of
 * best-of-n is sum_i win[i] * golden_by_score[i] (a tied block's total win probability,
 * spread equally over its members, times their golden rewards). */
void rm_golden_by_score(const double *score, const double *golden, size_t K, double *golden_by_score,
                        rm_metric_scratch *s);

/* The exact expected golden reward of best-of-n: dot(win, golden_by_score). */
double rm_bon_expected(const double *win, const double *golden_by_score, size_t K);

/* Convenience: both steps for one n (allocation-free apart from scratch). */
double rm_best_of_n(const double *score, const double *golden, size_t K, size_t n, rm_metric_scratch *s);

/* ---- rank correlation and pairwise order ---- */

/* Pearson correlation; NaN when either input is constant or n < 2. */
double rm_pearson(const double *a, const double *b, size_t n);
/* Spearman rank correlation (Pearson of average ranks), as scipy.stats.spearmanr. */
double rm_spearman(const double *x, const double *y, size_t n, rm_metric_scratch *s);

/* Pair counts over all n(n-1)/2 pairs i < j of two orderings, by Knight's O(n log n)
 * algorithm (sort by (x, y), then count the inversions of y with a merge sort). */
typedef struct {
    int64_t pairs;      /* n(n-1)/2 */
    int64_t x_ties;     /* pairs tied in x (whether or not tied in y) */
    int64_t y_ties;     /* pairs tied in y */
    int64_t joint_ties; /* pairs tied in both */
    int64_t discordant; /* pairs ordered strictly oppositely by x and y */
} rm_pair_counts;

void rm_count_pairs(const double *x, const double *y, size_t n, rm_pair_counts *out, rm_metric_scratch *s);
/* Pairs ordered strictly the same way by x and y. */
int64_t rm_pairs_concordant(const rm_pair_counts *c);

/* Pairwise accuracy against the golden order: over the pairs with distinct golden
 * rewards (golden ties excluded), a pair counts 1 when score orders it as golden does,
 * 1/2 when score ties it, 0 otherwise. Returns the pair count; *twice_correct is
 * 2 x (accuracy numerator), an integer so sums over prompts and ranks are exact. */
int64_t rm_pair_accuracy_counts(const double *score, const double *golden, size_t K, int64_t *twice_correct,
                                rm_metric_scratch *s);

/* ---- AUROC ---- */

/* AUROC of `score` predicting label != 0: P(score_pos > score_neg) + P(equal) / 2,
 * by the Mann-Whitney rank sum. NaN without both classes. */
double rm_auroc(const double *score, const int *label, size_t n, rm_metric_scratch *s);
/* The same from counts per discrete score level 0..levels-1 (ascending):
 * positives[l], negatives[l]. */
double rm_auroc_levels(const double *positives, const double *negatives, int levels);

/* ---- ensembles ---- */

typedef enum { RM_AGG_MEAN = 0, RM_AGG_MIN = 1, RM_AGG_MEDIAN = 2, RM_AGG_UWO = 3 } rm_aggregator;

/* out[r] for r < K: aggregate over the k members `members[0..k)` of z[m * member_stride + r]
 * (standardised member scores). mean; min (worst case); median (middle value, mean of
 * the two middle values for even k); uwo: mean - lambda * population variance.
 * `sort_scratch` holds k doubles (median only). */
void rm_aggregate(const float *z, size_t member_stride, const int *members, int k, size_t K,
                  rm_aggregator agg, double lambda, double *out, double *sort_scratch);

/* Population standard deviation over the k members, per response. */
void rm_member_std(const float *z, size_t member_stride, const int *members, int k, size_t K, double *out);

/* Pair sign masks of one prompt for the pair statistics: for each pair i < j (in the
 * order (0,1), (0,2), ..., (1,2), ...), `words` 64-bit words of bits by member: gt has
 * bit m set when member m scores i above j, eq when it ties them. Costs E K^2 / 2
 * comparisons, against E K forward passes of the MLP for the scores themselves. */
size_t rm_pair_mask_words(int n_members);
void rm_pair_masks(const float *z, size_t member_stride, int n_members, size_t K, uint64_t *gt, uint64_t *eq);

/* Pair statistics of the member subset `subset` (a mask of `words` words, k members).
 * For each response pair i < j let g, l, q be the members preferring i, preferring j,
 * tying them; a member pair agrees on the response pair when both give it the same sign
 * (both prefer i, both prefer j, or both tie): C(g,2) + C(l,2) + C(q,2) member pairs.
 *  - *agreeing += agreeing member pairs, summed over response pairs;
 *  - the pair's disagreement level is the number of disagreeing member pairs,
 *    L = C(k,2) - agreeing, in 0..C(k,2) (0 for identical members); for response pairs
 *    with distinct golden rewards, wrong[L] += 1 when `reference` (the subset's mean
 *    ensemble) does not order the pair as golden does (a reference tie counts wrong),
 *    right[L] += 1 otherwise. wrong and right have C(k,2) + 1 entries. */
void rm_pair_subset_stats(const uint64_t *gt, const uint64_t *eq, size_t words, size_t K, const uint64_t *subset, int k,
                          const double *reference, const double *golden, double *wrong, double *right,
                          double *agreeing);

#endif
