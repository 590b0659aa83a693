/* The ensemble: members dealt over MPI rank groups, the node-shared train split, and
 * the members file.
 *
 * members.h5 (documented names, readable by h5py):
 *   /                attrs: format="rmens-members", format_version=1, version, n_members,
 *                           config (text), store, store_uuid, ranks, ranks_per_member,
 *                           shared_init (int 0/1: 1 when trained with ensemble.shared_init =
 *                           true, every member starting from member 0's initial weights,
 *                           rmens/warm.h; absent in older files: 0)
 *   /member_<m>/     attrs: index, seed, dim, hidden (int array), objective,
 *                           score_mean, score_std, epochs_run, best_epoch, train_seconds,
 *                           view (string; only with ensemble.views: the store view the
 *                           member was trained on and is scored on; absent: the default)
 * With ensemble.views the root `dim` is the default view's; each member's dim is its view's.
 * Root attribute ensemble_kind = "independent" | "shared_trunk". A shared trunk
 * (rmens/trunk.h) is stored once: /trunk/layer_<l>/weight, bias for its hidden layers
 * (attrs dim, hidden, n_heads); each head is a member group holding only its last layer,
 * with attribute trunk = "/trunk" naming where the others are.
 *   /member_<m>/layer_<l>/weight [out, in] float32, /member_<m>/layer_<l>/bias [out]
 *   /member_<m>/history/train_loss, val_loss, val_accuracy [epochs_run] float64
 * so that in PyTorch: lin.weight.data = torch.from_numpy(f["member_0/layer_0/weight"][:]). */
#ifndef RMENS_ENSEMBLE_H
#define RMENS_ENSEMBLE_H

#include <mpi.h>
#include <signal.h>

#include "rmens/checkpoint.h"
#include "rmens/pairs.h"

#include "rmens/config.h"
#include "rmens/store.h"
#include "rmens/train.h"

typedef struct {
    int n_members;
    rm_member *members; /* [n_members] */
    int dim;
    char objective[16];
    char store_uuid[64];
    char *config_text;  /* config the members were trained with */
    char (*member_view)[64]; /* [n_members] member attribute `view`, "" when absent */
    int shared_trunk;        /* root ensemble_kind = "shared_trunk": the members are heads on one trunk */
    int shared_init;         /* root attribute shared_init = 1 (absent: 0) */
} rm_ensemble;

/* Load every member on every rank of comm (rank 0 reads, weights are broadcast).
 * Checks the architecture against `expect_dim` (> 0) and that every member is present. */
int rm_ensemble_load(rm_ensemble *e, const char *path, MPI_Comm comm, int expect_dim);
void rm_ensemble_free(rm_ensemble *e);

/* Standardised score of a member: (raw - score_mean) / score_std. */
static inline float rm_member_standardise(const rm_member *m, float raw)
{
    return (float)((raw - m->score_mean) / m->score_std);
}

/* Turn SIGTERM and SIGUSR1 into checkpoint requests from process start on (`train` and
 * `run` call it before MPI_Init): a signal that arrives while the job is still starting
 * makes training checkpoint at its first step boundary instead of killing the rank. */
void rm_catch_stop_signals(void);

/* ---- views (ensemble.views; src/ensemble_views.c) ---- */
/* The configured views as store view indexes: index[i], dim[i] for i < n; without
 * ensemble.views one entry, the default view. Local; an unknown name is an error. */
typedef struct {
    int n;
    int index[RM_MAX_VIEWS];
    size_t dim[RM_MAX_VIEWS];
} rm_view_plan;
int rm_view_plan_resolve(rm_view_plan *vp, const rm_settings *cfg, const rm_store *store);
/* view_of_member[m] = the store view member m of a loaded ensemble is scored on, with its
 * dim checked against the view's D (local). */
int rm_ensemble_member_views(const rm_ensemble *e, const rm_store *store, int *view_of_member);

/* `rmens train`: the whole distributed training of cfg on comm. */
int rm_ensemble_train(const rm_settings *cfg, MPI_Comm comm, int force, int resume);

/* ---- the steps of rm_ensemble_train, which `rmens active` repeats every round ---- */

/* The train split in one node-shared window: every rank of a node reads a contiguous
 * shard of prompts (collective parallel HDF5) into it. Collective; rank 0 of each node
 * prints the node's line (host, bytes, read time, precision, `threads`). */
typedef struct {
    MPI_Comm node;
    MPI_Win window;
    float *embeddings; /* [N*K*D] */
    float *rewards;    /* [N*K] */
    size_t bytes;      /* window size on this node */
} rm_shared_split;
int rm_shared_split_load(rm_shared_split *ns, rm_store *store, MPI_Comm comm, int threads);
/* The same for store view `view` (its embeddings; the rewards are the same in every view). */
int rm_shared_split_load_view(rm_shared_split *ns, rm_store *store, int view, MPI_Comm comm, int threads);
void rm_shared_split_free(rm_shared_split *ns);

/* Members dealt over groups of parallel.ranks_per_member ranks: group g trains members
 * g, g + G, ...; the group's first rank owns (writes) them. */
typedef struct {
    MPI_Comm comm, group;
    int rank, size, n_groups, group_id, group_rank;
    int n_members, mine;   /* mine: members this rank's group trains */
    rm_member_slot *slots; /* [n_members] */
    size_t n_params;       /* of one member (0: views of different D) */
    int *member_dim;       /* [n_members] each member's input dimension (its view's D) */
    size_t *member_params; /* [n_members] its parameter count (checkpoints) */
    int n_views;           /* member m trains on data[m % n_views] (0 or 1: one view) */
    int shared_trunk;      /* ensemble.kind = "shared_trunk": group 0 trains all members as one unit */
} rm_member_deal;
/* The world rank that owns (writes, broadcasts) member m. */
int rm_member_deal_owner(const rm_member_deal *d, int m);
int rm_member_deal_create(rm_member_deal *d, const rm_settings *cfg, MPI_Comm comm, int dim);
/* Every slot back to pending, its member freed (the next training of the same deal). */
void rm_member_deal_reset(rm_member_deal *d);
void rm_member_deal_free(rm_member_deal *d);
/* The deal's views (after create): n_views and the parameter count they imply. */
void rm_member_deal_set_views(rm_member_deal *d, const rm_settings *cfg, const rm_view_plan *vp);

/* Collective: train every unfinished member of the deal on `pairs`, member m on
 * data[m % d->n_views] (in-progress slots
 * continue from their state). warm: NULL, or [n_members] weights each member starts from
 * instead of its initialisation (fresh Adam state, no history). Stops at step boundaries
 * on SIGTERM/SIGUSR1 or every train.checkpoint_minutes, then writes every slot to
 * checkpoint_path with `fingerprint`: returns RM_EXIT_CHECKPOINTED after a signal (the
 * message names `resume_hint`), otherwise continues. 0 when every member is finished. */
int rm_ensemble_train_slots(const rm_settings *cfg, rm_member_deal *d, const rm_train_data *data,
                            const rm_pairs *pairs, const rm_member *warm, const char *checkpoint_path,
                            const char *fingerprint, const char *resume_hint);
/* Collective: members.h5 of the deal's finished members (each owner writes its own). */
int rm_members_write(const char *path, const rm_settings *cfg, const rm_store *store, const rm_pairs *pairs,
                     const rm_member_deal *d, double wall_seconds);
/* Collective: all[m] = member m (weights and standardisation, no history) on every rank. */
int rm_member_deal_share(const rm_member_deal *d, rm_member *all);
/* Rank 0's line about the pairs (count, split, annotator, label agreement). */
void rm_pairs_print(const rm_pairs *pairs, const rm_settings *cfg);
/* SIGTERM/SIGUSR1 become checkpoint requests (the old actions saved for restoring);
 * rm_ensemble_stop_requested() says whether one arrived. */
void rm_ensemble_catch_signals(struct sigaction *old_term, struct sigaction *old_usr1);
int rm_ensemble_stop_requested(void);

#endif
