/* libFuzzer harness for configuration loading: arbitrary bytes as a config file, plus the
 * same bytes split into --set overrides. Any input must give success or one error
 * message, never a crash, hang, leak or undefined behaviour. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rmens/base/common.h"
#include "rmens/base/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/rmens_fuzz_config_%d.cfg", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);

    rm_settings s;
    if (rm_settings_load(&s, path, NULL, 0) == 0) rm_settings_free(&s);
    else if (rm_last_error()[0] == '\0') abort(); /* a failure must say why */

    /* Lines of the input as --set overrides. */
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    const char *sets[16];
    int n = 0;
    for (char *line = strtok(text, "\n"); line && n < 16; line = strtok(NULL, "\n")) sets[n++] = line;
    if (rm_settings_load(&s, NULL, sets, n) == 0) rm_settings_free(&s);
    else if (rm_last_error()[0] == '\0') abort();
    free(text);
    return 0;
}
