/* The simulated annotator (see include/rmens/member/annotator.h). */
#include "rmens/member/annotator.h"

#include <math.h>

#include "rmens/base/common.h"
#include "rmens/base/rng.h"

static double sigmoid(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

int rm_annotator_from_settings(rm_annotator *a, const rm_settings *cfg, double reward_scale)
{
    if (!(cfg->pairs_label_flip >= 0 && cfg->pairs_label_flip <= 0.5))
        return rm_errorf("pairs.label_flip = %g is out of range [0, 0.5]", cfg->pairs_label_flip);
    if (!isfinite(cfg->pairs_annotator_beta))
        return rm_errorf("pairs.annotator_beta = %g: must be finite", cfg->pairs_annotator_beta);
    if (!(cfg->pairs_reward_scale >= 0) || !isfinite(cfg->pairs_reward_scale))
        return rm_errorf("pairs.reward_scale = %g: must be \"std\" or a number > 0", cfg->pairs_reward_scale);
    a->beta = cfg->pairs_annotator_beta;
    a->label_flip = cfg->pairs_label_flip;
    a->reward_scale = reward_scale;
    a->seed = (uint64_t)cfg->seed;
    a->label_stream = RM_STREAM_LABELS;
    a->flip_stream = RM_STREAM_LABEL_FLIPS;
    return 0;
}

double rm_annotator_scale(const rm_settings *cfg, const float *rewards, size_t n)
{
    if (cfg->pairs_reward_scale > 0) return cfg->pairs_reward_scale;
    if (n == 0) return 0;
    /* population standard deviation, two-pass (the rewards are not centred) */
    double mean = 0;
    for (size_t i = 0; i < n; i++) mean += rewards[i];
    mean /= (double)n;
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += ((double)rewards[i] - mean) * ((double)rewards[i] - mean);
    return sqrt(ss / (double)n);
}

/* P(the base annotator prefers a). */
static double base_probability(const rm_annotator *a, double diff)
{
    if (a->beta < 0) return diff > 0 ? 1.0 : diff < 0 ? 0.0 : 0.5;
    return sigmoid(a->reward_scale > 0 ? a->beta * diff / a->reward_scale : 0.0);
}

double rm_annotator_probability(const rm_annotator *a, double golden_a, double golden_b)
{
    double p = base_probability(a, golden_a - golden_b);
    return (1.0 - a->label_flip) * p + a->label_flip * (1.0 - p);
}

int rm_annotator_label(const rm_annotator *a, uint64_t index, double golden_a, double golden_b, int *flipped)
{
    double diff = golden_a - golden_b;
    double u = rm_rand_uniform(a->seed, a->label_stream, index);
    int a_wins;
    /* The perfect annotator compares directly (a probability of exactly 1 or 0 would do
     * the same, but the tie's coin must be u < 0.5 as before). */
    if (a->beta < 0) a_wins = diff > 0 || (diff == 0 && u < 0.5);
    else a_wins = u < base_probability(a, diff);
    int flip = a->label_flip > 0 && rm_rand_uniform(a->seed, a->flip_stream, index) < a->label_flip;
    if (flipped) *flipped = flip;
    return flip ? !a_wins : a_wins;
}
