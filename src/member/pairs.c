/* Preference pairs: the comparison design (see include/rmens/member/pairs.h).
 *
 * Pair i is a pure function of (seed, i): its items come from RM_STREAM_PAIRS (sampling
 * "items") or RM_STREAM_PROMPT_PAIRS ("prompts"), its label from the annotator at counter
 * i, and the train/validation split from one permutation of RM_STREAM_VALIDATION. Any
 * rank builds the same pairs, and changing pairs.count does not change the first pairs. */
#include "rmens/member/pairs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/base/rng.h"

/* Redraws allowed for one pair of a prompt before giving up: with per_prompt at most
 * the number of distinct pairs, running out has a probability below e^-50. */
#define MAX_ATTEMPTS (1u << 16)

typedef enum { CAND_ALL, CAND_RANDOM_TWO, CAND_MIDDLE_TWO, CAND_EXTREMES } candidate_kind;

/* The responses of each prompt that may be compared: all K, or two per prompt. */
typedef struct {
    size_t per_prompt;   /* c */
    uint32_t *two;       /* [N][2] response indices, NULL for all */
} candidate_set;

static uint32_t candidate(const candidate_set *cs, size_t prompt, size_t j)
{
    return cs->two ? cs->two[2 * prompt + j] : (uint32_t)j;
}

static int parse_candidates(const char *name, candidate_kind *kind)
{
    static const char *names[] = {"all", "random_two", "middle_two", "extremes"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) {
            *kind = (candidate_kind)i;
            return 0;
        }
    return rm_errorf("pairs.candidates = \"%s\": expected \"all\", \"random_two\", \"middle_two\" or \"extremes\"", name);
}

/* Position `rank` (0 = lowest) of a prompt's golden order, ascending with ties by index:
 * a selection over K rewards by counting, O(K^2), K being a handful of responses. */
static uint32_t golden_position(const float *r, size_t K, size_t rank)
{
    for (size_t k = 0; k < K; k++) {
        size_t below = 0;
        for (size_t j = 0; j < K; j++) below += r[j] < r[k] || (r[j] == r[k] && j < k);
        if (below == rank) return (uint32_t)k;
    }
    return 0; /* unreachable: the positions are a permutation */
}

static int build_candidates(candidate_set *cs, candidate_kind kind, const float *rewards, size_t N, size_t K,
                            uint64_t seed)
{
    cs->two = NULL;
    cs->per_prompt = K;
    if (kind == CAND_ALL) return 0;
    cs->per_prompt = 2;
    cs->two = rm_alloc(2 * N, sizeof(uint32_t), "candidate responses");
    if (!cs->two) return -1;
    for (size_t p = 0; p < N; p++) {
        const float *r = rewards + p * K;
        uint32_t *t = cs->two + 2 * p;
        if (kind == CAND_RANDOM_TWO) {
            t[0] = (uint32_t)rm_rand_below(seed, RM_STREAM_CANDIDATES, 2 * p, K);
            t[1] = (uint32_t)rm_rand_below(seed, RM_STREAM_CANDIDATES, 2 * p + 1, K - 1);
            if (t[1] >= t[0]) t[1]++;
        } else if (kind == CAND_MIDDLE_TWO) {
            t[0] = golden_position(r, K, K / 2 - 1);
            t[1] = golden_position(r, K, K / 2);
        } else {
            t[0] = golden_position(r, K, 0);
            t[1] = golden_position(r, K, K - 1);
        }
    }
    return 0;
}

/* sampling = "items": pair i's two items (flat indices). */
static void draw_items_pair(const candidate_set *cs, size_t N, size_t K, int cross, uint64_t seed, size_t i,
                            uint64_t *a, uint64_t *b)
{
    const size_t c = cs->per_prompt;
    if (cross) {
        /* two distinct candidate items from anywhere: the second is drawn from the others */
        uint64_t ia = rm_rand_below(seed, RM_STREAM_PAIRS, 3 * i, N * c);
        uint64_t ib = rm_rand_below(seed, RM_STREAM_PAIRS, 3 * i + 1, N * c - 1);
        if (ib >= ia) ib++;
        *a = ia / c * K + candidate(cs, ia / c, ia % c);
        *b = ib / c * K + candidate(cs, ib / c, ib % c);
    } else {
        uint64_t prompt = rm_rand_below(seed, RM_STREAM_PAIRS, 3 * i, N);
        uint64_t ka = rm_rand_below(seed, RM_STREAM_PAIRS, 3 * i + 1, c);
        uint64_t kb = rm_rand_below(seed, RM_STREAM_PAIRS, 3 * i + 2, c - 1);
        if (kb >= ka) kb++;
        *a = prompt * K + candidate(cs, prompt, ka);
        *b = prompt * K + candidate(cs, prompt, kb);
    }
}

/* sampling = "prompts": attempt `attempt` at pair i, whose prompt is `prompt`. */
static void draw_prompt_pair(const candidate_set *cs, size_t N, size_t K, int cross, uint64_t seed, size_t i,
                             uint32_t attempt, size_t prompt, uint64_t *a, uint64_t *b)
{
    const size_t c = cs->per_prompt;
    const uint64_t base = (((uint64_t)i << 16) | attempt) * 4;
    uint64_t ka = rm_rand_below(seed, RM_STREAM_PROMPT_PAIRS, base, c);
    *a = prompt * K + candidate(cs, prompt, ka);
    if (cross) {
        uint64_t q = rm_rand_below(seed, RM_STREAM_PROMPT_PAIRS, base + 1, N - 1);
        if (q >= prompt) q++;
        *b = q * K + candidate(cs, q, rm_rand_below(seed, RM_STREAM_PROMPT_PAIRS, base + 2, c));
    } else {
        uint64_t kb = rm_rand_below(seed, RM_STREAM_PROMPT_PAIRS, base + 1, c - 1);
        if (kb >= ka) kb++;
        *b = prompt * K + candidate(cs, prompt, kb);
    }
}

static int check_design(const rm_pairs_design *d, const candidate_set *cs, size_t N, size_t K, int cross, int prompts)
{
    size_t n_items = N * K, c = cs->per_prompt;
    if (N != 0 && n_items / N != K) return rm_errorf("pairs: item count overflows");
    if (n_items > UINT32_MAX)
        return rm_errorf("pairs: %zu train items exceed the 2^32 limit of item indices", n_items);
    if (cross && N * c < 2)
        return rm_errorf("pairs.mode = \"cross_prompt\" needs at least 2 train items, the split has %zu", N * c);
    if (!cross && (N < 1 || K < 2))
        return rm_errorf("pairs.mode = \"within_prompt\" needs at least 2 responses per prompt, the split has %zu", K);
    if (d->count < 1 || d->count > UINT32_MAX) return rm_errorf("pairs.count = %zu is out of range [1, 4294967295]", d->count);
    if (!(d->val_fraction >= 0 && d->val_fraction < 1))
        return rm_errorf("train.val_fraction = %g is out of range [0, 1)", d->val_fraction);
    if (!prompts) return 0;
    if (d->per_prompt < 1) return rm_errorf("pairs.per_prompt = %zu: must be >= 1", d->per_prompt);
    if (d->count % d->per_prompt != 0)
        return rm_errorf("pairs.count = %zu is not a multiple of pairs.per_prompt = %zu (sampling \"prompts\")", d->count,
                         d->per_prompt);
    if (d->count / d->per_prompt > N)
        return rm_errorf("pairs.count / pairs.per_prompt = %zu prompts, but the train split has %zu (sampling \"prompts\")",
                         d->count / d->per_prompt, N);
    if (cross && N < 2) return rm_errorf("pairs.mode = \"cross_prompt\" with sampling \"prompts\" needs 2 prompts");
    /* distinct unordered pairs one prompt offers */
    double distinct = cross ? (double)c * (double)(N - 1) * (double)c : (double)c * (double)(c - 1) / 2;
    if ((double)d->per_prompt > distinct)
        return rm_errorf("pairs.per_prompt = %zu is more than the %.0f distinct %s pairs a prompt has with %zu candidate(s)",
                         d->per_prompt, distinct, d->mode, c);
    return 0;
}

/* pairs.per_prompt = 0 (within_prompt): all C(c, 2) pairs of a prompt's c candidates;
 * pairs.count = 0 (sampling "prompts"): every prompt. Other designs are copied as they are. */
static int resolve_counts(const rm_pairs_design *d, rm_pairs_design *out, size_t c, size_t N, int cross, int prompts)
{
    *out = *d;
    if (!prompts && out->per_prompt == 0) out->per_prompt = 1; /* not used by sampling "items" */
    if (out->per_prompt == 0) {
        if (cross)
            return rm_errorf("pairs.per_prompt = 0 (all pairs of a prompt) needs pairs.mode = \"within_prompt\" and "
                             "pairs.sampling = \"prompts\"");
        out->per_prompt = c * (c - 1) / 2;
    }
    if (out->count == 0) {
        if (!prompts) return rm_errorf("pairs.count = 0 (every prompt) needs pairs.sampling = \"prompts\"");
        out->count = N * out->per_prompt;
    }
    return 0;
}

/* The items of every pair into p->winner/loser (unlabelled: a in winner, b in loser). */
static int draw_all(rm_pairs *p, const rm_pairs_design *d, const candidate_set *cs, size_t N, size_t K, int cross,
                    int prompts)
{
    if (!prompts) {
        for (size_t i = 0; i < d->count; i++) {
            uint64_t a, b;
            draw_items_pair(cs, N, K, cross, d->seed, i, &a, &b);
            p->winner[i] = (uint32_t)a;
            p->loser[i] = (uint32_t)b;
        }
        return 0;
    }
    const size_t pp = d->per_prompt, n_used = d->count / pp;
    uint32_t *order = rm_alloc(N, sizeof(uint32_t), "prompt order");
    if (!order) return -1;
    rm_permutation(d->seed, RM_STREAM_PROMPT_ORDER, order, N);
    int rc = 0;
    for (size_t j = 0; j < n_used && rc == 0; j++) {
        for (size_t t = 0; t < pp; t++) {
            size_t i = j * pp + t;
            uint64_t a = 0, b = 0;
            uint32_t attempt = 0;
            for (;; attempt++) {
                if (attempt == MAX_ATTEMPTS) {
                    rc = rm_errorf("pairs.per_prompt = %zu: no distinct pair left for prompt %u after %u draws", pp,
                                   order[j], MAX_ATTEMPTS);
                    break;
                }
                draw_prompt_pair(cs, N, K, cross, d->seed, i, attempt, order[j], &a, &b);
                /* the same unordered pair twice in a prompt is redrawn (O(per_prompt) per draw) */
                size_t s = j * pp;
                for (; s < i; s++)
                    if ((p->winner[s] == a && p->loser[s] == b) || (p->winner[s] == b && p->loser[s] == a)) break;
                if (s == i) break;
            }
            if (rc != 0) break;
            p->winner[i] = (uint32_t)a;
            p->loser[i] = (uint32_t)b;
        }
    }
    free(order);
    return rc;
}

int rm_pairs_build(rm_pairs *p, const float *rewards, size_t n_prompts, size_t n_responses,
                   const rm_pairs_design *d, const rm_annotator *ann)
{
    memset(p, 0, sizeof *p);
    int cross = 0, prompts = 0;
    if (strcmp(d->mode, "cross_prompt") == 0) cross = 1;
    else if (strcmp(d->mode, "within_prompt") != 0)
        return rm_errorf("pairs.mode = \"%s\": expected \"cross_prompt\" or \"within_prompt\"", d->mode);
    if (strcmp(d->sampling, "prompts") == 0) prompts = 1;
    else if (strcmp(d->sampling, "items") != 0)
        return rm_errorf("pairs.sampling = \"%s\": expected \"items\" or \"prompts\"", d->sampling);
    candidate_kind kind = CAND_ALL;
    if (parse_candidates(d->candidates, &kind) != 0) return -1;
    if (kind != CAND_ALL && n_responses < 2)
        return rm_errorf("pairs.candidates = \"%s\" needs at least 2 responses per prompt, the split has %zu",
                         d->candidates, n_responses);
    candidate_set cs = {n_responses, NULL};
    if (kind != CAND_ALL) cs.per_prompt = 2;
    rm_pairs_design whole; /* pairs.count = 0 / pairs.per_prompt = 0: the whole design */
    if (resolve_counts(d, &whole, cs.per_prompt, n_prompts, cross, prompts) != 0) return -1;
    d = &whole;
    if (check_design(d, &cs, n_prompts, n_responses, cross, prompts) != 0) return -1;
    size_t n_val = (size_t)floor((double)d->count * d->val_fraction);
    if (n_val >= d->count)
        return rm_errorf("pairs.count = %zu with train.val_fraction = %g leaves no training pairs", d->count,
                         d->val_fraction);
    if (build_candidates(&cs, kind, rewards, n_prompts, n_responses, d->seed) != 0) return -1;

    p->n = d->count;
    p->n_train = d->count - n_val;
    p->winner = rm_alloc(d->count, sizeof(uint32_t), "pair winners");
    p->loser = rm_alloc(d->count, sizeof(uint32_t), "pair losers");
    p->order = rm_alloc(d->count, sizeof(uint32_t), "pair order");
    int rc = p->winner && p->loser && p->order ? 0 : -1;
    if (rc == 0) rc = draw_all(p, d, &cs, n_prompts, n_responses, cross, prompts);
    free(cs.two);
    if (rc != 0) {
        rm_pairs_free(p);
        return -1;
    }

    p->reward_scale = ann->reward_scale;
    size_t n_untied = 0, n_agree = 0, n_flipped = 0;
    for (size_t i = 0; i < d->count; i++) {
        uint32_t a = p->winner[i], b = p->loser[i];
        double diff = (double)rewards[a] - (double)rewards[b];
        int flipped = 0;
        int a_wins = rm_annotator_label(ann, i, rewards[a], rewards[b], &flipped);
        p->winner[i] = a_wins ? a : b;
        p->loser[i] = a_wins ? b : a;
        n_flipped += (size_t)flipped;
        if (diff != 0) {
            n_untied++;
            n_agree += (diff > 0) == (a_wins != 0);
        }
    }
    /* No untied pair: agreement is undefined, not perfect. */
    p->label_agreement = n_untied ? (double)n_agree / (double)n_untied : NAN;
    p->label_flip_rate = (double)n_flipped / (double)d->count;
    rm_permutation(d->seed, RM_STREAM_VALIDATION, p->order, d->count);
    p->split_rule = d->split_prompts ? "prompts" : "pairs";
    if (!d->split_prompts && d->folds == 0) {
        p->n_val = d->count - p->n_train;
        return 0;
    }
    if (rm_pairs_split_by_prompts(p, d, n_prompts, n_responses) != 0) {
        rm_pairs_free(p);
        return -1;
    }
    return 0;
}

int rm_pairs_fold_prompts(uint64_t seed, size_t n_prompts, int folds, int fold, unsigned char *in_fold)
{
    if (folds < 2 || fold < 0 || fold >= folds || (size_t)folds > n_prompts)
        return rm_errorf("folds: fold %d of %d over %zu prompts is out of range (2 <= folds <= prompts)", fold, folds,
                         n_prompts);
    uint32_t *perm = rm_alloc(n_prompts, sizeof(uint32_t), "fold order");
    if (!perm) return -1;
    rm_permutation(seed, RM_STREAM_FOLDS, perm, n_prompts);
    for (size_t j = 0; j < n_prompts; j++) in_fold[perm[j]] = (unsigned char)(j * (size_t)folds / n_prompts == (size_t)fold);
    free(perm);
    return 0;
}

/* Each train prompt's side: 0 trains, 1 validates, 2 is held out (its fold scores). */
enum { SIDE_TRAIN = 0, SIDE_VAL = 1, SIDE_HELD_OUT = 2 };

static int prompt_sides(const rm_pairs_design *d, size_t N, unsigned char *side)
{
    /* the units dealt: prompts, or their groups (then each prompt takes its group's side) */
    size_t U = d->prompt_group ? d->n_groups : N;
    unsigned char *unit = d->prompt_group ? rm_alloc(U + 1, 1, "group sides") : side;
    if (!unit) return -1;
    int rc = 0;
    memset(unit, SIDE_TRAIN, U);
    if (d->folds > 0 && rm_pairs_fold_prompts(d->seed, U, d->folds, d->heldout_fold, unit) != 0) rc = -1;
    for (size_t q = 0; q < U && rc == 0; q++) unit[q] = unit[q] ? SIDE_HELD_OUT : SIDE_TRAIN;
    if (rc == 0 && d->split_prompts) {
        uint32_t *perm = rm_alloc(U, sizeof(uint32_t), "validation prompts");
        if (!perm) rc = -1;
        else {
            rm_permutation(d->seed, RM_STREAM_VAL_PROMPTS, perm, U);
            size_t usable = 0;
            for (size_t q = 0; q < U; q++) usable += unit[q] != SIDE_HELD_OUT;
            size_t n_val = (size_t)llround((double)usable * d->val_fraction), taken = 0;
            for (size_t j = 0; j < U && taken < n_val; j++)
                if (unit[perm[j]] == SIDE_TRAIN) unit[perm[j]] = SIDE_VAL, taken++;
            free(perm);
        }
    }
    if (d->prompt_group) {
        for (size_t q = 0; q < N && rc == 0; q++) side[q] = unit[d->prompt_group[q]];
        free(unit);
    }
    return rc;
}

int rm_pairs_heldout_prompts(const rm_pairs_design *d, size_t n_prompts, unsigned char *in_fold)
{
    rm_pairs_design folds_only = *d;
    folds_only.split_prompts = 0; /* the fold alone, not a validation split as well */
    if (prompt_sides(&folds_only, n_prompts, in_fold) != 0) return -1;
    for (size_t q = 0; q < n_prompts; q++) in_fold[q] = in_fold[q] == SIDE_HELD_OUT;
    return 0;
}

/* order = the training pairs, then the validation pairs, then the dropped ones, each in
 * the order of the pairs' permutation (already in p->order). */
int rm_pairs_split_by_prompts(rm_pairs *p, const rm_pairs_design *d, size_t N, size_t K)
{
    unsigned char *side = rm_alloc(N + 1, 1, "prompt sides");
    uint32_t *sorted = rm_alloc(p->n + 1, sizeof(uint32_t), "pair split");
    int rc = side && sorted ? prompt_sides(d, N, side) : -1;
    /* Without split_prompts (a held-out fold under train.val_split "pairs"), the pairs keep
     * their own split: position j of the order trains below the pre-fold n_train. */
    const size_t pairs_train = p->n_train;
    if (rc == 0) {
        size_t at = 0;
        p->n_train = p->n_val = 0;
        for (int want = SIDE_TRAIN; want <= SIDE_HELD_OUT; want++) /* HELD_OUT here: dropped */
            for (size_t j = 0; j < p->n; j++) {
                uint32_t i = p->order[j];
                unsigned char sa = side[p->winner[i] / K], sb = side[p->loser[i] / K];
                int kind = sa == sb && sa != SIDE_HELD_OUT ? sa : SIDE_HELD_OUT;
                if (!d->split_prompts && kind != SIDE_HELD_OUT) kind = j < pairs_train ? SIDE_TRAIN : SIDE_VAL;
                if (kind != want) continue;
                sorted[at++] = i;
                p->n_train += kind == SIDE_TRAIN;
                p->n_val += kind == SIDE_VAL;
            }
        memcpy(p->order, sorted, p->n * sizeof(uint32_t));
        if (d->split_prompts) p->split_rule = "prompts";
        if (p->n_train == 0)
            rc = rm_errorf("train.val_split = \"prompts\": no training pair is left (pairs.count = %zu, train.val_fraction = %g)",
                           p->n, d->val_fraction);
        else if (d->split_prompts && d->val_fraction > 0 && p->n_val == 0)
            rc = rm_errorf("train.val_split = \"prompts\": no pair has both items on validation prompts "
                           "(pairs.count = %zu, train.val_fraction = %g): draw more pairs or use within_prompt pairs",
                           p->n, d->val_fraction);
    }
    free(side);
    free(sorted);
    return rc;
}

void rm_pairs_design_from_settings(rm_pairs_design *d, const rm_settings *cfg)
{
    d->mode = cfg->pairs_mode;
    d->sampling = cfg->pairs_sampling[0] ? cfg->pairs_sampling : "items";
    d->candidates = cfg->pairs_candidates[0] ? cfg->pairs_candidates : "all";
    d->count = cfg->pairs_count > 0 ? (size_t)cfg->pairs_count : 0;
    d->per_prompt = cfg->pairs_per_prompt > 0 ? (size_t)cfg->pairs_per_prompt : 0;
    d->val_fraction = cfg->train_val_fraction;
    d->split_prompts = strcmp(cfg->train_val_split, "prompts") == 0;
    d->folds = 0;
    d->heldout_fold = 0;
    d->seed = (uint64_t)cfg->seed;
    d->prompt_group = NULL;
    d->n_groups = 0;
}

int rm_pairs_build_from_settings(rm_pairs *p, const rm_settings *cfg, const float *rewards, size_t n_prompts,
                                 size_t n_responses)
{
    return rm_pairs_build_grouped(p, cfg, rewards, n_prompts, n_responses, NULL, 0);
}

int rm_pairs_build_grouped(rm_pairs *p, const rm_settings *cfg, const float *rewards, size_t n_prompts,
                           size_t n_responses, const uint32_t *prompt_group, size_t n_groups)
{
    memset(p, 0, sizeof *p);
    rm_annotator ann;
    double scale = rm_annotator_scale(cfg, rewards, n_prompts * n_responses);
    if (rm_annotator_from_settings(&ann, cfg, scale) != 0) return -1;
    rm_pairs_design d;
    rm_pairs_design_from_settings(&d, cfg);
    d.prompt_group = prompt_group;
    d.n_groups = n_groups;
    if (rm_pairs_build(p, rewards, n_prompts, n_responses, &d, &ann) != 0) return -1;
    if (strcmp(cfg->train_val_split, "entries") == 0) p->split_rule = "entries";
    return 0;
}

void rm_pairs_free(rm_pairs *p)
{
    free(p->winner);
    free(p->loser);
    free(p->order);
    memset(p, 0, sizeof *p);
}

int rm_pairs_split_overlap(const rm_pairs *p, size_t n_prompts, size_t n_responses, const uint32_t *train_ids,
                           size_t n_train, const uint32_t *val_ids, size_t n_val, double *prompt_overlap,
                           double *item_overlap)
{
    *prompt_overlap = *item_overlap = NAN;
    if (n_val == 0) return 0;
    const size_t n_items = n_prompts * n_responses;
    unsigned char *prompt_used = rm_calloc(n_prompts + 1, 1, "prompts in training");
    unsigned char *item_used = rm_calloc(n_items + 1, 1, "items in training");
    if (!prompt_used || !item_used) {
        free(prompt_used);
        free(item_used);
        return -1;
    }
    for (size_t j = 0; j < n_train; j++) {
        uint32_t a = p->winner[train_ids[j]], b = p->loser[train_ids[j]];
        item_used[a] = item_used[b] = 1;
        prompt_used[a / n_responses] = prompt_used[b / n_responses] = 1;
    }
    size_t shared_prompt = 0, shared_item = 0;
    for (size_t j = 0; j < n_val; j++) {
        uint32_t a = p->winner[val_ids[j]], b = p->loser[val_ids[j]];
        shared_prompt += prompt_used[a / n_responses] || prompt_used[b / n_responses];
        shared_item += item_used[a] || item_used[b];
    }
    *prompt_overlap = (double)shared_prompt / (double)n_val;
    *item_overlap = (double)shared_item / (double)n_val;
    free(prompt_used);
    free(item_used);
    return 0;
}
