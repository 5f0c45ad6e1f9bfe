/* exec/batch.h: one batch through the model's entry points (batch.c). */
#ifndef AEC_EXEC_BATCH_H
#define AEC_EXEC_BATCH_H

#include "aec.h"

/* put_input + encode + decode + loss_fn on B NCHW images: the batch's mean loss. */
float aec_forward(const aec_model *m, const float *params, float *arena,
                  const float *x, int B);

/* One batch of aec_run's kind k (aec.h) in arena: images -> reconstructions,
 * images -> latents, or latents -> images, with z = mu for a VAE; prep is
 * params' prepared weights or NULL. aec_run_sizes: floats an image or a
 * latent takes, of its input and its output. */
void aec_run_batch(const aec_model *m, const float *params, const float *prep, float *arena, aec_run_kind k,
                   const float *in, int B, float *out);
void aec_run_sizes(const aec_model *m, aec_run_kind k, size_t *in_size, size_t *out_size);

#endif
