/* test_score.c: anomaly scores. Each image's loss (exec/score.c) against
 * eval's mean and against PyTorch's per-image losses for the same weights;
 * the exact AUROC (report/anomaly.c) against a hand-worked example, ties and
 * sklearn; train --classes and the classes its checkpoint records; and the
 * command line's score (streamed: its memory does not grow with the data
 * set; a folder's file names), report and latent-map --coords with the
 * files they write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "aec.h"
#include "core/floats.h"
#include "data/classes.h"
#include "data/dataset.h"
#include "exec/arena.h"
#include "exec/batch.h"
#include "exec/score.h"
#include "io/json.h"
#include "io/params.h"
#include "report/anomaly.h"
#include "celeba_vae.h"
#include "fmnist_cae.h"
#include "util.h"

#define DATA "/usr/share/datasets/fashion-mnist"
#define FMNIST AEC_BUILD "/fmnist_cae"
#define CELEBA AEC_BUILD "/celeba_vae"
static const char *PYTHON = "/usr/bin/python3";

static int python_has(const char *module)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s -c 'import %s' >/dev/null 2>&1", PYTHON, module);
    return access(PYTHON, X_OK) == 0 && system(cmd) == 0;
}

/* ---- AUROC ----------------------------------------------------------------------- */

/* sklearn's documented example: 3 of the 4 (anomaly, normal) pairs are in order. */
static void auroc_hand_example(void **state UNUSED)
{
    const double s[4] = { 0.1, 0.4, 0.35, 0.8 };
    const unsigned char a[4] = { 0, 0, 1, 1 };
    assert_float_equal(aec_auroc(s, a, NULL, 4), 0.75, 1e-15);
    const unsigned char keep[4] = { 1, 0, 1, 1 };     /* without 0.4: every pair in order */
    assert_float_equal(aec_auroc(s, a, keep, 4), 1.0, 1e-15);
    const unsigned char flip[4] = { 1, 1, 0, 0 };
    assert_float_equal(aec_auroc(s, flip, NULL, 4), 0.25, 1e-15);
    double fpr[5], tpr[5];
    assert_int_equal(aec_roc_curve(s, a, 4, fpr, tpr), 5);
    const double wf[5] = { 0, 0, 0.5, 0.5, 1 }, wt[5] = { 0, 0.5, 0.5, 1, 1 };
    for (int i = 0; i < 5; i++) {
        assert_float_equal(fpr[i], wf[i], 1e-15);
        assert_float_equal(tpr[i], wt[i], 1e-15);
    }
}

/* A tie between an anomaly and a normal image counts one half. */
static void auroc_ties_count_half(void **state UNUSED)
{
    const double s[3] = { 0.5, 0.5, 0.9 };
    const unsigned char a[3] = { 0, 1, 1 };
    assert_float_equal(aec_auroc(s, a, NULL, 3), 0.75, 1e-15);      /* (0.5 + 1) / 2 */
    const double same[6] = { 2, 2, 2, 2, 2, 2 };
    const unsigned char b[6] = { 1, 0, 1, 0, 0, 1 };
    assert_float_equal(aec_auroc(same, b, NULL, 6), 0.5, 1e-15);
    const double s2[4] = { 1, 1, 2, 2 };
    const unsigned char c[4] = { 0, 1, 0, 1 };                      /* (0.5 + 0 + 1 + 0.5) / 4 */
    assert_float_equal(aec_auroc(s2, c, NULL, 4), 0.5, 1e-15);
    double fpr[5], tpr[5];
    assert_int_equal(aec_roc_curve(s2, c, 4, fpr, tpr), 3);         /* one corner per distinct score */
    assert_true(isnan(aec_auroc(s2, (const unsigned char[4]){ 0, 0, 0, 0 }, NULL, 4)));
}

/* Scores of random-weight fmnist_cae on 400 test images, class 0 normal. */
static aec_score *real_scores(int64_t **labels, int *n)
{
    need_fashion_mnist(DATA);
    const aec_model *m = &fmnist_cae_model;
    aec_dataset d;
    assert_int_equal(aec_dataset_load(DATA, "test", m, 400, &d), 0);
    float *p = aec_alloc_floats(m->n_params, "parameters");
    aec_init_params(m, p, 7);
    aec_score *s = malloc((size_t)d.n * sizeof *s);
    assert_int_equal(aec_score_all(m, p, &d, 64, s), 0);
    *labels = d.labels;
    *n = d.n;
    d.labels = NULL;
    aec_dataset_free(&d);
    free(p);
    return s;
}

/* Sets of (anomaly, score) for sklearn, written as they come; one run of
 * Python computes all their AUROCs. */
typedef struct {
    FILE *f;
    int sets;
} sk_batch;

static void sk_add(sk_batch *b, const double *score, const unsigned char *anomaly, int n)
{
    for (int i = 0; i < n; i++)
        fprintf(b->f, "%d,%d,%.17g\n", b->sets, anomaly[i], score[i]);
    b->sets++;
}

/* sklearn's AUROC of each set, in order. */
static double *sk_run(sk_batch *b)
{
    fclose(b->f);
    assert_int_equal(shell("%s %s/tests/parity/auroc.py %s %s", PYTHON, AEC_ROOT, tp("auroc.csv"),
                           tp("auroc.txt")), 0);
    char *t = slurp(tp("auroc.txt"), NULL), *p = t;
    double *v = malloc((size_t)b->sets * sizeof *v);
    for (int i = 0; i < b->sets; i++)
        v[i] = strtod(p, &p);
    free(t);
    return v;
}

/* Overall and per class, on real losses, and on the same losses rounded
 * to two digits (many ties), as sklearn.metrics.roc_auc_score gives them. */
static void auroc_matches_sklearn(void **state UNUSED)
{
    if (!python_has("sklearn")) {
        print_message("no sklearn (apt-get install python3-sklearn): skipping\n");
        skip();
    }
    int64_t *labels;
    int n;
    aec_score *s = real_scores(&labels, &n);
    unsigned char normal[256] = { 0 }, *anomaly = malloc((size_t)n), *sub = malloc((size_t)n);
    double *score = malloc((size_t)n * sizeof *score), *rounded = malloc((size_t)n * sizeof *rounded);
    normal[0] = 1;
    aec_auroc_result r;
    assert_int_equal(aec_auroc_classes(s, labels, n, normal, &r), 0);
    for (int i = 0; i < n; i++) {
        score[i] = s[i].loss;
        rounded[i] = round(s[i].loss * 100) / 100;
        anomaly[i] = labels[i] != 0;
    }
    sk_batch b = { fopen(tp("auroc.csv"), "w"), 0 };
    fprintf(b.f, "set,anomaly,score\n");
    sk_add(&b, score, anomaly, n);
    sk_add(&b, rounded, anomaly, n);
    double ours_rounded = aec_auroc(rounded, anomaly, NULL, n);
    for (int c = 1; c < 10; c++) {              /* class c against class 0, as sklearn sees the subset */
        int k = 0;
        for (int i = 0; i < n; i++)
            if (labels[i] == 0 || labels[i] == c) {
                rounded[k] = score[i];
                sub[k++] = labels[i] == c;
            }
        sk_add(&b, rounded, sub, k);
    }
    double *want = sk_run(&b);
    print_message("auroc aec %.12f sklearn %.12f; rounded: aec %.12f sklearn %.12f\n", r.overall, want[0],
                  ours_rounded, want[1]);
    assert_float_equal(r.overall, want[0], 1e-12);
    assert_float_equal(ours_rounded, want[1], 1e-12);
    for (int c = 1; c < 10; c++)
        assert_float_equal(r.per_class[c], want[1 + c], 1e-12);
    assert_true(isnan(r.per_class[0]) && isnan(r.per_class[10]));
    free(want), free(s), free(labels), free(anomaly), free(sub), free(score), free(rounded);
}

/* ---- per-image losses ------------------------------------------------------------------------ */

/* n random images in the model's range. */
static aec_dataset random_set(const aec_model *m, int n, uint64_t seed)
{
    aec_dataset d = { .n = n, .C = m->in_c, .H = m->in_h, .W = m->in_w };
    size_t k = (size_t)n * m->in_c * m->in_h * m->in_w;
    d.x = aec_alloc_floats(k, "images");
    aec_rng r;
    aec_rng_seed(&r, seed);
    for (size_t i = 0; i < k; i++)
        d.x[i] = m->in_lo + (m->in_hi - m->in_lo) * aec_rng_uniform(&r);
    return d;
}

/* The mean of score's losses is eval's number: a plain autoencoder on
 * Fashion-MNIST, and a VAE (the same eps stream) on random images. */
static void score_mean_is_eval(const aec_model *m, aec_dataset *d, int B)
{
    float *p = aec_alloc_floats(m->n_params, "parameters");
    aec_init_params(m, p, 7);
    aec_score *s = malloc((size_t)d->n * sizeof *s);
    assert_int_equal(aec_score_all(m, p, d, B, s), 0);
    double sum = 0.0;
    for (int i = 0; i < d->n; i++) {
        sum += s[i].loss;
        assert_float_equal(s[i].loss, s[i].recon + m->kl_beta * s[i].kl, 1e-9 * s[i].loss);
        assert_true(m->variational ? s[i].kl > 0 : s[i].kl == 0);
    }
    double eval = aec_evaluate(m, p, d, B);
    print_message("%s: mean of %d scores %.9g, eval %.9g\n", m->name, d->n, sum / d->n, eval);
    assert_true(fabs(sum / d->n - eval) <= 1e-5 * fabs(eval));
    free(s);
    free(p);
}

static void score_mean_matches_eval(void **state UNUSED)
{
    aec_dataset d = random_set(&celeba_vae_model, 10, 5);
    score_mean_is_eval(&celeba_vae_model, &d, 4);
    aec_dataset_free(&d);
    need_fashion_mnist(DATA);
    assert_int_equal(aec_dataset_load(DATA, "test", &fmnist_cae_model, 300, &d), 0);
    score_mean_is_eval(&fmnist_cae_model, &d, 128);
    aec_dataset_free(&d);
}

/* Each image's terms against the PyTorch twin running that image alone. */
static void score_parity(const aec_model *m, int B)
{
    if (!python_has("torch"))
        skip();
    float *p = aec_alloc_floats(m->n_params, "parameters");
    aec_init_params(m, p, 7);
    char w[256], xs[256], es[256], ref[256];    /* tp's buffers rotate */
    snprintf(w, sizeof w, "%s", tp("w.safetensors"));
    snprintf(xs, sizeof xs, "%s", tp("x.npy"));
    snprintf(es, sizeof es, "%s", tp("eps.npy"));
    snprintf(ref, sizeof ref, "%s", tp("ref.npy"));
    char eps_out[300] = "", eps_opt[300] = "";
    if (m->variational) {
        snprintf(eps_out, sizeof eps_out, "--eps-out %s", es);
        snprintf(eps_opt, sizeof eps_opt, "--eps %s", es);
    }
    assert_int_equal(aec_save_params(w, m, p, NULL), 0);
    assert_int_equal(shell("%s %s/tests/parity/make_input.py --model %s --batch %d --seed 3 --out %s %s 2>/dev/null",
                           PYTHON, AEC_ROOT, m->name, B, xs, eps_out), 0);
    assert_int_equal(shell("%s %s/tests/parity/scores.py --model %s --weights %s --input %s %s --out %s",
                           PYTHON, AEC_ROOT, m->name, w, xs, eps_opt, ref), 0);
    float *x, *eps = NULL;
    int ndim;
    int64_t shape[4];
    assert_int_equal(aec_npy_read_f32(xs, &x, &ndim, shape), 0);
    float *arena = aec_arena_alloc(m, B);
    if (m->variational) {
        assert_int_equal(aec_npy_read_f32(es, &eps, &ndim, shape), 0);
        aec_put_eps(m, arena, eps, B);
    }
    aec_forward(m, p, arena, x, B);
    aec_score s[16];
    aec_score_terms(m, arena, B, s);
    /* ref.npy is float64 [B, 3]: read its data after the header. */
    size_t len;
    uint8_t *raw = read_bytes(ref, &len);
    const double *t = (const double *)(raw + len - (size_t)B * 3 * sizeof(double));
    for (int i = 0; i < B; i++) {
        print_message("  image %d: loss aec %.8g torch %.8g, kl aec %.6g torch %.6g\n", i, s[i].loss, t[3 * i],
                      s[i].kl, t[3 * i + 2]);
        assert_true(fabs(s[i].loss - t[3 * i]) <= 1e-4 * fabs(t[3 * i]));
        assert_true(fabs(s[i].recon - t[3 * i + 1]) <= 1e-4 * fabs(t[3 * i + 1]));
        assert_true(fabs(s[i].kl - t[3 * i + 2]) <= 1e-4 * fabs(t[3 * i + 2]) + 1e-6);
    }
    free(raw), free(x), free(eps), free(arena), free(p);
}

static void score_matches_torch_fmnist_cae(void **state UNUSED) { score_parity(&fmnist_cae_model, 8); }
static void score_matches_torch_celeba_vae(void **state UNUSED) { score_parity(&celeba_vae_model, 4); }

/* ---- classes ------------------------------------------------------------------------------------- */

static void classes_parse_lists(void **state UNUSED)
{
    unsigned char in[256];
    assert_int_equal(aec_classes_parse("0-8", in), 0);
    for (int c = 0; c < 256; c++)
        assert_int_equal(in[c], c <= 8);
    assert_int_equal(aec_classes_parse("1,3,5", in), 0);
    assert_true(in[1] && in[3] && in[5] && !in[0] && !in[2] && !in[4] && !in[6]);
    assert_int_equal(aec_classes_parse("0-2,7", in), 0);
    assert_true(in[0] && in[1] && in[2] && in[7] && !in[3]);
    static const char *const bad[] = { "", "3-1", "x", "1,,2", "256", "1-", "-1", "1;2", "1,", " 1", "0-99999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        capture_begin();
        assert_int_equal(aec_classes_parse(bad[i], in), -1);
        char *err = capture_end();
        assert_non_null(strstr(err, "--classes"));
        free(err);
    }
}

/* The checkpoint's text: the shortest list that parses back to the same classes. */
static void classes_format_round_trip(void **state UNUSED)
{
    static const char *const lists[][2] = {
        { "0-2,7", "0-2,7" }, { "1,3,5", "1,3,5" }, { "0,1,2", "0-2" }, { "5-9,0-4", "0-9" },
        { "0-255", "0-255" }, { "255", "255" }, { "3,3-4", "3-4" },
    };
    unsigned char in[256], back[256];
    char text[AEC_CLASSES_TEXT];
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        assert_int_equal(aec_classes_parse(lists[i][0], in), 0);
        aec_classes_format(in, text, sizeof text);
        assert_string_equal(text, lists[i][1]);
    }
    for (int c = 0; c < 256; c++)           /* the longest: every other class */
        in[c] = c % 2 == 0;
    aec_classes_format(in, text, sizeof text);
    assert_true(strlen(text) < sizeof text);
    assert_int_equal(aec_classes_parse(text, back), 0);
    assert_memory_equal(in, back, 256);
}

/* Only the listed classes stay, in order, with their own pixels. */
static void keep_classes_keeps_only_those(void **state UNUSED)
{
    need_fashion_mnist(DATA);
    aec_dataset all, d;
    assert_int_equal(aec_dataset_load(DATA, "train", &fmnist_cae_model, 500, &all), 0);
    assert_int_equal(aec_dataset_load(DATA, "train", &fmnist_cae_model, 500, &d), 0);
    unsigned char in[256];
    assert_int_equal(aec_classes_parse("1,3", in), 0);
    assert_int_equal(aec_dataset_keep_classes(&d, in, DATA), 0);
    size_t chw = 784;
    int k = 0;
    for (int i = 0; i < all.n; i++)
        if (all.labels[i] == 1 || all.labels[i] == 3) {
            assert_int_equal(d.labels[k], all.labels[i]);
            assert_memory_equal(d.x + k * chw, all.x + i * chw, chw * sizeof(float));
            k++;
        }
    assert_int_equal(d.n, k);
    assert_true(k > 50 && k < 150);
    assert_int_equal(aec_classes_parse("2,77", in), 0);
    capture_begin();
    assert_int_equal(aec_dataset_keep_classes(&all, in, DATA), -1);
    char *err = capture_end();
    assert_non_null(strstr(err, "class 77, which has no images here (the labels are 0,1,2,3,4,5,6,7,8,9)"));
    free(err);
    aec_dataset_free(&all);
    aec_dataset_free(&d);
}

/* ---- the command line ------------------------------------------------------------------------- */

static int count_lines(const char *path)
{
    char *t = slurp(path, NULL);
    int n = 0;
    for (char *c = t; c && *c; c++)
        n += *c == '\n';
    free(t);
    return n;
}

static void cli_train_classes(void **state UNUSED)
{
    need_fashion_mnist(DATA);
    proc r = run(FMNIST, "train", "--data", DATA, "--out", tp("oc"), "--classes", "3", "--epochs", "1",
                 "--limit", "600", "--no-report", NULL);
    assert_int_equal(r.status, 0);
    aec_dataset d;
    assert_int_equal(aec_dataset_load(DATA, "train", &fmnist_cae_model, 600, &d), 0);
    int threes = 0;
    for (int i = 0; i < d.n; i++)
        threes += d.labels[i] == 3;
    char want[128];
    snprintf(want, sizeof want, "classes 3 only: %d training images; validation keeps all 600", threes);
    assert_non_null(strstr(r.err, want));
    proc_free(&r);
    aec_dataset_free(&d);
    static const char *const bad[][2] = {
        { "9-2", "'9-2' is not a class" }, { "a", "'a' is not a class" }, { "1,2,", "'' is not a class" },
    };
    for (int i = 0; i < 3; i++) {
        r = run(FMNIST, "train", "--data", DATA, "--out", tp("bad"), "--classes", bad[i][0], NULL);
        assert_int_equal(r.status, 2);
        assert_non_null(strstr(r.err, bad[i][1]));
        proc_free(&r);
    }
    r = run(FMNIST, "train", "--data", DATA, "--out", tp("bad"), "--classes", "4,12", "--limit", "100", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "--classes lists class 12, which has no images here"));
    proc_free(&r);
}

/* score writes a row per image whose mean is eval's, and the AUROC. */
static void cli_score_csv_and_auroc(void **state UNUSED)
{
    need_fashion_mnist(DATA);
    char w[256];                    /* tp's buffers rotate */
    snprintf(w, sizeof w, "%s", tp("w0.safetensors"));
    float *p = aec_alloc_floats(fmnist_cae_model.n_params, "parameters");
    aec_init_params(&fmnist_cae_model, p, 7);
    assert_int_equal(aec_save_params(w, &fmnist_cae_model, p, NULL), 0);
    free(p);
    proc r = run(FMNIST, "score", "--data", DATA, "--weights", w, "--out", tp("s.csv"), "--limit", "250",
                 "--classes", "0", NULL);
    assert_int_equal(r.status, 0);
    proc e = run(FMNIST, "eval", "--data", DATA, "--weights", w, "--limit", "250", NULL);
    assert_int_equal(e.status, 0);
    double mean = strtod(strstr(r.out, "loss ") + 5, NULL), eval = strtod(strstr(e.out, "loss ") + 5, NULL);
    assert_true(fabs(mean - eval) <= 1e-6 * eval);
    assert_non_null(strstr(r.out, "auroc 0."));
    assert_non_null(strstr(r.out, "auroc_class 9 "));
    assert_null(strstr(r.out, "auroc_class 0 "));
    assert_non_null(strstr(r.err, "score: 250/250 images"));
    assert_int_equal(count_lines(tp("s.csv")), 251);
    char *csv = slurp(tp("s.csv"), NULL);
    assert_int_equal(strncmp(csv, "index,label,loss\n0,9,", 21), 0);        /* the first test image is an ankle boot */
    free(csv);
    assert_true(exists(tp("s_roc.png")));
    proc_free(&r), proc_free(&e);
    r = run(FMNIST, "score", "--data", DATA, "--weights", w, "--out", tp("s2.csv"), "--limit", "50",
            "--classes", "0-9", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "none is an anomaly"));
    proc_free(&r);
}

/* train --classes 3 (cli_train_classes) recorded its classes: score and
 * report take them without --classes, the same --classes agrees, another
 * is refused, and so is a resume on other classes. */
static void cli_classes_in_checkpoint(void **state UNUSED)
{
    need_fashion_mnist(DATA);
    char w[256], text[64];
    snprintf(w, sizeof w, "%s/model.safetensors", tp("oc"));
    if (!exists(w))
        skip();
    aec_tensor_file f;
    assert_int_equal(aec_safetensors_read(w, &f), 0);
    assert_int_equal(aec_meta_get(f.metadata_json, "classes", text, sizeof text), 0);
    assert_string_equal(text, "3");
    aec_tensor_file_free(&f);
    proc a = run(FMNIST, "score", "--data", DATA, "--weights", w, "--out", tp("c1.csv"), "--limit", "300", NULL);
    proc b = run(FMNIST, "score", "--data", DATA, "--weights", w, "--out", tp("c2.csv"), "--limit", "300",
                 "--classes", "3", NULL);
    assert_int_equal(a.status, 0);
    assert_int_equal(b.status, 0);
    assert_non_null(strstr(a.err, "was trained on classes 3 only (its metadata)"));
    assert_non_null(strstr(a.out, "auroc 0."));
    assert_non_null(strstr(a.out, "auroc_class 0 "));
    assert_null(strstr(a.out, "auroc_class 3 "));
    assert_string_equal(a.out, b.out);
    proc_free(&a), proc_free(&b);
    a = run(FMNIST, "score", "--data", DATA, "--weights", w, "--out", tp("c3.csv"), "--limit", "300",
            "--classes", "2-4", NULL);
    assert_int_equal(a.status, 1);
    assert_non_null(strstr(a.err, "--classes 2-4 disagrees with"));
    assert_non_null(strstr(a.err, "which was trained on classes 3 (its metadata)"));
    assert_false(exists(tp("c3.csv")));
    proc_free(&a);
    a = run(FMNIST, "report", "--data", DATA, "--weights", w, "--out", tp("crep"), "--limit", "120",
            "--iterations", "250", NULL);
    assert_int_equal(a.status, 0);
    proc_free(&a);
    char path[512];
    snprintf(path, sizeof path, "%s/roc.png", tp("crep"));
    assert_true(exists(path));
    a = run(FMNIST, "train", "--data", DATA, "--out", tp("oc"), "--classes", "4", "--epochs", "2",
            "--limit", "600", "--no-report", "--resume", NULL);
    assert_int_equal(a.status, 1);
    assert_non_null(strstr(a.err, "the run was trained on classes 3, not on classes 4"));
    proc_free(&a);
}

/* The peak resident set in KiB of a shell command, as /usr/bin/time
 * gives it (a Debian dependency of the tests). Not wait4 on a child of this
 * process: a child's peak counts the pages it shared with its parent before
 * exec, which are this test's, not the command's. */
static long peak_rss_kib(const char *cmd)
{
    assert_int_equal(shell("/usr/bin/time -f %%M -o %s %s >/dev/null 2>&1", tp("rss.txt"), cmd), 0);
    char *t = slurp(tp("rss.txt"), NULL);
    long kib = strtol(t, NULL, 10);
    free(t);
    return kib;
}

/* score streams the split through: 10,000 images take no more memory than
 * 1,000, to within an eighth of the 9,000 more images' floats (27.6 MiB).
 * Loading the split whole, as score did, took that much more (34 and 62 MB
 * peak on an AMD EPYC). */
static void score_memory_does_not_grow(void **state UNUSED)
{
#ifdef __SANITIZE_ADDRESS__
    print_message("under AddressSanitizer (its shadow and its quarantine of freed memory) peak RSS does not "
                  "measure score's own memory: skipping\n");
    skip();
#endif
    need_fashion_mnist(DATA);
    char w[256], out[256];
    snprintf(w, sizeof w, "%s", tp("wm.safetensors"));
    snprintf(out, sizeof out, "%s", tp("m.csv"));
    float *p = aec_alloc_floats(fmnist_cae_model.n_params, "parameters");
    aec_init_params(&fmnist_cae_model, p, 7);
    assert_int_equal(aec_save_params(w, &fmnist_cae_model, p, NULL), 0);
    free(p);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s score --data %s --weights %s --out %s --limit 1000", FMNIST, DATA, w, out);
    long a = peak_rss_kib(cmd);
    snprintf(cmd, sizeof cmd, "%s score --data %s --weights %s --out %s", FMNIST, DATA, w, out);
    long b = peak_rss_kib(cmd);
    double data_kib = 9000.0 * 784 * sizeof(float) / 1024;
    print_message("peak RSS: 1,000 images %ld KiB, 10,000 images %ld KiB (their floats: %.0f KiB more)\n", a, b,
                  data_kib);
    assert_int_equal(count_lines(out), 10001);
    assert_true(b - a < data_kib / 8);
}

/* 20 images in dir, a pixel apart, with file names that CSV must quote. */
static void names_folder(const aec_model *m, char *dir, size_t size)
{
    static const char *const odd[] = { "a,comma.png", "b\"quote\".png", "c\nline.png", "d plain.png" };
    snprintf(dir, size, "%s", tp("faces"));     /* tp's buffers rotate */
    assert_int_equal(shell("mkdir -p '%s'", dir), 0);
    aec_dataset one = random_set(m, 1, 9);
    char path[512];
    for (int i = 0; i < 20; i++) {
        if (i < 4)
            snprintf(path, sizeof path, "%s/%s", dir, odd[i]);
        else
            snprintf(path, sizeof path, "%s/e%02d.png", dir, i);
        one.x[0] = (float)i / 20 * (m->in_hi - m->in_lo) + m->in_lo;
        assert_int_equal(aec_png_write_grid(path, one.x, 1, 1, m->in_c, m->in_h, m->in_w, m->in_lo, m->in_hi), 0);
    }
    aec_dataset_free(&one);
}

/* A folder's rows name their files, quoted as CSV needs; decoded image by
 * image without a cache, read from the cache once there is one, the same
 * rows either way, their mean eval's, and the same rows in the report's
 * scores.csv (the loader keeps the names only when asked). */
static void cli_score_folder_names(void **state UNUSED)
{
    const aec_model *m = &celeba_vae_model;
    char dir[256], w[256], cache[256];
    names_folder(m, dir, sizeof dir);
    snprintf(w, sizeof w, "%s", tp("wv.safetensors"));
    snprintf(cache, sizeof cache, "%s", tp("cache"));
    setenv("AEC_CACHE_DIR", cache, 1);
    float *p = aec_alloc_floats(m->n_params, "parameters");
    aec_init_params(m, p, 7);
    assert_int_equal(aec_save_params(w, m, p, NULL), 0);
    free(p);
    proc a = run(CELEBA, "score", "--data", dir, "--weights", w, "--out", tp("f1.csv"), "--split", "train", NULL);
    assert_int_equal(a.status, 0);
    assert_non_null(strstr(a.err, "no cache of the decoded images; decoding the train split's batch by batch"));
    proc e = run(CELEBA, "eval", "--data", dir, "--weights", w, "--split", "train", NULL);
    assert_int_equal(e.status, 0);
    proc b = run(CELEBA, "score", "--data", dir, "--weights", w, "--out", tp("f2.csv"), "--split", "train", NULL);
    assert_int_equal(b.status, 0);
    assert_null(strstr(b.err, "no cache"));
    double mean = strtod(strstr(b.out, "loss ") + 5, NULL), eval = strtod(strstr(e.out, "loss ") + 5, NULL);
    assert_true(fabs(mean - eval) <= 1e-6 * eval);
    char *f1 = slurp(tp("f1.csv"), NULL), *f2 = slurp(tp("f2.csv"), NULL);
    assert_string_equal(f1, f2);
    assert_int_equal(strncmp(f1, "index,file,loss,recon,kl\n0,\"a,comma.png\",", 40), 0);
    assert_non_null(strstr(f1, "\n1,\"b\"\"quote\"\".png\","));
    assert_non_null(strstr(f1, "\n2,\"c\nline.png\","));
    assert_non_null(strstr(f1, "\n3,d plain.png,"));
    assert_non_null(strstr(f1, "\n17,e17.png,"));
    assert_null(strstr(f1, "e18.png"));                 /* the test split's */
    proc_free(&a), proc_free(&b), proc_free(&e);
    /* a damaged cache is not read: the images are decoded again, the rows the same */
    assert_int_equal(shell("f=$(ls %s/*.npy) && printf '\\377' | dd of=\"$f\" bs=1 seek=200 conv=notrunc 2>/dev/null",
                           cache), 0);
    a = run(CELEBA, "score", "--data", dir, "--weights", w, "--out", tp("f4.csv"), "--split", "train", NULL);
    assert_int_equal(a.status, 0);
    assert_non_null(strstr(a.err, "the cache of the decoded images is damaged"));
    char *f4 = slurp(tp("f4.csv"), NULL);
    assert_string_equal(f4, f1);
    free(f4);
    proc_free(&a);
    a = run(CELEBA, "report", "--data", dir, "--weights", w, "--out", tp("frep"), "--split", "train",
            "--iterations", "250", NULL);
    assert_int_equal(a.status, 0);
    char path[512];
    snprintf(path, sizeof path, "%s/scores.csv", tp("frep"));
    char *f3 = slurp(path, NULL);
    assert_string_equal(f3, f1);
    free(f1), free(f2), free(f3);
    proc_free(&a);
    aec_dataset d;
    char **names;
    assert_int_equal(aec_dataset_load_named(dir, "test", m, 0, 0, &d, &names), 0);
    assert_int_equal(d.n, 2);
    assert_string_equal(names[0], "e18.png");
    assert_string_equal(names[1], "e19.png");
    aec_names_free(names, d.n);
    aec_dataset_free(&d);
    a = run(CELEBA, "score", "--data", dir, "--weights", w, "--out", tp("f3.csv"), "--classes", "0", NULL);
    assert_int_equal(a.status, 1);
    assert_non_null(strstr(a.err, "--classes needs labelled data (IDX files)"));
    proc_free(&a);
    unsetenv("AEC_CACHE_DIR");
}

/* Bad data found while streaming is an error naming the file, and no
 * scores.csv is left; so is a checkpoint whose classes are no list. */
static void cli_score_bad_input(void **state UNUSED)
{
    const aec_model *m = &fmnist_cae_model;
    static const char *const cases[][2] = {
        { "truncate -s 40000 t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte: truncated" },
        { "printf x >> t10k-images-idx3-ubyte", "more data than the header's sizes describe" },
        { "gzip t10k-images-idx3-ubyte && truncate -s -8 t10k-images-idx3-ubyte.gz",
          "t10k-images-idx3-ubyte.gz: truncated" },
        { "truncate -s 307 t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte: truncated" },
    };
    char w[256], dir[256], out[256];
    snprintf(w, sizeof w, "%s", tp("wb.safetensors"));
    snprintf(dir, sizeof dir, "%s", tp("badidx"));
    snprintf(out, sizeof out, "%s", tp("b.csv"));
    float *p = aec_alloc_floats(m->n_params, "parameters");
    aec_init_params(m, p, 7);
    assert_int_equal(aec_save_params(w, m, p, NULL), 0);
    uint8_t *px = calloc(300 * 784, 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(shell("rm -rf '%s' && mkdir -p '%s'", dir, dir), 0);
        write_idx(dir, "t10k", 300, 28, 28, px);
        assert_int_equal(shell("cd '%s' && %s", dir, cases[i][0]), 0);
        proc r = run(FMNIST, "score", "--data", dir, "--weights", w, "--out", out, NULL);
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.err, cases[i][1]));
        assert_false(exists(out));
        proc_free(&r);
    }
    free(px);
    assert_int_equal(aec_save_params(w, m, p, "{\"model\":\"fmnist_cae\",\"classes\":\"3-1\"}"), 0);
    free(p);
    proc r = run(FMNIST, "score", "--data", dir, "--weights", w, "--out", out, NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "the metadata's \"classes\" is not a list of classes"));
    proc_free(&r);
}

static double csv_field(const char *line, int k)
{
    for (; k > 0; k--)
        line = strchr(line, ',') + 1;
    return strtod(line, NULL);
}

/* report's CSVs and pictures, linked from the page; latent-map --coords. */
static void cli_report_numbers(void **state UNUSED)
{
    need_fashion_mnist(DATA);
    char w[256];
    snprintf(w, sizeof w, "%s", tp("w0.safetensors"));
    if (!exists(w))
        skip();
    proc r = run(FMNIST, "report", "--data", DATA, "--weights", w, "--out", tp("rep"), "--limit", "120",
                 "--iterations", "250", "--classes", "0", NULL);
    assert_int_equal(r.status, 0);
    proc_free(&r);
    static const char *const files[] = { "scores.csv", "worst.png", "loss_hist.png", "roc.png",
                                         "latent_pca.csv", "latent_tsne.csv" };
    char path[512];
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "%s/%s", tp("rep"), files[i]);
        assert_true(exists(path));
    }
    snprintf(path, sizeof path, "%s/scores.csv", tp("rep"));
    assert_int_equal(count_lines(path), 121);
    /* the page names the worst image first: the highest loss of scores.csv */
    char *csv = slurp(path, NULL), *line = strchr(csv, '\n') + 1;
    int worst = -1;
    double top = -1;
    for (; *line; line = strchr(line, '\n') + 1)
        if (csv_field(line, 2) > top) {
            top = csv_field(line, 2);
            worst = atoi(line);
        }
    free(csv);
    snprintf(path, sizeof path, "%s/report.html", tp("rep"));
    char *html = slurp(path, NULL), want[64];
    snprintf(want, sizeof want, "<tr><th>image</th><td>%d</td>", worst);
    assert_non_null(strstr(html, want));
    assert_non_null(strstr(html, "href=\"scores.csv\""));
    assert_non_null(strstr(html, "href=\"latent_pca.csv\""));
    assert_non_null(strstr(html, "href=\"latent_tsne.csv\""));
    assert_non_null(strstr(html, "src=\"worst.png\""));
    assert_non_null(strstr(html, "src=\"roc.png\""));
    assert_non_null(strstr(html, "AUROC of the loss"));
    free(html);
    /* latent-map --coords: the same PCA points as the report's */
    r = run(FMNIST, "latent-map", "--data", DATA, "--weights", w, "--out", tp("map.png"), "--limit", "120",
            "--coords", tp("map.csv"), NULL);
    assert_int_equal(r.status, 0);
    proc_free(&r);
    snprintf(path, sizeof path, "%s/latent_pca.csv", tp("rep"));
    char *a = slurp(tp("map.csv"), NULL), *b = slurp(path, NULL);
    assert_int_equal(strncmp(a, "index,label,x,y\n0,9,", 20), 0);
    assert_string_equal(a, b);
    assert_int_equal(count_lines(tp("map.csv")), 121);
    free(a), free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(auroc_hand_example),
        cmocka_unit_test(auroc_ties_count_half),
        cmocka_unit_test(auroc_matches_sklearn),
        cmocka_unit_test(score_mean_matches_eval),
        cmocka_unit_test(score_matches_torch_fmnist_cae),
        cmocka_unit_test(score_matches_torch_celeba_vae),
        cmocka_unit_test(classes_parse_lists),
        cmocka_unit_test(classes_format_round_trip),
        cmocka_unit_test(keep_classes_keeps_only_those),
        cmocka_unit_test(cli_train_classes),
        cmocka_unit_test(cli_score_csv_and_auroc),
        cmocka_unit_test(score_memory_does_not_grow),
        cmocka_unit_test(cli_score_folder_names),
        cmocka_unit_test(cli_score_bad_input),
        cmocka_unit_test(cli_classes_in_checkpoint),
        cmocka_unit_test(cli_report_numbers),
    };
    if (tmpdir_setup("/tmp/aec_test_score.XXXXXX") != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, tmpdir_teardown);
}
