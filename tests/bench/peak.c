/* The CPU's own arithmetic peak (issue 31): the limit a kernel engineer measures against.
 *
 * Register-only loops of independent multiply-adds, per thread count, each thread pinned to
 * its own CPU of the process's affinity mask where it has one:
 *   fp32      AVX-512F: vfmadd231ps zmm (16 lanes x 2 FLOPs); else AVX2+FMA: vfmadd231ps ymm
 *             (8 x 2); else SSE2 mulps + addps (4 x 2 per pair);
 *   bf16      AVX512_BF16: vdpbf16ps zmm, 16 fp32 lanes each += 2 bf16 products
 *             (4 FLOPs per lane: 2 multiplies, 2 adds); null without AVX512_BF16;
 *   amx_bf16  AMX-BF16: tdpbf16ps on full 16 x 64-byte tiles, 2 x 2 accumulator tiles
 *             (16 x 16 x 32 x 2 = 16 384 FLOPs per instruction); null without AMX-BF16 or
 *             when Linux refuses the tile state (arch_prctl ARCH_REQ_XCOMP_PERM).
 * 12 independent accumulators (fp32; 24 for vdpbf16ps), so neither the latency nor a
 * dependency chain limits the rate: 2 pipes x 4 cycles of FMA latency need 8 in flight, the
 * longer bf16 dot product more. Nothing is loaded or stored inside the loops.
 *
 * Dispatch is by CPUID at run time (and XGETBV: the OS must save the zmm / tile state), and
 * every kernel carries its own target attribute, so the binary is built without -march and
 * runs on AVX2-only (or older) CPUs too; the instructions themselves are inline assembly,
 * so the compiler can neither drop nor reorder them.
 *
 * Usage: bench_peak [SECONDS [THREADS,...]]   (defaults 0.5 s per figure, threads 1,2)
 * (BENCH_PEAK_ISA=avx2 or =sse2 in the environment: the path of a CPU without AVX-512, or
 * also without AVX2 / FMA, whatever this one has; the JSON then names it in isa_cap.)
 * Each figure is the best of 5 ms samples taken for SECONDS (after a warm-up): on a shared
 * machine some samples run while nothing else holds the cores. In a sample all threads
 * start together behind a barrier: GFLOP/s = the threads' FLOPs over the wall time from the
 * first start to the last end. Also an estimate of the core clock: a chain of dependent
 * register adds (one per cycle) on one thread. Prints one JSON line:
 *   {"fp32": {"1": GFLOP/s, "2": ...}, "bf16": {...} | null, "amx_bf16": {...} | null,
 *    "isa": {"fp32": ..., "bf16": ..., "amx_bf16": ...}, "nominal_flops_per_cycle": {...},
 *    "clock_ghz_add_chain": ..., "cpuid": {...}, ...}
 * The benchmark driver (tests/bench/run_bench.py) divides every rmens and PyTorch rate by
 * these peaks. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ACC 12
#define MAX_THREADS 256

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- what the CPU has and the OS enables ---- */

typedef struct {
    char vendor[13];
    unsigned family, model;
    int sse2, avx2, fma, avx512f, avx512_bf16, amx_bf16, amx_tile;
    int os_ymm, os_zmm, os_amx; /* XCR0: the OS saves the ymm / zmm / tile state */
} cpu_t;

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static cpu_t detect(void)
{
    cpu_t c;
    memset(&c, 0, sizeof c);
    unsigned a = 0, b = 0, cx = 0, d = 0, max_leaf = 0;
    if (!__get_cpuid(0, &max_leaf, &b, &cx, &d))
        return c;
    memcpy(c.vendor, &b, 4);
    memcpy(c.vendor + 4, &d, 4);
    memcpy(c.vendor + 8, &cx, 4);
    __get_cpuid(1, &a, &b, &cx, &d);
    unsigned base_family = (a >> 8) & 0xf, base_model = (a >> 4) & 0xf;
    c.family = base_family + (base_family == 0xf ? (a >> 20) & 0xff : 0);
    c.model = base_model | ((base_family == 0x6 || base_family == 0xf) ? ((a >> 16) & 0xf) << 4 : 0);
    c.sse2 = (d >> 26) & 1;
    c.fma = (cx >> 12) & 1;
    int osxsave = (cx >> 27) & 1, avx = (cx >> 28) & 1;
    if (osxsave && avx) {
        uint64_t xcr0 = xgetbv0();
        c.os_ymm = (xcr0 & 0x6) == 0x6;                      /* SSE, AVX */
        c.os_zmm = c.os_ymm && (xcr0 & 0xe0) == 0xe0;        /* opmask, ZMM_Hi256, Hi16_ZMM */
        c.os_amx = (xcr0 & 0x60000) == 0x60000;              /* XTILECFG, XTILEDATA */
    }
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, cx, d);
        unsigned max_sub = a;
        c.avx2 = (b >> 5) & 1;
        c.avx512f = (b >> 16) & 1;
        c.amx_bf16 = (d >> 22) & 1;
        c.amx_tile = (d >> 24) & 1;
        if (max_sub >= 1) {
            __cpuid_count(7, 1, a, b, cx, d);
            c.avx512_bf16 = (a >> 5) & 1;
        }
    }
    return c;
}

/* ---- the kernels: iters x the loop body, FLOPs returned by flops_per_iter ---- */

static volatile float sink; /* the accumulators' sum: the loops' results are used */

#define FMA12(op, x, y)                                                                              \
    op " %[" x "], %[" y "], %[a0]\n\t" op " %[" x "], %[" y "], %[a1]\n\t" op " %[" x "], %[" y     \
       "], %[a2]\n\t" op " %[" x "], %[" y "], %[a3]\n\t" op " %[" x "], %[" y "], %[a4]\n\t" op     \
       " %[" x "], %[" y "], %[a5]\n\t" op " %[" x "], %[" y "], %[a6]\n\t" op " %[" x "], %[" y     \
       "], %[a7]\n\t" op " %[" x "], %[" y "], %[a8]\n\t" op " %[" x "], %[" y "], %[a9]\n\t" op     \
       " %[" x "], %[" y "], %[a10]\n\t" op " %[" x "], %[" y "], %[a11]\n\t"
#define ACC_OPERANDS(c)                                                                              \
    [a0] c(a0), [a1] c(a1), [a2] c(a2), [a3] c(a3), [a4] c(a4), [a5] c(a5), [a6] c(a6), [a7] c(a7),  \
        [a8] c(a8), [a9] c(a9), [a10] c(a10), [a11] c(a11)
#define ACC_SUM (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11)

/* 2 x 12 vfmadd231ps zmm per iteration */
__attribute__((target("avx512f"))) static void fp32_avx512(long iters)
{
    __m512 x = _mm512_set1_ps(1e-3f + sink * 0), y = _mm512_set1_ps(1e-3f);
    __m512 a0 = _mm512_set1_ps(0.f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,
           a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    for (long i = 0; i < iters; i++)
        __asm__ volatile(FMA12("vfmadd231ps", "x", "y") FMA12("vfmadd231ps", "x", "y")
                         : ACC_OPERANDS("+v")
                         : [x] "v"(x), [y] "v"(y));
    sink += _mm512_reduce_add_ps(ACC_SUM);
}

/* 24 vdpbf16ps zmm per iteration into 24 accumulators (two register sets of 12, an asm
 * statement each: an asm takes at most 30 operands): each fp32 lane += x.even * y.even +
 * x.odd * y.odd. 12 accumulators are not enough here: on Zen 5 (family 26) they ran at 0.93
 * of 24's rate, the dot product's latency being over 6 cycles at 2 per cycle. */
#define ACC_B_OPERANDS(c)                                                                            \
    [a0] c(b0), [a1] c(b1), [a2] c(b2), [a3] c(b3), [a4] c(b4), [a5] c(b5), [a6] c(b6), [a7] c(b7),  \
        [a8] c(b8), [a9] c(b9), [a10] c(b10), [a11] c(b11)
__attribute__((target("avx512f,avx512bf16"))) static void bf16_avx512(long iters)
{
    __m512 one = _mm512_set1_ps(1.0f + sink * 0), small = _mm512_set1_ps(1e-3f);
    __m512bh x = _mm512_cvtne2ps_pbh(one, one), y = _mm512_cvtne2ps_pbh(small, small);
    __m512 a0 = _mm512_set1_ps(0.f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,
           a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0, b8 = a0, b9 = a0,
           b10 = a0, b11 = a0;
    for (long i = 0; i < iters; i++) {
        __asm__ volatile(FMA12("vdpbf16ps", "x", "y") : ACC_OPERANDS("+v") : [x] "v"(x), [y] "v"(y));
        __asm__ volatile(FMA12("vdpbf16ps", "x", "y") : ACC_B_OPERANDS("+v") : [x] "v"(x), [y] "v"(y));
    }
    sink += _mm512_reduce_add_ps(ACC_SUM + (b0 + b1 + b2 + b3 + b4 + b5 + b6 + b7 + b8 + b9 + b10 + b11));
}

/* 2 x 12 vfmadd231ps ymm per iteration */
__attribute__((target("avx2,fma"))) static void fp32_avx2(long iters)
{
    __m256 x = _mm256_set1_ps(1e-3f + sink * 0), y = _mm256_set1_ps(1e-3f);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,
           a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    for (long i = 0; i < iters; i++)
        __asm__ volatile(FMA12("vfmadd231ps", "x", "y") FMA12("vfmadd231ps", "x", "y")
                         : ACC_OPERANDS("+x")
                         : [x] "x"(x), [y] "x"(y));
    __m256 s = ACC_SUM;
    float out[8];
    _mm256_storeu_ps(out, s);
    sink += out[0];
}

/* 12 x (mulps + addps) xmm per iteration (no FMA: pre-Haswell x86-64): per accumulator a
 * copy of x multiplied by y in a scratch register (renamed each time), added to it */
#define MULADD(a) "movaps %[x], %[t]\n\tmulps %[y], %[t]\n\taddps %[t], %[" a "]\n\t"
static void fp32_sse2(long iters)
{
    __m128 x = _mm_set1_ps(1e-3f + sink * 0), y = _mm_set1_ps(1e-3f), t = x;
    __m128 a0 = _mm_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,
           a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    for (long i = 0; i < iters; i++)
        __asm__ volatile(MULADD("a0") MULADD("a1") MULADD("a2") MULADD("a3") MULADD("a4") MULADD("a5")
                         MULADD("a6") MULADD("a7") MULADD("a8") MULADD("a9") MULADD("a10") MULADD("a11")
                         : ACC_OPERANDS("+x"), [t] "+x"(t)
                         : [x] "x"(x), [y] "x"(y));
    float out[4];
    _mm_storeu_ps(out, ACC_SUM);
    sink += out[0];
}

/* AMX: 4 x tdpbf16ps per iteration, C tiles 0-3 (16 rows x 16 fp32) += A tiles 4-5 (16 rows
 * x 32 bf16) x B tiles 6-7 (16 rows of 16 bf16 pairs), A and B loaded once. Untested on the
 * machines this was written on (neither had AMX): it runs only behind the CPUID and
 * arch_prctl checks, and any failure there leaves amx_bf16 null with the reason. */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((packed)) tilecfg_t;

static uint16_t amx_src[16 * 32] __attribute__((aligned(64))); /* bf16: 1.0 in A, 2^-10 in B */
static uint16_t amx_src_b[16 * 32] __attribute__((aligned(64)));

__attribute__((target("amx-tile,amx-bf16"))) static void amx_bf16(long iters)
{
    tilecfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.rows[t] = 16;
        cfg.colsb[t] = 64;
    }
    float c[16 * 16] __attribute__((aligned(64)));
    memset(c, 0, sizeof c);
    __asm__ volatile("" ::: "memory"); /* the tile loads' asm names no memory: c written first */
    _tile_loadconfig(&cfg);
    _tile_loadd(0, c, 64);
    _tile_loadd(1, c, 64);
    _tile_loadd(2, c, 64);
    _tile_loadd(3, c, 64);
    _tile_loadd(4, amx_src, 64);
    _tile_loadd(5, amx_src, 64);
    _tile_loadd(6, amx_src_b, 64);
    _tile_loadd(7, amx_src_b, 64);
    for (long i = 0; i < iters; i++) {
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, c, 64);
    __asm__ volatile("" ::: "memory"); /* and read after the store */
    _tile_release();
    sink += c[0];
}

/* Linux gives a process the AMX tile data state only on request (kernel 5.16+). */
static const char *amx_permit(void)
{
#ifdef __linux__
    enum { ARCH_GET_XCOMP_PERM = 0x1022, ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    unsigned long bitmask = 0;
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0)
        return "arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA) refused (kernel older than 5.16?)";
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &bitmask) != 0 || !(bitmask & (1ul << XFEATURE_XTILEDATA)))
        return "arch_prctl granted no XTILEDATA";
    return NULL;
#else
    return "AMX tile state request implemented for Linux only";
#endif
}

typedef struct {
    const char *name;
    void (*fn)(long);
    double flops_per_iter;
    double flops_per_cycle; /* of one core with 2 FMA pipes (zmm / ymm), as stated in isa */
    const char *isa;
} kernel_t;

/* ---- threads ---- */

typedef struct {
    const kernel_t *k;
    long iters;
    int cpu; /* -1: not pinned */
    int pinned;
    pthread_barrier_t *barrier;
    double t0, t1;
} job_t;

static void *worker(void *p)
{
    job_t *j = p;
    if (j->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(j->cpu, &set);
        j->pinned = pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
    }
    pthread_barrier_wait(j->barrier);
    j->t0 = now();
    j->k->fn(j->iters);
    j->t1 = now();
    return NULL;
}

static int allowed_cpus[MAX_THREADS], n_allowed;
static int all_pinned = 1;

/* GFLOP/s of one run of `threads` threads, `iters` iterations each. */
static double run_once(const kernel_t *k, int threads, long iters, double *wall)
{
    pthread_t tid[MAX_THREADS];
    job_t jobs[MAX_THREADS];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)threads);
    for (int t = 0; t < threads; t++) {
        /* pin to distinct CPUs while there are enough; more threads than CPUs: unpinned */
        jobs[t] = (job_t){k, iters, threads <= n_allowed ? allowed_cpus[t] : -1, 0, &barrier, 0, 0};
        if (pthread_create(&tid[t], NULL, worker, &jobs[t]) != 0) {
            fprintf(stderr, "bench_peak: pthread_create failed\n");
            exit(2);
        }
    }
    double t0 = 1e300, t1 = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
        if (!jobs[t].pinned)
            all_pinned = 0;
        t0 = jobs[t].t0 < t0 ? jobs[t].t0 : t0;
        t1 = jobs[t].t1 > t1 ? jobs[t].t1 : t1;
    }
    pthread_barrier_destroy(&barrier);
    *wall = t1 - t0;
    return k->flops_per_iter * (double)iters * threads / (t1 - t0) / 1e9;
}

/* Samples of about SAMPLE seconds: short enough that on a shared machine some of them run
 * while no other process holds the cores (a scheduler slice is a few ms), long enough that
 * the clock's resolution and the thread start-up do not count. */
#define SAMPLE 0.005

/* Best GFLOP/s over samples for `seconds` (at least 3), after a warm-up of 20 samples'
 * length (clocks, the AVX-512 / AMX power state); iterations calibrated on one thread. */
static double peak(const kernel_t *k, int threads, double seconds, int *samples)
{
    long iters = 100;
    double wall = 0, best_wall;
    for (;;) { /* calibrate: double until a run takes a tenth of a sample */
        run_once(k, 1, iters, &wall);
        if (wall >= SAMPLE / 10 || iters > (1L << 40))
            break;
        iters *= 2;
    }
    best_wall = wall;
    for (int r = 0; r < 5; r++) { /* the fastest of a few: the others may have been preempted */
        run_once(k, 1, iters, &wall);
        best_wall = wall < best_wall ? wall : best_wall;
    }
    long warm = (long)((double)iters * 20 * SAMPLE / best_wall) + 1;
    iters = (long)((double)iters * SAMPLE / best_wall) + 1;
    run_once(k, threads, warm, &wall);
    double best = 0, t_end = now() + seconds;
    int n = 0;
    while (n < 3 || now() < t_end) {
        double g = run_once(k, threads, iters, &wall);
        best = g > best ? g : best;
        n++;
    }
    *samples = n;
    return best;
}

/* The core clock in GHz: a chain of dependent register-register adds retires one per cycle
 * (best over samples for `seconds`, at least 3); on one thread, pinned like the kernels. */
static double clock_ghz(double seconds)
{
    if (n_allowed > 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(allowed_cpus[0], &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    const long iters = 1000000; /* x 16 adds = 16 M cycles, 4 ms at 4 GHz */
    double best = 0, t_end = now() + seconds;
    for (int r = 0; r < 3 || now() < t_end; r++) {
        uint64_t x = 0, one = 1;
        double t0 = now();
        for (long i = 0; i < iters; i++)
            __asm__ volatile("add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                             "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                             "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                             "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                             : "+r"(x)
                             : "r"(one));
        double g = 16.0 * (double)iters / (now() - t0) / 1e9;
        best = g > best ? g : best;
        sink += (float)x;
    }
    if (n_allowed > 0) { /* back to every allowed CPU */
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int i = 0; i < n_allowed; i++)
            CPU_SET(allowed_cpus[i], &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    return best;
}

static void print_str(const char *key, const char *value, const char *sep)
{
    printf(value ? "%s\"%s\": \"%s\"" : "%s\"%s\": null", sep, key, value);
}

static int samples_total;

static void print_rates(const char *name, const kernel_t *k, const int *threads, int n_threads, double seconds)
{
    printf("\"%s\": ", name);
    if (!k) {
        printf("null");
        return;
    }
    printf("{");
    for (int i = 0; i < n_threads; i++) {
        int n = 0;
        double g = peak(k, threads[i], seconds, &n);
        samples_total += n;
        printf("%s\"%d\": %.1f", i ? ", " : "", threads[i], g);
    }
    printf("}");
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.5;
    int threads[MAX_THREADS], n_threads = 0;
    const char *list = argc > 2 ? argv[2] : "1,2";
    for (const char *p = list; *p && n_threads < MAX_THREADS;) {
        char *end;
        long t = strtol(p, &end, 10);
        if (end == p || t < 1 || t > MAX_THREADS)
            break;
        threads[n_threads++] = (int)t;
        p = *end == ',' ? end + 1 : end;
    }
    if (!(seconds > 0) || n_threads == 0 || argc > 3) {
        fprintf(stderr, "usage: bench_peak [SECONDS [THREADS,...]]   (defaults 0.5 1,2)\n");
        return 2;
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int c = 0; c < CPU_SETSIZE && n_allowed < MAX_THREADS; c++)
            if (CPU_ISSET(c, &set))
                allowed_cpus[n_allowed++] = c;

    cpu_t cpu = detect();
    /* BENCH_PEAK_ISA=avx2 or sse2: take the path of a CPU without AVX-512 (and AMX), or also
     * without AVX2 / FMA, to try the fallbacks on any machine */
    const char *cap = getenv("BENCH_PEAK_ISA");
    if (cap && (!strcmp(cap, "avx2") || !strcmp(cap, "sse2"))) {
        cpu.avx512f = cpu.avx512_bf16 = cpu.amx_bf16 = cpu.amx_tile = 0;
        if (!strcmp(cap, "sse2"))
            cpu.avx2 = cpu.fma = 0;
    } else if (cap && *cap) {
        fprintf(stderr, "bench_peak: BENCH_PEAK_ISA must be avx2 or sse2\n");
        return 2;
    } else {
        cap = NULL;
    }
    for (int i = 0; i < 16 * 32; i++) {
        amx_src[i] = 0x3f80;   /* 1.0 */
        amx_src_b[i] = 0x3a80; /* 2^-10 */
    }
    static const kernel_t k_avx512 = {"fp32", fp32_avx512, 2 * ACC * 16 * 2, 64, "avx512f: vfmadd231ps zmm, 12 accumulators"};
    static const kernel_t k_avx2 = {"fp32", fp32_avx2, 2 * ACC * 8 * 2, 32, "avx2+fma: vfmadd231ps ymm, 12 accumulators"};
    static const kernel_t k_sse2 = {"fp32", fp32_sse2, ACC * 4 * 2, 16, "sse2: mulps + addps xmm, 12 accumulators"};
    static const kernel_t k_bf16 = {"bf16", bf16_avx512, 2 * ACC * 16 * 4, 128, "avx512_bf16: vdpbf16ps zmm, 24 accumulators"};
    static const kernel_t k_amx = {"amx_bf16", amx_bf16, 4 * 16 * 16 * 32 * 2, 1024,
                                   "amx_bf16: tdpbf16ps, 4 accumulator tiles (2 x 2 blocking)"};
    const kernel_t *fp32 = cpu.avx512f && cpu.os_zmm           ? &k_avx512
                           : cpu.avx2 && cpu.fma && cpu.os_ymm ? &k_avx2
                                                               : &k_sse2;
    const kernel_t *bf16 = cpu.avx512f && cpu.avx512_bf16 && cpu.os_zmm ? &k_bf16 : NULL;
    const kernel_t *amx = NULL;
    const char *amx_why = NULL;
    if (!(cpu.amx_bf16 && cpu.amx_tile))
        amx_why = "no AMX-BF16 (CPUID)";
    else if (!cpu.os_amx)
        amx_why = "the OS does not enable the tile state (XCR0)";
    else if (!(amx_why = amx_permit()))
        amx = &k_amx;

    double ghz = clock_ghz(seconds);
    printf("{\"bench\": \"peak\", ");
    print_rates("fp32", fp32, threads, n_threads, seconds);
    printf(", ");
    print_rates("bf16", bf16, threads, n_threads, seconds);
    printf(", ");
    print_rates("amx_bf16", amx, threads, n_threads, seconds);
    printf(", \"isa\": {");
    print_str("fp32", fp32->isa, "");
    print_str("bf16", bf16 ? bf16->isa : NULL, ", ");
    print_str("amx_bf16", amx ? amx->isa : NULL, ", ");
    /* a core's FLOPs per cycle at these instructions' nominal rate (2 FMA pipes of the
     * vector width; AMX: one 16 x 16 x 32 tdpbf16ps per 16 cycles): peak / this = clock */
    printf("}, \"nominal_flops_per_cycle\": {\"fp32\": %.0f", fp32->flops_per_cycle);
    printf(bf16 ? ", \"bf16\": %.0f" : ", \"bf16\": null", k_bf16.flops_per_cycle);
    printf(amx ? ", \"amx_bf16\": %.0f}" : ", \"amx_bf16\": null}", k_amx.flops_per_cycle);
    printf(", ");
    print_str("amx_unavailable", amx_why, "");
    printf(", ");
    print_str("isa_cap", cap, "");
    printf(", \"clock_ghz_add_chain\": %.3f", ghz);
    printf(", \"cpuid\": {\"vendor\": \"%s\", \"family\": %u, \"model\": %u, \"sse2\": %d, \"avx2\": %d, \"fma\": %d, "
           "\"avx512f\": %d, \"avx512_bf16\": %d, \"amx_bf16\": %d, \"amx_tile\": %d, \"os_zmm\": %d, \"os_amx\": %d}",
           cpu.vendor, cpu.family, cpu.model, cpu.sse2, cpu.avx2, cpu.fma, cpu.avx512f, cpu.avx512_bf16, cpu.amx_bf16,
           cpu.amx_tile, cpu.os_zmm, cpu.os_amx);
    printf(", \"threads_pinned\": %s, \"allowed_cpus\": %d, \"seconds_per_figure\": %g, "
           "\"sample_seconds\": %g, \"samples\": %d}\n",
           all_pinned ? "true" : "false", n_allowed, seconds, SAMPLE, samples_total);
    return 0;
}
