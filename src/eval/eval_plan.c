/* The plan of an evaluation (include/rmens/eval/eval_plan.h): the subsets, the figures
 * each accumulates, and the slot layout described in src/eval/eval_figures.c. */
#include "rmens/eval/eval_plan.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval_slots.h"
#include "rmens/base/common.h"
#include "rmens/base/parallel.h"
#include "rmens/base/rng.h"

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
