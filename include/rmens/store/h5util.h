/* The one set of checked HDF5 helpers (the members, results, active and checkpoint files
 * and the embedding store all use these): every call is checked, and a failure becomes one
 * rm_errorf message naming the file, the object, the attribute or dataset and the call,
 * with HDF5's own reason (its innermost message; a full disk as strerror(ENOSPC)). In
 * parallel files these are collective where HDF5 requires it (object and attribute
 * creation, deletion). */
#ifndef RMENS_H5UTIL_H
#define RMENS_H5UTIL_H

#include <hdf5.h>
#include <mpi.h>
#include <stddef.h>

/* Silence HDF5's own error stack printing: rmens reports one line itself. */
void rm_h5_quiet(void);

/* File access properties: MPI-IO on comm, or HDF5's default (serial) driver for
 * MPI_COMM_NULL. Negative with "<path>: ..." on failure; H5Pclose it after use. */
hid_t rm_h5_file_access(const char *path, MPI_Comm comm);
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
/* As rm_h5_reason; *checksum gets whether some level of HDF5's error stack blamed a
 * chunk's Fletcher-32 checksum (the data read does not match the checksum stored). */
const char *rm_h5_reason_checksum(char *buf, size_t cap, hid_t loc, int *checksum);
/* Record "<file>: <object>: <call> failed (<reason>)" for the HDF5 call that just failed
 * (reason as rm_h5_reason with no loc; call it before any other HDF5 call). Returns -1. */
int rm_h5_fail(const char *file, const char *object, const char *call);
/* Close *id with closer when it is valid (>= 0) and mark it invalid: for clean-up paths. */
void rm_h5_close_id(hid_t *id, herr_t (*closer)(hid_t));

/* Attribute writers (collective in parallel files). A failure is
 * "<file>: <object>: attribute '<name>': <call> failed (<reason>)". Strings are
 * variable-length UTF-8 (what h5py returns as str); rm_h5_attr_int stores a 64-bit
 * little-endian integer, rm_h5_attr_double and rm_h5_attr_ints the native types. */
int rm_h5_attr_string(hid_t obj, const char *name, const char *value);
int rm_h5_attr_int(hid_t obj, const char *name, long long value);
int rm_h5_attr_double(hid_t obj, const char *name, double value);
int rm_h5_attr_ints(hid_t obj, const char *name, const int *values, size_t n);
/* A 1-D array of n variable-length UTF-8 strings. */
int rm_h5_attr_strings(hid_t obj, const char *name, const char *const *values, size_t n);
/* Delete attribute `name` of obj if it is there (before writing it anew). */
int rm_h5_attr_remove(hid_t obj, const char *name);
/* The products' provenance (rm_precision_current(): model.precision as run and as
 * requested, the matmul kernel, the CPU) as the string attributes precision,
 * precision_requested, matmul_kernel and cpu of obj: what members.h5's and active.h5's
 * /run and results.h5's root record. */
int rm_h5_attrs_precision(hid_t obj);
/* A result file's provenance on its root: format, format_version, version (RMENS_VERSION),
 * config (the configuration text; NULL as ""), store and store_uuid (the store read). */
int rm_h5_attrs_provenance(hid_t obj, const char *format, long long format_version, const char *config_text,
                           const char *store_path, const char *store_uuid);

/* Readers: -1 with "<what>: attribute '<name>' ..." on a missing or mistyped attribute, or
 * "<what>: attribute '<name>': <call> failed (<reason>)" when HDF5 fails. `what` names the
 * file and object (e.g. "<path>: /train"). Strings may be stored fixed-length (read as
 * stored, up to the first NUL) or variable-length (a NULL one reads as ""). */
/* 1 when obj has attribute `name`, 0 when not, -1 on error. */
int rm_h5_attr_exists(hid_t obj, const char *name, const char *what);
/* Refuses a value of cap bytes or more ("is too long"). */
int rm_h5_read_attr_string(hid_t obj, const char *name, char *out, size_t cap, const char *what);
int rm_h5_read_attr_string_alloc(hid_t obj, const char *name, char **out, const char *what);
/* A string array attribute (1-D or scalar) into out[i * width], i < *n <= cap: refuses more
 * than cap strings, or one of width bytes or more. */
int rm_h5_read_attr_strings(hid_t obj, const char *name, char *out, size_t width, size_t cap, size_t *n,
                            const char *what);
/* Numeric readers convert any integer or float type (one value: "must be a single value"). */
int rm_h5_read_attr_int(hid_t obj, const char *name, long long *out, const char *what);
/* As rm_h5_read_attr_int, but the attribute must be of an integer type ("is not an
 * integer": a float is refused, not converted). */
int rm_h5_read_attr_int_exact(hid_t obj, const char *name, long long *out, const char *what);
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
