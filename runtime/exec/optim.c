/* optim.c: torch.optim.Adam and torch.optim.SGD, step for step.
 *
 * The arithmetic follows PyTorch's single-tensor CPU path operation by
 * operation, in float, with each scalar converted to float where PyTorch
 * converts it. PyTorch's vectorised kernels (AVX2 and up) compute
 * `a.add_(b, alpha=s)` and `addcmul_` as one fused multiply-add, so fmaf()
 * stands wherever they fuse: with it, 5 steps on 100,000 random values agree
 * with torch 1.13 bit for bit (tests/test_train.c checks a few by value).
 */
#include "aec.h"
#include "core/floats.h"
#include "exec/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The descriptor keeps hyper-parameters as floats, but PyTorch computes with
 * the double nearest the decimal the user wrote: 0.999, not 0.99900001287.
 * The difference matters: at step 1, 1 - beta2 differs by 1.3e-5 relative
 * between the two. The shortest decimal that rounds to the float is what was
 * written, so read that back as a double. */
static double as_written(float f)
{
    char buf[32];
    aec_float_shortest(buf, sizeof buf, f);
    return strtod(buf, NULL);
}

int aec_optim_init(aec_optim *o, const aec_optim_cfg *cfg, size_t n)
{
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = n;
    int need_v = cfg->kind == AEC_OPT_ADAM;
    int need_m = need_v || cfg->momentum != 0.0f;
    size_t bytes = n ? n * sizeof(float) : 1;
    if (need_m && !(o->m = calloc(1, bytes)))
        goto oom;
    if (need_v && !(o->v = calloc(1, bytes)))
        goto oom;
    return 0;
oom:
    aec_error("optimizer state: out of memory (%zu floats)", n);
    aec_optim_free(o);
    return -1;
}

void aec_optim_free(aec_optim *o)
{
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

/* Scalars of one Adam step, each in the precision PyTorch uses it in. */
typedef struct {
    float beta1, one_minus_beta1, beta2, one_minus_beta2;
    float weight_decay, eps;
    float bc2_sqrt;         /* sqrt(1 - beta2^t), a float divisor */
    float neg_step_size;    /* -lr / (1 - beta1^t), addcdiv's value */
} adam_scalars;

static adam_scalars adam_prepare(const aec_optim_cfg *c, long step)
{
    double b1 = as_written(c->beta1), b2 = as_written(c->beta2);
    double bc1 = 1.0 - pow(b1, (double)step);
    double bc2 = 1.0 - pow(b2, (double)step);
    adam_scalars s = {
        .beta1 = (float)b1, .one_minus_beta1 = (float)(1.0 - b1),
        .beta2 = (float)b2, .one_minus_beta2 = (float)(1.0 - b2),
        .weight_decay = c->weight_decay, .eps = c->eps,
        .bc2_sqrt = (float)sqrt(bc2),
        .neg_step_size = (float)(-(as_written(c->lr) / bc1)),
    };
    return s;
}

/* The optimizer touches every parameter four times a step. Vectorised, with
 * the CPU's own FMA, it is several times faster than a loop of libm fmaf
 * calls; the clones round alike (fmaf is exact either way, sqrtf and / are
 * IEEE), so results do not depend on the CPU. Vectorising sqrtf needs
 * -fno-math-errno, which the optimize attribute does not carry: the
 * Makefile gives it to this file. */
#define AEC_CLONES __attribute__((target_clones("avx512f", "fma", "default"), optimize("O3")))

/* One parameter's update, as PyTorch's Adam: the same operations in the
 * same order, each correctly rounded (so vector lanes give the same bits). */
static inline float adam_one(const adam_scalars *s, float g, float p, float *m, float *v)
{
    *m = fmaf(s->one_minus_beta1, g, *m * s->beta1);        /* mul_(b1).add_(g, alpha) */
    *v = fmaf(s->one_minus_beta2 * g, g, *v * s->beta2);    /* mul_(b2).addcmul_(g, g, value) */
    float denom = sqrtf(*v) / s->bc2_sqrt + s->eps;         /* (sqrt(v) / bc2_sqrt).add_(eps) */
    return p + s->neg_step_size * *m / denom;               /* addcdiv_: not fused */
}

/* Two loops rather than a test in one, and the scalars in a local copy:
 * then both vectorise. With the test inside, the loop ran scalar, a tenth
 * of fmnist_cae's training step. */
AEC_CLONES
static void adam_range(const adam_scalars *sp, int decay, size_t n, float *restrict p,
                       const float *restrict grads, float *restrict m, float *restrict v)
{
    const adam_scalars s = *sp;
    if (decay)
        for (size_t i = 0; i < n; i++)
            p[i] = adam_one(&s, fmaf(s.weight_decay, p[i], grads[i]), p[i], &m[i], &v[i]);  /* grad.add(p, alpha=wd) */
    else
        for (size_t i = 0; i < n; i++)
            p[i] = adam_one(&s, grads[i], p[i], &m[i], &v[i]);
}

static void adam_step(aec_optim *o, float *p, const float *grads, size_t lo, size_t hi)
{
    adam_scalars s = adam_prepare(&o->cfg, o->step);
    if (s.weight_decay != 0.0f)
        adam_range(&s, 1, hi - lo, p + lo, grads + lo, o->m + lo, o->v + lo);
    else
        adam_range(&s, 0, hi - lo, p + lo, grads + lo, o->m + lo, o->v + lo);
}

/* SGD's momentum buffer starts as a copy of the first gradient (PyTorch's
 * `buf = torch.clone(d_p)`), not as zeros; o->step says whether it exists. */
AEC_CLONES
static void sgd_step(aec_optim *o, float *p, const float *grads, size_t lo, size_t hi)
{
    float wd = o->cfg.weight_decay, mom = o->cfg.momentum;
    float neg_lr = (float)-as_written(o->cfg.lr);
    for (size_t i = lo; i < hi; i++) {
        float g = grads[i];
        if (wd != 0.0f)
            g = fmaf(wd, p[i], g);
        if (mom != 0.0f) {
            o->m[i] = o->step == 1 ? g : o->m[i] * mom + g;    /* alpha = 1: exact either way */
            g = o->m[i];
        }
        p[i] = fmaf(neg_lr, g, p[i]);
    }
}

/* Each parameter's update reads only its own gradient and state, so a step
 * may be applied in parts, by several threads, with the same result. */
void aec_optim_step_part(aec_optim *o, float *params, const float *grads, size_t lo, size_t hi)
{
    if (o->cfg.kind == AEC_OPT_ADAM)
        adam_step(o, params, grads, lo, hi);
    else
        sgd_step(o, params, grads, lo, hi);
}

void aec_optim_count_step(aec_optim *o)
{
    o->step++;      /* PyTorch counts the step before using it */
}

void aec_optim_step(aec_optim *o, float *params, const float *grads)
{
    aec_optim_count_step(o);
    aec_optim_step_part(o, params, grads, 0, o->n);
}
