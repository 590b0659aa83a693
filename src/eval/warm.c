/* Shared initialisation and the warm (weight-averaged) aggregator: see include/rmens/eval/warm.h.
 *
 * The warm models are scored by a second rm_eval_score over an "ensemble" whose members
 * are the warm models themselves: model 0 averages the full ensemble, the next ones each
 * distinct member list among the main plan's ablation subsets. Each one's figures are then
 * that pass's single-member figures, computed and reduced exactly like every member's,
 * so they are bitwise the same for any rank count, and evaluations without warm never
 * reach this file (their results stay byte-identical). */
#define _GNU_SOURCE /* asprintf */
#include "rmens/eval/eval_bias.h"
#include "rmens/eval/eval_figures.h"
#include "rmens/eval/eval_score.h"
#include "rmens/ensemble/ensemble_views.h"
#include "rmens/ensemble/ensemble.h"
#include "rmens/member/member_scoring.h"
#include "rmens/eval/warm.h"

#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/member/family.h"
#include "rmens/member/family_mlp.h"
#include "rmens/base/parallel.h"
#include "rmens/base/rng.h"

/* Why the members of e cannot be weight-averaged, or 0. */
static int check_averageable(const rm_ensemble *e)
{
    const rm_mlp *first = &e->members[0].mlp;
    for (int m = 0; m < e->n_members; m++) {
        const rm_member *mm = &e->members[m];
        if (rm_member_family(mm) != &rm_family_mlp)
            return rm_errorf("eval.warm: member %d is a %s model; weight averaging needs MLP members (eval.warm = false "
                             "evaluates without it)", m, rm_member_family(mm)->name);
        int same_shape = mm->mlp.n_layers == first->n_layers && mm->mlp.n_params == first->n_params;
        for (int l = 0; same_shape && l <= first->n_layers; l++) same_shape = mm->mlp.dims[l] == first->dims[l];
        if (!same_shape)
            return rm_errorf("eval.warm: member %d has another shape than member 0 (%zu against %zu parameters); "
                             "weight averaging needs one architecture", m, mm->mlp.n_params, first->n_params);
        if (strcmp(e->member_view[m], e->member_view[0]) != 0)
            return rm_errorf("eval.warm: member %d was trained on view '%s', member 0 on '%s'; weight averaging needs "
                             "one view", m, e->member_view[m][0] ? e->member_view[m] : "default",
                             e->member_view[0][0] ? e->member_view[0] : "default");
    }
    return 0;
}

int rm_warm_decide(const rm_settings *cfg, const rm_ensemble *e, int *enabled)
{
    *enabled = 0;
    if (strcmp(cfg->eval_warm, "false") == 0) return 0;
    if (!e->shared_init) {
        if (strcmp(cfg->eval_warm, "true") == 0)
            return rm_errorf("eval.warm = true: members.h5 has no shared_init = 1 (train with ensemble.shared_init = "
                             "true); members from independent initialisations cannot be weight-averaged");
        return 0;
    }
    if (check_averageable(e) != 0) return -1;
    *enabled = 1;
    return 0;
}

int rm_warm_average(const rm_ensemble *e, const int *list, int k, rm_member *out)
{
    memset(out, 0, sizeof *out);
    const rm_mlp *first = &e->members[list[0]].mlp;
    int hidden[RM_MAX_LAYERS];
    for (int l = 1; l < first->n_layers; l++) hidden[l - 1] = first->dims[l];
    if (rm_mlp_create(&out->mlp, first->dims[0], hidden, first->n_layers - 1) != 0) return rm_error_context("eval.warm");
    size_t n = out->mlp.n_params;
    if (k == 1) {
        /* the average of one member is the member, standardisation included */
        memcpy(out->mlp.params, first->params, n * sizeof(float));
        out->score_mean = e->members[list[0]].score_mean;
        out->score_std = e->members[list[0]].score_std;
        return 0;
    }
    double *sum = rm_calloc(n, sizeof(double), "eval.warm: weight sums");
    if (!sum) {
        rm_mlp_free(&out->mlp);
        return -1;
    }
    /* in double, member by member in list order: one rounding per parameter, the same on
     * every rank, and exact for identical members */
    for (int t = 0; t < k; t++) {
        const float *p = e->members[list[t]].mlp.params;
        for (size_t i = 0; i < n; i++) sum[i] += p[i];
    }
    for (size_t i = 0; i < n; i++) out->mlp.params[i] = (float)(sum[i] / (double)k);
    free(sum);
    return 0;
}

/* The train split's window with the embeddings of the standardisation's responses (all of
 * them without a sample): the rest are never read. */
static int read_sample(rm_shared_split *ns, rm_store *store, int view, size_t sample, MPI_Comm comm, int threads)
{
    const rm_split_info *train = &store->split[RM_SPLIT_TRAIN];
    const size_t n_items = train->n_prompts * train->n_responses, n = rm_standardise_items(n_items, sample);
    uint8_t *wanted = n ? rm_calloc(n_items, 1, "eval.warm: train responses read") : NULL;
    int rc = rm_all_ok(comm, n && !wanted ? -1 : 0);
    for (size_t j = 0; rc == 0 && j < n; j++) wanted[rm_standardise_item(j, n_items, n)] = 1;
    if (rc == 0 && (rc = rm_shared_split_open_view(ns, store, view, comm)) == 0 &&
        (rc = rm_shared_split_read(ns, store, view, comm, threads, wanted)) != 0)
        rm_shared_split_free(ns);
    free(wanted);
    return rc;
}

/* Each warm model with k >= 2 standardised on one rank (dealt round-robin) over the train
 * split of view `view` (train.standardise_responses of it, as the members), then shared:
 * the result is that of one rank whatever the rank count. */
static int standardise_warm(rm_ensemble *w, const int *sizes, rm_store *store, int view, const rm_train_data *loaded,
                            size_t sample, MPI_Comm comm, int threads)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    rm_shared_split ns;
    memset(&ns, 0, sizeof ns);
    const rm_split_info *train = &store->split[RM_SPLIT_TRAIN];
    if (!loaded && read_sample(&ns, store, view, sample, comm, threads) != 0) return rm_error_context("eval.warm: train split");
    rm_train_data data = loaded ? *loaded
                                : (rm_train_data){ns.embeddings, ns.rewards, train->n_prompts, train->n_responses,
                                                  rm_store_view_dim(store, view), ns.loaded};
    double *stats = rm_calloc((size_t)w->n_members * 2, sizeof(double), "eval.warm: standardisation");
    int rc = stats ? 0 : -1;
    for (int j = 0; j < w->n_members && rc == 0; j++) {
        if (sizes[j] < 2 || j % size != rank) continue;
        rc = rm_member_standardise_train(&w->members[j], &data, sample, MPI_COMM_SELF);
        if (rc != 0) rm_error_context("eval.warm: model %d", j);
        else stats[2 * j] = w->members[j].score_mean, stats[2 * j + 1] = w->members[j].score_std;
    }
    if (rm_all_ok(comm, rc) == 0) {
        /* one rank holds each value, the others zeros: the sum is that value exactly */
        rc = rm_mpi_check(MPI_Allreduce(MPI_IN_PLACE, stats, w->n_members * 2, MPI_DOUBLE, MPI_SUM, comm),
                          "MPI_Allreduce (eval.warm standardisation)");
        for (int j = 0; j < w->n_members && rc == 0; j++) {
            if (sizes[j] < 2) continue;
            w->members[j].score_mean = stats[2 * j];
            w->members[j].score_std = stats[2 * j + 1];
            if (!(w->members[j].score_std > 0))
                rc = rm_errorf("eval.warm: model %d scores every train response the same (score_std %g)", j,
                               w->members[j].score_std);
        }
    } else rc = -1;
    free(stats);
    if (!loaded) rm_shared_split_free(&ns);
    return rc;
}

/* The subsets' distinct member lists: model_of[j] for the full ensemble (j = 0) and the
 * ablation subsets (j >= 1: plan subset E + j), distinct[d] the first subset of each.
 * Ablation draws repeat member lists, and its whole-ensemble size is the full ensemble:
 * equal lists give bitwise equal models, averaged, standardised and scored once. */
static int distinct_subsets(const rm_eval_plan *plan, int n_warm, int *model_of, const rm_eval_subset **distinct)
{
    int n = 0, E = plan->n_members;
    for (int j = 0; j < n_warm; j++) {
        const rm_eval_subset *sub = &plan->subsets[j == 0 ? 0 : E + j];
        int d = 0;
        while (d < n && !(distinct[d]->k == sub->k && memcmp(distinct[d]->members, sub->members, sizeof(int) * (size_t)sub->k) == 0))
            d++;
        if (d == n) distinct[n++] = sub;
        model_of[j] = d;
    }
    return n;
}

/* The train responses the warm models are standardised on: those the members were (the
 * value members.h5 records), whatever the config eval is given says; files from before
 * the attribute take the config's. */
static size_t warm_standardise_sample(const rm_settings *cfg, const rm_ensemble *e, int rank)
{
    if (e->standardise_responses < 0) return (size_t)cfg->train_standardise_responses;
    if (rank == 0 && e->standardise_responses != cfg->train_standardise_responses)
        rm_warnf("eval.warm: the members were standardised with train.standardise_responses = %lld; the config has "
                 "%lld: the warm models follow the members", e->standardise_responses, cfg->train_standardise_responses);
    return (size_t)e->standardise_responses;
}

int rm_warm_evaluate(const rm_settings *cfg, MPI_Comm comm, rm_store *store, const rm_train_data *train,
                     const rm_ensemble *e, const rm_eval_plan *plan, int threads, rm_eval_results *res, int *n_models,
                     double *seconds)
{
    double t0 = rm_now();
    int rank;
    MPI_Comm_rank(comm, &rank);
    int E = e->n_members, n_warm = plan->n_subsets - E; /* the full ensemble and the ablation subsets */
    int max_subsets = 1;
    for (int i = 0; i < plan->n_sizes; i++) max_subsets = plan->size_subsets[i] > max_subsets ? plan->size_subsets[i] : max_subsets;
    rm_ensemble w;
    memset(&w, 0, sizeof w);
    rm_settings *single_cfg = rm_alloc(1, sizeof *single_cfg, "eval.warm: settings");
    int *model_of = rm_calloc((size_t)n_warm, sizeof(int), "eval.warm: models");
    const rm_eval_subset **distinct = rm_calloc((size_t)n_warm, sizeof *distinct, "eval.warm: models");
    rm_aggregate_figures *draws = rm_calloc((size_t)max_subsets, sizeof *draws, "eval.warm: results");
    int rc = single_cfg && model_of && distinct && draws ? 0 : -1;
    int n = rc == 0 ? distinct_subsets(plan, n_warm, model_of, distinct) : 0;
    w.members = rm_calloc((size_t)n + 1, sizeof *w.members, "eval.warm: models");
    w.member_view = rm_calloc((size_t)n + 1, sizeof *w.member_view, "eval.warm: models");
    int *sizes = rm_calloc((size_t)n + 1, sizeof(int), "eval.warm: models");
    if (!w.members || !w.member_view || !sizes) rc = -1;
    w.dim = e->dim;
    memcpy(w.objective, e->objective, sizeof w.objective);
    memcpy(w.store_uuid, e->store_uuid, sizeof w.store_uuid);
    for (int d = 0; d < n && rc == 0; d++) {
        rc = rm_warm_average(e, distinct[d]->members, distinct[d]->k, &w.members[d]);
        w.n_members = rc == 0 ? d + 1 : d;
        w.members[d].index = d;
        sizes[d] = distinct[d]->k;
        memcpy(w.member_view[d], e->member_view[0], sizeof w.member_view[d]);
    }
    int view = 0, *view_of_member = rm_calloc((size_t)E, sizeof(int), "eval.warm: member views");
    if (!view_of_member) rc = -1;
    if (rc == 0) rc = rm_ensemble_member_views(e, store, view_of_member);
    if (rc == 0) view = view_of_member[0]; /* every member's (rm_warm_decide) */
    free(view_of_member);
    rc = rm_all_ok(comm, rc);
    if (rc == 0 && E >= 2)
        rc = standardise_warm(&w, sizes, store, view, train, warm_standardise_sample(cfg, e, rank), comm, threads);

    rm_eval_plan single_plan;
    memset(&single_plan, 0, sizeof single_plan);
    rm_eval_results warm_res;
    memset(&warm_res, 0, sizeof warm_res);
    rm_eval_timing tm;
    if (rc == 0) {
        /* The warm models are only wanted one by one (the pass's singles): the smallest
         * ablation, no calibration pairs. */
        *single_cfg = *cfg;
        single_cfg->eval_n_ablation = 1;
        single_cfg->eval_ablation_sizes[0] = 1;
        single_cfg->eval_ablation_subsets = 1;
        single_cfg->eval_calibration_pairs = 0;
        rc = rm_all_ok(comm, rm_eval_plan_create(&single_plan, single_cfg, n, plan->n_responses));
        /* the feature's Spearman with each warm model, when the evaluation has bias features */
        if (rc == 0 && plan->bias.n_views > 0) rc = rm_all_ok(comm, rm_eval_plan_bias(&single_plan, single_cfg, store));
    }
    if (rc == 0) rc = rm_eval_score(single_cfg, comm, store, &w, &single_plan, threads, NULL, NULL, &warm_res, &tm);
    if (rc == 0 && rank == 0) {
        res->ablation_warm = rm_calloc((size_t)plan->n_sizes + 1, sizeof *res->ablation_warm, "eval.warm: results");
        res->ablation_warm_std = rm_calloc((size_t)plan->n_sizes + 1, sizeof *res->ablation_warm_std, "eval.warm: results");
        if (!res->ablation_warm || !res->ablation_warm_std) rc = -1;
        else {
            res->warm = warm_res.single[model_of[0]];
            /* the full ensemble's warm model is this pass's member model_of[0] */
            for (int i = 0; i < res->n_bias && i < warm_res.n_bias; i++)
                res->bias[i].warm = warm_res.bias[i].member[model_of[0]];
            for (int i = 0; i < plan->n_sizes; i++) {
                for (int s = 0; s < plan->size_subsets[i]; s++) draws[s] = warm_res.single[model_of[plan->size_first[i] + s - E]];
                /* mean and spread over the subsets' own weight averages, as the ablation treats
                 * the other aggregators */
                rm_eval_mean_std_fields((const double *)draws, plan->size_subsets[i],
                                        sizeof(rm_aggregate_figures) / sizeof(double),
                                        (double *)&res->ablation_warm[i], (double *)&res->ablation_warm_std[i]);
            }
            res->has_warm = 1;
        }
    }
    rc = rm_all_ok(comm, rc);
    double elapsed = rm_now() - t0;
    MPI_Allreduce(MPI_IN_PLACE, &elapsed, 1, MPI_DOUBLE, MPI_MAX, comm);
    *seconds = elapsed;
    *n_models = n;
    rm_eval_results_free(&warm_res);
    rm_eval_plan_free(&single_plan);
    free(single_cfg);
    free(model_of);
    free(distinct);
    free(draws);
    free(sizes);
    rm_ensemble_free(&w); /* config_text NULL: nothing else owned */
    return rc;
}
