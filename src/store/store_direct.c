/* The embedding store, direct chunk reads of Fletcher-32 datasets (issue 18: the cost of
 * the checksum on the read rate).
 *
 * Through H5Dread, a checksummed dataset read 30-55 % slower than the same chunks without
 * the filter: HDF5 reads every chunk into a buffer of its own, checks it with a loop over
 * one byte pair at a time and copies the selection out. Here a chunk's stored bytes are
 * read at the address HDF5 gives (H5Dget_chunk_info_by_coord) in 256 KiB slices into a
 * buffer that stays in L2, where each is verified by src/kernels/fletcher32.c (HDF5's
 * checksum, a vector of words a step), checked for NaN/Inf and added to the digest, then
 * copied straight into the caller's buffer when its rows are wanted whole: one pass over
 * memory where the unfiltered read makes one too. H5Dread_chunk (the whole chunk, then the same checks) stands in
 * where addresses do not count from the file's first byte (a user block). The result is
 * bitwise what H5Dread gives, and a chunk that fails its checksum is the same one-line
 * error naming the file, the dataset and the chunk's prompt range.
 *
 * Each rank reads its own rows independently, as the filtered H5Dread did already (see
 * transfer_env_open in store_io.c): the only collective calls are the agreement on the way
 * to read and on the outcome, which every rank makes whatever its range. Datasets with
 * other filters (gzip), without filters or stored big-endian take store_transfer_rows;
 * a chunk stored with the filter skipped (filter mask) or never written (fill value) is
 * read through H5Dread on its own. */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rmens/kernels/fletcher32.h"
#include "rmens/base/common.h"
#include "rmens/base/parallel.h"

typedef struct {
    hsize_t dims[3], chunk[3]; /* dataset and chunk shapes; a rank-2 dataset as [n0, n1, 1] */
    size_t elem;               /* stored bytes a value: 4 float32, 2 float16 */
    size_t chunk_bytes;        /* one chunk's data, without its 4-byte checksum */
} chunk_geometry;

typedef struct {
    rm_store *s;
    const transfer_target *t;
    chunk_geometry g;
    size_t p0, p1;          /* rows wanted */
    float *buf;             /* [p1 - p0, n1, n2] */
    int check;              /* CHECK_FAIL: NaN/Inf is an error */
    uint64_t *digest;       /* NULL, or the content digest to add the stored bits to */
    hid_t dxpl;             /* independent transfers */
    hid_t file_space, mem_type; /* for chunks read through H5Dread; made when first needed */
    unsigned char *scratch; /* one chunk and its checksum; allocated when first needed */
    unsigned char *slice;   /* SLICE_BYTES, where each slice read from fd is verified */
    int fd;                 /* the store, for reading chunks by address (see open_raw) */
    const uint8_t *wanted;  /* NULL, or the items to copy (store_read_rows_wanted) */
} direct_read;

/* Whether t's stored chunk bytes are its values and their checksum: 1 (chunked, Fletcher-32
 * the only filter, little-endian on a little-endian machine; g filled), 0 (read through
 * HDF5), -1 error. */
static int direct_geometry(rm_store *s, const transfer_target *t, chunk_geometry *g)
{
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    return 0;
#endif
    memset(g, 0, sizeof *g);
    g->elem = t->half ? 2 : 4;
    hid_t dcpl = H5I_INVALID_HID, type = H5I_INVALID_HID, space = H5I_INVALID_HID;
    int rc = -1;
    if ((dcpl = H5Dget_create_plist(t->dset)) < 0) {
        rm_h5_fail(s->path, t->name, "H5Dget_create_plist");
        goto done;
    }
    H5D_layout_t layout = H5Pget_layout(dcpl);
    if (layout < 0) {
        rm_h5_fail(s->path, t->name, "H5Pget_layout");
        goto done;
    }
    int n_filters = layout == H5D_CHUNKED ? H5Pget_nfilters(dcpl) : 0;
    if (n_filters < 0) {
        rm_h5_fail(s->path, t->name, "H5Pget_nfilters");
        goto done;
    }
    rc = 0;
    if (layout != H5D_CHUNKED || n_filters != 1) goto done;
    unsigned flags = 0, config = 0;
    size_t n_values = 0;
    H5Z_filter_t id = H5Pget_filter2(dcpl, 0, &flags, &n_values, NULL, 0, NULL, &config);
    if (id < 0) {
        rc = rm_h5_fail(s->path, t->name, "H5Pget_filter2");
        goto done;
    }
    if ((type = H5Dget_type(t->dset)) < 0) {
        rc = rm_h5_fail(s->path, t->name, "H5Dget_type");
        goto done;
    }
    H5T_order_t order = H5Tget_order(type);
    if (order == H5T_ORDER_ERROR) {
        rc = rm_h5_fail(s->path, t->name, "H5Tget_order");
        goto done;
    }
    if (id != H5Z_FILTER_FLETCHER32 || order != H5T_ORDER_LE) goto done;
    if ((space = H5Dget_space(t->dset)) < 0) {
        rc = rm_h5_fail(s->path, t->name, "H5Dget_space");
        goto done;
    }
    if (H5Pget_chunk(dcpl, 3, g->chunk) != t->rank || H5Sget_simple_extent_dims(space, g->dims, NULL) != t->rank) {
        rc = rm_h5_fail(s->path, t->name, "H5Pget_chunk/H5Sget_simple_extent_dims");
        goto done;
    }
    if (t->rank == 2) g->chunk[2] = g->dims[2] = 1;
    g->chunk_bytes = (size_t)(g->chunk[0] * g->chunk[1] * g->chunk[2]) * g->elem;
    rc = 1;
done:
    rm_h5_close_id(&space, H5Sclose);
    rm_h5_close_id(&type, H5Tclose);
    rm_h5_close_id(&dcpl, H5Pclose);
    return rc;
}

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* Copy the part of box [o, o + e) (of stored values at src, laid out [e0][e1][e2]) that
 * falls in the rows wanted into place, float16 converted; float16 bits go to the digest
 * here (float32 bits are added from the buffer, a band at a time). */
static void copy_box(direct_read *r, const hsize_t o[3], const hsize_t e[3], const void *src)
{
    const transfer_target *t = r->t;
    size_t a0 = o[0] > r->p0 ? o[0] : r->p0, a1 = min_size(o[0] + e[0], r->p1);
    size_t b0 = o[1], b1 = min_size(o[1] + e[1], t->n1), d0 = o[2], d1 = min_size(o[2] + e[2], t->n2);
    size_t src_row = e[1] * e[2], src_col = e[2], dst_row = t->n1 * t->n2;
    size_t run = d1 - d0, cols = b1 - b0, rows = a1 - a0;
    /* Dimensions contiguous in both layouts make longer runs (whole chunks, usually);
     * with a mask, one item a run. */
    if (run == e[2] && run == t->n2 && !r->wanted) {
        run *= cols, cols = 1;
        if (run == src_row && run == dst_row) run *= rows, rows = 1;
    }
    for (size_t a = a0; a < a0 + rows; a++)
        for (size_t b = b0; b < b0 + cols; b++) {
            if (r->wanted && !r->wanted[a * t->n1 + b]) continue;
            size_t from = (a - o[0]) * src_row + (b - o[1]) * src_col + (d0 - o[2]);
            size_t at = (a * t->n1 + b) * t->n2 + d0; /* the value's index in the dataset */
            float *dst = r->buf + (at - r->p0 * dst_row);
            if (!t->half) {
                memcpy(dst, (const float *)src + from, run * sizeof *dst);
                continue;
            }
            const uint16_t *h = (const uint16_t *)src + from;
            if (r->digest) *r->digest = rm_store_digest_f16(*r->digest, h, run, t->digest_base + at);
            rm_half_to_float(h, dst, run);
        }
}

static int scratch_ready(direct_read *r)
{
    if (!r->scratch) r->scratch = rm_alloc(r->g.chunk_bytes + 4, 1, "chunk buffer");
    return r->scratch ? 0 : -1;
}

/* The chunk at `origin` through H5Dread, for what the direct read cannot take (a chunk
 * stored unfiltered or never written): its part of the rows wanted, then copied. */
static int read_chunk_through_hdf5(direct_read *r, const hsize_t origin[3])
{
    const transfer_target *t = r->t;
    hsize_t start[3] = {origin[0] > r->p0 ? origin[0] : r->p0, origin[1], origin[2]}, count[3];
    count[0] = min_size(origin[0] + r->g.chunk[0], r->p1) - start[0];
    count[1] = min_size(origin[1] + r->g.chunk[1], t->n1) - start[1];
    count[2] = min_size(origin[2] + r->g.chunk[2], t->n2) - start[2];
    if (scratch_ready(r) != 0) return -1;
    if (r->file_space < 0 && (r->file_space = H5Dget_space(t->dset)) < 0) return rm_h5_fail(r->s->path, t->name, "H5Dget_space");
    if (r->mem_type < 0 && (r->mem_type = t->half ? store_half_type() : H5Tcopy(H5T_NATIVE_FLOAT)) < 0)
        return rm_h5_fail(r->s->path, t->name, "memory type");
    if (H5Sselect_hyperslab(r->file_space, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
        return rm_h5_fail(r->s->path, t->name, "H5Sselect_hyperslab");
    hid_t mem = H5Screate_simple(t->rank, count, NULL);
    if (mem < 0) return rm_h5_fail(r->s->path, t->name, "H5Screate_simple");
    herr_t status = H5Dread(t->dset, r->mem_type, mem, r->file_space, r->dxpl, r->scratch);
    int rc = status < 0 ? rm_h5_fail(r->s->path, t->name, "H5Dread") : 0; /* before any other HDF5 call */
    H5Sclose(mem);
    if (rc != 0)
        return rm_error_context("reading %ss [%zu, %zu)", t->row_word, (size_t)start[0], (size_t)(start[0] + count[0]));
    copy_box(r, start, count, r->scratch);
    return 0;
}

/* The message of a chunk that fails its checksum: the chunk's whole prompt range as stored
 * (and its response range when a chunk holds part of a prompt's responses). */
static int checksum_mismatch(const direct_read *r, const hsize_t origin[3])
{
    const transfer_target *t = r->t;
    const char *advice = "the stored data is corrupt (restore the store from a copy or write it again)";
    size_t a0 = origin[0], a1 = min_size(origin[0] + r->g.chunk[0], r->g.dims[0]);
    size_t b0 = origin[1], b1 = min_size(origin[1] + r->g.chunk[1], t->n1);
    if (b0 == 0 && b1 == t->n1)
        return rm_errorf("%s: %s: Fletcher-32 checksum mismatch in %ss [%zu, %zu): %s", r->s->path, t->name, t->row_word,
                         a0, a1, advice);
    return rm_errorf("%s: %s: Fletcher-32 checksum mismatch in %s %zu, %ss [%zu, %zu): %s", r->s->path, t->name,
                     t->row_word, a0, t->col_word, b0, b1, advice);
}

/* Verification goes a cache block at a time; a chunk comes from the file a slice at a
 * time into one buffer of a slice, which stays in L2: each slice is verified there (and,
 * in place, checked and added to the digest), then copied into place. Reading it into
 * place and verifying it there read it back from memory: the kernel's copy of a large
 * pread leaves little of it in cache. For the 1.6 GB of a rank's train split (AMD EPYC
 * family 26, 2 ranks) that readback took 1.5 s, against 0.03 s for the same checksums
 * in L2 plus the copies. */
#define VERIFY_BLOCK_BYTES ((size_t)32 << 10)
#define SLICE_BYTES ((size_t)256 << 10)

typedef struct {
    rm_fletcher32_state sum;
    size_t bad;     /* index of the first NaN/Inf in the chunk, SIZE_MAX if none (yet) */
    float bad_value; /* and its value (with a mask its item may not be copied) */
    int in_place;   /* float32 whole rows in the caller's buffer: check and digest too */
} chunk_check;

/* Verify len bytes at `bytes`, which are the chunk's bytes [off, off + len). */
static void verify_slice(direct_read *r, const hsize_t origin[3], const unsigned char *bytes, size_t off, size_t len,
                         chunk_check *c)
{
    uint64_t first = r->t->digest_base + origin[0] * r->t->n1 * r->t->n2; /* of the chunk's first value */
    for (size_t b = 0; b < len; b += VERIFY_BLOCK_BYTES) {
        size_t m = min_size(VERIFY_BLOCK_BYTES, len - b), at = (off + b) / sizeof(float);
        rm_fletcher32_update(&c->sum, bytes + b, m);
        if (!c->in_place) continue;
        const float *v = (const float *)(bytes + b);
        if (r->check == CHECK_FAIL && c->bad == SIZE_MAX) {
            size_t k = store_first_nonfinite(v, m / sizeof *v);
            if (k < m / sizeof *v) c->bad = at + k, c->bad_value = v[k];
        }
        if (r->digest) *r->digest = rm_store_digest_f32(*r->digest, v, m / sizeof *v, first + at);
    }
}

/* The slice's bytes [off, off + len) of the chunk at `origin` into dst (the chunk's place):
 * all of them, or with a mask those of the wanted items (in place, a chunk holds whole
 * items, n2 values each). */
static void place_slice(const direct_read *r, const hsize_t origin[3], int in_place, unsigned char *dst, size_t off,
                        size_t len)
{
    if (!r->wanted || !in_place) {
        memcpy(dst + off, r->slice, len);
        return;
    }
    const size_t item_bytes = r->t->n2 * r->g.elem, first = (size_t)origin[0] * r->t->n1;
    for (size_t b = off; b < off + len;) {
        size_t item = b / item_bytes, end = min_size((item + 1) * item_bytes, off + len);
        if (r->wanted[first + item]) memcpy(dst + b, r->slice + (b - off), end - b);
        b = end;
    }
}

/* All of [offset, offset + n) of the file. */
static int pread_all(const direct_read *r, void *dst, size_t n, uint64_t offset)
{
    for (unsigned char *p = dst; n > 0;) {
        ssize_t got = pread(r->fd, p, n, (off_t)offset);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0)
            return rm_errorf("%s: %s: reading a chunk at byte %llu: %s", r->s->path, r->t->name,
                             (unsigned long long)offset, got < 0 ? strerror(errno) : "unexpected end of file");
        p += got, n -= (size_t)got, offset += (uint64_t)got;
    }
    return 0;
}

/* The chunk's data into dst[0, chunk_bytes) and its checksum into stored[4], verified on
 * the way: sliced from the file where HDF5 says it is (r->fd), or whole by H5Dread_chunk
 * (dst then needs room for the checksum too). */
static int fetch_chunk(direct_read *r, const hsize_t origin[3], haddr_t address, unsigned char *dst, chunk_check *c,
                       unsigned char stored[4])
{
    size_t n = r->g.chunk_bytes;
    if (r->fd >= 0) {
        if (!r->slice && !(r->slice = rm_alloc(SLICE_BYTES, 1, "slice buffer"))) return -1;
        for (size_t off = 0; off < n; off += SLICE_BYTES) {
            size_t len = min_size(SLICE_BYTES, n - off);
            if (pread_all(r, r->slice, len, address + off) != 0) return -1;
            verify_slice(r, origin, r->slice, off, len, c);
            place_slice(r, origin, c->in_place, dst, off, len);
        }
        return pread_all(r, stored, 4, address + n);
    }
    uint32_t mask = 0;
    if (H5Dread_chunk(r->t->dset, r->dxpl, origin, &mask, dst) < 0) return rm_h5_fail(r->s->path, r->t->name, "H5Dread_chunk");
    if (mask != 0) return rm_errorf("%s: %s: H5Dread_chunk: filter mask %u, expected 0", r->s->path, r->t->name, mask);
    verify_slice(r, origin, dst, 0, n, c);
    memcpy(stored, dst + n, 4);
    return 0;
}

/* One chunk: raw, verified, into place. Whole float32 rows wanted whole go straight into
 * the caller's buffer (*done = 1: checked and in the digest already). H5Dread_chunk writes
 * the checksum after the data, so by that route only a chunk that the buffer's next rows
 * follow goes straight in (the next chunk, read later, overwrites those 4 bytes). */
static int read_chunk(direct_read *r, const hsize_t origin[3], int *done)
{
    const transfer_target *t = r->t;
    const chunk_geometry *g = &r->g;
    size_t end = origin[0] + g->chunk[0];
    chunk_check c = {.bad = SIZE_MAX};
    /* With a mask, H5Dread_chunk's whole chunk (and its checksum after it) would land on
     * items not wanted: by that route the chunk goes through the scratch buffer. */
    c.in_place = !t->half && g->chunk[1] == t->n1 && g->chunk[2] == t->n2 && origin[0] >= r->p0 &&
                 (r->fd >= 0 ? end <= r->p1 : end < r->p1 && !r->wanted);
    *done = c.in_place;
    hsize_t size = 0;
    haddr_t address = 0;
    unsigned skipped = 0;
    if (H5Dget_chunk_info_by_coord(t->dset, origin, &skipped, &address, &size) < 0) {
        rm_h5_fail(r->s->path, t->name, "H5Dget_chunk_info_by_coord");
        return rm_error_context("reading %ss [%zu, %zu)", t->row_word, (size_t)origin[0], end);
    }
    /* never written (size 0: the fill value), or stored without the filter */
    if (skipped != 0 || size != g->chunk_bytes + 4) {
        *done = 0;
        return read_chunk_through_hdf5(r, origin);
    }
    if (!c.in_place && scratch_ready(r) != 0) return -1;
    unsigned char *dst = c.in_place ? (unsigned char *)(r->buf + (origin[0] - r->p0) * t->n1 * t->n2) : r->scratch;
    unsigned char stored[4];
    rm_fletcher32_init(&c.sum);
    if (fetch_chunk(r, origin, address, dst, &c, stored) != 0)
        return rm_error_context("reading %ss [%zu, %zu)", t->row_word, (size_t)origin[0], end);
    /* a corrupt chunk is reported as such, whatever its values */
    if (!rm_fletcher32_stored_matches(rm_fletcher32_final(&c.sum), stored)) return checksum_mismatch(r, origin);
    if (c.bad != SIZE_MAX)
        return store_report_nonfinite(r->s, t, "non-finite value", origin[0], 0, t->n1, c.bad, c.bad_value);
    if (!c.in_place) copy_box(r, origin, g->chunk, dst);
    return 0;
}

/* The NaN/Inf check of the wanted items of rows [a0, a1), copied from a scratch chunk
 * (the only values of those rows in the buffer). */
static int check_wanted(const direct_read *r, size_t a0, size_t a1)
{
    const transfer_target *t = r->t;
    for (size_t a = a0; a < a1 && r->check == CHECK_FAIL; a++)
        for (size_t b = 0; b < t->n1; b++) {
            if (!r->wanted[a * t->n1 + b]) continue;
            const float *v = r->buf + ((a - r->p0) * t->n1 + b) * t->n2;
            size_t bad = store_first_nonfinite(v, t->n2);
            if (bad < t->n2)
                return store_report_nonfinite(r->s, t, "non-finite value", a, 0, t->n1, b * t->n2 + bad, v[bad]);
        }
    return 0;
}

/* The chunks of rows [q, q + chunk rows), then the digest and NaN/Inf checks of the rows
 * wanted among them while they are still in cache (unless done with the chunk). */
static int read_band(direct_read *r, size_t q)
{
    const transfer_target *t = r->t;
    const chunk_geometry *g = &r->g;
    int done = 0;
    for (size_t c = 0; c < t->n1; c += g->chunk[1])
        for (size_t d = 0; d < t->n2; d += g->chunk[2]) {
            hsize_t origin[3] = {q, c, d};
            if (read_chunk(r, origin, &done) != 0) return -1;
        }
    if (done) return 0; /* an in-place chunk is the whole band */
    size_t a0 = q > r->p0 ? q : r->p0, a1 = min_size(q + g->chunk[0], r->p1), row = t->n1 * t->n2;
    const float *v = r->buf + (a0 - r->p0) * row;
    size_t n = (a1 - a0) * row;
    if (r->wanted) return check_wanted(r, a0, a1);
    if (r->digest && !t->half) *r->digest = rm_store_digest_f32(*r->digest, v, n, t->digest_base + a0 * row);
    if (r->check == CHECK_FAIL) {
        size_t bad = store_first_nonfinite(v, n);
        if (bad < n) return store_report_nonfinite(r->s, t, "non-finite value", a0, 0, t->n1, bad, v[bad]);
    }
    return 0;
}

/* r->fd: the store opened for reading chunks at the addresses HDF5 gives, which count
 * from the superblock: only where that is the file's first byte (no user block).
 * Otherwise, or if the file cannot be opened again, -1: chunks come by H5Dread_chunk. */
static int open_raw(direct_read *r)
{
    r->fd = -1;
    hid_t fcpl = H5Fget_create_plist(r->s->file);
    if (fcpl < 0) return rm_h5_fail(r->s->path, "/", "H5Fget_create_plist");
    hsize_t userblock = 0;
    int rc = H5Pget_userblock(fcpl, &userblock) < 0 ? rm_h5_fail(r->s->path, "/", "H5Pget_userblock") : 0;
    H5Pclose(fcpl);
    if (rc == 0 && userblock == 0) r->fd = open(r->s->path, O_RDONLY | O_CLOEXEC);
    return rc;
}

/* Local: rows [p0, p1), band after band. */
static int read_direct(direct_read *r)
{
    int rc = 0;
    r->dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (r->dxpl < 0 || H5Pset_dxpl_mpio(r->dxpl, H5FD_MPIO_INDEPENDENT) < 0)
        rc = rm_h5_fail(r->s->path, r->t->name, "H5Pset_dxpl_mpio");
    if (rc == 0) rc = open_raw(r);
    size_t rows = (size_t)r->g.chunk[0];
    for (size_t q = r->p0 / rows * rows; rc == 0 && q < r->p1; q += rows) rc = read_band(r, q);
    if (r->fd >= 0) close(r->fd);
    free(r->scratch);
    free(r->slice);
    rm_h5_close_id(&r->mem_type, H5Tclose);
    rm_h5_close_id(&r->file_space, H5Sclose);
    rm_h5_close_id(&r->dxpl, H5Pclose);
    return rc;
}

int store_read_rows(rm_store *s, const transfer_target *t, size_t p0, size_t p1, float *buf, int check, uint64_t *digest)
{
    return store_read_rows_wanted(s, t, p0, p1, buf, check, digest, NULL);
}

int store_read_rows_wanted(rm_store *s, const transfer_target *t, size_t p0, size_t p1, float *buf, int check,
                           uint64_t *digest, const uint8_t *wanted)
{
    direct_read r = {s, t, {{0}, {0}, 0, 0}, p0, p1, buf, check, digest, H5I_INVALID_HID, H5I_INVALID_HID,
                     H5I_INVALID_HID, NULL, NULL, -1, wanted};
    /* The metadata is the same on every rank, and so is the verdict; agreeing on it keeps
     * the collective calls matched even when a rank's HDF5 call failed. */
    int direct = direct_geometry(s, t, &r.g), verdict = 0;
    if (rm_mpi_check(MPI_Allreduce(&direct, &verdict, 1, MPI_INT, MPI_MIN, s->comm), "MPI_Allreduce") != 0) return -1;
    if (verdict < 0) return rm_all_ok(s->comm, direct < 0 ? -1 : 0); /* the failing rank's message everywhere */
    if (verdict == 0) return store_transfer_rows(s, t, 0, p0, p1, buf, check, digest);
    return rm_all_ok(s->comm, p1 > p0 ? read_direct(&r) : 0);
}
