/* Pair statistics of many member subsets at once, by sign patterns (see rm_pair_table in
 * include/rmens/eval/metrics.h).
 *
 * For a response pair (u, v) in golden order (golden[u] <= golden[v]) and a subset of k
 * members, rm_pair_subset_stats needs g, l, q: the members preferring v, preferring u,
 * tying them; and whether the subset's mean orders the pair as golden does. g, l, q only
 * depend on the pair's sign pattern over all E members: P (bit m: member m prefers v) and
 * T (bit m: member m ties). Pairs without ties (T = 0, nearly all of them for real-valued
 * scores) are counted per pattern P: how many there are, how many have distinct golden
 * rewards, and, for those, per subset (column) how many the subset's reference orders
 * correctly. That last count is one vector add of 0/1 per column, a row of 64 counters
 * per pair instead of 64 separate popcounts, level computations and histogram updates.
 * Per prompt, the 2^E pattern rows are then turned into each column's histograms. */
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/eval/metrics.h"

#define LANES 16 /* responses per pattern block, columns per counter chunk */

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

int rm_pair_table_create(rm_pair_table *t, int n_members, size_t K, int n_columns, const uint64_t *masks,
                         const int *k)
{
    memset(t, 0, sizeof *t);
    if (n_members < 1 || n_members > RM_PAIR_TABLE_MAX_MEMBERS)
        return rm_errorf("pair table: %d members (supported: 1 to %d)", n_members, RM_PAIR_TABLE_MAX_MEMBERS);
    if (K < 2 || (double)K * (double)(K - 1) / 2 > 4294967295.0)
        return rm_errorf("pair table: K = %zu (pair counts must fit 32 bits)", K);
    t->n_members = n_members;
    t->n_columns = n_columns;
    t->stride = (int)round_up((size_t)(n_columns > 0 ? n_columns : 1), LANES);
    t->capacity = K;
    t->padded = round_up(K, LANES);
    size_t patterns = (size_t)1 << n_members, n_col = (size_t)(n_columns > 0 ? n_columns : 1);
    t->masks = rm_alloc(n_col, sizeof *t->masks, "pair table");
    t->k = rm_alloc(n_col, sizeof *t->k, "pair table");
    t->level_offset = rm_alloc(n_col + 1, sizeof *t->level_offset, "pair table");
    t->agreeing = rm_alloc(n_col, sizeof *t->agreeing, "pair table");
    t->reference = rm_calloc(K * (size_t)t->stride, sizeof *t->reference, "pair table"); /* padding columns stay 0 */
    t->by_golden = rm_calloc((size_t)n_members * t->padded, sizeof *t->by_golden, "pair table");
    t->run_end = rm_alloc(K, sizeof *t->run_end, "pair table");
    t->count_all = rm_calloc(patterns, sizeof *t->count_all, "pair table");
    t->count_counted = rm_calloc(patterns, sizeof *t->count_counted, "pair table");
    t->right_rows = rm_calloc(patterns * RM_PAIR_TABLE_GROUP, sizeof *t->right_rows, "pair table");
    int ok = t->masks && t->k && t->level_offset && t->agreeing && t->reference && t->by_golden && t->run_end &&
             t->count_all && t->count_counted && t->right_rows;
    if (ok) {
        t->level_offset[0] = 0;
        for (int c = 0; c < n_columns; c++) {
            if (k[c] < 2 || k[c] > n_members || (masks[c] >> n_members) != 0 || __builtin_popcountll(masks[c]) != k[c]) {
                rm_pair_table_free(t);
                return rm_errorf("pair table: column %d is not a subset of >= 2 of the %d members", c, n_members);
            }
            t->masks[c] = (uint32_t)masks[c];
            t->k[c] = k[c];
            t->level_offset[c + 1] = t->level_offset[c] + (size_t)k[c] * (size_t)(k[c] - 1) / 2 + 1;
        }
        size_t levels = t->level_offset[n_columns] > 0 ? t->level_offset[n_columns] : 1;
        t->wrong = rm_alloc(levels, sizeof *t->wrong, "pair table");
        t->right = rm_alloc(levels, sizeof *t->right, "pair table");
        ok = t->wrong && t->right;
    }
    if (!ok) {
        rm_pair_table_free(t);
        return rm_error_context("pair statistics table for %d members, K = %zu, %d subsets", n_members, K, n_columns);
    }
    return 0;
}

void rm_pair_table_free(rm_pair_table *t)
{
    free(t->masks);
    free(t->k);
    free(t->level_offset);
    free(t->agreeing);
    free(t->reference);
    free(t->by_golden);
    free(t->run_end);
    free(t->count_all);
    free(t->count_counted);
    free(t->right_rows);
    free(t->wrong);
    free(t->right);
    memset(t, 0, sizeof *t);
}

void rm_pair_table_reference(rm_pair_table *t, int column, const int32_t *dense, const rm_golden_sorted *g)
{
    for (size_t r = 0; r < g->n; r++) t->reference[g->position[r] * (size_t)t->stride + (size_t)column] = dense[r];
}

static inline int64_t pairs_of(int64_t n) { return n * (n - 1) / 2; }

/* A pair that some member ties (T != 0): counted for each column of the group directly,
 * as rm_pair_subset_stats does. */
static void tie_pair(rm_pair_table *t, int c0, int c1, uint32_t P, uint32_t T, int counted, const int32_t *ru,
                     const int32_t *rv)
{
    for (int c = c0; c < c1; c++) {
        int k = t->k[c], g = __builtin_popcount(P & t->masks[c]), q = __builtin_popcount(T & t->masks[c]);
        int64_t agreeing = pairs_of(g) + pairs_of(k - g - q) + pairs_of(q);
        t->agreeing[c] += agreeing;
        if (!counted) continue;
        size_t level = t->level_offset[c] + (size_t)(pairs_of(k) - agreeing);
        if (rv[c] > ru[c]) t->right[level]++;
        else t->wrong[level]++;
    }
}

/* Turn the pattern rows of columns [c0, c1) into their histograms, and clear the rows. */
static void finish_group(rm_pair_table *t, int c0, int c1)
{
    size_t patterns = (size_t)1 << t->n_members;
    for (size_t P = 0; P < patterns; P++) {
        uint32_t all = t->count_all[P], counted = t->count_counted[P];
        if (all == 0) continue;
        uint32_t *row = t->right_rows + P * RM_PAIR_TABLE_GROUP;
        for (int c = c0; c < c1; c++) {
            int k = t->k[c], g = __builtin_popcount((uint32_t)P & t->masks[c]);
            int64_t agreeing = pairs_of(g) + pairs_of(k - g); /* no ties: q = 0 */
            t->agreeing[c] += (int64_t)all * agreeing;
            size_t level = t->level_offset[c] + (size_t)(pairs_of(k) - agreeing);
            t->right[level] += row[c - c0];
            t->wrong[level] += (int64_t)counted - row[c - c0];
        }
        t->count_all[P] = t->count_counted[P] = 0;
        memset(row, 0, (size_t)(c1 - c0) * sizeof *row);
    }
}

/* row[c] += 1 where column c's reference orders the pair correctly (v above u). restrict:
 * uint32_t and int32_t may alias, and GCC's -O2 vectoriser will not add a runtime check. */
static inline void add_correct(uint32_t *restrict row, const int32_t *restrict rv, const int32_t *restrict ru, int width)
{
    for (int cb = 0; cb < width; cb += LANES)
        for (int l = 0; l < LANES; l++) row[cb + l] += (uint32_t)(rv[cb + l] > ru[cb + l]);
}

/* One pass over all pairs for the columns [c0, c0 + width) (width a multiple of LANES). */
static void run_group(rm_pair_table *t, size_t K, int c0, int width)
{
    int E = t->n_members, c1 = c0 + width < t->n_columns ? c0 + width : t->n_columns;
    size_t stride = (size_t)t->stride, padded = t->padded;
    for (size_t u = 0; u + 1 < K; u++) {
        const int32_t *ru = t->reference + u * stride + (size_t)c0;
        for (size_t vb = (u + 1) / LANES * LANES; vb < K; vb += LANES) {
            /* sign patterns of the pairs (u, vb..vb+15): fixed-width loops vectorise */
            uint32_t P[LANES] = {0}, T[LANES] = {0};
            for (int m = 0; m < E; m++) {
                const float *zm = t->by_golden + (size_t)m * padded + vb, a = t->by_golden[(size_t)m * padded + u];
                for (int l = 0; l < LANES; l++) {
                    P[l] |= (uint32_t)(zm[l] > a) << m;
                    T[l] |= (uint32_t)(zm[l] == a) << m;
                }
            }
            size_t v0 = vb > u ? vb : u + 1, v1 = vb + LANES < K ? vb + LANES : K;
            for (size_t v = v0; v < v1; v++) {
                const int32_t *rv = t->reference + v * stride + (size_t)c0;
                uint32_t p = P[v - vb], q = T[v - vb];
                int counted = v >= t->run_end[u];
                if (q) {
                    tie_pair(t, c0, c1, p, q, counted, ru - c0, rv - c0);
                    continue;
                }
                t->count_all[p]++;
                if (!counted) continue;
                t->count_counted[p]++;
                add_correct(t->right_rows + (size_t)p * RM_PAIR_TABLE_GROUP, rv, ru, width);
            }
        }
    }
    finish_group(t, c0, c1);
}

void rm_pair_table_run(rm_pair_table *t, const float *z, size_t member_stride, const rm_golden_sorted *g)
{
    size_t K = g->n;
    for (int m = 0; m < t->n_members; m++)
        for (size_t u = 0; u < K; u++) t->by_golden[(size_t)m * t->padded + u] = z[(size_t)m * member_stride + g->order[u]];
    /* golden rewards ascend along the order: a run of equal ones ends where it changes */
    for (size_t u = K; u-- > 0;) {
        double gu = g->golden[g->order[u]];
        t->run_end[u] = u + 1 < K && g->golden[g->order[u + 1]] == gu ? t->run_end[u + 1] : u + 1;
    }
    memset(t->agreeing, 0, (size_t)(t->n_columns > 0 ? t->n_columns : 1) * sizeof *t->agreeing);
    size_t levels = t->level_offset[t->n_columns];
    memset(t->wrong, 0, levels * sizeof *t->wrong);
    memset(t->right, 0, levels * sizeof *t->right);
    for (int c0 = 0; c0 < t->n_columns; c0 += RM_PAIR_TABLE_GROUP) {
        int width = t->stride - c0 < RM_PAIR_TABLE_GROUP ? t->stride - c0 : RM_PAIR_TABLE_GROUP;
        run_group(t, K, c0, width);
    }
}
