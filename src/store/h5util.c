/* Checked HDF5 helpers (see include/rmens/h5util.h). */
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

/* HDF5's reason for the failure just seen (call before any other HDF5 call: each one
 * clears the stack). A full disk shows up several levels down, or only in errno (the
 * MPI-IO layer says "file write failed"): it is named with strerror(ENOSPC) so that
 * every verb reports it in the same words. */
typedef struct {
    char detail[200];
    int no_space;
} h5_reason;

static herr_t collect_reason(unsigned n, const H5E_error2_t *e, void *data)
{
    (void)n;
    h5_reason *r = data;
    if (!e->desc || !e->desc[0]) return 0;
    snprintf(r->detail, sizeof r->detail, "%s", e->desc);
    if (strstr(e->desc, "errno = 28") || strcasestr(e->desc, "no space") || strstr(e->desc, "MPI_ERR_NO_SPACE"))
        r->no_space = 1;
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

static const char *take_reason(char *buf, size_t cap, hid_t loc)
{
    h5_reason r = {"", 0};
    int saved = errno;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_reason, &r);
    H5Eclear2(H5E_DEFAULT);
    if (!r.no_space && saved != ENOSPC && saved != EDQUOT && disk_full(loc)) r.no_space = 1;
    if (r.no_space || saved == ENOSPC || saved == EDQUOT) snprintf(buf, cap, "%s", strerror(saved == EDQUOT ? EDQUOT : ENOSPC));
    else if (r.detail[0]) snprintf(buf, cap, "%s", r.detail);
    else snprintf(buf, cap, "HDF5 gave no reason");
    return buf;
}

const char *rm_h5_reason(char *buf, size_t cap, hid_t loc) { return take_reason(buf, cap, loc); }

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
    int rc = 0;
    if (fstat(fd, &st) != 0) rc = rm_errorf("%s: cannot stat: %s", a->temp, strerror(errno));
    off_t need = rc == 0 ? st.st_size + (off_t)cur_size + 16384 : 0;
    /* KEEP_SIZE: HDF5 still sees its own end of file. File systems without fallocate
     * (EOPNOTSUPP) keep the old behaviour. */
    if (rc == 0 && fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, need) != 0 && errno != EOPNOTSUPP && errno != ENOSYS)
        rc = rm_errorf("no room for its %.1f KiB: %s", (double)need / 1024.0, strerror(errno));
    close(fd);
    return rc;
}

/* File access properties: MPI-IO on comm, or HDF5's default (serial) driver for MPI_COMM_NULL. */
static hid_t file_access(const char *path, MPI_Comm comm)
{
    rm_h5_quiet();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return rm_errorf("%s: H5Pcreate failed", path);
    if (comm != MPI_COMM_NULL && H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) < 0) {
        H5Pclose(fapl);
        return rm_errorf("%s: cannot set the MPI-IO driver", path);
    }
    return fapl;
}

hid_t rm_h5_create_parallel(const char *path, MPI_Comm comm)
{
    hid_t fapl = file_access(path, comm);
    if (fapl < 0) return -1;
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (f < 0) return rm_errorf("%s: cannot create HDF5 file (directory missing or not writable?)", path);
    return f;
}

hid_t rm_h5_open_read(const char *path, MPI_Comm comm)
{
    hid_t fapl = file_access(path, comm);
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
    int rc = rm_errorf("%s: cannot close: %s", path, take_reason(why, sizeof why, -1));
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
        status = rm_errorf("cannot close: %s", take_reason(why, sizeof why, -1));
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

static int write_attr(hid_t obj, const char *name, hid_t type, hid_t space, const void *value)
{
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return rm_errorf("cannot create attribute '%s'", name);
    herr_t rc = H5Awrite(a, type, value);
    H5Aclose(a);
    if (rc < 0) return rm_errorf("cannot write attribute '%s'", name);
    return 0;
}

int rm_h5_attr_string(hid_t obj, const char *name, const char *value)
{
    /* Variable-length UTF-8 strings: what h5py returns as str. */
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    hid_t space = H5Screate(H5S_SCALAR);
    int rc = write_attr(obj, name, type, space, &value);
    H5Sclose(space);
    H5Tclose(type);
    return rc;
}

int rm_h5_attr_int(hid_t obj, const char *name, long long value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    int rc = write_attr(obj, name, H5T_NATIVE_LLONG, space, &value);
    H5Sclose(space);
    return rc;
}

int rm_h5_attr_double(hid_t obj, const char *name, double value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    int rc = write_attr(obj, name, H5T_NATIVE_DOUBLE, space, &value);
    H5Sclose(space);
    return rc;
}

int rm_h5_attr_ints(hid_t obj, const char *name, const int *values, size_t n)
{
    hsize_t dim = n;
    hid_t space = n ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_NULL);
    int rc = write_attr(obj, name, H5T_NATIVE_INT, space, values);
    H5Sclose(space);
    return rc;
}

int rm_h5_attrs_precision(hid_t obj)
{
    const rm_precision_info *precision = rm_precision_current();
    int rc = rm_h5_attr_string(obj, "precision", precision->precision);
    if (rc == 0) rc = rm_h5_attr_string(obj, "precision_requested", precision->requested);
    if (rc == 0) rc = rm_h5_attr_string(obj, "matmul_kernel", precision->kernel);
    if (rc == 0) rc = rm_h5_attr_string(obj, "cpu", precision->cpu);
    return rc;
}

int rm_h5_attrs_provenance(hid_t obj, const char *format, long long format_version, const char *config_text,
                           const char *store_path, const char *store_uuid)
{
    int rc = rm_h5_attr_string(obj, "format", format);
    if (rc == 0) rc = rm_h5_attr_int(obj, "format_version", format_version);
    if (rc == 0) rc = rm_h5_attr_string(obj, "version", RMENS_VERSION);
    if (rc == 0) rc = rm_h5_attr_string(obj, "config", config_text ? config_text : "");
    if (rc == 0) rc = rm_h5_attr_string(obj, "store", store_path);
    if (rc == 0) rc = rm_h5_attr_string(obj, "store_uuid", store_uuid);
    return rc;
}

static hid_t open_attr(hid_t obj, const char *name, const char *what)
{
    if (H5Aexists(obj, name) <= 0) return rm_errorf("%s: attribute '%s' is missing", what, name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return rm_errorf("%s: cannot open attribute '%s'", what, name);
    return a;
}

int rm_h5_read_attr_string_alloc(hid_t obj, const char *name, char **out, const char *what)
{
    *out = NULL;
    hid_t a = open_attr(obj, name, what);
    if (a < 0) return -1;
    hid_t ftype = H5Aget_type(a);
    int rc = -1;
    if (H5Tget_class(ftype) != H5T_STRING) {
        rm_errorf("%s: attribute '%s' is not a string", what, name);
    } else if (H5Tis_variable_str(ftype) > 0) {
        hid_t mtype = H5Tcopy(H5T_C_S1);
        H5Tset_size(mtype, H5T_VARIABLE);
        H5Tset_cset(mtype, H5Tget_cset(ftype));
        char *value = NULL;
        if (H5Aread(a, mtype, &value) >= 0 && value) {
            *out = rm_strdup(value);
            H5free_memory(value);
            rc = *out ? 0 : -1;
        } else {
            rm_errorf("%s: cannot read attribute '%s'", what, name);
        }
        H5Tclose(mtype);
    } else {
        size_t size = H5Tget_size(ftype);
        char *value = rm_calloc(size + 1, 1, "attribute");
        hid_t mtype = H5Tcopy(H5T_C_S1);
        H5Tset_size(mtype, size + 1);
        if (value && H5Aread(a, mtype, value) >= 0) {
            *out = value;
            rc = 0;
        } else {
            free(value);
            rm_errorf("%s: cannot read attribute '%s'", what, name);
        }
        H5Tclose(mtype);
    }
    H5Tclose(ftype);
    H5Aclose(a);
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

static int read_numeric_attr(hid_t obj, const char *name, hid_t mtype, void *out, size_t cap, size_t *n, const char *what)
{
    hid_t a = open_attr(obj, name, what);
    if (a < 0) return -1;
    hid_t ftype = H5Aget_type(a);
    hid_t space = H5Aget_space(a);
    H5T_class_t cls = H5Tget_class(ftype);
    hssize_t count = H5Sget_simple_extent_npoints(space);
    int rc = 0;
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) rc = rm_errorf("%s: attribute '%s' is not numeric", what, name);
    else if (count < 0 || (size_t)count > cap) rc = rm_errorf("%s: attribute '%s' has %lld values, expected at most %zu", what, name, (long long)count, cap);
    else if (count > 0 && H5Aread(a, mtype, out) < 0) rc = rm_errorf("%s: cannot read attribute '%s'", what, name);
    if (rc == 0 && n) *n = (size_t)count;
    if (rc == 0 && !n && count != 1) rc = rm_errorf("%s: attribute '%s' must be a single value", what, name);
    H5Sclose(space);
    H5Tclose(ftype);
    H5Aclose(a);
    return rc;
}

int rm_h5_read_attr_int(hid_t obj, const char *name, long long *out, const char *what)
{
    return read_numeric_attr(obj, name, H5T_NATIVE_LLONG, out, 1, NULL, what);
}

int rm_h5_read_attr_double(hid_t obj, const char *name, double *out, const char *what)
{
    return read_numeric_attr(obj, name, H5T_NATIVE_DOUBLE, out, 1, NULL, what);
}

int rm_h5_read_attr_ints(hid_t obj, const char *name, int *out, size_t cap, size_t *n, const char *what)
{
    return read_numeric_attr(obj, name, H5T_NATIVE_INT, out, cap, n, what);
}

int rm_h5_write_dataset(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank,
                        const hsize_t *dims, const void *data, int writer, int collective, const char *what)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    if (space < 0) return rm_errorf("%s: cannot create dataspace for '%s'", what, name);
    hid_t d = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d < 0) {
        H5Sclose(space);
        return rm_errorf("%s: cannot create dataset '%s'", what, name);
    }
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (collective) H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    int rc = 0;
    char why[256];
    if (writer) {
        if (H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, dxpl, data) < 0)
            rc = rm_errorf("%s: cannot write dataset '%s': %s", what, name, take_reason(why, sizeof why, loc));
    } else if (collective) {
        /* Collective transfers need every rank; the others select nothing. */
        H5Sselect_none(space);
        hid_t mspace = H5Scopy(space);
        if (H5Dwrite(d, mem_type, mspace, space, dxpl, data) < 0)
            rc = rm_errorf("%s: cannot write dataset '%s': %s", what, name, take_reason(why, sizeof why, loc));
        H5Sclose(mspace);
    }
    H5Pclose(dxpl);
    H5Dclose(d);
    H5Sclose(space);
    if (collective) {
        MPI_Comm comm = comm_of(loc);
        if (comm != MPI_COMM_NULL) rc = rm_all_ok(comm, rc);
    }
    return rc;
}

int rm_h5_read_dataset(hid_t loc, const char *name, hid_t mem_type, int rank, const hsize_t *dims, void *out, const char *what)
{
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return rm_errorf("%s: dataset '%s' is missing", what, name);
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return rm_errorf("%s: cannot open dataset '%s'", what, name);
    hid_t space = H5Dget_space(d);
    hsize_t got[8] = {0};
    int got_rank = H5Sget_simple_extent_ndims(space);
    int rc = 0;
    if (got_rank != rank || got_rank > 8) {
        rc = rm_errorf("%s: dataset '%s' has rank %d, expected %d", what, name, got_rank, rank);
    } else {
        H5Sget_simple_extent_dims(space, got, NULL);
        for (int i = 0; i < rank && rc == 0; i++)
            if (got[i] != dims[i])
                rc = rm_errorf("%s: dataset '%s' dimension %d is %llu, expected %llu", what, name, i,
                               (unsigned long long)got[i], (unsigned long long)dims[i]);
    }
    if (rc == 0 && H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        rc = rm_errorf("%s: cannot read dataset '%s'", what, name);
    H5Sclose(space);
    H5Dclose(d);
    return rc;
}
