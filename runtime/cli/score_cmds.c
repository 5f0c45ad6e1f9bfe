/* score_cmds.c: score, each image's loss as an anomaly score. The split
 * streams through (data/stream.h): a batch is read, scored and its rows
 * written before the next is read, so memory does not grow with the data
 * set. Only a one-class run keeps something per image, its loss and label
 * (32 bytes), for the AUROC, which needs them all. */
#include "aec.h"
#include "cli/cli.h"
#include "data/classes.h"
#include "data/stream.h"
#include "exec/score.h"
#include "io/files.h"
#include "report/anomaly.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

typedef struct {
    const aec_model *m;
    aec_stream *st;
    aec_stream_batch b;         /* the batch being scored */
    aec_out_file csv;
    double sum;                 /* of the losses, for the mean */
    int n;
    aec_score *all;             /* one-class: every image's scores and label, for the AUROC */
    int64_t *labels;
} score_run;

static int score_next(void *ctx, int max, const float **x)
{
    score_run *r = ctx;
    if (aec_stream_next(r->st, max, &r->b) != 0)
        return -1;
    *x = r->b.x;
    return r->b.n;
}

static int score_take(void *ctx, int first, int B, const aec_score *s)
{
    score_run *r = ctx;
    aec_scores_csv_rows(&r->csv, r->m, first, B, s, r->b.labels, r->b.names);
    for (int i = 0; i < B; i++)
        r->sum += s[i].loss;
    r->n = first + B;
    if (r->all) {
        memcpy(r->all + first, s, (size_t)B * sizeof *s);
        memcpy(r->labels + first, r->b.labels, (size_t)B * sizeof *r->labels);
    }
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
static int score_classes(const aec_model *m, const cli_opts *o, const score_run *r, const unsigned char normal[256])
{
    aec_auroc_result a;
    char list[AEC_CLASSES_TEXT];
    if (aec_auroc_classes(r->all, r->labels, r->n, normal, &a) != 0)
        return -1;
    if (isnan(a.overall)) {
        aec_classes_format(normal, list, sizeof list);
        aec_error("score: %s is written, but there is no AUROC: normal classes %s: %s", o->out, list,
                  a.n_anomalies ? "no image of the split is of those classes"
                  : "every image of the split is of those classes, so none is an anomaly");
        return -1;
    }
    printf("auroc %.6f (%d anomalies, %d normal)\n", a.overall, a.n_anomalies, a.n_normal);
    for (int c = 0; c < 256; c++)
        if (!isnan(a.per_class[c]))
            printf("auroc_class %d %.6f\n", c, a.per_class[c]);
    char path[4096];
    roc_path(o->out, path, sizeof path);
    return aec_plot_roc(path, m->name, r->all, r->labels, r->n, normal, a.overall);
}

/* Every image of the split scored, its row written; the mean printed. */
static int score_split(const aec_model *m, const cli_opts *o, const float *params, score_run *r)
{
    int N = aec_stream_size(r->st);
    if (aec_out_open(&r->csv, o->out) != 0)
        return -1;
    aec_scores_csv_header(&r->csv, m, aec_stream_labelled(r->st), !aec_stream_labelled(r->st));
    aec_score_io io = { score_next, score_take, r, N };
    if (aec_score_run(m, params, o->batch, 1, &io) != 0) {
        aec_out_abort(&r->csv);
        return -1;
    }
    if (aec_out_commit(&r->csv) != 0)
        return -1;
    printf("loss %.8g (the mean of %d images)\n", r->sum / r->n, r->n);
    return 0;
}

int aec_cmd_score(const aec_model *m, const cli_opts *o)
{
    unsigned char normal[256];
    int one_class;
    float *params = aec_cli_normal_weights(m, o, "score", normal, &one_class);
    if (!params)
        return 1;
    score_run r = { .m = m, .st = aec_stream_open(o->data, o->split, m, o->limit, o->skip_bad, o->batch) };
    int rc = !r.st;
    if (!rc && one_class && !aec_stream_labelled(r.st)) {
        if (o->classes) {
            aec_error("score: --classes needs labelled data (IDX files); %s has none", o->data);
            rc = 1;
        }
        one_class = 0;          /* the checkpoint's classes: no labels to tell them by, so no AUROC */
    }
    if (!rc && one_class) {
        int N = aec_stream_size(r.st);
        r.all = malloc((size_t)N * sizeof *r.all);
        r.labels = malloc((size_t)N * sizeof *r.labels);
        if (!r.all || !r.labels) {
            aec_error("score: out of memory for the scores of %d images", N);
            rc = 1;
        }
    }
    rc = rc || score_split(m, o, params, &r) != 0 || (one_class && score_classes(m, o, &r, normal) != 0);
    aec_stream_close(r.st);
    free(r.all);
    free(r.labels);
    free(params);
    return rc;
}
