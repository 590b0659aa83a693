/* The synthetic embedding store written by `rmens synth`.
 *
 * Model (all draws Philox, keyed by (synth.seed, stream, index), so the data is a pure
 * function of the configuration, whatever the number of ranks):
 *   topic centres   c_t ~ N(0, I_D), t < synth.topics
 *   prompt p        topic t_p uniform; x_p = c_t + 0.5 N(0, I_D); offset o_p ~ 0.4 N(0, 1)
 *   response (p,k)  e = x_p + synth.noise * N(0, I_D)
 *   golden reward   g(e) = o_p + (1/sqrt(H)) sum_j a_j tanh(2 z_j + b_j) + 0.7 u_1 u_2,
 *                   z = W e / sqrt(D s2), u = U e / sqrt(D s2), s2 = 1.25 + noise^2,
 *                   H = 16 hidden directions W, 2 interaction directions U.
 * The prompt offset is invisible in the embedding (it only moves all of a prompt's
 * rewards together), the tanh and product terms make it nonlinear: on the defaults a
 * linear model reaches about 0.71 within-prompt pairwise accuracy, a small MLP about 0.78,
 * the true function 1.0. Prompts are numbered train, then test, then benchmark, so the
 * benchmark's prompts are held out from both splits; each benchmark pair is two responses
 * of one such prompt, the one with the higher golden reward "chosen".
 *
 * Views (synth.views = V > 0, format_version 2): views view1 .. viewV embed the same
 * stored responses e (train, test and benchmark) as
 *   y = tanh(1.5 M_v e / sqrt(D s2) + c_v),  M_v ~ N(0, 1)^[D_v x D], c_v ~ 0.3 N(0, I)
 * (drawn from sub-streams of the topic stream), so every view carries the same golden
 * reward through a different random nonlinear map. D_v = synth.view_dims[v - 1], or by
 * default synth.dim + 8 (v - 1) (view1 as wide as the default view, each next one 8
 * wider). The store_uuid description gains the views only when there are any. */
#ifndef RMENS_SYNTH_H
#define RMENS_SYNTH_H

#include <mpi.h>

#include "rmens/base/config.h"

/* Write cfg->store collectively over comm (refusing an existing store unless force).
 * 0, or -1 on every rank with one message; nothing is left behind on failure. */
int rm_synth_write(const rm_settings *cfg, MPI_Comm comm, int force);

#endif
