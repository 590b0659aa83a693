/* Unit tests of the evaluation metrics against brute force and Monte Carlo. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "rmens/eval/metrics.h"
#include "rmens/base/rng.h"

#define TEST_STREAM 777

/* Values on a coarse grid so that ties are frequent. */
static void random_values(double *v, size_t n, uint64_t seed, uint64_t stream, double grid)
{
    for (size_t i = 0; i < n; i++) {
        double u = rm_rand_normal(seed, stream, i);
        v[i] = grid > 0 ? grid * floor(u / grid) : u;
    }
}

/* Expected golden reward of best-of-n by enumerating every n-subset of K; ties in the
 * maximum score share (mean golden reward of the tied maxima). */
static double brute_force_bon(const double *score, const double *golden, int K, int n)
{
    double total = 0.0;
    long long subsets = 0;
    for (unsigned mask = 0; mask < (1u << K); mask++) {
        if (__builtin_popcount(mask) != n) continue;
        double best = -INFINITY;
        for (int i = 0; i < K; i++)
            if ((mask >> i & 1) && score[i] > best) best = score[i];
        double sum = 0.0;
        int ties = 0;
        for (int i = 0; i < K; i++)
            if ((mask >> i & 1) && score[i] == best) {
                sum += golden[i];
                ties++;
            }
        total += sum / ties;
        subsets++;
    }
    return total / (double)subsets;
}

static void test_bon_brute_force(rm_metric_scratch *s)
{
    double score[12], golden[12];
    for (int trial = 0; trial < 40; trial++) {
        int K = 1 + trial % 11;
        random_values(score, (size_t)K, 11 + (uint64_t)trial, TEST_STREAM, trial % 2 ? 0.5 : 0.0);
        random_values(golden, (size_t)K, 500 + (uint64_t)trial, TEST_STREAM, trial % 3 ? 0.0 : 1.0);
        for (int n = 1; n <= K; n++) {
            double exact = rm_best_of_n(score, golden, (size_t)K, (size_t)n, s);
            CHECK_CLOSE(exact, brute_force_bon(score, golden, K, n), 1e-12);
        }
    }
    /* all scores tied: every n gives the mean golden reward */
    double flat[6] = {1, 1, 1, 1, 1, 1}, g[6] = {0, 1, 2, 3, 4, 5};
    for (int n = 1; n <= 6; n++) CHECK_CLOSE(rm_best_of_n(flat, g, 6, (size_t)n, s), 2.5, 1e-12);
    /* best-of-K is the golden reward of the top-scored response; best-of-1 the mean */
    double sc[4] = {0.1, 3.0, -2.0, 0.5}, gd[4] = {1.0, 7.0, 2.0, 4.0};
    CHECK_CLOSE(rm_best_of_n(sc, gd, 4, 4, s), 7.0, 1e-15);
    CHECK_CLOSE(rm_best_of_n(sc, gd, 4, 1, s), 3.5, 1e-15);
}

static void test_win_probabilities(void)
{
    static double win[5000];
    size_t Ks[] = {1, 2, 7, 500, 5000};
    for (size_t a = 0; a < sizeof Ks / sizeof Ks[0]; a++) {
        size_t K = Ks[a];
        size_t ns[] = {1, 2, 3, 30, 499, K};
        for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++) {
            size_t n = ns[b];
            if (n > K) continue;
            rm_bon_win_probabilities(K, n, win);
            double sum = 0.0;
            int monotone = 1;
            for (size_t i = 0; i < K; i++) {
                sum += win[i];
                if (i && win[i] < win[i - 1]) monotone = 0;
                if (i + 1 < n && win[i] != 0.0) monotone = 0;
            }
            CHECK_CLOSE(sum, 1.0, 1e-12);
            CHECK(monotone);
            /* against lgamma for a middle position */
            size_t i = K - 1 - K / 3;
            if (i + 1 >= n) {
                double lw = lgamma((double)i + 1) - lgamma((double)n) - lgamma((double)(i - n + 2)) -
                            (lgamma((double)K + 1) - lgamma((double)n + 1) - lgamma((double)(K - n + 1)));
                CHECK_CLOSE(win[i], exp(lw), 1e-10 * exp(lw) + 1e-300);
            }
        }
    }
    CHECK_CLOSE(rm_bon_kl(1), 0.0, 0);
    CHECK_CLOSE(rm_bon_kl(10), log(10.0) - 0.9, 1e-15);
}

/* Best-of-n at K = 500 against Monte Carlo: within 4 standard errors. */
static void test_bon_monte_carlo(rm_metric_scratch *s)
{
    enum { K = 500, TRIALS = 20000 };
    static double score[K], golden[K];
    static uint32_t pool[K];
    for (int i = 0; i < K; i++) {
        golden[i] = rm_rand_normal(3, TEST_STREAM, (uint64_t)i);
        score[i] = golden[i] + 0.7 * rm_rand_normal(4, TEST_STREAM, (uint64_t)i); /* a noisy reward model */
    }
    size_t ns[] = {2, 10, 100, 400};
    for (size_t a = 0; a < 4; a++) {
        size_t n = ns[a];
        double sum = 0.0, sum2 = 0.0;
        uint64_t draw = 0;
        for (int t = 0; t < TRIALS; t++) {
            for (int i = 0; i < K; i++) pool[i] = (uint32_t)i;
            int best = -1;
            for (size_t j = 0; j < n; j++) { /* partial Fisher-Yates: n distinct responses */
                size_t pick = j + (size_t)rm_rand_below(5 + n, TEST_STREAM, draw++, (uint64_t)(K - j));
                uint32_t tmp = pool[j];
                pool[j] = pool[pick];
                pool[pick] = tmp;
                if (best < 0 || score[pool[j]] > score[best]) best = (int)pool[j];
            }
            sum += golden[best];
            sum2 += golden[best] * golden[best];
        }
        double mean = sum / TRIALS, se = sqrt((sum2 / TRIALS - mean * mean) / TRIALS);
        double exact = rm_best_of_n(score, golden, K, n, s);
        if (fabs(exact - mean) > 4 * se)
            fprintf(stderr, "best-of-%zu: exact %.6f, Monte Carlo %.6f +- %.6f\n", n, exact, mean, se);
        CHECK(fabs(exact - mean) <= 4 * se);
    }
}

static void brute_pair_counts(const double *x, const double *y, size_t n, rm_pair_counts *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            c->pairs++;
            int tx = x[i] == x[j], ty = y[i] == y[j];
            c->x_ties += tx;
            c->y_ties += ty;
            c->joint_ties += tx && ty;
            c->discordant += (x[i] - x[j]) * (y[i] - y[j]) < 0;
        }
}

static void test_pairs(rm_metric_scratch *s)
{
    double x[300], y[300];
    for (int trial = 0; trial < 60; trial++) {
        size_t n = 1 + (size_t)(trial * 37 % 300);
        random_values(x, n, 900 + (uint64_t)trial, TEST_STREAM, trial % 2 ? 0.25 : 0.0);
        random_values(y, n, 1900 + (uint64_t)trial, TEST_STREAM, trial % 3 ? 0.5 : 0.0);
        if (trial % 5 == 0) /* correlated */
            for (size_t i = 0; i < n; i++) y[i] = floor(4 * x[i]) + (trial % 10 ? 0.0 : y[i]);
        rm_pair_counts fast, slow;
        rm_count_pairs(x, y, n, &fast, s);
        brute_pair_counts(x, y, n, &slow);
        CHECK(fast.pairs == slow.pairs && fast.x_ties == slow.x_ties && fast.y_ties == slow.y_ties &&
              fast.joint_ties == slow.joint_ties && fast.discordant == slow.discordant);
        /* pairwise accuracy: golden = x, score = y */
        int64_t twice = 0, valid = rm_pair_accuracy_counts(y, x, n, &twice, s);
        double brute_correct = 0.0;
        int64_t brute_valid = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++) {
                if (x[i] == x[j]) continue;
                brute_valid++;
                if (y[i] == y[j]) brute_correct += 0.5;
                else if ((x[i] < x[j]) == (y[i] < y[j])) brute_correct += 1.0;
            }
        CHECK(valid == brute_valid);
        CHECK_CLOSE(0.5 * (double)twice, brute_correct, 0);
    }
}

static void test_spearman_auroc(rm_metric_scratch *s)
{
    double a[5] = {1, 2, 3, 4, 5}, b[5] = {10, 20, 30, 40, 50}, c[5] = {5, 4, 3, 2, 1}, d[5] = {2, 2, 2, 2, 2};
    CHECK_CLOSE(rm_spearman(a, b, 5, s), 1.0, 1e-15);
    CHECK_CLOSE(rm_spearman(a, c, 5, s), -1.0, 1e-15);
    CHECK(isnan(rm_spearman(a, d, 5, s)));
    double ties[4] = {1, 1, 2, 3}, ranks[4];
    rm_average_ranks(ties, 4, ranks, s);
    CHECK(ranks[0] == 1.5 && ranks[1] == 1.5 && ranks[2] == 3 && ranks[3] == 4);

    /* AUROC against brute force over (positive, negative) pairs, and from levels */
    double score[200];
    int label[200];
    double pos[7] = {0}, neg[7] = {0};
    for (int i = 0; i < 200; i++) {
        int level = (int)rm_rand_below(8, TEST_STREAM, (uint64_t)i, 7);
        score[i] = level;
        label[i] = rm_rand_uniform(9, TEST_STREAM, (uint64_t)i) < 0.2 + 0.1 * level;
        (label[i] ? pos : neg)[level] += 1;
    }
    double favourable = 0.0, n_pairs = 0.0;
    for (int i = 0; i < 200; i++)
        for (int j = 0; j < 200; j++)
            if (label[i] && !label[j]) {
                n_pairs += 1;
                favourable += score[i] > score[j] ? 1.0 : score[i] == score[j] ? 0.5 : 0.0;
            }
    CHECK_CLOSE(rm_auroc(score, label, 200, s), favourable / n_pairs, 1e-12);
    CHECK_CLOSE(rm_auroc_levels(pos, neg, 7), favourable / n_pairs, 1e-12);
    int none[3] = {0, 0, 0};
    CHECK(isnan(rm_auroc(score, none, 3, s)));
}

static void test_aggregators(void)
{
    /* 3 members x 2 responses */
    float z[6] = {1.0f, -1.0f, 2.0f, 0.0f, 4.0f, 3.0f};
    int all[3] = {0, 1, 2}, two[2] = {2, 0};
    double out[2], scratch[3];
    rm_aggregate(z, 2, all, 3, 2, RM_AGG_MEAN, 0, out, scratch);
    CHECK_CLOSE(out[0], 7.0 / 3, 1e-15);
    CHECK_CLOSE(out[1], 2.0 / 3, 1e-15);
    rm_aggregate(z, 2, all, 3, 2, RM_AGG_MIN, 0, out, scratch);
    CHECK(out[0] == 1.0 && out[1] == -1.0);
    rm_aggregate(z, 2, all, 3, 2, RM_AGG_MEDIAN, 0, out, scratch);
    CHECK(out[0] == 2.0 && out[1] == 0.0);
    rm_aggregate(z, 2, two, 2, 2, RM_AGG_MEDIAN, 0, out, scratch);
    CHECK(out[0] == 2.5 && out[1] == 1.0);
    rm_aggregate(z, 2, all, 3, 2, RM_AGG_UWO, 0.5, out, scratch);
    double var0 = ((1 - 7.0 / 3) * (1 - 7.0 / 3) + (2 - 7.0 / 3) * (2 - 7.0 / 3) + (4 - 7.0 / 3) * (4 - 7.0 / 3)) / 3;
    CHECK_CLOSE(out[0], 7.0 / 3 - 0.5 * var0, 1e-14);
    double sd[2];
    rm_member_std(z, 2, all, 3, 2, sd);
    CHECK_CLOSE(sd[0], sqrt(var0), 1e-14);

    /* identical members: every aggregate equals the member, the deviation is exactly 0 */
    float same[5 * 3];
    for (int m = 0; m < 5; m++)
        for (int r = 0; r < 3; r++) same[m * 3 + r] = (float)rm_rand_normal(1, TEST_STREAM, (uint64_t)r);
    int five[5] = {0, 1, 2, 3, 4};
    double agg[3], sc[5];
    for (int a = 0; a < 4; a++) {
        rm_aggregate(same, 3, five, 5, 3, (rm_aggregator)a, 0.5, agg, sc);
        for (int r = 0; r < 3; r++) CHECK(agg[r] == (double)same[r]);
    }
    rm_member_std(same, 3, five, 5, 3, agg);
    for (int r = 0; r < 3; r++) CHECK(agg[r] == 0.0);
}

/* Pair masks and subset statistics against a direct loop over members. */
static void test_pair_subset_stats(void)
{
    enum { E = 70, K = 9 }; /* 70 members: two mask words */
    static float z[E * K];
    double golden[K], reference[K];
    for (int m = 0; m < E; m++)
        for (int r = 0; r < K; r++) z[m * K + r] = (float)floor(2 * rm_rand_normal(20 + (uint64_t)m, TEST_STREAM, (uint64_t)r));
    for (int r = 0; r < K; r++) {
        golden[r] = floor(rm_rand_normal(40, TEST_STREAM, (uint64_t)r));
        reference[r] = floor(3 * rm_rand_normal(41, TEST_STREAM, (uint64_t)r));
    }
    size_t words = rm_pair_mask_words(E);
    CHECK(words == 2);
    static uint64_t gt[K * (K - 1) / 2 * 2], eq[K * (K - 1) / 2 * 2];
    rm_pair_masks(z, K, E, K, gt, eq);
    int members[] = {0, 3, 5, 63, 64, 69};
    int k = 6;
    uint64_t subset[2] = {0, 0};
    for (int i = 0; i < k; i++) subset[members[i] / 64] |= (uint64_t)1 << (members[i] % 64);
    double wrong[16] = {0}, right[16] = {0}, agreeing = 0;
    rm_pair_subset_stats(gt, eq, words, K, subset, k, reference, golden, wrong, right, &agreeing);
    double bw[16] = {0}, br[16] = {0}, bagree = 0;
    for (int i = 0; i < K; i++)
        for (int j = i + 1; j < K; j++) {
            int disagree = 0;
            for (int a = 0; a < k; a++) {
                float zi = z[members[a] * K + i], zj = z[members[a] * K + j];
                for (int b = a + 1; b < k; b++) {
                    float wi = z[members[b] * K + i], wj = z[members[b] * K + j];
                    int same = ((zi > zj) - (zi < zj)) == ((wi > wj) - (wi < wj));
                    bagree += same;
                    disagree += !same;
                }
            }
            if (golden[i] == golden[j]) continue;
            int level = disagree;
            int correct = (golden[i] - golden[j]) * (reference[i] - reference[j]) > 0;
            (correct ? br : bw)[level] += 1;
        }
    CHECK(agreeing == bagree);
    for (int l = 0; l < 16; l++) CHECK(wrong[l] == bw[l] && right[l] == br[l]);
}

int main(void)
{
    rm_metric_scratch s;
    if (rm_metric_scratch_create(&s, 5000) != 0) return 1;
    test_bon_brute_force(&s);
    test_win_probabilities();
    test_bon_monte_carlo(&s);
    test_pairs(&s);
    test_spearman_auroc(&s);
    test_aggregators();
    test_pair_subset_stats();
    rm_metric_scratch_free(&s);
    return check_status("test_metrics");
}
