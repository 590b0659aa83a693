/* Prints the calibration pairs of rmens eval as include/rmens/eval/eval.h defines them, straight
 * from the generator, for tests/eval/check_results.py to recompute the calibration figures:
 *   calibration_pairs_dump SEED N_TEST K COUNT
 * one line per pair i: prompt a b u_label u_flip, where the annotator's base label is drawn
 * from u_label = rm_rand_uniform(seed, RM_STREAM_CALIBRATION_LABELS, i) and its flip from
 * u_flip (RM_STREAM_CALIBRATION_FLIPS); the script applies the annotator's formula itself. */
#include <stdio.h>
#include <stdlib.h>

#include "rmens/base/rng.h"

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s SEED N_TEST K COUNT\n", argv[0]);
        return 2;
    }
    uint64_t seed = strtoull(argv[1], NULL, 10), n = strtoull(argv[2], NULL, 10), K = strtoull(argv[3], NULL, 10);
    uint64_t count = strtoull(argv[4], NULL, 10);
    if (n < 1 || K < 2) {
        fprintf(stderr, "%s: need N_TEST >= 1 and K >= 2\n", argv[0]);
        return 2;
    }
    for (uint64_t i = 0; i < count; i++) {
        uint64_t prompt = rm_rand_below(seed, RM_STREAM_CALIBRATION_PAIRS, 3 * i, n);
        uint64_t a = rm_rand_below(seed, RM_STREAM_CALIBRATION_PAIRS, 3 * i + 1, K);
        uint64_t b = rm_rand_below(seed, RM_STREAM_CALIBRATION_PAIRS, 3 * i + 2, K - 1);
        b += b >= a;
        printf("%llu %llu %llu %.17g %.17g\n", (unsigned long long)prompt, (unsigned long long)a, (unsigned long long)b,
               rm_rand_uniform(seed, RM_STREAM_CALIBRATION_LABELS, i), rm_rand_uniform(seed, RM_STREAM_CALIBRATION_FLIPS, i));
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
