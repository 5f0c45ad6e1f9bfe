/* run.c: moving tensors between PyTorch's layouts and the arena's, and
 * running a model forward over a data set.
 *
 * Outside, images are NCHW: x[((b*C + c)*H + h)*W + w]. In the arena they are
 * CBHW: a[((c*B + b)*H + h)*W + w], so a whole batch is one GEMM operand.
 * HW = H*W throughout; p indexes the pixels of one channel of one image.
 */
#include "aec.h"
#include "runtime_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

float *aec_alloc_floats(size_t n, const char *what)
{
    void *p = NULL;
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX / sizeof(float)) {
        aec_error("%s: %zu floats is more than memory can address", what, n);
        return NULL;
    }
    if (posix_memalign(&p, 64, n * sizeof(float)) != 0) {
        aec_error("%s: out of memory (%zu MB)", what, n * sizeof(float) >> 20);
        return NULL;
    }
    memset(p, 0, n * sizeof(float));
    return p;
}

/* B images' arena, then the scratch for the convolutions' columns. */
float *aec_arena_alloc(const aec_model *m, int B)
{
    size_t per = m->arena_per_image + m->scratch_per_image;
    if (B <= 0 || per > (SIZE_MAX / sizeof(float) - m->scratch_fixed) / (size_t)B) {
        aec_error("arena: %d images of %zu floats is too large", B, per);
        return NULL;
    }
    size_t scratch = (size_t)B * m->scratch_per_image;
    if (scratch < m->scratch_fixed)
        scratch = m->scratch_fixed;
    return aec_alloc_floats((size_t)B * m->arena_per_image + scratch, "arena");
}

float *aec_prepare(const aec_model *m, const float *params)
{
    float *prep = aec_alloc_floats(m->prep_floats ? m->prep_floats : 1, "prepared weights");
    if (prep && m->prepare)     /* a descriptor written by hand may have none */
        m->prepare(params, prep);
    return prep;
}

/* NCHW -> CBHW. */
static void to_cbhw(float *dst, const float *src, int B, int C, size_t HW)
{
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            memcpy(dst + ((size_t)c * B + b) * HW, src + ((size_t)b * C + c) * HW,
                   HW * sizeof(float));
}

/* CBHW -> NCHW. */
static void from_cbhw(float *dst, const float *src, int B, int C, size_t HW)
{
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            memcpy(dst + ((size_t)b * C + c) * HW, src + ((size_t)c * B + b) * HW,
                   HW * sizeof(float));
}

void aec_put_input(const aec_model *m, float *arena, const float *x, int B)
{
    size_t HW = (size_t)m->in_h * m->in_w;
    to_cbhw(arena + (size_t)B * m->input_offset, x, B, m->in_c, HW);
}

void aec_get_output(const aec_model *m, const float *arena, float *y, int B)
{
    size_t HW = (size_t)m->out_h * m->out_w;
    from_cbhw(y, arena + (size_t)B * m->output_offset, B, m->out_c, HW);
}

/* An image latent [B, C, H, W] flattens, as nn.Flatten does, to rows of Z =
 * C*HW with feature c*HW + p: exactly NCHW. So the row form is the NCHW form. */
void aec_get_latent(const aec_model *m, const float *arena, float *z, int B)
{
    const float *a = arena + (size_t)B * m->latent_offset;
    if (m->latent_is_image)
        from_cbhw(z, a, B, m->lat_c, (size_t)m->lat_hw);
    else
        memcpy(z, a, (size_t)B * m->latent * sizeof(float));
}

void aec_put_latent(const aec_model *m, float *arena, const float *z, int B)
{
    float *a = arena + (size_t)B * m->decode_offset;
    if (m->latent_is_image)
        to_cbhw(a, z, B, m->lat_c, (size_t)m->lat_hw);
    else
        memcpy(a, z, (size_t)B * m->latent * sizeof(float));
}

void aec_put_eps(const aec_model *m, float *arena, const float *eps, int B)
{
    if (!m->variational)
        return;
    float *a = arena + (size_t)B * m->eps_offset;
    size_t n = (size_t)B * m->latent;
    if (eps)
        memcpy(a, eps, n * sizeof *a);
    else
        memset(a, 0, n * sizeof *a);
}

void aec_draw_eps(const aec_model *m, float *arena, int B, aec_rng *r)
{
    aec_draw_normals(m, arena + (size_t)B * m->eps_offset, B, r);
}

void aec_draw_normals(const aec_model *m, float *eps, int B, aec_rng *r)
{
    if (!m->variational)
        return;
    for (size_t i = 0; i < (size_t)B * m->latent; i++)
        eps[i] = aec_rng_normal(r);
}

/* By the bits (a NaN or an Inf has every exponent bit set), so the loop is
 * an integer OR that the compiler vectorises: it runs over every gradient
 * each training step. */
static uint32_t not_finite(const float *x)
{
    uint32_t u;
    memcpy(&u, x, sizeof u);
    return (u & 0x7f800000u) == 0x7f800000u;
}

int aec_all_finite(const float *x, size_t n)
{
    uint32_t bad = 0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16)        /* 16 at a time: vectorised even at -O2 */
        for (int k = 0; k < 16; k++)
            bad |= not_finite(x + i + k);
    for (; i < n; i++)
        bad |= not_finite(x + i);
    return !bad;
}

void aec_gather(const aec_dataset *d, const int *idx, int B, float *x)
{
    size_t chw = (size_t)d->C * d->H * d->W;
    for (int b = 0; b < B; b++)
        memcpy(x + b * chw, d->x + (size_t)idx[b] * chw, chw * sizeof(float));
}

float aec_forward(const aec_model *m, const float *params, float *arena,
                  const float *x, int B)
{
    aec_put_input(m, arena, x, B);
    m->encode(params, NULL, arena, B, 1);
    m->decode(params, NULL, arena, B);
    return m->loss_fn(arena, B);
}

/* The data set's images are already contiguous NCHW, so a batch is a slice
 * and needs no gathering. Batch means are weighted by batch size: the result
 * is the mean over every element of the set, as one huge batch would give.
 * A VAE's z is sampled, as in training (and as the seed experiment measured
 * its validation loss), from a fixed stream: the same weights give the same
 * number every time. */
double aec_evaluate_with(aec_workers *w, const aec_model *m, const float *params,
                         const aec_dataset *d, int B, float *eps)
{
    size_t chw = (size_t)d->C * d->H * d->W;
    double sum = 0.0;
    aec_rng r;
    aec_rng_seed(&r, aec_rng_seed_mix(0, UINT64_C(0xe7a1)));
    if (d->n <= 0)
        return NAN;
    for (int i = 0; i < d->n; i += B) {
        int nb = d->n - i < B ? d->n - i : B;
        aec_draw_normals(m, eps, nb, &r);
        float loss = aec_workers_loss(w, params, d->x + (size_t)i * chw, m->variational ? eps : NULL, nb);
        sum += (double)loss * nb;
    }
    return sum / d->n;
}

/* NAN, after aec_error, if memory runs out or d is empty. */
double aec_evaluate(const aec_model *m, const float *params, const aec_dataset *d, int B)
{
    if (d->n <= 0) {
        aec_error("evaluate: the data set is empty");
        return NAN;
    }
    if (B > d->n)
        B = d->n;                       /* no arena for images that are not there */
    aec_workers *w = aec_workers_open(m, 0, B, 0);
    float *eps = aec_alloc_floats((size_t)B * (m->variational ? m->latent : 1), "eps");
    double loss = w && eps ? aec_evaluate_with(w, m, params, d, B, eps) : NAN;
    aec_workers_close(w);
    free(eps);
    return loss;
}

void aec_run_sizes(const aec_model *m, aec_run_kind k, size_t *in_size, size_t *out_size)
{
    size_t image = (size_t)m->in_c * m->in_h * m->in_w;
    *in_size = k == AEC_RUN_DECODE ? (size_t)m->latent : image;
    *out_size = k == AEC_RUN_ENCODE ? (size_t)m->latent : image;
}

void aec_run_batch(const aec_model *m, const float *params, const float *prep, float *arena, aec_run_kind k,
                   const float *in, int B, float *out)
{
    if (k == AEC_RUN_DECODE)
        aec_put_latent(m, arena, in, B);
    else
        aec_put_input(m, arena, in, B);
    if (k != AEC_RUN_DECODE)
        m->encode(params, prep, arena, B, 0);   /* a VAE reconstructs and encodes with z = mu */
    if (k == AEC_RUN_ENCODE) {
        aec_get_latent(m, arena, out, B);
        return;
    }
    m->decode(params, prep, arena, B);
    aec_get_output(m, arena, out, B);
}

/* Each batch split over the cores (the model's workers), as training and
 * bench --only infer run it: a whole batch with threads inside each kernel
 * ran celeba_vae's inference 1.7-1.9x slower. */
int aec_run(const aec_model *m, const float *params, aec_run_kind k, const float *in, int n, float *out)
{
    int B = m->defaults.batch > 0 && m->defaults.batch < n ? m->defaults.batch : n;
    size_t in_size, out_size;
    aec_run_sizes(m, k, &in_size, &out_size);
    if (n <= 0)
        return 0;
    aec_workers *w = aec_workers_open(m, 0, B, 0);
    float *prep = w ? aec_prepare(m, params) : NULL;
    if (!prep) {
        aec_workers_close(w);
        return -1;
    }
    for (int i = 0; i < n; i += B) {
        int nb = n - i < B ? n - i : B;
        aec_workers_run(w, params, prep, k, in + (size_t)i * in_size, nb, out + (size_t)i * out_size);
    }
    aec_workers_close(w);
    free(prep);
    return 0;
}

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
