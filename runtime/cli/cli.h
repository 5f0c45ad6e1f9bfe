/* cli/cli.h: what the command line's files share: the parsed options, the
 * command table's entry, the commands, and the steps they share. */
#ifndef AEC_CLI_CLI_H
#define AEC_CLI_CLI_H

#include "aec.h"
#include "report/report.h"

enum {
    CMD_TRAIN = 1 << 0, CMD_EVAL = 1 << 1, CMD_RECON = 1 << 2, CMD_ENCODE = 1 << 3,
    CMD_DECODE = 1 << 4, CMD_INIT = 1 << 5, CMD_GRAD = 1 << 6, CMD_STEP = 1 << 7,
    CMD_INFO = 1 << 8, CMD_GRADCHECK = 1 << 9, CMD_SAMPLE = 1 << 10, CMD_INTERP = 1 << 11,
    CMD_REPORT = 1 << 12, CMD_MAP = 1 << 13, CMD_BENCH = 1 << 14, CMD_SCORE = 1 << 15,
};

typedef struct {
    const char *data, *out, *weights, *input, *latents, *labels, *split, *eps, *mode, *method, *only;
    const char *classes, *coords; /* --classes LIST (data/classes.h), --coords FILE.csv */
    const char *profile_csv;    /* bench --profile-csv FILE: the profile's rows for scripts (aec tune) */
    int epochs, batch, limit, n, cols, resume, from, to, steps, iterations, no_report, profile, workers;
    int skip_bad;               /* --skip-bad: leave bad images out of a folder's splits */
    int overwrite;              /* --overwrite: train over the run OUT holds */
    float lr, perplexity, seconds;
    uint64_t seed;
    uint64_t given;             /* bit i: options[i] was on the command line */
    int argc;
    char **argv;                /* for the resume command printed after Ctrl-C */
} cli_opts;

typedef struct {
    const char *name;
    unsigned bit;
    int (*run)(const aec_model *m, const cli_opts *o);
    const char *required[4];    /* options without which it cannot run */
    const char *synopsis, *summary;
} command;

/* options.c */
void aec_cli_set_defaults(cli_opts *o, const aec_model *m, int argc, char **argv);
/* The options after argv[1] for cmd; -1 after a message. */
int  aec_cli_parse_args(const command *cmd, int argc, char **argv, cli_opts *o);
/* Was option `name` on the command line? */
int  aec_cli_given(const cli_opts *o, const char *name);
/* Every option's help, a line each (usage). */
void aec_cli_print_options(FILE *fp);

/* common.c */
size_t aec_cli_image_floats(const aec_model *m);
/* The parameters from FILE into a new array; NULL after a message. */
float *aec_cli_load_weights(const aec_model *m, const char *path);
/* X.npy as a batch of the model's input: float32 [B, C, H, W]. */
int  aec_cli_read_batch(const aec_model *m, const char *path, float **x, int *B);
/* The commands' common metadata: which model wrote the file. */
void aec_cli_model_meta(const aec_model *m, const char *extra, char *out, size_t size);
/* mkdir -p: every missing directory on the way to path. */
int  aec_cli_make_dirs(const char *path);
/* Outputs that name one file, or an output inside --data: -1 after a
 * message. */
int  aec_cli_check_paths(const cli_opts *o);
/* The command line again, with --resume: what to type after a Ctrl-C. */
char *aec_cli_resume_command(const cli_opts *o);
/* A split of --data, limit images at most (0: all), honouring --skip-bad;
 * a folder's file names into *names (NULL: not wanted; aec_names_free). */
int  aec_cli_load_data(const aec_model *m, const cli_opts *o, const char *split, int limit, char ***names,
                       aec_dataset *d);
/* --classes into normal[] (all 0 when not given); -1 after a message. */
int  aec_cli_classes(const cli_opts *o, unsigned char normal[256]);
/* The parameters of --weights into a new array, and the classes that score
 * and report take as normal: --classes, else the ones the checkpoint was
 * trained on (train --classes records them in its metadata), saying so on
 * stderr; both, and they differ: an error. *one_class: whether either gave
 * any. NULL after a message. */
float *aec_cli_normal_weights(const aec_model *m, const cli_opts *o, const char *cmd, unsigned char normal[256],
                              int *one_class);
/* The report's settings for a run with these options (train: NULL when
 * the report does not follow training). */
aec_report_opts aec_cli_report_opts(const aec_model *m, const cli_opts *o, const char *out_dir,
                                    const aec_dataset *val, const aec_dataset *train);

/* parallel.c: a data-parallel job (core/ranks.h). Join it when a launcher
 * started this process; 0, or 1 after a message (this rank cannot join, or
 * the ranks run different models or command lines). */
int  aec_cli_join(const aec_model *m, const cli_opts *o);
/* aec_cli_load_data on every rank, rank 0 first (it makes the cache); 1
 * when any rank cannot. */
int  aec_cli_load_ranks(const aec_model *m, const cli_opts *o, const char *split, int limit, char ***names,
                        aec_dataset *d);

/* The commands: 0 done, 1 failed (reported), 130 interrupted. */
int aec_cmd_train(const aec_model *m, const cli_opts *o);
int aec_cmd_report(const aec_model *m, const cli_opts *o);
int aec_cmd_latent_map(const aec_model *m, const cli_opts *o);
int aec_cmd_eval(const aec_model *m, const cli_opts *o);
int aec_cmd_score(const aec_model *m, const cli_opts *o);
int aec_cmd_reconstruct(const aec_model *m, const cli_opts *o);
int aec_cmd_encode(const aec_model *m, const cli_opts *o);
int aec_cmd_decode(const aec_model *m, const cli_opts *o);
int aec_cmd_sample(const aec_model *m, const cli_opts *o);
int aec_cmd_interpolate(const aec_model *m, const cli_opts *o);
int aec_cmd_init(const aec_model *m, const cli_opts *o);
int aec_cmd_grad(const aec_model *m, const cli_opts *o);
int aec_cmd_step(const aec_model *m, const cli_opts *o);
int aec_cmd_info(const aec_model *m, const cli_opts *o);
int aec_cmd_gradcheck(const aec_model *m, const cli_opts *o);
int aec_cmd_bench(const aec_model *m, const cli_opts *o);

#endif
