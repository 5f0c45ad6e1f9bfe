/* score_cmds.c: score, each image's loss as an anomaly score, streamed to a
 * CSV file batch by batch; with --classes, the one-class AUROC. */
#include "aec.h"
#include "cli/cli.h"
#include "exec/score.h"
#include "io/files.h"
#include "report/anomaly.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

typedef struct {
    const aec_model *m;
    const aec_dataset *d;
    aec_out_file csv;
    aec_score *all;             /* every image's scores, for the mean and the AUROC */
} score_run;

static int score_sink(void *ctx, int first, int B, const aec_score *s)
{
    score_run *r = ctx;
    aec_scores_csv_rows(&r->csv, r->m, first, B, s, r->d->labels);
    memcpy(r->all + first, s, (size_t)B * sizeof *s);
    return r->csv.failed;
}

/* FILE.csv -> FILE_roc.png (FILE_roc.png after any other name). */
static void roc_path(const char *out, char *path, size_t size)
{
    size_t n = strlen(out);
    if (n > 4 && strcmp(out + n - 4, ".csv") == 0)
        n -= 4;
    snprintf(path, size, "%.*s_roc.png", (int)n, out);
}

/* The AUROC lines, and the ROC picture. */
static int score_classes(const aec_model *m, const cli_opts *o, const aec_dataset *d, const aec_score *s,
                         const unsigned char normal[256])
{
    aec_auroc_result a;
    if (aec_auroc_classes(s, d->labels, d->n, normal, &a) != 0)
        return -1;
    if (isnan(a.overall)) {
        aec_error("score: --classes %s: %s", o->classes, a.n_anomalies ? "no image of the split is of those classes"
                  : "every image of the split is of those classes, so none is an anomaly");
        return -1;
    }
    printf("auroc %.6f (%d anomalies, %d normal)\n", a.overall, a.n_anomalies, a.n_normal);
    for (int c = 0; c < 256; c++)
        if (!isnan(a.per_class[c]))
            printf("auroc_class %d %.6f\n", c, a.per_class[c]);
    char path[4096];
    roc_path(o->out, path, sizeof path);
    return aec_plot_roc(path, m->name, s, d->labels, d->n, normal, a.overall);
}

int aec_cmd_score(const aec_model *m, const cli_opts *o)
{
    unsigned char normal[256];
    aec_dataset d = { 0 };
    if (aec_cli_classes(o, normal) != 0 || aec_cli_load_data(m, o, o->split, o->limit, &d) != 0)
        return 1;
    if (o->classes && !d.labels) {
        aec_error("score: --classes needs labelled data (IDX files); %s has none", o->data);
        aec_dataset_free(&d);
        return 1;
    }
    score_run r = { .m = m, .d = &d };
    float *params = aec_cli_load_weights(m, o->weights);
    r.all = params ? malloc((size_t)d.n * sizeof *r.all) : NULL;
    int rc = !r.all || aec_out_open(&r.csv, o->out) != 0;
    if (params && !r.all)
        aec_error("score: out of memory");
    if (!rc) {
        aec_scores_csv_header(&r.csv, m, d.labels != NULL);
        if (aec_score_set(m, params, &d, o->batch, 1, score_sink, &r) != 0) {
            aec_out_abort(&r.csv);
            rc = 1;
        } else {
            rc = aec_out_commit(&r.csv) != 0;
        }
    }
    if (!rc) {
        double sum = 0.0;
        for (int i = 0; i < d.n; i++)
            sum += r.all[i].loss;
        printf("loss %.8g (the mean of %d images)\n", sum / d.n, d.n);
        rc = o->classes && score_classes(m, o, &d, r.all, normal) != 0;
    }
    free(r.all);
    free(params);
    aec_dataset_free(&d);
    return rc;
}
