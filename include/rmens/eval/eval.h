/* Evaluation: scoring the test split with every member and reducing per-member
 * predictions to ensemble figures (best-of-n, Spearman, pairwise and benchmark accuracy,
 * agreement, uncertainty, ensemble-size ablation).
 *
 * The parallel shape (src/eval/eval.c): test prompts are cut into fixed blocks of
 * RM_EVAL_BLOCK_PROMPTS, blocks are dealt contiguously over the ranks, and each rank
 * reads its prompts once, in pieces of eval.chunk_prompts, scoring each piece with every
 * member. Per-prompt figures are summed into their block in prompt order; rank 0 sums
 * the blocks in block order. Blocks do not depend on the rank count, so every figure is
 * bitwise identical for any number of ranks (a plain MPI_Allreduce of doubles is not).
 *
 * The accumulation and reduction below are public so that tests can drive them with
 * made-up predictions and a made-up partition. */
#ifndef RMENS_EVAL_H
#define RMENS_EVAL_H

#include <mpi.h>

#include "rmens/base/config.h"

/* `rmens eval`: score cfg's store with <output>/members.h5, write results.h5 and
 * results.json into the output directory, print the table on rank 0. Collective. */
int rm_evaluate(const rm_settings *cfg, MPI_Comm comm, int force);

/* Local (rank 0): the members' pairs.source (members.h5 root attribute pairs_source;
 * absent: "golden") against cfg's. Evaluating members on labels of another kind than they
 * learnt from is refused, naming both; the dry run makes the same check. */
int rm_eval_check_pairs_source(const rm_settings *cfg, const char *members);

#endif
