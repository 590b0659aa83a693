/* rm_fletcher32 against HDF5's own H5_checksum_fletcher32 (exported by libhdf5) on random
 * buffers of every length 0..4099 and some large odd and even ones, at odd alignments, and
 * on the corner cases of the modulo-65535 reduction (all zero, all 0xff, one word 0xffff);
 * then rm_fletcher32_matches against the checksum the filter really stores (chunks written
 * by HDF5 through H5Pset_fletcher32, read back raw with H5Dread_chunk). */
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"
#include "rmens/kernels/fletcher32.h"

uint32_t H5_checksum_fletcher32(const void *data, size_t len); /* HDF5's, not in its public headers */

static uint64_t state = 0x243F6A8885A308D3ull;
static uint8_t next_byte(void)
{
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint8_t)(state >> 56);
}

static void test_against_hdf5(void)
{
    size_t big = (size_t)5 << 20; /* the largest length below, and the shifts */
    uint8_t *buf = malloc(big + 64);
    for (size_t i = 0; i < big + 64; i++) buf[i] = next_byte();
    for (size_t len = 0; len < 4100; len++) CHECK(rm_fletcher32(buf + len % 7, len) == H5_checksum_fletcher32(buf + len % 7, len));
    const size_t large[] = {8191, 8192, 8193, 65535, 65536, 65537, 1000001, 4194304, (size_t)3 << 20};
    for (size_t i = 0; i < sizeof large / sizeof large[0]; i++)
        for (size_t shift = 0; shift < 3; shift++)
            CHECK(rm_fletcher32(buf + shift, large[i]) == H5_checksum_fletcher32(buf + shift, large[i]));
    /* The reduction's corners: sums that are multiples of 65535, zero data. */
    const uint8_t fill[] = {0x00, 0xff, 0x80, 0x01};
    const size_t lens[] = {1, 2, 3, 31, 32, 33, 8192, 8193, 65536 * 2, 65535 * 2, 1000001};
    for (size_t f = 0; f < sizeof fill; f++)
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            memset(buf, fill[f], lens[i]);
            CHECK(rm_fletcher32(buf, lens[i]) == H5_checksum_fletcher32(buf, lens[i]));
        }
    memset(buf, 0, 100000);
    buf[99998] = 0xff, buf[99999] = 0xff; /* one word 65535: S1 = 65535, non-zero data */
    CHECK(rm_fletcher32(buf, 100000) == H5_checksum_fletcher32(buf, 100000));
    free(buf);
}

/* A uint8 dataset of one chunk of n bytes with the Fletcher-32 filter in an in-memory file:
 * the raw chunk (data + stored checksum) into raw[n + 4]. */
static int stored_chunk(const uint8_t *data, size_t n, uint8_t *raw)
{
    hsize_t dims[1] = {n}, offset[1] = {0};
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, 1 << 20, 0);
    hid_t file = H5Fcreate("fletcher32-test.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), space = H5Screate_simple(1, dims, NULL);
    H5Pset_chunk(dcpl, 1, dims);
    H5Pset_fletcher32(dcpl);
    hid_t d = H5Dcreate2(file, "x", H5T_NATIVE_UINT8, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    uint32_t mask = 0;
    int rc = d >= 0 && H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0 &&
             H5Dread_chunk(d, H5P_DEFAULT, offset, &mask, raw) >= 0 && mask == 0 ? 0 : -1;
    H5Dclose(d);
    H5Sclose(space);
    H5Pclose(dcpl);
    H5Fclose(file);
    H5Pclose(fapl);
    return rc;
}

static void test_filter_trailer(void)
{
    const size_t lens[] = {1, 2, 3, 100, 4095, 4096, 100001};
    uint8_t *data = malloc(100001), *raw = malloc(100001 + 4);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t n = lens[i];
        for (size_t j = 0; j < n; j++) data[j] = next_byte();
        CHECK(stored_chunk(data, n, raw) == 0);
        CHECK(memcmp(raw, data, n) == 0);
        CHECK(rm_fletcher32_matches(raw, n) == 1);
        uint8_t old = raw[n - 1];
        raw[n - 1] ^= 0x20; /* a flipped bit anywhere in the data fails */
        CHECK(rm_fletcher32_matches(raw, n) == 0);
        raw[n - 1] = old;
        uint8_t t = raw[n]; /* the pre-1.6.3 byte order of the checksum is accepted, as by HDF5 */
        raw[n] = raw[n + 1], raw[n + 1] = t;
        t = raw[n + 2], raw[n + 2] = raw[n + 3], raw[n + 3] = t;
        CHECK(rm_fletcher32_matches(raw, n) == 1);
    }
    free(data);
    free(raw);
}

int main(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    test_against_hdf5();
    test_filter_trailer();
    return check_status("test_fletcher32");
}
