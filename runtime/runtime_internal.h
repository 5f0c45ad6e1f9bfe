/* runtime_internal.h: what the runtime's training side (rng.c, init.c,
 * optim.c, run.c, train.c, cli.c) shares beyond aec.h. Not for generated code.
 */
#ifndef AEC_RUNTIME_INTERNAL_H
#define AEC_RUNTIME_INTERNAL_H

#include "aec.h"

/* ---- rng.c ------------------------------------------------------------------ */

/* Uniform in [0, n), n > 0, unbiased. */
uint64_t aec_rng_below(aec_rng *r, uint64_t n);
/* A seed for stream `stream` of run `seed` (e.g. the shuffle of one epoch):
 * a function of both alone, so a resumed run draws what an uninterrupted one
 * would, and unrelated to the stream aec_rng_seed(seed) itself gives. */
uint64_t aec_rng_seed_mix(uint64_t seed, uint64_t stream);

/* Seconds on a monotonic clock, for timings and progress lines (clock.c). */
double aec_seconds(void);

/* The per-layer profile (profile.c): begin, then aec_profile_step after each
 * training step with its seconds and the optimizer's, then print. */
int  aec_profile_begin(const aec_model *m);
void aec_profile_step(double step_secs, double optim_secs);
void aec_profile_print(FILE *f, int B, int workers);
void aec_profile_end(void);

/* ---- run.c ------------------------------------------------------------------ */

/* n zeroed floats, 64-byte aligned (a cache line, an AVX-512 vector); NULL,
 * after aec_error naming `what`, on overflow or out of memory. free() it. */
float *aec_alloc_floats(size_t n, const char *what);

/* Copy images idx[0..B) of d into x as one contiguous NCHW batch. */
void aec_gather(const aec_dataset *d, const int *idx, int B, float *x);
/* n images of random pixels in the model's input range, kept 5% away from
 * its ends (where bce's logs and sigmoid's slopes misbehave). */
void aec_random_images(const aec_model *m, aec_rng *r, int n, float *x);
/* n latents drawn from a VAE's prior N(0, I) by seed. */
void aec_prior_latents(const aec_model *m, uint64_t seed, int n, float *z);
/* steps latents from a to b, ends included: on the line, or (slerp) on the
 * great circle, which keeps a gaussian latent's norm typical. */
void aec_interpolate_latents(const float *a, const float *b, int Z, int steps, int slerp, float *z);

/* ---- pixels.c ----------------------------------------------------------------- */

/* n uint8 pixels p into floats lo + (hi - lo) * p / 255 of the model's input
 * range; for [0, 1] that is p / 255, exactly what torchvision's ToTensor gives. */
void aec_pixels_to_range(const aec_model *m, const uint8_t *u8, size_t n, float *x);

/* One batch of aec_run's kind k (aec.h) in arena: images -> reconstructions,
 * images -> latents, or latents -> images, with z = mu for a VAE; prep is
 * params' prepared weights or NULL. aec_run_sizes: floats an image or a
 * latent takes, of its input and its output. */
void aec_run_batch(const aec_model *m, const float *params, const float *prep, float *arena, aec_run_kind k,
                   const float *in, int B, float *out);
void aec_run_sizes(const aec_model *m, aec_run_kind k, size_t *in_size, size_t *out_size);

/* put_input + encode + decode + loss_fn on B NCHW images: the batch's mean loss. */
float aec_forward(const aec_model *m, const float *params, float *arena,
                  const float *x, int B);
/* A variational model's eps for B images, [B, Z] N(0, 1) draws from r, into
 * eps (nothing for other models): what aec_draw_eps puts in an arena. */
void aec_draw_normals(const aec_model *m, float *eps, int B, aec_rng *r);

/* ---- workers.c: a step split over the batch, one slice per core ------------------- */

typedef struct aec_workers aec_workers;
/* n workers (the caller is the first; n <= 0: the model's schedule, one per
 * core by default) for batches of up to max_B images; grads: they will run
 * aec_workers_grad, each but the first into gradients of its own (else
 * those are not allocated: loss and run need none). NULL after aec_error.
 * While open, OpenBLAS runs one thread (n > 1). */
aec_workers *aec_workers_open(const aec_model *m, int n, int max_B, int grads);
void aec_workers_close(aec_workers *w);
int  aec_workers_count(const aec_workers *w);
/* x: B NCHW images; eps: [B, Z] for a variational model, or NULL for zeros.
 * grad: grads = d mean loss / d params (overwritten), returns the mean loss.
 * loss: the forward pass only. run: aec_run_batch's kind k on B inputs into
 * out, each worker its slice, with params' prepared weights (aec_prepare)
 * or NULL. */
float aec_workers_grad(aec_workers *w, const float *params, float *grads, const float *x,
                       const float *eps, int B);
/* After grad: whether the gradients it wrote are all finite (checked by the
 * workers as they summed them; with one worker, here). */
int   aec_workers_grads_finite(const aec_workers *w);
float aec_workers_loss(aec_workers *w, const float *params, const float *x, const float *eps, int B);
void  aec_workers_run(aec_workers *w, const float *params, const float *prep, aec_run_kind k, const float *in,
                      int B, float *out);
/* The optimizer's step on the workers, each updating a range of the
 * parameters: o->step++, then what aec_optim_step does, the same bits. It
 * ends a training step begun at step_start (aec_seconds), and with
 * --profile records the step's and the optimizer's times. */
void  aec_workers_update(aec_workers *w, aec_optim *o, float *params, const float *grads, double step_start);
/* optim.c: count a step (before its update, as PyTorch does), then update
 * parameters [lo, hi) for it, in parts if need be. */
void  aec_optim_count_step(aec_optim *o);
void  aec_optim_step_part(aec_optim *o, float *params, const float *grads, size_t lo, size_t hi);
/* After grad or loss: of the slices whose loss was not finite, the first
 * layer whose output held a NaN or Inf right after the forward pass (a
 * slice with such a loss skips its backward pass, and its gradient is NaN);
 * NULL if none. */
const aec_layer *aec_workers_bad_layer(const aec_workers *w);

/* aec_evaluate on the workers w, which take batches of B; eps holds [B, Z]
 * (scratch). NAN if d is empty. */
double aec_evaluate_with(aec_workers *w, const aec_model *m, const float *params,
                         const aec_dataset *d, int B, float *eps);

/* OpenBLAS's own extensions, which its cblas.h does not declare. */
char *openblas_get_corename(void);
int   openblas_get_num_threads(void);
void  openblas_set_num_threads(int n);

/* blas.c: pin OpenBLAS, and OpenMP in the calling thread, to one thread (n = 1) or lift that (n = 0). */
void aec_threads_limit(int n);
void aec_omp_limit(int n);      /* 1: one OpenMP thread in this thread's loops; 0: the default */
/* run.c: no NaN or Inf among x[0 .. n). */
int aec_all_finite(const float *x, size_t n);

/* ---- bench.c ---------------------------------------------------------------- */

typedef struct {
    int B;
    double seconds;         /* for each of training and inference */
    uint64_t seed;
    int train, infer;       /* which to measure */
    int workers;            /* slices of each batch at once; 0: one per core */
    int profile;            /* then a per-layer profile of training */
} aec_bench_opts;

/* Train and/or infer on synthetic batches; print one line of key=value
 * results (and the profile). 0, or -1 (reported). */
int aec_bench(const aec_model *m, const aec_bench_opts *o);

/* ---- train.c ---------------------------------------------------------------- */

/* aec_train's result when SIGINT stopped it (128 + SIGINT, as a shell says). */
#define AEC_INTERRUPTED 130

typedef struct {
    const char *out_dir;        /* checkpoints and loss.csv go here; must exist */
    aec_train_cfg cfg;          /* epochs, batch, seed, optimizer */
    int resume;                 /* continue from out_dir's checkpoints */
    int seed_given;             /* cfg.seed was asked for: on resume it must match */
    int quiet;                  /* no progress or epoch lines (tests) */
    int profile;                /* time each layer; print the table at the end */
    int workers;                /* slices of each batch run at once; 0: one per core */
    const char *resume_cmd;     /* printed after SIGINT; may be NULL */
} aec_train_opts;

/* Train on `train`, validating on `val` after each epoch. The data sets are
 * loaded by the caller: the loop knows nothing about files of images.
 * 0 on success, AEC_INTERRUPTED after SIGINT, 1 on failure (reported). */
int aec_train(const aec_model *m, const aec_train_opts *o,
              const aec_dataset *train, const aec_dataset *val);

/* aec_load_params from a file already read (path for messages). */
int aec_params_from_file(const char *path, const aec_tensor_file *f, const aec_model *m, float *params);

/* The parameters as safetensors tensors named as in the table, in its order. */
void aec_param_tensors(const aec_model *m, const float *params, aec_tensor *t);
/* Save the parameters as train does (a state_dict for PyTorch). */
int aec_save_params(const char *path, const aec_model *m, const float *params,
                    const char *metadata_json);

/* json.c: s as the inside of a JSON string (no quotes), cut to fit size. */
void aec_json_string(char *out, size_t size, const char *s);
/* The value of string field `key` in a flat JSON object such as safetensors'
 * __metadata__; 0 and the unescaped value in out, or -1 if absent or too long. */
int aec_meta_get(const char *json, const char *key, char *out, size_t size);

#endif
