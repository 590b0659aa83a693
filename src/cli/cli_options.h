/* The command line of a verb, described by a table, and the one parser that reads it.
 *
 * Each verb declares its options once (name, whether it takes a value, where the value
 * goes, its line in --help); the same table drives parsing, the usage errors and the
 * options list of --help, so an option cannot be parsed without being documented or
 * documented under another spelling. Values go into the verb's own argument struct,
 * addressed by offsetof(), so a verb can parse straight into the struct its layer takes
 * (rm_import_args for import). */
#ifndef RMENS_CLI_OPTIONS_H
#define RMENS_CLI_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#define CLI_MAX_SETS 256
#define CLI_COUNT(array) ((int)(sizeof(array) / sizeof((array)[0])))

typedef enum {
    CLI_FLAG,      /* "--name": sets an int to 1 */
    CLI_TEXT,      /* "--name VALUE" or "--name=VALUE": a const char * (the last one given wins) */
    CLI_TEXT_LIST, /* the same, repeatable: appended to a cli_text_list in command-line order */
    CLI_MIB,       /* a whole number of MiB in [1, 1048576]: stored as a size_t of bytes */
} cli_option_kind;

/* Where a CLI_TEXT_LIST option's values go (--set: later keys override earlier ones). */
typedef struct {
    const char *items[CLI_MAX_SETS];
    int count;
} cli_text_list;

typedef struct {
    const char *name;       /* spelling on the command line, "--force" */
    cli_option_kind kind;
    size_t offset;          /* offsetof() the field it fills in the verb's argument struct */
    const char *value_name; /* what the value looks like in --help and errors ("KEY=VALUE", "N"); NULL for a flag */
    const char *help;       /* its entry in the options list; '\n' starts an aligned continuation line.
                             * NULL: not listed (the usage line, or another option's entry, covers it) */
    int required;           /* a CLI_TEXT that must be given, and not empty */
    const char *help_label; /* the entry's left column when it is not "name value_name" */
} cli_option;

typedef struct {
    const char *name;    /* as typed after "rmens" */
    const char *summary; /* one line, for `rmens --help` and under the usage line */
    const char *usage;   /* printed after "usage: " */

    /* What the command line fills: a struct of args_size bytes (zeroed before parsing),
     * its one positional argument ("CONFIG", "STORE"; NULL: none taken) and its options. */
    size_t args_size;
    const char *positional;
    size_t positional_offset;
    const cli_option *options;
    int n_options;

    /* --help: usage, summary, description, "options:" with one entry per listed option
     * (help text starting at help_column), then the epilogue, then, with
     * lists_config_keys, every configuration key. */
    const char *description; /* ends with the blank line before "options:", if it wants one */
    int help_column;
    const char *epilogue;    /* NULL: none */
    int lists_config_keys;
    /* 1: no -q/--quiet (--print-config, whose output is all it does); every verb takes it */
    int without_quiet;

    int (*run)(int argc, char **argv); /* argv[0] is the verb's name */
} cli_verb;

typedef enum { CLI_PARSED = 0, CLI_HELP_SHOWN = 1 } cli_parse_outcome;

/* Fill `dest` (the verb's argument struct; zeroed first) from argv[1..argc-1], in order.
 * -q/--quiet, which every verb takes, sets the process's verbosity (rm_set_quiet,
 * rmens/base/progress.h) instead of a field: the layers below ask base, not the verb.
 * Returns CLI_PARSED; CLI_HELP_SHOWN when --help or -h comes before any usage error (rank
 * 0 printed the help: exit 0); or -1 with a one-line message naming the offending option
 * or argument. Every rank sees the same argv, so every rank reaches the same outcome
 * without communicating. */
int cli_parse(const cli_verb *verb, int argc, char **argv, void *dest);

/* The verb's full --help text. */
void cli_print_help(const cli_verb *verb, FILE *out);

#endif
