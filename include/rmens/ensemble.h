/* The ensemble: members dealt over MPI rank groups, the node-shared train split, and
 * the members file.
 *
 * members.h5 (documented names, readable by h5py):
 *   /                attrs: format="rmens-members", format_version=1, version, n_members,
 *                           config (text), store, store_uuid, ranks, ranks_per_member
 *   /member_<m>/     attrs: index, seed, dim, hidden (int array), objective,
 *                           score_mean, score_std, epochs_run, best_epoch, train_seconds
 *   /member_<m>/layer_<l>/weight [out, in] float32, /member_<m>/layer_<l>/bias [out]
 *   /member_<m>/history/train_loss, val_loss, val_accuracy [epochs_run] float64
 * so that in PyTorch: lin.weight.data = torch.from_numpy(f["member_0/layer_0/weight"][:]). */
#ifndef RMENS_ENSEMBLE_H
#define RMENS_ENSEMBLE_H

#include <mpi.h>

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

/* `rmens train`: the whole distributed training of cfg on comm. */
int rm_ensemble_train(const rm_settings *cfg, MPI_Comm comm, int force, int resume);

#endif
