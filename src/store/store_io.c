/* The embedding store, shared part (see include/rmens/store/store.h, src/store/store_internal.h):
 * half conversions, the store's HDF5 types and handles, the piecewise collective transfer
 * and the content digest (attributes: the rm_h5_* helpers of rmens/store/h5util.h).
 *
 * Every HDF5 call is checked; HDF5's own error-stack printing is switched off and a
 * failure becomes one rmens message naming the file, the dataset and the failing call,
 * with HDF5's innermost reason appended. Transfers are collective MPI-IO in bounded
 * pieces; float16 travels as raw IEEE half bits (no HDF5 type conversion, which would
 * make HDF5 fall back to independent I/O) and is converted here. */
#include "store_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/base/parallel.h"

const char *const STORE_SPLIT_NAMES[2] = {"train", "test"};
const char *const STORE_GROUP_PATHS[3] = {"/train", "/test", "/bench"};
const char *const STORE_EMBEDDING_PATHS[2] = {"/train/embeddings", "/test/embeddings"};
const char *const STORE_REWARD_PATHS[2] = {"/train/rewards", "/test/rewards"};
const char *const STORE_BENCH_PATHS[2] = {"/bench/chosen", "/bench/rejected"};

const char *rm_split_name(rm_split split) { return STORE_SPLIT_NAMES[split == RM_SPLIT_TEST]; }
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

/* ------------------------------------------------------------------------------------ */
/* The store's HDF5 types and handles */

/* IEEE binary16 as h5py writes it: an H5T_FLOAT of 2 bytes, little-endian. */
hid_t store_half_type(void)
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
int store_classify_float(hid_t type)
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

const char *store_type_description(hid_t type, char *buf, size_t n)
{
    H5T_class_t c = H5Tget_class(type);
    const char *cls = c == H5T_INTEGER ? "integer" : c == H5T_FLOAT ? "float" : c == H5T_STRING ? "string"
                    : c == H5T_COMPOUND ? "compound" : "non-numeric";
    snprintf(buf, n, "%zu-byte %s", H5Tget_size(type), cls);
    return buf;
}

void store_reset(rm_store *s)
{
    memset(s, 0, sizeof *s);
    s->comm = MPI_COMM_NULL;
    s->file = H5I_INVALID_HID;
    for (int i = 0; i < 2; i++) s->embeddings[i] = s->rewards[i] = s->bench[i] = H5I_INVALID_HID;
    for (int i = 0; i < 2; i++) s->pairs[i].chosen = s->pairs[i].rejected = s->pairs[i].group = H5I_INVALID_HID;
    for (int v = 0; v < RM_STORE_MAX_VIEWS; v++)
        for (int i = 0; i < 2; i++) {
            s->views[v].embeddings[i] = s->views[v].bench[i] = H5I_INVALID_HID;
            s->views[v].pairs[i][0] = s->views[v].pairs[i][1] = H5I_INVALID_HID;
        }
    s->n_views = 1;
    snprintf(s->views[0].name, sizeof s->views[0].name, "%s", RM_STORE_DEFAULT_VIEW);
    s->read_chunk_bytes = DEFAULT_READ_CHUNK_BYTES;
}

int store_view_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 63 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return 0;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' ||
              *c == '-'))
            return 0;
    return 1;
}

void store_close_datasets(rm_store *s)
{
    for (int sp = 0; sp < 2; sp++) { /* preference pairs (store_pairs.c) and their views' */
        rm_h5_close_id(&s->pairs[sp].chosen, H5Dclose);
        rm_h5_close_id(&s->pairs[sp].rejected, H5Dclose);
        rm_h5_close_id(&s->pairs[sp].group, H5Dclose);
        for (int v = 1; v < RM_STORE_MAX_VIEWS; v++)
            for (int k = 0; k < 2; k++) rm_h5_close_id(&s->views[v].pairs[sp][k], H5Dclose);
    }
    for (int i = 0; i < 2; i++) {
        rm_h5_close_id(&s->embeddings[i], H5Dclose);
        rm_h5_close_id(&s->rewards[i], H5Dclose);
        rm_h5_close_id(&s->bench[i], H5Dclose);
        for (int v = 1; v < RM_STORE_MAX_VIEWS; v++) {
            rm_h5_close_id(&s->views[v].embeddings[i], H5Dclose);
            rm_h5_close_id(&s->views[v].bench[i], H5Dclose);
        }
    }
}

void store_close_handles(rm_store *s)
{
    store_close_datasets(s);
    rm_h5_close_id(&s->file, H5Fclose);
}

void rm_store_close(rm_store *s)
{
    for (int v = 1; v < s->n_views && v < RM_STORE_MAX_VIEWS; v++) /* computed views' state */
        if (s->views[v].ops) s->views[v].ops->release(&s->views[v]);
    store_close_handles(s);
    if (s->comm != MPI_COMM_NULL) MPI_Comm_free(&s->comm);
    s->comm = MPI_COMM_NULL;
}

/* ------------------------------------------------------------------------------------ */
/* Piecewise collective transfer of a row range of a [n0, n1, n2] (or [n0, n1]) dataset. */

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
size_t store_first_nonfinite(const float *v, size_t n)
{
    /* Branch-free accumulate, then locate: the common case (all finite) stays fast. */
    uint32_t any = 0;
    for (size_t i = 0; i < n; i++) any |= (uint32_t)((float_bits(v[i]) & 0x7f800000u) == 0x7f800000u);
    if (!any) return n;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return i;
    return n;
}

size_t store_count_nonfinite(const float *v, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) count += (float_bits(v[i]) & 0x7f800000u) == 0x7f800000u;
    return count;
}

int store_report_nonfinite(const rm_store *s, const transfer_target *t, const char *verb, size_t r0, size_t c0,
                           size_t nc, size_t index, float value)
{
    size_t row = r0 + index / (nc * t->n2);
    size_t col = c0 + (index / t->n2) % nc;
    return rm_errorf("%s: %s: %s %s at %s %zu, %s %zu", s->path, t->name, verb, isnan(value) ? "NaN" : "Inf",
                     t->row_word, row, t->col_word, col);
}

/* ---- content digest (the definition is in include/rmens/store/store.h) ---- */

#define DIGEST_STEP 0x9E3779B97F4A7C15ull

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t rm_store_digest_f32(uint64_t acc, const float *values, size_t n, uint64_t first_index)
{
    /* Each term depends only on its own index, so the loop vectorises (no carried key). */
    for (size_t i = 0; i < n; i++) acc += mix64((first_index + i) * DIGEST_STEP ^ float_bits(values[i]));
    return acc;
}

uint64_t rm_store_digest_i64(uint64_t acc, const int64_t *values, size_t n, uint64_t first_index)
{
    for (size_t i = 0; i < n; i++) acc += mix64((first_index + i) * DIGEST_STEP ^ (uint64_t)values[i]);
    return acc;
}

uint64_t rm_store_digest_f16(uint64_t acc, const uint16_t *values, size_t n, uint64_t first_index)
{
    for (size_t i = 0; i < n; i++) acc += mix64((first_index + i) * DIGEST_STEP ^ values[i]);
    return acc;
}

void rm_store_digest_format(uint64_t digest, char *out, size_t n)
{
    snprintf(out, n, "%s%016llx", RM_STORE_DIGEST_PREFIX, (unsigned long long)digest);
}

/* ---- checksum errors: which chunk ---- */

/* Re-read piece [r0, r0 + nr) x [c0, c0 + nc) of t one chunk at a time, independently (no
 * other rank takes part): 1 with the extent of the first chunk that fails its checksum, as
 * stored, in box (rows [box[0], box[1]), columns [box[2], box[3])); 0 when no chunk fails
 * alone, or when the re-reading cannot be set up (best effort: the caller then names the
 * piece). Local; bounded by one chunk of memory. */
static int locate_corrupt_chunk(const transfer_target *t, size_t r0, size_t nr, size_t c0, size_t nc, size_t box[4])
{
    hsize_t chunk[3] = {0, 0, 0}, dims[3] = {0, 0, 0};
    hid_t dcpl = H5I_INVALID_HID, space = H5I_INVALID_HID, dxpl = H5I_INVALID_HID, mem_type = H5I_INVALID_HID;
    hid_t mem = H5I_INVALID_HID;
    void *scratch = NULL;
    int located = 0;
    if ((dcpl = H5Dget_create_plist(t->dset)) < 0 || H5Pget_chunk(dcpl, 3, chunk) < 2) goto done;
    if ((space = H5Dget_space(t->dset)) < 0 || H5Sget_simple_extent_dims(space, dims, NULL) < 0) goto done;
    if ((dxpl = H5Pcreate(H5P_DATASET_XFER)) < 0 || H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_INDEPENDENT) < 0) goto done;
    if ((mem_type = t->half ? store_half_type() : H5Tcopy(H5T_NATIVE_FLOAT)) < 0) goto done;
    size_t cr = (size_t)chunk[0], cc = (size_t)chunk[1]; /* chunks: [cr, cc(, D)] */
    if (!(scratch = malloc(cr * cc * t->n2 * (t->half ? 2 : 4) + 1))) goto done;
    for (size_t q = r0 / cr * cr; q < r0 + nr; q += cr)
        for (size_t c = c0 / cc * cc; c < c0 + nc; c += cc) {
            size_t a0 = q > r0 ? q : r0, a1 = q + cr < r0 + nr ? q + cr : r0 + nr;
            size_t b0 = c > c0 ? c : c0, b1 = c + cc < c0 + nc ? c + cc : c0 + nc;
            hsize_t start[3] = {a0, b0, 0}, count[3] = {a1 - a0, b1 - b0, t->n2};
            if ((mem = H5Screate_simple(t->rank, count, NULL)) < 0 ||
                H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
                goto done;
            if (H5Dread(t->dset, mem_type, mem, space, dxpl, scratch) < 0) {
                char why[256];
                rm_h5_reason_checksum(why, sizeof why, -1, &located);
                if (located) {
                    box[0] = q, box[1] = q + cr < dims[0] ? q + cr : (size_t)dims[0];
                    box[2] = c, box[3] = c + cc < t->n1 ? c + cc : t->n1;
                    goto done;
                }
            }
            rm_h5_close_id(&mem, H5Sclose);
        }
done:
    H5Eclear2(H5E_DEFAULT);
    free(scratch);
    rm_h5_close_id(&mem, H5Sclose);
    rm_h5_close_id(&mem_type, H5Tclose);
    rm_h5_close_id(&dxpl, H5Pclose);
    rm_h5_close_id(&space, H5Sclose);
    rm_h5_close_id(&dcpl, H5Pclose);
    return located;
}

/* A piece failed its checksum: the message names the corrupt chunk's prompt range (the
 * whole chunk's, as stored), or what the piece covered when no chunk fails alone. Local.
 * Returns -1. */
static int report_checksum_error(rm_store *s, const transfer_target *t, size_t r0, size_t nr, size_t c0, size_t nc)
{
    const char *advice = "the stored data is corrupt (restore the store from a copy or write it again)";
    size_t box[4] = {r0, r0 + nr, c0, c0 + nc};
    locate_corrupt_chunk(t, r0, nr, c0, nc, box);
    if (box[2] == 0 && box[3] == t->n1)
        return rm_errorf("%s: %s: Fletcher-32 checksum mismatch in %ss [%zu, %zu): %s", s->path, t->name, t->row_word,
                         box[0], box[1], advice);
    return rm_errorf("%s: %s: Fletcher-32 checksum mismatch in %s %zu, %ss [%zu, %zu): %s", s->path, t->name,
                     t->row_word, box[0], t->col_word, box[2], box[3], advice);
}

/* ---- the transfer ---- */

typedef struct {
    hid_t dxpl, file_space, mem_type;
    uint16_t *halves; /* float16 staging: the stored bits of one piece */
} transfer_env;

static void transfer_env_close(transfer_env *e)
{
    free(e->halves);
    rm_h5_close_id(&e->dxpl, H5Pclose);
    rm_h5_close_id(&e->file_space, H5Sclose);
    rm_h5_close_id(&e->mem_type, H5Tclose);
}

/* Whether t's chunks go through a filter (Fletcher-32, gzip, ...): 1 or 0; -1 on error. */
static int dataset_filtered(rm_store *s, const transfer_target *t)
{
    hid_t dcpl = H5Dget_create_plist(t->dset);
    if (dcpl < 0) return rm_h5_fail(s->path, t->name, "H5Dget_create_plist");
    int n = H5Pget_nfilters(dcpl);
    if (n < 0) n = rm_h5_fail(s->path, t->name, "H5Pget_nfilters"); /* before the close clears HDF5's stack */
    H5Pclose(dcpl);
    return n < 0 ? -1 : n > 0;
}

/* Local: transfer property list, file space, memory type, staging buffer. Writes are
 * collective (HDF5 1.10 requires it of filtered datasets). Reads of filtered datasets are
 * independent: HDF5 1.10 reads filtered chunks one by one, independently, even under a
 * collective transfer, and its collective bookkeeping around them cost 3-4x the read rate
 * (measured, tests/bench/run_bench.py --parts integrity); unfiltered reads stay collective.
 * On failure what was made is left in e for transfer_env_close. */
static int transfer_env_open(rm_store *s, const transfer_target *t, int write, const piece_plan *pl, size_t range_elems,
                             transfer_env *e)
{
    e->halves = NULL;
    e->dxpl = e->file_space = e->mem_type = H5I_INVALID_HID;
    int filtered = write ? 0 : dataset_filtered(s, t);
    if (filtered < 0) return -1;
    if ((e->dxpl = H5Pcreate(H5P_DATASET_XFER)) < 0) return rm_h5_fail(s->path, t->name, "H5Pcreate");
    if (H5Pset_dxpl_mpio(e->dxpl, filtered ? H5FD_MPIO_INDEPENDENT : H5FD_MPIO_COLLECTIVE) < 0)
        return rm_h5_fail(s->path, t->name, "H5Pset_dxpl_mpio");
    if ((e->file_space = H5Dget_space(t->dset)) < 0) return rm_h5_fail(s->path, t->name, "H5Dget_space");
    if ((e->mem_type = t->half ? store_half_type() : H5Tcopy(H5T_NATIVE_FLOAT)) < 0)
        return rm_h5_fail(s->path, t->name, "memory type");
    size_t piece_elems = (pl->pieces_per_row == 1 ? pl->rows_per_piece * t->n1 : pl->cols_per_piece) * t->n2;
    if (t->half && pl->n_pieces > 0) {
        e->halves = rm_alloc(piece_elems < range_elems ? piece_elems : range_elems, sizeof *e->halves, "float16 staging buffer");
        if (!e->halves) return -1;
    }
    return 0;
}

/* Select piece [r0, r0+nr) x [c0, c0+nc) in the file space; *mem_space gets its own shape
 * (HDF5 then maps it onto the chunks block by block; a flat 1-D memory space would make it
 * iterate element by element, 10x slower). */
static int select_piece(rm_store *s, const transfer_target *t, transfer_env *e, size_t r0, size_t nr, size_t c0,
                        size_t nc, hid_t *mem_space)
{
    hsize_t start[3] = {r0, c0, 0}, count[3] = {nr, nc, t->n2};
    if (H5Sselect_hyperslab(e->file_space, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
        return rm_h5_fail(s->path, t->name, "H5Sselect_hyperslab");
    if ((*mem_space = H5Screate_simple(t->rank, count, NULL)) < 0) return rm_h5_fail(s->path, t->name, "H5Screate_simple");
    return 0;
}

/* An empty selection, for a rank that has nothing (left) to transfer in this round. */
static hid_t select_nothing(transfer_env *e)
{
    hsize_t one[1] = {1};
    hid_t mem_space = H5Screate_simple(1, one, NULL);
    if (mem_space < 0 || H5Sselect_none(mem_space) < 0 || H5Sselect_none(e->file_space) < 0)
        rm_abort_job("HDF5 cannot create an empty selection"); /* nothing sane is left to do */
    return mem_space;
}

/* What follows a failed H5Dread/H5Dwrite of a piece: one message with its context. */
static int transfer_failed(rm_store *s, const transfer_target *t, int write, size_t r0, size_t nr, size_t c0, size_t nc)
{
    char why[256];
    int checksum = 0;
    /* a write's loc: a full disk shows up on the ranks whose own write did not fail too */
    rm_h5_reason_checksum(why, sizeof why, write ? t->dset : H5I_INVALID_HID, &checksum);
    if (!write && checksum) return report_checksum_error(s, t, r0, nr, c0, nc);
    rm_errorf("%s: %s: %s failed (%s)", s->path, t->name, write ? "H5Dwrite" : "H5Dread", why);
    return rm_error_context("%s %ss [%zu, %zu)", write ? "writing" : "reading", t->row_word, r0, r0 + nr);
}

int store_transfer_rows(rm_store *s, const transfer_target *t, int write, size_t p0, size_t p1, float *buf, int check,
                        uint64_t *digest)
{
    piece_plan pl;
    plan_pieces(p1 - p0, t, s->read_chunk_bytes, &pl);
    if (p1 <= p0) pl.n_pieces = 0;
    unsigned long long mine = pl.n_pieces, most = 0;
    if (rm_mpi_check(MPI_Allreduce(&mine, &most, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, s->comm), "MPI_Allreduce") != 0)
        return -1;
    transfer_env e;
    int rc = transfer_env_open(s, t, write, &pl, (p1 - p0) * t->n1 * t->n2, &e);
    /* Everyone must agree that the set-up worked before the first collective H5Dread. */
    if (rm_all_ok(s->comm, rc) != 0) {
        transfer_env_close(&e);
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
            rc = select_piece(s, t, &e, r0, nr, c0, nc, &mem_space);
            if (rc == 0 && write && check == CHECK_FAIL) {
                size_t bad = store_first_nonfinite(values, n);
                if (bad < n) rc = store_report_nonfinite(s, t, "refusing to write", r0, c0, nc, bad, values[bad]);
            }
            if (rc == 0 && write && t->half) rm_float_to_half(values, e.halves, n);
            if (rc != 0) active = 0;
        }
        if (!active) {
            rm_h5_close_id(&mem_space, H5Sclose);
            mem_space = select_nothing(&e);
        }
        uint64_t first = t->digest_base + ((uint64_t)r0 * t->n1 + c0) * t->n2;
        if (active && write && digest) /* what goes to the file, in its stored form */
            *digest = t->half ? rm_store_digest_f16(*digest, e.halves, n, first) : rm_store_digest_f32(*digest, values, n, first);
        void *data = !active ? (void *)&dummy : t->half ? (void *)e.halves : (void *)values;
        herr_t status = write ? H5Dwrite(t->dset, e.mem_type, mem_space, e.file_space, e.dxpl, data)
                              : H5Dread(t->dset, e.mem_type, mem_space, e.file_space, e.dxpl, data);
        if (status < 0 && rc == 0) rc = transfer_failed(s, t, write, r0, nr, c0, nc); /* before any other HDF5 call */
        H5Sclose(mem_space);
        if (rc != 0 || !active || write) continue;
        if (digest) *digest = t->half ? rm_store_digest_f16(*digest, e.halves, n, first) : rm_store_digest_f32(*digest, values, n, first);
        if (t->half) rm_half_to_float(e.halves, values, n);
        if (check == CHECK_FAIL) {
            size_t bad = store_first_nonfinite(values, n);
            if (bad < n) rc = store_report_nonfinite(s, t, "non-finite value", r0, c0, nc, bad, values[bad]);
        }
    }
    transfer_env_close(&e);
    return rm_all_ok(s->comm, rc);
}

transfer_target store_embeddings_target(const rm_store *s, rm_split split)
{
    transfer_target t = {s->embeddings[split], STORE_EMBEDDING_PATHS[split], 3, s->split[split].n_responses, s->dim,
                         s->split[split].dtype == RM_DTYPE_FLOAT16, "prompt", "response", 0};
    return t;
}

transfer_target store_rewards_target(const rm_store *s, rm_split split)
{
    /* In the digest sequence the rewards follow the split's embeddings. */
    uint64_t after = (uint64_t)s->split[split].n_prompts * s->split[split].n_responses * s->dim;
    transfer_target t = {s->rewards[split], STORE_REWARD_PATHS[split], 2, s->split[split].n_responses, 1, 0, "prompt",
                         "response", after};
    return t;
}

transfer_target store_bench_target(const rm_store *s, int which)
{
    transfer_target t = {s->bench[which], STORE_BENCH_PATHS[which], 2, s->dim, 1, s->bench_dtype == RM_DTYPE_FLOAT16,
                         "pair", "dimension", which ? (uint64_t)s->n_bench * s->dim : 0};
    return t;
}

transfer_target store_view_embeddings_target(const rm_store *s, int view, rm_split split)
{
    if (view == 0) return store_embeddings_target(s, split);
    const rm_store_view *v = &s->views[view];
    transfer_target t = {v->embeddings[split], v->paths[split], 3, s->split[split].n_responses, v->dim,
                         v->dtype[split] == RM_DTYPE_FLOAT16, "prompt", "response", 0};
    return t;
}

transfer_target store_view_bench_target(const rm_store *s, int view, int which)
{
    if (view == 0) return store_bench_target(s, which);
    const rm_store_view *v = &s->views[view];
    transfer_target t = {v->bench[which], v->paths[2 + which], 2, v->dim, 1, v->bench_dtype == RM_DTYPE_FLOAT16,
                         "pair", "dimension", which ? (uint64_t)s->n_bench * v->dim : 0};
    return t;
}

int store_check_range(const rm_store *s, const char *name, size_t p0, size_t p1, size_t n)
{
    if (p0 > p1 || p1 > n) return rm_errorf("%s: %s: range [%zu, %zu) outside [0, %zu)", s->path, name, p0, p1, n);
    return 0;
}
