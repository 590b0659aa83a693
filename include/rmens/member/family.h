/* The family registry: which family member m of a run is (ensemble.families dealt
 * round-robin, else model.family), the settings checks that depend on it, and training a
 * member of any family (src/member/family.c). The families themselves:
 * rmens/member/family_mlp.h and family_gbdt.h; the interface: rmens/member/member.h. */
#ifndef RMENS_MEMBER_FAMILY_H
#define RMENS_MEMBER_FAMILY_H

#include <mpi.h>

#include "rmens/member/train_state.h"
#include "rmens/base/config.h"
#include "rmens/member/member.h"
#include "rmens/member/pairs.h"

/* "mlp" | "gbdt"; NULL (with an error naming `key`) for anything else. */
const rm_family *rm_family_named(const char *name, const char *key);
/* Member m's family under cfg: ensemble.families[m mod F] when given, else model.family. */
const rm_family *rm_family_of_member(const rm_settings *cfg, int m);
/* Whether any member of cfg's ensemble is of family f. */
int rm_settings_use_family(const rm_settings *cfg, const rm_family *f);
/* The family settings checked once per run, naming keys: gbdt.* keys given with no gbdt
 * member warn (on stderr when `warn`), gbdt without XGBoost is an error, and so is
 * active.warm_start with trees. */
int rm_family_check_settings(const rm_settings *cfg, int warn);
/* A small number per family (0 mlp, 1 gbdt) for exchanges between ranks, and back. */
int rm_family_id(const rm_family *f);
const rm_family *rm_family_from_id(int id);
/* The number of families: ids 0 .. rm_family_count() - 1 (0: the MLP). */
int rm_family_count(void);
/* A checkpoint fingerprint (malloc'd `text`, freed here) with the family settings
 * appended when any member is not an MLP (MLP-only fingerprints stay as they were). */
char *rm_family_fingerprint(const rm_settings *cfg, char *text);
/* History rows a member of cfg can need: train.epochs, or gbdt.rounds with tree members. */
int rm_settings_max_epochs(const rm_settings *cfg);

/* ensemble.kind and what it excludes, naming keys: a shared trunk needs MLP members with
 * at least one hidden layer, one view, no active.warm_start. */
int rm_ensemble_kind_check(const rm_settings *cfg);

/* The settings check of ensemble.shared_init (rm_family_check_settings calls it). */
int rm_shared_init_check(const rm_settings *cfg);

/* Train member `index` on `pairs` (collective over `group`: with S > 1 ranks each rank
 * computes its share of every minibatch and gradients are summed with MPI_Allreduce
 * before an identical Adam step). On return every rank of the group holds the same
 * member. Hyperparameters from cfg (model.*, train.*, ensemble.data, seed).
 *
 * Details the results depend on:
 *  - seed = rm_member_seed(cfg->seed, index); initialisation from stream
 *    RM_STREAM_MEMBER(index, RM_MEMBER_INIT) (ensemble.shared_init = true: member 0's
 *    seed and stream for every member, rm_member_init_weights in rmens/member/shared_init.h), epoch e's minibatch order from
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

/* rm_train_member with interruption and resumption. */
int rm_train_member_controlled(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, int index,
                               MPI_Comm group, rm_member *out, rm_progress_fn progress, void *ctx,
                               rm_train_control *control);

#endif
