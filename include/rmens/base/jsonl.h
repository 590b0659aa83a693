/* A JSON Lines sink: one JSON object per line, appended and on disk as written (for
 * `<output>/log.jsonl`, read by dashboards and `tail -f`). A line is built in a fixed
 * buffer, then appended with one write() to a file opened with O_APPEND: several
 * processes appending whole lines (each well under PIPE_BUF) to one file on a local
 * filesystem do not interleave or overwrite each other's lines. */
#ifndef RMENS_BASE_JSONL_H
#define RMENS_BASE_JSONL_H

#include <stddef.h>

#define RM_JSONL_CAPACITY 1024

typedef struct {
    char text[RM_JSONL_CAPACITY];
    size_t len;
    int overflow; /* a field did not fit: the line is not written */
} rm_jsonl_line;

/* Start an object. */
void rm_jsonl_begin(rm_jsonl_line *l);
/* Append "key": value. `key` is written as given (plain ASCII names, no escaping). */
void rm_jsonl_int(rm_jsonl_line *l, const char *key, long long value);
/* A number with `digits` significant digits (17: the double round-trips); NaN and
 * infinities, which JSON lacks, become null. */
void rm_jsonl_double(rm_jsonl_line *l, const char *key, double value, int digits);
/* Close the object and append it with its newline to `path` (created 0644 if missing).
 * 0, or -1 with the error recorded (naming the path). */
int rm_jsonl_append(const char *path, rm_jsonl_line *l);

#endif
