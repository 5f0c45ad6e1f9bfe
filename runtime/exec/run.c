/* run.c: a model over many inputs, batch after batch, each batch split over
 * the workers: the mean loss of a data set, and inference (aec_run). */
#include "aec.h"
#include "core/floats.h"
#include "core/rng.h"
#include "exec/arena.h"
#include "exec/batch.h"
#include "exec/run.h"
#include "exec/workers.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* The data set's images are already contiguous NCHW, so a batch is a slice
 * and needs no gathering. Batch means are weighted by batch size: the result
 * is the mean over every element of the set, as one huge batch would give.
 * A VAE's z is sampled, as in training, from a fixed stream: the same
 * weights give the same number every time. */
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

/* Each batch split over the cores (the model's workers), as training and
 * bench --only infer run it, rather than whole with threads inside each
 * kernel: the slices meet once a batch, the kernels' threads at every layer. */
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
