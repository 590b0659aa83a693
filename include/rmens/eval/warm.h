/* Shared initialisation and weight averaging (WARM, Ramé et al. 2024, issue 16).
 *
 * Training: with ensemble.shared_init = true every MLP member starts from the same
 * initial weights, member 0's: rm_mlp_init_uniform with seed rm_member_seed(seed, 0) and
 * stream RM_STREAM_MEMBER(0, RM_MEMBER_INIT). Member 0 is therefore the same with or
 * without the key; every other member keeps its own seed for everything else (minibatch
 * order, draws, bootstrap, the entries split). members.h5 records it as the root
 * attribute shared_init = 1.
 *
 * Evaluation (eval.warm = auto | true | false, default auto): when members.h5 has
 * shared_init = 1 (auto) or when asked (true; then shared_init = 1 is required), evaluation
 * adds the aggregator "warm": the single MLP whose every parameter is the mean of the
 * members' (summed in double in member order, rounded once to float32). It is
 * standardised like a member: score_mean / score_std are the mean and population
 * standard deviation of its scores over all N*K train responses of the members' view,
 * computed on one rank with the training code (rm_member_standardise_train as with
 * parallel.ranks_per_member = 1), so the figures do not depend on the rank count; a
 * "warm" of one member is that member, its stored standardisation included. It is scored
 * on the test split and bench pairs like a member and reported as aggregators.warm (the
 * fields of every aggregator) in results.json / results.h5, for the full ensemble and for
 * each ablation size: there the mean over the same random k-member subsets the other
 * aggregators use of the figures of each subset's own weight average (and their population
 * std over those subsets, std_over_subsets).
 *
 * Refused with one line naming why, before anything is written: eval.warm = true without
 * shared_init = 1, and warm (true, or auto with shared_init = 1) over members that are not
 * all MLPs of one shape on one view. Training refuses ensemble.shared_init = true with
 * tree members or members on different views, and a checkpoint of one initialisation
 * does not resume under the other (rm_shared_init_fingerprint). /predictions
 * (eval.save_predictions) holds the members only. `rmens active` with the key reports
 * aggregators.warm of every round's full ensemble (no ablation; src/active/active.c). */
#ifndef RMENS_WARM_H
#define RMENS_WARM_H

#include <mpi.h>

#include "rmens/base/config.h"
#include "rmens/ensemble/members_file.h"
#include "rmens/eval/eval_plan.h"
#include "rmens/eval/eval_results.h"
#include "rmens/model/model.h"
#include "rmens/store/store.h"




/* Whether evaluation computes the warm aggregator for the loaded ensemble e under
 * eval.warm: *enabled 0 or 1, or -1 with the reason (local; the same on every rank). */
int rm_warm_decide(const rm_settings *cfg, const rm_ensemble *e, int *enabled);

/* The weight average of members[list[0..k)] of e into *out (allocated here; k = 1: a copy
 * of the member with its standardisation, otherwise no standardisation yet). Local. */
int rm_warm_average(const rm_ensemble *e, const int *list, int k, rm_member *out);

/* Collective: build the warm model of the full ensemble and of every ablation subset of
 * plan (once per distinct member list), standardise them on the train split, score them on
 * the test split, and on rank 0 fill res->warm, res->ablation_warm and res->ablation_warm_std (res from
 * rm_eval_score of the same plan). train: the store's train split (of the members' view)
 * already in memory, or NULL to read it here. *n_models: the distinct models; *seconds:
 * the slowest rank's time for all of it. */
int rm_warm_evaluate(const rm_settings *cfg, MPI_Comm comm, rm_store *store, const rm_train_data *train,
                     const rm_ensemble *e, const rm_eval_plan *plan, int threads, rm_eval_results *res, int *n_models,
                     double *seconds);

#endif
