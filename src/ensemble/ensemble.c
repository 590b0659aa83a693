/* Distributed ensemble training (see include/rmens/ensemble/ensemble.h; members.h5 is
 * src/ensemble/members_file.c).
 *
 * Shape of a run on P ranks with S ranks per member:
 *   1. every node reads the train split's rewards once into a node-shared window (each
 *      rank of the node reads a contiguous shard of prompts with collective parallel HDF5);
 *   2. every rank builds the same preference pairs (counter-based RNG, no communication),
 *      and the window gets the embeddings of the responses the members read (all, or the
 *      pairs' and the standardisation sample's: rm_member_items_read);
 *   3. G = P / S groups train members g, g+G, g+2G, ... (data-parallel inside a group);
 *   4. members.h5 is written collectively at a temporary name, then renamed. */
#define _GNU_SOURCE
#include "rmens/member/family_mlp.h"
#include "rmens/ensemble/ensemble.h"
#include "rmens/ensemble/checkpoint.h"
#include "rmens/base/common.h"
#include "rmens/base/jsonl.h"
#include "rmens/base/progress.h"
#include "rmens/member/family.h"
#include "rmens/store/h5util.h"
#include "rmens/store/store_pairs.h"
#include "rmens/member/pairs.h"
#include "rmens/member/train.h"
#include "rmens/member/train_lists.h"
#include "rmens/base/parallel.h"
#include "rmens/kernels/tiled_blas.h"
#include "rmens/kernels/precision.h"
#include "rmens/base/rng.h"
#include "rmens/member/trunk.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------- */
/* The train split in one node-shared window                                           */

int rm_shared_split_load(rm_shared_split *ns, rm_store *store, MPI_Comm comm, int threads)
{
    return rm_shared_split_load_view(ns, store, 0, comm, threads);
}

int rm_shared_split_load_view(rm_shared_split *ns, rm_store *store, int view, MPI_Comm comm, int threads)
{
    if (rm_shared_split_open_view(ns, store, view, comm) != 0) return -1;
    return rm_shared_split_read(ns, store, view, comm, threads, NULL);
}

int rm_shared_split_open_view(rm_shared_split *ns, rm_store *store, int view, MPI_Comm comm)
{
    memset(ns, 0, sizeof *ns);
    ns->t_start = rm_now();
    ns->window = MPI_WIN_NULL;
    const rm_split_info *tr = &store->split[RM_SPLIT_TRAIN];
    size_t n_items = 0, n_values = 0, bytes = 0;
    int rc = rm_size_mul(tr->n_prompts, tr->n_responses, &n_items, "train split");
    const size_t dim = rm_store_view_dim(store, view);
    if (rc == 0) rc = rm_size_mul(n_items, dim, &n_values, "train split");
    if (rc == 0) rc = rm_size_mul(n_values + n_items, sizeof(float), &bytes, "train split");
    if (rm_all_ok(comm, rc) != 0) return -1;

    if (rm_node_comm(comm, &ns->node) != 0) rm_abort_job(rm_last_error());
    int node_rank, node_size;
    MPI_Comm_rank(ns->node, &node_rank);
    MPI_Comm_size(ns->node, &node_size);
    MPI_Comm_set_errhandler(ns->node, MPI_ERRORS_RETURN);
    void *base = NULL;
    rc = rm_mpi_check(MPI_Win_allocate_shared(node_rank == 0 ? (MPI_Aint)bytes : 0, sizeof(float), MPI_INFO_NULL,
                                              ns->node, &base, &ns->window),
                      "MPI_Win_allocate_shared (train split)");
    if (rc != 0) rm_error_context("cannot hold the train split (%zu MiB) in node memory", bytes >> 20);
    if (rm_all_ok(comm, rc) != 0) return -1;
    MPI_Aint size = 0;
    int disp_unit = 0;
    MPI_Win_shared_query(ns->window, 0, &size, &disp_unit, &base);
    ns->bytes = bytes;
    ns->embeddings = base;
    ns->rewards = ns->embeddings + n_values;
    ns->n_loaded = n_items;

    /* Each rank of the node fills its shard; the reads are collective over the whole job,
     * so every rank of every node takes part at the same time. */
    MPI_Win_lock_all(MPI_MODE_NOCHECK, ns->window);
    size_t p0, p1;
    rm_partition(tr->n_prompts, node_size, node_rank, &p0, &p1);
    rc = rm_store_read_rewards(store, RM_SPLIT_TRAIN, p0, p1, ns->rewards + p0 * tr->n_responses);
    if (rm_all_ok(comm, rc) != 0) {
        rm_shared_split_free(ns);
        return -1;
    }
    MPI_Win_sync(ns->window);
    MPI_Barrier(ns->node);
    MPI_Win_sync(ns->window);
    return 0;
}

int rm_shared_split_read(rm_shared_split *ns, rm_store *store, int view, MPI_Comm comm, int threads,
                         const uint8_t *wanted)
{
    int world_rank, node_rank, node_size;
    MPI_Comm_rank(comm, &world_rank);
    MPI_Comm_rank(ns->node, &node_rank);
    MPI_Comm_size(ns->node, &node_size);
    const rm_split_info *tr = &store->split[RM_SPLIT_TRAIN];
    const size_t n_items = tr->n_prompts * tr->n_responses, dim = rm_store_view_dim(store, view);
    int rc = 0;
    if (wanted) {
        ns->loaded = rm_alloc(n_items, 1, "responses read");
        rc = ns->loaded ? 0 : -1;
        ns->n_loaded = 0;
        for (size_t i = 0; rc == 0 && i < n_items; i++) ns->n_loaded += (ns->loaded[i] = wanted[i] != 0);
    }
    if (rm_all_ok(comm, rc) != 0) return -1;
    size_t p0, p1;
    rm_partition(tr->n_prompts, node_size, node_rank, &p0, &p1);
    size_t row = tr->n_responses * dim;
    /* the pages a whole shard's read writes, mapped at once: under some hypervisors
     * faulting them one by one was a quarter of the read */
    if (!wanted) rm_populate_pages(ns->embeddings + p0 * row, (p1 - p0) * row * sizeof(float));
    rc = rm_store_read_view_items(store, view, RM_SPLIT_TRAIN, p0, p1, ns->loaded, ns->embeddings + p0 * row);
    if (rm_all_ok(comm, rc) != 0) return -1;
    MPI_Win_sync(ns->window);
    MPI_Barrier(ns->node);
    MPI_Win_sync(ns->window);
    double t_read = rm_now() - ns->t_start;
    if (node_rank == 0) {
        char host[256] = "?";
        gethostname(host, sizeof host);
        const rm_precision_info *precision = rm_precision_current();
        char view_text[96] = "", read_text[128] = "";
        if (store->n_views > 1) snprintf(view_text, sizeof view_text, " (view %s)", store->views[view].name);
        if (wanted)
            snprintf(read_text, sizeof read_text, ", the %zu of its %zu responses the run reads", ns->n_loaded, n_items);
        rm_infof("[rank %d] node %s: train split%s %zu x %zu x %zu in one shared window of %zu bytes for %d rank(s)%s, read in %.2fs; precision %s (%s); BLAS threads %d",
                 world_rank, host, view_text, tr->n_prompts, tr->n_responses, dim, ns->bytes, node_size, read_text,
                 t_read, precision->precision, precision->kernel, threads);
    }
    return 0;
}

void rm_shared_split_free(rm_shared_split *ns)
{
    if (ns->window != MPI_WIN_NULL) {
        MPI_Win_unlock_all(ns->window);
        MPI_Win_free(&ns->window);
    }
    if (ns->node != MPI_COMM_NULL && ns->node != 0) MPI_Comm_free(&ns->node);
    free(ns->loaded);
    ns->loaded = NULL;
}

/* ---------------------------------------------------------------------------------- */
/* Progress                                                                             */

typedef struct {
    int world_rank;
    int member_position, members_of_group; /* for the ETA over the group's members */
    int shared_trunk; /* the line is the unit's: means over its heads */
    /* The whole job's ETA: seconds per member measured in this process (members count by
     * their finished fraction of steps), times the members still to start. */
    double t_mark;     /* rm_now() of the member's start or of its last progress line */
    int step_mark;     /* steps (epochs, rounds) done at t_mark; also the steps logged */
    double work_seconds, work_members;
    char *log_path;    /* <output>/log.jsonl (NULL: no log) */
    int log_failed;    /* warned once, no more lines */
} progress_ctx;

/* -1 outside `rmens active`; else the round whose members train (rm_ensemble_log_round) */
static int log_round = -1;
void rm_ensemble_log_round(int round) { log_round = round; }

/* Steps from_step..epoch of member m (the history, so that tree members' lines every
 * 10 rounds log every round) into log.jsonl, each with the mean time of these steps. */
static void log_member_steps(progress_ctx *ctx, const rm_member *m, int from_step, int epoch, double pairs_per_second,
                             double seconds)
{
    for (int k = from_step; k < epoch && !ctx->log_failed; k++) {
        rm_jsonl_line l;
        rm_jsonl_begin(&l);
        if (log_round >= 0) rm_jsonl_int(&l, "round", log_round);
        rm_jsonl_int(&l, "member", m->index);
        rm_jsonl_int(&l, "epoch", k + 1);
        rm_jsonl_double(&l, "train_loss", m->train_loss[k], 17);
        rm_jsonl_double(&l, "val_loss", m->val_loss[k], 17);
        rm_jsonl_double(&l, "val_accuracy", m->val_accuracy[k], 17);
        rm_jsonl_double(&l, "pairs_per_s", pairs_per_second, 6);
        rm_jsonl_double(&l, "seconds", seconds / (epoch - from_step), 6);
        rm_jsonl_int(&l, "rank", ctx->world_rank);
        if (rm_jsonl_append(ctx->log_path, &l) != 0) {
            rm_warnf("%s (no more lines are logged there; training goes on)", rm_last_error());
            ctx->log_failed = 1;
        }
    }
}

static void print_progress(const rm_member *m, int epoch, int epochs, double train_loss, double val_loss,
                           double val_accuracy, double pairs_per_second, double eta_seconds, void *opaque)
{
    progress_ctx *ctx = opaque;
    const double now = rm_now(), seconds = now - ctx->t_mark;
    const int from_step = ctx->step_mark < epoch ? ctx->step_mark : epoch - 1;
    if (ctx->log_path) {
        if (ctx->shared_trunk) /* m is the unit's array of heads: a line per head */
            for (int e = 0; e < ctx->members_of_group; e++) log_member_steps(ctx, &m[e], from_step, epoch, pairs_per_second, seconds);
        else
            log_member_steps(ctx, m, from_step, epoch, pairs_per_second, seconds);
    }
    ctx->work_seconds += seconds;
    ctx->work_members += (double)(epoch - from_step) / epochs;
    ctx->t_mark = now, ctx->step_mark = epoch;
    if (rm_is_quiet()) return; /* the log above is written all the same */
    char eta[RM_DURATION_CHARS];
    if (ctx->shared_trunk) {
        printf("[rank %d] shared trunk, heads 0-%d (mean) epoch %d/%d  train_loss %.4f  val_loss %.4f  val_acc %.4f  "
               "%.0f pairs/s  ETA %s\n",
               ctx->world_rank, ctx->members_of_group - 1, epoch, epochs, train_loss, val_loss, val_accuracy,
               pairs_per_second, rm_duration(eta_seconds, eta));
        fflush(stdout);
        return;
    }
    /* eta_seconds is the member's own (0 when it ends here: its last step or an early
     * stop); the members after it take the mean time of a member so far. */
    const int current_left = eta_seconds > 0, after = ctx->members_of_group - ctx->member_position - 1;
    const double per_member = ctx->work_members > 0 ? ctx->work_seconds / ctx->work_members : 0;
    const double job_eta = eta_seconds + (after > 0 ? after * per_member : 0);
    const int left = current_left + (after > 0 ? after : 0);
    /* a tree member's steps are boosting rounds (gbdt.rounds), an MLP's epochs */
    const char *step = rm_member_family(m)->step;
    printf("[rank %d] member %d (%d/%d) %s %d/%d  train_loss %.4f  val_loss %.4f  val_acc %.4f  %.0f pairs/s  "
           "ETA %s for this rank's %d member%s left\n",
           ctx->world_rank, m->index, ctx->member_position + 1, ctx->members_of_group, step, epoch, epochs, train_loss,
           val_loss, val_accuracy, pairs_per_second, rm_duration(job_eta, eta), left, left == 1 ? "" : "s");
    fflush(stdout);
}

/* ---------------------------------------------------------------------------------- */
/* Training                                                                             */

static int check_layout(const rm_settings *cfg, int size, int rank)
{
    long long S = cfg->parallel_ranks_per_member;
    if (size % S != 0)
        return rm_errorf("parallel.ranks_per_member = %lld does not divide the %d ranks of the job", S, size);
    long long groups = size / S;
    if (rm_settings_shared_trunk(cfg) && groups > 1 && rank == 0)
        rm_warnf("ensemble.kind = \"shared_trunk\" is one unit that group 0 trains: %lld group(s) (%lld ranks) will "
                 "stay idle during training (parallel.ranks_per_member = %d would train it data-parallel on all)",
                 groups - 1, (groups - 1) * S, size);
    else if (groups > cfg->ensemble_members && rank == 0)
        rm_warnf("%lld member groups for %lld members: %lld group(s) (%lld ranks) will stay idle during training",
                 groups, cfg->ensemble_members, groups - cfg->ensemble_members,
                 (groups - cfg->ensemble_members) * S);
    if (rm_family_check_settings(cfg, rank == 0) != 0 || rm_ensemble_kind_check(cfg) != 0) return -1;
    if (!cfg->store[0]) return rm_errorf("no store given (set 'store' in the config or --set store=PATH)");
    if (!cfg->output[0]) return rm_errorf("no output directory given (set 'output' or --set output=DIR)");
    return 0;
}

/* Test hook for the failing-rank tests: RMENS_TEST_FAIL="RANK:MEMBER" makes that rank
 * fail (as an I/O or NaN failure would) when it starts training that member. */
static int injected_failure(int rank, int member)
{
    const char *spec = getenv("RMENS_TEST_FAIL");
    int r = -1, m = -1;
    if (!spec || sscanf(spec, "%d:%d", &r, &m) != 2) return 0;
    return r == rank && m == member;
}

/* ---- stopping for checkpoints: SIGTERM / SIGUSR1 (what Slurm sends before a kill) or
 * the periodic timer. Handlers only set a flag; training looks at it between steps. */
static volatile sig_atomic_t stop_signal = 0;
/* SIGINT (Ctrl-C) asks for the same checkpoint while training can take one (between
 * rm_ensemble_catch_signals and the end of training); the second SIGINT, or one outside
 * training, ends the process at once by the default action (exit status 130 in a shell). */
static volatile sig_atomic_t interrupts = 0, interrupt_armed = 0, interrupt_quiet = 0;
static void on_stop_signal(int sig)
{
    if (sig == SIGINT) {
        if (!interrupt_armed || interrupts++ > 0) {
            signal(SIGINT, SIG_DFL);
            raise(SIGINT); /* delivered when this handler returns */
            return;
        }
        static const char msg[] = "\nrmens: interrupt: stopping at the next step boundary with a checkpoint "
                                  "(interrupt again to quit at once, losing the work since the last checkpoint)\n";
        if (!interrupt_quiet && write(STDERR_FILENO, msg, sizeof msg - 1) < 0) { /* nothing to do */ }
    }
    stop_signal = sig;
}

/* A SIGINT ignored when the process started (a background job of a script: the
 * terminal's Ctrl-C is not for it) stays ignored. */
static int interrupt_ignored = -1;
static void note_ignored_interrupt(void)
{
    struct sigaction current;
    if (interrupt_ignored < 0 && sigaction(SIGINT, NULL, &current) == 0) interrupt_ignored = current.sa_handler == SIG_IGN;
}

static void install_handlers(struct sigaction *old_term, struct sigaction *old_usr1, int with_interrupt)
{
    note_ignored_interrupt();
    if (interrupt_ignored) with_interrupt = 0;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, old_term);
    sigaction(SIGUSR1, &action, old_usr1);
    if (with_interrupt) sigaction(SIGINT, &action, NULL);
}

/* Before MPI_Init: SIGTERM/SIGUSR1 only (a SIGINT while the job starts ends it at once). */
void rm_catch_stop_signals(void) { install_handlers(NULL, NULL, 0); }

typedef struct {
    double deadline; /* rm_now() of the next periodic checkpoint, 0: none */
} stop_clock;

static int should_stop(void *opaque)
{
    const stop_clock *clock = opaque;
    return stop_signal != 0 || (clock->deadline > 0 && rm_now() >= clock->deadline);
}

/* periodic: 0 when the deal cannot checkpoint (views of different D) */
static void arm_clock(stop_clock *clock, const rm_settings *cfg)
{
    clock->deadline = cfg->train_checkpoint_minutes > 0 ? rm_now() + 60.0 * cfg->train_checkpoint_minutes : 0;
}

typedef struct {
    char *members, *checkpoint;
} run_paths;

/* Rank 0 prepares the output directory and decides what this run is: 0 train, 1 the
 * members file is complete already (resume of a finished run), 2 resume a checkpoint. */
static int prepare_output(const rm_settings *cfg, const run_paths *paths, int force, int resume, int *mode)
{
    *mode = 0;
    if (rm_mkdir_p(cfg->output) != 0) return -1;
    if (access(cfg->output, W_OK) != 0) return rm_errorf("output directory %s is not writable", cfg->output);
    int have_members = rm_path_exists(paths->members), have_checkpoint = rm_path_exists(paths->checkpoint);
    if (resume && have_members && !force) {
        *mode = 1;
        return 0;
    }
    if (resume && have_checkpoint && !force) {
        *mode = 2;
        return 0;
    }
    if (!force && have_members) return rm_errorf("%s already exists (use --force to overwrite)", paths->members);
    if (!force && have_checkpoint)
        return rm_errorf("%s exists from an interrupted run: continue it with --resume, or start over with --force",
                         paths->checkpoint);
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* Members dealt over rank groups (shared by `train` and `active`)                      */

int rm_member_deal_create(rm_member_deal *d, const rm_settings *cfg, MPI_Comm comm, int dim)
{
    memset(d, 0, sizeof *d);
    d->comm = comm;
    MPI_Comm_rank(comm, &d->rank);
    MPI_Comm_size(comm, &d->size);
    const int S = (int)cfg->parallel_ranks_per_member;
    d->n_groups = d->size / S;
    d->group_id = d->rank / S;
    d->n_members = (int)cfg->ensemble_members;
    MPI_Comm_split(comm, d->group_id, d->rank, &d->group);
    MPI_Comm_rank(d->group, &d->group_rank);
    d->slots = rm_calloc((size_t)d->n_members, sizeof(rm_member_slot), "member slots");
    d->member_dim = rm_calloc((size_t)d->n_members, sizeof(int), "member dimensions");
    d->member_params = rm_calloc((size_t)d->n_members, sizeof(size_t), "member parameter counts");
    if (rm_all_ok(comm, d->slots && d->member_dim && d->member_params ? 0 : -1) != 0) {
        rm_member_deal_free(d);
        return -1;
    }
    d->shared_trunk = rm_settings_shared_trunk(cfg);
    for (int m = 0; m < d->n_members; m++) {
        /* a shared trunk is one unit of all members: group 0 trains it */
        d->slots[m].trains = (d->shared_trunk ? 0 : m % d->n_groups) == d->group_id;
        d->slots[m].owned = d->slots[m].trains && d->group_rank == 0;
        d->mine += d->slots[m].trains;
    }
    rm_mlp probe;
    if (rm_mlp_create(&probe, dim, cfg->model_hidden, cfg->model_n_hidden) == 0) {
        d->n_params = probe.n_params;
        rm_mlp_free(&probe);
    }
    for (int m = 0; m < d->n_members; m++) {
        d->member_dim[m] = dim;
        d->member_params[m] = d->n_params;
    }
    return 0;
}

void rm_member_deal_reset(rm_member_deal *d)
{
    for (int m = 0; m < d->n_members; m++) {
        rm_member_slot_free(&d->slots[m]);
        d->slots[m].status = RM_MEMBER_PENDING;
    }
}

void rm_member_deal_free(rm_member_deal *d)
{
    if (d->slots)
        for (int m = 0; m < d->n_members; m++) rm_member_slot_free(&d->slots[m]);
    free(d->slots);
    free(d->member_dim);
    free(d->member_params);
    if (d->group != MPI_COMM_NULL && d->group != 0) MPI_Comm_free(&d->group);
    memset(d, 0, sizeof *d);
}

int rm_member_deal_owner(const rm_member_deal *d, int m)
{
    /* the first rank of group m % G, or of group 0 for a shared trunk */
    return (d->shared_trunk ? 0 : m % d->n_groups) * (d->size / d->n_groups);
}

int rm_member_deal_share(const rm_member_deal *d, rm_member *all)
{
    memset(all, 0, sizeof(rm_member) * (size_t)d->n_members);
    for (int m = 0; m < d->n_members; m++) {
        int root = rm_member_deal_owner(d, m), rc = 0;
        if (d->rank == root) {
            const rm_member *src = &d->slots[m].member;
            all[m].family = src->family;
            rc = rm_member_family(src)->copy(&all[m], src);
            all[m].score_mean = src->score_mean, all[m].score_std = src->score_std, all[m].index = src->index;
            all[m].seed = src->seed, all[m].epochs_run = src->epochs_run, all[m].best_epoch = src->best_epoch;
            all[m].pairs_trained = src->pairs_trained;
        }
        if (rm_all_ok(d->comm, rc) != 0 || rm_member_bcast(&all[m], d->comm, d->rank, root) != 0) {
            for (int k = 0; k <= m; k++) rm_member_free(&all[k]);
            return rm_error_context("sharing member %d", m);
        }
    }
    return 0;
}

/* Start member m from the weights of `warm` (active.warm_start): a resume from a fresh
 * state, i.e. epoch 0, Adam's moments zero, no history. */
static int warm_state(const rm_member *warm, rm_member *member, rm_train_state *state)
{
    memset(member, 0, sizeof *member);
    if (rm_train_state_alloc(state, warm->mlp.n_params) != 0) return -1;
    if (rm_mlp_create(&member->mlp, warm->mlp.dims[0], warm->mlp.dims + 1, warm->mlp.n_layers - 1) != 0) {
        rm_train_state_free(state);
        return -1;
    }
    memcpy(member->mlp.params, warm->mlp.params, warm->mlp.n_params * sizeof(float));
    memset(state->adam_m, 0, warm->mlp.n_params * sizeof(float));
    memset(state->adam_v, 0, warm->mlp.n_params * sizeof(float));
    memcpy(state->best_params, warm->mlp.params, warm->mlp.n_params * sizeof(float));
    member->index = warm->index;
    member->seed = warm->seed;
    state->best_val = INFINITY;
    return 0;
}

/* Train (or continue) member m of the deal's slots; 0, or 1 when interrupted. Aborts the
 * job on a training failure, which only this group sees. */
static int train_slot(const rm_settings *cfg, rm_member_deal *d, const rm_train_data *data, const rm_pairs *pairs,
                      const rm_member *warm, int m, stop_clock *clock, progress_ctx *pctx)
{
    rm_member_slot *sl = &d->slots[m];
    if (injected_failure(d->rank, m)) rm_abort_job("injected failure (RMENS_TEST_FAIL) while training a member");
    rm_train_control control;
    memset(&control, 0, sizeof control);
    control.should_stop = should_stop;
    control.stop_ctx = clock;
    rm_member resumed_member;
    rm_train_state resumed_state;
    int resuming = sl->status == RM_MEMBER_IN_PROGRESS, warming = !resuming && warm != NULL;
    if (resuming) {
        resumed_member = sl->member;
        resumed_state = sl->state;
        memset(&sl->member, 0, sizeof sl->member);
        memset(&sl->state, 0, sizeof sl->state);
    } else if (warming && warm_state(&warm[m], &resumed_member, &resumed_state) != 0) {
        rm_abort_job(rm_last_error());
    }
    if (resuming || warming) {
        control.resume_member = &resumed_member;
        control.resume_state = &resumed_state;
    }
    const rm_train_data *view_data = data + (d->n_views > 1 ? m % d->n_views : 0);
    pctx->t_mark = rm_now();
    pctx->step_mark = resuming ? resumed_state.next_epoch : 0;
    int rc = rm_train_member_controlled(cfg, view_data, pairs, m, d->group, &sl->member,
                                        d->group_rank == 0 ? print_progress : NULL, pctx, &control);
    if (resuming || warming) {
        rm_member_free(&resumed_member);
        rm_train_state_free(&resumed_state);
    }
    if (rc != 0) rm_abort_job(rm_last_error());
    if (control.interrupted) {
        sl->status = RM_MEMBER_IN_PROGRESS;
        sl->state = control.saved;
        return 1;
    }
    sl->status = RM_MEMBER_FINISHED;
    pctx->member_position++;
    return 0;
}

/* A shared trunk's unit on group 0: all members at once (rmens/member/trunk.h). Every head's
 * slot holds its part of the unit while interrupted: the heads start, stop and resume
 * together. 0, or 1 when interrupted. */
static int train_unit_slots(const rm_settings *cfg, rm_member_deal *d, const rm_train_data *data,
                            const rm_pairs *pairs, stop_clock *clock, progress_ctx *pctx)
{
    const int E = d->n_members;
    int pending = 0;
    for (int m = 0; m < E; m++) pending |= d->slots[m].trains && d->slots[m].status != RM_MEMBER_FINISHED;
    if (!pending) return 0;
    if (injected_failure(d->rank, 0)) rm_abort_job("injected failure (RMENS_TEST_FAIL) while training a member");
    rm_member *heads = rm_calloc((size_t)E, sizeof(rm_member), "shared-trunk members");
    rm_train_control *controls = rm_calloc((size_t)E, sizeof *controls, "shared-trunk heads");
    if (!heads || !controls) rm_abort_job(rm_last_error());
    controls[0].should_stop = should_stop;
    controls[0].stop_ctx = clock;
    const int resuming = d->slots[0].status == RM_MEMBER_IN_PROGRESS;
    pctx->t_mark = rm_now();
    pctx->step_mark = resuming ? d->slots[0].state.next_epoch : 0;
    for (int m = 0; resuming && m < E; m++) {
        controls[m].resume_member = &d->slots[m].member;
        controls[m].resume_state = &d->slots[m].state;
    }
    if (rm_train_shared_trunk(cfg, data, pairs, d->group, heads, d->group_rank == 0 ? print_progress : NULL, pctx,
                              controls) != 0)
        rm_abort_job(rm_last_error());
    const int interrupted = controls[0].interrupted;
    for (int m = 0; m < E; m++) {
        rm_member_slot_free(&d->slots[m]); /* the resumed parts, which training has copied */
        d->slots[m].member = heads[m];
        d->slots[m].status = interrupted ? RM_MEMBER_IN_PROGRESS : RM_MEMBER_FINISHED;
        if (interrupted) d->slots[m].state = controls[m].saved;
    }
    free(heads);
    free(controls);
    if (!interrupted) pctx->member_position = E;
    return interrupted;
}

int rm_ensemble_train_slots(const rm_settings *cfg, rm_member_deal *d, const rm_train_data *data,
                            const rm_pairs *pairs, const rm_member *warm, const char *checkpoint_path,
                            const char *fingerprint, const char *resume_hint)
{
    stop_clock clock;
    arm_clock(&clock, cfg);
    const int E = d->n_members, G = d->n_groups;
    /* Rounds: each rank trains its group's members until they are done or a stop is
     * asked for, then all ranks meet. If every member is finished the caller writes them;
     * otherwise a checkpoint, and on a signal the job ends for requeueing. A rank with
     * nothing left to train waits at the meeting point. */
    progress_ctx pctx = {d->rank, 0, d->mine, d->shared_trunk, rm_now(), 0, 0, 0, NULL, 0};
    for (int m = 0; m < E; m++) pctx.member_position += d->slots[m].trains && d->slots[m].status == RM_MEMBER_FINISHED;
    pctx.log_path = rm_path_join(cfg->output, "log.jsonl"); /* NULL (out of memory): no log */
    int checkpoints = 0, rc = 0;
    for (;;) {
        if (d->shared_trunk)
            train_unit_slots(cfg, d, data, pairs, &clock, &pctx);
        else
            for (int m = d->group_id; m < E; m += G)
                if (d->slots[m].status != RM_MEMBER_FINISHED && train_slot(cfg, d, data, pairs, warm, m, &clock, &pctx))
                    break;
        int unfinished = 0;
        for (int m = 0; m < E; m++) unfinished |= d->slots[m].trains && d->slots[m].status != RM_MEMBER_FINISHED;
        int flags[2] = {unfinished, stop_signal != 0};
        MPI_Allreduce(MPI_IN_PLACE, flags, 2, MPI_INT, MPI_MAX, d->comm);
        if (!flags[0]) break;
        double t_ckpt = rm_now();
        if (rm_checkpoint_write(checkpoint_path, d->comm, fingerprint, d->slots, E, d->member_params,
                                rm_settings_max_epochs(cfg)) != 0) {
            rc = -1;
            break;
        }
        checkpoints++;
        if (d->rank == 0 && flags[1]) { /* the run's last line, --quiet or not: how to go on */
            printf("[rank 0] checkpoint %d written to %s in %.2fs; stopping on signal (exit 75): continue with %s\n",
                   checkpoints, checkpoint_path, rm_now() - t_ckpt, resume_hint);
            fflush(stdout);
        } else if (d->rank == 0) {
            rm_infof("[rank 0] checkpoint %d written to %s in %.2fs", checkpoints, checkpoint_path, rm_now() - t_ckpt);
        }
        if (flags[1]) {
            rc = RM_EXIT_CHECKPOINTED;
            break;
        }
        arm_clock(&clock, cfg);
    }
    free(pctx.log_path);
    return rc;
}

int rm_members_write(const char *path, const rm_settings *cfg, const rm_store *store, const rm_pairs *pairs,
                     const rm_member_deal *d, double wall_seconds)
{
    rm_member **local = rm_calloc((size_t)d->n_members, sizeof(rm_member *), "members");
    if (!local) rm_abort_job(rm_last_error());
    for (int m = 0; m < d->n_members; m++)
        if (d->slots[m].owned) local[m] = &d->slots[m].member;
    int rc = rm_members_file_write(path, cfg, store, pairs, d->comm, local, d->n_members, (int)store->dim, wall_seconds);
    free(local);
    return rc;
}

int rm_ensemble_stop_requested(void) { return stop_signal != 0; }

void rm_ensemble_log_start(const rm_settings *cfg, MPI_Comm comm, int fresh)
{
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    if (fresh && rank == 0) {
        char *path = rm_path_join(cfg->output, "log.jsonl");
        if (path) unlink(path);
        free(path);
    }
    MPI_Barrier(comm); /* no rank appends before the old log is gone */
}

void rm_ensemble_catch_signals(struct sigaction *old_term, struct sigaction *old_usr1)
{
    int initialised = 0, rank = 0;
    MPI_Initialized(&initialised);
    if (initialised) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    interrupt_quiet = rank != 0; /* one "interrupt" line per job */
    install_handlers(old_term, old_usr1, 1);
    interrupt_armed = !interrupt_ignored;
}

/* Training is over without a checkpoint to take: Ctrl-C ends the process at once again
 * (`run`'s evaluation, which cannot checkpoint, included). */
static void disarm_interrupt(void)
{
    if (!interrupt_armed) return;
    interrupt_armed = 0;
    signal(SIGINT, SIG_DFL);
}

/* Settings every member would reject: say so once, from rank 0's view (the same on
 * every rank), before training. */
static int check_batch_size(const rm_settings *cfg, const rm_pairs *pairs)
{
    const size_t n_list = rm_member_list_sizes(cfg, pairs, NULL); /* entries a minibatch draws from */
    if ((size_t)cfg->train_batch_size <= n_list) return 0;
    return rm_errorf("train.batch_size = %lld is larger than the %zu training %s (pairs.count = %lld, train.val_fraction = %g%s)",
                     cfg->train_batch_size, n_list, cfg->pairs_both_orders ? "entries" : "pairs", cfg->pairs_count,
                     cfg->train_val_fraction, cfg->pairs_both_orders ? ", pairs.both_orders = true" : "");
}

/* Collective: the deal's slots from the checkpoint, and rank 0's line about them. */
static int resume_slots(const rm_settings *cfg, rm_member_deal *deal, const char *checkpoint, const char *fingerprint,
                        MPI_Comm comm, int rank)
{
    const int E = deal->n_members;
    int rc = rm_checkpoint_read(checkpoint, fingerprint, cfg, deal->member_dim, deal->member_params, deal->slots, E);
    if ((rc = rm_all_ok(comm, rc)) != 0) return rc;
    if (rank == 0) {
        int counts[3] = {0, 0, 0};
        for (int m = 0; m < E; m++) counts[deal->slots[m].status]++;
        rm_infof("[rank 0] resuming from %s: %d member(s) finished, %d in progress, %d to start", checkpoint,
                 counts[RM_MEMBER_FINISHED], counts[RM_MEMBER_IN_PROGRESS], counts[RM_MEMBER_PENDING]);
    }
    return 0;
}

/* Collective: members.h5 of the finished deal; then the checkpoint goes (nothing to
 * resume) and every rank says what it trained. */
static int finish_run(const rm_settings *cfg, const rm_member_deal *deal, const rm_store *store, const rm_pairs *pairs,
                      const run_paths *paths, MPI_Comm comm, int rank, double t0)
{
    int rc = rm_members_write(paths->members, cfg, store, pairs, deal, rm_now() - t0);
    if (rc != 0) return rc;
    if (rank == 0) unlink(paths->checkpoint); /* the run is complete: nothing to resume */
    rm_infof("[rank %d] done: %d member(s) trained, wall %.2fs, peak memory %.1f MiB", rank, deal->mine, rm_now() - t0,
             (double)rm_peak_rss() / 1048576.0);
    MPI_Barrier(comm);
    if (rank == 0) printf("wrote %s\n", paths->members);
    return 0;
}

int rm_ensemble_train(const rm_settings *cfg, MPI_Comm comm, int force, int resume)
{
    double t0 = rm_now();
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    if (rm_all_ok(comm, check_layout(cfg, size, rank)) != 0) return -1;
    /* From here on a SIGTERM/SIGUSR1 is a request to checkpoint, even while the store is
     * still being read (then the first step boundary stops for it). */
    struct sigaction old_term, old_usr1;
    rm_ensemble_catch_signals(&old_term, &old_usr1);

    run_paths paths = {rm_path_join(cfg->output, "members.h5"), rm_path_join(cfg->output, "checkpoint.h5")};
    int rc = paths.members && paths.checkpoint ? 0 : -1;
    int mode = 0;
    if (rc == 0 && rank == 0) rc = prepare_output(cfg, &paths, force, resume, &mode);
    MPI_Bcast(&mode, 1, MPI_INT, 0, comm);
    if (rm_all_ok(comm, rc) != 0) goto out_paths;
    if (mode == 1) {
        if (rank == 0) printf("%s is complete already: nothing to resume\n", paths.members);
        goto out_paths;
    }

    int threads = rm_set_blas_threads(comm, (int)cfg->parallel_blas_threads);
    if ((rc = rm_all_ok(comm, rm_precision_select(cfg->model_precision, rank == 0, NULL))) != 0) goto out_paths;
    rm_store store;
    if ((rc = rm_store_open_for_run(&store, cfg, comm)) != 0) goto out_paths;
    const rm_split_info *tr = &store.split[RM_SPLIT_TRAIN];

    /* one shared window per view the members use (the rewards are every view's) */
    rm_view_plan vp;
    if ((rc = rm_all_ok(comm, rm_view_plan_resolve(&vp, cfg, &store))) != 0) goto out_store;
    rm_shared_split ns_views[RM_MAX_VIEWS], *ns = ns_views;
    rm_train_data data[RM_MAX_VIEWS];
    int n_loaded = 0;
    /* the windows and the rewards first: the pairs, drawn from the rewards, say which
     * embeddings the members will read */
    for (; n_loaded < vp.n; n_loaded++)
        if ((rc = rm_shared_split_open_view(&ns[n_loaded], &store, vp.index[n_loaded], comm)) != 0) goto out_split;
    rm_pairs pairs;
    uint32_t *groups = NULL; /* pairs.source = "store": splits keep a dialogue's pairs together */
    size_t n_groups = 0;
    rc = rm_store_train_pair_groups(&store, &groups, &n_groups);
    if (rc == 0) rc = rm_pairs_build_grouped(&pairs, cfg, ns->rewards, tr->n_prompts, tr->n_responses, groups, n_groups);
    free(groups);
    if (rc == 0) rc = rm_member_split_overlap(cfg, &pairs, tr->n_prompts, tr->n_responses);
    if ((rc = rm_all_ok(comm, rc)) != 0) goto out_split;
    uint8_t *wanted = NULL;
    rc = rm_all_ok(comm, rm_member_items_read(cfg, &pairs, tr->n_prompts * tr->n_responses, &wanted));
    for (int v = 0; v < vp.n && rc == 0; v++) {
        rc = rm_shared_split_read(&ns[v], &store, vp.index[v], comm, threads, wanted);
        data[v] = (rm_train_data){ns[v].embeddings, ns[v].rewards, tr->n_prompts, tr->n_responses, vp.dim[v], ns[v].loaded};
    }
    free(wanted);
    if (rc != 0) goto out_pairs;
    if ((rc = rm_all_ok(comm, check_batch_size(cfg, &pairs))) != 0) goto out_pairs;
    if (rank == 0) rm_pairs_print(&pairs, cfg);

    rm_member_deal deal;
    if ((rc = rm_member_deal_create(&deal, cfg, comm, (int)store.dim)) != 0) goto out_pairs;
    rm_member_deal_set_views(&deal, cfg, &vp);
    char *fingerprint = rm_checkpoint_fingerprint(cfg, store.uuid);
    if ((rc = rm_all_ok(comm, fingerprint ? 0 : -1)) != 0) goto out_deal;
    if (mode == 2 && (rc = resume_slots(cfg, &deal, paths.checkpoint, fingerprint, comm, rank)) != 0) goto out_deal;
    rm_ensemble_log_start(cfg, comm, mode == 0);
    rc = rm_ensemble_train_slots(cfg, &deal, data, &pairs, NULL, paths.checkpoint, fingerprint, "rmens train --resume");
    if (rc != 0) goto out_deal;

    rc = finish_run(cfg, &deal, &store, &pairs, &paths, comm, rank, t0);
out_deal:
    free(fingerprint);
    rm_member_deal_free(&deal);
out_pairs:
    rm_pairs_free(&pairs);
out_split:
    for (int i = 0; i < n_loaded; i++) rm_shared_split_free(&ns[i]);
out_store:
    rm_store_close(&store);
out_paths:
    free(paths.members);
    free(paths.checkpoint);
    /* After a checkpoint for a signal the handlers stay: the launcher may SIGTERM the ranks
     * that are still finishing (mpirun does once the first rank exits with 75), and they
     * must exit with 75 too, not die of the signal. */
    if (rc != RM_EXIT_CHECKPOINTED) {
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGUSR1, &old_usr1, NULL);
        disarm_interrupt();
    }
    return rc;
}

void rm_pairs_print(const rm_pairs *pairs, const rm_settings *cfg)
{
    rm_infof("[rank 0] %zu %s pairs (%zu train, %zu validation; sampling %s, candidates %s), annotator beta %g, "
             "reward scale %.6g, label flips %.4f (pairs.label_flip %g): labels agree with the golden order for %.4f of pairs",
             pairs->n, cfg->pairs_mode, pairs->n_train, pairs->n_val, cfg->pairs_sampling, cfg->pairs_candidates,
             cfg->pairs_annotator_beta, pairs->reward_scale, pairs->label_flip_rate, cfg->pairs_label_flip,
             pairs->label_agreement);
    if (pairs->n_train + pairs->n_val < pairs->n)
        rm_infof("[rank 0] %zu pairs dropped: an item on each side of the split", pairs->n - pairs->n_train - pairs->n_val);
    if (pairs->n_val > 0)
        rm_infof("[rank 0] validation split \"%s\": %.4f of validation pairs share a prompt with training pairs, %.4f a response%s",
                 pairs->split_rule, pairs->val_prompt_overlap, pairs->val_item_overlap,
                 pairs->val_prompt_overlap > 0 ? " (validation figures are optimistic; train.val_split = \"prompts\" removes the leak)" : "");
}

void rm_member_deal_set_views(rm_member_deal *d, const rm_settings *cfg, const rm_view_plan *vp)
{
    d->n_views = vp->n;
    size_t view_params[RM_MAX_VIEWS] = {0};
    for (int i = 0; i < vp->n; i++) {
        rm_mlp probe;
        if (rm_mlp_create(&probe, (int)vp->dim[i], cfg->model_hidden, cfg->model_n_hidden) == 0) {
            view_params[i] = probe.n_params;
            rm_mlp_free(&probe);
        }
    }
    /* member m on view m mod V: its D and parameter count (checkpoints hold each member's) */
    for (int m = 0; m < d->n_members; m++) {
        d->member_dim[m] = (int)vp->dim[m % vp->n];
        d->member_params[m] = view_params[m % vp->n];
    }
    /* one count for every member, or 0 when the views differ in D */
    d->n_params = view_params[0];
    for (int i = 1; i < vp->n; i++)
        if (view_params[i] != view_params[0]) d->n_params = 0;
}
