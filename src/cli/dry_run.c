/* --dry-run of train, eval, run and active (see cli.h): every check a verb makes before it
 * computes, in the verb's own order and with its own messages, then rank 0 prints the plan.
 *
 * What is done: the settings are loaded (keys checked), the store is opened as the verb
 * opens it (rm_store_open_for_run: metadata only), the views resolved (model.inputs: the
 * names and widths, rm_store_inputs_moments without moments), the rank layout checked and
 * the members dealt (rm_member_deal_create: a communicator split, nothing read), eval's
 * members.h5 loaded (weights only: its dim, views and store_uuid checked), the figures'
 * plan created, the precision chosen. What is not: the train split is not read (no pairs
 * are built, so train.batch_size against the training pairs is checked at the run), no
 * moments are computed, nothing is scored. Nothing is written: <output> is not created,
 * no lock is taken, files are only tested for existence and writability. */
#define _GNU_SOURCE
#include "cli.h"

#include <hdf5.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rmens/active/active.h"
#include "rmens/base/common.h"
#include "rmens/base/parallel.h"
#include "rmens/ensemble/ensemble.h"
#include "rmens/ensemble/ensemble_views.h"
#include "rmens/ensemble/members_file.h"
#include "rmens/eval/eval.h"
#include "rmens/eval/eval_bias.h"
#include "rmens/eval/eval_plan.h"
#include "rmens/eval/warm.h"
#include "rmens/kernels/precision.h"
#include "rmens/member/family.h"
#include "rmens/member/family_mlp.h"
#include "rmens/member/trunk.h"
#include "rmens/store/h5util.h"
#include "rmens/store/store.h"
#include "rmens/store/store_inputs.h"

/* What the checks found, for the plan. */
typedef struct {
    const rm_settings *cfg;
    const cli_config_args *args;
    const cli_verb *verb;
    MPI_Comm comm;
    int rank, size;
    int nodes, node_ranks_max;  /* nodes of the job, most ranks on one */
    int threads_min, threads_max;
    rm_precision_info precision;
    rm_store store;
    int store_open;
    rm_view_plan vp;            /* the members' views (train, run) */
    char inputs_name[64];       /* model.inputs: the composite's name (not added: no moments) */
    rm_member_deal deal;
    int deal_made;
    char output_note[8][200];   /* rank 0: one line per file of <output> */
    int n_output_notes;
} dry_ctx;

/* ---- printing (rank 0) ---- */

static void plan_line(const char *label, const char *fmt, ...) RM_PRINTF(2, 3);
static void plan_line(const char *label, const char *fmt, ...)
{
    printf("  %-10s ", label);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static const char *human(double bytes, char buf[32])
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) bytes /= 1024, u++;
    snprintf(buf, 32, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
    return buf;
}

static void note_output(dry_ctx *c, const char *fmt, ...) RM_PRINTF(2, 3);
static void note_output(dry_ctx *c, const char *fmt, ...)
{
    if (c->n_output_notes == (int)(sizeof c->output_note / sizeof c->output_note[0])) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->output_note[c->n_output_notes++], sizeof c->output_note[0], fmt, ap);
    va_end(ap);
}

/* ---- the job: ranks, nodes, threads, precision ---- */

static int job_start(dry_ctx *c)
{
    MPI_Comm_rank(c->comm, &c->rank);
    MPI_Comm_size(c->comm, &c->size);
    rm_h5_quiet();
    MPI_Comm node;
    if (rm_node_comm(c->comm, &node) != 0) return rm_all_ok(c->comm, -1);
    int node_rank, node_size;
    MPI_Comm_rank(node, &node_rank);
    MPI_Comm_size(node, &node_size);
    MPI_Comm_free(&node);
    int first = node_rank == 0;
    MPI_Allreduce(&first, &c->nodes, 1, MPI_INT, MPI_SUM, c->comm);
    MPI_Allreduce(&node_size, &c->node_ranks_max, 1, MPI_INT, MPI_MAX, c->comm);
    int threads = rm_threads_per_rank(c->comm, (int)c->cfg->parallel_blas_threads);
    MPI_Allreduce(&threads, &c->threads_min, 1, MPI_INT, MPI_MIN, c->comm);
    MPI_Allreduce(&threads, &c->threads_max, 1, MPI_INT, MPI_MAX, c->comm);
    return 0;
}

static int choose_precision(dry_ctx *c)
{
    return rm_all_ok(c->comm, rm_precision_select(c->cfg->model_precision, c->rank == 0, &c->precision));
}

static int open_store(dry_ctx *c)
{
    if (rm_store_open_for_run(&c->store, c->cfg, c->comm) != 0) return -1;
    c->store_open = 1;
    return 0;
}

static void dry_free(dry_ctx *c)
{
    if (c->deal_made) rm_member_deal_free(&c->deal);
    if (c->store_open) rm_store_close(&c->store);
}

/* ---- <output>: what the verb would find there, tested without writing ---- */

/* The verb creates <output> (rm_mkdir_p) and needs to write in it: an existing one must be
 * a writable directory, a missing one must be creatable (its nearest existing ancestor
 * writable). Rank 0. */
static int check_output_dir(dry_ctx *c, int *exists)
{
    const char *out = c->cfg->output;
    struct stat st;
    *exists = stat(out, &st) == 0;
    if (*exists) {
        if (!S_ISDIR(st.st_mode)) return rm_errorf("output %s exists and is not a directory", out);
        if (access(out, W_OK) != 0) return rm_errorf("output directory %s is not writable", out);
        return 0;
    }
    char parent[1024];
    snprintf(parent, sizeof parent, "%s", out);
    for (;;) {
        char *slash = strrchr(parent, '/');
        while (slash && slash > parent && slash[1] == '\0') { /* trailing slashes */
            *slash = '\0';
            slash = strrchr(parent, '/');
        }
        if (!slash) snprintf(parent, sizeof parent, ".");
        else if (slash == parent) parent[1] = '\0';
        else *slash = '\0';
        if (stat(parent, &st) == 0) break;
        if (strcmp(parent, ".") == 0 || strcmp(parent, "/") == 0) break;
    }
    if (!S_ISDIR(st.st_mode) || access(parent, W_OK) != 0)
        return rm_errorf("cannot create output directory %s: %s is not a writable directory", out, parent);
    return 0;
}

/* <output>/<name>, as the verbs join it, into buf. */
static const char *out_path(const dry_ctx *c, const char *name, char buf[1200])
{
    char *path = rm_path_join(c->cfg->output, name);
    snprintf(buf, 1200, "%s", path ? path : name);
    free(path);
    return buf;
}

static int exists_in_output(const dry_ctx *c, const char *name)
{
    char buf[1200];
    return rm_path_exists(out_path(c, name, buf));
}

/* rmens train's rule (prepare_output in src/ensemble/ensemble.c) for members.h5 and
 * checkpoint.h5. *complete: --resume of a finished run (train does nothing). Rank 0. */
static int check_train_output(dry_ctx *c, int *complete)
{
    const rm_settings *cfg = c->cfg;
    int force = c->args->force, resume = c->args->resume, dir_exists = 0;
    *complete = 0;
    if (check_output_dir(c, &dir_exists) != 0) return -1;
    int members = exists_in_output(c, "members.h5"), checkpoint = exists_in_output(c, "checkpoint.h5");
    if (!dir_exists) note_output(c, "%s does not exist: it would be created", cfg->output);
    if (resume && members && !force) {
        *complete = 1;
        note_output(c, "members.h5   exists and --resume: complete already, training would do nothing");
        return 0;
    }
    if (resume && checkpoint && !force) {
        note_output(c, "members.h5   would be written; training resumes from checkpoint.h5 (--resume; its "
                       "fingerprint is checked at the run)");
        return 0;
    }
    char buf[1200];
    if (!force && members) return rm_errorf("%s already exists (use --force to overwrite)", out_path(c, "members.h5", buf));
    if (!force && checkpoint)
        return rm_errorf("%s exists from an interrupted run: continue it with --resume, or start over with --force",
                         out_path(c, "checkpoint.h5", buf));
    if (members) note_output(c, "members.h5   exists: overwritten (--force)");
    else note_output(c, "members.h5   would be written (absent now)");
    note_output(c, "checkpoint.h5 %s", checkpoint ? "exists: discarded, training starts afresh (--force)"
                                                  : "written at checkpoints and signals, removed at the end");
    note_output(c, "log.jsonl    %s", resume ? "appended" : exists_in_output(c, "log.jsonl") ? "exists: replaced" : "new");
    return 0;
}

/* rmens eval's rule (eval_paths_create in src/eval/eval.c) for results.h5 / results.json;
 * `force` as the verb passes it (run: --force or --resume). Rank 0. */
static int check_results_output(dry_ctx *c, int force, int members_from_training)
{
    const rm_settings *cfg = c->cfg;
    if (!cfg->output[0]) return rm_errorf("output is empty: set the run directory holding members.h5");
    if (!cfg->store[0]) return rm_errorf("store is empty: set the embedding store to evaluate on");
    if (!members_from_training) {
        int dir_exists = 0;
        char buf[1200];
        if (!exists_in_output(c, "members.h5"))
            return rm_errorf("%s does not exist: run `rmens train` first", out_path(c, "members.h5", buf));
        if (check_output_dir(c, &dir_exists) != 0) return -1;
        note_output(c, "members.h5   read");
    }
    int results = exists_in_output(c, "results.h5") || exists_in_output(c, "results.json");
    if (!force && results) return rm_errorf("results already exist in %s (use --force to overwrite)", cfg->output);
    note_output(c, "results.h5, results.json %s%s", results ? "exist: overwritten" : "would be written",
                results ? (c->args->force ? " (--force)" : " (--resume)") : "");
    return 0;
}

/* rmens active's rule (prepare_output in src/active/active.c). *complete: --resume of a
 * finished run. Rank 0. */
static int check_active_output(dry_ctx *c, int *complete)
{
    const rm_settings *cfg = c->cfg;
    int force = c->args->force, resume = c->args->resume, dir_exists = 0;
    int output = exists_in_output(c, "active.h5"), state = exists_in_output(c, "active_state.h5");
    int checkpoint = exists_in_output(c, "checkpoint.h5");
    *complete = 0;
    if (resume && !force && output) {
        *complete = 1;
        note_output(c, "active.h5    exists and --resume: complete already, the run would do nothing");
        return 0;
    }
    if (resume && !force && state) {
        note_output(c, "active.h5    would be written; the run continues after the last round in active_state.h5 "
                       "(--resume)");
        return check_output_dir(c, &dir_exists);
    }
    char buf[1200];
    if (!force && output) return rm_errorf("%s already exists (use --force to overwrite)", out_path(c, "active.h5", buf));
    if (!force && !resume && (state || checkpoint))
        return rm_errorf("%s exists from an interrupted run: continue it with --resume, or start over with --force",
                         out_path(c, state ? "active_state.h5" : "checkpoint.h5", buf));
    if (check_output_dir(c, &dir_exists) != 0) return -1;
    if (!dir_exists) note_output(c, "%s does not exist: it would be created", cfg->output);
    if (resume && checkpoint && !force)
        note_output(c, "active.h5    would be written; round 0 resumes from checkpoint.h5 (--resume)");
    else
        note_output(c, "active.h5, active.json %s", output ? "exist: overwritten (--force)" : "would be written");
    note_output(c, "members.h5   %s (the last round's members)", exists_in_output(c, "members.h5") ? "exists: replaced" : "would be written");
    note_output(c, "active_state.h5, active_members_<r>.h5, checkpoint.h5: written between rounds, removed at the end");
    note_output(c, "log.jsonl    %s", resume ? "appended" : "new");
    return 0;
}

/* ---- training: rank layout, views, deal ---- */

/* rmens train's checks before it reads (check_layout in src/ensemble/ensemble.c): ranks,
 * family settings, ensemble.kind, store and output given. */
static int check_train_layout(dry_ctx *c)
{
    const rm_settings *cfg = c->cfg;
    long long S = cfg->parallel_ranks_per_member;
    if (c->size % S != 0)
        return rm_errorf("parallel.ranks_per_member = %lld does not divide the %d ranks of the job", S, c->size);
    long long groups = c->size / S;
    if (rm_settings_shared_trunk(cfg) && groups > 1 && c->rank == 0)
        rm_warnf("ensemble.kind = \"shared_trunk\" is one unit that group 0 trains: %lld group(s) (%lld ranks) will "
                 "stay idle during training (parallel.ranks_per_member = %d would train it data-parallel on all)",
                 groups - 1, (groups - 1) * S, c->size);
    else if (groups > cfg->ensemble_members && c->rank == 0)
        rm_warnf("%lld member groups for %lld members: %lld group(s) (%lld ranks) will stay idle during training", groups,
                 cfg->ensemble_members, groups - cfg->ensemble_members, (groups - cfg->ensemble_members) * S);
    if (rm_family_check_settings(cfg, c->rank == 0) != 0 || rm_ensemble_kind_check(cfg) != 0) return -1;
    if (!cfg->store[0]) return rm_errorf("no store given (set 'store' in the config or --set store=PATH)");
    if (!cfg->output[0]) return rm_errorf("no output directory given (set 'output' or --set output=DIR)");
    return 0;
}

/* The members' views as rm_view_plan_resolve gives them, without computing model.inputs'
 * moments: the composite's views are checked and its width found (collective). */
static int resolve_views(dry_ctx *c)
{
    const rm_settings *cfg = c->cfg;
    if (cfg->model_n_inputs == 0) return rm_all_ok(c->comm, rm_view_plan_resolve(&c->vp, cfg, &c->store));
    memset(&c->vp, 0, sizeof c->vp);
    int rc = cfg->ensemble_n_views > 0 ? rm_errorf("model.inputs and ensemble.views both set: a member's input is either "
                                                   "one view (ensemble.views) or the composite of model.inputs")
                                       : 0;
    if (rm_all_ok(c->comm, rc) != 0) return -1;
    size_t dim = 0;
    if (rm_store_inputs_moments(&c->store, cfg->model_inputs, cfg->model_n_inputs, NULL, NULL, &dim) != 0) return -1;
    if (rm_all_ok(c->comm, rm_store_inputs_name(cfg->model_inputs, cfg->model_n_inputs, c->inputs_name,
                                                sizeof c->inputs_name)) != 0)
        return -1;
    c->vp.n = 1, c->vp.index[0] = -1, c->vp.dim[0] = dim;
    return 0;
}

static int make_deal(dry_ctx *c)
{
    if (rm_member_deal_create(&c->deal, c->cfg, c->comm, (int)c->store.dim) != 0) return -1;
    c->deal_made = 1;
    rm_member_deal_set_views(&c->deal, c->cfg, &c->vp);
    return 0;
}

static const char *view_name(const dry_ctx *c, int i)
{
    return c->vp.index[i] < 0 ? c->inputs_name : c->store.views[c->vp.index[i]].name;
}

/* ---- the plan's sections ---- */

static void print_header(const dry_ctx *c)
{
    printf("rmens %s --dry-run: %s (nothing computed, nothing written)\n", c->verb->name,
           c->args->config_path ? c->args->config_path : "");
}

static void print_store(const dry_ctx *c)
{
    const rm_store *s = &c->store;
    const rm_split_info *tr = &s->split[RM_SPLIT_TRAIN], *te = &s->split[RM_SPLIT_TEST];
    plan_line("store", "%s", s->path);
    if (s->pairs_presented)
        plan_line("", "uuid %s; human-labelled pairs (pairs.source = \"store\"): %zu train, %zu test, read as prompts "
                      "of K = 2 (chosen, rejected)", s->uuid, tr->n_prompts, te->n_prompts);
    else
        plan_line("", "uuid %s; golden rewards%s", s->uuid, s->has_pairs ? " (the store's pairs unused: pairs.source = \"golden\")" : "");
    plan_line("", "train N %zu x K %zu, test N %zu x K %zu, D %zu (%s)%s", tr->n_prompts, tr->n_responses, te->n_prompts,
              te->n_responses, s->dim, rm_dtype_name(tr->dtype), s->n_bench ? "" : "; no bench");
    if (s->n_bench) plan_line("", "bench %zu pairs", s->n_bench);
    char views[1024] = "";
    size_t used = 0;
    for (int v = 0; v < s->n_views && used < sizeof views; v++)
        used += (size_t)snprintf(views + used, sizeof views - used, "%s%s (D %zu)", v ? ", " : "", s->views[v].name,
                                 rm_store_view_dim(s, v));
    plan_line("", "views: %s", views);
}

static void print_job(const dry_ctx *c)
{
    const rm_precision_info *p = &c->precision;
    if (strcmp(p->requested, "auto") == 0)
        plan_line("precision", "auto -> %s (%s); kernel %s", p->precision, p->reason, p->kernel);
    else
        plan_line("precision", "%s (kernel %s)", p->precision, p->kernel);
    plan_line("", "CPU %s", p->cpu);
    char threads[32];
    if (c->threads_min == c->threads_max) snprintf(threads, sizeof threads, "%d", c->threads_min);
    else snprintf(threads, sizeof threads, "%d..%d", c->threads_min, c->threads_max);
    plan_line("ranks", "%d rank(s) on %d node(s) (at most %d per node), %s BLAS thread(s) per rank%s", c->size, c->nodes,
              c->node_ranks_max, threads, c->cfg->parallel_blas_threads > 0 ? " (parallel.blas_threads)" : "");
}

/* Members, the views they read, and which ranks train which. */
static void print_members(const dry_ctx *c)
{
    const rm_settings *cfg = c->cfg;
    const rm_member_deal *d = &c->deal;
    char arch[256];
    size_t used = (size_t)snprintf(arch, sizeof arch, "D");
    for (int l = 0; l < cfg->model_n_hidden && used < sizeof arch; l++)
        used += (size_t)snprintf(arch + used, sizeof arch - used, " -> %d", cfg->model_hidden[l]);
    if (used < sizeof arch) snprintf(arch + used, sizeof arch - used, " -> 1");
    plan_line("members", "%d (%s%s, %s; ensemble.data %s), architecture %s", d->n_members,
              cfg->ensemble_n_families ? "families dealt round-robin" : cfg->model_family,
              d->shared_trunk ? ", one shared trunk" : "", cfg->model_objective, cfg->ensemble_data, arch);
    for (int i = 0; i < c->vp.n; i++) {
        int count = 0;
        for (int m = i; m < d->n_members; m += c->vp.n) count++;
        plan_line("", "view %s (D %zu): %d member(s), %zu parameters each%s", view_name(c, i),
                  c->vp.dim[i], count, d->member_params[i < d->n_members ? i : 0],
                  c->vp.index[i] < 0 ? " (model.inputs: moments of the train split computed at the run)" : "");
    }
    const int S = (int)cfg->parallel_ranks_per_member, G = d->n_groups;
    plan_line("deal", "%d group(s) of %d rank(s) (parallel.ranks_per_member); group g trains members g, g + %d, ...%s", G, S,
              G, d->shared_trunk ? " (shared trunk: group 0 trains the unit)" : "");
    const int shown = G <= 8 ? G : 6;
    for (int g = 0; g < G; g++) {
        if (g == shown) {
            plan_line("", "... %d more group(s)", G - shown);
            break;
        }
        char line[512];
        size_t n = (size_t)snprintf(line, sizeof line, "group %d, rank%s %d%s", g, S > 1 ? "s" : "", g * S, "");
        if (S > 1) n += (size_t)snprintf(line + n, sizeof line - n, "-%d", g * S + S - 1);
        n += (size_t)snprintf(line + n, sizeof line - n, ":");
        int listed = 0, total = 0;
        for (int m = 0; m < d->n_members; m++) {
            if (rm_member_deal_owner(d, m) != g * S) continue;
            total++;
            if (listed < 12 && n < sizeof line) {
                n += (size_t)snprintf(line + n, sizeof line - n, " %d", m);
                listed++;
            }
        }
        if (total == 0 && n < sizeof line) snprintf(line + n, sizeof line - n, " idle");
        else if (total > listed && n < sizeof line) snprintf(line + n, sizeof line - n, " ... (%d members)", total);
        plan_line("", "%s", line);
    }
}

static void print_outputs(const dry_ctx *c)
{
    plan_line("output", "%s (no lock taken, nothing created: dry run)", c->cfg->output);
    for (int i = 0; i < c->n_output_notes; i++) plan_line("", "%s", c->output_note[i]);
}

/* ---- memory ---- */

/* One rank's training: the pairs every rank builds, its group's members kept until
 * members.h5 is written, the member in training (gradient, Adam's two moments, the best
 * weights: four more copies of its parameters) and a minibatch's activations and their
 * gradients (both items of a pair). Per node: one shared window of the train split per
 * view (embeddings and rewards). */
typedef struct {
    double window_node, pairs, members, state, minibatch, rank_total;
    size_t n_pairs;
} train_memory;

static void estimate_train(const dry_ctx *c, size_t n_pairs, train_memory *m)
{
    const rm_settings *cfg = c->cfg;
    const rm_split_info *tr = &c->store.split[RM_SPLIT_TRAIN];
    const double items = (double)tr->n_prompts * (double)tr->n_responses;
    memset(m, 0, sizeof *m);
    for (int i = 0; i < c->vp.n; i++) m->window_node += items * ((double)c->vp.dim[i] + 1) * 4;
    m->n_pairs = n_pairs;
    m->pairs = (double)n_pairs * 3 * sizeof(uint32_t) * (cfg->pairs_both_orders ? 2 : 1);
    double biggest = 0, widest = 0, mine = 0;
    for (int k = 0; k < c->deal.n_members; k++) {
        double p = (double)c->deal.member_params[k];
        if (p > biggest) biggest = p;
        if (c->deal.slots[k].trains) mine += p;
    }
    for (int i = 0; i < c->vp.n; i++) widest = (double)c->vp.dim[i] > widest ? (double)c->vp.dim[i] : widest;
    if (c->deal.shared_trunk) biggest = mine; /* the unit of all heads trains at once */
    m->members = mine * 4;
    m->state = biggest * 4 * 4;
    double width = widest;
    for (int l = 0; l < cfg->model_n_hidden; l++) width += cfg->model_hidden[l];
    m->minibatch = (double)cfg->train_batch_size * 2 * width * 4 * 2;
    m->rank_total = m->pairs + m->members + m->state + m->minibatch;
}

/* One rank's scoring of the test split (rm_eval_score): every member on every rank, and
 * the buffers of one piece of eval.chunk_prompts prompts (rounded up to blocks of 8):
 * embeddings of the widest view, golden rewards, every member's scores, the bias views. */
typedef struct {
    double members, piece, rank_total, predictions_disk;
    size_t chunk, pieces;
} eval_memory;

static void estimate_eval(const dry_ctx *c, int E, double member_bytes, size_t max_dim, size_t bias_dim, int bias_views,
                          eval_memory *m)
{
    const rm_settings *cfg = c->cfg;
    const rm_split_info *te = &c->store.split[RM_SPLIT_TEST];
    memset(m, 0, sizeof *m);
    size_t blocks = ((size_t)cfg->eval_chunk_prompts + RM_EVAL_BLOCK_PROMPTS - 1) / RM_EVAL_BLOCK_PROMPTS;
    m->chunk = blocks * RM_EVAL_BLOCK_PROMPTS;
    size_t n_blocks = (te->n_prompts + RM_EVAL_BLOCK_PROMPTS - 1) / RM_EVAL_BLOCK_PROMPTS;
    size_t my_blocks = (n_blocks + (size_t)c->size - 1) / (size_t)c->size;
    size_t my_prompts = my_blocks * RM_EVAL_BLOCK_PROMPTS < te->n_prompts ? my_blocks * RM_EVAL_BLOCK_PROMPTS : te->n_prompts;
    m->pieces = (my_prompts + m->chunk - 1) / m->chunk;
    double rows = (double)m->chunk * (double)te->n_responses;
    m->members = member_bytes;
    m->piece = rows * ((double)max_dim + 1 + (double)E) * 4;
    if (bias_views > 0) m->piece += rows * ((double)bias_dim + (double)bias_views) * 4;
    m->rank_total = m->members + m->piece;
    if (cfg->eval_save_predictions) m->predictions_disk = (double)E * (double)te->n_prompts * (double)te->n_responses * 4;
}

static double available_memory(void)
{
    long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (double)pages * (double)page : 0;
}

/* "per node X (N ranks)" and a warning when the node's estimate passes what is free here. */
static void print_node_total(const dry_ctx *c, double node_bytes)
{
    char a[32], b[32];
    double free_here = available_memory();
    plan_line("", "node total ~ %s for %d rank(s)%s%s%s", human(node_bytes, a), c->node_ranks_max,
              free_here > 0 ? " (available on this node now: " : "", free_here > 0 ? human(free_here, b) : "",
              free_here > 0 ? ")" : "");
    if (free_here > 0 && node_bytes > free_here)
        rm_warnf("the estimated memory per node (%s) is more than this node has available (%s)", human(node_bytes, a),
                 human(free_here, b));
}

static void print_train_memory(const dry_ctx *c, const train_memory *m)
{
    const rm_split_info *tr = &c->store.split[RM_SPLIT_TRAIN];
    char a[32], b[32], d[32], e[32], f[32], g[32];
    plan_line("memory", "train split: one shared window per node of %s (%zu x %zu x (D + 1 reward) x 4 B%s)",
              human(m->window_node, a), tr->n_prompts, tr->n_responses, c->vp.n > 1 ? ", one per view" : "");
    plan_line("", "training, per rank ~ %s: pairs %s (%zu), its members %s, member in training %s, minibatch %s",
              human(m->rank_total, b), human(m->pairs, d), m->n_pairs, human(m->members, e), human(m->state, f),
              human(m->minibatch, g));
}

static void print_eval_memory(const eval_memory *m, int first)
{
    char a[32], b[32], d[32], e[32];
    plan_line(first ? "memory" : "", "scoring, per rank ~ %s: members %s, a test piece of %zu prompts %s (eval.chunk_prompts; "
              "%zu piece(s) per rank)", human(m->rank_total, a), human(m->members, b), m->chunk, human(m->piece, d), m->pieces);
    if (m->predictions_disk > 0)
        plan_line("", "results.h5 /predictions [E, N, K]: %s on disk (eval.save_predictions)", human(m->predictions_disk, e));
}

/* The pairs every rank builds for training: the stored ones (pairs.count = 0: all), or
 * pairs.count drawn on the golden rewards. */
static size_t train_pairs(const dry_ctx *c)
{
    if (!c->store.pairs_presented) return (size_t)c->cfg->pairs_count;
    size_t stored = c->store.split[RM_SPLIT_TRAIN].n_prompts;
    return c->cfg->pairs_count > 0 && (size_t)c->cfg->pairs_count < stored ? (size_t)c->cfg->pairs_count : stored;
}

static void print_done(void)
{
    printf("dry run: everything checks; nothing was computed or written\n");
    fflush(stdout);
}

/* ---- the verbs ---- */

/* Train's checks in train's order: layout, <output>, precision, store, views, deal. */
static int train_checks(dry_ctx *c, int *complete)
{
    int rc = rm_all_ok(c->comm, check_train_layout(c));
    if (rc == 0) {
        rc = c->rank == 0 ? check_train_output(c, complete) : 0;
        MPI_Bcast(complete, 1, MPI_INT, 0, c->comm);
        rc = rm_all_ok(c->comm, rc);
    }
    if (rc == 0) rc = choose_precision(c);
    if (rc == 0) rc = open_store(c);
    if (rc == 0) rc = resolve_views(c);
    if (rc == 0) rc = make_deal(c);
    return rc;
}

int cli_dry_run_train(const cli_verb *verb, const rm_settings *cfg, const cli_config_args *args, MPI_Comm comm)
{
    dry_ctx c;
    memset(&c, 0, sizeof c);
    c.cfg = cfg, c.args = args, c.verb = verb, c.comm = comm;
    int complete = 0;
    int rc = job_start(&c);
    if (rc == 0) rc = train_checks(&c, &complete);
    if (rc == 0 && c.rank == 0) {
        train_memory tm;
        estimate_train(&c, train_pairs(&c), &tm);
        print_header(&c);
        print_store(&c);
        print_job(&c);
        print_members(&c);
        print_train_memory(&c, &tm);
        print_node_total(&c, tm.window_node + tm.rank_total * c.node_ranks_max);
        print_outputs(&c);
        print_done();
    }
    dry_free(&c);
    return rc;
}

/* The figures' plan for E members on the test split, with eval.bias_features' views;
 * eval's warnings about what the split or the ensemble cannot honour (rank 0). */
static int eval_plan_checks(dry_ctx *c, int E, rm_eval_plan *plan)
{
    const rm_settings *cfg = c->cfg;
    size_t K = c->store.split[RM_SPLIT_TEST].n_responses;
    if (rm_all_ok(c->comm, rm_eval_plan_create(plan, cfg, E, K)) != 0) return -1;
    if (rm_all_ok(c->comm, rm_eval_plan_bias(plan, cfg, &c->store)) != 0) return -1;
    if (c->rank == 0) {
        for (int i = 0; i < cfg->eval_n_bon; i++)
            if ((size_t)cfg->eval_bon_n[i] > K) rm_warnf("eval.bon_n: n = %lld skipped (K_test = %zu)", cfg->eval_bon_n[i], K);
        for (int i = 0; i < cfg->eval_n_ablation; i++)
            if (cfg->eval_ablation_sizes[i] > E)
                rm_warnf("eval.ablation_sizes: k = %lld skipped (%d members)", cfg->eval_ablation_sizes[i], E);
    }
    return 0;
}

static void print_eval_plan(const dry_ctx *c, int E, const rm_eval_plan *plan, int warm)
{
    const rm_settings *cfg = c->cfg;
    char bon[256] = "";
    size_t n = 0;
    size_t K = c->store.split[RM_SPLIT_TEST].n_responses;
    for (int i = 0; i < cfg->eval_n_bon && n < sizeof bon; i++)
        if ((size_t)cfg->eval_bon_n[i] <= K) n += (size_t)snprintf(bon + n, sizeof bon - n, "%s%lld", n ? "," : "", cfg->eval_bon_n[i]);
    plan_line("eval", "%d member(s) on %zu test %s; best-of-n [%s], %lld ablation subsets per size%s%s%s", E,
              c->store.split[RM_SPLIT_TEST].n_prompts, c->store.pairs_presented ? "pairs" : "prompts", bon,
              cfg->eval_ablation_subsets, cfg->eval_calibration_pairs > 0 && !c->store.pairs_presented ? ", calibration pairs" : "",
              plan->bias.n_views > 0 ? ", bias features" : "", warm ? ", warm (weight-averaged) aggregator" : "");
}

int cli_dry_run_eval(const cli_verb *verb, const rm_settings *cfg, const cli_config_args *args, MPI_Comm comm)
{
    dry_ctx c;
    memset(&c, 0, sizeof c);
    c.cfg = cfg, c.args = args, c.verb = verb, c.comm = comm;
    rm_ensemble e;
    memset(&e, 0, sizeof e);
    rm_eval_plan plan;
    memset(&plan, 0, sizeof plan);
    int loaded = 0, warm = 0, *view_of_member = NULL;
    char *members = rm_path_join(cfg->output, "members.h5");
    int rc = job_start(&c);
    if (rc == 0) rc = choose_precision(&c);
    if (rc == 0) rc = rm_all_ok(comm, members ? 0 : -1);
    if (rc == 0) rc = rm_all_ok(comm, c.rank == 0 ? check_results_output(&c, args->force, 0) : 0);
    if (rc == 0) rc = open_store(&c);
    if (rc == 0) rc = rm_ensemble_load(&e, members, comm, (int)c.store.dim);
    if (rc == 0) loaded = 1;
    if (rc == 0) rc = rm_all_ok(comm, rm_ensemble_inputs_prepare(&e, &c.store));
    if (rc == 0) {
        view_of_member = rm_calloc((size_t)e.n_members + 1, sizeof(int), "member views");
        rc = view_of_member ? rm_ensemble_member_views(&e, &c.store, view_of_member) : -1;
        rc = rm_all_ok(comm, rc);
    }
    int uuid_differs = rc == 0 && strcmp(e.store_uuid, c.store.uuid) != 0;
    if (uuid_differs && c.rank == 0)
        rm_warnf("members.h5 was trained on store %s, evaluating on store %s", e.store_uuid, c.store.uuid);
    if (rc == 0) rc = rm_all_ok(comm, rm_warm_decide(cfg, &e, &warm));
    if (rc == 0) rc = eval_plan_checks(&c, e.n_members, &plan);
    if (rc == 0 && c.store.pairs_presented) rc = rm_all_ok(comm, c.rank == 0 ? rm_eval_check_pairs_source(cfg, members) : 0);
    if (rc == 0 && c.rank == 0) {
        double member_bytes = 0;
        size_t max_dim = 0;
        for (int m = 0; m < e.n_members; m++) {
            member_bytes += (double)rm_member_family(&e.members[m])->n_params(&e.members[m]) * 4;
            size_t d = rm_store_view_dim(&c.store, view_of_member[m]);
            if (d > max_dim) max_dim = d;
        }
        eval_memory em;
        estimate_eval(&c, e.n_members, member_bytes, max_dim, plan.bias.n_views ? rm_eval_bias_max_dim(&plan) : 0,
                      plan.bias.n_views, &em);
        print_header(&c);
        print_store(&c);
        print_job(&c);
        plan_line("members", "%s: %d member(s)%s, dim %d, trained on store %s%s", members, e.n_members,
                  e.shared_trunk ? " (shared trunk)" : "", e.dim, e.store_uuid,
                  uuid_differs ? " (NOT this store: see the warning)" : " (this store)");
        if (e.n_inputs > 0) plan_line("", "model.inputs: %s with the moments members.h5 recorded", c.store.views[view_of_member[0]].name);
        print_eval_plan(&c, e.n_members, &plan, warm);
        plan_line("deal", "test prompts in blocks of %d dealt contiguously over the %d rank(s); figures identical for any count",
                  RM_EVAL_BLOCK_PROMPTS, c.size);
        print_eval_memory(&em, 1);
        print_node_total(&c, em.rank_total * c.node_ranks_max);
        print_outputs(&c);
        print_done();
    }
    free(view_of_member);
    rm_eval_plan_free(&plan);
    if (loaded) rm_ensemble_free(&e);
    free(members);
    dry_free(&c);
    return rc;
}

int cli_dry_run_run(const cli_verb *verb, const rm_settings *cfg, const cli_config_args *args, MPI_Comm comm)
{
    dry_ctx c;
    memset(&c, 0, sizeof c);
    c.cfg = cfg, c.args = args, c.verb = verb, c.comm = comm;
    rm_eval_plan plan;
    memset(&plan, 0, sizeof plan);
    int complete = 0;
    int rc = job_start(&c);
    if (rc == 0) rc = train_checks(&c, &complete);
    /* then eval, with --force or --resume letting it overwrite results (cmd_run.c) */
    if (rc == 0) rc = rm_all_ok(comm, c.rank == 0 ? check_results_output(&c, args->force || args->resume, 1) : 0);
    if (rc == 0) rc = eval_plan_checks(&c, c.deal.n_members, &plan);
    if (rc == 0 && c.rank == 0) {
        train_memory tm;
        estimate_train(&c, train_pairs(&c), &tm);
        eval_memory em;
        double member_bytes = 0;
        size_t max_dim = 0;
        for (int m = 0; m < c.deal.n_members; m++) member_bytes += (double)c.deal.member_params[m] * 4;
        for (int i = 0; i < c.vp.n; i++) max_dim = c.vp.dim[i] > max_dim ? c.vp.dim[i] : max_dim;
        estimate_eval(&c, c.deal.n_members, member_bytes, max_dim, plan.bias.n_views ? rm_eval_bias_max_dim(&plan) : 0,
                      plan.bias.n_views, &em);
        print_header(&c);
        print_store(&c);
        print_job(&c);
        print_members(&c);
        print_eval_plan(&c, c.deal.n_members, &plan, 0);
        print_train_memory(&c, &tm);
        print_eval_memory(&em, 0);
        /* the window is freed before scoring: the larger phase counts */
        double train_node = tm.window_node + tm.rank_total * c.node_ranks_max, eval_node = em.rank_total * c.node_ranks_max;
        print_node_total(&c, train_node > eval_node ? train_node : eval_node);
        print_outputs(&c);
        print_done();
    }
    rm_eval_plan_free(&plan);
    dry_free(&c);
    return rc;
}

int cli_dry_run_active(const cli_verb *verb, const rm_settings *cfg, const cli_config_args *args, MPI_Comm comm)
{
    dry_ctx c;
    memset(&c, 0, sizeof c);
    c.cfg = cfg, c.args = args, c.verb = verb, c.comm = comm;
    rm_eval_plan plan;
    memset(&plan, 0, sizeof plan);
    int complete = 0;
    int rc = job_start(&c);
    /* rm_active_run's order: settings and job shape, the store and its pool, <output> */
    if (rc == 0) rc = rm_all_ok(comm, rm_active_check(cfg, c.size, NULL));
    if (rc == 0) rc = open_store(&c);
    if (rc == 0) rc = rm_all_ok(comm, rm_active_check(cfg, c.size, &c.store));
    if (rc == 0) {
        rc = c.rank == 0 ? check_active_output(&c, &complete) : 0;
        rc = rm_all_ok(comm, rc);
    }
    if (rc == 0) rc = choose_precision(&c);
    if (rc == 0) rc = resolve_views(&c); /* the default view: ensemble.views and model.inputs are refused above */
    if (rc == 0) rc = make_deal(&c);
    if (rc == 0) rc = eval_plan_checks(&c, c.deal.n_members, &plan);
    if (rc == 0 && c.rank == 0) {
        train_memory tm;
        estimate_train(&c, (size_t)cfg->active_initial + (size_t)(cfg->active_rounds * cfg->active_batch), &tm);
        /* the pool on every rank (its pairs), and this rank's share scored by every member
         * (dopt, past_dopt: the last hidden layer's features too) */
        const int E = c.deal.n_members;
        size_t local = ((size_t)cfg->active_pool + (size_t)c.size - 1) / (size_t)c.size;
        int H = cfg->model_n_hidden > 0 ? cfg->model_hidden[cfg->model_n_hidden - 1] : (int)c.store.dim;
        int dopt = strcmp(cfg->active_strategy, "dopt") == 0 || strcmp(cfg->active_strategy, "past_dopt") == 0;
        double pool = (double)cfg->active_pool * 3 * sizeof(uint32_t) + (double)E * (double)local * 4 * (1 + (dopt ? H : 0));
        double member_bytes = 0;
        for (int m = 0; m < E; m++) member_bytes += (double)c.deal.member_params[m] * 4;
        eval_memory em;
        estimate_eval(&c, E, member_bytes, c.store.dim, plan.bias.n_views ? rm_eval_bias_max_dim(&plan) : 0,
                      plan.bias.n_views, &em);
        print_header(&c);
        print_store(&c);
        print_job(&c);
        plan_line("active", "strategy %s: pool %lld pairs, %lld labelled first, %lld round(s) of %lld (%lld labels at the end)%s",
                  cfg->active_strategy, cfg->active_pool, cfg->active_initial, cfg->active_rounds, cfg->active_batch,
                  cfg->active_initial + cfg->active_rounds * cfg->active_batch,
                  cfg->active_warm_start ? "; warm start" : "");
        print_members(&c);
        print_eval_plan(&c, E, &plan, 0);
        print_train_memory(&c, &tm);
        print_eval_memory(&em, 0);
        char a[32];
        plan_line("", "pool, per rank ~ %s (its pairs; %zu scored by %d members%s)", human(pool, a), local, E,
                  dopt ? " with their last hidden features" : "");
        double rank_peak = tm.rank_total > em.rank_total ? tm.rank_total : em.rank_total;
        print_node_total(&c, tm.window_node + (rank_peak + pool + member_bytes) * c.node_ranks_max);
        print_outputs(&c);
        print_done();
    }
    rm_eval_plan_free(&plan);
    dry_free(&c);
    return rc;
}
