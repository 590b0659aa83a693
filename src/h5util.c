/* Checked HDF5 helpers (see include/rmens/h5util.h). */
#include "rmens/h5util.h"
#include "rmens/common.h"
#include "rmens/parallel.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void rm_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

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
    return 0;
}

int rm_h5_atomic_finish(rm_h5_atomic *a, int status)
{
    int rank;
    MPI_Comm_rank(a->comm, &rank);
    if (H5Fclose(a->file) < 0 && status == 0) status = rm_errorf("%s: cannot close", a->temp);
    int rc = rm_all_ok(a->comm, status);
    if (rc != 0) {
        if (rank == 0) unlink(a->temp);
        rm_error_context("writing %s", a->path);
    } else if (rank == 0 && rename(a->temp, a->path) != 0) {
        rc = rm_errorf("cannot rename %s to %s", a->temp, a->path);
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
    if (writer) {
        if (H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, dxpl, data) < 0) rc = rm_errorf("%s: cannot write dataset '%s'", what, name);
    } else if (collective) {
        /* Collective transfers need every rank; the others select nothing. */
        H5Sselect_none(space);
        hid_t mspace = H5Scopy(space);
        if (H5Dwrite(d, mem_type, mspace, space, dxpl, data) < 0) rc = rm_errorf("%s: cannot write dataset '%s'", what, name);
        H5Sclose(mspace);
    }
    H5Pclose(dxpl);
    H5Dclose(d);
    H5Sclose(space);
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
