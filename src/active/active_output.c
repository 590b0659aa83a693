/* rmens active's files: active.h5, active.json, and the round-boundary state that
 * --resume continues from (see src/active/active_output.h).
 *
 * active.h5 (readable by h5py):
 *   /              attrs: format="rmens-active", format_version=1, version, strategy, pool,
 *                         initial, batch, rounds, warm_start, dopt_ridge, n_members, config,
 *                         store, store_uuid
 *   /bon_n, /kl    the evaluator's best-of-n sizes and KL_bon(n)
 *   /labels        [R+1] labelled pairs per round
 *   /round_<r>/    attrs: round, labels, label_agreement, criterion_mean|min|max,
 *                         train_epochs, train_best_epoch, train_loss, train_val_loss,
 *                         train_val_accuracy, train_pairs; selected [n] uint32 pool indices;
 *                  aggregators/<name>/bon [n] + spearman, pair_accuracy, bench_accuracy
 *                         (<name> also "warm" with ensemble.shared_init, rmens/eval/warm.h);
 *                  agreement/, uncertainty/ (as results.h5)
 *   /run/          attrs: ranks, precision, precision_requested, matmul_kernel, cpu,
 *                         wall_seconds; round_seconds [R+1, 4] (train, score, select, evaluate)
 * Everything outside /run is the same for any rank count and after a resume. */
#include "active_output.h"
#include "rmens/eval/eval_output.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rmens/base/common.h"
#include "rmens/store/h5util.h"
#include "rmens/eval/metrics.h"
#include "rmens/kernels/precision.h"

#define ACTIVE_FORMAT "rmens-active"
#define STATE_FORMAT "rmens-active-state"
#define FIG_DOUBLES (sizeof(rm_ensemble_figures) / sizeof(double))
#define WARM_DOUBLES (sizeof(rm_aggregate_figures) / sizeof(double))

static const char *const TRAIN_NAMES[TRAIN_FIELDS] = {"train_epochs", "train_best_epoch", "train_loss",
                                                      "train_val_loss", "train_val_accuracy", "train_pairs"};
static const char *const SECONDS_NAMES[T_FIELDS] = {"train", "score", "select", "evaluate"};

char *rm_active_members_path(const rm_settings *cfg, int round)
{
    char name[64];
    snprintf(name, sizeof name, "active_members_%d.h5", round);
    return rm_path_join(cfg->output, name);
}

void rm_active_rounds_free(active_record *rec)
{
    for (int r = 0; rec->rounds && r < (int)rec->cfg->active_rounds + 1; r++) free(rec->rounds[r].selected);
    free(rec->rounds);
    rec->rounds = NULL;
}

/* ---- active.h5 ---- */

static int write_round_h5(hid_t file, const active_record *rec, int r)
{
    const active_round *ar = &rec->rounds[r];
    char name[32];
    snprintf(name, sizeof name, "round_%d", r);
    hid_t g = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return rm_errorf("active.h5: cannot create group /%s", name);
    int rc = rm_h5_attr_int(g, "round", r);
    rc |= rm_h5_attr_int(g, "labels", ar->labels);
    rc |= rm_h5_attr_double(g, "label_agreement", ar->label_agreement);
    rc |= rm_h5_attr_double(g, "criterion_mean", ar->crit[0]);
    rc |= rm_h5_attr_double(g, "criterion_min", ar->crit[1]);
    rc |= rm_h5_attr_double(g, "criterion_max", ar->crit[2]);
    for (int t = 0; t < TRAIN_FIELDS; t++) rc |= rm_h5_attr_double(g, TRAIN_NAMES[t], ar->train[t]);
    hsize_t n = (hsize_t)ar->n_selected;
    if (rc == 0)
        rc = rm_h5_write_dataset(g, "selected", H5T_STD_U32LE, H5T_NATIVE_UINT32, 1, &n, ar->selected, 1, 0, "active.h5");
    if (rc == 0) rc = rm_eval_h5_ensemble(g, &rec->plan, &ar->fig, NULL, rec->warm ? &ar->warm : NULL);
    H5Gclose(g);
    return rc ? rm_error_context("active.h5: /%s", name) : 0;
}

static int write_run_h5(hid_t file, const active_record *rec)
{
    hid_t run = H5Gcreate2(file, "run", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (run < 0) return rm_errorf("active.h5: cannot create group /run");
    int rc = rm_h5_attr_int(run, "ranks", rec->size);
    rc |= rm_h5_attrs_precision(run);
    rc |= rm_h5_attr_double(run, "wall_seconds", rec->wall_seconds);
    double *sec = rm_alloc((size_t)rec->n_rounds * T_FIELDS + 1, sizeof(double), "round timings");
    if (!sec) rc = -1;
    for (int r = 0; sec && r < rec->n_rounds; r++) memcpy(sec + (size_t)r * T_FIELDS, rec->rounds[r].seconds, sizeof rec->rounds[r].seconds);
    hsize_t dims[2] = {(hsize_t)rec->n_rounds, T_FIELDS};
    if (rc == 0) rc = rm_h5_write_dataset(run, "round_seconds", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, sec, 1, 0, "active.h5");
    free(sec);
    H5Gclose(run);
    return rc;
}

static int write_h5(const char *path, const active_record *rec)
{
    const rm_settings *cfg = rec->cfg;
    rm_h5_atomic out;
    if (rm_h5_atomic_create(&out, path, MPI_COMM_SELF) != 0) return -1;
    hid_t f = out.file;
    int rc = rm_h5_attrs_provenance(f, ACTIVE_FORMAT, 1, cfg->config_text, rec->store->path, rec->store->uuid);
    rc |= rm_h5_attr_string(f, "strategy", rm_active_strategy_name(rec->strategy));
    rc |= rm_h5_attr_int(f, "pool", cfg->active_pool);
    rc |= rm_h5_attr_int(f, "initial", cfg->active_initial);
    rc |= rm_h5_attr_int(f, "batch", cfg->active_batch);
    rc |= rm_h5_attr_int(f, "rounds", cfg->active_rounds);
    rc |= rm_h5_attr_int(f, "warm_start", cfg->active_warm_start);
    rc |= rm_h5_attr_double(f, "dopt_ridge", cfg->active_dopt_ridge);
    rc |= rm_h5_attr_int(f, "n_members", cfg->ensemble_members);
    if (rc != 0) rc = rm_error_context("active.h5: root attributes");
    const rm_eval_plan *p = &rec->plan;
    hsize_t nb = (hsize_t)p->n_bon, nr = (hsize_t)rec->n_rounds;
    long long bon_n[RM_MAX_LIST], labels[1024 + 1];
    double kl[RM_MAX_LIST];
    for (int j = 0; j < p->n_bon; j++) bon_n[j] = (long long)p->bon_n[j], kl[j] = rm_bon_kl(p->bon_n[j]);
    if (rc == 0) rc = rm_h5_write_dataset(f, "bon_n", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, &nb, bon_n, 1, 0, "active.h5");
    if (rc == 0) rc = rm_h5_write_dataset(f, "kl", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &nb, kl, 1, 0, "active.h5");
    long long *lab = rec->n_rounds <= 1024 ? labels : rm_alloc((size_t)rec->n_rounds, sizeof(long long), "labels");
    if (!lab) rc = -1;
    for (int r = 0; lab && r < rec->n_rounds; r++) lab[r] = rec->rounds[r].labels;
    if (rc == 0) rc = rm_h5_write_dataset(f, "labels", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, &nr, lab, 1, 0, "active.h5");
    if (lab && lab != labels) free(lab);
    for (int r = 0; r < rec->n_rounds && rc == 0; r++) rc = write_round_h5(f, rec, r);
    if (rc == 0) rc = write_run_h5(f, rec);
    return rm_h5_atomic_finish(&out, rc);
}

/* ---- active.json ---- */

static void json_round(FILE *f, const active_record *rec, int r)
{
    const active_round *ar = &rec->rounds[r];
    fprintf(f, "%s\n  {\"round\": %d, \"labels\": %lld, \"label_agreement\": ", r ? "," : "", r, ar->labels);
    rm_eval_json_number(f, ar->label_agreement);
    fputs(",\n   \"selected\": [", f);
    for (size_t i = 0; i < ar->n_selected; i++) fprintf(f, "%s%u", i ? ", " : "", ar->selected[i]);
    fputs("],\n   \"criterion\": {\"mean\": ", f);
    rm_eval_json_number(f, ar->crit[0]);
    fputs(", \"min\": ", f);
    rm_eval_json_number(f, ar->crit[1]);
    fputs(", \"max\": ", f);
    rm_eval_json_number(f, ar->crit[2]);
    fputs("},\n   \"training\": {", f);
    for (int t = 0; t < TRAIN_FIELDS; t++) {
        fprintf(f, "%s\"%s\": ", t ? ", " : "", TRAIN_NAMES[t] + 6);
        rm_eval_json_number(f, ar->train[t]);
    }
    fputs("},\n   \"seconds\": {", f);
    for (int t = 0; t < T_FIELDS; t++) {
        fprintf(f, "%s\"%s\": ", t ? ", " : "", SECONDS_NAMES[t]);
        rm_eval_json_number(f, ar->seconds[t]);
    }
    fputs("},\n   ", f);
    double kl[RM_MAX_LIST];
    for (int j = 0; j < rec->plan.n_bon; j++) kl[j] = rm_bon_kl(rec->plan.bon_n[j]);
    rm_eval_json_ensemble(f, &rec->plan, &ar->fig, kl, "   ", NULL, rec->warm ? &ar->warm : NULL);
    fputc('}', f);
}

static int write_json(const char *path, const active_record *rec)
{
    const rm_settings *cfg = rec->cfg;
    FILE *f = fopen(path, "w");
    if (!f) return rm_errorf("cannot create '%s': %s", path, strerror(errno));
    const rm_precision_info *precision = rm_precision_current();
    fputs("{\n\"strategy\": ", f);
    rm_json_string(f, rm_active_strategy_name(rec->strategy));
    fprintf(f, ",\n\"pool\": %lld,\n\"initial\": %lld,\n\"batch\": %lld,\n\"rounds_requested\": %lld,\n\"members\": %lld,\n"
               "\"seed\": %lld,\n\"pairs_mode\": ",
            cfg->active_pool, cfg->active_initial, cfg->active_batch, cfg->active_rounds, cfg->ensemble_members, cfg->seed);
    rm_json_string(f, cfg->pairs_mode);
    fputs(",\n\"provenance\": {", f);
    const char *keys[] = {"version", "config_file", "store", "store_uuid", "precision", "precision_requested",
                          "precision_reason", "matmul_kernel", "cpu"};
    const char *values[] = {RMENS_VERSION, cfg->source_path, rec->store->path, rec->store->uuid, precision->precision,
                            precision->requested, precision->reason, precision->kernel, precision->cpu};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        fprintf(f, "%s\"%s\": ", i ? ", " : "", keys[i]);
        rm_json_string(f, values[i]);
    }
    fprintf(f, ", \"ranks\": %d, \"wall_seconds\": %.3f},\n\"rounds\": [", rec->size, rec->wall_seconds);
    for (int r = 0; r < rec->n_rounds; r++) json_round(f, rec, r);
    fputs("\n]\n}\n", f);
    /* Flushed and synced before the caller renames it into place: a full disk shows up
     * here (fwrite only fills the buffer), and after a crash the renamed file is whole. */
    int bad = ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0;
    int saved = errno;
    if (fclose(f) != 0 || bad) return rm_errorf("cannot write '%s': %s", path, strerror(bad ? saved : errno));
    return 0;
}

int rm_active_write_outputs(const active_record *rec, const active_paths *paths)
{
    if (write_h5(paths->output_h5, rec) != 0) return -1;
    char *temp = rm_temp_sibling(paths->output_json, "writing");
    int rc = temp ? write_json(temp, rec) : -1;
    if (rc != 0 && temp) rm_error_context("writing %s", paths->output_json);
    if (rc == 0 && rename(temp, paths->output_json) != 0)
        rc = rm_errorf("cannot rename %s to %s: %s", temp, paths->output_json, strerror(errno));
    if (rc != 0 && temp) remove(temp);
    free(temp);
    return rc;
}

/* ---- the round-boundary state ---- */

int rm_active_state_write(const active_record *rec, const char *path, const char *fingerprint)
{
    rm_h5_atomic out;
    if (rm_h5_atomic_create(&out, path, MPI_COMM_SELF) != 0) return -1;
    hid_t f = out.file;
    int rc = rm_h5_attr_string(f, "format", STATE_FORMAT);
    rc |= rm_h5_attr_string(f, "fingerprint", fingerprint);
    rc |= rm_h5_attr_int(f, "rounds_done", rec->n_rounds);
    for (int r = 0; r < rec->n_rounds && rc == 0; r++) {
        const active_round *ar = &rec->rounds[r];
        char name[32];
        snprintf(name, sizeof name, "round_%d", r);
        hid_t g = H5Gcreate2(f, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) {
            rc = rm_errorf("%s: cannot create group /%s", path, name);
            break;
        }
        /* the record as numbers: labels, agreement, crit, train, seconds, then the figures
         * struct itself (the state only resumes with the same build: the fingerprint
         * holds the version) */
        double head[2 + 3 + TRAIN_FIELDS + T_FIELDS];
        head[0] = (double)ar->labels, head[1] = ar->label_agreement;
        memcpy(head + 2, ar->crit, sizeof ar->crit);
        memcpy(head + 5, ar->train, sizeof ar->train);
        memcpy(head + 5 + TRAIN_FIELDS, ar->seconds, sizeof ar->seconds);
        hsize_t nh = sizeof head / sizeof head[0], nf = FIG_DOUBLES, nw = WARM_DOUBLES, ns = ar->n_selected;
        rc = rm_h5_write_dataset(g, "record", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &nh, head, 1, 0, path);
        if (rc == 0) rc = rm_h5_write_dataset(g, "figures", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &nf, &ar->fig, 1, 0, path);
        if (rc == 0 && rec->warm)
            rc = rm_h5_write_dataset(g, "warm_figures", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &nw, &ar->warm, 1, 0, path);
        if (rc == 0) rc = rm_h5_write_dataset(g, "selected", H5T_STD_U32LE, H5T_NATIVE_UINT32, 1, &ns, ar->selected, 1, 0, path);
        H5Gclose(g);
    }
    return rm_h5_atomic_finish(&out, rc);
}

static int read_round(hid_t f, const char *path, int r, int warm, active_round *ar)
{
    char name[32];
    snprintf(name, sizeof name, "round_%d", r);
    hid_t g = H5Gopen2(f, name, H5P_DEFAULT);
    if (g < 0) return rm_errorf("%s: group /%s is missing", path, name);
    double head[2 + 3 + TRAIN_FIELDS + T_FIELDS];
    hsize_t nh = sizeof head / sizeof head[0], nf = FIG_DOUBLES;
    int rc = rm_h5_read_dataset(g, "record", H5T_NATIVE_DOUBLE, 1, &nh, head, path);
    if (rc == 0) rc = rm_h5_read_dataset(g, "figures", H5T_NATIVE_DOUBLE, 1, &nf, &ar->fig, path);
    hsize_t nw = WARM_DOUBLES;
    if (rc == 0 && warm) rc = rm_h5_read_dataset(g, "warm_figures", H5T_NATIVE_DOUBLE, 1, &nw, &ar->warm, path);
    hid_t d = rc == 0 ? H5Dopen2(g, "selected", H5P_DEFAULT) : -1;
    hid_t space = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t ns = 0;
    if (space < 0 || H5Sget_simple_extent_dims(space, &ns, NULL) != 1) rc = rm_errorf("%s: /%s/selected", path, name);
    if (space >= 0) H5Sclose(space);
    if (d >= 0) H5Dclose(d);
    ar->selected = rc == 0 ? rm_alloc(ns ? ns : 1, sizeof(uint32_t), "selected pairs") : NULL;
    if (rc == 0 && !ar->selected) rc = -1;
    if (rc == 0) rc = rm_h5_read_dataset(g, "selected", H5T_NATIVE_UINT32, 1, &ns, ar->selected, path);
    H5Gclose(g);
    if (rc != 0) return -1;
    ar->n_selected = ns;
    ar->labels = (long long)head[0], ar->label_agreement = head[1];
    memcpy(ar->crit, head + 2, sizeof ar->crit);
    memcpy(ar->train, head + 5, sizeof ar->train);
    memcpy(ar->seconds, head + 5 + TRAIN_FIELDS, sizeof ar->seconds);
    return 0;
}

int rm_active_state_read(active_record *rec, const char *path, const char *fingerprint)
{
    hid_t f = rm_h5_open_read(path, MPI_COMM_NULL);
    if (f < 0) return -1;
    char format[64] = "", *saved = NULL;
    long long done = 0;
    int rc = rm_h5_read_attr_string(f, "format", format, sizeof format, path);
    if (rc == 0 && strcmp(format, STATE_FORMAT) != 0) rc = rm_errorf("%s: format '%s', expected '%s'", path, format, STATE_FORMAT);
    if (rc == 0) rc = rm_h5_read_attr_string_alloc(f, "fingerprint", &saved, path);
    if (rc == 0 && strcmp(saved, fingerprint) != 0)
        rc = rm_errorf("%s is from a run with other settings (continue with the same config, or start over with --force)", path);
    if (rc == 0) rc = rm_h5_read_attr_int(f, "rounds_done", &done, path);
    if (rc == 0 && (done < 1 || done > rec->cfg->active_rounds + 1)) rc = rm_errorf("%s: %lld rounds done", path, done);
    for (int r = 0; rc == 0 && r < (int)done; r++) rc = read_round(f, path, r, rec->warm, &rec->rounds[r]);
    if (rc == 0) rec->n_rounds = (int)done;
    free(saved);
    H5Fclose(f);
    return rc;
}
