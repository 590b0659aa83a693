/* Philox4x32-10 against the Random123 known-answer vectors, and basic distribution checks. */
#include "../common/check.h"
#include "rmens/base/rng.h"

#include <stdlib.h>

int main(void)
{
    /* Random123 kat_vectors: philox4x32 10 rounds, counter (c0..c3), key (k0, k1).
     * Our counter is (index lo, index hi, stream lo, stream hi), key (seed lo, seed hi). */
    rm_philox_block z = rm_philox(0, 0, 0);
    CHECK(z.w[0] == 0x6627e8d5u && z.w[1] == 0xe169c58du && z.w[2] == 0xbc57ac4cu && z.w[3] == 0x9b00dbd8u);
    rm_philox_block f = rm_philox(UINT64_MAX, UINT64_MAX, UINT64_MAX);
    CHECK(f.w[0] == 0x408f276du && f.w[1] == 0x41c83b0eu && f.w[2] == 0xa20bc7c6u && f.w[3] == 0x6d5451fdu);
    rm_philox_block p = rm_philox(0x299f31d0a4093822ull, 0x0370734413198a2eull, 0x85a308d3243f6a88ull);
    CHECK(p.w[0] == 0xd16cfe09u && p.w[1] == 0x94fdccebu && p.w[2] == 0x5001e420u && p.w[3] == 0x24126ea1u);

    /* Moments of the derived distributions over 200k draws. */
    const int n = 200000;
    double su = 0, su2 = 0, sn = 0, sn2 = 0;
    long below[7] = {0};
    for (int i = 0; i < n; i++) {
        double u = rm_rand_uniform(7, 3, (uint64_t)i);
        CHECK(u >= 0.0 && u < 1.0);
        su += u; su2 += u * u;
        double g = rm_rand_normal(7, 4, (uint64_t)i);
        sn += g; sn2 += g * g;
        uint64_t k = rm_rand_below(7, 5, (uint64_t)i, 7);
        CHECK(k < 7);
        below[k]++;
    }
    CHECK_CLOSE(su / n, 0.5, 0.005);
    CHECK_CLOSE(su2 / n - (su / n) * (su / n), 1.0 / 12, 0.002);
    CHECK_CLOSE(sn / n, 0.0, 0.01);
    CHECK_CLOSE(sn2 / n, 1.0, 0.02);
    for (int k = 0; k < 7; k++) CHECK_CLOSE(below[k] / (double)n, 1.0 / 7, 0.005);

    /* A permutation is a permutation, and depends only on (seed, stream). */
    uint32_t a[1000], b[1000];
    int seen[1000] = {0};
    rm_permutation(11, 12, a, 1000);
    rm_permutation(11, 12, b, 1000);
    int same = 1, moved = 0;
    for (int i = 0; i < 1000; i++) { seen[a[i]]++; same &= a[i] == b[i]; moved += a[i] != (uint32_t)i; }
    for (int i = 0; i < 1000; i++) CHECK(seen[i] == 1);
    CHECK(same);
    CHECK(moved > 900);
    return check_status("test_rng");
}
