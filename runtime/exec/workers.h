/* exec/workers.h: a step split over the batch, one slice per core (workers.c). */
#ifndef AEC_EXEC_WORKERS_H
#define AEC_EXEC_WORKERS_H

#include "aec.h"

typedef struct aec_workers aec_workers;
/* n workers (the caller is the first; n <= 0: the model's schedule, one per
 * core by default) for batches of up to max_B images; grads: they will run
 * aec_workers_grad, each but the first into gradients of its own (else
 * those are not allocated: loss and run need none). NULL after aec_error.
 * While open, OpenBLAS runs one thread (n > 1). */
aec_workers *aec_workers_open(const aec_model *m, int n, int max_B, int grads);
void aec_workers_close(aec_workers *w);
int  aec_workers_count(const aec_workers *w);
/* x: B NCHW images; eps: [B, Z] for a variational model, or NULL for zeros.
 * grad: grads = d mean loss / d params (overwritten), returns the mean loss.
 * loss: the forward pass only. run: aec_run_batch's kind k on B inputs into
 * out, each worker its slice, with params' prepared weights (aec_prepare)
 * or NULL. */
float aec_workers_grad(aec_workers *w, const float *params, float *grads, const float *x,
                       const float *eps, int B);
/* grad's part in a data-parallel step (train.c): these B images are a
 * share of a batch of total; grads = that share's part of the batch's mean
 * gradient, and the result its part of the mean loss, so that summed over
 * the shares (ranks) they are the whole batch's. With B == total, grad. */
/* Slice i of B images dealt into parts, as grad splits a batch (the first
 * B % parts slices one image more): its size, its first image in *first. */
int   aec_workers_slice(int B, int parts, int i, int *first);
float aec_workers_grad_share(aec_workers *w, const float *params, float *grads, const float *x,
                             const float *eps, int B, int total);
/* After grad: whether the gradients it wrote are all finite (checked by the
 * workers as they summed them; with one worker, here). */
int   aec_workers_grads_finite(const aec_workers *w);
float aec_workers_loss(aec_workers *w, const float *params, const float *x, const float *eps, int B);
void  aec_workers_run(aec_workers *w, const float *params, const float *prep, aec_run_kind k, const float *in,
                      int B, float *out);
/* The optimizer's step on the workers, each updating a range of the
 * parameters: o->step++, then what aec_optim_step does, the same bits. It
 * ends a training step begun at step_start (aec_seconds), and with
 * --profile records the step's and the optimizer's times. */
void  aec_workers_update(aec_workers *w, aec_optim *o, float *params, const float *grads, double step_start);
/* After grad or loss: of the slices whose loss was not finite, the first
 * layer whose output held a NaN or Inf right after the forward pass (a
 * slice with such a loss skips its backward pass, and its gradient is NaN);
 * NULL if none. */
const aec_layer *aec_workers_bad_layer(const aec_workers *w);

#endif
