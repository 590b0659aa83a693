/* Settings for the C tests, as the verbs build them from --set: the defaults (no config
 * file) with "key=value" overrides, a test's base list first and then a case's extra ones.
 * On an error the message is "settings: <the library's error>" (rm_last_error). */
#ifndef RMENS_TEST_SETTINGS_H
#define RMENS_TEST_SETTINGS_H
#include <stdio.h>
#include <stdlib.h>

#include "rmens/base/common.h"
#include "rmens/base/config.h"

enum { TEST_SETTINGS_MAX = 32 }; /* base + extra overrides at the most */

/* s from the defaults and base[0..n_base) then extra[0..n_extra) (either may be NULL when
 * its count is 0). Returns rm_settings_load's status, printing the error if non-zero;
 * rm_settings_free is safe on s either way. */
static inline int test_settings_load(rm_settings *s, const char *const *base, int n_base, const char *const *extra,
                                     int n_extra)
{
    const char *sets[TEST_SETTINGS_MAX];
    int n = 0;
    if (n_base + n_extra > TEST_SETTINGS_MAX) {
        fprintf(stderr, "settings: %d overrides, more than the tests' %d\n", n_base + n_extra, TEST_SETTINGS_MAX);
        exit(2);
    }
    for (int i = 0; i < n_base; i++) sets[n++] = base[i];
    for (int i = 0; i < n_extra; i++) sets[n++] = extra[i];
    int rc = rm_settings_load(s, NULL, sets, n);
    if (rc != 0) fprintf(stderr, "settings: %s\n", rm_last_error());
    return rc;
}

/* The same for a test that cannot go on without its settings: exits with status 2 on an
 * error, after the message. */
static inline rm_settings test_settings(const char *const *base, int n_base, const char *const *extra, int n_extra)
{
    rm_settings s;
    if (test_settings_load(&s, base, n_base, extra, n_extra) != 0) exit(2);
    return s;
}
#endif
