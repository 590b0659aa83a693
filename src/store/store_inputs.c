/* Composite inputs (model.inputs): stored views concatenated and standardised, read as
 * one more view (see include/rmens/store/store_inputs.h). */
#include "rmens/store/store_inputs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/base/parallel.h"
#include "store_internal.h"

int rm_store_inputs_name(const char names[][64], int n, char *name, size_t size)
{
    size_t used = 0;
    name[0] = '\0';
    for (int i = 0; i < n; i++) {
        int w = snprintf(name + used, size - used, "%s%s", i ? "+" : "inputs:", names[i]);
        if (w < 0 || (size_t)w >= size - used) return rm_errorf("model.inputs: the joined view names exceed %zu characters", size - 1);
        used += (size_t)w;
    }
    return 0;
}

/* The stored views of `names`, checked: each exists, is stored (not a composite), and
 * appears once. Local. */
static int resolve_parts(const rm_store *s, const char names[][64], int n, int *parts, size_t *dim)
{
    if (n < 1 || n > RM_STORE_MAX_VIEWS) return rm_errorf("model.inputs: %d views; 1 to %d allowed", n, RM_STORE_MAX_VIEWS);
    *dim = 0;
    for (int i = 0; i < n; i++) {
        int v = rm_store_find_view(s, names[i]);
        if (v < 0) return rm_error_context("model.inputs entry %d", i);
        if (s->views[v].ops) return rm_errorf("model.inputs entry %d: '%s' is itself a composite", i, names[i]);
        for (int j = 0; j < i; j++)
            if (parts[j] == v) return rm_errorf("model.inputs: view '%s' is listed twice", names[i]);
        parts[i] = v;
        *dim += rm_store_view_dim(s, v);
    }
    if (*dim > RM_STORE_INPUTS_MAX_DIM) return rm_errorf("model.inputs: %zu features in all, at most %zu", *dim, RM_STORE_INPUTS_MAX_DIM);
    return 0;
}

/* rows x [parts' D] of split rows [p0, p1) (items as rows: K per prompt) into out[rows, dim],
 * raw; `piece` holds one part's rows. Collective. */
static int read_concatenated(rm_store *s, const int *parts, int n, size_t dim, rm_split split, size_t p0, size_t p1,
                             float *out, float *piece)
{
    const size_t rows = (p1 - p0) * s->split[split].n_responses;
    size_t offset = 0;
    for (int i = 0; i < n; i++) {
        const size_t dp = rm_store_view_dim(s, parts[i]);
        if (rm_store_read_view_embeddings(s, parts[i], split, p0, p1, piece) != 0) return -1;
        for (size_t r = 0; r < rows; r++) memcpy(out + r * dim + offset, piece + r * dp, dp * sizeof(float));
        offset += dp;
    }
    return 0;
}

/* Prompts per piece so that one piece of the widest part and of the composite stay
 * within the store's read bound. */
static size_t prompts_per_piece(const rm_store *s, rm_split split, size_t dim)
{
    size_t row_bytes = s->split[split].n_responses * dim * sizeof(float) * 2;
    size_t bound = s->read_chunk_bytes ? s->read_chunk_bytes : ((size_t)64 << 20);
    size_t n = row_bytes ? bound / row_bytes : 1;
    return n ? n : 1;
}

int rm_store_inputs_moments(rm_store *s, const char names[][64], int n, double *mean, double *std, size_t *dim)
{
    int parts[RM_STORE_MAX_VIEWS];
    if (rm_all_ok(s->comm, resolve_parts(s, names, n, parts, dim)) != 0) return -1;
    if (!mean) return 0;
    const size_t D = *dim, K = s->split[RM_SPLIT_TRAIN].n_responses, N = s->split[RM_SPLIT_TRAIN].n_prompts;
    const size_t step = prompts_per_piece(s, RM_SPLIT_TRAIN, D);
    float *rows = rm_alloc(step * K * D + 1, sizeof(float), "model.inputs piece");
    float *piece = rm_alloc(step * K * D + 1, sizeof(float), "model.inputs view piece");
    double *shift = rm_calloc(D + 1, sizeof(double), "model.inputs shift");
    double *sum2 = rm_calloc(D + 1, sizeof(double), "model.inputs squares");
    int rc = rm_all_ok(s->comm, rows && piece && shift && sum2 ? 0 : -1);
    /* one pass of shifted sums (shift: the first item's value), in item order: the same
     * bits on every rank, and no cancellation for features far from zero (lengths) */
    for (size_t j = 0; j < D; j++) mean[j] = 0;
    for (size_t p0 = 0; p0 < N && rc == 0; p0 += step) {
        size_t p1 = p0 + step < N ? p0 + step : N;
        rc = read_concatenated(s, parts, n, D, RM_SPLIT_TRAIN, p0, p1, rows, piece);
        if (rc != 0) break;
        if (p0 == 0)
            for (size_t j = 0; j < D; j++) shift[j] = rows[j];
        for (size_t r = 0; r < (p1 - p0) * K; r++)
            for (size_t j = 0; j < D; j++) {
                double d = (double)rows[r * D + j] - shift[j];
                mean[j] += d;
                sum2[j] += d * d;
            }
    }
    const double count = (double)(N * K);
    for (size_t j = 0; j < D && rc == 0; j++) {
        double m = mean[j] / count, var = sum2[j] / count - m * m;
        mean[j] = shift[j] + m;
        std[j] = var > 0 ? sqrt(var) : 1.0; /* a constant feature reads 0 */
        if (!isfinite(mean[j]) || !isfinite(std[j]))
            rc = rm_errorf("model.inputs: feature %zu of the train split has a non-finite mean or spread", j);
    }
    free(rows);
    free(piece);
    free(shift);
    free(sum2);
    return rc;
}

static const rm_store_view_ops INPUTS_OPS;

int rm_store_inputs_add(rm_store *s, const char names[][64], int n, const double *mean, const double *std, size_t dim,
                        int *index)
{
    char name[64];
    if (rm_store_inputs_name(names, n, name, sizeof name) != 0) return -1;
    for (int v = 0; v < s->n_views; v++)
        if (strcmp(s->views[v].name, name) == 0) return rm_errorf("%s: view '%s' is there already", s->path, name);
    if (s->n_views >= RM_STORE_MAX_VIEWS)
        return rm_errorf("%s: %d views already, no room for the composite '%s'", s->path, s->n_views, name);
    struct rm_store_inputs *in = rm_calloc(1, sizeof *in, "model.inputs");
    if (!in) return -1;
    size_t parts_dim = 0;
    if (resolve_parts(s, names, n, in->parts, &parts_dim) != 0 ||
        (parts_dim != dim && rm_errorf("model.inputs %s: %zu features recorded, the store's views have %zu", name, dim,
                                       parts_dim))) {
        free(in);
        return -1;
    }
    in->n_parts = n;
    in->dim = dim;
    in->mean = rm_alloc(dim, sizeof(double), "model.inputs mean");
    in->std = rm_alloc(dim, sizeof(double), "model.inputs std");
    if (!in->mean || !in->std) {
        free(in->mean), free(in->std), free(in);
        return -1;
    }
    memcpy(in->mean, mean, dim * sizeof(double));
    memcpy(in->std, std, dim * sizeof(double));
    rm_store_view *v = &s->views[s->n_views];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    v->dim = dim;
    v->embeddings[0] = v->embeddings[1] = v->bench[0] = v->bench[1] = H5I_INVALID_HID;
    v->inputs = in;
    v->ops = &INPUTS_OPS;
    *index = s->n_views++;
    return 0;
}

/* out[r, j] = (x - mean_j) / std_j over the composite's rows, in double. */
static void standardise(const struct rm_store_inputs *in, float *out, size_t rows)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < in->dim; j++) {
            float *x = out + r * in->dim + j;
            *x = (float)(((double)*x - in->mean[j]) / in->std[j]);
        }
}

static int read_rows(rm_store *s, int view, int split_index, size_t p0, size_t p1, float *out)
{
    const rm_split split = (rm_split)split_index;
    const struct rm_store_inputs *in = s->views[view].inputs;
    size_t widest = 0;
    for (int i = 0; i < in->n_parts; i++)
        if (rm_store_view_dim(s, in->parts[i]) > widest) widest = rm_store_view_dim(s, in->parts[i]);
    const size_t rows = p1 > p0 ? (p1 - p0) * s->split[split].n_responses : 0;
    float *piece = rm_alloc(rows * widest + 1, sizeof(float), "model.inputs view rows");
    int rc = rm_all_ok(s->comm, piece ? 0 : -1);
    if (rc == 0) rc = read_concatenated(s, in->parts, in->n_parts, in->dim, split, p0, p1, out, piece);
    if (rc == 0) standardise(in, out, rows);
    free(piece);
    return rc;
}

static int read_bench(rm_store *s, int view, size_t i0, size_t i1, float *chosen, float *rejected)
{
    const struct rm_store_inputs *in = s->views[view].inputs;
    const size_t rows = i1 > i0 ? i1 - i0 : 0;
    float *c = rm_alloc(rows * in->dim + 1, sizeof(float), "model.inputs bench rows");
    float *r = rm_alloc(rows * in->dim + 1, sizeof(float), "model.inputs bench rows");
    int rc = rm_all_ok(s->comm, c && r ? 0 : -1);
    size_t offset = 0;
    for (int i = 0; i < in->n_parts && rc == 0; i++) {
        const size_t dp = rm_store_view_dim(s, in->parts[i]);
        rc = rm_store_read_view_bench(s, in->parts[i], i0, i1, c, r);
        for (size_t k = 0; k < rows && rc == 0; k++) {
            memcpy(chosen + k * in->dim + offset, c + k * dp, dp * sizeof(float));
            memcpy(rejected + k * in->dim + offset, r + k * dp, dp * sizeof(float));
        }
        offset += dp;
    }
    if (rc == 0) {
        standardise(in, chosen, rows);
        standardise(in, rejected, rows);
    }
    free(c);
    free(r);
    return rc;
}

static void release(rm_store_view *v)
{
    if (!v->inputs) return;
    free(v->inputs->mean);
    free(v->inputs->std);
    free(v->inputs);
    v->inputs = NULL;
    v->ops = NULL;
}

/* How the store reads and releases a composite view. */
static const rm_store_view_ops INPUTS_OPS = {read_rows, read_bench, release};
