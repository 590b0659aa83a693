/* Minimal assertion helpers for the C tests of every area: print the failing expression
 * with its location and keep going, so one run reports every failure; main returns
 * check_status(). */
#ifndef RMENS_TEST_CHECK_H
#define RMENS_TEST_CHECK_H
#include <math.h>
#include <stdio.h>

static int check_failures = 0;
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); check_failures++; } } while (0)
#define CHECK_CLOSE(a, b, tol) do { double _a = (a), _b = (b); if (!(fabs(_a - _b) <= (tol))) { \
    fprintf(stderr, "%s:%d: CHECK_CLOSE failed: %s = %.10g vs %s = %.10g (tol %g)\n", __FILE__, __LINE__, #a, _a, #b, _b, (double)(tol)); check_failures++; } } while (0)
static inline int check_status(const char *name)
{
    if (check_failures) fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
    else printf("%s: all checks passed\n", name);
    return check_failures ? 1 : 0;
}
#endif
