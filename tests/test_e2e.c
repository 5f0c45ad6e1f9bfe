/* test_e2e.c: the product end to end, as a user runs it. `aec build` turns
 * models/fmnist_cae.ae into an executable in a temporary directory, which then
 * trains on real Fashion-MNIST for a few hundred images, resumes, evaluates,
 * reconstructs, encodes and decodes; then the failure paths. Every program
 * runs as a child process (posix_spawn), its stdout and stderr captured in
 * files. The outputs are checked against values computed here, in process,
 * with the runtime and the generated code for the same model.
 *
 * The tests run in order and share one temporary directory: the training
 * tests build on the executable from the first, and the later ones on the
 * checkpoint from training. Without the data set those tests skip, saying why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <png.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "aec.h"
#include "core/floats.h"
#include "fmnist_cae.h"
#include "util.h"

extern char **environ;

#define AEC     AEC_BUILD "/aec"    /* build/, or build-san/ under SAN=1 */
#define MODEL   AEC_ROOT "/models/fmnist_cae.ae"
#ifndef DATA
#define DATA    "/usr/share/datasets/fashion-mnist"
#endif

enum { TRAIN_LIMIT = 300, N_RECON = 6, N_ENCODE = 50, TILE = 28, GAP = 2, LATENT = 64 };

static const aec_model *const M = &fmnist_cae_model;

/* ---- paths and files (the test's directory, tmpdir, and tp are in util.c) ------- */

static void assert_same_bytes(const char *a, const char *b)
{
    size_t na, nb;
    char *da = slurp(a, &na), *db = slurp(b, &nb);
    assert_non_null(da);
    assert_non_null(db);
    assert_true(na > 0);
    assert_int_equal(na, nb);
    assert_memory_equal(da, db, na);
    free(da);
    free(db);
}

/* ---- running a program (proc, run: tests/util.c) ------------------------------ */

/* Exit status `want`; on a mismatch, show what the program said. */
static void expect_status(const proc *p, int want)
{
    if (p->status != want)
        print_message("exit %d (signal %d)\nstdout:\n%s\nstderr:\n%s\n", p->status, p->signal,
                      p->out, p->err);
    assert_int_equal(p->status, want);
}

/* expect_ok(prog, arg, ..., NULL): it exits 0. */
static void expect_ok(const char *prog, ...)
{
    va_list ap;
    va_start(ap, prog);
    proc p = run_va(prog, ap);
    va_end(ap);
    expect_status(&p, 0);
    proc_free(&p);
}

static void need_data(void)
{
    need_fashion_mnist(DATA);
}

static void need_exe(void)
{
    if (access(tp("fmnist_cae"), X_OK) != 0)
        fail_msg("%s is missing: aec build failed in an earlier test", tp("fmnist_cae"));
}

static void need_run(void)
{
    need_data();
    need_exe();
    if (access(tp("run/model.safetensors"), R_OK) != 0)
        fail_msg("%s is missing: training failed in an earlier test", tp("run/model.safetensors"));
}

/* ---- loss.csv ------------------------------------------------------------------------ */

typedef struct {
    int epoch;
    double train, val, secs;
} csv_row;

/* Parse loss.csv into rows; returns the row count, -1 on a malformed file. */
static int read_csv(const char *text, csv_row *rows, int max)
{
    const char *header = "epoch,train_loss,val_loss,seconds\n";
    if (strncmp(text, header, strlen(header)) != 0)
        return -1;
    const char *p = text + strlen(header);
    int n = 0;
    while (*p && n < max) {
        int used = 0;
        csv_row *r = &rows[n];
        if (sscanf(p, "%d,%lf,%lf,%lf%n", &r->epoch, &r->train, &r->val, &r->secs, &used) != 4
            || p[used] != '\n')
            return -1;
        p += used + 1;
        n++;
    }
    return *p ? -1 : n;
}

static int load_csv(csv_row *rows, int max, char **text)
{
    char *t = slurp(tp("run/loss.csv"), NULL);
    assert_non_null(t);
    int n = read_csv(t, rows, max);
    if (n < 0)
        print_message("malformed loss.csv:\n%s", t);
    if (text)
        *text = t;
    else
        free(t);
    return n;
}

static void assert_positive_finite(double x)
{
    assert_true(isfinite(x));
    assert_true(x > 0.0);
}

/* ---- PNG ------------------------------------------------------------------------------- */

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Check the signature and the IHDR chunk (with its CRC) of a PNG; its size. */
static void png_header(const char *path, uint32_t *width, uint32_t *height)
{
    static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    size_t n;
    unsigned char *b = (unsigned char *)slurp(path, &n);
    assert_non_null(b);
    assert_true(n > 33);
    assert_memory_equal(b, sig, 8);
    assert_int_equal(be32(b + 8), 13);
    assert_memory_equal(b + 12, "IHDR", 4);
    assert_int_equal(be32(b + 29), crc32(0, b + 12, 17));
    assert_int_equal(b[24], 8);     /* bit depth */
    assert_int_equal(b[25], 0);     /* greyscale */
    *width = be32(b + 16);
    *height = be32(b + 20);
    free(b);
}

/* The grid size for rows x cols tiles of TILE pixels with GAP-pixel gaps. */
static void assert_grid(const char *path, int rows, int cols)
{
    uint32_t w, h;
    png_header(path, &w, &h);
    assert_int_equal(w, cols * (TILE + GAP) + GAP);
    assert_int_equal(h, rows * (TILE + GAP) + GAP);
}

/* Decode a greyscale PNG with libpng; the pixels, malloc'd. */
static uint8_t *png_pixels(const char *path, uint32_t *width, uint32_t *height)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_file(&img, path));
    img.format = PNG_FORMAT_GRAY;
    uint8_t *px = malloc(PNG_IMAGE_SIZE(img));
    assert_non_null(px);
    assert_true(png_image_finish_read(&img, NULL, px, 0, NULL));
    *width = img.width;
    *height = img.height;
    return px;
}

/* ---- the model, run here ---------------------------------------------------------------- */

static float *load_checkpoint(void)
{
    float *params = aec_alloc_floats(M->n_params, "parameters");
    assert_non_null(params);
    assert_int_equal(aec_load_params(tp("run/model.safetensors"), M, params), 0);
    return params;
}

/* The first n test images through the model: their latents and reconstructions. */
static void forward_here(const aec_dataset *d, int n, float *z, float *y)
{
    float *params = load_checkpoint();
    float *arena = aec_arena_alloc(M, n), *prep = aec_prepare(M, params);
    assert_non_null(arena);
    assert_non_null(prep);
    aec_put_input(M, arena, d->x, n);
    M->encode(params, prep, arena, n, 0);
    M->decode(params, prep, arena, n);
    free(prep);
    if (z)
        aec_get_latent(M, arena, z, n);
    if (y)
        aec_get_output(M, arena, y, n);
    free(arena);
    free(params);
}

/* ---- 1. the compiler ------------------------------------------------------------------- */

static void build_makes_an_executable(void **state)
{
    (void)state;
    expect_ok(AEC, "build", MODEL, "-o", tp("fmnist_cae"), NULL);
    struct stat st;
    assert_int_equal(stat(tp("fmnist_cae"), &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(access(tp("fmnist_cae"), X_OK), 0);
    proc p = run(tp("fmnist_cae"), "info", NULL);
    expect_status(&p, 0);
    assert_non_null(strstr(p.out, "model: fmnist_cae, input 1x28x28 in [0, 1], latent 64, loss mse\n"));
    assert_non_null(strstr(p.out, "parameters: 442177 in 12 tensors\n"));
    proc_free(&p);
}

static void emit_twice_gives_identical_files(void **state)
{
    (void)state;
    expect_ok(AEC, "emit", MODEL, "-o", tp("emit1"), NULL);
    expect_ok(AEC, "emit", MODEL, "-o", tp("emit2"), NULL);
    assert_same_bytes(tp("emit1/fmnist_cae.c"), tp("emit2/fmnist_cae.c"));
    assert_same_bytes(tp("emit1/fmnist_cae.h"), tp("emit2/fmnist_cae.h"));
}

/* ---- 2.-6. the model executable on Fashion-MNIST ---------------------------------------- */

static void train_two_epochs_writes_loss_csv(void **state)
{
    (void)state;
    need_data();
    need_exe();
    proc p = run(tp("fmnist_cae"), "train", "--data", DATA, "--out", tp("run"), "--epochs", "2",
                 "--limit", "300", "--batch", "32", NULL);
    expect_status(&p, 0);
    /* not a terminal: one plain line per epoch, then one per file of the report */
    assert_int_equal(strncmp(p.out, "epoch 1/2  train ", 17), 0);
    const char *second = strchr(p.out, '\n') + 1;
    assert_int_equal(strncmp(second, "epoch 2/2  train ", 17), 0);
    for (const char *l = strchr(second, '\n') + 1; *l; l = strchr(l, '\n') + 1)
        assert_int_equal(strncmp(l, "report: wrote ", 14), 0);
    assert_null(strchr(p.out, '\r'));
    proc_free(&p);

    csv_row r[4];
    assert_int_equal(load_csv(r, 4, NULL), 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(r[i].epoch, i + 1);
        assert_positive_finite(r[i].train);
        assert_positive_finite(r[i].val);
        assert_true(isfinite(r[i].secs) && r[i].secs >= 0.0);
    }
    print_message("val loss %.6f -> %.6f\n", r[0].val, r[1].val);
    assert_true(r[1].val < r[0].val);
}

/* Width and height of any PNG, through libpng. */
static void png_size(const char *path, uint32_t *width, uint32_t *height)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path))
        fail_msg("%s: not a PNG libpng can read", path);
    *width = img.width;
    *height = img.height;
    png_image_free(&img);
}

static void expect_png(const char *name, uint32_t width, uint32_t height)
{
    uint32_t w, h;
    png_size(tp(name), &w, &h);
    if (w != width || h != height)
        fail_msg("%s is %ux%u, expected %ux%u", name, w, h, width, height);
}

/* Every src="..." of report.html names a file beside it. */
static int check_report_links(const char *html)
{
    int n = 0;
    for (const char *p = html; (p = strstr(p, "src=\"")) != NULL; n++) {
        p += 5;
        const char *end = strchr(p, '"');
        assert_non_null(end);
        char name[256];
        snprintf(name, sizeof name, "run/%.*s", (int)(end - p), p);
        if (access(tp(name), R_OK) != 0)
            fail_msg("report.html refers to %s, which is missing", name);
    }
    return n;
}

/* Issue 4: every run ends with its pictures and one page. */
static void train_ends_with_the_report(void **state)
{
    (void)state;
    need_run();
    expect_png("run/loss.png", 800, 500);
    expect_png("run/latent_pca.png", 800, 700);
    expect_png("run/latent_tsne.png", 800, 700);
    assert_grid(tp("run/recon.png"), 2, 10);            /* 10 originals over 10 reconstructions */
    assert_grid(tp("run/interpolate.png"), 4, 10);      /* 4 pairs: image, 8 steps, image */
    assert_int_equal(access(tp("run/samples.png"), F_OK), -1);      /* not a VAE */
    char *html = slurp(tp("run/report.html"), NULL);
    assert_non_null(html);
    assert_int_equal(check_report_links(html), 7);      /* with worst.png and loss_hist.png */
    assert_non_null(strstr(html, "<pre>model fmnist_cae: input 1x28x28"));    /* the layer table */
    assert_non_null(strstr(html, "conv1 = conv2d(32, kernel=3, stride=2, pad=1) relu"));  /* the .ae */
    assert_non_null(strstr(html, "of the variance"));
    free(html);
}

static void expect_failure(const proc *p, int want, const char *needle);

/* report of a validation set too small for some pictures: those are left
 * out, said so on the page and in the output, and an earlier run's copy
 * with them (the page links what it finds); the rest is made. */
static void report_leaves_out_what_too_few_images_cannot_show(void **state)
{
    (void)state;
    need_run();
    assert_int_equal(mkdir(tp("small"), 0777), 0);
    copy_file(tp("run/latent_tsne.png"), tp("small/latent_tsne.png"));
    proc p = run(tp("fmnist_cae"), "report", "--data", DATA, "--weights", tp("run/model.safetensors"),
                 "--out", tp("small"), "--limit", "3", NULL);
    expect_status(&p, 0);
    assert_non_null(strstr(p.out, "small/latent_tsne.png: it needs 4 validation images, and there are 3\n"));
    proc_free(&p);
    assert_int_equal(access(tp("small/latent_tsne.png"), F_OK), -1);
    expect_png("small/latent_pca.png", 800, 700);
    assert_grid(tp("small/interpolate.png"), 1, 10);    /* one pair */
    char *html = slurp(tp("small/report.html"), NULL);
    assert_int_equal(check_report_links(html), 5);      /* recon, worst, histogram, PCA, interpolation */
    assert_non_null(strstr(html, "<p>Left out for want of validation images (3): the t-SNE map (it needs 4).</p>"));
    assert_non_null(strstr(html, "<tr><th>images</th><td>3 validation</td>"));
    free(html);

    p = run(tp("fmnist_cae"), "report", "--data", DATA, "--weights", tp("run/model.safetensors"),
            "--out", tp("small"), "--limit", "1", NULL);
    expect_status(&p, 0);
    assert_non_null(strstr(p.out, "small/latent_pca.png: it needs 2 validation images, and there is 1\n"));
    proc_free(&p);
    assert_int_equal(access(tp("small/latent_pca.png"), F_OK), -1);
    assert_int_equal(access(tp("small/interpolate.png"), F_OK), -1);
    html = slurp(tp("small/report.html"), NULL);
    assert_int_equal(check_report_links(html), 3);      /* recon, worst, histogram */
    assert_non_null(strstr(html, "<p>Left out for want of validation images (1): the PCA map and the "
                                 "interpolation (they need 2), and the t-SNE map (it needs 4).</p>"));
    free(html);
}

/* Issue 3/4: images along the line between two latents, and a 2-D map. */
static void interpolate_and_latent_map(void **state)
{
    (void)state;
    need_run();
    expect_ok(tp("fmnist_cae"), "interpolate", "--data", DATA, "--weights", tp("run/model.safetensors"),
              "--from", "0", "--to", "3", "--steps", "6", "--mode", "slerp", "--out", tp("interp.png"), NULL);
    assert_grid(tp("interp.png"), 1, 6);
    expect_ok(tp("fmnist_cae"), "latent-map", "--data", DATA, "--weights", tp("run/model.safetensors"),
              "--method", "pca", "--limit", "200", "--out", tp("map.png"), NULL);
    expect_png("map.png", 800, 700);
    proc p = run(tp("fmnist_cae"), "sample", "--weights", tp("run/model.safetensors"), "--out", tp("s.png"), NULL);
    expect_failure(&p, 1, "no variational latent");     /* a plain autoencoder has no prior */
    proc_free(&p);
    p = run(tp("fmnist_cae"), "interpolate", "--data", DATA, "--weights", tp("run/model.safetensors"),
            "--from", "0", "--to", "99999", "--out", tp("x.png"), NULL);
    expect_failure(&p, 1, "only 10000 images");
    proc_free(&p);
}

/* Issue 3: a VAE executable samples its prior, and grad insists on given noise. */
static void vae_samples_and_needs_eps(void **state)
{
    (void)state;
    char vae[256];
    snprintf(vae, sizeof vae, "%s/models/celeba_vae.ae", AEC_ROOT);
    expect_ok(AEC, "build", vae, "-o", tp("celeba_vae"), NULL);
    expect_ok(tp("celeba_vae"), "init", "--out", tp("vae.safetensors"), NULL);
    expect_ok(tp("celeba_vae"), "sample", "--weights", tp("vae.safetensors"), "--n", "4", "--cols", "4",
              "--out", tp("samples.png"), NULL);
    uint32_t w, h;
    png_size(tp("samples.png"), &w, &h);
    assert_int_equal(w, 4 * (64 + GAP) + GAP);
    assert_int_equal(h, 64 + 2 * GAP);
    float x[2 * 3 * 64 * 64] = {0};
    int64_t shape[4] = {2, 3, 64, 64};
    assert_int_equal(aec_npy_write_f32(tp("x.npy"), x, 4, shape), 0);
    proc p = run(tp("celeba_vae"), "grad", "--weights", tp("vae.safetensors"), "--input", tp("x.npy"),
                 "--out", tp("g.safetensors"), NULL);
    expect_failure(&p, 1, "--eps");
    proc_free(&p);
}

/* examples/latent_walk.c, a program of one's own around the generated
 * header: it runs on a checkpoint (its arena with the kernels' scratch, its
 * weights prepared), writes its strip of 8 faces and one finite distance a
 * face, and names a checkpoint that is not there. */
static void example_latent_walk(void **state)
{
    (void)state;
    const char *walk = AEC_BUILD "/latent_walk";
    expect_ok(AEC_BUILD "/celeba_vae", "init", "--out", tp("walk.safetensors"), "--seed", "3", NULL);
    proc p = run(walk, tp("walk.safetensors"), tp("walk.png"), "7", NULL);
    expect_status(&p, 0);
    uint32_t w, h;
    png_size(tp("walk.png"), &w, &h);
    assert_int_equal(w, 8 * (64 + GAP) + GAP);
    assert_int_equal(h, 64 + 2 * GAP);
    int steps = 0;
    for (const char *s = strstr(p.out, "step "); s; s = strstr(s + 1, "step ")) {
        int k;
        double d;
        assert_int_equal(sscanf(s, "step %d: |encode(decode(z)) - z| / |z| = %lf", &k, &d), 2);
        assert_int_equal(k, steps++);
        assert_true(isfinite(d) && d > 0.0);
    }
    assert_int_equal(steps, 8);
    proc_free(&p);
    p = run(walk, tp("no-such.safetensors"), tp("walk2.png"), NULL);
    expect_failure(&p, 1, "no-such.safetensors");
    proc_free(&p);
    assert_int_not_equal(access(tp("walk2.png"), F_OK), 0);
}

/* Issue 5's first tool: one machine-readable line of speeds. */
static void bench_prints_one_line(void **state)
{
    (void)state;
    need_exe();
    proc p = run(tp("fmnist_cae"), "bench", "--batch", "16", "--seconds", "0.2", NULL);
    expect_status(&p, 0);
    double train, tflops, infer, iflops, mflop, rss;
    int batch;
    assert_int_equal(sscanf(p.out, "model=fmnist_cae batch=%d train_img_s=%lf train_gflops=%lf infer_img_s=%lf "
                                   "infer_gflops=%lf forward_mflop=%lf peak_rss_mb=%lf blas_core=",
                            &batch, &train, &tflops, &infer, &iflops, &mflop, &rss), 7);
    assert_int_equal(batch, 16);
    assert_true(train > 0 && infer > train && tflops > 0 && iflops > 0 && rss > 0);
    assert_float_equal(mflop, 4.641, 1e-3);    /* aec check's forward FLOPs per image */
    assert_float_equal(tflops, 3 * mflop * train / 1e3, 0.01 * tflops);
    proc_free(&p);
    /* one mode alone, and the profile: a row per layer of the .ae file */
    p = run(tp("fmnist_cae"), "bench", "--batch", "8", "--seconds", "0.2", "--only", "infer", NULL);
    expect_status(&p, 0);
    assert_null(strstr(p.out, "train_img_s"));
    assert_non_null(strstr(p.out, " infer_img_s="));
    proc_free(&p);
    p = run(tp("fmnist_cae"), "bench", "--batch", "8", "--seconds", "0.2", "--only", "train", "--profile", NULL);
    expect_status(&p, 0);
    assert_null(strstr(p.out, "infer_img_s"));
    static const char *const rows[] = { "\n  conv1                6 ", "\n  up2                 16 ",
                                        "\n  loss           ", "\n  optimizer      ", "\n  other          " };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        assert_non_null(strstr(p.out, rows[i]));
    proc_free(&p);
    p = run(tp("fmnist_cae"), "bench", "--only", "both", NULL);
    expect_failure(&p, 2, "bench: --only needs 'train' or 'infer', not 'both'");
    proc_free(&p);
}

static void checkpoint_is_the_torch_state_dict(void **state)
{
    static const struct { const char *name; int ndim; int64_t shape[4]; } want[] = {
        { "conv1.weight", 4, { 32, 1, 3, 3 } }, { "conv1.bias", 1, { 32 } },
        { "conv2.weight", 4, { 64, 32, 3, 3 } }, { "conv2.bias", 1, { 64 } },
        { "code.weight", 2, { 64, 3136 } },      { "code.bias", 1, { 64 } },
        { "fc.weight", 2, { 3136, 64 } },        { "fc.bias", 1, { 3136 } },
        { "up1.weight", 4, { 64, 32, 3, 3 } },  { "up1.bias", 1, { 32 } },
        { "up2.weight", 4, { 32, 1, 3, 3 } },   { "up2.bias", 1, { 1 } },
    };
    (void)state;
    need_run();
    aec_tensor_file f;
    assert_int_equal(aec_safetensors_read(tp("run/model.safetensors"), &f), 0);
    assert_int_equal(f.n, 12);
    float *params = load_checkpoint();
    for (int i = 0; i < 12; i++) {
        assert_string_equal(f.names[i], want[i].name);
        assert_int_equal(f.ndim[i], want[i].ndim);
        assert_memory_equal(f.shape[i], want[i].shape, (size_t)want[i].ndim * sizeof(int64_t));
        assert_memory_equal(f.data[i], params + M->params[i].offset, M->params[i].numel * sizeof(float));
    }
    assert_non_null(f.metadata_json);
    assert_non_null(strstr(f.metadata_json, "\"model\":\"fmnist_cae\""));
    assert_non_null(strstr(f.metadata_json, "\"epoch\":\"2\""));
    free(params);
    aec_tensor_file_free(&f);
}

static void resume_adds_one_row_and_keeps_the_others(void **state)
{
    (void)state;
    need_run();
    char *before, *after;
    csv_row r[4];
    assert_int_equal(load_csv(r, 4, &before), 2);
    proc p = run(tp("fmnist_cae"), "train", "--data", DATA, "--out", tp("run"), "--epochs", "3",
                 "--limit", "300", "--batch", "32", "--resume", NULL);
    expect_status(&p, 0);
    assert_non_null(strstr(p.out, "resuming after epoch 2"));
    assert_non_null(strstr(p.out, "epoch 3/3  train "));
    proc_free(&p);
    assert_int_equal(load_csv(r, 4, &after), 3);
    assert_int_equal(strncmp(before, after, strlen(before)), 0);
    assert_int_equal(r[2].epoch, 3);
    assert_positive_finite(r[2].train);
    assert_positive_finite(r[2].val);
    free(before);
    free(after);
}

/* Issue 6: a NaN or Inf stops training at once, naming the step and the
 * layer, and the last good checkpoint stays as it was. Runs on copies of
 * run/ (3 epochs of 10 batches by now: the next step is 31). */
static void copy_run(const char *to)
{
    proc p = run("/bin/cp", "-r", tp("run"), tp(to), NULL);
    expect_status(&p, 0);
    proc_free(&p);
}

/* f written back to path (with its metadata), as aec writes checkpoints. */
static void write_back(const char *path, const aec_tensor_file *f)
{
    aec_tensor t[64];
    assert_true(f->n <= 64);
    file_tensors(f, t);
    assert_int_equal(aec_safetensors_write(path, t, f->n, f->metadata_json), 0);
}

/* The run's recorded learning rate made lr: --resume refuses another --lr
 * (issue 20, item 11) and takes the recorded one without it. */
static void record_lr(const char *path, const char *lr)
{
    aec_tensor_file f;
    char meta[1024];
    assert_int_equal(aec_safetensors_read(path, &f), 0);
    char *at = strstr(f.metadata_json, "\"lr\":\""), *end = at ? strchr(at + 6, '"') : NULL;
    assert_non_null(end);
    snprintf(meta, sizeof meta, "%.*s\"lr\":\"%s%s", (int)(at - f.metadata_json),
             f.metadata_json, lr, end);
    free(f.metadata_json);
    f.metadata_json = strdup(meta);
    write_back(path, &f);
    aec_tensor_file_free(&f);
}

static void numerical_faults_stop_naming_layer_and_step(void **state)
{
    (void)state;
    need_run();
    size_t n0, n1;
    /* a diverging learning rate: the loss goes NaN */
    copy_run("nan_loss");
    record_lr(tp("nan_loss/optim.safetensors"), "1e+06");
    uint8_t *before = read_bytes(tp("nan_loss/model.safetensors"), &n0);
    proc p = run(tp("fmnist_cae"), "train", "--data", DATA, "--out", tp("nan_loss"), "--epochs", "5",
                 "--limit", "300", "--batch", "32", "--resume", "--no-report", NULL);
    expect_failure(&p, 1, "the loss is nan at step 3");
    assert_non_null(strstr(p.err, " (epoch 4, batch "));
    assert_non_null(strstr(p.err, "; the first output with a NaN or Inf is layer "));
    assert_non_null(strstr(p.err, "nan_loss/model.safetensors keeps epoch 3, the last good one"));
    proc_free(&p);
    uint8_t *after = read_bytes(tp("nan_loss/model.safetensors"), &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    free(after);
    free(before);

    /* a NaN weight in conv2 (which its relu used to hide, the loss staying
     * finite) is refused as the checkpoint loads, named with its index */
    copy_run("nan_grad");
    aec_tensor_file f;
    assert_int_equal(aec_safetensors_read(tp("nan_grad/model.safetensors"), &f), 0);
    f.data[2][5] = NAN;     /* conv2.weight */
    assert_string_equal(f.names[2], "conv2.weight");
    write_back(tp("nan_grad/model.safetensors"), &f);
    aec_tensor_file_free(&f);
    p = run(tp("fmnist_cae"), "train", "--data", DATA, "--out", tp("nan_grad"), "--epochs", "5",
            "--limit", "300", "--batch", "32", "--resume", "--no-report", NULL);
    expect_failure(&p, 1, "nan_grad/model.safetensors: conv2.weight holds a NaN at index 5 (of 18432 values)");
    proc_free(&p);
}

static void eval_prints_the_last_val_loss(void **state)
{
    (void)state;
    need_run();
    csv_row r[4];
    int n = load_csv(r, 4, NULL);
    assert_true(n >= 1);
    proc p = run(tp("fmnist_cae"), "eval", "--data", DATA, "--weights", tp("run/model.safetensors"),
                 "--limit", "300", NULL);
    expect_status(&p, 0);
    double loss;
    int used = 0;
    assert_int_equal(sscanf(p.out, "loss %lf\n%n", &loss, &used), 1);
    assert_int_equal((size_t)used, strlen(p.out));
    print_message("eval %.8g, loss.csv %.8g\n", loss, r[n - 1].val);
    assert_true(fabs(loss - r[n - 1].val) <= 1e-6 * r[n - 1].val);
    proc_free(&p);
}

/* Top row: the first test images, exactly; bottom row: their reconstructions. */
static void check_recon_tiles(const uint8_t *px, uint32_t width, const aec_dataset *d,
                              const float *y)
{
    int worst = 0;
    for (int i = 0; i < N_RECON; i++)
        for (int r = 0; r < TILE; r++)
            for (int c = 0; c < TILE; c++) {
                size_t x0 = GAP + (size_t)i * (TILE + GAP) + c, y0 = GAP + r;
                size_t k = (size_t)i * TILE * TILE + r * TILE + c;
                assert_int_equal(px[y0 * width + x0], (int)lrintf(d->x[k] * 255.0f));
                int got = px[(y0 + TILE + GAP) * width + x0], want = (int)lrintf(y[k] * 255.0f);
                worst = abs(got - want) > worst ? abs(got - want) : worst;
            }
    assert_true(worst <= 1);
    assert_int_equal(px[0], 128);                           /* the gap's grey */
    assert_int_equal(px[(GAP + TILE) * width + GAP], 128);  /* between the rows */
}

static void reconstruct_writes_two_rows_of_tiles(void **state)
{
    (void)state;
    need_run();
    expect_ok(tp("fmnist_cae"), "reconstruct", "--data", DATA, "--weights",
              tp("run/model.safetensors"), "--out", tp("r.png"), "--n", "6", NULL);
    assert_grid(tp("r.png"), 2, N_RECON);
    uint32_t w, h;
    uint8_t *px = png_pixels(tp("r.png"), &w, &h);
    assert_int_equal(w, N_RECON * (TILE + GAP) + GAP);
    aec_dataset d;
    assert_int_equal(aec_dataset_load(DATA, "test", M, N_RECON, &d), 0);
    float y[N_RECON * TILE * TILE];
    forward_here(&d, N_RECON, NULL, y);
    check_recon_tiles(px, w, &d, y);
    aec_dataset_free(&d);
    free(px);
}

/* labels.npy: int64 [n], as aec_npy_write_i64 writes it. */
static int64_t *read_labels_npy(const char *path, int64_t n)
{
    size_t len;
    char *b = slurp(path, &len);
    assert_non_null(b);
    assert_true(len > 10);
    assert_memory_equal(b, "\x93NUMPY\x01\x00", 8);
    size_t hlen = (uint8_t)b[8] | (size_t)(uint8_t)b[9] << 8;
    assert_int_equal(len, 10 + hlen + (size_t)n * 8);
    char header[256], shape[32];
    assert_true(hlen < sizeof header);
    memcpy(header, b + 10, hlen);
    header[hlen] = '\0';
    snprintf(shape, sizeof shape, "'shape': (%lld,)", (long long)n);
    assert_non_null(strstr(header, "'descr': '<i8'"));
    assert_non_null(strstr(header, shape));
    int64_t *labels = malloc((size_t)n * 8);
    assert_non_null(labels);
    memcpy(labels, b + 10 + hlen, (size_t)n * 8);
    free(b);
    return labels;
}

static void encode_writes_latents_and_labels(void **state)
{
    (void)state;
    need_run();
    expect_ok(tp("fmnist_cae"), "encode", "--data", DATA, "--weights", tp("run/model.safetensors"),
              "--out", tp("z.npy"), "--labels", tp("l.npy"), "--limit", "50", NULL);
    float *z;
    int ndim;
    int64_t shape[4];
    assert_int_equal(aec_npy_read_f32(tp("z.npy"), &z, &ndim, shape), 0);
    assert_int_equal(ndim, 2);
    assert_int_equal(shape[0], N_ENCODE);
    assert_int_equal(shape[1], LATENT);

    aec_dataset d;
    assert_int_equal(aec_dataset_load(DATA, "test", M, N_ENCODE, &d), 0);
    static float here[N_ENCODE * LATENT];
    forward_here(&d, N_ENCODE, here, NULL);
    double diff = rel_diff(z, here, N_ENCODE * LATENT);
    print_message("latents: executable vs in process %.2e\n", diff);
    assert_true(diff <= 1e-4);

    int64_t *labels = read_labels_npy(tp("l.npy"), N_ENCODE);
    assert_int_equal(labels[0], 9);     /* the first test image: an ankle boot */
    assert_memory_equal(labels, d.labels, N_ENCODE * sizeof(int64_t));
    free(labels);
    aec_dataset_free(&d);
    free(z);
}

static void decode_writes_a_grid_of_the_latents(void **state)
{
    (void)state;
    need_run();
    if (access(tp("z.npy"), R_OK) != 0)
        fail_msg("%s is missing: encode failed in an earlier test", tp("z.npy"));
    expect_ok(tp("fmnist_cae"), "decode", "--weights", tp("run/model.safetensors"), "--latents",
              tp("z.npy"), "--out", tp("d.png"), NULL);
    assert_grid(tp("d.png"), (N_ENCODE + 7) / 8, 8);    /* --cols defaults to 8 */
}

/* ---- 7. failures -------------------------------------------------------------------------- */

/* Exit status want, and stderr holds `needle`. */
static void expect_failure(const proc *p, int want, const char *needle)
{
    expect_status(p, want);
    if (!strstr(p->err, needle))
        print_message("stderr lacks '%s':\n%s", needle, p->err);
    assert_non_null(strstr(p->err, needle));
}

static void train_on_missing_data_names_the_path(void **state)
{
    (void)state;
    need_exe();
    proc p = run(tp("fmnist_cae"), "train", "--data", "/nonexistent", "--out", tp("nodata"), NULL);
    expect_failure(&p, 1, "/nonexistent");
    assert_int_equal(strncmp(p.err, "aec: ", 5), 0);
    proc_free(&p);
}

static void eval_of_truncated_weights_names_the_file(void **state)
{
    (void)state;
    need_run();
    copy_file(tp("run/model.safetensors"), tp("short.safetensors"));
    assert_int_equal(truncate(tp("short.safetensors"), 100), 0);
    proc p = run(tp("fmnist_cae"), "eval", "--data", DATA, "--weights", tp("short.safetensors"),
                 "--limit", "10", NULL);
    expect_failure(&p, 1, tp("short.safetensors"));
    assert_string_equal(p.out, "");
    proc_free(&p);
}

/* models/fmnist_cae.ae with conv2's kind misspelled `conv2`, at TMPDIR/bad.ae. */
static const char *write_bad_model(void)
{
    char *src = slurp(MODEL, NULL);
    assert_non_null(src);
    char *kind = strstr(src, "conv2 = conv2d(64");
    assert_non_null(kind);
    memmove(kind + 13, kind + 14, strlen(kind + 14) + 1);   /* drop the d */
    FILE *fp = fopen(tp("bad.ae"), "w");
    assert_non_null(fp);
    fputs(src, fp);
    assert_int_equal(fclose(fp), 0);
    free(src);
    return tp("bad.ae");
}

static void misspelled_kind_gives_did_you_mean(void **state)
{
    (void)state;
    proc p = run(AEC, "build", write_bad_model(), "-o", tp("bad_exe"), NULL);
    expect_failure(&p, 1, ":7:13: error: unknown layer kind 'conv2'; did you mean 'conv2d'?\n"
                          "      conv2 = conv2(64, kernel=3, stride=2, pad=1) relu\n"
                          "              ^\n");
    assert_int_equal(access(tp("bad_exe"), F_OK), -1);
    proc_free(&p);
}

/* FILE in FILE:LINE:COL is the path as given, as in `cannot read` errors. */
static void diagnostic_names_the_file_as_given(void **state)
{
    (void)state;
    char want[300];
    snprintf(want, sizeof want, "%s:7:13: error: ", write_bad_model());
    proc p = run(AEC, "check", tp("bad.ae"), NULL);
    expect_status(&p, 1);
    if (strncmp(p.err, want, strlen(want)) != 0)
        print_message("want stderr to start with '%s', got:\n%s", want, p.err);
    assert_int_equal(strncmp(p.err, want, strlen(want)), 0);
    proc_free(&p);
}

static void build_into_a_missing_directory_fails_cleanly(void **state)
{
    (void)state;
    proc p = run(AEC, "build", MODEL, "-o", tp("no/such/dir/exe"), NULL);
    if (p.signal)
        fail_msg("aec build crashed with signal %d:\n%s", p.signal, p.err);
    assert_true(p.status != 0);
    assert_non_null(strstr(p.err, tp("no/such/dir")));
    assert_int_equal(access(tp("no"), F_OK), -1);
    proc_free(&p);
}

static void failed_build_keeps_the_old_executable(void **state)
{
    (void)state;
    need_exe();
    copy_file(tp("fmnist_cae"), tp("fmnist_cae.before"));
    proc p = run(AEC, "build", write_bad_model(), "-o", tp("fmnist_cae"), NULL);
    expect_failure(&p, 1, "unknown layer kind 'conv2'");
    proc_free(&p);
    assert_int_equal(access(tp("fmnist_cae"), X_OK), 0);
    assert_same_bytes(tp("fmnist_cae"), tp("fmnist_cae.before"));
    /* and it still runs */
    expect_ok(tp("fmnist_cae"), "info", NULL);
}

/* ---- the group ------------------------------------------------------------------------------ */

static int make_tmp(void **state)
{
    (void)state;
    return tmpdir_setup("/tmp/aec-e2e-XXXXXX");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(build_makes_an_executable),
        cmocka_unit_test(emit_twice_gives_identical_files),
        cmocka_unit_test(train_two_epochs_writes_loss_csv),
        cmocka_unit_test(train_ends_with_the_report),
        cmocka_unit_test(report_leaves_out_what_too_few_images_cannot_show),
        cmocka_unit_test(interpolate_and_latent_map),
        cmocka_unit_test(vae_samples_and_needs_eps),
        cmocka_unit_test(example_latent_walk),
        cmocka_unit_test(bench_prints_one_line),
        cmocka_unit_test(checkpoint_is_the_torch_state_dict),
        cmocka_unit_test(resume_adds_one_row_and_keeps_the_others),
        cmocka_unit_test(numerical_faults_stop_naming_layer_and_step),
        cmocka_unit_test(eval_prints_the_last_val_loss),
        cmocka_unit_test(reconstruct_writes_two_rows_of_tiles),
        cmocka_unit_test(encode_writes_latents_and_labels),
        cmocka_unit_test(decode_writes_a_grid_of_the_latents),
        cmocka_unit_test(train_on_missing_data_names_the_path),
        cmocka_unit_test(eval_of_truncated_weights_names_the_file),
        cmocka_unit_test(misspelled_kind_gives_did_you_mean),
        cmocka_unit_test(diagnostic_names_the_file_as_given),
        cmocka_unit_test(build_into_a_missing_directory_fails_cleanly),
        cmocka_unit_test(failed_build_keeps_the_old_executable),
    };
    return cmocka_run_group_tests_name("end to end", tests, make_tmp, tmpdir_teardown);
}
