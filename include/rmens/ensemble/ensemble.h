/* The ensemble's training: members dealt over MPI rank groups, the node-shared train
 * split, checkpoints and stop requests (src/ensemble/ensemble.c). The members file it
 * writes: rmens/ensemble/members_file.h. */
#ifndef RMENS_ENSEMBLE_H
#define RMENS_ENSEMBLE_H

#include <mpi.h>
#include <signal.h>

#include "rmens/ensemble/checkpoint.h"
#include "rmens/member/pairs.h"

#include "rmens/base/config.h"
#include "rmens/store/store.h"
#include "rmens/ensemble/ensemble_views.h"
#include "rmens/ensemble/members_file.h"
#include "rmens/member/member.h"



/* Turn SIGTERM and SIGUSR1 into checkpoint requests from process start on (`train` and
 * `run` call it before MPI_Init): a signal that arrives while the job is still starting
 * makes training checkpoint at its first step boundary instead of killing the rank. */
void rm_catch_stop_signals(void);


/* `rmens train`: the whole distributed training of cfg on comm. */
int rm_ensemble_train(const rm_settings *cfg, MPI_Comm comm, int force, int resume);

/* ---- the steps of rm_ensemble_train, which `rmens active` repeats every round ---- */

/* The train split in one node-shared window: every rank of a node reads a contiguous
 * shard of prompts (collective parallel HDF5) into it. Collective; rank 0 of each node
 * prints the node's line (host, bytes, responses read, read time, precision, `threads`). */
typedef struct {
    MPI_Comm node;
    MPI_Win window;
    float *embeddings; /* [N*K*D] */
    float *rewards;    /* [N*K] */
    size_t bytes;      /* window size on this node */
    uint8_t *loaded;   /* NULL: every response's embedding is in the window; else [N*K],
                          1 where it is (rm_shared_split_read with a mask) */
    size_t n_loaded;   /* responses whose embeddings were asked for */
    double t_start;    /* rm_now() at rm_shared_split_open_view, for the read time */
} rm_shared_split;
int rm_shared_split_load(rm_shared_split *ns, rm_store *store, MPI_Comm comm, int threads);
/* The same for store view `view` (its embeddings; the rewards are the same in every view). */
int rm_shared_split_load_view(rm_shared_split *ns, rm_store *store, int view, MPI_Comm comm, int threads);
/* rm_shared_split_load_view in two steps, for a caller that knows from the rewards which
 * responses it will read (training: its pairs' and the standardisation sample's): open
 * makes the window and reads the rewards; read fills in the embeddings of every response
 * (wanted NULL) or of the wanted ones ([N*K], non-zero: needed; copied into ns->loaded),
 * leaving the others' pages untouched where the store allows (rm_store_read_view_items):
 * a run that reads a seventh of the responses then neither writes nor holds the rest. */
int rm_shared_split_open_view(rm_shared_split *ns, rm_store *store, int view, MPI_Comm comm);
int rm_shared_split_read(rm_shared_split *ns, rm_store *store, int view, MPI_Comm comm, int threads,
                         const uint8_t *wanted);
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
/* SIGTERM/SIGUSR1 become checkpoint requests (the old actions saved for restoring), and
 * so does a first SIGINT (Ctrl-C; unless SIGINT was ignored at start-up) until training
 * ends without a checkpoint; a second SIGINT ends the process at once.
 * rm_ensemble_stop_requested() says whether one arrived. */
void rm_ensemble_catch_signals(struct sigaction *old_term, struct sigaction *old_usr1);
int rm_ensemble_stop_requested(void);
/* <output>/log.jsonl: the group rank 0 of every member group appends a line per member
 * epoch (tree members: per round) as it trains (rmens/base/jsonl.h). Collective: a fresh
 * run (fresh != 0) removes the previous log first; a resumed one appends. */
void rm_ensemble_log_start(const rm_settings *cfg, MPI_Comm comm, int fresh);
/* `rmens active`: the round whose members train next ("round" in their log lines). */
void rm_ensemble_log_round(int round);

#endif
