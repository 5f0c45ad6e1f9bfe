/* report.c: what the seed experiments ended with, for every run. From the
 * trained parameters and the validation set it writes, into one folder:
 *   loss.png         train and validation loss per epoch (from loss.csv)
 *   recon.png        validation images over their reconstructions
 *   scores.csv       each validation image's loss; worst.png, the 16 worst over their
 *                    reconstructions; loss_hist.png; roc.png, a one-class run's (scores.c)
 *   latent_pca.png   the latents (mu of a VAE) on their first two principal axes
 *   latent_tsne.png  the same latents through Barnes-Hut t-SNE
 *   latent_pca.csv, latent_tsne.csv  the maps' points: index, label, x, y
 *   interpolate.png  pairs of images and the decoded steps between them
 *   samples.png      (a VAE) images decoded from its prior N(0, I)
 *   report.html      one page with all of it, the model and the settings
 * Each step says what it does, and how long it took, on stdout. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include "aec.h"
#include "core/clock.h"
#include "core/floats.h"
#include "core/stop.h"
#include "exec/synth.h"
#include "report/embed.h"
#include "report/plot.h"
#include "report/report.h"
#include "io/files.h"
#include "report/scores.h"

enum { RECON_N = 10, PAIRS = 4, STEPS = 8, SAMPLES = 32, MAX_EPOCHS = 100000 };

static void join(char *out, size_t size, const char *dir, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

static void say(const char *what, const char *dir, const char *name, double since)
{
    printf("report: %s %s/%s (%.1f s)\n", what, aec_esc(dir), name, aec_seconds() - since);
    fflush(stdout);
}

/* ---- the loss curves ----------------------------------------------------------- */

typedef struct {
    int n;
    double *train, *val, *secs;
} loss_rows;

static void loss_rows_free(loss_rows *r)
{
    free(r->train);
    free(r->val);
    free(r->secs);
}

/* loss.csv as train writes it: a header, then epoch,train,val,seconds. */
static int read_loss_csv(const char *path, loss_rows *r)
{
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    int cap = 0;
    while (fgets(line, sizeof line, f) && r->n < MAX_EPOCHS) {
        int epoch;
        double tr, va, s;
        if (sscanf(line, "%d,%lf,%lf,%lf", &epoch, &tr, &va, &s) != 4)
            continue;               /* the header */
        if (r->n == cap) {
            cap = cap ? 2 * cap : 64;
            r->train = realloc(r->train, (size_t)cap * sizeof *r->train);
            r->val = realloc(r->val, (size_t)cap * sizeof *r->val);
            r->secs = realloc(r->secs, (size_t)cap * sizeof *r->secs);
            if (!r->train || !r->val || !r->secs)
                break;
        }
        r->train[r->n] = tr, r->val[r->n] = va, r->secs[r->n] = s;
        r->n++;
    }
    fclose(f);
    return r->n > 0 && r->train && r->val && r->secs ? 0 : -1;
}

static const char *loss_name(const aec_model *m)
{
    if (m->variational)
        return "loss per image (reconstruction + KL)";
    return m->loss == AEC_LOSS_MSE ? "loss (mean squared error)" : "loss (binary cross-entropy)";
}

static int plot_loss(const aec_model *m, const char *dir, const loss_rows *r)
{
    char path[4096], title[128];
    join(path, sizeof path, dir, "loss.png");
    snprintf(title, sizeof title, "%s: training and validation loss", m->name);
    aec_plot_series s[2] = {
        {"training", r->n, NULL, r->train, 0},
        {"validation", r->n, NULL, r->val, 1},
    };
    return aec_plot_lines(path, title, "epoch", loss_name(m), 2, s, AEC_PLOT_LOG_Y);
}

/* ---- images: reconstructions, interpolations, samples ---------------------------- */

static size_t image_floats(const aec_model *m) { return (size_t)m->in_c * m->in_h * m->in_w; }

static int write_grid(const aec_model *m, const char *dir, const char *name, const float *x, int n, int cols)
{
    char path[4096];
    join(path, sizeof path, dir, name);
    return aec_png_write_grid(path, x, n, cols, m->in_c, m->in_h, m->in_w, m->in_lo, m->in_hi);
}

/* The first n validation images above their reconstructions. */
static int write_recon(const aec_model *m, const float *params, const aec_dataset *val, const char *dir)
{
    int n = val->n < RECON_N ? val->n : RECON_N;
    size_t chw = image_floats(m);
    float *grid = aec_alloc_floats(2 * (size_t)n * chw, "reconstructions");
    int rc = -1;
    if (grid) {
        memcpy(grid, val->x, (size_t)n * chw * sizeof *grid);
        rc = aec_run(m, params, AEC_RUN_RECONSTRUCT, val->x, n, grid + (size_t)n * chw) != 0
          || write_grid(m, dir, "recon.png", grid, 2 * n, n) != 0 ? -1 : 0;
    }
    free(grid);
    return rc;
}

/* Row p: image 2p, the decoded steps from its latent to that of image 2p+1,
 * then image 2p+1. z holds every validation latent. */
static int write_interpolation(const aec_model *m, const float *params, const aec_dataset *val,
                               const float *z, const char *dir)
{
    int pairs = val->n / 2 < PAIRS ? val->n / 2 : PAIRS, cols = STEPS + 2, Z = m->latent;
    size_t chw = image_floats(m);
    float *line = aec_alloc_floats((size_t)pairs * STEPS * Z, "latents");
    float *grid = aec_alloc_floats((size_t)pairs * cols * chw, "interpolations");
    float *steps = aec_alloc_floats((size_t)pairs * STEPS * chw, "images");
    int rc = -1;
    if (line && grid && steps && pairs > 0) {
        for (int p = 0; p < pairs; p++)
            aec_interpolate_latents(z + (size_t)(2 * p) * Z, z + (size_t)(2 * p + 1) * Z, Z, STEPS, 0,
                                    line + (size_t)p * STEPS * Z);
        rc = aec_run(m, params, AEC_RUN_DECODE, line, pairs * STEPS, steps);
        for (int p = 0; rc == 0 && p < pairs; p++) {
            float *row = grid + (size_t)p * cols * chw;
            memcpy(row, val->x + (size_t)(2 * p) * chw, chw * sizeof *row);
            memcpy(row + chw, steps + (size_t)p * STEPS * chw, STEPS * chw * sizeof *row);
            memcpy(row + (size_t)(cols - 1) * chw, val->x + (size_t)(2 * p + 1) * chw, chw * sizeof *row);
        }
        if (rc == 0)
            rc = write_grid(m, dir, "interpolate.png", grid, pairs * cols, cols);
    }
    free(line);
    free(grid);
    free(steps);
    return rc;
}

/* A VAE's images from z ~ N(0, I), from the run's seed. */
static int write_samples(const aec_model *m, const float *params, uint64_t seed, const char *dir)
{
    float *z = aec_alloc_floats((size_t)SAMPLES * m->latent, "latents");
    float *y = aec_alloc_floats((size_t)SAMPLES * image_floats(m), "samples");
    int rc = -1;
    if (z && y) {
        aec_prior_latents(m, seed, SAMPLES, z);
        rc = aec_run(m, params, AEC_RUN_DECODE, z, SAMPLES, y) != 0
          || write_grid(m, dir, "samples.png", y, SAMPLES, 8) != 0 ? -1 : 0;
    }
    free(z);
    free(y);
    return rc;
}

/* ---- latent maps ------------------------------------------------------------------ */

typedef struct {
    double explained[2];    /* PCA */
    double seconds;
    int n;                  /* points drawn */
} map_info;

/* Validation images a picture needs: PCA two points for its two
 * components, an interpolation one pair, and t-SNE a perplexity of 1 or
 * more, which map_latents sets to (n - 1) / 3 on a small set. */
enum { PCA_LEAST = 2, PAIR_LEAST = 2, TSNE_LEAST = 4 };

static int *int_labels(const aec_dataset *val, int n)
{
    if (!val->labels)
        return NULL;
    int *l = malloc((size_t)n * sizeof *l);
    for (int i = 0; l && i < n; i++)
        l[i] = (int)val->labels[i];
    return l;
}

static int draw_map(const aec_model *m, const aec_dataset *val, const aec_report_opts *o, const float *xy,
                    int n, int tsne, const map_info *info, const char *path, double perplexity)
{
    char title[160], sub[160];
    snprintf(title, sizeof title, "%s: validation latents, %s", m->name, tsne ? "t-SNE" : "PCA");
    if (tsne)
        snprintf(sub, sizeof sub, "%d points, perplexity %g, %d iterations, %.1f s", n, perplexity,
                 o->tsne.iterations, info->seconds);
    else
        snprintf(sub, sizeof sub, "%d points; PC1 %.1f%% + PC2 %.1f%% of the variance", n,
                 100 * info->explained[0], 100 * info->explained[1]);
    double *d = malloc(2 * (size_t)n * sizeof *d);
    int *labels = int_labels(val, n), rc = -1;
    if (d && (labels || !val->labels)) {
        for (size_t i = 0; i < 2 * (size_t)n; i++)
            d[i] = xy[i];
        rc = aec_plot_scatter(path, title, n, d, labels, o->n_classes, o->class_names, sub);
    }
    free(d);
    free(labels);
    return rc;
}

/* The map's points as CSV: index, label (empty without labels), x, y. */
static int write_map_csv(const char *path, const aec_dataset *val, const float *xy, int n)
{
    aec_out_file f;
    char line[96];
    if (aec_out_open(&f, path) != 0)
        return -1;
    aec_out_write(&f, "index,label,x,y\n", 16);
    for (int i = 0; i < n; i++) {
        int k = snprintf(line, sizeof line, "%d,", i);
        if (val->labels)
            k += snprintf(line + k, sizeof line - (size_t)k, "%lld", (long long)val->labels[i]);
        k += snprintf(line + k, sizeof line - (size_t)k, ",%.9g,%.9g\n", xy[2 * i], xy[2 * i + 1]);
        aec_out_write(&f, line, (size_t)k);
    }
    return aec_out_commit(&f);
}

/* z: n latents of val, in order; csv: the points' file too, or NULL. */
static int map_latents(const aec_model *m, const aec_dataset *val, const aec_report_opts *o, const float *z,
                       int tsne, const char *path, const char *csv, map_info *info)
{
    int n = tsne && o->tsne_limit > 0 && o->tsne_limit < val->n ? o->tsne_limit : val->n;
    aec_tsne_opts t = o->tsne;
    int least = tsne ? TSNE_LEAST : PCA_LEAST;
    if (n < least) {    /* the perplexity below would fall under 1 */
        aec_error("%s: a %s map needs at least %d images, and there %s %d%s", path,
                  tsne ? "t-SNE" : "PCA", least, n == 1 ? "is" : "are", n,
                  tsne && n >= PCA_LEAST ? " (--method pca needs 2)" : "");
        return -1;
    }
    if (tsne && n <= 3 * t.perplexity)
        t.perplexity = (n - 1) / 3.0;   /* a small set: as many neighbours as it has */
    float *xy = aec_alloc_floats(2 * (size_t)n, "map");
    double t0 = aec_seconds();
    int rc = -1;
    memset(info, 0, sizeof *info);
    if (xy)
        rc = tsne ? aec_tsne(z, n, m->latent, &t, xy) : aec_pca(z, n, m->latent, 2, xy, info->explained);
    info->seconds = aec_seconds() - t0;
    info->n = n;
    if (rc == 0)
        rc = draw_map(m, val, o, xy, n, tsne, info, path, t.perplexity);
    if (rc == 0 && csv)
        rc = write_map_csv(csv, val, xy, n);
    free(xy);
    return rc;
}

static float *encode_all(const aec_model *m, const float *params, const aec_dataset *val)
{
    float *z = aec_alloc_floats((size_t)val->n * m->latent, "latents");
    if (z && aec_run(m, params, AEC_RUN_ENCODE, val->x, val->n, z) != 0) {
        free(z);
        return NULL;
    }
    return z;
}

int aec_latent_map(const aec_model *m, const float *params, const aec_dataset *val,
                   const aec_report_opts *o, int tsne, const char *path)
{
    map_info info;
    float *z = encode_all(m, params, val);
    int rc = z ? map_latents(m, val, o, z, tsne, path, o->coords, &info) : -1;
    free(z);
    return rc;
}

/* ---- the page ----------------------------------------------------------------------- */

static void html_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Plots show at their size; grids of small images are scaled up, with
 * square pixels rather than a blur. */
static void html_figure(FILE *f, const char *dir, const char *file, const char *caption)
{
    static const char *const plots[] = { "loss.png", "loss_hist.png", "roc.png" };
    int grid = strncmp(file, "latent", 6) != 0;
    for (int i = 0; i < 3; i++)
        grid &= strcmp(file, plots[i]) != 0;
    char path[4096];
    join(path, sizeof path, dir, file);
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return;             /* a picture that could not be made is left out */
    fclose(probe);
    fprintf(f, "<figure><img src=\"%s\" alt=\"%s\"%s><figcaption>", file, file, grid ? " class=\"grid\"" : "");
    html_text(f, caption);
    fputs("</figcaption></figure>\n", f);
}

/* A link to a data file beside the pictures, when it is there. */
static void html_link(FILE *f, const char *dir, const char *file, const char *what)
{
    char path[4096];
    join(path, sizeof path, dir, file);
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return;
    fclose(probe);
    fprintf(f, "<p>The numbers: <a href=\"%s\">%s</a> (%s: index, label, x, y).</p>\n", file, file, what);
}

static void html_results(FILE *f, const aec_model *m, const loss_rows *r, const aec_report_opts *o)
{
    if (r->n == 0)
        return;
    int best = 0;
    double total = 0;
    for (int i = 0; i < r->n; i++) {
        total += r->secs[i];
        if (r->val[i] < r->val[best])
            best = i;
    }
    fputs("<h2>Results</h2>\n<table>\n", f);
    fprintf(f, "<tr><th>epochs</th><td>%d</td></tr>\n", r->n);
    fprintf(f, "<tr><th>final training loss</th><td>%.6g</td></tr>\n", r->train[r->n - 1]);
    fprintf(f, "<tr><th>final validation loss</th><td>%.6g</td></tr>\n", r->val[r->n - 1]);
    fprintf(f, "<tr><th>best validation loss</th><td>%.6g (epoch %d)</td></tr>\n", r->val[best], best + 1);
    fprintf(f, "<tr><th>training time</th><td>%.1f s, %.1f s per epoch", total, total / r->n);
    if (o->train)
        fprintf(f, ", %.0f images/s", o->train->n * (double)r->n / total);
    fprintf(f, "</td></tr>\n<tr><th>loss</th><td>%s</td></tr>\n</table>\n", loss_name(m));
}

/* " (N bad files left out)" after a split's count, when it had any. */
static void html_skipped(FILE *f, int skipped)
{
    if (skipped > 0)
        fprintf(f, " (%d bad file%s left out)", skipped, skipped == 1 ? "" : "s");
}

static void html_settings(FILE *f, const aec_model *m, const aec_report_opts *o, const aec_dataset *val)
{
    const aec_optim_cfg *op = &o->cfg.optim;
    fputs("<h2>Settings</h2>\n<table>\n<tr><th>data</th><td>", f);
    html_text(f, o->data ? o->data : "(not given)");
    fprintf(f, "</td></tr>\n<tr><th>images</th><td>%d validation", val->n);
    html_skipped(f, val->skipped);
    if (o->train) {
        fprintf(f, ", %d training", o->train->n);
        html_skipped(f, o->train->skipped);
    }
    fprintf(f, "</td></tr>\n<tr><th>optimizer</th><td>%s, lr %g", op->kind == AEC_OPT_ADAM ? "Adam" : "SGD",
            op->lr);
    if (op->kind == AEC_OPT_ADAM)
        fprintf(f, ", betas (%g, %g), eps %g", op->beta1, op->beta2, op->eps);
    else
        fprintf(f, ", momentum %g", op->momentum);
    fprintf(f, ", weight decay %g</td></tr>\n", op->weight_decay);
    fprintf(f, "<tr><th>batch, epochs, seed</th><td>%d, %d, %llu</td></tr>\n</table>\n", o->cfg.batch,
            o->cfg.epochs, (unsigned long long)o->cfg.seed);
    fputs("<h2>Model</h2>\n<pre>", f);
    html_text(f, m->layer_table ? m->layer_table : "");
    fputs("</pre>\n<pre>", f);
    html_text(f, m->source ? m->source : "");
    fputs("</pre>\n", f);
}

static int write_html(const aec_model *m, const aec_report_opts *o, const loss_rows *r, const map_info *pca,
                      const map_info *tsne, const aec_dataset *val, const aec_report_scores *scores)
{
    char path[4096], tmp[4200], cap[256];
    join(path, sizeof path, o->out_dir, "report.html");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        aec_error("%s: cannot write: %s", tmp, strerror(errno));
        return -1;
    }
    fprintf(f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>aec: %s</title>\n", m->name);
    fputs("<style>body{font-family:sans-serif;max-width:1000px;margin:1em auto;padding:0 1em}"
          "img{max-width:100%;border:1px solid #ddd}img.grid{width:100%;image-rendering:pixelated}figure{margin:1em 0}figcaption{color:#555}"
          "pre{background:#f6f6f6;padding:8px;overflow-x:auto}table{border-collapse:collapse}"
          "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}</style></head><body>\n", f);
    fprintf(f, "<h1>%s</h1>\n<p>A run of the autoencoder <code>%s</code>, compiled by aec.</p>\n", m->name, m->name);
    html_results(f, m, r, o);
    fputs("<h2>Pictures</h2>\n", f);
    html_figure(f, o->out_dir, "loss.png", "Training and validation loss per epoch.");
    html_figure(f, o->out_dir, "recon.png", "Validation images (top) and their reconstructions (bottom).");
    snprintf(cap, sizeof cap, "PCA of %d validation latents: %.1f%% + %.1f%% of the variance.", pca->n,
             100 * pca->explained[0], 100 * pca->explained[1]);
    html_figure(f, o->out_dir, "latent_pca.png", cap);
    html_link(f, o->out_dir, "latent_pca.csv", "the map's points");
    snprintf(cap, sizeof cap, "t-SNE of %d validation latents (perplexity %g, %d iterations, %.1f s).",
             tsne->n, o->tsne.perplexity, o->tsne.iterations, tsne->seconds);
    html_figure(f, o->out_dir, "latent_tsne.png", cap);
    html_link(f, o->out_dir, "latent_tsne.csv", "the map's points");
    html_figure(f, o->out_dir, "interpolate.png",
                "Each row: a validation image, the images decoded on the straight line from its latent "
                "to the next image's, and that image.");
    if (m->variational)
        html_figure(f, o->out_dir, "samples.png", "Images decoded from z drawn from the prior N(0, I).");
    if (pca->n == 0)
        fprintf(f, "<p>Left out for want of validation images (%d): the PCA map and the interpolation (they "
                "need %d), and the t-SNE map (it needs %d).</p>\n", val->n, PCA_LEAST, TSNE_LEAST);
    else if (tsne->n == 0)
        fprintf(f, "<p>Left out for want of validation images (%d): the t-SNE map (it needs %d).</p>\n",
                val->n, TSNE_LEAST);
    aec_report_scores_html(f, scores, o);
    html_figure(f, o->out_dir, "worst.png", "The validation images with the highest loss (top), highest first, "
                "over their reconstructions.");
    html_figure(f, o->out_dir, "loss_hist.png", val->labels ? "Per-image loss, the fraction of each class's "
                "images in each bin." : "Per-image loss: the fraction of the images in each bin.");
    html_figure(f, o->out_dir, "roc.png", "ROC of the per-image loss: the classes not trained on as anomalies.");
    html_settings(f, m, o, val);
    fputs("</body></html>\n", f);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        aec_error("%s: cannot write: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

/* ---- all of it ------------------------------------------------------------------------ */

/* 1 if the picture at path needs more than the n validation images there
 * are: it is left out, saying so (an earlier run's copy went with
 * aec_report_clear, as the page links the pictures it finds). */
static int too_few(int n, int least, const char *path)
{
    if (n >= least)
        return 0;
    printf("report: left out %s: it needs %d validation images, and there %s %d\n", aec_esc(path), least,
           n == 1 ? "is" : "are", n);
    fflush(stdout);
    return 1;
}

static int write_maps(const aec_model *m, const float *params, const aec_dataset *val, const aec_report_opts *o,
                      map_info *pca, map_info *tsne)
{
    char path[4096];
    double t = aec_seconds();
    float *z = encode_all(m, params, val);
    if (!z)
        return -1;
    int rc = 0, n_tsne = o->tsne_limit > 0 && o->tsne_limit < val->n ? o->tsne_limit : val->n;
    char csv[4096];
    join(path, sizeof path, o->out_dir, "latent_pca.png");
    join(csv, sizeof csv, o->out_dir, "latent_pca.csv");
    if (!too_few(val->n, PCA_LEAST, path) && (rc = map_latents(m, val, o, z, 0, path, csv, pca)) == 0)
        say("wrote", o->out_dir, "latent_pca.png and latent_pca.csv", t);
    t = aec_seconds();
    join(path, sizeof path, o->out_dir, "latent_tsne.png");
    join(csv, sizeof csv, o->out_dir, "latent_tsne.csv");
    if (!too_few(n_tsne, TSNE_LEAST, path) && rc == 0 && (rc = map_latents(m, val, o, z, 1, path, csv, tsne)) == 0)
        say("wrote", o->out_dir, "latent_tsne.png and latent_tsne.csv", t);
    t = aec_seconds();
    join(path, sizeof path, o->out_dir, "interpolate.png");
    if (rc == 0 && !too_few(val->n, PAIR_LEAST, path)
        && (rc = write_interpolation(m, params, val, z, o->out_dir)) == 0)
        say("wrote", o->out_dir, "interpolate.png", t);
    free(z);
    return rc;
}

const char *const aec_report_files[] = {
    "report.html", "loss.png", "recon.png", "scores.csv", "worst.png", "loss_hist.png", "roc.png",
    "latent_pca.png", "latent_pca.csv", "latent_tsne.png", "latent_tsne.csv", "interpolate.png", "samples.png", NULL,
};

void aec_report_clear(const char *dir)
{
    char path[4096];
    for (int i = 0; aec_report_files[i]; i++) {
        join(path, sizeof path, dir, aec_report_files[i]);
        remove(path);
    }
}

/* After SIGINT or SIGTERM: which of the pictures this report wrote before it
 * stopped (the page, written last, is never among them). */
static int say_stopped(const char *dir)
{
    char path[4096], wrote[512] = "";
    size_t k = 0;
    for (int i = 1; aec_report_files[i]; i++) {
        join(path, sizeof path, dir, aec_report_files[i]);
        if (access(path, F_OK) == 0 && k < sizeof wrote)
            k += (size_t)snprintf(wrote + k, sizeof wrote - k, "%s%s", k ? ", " : "", aec_report_files[i]);
    }
    fflush(stdout);
    fprintf(stderr, "report: %s: %s holds %s of this report and no report.html\n", aec_stop_word(), aec_esc(dir),
            k ? wrote : "none of the pictures");
    return aec_stop_status();
}

/* The old report's files go first, so that whatever stops this one, OUT
 * never mixes two runs' pictures; report.html, which links them, comes last.
 * SIGINT and SIGTERM stop it between two pictures. */
static int report_steps(const aec_model *m, const float *params, const aec_dataset *val,
                        const aec_report_opts *o)
{
    char path[4096];
    loss_rows rows;
    map_info pca = {{0, 0}, 0, 0}, tsne = {{0, 0}, 0, 0};
    aec_report_clear(o->out_dir);
    double t = aec_seconds();
    join(path, sizeof path, o->out_dir, "loss.csv");
    int have_loss = read_loss_csv(path, &rows) == 0, rc = 0;
    if (have_loss && (rc = plot_loss(m, o->out_dir, &rows)) == 0)
        say("wrote", o->out_dir, "loss.png", t);
    t = aec_seconds();
    if (rc == 0 && !aec_stop_signal() && (rc = write_recon(m, params, val, o->out_dir)) == 0)
        say("wrote", o->out_dir, "recon.png", t);
    aec_report_scores scores = {0};
    if (rc == 0 && !aec_stop_signal())
        rc = aec_report_write_scores(m, params, val, o, &scores);
    if (rc == 0 && !aec_stop_signal())
        rc = write_maps(m, params, val, o, &pca, &tsne);
    t = aec_seconds();
    if (rc == 0 && !aec_stop_signal() && m->variational
        && (rc = write_samples(m, params, o->cfg.seed, o->out_dir)) == 0)
        say("wrote", o->out_dir, "samples.png", t);
    t = aec_seconds();
    if (aec_stop_signal())
        rc = say_stopped(o->out_dir);
    else if (rc == 0 && (rc = write_html(m, o, have_loss ? &rows : &(loss_rows){0}, &pca, &tsne, val, &scores)) == 0)
        say("wrote", o->out_dir, "report.html", t);
    if (have_loss)
        loss_rows_free(&rows);
    return rc;
}

int aec_report(const aec_model *m, const float *params, const aec_dataset *val, const aec_report_opts *o)
{
    aec_stop_begin();
    int rc = report_steps(m, params, val, o);
    aec_stop_end();
    return rc;
}

static int contains_word(const char *s, const char *word)
{
    for (; *s; s++) {
        size_t i = 0;
        while (word[i] && tolower((unsigned char)s[i]) == word[i])
            i++;
        if (!word[i])
            return 1;
    }
    return 0;
}

const char *const *aec_report_named_classes(const char *data, int *n_names)
{
    int fashion = data && contains_word(data, "fashion");
    *n_names = fashion ? 10 : 0;
    return fashion ? aec_plot_fashion_mnist_classes : NULL;
}

const char *const *aec_report_class_names(const char *data, const aec_dataset *d, int *n_classes)
{
    int max = -1, n_names;
    for (int i = 0; d->labels && i < d->n; i++)
        if (d->labels[i] > max)
            max = (int)d->labels[i];
    *n_classes = max + 1;
    const char *const *names = aec_report_named_classes(data, &n_names);
    return max >= 0 && max < n_names ? names : NULL;
}
