/* The evaluation statistics against the old implementation kept verbatim as the oracle
 * (stats_oracle.c): on random data with frequent ties (integer-valued and coarsely rounded
 * scores and golden rewards), for many K (1, 2, 3, 17, 500, ...), member counts (1 to 70:
 * the pattern table up to 12 members, pair masks beyond, two mask words at 70) and subsets.
 * Every figure must agree to 1e-12, and in fact bit for bit; blocks accumulated over 1, 2
 * and 3 threads must be bitwise identical to one thread. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "../common/settings.h"
#include "rmens/base/common.h"
#include "rmens/base/config.h"
#include "rmens/eval/eval_accumulate.h"
#include "rmens/eval/eval_calibration.h"
#include "rmens/eval/eval_figures.h"
#include "rmens/eval/eval_plan.h"
#include "rmens/eval/eval_results.h"
#include "rmens/eval/eval_score.h"
#include "rmens/model/model.h"
#include "rmens/base/rng.h"
#include "stats_oracle.h"

#define STREAM 1515

static size_t bitwise_differences; /* values equal to 1e-12 but not bit for bit */

/* Equal to 1e-12 (relative above 1), and counted when not bitwise equal; NaN equals NaN. */
static void check_same(double got, double want, const char *what, size_t where)
{
    if (isnan(got) && isnan(want)) return;
    if (got == want && signbit(got) == signbit(want)) return;
    double tol = 1e-12 * (fabs(want) > 1.0 ? fabs(want) : 1.0);
    if (!(fabs(got - want) <= tol)) {
        fprintf(stderr, "%s[%zu]: %.17g, oracle %.17g\n", what, where, got, want);
        check_failures++;
    }
    if (got != want) bitwise_differences++;
}

/* Random values of one of several kinds: kind 0 continuous, 1 coarse grid, 2 small
 * integers (many ties), 3 two values only, 4 all equal. */
static double random_value(uint64_t seed, uint64_t index, int kind)
{
    double u = rm_rand_normal(seed, STREAM, index);
    switch (kind) {
    case 0: return u;
    case 1: return 0.125 * floor(8 * u);
    case 2: return floor(2 * u);
    case 3: return u > 0 ? 1.0 : -0.5;
    default: return 0.75;
    }
}

/* The library's sort (a radix sort from 64 values) against the old merge sort: orders and
 * ranks, with ties, -0 beside +0, infinities, and NaN (where the old sort is used). */
static void test_sort(void)
{
    enum { MAXK = 600 };
    static double v[MAXK], ranks[MAXK], oracle_ranks[MAXK];
    static size_t order[MAXK], oracle_order[MAXK];
    size_t Ks[] = {1, 2, 3, 17, 63, 64, 65, 200, 500, 599};
    rm_metric_scratch s;
    oracle_scratch os;
    CHECK(rm_metric_scratch_create(&s, MAXK) == 0 && oracle_metric_scratch_create(&os, MAXK) == 0);
    for (size_t a = 0; a < sizeof Ks / sizeof Ks[0]; a++)
        for (int trial = 0; trial < 20; trial++) {
            size_t K = Ks[a];
            for (size_t r = 0; r < K; r++) {
                v[r] = random_value(300 + a * 100 + (uint64_t)trial, r, trial % 5);
                if (trial >= 5 && r % 7 == 3) v[r] = r % 2 ? -0.0 : 0.0;
                if (trial >= 8 && r % 11 == 5) v[r] = r % 2 ? INFINITY : -INFINITY;
                if (trial >= 10 && (float)v[r] != v[r]) v[r] = (float)v[r]; /* low mantissa bytes zero */
                if (trial >= 13 && trial < 16 && r == K / 2) v[r] = NAN;
                /* values that differ only below the high 32 bits of the radix key, in runs of
                 * K / 7 (up to 85: sorted by insertion up to 32, by all 8 bytes beyond), with
                 * repeats */
                if (trial >= 16) v[r] = (double)(r % 7) + ldexp(floor(8 * random_value(trial, r, 0)), -36);
            }
            rm_sort_order(v, K, order, &s);
            oracle_sort_order(v, K, oracle_order, &os);
            CHECK(memcmp(order, oracle_order, K * sizeof *order) == 0);
            rm_average_ranks(v, K, ranks, &s);
            oracle_average_ranks(v, K, oracle_ranks, &os);
            CHECK(memcmp(ranks, oracle_ranks, K * sizeof *ranks) == 0);
        }
    rm_metric_scratch_free(&s);
    oracle_metric_scratch_free(&os);
}

/* rm_pearson_ranks against the oracle's Pearson of the same average ranks, bit for bit:
 * ties of every kind, K below, at and above multiples of its 8 lanes. */
static void test_pearson_ranks(void)
{
    enum { MAXK = 1100 };
    static double x[MAXK], y[MAXK], rx[MAXK], ry[MAXK];
    size_t Ks[] = {1, 2, 3, 7, 8, 9, 17, 64, 500, 1023};
    rm_metric_scratch s;
    CHECK(rm_metric_scratch_create(&s, MAXK) == 0);
    for (size_t a = 0; a < sizeof Ks / sizeof Ks[0]; a++)
        for (int trial = 0; trial < 25; trial++) {
            size_t K = Ks[a];
            for (size_t r = 0; r < K; r++) {
                x[r] = random_value(700 + a * 100 + (uint64_t)trial, r, trial % 5);
                y[r] = random_value(900 + a * 100 + (uint64_t)trial, r, (trial / 5) % 5);
                if (trial % 7 == 6) y[r] = x[r] + 0.5 * y[r]; /* correlated */
            }
            rm_average_ranks(x, K, rx, &s);
            rm_average_ranks(y, K, ry, &s);
            check_same(rm_pearson_ranks(rx, ry, K), oracle_pearson(rx, ry, K), "pearson of ranks", K);
            check_same(rm_pearson_ranks(rx, rx, K), oracle_pearson(rx, rx, K), "pearson of ranks", K);
        }
    rm_metric_scratch_free(&s);
}

/* The figures the oracle predates: the proxy best-of-n against the oracle's expectation
 * over the score itself (oracle_golden_by_score(score, score): the scores in order, tied
 * blocks averaged, which may round differently from the tie's own value: to 1e-12), and
 * the best-of-K pick's quantile and above-median share by brute force over the tied top. */
static void check_proxy_and_pick(const double *score, const double *golden, size_t K, const size_t *n_use, int n_bon,
                                 const double *proxy, const rm_score_figures *f, oracle_scratch *os)
{
    static double sorted_score[1600];
    oracle_golden_by_score(score, score, K, sorted_score, os);
    for (int j = 0; j < n_bon; j++) {
        double *win = os->values[2];
        oracle_bon_win_probabilities(K, n_use[j], win);
        CHECK_CLOSE(proxy[j], oracle_bon_expected(win, sorted_score, K), 1e-12 * (1 + fabs(proxy[j])));
    }
    double top = score[0], sorted_golden[1600], quantile = 0, above = 0, ties = 0;
    for (size_t r = 1; r < K; r++) top = score[r] > top ? score[r] : top;
    for (size_t r = 0; r < K; r++) sorted_golden[r] = golden[r];
    for (size_t i = 1; i < K; i++) /* insertion sort: the median as numpy takes it */
        for (size_t j = i; j > 0 && sorted_golden[j - 1] > sorted_golden[j]; j--) {
            double t = sorted_golden[j];
            sorted_golden[j] = sorted_golden[j - 1];
            sorted_golden[j - 1] = t;
        }
    double median = (sorted_golden[(K - 1) / 2] + sorted_golden[K / 2]) / 2;
    for (size_t r = 0; r < K; r++) {
        if (score[r] != top) continue;
        double at_or_below = 0;
        for (size_t q = 0; q < K; q++) at_or_below += golden[q] <= golden[r];
        quantile += at_or_below / (double)K;
        above += golden[r] > median;
        ties++;
    }
    CHECK_CLOSE(f->pick_quantile, quantile / ties, 1e-12);
    CHECK_CLOSE(f->above_median, above / ties, 1e-12);
}

/* rm_golden_sorted and rm_score_figures_compute against the separate oracle functions. */
static void test_score_figures(void)
{
    enum { MAXK = 1600 };
    static double golden[MAXK], score[MAXK], ranks[MAXK], oracle_ranks[MAXK], by_score[MAXK], bon[4], proxy[4];
    static int32_t dense[MAXK];
    size_t Ks[] = {1, 2, 3, 4, 5, 16, 17, 33, 63, 64, 100, 500, 599, 1023, 1024, 1500}; /* 1024 on: Fenwick tree */
    size_t ns[] = {1, 2, 5, 500};
    rm_metric_scratch s;
    oracle_scratch os;
    rm_golden_sorted g;
    CHECK(rm_metric_scratch_create(&s, MAXK) == 0 && oracle_metric_scratch_create(&os, MAXK) == 0);
    CHECK(rm_golden_sorted_create(&g, MAXK) == 0);
    for (size_t a = 0; a < sizeof Ks / sizeof Ks[0]; a++)
        for (int trial = 0; trial < 25; trial++) {
            size_t K = Ks[a];
            uint64_t seed = 100 + a * 1000 + (uint64_t)trial;
            for (size_t r = 0; r < K; r++) {
                golden[r] = random_value(seed, r, trial % 5);
                score[r] = random_value(seed + 50000, r, (trial / 5) % 5);
            }
            size_t n_use[4];
            int n_bon = 0;
            for (int j = 0; j < 4; j++)
                if (ns[j] <= K) n_use[n_bon++] = ns[j];
            rm_bon_table table;
            CHECK(rm_bon_table_create(&table, K, n_use, n_bon) == 0);
            rm_golden_sorted_set(&g, golden, K, &s);
            /* the golden side: ranks and the oracle's best-of-n order */
            oracle_average_ranks(golden, K, oracle_ranks, &os);
            oracle_golden_by_score(golden, golden, K, by_score, &os);
            for (size_t r = 0; r < K; r++) {
                check_same(g.ranks[r], oracle_ranks[r], "golden ranks", r);
                check_same(g.by_golden[r], by_score[r], "golden by golden", r);
            }
            rm_score_figures f;
            rm_score_figures_compute(score, &g, &table, bon, proxy, ranks, dense, &f, &s);
            oracle_golden_by_score(score, golden, K, by_score, &os);
            for (int j = 0; j < n_bon; j++) {
                double *win = os.values[2];
                oracle_bon_win_probabilities(K, n_use[j], win);
                check_same(bon[j], oracle_bon_expected(win, by_score, K), "bon", (size_t)j);
            }
            check_proxy_and_pick(score, golden, K, n_use, n_bon, proxy, &f, &os);
            oracle_average_ranks(score, K, oracle_ranks, &os);
            for (size_t r = 0; r < K; r++) check_same(ranks[r], oracle_ranks[r], "score ranks", r);
            oracle_average_ranks(golden, K, by_score, &os);
            check_same(f.spearman, oracle_pearson(oracle_ranks, by_score, K), "spearman", K);
            check_same(f.spearman, oracle_spearman(score, golden, K, &os), "spearman", K);
            int64_t twice = 0, valid = oracle_pair_accuracy_counts(score, golden, K, &twice, &os);
            CHECK(f.valid == valid && f.twice_correct == twice);
            /* dense ranks keep the strict order and the ties of the score */
            for (size_t i = 0; i + 1 < K; i++) {
                CHECK((score[i] < score[i + 1]) == (dense[i] < dense[i + 1]));
                CHECK((score[i] == score[i + 1]) == (dense[i] == dense[i + 1]));
            }
            rm_bon_table_free(&table);
        }
    rm_golden_sorted_free(&g);
    rm_metric_scratch_free(&s);
    oracle_metric_scratch_free(&os);
}

/* Member scores of one prompt: members are noisy copies of a shared signal, on the value
 * grid of `kind` so that members tie each other and themselves. */
static void random_prompt(uint64_t seed, int E, size_t K, size_t stride, int kind, float *z, float *golden)
{
    for (size_t r = 0; r < K; r++) {
        double signal = rm_rand_normal(seed, STREAM + 1, r);
        golden[r] = (float)random_value(seed + 7, r, kind == 0 ? 0 : 2);
        for (int m = 0; m < E; m++) {
            double noise = rm_rand_normal(seed + 11 + (uint64_t)m, STREAM + 2, r);
            double v = signal + (kind == 3 ? 0.0 : 0.8 * noise);
            z[(size_t)m * stride + r] = (float)(kind == 0 ? v : kind == 1 ? 0.25 * floor(4 * v) : floor(v));
        }
    }
}

/* rm_pair_table against oracle_pair_masks + oracle_pair_subset_stats per column. */
static void test_pair_table(void)
{
    int Es[] = {2, 3, 5, 10, 12};
    size_t Ks[] = {2, 3, 17, 40, 129};
    for (size_t ei = 0; ei < sizeof Es / sizeof Es[0]; ei++)
        for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++)
            for (int kind = 0; kind < 4; kind++) {
                int E = Es[ei], n_columns = E == 10 ? 70 : 9; /* 70: two groups of columns */
                size_t K = Ks[ki], n_pairs = K * (K - 1) / 2;
                uint64_t seed = 9000 + 100 * ei + 10 * ki + (uint64_t)kind;
                float *z = malloc((size_t)E * K * sizeof(float)), *goldenf = malloc(K * sizeof(float));
                double *golden = malloc(K * sizeof(double)), *reference = malloc(K * sizeof(double));
                uint64_t *gt = malloc(n_pairs * sizeof(uint64_t)), *eq = malloc(n_pairs * sizeof(uint64_t));
                uint64_t masks[70];
                int ks[70];
                int32_t *dense = malloc(K * sizeof(int32_t));
                random_prompt(seed, E, K, K, kind, z, goldenf);
                for (size_t r = 0; r < K; r++) golden[r] = goldenf[r];
                uint64_t draw = 0;
                for (int c = 0; c < n_columns; c++) { /* random subsets of >= 2 members */
                    do masks[c] = rm_rand_below(seed, STREAM + 3, draw++, (uint64_t)1 << E);
                    while (__builtin_popcountll(masks[c]) < 2);
                    ks[c] = __builtin_popcountll(masks[c]);
                }
                rm_pair_table t;
                rm_metric_scratch s;
                rm_golden_sorted g;
                CHECK(rm_pair_table_create(&t, E, K, n_columns, masks, ks) == 0);
                CHECK(rm_metric_scratch_create(&s, K) == 0 && rm_golden_sorted_create(&g, K) == 0);
                rm_golden_sorted_set(&g, golden, K, &s);
                double *refs = malloc((size_t)n_columns * K * sizeof(double));
                for (int c = 0; c < n_columns; c++) { /* reference: the subset's mean, or coarse values */
                    int members[12], k = 0;
                    for (int m = 0; m < E; m++)
                        if (masks[c] >> m & 1) members[k++] = m;
                    double sb[12];
                    rm_aggregate(z, K, members, k, K, RM_AGG_MEAN, 0, refs + (size_t)c * K, sb);
                    if (c % 3 == 2)
                        for (size_t r = 0; r < K; r++) refs[(size_t)c * K + r] = floor(refs[(size_t)c * K + r]);
                    rm_bon_table none = {0};
                    rm_score_figures f;
                    rm_score_figures_compute(refs + (size_t)c * K, &g, &none, NULL, NULL, reference, dense, &f, &s);
                    rm_pair_table_reference(&t, c, dense, &g);
                }
                rm_pair_table_run(&t, z, K, &g);
                oracle_pair_masks(z, K, E, K, gt, eq);
                for (int c = 0; c < n_columns; c++) {
                    double wrong[67] = {0}, right[67] = {0}, agreeing = 0;
                    oracle_pair_subset_stats(gt, eq, 1, K, &masks[c], ks[c], refs + (size_t)c * K, golden, wrong, right,
                                             &agreeing);
                    CHECK((double)t.agreeing[c] == agreeing);
                    size_t levels = t.level_offset[c + 1] - t.level_offset[c];
                    CHECK(levels == (size_t)(ks[c] * (ks[c] - 1) / 2 + 1));
                    for (size_t l = 0; l < levels; l++) {
                        CHECK((double)t.wrong[t.level_offset[c] + l] == wrong[l]);
                        CHECK((double)t.right[t.level_offset[c] + l] == right[l]);
                    }
                }
                rm_pair_table_free(&t);
                rm_metric_scratch_free(&s);
                rm_golden_sorted_free(&g);
                free(z), free(goldenf), free(golden), free(reference), free(gt), free(eq), free(dense), free(refs);
            }
}

/* Whether the oracle fills slot i: every slot but the aggregators' figures it predates
 * (proxy best-of-n, pick quantile, above median: each aggregator's slots from 2 n_bon + 4)
 * and the calibration slots. */
static int oracle_fills(const rm_eval_plan *p, size_t i)
{
    if (p->calibration.n_pairs > 0 && i >= p->calibration.offset) return 0;
    for (int s = 0; s < p->n_subsets; s++) {
        const rm_eval_subset *sub = &p->subsets[s];
        size_t aggregators_end = sub->offset + (size_t)sub->n_aggregators * p->aggregator_slots;
        if (i >= sub->offset && i < aggregators_end)
            return (i - sub->offset) % p->aggregator_slots < 2 * (size_t)p->n_bon + 4;
    }
    return 1;
}

/* One configuration: N prompts accumulated by the library and by the oracle into one
 * slot vector each; then the same prompts over 1, 2, 3 threads into blocks. */
static void check_plan(int E, size_t K, const char **sets, int n_sets, int kind)
{
    rm_settings cfg;
    if (test_settings_load(&cfg, sets, n_sets, NULL, 0) != 0) {
        check_failures++;
        return;
    }
    rm_eval_plan plan;
    rm_eval_work work;
    oracle_work ow;
    CHECK(rm_eval_plan_create(&plan, &cfg, E, K) == 0);
    /* calibration pairs too, so that the thread-count identity below covers them */
    enum { N = 11 };
    double *scales = malloc((size_t)E * sizeof(double));
    for (int m = 0; m < E; m++) scales[m] = 0.5 + 0.25 * (m % 5);
    cfg.eval_calibration_pairs = 40 * N;
    CHECK(rm_eval_plan_calibration(&plan, &cfg, N, 1.0, scales) == 0);
    free(scales);
    CHECK(rm_eval_work_create(&work, &plan) == 0 && oracle_eval_work_create(&ow, &plan) == 0);
    size_t stride = N * K; /* members of the whole piece, as rmens eval lays them out */
    float *z = malloc((size_t)E * stride * sizeof(float)), *golden = malloc(N * K * sizeof(float));
    for (int q = 0; q < N; q++)
        random_prompt(77 + (uint64_t)q * 13 + (uint64_t)E * 1000 + K, E, K, stride, (kind + q) % 4, z + (size_t)q * K,
                      golden + (size_t)q * K);
    double *mine = calloc(plan.n_slots, sizeof(double)), *oracle = calloc(plan.n_slots, sizeof(double));
    for (int q = 0; q < N; q++) {
        rm_eval_accumulate_prompt(&plan, &work, z + (size_t)q * K, stride, golden + (size_t)q * K, (size_t)q, mine);
        oracle_eval_accumulate_prompt(&plan, &ow, z + (size_t)q * K, stride, golden + (size_t)q * K, oracle);
    }
    size_t before = bitwise_differences;
    size_t compared = 0;
    for (size_t i = 0; i < plan.n_slots; i++)
        if (oracle_fills(&plan, i)) {
            check_same(mine[i], oracle[i], "slot", i);
            compared++;
        } else {
            CHECK(oracle[i] == 0.0); /* the oracle never writes the newer slots */
        }
    if (bitwise_differences != before)
        fprintf(stderr, "E = %d, K = %zu: %zu slots differ in their last bits\n", E, K, bitwise_differences - before);

    /* prompts 3..N over the threads into blocks (first block 0), against one by one */
    size_t q0 = 3, n_blocks = (N + RM_EVAL_BLOCK_PROMPTS - 1) / RM_EVAL_BLOCK_PROMPTS;
    double *serial = calloc(n_blocks * plan.n_slots, sizeof(double)), *threaded = malloc(n_blocks * plan.n_slots * sizeof(double));
    for (size_t q = q0; q < N; q++)
        rm_eval_accumulate_prompt(&plan, &work, z + q * K, stride, golden + q * K, q,
                                  serial + q / RM_EVAL_BLOCK_PROMPTS * plan.n_slots);
    for (int threads = 1; threads <= 3; threads++) {
        rm_eval_team team;
        rm_mlp_set_threads(threads);
        CHECK(rm_eval_team_create(&team, &plan, threads) == 0);
        memset(threaded, 0, n_blocks * plan.n_slots * sizeof(double));
        rm_eval_accumulate_prompts(&plan, &team, z + q0 * K, stride, golden + q0 * K, q0, N, 0, threaded);
        CHECK(memcmp(serial, threaded, n_blocks * plan.n_slots * sizeof(double)) == 0);
        rm_eval_team_free(&team);
    }
    rm_mlp_set_threads(1);
    printf("E = %2d, K = %3zu, %3d subsets (%2d pair columns, %s): %zu of %zu slots against the oracle\n", E, K,
           plan.n_subsets, plan.n_pair_columns, plan.pair_table ? "pattern table" : "pair masks", compared, plan.n_slots);
    free(z), free(golden), free(mine), free(oracle), free(serial), free(threaded);
    rm_eval_work_free(&work);
    oracle_eval_work_free(&ow);
    rm_eval_plan_free(&plan);
    rm_settings_free(&cfg);
}

static void test_accumulate(void)
{
    const char *study[] = {"eval.bon_n=[1,2,5,10,30,50,100,300,500]", "eval.uwo_lambda=[0.1,0.5]",
                           "eval.ablation_sizes=[1,2,3,4,5,6,8,10]", "eval.ablation_subsets=10", "seed=3"};
    const char *defaults[] = {"eval.bon_n=[1,2,3,17,40]", "eval.uwo_lambda=[0.5,2.0]", "eval.ablation_subsets=4",
                              "seed=11"};
    const char *wide[] = {"eval.bon_n=[1,2,9]", "eval.uwo_lambda=[0.5]", "eval.ablation_sizes=[2,3,7,40,70]",
                          "eval.ablation_subsets=2", "seed=5"};
    size_t Ks[] = {2, 3, 17};
    int Es[] = {1, 2, 3, 5, 10, 12, 13};
    for (size_t a = 0; a < sizeof Ks / sizeof Ks[0]; a++)
        for (size_t b = 0; b < sizeof Es / sizeof Es[0]; b++) check_plan(Es[b], Ks[a], defaults, 4, (int)(a + b));
    check_plan(10, 500, study, 5, 0); /* the case study's shapes */
    check_plan(10, 500, study, 5, 2);
    check_plan(4, 500, defaults, 4, 1);
    check_plan(13, 60, study, 5, 1);
    check_plan(70, 23, wide, 5, 2);   /* two mask words */
}

int main(void)
{
    test_sort();
    test_pearson_ranks();
    test_score_figures();
    test_pair_table();
    test_accumulate();
    printf("%zu values equal to 1e-12 but not bitwise\n", bitwise_differences);
    CHECK(bitwise_differences == 0); /* the promise is bit for bit, not only 1e-12 */
    return check_status("test_stats_oracle");
}
