/* Central finite differences against an analytic gradient, for the tests of the
 * double-precision layer code: each parameter p_i in turn is moved to p_i + h and p_i - h
 * (and restored), numeric_i = (L(p + h e_i) - L(p - h e_i)) / 2h, and its relative error
 * |numeric_i - grads[i]| / max(1e-3, |numeric_i|) is compared with tol. */
#ifndef RMENS_TEST_FD_GRAD_H
#define RMENS_TEST_FD_GRAD_H
#include <math.h>
#include <stddef.h>
#include <stdio.h>

/* The loss at the current parameters; ctx is the test's own (model, data, workspace). */
typedef double (*test_fd_loss)(void *ctx);

/* Every parameter of params[0..n_params) against grads: returns how many have a relative
 * error above tol (the first 5 printed, analytic beside numeric) and sets *worst to the
 * largest relative error. params is left as it was. */
static inline int test_fd_check(double *params, size_t n_params, const double *grads, double h, double tol,
                                test_fd_loss loss, void *ctx, double *worst)
{
    int bad = 0;
    *worst = 0;
    for (size_t i = 0; i < n_params; i++) {
        double saved = params[i];
        params[i] = saved + h;
        double plus = loss(ctx);
        params[i] = saved - h;
        double minus = loss(ctx);
        params[i] = saved;
        double numeric = (plus - minus) / (2 * h), err = fabs(numeric - grads[i]) / fmax(1e-3, fabs(numeric));
        if (err > *worst) *worst = err;
        if (err > tol && bad++ < 5) fprintf(stderr, "  param %zu: analytic %.12g numeric %.12g\n", i, grads[i], numeric);
    }
    return bad;
}
#endif
