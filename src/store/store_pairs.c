/* Human-labelled preference pairs in a store (include/rmens/store/store_pairs.h): open and
 * check /pairs, present the pair splits as K = 2 splits, read, create and write them. */
#include "store_internal.h"
#include "rmens/store/store_pairs.h"

#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/base/parallel.h"

#define PAIR_CHUNK_TARGET ((size_t)4 << 20)
#define GROUP_CHUNK_TARGET ((size_t)1 << 20)

static const char *const PAIR_GROUPS[2] = {"/pairs/train", "/pairs/test"};
static const char *const PAIR_CHOSEN[2] = {"/pairs/train/chosen", "/pairs/test/chosen"};
static const char *const PAIR_REJECTED[2] = {"/pairs/train/rejected", "/pairs/test/rejected"};
static const char *const PAIR_GROUP_IDS[2] = {"/pairs/train/group", "/pairs/test/group"};

/* chosen (which 0) or rejected (1) of split sp of view v (0: /pairs); in the digest
 * sequence of the pair group the rejected values follow the chosen ones, the groups
 * (default view only) follow both. */
static transfer_target pair_target(const rm_store *s, int v, int sp, int which)
{
    if (v > 0) {
        const rm_store_view *w = &s->views[v];
        transfer_target t = {w->pairs[sp][which], w->pairs_paths[sp][which], 2, w->dim, 1,
                             w->pairs_dtype[sp] == RM_DTYPE_FLOAT16, "pair", "dimension",
                             which ? (uint64_t)s->pairs[sp].n * w->dim : 0};
        return t;
    }
    const rm_store_pair_split *p = &s->pairs[sp];
    transfer_target t = {which ? p->rejected : p->chosen, which ? PAIR_REJECTED[sp] : PAIR_CHOSEN[sp], 2, s->pairs_dim, 1,
                         p->dtype == RM_DTYPE_FLOAT16, "pair", "dimension", which ? (uint64_t)p->n * s->pairs_dim : 0};
    return t;
}

transfer_target store_pair_target(const rm_store *s, int view, int sp, int which) { return pair_target(s, view, sp, which); }

void store_view_pairs_paths(rm_store *s, int v)
{
    rm_store_view *w = &s->views[v];
    for (int sp = 0; sp < 2; sp++) {
        snprintf(w->pairs_paths[sp][2], sizeof w->pairs_paths[sp][2], "/views/%s/pairs/%s", w->name, STORE_SPLIT_NAMES[sp]);
        snprintf(w->pairs_paths[sp][0], sizeof w->pairs_paths[sp][0], "/views/%s/pairs/%s/chosen", w->name, STORE_SPLIT_NAMES[sp]);
        snprintf(w->pairs_paths[sp][1], sizeof w->pairs_paths[sp][1], "/views/%s/pairs/%s/rejected", w->name,
                 STORE_SPLIT_NAMES[sp]);
    }
}

int store_view_pairs_open(rm_store *s, int v)
{
    rm_store_view *w = &s->views[v];
    store_view_pairs_paths(s, v);
    for (int sp = 0; sp < 2; sp++) {
        if (s->pairs[sp].n == 0) continue;
        hsize_t d[2][3] = {{0}};
        rm_dtype t[2];
        for (int k = 0; k < 2; k++) {
            if (store_open_checked_dataset(s, w->pairs_paths[sp][k], 2, 1, &w->pairs[sp][k], d[k], &t[k],
                                           &w->checksum_pairs[sp][k]) != 0)
                return -1;
            if (d[k][0] != s->pairs[sp].n || (w->dim && d[k][1] != w->dim))
                return rm_errorf("%s: view '%s': %s is [%llu, %llu], expected [%zu, %zu] (the store's pairs, the view's D)",
                                 s->path, w->name, w->pairs_paths[sp][k], (unsigned long long)d[k][0],
                                 (unsigned long long)d[k][1], s->pairs[sp].n, w->dim);
            w->dim = (size_t)d[k][1];
        }
        if (t[0] != t[1])
            return rm_errorf("%s: view '%s': %s is %s but %s is %s", s->path, w->name, w->pairs_paths[sp][0],
                             rm_dtype_name(t[0]), w->pairs_paths[sp][1], rm_dtype_name(t[1]));
        w->pairs_dtype[sp] = t[0];
        if (store_read_digest_at(s, w->pairs_paths[sp][2], w->pairs_digest[sp]) != 0) return -1;
    }
    return 0;
}

int store_view_pairs_create(rm_store *s, int v)
{
    rm_store_view *w = &s->views[v];
    store_view_pairs_paths(s, v);
    char group[192];
    snprintf(group, sizeof group, "%s/pairs", w->paths[4]);
    if (store_create_group(s, group) != 0) return -1;
    for (int sp = 0; sp < 2; sp++) {
        if (s->pairs[sp].n == 0) continue;
        hsize_t dims[3] = {s->pairs[sp].n, w->dim, 0};
        int half = w->pairs_dtype[sp] == RM_DTYPE_FLOAT16;
        if (store_create_group(s, w->pairs_paths[sp][2]) != 0) return -1;
        for (int k = 0; k < 2; k++) {
            if (store_create_dataset(s, w->pairs_paths[sp][k], 2, dims, half, 0, PAIR_CHUNK_TARGET, &w->pairs[sp][k]) != 0)
                return -1;
            w->checksum_pairs[sp][k] = 1;
        }
    }
    return 0;
}

/* A rank-1 int64 dataset of n values. Local. */
static int open_group_ids(rm_store *s, int sp)
{
    const char *name = PAIR_GROUP_IDS[sp];
    hid_t d = H5Dopen2(s->file, name, H5P_DEFAULT), space = H5I_INVALID_HID, type = H5I_INVALID_HID;
    if (d < 0) return rm_h5_fail(s->path, name, "H5Dopen2");
    int rc = -1;
    hsize_t dims[1] = {0};
    if ((space = H5Dget_space(d)) < 0 || (type = H5Dget_type(d)) < 0) {
        rm_h5_fail(s->path, name, "H5Dget_space");
        goto out;
    }
    if (H5Sget_simple_extent_ndims(space) != 1) {
        rm_errorf("%s: %s: expected a 1-D array of int64 group ids", s->path, name);
        goto out;
    }
    H5Sget_simple_extent_dims(space, dims, NULL);
    if (H5Tget_class(type) != H5T_INTEGER || H5Tget_size(type) > 8) {
        rm_errorf("%s: %s: expected integer group ids (int64)", s->path, name);
        goto out;
    }
    if ((size_t)dims[0] != s->pairs[sp].n) {
        rm_errorf("%s: %s has %llu ids but %s has %zu pairs", s->path, name, (unsigned long long)dims[0], PAIR_CHOSEN[sp],
                  s->pairs[sp].n);
        goto out;
    }
    if (store_inspect_filters(s, name, d, &s->pairs[sp].checksum[2]) != 0) goto out;
    s->pairs[sp].group = d;
    d = H5I_INVALID_HID;
    s->pairs[sp].has_groups = 1;
    rc = 0;
out:
    rm_h5_close_id(&space, H5Sclose);
    rm_h5_close_id(&type, H5Tclose);
    rm_h5_close_id(&d, H5Dclose);
    return rc;
}

int store_pairs_open(rm_store *s)
{
    for (int sp = 0; sp < 2; sp++) {
        rm_store_pair_split *p = &s->pairs[sp];
        htri_t exists = H5Lexists(s->file, PAIR_GROUPS[sp], H5P_DEFAULT);
        if (exists < 0) return rm_h5_fail(s->path, PAIR_GROUPS[sp], "H5Lexists");
        if (!exists) continue;
        hsize_t dc[3] = {0}, dr[3] = {0};
        rm_dtype tc, tr;
        int *ck = p->checksum;
        if (store_open_checked_dataset(s, PAIR_CHOSEN[sp], 2, 1, &p->chosen, dc, &tc, &ck[0]) != 0 ||
            store_open_checked_dataset(s, PAIR_REJECTED[sp], 2, 1, &p->rejected, dr, &tr, &ck[1]) != 0 ||
            store_read_digest_at(s, PAIR_GROUPS[sp], p->digest) != 0)
            return -1;
        if (dc[0] != dr[0] || dc[1] != dr[1] || tc != tr)
            return rm_errorf("%s: %s [%llu, %llu] %s and %s [%llu, %llu] %s disagree", s->path, PAIR_CHOSEN[sp],
                             (unsigned long long)dc[0], (unsigned long long)dc[1], rm_dtype_name(tc), PAIR_REJECTED[sp],
                             (unsigned long long)dr[0], (unsigned long long)dr[1], rm_dtype_name(tr));
        size_t dim = (size_t)dc[1];
        if ((s->has_golden && dim != s->dim) || (s->pairs_dim && dim != s->pairs_dim))
            return rm_errorf("%s: %s has dimension %zu but the store's embeddings have %zu", s->path, PAIR_CHOSEN[sp], dim,
                             s->has_golden ? s->dim : s->pairs_dim);
        s->pairs_dim = dim;
        p->n = (size_t)dc[0];
        p->dtype = tc;
        htri_t has_ids = H5Lexists(s->file, PAIR_GROUP_IDS[sp], H5P_DEFAULT);
        if (has_ids < 0) return rm_h5_fail(s->path, PAIR_GROUP_IDS[sp], "H5Lexists");
        if (has_ids && open_group_ids(s, sp) != 0) return -1;
    }
    s->has_pairs = s->pairs[0].n > 0 || s->pairs[1].n > 0;
    if (!s->has_pairs) return rm_errorf("%s: /pairs holds neither /pairs/train nor /pairs/test", s->path);
    if (!s->has_golden) { /* a store of pairs alone: its pairs are its splits */
        if (s->pairs[0].n == 0 || s->pairs[1].n == 0)
            return rm_errorf("%s: a store of pairs alone needs /pairs/train and /pairs/test", s->path);
        s->dim = s->pairs_dim;
        for (int sp = 0; sp < 2; sp++) s->split[sp] = (rm_split_info){s->pairs[sp].n, 2, s->pairs[sp].dtype};
        s->pairs_presented = 1;
    }
    return 0;
}

int rm_store_use_pairs(rm_store *s)
{
    int rc = 0;
    if (!s->has_pairs) rc = rm_errorf("%s: pairs.source = \"store\" but the store holds no /pairs (see rmens import --train-chosen)", s->path);
    else if (s->pairs[0].n == 0 || s->pairs[1].n == 0)
        rc = rm_errorf("%s: pairs.source = \"store\" needs /pairs/train and /pairs/test; the store has only %s", s->path,
                       s->pairs[0].n ? "/pairs/train" : "/pairs/test");
    if (rm_all_ok(s->comm, rc) != 0) return -1;
    s->dim = s->pairs_dim;
    s->views[0].dim = s->dim;
    for (int sp = 0; sp < 2; sp++) {
        s->split[sp] = (rm_split_info){s->pairs[sp].n, 2, s->pairs[sp].dtype};
        s->views[0].dtype[sp] = s->pairs[sp].dtype;
    }
    for (int v = 1; v < s->n_views; v++)
        for (int sp = 0; sp < 2; sp++)
            if (!s->views[v].ops) s->views[v].dtype[sp] = s->views[v].pairs_dtype[sp];
    s->pairs_presented = 1;
    return 0;
}


int store_pairs_read_rows(rm_store *s, int view, rm_split split, size_t p0, size_t p1, float *out)
{
    transfer_target c = pair_target(s, view, split, 0), r = pair_target(s, view, split, 1);
    AGREE_ON_RANGE(s, c.name, p0, p1, s->pairs[split].n);
    size_t n = p1 - p0, D = c.n1, count = 0;
    int rc = rm_size_mul(n, D, &count, "pair rows");
    float *rejected = rc == 0 && n ? rm_alloc(count, sizeof(float), "pair rows") : NULL;
    if (rm_all_ok(s->comm, rc == 0 && (n == 0 || rejected) ? 0 : -1) != 0) return -1;
    /* chosen rows land in the first half of out, then spread to the even rows from the
     * last pair down, so no row is overwritten before it has moved */
    rc = store_read_rows(s, &c, p0, p1, out, CHECK_FAIL, NULL);
    if (rc == 0) rc = store_read_rows(s, &r, p0, p1, rejected, CHECK_FAIL, NULL);
    if (rc == 0)
        for (size_t i = n; i-- > 0;) {
            memmove(out + 2 * i * D, out + i * D, D * sizeof(float));
            memcpy(out + (2 * i + 1) * D, rejected + i * D, D * sizeof(float));
        }
    free(rejected);
    return rc;
}

int store_pairs_read_labels(rm_store *s, rm_split split, size_t p0, size_t p1, float *out)
{
    AGREE_ON_RANGE(s, PAIR_CHOSEN[split], p0, p1, s->pairs[split].n);
    for (size_t i = 0; i < p1 - p0; i++) out[2 * i] = 1.0f, out[2 * i + 1] = 0.0f;
    return 0;
}

int rm_store_read_pair_groups(rm_store *s, rm_split split, int64_t *out)
{
    const rm_store_pair_split *p = &s->pairs[split];
    if (!p->has_groups) {
        for (size_t i = 0; i < p->n; i++) out[i] = (int64_t)i;
        return 0;
    }
    /* independent read of the whole (small) array on each rank */
    if (H5Dread(p->group, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        return rm_h5_fail(s->path, PAIR_GROUP_IDS[split], "H5Dread");
    return 0;
}

typedef struct {
    int64_t id;
    size_t first;
} group_first;

static int by_id(const void *a, const void *b)
{
    const group_first *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id ? 1 : (x->first > y->first) - (x->first < y->first);
}

int rm_pair_groups_dense(const int64_t *groups, size_t n, uint32_t *dense, size_t *n_groups)
{
    group_first *g = rm_alloc(n ? n : 1, sizeof *g, "pair groups");
    uint32_t *rank_of = rm_alloc(n ? n : 1, sizeof *rank_of, "pair groups");
    if (!g || !rank_of) {
        free(g), free(rank_of);
        return -1;
    }
    for (size_t i = 0; i < n; i++) g[i] = (group_first){groups[i], i};
    qsort(g, n, sizeof *g, by_id);
    /* each id's first pair, then the groups numbered in order of their first pair */
    size_t G = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || g[i].id != g[i - 1].id) G++;
        rank_of[i] = (uint32_t)(G - 1);
    }
    size_t *first = rm_alloc(G ? G : 1, sizeof *first, "pair groups");
    uint32_t *number = rm_alloc(G ? G : 1, sizeof *number, "pair groups");
    if (!first || !number) {
        free(g), free(rank_of), free(first), free(number);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (i == 0 || g[i].id != g[i - 1].id) first[rank_of[i]] = g[i].first;
    /* number groups by first appearance: sort positions of firsts */
    for (size_t j = 0; j < G; j++) number[j] = UINT32_MAX;
    unsigned char *is_first = rm_calloc(n ? n : 1, 1, "pair groups");
    uint32_t *group_at = rm_alloc(n ? n : 1, sizeof *group_at, "pair groups");
    if (!is_first || !group_at) {
        free(g), free(rank_of), free(first), free(number), free(is_first), free(group_at);
        return -1;
    }
    for (size_t j = 0; j < G; j++) is_first[first[j]] = 1, group_at[first[j]] = (uint32_t)j;
    uint32_t next = 0;
    for (size_t i = 0; i < n; i++)
        if (is_first[i]) number[group_at[i]] = next++;
    for (size_t i = 0; i < n; i++) dense[g[i].first] = number[rank_of[i]];
    *n_groups = G;
    free(g), free(rank_of), free(first), free(number), free(is_first), free(group_at);
    return 0;
}

int rm_store_train_pair_groups(rm_store *s, uint32_t **dense, size_t *n_groups)
{
    *dense = NULL;
    *n_groups = 0;
    if (!s->pairs_presented) return 0;
    size_t n = s->pairs[RM_SPLIT_TRAIN].n;
    int64_t *ids = rm_alloc(n, sizeof(int64_t), "pair groups");
    uint32_t *out = rm_alloc(n, sizeof(uint32_t), "pair groups");
    int rc = ids && out ? rm_store_read_pair_groups(s, RM_SPLIT_TRAIN, ids) : -1;
    if (rc == 0) rc = rm_pair_groups_dense(ids, n, out, n_groups);
    free(ids);
    if (rc != 0) {
        free(out);
        return -1;
    }
    *dense = out;
    return 0;
}

/* ---- writing ---- */

int store_pairs_create(rm_store *s, const rm_store_layout *layout)
{
    if (layout->n_pairs[0] + layout->n_pairs[1] == 0) return 0;
    if (store_create_group(s, "/pairs") != 0) return -1;
    s->pairs_dim = layout->dim;
    for (int sp = 0; sp < 2; sp++) {
        rm_store_pair_split *p = &s->pairs[sp];
        p->n = layout->n_pairs[sp];
        if (p->n == 0) continue;
        p->dtype = layout->pairs_dtype;
        p->has_groups = layout->pair_groups[sp];
        hsize_t dims[3] = {p->n, layout->dim, 0}, gdims[3] = {p->n, 0, 0};
        int half = p->dtype == RM_DTYPE_FLOAT16;
        if (store_create_group(s, PAIR_GROUPS[sp]) != 0 ||
            store_create_dataset(s, PAIR_CHOSEN[sp], 2, dims, half, 0, PAIR_CHUNK_TARGET, &p->chosen) != 0 ||
            store_create_dataset(s, PAIR_REJECTED[sp], 2, dims, half, 0, PAIR_CHUNK_TARGET, &p->rejected) != 0)
            return -1;
        if (p->has_groups && store_create_dataset(s, PAIR_GROUP_IDS[sp], 1, gdims, 0, 1, GROUP_CHUNK_TARGET, &p->group) != 0)
            return -1;
    }
    s->has_pairs = 1;
    return 0;
}

int rm_store_write_pairs(rm_store_writer *w, rm_split split, size_t i0, size_t i1, const float *chosen,
                         const float *rejected)
{
    return rm_store_write_view_pairs(w, 0, split, i0, i1, chosen, rejected);
}

int rm_store_write_view_pairs(rm_store_writer *w, int view, rm_split split, size_t i0, size_t i1, const float *chosen,
                              const float *rejected)
{
    rm_store *s = &w->store;
    int rc = 0;
    if (view < 0 || view >= s->n_views || (view > 0 && view < w->first_view) || (view == 0 && w->first_view > 0))
        rc = rm_errorf("%s: view %d is not one this writer writes", s->path, view);
    else if (s->pairs[split].n == 0) rc = rm_errorf("%s: the store has no %s", s->path, PAIR_GROUPS[split]);
    if (rm_all_ok(s->comm, rc) != 0) return -1;
    transfer_target c = pair_target(s, view, split, 0), r = pair_target(s, view, split, 1);
    AGREE_ON_RANGE(s, c.name, i0, i1, s->pairs[split].n);
    uint64_t *digest = &w->pairs_digest[view][split];
    w->pairs_written[view][split] += ((chosen ? i1 - i0 : 0) + (rejected ? i1 - i0 : 0)) * c.n1;
    if (store_transfer_rows(s, &c, 1, i0, chosen ? i1 : i0, (float *)chosen, CHECK_FAIL, digest) != 0) return -1;
    return store_transfer_rows(s, &r, 1, i0, rejected ? i1 : i0, (float *)rejected, CHECK_FAIL, digest);
}

int rm_store_write_pair_groups(rm_store_writer *w, rm_split split, const int64_t *groups)
{
    rm_store *s = &w->store;
    rm_store_pair_split *p = &s->pairs[split];
    int rank = 0, rc = 0;
    MPI_Comm_rank(s->comm, &rank);
    if (!p->has_groups) rc = rm_errorf("%s: %s: the layout has no group ids", s->path, PAIR_GROUPS[split]);
    if (rm_all_ok(s->comm, rc) != 0) return -1;
    /* collective (filtered datasets are written collectively): rank 0 selects everything */
    hid_t file_space = H5Dget_space(p->group), dxpl = H5Pcreate(H5P_DATASET_XFER);
    hsize_t n = rank == 0 ? (hsize_t)p->n : 0;
    hid_t mem_space = H5Screate_simple(1, &n, NULL);
    if (file_space < 0 || dxpl < 0 || mem_space < 0 || H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0)
        rc = rm_h5_fail(s->path, PAIR_GROUP_IDS[split], "H5Dwrite setup");
    if (rc == 0 && rank != 0) H5Sselect_none(file_space);
    if (rc == 0 && rank != 0) H5Sselect_none(mem_space);
    int64_t dummy = 0;
    if (rc == 0 && H5Dwrite(p->group, H5T_NATIVE_INT64, mem_space, file_space, dxpl, rank == 0 ? groups : &dummy) < 0)
        rc = rm_h5_fail(s->path, PAIR_GROUP_IDS[split], "H5Dwrite");
    if (file_space >= 0) H5Sclose(file_space);
    if (mem_space >= 0) H5Sclose(mem_space);
    if (dxpl >= 0) H5Pclose(dxpl);
    if (rank == 0) {
        uint64_t after = 2 * (uint64_t)p->n * s->pairs_dim;
        w->pairs_digest[0][split] = rm_store_digest_i64(w->pairs_digest[0][split], groups, p->n, after);
        w->pairs_written[0][split] += p->n;
    }
    return rm_all_ok(s->comm, rc);
}

int store_pairs_write_digests(rm_store_writer *w)
{
    rm_store *s = &w->store;
    if (!s->has_pairs) return 0;
    enum { N = RM_STORE_MAX_VIEWS * 2 };
    uint64_t total[N];
    unsigned long long counts[N], total_counts[N];
    for (int i = 0; i < N; i++) counts[i] = w->pairs_written[i / 2][i % 2];
    if (rm_all_ok(s->comm, rm_mpi_check(MPI_Allreduce(w->pairs_digest, total, N, MPI_UINT64_T, MPI_SUM, s->comm),
                                        "MPI_Allreduce")) != 0 ||
        rm_all_ok(s->comm, rm_mpi_check(MPI_Allreduce(counts, total_counts, N, MPI_UNSIGNED_LONG_LONG, MPI_SUM, s->comm),
                                        "MPI_Allreduce")) != 0)
        return -1;
    int rc = 0;
    for (int v = w->first_view; v < s->n_views && rc == 0; v++)
        for (int sp = 0; sp < 2 && rc == 0; sp++) {
            const rm_store_pair_split *p = &s->pairs[sp];
            if (p->n == 0) continue;
            const char *group = v == 0 ? PAIR_GROUPS[sp] : s->views[v].pairs_paths[sp][2];
            unsigned long long expected = v == 0 ? 2ull * p->n * s->pairs_dim + (p->has_groups ? p->n : 0)
                                                 : 2ull * p->n * s->views[v].dim;
            if (total_counts[2 * v + sp] != expected) {
                rc = rm_errorf("%s: %s: %llu values written, expected each of the %llu exactly once", s->path, group,
                               total_counts[2 * v + sp], expected);
                break;
            }
            char text[64];
            rm_store_digest_format(total[2 * v + sp], text, sizeof text);
            hid_t g = H5Gopen2(s->file, group, H5P_DEFAULT);
            if (g < 0) rc = rm_h5_fail(s->path, group, "H5Gopen2");
            else rc = rm_h5_attr_string(g, "content_digest", text);
            if (g >= 0) H5Gclose(g);
        }
    return rm_all_ok(s->comm, rc);
}

