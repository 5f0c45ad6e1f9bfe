/* aec.h: the runtime's public interface.
 *
 * Two kinds of code include this header:
 *   - the C that `aec emit` generates for a model: it fills in one `aec_model`
 *     descriptor (shapes, parameter table, arena size, entry points);
 *   - the runtime (the .c files in runtime/), which trains, evaluates and inspects any model
 *     through that descriptor alone.
 *
 * Glossary, used in every comment and loop of the runtime and generated code:
 *   B  = images in the current batch (the one extent known only at run time)
 *   C, H, W = channels, height, width of one image tensor
 *   F  = features of a flat tensor, Z = latent size
 *
 * Layouts. The public tensors (input batches, .npy files, checkpoints) use
 * PyTorch's layouts: images NCHW, flat tensors [B, F], weights as in the
 * equivalent nn.Module's state_dict. Inside the arena, image tensors are kept
 * as CBHW (channel-major, batch second) so that a convolution over the whole
 * batch is one GEMM whose result needs no transpose; flat tensors are [B, F].
 */
#ifndef AEC_H
#define AEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- the model descriptor, filled in by generated code ------------------ */

typedef enum { AEC_LOSS_MSE, AEC_LOSS_BCE } aec_loss_kind;
typedef enum { AEC_OPT_ADAM, AEC_OPT_SGD } aec_opt_kind;

/* One parameter tensor, named as in the equivalent nn.Module's state_dict. */
typedef struct {
    const char *name;   /* e.g. "conv1.weight" */
    int ndim;           /* 1 (bias), 2 (linear weight) or 4 (conv weight) */
    int shape[4];       /* PyTorch's shape */
    size_t offset;      /* first float in the parameter (and gradient) array */
    size_t numel;
    int fan_in;         /* as torch.nn.init._calculate_fan_in_and_fan_out */
} aec_param;

/* One layer line of the .ae file, for the profile and for messages. */
typedef struct {
    const char *name;   /* as in the .ae file, e.g. "conv1" */
    int line;           /* its line there */
    size_t out_offset;  /* its output in the arena, floats per image (see below) */
    size_t out_size;    /* floats per image */
    int out_live;       /* still in the arena when the loss is computed */
    int first_param;    /* its first tensor in params[], or -1 */
    int n_params;       /* how many tensors, from first_param on */
} aec_layer;

typedef struct {
    aec_opt_kind kind;
    float lr, beta1, beta2, eps, weight_decay, momentum;
} aec_optim_cfg;

typedef struct {
    aec_optim_cfg optim;
    int batch, epochs;
    uint64_t seed;
} aec_train_cfg;

typedef struct aec_model {
    const char *name;           /* the .ae model name */
    const char *source;         /* the .ae text the code came from */
    const char *layer_table;    /* what `aec check` printed for it */
    const char *target;         /* the CPU target its kernels were shaped for, e.g. "x86-64-v3" */
    int (*cpu_runs)(void);      /* whether this CPU runs the target's code; NULL: any CPU does */
    int in_c, in_h, in_w;       /* one input image */
    float in_lo, in_hi;         /* the value range of input (and target) */
    int out_c, out_h, out_w;    /* one reconstruction (same shape as input) */
    int latent;                 /* Z: floats per image in the latent */
    int latent_is_image;        /* latent is CBHW in the arena (else [B, Z]) */
    int lat_c, lat_hw;          /* its C and H*W when latent_is_image */
    aec_loss_kind loss;
    int loss_sum;               /* reduction=sum: each image's sum, averaged over B (else the mean of all) */
    aec_train_cfg defaults;     /* the .ae file's train/optimizer settings */

    double forward_flops;       /* per image, as `aec check` counts them */
    size_t n_params;            /* floats in the parameter array */
    int n_tensors;
    const aec_param *params;    /* in the model's layer order */
    int n_layers;
    const aec_layer *layers;    /* in .ae order; the profile's rows, then "loss" */

    /* The arena holds every activation, gradient and scratch buffer; the
     * compiler planned it as arena_per_image floats per image, so a batch of
     * B images needs B * arena_per_image floats. The offsets below are per
     * image too: the buffer starts at arena + B * offset. */
    size_t arena_per_image;
    /* After the arena, scratch for the convolutions' columns and direct
     * planes: B * scratch_per_image floats or scratch_fixed, whichever is
     * larger. */
    size_t scratch_per_image, scratch_fixed;
    size_t input_offset;        /* CBHW input (also the target) */
    size_t latent_offset;       /* what encode gives: the code, or mu of a VAE */
    size_t decode_offset;       /* what decode reads: the code, or z of a VAE */
    size_t output_offset;       /* CBHW reconstruction */

    /* A variational latent (`latent gaussian(Z)`): before encode with
     * for_loss the caller writes eps [B, Z] at eps_offset: N(0, 1) draws to
     * train, zeros for z = mu and a loss. loss_fn then includes
     * kl_beta * KL / B, and backward its gradient. */
    int variational;
    size_t eps_offset;
    size_t logvar_offset;       /* [B, Z] after encode with for_loss (mu is at latent_offset) */
    float kl_beta;

    /* The schedule's model = split(workers=N): each batch as N slices at
     * once, one thread each (workers.c); 0: one per core; 1: whole. */
    int workers;
    /* Entry points. Each reads and writes the arena at the offsets above.
     * prepare: the weights as the forward passes read them (the direct and
     *   winograd convolutions' packs, the gemm linear layers' panels), into
     *   prep_floats floats (aec_prepare), for inference, where the weights
     *   do not change from call to call.
     * encode: input -> latent; prep: prepare's for these params, or NULL
     *   (the passes pack their weights themselves, as training needs);
     *   for_loss 0 leaves out what only loss and backward read (a VAE's
     *   logvar head: then z = mu, and eps is unread); 1 before loss.
     * decode: latent -> output; prep as for encode.
     * loss:   output vs input -> mean loss of the batch.
     * backward: after encode, decode and loss, ADD d loss / d params into
     *   grads (the caller zeroes them), in the parameter array's layout. */
    size_t prep_floats;
    void (*prepare)(const float *params, float *prep);
    void (*encode)(const float *params, const float *prep, float *arena, int B, int for_loss);
    void (*decode)(const float *params, const float *prep, float *arena, int B);
    float (*loss_fn)(float *arena, int B);
    void (*backward)(const float *params, float *grads, float *arena, int B);
} aec_model;

/* ---- the profile ----------------------------------------------------------- */

/* Generated entry points call aec_lap_start() first and aec_lap(row, pass)
 * after each layer: the time since the previous lap is charged to that row
 * (a layer, or n_layers for the loss). Unless aec_profiling is set that is
 * one test of a flag per layer. */
enum { AEC_FWD, AEC_BWD };
extern int aec_profiling;
void aec_profile_lap(int row, int pass);
void aec_profile_restart(void);
static inline void aec_lap_start(void)
{
    if (aec_profiling)
        aec_profile_restart();
}
static inline void aec_lap(int row, int pass)
{
    if (aec_profiling)
        aec_profile_lap(row, pass);
}

/* ---- errors -------------------------------------------------------------- */

/* Print "aec: <message>" to stderr. Every runtime failure goes through this
 * and returns non-zero to its caller; only main() turns it into an exit. */
void aec_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* s with each control byte (a line break, an escape) as a C escape, for a
 * message that shows a name the user gave: s itself when it has none, else
 * one of 8 buffers (per thread) in turn. aec_error does it to its whole line. */
const char *aec_esc(const char *s);

/* ---- random numbers: a seeded, platform-independent generator ----------- */

typedef struct { uint64_t s[4]; } aec_rng;      /* xoshiro256** */
void     aec_rng_seed(aec_rng *r, uint64_t seed);
uint64_t aec_rng_next(aec_rng *r);
float    aec_rng_uniform(aec_rng *r);           /* [0, 1) */
float    aec_rng_normal(aec_rng *r);            /* N(0, 1) */
void     aec_rng_shuffle(aec_rng *r, int *idx, int n);

/* PyTorch's default initialisation of every parameter, from seed. */
void aec_init_params(const aec_model *m, float *params, uint64_t seed);

/* ---- optimizers (PyTorch semantics) -------------------------------------- */

typedef struct {
    aec_optim_cfg cfg;
    size_t n;
    long step;          /* steps taken so far */
    float *m, *v;       /* adam: exp_avg, exp_avg_sq; sgd: momentum_buffer in m */
} aec_optim;

int  aec_optim_init(aec_optim *o, const aec_optim_cfg *cfg, size_t n);
void aec_optim_step(aec_optim *o, float *params, const float *grads);
void aec_optim_free(aec_optim *o);

/* ---- tensors on disk ------------------------------------------------------ */

/* A named float32 tensor for safetensors files. */
typedef struct {
    const char *name;
    int ndim;
    int64_t shape[4];
    const float *data;
} aec_tensor;

/* Write tensors in the given order, atomically (FILE.tmp, then rename). */
int aec_safetensors_write(const char *path, const aec_tensor *t, int n,
                          const char *metadata_json /* may be NULL */);

/* A loaded safetensors file: all tensors, F32 only. */
typedef struct {
    int n;
    char **names;
    int *ndim;
    int64_t (*shape)[4];
    float **data;
    char *metadata_json;        /* raw "__metadata__" object or NULL */
    int *by_name;               /* tensor indices in name order, for lookups */
    uint64_t (*offsets)[2];     /* data_offsets as the header gave them */
} aec_tensor_file;
int  aec_safetensors_read(const char *path, aec_tensor_file *f);
const float *aec_tensor_file_find(const aec_tensor_file *f, const char *name,
                                  size_t numel);    /* NULL if absent/mismatched */
void aec_tensor_file_free(aec_tensor_file *f);

/* Load a model's parameters from a checkpoint, checking every name and shape. */
int aec_load_params(const char *path, const aec_model *m, float *params);

/* .npy (version 1.0, little-endian, C order) */
int aec_npy_write_f32(const char *path, const float *data, int ndim, const int64_t *shape);
int aec_npy_write_i64(const char *path, const int64_t *data, int64_t n);
int aec_npy_read_f32(const char *path, float **data, int *ndim, int64_t shape[4]);
/* uint8 ('|u1'), e.g. the decoded images data/cache.c caches as [N, C, H, W]. */
int aec_npy_write_u8(const char *path, const uint8_t *data, int ndim, const int64_t *shape);
int aec_npy_read_u8(const char *path, uint8_t **data, int *ndim, int64_t shape[4]);

/* IDX (MNIST family), gzipped or raw. Images become uint8 [n, rows, cols]. */
typedef struct {
    int n, rows, cols;
    uint8_t *pixels;
} aec_idx_images;
int aec_idx_read_images(const char *path, aec_idx_images *out);
int aec_idx_read_labels(const char *path, uint8_t **labels, int *n);

/* A PNG grid: rows x cols tiles of C x H x W images (NCHW floats), values
 * mapped from [lo, hi] to 0..255, 2-pixel gaps. C is 1 (grey) or 3 (RGB). */
int aec_png_write_grid(const char *path, const float *images, int n, int cols,
                       int C, int H, int W, float lo, float hi);

/* ---- data sets ------------------------------------------------------------ */

typedef struct {
    int n, C, H, W;
    float *x;           /* NCHW in the model's input range */
    int64_t *labels;    /* n labels, or NULL */
    int skipped;        /* the split's bad images left out (aec_dataset_load_skip), not in n */
} aec_dataset;

/* Load split "train" or "test" from DIR, checking the image shape against the
 * model. limit > 0 keeps the first limit images of the split. DIR is either
 *   - IDX files (train-images-idx3-ubyte[.gz], ..., t10k-labels-idx1-ubyte[.gz]),
 *     with labels; or
 *   - a folder of images (*.jpg, *.jpeg, *.png, as CelebA's img_align_celeba):
 *     sorted by name, "train" is the first 90%, "test" the last 10%; each is
 *     centre-cropped to a square and area-resized down to the model's H x W
 *     (an image smaller than that is refused, naming it); no labels. The
 *     decoded images are cached (see data/images.c). A bad file is an error
 *     naming it; aec_dataset_load_skip (data/dataset.h) can skip bad images. */
int  aec_dataset_load(const char *dir, const char *split, const aec_model *m,
                      int limit, aec_dataset *d);
void aec_dataset_free(aec_dataset *d);

/* ---- running a model ------------------------------------------------------ */

/* An arena for batches of up to B images, with the scratch after it;
 * NULL after aec_error. free() it. */
float *aec_arena_alloc(const aec_model *m, int B);
/* params' prepared weights (m->prepare), for inference's encode and decode
 * while params stay as they are; NULL after aec_error. free() it. */
float *aec_prepare(const aec_model *m, const float *params);

/* Copy B NCHW images into the arena's CBHW input, and back out. */
void aec_put_input(const aec_model *m, float *arena, const float *x, int B);
void aec_get_output(const aec_model *m, const float *arena, float *y, int B);
/* eps [B, Z] into a variational model's arena: eps NULL gives zeros (z = mu);
 * aec_draw_eps fills it with N(0, 1) draws from r. No-ops for other models. */
void aec_put_eps(const aec_model *m, float *arena, const float *eps, int B);
void aec_draw_eps(const aec_model *m, float *arena, int B, aec_rng *r);
/* Latents as [B, Z] rows: get reads what encode gives (mu of a VAE), put
 * writes what decode reads (z). */
void aec_get_latent(const aec_model *m, const float *arena, float *z, int B);
void aec_put_latent(const aec_model *m, float *arena, const float *z, int B);

/* n inputs through a trained model, in batches of the .ae file's size, with
 * z = mu for a VAE: images -> reconstructions, images -> latents [n, Z], or
 * latents -> images. Images are NCHW. 0, or -1 (reported). */
typedef enum { AEC_RUN_RECONSTRUCT, AEC_RUN_ENCODE, AEC_RUN_DECODE } aec_run_kind;
int aec_run(const aec_model *m, const float *params, aec_run_kind k, const float *in, int n, float *out);

/* Mean loss over a data set (forward only), in batches of B. */
double aec_evaluate(const aec_model *m, const float *params, const aec_dataset *d, int B);

/* A finite-difference check of the generated backward pass (like KANN's
 * kad_check_grad): for n_probe entries of every parameter tensor, compare
 * d loss / d p from backward with (loss(p + h) - loss(p - h)) / 2h on the
 * NCHW batch x. A probe where the slopes right and left of p differ by more
 * than 5% straddles a kink (relu) and is skipped, and counted. A tensor most
 * of whose probes are skipped (a bias before a relu shifts a whole channel
 * across many kinks) is inconclusive: its worst error says nothing, and the
 * total leaves it out. */
typedef struct {
    double worst;       /* max |analytic - numeric| / max(|a|, |n|, floor) */
    int probes, skipped;
    int inconclusive;   /* tensors (1 or 0 for one tensor) */
} aec_gradcheck_result;

/* Fills per_tensor[0 .. n_tensors) (may be NULL) and *all; 0, or -1 on
 * failure (reported). */
int aec_gradcheck(const aec_model *m, const float *params, const float *x, int B,
                  int n_probe, float h, double floor, uint64_t seed,
                  aec_gradcheck_result *per_tensor, aec_gradcheck_result *all);

/* Exit with status 1 and a message naming the target and this CPU when
 * the CPU lacks the instructions of the model's target; else return.
 * Generated main() calls it before anything else. aec_cpu_fits is the
 * test behind it: 0, or -1 after the message to err. */
void aec_require_cpu(const aec_model *m);
int  aec_cpu_fits(const aec_model *m, FILE *err);

/* When OpenBLAS fell back to its generic kernels on a CPU with AVX2 or
 * AVX-512, set OPENBLAS_CORETYPE; when OMP_WAIT_POLICY is unset, set it to
 * PASSIVE; then execute argv again (see blas.c). Generated main() calls it
 * first; it returns when nothing needs doing. */
void aec_setup_libraries(char **argv);

/* OpenBLAS threads for the products that follow: a schedule's threads=N
 * (0: as many as OpenBLAS started with). Generated kernels call it. */
void aec_blas_threads(int n);

/* The executable's main: subcommands train, eval, reconstruct, encode,
 * decode, init, grad. Generated code calls it from main(). */
int aec_main(int argc, char **argv, const aec_model *m);

#endif
