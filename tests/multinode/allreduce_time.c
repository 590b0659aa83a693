/* The gradient allreduce of one training step, timed (issue 10's scaling note).
 *
 * rmens' data-parallel training (parallel.ranks_per_member = S > 1) sums each minibatch's
 * gradient over the member's S ranks with one in-place MPI_Allreduce of n_params + 2
 * floats (src/member/train.c). This program does exactly that on MPI_COMM_WORLD, so run it with
 * S ranks placed as the member's ranks would be: on one node (mpirun -n 2) or across nodes
 * (tests/multinode/harness.sh: mn_mpirun 2 --map-by node).
 *
 *   allreduce_time [floats] [repetitions]
 *       floats: default 2623491 = the reference MLP's 2,623,489 parameters
 *               (2048*1024+1024 + 1024*512+512 + 512+1) + 2 (loss and pair count)
 *       repetitions: default 30 (after 3 untimed warm-ups)
 *
 * Every repetition refills the buffer with rank-dependent values and checks the sum, so
 * a wrong reduction fails (exit 1) instead of being timed. Rank 0 prints the hosts, and
 * the minimum and median time per allreduce, and one JSON line. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Small integers, so float sums over any order are exact and the check can be exact. */
static float value(int rank, long i, int rep) { return (float)((rank + 1) * ((i + rep) % 7)); }

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long n = argc > 1 ? atol(argv[1]) : 2623491L;
    int reps = argc > 2 ? atoi(argv[2]) : 30;
    if (n < 1 || n > 1L << 30 || reps < 1) {
        if (rank == 0) fprintf(stderr, "usage: allreduce_time [floats >= 1] [repetitions >= 1]\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    float *buf = malloc((size_t)n * sizeof(float));
    double *t = malloc((size_t)reps * sizeof(double));
    if (!buf || !t) MPI_Abort(MPI_COMM_WORLD, 2);

    /* Which hosts the ranks are on: the point of the measurement. */
    char host[MPI_MAX_PROCESSOR_NAME];
    int len;
    MPI_Get_processor_name(host, &len);
    char *hosts = rank == 0 ? malloc((size_t)size * MPI_MAX_PROCESSOR_NAME) : NULL;
    MPI_Gather(host, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, hosts, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    int node_rank, nodes;
    MPI_Comm_rank(node, &node_rank);
    int leader = node_rank == 0;
    MPI_Allreduce(&leader, &nodes, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);

    int bad = 0;
    for (int rep = -3; rep < reps; rep++) {
        for (long i = 0; i < n; i++) buf[i] = value(rank, i, rep);
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double dt = MPI_Wtime() - t0;
        /* The slowest rank's time is the step's time. */
        MPI_Allreduce(MPI_IN_PLACE, &dt, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (rep >= 0) t[rep] = dt;
        double ranks_sum = (double)size * (size + 1) / 2;
        for (long i = 0; i < n && !bad; i++)
            if (buf[i] != (float)(ranks_sum * ((i + rep) % 7))) bad = 1;
    }
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0) {
        if (bad) {
            fprintf(stderr, "allreduce_time: WRONG SUM\n");
        } else {
            qsort(t, (size_t)reps, sizeof(double), cmp_double);
            double bytes = 4.0 * (double)n, ring = 2.0 * (size - 1) / size * bytes;
            printf("ranks %d on %d node(s):", size, nodes);
            for (int r = 0; r < size; r++) printf(" %s", hosts + (size_t)r * MPI_MAX_PROCESSOR_NAME);
            printf("\nallreduce of %ld floats (%.2f MB; ring traffic per rank %.2f MB): min %.2f ms, median %.2f ms, "
                   "max %.2f ms over %d repetitions\n",
                   n, bytes / 1e6, ring / 1e6, 1e3 * t[0], 1e3 * t[reps / 2], 1e3 * t[reps - 1], reps);
            printf("{\"ranks\": %d, \"nodes\": %d, \"floats\": %ld, \"min_s\": %.6f, \"median_s\": %.6f, \"max_s\": %.6f}\n",
                   size, nodes, n, t[0], t[reps / 2], t[reps - 1]);
        }
    }
    free(hosts);
    free(t);
    free(buf);
    MPI_Comm_free(&node);
    MPI_Finalize();
    return bad ? 1 : 0;
}
