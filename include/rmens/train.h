/* Training one ensemble member, on one rank or data-parallel over a group of ranks. */
#ifndef RMENS_TRAIN_H
#define RMENS_TRAIN_H

#include <mpi.h>
#include <stdint.h>

#include "rmens/config.h"
#include "rmens/model.h"
#include "rmens/pairs.h"

/* The train split as every rank of a node sees it (a node-shared window, or any array). */
typedef struct {
    const float *embeddings; /* [N * K * D] float32, item p*K+k at row p*K+k */
    const float *rewards;    /* [N * K] golden rewards */
    size_t n_prompts, n_responses, dim;
} rm_train_data;

/* A trained member: weights, standardisation and history. */
typedef struct {
    int index;               /* member number m in 0..E-1 */
    uint64_t seed;           /* rm_member_seed(cfg seed, m) */
    rm_mlp mlp;
    double score_mean, score_std; /* of the member's scores over all train responses */
    int epochs_run, best_epoch;   /* best_epoch: 1-based epoch whose weights were kept */
    double *train_loss, *val_loss, *val_accuracy; /* [epochs_run], owned */
    double train_seconds;
    long long pairs_trained;      /* pair gradient evaluations, all epochs */
    const struct rm_family *family; /* rmens/family.h; NULL: an MLP (members zeroed by calloc) */
    void *model;                  /* the model of families other than mlp, owned by the family */
} rm_member;

/* Called on the group's rank 0 after each epoch. */
typedef void (*rm_progress_fn)(const rm_member *m, int epoch, int epochs, double train_loss,
                               double val_loss, double val_accuracy, double pairs_per_second,
                               double eta_seconds, void *ctx);

/* Train member `index` on `pairs` (collective over `group`: with S > 1 ranks each rank
 * computes its share of every minibatch and gradients are summed with MPI_Allreduce
 * before an identical Adam step). On return every rank of the group holds the same
 * member. Hyperparameters from cfg (model.*, train.*, ensemble.data, seed).
 *
 * Details the results depend on:
 *  - seed = rm_member_seed(cfg->seed, index); initialisation from stream
 *    RM_STREAM_MEMBER(index, RM_MEMBER_INIT) (ensemble.shared_init = true: member 0's
 *    seed and stream for every member, rm_member_init_weights in rmens/warm.h), epoch e's minibatch order from
 *    RM_STREAM_MEMBER(index, RM_MEMBER_SHUFFLE) at counters e * 2^32 + i, bootstrap
 *    resampling (ensemble.data = "bootstrap") from RM_STREAM_MEMBER(index, RM_MEMBER_BOOTSTRAP).
 *    With S = 1 the member depends on (cfg, data, pairs, index) only, bit for bit, whatever
 *    the BLAS thread count.
 *  - The training list: the training pairs (bootstrap: a resample), each twice with
 *    pairs.both_orders (the two orders have the same loss and gradient).
 *  - Minibatches of train.batch_size entries. train.minibatches = "epoch": consecutive
 *    batches of one permutation per epoch (the last may be smaller); "draw" (the seed
 *    code's loop): ceil(n / batch) steps per epoch, each a fresh uniform draw of
 *    min(batch, n) distinct entries from RM_STREAM_MEMBER(index, RM_MEMBER_DRAW) at
 *    counters e * 2^32 + step * batch + t.
 *    Losses are means: per pair for bt, per item (2 per pair) for clf, as the reference.
 *    Under bt the output bias gets no gradient (it cancels in r_w - r_l).
 *  - val_loss / val_accuracy: the objective's mean loss and the fraction of validation
 *    pairs with r_w > r_l (both objectives), per epoch; NaN when there are no validation
 *    pairs. Early stopping (train.patience = P > 0): train.stop_rule = "no_improvement"
 *    stops after P epochs without a new lowest validation loss; "rise" (the seed code)
 *    when the latest validation loss is above each of the previous P. The weights kept are
 *    those of the lowest validation loss (train.restore_best = true; best_epoch says
 *    which) or the last ones (false; best_epoch = epochs_run).
 *  - score_mean / score_std: mean and population standard deviation of the member's
 *    scores over all N*K train items. train_seconds covers the whole call.
 *  - Errors (return -1, nothing allocated in *out): invalid settings naming the key,
 *    train.batch_size larger than the training pairs, pairs outside the data, a NaN/Inf
 *    training loss (identically on every rank of the group). */
int rm_train_member(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs,
                    int index, MPI_Comm group, rm_member *out, rm_progress_fn progress, void *ctx);
void rm_member_free(rm_member *m);

/* Member `index`'s training and validation lists, as pair ids (train.val_split):
 *  - "pairs" (default): the pairs' own split (pairs->order), the same for every member;
 *    with pairs.both_orders each training pair twice in a row;
 *  - "entries" (the seed code's train_test_split of its doubled list): all pairs, each
 *    twice with both orders, in one permutation per member from
 *    RM_STREAM_MEMBER(index, RM_MEMBER_SPLIT); its first floor(n_entries * val_fraction)
 *    entries validate, the rest train, so a pair's two orders may fall on both sides.
 * ensemble.data = "bootstrap" resamples the training list. Sizes first (n_val may be
 * NULL); the lists go into caller arrays of those sizes. */
size_t rm_member_list_sizes(const rm_settings *cfg, const rm_pairs *pairs, size_t *n_val);
int rm_member_lists(const rm_settings *cfg, const rm_pairs *pairs, int index, uint32_t *train_ids, uint32_t *val_ids);
/* Non-zero when a trained member looks diverged, with the reason in why[n]: validation
 * accuracy below 0.5 at the kept epoch, or a training or validation loss that grew
 * tenfold (last against first epoch; kept against lowest). rm_train_member warns. */
int rm_member_divergence(const rm_member *m, char *why, size_t n);
/* The member's history as three rows of a table of width `stride` >= epochs_run:
 * rows[e] train loss, rows[stride + e] validation loss, rows[2 * stride + e] accuracy. */
void rm_member_history_rows(const rm_member *m, double *rows, int stride);

/* ---- interrupting and resuming (checkpoints) ---- */

/* Everything besides the member itself (weights, history, epochs_run, best_epoch,
 * pairs_trained) that training needs to continue bit for bit from a step boundary. */
typedef struct {
    int next_epoch;          /* 0-based epoch to continue */
    long long next_start;    /* position in that epoch's pair order of the next minibatch */
    long long adam_step;     /* Adam's step count */
    double epoch_loss;       /* loss summed over the epoch's steps so far */
    double best_val;         /* lowest validation loss so far (INFINITY before any) */
    int since_best;          /* epochs since best_val */
    double train_time;       /* seconds of training so far (for progress and ETA only) */
    size_t n_params;
    float *adam_m, *adam_v, *best_params; /* [n_params] each, owned */
} rm_train_state;

typedef struct {
    /* Polled on every rank before each step; non-zero asks to stop at the next step
     * boundary. With S > 1 the request of any rank of the group stops them all together. */
    int (*should_stop)(void *ctx);
    void *stop_ctx;
    /* Continue from a checkpoint: member weights and history in *resume_member, the rest
     * in *resume_state (both as saved by an interrupted call). NULL: start afresh. */
    const rm_member *resume_member;
    const rm_train_state *resume_state;
    /* Out: set when training stopped on request; then *out holds the weights and history
     * so far (no standardisation) and *saved the state (caller frees it). */
    int interrupted;
    rm_train_state saved;
} rm_train_control;

/* rm_train_member with interruption and resumption. */
int rm_train_member_controlled(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, int index,
                               MPI_Comm group, rm_member *out, rm_progress_fn progress, void *ctx,
                               rm_train_control *control);
int rm_train_state_alloc(rm_train_state *s, size_t n_params);
void rm_train_state_free(rm_train_state *s);

/* Score n items (flat indices, or rows 0..n-1 when items == NULL) of `embeddings` with
 * the member's MLP into scores[n], in minibatches. Local. */
int rm_member_score(const rm_mlp *mlp, const float *embeddings, size_t dim, const uint32_t *items,
                    size_t n, float *scores);

#endif
