/* rmens import: placeholder until its issue lands (replaced, never shipped as is). */
#include "cli.h"
#include "rmens/common.h"

int cmd_import(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "rmens import: not built yet\n");
    return 1;
}

const cli_verb VERB_IMPORT = {"import", "(pending)", "rmens import", NULL, cmd_import};
