/* The embedding store: one HDF5 file, read and written collectively with MPI-IO.
 *
 * Layout (format_version 1; readable by h5py with no help from rmens or plugins):
 *   /                  attrs: format="rmens-store", format_version=1 (int),
 *                             embed_model, response_model, task, store_uuid (strings)
 *   /train/embeddings  [N_train, K_train, D]  float32 or IEEE float16
 *   /train/rewards     [N_train, K_train]     float32 golden rewards
 *   /test/embeddings   [N_test,  K_test,  D]
 *   /test/rewards      [N_test,  K_test]
 *   /bench/chosen, /bench/rejected   optional [N_bench, D]
 *   /train, /test, /bench (groups)   attr content_digest (string, see Integrity)
 * Row i of a split is prompt i; column k its k-th response.
 *
 * Views (format_version 2): the same prompts and responses embedded by several models.
 * The datasets above are the default view; every further view <name> has
 *   /views/<name>/train/embeddings [N_train, K_train, D_v]  float32 or IEEE float16
 *   /views/<name>/test/embeddings  [N_test,  K_test,  D_v]
 *   /views/<name>/bench/chosen, /views/<name>/bench/rejected  [N_bench, D_v] (exactly
 *                                   when the default view has /bench)
 *   /views/<name>/train, /test, /bench (groups)  attr content_digest
 * with its own D_v and dtype, and no rewards of its own: N, K and the golden rewards are
 * the default view's. Root attribute `views` (1-D array of variable-length UTF-8 strings;
 * fixed-length strings are read too) lists every view's name, the default view first.
 * rmens writes format_version 2 only for a store with more than one view; a version 1
 * store (no `views`) has the single view "default". Names: 1-63 of [A-Za-z0-9_.-].
 * Each view group is chunked and checksummed like the default view's, and its digest
 * sums its embeddings alone (bench: chosen then rejected) in the same way.
 *
 * Preference pairs (issue 29; rmens/store/store_pairs.h has the details): beside or
 * instead of /train and /test, a store may hold human-labelled pairs,
 *   /pairs/train/chosen, /pairs/train/rejected   [N_pairs, D]  float32 or IEEE float16
 *   /pairs/train/group                           [N_pairs]     int64 (optional)
 *   /pairs/test/...                              the same
 *   /pairs/train, /pairs/test (groups)           attr content_digest: chosen, rejected,
 *                                                then group values
 * A store of pairs alone has no /train and /test. rm_store_use_pairs presents the pair
 * splits as the store's splits (N_pairs prompts of K = 2 responses: chosen, rejected), so
 * everything that reads prompt ranges reads pairs.
 * Views of a pair store (format_version 2 with /pairs): every further view <name> also has
 *   /views/<name>/pairs/train/chosen, .../rejected  [N_pairs, D_v]  float32 or IEEE float16
 *   /views/<name>/pairs/test/...                    the same (for each split /pairs has)
 *   /views/<name>/pairs/<split> (groups)            attr content_digest: chosen then rejected
 * (and its /train, /test, /bench datasets above exactly when the store has golden splits),
 * one D_v and dtype for all of them, chunked and checksummed like /pairs; no group ids of
 * its own (the groups are the default view's). Presented pairs read every view's pairs.
 *
 * Every function taking a store is collective over the store's communicator unless
 * marked local: all ranks call it, each with its own (possibly empty) prompt range.
 * Reads never load a whole split to read a part of it: a range is read in pieces of at
 * most `read_chunk_bytes`, and float16 is converted to float32 piece by piece. Every
 * value read is checked for NaN/Inf; an error names the file, dataset and prompt.
 *
 * Collective reads and writes: HDF5's collective transfer needs every rank to call
 * H5Dread/H5Dwrite the same number of times, so each call first agrees (MPI_Allreduce
 * max) on the number of pieces; a rank with fewer pieces (or an empty range) takes part
 * with empty selections. A failure on any rank (I/O error, NaN/Inf, checksum) makes the
 * call return -1 on every rank with the lowest failing rank's message. Reads of filtered
 * (checksummed) datasets are independent MPI-IO: HDF5 1.10 reads filtered chunks one at a
 * time either way, and its collective path around them is 3-4x slower.
 *
 * Piece size: a piece is a run of whole prompts of at most read_chunk_bytes of stored
 * data; when one prompt alone is larger, it is read a run of responses at a time (a
 * single response row of D values is the smallest piece).
 *
 * Chunking (chosen for prompt-range reads): embeddings are chunked as
 * [c, K, D] with c = max(1, 4 MiB / (K * D * element size)) whole prompts, so a prompt
 * range touches only the chunks of its prompts and every chunk is one contiguous,
 * few-MiB MPI-IO request; when one prompt exceeds 4 MiB (e.g. K = 500, D = 4096) the
 * chunk is [1, k, D] with k responses filling 4 MiB. Rewards use [c, K] chunks of about
 * 1 MiB, the benchmark [r, D] chunks of about 4 MiB. No compression (embeddings do not
 * compress, and a compressed chunk's size would depend on its content), no fill values
 * of our own (every element is written), object timestamps off so that identical content
 * gives an identical file.
 *
 * Integrity. rmens writes every dataset with HDF5's Fletcher-32 checksum filter (built
 * into HDF5: h5py and any HDF5 reader need no plugin). It is the only filter: Fletcher-32
 * adds 4 bytes to each chunk and keeps the data uncompressed. Parallel HDF5 1.10 writes
 * filtered datasets only collectively (which every write here is) and, with early
 * allocation, writes the chunks once filled when the dataset is created, so the file
 * layout still does not depend on the writers. Every read checks the checksum of every
 * chunk it touches; a mismatch is an error naming the file, the dataset and the chunk's
 * prompt range, on every rank that reads that chunk. Checksums are a property of each
 * dataset, found in its creation property list, not of format_version: stores written
 * before (format_version 1 all the same) or by h5py are read as they are and reported
 * as unprotected by rm_store_checksums.
 * Each group also records a content digest, the attribute content_digest =
 * "rmens-sum64-v1:" followed by 16 lowercase hex digits of
 *     digest = sum over j of mix64((j * 0x9E3779B97F4A7C15) XOR bits_j)   (mod 2^64)
 * where j runs over the group's stored values in order - /train and /test: every value of
 * embeddings (row-major, i.e. prompt, response, dimension) then every value of rewards;
 * /bench: chosen then rejected - and bits_j is value j's stored bit pattern (the uint32
 * of a float32, the uint16 of a float16); mix64 is SplitMix64's finaliser
 * (z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB;
 * z ^= z >> 31). A sum of position-keyed terms is the same whichever ranks and pieces
 * computed its parts, so it costs one MPI_Allreduce; any single changed value changes it
 * (mix64 is a bijection), and it catches what a checksum cannot: data rewritten with a
 * valid checksum, or chunks swapped. rm_store_verify recomputes it. */
#ifndef RMENS_STORE_H
#define RMENS_STORE_H

#include <hdf5.h>
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "rmens/base/config.h"
#include "rmens/base/progress.h"

#define RM_STORE_FORMAT "rmens-store"
#define RM_STORE_FORMAT_VERSION 1        /* a store of the default view alone */
#define RM_STORE_FORMAT_VERSION_VIEWS 2  /* a store with views */
#define RM_STORE_MAX_VIEWS 16
#define RM_STORE_DEFAULT_VIEW "default"

typedef enum { RM_SPLIT_TRAIN = 0, RM_SPLIT_TEST = 1 } rm_split;
typedef enum { RM_DTYPE_FLOAT32 = 0, RM_DTYPE_FLOAT16 = 1 } rm_dtype;

typedef struct {
    size_t n_prompts, n_responses; /* N, K */
    rm_dtype dtype;                /* of the embeddings */
} rm_split_info;

/* One view. views[0] describes the default view (its handles are the store's own
 * embeddings[] and bench[], not repeated here); views[v >= 1] own their handles. */
typedef struct {
    char name[64];
    size_t dim;
    rm_dtype dtype[2], bench_dtype;
    hid_t embeddings[2], bench[2];
    int checksum_embeddings[2], checksum_bench[2];
    char digest[3][64];  /* [rm_store_group] recorded content_digest, "" when absent */
    char paths[5][160];  /* /views/<name>/train/embeddings, test/embeddings, bench/chosen,
                          * bench/rejected, and the view's group /views/<name> */
    /* The view's preference pairs (stores with /pairs; views v >= 1, the default view's are
     * the store's pairs[]): [split][chosen, rejected], present for each split /pairs has. */
    hid_t pairs[2][2];
    rm_dtype pairs_dtype[2];
    int checksum_pairs[2][2];
    char pairs_digest[2][64];       /* recorded content_digest of /views/<name>/pairs/<split> */
    char pairs_paths[2][3][192];    /* [split]: .../pairs/<split>/chosen, /rejected, the group */
    /* A view computed from stored ones (the composite of model.inputs,
     * rmens/store/store_inputs.h): how its rows are read and its state released, and that
     * state. NULL for a stored view. The readers below dispatch through `ops`, so the
     * store's own files do not depend on the kinds of computed view. */
    const struct rm_store_view_ops *ops;
    struct rm_store_inputs *inputs;
} rm_store_view;

struct rm_store;
typedef struct rm_store_view_ops {
    int (*read_rows)(struct rm_store *s, int view, int split, size_t p0, size_t p1, float *out);
    int (*read_bench)(struct rm_store *s, int view, size_t i0, size_t i1, float *chosen, float *rejected);
    void (*release)(rm_store_view *v);
} rm_store_view_ops;

/* One split of human-labelled pairs (/pairs/train or /pairs/test). */
typedef struct {
    size_t n;                /* pairs; 0: the store has none */
    rm_dtype dtype;          /* of chosen and rejected */
    int has_groups;          /* /pairs/<split>/group exists */
    hid_t chosen, rejected, group;
    int checksum[3];         /* Fletcher-32 on chosen, rejected, group */
    char digest[64];         /* recorded content_digest, "" when absent */
} rm_store_pair_split;

typedef struct rm_store {
    char path[1024];
    MPI_Comm comm;   /* duplicated at open; freed at close */
    hid_t file;
    size_t dim;      /* D */
    rm_split_info split[2];
    size_t n_bench;  /* 0 when the store has no /bench */
    char embed_model[256], response_model[256], task[256];
    char uuid[64];   /* store_uuid attribute: identity recorded in every result's provenance */
    size_t read_chunk_bytes; /* bound on one read piece per rank (default 64 MiB); set it after
                              * open from the config: (size_t)cfg.parallel_read_chunk_mb << 20 */
    rm_dtype bench_dtype;    /* of /bench/chosen and /bench/rejected (when n_bench > 0) */
    /* Open dataset handles (H5I_INVALID_HID when absent): [split] and chosen/rejected. */
    hid_t embeddings[2], rewards[2], bench[2];
    /* Integrity, found at open: whether each dataset carries Fletcher-32 ([split] and
     * chosen/rejected), and each group's recorded content_digest ("" when absent). */
    int checksum_embeddings[2], checksum_rewards[2], checksum_bench[2];
    char digest[3][64]; /* [rm_store_group] */
    int format_version; /* 1, or 2 (views) */
    int n_views;        /* >= 1 */
    rm_store_view views[RM_STORE_MAX_VIEWS];
    /* Preference pairs (rmens/store/store_pairs.h). has_golden: /train and /test exist;
     * pairs_presented: rm_store_use_pairs made split[] the pair splits. */
    rm_store_pair_split pairs[2];
    size_t pairs_dim;
    int has_pairs, has_golden, pairs_presented;
    /* The whole-store scans (statistics, --verify) advance it by the values this rank has
     * read; NULL (rm_store_open's): silent. Set by `rmens inspect`. */
    rm_progress_meter *progress;
} rm_store;

typedef enum { RM_GROUP_TRAIN = 0, RM_GROUP_TEST = 1, RM_GROUP_BENCH = 2 } rm_store_group;
#define RM_STORE_DIGEST_PREFIX "rmens-sum64-v1:"


/* Open and validate (format attrs, dataset ranks, shape agreement, dtypes). */
int rm_store_open(rm_store *s, const char *path, MPI_Comm comm);
/* Collective: open cfg->store for a run and present its pairs when pairs.source = "store".
 * A store of pairs alone under pairs.source = "golden" is refused (its "rewards" would be
 * the human labels fed to a simulated annotator), naming the key. */
int rm_store_open_for_run(rm_store *s, const rm_settings *cfg, MPI_Comm comm);
void rm_store_close(rm_store *s);

/* Read embeddings of prompts [p0, p1) of a split into out[(p1-p0) * K * D] (float32). */
int rm_store_read_embeddings(rm_store *s, rm_split split, size_t p0, size_t p1, float *out);
/* Views: index of the view called `name`, or -1 with an error listing the store's views
 * (local). The *_view functions take a view index (0: the default view, the same as the
 * functions without it); rm_store_view_dim gives its D. */
int rm_store_find_view(const rm_store *s, const char *name);
size_t rm_store_view_dim(const rm_store *s, int view);
int rm_store_read_view_embeddings(rm_store *s, int view, rm_split split, size_t p0, size_t p1, float *out);
/* As rm_store_read_view_embeddings, when only some responses are needed: wanted[N * K]
 * (item p * K + k of the split, non-zero: needed). The wanted ones land in out; the others
 * may be left as they were (a store of Fletcher-32 chunks leaves them: every chunk is still
 * verified, but the pages of unwanted rows are never written), or be read too. */
int rm_store_read_view_items(rm_store *s, int view, rm_split split, size_t p0, size_t p1, const uint8_t *wanted,
                             float *out);
int rm_store_read_view_bench(rm_store *s, int view, size_t i0, size_t i1, float *chosen, float *rejected);
/* Read golden rewards of prompts [p0, p1) into out[(p1-p0) * K]. */
int rm_store_read_rewards(rm_store *s, rm_split split, size_t p0, size_t p1, float *out);
/* Read benchmark rows [i0, i1) of /bench/chosen and /bench/rejected, each [(i1-i0) * D]. */
int rm_store_read_bench(rm_store *s, size_t i0, size_t i1, float *chosen, float *rejected);

/* Whole-split statistics for `rmens inspect` (collective; each rank scans its own part
 * of the prompts, in read_chunk_bytes pieces). Non-finite values are counted here, not
 * treated as errors. */
typedef struct {
    size_t embedding_values, embedding_nonfinite;
    size_t reward_values, reward_nonfinite;
    double reward_min, reward_max, reward_mean, reward_std; /* over finite rewards */
    double embedding_mean_norm;                             /* mean L2 norm of finite rows */
} rm_split_stats;
int rm_store_scan_split(rm_store *s, rm_split split, rm_split_stats *out);
/* Non-finite values in /bench/chosen and /bench/rejected (collective). */
int rm_store_scan_bench(rm_store *s, size_t *values, size_t *nonfinite);
/* Chunk dimensions of a dataset ("train/embeddings", ...) into dims[3]; 0 for contiguous. */
int rm_store_chunk_dims(rm_store *s, const char *dataset, int *rank, unsigned long long dims[3]);

/* Checksums (local): 1 when every dataset carries Fletcher-32, 0 when none does, -1 when
 * only some do (`which`, if not NULL, gets the first dataset without). */
int rm_store_checksums(const rm_store *s, const char **which);

/* `rmens inspect --verify` (collective): read every value of every dataset once, each rank
 * its share of the prompts in read_chunk_bytes pieces (memory bounded by one piece), so
 * HDF5 checks every chunk's checksum; count NaN/Inf and recompute each group's content
 * digest. A checksum or I/O error fails the call (-1, the message names the chunk); NaN/Inf
 * and digest mismatches are reported in `out` for the caller to judge. */
typedef struct {
    int present;              /* the group exists (bench is optional) */
    size_t values, nonfinite; /* values read, of which NaN/Inf */
    double bytes;             /* stored bytes read */
    char computed[64];        /* digest of what was read, in the attribute's form */
    int digest;               /* 1 matches the recorded one, 0 differs, -1 none recorded */
} rm_group_verify;
typedef struct {
    rm_group_verify group[3]; /* [rm_store_group] */
    rm_group_verify view_group[RM_STORE_MAX_VIEWS][3]; /* views v >= 1 ([0] unused) */
    rm_group_verify pairs[2]; /* /pairs/train, /pairs/test: chosen, rejected, then group ids */
    rm_group_verify view_pairs[RM_STORE_MAX_VIEWS][2]; /* views v >= 1: /views/<name>/pairs/<split> */
    double bytes, seconds;    /* all stored bytes read; wall time of the pass (slowest rank) */
    int ranks;
} rm_store_verify_report;
int rm_store_verify(rm_store *s, rm_store_verify_report *out);
/* The values (all ranks) that the statistics scans (verify 0: rm_store_scan_split of the
 * golden splits, then of the pair splits when both exist, and rm_store_scan_bench) or
 * rm_store_verify (verify 1: every dataset of every view) read: a progress meter's total. */
double rm_store_scan_values(const rm_store *s, int verify);

/* Content digest terms (local): the digest of values[0..n) that sit at positions
 * first_index.. of their group's sequence, added to acc (see Integrity above). */
uint64_t rm_store_digest_f32(uint64_t acc, const float *values, size_t n, uint64_t first_index);
uint64_t rm_store_digest_f16(uint64_t acc, const uint16_t *values, size_t n, uint64_t first_index);
uint64_t rm_store_digest_i64(uint64_t acc, const int64_t *values, size_t n, uint64_t first_index);
/* RM_STORE_DIGEST_PREFIX and 16 hex digits into out[n]. */
void rm_store_digest_format(uint64_t digest, char *out, size_t n);

const char *rm_split_name(rm_split split); /* "train" | "test" */
const char *rm_dtype_name(rm_dtype dtype); /* "float32" | "float16" */

/* ---- writing (synth, import) ---- */

typedef struct {
    const char *name;
    size_t dim;
    rm_dtype dtype; /* of all its embeddings */
} rm_store_view_layout;

typedef struct {
    size_t dim;
    rm_split_info split[2];
    size_t n_bench;
    const char *default_view;          /* NULL: "default" */
    int n_extra_views;                 /* views beside the default one (format_version 2 when > 0) */
    const rm_store_view_layout *extra_views;
    const char *embed_model, *response_model, *task;
    const char *uuid; /* NULL: derived from the content description and time */
    /* Preference pairs (rmens/store/store_pairs.h): n_pairs[split] > 0 creates
     * /pairs/<split> (chosen, rejected [n, dim] of pairs_dtype; group [n] when
     * pair_groups[split]). With pairs, split[] may be all zero: a store of pairs alone. */
    size_t n_pairs[2];
    int pair_groups[2];
    rm_dtype pairs_dtype;
    const char *provenance; /* how the store was made (written as root attribute 'provenance'
                               with 'rmens_version'); rank counts are left out on purpose: the
                               file is the same for any number of writing ranks */
} rm_store_layout;

typedef struct {
    rm_store store;    /* the file being written, open on the temp path */
    char final_path[1024];
    char temp_path[1100];
    /* This rank's part of each group's content digest and the values it wrote: at commit
     * the sums over ranks give the digest attributes, and the counts must equal the
     * group's size (every value written exactly once, as synth and import do). */
    uint64_t digest[RM_STORE_MAX_VIEWS][3], written[RM_STORE_MAX_VIEWS][3];
    uint64_t pairs_digest[RM_STORE_MAX_VIEWS][2], pairs_written[RM_STORE_MAX_VIEWS][2]; /* [view]: /pairs/<split>
                                                  * (view 0) or /views/<name>/pairs/<split>, as digest[][] */
    int first_view;    /* views written by this writer: [first_view, n_views) (extend: the new one) */
} rm_store_writer;

/* Create the store at a temporary sibling of `path`; refuses an existing `path` unless force. */
int rm_store_create(rm_store_writer *w, const char *path, MPI_Comm comm, const rm_store_layout *layout, int force);
/* Write prompts [p0, p1) of a split: emb[(p1-p0)*K*D] float32 (converted if the store is
 * float16) and rewards[(p1-p0)*K]. Either may be NULL to write only the other. Every
 * value must be written exactly once (the content digest sums what was written). */
int rm_store_write_split(rm_store_writer *w, rm_split split, size_t p0, size_t p1, const float *emb, const float *rewards);
int rm_store_write_bench(rm_store_writer *w, size_t i0, size_t i1, const float *chosen, const float *rejected);
/* Views' embeddings (rewards belong to the default view): as write_split / write_bench. */
int rm_store_write_view_split(rm_store_writer *w, int view, rm_split split, size_t p0, size_t p1, const float *emb);
int rm_store_write_view_bench(rm_store_writer *w, int view, size_t i0, size_t i1, const float *chosen, const float *rejected);
/* Add a view to the existing store at `path`: a copy of it at a temporary sibling gets
 * the view's (empty) datasets, format_version 2 and the longer `views`; write the view
 * with rm_store_write_view_* (view index w->first_view; a store with /pairs: its pairs
 * with rm_store_write_view_pairs of store_pairs.h), then commit renames the copy over
 * the store (atomic: the store is the old one or the new one, never a mix), or abandon. */
int rm_store_extend(rm_store_writer *w, const char *path, MPI_Comm comm, const rm_store_view_layout *view);
/* Close and atomically rename into place. */
int rm_store_commit(rm_store_writer *w);
/* Close and delete the temporary file (after a failure). */
void rm_store_abandon(rm_store_writer *w);

/* Local helpers. Half precision is IEEE binary16; float -> half rounds to nearest even,
 * overflows to Inf and keeps NaN a NaN (the same bits as numpy's astype(float16)). */
void rm_half_to_float(const uint16_t *in, float *out, size_t n);
void rm_float_to_half(const float *in, uint16_t *out, size_t n);
/* A store_uuid ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx") hashed from a description of the
 * content, so that the same content description always gives the same identity. */
void rm_store_uuid_from_text(const char *text, char *out, size_t n);

#endif
