/* init.c: PyTorch's default initialisation of nn.Linear, nn.Conv2d and
 * nn.ConvTranspose2d, from aec's own generator.
 *
 * PyTorch initialises a weight with kaiming_uniform_(a=sqrt(5)): gain
 * sqrt(2 / (1 + a^2)) = sqrt(1/3), bound sqrt(3) * gain / sqrt(fan_in), which
 * is 1 / sqrt(fan_in); and a bias with uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))
 * where fan_in is its weight's. The compiler puts that fan_in in the table, for
 * biases too, so one bound serves both. The values are not PyTorch's (a
 * different generator), only their distribution is.
 */
#include "aec.h"

#include <math.h>

static void init_tensor(const aec_param *p, float *w, aec_rng *r)
{
    float bound = p->fan_in > 0 ? (float)(1.0 / sqrt((double)p->fan_in)) : 0.0f;
    for (size_t i = 0; i < p->numel; i++) {
        /* 2u - 1 is exact in float for u = k / 2^24, so |w| <= bound exactly */
        float t = 2.0f * aec_rng_uniform(r) - 1.0f;
        w[i] = bound * t;
    }
}

/* One generator for the whole table, in table order: adding a layer at the
 * end leaves the earlier layers' initial values unchanged. */
void aec_init_params(const aec_model *m, float *params, uint64_t seed)
{
    aec_rng r;
    aec_rng_seed(&r, seed);
    for (int i = 0; i < m->n_tensors; i++)
        init_tensor(&m->params[i], params + m->params[i].offset, &r);
}
