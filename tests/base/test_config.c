/* Configuration: defaults, file values, --set overrides in libconfig syntax, bare-word
 * strings, and errors that name the key, the line and the closest valid key. */
#include "../common/check.h"
#include "rmens/base/common.h"
#include "rmens/base/config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir_template[] = "/tmp/rmens_test_config_XXXXXX";

static const char *write_cfg(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir_template, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static int expect_error(const char *path, const char *const *sets, int n, const char *fragment)
{
    rm_settings s;
    int rc = rm_settings_load(&s, path, sets, n);
    rm_settings_free(&s);
    if (rc == 0) { fprintf(stderr, "expected an error containing '%s', got success\n", fragment); return 0; }
    if (!strstr(rm_last_error(), fragment)) {
        fprintf(stderr, "expected '%s' in error: %s\n", fragment, rm_last_error());
        return 0;
    }
    return 1;
}

int main(void)
{
    CHECK(mkdtemp(dir_template) != NULL);
    rm_settings s;

    /* Defaults only. */
    CHECK(rm_settings_load(&s, NULL, NULL, 0) == 0);
    CHECK(s.model_n_hidden == 2 && s.model_hidden[0] == 1024 && s.model_hidden[1] == 512);
    CHECK(strcmp(s.model_objective, "bt") == 0);
    CHECK(s.train_learning_rate == 0.001);
    CHECK(s.pairs_annotator_beta < 0);
    CHECK(s.eval_n_ablation == 0);
    CHECK(s.config_text && strstr(s.config_text, "learning_rate"));
    rm_settings_free(&s);

    /* File values and overrides: numbers, lists, bare words, quoted strings, booleans. */
    const char *cfg = write_cfg("a.cfg",
        "store = \"/data/s.h5\";\nseed = 3;\ntrain = { epochs = 7; learning_rate = 0.01; };\n"
        "model = { hidden = [32]; };\n");
    const char *sets[] = {"train.epochs=5", "model.objective=clf", "store=/tmp/s.h5",
                          "model.hidden=[64,16,8]", "eval.save_predictions=true",
                          "output=\"run dir\"", "eval.uwo_lambda=[0.1, 1]", "pairs.annotator_beta=1"};
    { int rc8 = rm_settings_load(&s, cfg, sets, 8); if (rc8) fprintf(stderr, "%s\n", rm_last_error()); CHECK(rc8 == 0); }
    CHECK(s.train_epochs == 5);
    CHECK(s.train_learning_rate == 0.01);
    CHECK(s.seed == 3);
    CHECK(strcmp(s.model_objective, "clf") == 0);
    CHECK(strcmp(s.store, "/tmp/s.h5") == 0);
    CHECK(strcmp(s.output, "run dir") == 0);
    CHECK(s.model_n_hidden == 3 && s.model_hidden[2] == 8);
    CHECK(s.eval_save_predictions == 1);
    CHECK(s.eval_n_uwo == 2 && s.eval_uwo_lambda[1] == 1.0);
    CHECK(s.pairs_annotator_beta == 1.0); /* an integer is accepted where a float is expected */
    rm_settings_free(&s);
    const char *linear[] = {"model.hidden=[]"};
    CHECK(rm_settings_load(&s, NULL, linear, 1) == 0 && s.model_n_hidden == 0);
    rm_settings_free(&s);

    /* Errors. */
    CHECK(expect_error(write_cfg("b.cfg", "train = { epoch = 3; };\n"), NULL, 0, "b.cfg:1: unknown key 'train.epoch' (did you mean 'train.epochs'?)"));
    CHECK(expect_error(write_cfg("c.cfg", "seed = 1;\ntrain = { epochs = 2.5; };\n"), NULL, 0, "c.cfg:2: 'train.epochs' expects an integer, got a float"));
    CHECK(expect_error(write_cfg("d.cfg", "seed = 1;\n\ntrain = { epochs = ; };\n"), NULL, 0, "d.cfg:3: syntax error"));
    CHECK(expect_error(write_cfg("e.cfg", "model = { objective = \"ranknet\"; };\n"), NULL, 0, "'model.objective' = \"ranknet\" is not one of bt|clf"));
    CHECK(expect_error("/nonexistent/x.cfg", NULL, 0, "/nonexistent/x.cfg: cannot read config file"));
    const char *bad1[] = {"train.learning_rate=0"};
    CHECK(expect_error(NULL, bad1, 1, "--set train.learning_rate: 'train.learning_rate' = 0 is out of range (0, 1000]"));
    const char *bad2[] = {"pairs.cout=5"};
    CHECK(expect_error(NULL, bad2, 1, "unknown key 'pairs.cout' (did you mean 'pairs.count'?)"));
    const char *bad3[] = {"train.batch_size=-4"};
    CHECK(expect_error(NULL, bad3, 1, "'train.batch_size' = -4 is out of range"));
    const char *bad4[] = {"model.hidden=[64, 0]"};
    CHECK(expect_error(NULL, bad4, 1, "'model.hidden' = 0 is out of range"));
    const char *bad5[] = {"train.epochs"};
    CHECK(expect_error(NULL, bad5, 1, "expected key=value"));
    const char *bad6[] = {"train.epochs=ten"};
    CHECK(expect_error(NULL, bad6, 1, "'train.epochs' expects an integer, got a string"));
    const char *bad7[] = {"eval.save_predictions=1"};
    CHECK(expect_error(NULL, bad7, 1, "expects a boolean"));
    CHECK(expect_error(write_cfg("f.cfg", "train = 3;\n"), NULL, 0, "f.cfg:1: unknown key 'train'"));

    /* The shipped configs load. */
    const char *src = getenv("SRCDIR");
    if (src) {
        char path[1024];
        snprintf(path, sizeof path, "%s/configs/demo.cfg", src);
        if (access(path, R_OK) == 0) {
            int rc = rm_settings_load(&s, path, NULL, 0);
            if (rc != 0) fprintf(stderr, "%s\n", rm_last_error());
            CHECK(rc == 0);
            rm_settings_free(&s);
        }
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir_template);
    CHECK(system(cmd) == 0);
    return check_status("test_config");
}
