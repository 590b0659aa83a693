/* Philox4x32-10 (see include/rmens/base/rng.h). Constants from Salmon et al. (2011). */
#include "rmens/base/rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo)
{
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

rm_philox_block rm_philox(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint32_t c0 = (uint32_t)index, c1 = (uint32_t)(index >> 32);
    uint32_t c2 = (uint32_t)stream, c3 = (uint32_t)(stream >> 32);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo(PHILOX_M0, c0, &hi0, &lo0);
        mulhilo(PHILOX_M1, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    rm_philox_block b = {{c0, c1, c2, c3}};
    return b;
}

static inline double bits_to_unit(uint32_t hi, uint32_t lo)
{
    uint64_t x = ((uint64_t)hi << 32 | lo) >> 11; /* 53 bits */
    return (double)x * (1.0 / 9007199254740992.0);
}

double rm_rand_uniform(uint64_t seed, uint64_t stream, uint64_t index)
{
    rm_philox_block b = rm_philox(seed, stream, index);
    return bits_to_unit(b.w[0], b.w[1]);
}

uint64_t rm_rand_below(uint64_t seed, uint64_t stream, uint64_t index, uint64_t n)
{
    rm_philox_block b = rm_philox(seed, stream, index);
    uint64_t x = (uint64_t)b.w[0] << 32 | b.w[1];
    /* 128-bit multiply-shift; the bias is below 2^-64 * n, far under any test's reach. */
    return (uint64_t)(((unsigned __int128)x * n) >> 64);
}

double rm_rand_normal(uint64_t seed, uint64_t stream, uint64_t index)
{
    rm_philox_block b = rm_philox(seed, stream, index);
    double u1 = bits_to_unit(b.w[0], b.w[1]);
    double u2 = bits_to_unit(b.w[2], b.w[3]);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

void rm_permutation(uint64_t seed, uint64_t stream, uint32_t *perm, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = rm_rand_below(seed, stream, n - i, i);
        uint32_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}
