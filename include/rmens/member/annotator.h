/* The simulated annotator: which of two responses a labeller prefers, given their golden
 * rewards.
 *
 * A label is drawn in two steps, as the papers model noise:
 *  1. the base annotator: perfect (beta < 0: the golden order, ties by a fair coin) or
 *     Bradley-Terry, P(a preferred) = sigmoid(beta (g_a - g_b) / s);
 *  2. label flips: the base label is then flipped independently with probability
 *     label_flip (Coste et al. flip 25 % of the labels).
 * Both draws are pure functions of (seed, stream, index): the base coin comes from
 * `label_stream` at counter `index`, the flip coin from `flip_stream` at `index`. Training
 * pairs use RM_STREAM_LABELS / RM_STREAM_LABEL_FLIPS; the evaluation's calibration
 * outcomes use their own streams, so they are independent of the training labels. */
#ifndef RMENS_ANNOTATOR_H
#define RMENS_ANNOTATOR_H

#include <stddef.h>
#include <stdint.h>

#include "rmens/base/config.h"

typedef struct {
    double beta;           /* < 0: perfect */
    double label_flip;     /* in [0, 0.5] */
    double reward_scale;   /* s > 0; s <= 0 or beta == 0 makes the BT annotator a fair coin */
    uint64_t seed;
    uint64_t label_stream, flip_stream;
} rm_annotator;

/* The annotator of cfg (pairs.annotator_beta, pairs.label_flip) with reward scale s
 * (rm_annotator_scale) on the training streams. Validates label_flip. */
int rm_annotator_from_settings(rm_annotator *a, const rm_settings *cfg, double reward_scale);

/* The reward scale s of cfg: pairs.reward_scale when it is a number, else ("std") the
 * population standard deviation of rewards[0..n) (the train split's golden rewards). */
double rm_annotator_scale(const rm_settings *cfg, const float *rewards, size_t n);

/* P(the final label prefers a) for golden rewards g_a, g_b: the base probability p
 * mixed with its flip, (1 - f) p + f (1 - p). */
double rm_annotator_probability(const rm_annotator *a, double golden_a, double golden_b);

/* Draw the label of comparison `index`: 1 if a is preferred. *flipped (may be NULL) says
 * whether the flip step reversed the base label. */
int rm_annotator_label(const rm_annotator *a, uint64_t index, double golden_a, double golden_b, int *flipped);

#endif
