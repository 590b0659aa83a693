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
    int32_t *counts[2];  /* [capacity + 1] each */
    uint64_t *bits;      /* [capacity / 64 + 1] */
    uint64_t *radix_keys;          /* [capacity] */
    uint32_t *radix_index[2];      /* [capacity] each */
    uint32_t (*radix_counts)[256]; /* [8] */
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

/* The win probabilities of several n at once, for rm_bon_table_expect. */
#define RM_BON_LANES 8 /* sizes n summed side by side: one AVX-512 register of doubles */
typedef struct {
    size_t K;
    int n_sizes, n_groups; /* n_groups: n_sizes in groups of RM_BON_LANES */
    double *win;   /* [n_sizes][K] rm_bon_win_probabilities */
    size_t *first; /* [n_sizes] first non-zero win: the terms below it add exact zeros */
    double *by_position; /* [n_groups][K][RM_BON_LANES] win transposed, 0 in the padding lanes */
    size_t *group_first; /* [n_groups] the smallest first of the group's sizes */
} rm_bon_table;

int rm_bon_table_create(rm_bon_table *t, size_t K, const size_t *n, int n_sizes);
void rm_bon_table_free(rm_bon_table *t);
/* out[j] = rm_bon_expected(win_j, golden_by_score, K), bit for bit: the same sum without
 * its leading zero terms (which leave it unchanged). */
void rm_bon_table_expect(const rm_bon_table *t, const double *golden_by_score, double *out);
/* The same for two vectors at once (out_b NULL: b is not used): the best-of-n of the
 * golden rewards and its proxy share one pass over the table. */
void rm_bon_table_expect2(const rm_bon_table *t, const double *a, double *out_a, const double *b, double *out_b);

/* ---- rank correlation and pairwise order ---- */

/* Pearson correlation; NaN when either input is constant or n < 2. */
double rm_pearson(const double *a, const double *b, size_t n);
/* rm_pearson of two vectors of average ranks (as rm_average_ranks gives them, ties and
 * all), bit for bit: on ranks its sums are exact, so they are taken here in any order. */
double rm_pearson_ranks(const double *a, const double *b, size_t n);
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

/* ---- every figure of a score vector from one sort ---- */

/* The golden side of one prompt, sorted once and shared by every score vector (aggregate,
 * member, subset) compared with it. */
typedef struct {
    size_t capacity, n;
    const double *golden;  /* [n], the caller's */
    size_t *order;         /* [n] responses by ascending golden reward, ties by index */
    size_t *position;      /* [n] inverse of order */
    double *ranks;         /* [n] rm_average_ranks(golden) */
    int32_t *dense;        /* [n] 0-based dense rank: equal golden rewards share one */
    int32_t *above;        /* [n] first position in order with a strictly higher golden reward */
    int32_t levels;        /* distinct golden rewards */
    int64_t tied_pairs;    /* pairs with equal golden rewards */
    double *by_golden;     /* [n] rm_golden_by_score(golden, golden): the oracle's best-of-n */
    double median;         /* np.median(golden): the middle value, the mean of the two middle ones for even n */
} rm_golden_sorted;

int rm_golden_sorted_create(rm_golden_sorted *g, size_t capacity);
void rm_golden_sorted_free(rm_golden_sorted *g);
/* Sort golden[0..n) (kept by pointer until the next call) and fill the fields. */
void rm_golden_sorted_set(rm_golden_sorted *g, const double *golden, size_t n, rm_metric_scratch *s);

typedef struct {
    double spearman;       /* rm_pearson(ranks, golden ranks): rm_spearman(score, golden) */
    int64_t valid;         /* rm_pair_accuracy_counts(score, golden): its return value */
    int64_t twice_correct; /* and its *twice_correct */
    /* The best-of-K pick (the argmax of score over all K responses; a tied top block of t
     * responses shares the pick, each with weight 1/t), read off the same sort:
     *  - pick_quantile = sum over the top block of (1/t) #{j : golden_j <= golden_r} / K:
     *    the seed lab's step6_eval_rms.py quantile ((golden <= golden[pick]).mean() with
     *    pick = argmax), its ties shared instead of taken by first index;
     *  - above_median = (1/t) #{r in the top block : golden_r > median(golden)} (strictly
     *    above np.median of the prompt's golden rewards). */
    double pick_quantile, above_median;
} rm_score_figures;

/* Every per-prompt figure of `score` against g from one sort of the score (where the
 * functions above sort it four times): bon[j] = the expected golden reward of best-of-n_j
 * (rm_golden_by_score then rm_bon_table_expect), Spearman and the pair-accuracy counts.
 * proxy_bon (NULL: not computed) gets the *proxy* value of the same picks: proxy_bon[j] =
 * the expected score itself of the best-of-n_j pick, sum_i win_j[i] * score_(i) over the
 * ascending scores with the same win probabilities (a tied block shares its probability,
 * and its members share one score, so no averaging is needed): rm_bon_table_expect of the
 * sorted scores. The gap proxy - golden growing with n is the overoptimization signature
 * (Gao et al. 2022).
 * Outputs ranks[n], the average ranks of score, and, when dense is not NULL, its 0-based
 * dense ranks (strict order kept, ties equal). Results are bitwise those of the separate
 * functions: the same sort order and the same sums in the same order. The discordant
 * pairs are counted run of tied scores by run, against the responses of the earlier runs
 * with a higher golden reward (a bit set of golden positions with per-word suffix counts
 * below n = 1024, a Fenwick tree from there), so no second sort by (golden, score) is needed. */
void rm_score_figures_compute(const double *score, const rm_golden_sorted *g, const rm_bon_table *bon_table,
                              double *bon, double *proxy_bon, double *ranks, int32_t *dense, rm_score_figures *out,
                              rm_metric_scratch *s);

/* ---- AUROC ---- */

/* AUROC of `score` predicting label != 0: P(score_pos > score_neg) + P(equal) / 2,
 * by the Mann-Whitney rank sum. NaN without both classes. */
double rm_auroc(const double *score, const int *label, size_t n, rm_metric_scratch *s);
/* The same from counts per discrete score level 0..levels-1 (ascending):
 * positives[l], negatives[l]. */
double rm_auroc_levels(const double *positives, const double *negatives, int levels);

/* ---- calibration of preference probabilities (src/eval/metrics_calibration.c) ---- */

#define RM_CALIBRATION_BINS 15  /* reliability bins of the expected calibration error */
#define RM_DISAGREEMENT_BINS 10 /* bins of member disagreement (std of P_m), RM_DISAGREEMENT_EDGES */
#define RM_LOG_LOSS_CLIP 1e-15  /* probabilities clipped to [c, 1 - c] in the log loss */

/* 1 / (1 + exp(-x)), without overflow for either sign. */
double rm_sigmoid(double x);

/* The bin of x among `bins` equal-width bins of [lo, hi], with the edges of
 * np.linspace(lo, hi, bins + 1): edge_i = lo + i * ((hi - lo) / bins), the last edge hi
 * itself. Bin b is [edge_b, edge_(b+1)), the last bin closed [edge_(bins-1), hi]; x below
 * lo falls in bin 0, above hi in the last (np.searchsorted(edges[1:-1], x, "right")). */
int rm_uniform_bin(double x, double lo, double hi, int bins);
/* edge_i of rm_uniform_bin, 0 <= i <= bins. */
double rm_uniform_edge(double lo, double hi, int bins, int i);

/* The fixed edges of the disagreement bins, 0 ... 0.5 (std_m P_m is at most 0.5),
 * spaced roughly geometrically: members mostly disagree by a few hundredths, and equal
 * widths would put nearly every pair in the first bin. Bin b is [edge_b, edge_(b+1)),
 * the last closed; rm_disagreement_bin = np.searchsorted(edges[1:-1], x, "right"). */
extern const double RM_DISAGREEMENT_EDGES[RM_DISAGREEMENT_BINS + 1];
int rm_disagreement_bin(double x);

/* One predicted probability p of an outcome y in {0, 1}: its Brier term (p - y)^2 and its
 * log-loss term -(y log q + (1 - y) log(1 - q)) with q = p clipped to [1e-15, 1 - 1e-15]
 * (sklearn.metrics.brier_score_loss and log_loss are the means of these). */
double rm_brier_term(double p, int y);
double rm_log_loss_term(double p, int y);

/* Expected calibration error from per-bin sums over N = sum count[b] predictions:
 * sum_b (count_b / N) |probability_sum_b / count_b - positive_sum_b / count_b| over the
 * non-empty bins (sklearn's calibration_curve bins; NaN when N = 0). */
double rm_expected_calibration_error(const double *count, const double *probability_sum, const double *positive_sum,
                                     int bins);

/* Whether the preference probability p of "a over b" errs against the golden order:
 * 1 if it prefers (p > 1/2) the golden-worse response, 0 if the golden-better one, 1/2 at
 * p = 1/2; NaN for a golden tie (no order to err against). */
double rm_preference_error(double p, double golden_a, double golden_b);

/* ---- ensembles (src/eval/metrics_ensemble.c) ---- */

typedef enum { RM_AGG_MEAN = 0, RM_AGG_MIN = 1, RM_AGG_MEDIAN = 2, RM_AGG_UWO = 3 } rm_aggregator;

/* out[r] for r < K: aggregate over the k members `members[0..k)` of z[m * member_stride + r]
 * (standardised member scores). mean; min (worst case); median (middle value, mean of
 * the two middle values for even k); uwo: mean - lambda * population variance.
 * `sort_scratch` holds k doubles (median only). */
void rm_aggregate(const float *z, size_t member_stride, const int *members, int k, size_t K,
                  rm_aggregator agg, double lambda, double *out, double *sort_scratch);

/* Population standard deviation over the k members, per response. */
void rm_member_std(const float *z, size_t member_stride, const int *members, int k, size_t K, double *out);
/* Both moments those use, per response: mean[r], the mean aggregate itself, and ss[r], the
 * sum of squared deviations from it, so that uwo (mean[r] - lambda * ss[r] / k) and the
 * std (sqrt(ss[r] / k)) of one subset come from one pass, bit for bit rm_aggregate's and
 * rm_member_std's. */
void rm_member_moments(const float *z, size_t member_stride, const int *members, int k, size_t K, double *mean,
                       double *ss);
/* From those moments: out[r] = mean[r] - lambda * ss[r] / k (rm_aggregate's uwo) and
 * out[r] = sqrt(ss[r] / k) (rm_member_std), bit for bit. */
void rm_uwo_from_moments(const double *mean, const double *ss, int k, double lambda, size_t K, double *out);
void rm_std_from_moments(const double *ss, int k, size_t K, double *out);

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

/* The same pair statistics for many member subsets at once (src/eval/metrics_pairs.c), for
 * ensembles of up to RM_PAIR_TABLE_MAX_MEMBERS members. rm_pair_subset_stats costs a few
 * operations per response pair and subset (7.7 M per prompt at K = 500 and the case
 * study's 62 subsets). Here each response pair, with responses in golden order, is
 * classified once by its sign pattern over all E members (which members prefer the
 * golden-better response, which tie); per pattern, a row of counters gets one vector
 * increment of "the column's reference orders the pair correctly" for all subsets (columns)
 * at once. A subset's disagreement level depends only on the pattern, so the histograms
 * follow from the 2^E pattern rows at the end. Pairs that some member ties are rare and
 * are counted directly. Integer counts: exactly rm_pair_subset_stats's. */
#define RM_PAIR_TABLE_MAX_MEMBERS 12
#define RM_PAIR_TABLE_GROUP 64 /* columns per pass over the pairs: rows of 256 bytes */

typedef struct {
    int n_members, n_columns, stride; /* stride: columns padded to a multiple of 16 */
    size_t capacity, padded;          /* K; K padded to a multiple of 16 */
    uint32_t *masks;                  /* [n_columns] member bits of each column's subset */
    int *k;                           /* [n_columns] its member count */
    size_t *level_offset;             /* [n_columns + 1] of its histograms in wrong, right */
    int32_t *reference;               /* [capacity][stride] dense ranks of each column's reference, by golden position */
    float *by_golden;                 /* [n_members][padded] member scores by golden position */
    size_t *run_end;                  /* [capacity] end of each position's run of equal golden rewards */
    uint32_t *count_all, *count_counted, *right_rows; /* [2^E], [2^E], [2^E][RM_PAIR_TABLE_GROUP] */
    int64_t *agreeing;                /* [n_columns] outputs of rm_pair_table_run */
    int64_t *wrong, *right;           /* [level_offset[n_columns]] */
} rm_pair_table;

/* Columns c < n_columns: subset masks[c] (one word: n_members <= 12) of k[c] >= 2 members. */
int rm_pair_table_create(rm_pair_table *t, int n_members, size_t K, int n_columns, const uint64_t *masks,
                         const int *k);
void rm_pair_table_free(rm_pair_table *t);
/* Column c's reference (the subset's mean ensemble) by its dense ranks over responses,
 * as rm_score_figures_compute gives them; g sets the golden order of the prompt. */
void rm_pair_table_reference(rm_pair_table *t, int column, const int32_t *dense, const rm_golden_sorted *g);
/* Counts for every column: agreeing[c], wrong[level_offset[c] + L], right[...] as
 * rm_pair_subset_stats adds them (wrong and right indexed by disagreement level L). */
void rm_pair_table_run(rm_pair_table *t, const float *z, size_t member_stride, const rm_golden_sorted *g);

#endif
