/* bench.c: how fast a compiled model trains and infers on this machine,
 * on synthetic data, measured apart from any data loading. One line of
 * key=value pairs, for people and scripts alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "aec.h"
#include "core/blas.h"
#include "core/clock.h"
#include "core/floats.h"
#include "exec/arena.h"
#include "exec/profile.h"
#include "exec/synth.h"
#include "exec/workers.h"
#include "train/bench.h"

typedef struct {
    const aec_model *m;
    int B;
    float *params, *grads, *eps, *x, *out;
    float *prep;            /* the weights prepared for inference (aec_prepare) */
    aec_workers *pool;
    aec_optim opt;
    aec_rng rng;
} bench_state;

static void train_step(bench_state *s)
{
    double t0 = aec_seconds();
    aec_draw_normals(s->m, s->eps, s->B, &s->rng);
    aec_workers_grad(s->pool, s->params, s->grads, s->x, s->m->variational ? s->eps : NULL, s->B);
    aec_workers_update(s->pool, &s->opt, s->params, s->grads, t0);
}

static void infer_step(bench_state *s)
{
    double t0 = aec_seconds();
    aec_workers_run(s->pool, s->params, s->prep, AEC_RUN_RECONSTRUCT, s->x, s->B, s->out);
    if (aec_profiling)
        aec_profile_step(aec_seconds() - t0, 0.0);
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

static int bench_alloc(bench_state *s, const aec_model *m, int B, int workers, int infer, uint64_t seed)
{
    size_t image = (size_t)m->in_c * m->in_h * m->in_w;
    memset(s, 0, sizeof *s);
    s->m = m, s->B = B;
    s->params = aec_alloc_floats(m->n_params, "parameters");
    s->grads = aec_alloc_floats(m->n_params, "gradients");
    s->pool = aec_workers_open(m, workers, B, 1);
    s->eps = aec_alloc_floats((size_t)B * (m->variational ? m->latent : 1), "eps");
    s->x = aec_alloc_floats((size_t)B * image, "input");
    s->out = infer ? aec_alloc_floats((size_t)B * image, "output") : NULL;   /* training: no memory it does not use */
    if (!s->params || !s->grads || !s->pool || !s->eps || !s->x || (infer && !s->out)
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
    aec_workers_close(s->pool);
    free(s->params), free(s->grads), free(s->eps), free(s->x), free(s->out), free(s->prep);
}

/* The per-layer profile of training steps, or with --only infer of
 * inference steps (forward passes only): a separate run after the measured
 * ones, so that reading the clock between layers cannot touch the numbers
 * in the key=value line. */
static int profile_steps(bench_state *s, void (*step)(bench_state *), double seconds, const char *csv)
{
    if (aec_profile_begin(s->m) != 0)
        return -1;
    rate(s, step, seconds);
    aec_profile_print(stdout, s->B, aec_workers_count(s->pool));
    int rc = csv ? aec_profile_csv(csv) : 0;
    aec_profile_end();
    return rc;
}

int aec_bench(const aec_model *m, const aec_bench_opts *o)
{
    bench_state s;
    int rc = -1;
    if (bench_alloc(&s, m, o->B, o->workers, o->infer, o->seed) == 0) {
        double train = o->train ? rate(&s, train_step, o->seconds) * o->B : 0.0;
        /* inference reads the weights as they are after training, prepared
         * once, as a program that loads a model to run it does */
        s.prep = o->infer ? aec_prepare(m, s.params) : NULL;
        if (o->infer && !s.prep) {
            bench_free(&s);
            return -1;
        }
        double infer = o->infer ? rate(&s, infer_step, o->seconds) * o->B : 0.0;
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        /* a training step: the forward pass, and a backward pass of about twice its work */
        printf("model=%s batch=%d", m->name, o->B);
        if (o->train)
            printf(" train_img_s=%.1f train_gflops=%.2f", train, 3 * m->forward_flops * train / 1e9);
        if (o->infer)
            printf(" infer_img_s=%.1f infer_gflops=%.2f", infer, m->forward_flops * infer / 1e9);
        printf(" forward_mflop=%.3f peak_rss_mb=%.1f workers=%d blas_core=%s blas_threads=%d\n",
               m->forward_flops / 1e6, ru.ru_maxrss / 1024.0, aec_workers_count(s.pool),
               openblas_get_corename(), openblas_get_num_threads());
        fflush(stdout);
        rc = o->profile ? profile_steps(&s, o->train ? train_step : infer_step, o->seconds, o->profile_csv) : 0;
    }
    bench_free(&s);
    return rc;
}
