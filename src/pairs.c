/* Preference pairs and the simulated Bradley-Terry annotator (see include/rmens/pairs.h).
 *
 * Pair i is a pure function of (seed, i): its items come from RM_STREAM_PAIRS at
 * counters 3i, 3i+1, 3i+2, its label from RM_STREAM_LABELS at counter i, and the
 * train/validation split from one permutation of RM_STREAM_VALIDATION. Any rank builds
 * the same pairs, and changing pairs.count does not change the first pairs. */
#include "rmens/pairs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/common.h"
#include "rmens/rng.h"

static double sigmoid(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* Population standard deviation, two-pass (the rewards are not centred). */
static double reward_std(const float *rewards, size_t n)
{
    double mean = 0;
    for (size_t i = 0; i < n; i++) mean += rewards[i];
    mean /= (double)n;
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += ((double)rewards[i] - mean) * ((double)rewards[i] - mean);
    return sqrt(ss / (double)n);
}

int rm_pairs_build(rm_pairs *p, const float *rewards, size_t n_prompts, size_t n_responses,
                   const char *mode, size_t count, double beta, double val_fraction, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    int cross = 0;
    if (strcmp(mode, "cross_prompt") == 0) cross = 1;
    else if (strcmp(mode, "within_prompt") != 0)
        return rm_errorf("pairs.mode = \"%s\": expected \"cross_prompt\" or \"within_prompt\"", mode);
    size_t n_items = n_prompts * n_responses;
    if (n_prompts != 0 && n_items / n_prompts != n_responses) return rm_errorf("pairs: item count overflows");
    if (n_items > UINT32_MAX)
        return rm_errorf("pairs: %zu train items exceed the 2^32 limit of item indices", n_items);
    if (cross && n_items < 2)
        return rm_errorf("pairs.mode = \"cross_prompt\" needs at least 2 train items, the split has %zu", n_items);
    if (!cross && (n_prompts < 1 || n_responses < 2))
        return rm_errorf("pairs.mode = \"within_prompt\" needs at least 2 responses per prompt, the split has %zu",
                         n_responses);
    if (count < 1 || count > UINT32_MAX) return rm_errorf("pairs.count = %zu: must be in 1..2^32-1", count);
    if (!(val_fraction >= 0 && val_fraction < 1))
        return rm_errorf("train.val_fraction = %g: must be in [0, 1)", val_fraction);
    size_t n_val = (size_t)floor((double)count * val_fraction);
    if (n_val >= count)
        return rm_errorf("pairs.count = %zu with train.val_fraction = %g leaves no training pairs", count, val_fraction);

    p->n = count;
    p->n_train = count - n_val;
    p->winner = rm_alloc(count, sizeof(uint32_t), "pair winners");
    p->loser = rm_alloc(count, sizeof(uint32_t), "pair losers");
    p->order = rm_alloc(count, sizeof(uint32_t), "pair order");
    if (!p->winner || !p->loser || !p->order) {
        rm_pairs_free(p);
        return -1;
    }

    p->reward_scale = reward_std(rewards, n_items);
    size_t n_untied = 0, n_agree = 0;
    for (size_t i = 0; i < count; i++) {
        uint64_t a, b;
        if (cross) {
            /* two distinct items from anywhere: b is drawn from the n-1 others */
            a = rm_rand_below(seed, RM_STREAM_PAIRS, 3 * i, n_items);
            b = rm_rand_below(seed, RM_STREAM_PAIRS, 3 * i + 1, n_items - 1);
            if (b >= a) b++;
        } else {
            uint64_t prompt = rm_rand_below(seed, RM_STREAM_PAIRS, 3 * i, n_prompts);
            uint64_t ka = rm_rand_below(seed, RM_STREAM_PAIRS, 3 * i + 1, n_responses);
            uint64_t kb = rm_rand_below(seed, RM_STREAM_PAIRS, 3 * i + 2, n_responses - 1);
            if (kb >= ka) kb++;
            a = prompt * n_responses + ka;
            b = prompt * n_responses + kb;
        }
        double diff = (double)rewards[a] - (double)rewards[b];
        double u = rm_rand_uniform(seed, RM_STREAM_LABELS, i);
        int a_wins;
        if (beta < 0) a_wins = diff > 0 || (diff == 0 && u < 0.5); /* perfect: ties by a fair coin */
        else a_wins = u < sigmoid(p->reward_scale > 0 ? beta * diff / p->reward_scale : 0.0);
        p->winner[i] = (uint32_t)(a_wins ? a : b);
        p->loser[i] = (uint32_t)(a_wins ? b : a);
        if (diff != 0) {
            n_untied++;
            n_agree += (diff > 0) == (a_wins != 0);
        }
    }
    /* No untied pair: agreement is undefined, not perfect. */
    p->label_agreement = n_untied ? (double)n_agree / (double)n_untied : NAN;
    rm_permutation(seed, RM_STREAM_VALIDATION, p->order, count);
    return 0;
}

void rm_pairs_free(rm_pairs *p)
{
    free(p->winner);
    free(p->loser);
    free(p->order);
    memset(p, 0, sizeof *p);
}
