/* MPI helpers (see include/rmens/base/parallel.h). */
#define _GNU_SOURCE
#include "rmens/base/parallel.h"
#include "rmens/base/common.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rm_all_ok(MPI_Comm comm, int status)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    int mine = status != 0 ? rank : 1 << 30;
    int lowest = 0;
    MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, comm);
    if (lowest == 1 << 30) return 0;
    char message[1024];
    if (rank == lowest) snprintf(message, sizeof message, "%s", rm_last_error());
    MPI_Bcast(message, (int)sizeof message, MPI_CHAR, lowest, comm);
    rm_errorf("%s", message);
    return -1;
}

#define MAX_TEMP_FILES 8
static char temp_files[MAX_TEMP_FILES][1100];

void rm_register_temp_file(const char *path)
{
    for (int i = 0; i < MAX_TEMP_FILES; i++)
        if (!temp_files[i][0]) {
            snprintf(temp_files[i], sizeof temp_files[i], "%s", path);
            return;
        }
}

void rm_unregister_temp_file(const char *path)
{
    for (int i = 0; i < MAX_TEMP_FILES; i++)
        if (strcmp(temp_files[i], path) == 0) temp_files[i][0] = '\0';
}

_Noreturn void rm_abort_job(const char *message)
{
    for (int i = 0; i < MAX_TEMP_FILES; i++)
        if (temp_files[i][0]) unlink(temp_files[i]);
    int rank = 0, initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    fprintf(stderr, "rmens: error: [rank %d] %s\n", rank, message);
    fflush(stderr);
    if (initialized) MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

int rm_mpi_check(int mpi_rc, const char *call)
{
    if (mpi_rc == MPI_SUCCESS) return 0;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(mpi_rc, text, &len);
    return rm_errorf("%s failed: %s", call, text);
}

int rm_node_comm(MPI_Comm comm, MPI_Comm *node_comm)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    return rm_mpi_check(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, node_comm),
                        "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)");
}

int rm_threads_per_rank(MPI_Comm comm, int configured)
{
    int threads = configured;
    if (threads <= 0) {
        const char *slurm = getenv("SLURM_CPUS_PER_TASK");
        if (slurm && atoi(slurm) > 0) threads = atoi(slurm);
    }
    /* The node-local communicator is needed on every rank (collective) even when the
     * answer is already known, so that all ranks take the same path. */
    MPI_Comm node;
    int ranks_on_node = 1, node_rank = 0;
    if (rm_node_comm(comm, &node) == 0) {
        MPI_Comm_size(node, &ranks_on_node);
        MPI_Comm_rank(node, &node_rank);
        MPI_Comm_free(&node);
    }
    long node_cores = sysconf(_SC_NPROCESSORS_ONLN);
    int mask_cores = (int)(node_cores > 0 ? node_cores : 1);
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) mask_cores = CPU_COUNT(&set);
    if (threads <= 0) {
        /* The node's cores shared evenly by its ranks, but never more than this
         * rank's affinity mask allows (mpirun may bind each rank to one core). */
        int share = (int)(node_cores / ranks_on_node);
        threads = share < mask_cores ? share : mask_cores;
        if (threads < 1) threads = 1;
    } else if (threads > mask_cores && node_rank == 0) {
        /* Asked for explicitly, but the rank is bound to fewer cores: its threads would
         * take turns on them. mpirun binds ranks to one core each by default (for up to
         * 2 ranks); jobs/launch.sh and the Slurm scripts pass --bind-to none. */
        int rank;
        MPI_Comm_rank(comm, &rank);
        fprintf(stderr, "[rank %d] warning: %d threads per rank, but this rank may only run on %d core(s) "
                        "(its CPU affinity; mpirun --bind-to none, or --map-by slot:PE=%d, frees them)\n",
                rank, threads, mask_cores, threads);
    }
    return threads;
}

void rm_partition(size_t n, int parts, int index, size_t *begin, size_t *end)
{
    size_t p = parts > 0 ? (size_t)parts : 1, i = (size_t)index;
    size_t base = n / p, extra = n % p;
    *begin = i * base + (i < extra ? i : extra);
    *end = *begin + base + (i < extra ? 1 : 0);
}

void rm_partition_floor(size_t n, int parts, int index, size_t *begin, size_t *end)
{
    *begin = n * (size_t)index / (size_t)parts;
    *end = n * (size_t)(index + 1) / (size_t)parts;
}
