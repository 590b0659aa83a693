/* HDF5's Fletcher-32 checksum, fast: the value of H5_checksum_fletcher32 (the checksum
 * the H5Z_FILTER_FLETCHER32 filter appends to every chunk), bit for bit, for any length.
 * HDF5's own loop handles one 16-bit word a step; this one a vector of them (32 words with
 * AVX-512, 16 with AVX2, 8 with SSE), so that verifying a chunk costs little next to
 * reading it (issue 18). */
#ifndef RMENS_FLETCHER32_H
#define RMENS_FLETCHER32_H

#include <stddef.h>
#include <stdint.h>

/* The checksum a piece at a time: init, update with the pieces in order (every piece but
 * the last of an even length), final. */
typedef struct {
    uint64_t s1, s2; /* the two sums, modulo 65535 */
    int nonzero;     /* a non-zero byte was seen (all-zero data sums to 0, not 65535) */
} rm_fletcher32_state;
void rm_fletcher32_init(rm_fletcher32_state *f);
void rm_fletcher32_update(rm_fletcher32_state *f, const void *data, size_t len);
uint32_t rm_fletcher32_final(const rm_fletcher32_state *f);

/* The checksum of data[0, len): the 16-bit big-endian words summed modulo 65535 (an odd
 * last byte is the high byte of one more word), as H5_checksum_fletcher32 returns it. */
uint32_t rm_fletcher32(const void *data, size_t len);

/* 1 when the 4 bytes after data[len] are data's checksum as the filter stores it (little
 * endian; HDF5 also accepts the checksum with the bytes of each half swapped, written by
 * HDF5 before 1.6.3, and so does this), 0 when not. */
int rm_fletcher32_matches(const void *data, size_t len);
/* The same test of a computed checksum against the 4 stored bytes at `stored`. */
int rm_fletcher32_stored_matches(uint32_t value, const void *stored);

#endif
