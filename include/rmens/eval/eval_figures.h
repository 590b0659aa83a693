/* From blocks of slots to the final figures: the rank-count-independent reduction and
 * the figures (src/eval/eval_figures.c). */
#ifndef RMENS_EVAL_EVAL_FIGURES_H
#define RMENS_EVAL_EVAL_FIGURES_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "rmens/eval/eval_plan.h"
#include "rmens/eval/eval_results.h"

/* Collective: gather every rank's blocks (rank r holds blocks [first_block, first_block +
 * n_local_blocks)) and sum them on rank 0 in block order into total[n_slots]; sum the
 * integer bench counts into bench_total. total/bench_total are only written on rank 0. */
int rm_eval_reduce(const rm_eval_plan *p, MPI_Comm comm, const double *local_blocks, size_t n_local_blocks,
                   const int64_t *bench_local, double *total, int64_t *bench_total);

/* From the reduced totals (rank 0). n_bench = 0: bench accuracy NaN. */
int rm_eval_finish(const rm_eval_plan *p, const double *total, const int64_t *bench_total, size_t n_bench,
                   rm_eval_results *out);
void rm_eval_results_free(rm_eval_results *r);

/* Field by field over n records of `fields` doubles (record i at in + i * fields): the mean
 * and the population standard deviation of the values that are defined (a NaN is skipped;
 * NaN when none is), summed in record order so the result is the same on any rank count.
 * std may be NULL. Used for the spread over members, over ablation subsets and over the
 * warm models of the subsets. */
void rm_eval_mean_std_fields(const double *in, int n, size_t fields, double *mean, double *std);

#endif
