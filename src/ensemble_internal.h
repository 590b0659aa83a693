/* Internal to src/ensemble.c and src/members_file.c. */
#ifndef RMENS_ENSEMBLE_INTERNAL_H
#define RMENS_ENSEMBLE_INTERNAL_H

#include "rmens/ensemble.h"

/* Collective over comm: members.h5 at `path` (a temporary name, then renamed). local[m]
 * is non-NULL on the rank that owns member m. */
int rm_members_file_write(const char *path, const rm_settings *cfg, const rm_store *store, const rm_pairs *pairs,
                          MPI_Comm comm, rm_member *const *local, int n_members, int dim, double wall_seconds);
/* Member m from `root` to every rank of comm: its family and scalars, then the model. */
int rm_member_bcast(rm_member *m, MPI_Comm comm, int rank, int root);

#endif
