/* The embedding store, reading half (see include/rmens/store/store.h): open and validate,
 * range reads, whole-store scans for `rmens inspect`, and the --verify pass. */
#include "store_internal.h"
#include "rmens/store/store_pairs.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rmens/base/common.h"
#include "rmens/base/parallel.h"

static int read_group_digest(rm_store *s, rm_store_group g) { return store_read_digest_at(s, STORE_GROUP_PATHS[g], s->digest[g]); }



/* Open view v's datasets (names in s->views[v].name) and check them against the default
 * view: the same prompts and responses, one D, bench exactly when the default has one. */
static int open_view(rm_store *s, int v)
{
    rm_store_view *w = &s->views[v];
    static const char *const leaf[4] = {"train/embeddings", "test/embeddings", "bench/chosen", "bench/rejected"};
    for (int i = 0; i < 4; i++) snprintf(w->paths[i], sizeof w->paths[i], "/views/%s/%s", w->name, leaf[i]);
    snprintf(w->paths[4], sizeof w->paths[4], "/views/%s", w->name);
    for (int sp = 0; sp < 2 && s->has_golden; sp++) {
        hsize_t d[3] = {0};
        char group[192];
        snprintf(group, sizeof group, "/views/%s/%s", w->name, STORE_SPLIT_NAMES[sp]);
        if (store_open_checked_dataset(s, w->paths[sp], 3, 1, &w->embeddings[sp], d, &w->dtype[sp], &w->checksum_embeddings[sp]) != 0 ||
            store_read_digest_at(s, group, w->digest[sp]) != 0)
            return -1;
        if (d[0] != s->split[sp].n_prompts || d[1] != s->split[sp].n_responses)
            return rm_errorf("%s: view '%s': %s has %llu prompts x %llu responses but %s has %zu x %zu: a view embeds the "
                             "same responses", s->path, w->name, w->paths[sp], (unsigned long long)d[0],
                             (unsigned long long)d[1], STORE_EMBEDDING_PATHS[sp], s->split[sp].n_prompts,
                             s->split[sp].n_responses);
        if (sp == 1 && d[2] != w->dim)
            return rm_errorf("%s: view '%s': %s has dimension %llu but %s has %zu", s->path, w->name, w->paths[1],
                             (unsigned long long)d[2], w->paths[0], w->dim);
        w->dim = (size_t)d[2];
    }
    if (s->has_pairs && store_view_pairs_open(s, v) != 0) return -1;
    if (s->n_bench == 0) return 0;
    char group[192];
    snprintf(group, sizeof group, "/views/%s/bench", w->name);
    for (int b = 0; b < 2; b++) {
        hsize_t d[3] = {0};
        rm_dtype t;
        if (store_open_checked_dataset(s, w->paths[2 + b], 2, 1, &w->bench[b], d, &t, &w->checksum_bench[b]) != 0) return -1;
        if (d[0] != s->n_bench || d[1] != w->dim)
            return rm_errorf("%s: view '%s': %s is [%llu, %llu], expected [%zu, %zu] (the default view's pairs, the view's D)",
                             s->path, w->name, w->paths[2 + b], (unsigned long long)d[0], (unsigned long long)d[1],
                             s->n_bench, w->dim);
        w->bench_dtype = t;
    }
    return store_read_digest_at(s, group, w->digest[RM_GROUP_BENCH]);
}

/* format_version 2: the `views` attribute and every view it names. */
static int validate_views(rm_store *s)
{
    char names[RM_STORE_MAX_VIEWS][64], what[1100];
    size_t count = 0;
    store_object_what(s, "/", what, sizeof what);
    int exists = rm_h5_attr_exists(s->file, "views", what);
    if (exists < 0) return -1;
    if (!exists) return rm_errorf("%s: format_version 2 but root attribute 'views' is missing", s->path);
    if (rm_h5_read_attr_strings(s->file, "views", names[0], sizeof names[0], RM_STORE_MAX_VIEWS, &count, what) != 0)
        return -1;
    if (count < 1) return rm_errorf("%s: root attribute 'views' has no names (expected 1 to %d)", s->path, RM_STORE_MAX_VIEWS);
    int n = (int)count;
    for (int v = 0; v < n; v++) {
        if (!store_view_name_ok(names[v]))
            return rm_errorf("%s: root attribute 'views': invalid view name '%s' (1-63 of A-Z a-z 0-9 _ . -)", s->path, names[v]);
        for (int u = 0; u < v; u++)
            if (strcmp(names[u], names[v]) == 0) return rm_errorf("%s: root attribute 'views' names '%s' twice", s->path, names[v]);
        snprintf(s->views[v].name, sizeof s->views[v].name, "%.63s", names[v]); /* checked above: <= 63 characters */
    }
    s->n_views = n;
    for (int v = 1; v < n; v++)
        if (open_view(s, v) != 0) return -1;
    return 0;
}

/* Everything after the file is open: attributes, datasets, shapes, filters. Local (the
 * metadata is the same on every rank, so all ranks reach the same verdict). */
int store_validate_open(rm_store *s)
{
    char format[64], what[1100];
    store_object_what(s, "/", what, sizeof what);
    int rc = store_read_optional_string(s->file, "format", format, sizeof format, what);
    if (rc < 0) return -1;
    if (rc == 1) return rm_errorf("%s: not an rmens store (root attribute 'format' is missing)", s->path);
    if (strcmp(format, RM_STORE_FORMAT) != 0)
        return rm_errorf("%s: not an rmens store (root attribute format = '%s', expected '%s')", s->path, format, RM_STORE_FORMAT);
    long long version = 0;
    int exists = rm_h5_attr_exists(s->file, "format_version", what);
    if (exists < 0) return -1;
    if (!exists) return rm_errorf("%s: not an rmens store (root attribute 'format_version' is missing)", s->path);
    if (rm_h5_read_attr_int_exact(s->file, "format_version", &version, what) != 0) return -1;
    if (version != RM_STORE_FORMAT_VERSION && version != RM_STORE_FORMAT_VERSION_VIEWS)
        return rm_errorf("%s: unsupported format_version %lld (this rmens reads %d and %d)", s->path, version,
                         RM_STORE_FORMAT_VERSION, RM_STORE_FORMAT_VERSION_VIEWS);
    s->format_version = (int)version;
    /* descriptive, "" when absent */
    if (store_read_optional_string(s->file, "embed_model", s->embed_model, sizeof s->embed_model, what) < 0 ||
        store_read_optional_string(s->file, "response_model", s->response_model, sizeof s->response_model, what) < 0 ||
        store_read_optional_string(s->file, "task", s->task, sizeof s->task, what) < 0 ||
        store_read_optional_string(s->file, "store_uuid", s->uuid, sizeof s->uuid, what) < 0)
        return -1;

    /* /train and /test may be absent in a store of preference pairs alone */
    htri_t has_train = H5Lexists(s->file, "/train", H5P_DEFAULT), has_pairs = H5Lexists(s->file, "/pairs", H5P_DEFAULT);
    if (has_train < 0 || has_pairs < 0) return rm_h5_fail(s->path, "/train", "H5Lexists");
    s->has_golden = has_train > 0 || has_pairs == 0;
    for (int sp = 0; sp < 2 && s->has_golden; sp++) {
        hsize_t edims[3] = {0}, rdims[3] = {0};
        rm_dtype rtype;
        if (store_open_checked_dataset(s, STORE_EMBEDDING_PATHS[sp], 3, 1, &s->embeddings[sp], edims, &s->split[sp].dtype,
                                 &s->checksum_embeddings[sp]) != 0 ||
            store_open_checked_dataset(s, STORE_REWARD_PATHS[sp], 2, 0, &s->rewards[sp], rdims, &rtype, &s->checksum_rewards[sp]) != 0 ||
            read_group_digest(s, (rm_store_group)sp) != 0)
            return -1;
        if (rdims[0] != edims[0] || rdims[1] != edims[1])
            return rm_errorf("%s: %s has shape [%llu, %llu] but %s has [%llu, %llu, %llu]: prompts and responses must agree",
                             s->path, STORE_REWARD_PATHS[sp], (unsigned long long)rdims[0], (unsigned long long)rdims[1],
                             STORE_EMBEDDING_PATHS[sp], (unsigned long long)edims[0], (unsigned long long)edims[1],
                             (unsigned long long)edims[2]);
        if (sp == 1 && edims[2] != s->dim)
            return rm_errorf("%s: %s has dimension %llu but %s has %zu", s->path, STORE_EMBEDDING_PATHS[1],
                             (unsigned long long)edims[2], STORE_EMBEDDING_PATHS[0], s->dim);
        s->split[sp].n_prompts = (size_t)edims[0];
        s->split[sp].n_responses = (size_t)edims[1];
        s->dim = (size_t)edims[2];
        size_t total;
        if (rm_size_mul3(s->split[sp].n_prompts, s->split[sp].n_responses, s->dim * 4, &total, STORE_EMBEDDING_PATHS[sp]) != 0)
            return rm_error_context("%s", s->path);
    }

    htri_t has_bench = H5Lexists(s->file, "/bench", H5P_DEFAULT);
    if (has_bench < 0) return rm_h5_fail(s->path, "/bench", "H5Lexists");
    s->n_bench = 0;
    if (has_bench) {
        hsize_t dims[2][3] = {{0}};
        rm_dtype types[2];
        for (int b = 0; b < 2; b++)
            if (store_open_checked_dataset(s, STORE_BENCH_PATHS[b], 2, 1, &s->bench[b], dims[b], &types[b], &s->checksum_bench[b]) != 0)
                return -1;
        if (read_group_digest(s, RM_GROUP_BENCH) != 0) return -1;
        if (dims[0][0] != dims[1][0] || dims[0][1] != dims[1][1] || types[0] != types[1])
            return rm_errorf("%s: /bench/chosen [%llu, %llu] %s and /bench/rejected [%llu, %llu] %s disagree", s->path,
                             (unsigned long long)dims[0][0], (unsigned long long)dims[0][1], rm_dtype_name(types[0]),
                             (unsigned long long)dims[1][0], (unsigned long long)dims[1][1], rm_dtype_name(types[1]));
        if (dims[0][1] != s->dim)
            return rm_errorf("%s: /bench/chosen has dimension %llu but the embeddings have %zu", s->path,
                             (unsigned long long)dims[0][1], s->dim);
        s->n_bench = (size_t)dims[0][0];
        s->bench_dtype = types[0];
    }
    if (has_pairs > 0 && store_pairs_open(s) != 0) return -1;
    rm_store_view *v0 = &s->views[0];
    v0->dim = s->dim;
    v0->dtype[0] = s->split[0].dtype, v0->dtype[1] = s->split[1].dtype, v0->bench_dtype = s->bench_dtype;
    return s->format_version == RM_STORE_FORMAT_VERSION_VIEWS ? validate_views(s) : 0;
}

int rm_store_open(rm_store *s, const char *path, MPI_Comm comm)
{
    rm_h5_quiet();
    store_reset(s);
    if (strlen(path) >= sizeof s->path) {
        rm_errorf("store path too long: %s", path);
        return rm_all_ok(comm, -1);
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    int rc = 0;
    if (access(path, R_OK) != 0) rc = rm_errorf("cannot read store %s: %s", path, strerror(errno));
    else {
        htri_t is_hdf5 = H5Fis_hdf5(path);
        if (is_hdf5 <= 0) rc = rm_errorf("%s: not an HDF5 file", path);
    }
    /* H5Fopen is collective: nobody may enter it unless everybody will. */
    if (rm_all_ok(comm, rc) != 0) return -1;
    if (rm_mpi_check(MPI_Comm_dup(comm, &s->comm), "MPI_Comm_dup") != 0) return rm_all_ok(comm, -1);
    hid_t fapl = rm_h5_file_access(path, s->comm);
    rc = fapl < 0 ? -1 : 0;
    if (rm_all_ok(comm, rc) != 0) {
        if (fapl >= 0) H5Pclose(fapl);
        rm_store_close(s);
        return -1;
    }
    s->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (s->file < 0) rc = rm_h5_fail(path, "/", "H5Fopen"); /* before the close clears HDF5's stack */
    H5Pclose(fapl);
    if (rm_all_ok(comm, rc) != 0) {
        rm_store_close(s);
        return -1;
    }
    rc = store_validate_open(s);
    if (rm_all_ok(comm, rc) != 0) {
        rm_store_close(s);
        return -1;
    }
    return 0;
}


int rm_store_open_for_run(rm_store *s, const rm_settings *cfg, MPI_Comm comm)
{
    if (rm_store_open(s, cfg->store, comm) != 0) return -1;
    s->read_chunk_bytes = (size_t)cfg->parallel_read_chunk_mb << 20;
    int rc = 0;
    if (strcmp(cfg->pairs_source, "store") == 0) rc = rm_store_use_pairs(s);
    else if (!s->has_golden)
        rc = rm_all_ok(comm, rm_errorf("%s holds human-labelled pairs only (no golden rewards): set pairs.source = \"store\" "
                                       "(configs/pairs.cfg)", s->path));
    if (rc != 0) {
        rm_store_close(s);
        return -1;
    }
    return 0;
}

int rm_store_read_embeddings(rm_store *s, rm_split split, size_t p0, size_t p1, float *out)
{
    if (s->pairs_presented) return store_pairs_read_rows(s, 0, split, p0, p1, out);
    AGREE_ON_RANGE(s, STORE_EMBEDDING_PATHS[split], p0, p1, s->split[split].n_prompts);
    transfer_target t = store_embeddings_target(s, split);
    return store_read_rows(s, &t, p0, p1, out, CHECK_FAIL, NULL);
}

int rm_store_read_rewards(rm_store *s, rm_split split, size_t p0, size_t p1, float *out)
{
    if (s->pairs_presented) return store_pairs_read_labels(s, split, p0, p1, out);
    AGREE_ON_RANGE(s, STORE_REWARD_PATHS[split], p0, p1, s->split[split].n_prompts);
    transfer_target t = store_rewards_target(s, split);
    return store_read_rows(s, &t, p0, p1, out, CHECK_FAIL, NULL);
}

int rm_store_find_view(const rm_store *s, const char *name)
{
    char list[1024] = "";
    size_t used = 0;
    for (int v = 0; v < s->n_views; v++) {
        if (strcmp(s->views[v].name, name) == 0) return v;
        used += (size_t)snprintf(list + used, used < sizeof list ? sizeof list - used : 0, "%s%s", v ? ", " : "",
                                 s->views[v].name);
    }
    rm_errorf("%s: no view '%s' (the store's views: %s)", s->path, name, list);
    return -1;
}

size_t rm_store_view_dim(const rm_store *s, int view) { return view == 0 ? s->dim : s->views[view].dim; }

static int check_view_index(const rm_store *s, int view)
{
    if (view < 0 || view >= s->n_views) return rm_errorf("%s: view %d does not exist (%d views)", s->path, view, s->n_views);
    return 0;
}

int rm_store_read_view_embeddings(rm_store *s, int view, rm_split split, size_t p0, size_t p1, float *out)
{
    if (rm_all_ok(s->comm, check_view_index(s, view)) != 0) return -1;
    if (s->views[view].ops) return s->views[view].ops->read_rows(s, view, (int)split, p0, p1, out);
    if (s->pairs_presented) return store_pairs_read_rows(s, view, split, p0, p1, out);
    transfer_target t = store_view_embeddings_target(s, view, split);
    AGREE_ON_RANGE(s, t.name, p0, p1, s->split[split].n_prompts);
    return store_read_rows(s, &t, p0, p1, out, CHECK_FAIL, NULL);
}

int rm_store_read_view_items(rm_store *s, int view, rm_split split, size_t p0, size_t p1, const uint8_t *wanted,
                             float *out)
{
    if (rm_all_ok(s->comm, check_view_index(s, view)) != 0) return -1;
    /* derived views and presented pairs: every row, as rm_store_read_view_embeddings */
    if (!wanted || s->views[view].ops || s->pairs_presented) return rm_store_read_view_embeddings(s, view, split, p0, p1, out);
    transfer_target t = store_view_embeddings_target(s, view, split);
    AGREE_ON_RANGE(s, t.name, p0, p1, s->split[split].n_prompts);
    return store_read_rows_wanted(s, &t, p0, p1, out, CHECK_FAIL, NULL, wanted);
}

int rm_store_read_view_bench(rm_store *s, int view, size_t i0, size_t i1, float *chosen, float *rejected)
{
    if (view == 0) return rm_store_read_bench(s, i0, i1, chosen, rejected);
    if (rm_all_ok(s->comm, check_view_index(s, view)) != 0) return -1;
    if (s->views[view].ops) return s->views[view].ops->read_bench(s, view, i0, i1, chosen, rejected);
    if (rm_all_ok(s->comm, s->n_bench == 0 ? rm_errorf("%s: the store has no /bench", s->path) : 0) != 0) return -1;
    transfer_target c = store_view_bench_target(s, view, 0), r = store_view_bench_target(s, view, 1);
    AGREE_ON_RANGE(s, c.name, i0, i1, s->n_bench);
    if (store_read_rows(s, &c, i0, i1, chosen, CHECK_FAIL, NULL) != 0) return -1;
    return store_read_rows(s, &r, i0, i1, rejected, CHECK_FAIL, NULL);
}

int rm_store_read_bench(rm_store *s, size_t i0, size_t i1, float *chosen, float *rejected)
{
    if (rm_all_ok(s->comm, s->n_bench == 0 ? rm_errorf("%s: the store has no /bench", s->path) : 0) != 0) return -1;
    AGREE_ON_RANGE(s, STORE_BENCH_PATHS[0], i0, i1, s->n_bench);
    transfer_target c = store_bench_target(s, 0), r = store_bench_target(s, 1);
    if (store_read_rows(s, &c, i0, i1, chosen, CHECK_FAIL, NULL) != 0) return -1;
    return store_read_rows(s, &r, i0, i1, rejected, CHECK_FAIL, NULL);
}

/* ---- scanning (inspect) ---- */

/* Read every row of t, this rank's share, in pieces of one read_chunk_bytes buffer, and
 * hand each piece to `visit`. The number of collective reads is agreed on first. */
static int scan_rows(rm_store *s, const transfer_target *t, size_t n_rows,
                     void (*visit)(const float *v, size_t rows, size_t row_len, void *acc), void *acc, uint64_t *digest)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(s->comm, &rank);
    MPI_Comm_size(s->comm, &size);
    size_t begin, end;
    rm_partition(n_rows, size, rank, &begin, &end);
    size_t row_len = t->n1 * t->n2;
    size_t rows_per_step = s->read_chunk_bytes / (row_len * 4);
    if (rows_per_step == 0) rows_per_step = 1;
    unsigned long long mine = (end - begin + rows_per_step - 1) / rows_per_step, most = 0;
    if (rm_mpi_check(MPI_Allreduce(&mine, &most, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, s->comm), "MPI_Allreduce") != 0)
        return -1;
    size_t buf_rows = end - begin < rows_per_step ? end - begin : rows_per_step;
    float *buf = rm_alloc(buf_rows * row_len, sizeof *buf, "scan buffer");
    if (rm_all_ok(s->comm, buf ? 0 : -1) != 0) {
        free(buf);
        return -1;
    }
    int rc = 0;
    for (unsigned long long i = 0; i < most && rc == 0; i++) {
        size_t r0 = begin + (size_t)i * rows_per_step, r1 = r0 + rows_per_step;
        if (r0 > end) r0 = end;
        if (r1 > end) r1 = end;
        rc = store_read_rows(s, t, r0, r1, buf, CHECK_NONE, digest); /* agreed: all ranks stop together */
        if (rc == 0 && r1 > r0) visit(buf, r1 - r0, row_len, acc);
        if (rc == 0) rm_progress_advance(s->progress, (double)(r1 - r0) * (double)row_len);
    }
    free(buf);
    return rc;
}

typedef struct {
    double count, nonfinite, sum, sumsq, min, max; /* double: exact counts up to 2^53 */
    double norm_sum, norm_rows;
    size_t inner; /* embeddings: D (norm per response row) */
} scan_acc;

static void visit_embeddings(const float *v, size_t rows, size_t row_len, void *p)
{
    scan_acc *a = p;
    size_t n = rows * row_len;
    a->count += (double)n;
    a->nonfinite += (double)store_count_nonfinite(v, n);
    for (size_t r = 0; r < n / a->inner; r++) {
        const float *x = v + r * a->inner;
        double ss = 0;
        for (size_t d = 0; d < a->inner; d++) ss += (double)x[d] * x[d];
        if (isfinite(ss)) {
            a->norm_sum += sqrt(ss);
            a->norm_rows += 1;
        }
    }
}

static void visit_rewards(const float *v, size_t rows, size_t row_len, void *p)
{
    scan_acc *a = p;
    size_t n = rows * row_len;
    a->count += (double)n;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            a->nonfinite += 1;
            continue;
        }
        a->sum += v[i];
        a->sumsq += (double)v[i] * v[i];
        if (v[i] < a->min) a->min = v[i];
        if (v[i] > a->max) a->max = v[i];
    }
}

static int reduce_acc(MPI_Comm comm, scan_acc *a)
{
    double sums[6] = {a->count, a->nonfinite, a->sum, a->sumsq, a->norm_sum, a->norm_rows}, tot[6];
    double mn = a->min, mx = -a->max, ext[2] = {mn, mx}, ext_tot[2];
    if (rm_mpi_check(MPI_Allreduce(sums, tot, 6, MPI_DOUBLE, MPI_SUM, comm), "MPI_Allreduce") != 0 ||
        rm_mpi_check(MPI_Allreduce(ext, ext_tot, 2, MPI_DOUBLE, MPI_MIN, comm), "MPI_Allreduce") != 0)
        return -1;
    a->count = tot[0]; a->nonfinite = tot[1]; a->sum = tot[2]; a->sumsq = tot[3];
    a->norm_sum = tot[4]; a->norm_rows = tot[5];
    a->min = ext_tot[0];
    a->max = -ext_tot[1];
    return 0;
}

/* A presented pair split (rm_store_use_pairs, or a store of pairs alone): the embeddings are
 * the chosen then the rejected rows, the rewards the human label (1 chosen, 0 rejected). */
static int scan_pair_split(rm_store *s, rm_split split, rm_split_stats *out)
{
    scan_acc e = {0};
    e.inner = s->pairs_dim;
    for (int which = 0; which < 2; which++) {
        transfer_target t = store_pair_target(s, 0, (int)split, which);
        if (scan_rows(s, &t, s->pairs[split].n, visit_embeddings, &e, NULL) != 0) return -1;
    }
    if (reduce_acc(s->comm, &e) != 0) return rm_all_ok(s->comm, -1);
    out->embedding_values = (size_t)e.count;
    out->embedding_nonfinite = (size_t)e.nonfinite;
    out->embedding_mean_norm = e.norm_rows > 0 ? e.norm_sum / e.norm_rows : NAN;
    out->reward_values = 2 * s->pairs[split].n;
    out->reward_min = 0, out->reward_max = 1, out->reward_mean = 0.5, out->reward_std = 0.5;
    return 0;
}

int rm_store_scan_split(rm_store *s, rm_split split, rm_split_stats *out)
{
    memset(out, 0, sizeof *out);
    if (s->pairs_presented) return scan_pair_split(s, split, out);
    scan_acc e = {0}, r = {0};
    e.inner = s->dim;
    r.min = INFINITY;
    r.max = -INFINITY;
    transfer_target te = store_embeddings_target(s, split), tr = store_rewards_target(s, split);
    if (scan_rows(s, &te, s->split[split].n_prompts, visit_embeddings, &e, NULL) != 0 ||
        scan_rows(s, &tr, s->split[split].n_prompts, visit_rewards, &r, NULL) != 0)
        return -1;
    if (reduce_acc(s->comm, &e) != 0 || reduce_acc(s->comm, &r) != 0) return rm_all_ok(s->comm, -1);
    out->embedding_values = (size_t)e.count;
    out->embedding_nonfinite = (size_t)e.nonfinite;
    out->embedding_mean_norm = e.norm_rows > 0 ? e.norm_sum / e.norm_rows : NAN;
    out->reward_values = (size_t)r.count;
    out->reward_nonfinite = (size_t)r.nonfinite;
    double finite = r.count - r.nonfinite;
    out->reward_min = finite > 0 ? r.min : NAN;
    out->reward_max = finite > 0 ? r.max : NAN;
    out->reward_mean = finite > 0 ? r.sum / finite : NAN;
    double var = finite > 0 ? r.sumsq / finite - out->reward_mean * out->reward_mean : NAN;
    out->reward_std = finite > 0 ? sqrt(var > 0 ? var : 0) : NAN;
    return 0;
}

int rm_store_scan_bench(rm_store *s, size_t *values, size_t *nonfinite)
{
    *values = *nonfinite = 0;
    if (s->n_bench == 0) return 0;
    scan_acc acc[2];
    memset(acc, 0, sizeof acc);
    for (int b = 0; b < 2; b++) {
        acc[b].inner = s->dim;
        transfer_target t = store_bench_target(s, b);
        if (scan_rows(s, &t, s->n_bench, visit_embeddings, &acc[b], NULL) != 0) return -1;
        if (reduce_acc(s->comm, &acc[b]) != 0) return rm_all_ok(s->comm, -1);
    }
    *values = (size_t)(acc[0].count + acc[1].count);
    *nonfinite = (size_t)(acc[0].nonfinite + acc[1].nonfinite);
    return 0;
}

int rm_store_chunk_dims(rm_store *s, const char *dataset, int *rank, unsigned long long dims[3])
{
    dims[0] = dims[1] = dims[2] = 0;
    *rank = 0;
    hid_t d = H5Dopen2(s->file, dataset, H5P_DEFAULT);
    if (d < 0) return rm_h5_fail(s->path, dataset, "H5Dopen2");
    hid_t dcpl = H5Dget_create_plist(d);
    int rc = 0;
    if (dcpl < 0) rc = rm_h5_fail(s->path, dataset, "H5Dget_create_plist");
    else if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
        hsize_t h[3] = {0};
        int n = H5Pget_chunk(dcpl, 3, h);
        if (n < 0) rc = rm_h5_fail(s->path, dataset, "H5Pget_chunk");
        for (int i = 0; i < n && i < 3; i++) dims[i] = h[i];
        *rank = n > 0 ? n : 0;
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    H5Dclose(d);
    return rc;
}

/* ---- integrity ---- */

static const char *const PAIR_DATASET_PATHS[2][3] = {
    {"/pairs/train/chosen", "/pairs/train/rejected", "/pairs/train/group"},
    {"/pairs/test/chosen", "/pairs/test/rejected", "/pairs/test/group"}};

int rm_store_checksums(const rm_store *s, const char **which)
{
    const int *flags[3] = {s->checksum_embeddings, s->checksum_rewards, s->checksum_bench};
    const char *const *names[3] = {STORE_EMBEDDING_PATHS, STORE_REWARD_PATHS, STORE_BENCH_PATHS};
    int with = 0, without = 0;
    if (which) *which = NULL;
    for (int kind = 0; kind < 3; kind++)
        for (int i = 0; i < 2 && (kind < 2 ? s->has_golden : s->n_bench > 0); i++) {
            if (flags[kind][i]) {
                with++;
            } else {
                if (which && !*which) *which = names[kind][i];
                without++;
            }
        }
    for (int v = 1; v < s->n_views; v++)
        for (int i = 0; i < 4; i++) {
            if (i >= 2 ? s->n_bench == 0 : !s->has_golden) continue;
            int flag = i < 2 ? s->views[v].checksum_embeddings[i] : s->views[v].checksum_bench[i - 2];
            if (flag) with++;
            else {
                if (which && !*which) *which = s->views[v].paths[i];
                without++;
            }
        }
    for (int v = 1; v < s->n_views; v++)
        for (int sp = 0; sp < 2; sp++)
            for (int k = 0; k < 2 && s->pairs[sp].n > 0; k++) {
                if (s->views[v].checksum_pairs[sp][k]) with++;
                else {
                    if (which && !*which) *which = s->views[v].pairs_paths[sp][k];
                    without++;
                }
            }
    for (int sp = 0; sp < 2; sp++)
        for (int k = 0; k < 3 && s->pairs[sp].n > 0; k++) {
            if (k == 2 && !s->pairs[sp].has_groups) continue;
            if (s->pairs[sp].checksum[k]) with++;
            else {
                if (which && !*which) *which = PAIR_DATASET_PATHS[sp][k];
                without++;
            }
        }
    return without == 0 ? 1 : with == 0 ? 0 : -1;
}

/* Verify's visitor: values and NaN/Inf, nothing else (the statistics are inspect's). */
static void visit_count(const float *v, size_t rows, size_t row_len, void *p)
{
    unsigned long long *counts = p;
    counts[0] += rows * row_len;
    counts[1] += store_count_nonfinite(v, rows * row_len);
}

/* Group g of view v: the default view's train/test groups hold embeddings and rewards,
 * a further view's its embeddings alone; bench groups chosen and rejected. */
static int verify_group(rm_store *s, int view, rm_store_group g, rm_group_verify *out)
{
    memset(out, 0, sizeof *out);
    int bench = g == RM_GROUP_BENCH;
    if (bench ? s->n_bench == 0 : !s->has_golden) return 0;
    transfer_target t[2] = {bench ? store_view_bench_target(s, view, 0) : store_view_embeddings_target(s, view, (rm_split)g),
                            bench ? store_view_bench_target(s, view, 1) : store_rewards_target(s, (rm_split)g)};
    int parts = bench || view == 0 ? 2 : 1;
    size_t rows = bench ? s->n_bench : s->split[g].n_prompts;
    uint64_t digest = 0, total = 0;
    unsigned long long counts[2][2] = {{0, 0}, {0, 0}}, sums[2][2];
    for (int k = 0; k < parts; k++)
        if (scan_rows(s, &t[k], rows, visit_count, counts[k], &digest) != 0) return -1;
    if (rm_all_ok(s->comm, rm_mpi_check(MPI_Allreduce(&digest, &total, 1, MPI_UINT64_T, MPI_SUM, s->comm), "MPI_Allreduce")) != 0 ||
        rm_all_ok(s->comm, rm_mpi_check(MPI_Allreduce(counts, sums, 4, MPI_UNSIGNED_LONG_LONG, MPI_SUM, s->comm), "MPI_Allreduce")) != 0)
        return -1;
    out->present = 1;
    out->values = (size_t)(sums[0][0] + sums[1][0]);
    out->nonfinite = (size_t)(sums[0][1] + sums[1][1]);
    out->bytes = (double)sums[0][0] * (t[0].half ? 2 : 4) + (double)sums[1][0] * (t[1].half ? 2 : 4);
    rm_store_digest_format(total, out->computed, sizeof out->computed);
    const char *recorded = view == 0 ? s->digest[g] : s->views[view].digest[g];
    out->digest = recorded[0] ? strcmp(recorded, out->computed) == 0 : -1;
    return 0;
}

/* This rank's share of the group ids of pair split sp, read independently in pieces of at
 * most read_chunk_bytes (HDF5 checks their chunks' checksums), added to *digest at their
 * positions after the chosen and rejected values. *count: ids read. 0 or -1 (local). */
static int digest_pair_group_ids(rm_store *s, int sp, uint64_t *digest, unsigned long long *count)
{
    const rm_store_pair_split *p = &s->pairs[sp];
    int rank = 0, size = 1;
    MPI_Comm_rank(s->comm, &rank);
    MPI_Comm_size(s->comm, &size);
    size_t begin, end, step = s->read_chunk_bytes / sizeof(int64_t);
    rm_partition(p->n, size, rank, &begin, &end);
    if (step == 0) step = 1;
    if (step > end - begin) step = end - begin;
    if (step == 0) return 0;
    int64_t *ids = rm_alloc(step, sizeof *ids, "group ids");
    hid_t file_space = ids ? H5Dget_space(p->group) : H5I_INVALID_HID;
    int rc = ids ? 0 : -1;
    if (rc == 0 && file_space < 0) rc = rm_h5_fail(s->path, PAIR_DATASET_PATHS[sp][2], "H5Dget_space");
    uint64_t first = 2 * (uint64_t)p->n * s->pairs_dim;
    for (size_t i0 = begin; i0 < end && rc == 0; i0 += step) {
        hsize_t start = i0, n = end - i0 < step ? end - i0 : step;
        hid_t mem_space = H5Screate_simple(1, &n, NULL);
        if (mem_space < 0 || H5Sselect_hyperslab(file_space, H5S_SELECT_SET, &start, NULL, &n, NULL) < 0 ||
            H5Dread(p->group, H5T_NATIVE_INT64, mem_space, file_space, H5P_DEFAULT, ids) < 0) {
            char what[96];
            snprintf(what, sizeof what, "%s, pairs [%zu, %zu)", PAIR_DATASET_PATHS[sp][2], i0, i0 + (size_t)n);
            rc = rm_h5_fail(s->path, what, "H5Dread");
        } else {
            *digest = rm_store_digest_i64(*digest, ids, (size_t)n, first + i0);
            *count += n;
            rm_progress_advance(s->progress, (double)n);
        }
        if (mem_space >= 0) H5Sclose(mem_space);
    }
    if (file_space >= 0) H5Sclose(file_space);
    free(ids);
    return rc;
}

/* /pairs/<split>: chosen, rejected, then the group ids (when recorded); a further view's
 * /views/<name>/pairs/<split>: chosen then rejected. */
static int verify_pair_group(rm_store *s, int view, int sp, rm_group_verify *out)
{
    memset(out, 0, sizeof *out);
    const rm_store_pair_split *p = &s->pairs[sp];
    if (p->n == 0) return 0;
    transfer_target t[2] = {store_pair_target(s, view, sp, 0), store_pair_target(s, view, sp, 1)};
    uint64_t digest = 0, total = 0;
    unsigned long long counts[3][2] = {{0, 0}, {0, 0}, {0, 0}}, sums[3][2];
    for (int k = 0; k < 2; k++)
        if (scan_rows(s, &t[k], p->n, visit_count, counts[k], &digest) != 0) return -1;
    if (view == 0 && p->has_groups && rm_all_ok(s->comm, digest_pair_group_ids(s, sp, &digest, &counts[2][0])) != 0) return -1;
    if (rm_all_ok(s->comm, rm_mpi_check(MPI_Allreduce(&digest, &total, 1, MPI_UINT64_T, MPI_SUM, s->comm), "MPI_Allreduce")) != 0 ||
        rm_all_ok(s->comm, rm_mpi_check(MPI_Allreduce(counts, sums, 6, MPI_UNSIGNED_LONG_LONG, MPI_SUM, s->comm), "MPI_Allreduce")) != 0)
        return -1;
    out->present = 1;
    out->values = (size_t)(sums[0][0] + sums[1][0] + sums[2][0]);
    out->nonfinite = (size_t)(sums[0][1] + sums[1][1]);
    out->bytes = (double)(sums[0][0] + sums[1][0]) * (t[0].half ? 2 : 4) + (double)sums[2][0] * 8;
    rm_store_digest_format(total, out->computed, sizeof out->computed);
    const char *recorded = view == 0 ? p->digest : s->views[view].pairs_digest[sp];
    out->digest = recorded[0] ? strcmp(recorded, out->computed) == 0 : -1;
    return 0;
}

int rm_store_verify(rm_store *s, rm_store_verify_report *out)
{
    memset(out, 0, sizeof *out);
    /* rm_store_use_pairs replaced the golden splits' shapes by the pairs' */
    if (rm_all_ok(s->comm, s->pairs_presented && s->has_golden
                               ? rm_errorf("%s: verify the store before presenting its pairs as splits", s->path) : 0) != 0)
        return -1;
    MPI_Comm_size(s->comm, &out->ranks);
    if (rm_all_ok(s->comm, rm_mpi_check(MPI_Barrier(s->comm), "MPI_Barrier")) != 0) return -1;
    double start = MPI_Wtime();
    for (int g = 0; g < 3; g++) {
        if (verify_group(s, 0, (rm_store_group)g, &out->group[g]) != 0) return -1;
        out->bytes += out->group[g].bytes;
    }
    for (int v = 1; v < s->n_views; v++)
        for (int g = 0; g < 3; g++) {
            if (verify_group(s, v, (rm_store_group)g, &out->view_group[v][g]) != 0) return -1;
            out->bytes += out->view_group[v][g].bytes;
        }
    for (int sp = 0; sp < 2; sp++) {
        if (verify_pair_group(s, 0, sp, &out->pairs[sp]) != 0) return -1;
        out->bytes += out->pairs[sp].bytes;
    }
    for (int v = 1; v < s->n_views; v++)
        for (int sp = 0; sp < 2; sp++) {
            if (verify_pair_group(s, v, sp, &out->view_pairs[v][sp]) != 0) return -1;
            out->bytes += out->view_pairs[v][sp].bytes;
        }
    double mine = MPI_Wtime() - start;
    return rm_all_ok(s->comm, rm_mpi_check(MPI_Allreduce(&mine, &out->seconds, 1, MPI_DOUBLE, MPI_MAX, s->comm), "MPI_Allreduce"));
}

double rm_store_scan_values(const rm_store *s, int verify)
{
    double values = 0;
    /* the golden splits (embeddings of every view verify reads, rewards once) and the bench */
    for (int v = 0; v < (verify ? s->n_views : 1); v++) {
        double dim = (double)(v == 0 ? s->dim : s->views[v].dim);
        for (int sp = 0; sp < 2 && s->has_golden && !s->pairs_presented; sp++)
            values += (double)s->split[sp].n_prompts * (double)s->split[sp].n_responses * (dim + (v == 0));
        values += 2.0 * (double)s->n_bench * dim;
    }
    /* the pair splits: the statistics scan them only when both exist; verify reads the ids */
    if (!verify && (s->pairs[0].n == 0 || s->pairs[1].n == 0)) return values;
    for (int v = 0; v < (verify ? s->n_views : 1); v++)
        for (int sp = 0; sp < 2; sp++)
            values += (double)s->pairs[sp].n * (2.0 * (double)(v == 0 ? s->pairs_dim : s->views[v].dim) +
                                                (verify && v == 0 && s->pairs[sp].has_groups));
    return values;
}
