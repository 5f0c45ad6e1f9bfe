/* cli.c: aec_main, the command line every compiled model has.
 *
 * Exit status: 0 success, 1 a runtime failure (a file, the data, memory),
 * 2 a bad command line, 130 training stopped by Ctrl-C. Every message is one
 * line naming what was wrong; nothing here asserts or exits by itself.
 */
#include "aec.h"
#include "core/blas.h"
#include "core/floats.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "exec/batch.h"
#include "exec/synth.h"
#include "io/json.h"
#include "io/params.h"
#include "report/embed.h"
#include "report/report.h"
#include "train/bench.h"
#include "train/train.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum {
    CMD_TRAIN = 1 << 0, CMD_EVAL = 1 << 1, CMD_RECON = 1 << 2, CMD_ENCODE = 1 << 3,
    CMD_DECODE = 1 << 4, CMD_INIT = 1 << 5, CMD_GRAD = 1 << 6, CMD_STEP = 1 << 7,
    CMD_INFO = 1 << 8, CMD_GRADCHECK = 1 << 9, CMD_SAMPLE = 1 << 10, CMD_INTERP = 1 << 11,
    CMD_REPORT = 1 << 12, CMD_MAP = 1 << 13, CMD_BENCH = 1 << 14,
};

typedef struct {
    const char *data, *out, *weights, *input, *latents, *labels, *split, *eps, *mode, *method, *only;
    int epochs, batch, limit, n, cols, resume, from, to, steps, iterations, no_report, profile, workers;
    int skip_bad;               /* --skip-bad: leave bad images out of a folder's splits */
    float lr, perplexity, seconds;
    uint64_t seed;
    unsigned given;             /* bit i: options[i] was on the command line */
    int argc;
    char **argv;                /* for the resume command printed after Ctrl-C */
} cli_opts;

typedef enum { ARG_PATH, ARG_COUNT, ARG_RATE, ARG_SEED, ARG_FLAG, ARG_SPLIT, ARG_INDEX, ARG_MODE, ARG_METHOD, ARG_ONLY } arg_kind;

typedef struct {
    const char *name;           /* without the leading "--" */
    arg_kind kind;
    size_t offset;              /* of its field in cli_opts */
    unsigned cmds;              /* the commands that take it */
    const char *help;
} opt_spec;

#define ANY_DATA (CMD_TRAIN | CMD_EVAL | CMD_RECON | CMD_ENCODE | CMD_INTERP | CMD_REPORT | CMD_MAP)
#define ANY_WEIGHTS (CMD_EVAL | CMD_RECON | CMD_ENCODE | CMD_DECODE | CMD_GRAD | CMD_STEP | CMD_SAMPLE | CMD_INTERP | CMD_REPORT | CMD_MAP)

static const opt_spec options[] = {
    { "data", ARG_PATH, offsetof(cli_opts, data), ANY_DATA,
      "--data DIR          IDX files (train-images-idx3-ubyte[.gz], t10k-...), or a folder of\n"
      "                      JPEG/PNG images: the last 10% of the sorted names validate" },
    { "skip-bad", ARG_FLAG, offsetof(cli_opts, skip_bad), ANY_DATA,
      "--skip-bad          a folder of images: skip an image that does not decode or is smaller\n"
      "                      than the model's input, with a warning, rather than stop (not IDX)" },
    { "out", ARG_PATH, offsetof(cli_opts, out), ~(unsigned)CMD_EVAL,
      "--out PATH          the directory (train) or file to write" },
    { "weights", ARG_PATH, offsetof(cli_opts, weights), ANY_WEIGHTS,
      "--weights FILE      parameters to load, e.g. OUT/model.safetensors" },
    { "eps", ARG_PATH, offsetof(cli_opts, eps), CMD_GRAD | CMD_STEP,
      "--eps E.npy         a VAE's noise for the batch, float32 [B, Z] (grad and step need it)" },
    { "input", ARG_PATH, offsetof(cli_opts, input), CMD_GRAD | CMD_STEP,
      "--input X.npy       a float32 batch [B, C, H, W]" },
    { "latents", ARG_PATH, offsetof(cli_opts, latents), CMD_DECODE | CMD_INTERP,
      "--latents Z.npy     float32 latents [N, Z]" },
    { "labels", ARG_PATH, offsetof(cli_opts, labels), CMD_ENCODE,
      "--labels L.npy      also write the images' labels, int64 [N]" },
    { "split", ARG_SPLIT, offsetof(cli_opts, split), CMD_EVAL | CMD_RECON | CMD_ENCODE | CMD_INTERP | CMD_REPORT | CMD_MAP,
      "--split test|train  which part of the data set (default test)" },
    { "epochs", ARG_COUNT, offsetof(cli_opts, epochs), CMD_TRAIN,
      "--epochs N          epochs in all, counting those a resumed run already did" },
    { "batch", ARG_COUNT, offsetof(cli_opts, batch), CMD_TRAIN | CMD_EVAL | CMD_GRADCHECK | CMD_BENCH,
      "--batch N           images per batch" },
    { "lr", ARG_RATE, offsetof(cli_opts, lr), CMD_TRAIN | CMD_STEP,
      "--lr X              learning rate" },
    { "seed", ARG_SEED, offsetof(cli_opts, seed), CMD_TRAIN | CMD_INIT | CMD_GRADCHECK | CMD_SAMPLE | CMD_BENCH,
      "--seed N            seed of the initial parameters and of the shuffling" },
    { "limit", ARG_COUNT, offsetof(cli_opts, limit), CMD_TRAIN | CMD_EVAL | CMD_ENCODE | CMD_REPORT | CMD_MAP,
      "--limit N           only the first N images (train: of each split)" },
    { "resume", ARG_FLAG, offsetof(cli_opts, resume), CMD_TRAIN,
      "--resume            go on from OUT's last checkpoint" },
    { "n", ARG_COUNT, offsetof(cli_opts, n), CMD_RECON | CMD_SAMPLE,
      "--n N               images to reconstruct or sample (default 8)" },
    { "cols", ARG_COUNT, offsetof(cli_opts, cols), CMD_DECODE | CMD_SAMPLE,
      "--cols N            images per row of the grid (default 8)" },
    { "method", ARG_METHOD, offsetof(cli_opts, method), CMD_MAP,
      "--method pca|tsne   principal components, or Barnes-Hut t-SNE (default pca)" },
    { "perplexity", ARG_RATE, offsetof(cli_opts, perplexity), CMD_TRAIN | CMD_REPORT | CMD_MAP,
      "--perplexity X      t-SNE's effective number of neighbours (default 30)" },
    { "iterations", ARG_COUNT, offsetof(cli_opts, iterations), CMD_TRAIN | CMD_REPORT | CMD_MAP,
      "--iterations N      t-SNE's gradient steps (default 1000)" },
    { "seconds", ARG_RATE, offsetof(cli_opts, seconds), CMD_BENCH,
      "--seconds X         bench: time for training and for inference, each (default 5)" },
    { "workers", ARG_COUNT, offsetof(cli_opts, workers), CMD_TRAIN | CMD_BENCH,
      "--workers N         run each batch as N slices at once, one thread each (default: one\n"
      "                    per core); 1 runs it whole, OpenBLAS threading each product" },
    { "only", ARG_ONLY, offsetof(cli_opts, only), CMD_BENCH,
      "--only train|infer  bench: measure one of the two (its own peak memory)" },
    { "profile", ARG_FLAG, offsetof(cli_opts, profile), CMD_TRAIN | CMD_BENCH,
      "--profile           time each layer's forward and backward passes and the optimizer\n"
      "                      (bench --only infer: the forward passes of inference steps)" },
    { "no-report", ARG_FLAG, offsetof(cli_opts, no_report), CMD_TRAIN,
      "--no-report         train only: no pictures and no report.html at the end" },
    { "from", ARG_INDEX, offsetof(cli_opts, from), CMD_INTERP,
      "--from I, --to J    interpolate between image I and image J (0-based) of the split," },
    { "to", ARG_INDEX, offsetof(cli_opts, to), CMD_INTERP,
      "                    or between rows I and J of --latents Z.npy" },
    { "steps", ARG_COUNT, offsetof(cli_opts, steps), CMD_INTERP,
      "--steps N           images in the interpolation, ends included (default 8)" },
    { "mode", ARG_MODE, offsetof(cli_opts, mode), CMD_INTERP,
      "--mode linear|slerp straight line, or spherical (for a gaussian prior) (default linear)" },
};
enum { N_OPTIONS = sizeof options / sizeof options[0] };

typedef struct {
    const char *name;
    unsigned bit;
    int (*run)(const aec_model *m, const cli_opts *o);
    const char *required[4];    /* options without which it cannot run */
    const char *synopsis, *summary;
} command;

static int cmd_train(const aec_model *m, const cli_opts *o);
static int cmd_eval(const aec_model *m, const cli_opts *o);
static int cmd_reconstruct(const aec_model *m, const cli_opts *o);
static int cmd_encode(const aec_model *m, const cli_opts *o);
static int cmd_decode(const aec_model *m, const cli_opts *o);
static int cmd_init(const aec_model *m, const cli_opts *o);
static int cmd_grad(const aec_model *m, const cli_opts *o);
static int cmd_step(const aec_model *m, const cli_opts *o);
static int cmd_info(const aec_model *m, const cli_opts *o);
static int cmd_gradcheck(const aec_model *m, const cli_opts *o);
static int cmd_sample(const aec_model *m, const cli_opts *o);
static int cmd_interpolate(const aec_model *m, const cli_opts *o);
static int cmd_report(const aec_model *m, const cli_opts *o);
static int cmd_bench(const aec_model *m, const cli_opts *o);
static int cmd_latent_map(const aec_model *m, const cli_opts *o);

static const command commands[] = {
    { "train", CMD_TRAIN, cmd_train, { "data", "out" },
      "--data DIR --out DIR [--epochs N] [--batch N] [--lr X] [--seed N] [--limit N] [--resume] [--no-report]\n"
      "                 [--profile] [--workers N] [--skip-bad]",
      "train; each epoch writes OUT/model.safetensors, OUT/optim.safetensors, OUT/loss.csv;\n"
      "                 the end, the pictures and OUT/report.html (see report)" },
    { "eval", CMD_EVAL, cmd_eval, { "data", "weights" },
      "--data DIR --weights FILE [--split test|train] [--batch N] [--limit N]",
      "print the mean loss over a split: `loss VALUE`" },
    { "reconstruct", CMD_RECON, cmd_reconstruct, { "data", "weights", "out" },
      "--data DIR --weights FILE --out FILE.png [--n N] [--split test|train]",
      "a PNG of the first N images (top row) over their reconstructions" },
    { "encode", CMD_ENCODE, cmd_encode, { "data", "weights", "out" },
      "--data DIR --weights FILE --out Z.npy [--labels L.npy] [--split test|train] [--limit N]",
      "the latents of a split, float32 [N, Z]" },
    { "decode", CMD_DECODE, cmd_decode, { "weights", "latents", "out" },
      "--weights FILE --latents Z.npy --out FILE.png [--cols N]",
      "a PNG grid of the images decoded from latents" },
    { "init", CMD_INIT, cmd_init, { "out" },
      "--out FILE.safetensors [--seed N]",
      "the initial parameters, as train would start from them" },
    { "grad", CMD_GRAD, cmd_grad, { "weights", "input", "out" },
      "--weights FILE --input X.npy --out G.safetensors [--eps E.npy]",
      "the loss (`loss`, a scalar) and every parameter's gradient on one batch" },
    { "step", CMD_STEP, cmd_step, { "weights", "input", "out" },
      "--weights FILE --input X.npy --out W.safetensors [--lr X] [--eps E.npy]",
      "the parameters after one optimizer step (fresh state) on one batch" },
    { "sample", CMD_SAMPLE, cmd_sample, { "weights", "out" },
      "--weights FILE --out FILE.png [--n N] [--seed N] [--cols N]",
      "a VAE's images decoded from z drawn from its prior N(0, I), as a grid" },
    { "interpolate", CMD_INTERP, cmd_interpolate, { "weights", "out" },
      "--weights FILE --out FILE.png (--data DIR [--split test|train] | --latents Z.npy) "
      "[--from I] [--to J] [--steps N] [--mode linear|slerp]",
      "a strip of images decoded along the way between two latents (default: images 0 and 1)" },
    { "report", CMD_REPORT, cmd_report, { "data", "weights", "out" },
      "--data DIR --weights FILE --out DIR [--split test|train] [--limit N] [--perplexity X] [--iterations N]",
      "loss.png (from DIR/loss.csv), recon.png, latent_pca.png, latent_tsne.png, interpolate.png,\n"
      "                 samples.png (a VAE) and report.html, for a checkpoint" },
    { "latent-map", CMD_MAP, cmd_latent_map, { "data", "weights", "out" },
      "--data DIR --weights FILE --out FILE.png [--method pca|tsne] [--split test|train] [--limit N]\n"
      "                 [--perplexity X] [--iterations N]",
      "a split's latents (mu of a VAE) in 2-D, coloured by label" },
    { "bench", CMD_BENCH, cmd_bench, { 0 },
      "[--batch N] [--seed N] [--seconds X] [--only train|infer] [--profile] [--workers N]",
      "images/s training and inferring on synthetic data, GFLOP/s, peak memory: one key=value line" },
    { "gradcheck", CMD_GRADCHECK, cmd_gradcheck, { 0 },
      "[--seed N] [--batch N]",
      "check the backward pass against finite differences, at random parameters and input" },
    { "info", CMD_INFO, cmd_info, { 0 },
      "",
      "the model's shapes, parameters and arena, and the BLAS kernels in use" },
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

/* ---- usage ---------------------------------------------------------------- */

static const char *prog_name(int argc, char **argv, const aec_model *m)
{
    if (argc < 1 || !argv[0] || !argv[0][0])
        return m->name;
    const char *slash = strrchr(argv[0], '/');
    return slash ? slash + 1 : argv[0];
}

static void usage(FILE *fp, const char *prog, const aec_model *m)
{
    const aec_train_cfg *d = &m->defaults;
    fprintf(fp, "usage: %s COMMAND [OPTIONS]\n\n", prog);
    fprintf(fp, "The autoencoder '%s', compiled by aec: input %dx%dx%d in [%g, %g], latent %d,\n"
                "%s loss, %s optimizer.\n\ncommands:\n",
            m->name, m->in_c, m->in_h, m->in_w, (double)m->in_lo, (double)m->in_hi, m->latent,
            m->loss == AEC_LOSS_MSE ? "mse" : "bce",
            d->optim.kind == AEC_OPT_ADAM ? "adam" : "sgd");
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(fp, "  %-12s %s\n  %-12s   %s\n", commands[i].name, commands[i].synopsis, "",
                commands[i].summary);
    fprintf(fp, "\noptions:\n");
    for (int i = 0; i < N_OPTIONS; i++)
        fprintf(fp, "  %s\n", options[i].help);
    fprintf(fp, "  --help              this text\n\n");
    fprintf(fp, "defaults (from the .ae file): --epochs %d --batch %d --lr %g --seed %" PRIu64 "\n",
            d->epochs, d->batch, (double)d->optim.lr, d->seed);
    fprintf(fp, "exit status: 0 done, 1 failed, 2 bad command line, 130 interrupted\n");
}

/* ---- parsing -------------------------------------------------------------- */

static int parse_count(const char *s, int *v)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end || x <= 0 || x > INT_MAX || s[0] == ' ')
        return -1;
    *v = (int)x;
    return 0;
}

static int parse_rate(const char *s, float *v)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || *end || !(x > 0.0) || !isfinite((float)x) || (float)x == 0.0f)
        return -1;
    *v = (float)x;
    return 0;
}

static int parse_seed(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] < '0' || s[0] > '9')
        return -1;
    *v = (uint64_t)x;
    return 0;
}

/* Parse val as the option's kind into its field; 0 if it is one. */
static int parse_value(const opt_spec *spec, const char *val, cli_opts *o)
{
    void *field = (char *)o + spec->offset;
    switch (spec->kind) {
    case ARG_COUNT:
        return parse_count(val, field);
    case ARG_RATE:
        return parse_rate(val, field);
    case ARG_SEED:
        return parse_seed(val, field);
    case ARG_INDEX: {
        uint64_t v;
        if (parse_seed(val, &v) != 0 || v > INT_MAX)
            return -1;
        *(int *)field = (int)v;
        return 0;
    }
    case ARG_SPLIT:
        if (strcmp(val, "test") != 0 && strcmp(val, "train") != 0)
            return -1;
        break;
    case ARG_MODE:
        if (strcmp(val, "linear") != 0 && strcmp(val, "slerp") != 0)
            return -1;
        break;
    case ARG_METHOD:
        if (strcmp(val, "pca") != 0 && strcmp(val, "tsne") != 0)
            return -1;
        break;
    case ARG_ONLY:
        if (strcmp(val, "train") != 0 && strcmp(val, "infer") != 0)
            return -1;
        break;
    case ARG_PATH:
        if (val[0] == '\0')
            return -1;
        break;
    default:
        return -1;
    }
    *(const char **)field = val;
    return 0;
}

/* Store val into the option's field; -1 after a message saying what it wants. */
static int set_value(const char *cmd, const opt_spec *spec, const char *val, cli_opts *o)
{
    static const char *wants[] = {
        [ARG_PATH] = "a non-empty path", [ARG_COUNT] = "a positive integer",
        [ARG_RATE] = "a positive number", [ARG_SEED] = "a non-negative integer",
        [ARG_SPLIT] = "'test' or 'train'", [ARG_FLAG] = "no value",
        [ARG_INDEX] = "a non-negative integer", [ARG_MODE] = "'linear' or 'slerp'",
        [ARG_METHOD] = "'pca' or 'tsne'", [ARG_ONLY] = "'train' or 'infer'",
    };
    if (parse_value(spec, val, o) == 0)
        return 0;
    aec_error("%s: --%s needs %s, not '%s'", cmd, spec->name, wants[spec->kind], val);
    return -1;
}

static const opt_spec *find_option(const char *name, size_t len)
{
    for (int i = 0; i < N_OPTIONS; i++)
        if (strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0)
            return &options[i];
    return NULL;
}

/* The option named at arg ("--name" or "--name=value") if cmd takes it;
 * NULL after a message. */
static const opt_spec *lookup_option(const command *cmd, const char *arg)
{
    if (strncmp(arg, "--", 2) != 0) {
        aec_error("%s: unexpected argument '%s' (options start with --)", cmd->name, arg);
        return NULL;
    }
    const char *name = arg + 2, *eq = strchr(name, '=');
    int len = (int)(eq ? (size_t)(eq - name) : strlen(name));
    const opt_spec *spec = find_option(name, (size_t)len);
    if (!spec)
        aec_error("%s: unknown option '--%.*s' (see --help)", cmd->name, len, name);
    else if (!(spec->cmds & cmd->bit))
        aec_error("%s: --%s is not an option of %s (usage: %s %s)", cmd->name, spec->name,
                  cmd->name, cmd->name, cmd->synopsis);
    return spec && (spec->cmds & cmd->bit) ? spec : NULL;
}

/* The value of the option at argv[*i]: after its '=', or the next argument
 * (then *i moves on to it). NULL if there is none: in "--out --batch 4",
 * --out has no value rather than the value "--batch". */
static const char *option_value(int argc, char **argv, int *i)
{
    const char *eq = strchr(argv[*i], '=');
    if (eq)
        return eq + 1;
    if (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0)
        return NULL;
    return argv[++*i];
}

/* One option at argv[*i], with its value; -1 after a message. */
static int parse_option(const command *cmd, int argc, char **argv, int *i, cli_opts *o)
{
    const opt_spec *spec = lookup_option(cmd, argv[*i]);
    if (!spec)
        return -1;
    o->given |= 1u << (spec - options);
    if (spec->kind == ARG_FLAG) {
        if (strchr(argv[*i], '=')) {
            aec_error("%s: --%s takes no value", cmd->name, spec->name);
            return -1;
        }
        *(int *)((char *)o + spec->offset) = 1;
        return 0;
    }
    const char *val = option_value(argc, argv, i);
    if (!val) {
        aec_error("%s: --%s needs a value", cmd->name, spec->name);
        return -1;
    }
    return set_value(cmd->name, spec, val, o);
}

static int given(const cli_opts *o, const char *name)
{
    const opt_spec *spec = find_option(name, strlen(name));
    return spec && (o->given & (1u << (spec - options)));
}

static int parse_args(const command *cmd, int argc, char **argv, cli_opts *o)
{
    for (int i = 2; i < argc; i++)
        if (parse_option(cmd, argc, argv, &i, o) != 0)
            return -1;
    for (int r = 0; r < 4 && cmd->required[r]; r++)
        if (!given(o, cmd->required[r])) {
            aec_error("%s: --%s is required (usage: %s %s)", cmd->name, cmd->required[r],
                      cmd->name, cmd->synopsis);
            return -1;
        }
    return 0;
}

static void set_defaults(cli_opts *o, const aec_model *m, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->split = "test";
    o->epochs = m->defaults.epochs;
    o->batch = m->defaults.batch;
    o->lr = m->defaults.optim.lr;
    o->seed = m->defaults.seed;
    o->n = 8;
    o->cols = 8;
    o->steps = 8;
    o->to = 1;
    o->mode = "linear";
    o->method = "pca";
    o->perplexity = 30;
    o->seconds = 5;
    o->iterations = 1000;
    o->argc = argc;
    o->argv = argv;
}

static int is_help(const char *s)
{
    return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0 || strcmp(s, "help") == 0;
}

static const command *find_command(const char *name)
{
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int aec_main(int argc, char **argv, const aec_model *m)
{
    const char *prog = prog_name(argc, argv, m);
    if (argc < 2 || !argv[1]) {
        usage(stderr, prog, m);
        return 2;
    }
    if (is_help(argv[1])) {
        usage(stdout, prog, m);
        return 0;
    }
    const command *cmd = find_command(argv[1]);
    if (!cmd) {
        aec_error("unknown command '%s'; the commands are train, eval, reconstruct, "
                  "encode, decode, init, grad, step (see %s --help)", argv[1], prog);
        return 2;
    }
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout, prog, m);
            return 0;
        }
    cli_opts o;
    set_defaults(&o, m, argc, argv);
    if (parse_args(cmd, argc, argv, &o) != 0)
        return 2;
    return cmd->run(m, &o);
}

/* ---- shared steps of the commands ------------------------------------------ */

static size_t image_floats(const aec_model *m)
{
    return (size_t)m->in_c * m->in_h * m->in_w;
}

/* The parameters from FILE into a new array; NULL after a message. */
static float *load_weights(const aec_model *m, const char *path)
{
    float *params = aec_alloc_floats(m->n_params, "parameters");
    if (params && aec_load_params(path, m, params) != 0) {
        free(params);
        return NULL;
    }
    return params;
}

/* X.npy as a batch of the model's input: float32 [B, C, H, W]. */
static int read_batch(const aec_model *m, const char *path, float **x, int *B)
{
    int ndim = 0;
    int64_t s[4] = { 0, 0, 0, 0 };
    if (aec_npy_read_f32(path, x, &ndim, s) != 0)
        return -1;
    if (ndim == 4 && s[1] == m->in_c && s[2] == m->in_h && s[3] == m->in_w
        && s[0] >= 1 && s[0] <= INT_MAX / 2) {
        *B = (int)s[0];
        return 0;
    }
    char got[96];
    int k = snprintf(got, sizeof got, "[");
    for (int d = 0; d < ndim && d < 4; d++)
        k += snprintf(got + k, sizeof got - (size_t)k, "%s%" PRId64, d ? ", " : "", s[d]);
    snprintf(got + k, sizeof got - (size_t)k, "%s]", ndim > 4 ? ", ..." : "");
    aec_error("%s: the input has shape %s; the model takes float32 [B, %d, %d, %d] with B >= 1",
              path, got, m->in_c, m->in_h, m->in_w);
    free(*x);
    *x = NULL;
    return -1;
}

/* The commands' common metadata: which model wrote the file. */
static void model_meta(const aec_model *m, const char *extra, char *out, size_t size)
{
    char name[256];
    aec_json_string(name, sizeof name, m->name);
    snprintf(out, size, "{\"model\":\"%s\"%s}", name, extra ? extra : "");
}

/* mkdir -p: every missing directory on the way to path. */
static int make_dirs(const char *path)
{
    char *p = strdup(path);
    struct stat st;
    if (!p) {
        aec_error("out of memory");
        return -1;
    }
    for (char *s = p; ; s++) {
        char c = *s;
        if (c != '/' && c != '\0')
            continue;
        *s = '\0';
        if (s > p && mkdir(p, 0777) != 0 && errno != EEXIST) {
            aec_error("%s: cannot create the directory: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    free(p);
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        aec_error("%s: not a directory", path);
        return -1;
    }
    return 0;
}

/* The command line again, with --resume: what to type after a Ctrl-C.
 * Arguments with characters a shell would act on are single-quoted. */
static char *resume_command(const cli_opts *o)
{
    size_t n = 16;
    for (int i = 0; i < o->argc; i++)
        n += 4 * strlen(o->argv[i]) + 3;
    char *s = malloc(n), *p = s;
    if (!s)
        return NULL;
    for (int i = 0; i < o->argc; i++) {
        const char *a = o->argv[i];
        int plain = a[0] && strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789_./=:,+-") == strlen(a);
        p += sprintf(p, "%s%s", i ? " " : "", plain ? "" : "'");
        for (; *a; a++)
            p += *a == '\'' ? sprintf(p, "'\\''") : sprintf(p, "%c", *a);
        p += sprintf(p, "%s", plain ? "" : "'");
    }
    if (!o->resume)
        sprintf(p, " --resume");
    return s;
}

/* ---- the commands ------------------------------------------------------------ */

/* A split of --data, limit images at most (0: all), honouring --skip-bad. */
static int load_data(const aec_model *m, const cli_opts *o, const char *split, int limit,
                     aec_dataset *d)
{
    return aec_dataset_load_skip(o->data, split, m, limit, o->skip_bad, d);
}

/* The report's settings for a run with these options (train: NULL when
 * the report does not follow training). */
static aec_report_opts report_opts(const aec_model *m, const cli_opts *o, const char *out_dir,
                                   const aec_dataset *val, const aec_dataset *train)
{
    aec_report_opts r = { .out_dir = out_dir, .data = o->data, .train = train, .cfg = m->defaults,
                          .tsne = AEC_TSNE_DEFAULTS };
    r.cfg.epochs = o->epochs;
    r.cfg.batch = o->batch;
    r.cfg.seed = o->seed;
    r.cfg.optim.lr = o->lr;
    r.tsne.seed = o->seed;
    r.tsne.perplexity = o->perplexity;
    r.tsne.iterations = o->iterations;
    r.tsne.progress = 1;
    r.class_names = aec_report_class_names(o->data, val, &r.n_classes);
    return r;
}

/* The pictures and the page, from the checkpoint training just wrote: read
 * back from disk (aec_train keeps its parameters to itself), so the report
 * shows exactly what was saved. */
static int report_after_training(const aec_model *m, const cli_opts *o, const aec_dataset *train,
                                 const aec_dataset *val)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", o->out);
    float *params = load_weights(m, path);
    aec_report_opts r = report_opts(m, o, o->out, val, train);
    int rc = !params || aec_report(m, params, val, &r) != 0;
    free(params);
    return rc;
}

static int cmd_train(const aec_model *m, const cli_opts *o)
{
    aec_dataset train = { 0 }, val = { 0 };
    aec_train_opts t = {
        .out_dir = o->out, .cfg = m->defaults, .resume = o->resume,
        .seed_given = given(o, "seed"), .quiet = 0, .profile = o->profile, .workers = o->workers,
    };
    t.cfg.epochs = o->epochs;
    t.cfg.batch = o->batch;
    t.cfg.seed = o->seed;
    t.cfg.optim.lr = o->lr;
    if (make_dirs(o->out) != 0 || load_data(m, o, "train", o->limit, &train) != 0)
        return 1;
    if (load_data(m, o, "test", o->limit, &val) != 0) {
        aec_dataset_free(&train);
        return 1;
    }
    char *cmdline = resume_command(o);
    t.resume_cmd = cmdline;
    int rc = aec_train(m, &t, &train, &val);
    free(cmdline);
    if (rc == 0 && !o->no_report)
        rc = report_after_training(m, o, &train, &val);
    aec_dataset_free(&train);
    aec_dataset_free(&val);
    return rc;
}

static int cmd_eval(const aec_model *m, const cli_opts *o)
{
    aec_dataset d = { 0 };
    if (load_data(m, o, o->split, o->limit, &d) != 0)
        return 1;
    float *params = load_weights(m, o->weights);
    double loss = params ? aec_evaluate(m, params, &d, o->batch) : NAN;
    if (params && !isnan(loss))
        printf("loss %.8g\n", loss);
    free(params);
    aec_dataset_free(&d);
    return params && !isnan(loss) ? 0 : 1;
}

/* Originals in the top row, their reconstructions under them. */
static int cmd_reconstruct(const aec_model *m, const cli_opts *o)
{
    aec_dataset d = { 0 };
    if (load_data(m, o, o->split, o->n, &d) != 0)
        return 1;
    size_t chw = image_floats(m);
    float *params = load_weights(m, o->weights);
    float *grid = params ? aec_alloc_floats(2 * (size_t)d.n * chw, "images") : NULL;
    int rc = grid ? 0 : 1;
    if (rc == 0) {
        memcpy(grid, d.x, (size_t)d.n * chw * sizeof(float));
        rc = aec_run(m, params, AEC_RUN_RECONSTRUCT, d.x, d.n, grid + (size_t)d.n * chw) != 0
          || aec_png_write_grid(o->out, grid, 2 * d.n, d.n, m->in_c, m->in_h, m->in_w,
                                m->in_lo, m->in_hi) != 0;
    }
    free(grid);
    free(params);
    aec_dataset_free(&d);
    return rc;
}

static int write_labels(const char *path, const aec_dataset *d)
{
    if (!d->labels) {
        aec_error("%s: the data set has no labels to write", path);
        return -1;
    }
    return aec_npy_write_i64(path, d->labels, d->n);
}

static int cmd_encode(const aec_model *m, const cli_opts *o)
{
    aec_dataset d = { 0 };
    if (load_data(m, o, o->split, o->limit, &d) != 0)
        return 1;
    float *params = load_weights(m, o->weights);
    float *z = params ? aec_alloc_floats((size_t)d.n * m->latent, "latents") : NULL;
    int64_t shape[2] = { d.n, m->latent };
    int rc = !z
          || aec_run(m, params, AEC_RUN_ENCODE, d.x, d.n, z) != 0
          || aec_npy_write_f32(o->out, z, 2, shape) != 0
          || (o->labels && write_labels(o->labels, &d) != 0);
    free(z);
    free(params);
    aec_dataset_free(&d);
    return rc;
}

/* Z.npy must be float32 [N, Z] with the model's Z. */
static int read_latents(const aec_model *m, const char *path, float **z, int *n)
{
    int ndim = 0;
    int64_t s[4] = { 0, 0, 0, 0 };
    if (aec_npy_read_f32(path, z, &ndim, s) != 0)
        return -1;
    if (ndim == 2 && s[1] == m->latent && s[0] >= 1 && s[0] <= INT_MAX / 2) {
        *n = (int)s[0];
        return 0;
    }
    if (ndim == 2)
        aec_error("%s: latents of shape [%" PRId64 ", %" PRId64 "]; the model's are [N, %d]",
                  path, s[0], s[1], m->latent);
    else
        aec_error("%s: latents with %d dimension%s; the model's are [N, %d]", path, ndim,
                  ndim == 1 ? "" : "s", m->latent);
    free(*z);
    *z = NULL;
    return -1;
}

static int cmd_decode(const aec_model *m, const cli_opts *o)
{
    float *z = NULL;
    int n = 0;
    if (read_latents(m, o->latents, &z, &n) != 0)
        return 1;
    float *params = load_weights(m, o->weights);
    float *y = params ? aec_alloc_floats((size_t)n * image_floats(m), "images") : NULL;
    int cols = o->cols < n ? o->cols : n;
    int rc = !y
          || aec_run(m, params, AEC_RUN_DECODE, z, n, y) != 0
          || aec_png_write_grid(o->out, y, n, cols, m->in_c, m->in_h, m->in_w,
                                m->in_lo, m->in_hi) != 0;
    free(y);
    free(params);
    free(z);
    return rc;
}

static int cmd_init(const aec_model *m, const cli_opts *o)
{
    char extra[64], meta[512];
    float *params = aec_alloc_floats(m->n_params, "parameters");
    if (!params)
        return 1;
    aec_init_params(m, params, o->seed);
    snprintf(extra, sizeof extra, ",\"epoch\":\"0\",\"seed\":\"%" PRIu64 "\"", o->seed);
    model_meta(m, extra, meta, sizeof meta);
    int rc = aec_save_params(o->out, m, params, meta) != 0;
    free(params);
    return rc;
}

/* E.npy into the arena: a VAE's noise must be given, so that the result is
 * comparable (with PyTorch's, say); other models take none. */
static int put_given_eps(const aec_model *m, const char *path, float *arena, int B)
{
    if (!m->variational) {
        if (path)
            aec_error("--eps: model '%s' has no variational latent", m->name);
        return path ? -1 : 0;
    }
    if (!path) {
        aec_error("model '%s' samples its latent: give the noise with --eps E.npy, float32 [%d, %d]",
                  m->name, B, m->latent);
        return -1;
    }
    float *eps = NULL;
    int ndim = 0;
    int64_t s[4] = {0, 0, 0, 0};
    if (aec_npy_read_f32(path, &eps, &ndim, s) != 0)
        return -1;
    int ok = ndim == 2 && s[0] == B && s[1] == m->latent;
    if (ok)
        aec_put_eps(m, arena, eps, B);
    else
        aec_error("%s: eps must be float32 [%d, %d], one row per input image", path, B, m->latent);
    free(eps);
    return ok ? 0 : -1;
}

/* Forward, loss and backward on X.npy: the loss, and the gradients in grads. */
static int batch_gradient(const aec_model *m, const float *params, const char *input,
                          const char *eps, float *grads, float *loss)
{
    float *x = NULL, *arena = NULL;
    int B = 0;
    if (read_batch(m, input, &x, &B) != 0 || !(arena = aec_arena_alloc(m, B))
        || put_given_eps(m, eps, arena, B) != 0) {
        free(x);
        free(arena);
        return -1;
    }
    *loss = aec_forward(m, params, arena, x, B);
    memset(grads, 0, m->n_params * sizeof(float));
    m->backward(params, grads, arena, B);
    free(arena);
    free(x);
    return 0;
}

/* `loss` is a 0-dim tensor, as PyTorch's loss.item()'s tensor is. */
static int write_grads(const aec_model *m, const char *path, const float *grads, const float *loss)
{
    char meta[512];
    aec_tensor *t = malloc(((size_t)m->n_tensors + 1) * sizeof *t);
    if (!t) {
        aec_error("%s: out of memory", path);
        return -1;
    }
    t[0] = (aec_tensor){ .name = "loss", .ndim = 0, .data = loss };
    aec_param_tensors(m, grads, t + 1);
    model_meta(m, NULL, meta, sizeof meta);
    int rc = aec_safetensors_write(path, t, m->n_tensors + 1, meta);
    free(t);
    return rc;
}

static int cmd_grad(const aec_model *m, const cli_opts *o)
{
    float loss = 0.0f;
    float *params = load_weights(m, o->weights);
    float *grads = params ? aec_alloc_floats(m->n_params, "gradients") : NULL;
    int rc = !grads
          || batch_gradient(m, params, o->input, o->eps, grads, &loss) != 0
          || write_grads(m, o->out, grads, &loss) != 0;
    free(grads);
    free(params);
    return rc;
}

/* One step of the model's optimizer from fresh state: for parity tests. */
static int cmd_step(const aec_model *m, const cli_opts *o)
{
    char meta[512];
    float loss = 0.0f;
    aec_optim opt = { 0 };
    aec_optim_cfg cfg = m->defaults.optim;
    cfg.lr = o->lr;
    float *params = load_weights(m, o->weights);
    float *grads = params ? aec_alloc_floats(m->n_params, "gradients") : NULL;
    int rc = !grads
          || batch_gradient(m, params, o->input, o->eps, grads, &loss) != 0
          || aec_optim_init(&opt, &cfg, m->n_params) != 0;
    if (rc == 0) {
        aec_optim_step(&opt, params, grads);
        model_meta(m, NULL, meta, sizeof meta);
        rc = aec_save_params(o->out, m, params, meta) != 0;
    }
    aec_optim_free(&opt);
    free(grads);
    free(params);
    return rc;
}


static int cmd_info(const aec_model *m, const cli_opts *o)
{
    printf("model: %s, input %dx%dx%d in [%g, %g], latent %d, loss %s\n", m->name, m->in_c, m->in_h,
           m->in_w, m->in_lo, m->in_hi, m->latent, m->loss == AEC_LOSS_MSE ? "mse" : "bce");
    printf("parameters: %zu in %d tensors\n", m->n_params, m->n_tensors);
    printf("arena: %zu floats per image (%.1f MiB at batch %d)\n", m->arena_per_image,
           m->arena_per_image * 4.0 * m->defaults.batch / 1048576.0, m->defaults.batch);
    printf("blas: OpenBLAS %s, %d threads\n", openblas_get_corename(), openblas_get_num_threads());
    return 0;
}

/* Random parameters (as init makes them) and a random batch in the input
 * range; every tensor probed at 16 entries. */
static int cmd_gradcheck(const aec_model *m, const cli_opts *o)
{
    int B = given(o, "batch") ? o->batch : 2;   /* small: each probe is 3 forward passes */
    size_t n = (size_t)B * m->in_c * m->in_h * m->in_w;
    float *p = aec_alloc_floats(m->n_params, "parameters"), *x = aec_alloc_floats(n, "input");
    aec_gradcheck_result per[256], all;
    int rc = 1;
    if (p && x && m->n_tensors <= 256) {
        aec_rng r;
        aec_init_params(m, p, o->seed);
        aec_rng_seed(&r, aec_rng_seed_mix(o->seed, 1));
        aec_random_images(m, &r, B, x);
        rc = aec_gradcheck(m, p, x, B, 16, 1e-2f, 1e-3, o->seed, per, &all) != 0;
    }
    for (int i = 0; rc == 0 && i < m->n_tensors; i++)
        printf("%-28s worst relative error %.2e, %2d of %d probes at a relu kink%s\n", m->params[i].name,
               per[i].worst, per[i].skipped, per[i].probes, per[i].inconclusive ? ": inconclusive" : "");
    if (rc == 0)
        printf("worst: %.2e over %d probes, %d tensor(s) inconclusive: %s\n", all.worst,
               all.probes - all.skipped, all.inconclusive,
               all.worst < 0.05 ? "ok" : "the backward pass looks wrong");
    free(p);
    free(x);
    return rc || all.worst >= 0.05;
}

/* ---- sampling and interpolation ------------------------------------------------ */

/* z [n, Z] through the decoder into a PNG grid. */
static int decode_to_png(const aec_model *m, const float *params, const float *z, int n, int cols,
                         const char *path)
{
    float *y = aec_alloc_floats((size_t)n * image_floats(m), "images");
    int rc = !y
          || aec_run(m, params, AEC_RUN_DECODE, z, n, y) != 0
          || aec_png_write_grid(path, y, n, cols < n ? cols : n, m->in_c, m->in_h, m->in_w,
                                m->in_lo, m->in_hi) != 0;
    free(y);
    return rc;
}

static int cmd_sample(const aec_model *m, const cli_opts *o)
{
    if (!m->variational) {
        aec_error("sample: model '%s' has no variational latent (latent gaussian(Z)), so no prior to "
                  "sample from; try interpolate", m->name);
        return 1;
    }
    float *params = load_weights(m, o->weights);
    float *z = params ? aec_alloc_floats((size_t)o->n * m->latent, "latents") : NULL;
    int rc = 1;
    if (z) {
        aec_prior_latents(m, o->seed, o->n, z);
        rc = decode_to_png(m, params, z, o->n, o->cols, o->out);
    }
    free(z);
    free(params);
    return rc;
}

/* Rows from and to of src (n rows of Z) into a and b. */
static int pick_rows(const aec_model *m, const cli_opts *o, const float *src, int n, float *a, float *b)
{
    if (o->from >= n || o->to >= n) {
        aec_error("interpolate: --from %d --to %d, but there are only %d %s", o->from, o->to, n,
                  o->latents ? "latents" : "images");
        return -1;
    }
    memcpy(a, src + (size_t)o->from * m->latent, (size_t)m->latent * sizeof *a);
    memcpy(b, src + (size_t)o->to * m->latent, (size_t)m->latent * sizeof *b);
    return 0;
}

/* The two ends: rows of --latents, or the encodings (mu of a VAE) of two images. */
static int interp_ends(const aec_model *m, const cli_opts *o, const float *params, float *a, float *b)
{
    float *src = NULL;
    int n = 0, rc = -1;
    if (o->latents) {
        if (read_latents(m, o->latents, &src, &n) == 0)
            rc = pick_rows(m, o, src, n, a, b);
        free(src);
        return rc;
    }
    if (!o->data) {
        aec_error("interpolate: give --data DIR (and --from, --to) or --latents Z.npy");
        return -1;
    }
    aec_dataset d;
    int limit = (o->from > o->to ? o->from : o->to) + 1;
    if (load_data(m, o, o->split, limit, &d) != 0)
        return -1;
    src = aec_alloc_floats((size_t)d.n * m->latent, "latents");
    if (src && aec_run(m, params, AEC_RUN_ENCODE, d.x, d.n, src) == 0)
        rc = pick_rows(m, o, src, d.n, a, b);
    free(src);
    aec_dataset_free(&d);
    return rc;
}

static int cmd_interpolate(const aec_model *m, const cli_opts *o)
{
    float *params = load_weights(m, o->weights);
    float *ends = params ? aec_alloc_floats(2 * (size_t)m->latent, "latents") : NULL;
    float *z = ends ? aec_alloc_floats((size_t)o->steps * m->latent, "latents") : NULL;
    int rc = 1;
    if (z && interp_ends(m, o, params, ends, ends + m->latent) == 0) {
        aec_interpolate_latents(ends, ends + m->latent, m->latent, o->steps, strcmp(o->mode, "slerp") == 0, z);
        rc = decode_to_png(m, params, z, o->steps, o->steps, o->out);
    }
    free(z);
    free(ends);
    free(params);
    return rc;
}

/* ---- reports ------------------------------------------------------------------- */

static int cmd_report(const aec_model *m, const cli_opts *o)
{
    aec_dataset d = { 0 };
    if (make_dirs(o->out) != 0 || load_data(m, o, o->split, o->limit, &d) != 0)
        return 1;
    float *params = load_weights(m, o->weights);
    aec_report_opts r = report_opts(m, o, o->out, &d, NULL);
    int rc = !params || aec_report(m, params, &d, &r) != 0;
    free(params);
    aec_dataset_free(&d);
    return rc;
}

static int cmd_latent_map(const aec_model *m, const cli_opts *o)
{
    aec_dataset d = { 0 };
    if (load_data(m, o, o->split, o->limit, &d) != 0)
        return 1;
    float *params = load_weights(m, o->weights);
    aec_report_opts r = report_opts(m, o, NULL, &d, NULL);
    int rc = !params || aec_latent_map(m, params, &d, &r, strcmp(o->method, "tsne") == 0, o->out) != 0;
    free(params);
    aec_dataset_free(&d);
    return rc;
}

static int cmd_bench(const aec_model *m, const cli_opts *o)
{
    aec_bench_opts b = { .B = o->batch, .seconds = o->seconds, .seed = o->seed, .profile = o->profile,
                         .workers = o->workers,
                         .train = !o->only || !strcmp(o->only, "train"),
                         .infer = !o->only || !strcmp(o->only, "infer") };
    return aec_bench(m, &b) != 0;
}
