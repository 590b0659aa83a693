/* rmens select: hyperparameters by prompt-grouped k-fold cross-validation on the train
 * split (see include/rmens/eval/select.h). */
#include "rmens/eval/select.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rmens/base/common.h"
#include "rmens/base/parallel.h"
#include "rmens/base/progress.h"
#include "rmens/ensemble/ensemble.h"
#include "rmens/ensemble/ensemble_views.h"
#include "rmens/eval/eval_output.h"
#include "rmens/kernels/precision.h"
#include "rmens/kernels/thread_pool.h"
#include "rmens/member/annotator.h"
#include "rmens/member/family.h"
#include "rmens/member/member_scoring.h"
#include "rmens/member/pairs.h"
#include "rmens/store/store.h"
#include "rmens/store/store_pairs.h"

#define MAX_VALUES 32

/* One axis of the grid: a key and its values (libconfig syntax), parsed from
 * "key: v1 | v2 | ...". */
typedef struct {
    char key[RM_SELECT_AXIS_MAX];
    int n;
    char values[MAX_VALUES][RM_SELECT_AXIS_MAX];
} grid_axis;

typedef struct {
    int n_axes, n_points, folds, members;
    grid_axis axes[RM_MAX_SELECT_AXES];
    rm_settings *settings; /* [n_points] each point's full settings */
    int *view;             /* [n_points] the store view its members read */
    double *scores;        /* [n_points * folds] */
} grid;

static void trim(char *s)
{
    size_t n = strlen(s), a = 0;
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    while (isspace((unsigned char)s[a])) a++;
    memmove(s, s + a, n - a + 1);
}

/* Keys a grid may not vary: what the folds, the data or the output depend on. */
static int key_allowed(const char *key)
{
    /* model.precision is the process's, set once; members and parallel.* change nothing
     * a fold scores (select.members trains each fold): every point would tie */
    static const char *fixed[] = {"store", "output", "seed", "select.grid", "select.folds", "select.members",
                                  "ensemble.views", "ensemble.kind", "ensemble.members", "model.precision",
                                  "parallel.ranks_per_member", "parallel.blas_threads", "parallel.read_chunk_mb"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(key, fixed[i]) == 0) return 0;
    return 1;
}

static int parse_axis(const char *text, int index, grid_axis *ax)
{
    char buf[RM_SELECT_AXIS_MAX];
    snprintf(buf, sizeof buf, "%s", text);
    char *colon = strchr(buf, ':');
    if (!colon) return rm_errorf("select.grid entry %d \"%s\": expected \"key: value | value | ...\"", index, text);
    *colon = '\0';
    snprintf(ax->key, sizeof ax->key, "%s", buf);
    trim(ax->key);
    if (!ax->key[0]) return rm_errorf("select.grid entry %d \"%s\": no key before ':'", index, text);
    if (!key_allowed(ax->key))
        return rm_errorf("select.grid entry %d: '%s' cannot vary in a cross-validation (the folds, data, output or "
                         "the process depend on it, or no fold would see it)", index, ax->key);
    ax->n = 0;
    char *save = NULL;
    for (char *v = strtok_r(colon + 1, "|", &save); v; v = strtok_r(NULL, "|", &save)) {
        if (ax->n == MAX_VALUES) return rm_errorf("select.grid entry %d: more than %d values", index, MAX_VALUES);
        snprintf(ax->values[ax->n], sizeof ax->values[0], "%s", v);
        trim(ax->values[ax->n]);
        if (!ax->values[ax->n][0]) return rm_errorf("select.grid entry %d (%s): an empty value", index, ax->key);
        ax->n++;
    }
    if (ax->n == 0) return rm_errorf("select.grid entry %d (%s): no values", index, ax->key);
    return 0;
}

/* Value index of axis a at point p (the first axis varies slowest). */
static int value_of(const grid *g, int p, int a)
{
    int stride = 1;
    for (int b = g->n_axes - 1; b > a; b--) stride *= g->axes[b].n;
    return (p / stride) % g->axes[a].n;
}

static void point_override(const grid *g, int p, int a, char *out, size_t n)
{
    snprintf(out, n, "%s=%s", g->axes[a].key, g->axes[a].values[value_of(g, p, a)]);
}

/* Every point's settings: the run's file and --set, then the point's values. */
static int grid_create(grid *g, const rm_settings *cfg, const char *config_path, const char *const *sets, int n_sets)
{
    memset(g, 0, sizeof *g);
    g->folds = (int)cfg->select_folds;
    g->members = (int)cfg->select_members;
    g->n_axes = cfg->select_n_grid;
    g->n_points = 1;
    for (int a = 0; a < g->n_axes; a++) {
        if (parse_axis(cfg->select_grid[a], a, &g->axes[a]) != 0) return -1;
        for (int b = 0; b < a; b++)
            if (strcmp(g->axes[a].key, g->axes[b].key) == 0)
                return rm_errorf("select.grid: key '%s' has two axes", g->axes[a].key);
        if ((long long)g->n_points * g->axes[a].n > RM_SELECT_MAX_POINTS)
            return rm_errorf("select.grid: more than %d grid points", RM_SELECT_MAX_POINTS);
        g->n_points *= g->axes[a].n;
    }
    g->settings = rm_calloc((size_t)g->n_points, sizeof(rm_settings), "grid settings");
    g->view = rm_calloc((size_t)g->n_points, sizeof(int), "grid views");
    g->scores = rm_calloc((size_t)g->n_points * (size_t)g->folds, sizeof(double), "fold scores");
    const char **all = rm_calloc((size_t)(n_sets + g->n_axes + 1), sizeof(char *), "grid overrides");
    char (*own)[RM_SELECT_AXIS_MAX + 64] = rm_calloc((size_t)g->n_axes + 1, sizeof *own, "grid overrides");
    int rc = g->settings && g->view && g->scores && all && own ? 0 : -1;
    for (int i = 0; i < n_sets && rc == 0; i++) all[i] = sets[i];
    for (int p = 0; p < g->n_points && rc == 0; p++) {
        for (int a = 0; a < g->n_axes; a++) {
            point_override(g, p, a, own[a], sizeof own[a]);
            all[n_sets + a] = own[a];
        }
        if (rm_settings_load(&g->settings[p], config_path, all, n_sets + g->n_axes) != 0)
            rc = rm_error_context("select.grid point %d", p);
    }
    free(all);
    free(own);
    return rc;
}

static void grid_free(grid *g)
{
    for (int p = 0; g->settings && p < g->n_points; p++) rm_settings_free(&g->settings[p]);
    free(g->settings);
    free(g->view);
    free(g->scores);
    memset(g, 0, sizeof *g);
}

/* ---- one (point, fold) job ---- */

/* Within-prompt pair accuracy of scores[n_fold * K] against the golden rewards of the
 * fold's prompts (rewards of prompt fold_prompts[i] at rewards + p * K). */
static double fold_accuracy(const float *scores, const float *rewards, const uint32_t *fold_prompts, size_t n_fold,
                            size_t K)
{
    double correct = 0, total = 0;
    for (size_t i = 0; i < n_fold; i++) {
        const float *g = rewards + (size_t)fold_prompts[i] * K, *s = scores + i * K;
        for (size_t a = 0; a < K; a++)
            for (size_t b = a + 1; b < K; b++) {
                if (g[a] == g[b]) continue;
                total += 1;
                if (s[a] == s[b]) correct += 0.5;
                else correct += (s[a] > s[b]) == (g[a] > g[b]);
            }
    }
    return total > 0 ? correct / total : NAN;
}

/* Train the point's members without fold f's pairs and score fold f. */
static int run_job(const rm_settings *cfg, const rm_train_data *data, const uint32_t *groups, size_t n_groups, int folds,
                   int fold, int members, double *score)
{
    const size_t N = data->n_prompts, K = data->n_responses;
    rm_annotator ann;
    if (rm_annotator_from_settings(&ann, cfg, rm_annotator_scale(cfg, data->rewards, N * K)) != 0) return -1;
    rm_pairs_design d;
    rm_pairs_design_from_settings(&d, cfg);
    d.folds = folds;
    d.heldout_fold = fold;
    d.prompt_group = groups; /* stored pairs: a dialogue's pairs stay in one fold */
    d.n_groups = n_groups;
    rm_pairs pairs;
    if (rm_pairs_build(&pairs, data->rewards, N, K, &d, &ann) != 0) return -1;
    unsigned char *in_fold = rm_alloc(N + 1, 1, "fold prompts");
    uint32_t *prompts = rm_alloc(N + 1, sizeof(uint32_t), "fold prompts");
    uint32_t *items = rm_alloc(N * K + 1, sizeof(uint32_t), "fold items");
    float *raw = rm_alloc(N * K + 1, sizeof(float), "fold scores");
    float *mean = rm_calloc(N * K + 1, sizeof(float), "fold scores");
    int rc = in_fold && prompts && items && raw && mean ? rm_pairs_heldout_prompts(&d, N, in_fold) : -1;
    size_t n_fold = 0;
    for (size_t p = 0; p < N && rc == 0; p++)
        if (in_fold[p]) {
            for (size_t k = 0; k < K; k++) items[n_fold * K + k] = (uint32_t)(p * K + k);
            prompts[n_fold++] = (uint32_t)p;
        }
    for (int m = 0; m < members && rc == 0; m++) {
        rm_member member;
        memset(&member, 0, sizeof member);
        rc = rm_train_member(cfg, data, &pairs, m, MPI_COMM_SELF, &member, NULL, NULL);
        if (rc == 0) rc = rm_member_score_items(&member, data->embeddings, data->dim, items, n_fold * K, raw);
        /* the mean aggregator's score: members' standardised scores, averaged */
        for (size_t i = 0; i < n_fold * K && rc == 0; i++)
            mean[i] += (float)((raw[i] - member.score_mean) / member.score_std) / (float)members;
        rm_member_free(&member);
    }
    if (rc == 0) *score = fold_accuracy(mean, data->rewards, prompts, n_fold, K);
    free(in_fold), free(prompts), free(items), free(raw), free(mean);
    rm_pairs_free(&pairs);
    return rc;
}

/* ---- the cross-validation ---- */

/* The train split of every view the grid's points read, in node-shared windows. */
typedef struct {
    int n;
    int view[RM_MAX_SELECT_AXES * MAX_VALUES];
    rm_shared_split split[RM_MAX_SELECT_AXES * MAX_VALUES];
    rm_train_data data[RM_MAX_SELECT_AXES * MAX_VALUES];
    uint32_t *groups; /* stored pairs: each train pair's group (rmens/store/store_pairs.h); NULL otherwise */
    size_t n_groups;
} windows;

static int windows_load(windows *w, grid *g, rm_store *store, MPI_Comm comm, int threads)
{
    const rm_split_info *tr = &store->split[RM_SPLIT_TRAIN];
    for (int p = 0; p < g->n_points; p++) {
        rm_view_plan vp;
        if (rm_all_ok(comm, rm_view_plan_resolve(&vp, &g->settings[p], store)) != 0) return -1;
        if (vp.n != 1) return rm_all_ok(comm, rm_errorf("rmens select: ensemble.views is not supported (one input per member: use model.inputs)"));
        int i = 0;
        while (i < w->n && w->view[i] != vp.index[0]) i++;
        if (i == w->n) {
            if ((size_t)w->n == sizeof w->view / sizeof w->view[0]) return rm_errorf("rmens select: too many distinct inputs");
            if (rm_shared_split_load_view(&w->split[i], store, vp.index[0], comm, threads) != 0) return -1;
            w->view[i] = vp.index[0];
            w->data[i] = (rm_train_data){w->split[i].embeddings, w->split[i].rewards, tr->n_prompts, tr->n_responses, vp.dim[0], w->split[i].loaded};
            w->n++;
        }
        g->view[p] = i;
    }
    return 0;
}

/* Jobs (point p, fold f) = j = p * folds + f, dealt j mod size; each rank's scores go in
 * g->scores and a sum over ranks completes them (every other entry is 0). */
static int cross_validate(grid *g, windows *w, MPI_Comm comm, int rank, int size)
{
    const int n_jobs = g->n_points * g->folds;
    int mine = 0, done = 0, rc = 0;
    for (int j = rank; j < n_jobs; j += size) mine++;
    double t0 = rm_now(), last = t0, period = rm_progress_period();
    const int prints = rank == 0 && !rm_is_quiet();
    for (int j = rank; j < n_jobs && rc == 0; j += size) {
        const int p = j / g->folds, f = j % g->folds;
        rc = run_job(&g->settings[p], &w->data[g->view[p]], w->groups, w->n_groups, g->folds, f, g->members, &g->scores[j]);
        if (rc != 0) {
            rm_error_context("select.grid point %d, fold %d", p, f);
            break;
        }
        done++;
        double now = rm_now();
        if (prints && (now - last >= period || done == mine || done == 1)) {
            char elapsed[RM_DURATION_CHARS], eta[RM_DURATION_CHARS];
            printf("[select] rank 0: %d/%d of its jobs (point %d/%d, fold %d/%d: pair accuracy %.4f), %s elapsed, ETA %s\n",
                   done, mine, p + 1, g->n_points, f + 1, g->folds, g->scores[j], rm_duration(now - t0, elapsed),
                   rm_duration((now - t0) / done * (mine - done), eta));
            fflush(stdout);
            last = now;
        }
    }
    if (rm_all_ok(comm, rc) != 0) return -1;
    if (MPI_Allreduce(MPI_IN_PLACE, g->scores, n_jobs, MPI_DOUBLE, MPI_SUM, comm) != MPI_SUCCESS)
        return rm_errorf("rmens select: MPI_Allreduce of the fold scores failed");
    return 0;
}

static void point_moments(const grid *g, int p, double *mean, double *std)
{
    double s = 0, s2 = 0;
    for (int f = 0; f < g->folds; f++) s += g->scores[p * g->folds + f];
    *mean = s / g->folds;
    for (int f = 0; f < g->folds; f++) s2 += pow(g->scores[p * g->folds + f] - *mean, 2);
    *std = g->folds > 1 ? sqrt(s2 / (g->folds - 1)) : 0;
}

static int best_point(const grid *g)
{
    int best = 0;
    double best_mean = -1, sd;
    for (int p = 0; p < g->n_points; p++) {
        double m;
        point_moments(g, p, &m, &sd);
        if (m > best_mean) best = p, best_mean = m; /* strictly better: the earlier wins a tie */
    }
    return best;
}

static void json_settings(FILE *f, const grid *g, int p)
{
    fputc('{', f);
    for (int a = 0; a < g->n_axes; a++) {
        fprintf(f, "%s", a ? ", " : "");
        rm_json_string(f, g->axes[a].key);
        fputs(": ", f);
        rm_json_string(f, g->axes[a].values[value_of(g, p, a)]);
    }
    fputc('}', f);
}

static int write_json(const char *path, const grid *g, int best, const rm_settings *cfg, const rm_store *store, int ranks)
{
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return rm_errorf("%s: cannot write", tmp);
    const rm_precision_info *pr = rm_precision_current();
    fprintf(f, "{\n\"metric\": \"within_prompt_pair_accuracy\",\n\"folds\": %d,\n\"members\": %d,\n\"grid\": [\n",
            g->folds, g->members);
    for (int p = 0; p < g->n_points; p++) {
        double m, sd;
        point_moments(g, p, &m, &sd);
        fputs("  {\"settings\": ", f);
        json_settings(f, g, p);
        fputs(", \"fold_scores\": ", f);
        rm_eval_json_array(f, g->scores + (size_t)p * g->folds, g->folds);
        fputs(", \"mean\": ", f);
        rm_eval_json_number(f, m);
        fputs(", \"std\": ", f);
        rm_eval_json_number(f, sd);
        fprintf(f, "}%s\n", p + 1 < g->n_points ? "," : "");
    }
    double m, sd;
    point_moments(g, best, &m, &sd);
    fprintf(f, "],\n\"choice\": {\"index\": %d, \"settings\": ", best);
    json_settings(f, g, best);
    fputs(", \"mean\": ", f);
    rm_eval_json_number(f, m);
    fputs("},\n\"provenance\": {\"version\": ", f);
    rm_json_string(f, RMENS_VERSION);
    const char *keys[] = {"config_file", "store", "store_uuid", "precision", "cpu"};
    const char *values[] = {cfg->source_path, store->path, store->uuid, pr->precision, pr->cpu};
    for (int i = 0; i < 5; i++) {
        fprintf(f, ", \"%s\": ", keys[i]);
        rm_json_string(f, values[i]);
    }
    fprintf(f, ", \"ranks\": %d}\n}\n", ranks);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return rm_errorf("%s: write failed", path);
    }
    return 0;
}

static void print_table(const grid *g, int best)
{
    printf("cross-validation: %d grid point(s) x %d folds x %d member(s), within-prompt pair accuracy on held-out prompts\n",
           g->n_points, g->folds, g->members);
    for (int p = 0; p < g->n_points; p++) {
        double m, sd;
        point_moments(g, p, &m, &sd);
        printf("  %s %3d  %.4f +- %.4f ", p == best ? "*" : " ", p, m, sd);
        for (int a = 0; a < g->n_axes; a++) printf(" %s=%s", g->axes[a].key, g->axes[a].values[value_of(g, p, a)]);
        printf("\n");
    }
    fflush(stdout);
}

int rm_select(const rm_settings *cfg, const char *config_path, const char *const *sets, int n_sets, MPI_Comm comm,
              int force, rm_select_choice *choice)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    memset(choice, 0, sizeof *choice);
    char *path = rm_path_join(cfg->output, "select.json");
    int rc = path ? 0 : -1;
    if (rc == 0 && rank == 0) {
        rc = rm_mkdir_p(cfg->output);
        /* everything this verb writes, refused before the cross-validation rather than after */
        static const char *const outputs[] = {"select.json", "members.h5", "results.h5", "results.json", "checkpoint.h5"};
        for (size_t i = 0; i < sizeof outputs / sizeof outputs[0] && rc == 0 && !force; i++) {
            char *o = rm_path_join(cfg->output, outputs[i]);
            if (!o) rc = -1;
            else if (rm_path_exists(o)) rc = rm_errorf("%s already exists (use --force to overwrite)", o);
            free(o);
        }
    }
    if (rm_all_ok(comm, rc) != 0) {
        free(path);
        return -1;
    }
    grid g;
    windows w;
    memset(&w, 0, sizeof w);
    rm_store store;
    int store_open = 0;
    rc = rm_all_ok(comm, grid_create(&g, cfg, config_path, sets, n_sets));
    int threads = rm_set_blas_threads(comm, (int)cfg->parallel_blas_threads);
    if (rc == 0) rc = rm_all_ok(comm, rm_precision_select(cfg->model_precision, rank == 0, NULL));
    /* pairs.source = "store": folds of stored pairs, a dialogue (group) never cut */
    if (rc == 0) rc = rm_store_open_for_run(&store, cfg, comm);
    store_open = rc == 0;
    if (rc == 0) rc = rm_all_ok(comm, rm_store_train_pair_groups(&store, &w.groups, &w.n_groups));
    size_t units = w.groups ? w.n_groups : store_open ? store.split[RM_SPLIT_TRAIN].n_prompts : 0;
    if (rc == 0 && units < (size_t)g.folds)
        rc = rm_all_ok(comm, rm_errorf("select.folds = %d is more than the %zu train %s", g.folds, units,
                                       w.groups ? "dialogues (pair groups)" : "prompts"));
    if (rc == 0) rc = windows_load(&w, &g, &store, comm, threads);
    if (rc == 0 && rank == 0)
        rm_infof("[select] %d grid point(s) x %d folds = %d jobs of %d member(s) over %d rank(s)", g.n_points, g.folds,
                 g.n_points * g.folds, g.members, size);
    if (rc == 0) rc = cross_validate(&g, &w, comm, rank, size);
    int best = rc == 0 ? best_point(&g) : 0;
    if (rc == 0 && rank == 0) {
        if (!rm_is_quiet()) print_table(&g, best); /* select.json holds it */
        rc = write_json(path, &g, best, cfg, &store, size);
        if (rc == 0) printf("[select] wrote %s; training the ensemble with point %d\n", path, best);
    }
    rc = rm_all_ok(comm, rc);
    if (rc == 0) {
        choice->n = g.n_axes;
        for (int a = 0; a < g.n_axes; a++) point_override(&g, best, a, choice->items[a], sizeof choice->items[a]);
    }
    for (int i = 0; i < w.n; i++) rm_shared_split_free(&w.split[i]);
    free(w.groups);
    if (store_open) rm_store_close(&store);
    grid_free(&g);
    free(path);
    return rc;
}
