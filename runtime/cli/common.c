/* common.c: the steps the commands share: loading weights, data and
 * batches, naming the model in a file's metadata, making the output folder. */
#define _XOPEN_SOURCE 700    /* realpath */
#include "aec.h"
#include "cli/cli.h"
#include "core/floats.h"
#include "data/classes.h"
#include "data/dataset.h"
#include "io/json.h"
#include "io/params.h"
#include "report/embed.h"
#include "report/report.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdio.h>

size_t aec_cli_image_floats(const aec_model *m)
{
    return (size_t)m->in_c * m->in_h * m->in_w;
}

/* The parameters of the checkpoint f, read from PATH, into a new array. */
static float *weights_from(const aec_model *m, const char *path, const aec_tensor_file *f)
{
    float *params = aec_alloc_floats(m->n_params, "parameters");
    if (params && aec_params_from_file(path, f, m, params) != 0) {
        free(params);
        return NULL;
    }
    return params;
}

float *aec_cli_load_weights(const aec_model *m, const char *path)
{
    aec_tensor_file f;
    if (aec_safetensors_read(path, &f) != 0)
        return NULL;
    float *params = weights_from(m, path, &f);
    aec_tensor_file_free(&f);
    return params;
}

int aec_cli_read_batch(const aec_model *m, const char *path, float **x, int *B)
{
    int ndim = 0;
    int64_t s[4] = { 0, 0, 0, 0 };
    if (aec_npy_read_f32(path, x, &ndim, s) != 0)
        return -1;
    if (ndim == 4 && s[1] == m->in_c && s[2] == m->in_h && s[3] == m->in_w
        && s[0] >= 1 && s[0] <= INT_MAX / 2) {
        *B = (int)s[0];
        if (aec_check_finite(path, "the input", *x, (size_t)*B * aec_cli_image_floats(m)) == 0)
            return 0;
    } else {
        char got[96];
        int k = snprintf(got, sizeof got, "[");
        for (int d = 0; d < ndim && d < 4; d++)
            k += snprintf(got + k, sizeof got - (size_t)k, "%s%" PRId64, d ? ", " : "", s[d]);
        snprintf(got + k, sizeof got - (size_t)k, "%s]", ndim > 4 ? ", ..." : "");
        aec_error("%s: the input has shape %s; the model takes float32 [B, %d, %d, %d] with B >= 1",
                  path, got, m->in_c, m->in_h, m->in_w);
    }
    free(*x);
    *x = NULL;
    return -1;
}

void aec_cli_model_meta(const aec_model *m, const char *extra, char *out, size_t size)
{
    char name[256];
    aec_json_string(name, sizeof name, m->name);
    snprintf(out, size, "{\"model\":\"%s\"%s}", name, extra ? extra : "");
}

int aec_cli_make_dirs(const char *path)
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

/* PATH made absolute with its links resolved, as far as it exists: the
 * missing tail is kept as written. malloc'd; NULL when out of memory. */
static char *canonical(const char *path)
{
    char *real = realpath(path, NULL);
    if (real || strcmp(path, ".") == 0 || strcmp(path, "/") == 0)
        return real ? real : strdup(path);
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path + (slash == path))) : strdup(".");
    char *head = dir ? canonical(dir) : NULL, *out = NULL;
    const char *tail = slash ? slash + 1 : path;
    if (head && (out = malloc(strlen(head) + strlen(tail) + 2)))
        sprintf(out, "%s%s%s", head, strcmp(head, "/") ? "/" : "", tail);
    free(dir);
    free(head);
    return out;
}

/* 1 if a is b or a folder inside it. */
static int is_within(const char *a, const char *b)
{
    size_t n = strlen(b);
    return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/' || (n == 1 && b[0] == '/'));
}

/* Every output another file than the others (encode's --out Z.npy
 * --labels Z.npy wrote the labels over the latents), and no output inside
 * --data: train's pictures would join the data set of the next run. */
int aec_cli_check_paths(const cli_opts *o)
{
    const char *outs[][2] = { { "out", o->out }, { "labels", o->labels } };
    char *out = o->out ? canonical(o->out) : NULL, *labels = o->labels ? canonical(o->labels) : NULL;
    char *data = o->data ? canonical(o->data) : NULL;
    int rc = 0;
    if (out && labels && strcmp(out, labels) == 0) {
        aec_error("--%s %s and --%s %s name the same file; give each output its own", outs[0][0],
                  outs[0][1], outs[1][0], outs[1][1]);
        rc = -1;
    }
    for (int i = 0; i < 2 && rc == 0 && data; i++) {
        char *c = i == 0 ? out : labels;
        if (c && is_within(c, data)) {
            aec_error("--%s %s is %s --data %s: what is written there would become part of the "
                      "data; write it elsewhere", outs[i][0], outs[i][1],
                      strcmp(c, data) == 0 ? "the same as" : "inside", o->data);
            rc = -1;
        }
    }
    free(out);
    free(labels);
    free(data);
    return rc;
}

/* Arguments with characters a shell would act on are single-quoted. */
char *aec_cli_resume_command(const cli_opts *o)
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

/* Where the data set names its classes (Fashion-MNIST's ten), a label beyond
 * them is a damaged labels file or another data set's: refused, as it would
 * drop the names, make the legend count up to it ("class 0-27 + 228 more")
 * and put its image in no class --classes can name sensibly. */
static int check_labels(const cli_opts *o, const char *split, const aec_dataset *d)
{
    int n_names;
    const char *const *names = aec_report_named_classes(o->data, &n_names);
    for (int i = 0; names && d->labels && i < d->n; i++)
        if (d->labels[i] < 0 || d->labels[i] >= n_names) {
            aec_error("%s: the %s split's labels file gives image %d the label %lld, but its "
                      "classes are 0 (%s) to %d (%s): a damaged labels file, or another data set's",
                      o->data, split, i, (long long)d->labels[i], names[0], n_names - 1,
                      names[n_names - 1]);
            return -1;
        }
    return 0;
}

int aec_cli_load_data(const aec_model *m, const cli_opts *o, const char *split, int limit, char ***names,
                      aec_dataset *d)
{
    if (aec_dataset_load_named(o->data, split, m, limit, o->skip_bad, d, names) != 0)
        return -1;
    if (check_labels(o, split, d) == 0)
        return 0;
    if (names) {
        aec_names_free(*names, d->n);
        *names = NULL;
    }
    aec_dataset_free(d);
    return -1;
}

int aec_cli_classes(const cli_opts *o, unsigned char normal[256])
{
    if (!o->classes) {
        memset(normal, 0, 256);
        return 0;
    }
    return aec_classes_parse(o->classes, normal);
}

/* normal[] from --classes (given in normal already) and the "classes" of
 * the checkpoint f's metadata, as aec_cli_normal_weights says. */
static int normal_classes(const cli_opts *o, const char *cmd, const aec_tensor_file *f, unsigned char normal[256],
                          int *one_class)
{
    char was[AEC_CLASSES_TEXT], now[AEC_CLASSES_TEXT];
    unsigned char saved[AEC_MAX_CLASS + 1];
    if (aec_meta_get(f->metadata_json, "classes", was, sizeof was) != 0)
        was[0] = '\0';         /* none: not a one-class run */
    *one_class = o->classes || was[0];
    if (!was[0])
        return 0;
    if (aec_classes_parse(was, saved) != 0) {
        aec_error("%s: the metadata's \"classes\" is not a list of classes", o->weights);
        return -1;
    }
    if (!o->classes) {
        memcpy(normal, saved, sizeof saved);
        fprintf(stderr, "%s: %s was trained on classes %s only (its metadata): the other classes are the "
                        "anomalies\n", cmd, o->weights, was);
        return 0;
    }
    if (memcmp(normal, saved, sizeof saved) == 0)
        return 0;
    aec_classes_format(normal, now, sizeof now);
    aec_error("%s: --classes %s disagrees with %s, which was trained on classes %s (its metadata); leave "
              "--classes out to take those as the normal ones", cmd, now, o->weights, was);
    return -1;
}

/* One read of the checkpoint serves both its classes and its parameters. */
float *aec_cli_normal_weights(const aec_model *m, const cli_opts *o, const char *cmd, unsigned char normal[256],
                              int *one_class)
{
    aec_tensor_file f;
    *one_class = 0;
    if (aec_cli_classes(o, normal) != 0 || aec_safetensors_read(o->weights, &f) != 0)
        return NULL;
    float *params = normal_classes(o, cmd, &f, normal, one_class) == 0 ? weights_from(m, o->weights, &f) : NULL;
    aec_tensor_file_free(&f);
    return params;
}

aec_report_opts aec_cli_report_opts(const aec_model *m, const cli_opts *o, const char *out_dir,
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
