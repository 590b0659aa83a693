/* HDF5 objects of a store (see store_internal.h): open a dataset and check its rank, type
 * and filters, read a group's content digest and optional string attributes, and create the
 * store's groups and chunked, Fletcher-32 datasets with no timestamps. The lowest part of the
 * store beside store_io.c: reading, writing and the pair splits all build on it. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"

/* "<file>: <object>" for the attribute readers' messages. */
const char *store_object_what(const rm_store *s, const char *object, char *buf, size_t n)
{
    snprintf(buf, n, "%s: %s", s->path, object);
    return buf;
}

/* Which filters a dataset's chunks went through. Fletcher-32 marks it protected; a filter
 * this HDF5 lacks (h5py's lzf, a plugin that is not installed) would fail every read, so
 * the store is refused at open with the filter's name instead. */
int store_inspect_filters(rm_store *s, const char *name, hid_t d, int *fletcher)
{
    *fletcher = 0;
    hid_t dcpl = H5Dget_create_plist(d);
    if (dcpl < 0) return rm_h5_fail(s->path, name, "H5Dget_create_plist");
    int n = H5Pget_nfilters(dcpl), rc = n < 0 ? rm_h5_fail(s->path, name, "H5Pget_nfilters") : 0;
    for (int i = 0; rc == 0 && i < n; i++) {
        unsigned flags = 0, config = 0;
        size_t n_values = 0;
        char filter_name[64] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &n_values, NULL, sizeof filter_name, filter_name, &config);
        if (id < 0) rc = rm_h5_fail(s->path, name, "H5Pget_filter2");
        else if (id == H5Z_FILTER_FLETCHER32) *fletcher = 1;
        else if (H5Zfilter_avail(id) <= 0)
            rc = rm_errorf("%s: %s: written with HDF5 filter %d (%s), which this HDF5 library does not have: "
                           "rewrite it without that filter (h5py: compression=None or \"gzip\")",
                           s->path, name, (int)id, filter_name[0] ? filter_name : "unnamed");
    }
    H5Pclose(dcpl);
    return rc;
}

/* String attribute `name` of obj into buf[n] (cut to fit): 1 when absent (buf = ""), 0 read,
 * -1 error. */
int store_read_optional_string(hid_t obj, const char *name, char *buf, size_t n, const char *what)
{
    buf[0] = '\0';
    int exists = rm_h5_attr_exists(obj, name, what);
    if (exists <= 0) return exists < 0 ? -1 : 1;
    char *value = NULL;
    if (rm_h5_read_attr_string_alloc(obj, name, &value, what) != 0) return -1;
    snprintf(buf, n, "%s", value);
    free(value);
    return 0;
}

/* The content_digest attribute of a group ("" when absent) into out[64]. */
int store_read_digest_at(rm_store *s, const char *group, char *out)
{
    hid_t grp = H5Gopen2(s->file, group, H5P_DEFAULT);
    if (grp < 0) return rm_h5_fail(s->path, group, "H5Gopen2");
    char what[1200];
    int rc = store_read_optional_string(grp, "content_digest", out, 64, store_object_what(s, group, what, sizeof what));
    H5Gclose(grp);
    return rc < 0 ? -1 : 0;
}

/* Open `name` and check its rank and type; dims filled; *dtype 0 float32, 1 float16.
 * half_allowed: whether float16 is acceptable (rewards must be float32). *fletcher: 1 when
 * the dataset carries a Fletcher-32 checksum. */
int store_open_checked_dataset(rm_store *s, const char *name, int rank, int half_allowed, hid_t *dset,
                                hsize_t dims[3], rm_dtype *dtype, int *fletcher)
{
    /* H5Lexists needs every intermediate group to exist: check "/views", "/views/x", ...
     * before "/views/x/train/embeddings". */
    char prefix[256];
    htri_t exists = 1;
    for (const char *slash = strchr(name + 1, '/'); exists > 0; slash = slash ? strchr(slash + 1, '/') : NULL) {
        snprintf(prefix, sizeof prefix, "%.*s", slash ? (int)(slash - name) : (int)strlen(name), name);
        exists = H5Lexists(s->file, prefix, H5P_DEFAULT);
        if (!slash) break;
    }
    if (exists < 0) return rm_h5_fail(s->path, name, "H5Lexists");
    if (!exists) return rm_errorf("%s: %s: missing dataset", s->path, name);
    hid_t d = H5Dopen2(s->file, name, H5P_DEFAULT), space = H5I_INVALID_HID, type = H5I_INVALID_HID;
    if (d < 0) return rm_h5_fail(s->path, name, "H5Dopen2");
    int rc = -1, found_rank = 0;
    char tdesc[64];
    if ((space = H5Dget_space(d)) < 0) {
        rm_h5_fail(s->path, name, "H5Dget_space");
        goto fail;
    }
    if ((type = H5Dget_type(d)) < 0) {
        rm_h5_fail(s->path, name, "H5Dget_type");
        goto fail;
    }
    if ((found_rank = H5Sget_simple_extent_ndims(space)) < 0) {
        rm_h5_fail(s->path, name, "H5Sget_simple_extent_ndims");
        goto fail;
    }
    if (found_rank != rank) {
        rm_errorf("%s: %s: expected rank %d, found rank %d", s->path, name, rank, found_rank);
        goto fail;
    }
    if (H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        rm_h5_fail(s->path, name, "H5Sget_simple_extent_dims");
        goto fail;
    }
    int kind = store_classify_float(type);
    if (kind < 0 || (kind == 1 && !half_allowed)) {
        rm_errorf("%s: %s: unsupported dtype %s (expected float32%s)", s->path, name,
                  store_type_description(type, tdesc, sizeof tdesc), half_allowed ? " or IEEE float16" : "");
        goto fail;
    }
    *dtype = kind == 1 ? RM_DTYPE_FLOAT16 : RM_DTYPE_FLOAT32;
    for (int i = 0; i < rank; i++)
        if (dims[i] == 0) {
            rm_errorf("%s: %s: dimension %d is zero", s->path, name, i);
            goto fail;
        }
    if (store_inspect_filters(s, name, d, fletcher) != 0) goto fail;
    *dset = d;
    d = H5I_INVALID_HID;
    rc = 0;
fail:
    rm_h5_close_id(&space, H5Sclose);
    rm_h5_close_id(&type, H5Tclose);
    rm_h5_close_id(&d, H5Dclose);
    return rc;
}

/* Object creation properties that make identical content give an identical file (no
 * timestamps). Negative with "<file>: <object>: <call> failed (...)" on failure. */
hid_t store_untimed_creation_plist(hid_t cls, const char *path, const char *object)
{
    hid_t p = H5Pcreate(cls);
    if (p < 0) return rm_h5_fail(path, object, "H5Pcreate");
    if (H5Pset_obj_track_times(p, 0) < 0) {
        int rc = rm_h5_fail(path, object, "H5Pset_obj_track_times"); /* before the close clears HDF5's stack */
        H5Pclose(p);
        return rc;
    }
    return p;
}

int store_create_group(rm_store *s, const char *name)
{
    hid_t gcpl = store_untimed_creation_plist(H5P_GROUP_CREATE, s->path, name);
    if (gcpl < 0) return -1;
    hid_t g = H5Gcreate2(s->file, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    int rc = g < 0 ? rm_h5_fail(s->path, name, "H5Gcreate2") : 0;
    H5Pclose(gcpl);
    if (g >= 0) H5Gclose(g);
    return rc;
}

/* Chunk of whole leading rows filling about `target` bytes; if one row alone exceeds it,
 * a single row cut along the second dimension. */
static void chunk_shape(int rank, const hsize_t dims[3], size_t elem, size_t target, hsize_t chunk[3])
{
    size_t inner = rank == 3 ? (size_t)dims[2] : 1;
    size_t second = rank >= 2 ? (size_t)dims[1] : 1; /* a rank-1 dataset: rows of one value */
    size_t row_bytes = second * inner * elem;
    chunk[2] = rank == 3 ? dims[2] : 0;
    if (row_bytes <= target) {
        size_t rows = target / row_bytes;
        chunk[0] = rows < dims[0] ? rows : dims[0];
        chunk[1] = rank >= 2 ? dims[1] : 0;
    } else {
        size_t cols = target / (inner * elem);
        chunk[0] = 1;
        chunk[1] = cols == 0 ? 1 : cols < dims[1] ? cols : dims[1];
    }
}

int store_create_dataset(rm_store *s, const char *name, int rank, const hsize_t dims[3], int half, int int64,
                         size_t target, hid_t *out)
{
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, type = H5I_INVALID_HID;
    hsize_t chunk[3];
    chunk_shape(rank, dims, int64 ? 8 : half ? 2 : 4, target, chunk);
    int rc = -1;
    if ((space = H5Screate_simple(rank, dims, NULL)) < 0) {
        rm_h5_fail(s->path, name, "H5Screate_simple");
        goto fail;
    }
    if ((dcpl = store_untimed_creation_plist(H5P_DATASET_CREATE, s->path, name)) < 0) goto fail;
    if ((type = int64 ? H5Tcopy(H5T_STD_I64LE) : half ? store_half_type() : H5Tcopy(H5T_IEEE_F32LE)) < 0) {
        rm_h5_fail(s->path, name, "stored type");
        goto fail;
    }
    /* Early allocation keeps the file layout independent of the writers (chunk addresses
     * fixed at creation). Every element is written, so no fill of ours; with a filter HDF5
     * still writes each chunk once, filled and checksummed, at creation, so that a chunk
     * only partly written by one collective call can be read back and completed by the
     * next (the price: the store is written twice). Fletcher-32: see Integrity in store.h. */
    if (H5Pset_chunk(dcpl, rank, chunk) < 0 || H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0 ||
        H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) < 0) {
        rm_h5_fail(s->path, name, "H5Pset_chunk");
        goto fail;
    }
    if (H5Pset_fletcher32(dcpl) < 0) {
        rm_h5_fail(s->path, name, "H5Pset_fletcher32");
        goto fail;
    }
    if ((*out = H5Dcreate2(s->file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0) {
        rm_h5_fail(s->path, name, "H5Dcreate2");
        goto fail;
    }
    rc = 0;
fail:
    rm_h5_close_id(&type, H5Tclose);
    rm_h5_close_id(&dcpl, H5Pclose);
    rm_h5_close_id(&space, H5Sclose);
    return rc;
}
