/* The machine's practical limit for rmens (issue 7): cblas_sgemm GFLOP/s at exactly the
 * GEMM shapes of the reference model D = 2048 -> 1024 -> 512 -> 1, measured now, on this
 * machine, with a given number of OpenBLAS threads.
 *
 *   train_step:  the five GEMMs of one training step on a minibatch of 512 pairs
 *                (1024 rows): forward of both hidden layers, weight gradients of both,
 *                the input gradient of the second (none for the first: its input is data);
 *   forward_<R>: the two hidden-layer GEMMs of a forward pass of R rows (scoring), for
 *                R = 1024 (a full-rate block) and R = 256 (small blocks show the cost of
 *                short GEMMs).
 * The head (512 -> 1) is a GEMV of 0.02 % of the FLOPs and left out of the limit.
 *
 * Usage: bench_sgemm THREADS SECONDS_PER_SHAPE. Prints one JSON line. The benchmark driver
 * (tests/bench/run_bench.py) runs this between workloads so every ratio it reports is
 * against a limit measured under the same machine load. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { D = 2048, H1 = 1024, H2 = 512, STEP_ROWS = 1024 };

/* OpenBLAS exports this (not in every cblas.h) */
void openblas_set_num_threads(int threads);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *filled(size_t n, unsigned seed)
{
    float *a = malloc(n * sizeof(float));
    if (!a) {
        fprintf(stderr, "bench_sgemm: out of memory\n");
        exit(2);
    }
    /* small values, so repeated accumulation (beta = 1) never overflows to Inf */
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        a[i] = (float)((double)(seed >> 8) / 16777216.0 - 0.5) * 1e-3f;
    }
    return a;
}

typedef struct {
    float *X, *W0, *W1, *A1, *A2, *dW0, *dW1, *dA1;
} buffers;

/* FLOPs of one call, returned so the count sits beside the calls it describes. */
static double train_step(buffers *b)
{
    const int R = STEP_ROWS;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, H1, D, 1, b->X, D, b->W0, D, 1, b->A1, H1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, H2, H1, 1, b->A1, H1, b->W1, H1, 1, b->A2, H2);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H2, H1, R, 1, b->A2, H2, b->A1, H1, 1, b->dW1, H1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, H1, H2, 1, b->A2, H2, b->W1, H1, 0, b->dA1, H1);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H1, D, R, 1, b->dA1, H1, b->X, D, 1, b->dW0, D);
    return 2.0 * R * ((double)D * H1 + H1 * H2) /* forward */ + 2.0 * R * ((double)D * H1 + 2.0 * H1 * H2) /* backward */;
}

static int forward_rows; /* rows of one forward_pass call */
static double forward_pass(buffers *b)
{
    const int R = forward_rows;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, H1, D, 1, b->X, D, b->W0, D, 0, b->A1, H1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, H2, H1, 1, b->A1, H1, b->W1, H1, 0, b->A2, H2);
    return 2.0 * R * ((double)D * H1 + H1 * H2);
}

/* Best rate over one-call samples for `seconds`: best-of filters out other processes. */
static double best_rate(double (*work)(buffers *), buffers *b, double seconds)
{
    work(b); /* warm up: threads started, pages touched */
    double best = 0, t_end = now() + seconds;
    int samples = 0;
    while (now() < t_end || samples < 3) {
        double t0 = now(), flops = work(b), rate = flops / (now() - t0);
        if (rate > best) best = rate;
        samples++;
    }
    return best;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    double seconds = argc > 2 ? atof(argv[2]) : 1.0;
    if (threads < 1 || !(seconds > 0)) {
        fprintf(stderr, "usage: bench_sgemm THREADS SECONDS_PER_SHAPE\n");
        return 2;
    }
    openblas_set_num_threads(threads);
    buffers b = {filled((size_t)STEP_ROWS * D, 1), filled((size_t)H1 * D, 2), filled((size_t)H2 * H1, 3),
                 filled((size_t)STEP_ROWS * H1, 4), filled((size_t)STEP_ROWS * H2, 5), filled((size_t)H1 * D, 6),
                 filled((size_t)H2 * H1, 7), filled((size_t)STEP_ROWS * H1, 8)};
    double step = best_rate(train_step, &b, seconds);
    forward_rows = 1024;
    double fwd1024 = best_rate(forward_pass, &b, seconds);
    forward_rows = 256;
    double fwd256 = best_rate(forward_pass, &b, seconds);
    printf("{\"threads\": %d, \"train_step_gflops\": %.2f, \"forward_1024_gflops\": %.2f, \"forward_256_gflops\": %.2f}\n",
           threads, step / 1e9, fwd1024 / 1e9, fwd256 / 1e9);
    return 0;
}
