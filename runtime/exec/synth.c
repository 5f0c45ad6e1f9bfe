/* synth.c: inputs the runtime makes up: random images (bench, gradcheck),
 * latents from a VAE's prior, and latents between two others. */
#include "aec.h"
#include "exec/synth.h"

#include <math.h>
#include <stddef.h>

void aec_random_images(const aec_model *m, aec_rng *r, int n, float *x)
{
    size_t count = (size_t)n * m->in_c * m->in_h * m->in_w;
    for (size_t i = 0; i < count; i++)
        x[i] = m->in_lo + (m->in_hi - m->in_lo) * (0.05f + 0.9f * aec_rng_uniform(r));
}

void aec_prior_latents(const aec_model *m, uint64_t seed, int n, float *z)
{
    aec_rng r;
    aec_rng_seed(&r, seed);
    for (size_t i = 0; i < (size_t)n * m->latent; i++)
        z[i] = aec_rng_normal(&r);
}

/* Nearly parallel ends fall back to the line. */
void aec_interpolate_latents(const float *a, const float *b, int Z, int steps, int slerp, float *z)
{
    double dot = 0, na = 0, nb = 0;
    for (int i = 0; i < Z; i++) {
        dot += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    double cosw = na > 0 && nb > 0 ? dot / sqrt(na * nb) : 1.0;
    double omega = acos(cosw < -1 ? -1 : cosw > 1 ? 1 : cosw);
    int spherical = slerp && sin(omega) > 1e-6;
    for (int k = 0; k < steps; k++) {
        double t = steps > 1 ? (double)k / (steps - 1) : 0.0;
        double wa = spherical ? sin((1 - t) * omega) / sin(omega) : 1 - t;
        double wb = spherical ? sin(t * omega) / sin(omega) : t;
        for (int i = 0; i < Z; i++)
            z[(size_t)k * Z + i] = (float)(wa * a[i] + wb * b[i]);
    }
}
