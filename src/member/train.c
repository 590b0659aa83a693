/* Training one ensemble member (see include/rmens/member/train.h).
 *
 * Reproducibility: everything random comes from the member's own streams keyed by its
 * seed (initialisation, bootstrap, one minibatch order per epoch), so with one rank per
 * member the trained weights depend on (cfg, member index) only. With S ranks per member
 * every rank takes a contiguous share of each minibatch; the gradient (already divided by
 * the full minibatch size) is summed with one MPI_Allreduce and every rank applies the
 * same Adam step. Summation order then differs from S = 1 by float round-off only. */
#include "rmens/member/member_scoring.h"
#include "rmens/member/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "member_internal.h"
#include "train_state_internal.h"
#include "rmens/base/common.h"
#include "rmens/model/optim.h"
#include "rmens/base/parallel.h"
#include "rmens/base/progress.h"
#include "rmens/base/rng.h"
#include "rmens/member/trunk.h"
#include "rmens/member/shared_init.h"
#include "rmens/member/train_lists.h"
#include "rmens/kernels/tiled_blas.h"

/* [begin, end) of part `index` of n items split evenly over `parts`. */
/* Fisher-Yates of perm[0..n) from counters base, base+1, ...: one stream serves every
 * epoch by giving each epoch its own counter range. */
static void shuffle(uint64_t seed, uint64_t stream, uint64_t base, uint32_t *perm, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rm_rand_below(seed, stream, base + (n - i), i);
        uint32_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}

/* The 2n scores of pairs ids[0..n) (winners, then losers) into b->scores: from the rows
 * rounded once (b->rows) when the first product runs in bf16, else from the fp32 rows.
 * The backward that follows takes batch_rows(b). timed: the gather and the forward count
 * in b->phase (a training step; validation is timed as a whole by its caller). */
static void score_pairs(const rm_mlp *mlp, train_buffers *b, const rm_train_data *data, const rm_pairs *pairs,
                        const uint32_t *ids, size_t n, int timed)
{
    double t0 = rm_now();
    if (b->rows.table) rm_train_rows_gather(&b->rows, b->X_low, ids, n);
    else rm_gather_pair_rows(b->X, data->embeddings, data->dim * sizeof(float), pairs->winner, pairs->loser, ids, n);
    double t1 = rm_now();
    if (b->rows.table) rm_mlp_forward_rounded(mlp, &b->ws, b->X_low, (int)(2 * n), b->scores);
    else rm_mlp_forward(mlp, &b->ws, b->X, (int)(2 * n), b->scores);
    if (timed) b->phase[PHASE_GATHER] += t1 - t0, b->phase[PHASE_FORWARD] += rm_now() - t1;
}

/* A phase's seconds since *t, added to b->phase[k]; *t moves to now. */
static void phase_add(train_buffers *b, int k, double *t)
{
    double now = rm_now();
    b->phase[k] += now - *t;
    *t = now;
}

/* The per-member line: where the time went, so that a slow phase shows without a profiler. */
static void phase_report(const train_buffers *b, int index, int heads)
{
    static const char *names[N_PHASES] = {"set-up",   "gather", "forward",    "objective",       "backward",
                                          "gradient sum", "Adam",   "validation", "kept weights and standardisation"};
    double total = 0;
    for (int k = 0; k < N_PHASES; k++) total += b->phase[k];
    if (!(total > 0)) return;
    char line[512];
    int world_rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    int used = snprintf(line, sizeof line, "[rank %d] %s %d time %.1f s:", world_rank,
                        heads > 1 ? "shared trunk of members 0 .." : "member", heads > 1 ? heads - 1 : index, total);
    for (int k = 0; k < N_PHASES && used > 0 && (size_t)used < sizeof line; k++)
        used += snprintf(line + used, sizeof line - (size_t)used, "%s %s %.1f%%", k ? "," : "", names[k],
                         100.0 * b->phase[k] / total);
    rm_infof("%s", line);
}

static const float *batch_rows(const train_buffers *b) { return b->rows.table ? NULL : b->X; }

/* Summed objective over 2n scores (winners then losers) with dscores; labels for clf. */
static double objective_loss(int clf, const float *scores, size_t n, float *dscores, float *labels)
{
    if (!clf) return rm_bt_loss(scores, (int)n, dscores, NULL);
    for (size_t i = 0; i < n; i++) {
        labels[i] = 1.0f;
        labels[n + i] = 0.0f;
    }
    return rm_clf_loss(scores, labels, (int)(2 * n), dscores, NULL);
}

/* Every value rm_train_member relies on, checked with the config key in the message:
 * callers may fill rm_settings by hand, not only through the schema. */
static int check_settings(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs)
{
    if (strcmp(cfg->model_objective, "bt") != 0 && strcmp(cfg->model_objective, "clf") != 0)
        return rm_errorf("model.objective = \"%s\": expected \"bt\" or \"clf\"", cfg->model_objective);
    if (strcmp(cfg->ensemble_data, "full") != 0 && strcmp(cfg->ensemble_data, "bootstrap") != 0)
        return rm_errorf("ensemble.data = \"%s\": expected \"full\" or \"bootstrap\"", cfg->ensemble_data);
    if (strcmp(cfg->train_stop_rule, "no_improvement") != 0 && strcmp(cfg->train_stop_rule, "rise") != 0)
        return rm_errorf("train.stop_rule = \"%s\": expected \"no_improvement\" or \"rise\"", cfg->train_stop_rule);
    if (strcmp(cfg->train_minibatches, "epoch") != 0 && strcmp(cfg->train_minibatches, "draw") != 0)
        return rm_errorf("train.minibatches = \"%s\": expected \"epoch\" or \"draw\"", cfg->train_minibatches);
    if (cfg->pairs_both_orders && pairs->n > (UINT32_MAX >> 1))
        return rm_errorf("pairs.both_orders: %zu pairs twice exceed the 2^32 limit", pairs->n);
    if (cfg->train_epochs < 1 || cfg->train_epochs > 1000000)
        return rm_errorf("train.epochs = %lld is out of range [1, 1000000]", cfg->train_epochs);
    if (cfg->train_batch_size < 1 || cfg->train_batch_size > (1 << 24))
        return rm_errorf("train.batch_size = %lld is out of range [1, %d]", cfg->train_batch_size, 1 << 24);
    if (!(cfg->train_learning_rate > 0) || !isfinite(cfg->train_learning_rate))
        return rm_errorf("train.learning_rate = %g is out of range: must be finite and > 0", cfg->train_learning_rate);
    if (!(cfg->train_weight_decay >= 0) || !isfinite(cfg->train_weight_decay))
        return rm_errorf("train.weight_decay = %g is out of range: must be finite and >= 0", cfg->train_weight_decay);
    if (cfg->train_patience < 0) return rm_errorf("train.patience = %lld: must be >= 0", cfg->train_patience);
    if (!(cfg->train_l2 >= 0) || !isfinite(cfg->train_l2))
        return rm_errorf("train.l2 = %g is out of range: must be finite and >= 0", cfg->train_l2);
    if (cfg->model_n_hidden < 0 || cfg->model_n_hidden > RM_MAX_HIDDEN)
        return rm_errorf("model.hidden: %d widths; at most %d hidden layers", cfg->model_n_hidden, RM_MAX_HIDDEN);
    if (data->dim < 1 || data->dim > (1u << 30))
        return rm_errorf("train data: embedding dimension %zu is out of range", data->dim);
    size_t n_items = data->n_prompts * data->n_responses;
    if (n_items < 2) return rm_errorf("train data: %zu items; at least 2 are needed", n_items);
    if (pairs->n_train < 1 || pairs->n_train + pairs->n_val > pairs->n)
        return rm_errorf("pairs: %zu training and %zu validation pairs of %zu", pairs->n_train, pairs->n_val, pairs->n);
    /* a minibatch holds entries of the training list: each pair twice with both orders */
    if (strcmp(cfg->train_val_split, "pairs") != 0 && strcmp(cfg->train_val_split, "entries") != 0 &&
        strcmp(cfg->train_val_split, "prompts") != 0)
        return rm_errorf("train.val_split = \"%s\": expected \"pairs\", \"entries\" or \"prompts\"", cfg->train_val_split);
    const size_t n_list = rm_member_list_sizes(cfg, pairs, NULL);
    if (n_list < 1) return rm_errorf("pairs.count = %zu with train.val_fraction = %g leaves no training entries", pairs->n,
                                     cfg->train_val_fraction);
    if ((size_t)cfg->train_batch_size > n_list)
        return rm_errorf("train.batch_size = %lld is larger than the %zu training %s "
                         "(pairs.count = %zu, train.val_fraction = %g%s)",
                         cfg->train_batch_size, n_list, cfg->pairs_both_orders ? "entries" : "pairs", pairs->n,
                         cfg->train_val_fraction, cfg->pairs_both_orders ? ", pairs.both_orders = true" : "");
    for (size_t i = 0; i < pairs->n; i++)
        if (pairs->winner[i] >= n_items || pairs->loser[i] >= n_items || pairs->order[i] >= pairs->n)
            return rm_errorf("pairs: pair %zu refers to an item outside the %zu train items", i, n_items);
    return 0;
}

static void buffers_free(train_buffers *b)
{
    rm_mlp_workspace_free(&b->ws);
    rm_adam_free(&b->adam);
    free(b->X);
    free(b->X_low);
    rm_train_rows_free(&b->rows);
    free(b->scores);
    free(b->dscores);
    free(b->labels);
    free(b->grads);
    free(b->best_params);
    free(b->train_ids);
    free(b->val_ids);
    free(b->perm);
    free(b->swaps);
    free(b->batch_ids);
    free(b->local_scores);
    free(b->head_weights);
    free(b->batch_pos);
    free(b->batch_weights);
    free(b->column);
    free(b->dcolumn);
}

/* Head e's 2n scores out of the unit's [2n, heads] into b->column. */
static const float *head_column(train_buffers *b, size_t n, int e)
{
    if (b->heads == 1) return b->scores;
    for (size_t i = 0; i < 2 * n; i++) b->column[i] = b->scores[i * (size_t)b->heads + (size_t)e];
    return b->column;
}

/* Validation over pairs ids[0..n): this rank's share; sums[2e] the summed loss of head e
 * and sums[2e + 1] the count of pairs it ranks correctly. */
static void validate_share(const rm_mlp *mlp, train_buffers *b, const rm_train_data *data, const rm_pairs *pairs,
                           const uint32_t *ids, size_t n, int clf, size_t chunk, double *sums)
{
    for (int e = 0; e < 2 * b->heads; e++) sums[e] = 0;
    for (size_t start = 0; start < n; start += chunk) {
        size_t count = n - start < chunk ? n - start : chunk;
        score_pairs(mlp, b, data, pairs, ids + start, count, 0);
        for (int e = 0; e < b->heads; e++) {
            float *col = (float *)head_column(b, count, e);
            for (size_t i = 0; i < count; i++) sums[2 * e + 1] += col[i] > col[count + i];
            sums[2 * e] += objective_loss(clf, col, count, b->dscores, b->labels);
        }
    }
}

/* ---- the training loop, by responsibility ---- */

static void rules_from_settings(loop_rules *r, const rm_settings *cfg)
{
    r->clf = strcmp(cfg->model_objective, "clf") == 0;
    r->draw = strcmp(cfg->train_minibatches, "draw") == 0;
    r->rise = strcmp(cfg->train_stop_rule, "rise") == 0;
    r->restore_best = cfg->train_restore_best != 0;
    r->batch = (size_t)cfg->train_batch_size;
    r->patience = (int)cfg->train_patience;
    r->l2 = (float)cfg->train_l2;
}

/* grads += l2 * W for every weight matrix (biases are not penalised), after the group's
 * sum: every rank adds the same term to the same summed gradient. */
static void add_l2(const rm_mlp *mlp, float *grads, float l2)
{
    for (int l = 0; l < mlp->n_layers; l++) {
        size_t n = (size_t)mlp->dims[l] * (size_t)mlp->dims[l + 1], o = mlp->weight_offset[l];
        for (size_t i = 0; i < n; i++) grads[o + i] += l2 * mlp->params[o + i];
    }
}

/* Steps of an epoch, and the list entries each step trains on. "epoch": consecutive
 * batches of one permutation per epoch (the last may be smaller). "draw": ceil(n / batch)
 * steps, each a fresh uniform draw of min(batch, n) distinct entries. */
static size_t step_pairs(const loop_rules *r, size_t n_list, size_t start)
{
    size_t full = r->batch < n_list ? r->batch : n_list;
    if (r->draw) return full;
    return n_list - start < r->batch ? n_list - start : r->batch;
}

static void epoch_order(train_buffers *b, const loop_rules *r, uint64_t seed, int index, int epoch, size_t n_list)
{
    for (size_t i = 0; i < n_list; i++) b->perm[i] = (uint32_t)i;
    if (!r->draw) shuffle(seed, RM_STREAM_MEMBER(index, RM_MEMBER_SHUFFLE), (uint64_t)epoch << 32, b->perm, n_list);
}

/* This rank's share [lo, hi) of the step's entries into b->batch_ids. A drawn step is a
 * partial Fisher-Yates on the identity in b->perm from counters epoch * 2^32 + start + t,
 * undone afterwards: every step is a pure function of (seed, epoch, step), so a resumed
 * epoch draws what the uninterrupted one would. */
static void step_batch(train_buffers *b, const loop_rules *r, uint64_t seed, int index, int epoch, size_t n_list,
                       size_t start, size_t n_step, size_t lo, size_t hi)
{
    if (!r->draw) {
        for (size_t i = lo; i < hi; i++) b->batch_ids[i - lo] = b->train_ids[b->perm[start + i]];
        if (b->batch_pos)
            for (size_t i = lo; i < hi; i++) b->batch_pos[i - lo] = b->perm[start + i];
        return;
    }
    const uint64_t stream = RM_STREAM_MEMBER(index, RM_MEMBER_DRAW), base = ((uint64_t)epoch << 32) + start;
    for (size_t t = 0; t < n_step; t++) {
        size_t j = t + (size_t)rm_rand_below(seed, stream, base + t, n_list - t);
        uint32_t x = b->perm[t];
        b->perm[t] = b->perm[j];
        b->perm[j] = x;
        b->swaps[t] = (uint32_t)j;
    }
    for (size_t i = lo; i < hi; i++) b->batch_ids[i - lo] = b->train_ids[b->perm[i]];
    if (b->batch_pos)
        for (size_t i = lo; i < hi; i++) b->batch_pos[i - lo] = b->perm[i];
    for (size_t t = n_step; t-- > 0;) {
        uint32_t j = b->swaps[t], x = b->perm[t];
        b->perm[t] = b->perm[j];
        b->perm[j] = x;
    }
}

/* The heads' objectives of a shared-trunk step (rm_trunk_heads_objective) with each
 * pair's weights in head e's resample, gathered for the step's entries. */
static double heads_objective(train_buffers *b, const loop_rules *r, size_t n, float scale, float *head_loss)
{
    const float *w = NULL;
    if (b->head_weights) {
        for (int e = 0; e < b->heads; e++)
            for (size_t i = 0; i < n; i++)
                b->batch_weights[(size_t)e * n + i] = b->head_weights[(size_t)e * b->n_list + b->batch_pos[i]];
        w = b->batch_weights;
    }
    return rm_trunk_heads_objective(r->clf, b->scores, n, b->heads, w, scale, b->dscores, head_loss, b->column,
                                    b->dcolumn);
}

/* One minibatch of n_step entries, of which this rank holds `mine` in b->batch_ids:
 * forward, backward, gradient sum over the group, Adam. The loss and the stop request
 * ride along with the gradient. Returns 0, or -1 with the error set. */
static int train_step(rm_mlp *mlp, train_buffers *b, const rm_train_data *data, const rm_pairs *pairs,
                      const loop_rules *r, size_t mine, size_t n_step, float stop_request, MPI_Comm group, int size,
                      int index, float lr, float weight_decay, double *batch_loss)
{
    const size_t n_params = mlp->n_params;
    /* b->grads[0, n_params) is zero here: calloc'd, then cleared by every Adam step */
    b->grads[n_params] = 0;
    b->grads[n_params + 1] = stop_request;
    if (mine > 0) {
        score_pairs(mlp, b, data, pairs, b->batch_ids, mine, 1);
        double t = rm_now();
        /* d(mean loss over the whole minibatch): every rank divides by the full size, so
         * the Allreduce sum is the gradient of the minibatch mean. */
        const float scale = (float)(1.0 / ((r->clf ? 2.0 : 1.0) * (double)n_step));
        double loss;
        if (b->heads == 1) {
            loss = objective_loss(r->clf, b->scores, mine, b->dscores, b->labels);
            for (size_t i = 0; i < 2 * mine; i++) b->dscores[i] *= scale;
        } else {
            loss = heads_objective(b, r, mine, scale, b->grads + n_params + 2);
        }
        phase_add(b, PHASE_OBJECTIVE, &t);
        rm_mlp_backward_pairs(mlp, &b->ws, batch_rows(b), (int)(2 * mine), b->dscores, b->grads);
        phase_add(b, PHASE_BACKWARD, &t);
        /* Under BT the output bias cancels in r_w - r_l: its gradient is exactly zero, but
         * the float sum of +g and -g is not, and Adam would turn that round-off into
         * lr-sized random steps (an arbitrary drift of every score). */
        if (!r->clf)
            for (int e = 0; e < b->heads; e++) b->grads[mlp->bias_offset[mlp->n_layers - 1] + (size_t)e] = 0;
        b->grads[n_params] = (float)loss;
    }
    /* Every rank sees the same total loss and so stops together on a NaN. */
    const int extra = 2 + (b->heads > 1 ? b->heads : 0);
    double t = rm_now();
    if (size > 1 &&
        MPI_Allreduce(MPI_IN_PLACE, b->grads, (int)(n_params + (size_t)extra), MPI_FLOAT, MPI_SUM, group) != MPI_SUCCESS)
        return rm_errorf("member %d: MPI_Allreduce of the gradient failed", index);
    phase_add(b, PHASE_SUM, &t);
    *batch_loss = b->grads[n_params];
    if (!isfinite(*batch_loss)) return 0; /* the caller names the minibatch */
    if (r->l2 > 0) add_l2(mlp, b->grads, r->l2);
    rm_adam_step_clear(&b->adam, mlp->params, b->grads, lr, weight_decay);
    phase_add(b, PHASE_ADAM, &t);
    return 0;
}

/* Early stopping after epoch `done` (1-based count) with validation losses val[0..done). */
static int stop_early(const loop_rules *r, const double *val, int done, int since_best)
{
    if (r->patience <= 0) return 0;
    if (!r->rise) return since_best >= r->patience;
    /* the seed code's rule: the latest loss is above each of the previous `patience` */
    if (done <= r->patience) return 0;
    for (int j = 1; j <= r->patience; j++)
        if (!(val[done - 1] > val[done - 1 - j])) return 0;
    return 1;
}

/* Validation of this epoch's weights over the group: summed loss and correct pairs. */
static int validate_epoch(const rm_mlp *mlp, train_buffers *b, const rm_train_data *data, const rm_pairs *pairs,
                          size_t n_val, const loop_rules *r, size_t share_cap, MPI_Comm group, int rank, int size,
                          int index, double *sums)
{
    size_t vlo, vhi;
    rm_partition_floor(n_val, size, rank, &vlo, &vhi);
    validate_share(mlp, b, data, pairs, b->val_ids + vlo, vhi - vlo, r->clf, share_cap, sums);
    if (size > 1) {
        /* Rank 0's totals decide early stopping for everyone: one value, one decision. */
        const int n = 2 * b->heads;
        if (MPI_Reduce(rank == 0 ? MPI_IN_PLACE : sums, sums, n, MPI_DOUBLE, MPI_SUM, 0, group) != MPI_SUCCESS ||
            MPI_Bcast(sums, n, MPI_DOUBLE, 0, group) != MPI_SUCCESS)
            return rm_errorf("member %d: MPI reduction of the validation metrics failed", index);
    }
    return 0;
}

/* The loop's buffers for a unit of b->heads heads (one: an independent member) whose
 * model is `mlp`; each head's history goes into out[e]. */
static int allocate_buffers(train_buffers *b, const rm_mlp *mlp, rm_member *out, int heads, size_t n_list,
                            size_t n_val, const loop_rules *r, size_t dim, size_t share_cap, int epochs)
{
    const size_t rows_cap = 2 * share_cap, n_params = mlp->n_params, H = (size_t)heads;
    memset(b, 0, sizeof *b);
    b->heads = heads;
    b->n_list = n_list;
    if (rm_mlp_workspace_create(&b->ws, mlp, (int)rows_cap) != 0 || rm_adam_create(&b->adam, n_params) != 0)
        return -1;
    int ok = (b->X = rm_alloc(rows_cap * dim, sizeof(float), "minibatch rows")) != NULL;
    ok = ok && (b->scores = rm_alloc(rows_cap * H, sizeof(float), "minibatch scores")) != NULL;
    ok = ok && (b->dscores = rm_alloc(rows_cap * H, sizeof(float), "minibatch score gradients")) != NULL;
    ok = ok && (b->labels = rm_alloc(rows_cap, sizeof(float), "minibatch labels")) != NULL;
    /* the gradient, the summed loss, the stop request, and the heads' losses; zero: Adam
     * re-zeroes it every step */
    ok = ok && (b->grads = rm_calloc(n_params + 2 + H, sizeof(float), "gradients")) != NULL;
    ok = ok && (b->best_params = rm_alloc(n_params, sizeof(float), "best parameters")) != NULL;
    ok = ok && (b->train_ids = rm_alloc(n_list, sizeof(uint32_t), "training pair list")) != NULL;
    ok = ok && (b->val_ids = rm_alloc(n_val ? n_val : 1, sizeof(uint32_t), "validation pair list")) != NULL;
    ok = ok && (b->perm = rm_alloc(n_list, sizeof(uint32_t), "epoch order")) != NULL;
    ok = ok && (b->swaps = rm_alloc(r->batch, sizeof(uint32_t), "minibatch draw")) != NULL;
    ok = ok && (b->batch_ids = rm_alloc(share_cap, sizeof(uint32_t), "minibatch pair ids")) != NULL;
    if (ok && heads > 1) {
        ok = (b->column = rm_alloc(rows_cap, sizeof(float), "head scores")) != NULL &&
             (b->dcolumn = rm_alloc(rows_cap, sizeof(float), "head score gradients")) != NULL;
    }
    for (int e = 0; e < heads && ok; e++) {
        ok = (out[e].train_loss = rm_alloc((size_t)epochs, sizeof(double), "training history")) != NULL &&
             (out[e].val_loss = rm_alloc((size_t)epochs, sizeof(double), "validation history")) != NULL &&
             (out[e].val_accuracy = rm_alloc((size_t)epochs, sizeof(double), "validation history")) != NULL;
    }
    return ok ? 0 : -1;
}

/* Epoch `epoch`'s histories from the group's summed losses, and the unit's selection of
 * the weights to keep. Returns whether to stop early. */
static int record_epoch(unit_run *u, train_buffers *b, loop_state *ls, int epoch, const double *head_train,
                        const double *val_sums)
{
    const int H = u->heads;
    for (int e = 0; e < H; e++) {
        rm_member *m = &u->out[e];
        /* train losses are group totals already: they travelled with the gradients */
        m->train_loss[epoch] = head_train[e] / (u->per_pair_terms * (double)u->epoch_entries);
        m->val_loss[epoch] = u->n_val ? val_sums[2 * e] / (u->per_pair_terms * (double)u->n_val) : NAN;
        m->val_accuracy[epoch] = u->n_val ? val_sums[2 * e + 1] / (double)u->n_val : NAN;
        m->epochs_run = epoch + 1;
        m->pairs_trained += (long long)u->epoch_entries;
    }
    u->mean_val[epoch] = rm_train_heads_mean_val(u, epoch);
    if (u->n_val == 0) { /* nothing to select on: the last weights */
        for (int e = 0; e < H; e++) u->out[e].best_epoch = epoch + 1;
        return 0;
    }
    if (u->mean_val[epoch] < ls->best_val) {
        ls->best_val = u->mean_val[epoch];
        for (int e = 0; e < H; e++) u->out[e].best_epoch = epoch + 1;
        ls->since_best = 0;
        memcpy(b->best_params, u->mlp->params, u->mlp->n_params * sizeof(float));
    } else {
        ls->since_best++;
    }
    /* one head: its own history, which a resumed run restored from the checkpoint */
    return stop_early(&u->r, H == 1 ? u->out[0].val_loss : u->mean_val, epoch + 1, ls->since_best);
}

/* The model, the lists and the buffers of a unit; -1 on any rank of the group if one failed. */
static int unit_setup(unit_run *u, train_buffers *b, rm_train_control *controls, loop_state *ls)
{
    const rm_settings *cfg = u->cfg;
    const int dim = (int)u->data->dim;
    for (int e = 0; e < u->heads; e++) {
        u->out[e].index = u->index + e;
        u->out[e].seed = rm_member_seed((uint64_t)cfg->seed, u->index + e);
    }
    int failed = 0;
    if (u->heads == 1) {
        failed = rm_mlp_create(&u->out[0].mlp, dim, cfg->model_hidden, cfg->model_n_hidden) != 0;
        /* ensemble.shared_init: member 0's initialisation (rmens/member/shared_init.h) */
        if (!failed) rm_member_init_weights(&u->out[0].mlp, cfg, u->index);
        u->mlp = &u->out[0].mlp;
    } else {
        failed = rm_trunk_unit_create(&u->unit, cfg, dim, u->heads) != 0;
        u->mlp = &u->unit;
    }
    const size_t batch = u->r.batch;
    /* This rank's share of a minibatch is at most ceil(batch / size) pairs = twice as many rows. */
    u->share_cap = (batch + (size_t)u->size - 1) / (size_t)u->size;
    u->mean_val = rm_calloc((size_t)u->epochs + (size_t)u->heads, sizeof(double), "validation history");
    u->resumed_loss = u->mean_val ? u->mean_val + u->epochs : NULL;
    memset(b, 0, sizeof *b);
    failed = failed || !u->mean_val ||
             allocate_buffers(b, u->mlp, u->out, u->heads, u->n_list, u->n_val, &u->r, u->data->dim, u->share_cap,
                              u->epochs) != 0 ||
             rm_member_lists_of(cfg, u->pairs, u->index, u->heads == 1, b->train_ids, b->val_ids) != 0;
    if (!failed) failed = rm_member_require_pairs(u->data, u->pairs) != 0;
    if (!failed) failed = rm_train_rows_create(&b->rows, u->mlp, u->data, u->pairs) != 0;
    if (!failed && b->rows.table)
        failed = !(b->X_low = rm_alloc(2 * u->share_cap * u->data->dim, b->rows.elem, "minibatch rows (bf16)"));
    if (!failed && u->heads > 1 && strcmp(cfg->ensemble_data, "bootstrap") == 0) {
        b->head_weights = rm_alloc((size_t)u->heads * u->n_list, sizeof(float), "heads' bootstrap weights");
        b->batch_pos = rm_alloc(u->share_cap, sizeof(uint32_t), "minibatch list positions");
        b->batch_weights = rm_alloc((size_t)u->heads * u->share_cap, sizeof(float), "minibatch pair weights");
        failed = !b->head_weights || !b->batch_pos || !b->batch_weights;
        for (int e = 0; e < u->heads && !failed; e++)
            failed = rm_trunk_head_weights(cfg, u->pairs, e, b->head_weights + (size_t)e * u->n_list, u->n_list) != 0;
    }
    if (!failed && controls && controls[0].resume_state)
        failed = (u->heads == 1 ? rm_train_resume_member(&u->out[0], b, ls, controls, u->epochs, u->resumed_loss)
                                : rm_train_resume_unit(u, b, ls, controls)) != 0;
    if (failed)
        rm_error_context("member %d (batch %zu pairs, %zu parameters)", u->index, batch, u->mlp ? u->mlp->n_params : 0);
    /* A rank that could not allocate must not leave the others waiting in an Allreduce. */
    return u->size > 1 ? rm_all_ok(u->group, failed ? -1 : 0) : failed ? -1 : 0;
}

/* After the loop: the kept weights on every rank, the heads split off the unit, each
 * member standardised on the train responses. */
static int unit_finish(unit_run *u, train_buffers *b)
{
    const size_t n_params = u->mlp->n_params;
    for (int e = 0; e < u->heads; e++)
        if (!u->r.restore_best) u->out[e].best_epoch = u->out[e].epochs_run; /* the last weights are kept */
    if (u->r.restore_best && u->n_val > 0 && u->out[0].best_epoch > 0)
        memcpy(u->mlp->params, b->best_params, n_params * sizeof(float));
    /* The ranks applied identical steps; make "every rank holds the same member" exact
     * whatever the MPI library's reduction order. */
    if (u->size > 1 && MPI_Bcast(u->mlp->params, (int)n_params, MPI_FLOAT, 0, u->group) != MPI_SUCCESS)
        return rm_errorf("member %d: MPI_Bcast of the parameters failed", u->index);
    /* the heads' statistics from one forward of the unit (the trunk once for all heads) */
    if (rm_members_standardise_train(u->out, u->heads, u->heads > 1 ? &u->unit : NULL, u->data,
                                     (size_t)u->cfg->train_standardise_responses, u->group) != 0)
        return -1;
    for (int e = 0; e < u->heads; e++) {
        rm_member *m = &u->out[e];
        if (u->heads > 1 && rm_trunk_unit_head(&u->unit, e, &m->mlp) != 0) return rm_error_context("member %d", m->index);
        char why[160];
        if (u->rank == 0 && rm_member_divergence(m, why, sizeof why)) {
            fprintf(stderr, "warning: member %d may have diverged: %s (it is written anyway)\n", m->index, why);
            fflush(stderr);
        }
    }
    return 0;
}

/* Train a unit: an independent member when heads = 1, else a shared trunk's heads
 * 0..heads-1; controls: NULL or one per head (interrupt and resume: rmens/member/train.h,
 * rmens/member/trunk.h). */
static int train_mlp_unit(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, int index,
                          int heads, MPI_Comm group, rm_member *out, rm_progress_fn progress, void *ctx,
                          rm_train_control *controls)
{
    double t_start = rm_now();
    memset(out, 0, sizeof *out * (size_t)heads);
    unit_run u = {.cfg = cfg, .data = data, .pairs = pairs, .group = group, .index = index, .heads = heads, .out = out};
    MPI_Comm_rank(group, &u.rank);
    MPI_Comm_size(group, &u.size);
    if (check_settings(cfg, data, pairs) != 0) return rm_error_context("member %d", index);
    rules_from_settings(&u.r, cfg);
    u.n_list = rm_member_list_sizes(cfg, pairs, &u.n_val);
    u.epochs = (int)cfg->train_epochs;
    const size_t batch = u.r.batch, n_list = u.n_list;
    const float lr = (float)cfg->train_learning_rate, weight_decay = (float)cfg->train_weight_decay;
    const uint64_t seed = rm_member_seed((uint64_t)cfg->seed, index);
    train_buffers b;
    loop_state ls = {INFINITY, 0, 0, 0, 0};
    const double t_setup = rm_now();
    if (unit_setup(&u, &b, controls, &ls) != 0) goto fail;
    b.phase[PHASE_SETUP] = rm_now() - t_setup;
    const size_t n_params = u.mlp->n_params, steps = (n_list + batch - 1) / batch;
    /* entries one epoch trains on: the loss is their mean (per pair for bt, per item for
     * clf, as the reference's BCE losses average; validation is normalised the same way) */
    u.per_pair_terms = u.r.clf ? 2.0 : 1.0;
    u.epoch_entries = u.r.draw ? steps * step_pairs(&u.r, n_list, 0) : n_list;
    rm_train_control *control = controls; /* controls[0] polls for stop requests */
    for (int e = 0; controls && e < heads; e++) controls[e].interrupted = 0;
    double *head_train = rm_calloc((size_t)heads + 2 * (size_t)heads, sizeof(double), "epoch losses");
    if (!head_train) goto fail;
    double *val_sums = head_train + heads; /* validation loss and pairs ranked correctly, per head */
    for (int epoch = ls.first_epoch; epoch < u.epochs; epoch++) {
        double t_epoch = rm_now();
        epoch_order(&b, &u.r, seed, index, epoch, n_list);
        const int resuming_here = epoch == ls.first_epoch;
        for (int e = 0; e < heads; e++) head_train[e] = resuming_here ? u.resumed_loss[e] : 0;
        for (size_t start = resuming_here ? ls.first_start : 0; start < n_list; start += batch) {
            /* A stop request is honoured at this step boundary, by every rank of the group
             * together: the request rides in the gradient's Allreduce one step ahead. */
            float stop_request = control && control->should_stop && control->should_stop(control->stop_ctx) ? 1.0f : 0.0f;
            size_t n_step = step_pairs(&u.r, n_list, start), lo, hi;
            rm_partition_floor(n_step, u.size, u.rank, &lo, &hi);
            step_batch(&b, &u.r, seed, index, epoch, n_list, start, n_step, lo, hi);
            double batch_loss = 0;
            if (train_step(u.mlp, &b, data, pairs, &u.r, hi - lo, n_step, stop_request, group, u.size, index, lr,
                           weight_decay, &batch_loss) != 0)
                goto fail_losses;
            if (!isfinite(batch_loss)) {
                rm_errorf("member %d: training loss is %s at epoch %d, minibatch of entries %zu..%zu: a NaN/Inf "
                          "in these pairs' embeddings, or diverging training (lower train.learning_rate)",
                          index, isnan(batch_loss) ? "NaN" : "Inf", epoch + 1, start, start + n_step);
                goto fail_losses;
            }
            if (heads == 1) head_train[0] += batch_loss;
            else
                for (int e = 0; e < heads; e++) head_train[e] += b.grads[n_params + 2 + (size_t)e];
            if (b.grads[n_params + 1] > 0) {
                double seconds = rm_now() - t_epoch;
                if ((heads == 1 ? rm_train_save_member(control, &b, &ls, n_params, epoch, start + batch, head_train[0], seconds)
                                : rm_train_save_unit(&u, controls, &b, &ls, epoch, start + batch, head_train, seconds)) != 0)
                    goto fail_losses;
                free(head_train);
                free(u.mean_val);
                buffers_free(&b);
                rm_mlp_free(&u.unit);
                return 0;
            }
        }
        const double t_val = rm_now();
        if (validate_epoch(u.mlp, &b, data, pairs, u.n_val, &u.r, u.share_cap, group, u.rank, u.size, index, val_sums) != 0)
            goto fail_losses;
        b.phase[PHASE_VALIDATION] += rm_now() - t_val;
        int stop = record_epoch(&u, &b, &ls, epoch, head_train, val_sums);
        double seconds = rm_now() - t_epoch;
        ls.train_time += seconds;
        if (progress && u.rank == 0) {
            double eta = stop ? 0 : ls.train_time / (epoch + 1) * (u.epochs - epoch - 1);
            double mean_train = 0, mean_acc = 0;
            for (int e = 0; e < heads; e++) mean_train += out[e].train_loss[epoch], mean_acc += out[e].val_accuracy[epoch];
            progress(&out[0], epoch + 1, u.epochs, mean_train / heads, u.mean_val[epoch], mean_acc / heads,
                     seconds > 0 ? (double)u.epoch_entries / seconds : 0, eta, ctx);
        }
        if (stop) break;
    }
    free(head_train);
    const double t_finish = rm_now();
    if (unit_finish(&u, &b) != 0) goto fail;
    b.phase[PHASE_FINISH] = rm_now() - t_finish;
    if (u.rank == 0) phase_report(&b, index, heads);
    buffers_free(&b);
    rm_mlp_free(&u.unit);
    free(u.mean_val);
    for (int e = 0; e < heads; e++) out[e].train_seconds = (rm_now() - t_start) / heads; /* the unit's time, shared */
    return 0;

fail_losses:
    free(head_train);
fail:
    buffers_free(&b);
    rm_mlp_free(&u.unit);
    free(u.mean_val);
    for (int e = 0; e < heads; e++) rm_member_free(&out[e]);
    return -1;
}

int rm_train_mlp_member(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, int index,
                        MPI_Comm group, rm_member *out, rm_progress_fn progress, void *ctx, rm_train_control *control)
{
    return train_mlp_unit(cfg, data, pairs, index, 1, group, out, progress, ctx, control);
}

int rm_train_shared_trunk(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, MPI_Comm group,
                          rm_member *out, rm_progress_fn progress, void *ctx, rm_train_control *controls)
{
    return train_mlp_unit(cfg, data, pairs, 0, (int)cfg->ensemble_members, group, out, progress, ctx, controls);
}
