/* report.h: the pictures and the page that end a training run (report.c).
 * Internal to the runtime; the command line reaches it through `train`,
 * `report` and `latent-map`. */
#ifndef AEC_REPORT_REPORT_H
#define AEC_REPORT_REPORT_H

#include "aec.h"
#include "report/embed.h"

typedef struct {
    const char *out_dir;            /* the pictures and report.html; loss.csv is read here */
    const char *data;               /* the data folder, named on the page */
    const char *const *class_names; /* names of the labels 0..n_classes-1, or NULL */
    int n_classes;
    const aec_dataset *train;       /* the images trained on, or NULL (not known) */
    aec_train_cfg cfg;              /* the run's settings */
    aec_tsne_opts tsne;
    int tsne_limit;                 /* the t-SNE map shows at most this many (0: all) */
    const char *coords;             /* latent-map: the points' CSV file too, or NULL */
    const unsigned char *normal;    /* the classes trained on (256 flags; --classes), or NULL: with
                                       labels, the AUROC of the others and roc.png */
    char *const *names;             /* the validation images' file names (a folder), or NULL:
                                       scores.csv names them */
} aec_report_opts;

/* Write loss.png (when out_dir has a loss.csv), recon.png, latent_pca.png,
 * latent_tsne.png, interpolate.png, samples.png (a VAE) and report.html for
 * the trained params, from the validation set val, after removing an
 * earlier report's. 0, -1 (reported), or 128 + the signal when SIGINT or
 * SIGTERM stopped it (what it wrote is said; never a report.html). */
int aec_report(const aec_model *m, const float *params, const aec_dataset *val,
               const aec_report_opts *o);

/* The files aec_report writes, report.html first; NULL-terminated. */
extern const char *const aec_report_files[];
/* Remove them from dir. */
void aec_report_clear(const char *dir);

/* One latent map of val's latents: PCA (tsne 0) or t-SNE, as a PNG. */
int aec_latent_map(const aec_model *m, const float *params, const aec_dataset *val,
                   const aec_report_opts *o, int tsne, const char *path);

/* The names of a data folder's classes, from its name: Fashion-MNIST's ten
 * for a folder whose name says fashion (*n_names 10); NULL (0) otherwise. */
const char *const *aec_report_named_classes(const char *data, int *n_names);
/* Class names for a data folder's labels: Fashion-MNIST's for a folder whose
 * name says fashion and whose labels run 0..9; NULL otherwise. */
const char *const *aec_report_class_names(const char *data, const aec_dataset *d, int *n_classes);

#endif
