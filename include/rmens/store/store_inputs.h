/* Composite inputs (model.inputs): several views of a store concatenated feature-wise and
 * standardised, read as one more view (src/store/store_inputs.c).
 *
 * A member whose input is ["default", "length"] reads, for item (p, k), the default
 * view's D_0 features followed by the length view's D_1, each feature x_j replaced by
 * (float)((x_j - mean_j) / std_j) in double, mean and std being the population moments
 * of that feature over every item of the train split (std 0 becomes 1: a constant
 * feature reads 0). The composite is added to an open store as view
 * "inputs:<name0>+<name1>+..." (a name no stored view can have), so everything that reads views
 * (the shared window, scoring, trees, `rmens active`) reads it unchanged; members.h5
 * records the list and the moments (/inputs), and evaluation adds the same composite
 * from them, never from a recomputation. */
#ifndef RMENS_STORE_STORE_INPUTS_H
#define RMENS_STORE_STORE_INPUTS_H

#include <stddef.h>

#include "rmens/store/store.h"

/* One composite view: its stored views in order and the moments of its features. */
struct rm_store_inputs {
    int n_parts;
    int parts[RM_STORE_MAX_VIEWS]; /* stored view indexes */
    size_t dim;                    /* sum of the parts' D */
    double *mean, *std;            /* [dim], owned */
};

/* The composite's view name for the listed view names: "inputs:a+b+..." into name[size]. */
int rm_store_inputs_name(const char names[][64], int n, char *name, size_t size);

/* The train split's moments of the concatenated features of `names` (collective over the
 * store's communicator: every rank reads the whole split, in pieces of read_chunk_bytes,
 * and sums in the same order, so every rank holds the same bits). mean, std: [*dim]
 * caller arrays of RM_STORE_INPUTS_MAX_DIM, or NULL to learn *dim only. */
#define RM_STORE_INPUTS_MAX_DIM ((size_t)1 << 20)
int rm_store_inputs_moments(rm_store *s, const char names[][64], int n, double *mean, double *std, size_t *dim);

/* Add the composite of `names` with these moments ([dim], copied) to the open store;
 * *index is its view index. Local. An unknown view, a composite of the same name already
 * there, or no room left is an error. */
int rm_store_inputs_add(rm_store *s, const char names[][64], int n, const double *mean, const double *std, size_t dim,
                        int *index);

#endif
