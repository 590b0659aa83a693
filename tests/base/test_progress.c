/* The progress meter's pieces (rmens/base/progress.h): durations, the period from
 * RMENS_PROGRESS_SECONDS, the lines a meter prints (captured from stdout) and --quiet. */
#include "../common/check.h"
#include "rmens/base/progress.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Everything printed to stdout while `run` runs, into buf (NUL-terminated). */
static void capture(void (*run)(void), char *buf, size_t size)
{
    fflush(stdout);
    FILE *tmp = tmpfile();
    CHECK(tmp != NULL);
    if (!tmp) return;
    int saved = dup(fileno(stdout));
    dup2(fileno(tmp), fileno(stdout));
    run();
    fflush(stdout);
    dup2(saved, fileno(stdout));
    close(saved);
    rewind(tmp);
    size_t n = fread(buf, 1, size - 1, tmp);
    buf[n] = '\0';
    fclose(tmp);
}

static void three_steps(void)
{
    rm_progress_meter p;
    rm_progress_begin(&p, "synth", "responses", 30, 0, 1);
    for (int i = 0; i < 3; i++) rm_progress_advance(&p, 10); /* the last step is the summary's */
    rm_progress_advance(NULL, 1);                            /* no meter: nothing */
}

static void other_rank(void)
{
    rm_progress_meter p;
    rm_progress_begin(&p, "eval", "responses", 30, 1, 2);
    rm_progress_advance(&p, 10);
}

static void share_of_two(void)
{
    rm_progress_meter p;
    rm_progress_begin(&p, "eval", "responses", 30, 0, 2);
    rm_progress_advance(&p, 10);
}

static void information(void) { rm_infof("[rank 0] %d pairs", 12); }

int main(void)
{
    char d[RM_DURATION_CHARS];
    CHECK(strcmp(rm_duration(0, d), "0s") == 0);
    CHECK(strcmp(rm_duration(42.4, d), "42s") == 0);
    CHECK(strcmp(rm_duration(59.6, d), "1m00s") == 0);
    CHECK(strcmp(rm_duration(185, d), "3m05s") == 0);
    CHECK(strcmp(rm_duration(2 * 3600 + 7 * 60, d), "2h07m") == 0);
    CHECK(strcmp(rm_duration(-1, d), "?") == 0);
    CHECK(strcmp(rm_duration(NAN, d), "?") == 0);

    unsetenv("RMENS_PROGRESS_SECONDS");
    CHECK(rm_progress_period() == 10);
    setenv("RMENS_PROGRESS_SECONDS", "0.5", 1);
    CHECK(rm_progress_period() == 0.5);
    setenv("RMENS_PROGRESS_SECONDS", "-1", 1);
    CHECK(rm_progress_period() == 10); /* warned, and the default */
    setenv("RMENS_PROGRESS_SECONDS", "5s", 1);
    CHECK(rm_progress_period() == 10);

    char out[4096];
    setenv("RMENS_PROGRESS_SECONDS", "0", 1); /* a line at every step but the last */
    capture(three_steps, out, sizeof out);
    CHECK(strncmp(out, "[rank 0] synth: 10/30 responses (33%), ", 39) == 0);
    CHECK(strstr(out, "\n[rank 0] synth: 20/30 responses (66%), ") != NULL);
    CHECK(strstr(out, "30/30") == NULL);
    CHECK(strstr(out, " responses/s, ") && strstr(out, " elapsed, ETA "));
    int lines = 0;
    for (const char *c = out; *c; c++) lines += *c == '\n';
    CHECK(lines == 2);
    capture(other_rank, out, sizeof out);
    CHECK(out[0] == '\0'); /* rank 0 alone prints */
    capture(share_of_two, out, sizeof out);
    CHECK(strncmp(out, "[rank 0] eval: this rank's 10/30 responses", 42) == 0);
    setenv("RMENS_PROGRESS_SECONDS", "1000", 1); /* throttled by time: no line in these microseconds */
    capture(three_steps, out, sizeof out);
    CHECK(out[0] == '\0');

    setenv("RMENS_PROGRESS_SECONDS", "0", 1);
    capture(information, out, sizeof out);
    CHECK(strcmp(out, "[rank 0] 12 pairs\n") == 0);
    CHECK(!rm_is_quiet());
    rm_set_quiet(1);
    CHECK(rm_is_quiet());
    capture(information, out, sizeof out);
    CHECK(out[0] == '\0');
    capture(three_steps, out, sizeof out);
    CHECK(out[0] == '\0');
    return check_status("test_progress");
}
