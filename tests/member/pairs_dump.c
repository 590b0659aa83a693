/* Build the preference pairs of a configuration on an in-memory synthetic train split and
 * write them for tests/member/check_pairs.py.
 *
 *   pairs_dump OUT_PREFIX N K [key=value ...]      (under mpirun: every rank builds)
 *
 * Writes OUT_PREFIX.rank<r>.bin on every rank: a header of uint64 (N, K, n, n_train),
 * double (label_flip_rate, label_agreement, reward_scale), then float rewards[N*K] and
 * uint32 winner[n], loser[n], order[n]. A build error is printed as "error: ..." and the
 * exit status is 2, so the checker can test the bad-design messages. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "../common/synthetic.h"
#include "rmens/base/common.h"
#include "rmens/base/config.h"
#include "rmens/member/pairs.h"

static int write_all(FILE *f, const void *p, size_t size, size_t n) { return fwrite(p, size, n, f) == n ? 0 : -1; }

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (argc < 4) {
        fprintf(stderr, "usage: pairs_dump OUT_PREFIX N K [key=value ...]\n");
        MPI_Finalize();
        return 1;
    }
    size_t N = strtoull(argv[2], NULL, 10), K = strtoull(argv[3], NULL, 10);
    rm_settings cfg;
    synth_split split;
    rm_pairs pairs;
    int status = 0;
    if (rm_settings_load(&cfg, NULL, (const char *const *)argv + 4, argc - 4) != 0) status = 2;
    else if (synth_make(&split, N, K, 8, 77) != 0) status = 1;
    else if (rm_pairs_build_from_settings(&pairs, &cfg, split.rewards, N, K) != 0) status = 2;
    if (status != 0) {
        if (rank == 0) printf("error: %s\n", rm_last_error());
        MPI_Finalize();
        return status;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s.rank%d.bin", argv[1], rank);
    FILE *f = fopen(path, "wb");
    uint64_t head[4] = {N, K, pairs.n, pairs.n_train};
    double stats[3] = {pairs.label_flip_rate, pairs.label_agreement, pairs.reward_scale};
    if (!f || write_all(f, head, sizeof head[0], 4) || write_all(f, stats, sizeof stats[0], 3) ||
        write_all(f, split.rewards, sizeof(float), N * K) || write_all(f, pairs.winner, sizeof(uint32_t), pairs.n) ||
        write_all(f, pairs.loser, sizeof(uint32_t), pairs.n) || write_all(f, pairs.order, sizeof(uint32_t), pairs.n) ||
        fclose(f) != 0) {
        fprintf(stderr, "pairs_dump: cannot write %s\n", path);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    rm_pairs_free(&pairs);
    synth_free(&split);
    rm_settings_free(&cfg);
    MPI_Finalize();
    return 0;
}
