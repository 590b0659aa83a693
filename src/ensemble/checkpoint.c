/* Training checkpoints (see include/rmens/ensemble/checkpoint.h).
 *
 * <output>/checkpoint.h5, written collectively by all ranks at a temporary name and
 * renamed, so that a kill at any moment leaves the previous checkpoint or the new one:
 *   /                attrs: format="rmens-checkpoint", format_version, version, n_members,
 *                           n_params (member 0's), fingerprint (the settings the members
 *                           depend on)
 *   /member_<m>/     attrs: status (0 pending, 1 in progress, 2 finished), epochs_run,
 *                           best_epoch, pairs_trained, score_mean, score_std,
 *                           train_seconds, next_epoch, next_start, adam_step, epoch_loss,
 *                           best_val, since_best, train_time
 *                    n_params (its own: members on store views differ in D),
 *                    params [n_params], and in progress adam_m, adam_v, best_params
 *                    history/train_loss, val_loss, val_accuracy [epochs_run] */
#define _GNU_SOURCE
#include "rmens/member/family_mlp.h"
#include "rmens/ensemble/checkpoint.h"
#include "rmens/base/rng.h"
#include "rmens/base/common.h"
#include "rmens/member/family.h"
#include "rmens/store/h5util.h"
#include "rmens/base/parallel.h"
#include "rmens/member/shared_init.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECKPOINT_FORMAT "rmens-checkpoint"

enum {
    F_OWNER, F_STATUS, F_EPOCHS_RUN, F_BEST_EPOCH, F_PAIRS, F_MEAN, F_STD, F_SECONDS, F_NEXT_EPOCH,
    F_NEXT_START, F_ADAM_STEP, F_EPOCH_LOSS, F_BEST_VAL, F_SINCE_BEST, F_TRAIN_TIME, N_FIELDS
};
static const char *const FIELD_NAMES[N_FIELDS] = {
    "owner", "status", "epochs_run", "best_epoch", "pairs_trained", "score_mean", "score_std", "train_seconds",
    "next_epoch", "next_start", "adam_step", "epoch_loss", "best_val", "since_best", "train_time"};
/* Exchanged with the fields but not stored: the bytes of a member's model where the family
 * stores one of its own size (trees). */
enum { F_MODEL_BYTES = N_FIELDS, F_FAMILY, META_WIDTH };

char *rm_checkpoint_fingerprint(const rm_settings *c, const char *store_uuid)
{
    char hidden[256] = "";
    for (int i = 0; i < c->model_n_hidden; i++)
        snprintf(hidden + strlen(hidden), sizeof hidden - strlen(hidden), "%s%d", i ? "," : "", c->model_hidden[i]);
    char *text = NULL;
    if (asprintf(&text,
                 "store_uuid=%s seed=%lld pairs.mode=%s pairs.count=%lld pairs.annotator_beta=%.17g model.hidden=[%s] "
                 "model.objective=%s train.epochs=%lld train.batch_size=%lld train.learning_rate=%.17g "
                 "train.weight_decay=%.17g train.val_fraction=%.17g train.patience=%lld ensemble.members=%lld "
                 "ensemble.data=%s pairs.label_flip=%.17g pairs.reward_scale=%.17g pairs.sampling=%s pairs.per_prompt=%lld "
                 "pairs.candidates=%s pairs.both_orders=%d train.restore_best=%d train.stop_rule=%s train.minibatches=%s train.val_split=%s",
                 store_uuid, c->seed, c->pairs_mode, c->pairs_count, c->pairs_annotator_beta, hidden, c->model_objective,
                 c->train_epochs, c->train_batch_size, c->train_learning_rate, c->train_weight_decay,
                 c->train_val_fraction, c->train_patience, c->ensemble_members, c->ensemble_data, c->pairs_label_flip,
                 c->pairs_reward_scale, c->pairs_sampling, c->pairs_per_prompt, c->pairs_candidates, c->pairs_both_orders,
                 c->train_restore_best, c->train_stop_rule, c->train_minibatches, c->train_val_split) < 0) {
        rm_errorf("out of memory");
        return NULL;
    }
    /* settings added since, appended only when not their default: older checkpoints resume */
    char extra[128 + 2 * RM_MAX_VIEWS * (RM_NAME_MAX + 1)] = "";
    if (strcmp(c->ensemble_kind, "independent") != 0 && c->ensemble_kind[0])
        snprintf(extra, sizeof extra, " ensemble.kind=%s", c->ensemble_kind);
    for (int i = 0; i < c->ensemble_n_views; i++)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), "%s%s", i ? "," : " ensemble.views=",
                 c->ensemble_views[i]);
    if (c->train_l2 != 0)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " train.l2=%.17g", c->train_l2);
    if (strcmp(c->pairs_source, "store") == 0) snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " pairs.source=store");
    for (int i = 0; i < c->model_n_inputs; i++)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), "%s%s", i ? "," : " model.inputs=",
                 c->model_inputs[i]);
    if (extra[0]) {
        char *longer = NULL;
        int n = asprintf(&longer, "%s%s", text, extra);
        free(text);
        if (n < 0) {
            rm_errorf("out of memory");
            return NULL;
        }
        text = longer;
    }
    return rm_shared_init_fingerprint(c, rm_family_fingerprint(c, text));
}

int rm_checkpoint_write(const char *path, MPI_Comm comm, const char *fingerprint, rm_member_slot *slots,
                        int n_members, const size_t *n_params, int max_epochs)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    size_t n_meta = (size_t)n_members * META_WIDTH, n_hist = (size_t)n_members * 3 * (size_t)max_epochs;
    double *meta = rm_calloc(n_meta + n_hist, sizeof(double), "checkpoint metadata");
    if (rm_all_ok(comm, meta ? 0 : -1) != 0) { free(meta); return -1; }
    double *hist = meta + n_meta;
    for (int m = 0; m < n_members; m++) {
        const rm_member_slot *s = &slots[m];
        if (!s->owned) continue;
        double *row = meta + (size_t)m * META_WIDTH;
        const rm_member *mm = &s->member;
        const rm_train_state *st = &s->state;
        row[F_OWNER] = rank;
        row[F_STATUS] = s->status;
        if (s->status == RM_MEMBER_PENDING) continue;
        row[F_EPOCHS_RUN] = mm->epochs_run;
        row[F_BEST_EPOCH] = mm->best_epoch;
        row[F_PAIRS] = (double)mm->pairs_trained;
        row[F_MEAN] = mm->score_mean;
        row[F_STD] = mm->score_std;
        row[F_SECONDS] = mm->train_seconds;
        if (s->status == RM_MEMBER_IN_PROGRESS) {
            row[F_NEXT_EPOCH] = st->next_epoch;
            row[F_NEXT_START] = (double)st->next_start;
            row[F_ADAM_STEP] = (double)st->adam_step;
            row[F_EPOCH_LOSS] = st->epoch_loss;
            row[F_BEST_VAL] = st->best_val;
            row[F_SINCE_BEST] = st->since_best;
            row[F_TRAIN_TIME] = st->train_time;
        }
        row[F_MODEL_BYTES] = (double)rm_member_family(mm)->model_bytes(mm);
        row[F_FAMILY] = rm_family_id(rm_member_family(mm));
        rm_member_history_rows(mm, hist + (size_t)m * 3 * (size_t)max_epochs, max_epochs);
    }
    /* One owner per member row, zeros elsewhere: the sum is exact. (best_val may be
     * infinite: inf + 0 stays inf.) */
    MPI_Allreduce(MPI_IN_PLACE, meta, (int)(n_meta + n_hist), MPI_DOUBLE, MPI_SUM, comm);

    rm_h5_atomic out;
    if (rm_h5_atomic_create(&out, path, comm) != 0) {
        free(meta);
        return -1;
    }
    hid_t file = out.file;
    int rc = 0;
    rc |= rm_h5_attr_string(file, "format", CHECKPOINT_FORMAT);
    rc |= rm_h5_attr_int(file, "format_version", 1);
    rc |= rm_h5_attr_string(file, "version", RMENS_VERSION);
    rc |= rm_h5_attr_int(file, "n_members", n_members);
    rc |= rm_h5_attr_int(file, "n_params", (long long)n_params[0]);
    rc |= rm_h5_attr_string(file, "fingerprint", fingerprint);
    for (int m = 0; m < n_members && rc == 0; m++) {
        const double *row = meta + (size_t)m * META_WIDTH;
        int writer = (int)row[F_OWNER] == rank && slots[m].owned;
        char name[64];
        snprintf(name, sizeof name, "member_%d", m);
        hid_t g = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) { rc = rm_errorf("cannot create /%s", name); break; }
        for (int f = F_STATUS; f < N_FIELDS && rc == 0; f++) rc = rm_h5_attr_double(g, FIELD_NAMES[f], row[f]);
        if (rc == 0) rc = rm_h5_attr_int(g, "n_params", (long long)n_params[m]);
        int status = (int)row[F_STATUS];
        hsize_t np = n_params[m], ne = (hsize_t)row[F_EPOCHS_RUN];
        const rm_member_slot *s = &slots[m];
        if (rc == 0 && status != RM_MEMBER_PENDING) {
            rc = rm_family_from_id((int)row[F_FAMILY])->checkpoint_write(g, writer ? &s->member : NULL, n_params[m],
                                                               (size_t)row[F_MODEL_BYTES], writer, name);
            static const char *series[3] = {"train_loss", "val_loss", "val_accuracy"};
            const double *h = hist + (size_t)m * 3 * (size_t)max_epochs;
            for (int k = 0; k < 3 && rc == 0 && ne > 0; k++) {
                char dname[64];
                snprintf(dname, sizeof dname, "history_%s", series[k]);
                rc = rm_h5_write_dataset(g, dname, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &ne, h + (size_t)k * (size_t)max_epochs,
                                         rank == 0, 1, name);
            }
        }
        if (rc == 0 && status == RM_MEMBER_IN_PROGRESS) {
            rc = rm_h5_write_dataset(g, "adam_m", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &np, writer ? s->state.adam_m : NULL, writer, 1, name);
            if (rc == 0) rc = rm_h5_write_dataset(g, "adam_v", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &np, writer ? s->state.adam_v : NULL, writer, 1, name);
            if (rc == 0) rc = rm_h5_write_dataset(g, "best_params", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &np, writer ? s->state.best_params : NULL, writer, 1, name);
        }
        H5Gclose(g);
    }
    free(meta);
    return rm_h5_atomic_finish(&out, rc);
}

/* Local: read member m's slot (status always; the data when `want_data`). */
static int read_slot(hid_t file, int m, const rm_settings *cfg, int dim, size_t n_params, int want_data, rm_member_slot *s)
{
    char name[64];
    snprintf(name, sizeof name, "member_%d", m);
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return rm_errorf("/%s is missing", name);
    hid_t g = H5Gopen2(file, name, H5P_DEFAULT);
    if (g < 0) return rm_errorf("cannot open /%s", name);
    double row[N_FIELDS] = {0};
    int rc = 0;
    for (int f = F_STATUS; f < N_FIELDS && rc == 0; f++) rc = rm_h5_read_attr_double(g, FIELD_NAMES[f], &row[f], name);
    /* checkpoints from before views had one count for every member, at the root */
    long long own = (long long)n_params;
    if (rc == 0 && H5Aexists(g, "n_params") > 0) rc = rm_h5_read_attr_int(g, "n_params", &own, name);
    if (rc == 0 && (size_t)own != n_params)
        rc = rm_errorf("/%s: %lld parameters, the member has %zu (another model or view)", name, own, n_params);
    int status = (int)row[F_STATUS];
    if (rc == 0 && status != RM_MEMBER_PENDING && status != RM_MEMBER_IN_PROGRESS && status != RM_MEMBER_FINISHED)
        rc = rm_errorf("/%s: status %d is invalid", name, status);
    int epochs = (int)row[F_EPOCHS_RUN];
    if (rc == 0 && (epochs < 0 || epochs > rm_settings_max_epochs(cfg))) rc = rm_errorf("/%s: epochs_run %d is invalid", name, epochs);
    s->status = rc == 0 ? status : RM_MEMBER_PENDING;
    if (rc != 0 || !want_data || status == RM_MEMBER_PENDING) {
        H5Gclose(g);
        return rc;
    }
    rm_member *mm = &s->member;
    memset(mm, 0, sizeof *mm);
    mm->index = m;
    mm->seed = rm_member_seed((uint64_t)cfg->seed, m);
    size_t cap = (size_t)rm_settings_max_epochs(cfg);
    mm->train_loss = rm_calloc(cap, sizeof(double), "history");
    mm->val_loss = rm_calloc(cap, sizeof(double), "history");
    mm->val_accuracy = rm_calloc(cap, sizeof(double), "history");
    if (!mm->train_loss || !mm->val_loss || !mm->val_accuracy) rc = -1;
    const rm_family *family = rm_family_of_member(cfg, m);
    if (rc == 0) rc = family->checkpoint_read(g, mm, cfg, dim, n_params, name);
    hsize_t np = n_params, ne = (hsize_t)epochs;
    if (rc == 0 && epochs > 0) {
        rc = rm_h5_read_dataset(g, "history_train_loss", H5T_NATIVE_DOUBLE, 1, &ne, mm->train_loss, name);
        if (rc == 0) rc = rm_h5_read_dataset(g, "history_val_loss", H5T_NATIVE_DOUBLE, 1, &ne, mm->val_loss, name);
        if (rc == 0) rc = rm_h5_read_dataset(g, "history_val_accuracy", H5T_NATIVE_DOUBLE, 1, &ne, mm->val_accuracy, name);
    }
    mm->epochs_run = epochs;
    mm->best_epoch = (int)row[F_BEST_EPOCH];
    mm->pairs_trained = (long long)row[F_PAIRS];
    mm->score_mean = row[F_MEAN];
    mm->score_std = row[F_STD];
    mm->train_seconds = row[F_SECONDS];
    if (rc == 0 && status == RM_MEMBER_IN_PROGRESS) {
        rm_train_state *st = &s->state;
        rc = rm_train_state_alloc(st, n_params);
        if (rc == 0) rc = rm_h5_read_dataset(g, "adam_m", H5T_NATIVE_FLOAT, 1, &np, st->adam_m, name);
        if (rc == 0) rc = rm_h5_read_dataset(g, "adam_v", H5T_NATIVE_FLOAT, 1, &np, st->adam_v, name);
        if (rc == 0) rc = rm_h5_read_dataset(g, "best_params", H5T_NATIVE_FLOAT, 1, &np, st->best_params, name);
        st->next_epoch = (int)row[F_NEXT_EPOCH];
        st->next_start = (long long)row[F_NEXT_START];
        st->adam_step = (long long)row[F_ADAM_STEP];
        st->epoch_loss = row[F_EPOCH_LOSS];
        st->best_val = row[F_BEST_VAL];
        st->since_best = (int)row[F_SINCE_BEST];
        st->train_time = row[F_TRAIN_TIME];
    }
    H5Gclose(g);
    return rc;
}

int rm_checkpoint_read(const char *path, const char *fingerprint, const rm_settings *cfg, const int *dims,
                       const size_t *n_params, rm_member_slot *slots, int n_members)
{
    hid_t file = rm_h5_open_read(path, MPI_COMM_NULL);
    if (file < 0) return -1;
    char format[64] = "";
    char *saved = NULL;
    long long n = 0, np = 0;
    int rc = rm_h5_read_attr_string(file, "format", format, sizeof format, path);
    if (rc == 0 && strcmp(format, CHECKPOINT_FORMAT) != 0) rc = rm_errorf("%s: not an rmens checkpoint", path);
    if (rc == 0) rc = rm_h5_read_attr_string_alloc(file, "fingerprint", &saved, path);
    if (rc == 0 && strcmp(saved, fingerprint) != 0)
        rc = rm_errorf("%s was written for other settings (%s); the current ones are (%s): resume with the "
                       "original configuration, or start over with --force", path, saved, fingerprint);
    if (rc == 0) rc = rm_h5_read_attr_int(file, "n_members", &n, path);
    if (rc == 0) rc = rm_h5_read_attr_int(file, "n_params", &np, path);
    if (rc == 0 && (n != n_members || (size_t)np != n_params[0]))
        rc = rm_errorf("%s: %lld members, member 0 of %lld parameters; expected %d, of %zu", path, n, np, n_members,
                       n_params[0]);
    for (int m = 0; m < n_members && rc == 0; m++) {
        rc = read_slot(file, m, cfg, dims[m], n_params[m], slots[m].owned || slots[m].trains, &slots[m]);
        if (rc != 0) rm_error_context("%s", path);
    }
    free(saved);
    H5Fclose(file);
    return rc;
}

void rm_member_slot_free(rm_member_slot *s)
{
    rm_member_free(&s->member);
    rm_train_state_free(&s->state);
}
