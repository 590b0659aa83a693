/* In-memory synthetic splits for the model and member tests (the store's synth verb is
 * separate): prompt centres c_p ~ N(0, I), responses x = c_p + 0.8 z, golden reward
 * g = w.x + 0.5 tanh(u.x) with fixed random w, u: mostly linear, with a nonlinearity an
 * MLP can use. Everything from the counter RNG, so every rank builds the same data. */
#ifndef RMENS_TEST_SYNTHETIC_H
#define RMENS_TEST_SYNTHETIC_H
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/member/annotator.h"
#include "rmens/member/pairs.h"
#include "rmens/base/rng.h"

/* The pairs of the original design (sampling "items", candidates "all", no flips, the
 * reward scale the std of `rewards`): what the model tests train on. */
static inline int test_pairs_build(rm_pairs *p, const float *rewards, size_t n_prompts, size_t n_responses,
                                   const char *mode, size_t count, double beta, double val_fraction, uint64_t seed)
{
    rm_settings cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.pairs_annotator_beta = beta;
    cfg.seed = (long long)seed;
    rm_annotator ann;
    if (rm_annotator_from_settings(&ann, &cfg, rm_annotator_scale(&cfg, rewards, n_prompts * n_responses)) != 0)
        return -1;
    rm_pairs_design d = {.mode = mode, .sampling = "items", .candidates = "all", .count = count, .per_prompt = 1,
                         .val_fraction = val_fraction, .seed = seed};
    return rm_pairs_build(p, rewards, n_prompts, n_responses, &d, &ann);
}

typedef struct {
    size_t n_prompts, n_responses, dim;
    float *embeddings, *rewards;
} synth_split;

static int synth_make(synth_split *s, size_t n_prompts, size_t n_responses, size_t dim, uint64_t split_seed)
{
    s->n_prompts = n_prompts;
    s->n_responses = n_responses;
    s->dim = dim;
    s->embeddings = malloc(sizeof(float) * n_prompts * n_responses * dim);
    s->rewards = malloc(sizeof(float) * n_prompts * n_responses);
    if (!s->embeddings || !s->rewards) return -1;
    for (size_t p = 0; p < n_prompts; p++)
        for (size_t k = 0; k < n_responses; k++) {
            size_t item = p * n_responses + k;
            double linear = 0, bent = 0;
            for (size_t d = 0; d < dim; d++) {
                double centre = rm_rand_normal(split_seed, 1, p * dim + d);
                double x = centre + 0.8 * rm_rand_normal(split_seed, 2, item * dim + d);
                s->embeddings[item * dim + d] = (float)x;
                linear += rm_rand_normal(77, 3, d) * x / sqrt((double)dim);
                bent += rm_rand_normal(77, 4, d) * x / sqrt((double)dim);
            }
            s->rewards[item] = (float)(linear + 0.5 * tanh(bent));
        }
    return 0;
}

static void synth_free(synth_split *s)
{
    free(s->embeddings);
    free(s->rewards);
}
#endif
