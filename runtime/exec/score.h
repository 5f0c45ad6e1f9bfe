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

/* Where aec_score_run's images come from and its scores go, batch by batch.
 * next: up to max images (NCHW, the model's range) at *x, the source's
 * memory until its next call; how many (0: no more), or -1 after a message.
 * take: the scores of images first .. first+B-1; non-zero stops the run
 * (it has reported why). n: how many images to expect (the progress line's
 * total and the largest batch needed; 0 if unknown). */
typedef struct {
    int (*next)(void *ctx, int max, const float **x);
    int (*take)(void *ctx, int first, int B, const aec_score *s);
    void *ctx;
    int n;
} aec_score_io;

/* Every image io gives, in batches of B, through one arena: memory that does
 * not grow with the data set. A VAE's eps comes from the fixed stream
 * aec_evaluate draws, batch by batch: with the same B the mean of loss over
 * the set is eval's number. progress: a line on stderr. 0, or -1 (reported;
 * also when there was no image). */
int aec_score_run(const aec_model *m, const float *params, int B, int progress, const aec_score_io *io);

/* Every image of d, quietly, into s[0 .. d->n). */
int aec_score_all(const aec_model *m, const float *params, const aec_dataset *d, int B, aec_score *s);

#endif
