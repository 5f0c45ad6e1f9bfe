/* report/anomaly.h: per-image losses as anomaly scores: AUROC, the ROC
 * curve, loss histograms, and scores.csv (anomaly.c). */
#ifndef AEC_REPORT_ANOMALY_H
#define AEC_REPORT_ANOMALY_H

#include "aec.h"
#include "exec/score.h"
#include "io/files.h"

/* The area under the ROC curve of score for telling the anomalies
 * (anomaly[i] != 0) from the rest, over the images with include[i] != 0
 * (include NULL: all): the probability that an anomaly scores above a
 * normal image, a tie counting one half. Exact (ranks, not a sampled curve),
 * O(n log n). NAN when either side has no image, or on out of memory. */
double aec_auroc(const double *score, const unsigned char *anomaly, const unsigned char *include, int n);

/* The ROC curve's corners, one per distinct score from the highest down,
 * after (0, 0): false and true positive rates into fpr and tpr (room for
 * n + 1 each). Returns how many points, 0 when a side is empty. */
int aec_roc_curve(const double *score, const unsigned char *anomaly, int n, double *fpr, double *tpr);

/* One-class evaluation: normal[c] marks the classes trained on (labels
 * 0..255). overall is the AUROC of every other class against them, and
 * per_class[c] that of class c alone (NAN for a normal class or one with no
 * image); n_anomalies counts the images of the other classes. */
typedef struct {
    double overall;
    double per_class[256];
    int n_anomalies, n_normal;
} aec_auroc_result;
int aec_auroc_classes(const aec_score *s, const int64_t *labels, int n, const unsigned char normal[256],
                      aec_auroc_result *r);

/* roc.png: the overall ROC curve, with its AUROC in the title. */
int aec_plot_roc(const char *path, const char *model, const aec_score *s, const int64_t *labels, int n,
                 const unsigned char normal[256], double auroc);

/* A histogram of the losses as lines, one per class (labels NULL: one line),
 * each the fraction of its images per bin, over 40 bins from the lowest loss
 * to the 99.5th percentile (higher ones counted in the last bin). */
int aec_plot_loss_hist(const char *path, const char *model, const aec_score *s, const int64_t *labels, int n,
                       int n_classes, const char *const *class_names);

/* scores.csv: a header, then one row per image: index, label (labelled
 * data), file (named: a folder's images, relative to it, quoted as CSV
 * needs), loss, and for a VAE recon and kl. The rows of images first ..
 * first+B-1, with their B labels and names (each NULL when there are none). */
void aec_scores_csv_header(aec_out_file *f, const aec_model *m, int labelled, int named);
void aec_scores_csv_rows(aec_out_file *f, const aec_model *m, int first, int B, const aec_score *s,
                         const int64_t *labels, const char *const *names);
int  aec_scores_csv_write(const char *path, const aec_model *m, const aec_score *s, const int64_t *labels,
                          const char *const *names, int n);

#endif
