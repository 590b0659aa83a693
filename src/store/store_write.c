/* The embedding store, writing half (see include/rmens/store/store.h): create the file at a
 * temporary sibling with chunked, Fletcher-32-checksummed datasets, write prompt ranges
 * collectively, and commit: content digests as group attributes, close, atomic rename. */
#define _GNU_SOURCE /* fallocate */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "rmens/base/common.h"
#include "rmens/base/parallel.h"

#define EMBEDDING_CHUNK_TARGET ((size_t)4 << 20)
#define REWARD_CHUNK_TARGET ((size_t)1 << 20)





/* FNV-1a over a description, twice with different offsets, formatted like a UUID. */
void rm_store_uuid_from_text(const char *text, char *out, size_t n)
{
    uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        h1 = (h1 ^ *p) * 0x100000001b3ull;
        h2 = (h2 ^ *p) * 0x100000001b3ull;
        h2 ^= h2 >> 29;
    }
    snprintf(out, n, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(h1 >> 32), (unsigned)(h1 >> 16) & 0xffffu,
             (unsigned)h1 & 0xffffu, (unsigned)(h2 >> 48), (unsigned long long)(h2 & 0xffffffffffffull));
}

static int validate_layout(const rm_store_layout *l, const char *path)
{
    if (l->dim == 0) return rm_errorf("%s: embedding dimension must be at least 1", path);
    int pairs_only = l->n_pairs[0] + l->n_pairs[1] > 0 && l->split[0].n_prompts == 0 && l->split[1].n_prompts == 0;
    if (pairs_only && l->n_bench > 0) return rm_errorf("%s: a store of pairs alone has no bench", path);
    for (int sp = 0; sp < 2 && !pairs_only; sp++)
        if (l->split[sp].n_prompts == 0 || l->split[sp].n_responses == 0)
            return rm_errorf("%s: %s split needs at least one prompt and one response (got %zu x %zu)", path,
                             STORE_SPLIT_NAMES[sp], l->split[sp].n_prompts, l->split[sp].n_responses);
    return 0;
}

/* Bytes of data the layout holds, in checked arithmetic: a layout whose size overflows
 * is refused before anything is created. */
static int layout_bytes(const rm_store_layout *l, const char *path, double *bytes)
{
    size_t total = 0;
    for (int sp = 0; sp < 2; sp++) {
        size_t items, values, emb_bytes, reward_bytes;
        size_t item_size = l->split[sp].dtype == RM_DTYPE_FLOAT16 ? 2 : 4;
        if (rm_size_mul(l->split[sp].n_prompts, l->split[sp].n_responses, &items, path) != 0 ||
            rm_size_mul(items, l->dim, &values, path) != 0 || rm_size_mul(values, item_size, &emb_bytes, path) != 0 ||
            rm_size_mul(items, sizeof(float), &reward_bytes, path) != 0 || emb_bytes > SIZE_MAX - total - reward_bytes)
            return rm_errorf("%s: the %s split (%zu x %zu x %zu) is too large to address", path, STORE_SPLIT_NAMES[sp],
                             l->split[sp].n_prompts, l->split[sp].n_responses, l->dim);
        total += emb_bytes + reward_bytes;
    }
    size_t bench_values, bench_bytes;
    if (rm_size_mul(l->n_bench, l->dim, &bench_values, path) != 0 || rm_size_mul(bench_values, 8, &bench_bytes, path) != 0 ||
        bench_bytes > SIZE_MAX - total)
        return rm_errorf("%s: the benchmark (%zu x %zu) is too large to address", path, l->n_bench, l->dim);
    *bytes = (double)(total + bench_bytes);
    for (int sp = 0; sp < 2; sp++) /* pairs: an estimate, their sizes come from checked inputs */
        *bytes += (double)l->n_pairs[sp] * ((double)l->dim * 2 * (l->pairs_dtype == RM_DTYPE_FLOAT16 ? 2 : 4) + 8);
    /* views: an estimate is enough here (their sizes were checked when they were planned) */
    for (int v = 0; v < l->n_extra_views; v++) {
        double per_value = l->extra_views[v].dtype == RM_DTYPE_FLOAT16 ? 2 : 4, rows = 2.0 * (double)l->n_bench;
        for (int sp = 0; sp < 2; sp++)
            rows += (double)l->split[sp].n_prompts * (double)l->split[sp].n_responses + 2.0 * (double)l->n_pairs[sp];
        *bytes += rows * (double)l->extra_views[v].dim * per_value;
    }
    return 0;
}

static int check_layout_views(const rm_store_layout *l, const char *path);

/* Local part of create: everything up to (not including) the collective H5Fcreate. */
static int prepare_create(rm_store_writer *w, const char *path, const rm_store_layout *layout, int force)
{
    if (strlen(path) >= sizeof w->final_path) return rm_errorf("output path too long: %s", path);
    snprintf(w->final_path, sizeof w->final_path, "%s", path);
    if (validate_layout(layout, path) != 0 || check_layout_views(layout, path) != 0) return -1;
    if (rm_path_exists(path) && !force) return rm_errorf("%s: output exists (use --force to overwrite it)", path);
    /* The temporary file lives beside the output, so the directory must be writable. */
    const char *slash = strrchr(path, '/');
    char dir[1024];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1, slash ? path : ".");
    struct stat dir_stat;
    if (stat(dir, &dir_stat) != 0) return rm_errorf("%s: cannot write to directory %s: %s", path, dir, strerror(errno));
    if (!S_ISDIR(dir_stat.st_mode)) return rm_errorf("%s: cannot write to directory %s: not a directory", path, dir);
    if (access(dir, W_OK) != 0) return rm_errorf("%s: cannot write to directory %s: %s", path, dir, strerror(errno));
    /* Refuse a store that cannot fit where it goes, before the MPI-IO layer finds out
     * half-way (and HDF5 is left with a file it cannot close). */
    double needed = 0;
    if (layout_bytes(layout, path, &needed) != 0) return -1;
    struct statvfs fs;
    if (statvfs(dir, &fs) == 0) {
        double available = (double)fs.f_bavail * (double)fs.f_frsize;
        if (needed > available)
            return rm_errorf("%s: %s: the store needs %.1f MiB but only %.1f MiB are free in %s", path, strerror(ENOSPC),
                             needed / 1048576.0, available / 1048576.0, dir);
    }
    char *temp = rm_temp_sibling(path, "partial");
    if (!temp) return -1;
    if (strlen(temp) >= sizeof w->temp_path) {
        free(temp);
        return rm_errorf("output path too long: %s", path);
    }
    snprintf(w->temp_path, sizeof w->temp_path, "%s", temp);
    snprintf(w->store.path, sizeof w->store.path, "%s", temp);
    free(temp);
    return 0;
}

/* Rank 0: allocate the blocks of the whole store (its data plus a margin for chunk
 * indexes, checksums and attributes) before any dataset exists. Parallel HDF5 1.10 does
 * not fail consistently when the disk fills up under a collective call (the chunk
 * allocation of H5Dcreate, the metadata flush of H5Fclose): the rank whose write failed
 * returns while the others wait in a barrier forever. A full disk or quota fails here
 * instead, where the ranks agree. File systems without fallocate keep the size check. */
static int reserve_store(const rm_store_writer *w, const rm_store_layout *layout)
{
    double needed = 0;
    if (layout_bytes(layout, w->final_path, &needed) != 0) return -1;
    off_t bytes = (off_t)(needed * 1.0625) + ((off_t)1 << 20);
    int fd = open(w->temp_path, O_WRONLY);
    if (fd < 0) return rm_errorf("%s: cannot open to reserve its space: %s", w->temp_path, strerror(errno));
    int rc = 0;
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, bytes) != 0 && errno != EOPNOTSUPP && errno != ENOSYS)
        rc = rm_errorf("%s: %s: the store needs %.1f MiB with its metadata", w->final_path, strerror(errno),
                       (double)bytes / 1048576.0);
    close(fd);
    return rc;
}

/* Rank 0, after the rename: give back what the reservation allocated past the end. */
static void release_reserve(const char *path)
{
    int fd = open(path, O_WRONLY);
    struct stat st;
    if (fd < 0) return;
    if (fstat(fd, &st) == 0)
        (void)fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, st.st_size, (off_t)1 << 40); /* best effort */
    close(fd);
}

/* Fill s->views[v] (name, dim, dtype, paths) for a view being written. */
static void plan_view(rm_store *s, int v, const rm_store_view_layout *l)
{
    rm_store_view *w = &s->views[v];
    static const char *const leaf[4] = {"train/embeddings", "test/embeddings", "bench/chosen", "bench/rejected"};
    snprintf(w->name, sizeof w->name, "%s", l->name);
    w->dim = l->dim;
    w->dtype[0] = w->dtype[1] = w->bench_dtype = w->pairs_dtype[0] = w->pairs_dtype[1] = l->dtype;
    for (int i = 0; i < 4; i++) snprintf(w->paths[i], sizeof w->paths[i], "/views/%s/%s", l->name, leaf[i]);
    snprintf(w->paths[4], sizeof w->paths[4], "/views/%s", l->name);
}

/* Collective: the groups and (chunked, Fletcher-32) datasets of view v >= 1, planned. */
static int create_view_objects(rm_store *s, int v)
{
    rm_store_view *w = &s->views[v];
    htri_t have_views = H5Lexists(s->file, "/views", H5P_DEFAULT);
    if (have_views < 0) return rm_h5_fail(s->path, "/views", "H5Lexists");
    if (!have_views && store_create_group(s, "/views") != 0) return -1;
    if (store_create_group(s, w->paths[4]) != 0) return -1;
    /* a store with /pairs: the view's pairs (before its golden datasets, if any) */
    if (s->has_pairs && store_view_pairs_create(s, v) != 0) return -1;
    char group[192];
    for (int sp = 0; sp < 2 && s->has_golden; sp++) {
        hsize_t dims[3] = {s->split[sp].n_prompts, s->split[sp].n_responses, w->dim};
        snprintf(group, sizeof group, "%s/%s", w->paths[4], STORE_SPLIT_NAMES[sp]);
        if (store_create_group(s, group) != 0 ||
            store_create_dataset(s, w->paths[sp], 3, dims, w->dtype[sp] == RM_DTYPE_FLOAT16, 0, EMBEDDING_CHUNK_TARGET,
                           &w->embeddings[sp]) != 0)
            return -1;
        w->checksum_embeddings[sp] = 1;
    }
    if (s->n_bench == 0) return 0;
    hsize_t bdims[3] = {s->n_bench, w->dim, 0};
    snprintf(group, sizeof group, "%s/bench", w->paths[4]);
    if (store_create_group(s, group) != 0) return -1;
    for (int b = 0; b < 2; b++) {
        if (store_create_dataset(s, w->paths[2 + b], 2, bdims, w->bench_dtype == RM_DTYPE_FLOAT16, 0, EMBEDDING_CHUNK_TARGET,
                           &w->bench[b]) != 0)
            return -1;
        w->checksum_bench[b] = 1;
    }
    return 0;
}

/* Root attributes format_version (2 once there are views) and `views`; replaces old ones. */
static int write_view_attrs(rm_store *s)
{
    if (s->n_views < 2) return 0;
    const char *names[RM_STORE_MAX_VIEWS];
    for (int v = 0; v < s->n_views; v++) names[v] = s->views[v].name;
    if (rm_h5_attr_remove(s->file, "format_version") != 0) return -1;
    s->format_version = RM_STORE_FORMAT_VERSION_VIEWS;
    if (rm_h5_attr_int(s->file, "format_version", RM_STORE_FORMAT_VERSION_VIEWS) != 0) return -1;
    if (rm_h5_attr_remove(s->file, "views") != 0) return -1;
    return rm_h5_attr_strings(s->file, "views", names, (size_t)s->n_views);
}

/* Local: the extra views of a layout are valid and distinct. */
static int check_layout_views(const rm_store_layout *l, const char *path)
{
    const char *def = l->default_view ? l->default_view : RM_STORE_DEFAULT_VIEW;
    if (!store_view_name_ok(def)) return rm_errorf("%s: invalid view name '%s' (1-63 of A-Z a-z 0-9 _ . -)", path, def);
    if (l->n_extra_views < 0 || l->n_extra_views + 1 > RM_STORE_MAX_VIEWS)
        return rm_errorf("%s: %d views, at most %d", path, l->n_extra_views + 1, RM_STORE_MAX_VIEWS);
    for (int v = 0; v < l->n_extra_views; v++) {
        const char *name = l->extra_views[v].name;
        if (!store_view_name_ok(name)) return rm_errorf("%s: invalid view name '%s' (1-63 of A-Z a-z 0-9 _ . -)", path, name);
        if (l->extra_views[v].dim == 0) return rm_errorf("%s: view '%s': dimension must be at least 1", path, name);
        if (strcmp(name, def) == 0) return rm_errorf("%s: view name '%s' is taken", path, name);
        for (int u = 0; u < v; u++)
            if (strcmp(l->extra_views[u].name, name) == 0) return rm_errorf("%s: view name '%s' is taken", path, name);
    }
    return 0;
}

/* Collective: the checks of prepare_create (rank 0 decides about the existing output; the
 * others learn the verdict), the communicator, the file created at the temporary path and
 * its space reserved. On failure nothing is left (the file abandoned). */
static int create_file(rm_store_writer *w, const char *path, MPI_Comm comm, const rm_store_layout *layout, int force)
{
    rm_store *s = &w->store;
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    if (rm_all_ok(comm, rank == 0 ? prepare_create(w, path, layout, force) : 0) != 0) return -1;
    if (rm_all_ok(comm, rank != 0 ? prepare_create(w, path, layout, 1) : 0) != 0) return -1;
    if (rm_mpi_check(MPI_Comm_dup(comm, &s->comm), "MPI_Comm_dup") != 0) return rm_all_ok(comm, -1);
    hid_t fapl = rm_h5_file_access(s->path, s->comm);
    hid_t fcpl = fapl < 0 ? H5I_INVALID_HID : store_untimed_creation_plist(H5P_FILE_CREATE, s->path, "/");
    /* H5Fcreate is collective: nobody enters it unless everybody will. */
    int rc = rm_all_ok(comm, fcpl < 0 ? -1 : 0);
    if (rc == 0) {
        s->file = H5Fcreate(s->path, H5F_ACC_TRUNC, fcpl, fapl);
        rc = rm_all_ok(comm, s->file < 0 ? rm_h5_fail(s->path, "/", "H5Fcreate") : 0);
    }
    rm_h5_close_id(&fcpl, H5Pclose);
    rm_h5_close_id(&fapl, H5Pclose);
    if (rc != 0) {
        rm_store_close(s);
        return -1;
    }
    if (rm_all_ok(comm, rank == 0 ? reserve_store(w, layout) : 0) != 0) {
        rm_store_abandon(w);
        return -1;
    }
    return 0;
}

/* Collective: the store's description from the layout (every rank the same values); with
 * no identity given, one derived from the layout and the time on rank 0. */
static void describe_store(rm_store *s, const rm_store_layout *layout, MPI_Comm comm)
{
    s->dim = layout->dim;
    s->split[0] = layout->split[0];
    s->split[1] = layout->split[1];
    s->n_bench = layout->n_bench;
    s->bench_dtype = layout->split[0].dtype;
    s->has_golden = layout->split[0].n_prompts > 0;
    s->pairs_dim = layout->dim;
    snprintf(s->embed_model, sizeof s->embed_model, "%s", layout->embed_model ? layout->embed_model : "unknown");
    snprintf(s->response_model, sizeof s->response_model, "%s", layout->response_model ? layout->response_model : "unknown");
    snprintf(s->task, sizeof s->task, "%s", layout->task ? layout->task : "unknown");
    if (layout->default_view) snprintf(s->views[0].name, sizeof s->views[0].name, "%s", layout->default_view);
    s->views[0].dim = s->dim;
    if (layout->uuid) {
        snprintf(s->uuid, sizeof s->uuid, "%s", layout->uuid);
        return;
    }
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    char desc[1024];
    double now = rank == 0 ? rm_now() : 0;
    MPI_Bcast(&now, 1, MPI_DOUBLE, 0, comm);
    snprintf(desc, sizeof desc, "%s|%s|%s|%zu|%zu|%zu|%zu|%zu|%zu|%.9f", s->embed_model, s->response_model, s->task, s->dim,
             s->split[0].n_prompts, s->split[0].n_responses, s->split[1].n_prompts, s->split[1].n_responses, s->n_bench, now);
    rm_store_uuid_from_text(desc, s->uuid, sizeof s->uuid);
}

/* Collective: the root attributes of format_version 1 (write_view_attrs adds the views'). */
static int write_root_attrs(rm_store *s, const char *provenance)
{
    if (rm_h5_attr_string(s->file, "format", RM_STORE_FORMAT) != 0) return -1;
    if (rm_h5_attr_int(s->file, "format_version", RM_STORE_FORMAT_VERSION) != 0) return -1;
    if (rm_h5_attr_string(s->file, "embed_model", s->embed_model) != 0) return -1;
    if (rm_h5_attr_string(s->file, "response_model", s->response_model) != 0) return -1;
    if (rm_h5_attr_string(s->file, "task", s->task) != 0) return -1;
    if (rm_h5_attr_string(s->file, "store_uuid", s->uuid) != 0) return -1;
    if (rm_h5_attr_string(s->file, "rmens_version", RMENS_VERSION) != 0) return -1;
    return rm_h5_attr_string(s->file, "provenance", provenance ? provenance : "");
}

/* Collective: the default view's groups and (chunked, Fletcher-32) datasets. */
static int create_default_view(rm_store *s)
{
    for (int sp = 0; sp < 2 && s->has_golden; sp++) {
        hsize_t edims[3] = {s->split[sp].n_prompts, s->split[sp].n_responses, s->dim};
        hsize_t rdims[3] = {s->split[sp].n_prompts, s->split[sp].n_responses, 0};
        int half = s->split[sp].dtype == RM_DTYPE_FLOAT16;
        if (store_create_group(s, STORE_GROUP_PATHS[sp]) != 0 ||
            store_create_dataset(s, STORE_EMBEDDING_PATHS[sp], 3, edims, half, 0, EMBEDDING_CHUNK_TARGET, &s->embeddings[sp]) != 0 ||
            store_create_dataset(s, STORE_REWARD_PATHS[sp], 2, rdims, 0, 0, REWARD_CHUNK_TARGET, &s->rewards[sp]) != 0)
            return -1;
    }
    if (s->n_bench == 0) return 0;
    hsize_t bdims[3] = {s->n_bench, s->dim, 0};
    if (store_create_group(s, STORE_GROUP_PATHS[RM_GROUP_BENCH]) != 0) return -1;
    for (int b = 0; b < 2; b++)
        if (store_create_dataset(s, STORE_BENCH_PATHS[b], 2, bdims, s->bench_dtype == RM_DTYPE_FLOAT16, 0, EMBEDDING_CHUNK_TARGET,
                           &s->bench[b]) != 0)
            return -1;
    return 0;
}

/* Collective: the objects of the layout's further views and the root attributes naming them. */
static int create_extra_views(rm_store *s, const rm_store_layout *layout)
{
    s->n_views = 1 + layout->n_extra_views;
    for (int v = 1; v < s->n_views; v++) {
        plan_view(s, v, &layout->extra_views[v - 1]);
        if (create_view_objects(s, v) != 0) return -1;
    }
    return write_view_attrs(s);
}

int rm_store_create(rm_store_writer *w, const char *path, MPI_Comm comm, const rm_store_layout *layout, int force)
{
    rm_h5_quiet();
    memset(w, 0, sizeof *w);
    store_reset(&w->store);
    rm_store *s = &w->store;
    if (create_file(w, path, comm, layout, force) != 0) return -1;
    /* Metadata: every rank makes the same calls with the same values (HDF5 requires
     * object creation to be collective). */
    describe_store(s, layout, comm);
    int rc = write_root_attrs(s, layout->provenance);
    if (rc == 0) rc = create_default_view(s);
    if (rc == 0) rc = store_pairs_create(s, layout); /* before the views: they get pairs of their own */
    if (rc == 0) rc = create_extra_views(s, layout);
    if (rm_all_ok(comm, rc) != 0) {
        rm_store_abandon(w);
        return -1;
    }
    return 0;
}

int rm_store_write_split(rm_store_writer *w, rm_split split, size_t p0, size_t p1, const float *emb, const float *rewards)
{
    rm_store *s = &w->store;
    AGREE_ON_RANGE(s, STORE_EMBEDDING_PATHS[split], p0, p1, s->split[split].n_prompts);
    transfer_target te = store_embeddings_target(s, split), tr = store_rewards_target(s, split);
    /* Both datasets take part on every rank (collective), a NULL buffer as an empty range. */
    size_t e1 = emb ? p1 : p0, r1 = rewards ? p1 : p0;
    w->written[0][split] += (e1 - p0) * te.n1 * te.n2 + (r1 - p0) * tr.n1;
    if (store_transfer_rows(s, &te, 1, p0, e1, (float *)emb, CHECK_FAIL, &w->digest[0][split]) != 0) return -1;
    return store_transfer_rows(s, &tr, 1, p0, r1, (float *)rewards, CHECK_FAIL, &w->digest[0][split]);
}

/* A local argument error must be agreed on (as AGREE_ON_RANGE). */
static int check_written_view(rm_store_writer *w, int view)
{
    if (view < w->first_view || view >= w->store.n_views || view == 0)
        return rm_errorf("%s: view %d is not one this writer writes", w->store.path, view);
    return 0;
}

int rm_store_write_view_split(rm_store_writer *w, int view, rm_split split, size_t p0, size_t p1, const float *emb)
{
    rm_store *s = &w->store;
    if (view == 0) return rm_store_write_split(w, split, p0, p1, emb, NULL);
    if (rm_all_ok(s->comm, check_written_view(w, view)) != 0) return -1;
    transfer_target t = store_view_embeddings_target(s, view, split);
    AGREE_ON_RANGE(s, t.name, p0, p1, s->split[split].n_prompts);
    size_t e1 = emb ? p1 : p0;
    w->written[view][split] += (e1 - p0) * t.n1 * t.n2;
    return store_transfer_rows(s, &t, 1, p0, e1, (float *)emb, CHECK_FAIL, &w->digest[view][split]);
}

int rm_store_write_view_bench(rm_store_writer *w, int view, size_t i0, size_t i1, const float *chosen, const float *rejected)
{
    rm_store *s = &w->store;
    if (view == 0) return rm_store_write_bench(w, i0, i1, chosen, rejected);
    if (rm_all_ok(s->comm, check_written_view(w, view)) != 0) return -1;
    if (rm_all_ok(s->comm, s->n_bench == 0 ? rm_errorf("%s: the layout has no /bench", s->path) : 0) != 0) return -1;
    transfer_target c = store_view_bench_target(s, view, 0), r = store_view_bench_target(s, view, 1);
    AGREE_ON_RANGE(s, c.name, i0, i1, s->n_bench);
    uint64_t *digest = &w->digest[view][RM_GROUP_BENCH];
    w->written[view][RM_GROUP_BENCH] += ((chosen ? i1 - i0 : 0) + (rejected ? i1 - i0 : 0)) * s->views[view].dim;
    if (store_transfer_rows(s, &c, 1, i0, chosen ? i1 : i0, (float *)chosen, CHECK_FAIL, digest) != 0) return -1;
    return store_transfer_rows(s, &r, 1, i0, rejected ? i1 : i0, (float *)rejected, CHECK_FAIL, digest);
}

int rm_store_write_bench(rm_store_writer *w, size_t i0, size_t i1, const float *chosen, const float *rejected)
{
    rm_store *s = &w->store;
    if (rm_all_ok(s->comm, s->n_bench == 0 ? rm_errorf("%s: the layout has no /bench", s->path) : 0) != 0) return -1;
    AGREE_ON_RANGE(s, STORE_BENCH_PATHS[0], i0, i1, s->n_bench);
    transfer_target c = store_bench_target(s, 0), r = store_bench_target(s, 1);
    uint64_t *digest = &w->digest[0][RM_GROUP_BENCH];
    w->written[0][RM_GROUP_BENCH] += ((chosen ? i1 - i0 : 0) + (rejected ? i1 - i0 : 0)) * s->dim;
    if (store_transfer_rows(s, &c, 1, i0, chosen ? i1 : i0, (float *)chosen, CHECK_FAIL, digest) != 0) return -1;
    return store_transfer_rows(s, &r, 1, i0, rejected ? i1 : i0, (float *)rejected, CHECK_FAIL, digest);
}

/* Values group g of view v holds: the default view's train/test groups embeddings and
 * rewards, a further view's its embeddings alone; bench groups chosen and rejected. */
static unsigned long long group_values(const rm_store *s, int v, int g)
{
    unsigned long long dim = v == 0 ? s->dim : s->views[v].dim;
    if (g == RM_GROUP_BENCH) return 2ull * s->n_bench * dim;
    return (unsigned long long)s->split[g].n_prompts * s->split[g].n_responses * (dim + (v == 0));
}

/* Collective: sum the ranks' digests and counts, check that every value was written once,
 * and record each written group's content_digest (every rank writes the same attribute). */
static int write_digests(rm_store_writer *w)
{
    rm_store *s = &w->store;
    const int n = RM_STORE_MAX_VIEWS * 3;
    unsigned long long counts[RM_STORE_MAX_VIEWS * 3], total_counts[RM_STORE_MAX_VIEWS * 3];
    uint64_t total[RM_STORE_MAX_VIEWS * 3];
    for (int i = 0; i < n; i++) counts[i] = w->written[i / 3][i % 3];
    if (rm_all_ok(s->comm, rm_mpi_check(MPI_Allreduce(w->digest, total, n, MPI_UINT64_T, MPI_SUM, s->comm), "MPI_Allreduce")) != 0 ||
        rm_all_ok(s->comm, rm_mpi_check(MPI_Allreduce(counts, total_counts, n, MPI_UNSIGNED_LONG_LONG, MPI_SUM, s->comm),
                                        "MPI_Allreduce")) != 0)
        return -1;
    int rc = 0;
    for (int v = w->first_view; v < s->n_views && rc == 0; v++)
        for (int g = 0; g < 3 && rc == 0; g++) {
            if (g == RM_GROUP_BENCH && s->n_bench == 0) continue;
            if (g != RM_GROUP_BENCH && !s->has_golden) continue; /* a store of pairs alone */
            char group[192], text[64];
            if (v == 0) snprintf(group, sizeof group, "%s", STORE_GROUP_PATHS[g]);
            else snprintf(group, sizeof group, "%s%s", s->views[v].paths[4], STORE_GROUP_PATHS[g]);
            unsigned long long expected = group_values(s, v, g), got = total_counts[v * 3 + g];
            if (got != expected) {
                rc = rm_errorf("%s: %s: %llu values written, expected each of the %llu exactly once", s->path, group, got,
                               expected);
                break;
            }
            rm_store_digest_format(total[v * 3 + g], text, sizeof text);
            hid_t grp = H5Gopen2(s->file, group, H5P_DEFAULT);
            if (grp < 0) rc = rm_h5_fail(s->path, group, "H5Gopen2");
            else rc = rm_h5_attr_string(grp, "content_digest", text);
            if (grp >= 0) H5Gclose(grp);
        }
    return rm_all_ok(s->comm, rc);
}

int rm_store_commit(rm_store_writer *w)
{
    rm_store *s = &w->store;
    MPI_Comm comm = s->comm;
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    if (write_digests(w) != 0 || store_pairs_write_digests(w) != 0) {
        rm_store_abandon(w);
        return -1;
    }
    store_close_datasets(s);
    int rc = 0;
    if (H5Fclose(s->file) < 0) rc = rm_h5_fail(s->path, "/", "H5Fclose");
    s->file = H5I_INVALID_HID;
    if (rm_all_ok(comm, rc) != 0) {
        if (rank == 0) unlink(w->temp_path);
        rm_store_close(s);
        return -1;
    }
    /* The file is complete and closed on every rank: one rename makes it appear whole. */
    if (rank == 0 && rename(w->temp_path, w->final_path) != 0) {
        rc = rm_errorf("cannot rename %s to %s: %s", w->temp_path, w->final_path, strerror(errno));
        unlink(w->temp_path);
    } else if (rank == 0) {
        release_reserve(w->final_path);
    }
    rc = rm_all_ok(comm, rc);
    snprintf(s->path, sizeof s->path, "%s", w->final_path);
    rm_store_close(s);
    return rc;
}

/* Local (rank 0): byte copy of src to dst, created anew (mode 0644 under the umask). */
static int copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY), out = in < 0 ? -1 : open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644), rc = 0;
    if (in < 0) return rm_errorf("cannot read %s: %s", src, strerror(errno));
    if (out < 0) rc = rm_errorf("cannot create %s: %s", dst, strerror(errno));
    static char buf[1 << 20];
    for (ssize_t n; rc == 0 && (n = read(in, buf, sizeof buf)) != 0;) {
        if (n < 0) rc = rm_errorf("cannot read %s: %s", src, strerror(errno));
        else if (write(out, buf, (size_t)n) != n) rc = rm_errorf("cannot write %s: %s", dst, strerror(errno));
    }
    close(in);
    if (out >= 0 && close(out) != 0 && rc == 0) rc = rm_errorf("cannot write %s: %s", dst, strerror(errno));
    if (rc != 0) unlink(dst);
    return rc;
}

/* Local checks of a view to add to the open store s. */
static int check_new_view(const rm_store *s, const rm_store_view_layout *view)
{
    if (!store_view_name_ok(view->name))
        return rm_errorf("%s: invalid view name '%s' (1-63 of A-Z a-z 0-9 _ . -)", s->path, view->name);
    for (int v = 0; v < s->n_views; v++)
        if (strcmp(s->views[v].name, view->name) == 0) return rm_errorf("%s: the store has a view '%s' already", s->path, view->name);
    if (s->n_views >= RM_STORE_MAX_VIEWS) return rm_errorf("%s: the store has %d views, the most there can be", s->path, s->n_views);
    if (view->dim == 0) return rm_errorf("%s: view '%s': dimension must be at least 1", s->path, view->name);
    return 0;
}

int rm_store_extend(rm_store_writer *w, const char *path, MPI_Comm comm, const rm_store_view_layout *view)
{
    rm_h5_quiet();
    memset(w, 0, sizeof *w);
    store_reset(&w->store);
    rm_store *s = &w->store;
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    rm_store old;
    if (rm_store_open(&old, path, comm) != 0) return -1;
    int rc = check_new_view(&old, view);
    rm_store_close(&old);
    if (rm_all_ok(comm, rc) != 0) return -1;
    char *temp = rm_temp_sibling(path, "partial");
    if (!temp) rc = -1;
    else if (strlen(temp) >= sizeof w->temp_path || strlen(path) >= sizeof w->final_path)
        rc = rm_errorf("output path too long: %s", path);
    else {
        snprintf(w->temp_path, sizeof w->temp_path, "%s", temp);
        snprintf(w->final_path, sizeof w->final_path, "%s", path);
        snprintf(s->path, sizeof s->path, "%s", temp);
    }
    free(temp);
    /* The copy is written before anyone opens it; the original is never opened for writing. */
    if (rc == 0 && rank == 0) rc = copy_file(path, w->temp_path);
    if (rm_all_ok(comm, rc) != 0) return -1;
    if (rm_mpi_check(MPI_Comm_dup(comm, &s->comm), "MPI_Comm_dup") != 0) return rm_all_ok(comm, -1);
    hid_t fapl = rm_h5_file_access(s->path, s->comm);
    if (rm_all_ok(comm, fapl < 0 ? -1 : 0) != 0) {
        rm_store_abandon(w);
        return -1;
    }
    s->file = H5Fopen(s->path, H5F_ACC_RDWR, fapl);
    rc = s->file < 0 ? rm_h5_fail(s->path, "/", "H5Fopen") : 0; /* before the close clears HDF5's stack */
    H5Pclose(fapl);
    if (rc == 0) rc = store_validate_open(s);
    /* Agreed before the collective object creation. */
    if (rm_all_ok(comm, rc) != 0) {
        rm_store_abandon(w);
        return -1;
    }
    w->first_view = s->n_views;
    plan_view(s, s->n_views, view);
    s->n_views++;
    rc = create_view_objects(s, w->first_view);
    if (rc == 0) rc = write_view_attrs(s);
    if (rm_all_ok(comm, rc) != 0) {
        rm_store_abandon(w);
        return -1;
    }
    return 0;
}

void rm_store_abandon(rm_store_writer *w)
{
    rm_store *s = &w->store;
    int rank = 0;
    if (s->comm != MPI_COMM_NULL) MPI_Comm_rank(s->comm, &rank);
    else MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    store_close_handles(s);
    H5Eclear2(H5E_DEFAULT);
    if (s->comm != MPI_COMM_NULL) MPI_Barrier(s->comm); /* every rank has closed before the unlink */
    if (rank == 0 && w->temp_path[0]) unlink(w->temp_path);
    rm_store_close(s);
}
