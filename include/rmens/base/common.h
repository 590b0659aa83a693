/* rmens common utilities: one error message per failure, carried up with context.
 *
 * Convention (as in HDF5 and PETSc): a function that can fail returns int, 0 on
 * success and -1 on failure. The innermost failing call records a message with
 * rm_errorf(); each caller on the way up may add context in front of it with
 * rm_error_context(); the verb finally prints one line:
 *     rmens: error: <context>: <context>: <innermost reason>
 * Messages should name the file, dataset, config key or line concerned. */
#ifndef RMENS_COMMON_H
#define RMENS_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifndef RMENS_VERSION
#define RMENS_VERSION "0.1.0"
#endif

#if defined(__GNUC__)
#define RM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define RM_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define RM_PRINTF(a, b)
#define RM_WARN_UNUSED
#endif

/* Record the reason for a failure (replacing any earlier message). Returns -1. */
int rm_errorf(const char *fmt, ...) RM_PRINTF(1, 2);
/* Prefix the recorded message with context: "<context>: <message>". Returns -1. */
int rm_error_context(const char *fmt, ...) RM_PRINTF(1, 2);
/* The recorded message ("" if none). */
const char *rm_last_error(void);
void rm_error_clear(void);

/* Print "rmens: warning: ..." to stderr. */
void rm_warnf(const char *fmt, ...) RM_PRINTF(1, 2);

/* Checked size arithmetic: 0 on success, -1 (with an error message naming `what`) on overflow. */
int rm_size_mul(size_t a, size_t b, size_t *out, const char *what);
int rm_size_mul3(size_t a, size_t b, size_t c, size_t *out, const char *what);
/* calloc/malloc of n * size bytes with overflow check; NULL with error naming `what` on failure. */
void *rm_alloc(size_t n, size_t size, const char *what);
void *rm_calloc(size_t n, size_t size, const char *what);
/* bytes at a multiple of `alignment` (a power of two, at least sizeof(void *)); free() frees
 * it. Like rm_alloc, 4 MiB and more come on huge-page boundaries, advised for huge pages. */
void *rm_alloc_aligned(size_t bytes, size_t alignment, const char *what);
/* Map the pages of [addr, addr + bytes) for writing in one call (Linux's
 * MADV_POPULATE_WRITE), before a large read fills them: a page fault per 4 KiB page costs
 * a trap each, which under a hypervisor made a quarter of reading the train split. Only a
 * speed hint: where the kernel lacks it, the pages fault in as before. */
void rm_populate_pages(void *addr, size_t bytes);

/* Seconds on a monotonic clock. */
double rm_now(void);
/* Peak resident set size of this process in bytes (0 if unknown). */
size_t rm_peak_rss(void);
/* Current resident set size in bytes (0 if unknown). */
size_t rm_current_rss(void);

/* File helpers. */
int rm_path_exists(const char *path);
/* "dir/.name.tmp.<pid>" style temporary sibling of `path` (malloc'd), so that rename() is atomic. */
char *rm_temp_sibling(const char *path, const char *tag);
/* mkdir -p; 0 or -1 with message. */
int rm_mkdir_p(const char *path);
/* Join "dir/name" (malloc'd). */
char *rm_path_join(const char *dir, const char *name);
/* strdup that records an error on failure. */
char *rm_strdup(const char *s);

#endif
