/* libFuzzer harness for the strict .npy reader: arbitrary bytes as a .npy file. Opening
 * must succeed or fail with a message; when it succeeds, reading every item (in pieces)
 * must stay within the file and never crash. Shapes whose product overflows or exceeds
 * the file must be rejected by the header checks, not by running out of memory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "rmens/base/common.h"
#include "rmens/store/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/rmens_fuzz_npy_%d.npy", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);

    rm_npy npy;
    if (rm_npy_open(&npy, path) != 0) {
        if (rm_last_error()[0] == '\0') abort(); /* a failure must say why */
        return 0;
    }
    /* A valid header promises exactly n_items items in the file. */
    if (npy.data_offset + npy.n_items * (size_t)npy.dtype != npy.file_size) abort();
    float buffer[256];
    for (size_t first = 0; first < npy.n_items; first += 256) {
        size_t count = npy.n_items - first < 256 ? npy.n_items - first : 256;
        if (rm_npy_read_floats(&npy, first, count, buffer) != 0) break; /* e.g. NaN: reported */
    }
    rm_npy_close(&npy);
    return 0;
}
