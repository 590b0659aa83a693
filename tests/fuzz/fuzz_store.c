/* libFuzzer harness for the store reader: mutated small HDF5 stores.
 *
 * The input is not the file's bytes but a recipe for a small store, one byte per choice,
 * where 0 always means "as rmens writes it" (an empty input is a valid 3 x 2 x 2 store):
 * the root attributes (format, format_version, views, store_uuid, ...: absent, of another
 * type, or with other text), every dataset of the default view and of a view 'view1'
 * (absent, a group instead, other dimensions or rank, float16/float64/integer/big-endian,
 * contiguous, odd chunks, gzip, shuffle, with or without Fletcher-32, NaN/Inf or fuzzed
 * values), the groups' content digests, and at the end bytes flipped inside the stored
 * chunks. The harness writes that file with HDF5 itself and hands it to the reader.
 * Mutating the raw file bytes instead finds, within seconds, crashes inside HDF5 1.10's
 * own parsers (e.g. H5HG_read on a damaged global heap: a memcpy of negative size,
 * libhdf5 frames only) that no caller can guard against; this recipe keeps every file one
 * HDF5 parses and fuzzes what rmens decides about it.
 *
 * rm_store_open must succeed or fail with a message; when it opens, reading a bounded
 * prefix of every dataset of every view, the checksum census and, for small stores, the
 * --verify pass must succeed or fail with a message, never crash, leak or read out of
 * bounds. One rank (MPI singleton). */
#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rmens/base/common.h"
#include "rmens/store/store.h"

#define MAX_VALUES ((size_t)1 << 16) /* per read buffer */

/* ---- the recipe: one byte per choice, 0 when the input is used up ---- */
static const uint8_t *in_data;
static size_t in_size, in_pos;

static unsigned take(void) { return in_pos < in_size ? in_data[in_pos++] : 0; }

/* A short fuzzed string (length from the recipe, bytes from it too). */
static void take_text(char *out, size_t cap)
{
    size_t n = take() % cap;
    for (size_t i = 0; i < n; i++) out[i] = (char)(take() | 1); /* no NUL inside */
    out[n] = '\0';
}

/* ---- writing the store ---- */
static void string_attr(hid_t obj, const char *name, const char *value, int fixed)
{
    hid_t type = H5Tcopy(H5T_C_S1), space = H5Screate(H5S_SCALAR);
    H5Tset_size(type, fixed ? strlen(value) + 1 : H5T_VARIABLE);
    hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr >= 0) H5Awrite(attr, type, fixed ? (const void *)value : (const void *)&value);
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
}

static void int_attr(hid_t obj, const char *name, long long value)
{
    hid_t space = H5Screate(H5S_SCALAR), attr = H5Acreate2(obj, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr >= 0) H5Awrite(attr, H5T_NATIVE_LLONG, &value);
    H5Aclose(attr);
    H5Sclose(space);
}

/* An attribute as rmens writes it (choice 0), or absent, or of another type or text. */
static void root_attr(hid_t file, const char *name, const char *text, long long number, int is_text)
{
    char fuzzed[48];
    switch (take() % 6) {
    case 0: is_text ? string_attr(file, name, text, 0) : int_attr(file, name, number); break;
    case 1: break; /* absent */
    case 2: take_text(fuzzed, sizeof fuzzed); string_attr(file, name, fuzzed, take() & 1); break;
    case 3: int_attr(file, name, (long long)(int8_t)take()); break;
    case 4: is_text ? string_attr(file, name, text, 1) : int_attr(file, name, number + 1); break;
    default: { /* a float */
        double v = (double)take() / 7.0;
        hid_t space = H5Screate(H5S_SCALAR), attr = H5Acreate2(file, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
        if (attr >= 0) H5Awrite(attr, H5T_NATIVE_DOUBLE, &v);
        H5Aclose(attr);
        H5Sclose(space);
    }
    }
}

static void views_attr(hid_t file)
{
    unsigned mode = take() % 5;
    if (mode == 1) return;
    const char *names[6] = {"default", "view1", "view2", "", "default", "view1"};
    char fuzzed[48];
    int n = mode == 0 ? 2 : (int)(take() % 7);
    if (mode == 2) {
        take_text(fuzzed, sizeof fuzzed);
        names[n > 1 ? 1 : 0] = fuzzed;
    }
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, mode == 3 ? 64 : H5T_VARIABLE);
    hsize_t dims[1] = {(hsize_t)n};
    hid_t space = n ? H5Screate_simple(1, dims, NULL) : H5Screate(H5S_NULL);
    hid_t attr = H5Acreate2(file, "views", type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr >= 0 && n) {
        if (mode == 3) {
            char fixed[6][64];
            memset(fixed, 0, sizeof fixed);
            for (int i = 0; i < n; i++) snprintf(fixed[i], 64, "%s", names[i]);
            H5Awrite(attr, type, fixed);
        } else {
            H5Awrite(attr, type, names);
        }
    }
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
}

/* The shape rmens expects of each dataset (N, K, D of a 3 x 2 x 2 store, bench 2, view D 3). */
typedef struct {
    const char *path;
    int rank;
    hsize_t dims[3];
    int embedding; /* takes the embedding dtype */
} dataset_spec;

static const dataset_spec DATASETS[] = {
    {"/train/embeddings", 3, {3, 2, 2}, 1}, {"/train/rewards", 2, {3, 2, 0}, 0},
    {"/test/embeddings", 3, {2, 2, 2}, 1},  {"/test/rewards", 2, {2, 2, 0}, 0},
    {"/bench/chosen", 2, {2, 2, 0}, 1},     {"/bench/rejected", 2, {2, 2, 0}, 1},
    {"/views/view1/train/embeddings", 3, {3, 2, 3}, 1}, {"/views/view1/test/embeddings", 3, {2, 2, 3}, 1},
    {"/views/view1/bench/chosen", 2, {2, 3, 0}, 1},     {"/views/view1/bench/rejected", 2, {2, 3, 0}, 1},
};
#define N_DATASETS (sizeof DATASETS / sizeof DATASETS[0])
#define N_DEFAULT_VIEW 6 /* the first six: written unless the recipe says otherwise */

static hid_t half_type(void)
{
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
    return t;
}

static void write_dataset(hid_t file, const dataset_spec *spec, int half_embeddings)
{
    unsigned presence = take() % 8;
    if (presence == 1) return;
    if (presence == 2) { /* a group where a dataset belongs */
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
        H5Pset_create_intermediate_group(lcpl, 1);
        H5Gclose(H5Gcreate2(file, spec->path, lcpl, H5P_DEFAULT, H5P_DEFAULT));
        H5Pclose(lcpl);
        return;
    }
    int rank = spec->rank;
    hsize_t dims[4] = {spec->dims[0], spec->dims[1], spec->dims[2], 1};
    switch (take() % 8) { /* shape */
    case 1: dims[take() % rank] = take() % 6; break;
    case 2: rank--; break;
    case 3: rank++; break;
    case 4: dims[0] = 1 + take() % 40; break;
    default: break;
    }
    if (rank < 1) rank = 1;
    hid_t type;
    unsigned dt = take() % 10;
    int type_owned = 0;
    if (dt == 0) dt = spec->embedding && half_embeddings ? 2 : 1;
    switch (dt) {
    case 2: type = half_type(); type_owned = 1; break;
    case 3: type = H5T_IEEE_F64LE; break;
    case 4: type = H5T_STD_I32LE; break;
    case 5: type = H5T_IEEE_F32BE; break;
    case 6: type = H5T_STD_U8LE; break;
    default: type = H5T_IEEE_F32LE; break;
    }
    size_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t chunk[4];
    unsigned layout = take() % 8;
    int chunked = layout != 1 && layout != 2 && n > 0;
    if (layout == 2 && n * 8 < 60000) H5Pset_layout(dcpl, H5D_COMPACT);
    if (chunked) {
        for (int i = 0; i < rank; i++) {
            chunk[i] = layout == 3 || layout == 4 ? 1 + take() % 4 : dims[i];
            if (chunk[i] > dims[i]) chunk[i] = dims[i]; /* HDF5: at most the (fixed) dimension */
            if (chunk[i] == 0) chunk[i] = 1;
        }
        H5Pset_chunk(dcpl, rank, chunk);
        if (layout != 5) H5Pset_fletcher32(dcpl);
        if (layout == 4 || layout == 5) {
            H5Pset_shuffle(dcpl);
            H5Pset_deflate(dcpl, 1 + take() % 9);
        }
        H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    }
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(file, spec->path, type, space, lcpl, dcpl, H5P_DEFAULT);
    if (d >= 0 && n > 0) {
        float *values = malloc(n * sizeof *values);
        if (values) {
            unsigned mode = take() % 6;
            for (size_t i = 0; i < n; i++) values[i] = (float)((int)(i * 37 % 11) - 5) / 4.0f;
            if (mode == 1)
                for (size_t i = 0; i < n && in_pos < in_size; i++) values[i] = (float)(int8_t)take() / 8.0f;
            if (mode == 2) values[take() % n] = 0.0f / 0.0f;
            if (mode == 3) values[take() % n] = 1.0f / 0.0f;
            if (mode == 4) values[take() % n] = 1e30f; /* beyond float16 */
            H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
            free(values);
        }
    }
    H5Dclose(d);
    H5Pclose(lcpl);
    H5Sclose(space);
    H5Pclose(dcpl);
    if (type_owned) H5Tclose(type);
}

/* The group attribute content_digest: none, well-formed but wrong, or fuzzed text. */
static void digest_attr(hid_t file, const char *group)
{
    unsigned mode = take() % 4;
    if (mode == 0 || H5Lexists(file, group, H5P_DEFAULT) <= 0) return;
    hid_t g = H5Oopen(file, group, H5P_DEFAULT);
    if (g < 0) return;
    char text[64];
    if (mode == 1) snprintf(text, sizeof text, RM_STORE_DIGEST_PREFIX "%016llx", (unsigned long long)take() * 0x9E3779B97F4A7C15ull);
    else take_text(text, 40);
    string_attr(g, "content_digest", text, mode == 3);
    H5Oclose(g);
}

/* Flip bytes inside stored chunks (or contiguous data): what a checksum is for. */
static void flip_bytes(const char *path)
{
    unsigned flips = take() % 4;
    if (flips == 0) return;
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return;
    haddr_t at[4];
    int n = 0;
    for (unsigned f = 0; f < flips; f++) {
        const dataset_spec *spec = &DATASETS[take() % N_DATASETS];
        unsigned offset = take() | (take() << 8);
        if (H5Lexists(file, spec->path, H5P_DEFAULT) <= 0) continue;
        hid_t d = H5Oopen(file, spec->path, H5P_DEFAULT);
        if (d < 0) continue;
        haddr_t base = HADDR_UNDEF;
        hsize_t size = 0, chunks = 0;
        hid_t space = H5Iget_type(d) == H5I_DATASET ? H5Dget_space(d) : H5I_INVALID_HID;
        if (space >= 0 && H5Dget_num_chunks(d, space, &chunks) >= 0 && chunks > 0) {
            unsigned filter_mask;
            hsize_t offs[4];
            H5Dget_chunk_info(d, space, offset % chunks, offs, &filter_mask, &base, &size);
        } else if (space >= 0) {
            base = H5Dget_offset(d);
            size = H5Dget_storage_size(d);
        }
        if (space >= 0) H5Sclose(space);
        H5Oclose(d);
        if (base != HADDR_UNDEF && size > 0) at[n++] = base + offset % size;
    }
    H5Fclose(file);
    FILE *f = fopen(path, "r+b");
    if (!f) return;
    for (int i = 0; i < n; i++) {
        if (fseek(f, (long)at[i], SEEK_SET) != 0) continue;
        int c = fgetc(f);
        if (c == EOF || fseek(f, (long)at[i], SEEK_SET) != 0) continue;
        fputc(c ^ (int)(1u << (take() % 8)), f);
    }
    fclose(f);
}

static int write_store(const char *path)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (take() & 1) H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (file < 0) return -1;
    unsigned version_choice = take() % 3; /* 0: version 1; 1: version 2 with view1; 2: a fuzzed number */
    long long version = version_choice == 1 ? 2 : version_choice == 2 ? (long long)(int8_t)take() : 1;
    root_attr(file, "format", RM_STORE_FORMAT, 0, 1);
    root_attr(file, "format_version", NULL, version, 0);
    root_attr(file, "store_uuid", "00000000-0000-0000-0000-000000000000", 0, 1);
    root_attr(file, "embed_model", "fuzz", 0, 1);
    root_attr(file, "response_model", "fuzz", 0, 1);
    root_attr(file, "task", "fuzz", 0, 1);
    if (version_choice == 1) views_attr(file);
    int half = take() & 1;
    for (size_t i = 0; i < N_DATASETS; i++)
        if (i < N_DEFAULT_VIEW || version_choice == 1) write_dataset(file, &DATASETS[i], half);
    digest_attr(file, "/train");
    digest_attr(file, "/test");
    digest_attr(file, "/bench");
    if (H5Fclose(file) < 0) return -1;
    flip_bytes(path);
    return 0;
}

/* ---- reading it ---- */
static int fresh(void)
{
    rm_error_clear();
    return 0;
}

/* Called after a failure: it must have said why (the message was cleared by fresh()). */
static void require_message(void)
{
    if (rm_last_error()[0] == '\0') abort();
}

/* The first prompts of a split whose values fit the buffer (0 when one prompt does not). */
static size_t prompts_that_fit(size_t n_prompts, size_t per_prompt)
{
    if (per_prompt == 0 || per_prompt > MAX_VALUES) return 0;
    size_t n = MAX_VALUES / per_prompt;
    return n < n_prompts ? n : n_prompts;
}

static void read_some(rm_store *s, float *buf)
{
    for (int v = 0; v < s->n_views; v++) {
        size_t dim = rm_store_view_dim(s, v);
        for (int sp = 0; sp < 2; sp++) {
            const rm_split_info *info = &s->split[sp];
            if (dim > MAX_VALUES || info->n_responses > MAX_VALUES) continue;
            size_t n = prompts_that_fit(info->n_prompts, info->n_responses * dim);
            if (n > 0 && !fresh() && rm_store_read_view_embeddings(s, v, (rm_split)sp, 0, n, buf) != 0) require_message();
            if (v == 0) {
                n = prompts_that_fit(info->n_prompts, info->n_responses);
                if (n > 0 && !fresh() && rm_store_read_rewards(s, (rm_split)sp, 0, n, buf) != 0) require_message();
            }
        }
        size_t rows = s->n_bench;
        if (dim == 0 || dim > MAX_VALUES / 2) continue;
        if (rows > MAX_VALUES / 2 / dim) rows = MAX_VALUES / 2 / dim;
        if (rows > 0 && !fresh() && rm_store_read_view_bench(s, v, 0, rows, buf, buf + rows * dim) != 0) require_message();
    }
}

static int small_enough_to_verify(const rm_store *s)
{
    double values = 0;
    for (int v = 0; v < s->n_views; v++) {
        double dim = (double)rm_store_view_dim(s, v);
        for (int sp = 0; sp < 2; sp++)
            values += (double)s->split[sp].n_prompts * (double)s->split[sp].n_responses * (dim + 1);
        values += 2.0 * (double)s->n_bench * dim;
    }
    return values <= 1e6;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* Open MPI's components stay loaded to the end: LeakSanitizer's exit check can then name
     * the module of what MPI_Init keeps (and tests/sanitizer/lsan.supp suppresses it). */
    setenv("OMPI_MCA_mca_base_component_disable_dlclose", "1", 0);
    int provided;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the recipe's own invalid choices are expected */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[256];
    static float *buf;
    /* RMENS_FUZZ_STORE_FILE: where the store goes (to keep one: run the fuzzer on a single
     * input with it set, then `rmens inspect --verify` that file) */
    if (!path[0]) {
        const char *keep = getenv("RMENS_FUZZ_STORE_FILE");
        if (keep && strlen(keep) < sizeof path) snprintf(path, sizeof path, "%s", keep);
        else snprintf(path, sizeof path, "/tmp/rmens_fuzz_store_%d.h5", (int)getpid());
    }
    if (!buf && !(buf = malloc(MAX_VALUES * sizeof *buf))) return 0;
    in_data = data;
    in_size = size;
    in_pos = 0;
    if (write_store(path) != 0) return 0;

    rm_store s;
    fresh();
    if (rm_store_open(&s, path, MPI_COMM_WORLD) != 0) {
        require_message();
        return 0;
    }
    read_some(&s, buf);
    (void)rm_store_checksums(&s, NULL);
    if (small_enough_to_verify(&s)) {
        rm_store_verify_report report;
        if (!fresh() && rm_store_verify(&s, &report) != 0) require_message();
    }
    rm_store_close(&s);
    return 0;
}
