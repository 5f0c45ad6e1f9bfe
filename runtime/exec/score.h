/* exec/score.h: each image's loss, batch after batch (score.c). */
#ifndef AEC_EXEC_SCORE_H
#define AEC_EXEC_SCORE_H

#include "aec.h"

/* One image's loss under the model's own loss and reduction: recon is the
 * reconstruction term (the mean over the image's values, or with
 * reduction=sum their sum), kl a VAE's KL(q(z|x) || N(0, I)) (0 otherwise),
 * and loss = recon + kl_beta * kl. The mean of loss over a batch is what
 * m->loss_fn gives for it. */
typedef struct {
    double loss, recon, kl;
} aec_score;

/* After aec_forward on B images in arena: each image's terms into s[0..B). */
void aec_score_terms(const aec_model *m, const float *arena, int B, aec_score *s);

/* Called with each batch's scores: images first .. first+B-1 of the set.
 * Non-zero stops the run (the sink has reported why). */
typedef int (*aec_score_sink)(void *ctx, int first, int B, const aec_score *s);

/* Every image of d in batches of B, through one arena (memory that does not
 * grow with d), each batch's scores to sink. A VAE's eps comes from the
 * fixed stream aec_evaluate draws, batch by batch: with the same B the mean
 * of loss over the set is eval's number. progress: a line on stderr. 0, or
 * -1 (reported, or the sink's non-zero). */
int aec_score_set(const aec_model *m, const float *params, const aec_dataset *d, int B, int progress,
                  aec_score_sink sink, void *ctx);

/* aec_score_set into s[0 .. d->n), quietly. */
int aec_score_all(const aec_model *m, const float *params, const aec_dataset *d, int B, aec_score *s);

#endif
