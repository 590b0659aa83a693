/* Internals shared by the store's three parts (include/rmens/store/store.h is the interface):
 *   store_io.c     half conversions, HDF5 plumbing, attributes, the piecewise collective
 *                  transfer (with checksum-error reporting and the content digest);
 *   store_read.c   open and validate, range reads, whole-store scans, --verify;
 *   store_direct.c direct chunk reads of Fletcher-32 datasets, verified by src/kernels/fletcher32.c;
 *   store_write.c  create (chunked, Fletcher-32), write, commit (digest attributes), abandon. */
#ifndef RMENS_STORE_INTERNAL_H
#define RMENS_STORE_INTERNAL_H

#include "rmens/store/h5util.h"
#include "rmens/store/store.h"

#define DEFAULT_READ_CHUNK_BYTES ((size_t)64 << 20)

extern const char *const STORE_SPLIT_NAMES[2];     /* "train", "test" */
extern const char *const STORE_GROUP_PATHS[3];     /* "/train", "/test", "/bench" (rm_store_group) */
extern const char *const STORE_EMBEDDING_PATHS[2];
extern const char *const STORE_REWARD_PATHS[2];
extern const char *const STORE_BENCH_PATHS[2];

/* ---- HDF5 plumbing: the checked helpers of rmens/store/h5util.h (rm_h5_fail names the
 * file, the object and the failing call), and the store's own types ---- */
hid_t store_half_type(void);
int store_classify_float(hid_t type); /* 0 float32, 1 IEEE float16, -1 other */
const char *store_type_description(hid_t type, char *buf, size_t n);
void store_reset(rm_store *s);
/* Attributes, datasets, shapes, filters and views of s->file, just opened (local). */
int store_validate_open(rm_store *s);
void store_close_handles(rm_store *s);
/* Every dataset handle of the store and its views (not the file). */
void store_close_datasets(rm_store *s);

/* ---- piecewise collective transfer of a row range of a [n0, n1, n2] (or [n0, n1]) dataset ---- */
typedef struct {
    hid_t dset;
    const char *name;     /* "/train/embeddings" ... for messages */
    int rank;             /* 2 or 3 */
    size_t n1, n2;        /* second dimension; innermost (1 for rank-2 datasets) */
    int half;             /* stored as IEEE float16 */
    const char *row_word, *col_word;
    uint64_t digest_base; /* index of this dataset's first value in its group's digest sequence */
} transfer_target;

enum { CHECK_NONE = 0, CHECK_FAIL = 1 };

/* Collective over s->comm: read (write = 0) or write rows [p0, p1) of t into/from buf
 * (float32, contiguous). check: fail on NaN/Inf. buf may be NULL when p0 == p1. digest:
 * when not NULL, the stored bits of every value transferred are added to *digest (the
 * terms of rm_store_digest_*, so the sum is the same for any split into ranks and pieces). */
int store_transfer_rows(rm_store *s, const transfer_target *t, int write, size_t p0, size_t p1, float *buf, int check,
                        uint64_t *digest);
/* Collective over s->comm: read rows [p0, p1) of t into buf, as store_transfer_rows with
 * write = 0 does (same data, same checks, same errors). Datasets whose only filter is
 * Fletcher-32 are read chunk by chunk and verified by rmens (src/store/store_direct.c);
 * everything else goes through store_transfer_rows. */
int store_read_rows(rm_store *s, const transfer_target *t, size_t p0, size_t p1, float *buf, int check, uint64_t *digest);
/* As store_read_rows, but only the items (row a, column b: item a * n1 + b, a value of
 * `wanted` [n0 * n1] that is non-zero) must land in buf; the others may be left as they
 * were. Where the direct read serves, they are: each chunk is still read and verified
 * whole, but only the wanted items are copied, so the pages of the others are never
 * touched. The NaN/Inf check covers every value verified in place and, on the other
 * routes, the items copied. wanted NULL: every item. */
int store_read_rows_wanted(rm_store *s, const transfer_target *t, size_t p0, size_t p1, float *buf, int check,
                           uint64_t *digest, const uint8_t *wanted);
transfer_target store_embeddings_target(const rm_store *s, rm_split split);
transfer_target store_rewards_target(const rm_store *s, rm_split split);
transfer_target store_bench_target(const rm_store *s, int which);
/* Targets of view v (0: the default view's). The digest bases count within the view's
 * own groups (its embeddings alone). */
transfer_target store_view_embeddings_target(const rm_store *s, int view, rm_split split);
transfer_target store_view_bench_target(const rm_store *s, int view, int which);
size_t store_count_nonfinite(const float *v, size_t n);
/* First non-finite value of v[0..n): its index, or n. */
size_t store_first_nonfinite(const float *v, size_t n);
/* "<file>: <dataset>: <verb> NaN|Inf at <row> r, <col> c" for v[index] of the piece
 * [r0, ..) x [c0, c0 + nc) (of n2 values each). Returns -1. */
int store_report_nonfinite(const rm_store *s, const transfer_target *t, const char *verb, size_t r0, size_t c0,
                           size_t nc, size_t index, float value);
/* 1 when `name` is a valid view name (1-63 of [A-Za-z0-9_.-], not "." or ".."). */
int store_view_name_ok(const char *name);

int store_check_range(const rm_store *s, const char *name, size_t p0, size_t p1, size_t n);
/* A local argument error must still be agreed on, or the other ranks would wait. */
#define AGREE_ON_RANGE(s, name, p0, p1, n) \
    do { if (rm_all_ok((s)->comm, store_check_range((s), (name), (p0), (p1), (n))) != 0) return -1; } while (0)

/* ---- preference pairs (src/store/store_pairs.c, rmens/store/store_pairs.h) ---- */
/* Open and check /pairs when present (from store_validate_open). Local. */
int store_pairs_open(rm_store *s);
/* Create /pairs/<split> objects of the layout (from rm_store_create). Collective. */
int store_pairs_create(rm_store *s, const rm_store_layout *layout);
/* Record the pair groups' content digests and check every value was written (commit). */
int store_pairs_write_digests(rm_store_writer *w);
/* Read prompts [p0, p1) of a presented pair split of view `view` (0: /pairs) into
 * out[(p1-p0) * 2 * D_view], chosen and rejected rows interleaved. */
int store_pairs_read_rows(rm_store *s, int view, rm_split split, size_t p0, size_t p1, float *out);
/* The human label as rewards: out[2i] = 1, out[2i + 1] = 0 for i in [0, p1 - p0). */
int store_pairs_read_labels(rm_store *s, rm_split split, size_t p0, size_t p1, float *out);
/* Chosen (which 0) or rejected (1) of pair split sp of view `view` (0: /pairs), digest base
 * as in its group's sequence (rejected after chosen); for --verify and inspect's scans. */
transfer_target store_pair_target(const rm_store *s, int view, int sp, int which);
/* View v >= 1 of a store with /pairs: open and check /views/<name>/pairs/<split> for each
 * split /pairs has ([N_pairs, D_v]; D_v the view's golden D when it has one). Local. */
int store_view_pairs_open(rm_store *s, int v);
/* Fill s->views[v].pairs_paths from its name (local). */
void store_view_pairs_paths(rm_store *s, int v);
/* Create view v's pair groups and datasets, planned (dim, dtype), for each split of /pairs.
 * Collective. */
int store_view_pairs_create(rm_store *s, int v);

/* ---- HDF5 objects (src/store/store_objects.c) ---- */
/* "<file>: <object>" into buf, for messages. */
const char *store_object_what(const rm_store *s, const char *object, char *buf, size_t n);
/* A string attribute into buf[n]: 0 read, 1 absent (buf ""), -1 error. */
int store_read_optional_string(hid_t obj, const char *name, char *buf, size_t n, const char *what);
/* Open a float dataset of the given rank, checking its type, shape and filters. */
int store_open_checked_dataset(rm_store *s, const char *name, int rank, int half_allowed, hid_t *dset, hsize_t dims[3],
                               rm_dtype *dtype, int *fletcher);
int store_read_digest_at(rm_store *s, const char *group, char *out);
int store_inspect_filters(rm_store *s, const char *name, hid_t d, int *fletcher);
/* Creation properties without timestamps (identical content, identical file). */
hid_t store_untimed_creation_plist(hid_t cls, const char *path, const char *object);
/* The store's chunked, Fletcher-32 dataset creation (type: a float of `half` or, when
 * int64, H5T_STD_I64LE), and its groups. */
int store_create_dataset(rm_store *s, const char *name, int rank, const hsize_t dims[3], int half, int int64,
                         size_t target, hid_t *out);
int store_create_group(rm_store *s, const char *name);

#endif
