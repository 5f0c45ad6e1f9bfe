/* scores.c: the report's anomaly section: what the per-image losses of the
 * validation set say (exec/score.c), as numbers and pictures. */
#include "aec.h"
#include "core/clock.h"
#include "core/floats.h"
#include "exec/score.h"
#include "report/anomaly.h"
#include "report/scores.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

static void path_in(char *out, size_t size, const char *dir, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

/* The n_worst highest losses, highest first (ties: the lower index first). */
static void find_worst(const aec_score *s, int n, aec_report_scores *r)
{
    r->n_worst = 0;
    for (int i = 0; i < n; i++) {
        if (r->n_worst == AEC_WORST_N && !(s[i].loss > r->worst_loss[AEC_WORST_N - 1]))
            continue;
        int k = r->n_worst < AEC_WORST_N ? r->n_worst++ : AEC_WORST_N - 1;
        for (; k > 0 && s[i].loss > r->worst_loss[k - 1]; k--) {
            r->worst[k] = r->worst[k - 1];
            r->worst_loss[k] = r->worst_loss[k - 1];
        }
        r->worst[k] = i;
        r->worst_loss[k] = s[i].loss;
    }
}

/* worst.png: the worst images (top row) over their reconstructions. */
static int write_worst(const aec_model *m, const float *params, const aec_dataset *val, const char *path,
                       const aec_report_scores *r)
{
    size_t chw = (size_t)m->in_c * m->in_h * m->in_w;
    int n = r->n_worst;
    float *grid = aec_alloc_floats(2 * (size_t)n * chw, "worst images");
    if (!grid)
        return -1;
    for (int k = 0; k < n; k++)
        memcpy(grid + (size_t)k * chw, val->x + (size_t)r->worst[k] * chw, chw * sizeof *grid);
    int rc = aec_run(m, params, AEC_RUN_RECONSTRUCT, grid, n, grid + (size_t)n * chw) != 0
          || aec_png_write_grid(path, grid, 2 * n, n, m->in_c, m->in_h, m->in_w, m->in_lo, m->in_hi) != 0;
    free(grid);
    return rc ? -1 : 0;
}

static void said(const char *dir, const char *name, double since)
{
    printf("report: wrote %s/%s (%.1f s)\n", aec_esc(dir), name, aec_seconds() - since);
    fflush(stdout);
}

int aec_report_write_scores(const aec_model *m, const float *params, const aec_dataset *val,
                            const aec_report_opts *o, aec_report_scores *r)
{
    char path[4096];
    double t = aec_seconds();
    memset(r, 0, sizeof *r);
    aec_score *s = malloc((size_t)(val->n > 0 ? val->n : 1) * sizeof *s);
    int B = o->cfg.batch > 0 ? o->cfg.batch : m->defaults.batch;
    if (!s) {
        aec_error("report: out of memory for %d scores", val->n);
        return -1;
    }
    path_in(path, sizeof path, o->out_dir, "scores.csv");
    const char *const *names = (const char *const *)o->names;
    int rc = aec_score_all(m, params, val, B, s) != 0
          || aec_scores_csv_write(path, m, s, val->labels, names, val->n) != 0;
    if (!rc)
        said(o->out_dir, "scores.csv", t);
    find_worst(s, val->n, r);
    path_in(path, sizeof path, o->out_dir, "worst.png");
    t = aec_seconds();
    if (!rc && !(rc = write_worst(m, params, val, path, r) != 0))
        said(o->out_dir, "worst.png", t);
    path_in(path, sizeof path, o->out_dir, "loss_hist.png");
    t = aec_seconds();
    if (!rc && !(rc = aec_plot_loss_hist(path, m->name, s, val->labels, val->n,
                                         val->labels ? o->n_classes : 0, o->class_names) != 0))
        said(o->out_dir, "loss_hist.png", t);
    path_in(path, sizeof path, o->out_dir, "roc.png");
    if (!rc && o->normal && val->labels) {
        t = aec_seconds();
        rc = aec_auroc_classes(s, val->labels, val->n, o->normal, &r->auroc) != 0;
        r->one_class = !rc && !isnan(r->auroc.overall);
        if (r->one_class && !(rc = aec_plot_roc(path, m->name, s, val->labels, val->n, o->normal,
                                                r->auroc.overall) != 0))
            said(o->out_dir, "roc.png", t);
    }
    free(s);
    return rc ? -1 : 0;
}

void aec_report_scores_html(FILE *f, const aec_report_scores *r, const aec_report_opts *o)
{
    fputs("<h2>Anomaly scores</h2>\n<p>Each validation image's loss is its anomaly score: "
          "<a href=\"scores.csv\">scores.csv</a> has them all. The worst reconstructed, highest loss first:</p>\n"
          "<table><tr><th>image</th>", f);
    for (int k = 0; k < r->n_worst; k++)
        fprintf(f, "<td>%d</td>", r->worst[k]);
    fputs("</tr>\n<tr><th>loss</th>", f);
    for (int k = 0; k < r->n_worst; k++)
        fprintf(f, "<td>%.4g</td>", r->worst_loss[k]);
    fputs("</tr></table>\n", f);
    if (!r->one_class)
        return;
    fprintf(f, "<p>Trained on some classes only: the others are the anomalies. AUROC of the loss, all "
               "%d anomalies against the %d normal images: <b>%.4f</b>.</p>\n<table><tr><th>class</th>",
            r->auroc.n_anomalies, r->auroc.n_normal, r->auroc.overall);
    for (int c = 0; c < 256; c++)
        if (!isnan(r->auroc.per_class[c]))
            fprintf(f, "<td>%s</td>", o->class_names && c < o->n_classes ? o->class_names[c] : "");
    fputs("</tr>\n<tr><th>label</th>", f);
    for (int c = 0; c < 256; c++)
        if (!isnan(r->auroc.per_class[c]))
            fprintf(f, "<td>%d</td>", c);
    fputs("</tr>\n<tr><th>AUROC</th>", f);
    for (int c = 0; c < 256; c++)
        if (!isnan(r->auroc.per_class[c]))
            fprintf(f, "<td>%.4f</td>", r->auroc.per_class[c]);
    fputs("</tr></table>\n", f);
}
