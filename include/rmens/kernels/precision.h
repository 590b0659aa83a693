/* Precision of the model's matrix products: `model.precision = "fp32" | "bf16" | "auto"`.
 *
 * fp32: every product is an OpenBLAS sgemm (single-threaded, in tiles fixed by shape).
 * bf16: the products' inputs and weights are rounded to bfloat16 (round to nearest even),
 *       accumulated in fp32 into fp32 outputs; biases, activations' fp32 copies, the
 *       scalar head (a memory-bound GEMV), master weights and Adam state stay fp32
 *       (standard mixed precision). Two implementations of the same rounding:
 *         - oneDNN's matmul primitive (AMX or AVX512-BF16 kernels, chosen at run time),
 *           single-threaded inside rmens's own tiles;
 *         - "emulated": operands rounded to bf16 values held in floats, multiplied with
 *           sgemm, for CPUs where oneDNN has no bf16 kernel (AVX2-only): the same
 *           rounding at fp32 speed, so the bf16 path is exercised on every machine.
 * auto: bf16 where rmens's bf16 path is faster than its fp32 path, decided from the CPU's
 *       identity and features, never from a timing (a machine always makes the same
 *       choice; rm_precision_auto_choice): AMX-BF16 with oneDNN's AMX kernels, and
 *       AVX512_BF16 executed at full 512-bit width (AMD family 26, Zen 5: bf16 training
 *       and scoring 1.8-2.0x fp32 measured); fp32 elsewhere, including AVX512_BF16 on
 *       256-bit data paths (Zen 4, family 25) and Intel CPUs without AMX, where oneDNN
 *       2.6's bf16 matmul measured slower than sgemm (113 vs 177 GFLOP/s, one core).
 *       The choice's reason is recorded beside the precision (precision_reason).
 *
 * The setting is process-wide, like the thread count (rm_mlp_set_threads), and applies to
 * the verb that runs: members trained in one precision can be scored in the other.
 * Tiles stay fixed by shape, so results are bitwise identical for any rank and thread
 * count in either precision (on one machine: AMX and AVX512-BF16 kernels round
 * differently from each other). */
#ifndef RMENS_PRECISION_H
#define RMENS_PRECISION_H

#include "rmens/kernels/matmul.h"


typedef struct {
    char requested[8];           /* "fp32" | "bf16" | "auto" */
    rm_matmul_backend backend;
    char precision[8];           /* what runs: "fp32" | "bf16" */
    char kernel[160];             /* e.g. "openblas sgemm", "onednn brg:avx512_core_amx_bf16" */
    char cpu[192];               /* CPU model name (family, model, stepping) */
    int cpu_native_bf16;         /* AMX-BF16 or AVX512_BF16 */
    char cpu_bf16_flags[64];     /* which of amx_bf16, avx512_bf16 the CPU has ("none") */
    char reason[192];            /* why this precision runs (auto's rule, or "requested") */
} rm_precision_info;

/* What auto's rule looks at. */
typedef struct {
    char vendor[16];  /* "AuthenticAMD", "GenuineIntel", ... */
    int family, model;/* CPUID family and model (extended fields folded in, as /proc/cpuinfo) */
    int amx_bf16, avx512_bf16;
} rm_cpu_identity;

/* This CPU's identity (CPUID; zeros and "unknown" off x86). */
void rm_cpu_identity_read(rm_cpu_identity *id);

/* auto's choice on `cpu`, given which bf16 kernel oneDNN runs there (`onednn_kernel`:
 * NULL or "" when none, else its name, e.g. "brg:avx512_core_amx_bf16"): 1 for bf16, 0
 * for fp32, and the reason in one line. A pure function: unit-tested on a table of CPUs. */
int rm_precision_auto_choice(const rm_cpu_identity *cpu, const char *onednn_kernel, char *reason, size_t size);

/* Resolve `requested` ("fp32" | "bf16" | "auto") on this CPU and make it the process's
 * precision. bf16 where oneDNN has no bf16 kernel falls back to the emulated backend with
 * a one-line warning (when `warn` is set: rank 0 only). 0, or -1 with an error naming
 * model.precision. */
int rm_precision_select(const char *requested, int warn, rm_precision_info *info);

/* Force a backend (tests: compare the oneDNN and emulated implementations). Returns -1
 * with an error if the backend cannot run on this machine. */
int rm_precision_set_backend(rm_matmul_backend backend);

/* The backend in use, and a description of the current setting (valid after select). */
rm_matmul_backend rm_precision_backend(void);
const rm_precision_info *rm_precision_current(void);

/* Whether oneDNN is compiled in and can run a bf16 matmul on this CPU. */
int rm_precision_onednn_available(void);

#endif
