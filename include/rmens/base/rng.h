/* Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
 *
 * Every random number in rmens is a pure function of (seed, stream, index): no generator
 * state is carried between calls, so any rank can produce any part of any sequence, and
 * results are identical for any number of ranks and any work order. `stream` separates
 * independent uses (synthetic data, pairs, labels, member m's initialisation, ...);
 * `index` is the position within the stream. */
#ifndef RMENS_RNG_H
#define RMENS_RNG_H

#include <stdint.h>

typedef struct { uint32_t w[4]; } rm_philox_block;

/* The raw generator: 128 random bits for counter (index, stream) under key seed. */
rm_philox_block rm_philox(uint64_t seed, uint64_t stream, uint64_t index);

/* Uniform double in [0, 1), 53 random bits. */
double rm_rand_uniform(uint64_t seed, uint64_t stream, uint64_t index);
/* Uniform integer in [0, n), n >= 1, without modulo bias (Lemire's multiply-shift on 64 bits). */
uint64_t rm_rand_below(uint64_t seed, uint64_t stream, uint64_t index, uint64_t n);
/* Standard normal (Box-Muller on the block's two 53-bit uniforms). */
double rm_rand_normal(uint64_t seed, uint64_t stream, uint64_t index);

/* Stream identifiers. Member streams are RM_STREAM_MEMBER(m, purpose). */
enum {
    RM_STREAM_SYNTH_TOPIC = 1,      /* synthetic store: topic centres and reward weights */
    RM_STREAM_SYNTH_PROMPT = 2,     /* synthetic store: prompt vectors and offsets */
    RM_STREAM_SYNTH_RESPONSE = 3,   /* synthetic store: response vectors */
    RM_STREAM_SYNTH_BENCH = 4,      /* synthetic store: benchmark pairs */
    RM_STREAM_PAIRS = 10,           /* which items form each preference pair */
    RM_STREAM_LABELS = 11,          /* the simulated annotator's coin flips */
    RM_STREAM_VALIDATION = 12,      /* train/validation split of the pairs */
    RM_STREAM_ABLATION = 13,        /* ensemble-size ablation subsets */
    RM_STREAM_LABEL_FLIPS = 14,     /* the annotator's label flips (pairs.label_flip) */
    RM_STREAM_PROMPT_ORDER = 15,    /* pairs.sampling = "prompts": which prompts, in order */
    RM_STREAM_PROMPT_PAIRS = 16,    /* pairs.sampling = "prompts": each prompt's pairs */
    RM_STREAM_CANDIDATES = 17,      /* pairs.candidates = "random_two": each prompt's two */
    RM_STREAM_VAL_PROMPTS = 18,     /* train.val_split = "prompts": which train prompts validate */
    RM_STREAM_FOLDS = 19,           /* rmens select: the train prompts' cross-validation folds */
    RM_STREAM_CALIBRATION_PAIRS = 20,  /* eval: which within-prompt test pairs */
    RM_STREAM_CALIBRATION_LABELS = 21, /* eval: the annotator's outcomes of those pairs */
    RM_STREAM_CALIBRATION_FLIPS = 22,  /* eval: their label flips */
};
enum {
    RM_MEMBER_INIT = 0,      /* weight initialisation */
    RM_MEMBER_SHUFFLE = 1,   /* minibatch order, one permutation per epoch */
    RM_MEMBER_BOOTSTRAP = 2, /* bootstrap resampling of the training pairs */
    RM_MEMBER_DRAW = 3,      /* train.minibatches = "draw": each step's minibatch */
    RM_MEMBER_SPLIT = 4,     /* train.val_split = "entries": the member's own split */
};
#define RM_STREAM_MEMBER(m, purpose) ((uint64_t)1000 + (uint64_t)(m) * 16u + (uint64_t)(purpose))

/* Member m's seed: the reference pipeline's seed * 42 + m. */
static inline uint64_t rm_member_seed(uint64_t seed, int member) { return seed * 42u + (uint64_t)member; }

/* Fisher-Yates permutation of 0..n-1 into perm, drawn from (seed, stream) starting at index 0. */
void rm_permutation(uint64_t seed, uint64_t stream, uint32_t *perm, uint64_t n);

#endif
