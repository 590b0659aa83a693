/* The embedding store: parallel HDF5 reader and writer (see include/rmens/store.h).
 *
 * Every HDF5 call is checked; HDF5's own error-stack printing is switched off and a
 * failure becomes one rmens message naming the file, the dataset and the failing call,
 * with HDF5's innermost reason appended. Transfers are collective MPI-IO in bounded
 * pieces; float16 travels as raw IEEE half bits (no HDF5 type conversion, which would
 * make HDF5 fall back to independent I/O) and is converted here. */
#include "rmens/store.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "rmens/common.h"
#include "rmens/parallel.h"

#define DEFAULT_READ_CHUNK_BYTES ((size_t)64 << 20)
#define EMBEDDING_CHUNK_TARGET ((size_t)4 << 20)
#define REWARD_CHUNK_TARGET ((size_t)1 << 20)

static const char *const SPLIT_NAMES[2] = {"train", "test"};
static const char *const EMBEDDING_PATHS[2] = {"/train/embeddings", "/test/embeddings"};
static const char *const REWARD_PATHS[2] = {"/train/rewards", "/test/rewards"};
static const char *const BENCH_PATHS[2] = {"/bench/chosen", "/bench/rejected"};

const char *rm_split_name(rm_split split) { return SPLIT_NAMES[split == RM_SPLIT_TEST]; }
const char *rm_dtype_name(rm_dtype dtype) { return dtype == RM_DTYPE_FLOAT16 ? "float16" : "float32"; }

/* ------------------------------------------------------------------------------------ */
/* IEEE half <-> float. Bit manipulation after F. Giesen's public-domain conversions,
 * written so the compiler can vectorise the loops; NaN payloads are kept the way numpy
 * keeps them so that results match numpy bit for bit. */

static inline uint32_t float_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float bits_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static inline float half_to_float_one(uint16_t h)
{
    const uint32_t shifted_exponent = 0x7c00u << 13; /* exponent mask after the shift */
    uint32_t bits = ((uint32_t)h & 0x7fffu) << 13;   /* exponent and mantissa in place */
    uint32_t exponent = bits & shifted_exponent;
    bits += (uint32_t)(127 - 15) << 23;              /* re-bias the exponent */
    float magnitude;
    if (exponent == shifted_exponent) {              /* Inf or NaN: exponent to 255 */
        magnitude = bits_float(bits + ((uint32_t)(128 - 16) << 23));
    } else if (exponent == 0) {                      /* zero or subnormal: renormalise */
        magnitude = bits_float(bits + (1u << 23)) - bits_float((uint32_t)113 << 23);
    } else {
        magnitude = bits_float(bits);
    }
    return bits_float(float_bits(magnitude) | ((uint32_t)(h & 0x8000u) << 16));
}

static inline uint16_t float_to_half_one(float value)
{
    const uint32_t f32_infinity = 255u << 23;
    const uint32_t f16_overflow = (uint32_t)(127 + 16) << 23; /* 2^16: first value past 65520 rounding */
    const uint32_t denormal_magic = (uint32_t)((127 - 15) + (23 - 10) + 1) << 23;
    uint32_t bits = float_bits(value);
    uint32_t sign = bits & 0x80000000u;
    bits ^= sign;
    uint16_t out;
    if (bits >= f16_overflow) {
        if (bits > f32_infinity) { /* NaN: keep the top mantissa bits, as numpy does */
            out = (uint16_t)(0x7c00u + ((bits & 0x007fffffu) >> 13));
            if (out == 0x7c00u) out++;
        } else {
            out = 0x7c00u; /* Inf, or finite overflow (>= 65520 rounds to Inf) */
        }
    } else if (bits < (uint32_t)113 << 23) {
        /* Result is subnormal or zero: let the FPU round by adding a magic number whose
         * ulp is the half subnormal step (round to nearest even under the default mode). */
        float f = bits_float(bits) + bits_float(denormal_magic);
        out = (uint16_t)(float_bits(f) - denormal_magic);
    } else {
        uint32_t mantissa_odd = (bits >> 13) & 1u;
        bits += ((uint32_t)(15 - 127) << 23) + 0xfffu; /* re-bias and round half up ... */
        bits += mantissa_odd;                          /* ... to even */
        out = (uint16_t)(bits >> 13);
    }
    return (uint16_t)(out | (sign >> 16));
}

void rm_half_to_float(const uint16_t *in, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = half_to_float_one(in[i]);
}

void rm_float_to_half(const float *in, uint16_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = float_to_half_one(in[i]);
}

void rm_partition(size_t n, int parts, int index, size_t *begin, size_t *end)
{
    size_t p = parts > 0 ? (size_t)parts : 1, i = (size_t)index;
    size_t base = n / p, extra = n % p;
    *begin = i * base + (i < extra ? i : extra);
    *end = *begin + base + (i < extra ? 1 : 0);
}

/* ------------------------------------------------------------------------------------ */
/* HDF5 plumbing */

static void h5_quiet(void)
{
    /* Our messages replace HDF5's multi-line stack dumps. Idempotent and cheap. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static herr_t innermost_error(unsigned n, const H5E_error2_t *e, void *data)
{
    (void)n;
    if (e->desc && e->desc[0]) snprintf((char *)data, 256, "%s", e->desc);
    return 0;
}

/* Record "<file>: <object>: <call> failed (<HDF5's innermost reason>)". Returns -1. */
static int h5_fail(const char *path, const char *object, const char *call)
{
    char detail[256] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, innermost_error, detail);
    H5Eclear2(H5E_DEFAULT);
    if (detail[0]) return rm_errorf("%s: %s: %s failed (%s)", path, object, call, detail);
    return rm_errorf("%s: %s: %s failed", path, object, call);
}

static void close_id(hid_t *id, herr_t (*closer)(hid_t))
{
    if (*id >= 0) closer(*id);
    *id = H5I_INVALID_HID;
}

/* IEEE binary16 as h5py writes it: an H5T_FLOAT of 2 bytes, little-endian. */
static hid_t half_type_create(void)
{
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    if (t < 0) return t;
    if (H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_size(t, 2) < 0 || H5Tset_ebias(t, 15) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

/* Classify a stored floating-point type: 0 float32, 1 float16, -1 anything else. */
static int classify_float_type(hid_t type)
{
    if (H5Tget_class(type) != H5T_FLOAT) return -1;
    size_t size = H5Tget_size(type);
    if (size == 4) {
        return H5Tequal(type, H5T_IEEE_F32LE) > 0 || H5Tequal(type, H5T_IEEE_F32BE) > 0 ? 0 : -1;
    }
    if (size == 2) {
        size_t spos, epos, esize, mpos, msize;
        if (H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) < 0) return -1;
        if (spos != 15 || epos != 10 || esize != 5 || mpos != 0 || msize != 10) return -1;
        if (H5Tget_ebias(type) != 15 || H5Tget_order(type) != H5T_ORDER_LE) return -1;
        return 1;
    }
    return -1;
}

static const char *type_description(hid_t type, char *buf, size_t n)
{
    H5T_class_t c = H5Tget_class(type);
    const char *cls = c == H5T_INTEGER ? "integer" : c == H5T_FLOAT ? "float" : c == H5T_STRING ? "string"
                    : c == H5T_COMPOUND ? "compound" : "non-numeric";
    snprintf(buf, n, "%zu-byte %s", H5Tget_size(type), cls);
    return buf;
}

/* ---- attributes ---- */

static int write_string_attribute(hid_t obj, const char *path, const char *name, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1), space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    int rc = 0;
    if (type < 0 || H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0)
        rc = h5_fail(path, name, "string type");
    if (rc == 0 && (space = H5Screate(H5S_SCALAR)) < 0) rc = h5_fail(path, name, "H5Screate");
    if (rc == 0 && (attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        rc = h5_fail(path, name, "H5Acreate2");
    if (rc == 0 && H5Awrite(attr, type, &value) < 0) rc = h5_fail(path, name, "H5Awrite");
    close_id(&attr, H5Aclose);
    close_id(&space, H5Sclose);
    close_id(&type, H5Tclose);
    return rc;
}

static int write_int_attribute(hid_t obj, const char *path, const char *name, long long value)
{
    hid_t space = H5Screate(H5S_SCALAR), attr = H5I_INVALID_HID;
    int rc = 0;
    if (space < 0) rc = h5_fail(path, name, "H5Screate");
    if (rc == 0 && (attr = H5Acreate2(obj, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        rc = h5_fail(path, name, "H5Acreate2");
    if (rc == 0 && H5Awrite(attr, H5T_NATIVE_LLONG, &value) < 0) rc = h5_fail(path, name, "H5Awrite");
    close_id(&attr, H5Aclose);
    close_id(&space, H5Sclose);
    return rc;
}

/* Read a string attribute (fixed or variable length) into buf. 1 if absent (buf = ""). */
static int read_string_attribute(hid_t obj, const char *path, const char *name, char *buf, size_t n)
{
    buf[0] = '\0';
    htri_t exists = H5Aexists(obj, name);
    if (exists < 0) return h5_fail(path, name, "H5Aexists");
    if (!exists) return 1;
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT), type = H5I_INVALID_HID, mem = H5I_INVALID_HID;
    int rc = 0;
    if (attr < 0) return h5_fail(path, name, "H5Aopen");
    if ((type = H5Aget_type(attr)) < 0) rc = h5_fail(path, name, "H5Aget_type");
    else if (H5Tget_class(type) != H5T_STRING) rc = rm_errorf("%s: root attribute '%s' is not a string", path, name);
    else if (H5Tis_variable_str(type) > 0) {
        char *value = NULL;
        mem = H5Tcopy(H5T_C_S1);
        if (mem < 0 || H5Tset_size(mem, H5T_VARIABLE) < 0 || H5Tset_cset(mem, H5Tget_cset(type)) < 0)
            rc = h5_fail(path, name, "string type");
        else if (H5Aread(attr, mem, &value) < 0) rc = h5_fail(path, name, "H5Aread");
        else {
            snprintf(buf, n, "%s", value ? value : "");
            H5free_memory(value);
        }
    } else {
        size_t size = H5Tget_size(type);
        char *tmp = rm_alloc(size + 1, 1, "string attribute");
        if (!tmp) rc = -1;
        else if (H5Aread(attr, type, tmp) < 0) rc = h5_fail(path, name, "H5Aread");
        else {
            tmp[size] = '\0';
            snprintf(buf, n, "%s", tmp);
        }
        free(tmp);
    }
    close_id(&mem, H5Tclose);
    close_id(&type, H5Tclose);
    close_id(&attr, H5Aclose);
    return rc;
}

static int read_int_attribute(hid_t obj, const char *path, const char *name, long long *value)
{
    htri_t exists = H5Aexists(obj, name);
    if (exists < 0) return h5_fail(path, name, "H5Aexists");
    if (!exists) return rm_errorf("%s: not an rmens store (root attribute '%s' is missing)", path, name);
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT), type = H5I_INVALID_HID, space = H5I_INVALID_HID;
    int rc = 0;
    if (attr < 0) return h5_fail(path, name, "H5Aopen");
    if ((type = H5Aget_type(attr)) < 0) rc = h5_fail(path, name, "H5Aget_type");
    else if (H5Tget_class(type) != H5T_INTEGER) rc = rm_errorf("%s: root attribute '%s' is not an integer", path, name);
    else if ((space = H5Aget_space(attr)) < 0) rc = h5_fail(path, name, "H5Aget_space");
    else if (H5Sget_simple_extent_npoints(space) != 1) rc = rm_errorf("%s: root attribute '%s' is not a single integer", path, name);
    else if (H5Aread(attr, H5T_NATIVE_LLONG, value) < 0) rc = h5_fail(path, name, "H5Aread");
    close_id(&space, H5Sclose);
    close_id(&type, H5Tclose);
    close_id(&attr, H5Aclose);
    return rc;
}

/* ---- datasets ---- */

/* Open `name` and check its rank and type; dims filled; *dtype 0 float32, 1 float16.
 * half_allowed: whether float16 is acceptable (rewards must be float32). */
static int open_checked_dataset(rm_store *s, const char *name, int rank, int half_allowed, hid_t *dset,
                                hsize_t dims[3], rm_dtype *dtype)
{
    /* H5Lexists needs every intermediate group to exist: check "/train" before "/train/x". */
    char group[64];
    const char *slash = strrchr(name, '/');
    snprintf(group, sizeof group, "%.*s", (int)(slash - name), name);
    htri_t exists = H5Lexists(s->file, group, H5P_DEFAULT);
    if (exists > 0) exists = H5Lexists(s->file, name, H5P_DEFAULT);
    if (exists < 0) return h5_fail(s->path, name, "H5Lexists");
    if (!exists) return rm_errorf("%s: %s: missing dataset", s->path, name);
    hid_t d = H5Dopen2(s->file, name, H5P_DEFAULT);
    if (d < 0) return h5_fail(s->path, name, "H5Dopen2");
    hid_t space = H5Dget_space(d), type = H5Dget_type(d);
    int rc = 0;
    char tdesc[64];
    if (space < 0 || type < 0) rc = h5_fail(s->path, name, "H5Dget_space/H5Dget_type");
    else if (H5Sget_simple_extent_ndims(space) != rank)
        rc = rm_errorf("%s: %s: expected rank %d, found rank %d", s->path, name, rank, H5Sget_simple_extent_ndims(space));
    else if (H5Sget_simple_extent_dims(space, dims, NULL) < 0) rc = h5_fail(s->path, name, "H5Sget_simple_extent_dims");
    else {
        int kind = classify_float_type(type);
        if (kind < 0 || (kind == 1 && !half_allowed))
            rc = rm_errorf("%s: %s: unsupported dtype %s (expected float32%s)", s->path, name,
                           type_description(type, tdesc, sizeof tdesc), half_allowed ? " or IEEE float16" : "");
        else *dtype = kind == 1 ? RM_DTYPE_FLOAT16 : RM_DTYPE_FLOAT32;
        for (int i = 0; rc == 0 && i < rank; i++)
            if (dims[i] == 0) rc = rm_errorf("%s: %s: dimension %d is zero", s->path, name, i);
    }
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (rc != 0) H5Dclose(d);
    else *dset = d;
    return rc;
}

static void store_reset(rm_store *s)
{
    memset(s, 0, sizeof *s);
    s->comm = MPI_COMM_NULL;
    s->file = H5I_INVALID_HID;
    for (int i = 0; i < 2; i++) s->embeddings[i] = s->rewards[i] = s->bench[i] = H5I_INVALID_HID;
    s->read_chunk_bytes = DEFAULT_READ_CHUNK_BYTES;
}

static void store_close_handles(rm_store *s)
{
    for (int i = 0; i < 2; i++) {
        close_id(&s->embeddings[i], H5Dclose);
        close_id(&s->rewards[i], H5Dclose);
        close_id(&s->bench[i], H5Dclose);
    }
    close_id(&s->file, H5Fclose);
}

void rm_store_close(rm_store *s)
{
    store_close_handles(s);
    if (s->comm != MPI_COMM_NULL) MPI_Comm_free(&s->comm);
    s->comm = MPI_COMM_NULL;
}

static hid_t mpio_file_access(MPI_Comm comm, const char *path)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) < 0) {
        h5_fail(path, "/", "H5Pset_fapl_mpio");
        if (fapl >= 0) H5Pclose(fapl);
        return H5I_INVALID_HID;
    }
    return fapl;
}

/* Everything after the file is open: attributes, datasets, shapes. Local (the metadata is
 * the same on every rank, so all ranks reach the same verdict). */
static int validate_open_store(rm_store *s)
{
    char format[64];
    int rc = read_string_attribute(s->file, s->path, "format", format, sizeof format);
    if (rc < 0) return -1;
    if (rc == 1) return rm_errorf("%s: not an rmens store (root attribute 'format' is missing)", s->path);
    if (strcmp(format, RM_STORE_FORMAT) != 0)
        return rm_errorf("%s: not an rmens store (root attribute format = '%s', expected '%s')", s->path, format, RM_STORE_FORMAT);
    long long version = 0;
    if (read_int_attribute(s->file, s->path, "format_version", &version) != 0) return -1;
    if (version != RM_STORE_FORMAT_VERSION)
        return rm_errorf("%s: unsupported format_version %lld (this rmens reads %d)", s->path, version, RM_STORE_FORMAT_VERSION);
    if (read_string_attribute(s->file, s->path, "embed_model", s->embed_model, sizeof s->embed_model) < 0 ||
        read_string_attribute(s->file, s->path, "response_model", s->response_model, sizeof s->response_model) < 0 ||
        read_string_attribute(s->file, s->path, "task", s->task, sizeof s->task) < 0 ||
        read_string_attribute(s->file, s->path, "store_uuid", s->uuid, sizeof s->uuid) < 0)
        return -1;

    for (int sp = 0; sp < 2; sp++) {
        hsize_t edims[3] = {0}, rdims[3] = {0};
        rm_dtype rtype;
        if (open_checked_dataset(s, EMBEDDING_PATHS[sp], 3, 1, &s->embeddings[sp], edims, &s->split[sp].dtype) != 0 ||
            open_checked_dataset(s, REWARD_PATHS[sp], 2, 0, &s->rewards[sp], rdims, &rtype) != 0)
            return -1;
        if (rdims[0] != edims[0] || rdims[1] != edims[1])
            return rm_errorf("%s: %s has shape [%llu, %llu] but %s has [%llu, %llu, %llu]: prompts and responses must agree",
                             s->path, REWARD_PATHS[sp], (unsigned long long)rdims[0], (unsigned long long)rdims[1],
                             EMBEDDING_PATHS[sp], (unsigned long long)edims[0], (unsigned long long)edims[1],
                             (unsigned long long)edims[2]);
        if (sp == 1 && edims[2] != s->dim)
            return rm_errorf("%s: %s has dimension %llu but %s has %zu", s->path, EMBEDDING_PATHS[1],
                             (unsigned long long)edims[2], EMBEDDING_PATHS[0], s->dim);
        s->split[sp].n_prompts = (size_t)edims[0];
        s->split[sp].n_responses = (size_t)edims[1];
        s->dim = (size_t)edims[2];
        size_t total;
        if (rm_size_mul3(s->split[sp].n_prompts, s->split[sp].n_responses, s->dim * 4, &total, EMBEDDING_PATHS[sp]) != 0)
            return rm_error_context("%s", s->path);
    }

    htri_t has_bench = H5Lexists(s->file, "/bench", H5P_DEFAULT);
    if (has_bench < 0) return h5_fail(s->path, "/bench", "H5Lexists");
    s->n_bench = 0;
    if (has_bench) {
        hsize_t dims[2][3] = {{0}};
        rm_dtype types[2];
        for (int b = 0; b < 2; b++)
            if (open_checked_dataset(s, BENCH_PATHS[b], 2, 1, &s->bench[b], dims[b], &types[b]) != 0) return -1;
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
    return 0;
}

int rm_store_open(rm_store *s, const char *path, MPI_Comm comm)
{
    h5_quiet();
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
    hid_t fapl = mpio_file_access(s->comm, path);
    rc = fapl < 0 ? -1 : 0;
    if (rm_all_ok(comm, rc) != 0) {
        if (fapl >= 0) H5Pclose(fapl);
        rm_store_close(s);
        return -1;
    }
    s->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (s->file < 0) rc = h5_fail(path, "/", "H5Fopen");
    if (rm_all_ok(comm, rc) != 0) {
        rm_store_close(s);
        return -1;
    }
    rc = validate_open_store(s);
    if (rm_all_ok(comm, rc) != 0) {
        rm_store_close(s);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Piecewise collective transfer of a row range of a [n0, n1, n2] (or [n0, n1]) dataset. */

typedef struct {
    hid_t dset;
    const char *name;     /* "/train/embeddings" ... for messages */
    int rank;             /* 2 or 3 */
    size_t n1, n2;        /* second dimension; innermost (1 for rank-2 datasets) */
    int half;             /* stored as IEEE float16 */
    const char *row_word, *col_word;
} transfer_target;

typedef struct {
    size_t rows_per_piece, cols_per_piece, pieces_per_row, n_pieces;
} piece_plan;

static void plan_pieces(size_t n_rows, const transfer_target *t, size_t bound, piece_plan *pl)
{
    size_t elem = t->half ? 2 : 4;
    size_t row_bytes = t->n1 * t->n2 * elem;
    if (bound < 1) bound = 1;
    if (row_bytes <= bound) {
        pl->rows_per_piece = bound / row_bytes;
        pl->cols_per_piece = t->n1;
        pl->pieces_per_row = 1;
        pl->n_pieces = (n_rows + pl->rows_per_piece - 1) / pl->rows_per_piece;
    } else {
        /* One row is too big: split it along the second dimension (at least one run of
         * n2 values per piece). */
        size_t cols = bound / (t->n2 * elem);
        pl->cols_per_piece = cols ? cols : 1;
        pl->rows_per_piece = 1;
        pl->pieces_per_row = (t->n1 + pl->cols_per_piece - 1) / pl->cols_per_piece;
        pl->n_pieces = n_rows * pl->pieces_per_row;
    }
}

static void piece_extent(const piece_plan *pl, const transfer_target *t, size_t p0, size_t p1, size_t i,
                         size_t *r0, size_t *nr, size_t *c0, size_t *nc)
{
    if (pl->pieces_per_row == 1) {
        *r0 = p0 + i * pl->rows_per_piece;
        *nr = p1 - *r0 < pl->rows_per_piece ? p1 - *r0 : pl->rows_per_piece;
        *c0 = 0;
        *nc = t->n1;
    } else {
        *r0 = p0 + i / pl->pieces_per_row;
        *nr = 1;
        *c0 = (i % pl->pieces_per_row) * pl->cols_per_piece;
        *nc = t->n1 - *c0 < pl->cols_per_piece ? t->n1 - *c0 : pl->cols_per_piece;
    }
}

/* First non-finite value of v[0..n): its index, or n. */
static size_t first_nonfinite(const float *v, size_t n)
{
    /* Branch-free accumulate, then locate: the common case (all finite) stays fast. */
    uint32_t any = 0;
    for (size_t i = 0; i < n; i++) any |= (uint32_t)((float_bits(v[i]) & 0x7f800000u) == 0x7f800000u);
    if (!any) return n;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return i;
    return n;
}

static size_t count_nonfinite(const float *v, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) count += (float_bits(v[i]) & 0x7f800000u) == 0x7f800000u;
    return count;
}

static int report_nonfinite(const rm_store *s, const transfer_target *t, const char *verb, size_t r0, size_t c0,
                            size_t nc, size_t index, float value)
{
    size_t row = r0 + index / (nc * t->n2);
    size_t col = c0 + (index / t->n2) % nc;
    return rm_errorf("%s: %s: %s %s at %s %zu, %s %zu", s->path, t->name, verb, isnan(value) ? "NaN" : "Inf",
                     t->row_word, row, t->col_word, col);
}

enum { CHECK_NONE = 0, CHECK_FAIL = 1 };

/* Collective over s->comm: read (write = 0) or write rows [p0, p1) of t into/from buf
 * (float32, contiguous). check: fail on NaN/Inf. buf may be NULL when p0 == p1. */
static int transfer_rows(rm_store *s, const transfer_target *t, int write, size_t p0, size_t p1, float *buf, int check)
{
    piece_plan pl;
    plan_pieces(p1 - p0, t, s->read_chunk_bytes, &pl);
    if (p1 <= p0) pl.n_pieces = 0;
    unsigned long long mine = pl.n_pieces, most = 0;
    if (rm_mpi_check(MPI_Allreduce(&mine, &most, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, s->comm), "MPI_Allreduce") != 0)
        return -1;

    int rc = 0;
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER), file_space = H5Dget_space(t->dset), mem_type = H5I_INVALID_HID;
    if (dxpl < 0 || H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0) rc = h5_fail(s->path, t->name, "H5Pset_dxpl_mpio");
    if (file_space < 0) rc = h5_fail(s->path, t->name, "H5Dget_space");
    mem_type = t->half ? half_type_create() : H5Tcopy(H5T_NATIVE_FLOAT);
    if (mem_type < 0) rc = h5_fail(s->path, t->name, "memory type");
    size_t piece_elems = (pl.pieces_per_row == 1 ? pl.rows_per_piece * t->n1 : pl.cols_per_piece) * t->n2;
    uint16_t *halves = NULL;
    if (rc == 0 && t->half && pl.n_pieces > 0) {
        size_t range_elems = (p1 - p0) * t->n1 * t->n2;
        halves = rm_alloc(piece_elems < range_elems ? piece_elems : range_elems, sizeof *halves, "float16 staging buffer");
        if (!halves) rc = -1;
    }
    /* Everyone must agree that the set-up worked before the first collective H5Dread. */
    if (rm_all_ok(s->comm, rc) != 0) {
        free(halves);
        if (dxpl >= 0) H5Pclose(dxpl);
        if (file_space >= 0) H5Sclose(file_space);
        if (mem_type >= 0) H5Tclose(mem_type);
        return -1;
    }

    uint16_t dummy = 0;
    for (unsigned long long i = 0; i < most; i++) {
        /* After a local failure this rank keeps taking part with empty selections so the
         * others are not left waiting in a collective call. */
        int active = rc == 0 && i < mine;
        size_t r0 = 0, nr = 0, c0 = 0, nc = 0, n = 0;
        hid_t mem_space = H5I_INVALID_HID;
        float *values = NULL;
        if (active) {
            piece_extent(&pl, t, p0, p1, (size_t)i, &r0, &nr, &c0, &nc);
            n = nr * nc * t->n2;
            values = buf + ((r0 - p0) * t->n1 + c0) * t->n2;
            hsize_t start[3] = {r0, c0, 0}, count[3] = {nr, nc, t->n2};
            /* The memory space has the selection's own shape: HDF5 then maps it onto the
             * chunks block by block; a flat 1-D memory space would make it iterate
             * element by element (10x slower). */
            if (H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
                rc = h5_fail(s->path, t->name, "H5Sselect_hyperslab");
            else if ((mem_space = H5Screate_simple(t->rank, count, NULL)) < 0)
                rc = h5_fail(s->path, t->name, "H5Screate_simple");
            if (rc == 0 && write) {
                if (check == CHECK_FAIL) {
                    size_t bad = first_nonfinite(values, n);
                    if (bad < n) rc = report_nonfinite(s, t, "refusing to write", r0, c0, nc, bad, values[bad]);
                }
                if (rc == 0 && t->half) rm_float_to_half(values, halves, n);
            }
            if (rc != 0) active = 0;
        }
        if (!active) {
            hsize_t one[1] = {1};
            if (mem_space >= 0) H5Sclose(mem_space);
            mem_space = H5Screate_simple(1, one, NULL);
            if (mem_space < 0 || H5Sselect_none(mem_space) < 0 || H5Sselect_none(file_space) < 0) {
                /* Cannot even build an empty selection: nothing sane is left to do. */
                rm_abort_job("HDF5 cannot create an empty selection");
            }
        }
        void *data = !active ? (void *)&dummy : t->half ? (void *)halves : (void *)values;
        herr_t status = write ? H5Dwrite(t->dset, mem_type, mem_space, file_space, dxpl, data)
                              : H5Dread(t->dset, mem_type, mem_space, file_space, dxpl, data);
        H5Sclose(mem_space);
        if (status < 0 && rc == 0) {
            rc = h5_fail(s->path, t->name, write ? "H5Dwrite" : "H5Dread");
            if (!write) rm_error_context("reading %s %zu..%zu", t->row_word, r0, r0 + nr);
            continue;
        }
        if (active && !write) {
            if (t->half) rm_half_to_float(halves, values, n);
            if (check == CHECK_FAIL) {
                size_t bad = first_nonfinite(values, n);
                if (bad < n) rc = report_nonfinite(s, t, "non-finite value", r0, c0, nc, bad, values[bad]);
            }
        }
    }
    free(halves);
    H5Pclose(dxpl);
    H5Sclose(file_space);
    H5Tclose(mem_type);
    return rm_all_ok(s->comm, rc);
}

static transfer_target embeddings_target(const rm_store *s, rm_split split)
{
    transfer_target t = {s->embeddings[split], EMBEDDING_PATHS[split], 3, s->split[split].n_responses, s->dim,
                         s->split[split].dtype == RM_DTYPE_FLOAT16, "prompt", "response"};
    return t;
}

static transfer_target rewards_target(const rm_store *s, rm_split split)
{
    transfer_target t = {s->rewards[split], REWARD_PATHS[split], 2, s->split[split].n_responses, 1, 0, "prompt", "response"};
    return t;
}

static transfer_target bench_target(const rm_store *s, int which)
{
    transfer_target t = {s->bench[which], BENCH_PATHS[which], 2, s->dim, 1, s->bench_dtype == RM_DTYPE_FLOAT16, "pair", "dimension"};
    return t;
}

static int check_range(const rm_store *s, const char *name, size_t p0, size_t p1, size_t n)
{
    if (p0 > p1 || p1 > n) return rm_errorf("%s: %s: range [%zu, %zu) outside [0, %zu)", s->path, name, p0, p1, n);
    return 0;
}

/* A local argument error must still be agreed on, or the other ranks would wait. */
#define AGREE_ON_RANGE(s, name, p0, p1, n) \
    do { if (rm_all_ok((s)->comm, check_range((s), (name), (p0), (p1), (n))) != 0) return -1; } while (0)

int rm_store_read_embeddings(rm_store *s, rm_split split, size_t p0, size_t p1, float *out)
{
    AGREE_ON_RANGE(s, EMBEDDING_PATHS[split], p0, p1, s->split[split].n_prompts);
    transfer_target t = embeddings_target(s, split);
    return transfer_rows(s, &t, 0, p0, p1, out, CHECK_FAIL);
}

int rm_store_read_rewards(rm_store *s, rm_split split, size_t p0, size_t p1, float *out)
{
    AGREE_ON_RANGE(s, REWARD_PATHS[split], p0, p1, s->split[split].n_prompts);
    transfer_target t = rewards_target(s, split);
    return transfer_rows(s, &t, 0, p0, p1, out, CHECK_FAIL);
}

int rm_store_read_bench(rm_store *s, size_t i0, size_t i1, float *chosen, float *rejected)
{
    if (rm_all_ok(s->comm, s->n_bench == 0 ? rm_errorf("%s: the store has no /bench", s->path) : 0) != 0) return -1;
    AGREE_ON_RANGE(s, BENCH_PATHS[0], i0, i1, s->n_bench);
    transfer_target c = bench_target(s, 0), r = bench_target(s, 1);
    if (transfer_rows(s, &c, 0, i0, i1, chosen, CHECK_FAIL) != 0) return -1;
    return transfer_rows(s, &r, 0, i0, i1, rejected, CHECK_FAIL);
}

/* ---- scanning (inspect) ---- */

/* Read every row of t, this rank's share, in pieces of one read_chunk_bytes buffer, and
 * hand each piece to `visit`. The number of collective reads is agreed on first. */
static int scan_rows(rm_store *s, const transfer_target *t, size_t n_rows,
                     void (*visit)(const float *v, size_t rows, size_t row_len, void *acc), void *acc)
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
        rc = transfer_rows(s, t, 0, r0, r1, buf, CHECK_NONE); /* agreed: all ranks stop together */
        if (rc == 0 && r1 > r0) visit(buf, r1 - r0, row_len, acc);
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
    a->nonfinite += (double)count_nonfinite(v, n);
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

int rm_store_scan_split(rm_store *s, rm_split split, rm_split_stats *out)
{
    memset(out, 0, sizeof *out);
    scan_acc e = {0}, r = {0};
    e.inner = s->dim;
    r.min = INFINITY;
    r.max = -INFINITY;
    transfer_target te = embeddings_target(s, split), tr = rewards_target(s, split);
    if (scan_rows(s, &te, s->split[split].n_prompts, visit_embeddings, &e) != 0 ||
        scan_rows(s, &tr, s->split[split].n_prompts, visit_rewards, &r) != 0)
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
        transfer_target t = bench_target(s, b);
        if (scan_rows(s, &t, s->n_bench, visit_embeddings, &acc[b]) != 0) return -1;
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
    if (d < 0) return h5_fail(s->path, dataset, "H5Dopen2");
    hid_t dcpl = H5Dget_create_plist(d);
    int rc = 0;
    if (dcpl < 0) rc = h5_fail(s->path, dataset, "H5Dget_create_plist");
    else if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
        hsize_t h[3] = {0};
        int n = H5Pget_chunk(dcpl, 3, h);
        if (n < 0) rc = h5_fail(s->path, dataset, "H5Pget_chunk");
        for (int i = 0; i < n && i < 3; i++) dims[i] = h[i];
        *rank = n > 0 ? n : 0;
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    H5Dclose(d);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Writing */

/* Object creation properties that make identical content give an identical file. */
static hid_t untimed_creation_plist(hid_t cls)
{
    hid_t p = H5Pcreate(cls);
    if (p >= 0 && H5Pset_obj_track_times(p, 0) < 0) {
        H5Pclose(p);
        return H5I_INVALID_HID;
    }
    return p;
}

static int create_group(rm_store *s, const char *name)
{
    hid_t gcpl = untimed_creation_plist(H5P_GROUP_CREATE);
    if (gcpl < 0) return h5_fail(s->path, name, "H5Pset_obj_track_times");
    hid_t g = H5Gcreate2(s->file, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    if (g < 0) return h5_fail(s->path, name, "H5Gcreate2");
    H5Gclose(g);
    return 0;
}

/* Chunk of whole leading rows filling about `target` bytes; if one row alone exceeds it,
 * a single row cut along the second dimension. */
static void chunk_shape(int rank, const hsize_t dims[3], size_t elem, size_t target, hsize_t chunk[3])
{
    size_t inner = rank == 3 ? (size_t)dims[2] : 1;
    size_t row_bytes = (size_t)dims[1] * inner * elem;
    chunk[2] = rank == 3 ? dims[2] : 0;
    if (row_bytes <= target) {
        size_t rows = target / row_bytes;
        chunk[0] = rows < dims[0] ? rows : dims[0];
        chunk[1] = dims[1];
    } else {
        size_t cols = target / (inner * elem);
        chunk[0] = 1;
        chunk[1] = cols == 0 ? 1 : cols < dims[1] ? cols : dims[1];
    }
}

static int create_dataset(rm_store *s, const char *name, int rank, const hsize_t dims[3], int half, size_t target, hid_t *out)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = untimed_creation_plist(H5P_DATASET_CREATE);
    hid_t type = half ? half_type_create() : H5Tcopy(H5T_IEEE_F32LE);
    hsize_t chunk[3];
    chunk_shape(rank, dims, half ? 2 : 4, target, chunk);
    int rc = 0;
    if (space < 0 || dcpl < 0 || type < 0) rc = h5_fail(s->path, name, "dataspace/property/type creation");
    /* Every element is written, so no fill; parallel HDF5 allocates chunks early anyway,
     * saying so keeps the file layout independent of the writers. */
    else if (H5Pset_chunk(dcpl, rank, chunk) < 0 || H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0 ||
             H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) < 0)
        rc = h5_fail(s->path, name, "H5Pset_chunk");
    else if ((*out = H5Dcreate2(s->file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0)
        rc = h5_fail(s->path, name, "H5Dcreate2");
    if (space >= 0) H5Sclose(space);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (type >= 0) H5Tclose(type);
    return rc;
}

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
    for (int sp = 0; sp < 2; sp++)
        if (l->split[sp].n_prompts == 0 || l->split[sp].n_responses == 0)
            return rm_errorf("%s: %s split needs at least one prompt and one response (got %zu x %zu)", path,
                             SPLIT_NAMES[sp], l->split[sp].n_prompts, l->split[sp].n_responses);
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
            return rm_errorf("%s: the %s split (%zu x %zu x %zu) is too large to address", path, SPLIT_NAMES[sp],
                             l->split[sp].n_prompts, l->split[sp].n_responses, l->dim);
        total += emb_bytes + reward_bytes;
    }
    size_t bench_values, bench_bytes;
    if (rm_size_mul(l->n_bench, l->dim, &bench_values, path) != 0 || rm_size_mul(bench_values, 8, &bench_bytes, path) != 0 ||
        bench_bytes > SIZE_MAX - total)
        return rm_errorf("%s: the benchmark (%zu x %zu) is too large to address", path, l->n_bench, l->dim);
    *bytes = (double)(total + bench_bytes);
    return 0;
}

/* Local part of create: everything up to (not including) the collective H5Fcreate. */
static int prepare_create(rm_store_writer *w, const char *path, const rm_store_layout *layout, int force)
{
    if (strlen(path) >= sizeof w->final_path) return rm_errorf("output path too long: %s", path);
    snprintf(w->final_path, sizeof w->final_path, "%s", path);
    if (validate_layout(layout, path) != 0) return -1;
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
            return rm_errorf("%s: the store needs %.1f GiB but only %.1f GiB are free in %s", path, needed / 1073741824.0,
                             available / 1073741824.0, dir);
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

int rm_store_create(rm_store_writer *w, const char *path, MPI_Comm comm, const rm_store_layout *layout, int force)
{
    h5_quiet();
    memset(w, 0, sizeof *w);
    store_reset(&w->store);
    rm_store *s = &w->store;
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    /* Rank 0 decides about the existing output; the others learn the verdict. */
    int rc = rank == 0 ? prepare_create(w, path, layout, force) : 0;
    if (rm_all_ok(comm, rc) != 0) return -1;
    if (rank != 0 && prepare_create(w, path, layout, 1) != 0) return rm_all_ok(comm, -1);
    if (rm_all_ok(comm, 0) != 0) return -1;
    if (rm_mpi_check(MPI_Comm_dup(comm, &s->comm), "MPI_Comm_dup") != 0) return rm_all_ok(comm, -1);

    hid_t fapl = mpio_file_access(s->comm, s->path);
    if (rm_all_ok(comm, fapl < 0 ? -1 : 0) != 0) {
        if (fapl >= 0) H5Pclose(fapl);
        rm_store_close(s);
        return -1;
    }
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (fcpl >= 0) H5Pset_obj_track_times(fcpl, 0);
    s->file = H5Fcreate(s->path, H5F_ACC_TRUNC, fcpl >= 0 ? fcpl : H5P_DEFAULT, fapl);
    if (fcpl >= 0) H5Pclose(fcpl);
    H5Pclose(fapl);
    rc = 0;
    if (s->file < 0) rc = h5_fail(s->path, "/", "H5Fcreate");
    if (rm_all_ok(comm, rc) != 0) {
        rm_store_close(s);
        return -1;
    }

    /* Metadata: every rank makes the same calls with the same values (HDF5 requires
     * object creation to be collective). */
    s->dim = layout->dim;
    s->split[0] = layout->split[0];
    s->split[1] = layout->split[1];
    s->n_bench = layout->n_bench;
    s->bench_dtype = layout->split[0].dtype;
    snprintf(s->embed_model, sizeof s->embed_model, "%s", layout->embed_model ? layout->embed_model : "unknown");
    snprintf(s->response_model, sizeof s->response_model, "%s", layout->response_model ? layout->response_model : "unknown");
    snprintf(s->task, sizeof s->task, "%s", layout->task ? layout->task : "unknown");
    if (layout->uuid) {
        snprintf(s->uuid, sizeof s->uuid, "%s", layout->uuid);
    } else {
        /* No identity given: derive one from the layout and the time on rank 0. */
        char desc[1024];
        double now = rank == 0 ? rm_now() : 0;
        MPI_Bcast(&now, 1, MPI_DOUBLE, 0, comm);
        snprintf(desc, sizeof desc, "%s|%s|%s|%zu|%zu|%zu|%zu|%zu|%zu|%.9f", s->embed_model, s->response_model, s->task,
                 s->dim, s->split[0].n_prompts, s->split[0].n_responses, s->split[1].n_prompts, s->split[1].n_responses,
                 s->n_bench, now);
        rm_store_uuid_from_text(desc, s->uuid, sizeof s->uuid);
    }
    if (write_string_attribute(s->file, s->path, "format", RM_STORE_FORMAT) != 0 ||
        write_int_attribute(s->file, s->path, "format_version", RM_STORE_FORMAT_VERSION) != 0 ||
        write_string_attribute(s->file, s->path, "embed_model", s->embed_model) != 0 ||
        write_string_attribute(s->file, s->path, "response_model", s->response_model) != 0 ||
        write_string_attribute(s->file, s->path, "task", s->task) != 0 ||
        write_string_attribute(s->file, s->path, "store_uuid", s->uuid) != 0 ||
        write_string_attribute(s->file, s->path, "rmens_version", RMENS_VERSION) != 0 ||
        write_string_attribute(s->file, s->path, "provenance", layout->provenance ? layout->provenance : "") != 0)
        rc = -1;
    for (int sp = 0; rc == 0 && sp < 2; sp++) {
        hsize_t edims[3] = {s->split[sp].n_prompts, s->split[sp].n_responses, s->dim};
        hsize_t rdims[3] = {s->split[sp].n_prompts, s->split[sp].n_responses, 0};
        char group[16];
        snprintf(group, sizeof group, "/%s", SPLIT_NAMES[sp]);
        if (create_group(s, group) != 0 ||
            create_dataset(s, EMBEDDING_PATHS[sp], 3, edims, s->split[sp].dtype == RM_DTYPE_FLOAT16,
                           EMBEDDING_CHUNK_TARGET, &s->embeddings[sp]) != 0 ||
            create_dataset(s, REWARD_PATHS[sp], 2, rdims, 0, REWARD_CHUNK_TARGET, &s->rewards[sp]) != 0)
            rc = -1;
    }
    if (rc == 0 && s->n_bench > 0) {
        hsize_t bdims[3] = {s->n_bench, s->dim, 0};
        if (create_group(s, "/bench") != 0) rc = -1;
        for (int b = 0; rc == 0 && b < 2; b++)
            rc = create_dataset(s, BENCH_PATHS[b], 2, bdims, s->bench_dtype == RM_DTYPE_FLOAT16, EMBEDDING_CHUNK_TARGET,
                                &s->bench[b]);
    }
    if (rm_all_ok(comm, rc) != 0) {
        rm_store_abandon(w);
        return -1;
    }
    return 0;
}

int rm_store_write_split(rm_store_writer *w, rm_split split, size_t p0, size_t p1, const float *emb, const float *rewards)
{
    rm_store *s = &w->store;
    AGREE_ON_RANGE(s, EMBEDDING_PATHS[split], p0, p1, s->split[split].n_prompts);
    transfer_target te = embeddings_target(s, split), tr = rewards_target(s, split);
    /* Both datasets take part on every rank (collective), a NULL buffer as an empty range. */
    size_t e1 = emb ? p1 : p0, r1 = rewards ? p1 : p0;
    if (transfer_rows(s, &te, 1, p0, e1, (float *)emb, CHECK_FAIL) != 0) return -1;
    return transfer_rows(s, &tr, 1, p0, r1, (float *)rewards, CHECK_FAIL);
}

int rm_store_write_bench(rm_store_writer *w, size_t i0, size_t i1, const float *chosen, const float *rejected)
{
    rm_store *s = &w->store;
    if (rm_all_ok(s->comm, s->n_bench == 0 ? rm_errorf("%s: the layout has no /bench", s->path) : 0) != 0) return -1;
    AGREE_ON_RANGE(s, BENCH_PATHS[0], i0, i1, s->n_bench);
    transfer_target c = bench_target(s, 0), r = bench_target(s, 1);
    if (transfer_rows(s, &c, 1, i0, chosen ? i1 : i0, (float *)chosen, CHECK_FAIL) != 0) return -1;
    return transfer_rows(s, &r, 1, i0, rejected ? i1 : i0, (float *)rejected, CHECK_FAIL);
}

int rm_store_commit(rm_store_writer *w)
{
    rm_store *s = &w->store;
    MPI_Comm comm = s->comm;
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    for (int i = 0; i < 2; i++) {
        close_id(&s->embeddings[i], H5Dclose);
        close_id(&s->rewards[i], H5Dclose);
        close_id(&s->bench[i], H5Dclose);
    }
    int rc = 0;
    if (H5Fclose(s->file) < 0) rc = h5_fail(s->path, "/", "H5Fclose");
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
    }
    rc = rm_all_ok(comm, rc);
    snprintf(s->path, sizeof s->path, "%s", w->final_path);
    rm_store_close(s);
    return rc;
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
