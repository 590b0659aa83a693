/* Feature-bias diagnostics (include/rmens/eval/eval_bias.h): the plan's slots, the reads of
 * the feature per scored piece, one prompt's figures and the final figures.
 *
 * The figures follow the evaluation's design: each prompt's values go into its delta and
 * block, the blocks are summed in block order on rank 0 (src/eval/eval_figures.c), so they
 * are bitwise the same for any rank and thread count. The comparisons reuse what the
 * prompt's other figures computed already: the golden order and the best-of-n win table,
 * and each member's average ranks. */
#include "rmens/eval/eval_bias.h"

#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"

/* (sum, count) of a mean over prompts: a NaN (a constant side, no Spearman) adds nothing. */
static inline void add_mean(double *slot, double value)
{
    if (isnan(value)) return;
    slot[0] += value;
    slot[1] += 1.0;
}

static double ratio(const double *slot) { return slot[1] > 0 ? slot[0] / slot[1] : NAN; }

/* Slot offsets within one view's slots. */
static size_t slot_aggregator(int a) { return 2 + 2 * (size_t)a; }
static size_t slot_member(const rm_eval_plan *p, int m) { return slot_aggregator(p->n_aggregators) + 2 * (size_t)m; }
static size_t slot_bon(const rm_eval_plan *p, int j) { return slot_member(p, p->n_members) + 2 * (size_t)j; }

/* The prompts x responses of view v's test split, from its open dataset: the store checks
 * them at open, checked again here because a mismatch would silently misalign prompts. */
static int view_test_shape(const rm_store *store, int v, hsize_t dims[3])
{
    hid_t d = v == 0 ? store->embeddings[RM_SPLIT_TEST] : store->views[v].embeddings[RM_SPLIT_TEST];
    hid_t space = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    int rc = rank == 3 && H5Sget_simple_extent_dims(space, dims, NULL) == 3 ? 0 : -1;
    if (space >= 0) H5Sclose(space);
    if (rc != 0)
        return rm_errorf("eval.bias_features: %s: cannot read the shape of view '%s''s test split", store->path,
                         store->views[v].name);
    return 0;
}

int rm_eval_plan_bias(rm_eval_plan *p, const rm_settings *cfg, const rm_store *store)
{
    rm_eval_bias *b = &p->bias;
    if (cfg->eval_n_bias_features <= 0) return 0;
    if (b->n_views > 0) return rm_errorf("eval.bias_features: the plan has its bias features already");
    const rm_split_info *test = &store->split[RM_SPLIT_TEST];
    for (int i = 0; i < cfg->eval_n_bias_features; i++) {
        const char *name = cfg->eval_bias_features[i];
        int v = rm_store_find_view(store, name); /* its error lists the store's views */
        if (v < 0) return rm_error_context("eval.bias_features");
        for (int j = 0; j < i; j++)
            if (b->view[j] == v) return rm_errorf("eval.bias_features: view '%s' is listed twice", name);
        hsize_t dims[3];
        if (view_test_shape(store, v, dims) != 0) return -1;
        if (dims[0] != test->n_prompts || dims[1] != test->n_responses)
            return rm_errorf("eval.bias_features: view '%s' has %llu test prompts x %llu responses, the test split "
                             "%zu x %zu", name, (unsigned long long)dims[0], (unsigned long long)dims[1],
                             test->n_prompts, test->n_responses);
        b->view[i] = v;
        b->dim[i] = rm_store_view_dim(store, v);
        snprintf(b->names[i], sizeof b->names[i], "%s", name);
    }
    b->n_views = cfg->eval_n_bias_features;
    b->view_slots = slot_bon(p, p->n_bon);
    b->offset = p->n_slots;
    p->n_slots += (size_t)b->n_views * b->view_slots;
    return 0;
}

size_t rm_eval_bias_max_dim(const rm_eval_plan *p)
{
    size_t dim = 0;
    for (int i = 0; i < p->bias.n_views; i++) dim = p->bias.dim[i] > dim ? p->bias.dim[i] : dim;
    return dim;
}

/* feature, its ranks, an aggregate, its ranks [K] each; bon [n_bon]; median's sort [E] */
size_t rm_eval_bias_scratch_doubles(const rm_eval_plan *p)
{
    return 4 * p->n_responses + (size_t)p->n_bon + (size_t)p->n_members;
}

int rm_eval_bias_read(const rm_eval_plan *p, rm_store *store, size_t q0, size_t q1, float *buffer, float *features,
                      size_t feature_stride)
{
    size_t rows = (q1 - q0) * p->n_responses;
    for (int i = 0; i < p->bias.n_views; i++) {
        /* every rank reads, an empty range too: the reads are collective */
        if (rm_store_read_view_embeddings(store, p->bias.view[i], RM_SPLIT_TEST, q0, q1, buffer) != 0)
            return rm_error_context("eval.bias_features: view '%s', test prompts [%zu, %zu)", p->bias.names[i], q0, q1);
        size_t F = p->bias.dim[i];
        float *out = features + (size_t)i * feature_stride;
        for (size_t r = 0; r < rows; r++) out[r] = buffer[r * F]; /* the first feature of each response */
    }
    return 0;
}

void rm_eval_bias_prompt(const rm_eval_plan *p, const float *features, size_t feature_stride, const float *z,
                         size_t member_stride, const rm_golden_sorted *gold, const rm_bon_table *bon,
                         const double *member_ranks, double *scratch, rm_metric_scratch *s, double *d)
{
    size_t K = p->n_responses;
    double *feature = scratch, *feature_ranks = scratch + K, *agg = scratch + 2 * K, *agg_ranks = scratch + 3 * K;
    double *bon_values = scratch + 4 * K, *sort_buffer = bon_values + p->n_bon;
    const rm_eval_subset *full = &p->subsets[0];
    for (int i = 0; i < p->bias.n_views; i++) {
        double *slots = d + p->bias.offset + (size_t)i * p->bias.view_slots;
        for (size_t r = 0; r < K; r++) feature[r] = features[(size_t)i * feature_stride + r];
        /* the feature as a score: its golden best-of-n (higher value picked, ties sharing)
         * and Spearman with golden exactly as an aggregator's, and its average ranks */
        rm_score_figures f;
        rm_score_figures_compute(feature, gold, bon, bon_values, NULL, feature_ranks, NULL, &f, s);
        add_mean(slots, f.spearman);
        for (int j = 0; j < p->n_bon; j++) add_mean(slots + slot_bon(p, j), bon_values[j]);
        /* rm_pearson of average ranks is rm_spearman; NaN (skipped) when a side is constant */
        for (int a = 0; a < p->n_aggregators; a++) {
            rm_aggregator kind = a < 3 ? (rm_aggregator)a : RM_AGG_UWO;
            rm_aggregate(z, member_stride, full->members, full->k, K, kind, a < 3 ? 0.0 : p->uwo_lambda[a - 3], agg,
                         sort_buffer);
            rm_average_ranks(agg, K, agg_ranks, s);
            add_mean(slots + slot_aggregator(a), rm_pearson(feature_ranks, agg_ranks, K));
        }
        for (int m = 0; m < p->n_members; m++)
            add_mean(slots + slot_member(p, m), rm_pearson(feature_ranks, member_ranks + (size_t)m * K, K));
    }
}

int rm_eval_bias_finish(const rm_eval_plan *p, const double *total, rm_eval_results *out)
{
    int n = p->bias.n_views, E = p->n_members;
    if (n == 0) return 0;
    out->bias = rm_calloc((size_t)n, sizeof *out->bias, "feature bias figures");
    if (!out->bias) return -1;
    out->n_bias = n;
    for (int i = 0; i < n; i++) {
        rm_bias_figures *f = &out->bias[i];
        const double *slots = total + p->bias.offset + (size_t)i * p->bias.view_slots;
        f->member = rm_alloc((size_t)E, sizeof(double), "feature bias figures");
        if (!f->member) return -1; /* the caller frees out, f->member of the views before too */
        f->golden = ratio(slots);
        for (int a = 0; a < p->n_aggregators; a++) f->aggregate[a] = ratio(slots + slot_aggregator(a));
        f->warm = NAN; /* rm_warm_evaluate's, when it runs */
        /* single: the mean over members of each member's own mean, as results' "single"
         * figures average members (members without a defined figure left out) */
        double sum = 0.0, count = 0.0;
        for (int m = 0; m < E; m++) {
            f->member[m] = ratio(slots + slot_member(p, m));
            if (!isnan(f->member[m])) sum += f->member[m], count += 1.0;
        }
        f->single = count > 0 ? sum / count : NAN;
        for (int j = 0; j < p->n_bon; j++) f->bon[j] = ratio(slots + slot_bon(p, j));
    }
    return 0;
}
