/* Error recording, checked arithmetic and small OS helpers (see include/rmens/base/common.h). */
#include "rmens/base/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RM_ERROR_CAPACITY 2048
static _Thread_local char error_message[RM_ERROR_CAPACITY];

int rm_errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    return -1;
}

int rm_error_context(const char *fmt, ...)
{
    char context[RM_ERROR_CAPACITY];
    char joined[RM_ERROR_CAPACITY];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(context, sizeof context, fmt, ap);
    va_end(ap);
    /* Keep the innermost reason whole; the context is what gets cut when too long. */
    size_t reason_len = strlen(error_message);
    if (reason_len + 2 >= sizeof joined - 1) return -1; /* no room left for context */
    size_t room = sizeof joined - 1 - (reason_len ? reason_len + 2 : 0);
    size_t context_len = strnlen(context, room);
    memcpy(joined, context, context_len);
    if (reason_len) {
        memcpy(joined + context_len, ": ", 2);
        memcpy(joined + context_len + 2, error_message, reason_len);
        context_len += 2 + reason_len;
    }
    joined[context_len] = '\0';
    memcpy(error_message, joined, sizeof error_message);
    return -1;
}

const char *rm_last_error(void) { return error_message; }
void rm_error_clear(void) { error_message[0] = '\0'; }

void rm_warnf(const char *fmt, ...)
{
    char buf[RM_ERROR_CAPACITY];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "rmens: warning: %s\n", buf);
}

int rm_size_mul(size_t a, size_t b, size_t *out, const char *what)
{
    if (a != 0 && b > SIZE_MAX / a)
        return rm_errorf("%s: size %zu x %zu overflows", what, a, b);
    *out = a * b;
    return 0;
}

int rm_size_mul3(size_t a, size_t b, size_t c, size_t *out, const char *what)
{
    size_t ab = 0;
    if (rm_size_mul(a, b, &ab, what) != 0) return -1;
    return rm_size_mul(ab, c, out, what);
}

/* Buffers of this size and more start on a 2 MiB boundary and are advised for transparent
 * huge pages (MADV_HUGEPAGE; the kernel's default mode honours only advised ranges): the
 * scored rows, packed weights and activations are read again and again, and with 4 KiB
 * pages their TLB misses cost bf16 eval's scoring 11 % on a Zen 5 (advised: 648-651
 * against 584-589 GFLOP/s). Smaller ones are plain malloc. */
#define LARGE_BYTES ((size_t)4 << 20)
#define HUGE_PAGE ((size_t)2 << 20)

static void *alloc_bytes(size_t bytes, size_t alignment)
{
    if (bytes < LARGE_BYTES) {
        if (alignment <= 16) return malloc(bytes ? bytes : 1);
        void *p = NULL;
        return posix_memalign(&p, alignment, bytes) == 0 ? p : NULL;
    }
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE, bytes) != 0) return NULL;
    (void)madvise(p, bytes / HUGE_PAGE * HUGE_PAGE, MADV_HUGEPAGE); /* a hint: refused, 4 KiB pages as before */
    return p;
}

void *rm_alloc(size_t n, size_t size, const char *what)
{
    size_t bytes = 0;
    if (rm_size_mul(n, size, &bytes, what) != 0) return NULL;
    void *p = alloc_bytes(bytes, 16);
    if (!p) rm_errorf("%s: out of memory allocating %zu bytes", what, bytes);
    return p;
}

void *rm_alloc_aligned(size_t bytes, size_t alignment, const char *what)
{
    void *p = alloc_bytes(bytes, alignment);
    if (!p) rm_errorf("%s: out of memory allocating %zu bytes", what, bytes);
    return p;
}

void *rm_calloc(size_t n, size_t size, const char *what)
{
    size_t bytes = 0;
    if (rm_size_mul(n, size, &bytes, what) != 0) return NULL;
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) rm_errorf("%s: out of memory allocating %zu bytes", what, bytes);
    return p;
}

double rm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

size_t rm_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024u; /* Linux reports KiB */
}

size_t rm_current_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size_pages = 0, resident_pages = 0;
    int n = fscanf(f, "%lu %lu", &size_pages, &resident_pages);
    fclose(f);
    if (n != 2) return 0;
    return (size_t)resident_pages * (size_t)sysconf(_SC_PAGESIZE);
}

int rm_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

char *rm_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = rm_alloc(n, 1, "string copy");
    if (d) memcpy(d, s, n);
    return d;
}

char *rm_path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = rm_alloc(n, 1, "path");
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

char *rm_temp_sibling(const char *path, const char *tag)
{
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    size_t n = strlen(path) + strlen(tag) + 48;
    char *p = rm_alloc(n, 1, "temporary path");
    if (!p) return NULL;
    snprintf(p, n, "%.*s.%s.%s.tmp", (int)dir_len, path, base, tag);
    return p;
}

int rm_mkdir_p(const char *path)
{
    char *buf = rm_strdup(path);
    if (!buf) return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            rm_errorf("cannot create directory '%s': %s", buf, strerror(errno));
            free(buf);
            return -1;
        }
        *p = '/';
    }
    int rc = 0;
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        rc = rm_errorf("cannot create directory '%s': %s", buf, strerror(errno));
    free(buf);
    return rc;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

void rm_populate_pages(void *addr, size_t bytes)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || bytes == 0) return;
    /* whole pages inside the range: the neighbours' pages are theirs to fill */
    uintptr_t begin = ((uintptr_t)addr + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
    uintptr_t end = ((uintptr_t)addr + bytes) / (uintptr_t)page * (uintptr_t)page;
    if (end > begin) (void)madvise((void *)begin, end - begin, MADV_POPULATE_WRITE);
}
