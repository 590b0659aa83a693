/* rmens --print-config CONFIG [--set KEY=VALUE]...: the merged configuration, every key with
 * its value or default, in libconfig syntax. A global option, not a verb (main.c dispatches
 * it without MPI); its table gives it the verbs' parser and --help. The text is the one
 * rm_settings_load merges for provenance (members.h5, results.h5 `config`), so it loads to
 * the same settings: `rmens --print-config printed.cfg` prints it again unchanged. */
#include "cli.h"

#include "rmens/base/common.h"

typedef struct {
    const char *config_path;
    cli_text_list sets;
} print_config_args;

static const cli_option PRINT_CONFIG_OPTIONS[] = {
    {.name = "--set", .kind = CLI_TEXT_LIST, .offset = offsetof(print_config_args, sets), .value_name = "KEY=VALUE",
     .help = "override a config key (libconfig syntax; repeatable), as the verbs do"},
};

/* No MPI: the parser touches MPI only for --help, which main.c answers before parsing. */
static int cmd_print_config(int argc, char **argv)
{
    print_config_args args;
    if (cli_parse(&VERB_PRINT_CONFIG, argc, argv, &args) != CLI_PARSED) {
        fprintf(stderr, "rmens --print-config: error: %s\n", rm_last_error());
        return 1;
    }
    rm_settings cfg;
    if (rm_settings_load(&cfg, args.config_path, args.sets.items, args.sets.count) != 0) {
        fprintf(stderr, "rmens --print-config: error: %s\n", rm_last_error());
        return 1;
    }
    printf("# rmens %s: merged configuration (every key; defaults included)\n%s", RMENS_VERSION,
           cfg.config_text ? cfg.config_text : "");
    rm_settings_free(&cfg);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

const cli_verb VERB_PRINT_CONFIG = {
    .name = "--print-config",
    .summary = "print the merged configuration: CONFIG with the --set overrides and every default",
    .usage = "rmens --print-config CONFIG [--set KEY=VALUE]...",
    .args_size = sizeof(print_config_args),
    .positional = "CONFIG",
    .positional_offset = offsetof(print_config_args, config_path),
    .options = PRINT_CONFIG_OPTIONS,
    .n_options = CLI_COUNT(PRINT_CONFIG_OPTIONS),
    .description =
        "Loads CONFIG as every verb does (unknown keys, types and ranges are checked; errors name\n"
        "the key and the line), applies the --set overrides in order, and prints the result to\n"
        "standard output in libconfig syntax: the keys CONFIG sets first, then every other key\n"
        "with its default. The output is itself a config: it loads to the same settings, and\n"
        "printing it again gives the same text (floating-point values are written with 15\n"
        "significant digits). It is the text recorded as `config` in members.h5 and results.h5.\n"
        "Needs no MPI.\n\n",
    .help_column = 20,
    .epilogue = "example:  rmens --print-config configs/demo.cfg --set train.epochs=3 > merged.cfg\n",
    .lists_config_keys = 1,
    .without_quiet = 1,
    .run = cmd_print_config,
};
