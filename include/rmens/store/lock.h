/* The output directory's lock: two runs never write one run directory at once.
 *
 * A writer (train, run, active) holds an exclusive flock(2) on <output>/rmens.lock, which
 * records its host, pid, start time, verb and Slurm job; a reader (eval) holds a shared one.
 * A second writer, or a reader during a write, fails at once naming the holder. The kernel
 * drops a flock when its process dies, so a dead holder never blocks anyone: its record is
 * left behind, and the next writer takes the lock over with a warning naming it. Where the
 * file system refuses flock (some NFS mounts), the record alone decides: a holder on this
 * host that is still alive, or whose recorded Slurm job is still queued or running, keeps
 * the lock; any other is taken over with the warning.
 *
 * Taken by rank 0 for the whole job (all of a run's ranks share its outcome), released at
 * the end of the verb; a killed job's lock goes with its processes. */
#ifndef RMENS_LOCK_H
#define RMENS_LOCK_H

#include <mpi.h>

typedef struct {
    int fd;        /* rank 0's lock file, -1 when not held */
    int exclusive;
    int created;   /* the lock created the output directory (a failed run removes it) */
    char path[1024], dir[1024];
} rm_output_lock;

/* Collective. exclusive: a writer (creates the output directory if needed); otherwise a
 * reader (no lock is needed, and none is taken, when the directory does not exist). `verb`
 * is recorded for the message others get. Returns 0, or -1 on every rank with the error. */
int rm_output_lock_acquire(rm_output_lock *lock, const char *output, int exclusive, const char *verb, MPI_Comm comm);
/* Release (rank 0 clears the record of a writer). Safe on a lock never taken. After a run
 * that failed (succeeded = 0) and left nothing, the lock file goes and, if the lock created
 * it, the empty directory too: bad input leaves no trace. */
void rm_output_lock_release(rm_output_lock *lock, int succeeded);

#endif
