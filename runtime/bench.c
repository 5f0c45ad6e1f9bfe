/* bench.c: how fast a compiled model trains and infers on this machine,
 * on synthetic data, measured apart from any data loading. One line of
 * key=value pairs, for people and scripts alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "aec.h"
#include "runtime_internal.h"

typedef struct {
    const aec_model *m;
    int B;
    float *params, *grads, *arena, *x, *out;
    aec_optim opt;
    aec_rng rng;
} bench_state;

static void train_step(bench_state *s)
{
    aec_draw_eps(s->m, s->arena, s->B, &s->rng);
    aec_forward(s->m, s->params, s->arena, s->x, s->B);
    memset(s->grads, 0, s->m->n_params * sizeof *s->grads);
    s->m->backward(s->params, s->grads, s->arena, s->B);
    aec_optim_step(&s->opt, s->params, s->grads);
}

static void infer_step(bench_state *s)
{
    aec_put_eps(s->m, s->arena, NULL, s->B);
    aec_put_input(s->m, s->arena, s->x, s->B);
    s->m->encode(s->params, s->arena, s->B);
    s->m->decode(s->params, s->arena, s->B);
    aec_get_output(s->m, s->arena, s->out, s->B);
}

/* Steps per second: a warm-up of a quarter of the time, then as many steps
 * as fit in the rest (at least 3). */
static double rate(bench_state *s, void (*step)(bench_state *), double seconds)
{
    double t0 = aec_seconds();
    while (aec_seconds() - t0 < seconds / 4)
        step(s);
    int n = 0;
    t0 = aec_seconds();
    while (n < 3 || aec_seconds() - t0 < seconds * 3 / 4) {
        step(s);
        n++;
    }
    return n / (aec_seconds() - t0);
}

static int bench_alloc(bench_state *s, const aec_model *m, int B, uint64_t seed)
{
    size_t image = (size_t)m->in_c * m->in_h * m->in_w;
    memset(s, 0, sizeof *s);
    s->m = m, s->B = B;
    s->params = aec_alloc_floats(m->n_params, "parameters");
    s->grads = aec_alloc_floats(m->n_params, "gradients");
    s->arena = aec_arena_alloc(m, B);
    s->x = aec_alloc_floats((size_t)B * image, "input");
    s->out = aec_alloc_floats((size_t)B * image, "output");
    if (!s->params || !s->grads || !s->arena || !s->x || !s->out
        || aec_optim_init(&s->opt, &m->defaults.optim, m->n_params) != 0)
        return -1;
    aec_init_params(m, s->params, seed);
    aec_rng_seed(&s->rng, seed);
    aec_random_images(m, &s->rng, B, s->x);
    return 0;
}

static void bench_free(bench_state *s)
{
    aec_optim_free(&s->opt);
    free(s->params), free(s->grads), free(s->arena), free(s->x), free(s->out);
}

int aec_bench(const aec_model *m, int B, double seconds, uint64_t seed)
{
    bench_state s;
    int rc = -1;
    if (bench_alloc(&s, m, B, seed) == 0) {
        double train = rate(&s, train_step, seconds) * B, infer = rate(&s, infer_step, seconds) * B;
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        /* a training step: the forward pass, and a backward pass of about twice its work */
        printf("model=%s batch=%d train_img_s=%.1f infer_img_s=%.1f train_gflops=%.2f peak_rss_mb=%.1f\n",
               m->name, B, train, infer, 3 * m->forward_flops * train / 1e9, ru.ru_maxrss / 1024.0);
        rc = 0;
    }
    bench_free(&s);
    return rc;
}
