/* options.c: the options every command may take, and parsing a command
 * line into cli_opts: each value checked, each failure one line naming it. */
#include "aec.h"
#include "cli/cli.h"
#include "data/classes.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

typedef enum { ARG_PATH, ARG_COUNT, ARG_RATE, ARG_SEED, ARG_FLAG, ARG_SPLIT, ARG_INDEX, ARG_MODE, ARG_METHOD, ARG_ONLY, ARG_CLASSES } arg_kind;

typedef struct {
    const char *name;           /* without the leading "--" */
    arg_kind kind;
    size_t offset;              /* of its field in cli_opts */
    unsigned cmds;              /* the commands that take it */
    const char *help;
} opt_spec;

#define ANY_DATA (CMD_TRAIN | CMD_EVAL | CMD_RECON | CMD_ENCODE | CMD_INTERP | CMD_REPORT | CMD_MAP | CMD_SCORE)
#define ANY_WEIGHTS (CMD_SCORE | CMD_EVAL | CMD_RECON | CMD_ENCODE | CMD_DECODE | CMD_GRAD | CMD_STEP | CMD_SAMPLE | CMD_INTERP | CMD_REPORT | CMD_MAP)

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
    { "classes", ARG_CLASSES, offsetof(cli_opts, classes), CMD_TRAIN | CMD_SCORE | CMD_REPORT,
      "--classes LIST      the normal classes, e.g. 0-8 or 1,3,5 (IDX labels): train on these only\n"
      "                      (validation keeps every class; the checkpoint records them); score,\n"
      "                      report: the AUROC of the others (default: the checkpoint's classes)" },
    { "coords", ARG_PATH, offsetof(cli_opts, coords), CMD_MAP,
      "--coords FILE.csv   latent-map: also write each point's index, label, x and y" },
    { "split", ARG_SPLIT, offsetof(cli_opts, split), CMD_SCORE | CMD_EVAL | CMD_RECON | CMD_ENCODE | CMD_INTERP | CMD_REPORT | CMD_MAP,
      "--split test|train  which part of the data set (default test)" },
    { "epochs", ARG_COUNT, offsetof(cli_opts, epochs), CMD_TRAIN,
      "--epochs N          epochs in all, counting those a resumed run already did" },
    { "batch", ARG_COUNT, offsetof(cli_opts, batch), CMD_TRAIN | CMD_EVAL | CMD_SCORE | CMD_GRADCHECK | CMD_BENCH,
      "--batch N           images per batch" },
    { "lr", ARG_RATE, offsetof(cli_opts, lr), CMD_TRAIN | CMD_STEP,
      "--lr X              learning rate" },
    { "seed", ARG_SEED, offsetof(cli_opts, seed), CMD_TRAIN | CMD_INIT | CMD_GRADCHECK | CMD_SAMPLE | CMD_BENCH,
      "--seed N            seed of the initial parameters and of the shuffling" },
    { "limit", ARG_COUNT, offsetof(cli_opts, limit), CMD_TRAIN | CMD_EVAL | CMD_SCORE | CMD_ENCODE | CMD_REPORT | CMD_MAP,
      "--limit N           only the first N images (train: of each split)" },
    { "resume", ARG_FLAG, offsetof(cli_opts, resume), CMD_TRAIN,
      "--resume            go on from OUT's last checkpoint" },
    { "overwrite", ARG_FLAG, offsetof(cli_opts, overwrite), CMD_TRAIN,
      "--overwrite         start over in an OUT that holds a run, deleting its checkpoint,\n"
      "                      loss.csv and report (without it, train refuses such an OUT)" },
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
    { "profile-csv", ARG_PATH, offsetof(cli_opts, profile_csv), CMD_BENCH,
      "--profile-csv FILE  bench: --profile, and its rows into FILE as CSV for scripts:\n"
      "                      layer,line,forward_ms,backward_ms (aec tune reads it)" },
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
_Static_assert(N_OPTIONS <= 64, "cli_opts.given has a bit per option");

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
    /* a float's normal range: 1e-50 rounds to 0, and is refused as 0 is */
    if ((errno && errno != ERANGE) || end == s || *end || !(x >= FLT_MIN) || !(x <= FLT_MAX))
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
        [ARG_PATH] = "a non-empty path", [ARG_COUNT] = "a whole number from 1 to 2147483647",
        [ARG_RATE] = "a number from 1.2e-38 to 3.4e+38 (a float's positive normal range)",
        [ARG_SEED] = "a whole number from 0 to 18446744073709551615",
        [ARG_SPLIT] = "'test' or 'train'", [ARG_FLAG] = "no value",
        [ARG_INDEX] = "a whole number from 0 to 2147483647", [ARG_MODE] = "'linear' or 'slerp'",
        [ARG_METHOD] = "'pca' or 'tsne'", [ARG_ONLY] = "'train' or 'infer'",
    };
    unsigned char in[AEC_MAX_CLASS + 1];
    if (spec->kind == ARG_CLASSES) {        /* the list's own message says what is wrong */
        if (aec_classes_parse(val, in) != 0)
            return -1;
        *(const char **)((char *)o + spec->offset) = val;
        return 0;
    }
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
    o->given |= 1ull << (spec - options);
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

int aec_cli_given(const cli_opts *o, const char *name)
{
    const opt_spec *spec = find_option(name, strlen(name));
    return spec && (o->given & (1ull << (spec - options)));
}

int aec_cli_parse_args(const command *cmd, int argc, char **argv, cli_opts *o)
{
    for (int i = 2; i < argc; i++)
        if (parse_option(cmd, argc, argv, &i, o) != 0)
            return -1;
    for (int r = 0; r < 4 && cmd->required[r]; r++)
        if (!aec_cli_given(o, cmd->required[r])) {
            aec_error("%s: --%s is required (usage: %s %s)", cmd->name, cmd->required[r],
                      cmd->name, cmd->synopsis);
            return -1;
        }
    if (o->resume && o->overwrite) {
        aec_error("%s: --resume goes on from OUT's run, --overwrite starts over: give one",
                  cmd->name);
        return -1;
    }
    return 0;
}

void aec_cli_set_defaults(cli_opts *o, const aec_model *m, int argc, char **argv)
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

void aec_cli_print_options(FILE *fp)
{
    for (int i = 0; i < N_OPTIONS; i++)
        fprintf(fp, "  %s\n", options[i].help);
}
