/* Shared initialisation and weight averaging (rmens/eval/warm.h): with ensemble.shared_init
 * every member's initial weights are member 0's, bit for bit, and member 0's are those of
 * a run without the key; without it members differ. The config keys (eval.warm takes the
 * boolean true as "true"), the settings refusals, rm_warm_decide's verdicts, and
 * rm_warm_average: identical members average to the member exactly, two members to the
 * double mean rounded once; checkpoint fingerprints tell the two initialisations apart. */
#include "../common/check.h"
#include "../common/settings.h"
#include "rmens/member/family_gbdt.h"
#include "rmens/member/shared_init.h"
#include "rmens/ensemble/checkpoint.h"
#include "rmens/base/common.h"
#include "rmens/base/config.h"
#include "rmens/member/family.h"
#include "rmens/model/model.h"
#include "rmens/eval/warm.h"

#include <stdlib.h>
#include <string.h>

static int load(rm_settings *s, const char *const *sets, int n)
{
    return test_settings_load(s, sets, n, NULL, 0);
}

static void init_member(rm_mlp *m, const rm_settings *s, int index)
{
    CHECK(rm_mlp_create(m, 24, s->model_hidden, s->model_n_hidden) == 0);
    rm_member_init_weights(m, s, index);
}

static void check_init(void)
{
    const char *shared_sets[] = {"model.hidden=[16, 8]", "seed=7", "ensemble.shared_init=true"};
    const char *own_sets[] = {"model.hidden=[16, 8]", "seed=7"};
    rm_settings shared, own;
    CHECK(load(&shared, shared_sets, 3) == 0);
    CHECK(load(&own, own_sets, 2) == 0);
    CHECK(shared.ensemble_shared_init == 1 && own.ensemble_shared_init == 0);
    rm_mlp first, first_own;
    init_member(&first, &shared, 0);
    init_member(&first_own, &own, 0);
    size_t bytes = first.n_params * sizeof(float);
    CHECK(memcmp(first.params, first_own.params, bytes) == 0); /* member 0 is unchanged */
    for (int m = 1; m < 5; m++) {
        rm_mlp a, b;
        init_member(&a, &shared, m);
        init_member(&b, &own, m);
        CHECK(memcmp(a.params, first.params, bytes) == 0);
        CHECK(memcmp(b.params, first.params, bytes) != 0);
        rm_mlp_free(&a);
        rm_mlp_free(&b);
    }
    /* a checkpoint of one initialisation never resumes under the other */
    char *fp_shared = rm_checkpoint_fingerprint(&shared, "uuid"), *fp_own = rm_checkpoint_fingerprint(&own, "uuid");
    CHECK(fp_shared && fp_own && strcmp(fp_shared, fp_own) != 0 && strstr(fp_shared, "ensemble.shared_init=1"));
    CHECK(fp_own && !strstr(fp_own, "shared_init")); /* fingerprints without the key as before */
    free(fp_shared);
    free(fp_own);
    rm_mlp_free(&first);
    rm_mlp_free(&first_own);
    rm_settings_free(&shared);
    rm_settings_free(&own);
}

static void check_keys(void)
{
    rm_settings s;
    const char *defaults[] = {"seed=1"};
    CHECK(load(&s, defaults, 1) == 0);
    CHECK(strcmp(s.eval_warm, "auto") == 0 && s.ensemble_shared_init == 0);
    rm_settings_free(&s);
    const char *words[][1] = {{"eval.warm=true"}, {"eval.warm=false"}, {"eval.warm=\"true\""}, {"eval.warm=auto"}};
    const char *want[] = {"true", "false", "true", "auto"};
    for (int i = 0; i < 4; i++) {
        CHECK(load(&s, words[i], 1) == 0);
        CHECK(strcmp(s.eval_warm, want[i]) == 0);
        rm_settings_free(&s);
    }
    const char *bad[] = {"eval.warm=sometimes"};
    CHECK(rm_settings_load(&s, NULL, bad, 1) != 0 && strstr(rm_last_error(), "eval.warm"));
    rm_settings_free(&s);
    const char *views[] = {"ensemble.shared_init=true", "ensemble.views=[\"default\", \"view1\"]"};
    CHECK(load(&s, views, 2) == 0);
    CHECK(rm_shared_init_check(&s) != 0 && strstr(rm_last_error(), "ensemble.shared_init"));
    rm_settings_free(&s);
    const char *trees[] = {"ensemble.shared_init=true", "model.family=\"gbdt\""};
    CHECK(load(&s, trees, 2) == 0);
    CHECK(rm_family_check_settings(&s, 0) != 0 && strstr(rm_last_error(), "ensemble.shared_init"));
    rm_settings_free(&s);
}

static void check_average_and_decide(void)
{
    const char *sets[] = {"model.hidden=[16, 8]", "seed=3"};
    rm_settings s;
    CHECK(load(&s, sets, 2) == 0);
    rm_ensemble e;
    memset(&e, 0, sizeof e);
    e.n_members = 3;
    e.members = calloc(3, sizeof *e.members);
    e.member_view = calloc(3, sizeof *e.member_view);
    for (int m = 0; m < 3; m++) {
        init_member(&e.members[m].mlp, &s, m == 2 ? 0 : m); /* members 0 and 2 identical */
        e.members[m].score_mean = 0.25 * m;
        e.members[m].score_std = 1.0 + m;
    }
    rm_member w;
    int same[] = {0, 2};
    CHECK(rm_warm_average(&e, same, 2, &w) == 0);
    CHECK(memcmp(w.mlp.params, e.members[0].mlp.params, w.mlp.n_params * sizeof(float)) == 0);
    rm_member_free(&w);
    int pair[] = {0, 1};
    CHECK(rm_warm_average(&e, pair, 2, &w) == 0);
    int exact = 1;
    for (size_t i = 0; i < w.mlp.n_params; i++)
        exact &= w.mlp.params[i] == (float)(((double)e.members[0].mlp.params[i] + e.members[1].mlp.params[i]) / 2.0);
    CHECK(exact);
    rm_member_free(&w);
    int one[] = {1};
    CHECK(rm_warm_average(&e, one, 1, &w) == 0);
    CHECK(w.score_mean == 0.25 && w.score_std == 2.0);
    CHECK(memcmp(w.mlp.params, e.members[1].mlp.params, w.mlp.n_params * sizeof(float)) == 0);
    rm_member_free(&w);

    int enabled = -1;
    CHECK(rm_warm_decide(&s, &e, &enabled) == 0 && enabled == 0); /* auto, no shared_init */
    snprintf(s.eval_warm, sizeof s.eval_warm, "true");
    CHECK(rm_warm_decide(&s, &e, &enabled) != 0 && strstr(rm_last_error(), "shared_init"));
    e.shared_init = 1;
    CHECK(rm_warm_decide(&s, &e, &enabled) == 0 && enabled == 1);
    snprintf(s.eval_warm, sizeof s.eval_warm, "auto");
    CHECK(rm_warm_decide(&s, &e, &enabled) == 0 && enabled == 1);
    e.members[1].family = &rm_family_gbdt;
    CHECK(rm_warm_decide(&s, &e, &enabled) != 0 && strstr(rm_last_error(), "gbdt"));
    e.members[1].family = NULL;
    snprintf(e.member_view[1], sizeof e.member_view[1], "view1");
    CHECK(rm_warm_decide(&s, &e, &enabled) != 0 && strstr(rm_last_error(), "view"));
    e.member_view[1][0] = '\0';
    rm_mlp_free(&e.members[2].mlp);
    const int wider[] = {32, 8};
    CHECK(rm_mlp_create(&e.members[2].mlp, 24, wider, 2) == 0);
    CHECK(rm_warm_decide(&s, &e, &enabled) != 0 && strstr(rm_last_error(), "shape"));
    snprintf(s.eval_warm, sizeof s.eval_warm, "false");
    CHECK(rm_warm_decide(&s, &e, &enabled) == 0 && enabled == 0);
    rm_ensemble_free(&e);
    rm_settings_free(&s);
}

int main(void)
{
    check_init();
    check_keys();
    check_average_and_decide();
    return check_status("test_warm");
}
