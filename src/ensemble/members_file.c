/* members.h5: writing the trained members collectively, loading them on every rank
 * (layout in include/rmens/ensemble/members_file.h). */
#include "rmens/ensemble/members_file.h"
#include "rmens/base/common.h"
#include "rmens/member/family.h"
#include "rmens/member/family_mlp.h"
#include "rmens/store/h5util.h"
#include "rmens/store/store_inputs.h"
#include "rmens/base/parallel.h"
#include "rmens/kernels/precision.h"
#include "rmens/base/rng.h"
#include "rmens/member/trunk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MEMBERS_FORMAT "rmens-members"
#define MEMBERS_FORMAT_VERSION 1

/* ---------------------------------------------------------------------------------- */
/* members.h5                                                                           */

/* Per-member scalars exchanged so that every rank can create every member's objects
 * (HDF5 metadata operations are collective). Exactly one rank fills each row, so a
 * summing allreduce is exact. */
enum { META_OWNER, META_EPOCHS_RUN, META_BEST_EPOCH, META_MEAN, META_STD, META_SECONDS, META_PAIRS, META_BYTES, META_FIELDS };

static int write_member_group(hid_t file, const rm_settings *cfg, const rm_member *m, int member, const double *meta,
                              const double *history, int max_epochs, int dim, const char *view, int writer)
{
    char name[64];
    snprintf(name, sizeof name, "member_%d", member);
    hid_t g = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return rm_errorf("cannot create group /%s", name);
    int rc = 0;
    rc |= rm_h5_attr_int(g, "index", member);
    rc |= rm_h5_attr_int(g, "seed", (long long)rm_member_seed((uint64_t)cfg->seed, member));
    rc |= rm_h5_attr_int(g, "dim", dim);
    const rm_family *family = rm_family_of_member(cfg, member);
    rc |= family->write_attrs(g, cfg);
    rc |= rm_h5_attr_double(g, "score_mean", meta[META_MEAN]);
    rc |= rm_h5_attr_double(g, "score_std", meta[META_STD]);
    rc |= rm_h5_attr_int(g, "epochs_run", (long long)meta[META_EPOCHS_RUN]);
    rc |= rm_h5_attr_int(g, "best_epoch", (long long)meta[META_BEST_EPOCH]);
    rc |= rm_h5_attr_int(g, "pairs_trained", (long long)meta[META_PAIRS]);
    if (view) rc |= rm_h5_attr_string(g, "view", view);
    if (rc != 0) {
        H5Gclose(g);
        return rm_error_context("/%s", name);
    }
    rc = family->write(g, cfg, m, dim, (size_t)meta[META_BYTES], writer, name);
    if (rc == 0) {
        hid_t hg = H5Gcreate2(g, "history", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (hg < 0) rc = rm_errorf("cannot create group /%s/history", name);
        hsize_t n = (hsize_t)meta[META_EPOCHS_RUN];
        static const char *series[3] = {"train_loss", "val_loss", "val_accuracy"};
        /* History rows are identical on every rank after the exchange, so rank 0 writes. */
        for (int s = 0; s < 3 && rc == 0; s++)
            rc = rm_h5_write_dataset(hg, series[s], H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &n,
                                     history + (size_t)s * (size_t)max_epochs, writer, 1, name);
        if (hg >= 0) H5Gclose(hg);
    }
    H5Gclose(g);
    return rc;
}

/* /trunk/layer_<l> for every hidden layer of a shared trunk, from head `m` (any head
 * holds the trunk), with the architecture's attributes. Collective; `writer` writes. */
static int write_trunk(hid_t file, const rm_settings *cfg, const rm_member *m, int writer, int dim)
{
    hid_t g = H5Gcreate2(file, RM_TRUNK_GROUP, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return rm_errorf("cannot create group %s", RM_TRUNK_GROUP);
    int rc = rm_h5_attr_int(g, "dim", dim);
    rc |= rm_h5_attr_ints(g, "hidden", cfg->model_hidden, (size_t)cfg->model_n_hidden);
    rc |= rm_h5_attr_int(g, "n_heads", cfg->ensemble_members);
    if (rc == 0) rc = rm_mlp_layers_write(g, cfg, m, dim, 0, cfg->model_n_hidden, writer, "trunk");
    H5Gclose(g);
    return rc;
}

/* /inputs (model.inputs): the views and the moments members standardise with, taken from
 * the store's composite view (added before training). Collective; rank 0 writes. */
static int write_inputs(hid_t file, const rm_settings *cfg, const rm_store *store, int rank, char *view, size_t cap)
{
    if (rm_store_inputs_name(cfg->model_inputs, cfg->model_n_inputs, view, cap) != 0) return -1;
    int v = rm_store_find_view(store, view);
    if (v < 0 || !store->views[v].inputs) return rm_errorf("members.h5: the composite view '%s' was not prepared", view);
    const struct rm_store_inputs *in = store->views[v].inputs;
    hid_t g = H5Gcreate2(file, "inputs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return rm_errorf("cannot create group /inputs");
    const char *names[RM_MAX_VIEWS];
    for (int i = 0; i < cfg->model_n_inputs; i++) names[i] = cfg->model_inputs[i];
    hsize_t n = (hsize_t)in->dim;
    int rc = rm_h5_attr_strings(g, "views", names, (size_t)cfg->model_n_inputs);
    if (rc == 0) rc = rm_h5_attr_int(g, "dim", (long long)in->dim);
    if (rc == 0) rc = rm_h5_write_dataset(g, "mean", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &n, in->mean, rank == 0, 1, "/inputs");
    if (rc == 0) rc = rm_h5_write_dataset(g, "std", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &n, in->std, rank == 0, 1, "/inputs");
    H5Gclose(g);
    return rc;
}

/* The reverse, on the reading rank: e->n_inputs stays 0 without /inputs. */
static int read_inputs(hid_t file, rm_ensemble *e)
{
    htri_t has = H5Lexists(file, "inputs", H5P_DEFAULT);
    if (has < 0) return rm_errorf("/: H5Lexists(inputs) failed");
    if (has == 0) return 0;
    hid_t g = H5Gopen2(file, "inputs", H5P_DEFAULT);
    if (g < 0) return rm_errorf("cannot open group /inputs");
    size_t n = 0;
    long long dim = 0;
    int rc = rm_h5_read_attr_strings(g, "views", &e->inputs[0][0], sizeof e->inputs[0], RM_MAX_VIEWS, &n, "/inputs");
    if (rc == 0) rc = rm_h5_read_attr_int(g, "dim", &dim, "/inputs");
    if (rc == 0 && (n < 1 || dim < 1 || dim > (long long)RM_STORE_INPUTS_MAX_DIM))
        rc = rm_errorf("/inputs: %zu views of %lld features in all: out of range", n, dim);
    if (rc == 0) {
        e->inputs_mean = rm_alloc((size_t)dim, sizeof(double), "inputs mean");
        e->inputs_std = rm_alloc((size_t)dim, sizeof(double), "inputs std");
        rc = e->inputs_mean && e->inputs_std ? 0 : -1;
    }
    hsize_t d = (hsize_t)dim;
    if (rc == 0) rc = rm_h5_read_dataset(g, "mean", H5T_NATIVE_DOUBLE, 1, &d, e->inputs_mean, "/inputs");
    if (rc == 0) rc = rm_h5_read_dataset(g, "std", H5T_NATIVE_DOUBLE, 1, &d, e->inputs_std, "/inputs");
    for (long long j = 0; j < dim && rc == 0; j++)
        if (!(e->inputs_std[j] > 0) || !isfinite(e->inputs_mean[j]))
            rc = rm_errorf("/inputs: feature %lld has mean %g and std %g", j, e->inputs_mean[j], e->inputs_std[j]);
    H5Gclose(g);
    if (rc == 0) e->n_inputs = (int)n, e->inputs_dim = (size_t)dim;
    return rc;
}

/* /inputs from rank 0 to every rank. */
static int bcast_inputs(rm_ensemble *e, MPI_Comm comm, int rank)
{
    MPI_Bcast(&e->n_inputs, 1, MPI_INT, 0, comm);
    if (e->n_inputs == 0) return 0;
    unsigned long long dim = e->inputs_dim;
    MPI_Bcast(&dim, 1, MPI_UNSIGNED_LONG_LONG, 0, comm);
    MPI_Bcast(e->inputs, (int)sizeof e->inputs, MPI_CHAR, 0, comm);
    if (rank != 0) {
        e->inputs_dim = (size_t)dim;
        e->inputs_mean = rm_alloc(e->inputs_dim, sizeof(double), "inputs mean");
        e->inputs_std = rm_alloc(e->inputs_dim, sizeof(double), "inputs std");
    }
    if (rm_all_ok(comm, e->inputs_mean && e->inputs_std ? 0 : -1) != 0) return -1;
    MPI_Bcast(e->inputs_mean, (int)dim, MPI_DOUBLE, 0, comm);
    MPI_Bcast(e->inputs_std, (int)dim, MPI_DOUBLE, 0, comm);
    return 0;
}

/* Collective over comm. local[m] is non-NULL on the rank that owns member m. */
int rm_members_file_write(const char *path, const rm_settings *cfg, const rm_store *store, const rm_pairs *pairs,
                              MPI_Comm comm, rm_member *const *local, int n_members, int dim, double wall_seconds)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int max_epochs = rm_settings_max_epochs(cfg);
    size_t n_meta = (size_t)n_members * META_FIELDS, n_hist = (size_t)n_members * 3 * (size_t)max_epochs;
    double *meta = rm_calloc(n_meta + n_hist, sizeof(double), "members metadata");
    if (rm_all_ok(comm, meta ? 0 : -1) != 0) { free(meta); return -1; }
    double *hist = meta + n_meta;
    for (int m = 0; m < n_members; m++) {
        const rm_member *mm = local[m];
        if (!mm) continue;
        double *row = meta + (size_t)m * META_FIELDS;
        row[META_OWNER] = rank;
        row[META_EPOCHS_RUN] = mm->epochs_run;
        row[META_BEST_EPOCH] = mm->best_epoch;
        row[META_MEAN] = mm->score_mean;
        row[META_STD] = mm->score_std;
        row[META_SECONDS] = mm->train_seconds;
        row[META_PAIRS] = (double)mm->pairs_trained;
        row[META_BYTES] = (double)rm_member_family(mm)->model_bytes(mm);
        rm_member_history_rows(mm, hist + (size_t)m * 3 * (size_t)max_epochs, max_epochs);
    }
    MPI_Allreduce(MPI_IN_PLACE, meta, (int)(n_meta + n_hist), MPI_DOUBLE, MPI_SUM, comm);

    rm_h5_atomic out;
    if (rm_h5_atomic_create(&out, path, comm) != 0) {
        free(meta);
        return -1;
    }
    hid_t file = out.file;
    int rc = 0;
    /* Provenance that is the same for every rank count lives on the root; what depends
     * on the run (ranks, timings) lives in /run, so that the members themselves compare
     * bitwise across rank counts. */
    rc |= rm_h5_attrs_provenance(file, MEMBERS_FORMAT, MEMBERS_FORMAT_VERSION, cfg->config_text, store->path, store->uuid);
    rc |= rm_h5_attr_int(file, "n_members", n_members);
    rc |= rm_h5_attr_int(file, "dim", dim);
    rc |= rm_h5_attr_string(file, "objective", cfg->model_objective);
    /* the labels the members learnt from: what evaluation's calibration draws against */
    rc |= rm_h5_attr_double(file, "reward_scale", pairs->reward_scale);
    rc |= rm_h5_attr_double(file, "label_flip_rate", pairs->label_flip_rate);
    /* the annotator as configured: evaluation's calibration outcomes follow it, not the
     * config eval is given (rmens/eval/eval_calibration.h) */
    rc |= rm_h5_attr_double(file, "annotator_beta", cfg->pairs_annotator_beta);
    rc |= rm_h5_attr_double(file, "label_flip", cfg->pairs_label_flip);
    rc |= rm_h5_attr_double(file, "label_agreement", pairs->label_agreement);
    /* "store": trained on the store's human-labelled pairs (rmens/store/store_pairs.h) */
    rc |= rm_h5_attr_string(file, "pairs_source", cfg->pairs_source);
    rc |= rm_h5_attr_int(file, "n_pairs", (long long)pairs->n);
    /* the validation split and its realised leak (train.val_split) */
    rc |= rm_h5_attr_string(file, "val_split", pairs->split_rule ? pairs->split_rule : cfg->train_val_split);
    rc |= rm_h5_attr_int(file, "n_train_pairs", (long long)pairs->n_train);
    rc |= rm_h5_attr_int(file, "n_val_pairs", (long long)pairs->n_val);
    rc |= rm_h5_attr_double(file, "val_prompt_overlap", pairs->val_prompt_overlap);
    rc |= rm_h5_attr_double(file, "val_item_overlap", pairs->val_item_overlap);
    rc |= rm_h5_attr_string(file, "ensemble_kind", cfg->ensemble_kind);
    rc |= rm_h5_attr_int(file, "shared_init", cfg->ensemble_shared_init ? 1 : 0); /* eval's warm needs 1 (rmens/eval/warm.h) */
    /* the train responses the members' score mean and std come from: eval's warm models
     * are standardised on the same ones */
    rc |= rm_h5_attr_int(file, "standardise_responses", cfg->train_standardise_responses);
    char inputs_view[64] = "";
    if (rc == 0 && cfg->model_n_inputs > 0) rc = write_inputs(file, cfg, store, rank, inputs_view, sizeof inputs_view);
    /* a trunk's input is its members' view: the composite, ensemble.views[0], or the default */
    const char *trunk_view = inputs_view[0] ? inputs_view : cfg->ensemble_n_views > 0 ? cfg->ensemble_views[0] : NULL;
    int trunk_index = trunk_view ? rm_store_find_view(store, trunk_view) : 0;
    if (trunk_index < 0) rc = -1;
    int trunk_dim = trunk_view && trunk_index > 0 ? (int)rm_store_view_dim(store, trunk_index) : dim;
    if (rc == 0 && rm_settings_shared_trunk(cfg))
        rc = write_trunk(file, cfg, local[0], (int)meta[META_OWNER] == rank, trunk_dim);
    for (int m = 0; m < n_members && rc == 0; m++) {
        const double *row = meta + (size_t)m * META_FIELDS;
        int writer = (int)row[META_OWNER] == rank;
        /* ensemble.views: member m's view and its D (resolved before training) */
        const char *view = cfg->ensemble_n_views > 0 ? cfg->ensemble_views[m % cfg->ensemble_n_views] : NULL;
        if (inputs_view[0]) view = inputs_view; /* model.inputs: every member on the composite */
        int view_index = view ? rm_store_find_view(store, view) : 0;
        if (view_index < 0) { /* the same verdict on every rank: they resolve the same names */
            rc = -1;
            break;
        }
        int member_dim = view ? (int)rm_store_view_dim(store, view_index) : dim;
        rc = write_member_group(file, cfg, local[m], m, row, hist + (size_t)m * 3 * (size_t)max_epochs, max_epochs,
                                member_dim, view, writer);
    }
    if (rc == 0) {
        hid_t run = H5Gcreate2(file, "run", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (run < 0) rc = rm_errorf("cannot create group /run");
        else {
            rc |= rm_h5_attr_int(run, "ranks", size);
            rc |= rm_h5_attr_int(run, "ranks_per_member", cfg->parallel_ranks_per_member);
            rc |= rm_h5_attr_double(run, "wall_seconds", wall_seconds);
            rc |= rm_h5_attrs_precision(run);
            hsize_t n = (hsize_t)n_members;
            double *seconds = rm_alloc((size_t)n_members * 2, sizeof(double), "run timings");
            if (!seconds) rc = -1;
            else {
                for (int m = 0; m < n_members; m++) {
                    seconds[m] = meta[(size_t)m * META_FIELDS + META_SECONDS];
                    seconds[n_members + m] = meta[(size_t)m * META_FIELDS + META_OWNER];
                }
                if (rc == 0) rc = rm_h5_write_dataset(run, "member_train_seconds", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &n, seconds, rank == 0, 1, "/run");
                if (rc == 0) rc = rm_h5_write_dataset(run, "member_owner_rank", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &n, seconds + n_members, rank == 0, 1, "/run");
                free(seconds);
            }
            H5Gclose(run);
        }
    }
    free(meta);
    return rm_h5_atomic_finish(&out, rc);
}

/* ---------------------------------------------------------------------------------- */
/* Loading                                                                              */

static int read_member(hid_t file, int m, rm_member *out, int *dim_io, char *objective, char *view)
{
    char name[64];
    snprintf(name, sizeof name, "member_%d", m);
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return rm_errorf("group /%s is missing", name);
    hid_t g = H5Gopen2(file, name, H5P_DEFAULT);
    if (g < 0) return rm_errorf("cannot open group /%s", name);
    long long dim = 0, epochs = 0, best = 0, pairs = 0, seed = 0;
    char obj[16], family_name[16] = "mlp"; /* files from before the families have MLPs only */
    int rc = 0;
    rc |= rm_h5_read_attr_int(g, "dim", &dim, name);
    if (rc == 0 && H5Aexists(g, "family") > 0) rc = rm_h5_read_attr_string(g, "family", family_name, sizeof family_name, name);
    char key[80];
    snprintf(key, sizeof key, "/%s: family", name);
    const rm_family *family = rc == 0 ? rm_family_named(family_name, key) : NULL;
    if (!family) rc = -1;
    if (rc == 0) rc |= rm_h5_read_attr_string(g, "objective", obj, sizeof obj, name);
    if (rc == 0) rc |= rm_h5_read_attr_double(g, "score_mean", &out->score_mean, name);
    if (rc == 0) rc |= rm_h5_read_attr_double(g, "score_std", &out->score_std, name);
    if (rc == 0) rc |= rm_h5_read_attr_int(g, "epochs_run", &epochs, name);
    if (rc == 0) rc |= rm_h5_read_attr_int(g, "best_epoch", &best, name);
    if (rc == 0) rc |= rm_h5_read_attr_int(g, "pairs_trained", &pairs, name);
    if (rc == 0) rc |= rm_h5_read_attr_int(g, "seed", &seed, name);
    htri_t has_view = rc == 0 ? H5Aexists(g, "view") : 0;
    if (has_view < 0) rc = rm_errorf("/%s: H5Aexists(view) failed", name);
    if (has_view > 0) rc = rm_h5_read_attr_string(g, "view", view, 64, name);
    if (rc == 0 && (dim < 1 || dim > 1000000)) rc = rm_errorf("/%s: dim %lld is out of range", name, dim);
    /* members of different views may differ in dim: eval checks each against its view */
    if (rc == 0 && !view[0] && *dim_io > 0 && dim != *dim_io)
        rc = rm_errorf("/%s has dim %lld but member_0 has %d", name, dim, *dim_io);
    if (rc == 0 && objective[0] && strcmp(obj, objective) != 0)
        rc = rm_errorf("/%s has objective '%s' but member_0 has '%s'", name, obj, objective);
    if (rc == 0 && !(out->score_std > 0)) rc = rm_errorf("/%s: score_std must be > 0", name);
    if (rc == 0) rc = family->read(g, out, (int)dim, name);
    H5Gclose(g);
    if (rc != 0) return -1;
    out->index = m;
    out->seed = (uint64_t)seed;
    out->epochs_run = (int)epochs;
    out->best_epoch = (int)best;
    out->pairs_trained = pairs;
    if (*dim_io <= 0) *dim_io = (int)dim; /* member_0's */
    if (!objective[0]) snprintf(objective, 16, "%s", obj);
    return 0;
}

/* Broadcast a member from `root`: its family and scalars, then the family's model. */
int rm_member_bcast(rm_member *m, MPI_Comm comm, int rank, int root)
{
    int id = rank == root ? rm_family_id(rm_member_family(m)) : 0;
    MPI_Bcast(&id, 1, MPI_INT, root, comm);
    const rm_family *family = rm_family_from_id(id);
    double scalars[2] = {m->score_mean, m->score_std};
    long long ints[5] = {m->index, (long long)m->seed, m->epochs_run, m->best_epoch, m->pairs_trained};
    MPI_Bcast(scalars, 2, MPI_DOUBLE, root, comm);
    MPI_Bcast(ints, 5, MPI_LONG_LONG, root, comm);
    if (rank != root) {
        m->score_mean = scalars[0];
        m->score_std = scalars[1];
        m->index = (int)ints[0];
        m->seed = (uint64_t)ints[1];
        m->epochs_run = (int)ints[2];
        m->best_epoch = (int)ints[3];
        m->pairs_trained = ints[4];
        m->family = family;
    }
    return family->bcast(m, comm, rank, root);
}

int rm_ensemble_load(rm_ensemble *e, const char *path, MPI_Comm comm, int expect_dim)
{
    memset(e, 0, sizeof *e);
    int rank;
    MPI_Comm_rank(comm, &rank);
    int rc = 0;
    long long n_members = 0, shared_init = 0;
    hid_t file = -1;
    if (rank == 0) {
        /* Members are small: one rank reads with the serial driver and broadcasts. */
        file = rm_h5_open_read(path, MPI_COMM_NULL); /* its message names the path */
        rc = file < 0 ? -1 : 0;
        char format[64] = "";
        if (rc == 0) rc = rm_h5_read_attr_string(file, "format", format, sizeof format, "/");
        if (rc == 0 && strcmp(format, MEMBERS_FORMAT) != 0)
            rc = rm_errorf("format is '%s', expected '%s'", format, MEMBERS_FORMAT);
        if (rc == 0) rc = rm_h5_read_attr_int(file, "n_members", &n_members, "/");
        if (rc == 0 && (n_members < 1 || n_members > 100000)) rc = rm_errorf("n_members %lld is out of range", n_members);
        if (rc == 0) rc = rm_h5_read_attr_string(file, "store_uuid", e->store_uuid, sizeof e->store_uuid, "/");
        if (rc == 0) rc = rm_h5_read_attr_string_alloc(file, "config", &e->config_text, "/");
        /* files from before ensemble.shared_init have no attribute: independent initialisations */
        htri_t has_shared = rc == 0 ? H5Aexists(file, "shared_init") : 0;
        if (has_shared < 0) rc = rm_errorf("/: H5Aexists(shared_init) failed");
        if (has_shared > 0) rc = rm_h5_read_attr_int(file, "shared_init", &shared_init, "/");
        if (rc == 0 && shared_init != 0 && shared_init != 1)
            rc = rm_errorf("root attribute shared_init = %lld: expected 0 or 1", shared_init);
        /* files from before ensemble.kind: independent members */
        char kind[32] = "independent";
        htri_t has_kind = rc == 0 ? H5Aexists(file, "ensemble_kind") : 0;
        if (has_kind < 0) rc = rm_errorf("/: H5Aexists(ensemble_kind) failed");
        if (has_kind > 0) rc = rm_h5_read_attr_string(file, "ensemble_kind", kind, sizeof kind, "/");
        if (rc == 0 && strcmp(kind, "independent") != 0 && strcmp(kind, "shared_trunk") != 0)
            rc = rm_errorf("root attribute ensemble_kind = \"%s\": expected \"independent\" or \"shared_trunk\"", kind);
        e->shared_trunk = rc == 0 && strcmp(kind, "shared_trunk") == 0;
        /* files from before train.standardise_responses: -1, not recorded */
        e->standardise_responses = -1;
        htri_t has_sample = rc == 0 ? H5Aexists(file, "standardise_responses") : 0;
        if (has_sample < 0) rc = rm_errorf("/: H5Aexists(standardise_responses) failed");
        if (has_sample > 0) rc = rm_h5_read_attr_int(file, "standardise_responses", &e->standardise_responses, "/");
        if (rc == 0 && has_sample > 0 && e->standardise_responses < 0)
            rc = rm_errorf("root attribute standardise_responses = %lld: expected 0 or more", e->standardise_responses);
    }
    MPI_Bcast(&n_members, 1, MPI_LONG_LONG, 0, comm);
    MPI_Bcast(&shared_init, 1, MPI_LONG_LONG, 0, comm);
    MPI_Bcast(&e->shared_trunk, 1, MPI_INT, 0, comm);
    MPI_Bcast(&e->standardise_responses, 1, MPI_LONG_LONG, 0, comm);
    e->shared_init = shared_init == 1;
    if (rm_all_ok(comm, rc) != 0) goto fail;
    e->members = rm_calloc((size_t)n_members, sizeof(rm_member), "members");
    e->member_view = rm_calloc((size_t)n_members, sizeof *e->member_view, "member views");
    if (rm_all_ok(comm, e->members && e->member_view ? 0 : -1) != 0) goto fail;
    e->n_members = (int)n_members;
    int dim = 0, with_views = 0;
    for (int m = 0; m < e->n_members; m++) {
        if (rank == 0) rc = read_member(file, m, &e->members[m], &dim, e->objective, e->member_view[m]);
        if (rm_all_ok(comm, rc) != 0) goto fail;
        if (rm_member_bcast(&e->members[m], comm, rank, 0) != 0) goto fail;
    }
    MPI_Bcast(e->member_view, (int)(n_members * (long long)sizeof *e->member_view), MPI_CHAR, 0, comm);
    if (rank == 0) rc = read_inputs(file, e);
    if (rm_all_ok(comm, rc) != 0 || bcast_inputs(e, comm, rank) != 0) goto fail;
    for (int m = 0; m < e->n_members; m++) with_views |= e->member_view[m][0] != '\0';
    MPI_Bcast(&dim, 1, MPI_INT, 0, comm);
    MPI_Bcast(e->objective, sizeof e->objective, MPI_CHAR, 0, comm);
    MPI_Bcast(e->store_uuid, sizeof e->store_uuid, MPI_CHAR, 0, comm);
    e->dim = dim;
    if (rank == 0) H5Fclose(file);
    file = -1;
    if (expect_dim > 0 && !with_views && dim != expect_dim) {
        rm_errorf("members have dim %d but the store has dim %d", dim, expect_dim);
        goto fail;
    }
    return 0;
fail:
    if (file >= 0) H5Fclose(file);
    rm_ensemble_free(e);
    /* Name the file once: lower layers may have named it already. */
    if (strncmp(rm_last_error(), path, strlen(path)) != 0) rm_error_context("%s", path);
    return -1;
}

void rm_ensemble_free(rm_ensemble *e)
{
    for (int m = 0; m < e->n_members; m++) rm_member_free(&e->members[m]);
    free(e->members);
    free(e->member_view);
    free(e->config_text);
    free(e->inputs_mean);
    free(e->inputs_std);
    memset(e, 0, sizeof *e);
}

