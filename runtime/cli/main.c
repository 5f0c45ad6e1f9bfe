/* cli/main.c: aec_main, the command line every compiled model has.
 *
 * Exit status: 0 success, 1 a runtime failure (a file, the data, memory),
 * 2 a bad command line, 130 training or its report stopped by Ctrl-C, 143 by
 * SIGTERM. Every message is one line naming what was wrong; nothing here
 * asserts or exits by itself.
 */
#include "aec.h"
#include "cli/cli.h"

#include <inttypes.h>
#include <string.h>
#include <stdio.h>

static const command commands[] = {
    { "train", CMD_TRAIN, aec_cmd_train, { "data", "out" },
      "--data DIR --out DIR [--epochs N] [--batch N] [--lr X] [--seed N] [--limit N] [--resume | --overwrite]\n"
      "                 [--no-report] [--profile] [--workers N] [--skip-bad] [--classes LIST]",
      "train; each epoch writes OUT/model.safetensors, OUT/optim.safetensors, OUT/loss.csv;\n"
      "                 the end, the pictures and OUT/report.html (see report)" },
    { "eval", CMD_EVAL, aec_cmd_eval, { "data", "weights" },
      "--data DIR --weights FILE [--split test|train] [--batch N] [--limit N]",
      "print the mean loss over a split: `loss VALUE`" },
    { "score", CMD_SCORE, aec_cmd_score, { "data", "weights", "out" },
      "--data DIR --weights FILE --out FILE.csv [--split test|train] [--batch N] [--limit N] [--classes LIST]",
      "each image's loss (a VAE's recon and kl too) as CSV rows; with classes (--classes, or those\n"
      "                 the checkpoint was trained on), the AUROC of the other classes as anomalies,\n"
      "                 overall and per class, and FILE_roc.png" },
    { "reconstruct", CMD_RECON, aec_cmd_reconstruct, { "data", "weights", "out" },
      "--data DIR --weights FILE --out FILE.png [--n N] [--split test|train]",
      "a PNG of the first N images (top row) over their reconstructions" },
    { "encode", CMD_ENCODE, aec_cmd_encode, { "data", "weights", "out" },
      "--data DIR --weights FILE --out Z.npy [--labels L.npy] [--split test|train] [--limit N]",
      "the latents of a split, float32 [N, Z]" },
    { "decode", CMD_DECODE, aec_cmd_decode, { "weights", "latents", "out" },
      "--weights FILE --latents Z.npy --out FILE.png [--cols N]",
      "a PNG grid of the images decoded from latents" },
    { "init", CMD_INIT, aec_cmd_init, { "out" },
      "--out FILE.safetensors [--seed N]",
      "the initial parameters, as train would start from them" },
    { "grad", CMD_GRAD, aec_cmd_grad, { "weights", "input", "out" },
      "--weights FILE --input X.npy --out G.safetensors [--eps E.npy]",
      "the loss (`loss`, a scalar) and every parameter's gradient on one batch" },
    { "step", CMD_STEP, aec_cmd_step, { "weights", "input", "out" },
      "--weights FILE --input X.npy --out W.safetensors [--lr X] [--eps E.npy]",
      "the parameters after one optimizer step (fresh state) on one batch" },
    { "sample", CMD_SAMPLE, aec_cmd_sample, { "weights", "out" },
      "--weights FILE --out FILE.png [--n N] [--seed N] [--cols N]",
      "a VAE's images decoded from z drawn from its prior N(0, I), as a grid" },
    { "interpolate", CMD_INTERP, aec_cmd_interpolate, { "weights", "out" },
      "--weights FILE --out FILE.png (--data DIR [--split test|train] | --latents Z.npy) "
      "[--from I] [--to J] [--steps N] [--mode linear|slerp]",
      "a strip of images decoded along the way between two latents (default: images 0 and 1)" },
    { "report", CMD_REPORT, aec_cmd_report, { "data", "weights", "out" },
      "--data DIR --weights FILE --out DIR [--split test|train] [--limit N] [--perplexity X] [--iterations N]\n"
      "                 [--classes LIST]",
      "loss.png (from DIR/loss.csv), recon.png, worst.png, loss_hist.png, latent_pca.png,\n"
      "                 latent_tsne.png, interpolate.png, samples.png (a VAE), roc.png (classes), their\n"
      "                 numbers (scores.csv, latent_pca.csv, latent_tsne.csv) and report.html" },
    { "latent-map", CMD_MAP, aec_cmd_latent_map, { "data", "weights", "out" },
      "--data DIR --weights FILE --out FILE.png [--method pca|tsne] [--split test|train] [--limit N]\n"
      "                 [--perplexity X] [--iterations N] [--coords FILE.csv]",
      "a split's latents (mu of a VAE) in 2-D, coloured by label" },
    { "bench", CMD_BENCH, aec_cmd_bench, { 0 },
      "[--batch N] [--seed N] [--seconds X] [--only train|infer] [--profile] [--profile-csv FILE]\n"
      "                 [--workers N]",
      "images/s training and inferring on synthetic data, GFLOP/s, peak memory: one key=value line" },
    { "gradcheck", CMD_GRADCHECK, aec_cmd_gradcheck, { 0 },
      "[--seed N] [--batch N]",
      "check the backward pass against finite differences, at random parameters and input" },
    { "info", CMD_INFO, aec_cmd_info, { 0 },
      "",
      "the model's shapes, parameters and arena, and the BLAS kernels in use" },
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

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
    aec_cli_print_options(fp);
    fprintf(fp, "  --help              this text\n\n");
    fprintf(fp, "defaults (from the .ae file): --epochs %d --batch %d --lr %g --seed %" PRIu64 "\n",
            d->epochs, d->batch, (double)d->optim.lr, d->seed);
    fprintf(fp, "exit status: 0 done, 1 failed, 2 bad command line, 130 interrupted (Ctrl-C),\n"
                "             143 terminated (SIGTERM)\n");
}

static int is_help(const char *s)
{
    return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0 || strcmp(s, "help") == 0;
}

/* "train, eval, ..., info": every command of the table, in its order. */
static const char *command_names(char *buf, size_t size)
{
    size_t k = 0;
    for (int i = 0; i < N_COMMANDS && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%s", i ? ", " : "", commands[i].name);
    return buf;
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
        char names[512];
        aec_error("unknown command '%s'; the commands are %s (see %s --help)", argv[1],
                  command_names(names, sizeof names), prog);
        return 2;
    }
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout, prog, m);
            return 0;
        }
    cli_opts o;
    aec_cli_set_defaults(&o, m, argc, argv);
    if (aec_cli_parse_args(cmd, argc, argv, &o) != 0 || aec_cli_check_paths(&o) != 0)
        return 2;
    return cmd->run(m, &o);
}
