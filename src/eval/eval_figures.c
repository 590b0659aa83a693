/* Evaluation figures: the plan of what is accumulated, the rank-count-independent
 * reduction and the final figures (see include/rmens/eval.h).
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
 * rm_eval_plan_calibration switched them on, the calibration slots (eval_internal.h).
 *
 * The per-prompt accumulation is in src/eval_accumulate.c (its cost is described there). */
#include "rmens/eval/eval.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"
#include "rmens/base/common.h"
#include "rmens/base/parallel.h"
#include "rmens/base/rng.h"

void rm_eval_split(size_t n, int parts, int index, size_t *begin, size_t *end)
{
    size_t base = n / (size_t)parts, extra = n % (size_t)parts, i = (size_t)index;
    *begin = i * base + (i < extra ? i : extra);
    *end = *begin + base + (i < extra ? 1 : 0);
}

/* Deterministic random k-subset of 0..E-1 number s of size k: a partial Fisher-Yates
 * shuffle drawn from (seed, RM_STREAM_ABLATION, index(k, s, j)). */
static void draw_subset(uint64_t seed, int E, int k, int s, int *out, int *pool)
{
    for (int i = 0; i < E; i++) pool[i] = i;
    for (int j = 0; j < k; j++) {
        uint64_t index = ((((uint64_t)k << 20) + (uint64_t)s) << 17) | (uint64_t)j; /* k < 2^17, s < 2^20, j < 2^17 */
        int pick = j + (int)rm_rand_below(seed, RM_STREAM_ABLATION, index, (uint64_t)(E - j));
        int t = pool[j];
        pool[j] = pool[pick];
        pool[pick] = t;
    }
    for (int j = 0; j < k; j++) out[j] = pool[j];
    /* ascending, so that the subset reads naturally in results.h5 */
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
            int t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
}

static int same_members(const rm_eval_subset *a, const rm_eval_subset *b)
{
    return a->k == b->k && memcmp(a->members, b->members, (size_t)a->k * sizeof(int)) == 0;
}

/* The aggregate (subset s, aggregator a) computes its figures itself unless they are
 * provably those of an earlier one: the same aggregator of an earlier subset with the same
 * members, or, on one member, min and median (the member itself, as is the mean), or, on
 * two members, the median ((a + b) / 2 against the mean's (0 + a + b) / 2: the same
 * double up to the sign of a zero). Every figure uses aggregates only through comparisons
 * (sort order, ties, argmax), so equal values give equal figures. */
static size_t figure_source_of(const rm_eval_plan *p, int s, int a)
{
    const rm_eval_subset *sub = &p->subsets[s];
    size_t own = sub->offset + (size_t)a * p->aggregator_slots;
    if (a >= sub->n_aggregators) return own;
    for (int s2 = 0; s2 < s; s2++)
        if (a < p->subsets[s2].n_aggregators && same_members(&p->subsets[s2], sub))
            return p->figure_source[(size_t)s2 * (size_t)p->n_aggregators + (size_t)a];
    if ((sub->k == 1 && (a == RM_AGG_MIN || a == RM_AGG_MEDIAN)) || (sub->k == 2 && a == RM_AGG_MEDIAN))
        return p->figure_source[(size_t)s * (size_t)p->n_aggregators]; /* its mean's (computed first) */
    return own;
}

/* figure_source, ensemble_source, the pair-statistics columns (see rm_eval_plan). */
static int plan_sources(rm_eval_plan *p)
{
    size_t S = (size_t)p->n_subsets;
    p->figure_source = rm_alloc(S * (size_t)p->n_aggregators, sizeof(size_t), "evaluation subsets");
    p->ensemble_source = rm_alloc(S, sizeof(int), "evaluation subsets");
    p->pair_column = rm_alloc(S, sizeof(int), "evaluation subsets");
    if (!p->figure_source || !p->ensemble_source || !p->pair_column) return -1;
    p->n_pair_columns = 0;
    for (int s = 0; s < p->n_subsets; s++) {
        const rm_eval_subset *sub = &p->subsets[s];
        for (int a = 0; a < p->n_aggregators; a++)
            p->figure_source[(size_t)s * (size_t)p->n_aggregators + (size_t)a] = figure_source_of(p, s, a);
        p->ensemble_source[s] = s;
        p->pair_column[s] = -1;
        if (!sub->ensemble_figures) continue;
        for (int s2 = 0; s2 < s && p->ensemble_source[s] == s; s2++)
            if (p->subsets[s2].ensemble_figures && same_members(&p->subsets[s2], sub)) p->ensemble_source[s] = s2;
        if (p->ensemble_source[s] == s && sub->k >= 2) p->pair_column[s] = p->n_pair_columns++;
    }
    size_t K = p->n_responses;
    p->pair_table = p->mask_words == 1 && p->n_members <= RM_PAIR_TABLE_MAX_MEMBERS &&
                    (double)K * (double)(K - 1) / 2 <= 4294967295.0;
    return 0;
}

int rm_eval_plan_create(rm_eval_plan *p, const rm_settings *cfg, int n_members, size_t n_responses)
{
    memset(p, 0, sizeof *p);
    if (n_members < 1) return rm_errorf("evaluation needs at least one member");
    if (n_members >= (1 << 17)) return rm_errorf("evaluation supports at most %d members", (1 << 17) - 1);
    if (n_responses < 2) return rm_errorf("the test split has %zu response(s) per prompt; evaluation needs at least 2", n_responses);
    p->n_members = n_members;
    p->n_responses = n_responses;
    for (int i = 0; i < cfg->eval_n_bon; i++)
        if ((size_t)cfg->eval_bon_n[i] <= n_responses) p->bon_n[p->n_bon++] = (size_t)cfg->eval_bon_n[i];
    if (p->n_bon == 0) return rm_errorf("eval.bon_n: no n is <= K_test = %zu", n_responses);
    p->n_uwo = cfg->eval_n_uwo;
    memcpy(p->uwo_lambda, cfg->eval_uwo_lambda, sizeof(double) * (size_t)p->n_uwo);
    p->n_aggregators = 3 + p->n_uwo;
    strcpy(p->aggregator_names[0], "mean");
    strcpy(p->aggregator_names[1], "min");
    strcpy(p->aggregator_names[2], "median");
    for (int u = 0; u < p->n_uwo; u++) snprintf(p->aggregator_names[3 + u], sizeof p->aggregator_names[0], "uwo_%g", p->uwo_lambda[u]);

    /* ablation sizes */
    if (cfg->eval_n_ablation == 0) {
        for (int k = 1; k < n_members && p->n_sizes < RM_MAX_LIST - 1; k *= 2) p->sizes[p->n_sizes++] = k;
        p->sizes[p->n_sizes++] = n_members;
    } else {
        for (int i = 0; i < cfg->eval_n_ablation; i++)
            if (cfg->eval_ablation_sizes[i] <= n_members) p->sizes[p->n_sizes++] = (int)cfg->eval_ablation_sizes[i];
    }
    if (cfg->eval_ablation_subsets >= (1 << 20)) return rm_errorf("eval.ablation_subsets: at most %d", (1 << 20) - 1);
    int n_ablation = 0;
    for (int i = 0; i < p->n_sizes; i++) {
        /* the whole ensemble is one subset; any other size draws eval.ablation_subsets */
        p->size_subsets[i] = p->sizes[i] == n_members ? 1 : (int)cfg->eval_ablation_subsets;
        p->size_first[i] = 1 + n_members + n_ablation;
        n_ablation += p->size_subsets[i];
    }

    p->n_subsets = 1 + n_members + n_ablation;
    p->mask_words = rm_pair_mask_words(n_members);
    size_t member_total = (size_t)n_members * 2; /* full + singles */
    for (int i = 0; i < p->n_sizes; i++) member_total += (size_t)p->sizes[i] * (size_t)p->size_subsets[i];
    p->subsets = rm_calloc((size_t)p->n_subsets, sizeof *p->subsets, "evaluation subsets");
    p->member_lists = rm_alloc(member_total, sizeof(int), "evaluation subsets");
    p->masks = rm_calloc((size_t)p->n_subsets * p->mask_words, sizeof(uint64_t), "evaluation subsets");
    int *pool = rm_alloc((size_t)n_members, sizeof(int), "evaluation subsets");
    if (!p->subsets || !p->member_lists || !p->masks || !pool) {
        free(pool);
        rm_eval_plan_free(p);
        return -1;
    }
    int *next = p->member_lists;
    for (int s = 0; s < p->n_subsets; s++) {
        rm_eval_subset *sub = &p->subsets[s];
        if (s == 0) {
            sub->k = n_members;
            for (int m = 0; m < n_members; m++) next[m] = m;
        } else if (s <= n_members) {
            sub->k = 1;
            next[0] = s - 1;
        } else {
            int size = p->n_sizes - 1;
            while (p->size_first[size] > s) size--;
            sub->k = p->sizes[size];
            if (sub->k == n_members) for (int m = 0; m < n_members; m++) next[m] = m;
            else draw_subset((uint64_t)cfg->seed, n_members, sub->k, s - p->size_first[size], next, pool);
        }
        sub->members = next;
        uint64_t *mask = p->masks + (size_t)s * p->mask_words;
        for (int i = 0; i < sub->k; i++) mask[next[i] / 64] |= (uint64_t)1 << (next[i] % 64);
        sub->mask = mask;
        next += sub->k;
        sub->n_aggregators = s >= 1 && s <= n_members ? 1 : p->n_aggregators;
        sub->ensemble_figures = !(s >= 1 && s <= n_members);
        if (sub->ensemble_figures && sub->k >= 2) p->pair_statistics = 1;
    }
    free(pool);

    p->aggregator_slots = 4 * (size_t)p->n_bon + 8;
    size_t offset = 0;
    for (int s = 0; s < p->n_subsets; s++) {
        rm_eval_subset *sub = &p->subsets[s];
        sub->offset = offset;
        offset += (size_t)sub->n_aggregators * p->aggregator_slots;
        if (sub->ensemble_figures) offset += ensemble_slots(sub->k);
    }
    p->oracle_offset = offset;
    offset += 2 * (size_t)p->n_bon;
    p->member_spearman_offset = offset;
    offset += (size_t)n_members * (size_t)(n_members - 1); /* (sum, count) per pair a < b */
    p->n_slots = offset;
    p->n_bench_counts = (size_t)p->n_subsets * (size_t)p->n_aggregators;
    if (plan_sources(p) != 0) {
        rm_eval_plan_free(p);
        return -1;
    }
    return 0;
}

void rm_eval_plan_free(rm_eval_plan *p)
{
    free(p->subsets);
    free(p->member_lists);
    free(p->masks);
    free(p->figure_source);
    free(p->ensemble_source);
    free(p->pair_column);
    free(p->calibration.prompt_first);
    free(p->calibration.pair_index);
    free(p->calibration.member_scale);
    memset(p, 0, sizeof *p);
}

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

/* Mean over the values that are defined; NaN when none is. */
static void nan_mean_accumulate(double *sum, double *count, double v)
{
    if (isnan(v)) return;
    *sum += v;
    *count += 1;
}

static void average_ensemble_figures(const rm_eval_plan *p, const rm_ensemble_figures *in, int n, rm_ensemble_figures *out)
{
    /* field by field over a flat view: every field of rm_ensemble_figures is a double */
    size_t fields = sizeof(rm_ensemble_figures) / sizeof(double);
    (void)p;
    for (size_t f = 0; f < fields; f++) {
        double sum = 0.0, count = 0.0;
        for (int i = 0; i < n; i++) nan_mean_accumulate(&sum, &count, ((const double *)&in[i])[f]);
        ((double *)out)[f] = count > 0 ? sum / count : NAN;
    }
}

int rm_eval_finish(const rm_eval_plan *p, const double *total, const int64_t *bench_total, size_t n_bench,
                   rm_eval_results *out)
{
    memset(out, 0, sizeof *out);
    int E = p->n_members;
    out->n_bench = n_bench;
    out->single = rm_calloc((size_t)E, sizeof *out->single, "results");
    out->member_spearman_matrix = rm_calloc((size_t)E * (size_t)E, sizeof(double), "results");
    out->ablation = rm_calloc((size_t)p->n_sizes + 1, sizeof *out->ablation, "results");
    int max_subsets = 1;
    for (int i = 0; i < p->n_sizes; i++) max_subsets = p->size_subsets[i] > max_subsets ? p->size_subsets[i] : max_subsets;
    rm_ensemble_figures *tmp = rm_calloc((size_t)max_subsets, sizeof *tmp, "results");
    if (!out->single || !out->member_spearman_matrix || !out->ablation || !tmp) {
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
    size_t fields = sizeof(rm_aggregate_figures) / sizeof(double);
    for (size_t f = 0; f < fields; f++) {
        double sum = 0.0, count = 0.0;
        for (int m = 0; m < E; m++) nan_mean_accumulate(&sum, &count, ((double *)&out->single[m])[f]);
        double mean = count > 0 ? sum / count : NAN, ss = 0.0;
        for (int m = 0; m < E; m++) {
            double v = ((double *)&out->single[m])[f];
            if (!isnan(v)) ss += (v - mean) * (v - mean);
        }
        ((double *)&out->single_mean)[f] = mean;
        ((double *)&out->single_std)[f] = count > 0 ? sqrt(ss / count) : NAN;
    }
    for (int i = 0; i < p->n_sizes; i++) {
        for (int s = 0; s < p->size_subsets[i]; s++)
            finish_subset(p, p->size_first[i] + s, total, bench_total, n_bench, matrix, &tmp[s]);
        average_ensemble_figures(p, tmp, p->size_subsets[i], &out->ablation[i]);
    }
    free(tmp);
    if (eval_calibration_finish(p, total, out) != 0) {
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
    free(r->calibration_member);
    free(r->ablation_warm);
    memset(r, 0, sizeof *r);
}
