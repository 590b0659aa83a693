/* Scoring the test split (and bench pairs) with members in memory, reduced to the
 * figures: the part of rmens eval that rmens active runs every round (see
 * rm_eval_score in include/rmens/eval/eval.h; src/eval/eval.c is the verb and its files). */
#include "rmens/member/family_mlp.h"
#include "rmens/member/member_scoring.h"
#include "rmens/eval/eval_score.h"
#include "rmens/eval/eval_accumulate.h"
#include "rmens/eval/eval_bias.h"
#include "rmens/eval/eval_figures.h"

#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/ensemble/ensemble.h"
#include "rmens/member/family.h"
#include "rmens/model/model.h"
#include "rmens/base/parallel.h"
#include "rmens/base/progress.h"
#include "rmens/store/store.h"
#include "rmens/member/trunk.h"

#define SCORE_ROWS 1024  /* responses per scoring block (8 MB of embeddings at D = 2048): sgemm packs
                          * each member's weights once per block, so short blocks pay that
                          * packing (and a thread hand-off) per few rows; 1024 runs at the full
                          * sgemm rate (tests/bench: bench_sgemm forward_256 vs forward_1024) */
#define BENCH_BLOCK SCORE_ROWS /* benchmark pairs are dealt to ranks in blocks of this many */
#define BENCH_PIECE_BLOCKS 4     /* bench blocks per read piece */

typedef struct {
    const rm_ensemble *ens;
    rm_member_scorer *workspaces; /* [E] */
    int failed;                   /* a member's scoring failed (trees: XGBoost), message set */
    rm_mlp_input input;           /* the row block, prepared once for every member (bf16) */
    float *raw;                   /* [SCORE_ROWS] */
    double score_seconds, read_seconds, stats_seconds;
    double responses_scored;      /* member x response forward passes */
    double flops;                 /* forward FLOPs done (MLP members) */
    /* ensemble.views: member m scores view member_view[m]'s embeddings; views[0..n_views)
     * are the distinct views in use, ascending (one: the default view, or a single view) */
    int *member_view;
    int n_views, views[RM_STORE_MAX_VIEWS];
    size_t max_dim;
    /* a shared trunk's heads (rmens/member/trunk.h): one forward of their unit scores every head,
     * the trunk once per block instead of once per head */
    int by_unit;
    rm_mlp unit;
    rm_mlp_workspace unit_ws;
    float *unit_raw;              /* [SCORE_ROWS, E] */
    rm_progress_meter *progress;  /* the verb's progress in responses (NULL: none) */
} scorer;

/* z[m * z_stride + r] = standardised score of row r by member m, for rows [0, rows) of
 * emb, in calls of SCORE_ROWS rows starting at emb. Every row block is scored by every
 * member while it is in cache. OpenBLAS's sgemv/sgemm kernels round a row differently
 * depending on where it falls in a call (row tails take other code paths), so callers
 * start the calls at fixed global positions: scores then do not depend on the rank count. */
static void score_rows(scorer *sc, int view, const float *emb, size_t dim, size_t rows, float *z, size_t z_stride)
{
    double t0 = rm_now();
    int E = sc->ens->n_members, scored = 0;
    for (size_t start = 0; start < rows; start += SCORE_ROWS) {
        int count = (int)(rows - start < SCORE_ROWS ? rows - start : SCORE_ROWS);
        const float *block = emb + start * dim;
        rm_mlp_input_prepare(&sc->input, block, (size_t)count * dim);
        if (sc->by_unit) {
            rm_mlp_forward_frozen(&sc->unit, &sc->unit_ws, block, &sc->input, count, sc->unit_raw);
            for (int m = 0; m < E; m++)
                for (int r = 0; r < count; r++)
                    z[(size_t)m * z_stride + start + (size_t)r] =
                        rm_member_standardise(&sc->ens->members[m], sc->unit_raw[(size_t)r * (size_t)E + (size_t)m]);
            continue;
        }
        for (int m = 0; m < E; m++) {
            if (sc->member_view[m] != view) continue; /* scored with its own view's rows */
            const rm_member *member = &sc->ens->members[m];
            /* members after the first reuse the block's preparation (bf16: its rounding,
             * fp32: its packing for the first layer) */
            if (!sc->failed && rm_member_scorer_score(&sc->workspaces[m], block, &sc->input, count, sc->raw) != 0) sc->failed = -1;
            for (int r = 0; r < count; r++) z[(size_t)m * z_stride + start + (size_t)r] = rm_member_standardise(member, sc->raw[r]);
        }
    }
    for (int m = 0; m < E; m++) scored += sc->member_view[m] == view;
    sc->responses_scored += (double)rows * scored;
    if (sc->by_unit) sc->flops += rm_mlp_forward_flops(&sc->unit, rows);
    else
        for (int m = 0; m < E; m++)
            if (sc->member_view[m] == view) sc->flops += rm_mlp_forward_flops(&sc->ens->members[m].mlp, rows);
    sc->score_seconds += rm_now() - t0;
}

/* Each member's view (rm_ensemble_member_views) and the distinct views in use. */
static int scorer_views(scorer *sc, const rm_ensemble *e, const rm_store *store)
{
    sc->member_view = rm_calloc((size_t)e->n_members, sizeof(int), "member views");
    if (!sc->member_view || rm_ensemble_member_views(e, store, sc->member_view) != 0) return -1;
    for (int v = 0; v < store->n_views; v++) {
        int used = 0;
        for (int m = 0; m < e->n_members; m++) used |= sc->member_view[m] == v;
        if (!used) continue;
        sc->views[sc->n_views++] = v;
        if (rm_store_view_dim(store, v) > sc->max_dim) sc->max_dim = rm_store_view_dim(store, v);
    }
    return 0;
}

/* The scorer's buffers for the E members, each on its view. */
/* Whether every member is an MLP: only MLP heads make a shared trunk's unit. */
static int heads_are_mlps(const rm_ensemble *e)
{
    for (int m = 0; m < e->n_members; m++)
        if (rm_member_family(&e->members[m]) != &rm_family_mlp) return 0;
    return 1;
}

static int scorer_create(scorer *sc, const rm_ensemble *e, const rm_store *store)
{
    memset(sc, 0, sizeof *sc);
    sc->ens = e;
    int E = e->n_members, rc = 0;
    sc->workspaces = rm_calloc((size_t)E, sizeof *sc->workspaces, "scoring workspaces");
    sc->raw = rm_alloc(SCORE_ROWS, sizeof(float), "scores");
    if (!sc->workspaces || !sc->raw || scorer_views(sc, e, store) != 0) return -1;
    size_t D = sc->max_dim;
    /* each member's weights packed once for its products, not in every block's forward */
    for (int m = 0; m < E && rc == 0; m++) rc = rm_member_scorer_create(&sc->workspaces[m], &e->members[m], SCORE_ROWS);
    if (rc == 0) rc = rm_mlp_input_create(&sc->input, (size_t)SCORE_ROWS * D);
    if (rc == 0 && e->shared_trunk && sc->n_views == 1) {
        sc->by_unit = heads_are_mlps(e) ? rm_trunk_unit_from_heads(&sc->unit, e->members, E) : 0;
        if (sc->by_unit < 0) return -1;
        if (sc->by_unit) {
            sc->unit_raw = rm_alloc((size_t)SCORE_ROWS * (size_t)E, sizeof(float), "heads' scores");
            rc = !sc->unit_raw || rm_mlp_workspace_create(&sc->unit_ws, &sc->unit, SCORE_ROWS) != 0 ||
                         rm_mlp_workspace_pack(&sc->unit_ws, &sc->unit) != 0
                     ? -1
                     : 0;
        }
    }
    return rc;
}

static void scorer_free(scorer *sc)
{
    for (int m = 0; sc->workspaces && m < sc->ens->n_members; m++) rm_member_scorer_free(&sc->workspaces[m]);
    free(sc->workspaces);
    rm_mlp_input_free(&sc->input);
    free(sc->raw);
    free(sc->member_view);
    rm_mlp_workspace_free(&sc->unit_ws);
    rm_mlp_free(&sc->unit);
    free(sc->unit_raw);
    memset(sc, 0, sizeof *sc);
}

/* This rank's blocks [b0, b1) of test prompts and their prompts [p_begin, p_end). */
static void test_share(const rm_store *store, int rank, int size, size_t *b0, size_t *b1, size_t *p_begin, size_t *p_end)
{
    size_t N = store->split[RM_SPLIT_TEST].n_prompts;
    size_t n_blocks = (N + RM_EVAL_BLOCK_PROMPTS - 1) / RM_EVAL_BLOCK_PROMPTS;
    rm_partition(n_blocks, size, rank, b0, b1);
    *p_begin = *b0 * RM_EVAL_BLOCK_PROMPTS;
    *p_end = *b1 * RM_EVAL_BLOCK_PROMPTS < N ? *b1 * RM_EVAL_BLOCK_PROMPTS : N;
    if (*p_begin > *p_end) *p_begin = *p_end;
}

/* This rank's benchmark pairs [i0, i1), dealt in blocks of BENCH_BLOCK. */
static void bench_share(const rm_store *store, int rank, int size, size_t *i0, size_t *i1)
{
    size_t n_bench_blocks = (store->n_bench + BENCH_BLOCK - 1) / BENCH_BLOCK, c0, c1;
    rm_partition(n_bench_blocks, size, rank, &c0, &c1);
    *i0 = c0 * BENCH_BLOCK, *i1 = c1 * BENCH_BLOCK < store->n_bench ? c1 * BENCH_BLOCK : store->n_bench;
    if (*i0 > *i1) *i0 = *i1;
}

/* The test split: each rank its blocks of prompts, read once in pieces, scored and
 * accumulated into its figure blocks. */
static int score_test_split(const rm_settings *cfg, MPI_Comm comm, rm_store *store, const rm_eval_plan *plan,
                            rm_eval_team *team, scorer *sc, const rm_eval_sink *sink, double **blocks_out,
                            size_t *n_local_blocks)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    size_t K = store->split[RM_SPLIT_TEST].n_responses, D = sc->max_dim; /* D: the widest view's, for the buffer */
    int E = sc->ens->n_members;
    /* this rank's blocks of prompts, and the number of pieces every rank will read */
    size_t b0, b1, p_begin, p_end;
    test_share(store, rank, size, &b0, &b1, &p_begin, &p_end);
    /* pieces hold whole blocks, so that scoring calls start at block boundaries */
    size_t chunk_blocks = ((size_t)cfg->eval_chunk_prompts + RM_EVAL_BLOCK_PROMPTS - 1) / RM_EVAL_BLOCK_PROMPTS;
    size_t chunk = chunk_blocks * RM_EVAL_BLOCK_PROMPTS;
    long long my_pieces = (long long)((p_end - p_begin + chunk - 1) / chunk), pieces = 0;
    MPI_Allreduce(&my_pieces, &pieces, 1, MPI_LONG_LONG, MPI_MAX, comm);

    size_t piece_rows = chunk * K, emb_count;
    int rc = rm_size_mul(piece_rows, D, &emb_count, "test piece");
    float *emb = rc == 0 ? rm_alloc(emb_count, sizeof(float), "test embeddings piece (lower eval.chunk_prompts)") : NULL;
    float *golden = rm_alloc(piece_rows, sizeof(float), "test rewards piece");
    float *z = rm_alloc((size_t)E * piece_rows, sizeof(float), "test predictions piece");
    double *blocks = rm_calloc((b1 - b0 + 1) * plan->n_slots, sizeof(double), "figure blocks");
    rc = emb && golden && z && blocks ? 0 : -1;
    /* eval.bias_features: a piece of each listed view, its first feature kept per view */
    float *bias_buffer = NULL, *features = NULL;
    if (rc == 0 && plan->bias.n_views > 0) {
        size_t bias_count = 0;
        rc = rm_size_mul(piece_rows, rm_eval_bias_max_dim(plan), &bias_count, "eval.bias_features piece");
        bias_buffer = rc == 0 ? rm_alloc(bias_count, sizeof(float), "eval.bias_features piece") : NULL;
        features = rm_alloc((size_t)plan->bias.n_views * piece_rows, sizeof(float), "eval.bias_features piece");
        rc = bias_buffer && features ? 0 : -1;
    }
    for (long long piece = 0; piece < pieces && rm_all_ok(comm, rc) == 0; piece++) {
        size_t q0 = p_begin + (size_t)piece * chunk, q1 = q0 + chunk;
        if (q0 > p_end) q0 = p_end;
        if (q1 > p_end) q1 = p_end;
        size_t rows = (q1 - q0) * K;
        double t0 = rm_now();
        rc = rm_store_read_rewards(store, RM_SPLIT_TEST, q0, q1, golden);
        /* agreed first: the feature reads are collective */
        if (features && rm_all_ok(comm, rc) == 0) rc = rm_eval_bias_read(plan, store, q0, q1, bias_buffer, features, piece_rows);
        sc->read_seconds += rm_now() - t0;
        if (rm_all_ok(comm, rc) != 0) break;
        /* each view's piece in turn, scored by that view's members (z: every member's rows) */
        for (int i = 0; i < sc->n_views && rc == 0; i++) {
            int view = sc->views[i];
            size_t Dv = rm_store_view_dim(store, view);
            t0 = rm_now();
            rc = rm_store_read_view_embeddings(store, view, RM_SPLIT_TEST, q0, q1, emb);
            sc->read_seconds += rm_now() - t0;
            if (rc != 0) break;
            for (size_t b = q0; b < q1; b += RM_EVAL_BLOCK_PROMPTS) { /* one prompt block at a time */
                size_t b_end = b + RM_EVAL_BLOCK_PROMPTS < q1 ? b + RM_EVAL_BLOCK_PROMPTS : q1;
                score_rows(sc, view, emb + (b - q0) * K * Dv, Dv, (b_end - b) * K, z + (b - q0) * K, rows);
                rm_progress_advance(sc->progress, (double)((b_end - b) * K) / sc->n_views);
            }
        }
        if ((rc = rm_all_ok(comm, rc ? rc : sc->failed)) != 0) break;
        if (sink && sink->write && (rc = rm_all_ok(comm, sink->write(sink->ctx, q0, q1, z))) != 0) break;
        t0 = rm_now();
        /* z of prompt q at z + (q - q0) K, member stride `rows`; features view stride piece_rows */
        rm_eval_piece in = {z, golden, features, rows, piece_rows, q0, q1};
        rm_eval_accumulate_piece(plan, team, &in, b0, blocks);
        sc->stats_seconds += rm_now() - t0;
    }
    rc = rm_all_ok(comm, rc);
    free(emb), free(golden), free(z), free(bias_buffer), free(features);
    if (rc != 0) {
        free(blocks);
        return -1;
    }
    *blocks_out = blocks;
    *n_local_blocks = b1 - b0;
    return 0;
}

/* Benchmark pairs: integer counts, any partition is exact. */
static int score_bench(MPI_Comm comm, rm_store *store, const rm_eval_plan *plan, rm_eval_work *work, scorer *sc,
                       int64_t *bench_counts)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    size_t D = sc->max_dim, E = (size_t)sc->ens->n_members, i0, i1;
    bench_share(store, rank, size, &i0, &i1);
    const size_t piece_pairs = (size_t)BENCH_PIECE_BLOCKS * BENCH_BLOCK;
    long long my_bench_pieces = (long long)((i1 - i0 + piece_pairs - 1) / piece_pairs), bench_pieces = 0;
    MPI_Allreduce(&my_bench_pieces, &bench_pieces, 1, MPI_LONG_LONG, MPI_MAX, comm);
    float *bench_c = rm_alloc(piece_pairs * D, sizeof(float), "bench piece");
    float *bench_r = rm_alloc(piece_pairs * D, sizeof(float), "bench piece");
    float *zc = rm_alloc(E * piece_pairs, sizeof(float), "bench predictions");
    float *zr = rm_alloc(E * piece_pairs, sizeof(float), "bench predictions");
    int rc = rm_all_ok(comm, bench_c && bench_r && zc && zr ? 0 : -1);
    for (long long piece = 0; piece < bench_pieces && rc == 0; piece++) {
        size_t j0 = i0 + (size_t)piece * piece_pairs, j1 = j0 + piece_pairs;
        if (j0 > i1) j0 = i1;
        if (j1 > i1) j1 = i1;
        for (int i = 0; i < sc->n_views && rc == 0; i++) {
            int view = sc->views[i];
            size_t Dv = rm_store_view_dim(store, view);
            double t0 = rm_now();
            rc = rm_store_read_view_bench(store, view, j0, j1, bench_c, bench_r);
            sc->read_seconds += rm_now() - t0;
            if ((rc = rm_all_ok(comm, rc)) != 0) break;
            /* j0 is a multiple of BENCH_BLOCK = SCORE_ROWS: calls start at fixed positions */
            score_rows(sc, view, bench_c, Dv, j1 - j0, zc, j1 - j0);
            score_rows(sc, view, bench_r, Dv, j1 - j0, zr, j1 - j0);
            rm_progress_advance(sc->progress, 2.0 * (double)(j1 - j0) / sc->n_views);
        }
        if ((rc = rm_all_ok(comm, rc ? rc : sc->failed)) != 0) break;
        rm_eval_accumulate_bench(plan, work, zc, zr, j1 - j0, j1 - j0, bench_counts);
    }
    free(bench_c), free(bench_r), free(zc), free(zr);
    return rc;
}

/* The meter of a verb's scoring: this rank's test responses and bench pairs' two sides. */
static void progress_begin(rm_progress_meter *meter, const char *verb, const rm_store *store, int rank, int size)
{
    size_t b0, b1, p_begin, p_end, i0, i1;
    test_share(store, rank, size, &b0, &b1, &p_begin, &p_end);
    bench_share(store, rank, size, &i0, &i1);
    double responses = (double)(p_end - p_begin) * (double)store->split[RM_SPLIT_TEST].n_responses + 2.0 * (double)(i1 - i0);
    rm_progress_begin(meter, verb, "responses", responses, rank, size);
}

int rm_eval_score(const rm_settings *cfg, MPI_Comm comm, rm_store *store, const rm_ensemble *e,
                  const rm_eval_plan *plan, int threads, const rm_eval_sink *sink, const char *progress_verb,
                  rm_eval_results *res, rm_eval_timing *timing)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    memset(timing, 0, sizeof *timing);
    scorer sc;
    rm_eval_work work; /* bench pairs */
    rm_eval_team team; /* test prompts, over the rank's threads */
    memset(&work, 0, sizeof work);
    memset(&team, 0, sizeof team);
    double *blocks = NULL, *total = rm_calloc(plan->n_slots, sizeof(double), "figures");
    int64_t *bench_counts = rm_calloc(plan->n_bench_counts, sizeof(int64_t), "bench counts");
    int64_t *bench_total = rm_calloc(plan->n_bench_counts, sizeof(int64_t), "bench counts");
    size_t n_local_blocks = 0;
    int rc = scorer_create(&sc, e, store);
    if (rc == 0 && sc.by_unit && rank == 0)
        rm_infof("[rank 0] shared trunk: the %d heads are scored by one forward of their unit per block", e->n_members);
    rm_progress_meter meter;
    if (progress_verb) progress_begin(&meter, progress_verb, store, rank, size);
    sc.progress = progress_verb ? &meter : NULL;
    if (rc == 0) rc = total && bench_counts && bench_total ? 0 : -1;
    if (rc == 0) rc = rm_eval_work_create(&work, plan);
    if (rc == 0) rc = rm_eval_team_create(&team, plan, threads);
    if ((rc = rm_all_ok(comm, rc)) == 0)
        rc = score_test_split(cfg, comm, store, plan, &team, &sc, sink, &blocks, &n_local_blocks);
    if (rc == 0 && sink && sink->done) rc = rm_all_ok(comm, sink->done(sink->ctx));
    if (rc == 0 && store->n_bench > 0) rc = score_bench(comm, store, plan, &work, &sc, bench_counts);
    double t_reduce = rm_now();
    if (rc == 0) rc = rm_eval_reduce(plan, comm, blocks, n_local_blocks, bench_counts, total, bench_total);
    timing->reduce = rm_now() - t_reduce;
    if (rc == 0) {
        double local_times[3] = {sc.read_seconds, sc.score_seconds, sc.stats_seconds}, max_times[3];
        MPI_Reduce(local_times, max_times, 3, MPI_DOUBLE, MPI_MAX, 0, comm);
        MPI_Reduce(&sc.responses_scored, &timing->scored, 1, MPI_DOUBLE, MPI_SUM, 0, comm);
        MPI_Reduce(&sc.flops, &timing->flops, 1, MPI_DOUBLE, MPI_SUM, 0, comm);
        timing->read = max_times[0], timing->score = max_times[1], timing->stats = max_times[2];
        if (rank == 0) rc = rm_eval_finish(plan, total, bench_total, store->n_bench, res);
        rc = rm_all_ok(comm, rc);
    }
    scorer_free(&sc);
    rm_eval_work_free(&work);
    rm_eval_team_free(&team);
    free(blocks), free(total), free(bench_counts), free(bench_total);
    return rc;
}

