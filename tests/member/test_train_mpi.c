/* Data-parallel training of one member over a group of 2 ranks (run under mpirun -n 2):
 * every rank of the group ends with the same parameters, a second run is bitwise
 * identical, and the result agrees with training on one rank up to float round-off in
 * the gradient sums (relative parameter difference, validation accuracy, standardisation). */
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "../common/settings.h"
#include "rmens/member/train_lists.h"
#include "rmens/member/family.h"
#include "rmens/base/common.h"
#include "rmens/base/config.h"
#include "rmens/member/pairs.h"
#include "rmens/member/train.h"
#include "../common/synthetic.h"

static int train(const rm_settings *cfg, const rm_train_data *data, const rm_pairs *pairs, MPI_Comm group, rm_member *out)
{
    int rc = rm_train_member(cfg, data, pairs, 0, group, out, NULL, NULL);
    if (rc != 0) fprintf(stderr, "train: %s\n", rm_last_error());
    return rc;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    CHECK(size == 2);

    synth_split split;
    if (synth_make(&split, 300, 8, 16, 11) != 0) return 2;
    /* batch 63: shares of 31 and 32 pairs; the last minibatch of 2400 pairs has 6 */
    const char *sets[] = {"model.hidden=[32, 16]", "train.epochs=4", "train.batch_size=63",
                          "train.learning_rate=0.003", "seed=5", "pairs.annotator_beta=1.0"};
    rm_settings cfg;
    CHECK(test_settings_load(&cfg, sets, 6, NULL, 0) == 0);
    rm_pairs pairs;
    CHECK(test_pairs_build(&pairs, split.rewards, split.n_prompts, split.n_responses, cfg.pairs_mode, 3000,
                         cfg.pairs_annotator_beta, cfg.train_val_fraction, (uint64_t)cfg.seed) == 0);
    rm_train_data data = {split.embeddings, split.rewards, split.n_prompts, split.n_responses, split.dim, NULL};

    rm_member single, dp, dp_again;
    CHECK(train(&cfg, &data, &pairs, MPI_COMM_SELF, &single) == 0);
    CHECK(train(&cfg, &data, &pairs, MPI_COMM_WORLD, &dp) == 0);
    CHECK(train(&cfg, &data, &pairs, MPI_COMM_WORLD, &dp_again) == 0);
    size_t n = dp.mlp.n_params;

    /* run to run: bitwise */
    CHECK(memcmp(dp.mlp.params, dp_again.mlp.params, n * sizeof(float)) == 0);
    CHECK(dp.score_mean == dp_again.score_mean && dp.score_std == dp_again.score_std);
    CHECK(dp.epochs_run == dp_again.epochs_run && dp.best_epoch == dp_again.best_epoch);

    /* both ranks hold the same member */
    float *theirs = malloc(n * sizeof(float));
    memcpy(theirs, dp.mlp.params, n * sizeof(float));
    MPI_Bcast(theirs, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD);
    CHECK(memcmp(theirs, dp.mlp.params, n * sizeof(float)) == 0);
    double stats[2] = {dp.score_mean, dp.score_std}, stats0[2] = {dp.score_mean, dp.score_std};
    MPI_Bcast(stats0, 2, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    CHECK(stats[0] == stats0[0] && stats[1] == stats0[1]);
    free(theirs);

    /* against one rank: same training up to round-off */
    double diff = 0, norm = 0;
    for (size_t i = 0; i < n; i++) {
        diff += ((double)dp.mlp.params[i] - single.mlp.params[i]) * ((double)dp.mlp.params[i] - single.mlp.params[i]);
        norm += (double)single.mlp.params[i] * single.mlp.params[i];
    }
    double rel = sqrt(diff / norm);
    if (rank == 0)
        printf("2-rank group vs 1 rank: relative parameter difference %.3g, val acc %.4f vs %.4f, "
               "score mean %.6f vs %.6f, std %.6f vs %.6f, epochs %d vs %d\n", rel,
               dp.val_accuracy[dp.epochs_run - 1], single.val_accuracy[single.epochs_run - 1], dp.score_mean,
               single.score_mean, dp.score_std, single.score_std, dp.epochs_run, single.epochs_run);
    CHECK(rel < 1e-4);
    CHECK(dp.epochs_run == single.epochs_run && dp.best_epoch == single.best_epoch);
    CHECK(fabs(dp.val_accuracy[dp.epochs_run - 1] - single.val_accuracy[single.epochs_run - 1]) <= 0.01);
    CHECK_CLOSE(dp.score_mean, single.score_mean, 1e-3 * fmax(1, fabs(single.score_mean)));
    CHECK_CLOSE(dp.score_std, single.score_std, 1e-3 * single.score_std);
    CHECK(dp.pairs_trained == single.pairs_trained);

    rm_member_free(&single);
    rm_member_free(&dp);
    rm_member_free(&dp_again);
    rm_pairs_free(&pairs);
    rm_settings_free(&cfg);
    synth_free(&split);
    int failures = check_failures, total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Finalize();
    check_failures = total;
    return check_status(rank == 0 ? "test_train_mpi (rank 0)" : "test_train_mpi (rank 1)");
}
