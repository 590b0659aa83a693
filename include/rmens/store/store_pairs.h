/* Human-labelled preference pairs in a store (src/store/store_pairs.c; the layout is in
 * rmens/store/store.h).
 *
 * Pair i of a split is (chosen_i, rejected_i): the annotator preferred chosen_i. Its
 * group (when /pairs/<split>/group exists) is the prompt or dialogue it belongs to, the
 * unit a validation split or a cross-validation fold must not cut. Without groups every
 * pair is its own group.
 *
 * Presented as splits (rm_store_use_pairs), pair i is prompt i with K = 2 responses,
 * response 0 the chosen and 1 the rejected reply; the pair split's rewards read as the
 * human label, 1 for the chosen and 0 for the rejected reply, so that every golden-order
 * figure on a presented split is a figure against the human label. A further view of a
 * pair store has its own chosen and rejected rows of the same pairs (its own D and dtype,
 * the default view's groups); presented, reads of the view read them. */
#ifndef RMENS_STORE_STORE_PAIRS_H
#define RMENS_STORE_STORE_PAIRS_H

#include <stddef.h>
#include <stdint.h>

#include "rmens/base/config.h"
#include "rmens/store/store.h"

/* Collective: make the pair splits the store's splits (split[sp] = {N_pairs, 2, dtype},
 * dim = the pairs' D); reads of embeddings and rewards then read pairs. An error names the
 * store when it holds no pairs, or no pairs in a split. */
int rm_store_use_pairs(rm_store *s);


/* Local: the group of every pair of a split into out[N_pairs] (0, 1, ... when the store
 * records none), read whole on each rank (8 bytes a pair). */
int rm_store_read_pair_groups(rm_store *s, rm_split split, int64_t *out);

/* Local: for a presented pair store, the train split's pair groups as dense numbers
 * (*dense[N_pairs], owned by the caller, *n_groups = G); NULL and 0 otherwise (no store
 * pairs: each prompt is its own unit). */
int rm_store_train_pair_groups(rm_store *s, uint32_t **dense, size_t *n_groups);

/* Dense group numbers 0..G-1 of groups[n] in order of first appearance into dense[n]
 * (any int64 ids); *n_groups = G. Local. */
int rm_pair_groups_dense(const int64_t *groups, size_t n, uint32_t *dense, size_t *n_groups);

/* Writing (rm_store_create with a layout of n_pairs > 0): pairs [i0, i1) of a split
 * (chosen and rejected [(i1-i0) * D] float32, converted when the store is float16), and
 * the split's whole group array (every rank passes the same array; rank 0 writes it).
 * Collective; every pair must be written exactly once. */
int rm_store_write_pairs(rm_store_writer *w, rm_split split, size_t i0, size_t i1, const float *chosen,
                         const float *rejected);
int rm_store_write_pair_groups(rm_store_writer *w, rm_split split, const int64_t *groups);
/* View `view`'s pairs (0: rm_store_write_pairs; else a view this writer writes, D its D). */
int rm_store_write_view_pairs(rm_store_writer *w, int view, rm_split split, size_t i0, size_t i1, const float *chosen,
                              const float *rejected);

#endif
