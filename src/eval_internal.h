/* Slot layout shared by the evaluation's accumulation (src/eval_accumulate.c) and its
 * plan and final figures (src/eval_figures.c); see the comment at the top of the latter. */
#ifndef RMENS_EVAL_INTERNAL_H
#define RMENS_EVAL_INTERNAL_H

#include <stddef.h>

/* Ensemble slots of a subset, after its aggregators' slots. */
enum { SLOT_BEST_PICK = 0, SLOT_MEAN_STD = 2, SLOT_STD_RANK = 4, SLOT_AGREE = 6, SLOT_HIST = 8 };

/* Disagreement levels of a response pair for k members: 0..C(k,2) disagreeing member pairs. */
static inline size_t disagreement_levels(int k) { return (size_t)k * (size_t)(k - 1) / 2 + 1; }
static inline size_t ensemble_slots(int k) { return SLOT_HIST + 2 * disagreement_levels(k); }

#endif
