/* `rmens import` (see include/rmens/store/import.h). */
#include "rmens/store/import.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/store/h5util.h"
#include "rmens/store/npy.h"
#include "rmens/base/parallel.h"
#include "rmens/base/progress.h"
#include "rmens/store/store.h"
#include "rmens/store/store_pairs.h"

#define IMPORT_DEFAULT_CHUNK ((size_t)64 << 20)

enum { IN_TRAIN_EMB, IN_TRAIN_REW, IN_TEST_EMB, IN_TEST_REW, IN_BENCH_CHOSEN, IN_BENCH_REJECTED,
       IN_TRAIN_CHOSEN, IN_TRAIN_REJECTED, IN_TRAIN_GROUPS, IN_TEST_CHOSEN, IN_TEST_REJECTED, IN_TEST_GROUPS, N_INPUTS };
static const char *const INPUT_LABELS[N_INPUTS] = {"train embeddings", "train rewards", "test embeddings",
                                                   "test rewards", "bench chosen", "bench rejected",
                                                   "--train-chosen", "--train-rejected", "--train-groups",
                                                   "--test-chosen", "--test-rejected", "--test-groups"};

typedef struct {
    rm_npy npy[N_INPUTS];
    int present[N_INPUTS];
    rm_progress_meter progress; /* responses (rows of the embeddings' files) read on this rank */
} import_inputs;

static void close_inputs(import_inputs *in)
{
    for (int i = 0; i < N_INPUTS; i++)
        if (in->present[i]) rm_npy_close(&in->npy[i]);
}

static int input_error(const import_inputs *in, int which, const char *fmt, ...) RM_PRINTF(3, 4);
static int input_error(const import_inputs *in, int which, const char *fmt, ...)
{
    char shape[128], reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return rm_errorf("%s: %s: %s (shape %s, %s)", INPUT_LABELS[which], in->npy[which].path, reason,
                     rm_npy_shape_string(&in->npy[which], shape, sizeof shape), in->npy[which].descr);
}

/* Shapes, ranks and dtypes of every input, and their agreement. Local. */
static int check_pair_inputs(const import_inputs *in, size_t *dim);
static int check_finite(const float *v, size_t n, const rm_npy *f, const char *label, size_t first_row, size_t row_len,
                        size_t col_len, const char *row_word, const char *col_word);
static int agree_pieces(MPI_Comm comm, size_t mine, size_t *most);

static int check_inputs(const import_inputs *in, size_t *dim)
{
    const rm_npy *f = in->npy;
    if (!in->present[IN_TRAIN_EMB]) return check_pair_inputs(in, dim);
    for (int sp = 0; sp < 2; sp++) {
        int e = sp == 0 ? IN_TRAIN_EMB : IN_TEST_EMB, r = e + 1;
        if (f[e].ndim != 3) return input_error(in, e, "expected 3 dimensions (prompts, responses, D)");
        if (f[e].dtype == RM_NPY_FLOAT64)
            return input_error(in, e, "unsupported dtype for embeddings (expected '<f4' or '<f2')");
        if (f[e].n_items == 0) return input_error(in, e, "empty array");
        if (!(f[r].ndim == 2 || (f[r].ndim == 3 && f[r].shape[2] == 1)))
            return input_error(in, r, "expected (prompts, responses, 1) or (prompts, responses)");
        if (f[r].shape[0] != f[e].shape[0] || f[r].shape[1] != f[e].shape[1]) {
            char shape[128];
            return input_error(in, r, "prompts and responses do not match %s %s of shape %s", INPUT_LABELS[e],
                               f[e].path, rm_npy_shape_string(&f[e], shape, sizeof shape));
        }
    }
    if (f[IN_TEST_EMB].shape[2] != f[IN_TRAIN_EMB].shape[2])
        return input_error(in, IN_TEST_EMB, "embedding dimension %zu differs from the train embeddings' %zu",
                           f[IN_TEST_EMB].shape[2], f[IN_TRAIN_EMB].shape[2]);
    *dim = f[IN_TRAIN_EMB].shape[2];
    if (in->present[IN_BENCH_CHOSEN]) {
        for (int b = IN_BENCH_CHOSEN; b <= IN_BENCH_REJECTED; b++) {
            if (f[b].ndim != 2) return input_error(in, b, "expected 2 dimensions (pairs, D)");
            if (f[b].dtype == RM_NPY_FLOAT64)
                return input_error(in, b, "unsupported dtype for embeddings (expected '<f4' or '<f2')");
            if (f[b].shape[1] != *dim)
                return input_error(in, b, "embedding dimension %zu differs from the train embeddings' %zu", f[b].shape[1], *dim);
            if (f[b].shape[0] == 0) return input_error(in, b, "empty array");
        }
        if (f[IN_BENCH_REJECTED].shape[0] != f[IN_BENCH_CHOSEN].shape[0])
            return input_error(in, IN_BENCH_REJECTED, "%zu pairs but bench chosen has %zu",
                               f[IN_BENCH_REJECTED].shape[0], f[IN_BENCH_CHOSEN].shape[0]);
    }
    return in->present[IN_TRAIN_CHOSEN] ? check_pair_inputs(in, dim) : 0;
}

/* The pair inputs: chosen and rejected (n, D) floats of one n and, with golden inputs, their
 * D; group ids (n,) int64. *dim: set when 0 (a store of pairs alone), else checked. Local. */
static int check_pair_inputs(const import_inputs *in, size_t *dim)
{
    const rm_npy *f = in->npy;
    for (int sp = 0; sp < 2; sp++) {
        int c = sp == 0 ? IN_TRAIN_CHOSEN : IN_TEST_CHOSEN, r = c + 1, g = c + 2;
        for (int b = c; b <= r; b++) {
            if (f[b].ndim != 2) return input_error(in, b, "expected 2 dimensions (pairs, D)");
            if (f[b].dtype == RM_NPY_FLOAT64) return input_error(in, b, "unsupported dtype for embeddings (expected '<f4' or '<f2')");
            if (f[b].shape[0] == 0) return input_error(in, b, "empty array");
            if (*dim == 0) *dim = f[b].shape[1];
            if (f[b].shape[1] != *dim)
                return input_error(in, b, "embedding dimension %zu differs from the other inputs' %zu", f[b].shape[1], *dim);
        }
        if (f[r].shape[0] != f[c].shape[0])
            return input_error(in, r, "%zu pairs but %s %s has %zu", f[r].shape[0], INPUT_LABELS[c], f[c].path, f[c].shape[0]);
        if (!in->present[g]) continue;
        if (!f[g].integer || f[g].ndim != 1) return input_error(in, g, "expected a 1-D int64 ('<i8') array of group ids");
        if (f[g].shape[0] != f[c].shape[0])
            return input_error(in, g, "%zu group ids but %s %s has %zu pairs", f[g].shape[0], INPUT_LABELS[c], f[c].path,
                               f[c].shape[0]);
    }
    return 0;
}

static int compare_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Both splits' group ids (NULL for a split without), and no id in both. Local. */
static int read_pair_groups(import_inputs *in, int64_t *groups[2])
{
    for (int sp = 0; sp < 2; sp++) {
        int g = sp == 0 ? IN_TRAIN_GROUPS : IN_TEST_GROUPS;
        if (!in->present[g]) continue;
        size_t n = in->npy[g].shape[0];
        groups[sp] = rm_alloc(n, sizeof(int64_t), "group ids");
        if (!groups[sp] || rm_npy_read_int64(&in->npy[g], 0, n, groups[sp]) != 0) return rm_error_context("%s", INPUT_LABELS[g]);
    }
    if (!groups[0] || !groups[1]) return 0;
    size_t n0 = in->npy[IN_TRAIN_GROUPS].shape[0], n1 = in->npy[IN_TEST_GROUPS].shape[0];
    int64_t *sorted = rm_alloc(n0, sizeof(int64_t), "group ids");
    if (!sorted) return -1;
    memcpy(sorted, groups[0], n0 * sizeof(int64_t));
    qsort(sorted, n0, sizeof(int64_t), compare_i64);
    int rc = 0;
    for (size_t i = 0; i < n1 && rc == 0; i++)
        if (bsearch(&groups[1][i], sorted, n0, sizeof(int64_t), compare_i64))
            rc = rm_errorf("group %lld is in both %s %s and %s %s (test pair %zu): a group (dialogue, prompt) must be on "
                           "one side of the split", (long long)groups[1][i], INPUT_LABELS[IN_TRAIN_GROUPS],
                           in->npy[IN_TRAIN_GROUPS].path, INPUT_LABELS[IN_TEST_GROUPS], in->npy[IN_TEST_GROUPS].path, i);
    free(sorted);
    return rc;
}

static int apply_log1p(float *v, size_t n, const rm_npy *f, const char *label, size_t first_row, size_t row_len,
                       size_t d, const char *row_word, const char *item_word);

/* Where import_chosen_rejected writes a piece: the bench pairs or a split's pairs of a view. */
typedef int (*piece_writer)(rm_store_writer *w, int view, int split, size_t i0, size_t i1, const float *chosen,
                            const float *rejected);

static int write_bench_piece(rm_store_writer *w, int view, int split, size_t i0, size_t i1, const float *chosen,
                             const float *rejected)
{
    (void)split;
    return rm_store_write_view_bench(w, view, i0, i1, chosen, rejected);
}

static int write_pairs_piece(rm_store_writer *w, int view, int split, size_t i0, size_t i1, const float *chosen,
                             const float *rejected)
{
    return rm_store_write_view_pairs(w, view, (rm_split)split, i0, i1, chosen, rejected);
}

/* Collective: the (n, D) inputs ic (chosen) and ir (rejected), each rank its range of pairs
 * in pieces, read, checked for NaN/Inf before any write (naming the pair, and with
 * col_len == 1 the dimension: col_word) and, log1p_values, transformed, then written. */
static int import_chosen_rejected(rm_store_writer *w, import_inputs *in, int ic, int ir, size_t col_len,
                                  const char *col_word, piece_writer write, int view, int split, size_t chunk_bytes,
                                  MPI_Comm comm, size_t *bytes_read, int log1p_values, const char *what)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    rm_npy *fc = &in->npy[ic], *fr = &in->npy[ir];
    size_t n = fc->shape[0], d = fc->shape[1], cl = col_len ? col_len : d;
    size_t rows = chunk_bytes / (2 * d * sizeof(float));
    if (rows == 0) rows = 1;
    size_t begin, end, most = 0;
    rm_partition(n, size, rank, &begin, &end);
    if (rows > end - begin) rows = end - begin > 0 ? end - begin : 1;
    if (agree_pieces(comm, (end - begin + rows - 1) / rows, &most) != 0) return -1;
    float *chosen = rm_alloc(rows * d, sizeof(float), what);
    float *rejected = chosen ? rm_alloc(rows * d, sizeof(float), what) : NULL;
    int rc = rm_all_ok(comm, rejected ? 0 : -1);
    for (size_t i = 0; i < most && rc == 0; i++) {
        size_t i0 = begin + i * rows, i1 = i0 + rows;
        if (i0 > end) i0 = end;
        if (i1 > end) i1 = end;
        int status = 0;
        if (i1 > i0) {
            size_t ne = (i1 - i0) * d;
            if (rm_npy_read_floats(fc, i0 * d, ne, chosen) != 0) status = rm_error_context("%s", INPUT_LABELS[ic]);
            else if (rm_npy_read_floats(fr, i0 * d, ne, rejected) != 0) status = rm_error_context("%s", INPUT_LABELS[ir]);
            else status = check_finite(chosen, ne, fc, INPUT_LABELS[ic], i0, d, cl, "pair", col_word);
            if (status == 0) status = check_finite(rejected, ne, fr, INPUT_LABELS[ir], i0, d, cl, "pair", col_word);
            if (status == 0 && log1p_values) status = apply_log1p(chosen, ne, fc, INPUT_LABELS[ic], i0, d, cl, "pair", col_word);
            if (status == 0 && log1p_values)
                status = apply_log1p(rejected, ne, fr, INPUT_LABELS[ir], i0, d, cl, "pair", col_word);
            *bytes_read += ne * ((size_t)fc->dtype + (size_t)fr->dtype);
            rm_progress_advance(&in->progress, 2.0 * (double)(i1 - i0));
        }
        rc = rm_all_ok(comm, status);
        if (rc == 0) rc = write(w, view, split, i0, i1, chosen, rejected);
    }
    free(chosen);
    free(rejected);
    return rc;
}

/* Collective: the pairs of split sp (of view `view`: 0 the store's /pairs), then the group
 * ids (the default view's alone). */
static int import_pair_split(rm_store_writer *w, import_inputs *in, int sp, int view, const int64_t *groups,
                             size_t chunk_bytes, MPI_Comm comm, size_t *bytes_read, int log1p_values)
{
    int ic = sp == 0 ? IN_TRAIN_CHOSEN : IN_TEST_CHOSEN;
    int rc = import_chosen_rejected(w, in, ic, ic + 1, 1, "dimension", write_pairs_piece, view, sp, chunk_bytes, comm,
                                    bytes_read, log1p_values, "import pairs piece");
    if (rc == 0 && groups) rc = rm_store_write_pair_groups(w, (rm_split)sp, groups);
    return rc;
}

static void copy_name(char *dst, size_t n, const char *src)
{
    size_t len = strnlen(src, n - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* embd_<gen>_<embedder>_<task>_<split>.npy -> gen, embedder, task (best effort). */
static void names_from_path(const char *path, char *gen, char *embedder, char *task, size_t n)
/* n: size of each of gen, embedder, task */
{
    snprintf(gen, n, "unknown");
    snprintf(embedder, n, "unknown");
    snprintf(task, n, "unknown");
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, "embd_", 5) != 0) return;
    char stem[1024];
    snprintf(stem, sizeof stem, "%s", base + 5);
    char *dot = strstr(stem, ".npy");
    if (dot) *dot = '\0';
    char *split = strrchr(stem, '_');
    if (!split) return;
    *split = '\0'; /* drop _<split> */
    char *first = strchr(stem, '_');
    if (!first) return;
    *first = '\0';
    char *second = strchr(first + 1, '_');
    if (!second) return;
    *second = '\0';
    copy_name(gen, n, stem);
    copy_name(embedder, n, first + 1);
    copy_name(task, n, second + 1);
}

static int check_finite(const float *v, size_t n, const rm_npy *f, const char *label, size_t first_row, size_t row_len,
                        size_t col_len, const char *row_word, const char *col_word)
{
    for (size_t i = 0; i < n; i++) {
        if (isfinite(v[i])) continue;
        size_t row = first_row + i / row_len, col = (i % row_len) / col_len;
        if (col_len == row_len)
            return rm_errorf("%s: %s: %s at %s %zu", label, f->path, isnan(v[i]) ? "NaN" : "Inf", row_word, row);
        return rm_errorf("%s: %s: %s at %s %zu, %s %zu", label, f->path, isnan(v[i]) ? "NaN" : "Inf", row_word, row,
                         col_word, col);
    }
    return 0;
}

static int agree_pieces(MPI_Comm comm, size_t mine, size_t *most)
{
    unsigned long long m = mine, all = 0;
    int rc = rm_mpi_check(MPI_Allreduce(&m, &all, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, comm), "MPI_Allreduce");
    *most = (size_t)all;
    return rm_all_ok(comm, rc);
}

/* view > 0: the embeddings of that view alone (its rewards were checked against the store's). */
/* --log1p: v = log(1 + v), refusing v <= -1 (NaN/Inf were refused before). */
static int apply_log1p(float *v, size_t n, const rm_npy *f, const char *label, size_t first_row, size_t row_len,
                       size_t d, const char *row_word, const char *item_word)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i] > -1.0f) {
            v[i] = (float)log1p((double)v[i]);
            continue;
        }
        size_t row = first_row + i / row_len, item = i % row_len / d;
        return rm_errorf("%s: %s: --log1p: value %g <= -1 at %s %zu%s%s %zu", label, f->path, (double)v[i], row_word, row,
                         item_word[0] ? ", " : "", item_word, item);
    }
    return 0;
}

static int import_split(rm_store_writer *w, import_inputs *in, int sp, int view, size_t chunk_bytes, MPI_Comm comm,
                        size_t *bytes_read, int log1p_values)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int ie = sp == 0 ? IN_TRAIN_EMB : IN_TEST_EMB, ir = ie + 1;
    rm_npy *fe = &in->npy[ie], *fr = &in->npy[ir];
    size_t n = fe->shape[0], k = fe->shape[1], d = fe->shape[2];
    size_t rows = chunk_bytes / (k * d * sizeof(float));
    if (rows == 0) rows = 1;
    size_t begin, end, most = 0;
    rm_partition(n, size, rank, &begin, &end);
    if (rows > end - begin) rows = end - begin > 0 ? end - begin : 1;
    if (agree_pieces(comm, (end - begin + rows - 1) / rows, &most) != 0) return -1;
    float *emb = rm_alloc(rows * k * d, sizeof(float), "import embeddings piece");
    float *rew = emb ? rm_alloc(rows * k, sizeof(float), "import rewards piece") : NULL; /* the first failure's message */
    int rc = rm_all_ok(comm, rew ? 0 : -1);
    for (size_t i = 0; i < most && rc == 0; i++) {
        size_t p0 = begin + i * rows, p1 = p0 + rows;
        if (p0 > end) p0 = end;
        if (p1 > end) p1 = end;
        int status = 0;
        if (p1 > p0) {
            size_t ne = (p1 - p0) * k * d, nr = (p1 - p0) * k;
            if (rm_npy_read_floats(fe, p0 * k * d, ne, emb) != 0) status = rm_error_context("%s", INPUT_LABELS[ie]);
            else if (view == 0 && rm_npy_read_floats(fr, p0 * k, nr, rew) != 0) status = rm_error_context("%s", INPUT_LABELS[ir]);
            else status = check_finite(emb, ne, fe, INPUT_LABELS[ie], p0, k * d, d, "prompt", "response");
            if (status == 0 && view == 0) status = check_finite(rew, nr, fr, INPUT_LABELS[ir], p0, k, 1, "prompt", "response");
            if (status == 0 && log1p_values)
                status = apply_log1p(emb, ne, fe, INPUT_LABELS[ie], p0, k * d, d, "prompt", "response");
            *bytes_read += ne * (size_t)fe->dtype + (view == 0 ? nr * (size_t)fr->dtype : 0);
            rm_progress_advance(&in->progress, (double)nr);
        }
        /* A bad piece anywhere stops everyone before the next collective write. */
        rc = rm_all_ok(comm, status);
        if (rc == 0)
            rc = view ? rm_store_write_view_split(w, view, (rm_split)sp, p0, p1, emb)
                      : rm_store_write_split(w, (rm_split)sp, p0, p1, emb, rew);
    }
    free(emb);
    free(rew);
    return rc;
}

static int import_bench(rm_store_writer *w, import_inputs *in, int view, size_t chunk_bytes, MPI_Comm comm, size_t *bytes_read,
                        int log1p_values)
{
    return import_chosen_rejected(w, in, IN_BENCH_CHOSEN, IN_BENCH_REJECTED, 0, "", write_bench_piece, view, 0, chunk_bytes,
                                  comm, bytes_read, log1p_values, "import bench piece");
}

/* ---- --view: a further view of an existing store ---- */

/* The inputs describe the store's prompts and responses (and bench pairs). Local. */
static int check_view_shapes(const import_inputs *in, const rm_store *st)
{
    for (int sp = 0; sp < 2; sp++) {
        int e = sp == 0 ? IN_TRAIN_EMB : IN_TEST_EMB;
        const rm_npy *f = &in->npy[e];
        if (f->shape[0] != st->split[sp].n_prompts || f->shape[1] != st->split[sp].n_responses)
            return rm_errorf("%s %s has %zu prompts x %zu responses but store %s has %zu x %zu in /%s: a view must embed "
                             "the store's responses", INPUT_LABELS[e], f->path, f->shape[0], f->shape[1], st->path,
                             st->split[sp].n_prompts, st->split[sp].n_responses, rm_split_name((rm_split)sp));
    }
    if (!in->present[IN_BENCH_CHOSEN] != !st->n_bench)
        return rm_errorf("store %s %s: %s", st->path, st->n_bench ? "has /bench" : "has no /bench",
                         st->n_bench ? "give the view's --bench-chosen and --bench-rejected" : "leave out --bench-chosen/--bench-rejected");
    if (st->n_bench && in->npy[IN_BENCH_CHOSEN].shape[0] != st->n_bench)
        return rm_errorf("%s %s has %zu pairs but store %s has %zu in /bench", INPUT_LABELS[IN_BENCH_CHOSEN],
                         in->npy[IN_BENCH_CHOSEN].path, in->npy[IN_BENCH_CHOSEN].shape[0], st->path, st->n_bench);
    return 0;
}

/* Collective: the rewards file of split sp equals the store's rewards bit for bit (as
 * float32, the way they would be stored): the same responses in the same order. */
static int check_view_rewards(import_inputs *in, rm_store *st, int sp, size_t chunk_bytes, MPI_Comm comm)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int ir = sp == 0 ? IN_TRAIN_REW : IN_TEST_REW;
    size_t n = st->split[sp].n_prompts, k = st->split[sp].n_responses, rows = chunk_bytes / (k * sizeof(float) * 2);
    if (rows == 0) rows = 1;
    size_t begin, end, most = 0;
    rm_partition(n, size, rank, &begin, &end);
    if (agree_pieces(comm, (end - begin + rows - 1) / rows, &most) != 0) return -1;
    float *mine = rm_alloc(rows * k, sizeof(float), "reward piece");
    float *theirs = mine ? rm_alloc(rows * k, sizeof(float), "reward piece") : NULL;
    int rc = rm_all_ok(comm, theirs ? 0 : -1);
    for (size_t i = 0; i < most && rc == 0; i++) {
        size_t p0 = begin + i * rows, p1 = p0 + rows;
        if (p0 > end) p0 = end;
        if (p1 > end) p1 = end;
        rc = rm_store_read_rewards(st, (rm_split)sp, p0, p1, theirs);
        int status = rc;
        if (rc == 0 && p1 > p0 && rm_npy_read_floats(&in->npy[ir], p0 * k, (p1 - p0) * k, mine) != 0)
            status = rm_error_context("%s", INPUT_LABELS[ir]);
        for (size_t j = 0; status == 0 && j < (p1 - p0) * k; j++)
            if (memcmp(&mine[j], &theirs[j], sizeof(float)) != 0)
                status = rm_errorf("%s %s differ from store %s /%s/rewards at prompt %zu, response %zu (%.9g vs %.9g): a "
                                   "view must embed the store's responses", INPUT_LABELS[ir], in->npy[ir].path, st->path,
                                   rm_split_name((rm_split)sp), p0 + j / k, j % k, mine[j], theirs[j]);
        rc = rm_all_ok(comm, status);
    }
    free(mine);
    free(theirs);
    return rc;
}

/* The end of an import into w: abandoned (nothing left behind) when rc says it failed,
 * else committed; result->bytes_read = the input bytes all ranks read. Collective. */
static int import_finish(rm_store_writer *w, int rc, size_t bytes_read, MPI_Comm comm, rm_import_result *result)
{
    if (rc != 0) {
        rm_store_abandon(w);
        return -1;
    }
    if (rm_store_commit(w) != 0) return -1;
    unsigned long long mine = bytes_read, total = 0;
    MPI_Allreduce(&mine, &total, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, comm);
    result->bytes_read = (size_t)total;
    return 0;
}

/* The kinds of inputs a view needs are the kinds of data the store holds (golden splits,
 * pairs, or both), and its pairs are the store's in number. Local (the same on every rank). */
static int check_view_kinds(const import_inputs *in, const rm_store *st)
{
    int golden_given = in->present[IN_TRAIN_EMB], pairs_given = in->present[IN_TRAIN_CHOSEN];
    if (!st->has_golden && golden_given)
        return rm_errorf("store %s holds preference pairs alone (no /train, /test): give view inputs as --train-chosen, "
                         "--train-rejected, --test-chosen and --test-rejected, not --train-embeddings ...", st->path);
    if (st->has_golden && !golden_given)
        return rm_errorf("store %s has golden splits (/train, /test): the view needs --train-embeddings, --train-rewards, "
                         "--test-embeddings and --test-rewards too", st->path);
    if (st->has_pairs && !pairs_given)
        return rm_errorf("store %s has preference pairs (/pairs): the view needs --train-chosen, --train-rejected, "
                         "--test-chosen and --test-rejected too", st->path);
    if (!st->has_pairs && pairs_given)
        return rm_errorf("store %s has no /pairs: leave out --train-chosen, --train-rejected, --test-chosen and "
                         "--test-rejected", st->path);
    for (int sp = 0; sp < 2 && pairs_given; sp++)
        for (int c = sp == 0 ? IN_TRAIN_CHOSEN : IN_TEST_CHOSEN, k = c; k <= c + 1; k++)
            if (in->npy[k].shape[0] != st->pairs[sp].n)
                return rm_errorf("%s %s has %zu pairs but store %s has %zu in /pairs/%s: a view must embed the store's "
                                 "pairs", INPUT_LABELS[k], in->npy[k].path, in->npy[k].shape[0], st->path, st->pairs[sp].n,
                                 rm_split_name((rm_split)sp));
    return 0;
}

static int import_view(const rm_import_args *a, import_inputs *in, size_t dim, MPI_Comm comm, rm_import_result *result)
{
    size_t chunk_bytes = a->chunk_bytes ? a->chunk_bytes : IMPORT_DEFAULT_CHUNK;
    int golden_given = in->present[IN_TRAIN_EMB], pairs_given = in->present[IN_TRAIN_CHOSEN];
    rm_store st;
    if (rm_store_open(&st, a->output, comm) != 0) return -1;
    st.read_chunk_bytes = chunk_bytes;
    int rc = check_view_kinds(in, &st);
    if (rc == 0 && golden_given) rc = check_view_shapes(in, &st);
    rc = rm_all_ok(comm, rc);
    for (int sp = 0; sp < 2 && rc == 0 && golden_given; sp++) rc = check_view_rewards(in, &st, sp, chunk_bytes, comm);
    size_t n_bench = st.n_bench;
    rm_store_close(&st);
    if (rc != 0) return -1;
    rm_store_view_layout view = {a->view, dim, a->float16 ? RM_DTYPE_FLOAT16 : RM_DTYPE_FLOAT32};
    rm_store_writer w;
    if (rm_store_extend(&w, a->output, comm, &view) != 0) return -1;
    w.store.read_chunk_bytes = chunk_bytes;
    size_t bytes_read = 0;
    for (int sp = 0; sp < 2 && rc == 0 && golden_given; sp++)
        rc = import_split(&w, in, sp, w.first_view, chunk_bytes, comm, &bytes_read, a->log1p);
    if (rc == 0 && n_bench > 0) rc = import_bench(&w, in, w.first_view, chunk_bytes, comm, &bytes_read, a->log1p);
    for (int sp = 0; sp < 2 && rc == 0 && pairs_given; sp++)
        rc = import_pair_split(&w, in, sp, w.first_view, NULL, chunk_bytes, comm, &bytes_read, a->log1p);
    if (rc == 0 && a->log1p) { /* what the values are: collective attribute write */
        hid_t g = H5Gopen2(w.store.file, w.store.views[w.first_view].paths[4], H5P_DEFAULT);
        if (g < 0) rc = rm_errorf("%s: cannot open %s", a->output, w.store.views[w.first_view].paths[4]);
        else {
            rc = rm_h5_attr_string(g, "transform", "log1p");
            H5Gclose(g);
        }
    }
    return import_finish(&w, rc, bytes_read, comm, result);
}

/* Responses this rank imports: its prompts' of each golden split, and both sides of its
 * bench pairs and preference pairs (the partitions of import_split and
 * import_chosen_rejected). Local. */
static double import_share(const import_inputs *in, int size, int rank)
{
    double responses = 0;
    size_t begin, end;
    for (int i = 0; i < N_INPUTS; i++) {
        int golden = i == IN_TRAIN_EMB || i == IN_TEST_EMB;
        int pairs = i == IN_BENCH_CHOSEN || i == IN_TRAIN_CHOSEN || i == IN_TEST_CHOSEN;
        if (!in->present[i] || !(golden || pairs)) continue;
        rm_partition(in->npy[i].shape[0], size, rank, &begin, &end);
        responses += (double)(end - begin) * (golden ? (double)in->npy[i].shape[1] : 2.0);
    }
    return responses;
}

/* Which inputs go together and with which options: one line naming the first that is
 * missing or misplaced. *golden_given, *pairs_given: how many of each set's four inputs. */
static int check_options(const rm_import_args *a, const char *const paths[N_INPUTS], int *golden_given, int *pairs_given)
{
    int rc = 0;
    *golden_given = *pairs_given = 0;
    for (int i = IN_TRAIN_EMB; i <= IN_TEST_REW; i++) *golden_given += paths[i] != NULL;
    for (int i = IN_TRAIN_CHOSEN; i <= IN_TEST_GROUPS; i++)
        if (i != IN_TRAIN_GROUPS && i != IN_TEST_GROUPS) *pairs_given += paths[i] != NULL;
    static const char *const golden_flags[4] = {"--train-embeddings", "--train-rewards", "--test-embeddings", "--test-rewards"};
    static const char *const pair_flags[4] = {"--train-chosen", "--train-rejected", "--test-chosen", "--test-rejected"};
    const int pair_inputs[4] = {IN_TRAIN_CHOSEN, IN_TRAIN_REJECTED, IN_TEST_CHOSEN, IN_TEST_REJECTED};
    int missing_golden = 0, missing_pair = 0;
    while (missing_golden < 3 && paths[IN_TRAIN_EMB + missing_golden]) missing_golden++;
    while (missing_pair < 3 && paths[pair_inputs[missing_pair]]) missing_pair++;
    if ((*golden_given != 0 && *golden_given != 4) || *golden_given + *pairs_given == 0)
        rc = rm_errorf("missing %s: --train-embeddings, --train-rewards, --test-embeddings and --test-rewards go together%s",
                       golden_flags[missing_golden], *golden_given ? "" : " (or import pairs: --train-chosen ...)");
    else if (*pairs_given != 0 && *pairs_given != 4)
        rc = rm_errorf("missing %s: --train-chosen, --train-rejected, --test-chosen and --test-rejected go together",
                       pair_flags[missing_pair]);
    else if ((a->train_groups || a->test_groups) && !*pairs_given)
        rc = rm_errorf("--train-groups/--test-groups belong to the pair inputs (--train-chosen ...)");
    else if (a->view && (a->train_groups || a->test_groups))
        rc = rm_errorf("--view with --train-groups/--test-groups: a view's pairs have the store's group ids (leave them out)");
    else if (a->bench_chosen && !*golden_given)
        rc = rm_errorf("--bench-chosen/--bench-rejected need the golden-reward inputs (a store of pairs alone has no bench)");
    else if (a->float16 && a->float32)
        rc = rm_errorf("--float16 and --float32 contradict each other (give one, or neither to keep the inputs' precision)");
    else if (a->log1p && !a->view)
        rc = rm_errorf("--log1p applies to a --view (scalar features such as lengths), not to the store's embeddings");
    else if (!a->bench_chosen != !a->bench_rejected)
        rc = rm_errorf("--bench-chosen and --bench-rejected go together (got only %s)",
                       a->bench_chosen ? "--bench-chosen" : "--bench-rejected");
    return rc;
}

/* Whether every embedding input (golden, bench and pair embeddings; not rewards or groups)
 * is float16. */
static int all_embeddings_half(const import_inputs *in)
{
    static const int embedding_inputs[] = {IN_TRAIN_EMB,    IN_TEST_EMB,       IN_BENCH_CHOSEN, IN_BENCH_REJECTED,
                                           IN_TRAIN_CHOSEN, IN_TRAIN_REJECTED, IN_TEST_CHOSEN,  IN_TEST_REJECTED};
    int any = 0;
    for (size_t i = 0; i < sizeof embedding_inputs / sizeof *embedding_inputs; i++) {
        int k = embedding_inputs[i];
        if (!in->present[k]) continue;
        if (in->npy[k].dtype != RM_NPY_FLOAT16) return 0;
        any = 1;
    }
    return any;
}

int rm_import(const rm_import_args *a, MPI_Comm comm, rm_import_result *result)
{
    double start = rm_now();
    memset(result, 0, sizeof *result);
    const char *paths[N_INPUTS] = {a->train_embeddings, a->train_rewards, a->test_embeddings, a->test_rewards,
                                   a->bench_chosen,     a->bench_rejected, a->train_chosen,    a->train_rejected,
                                   a->train_groups,     a->test_chosen,    a->test_rejected,   a->test_groups};
    import_inputs in;
    memset(&in, 0, sizeof in);
    int64_t *groups[2] = {NULL, NULL};
    int golden_given = 0, pairs_given = 0;
    int rc = check_options(a, paths, &golden_given, &pairs_given);
    /* Every rank validates every header itself (they are small) and the ranks agree. */
    for (int i = 0; i < N_INPUTS && rc == 0; i++) {
        if (!paths[i]) continue;
        if (rm_npy_open(&in.npy[i], paths[i]) != 0) rc = rm_error_context("%s", INPUT_LABELS[i]);
        else in.present[i] = 1;
    }
    size_t dim = 0;
    if (rc == 0) rc = check_inputs(&in, &dim);
    if (rc == 0 && pairs_given) rc = read_pair_groups(&in, groups);
    if (rm_all_ok(comm, rc) != 0) {
        close_inputs(&in);
        free(groups[0]), free(groups[1]);
        return -1;
    }
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    rm_progress_begin(&in.progress, "import", "responses", import_share(&in, size, rank), rank, size);
    int first = golden_given ? IN_TRAIN_EMB : IN_TRAIN_CHOSEN;
    /* the stored dtype: as asked, else the inputs' own (every embedding file float16 and no
     * transform: half; widening would double the store for the same values) */
    rm_import_args resolved = *a;
    resolved.float16 = a->float16 || (!a->float32 && !a->log1p && all_embeddings_half(&in));
    result->float16 = resolved.float16;
    a = &resolved;
    if (a->view) {
        rc = import_view(a, &in, dim, comm, result);
        close_inputs(&in);
        result->seconds = rm_now() - start;
        return rc;
    }

    char gen[128], embedder[128], task[128], description[4096], uuid[64];
    names_from_path(paths[first], gen, embedder, task, sizeof gen);
    /* Identity: the inputs' names and sizes and the stored dtype. */
    size_t used = (size_t)snprintf(description, sizeof description, "rmens-import-v1|float16=%d", a->float16);
    for (int i = 0; i < N_INPUTS; i++) {
        if (!in.present[i] || used >= sizeof description) continue;
        const char *base = strrchr(paths[i], '/');
        used += (size_t)snprintf(description + used, sizeof description - used, "|%s:%zu", base ? base + 1 : paths[i],
                                 in.npy[i].file_size);
    }
    rm_store_uuid_from_text(description, uuid, sizeof uuid);
    rm_dtype dtype = a->float16 ? RM_DTYPE_FLOAT16 : RM_DTYPE_FLOAT32;
    rm_store_layout layout = {
        .dim = dim,
        .split = {{golden_given ? in.npy[IN_TRAIN_EMB].shape[0] : 0, golden_given ? in.npy[IN_TRAIN_EMB].shape[1] : 0, dtype},
                  {golden_given ? in.npy[IN_TEST_EMB].shape[0] : 0, golden_given ? in.npy[IN_TEST_EMB].shape[1] : 0, dtype}},
        .n_pairs = {pairs_given ? in.npy[IN_TRAIN_CHOSEN].shape[0] : 0, pairs_given ? in.npy[IN_TEST_CHOSEN].shape[0] : 0},
        .pair_groups = {groups[0] != NULL, groups[1] != NULL},
        .pairs_dtype = dtype,
        .n_bench = in.present[IN_BENCH_CHOSEN] ? in.npy[IN_BENCH_CHOSEN].shape[0] : 0,
        .embed_model = a->embed_model ? a->embed_model : embedder,
        .response_model = a->response_model ? a->response_model : gen,
        .task = a->task ? a->task : task,
        .uuid = uuid,
        .provenance = description,
    };
    size_t chunk_bytes = a->chunk_bytes ? a->chunk_bytes : IMPORT_DEFAULT_CHUNK;
    rm_store_writer w;
    if (rm_store_create(&w, a->output, comm, &layout, a->force) != 0) {
        close_inputs(&in);
        free(groups[0]), free(groups[1]);
        return -1;
    }
    w.store.read_chunk_bytes = chunk_bytes;
    size_t bytes_read = 0;
    if (golden_given) {
        rc = import_split(&w, &in, 0, 0, chunk_bytes, comm, &bytes_read, 0);
        if (rc == 0) rc = import_split(&w, &in, 1, 0, chunk_bytes, comm, &bytes_read, 0);
        if (rc == 0 && layout.n_bench > 0) rc = import_bench(&w, &in, 0, chunk_bytes, comm, &bytes_read, 0);
    }
    for (int sp = 0; sp < 2 && rc == 0 && pairs_given; sp++)
        rc = import_pair_split(&w, &in, sp, 0, groups[sp], chunk_bytes, comm, &bytes_read, 0);
    close_inputs(&in);
    free(groups[0]), free(groups[1]);
    if (import_finish(&w, rc, bytes_read, comm, result) != 0) return -1;
    size_t elem = dtype == RM_DTYPE_FLOAT16 ? 2 : 4;
    result->bytes_written = 0;
    for (int sp = 0; sp < 2; sp++)
        result->bytes_written += layout.split[sp].n_prompts * layout.split[sp].n_responses * (dim * elem + 4);
    result->bytes_written += layout.n_bench * 2 * dim * elem;
    for (int sp = 0; sp < 2; sp++) result->bytes_written += layout.n_pairs[sp] * (2 * dim * elem + (layout.pair_groups[sp] ? 8 : 0));
    result->seconds = rm_now() - start;
    return 0;
}
