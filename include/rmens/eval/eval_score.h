/* Scoring the test split and bench pairs with members in memory (`eval`, and `active`
 * every round; src/eval/eval_score.c). */
#ifndef RMENS_EVAL_EVAL_SCORE_H
#define RMENS_EVAL_EVAL_SCORE_H

#include <mpi.h>
#include <stddef.h>

#include "rmens/base/config.h"
#include "rmens/ensemble/members_file.h"
#include "rmens/eval/eval_plan.h"
#include "rmens/eval/eval_results.h"
#include "rmens/store/store.h"

/* Where scored pieces go as they are made (eval.save_predictions): write(ctx, q0, q1, z)
 * gets the standardised scores of test prompts [q0, q1) (z[m * (q1-q0) K + ...]), called
 * collectively once per piece; done(ctx) after the last. Either may be NULL. */
typedef struct {
    int (*write)(void *ctx, size_t q0, size_t q1, const float *z);
    int (*done)(void *ctx);
    void *ctx;
} rm_eval_sink;

/* Slowest rank's seconds, and member x response forwards in all (on rank 0). */
typedef struct {
    double read, score, stats, reduce, scored;
    double flops; /* forward FLOPs the scoring did (a shared trunk's heads: the unit's, once per row) */
} rm_eval_timing;

/* Collective: score the store's test split and bench pairs with every member of e (every
 * rank holds all of them), reduce in block order, and on rank 0 compute *res (the
 * caller frees it). Bitwise identical for any rank count. progress_verb (NULL: none):
 * the label of rank 0's progress lines in responses scored (rmens/base/progress.h), for
 * a verb whose scoring is its long part (eval; active has its rounds' lines). */
int rm_eval_score(const rm_settings *cfg, MPI_Comm comm, rm_store *store, const rm_ensemble *e,
                  const rm_eval_plan *plan, int threads, const rm_eval_sink *sink, const char *progress_verb,
                  rm_eval_results *res, rm_eval_timing *timing);

#endif
