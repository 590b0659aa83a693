/* Evaluation figures: the rank-count-independent reduction and the final figures
 * (include/rmens/eval/eval_figures.h); the plan is src/eval/eval_plan.c.
 *
 * Slots. Every figure that is an average over prompts is a (sum, count) pair of doubles:
 * a prompt where the figure is undefined (a constant score for Spearman) adds nothing.
 * Pooled counts (pairs, disagreement histograms) are integers held in doubles, exact to
 * 2^53. Per subset the slots are, for each aggregator:
 *     bon[n] (sum, count) x n_bon | spearman (sum, count) | pair accuracy (correct, valid)
 *     | proxy bon[n] (sum, count) x n_bon | pick quantile | above median
 * and then, for the full ensemble and ablation subsets:
 *     best-pick agreement | mean std | std-vs-rank-error Spearman | agreeing member pairs
 *     (agreeing, compared) | wrong[L] | right[L]   (histograms over the L = C(k,2) + 1
 *     disagreement levels of a response pair)
 * followed by the global oracle best-of-n and the member-pair Spearman slots, and, once
 * rm_eval_plan_calibration switched them on, the calibration slots (eval_slots.h), and once
 * rm_eval_plan_bias did, the feature-bias slots (rmens/eval/eval_plan.h's rm_eval_bias).
 *
 * The per-prompt accumulation is in src/eval/eval_accumulate.c (its cost is described there). */
#include "rmens/eval/eval_figures.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval_slots.h"
#include "rmens/base/common.h"
#include "rmens/base/parallel.h"
#include "rmens/base/rng.h"
#include "rmens/eval/eval_bias.h"
#include "rmens/eval/eval_calibration.h"

int rm_eval_reduce(const rm_eval_plan *p, MPI_Comm comm, const double *local_blocks, size_t n_local_blocks,
                   const int64_t *bench_local, double *total, int64_t *bench_total)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    /* Every rank's blocks, in rank order = block order (ranks hold contiguous block ranges). */
    long long mine = (long long)(n_local_blocks * p->n_slots);
    long long *counts_ll = rank == 0 ? rm_alloc((size_t)size, sizeof(long long), "reduction") : NULL;
    int rc = rank == 0 && !counts_ll ? -1 : 0;
    if (rm_all_ok(comm, rc) != 0) return -1;
    if (rm_mpi_check(MPI_Gather(&mine, 1, MPI_LONG_LONG, counts_ll, 1, MPI_LONG_LONG, 0, comm), "MPI_Gather (block counts)") != 0)
        rc = -1;
    int *counts = NULL, *displs = NULL;
    double *all = NULL;
    long long n_all = 0;
    if (rc == 0 && rank == 0) {
        for (int r = 0; r < size; r++) n_all += counts_ll[r];
        if (n_all > INT_MAX) {
            rc = rm_errorf("the reduction holds %lld values, more than one MPI_Gatherv can move; raise the block size", n_all);
        } else {
            counts = rm_alloc((size_t)size, sizeof(int), "reduction");
            displs = rm_alloc((size_t)size, sizeof(int), "reduction");
            all = rm_alloc(n_all > 0 ? (size_t)n_all : 1, sizeof(double), "reduction");
            if (!counts || !displs || !all) rc = -1;
            else
                for (int r = 0, d = 0; r < size; r++) {
                    counts[r] = (int)counts_ll[r];
                    displs[r] = d;
                    d += counts[r];
                }
        }
    }
    if (rm_all_ok(comm, rc) == 0) {
        rc = rm_mpi_check(MPI_Gatherv(local_blocks, (int)mine, MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, 0, comm),
                          "MPI_Gatherv (figure blocks)");
        if (rc == 0 && rank == 0) {
            memset(total, 0, p->n_slots * sizeof *total);
            size_t n_blocks = (size_t)n_all / p->n_slots;
            for (size_t b = 0; b < n_blocks; b++) /* block order: the same for any rank count */
                for (size_t i = 0; i < p->n_slots; i++) total[i] += all[b * p->n_slots + i];
        }
        /* integer counts: exact in any order */
        if (rc == 0)
            rc = rm_mpi_check(MPI_Reduce(bench_local, bench_total, (int)p->n_bench_counts, MPI_INT64_T, MPI_SUM, 0, comm),
                              "MPI_Reduce (bench counts)");
        rc = rm_all_ok(comm, rc);
    } else {
        rc = -1;
    }
    free(counts_ll);
    free(counts);
    free(displs);
    free(all);
    return rc;
}

static double ratio(const double *slot) { return slot[1] > 0 ? slot[0] / slot[1] : NAN; }

static void finish_aggregate(const rm_eval_plan *p, const double *slots, int64_t bench_twice, size_t n_bench,
                             rm_aggregate_figures *out)
{
    for (int j = 0; j < p->n_bon; j++) {
        out->bon[j] = ratio(slots + 2 * j);
        out->proxy_bon[j] = ratio(slots + agg_slot_proxy(p->n_bon) + 2 * j);
    }
    out->spearman = ratio(slots + agg_slot_spearman(p->n_bon));
    out->pair_accuracy = ratio(slots + agg_slot_pair_accuracy(p->n_bon));
    out->pick_quantile = ratio(slots + agg_slot_pick_quantile(p->n_bon));
    out->above_median = ratio(slots + agg_slot_above_median(p->n_bon));
    out->bench_accuracy = n_bench ? 0.5 * (double)bench_twice / (double)n_bench : NAN;
}

/* A subset's figures; the member-pair Spearman from the matrix of pair means. */
static void finish_subset(const rm_eval_plan *p, int s, const double *total, const int64_t *bench, size_t n_bench,
                          const double *matrix, rm_ensemble_figures *out)
{
    const rm_eval_subset *sub = &p->subsets[s];
    const double *base = total + sub->offset;
    for (int a = 0; a < sub->n_aggregators; a++)
        finish_aggregate(p, base + (size_t)a * p->aggregator_slots, bench[(size_t)s * (size_t)p->n_aggregators + (size_t)a],
                         n_bench, &out->aggregate[a]);
    const double *ens = base + (size_t)sub->n_aggregators * p->aggregator_slots;
    out->best_pick_agreement = ratio(ens + SLOT_BEST_PICK);
    out->mean_std = ratio(ens + SLOT_MEAN_STD);
    out->std_rank_error_spearman = ratio(ens + SLOT_STD_RANK);
    out->pair_agreement = sub->k >= 2 ? ratio(ens + SLOT_AGREE) : NAN;
    size_t levels = disagreement_levels(sub->k);
    out->disagreement_auroc = sub->k >= 2 ? rm_auroc_levels(ens + SLOT_HIST, ens + SLOT_HIST + levels, (int)levels) : NAN;
    double sum = 0.0;
    int n = 0;
    for (int i = 0; i < sub->k; i++)
        for (int j = i + 1; j < sub->k; j++) {
            double v = matrix[(size_t)sub->members[i] * (size_t)p->n_members + (size_t)sub->members[j]];
            if (!isnan(v)) {
                sum += v;
                n++;
            }
        }
    out->member_spearman = n ? sum / n : NAN;
}

void rm_eval_mean_std_fields(const double *in, int n, size_t fields, double *mean, double *std)
{
    for (size_t f = 0; f < fields; f++) {
        double sum = 0.0, count = 0.0;
        for (int i = 0; i < n; i++) {
            double v = in[(size_t)i * fields + f];
            if (isnan(v)) continue;
            sum += v;
            count += 1;
        }
        double m = count > 0 ? sum / count : NAN, ss = 0.0;
        mean[f] = m;
        if (!std) continue;
        for (int i = 0; i < n; i++) {
            double v = in[(size_t)i * fields + f];
            if (!isnan(v)) ss += (v - m) * (v - m);
        }
        std[f] = count > 0 ? sqrt(ss / count) : NAN;
    }
}

/* Every field of these records is a double: they are averaged as flat arrays. */
#define FIELDS_OF(type) (sizeof(type) / sizeof(double))

int rm_eval_finish(const rm_eval_plan *p, const double *total, const int64_t *bench_total, size_t n_bench,
                   rm_eval_results *out)
{
    memset(out, 0, sizeof *out);
    int E = p->n_members;
    out->n_bench = n_bench;
    out->single = rm_calloc((size_t)E, sizeof *out->single, "results");
    out->member_spearman_matrix = rm_calloc((size_t)E * (size_t)E, sizeof(double), "results");
    out->ablation = rm_calloc((size_t)p->n_sizes + 1, sizeof *out->ablation, "results");
    out->ablation_std = rm_calloc((size_t)p->n_sizes + 1, sizeof *out->ablation_std, "results");
    int max_subsets = 1;
    for (int i = 0; i < p->n_sizes; i++) max_subsets = p->size_subsets[i] > max_subsets ? p->size_subsets[i] : max_subsets;
    rm_ensemble_figures *tmp = rm_calloc((size_t)max_subsets, sizeof *tmp, "results");
    if (!out->single || !out->member_spearman_matrix || !out->ablation || !out->ablation_std || !tmp) {
        free(tmp);
        rm_eval_results_free(out);
        return -1;
    }
    for (int j = 0; j < p->n_bon; j++) {
        out->oracle_bon[j] = ratio(total + p->oracle_offset + 2 * j);
        out->kl[j] = rm_bon_kl(p->bon_n[j]);
    }
    double *matrix = out->member_spearman_matrix;
    const double *pair_slot = total + p->member_spearman_offset;
    for (int a = 0; a < E; a++) {
        matrix[(size_t)a * E + a] = 1.0;
        for (int b = a + 1; b < E; b++, pair_slot += 2)
            matrix[(size_t)a * E + b] = matrix[(size_t)b * E + a] = ratio(pair_slot);
    }
    finish_subset(p, 0, total, bench_total, n_bench, matrix, &out->full);
    for (int m = 0; m < E; m++) {
        const rm_eval_subset *sub = &p->subsets[1 + m];
        finish_aggregate(p, total + sub->offset, bench_total[(size_t)(1 + m) * (size_t)p->n_aggregators], n_bench,
                         &out->single[m]);
    }
    /* mean and population deviation over members, field by field */
    rm_eval_mean_std_fields((const double *)out->single, E, FIELDS_OF(rm_aggregate_figures), (double *)&out->single_mean,
                            (double *)&out->single_std);
    /* and over each ablation size's subsets */
    for (int i = 0; i < p->n_sizes; i++) {
        for (int s = 0; s < p->size_subsets[i]; s++)
            finish_subset(p, p->size_first[i] + s, total, bench_total, n_bench, matrix, &tmp[s]);
        rm_eval_mean_std_fields((const double *)tmp, p->size_subsets[i], FIELDS_OF(rm_ensemble_figures),
                                (double *)&out->ablation[i], (double *)&out->ablation_std[i]);
    }
    free(tmp);
    if (rm_eval_calibration_finish(p, total, out) != 0 || rm_eval_bias_finish(p, total, out) != 0) {
        rm_eval_results_free(out);
        return -1;
    }
    return 0;
}

void rm_eval_results_free(rm_eval_results *r)
{
    free(r->single);
    free(r->member_spearman_matrix);
    free(r->ablation);
    free(r->ablation_std);
    free(r->calibration_member);
    free(r->ablation_warm);
    free(r->ablation_warm_std);
    for (int i = 0; r->bias && i < r->n_bias; i++) free(r->bias[i].member);
    free(r->bias);
    memset(r, 0, sizeof *r);
}
