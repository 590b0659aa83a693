/* Evaluation: scoring the test split with every member and reducing per-member
 * predictions to ensemble figures (best-of-n, Spearman, pairwise and benchmark accuracy,
 * agreement, uncertainty, ensemble-size ablation). */
#ifndef RMENS_EVAL_H
#define RMENS_EVAL_H

#include <mpi.h>

#include "rmens/config.h"

/* `rmens eval`: score cfg's store with <output>/members.h5, write results.h5 and
 * results.json into the output directory, print the table on rank 0. Collective. */
int rm_evaluate(const rm_settings *cfg, MPI_Comm comm, int force);

#endif
