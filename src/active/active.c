/* rmens active: rounds of train -> evaluate -> score the pool -> select -> label (see
 * include/rmens/active/active.h for the rules, src/active/active_output.c for the files).
 *
 * Parallel shape: members are trained exactly as `rmens train` trains them
 * (rm_ensemble_train_slots over the member deal, the node-shared train split), then
 * shared with every rank. The pool is cut into blocks of POOL_BLOCK pairs dealt
 * contiguously over the ranks; each rank scores its blocks with every member through the
 * evaluator's frozen forward (scoring calls start at block boundaries, so scores do not
 * depend on the rank count), rates them, and the batch is the global top (rm_active_top,
 * rm_dopt_greedy). The test split is evaluated by rm_eval_score, as `rmens eval`.
 *
 * Checkpoints: after every round the members (active_members_<r>.h5, checkpoint format)
 * and the records (active_state.h5); inside a round's training the ensemble's
 * checkpoint.h5 with the round in its fingerprint. Everything a round does is a pure
 * function of the previous round's members and the labelled set, so --resume repeats
 * the selection and continues bit for bit. */
#define _GNU_SOURCE
#include "active_output.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rmens/eval/eval_plan.h"
#include "rmens/eval/eval_figures.h"
#include "rmens/eval/eval_score.h"
#include "rmens/member/member_scoring.h"
#include "rmens/member/trunk.h"
#include "rmens/base/common.h"
#include "rmens/base/jsonl.h"
#include "rmens/base/progress.h"
#include "rmens/member/family.h"
#include "rmens/store/h5util.h"
#include "rmens/store/store_pairs.h"
#include "rmens/base/parallel.h"
#include "rmens/kernels/tiled_blas.h"
#include "rmens/kernels/precision.h"
#include "rmens/base/rng.h"
#include "rmens/eval/warm.h"

#define POOL_BLOCK 512 /* pairs per scoring block: 1024 rows, the evaluator's block; a multiple of RM_DOPT_BLOCK */

typedef struct {
    const rm_settings *cfg;
    MPI_Comm comm;
    int rank, size, threads;
    rm_active_strategy strategy;
    rm_eval_plan warm_plan;    /* with c->rec.warm: the full ensemble only (rmens/eval/warm.h) */
    rm_store store;
    rm_shared_split ns;
    rm_train_data data;
    rm_annotator annotator;
    rm_pairs pool;             /* every pool pair with its label (used for labelled pairs only) */
    size_t p0, p1;             /* this rank's pool pairs */
    unsigned char *labelled;   /* [pool] */
    uint32_t *lab;             /* [pool] labelled pool indices, in labelling order */
    size_t n_lab;
    rm_member_deal deal;
    rm_member *members;        /* [E] the last trained round's members, on every rank */
    int have_members;
    int H;                     /* width of the D-optimal features */
    float *d, *x;              /* pool scores' differences [E][local], features [E][local][H] */
    char *fingerprint;         /* of the run, without the round */
    active_paths paths;
    active_record rec;
} active_ctx;

/* ---- input checks: before any work, naming the key ---- */

static int check_settings(const rm_settings *cfg, rm_active_strategy *strategy)
{
    if (!cfg->store[0]) return rm_errorf("no store given (set 'store' in the config or --set store=PATH)");
    if (!cfg->output[0]) return rm_errorf("no output directory given (set 'output' or --set output=DIR)");
    if (rm_active_strategy_parse(cfg->active_strategy, strategy) != 0 || rm_ensemble_kind_check(cfg) != 0) return -1;
    const long long pool = cfg->active_pool, initial = cfg->active_initial, batch = cfg->active_batch;
    if (initial > pool) return rm_errorf("active.initial = %lld is larger than active.pool = %lld", initial, pool);
    if (cfg->active_rounds > 0 && batch > pool - initial)
        return rm_errorf("active.batch = %lld is larger than the %lld pool pairs left after active.initial = %lld", batch,
                         pool - initial, initial);
    if ((double)initial + (double)cfg->active_rounds * (double)batch > (double)pool)
        return rm_errorf("active.initial + active.rounds x active.batch = %lld + %lld x %lld is larger than active.pool = %lld",
                         initial, cfg->active_rounds, batch, pool);
    size_t n_val = (size_t)floor((double)initial * cfg->train_val_fraction);
    if ((size_t)cfg->train_batch_size > (size_t)initial - n_val)
        return rm_errorf("train.batch_size = %lld is larger than the %zu training pairs of the initial set (active.initial = %lld, train.val_fraction = %g)",
                         cfg->train_batch_size, (size_t)initial - n_val, initial, cfg->train_val_fraction);
    if (cfg->parallel_ranks_per_member < 1) return rm_errorf("parallel.ranks_per_member must be >= 1");
    if (strcmp(cfg->eval_warm, "true") == 0 && !cfg->ensemble_shared_init)
        return rm_errorf("eval.warm = true needs ensemble.shared_init = true: members from independent initialisations "
                         "cannot be weight-averaged");
    /* the family rules (active.warm_start or dopt with trees) before the pool is drawn, not
     * as a member's error in round 0 */
    return rm_family_check_settings(cfg, 0);
}

/* The pool against the store's train split: no more pairs than it has distinct ones. */
static int check_pool(const rm_settings *cfg, const rm_store *store)
{
    /* the pool is scored and trained on from the default view's window */
    if (cfg->model_n_inputs > 0 || cfg->ensemble_n_views > 0)
        return rm_errorf("model.inputs and ensemble.views are not supported by active labelling (the pool lives on the "
                         "default view); train with rmens run for them");
    const long long pool = cfg->active_pool;
    /* the distinct unordered pairs the split offers */
    const rm_split_info *tr = &store->split[RM_SPLIT_TRAIN];
    double N = (double)tr->n_prompts, c = strcmp(cfg->pairs_candidates, "all") == 0 ? (double)tr->n_responses : 2;
    double distinct = strcmp(cfg->pairs_mode, "within_prompt") == 0 ? N * c * (c - 1) / 2 : N * c * (N * c - 1) / 2;
    if ((double)pool > distinct)
        return rm_errorf("active.pool = %lld is more than the %.0f distinct %s pairs the train split allows (%zu prompts, "
                         "%.0f candidates each)", pool, distinct, cfg->pairs_mode, tr->n_prompts, c);
    if (strcmp(cfg->pairs_sampling, "prompts") == 0 && cfg->pairs_per_prompt == 0)
        return rm_errorf("rmens active: pairs.per_prompt = 0 (all pairs of a prompt) is not supported; give a number");
    if (strcmp(cfg->pairs_sampling, "prompts") == 0 && pool % cfg->pairs_per_prompt != 0)
        return rm_errorf("active.pool = %lld is not a multiple of pairs.per_prompt = %lld", pool, cfg->pairs_per_prompt);
    return 0;
}

/* The job's shape: one view, and parallel.ranks_per_member dividing the ranks. */
static int check_job(const rm_settings *cfg, int n_ranks)
{
    /* The pool's pairs are scored on the default view's train rows and each round trains
     * on one window: per-member views would need a pool window per view, not built yet. */
    if (cfg->ensemble_n_views > 0)
        return rm_errorf("rmens active does not support ensemble.views (members on several store views): remove "
                         "ensemble.views, or run rmens train / rmens run for a multi-view ensemble");
    if (n_ranks % cfg->parallel_ranks_per_member != 0)
        return rm_errorf("parallel.ranks_per_member = %lld does not divide the %d ranks of the job",
                         cfg->parallel_ranks_per_member, n_ranks);
    return 0;
}

int rm_active_check(const rm_settings *cfg, int n_ranks, const rm_store *store)
{
    rm_active_strategy strategy;
    if (check_settings(cfg, &strategy) != 0 || check_job(cfg, n_ranks) != 0) return -1;
    return store ? check_pool(cfg, store) : 0;
}

/* Rank 0: 0 start afresh; 1 continue from the state; 2 the run is complete already. */
static int prepare_output(const rm_settings *cfg, const active_paths *paths, int force, int resume, int *mode)
{
    *mode = 0;
    int have_output = rm_path_exists(paths->output_h5), have_state = rm_path_exists(paths->state);
    int have_checkpoint = rm_path_exists(paths->checkpoint);
    if (resume && !force && have_output) return *mode = 2, 0;
    if (resume && !force && have_state) return *mode = 1, 0;
    if (!force && have_output) return rm_errorf("%s already exists (use --force to overwrite)", paths->output_h5);
    /* (with --resume and only a training checkpoint, round 0 was interrupted: below) */
    if (!force && !resume && (have_state || have_checkpoint))
        return rm_errorf("%s exists from an interrupted run: continue it with --resume, or start over with --force",
                         have_state ? paths->state : paths->checkpoint);
    if (rm_mkdir_p(cfg->output) != 0) return -1;
    if (access(cfg->output, W_OK) != 0) return rm_errorf("output directory %s is not writable", cfg->output);
    if (resume && have_checkpoint && !force) return 0; /* round 0 was interrupted: its checkpoint is used */
    remove(paths->checkpoint);
    remove(paths->state);
    return 0;
}

/* ---- the labelled set as training pairs ---- */

/* The labelled pairs in labelling order, split as rm_pairs_build splits (train.val_fraction,
 * one permutation of RM_STREAM_VALIDATION), so that round 0 is the pairs of `rmens train`
 * with pairs.count = active.initial. */
static int labelled_pairs(const active_ctx *c, rm_pairs *out)
{
    memset(out, 0, sizeof *out);
    const size_t n = c->n_lab;
    out->winner = rm_alloc(n, sizeof(uint32_t), "labelled winners");
    out->loser = rm_alloc(n, sizeof(uint32_t), "labelled losers");
    out->order = rm_alloc(n, sizeof(uint32_t), "labelled order");
    if (!out->winner || !out->loser || !out->order) {
        rm_pairs_free(out);
        return -1;
    }
    size_t untied = 0, agree = 0, flipped = 0;
    for (size_t j = 0; j < n; j++) {
        uint32_t i = c->lab[j], w = c->pool.winner[i], l = c->pool.loser[i];
        out->winner[j] = w, out->loser[j] = l;
        double gw = c->data.rewards[w], gl = c->data.rewards[l];
        int f = 0;
        rm_annotator_label(&c->annotator, i, gw, gl, &f); /* the flip coin does not depend on the order */
        flipped += (size_t)f;
        if (gw != gl) untied++, agree += gw > gl;
    }
    out->n = n;
    out->n_train = n - (size_t)floor((double)n * c->cfg->train_val_fraction);
    out->n_val = n - out->n_train;
    out->split_rule = "pairs";
    out->label_agreement = untied ? (double)agree / (double)untied : NAN;
    out->label_flip_rate = (double)flipped / (double)n;
    out->reward_scale = c->pool.reward_scale;
    rm_permutation((uint64_t)c->cfg->seed, RM_STREAM_VALIDATION, out->order, n);
    rm_pairs_design d;
    rm_pairs_design_from_settings(&d, c->cfg);
    if (!d.split_prompts) return 0;
    /* validation pairs from prompts no labelled training pair touches */
    out->n_train = out->n_val = 0;
    if (rm_pairs_split_by_prompts(out, &d, c->data.n_prompts, c->data.n_responses) != 0) {
        rm_pairs_free(out);
        return -1;
    }
    return 0;
}

/* ---- scoring the pool ---- */

/* The pool pairs are rows (winner, loser): the orientation is the label. The criteria
 * are symmetric in theory but not in floating point (sigmoid(-d) is not 1 - sigmoid(d) to
 * the last bit), so a pair unselected so far could sway the selection through its label.
 * Each pair is read instead in the orientation where the members' summed score difference
 * is >= 0: negation is exact, so a pair and its swapped copy get the same bits, whatever
 * its label (tests/pairs/active_pairs.py swaps the unselected pairs and gets the same rounds). */
static void orient_pairs(active_ctx *c, size_t b, size_t nb, size_t nl)
{
    const int E = c->deal.n_members, H = c->H;
    for (size_t i = 0; i < nb; i++) {
        float sum = 0.0f;
        for (int m = 0; m < E; m++) sum += c->d[(size_t)m * nl + b + i];
        if (!(sum < 0.0f)) continue;
        for (int m = 0; m < E; m++) {
            c->d[(size_t)m * nl + b + i] = -c->d[(size_t)m * nl + b + i];
            if (!c->x) continue;
            float *x = c->x + ((size_t)m * nl + b + i) * (size_t)H;
            for (int h = 0; h < H; h++) x[h] = -x[h];
        }
    }
}

/* d (and x for the D-optimal rules) of this rank's pool pairs with every member. */
static int score_pool(active_ctx *c)
{
    const size_t D = c->store.dim, nl = c->p1 - c->p0;
    const int E = c->deal.n_members, dopt = rm_active_is_dopt(c->strategy), H = c->H;
    float *X = rm_alloc((size_t)2 * POOL_BLOCK * D, sizeof(float), "pool rows");
    float *raw = rm_alloc((size_t)2 * POOL_BLOCK, sizeof(float), "pool scores");
    rm_member_scorer *ws = rm_calloc((size_t)E, sizeof *ws, "pool scorers");
    rm_mlp_input input;
    memset(&input, 0, sizeof input);
    int rc = X && raw && ws ? rm_mlp_input_create(&input, (size_t)2 * POOL_BLOCK * D) : -1;
    for (int m = 0; m < E && rc == 0; m++) rc = rm_member_scorer_create(&ws[m], &c->members[m], 2 * POOL_BLOCK);
    for (size_t b = 0; rc == 0 && b < nl; b += POOL_BLOCK) {
        const size_t nb = nl - b < POOL_BLOCK ? nl - b : POOL_BLOCK;
        for (size_t i = 0; i < nb; i++) { /* a rows, then b rows */
            size_t p = c->p0 + b + i;
            memcpy(X + i * D, c->data.embeddings + (size_t)c->pool.winner[p] * D, D * sizeof(float));
            memcpy(X + (nb + i) * D, c->data.embeddings + (size_t)c->pool.loser[p] * D, D * sizeof(float));
        }
        rm_mlp_input_prepare(&input, X, 2 * nb * D);
        for (int m = 0; m < E && rc == 0; m++) {
            const rm_mlp *mlp = &c->members[m].mlp;
            if ((rc = rm_member_scorer_score(&ws[m], X, &input, (int)(2 * nb), raw)) != 0) break;
            for (size_t i = 0; i < nb; i++) c->d[(size_t)m * nl + b + i] = raw[i] - raw[nb + i];
            if (!dopt) continue;
            const float *act = mlp->n_layers > 1 ? ws[m].ws.act[mlp->n_layers - 1] : X; /* MLPs only (family.h) */
            for (size_t i = 0; i < nb; i++) {
                float *out = c->x + ((size_t)m * nl + b + i) * (size_t)H;
                for (int h = 0; h < H; h++) out[h] = act[i * (size_t)H + h] - act[(nb + i) * (size_t)H + h];
            }
        }
        if (rc == 0) orient_pairs(c, b, nb, nl);
    }
    for (int m = 0; ws && m < E; m++) rm_member_scorer_free(&ws[m]);
    free(ws), free(X), free(raw);
    rm_mlp_input_free(&input);
    return rc;
}

/* ---- selection ---- */

/* past_dopt: the labelled pairs' features and weights on every rank, in pool order. */
static int gather_labelled(const active_ctx *c, const double *w, float **x_lab, double **w_lab, size_t *n_lab)
{
    const size_t nl = c->p1 - c->p0;
    const int E = c->deal.n_members, H = c->H;
    int mine = 0, *counts = rm_alloc((size_t)c->size * 2, sizeof(int), "labelled counts");
    if (!counts) return -1;
    for (size_t i = 0; i < nl; i++) mine += c->labelled[c->p0 + i];
    MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, c->comm);
    size_t total = 0;
    for (int r = 0; r < c->size; r++) total += (size_t)counts[r];
    float *xs = rm_alloc((size_t)E * (total + 1) * H, sizeof(float), "labelled features");
    double *ws = rm_alloc((size_t)E * (total + 1), sizeof(double), "labelled weights");
    float *xl = rm_alloc(((size_t)mine + 1) * H, sizeof(float), "labelled features");
    double *wl = rm_alloc((size_t)mine + 1, sizeof(double), "labelled weights");
    int rc = rm_all_ok(c->comm, xs && ws && xl && wl ? 0 : -1), *displs = counts + c->size;
    for (int m = 0; rc == 0 && m < E; m++) {
        size_t j = 0;
        for (size_t i = 0; i < nl; i++)
            if (c->labelled[c->p0 + i]) {
                memcpy(xl + j * H, c->x + ((size_t)m * nl + i) * H, (size_t)H * sizeof(float));
                wl[j++] = w[(size_t)m * nl + i];
            }
        int off = 0;
        for (int r = 0; r < c->size; r++) displs[r] = off, off += counts[r];
        MPI_Allgatherv(wl, mine, MPI_DOUBLE, ws + (size_t)m * total, counts, displs, MPI_DOUBLE, c->comm);
        for (int r = 0; r < c->size; r++) counts[r] *= H, displs[r] *= H;
        MPI_Allgatherv(xl, mine * H, MPI_FLOAT, xs + (size_t)m * total * H, counts, displs, MPI_FLOAT, c->comm);
        for (int r = 0; r < c->size; r++) counts[r] /= H;
    }
    free(counts), free(xl), free(wl);
    if (rc != 0) {
        free(xs), free(ws);
        return -1;
    }
    *x_lab = xs, *w_lab = ws, *n_lab = total;
    return 0;
}

static int select_batch(active_ctx *c, int round, rm_active_pick *picks)
{
    const size_t nl = c->p1 - c->p0, k = (size_t)c->cfg->active_batch;
    const int E = c->deal.n_members;
    uint32_t *ids = rm_alloc(nl + 1, sizeof(uint32_t), "pool ids");
    unsigned char *eligible = rm_alloc(nl + 1, 1, "pool eligibility");
    double *v = rm_alloc((size_t)(rm_active_is_dopt(c->strategy) ? E : 1) * (nl + 1), sizeof(double), "pool criteria");
    int rc = rm_all_ok(c->comm, ids && eligible && v ? 0 : -1);
    for (size_t i = 0; rc == 0 && i < nl; i++) ids[i] = (uint32_t)(c->p0 + i), eligible[i] = !c->labelled[c->p0 + i];
    if (rc == 0 && !rm_active_is_dopt(c->strategy)) {
        rm_active_pointwise(c->strategy, c->d, nl, E, nl, ids, (uint64_t)c->cfg->seed, round, v);
        rc = rm_active_top(c->comm, v, ids, eligible, nl, k, picks);
    } else if (rc == 0) {
        rm_dopt_weights(c->d, nl, E, nl, v);
        float *x_lab = NULL;
        double *w_lab = NULL, *minv = rm_alloc((size_t)E * c->H * c->H, sizeof(double), "inverse information");
        size_t n_lab = 0;
        rc = rm_all_ok(c->comm, minv ? 0 : -1);
        if (rc == 0 && c->strategy == RM_ACTIVE_PAST_DOPT) rc = gather_labelled(c, v, &x_lab, &w_lab, &n_lab);
        if (rc == 0) rc = rm_all_ok(c->comm, rm_dopt_start(E, c->H, n_lab, x_lab, w_lab, c->cfg->active_dopt_ridge, minv));
        rm_dopt_pool pool = {E, c->H, nl, c->x, v, ids, eligible, 0};
        if (rc == 0) rc = rm_dopt_greedy(c->comm, &pool, minv, k, picks);
        free(x_lab), free(w_lab), free(minv);
    }
    free(ids), free(eligible), free(v);
    return rc;
}

/* Score the pool with the last round's members, select the batch, label it. */
static int select_round(active_ctx *c, int round, active_round *ar)
{
    double t0 = rm_now();
    /* random needs no scores */
    if (c->strategy != RM_ACTIVE_RANDOM && rm_all_ok(c->comm, score_pool(c)) != 0) return -1;
    ar->seconds[T_SCORE] = rm_now() - t0;
    t0 = rm_now();
    const size_t k = (size_t)c->cfg->active_batch;
    rm_active_pick *picks = rm_alloc(k, sizeof *picks, "selected pairs");
    ar->selected = rm_alloc(k, sizeof(uint32_t), "selected pairs");
    int rc = rm_all_ok(c->comm, picks && ar->selected ? 0 : -1);
    if (rc == 0) rc = select_batch(c, round, picks);
    if (rc == 0) {
        ar->n_selected = k;
        ar->crit[0] = 0, ar->crit[1] = INFINITY, ar->crit[2] = -INFINITY;
        for (size_t j = 0; j < k; j++) {
            ar->selected[j] = picks[j].id;
            c->labelled[picks[j].id] = 1;
            c->lab[c->n_lab++] = picks[j].id;
            ar->crit[0] += picks[j].crit / (double)k;
            ar->crit[1] = fmin(ar->crit[1], picks[j].crit);
            ar->crit[2] = fmax(ar->crit[2], picks[j].crit);
        }
    }
    free(picks);
    ar->seconds[T_SELECT] = rm_now() - t0;
    return rc;
}

/* ---- training and evaluating a round ---- */

static char *round_fingerprint(const active_ctx *c, int round)
{
    char *text = NULL;
    if (asprintf(&text, "%s round=%d", c->fingerprint, round) < 0) {
        rm_errorf("out of memory");
        return NULL;
    }
    return text;
}

/* Mean over members of their kept epoch's figures (owners fill their rows; exactly one
 * rank fills each, so the summing allreduce is exact). */
static void training_summary(const active_ctx *c, active_round *ar)
{
    const int E = c->deal.n_members;
    double *rows = rm_calloc((size_t)E * TRAIN_FIELDS, sizeof(double), "training summary");
    if (!rows) rm_abort_job(rm_last_error());
    for (int m = 0; m < E; m++) {
        const rm_member *mm = &c->deal.slots[m].member;
        if (!c->deal.slots[m].owned || mm->epochs_run < 1) continue;
        int kept = (mm->best_epoch > 0 ? mm->best_epoch : mm->epochs_run) - 1;
        double *row = rows + (size_t)m * TRAIN_FIELDS;
        row[TRAIN_EPOCHS] = mm->epochs_run, row[TRAIN_BEST_EPOCH] = mm->best_epoch;
        row[TRAIN_LOSS] = mm->train_loss[kept], row[TRAIN_VAL_LOSS] = mm->val_loss[kept];
        row[TRAIN_VAL_ACCURACY] = mm->val_accuracy[kept], row[TRAIN_PAIRS] = (double)mm->pairs_trained;
    }
    MPI_Allreduce(MPI_IN_PLACE, rows, E * TRAIN_FIELDS, MPI_DOUBLE, MPI_SUM, c->comm);
    for (int t = 0; t < TRAIN_FIELDS; t++) {
        double s = 0;
        for (int m = 0; m < E; m++) s += rows[(size_t)m * TRAIN_FIELDS + t];
        ar->train[t] = t == TRAIN_PAIRS ? s : s / E;
    }
    free(rows);
}

/* Train the round's members on the labelled set (continuing checkpoint.h5 when it is this
 * round's), then share them with every rank. 0, RM_EXIT_CHECKPOINTED or -1. */
static int train_round(active_ctx *c, int round, int resume, active_round *ar)
{
    double t0 = rm_now();
    rm_pairs train;
    if (rm_all_ok(c->comm, labelled_pairs(c, &train)) != 0) return -1;
    ar->labels = (long long)c->n_lab;
    ar->label_agreement = train.label_agreement;
    char *fp = round_fingerprint(c, round);
    int rc = rm_all_ok(c->comm, fp ? 0 : -1);
    rm_member_deal_reset(&c->deal);
    int have = 0;
    if (rc == 0 && c->rank == 0) have = resume && rm_path_exists(c->paths.checkpoint);
    MPI_Bcast(&have, 1, MPI_INT, 0, c->comm);
    if (rc == 0 && have) {
        rc = rm_checkpoint_read(c->paths.checkpoint, fp, c->cfg, c->deal.member_dim, c->deal.member_params, c->deal.slots,
                                c->deal.n_members);
        rc = rm_all_ok(c->comm, rc);
        if (rc == 0 && c->rank == 0) rm_infof("[rank 0] round %d: resuming its training from %s", round, c->paths.checkpoint);
    }
    const int warm = c->cfg->active_warm_start && c->have_members;
    if (rc == 0)
        rc = rm_ensemble_train_slots(c->cfg, &c->deal, &c->data, &train, warm ? c->members : NULL, c->paths.checkpoint, fp,
                                     "rmens active --resume");
    free(fp);
    if (rc == 0) {
        if (c->rank == 0) remove(c->paths.checkpoint);
        training_summary(c, ar);
        if (c->have_members)
            for (int m = 0; m < c->deal.n_members; m++) rm_member_free(&c->members[m]);
        c->have_members = 0;
        rc = rm_member_deal_share(&c->deal, c->members);
        c->have_members = rc == 0;
        /* the last round's members also go to members.h5, for rmens eval and comparisons */
        if (rc == 0 && round == (int)c->cfg->active_rounds)
            rc = rm_members_write(c->paths.members, c->cfg, &c->store, &train, &c->deal, rm_now() - t0);
    }
    rm_pairs_free(&train);
    ar->seconds[T_TRAIN] = rm_now() - t0;
    return rc;
}

/* aggregators.warm of the round's members: their weight average, standardised on the
 * train split and scored as rmens eval does (rmens/eval/warm.h). */
static int evaluate_warm(active_ctx *c, rm_ensemble *ens, active_round *ar)
{
    ens->shared_init = 1;
    ens->member_view = rm_calloc((size_t)ens->n_members, sizeof *ens->member_view, "eval.warm: member views");
    int enabled = 0, n_models = 0;
    int rc = rm_all_ok(c->comm, ens->member_view ? rm_warm_decide(c->cfg, ens, &enabled) : -1);
    rm_eval_results res;
    memset(&res, 0, sizeof res);
    double seconds = 0;
    if (rc == 0 && enabled)
        rc = rm_warm_evaluate(c->cfg, c->comm, &c->store, &c->data, ens, &c->warm_plan, c->threads, &res, &n_models, &seconds);
    if (rc == 0 && c->rank == 0) ar->warm = res.warm;
    rm_eval_results_free(&res);
    free(ens->member_view);
    ens->member_view = NULL;
    return rc;
}

static int evaluate_round(active_ctx *c, active_round *ar)
{
    double t0 = rm_now();
    rm_ensemble ens;
    memset(&ens, 0, sizeof ens);
    ens.n_members = c->deal.n_members;
    ens.members = c->members;
    ens.dim = (int)c->store.dim;
    ens.standardise_responses = c->cfg->train_standardise_responses; /* trained here, with this config */
    rm_eval_results res;
    memset(&res, 0, sizeof res);
    rm_eval_timing tm;
    int rc = rm_eval_score(c->cfg, c->comm, &c->store, &ens, &c->rec.plan, c->threads, NULL, NULL, &res, &tm);
    if (rc == 0 && c->rank == 0) ar->fig = res.full;
    rm_eval_results_free(&res);
    if (rc == 0 && c->rec.warm) rc = evaluate_warm(c, &ens, ar);
    ar->seconds[T_EVALUATE] = rm_now() - t0;
    return rc;
}

/* After round r: its members and every record so far, then the previous round's
 * members file goes (the state names the round whose members it needs). */
static int save_round(active_ctx *c, int round)
{
    char *path = rm_active_members_path(c->cfg, round), *fp = round_fingerprint(c, round);
    int rc = rm_all_ok(c->comm, path && fp ? 0 : -1);
    if (rc == 0)
        rc = rm_checkpoint_write(path, c->comm, fp, c->deal.slots, c->deal.n_members, c->deal.member_params,
                                 (int)c->cfg->train_epochs);
    if (rc == 0 && c->rank == 0) rc = rm_active_state_write(&c->rec, c->paths.state, c->fingerprint);
    if ((rc = rm_all_ok(c->comm, rc)) == 0 && c->rank == 0 && round > 0) {
        char *old = rm_active_members_path(c->cfg, round - 1);
        if (old) remove(old);
        free(old);
    }
    free(path), free(fp);
    return rc;
}

/* --resume: the records, the labelled set they imply, and the last round's members. */
static int restore_state(active_ctx *c)
{
    int rc = rm_active_state_read(&c->rec, c->paths.state, c->fingerprint);
    if (rm_all_ok(c->comm, rc) != 0) return -1;
    for (int r = 0; r < c->rec.n_rounds; r++)
        for (size_t j = 0; j < c->rec.rounds[r].n_selected; j++) {
            uint32_t i = c->rec.rounds[r].selected[j];
            c->labelled[i] = 1;
            c->lab[c->n_lab++] = i;
        }
    int last = c->rec.n_rounds - 1;
    char *path = rm_active_members_path(c->cfg, last), *fp = round_fingerprint(c, last);
    rc = path && fp ? rm_checkpoint_read(path, fp, c->cfg, c->deal.member_dim, c->deal.member_params, c->deal.slots,
                                         c->deal.n_members)
                    : -1;
    free(path), free(fp);
    if (rm_all_ok(c->comm, rc) != 0) return -1;
    rc = rm_member_deal_share(&c->deal, c->members);
    c->have_members = rc == 0;
    if (c->rank == 0) rm_infof("[rank 0] resuming after round %d (%zu labelled pairs)", last, c->n_lab);
    return rc;
}

/* ---- set-up ---- */

/* The plan of the warm aggregator: the full ensemble only, since active.json reports no
 * ablation (its one ablation size is E, the whole ensemble, which rm_warm_evaluate
 * averages once). */
static int warm_plan_create(active_ctx *c)
{
    rm_settings *warm_cfg = rm_alloc(1, sizeof *warm_cfg, "eval.warm: settings");
    if (!warm_cfg) return -1;
    *warm_cfg = *c->cfg;
    warm_cfg->eval_n_ablation = 1;
    warm_cfg->eval_ablation_sizes[0] = c->deal.n_members;
    int rc = rm_eval_plan_create(&c->warm_plan, warm_cfg, c->deal.n_members, c->store.split[RM_SPLIT_TEST].n_responses);
    free(warm_cfg);
    return rc;
}

static int setup(active_ctx *c)
{
    const rm_settings *cfg = c->cfg;
    const rm_split_info *tr = &c->store.split[RM_SPLIT_TRAIN];
    c->threads = rm_set_blas_threads(c->comm, (int)cfg->parallel_blas_threads);
    if (rm_all_ok(c->comm, rm_precision_select(cfg->model_precision, c->rank == 0, NULL)) != 0) return -1;
    if (rm_shared_split_load(&c->ns, &c->store, c->comm, c->threads) != 0) return -1;
    c->data = (rm_train_data){c->ns.embeddings, c->ns.rewards, tr->n_prompts, tr->n_responses, c->store.dim, c->ns.loaded};
    /* the pool: pairs.* with pairs.count = active.pool and no validation split */
    double scale = rm_annotator_scale(cfg, c->ns.rewards, tr->n_prompts * tr->n_responses);
    rm_pairs_design design;
    rm_pairs_design_from_settings(&design, cfg);
    design.count = (size_t)cfg->active_pool;
    design.val_fraction = 0;
    int rc = rm_annotator_from_settings(&c->annotator, cfg, scale);
    if (rc == 0) rc = rm_pairs_build(&c->pool, c->ns.rewards, tr->n_prompts, tr->n_responses, &design, &c->annotator);
    if (rc != 0) rm_error_context("active.pool = %lld", cfg->active_pool);
    if (rm_all_ok(c->comm, rc) != 0) return -1;
    size_t n_blocks = (c->pool.n + POOL_BLOCK - 1) / POOL_BLOCK, b0, b1;
    rm_partition(n_blocks, c->size, c->rank, &b0, &b1);
    c->p0 = b0 * POOL_BLOCK, c->p1 = b1 * POOL_BLOCK < c->pool.n ? b1 * POOL_BLOCK : c->pool.n;
    if (c->p0 > c->p1) c->p0 = c->p1;
    if (rm_member_deal_create(&c->deal, cfg, c->comm, (int)c->store.dim) != 0) return -1;
    const int E = c->deal.n_members;
    c->H = cfg->model_n_hidden > 0 ? cfg->model_hidden[cfg->model_n_hidden - 1] : (int)c->store.dim;
    const size_t nl = c->p1 - c->p0 + 1;
    c->labelled = rm_calloc(c->pool.n, 1, "labelled flags");
    c->lab = rm_alloc(c->pool.n, sizeof(uint32_t), "labelled pairs");
    c->members = rm_calloc((size_t)E, sizeof(rm_member), "members");
    c->d = rm_alloc((size_t)E * nl, sizeof(float), "pool scores");
    c->x = rm_active_is_dopt(c->strategy) ? rm_alloc((size_t)E * nl * (size_t)c->H, sizeof(float), "pool features (lower active.pool)") : NULL;
    c->rec.rounds = rm_calloc((size_t)cfg->active_rounds + 1, sizeof(active_round), "round records");
    c->fingerprint = rm_checkpoint_fingerprint(cfg, c->store.uuid);
    /* warm with shared_init (auto or true): a state with warm figures resumes only as such */
    c->rec.warm = cfg->ensemble_shared_init && strcmp(cfg->eval_warm, "false") != 0;
    rc = c->labelled && c->lab && c->members && c->d && c->rec.rounds && c->fingerprint ? 0 : -1;
    if (rc == 0 && rm_active_is_dopt(c->strategy) && !c->x) rc = -1;
    if (rc == 0) {
        char *full = NULL;
        if (asprintf(&full, "%s active.strategy=%s active.pool=%lld active.initial=%lld active.batch=%lld "
                            "active.warm_start=%d active.dopt_ridge=%.17g pairs.sampling=%s pairs.candidates=%s "
                            "pairs.per_prompt=%lld pairs.label_flip=%.17g pairs.reward_scale=%.17g version=%s%s",
                     c->fingerprint, cfg->active_strategy, cfg->active_pool, cfg->active_initial, cfg->active_batch,
                     cfg->active_warm_start, cfg->active_dopt_ridge, cfg->pairs_sampling, cfg->pairs_candidates,
                     cfg->pairs_per_prompt, cfg->pairs_label_flip, cfg->pairs_reward_scale, RMENS_VERSION,
                     c->rec.warm ? " eval.warm=1" : "") < 0)
            rc = rm_errorf("out of memory");
        free(c->fingerprint);
        c->fingerprint = full;
    }
    if (rc == 0) rc = rm_eval_plan_create(&c->rec.plan, cfg, E, c->store.split[RM_SPLIT_TEST].n_responses);
    if (rc == 0 && c->rec.warm) rc = warm_plan_create(c);
    return rm_all_ok(c->comm, rc);
}

static void teardown(active_ctx *c)
{
    if (c->have_members)
        for (int m = 0; m < c->deal.n_members; m++) rm_member_free(&c->members[m]);
    free(c->members), free(c->labelled), free(c->lab), free(c->d), free(c->x), free(c->fingerprint);
    rm_active_rounds_free(&c->rec);
    rm_eval_plan_free(&c->rec.plan);
    rm_eval_plan_free(&c->warm_plan);
    rm_member_deal_free(&c->deal);
    rm_pairs_free(&c->pool);
    rm_shared_split_free(&c->ns);
}

/* The round's progress line on stdout, with the ETA of the rounds left (the mean time of
 * the rounds run by this process so far: later rounds train on more labels, so it is a
 * lower bound); none with --quiet. */
static void print_round_line(const active_ctx *c, int round, const active_round *ar, double eta_seconds)
{
    const rm_eval_plan *p = &c->rec.plan;
    const rm_aggregate_figures *mean = &ar->fig.aggregate[0];
    char what[96];
    if (round == 0)
        snprintf(what, sizeof what, "the initial set (random)");
    else
        snprintf(what, sizeof what, "criterion of the batch %.4g..%.4g", ar->crit[1], ar->crit[2]);
    printf("[rank 0] round %d/%lld: %lld labels, %s; val_acc %.4f; test: best-of-%zu %.4f, "
           "spearman %.4f, pair_acc %.4f (mean)",
           round, c->cfg->active_rounds, ar->labels, what, ar->train[TRAIN_VAL_ACCURACY],
           p->bon_n[p->n_bon - 1], mean->bon[p->n_bon - 1], mean->spearman, mean->pair_accuracy);
    if (c->rec.warm) printf(", %.4f, %.4f (warm)", ar->warm.spearman, ar->warm.pair_accuracy);
    printf("; seconds train %.2f score %.2f select %.2f evaluate %.2f", ar->seconds[T_TRAIN], ar->seconds[T_SCORE],
           ar->seconds[T_SELECT], ar->seconds[T_EVALUATE]);
    const long long left = c->cfg->active_rounds - round;
    char eta[RM_DURATION_CHARS];
    if (left > 0) printf("; ETA %s for the %lld round%s left\n", rm_duration(eta_seconds, eta), left, left == 1 ? "" : "s");
    else printf("\n");
    fflush(stdout);
}

/* The round's line on stdout and its object in <output>/log.jsonl. */
static void print_round(const active_ctx *c, int round, const active_round *ar, double round_seconds)
{
    static double run_seconds = 0;
    static int rounds_run = 0;
    run_seconds += round_seconds, rounds_run++;
    if (c->rank != 0) return;
    const rm_eval_plan *p = &c->rec.plan;
    const rm_aggregate_figures *mean = &ar->fig.aggregate[0];
    if (!rm_is_quiet()) print_round_line(c, round, ar, run_seconds / rounds_run * (double)(c->cfg->active_rounds - round));
    rm_jsonl_line l;
    rm_jsonl_begin(&l);
    rm_jsonl_int(&l, "round", round);
    rm_jsonl_int(&l, "labels", ar->labels);
    rm_jsonl_double(&l, "test_pair_accuracy", mean->pair_accuracy, 17);
    rm_jsonl_double(&l, "test_spearman", mean->spearman, 17);
    rm_jsonl_double(&l, "test_best_of_n", mean->bon[p->n_bon - 1], 17);
    rm_jsonl_double(&l, "val_accuracy", ar->train[TRAIN_VAL_ACCURACY], 17);
    rm_jsonl_double(&l, "seconds", round_seconds, 6);
    char *log = rm_path_join(c->cfg->output, "log.jsonl");
    if (!log || rm_jsonl_append(log, &l) != 0) rm_warnf("%s (the round is not logged there)", rm_last_error());
    free(log);
}

/* One round: select (r >= 1), train, evaluate, record, save. */
static int run_round(active_ctx *c, int round, int resume)
{
    active_round *ar = &c->rec.rounds[round];
    memset(ar, 0, sizeof *ar);
    const double t_round = rm_now();
    rm_ensemble_log_round(round);
    int rc = 0;
    if (round == 0) {
        ar->selected = rm_alloc((size_t)c->cfg->active_initial, sizeof(uint32_t), "initial pairs");
        if (rm_all_ok(c->comm, ar->selected ? 0 : -1) != 0) return -1;
        ar->n_selected = (size_t)c->cfg->active_initial;
        for (size_t i = 0; i < ar->n_selected; i++) ar->selected[i] = (uint32_t)i, c->labelled[i] = 1, c->lab[c->n_lab++] = (uint32_t)i;
        ar->crit[0] = ar->crit[1] = ar->crit[2] = NAN;
    } else if ((rc = select_round(c, round, ar)) != 0) {
        return rc;
    }
    if ((rc = train_round(c, round, resume, ar)) != 0) return rc;
    for (int t = 0; t < T_FIELDS; t++) /* the slowest rank's, before the evaluation's own */
        MPI_Allreduce(MPI_IN_PLACE, &ar->seconds[t], 1, MPI_DOUBLE, MPI_MAX, c->comm);
    if ((rc = evaluate_round(c, ar)) != 0) return rc;
    MPI_Allreduce(MPI_IN_PLACE, &ar->seconds[T_EVALUATE], 1, MPI_DOUBLE, MPI_MAX, c->comm);
    c->rec.n_rounds = round + 1;
    print_round(c, round, ar, rm_now() - t_round);
    return save_round(c, round);
}

static int run_rounds(active_ctx *c, int mode, int resume)
{
    int first = 0;
    rm_ensemble_log_start(c->cfg, c->comm, mode == 0); /* log.jsonl: a fresh run's starts empty */
    if (mode == 1) {
        if (restore_state(c) != 0) return -1;
        first = c->rec.n_rounds;
    }
    for (int r = first; r <= (int)c->cfg->active_rounds; r++) {
        int rc = run_round(c, r, resume && r == first);
        if (rc != 0) return rc;
        int stop = rm_ensemble_stop_requested();
        MPI_Allreduce(MPI_IN_PLACE, &stop, 1, MPI_INT, MPI_MAX, c->comm);
        if (stop && r < (int)c->cfg->active_rounds) {
            if (c->rank == 0) printf("[rank 0] stopping on signal after round %d (exit 75): continue with rmens active --resume\n", r);
            return RM_EXIT_CHECKPOINTED;
        }
    }
    return 0;
}

static int finish(active_ctx *c, double t0)
{
    c->rec.cfg = c->cfg;
    c->rec.strategy = c->strategy;
    c->rec.comm = c->comm, c->rec.rank = c->rank, c->rec.size = c->size;
    c->rec.store = &c->store;
    c->rec.wall_seconds = rm_now() - t0;
    int rc = 0;
    if (c->rank == 0) {
        rc = rm_active_write_outputs(&c->rec, &c->paths);
        if (rc == 0) {
            char *last = rm_active_members_path(c->cfg, c->rec.n_rounds - 1);
            if (last) remove(last);
            free(last);
            remove(c->paths.state);
            printf("wrote %s, %s and %s (%d rounds, %.1f s)\n", c->paths.output_h5, c->paths.output_json, c->paths.members,
                   c->rec.n_rounds, rm_now() - t0);
            fflush(stdout);
        }
    }
    return rm_all_ok(c->comm, rc);
}

int rm_active_run(const rm_settings *cfg, MPI_Comm comm, int force, int resume)
{
    double t0 = rm_now();
    active_ctx c;
    memset(&c, 0, sizeof c);
    c.cfg = cfg, c.comm = comm, c.rec.cfg = cfg;
    MPI_Comm_rank(comm, &c.rank);
    MPI_Comm_size(comm, &c.size);
    rm_h5_quiet();
    struct sigaction old_term, old_usr1;
    rm_ensemble_catch_signals(&old_term, &old_usr1);
    c.paths = (active_paths){rm_path_join(cfg->output, "active.h5"), rm_path_join(cfg->output, "active.json"),
                             rm_path_join(cfg->output, "members.h5"), rm_path_join(cfg->output, "active_state.h5"),
                             rm_path_join(cfg->output, "checkpoint.h5")};
    int rc = c.paths.output_h5 && c.paths.output_json && c.paths.members && c.paths.state && c.paths.checkpoint ? 0 : -1;
    int store_open = 0, mode = 0;
    if (rm_all_ok(comm, rc) != 0) goto out;
    rc = check_settings(cfg, &c.strategy);
    if (rc == 0) rc = check_job(cfg, c.size);
    if ((rc = rm_all_ok(comm, rc)) != 0) goto out;
    /* the store's shapes only (metadata): the pool is checked before anything is read or written */
    /* pairs.source = "store": the pool is stored pairs (each once), labelled by the human */
    if ((rc = rm_store_open_for_run(&c.store, cfg, comm)) != 0) goto out;
    store_open = 1;
    if ((rc = rm_all_ok(comm, check_pool(cfg, &c.store))) != 0) goto out;
    if (c.rank == 0) rc = prepare_output(cfg, &c.paths, force, resume, &mode);
    MPI_Bcast(&mode, 1, MPI_INT, 0, comm);
    if ((rc = rm_all_ok(comm, rc)) != 0) goto out;
    if (mode == 2) {
        if (c.rank == 0) printf("%s is complete already: nothing to resume\n", c.paths.output_h5);
        goto out;
    }
    if ((rc = setup(&c)) == 0 && (rc = run_rounds(&c, mode, resume)) == 0) rc = finish(&c, t0);
    teardown(&c);
out:
    if (store_open) rm_store_close(&c.store);
    free(c.paths.output_h5), free(c.paths.output_json), free(c.paths.members), free(c.paths.state), free(c.paths.checkpoint);
    if (rc != RM_EXIT_CHECKPOINTED) {
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGUSR1, &old_usr1, NULL);
    }
    return rc;
}
