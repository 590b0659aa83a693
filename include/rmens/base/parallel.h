/* MPI helpers shared by every verb: agreeing on failure, ending a job cleanly, and
 * sizing BLAS threads so ranks never oversubscribe the cores they were given. */
#ifndef RMENS_PARALLEL_H
#define RMENS_PARALLEL_H

#include <mpi.h>
#include <stddef.h>

/* Collective over comm. Every rank passes its own status (0 ok, -1 failed). Returns 0
 * when all ranks succeeded; otherwise -1 on every rank, and every rank's error message
 * becomes that of the lowest failing rank, so rank 0 can print the one real reason. */
int rm_all_ok(MPI_Comm comm, int status);

/* Print "rmens: error: [rank r] <message>" and end the whole job (MPI_Abort). For
 * failures that only this rank sees mid-computation (NaN loss, I/O, allocation). */
_Noreturn void rm_abort_job(const char *message);

/* Temporary files this rank is writing: rm_abort_job deletes them before ending the job,
 * so that a failure never leaves a partial result behind. */
void rm_register_temp_file(const char *path);
void rm_unregister_temp_file(const char *path);

/* Check an MPI return code: 0, or -1 with an error naming the call. */
int rm_mpi_check(int mpi_rc, const char *call);

/* Communicator of the ranks sharing this node (MPI_Comm_split_type SHARED). */
int rm_node_comm(MPI_Comm comm, MPI_Comm *node_comm);

/* Compute threads for this rank: `configured` if > 0; else SLURM_CPUS_PER_TASK if set;
 * else the cores of this process's affinity mask divided by the ranks on its node
 * (at least 1), with a warning when the affinity mask allows fewer. The kernels take
 * them with rm_set_blas_threads (rmens/kernels/tiled_blas.h). */
int rm_threads_per_rank(MPI_Comm comm, int configured);

/* Splitting n items over `parts` (ranks, threads): [*begin, *end) of part `index`.
 * rm_partition balances (the first n % parts parts get one more; parts <= 0 counts as 1):
 * prompt blocks of the store, evaluation and the active pool. rm_partition_floor takes
 * [n index / parts, n (index + 1) / parts): a data-parallel member's share of each
 * minibatch, validation list and standardisation, whose sums (and so a member's bits for
 * a given parallel.ranks_per_member) follow from exactly this split. */
void rm_partition(size_t n, int parts, int index, size_t *begin, size_t *end);
void rm_partition_floor(size_t n, int parts, int index, size_t *begin, size_t *end);

#endif
