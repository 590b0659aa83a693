/* Adam with optional decoupled weight decay (see include/rmens/model/optim.h). */
#include "rmens/model/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/kernels/tiled_blas.h"

int rm_adam_create(rm_adam *a, size_t n)
{
    memset(a, 0, sizeof *a);
    a->n = n;
    a->beta1 = 0.9f;
    a->beta2 = 0.999f;
    a->eps = 1e-8f;
    a->m = rm_calloc(n, sizeof(float), "Adam first moments");
    a->v = rm_calloc(n, sizeof(float), "Adam second moments");
    if (!a->m || !a->v) {
        rm_adam_free(a);
        return -1;
    }
    return 0;
}

void rm_adam_free(rm_adam *a)
{
    free(a->m);
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* The update streams four arrays of n floats once and is memory-bound, but only if it
 * runs in SIMD: GCC will not vectorise sqrtf under errno semantics (and the project
 * builds at -O2 without -fno-math-errno), so with AVX the body is written with
 * intrinsics; the scalar loop finishes the remainder and serves other machines.
 * Both compute the same expression in the same order. */
#if defined(__AVX__)
#include <immintrin.h>
#endif

static void adam_update(float *restrict params, float *restrict grads, float *restrict m, float *restrict v,
                        size_t n, float beta1, float beta2, float eps, float step_size, float inv_sqrt_bc2,
                        float decay, int clear)
{
    const float one_minus_beta1 = 1.0f - beta1, one_minus_beta2 = 1.0f - beta2;
    size_t i = 0;
#if defined(__AVX__)
    const __m256 b1 = _mm256_set1_ps(beta1), b2 = _mm256_set1_ps(beta2);
    const __m256 c1 = _mm256_set1_ps(one_minus_beta1), c2 = _mm256_set1_ps(one_minus_beta2);
    const __m256 ss = _mm256_set1_ps(step_size), ib = _mm256_set1_ps(inv_sqrt_bc2);
    const __m256 ep = _mm256_set1_ps(eps), dc = _mm256_set1_ps(decay);
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(grads + i);
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(c1, g));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(_mm256_mul_ps(c2, g), g));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        if (clear) _mm256_storeu_ps(grads + i, _mm256_setzero_ps());
        __m256 p = _mm256_loadu_ps(params + i);
        __m256 denom = _mm256_add_ps(_mm256_mul_ps(_mm256_sqrt_ps(vi), ib), ep);
        __m256 update = _mm256_add_ps(_mm256_div_ps(_mm256_mul_ps(ss, mi), denom), _mm256_mul_ps(dc, p));
        _mm256_storeu_ps(params + i, _mm256_sub_ps(p, update));
    }
#endif
    for (; i < n; i++) {
        float g = grads[i];
        float mi = beta1 * m[i] + one_minus_beta1 * g;
        float vi = beta2 * v[i] + one_minus_beta2 * g * g;
        m[i] = mi;
        v[i] = vi;
        if (clear) grads[i] = 0;
        /* lr * mhat / (sqrt(vhat) + eps) with mhat = m / bc1, vhat = v / bc2 */
        float denom = sqrtf(vi) * inv_sqrt_bc2 + eps;
        params[i] -= step_size * mi / denom + decay * params[i];
    }
}

/* The update runs in chunks over the model's threads (rm_mlp_set_threads): memory-bound,
 * it would otherwise leave the other threads idle for ~8% of a training step. Chunks are
 * multiples of the SIMD width, so an element takes the same path whatever the threads. */
#define ADAM_CHUNK ((size_t)1 << 16)

typedef struct {
    rm_adam *a;
    float *params, *grads; /* grads written only when clear */
    float step_size, inv_sqrt_bc2, decay;
    int clear;
} adam_job;

static void adam_chunk(const void *p, int t)
{
    const adam_job *j = p;
    size_t begin = (size_t)t * ADAM_CHUNK, n = j->a->n - begin < ADAM_CHUNK ? j->a->n - begin : ADAM_CHUNK;
    adam_update(j->params + begin, j->grads + begin, j->a->m + begin, j->a->v + begin, n, j->a->beta1, j->a->beta2,
                j->a->eps, j->step_size, j->inv_sqrt_bc2, j->decay, j->clear);
}

static void adam_step(rm_adam *a, float *params, float *grads, float lr, float weight_decay, int clear)
{
    a->step++;
    /* Bias corrections in double: beta2^t is close to 1 for thousands of steps. */
    double bias_correction1 = 1.0 - pow(a->beta1, (double)a->step);
    double bias_correction2 = 1.0 - pow(a->beta2, (double)a->step);
    float step_size = (float)(lr / bias_correction1);
    float inv_sqrt_bc2 = (float)(1.0 / sqrt(bias_correction2));
    adam_job job = {a, params, grads, step_size, inv_sqrt_bc2, lr * weight_decay, clear};
    rm_tiled_run(adam_chunk, &job, (int)((a->n + ADAM_CHUNK - 1) / ADAM_CHUNK));
}

void rm_adam_step(rm_adam *a, float *params, const float *grads, float lr, float weight_decay)
{
    adam_step(a, params, (float *)grads, lr, weight_decay, 0); /* not written: clear = 0 */
}

/* The gradient is read once per step anyway: zeroing it in the same pass costs stores to
 * lines already in cache, where a separate memset streamed 10 MB through memory again
 * (1% of a step at the reference shapes, on one thread, before the products could start). */
void rm_adam_step_clear(rm_adam *a, float *params, float *grads, float lr, float weight_decay)
{
    adam_step(a, params, grads, lr, weight_decay, 1);
}
