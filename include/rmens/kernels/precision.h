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
 * auto: bf16 where it is faster than fp32 - oneDNN runs its AMX kernels (the CPU has
 *       AMX-BF16) - and fp32 elsewhere, including CPUs with AVX512_BF16 but no AMX, where
 *       oneDNN 2.6's bf16 matmul measured slower than sgemm (113 vs 177 GFLOP/s, one core).
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
} rm_precision_info;

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
