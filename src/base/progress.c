/* Verbosity, informational lines and the progress meter (see include/rmens/base/progress.h). */
#include "rmens/base/progress.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define RM_PROGRESS_DEFAULT_SECONDS 10.0

static int quiet_level = 0;

void rm_set_quiet(int quiet) { quiet_level = quiet != 0; }
int rm_is_quiet(void) { return quiet_level; }

void rm_infof(const char *fmt, ...)
{
    if (quiet_level) return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

const char *rm_duration(double s, char buf[RM_DURATION_CHARS])
{
    if (!(s >= 0) || s > 1e8) snprintf(buf, RM_DURATION_CHARS, "?");
    else if (s < 59.5) snprintf(buf, RM_DURATION_CHARS, "%.0fs", s);
    else if (s < 3599.5) snprintf(buf, RM_DURATION_CHARS, "%dm%02ds", (int)(s + 0.5) / 60, (int)(s + 0.5) % 60);
    else snprintf(buf, RM_DURATION_CHARS, "%dh%02dm", (int)(s / 60 + 0.5) / 60, (int)(s / 60 + 0.5) % 60);
    return buf;
}

double rm_progress_period(void)
{
    static int warned = 0;
    const char *text = getenv("RMENS_PROGRESS_SECONDS");
    if (!text || !*text) return RM_PROGRESS_DEFAULT_SECONDS;
    char *end = NULL;
    double seconds = strtod(text, &end);
    if (end && *end == '\0' && seconds >= 0 && isfinite(seconds)) return seconds;
    if (!warned) rm_warnf("RMENS_PROGRESS_SECONDS=%s is not a number of seconds >= 0: progress every %.0f s", text,
                          RM_PROGRESS_DEFAULT_SECONDS);
    warned = 1;
    return RM_PROGRESS_DEFAULT_SECONDS;
}

void rm_progress_begin(rm_progress_meter *p, const char *verb, const char *unit, double total, int rank, int ranks)
{
    memset(p, 0, sizeof *p);
    snprintf(p->verb, sizeof p->verb, "%s", verb);
    snprintf(p->unit, sizeof p->unit, "%s", unit);
    p->total = total;
    p->t_start = p->t_last = rm_now();
    p->prints = rank == 0 && !quiet_level;
    p->period = p->prints ? rm_progress_period() : RM_PROGRESS_DEFAULT_SECONDS;
    p->ranks = ranks;
}

/* A rate as a person reads it: whole units from 10 a second, else three digits. */
static const char *rate_text(double rate, char buf[32])
{
    snprintf(buf, 32, rate >= 10 ? "%.0f" : "%.3g", rate);
    return buf;
}

void rm_progress_advance(rm_progress_meter *p, double units)
{
    if (!p) return;
    p->done += units;
    if (!p->prints || p->done >= p->total) return;
    const double now = rm_now();
    if (now - p->t_last < p->period) return;
    p->t_last = now;
    const double elapsed = now - p->t_start, rate = elapsed > 0 ? p->done / elapsed : 0;
    const double eta = rate > 0 ? (p->total - p->done) / rate : -1; /* -1: "?" until something is done */
    char rate_buf[32], elapsed_buf[RM_DURATION_CHARS], eta_buf[RM_DURATION_CHARS];
    printf("[rank 0] %s: %s%.0f/%.0f %s (%d%%), %s %s/s, %s elapsed, ETA %s\n", p->verb,
           p->ranks > 1 ? "this rank's " : "", p->done, p->total, p->unit, (int)(100.0 * p->done / p->total),
           rate_text(rate, rate_buf), p->unit, rm_duration(elapsed, elapsed_buf), rm_duration(eta, eta_buf));
    fflush(stdout);
}
