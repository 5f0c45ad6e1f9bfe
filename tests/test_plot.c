/* test_plot.c: line charts and scatter plots (plot.c).
 *
 * Each plot is written, read back with cairo's PNG reader and looked at
 * pixel by pixel, where the layout (aec_plot_*_layout) says things are:
 * the image's size; every series' or class's palette colour, exactly, in
 * the data area and in the legend's box; white where nothing is drawn; no
 * colour that the data does not use. Then the tick chooser, the drawing
 * order of a scatter, determinism, the cases with little or odd data (no
 * points, one point, equal values, NaNs, log scales over zeros) and the
 * failure paths, whose messages must name the file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>

#include "aec.h"
#include "report/plot.h"
#include "util.h"

/* ---- helpers: images ------------------------------------------------------------ */

typedef struct {
    cairo_surface_t *s;
    int w, h, stride;
    const unsigned char *data;
} image;

static image load(const char *path)
{
    image im;
    im.s = cairo_image_surface_create_from_png(path);
    assert_int_equal(cairo_surface_status(im.s), CAIRO_STATUS_SUCCESS);
    im.w = cairo_image_surface_get_width(im.s);
    im.h = cairo_image_surface_get_height(im.s);
    im.stride = cairo_image_surface_get_stride(im.s);
    im.data = cairo_image_surface_get_data(im.s);
    return im;
}

static void unload(image *im)
{
    cairo_surface_destroy(im->s);
}

/* 0xRRGGBB of the pixel at (x, y). */
static uint32_t pixel(const image *im, int x, int y)
{
    const uint32_t *row = (const uint32_t *)(im->data + (size_t)y * im->stride);
    return row[x] & 0xffffff;
}

static uint32_t palette(int k)
{
    const unsigned char *c = aec_plot_palette[k];
    return (uint32_t)c[0] << 16 | (uint32_t)c[1] << 8 | c[2];
}

/* Pixels of exactly colour rgb inside r (clipped to the image). */
static int count_in(const image *im, aec_plot_rect r, uint32_t rgb)
{
    int x0 = r.x < 0 ? 0 : (int)ceil(r.x), y0 = r.y < 0 ? 0 : (int)ceil(r.y);
    int x1 = (int)floor(r.x + r.w), y1 = (int)floor(r.y + r.h), n = 0;
    for (int y = y0; y < y1 && y < im->h; y++)
        for (int x = x0; x < x1 && x < im->w; x++)
            n += pixel(im, x, y) == rgb;
    return n;
}

static aec_plot_rect whole(const image *im)
{
    return (aec_plot_rect){0, 0, im->w, im->h};
}

/* Pixels in r, for a rectangle of whole pixels. */
static int area(aec_plot_rect r)
{
    return (int)(r.w * r.h);
}

static void assert_corners_white(const image *im)
{
    assert_int_equal(pixel(im, 0, 0), 0xffffff);
    assert_int_equal(pixel(im, im->w - 1, 0), 0xffffff);
    assert_int_equal(pixel(im, 0, im->h - 1), 0xffffff);
    assert_int_equal(pixel(im, im->w - 1, im->h - 1), 0xffffff);
}

static void assert_has(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("expected \"%s\" in \"%s\"", want, text);
}

/* ---- helpers: data ------------------------------------------------------------- */

static uint32_t rng_state = 12345;

static double urand(void)         /* [0, 1) */
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (rng_state >> 8) / 16777216.0;
}

/* Ten clusters on a circle, point i of class i % 10 (in a shuffled order). */
static void clusters(double *xy, int *labels, int n)
{
    for (int i = 0; i < n; i++) {
        int k = (int)(urand() * 10);
        labels[i] = k;
        xy[2 * i] = 10 * cos(k * 0.628) + urand() - 0.5;
        xy[2 * i + 1] = 6 * sin(k * 0.628) + urand() - 0.5;
    }
}

static int setup(void **state UNUSED)
{
    return tmpdir_setup("/tmp/aec_test_plot.XXXXXX");
}

/* ---- ticks ---------------------------------------------------------------------- */

/* Each tick a multiple of step inside [lo, hi], increasing, at most target. */
static void check_ticks(double lo, double hi, int target, double want_step)
{
    double t[16], step = 0;
    int n = aec_plot_ticks(lo, hi, target, t, &step);
    assert_true(n >= 2 && n <= target);
    assert_true(fabs(step - want_step) < 1e-12 * want_step);
    for (int i = 0; i < n; i++) {
        assert_true(t[i] >= lo - 1e-12 && t[i] <= hi + 1e-12);
        assert_true(fabs(t[i] / step - round(t[i] / step)) < 1e-9);
        assert_true(i == 0 || fabs(t[i] - t[i - 1] - step) < 1e-9 * step);
    }
}

static void test_ticks(void **state UNUSED)
{
    double t[16], step;
    check_ticks(0.0053, 0.025, 5, 0.005);
    check_ticks(0.0053, 0.025, 8, 0.005);
    check_ticks(-3.7, 4.2, 8, 2);
    check_ticks(0.9, 1.1, 8, 0.05);
    check_ticks(1, 40, 8, 10);
    check_ticks(0, 1e6, 6, 2e5);
    assert_int_equal(aec_plot_ticks(0, 40, 5, t, &step), 5);
    for (int i = 0; i < 5; i++)
        assert_true(t[i] == 10.0 * i);
    assert_int_equal(aec_plot_ticks(1, 1, 8, t, NULL), 0);
    assert_int_equal(aec_plot_ticks(2, 1, 8, t, NULL), 0);
    assert_int_equal(aec_plot_ticks(NAN, 1, 8, t, NULL), 0);
    assert_int_equal(aec_plot_ticks(-INFINITY, 1, 8, t, NULL), 0);
    assert_int_equal(aec_plot_ticks(0, 1, 1, t, NULL), 0);
}

/* ---- line charts ----------------------------------------------------------------- */

#define N_EPOCH 40

static double epoch[N_EPOCH], decay[3][N_EPOCH], longer[200];

/* Three decaying curves of 40 points (markers) in colours 0, 1, 2 and one of
 * 200 points (no markers) in colour 3. */
static void loss_curves(aec_plot_series s[4])
{
    static const char *names[4] = {"training", "validation", "third", "long"};
    for (int i = 0; i < N_EPOCH; i++) {
        epoch[i] = i + 1;
        for (int k = 0; k < 3; k++)
            decay[k][i] = 0.005 * (k + 1) + 0.06 * exp(-i / (2.0 + k));
    }
    for (int i = 0; i < 200; i++)
        longer[i] = 0.04 + 0.01 * sin(i / 10.0);
    for (int k = 0; k < 3; k++)
        s[k] = (aec_plot_series){names[k], N_EPOCH, epoch, decay[k], k};
    s[3] = (aec_plot_series){names[3], 200, NULL, longer, 3};
}

/* Each series' colour in the data area (outside the legend) and in the
 * legend; an unused colour nowhere. */
static void check_lines(const char *path, int n_series, const aec_plot_series *s,
                        const aec_plot_layout *lay)
{
    image im = load(path);
    assert_int_equal(im.w, lay->width);
    assert_int_equal(im.h, lay->height);
    assert_corners_white(&im);
    for (int k = 0; k < n_series; k++) {
        uint32_t c = palette(s[k].colour);
        int in_legend = count_in(&im, lay->legend, c);
        assert_true(in_legend > 0);
        assert_true(count_in(&im, lay->plot, c) - in_legend > 0);
    }
    assert_int_equal(count_in(&im, whole(&im), palette(9)), 0);
    assert_true(count_in(&im, lay->plot, 0xffffff) > 0.6 * area(lay->plot));
    unload(&im);
}

static void test_lines(void **state UNUSED)
{
    aec_plot_series s[4];
    aec_plot_layout lay;
    loss_curves(s);
    const char *path = tp("loss.png");
    assert_int_equal(aec_plot_lines(path, "loss", "epoch", "loss (mse)", 4, s, 0), 0);
    assert_int_equal(aec_plot_lines_layout("loss", "epoch", "loss (mse)", 4, s, 0, &lay), 0);
    assert_int_equal(lay.width, 800);
    assert_int_equal(lay.height, 500);
    assert_true(lay.legend.w > 0 && lay.legend.h > 0);
    /* Inside the data area, at its top right: the curves fall from the top left. */
    assert_true(lay.legend.x > lay.plot.x + lay.plot.w / 2);
    assert_true(lay.legend.x + lay.legend.w <= lay.plot.x + lay.plot.w);
    assert_true(lay.legend.y >= lay.plot.y && lay.legend.y < lay.plot.y + lay.plot.h / 2);
    check_lines(path, 4, s, &lay);
    assert_false(exists(tp("loss.png.tmp")));
}

static void test_lines_log(void **state UNUSED)
{
    double y[30];
    for (int i = 0; i < 30; i++)
        y[i] = 2.0 * pow(0.7, i);
    y[5] = 0;           /* skipped on a log scale */
    y[6] = -1;
    aec_plot_series s[2] = {{"decades", 30, NULL, y, 4}, {"flat", 30, NULL, y, 6}};
    aec_plot_layout lay;
    const char *path = tp("log.png");
    assert_int_equal(aec_plot_lines(path, "log", "epoch", "loss", 1, s, AEC_PLOT_LOG_Y), 0);
    assert_int_equal(aec_plot_lines_layout("log", "epoch", "loss", 1, s, AEC_PLOT_LOG_Y, &lay), 0);
    check_lines(path, 1, s, &lay);
}

/* A line rising to the top right pushes the legend to another corner. */
static void test_lines_legend_moves(void **state UNUSED)
{
    double y[20];
    for (int i = 0; i < 20; i++)
        y[i] = i * i;
    aec_plot_series s = {"rising", 20, NULL, y, 2};
    aec_plot_layout lay;
    const char *path = tp("rising.png");
    assert_int_equal(aec_plot_lines(path, "rising", "x", "y", 1, &s, 0), 0);
    assert_int_equal(aec_plot_lines_layout("rising", "x", "y", 1, &s, 0, &lay), 0);
    assert_true(lay.legend.x < lay.plot.x + lay.plot.w / 2);
    assert_true(lay.legend.y < lay.plot.y + lay.plot.h / 2);
    check_lines(path, 1, &s, &lay);
}

/* Writes, at the right size, with no crash. */
static void plot_ok(const char *name, const char *title, int n_series,
                    const aec_plot_series *s, int flags)
{
    const char *path = tp(name);
    assert_int_equal(aec_plot_lines(path, title, NULL, NULL, n_series, s, flags), 0);
    image im = load(path);
    assert_int_equal(im.w, 800);
    assert_int_equal(im.h, 500);
    assert_corners_white(&im);
    unload(&im);
}

static void test_lines_little_data(void **state UNUSED)
{
    double one = 0.03, same[5] = {2, 2, 2, 2, 2}, nan[3] = {NAN, NAN, INFINITY};
    double some[6] = {1, NAN, 3, 2, NAN, 0.5}, x[6] = {0, 1, NAN, 3, 4, 5};
    aec_plot_series s[5] = {{"one", 1, NULL, &one, 0}, {"same", 5, NULL, same, 1},
                            {"nan", 3, NULL, nan, 2}, {"some", 6, x, some, 3},
                            {NULL, 0, NULL, NULL, 4}};
    aec_plot_layout lay;
    plot_ok("none.png", NULL, 0, NULL, 0);
    plot_ok("empty.png", "empty", 1, &s[4], 0);
    plot_ok("empty_log.png", "empty", 1, &s[4], AEC_PLOT_LOG_Y);
    plot_ok("nan.png", "nan", 1, &s[2], AEC_PLOT_LOG_Y);
    plot_ok("same.png", "same", 1, &s[1], AEC_PLOT_LOG_Y);
    plot_ok("all.png", "all", 5, s, 0);
    plot_ok("all_log.png", "all", 5, s, AEC_PLOT_LOG_Y);
    /* One point: its marker is drawn, and named in the legend. */
    assert_int_equal(aec_plot_lines(tp("one.png"), "one", "epoch", "loss", 1, s, 0), 0);
    assert_int_equal(aec_plot_lines_layout("one", "epoch", "loss", 1, s, 0, &lay), 0);
    check_lines(tp("one.png"), 1, s, &lay);
    /* Equal values, and NaNs between the points. */
    aec_plot_series two[2] = {s[1], s[3]};
    assert_int_equal(aec_plot_lines(tp("some.png"), "some", "x", "y", 2, two, 0), 0);
    assert_int_equal(aec_plot_lines_layout("some", "x", "y", 2, two, 0, &lay), 0);
    check_lines(tp("some.png"), 2, two, &lay);
}

/* ---- scatter plots ------------------------------------------------------------------ */

#define N_POINTS 5000

static void test_scatter(void **state UNUSED)
{
    static double xy[2 * N_POINTS];
    static int labels[N_POINTS];
    aec_plot_layout lay;
    const char *path = tp("scatter.png");
    const char *const *names = aec_plot_fashion_mnist_classes;
    clusters(xy, labels, N_POINTS);
    assert_int_equal(aec_plot_scatter(path, "latents", N_POINTS, xy, labels, 10, names,
                                      "PCA: 24.1% + 17.3% of the variance"), 0);
    assert_int_equal(aec_plot_scatter_layout("latents", N_POINTS, xy, labels, 10, names,
                                             "PCA: 24.1% + 17.3% of the variance", &lay), 0);
    image im = load(path);
    assert_int_equal(im.w, 800);
    assert_int_equal(im.h, 700);
    assert_corners_white(&im);
    assert_true(lay.legend.x >= lay.plot.x + lay.plot.w);      /* outside, on the right */
    assert_true(lay.legend.x + lay.legend.w <= im.w);
    for (int k = 0; k < 10; k++) {
        assert_true(count_in(&im, lay.plot, palette(k)) > 20);
        assert_true(count_in(&im, lay.legend, palette(k)) >= 100);   /* a 10x10 swatch */
    }
    /* The middle of the circle of clusters is empty. */
    aec_plot_rect mid = {floor(lay.plot.x + lay.plot.w * 0.45),
                         floor(lay.plot.y + lay.plot.h * 0.45), 50, 50};
    assert_int_equal(count_in(&im, mid, 0xffffff), area(mid));
    unload(&im);
    assert_string_equal(names[0], "T-shirt/top");
    assert_string_equal(names[9], "Ankle boot");
}

static void test_scatter_no_labels(void **state UNUSED)
{
    static double xy[2 * 500];
    static int labels[500];
    aec_plot_layout lay;
    const char *path = tp("plain.png");
    clusters(xy, labels, 500);
    assert_int_equal(aec_plot_scatter(path, "plain", 500, xy, NULL, 0, NULL, NULL), 0);
    assert_int_equal(aec_plot_scatter_layout("plain", 500, xy, NULL, 0, NULL, NULL, &lay), 0);
    assert_true(lay.legend.w == 0);
    image im = load(path);
    assert_true(count_in(&im, lay.plot, palette(0)) > 100);
    for (int k = 1; k < 10; k++)
        assert_int_equal(count_in(&im, whole(&im), palette(k)), 0);
    unload(&im);
}

/* Points are drawn in index order, the same way every time. */
static void test_scatter_order(void **state UNUSED)
{
    double xy[8] = {0, 0, 0, 0, 1, 1, 0.5, 0.2};
    int labels[4] = {1, 2, 0, 3}, rev[4] = {2, 1, 0, 3};
    size_t na, nb;
    assert_int_equal(aec_plot_scatter(tp("a.png"), NULL, 4, xy, labels, 4, NULL, NULL), 0);
    assert_int_equal(aec_plot_scatter(tp("b.png"), NULL, 4, xy, labels, 4, NULL, NULL), 0);
    uint8_t *a = read_bytes(tp("a.png"), &na), *b = read_bytes(tp("b.png"), &nb);
    assert_true(na == nb && memcmp(a, b, na) == 0);
    free(a);
    free(b);
    image im = load(tp("a.png"));       /* point 1 hides point 0 */
    assert_int_equal(count_in(&im, whole(&im), palette(1)), 100);  /* its legend swatch */
    assert_true(count_in(&im, whole(&im), palette(2)) > 100);
    unload(&im);
    assert_int_equal(aec_plot_scatter(tp("c.png"), NULL, 4, xy, rev, 4, NULL, NULL), 0);
    im = load(tp("c.png"));
    assert_int_equal(count_in(&im, whole(&im), palette(2)), 100);
    unload(&im);
}

static void test_scatter_little_data(void **state UNUSED)
{
    double xy[6] = {NAN, 1, 2, INFINITY, 3, 3};
    int labels[40] = {0, 1, 39};
    char const *names[3] = {"first", NULL, "third"};
    aec_plot_layout lay;
    assert_int_equal(aec_plot_scatter(tp("s0.png"), "none", 0, NULL, NULL, 0, NULL, NULL), 0);
    assert_int_equal(aec_plot_scatter(tp("s1.png"), "one", 1, xy + 4, labels, 3, names, "s"), 0);
    assert_int_equal(aec_plot_scatter(tp("s3.png"), "nan", 3, xy, labels, 40, NULL, "s"), 0);
    assert_int_equal(aec_plot_scatter(tp("same.png"), "same", 2, (double[]){1, 1, 1, 1},
                                      labels, 2, NULL, NULL), 0);
    assert_int_equal(aec_plot_scatter_layout("nan", 3, xy, labels, 40, NULL, "s", &lay), 0);
    assert_true(lay.legend.y + lay.legend.h <= lay.plot.y + lay.plot.h);  /* "+ k more" */
    image im = load(tp("s3.png"));
    assert_int_equal(im.w, 800);
    assert_int_equal(im.h, 700);
    assert_corners_white(&im);
    unload(&im);
}

/* ---- failures ---------------------------------------------------------------------- */

static void expect_failure(int rc, const char *want)
{
    char *msg = capture_end();
    assert_int_equal(rc, -1);
    assert_has(msg, want);
    free(msg);
}

static void test_failures(void **state UNUSED)
{
    double y[2] = {1, 2}, xy[4] = {0, 0, 1, 1};
    int labels[2] = {0, 3};
    aec_plot_series s = {"s", 2, NULL, y, 0}, bad = {"bad", 2, NULL, NULL, 0};
    const char *missing = tp("no/such/dir/loss.png");
    capture_begin();
    expect_failure(aec_plot_lines(missing, "t", "x", "y", 1, &s, 0), missing);
    capture_begin();
    expect_failure(aec_plot_scatter(missing, "t", 2, xy, NULL, 0, NULL, NULL), missing);
    capture_begin();
    expect_failure(aec_plot_lines(tp("bad.png"), "t", "x", "y", 1, &bad, 0), tp("bad.png"));
    capture_begin();
    expect_failure(aec_plot_lines(tp("bad.png"), "t", "x", "y", -1, &s, 0), "no series");
    capture_begin();
    expect_failure(aec_plot_scatter(tp("bad.png"), "t", 2, xy, labels, 3, NULL, NULL),
                   "point 1 has label 3, outside 0 .. 2");
    capture_begin();
    expect_failure(aec_plot_scatter(tp("bad.png"), "t", 2, NULL, NULL, 0, NULL, NULL),
                   tp("bad.png"));
    assert_false(exists(tp("bad.png")));
    assert_false(exists(tp("no")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticks),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_lines_log),
        cmocka_unit_test(test_lines_legend_moves),
        cmocka_unit_test(test_lines_little_data),
        cmocka_unit_test(test_scatter),
        cmocka_unit_test(test_scatter_no_labels),
        cmocka_unit_test(test_scatter_order),
        cmocka_unit_test(test_scatter_little_data),
        cmocka_unit_test(test_failures),
    };
    /* AEC_TEST_KEEP=1 keeps the pictures (the directory is printed) to look at. */
    int keep = getenv("AEC_TEST_KEEP") != NULL;
    int rc = cmocka_run_group_tests(tests, setup, keep ? NULL : tmpdir_teardown);
    if (keep)
        printf("pictures kept in %s\n", tmpdir);
    return rc;
}
