/* The machine's bf16 limit for rmens (issue 15): oneDNN's matmul primitive with bf16 src
 * and weights, f32 dst and fp32 accumulation, at exactly the GEMM shapes of the reference
 * model D = 2048 -> 1024 -> 512 -> 1, measured now, with OpenBLAS cblas_sgemm at the same
 * shape measured right after it (the fp32 limit, as bench_sgemm), so every bf16/sgemm
 * ratio compares two rates taken under the same machine load.
 *
 * Each product C (M x N) = op(A) (M x K) op(B) (K x N) is laid out as the model's cblas
 * call (row-major): forward layers take W [N, K] as nn.Linear holds it, i.e. the matmul's
 * weights md has dims {K, N} and strides {1, K}; the weight gradients take A transposed
 * (the output gradient, [K = rows, M] row-major: strides {1, M}).
 *
 *   singles      fwd0_R (R x 1024 x 2048), fwd1_R (R x 512 x 1024) for R = 1024, 512, 256;
 *                bwd1_weight (512 x 1024, K = 1024 rows), bwd1_input (1024 x 1024, K = 512),
 *                bwd0_weight (1024 x 2048, K = 1024 rows): the step's backward GEMMs;
 *   train_step   the five GEMMs of one training step on 1024 rows, in sequence;
 *   forward_R    the two hidden-layer GEMMs of a forward pass of R rows: 1024 (a full
 *                block), 512 and 256 (tile heights: run with 1 thread for the tile table).
 * Each workload is measured three ways, one after the other:
 *   bf16         weights in the plain layout above (what a backend gets without a reorder);
 *   bf16_any     weights md dnnl_format_tag_any: the layout the kernel wants, reordered
 *                into once before timing (the reorder is not counted);
 *   sgemm        cblas_sgemm on the fp32 operands (beta 0, as the bf16 primitive).
 * Rates are the best one-call sample over SECONDS per workload and way (best-of filters
 * out other processes on a shared machine). Where oneDNN has no bf16 matmul (CPUs without
 * AVX-512: creating the primitive descriptor fails with unimplemented) the bf16 figures
 * are null and "unavailable" says why; sgemm is still measured.
 *
 * Usage: bench_bf16 THREADS SECONDS_PER_WORKLOAD [WORKLOAD,...]   (default: all)
 * THREADS sets oneDNN's OpenMP threads (omp_set_num_threads) and OpenBLAS's threads.
 * Prints a table and one JSON line (tests/bench/run_bench.py reads the JSON). */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <cblas.h>
#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

enum { D = 2048, H1 = 1024, H2 = 512, STEP_ROWS = 1024 };

/* OpenBLAS exports this (not in every cblas.h) */
void openblas_set_num_threads(int threads);

/* every oneDNN call goes through this: a failure names the call and oneDNN's status */
#define DNNL_CHECK(call)                                                                                 \
    do {                                                                                                 \
        dnnl_status_t st_ = (call);                                                                      \
        if (st_ != dnnl_success) {                                                                       \
            fprintf(stderr, "bench_bf16: %s failed: %s (line %d)\n", #call, dnnl_status2str(st_), __LINE__); \
            exit(1);                                                                                     \
        }                                                                                                \
    } while (0)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *alloc(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "bench_bf16: out of memory (%zu bytes)\n", bytes);
        exit(2);
    }
    return p;
}

/* uniform(-0.5, 0.5): no accumulation (beta 0), so no overflow concern */
static float *filled(size_t n, unsigned seed)
{
    float *a = alloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        a[i] = (float)((double)(seed >> 8) / 16777216.0 - 0.5);
    }
    return a;
}

/* round to nearest even (the data has no NaN) */
static uint16_t *to_bf16(const float *a, size_t n)
{
    uint16_t *b = alloc(n * sizeof(uint16_t));
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &a[i], sizeof u);
        u += 0x7fffu + ((u >> 16) & 1u);
        b[i] = (uint16_t)(u >> 16);
    }
    return b;
}

typedef struct {
    const char *name, *what;
    int M, N, K, trans_a, trans_b; /* as the model's row-major cblas call */
    int ready;
    float *A, *B, *C, *Cd;         /* fp32 operands and sgemm's output; oneDNN's output */
    uint16_t *A16, *B16;           /* the same values rounded to bf16, same layouts */
    dnnl_primitive_t plain, any;   /* NULL when oneDNN has no bf16 implementation */
    dnnl_memory_t src, wei, wei_any, dst;
    char impl[160], impl_any[160], any_format[96];
    int any_is_plain;
    double max_diff, max_ref;
} gemm;

static gemm gemms[] = {
    {.name = "fwd0_1024", .what = "forward layer 0: X (1024 x 2048) @ W0^T", .M = STEP_ROWS, .N = H1, .K = D, .trans_a = 0, .trans_b = 1},
    {.name = "fwd1_1024", .what = "forward layer 1: A1 (1024 x 1024) @ W1^T", .M = STEP_ROWS, .N = H2, .K = H1, .trans_a = 0, .trans_b = 1},
    {.name = "bwd1_weight", .what = "backward layer 1 weight grad: dA2^T @ A1, K = 1024 rows", .M = H2, .N = H1, .K = STEP_ROWS, .trans_a = 1, .trans_b = 0},
    {.name = "bwd1_input", .what = "backward layer 1 input grad: dA2 (1024 x 512) @ W1", .M = STEP_ROWS, .N = H1, .K = H2, .trans_a = 0, .trans_b = 0},
    {.name = "bwd0_weight", .what = "backward layer 0 weight grad: dA1^T @ X, K = 1024 rows", .M = H1, .N = D, .K = STEP_ROWS, .trans_a = 1, .trans_b = 0},
    {.name = "fwd0_512", .what = "forward layer 0, 512-row tile", .M = 512, .N = H1, .K = D, .trans_a = 0, .trans_b = 1},
    {.name = "fwd1_512", .what = "forward layer 1, 512-row tile", .M = 512, .N = H2, .K = H1, .trans_a = 0, .trans_b = 1},
    {.name = "fwd0_256", .what = "forward layer 0, 256-row tile", .M = 256, .N = H1, .K = D, .trans_a = 0, .trans_b = 1},
    {.name = "fwd1_256", .what = "forward layer 1, 256-row tile", .M = 256, .N = H2, .K = H1, .trans_a = 0, .trans_b = 1},
};
enum { N_GEMMS = sizeof gemms / sizeof gemms[0] };

typedef struct {
    const char *name;
    const char *parts[5];
} workload;

static const workload workloads[] = {
    {"fwd0_1024", {"fwd0_1024"}},
    {"fwd1_1024", {"fwd1_1024"}},
    {"bwd1_weight", {"bwd1_weight"}},
    {"bwd1_input", {"bwd1_input"}},
    {"bwd0_weight", {"bwd0_weight"}},
    {"train_step", {"fwd0_1024", "fwd1_1024", "bwd1_weight", "bwd1_input", "bwd0_weight"}},
    {"forward_1024", {"fwd0_1024", "fwd1_1024"}},
    {"forward_512", {"fwd0_512", "fwd1_512"}},
    {"forward_256", {"fwd0_256", "fwd1_256"}},
    {"fwd0_512", {"fwd0_512"}},
    {"fwd1_512", {"fwd1_512"}},
    {"fwd0_256", {"fwd0_256"}},
    {"fwd1_256", {"fwd1_256"}},
};
enum { N_WORKLOADS = sizeof workloads / sizeof workloads[0] };

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static int bf16_available = 1;
static char unavailable[512];

static gemm *find_gemm(const char *name)
{
    for (int i = 0; i < N_GEMMS; i++)
        if (strcmp(gemms[i].name, name) == 0) return &gemms[i];
    fprintf(stderr, "bench_bf16: no GEMM %s\n", name);
    exit(2);
}

/* "ba" for nn.Linear's [N, K], "BA16a64b2a" for a blocked layout: dims a = K, b = N,
 * outer dims by falling stride (upper case when also blocked), then the inner blocks */
static void describe(const dnnl_memory_desc_t *md, char *out, size_t size)
{
    if (md->format_kind != dnnl_blocked) {
        snprintf(out, size, "%s", dnnl_fmt_kind2str(md->format_kind));
        return;
    }
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    int order[2] = {0, 1};
    if (b->strides[1] > b->strides[0]) order[0] = 1, order[1] = 0;
    size_t n = 0;
    for (int i = 0; i < 2; i++) {
        int blocked = 0;
        for (int k = 0; k < b->inner_nblks; k++) blocked |= b->inner_idxs[k] == order[i];
        out[n++] = (char)((blocked ? 'A' : 'a') + order[i]);
    }
    out[n] = 0;
    for (int k = 0; k < b->inner_nblks && n + 24 < size; k++)
        n += (size_t)snprintf(out + n, size - n, "%lld%c", (long long)b->inner_blks[k], (char)('a' + b->inner_idxs[k]));
    if (md->extra.flags && n + 16 < size) snprintf(out + n, size - n, "+extra%#x", (unsigned)md->extra.flags);
}

/* the matmul primitive descriptor for g with weights md `wmd`; returns its status so that
 * the caller can tell "no bf16 implementation here" from a broken call */
static dnnl_status_t matmul_pd(const gemm *g, const dnnl_memory_desc_t *wmd, dnnl_primitive_desc_t *pd)
{
    dnnl_memory_desc_t src_md, dst_md;
    dnnl_dims_t src_dims = {g->M, g->K}, src_strides = {g->trans_a ? 1 : g->K, g->trans_a ? g->M : 1};
    dnnl_dims_t dst_dims = {g->M, g->N}, dst_strides = {g->N, 1};
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(&src_md, 2, src_dims, dnnl_bf16, src_strides));
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(&dst_md, 2, dst_dims, dnnl_f32, dst_strides));
    dnnl_matmul_desc_t desc;
    DNNL_CHECK(dnnl_matmul_desc_init(&desc, &src_md, wmd, NULL, &dst_md));
    return dnnl_primitive_desc_create(pd, &desc, NULL, engine, NULL);
}

static void execute(dnnl_primitive_t p, int nargs, const dnnl_exec_arg_t *args)
{
    DNNL_CHECK(dnnl_primitive_execute(p, stream, nargs, args));
    DNNL_CHECK(dnnl_stream_wait(stream));
}

static void setup(gemm *g)
{
    if (g->ready) return;
    g->ready = 1;
    size_t a = (size_t)g->M * g->K, b = (size_t)g->K * g->N, c = (size_t)g->M * g->N;
    g->A = filled(a, 11u + (unsigned)g->M), g->B = filled(b, 23u + (unsigned)g->N);
    g->C = filled(c, 5), g->Cd = filled(c, 7);
    g->A16 = to_bf16(g->A, a), g->B16 = to_bf16(g->B, b);
    if (!bf16_available) return;

    dnnl_memory_desc_t wei_md, any_md;
    dnnl_dims_t wei_dims = {g->K, g->N}, wei_strides = {g->trans_b ? 1 : g->N, g->trans_b ? g->K : 1};
    DNNL_CHECK(dnnl_memory_desc_init_by_strides(&wei_md, 2, wei_dims, dnnl_bf16, wei_strides));
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(&any_md, 2, wei_dims, dnnl_bf16, dnnl_format_tag_any));
    dnnl_primitive_desc_t pd = NULL, pd_any = NULL;
    dnnl_status_t st = matmul_pd(g, &wei_md, &pd);
    if (st == dnnl_unimplemented) {
        bf16_available = 0;
        snprintf(unavailable, sizeof unavailable,
                 "oneDNN has no bf16 matmul on this CPU (dnnl_primitive_desc_create for %s: %s; effective ISA %s)",
                 g->name, dnnl_status2str(st), dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()));
        return;
    }
    DNNL_CHECK(st);
    DNNL_CHECK(matmul_pd(g, &any_md, &pd_any));
    const char *impl = NULL, *impl_any = NULL;
    DNNL_CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    DNNL_CHECK(dnnl_primitive_desc_query(pd_any, dnnl_query_impl_info_str, 0, &impl_any));
    snprintf(g->impl, sizeof g->impl, "%s", impl ? impl : "?");
    snprintf(g->impl_any, sizeof g->impl_any, "%s", impl_any ? impl_any : "?");
    const dnnl_memory_desc_t *src_md = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *chosen = dnnl_primitive_desc_query_md(pd_any, dnnl_query_weights_md, 0);
    if (!src_md || !dst_md || !chosen) {
        fprintf(stderr, "bench_bf16: dnnl_primitive_desc_query_md failed for %s\n", g->name);
        exit(1);
    }
    describe(chosen, g->any_format, sizeof g->any_format);
    g->any_is_plain = dnnl_memory_desc_equal(chosen, &wei_md);

    DNNL_CHECK(dnnl_memory_create(&g->src, src_md, engine, g->A16));
    DNNL_CHECK(dnnl_memory_create(&g->wei, &wei_md, engine, g->B16));
    DNNL_CHECK(dnnl_memory_create(&g->dst, dst_md, engine, g->Cd));
    DNNL_CHECK(dnnl_memory_create(&g->wei_any, chosen, engine, DNNL_MEMORY_ALLOCATE));
    DNNL_CHECK(dnnl_primitive_create(&g->plain, pd));
    DNNL_CHECK(dnnl_primitive_create(&g->any, pd_any));

    /* the weights into the kernel's layout, once, outside any timing */
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t reorder;
    DNNL_CHECK(dnnl_reorder_primitive_desc_create(&rpd, &wei_md, engine, chosen, engine, NULL));
    DNNL_CHECK(dnnl_primitive_create(&reorder, rpd));
    dnnl_exec_arg_t rargs[] = {{DNNL_ARG_FROM, g->wei}, {DNNL_ARG_TO, g->wei_any}};
    execute(reorder, 2, rargs);
    DNNL_CHECK(dnnl_primitive_destroy(reorder));
    DNNL_CHECK(dnnl_primitive_desc_destroy(rpd));
    DNNL_CHECK(dnnl_primitive_desc_destroy(pd));
    DNNL_CHECK(dnnl_primitive_desc_destroy(pd_any));
}

enum way { BF16, BF16_ANY, SGEMM };

/* one call of g one way; returns its FLOPs */
static double call(gemm *g, enum way way)
{
    if (way == SGEMM) {
        cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans, g->trans_b ? CblasTrans : CblasNoTrans,
                    g->M, g->N, g->K, 1, g->A, g->trans_a ? g->M : g->K, g->B, g->trans_b ? g->K : g->N, 0, g->C, g->N);
    } else {
        dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, g->src}, {DNNL_ARG_WEIGHTS, way == BF16 ? g->wei : g->wei_any},
                                  {DNNL_ARG_DST, g->dst}};
        execute(way == BF16 ? g->plain : g->any, 3, args);
    }
    return 2.0 * g->M * g->N * g->K;
}

static double run_workload(gemm **parts, int n, enum way way)
{
    double flops = 0;
    for (int i = 0; i < n; i++) flops += call(parts[i], way);
    return flops;
}

/* Idle threads of the library used last keep spinning for a while (OpenBLAS's for 2^28
 * cycles, about 0.1 s; OpenMP's, oneDNN's, shorter): on a machine with as many cores as
 * threads they would take cores from the other library's first calls. Wait them out. */
static void library_switch(enum way way)
{
    static int last = -1;
    if (last >= 0 && (last == SGEMM) != (way == SGEMM)) {
        struct timespec pause = {0, 250000000L};
        nanosleep(&pause, NULL);
    }
    last = (int)way;
}

/* best one-call rate over `seconds` (at least 3 samples), after a warm-up call */
static double best_rate(gemm **parts, int n, enum way way, double seconds)
{
    library_switch(way);
    run_workload(parts, n, way);
    double best = 0, t_end = now() + seconds;
    int samples = 0;
    while (now() < t_end || samples < 3) {
        double t0 = now(), flops = run_workload(parts, n, way), rate = flops / (now() - t0);
        if (rate > best) best = rate;
        samples++;
    }
    return best;
}

/* bf16 against fp32 on the same (unrounded) values: the error of rounding the inputs */
static void accuracy(gemm *g)
{
    call(g, BF16);
    call(g, SGEMM);
    double diff = 0, ref = 0;
    for (size_t i = 0; i < (size_t)g->M * g->N; i++) {
        double d = fabs((double)g->Cd[i] - g->C[i]), r = fabs((double)g->C[i]);
        if (d > diff) diff = d;
        if (r > ref) ref = r;
    }
    g->max_diff = diff, g->max_ref = ref;
}

static int wanted(const char *list, const char *name)
{
    if (!list || strcmp(list, "all") == 0) return 1;
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
        if ((p == list || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) return 1;
    return 0;
}

static void json_rate(double r)
{
    if (r > 0) printf("%.2f", r / 1e9);
    else printf("null");
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    double seconds = argc > 2 ? atof(argv[2]) : 0.5;
    const char *list = argc > 3 ? argv[3] : "all";
    if (threads < 1 || !(seconds > 0) || argc > 4) {
        fprintf(stderr, "usage: bench_bf16 THREADS SECONDS_PER_WORKLOAD [WORKLOAD,...|all]\n");
        return 2;
    }
    int n_wanted = 0;
    for (int w = 0; w < N_WORKLOADS; w++) n_wanted += wanted(list, workloads[w].name);
    if (n_wanted == 0) {
        fprintf(stderr, "bench_bf16: no workload in '%s'; workloads:", list);
        for (int w = 0; w < N_WORKLOADS; w++) fprintf(stderr, " %s", workloads[w].name);
        fprintf(stderr, "\n");
        return 2;
    }
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    openblas_set_num_threads(threads);
    DNNL_CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    DNNL_CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    const dnnl_version_t *v = dnnl_version();

    double rate[N_WORKLOADS][3] = {{0}};
    for (int w = 0; w < N_WORKLOADS; w++) {
        if (!wanted(list, workloads[w].name)) continue;
        gemm *parts[5];
        int n = 0;
        while (n < 5 && workloads[w].parts[n]) parts[n] = find_gemm(workloads[w].parts[n]), n++;
        for (int i = 0; i < n; i++) setup(parts[i]);
        if (bf16_available) {
            rate[w][BF16] = best_rate(parts, n, BF16, seconds);
            rate[w][BF16_ANY] = best_rate(parts, n, BF16_ANY, seconds);
        }
        rate[w][SGEMM] = best_rate(parts, n, SGEMM, seconds);
    }
    for (int i = 0; i < N_GEMMS; i++)
        if (gemms[i].ready && bf16_available) accuracy(&gemms[i]);

    printf("oneDNN %d.%d.%d, effective ISA %s, %d thread(s), best of %.2f s per workload and way\n", v->major,
           v->minor, v->patch, dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()), threads, seconds);
    if (!bf16_available) printf("bf16: %s\n", unavailable);
    printf("%-13s %20s %10s %10s %10s %7s  %s\n", "workload", "M x N x K", "bf16", "bf16 any", "sgemm", "ratio", "GFLOP/s; bf16/sgemm");
    for (int w = 0; w < N_WORKLOADS; w++) {
        if (rate[w][SGEMM] == 0) continue;
        const workload *wl = &workloads[w];
        char shape[32] = "sequence";
        if (!wl->parts[1]) {
            gemm *g = find_gemm(wl->parts[0]);
            snprintf(shape, sizeof shape, "%d x %d x %d", g->M, g->N, g->K);
        }
        if (bf16_available)
            printf("%-13s %20s %10.1f %10.1f %10.1f %7.2f\n", wl->name, shape, rate[w][BF16] / 1e9,
                   rate[w][BF16_ANY] / 1e9, rate[w][SGEMM] / 1e9, rate[w][BF16] / rate[w][SGEMM]);
        else
            printf("%-13s %20s %10s %10s %10.1f %7s\n", wl->name, shape, "-", "-", rate[w][SGEMM] / 1e9, "-");
    }
    for (int i = 0; i < N_GEMMS; i++)
        if (gemms[i].ready && bf16_available)
            printf("  %-12s impl %s; weights any -> %s%s (impl %s); max |bf16 - fp32| %.3g of max |C| %.3g\n",
                   gemms[i].name, gemms[i].impl, gemms[i].any_format, gemms[i].any_is_plain ? " (= plain)" : "",
                   gemms[i].impl_any, gemms[i].max_diff, gemms[i].max_ref);

    printf("{\"bench\": \"bf16\", \"threads\": %d, \"seconds\": %.3f, \"onednn\": \"%d.%d.%d\", \"cpu_isa\": \"%s\", "
           "\"bf16_available\": %s, \"unavailable\": ",
           threads, seconds, v->major, v->minor, v->patch, dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()),
           bf16_available ? "true" : "false");
    if (bf16_available) printf("null");
    else printf("\"%s\"", unavailable);
    printf(", \"gemms\": {");
    int first = 1;
    for (int i = 0; i < N_GEMMS; i++) {
        gemm *g = &gemms[i];
        if (!g->ready) continue;
        printf("%s\"%s\": {\"what\": \"%s\", \"M\": %d, \"N\": %d, \"K\": %d, \"trans_a\": %d, \"trans_b\": %d", first ? "" : ", ",
               g->name, g->what, g->M, g->N, g->K, g->trans_a, g->trans_b);
        if (bf16_available)
            printf(", \"impl\": \"%s\", \"impl_any\": \"%s\", \"weights_any_format\": \"%s\", \"any_is_plain\": %s, "
                   "\"max_abs_diff\": %.4g, \"max_abs_value\": %.4g",
                   g->impl, g->impl_any, g->any_format, g->any_is_plain ? "true" : "false", g->max_diff, g->max_ref);
        printf("}");
        first = 0;
    }
    printf("}, \"workloads\": {");
    first = 1;
    for (int w = 0; w < N_WORKLOADS; w++) {
        if (rate[w][SGEMM] == 0) continue;
        printf("%s\"%s\": {\"parts\": [", first ? "" : ", ", workloads[w].name);
        for (int i = 0; i < 5 && workloads[w].parts[i]; i++) printf("%s\"%s\"", i ? ", " : "", workloads[w].parts[i]);
        printf("], \"bf16_gflops\": ");
        json_rate(rate[w][BF16]);
        printf(", \"bf16_any_gflops\": ");
        json_rate(rate[w][BF16_ANY]);
        printf(", \"sgemm_gflops\": ");
        json_rate(rate[w][SGEMM]);
        printf(", \"bf16_vs_sgemm\": ");
        if (rate[w][BF16] > 0) printf("%.3f", rate[w][BF16] / rate[w][SGEMM]);
        else printf("null");
        printf(", \"bf16_any_vs_sgemm\": ");
        if (rate[w][BF16_ANY] > 0) printf("%.3f", rate[w][BF16_ANY] / rate[w][SGEMM]);
        else printf("null");
        printf("}");
        first = 0;
    }
    printf("}}\n");
    for (int i = 0; i < N_GEMMS; i++) {
        gemm *g = &gemms[i];
        if (g->plain) DNNL_CHECK(dnnl_primitive_destroy(g->plain));
        if (g->any) DNNL_CHECK(dnnl_primitive_destroy(g->any));
        if (g->src) DNNL_CHECK(dnnl_memory_destroy(g->src));
        if (g->wei) DNNL_CHECK(dnnl_memory_destroy(g->wei));
        if (g->wei_any) DNNL_CHECK(dnnl_memory_destroy(g->wei_any));
        if (g->dst) DNNL_CHECK(dnnl_memory_destroy(g->dst));
        free(g->A), free(g->B), free(g->C), free(g->Cd), free(g->A16), free(g->B16);
    }
    DNNL_CHECK(dnnl_stream_destroy(stream));
    DNNL_CHECK(dnnl_engine_destroy(engine));
    return 0;
}
