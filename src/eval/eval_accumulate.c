/* Evaluation statistics of each prompt (see include/rmens/eval/eval.h): the per-thread work,
 * the figures of one prompt, the piece's prompts over the rank's threads, benchmark pairs.
 *
 * Cost per prompt. Each distinct aggregate (plan->figure_source) is sorted once and every
 * figure read off that sort: best-of-n for all n, Spearman, the pair-accuracy counts
 * (rm_score_figures_compute). The golden rewards are sorted once per prompt. The pair
 * figures (member pairs agreeing on a response pair, the disagreement AUROC) of all
 * distinct subsets of up to 12 members come from one pass over the K(K-1)/2 response
 * pairs with a table of sign patterns (rm_pair_table); larger ensembles count each subset
 * with pair bit masks (rm_pair_masks, rm_pair_subset_stats). At the case study's shapes
 * (K = 500, 10 members, 82 subsets x up to 5 aggregators) this took the statistics from
 * 0.072 s to ~0.01 s of CPU per prompt, against ~0.26 s of fp32 scoring per prompt and
 * core (rmens eval of 100 such prompts at D = 2048 on 2 ranks: statistics 26% -> 4.5% of
 * the evaluation's wall time; the median of 6 runs). Issue 31 halved that again (10.5 ->
 * ~5 ms of CPU per prompt on real bf16 scores, the best of repeated runs on a shared
 * machine): a subset's mean, uwo aggregates and member std come from one pass of moments;
 * a uwo aggregate equal to the mean copies its figures; the best-of-n sums of all n run
 * side by side; sorts take 4 radix passes; Pearson of ranks sums exactly in lanes.
 *
 * Determinism. A prompt's figures go into a zeroed delta and are then added to the block,
 * one addition per slot and prompt as before (a delta of 0 for a skipped NaN leaves the
 * block unchanged: a sum started at +0 is never -0), so blocks do not depend on which
 * thread computed which prompt. */
#include "rmens/eval/eval_accumulate.h"

#include "rmens/eval/eval_bias.h"
#include "rmens/eval/eval_calibration.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval_slots.h"
#include "rmens/base/common.h"
#include "rmens/kernels/tiled_blas.h"

/* Allocations of rm_eval_work beyond the metric structures; NULL-checked together. */
static int work_buffers(rm_eval_work *w, const rm_eval_plan *p)
{
    size_t K = p->n_responses, E = (size_t)p->n_members;
    w->golden = rm_alloc(K, sizeof(double), "evaluation work");
    w->bon_values = rm_alloc((size_t)p->n_bon, sizeof(double), "evaluation work");
    w->aggregate = rm_alloc((size_t)p->n_aggregators * K, sizeof(double), "evaluation work");
    w->ranks = rm_alloc(K, sizeof(double), "evaluation work");
    w->mean_ranks = rm_alloc(K, sizeof(double), "evaluation work");
    w->member_ranks = rm_alloc(E * K, sizeof(double), "evaluation work");
    w->spread = rm_alloc(K, sizeof(double), "evaluation work");
    w->rank_error = rm_alloc(K, sizeof(double), "evaluation work");
    w->sort_buffer = rm_alloc(E, sizeof(double), "evaluation work");
    w->square_sum = rm_alloc(K, sizeof(double), "evaluation work");
    w->spread_ranks = rm_alloc(K, sizeof(double), "evaluation work");
    w->error_ranks = rm_alloc(K, sizeof(double), "evaluation work");
    w->error_start = rm_alloc(2 * K + 2, sizeof(int32_t), "evaluation work");
    w->mean_dense = rm_alloc(K, sizeof(int32_t), "evaluation work");
    w->member_pick = rm_alloc(E, sizeof(int), "evaluation work");
    w->delta = rm_alloc(p->n_slots, sizeof(double), "evaluation work");
    w->proxy_values = rm_alloc((size_t)p->n_bon, sizeof(double), "evaluation work");
    w->member_probability = rm_alloc(E, sizeof(double), "evaluation work");
    if (p->bias.n_views > 0) { /* only with eval.bias_features: nothing changes without it */
        w->bias_scratch = rm_alloc(rm_eval_bias_scratch_doubles(p), sizeof(double), "evaluation work");
        if (!w->bias_scratch) return -1;
    }
    return w->golden && w->bon_values && w->aggregate && w->ranks && w->mean_ranks && w->member_ranks && w->spread &&
                   w->rank_error && w->sort_buffer && w->square_sum && w->spread_ranks && w->error_ranks &&
                   w->error_start && w->mean_dense && w->member_pick && w->delta &&
                   w->proxy_values && w->member_probability
               ? 0
               : -1;
}

/* The pair-statistics structure: the pattern table over the plan's columns, or masks. */
static int work_pairs(rm_eval_work *w, const rm_eval_plan *p)
{
    size_t K = p->n_responses;
    if (p->n_pair_columns == 0) return 0;
    if (!p->pair_table) {
        /* K(K-1)/2 pairs x mask words, twice: 2 MB for K = 500 and up to 64 members */
        size_t n_pairs = K * (K - 1) / 2, words;
        if (rm_size_mul(n_pairs, p->mask_words, &words, "pair masks") != 0) return -1;
        w->pair_gt = rm_alloc(words, sizeof(uint64_t), "pair masks");
        w->pair_eq = rm_alloc(words, sizeof(uint64_t), "pair masks");
        return w->pair_gt && w->pair_eq ? 0 : -1;
    }
    uint64_t *masks = rm_alloc((size_t)p->n_pair_columns, sizeof(uint64_t), "pair table");
    int *ks = rm_alloc((size_t)p->n_pair_columns, sizeof(int), "pair table");
    int rc = masks && ks ? 0 : -1;
    for (int s = 0; s < p->n_subsets && rc == 0; s++) {
        int c = p->pair_column[s];
        if (c < 0) continue;
        masks[c] = p->subsets[s].mask[0];
        ks[c] = p->subsets[s].k;
    }
    if (rc == 0) rc = rm_pair_table_create(&w->pairs, p->n_members, K, p->n_pair_columns, masks, ks);
    free(masks);
    free(ks);
    return rc;
}

int rm_eval_work_create(rm_eval_work *w, const rm_eval_plan *p)
{
    memset(w, 0, sizeof *w);
    size_t K = p->n_responses;
    int rc = rm_metric_scratch_create(&w->scratch, K);
    if (rc == 0) rc = rm_golden_sorted_create(&w->gold, K);
    if (rc == 0) rc = rm_bon_table_create(&w->bon, K, p->bon_n, p->n_bon);
    if (rc == 0) rc = work_buffers(w, p);
    if (rc == 0) rc = work_pairs(w, p);
    if (rc != 0) {
        rm_eval_work_free(w);
        return rm_error_context("evaluation scratch for K = %zu, E = %d", K, p->n_members);
    }
    return 0;
}

void rm_eval_work_free(rm_eval_work *w)
{
    rm_metric_scratch_free(&w->scratch);
    rm_golden_sorted_free(&w->gold);
    rm_bon_table_free(&w->bon);
    free(w->golden);
    free(w->bon_values);
    free(w->aggregate);
    free(w->ranks);
    free(w->mean_ranks);
    free(w->member_ranks);
    free(w->spread);
    free(w->rank_error);
    free(w->sort_buffer);
    free(w->square_sum);
    free(w->spread_ranks);
    free(w->error_ranks);
    free(w->error_start);
    free(w->mean_dense);
    free(w->member_pick);
    if (w->pairs.masks) rm_pair_table_free(&w->pairs);
    free(w->pair_gt);
    free(w->pair_eq);
    free(w->delta);
    free(w->proxy_values);
    free(w->member_probability);
    free(w->bias_scratch);
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

/* One aggregate's figures for one prompt: bon and its proxy for each n, Spearman, pair
 * accuracy, the best-of-K pick's quantile and above-median share (slot layout in
 * eval_internal.h). ranks[K] and (if not NULL) dense[K] receive the score's ranks. */
static void aggregate_figures(const rm_eval_plan *p, rm_eval_work *w, const double *score, double *ranks,
                              int32_t *dense, double *slots)
{
    rm_score_figures f;
    rm_score_figures_compute(score, &w->gold, &w->bon, w->bon_values, w->proxy_values, ranks, dense, &f, &w->scratch);
    for (int j = 0; j < p->n_bon; j++) {
        add_mean(slots + 2 * j, w->bon_values[j]);
        add_mean(slots + agg_slot_proxy(p->n_bon) + 2 * j, w->proxy_values[j]);
    }
    add_mean(slots + agg_slot_spearman(p->n_bon), f.spearman);
    slots[agg_slot_pair_accuracy(p->n_bon)] += 0.5 * (double)f.twice_correct;
    slots[agg_slot_pair_accuracy(p->n_bon) + 1] += (double)f.valid;
    add_mean(slots + agg_slot_pick_quantile(p->n_bon), f.pick_quantile);
    add_mean(slots + agg_slot_above_median(p->n_bon), f.above_median);
}

/* Per prompt, before the subsets: golden order, oracle best-of-n, each member's ranks and
 * best-of-K pick, the member-pair Spearman matrix, the pair masks if used. */
static void prompt_shared(const rm_eval_plan *p, rm_eval_work *w, const float *z, size_t member_stride,
                          const float *golden, double *d)
{
    size_t K = p->n_responses;
    int E = p->n_members;
    for (size_t r = 0; r < K; r++) w->golden[r] = golden[r];
    rm_golden_sorted_set(&w->gold, w->golden, K, &w->scratch);
    /* oracle: best-of-n picking by golden reward itself */
    rm_bon_table_expect(&w->bon, w->gold.by_golden, w->bon_values);
    for (int j = 0; j < p->n_bon; j++) add_mean(d + p->oracle_offset + 2 * j, w->bon_values[j]);

    for (int m = 0; m < E; m++) {
        double *score = w->aggregate; /* reused as a double copy of the member's scores */
        for (size_t r = 0; r < K; r++) score[r] = z[(size_t)m * member_stride + r];
        rm_average_ranks(score, K, w->member_ranks + (size_t)m * K, &w->scratch);
        w->member_pick[m] = (int)argmax_first(score, K);
    }
    double *pair_slot = d + p->member_spearman_offset;
    for (int a = 0; a < E; a++)
        for (int b = a + 1; b < E; b++, pair_slot += 2)
            add_mean(pair_slot, rm_pearson_ranks(w->member_ranks + (size_t)a * K, w->member_ranks + (size_t)b * K, K));
    if (p->n_pair_columns > 0 && !p->pair_table) rm_pair_masks(z, member_stride, E, K, w->pair_gt, w->pair_eq);
}

/* rm_average_ranks of values that are halves of integers in [0, K] (rank errors, the
 * distance of two average ranks), without sorting: a tied block's average rank needs only
 * how many values are below it and how many equal it. start[2 K + 2] is scratch. Returns
 * -1 (nothing done) if a value is not such a half. */
static int half_integer_ranks(const double *values, size_t K, int32_t *start, double *ranks)
{
    size_t keys = 2 * K + 1;
    memset(start, 0, (keys + 1) * sizeof *start);
    for (size_t r = 0; r < K; r++) {
        double twice = 2.0 * values[r];
        if (!(twice >= 0.0 && twice <= (double)(keys - 1)) || twice != (double)(size_t)twice) return -1;
        start[(size_t)twice + 1]++;
    }
    for (size_t key = 1; key <= keys; key++) start[key] += start[key - 1]; /* now responses below key */
    for (size_t r = 0; r < K; r++) {
        size_t key = (size_t)(2.0 * values[r]);
        /* positions start..end-1 hold 1-based ranks start+1..end: their mean, as there */
        ranks[r] = 0.5 * (double)((size_t)start[key] + 1 + (size_t)start[key + 1]);
    }
    return 0;
}

/* Ensemble figures of subset s (an ensemble source) from its mean in w->aggregate, with
 * ranks in w->mean_ranks and dense ranks in w->mean_dense, and its sums of squared
 * deviations in w->square_sum. The pair table's part is counted later for all columns at
 * once. */
static void ensemble_figures(const rm_eval_plan *p, rm_eval_work *w, int s, double *ens)
{
    const rm_eval_subset *sub = &p->subsets[s];
    size_t K = p->n_responses;
    const double *mean = w->aggregate;

    /* agreement: members whose best-of-K pick is the mean ensemble's */
    size_t mean_pick = argmax_first(mean, K);
    int same = 0;
    for (int i = 0; i < sub->k; i++) same += (size_t)w->member_pick[sub->members[i]] == mean_pick;
    add_mean(ens + SLOT_BEST_PICK, (double)same / sub->k);

    /* uncertainty: ensemble deviation (rm_member_std from the subset's moments), and
     * whether it tracks the mean's rank error (rm_spearman of the two) */
    rm_std_from_moments(w->square_sum, sub->k, K, w->spread);
    double spread_sum = 0.0;
    for (size_t r = 0; r < K; r++) spread_sum += w->spread[r];
    add_mean(ens + SLOT_MEAN_STD, spread_sum / (double)K);
    for (size_t r = 0; r < K; r++) w->rank_error[r] = fabs(w->mean_ranks[r] - w->gold.ranks[r]);
    rm_average_ranks(w->spread, K, w->spread_ranks, &w->scratch);
    if (half_integer_ranks(w->rank_error, K, w->error_start, w->error_ranks) != 0)
        rm_average_ranks(w->rank_error, K, w->error_ranks, &w->scratch);
    add_mean(ens + SLOT_STD_RANK, rm_pearson_ranks(w->spread_ranks, w->error_ranks, K));

    if (sub->k < 2) return;
    ens[SLOT_AGREE + 1] += (double)(K * (K - 1) / 2) * (double)sub->k * (double)(sub->k - 1) / 2.0;
    if (p->pair_table) {
        rm_pair_table_reference(&w->pairs, p->pair_column[s], w->mean_dense, &w->gold);
        return;
    }
    double agreeing = 0.0;
    rm_pair_subset_stats(w->pair_gt, w->pair_eq, p->mask_words, K, sub->mask, sub->k, mean, w->golden, ens + SLOT_HIST,
                         ens + SLOT_HIST + disagreement_levels(sub->k), &agreeing);
    ens[SLOT_AGREE] += agreeing;
}

/* Subset s's aggregates, each computed or copied from its figure source, then its ensemble
 * figures if it is an ensemble source. */
static void subset_figures(const rm_eval_plan *p, rm_eval_work *w, int s, const float *z, size_t member_stride,
                           double *d)
{
    const rm_eval_subset *sub = &p->subsets[s];
    size_t K = p->n_responses;
    int mean_fresh = 0; /* w->aggregate row 0, mean_ranks, mean_dense hold this subset's mean */
    int moments = 0;    /* w->aggregate row 0 and w->square_sum hold its moments */
    const double *mean = w->aggregate;
    size_t mean_source = p->figure_source[(size_t)s * (size_t)p->n_aggregators];
    for (int a = 0; a < sub->n_aggregators; a++) {
        size_t own = sub->offset + (size_t)a * p->aggregator_slots;
        size_t source = p->figure_source[(size_t)s * (size_t)p->n_aggregators + (size_t)a];
        if (source != own) {
            memcpy(d + own, d + source, p->aggregator_slots * sizeof *d);
            continue;
        }
        double *agg = w->aggregate + (size_t)a * K;
        if (a == RM_AGG_MEAN || a >= 3) { /* mean and uwo: rm_aggregate's values, from one pass over the members */
            if (!moments)
                rm_member_moments(z, member_stride, sub->members, sub->k, K, w->aggregate, w->square_sum);
            moments = 1;
            if (a >= 3) {
                rm_uwo_from_moments(mean, w->square_sum, sub->k, p->uwo_lambda[a - 3], K, agg);
                /* equal to the mean (one member, or members that agree): the mean's figures */
                if (memcmp(agg, mean, K * sizeof *agg) == 0) {
                    memcpy(d + own, d + mean_source, p->aggregator_slots * sizeof *d);
                    continue;
                }
            }
        } else {
            rm_aggregate(z, member_stride, sub->members, sub->k, K, (rm_aggregator)a, 0.0, agg, w->sort_buffer);
        }
        aggregate_figures(p, w, agg, a == 0 ? w->mean_ranks : w->ranks, a == 0 ? w->mean_dense : NULL, d + own);
        mean_fresh |= a == 0;
    }
    if (!sub->ensemble_figures || p->ensemble_source[s] != s) return;
    if (!moments) rm_member_moments(z, member_stride, sub->members, sub->k, K, w->aggregate, w->square_sum);
    if (!mean_fresh) { /* its mean's figures came from another subset: the mean's ranks are needed here */
        rm_score_figures f;
        rm_score_figures_compute(w->aggregate, &w->gold, &w->bon, w->bon_values, NULL, w->mean_ranks, w->mean_dense,
                                 &f, &w->scratch);
    }
    ensemble_figures(p, w, s, d + sub->offset + (size_t)sub->n_aggregators * p->aggregator_slots);
}

/* The pair table's counts into each column's ensemble slots. */
static void pair_table_figures(const rm_eval_plan *p, rm_eval_work *w, const float *z, size_t member_stride, double *d)
{
    const rm_pair_table *t = &w->pairs;
    rm_pair_table_run(&w->pairs, z, member_stride, &w->gold);
    for (int s = 0; s < p->n_subsets; s++) {
        int c = p->pair_column[s];
        if (c < 0) continue;
        const rm_eval_subset *sub = &p->subsets[s];
        double *ens = d + sub->offset + (size_t)sub->n_aggregators * p->aggregator_slots;
        size_t levels = disagreement_levels(sub->k);
        ens[SLOT_AGREE] += (double)t->agreeing[c];
        for (size_t v = 0; v < levels; v++) {
            ens[SLOT_HIST + v] += (double)t->wrong[t->level_offset[c] + v];
            ens[SLOT_HIST + levels + v] += (double)t->right[t->level_offset[c] + v];
        }
    }
}

/* One prompt's figures into w->delta; features: the prompt's bias features (stride
 * feature_stride between views), or NULL. */
static void prompt_delta(const rm_eval_plan *p, rm_eval_work *w, const float *z, size_t member_stride,
                         const float *golden, const float *features, size_t feature_stride, size_t prompt)
{
    double *d = w->delta;
    memset(d, 0, p->n_slots * sizeof *d);
    prompt_shared(p, w, z, member_stride, golden, d);
    for (int s = 0; s < p->n_subsets; s++) subset_figures(p, w, s, z, member_stride, d);
    if (p->pair_table && p->n_pair_columns > 0) pair_table_figures(p, w, z, member_stride, d);
    for (int s = 0; s < p->n_subsets; s++) { /* repeated ensemble figures, now complete in their source */
        const rm_eval_subset *sub = &p->subsets[s], *src = &p->subsets[p->ensemble_source[s]];
        if (!sub->ensemble_figures || p->ensemble_source[s] == s) continue;
        memcpy(d + sub->offset + (size_t)sub->n_aggregators * p->aggregator_slots,
               d + src->offset + (size_t)src->n_aggregators * p->aggregator_slots, ensemble_slots(sub->k) * sizeof *d);
    }
    if (p->calibration.n_pairs > 0) rm_eval_calibration_prompt(p, w->member_probability, z, member_stride, golden, prompt, d);
    if (p->bias.n_views > 0 && features) /* after prompt_shared: the golden order and member ranks */
        rm_eval_bias_prompt(p, features, feature_stride, z, member_stride, &w->gold, &w->bon, w->member_ranks,
                            w->bias_scratch, &w->scratch, d);
}

static void add_delta(double *slots, const double *delta, size_t n)
{
    for (size_t i = 0; i < n; i++) slots[i] += delta[i];
}

void rm_eval_accumulate_prompt(const rm_eval_plan *p, rm_eval_work *w, const float *z, size_t member_stride,
                               const float *golden, size_t prompt, double *slots)
{
    prompt_delta(p, w, z, member_stride, golden, NULL, 0, prompt);
    add_delta(slots, w->delta, p->n_slots);
}

/* Pair masks of more threads than this are not allocated: ensembles of more than 12
 * members use K^2 masks per work (200 MB at K = 5000); fewer threads give the same bits. */
#define TEAM_MASK_BYTES ((size_t)512 << 20)

int rm_eval_team_create(rm_eval_team *t, const rm_eval_plan *p, int threads)
{
    memset(t, 0, sizeof *t);
    if (threads < 1) threads = 1;
    if (p->n_pair_columns > 0 && !p->pair_table) {
        size_t K = p->n_responses, mask_bytes = K * (K - 1) / 2 * p->mask_words * 2 * sizeof(uint64_t);
        size_t fit = mask_bytes > 0 ? TEAM_MASK_BYTES / mask_bytes : (size_t)threads;
        if ((size_t)threads > fit) threads = fit > 1 ? (int)fit : 1;
    }
    t->works = rm_calloc((size_t)threads, sizeof *t->works, "statistics threads");
    if (!t->works) return -1;
    for (int i = 0; i < threads; i++) {
        if (rm_eval_work_create(&t->works[i], p) != 0) {
            rm_eval_team_free(t);
            return rm_error_context("statistics thread %d of %d", i + 1, threads);
        }
        t->n_threads = i + 1;
    }
    return 0;
}

void rm_eval_team_free(rm_eval_team *t)
{
    for (int i = 0; i < t->n_threads; i++) rm_eval_work_free(&t->works[i]);
    free(t->works);
    memset(t, 0, sizeof *t);
}

typedef struct {
    const rm_eval_plan *p;
    rm_eval_team *team;
    const rm_eval_piece *piece;
    size_t first_prompt; /* test-split index of the round's prompt 0 */
} round_job;

/* Tile i of a round: the round's prompt i, with thread i's work. */
static void round_tile(const void *arg, int i)
{
    const round_job *j = arg;
    const rm_eval_piece *c = j->piece;
    size_t K = j->p->n_responses, at = (j->first_prompt + (size_t)i - c->q0) * K; /* the prompt's rows in the piece */
    prompt_delta(j->p, &j->team->works[i], c->z + at, c->member_stride, c->golden + at,
                 c->features ? c->features + at : NULL, c->feature_stride, j->first_prompt + (size_t)i);
}

void rm_eval_accumulate_piece(const rm_eval_plan *p, rm_eval_team *t, const rm_eval_piece *piece, size_t first_block,
                              double *blocks)
{
    size_t n = (size_t)t->n_threads;
    for (size_t q = piece->q0; q < piece->q1; q += n) {
        size_t count = piece->q1 - q < n ? piece->q1 - q : n;
        round_job job = {p, t, piece, q};
        rm_tiled_run(round_tile, &job, (int)count);
        for (size_t i = 0; i < count; i++) /* in prompt order */
            add_delta(blocks + ((q + i) / RM_EVAL_BLOCK_PROMPTS - first_block) * p->n_slots, t->works[i].delta,
                      p->n_slots);
    }
}

void rm_eval_accumulate_prompts(const rm_eval_plan *p, rm_eval_team *t, const float *z, size_t member_stride,
                                const float *golden, size_t q0, size_t q1, size_t first_block, double *blocks)
{
    rm_eval_piece piece = {z, golden, NULL, member_stride, 0, q0, q1};
    rm_eval_accumulate_piece(p, t, &piece, first_block, blocks);
}

void rm_eval_accumulate_bench(const rm_eval_plan *p, rm_eval_work *w, const float *z_chosen, const float *z_rejected,
                              size_t member_stride, size_t n, int64_t *counts)
{
    double chosen, rejected;
    for (int s = 0; s < p->n_subsets; s++) {
        const rm_eval_subset *sub = &p->subsets[s];
        for (int a = 0; a < sub->n_aggregators; a++) {
            rm_aggregator kind = a < 3 ? (rm_aggregator)a : RM_AGG_UWO;
            double lambda = a < 3 ? 0.0 : p->uwo_lambda[a - 3];
            int64_t twice_correct = 0;
            for (size_t i = 0; i < n; i++) {
                rm_aggregate(z_chosen + i, member_stride, sub->members, sub->k, 1, kind, lambda, &chosen, w->sort_buffer);
                rm_aggregate(z_rejected + i, member_stride, sub->members, sub->k, 1, kind, lambda, &rejected, w->sort_buffer);
                twice_correct += chosen > rejected ? 2 : chosen == rejected ? 1 : 0;
            }
            counts[(size_t)s * (size_t)p->n_aggregators + (size_t)a] += twice_correct;
        }
    }
}
