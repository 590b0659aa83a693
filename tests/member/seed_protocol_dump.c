/* Trains members of a configuration on in-memory synthetic splits and writes everything
 * tests/member/check_seed_protocol.py needs to re-train the same pairs in PyTorch:
 *
 *   seed_protocol_dump CONFIG OUT_DIR N K D N_TEST K_TEST MEMBERS [key=value ...]
 *
 * CONFIG is loaded as `rmens` loads it (then the overrides). The train split is
 * synth_make(N, K, D, seed 11), the test split synth_make(N_TEST, K_TEST, D, seed 12): the
 * same golden function (tests/common/synthetic.h), other prompts. Pairs come from
 * rm_pairs_build_from_settings on the train split; members 0..MEMBERS-1 are trained with
 * rm_train_member on one rank (seeds cfg.seed * 42 + m).
 *
 * OUT_DIR/meta.txt: "key value" lines (shapes, pair counts, the four loop rules, batch,
 * epochs, patience, learning rate, hidden widths); binary files (little-endian):
 *   train_x.f32 [N*K, D], train_g.f32 [N*K], test_x.f32 [N_TEST*K_TEST, D], test_g.f32,
 *   winner.u32 / loser.u32 / order.u32 [n] (order[0..n_train) the training pairs),
 *   member<m>.params.f32 (W0 b0 W1 b1 ... as nn.Linear), member<m>.history.f64
 *   (epochs_run, best_epoch, then train_loss, val_loss, val_accuracy [epochs_run] each,
 *   then pairs_trained: the list entries trained on, all epochs). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/member/train_lists.h"
#include "rmens/member/family.h"
#include "rmens/base/common.h"
#include "rmens/base/config.h"
#include "rmens/member/pairs.h"
#include "rmens/member/train.h"
#include "../common/synthetic.h"

static int write_file(const char *dir, const char *name, const void *data, size_t size, size_t n)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, size, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "seed_protocol_dump: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    if (argc < 9) {
        fprintf(stderr, "usage: seed_protocol_dump CONFIG OUT_DIR N K D N_TEST K_TEST MEMBERS [key=value ...]\n");
        MPI_Finalize();
        return 1;
    }
    const char *dir = argv[2];
    size_t N = strtoull(argv[3], NULL, 10), K = strtoull(argv[4], NULL, 10), D = strtoull(argv[5], NULL, 10);
    size_t NT = strtoull(argv[6], NULL, 10), KT = strtoull(argv[7], NULL, 10);
    int members = atoi(argv[8]);
    rm_settings cfg;
    synth_split train, test;
    rm_pairs pairs;
    if (rm_settings_load(&cfg, argv[1], (const char *const *)argv + 9, argc - 9) != 0 ||
        synth_make(&train, N, K, D, 11) != 0 || synth_make(&test, NT, KT, D, 12) != 0 ||
        rm_pairs_build_from_settings(&pairs, &cfg, train.rewards, N, K) != 0) {
        fprintf(stderr, "seed_protocol_dump: %s\n", rm_last_error());
        MPI_Finalize();
        return 2;
    }
    int status = 0;
    if (write_file(dir, "train_x.f32", train.embeddings, sizeof(float), N * K * D) ||
        write_file(dir, "train_g.f32", train.rewards, sizeof(float), N * K) ||
        write_file(dir, "test_x.f32", test.embeddings, sizeof(float), NT * KT * D) ||
        write_file(dir, "test_g.f32", test.rewards, sizeof(float), NT * KT) ||
        write_file(dir, "winner.u32", pairs.winner, sizeof(uint32_t), pairs.n) ||
        write_file(dir, "loser.u32", pairs.loser, sizeof(uint32_t), pairs.n) ||
        write_file(dir, "order.u32", pairs.order, sizeof(uint32_t), pairs.n))
        status = 1;

    rm_train_data data = {train.embeddings, train.rewards, N, K, D, NULL};
    for (int m = 0; m < members && status == 0; m++) {
        rm_member member;
        if (rm_train_member(&cfg, &data, &pairs, m, MPI_COMM_SELF, &member, NULL, NULL) != 0) {
            fprintf(stderr, "seed_protocol_dump: member %d: %s\n", m, rm_last_error());
            status = 2;
            break;
        }
        const int E = member.epochs_run;
        double *history = malloc(sizeof(double) * (3 + 3 * (size_t)E));
        history[0] = E;
        history[1] = member.best_epoch;
        rm_member_history_rows(&member, history + 2, E);
        history[2 + 3 * (size_t)E] = (double)member.pairs_trained;
        char name[64];
        snprintf(name, sizeof name, "member%d.params.f32", m);
        if (write_file(dir, name, member.mlp.params, sizeof(float), member.mlp.n_params)) status = 1;
        snprintf(name, sizeof name, "member%d.history.f64", m);
        if (write_file(dir, name, history, sizeof(double), 3 + 3 * (size_t)E)) status = 1;
        free(history);
        /* the member's own training and validation lists (train.val_split) */
        size_t n_val, n_list = rm_member_list_sizes(&cfg, &pairs, &n_val);
        uint32_t *lists = malloc(sizeof(uint32_t) * (n_list + n_val + 1));
        if (!lists || rm_member_lists(&cfg, &pairs, m, lists, lists + n_list) != 0) status = 1;
        snprintf(name, sizeof name, "member%d.train_ids.u32", m);
        if (status == 0 && write_file(dir, name, lists, sizeof(uint32_t), n_list)) status = 1;
        snprintf(name, sizeof name, "member%d.val_ids.u32", m);
        if (status == 0 && write_file(dir, name, lists + n_list, sizeof(uint32_t), n_val)) status = 1;
        free(lists);
        rm_member_free(&member);
    }

    char path[2048];
    snprintf(path, sizeof path, "%s/meta.txt", dir);
    FILE *f = status == 0 ? fopen(path, "w") : NULL;
    if (status == 0 && !f) status = 1;
    if (f) {
        fprintf(f, "N %zu\nK %zu\nD %zu\nN_test %zu\nK_test %zu\nmembers %d\nseed %lld\n", N, K, D, NT, KT, members,
                cfg.seed);
        fprintf(f, "n_pairs %zu\nn_train %zu\nlabel_agreement %.17g\nreward_scale %.17g\n", pairs.n, pairs.n_train,
                pairs.label_agreement, pairs.reward_scale);
        fprintf(f, "both_orders %d\nminibatches %s\nstop_rule %s\nrestore_best %d\nval_split %s\n", cfg.pairs_both_orders,
                cfg.train_minibatches, cfg.train_stop_rule, cfg.train_restore_best, cfg.train_val_split);
        fprintf(f, "batch_size %lld\nepochs %lld\npatience %lld\nlearning_rate %.17g\nweight_decay %.17g\nobjective %s\n",
                cfg.train_batch_size, cfg.train_epochs, cfg.train_patience, cfg.train_learning_rate,
                cfg.train_weight_decay, cfg.model_objective);
        fprintf(f, "ensemble_data %s\nhidden", cfg.ensemble_data);
        for (int l = 0; l < cfg.model_n_hidden; l++) fprintf(f, " %d", cfg.model_hidden[l]);
        fprintf(f, "\n");
        if (fclose(f) != 0) status = 1;
    }
    rm_pairs_free(&pairs);
    synth_free(&train);
    synth_free(&test);
    rm_settings_free(&cfg);
    MPI_Finalize();
    return status;
}
