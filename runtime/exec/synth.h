/* exec/synth.h: inputs the runtime makes up (synth.c). */
#ifndef AEC_EXEC_SYNTH_H
#define AEC_EXEC_SYNTH_H

#include "aec.h"

/* n images of random pixels in the model's input range, kept 5% away from
 * its ends (where bce's logs and sigmoid's slopes misbehave). */
void aec_random_images(const aec_model *m, aec_rng *r, int n, float *x);
/* n latents drawn from a VAE's prior N(0, I) by seed. */
void aec_prior_latents(const aec_model *m, uint64_t seed, int n, float *z);
/* steps latents from a to b, ends included: on the line, or (slerp) on the
 * great circle, which keeps a gaussian latent's norm typical. */
void aec_interpolate_latents(const float *a, const float *b, int Z, int steps, int slerp, float *z);

#endif
