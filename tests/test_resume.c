/* test_resume.c: a training run killed with SIGKILL at any moment leaves the
 * last checkpoint whole and loadable, and `train --resume` goes on so that
 * the final parameters and optimizer state are bit-identical to those of an
 * uninterrupted run with the same seed (issue 6, item 3).
 *
 * The model executable (build/fmnist_cae) trains on real Fashion-MNIST, a
 * few hundred images for EPOCHS epochs, once uninterrupted as the reference.
 * Then each test kills a chain of runs at chosen points, resuming after each.
 * The kill points are events in the output folder, seen through inotify, so
 * they land where they are meant to: the kill follows the event within
 * microseconds, while a checkpoint write (1.7 MB + 3.5 MB, each fsync'ed)
 * takes milliseconds. Points "in a write" assert afterwards that the .tmp
 * file is still there, i.e. that the kill came before the rename. Points
 * "mid-epoch" are times, half an epoch after an event, from the reference
 * run's own timings (so they scale with the machine and the sanitizers).
 *
 * After every kill: only the checkpoint's files and their temporaries are
 * in the folder; model.safetensors and optim.safetensors, where present,
 * load and are byte for byte the reference's files of the same epoch;
 * loss.csv holds the reference's rows, at least one per epoch saved. Then
 * `train --resume` (again and again, killed again) to the end, where both
 * files must equal the reference's, tensor by tensor, bit for bit, and
 * loss.csv must hold the reference's losses. When both files are there,
 * --resume must go on; only when no pair was ever completed may it refuse,
 * naming the missing file, and the run then starts afresh. Last, a checkpoint
 * with one flipped byte and one of another model are refused, by name.
 *
 * Runs are single-threaded (OPENBLAS_NUM_THREADS=1, which OpenBLAS honours:
 * `info` says "1 threads"; OMP_NUM_THREADS=1), so that the two cores are not
 * fought over and the timings are steady. Without the data set every test
 * skips, saying why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aec.h"
#include "core/floats.h"
#include "io/json.h"
#include "fmnist_cae.h"
#include "util.h"

extern char **environ;

/* The build folder (tests.mk): build/, or build-san/ under `make test SAN=1`. */
#ifndef AEC_BUILD
#define AEC_BUILD AEC_ROOT "/build"
#endif
#define EXE     AEC_BUILD "/fmnist_cae"
#define CELEBA  AEC_BUILD "/celeba_vae"
#ifndef DATA
#define DATA    "/usr/share/datasets/fashion-mnist"
#endif

/* 410 images in batches of 40: 11 batches an epoch, the last one partial. */
#define EPOCHS_S "4"
#define LIMIT_S  "410"
#define BATCH_S  "40"
enum { EPOCHS = 4, STEPS = 11, N_OPTIM = 24 /* exp_avg and exp_avg_sq of 12 tensors */ };

static const aec_model *const M = &fmnist_cae_model;

/* ---- files ----------------------------------------------------------------------- */

/* DIR/NAME, in one of a few rotating buffers. */
static const char *in(const char *dir, const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- running a program (proc, spawn, reap, run: tests/util.c) ----------------- */

static void show(const proc *p)
{
    print_message("exit %d (signal %d)\nstdout:\n%s\nstderr:\n%s\n", p->status, p->signal,
                  p->out, p->err);
}

/* Exit status `want`, and stderr holds `needle` (unless NULL). */
static void expect(const proc *p, int want, const char *needle)
{
    if (p->status != want || (needle && !strstr(p->err, needle))) {
        if (needle)
            print_message("want exit %d and '%s' in stderr; got:\n", want, needle);
        show(p);
    }
    assert_int_equal(p->status, want);
    if (needle)
        assert_non_null(strstr(p->err, needle));
}

static void need_data(void)
{
    need_fashion_mnist(DATA);
    if (access(EXE, X_OK) != 0)
        fail_msg("%s is missing: run make", EXE);
}

/* ---- kill points ------------------------------------------------------------------- */

/* The nth event `mask` on a file in the output folder whose name matches the
 * pattern `file` (fnmatch), counted from the run's start (or, for the second
 * condition of a kill point, from the first one's event). */
typedef struct {
    const char *file;
    uint32_t mask;
    int nth;
} cond;

typedef struct {
    const char *what;
    cond c[2];          /* c[1] after c[0], or c[1].file NULL: c[0] alone. c[0].file NULL:
                         * `delay` seconds after the start, or at c[1] if that comes first */
    double delay;       /* seconds after the conditions are met; 0: kill at once */
    int in_write;       /* the kill must land before the rename: FILE.tmp is left */
} kill_point;

/* The reference run: its checkpoints after each epoch, copied while it was
 * stopped, and its timings: seconds from the start to the first .tmp file of
 * epoch e's checkpoint and to the last rename of it. */
static struct {
    int done;
    double t_write[EPOCHS + 1], t_saved[EPOCHS + 1];
    double epoch;       /* seconds of one epoch's training and validation */
    char *csv;          /* the final loss.csv */
} ref;

static const char *ref_file(const char *name, int epoch)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/ref/e%d.%s", tmpdir, epoch, name);
    return buf[k];
}

typedef struct {
    pid_t pid;
    int fd;                 /* inotify on the output folder */
    double t0, paused;      /* the start; seconds the child spent stopped by us */
    const kill_point *k;
    int stage, count;       /* conditions of k met; events towards the next one */
    double fire_at;         /* seconds after t0 to kill; < 0: not armed */
    int killed, ended, record, saves, renamed[3];
} watch;

static double elapsed(const watch *w)
{
    return now() - w->t0 - w->paused;
}

/* A kill point with no condition is a time after the start. */
static void arm(watch *w)
{
    if (w->k && !w->k->c[0].file) {
        w->stage = 2;
        w->fire_at = w->k->delay;
    }
}

static void do_kill(watch *w)
{
    if (!w->killed)
        assert_int_equal(kill(w->pid, SIGKILL), 0);
    w->killed = 1;
}

/* The reference: once all three files of epoch e are in place (in whatever
 * order they come), stop the run, copy them, and let it go on. */
static void record_event(watch *w, const struct inotify_event *ev, const char *out)
{
    static const char *const files[3] = { "model.safetensors", "optim.safetensors", "loss.csv" };
    int e = w->saves + 1;
    if (e > EPOCHS || !ev->len)
        return;
    size_t n = strlen(ev->name);
    if ((ev->mask & IN_CREATE) && n > 4 && !strcmp(ev->name + n - 4, ".tmp") && ref.t_write[e] == 0)
        ref.t_write[e] = elapsed(w);        /* the checkpoint's first write */
    int all = 1;
    for (int i = 0; i < 3; i++) {
        if ((ev->mask & IN_MOVED_TO) && !strcmp(ev->name, files[i]))
            w->renamed[i]++;
        all = all && w->renamed[i] >= e;
    }
    if (!all)
        return;
    w->saves = e;
    ref.t_saved[e] = elapsed(w);
    double t = now();
    if (!w->ended)
        assert_int_equal(kill(w->pid, SIGSTOP), 0);
    for (int i = 0; i < 3; i++)
        copy_file(in(out, files[i]), ref_file(files[i], e));
    if (!w->ended)
        assert_int_equal(kill(w->pid, SIGCONT), 0);
    w->paused += now() - t;
}

static void on_event(watch *w, const struct inotify_event *ev, const char *out)
{
    if (w->record)
        record_event(w, ev, out);
    if (!w->k || !ev->len)
        return;
    const cond *c;
    if (!w->k->c[0].file) {
        c = &w->k->c[1];       /* a time, but no later than this event */
        if (c->file && !fnmatch(c->file, ev->name, 0) && (ev->mask & c->mask) && ++w->count >= c->nth)
            do_kill(w);
        return;
    }
    if (w->stage >= 2 || w->fire_at >= 0)
        return;
    c = &w->k->c[w->stage];
    if (!c->file || fnmatch(c->file, ev->name, 0) != 0 || !(ev->mask & c->mask) || ++w->count < c->nth)
        return;
    w->stage++;
    w->count = 0;
    if (w->stage == 2 || !w->k->c[1].file) {
        w->stage = 2;
        if (w->k->delay <= 0)
            do_kill(w);         /* at once, before reading anything else */
        else
            w->fire_at = elapsed(w) + w->k->delay;
    }
}

/* Drain the inotify queue; stops at the kill. */
static void read_events(watch *w, const char *out)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    while (!w->killed && (n = read(w->fd, buf, sizeof buf)) > 0)
        for (char *p = buf; p < buf + n && !w->killed;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            on_event(w, ev, out);
            p += sizeof *ev + ev->len;
        }
}

/* `train` into out (with --resume if asked) until it ends, or is killed at k. */
static proc run_train(const char *dir, int resume, const kill_point *k, int record)
{
    char out[256];
    snprintf(out, sizeof out, "%s", dir);   /* tp()'s buffers rotate */
    char *argv[] = { EXE, "train", "--data", DATA, "--out", out, "--epochs", EPOCHS_S,
                     "--limit", LIMIT_S, "--batch", BATCH_S, "--no-report",
                     resume == 1 ? "--resume" : resume == 2 ? "--overwrite" : NULL, NULL };
    mkdir(out, 0755);
    watch w = { .k = k, .fire_at = -1, .record = record };
    w.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    assert_true(w.fd >= 0);
    assert_true(inotify_add_watch(w.fd, out, IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO) >= 0);
    w.t0 = now();
    w.pid = spawn(argv);
    arm(&w);
    for (;;) {
        int timeout = 20;
        if (w.fire_at >= 0) {
            double left = w.fire_at - elapsed(&w);
            timeout = left <= 0 ? 0 : left < 0.02 ? (int)(left * 1000) + 1 : 20;
        }
        struct pollfd pfd = { w.fd, POLLIN, 0 };
        poll(&pfd, 1, timeout);
        read_events(&w, out);
        if (!w.killed && w.fire_at >= 0 && elapsed(&w) >= w.fire_at)
            do_kill(&w);
        if (w.killed)
            break;
        int status;
        pid_t r = waitpid(w.pid, &status, WNOHANG);
        if (r == w.pid) {
            /* ended by itself: collect what reap would, from the status we took */
            close(w.fd);
            proc p = { -1, 0, slurp(tp("stdout.txt"), NULL), slurp(tp("stderr.txt"), NULL) };
            if (WIFEXITED(status))
                p.status = WEXITSTATUS(status);
            else
                p.signal = WTERMSIG(status);
            assert_non_null(p.out);
            assert_non_null(p.err);
            w.ended = 1;
            if (record)
                read_events(&w, out);
            return p;
        }
    }
    close(w.fd);
    return reap(w.pid);
}

/* ---- what a killed run left ---------------------------------------------------------- */

typedef struct {
    int model, optim;       /* the epochs of the two files, 0 when absent */
    int rows;               /* rows in loss.csv */
    int tmp;                /* .tmp files left */
} disk;

/* The epoch in a checkpoint's metadata; the file must load. */
static int checkpoint_epoch(const char *path, int n_tensors)
{
    aec_tensor_file f;
    char v[32];
    if (aec_safetensors_read(path, &f) != 0)
        fail_msg("%s does not load (see above)", path);
    assert_int_equal(f.n, n_tensors);
    assert_int_equal(aec_meta_get(f.metadata_json, "model", v, sizeof v), 0);
    assert_string_equal(v, "fmnist_cae");
    assert_int_equal(aec_meta_get(f.metadata_json, "epoch", v, sizeof v), 0);
    aec_tensor_file_free(&f);
    int e = atoi(v);
    assert_true(e >= 1 && e <= EPOCHS);
    return e;
}

/* The rows of loss.csv must be the reference's first rows, but for the seconds. */
static int check_csv(const char *path)
{
    char *got = slurp(path, NULL);
    assert_non_null(got);
    const char *g = got, *r = ref.csv;
    int rows = -1;          /* the header is not a row */
    while (*g) {
        const char *gl = strchr(g, '\n'), *rl = strchr(r, '\n');
        assert_non_null(gl);
        if (!rl)
            fail_msg("%s has more rows than the reference:\n%s", path, got);
        /* up to the third comma: epoch, train_loss, val_loss */
        size_t k = 0;
        for (int commas = 0; g + k < gl && commas < 3; k++)
            commas += g[k] == ',';
        if ((size_t)(rl - r) < k || memcmp(g, r, k) != 0)
            fail_msg("%s: row '%.*s' is not the reference's '%.*s'", path, (int)(gl - g), g,
                     (int)(rl - r), r);
        g = gl + 1;
        r = rl + 1;
        rows++;
    }
    free(got);
    return rows;
}

/* The folder holds only the checkpoint's files (and their temporaries, and
 * train's lock file .lock), and each of those present loads and is the
 * reference's file of its epoch. */
static disk check_intact(const char *out, const char *what)
{
    static const char *const known[] = { "model.safetensors", "optim.safetensors", "loss.csv" };
    disk s = { 0, 0, 0, 0 };
    DIR *d = opendir(out);
    assert_non_null(d);
    char names[1024] = "";
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, ".lock"))
            continue;
        size_t i = 0, n = strlen(e->d_name);
        while (i < 3 && strncmp(e->d_name, known[i], strlen(known[i])) != 0)
            i++;
        if (i == 3 || n > 64)
            fail_msg("%s: a stray file %s after the kill %s", out, e->d_name, what);
        s.tmp += n > 4 && !strcmp(e->d_name + n - 4, ".tmp");
        if (strlen(names) + n + 2 < sizeof names)
            strcat(strcat(names, " "), e->d_name);
    }
    closedir(d);
    if (exists(in(out, "model.safetensors"))) {
        s.model = checkpoint_epoch(in(out, "model.safetensors"), M->n_tensors);
        float *params = aec_alloc_floats(M->n_params, "parameters");
        assert_non_null(params);
        assert_int_equal(aec_load_params(in(out, "model.safetensors"), M, params), 0);
        free(params);
        assert_same_file(in(out, "model.safetensors"), ref_file("model.safetensors", s.model));
    }
    if (exists(in(out, "optim.safetensors"))) {
        s.optim = checkpoint_epoch(in(out, "optim.safetensors"), N_OPTIM);
        assert_same_file(in(out, "optim.safetensors"), ref_file("optim.safetensors", s.optim));
    }
    if (exists(in(out, "loss.csv")))
        s.rows = check_csv(in(out, "loss.csv"));
    print_message("killed %s: model epoch %d, optim epoch %d, loss.csv %d rows; files:%s\n",
                  what, s.model, s.optim, s.rows, names);
    /* the history of every epoch the checkpoint holds */
    int saved = s.model < s.optim ? s.model : s.optim;
    if (s.rows < saved)
        fail_msg("%s: loss.csv has %d rows, but the checkpoint holds epoch %d", out, s.rows, saved);
    return s;
}

static void assert_final(const char *out)
{
    assert_same_safetensors(in(out, "model.safetensors"), ref_file("model.safetensors", EPOCHS));
    assert_same_safetensors(in(out, "optim.safetensors"), ref_file("optim.safetensors", EPOCHS));
    assert_same_file(in(out, "model.safetensors"), ref_file("model.safetensors", EPOCHS));
    assert_same_file(in(out, "optim.safetensors"), ref_file("optim.safetensors", EPOCHS));
    assert_int_equal(check_csv(in(out, "loss.csv")), EPOCHS);
}

/* ---- the chains ------------------------------------------------------------------------ */

/* Run into a fresh folder, killing at each point in turn and then resuming,
 * to the end; the end must be the reference's. After a kill that leaves no
 * pair of checkpoint files, --resume must refuse, saying so, and the next
 * run starts afresh. */
static void chain(const char *name, const kill_point *k, int n)
{
    need_data();
    if (!ref.done)
        fail_msg("the reference run failed in an earlier test");
    char out[256];
    snprintf(out, sizeof out, "%s", tp(name));
    rm_rf(out);
    int resume = 0, whole = 0;
    for (int i = 0; i <= n; i++) {
        const kill_point *kp = i < n ? &k[i] : NULL;
        proc p = run_train(out, resume, kp, 0);
        if (resume && p.status == 1 && !whole) {
            /* nothing whole to go on from: a clear refusal, then afresh
             * (--overwrite: train keeps what a run left unless told) */
            expect(&p, 1, "cannot resume from");
            if (!strstr(p.err, ".safetensors: cannot read: No such file or directory")) {
                show(&p);
                fail_msg("--resume without a checkpoint should name the missing file");
            }
            print_message("  --resume refused: %s", strchr(p.err, ':') + 2);
            proc_free(&p);
            p = run_train(out, 2, kp, 0);
        }
        if (resume && p.signal == 0 && p.status != 0 && whole) {
            show(&p);
            fail_msg("--resume refused the checkpoint left by the kill %s", k[i - 1].what);
        }
        if (kp) {
            if (p.signal != SIGKILL) {
                show(&p);
                fail_msg("the run ended before the kill point %s", kp->what);
            }
            disk s = check_intact(out, kp->what);
            if (kp->in_write && s.tmp == 0)
                fail_msg("the kill %s came after the rename: no .tmp file left", kp->what);
            whole = s.model > 0 && s.optim > 0;
            resume = 1;
        } else {
            expect(&p, 0, NULL);
            char want[64];
            snprintf(want, sizeof want, "epoch %d/%d  train ", EPOCHS, EPOCHS);
            assert_non_null(strstr(p.out, want));
            if (resume && whole && !strstr(p.out, "resuming after epoch ")) {
                show(&p);
                fail_msg("no 'resuming after epoch' line");
            }
        }
        proc_free(&p);
    }
    assert_final(out);
}

/* Half an epoch: from a checkpoint's end to the middle of the next epoch. */
static double half_epoch(void)
{
    return ref.epoch / 2;
}

/* ---- the tests --------------------------------------------------------------------------- */

static void reference_run(void **state UNUSED)
{
    need_data();
    mkdir(tp("ref"), 0755);
    double t = now();
    proc p = run_train(tp("ref/run"), 0, NULL, 1);
    expect(&p, 0, NULL);
    assert_string_equal(p.err, "");
    proc_free(&p);
    for (int e = 1; e <= EPOCHS; e++) {
        assert_true(ref.t_write[e] > 0 && ref.t_saved[e] > ref.t_write[e]);
        assert_int_equal(checkpoint_epoch(ref_file("model.safetensors", e), M->n_tensors), e);
        assert_int_equal(checkpoint_epoch(ref_file("optim.safetensors", e), N_OPTIM), e);
    }
    /* training and validation of epochs 2..EPOCHS, between the checkpoints */
    ref.epoch = (ref.t_write[EPOCHS] - ref.t_saved[1]) / (EPOCHS - 1);
    ref.csv = slurp(tp("ref/run/loss.csv"), NULL);
    assert_non_null(ref.csv);
    assert_same_file(tp("ref/run/loss.csv"), ref_file("loss.csv", EPOCHS));
    assert_same_file(tp("ref/run/model.safetensors"), ref_file("model.safetensors", EPOCHS));
    ref.done = 1;
    assert_int_equal(check_csv(tp("ref/run/loss.csv")), EPOCHS);
    print_message("reference: %.2f s; an epoch %.3f s, a checkpoint write %.3f s, "
                  "the first at %.3f s\n", now() - t, ref.epoch,
                  ref.t_saved[EPOCHS] - ref.t_write[EPOCHS], ref.t_write[1]);
}

/* Nothing to resume from: mid-epoch 1, during the first write, and just
 * after the first rename. */
static void kill_before_the_first_checkpoint(void **state UNUSED)
{
    kill_point k[] = {
        { "mid-epoch 1", { { NULL, 0, 0 }, { "*.tmp", IN_CREATE, 1 } }, 0, 0 },
        { "as epoch 1's model.safetensors.tmp is created",
          { { "model.safetensors.tmp", IN_CREATE, 1 } }, 0, 1 },
        { "as epoch 1's model.safetensors is renamed into place",
          { { "model.safetensors", IN_MOVED_TO, 1 } }, 0, 0 },
    };
    k[0].delay = ref.t_write[1] - half_epoch();
    if (k[0].delay < ref.t_write[1] / 2)
        k[0].delay = ref.t_write[1] / 2;
    chain("first", k, 3);
}

/* In the middle of epoch 2, and again of the resumed run's first epoch. */
static void kill_mid_epoch(void **state UNUSED)
{
    kill_point k[] = {
        { "mid-epoch 2", { { "loss.csv", IN_MOVED_TO, 1 } }, 0, 0 },
        { "mid-epoch 3 (resumed)", { { "loss.csv", IN_MOVED_TO, 1 } }, 0, 0 },
    };
    k[0].delay = k[1].delay = half_epoch();
    chain("mid", k, 2);
}

/* Within the parameters' write: as the .tmp appears, and while it is being
 * written. */
static void kill_during_the_model_write(void **state UNUSED)
{
    const kill_point k[] = {
        { "as epoch 2's model.safetensors.tmp is created",
          { { "model.safetensors.tmp", IN_CREATE, 2 } }, 0, 1 },
        { "while epoch 3's model.safetensors.tmp is written (resumed)",
          { { "model.safetensors.tmp", IN_CREATE, 2 }, { "model.safetensors.tmp", IN_MODIFY, 1 } }, 0, 1 },
    };
    chain("model_write", k, 2);
}

/* Within the optimizer state's write (its temporary file may have any name
 * that starts optim.safetensors and ends .tmp): while it is being written,
 * and once it is written, fsync'ed and closed. */
static void kill_during_the_optimizer_write(void **state UNUSED)
{
    const kill_point k[] = {
        { "while epoch 2's optimizer state is written",
          { { "optim.safetensors*.tmp", IN_CREATE, 2 }, { "optim.safetensors*.tmp", IN_MODIFY, 1 } }, 0, 1 },
        { "as epoch 3's optimizer state's .tmp is closed (resumed)",
          { { "optim.safetensors*.tmp", IN_CLOSE_WRITE, 2 } }, 0, 0 },
    };
    chain("optim_write", k, 2);
}

/* Right after each of the three renames that make up a checkpoint, whatever
 * their order: until the last one, the files hold different epochs. */
static void kill_between_the_renames(void **state UNUSED)
{
    const kill_point k[] = {
        { "as epoch 2's model.safetensors is renamed into place",
          { { "model.safetensors", IN_MOVED_TO, 2 } }, 0, 0 },
        { "at the resumed run's first rename to optim.safetensors",
          { { "optim.safetensors", IN_MOVED_TO, 1 } }, 0, 0 },
        { "at the resumed run's first rename to loss.csv",
          { { "loss.csv", IN_MOVED_TO, 1 } }, 0, 0 },
    };
    chain("renames", k, 3);
}

/* The reference's epoch-2 checkpoint in a folder of its own, out. */
static void copy_checkpoint(char out[256], const char *name)
{
    snprintf(out, 256, "%s", tp(name));
    rm_rf(out);
    assert_int_equal(mkdir(out, 0755), 0);
    copy_file(ref_file("model.safetensors", 2), in(out, "model.safetensors"));
    copy_file(ref_file("optim.safetensors", 2), in(out, "optim.safetensors"));
    copy_file(ref_file("loss.csv", 2), in(out, "loss.csv"));
}

static void flip_byte(const char *path, long at)
{
    size_t n;
    uint8_t *b = read_bytes(path, &n);
    if (at < 0)
        at += (long)n;
    assert_true(at >= 0 && (size_t)at < n);
    b[at] ^= 0x10;
    write_bytes(path, b, n);
    free(b);
}

static proc resume_in(const char *out)
{
    return run(EXE, "train", "--data", DATA, "--out", out, "--epochs", EPOCHS_S, "--limit", LIMIT_S,
               "--batch", BATCH_S, "--no-report", "--resume", NULL);
}

/* A refused resume leaves the folder as it was. */
static void assert_untouched(const char *out)
{
    assert_same_file(in(out, "optim.safetensors"), ref_file("optim.safetensors", 2));
    assert_same_file(in(out, "loss.csv"), ref_file("loss.csv", 2));
    assert_false(exists(in(out, "model.safetensors.tmp")));
    assert_false(exists(in(out, "optim.safetensors.tmp")));
}

/* One flipped byte, in model.safetensors' data or optim.safetensors' header:
 * --resume and eval refuse it by its checksum; restored, it resumes. */
static void corrupt_checkpoint_is_refused(void **state UNUSED)
{
    need_data();
    if (!ref.done)
        fail_msg("the reference run failed in an earlier test");
    char out[256], want[600];
    copy_checkpoint(out, "flip");

    flip_byte(in(out, "model.safetensors"), -4000);
    proc p = resume_in(out);
    snprintf(want, sizeof want, "%s: checksum mismatch", in(out, "model.safetensors"));
    expect(&p, 1, want);
    expect(&p, 1, "cannot resume from");
    assert_string_equal(p.out, "");
    proc_free(&p);
    assert_untouched(out);
    p = run(EXE, "eval", "--data", DATA, "--weights", in(out, "model.safetensors"), "--limit", "10", NULL);
    expect(&p, 1, want);
    assert_string_equal(p.out, "");
    proc_free(&p);

    copy_file(ref_file("model.safetensors", 2), in(out, "model.safetensors"));
    flip_byte(in(out, "optim.safetensors"), 100);
    p = resume_in(out);
    snprintf(want, sizeof want, "%s: checksum mismatch", in(out, "optim.safetensors"));
    expect(&p, 1, want);
    proc_free(&p);
    assert_same_file(in(out, "model.safetensors"), ref_file("model.safetensors", 2));

    /* restored, the same folder resumes to the reference's end */
    copy_file(ref_file("optim.safetensors", 2), in(out, "optim.safetensors"));
    p = resume_in(out);
    expect(&p, 0, NULL);
    snprintf(want, sizeof want, "resuming after epoch 2 (step %d) from %s\n", 2 * STEPS, out);
    if (!strstr(p.out, want))
        show(&p);
    assert_non_null(strstr(p.out, want));
    proc_free(&p);
    assert_final(out);
}

/* celeba_vae's parameters where fmnist_cae's belong. */
static void other_models_checkpoint_is_refused(void **state UNUSED)
{
    need_data();
    if (!ref.done)
        fail_msg("the reference run failed in an earlier test");
    if (access(CELEBA, X_OK) != 0)
        fail_msg("%s is missing: run make", CELEBA);
    char vae[256], out[256], want[600];
    snprintf(vae, sizeof vae, "%s", tp("vae.safetensors"));
    proc p = run(CELEBA, "init", "--out", vae, NULL);
    expect(&p, 0, NULL);
    proc_free(&p);

    /* eval names the first tensor that does not fit */
    p = run(EXE, "eval", "--data", DATA, "--weights", vae, "--limit", "10", NULL);
    snprintf(want, sizeof want, "aec: %s: tensor 'conv1.weight' has shape [32,3,4,4], "
             "the model expects [32,1,3,3]\n", vae);
    expect(&p, 1, NULL);
    if (strncmp(p.err, want, strlen(want)) != 0) {
        show(&p);
        fail_msg("stderr should start with: %s", want);
    }
    proc_free(&p);

    /* as model.safetensors of a run: refused by the same first tensor */
    copy_checkpoint(out, "other");
    copy_file(vae, in(out, "model.safetensors"));
    p = resume_in(out);
    snprintf(want, sizeof want, "%s: tensor 'conv1.weight' has shape [32,3,4,4], the model expects "
             "[32,1,3,3]", in(out, "model.safetensors"));
    expect(&p, 1, want);
    expect(&p, 1, "cannot resume from");
    proc_free(&p);
    assert_untouched(out);

    /* the same tensors under this run's metadata (a model whose .ae file
     * changed since the run): refused by the first tensor that does not fit */
    aec_tensor_file v, mine;
    assert_int_equal(aec_safetensors_read(vae, &v), 0);
    assert_int_equal(aec_safetensors_read(ref_file("model.safetensors", 2), &mine), 0);
    aec_tensor t[64];
    assert_true(v.n <= 32);
    for (int i = 0; i < v.n; i++)
        t[i] = (aec_tensor){ v.names[i], v.ndim[i], { v.shape[i][0], v.shape[i][1], v.shape[i][2],
                             v.shape[i][3] }, v.data[i] };
    assert_int_equal(aec_safetensors_write(in(out, "model.safetensors"), t, v.n, mine.metadata_json), 0);
    p = resume_in(out);
    snprintf(want, sizeof want, "%s: tensor 'conv1.weight' has shape [32,3,4,4], the model expects "
             "[32,1,3,3]", in(out, "model.safetensors"));
    expect(&p, 1, want);
    expect(&p, 1, "cannot resume from");
    proc_free(&p);

    /* and as optimizer state: conv1.weight.exp_avg is not fmnist_cae's */
    copy_file(ref_file("model.safetensors", 2), in(out, "model.safetensors"));
    char names[64][64];
    int k = 0;
    for (int i = 0; i < v.n; i++)
        for (int j = 0; j < 2; j++, k++) {
            snprintf(names[k], sizeof names[k], "%s.%s", v.names[i], j ? "exp_avg_sq" : "exp_avg");
            t[k] = (aec_tensor){ names[k], v.ndim[i], { v.shape[i][0], v.shape[i][1], v.shape[i][2],
                                 v.shape[i][3] }, v.data[i] };
        }
    assert_int_equal(aec_safetensors_write(in(out, "optim.safetensors"), t, k, mine.metadata_json), 0);
    p = resume_in(out);
    snprintf(want, sizeof want, "%s: no tensor conv1.weight.exp_avg of 288 floats",
             in(out, "optim.safetensors"));
    expect(&p, 1, want);
    proc_free(&p);
    assert_same_file(in(out, "model.safetensors"), ref_file("model.safetensors", 2));
    aec_tensor_file_free(&v);
    aec_tensor_file_free(&mine);
}

/* ---- the group ------------------------------------------------------------------------------ */

static int make_tmp(void **state UNUSED)
{
    return tmpdir_setup("/tmp/aec-resume-XXXXXX");
}

static int teardown(void **state)
{
    free(ref.csv);
    return tmpdir_teardown(state);
}

int main(void)
{
    /* one thread each: steady timings, and no fight over two cores */
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    setenv("OMP_NUM_THREADS", "1", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reference_run),
        cmocka_unit_test(kill_before_the_first_checkpoint),
        cmocka_unit_test(kill_mid_epoch),
        cmocka_unit_test(kill_during_the_model_write),
        cmocka_unit_test(kill_during_the_optimizer_write),
        cmocka_unit_test(kill_between_the_renames),
        cmocka_unit_test(corrupt_checkpoint_is_refused),
        cmocka_unit_test(other_models_checkpoint_is_refused),
    };
    return cmocka_run_group_tests_name("kill and resume", tests, make_tmp, teardown);
}
