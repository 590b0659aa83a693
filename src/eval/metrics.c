/* Evaluation metrics of one prompt (see include/rmens/eval/metrics.h). */
#include "rmens/eval/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"

int rm_metric_scratch_create(rm_metric_scratch *s, size_t capacity)
{
    memset(s, 0, sizeof *s);
    if (capacity == 0) capacity = 1;
    s->capacity = capacity;
    s->keyed = rm_alloc(capacity, sizeof(rm_keyed), "metric scratch");
    s->keyed_tmp = rm_alloc(capacity, sizeof(rm_keyed), "metric scratch");
    s->indices[0] = rm_alloc(capacity, sizeof(size_t), "metric scratch");
    s->indices[1] = rm_alloc(capacity, sizeof(size_t), "metric scratch");
    int ok = s->keyed && s->keyed_tmp && s->indices[0] && s->indices[1];
    for (int i = 0; i < 4; i++) {
        s->values[i] = rm_alloc(capacity, sizeof(double), "metric scratch");
        ok = ok && s->values[i];
    }
    for (int i = 0; i < 2; i++) {
        s->counts[i] = rm_alloc(capacity + 1, sizeof(int32_t), "metric scratch");
        s->radix_index[i] = rm_alloc(capacity, sizeof(uint32_t), "metric scratch");
        ok = ok && s->counts[i] && s->radix_index[i];
    }
    s->bits = rm_alloc(capacity / 64 + 1, sizeof(uint64_t), "metric scratch");
    ok = ok && s->bits;
    s->radix_keys = rm_alloc(capacity, sizeof(uint64_t), "metric scratch");
    s->radix_counts = rm_alloc(8, sizeof *s->radix_counts, "metric scratch");
    ok = ok && s->radix_keys && s->radix_counts;
    if (!ok) {
        rm_metric_scratch_free(s);
        return -1;
    }
    return 0;
}

void rm_metric_scratch_free(rm_metric_scratch *s)
{
    free(s->keyed);
    free(s->keyed_tmp);
    free(s->indices[0]);
    free(s->indices[1]);
    for (int i = 0; i < 4; i++) free(s->values[i]);
    for (int i = 0; i < 2; i++) {
        free(s->counts[i]);
        free(s->radix_index[i]);
    }
    free(s->bits);
    free(s->radix_keys);
    free(s->radix_counts);
    memset(s, 0, sizeof *s);
}

/* Total order: by value, then by index, so equal values keep their index order. */
static inline int keyed_less(const rm_keyed *a, const rm_keyed *b)
{
    return a->value < b->value || (!(a->value > b->value) && a->index < b->index);
}

/* Sort a[0..n) by keyed_less, with tmp[0..n) as scratch. The evaluation sorts every
 * prompt's K scores a few times per aggregator and ensemble subset (thousands of sorts
 * of 500 per prompt at the case study's 82 subsets); qsort's call through a comparator
 * pointer per comparison made that a large part of the statistics time. The order is
 * total (value, then index) on finite values, so the result is the one qsort gave. */
static void keyed_sort(rm_keyed *a, rm_keyed *tmp, size_t n)
{
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            rm_keyed x = a[i];
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

/* Radix sort key of a double: unsigned order = numeric order, with -0 as +0 (equal values
 * must get equal keys, their order then being the index order). */
static inline uint64_t radix_key(double v)
{
    uint64_t b;
    if (v == 0.0) v = 0.0;
    memcpy(&b, &v, sizeof b);
    return b >> 63 ? ~b : b | (uint64_t)1 << 63;
}

/* Stable counting sorts of from[0..n) by bytes d0..d1-1 of key (least significant first,
 * count[d] holding each byte's histogram); bytes equal in every key are skipped. Returns
 * the array that holds the result (from or to). */
static uint32_t *radix_passes(const uint64_t *key, uint32_t *from, uint32_t *to, uint32_t (*count)[256], int d0,
                              int d1, size_t n)
{
    for (int d = d0; d < d1; d++) {
        uint32_t *c = count[d];
        if (c[(key[0] >> (8 * d)) & 255] == n) continue; /* one value of this byte: nothing moves */
        uint32_t sum = 0;
        for (int b = 0; b < 256; b++) {
            uint32_t here = c[b];
            c[b] = sum;
            sum += here;
        }
        for (size_t i = 0; i < n; i++) {
            uint32_t r = from[i];
            to[c[(key[r] >> (8 * d)) & 255]++] = r;
        }
        uint32_t *swap = from;
        from = to;
        to = swap;
    }
    return from;
}

/* Runs of order[] longer than this, equal in the high 32 bits of their keys, are not sorted
 * by insertion: the whole sort takes all 8 bytes instead. */
#define RADIX_RUN_MAX 32

/* Sort the runs of order[0..n) that share the high 32 bits of their key by the whole key,
 * stably (they are in index order: ties stay so). Returns -1 (order left partly sorted) at
 * a run longer than RADIX_RUN_MAX. */
static int sort_high_runs(const uint64_t *key, uint32_t *order, size_t n)
{
    for (size_t start = 0; start < n;) {
        size_t end = start + 1;
        uint64_t high = key[order[start]] >> 32;
        while (end < n && key[order[end]] >> 32 == high) end++;
        if (end - start > RADIX_RUN_MAX) return -1;
        for (size_t i = start + 1; i < end; i++) {
            uint32_t x = order[i];
            size_t j = i;
            while (j > start && key[order[j - 1]] > key[x]) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = x;
        }
        start = end;
    }
    return 0;
}

/* The same order as keyed_sort by radix sort of radix_key: each pass is a stable counting
 * sort of one byte, so equal keys keep the index order. At K = 500 a sort with its average
 * ranks took 7 us against 18 us for the merge sort, whose comparisons the branch predictor
 * cannot guess. Only the high 4 bytes are sorted by passes: the few runs of responses
 * equal in those are then ordered by insertion; that took the sorts of the case study's
 * aggregates (means of 10 members' scores fill all 8 bytes, 7 to 8 passes) from 30% to
 * ~20% of its statistics. Keys crowded into long runs of equal high bytes (values within
 * 2^-20 of each other) take the 8 passes instead. Returns -1 (nothing done) on a NaN,
 * which has no place in the order. */
static int radix_sort_keyed(const double *values, size_t n, rm_metric_scratch *s)
{
    uint64_t *key = s->radix_keys;
    uint32_t *from = s->radix_index[0], *to = s->radix_index[1], (*count)[256] = s->radix_counts;
    memset(count + 4, 0, 4 * sizeof *count);
    int nan = 0;
    for (size_t i = 0; i < n; i++) {
        nan |= isnan(values[i]);
        uint64_t k = key[i] = radix_key(values[i]);
        from[i] = (uint32_t)i;
        for (int d = 4; d < 8; d++) count[d][(k >> (8 * d)) & 255]++;
    }
    if (nan) return -1;
    uint32_t *order = radix_passes(key, from, to, count, 4, 8, n);
    if (sort_high_runs(key, order, n) != 0) { /* all 8 bytes, from the index order */
        memset(count, 0, 8 * sizeof *count);
        for (size_t i = 0; i < n; i++) {
            from[i] = (uint32_t)i;
            for (int d = 0; d < 8; d++) count[d][(key[i] >> (8 * d)) & 255]++;
        }
        order = radix_passes(key, from, to, count, 0, 8, n);
    }
    for (size_t i = 0; i < n; i++) s->keyed[i] = (rm_keyed){values[order[i]], order[i]};
    return 0;
}

/* Fill s->keyed with (values[i], i) sorted ascending (s->keyed_tmp is scratch). */
static void sort_keyed(const double *values, size_t n, rm_metric_scratch *s)
{
    if (n >= 64 && n <= UINT32_MAX && radix_sort_keyed(values, n, s) == 0) return;
    for (size_t i = 0; i < n; i++) s->keyed[i] = (rm_keyed){values[i], i};
    keyed_sort(s->keyed, s->keyed_tmp, n);
}

void rm_sort_order(const double *values, size_t n, size_t *order, rm_metric_scratch *s)
{
    sort_keyed(values, n, s);
    for (size_t i = 0; i < n; i++) order[i] = s->keyed[i].index;
}

void rm_average_ranks(const double *values, size_t n, double *ranks, rm_metric_scratch *s)
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

double rm_bon_kl(size_t n)
{
    return log((double)n) - ((double)n - 1.0) / (double)n;
}

void rm_bon_win_probabilities(size_t K, size_t n, double *win)
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

void rm_golden_by_score(const double *score, const double *golden, size_t K, double *golden_by_score,
                        rm_metric_scratch *s)
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

/* The products fused into the sum explicitly where the CPU fuses them (-march=native):
 * left to contraction, GCC compiled this loop differently in different callers (scalar
 * fused multiply-adds in one, vectorised products and separate additions in another),
 * which moved the last bits of best-of-n between them; fma() is the same everywhere.
 * Without FMA hardware nothing is fused, and vectorised products round as scalar ones. */
#ifdef __FMA__
#define BON_MULTIPLY_ADD(a, b, sum) fma(a, b, sum)
#else
#define BON_MULTIPLY_ADD(a, b, sum) ((sum) + (a) * (b))
#endif

double rm_bon_expected(const double *win, const double *golden_by_score, size_t K)
{
    double sum = 0.0;
    for (size_t i = 0; i < K; i++) sum = BON_MULTIPLY_ADD(win[i], golden_by_score[i], sum);
    return sum;
}

double rm_best_of_n(const double *score, const double *golden, size_t K, size_t n, rm_metric_scratch *s)
{
    double *win = s->values[2], *by_score = s->values[3];
    rm_golden_by_score(score, golden, K, by_score, s);
    rm_bon_win_probabilities(K, n, win);
    return rm_bon_expected(win, by_score, K);
}

int rm_bon_table_create(rm_bon_table *t, size_t K, const size_t *n, int n_sizes)
{
    memset(t, 0, sizeof *t);
    t->K = K;
    t->n_sizes = n_sizes;
    t->n_groups = (n_sizes + RM_BON_LANES - 1) / RM_BON_LANES;
    size_t cells, lane_cells;
    if (rm_size_mul(K, (size_t)(n_sizes > 0 ? n_sizes : 1), &cells, "best-of-n table") != 0 ||
        rm_size_mul3((size_t)(t->n_groups > 0 ? t->n_groups : 1), K, RM_BON_LANES, &lane_cells, "best-of-n table") != 0)
        return -1;
    t->win = rm_alloc(cells, sizeof(double), "best-of-n table");
    t->first = rm_alloc((size_t)(n_sizes > 0 ? n_sizes : 1), sizeof(size_t), "best-of-n table");
    t->by_position = rm_calloc(lane_cells, sizeof(double), "best-of-n table");
    t->group_first = rm_alloc((size_t)(t->n_groups > 0 ? t->n_groups : 1), sizeof(size_t), "best-of-n table");
    if (!t->win || !t->first || !t->by_position || !t->group_first) {
        rm_bon_table_free(t);
        return -1;
    }
    for (int j = 0; j < n_sizes; j++) {
        double *win = t->win + (size_t)j * K;
        rm_bon_win_probabilities(K, n[j], win);
        size_t first = 0;
        while (first + 1 < K && win[first] == 0.0) first++;
        t->first[j] = first;
        size_t group = (size_t)j / RM_BON_LANES, lane = (size_t)j % RM_BON_LANES;
        double *lanes = t->by_position + group * K * RM_BON_LANES;
        for (size_t i = 0; i < K; i++) lanes[i * RM_BON_LANES + lane] = win[i];
        if (lane == 0 || first < t->group_first[group]) t->group_first[group] = first;
    }
    return 0;
}

void rm_bon_table_free(rm_bon_table *t)
{
    free(t->win);
    free(t->first);
    free(t->by_position);
    free(t->group_first);
    memset(t, 0, sizeof *t);
}

/* Whether every value of v[0..n) is finite (v - v is 0 then, NaN for an infinity or NaN). */
static int all_finite(const double *v, size_t n)
{
    int finite = 1;
    for (size_t i = 0; i < n; i++) finite &= v[i] - v[i] == 0.0;
    return finite;
}

/* The sums of rm_bon_expected of RM_BON_LANES sizes side by side, for a and (if not NULL)
 * b. Each size's sum is one chain of fused multiply-adds whose every step waits for the
 * previous one (4 cycles), and one size at a time that latency was all the cost; the
 * chains of a group are independent, so here they advance together. Each lane is still
 * its size's own chain in order: from group_first to its own first it adds
 * fma(0, x, +0) = +0 (x finite), the sum it starts from, and from there the same terms. */
static void expect_group(const double *w, size_t i0, size_t K, const double *a, const double *b, double *sum_a,
                         double *sum_b)
{
    double sa[RM_BON_LANES] = {0}, sb[RM_BON_LANES] = {0};
    if (b) {
        for (size_t i = i0; i < K; i++) {
            const double *wi = w + i * RM_BON_LANES, ai = a[i], bi = b[i];
            for (int l = 0; l < RM_BON_LANES; l++) {
                sa[l] = BON_MULTIPLY_ADD(wi[l], ai, sa[l]);
                sb[l] = BON_MULTIPLY_ADD(wi[l], bi, sb[l]);
            }
        }
    } else {
        for (size_t i = i0; i < K; i++) {
            const double *wi = w + i * RM_BON_LANES, ai = a[i];
            for (int l = 0; l < RM_BON_LANES; l++) sa[l] = BON_MULTIPLY_ADD(wi[l], ai, sa[l]);
        }
    }
    memcpy(sum_a, sa, sizeof sa);
    memcpy(sum_b, sb, sizeof sb);
}

/* One vector the old way, size by size: for values that are not all finite, where a
 * skipped zero term (0 x inf = NaN) is not the same as an added one. */
static void expect_each(const rm_bon_table *t, const double *golden_by_score, double *out)
{
    /* rm_bon_expected itself, so that the sum compiles to the same instructions (whether
     * the compiler contracts it into fused multiply-adds or not), from the first non-zero
     * term: the skipped terms are exact zeros that would leave the sum at +0. */
    for (int j = 0; j < t->n_sizes; j++) {
        size_t first = t->first[j];
        out[j] = rm_bon_expected(t->win + (size_t)j * t->K + first, golden_by_score + first, t->K - first);
    }
}

void rm_bon_table_expect2(const rm_bon_table *t, const double *a, double *out_a, const double *b, double *out_b)
{
    if (t->n_groups == 0) return;
    size_t K = t->K, from = t->group_first[0];
    for (int g = 1; g < t->n_groups; g++) from = t->group_first[g] < from ? t->group_first[g] : from;
    int finite_a = all_finite(a + from, K - from), finite_b = !b || all_finite(b + from, K - from);
    if (!finite_a) expect_each(t, a, out_a);
    if (!finite_b) expect_each(t, b, out_b);
    if (!finite_a && (!b || !finite_b)) return;
    if (!finite_a) { /* only b is left */
        a = b, out_a = out_b;
        b = NULL;
    } else if (!finite_b) {
        b = NULL;
    }
    for (int g = 0; g < t->n_groups; g++) {
        double sum_a[RM_BON_LANES], sum_b[RM_BON_LANES];
        expect_group(t->by_position + (size_t)g * K * RM_BON_LANES, t->group_first[g], K, a, b, sum_a, sum_b);
        int lanes = t->n_sizes - g * RM_BON_LANES < RM_BON_LANES ? t->n_sizes - g * RM_BON_LANES : RM_BON_LANES;
        memcpy(out_a + g * RM_BON_LANES, sum_a, (size_t)lanes * sizeof(double));
        if (b) memcpy(out_b + g * RM_BON_LANES, sum_b, (size_t)lanes * sizeof(double));
    }
}

void rm_bon_table_expect(const rm_bon_table *t, const double *golden_by_score, double *out)
{
    rm_bon_table_expect2(t, golden_by_score, out, NULL, NULL);
}

/* ---- rank correlation ---- */

double rm_pearson(const double *a, const double *b, size_t n)
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

/* Up to this n every sum of rm_pearson over average ranks is exact (below 2^53 / 4). */
#define PEARSON_RANKS_EXACT_MAX 100000

double rm_pearson_ranks(const double *a, const double *b, size_t n)
{
    if (n < 2 || n > PEARSON_RANKS_EXACT_MAX) return rm_pearson(a, b, n);
    /* Average ranks sum to n(n + 1) / 2 whatever the ties, so both means are (n + 1) / 2
     * exactly; the deviations are halves of integers, their products quarters of
     * integers, and every partial sum of them a multiple of 1/4 below n^3 / 12: exact. So
     * rm_pearson's sums, taken in any order, are these, in 8 lanes here. */
    double sum_aa[8] = {0}, sum_bb[8] = {0}, sum_ab[8] = {0}, centre = 0.5 * (double)(n + 1);
    size_t blocked = n / 8 * 8;
    for (size_t i = 0; i < blocked; i += 8)
        for (int l = 0; l < 8; l++) {
            double da = a[i + (size_t)l] - centre, db = b[i + (size_t)l] - centre;
            sum_aa[l] += da * da;
            sum_bb[l] += db * db;
            sum_ab[l] += da * db;
        }
    for (size_t i = blocked; i < n; i++) {
        double da = a[i] - centre, db = b[i] - centre;
        sum_aa[0] += da * da;
        sum_bb[0] += db * db;
        sum_ab[0] += da * db;
    }
    double saa = 0.0, sbb = 0.0, sab = 0.0;
    for (int l = 0; l < 8; l++) {
        saa += sum_aa[l];
        sbb += sum_bb[l];
        sab += sum_ab[l];
    }
    /* from here rm_pearson's own expressions */
    if (saa <= 0.0 || sbb <= 0.0) return NAN;
    double r = sab / sqrt(saa * sbb);
    return r > 1.0 ? 1.0 : (r < -1.0 ? -1.0 : r);
}

double rm_spearman(const double *x, const double *y, size_t n, rm_metric_scratch *s)
{
    double *rx = s->values[0], *ry = s->values[1];
    rm_average_ranks(x, n, rx, s);
    rm_average_ranks(y, n, ry, s);
    return rm_pearson_ranks(rx, ry, n);
}

/* Pairs within runs of equal values of a sorted sequence: sum of t(t-1)/2 over runs. */
static int64_t tied_pairs_sorted(const rm_keyed *a, size_t n)
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
static int64_t merge_count_inversions(rm_keyed *a, rm_keyed *tmp, size_t n)
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

void rm_count_pairs(const double *x, const double *y, size_t n, rm_pair_counts *out, rm_metric_scratch *s)
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
    for (size_t i = 0; i < n; i++) s->keyed_tmp[i] = (rm_keyed){x[i], y_position[i]};
    keyed_sort(s->keyed_tmp, s->keyed, n); /* s->keyed is free until y_in_xy_order below */
    double *x_sorted = s->values[0];
    rm_keyed *y_in_xy_order = s->keyed;
    for (size_t r = 0; r < n; r++) {
        x_sorted[r] = s->keyed_tmp[r].value;
        y_in_xy_order[r] = (rm_keyed){y[response_at_y[s->keyed_tmp[r].index]], r};
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

int64_t rm_pairs_concordant(const rm_pair_counts *c)
{
    return c->pairs - c->discordant - c->x_ties - c->y_ties + c->joint_ties;
}

int64_t rm_pair_accuracy_counts(const double *score, const double *golden, size_t K, int64_t *twice_correct,
                                rm_metric_scratch *s)
{
    rm_pair_counts c;
    rm_count_pairs(golden, score, K, &c, s);
    int64_t valid = c.pairs - c.x_ties;                 /* golden ties excluded */
    int64_t score_tied_only = c.y_ties - c.joint_ties;  /* count one half each */
    *twice_correct = 2 * rm_pairs_concordant(&c) + score_tied_only;
    return valid;
}

/* ---- every figure of a score vector from one sort ---- */

int rm_golden_sorted_create(rm_golden_sorted *g, size_t capacity)
{
    memset(g, 0, sizeof *g);
    if (capacity == 0) capacity = 1;
    g->capacity = capacity;
    g->order = rm_alloc(capacity, sizeof(size_t), "golden order");
    g->position = rm_alloc(capacity, sizeof(size_t), "golden order");
    g->ranks = rm_alloc(capacity, sizeof(double), "golden order");
    g->dense = rm_alloc(capacity, sizeof(int32_t), "golden order");
    g->above = rm_alloc(capacity, sizeof(int32_t), "golden order");
    g->by_golden = rm_alloc(capacity, sizeof(double), "golden order");
    if (!g->order || !g->position || !g->ranks || !g->dense || !g->above || !g->by_golden) {
        rm_golden_sorted_free(g);
        return -1;
    }
    return 0;
}

void rm_golden_sorted_free(rm_golden_sorted *g)
{
    free(g->order);
    free(g->position);
    free(g->ranks);
    free(g->dense);
    free(g->above);
    free(g->by_golden);
    memset(g, 0, sizeof *g);
}

void rm_golden_sorted_set(rm_golden_sorted *g, const double *golden, size_t n, rm_metric_scratch *s)
{
    g->golden = golden;
    g->n = n;
    g->levels = 0;
    g->tied_pairs = 0;
    sort_keyed(golden, n, s);
    for (size_t start = 0; start < n;) {
        size_t end = start + 1;
        while (end < n && s->keyed[end].value == s->keyed[start].value) end++;
        /* the loops of rm_average_ranks and rm_golden_by_score(golden, golden) */
        double rank = 0.5 * (double)(start + 1 + end), sum = 0.0;
        for (size_t i = start; i < end; i++) sum += golden[s->keyed[i].index];
        double mean = sum / (double)(end - start);
        for (size_t i = start; i < end; i++) {
            size_t r = s->keyed[i].index;
            g->order[i] = r;
            g->position[r] = i;
            g->ranks[r] = rank;
            g->dense[r] = g->levels;
            g->above[r] = (int32_t)end;
            g->by_golden[i] = end - start == 1 ? golden[r] : mean;
        }
        int64_t t = (int64_t)(end - start);
        g->tied_pairs += t * (t - 1) / 2;
        g->levels++;
        start = end;
    }
    /* np.median: (a + b) / 2 of the two middle values (the middle one for odd n) */
    g->median = n == 0 ? NAN : 0.5 * (golden[g->order[(n - 1) / 2]] + golden[g->order[n / 2]]);
}

/* Responses of earlier runs (all scored strictly lower) with a golden reward above
 * response r's: they form the discordant pairs with r. Two structures count them. */

/* Fenwick tree over golden levels 0..n-1 (tree[1..n]), for any n. */
static inline void fenwick_add(int32_t *tree, int32_t n, int32_t level)
{
    for (int32_t i = level + 1; i <= n; i += i & -i) tree[i]++;
}

static inline int32_t fenwick_at_most(const int32_t *tree, int32_t level)
{
    int32_t count = 0;
    for (int32_t i = level + 1; i > 0; i -= i & -i) count += tree[i];
    return count;
}

/* Below 1024 responses: a bit per golden position, and suffix[w] = set bits in words >= w.
 * Counting is then constant time and an insertion a fixed loop without branches (the
 * Fenwick tree's data-dependent loop exits cost more than its arithmetic at n = 500). */
#define BITSET_MAX_WORDS 16

static inline int64_t bitset_at_or_above(const uint64_t *bits, const int32_t *suffix, int32_t position)
{
    int32_t w = position / 64;
    return suffix[w + 1] + __builtin_popcountll(bits[w] >> (position % 64));
}

static inline void bitset_add(uint64_t *bits, int32_t *suffix, int32_t position)
{
    int32_t w = position / 64;
    bits[w] |= (uint64_t)1 << (position % 64);
    /* all BITSET_MAX_WORDS counts (one vector operation): those from the bit set's words on
     * never change, as w < words */
    for (int32_t i = 0; i < BITSET_MAX_WORDS; i++) suffix[i] += i <= w;
}

/* Discordant pairs and pairs tied in both, over the runs of tied scores in s->keyed. */
static void count_discordant(const rm_golden_sorted *g, const rm_keyed *sorted, size_t n, rm_metric_scratch *s,
                             int64_t *discordant, int64_t *joint_ties)
{
    int32_t *tree = s->counts[0], *in_run = s->counts[1], words = (int32_t)(n / 64 + 1);
    int bitset = words <= BITSET_MAX_WORDS;
    int32_t suffix[BITSET_MAX_WORDS + 1] = {0};
    if (bitset) memset(s->bits, 0, (size_t)words * sizeof *s->bits);
    else memset(tree, 0, ((size_t)g->levels + 1) * sizeof *tree);
    memset(in_run, 0, (size_t)g->levels * sizeof *in_run);
    int64_t disc = 0, joint = 0;
    for (size_t start = 0; start < n;) {
        size_t end = start + 1;
        while (end < n && sorted[end].value == sorted[start].value) end++;
        for (size_t i = start; i < end; i++) {
            size_t r = sorted[i].index;
            int32_t level = g->dense[r];
            disc += bitset ? bitset_at_or_above(s->bits, suffix, g->above[r]) : (int64_t)start - fenwick_at_most(tree, level);
            joint += in_run[level]++;
        }
        for (size_t i = start; i < end; i++) {
            size_t r = sorted[i].index;
            in_run[g->dense[r]] = 0;
            if (bitset) bitset_add(s->bits, suffix, (int32_t)g->position[r]);
            else fenwick_add(tree, g->levels, g->dense[r]);
        }
        start = end;
    }
    *discordant = disc;
    *joint_ties = joint;
}

/* The best-of-K pick's golden quantile and above-median share, the top block of tied
 * scores [top, n) of `sorted` sharing the pick (see rm_score_figures). */
static void pick_figures(const rm_golden_sorted *g, const rm_keyed *sorted, size_t top, size_t n, rm_score_figures *out)
{
    double at_or_below = 0.0, above_median = 0.0;
    for (size_t i = top; i < n; i++) {
        size_t r = sorted[i].index;
        at_or_below += (double)g->above[r]; /* responses with golden <= golden_r */
        above_median += g->golden[r] > g->median;
    }
    double t = (double)(n - top);
    out->pick_quantile = at_or_below / t / (double)n;
    out->above_median = above_median / t;
}

void rm_score_figures_compute(const double *score, const rm_golden_sorted *g, const rm_bon_table *bon_table,
                              double *bon, double *proxy_bon, double *ranks, int32_t *dense, rm_score_figures *out,
                              rm_metric_scratch *s)
{
    size_t n = g->n;
    const double *golden = g->golden;
    double *by_score = s->values[3];
    sort_keyed(score, n, s);
    const rm_keyed *sorted = s->keyed;
    int64_t score_ties = 0, discordant, joint_ties;
    int32_t run = 0;
    size_t top = 0; /* start of the last run: the tied best-of-K pick */
    for (size_t start = 0; start < n; run++) {
        top = start;
        size_t end = start + 1;
        while (end < n && sorted[end].value == sorted[start].value) end++;
        /* rm_golden_by_score's and rm_average_ranks's loops over the tied block (a single
         * response takes its own golden reward: the mean is not needed) */
        double rank = 0.5 * (double)(start + 1 + end);
        if (end - start == 1) {
            by_score[start] = golden[sorted[start].index];
        } else {
            double sum = 0.0;
            for (size_t i = start; i < end; i++) sum += golden[sorted[i].index];
            double mean = sum / (double)(end - start);
            for (size_t i = start; i < end; i++) by_score[i] = mean;
        }
        for (size_t i = start; i < end; i++) {
            ranks[sorted[i].index] = rank;
            if (dense) dense[sorted[i].index] = run;
        }
        int64_t t = (int64_t)(end - start);
        score_ties += t * (t - 1) / 2;
        start = end;
    }
    if (n > 0) pick_figures(g, sorted, top, n, out);
    else out->pick_quantile = out->above_median = NAN;
    double *score_by_score = NULL;
    if (proxy_bon) { /* the scores in ascending order: the proxy's "golden_by_score" */
        score_by_score = s->values[2];
        for (size_t i = 0; i < n; i++) score_by_score[i] = sorted[i].value;
    }
    count_discordant(g, sorted, n, s, &discordant, &joint_ties);
    rm_bon_table_expect2(bon_table, by_score, bon, score_by_score, proxy_bon);
    out->spearman = rm_pearson_ranks(ranks, g->ranks, n);
    /* rm_pair_accuracy_counts with golden as x and score as y of rm_count_pairs */
    int64_t pairs = (int64_t)n * ((int64_t)n - 1) / 2;
    int64_t concordant = pairs - discordant - g->tied_pairs - score_ties + joint_ties;
    out->valid = pairs - g->tied_pairs;
    out->twice_correct = 2 * concordant + (score_ties - joint_ties);
}

/* ---- AUROC ---- */

double rm_auroc(const double *score, const int *label, size_t n, rm_metric_scratch *s)
{
    double *ranks = s->values[0];
    rm_average_ranks(score, n, ranks, s);
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

double rm_auroc_levels(const double *positives, const double *negatives, int levels)
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
