/* bf16 products for one tile: oneDNN's matmul primitive, or sgemm on bf16-rounded floats
 * (see include/rmens/kernels/matmul.h). */
#include "rmens/kernels/matmul.h"

#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/kernels/tiled_blas.h"

#ifdef RMENS_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
/* oneDNN (Debian's build) runs on OpenMP: inside rmens's tiles each primitive must run
 * on the tile's thread alone, so every worker sets its own OpenMP team size to 1. */
void omp_set_num_threads(int);
#endif

static rm_matmul_backend lowp_backend = RM_MATMUL_FP32;

size_t rm_lowp_size(void) { return lowp_backend == RM_MATMUL_BF16_ONEDNN ? 2 : 4; }

/* ---- rounding ---- */

#if defined(__GNUC__) && !defined(__clang__)
#define RM_VECTORISE __attribute__((optimize("tree-vectorize")))
#else
#define RM_VECTORISE
#endif

/* Round to nearest even on the upper 16 bits; a NaN stays a (quiet) NaN instead of
 * rounding into an infinity. Infinities and overflow to infinity come out right. */
static inline uint32_t bf16_upper(uint32_t u)
{
    uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    uint32_t nan = (u >> 16) | 0x40u;
    return (u & 0x7fffffffu) > 0x7f800000u ? nan : rounded;
}

RM_VECTORISE void rm_bf16_round_bits(uint16_t *restrict dst, const float *restrict src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], sizeof u);
        dst[i] = (uint16_t)bf16_upper(u);
    }
}

RM_VECTORISE void rm_bf16_round_floats(float *restrict dst, const float *restrict src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], sizeof u);
        u = bf16_upper(u) << 16;
        memcpy(&dst[i], &u, sizeof u);
    }
}

void rm_lowp_round(void *dst, const float *src, size_t n)
{
    if (lowp_backend == RM_MATMUL_BF16_ONEDNN) rm_bf16_round_bits(dst, src, n);
    else rm_bf16_round_floats(dst, src, n);
}

/* ReLU fused with the rounding of its result (forward), and the ReLU's backward fused with
 * the rounding of the masked gradient: one vectorised pass instead of a branchy scalar
 * loop and a second pass. The masks are those of src/model/mlp_template.h (NaN passes). */
RM_VECTORISE static void relu_round_bits(float *restrict x, uint16_t *restrict low, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i] < 0 ? 0 : x[i];
        uint32_t u;
        memcpy(&u, &v, sizeof u);
        x[i] = v;
        low[i] = (uint16_t)bf16_upper(u);
    }
}

RM_VECTORISE static void relu_round_floats(float *restrict x, float *restrict low, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i] < 0 ? 0 : x[i];
        uint32_t u;
        memcpy(&u, &v, sizeof u);
        x[i] = v;
        u = bf16_upper(u) << 16;
        memcpy(&low[i], &u, sizeof u);
    }
}

RM_VECTORISE static void relu_backward_round_bits(float *restrict dx, const float *restrict out,
                                                  uint16_t *restrict low, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = out[i] <= 0 ? 0 : dx[i];
        uint32_t u;
        memcpy(&u, &v, sizeof u);
        dx[i] = v;
        low[i] = (uint16_t)bf16_upper(u);
    }
}

RM_VECTORISE static void relu_backward_round_floats(float *restrict dx, const float *restrict out,
                                                    float *restrict low, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = out[i] <= 0 ? 0 : dx[i];
        uint32_t u;
        memcpy(&u, &v, sizeof u);
        dx[i] = v;
        u = bf16_upper(u) << 16;
        memcpy(&low[i], &u, sizeof u);
    }
}

RM_VECTORISE static void relu_backward_only(float *restrict dx, const float *restrict out, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] = out[i] <= 0 ? 0 : dx[i];
}

void rm_lowp_relu_round(float *x, void *low, size_t n)
{
    if (lowp_backend == RM_MATMUL_BF16_ONEDNN) relu_round_bits(x, low, n);
    else relu_round_floats(x, low, n);
}

void rm_lowp_relu_backward_round(float *dx, const float *out, void *low, size_t n)
{
    if (!low) relu_backward_only(dx, out, n);
    else if (lowp_backend == RM_MATMUL_BF16_ONEDNN) relu_backward_round_bits(dx, out, low, n);
    else relu_backward_round_floats(dx, out, low, n);
}

void rm_lowp_round_rows(void *dst, size_t ld_dst, const float *src, size_t ld_src, size_t rows, size_t cols)
{
    size_t es = rm_lowp_size();
    for (size_t r = 0; r < rows; r++) rm_lowp_round((char *)dst + r * ld_dst * es, src + r * ld_src, cols);
}

/* ---- plans ---- */

#define PLAN_CACHE 64
#define MAX_WORKERS 256

struct rm_lowp_plan {
    int trans_a, trans_b, M, N, K, lda, ldb, ldc, mode;
    int asked_packed; /* planned with RM_LOWP_PACKED_B (part of the cache key) */
    int packed_b;     /* B is read in the kernel's own layout (b_md), made by rm_lowp_pack_b */
    unsigned long long last_used;
#ifdef RMENS_HAVE_ONEDNN
    dnnl_primitive_t primitive;
    dnnl_memory_desc_t a_md, b_md, c_md, bias_md, scratch_md;
    dnnl_memory_desc_t plain_b_md; /* B as the caller keeps it (trans_b, ldb) */
    size_t scratch_bytes;
#endif
};

static rm_lowp_plan plans[PLAN_CACHE];
static int n_plans;
static unsigned long long plan_clock;
static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;

#ifdef RMENS_HAVE_ONEDNN
static dnnl_engine_t engine;
typedef struct {
    dnnl_stream_t stream;
    void *scratch;
    size_t scratch_bytes;
} worker_slot;
static worker_slot workers[MAX_WORKERS];
static char kernel_name[96];

static int dnnl_check(dnnl_status_t status, const char *call)
{
    if (status == dnnl_success) return 0;
    return rm_errorf("oneDNN %s failed (status %d%s)", call, (int)status,
                     status == dnnl_unimplemented ? ": no bf16 kernel for this CPU" :
                     status == dnnl_out_of_memory ? ": out of memory" : "");
}

static int engine_ready(void)
{
    if (engine) return 0;
    return dnnl_check(dnnl_engine_create(&engine, dnnl_cpu, 0), "dnnl_engine_create(cpu)");
}

static void plan_release(rm_lowp_plan *p)
{
    if (p->primitive) dnnl_primitive_destroy(p->primitive);
    p->primitive = NULL;
}

/* Memory descriptors by strides: row-major (rows, cols) with leading dimension ld, or the
 * transpose of a stored (cols, rows) matrix. */
static int strided_md(dnnl_memory_desc_t *md, int rows, int cols, int ld, int transposed, dnnl_data_type_t type)
{
    dnnl_dims_t dims = {rows, cols};
    dnnl_dims_t strides = {transposed ? 1 : ld, transposed ? ld : 1};
    return dnnl_check(dnnl_memory_desc_init_by_strides(md, 2, dims, type, strides), "dnnl_memory_desc_init_by_strides");
}

/* The layout oneDNN's kernel reads B in for products of this B (K, N) at the tile shape
 * (M = RM_TILE_ROWS): every packed plan of this B, a tail tile's included, takes this one,
 * so that one packed copy serves them all. */
static int packed_layout(const rm_lowp_plan *p, dnnl_memory_desc_t *layout)
{
    dnnl_memory_desc_t a_md, b_any, c_md, bias_md;
    dnnl_dims_t b_dims = {p->K, p->N};
    if (strided_md(&a_md, RM_TILE_ROWS, p->K, p->K, 0, dnnl_bf16) != 0 ||
        strided_md(&c_md, RM_TILE_ROWS, p->N, p->N, 0, dnnl_f32) != 0 ||
        strided_md(&bias_md, 1, p->N, p->N, 0, dnnl_f32) != 0 ||
        dnnl_check(dnnl_memory_desc_init_by_tag(&b_any, 2, b_dims, dnnl_bf16, dnnl_format_tag_any),
                   "dnnl_memory_desc_init_by_tag") != 0)
        return -1;
    dnnl_matmul_desc_t desc;
    dnnl_primitive_desc_t pd = NULL;
    int rc = dnnl_check(dnnl_matmul_desc_init(&desc, &a_md, &b_any, p->mode == RM_LOWP_BIAS ? &bias_md : NULL, &c_md),
                        "dnnl_matmul_desc_init");
    if (rc == 0) rc = dnnl_check(dnnl_primitive_desc_create(&pd, &desc, NULL, engine, NULL), "dnnl_primitive_desc_create");
    if (rc == 0) *layout = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return rc;
}

static int onednn_plan(rm_lowp_plan *p, char *impl, size_t impl_size)
{
    /* planning runs on the calling thread: no OpenMP team there either (its idle threads
     * would spin on the cores the tiles use) */
    omp_set_num_threads(1);
    if (engine_ready() != 0) return -1;
    if (strided_md(&p->a_md, p->M, p->K, p->lda, p->trans_a, dnnl_bf16) != 0 ||
        strided_md(&p->plain_b_md, p->K, p->N, p->ldb, p->trans_b, dnnl_bf16) != 0 ||
        strided_md(&p->c_md, p->M, p->N, p->ldc, 0, dnnl_f32) != 0)
        return -1;
    if (p->mode == RM_LOWP_BIAS && strided_md(&p->bias_md, 1, p->N, p->N, 0, dnnl_f32) != 0) return -1;
    p->b_md = p->plain_b_md;
    dnnl_matmul_desc_t desc;
    if (p->packed_b) {
        /* a packed B where oneDNN takes one for this shape; else this plan reads B as kept */
        dnnl_memory_desc_t layout;
        dnnl_primitive_desc_t pd = NULL;
        p->packed_b = packed_layout(p, &layout) == 0 &&
                      dnnl_matmul_desc_init(&desc, &p->a_md, &layout, p->mode == RM_LOWP_BIAS ? &p->bias_md : NULL,
                                            &p->c_md) == dnnl_success &&
                      dnnl_primitive_desc_create(&pd, &desc, NULL, engine, NULL) == dnnl_success;
        if (pd) dnnl_primitive_desc_destroy(pd);
        if (p->packed_b) p->b_md = layout;
        rm_error_clear();
    }
    if (dnnl_check(dnnl_matmul_desc_init(&desc, &p->a_md, &p->b_md, p->mode == RM_LOWP_BIAS ? &p->bias_md : NULL, &p->c_md),
                   "dnnl_matmul_desc_init") != 0)
        return -1;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t post_ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    int rc = dnnl_check(dnnl_primitive_attr_create(&attr), "dnnl_primitive_attr_create");
    /* scratchpad per worker (ours): primitives then run concurrently on any thread */
    if (rc == 0) rc = dnnl_check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user),
                                 "dnnl_primitive_attr_set_scratchpad_mode");
    if (rc == 0 && p->mode == RM_LOWP_ACCUMULATE) {
        rc = dnnl_check(dnnl_post_ops_create(&post_ops), "dnnl_post_ops_create");
        if (rc == 0) rc = dnnl_check(dnnl_post_ops_append_sum(post_ops, 1.0f), "dnnl_post_ops_append_sum");
        if (rc == 0) rc = dnnl_check(dnnl_primitive_attr_set_post_ops(attr, post_ops), "dnnl_primitive_attr_set_post_ops");
    }
    if (rc == 0) rc = dnnl_check(dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL), "dnnl_primitive_desc_create(matmul bf16)");
    if (rc == 0) {
        const char *name = NULL;
        if (impl && dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success && name)
            snprintf(impl, impl_size, "%s", name);
        p->scratch_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        p->scratch_bytes = dnnl_memory_desc_get_size(&p->scratch_md);
        rc = dnnl_check(dnnl_primitive_create(&p->primitive, pd), "dnnl_primitive_create(matmul bf16)");
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (post_ops) dnnl_post_ops_destroy(post_ops);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (rc != 0) return rm_error_context("bf16 product %d x %d x %d", p->M, p->N, p->K);
    return 0;
}

/* Streams and scratchpads of every worker that may run this plan, made before any tile
 * runs (so tiles never allocate, and failures are reported here). */
static int workers_ready(size_t scratch_bytes)
{
    int threads = rm_tiled_threads();
    for (int w = 0; w < threads && w < MAX_WORKERS; w++) {
        worker_slot *s = &workers[w];
        if (!s->stream && dnnl_check(dnnl_stream_create(&s->stream, engine, dnnl_stream_default_flags),
                                     "dnnl_stream_create") != 0)
            return -1;
        if (s->scratch_bytes < scratch_bytes) {
            void *grown = NULL;
            if (posix_memalign(&grown, 64, scratch_bytes) != 0) return rm_errorf("oneDNN scratchpad: out of memory");
            free(s->scratch);
            s->scratch = grown;
            s->scratch_bytes = scratch_bytes;
        }
    }
    return 0;
}
#endif

const rm_lowp_plan *rm_lowp_plan_get(int trans_a, int trans_b, int M, int N, int K, int lda, int ldb, int ldc,
                                     int mode)
{
    pthread_mutex_lock(&plan_lock);
    rm_lowp_plan key;
    memset(&key, 0, sizeof key);
    key.trans_a = trans_a, key.trans_b = trans_b, key.M = M, key.N = N, key.K = K;
    /* packed_b: asked for; the planned plan says whether it got it */
    key.lda = lda, key.ldb = ldb, key.ldc = ldc, key.mode = mode & ~RM_LOWP_PACKED_B;
    key.packed_b = (mode & RM_LOWP_PACKED_B) != 0;
    rm_lowp_plan *found = NULL;
    for (int i = 0; i < n_plans && !found; i++) {
        rm_lowp_plan *p = &plans[i];
        if (p->trans_a == key.trans_a && p->trans_b == key.trans_b && p->M == M && p->N == N && p->K == K &&
            p->lda == lda && p->ldb == ldb && p->ldc == ldc && p->mode == key.mode && p->asked_packed == key.packed_b)
            found = p;
    }
    int rc = 0;
    if (!found) {
        /* a new shape: a free slot, or the least recently used one (never a plan of the
         * product in flight: those were used last) */
        int victim = 0;
        if (n_plans < PLAN_CACHE) victim = n_plans++;
        else
            for (int i = 1; i < PLAN_CACHE; i++)
                if (plans[i].last_used < plans[victim].last_used) victim = i;
        found = &plans[victim];
#ifdef RMENS_HAVE_ONEDNN
        plan_release(found);
#endif
        *found = key;
        found->asked_packed = key.packed_b;
#ifdef RMENS_HAVE_ONEDNN
        if (lowp_backend == RM_MATMUL_BF16_ONEDNN) rc = onednn_plan(found, NULL, 0);
        else found->packed_b = 0;
#else
        found->packed_b = 0; /* the emulated products read B as kept */
#endif
        if (rc != 0) {
            if (victim == n_plans - 1) n_plans--;
            else found->M = -1; /* never matches again */
        }
    }
#ifdef RMENS_HAVE_ONEDNN
    if (rc == 0 && lowp_backend == RM_MATMUL_BF16_ONEDNN) rc = workers_ready(found->scratch_bytes);
#endif
    if (rc == 0) found->last_used = ++plan_clock;
    pthread_mutex_unlock(&plan_lock);
    return rc == 0 ? found : NULL;
}

#ifdef RMENS_HAVE_ONEDNN
/* A failure here would be a bug or memory exhaustion inside a worker thread (the plan and
 * the worker's resources were made and checked on the calling thread): end the process
 * with the reason rather than return wrong numbers. */
static void run_failed(const rm_lowp_plan *p, const char *call, dnnl_status_t status)
{
    fprintf(stderr, "rmens: error: oneDNN %s failed (status %d) in a bf16 product %d x %d x %d\n", call, (int)status,
            p->M, p->N, p->K);
    fflush(stderr);
    abort();
}

static void onednn_run(const rm_lowp_plan *p, const void *A, const void *B, const float *bias, float *C)
{
    int w = rm_tiled_worker();
    worker_slot *slot = &workers[w < MAX_WORKERS ? w : 0];
    omp_set_num_threads(1);
    dnnl_memory_t a = NULL, b = NULL, c = NULL, s = NULL, bm = NULL;
    dnnl_status_t st = dnnl_memory_create(&a, &p->a_md, engine, (void *)A);
    if (st == dnnl_success) st = dnnl_memory_create(&b, &p->b_md, engine, (void *)B);
    if (st == dnnl_success) st = dnnl_memory_create(&c, &p->c_md, engine, C);
    if (st == dnnl_success) st = dnnl_memory_create(&s, &p->scratch_md, engine, slot->scratch);
    if (st == dnnl_success && p->mode == RM_LOWP_BIAS) st = dnnl_memory_create(&bm, &p->bias_md, engine, (void *)bias);
    if (st != dnnl_success) run_failed(p, "dnnl_memory_create", st);
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}, {DNNL_ARG_SCRATCHPAD, s},
                               {DNNL_ARG_BIAS, bm}};
    st = dnnl_primitive_execute(p->primitive, slot->stream, p->mode == RM_LOWP_BIAS ? 5 : 4, args);
    if (st == dnnl_success) st = dnnl_stream_wait(slot->stream);
    if (st != dnnl_success) run_failed(p, "dnnl_primitive_execute", st);
    dnnl_memory_destroy(a);
    dnnl_memory_destroy(b);
    dnnl_memory_destroy(c);
    dnnl_memory_destroy(s);
    if (bm) dnnl_memory_destroy(bm);
}
#endif

void rm_lowp_run(const rm_lowp_plan *p, const void *A, const void *B, const float *bias, float *C)
{
#ifdef RMENS_HAVE_ONEDNN
    if (lowp_backend == RM_MATMUL_BF16_ONEDNN) {
        onednn_run(p, A, B, bias, C);
        return;
    }
#endif
    /* emulated: the operands already hold bf16-rounded values; a bias is C's start */
    if (p->mode == RM_LOWP_BIAS)
        for (int r = 0; r < p->M; r++) memcpy(C + (size_t)r * p->ldc, bias, (size_t)p->N * sizeof(float));
    cblas_sgemm(CblasRowMajor, p->trans_a ? CblasTrans : CblasNoTrans, p->trans_b ? CblasTrans : CblasNoTrans, p->M,
                p->N, p->K, 1.0f, A, p->lda, B, p->ldb, p->mode == RM_LOWP_OVERWRITE ? 0.0f : 1.0f, C, p->ldc);
}

int rm_lowp_plan_packed(const rm_lowp_plan *p) { return p && p->packed_b; }

size_t rm_lowp_packed_b_bytes(const rm_lowp_plan *p)
{
#ifdef RMENS_HAVE_ONEDNN
    if (p->packed_b) return dnnl_memory_desc_get_size(&p->b_md);
#endif
    (void)p;
    return 0;
}

int rm_lowp_pack_b(const rm_lowp_plan *p, const void *B, void *packed)
{
#ifdef RMENS_HAVE_ONEDNN
    if (!p->packed_b) return rm_errorf("internal: rm_lowp_pack_b on a plan that reads B as kept");
    omp_set_num_threads(1);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_memory_t from = NULL, to = NULL;
    dnnl_stream_t stream = NULL;
    int rc = dnnl_check(dnnl_reorder_primitive_desc_create(&pd, &p->plain_b_md, engine, &p->b_md, engine, NULL),
                        "dnnl_reorder_primitive_desc_create");
    if (rc == 0) rc = dnnl_check(dnnl_primitive_create(&reorder, pd), "dnnl_primitive_create(reorder)");
    if (rc == 0) rc = dnnl_check(dnnl_memory_create(&from, &p->plain_b_md, engine, (void *)B), "dnnl_memory_create");
    if (rc == 0) rc = dnnl_check(dnnl_memory_create(&to, &p->b_md, engine, packed), "dnnl_memory_create");
    if (rc == 0) rc = dnnl_check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags), "dnnl_stream_create");
    if (rc == 0) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
        rc = dnnl_check(dnnl_primitive_execute(reorder, stream, 2, args), "dnnl_primitive_execute(reorder)");
        if (rc == 0) rc = dnnl_check(dnnl_stream_wait(stream), "dnnl_stream_wait");
    }
    if (stream) dnnl_stream_destroy(stream);
    if (to) dnnl_memory_destroy(to);
    if (from) dnnl_memory_destroy(from);
    if (reorder) dnnl_primitive_destroy(reorder);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (rc != 0) return rm_error_context("packing a bf16 operand %d x %d", p->K, p->N);
    return 0;
#else
    (void)B, (void)packed;
    return p->packed_b ? 0 : rm_errorf("internal: rm_lowp_pack_b on a plan that reads B as kept");
#endif
}

void rm_lowp_set_backend(rm_matmul_backend backend)
{
    pthread_mutex_lock(&plan_lock);
#ifdef RMENS_HAVE_ONEDNN
    for (int i = 0; i < n_plans; i++) plan_release(&plans[i]);
#endif
    n_plans = 0;
    lowp_backend = backend;
    pthread_mutex_unlock(&plan_lock);
}

const char *rm_lowp_kernel_name(void)
{
#ifdef RMENS_HAVE_ONEDNN
    return kernel_name;
#else
    return "";
#endif
}

int rm_lowp_onednn_probe(char *impl, size_t impl_size)
{
#ifdef RMENS_HAVE_ONEDNN
    /* the model's widest product, one tile: forward of layer 0 at D = 2048 -> 1024 */
    rm_lowp_plan probe;
    memset(&probe, 0, sizeof probe);
    probe.trans_b = 1, probe.M = RM_TILE_ROWS, probe.N = 1024, probe.K = 2048;
    probe.lda = 2048, probe.ldb = 2048, probe.ldc = 1024, probe.mode = RM_LOWP_BIAS;
    int rc = onednn_plan(&probe, kernel_name, sizeof kernel_name);
    plan_release(&probe);
    if (impl) snprintf(impl, impl_size, "%s", kernel_name);
    return rc;
#else
    if (impl && impl_size) impl[0] = '\0';
    return rm_errorf("this rmens was built without oneDNN (Debian: libdnnl-dev)");
#endif
}
