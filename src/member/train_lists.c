/* A member's training and validation lists (train.val_split, ensemble.data), and a
 * shared trunk's heads' weights over its list (include/rmens/member/train.h, rmens/member/trunk.h). */
#include "rmens/member/train_lists.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "member_internal.h"
#include "rmens/base/common.h"
#include "rmens/base/rng.h"
#include "rmens/member/member_scoring.h"
#include "rmens/member/trunk.h"

/* Pairs a split may use: all of them, unless a held-out fold dropped some (rmens select). */
static size_t kept_pairs(const rm_pairs *pairs)
{
    return pairs->n_train + pairs->n_val;
}

size_t rm_member_list_sizes(const rm_settings *cfg, const rm_pairs *pairs, size_t *n_val)
{
    const size_t copies = cfg->pairs_both_orders ? 2 : 1;
    if (strcmp(cfg->train_val_split, "entries") == 0) {
        size_t total = kept_pairs(pairs) * copies, v = (size_t)floor((double)total * cfg->train_val_fraction);
        if (n_val) *n_val = v;
        return total - v;
    }
    if (n_val) *n_val = pairs->n_val;
    return pairs->n_train * copies;
}

int rm_member_lists(const rm_settings *cfg, const rm_pairs *pairs, int index, uint32_t *train_ids, uint32_t *val_ids)
{
    return rm_member_lists_of(cfg, pairs, index, 1, train_ids, val_ids);
}

int rm_member_lists_of(const rm_settings *cfg, const rm_pairs *pairs, int index, int resample, uint32_t *train_ids,
                       uint32_t *val_ids)
{
    const uint64_t seed = rm_member_seed((uint64_t)cfg->seed, index);
    const int bootstrap = resample && strcmp(cfg->ensemble_data, "bootstrap") == 0;
    const size_t copies = cfg->pairs_both_orders ? 2 : 1;
    size_t n_val;
    rm_member_list_sizes(cfg, pairs, &n_val);
    /* the validation list, and the source the training list is made from */
    const uint32_t *val_src, *train_src;
    uint32_t *perm = NULL;
    size_t n_train_src;
    if (strcmp(cfg->train_val_split, "entries") == 0) {
        /* the seed code's split: over the list of entries (each pair `copies` times), one
         * per member, so a pair's two orders may fall on both sides */
        const size_t kept = kept_pairs(pairs), total = kept * copies;
        perm = rm_alloc(total, sizeof(uint32_t), "member split");
        if (!perm) return -1;
        rm_permutation(seed, RM_STREAM_MEMBER(index, RM_MEMBER_SPLIT), perm, total);
        /* entry -> pair: every pair, or with a fold held out the kept ones (order's head) */
        for (size_t e = 0; e < total; e++)
            perm[e] = kept == pairs->n ? (uint32_t)(perm[e] / copies) : pairs->order[perm[e] / copies];
        val_src = perm;
        train_src = perm + n_val;
        n_train_src = total - n_val;
    } else {
        val_src = pairs->order + pairs->n_train;
        train_src = pairs->order;
        n_train_src = pairs->n_train;
    }
    for (size_t i = 0; i < n_val; i++) val_ids[i] = val_src[i];
    /* pairs: each training pair `copies` times in a row (the two orders have the same loss
     * and gradient, so an entry is the pair itself); entries: each entry once. Bootstrap
     * resamples the training pairs (or entries) with replacement. */
    const size_t repeat = perm ? 1 : copies;
    for (size_t i = 0; i < n_train_src; i++) {
        size_t pick = bootstrap ? (size_t)rm_rand_below(seed, RM_STREAM_MEMBER(index, RM_MEMBER_BOOTSTRAP), i, n_train_src) : i;
        for (size_t c = 0; c < repeat; c++) train_ids[i * repeat + c] = train_src[pick];
    }
    free(perm);
    return 0;
}

int rm_member_split_overlap(const rm_settings *cfg, rm_pairs *pairs, size_t n_prompts, size_t n_responses)
{
    size_t n_val = 0, n_train = rm_member_list_sizes(cfg, pairs, &n_val);
    uint32_t *ids = rm_alloc(n_train + n_val + 1, sizeof(uint32_t), "member lists");
    int rc = ids ? rm_member_lists_of(cfg, pairs, 0, 0, ids, ids + n_train) : -1;
    if (rc == 0)
        rc = rm_pairs_split_overlap(pairs, n_prompts, n_responses, ids, n_train, ids + n_train, n_val,
                                    &pairs->val_prompt_overlap, &pairs->val_item_overlap);
    free(ids);
    return rc;
}

int rm_trunk_head_weights(const rm_settings *cfg, const rm_pairs *pairs, int index, float *weights, size_t n_list)
{
    const size_t list = rm_member_list_sizes(cfg, pairs, NULL);
    if (list != n_list)
        return rm_errorf("shared trunk: head %d's weights for %zu list entries, the list has %zu", index, n_list, list);
    const int bootstrap = strcmp(cfg->ensemble_data, "bootstrap") == 0;
    for (size_t j = 0; j < n_list; j++) weights[j] = bootstrap ? 0.0f : 1.0f;
    if (!bootstrap) return 0;
    /* The unit's list is member 0's without resampling (rm_member_lists_of): its source
     * entries (the training pairs, or with val_split = "entries" member 0's training
     * entries) each `repeat` times in a row. Head `index` draws its resample of the
     * sources exactly as an independent member `index` would, and each list entry weighs
     * the number of times its source was drawn. */
    const uint64_t seed = rm_member_seed((uint64_t)cfg->seed, index);
    const int entries = strcmp(cfg->train_val_split, "entries") == 0;
    const size_t repeat = entries ? 1 : (cfg->pairs_both_orders ? 2 : 1), n_src = n_list / repeat;
    for (size_t i = 0; i < n_src; i++) {
        size_t pick = (size_t)rm_rand_below(seed, RM_STREAM_MEMBER(index, RM_MEMBER_BOOTSTRAP), i, n_src);
        for (size_t c = 0; c < repeat; c++) weights[pick * repeat + c] += 1.0f;
    }
    return 0;
}

int rm_member_items_read(const rm_settings *cfg, const rm_pairs *pairs, size_t n_items, uint8_t **wanted)
{
    *wanted = NULL;
    const size_t sample = rm_standardise_items(n_items, (size_t)cfg->train_standardise_responses);
    if (sample == 0) return 0; /* the standardisation reads every item */
    uint8_t *w = rm_calloc(n_items, 1, "train responses read");
    if (!w) return -1;
    for (size_t j = 0; j < sample; j++) w[rm_standardise_item(j, n_items, sample)] = 1;
    for (size_t i = 0; i < pairs->n; i++) {
        if (pairs->winner[i] >= n_items || pairs->loser[i] >= n_items) {
            free(w);
            return rm_errorf("pair %zu: item %u or %u is outside the %zu train responses", i, pairs->winner[i],
                             pairs->loser[i], n_items);
        }
        w[pairs->winner[i]] = w[pairs->loser[i]] = 1;
    }
    *wanted = w;
    return 0;
}

int rm_member_require_pairs(const rm_train_data *data, const rm_pairs *pairs)
{
    if (rm_train_data_require(data, pairs->winner, pairs->n, "training pairs (winners)") != 0) return -1;
    return rm_train_data_require(data, pairs->loser, pairs->n, "training pairs (losers)");
}
