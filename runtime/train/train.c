/* train.c: the training loop, its checkpoints and its progress display.
 *
 * One epoch: shuffle, then for each batch gather, forward, backward, step.
 * After it: validate, then write OUT/model.safetensors, OUT/optim.safetensors
 * and OUT/loss.csv, each atomically (PATH.tmp, then rename), so whatever
 * stops the run, OUT holds the last complete epoch and `--resume` goes on
 * from it exactly as if nothing had happened: the epoch-e shuffle depends on
 * (seed, e) alone, and the optimizer's moments and step count are saved.
 *
 * n = images in the training set, B = batch size, nb = batches per epoch.
 *
 * In a data-parallel job of R ranks (core/ranks.c), every rank holds the
 * whole model and the whole data set and shuffles it the same way; each
 * takes its share of every batch (split as workers split theirs, so that R
 * ranks of one worker take the slices one process of R workers would), and
 * one allreduce sums the shares' gradients, loss, faults and stop requests
 * before every rank takes the same step. Rank 0 starts (or resumes) the run
 * and sends it to the others; it alone validates and writes to OUT.
 */
#include "aec.h"
#include "core/clock.h"
#include "core/floats.h"
#include "core/ranks.h"
#include "core/rng.h"
#include "core/stop.h"
#include "exec/arena.h"
#include "exec/profile.h"
#include "exec/run.h"
#include "exec/workers.h"
#include "io/files.h"
#include "io/json.h"
#include "io/params.h"
#include "train/train.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- state ----------------------------------------------------------------- */

typedef struct {
    int epoch;
    double train, val, secs;
} csv_row;

typedef struct {
    const aec_model *m;
    const aec_train_opts *o;
    aec_train_cfg cfg;          /* as used: on resume, the checkpoint's seed */
    int B;                      /* batch size, at most n */
    int share;                  /* the most images of a batch one rank takes */
    int lead, quiet;            /* rank 0, which alone writes and prints */
    float *params, *grads, *x;  /* grads: n_params, then the allreduce's SUM_* */
    float *eps;                 /* a VAE's noise for the batch, [B, Z] */
    aec_workers *pool;          /* the step, split over the batch (workers.c) */
    int *idx;                   /* this epoch's order of the training images */
    aec_optim opt;
    int done;                   /* epochs completed and saved */
    csv_row *rows;              /* loss.csv, rows 1..done */
    int n_rows;
} trainer;

/* DIR/NAME, malloc'd; NULL after aec_error. */
static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p)
        aec_error("out of memory");
    else
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void trainer_close(trainer *t)
{
    free(t->params);
    free(t->grads);
    aec_workers_close(t->pool);
    free(t->eps);
    free(t->x);
    free(t->idx);
    free(t->rows);
    aec_optim_free(&t->opt);
}

/* The floats after the gradients that ride in the step's allreduce. */
enum { SUM_LOSS, SUM_FAULT, SUM_STOP, N_SUM };

static int trainer_open(trainer *t, const aec_model *m, const aec_train_opts *o, int n)
{
    memset(t, 0, sizeof *t);
    t->m = m;
    t->o = o;
    t->cfg = o->cfg;
    t->B = o->cfg.batch < n ? o->cfg.batch : n;
    t->share = (t->B + aec_rank_count() - 1) / aec_rank_count();
    t->lead = aec_rank() == 0;
    t->quiet = o->quiet || !t->lead;
    size_t chw = (size_t)m->in_c * m->in_h * m->in_w;
    t->params = aec_alloc_floats(m->n_params, "parameters");
    t->grads = aec_alloc_floats(m->n_params + N_SUM, "gradients");
    t->pool = aec_workers_open(m, o->workers, t->share, 1);
    t->eps = aec_alloc_floats((size_t)t->B * (m->variational ? m->latent : 1), "eps");
    t->x = aec_alloc_floats((size_t)t->share * chw, "batch");
    t->idx = malloc((size_t)n * sizeof(int));
    t->rows = malloc(((size_t)o->cfg.epochs + 1) * sizeof(csv_row));
    if (!t->params || !t->grads || !t->pool || !t->eps || !t->x || !t->idx || !t->rows) {
        if (!t->idx || !t->rows)
            aec_error("training state: out of memory");
        return -1;
    }
    return aec_optim_init(&t->opt, &o->cfg.optim, m->n_params);
}

/* ---- checkpoints ------------------------------------------------------------- */

static const char *optim_name(aec_opt_kind kind)
{
    return kind == AEC_OPT_ADAM ? "adam" : "sgd";
}

/* safetensors metadata is a flat object of strings; both files carry the
 * epoch, so a resume can tell a matching pair from a torn one. */
static void checkpoint_meta(const trainer *t, char *out, size_t size)
{
    char name[256], lr[32];
    aec_float_shortest(lr, sizeof lr, t->cfg.optim.lr);
    aec_json_string(name, sizeof name, t->m->name);
    snprintf(out, size,
             "{\"model\":\"%s\",\"epoch\":\"%d\",\"step\":\"%ld\",\"seed\":\"%" PRIu64
             "\",\"optimizer\":\"%s\",\"batch\":\"%d\",\"lr\":\"%s\"%s%s%s}",
             name, t->done, t->opt.step, t->cfg.seed, optim_name(t->cfg.optim.kind), t->B, lr,
             t->o->classes ? ",\"classes\":\"" : "", t->o->classes ? t->o->classes : "", t->o->classes ? "\"" : "");
}

/* The state tensors per parameter, named as PyTorch's optimizer state calls
 * them: Adam's exp_avg and exp_avg_sq, SGD's momentum_buffer (none without
 * momentum). names[i] is NULL when there is no such tensor. */
static int optim_state_names(const aec_optim *o, const char *names[2])
{
    names[0] = names[1] = NULL;
    if (o->cfg.kind == AEC_OPT_ADAM) {
        names[0] = "exp_avg";
        names[1] = "exp_avg_sq";
        return 2;
    }
    if (o->m)
        names[0] = "momentum_buffer";
    return o->m ? 1 : 0;
}

/* "conv1.weight" + "exp_avg" -> "conv1.weight.exp_avg", malloc'd. */
static char *state_name(const char *param, const char *suffix)
{
    size_t n = strlen(param) + strlen(suffix) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s.%s", param, suffix);
    return s;
}

/* Fill t with the optimizer's tensors; the count, or -1 (names freed). */
static int optim_tensors(const trainer *t, aec_tensor *out)
{
    const char *suffix[2];
    int per = optim_state_names(&t->opt, suffix), k = 0;
    for (int i = 0; i < t->m->n_tensors; i++)
        for (int j = 0; j < per; j++) {
            const aec_param *p = &t->m->params[i];
            char *name = state_name(p->name, suffix[j]);
            if (!name) {
                while (k > 0)
                    free((char *)out[--k].name);
                aec_error("optimizer state: out of memory");
                return -1;
            }
            out[k++] = aec_param_tensor(p, j == 0 ? t->opt.m : t->opt.v, name);
        }
    return k;
}

static int save_optim(const trainer *t, const char *path, const char *meta)
{
    aec_tensor *ts = malloc(((size_t)t->m->n_tensors * 2 + 1) * sizeof *ts);
    int k = ts ? optim_tensors(t, ts) : -1;
    if (!ts)
        aec_error("%s: out of memory", path);
    int rc = k < 0 ? -1 : aec_safetensors_write(path, ts, k, meta);
    for (int i = 0; i < k; i++)
        free((char *)ts[i].name);
    free(ts);
    return rc;
}

/* The two files must always hold one epoch, and a kill at any moment must
 * leave a pair that does. The optimizer state goes first, whole (its .tmp,
 * fsync, rename), to OUT/optim.safetensors.new; then the parameters to
 * model.safetensors; then the .new file is renamed over optim.safetensors.
 * A kill before the parameters' rename leaves epoch e - 1's pair; one
 * between the two renames leaves model.safetensors of epoch e next to a
 * whole optim.safetensors.new of epoch e, which resume puts in place
 * (roll_forward). */
static int save_checkpoint(const trainer *t)
{
    char meta[1536];
    char *mp = path_in(t->o->out_dir, "model.safetensors");
    char *op = path_in(t->o->out_dir, "optim.safetensors");
    char *np = path_in(t->o->out_dir, "optim.safetensors.new");
    int rc = -1;
    checkpoint_meta(t, meta, sizeof meta);
    if (mp && op && np && save_optim(t, np, meta) == 0 && aec_save_params(mp, t->m, t->params, meta) == 0) {
        rc = rename(np, op);
        if (rc != 0)
            aec_error("%s: cannot rename %s to it: %s", op, np, strerror(errno));
    }
    free(mp);
    free(op);
    free(np);
    return rc;
}

/* ---- loss.csv ---------------------------------------------------------------- */

static int write_csv(const trainer *t)
{
    char line[160];
    aec_out_file f;
    char *path = path_in(t->o->out_dir, "loss.csv");
    if (!path || aec_out_open(&f, path) != 0) {
        free(path);
        return -1;
    }
    const char *header = "epoch,train_loss,val_loss,seconds\n";
    aec_out_write(&f, header, strlen(header));
    for (int i = 0; i < t->n_rows; i++) {
        const csv_row *r = &t->rows[i];
        int n = snprintf(line, sizeof line, "%d,%.8g,%.8g,%.3f\n",
                         r->epoch, r->train, r->val, r->secs);
        aec_out_write(&f, line, (size_t)n);
    }
    int rc = aec_out_commit(&f);
    free(path);
    return rc;
}

/* On resume: keep the rows of the epochs the checkpoint holds. A missing
 * file only loses history, so it is not an error. */
static void read_csv(trainer *t)
{
    char line[256];
    char *path = path_in(t->o->out_dir, "loss.csv");
    FILE *fp = path ? fopen(path, "r") : NULL;
    t->n_rows = 0;
    while (fp && fgets(line, sizeof line, fp)) {
        csv_row r;
        if (sscanf(line, "%d,%lf,%lf,%lf", &r.epoch, &r.train, &r.val, &r.secs) == 4
            && r.epoch >= 1 && r.epoch <= t->done && t->n_rows < t->o->cfg.epochs)
            t->rows[t->n_rows++] = r;
    }
    if (fp)
        fclose(fp);
    free(path);
}

/* ---- metadata --------------------------------------------------------------- */

/* An integer field of a checkpoint's metadata, at most max; -1 after aec_error. */
static int meta_u64(const char *json, const char *path, const char *key, uint64_t max,
                    uint64_t *v)
{
    char buf[32], *end;
    if (aec_meta_get(json, key, buf, sizeof buf) != 0) {
        aec_error("%s: no \"%s\" in the metadata: not a checkpoint written by train", path, key);
        return -1;
    }
    errno = 0;
    *v = strtoull(buf, &end, 10);
    if (errno || end == buf || *end || buf[0] == '-' || *v > max) {
        aec_error("%s: metadata \"%s\" is \"%s\", not a count up to %" PRIu64, path, key,
                  buf, max);
        return -1;
    }
    return 0;
}

/* ---- resume ----------------------------------------------------------------- */

/* The checks that make a resumed run the continuation of the saved one. */
static int check_meta(trainer *t, const char *path, const char *meta)
{
    char s[256];
    if (aec_meta_get(meta, "model", s, sizeof s) != 0 || strcmp(s, t->m->name) != 0) {
        aec_error("%s: a checkpoint of model '%s', not '%s'", path,
                  aec_meta_get(meta, "model", s, sizeof s) == 0 ? s : "?", t->m->name);
        return -1;
    }
    if (aec_meta_get(meta, "optimizer", s, sizeof s) != 0
        || strcmp(s, optim_name(t->cfg.optim.kind)) != 0) {
        aec_error("%s: optimizer state is not %s's", path, optim_name(t->cfg.optim.kind));
        return -1;
    }
    return 0;
}

static int check_seed(trainer *t, const char *path, uint64_t seed)
{
    if (t->o->seed_given && seed != t->cfg.seed) {
        aec_error("%s: the run was seeded with %" PRIu64 ", not %" PRIu64
                  "; resume without --seed (or with --seed %" PRIu64 ")",
                  path, seed, t->cfg.seed, seed);
        return -1;
    }
    t->cfg.seed = seed;
    return 0;
}

/* A resumed run goes on with the batch size and learning rate it was
 * trained with: a change would make it a different run that its checkpoint
 * and loss.csv do not describe, so a different value is refused as a new
 * seed is. Without --lr the recorded rate is taken (as the seed is); the
 * batch size shapes the buffers made before the checkpoint is read, so a
 * default that differs is refused too. Checkpoints from before "lr" was
 * recorded are not checked for it. */
static int check_setting(const char *path, const char *meta, const char *key, const char *now,
                         int given)
{
    char was[64];
    if (aec_meta_get(meta, key, was, sizeof was) != 0 || strcmp(was, now) == 0)
        return 0;
    aec_error("%s: the run was trained with --%s %s, not %s--%s %s; resume with --%s %s, or "
              "start over with --overwrite", path, key, was, given ? "" : "the default ", key,
              now, key, was);
    return -1;
}

static int check_batch_lr(trainer *t, const char *path, const char *meta)
{
    char batch[32], lr[32], was[64];
    if (!t->o->lr_given && aec_meta_get(meta, "lr", was, sizeof was) == 0) {
        char *end;
        float x = strtof(was, &end);
        if (*end == '\0' && x > 0.0f && isfinite(x))
            t->cfg.optim.lr = t->opt.cfg.lr = x;
    }
    snprintf(batch, sizeof batch, "%d", t->B);
    aec_float_shortest(lr, sizeof lr, t->cfg.optim.lr);
    return check_setting(path, meta, "batch", batch, t->o->batch_given)
         | check_setting(path, meta, "lr", lr, t->o->lr_given);
}

/* A one-class run (train --classes) goes on with the classes its
 * checkpoint names, which score and report take as the normal ones. */
static int check_classes(const trainer *t, const char *path, const char *meta)
{
    char was[512] = "";
    const char *now = t->o->classes ? t->o->classes : "";
    if (aec_meta_get(meta, "classes", was, sizeof was) != 0)
        was[0] = '\0';
    if (strcmp(was, now) == 0)
        return 0;
    aec_error("%s: the run was trained on %s%s, not on %s%s; resume with the same --classes, or start "
              "over with --overwrite", path, *was ? "classes " : "every class", was,
              *now ? "classes " : "every class", now);
    return -1;
}

/* 1 if name is one of the optimizer's tensors ("conv1.weight.exp_avg"). */
static int is_state_name(const trainer *t, const char *name)
{
    const char *suffix[2];
    int per = optim_state_names(&t->opt, suffix);
    for (int i = 0; i < t->m->n_tensors; i++) {
        size_t k = strlen(t->m->params[i].name);
        if (strncmp(name, t->m->params[i].name, k) != 0 || name[k] != '.')
            continue;
        for (int j = 0; j < per; j++)
            if (strcmp(name + k + 1, suffix[j]) == 0)
                return 1;
    }
    return 0;
}

/* A tensor the optimizer does not have means another model's or another
 * optimizer's state, as for model.safetensors (io/params.c): the first is
 * named. With every state tensor found, there is one iff there are more. */
static int no_extra_state(const trainer *t, const char *path, const aec_tensor_file *f, int want)
{
    for (int i = 0; f->n > want && i < f->n; i++)
        if (!is_state_name(t, f->names[i])) {
            aec_error("%s: tensor '%s' is not optimizer state of model '%s' (%d tensors the "
                      "optimizer does not have)", path, f->names[i], t->m->name, f->n - want);
            return -1;
        }
    return 0;
}

static int load_state(trainer *t, const char *path, const aec_tensor_file *f)
{
    const char *suffix[2];
    int per = optim_state_names(&t->opt, suffix);
    for (int i = 0; i < t->m->n_tensors; i++)
        for (int j = 0; j < per; j++) {
            const aec_param *p = &t->m->params[i];
            char *name = state_name(p->name, suffix[j]);
            const float *src = name ? aec_tensor_file_find(f, name, p->numel) : NULL;
            if (!src)
                aec_error("%s: no tensor %s of %zu floats", path, name ? name : p->name, p->numel);
            else
                memcpy((j == 0 ? t->opt.m : t->opt.v) + p->offset, src, p->numel * sizeof(float));
            free(name);
            if (!src)
                return -1;
        }
    return no_extra_state(t, path, f, t->m->n_tensors * per);
}

/* optim.safetensors: the epoch, step, seed and moments. */
static int load_optim(trainer *t, const char *path)
{
    aec_tensor_file f;
    uint64_t epoch = 0, step = 0, seed = 0;
    if (aec_safetensors_read(path, &f) != 0)
        return -1;
    int rc = check_meta(t, path, f.metadata_json) != 0
          || meta_u64(f.metadata_json, path, "epoch", INT_MAX, &epoch) != 0
          || meta_u64(f.metadata_json, path, "step", LONG_MAX, &step) != 0
          || meta_u64(f.metadata_json, path, "seed", UINT64_MAX, &seed) != 0
          || check_seed(t, path, seed) != 0
          || check_classes(t, path, f.metadata_json) != 0
          || check_batch_lr(t, path, f.metadata_json) != 0
          || load_state(t, path, &f) != 0 ? -1 : 0;
    aec_tensor_file_free(&f);
    t->done = (int)epoch;
    t->opt.step = (long)step;
    return rc;
}

/* model.safetensors: the parameters, which must be this model's (each
 * tensor that does not fit is named) and of the same epoch. */
static int load_model(trainer *t, const char *path)
{
    aec_tensor_file f;
    uint64_t epoch = 0;
    if (aec_safetensors_read(path, &f) != 0)
        return -1;
    int rc = aec_params_from_file(path, &f, t->m, t->params) != 0
          || meta_u64(f.metadata_json, path, "epoch", INT_MAX, &epoch) != 0 ? -1 : 0;
    aec_tensor_file_free(&f);
    if (rc == 0 && epoch != (uint64_t)t->done) {
        aec_error("%s is from epoch %" PRIu64 " but optim.safetensors from epoch %d: "
                  "the last checkpoint was torn; start again without --resume",
                  path, epoch, t->done);
        return -1;
    }
    return rc;
}

/* The epoch in a checkpoint file's metadata, or -1 (a file that cannot be
 * read is reported as it is set aside). */
static long file_epoch(const char *path)
{
    aec_tensor_file f;
    char v[32];
    long e = -1;
    if (access(path, F_OK) != 0 || aec_safetensors_read(path, &f) != 0)
        return -1;
    if (aec_meta_get(f.metadata_json, "epoch", v, sizeof v) == 0)
        e = strtol(v, NULL, 10);
    aec_tensor_file_free(&f);
    return e;
}

/* After a kill between save_checkpoint's two renames: optim.safetensors.new
 * is whole and of the parameters' epoch, so finish its rename. A .new of any
 * other epoch belongs to a checkpoint that never reached model.safetensors. */
static void roll_forward(const char *mp, const char *op, const char *np)
{
    if (access(np, F_OK) != 0)
        return;
    long e = file_epoch(np);
    if (e >= 0 && e == file_epoch(mp))
        rename(np, op);
    else
        remove(np);
}

static int trainer_resume(trainer *t)
{
    char *mp = path_in(t->o->out_dir, "model.safetensors");
    char *op = path_in(t->o->out_dir, "optim.safetensors");
    char *np = path_in(t->o->out_dir, "optim.safetensors.new");
    if (mp && op && np)
        roll_forward(mp, op, np);
    int rc = mp && op && np && load_optim(t, op) == 0 && load_model(t, mp) == 0 ? 0 : -1;
    free(mp);
    free(op);
    free(np);
    if (rc != 0) {
        aec_error("cannot resume from %s (see above)", t->o->out_dir);
        return -1;
    }
    read_csv(t);
    if (!t->quiet)
        printf("resuming after epoch %d (step %ld) from %s\n", t->done, t->opt.step, aec_esc(t->o->out_dir));
    return 0;
}

/* ---- progress ----------------------------------------------------------------- */

/* On a terminal one line, redrawn at most 10 times a second; in a log, one
 * line per epoch, plus up to 3 within an epoch 30 s apart for long epochs.
 * A data-parallel job's (rank 0's) says how many ranks; its img/s are all
 * of theirs. */
typedef struct {
    int tty, quiet, ranks;
    int epoch, epochs, nb, n;   /* n: images per epoch */
    double t0, last;            /* the epoch's start, the last line drawn */
    int lines;                  /* lines within this epoch (not a terminal) */
} progress;

static progress progress_start(const trainer *t, int epoch, int n)
{
    progress p = {
        .tty = isatty(STDOUT_FILENO), .quiet = t->quiet, .ranks = aec_rank_count(),
        .epoch = epoch, .epochs = t->cfg.epochs, .nb = (n + t->B - 1) / t->B, .n = n,
    };
    p.t0 = p.last = aec_seconds();
    return p;
}

static void format_eta(char *out, size_t size, double s)
{
    if (!(s >= 0.0 && s < 1e8)) {
        snprintf(out, size, "?");
        return;
    }
    long sec = (long)(s + 0.5);
    if (sec >= 3600)
        snprintf(out, size, "%ld:%02ld:%02ld", sec / 3600, sec / 60 % 60, sec % 60);
    else
        snprintf(out, size, "%ld:%02ld", sec / 60, sec % 60);
}

/* " on N ranks" after the img/s of a data-parallel job, else nothing. */
static void ranks_note(const progress *p, char *out, size_t size)
{
    out[0] = '\0';
    if (p->ranks > 1)
        snprintf(out, size, " on %d ranks", p->ranks);
}

static void progress_batch(progress *p, int batch, int seen, double loss_sum)
{
    double t = aec_seconds();
    if (p->quiet || (p->tty ? t - p->last < 0.1 : t - p->last < 30.0 || p->lines >= 3))
        return;
    char eta[32];
    double rate = seen / (t - p->t0);
    double left = (double)(p->n - seen) + (double)p->n * (p->epochs - p->epoch);
    format_eta(eta, sizeof eta, left / rate);
    char ranks[32];
    ranks_note(p, ranks, sizeof ranks);
    printf("%sepoch %d/%d  batch %d/%d  loss %.6g  %.0f img/s%s  ETA %s%s",
           p->tty ? "\r" : "", p->epoch, p->epochs, batch, p->nb, loss_sum / seen, rate, ranks, eta,
           p->tty ? "\033[K" : "\n");
    fflush(stdout);
    p->last = t;
    p->lines += !p->tty;
}

static void progress_epoch(const progress *p, double train, double val, double secs)
{
    if (p->quiet)
        return;
    char ranks[32];
    ranks_note(p, ranks, sizeof ranks);
    printf("%sepoch %d/%d  train %.6g  val %.6g  %.1f s  %.0f img/s%s\n",
           p->tty ? "\r\033[K" : "", p->epoch, p->epochs, train, val, secs, p->n / secs, ranks);
    fflush(stdout);
}

/* ---- numerical faults --------------------------------------------------------- */

/* The first parameter tensor whose gradient is not finite, or -1. */
static int first_bad_grad(const aec_model *m, const float *grads)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (!aec_all_finite(grads + m->params[i].offset, m->params[i].numel))
            return i;
    return -1;
}

static const aec_layer *layer_of_tensor(const aec_model *m, int tensor)
{
    for (int i = 0; i < m->n_layers; i++) {
        const aec_layer *l = &m->layers[i];
        if (l->first_param >= 0 && tensor >= l->first_param && tensor < l->first_param + l->n_params)
            return l;
    }
    return NULL;
}

/* Training stops before the step is taken, so the parameters in memory and
 * the checkpoint on disk are the last good ones. */
static void say_fault(const trainer *t, const char *what, const char *whose, const aec_layer *l,
                      int epoch, int batch)
{
    char where[200] = "";
    if (l)
        snprintf(where, sizeof where, "; the first %s is layer %s's (%s.ae line %d)", whose, l->name,
                 t->m->name, l->line);
    aec_error("%s at step %ld (epoch %d, batch %d)%s; training stopped before that step "
              "(try a lower --lr)", what, t->opt.step + 1, epoch, batch, where);
    if (t->done > 0)
        aec_error("%s/model.safetensors keeps epoch %d, the last good one", t->o->out_dir, t->done);
    else
        aec_error("no epoch was completed, so nothing was saved");
}

/* 0, or 1 after saying which layer first went non-finite. */
static int check_forward(const trainer *t, float loss, int epoch, int batch)
{
    char what[64];
    if (isfinite(loss))
        return 0;
    /* a NaN's sign bit means nothing: "nan", never "-nan" */
    snprintf(what, sizeof what, "the loss is %g", isnan(loss) ? (double)NAN : (double)loss);
    say_fault(t, what, "output with a NaN or Inf", aec_workers_bad_layer(t->pool), epoch, batch);
    return 1;
}

static int check_backward(const trainer *t, int epoch, int batch)
{
    char what[160];
    if (aec_workers_grads_finite(t->pool))
        return 0;
    int bad = first_bad_grad(t->m, t->grads);
    snprintf(what, sizeof what, "the gradient of %s has a NaN or Inf", t->m->params[bad].name);
    say_fault(t, what, "such gradient", layer_of_tensor(t->m, bad), epoch, batch);
    return 1;
}

/* ---- the loop ----------------------------------------------------------------- */

/* The share's gradient into t->grads; its part of the batch's mean loss. */
static float share_grad(trainer *t, const float *eps, int n, int B)
{
    if (n == 0) {       /* a last batch smaller than R: this rank adds nothing */
        memset(t->grads, 0, t->m->n_params * sizeof *t->grads);
        return 0.0f;
    }
    return aec_workers_grad_share(t->pool, t->params, t->grads, t->x, eps, n, B);
}

/* The step's one allreduce over the ranks: the gradients, then the loss,
 * whether any rank's loss or gradient was not finite (the rank that found
 * it has said so), and whether any was asked to stop. 0, 1 (a fault) or
 * AEC_INTERRUPTED, the same on every rank. */
static int sum_ranks(trainer *t, float *loss, int fault)
{
    float *sum = t->grads + t->m->n_params;
    sum[SUM_LOSS] = *loss;
    sum[SUM_FAULT] = (float)fault;
    sum[SUM_STOP] = aec_stop_signal() != 0;
    double t0 = aec_profiling ? aec_seconds() : 0.0;
    aec_ranks_sum(t->grads, t->m->n_params + N_SUM);
    if (aec_profiling)
        aec_profile_allreduce(aec_seconds() - t0);
    *loss = sum[SUM_LOSS];
    if (sum[SUM_FAULT] > 0.0f && !fault)
        aec_error("stopped with the others: another rank's loss or gradient is not finite (see its "
                  "message); nothing of this step was taken");
    return sum[SUM_FAULT] > 0.0f ? 1 : sum[SUM_STOP] > 0.0f ? AEC_INTERRUPTED : 0;
}

/* One step on the B images idx; the batch's loss in *loss. 0, 1 when the
 * loss or a gradient is not finite (reported; the step is not taken), or,
 * in a job of several ranks, AEC_INTERRUPTED when one was asked to stop. */
static int train_batch(trainer *t, const aec_dataset *d, const int *idx, int B, aec_rng *noise,
                       int epoch, int batch, float *loss)
{
    const aec_model *m = t->m;
    double t0 = aec_seconds();
    int first, n = aec_workers_slice(B, aec_rank_count(), aec_rank(), &first);     /* this rank's share */
    aec_gather(d, idx + first, n, t->x);
    aec_draw_normals(m, t->eps, B, noise);
    *loss = share_grad(t, m->variational ? t->eps + (size_t)first * m->latent : NULL, n, B);
    int rc = check_forward(t, *loss, epoch, batch) != 0 || check_backward(t, epoch, batch) != 0;
    if (aec_rank_count() > 1)
        rc = sum_ranks(t, loss, rc);
    if (rc != 0)
        return rc;
    aec_workers_update(t->pool, &t->opt, t->params, t->grads, t0);
    return 0;
}

/* Epoch e's order depends on (seed, e) only, never on earlier epochs. */
static void shuffle_epoch(const trainer *t, int n, int e)
{
    aec_rng r;
    aec_rng_seed(&r, aec_rng_seed_mix(t->cfg.seed, (uint64_t)e));
    for (int i = 0; i < n; i++)
        t->idx[i] = i;
    aec_rng_shuffle(&r, t->idx, n);
}

/* One pass over d in shuffled batches of B, the last one partial (PyTorch's
 * DataLoader with shuffle=True, drop_last=False). The mean loss in *loss:
 * batch means weighted by batch size. 0, AEC_INTERRUPTED or 1. */
static int train_epoch(trainer *t, const aec_dataset *d, progress *p, double *loss)
{
    int n = d->n;
    double sum = 0.0;
    aec_rng noise;      /* a VAE's eps: like the shuffle, a function of (seed, epoch) */
    aec_rng_seed(&noise, aec_rng_seed_mix(t->cfg.seed, UINT64_C(1) << 32 | (uint64_t)p->epoch));
    shuffle_epoch(t, n, p->epoch);
    for (int first = 0; first < n; first += t->B) {
        if (aec_rank_count() == 1 && aec_stop_signal())   /* else it rides in the step's sum */
            return AEC_INTERRUPTED;
        int B = n - first < t->B ? n - first : t->B;
        float l;
        int rc = train_batch(t, d, t->idx + first, B, &noise, p->epoch, first / t->B + 1, &l);
        if (rc != 0)
            return rc;
        sum += (double)l * B;
        progress_batch(p, first / t->B + 1, first + B, sum);
    }
    *loss = sum / n;
    return 0;
}

/* Epoch e's checkpoint (or loss.csv) could not be written, a full disk most
 * often: loss.csv loses e's row again, and the message says what is kept. */
static void say_not_saved(trainer *t, int e)
{
    t->done = e - 1;
    t->n_rows--;
    if (write_csv(t) != 0)
        aec_error("%s/loss.csv still lists epoch %d; --resume drops that row", t->o->out_dir, e);
    if (t->done > 0)
        aec_error("epoch %d was not saved; %s/model.safetensors keeps epoch %d, the last saved",
                  e, t->o->out_dir, t->done);
    else
        aec_error("epoch %d was not saved, and no earlier one was", e);
}

static int one_epoch(trainer *t, const aec_dataset *train, const aec_dataset *val, int e)
{
    progress p = progress_start(t, e, train->n);
    double loss = 0.0;
    int rc = train_epoch(t, train, &p, &loss);
    if (rc != 0)
        return rc;
    double secs = aec_seconds() - p.t0;
    /* batches of a rank's share: the pool's arenas hold no more */
    double val_loss = t->lead ? aec_evaluate_with(t->pool, t->m, t->params, val, t->share, t->eps) : 0.0;
    t->done = e;
    t->rows[t->n_rows++] = (csv_row){ e, loss, val_loss, secs };
    /* loss.csv first, so a kill between the two leaves a row too many,
     * which resume drops (it keeps the rows of the epochs saved), never one
     * too few; a checkpoint that fails takes its row back out. */
    int bad = t->lead && (write_csv(t) != 0 || save_checkpoint(t) != 0);
    if (bad)
        say_not_saved(t, e);
    if (aec_ranks_agree(bad, "cannot write the checkpoint"))
        return 1;
    progress_epoch(&p, loss, val_loss, secs);
    return 0;
}

static void say_interrupted(const trainer *t)
{
    if (t->quiet)
        return;
    if (isatty(STDOUT_FILENO))
        printf("\n");
    fflush(stdout);
    if (t->done == 0) {
        fprintf(stderr, "%s before the first epoch ended: nothing saved\n", aec_stop_word());
        return;
    }
    fprintf(stderr, "%s: %s/model.safetensors holds epoch %d of %d; to go on%s:\n  %s\n",
            aec_stop_word(), aec_esc(t->o->out_dir), t->done, t->cfg.epochs,
            aec_rank_count() > 1 ? ", on as many ranks" : "",
            t->o->resume_cmd ? aec_esc(t->o->resume_cmd) : "train ... --resume");
}

/* Whether to stop after an epoch: any rank's signal stops them all. */
static int stop_agreed(void)
{
    return aec_ranks_first_bad(aec_stop_signal()) >= 0;
}

/* SIGINT and SIGTERM only raise a flag (core/stop.c), checked between
 * batches: the batch in flight finishes, nothing half-written reaches OUT.
 * The result is then 128 + the signal: 130 after Ctrl-C, 143 after SIGTERM
 * (on a rank that was not signalled itself, but stopped with the one that
 * was: 143). */
static int run_epochs(trainer *t, const aec_dataset *train, const aec_dataset *val)
{
    aec_stop_begin();
    int rc = 0;
    for (int e = t->done + 1; e <= t->cfg.epochs && rc == 0; e++) {
        rc = one_epoch(t, train, val, e);
        if (rc == 0 && stop_agreed() && e < t->cfg.epochs)
            rc = AEC_INTERRUPTED;
    }
    if (rc == AEC_INTERRUPTED) {
        say_interrupted(t);
        rc = aec_stop_signal() ? aec_stop_status() : 143;
    }
    aec_stop_end();
    return rc;
}

static int check_set(const aec_model *m, const aec_dataset *d, const char *what)
{
    if (d->n <= 0) {
        aec_error("train: the %s set is empty", what);
        return -1;
    }
    if (d->C != m->in_c || d->H != m->in_h || d->W != m->in_w) {
        aec_error("train: %s images are %dx%dx%d, the model takes %dx%dx%d", what,
                  d->C, d->H, d->W, m->in_c, m->in_h, m->in_w);
        return -1;
    }
    return 0;
}

static int check_inputs(const aec_model *m, const aec_train_opts *o,
                        const aec_dataset *train, const aec_dataset *val)
{
    if (o->cfg.batch <= 0 || o->cfg.epochs <= 0) {
        aec_error("train: batch (%d) and epochs (%d) must be positive", o->cfg.batch, o->cfg.epochs);
        return -1;
    }
    return check_set(m, train, "training") != 0 || check_set(m, val, "validation") != 0 ? -1 : 0;
}

/* Rank 0's start, fresh or resumed, on every rank: the parameters, the
 * optimizer's moments, and the epoch, step, seed and learning rate. */
static void share_start(trainer *t)
{
    struct { long step; uint64_t seed; float lr; int done; } s = {
        t->opt.step, t->cfg.seed, t->cfg.optim.lr, t->done,
    };
    size_t bytes = t->m->n_params * sizeof(float);
    if (aec_rank_count() == 1)
        return;
    aec_ranks_broadcast(&s, sizeof s);
    t->opt.step = s.step, t->cfg.seed = s.seed, t->done = s.done;
    t->cfg.optim.lr = t->opt.cfg.lr = s.lr;
    aec_ranks_broadcast(t->params, bytes);
    if (t->opt.m)
        aec_ranks_broadcast(t->opt.m, bytes);
    if (t->opt.v)
        aec_ranks_broadcast(t->opt.v, bytes);
}

/* Every rank takes a share of every full batch. */
static int check_ranks(const trainer *t)
{
    if (t->B >= aec_rank_count())
        return 0;
    if (t->lead)
        aec_error("train: a batch of %d cannot be shared by %d ranks: use --batch %d or more, or fewer "
                  "ranks", t->B, aec_rank_count(), aec_rank_count());
    return -1;
}

/* The trainer, fresh or resumed (by rank 0, then shared), on every rank;
 * 0, or 1 on every rank after a message. */
static int trainer_start(trainer *t, const aec_model *m, const aec_train_opts *o, int n)
{
    int rc = trainer_open(t, m, o, n) != 0 ? 1 : 0;
    if (aec_ranks_agree(rc, "cannot open its trainer") || check_ranks(t) != 0)
        return 1;
    if (t->lead && o->resume)
        rc = trainer_resume(t) != 0 ? 1 : 0;
    else if (t->lead)
        aec_init_params(m, t->params, t->cfg.seed);
    if (aec_ranks_agree(rc, "cannot resume"))
        return 1;
    share_start(t);
    return 0;
}

int aec_train(const aec_model *m, const aec_train_opts *o,
              const aec_dataset *train, const aec_dataset *val)
{
    trainer t;
    if (check_inputs(m, o, train, val) != 0)
        return 1;
    int rc = trainer_start(&t, m, o, train->n);
    if (rc == 0 && t.done >= t.cfg.epochs && !t.quiet)
        printf("%s already holds %d epochs (--epochs %d): nothing to do\n",
               aec_esc(o->out_dir), t.done, t.cfg.epochs);
    else if (rc == 0 && (!o->profile || (rc = aec_profile_begin(m)) == 0)) {
        rc = run_epochs(&t, train, val);
        if (o->profile) {
            if (t.lead)
                aec_profile_print(stdout, t.share, aec_workers_count(t.pool));
            aec_profile_end();
        }
    }
    trainer_close(&t);
    return rc;
}
