/* The option parser and the --help text of every verb (see cli_options.h). */
#include "cli_options.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "rmens/base/common.h"
#include "rmens/base/config.h"
#include "rmens/base/progress.h"

#define CLI_MAX_MIB (1L << 20) /* a 1 TiB piece: far beyond any memory, so a typo, not a choice */

/* The verb's option spelt by `arg`: "--name", or "--name=value" with *inline_value set to
 * what follows '=' (NULL otherwise). A longer word ("--forced") is not "--force". */
static const cli_option *find_option(const cli_verb *verb, const char *arg, const char **inline_value)
{
    for (int o = 0; o < verb->n_options; o++) {
        const cli_option *opt = &verb->options[o];
        size_t n = strlen(opt->name);
        if (strncmp(arg, opt->name, n) != 0) continue;
        if (arg[n] == '\0' || arg[n] == '=') {
            *inline_value = arg[n] == '=' ? arg + n + 1 : NULL;
            return opt;
        }
    }
    return NULL;
}

/* Put one option's value where its table entry says. 0, or -1 with the message. */
static int store_option(const cli_option *opt, const char *value, char *args)
{
    void *field = args + opt->offset;
    switch (opt->kind) {
    case CLI_FLAG:
        *(int *)field = 1;
        return 0;
    case CLI_TEXT:
        *(const char **)field = value;
        return 0;
    case CLI_TEXT_LIST: {
        cli_text_list *list = field;
        if (list->count == CLI_MAX_SETS) return rm_errorf("too many %s options (at most %d)", opt->name, CLI_MAX_SETS);
        list->items[list->count++] = value;
        return 0;
    }
    case CLI_MIB: {
        char *end = NULL;
        long mib = strtol(value, &end, 10);
        if (!end || *end || mib < 1 || mib > CLI_MAX_MIB)
            return rm_errorf("%s must be an integer in [1, %ld], got '%s'", opt->name, CLI_MAX_MIB, value);
        *(size_t *)field = (size_t)mib << 20;
        return 0;
    }
    }
    return rm_errorf("%s: option of unknown kind %d", opt->name, (int)opt->kind);
}

/* argv[*i] is an option: find it, take its value (from "=value" or the next argument,
 * advancing *i) and store it. 0, or -1 with a message naming the option. */
static int parse_option(const cli_verb *verb, int argc, char **argv, int *i, char *args)
{
    const char *arg = argv[*i], *value = NULL;
    const cli_option *opt = find_option(verb, arg, &value);
    if (!opt) return rm_errorf("unknown option '%s' (see rmens %s --help)", arg, verb->name);
    if (opt->kind == CLI_FLAG) {
        if (value) return rm_errorf("%s takes no value, got '%s' (see rmens %s --help)", opt->name, arg, verb->name);
    } else if (!value) {
        if (*i + 1 >= argc)
            return rm_errorf("%s needs a value: %s %s (see rmens %s --help)", opt->name, opt->name, opt->value_name,
                             verb->name);
        value = argv[++*i];
    }
    return store_option(opt, value, args);
}

/* After the last argument: the positional argument and every required option were given. */
static int check_complete(const cli_verb *verb, const char *args)
{
    if (verb->positional && !*(const char *const *)(args + verb->positional_offset))
        return rm_errorf("missing %s (see rmens %s --help)", verb->positional, verb->name);
    for (int o = 0; o < verb->n_options; o++) {
        const cli_option *opt = &verb->options[o];
        if (!opt->required) continue;
        const char *value = *(const char *const *)(args + opt->offset);
        if (!value || !value[0]) return rm_errorf("missing %s (see rmens %s --help)", opt->name, verb->name);
    }
    return 0;
}

int cli_parse(const cli_verb *verb, int argc, char **argv, void *dest)
{
    char *args = dest;
    memset(args, 0, verb->args_size);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            /* Every rank parses; one prints. MPI is up: the verbs run after MPI_Init. */
            int rank = 0;
            MPI_Comm_rank(MPI_COMM_WORLD, &rank);
            if (rank == 0) cli_print_help(verb, stdout);
            return CLI_HELP_SHOWN;
        }
        if (!verb->without_quiet && (strcmp(arg, "--quiet") == 0 || strcmp(arg, "-q") == 0)) {
            rm_set_quiet(1);
            continue;
        }
        /* "-" alone is an argument (a conventional name for standard input), not an option */
        if (arg[0] == '-' && arg[1] != '\0') {
            if (parse_option(verb, argc, argv, &i, args) != 0) return -1;
        } else if (verb->positional && !*(const char **)(args + verb->positional_offset)) {
            *(const char **)(args + verb->positional_offset) = arg;
        } else {
            return rm_errorf("unexpected argument '%s' (see rmens %s --help)", arg, verb->name);
        }
    }
    return check_complete(verb, args) == 0 ? CLI_PARSED : -1;
}

/* One entry of the options list: the label indented by two, the help from help_column on,
 * its continuation lines aligned under it. A label too wide for the column puts the help
 * on the lines below. */
static void print_option_entry(const cli_option *opt, int help_column, FILE *out)
{
    char label[160];
    if (opt->help_label) snprintf(label, sizeof label, "%s", opt->help_label);
    else if (opt->value_name) snprintf(label, sizeof label, "%s %s", opt->name, opt->value_name);
    else snprintf(label, sizeof label, "%s", opt->name);
    if (2 + (int)strlen(label) >= help_column) fprintf(out, "  %s\n%*s", label, help_column, "");
    else fprintf(out, "  %-*s", help_column - 2, label);
    for (const char *line = opt->help;;) {
        const char *newline = strchr(line, '\n');
        if (!newline) {
            fprintf(out, "%s\n", line);
            return;
        }
        fprintf(out, "%.*s\n%*s", (int)(newline - line), line, help_column, "");
        line = newline + 1;
    }
}

/* Every verb's -q/--quiet (cli_parse handles it): listed after the verb's own options. */
static const cli_option QUIET_OPTION = {
    .name = "--quiet",
    .kind = CLI_FLAG,
    .help = "print only errors, warnings and the closing summary line (no\n"
            "progress lines, tables or other information; files are the same)",
    .help_label = "-q, --quiet",
};

void cli_print_help(const cli_verb *verb, FILE *out)
{
    fprintf(out, "usage: %s\n\n%s\n\n%s", verb->usage, verb->summary, verb->description);
    fprintf(out, "options:\n");
    for (int o = 0; o < verb->n_options; o++)
        if (verb->options[o].help) print_option_entry(&verb->options[o], verb->help_column, out);
    if (!verb->without_quiet) print_option_entry(&QUIET_OPTION, verb->help_column, out);
    if (verb->epilogue) fprintf(out, "\n%s", verb->epilogue);
    if (verb->lists_config_keys) {
        fprintf(out, "\nconfig keys:\n");
        rm_settings_print_keys(out);
    }
}
