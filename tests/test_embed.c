/* test_embed.c: 2-D maps of latents (pca.c, tsne.c).
 *
 * PCA against decompositions known in advance: data built from chosen
 * orthonormal directions with chosen variances (exactly, with Hadamard
 * coefficients), and a rotated anisotropic Gaussian (statistically).
 * t-SNE on well-separated Gaussian clusters: the map must keep them apart.
 * Both: determinism, and failure paths that report instead of hanging. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aec.h"
#include "report/embed.h"

#define UNUSED __attribute__((unused))     /* cmocka's state, which we do not use */

/* ---- helpers ------------------------------------------------------------------------------ */

static int saved_stderr = -1;
static char captured[64];

/* Send stderr to a temporary file until capture_end, which returns what was written. */
static void capture_begin(void)
{
    fflush(stderr);
    strcpy(captured, "/tmp/aec_test_embed_XXXXXX");
    int fd = mkstemp(captured);
    saved_stderr = dup(2);
    assert_true(fd >= 0 && saved_stderr >= 0);
    dup2(fd, 2);
    close(fd);
}

static char *capture_end(void)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    FILE *fp = fopen(captured, "rb");
    assert_non_null(fp);
    char *b = calloc(1, 65536);
    assert_non_null(b);
    size_t n = fread(b, 1, 65535, fp);
    b[n] = '\0';
    fclose(fp);
    remove(captured);
    return b;
}

static void assert_has(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("expected \"%s\" in:\n%s", want, text);
}

/* Entry (i, j) of the Sylvester Hadamard matrix: +-1, orthogonal columns, and
 * every column but the first sums to 0. */
static double hadamard(int i, int j)
{
    return __builtin_parity((unsigned)(i & j)) ? -1.0 : 1.0;
}

/* m orthonormal vectors of dimension d (rows of u), by Gram-Schmidt on Gaussian draws. */
static void orthonormal(double *u, int m, int d, uint64_t seed)
{
    aec_rng r;
    aec_rng_seed(&r, seed);
    for (int a = 0; a < m; a++) {
        double *v = u + a * d, norm = 0;
        for (int c = 0; c < d; c++)
            v[c] = aec_rng_normal(&r);
        for (int b = 0; b < a; b++) {
            double dot = 0;
            for (int c = 0; c < d; c++)
                dot += v[c] * u[b * d + c];
            for (int c = 0; c < d; c++)
                v[c] -= dot * u[b * d + c];
        }
        for (int c = 0; c < d; c++)
            norm += v[c] * v[c];
        for (int c = 0; c < d; c++)
            v[c] /= sqrt(norm);
    }
}

/* The sign that makes v's largest-magnitude entry positive. */
static double sign_rule(const double *v, int d)
{
    int big = 0;
    for (int c = 1; c < d; c++)
        if (fabs(v[c]) > fabs(v[big]))
            big = c;
    return v[big] < 0 ? -1.0 : 1.0;
}

/* ---- PCA ------------------------------------------------------------------------------------ */

/* 16 points in 8 dimensions: mean + sum_j sd_j h_ij u_j, with h_j Hadamard
 * columns (orthogonal, zero mean), so the covariance's eigenvectors are
 * exactly u_j with eigenvalues proportional to sd_j^2. */
enum { KN = 16, KD = 8, KM = 5, KK = 3 };
static const double known_sd[KM] = { 3, 2, 1, 0.5, 0.1 };

static void known_data(float *z, double *u)
{
    orthonormal(u, KM, KD, 7);
    for (int i = 0; i < KN; i++)
        for (int c = 0; c < KD; c++) {
            double x = 5.0 + c;                     /* the mean, to be removed */
            for (int j = 0; j < KM; j++)
                x += known_sd[j] * hadamard(i, j + 1) * u[j * KD + c];
            z[i * KD + c] = (float)x;
        }
}

static void test_pca_known_decomposition(void **state UNUSED)
{
    float z[KN * KD], out[KN * KK];
    double u[KM * KD], explained[KK], total = 0;
    known_data(z, u);
    assert_int_equal(aec_pca(z, KN, KD, KK, out, explained), 0);
    for (int j = 0; j < KM; j++)
        total += known_sd[j] * known_sd[j];
    for (int j = 0; j < KK; j++) {
        assert_float_equal(explained[j], known_sd[j] * known_sd[j] / total, 1e-5);
        /* out[:, j] = Xc v_j = sd_j h_j (u_j . v_j): so v_j = s u_j, and s
         * follows the sign rule, iff out[:, j] = s sd_j h_j. */
        double s = sign_rule(u + j * KD, KD);
        for (int i = 0; i < KN; i++)
            assert_float_equal(out[i * KK + j], s * known_sd[j] * hadamard(i, j + 1), 1e-4);
    }
}

/* k = d: every component, the fractions summing to 1. */
static void test_pca_all_components(void **state UNUSED)
{
    float z[KN * KD], out[KN * KD];
    double u[KM * KD], explained[KD], sum = 0;
    known_data(z, u);
    assert_int_equal(aec_pca(z, KN, KD, KD, out, explained), 0);
    for (int j = 0; j < KD; j++) {
        assert_true(explained[j] >= 0);
        assert_true(j == 0 || explained[j] <= explained[j - 1]);
        sum += explained[j];
    }
    assert_float_equal(sum, 1.0, 1e-6);
    assert_float_equal(explained[KM], 0.0, 1e-6);   /* 3 directions without variance */
}

/* 2000 draws of N(0, diag(16, 1)) rotated by 30 degrees, shifted. */
static void test_pca_rotated_gaussian(void **state UNUSED)
{
    enum { N = 2000 };
    static float z[N * 2], out[N * 2];
    double a = 30 * 3.14159265358979 / 180, ca = cos(a), sa = sin(a), explained[2];
    aec_rng r;
    aec_rng_seed(&r, 3);
    for (int i = 0; i < N; i++) {
        double p = 4 * aec_rng_normal(&r), q = aec_rng_normal(&r);
        z[2 * i] = (float)(10 + ca * p - sa * q);
        z[2 * i + 1] = (float)(-3 + sa * p + ca * q);
    }
    assert_int_equal(aec_pca(z, N, 2, 2, out, explained), 0);
    assert_float_equal(explained[0], 16.0 / 17.0, 0.01);
    assert_float_equal(explained[0] + explained[1], 1.0, 1e-9);
    /* The first component, recovered as Xc^T out0 / |out0|^2 (exact for PCA). */
    double v[2] = { 0, 0 }, mean[2] = { 0, 0 }, o2 = 0, cross = 0;
    for (int i = 0; i < 2 * N; i++)
        mean[i % 2] += z[i] / N;
    for (int i = 0; i < N; i++) {
        for (int c = 0; c < 2; c++)
            v[c] += (z[2 * i + c] - mean[c]) * out[2 * i];
        o2 += (double)out[2 * i] * out[2 * i];
        cross += (double)out[2 * i] * out[2 * i + 1];
    }
    v[0] /= o2, v[1] /= o2;
    assert_float_equal(hypot(v[0], v[1]), 1.0, 1e-4);
    assert_true(v[0] > v[1] && v[1] > 0);               /* the sign rule: cos 30 > sin 30 > 0 */
    assert_float_equal(atan2(v[1], v[0]), a, 0.03);     /* sampling error ~0.006 rad */
    assert_true(fabs(cross) < 1e-3 * o2);               /* uncorrelated components */
}

static void test_pca_errors(void **state UNUSED)
{
    float z[KN * KD], out[KN * KD];
    double u[KM * KD];
    known_data(z, u);
    capture_begin();
    assert_int_equal(aec_pca(z, 1, KD, 2, out, NULL), -1);
    assert_int_equal(aec_pca(z, KN, KD, KD + 1, out, NULL), -1);
    assert_int_equal(aec_pca(z, KN, KD, 0, out, NULL), -1);
    z[3 * KD + 2] = NAN;
    assert_int_equal(aec_pca(z, KN, KD, 2, out, NULL), -1);
    char *msg = capture_end();
    assert_has(msg, "aec: PCA of 1 points of 8 dimensions into 2 components");
    assert_has(msg, "into 9 components");
    assert_has(msg, "aec: PCA: point 3, dimension 2 is not a finite number");
    free(msg);
}

/* ---- t-SNE -------------------------------------------------------------------------------- */

/* G clusters of M points in D dimensions: centres N(0, 5^2) per coordinate
 * (some 30 apart), points N(centre, 1) (some 6 apart within a cluster). */
enum { G = 5, M = 100, D = 20 };

static void clusters(float *z, int *label, int g, int m, uint64_t seed)
{
    aec_rng r;
    aec_rng_seed(&r, seed);
    double centre[G][D];
    for (int k = 0; k < g; k++)
        for (int c = 0; c < D; c++)
            centre[k][c] = 5 * aec_rng_normal(&r);
    for (int i = 0; i < g * m; i++) {
        label[i] = i % g;
        for (int c = 0; c < D; c++)
            z[i * D + c] = (float)(centre[label[i]][c] + aec_rng_normal(&r));
    }
}

static double dist(const float *y, int i, int j)
{
    return hypot(y[2 * i] - y[2 * j], y[2 * i + 1] - y[2 * j + 1]);
}

/* Fraction of points whose nearest other point in the map has their label. */
static double nn_agreement(const float *y, const int *label, int n)
{
    int agree = 0;
    for (int i = 0; i < n; i++) {
        int best = -1;
        for (int j = 0; j < n; j++)
            if (j != i && (best < 0 || dist(y, i, j) < dist(y, i, best)))
                best = j;
        agree += label[best] == label[i];
    }
    return (double)agree / n;
}

/* Mean distance between points of different clusters over mean within one. */
static double separation(const float *y, const int *label, int n)
{
    double within = 0, between = 0;
    long nw = 0, nb = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            if (label[i] == label[j])
                within += dist(y, i, j), nw++;
            else
                between += dist(y, i, j), nb++;
        }
    return (between / nb) / (within / nw);
}

static void test_tsne_clusters(void **state UNUSED)
{
    static float z[G * M * D], y[G * M * 2];
    static int label[G * M];
    clusters(z, label, G, M, 11);
    aec_tsne_opts o = AEC_TSNE_DEFAULTS;
    assert_int_equal(aec_tsne(z, G * M, D, &o, y), 0);
    double agree = nn_agreement(y, label, G * M), sep = separation(y, label, G * M);
    print_message("t-SNE of %d clusters x %d points: nearest-neighbour agreement %.3f, "
                  "between / within distance %.1f\n", G, M, agree, sep);
    assert_true(agree >= 0.95);
    assert_true(sep >= 4.0);
}

/* theta = 0 (exact repulsion) keeps the clusters apart too. */
static void test_tsne_exact(void **state UNUSED)
{
    static float z[G * 40 * D], y[G * 40 * 2];
    static int label[G * 40];
    clusters(z, label, G, 40, 12);
    aec_tsne_opts o = AEC_TSNE_DEFAULTS;
    o.theta = 0, o.perplexity = 10, o.iterations = 500;
    assert_int_equal(aec_tsne(z, G * 40, D, &o, y), 0);
    assert_true(nn_agreement(y, label, G * 40) >= 0.95);
    assert_true(separation(y, label, G * 40) >= 4.0);
}

static void test_tsne_deterministic(void **state UNUSED)
{
    enum { N = G * 40 };
    static float z[N * D], y1[N * 2], y2[N * 2], y3[N * 2];
    static int label[N];
    clusters(z, label, G, 40, 13);
    aec_tsne_opts o = AEC_TSNE_DEFAULTS;
    o.perplexity = 15, o.iterations = 300, o.seed = 5;
    assert_int_equal(aec_tsne(z, N, D, &o, y1), 0);
    assert_int_equal(aec_tsne(z, N, D, &o, y2), 0);
    assert_memory_equal(y1, y2, sizeof y1);
    o.seed = 6;
    assert_int_equal(aec_tsne(z, N, D, &o, y3), 0);
    assert_memory_not_equal(y1, y3, sizeof y1);
}

/* NULL options are the defaults. */
static void test_tsne_null_opts(void **state UNUSED)
{
    enum { N = 100 };
    static float z[N * D], y1[N * 2], y2[N * 2];
    static int label[N];
    clusters(z, label, G, N / G, 14);
    aec_tsne_opts o = AEC_TSNE_DEFAULTS;
    assert_int_equal(aec_tsne(z, N, D, NULL, y1), 0);
    assert_int_equal(aec_tsne(z, N, D, &o, y2), 0);
    assert_memory_equal(y1, y2, sizeof y1);
}

static void test_tsne_errors(void **state UNUSED)
{
    enum { N = 91 };
    static float z[N * D], y[N * 2];
    static int label[N];
    clusters(z, label, 1, N, 15);
    aec_tsne_opts o = AEC_TSNE_DEFAULTS;
    o.iterations = 20;
    capture_begin();
    assert_int_equal(aec_tsne(z, 90, D, &o, y), -1);    /* 90 = 3 x 30: too few */
    o.perplexity = 0.5;
    assert_int_equal(aec_tsne(z, N, D, &o, y), -1);
    o.perplexity = 30, o.theta = NAN;
    assert_int_equal(aec_tsne(z, N, D, &o, y), -1);
    o.theta = 0.5;
    z[7 * D + 4] = INFINITY;
    assert_int_equal(aec_tsne(z, N, D, &o, y), -1);
    z[7 * D + 4] = NAN;
    assert_int_equal(aec_tsne(z, N, D, &o, y), -1);
    char *msg = capture_end();
    assert_has(msg, "aec: t-SNE with perplexity 30 needs more than 90 points (3 x perplexity), "
                    "but has 90; lower the perplexity to below 30\n");
    assert_has(msg, "perplexity >= 1");
    assert_has(msg, "theta >= 0 (got 20, 30, 20, nan)");
    assert_has(msg, "aec: t-SNE: point 7, dimension 4 is not a finite number");
    free(msg);
    z[7 * D + 4] = 0;
    assert_int_equal(aec_tsne(z, N, D, &o, y), 0);      /* 91 points: just enough */
}

/* Identical points (more than K of them) neither hang nor give NaN. */
static void test_tsne_duplicates(void **state UNUSED)
{
    enum { N = 120 };
    static float z[N * D], y[N * 2];
    static int label[N];
    clusters(z, label, 2, N / 2, 16);
    for (int i = 0; i < N / 2; i++)
        memcpy(z + (size_t)(2 * i) * D, z, sizeof *z * D);   /* every even point = point 0 */
    aec_tsne_opts o = AEC_TSNE_DEFAULTS;
    o.perplexity = 10, o.iterations = 200;
    assert_int_equal(aec_tsne(z, N, D, &o, y), 0);
    for (int c = 0; c < 2 * N; c++)
        assert_true(isfinite(y[c]));
}

/* stderr not a terminal: one line at the start, one at the end. */
static void test_tsne_progress_log(void **state UNUSED)
{
    enum { N = 100 };
    static float z[N * D], y[N * 2];
    static int label[N];
    clusters(z, label, G, N / G, 17);
    aec_tsne_opts o = AEC_TSNE_DEFAULTS;
    o.perplexity = 10, o.iterations = 30, o.progress = 1;
    capture_begin();
    assert_int_equal(aec_tsne(z, N, D, &o, y), 0);
    char *msg = capture_end();
    assert_has(msg, "t-SNE: 100 points of 20 dimensions, perplexity 10, 30 iterations\n"
                    "t-SNE: 30 iterations in ");
    assert_has(msg, " s (KL ");
    assert_null(strchr(msg, '\r'));
    free(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pca_known_decomposition),
        cmocka_unit_test(test_pca_all_components),
        cmocka_unit_test(test_pca_rotated_gaussian),
        cmocka_unit_test(test_pca_errors),
        cmocka_unit_test(test_tsne_clusters),
        cmocka_unit_test(test_tsne_exact),
        cmocka_unit_test(test_tsne_deterministic),
        cmocka_unit_test(test_tsne_null_opts),
        cmocka_unit_test(test_tsne_errors),
        cmocka_unit_test(test_tsne_duplicates),
        cmocka_unit_test(test_tsne_progress_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
