/* Training one ensemble member (see include/rmens/train.h).
 *
 * Reproducibility: everything random comes from the member's own streams keyed by its
 * seed (initialisation, bootstrap, one minibatch order per epoch), so with one rank per
 * member the trained weights depend on (cfg, member index) only. With S ranks per member
 * every rank takes a contiguous share of each minibatch; the gradient (already divided by
 * the full minibatch size) is summed with one MPI_Allreduce and every rank applies the
 * same Adam step. Summation order then differs from S = 1 by float round-off only. */
#include "rmens/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "family_internal.h"
#include "rmens/common.h"
#include "rmens/optim.h"
#include "rmens/parallel.h"
#include "rmens/rng.h"
#include "rmens/warm.h"
#include "tiled_blas.h"

/* Rows scored per BLAS call when scoring: large enough for sgemm to run at full rate,
 * small enough that the activations stay a few MB. */
#define RM_SCORE_ROWS 1024

/* [begin, end) of part `index` of n items split evenly over `parts`. */
static void share_of(size_t n, int parts, int index, size_t *begin, size_t *end)
{
    *begin = n * (size_t)index / (size_t)parts;
    *end = n * (size_t)(index + 1) / (size_t)parts;
}

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

/* X rows [0, n) = winners of pairs ids[0..n), rows [n, 2n) = their losers: 8 MB per
 * minibatch at the reference shapes, copied in pieces over the model's threads (alone, it
 * was 3% of a step at 2 threads). */
#define GATHER_PAIRS 64 /* pairs per piece */

typedef struct {
    float *X;
    const float *embeddings;
    size_t dim, n;
    const rm_pairs *pairs;
    const uint32_t *ids;
} gather_job;

static void gather_piece(const void *p, int piece)
{
    const gather_job *j = p;
    const size_t dim = j->dim, begin = (size_t)piece * GATHER_PAIRS;
    const size_t end = j->n - begin < GATHER_PAIRS ? j->n : begin + GATHER_PAIRS;
    for (size_t i = begin; i < end; i++) {
        memcpy(j->X + i * dim, j->embeddings + (size_t)j->pairs->winner[j->ids[i]] * dim, dim * sizeof(float));
        memcpy(j->X + (j->n + i) * dim, j->embeddings + (size_t)j->pairs->loser[j->ids[i]] * dim, dim * sizeof(float));
    }
}

static void gather_pairs(float *X, const float *embeddings, size_t dim, const rm_pairs *pairs,
                         const uint32_t *ids, size_t n)
{
    gather_job job = {X, embeddings, dim, n, pairs, ids};
    rm_tiled_run(gather_piece, &job, (int)((n + GATHER_PAIRS - 1) / GATHER_PAIRS));
}

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

int rm_member_score(const rm_mlp *mlp, const float *embeddings, size_t dim, const uint32_t *items,
                    size_t n, float *scores)
{
    if (dim != (size_t)mlp->dims[0])
        return rm_errorf("scoring: embeddings have dimension %zu, the model expects %d", dim, mlp->dims[0]);
    if (n == 0) return 0;
    int rows = n < RM_SCORE_ROWS ? (int)n : RM_SCORE_ROWS;
    rm_mlp_workspace ws;
    if (rm_mlp_workspace_create(&ws, mlp, rows) != 0) return rm_error_context("scoring");
    if (n > (size_t)rows && rm_mlp_workspace_pack(&ws, mlp) != 0) { /* weights packed once for all the blocks */
        rm_mlp_workspace_free(&ws);
        return rm_error_context("scoring");
    }
    float *X = NULL;
    if (items) {
        X = rm_alloc((size_t)rows * dim, sizeof(float), "scoring rows");
        if (!X) {
            rm_mlp_workspace_free(&ws);
            return rm_error_context("scoring");
        }
    }
    for (size_t start = 0; start < n; start += (size_t)rows) {
        size_t count = n - start < (size_t)rows ? n - start : (size_t)rows;
        const float *block = embeddings + start * dim;
        if (items) {
            for (size_t i = 0; i < count; i++)
                memcpy(X + i * dim, embeddings + (size_t)items[start + i] * dim, dim * sizeof(float));
            block = X;
        }
        rm_mlp_forward_frozen(mlp, &ws, block, NULL, (int)count, scores + start);
    }
    free(X);
    rm_mlp_workspace_free(&ws);
    return 0;
}

void rm_member_history_rows(const rm_member *m, double *rows, int stride)
{
    for (int e = 0; e < m->epochs_run && e < stride; e++) {
        rows[e] = m->train_loss[e];
        rows[stride + e] = m->val_loss[e];
        rows[2 * stride + e] = m->val_accuracy[e];
    }
}

void rm_member_free(rm_member *m)
{
    rm_member_family(m)->free_model(m);
    free(m->train_loss);
    free(m->val_loss);
    free(m->val_accuracy);
    memset(m, 0, sizeof *m);
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
    if (cfg->model_n_hidden < 0 || cfg->model_n_hidden > RM_MAX_HIDDEN)
        return rm_errorf("model.hidden: %d widths; at most %d hidden layers", cfg->model_n_hidden, RM_MAX_HIDDEN);
    if (data->dim < 1 || data->dim > (1u << 30))
        return rm_errorf("train data: embedding dimension %zu is out of range", data->dim);
    size_t n_items = data->n_prompts * data->n_responses;
    if (n_items < 2) return rm_errorf("train data: %zu items; at least 2 are needed", n_items);
    if (pairs->n_train < 1 || pairs->n_train > pairs->n)
        return rm_errorf("pairs: %zu training pairs of %zu", pairs->n_train, pairs->n);
    /* a minibatch holds entries of the training list: each pair twice with both orders */
    if (strcmp(cfg->train_val_split, "pairs") != 0 && strcmp(cfg->train_val_split, "entries") != 0)
        return rm_errorf("train.val_split = \"%s\": expected \"pairs\" or \"entries\"", cfg->train_val_split);
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

/* Everything the training loop allocates, freed in one place. */
typedef struct {
    rm_mlp_workspace ws;
    rm_adam adam;
    float *X, *scores, *dscores, *labels;
    float *grads;         /* [n_params + 2]: the gradient, the minibatch's summed loss, stop requests */
    float *best_params;
    uint32_t *train_ids;  /* pair ids of this member's training list (bootstrap: with repeats) */
    uint32_t *val_ids;    /* pair ids of its validation list */
    uint32_t *perm;       /* this epoch's order of train_ids (draw: the identity between steps) */
    uint32_t *swaps;      /* [batch] a drawn step's swaps, to undo them */
    uint32_t *batch_ids;
    float *local_scores;  /* standardisation scores of this rank's share of the items */
} train_buffers;

static void buffers_free(train_buffers *b)
{
    rm_mlp_workspace_free(&b->ws);
    rm_adam_free(&b->adam);
    free(b->X);
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
}

/* Validation over pairs ids[0..n): this rank's share; returns summed loss and the count
 * of pairs ranked correctly through *loss and *correct. */
static void validate_share(const rm_mlp *mlp, train_buffers *b, const rm_train_data *data, const rm_pairs *pairs,
                           const uint32_t *ids, size_t n, int clf, size_t chunk, double *loss, double *correct)
{
    *loss = 0;
    *correct = 0;
    for (size_t start = 0; start < n; start += chunk) {
        size_t count = n - start < chunk ? n - start : chunk;
        gather_pairs(b->X, data->embeddings, data->dim, pairs, ids + start, count);
        rm_mlp_forward(mlp, &b->ws, b->X, (int)(2 * count), b->scores);
        *loss += objective_loss(clf, b->scores, count, b->dscores, b->labels);
        for (size_t i = 0; i < count; i++) *correct += b->scores[i] > b->scores[count + i];
    }
}

int rm_train_state_alloc(rm_train_state *s, size_t n_params)
{
    memset(s, 0, sizeof *s);
    s->n_params = n_params;
    s->best_val = INFINITY;
    s->adam_m = rm_alloc(n_params, sizeof(float), "Adam moments");
    s->adam_v = rm_alloc(n_params, sizeof(float), "Adam moments");
    s->best_params = rm_alloc(n_params, sizeof(float), "best parameters");
    if (!s->adam_m || !s->adam_v || !s->best_params) {
        rm_train_state_free(s);
        return -1;
    }
    return 0;
}

void rm_train_state_free(rm_train_state *s)
{
    free(s->adam_m);
    free(s->adam_v);
    free(s->best_params);
    memset(s, 0, sizeof *s);
}

/* Copy a member's weights and history (as far as it got) into `out`, sized for `epochs`. */
static int restore_member(rm_member *out, const rm_member *from, int epochs)
{
    if (from->mlp.n_params != out->mlp.n_params)
        return rm_errorf("checkpoint: member %d has %zu parameters, the model has %zu", from->index,
                         from->mlp.n_params, out->mlp.n_params);
    if (from->epochs_run < 0 || from->epochs_run > epochs)
        return rm_errorf("checkpoint: member %d ran %d epochs of %d", from->index, from->epochs_run, epochs);
    memcpy(out->mlp.params, from->mlp.params, out->mlp.n_params * sizeof(float));
    for (int e = 0; e < from->epochs_run; e++) {
        out->train_loss[e] = from->train_loss[e];
        out->val_loss[e] = from->val_loss[e];
        out->val_accuracy[e] = from->val_accuracy[e];
    }
    out->epochs_run = from->epochs_run;
    out->best_epoch = from->best_epoch;
    out->pairs_trained = from->pairs_trained;
    return 0;
}

int rm_train_member(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs,
                    int index, MPI_Comm group, rm_member *out, rm_progress_fn progress, void *ctx)
{
    return rm_train_member_controlled(cfg, data, pairs, index, group, out, progress, ctx, NULL);
}

/* ---- the training loop, by responsibility ---- */

/* The rules of the loop (train.*, pairs.both_orders, ensemble.data, model.objective). */
typedef struct {
    int clf, draw, rise, restore_best;
    size_t batch;
    int patience;
} loop_rules;

static void rules_from_settings(loop_rules *r, const rm_settings *cfg)
{
    r->clf = strcmp(cfg->model_objective, "clf") == 0;
    r->draw = strcmp(cfg->train_minibatches, "draw") == 0;
    r->rise = strcmp(cfg->train_stop_rule, "rise") == 0;
    r->restore_best = cfg->train_restore_best != 0;
    r->batch = (size_t)cfg->train_batch_size;
    r->patience = (int)cfg->train_patience;
}

size_t rm_member_list_sizes(const rm_settings *cfg, const rm_pairs *pairs, size_t *n_val)
{
    const size_t copies = cfg->pairs_both_orders ? 2 : 1;
    if (strcmp(cfg->train_val_split, "entries") == 0) {
        size_t total = pairs->n * copies, v = (size_t)floor((double)total * cfg->train_val_fraction);
        if (n_val) *n_val = v;
        return total - v;
    }
    if (n_val) *n_val = pairs->n - pairs->n_train;
    return pairs->n_train * copies;
}

int rm_member_lists(const rm_settings *cfg, const rm_pairs *pairs, int index, uint32_t *train_ids, uint32_t *val_ids)
{
    const uint64_t seed = rm_member_seed((uint64_t)cfg->seed, index);
    const int bootstrap = strcmp(cfg->ensemble_data, "bootstrap") == 0;
    const size_t copies = cfg->pairs_both_orders ? 2 : 1;
    size_t n_val;
    rm_member_list_sizes(cfg, pairs, &n_val);
    /* the validation list, and the source the training list is made from */
    const uint32_t *val_src, *train_src;
    uint32_t *perm = NULL;
    size_t n_train_src;
    if (strcmp(cfg->train_val_split, "entries") == 0) {
        /* the seed code's split: over the list of entries (each pair `copies` times), one
         * per member, so a pair's two orders may fall on both sides */
        size_t total = pairs->n * copies;
        perm = rm_alloc(total, sizeof(uint32_t), "member split");
        if (!perm) return -1;
        rm_permutation(seed, RM_STREAM_MEMBER(index, RM_MEMBER_SPLIT), perm, total);
        for (size_t e = 0; e < total; e++) perm[e] = (uint32_t)(perm[e] / copies);
        val_src = perm;
        train_src = perm + n_val;
        n_train_src = total - n_val;
    } else {
        val_src = pairs->order + pairs->n_train;
        train_src = pairs->order;
        n_train_src = pairs->n_train;
    }
    for (size_t i = 0; i < n_val; i++) val_ids[i] = val_src[i];
    /* pairs: each training pair `copies` times in a row (the two orders have the same loss
     * and gradient, so an entry is the pair itself); entries: each entry once. Bootstrap
     * resamples the training pairs (or entries) with replacement. */
    const size_t repeat = perm ? 1 : copies;
    for (size_t i = 0; i < n_train_src; i++) {
        size_t pick = bootstrap ? (size_t)rm_rand_below(seed, RM_STREAM_MEMBER(index, RM_MEMBER_BOOTSTRAP), i, n_train_src) : i;
        for (size_t c = 0; c < repeat; c++) train_ids[i * repeat + c] = train_src[pick];
    }
    free(perm);
    return 0;
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
    for (size_t t = n_step; t-- > 0;) {
        uint32_t j = b->swaps[t], x = b->perm[t];
        b->perm[t] = b->perm[j];
        b->perm[j] = x;
    }
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
        gather_pairs(b->X, data->embeddings, data->dim, pairs, b->batch_ids, mine);
        rm_mlp_forward(mlp, &b->ws, b->X, (int)(2 * mine), b->scores);
        double loss = objective_loss(r->clf, b->scores, mine, b->dscores, b->labels);
        /* d(mean loss over the whole minibatch): every rank divides by the full size, so
         * the Allreduce sum is the gradient of the minibatch mean. */
        const float scale = (float)(1.0 / ((r->clf ? 2.0 : 1.0) * (double)n_step));
        for (size_t i = 0; i < 2 * mine; i++) b->dscores[i] *= scale;
        rm_mlp_backward_pairs(mlp, &b->ws, b->X, (int)(2 * mine), b->dscores, b->grads);
        /* Under BT the output bias cancels in r_w - r_l: its gradient is exactly zero, but
         * the float sum of +g and -g is not, and Adam would turn that round-off into
         * lr-sized random steps (an arbitrary drift of every score). */
        if (!r->clf) b->grads[mlp->bias_offset[mlp->n_layers - 1]] = 0;
        b->grads[n_params] = (float)loss;
    }
    /* Every rank sees the same total loss and so stops together on a NaN. */
    if (size > 1 &&
        MPI_Allreduce(MPI_IN_PLACE, b->grads, (int)(n_params + 2), MPI_FLOAT, MPI_SUM, group) != MPI_SUCCESS)
        return rm_errorf("member %d: MPI_Allreduce of the gradient failed", index);
    *batch_loss = b->grads[n_params];
    if (!isfinite(*batch_loss)) return 0; /* the caller names the minibatch */
    rm_adam_step_clear(&b->adam, mlp->params, b->grads, lr, weight_decay);
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
                          int index, double sums[2])
{
    size_t vlo, vhi;
    share_of(n_val, size, rank, &vlo, &vhi);
    validate_share(mlp, b, data, pairs, b->val_ids + vlo, vhi - vlo, r->clf, share_cap, &sums[0], &sums[1]);
    if (size > 1) {
        /* Rank 0's totals decide early stopping for everyone: one value, one decision. */
        if (MPI_Reduce(rank == 0 ? MPI_IN_PLACE : sums, sums, 2, MPI_DOUBLE, MPI_SUM, 0, group) != MPI_SUCCESS ||
            MPI_Bcast(sums, 2, MPI_DOUBLE, 0, group) != MPI_SUCCESS)
            return rm_errorf("member %d: MPI reduction of the validation metrics failed", index);
    }
    return 0;
}

/* Standardisation over all N*K train responses: each rank scores a contiguous share,
 * then mean and (population) standard deviation in two passes from the group totals. */
int rm_member_standardise_train(rm_member *out, const rm_train_data *data, MPI_Comm group)
{
    const int index = out->index;
    int rank = 0, size = 1;
    MPI_Comm_rank(group, &rank);
    MPI_Comm_size(group, &size);
    size_t n_items = data->n_prompts * data->n_responses, lo, hi;
    share_of(n_items, size, rank, &lo, &hi);
    float *local = rm_alloc(hi - lo, sizeof(float), "standardisation scores");
    int status = 0;
    if (!local || rm_member_score_items(out, data->embeddings + lo * data->dim, data->dim, NULL, hi - lo, local) != 0)
        status = rm_error_context("member %d: scoring the train responses", index);
    if (size > 1 ? rm_all_ok(group, status) != 0 : status != 0) {
        free(local);
        return -1;
    }
    double sum = 0;
    for (size_t i = 0; i < hi - lo; i++) sum += local[i];
    if (size > 1 && MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_DOUBLE, MPI_SUM, group) != MPI_SUCCESS)
        status = rm_errorf("member %d: MPI_Allreduce of the score sum failed", index);
    double mean = sum / (double)n_items, squares = 0;
    for (size_t i = 0; i < hi - lo; i++) squares += ((double)local[i] - mean) * ((double)local[i] - mean);
    free(local);
    if (status != 0) return -1;
    if (size > 1 && MPI_Allreduce(MPI_IN_PLACE, &squares, 1, MPI_DOUBLE, MPI_SUM, group) != MPI_SUCCESS)
        return rm_errorf("member %d: MPI_Allreduce of the score variance failed", index);
    out->score_mean = mean;
    out->score_std = sqrt(squares / (double)n_items);
    if (!isfinite(mean) || !isfinite(out->score_std))
        return rm_errorf("member %d: scores of the train responses are not finite (mean %g)", index, mean);
    return 0;
}

int rm_member_divergence(const rm_member *m, char *why, size_t n)
{
    if (m->epochs_run < 1) return 0;
    const int last = m->epochs_run - 1, kept = m->best_epoch > 0 ? m->best_epoch - 1 : last;
    double first_train = m->train_loss[0], lowest_val = INFINITY;
    for (int e = 0; e <= last; e++)
        if (m->val_loss[e] < lowest_val) lowest_val = m->val_loss[e];
    if (m->val_accuracy[kept] < 0.5) {
        snprintf(why, n, "validation accuracy %.4f < 0.5 at its kept epoch %d", m->val_accuracy[kept], kept + 1);
        return 1;
    }
    if (m->train_loss[last] > 10 * first_train) {
        snprintf(why, n, "training loss grew from %.4g (epoch 1) to %.4g (epoch %d)", first_train, m->train_loss[last],
                 last + 1);
        return 1;
    }
    if (isfinite(lowest_val) && m->val_loss[kept] > 10 * lowest_val) {
        snprintf(why, n, "validation loss grew from %.4g (lowest) to %.4g (epoch %d)", lowest_val, m->val_loss[kept],
                 kept + 1);
        return 1;
    }
    return 0;
}

static int allocate_buffers(train_buffers *b, rm_member *out, size_t n_list, size_t n_val, const loop_rules *r,
                            size_t dim, size_t share_cap, int epochs)
{
    const size_t rows_cap = 2 * share_cap, n_params = out->mlp.n_params;
    memset(b, 0, sizeof *b);
    if (rm_mlp_workspace_create(&b->ws, &out->mlp, (int)rows_cap) != 0 || rm_adam_create(&b->adam, n_params) != 0)
        return -1;
    b->X = rm_alloc(rows_cap * dim, sizeof(float), "minibatch rows");
    b->scores = rm_alloc(rows_cap, sizeof(float), "minibatch scores");
    b->dscores = rm_alloc(rows_cap, sizeof(float), "minibatch score gradients");
    b->labels = rm_alloc(rows_cap, sizeof(float), "minibatch labels");
    b->grads = rm_calloc(n_params + 2, sizeof(float), "gradients"); /* zero: Adam re-zeroes it every step */
    b->best_params = rm_alloc(n_params, sizeof(float), "best parameters");
    b->train_ids = rm_alloc(n_list, sizeof(uint32_t), "training pair list");
    b->val_ids = rm_alloc(n_val ? n_val : 1, sizeof(uint32_t), "validation pair list");
    b->perm = rm_alloc(n_list, sizeof(uint32_t), "epoch order");
    b->swaps = rm_alloc(r->batch, sizeof(uint32_t), "minibatch draw");
    b->batch_ids = rm_alloc(share_cap, sizeof(uint32_t), "minibatch pair ids");
    out->train_loss = rm_alloc((size_t)epochs, sizeof(double), "training history");
    out->val_loss = rm_alloc((size_t)epochs, sizeof(double), "validation history");
    out->val_accuracy = rm_alloc((size_t)epochs, sizeof(double), "validation history");
    return !b->X || !b->scores || !b->dscores || !b->labels || !b->grads || !b->best_params || !b->train_ids ||
                   !b->val_ids || !b->perm || !b->swaps || !b->batch_ids || !out->train_loss || !out->val_loss || !out->val_accuracy
               ? -1
               : 0;
}

/* The loop's position and selection state: what a checkpoint saves beside the member. */
typedef struct {
    double best_val;
    int since_best;
    double train_time;
    int first_epoch;
    size_t first_start;
    double resumed_epoch_loss;
} loop_state;

static int resume_from(rm_member *out, train_buffers *b, loop_state *ls, const rm_train_control *control, int epochs)
{
    const rm_train_state *rs = control->resume_state;
    const size_t n_params = out->mlp.n_params;
    if (rs->n_params != n_params)
        return rm_errorf("member %d: checkpoint has %zu parameters, the model has %zu", out->index, rs->n_params, n_params);
    if (restore_member(out, control->resume_member, epochs) != 0) return -1;
    memcpy(b->adam.m, rs->adam_m, n_params * sizeof(float));
    memcpy(b->adam.v, rs->adam_v, n_params * sizeof(float));
    memcpy(b->best_params, rs->best_params, n_params * sizeof(float));
    b->adam.step = rs->adam_step;
    ls->best_val = rs->best_val;
    ls->since_best = rs->since_best;
    ls->train_time = rs->train_time;
    ls->first_epoch = rs->next_epoch;
    ls->first_start = (size_t)rs->next_start;
    ls->resumed_epoch_loss = rs->epoch_loss;
    return 0;
}

/* Hand the state after a step to the caller, which checkpoints. */
static int save_state(rm_train_control *control, const train_buffers *b, const loop_state *ls, size_t n_params,
                      int epoch, size_t next_start, double epoch_loss, double epoch_seconds)
{
    rm_train_state *st = &control->saved;
    if (rm_train_state_alloc(st, n_params) != 0) return -1;
    memcpy(st->adam_m, b->adam.m, n_params * sizeof(float));
    memcpy(st->adam_v, b->adam.v, n_params * sizeof(float));
    memcpy(st->best_params, b->best_params, n_params * sizeof(float));
    st->adam_step = b->adam.step;
    st->next_epoch = epoch;
    st->next_start = (long long)next_start;
    st->epoch_loss = epoch_loss;
    st->best_val = ls->best_val;
    st->since_best = ls->since_best;
    st->train_time = ls->train_time + epoch_seconds;
    control->interrupted = 1;
    return 0;
}

int rm_train_member_controlled(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, int index,
                               MPI_Comm group, rm_member *out, rm_progress_fn progress, void *ctx,
                               rm_train_control *control)
{
    memset(out, 0, sizeof *out);
    const rm_family *family = rm_family_of_member(cfg, index);
    if (!family || rm_family_check_settings(cfg, 0) != 0) return rm_error_context("member %d", index);
    return family->train(cfg, data, pairs, index, group, out, progress, ctx, control);
}

int rm_train_mlp_member(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, int index,
                        MPI_Comm group, rm_member *out, rm_progress_fn progress, void *ctx, rm_train_control *control)
{
    double t_start = rm_now();
    memset(out, 0, sizeof *out);
    int rank = 0, size = 1;
    MPI_Comm_rank(group, &rank);
    MPI_Comm_size(group, &size);
    if (check_settings(cfg, data, pairs) != 0) return rm_error_context("member %d", index);

    loop_rules r;
    rules_from_settings(&r, cfg);
    size_t n_val;
    const size_t n_list = rm_member_list_sizes(cfg, pairs, &n_val);
    const size_t dim = data->dim, batch = r.batch;
    const int epochs = (int)cfg->train_epochs;
    const float lr = (float)cfg->train_learning_rate, weight_decay = (float)cfg->train_weight_decay;
    out->index = index;
    out->seed = rm_member_seed((uint64_t)cfg->seed, index);
    const uint64_t seed = out->seed;
    if (rm_mlp_create(&out->mlp, (int)dim, cfg->model_hidden, cfg->model_n_hidden) != 0)
        return rm_error_context("member %d", index);
    rm_member_init_weights(&out->mlp, cfg, index); /* ensemble.shared_init: member 0's (rmens/warm.h) */
    rm_mlp *mlp = &out->mlp;
    const size_t n_params = mlp->n_params;

    /* This rank's share of a minibatch is at most ceil(batch / size) pairs = twice as many rows. */
    const size_t share_cap = (batch + (size_t)size - 1) / (size_t)size;
    train_buffers b;
    int failed = allocate_buffers(&b, out, n_list, n_val, &r, dim, share_cap, epochs) != 0 ||
                 rm_member_lists(cfg, pairs, index, b.train_ids, b.val_ids) != 0;
    if (failed) rm_error_context("member %d (batch %zu pairs, %zu parameters)", index, batch, n_params);
    /* A rank that could not allocate must not leave the others waiting in an Allreduce. */
    if (size > 1 ? rm_all_ok(group, failed ? -1 : 0) != 0 : failed) goto fail;
    const size_t steps = (n_list + batch - 1) / batch;
    /* entries one epoch trains on: the loss is their mean (per pair for bt, per item for
     * clf, as the reference's BCE losses average; validation is normalised the same way) */
    const double per_pair_terms = r.clf ? 2.0 : 1.0;
    const size_t epoch_entries = r.draw ? steps * step_pairs(&r, n_list, 0) : n_list;

    loop_state ls = {INFINITY, 0, 0, 0, 0, 0};
    out->best_epoch = 0;
    if (control && control->resume_state && resume_from(out, &b, &ls, control, epochs) != 0) goto fail;
    if (control) control->interrupted = 0;
    for (int epoch = ls.first_epoch; epoch < epochs; epoch++) {
        double t_epoch = rm_now();
        epoch_order(&b, &r, seed, index, epoch, n_list);
        const int resuming_here = epoch == ls.first_epoch;
        double epoch_loss = resuming_here ? ls.resumed_epoch_loss : 0;
        for (size_t start = resuming_here ? ls.first_start : 0; start < n_list; start += batch) {
            /* A stop request is honoured at this step boundary, by every rank of the group
             * together: the request rides in the gradient's Allreduce one step ahead. */
            float stop_request = control && control->should_stop && control->should_stop(control->stop_ctx) ? 1.0f : 0.0f;
            size_t n_step = step_pairs(&r, n_list, start), lo, hi;
            share_of(n_step, size, rank, &lo, &hi);
            step_batch(&b, &r, seed, index, epoch, n_list, start, n_step, lo, hi);
            double batch_loss = 0;
            if (train_step(mlp, &b, data, pairs, &r, hi - lo, n_step, stop_request, group, size, index, lr,
                           weight_decay, &batch_loss) != 0)
                goto fail;
            if (!isfinite(batch_loss)) {
                rm_errorf("member %d: training loss is %s at epoch %d, minibatch of entries %zu..%zu: a NaN/Inf "
                          "in these pairs' embeddings, or diverging training (lower train.learning_rate)",
                          index, isnan(batch_loss) ? "NaN" : "Inf", epoch + 1, start, start + n_step);
                goto fail;
            }
            epoch_loss += batch_loss;
            if (b.grads[n_params + 1] > 0) {
                if (save_state(control, &b, &ls, n_params, epoch, start + batch, epoch_loss, rm_now() - t_epoch) != 0)
                    goto fail;
                buffers_free(&b);
                return 0;
            }
        }
        out->pairs_trained += (long long)epoch_entries;

        double val_sums[2] = {0, 0}; /* validation loss, validation pairs ranked correctly */
        if (validate_epoch(mlp, &b, data, pairs, n_val, &r, share_cap, group, rank, size, index, val_sums) != 0) goto fail;
        /* epoch_loss is a group total already: it travelled with the gradients */
        double train_loss = epoch_loss / (per_pair_terms * (double)epoch_entries);
        double val_loss = n_val ? val_sums[0] / (per_pair_terms * (double)n_val) : NAN;
        double val_accuracy = n_val ? val_sums[1] / (double)n_val : NAN;
        out->train_loss[epoch] = train_loss;
        out->val_loss[epoch] = val_loss;
        out->val_accuracy[epoch] = val_accuracy;
        out->epochs_run = epoch + 1;

        int stop = 0;
        if (n_val == 0) {
            out->best_epoch = epoch + 1; /* nothing to select on: the last weights */
        } else {
            if (val_loss < ls.best_val) {
                ls.best_val = val_loss;
                out->best_epoch = epoch + 1;
                ls.since_best = 0;
                memcpy(b.best_params, mlp->params, n_params * sizeof(float));
            } else {
                ls.since_best++;
            }
            stop = stop_early(&r, out->val_loss, epoch + 1, ls.since_best);
        }
        double seconds = rm_now() - t_epoch;
        ls.train_time += seconds;
        if (progress && rank == 0) {
            double eta = stop ? 0 : ls.train_time / (epoch + 1) * (epochs - epoch - 1);
            progress(out, epoch + 1, epochs, train_loss, val_loss, val_accuracy,
                     seconds > 0 ? (double)epoch_entries / seconds : 0, eta, ctx);
        }
        if (stop) break;
    }
    if (!r.restore_best) out->best_epoch = out->epochs_run; /* the last weights are kept */
    else if (n_val > 0 && out->best_epoch > 0) memcpy(mlp->params, b.best_params, n_params * sizeof(float));
    /* The ranks applied identical steps; make "every rank holds the same member" exact
     * whatever the MPI library's reduction order. */
    if (size > 1 && MPI_Bcast(mlp->params, (int)n_params, MPI_FLOAT, 0, group) != MPI_SUCCESS) {
        rm_errorf("member %d: MPI_Bcast of the parameters failed", index);
        goto fail;
    }
    if (rm_member_standardise_train(out, data, group) != 0) goto fail;
    char why[160];
    if (rank == 0 && rm_member_divergence(out, why, sizeof why)) {
        fprintf(stderr, "warning: member %d may have diverged: %s (it is written anyway)\n", index, why);
        fflush(stderr);
    }
    buffers_free(&b);
    out->train_seconds = rm_now() - t_start;
    return 0;

fail:
    buffers_free(&b);
    rm_member_free(out);
    return -1;
}
