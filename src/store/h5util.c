/* Checked HDF5 helpers (see include/rmens/store/h5util.h). */
#define _GNU_SOURCE /* strcasestr, fallocate */
#include "rmens/store/h5util.h"
#include "rmens/base/common.h"
#include "rmens/kernels/precision.h"
#include "rmens/base/parallel.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void rm_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

void rm_h5_close_id(hid_t *id, herr_t (*closer)(hid_t))
{
    if (*id >= 0) closer(*id);
    *id = H5I_INVALID_HID;
}

/* HDF5's reason for the failure just seen (call before any other HDF5 call: each one
 * clears the stack). A full disk shows up several levels down, or only in errno (the
 * MPI-IO layer says "file write failed"): it is named with strerror(ENOSPC) so that
 * every verb reports it in the same words. A chunk failing its Fletcher-32 checksum is
 * flagged (the store then finds and names the chunk). */
typedef struct {
    char detail[256]; /* the innermost description */
    int no_space;
    int checksum;     /* some level blamed the Fletcher-32 checksum of a chunk */
} h5_reason;

static herr_t collect_reason(unsigned n, const H5E_error2_t *e, void *data)
{
    (void)n;
    h5_reason *r = data;
    if (!e->desc || !e->desc[0]) return 0;
    snprintf(r->detail, sizeof r->detail, "%s", e->desc);
    if (strstr(e->desc, "errno = 28") || strcasestr(e->desc, "no space") || strstr(e->desc, "MPI_ERR_NO_SPACE"))
        r->no_space = 1;
    if (strstr(e->desc, "Fletcher32")) r->checksum = 1; /* "data error detected by Fletcher32 checksum" */
    return 0;
}

/* Whether the file system holding loc's file has no block left: MPI-IO's collective
 * writes report only "file write failed" on the ranks whose own write(2) did not fail. */
static int disk_full(hid_t loc)
{
    char name[1100];
    ssize_t n = loc >= 0 ? H5Fget_name(loc, name, sizeof name) : -1;
    if (n <= 0 || (size_t)n >= sizeof name) return 0;
    char *slash = strrchr(name, '/');
    if (slash) *slash = '\0';
    else snprintf(name, sizeof name, ".");
    struct statvfs fs;
    return statvfs(slash && !name[0] ? "/" : name, &fs) == 0 && fs.f_bavail == 0;
}

static const char *take_reason(char *buf, size_t cap, hid_t loc, int *checksum)
{
    h5_reason r = {"", 0, 0};
    int saved = errno;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_reason, &r);
    H5Eclear2(H5E_DEFAULT);
    if (checksum) *checksum = r.checksum;
    if (!r.no_space && saved != ENOSPC && saved != EDQUOT && disk_full(loc)) r.no_space = 1;
    if (r.no_space || saved == ENOSPC || saved == EDQUOT) snprintf(buf, cap, "%s", strerror(saved == EDQUOT ? EDQUOT : ENOSPC));
    else if (r.detail[0]) snprintf(buf, cap, "%s", r.detail);
    else snprintf(buf, cap, "HDF5 gave no reason");
    return buf;
}

const char *rm_h5_reason(char *buf, size_t cap, hid_t loc) { return take_reason(buf, cap, loc, NULL); }

const char *rm_h5_reason_checksum(char *buf, size_t cap, hid_t loc, int *checksum)
{
    return take_reason(buf, cap, loc, checksum);
}

int rm_h5_fail(const char *file, const char *object, const char *call)
{
    char why[256];
    return rm_errorf("%s: %s: %s failed (%s)", file, object, call, take_reason(why, sizeof why, -1, NULL));
}

/* The files being written by rm_h5_atomic_create, with the communicator they were
 * opened on: a collective write into one of them is agreed on by all its ranks at once,
 * so that a rank that fails (a full disk fails the rank that writes, not the others)
 * never leaves its peers waiting in the next collective call. */
#define MAX_ATOMIC 8
static struct {
    char temp[1100];
    MPI_Comm comm;
} atomic_files[MAX_ATOMIC];

static MPI_Comm comm_of(hid_t loc)
{
    char name[1100];
    ssize_t n = H5Fget_name(loc, name, sizeof name);
    if (n <= 0 || (size_t)n >= sizeof name) return MPI_COMM_NULL;
    for (int i = 0; i < MAX_ATOMIC; i++)
        if (atomic_files[i].temp[0] && strcmp(atomic_files[i].temp, name) == 0) return atomic_files[i].comm;
    return MPI_COMM_NULL;
}

static void track_atomic(const char *temp, MPI_Comm comm)
{
    for (int i = 0; i < MAX_ATOMIC; i++)
        if (!atomic_files[i].temp[0]) {
            snprintf(atomic_files[i].temp, sizeof atomic_files[i].temp, "%s", temp);
            atomic_files[i].comm = comm;
            return;
        }
}

static void untrack_atomic(const char *temp)
{
    for (int i = 0; i < MAX_ATOMIC; i++)
        if (strcmp(atomic_files[i].temp, temp) == 0) atomic_files[i].temp[0] = '\0';
}

/* Rank 0: allocate the disk blocks of the whole file (HDF5's end of allocation: every
 * object and the metadata still in the cache have their addresses below it) before
 * H5Fclose writes the metadata. Parallel HDF5 1.10 is not consistent when a metadata
 * write fails inside H5Fclose: the rank that failed skips a barrier or a broadcast the
 * others wait in, forever. With the blocks allocated, a full disk (or quota) fails
 * here, where the ranks can agree, and the close cannot run out of space. */
static int reserve_space(const rm_h5_atomic *a)
{
    /* The end of file MPI-IO has written so far, plus the metadata cache (every entry
     * not yet written lies below HDF5's end of allocation, which 1.10 only reports for
     * SWMR drivers), plus a little for what the close itself allocates. */
    size_t max_size = 0, min_clean = 0, cur_size = 0;
    int n_entries = 0;
    if (H5Fget_mdc_size(a->file, &max_size, &min_clean, &cur_size, &n_entries) < 0) cur_size = 1 << 20;
    int fd = open(a->temp, O_WRONLY);
    if (fd < 0) return rm_errorf("%s: cannot open to reserve its space: %s", a->path, strerror(errno));
    struct stat st;
    off_t need = 0;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = rm_errorf("%s: cannot stat: %s", a->temp, strerror(errno));
        goto done;
    }
    need = st.st_size + (off_t)cur_size + 16384;
    /* KEEP_SIZE: HDF5 still sees its own end of file. File systems without fallocate
     * (EOPNOTSUPP) keep the old behaviour. */
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, need) != 0 && errno != EOPNOTSUPP && errno != ENOSYS)
        rc = rm_errorf("no room for its %.1f KiB: %s", (double)need / 1024.0, strerror(errno));
done:
    close(fd);
    return rc;
}

hid_t rm_h5_file_access(const char *path, MPI_Comm comm)
{
    rm_h5_quiet();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return rm_h5_fail(path, "/", "H5Pcreate");
    if (comm != MPI_COMM_NULL && H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) < 0) {
        int rc = rm_h5_fail(path, "/", "H5Pset_fapl_mpio"); /* before the close clears HDF5's stack */
        H5Pclose(fapl);
        return rc;
    }
    return fapl;
}

hid_t rm_h5_create_parallel(const char *path, MPI_Comm comm)
{
    hid_t fapl = rm_h5_file_access(path, comm);
    if (fapl < 0) return -1;
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) return rm_errorf("%s: cannot create HDF5 file (directory missing or not writable?)", path);
    return f;
}

hid_t rm_h5_open_read(const char *path, MPI_Comm comm)
{
    hid_t fapl = rm_h5_file_access(path, comm);
    if (fapl < 0) return -1;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0) return rm_errorf("%s: cannot open as an HDF5 file (missing, unreadable or not HDF5)", path);
    return f;
}

int rm_h5_atomic_create(rm_h5_atomic *a, const char *path, MPI_Comm comm)
{
    a->path = path;
    a->comm = comm;
    a->file = -1;
    a->temp = rm_temp_sibling(path, "partial");
    int rc = a->temp ? 0 : -1;
    if (rc == 0) {
        a->file = rm_h5_create_parallel(a->temp, comm);
        rc = a->file < 0 ? -1 : 0;
    }
    if (rm_all_ok(comm, rc) != 0) {
        if (a->file >= 0) H5Fclose(a->file);
        free(a->temp);
        a->temp = NULL;
        return rm_error_context("writing %s", path);
    }
    rm_register_temp_file(a->temp);
    track_atomic(a->temp, comm);
    return 0;
}

static int files_left_open = 0;
int rm_h5_files_left_open(void) { return files_left_open; }

int rm_h5_close(hid_t file, const char *path)
{
    if (H5Fclose(file) >= 0) return 0;
    char why[256];
    int rc = rm_errorf("%s: cannot close: %s", path, take_reason(why, sizeof why, -1, NULL));
    if (H5Iis_valid(file) > 0) files_left_open++;
    return rc;
}

int rm_h5_atomic_finish(rm_h5_atomic *a, int status)
{
    int rank;
    MPI_Comm_rank(a->comm, &rank);
    untrack_atomic(a->temp);
    if (status == 0 && rank == 0) status = reserve_space(a);
    /* Agreed before the (collective) close, so that every rank takes the same path. A
     * file that failed is not closed at all: H5Fclose would write its metadata, and
     * parallel HDF5 1.10 does not fail consistently when that does not fit (one rank
     * leaves a barrier the others wait in, forever). It is abandoned instead: rank 0
     * deletes it, and main() leaves without MPI_Finalize (whose HDF5 clean-up would try
     * the close again), see rm_h5_files_left_open. */
    int failed = rm_all_ok(a->comm, status) != 0;
    char why[256];
    if (failed) {
        files_left_open++;
        H5Eclear2(H5E_DEFAULT);
    } else if (H5Fclose(a->file) < 0) {
        /* Not expected once the blocks are reserved (a file system without fallocate). */
        status = rm_errorf("cannot close: %s", take_reason(why, sizeof why, -1, NULL));
        if (H5Iis_valid(a->file) > 0) files_left_open++;
    }
    int rc = rm_all_ok(a->comm, failed ? -1 : status);
    if (rc != 0) {
        if (rank == 0) unlink(a->temp);
        rm_error_context("writing %s", a->path);
    } else if (rank == 0 && rename(a->temp, a->path) != 0) {
        rc = rm_errorf("cannot rename %s to %s: %s", a->temp, a->path, strerror(errno));
        unlink(a->temp);
    } else if (rank == 0) {
        /* give back what reserve_space allocated past the end (best effort) */
        int fd = open(a->path, O_WRONLY);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0) (void)fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, st.st_size, (off_t)1 << 30);
        if (fd >= 0) close(fd);
    }
    rm_unregister_temp_file(a->temp);
    free(a->temp);
    a->temp = NULL;
    return rc == 0 ? rm_all_ok(a->comm, 0) : -1;
}

/* ---- attributes ---- */

/* The file's and the object's names for a message (after the reason is taken: these are
 * HDF5 calls too). A file handle stands for its root group. */
static void object_names(hid_t obj, char *file, size_t file_cap, char *object, size_t object_cap)
{
    if (H5Fget_name(obj, file, file_cap) <= 0) snprintf(file, file_cap, "(unnamed file)");
    if (H5Iget_type(obj) == H5I_FILE) snprintf(object, object_cap, "/");
    else if (H5Iget_name(obj, object, object_cap) <= 0) snprintf(object, object_cap, "(unnamed object)");
    H5Eclear2(H5E_DEFAULT);
}

/* "<file>: <object>: attribute '<name>': <call> failed (<reason>)" for a writer. */
static int attr_write_fail(hid_t obj, const char *name, const char *call)
{
    char why[256], file[1100], object[512];
    take_reason(why, sizeof why, obj, NULL);
    object_names(obj, file, sizeof file, object, sizeof object);
    return rm_errorf("%s: %s: attribute '%s': %s failed (%s)", file, object, name, call, why);
}

/* "<what>: attribute '<name>': <call> failed (<reason>)" for a reader. */
static int attr_read_fail(const char *what, const char *name, const char *call)
{
    char why[256];
    return rm_errorf("%s: attribute '%s': %s failed (%s)", what, name, call, take_reason(why, sizeof why, -1, NULL));
}

/* Create attribute `name` of obj (file_type over space) and write value (mem_type). */
static int write_attr(hid_t obj, const char *name, hid_t file_type, hid_t mem_type, hid_t space, const void *value)
{
    hid_t a = H5Acreate2(obj, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return attr_write_fail(obj, name, "H5Acreate2");
    if (H5Awrite(a, mem_type, value) < 0) {
        int rc = attr_write_fail(obj, name, "H5Awrite"); /* before the close clears HDF5's stack */
        H5Aclose(a);
        return rc;
    }
    if (H5Aclose(a) < 0) return attr_write_fail(obj, name, "H5Aclose");
    return 0;
}

/* Variable-length UTF-8 strings: what h5py returns as str. */
static hid_t vlen_string_type(hid_t obj, const char *name)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type < 0) return attr_write_fail(obj, name, "H5Tcopy");
    if (H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0) {
        int rc = attr_write_fail(obj, name, "H5Tset_size/H5Tset_cset");
        H5Tclose(type);
        return rc;
    }
    return type;
}

/* A scalar attribute of one value. */
static int write_scalar_attr(hid_t obj, const char *name, hid_t file_type, hid_t mem_type, const void *value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    if (space < 0) return attr_write_fail(obj, name, "H5Screate");
    int rc = write_attr(obj, name, file_type, mem_type, space, value);
    H5Sclose(space);
    return rc;
}

/* A 1-D attribute of n values (a null dataspace for none). */
static int write_array_attr(hid_t obj, const char *name, hid_t file_type, hid_t mem_type, const void *values, size_t n)
{
    hsize_t dim = n;
    hid_t space = n ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_NULL);
    if (space < 0) return attr_write_fail(obj, name, "H5Screate");
    int rc = write_attr(obj, name, file_type, mem_type, space, values);
    H5Sclose(space);
    return rc;
}

int rm_h5_attr_string(hid_t obj, const char *name, const char *value)
{
    hid_t type = vlen_string_type(obj, name);
    if (type < 0) return -1;
    int rc = write_scalar_attr(obj, name, type, type, &value);
    H5Tclose(type);
    return rc;
}

int rm_h5_attr_strings(hid_t obj, const char *name, const char *const *values, size_t n)
{
    hid_t type = vlen_string_type(obj, name);
    if (type < 0) return -1;
    int rc = write_array_attr(obj, name, type, type, values, n);
    H5Tclose(type);
    return rc;
}

int rm_h5_attr_int(hid_t obj, const char *name, long long value)
{
    return write_scalar_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, &value);
}

int rm_h5_attr_double(hid_t obj, const char *name, double value)
{
    return write_scalar_attr(obj, name, H5T_NATIVE_DOUBLE, H5T_NATIVE_DOUBLE, &value);
}

int rm_h5_attr_ints(hid_t obj, const char *name, const int *values, size_t n)
{
    return write_array_attr(obj, name, H5T_NATIVE_INT, H5T_NATIVE_INT, values, n);
}

int rm_h5_attr_remove(hid_t obj, const char *name)
{
    htri_t exists = H5Aexists(obj, name);
    if (exists < 0) return attr_write_fail(obj, name, "H5Aexists");
    if (exists && H5Adelete(obj, name) < 0) return attr_write_fail(obj, name, "H5Adelete");
    return 0;
}

int rm_h5_attrs_precision(hid_t obj)
{
    const rm_precision_info *precision = rm_precision_current();
    if (rm_h5_attr_string(obj, "precision", precision->precision) != 0) return -1;
    if (rm_h5_attr_string(obj, "precision_requested", precision->requested) != 0) return -1;
    if (rm_h5_attr_string(obj, "precision_reason", precision->reason) != 0) return -1;
    if (rm_h5_attr_string(obj, "matmul_kernel", precision->kernel) != 0) return -1;
    return rm_h5_attr_string(obj, "cpu", precision->cpu);
}

int rm_h5_attrs_provenance(hid_t obj, const char *format, long long format_version, const char *config_text,
                           const char *store_path, const char *store_uuid)
{
    if (rm_h5_attr_string(obj, "format", format) != 0) return -1;
    if (rm_h5_attr_int(obj, "format_version", format_version) != 0) return -1;
    if (rm_h5_attr_string(obj, "version", RMENS_VERSION) != 0) return -1;
    if (rm_h5_attr_string(obj, "config", config_text ? config_text : "") != 0) return -1;
    if (rm_h5_attr_string(obj, "store", store_path) != 0) return -1;
    return rm_h5_attr_string(obj, "store_uuid", store_uuid);
}

int rm_h5_attr_exists(hid_t obj, const char *name, const char *what)
{
    htri_t exists = H5Aexists(obj, name);
    if (exists < 0) return attr_read_fail(what, name, "H5Aexists");
    return exists > 0;
}

static hid_t open_attr(hid_t obj, const char *name, const char *what)
{
    int exists = rm_h5_attr_exists(obj, name, what);
    if (exists < 0) return -1;
    if (!exists) return rm_errorf("%s: attribute '%s' is missing", what, name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return attr_read_fail(what, name, "H5Aopen");
    return a;
}

/* An open string attribute with its type and dataspace (class checked: `kind` says what
 * it must be, for the message). */
static int open_string_attr(hid_t obj, const char *name, const char *what, const char *kind, hid_t *a, hid_t *ftype,
                            hid_t *space)
{
    *a = *ftype = *space = H5I_INVALID_HID;
    if ((*a = open_attr(obj, name, what)) < 0) return -1;
    if ((*ftype = H5Aget_type(*a)) < 0) return attr_read_fail(what, name, "H5Aget_type");
    if ((*space = H5Aget_space(*a)) < 0) return attr_read_fail(what, name, "H5Aget_space");
    H5T_class_t cls = H5Tget_class(*ftype);
    if (cls == H5T_NO_CLASS) return attr_read_fail(what, name, "H5Tget_class");
    if (cls != H5T_STRING) return rm_errorf("%s: attribute '%s' is not %s", what, name, kind);
    return 0;
}

/* Variable-length strings of open attribute a (n of them) as copies into values[]. */
static int read_vlen_strings(hid_t a, hid_t ftype, const char *name, size_t n, char **values, const char *what)
{
    int rc = -1;
    hsize_t dim = n;
    hid_t mtype = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    char **stored = rm_calloc(n, sizeof *stored, "attribute strings");
    if (!stored) return -1;
    if ((mtype = H5Tcopy(H5T_C_S1)) < 0) {
        attr_read_fail(what, name, "H5Tcopy");
        goto fail;
    }
    if (H5Tset_size(mtype, H5T_VARIABLE) < 0 || H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0) {
        attr_read_fail(what, name, "H5Tset_size/H5Tset_cset");
        goto fail;
    }
    if ((mspace = H5Screate_simple(1, &dim, NULL)) < 0) {
        attr_read_fail(what, name, "H5Screate_simple");
        goto fail;
    }
    if (H5Aread(a, mtype, stored) < 0) {
        attr_read_fail(what, name, "H5Aread");
        goto fail;
    }
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (!(values[i] = rm_strdup(stored[i] ? stored[i] : ""))) rc = -1;
    if (H5Dvlen_reclaim(mtype, mspace, H5P_DEFAULT, stored) < 0 && rc == 0) rc = attr_read_fail(what, name, "H5Dvlen_reclaim");
fail:
    free(stored);
    rm_h5_close_id(&mspace, H5Sclose);
    rm_h5_close_id(&mtype, H5Tclose);
    return rc;
}

/* Fixed-length strings of open attribute a (n of them) as copies into values[]: read as
 * stored, without conversion (any padding or character set), up to the first NUL. */
static int read_fixed_strings(hid_t a, hid_t ftype, const char *name, size_t n, char **values, const char *what)
{
    size_t size = H5Tget_size(ftype);
    if (size == 0) return attr_read_fail(what, name, "H5Tget_size");
    char *stored = rm_calloc(n * size + 1, 1, "attribute strings");
    if (!stored) return -1;
    int rc = 0;
    if (H5Aread(a, ftype, stored) < 0) rc = attr_read_fail(what, name, "H5Aread");
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t len = strnlen(stored + i * size, size);
        if (!(values[i] = rm_alloc(len + 1, 1, "attribute string"))) rc = -1;
        else memcpy(values[i], stored + i * size, len), values[i][len] = '\0';
    }
    free(stored);
    return rc;
}

/* The strings of string attribute `name` (scalar or 1-D, at most cap of them; cap 0: exactly
 * one, a single string) as copies: *values (n of them) to free with free_strings. */
static int read_strings(hid_t obj, const char *name, size_t cap, char ***values, size_t *n, const char *what)
{
    const char *kind = cap ? "a list of strings" : "a string";
    *values = NULL;
    *n = 0;
    hid_t a, ftype, space;
    int rc = -1;
    if (open_string_attr(obj, name, what, kind, &a, &ftype, &space) != 0) goto fail;
    hssize_t count = H5Sget_simple_extent_npoints(space);
    if (count < 0) {
        attr_read_fail(what, name, "H5Sget_simple_extent_npoints");
        goto fail;
    }
    if (!cap && count != 1) {
        rm_errorf("%s: attribute '%s' must be a single string", what, name);
        goto fail;
    }
    if (cap && (size_t)count > cap) {
        rm_errorf("%s: attribute '%s' has %lld strings, expected at most %zu", what, name, (long long)count, cap);
        goto fail;
    }
    htri_t variable = H5Tis_variable_str(ftype);
    if (variable < 0) {
        attr_read_fail(what, name, "H5Tis_variable_str");
        goto fail;
    }
    if (count == 0) {
        rc = 0;
        goto fail;
    }
    if (!(*values = rm_calloc((size_t)count, sizeof **values, "attribute strings"))) goto fail;
    *n = (size_t)count;
    rc = variable ? read_vlen_strings(a, ftype, name, *n, *values, what) : read_fixed_strings(a, ftype, name, *n, *values, what);
fail:
    rm_h5_close_id(&space, H5Sclose);
    rm_h5_close_id(&ftype, H5Tclose);
    rm_h5_close_id(&a, H5Aclose);
    return rc;
}

static void free_strings(char **values, size_t n)
{
    for (size_t i = 0; values && i < n; i++) free(values[i]);
    free(values);
}

int rm_h5_read_attr_string_alloc(hid_t obj, const char *name, char **out, const char *what)
{
    *out = NULL;
    char **values = NULL;
    size_t n = 0;
    int rc = read_strings(obj, name, 0, &values, &n, what);
    if (rc == 0) {
        *out = values[0];
        values[0] = NULL;
    }
    free_strings(values, n);
    return rc;
}

int rm_h5_read_attr_string(hid_t obj, const char *name, char *out, size_t cap, const char *what)
{
    char *value = NULL;
    if (rm_h5_read_attr_string_alloc(obj, name, &value, what) != 0) return -1;
    int rc = 0;
    if (strlen(value) >= cap) rc = rm_errorf("%s: attribute '%s' is too long", what, name);
    else memcpy(out, value, strlen(value) + 1);
    free(value);
    return rc;
}

int rm_h5_read_attr_strings(hid_t obj, const char *name, char *out, size_t width, size_t cap, size_t *n,
                            const char *what)
{
    char **values = NULL;
    size_t count = 0;
    *n = 0;
    if (cap == 0) return rm_errorf("%s: attribute '%s': no room for its strings", what, name);
    int rc = read_strings(obj, name, cap, &values, &count, what);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        if (strlen(values[i]) >= width)
            rc = rm_errorf("%s: attribute '%s': string %zu is too long (at most %zu bytes)", what, name, i, width - 1);
        else memcpy(out + i * width, values[i], strlen(values[i]) + 1);
    }
    if (rc == 0) *n = count;
    free_strings(values, count);
    return rc;
}

/* A numeric attribute into out (mtype): at most cap values (*n gets the count), or exactly
 * one when n is NULL; integer_only refuses float types. */
static int read_numeric_attr(hid_t obj, const char *name, hid_t mtype, int integer_only, void *out, size_t cap, size_t *n,
                             const char *what)
{
    hid_t ftype = H5I_INVALID_HID, space = H5I_INVALID_HID, a = open_attr(obj, name, what);
    int rc = -1;
    if (a < 0) return -1;
    if ((ftype = H5Aget_type(a)) < 0) {
        attr_read_fail(what, name, "H5Aget_type");
        goto fail;
    }
    if ((space = H5Aget_space(a)) < 0) {
        attr_read_fail(what, name, "H5Aget_space");
        goto fail;
    }
    H5T_class_t cls = H5Tget_class(ftype);
    hssize_t count = H5Sget_simple_extent_npoints(space);
    if (cls == H5T_NO_CLASS || count < 0) {
        attr_read_fail(what, name, cls == H5T_NO_CLASS ? "H5Tget_class" : "H5Sget_simple_extent_npoints");
        goto fail;
    }
    if (integer_only && cls != H5T_INTEGER) {
        rm_errorf("%s: attribute '%s' is not an integer", what, name);
        goto fail;
    }
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
        rm_errorf("%s: attribute '%s' is not numeric", what, name);
        goto fail;
    }
    if (!n && count != 1) {
        rm_errorf("%s: attribute '%s' must be a single value", what, name);
        goto fail;
    }
    if (!cap && count != 1) {
        rm_errorf("%s: attribute '%s' must be a single string", what, name);
        goto fail;
    }
    if (cap && (size_t)count > cap) {
        rm_errorf("%s: attribute '%s' has %lld values, expected at most %zu", what, name, (long long)count, cap);
        goto fail;
    }
    if (count > 0 && H5Aread(a, mtype, out) < 0) {
        attr_read_fail(what, name, "H5Aread");
        goto fail;
    }
    if (n) *n = (size_t)count;
    rc = 0;
fail:
    rm_h5_close_id(&space, H5Sclose);
    rm_h5_close_id(&ftype, H5Tclose);
    rm_h5_close_id(&a, H5Aclose);
    return rc;
}

int rm_h5_read_attr_int(hid_t obj, const char *name, long long *out, const char *what)
{
    return read_numeric_attr(obj, name, H5T_NATIVE_LLONG, 0, out, 1, NULL, what);
}

int rm_h5_read_attr_int_exact(hid_t obj, const char *name, long long *out, const char *what)
{
    return read_numeric_attr(obj, name, H5T_NATIVE_LLONG, 1, out, 1, NULL, what);
}

int rm_h5_read_attr_double(hid_t obj, const char *name, double *out, const char *what)
{
    return read_numeric_attr(obj, name, H5T_NATIVE_DOUBLE, 0, out, 1, NULL, what);
}

int rm_h5_read_attr_ints(hid_t obj, const char *name, int *out, size_t cap, size_t *n, const char *what)
{
    return read_numeric_attr(obj, name, H5T_NATIVE_INT, 0, out, cap, n, what);
}

/* ---- datasets ---- */

/* "<what>: dataset '<name>': <call> failed (<reason>)"; loc: for a full disk (writes). */
static int dataset_fail(const char *what, const char *name, const char *call, hid_t loc)
{
    char why[256];
    return rm_errorf("%s: dataset '%s': %s failed (%s)", what, name, call, take_reason(why, sizeof why, loc, NULL));
}

int rm_h5_write_dataset(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank,
                        const hsize_t *dims, const void *data, int writer, int collective, const char *what)
{
    hid_t space = H5Screate_simple(rank, dims, NULL), d = H5I_INVALID_HID, dxpl = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    if (space < 0) return dataset_fail(what, name, "H5Screate_simple", -1);
    int rc = 0;
    d = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d < 0) {
        rc = dataset_fail(what, name, "H5Dcreate2", loc);
        goto done;
    }
    if ((dxpl = H5Pcreate(H5P_DATASET_XFER)) < 0 ||
        (collective && H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0)) {
        rc = dataset_fail(what, name, dxpl < 0 ? "H5Pcreate" : "H5Pset_dxpl_mpio", -1);
        goto done;
    }
    if (writer) {
        if (H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, dxpl, data) < 0) rc = dataset_fail(what, name, "H5Dwrite", loc);
    } else if (collective) {
        /* Collective transfers need every rank; the others select nothing. */
        if (H5Sselect_none(space) < 0 || (mspace = H5Scopy(space)) < 0) rc = dataset_fail(what, name, "H5Sselect_none", -1);
        else if (H5Dwrite(d, mem_type, mspace, space, dxpl, data) < 0) rc = dataset_fail(what, name, "H5Dwrite", loc);
    }
done:
    rm_h5_close_id(&mspace, H5Sclose);
    rm_h5_close_id(&dxpl, H5Pclose);
    rm_h5_close_id(&d, H5Dclose);
    rm_h5_close_id(&space, H5Sclose);
    if (collective) {
        MPI_Comm comm = comm_of(loc);
        if (comm != MPI_COMM_NULL) rc = rm_all_ok(comm, rc);
    }
    return rc;
}

int rm_h5_read_dataset(hid_t loc, const char *name, hid_t mem_type, int rank, const hsize_t *dims, void *out, const char *what)
{
    htri_t exists = H5Lexists(loc, name, H5P_DEFAULT);
    if (exists < 0) return dataset_fail(what, name, "H5Lexists", -1);
    if (!exists) return rm_errorf("%s: dataset '%s' is missing", what, name);
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT), space = H5I_INVALID_HID;
    if (d < 0) return dataset_fail(what, name, "H5Dopen2", -1);
    int rc = -1;
    if ((space = H5Dget_space(d)) < 0) {
        dataset_fail(what, name, "H5Dget_space", -1);
        goto fail;
    }
    hsize_t got[8] = {0};
    int got_rank = H5Sget_simple_extent_ndims(space);
    if (got_rank < 0) {
        dataset_fail(what, name, "H5Sget_simple_extent_ndims", -1);
        goto fail;
    }
    if (got_rank != rank || got_rank > 8) {
        rm_errorf("%s: dataset '%s' has rank %d, expected %d", what, name, got_rank, rank);
        goto fail;
    }
    if (H5Sget_simple_extent_dims(space, got, NULL) < 0) {
        dataset_fail(what, name, "H5Sget_simple_extent_dims", -1);
        goto fail;
    }
    for (int i = 0; i < rank; i++)
        if (got[i] != dims[i]) {
            rm_errorf("%s: dataset '%s' dimension %d is %llu, expected %llu", what, name, i, (unsigned long long)got[i],
                      (unsigned long long)dims[i]);
            goto fail;
        }
    if (H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) {
        dataset_fail(what, name, "H5Dread", -1);
        goto fail;
    }
    rc = 0;
fail:
    rm_h5_close_id(&space, H5Sclose);
    rm_h5_close_id(&d, H5Dclose);
    return rc;
}
