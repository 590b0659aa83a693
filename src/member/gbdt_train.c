/* Training a gradient-boosted tree member with XGBoost (the gbdt family, rmens/member/family.h).
 *
 * clf: XGBoost's binary:logistic on the training pairs' items, winners 1 and losers 0
 * (an item in several pairs is a row per pair, as the MLP's clf minibatches see it).
 * bt: the Bradley-Terry pair loss as a custom objective: every distinct item of the
 * training pairs is one row, and each round rmens computes the rows' gradients and
 * Hessians of sum_p -log sigmoid(r(w_p) - r(l_p)) (rm_gbdt_bt_gradients) and boosts one
 * tree with them (XGBoosterBoostOneIter), so the loss is the MLP's.
 * Rounds play the MLP's epochs: history per round, early stopping on the validation pairs
 * by train.patience / train.stop_rule, and the kept model is sliced at the best round
 * (train.restore_best). With S > 1 ranks per member the group's first rank trains (XGBoost
 * has no data-parallel mode here) and broadcasts the model. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/member/member_scoring.h"
#include "rmens/base/common.h"
#include "rmens/member/family_gbdt.h"
#include "rmens/member/train_lists.h"
#include "rmens/base/parallel.h"
#include "rmens/base/rng.h"

#ifdef RMENS_HAVE_XGBOOST
#include "gbdt_internal.h"

/* -log sigmoid(d), stable for either sign. */
static double pair_loss(double d) { return d > 0 ? log1p(exp(-d)) : -d + log1p(exp(d)); }

double rm_gbdt_bt_gradients(const float *scores, size_t n_rows, const uint32_t *winner_row, const uint32_t *loser_row,
                            size_t n_pairs, float *grad, float *hess)
{
    double *g = rm_calloc(2 * n_rows, sizeof(double), "pair gradients"), loss = 0;
    if (!g) return NAN;
    double *h = g + n_rows;
    for (size_t p = 0; p < n_pairs; p++) {
        double d = (double)scores[winner_row[p]] - (double)scores[loser_row[p]];
        double s = 1.0 / (1.0 + exp(-d)); /* P(winner preferred) */
        loss += pair_loss(d);
        g[winner_row[p]] += s - 1.0;
        g[loser_row[p]] += 1.0 - s;
        h[winner_row[p]] += s * (1.0 - s);
        h[loser_row[p]] += s * (1.0 - s);
    }
    for (size_t i = 0; i < n_rows; i++) {
        grad[i] = (float)g[i];
        hess[i] = (float)h[i];
    }
    free(g);
    return loss;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The DMatrices and per-row data one member trains on. */
typedef struct {
    int clf;
    size_t n_train, n_val, n_rows;  /* training pairs (list entries), validation pairs, training rows */
    uint32_t *rows_w, *rows_l;      /* bt: each training pair's rows */
    DMatrixHandle train, val;       /* val: winners of the validation pairs, then their losers */
    float *grad, *hess;             /* [n_rows] */
} gbdt_data;

static void data_free(gbdt_data *d)
{
    if (d->train) XGDMatrixFree(d->train);
    if (d->val) XGDMatrixFree(d->val);
    free(d->rows_w);
    free(d->grad);
    memset(d, 0, sizeof *d);
}

/* A DMatrix of n items (flat indices) of the train split, with labels when given. */
static int items_matrix(const rm_train_data *data, const uint32_t *items, size_t n, const float *labels, DMatrixHandle *out)
{
    size_t D = data->dim;
    float *X = rm_alloc(n * D, sizeof(float), "tree training rows");
    if (!X) return -1;
    for (size_t i = 0; i < n; i++) memcpy(X + i * D, data->embeddings + (size_t)items[i] * D, D * sizeof(float));
    int rc = rm_xgb_check(XGDMatrixCreateFromMat_omp(X, (bst_ulong)n, (bst_ulong)D, NAN, out, rm_gbdt_threads()), "rows");
    free(X);
    if (rc == 0 && labels) rc = rm_xgb_check(XGDMatrixSetFloatInfo(*out, "label", labels, (bst_ulong)n), "labels");
    return rc;
}

/* The rows: clf winners then losers with labels 1 / 0; bt the distinct items, and each
 * pair's two rows found by binary search. */
static int build_data(gbdt_data *d, const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, int index)
{
    memset(d, 0, sizeof *d);
    d->clf = strcmp(cfg->model_objective, "clf") == 0;
    d->n_train = rm_member_list_sizes(cfg, pairs, &d->n_val);
    uint32_t *ids = rm_alloc(d->n_train + d->n_val + 1, sizeof(uint32_t), "member lists");
    uint32_t *items = rm_alloc(2 * (d->n_train + d->n_val) + 1, sizeof(uint32_t), "member items");
    float *labels = rm_alloc(2 * d->n_train + 1, sizeof(float), "labels");
    int rc = ids && items && labels ? rm_member_lists(cfg, pairs, index, ids, ids + d->n_train) : -1;
    if (rc == 0) rc = rm_member_require_pairs(data, pairs);
    if (rc == 0 && d->n_train == 0) rc = rm_errorf("no training pairs");
    size_t n = d->n_train;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        items[i] = pairs->winner[ids[i]], items[n + i] = pairs->loser[ids[i]];
        labels[i] = 1.0f, labels[n + i] = 0.0f;
    }
    d->n_rows = 2 * n;
    if (rc == 0 && !d->clf) {
        uint32_t *sorted = rm_alloc(2 * n, sizeof(uint32_t), "distinct items");
        d->rows_w = rm_alloc(2 * n, sizeof(uint32_t), "pair rows");
        rc = sorted && d->rows_w ? 0 : -1;
        if (rc == 0) {
            memcpy(sorted, items, 2 * n * sizeof(uint32_t));
            qsort(sorted, 2 * n, sizeof(uint32_t), cmp_u32);
            size_t u = 0;
            for (size_t i = 0; i < 2 * n; i++)
                if (u == 0 || sorted[u - 1] != sorted[i]) sorted[u++] = sorted[i];
            d->rows_l = d->rows_w + n;
            for (size_t i = 0; i < 2 * n; i++)
                d->rows_w[i] = (uint32_t)((uint32_t *)bsearch(&items[i], sorted, u, sizeof(uint32_t), cmp_u32) - sorted);
            d->n_rows = u;
            memcpy(items, sorted, u * sizeof(uint32_t));
        }
        free(sorted);
    }
    if (rc == 0) rc = items_matrix(data, items, d->n_rows, d->clf ? labels : NULL, &d->train);
    for (size_t i = 0; rc == 0 && i < d->n_val; i++)
        items[i] = pairs->winner[ids[n + i]], items[d->n_val + i] = pairs->loser[ids[n + i]];
    if (rc == 0 && d->n_val > 0) rc = items_matrix(data, items, 2 * d->n_val, NULL, &d->val);
    d->grad = rc == 0 ? rm_alloc(2 * d->n_rows, sizeof(float), "gradients") : NULL;
    if (rc == 0 && !d->grad) rc = -1;
    if (d->grad) d->hess = d->grad + d->n_rows;
    free(ids), free(items), free(labels);
    if (rc != 0) data_free(d);
    return rc;
}

/* The booster with the member's parameters (seed: the member's, for subsampling). */
static int create_booster(const rm_settings *cfg, const gbdt_data *d, uint64_t seed, BoosterHandle *out)
{
    DMatrixHandle cache[2] = {d->train, d->val};
    if (rm_xgb_check(XGBoosterCreate(cache, d->val ? 2 : 1, out), "creating the booster") != 0) return -1;
    char v[9][32];
    snprintf(v[0], 32, "%d", rm_gbdt_threads());
    snprintf(v[1], 32, "%llu", (unsigned long long)(seed & 0x7fffffffULL));
    snprintf(v[2], 32, "%.17g", cfg->gbdt_eta);
    snprintf(v[3], 32, "%lld", cfg->gbdt_max_depth);
    snprintf(v[4], 32, "%.17g", cfg->gbdt_min_child_weight);
    snprintf(v[5], 32, "%.17g", cfg->gbdt_subsample);
    snprintf(v[6], 32, "%.17g", cfg->gbdt_colsample);
    snprintf(v[7], 32, "%.17g", cfg->gbdt_lambda);
    const char *params[][2] = {
        {"nthread", v[0]}, {"seed", v[1]}, {"eta", v[2]}, {"max_depth", v[3]}, {"min_child_weight", v[4]},
        {"subsample", v[5]}, {"colsample_bytree", v[6]}, {"lambda", v[7]}, {"tree_method", cfg->gbdt_tree_method},
        /* bt keeps the default objective's identity transform: margins are r(x); a zero
         * base score because a constant cancels in every pair */
        {"objective", d->clf ? "binary:logistic" : "reg:squarederror"}, {"base_score", d->clf ? "0.5" : "0"},
        {"disable_default_eval_metric", "1"}, {"validate_parameters", "1"}, {"verbosity", "1"}};
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "parameter %s = %s", params[i][0], params[i][1]);
        if (rm_xgb_check(XGBoosterSetParam(*out, params[i][0], params[i][1]), what) != 0) return -1;
    }
    return 0;
}

/* Margins of a cached DMatrix (`training`: for the objective's gradient). */
static int predict(BoosterHandle b, DMatrixHandle dm, int training, const float **out, size_t n)
{
    const char *config = training ? "{\"type\": 1, \"training\": true, \"iteration_begin\": 0, \"iteration_end\": 0, \"strict_shape\": false}"
                                   : "{\"type\": 1, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, \"strict_shape\": false}";
    const bst_ulong *shape = NULL;
    bst_ulong dims = 0;
    if (rm_xgb_check(XGBoosterPredictFromDMatrix(b, dm, config, &shape, &dims, out), "predicting") != 0) return -1;
    if (dims < 1 || shape[0] != n) return rm_errorf("predicting: XGBoost returned %llu rows for %zu", dims ? (unsigned long long)shape[0] : 0ULL, n);
    return 0;
}

/* Mean objective loss of pairs given as winner margins w[n] and loser margins l[n]
 * (bt per pair, clf per item), and the fraction ranked right. */
static void pair_figures(int clf, const float *w, const float *l, size_t n, double *loss, double *accuracy)
{
    double sum = 0, right = 0;
    for (size_t i = 0; i < n; i++) {
        sum += clf ? pair_loss(w[i]) + pair_loss(-(double)l[i]) : pair_loss((double)w[i] - (double)l[i]);
        right += w[i] > l[i];
    }
    *loss = sum / ((clf ? 2.0 : 1.0) * (double)n);
    *accuracy = right / (double)n;
}

/* One boosting round; *train_loss: the objective's mean before it (as the MLP's epoch loss). */
static int boost_round(BoosterHandle b, gbdt_data *d, int round, double *train_loss)
{
    const float *m = NULL;
    if (predict(b, d->train, 1, &m, d->n_rows) != 0) return -1;
    if (d->clf) {
        double accuracy;
        pair_figures(1, m, m + d->n_train, d->n_train, train_loss, &accuracy);
        return rm_xgb_check(XGBoosterUpdateOneIter(b, round, d->train), "boosting a round");
    }
    /* m is XGBoost's buffer, valid until its next call: the gradients are taken first */
    double loss = rm_gbdt_bt_gradients(m, d->n_rows, d->rows_w, d->rows_l, d->n_train, d->grad, d->hess);
    if (!isfinite(loss)) return rm_errorf("round %d: the pair loss is not finite", round + 1);
    *train_loss = loss / (double)d->n_train;
    return rm_xgb_check(XGBoosterBoostOneIter(b, d->train, d->grad, d->hess, (bst_ulong)d->n_rows), "boosting a round");
}

/* The rounds, with early stopping; out's history filled, *best the rounds kept. */
static int boost(const rm_settings *cfg, BoosterHandle b, gbdt_data *d, rm_member *out, rm_progress_fn progress,
                 void *ctx, int *best)
{
    const int rounds = (int)cfg->gbdt_rounds, patience = (int)cfg->train_patience;
    const int rise = strcmp(cfg->train_stop_rule, "rise") == 0;
    double best_val = INFINITY, t0 = rm_now();
    int since_best = 0;
    *best = 0;
    for (int r = 0; r < rounds; r++) {
        double train_loss = 0, val_loss = NAN, val_accuracy = NAN;
        if (boost_round(b, d, r, &train_loss) != 0) return -1;
        const float *m = NULL;
        if (d->val && predict(b, d->val, 0, &m, 2 * d->n_val) != 0) return -1;
        if (d->val) pair_figures(d->clf, m, m + d->n_val, d->n_val, &val_loss, &val_accuracy);
        out->train_loss[r] = train_loss, out->val_loss[r] = val_loss, out->val_accuracy[r] = val_accuracy;
        out->epochs_run = r + 1;
        out->pairs_trained += (long long)d->n_train;
        int stop = 0;
        if (!d->val) *best = r + 1;
        else if (val_loss < best_val) best_val = val_loss, *best = r + 1, since_best = 0;
        else since_best++;
        if (d->val && patience > 0) {
            if (!rise) stop = since_best >= patience;
            else if (r >= patience) {
                stop = 1;
                for (int k = r - patience; k < r; k++) stop &= out->val_loss[r] > out->val_loss[k];
            }
        }
        /* a line every 10 rounds: trees take milliseconds a round */
        if (progress && (stop || r + 1 == rounds || (r + 1) % 10 == 0)) {
            double s = rm_now() - t0;
            progress(out, r + 1, rounds, train_loss, val_loss, val_accuracy, s > 0 ? (double)out->pairs_trained / s : 0,
                     stop ? 0 : s / (r + 1) * (rounds - r - 1), ctx);
        }
        if (stop) break;
    }
    if (!cfg->train_restore_best || *best == 0) *best = out->epochs_run;
    return 0;
}

/* The trained booster cut at `rounds`, as JSON into out (and loaded back, so that rmens
 * scores with exactly what it stores). */
static int keep_model(BoosterHandle b, int rounds, int all_rounds, rm_member *out)
{
    BoosterHandle kept = b;
    if (rounds < all_rounds) {
        int rc = XGBoosterSlice(b, 0, rounds, 1, &kept);
        if (rm_xgb_check(rc, "keeping the best rounds") != 0) return -1;
    }
    bst_ulong len = 0;
    const char *json = NULL;
    int rc = rm_xgb_check(XGBoosterSaveModelToBuffer(kept, "{\"format\": \"json\"}", &len, &json), "saving the model");
    char name[48];
    snprintf(name, sizeof name, "member %d", out->index);
    if (rc == 0) rc = rm_gbdt_model_load(out, json, (size_t)len, name);
    if (kept != b) XGBoosterFree(kept);
    return rc;
}

/* On the group's first rank: the whole training. */
static int train_here(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, int index, rm_member *out,
                      rm_progress_fn progress, void *ctx)
{
    const int rounds = (int)cfg->gbdt_rounds;
    out->train_loss = rm_calloc((size_t)rounds, sizeof(double), "history");
    out->val_loss = rm_calloc((size_t)rounds, sizeof(double), "history");
    out->val_accuracy = rm_calloc((size_t)rounds, sizeof(double), "history");
    if (!out->train_loss || !out->val_loss || !out->val_accuracy) return -1;
    gbdt_data d;
    if (build_data(&d, cfg, data, pairs, index) != 0) return -1;
    BoosterHandle b = NULL;
    int best = 0, rc = create_booster(cfg, &d, out->seed, &b);
    if (rc == 0) rc = boost(cfg, b, &d, out, progress, ctx, &best);
    out->best_epoch = best;
    if (rc == 0) rc = keep_model(b, best, out->epochs_run, out);
    if (b) XGBoosterFree(b);
    data_free(&d);
    return rc;
}

int rm_gbdt_train_member(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, int index,
                         MPI_Comm group, rm_member *out, rm_progress_fn progress, void *ctx, rm_train_control *control)
{
    /* Trees train in seconds: a stop request waits for the member's end (train_slot then
     * stops before the next one), and a member is never checkpointed half-grown. */
    if (control) control->interrupted = 0;
    double t0 = rm_now();
    int rank = 0, rc = 0;
    MPI_Comm_rank(group, &rank);
    memset(out, 0, sizeof *out);
    out->index = index;
    out->seed = rm_member_seed((uint64_t)cfg->seed, index);
    out->family = &rm_family_gbdt;
    if (rank == 0) rc = train_here(cfg, data, pairs, index, out, progress, ctx);
    if (rc != 0) rm_error_context("member %d", index);
    if (rm_all_ok(group, rc) != 0) goto fail;
    long long ints[3] = {out->epochs_run, out->best_epoch, out->pairs_trained};
    MPI_Bcast(ints, 3, MPI_LONG_LONG, 0, group);
    out->epochs_run = (int)ints[0], out->best_epoch = (int)ints[1], out->pairs_trained = ints[2];
    if (rm_family_gbdt.bcast(out, group, rank, 0) != 0) goto fail;
    if (rm_member_standardise_train(out, data, (size_t)cfg->train_standardise_responses, group) != 0) goto fail;
    out->train_seconds = rm_now() - t0;
    return 0;
fail:
    rm_member_free(out);
    return -1;
}

#else

double rm_gbdt_bt_gradients(const float *scores, size_t n_rows, const uint32_t *winner_row, const uint32_t *loser_row,
                            size_t n_pairs, float *grad, float *hess)
{
    (void)scores, (void)n_rows, (void)winner_row, (void)loser_row, (void)n_pairs, (void)grad, (void)hess;
    return NAN;
}

#endif
