/* rmens select CONFIG: hyperparameters by prompt-grouped cross-validation on the train
 * split, then train and evaluate the ensemble with the chosen ones. */
#include "cli.h"

#include "rmens/base/common.h"
#include "rmens/base/parallel.h"
#include "rmens/ensemble/ensemble.h"
#include "rmens/eval/eval.h"
#include "rmens/eval/select.h"

static int select_train_evaluate(const rm_settings *cfg, const cli_config_args *args, MPI_Comm comm)
{
    rm_select_choice choice;
    if (rm_select(cfg, args->config_path, args->sets.items, args->sets.count, comm, args->force, &choice) != 0) return -1;
    /* the run's settings: the file, its --set, then the chosen values (the merged config
     * that members.h5 and results.h5 record says what was chosen) */
    const char *all[CLI_MAX_SETS + RM_MAX_SELECT_AXES];
    int n = 0;
    for (int i = 0; i < args->sets.count; i++) all[n++] = args->sets.items[i];
    for (int i = 0; i < choice.n; i++) all[n++] = choice.items[i];
    rm_settings chosen;
    int rc = rm_all_ok(comm, rm_settings_load(&chosen, args->config_path, all, n));
    if (rc != 0) return -1;
    rc = rm_ensemble_train(&chosen, comm, args->force, 0);
    if (rc == 0) rc = rm_evaluate(&chosen, comm, args->force);
    rm_settings_free(&chosen);
    return rc;
}

static int cmd_select(int argc, char **argv)
{
    return cli_run_locked(&VERB_SELECT, argc, argv, CLI_LOCK_EXCLUSIVE, select_train_evaluate, NULL);
}

static const cli_option SELECT_OPTIONS[] = {
    {.name = "--set", .kind = CLI_TEXT_LIST, .offset = offsetof(cli_config_args, sets), .value_name = "KEY=VALUE",
     .help = "override a config key (libconfig syntax; repeatable); every grid point starts from these"},
    {.name = "--force", .kind = CLI_FLAG, .offset = offsetof(cli_config_args, force),
     .help = "overwrite an existing select.json, members and results"},
};

const cli_verb VERB_SELECT = {
    .name = "select",
    .summary = "choose hyperparameters by prompt-grouped cross-validation, then train and evaluate",
    .usage = "mpirun -n P rmens select CONFIG [--set KEY=VALUE]... [--force]",
    .args_size = sizeof(cli_config_args),
    .positional = "CONFIG",
    .positional_offset = offsetof(cli_config_args, config_path),
    .options = SELECT_OPTIONS,
    .n_options = CLI_COUNT(SELECT_OPTIONS),
    .description =
        "Cross-validates every point of select.grid on the train split only, grouped by prompt:\n"
        "the train prompts are dealt into select.folds folds (seeded); for each point and fold,\n"
        "select.members members train on the pairs the configuration draws minus every pair that\n"
        "touches the fold, and score all of the fold's responses; the point's score is the mean\n"
        "within-prompt pair accuracy (golden order; score ties count half) over the folds.\n"
        "The best point (the earlier on a tie) is recorded with every fold score in\n"
        "<output>/select.json, then the ensemble trains and is evaluated with it as `rmens run`\n"
        "would: <output>/members.h5, results.h5, results.json (their merged config records the\n"
        "chosen values). The test split is never read before that last evaluation.\n\n"
        "select.grid = [\"model.hidden: [] | [64]\", \"train.l2: 0.0 | 0.03 | 0.1\"] has 2 x 3 points;\n"
        "values use --set syntax; store, output, seed, ensemble.views and ensemble.kind cannot vary.\n"
        "The (point, fold) jobs are dealt over the ranks, one rank each: the figures and the choice\n"
        "are the same for any rank count.\n\n",
    .help_column = 20,
    .lists_config_keys = 1,
    .run = cmd_select,
};
