/* Active reward modelling (`rmens active`): the ensemble chooses which pool pairs get
 * labelled, round by round (Shen, Sun, Ton, ICML 2025, ARM-FI).
 *
 * The pool is active.pool pairs built by the pairs machinery (pairs.* design, no
 * validation split: every pool pair is a candidate). Labels are a pure function of the
 * pair index, so "hidden until selected" means that only the selected pairs' labels are
 * used: training sees the labelled set only, and every criterion is symmetric in the
 * pair's order (swapping a and b leaves it unchanged), so the stored winner-first order
 * of the pool tells the criteria nothing.
 *
 * Round 0 labels the pool's first active.initial pairs (the pairs are independent random
 * draws, so they are a random subset; it also makes round 0 the run `rmens train` does
 * with pairs.count = active.initial). Round r >= 1 scores every unlabelled pool pair with
 * the ensemble of round r - 1, labels the active.batch best by the strategy's criterion
 * (ties by pair index), and trains again. The labelled set is split into train and
 * validation as rmens train splits its pairs (train.val_fraction, RM_STREAM_VALIDATION).
 *
 * Criteria, per candidate pair i with member m's score difference d_mi = r_m(a) - r_m(b)
 * and p_mi = sigmoid(d_mi), pbar_i = mean_m p_mi, H the binary entropy (nats); larger is
 * picked first:
 *   random        uniform(seed, RM_STREAM_ACTIVE, round * 2^32 + i)
 *   entropy       H(pbar_i)
 *   disagreement  population variance over members of p_mi
 *   bald          H(pbar_i) - mean_m H(p_mi)
 *   levelset      -|mean_m d_mi|
 *   dopt          greedy log det of the last layer's Fisher information: features x_mi =
 *   past_dopt     h_m(a) - h_m(b) (last hidden activations), weights w_mi = p_mi (1 - p_mi);
 *                 member m's information starts at M_m = active.dopt_ridge I (dopt) or
 *                 that plus sum over the labelled pairs of w x x^T (past_dopt); each pick
 *                 is the candidate with the largest mean over members of the gain
 *                 g_mi = w_mi x_mi^T M_m^-1 x_mi (log det grows by log(1 + g_mi)), then
 *                 M_m^-1 gets the Sherman-Morrison update and every gain its rank-1 update. */
#ifndef RMENS_ACTIVE_H
#define RMENS_ACTIVE_H

#include <mpi.h>

#include "rmens/base/config.h"

/* `rmens active`: the whole run of cfg on comm (see src/active/active.c). */
int rm_active_run(const rm_settings *cfg, MPI_Comm comm, int force, int resume);

/* The checks rm_active_run makes before any work (local; `rmens active --dry-run`): the
 * settings (strategy, pool / initial / batch / rounds, batch size, family rules), the
 * job's shape on n_ranks ranks (no ensemble.views, parallel.ranks_per_member dividing the
 * ranks) and, when `store` is open for the run (NULL: skipped), the pool against its
 * train split. 0, or -1 with the message naming the key. */
struct rm_store;
int rm_active_check(const rm_settings *cfg, int n_ranks, const struct rm_store *store);

#endif
