/* The members file: writing and loading a trained ensemble (src/ensemble/members_file.c).
 *
 * members.h5 (documented names, readable by h5py):
 *   /                attrs: format="rmens-members", format_version=1, version, n_members,
 *                           config (text), store, store_uuid, ranks, ranks_per_member,
 *                           shared_init (int 0/1: 1 when trained with ensemble.shared_init =
 *                           true, every member starting from member 0's initial weights,
 *                           rmens/eval/warm.h; absent in older files: 0)
 *   /member_<m>/     attrs: index, seed, dim, hidden (int array), objective,
 *                           score_mean, score_std, epochs_run, best_epoch, train_seconds,
 *                           view (string; only with ensemble.views: the store view the
 *                           member was trained on and is scored on; absent: the default)
 * With ensemble.views the root `dim` is the default view's; each member's dim is its view's.
 * Root attribute ensemble_kind = "independent" | "shared_trunk". A shared trunk
 * (rmens/member/trunk.h) is stored once: /trunk/layer_<l>/weight, bias for its hidden layers
 * (attrs dim, hidden, n_heads); each head is a member group holding only its last layer,
 * with attribute trunk = "/trunk" naming where the others are.
 *   /member_<m>/layer_<l>/weight [out, in] float32, /member_<m>/layer_<l>/bias [out]
 *   /member_<m>/history/train_loss, val_loss, val_accuracy [epochs_run] float64
 * so that in PyTorch: lin.weight.data = torch.from_numpy(f["member_0/layer_0/weight"][:]).
 * With model.inputs (rmens/store/store_inputs.h) every member's `view` is the composite
 * "inputs:<view>+<view>..." and
 *   /inputs          attrs: views (strings, in order), dim; datasets mean, std [dim]
 *                    float64: a member's input is the views' features concatenated, each
 *                    (x - mean) / std. */
#ifndef RMENS_ENSEMBLE_MEMBERS_FILE_H
#define RMENS_ENSEMBLE_MEMBERS_FILE_H

#include <mpi.h>

#include "rmens/base/config.h"
#include "rmens/member/member.h"
#include "rmens/member/pairs.h"
#include "rmens/store/store.h"

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
    long long standardise_responses; /* root attribute: train.standardise_responses of the
                                        members' standardisation (absent, older files: -1) */
    int n_inputs;            /* /inputs: the views of model.inputs (0: none) */
    char inputs[RM_MAX_VIEWS][64];
    size_t inputs_dim;
    double *inputs_mean, *inputs_std; /* [inputs_dim] */
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

/* Collective over comm: members.h5 at `path` (a temporary name, then renamed). local[m]
 * is non-NULL on the rank that owns member m. */
int rm_members_file_write(const char *path, const rm_settings *cfg, const rm_store *store, const rm_pairs *pairs,
                          MPI_Comm comm, rm_member *const *local, int n_members, int dim, double wall_seconds);
/* Member m from `root` to every rank of comm: its family and scalars, then the model. */
int rm_member_bcast(rm_member *m, MPI_Comm comm, int rank, int root);

#endif
