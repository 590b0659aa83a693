/* rmens inspect: placeholder until its issue lands (replaced, never shipped as is). */
#include "cli.h"
#include "rmens/common.h"

int cmd_inspect(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "rmens inspect: not built yet\n");
    return 1;
}

const cli_verb VERB_INSPECT = {"inspect", "(pending)", "rmens inspect", NULL, cmd_inspect};
