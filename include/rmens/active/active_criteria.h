/* The criteria of active reward modelling (src/active/active_criteria.c): the pointwise
 * scores of candidate pairs, the top-k selection over ranks, and the greedy D-optimal
 * design. What each strategy computes: rmens/active/active.h. */
#ifndef RMENS_ACTIVE_ACTIVE_CRITERIA_H
#define RMENS_ACTIVE_ACTIVE_CRITERIA_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "rmens/base/config.h"

typedef enum {
    RM_ACTIVE_RANDOM,
    RM_ACTIVE_ENTROPY,
    RM_ACTIVE_DISAGREEMENT,
    RM_ACTIVE_BALD,
    RM_ACTIVE_LEVELSET,
    RM_ACTIVE_DOPT,
    RM_ACTIVE_PAST_DOPT,
} rm_active_strategy;

#define RM_STREAM_ACTIVE 30 /* the random strategy's draws (beside the rng.h streams) */

/* "random", "entropy", ... -> the strategy; -1 with an error naming active.strategy. */
int rm_active_strategy_parse(const char *name, rm_active_strategy *out);
const char *rm_active_strategy_name(rm_active_strategy s);
static inline int rm_active_is_dopt(rm_active_strategy s) { return s == RM_ACTIVE_DOPT || s == RM_ACTIVE_PAST_DOPT; }

/* Pointwise criteria (every strategy but the D-optimal ones) of n candidates:
 * d[m * stride + i] member m's raw score difference of candidate i, crit[i] out. random
 * draws from (seed, round) at the candidates' global pair indices ids[i]. */
void rm_active_pointwise(rm_active_strategy s, const float *d, size_t stride, int E, size_t n, const uint32_t *ids,
                         uint64_t seed, int round, double *crit);

/* The D-optimal weights w[m * stride + i] = p (1 - p), p = sigmoid(d[m * stride + i]). */
void rm_dopt_weights(const float *d, size_t stride, int E, size_t n, double *w);

/* A candidate with its criterion; the order of selection: criterion descending, then
 * pair index ascending (a total order, so the selection is unique). */
typedef struct {
    double crit;
    uint32_t id;
} rm_active_pick;

/* Collective: the k best candidates over all ranks (each passes its n local ones with
 * their global ids; eligible[i] = 0 excludes one, NULL: all eligible) into out[k] on
 * every rank, best first. Fewer than k eligible in all: an error. */
int rm_active_top(MPI_Comm comm, const double *crit, const uint32_t *ids, const unsigned char *eligible, size_t n,
                  size_t k, rm_active_pick *out);

/* The D-optimal rules' candidates on one rank: E members, features of width H.
 * x[(m * n + i) * H + h], w[m * n + i]; ids[n] global pair indices, ascending. */
typedef struct {
    int E, H;
    size_t n;
    const float *x;
    const double *w;
    const uint32_t *ids;
    const unsigned char *eligible; /* NULL: all */
    int eager; /* tests: every gain updated after every pick (the same picks and gains, slower) */
} rm_dopt_pool;

/* Member m's starting inverse information minv[m * H * H ..] (double, symmetric):
 * (ridge I + sum_j w_mj x_mj x_mj^T)^-1 over the n_lab labelled pairs whose features
 * and weights every rank passes in the same order (x_lab[(m * n_lab + j) * H + h],
 * w_lab[m * n_lab + j]; n_lab = 0 for dopt). Local, deterministic. */
int rm_dopt_start(int E, int H, size_t n_lab, const float *x_lab, const double *w_lab, double ridge, double *minv);

/* Collective: k greedy picks (every rank gets out[k]: the pick and its mean gain at the
 * time it was picked). minv is updated in place (every rank the same). Lazy greedy with
 * a sync of every gain each 64 picks (src/active/active_criteria.c): the picks and gains are
 * those of updating every gain after every pick (pool->eager, for the tests), bit for
 * bit. The initial gains' products run in fixed blocks of candidates that start at
 * multiples of RM_DOPT_BLOCK of the pool, and each rank's candidates must start at such
 * a multiple; every later product is computed the same way wherever it is; so the gains
 * are bitwise the same for any rank or thread count. */
#define RM_DOPT_BLOCK 256
int rm_dopt_greedy(MPI_Comm comm, const rm_dopt_pool *pool, double *minv, size_t k, rm_active_pick *out);

#endif
