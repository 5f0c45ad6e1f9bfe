/* workers.c: a step split over the batch, one slice per core.
 *
 * Two cores can share a training step in two ways. Each kernel can be split
 * across both (OpenBLAS's threads inside every GEMM, OpenMP in direct
 * loops): the cores then meet at every layer, and the elementwise loops
 * between the GEMMs run on one core while the other waits. Or the batch can
 * be split: each worker runs the whole forward and backward pass on its
 * slice of the images, with one thread and its own arena, and the
 * gradients are summed at the end. They meet once a step. Which is faster
 * depends on the model: the .ae schedule's `model = split(workers=N)` says
 * (by default one slice per core), and `--workers N` overrides it.
 *
 * The slices' gradients are means over their own images; the step's mean is
 * their sum weighted by slice size, added in worker order, so the result is
 * the same run to run for a given number of workers (and, with one worker,
 * bit for bit what a single arena gives).
 *
 * The caller's thread is worker 0; workers 1.. wait on a condition variable
 * between jobs. Waking from it takes far longer than noticing a flag, and a
 * training step sets three jobs (gradients, their sum, the update), so a
 * waiting thread first spins for up to SPIN_NS, watching generation (or the
 * caller, pending), and sleeps only when the wait is longer: between epochs,
 * or when idle. generation and pending are written under the lock, and read
 * while spinning, atomically. */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "aec.h"
#include "core/blas.h"
#include "core/clock.h"
#include "core/floats.h"
#include "core/ranks.h"
#include "exec/batch.h"
#include "exec/optim.h"
#include "exec/profile.h"
#include "exec/workers.h"

enum { SPIN_NS = 2000000 };    /* 2 ms: longer than most of a step's waits for the other worker */

typedef enum { JOB_GRAD, JOB_LOSS, JOB_RUN, JOB_REDUCE, JOB_UPDATE, JOB_EXIT } job_kind;

typedef struct {
    int first, n;           /* this worker's slice of the batch */
    float *arena, *grads;
    float loss;
    int finite;             /* JOB_REDUCE: its range of the summed gradients holds no NaN or Inf */
    const aec_layer *bad;   /* after a loss that is not finite: its first output with one */
    pthread_t thread;
    struct aec_workers *pool;
} worker;

struct aec_workers {
    const aec_model *m;
    int n;
    int running;            /* threads started: workers 1 .. running - 1 */
    worker *w;
    /* the job, set by the caller before each generation */
    job_kind kind;
    const float *x, *eps;
    const float *weights;   /* the parameters a pass reads */
    const float *prep;      /* JOB_RUN: their prepared weights, or NULL */
    aec_run_kind run;       /* JOB_RUN: what x is, and out */
    float *out;             /* JOB_RUN: outputs (aec_run_batch); JOB_GRAD, JOB_REDUCE: the gradients */
    float *params;          /* JOB_UPDATE: the parameters to update ... */
    const float *grads;     /* ... by these gradients */
    aec_optim *opt;         /* JOB_UPDATE */
    int B;                  /* the whole batch of the last JOB_GRAD, over every rank */
    pthread_mutex_t lock;
    pthread_cond_t start, done;
    long generation;        /* jobs started: atomic, see the top */
    int pending;            /* workers 1.. still running the job: atomic, see the top */
};

/* ---- one worker's share ------------------------------------------------------ */

/* Worker i's share of the parameter array: equal parts, 16-float aligned. */
static void param_range(const aec_workers *p, const worker *w, size_t *lo, size_t *hi)
{
    size_t n = p->m->n_params, i = (size_t)(w - p->w), part = (n / (size_t)p->n + 15) / 16 * 16;
    *lo = i * part < n ? i * part : n;
    *hi = (i + 1) * part < n && i + 1 < (size_t)p->n ? (i + 1) * part : n;
}

/* grads[lo, hi) = the slices' gradients weighted by their sizes, in worker
 * order. Worker 0's gradient is already in grads (its buffer is the
 * caller's), so it is scaled in place and the others added to it. A chunk
 * at a time, small enough to stay in the L1 cache through its passes and
 * its check for NaN and Inf (w->finite: the whole range has none), so that
 * train's check of the summed gradient costs no pass over memory on one
 * thread. Each sum rounds as it did in whole passes: the same bits. */
enum { REDUCE_CHUNK = 2048 };

static void reduce_range(aec_workers *p, worker *w, size_t lo, size_t hi)
{
    float *restrict g = p->out;
    const float share0 = (float)p->w[0].n / (float)p->B;
    int finite = 1;
    for (size_t j0 = lo; j0 < hi; j0 += REDUCE_CHUNK) {
        const size_t j1 = hi - j0 < REDUCE_CHUNK ? hi : j0 + REDUCE_CHUNK;
        for (size_t j = j0; j < j1; j++)
            g[j] *= share0;
        for (int k = 1; k < p->n; k++) {
            if (p->w[k].n == 0)     /* no images: its buffer holds no gradient of this batch */
                continue;
            const float *restrict gk = p->w[k].grads, share = (float)p->w[k].n / (float)p->B;
            for (size_t j = j0; j < j1; j++)
                g[j] += share * gk[j];
        }
        finite &= aec_all_finite(g + j0, j1 - j0);
    }
    w->finite = finite;
}

/* The first layer (in .ae order) whose output, still in w's arena after a
 * forward pass, holds a NaN or Inf; NULL if none. */
static const aec_layer *first_bad_output(const aec_model *m, const worker *w)
{
    for (int l = 0; l < m->n_layers; l++) {
        const aec_layer *L = &m->layers[l];
        if (L->out_live && !aec_all_finite(w->arena + (size_t)w->n * L->out_offset, (size_t)w->n * L->out_size))
            return L;
    }
    return NULL;
}

static void run_slice(aec_workers *p, worker *w)
{
    const aec_model *m = p->m;
    size_t chw = (size_t)m->in_c * m->in_h * m->in_w, lo, hi;
    if (p->kind == JOB_REDUCE || p->kind == JOB_UPDATE) {
        param_range(p, w, &lo, &hi);
        if (p->kind == JOB_REDUCE)
            reduce_range(p, w, lo, hi);
        else
            aec_optim_step_part(p->opt, p->params, p->grads, lo, hi);
        return;
    }
    if (w->n == 0)
        return;
    if (p->kind == JOB_RUN) {
        size_t in_size, out_size;
        aec_run_sizes(m, p->run, &in_size, &out_size);
        w->bad = NULL;
        aec_run_batch(m, p->weights, p->prep, w->arena, p->run, p->x + (size_t)w->first * in_size, w->n,
                      p->out + (size_t)w->first * out_size);
        return;
    }
    aec_put_eps(m, w->arena, p->eps ? p->eps + (size_t)w->first * m->latent : NULL, w->n);
    w->loss = aec_forward(m, p->weights, w->arena, p->x + (size_t)w->first * chw, w->n);
    /* A loss that is not finite stops training (train.c): find the output
     * that went wrong now, before a backward pass reuses the memory of the
     * outputs it no longer needs, and skip that pass; its gradient is NaN. */
    w->bad = isfinite(w->loss) ? NULL : first_bad_output(m, w);
    if (p->kind == JOB_GRAD) {
        float *g = w == p->w ? p->out : w->grads;      /* worker 0 writes the caller's */
        if (!isfinite(w->loss)) {
            for (size_t j = 0; j < m->n_params; j++)
                g[j] = NAN;
            return;
        }
        memset(g, 0, m->n_params * sizeof *g);
        m->backward(p->weights, g, w->arena, w->n);
    }
}

/* A spinning thread's hint to the core that it waits (x86's pause). */
static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* A spin's end: SPIN_NS from now. After it the waiting thread locks and,
 * if it must still wait, sleeps. */
static double spin_deadline(void)
{
    return aec_seconds() + SPIN_NS * 1e-9;
}

/* Wait a little; 1 once the spin's time is up. The core goes to any other
 * thread waiting for it: on a busy host the worker being waited for may be
 * queued behind the spinning one. */
static int spin_over(double until)
{
    for (int i = 0; i < 16; i++)
        cpu_relax();
    sched_yield();
    return aec_seconds() >= until;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    aec_workers *p = w->pool;
    long seen = 0;
    aec_omp_limit(1);       /* a slice's thread: its direct loops stay on it */
    for (;;) {
        for (double until = spin_deadline();
             __atomic_load_n(&p->generation, __ATOMIC_ACQUIRE) == seen && !spin_over(until);)
            ;
        pthread_mutex_lock(&p->lock);
        while (p->generation == seen)
            pthread_cond_wait(&p->start, &p->lock);
        seen = p->generation;
        job_kind kind = p->kind;
        pthread_mutex_unlock(&p->lock);
        if (kind == JOB_EXIT)
            return NULL;
        run_slice(p, w);
        pthread_mutex_lock(&p->lock);
        if (__atomic_sub_fetch(&p->pending, 1, __ATOMIC_RELEASE) == 0)
            pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->lock);
    }
}

int aec_workers_slice(int B, int parts, int i, int *first)
{
    *first = i * (B / parts) + (i < B % parts ? i : B % parts);
    return B / parts + (i < B % parts);
}

/* Split B images into the workers' slices. */
static void split(aec_workers *p, int B)
{
    for (int i = 0; i < p->n; i++)
        p->w[i].n = aec_workers_slice(B, p->n, i, &p->w[i].first);
}

/* Run the job set in p on every worker; worker 0 is the caller. B > 0
 * splits a new batch; 0 keeps the slices (reduce, update). */
static void run_job(aec_workers *p, int B)
{
    if (B > 0)
        split(p, B);
    pthread_mutex_lock(&p->lock);
    __atomic_store_n(&p->pending, p->n - 1, __ATOMIC_RELEASE);
    __atomic_store_n(&p->generation, p->generation + 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);
    run_slice(p, &p->w[0]);
    for (double until = spin_deadline(); __atomic_load_n(&p->pending, __ATOMIC_ACQUIRE) > 0 && !spin_over(until);)
        ;
    pthread_mutex_lock(&p->lock);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

/* ---- the pool ------------------------------------------------------------------ */

/* The model's schedule (model = split(workers=N)): N, or for 0 the online
 * cores, shared among the ranks of a data-parallel job on this machine. */
static int default_workers(const aec_model *m)
{
    if (m->workers > 0)
        return m->workers;
    long n = sysconf(_SC_NPROCESSORS_ONLN) / aec_rank_local_count();
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/* Worker 0 needs no gradient buffer: it writes the caller's. */
static int alloc_worker(aec_workers *p, worker *w, int slice, int grads)
{
    int own = grads && w != p->w;       /* worker 0 writes the caller's gradients */
    w->pool = p;
    w->arena = aec_arena_alloc(p->m, slice);
    w->grads = own ? aec_alloc_floats(p->m->n_params, "gradients") : NULL;
    return w->arena && (!own || w->grads) ? 0 : -1;
}

aec_workers *aec_workers_open(const aec_model *m, int n, int max_B, int grads)
{
    if (n <= 0)
        n = default_workers(m);
    if (n > max_B)
        n = max_B > 0 ? max_B : 1;      /* no worker without an image */
    aec_workers *p = calloc(1, sizeof *p);
    worker *w = calloc((size_t)(n > 0 ? n : 1), sizeof *w);
    if (!p || !w) {
        free(p), free(w);
        aec_error("workers: out of memory");
        return NULL;
    }
    *p = (aec_workers){ .m = m, .n = n, .running = 1, .w = w };
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    int slice = (max_B + n - 1) / n, rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = alloc_worker(p, &w[i], slice, grads);
    for (int i = 1; i < n && rc == 0; i++, p->running++)
        if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
            aec_error("workers: cannot start thread %d of %d", i + 1, n);
            rc = -1;
        }
    if (rc != 0) {      /* close joins the threads that run and frees every worker */
        aec_workers_close(p);
        return NULL;
    }
    /* one thread per worker: the BLAS must not start threads of its own */
    aec_threads_limit(n > 1 ? 1 : 0);
    return p;
}

void aec_workers_close(aec_workers *p)
{
    if (!p)
        return;
    p->kind = JOB_EXIT;
    pthread_mutex_lock(&p->lock);
    __atomic_store_n(&p->generation, p->generation + 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->running; i++)
        pthread_join(p->w[i].thread, NULL);
    for (int i = 0; i < p->n; i++)
        free(p->w[i].arena), free(p->w[i].grads);
    aec_threads_limit(0);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->w);
    free(p);
}

int aec_workers_count(const aec_workers *p)
{
    return p->n;
}

/* ---- jobs ------------------------------------------------------------------------- */

/* The batch's mean loss: the slices' means weighted by their sizes (over
 * B, the whole batch, of which these slices may be one rank's share). */
static float mean_loss(const aec_workers *p, int B)
{
    double sum = 0.0;
    for (int i = 0; i < p->n; i++)
        sum += (double)p->w[i].loss * p->w[i].n;
    return (float)(sum / B);
}

float aec_workers_grad(aec_workers *p, const float *params, float *grads, const float *x,
                       const float *eps, int B)
{
    return aec_workers_grad_share(p, params, grads, x, eps, B, B);
}

float aec_workers_grad_share(aec_workers *p, const float *params, float *grads, const float *x,
                             const float *eps, int B, int total)
{
    p->kind = JOB_GRAD, p->weights = params, p->x = x, p->eps = eps, p->B = total, p->out = grads;
    run_job(p, B);
    if (p->n == 1 && B == total)
        return p->w[0].loss;        /* its gradient, exactly, is already in grads */
    /* the reduce weights each slice by its share of total, one slice too */
    p->kind = JOB_REDUCE;
    run_job(p, 0);
    return mean_loss(p, total);
}

int aec_workers_grads_finite(const aec_workers *p)
{
    if (p->n == 1)      /* a whole batch on one worker is not reduced, so not checked */
        return aec_all_finite(p->out, p->m->n_params);
    int finite = 1;
    for (int i = 0; i < p->n; i++)
        finite &= p->w[i].finite;
    return finite;
}

void aec_workers_update(aec_workers *p, aec_optim *o, float *params, const float *grads, double step_start)
{
    double t0 = aec_profiling ? aec_seconds() : 0.0;
    aec_optim_count_step(o);
    p->kind = JOB_UPDATE, p->opt = o, p->params = params, p->grads = grads;
    run_job(p, 0);
    if (aec_profiling) {
        double t1 = aec_seconds();
        aec_profile_step(t1 - step_start, t1 - t0);
    }
}

float aec_workers_loss(aec_workers *p, const float *params, const float *x, const float *eps, int B)
{
    p->kind = JOB_LOSS, p->weights = params, p->x = x, p->eps = eps;
    run_job(p, B);
    return mean_loss(p, B);
}

void aec_workers_run(aec_workers *p, const float *params, const float *prep, aec_run_kind k, const float *in,
                     int B, float *out)
{
    p->kind = JOB_RUN, p->weights = params, p->prep = prep, p->run = k, p->x = in, p->eps = NULL, p->out = out;
    run_job(p, B);
}

/* Of the slices whose loss was not finite in the last job, the first layer
 * (in .ae order) whose output held a NaN or Inf right after the forward
 * pass; NULL if none. */
const aec_layer *aec_workers_bad_layer(const aec_workers *p)
{
    const aec_layer *first = NULL;
    for (int i = 0; i < p->n; i++)
        if (p->w[i].n > 0 && p->w[i].bad && (!first || p->w[i].bad < first))
            first = p->w[i].bad;
    return first;
}
