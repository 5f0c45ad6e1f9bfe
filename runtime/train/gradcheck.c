/* gradcheck.c: check a model's generated backward pass against finite
 * differences of its generated forward pass. It ships in the runtime, not
 * only in the tests, so that any model a user writes can be checked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "aec.h"
#include "core/floats.h"
#include "core/rng.h"
#include "exec/batch.h"

typedef struct {
    const aec_model *m;
    float *params, *arena;
    const float *x;
    int B;
} probe_ctx;

/* The slopes just right and just left of one parameter entry: their mean
 * is the central difference; their gap shows a kink (relu) within h. */
static void slopes(const probe_ctx *c, size_t k, float h, double *right, double *left)
{
    float saved = c->params[k];
    double mid = aec_forward(c->m, c->params, c->arena, c->x, c->B);
    c->params[k] = saved + h;
    double up = aec_forward(c->m, c->params, c->arena, c->x, c->B);
    c->params[k] = saved - h;
    double down = aec_forward(c->m, c->params, c->arena, c->x, c->B);
    c->params[k] = saved;
    *right = (up - mid) / h;
    *left = (mid - down) / h;
}

static void probe_tensor(const probe_ctx *c, const float *g, const aec_param *t, int n_probe, float h,
                         double floor, aec_rng *rng, aec_gradcheck_result *r)
{
    memset(r, 0, sizeof *r);
    for (int i = 0; i < n_probe; i++) {
        size_t k = t->offset + (size_t)aec_rng_below(rng, t->numel);
        double right, left;
        slopes(c, k, h, &right, &left);
        double n = (right + left) / 2, scale = fmax(fmax(fabs(g[k]), fabs(n)), floor);
        r->probes++;
        if (!isfinite(right) || !isfinite(left) || !isfinite(g[k])) {
            r->worst = INFINITY;    /* fmax would pass a NaN over */
            continue;
        }
        if (fabs(right - left) > 0.05 * scale) {
            r->skipped++;
            continue;
        }
        r->worst = fmax(r->worst, fabs(g[k] - n) / scale);
    }
    r->inconclusive = r->skipped * 2 > r->probes;
}

static void add_result(aec_gradcheck_result *all, const aec_gradcheck_result *r)
{
    if (!r->inconclusive)
        all->worst = fmax(all->worst, r->worst);
    all->inconclusive += r->inconclusive;
    all->probes += r->probes;
    all->skipped += r->skipped;
}

int aec_gradcheck(const aec_model *m, const float *params, const float *x, int B,
                  int n_probe, float h, double floor, uint64_t seed,
                  aec_gradcheck_result *per_tensor, aec_gradcheck_result *all)
{
    probe_ctx c = {m, aec_alloc_floats(m->n_params, "parameters"), aec_arena_alloc(m, B), x, B};
    float *grads = aec_alloc_floats(m->n_params, "gradients");
    int rc = -1;
    memset(all, 0, sizeof *all);
    if (c.params && c.arena && grads) {
        aec_rng rng;
        aec_rng_seed(&rng, seed);
        memcpy(c.params, params, m->n_params * sizeof *c.params);
        aec_draw_eps(m, c.arena, B, &rng);     /* fixed noise: the step stays a function */
        aec_forward(m, c.params, c.arena, x, B);
        m->backward(c.params, grads, c.arena, B);
        for (int i = 0; i < m->n_tensors; i++) {
            aec_gradcheck_result r;
            probe_tensor(&c, grads, &m->params[i], n_probe, h, floor, &rng, &r);
            if (per_tensor)
                per_tensor[i] = r;
            add_result(all, &r);
        }
        rc = 0;
    }
    free(c.params);
    free(c.arena);
    free(grads);
    return rc;
}
