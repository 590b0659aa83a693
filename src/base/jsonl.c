/* JSON Lines sink (see include/rmens/base/jsonl.h). */
#include "rmens/base/jsonl.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rmens/base/common.h"

void rm_jsonl_begin(rm_jsonl_line *l)
{
    l->text[0] = '{';
    l->len = 1;
    l->text[1] = '\0';
    l->overflow = 0;
}

static void put(rm_jsonl_line *l, const char *fmt, ...)
{
    if (l->overflow) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->text + l->len, sizeof l->text - l->len, fmt, ap);
    va_end(ap);
    /* room for the closing "}\n" and the terminator */
    if (n < 0 || l->len + (size_t)n + 3 > sizeof l->text) {
        l->overflow = 1;
        return;
    }
    l->len += (size_t)n;
}

static void key(rm_jsonl_line *l, const char *name) { put(l, "%s\"%s\": ", l->len > 1 ? ", " : "", name); }

void rm_jsonl_int(rm_jsonl_line *l, const char *name, long long value)
{
    key(l, name);
    put(l, "%lld", value);
}

void rm_jsonl_double(rm_jsonl_line *l, const char *name, double value, int digits)
{
    key(l, name);
    if (!isfinite(value)) put(l, "null");
    else put(l, "%.*g", digits, value);
}

int rm_jsonl_append(const char *path, rm_jsonl_line *l)
{
    if (l->overflow) return rm_errorf("%s: a log line longer than %d bytes", path, RM_JSONL_CAPACITY);
    memcpy(l->text + l->len, "}\n", 3);
    const size_t len = l->len + 2;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return rm_errorf("%s: %s", path, strerror(errno));
    ssize_t written;
    do written = write(fd, l->text, len);
    while (written < 0 && errno == EINTR);
    int err = written < 0 ? errno : (size_t)written < len ? ENOSPC : 0;
    if (close(fd) != 0 && err == 0) err = errno;
    l->text[l->len] = '\0'; /* the object stays open: callers may append to it again */
    if (err) return rm_errorf("%s: %s", path, strerror(err));
    return 0;
}
