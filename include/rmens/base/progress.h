/* What a long verb tells the user while it works, and how much of it: the process-wide
 * verbosity (`--quiet`), informational lines, compact durations, and the progress meter.
 *
 * A verb that can run for long prints, from rank 0 only, a progress line at least every
 * period (10 s; RMENS_PROGRESS_SECONDS) with done / total, the rate and an ETA for the
 * whole verb, then one summary line at its end. The meter reads nothing but rank 0's own
 * clock and counts: it calls no MPI, so it can neither hang a job nor change a result.
 * `--quiet` (rm_set_quiet) drops progress and informational lines; errors, warnings
 * (rm_warnf, stderr) and the summary (printed with printf by the verb) remain. */
#ifndef RMENS_BASE_PROGRESS_H
#define RMENS_BASE_PROGRESS_H

#include "rmens/base/common.h"

/* The verbosity of the process: set once by the command line (every rank parses it). */
void rm_set_quiet(int quiet);
int rm_is_quiet(void);

/* An informational line on stdout (the format ends without '\n'; one is added), flushed;
 * nothing when quiet. The caller decides which ranks speak. */
void rm_infof(const char *fmt, ...) RM_PRINTF(1, 2);

/* "42s", "3m05s", "2h07m" into buf (returned); "?" when unknown (negative, NaN, > 1e8 s). */
#define RM_DURATION_CHARS 32
const char *rm_duration(double seconds, char buf[RM_DURATION_CHARS]);

/* Seconds between progress lines: 10, or the environment's RMENS_PROGRESS_SECONDS (a
 * number >= 0; 0 prints a line at every step, for tests). A value that is not such a
 * number is warned about once and 10 is used. */
double rm_progress_period(void);

/* A verb's progress on this rank: `done` of `total` units (embeddings, responses), both
 * this rank's own; with several ranks the line says so ("this rank's"), since ranks of a
 * collective loop move in step, rank 0's fraction and ETA are the job's. */
typedef struct {
    char verb[32];     /* the line's label: "synth", "import", "eval" */
    char unit[32];     /* "embeddings" */
    double total, done;
    double t_start, t_last; /* rm_now() of the start and of the last line */
    double period;
    int prints;        /* rank 0 and not quiet: the other meters count silently */
    int ranks;
} rm_progress_meter;

/* Start counting now: `total` units on this rank, which is `rank` of `ranks`. */
void rm_progress_begin(rm_progress_meter *p, const char *verb, const char *unit, double total, int rank, int ranks);
/* `units` more done; prints the line when a period has passed since the last one (or
 * the start), unless the job is done (its summary follows). p NULL: nothing. */
void rm_progress_advance(rm_progress_meter *p, double units);

#endif
