/* The training / validation split of a configuration's pairs, as `rmens train` builds it
 * (rm_pairs_build_from_settings, then rm_member_split_overlap), written for
 * tests/member/test_val_split_prompts.py.
 *
 *   val_split_dump OUT N K REWARDS CONFIG [key=value ...]
 *
 * REWARDS: a raw float32 file of the N*K train rewards (a store's /train/rewards, so the
 * pairs are exactly the ones `rmens train` draws on that store), or "-" for the in-memory
 * synthetic split of tests/common/synthetic.h. CONFIG: the run's configuration file (its
 * annotator decides the labels), or "-" for the defaults. Writes OUT: uint64 N, K, n, n_train, n_val,
 * n_list_train, n_list_val; double val_prompt_overlap, val_item_overlap; char[16]
 * split_rule; then uint32 winner[n], loser[n], order[n], and member 0's lists
 * train_ids[n_list_train], val_ids[n_list_val] (rm_member_lists). A build error is printed
 * as "error: ..." with exit status 2. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/synthetic.h"
#include "rmens/base/common.h"
#include "rmens/base/config.h"
#include "rmens/member/pairs.h"
#include "rmens/member/train_lists.h"

static int write_all(FILE *f, const void *p, size_t size, size_t n) { return fwrite(p, size, n, f) == n ? 0 : -1; }

static float *read_rewards(const char *path, size_t n)
{
    float *r = malloc(n * sizeof(float) + 1);
    FILE *f = fopen(path, "rb");
    if (!r || !f || fread(r, sizeof(float), n, f) != n) {
        fprintf(stderr, "val_split_dump: cannot read %zu rewards from %s\n", n, path);
        exit(1);
    }
    fclose(f);
    return r;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    if (argc < 6) {
        fprintf(stderr, "usage: val_split_dump OUT N K REWARDS|- CONFIG|- [key=value ...]\n");
        MPI_Finalize();
        return 1;
    }
    size_t N = strtoull(argv[2], NULL, 10), K = strtoull(argv[3], NULL, 10);
    rm_settings cfg;
    synth_split split = {0};
    float *rewards = NULL;
    rm_pairs pairs;
    int status = 0;
    if (strcmp(argv[4], "-") == 0) {
        if (synth_make(&split, N, K, 8, 77) != 0) return 1;
        rewards = split.rewards;
    } else {
        rewards = read_rewards(argv[4], N * K);
    }
    const char *config = strcmp(argv[5], "-") == 0 ? NULL : argv[5];
    if (rm_settings_load(&cfg, config, (const char *const *)argv + 6, argc - 6) != 0) status = 2;
    else if (rm_pairs_build_from_settings(&pairs, &cfg, rewards, N, K) != 0) status = 2;
    else if (rm_member_split_overlap(&cfg, &pairs, N, K) != 0) status = 2;
    if (status != 0) {
        printf("error: %s\n", rm_last_error());
        MPI_Finalize();
        return status;
    }
    size_t n_val_list = 0, n_train_list = rm_member_list_sizes(&cfg, &pairs, &n_val_list);
    uint32_t *ids = malloc((n_train_list + n_val_list + 1) * sizeof(uint32_t));
    if (!ids || rm_member_lists(&cfg, &pairs, 0, ids, ids + n_train_list) != 0) {
        printf("error: member lists: %s\n", rm_last_error());
        MPI_Finalize();
        return 2;
    }
    FILE *f = fopen(argv[1], "wb");
    uint64_t head[7] = {N, K, pairs.n, pairs.n_train, pairs.n_val, n_train_list, n_val_list};
    double overlap[2] = {pairs.val_prompt_overlap, pairs.val_item_overlap};
    char rule[16] = {0};
    snprintf(rule, sizeof rule, "%s", pairs.split_rule ? pairs.split_rule : "");
    if (!f || write_all(f, head, sizeof head[0], 7) || write_all(f, overlap, sizeof overlap[0], 2) ||
        write_all(f, rule, 1, sizeof rule) || write_all(f, pairs.winner, sizeof(uint32_t), pairs.n) ||
        write_all(f, pairs.loser, sizeof(uint32_t), pairs.n) || write_all(f, pairs.order, sizeof(uint32_t), pairs.n) ||
        write_all(f, ids, sizeof(uint32_t), n_train_list + n_val_list) || fclose(f) != 0) {
        fprintf(stderr, "val_split_dump: cannot write %s\n", argv[1]);
        return 1;
    }
    free(ids);
    rm_pairs_free(&pairs);
    if (rewards != split.rewards) free(rewards);
    synth_free(&split);
    rm_settings_free(&cfg);
    MPI_Finalize();
    return 0;
}
