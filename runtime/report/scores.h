/* report/scores.h: the report's anomaly section (scores.c): each validation
 * image's loss into scores.csv, the worst-reconstructed images, the loss
 * histogram and, for a one-class run, the AUROC and roc.png. */
#ifndef AEC_REPORT_SCORES_H
#define AEC_REPORT_SCORES_H

#include <stdio.h>

#include "aec.h"
#include "report/anomaly.h"
#include "report/report.h"

enum { AEC_WORST_N = 16 };

typedef struct {
    int n_worst;
    int worst[AEC_WORST_N];         /* validation indices, the highest loss first */
    double worst_loss[AEC_WORST_N];
    int one_class;                  /* the AUROC below was computed (o->normal and labels) */
    aec_auroc_result auroc;
} aec_report_scores;

/* scores.csv, worst.png (the AEC_WORST_N worst images over their
 * reconstructions), loss_hist.png and, for a one-class run, roc.png, into
 * o->out_dir. 0, or -1 (reported). */
int aec_report_write_scores(const aec_model *m, const float *params, const aec_dataset *val,
                            const aec_report_opts *o, aec_report_scores *r);

/* The page's section for them (the pictures by the page's figure function). */
void aec_report_scores_html(FILE *f, const aec_report_scores *r, const aec_report_opts *o);

#endif
