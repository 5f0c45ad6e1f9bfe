/* batch.c: one batch through the model's entry points, in one arena: the
 * loss (training's forward pass), or inference of one kind (aec_run_kind). */
#include "aec.h"
#include "exec/batch.h"

float aec_forward(const aec_model *m, const float *params, float *arena,
                  const float *x, int B)
{
    aec_put_input(m, arena, x, B);
    m->encode(params, NULL, arena, B, 1);
    m->decode(params, NULL, arena, B);
    return m->loss_fn(arena, B);
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
