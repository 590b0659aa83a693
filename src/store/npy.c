/* Strict .npy reader (see include/rmens/store/npy.h). */
#include "rmens/store/npy.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rmens/base/common.h"
#include "rmens/store/store.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "rmens reads little-endian .npy data in place: a big-endian host needs byte swapping here"
#endif

#define NPY_MAX_HEADER ((size_t)1 << 20)
#define NPY_SCRATCH_BYTES ((size_t)4 << 20)

/* ---- a tiny parser for the header's Python dict literal ---- */

typedef struct {
    const char *p, *end;
} cursor;

static void skip_space(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t')) c->p++;
}

static int expect_char(cursor *c, char ch)
{
    skip_space(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string ('...' or "...") without escapes; 0 on failure. */
static int parse_string(cursor *c, char *out, size_t n)
{
    skip_space(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    char quote = *c->p++;
    const char *start = c->p;
    while (c->p < c->end && *c->p != quote && *c->p != '\\') c->p++;
    if (c->p >= c->end || *c->p != quote || (size_t)(c->p - start) >= n) return 0;
    snprintf(out, n, "%.*s", (int)(c->p - start), start);
    c->p++;
    return 1;
}

static int parse_word(cursor *c, const char *word)
{
    skip_space(c);
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || strncmp(c->p, word, n) != 0) return 0;
    c->p += n;
    return 1;
}

static int parse_size(cursor *c, size_t *out)
{
    skip_space(c);
    if (c->p >= c->end || !isdigit((unsigned char)*c->p)) return 0;
    size_t v = 0;
    while (c->p < c->end && isdigit((unsigned char)*c->p)) {
        size_t digit = (size_t)(*c->p - '0');
        if (v > (SIZE_MAX - digit) / 10) return 0;
        v = v * 10 + digit;
        c->p++;
    }
    if (c->p < c->end && *c->p == 'L') c->p++; /* Python 2 longs in old files */
    *out = v;
    return 1;
}

/* "(a, b, c)" with an optional trailing comma; "()" is a 0-d array. */
static int parse_shape(cursor *c, rm_npy *f)
{
    if (!expect_char(c, '(')) return 0;
    f->ndim = 0;
    if (expect_char(c, ')')) return 1;
    for (;;) {
        if (f->ndim == RM_NPY_MAX_DIMS || !parse_size(c, &f->shape[f->ndim])) return 0;
        f->ndim++;
        if (expect_char(c, ')')) return f->ndim > 1; /* "(3)" is an int, not a tuple */
        if (!expect_char(c, ',')) return 0;
        if (expect_char(c, ')')) return 1;
    }
}

static int parse_header(rm_npy *f, const char *text, size_t len)
{
    if (len == 0 || text[len - 1] != '\n') return rm_errorf("%s: malformed .npy header (does not end in a newline)", f->path);
    cursor c = {text, text + len - 1};
    if (!expect_char(&c, '{')) return rm_errorf("%s: malformed .npy header (not a dict literal)", f->path);
    int have_descr = 0, have_order = 0, have_shape = 0, fortran = 0;
    while (!expect_char(&c, '}')) {
        char key[32];
        if (!parse_string(&c, key, sizeof key) || !expect_char(&c, ':'))
            return rm_errorf("%s: malformed .npy header near '%.20s'", f->path, c.p);
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if (!parse_string(&c, f->descr, sizeof f->descr))
                return rm_errorf("%s: unsupported dtype (descr is not a simple type string, e.g. a structured array)", f->path);
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !have_order) {
            if (parse_word(&c, "True")) fortran = 1;
            else if (!parse_word(&c, "False")) return rm_errorf("%s: malformed .npy header (fortran_order)", f->path);
            have_order = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if (!parse_shape(&c, f)) return rm_errorf("%s: malformed .npy header (shape)", f->path);
            have_shape = 1;
        } else {
            return rm_errorf("%s: malformed .npy header (unexpected or repeated key '%s')", f->path, key);
        }
        if (!expect_char(&c, ',')) {
            if (expect_char(&c, '}')) break;
            return rm_errorf("%s: malformed .npy header near '%.20s'", f->path, c.p);
        }
    }
    skip_space(&c);
    if (c.p != c.end) return rm_errorf("%s: malformed .npy header (text after the dict)", f->path);
    if (!have_descr || !have_order || !have_shape)
        return rm_errorf("%s: malformed .npy header (missing '%s')", f->path,
                         !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    if (fortran) return rm_errorf("%s: Fortran-ordered array (rmens needs C order: np.ascontiguousarray)", f->path);
    if (strcmp(f->descr, "<f4") == 0) f->dtype = RM_NPY_FLOAT32;
    else if (strcmp(f->descr, "<f2") == 0) f->dtype = RM_NPY_FLOAT16;
    else if (strcmp(f->descr, "<f8") == 0) f->dtype = RM_NPY_FLOAT64;
    else if (strcmp(f->descr, "<i8") == 0) f->dtype = RM_NPY_FLOAT64, f->integer = 1; /* 8-byte items */
    else return rm_errorf("%s: unsupported dtype '%s' (expected little-endian float: '<f4', '<f2' or '<f8'; '<i8' for group ids)",
                          f->path, f->descr);
    return 0;
}

static int read_exact(rm_npy *f, void *buf, size_t n, size_t offset, const char *what)
{
    char *p = buf;
    while (n > 0) {
        ssize_t got = pread(f->fd, p, n, (off_t)offset);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return rm_errorf("%s: read error in %s: %s", f->path, what, strerror(errno));
        if (got == 0) return rm_errorf("%s: truncated (%s ends early at byte %zu)", f->path, what, offset);
        p += got;
        n -= (size_t)got;
        offset += (size_t)got;
    }
    return 0;
}

static int npy_open_checked(rm_npy *f, const char *path)
{
    if (strlen(path) >= sizeof f->path) return rm_errorf("path too long: %s", path);
    snprintf(f->path, sizeof f->path, "%s", path);
    f->fd = open(path, O_RDONLY);
    if (f->fd < 0) return rm_errorf("%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(f->fd, &st) != 0) return rm_errorf("%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return rm_errorf("%s: not a regular file", path);
    f->file_size = (size_t)st.st_size;

    unsigned char prefix[12];
    if (f->file_size < 10) return rm_errorf("%s: not a .npy file (truncated: %zu bytes)", path, f->file_size);
    if (read_exact(f, prefix, 10, 0, "the .npy magic") != 0) return -1;
    if (memcmp(prefix, "\x93NUMPY", 6) != 0) return rm_errorf("%s: not a .npy file (bad magic)", path);
    if (prefix[6] < 1 || prefix[6] > 3 || prefix[7] != 0)
        return rm_errorf("%s: unsupported .npy version %u.%u (expected 1.0, 2.0 or 3.0)", path, prefix[6], prefix[7]);
    f->version = prefix[6];
    size_t header_len, header_start;
    if (f->version == 1) {
        header_len = (size_t)prefix[8] | (size_t)prefix[9] << 8;
        header_start = 10;
    } else {
        if (f->file_size < 12 || read_exact(f, prefix + 10, 2, 10, "the .npy header length") != 0)
            return rm_errorf("%s: truncated .npy header", path);
        header_len = (size_t)prefix[8] | (size_t)prefix[9] << 8 | (size_t)prefix[10] << 16 | (size_t)prefix[11] << 24;
        header_start = 12;
    }
    if (header_len > NPY_MAX_HEADER) return rm_errorf("%s: malformed .npy header (length %zu)", path, header_len);
    if (header_start + header_len > f->file_size) return rm_errorf("%s: truncated .npy header", path);
    char *header = rm_alloc(header_len + 1, 1, ".npy header");
    if (!header) return -1;
    int rc = read_exact(f, header, header_len, header_start, "the .npy header");
    if (rc == 0) {
        header[header_len] = '\0';
        if (strlen(header) != header_len) rc = rm_errorf("%s: malformed .npy header (NUL byte)", path);
    }
    if (rc == 0) rc = parse_header(f, header, header_len);
    free(header);
    if (rc != 0) return -1;

    f->data_offset = header_start + header_len;
    f->n_items = 1;
    for (int i = 0; i < f->ndim; i++)
        if (rm_size_mul(f->n_items, f->shape[i], &f->n_items, path) != 0) return -1;
    size_t data_bytes;
    if (rm_size_mul(f->n_items, (size_t)f->dtype, &data_bytes, path) != 0) return -1;
    size_t expected = f->data_offset + data_bytes;
    char shape[128];
    if (f->file_size < expected)
        return rm_errorf("%s: truncated: shape %s of %s needs %zu bytes, the file has %zu", path,
                         rm_npy_shape_string(f, shape, sizeof shape), f->descr, expected, f->file_size);
    if (f->file_size > expected)
        return rm_errorf("%s: %zu unexpected bytes after the data of shape %s (%s)", path, f->file_size - expected,
                         rm_npy_shape_string(f, shape, sizeof shape), f->descr);
    return 0;
}

int rm_npy_open(rm_npy *f, const char *path)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (npy_open_checked(f, path) != 0) {
        rm_npy_close(f);
        return -1;
    }
    return 0;
}

void rm_npy_close(rm_npy *f)
{
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    free(f->scratch);
    f->scratch = NULL;
    f->scratch_items = 0;
}

const char *rm_npy_shape_string(const rm_npy *f, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < f->ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%zu", i ? ", " : "", f->shape[i]);
    if (used < n) snprintf(buf + used, n - used, f->ndim == 1 ? ",)" : ")");
    return buf;
}

int rm_npy_read_int64(rm_npy *f, size_t first, size_t count, int64_t *out)
{
    if (!f->integer) return rm_errorf("%s: dtype '%s': expected int64 ('<i8') group ids", f->path, f->descr);
    if (first > f->n_items || count > f->n_items - first)
        return rm_errorf("%s: read of items [%zu, %zu) past the end (%zu items)", f->path, first, first + count, f->n_items);
    return read_exact(f, out, count * 8, f->data_offset + first * 8, "the data");
}

int rm_npy_read_floats(rm_npy *f, size_t first, size_t count, float *out)
{
    if (f->integer) return rm_errorf("%s: dtype '%s': expected floats", f->path, f->descr);
    if (first > f->n_items || count > f->n_items - first)
        return rm_errorf("%s: read of items [%zu, %zu) past the end (%zu items)", f->path, first, first + count, f->n_items);
    size_t item = (size_t)f->dtype;
    if (f->dtype == RM_NPY_FLOAT32) return read_exact(f, out, count * item, f->data_offset + first * item, "the data");
    /* Other types go through a bounded scratch buffer and are converted piece by piece. */
    if (!f->scratch) {
        f->scratch_items = NPY_SCRATCH_BYTES / item;
        f->scratch = rm_alloc(f->scratch_items, item, ".npy conversion buffer");
        if (!f->scratch) return -1;
    }
    for (size_t done = 0; done < count;) {
        size_t n = count - done < f->scratch_items ? count - done : f->scratch_items;
        if (read_exact(f, f->scratch, n * item, f->data_offset + (first + done) * item, "the data") != 0) return -1;
        if (f->dtype == RM_NPY_FLOAT16) {
            rm_half_to_float(f->scratch, out + done, n);
        } else {
            const double *d = f->scratch;
            for (size_t i = 0; i < n; i++) out[done + i] = (float)d[i];
        }
        done += n;
    }
    return 0;
}
