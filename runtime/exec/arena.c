/* arena.c: the arena, and moving tensors between PyTorch's layouts and its.
 *
 * Outside, images are NCHW: x[((b*C + c)*H + h)*W + w]. In the arena they are
 * CBHW: a[((c*B + b)*H + h)*W + w], so a whole batch is one GEMM operand.
 * HW = H*W throughout; p indexes the pixels of one channel of one image.
 */
#include "aec.h"
#include "core/floats.h"
#include "exec/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

void aec_gather(const aec_dataset *d, const int *idx, int B, float *x)
{
    size_t chw = (size_t)d->C * d->H * d->W;
    for (int b = 0; b < B; b++)
        memcpy(x + b * chw, d->x + (size_t)idx[b] * chw, chw * sizeof(float));
}
