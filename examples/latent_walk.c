/* examples/latent_walk.c: a program of your own that uses a compiled model.
 *
 * The generated header (celeba_vae.h) exposes the model's encoder and decoder
 * as two functions, celeba_vae_encode() and celeba_vae_decode(), plus the
 * descriptor celeba_vae_model that says where in the arena their inputs and
 * outputs live, and celeba_vae_prepare(), which packs the weights once for
 * the kernels to read (the convolutions' packs, the linear layer's panels).
 * This program loads a trained checkpoint, walks a straight line between
 * two random points of the latent space, decodes each step
 * into a face, writes the strip as a PNG, then encodes the faces back and
 * prints how far each lands from the point it came from.
 *
 * Build (one command, after `make`):
 *   make build/latent_walk
 * Run:
 *   build/latent_walk runs/celeba_vae/model.safetensors walk.png [seed]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "celeba_vae.h"

enum { STEPS = 8 };

static float *checked_calloc(size_t n)
{
    float *p = calloc(n, sizeof *p);
    if (!p) {
        fprintf(stderr, "latent_walk: out of memory\n");
        exit(1);
    }
    return p;
}

/* STEPS points on the line from a to b, each a row of Z floats. */
static void line(const float *a, const float *b, int Z, float *z)
{
    for (int k = 0; k < STEPS; k++)
        for (int i = 0; i < Z; i++)
            z[k * Z + i] = a[i] + (b[i] - a[i]) * (float)k / (STEPS - 1);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CHECKPOINT.safetensors OUT.png [SEED]\n", argv[0]);
        return 2;
    }
    const aec_model *m = &celeba_vae_model;
    const int Z = m->latent, B = STEPS;
    float *params = checked_calloc(m->n_params);
    if (aec_load_params(argv[1], m, params) != 0)
        return 1;                       /* aec_load_params said why */

    /* The arena: B images' worth of every buffer the model uses, and the
     * kernels' scratch; the weights prepared once, as they will not change. */
    float *arena = aec_arena_alloc(m, B), *prep = aec_prepare(m, params);
    if (!arena || !prep)
        return 1;                       /* they said why */
    float *ends = checked_calloc(2 * (size_t)Z), *z = checked_calloc((size_t)B * Z);
    float *faces = checked_calloc((size_t)B * m->in_c * m->in_h * m->in_w);
    float *back = checked_calloc((size_t)B * Z);

    aec_rng rng;
    aec_rng_seed(&rng, argc > 3 ? strtoull(argv[3], NULL, 10) : 1);
    for (int i = 0; i < 2 * Z; i++)
        ends[i] = aec_rng_normal(&rng);
    line(ends, ends + Z, Z, z);

    /* decode: latents in, images out */
    aec_put_latent(m, arena, z, B);
    celeba_vae_decode(params, prep, arena, B);
    aec_get_output(m, arena, faces, B);
    if (aec_png_write_grid(argv[2], faces, B, B, m->in_c, m->in_h, m->in_w, m->in_lo, m->in_hi) != 0)
        return 1;

    /* encode: images in, latents (mu) out */
    aec_put_input(m, arena, faces, B);
    celeba_vae_encode(params, prep, arena, B, 0);   /* 0: not for a loss, so z = mu, no logvar */
    aec_get_latent(m, arena, back, B);

    printf("wrote %s: %d faces along a line in the %d-d latent space\n", argv[2], B, Z);
    for (int k = 0; k < B; k++) {
        double d = 0, n = 0;
        for (int i = 0; i < Z; i++) {
            d += (double)(back[k * Z + i] - z[k * Z + i]) * (back[k * Z + i] - z[k * Z + i]);
            n += (double)z[k * Z + i] * z[k * Z + i];
        }
        printf("step %d: |encode(decode(z)) - z| / |z| = %.3f\n", k, sqrt(d / n));
    }
    free(params), free(arena), free(prep), free(ends), free(z), free(faces), free(back);
    return 0;
}
