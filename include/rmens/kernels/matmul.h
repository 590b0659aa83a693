/* Low-precision (bf16) matrix products for one tile (internal to rmens_core).
 *
 * An operand in "low precision" is stored in the current backend's form
 * (rm_precision_backend()): uint16 bfloat16 for oneDNN, or floats holding bf16-rounded
 * values for the emulated backend. rm_lowp_size() gives the bytes per element; callers
 * keep such operands as void pointers and convert with rm_lowp_round().
 *
 * A product is planned once per shape on the calling thread (the oneDNN primitive is
 * created and cached there, so errors return normally), then run inside tiles, each run
 * single-threaded on the tile's worker (rm_tiled_worker()): the result of a tile depends
 * on its shape only, never on the thread count. */
#ifndef RMENS_MATMUL_H
#define RMENS_MATMUL_H

#include <stddef.h>
#include <stdint.h>

/* The backend of the products (chosen by rmens/kernels/precision.h). */
typedef enum {
    RM_MATMUL_FP32 = 0,          /* OpenBLAS sgemm */
    RM_MATMUL_BF16_ONEDNN = 1,   /* bf16 operands, oneDNN matmul, fp32 accumulation */
    RM_MATMUL_BF16_EMULATED = 2  /* bf16-rounded operands in floats, sgemm */
} rm_matmul_backend;

/* Bytes per low-precision element in the current backend (2 or 4). */
size_t rm_lowp_size(void);

/* Round-to-nearest-even to bf16: dst[i] (backend's form) = bf16(src[i]), NaN kept NaN. */
void rm_lowp_round(void *dst, const float *src, size_t n);
/* The same into a given form, for tests: uint16 bits / floats holding the rounded value. */
void rm_bf16_round_bits(uint16_t *dst, const float *src, size_t n);
void rm_bf16_round_floats(float *dst, const float *src, size_t n);
/* x = ReLU(x) and low = bf16(x), in one pass. */
void rm_lowp_relu_round(float *x, void *low, size_t n);
/* dx = (out > 0 ? dx : 0) and, unless low is NULL, low = bf16(dx), in one pass. */
void rm_lowp_relu_backward_round(float *dx, const float *out, void *low, size_t n);
/* Rows of a row-major matrix: dst (rows, cols; leading dim ld_dst) from src (ld_src). */
void rm_lowp_round_rows(void *dst, size_t ld_dst, const float *src, size_t ld_src, size_t rows, size_t cols);

/* How a product writes C. */
enum { RM_LOWP_OVERWRITE = 0, RM_LOWP_ACCUMULATE = 1, RM_LOWP_BIAS = 2 /* C = product + bias row */ };
/* Or-ed into the mode: B is used by many products (frozen weights), so read it in the
 * layout the kernel wants, made once by rm_lowp_pack_b, instead of the kernel repacking the
 * kept B inside every product. The layout depends on B's shape alone (not on M), so one
 * packed copy serves full and tail tiles. Where the backend takes no packed B for a shape
 * the plan reads B as kept: rm_lowp_plan_packed says which to pass. Same bits either way
 * (the kernel packs a kept B into this layout itself; tests/model/test_bf16.c checks). */
enum { RM_LOWP_PACKED_B = 8 };

/* A planned product  C (M,N) = op(A) (M,K) @ op(B) (K,N)  [+ C | + bias (N) per row]:
 * A row-major (M,K) with leading dimension lda, or transposed (stored (K,M));
 * B row-major (K,N), or transposed (stored (N,K), as nn.Linear weights); C fp32. */
typedef struct rm_lowp_plan rm_lowp_plan;

/* The plan for this shape (cached; valid until the backend changes). NULL with an error. */
const rm_lowp_plan *rm_lowp_plan_get(int trans_a, int trans_b, int M, int N, int K, int lda, int ldb, int ldc,
                                     int mode);
/* Run a plan on the calling worker (single-threaded). A, B in the backend's form; bias
 * (fp32, N) for RM_LOWP_BIAS plans, else NULL. */
void rm_lowp_run(const rm_lowp_plan *plan, const void *A, const void *B, const float *bias, float *C);

/* Whether the plan reads B packed (rm_lowp_pack_b) rather than as kept. */
int rm_lowp_plan_packed(const rm_lowp_plan *plan);
/* Bytes of a packed B for a packed plan, 0 otherwise. */
size_t rm_lowp_packed_b_bytes(const rm_lowp_plan *plan);
/* packed (rm_lowp_packed_b_bytes, 64-byte aligned) = B (as kept: trans_b, ldb) in the
 * plan's layout; on the calling thread. -1 with an error. */
int rm_lowp_pack_b(const rm_lowp_plan *plan, const void *B, void *packed);
/* The oneDNN implementation name of a reference-shape plan ("" if none). */
const char *rm_lowp_kernel_name(void);

/* Internal to precision.c: switch the backend (drops cached plans). */
void rm_lowp_set_backend(rm_matmul_backend backend);
/* Whether oneDNN can create a bf16 matmul here; fills `impl` with its kernel name. */
int rm_lowp_onednn_probe(char *impl, size_t impl_size);

#endif
