/* In-memory synthetic splits for the model tests (the store's synth verb is separate):
 * prompt centres c_p ~ N(0, I), responses x = c_p + 0.8 z, golden reward
 * g = w.x + 0.5 tanh(u.x) with fixed random w, u: mostly linear, with a nonlinearity an
 * MLP can use. Everything from the counter RNG, so every rank builds the same data. */
#ifndef RMENS_TEST_SYNTHETIC_H
#define RMENS_TEST_SYNTHETIC_H
#include <math.h>
#include <stdlib.h>

#include "rmens/rng.h"

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
