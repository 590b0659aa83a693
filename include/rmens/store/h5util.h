/* Small checked wrappers over HDF5 used by the members and results files: every call's
 * failure becomes one rm_errorf message naming the file and object. In parallel files
 * these are collective where HDF5 requires it (object and attribute creation). */
#ifndef RMENS_H5UTIL_H
#define RMENS_H5UTIL_H

#include <hdf5.h>
#include <mpi.h>
#include <stddef.h>

/* Silence HDF5's own error stack printing: rmens reports one line itself. */
void rm_h5_quiet(void);

/* Create `path` (truncating) for parallel access on comm, or open it read-only (comm may be
 * MPI_COMM_NULL for a serial open on one rank). Negative hid_t with error on failure. */
hid_t rm_h5_create_parallel(const char *path, MPI_Comm comm);
hid_t rm_h5_open_read(const char *path, MPI_Comm comm);

/* A file that appears complete or not at all: created collectively at a temporary
 * sibling of `path` (registered so that rm_abort_job removes it), and on finish closed,
 * agreed on by all ranks, then renamed into place by rank 0. `status` is this rank's
 * result of writing the contents; on any rank's failure the temporary file is deleted. */
typedef struct {
    hid_t file;
    char *temp;
    const char *path;
    MPI_Comm comm;
} rm_h5_atomic;
int rm_h5_atomic_create(rm_h5_atomic *a, const char *path, MPI_Comm comm);
int rm_h5_atomic_finish(rm_h5_atomic *a, int status);
/* Files whose close failed so badly (a full disk with no room even for the metadata)
 * that HDF5 still holds them open: main() then leaves without MPI_Finalize, whose HDF5
 * clean-up would crash retrying the close. The error was reported, the file deleted. */
int rm_h5_files_left_open(void);
/* H5Fclose of a file this rank alone writes: -1 with "<path>: cannot close: <reason>"
 * (a full disk as strerror(ENOSPC)); a file HDF5 still holds open counts as left open. */
int rm_h5_close(hid_t file, const char *path);
/* The reason for the HDF5 call that just failed (call it before any other HDF5 call, which
 * would clear HDF5's error stack): strerror(ENOSPC) on a full disk (loc: an object of the
 * file being written, to look at its file system; -1 for none), else HDF5's innermost
 * message. Writes it to buf and returns buf. */
const char *rm_h5_reason(char *buf, size_t cap, hid_t loc);

int rm_h5_attr_string(hid_t obj, const char *name, const char *value);
int rm_h5_attr_int(hid_t obj, const char *name, long long value);
int rm_h5_attr_double(hid_t obj, const char *name, double value);
int rm_h5_attr_ints(hid_t obj, const char *name, const int *values, size_t n);
/* The products' provenance (rm_precision_current(): model.precision as run and as
 * requested, the matmul kernel, the CPU) as the string attributes precision,
 * precision_requested, matmul_kernel and cpu of obj: what members.h5's and active.h5's
 * /run and results.h5's root record. */
int rm_h5_attrs_precision(hid_t obj);
/* A result file's provenance on its root: format, format_version, version (RMENS_VERSION),
 * config (the configuration text; NULL as ""), store and store_uuid (the store read). */
int rm_h5_attrs_provenance(hid_t obj, const char *format, long long format_version, const char *config_text,
                           const char *store_path, const char *store_uuid);

/* Readers: -1 with "<what>: attribute '<name>' ..." on a missing or mistyped attribute. */
int rm_h5_read_attr_string(hid_t obj, const char *name, char *out, size_t cap, const char *what);
int rm_h5_read_attr_string_alloc(hid_t obj, const char *name, char **out, const char *what);
int rm_h5_read_attr_int(hid_t obj, const char *name, long long *out, const char *what);
int rm_h5_read_attr_double(hid_t obj, const char *name, double *out, const char *what);
/* Reads up to cap ints; *n gets the count. */
int rm_h5_read_attr_ints(hid_t obj, const char *name, int *out, size_t cap, size_t *n, const char *what);

/* Create dataset `name` under loc of `rank` dims with type, and write `data` collectively
 * when `writer` is true on this rank (other ranks take part with an empty selection).
 * mem_type/file_type e.g. H5T_NATIVE_FLOAT/H5T_IEEE_F32LE. */
int rm_h5_write_dataset(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank,
                        const hsize_t *dims, const void *data, int writer, int collective, const char *what);
/* Read a whole dataset whose shape must equal dims (rank `rank`). */
int rm_h5_read_dataset(hid_t loc, const char *name, hid_t mem_type, int rank, const hsize_t *dims, void *out, const char *what);

#endif
