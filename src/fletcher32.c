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

#if defined(__AVX2__) || defined(__AVX512BW__)
#include <immintrin.h>
#endif

#define FLETCHER_MOD 65535u


/* Append n words (2n bytes at p) one at a time: the tail after the vector blocks, and the
 * whole input without AVX2. 360 words at most between reductions, as in HDF5. */
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

#if defined(__AVX512BW__) || defined(__AVX2__)
/* A vector of words a step, at most 256 steps a block: lane j of `even` sums the words 2j
 * of each step, `odd` the words 2j + 1, and `tri` the running sums of both before each
 * step; 256 steps keep tri below 65535 * 256 * 255 < 2^32. */
#define BLOCK_STEPS 256

/* Join a block of `steps` vectors of `lanes` 32-bit lanes (2 lanes words each) to f. */
static void join_block(rm_fletcher32_state *f, const uint32_t *e, const uint32_t *o, const uint32_t *t, int lanes,
                       size_t steps)
{
    /* Word w of step k weighs (words in a step) (steps - k) - w in S2: that is
     * 2 lanes (tri + sums) - (the sums weighted by w). */
    uint64_t sum = 0, tri_sum = 0, weighted = 0;
    for (int j = 0; j < lanes; j++) {
        sum += (uint64_t)e[j] + o[j];
        tri_sum += t[j];
        weighted += (uint64_t)(2 * j) * e[j] + (uint64_t)(2 * j + 1) * o[j];
    }
    uint64_t words = 2 * (uint64_t)lanes * steps, block_s2 = 2 * (uint64_t)lanes * (tri_sum + sum) - weighted;
    f->s2 = (f->s2 + words % FLETCHER_MOD * f->s1 + block_s2) % FLETCHER_MOD;
    f->s1 = (f->s1 + sum) % FLETCHER_MOD;
    f->nonzero |= sum != 0; /* the block's exact sum of words */
}
#endif

#if defined(__AVX512BW__)
#define VECTOR_BYTES 64
static void add_block(rm_fletcher32_state *f, const uint8_t *p, size_t steps)
{
    const __m512i swap = _mm512_set4_epi32(0x0e0f0c0d, 0x0a0b0809, 0x06070405, 0x02030001);
    const __m512i low = _mm512_set1_epi32(0xffff);
    __m512i even = _mm512_setzero_si512(), odd = _mm512_setzero_si512(), tri = _mm512_setzero_si512();
    for (size_t k = 0; k < steps; k++) {
        /* big-endian words to native: lane j then holds word 2j low, word 2j + 1 high */
        __m512i v = _mm512_shuffle_epi8(_mm512_loadu_si512((const void *)(p + 64 * k)), swap);
        tri = _mm512_add_epi32(tri, _mm512_add_epi32(even, odd));
        even = _mm512_add_epi32(even, _mm512_and_si512(v, low));
        odd = _mm512_add_epi32(odd, _mm512_srli_epi32(v, 16));
    }
    uint32_t e[16], o[16], t[16];
    _mm512_storeu_si512((void *)e, even);
    _mm512_storeu_si512((void *)o, odd);
    _mm512_storeu_si512((void *)t, tri);
    join_block(f, e, o, t, 16, steps);
}
#elif defined(__AVX2__)
#define VECTOR_BYTES 32
static void add_block(rm_fletcher32_state *f, const uint8_t *p, size_t steps)
{
    const __m256i swap = _mm256_setr_epi8(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14,
                                          1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
    const __m256i low = _mm256_set1_epi32(0xffff);
    __m256i even = _mm256_setzero_si256(), odd = _mm256_setzero_si256(), tri = _mm256_setzero_si256();
    for (size_t k = 0; k < steps; k++) {
        __m256i v = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(p + 32 * k)), swap);
        tri = _mm256_add_epi32(tri, _mm256_add_epi32(even, odd));
        even = _mm256_add_epi32(even, _mm256_and_si256(v, low));
        odd = _mm256_add_epi32(odd, _mm256_srli_epi32(v, 16));
    }
    uint32_t e[8], o[8], t[8];
    _mm256_storeu_si256((__m256i *)e, even);
    _mm256_storeu_si256((__m256i *)o, odd);
    _mm256_storeu_si256((__m256i *)t, tri);
    join_block(f, e, o, t, 8, steps);
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
