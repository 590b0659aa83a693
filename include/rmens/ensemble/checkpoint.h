/* Training checkpoints: what every rank needs to continue an interrupted ensemble run
 * bit for bit (layout in src/ensemble/checkpoint.c). */
#ifndef RMENS_CHECKPOINT_H
#define RMENS_CHECKPOINT_H

#include <mpi.h>

#include "rmens/base/config.h"
#include "rmens/member/train.h"

/* Exit status of `rmens train` after writing a checkpoint on SIGTERM/SIGUSR1 (EX_TEMPFAIL):
 * the Slurm scripts requeue the job on it, and `rmens train --resume` continues. */
#define RM_EXIT_CHECKPOINTED 75

enum { RM_MEMBER_PENDING = 0, RM_MEMBER_IN_PROGRESS = 1, RM_MEMBER_FINISHED = 2 };

/* One member as a rank sees it during training. */
typedef struct {
    int trains;     /* this rank's group trains the member */
    int owned;      /* this rank writes the member (its group's rank 0) */
    int status;     /* RM_MEMBER_* */
    rm_member member;     /* weights and history once started */
    rm_train_state state; /* in progress: the rest of the training state */
} rm_member_slot;

/* The settings the trained members depend on, as text: a checkpoint only resumes a run
 * with the same fingerprint (rank counts and checkpoint timing may change). malloc'd. */
char *rm_checkpoint_fingerprint(const rm_settings *cfg, const char *store_uuid);
/* Collective: write every member's slot (each owner its own) to `path` atomically;
 * n_params[m]: member m's parameter count (members on store views of different D differ). */
int rm_checkpoint_write(const char *path, MPI_Comm comm, const char *fingerprint, rm_member_slot *slots,
                        int n_members, const size_t *n_params, int max_epochs);
/* Local: read the status of every member and the data of the slots this rank trains or
 * owns, member m with input dimension dims[m] and n_params[m] parameters. Checks format,
 * fingerprint and sizes. */
int rm_checkpoint_read(const char *path, const char *fingerprint, const rm_settings *cfg, const int *dims,
                       const size_t *n_params, rm_member_slot *slots, int n_members);
void rm_member_slot_free(rm_member_slot *s);

#endif
