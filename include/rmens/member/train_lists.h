/* Which pairs a member trains and validates on (src/member/train_lists.c). */
#ifndef RMENS_MEMBER_TRAIN_LISTS_H
#define RMENS_MEMBER_TRAIN_LISTS_H

#include <stddef.h>
#include <stdint.h>

#include "rmens/base/config.h"
#include "rmens/member/member.h"
#include "rmens/member/pairs.h"

/* Member `index`'s training and validation lists, as pair ids (train.val_split):
 *  - "pairs" (default): the pairs' own split (pairs->order), the same for every member;
 *    with pairs.both_orders each training pair twice in a row;
 *  - "entries" (the seed code's train_test_split of its doubled list): all pairs, each
 *    twice with both orders, in one permutation per member from
 *    RM_STREAM_MEMBER(index, RM_MEMBER_SPLIT); its first floor(n_entries * val_fraction)
 *    entries validate, the rest train, so a pair's two orders may fall on both sides.
 * ensemble.data = "bootstrap" resamples the training list. Sizes first (n_val may be
 * NULL); the lists go into caller arrays of those sizes. */
size_t rm_member_list_sizes(const rm_settings *cfg, const rm_pairs *pairs, size_t *n_val);
int rm_member_lists(const rm_settings *cfg, const rm_pairs *pairs, int index, uint32_t *train_ids, uint32_t *val_ids);

/* The train items (flat p * K + k) a run's members read, of n_items: every item of every
 * pair (each member's lists are drawn from them) and the standardisation's
 * (train.standardise_responses). *wanted = NULL when that is all of them; else
 * wanted[n_items], 1 for those (caller frees). For rm_shared_split_read: the rest of the
 * train split is never read. */
int rm_member_items_read(const rm_settings *cfg, const rm_pairs *pairs, size_t n_items, uint8_t **wanted);
/* rm_train_data_require for every item of every pair. */
int rm_member_require_pairs(const rm_train_data *data, const rm_pairs *pairs);

/* The realised leak of member 0's lists (the same split for every member but under
 * "entries"): pairs->val_prompt_overlap and val_item_overlap (rm_pairs_split_overlap). */
int rm_member_split_overlap(const rm_settings *cfg, rm_pairs *pairs, size_t n_prompts, size_t n_responses);

/* Head `index`'s weight of each entry of the unit's training list (length n_list, as
 * rm_member_list_sizes): 1 with ensemble.data = "full", else its bootstrap counts. */
int rm_trunk_head_weights(const rm_settings *cfg, const rm_pairs *pairs, int index, float *weights, size_t n_list);

#endif
