/* Per-family figures of a mixed ensemble (results.json "families", see eval_internal.h):
 * each family's single-member figures, the mean over its members, beside "single" (the
 * mean over all members). MLP-only runs keep results.json as it was. */
#include <math.h>
#include <string.h>

#include "eval_internal.h"
#include "rmens/family.h"

void eval_json_families(FILE *f, const rm_eval_plan *p, const rm_eval_results *r, const rm_ensemble *e)
{
    if (!e) return;
    int other = 0;
    for (int m = 0; m < e->n_members; m++) other |= rm_member_family(&e->members[m]) != &rm_family_mlp;
    if (!other) return;
    const rm_family *families[2] = {&rm_family_mlp, &rm_family_gbdt};
    fputs(",\n\"families\": {", f);
    int first = 1;
    for (int k = 0; k < 2; k++) {
        rm_aggregate_figures mean;
        memset(&mean, 0, sizeof mean);
        int n = 0;
        for (int m = 0; m < e->n_members; m++) {
            if (rm_member_family(&e->members[m]) != families[k]) continue;
            const rm_aggregate_figures *s = &r->single[m];
            for (int j = 0; j < p->n_bon; j++) mean.bon[j] += s->bon[j];
            mean.spearman += s->spearman, mean.pair_accuracy += s->pair_accuracy, mean.bench_accuracy += s->bench_accuracy;
            n++;
        }
        if (n == 0) continue;
        fprintf(f, "%s\n  \"%s\": {\"members\": %d, \"bon\": {", first ? "" : ",", families[k]->name, n);
        for (int j = 0; j < p->n_bon; j++) {
            fprintf(f, "%s\"%zu\": ", j ? ", " : "", p->bon_n[j]);
            eval_json_number(f, mean.bon[j] / n);
        }
        fputs("}, \"spearman\": ", f);
        eval_json_number(f, mean.spearman / n);
        fputs(", \"pair_accuracy\": ", f);
        eval_json_number(f, mean.pair_accuracy / n);
        fputs(", \"bench_accuracy\": ", f);
        eval_json_number(f, mean.bench_accuracy / n);
        fputc('}', f);
        first = 0;
    }
    fputs("\n}", f);
}
