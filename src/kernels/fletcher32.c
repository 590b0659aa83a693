/* Fletcher-32 as HDF5 computes it (see fletcher32.h).
 *
 * HDF5 adds the words w_0 .. w_{n-1} into sum1 and the running sum1 into sum2, folding
 * (x & 0xffff) + (x >> 16) after every 360 words and twice at the end. A fold keeps the
 * value modulo 65535 and keeps it non-zero when it was, and the 360-word bound keeps the
 * 32-bit sums from overflowing, so HDF5's result is exactly
 *     S1 = sum of w_i,  S2 = sum of (n - i) w_i,  each reduced to [1, 65535] (65535 for
 *     a multiple of 65535) when the data has a non-zero byte, and 0 when it has none.
 * Any way of computing S1, S2 modulo 65535 therefore gives HDF5's checksum: here blocks of
 * words are summed in 32-bit vector lanes and blocks are joined with
 *     S2(XY) = S2(X) + |Y| S1(X) + S2(Y),  S1(XY) = S1(X) + S1(Y). */
#include "rmens/kernels/fletcher32.h"

#include <string.h>

#define FLETCHER_MOD 65535u

/* Append n words (2n bytes at p) one at a time: the tail after the vector blocks, and the
 * whole input without vector extensions. 360 words at most between reductions, as in HDF5. */
static void add_words_scalar(rm_fletcher32_state *f, const uint8_t *p, size_t n)
{
    uint32_t s1 = (uint32_t)f->s1, s2 = (uint32_t)f->s2, any = 0;
    while (n) {
        size_t k = n > 360 ? 360 : n;
        n -= k;
        for (; k; k--, p += 2) {
            uint32_t w = (uint32_t)p[0] << 8 | p[1];
            any |= w;
            s1 += w;
            s2 += s1;
        }
        s1 %= FLETCHER_MOD;
        s2 %= FLETCHER_MOD;
    }
    f->s1 = s1;
    f->s2 = s2;
    f->nonzero |= any != 0;
}

#if defined(__GNUC__)
/* A vector of words a step (GCC/clang vector extensions: AVX-512 lanes where the build has
 * them, AVX2 or SSE otherwise), at most 256 steps a block: lane j of `even` sums the words
 * 2j of each step, `odd` the words 2j + 1, and `tri` the running sums of both before each
 * step; 256 steps keep tri below 65535 * 256 * 255 < 2^32. */
#if defined(__AVX512BW__)
#define VECTOR_BYTES 64
#elif defined(__AVX2__)
#define VECTOR_BYTES 32
#else
#define VECTOR_BYTES 16
#endif
#define LANES (VECTOR_BYTES / 4)
#define BLOCK_STEPS 256
typedef uint32_t lanes_v __attribute__((vector_size(VECTOR_BYTES)));
typedef uint8_t bytes_v __attribute__((vector_size(VECTOR_BYTES)));

typedef uint16_t words_v __attribute__((vector_size(VECTOR_BYTES)));

/* A vector's big-endian words in native order: lane j then holds word 2j low, 2j + 1 high.
 * One byte shuffle (pshufb) where there is one, shifts otherwise (clang, which lacks
 * __builtin_shuffle, turns the shifts into the shuffle itself; GCC does not). */
static inline lanes_v load_words(const uint8_t *p)
{
#if defined(__SSSE3__) && !defined(__clang__)
    bytes_v b, swap;
    for (int i = 0; i < VECTOR_BYTES; i++) swap[i] = (uint8_t)(i ^ 1);
    memcpy(&b, p, VECTOR_BYTES);
    return (lanes_v)__builtin_shuffle(b, swap);
#else
    words_v w;
    memcpy(&w, p, VECTOR_BYTES);
    return (lanes_v)(w << 8 | w >> 8);
#endif
}

static void add_block(rm_fletcher32_state *f, const uint8_t *p, size_t steps)
{
    lanes_v even = {0}, odd = {0}, tri = {0};
    for (size_t k = 0; k < steps; k++) {
        lanes_v v = load_words(p + VECTOR_BYTES * k);
        tri += even + odd;
        even += v & 0xffff;
        odd += v >> 16;
    }
    /* Word w of step k weighs 2 LANES (steps - k) - w in S2: that is
     * 2 LANES (tri + sums) - (the sums weighted by w). */
    uint64_t sum = 0, tri_sum = 0, weighted = 0;
    for (int j = 0; j < LANES; j++) {
        sum += (uint64_t)even[j] + odd[j];
        tri_sum += tri[j];
        weighted += (uint64_t)(2 * j) * even[j] + (uint64_t)(2 * j + 1) * odd[j];
    }
    uint64_t words = 2 * (uint64_t)LANES * steps, block_s2 = 2 * (uint64_t)LANES * (tri_sum + sum) - weighted;
    f->s2 = (f->s2 + words % FLETCHER_MOD * f->s1 + block_s2) % FLETCHER_MOD;
    f->s1 = (f->s1 + sum) % FLETCHER_MOD;
    f->nonzero |= sum != 0; /* the block's exact sum of words */
}
#endif

void rm_fletcher32_init(rm_fletcher32_state *f) { f->s1 = f->s2 = 0, f->nonzero = 0; }

void rm_fletcher32_update(rm_fletcher32_state *f, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t words = len / 2, done = 0;
#if defined(VECTOR_BYTES)
    for (size_t steps; (steps = (words - done) / (VECTOR_BYTES / 2)) > 0; done += VECTOR_BYTES / 2 * steps) {
        if (steps > BLOCK_STEPS) steps = BLOCK_STEPS;
        add_block(f, p + 2 * done, steps);
    }
#endif
    add_words_scalar(f, p + 2 * done, words - done);
    if (len % 2) { /* the odd last byte: the high byte of one more word */
        uint8_t last[2] = {p[len - 1], 0};
        add_words_scalar(f, last, 1);
    }
}

/* The sums reduced as HDF5 reduces them (see the top of the file): 0 stands for 65535
 * unless every byte was 0. */
uint32_t rm_fletcher32_final(const rm_fletcher32_state *f)
{
    if (!f->nonzero) return 0;
    uint32_t s1 = f->s1 ? (uint32_t)f->s1 : 0xffff, s2 = f->s2 ? (uint32_t)f->s2 : 0xffff;
    return s2 << 16 | s1;
}

uint32_t rm_fletcher32(const void *data, size_t len)
{
    rm_fletcher32_state f;
    rm_fletcher32_init(&f);
    rm_fletcher32_update(&f, data, len);
    return rm_fletcher32_final(&f);
}

int rm_fletcher32_stored_matches(uint32_t value, const void *stored)
{
    const uint8_t *p = stored;
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    uint32_t reversed = (value & 0x00ff00ffu) << 8 | (value & 0xff00ff00u) >> 8;
    return v == value || v == reversed;
}

int rm_fletcher32_matches(const void *data, size_t len)
{
    return rm_fletcher32_stored_matches(rm_fletcher32(data, len), (const uint8_t *)data + len);
}
