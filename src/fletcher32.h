/* HDF5's Fletcher-32 checksum, fast: the value of H5_checksum_fletcher32 (the checksum
 * the H5Z_FILTER_FLETCHER32 filter appends to every chunk), bit for bit, for any length.
 * HDF5's own loop handles one 16-bit word a step; this one handles 16 (AVX2) at a time,
 * so that verifying a chunk costs little next to reading it (issue 18). */
#ifndef RMENS_FLETCHER32_H
#define RMENS_FLETCHER32_H

#include <stddef.h>
#include <stdint.h>

/* The checksum of data[0, len): the 16-bit big-endian words summed modulo 65535 (an odd
 * last byte is the high byte of one more word), as H5_checksum_fletcher32 returns it. */
uint32_t rm_fletcher32(const void *data, size_t len);

/* 1 when the 4 bytes after data[len] are data's checksum as the filter stores it (little
 * endian; HDF5 also accepts the checksum with the bytes of each half swapped, written by
 * HDF5 before 1.6.3, and so does this), 0 when not. */
int rm_fletcher32_matches(const void *data, size_t len);

#endif
