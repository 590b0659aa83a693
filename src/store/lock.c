/* The output directory's lock (see include/rmens/store/lock.h). */
#define _GNU_SOURCE
#include "rmens/store/lock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rmens/base/common.h"
#include "rmens/base/parallel.h"

#define LOCK_NAME "rmens.lock"

typedef struct {
    char host[256], started[64], verb[32], slurm_job[32];
    long pid;
} lock_record;

/* Parse "host=H pid=P started=T verb=V slurm_job=J"; 0 when it holds a holder. */
static int parse_record(const char *text, lock_record *r)
{
    memset(r, 0, sizeof *r);
    if (sscanf(text, "host=%255s pid=%ld started=%63s verb=%31s slurm_job=%31s", r->host, &r->pid, r->started, r->verb,
               r->slurm_job) < 2)
        return -1;
    return 0;
}

static void describe(const lock_record *r, char *out, size_t n)
{
    snprintf(out, n, "rmens %s (pid %ld on host %s since %s%s%s)", r->verb[0] ? r->verb : "?", r->pid, r->host,
             r->started[0] ? r->started : "?", strcmp(r->slurm_job, "-") != 0 && r->slurm_job[0] ? ", Slurm job " : "",
             strcmp(r->slurm_job, "-") != 0 ? r->slurm_job : "");
}

static void read_record(int fd, char *buf, size_t n)
{
    ssize_t got = pread(fd, buf, n - 1, 0);
    buf[got > 0 ? got : 0] = '\0';
}

/* Whether the recorded holder may still be running (for file systems without flock). */
static int holder_alive(const lock_record *r)
{
    char host[256] = "";
    gethostname(host, sizeof host);
    if (strcmp(host, r->host) == 0) return r->pid > 0 && (kill((pid_t)r->pid, 0) == 0 || errno == EPERM);
    if (r->slurm_job[0] && strcmp(r->slurm_job, "-") != 0) {
        /* another host: ask Slurm whether the holder's job still exists */
        char cmd[128];
        snprintf(cmd, sizeof cmd, "squeue -h -j %s -o %%T 2>/dev/null", r->slurm_job);
        FILE *p = popen(cmd, "r");
        if (!p) return 1;
        char state[64] = "";
        int got = fgets(state, sizeof state, p) != NULL;
        pclose(p);
        return got && state[0] != '\0';
    }
    return 1; /* another host and no job to ask about: assume it runs */
}

static int write_record(int fd, const char *verb)
{
    char host[256] = "?", started[64], text[512];
    gethostname(host, sizeof host);
    time_t now = time(NULL);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    const char *job = getenv("SLURM_JOB_ID");
    int n = snprintf(text, sizeof text, "host=%s pid=%ld started=%s verb=%s slurm_job=%s\n", host, (long)getpid(),
                     started, verb, job && *job ? job : "-");
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) return -1;
    return fsync(fd);
}

/* Temporaries of a run that was killed (SIGKILL, a dead node: no rank could delete them):
 * ".<name>.partial.tmp" / ".<name>.writing.tmp" (rm_temp_sibling). Only a writer holding
 * the exclusive lock removes them: nobody else can be writing them then. A later write of
 * the same file would truncate and rename its own anyway; this catches the others (a
 * checkpoint's, when the resumed run finishes without writing one). */
static void remove_stale_temporaries(const char *output)
{
    DIR *d = opendir(output);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        const char *tail = n > 13 ? e->d_name + n - 12 : "";
        /* and Open MPI's (ompio) shared-file-pointer lock beside one, "<temp>-<job>-<pid>.lock",
         * which it creates when the ranks span nodes and a dead node leaves behind */
        int ompio_lock = n > 5 && strcmp(e->d_name + n - 5, ".lock") == 0 &&
                         (strstr(e->d_name, ".partial.tmp-") || strstr(e->d_name, ".writing.tmp-"));
        if (e->d_name[0] != '.' || (strcmp(tail, ".partial.tmp") != 0 && strcmp(tail, ".writing.tmp") != 0 && !ompio_lock))
            continue;
        /* only the run's own files: a store may live here too, written by a synth or an
         * import (which take no lock) at this very moment */
        static const char *const own[] = {".members.h5.", ".checkpoint.h5.", ".results.h5.", ".results.json.", ".active"};
        int ours = 0;
        for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) ours |= strncmp(e->d_name, own[i], strlen(own[i])) == 0;
        if (!ours) continue;
        char *path = rm_path_join(output, e->d_name);
        if (path && unlink(path) == 0)
            fprintf(stderr, "warning: %s: removed, left by an interrupted run\n", path);
        free(path);
    }
    closedir(d);
}

/* Rank 0's part: 0 with lock->fd held, or -1 with the error set. */
static int acquire_local(rm_output_lock *lock, const char *output, int exclusive, const char *verb)
{
    struct stat st;
    lock->created = exclusive && stat(output, &st) != 0;
    /* A symlinked run directory is followed (scratch links on clusters); a dangling one is
     * an error of its own, not a missing lock file. */
    if (lock->created && lstat(output, &st) == 0 && S_ISLNK(st.st_mode))
        return rm_errorf("%s: output is a symbolic link to a missing directory", output);
    if (exclusive && rm_mkdir_p(output) != 0) return -1;
    char *path = rm_path_join(output, LOCK_NAME);
    if (!path) return -1;
    char text[512], who[512] = "";
    lock_record holder;
    int rc = -1;
    /* Never through a link: the lock file is truncated and rewritten, and a link planted
     * in its place would have that done to whatever it points at (a store, say). */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        if (errno == ELOOP)
            rm_errorf("%s: the run directory's lock file is a symbolic link (rmens does not write through links: remove it)",
                      path);
        else rm_errorf("%s: cannot open the run directory's lock file: %s", path, strerror(errno));
        goto fail;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rm_errorf("%s: the run directory's lock file is not a regular file", path);
        goto fail;
    }
    int held = flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0;
    int unsupported = !held && (errno == ENOLCK || errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL);
    read_record(fd, text, sizeof text);
    int recorded = parse_record(text, &holder) == 0;
    if (recorded) describe(&holder, who, sizeof who);
    if (!held && !unsupported) {
        /* a record of a dead process on this host is a crashed writer's: the holder now is
         * someone who keeps no record (a reader) */
        char host[256] = "";
        gethostname(host, sizeof host);
        if (recorded && strcmp(host, holder.host) == 0 && !holder_alive(&holder)) recorded = 0;
        rm_errorf("%s is in use by %s: another run is %s it; wait for it to end or choose another output", output,
                  recorded ? who : "another rmens run", recorded && strcmp(holder.verb, "eval") == 0 ? "reading" : "writing");
        goto fail;
    }
    if (unsupported && recorded && holder_alive(&holder)) {
        rm_errorf("%s is in use by %s (the file system has no flock: judged by the lock file %s)", output, who, path);
        goto fail;
    }
    if (exclusive) {
        if (recorded)
            fprintf(stderr, "warning: %s: taking over the lock of %s, which ended without releasing it\n", path, who);
        if (write_record(fd, verb) != 0) {
            rm_errorf("%s: cannot record the lock's holder: %s", path, strerror(errno));
            goto fail;
        }
        remove_stale_temporaries(output);
    }
    snprintf(lock->path, sizeof lock->path, "%s", path);
    snprintf(lock->dir, sizeof lock->dir, "%s", output);
    lock->fd = fd;
    fd = -1;
    rc = 0;
fail:
    if (fd >= 0) close(fd);
    free(path);
    return rc;
}

int rm_output_lock_acquire(rm_output_lock *lock, const char *output, int exclusive, const char *verb, MPI_Comm comm)
{
    lock->fd = -1;
    lock->exclusive = exclusive;
    lock->created = 0;
    int rank = 0, rc = 0;
    MPI_Comm_rank(comm, &rank);
    if (rank == 0) {
        struct stat st;
        if (!output || !*output) rc = rm_errorf("output: no run directory given (set output = \"...\")");
        else if (exclusive || stat(output, &st) == 0) rc = acquire_local(lock, output, exclusive, verb);
    }
    return rm_all_ok(comm, rc);
}

/* Whether the directory holds anything besides the lock file. */
static int holds_more(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 1;
    struct dirent *e;
    int more = 0;
    while (!more && (e = readdir(d)) != NULL)
        more = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && strcmp(e->d_name, LOCK_NAME) != 0;
    closedir(d);
    return more;
}

void rm_output_lock_release(rm_output_lock *lock, int succeeded)
{
    if (lock->fd < 0) return;
    if (!succeeded && lock->exclusive && !holds_more(lock->dir)) {
        /* unlinked while held: a process that opened the old file meanwhile was refused,
         * and later ones create a fresh lock file */
        unlink(lock->path);
        if (lock->created) rmdir(lock->dir);
    }
    /* an empty record is a clean release: nobody will be warned about us */
    if (lock->exclusive && ftruncate(lock->fd, 0) != 0) {
        /* nothing to do: the flock still goes with the close */
    }
    close(lock->fd);
    lock->fd = -1;
}
