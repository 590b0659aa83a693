/* rmens eval: score the test split with every member, reduce to the ensemble figures,
 * write results.h5 and results.json, print the table (see include/rmens/eval/eval.h).
 *
 * Data flow per rank: its contiguous blocks of test prompts are read once, in pieces of
 * eval.chunk_prompts with collective reads (every rank makes the same number of calls,
 * empty when it has run out), each piece is scored by every member in row blocks of
 * SCORE_ROWS responses (one row block is scored by all members while it is in cache),
 * standardised, optionally written to /predictions, and reduced per prompt into its
 * block. Benchmark pairs follow the same pattern. Rank 0 sums the blocks and writes. */
#include "rmens/eval/eval.h"
#include "rmens/eval/eval_pairs.h"
#include "rmens/store/store_pairs.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rmens/eval/eval_bias.h"
#include "rmens/eval/eval_calibration.h"
#include "rmens/eval/eval_figures.h"
#include "rmens/eval/eval_plan.h"
#include "rmens/eval/eval_score.h"
#include "rmens/eval/eval_output.h"
#include "rmens/base/common.h"
#include "rmens/ensemble/ensemble.h"
#include "rmens/store/h5util.h"
#include "rmens/model/model.h"
#include "rmens/base/parallel.h"
#include "rmens/base/progress.h"
#include "rmens/kernels/tiled_blas.h"
#include "rmens/kernels/precision.h"
#include "rmens/store/store.h"
#include "rmens/ensemble/ensemble_views.h"
#include "rmens/eval/warm.h"

/* The files `rmens eval` reads and writes: members.h5, and results.h5 / results.json
 * written under temporary names, renamed when complete. */
typedef struct {
    char *members, *h5, *json, *h5_temp, *json_temp;
} eval_paths;

static void eval_paths_free(eval_paths *p)
{
    free(p->members), free(p->h5), free(p->json), free(p->h5_temp), free(p->json_temp);
    memset(p, 0, sizeof *p);
}

/* The paths, and rank 0's checks of what must (not) exist, agreed on by every rank. */
static int eval_paths_create(eval_paths *p, const rm_settings *cfg, MPI_Comm comm, int rank, int force)
{
    memset(p, 0, sizeof *p);
    p->members = rm_path_join(cfg->output, "members.h5");
    p->h5 = rm_path_join(cfg->output, "results.h5");
    p->json = rm_path_join(cfg->output, "results.json");
    p->h5_temp = p->h5 ? rm_temp_sibling(p->h5, "writing") : NULL;
    p->json_temp = p->json ? rm_temp_sibling(p->json, "writing") : NULL;
    int rc = p->members && p->h5 && p->json && p->h5_temp && p->json_temp ? 0 : -1;
    if (rc == 0 && rank == 0) {
        if (!cfg->output[0]) rc = rm_errorf("output is empty: set the run directory holding members.h5");
        else if (!cfg->store[0]) rc = rm_errorf("store is empty: set the embedding store to evaluate on");
        else if (!rm_path_exists(p->members)) rc = rm_errorf("%s does not exist: run `rmens train` first", p->members);
        else if (!force && (rm_path_exists(p->h5) || rm_path_exists(p->json)))
            rc = rm_errorf("results already exist in %s (use --force to overwrite)", cfg->output);
    }
    if (rm_all_ok(comm, rc) != 0) {
        eval_paths_free(p);
        return -1;
    }
    return 0;
}

/* Where scored pieces go: /predictions (eval.save_predictions) and the test pairs' scores
 * (a store of human-labelled pairs). */
typedef struct {
    rm_eval_predictions *predictions;
    int save_predictions;
    rm_pairs_test *pairs;
} eval_sinks;

static int eval_sinks_write(void *opaque, size_t q0, size_t q1, const float *z)
{
    eval_sinks *s = opaque;
    if (s->pairs) rm_pairs_test_collect(s->pairs, q0, q1, z);
    return s->save_predictions ? rm_eval_predictions_write(s->predictions, q0, q1, z) : 0;
}

static int eval_sinks_done(void *opaque)
{
    eval_sinks *s = opaque;
    return s->save_predictions ? rm_eval_predictions_close(s->predictions) : 0;
}

int rm_eval_check_pairs_source(const rm_settings *cfg, const char *members)
{
    char recorded[32] = "golden";
    hid_t f = H5Fopen(members, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return rm_errorf("%s: cannot open", members);
    int rc = 0;
    if (H5Aexists(f, "pairs_source") > 0) rc = rm_h5_read_attr_string(f, "pairs_source", recorded, sizeof recorded, members);
    H5Fclose(f);
    if (rc == 0 && strcmp(recorded, cfg->pairs_source) != 0)
        rc = rm_errorf("%s was trained with pairs.source = \"%s\" but the config says \"%s\": evaluate with the "
                       "training config", members, recorded, cfg->pairs_source);
    return rc;
}

/* The table, the figures' diagnostics and the timing lines (results.json holds the figures). */
static void print_report(const rm_store *store, const rm_ensemble *ensemble, const rm_eval_plan *plan,
                         const rm_eval_results *res, const rm_eval_timing *tm, int size, double t_start, int warm,
                         int warm_models, double warm_seconds)
{
    size_t N = store->split[RM_SPLIT_TEST].n_prompts, K = store->split[RM_SPLIT_TEST].n_responses;
    rm_eval_print_table(stdout, plan, res);
    rm_eval_print_diagnostics(stdout, plan, res);
    rm_eval_print_bias(stdout, plan, res);
    if (res->pairs_test) rm_pairs_test_print(stdout, res->pairs_test, plan);
    double gflops = tm->flops / tm->score * 1e-9;
    printf("\nscored %zu test responses x %d members (+ %zu bench pairs) on %d rank(s): %.0f member-responses/s "
           "(%.1f GFLOP/s; tests/bench/run_bench.py measures it against this machine's sgemm rate)\n",
           N * K, ensemble->n_members, store->n_bench, size, tm->scored / tm->score, gflops);
    const rm_precision_info *precision = rm_precision_current();
    printf("precision %s, kernel \"%s\", CPU %s\n", precision->precision, precision->kernel, precision->cpu);
    printf("time (slowest rank): read %.2f s, score %.2f s, statistics %.2f s; reduce %.3f s; total %.2f s\n",
           tm->read, tm->score, tm->stats, tm->reduce, rm_now() - t_start);
    if (warm)
        printf("warm: %d weight-averaged model(s) (the ensemble and its distinct ablation subsets) "
               "standardised and scored in %.2f s\n", warm_models, warm_seconds);
}

/* Rank 0: the figures into results.h5 (the file holding /predictions, or a new one) and
 * results.json, both renamed into place, then the table and the timing lines (not with
 * --quiet) and the summary line "wrote ...". *h5_created says whether a temporary file may
 * need removing after a failure. */
static int write_and_report(const rm_settings *cfg, const eval_paths *paths, const rm_store *store,
                            const rm_ensemble *ensemble, const rm_eval_plan *plan, const rm_eval_results *res,
                            const rm_eval_timing *tm, int size, double t_start, int warm, int warm_models,
                            double warm_seconds, int *h5_created)
{
    int rc = 0;
    rm_eval_provenance prov = {cfg, paths->members, store, size, rm_now() - t_start, ensemble};
    /* figures go into the file holding /predictions, or a new one: serial, rank 0 */
    hid_t f = cfg->eval_save_predictions ? H5Fopen(paths->h5_temp, H5F_ACC_RDWR, H5P_DEFAULT)
                                         : rm_h5_create_parallel(paths->h5_temp, MPI_COMM_NULL);
    if (f < 0) rc = rm_errorf("%s: cannot open to write the figures", paths->h5_temp);
    *h5_created = 1;
    if (rc == 0) rc = rm_eval_write_h5_figures(f, plan, res, &prov);
    if (f >= 0 && rm_h5_close(f, paths->h5) != 0 && rc == 0) rc = -1; /* a full disk shows up here */
    if (rc == 0 && rm_eval_write_json(paths->json_temp, plan, res, &prov) != 0)
        rc = rm_error_context("writing %s", paths->json);
    if (rc == 0 && rename(paths->h5_temp, paths->h5) != 0)
        rc = rm_errorf("cannot rename %s to %s: %s", paths->h5_temp, paths->h5, strerror(errno));
    if (rc == 0 && rename(paths->json_temp, paths->json) != 0)
        rc = rm_errorf("cannot rename %s to %s: %s", paths->json_temp, paths->json, strerror(errno));
    if (rc != 0) return rc;
    if (!rm_is_quiet()) print_report(store, ensemble, plan, res, tm, size, t_start, warm, warm_models, warm_seconds);
    printf("wrote %s and %s\n", paths->h5, paths->json); /* the summary, --quiet or not */
    fflush(stdout);
    return 0;
}

/* Rank 0's warnings about settings the test split or the ensemble cannot honour. */
static void warn_skipped(const rm_settings *cfg, size_t K, int E)
{
    for (int i = 0; i < cfg->eval_n_bon; i++)
        if ((size_t)cfg->eval_bon_n[i] > K) rm_warnf("eval.bon_n: n = %lld skipped (K_test = %zu)", cfg->eval_bon_n[i], K);
    for (int i = 0; i < cfg->eval_n_ablation; i++)
        if (cfg->eval_ablation_sizes[i] > E)
            rm_warnf("eval.ablation_sizes: k = %lld skipped (%d members)", cfg->eval_ablation_sizes[i], E);
}

int rm_evaluate(const rm_settings *cfg, MPI_Comm comm, int force)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    double t_start = rm_now();
    rm_h5_quiet();
    int threads = rm_set_blas_threads(comm, (int)cfg->parallel_blas_threads);
    if (rm_all_ok(comm, rm_precision_select(cfg->model_precision, rank == 0, NULL)) != 0) return -1;
    eval_paths paths;
    if (eval_paths_create(&paths, cfg, comm, rank, force) != 0) return -1;

    rm_store store;
    memset(&store, 0, sizeof store);
    rm_ensemble ensemble;
    memset(&ensemble, 0, sizeof ensemble);
    rm_eval_plan plan;
    memset(&plan, 0, sizeof plan);
    rm_eval_results res;
    memset(&res, 0, sizeof res);
    rm_eval_predictions ps = {-1, -1, paths.h5_temp, paths.h5, 0, 0};
    rm_pairs_test pairs_test;
    memset(&pairs_test, 0, sizeof pairs_test);
    eval_sinks sinks = {&ps, cfg->eval_save_predictions, NULL};
    rm_eval_sink sink = {eval_sinks_write, eval_sinks_done, &sinks};
    rm_eval_timing tm;
    int store_open = 0, ensemble_loaded = 0, h5_created = 0, rc = 0;

    if (rm_store_open_for_run(&store, cfg, comm) != 0) goto fail;
    store_open = 1;
    const rm_split_info *test = &store.split[RM_SPLIT_TEST];
    size_t N = test->n_prompts, K = test->n_responses, D = store.dim;
    if (rm_ensemble_load(&ensemble, paths.members, comm, (int)D) != 0) goto fail;
    ensemble_loaded = 1;
    if (rm_all_ok(comm, rm_ensemble_inputs_prepare(&ensemble, &store)) != 0) goto fail; /* model.inputs */
    int E = ensemble.n_members;
    if (rank == 0 && strcmp(ensemble.store_uuid, store.uuid) != 0)
        rm_warnf("members.h5 was trained on store %s, evaluating on store %s", ensemble.store_uuid, store.uuid);

    int warm = 0; /* before anything is written: a refused warm leaves no results */
    if (rm_all_ok(comm, rm_warm_decide(cfg, &ensemble, &warm)) != 0) goto fail;
    if (rm_all_ok(comm, rm_eval_plan_create(&plan, cfg, E, K)) != 0) goto fail;
    /* eval.bias_features: an unknown view is refused here, before any scoring or file */
    if (rm_all_ok(comm, rm_eval_plan_bias(&plan, cfg, &store)) != 0) goto fail;
    if (rm_eval_setup_calibration(cfg, paths.members, &store, &ensemble, &plan, comm) != 0) goto fail; /* before the works */
    if (rank == 0) warn_skipped(cfg, K, E);
    if (cfg->eval_save_predictions) {
        if (rank == 0) remove(paths.h5_temp); /* a leftover of an interrupted run */
        MPI_Barrier(comm);
        rc = rm_eval_predictions_open(paths.h5_temp, comm, E, N, K, &ps.file, &ps.dset);
        ps.E = E, ps.K = K;
        h5_created = 1;
        if (rm_all_ok(comm, rc) != 0) goto fail;
    }
    if (store.pairs_presented) { /* human-labelled test pairs: every member's scores gathered for pairs_test */
        if (rm_all_ok(comm, rank == 0 ? rm_eval_check_pairs_source(cfg, paths.members) : 0) != 0) goto fail;
        double *score_std = rm_alloc((size_t)E, sizeof(double), "member scales");
        for (int m = 0; score_std && m < E; m++) score_std[m] = ensemble.members[m].score_std;
        rc = score_std ? rm_pairs_test_create(&pairs_test, E, N, score_std) : -1;
        free(score_std);
        if (rm_all_ok(comm, rc) != 0) goto fail;
        sinks.pairs = &pairs_test;
    }
    if (rm_eval_score(cfg, comm, &store, &ensemble, &plan, threads, cfg->eval_save_predictions || sinks.pairs ? &sink : NULL,
                      "eval", &res, &tm) != 0)
        goto fail;
    if (sinks.pairs) {
        if (rm_pairs_test_gather(&pairs_test, comm) != 0) goto fail;
        if (rm_all_ok(comm, rank == 0 ? rm_pairs_test_compute(&pairs_test, &plan) : 0) != 0) goto fail;
        res.pairs_test = &pairs_test;
    }
    double warm_seconds = 0;
    int warm_models = 0;
    if (warm && rm_warm_evaluate(cfg, comm, &store, NULL, &ensemble, &plan, threads, &res, &warm_models, &warm_seconds) != 0)
        goto fail;

    rc = rank == 0 ? write_and_report(cfg, &paths, &store, &ensemble, &plan, &res, &tm, size, t_start, warm,
                                      warm_models, warm_seconds, &h5_created)
                   : 0;
    if (rm_all_ok(comm, rc) != 0) goto fail;
    goto done;

fail:
    rc = -1;
    rm_eval_predictions_close(&ps);
    if (rank == 0 && h5_created && paths.h5_temp) remove(paths.h5_temp);
    if (rank == 0 && paths.json_temp) remove(paths.json_temp);
done:
    if (ensemble_loaded) rm_ensemble_free(&ensemble);
    if (store_open) rm_store_close(&store);
    rm_eval_results_free(&res);
    rm_pairs_test_free(&pairs_test);
    rm_eval_plan_free(&plan);
    eval_paths_free(&paths);
    return rc;
}
