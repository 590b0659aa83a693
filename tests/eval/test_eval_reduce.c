/* The evaluation reduction under a real mpirun: figures summed over blocks dealt to P
 * ranks are bitwise identical to one rank holding every block; the slot wiring agrees
 * with figures computed directly from the metrics; an ensemble of identical members has
 * agreement 1, uncertainty 0 and mean = min = median = uwo = single. */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "../common/settings.h"
#include "rmens/base/parallel.h"
#include "rmens/base/common.h"
#include "rmens/eval/eval_accumulate.h"
#include "rmens/eval/eval_calibration.h"
#include "rmens/eval/eval_figures.h"
#include "rmens/eval/eval_plan.h"
#include "rmens/eval/eval_results.h"
#include "rmens/eval/eval_score.h"
#include "rmens/base/rng.h"

enum { N = 45, K = 13, E = 5, N_BENCH = 37 };
#define STREAM 4242

/* Made-up standardised predictions of prompt p: [E][K], with ties (coarse grid). */
static void predictions(int p, int identical, float *z, float *golden)
{
    for (int r = 0; r < K; r++) {
        golden[r] = (float)floor(2 * rm_rand_normal(1, STREAM, (uint64_t)(p * K + r)));
        for (int m = 0; m < E; m++) {
            double noise = rm_rand_normal(2 + (uint64_t)(identical ? 0 : m), STREAM, (uint64_t)(p * K + r));
            z[m * K + r] = (float)(0.25 * floor(4 * (0.5 * golden[r] + noise)));
        }
    }
}

static void bench_predictions(int identical, float *zc, float *zr)
{
    for (int i = 0; i < N_BENCH; i++)
        for (int m = 0; m < E; m++) {
            zc[m * N_BENCH + i] = (float)floor(2 * rm_rand_normal(5 + (uint64_t)(identical ? 0 : m), STREAM, (uint64_t)i) + 0.5);
            zr[m * N_BENCH + i] = (float)floor(2 * rm_rand_normal(7 + (uint64_t)(identical ? 0 : m), STREAM, (uint64_t)i));
        }
}

/* Accumulate blocks [b0, b1) and bench rows [i0, i1) as rmens eval does. */
static void accumulate(const rm_eval_plan *plan, rm_eval_work *w, int identical, size_t b0, size_t b1, size_t i0,
                       size_t i1, double *blocks, int64_t *bench)
{
    static float z[E * K], golden[K], zc[E * N_BENCH], zr[E * N_BENCH];
    memset(blocks, 0, (b1 - b0) * plan->n_slots * sizeof(double));
    memset(bench, 0, plan->n_bench_counts * sizeof(int64_t));
    for (size_t b = b0; b < b1; b++)
        for (size_t p = b * RM_EVAL_BLOCK_PROMPTS; p < (b + 1) * RM_EVAL_BLOCK_PROMPTS && p < N; p++) {
            predictions((int)p, identical, z, golden);
            rm_eval_accumulate_prompt(plan, w, z, K, golden, p, blocks + (b - b0) * plan->n_slots);
        }
    bench_predictions(identical, zc, zr);
    /* this rank's bench rows, laid out [E][rows] like rmens eval's pieces */
    size_t rows = i1 - i0;
    float *c = calloc(E * (rows + 1), sizeof(float)), *r = calloc(E * (rows + 1), sizeof(float));
    for (int m = 0; m < E; m++)
        for (size_t i = 0; i < rows; i++) {
            c[m * rows + i] = zc[m * N_BENCH + i0 + i];
            r[m * rows + i] = zr[m * N_BENCH + i0 + i];
        }
    rm_eval_accumulate_bench(plan, w, c, r, rows, rows, bench);
    free(c);
    free(r);
}

/* The calibration figures recomputed pair by pair in pair-index order (not prompt by
 * prompt as the evaluation sums them): Brier and log loss of the mean's and member 2's
 * P(a over b), the share of outcomes a, and the pairs counted by disagreement. */
static void check_calibration(const rm_settings *cfg, const rm_eval_plan *plan, const rm_eval_results *res, int identical)
{
    static float z[E * K], golden[K];
    const rm_eval_calibration *c = &plan->calibration;
    double brier = 0, log_loss = 0, brier_2 = 0, positive = 0, untied = 0;
    for (uint64_t i = 0; i < c->n_pairs; i++) {
        uint64_t seed = (uint64_t)cfg->seed;
        int p = (int)rm_rand_below(seed, RM_STREAM_CALIBRATION_PAIRS, 3 * i, N);
        size_t a = rm_rand_below(seed, RM_STREAM_CALIBRATION_PAIRS, 3 * i + 1, K);
        size_t b = rm_rand_below(seed, RM_STREAM_CALIBRATION_PAIRS, 3 * i + 2, K - 1);
        b += b >= a;
        predictions(p, identical, z, golden);
        int y = rm_annotator_label(&c->annotator, i, golden[a], golden[b], NULL);
        double mean = 0, p2 = 0;
        for (int m = 0; m < E; m++) {
            double pm = 1 / (1 + exp(-((double)z[m * K + a] - (double)z[m * K + b]) * c->member_scale[m]));
            mean += pm / E;
            if (m == 2) p2 = pm;
        }
        brier += (mean - y) * (mean - y);
        brier_2 += (p2 - y) * (p2 - y);
        log_loss -= y ? log(mean) : log(1 - mean);
        positive += y;
        untied += golden[a] != golden[b];
    }
    double n = (double)c->n_pairs, counted = 0, pooled = 0, in_bins = 0;
    CHECK_CLOSE(res->calibration_mean.brier, brier / n, 1e-12);
    CHECK_CLOSE(res->calibration_mean.log_loss, log_loss / n, 1e-12);
    CHECK_CLOSE(res->calibration_member[2].brier, brier_2 / n, 1e-12);
    for (int b = 0; b < RM_CALIBRATION_BINS; b++) {
        in_bins += res->calibration_mean.count[b];
        pooled += res->calibration_single.count[b];
        if (res->calibration_mean.count[b] > 0) counted += res->calibration_mean.count[b] * res->calibration_mean.fraction_preferred[b];
    }
    CHECK(in_bins == n && pooled == E * n);
    CHECK_CLOSE(counted, positive, 1e-9);
    double dis = 0;
    for (int b = 0; b < RM_DISAGREEMENT_BINS; b++) dis += res->error_by_disagreement.count[b];
    CHECK(dis == untied);
    CHECK(res->calibration_mean.ece >= 0 && res->calibration_mean.ece <= 1);
    if (identical) { /* equal members and scales: every P_m is the mean, no disagreement */
        CHECK(res->error_by_disagreement.count[0] == untied);
        CHECK_CLOSE(res->calibration_single.brier, res->calibration_mean.brier, 1e-12);
        CHECK_CLOSE(res->calibration_single.ece, res->calibration_mean.ece, 1e-12);
    }
}

/* rm_eval_mean_std_fields on values worked by hand: NaN skipped, NaN when none is defined,
 * population deviation, no std asked for. */
static void check_mean_std_fields(void)
{
    const double in[4 * 3] = {1.0, NAN, 2.0, /* record 0 */
                              3.0, NAN, 2.0, /* record 1 */
                              NAN, NAN, 2.0, /* record 2 */
                              8.0, NAN, 2.0};
    double mean[3], std[3], mean_only[3];
    rm_eval_mean_std_fields(in, 4, 3, mean, std);
    CHECK(mean[0] == 4.0 && std[0] == sqrt(26.0 / 3.0)); /* (1-4)^2 + (3-4)^2 + (8-4)^2 = 26 over 3 values */
    CHECK(isnan(mean[1]) && isnan(std[1]));
    CHECK(mean[2] == 2.0 && std[2] == 0.0);
    rm_eval_mean_std_fields(in, 1, 3, mean_only, NULL); /* one record: itself */
    CHECK(mean_only[0] == 1.0 && isnan(mean_only[1]) && mean_only[2] == 2.0);
}

/* The ablation's spread over subsets: defined exactly where the mean is; for the whole
 * ensemble's one subset exactly 0; with identical members 0 up to the mean's rounding. */
static void check_ablation_spread(const rm_eval_plan *plan, const rm_eval_results *res, int identical)
{
    size_t fields = sizeof(rm_ensemble_figures) / sizeof(double);
    for (int i = 0; i < plan->n_sizes; i++) {
        const double *mean = (const double *)&res->ablation[i], *std = (const double *)&res->ablation_std[i];
        int one_subset = plan->size_subsets[i] == 1, positive = 0;
        for (size_t f = 0; f < fields; f++) {
            CHECK(isnan(mean[f]) == isnan(std[f]));
            if (isnan(std[f])) continue;
            CHECK(std[f] >= 0.0);
            if (one_subset) CHECK(std[f] == 0.0);
            if (identical) CHECK(std[f] <= 1e-12);
            positive += std[f] > 0.0;
        }
        /* several subsets of different members: their figures do differ */
        if (!identical && !one_subset && plan->sizes[i] >= 2) CHECK(positive > 0);
    }
}

static int run_case(MPI_Comm comm, int identical, const rm_settings *cfg)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    rm_eval_plan plan;
    rm_eval_work work;
    const double scales[E] = {1.0, 0.5, 2.0, 1.5, 1.0}, same_scales[E] = {1.5, 1.5, 1.5, 1.5, 1.5};
    if (rm_eval_plan_create(&plan, cfg, E, K) != 0 ||
        rm_eval_plan_calibration(&plan, cfg, N, 0.7, identical ? same_scales : scales) != 0 ||
        rm_eval_work_create(&work, &plan) != 0) {
        fprintf(stderr, "plan: %s\n", rm_last_error());
        return 1;
    }
    size_t n_blocks = (N + RM_EVAL_BLOCK_PROMPTS - 1) / RM_EVAL_BLOCK_PROMPTS, b0, b1, i0, i1;
    rm_partition(n_blocks, size, rank, &b0, &b1);
    rm_partition(N_BENCH, size, rank, &i0, &i1);
    double *blocks = calloc((b1 - b0 + 1) * plan.n_slots, sizeof(double));
    int64_t *bench = calloc(plan.n_bench_counts, sizeof(int64_t)), *bench_total = calloc(plan.n_bench_counts, sizeof(int64_t));
    double *total = calloc(plan.n_slots, sizeof(double));
    accumulate(&plan, &work, identical, b0, b1, i0, i1, blocks, bench);
    CHECK(rm_eval_reduce(&plan, comm, blocks, b1 - b0, bench, total, bench_total) == 0);
    if (rank == 0) {
        /* one rank holding every block: the P = 1 figures */
        double *all_blocks = calloc(n_blocks * plan.n_slots, sizeof(double)), *serial = calloc(plan.n_slots, sizeof(double));
        int64_t *serial_bench = calloc(plan.n_bench_counts, sizeof(int64_t));
        accumulate(&plan, &work, identical, 0, n_blocks, 0, N_BENCH, all_blocks, serial_bench);
        for (size_t b = 0; b < n_blocks; b++)
            for (size_t i = 0; i < plan.n_slots; i++) serial[i] += all_blocks[b * plan.n_slots + i];
        CHECK(memcmp(serial, total, plan.n_slots * sizeof(double)) == 0);
        CHECK(memcmp(serial_bench, bench_total, plan.n_bench_counts * sizeof(int64_t)) == 0);

        rm_eval_results res;
        CHECK(rm_eval_finish(&plan, total, bench_total, N_BENCH, &res) == 0);
        /* wiring: the mean ensemble's figures recomputed directly from the metrics */
        static float z[E * K], golden[K];
        double mean[K], g[K], bon0 = 0, spearman = 0, correct = 0, valid = 0, oracle_last = 0;
        int members[E] = {0, 1, 2, 3, 4};
        for (int p = 0; p < N; p++) {
            predictions(p, identical, z, golden);
            for (int r = 0; r < K; r++) g[r] = golden[r];
            double scratch[E];
            rm_aggregate(z, K, members, E, K, RM_AGG_MEAN, 0, mean, scratch);
            bon0 += rm_best_of_n(mean, g, K, plan.bon_n[1], &work.scratch);
            spearman += rm_spearman(mean, g, K, &work.scratch);
            int64_t twice, v = rm_pair_accuracy_counts(mean, g, K, &twice, &work.scratch);
            correct += 0.5 * (double)twice;
            valid += (double)v;
            oracle_last += rm_best_of_n(g, g, K, plan.bon_n[plan.n_bon - 1], &work.scratch);
        }
        CHECK_CLOSE(res.full.aggregate[0].bon[1], bon0 / N, 1e-12);
        CHECK_CLOSE(res.full.aggregate[0].spearman, spearman / N, 1e-12);
        CHECK_CLOSE(res.full.aggregate[0].pair_accuracy, correct / valid, 1e-15);
        CHECK_CLOSE(res.oracle_bon[plan.n_bon - 1], oracle_last / N, 1e-12);
        CHECK(res.full.aggregate[0].bench_accuracy >= 0 && res.full.aggregate[0].bench_accuracy <= 1);
        CHECK(res.calibration_pairs == (uint64_t)cfg->eval_calibration_pairs);
        check_calibration(cfg, &plan, &res, identical);
        check_ablation_spread(&plan, &res, identical);

        if (identical) {
            CHECK_CLOSE(res.full.member_spearman, 1.0, 1e-12);
            CHECK(res.full.pair_agreement == 1.0);
            CHECK(res.full.best_pick_agreement == 1.0);
            CHECK(res.full.mean_std == 0.0);
            CHECK(res.full.disagreement_auroc == 0.5); /* every pair at disagreement 0: no signal */
            CHECK(isnan(res.full.std_rank_error_spearman)); /* a constant deviation has no rank correlation */
            for (int a = 1; a < plan.n_aggregators; a++)
                CHECK(memcmp(&res.full.aggregate[a], &res.full.aggregate[0], sizeof(rm_aggregate_figures)) == 0);
            for (int m = 0; m < E; m++)
                CHECK(memcmp(&res.single[m], &res.full.aggregate[0], sizeof(rm_aggregate_figures)) == 0);
            CHECK(res.single_std.spearman == 0.0 && res.single_std.bon[0] == 0.0);
            for (int i = 0; i < plan.n_sizes; i++) /* averages over subsets of one value: equal up to rounding */
                for (int j = 0; j < plan.n_bon; j++) CHECK_CLOSE(res.ablation[i].aggregate[1].bon[j], res.full.aggregate[0].bon[j], 1e-12);
        } else {
            CHECK(res.full.pair_agreement > 0.3 && res.full.pair_agreement < 1.0);
            CHECK(res.full.mean_std > 0.0);
            CHECK(res.full.disagreement_auroc > 0.5); /* members disagree more where the mean is wrong */
            CHECK(!isnan(res.full.std_rank_error_spearman));
            CHECK(res.full.aggregate[1].bon[1] != res.full.aggregate[0].bon[1]);
            /* the full-size ablation entry is the full ensemble */
            CHECK(memcmp(&res.ablation[plan.n_sizes - 1], &res.full, sizeof(rm_ensemble_figures)) == 0);
            /* size 1: no member pairs */
            CHECK(plan.sizes[0] == 1 && isnan(res.ablation[0].pair_agreement) && res.ablation[0].mean_std == 0.0);
        }
        printf("P=%d identical=%d: mean bon(%zu) %.6f spearman %.6f pair acc %.6f agreement %.4f auroc %.4f\n", size,
               identical, plan.bon_n[1], res.full.aggregate[0].bon[1], res.full.aggregate[0].spearman,
               res.full.aggregate[0].pair_accuracy, res.full.pair_agreement, res.full.disagreement_auroc);
        rm_eval_results_free(&res);
        free(all_blocks);
        free(serial);
        free(serial_bench);
    }
    free(blocks);
    free(bench);
    free(bench_total);
    free(total);
    rm_eval_work_free(&work);
    rm_eval_plan_free(&plan);
    return 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    rm_settings cfg;
    const char *sets[] = {"eval.bon_n=[1,2,5,13,50]", "eval.uwo_lambda=[0.5,2.0]", "eval.ablation_subsets=3", "seed=7",
                          "eval.calibration_pairs=700", "pairs.annotator_beta=2.0", "pairs.label_flip=0.1"};
    if (test_settings_load(&cfg, sets, 7, NULL, 0) != 0) MPI_Abort(MPI_COMM_WORLD, 1);
    check_mean_std_fields();
    run_case(MPI_COMM_WORLD, 0, &cfg);
    run_case(MPI_COMM_WORLD, 1, &cfg);
    rm_settings_free(&cfg);
    int failures = check_failures, any = 0;
    MPI_Allreduce(&failures, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    check_failures = any;
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int status = rank == 0 ? check_status("test_eval_reduce") : (any ? 1 : 0);
    MPI_Finalize();
    return status;
}
