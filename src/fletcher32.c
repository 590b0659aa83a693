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
#include "fletcher32.h"

#include <string.h>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#define FLETCHER_MOD 65535u

typedef struct {
    uint64_t s1, s2; /* modulo 65535 */
} fletcher_sums;

/* Append n words (2n bytes at p) one at a time: the tail after the vector blocks, and the
 * whole input without AVX2. 360 words at most between reductions, as in HDF5. */
static void add_words_scalar(fletcher_sums *f, const uint8_t *p, size_t n)
{
    uint32_t s1 = (uint32_t)f->s1, s2 = (uint32_t)f->s2;
    while (n) {
        size_t k = n > 360 ? 360 : n;
        n -= k;
        for (; k; k--, p += 2) {
            s1 += (uint32_t)p[0] << 8 | p[1];
            s2 += s1;
        }
        s1 %= FLETCHER_MOD;
        s2 %= FLETCHER_MOD;
    }
    f->s1 = s1;
    f->s2 = s2;
}

#if defined(__AVX2__)
/* 32 bytes (16 words) a step, at most 256 steps a block: lane j of `even` sums the words
 * 2j of each step, `odd` the words 2j + 1, and `tri` the running sums of both before each
 * step; 256 steps keep tri below 65535 * 256 * 255 < 2^32. */
#define AVX2_BLOCK_STEPS 256

static void add_block_avx2(fletcher_sums *f, const uint8_t *p, size_t steps)
{
    const __m256i swap = _mm256_setr_epi8(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14,
                                          1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
    const __m256i low = _mm256_set1_epi32(0xffff);
    __m256i even = _mm256_setzero_si256(), odd = _mm256_setzero_si256(), tri = _mm256_setzero_si256();
    for (size_t k = 0; k < steps; k++) {
        /* big-endian words to native: lane j then holds word 2j low, word 2j + 1 high */
        __m256i v = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(p + 32 * k)), swap);
        tri = _mm256_add_epi32(tri, _mm256_add_epi32(even, odd));
        even = _mm256_add_epi32(even, _mm256_and_si256(v, low));
        odd = _mm256_add_epi32(odd, _mm256_srli_epi32(v, 16));
    }
    uint32_t e[8], o[8], t[8];
    _mm256_storeu_si256((__m256i *)e, even);
    _mm256_storeu_si256((__m256i *)o, odd);
    _mm256_storeu_si256((__m256i *)t, tri);
    /* Word 16k + w of the block weighs 16 (steps - k) - w in S2: 16 (tri + sums) - w sums. */
    uint64_t sum = 0, tri_sum = 0, weighted = 0;
    for (int j = 0; j < 8; j++) {
        sum += (uint64_t)e[j] + o[j];
        tri_sum += t[j];
        weighted += (uint64_t)(2 * j) * e[j] + (uint64_t)(2 * j + 1) * o[j];
    }
    uint64_t block_s2 = 16 * (tri_sum + sum) - weighted;
    f->s2 = (f->s2 + (16 * (uint64_t)steps % FLETCHER_MOD) * f->s1 + block_s2) % FLETCHER_MOD;
    f->s1 = (f->s1 + sum) % FLETCHER_MOD;
}
#endif

/* The sums reduced as HDF5 reduces them (see the top of the file). */
static uint32_t fletcher_value(const fletcher_sums *f, const uint8_t *data, size_t len)
{
    uint32_t s1 = (uint32_t)f->s1, s2 = (uint32_t)f->s2;
    if (s1 == 0 && s2 == 0) { /* all zero, or (rarely) both sums multiples of 65535 */
        size_t i = 0;
        while (i < len && data[i] == 0) i++;
        return i == len ? 0 : 0xffffffffu;
    }
    /* S2 > 0 or S1 > 0 means some word is non-zero, so both sums are: 0 stands for 65535 */
    if (s1 == 0) s1 = 0xffff;
    if (s2 == 0) s2 = 0xffff;
    return s2 << 16 | s1;
}

uint32_t rm_fletcher32(const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t words = len / 2, done = 0;
    fletcher_sums f = {0, 0};
#if defined(__AVX2__)
    for (size_t steps; (steps = (words - done) / 16) > 0; done += 16 * steps) {
        if (steps > AVX2_BLOCK_STEPS) steps = AVX2_BLOCK_STEPS;
        add_block_avx2(&f, p + 2 * done, steps);
    }
#endif
    add_words_scalar(&f, p + 2 * done, words - done);
    if (len % 2) { /* the odd last byte: the high byte of one more word */
        uint8_t last[2] = {p[len - 1], 0};
        add_words_scalar(&f, last, 1);
    }
    return fletcher_value(&f, p, len);
}

int rm_fletcher32_matches(const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *)data + len;
    uint32_t stored = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    uint32_t value = rm_fletcher32(data, len);
    uint32_t reversed = (value & 0x00ff00ffu) << 8 | (value & 0xff00ff00u) >> 8;
    return stored == value || stored == reversed;
}
