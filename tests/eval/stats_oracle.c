/* Test oracle: the old evaluation statistics, verbatim (see stats_oracle.h). Generated from
 * src/eval/metrics.c and src/eval/eval_figures.c at commit cf05a3b by renaming rm_ to oracle_. */
#include "stats_oracle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"

enum { SLOT_BEST_PICK = 0, SLOT_MEAN_STD = 2, SLOT_STD_RANK = 4, SLOT_AGREE = 6, SLOT_HIST = 8 };

/* Disagreement levels of a response pair for k members: 0..C(k,2) disagreeing member pairs. */
static size_t disagreement_levels(int k) { return (size_t)k * (size_t)(k - 1) / 2 + 1; }

int oracle_metric_scratch_create(oracle_scratch *s, size_t capacity)
{
    memset(s, 0, sizeof *s);
    if (capacity == 0) capacity = 1;
    s->capacity = capacity;
    s->keyed = rm_alloc(capacity, sizeof(oracle_keyed), "metric scratch");
    s->keyed_tmp = rm_alloc(capacity, sizeof(oracle_keyed), "metric scratch");
    s->indices[0] = rm_alloc(capacity, sizeof(size_t), "metric scratch");
    s->indices[1] = rm_alloc(capacity, sizeof(size_t), "metric scratch");
    int ok = s->keyed && s->keyed_tmp && s->indices[0] && s->indices[1];
    for (int i = 0; i < 4; i++) {
        s->values[i] = rm_alloc(capacity, sizeof(double), "metric scratch");
        ok = ok && s->values[i];
    }
    if (!ok) {
        oracle_metric_scratch_free(s);
        return -1;
    }
    return 0;
}

void oracle_metric_scratch_free(oracle_scratch *s)
{
    free(s->keyed);
    free(s->keyed_tmp);
    free(s->indices[0]);
    free(s->indices[1]);
    for (int i = 0; i < 4; i++) free(s->values[i]);
    memset(s, 0, sizeof *s);
}

/* Total order: by value, then by index, so equal values keep their index order. */
static inline int keyed_less(const oracle_keyed *a, const oracle_keyed *b)
{
    return a->value < b->value || (!(a->value > b->value) && a->index < b->index);
}

/* Sort a[0..n) by keyed_less, with tmp[0..n) as scratch. The evaluation sorts every
 * prompt's K scores a few times per aggregator and ensemble subset (thousands of sorts
 * of 500 per prompt at the case study's 82 subsets); qsort's call through a comparator
 * pointer per comparison made that a large part of the statistics time. The order is
 * total (value, then index) on finite values, so the result is the one qsort gave. */
static void keyed_sort(oracle_keyed *a, oracle_keyed *tmp, size_t n)
{
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            oracle_keyed x = a[i];
            size_t j = i;
            while (j > 0 && keyed_less(&x, &a[j - 1])) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = x;
        }
        return;
    }
    size_t half = n / 2;
    keyed_sort(a, tmp, half);
    keyed_sort(a + half, tmp, n - half);
    if (!keyed_less(&a[half], &a[half - 1])) return; /* already in order */
    memcpy(tmp, a, half * sizeof *a);
    size_t i = 0, j = half, o = 0;
    while (i < half && j < n) a[o++] = keyed_less(&a[j], &tmp[i]) ? a[j++] : tmp[i++];
    while (i < half) a[o++] = tmp[i++];
}

/* Fill s->keyed with (values[i], i) sorted ascending (s->keyed_tmp is scratch). */
static void sort_keyed(const double *values, size_t n, oracle_scratch *s)
{
    for (size_t i = 0; i < n; i++) s->keyed[i] = (oracle_keyed){values[i], i};
    keyed_sort(s->keyed, s->keyed_tmp, n);
}

void oracle_sort_order(const double *values, size_t n, size_t *order, oracle_scratch *s)
{
    sort_keyed(values, n, s);
    for (size_t i = 0; i < n; i++) order[i] = s->keyed[i].index;
}

void oracle_average_ranks(const double *values, size_t n, double *ranks, oracle_scratch *s)
{
    sort_keyed(values, n, s);
    size_t start = 0;
    while (start < n) {
        size_t end = start + 1;
        while (end < n && s->keyed[end].value == s->keyed[start].value) end++;
        /* positions start..end-1 hold 1-based ranks start+1..end: their mean */
        double rank = 0.5 * (double)(start + 1 + end);
        for (size_t i = start; i < end; i++) ranks[s->keyed[i].index] = rank;
        start = end;
    }
}

/* ---- best-of-n ---- */

double oracle_bon_kl(size_t n)
{
    return log((double)n) - ((double)n - 1.0) / (double)n;
}

void oracle_bon_win_probabilities(size_t K, size_t n, double *win)
{
    /* win[i] = C(i, n-1)/C(K, n); win[K-1] = C(K-1, n-1)/C(K, n) = n/K and
     * C(i-1, n-1)/C(i, n-1) = (i-n+1)/i. */
    win[K - 1] = (double)n / (double)K;
    for (size_t i = K - 1; i >= 1; i--) {
        if (i + 1 <= n) { /* i < n: fewer than n-1 responses below position i-1 */
            for (size_t j = 0; j < i; j++) win[j] = 0.0;
            break;
        }
        win[i - 1] = win[i] * ((double)(i + 1 - n) / (double)i);
    }
}

void oracle_golden_by_score(const double *score, const double *golden, size_t K, double *golden_by_score,
                        oracle_scratch *s)
{
    sort_keyed(score, K, s);
    size_t start = 0;
    while (start < K) {
        size_t end = start + 1;
        while (end < K && s->keyed[end].value == s->keyed[start].value) end++;
        double sum = 0.0;
        for (size_t i = start; i < end; i++) sum += golden[s->keyed[i].index];
        double mean = sum / (double)(end - start);
        for (size_t i = start; i < end; i++) golden_by_score[i] = end - start == 1 ? golden[s->keyed[i].index] : mean;
        start = end;
    }
}

/* The sum as rmens defines it (src/eval/metrics.c): each product fused into the running sum
 * where the CPU has FMA. Written as fma(), not left to contraction, which depends on the
 * target: on an AMD EPYC with AVX-512 (GCC 12, -march=native) this loop compiled to
 * vectorised products added one by one, unfused, on the Intel Xeons to scalar FMAs. */
double oracle_bon_expected(const double *win, const double *golden_by_score, size_t K)
{
    double sum = 0.0;
#ifdef __FMA__
    for (size_t i = 0; i < K; i++) sum = fma(win[i], golden_by_score[i], sum);
#else
    for (size_t i = 0; i < K; i++) sum = sum + win[i] * golden_by_score[i];
#endif
    return sum;
}

double oracle_best_of_n(const double *score, const double *golden, size_t K, size_t n, oracle_scratch *s)
{
    double *win = s->values[2], *by_score = s->values[3];
    oracle_golden_by_score(score, golden, K, by_score, s);
    oracle_bon_win_probabilities(K, n, win);
    return oracle_bon_expected(win, by_score, K);
}

/* ---- rank correlation ---- */

double oracle_pearson(const double *a, const double *b, size_t n)
{
    if (n < 2) return NAN;
    double ma = 0.0, mb = 0.0;
    for (size_t i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= (double)n;
    mb /= (double)n;
    double saa = 0.0, sbb = 0.0, sab = 0.0;
    for (size_t i = 0; i < n; i++) {
        double da = a[i] - ma, db = b[i] - mb;
        saa += da * da;
        sbb += db * db;
        sab += da * db;
    }
    if (saa <= 0.0 || sbb <= 0.0) return NAN;
    double r = sab / sqrt(saa * sbb);
    return r > 1.0 ? 1.0 : (r < -1.0 ? -1.0 : r);
}

double oracle_spearman(const double *x, const double *y, size_t n, oracle_scratch *s)
{
    double *rx = s->values[0], *ry = s->values[1];
    oracle_average_ranks(x, n, rx, s);
    oracle_average_ranks(y, n, ry, s);
    return oracle_pearson(rx, ry, n);
}

/* Pairs within runs of equal values of a sorted sequence: sum of t(t-1)/2 over runs. */
static int64_t tied_pairs_sorted(const oracle_keyed *a, size_t n)
{
    int64_t pairs = 0;
    for (size_t start = 0; start < n;) {
        size_t end = start + 1;
        while (end < n && a[end].value == a[start].value) end++;
        int64_t t = (int64_t)(end - start);
        pairs += t * (t - 1) / 2;
        start = end;
    }
    return pairs;
}

/* Merge sort of a[0..n) by value, counting strict inversions (i < j, a[i] > a[j]). */
static int64_t merge_count_inversions(oracle_keyed *a, oracle_keyed *tmp, size_t n)
{
    if (n < 2) return 0;
    size_t half = n / 2;
    int64_t inversions = merge_count_inversions(a, tmp, half) + merge_count_inversions(a + half, tmp, n - half);
    size_t i = 0, j = half, o = 0;
    while (i < half && j < n) {
        if (a[j].value < a[i].value) { /* a[j] is below every remaining left element */
            inversions += (int64_t)(half - i);
            tmp[o++] = a[j++];
        } else {
            tmp[o++] = a[i++];
        }
    }
    while (i < half) tmp[o++] = a[i++];
    while (j < n) tmp[o++] = a[j++];
    memcpy(a, tmp, n * sizeof *a);
    return inversions;
}

void oracle_count_pairs(const double *x, const double *y, size_t n, oracle_pair_counts *out, oracle_scratch *s)
{
    memset(out, 0, sizeof *out);
    out->pairs = (int64_t)n * ((int64_t)n - 1) / 2;
    if (n < 2) return;
    /* Order by (x, y) with two sorts: first by y, giving each response its position in
     * the y order; then by (x, y position) - keyed_less breaks ties of x by index, and
     * the index carried is the y position. */
    size_t *response_at_y = s->indices[0], *y_position = s->indices[1];
    sort_keyed(y, n, s);
    out->y_ties = tied_pairs_sorted(s->keyed, n);
    for (size_t r = 0; r < n; r++) {
        response_at_y[r] = s->keyed[r].index;
        y_position[s->keyed[r].index] = r;
    }
    for (size_t i = 0; i < n; i++) s->keyed_tmp[i] = (oracle_keyed){x[i], y_position[i]};
    keyed_sort(s->keyed_tmp, s->keyed, n); /* s->keyed is free until y_in_xy_order below */
    double *x_sorted = s->values[0];
    oracle_keyed *y_in_xy_order = s->keyed;
    for (size_t r = 0; r < n; r++) {
        x_sorted[r] = s->keyed_tmp[r].value;
        y_in_xy_order[r] = (oracle_keyed){y[response_at_y[s->keyed_tmp[r].index]], r};
    }
    /* ties in x, and in (x, y), are runs in the (x, y) order */
    for (size_t start = 0; start < n;) {
        size_t end = start + 1;
        while (end < n && x_sorted[end] == x_sorted[start]) end++;
        int64_t t = (int64_t)(end - start);
        out->x_ties += t * (t - 1) / 2;
        out->joint_ties += tied_pairs_sorted(y_in_xy_order + start, end - start); /* y ascending within the run */
        start = end;
    }
    /* Strict inversions of y in the (x, y) order are exactly the discordant pairs: pairs
     * tied in x are ascending in y, and pairs tied in y are not strict inversions. */
    out->discordant = merge_count_inversions(y_in_xy_order, s->keyed_tmp, n);
}

int64_t oracle_pairs_concordant(const oracle_pair_counts *c)
{
    return c->pairs - c->discordant - c->x_ties - c->y_ties + c->joint_ties;
}

int64_t oracle_pair_accuracy_counts(const double *score, const double *golden, size_t K, int64_t *twice_correct,
                                oracle_scratch *s)
{
    oracle_pair_counts c;
    oracle_count_pairs(golden, score, K, &c, s);
    int64_t valid = c.pairs - c.x_ties;                 /* golden ties excluded */
    int64_t score_tied_only = c.y_ties - c.joint_ties;  /* count one half each */
    *twice_correct = 2 * oracle_pairs_concordant(&c) + score_tied_only;
    return valid;
}

/* ---- AUROC ---- */

double oracle_auroc(const double *score, const int *label, size_t n, oracle_scratch *s)
{
    double *ranks = s->values[0];
    oracle_average_ranks(score, n, ranks, s);
    double n_pos = 0.0, rank_sum = 0.0;
    for (size_t i = 0; i < n; i++)
        if (label[i]) {
            n_pos += 1.0;
            rank_sum += ranks[i];
        }
    double n_neg = (double)n - n_pos;
    if (n_pos == 0.0 || n_neg == 0.0) return NAN;
    return (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg);
}

double oracle_auroc_levels(const double *positives, const double *negatives, int levels)
{
    double n_pos = 0.0, n_neg = 0.0, favourable = 0.0, negatives_below = 0.0;
    for (int l = 0; l < levels; l++) {
        favourable += positives[l] * (negatives_below + 0.5 * negatives[l]);
        negatives_below += negatives[l];
        n_pos += positives[l];
        n_neg += negatives[l];
    }
    if (n_pos == 0.0 || n_neg == 0.0) return NAN;
    return favourable / (n_pos * n_neg);
}

/* ---- ensembles ---- */

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

void oracle_aggregate(const float *z, size_t member_stride, const int *members, int k, size_t K,
                  rm_aggregator agg, double lambda, double *out, double *sort_scratch)
{
    for (size_t r = 0; r < K; r++) {
        double value;
        if (agg == RM_AGG_MIN) {
            value = z[(size_t)members[0] * member_stride + r];
            for (int i = 1; i < k; i++) value = fmin(value, (double)z[(size_t)members[i] * member_stride + r]);
        } else if (agg == RM_AGG_MEDIAN) {
            for (int i = 0; i < k; i++) sort_scratch[i] = z[(size_t)members[i] * member_stride + r];
            insertion_sort(sort_scratch, k);
            value = k % 2 ? sort_scratch[k / 2] : 0.5 * (sort_scratch[k / 2 - 1] + sort_scratch[k / 2]);
        } else {
            double sum = 0.0;
            for (int i = 0; i < k; i++) sum += z[(size_t)members[i] * member_stride + r];
            value = sum / k;
            if (agg == RM_AGG_UWO) { /* two-pass population variance: exact 0 for equal members */
                double ss = 0.0;
                for (int i = 0; i < k; i++) {
                    double d = z[(size_t)members[i] * member_stride + r] - value;
                    ss += d * d;
                }
                value -= lambda * ss / k;
            }
        }
        out[r] = value;
    }
}

void oracle_member_std(const float *z, size_t member_stride, const int *members, int k, size_t K, double *out)
{
    for (size_t r = 0; r < K; r++) {
        double sum = 0.0, ss = 0.0;
        for (int i = 0; i < k; i++) sum += z[(size_t)members[i] * member_stride + r];
        double mean = sum / k;
        for (int i = 0; i < k; i++) {
            double d = z[(size_t)members[i] * member_stride + r] - mean;
            ss += d * d;
        }
        out[r] = sqrt(ss / k);
    }
}

size_t oracle_pair_mask_words(int n_members)
{
    return ((size_t)n_members + 63) / 64;
}

void oracle_pair_masks(const float *z, size_t member_stride, int n_members, size_t K, uint64_t *gt, uint64_t *eq)
{
    size_t words = oracle_pair_mask_words(n_members);
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

void oracle_pair_subset_stats(const uint64_t *gt, const uint64_t *eq, size_t words, size_t K, const uint64_t *subset, int k,
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

/* ---- the per-prompt accumulation of src/eval/eval_figures.c ---- */

int oracle_eval_work_create(oracle_work *w, const rm_eval_plan *p)
{
    memset(w, 0, sizeof *w);
    size_t K = p->n_responses, E = (size_t)p->n_members;
    if (oracle_metric_scratch_create(&w->scratch, K) != 0) return -1;
    w->golden = rm_alloc(K, sizeof(double), "evaluation work");
    w->golden_ranks = rm_alloc(K, sizeof(double), "evaluation work");
    w->golden_by_score = rm_alloc(K, sizeof(double), "evaluation work");
    w->win = rm_alloc((size_t)p->n_bon * K, sizeof(double), "evaluation work");
    w->aggregate = rm_alloc((size_t)p->n_aggregators * K, sizeof(double), "evaluation work");
    w->ranks = rm_alloc(K, sizeof(double), "evaluation work");
    w->member_ranks = rm_alloc(E * K, sizeof(double), "evaluation work");
    w->spread = rm_alloc(K, sizeof(double), "evaluation work");
    w->rank_error = rm_alloc(K, sizeof(double), "evaluation work");
    w->sort_buffer = rm_alloc(E, sizeof(double), "evaluation work");
    w->member_pick = rm_alloc(E, sizeof(int), "evaluation work");
    int ok = w->golden && w->golden_ranks && w->golden_by_score && w->win && w->aggregate && w->ranks &&
             w->member_ranks && w->spread && w->rank_error && w->sort_buffer && w->member_pick;
    if (ok && p->pair_statistics) {
        /* K(K-1)/2 pairs x mask words, twice: 2 MB for K = 500 and up to 64 members */
        size_t n_pairs = K * (K - 1) / 2, words;
        if (rm_size_mul(n_pairs, p->mask_words, &words, "pair masks") != 0) ok = 0;
        else {
            w->pair_gt = rm_alloc(words, sizeof(uint64_t), "pair masks");
            w->pair_eq = rm_alloc(words, sizeof(uint64_t), "pair masks");
            ok = w->pair_gt && w->pair_eq;
        }
    }
    if (!ok) {
        oracle_eval_work_free(w);
        return rm_error_context("evaluation scratch for K = %zu, E = %zu", K, E);
    }
    for (int j = 0; j < p->n_bon; j++) oracle_bon_win_probabilities(K, p->bon_n[j], w->win + (size_t)j * K);
    return 0;
}

void oracle_eval_work_free(oracle_work *w)
{
    oracle_metric_scratch_free(&w->scratch);
    free(w->golden);
    free(w->golden_ranks);
    free(w->golden_by_score);
    free(w->win);
    free(w->aggregate);
    free(w->ranks);
    free(w->member_ranks);
    free(w->spread);
    free(w->rank_error);
    free(w->sort_buffer);
    free(w->member_pick);
    free(w->pair_gt);
    free(w->pair_eq);
    memset(w, 0, sizeof *w);
}

static inline void add_mean(double *slot, double value)
{
    if (isnan(value)) return;
    slot[0] += value;
    slot[1] += 1.0;
}

static size_t argmax_first(const double *v, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

/* One aggregate's figures for one prompt: bon for each n, Spearman, pair accuracy. */
static void accumulate_aggregate(const rm_eval_plan *p, oracle_work *w, const double *score, double *slots)
{
    size_t K = p->n_responses;
    oracle_golden_by_score(score, w->golden, K, w->golden_by_score, &w->scratch);
    for (int j = 0; j < p->n_bon; j++) add_mean(slots + 2 * j, oracle_bon_expected(w->win + (size_t)j * K, w->golden_by_score, K));
    oracle_average_ranks(score, K, w->ranks, &w->scratch);
    add_mean(slots + 2 * p->n_bon, oracle_pearson(w->ranks, w->golden_ranks, K));
    int64_t twice_correct = 0;
    int64_t valid = oracle_pair_accuracy_counts(score, w->golden, K, &twice_correct, &w->scratch);
    slots[2 * p->n_bon + 2] += 0.5 * (double)twice_correct;
    slots[2 * p->n_bon + 3] += (double)valid;
}

void oracle_eval_accumulate_prompt(const rm_eval_plan *p, oracle_work *w, const float *z, size_t member_stride,
                               const float *golden, double *slots)
{
    size_t K = p->n_responses;
    int E = p->n_members;
    for (size_t r = 0; r < K; r++) w->golden[r] = golden[r];
    oracle_average_ranks(w->golden, K, w->golden_ranks, &w->scratch);

    /* oracle: best-of-n picking by golden reward itself */
    oracle_golden_by_score(w->golden, w->golden, K, w->golden_by_score, &w->scratch);
    for (int j = 0; j < p->n_bon; j++)
        add_mean(slots + p->oracle_offset + 2 * j, oracle_bon_expected(w->win + (size_t)j * K, w->golden_by_score, K));

    /* per member: ranks (for member-pair Spearman) and the best-of-K pick */
    for (int m = 0; m < E; m++) {
        double *score = w->aggregate; /* reused as a double copy of the member's scores */
        for (size_t r = 0; r < K; r++) score[r] = z[(size_t)m * member_stride + r];
        oracle_average_ranks(score, K, w->member_ranks + (size_t)m * K, &w->scratch);
        w->member_pick[m] = (int)argmax_first(score, K);
    }
    double *pair_slot = slots + p->member_spearman_offset;
    for (int a = 0; a < E; a++)
        for (int b = a + 1; b < E; b++, pair_slot += 2)
            add_mean(pair_slot, oracle_pearson(w->member_ranks + (size_t)a * K, w->member_ranks + (size_t)b * K, K));

    if (p->pair_statistics) oracle_pair_masks(z, member_stride, E, K, w->pair_gt, w->pair_eq);

    for (int s = 0; s < p->n_subsets; s++) {
        const rm_eval_subset *sub = &p->subsets[s];
        double *base = slots + sub->offset;
        for (int a = 0; a < sub->n_aggregators; a++) {
            double *agg = w->aggregate + (size_t)a * K;
            rm_aggregator kind = a < 3 ? (rm_aggregator)a : RM_AGG_UWO;
            oracle_aggregate(z, member_stride, sub->members, sub->k, K, kind, a < 3 ? 0.0 : p->uwo_lambda[a - 3], agg,
                         w->sort_buffer);
            accumulate_aggregate(p, w, agg, base + (size_t)a * p->aggregator_slots);
        }
        if (!sub->ensemble_figures) continue;
        double *ens = base + (size_t)sub->n_aggregators * p->aggregator_slots;
        const double *mean = w->aggregate; /* aggregator 0 */

        /* agreement: members whose best-of-K pick is the mean ensemble's */
        size_t mean_pick = argmax_first(mean, K);
        int same = 0;
        for (int i = 0; i < sub->k; i++) same += (size_t)w->member_pick[sub->members[i]] == mean_pick;
        add_mean(ens + SLOT_BEST_PICK, (double)same / sub->k);

        /* uncertainty: ensemble deviation, and whether it tracks the mean's rank error */
        oracle_member_std(z, member_stride, sub->members, sub->k, K, w->spread);
        double spread_sum = 0.0;
        for (size_t r = 0; r < K; r++) spread_sum += w->spread[r];
        add_mean(ens + SLOT_MEAN_STD, spread_sum / (double)K);
        oracle_average_ranks(mean, K, w->ranks, &w->scratch);
        for (size_t r = 0; r < K; r++) w->rank_error[r] = fabs(w->ranks[r] - w->golden_ranks[r]);
        add_mean(ens + SLOT_STD_RANK, oracle_spearman(w->spread, w->rank_error, K, &w->scratch));

        if (sub->k >= 2) {
            double agreeing = 0.0;
            oracle_pair_subset_stats(w->pair_gt, w->pair_eq, p->mask_words, K, sub->mask, sub->k, mean, w->golden,
                                 ens + SLOT_HIST, ens + SLOT_HIST + disagreement_levels(sub->k), &agreeing);
            ens[SLOT_AGREE] += agreeing;
            ens[SLOT_AGREE + 1] += (double)(K * (K - 1) / 2) * (double)sub->k * (double)(sub->k - 1) / 2.0;
        }
    }
}

