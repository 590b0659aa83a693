/* A strict reader of NumPy .npy files (format versions 1.0, 2.0 and 3.0).
 *
 * The header is parsed as the format specifies it, and nothing else is accepted: the
 * magic string, the version, a Python dict literal with exactly the keys 'descr',
 * 'fortran_order' and 'shape', a little-endian float dtype ('<f2', '<f4', '<f8'), C
 * order, and a file whose size is exactly header + prod(shape) * itemsize. Data is then
 * read in bounded pieces with pread, converted to float32, never the whole file at once. */
#ifndef RMENS_NPY_H
#define RMENS_NPY_H

#include <stddef.h>
#include <stdint.h>

#define RM_NPY_MAX_DIMS 8

typedef enum { RM_NPY_FLOAT16 = 2, RM_NPY_FLOAT32 = 4, RM_NPY_FLOAT64 = 8 } rm_npy_dtype;

typedef struct {
    char path[1024];
    int fd;
    int version;             /* 1, 2 or 3 */
    char descr[32];          /* as written, e.g. "<f4" */
    rm_npy_dtype dtype;      /* also the item size in bytes */
    int integer;             /* '<i8' (then dtype is 8): read with rm_npy_read_int64 only */
    int ndim;
    size_t shape[RM_NPY_MAX_DIMS];
    size_t n_items;          /* prod(shape) */
    size_t data_offset;      /* bytes before the data */
    size_t file_size;
    void *scratch;           /* conversion buffer for float16/float64 reads */
    size_t scratch_items;
} rm_npy;

/* Open and validate. On failure: -1 with "<path>: <reason>", nothing left open. */
int rm_npy_open(rm_npy *f, const char *path);
/* Read items [first, first + count) (flat C order) as float32 into out. */
int rm_npy_read_floats(rm_npy *f, size_t first, size_t count, float *out);
/* Read items [first, first + count) of an '<i8' array (group ids) into out. */
int rm_npy_read_int64(rm_npy *f, size_t first, size_t count, int64_t *out);
void rm_npy_close(rm_npy *f);
/* "(2000, 500, 2048)" into buf. */
const char *rm_npy_shape_string(const rm_npy *f, char *buf, size_t n);

#endif
