/* rmens run: placeholder until its issue lands (replaced, never shipped as is). */
#include "cli.h"
#include "rmens/common.h"

int cmd_run(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "rmens run: not built yet\n");
    return 1;
}

const cli_verb VERB_RUN = {"run", "(pending)", "rmens run", NULL, cmd_run};
