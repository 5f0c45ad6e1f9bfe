/* anomaly.c: a model's per-image losses as anomaly scores. The AUROC is
 * exact, from ranks with ties as halves (as sklearn's roc_auc_score), so
 * that a one-class experiment's number does not depend on a curve's
 * sampling; the pictures and scores.csv show the losses behind it. */
#include "aec.h"
#include "report/anomaly.h"
#include "report/plot.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

typedef struct {
    double score;
    unsigned char anomaly;
} ranked;

static int by_score_desc(const void *a, const void *b)
{
    double x = ((const ranked *)a)->score, y = ((const ranked *)b)->score;
    return (x < y) - (x > y);
}

/* The included images sorted by score, highest first; *n_out of them. */
static ranked *rank_scores(const double *score, const unsigned char *anomaly, const unsigned char *include,
                           int n, int *n_out, long *pos, long *neg)
{
    ranked *r = malloc((size_t)(n > 0 ? n : 1) * sizeof *r);
    int k = 0;
    *pos = *neg = 0;
    for (int i = 0; r && i < n; i++)
        if ((!include || include[i]) && !isnan(score[i])) {
            r[k].score = score[i];
            r[k].anomaly = anomaly[i] != 0;
            *pos += r[k].anomaly;
            *neg += !r[k].anomaly;
            k++;
        }
    if (r)
        qsort(r, (size_t)k, sizeof *r, by_score_desc);
    *n_out = k;
    return r;
}

double aec_auroc(const double *score, const unsigned char *anomaly, const unsigned char *include, int n)
{
    long pos, neg;
    int k;
    ranked *r = rank_scores(score, anomaly, include, n, &k, &pos, &neg);
    if (!r || pos == 0 || neg == 0) {
        free(r);
        return NAN;
    }
    /* From the lowest score up: each group of equal scores, p anomalies
     * and q normal ones, wins p * (normal images below) and ties p * q / 2. */
    double wins = 0.0;
    long below = 0;
    for (int j = k; j > 0;) {
        int i = j;
        long p = 0, q = 0;
        while (i > 0 && r[i - 1].score == r[j - 1].score) {
            i--;
            p += r[i].anomaly;
            q += !r[i].anomaly;
        }
        wins += (double)p * below + 0.5 * (double)p * q;
        below += q;
        j = i;
    }
    free(r);
    return wins / ((double)pos * neg);
}

int aec_roc_curve(const double *score, const unsigned char *anomaly, int n, double *fpr, double *tpr)
{
    long pos, neg, tp = 0, fp = 0;
    int k, pts = 0;
    ranked *r = rank_scores(score, anomaly, NULL, n, &k, &pos, &neg);
    if (!r || pos == 0 || neg == 0) {
        free(r);
        return 0;
    }
    fpr[pts] = tpr[pts] = 0.0;
    pts++;
    for (int i = 0; i < k;) {
        double t = r[i].score;
        for (; i < k && r[i].score == t; i++) {
            tp += r[i].anomaly;
            fp += !r[i].anomaly;
        }
        fpr[pts] = (double)fp / neg;
        tpr[pts] = (double)tp / pos;
        pts++;
    }
    free(r);
    return pts;
}

int aec_auroc_classes(const aec_score *s, const int64_t *labels, int n, const unsigned char normal[256],
                      aec_auroc_result *res)
{
    double *score = malloc((size_t)(n > 0 ? n : 1) * sizeof *score);
    unsigned char *anomaly = malloc((size_t)(n > 0 ? n : 1)), *include = malloc((size_t)(n > 0 ? n : 1));
    if (!score || !anomaly || !include) {
        free(score), free(anomaly), free(include);
        aec_error("AUROC: out of memory for %d scores", n);
        return -1;
    }
    int seen[256] = { 0 };
    memset(res, 0, sizeof *res);
    for (int i = 0; i < n; i++) {
        int c = labels[i] >= 0 && labels[i] < 256 ? (int)labels[i] : 0;
        score[i] = s[i].loss;
        anomaly[i] = !normal[c];
        seen[c] = 1;
        res->n_anomalies += anomaly[i];
    }
    res->n_normal = n - res->n_anomalies;
    res->overall = aec_auroc(score, anomaly, NULL, n);
    for (int c = 0; c < 256; c++) {
        res->per_class[c] = NAN;
        if (normal[c] || !seen[c])
            continue;
        for (int i = 0; i < n; i++)
            include[i] = !anomaly[i] || labels[i] == c;
        res->per_class[c] = aec_auroc(score, anomaly, include, n);
    }
    free(score), free(anomaly), free(include);
    return 0;
}

int aec_plot_roc(const char *path, const char *model, const aec_score *s, const int64_t *labels, int n,
                 const unsigned char normal[256], double auroc)
{
    double *score = malloc((size_t)n * sizeof *score), *fpr = malloc((size_t)(n + 1) * sizeof *fpr),
           *tpr = malloc((size_t)(n + 1) * sizeof *tpr);
    unsigned char *anomaly = malloc((size_t)n);
    int rc = -1;
    if (score && fpr && tpr && anomaly) {
        for (int i = 0; i < n; i++) {
            score[i] = s[i].loss;
            anomaly[i] = !normal[labels[i] >= 0 && labels[i] < 256 ? labels[i] : 0];
        }
        int pts = aec_roc_curve(score, anomaly, n, fpr, tpr);
        static const double diag[2] = { 0, 1 };
        char title[160];
        snprintf(title, sizeof title, "%s: ROC of the per-image loss, AUROC %.4f", model, auroc);
        aec_plot_series lines[2] = {
            { "the other classes as anomalies", pts, fpr, tpr, 0 },
            { "chance", 2, diag, diag, 7 },
        };
        rc = aec_plot_lines(path, title, "false positive rate", "true positive rate", 2, lines, 0);
    } else {
        aec_error("%s: out of memory", path);
    }
    free(score), free(fpr), free(tpr), free(anomaly);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum { HIST_BINS = 40 };

/* Bins from the lowest loss to the 99.5th percentile: *lo and *width. */
static int hist_range(const aec_score *s, int n, double *lo, double *width)
{
    double *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return -1;
    for (int i = 0; i < n; i++)
        v[i] = s[i].loss;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    *lo = v[0];
    double hi = v[(size_t)((n - 1) * 0.995)];
    *width = hi > *lo ? (hi - *lo) / HIST_BINS : 1.0;
    free(v);
    return 0;
}

int aec_plot_loss_hist(const char *path, const char *model, const aec_score *s, const int64_t *labels, int n,
                       int n_classes, const char *const *class_names)
{
    int lines = labels && n_classes > 0 ? n_classes : 1;
    double lo, width;
    double *x = malloc(HIST_BINS * sizeof *x), *y = calloc((size_t)lines * HIST_BINS, sizeof *y);
    int *count = calloc((size_t)lines, sizeof *count);
    aec_plot_series *series = calloc((size_t)lines, sizeof *series);
    char (*names)[48] = calloc((size_t)lines, sizeof *names);
    int rc = -1;
    if (!x || !y || !count || !series || !names || n < 1 || hist_range(s, n, &lo, &width) != 0) {
        aec_error("%s: %s", path, n < 1 ? "no losses to draw" : "out of memory");
        goto done;
    }
    for (int b = 0; b < HIST_BINS; b++)
        x[b] = lo + (b + 0.5) * width;
    for (int i = 0; i < n; i++) {
        int l = lines > 1 && labels[i] >= 0 && labels[i] < lines ? (int)labels[i] : 0;
        int b = (int)((s[i].loss - lo) / width);
        y[(size_t)l * HIST_BINS + (b < 0 ? 0 : b >= HIST_BINS ? HIST_BINS - 1 : b)]++;
        count[l]++;
    }
    int k = 0;
    for (int l = 0; l < lines; l++) {
        if (count[l] == 0)
            continue;
        for (int b = 0; b < HIST_BINS; b++)
            y[(size_t)l * HIST_BINS + b] /= count[l];
        if (lines == 1)
            snprintf(names[l], sizeof names[l], "all %d images", count[l]);
        else if (class_names)
            snprintf(names[l], sizeof names[l], "%s", class_names[l]);
        else
            snprintf(names[l], sizeof names[l], "class %d", l);
        series[k++] = (aec_plot_series){ names[l], HIST_BINS, x, y + (size_t)l * HIST_BINS, l };
    }
    char title[160];
    snprintf(title, sizeof title, "%s: per-image loss, %d bins%s", model, HIST_BINS,
             lines > 1 ? ", per class" : "");
    rc = aec_plot_lines(path, title, "loss", "fraction of the images", k, series, 0);
done:
    free(x), free(y), free(count), free(series), free(names);
    return rc;
}

void aec_scores_csv_header(aec_out_file *f, const aec_model *m, int labelled, int named)
{
    char line[64];
    int k = snprintf(line, sizeof line, "index%s%s,loss%s\n", labelled ? ",label" : "", named ? ",file" : "",
                     m->variational ? ",recon,kl" : "");
    aec_out_write(f, line, (size_t)k);
}

/* A CSV field as RFC 4180 wants it: quoted, its quotes doubled, when it
 * holds a comma, a quote or a line break (a file may be named so). */
static void csv_field(aec_out_file *f, const char *s)
{
    if (!s[strcspn(s, ",\"\r\n")]) {
        aec_out_write(f, s, strlen(s));
        return;
    }
    aec_out_write(f, "\"", 1);
    for (const char *q; (q = strchr(s, '"')); s = q + 1) {
        aec_out_write(f, s, (size_t)(q - s + 1));
        aec_out_write(f, "\"", 1);
    }
    aec_out_write(f, s, strlen(s));
    aec_out_write(f, "\"", 1);
}

void aec_scores_csv_rows(aec_out_file *f, const aec_model *m, int first, int B, const aec_score *s,
                         const int64_t *labels, const char *const *names)
{
    char line[160];
    for (int i = 0; i < B; i++) {
        int k = snprintf(line, sizeof line, "%d,", first + i);
        if (labels)
            k += snprintf(line + k, sizeof line - (size_t)k, "%" PRId64 ",", labels[i]);
        aec_out_write(f, line, (size_t)k);
        if (names) {
            csv_field(f, names[i]);
            aec_out_write(f, ",", 1);
        }
        k = snprintf(line, sizeof line, "%.9g", s[i].loss);
        if (m->variational)
            k += snprintf(line + k, sizeof line - (size_t)k, ",%.9g,%.9g", s[i].recon, s[i].kl);
        line[k++] = '\n';
        aec_out_write(f, line, (size_t)k);
    }
}

int aec_scores_csv_write(const char *path, const aec_model *m, const aec_score *s, const int64_t *labels,
                         const char *const *names, int n)
{
    aec_out_file f;
    if (aec_out_open(&f, path) != 0)
        return -1;
    aec_scores_csv_header(&f, m, labels != NULL, names != NULL);
    aec_scores_csv_rows(&f, m, 0, n, s, labels, names);
    return aec_out_commit(&f);
}
