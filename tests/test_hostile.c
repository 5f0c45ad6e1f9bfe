/* test_hostile.c: the hostile cases of issue 20, each as a user would meet it:
 * nothing a user saved is lost, no number is silently wrong, and every bad
 * input gets a message naming it and a non-zero exit, never a crash.
 *
 * The model's executable is build/fmnist_cae (make all builds it), run as a
 * child process on a tiny IDX data set made here (random 28x28 images), so
 * the tests need no downloaded data. HOSTILE_EXE names another executable of
 * the same model, HOSTILE_AEC another aec: an older build shows which of
 * these tests fail without the fixes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <glob.h>

#include "aec.h"
#include "fmnist_cae.h"
#include "util.h"

static const aec_model *const M = &fmnist_cae_model;

#define MODEL   AEC_ROOT "/models/fmnist_cae.ae"

static const char *exe(void)
{
    const char *e = getenv("HOSTILE_EXE");
    return e && *e ? e : AEC_BUILD "/fmnist_cae";
}

/* build/aec, or build-san/aec under SAN=1; HOSTILE_AEC names another. */
static char *aec(void)
{
    const char *e = getenv("HOSTILE_AEC");
    return (char *)(e && *e ? e : AEC_BUILD "/aec");
}

/* ---- data ------------------------------------------------------------------------- */

/* DIR/PREFIX-images-idx3-ubyte and -labels-idx1-ubyte: n random 28x28 images. */
static void write_random_idx(const char *dir, const char *prefix, int n, unsigned seed)
{
    uint8_t *px = malloc((size_t)n * 784);
    assert_non_null(px);
    for (int i = 0; i < n * 784; i++) {
        seed = seed * 1103515245u + 12345u;
        px[i] = (uint8_t)(seed >> 24);
    }
    write_idx(dir, prefix, n, 28, 28, px);
    free(px);
}

/* TMPDIR/NAME: a data set of train_n and val_n images (made once per name).
 * In a buffer of its own per name (tp's rotate). */
static const char *data_set(const char *name, int train_n, int val_n)
{
    static char dirs[4][256];
    char *dir = dirs[strcmp(name, "data") == 0 ? 0 : 1];
    snprintf(dir, 256, "%s", tp(name));
    if (!exists(dir)) {
        assert_int_equal(mkdir(dir, 0755), 0);
        write_random_idx(dir, "train", train_n, 1);
        write_random_idx(dir, "t10k", val_n, 2);
    }
    return dir;
}

static const char *data(void)
{
    return data_set("data", 24, 12);
}

/* TMPDIR/init.safetensors, the model's initial weights (made once). */
static const char *init_weights(void)
{
    static char w[512];
    snprintf(w, sizeof w, "%s", tp("init.safetensors"));
    if (!exists(w)) {
        proc p = run(exe(), "init", "--out", w, NULL);
        assert_int_equal(p.status, 0);
        proc_free(&p);
    }
    return w;
}

/* ---- running ---------------------------------------------------------------------- */

static void show(const proc *p)
{
    print_message("exit %d (signal %d)\nstdout:\n%s\nstderr:\n%s\n", p->status, p->signal, p->out,
                  p->err);
}

/* Exit status want, and needle (if any) in stderr. */
static void expect(const proc *p, int want, const char *needle)
{
    if (p->status != want || (needle && !strstr(p->err, needle))) {
        show(p);
        if (needle && !strstr(p->err, needle))
            fail_msg("stderr lacks \"%s\"", needle);
    }
    assert_int_equal(p->status, want);
}

#define RUN(...) run(exe(), __VA_ARGS__, NULL)

static void run_expect(int want, const char *needle, proc p)
{
    expect(&p, want, needle);
    proc_free(&p);
}

/* Sleep until path exists (or the file at path holds needle); fails after 60 s. */
static void wait_for(const char *path, const char *needle)
{
    for (int i = 0; i < 60000; i++) {
        char *s = slurp(path, NULL);
        int ok = s && (!needle || strstr(s, needle));
        free(s);
        if (ok)
            return;
        nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
    }
    fail_msg("%s never showed %s", path, needle ? needle : "up");
}

/* ---- silent data loss --------------------------------------------------------------- */

/* 1. train into a folder that holds a run refuses without --resume, names
 * what is there and the two ways on; the run is untouched. --overwrite
 * starts over; --resume with --overwrite is a contradiction. */
static void train_into_a_run_needs_resume_or_overwrite(void **state UNUSED)
{
    char out[512];
    snprintf(out, sizeof out, "%s", tp("run1"));
    run_expect(0, NULL, RUN("train", "--data", data(), "--out", out, "--epochs", "1", "--no-report"));
    char model[600];
    snprintf(model, sizeof model, "%s/model.safetensors", out);
    size_t n0, n1;
    uint8_t *before = read_bytes(model, &n0);
    run_expect(1, "already holds a run (model.safetensors, optim.safetensors, loss.csv); add --resume",
               RUN("train", "--data", data(), "--out", out, "--epochs", "1", "--no-report", "--seed", "9"));
    uint8_t *after = read_bytes(model, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    run_expect(2, "give one", RUN("train", "--data", data(), "--out", out, "--resume", "--overwrite"));
    run_expect(0, NULL, RUN("train", "--data", data(), "--out", out, "--epochs", "1", "--no-report",
                            "--seed", "9", "--overwrite"));
    free(after);
    after = read_bytes(model, &n1);
    assert_true(n0 != n1 || memcmp(before, after, n0) != 0);
    free(before);
    free(after);
}

/* 11. --resume with a different --batch or --lr is refused, as a different
 * seed is, naming the recorded and the given value (or the default's); the
 * same ones resume, and without --lr the recorded rate is taken. */
static void resume_with_another_batch_or_lr_is_refused(void **state UNUSED)
{
    char out[512];
    snprintf(out, sizeof out, "%s", tp("run11"));
    run_expect(0, NULL, RUN("train", "--data", data(), "--out", out, "--epochs", "1", "--no-report",
                            "--batch", "8", "--lr", "0.002"));
    run_expect(1, "optim.safetensors: the run was trained with --batch 8, not --batch 4; resume "
                  "with --batch 8, or start over with --overwrite",
               RUN("train", "--data", data(), "--out", out, "--epochs", "2", "--no-report",
                   "--resume", "--batch", "4", "--lr", "0.002"));
    run_expect(1, "optim.safetensors: the run was trained with --lr 0.002, not --lr 0.02; resume with --lr 0.002",
               RUN("train", "--data", data(), "--out", out, "--epochs", "2", "--no-report",
                   "--resume", "--batch", "8", "--lr", "0.02"));
    run_expect(1, "the run was trained with --batch 8, not the default --batch 24",
               RUN("train", "--data", data(), "--out", out, "--epochs", "2", "--no-report",
                   "--resume"));
    /* without --lr the recorded rate is taken, as the seed is */
    run_expect(0, NULL, RUN("train", "--data", data(), "--out", out, "--epochs", "2", "--no-report",
                            "--resume", "--batch", "8"));
    run_expect(0, NULL, RUN("train", "--data", data(), "--out", out, "--epochs", "3", "--no-report",
                            "--resume", "--batch", "8", "--lr", "0.002"));
}

/* 3. Two outputs of one command naming one file (as written, or through
 * ./ and a link) are refused before anything runs. */
static void two_outputs_naming_one_file_are_refused(void **state UNUSED)
{
    char w[512], z[512], z2[512], l[512];
    snprintf(w, sizeof w, "%s", tp("init.safetensors"));
    snprintf(l, sizeof l, "%s", tp("labels.npy"));
    run_expect(0, NULL, RUN("init", "--out", w));
    snprintf(z, sizeof z, "%s/z.npy", tmpdir);
    snprintf(z2, sizeof z2, "%s/./z.npy", tmpdir);
    run_expect(2, "name the same file",
               RUN("encode", "--data", data(), "--weights", w, "--out", z, "--labels", z2));
    assert_false(exists(z));
    run_expect(0, NULL, RUN("encode", "--data", data(), "--weights", w, "--out", z, "--labels", l));
}

/* 4. --out equal to --data, or inside it, is refused: the report's PNGs
 * would join the data set. */
static void out_inside_data_is_refused(void **state UNUSED)
{
    char inside[512], w[512];
    snprintf(inside, sizeof inside, "%s/run", data());
    snprintf(w, sizeof w, "%s", tp("init.safetensors"));
    run_expect(2, "inside --data", RUN("train", "--data", data(), "--out", inside, "--epochs", "1"));
    assert_false(exists(inside));
    run_expect(2, "the same as --data", RUN("train", "--data", data(), "--out", data(), "--epochs", "1"));
    run_expect(2, "inside --data", RUN("reconstruct", "--data", data(), "--weights", w, "--out", inside));
}

/* 6 and 7. SIGTERM stops training as Ctrl-C does: the last checkpoint kept,
 * how to resume printed, exit 143. While it runs, a second training into
 * the same folder is refused, naming the first's pid. */
static void sigterm_and_a_second_training(void **state UNUSED)
{
    char out_s[256], csv[600], pid_s[32], model[600];
    snprintf(out_s, sizeof out_s, "%s", tp("term"));
    snprintf(csv, sizeof csv, "%s/loss.csv", out_s);
    snprintf(model, sizeof model, "%s/model.safetensors", out_s);
    char *argv[] = { (char *)exe(), "train", "--data", (char *)data(), "--out", out_s,
                     "--epochs", "100000", "--no-report", NULL };
    pid_t pid = spawn(argv);
    wait_for(csv, "\n2,");
    snprintf(pid_s, sizeof pid_s, "pid %ld", (long)pid);
    /* spawn's stdout.txt and stderr.txt are the first's: run the second by
     * shell(), its stderr into a file of its own */
    char err_path[600];
    snprintf(err_path, sizeof err_path, "%s/second.err", tmpdir);
    int st = shell("'%s' train --data '%s' --out '%s' --epochs 1 --resume 2>'%s' >/dev/null",
                   exe(), data(), out_s, err_path);
    char *err = slurp(err_path, NULL);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 1 || !err || !strstr(err, pid_s))
        print_message("second training: status %d, stderr: %s\n", st, err ? err : "(none)");
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    assert_non_null(strstr(err, pid_s));
    free(err);
    assert_int_equal(kill(pid, SIGTERM), 0);
    proc p = reap(pid);
    expect(&p, 143, "terminated: ");
    assert_non_null(strstr(p.err, "--resume"));
    proc_free(&p);
    run_expect(0, "", RUN("eval", "--data", data(), "--weights", model));
}

/* 5. SIGTERM during the report: the old run's page and pictures are gone
 * before the new ones start, the process says what it wrote, that the
 * checkpoint is saved and how to make the report; exit 143, no report.html. */
static void sigterm_during_the_report_leaves_one_run(void **state UNUSED)
{
    const char *d = data_set("data_report", 24, 40);
    char out[256], page[600], tsne[600];
    snprintf(out, sizeof out, "%s", tp("rep"));
    snprintf(page, sizeof page, "%s/report.html", out);
    snprintf(tsne, sizeof tsne, "%s/latent_tsne.png", out);
    run_expect(0, NULL, RUN("train", "--data", d, "--out", out, "--epochs", "1", "--iterations", "20",
                            "--perplexity", "5"));
    assert_true(exists(page) && exists(tsne));
    char *argv[] = { (char *)exe(), "train", "--data", (char *)d, "--out", out, "--epochs", "2",
                     "--resume", "--iterations", "100000000", "--perplexity", "5", NULL };
    pid_t pid = spawn(argv);
    char so[600];
    snprintf(so, sizeof so, "%s/stdout.txt", tmpdir);
    wait_for(so, "latent_pca.png");
    assert_int_equal(kill(pid, SIGTERM), 0);
    proc p = reap(pid);
    expect(&p, 143, "is saved; the report is not complete");
    /* what it wrote, in the order written, and nothing after the stop */
    const char *said = strstr(p.err, "holds loss.png, recon.png, scores.csv");
    assert_non_null(said);
    assert_non_null(strstr(said, "latent_pca.png"));
    assert_null(strstr(said, "latent_tsne.png"));
    assert_false(exists(page));
    assert_false(exists(tsne));
    proc_free(&p);
}

/* 2. aec build -o onto its own source, or onto a FIFO (a device as root
 * would be the same), is refused before compiling; both stay as they were. */
static void build_output_is_never_the_source_or_a_device(void **state UNUSED)
{
    char ae[512], fifo[512];
    snprintf(ae, sizeof ae, "%s", tp("m.ae"));
    snprintf(fifo, sizeof fifo, "%s", tp("fifo"));
    copy_file(MODEL, ae);
    run_expect(1, "is the model's source", run(aec(), "build", ae, "-o", ae, NULL));
    size_t n;
    char *src = slurp(ae, &n), *want = slurp(MODEL, NULL);
    assert_string_equal(src, want);
    free(src);
    free(want);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    run_expect(1, "not a regular file", run(aec(), "build", ae, "-o", fifo, NULL));
    struct stat st;
    assert_int_equal(stat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
}

/* 13. aec check /dev/zero stops reading at the 16 MiB limit (it read until
 * memory ran out); a 2 GB address-space limit (not under ASan) makes the
 * old way fail fast. */
static void check_of_dev_zero_stops_at_the_limit(void **state UNUSED)
{
    char err[600];
    snprintf(err, sizeof err, "%s/zero.err", tmpdir);
#ifdef __SANITIZE_ADDRESS__
    const char *limit = "";                 /* ASan reserves terabytes of shadow up front */
#else
    const char *limit = "ulimit -v 2000000; ";
#endif
    int st = shell("%sexec timeout 60 '%s' check /dev/zero 2>'%s'", limit, aec(), err);
    char *e = slurp(err, NULL);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 1 || !e || !strstr(e, "/dev/zero: error: not a .ae text file (larger than 16 MiB)"))
        print_message("status %d, stderr: %s\n", st, e ? e : "(none)");
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    assert_non_null(strstr(e, "/dev/zero: error: not a .ae text file (larger than 16 MiB)"));
    free(e);
}

/* The aec-build-* folders in dir. */
static int build_dirs(const char *dir)
{
    char pat[600];
    glob_t g;
    snprintf(pat, sizeof pat, "%s/aec-build-*", dir);
    int n = glob(pat, 0, NULL, &g) == 0 ? (int)g.gl_pathc : 0;
    globfree(&g);
    return n;
}

/* 16. Ctrl-C during aec build: the compiler is stopped, the temporary
 * folder and EXE.tmpPID are removed, exit 130 with a message. AEC_CFLAGS
 * words past the 60th were dropped: a bad 66th word must fail the build. */
static void interrupted_build_leaves_nothing_and_every_flag_counts(void **state UNUSED)
{
    char tmp[512], exe_path[512], ae[512], pat[600];
    snprintf(tmp, sizeof tmp, "%s", tp("buildtmp"));
    snprintf(exe_path, sizeof exe_path, "%s", tp("built"));
    snprintf(ae, sizeof ae, "%s", tp("m2.ae"));
    copy_file(MODEL, ae);
    assert_int_equal(mkdir(tmp, 0755), 0);
    setenv("TMPDIR", tmp, 1);
    char *argv[] = { aec(), "build", ae, "-o", exe_path, NULL };
    pid_t pid = spawn(argv);
    for (int i = 0; i < 30000 && build_dirs(tmp) == 0; i++)
        nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
    nanosleep(&(struct timespec){ 0, 300000000 }, NULL);    /* the compiler is running */
    assert_int_equal(kill(pid, SIGINT), 0);
    proc p = reap(pid);
    expect(&p, 130, "temporary files are removed");
    proc_free(&p);
    assert_int_equal(build_dirs(tmp), 0);
    glob_t g;
    snprintf(pat, sizeof pat, "%s.tmp*", exe_path);
    assert_int_equal(glob(pat, 0, NULL, &g), GLOB_NOMATCH);
    assert_false(exists(exe_path));

    char flags[2048] = "-O0";
    for (int i = 1; i < 65; i++)
        strcat(flags, " -DAEC_PAD");
    strcat(flags, " -fno-such-flag-aec");
    setenv("AEC_CFLAGS", flags, 1);
    proc q = run(aec(), "build", ae, "-o", exe_path, NULL);
    unsetenv("AEC_CFLAGS");
    unsetenv("TMPDIR");
    expect(&q, 1, "no-such-flag-aec");
    proc_free(&q);
    assert_false(exists(exe_path));
}

/* 15. interpolate --to 2147483647 overflowed computing how many images to
 * load (UBSan stopped it under SAN=1): now it says there are too few. */
static void interpolate_to_int_max_says_too_few_images(void **state UNUSED)
{
    const char *w = init_weights();
    char png[512];
    snprintf(png, sizeof png, "%s", tp("i.png"));
    run_expect(1, "but there are only 12 images", RUN("interpolate", "--data", data(), "--weights", w,
                                                      "--out", png, "--to", "2147483647"));
    assert_false(exists(png));
}

/* The KiB a checkpoint of the model takes (model and optimizer). */
static long checkpoint_kib(void)
{
    char out[512], path[600];
    struct stat a, b;
    snprintf(out, sizeof out, "%s", tp("ckpt_size"));
    run_expect(0, NULL, RUN("train", "--data", data(), "--out", out, "--epochs", "1", "--no-report"));
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    assert_int_equal(stat(path, &a), 0);
    snprintf(path, sizeof path, "%s/optim.safetensors", out);
    assert_int_equal(stat(path, &b), 0);
    return (long)((a.st_size + b.st_size) / 1024);
}

/* 17. A full disk: the epoch whose checkpoint fails is not in loss.csv
 * (it was: the row went in first and stayed), and the message says which
 * epoch the folder keeps. When the report fails, the message says the
 * checkpoint is saved, where, and how to make the report. A tmpfs a little
 * larger than one checkpoint holds epoch 1, not epoch 2 beside it. */
static void full_disk_keeps_the_last_checkpoint_and_says_so(void **state UNUSED)
{
    char disk[512], out[600], csv[700];
    long kib = checkpoint_kib();
    snprintf(disk, sizeof disk, "%s", tp("small_disk"));
    snprintf(out, sizeof out, "%s/run", disk);
    snprintf(csv, sizeof csv, "%s/loss.csv", out);
    if (mount_tmpfs(disk, kib + 200, 0) != 0) {
        print_message("skipped: cannot mount a tmpfs here (it needs root)\n");
        skip();
    }
    proc p = RUN("train", "--data", data(), "--out", out, "--epochs", "2", "--no-report");
    char *rows = slurp(csv, NULL);
    shell("umount '%s'", disk);         /* before any assert, so a failure leaves no mount */
    expect(&p, 1, "epoch 2 was not saved; ");
    assert_non_null(strstr(p.err, "/run/model.safetensors keeps epoch 1"));
    proc_free(&p);
    assert_non_null(rows);
    assert_non_null(strstr(rows, "\n1,"));
    assert_null(strstr(rows, "\n2,"));
    free(rows);
    /* room for the checkpoint, not for the report */
    assert_int_equal(mount_tmpfs(disk, kib + 60, 0), 0);
    p = RUN("train", "--data", data(), "--out", out, "--epochs", "1");
    shell("umount '%s'", disk);
    expect(&p, 1, "No space left on device");
    assert_non_null(strstr(p.err, "/run/model.safetensors is saved; the report is not complete"));
    assert_non_null(strstr(p.err, " report --data "));
    proc_free(&p);
}

/* 10. An optimizer file with a tensor the optimizer does not have is
 * refused on --resume, naming it, as model.safetensors is (it was ignored). */
static void resume_refuses_extra_optimizer_tensors(void **state UNUSED)
{
    char out[512], optim[600];
    snprintf(out, sizeof out, "%s", tp("run_extra"));
    snprintf(optim, sizeof optim, "%s/optim.safetensors", out);
    run_expect(0, NULL, RUN("train", "--data", data(), "--out", out, "--epochs", "1", "--no-report"));
    aec_tensor_file f;
    assert_int_equal(aec_safetensors_read(optim, &f), 0);
    aec_tensor *t = calloc((size_t)f.n + 1, sizeof *t);
    assert_non_null(t);
    file_tensors(&f, t);
    float extra[3] = { 1, 2, 3 };
    t[f.n] = (aec_tensor){ "conv1.weight.stale", 1, { 3 }, extra };
    assert_int_equal(aec_safetensors_write(optim, t, f.n + 1, f.metadata_json), 0);
    aec_tensor_file_free(&f);
    free(t);
    run_expect(1, "optim.safetensors: tensor 'conv1.weight.stale' is not optimizer state of model "
                  "'fmnist_cae' (1 tensors the optimizer does not have)",
               RUN("train", "--data", data(), "--out", out, "--epochs", "2", "--no-report", "--resume"));
}

/* ---- silently wrong numbers ------------------------------------------------------- */

static size_t param_offset(const aec_model *m, const char *name)
{
    for (int t = 0; t < m->n_tensors; t++)
        if (strcmp(m->params[t].name, name) == 0)
            return m->params[t].offset;
    fail_msg("no parameter %s", name);
    return 0;
}

/* 8. A NaN goes through relu as in PyTorch: one NaN bias of conv1 (relu
 * after it) makes every reconstruction NaN. relu's `v > 0 ? v : 0` made
 * it 0, and the model gave plausible images and a plausible loss. */
static void nan_goes_through_relu(void **state UNUSED)
{
    enum { B = 4 };
    size_t chw = 784;
    float *p = calloc(M->n_params, sizeof *p), *x = calloc(B * chw, sizeof *x);
    float *y = calloc(B * chw, sizeof *y);
    assert_true(p && x && y);
    aec_init_params(M, p, 1);
    for (size_t i = 0; i < B * chw; i++)
        x[i] = (float)(i % 97) / 97.0f;
    assert_int_equal(aec_run(M, p, AEC_RUN_RECONSTRUCT, x, B, y), 0);
    for (size_t i = 0; i < B * chw; i++)
        assert_true(isfinite(y[i]));
    p[param_offset(M, "conv1.bias")] = NAN;
    assert_int_equal(aec_run(M, p, AEC_RUN_RECONSTRUCT, x, B, y), 0);
    for (int b = 0; b < B; b++)
        assert_true(isnan(y[b * chw]));
    free(p), free(x), free(y);
}

/* 8. Loaded weights, inputs and latents with a NaN or Inf are refused,
 * naming the file, the tensor and the index. */
static void non_finite_weights_and_inputs_are_named(void **state UNUSED)
{
    char w[512], bad[512], z[512], png[512];
    snprintf(w, sizeof w, "%s", tp("finite.safetensors"));
    snprintf(bad, sizeof bad, "%s", tp("nan.safetensors"));
    snprintf(z, sizeof z, "%s", tp("nan_z.npy"));
    snprintf(png, sizeof png, "%s", tp("nan.png"));
    run_expect(0, NULL, RUN("init", "--out", w));
    aec_tensor_file f;
    assert_int_equal(aec_safetensors_read(w, &f), 0);
    aec_tensor t[16];
    assert_true(f.n <= 16);
    file_tensors(&f, t);
    int k = -1;
    for (int i = 0; i < f.n; i++)
        k = strcmp(f.names[i], "up1.weight") == 0 ? i : k;
    assert_true(k >= 0);
    f.data[k][7] = INFINITY;
    assert_int_equal(aec_safetensors_write(bad, t, f.n, f.metadata_json), 0);
    aec_tensor_file_free(&f);
    run_expect(1, "nan.safetensors: up1.weight holds an Inf at index 7",
               RUN("eval", "--data", data(), "--weights", bad));
    float zs[2 * 64] = { 0 };
    zs[64 + 3] = NAN;
    int64_t shape[2] = { 2, 64 };
    assert_int_equal(aec_npy_write_f32(z, zs, 2, shape), 0);
    run_expect(1, "nan_z.npy: the latents holds a NaN at index 67",
               RUN("decode", "--weights", w, "--latents", z, "--out", png));
    assert_false(exists(png));
}

/* ---- unclear messages ------------------------------------------------------------- */

/* t-SNE of under 4 points said "need ... perplexity >= 1 (got 64, 0.333333,
 * ...)": the perplexity aec had lowered for the small set. */
static void tsne_of_three_points_says_it_needs_four(void **state UNUSED)
{
    const char *w = init_weights();
    char png[512];
    snprintf(png, sizeof png, "%s", tp("map.png"));
    run_expect(1, "map.png: a t-SNE map needs at least 4 images, and there are 3 (--method pca needs 2)",
               RUN("latent-map", "--data", data(), "--weights", w, "--out", png, "--method", "tsne",
                   "--limit", "3"));
    run_expect(1, "a PCA map needs at least 2 images, and there is 1",
               RUN("latent-map", "--data", data(), "--weights", w, "--out", png, "--limit", "1"));
    assert_false(exists(png));
}

/* --lr 1e-50 "needs a positive number": it is one, but a float rounds it
 * to 0. Each numeric option's message gives its range. */
static void numeric_options_give_their_range(void **state UNUSED)
{
    char out[512];
    snprintf(out, sizeof out, "%s", tp("range_run"));
    run_expect(2, "--lr needs a number from 1.2e-38 to 3.4e+38 (a float's positive normal range), not '1e-50'",
               RUN("train", "--data", data(), "--out", out, "--lr", "1e-50"));
    run_expect(2, "--epochs needs a whole number from 1 to 2147483647, not '99999999999'",
               RUN("train", "--data", data(), "--out", out, "--epochs", "99999999999"));
    run_expect(2, "--seed needs a whole number from 0 to 18446744073709551615, not '-1'",
               RUN("train", "--data", data(), "--out", out, "--seed", "-1"));
    run_expect(2, "--to needs a whole number from 0 to 2147483647, not '2147483648'",
               RUN("interpolate", "--data", data(), "--weights", out, "--out", out, "--to", "2147483648"));
}

/* One stray label 255 in a Fashion-MNIST labels file made the latent map's
 * legend "class 0-27 + 228 more" (the names dropped, classes counted up to
 * 255). Where the folder's classes have names, a label beyond them is
 * refused, naming the split, the image and the label. */
static void a_label_beyond_the_class_names_is_refused(void **state UNUSED)
{
    const char *d = data_set("fashion_stray", 24, 12);
    char labels[600];
    snprintf(labels, sizeof labels, "%s/t10k-labels-idx1-ubyte", d);
    size_t n;
    uint8_t *b = read_bytes(labels, &n);
    b[8 + 5] = 255;
    write_bytes(labels, b, n);
    free(b);
    run_expect(1, "fashion_stray: the test split's labels file gives image 5 the label 255, but its "
                  "classes are 0 (T-shirt/top) to 9 (Ankle boot)",
               RUN("eval", "--data", d, "--weights", init_weights()));
}

/* An unknown command listed 9 of the 16: now every one, from the table. */
static void an_unknown_command_lists_them_all(void **state UNUSED)
{
    run_expect(2, "unknown command 'trian'; the commands are train, eval, score, reconstruct, encode, "
                  "decode, init, grad, step, sample, interpolate, report, latent-map, bench, "
                  "gradcheck, info (see", RUN("trian"));
}

/* A file name with a line break forged a line of aec's own ("aec: done"):
 * every message shows a name with its control bytes as C escapes, in
 * errors (aec_error) and in notes (aec_esc) alike. */
static void a_newline_in_a_name_cannot_forge_a_line(void **state UNUSED)
{
    char dir[512], w[600], out[600];
    snprintf(dir, sizeof dir, "%s", tp("run\naec: all done\x1b[2J"));
    snprintf(w, sizeof w, "%s/w.safetensors", dir);
    proc p = RUN("eval", "--data", data(), "--weights", w);
    expect(&p, 1, "/run\\naec: all done\\x1b[2J/w.safetensors: cannot read");
    assert_null(strstr(p.err, "\naec: all done"));
    proc_free(&p);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(out, sizeof out, "%s/o", dir);
    p = RUN("train", "--data", data(), "--out", out, "--epochs", "1", "--iterations", "10");
    expect(&p, 0, NULL);
    assert_non_null(strstr(p.out, "/run\\naec: all done\\x1b[2J/o/loss.png"));
    assert_null(strstr(p.out, "\naec: all done"));
    proc_free(&p);
    /* and aec's diagnostics (front/diag.c, esc_name) */
    char ae[600];
    snprintf(ae, sizeof ae, "%s/m.ae", dir);
    write_bytes(ae, "model x {\n  oops\n}\n", 19);
    p = run(aec(), "check", ae, NULL);
    expect(&p, 1, "/run\\naec: all done\\x1b[2J/m.ae:2:3: error: ");
    assert_null(strstr(p.err, "\naec: all done"));
    proc_free(&p);
    /* and aec's other messages (base/util.c, say): an -o into a folder
     * that is not there, an unknown option */
    char exe[600];
    snprintf(exe, sizeof exe, "%s/no\naec: built/x", dir);
    p = run(aec(), "build", MODEL, "-o", exe, NULL);
    expect(&p, 1, "/no\\naec: built/x: the directory ");
    assert_null(strstr(p.err, "\naec: built"));
    proc_free(&p);
    p = run(aec(), "check", "--x\naec: ok", NULL);
    expect(&p, 2, "aec: unknown option '--x\\naec: ok'");
    proc_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(train_into_a_run_needs_resume_or_overwrite),
        cmocka_unit_test(resume_with_another_batch_or_lr_is_refused),
        cmocka_unit_test(two_outputs_naming_one_file_are_refused),
        cmocka_unit_test(out_inside_data_is_refused),
        cmocka_unit_test(sigterm_during_the_report_leaves_one_run),
        cmocka_unit_test(sigterm_and_a_second_training),
        cmocka_unit_test(nan_goes_through_relu),
        cmocka_unit_test(non_finite_weights_and_inputs_are_named),
        cmocka_unit_test(build_output_is_never_the_source_or_a_device),
        cmocka_unit_test(check_of_dev_zero_stops_at_the_limit),
        cmocka_unit_test(interrupted_build_leaves_nothing_and_every_flag_counts),
        cmocka_unit_test(interpolate_to_int_max_says_too_few_images),
        cmocka_unit_test(full_disk_keeps_the_last_checkpoint_and_says_so),
        cmocka_unit_test(resume_refuses_extra_optimizer_tensors),
        cmocka_unit_test(tsne_of_three_points_says_it_needs_four),
        cmocka_unit_test(numeric_options_give_their_range),
        cmocka_unit_test(a_label_beyond_the_class_names_is_refused),
        cmocka_unit_test(an_unknown_command_lists_them_all),
        cmocka_unit_test(a_newline_in_a_name_cannot_forge_a_line),
    };
    if (tmpdir_setup("/tmp/aec_test_hostile.XXXXXX") != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, tmpdir_teardown);
}
