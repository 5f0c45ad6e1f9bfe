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
#include <string.h>
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

int aec_score_run(const aec_model *m, const float *params, int B, int progress, const aec_score_io *io)
{
    if (B > io->n && io->n > 0)
        B = io->n;
    float *arena = aec_arena_alloc(m, B);
    float *eps = arena ? aec_alloc_floats((size_t)B * (m->variational ? m->latent : 1), "eps") : NULL;
    aec_score *s = eps ? malloc((size_t)B * sizeof *s) : NULL;
    int rc = s ? 0 : -1, tty = progress && isatty(2), done = 0, nb = 0;
    if (eps && !s)
        aec_error("score: out of memory");
    aec_rng r;
    aec_rng_seed(&r, aec_rng_seed_mix(0, UINT64_C(0xe7a1)));     /* aec_evaluate's stream */
    double start = aec_seconds(), shown = start;
    const float *x;
    while (rc == 0 && (nb = io->next(io->ctx, B, &x)) > 0) {
        aec_draw_normals(m, eps, nb, &r);
        aec_put_eps(m, arena, eps, nb);
        aec_forward(m, params, arena, x, nb);
        aec_score_terms(m, arena, nb, s);
        rc = io->take(io->ctx, done, nb, s) != 0 ? -1 : 0;
        done += nb;
        if (tty && aec_seconds() - shown > 0.25) {
            progress_line(done, io->n, start, 0);
            shown = aec_seconds();
        }
    }
    rc = nb < 0 ? -1 : rc;
    if (rc == 0 && done == 0) {
        aec_error("score: the data set is empty");
        rc = -1;
    }
    if (progress && rc == 0)
        progress_line(done, done, start, 1);
    free(s);
    free(eps);
    free(arena);
    return rc;
}

/* aec_score_all's images: d's, in place, and every score into s[]. */
typedef struct {
    const aec_dataset *d;
    int at;
    aec_score *s;
} score_all_ctx;

static int set_next(void *ctx, int max, const float **x)
{
    score_all_ctx *c = ctx;
    int nb = c->d->n - c->at < max ? c->d->n - c->at : max;
    *x = c->d->x + (size_t)c->at * c->d->C * c->d->H * c->d->W;
    c->at += nb;
    return nb;
}

static int copy_take(void *ctx, int first, int B, const aec_score *s)
{
    score_all_ctx *c = ctx;
    memcpy(c->s + first, s, (size_t)B * sizeof *s);
    return 0;
}

int aec_score_all(const aec_model *m, const float *params, const aec_dataset *d, int B, aec_score *s)
{
    score_all_ctx c = { d, 0, s };
    aec_score_io io = { set_next, copy_take, &c, d->n };
    return aec_score_run(m, params, B, 0, &io);
}
