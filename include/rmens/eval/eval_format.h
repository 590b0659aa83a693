/* The pieces every results writer formats with (src/eval/eval_format.c): JSON numbers
 * (NaN and Inf as null), arrays and escaped strings; HDF5 groups and double datasets whose
 * errors name the file they go to. */
#ifndef RMENS_EVAL_EVAL_FORMAT_H
#define RMENS_EVAL_EVAL_FORMAT_H

#include <hdf5.h>
#include <stdio.h>

/* A JSON string, escaped. */
void rm_json_string(FILE *f, const char *s);
void rm_eval_json_number(FILE *f, double v);
void rm_eval_json_array(FILE *f, const double *v, int n);
/* The name of the file loc is in, for messages: "results.h5", or "active.h5" when rmens
 * active writes the same groups (the file being written is a temporary sibling,
 * ".<name>.<tag>.tmp": its <name>). Writes it to buf and returns buf. */
const char *rm_eval_h5_file_label(hid_t loc, char *buf, size_t n);
int rm_eval_h5_doubles(hid_t loc, const char *name, const double *v, int rank, const hsize_t *dims);
hid_t rm_eval_h5_group(hid_t loc, const char *name);

#endif
