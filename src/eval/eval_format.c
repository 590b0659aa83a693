/* The pieces every results writer formats with (include/rmens/eval/eval_format.h): JSON
 * numbers, arrays and strings, and HDF5 groups and double datasets named in messages by
 * the file they go to. Below the writers of results.json/results.h5 (eval_output.c), of the
 * test pairs' figures (eval_pairs.c) and of active.h5. */
#include "rmens/eval/eval_format.h"

#include <math.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/store/h5util.h"

/* ---- JSON ---- */

void rm_eval_json_number(FILE *f, double v)
{
    if (isnan(v) || isinf(v)) fputs("null", f);
    else fprintf(f, "%.17g", v);
}

void rm_eval_json_array(FILE *f, const double *v, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", f);
        rm_eval_json_number(f, v[i]);
    }
    fputc(']', f);
}

void rm_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", (unsigned char)*s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

/* ---- HDF5 ---- */

const char *rm_eval_h5_file_label(hid_t loc, char *buf, size_t n)
{
    char path[1100];
    ssize_t len = H5Fget_name(loc, path, sizeof path);
    const char *base = len > 0 && (size_t)len < sizeof path ? strrchr(path, '/') : NULL;
    base = base ? base + 1 : len > 0 && (size_t)len < sizeof path ? path : "results.h5";
    size_t used = strlen(base);
    if (base[0] == '.' && used > 5 && strcmp(base + used - 4, ".tmp") == 0) { /* .<name>.<tag>.tmp */
        const char *tag = base + used - 4;
        while (tag > base + 1 && tag[-1] != '.') tag--;
        if (tag > base + 2) used = (size_t)(tag - 1 - (base + 1)), base++;
    }
    snprintf(buf, n, "%.*s", (int)used, base);
    return buf;
}

int rm_eval_h5_doubles(hid_t loc, const char *name, const double *v, int rank, const hsize_t *dims)
{
    char file[128];
    return rm_h5_write_dataset(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, rank, dims, v, 1, 0,
                               rm_eval_h5_file_label(loc, file, sizeof file));
}

hid_t rm_eval_h5_group(hid_t loc, const char *name)
{
    char file[128];
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) rm_errorf("%s: cannot create group '%s'", rm_eval_h5_file_label(loc, file, sizeof file), name);
    return g;
}
