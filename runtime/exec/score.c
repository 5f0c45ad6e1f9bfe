/* score.c: each image's loss, the anomaly score: the model's loss and its
 * reduction taken per image from the arena after the forward pass, rather
 * than per batch as loss_fn gives it. */
#include "aec.h"
#include "core/clock.h"
#include "core/floats.h"
#include "core/rng.h"
#include "exec/arena.h"
#include "exec/batch.h"
#include "exec/score.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The loss of one value y against its target x, as loss_fn sums it. */
static double value_loss(const aec_model *m, float y, float x)
{
    if (m->loss == AEC_LOSS_BCE)            /* PyTorch clamps each log at -100 */
        return -(x * fmaxf(logf(y), -100.0f) + (1.0f - x) * fmaxf(logf(1.0f - y), -100.0f));
    double d = (double)y - x;
    return d * d;
}

void aec_score_terms(const aec_model *m, const float *arena, int B, aec_score *s)
{
    size_t HW = (size_t)m->in_h * m->in_w, N = (size_t)m->in_c * HW;
    const float *y = arena + (size_t)B * m->output_offset, *x = arena + (size_t)B * m->input_offset;
    for (int i = 0; i < B; i++) {
        double sum = 0.0;
        for (int c = 0; c < m->in_c; c++) {         /* CBHW: channel c of image i */
            size_t at = ((size_t)c * B + i) * HW;
            for (size_t p = 0; p < HW; p++)
                sum += value_loss(m, y[at + p], x[at + p]);
        }
        s[i].recon = m->loss_sum ? sum : sum / (double)N;
        s[i].kl = 0.0;
        if (m->variational) {
            const float *mu = arena + (size_t)B * m->latent_offset + (size_t)i * m->latent;
            const float *lv = arena + (size_t)B * m->logvar_offset + (size_t)i * m->latent;
            for (int k = 0; k < m->latent; k++)
                s[i].kl -= 0.5 * (1.0 + lv[k] - (double)mu[k] * mu[k] - exp(lv[k]));
        }
        s[i].loss = s[i].recon + (double)m->kl_beta * s[i].kl;
    }
}

static void progress_line(int done, int n, double start, int last)
{
    double t = aec_seconds() - start;
    fprintf(stderr, "\rscore: %d/%d images, %.0f images/s%s", done, n, t > 0 ? done / t : 0.0,
            last ? "\n" : "");
    fflush(stderr);
}

int aec_score_set(const aec_model *m, const float *params, const aec_dataset *d, int B, int progress,
                  aec_score_sink sink, void *ctx)
{
    if (d->n <= 0) {
        aec_error("score: the data set is empty");
        return -1;
    }
    if (B > d->n)
        B = d->n;
    size_t chw = (size_t)d->C * d->H * d->W;
    float *arena = aec_arena_alloc(m, B);
    float *eps = arena ? aec_alloc_floats((size_t)B * (m->variational ? m->latent : 1), "eps") : NULL;
    aec_score *s = eps ? malloc((size_t)B * sizeof *s) : NULL;
    int rc = s ? 0 : -1, tty = progress && isatty(2);
    if (eps && !s)
        aec_error("score: out of memory");
    aec_rng r;
    aec_rng_seed(&r, aec_rng_seed_mix(0, UINT64_C(0xe7a1)));     /* aec_evaluate's stream */
    double start = aec_seconds(), shown = start;
    for (int i = 0; rc == 0 && i < d->n; i += B) {
        int nb = d->n - i < B ? d->n - i : B;
        aec_draw_normals(m, eps, nb, &r);
        aec_put_eps(m, arena, eps, nb);
        aec_forward(m, params, arena, d->x + (size_t)i * chw, nb);
        aec_score_terms(m, arena, nb, s);
        rc = sink(ctx, i, nb, s) != 0 ? -1 : 0;
        if (tty && aec_seconds() - shown > 0.25) {
            progress_line(i + nb, d->n, start, 0);
            shown = aec_seconds();
        }
    }
    if (progress && rc == 0)
        progress_line(d->n, d->n, start, 1);
    free(s);
    free(eps);
    free(arena);
    return rc;
}

static int copy_sink(void *ctx, int first, int B, const aec_score *s)
{
    aec_score *all = ctx;
    for (int i = 0; i < B; i++)
        all[first + i] = s[i];
    return 0;
}

int aec_score_all(const aec_model *m, const float *params, const aec_dataset *d, int B, aec_score *s)
{
    return aec_score_set(m, params, d, B, 0, copy_sink, s);
}
