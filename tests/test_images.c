/* test_images.c: folders of images as data sets (images.c, the uint8 .npy of
 * npy.c, and dataset.c's choice between IDX files and images).
 *
 * Every image is made here at test time with libpng and libjpeg: PNGs of each
 * colour type and depth, at odd sizes, whose decoded values are known exactly,
 * and smooth JPEGs at quality 100, checked within a tolerance. The crop and
 * area resize are checked against a reference computed here in double
 * precision by another method: every pixel of the square is cut into H x W
 * sub-pixels, so that each output pixel is the plain mean of s x s of them.
 * Then the grey and colour conversions, the [lo, hi] mapping, sorting and the
 * 90/10 split, limit, the cache, the failure paths (each bad file made from a
 * good one, with its exact message), skipping bad images (skip_bad) and the
 * cache of such a decoding, and the real CelebA sample when it is there
 * (skipped, saying why, when it is not).
 *
 * Under valgrind, leave the CelebA part out: AEC_TEST_SKIP='test_celeba*'
 * (a cmocka skip filter). Every file lives in one temporary directory, and
 * AEC_CACHE_DIR points into it, so the user's cache is never touched. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "aec.h"
#include "data/dataset.h"
#include "data/images.h"
#include "tiny_vae.h"
#include "util.h"

#define CELEBA AEC_ROOT "/../shared/data/celeba-10k"

/* ---- helpers: the temporary directory (more in util.c) --------------------------- */

/* DIR/name in a caller's buffer. */
static const char *in_dir(char *buf, size_t size, const char *dir, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
    return buf;
}

static const char *make_dir(const char *name)
{
    const char *p = tp(name);
    assert_int_equal(mkdir(p, 0755), 0);
    return p;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    assert_non_null(d);
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static int setup(void **state UNUSED)
{
    if (tmpdir_setup("/tmp/aec_test_images.XXXXXX") != 0)
        return -1;
    return setenv("AEC_CACHE_DIR", tp("cache"), 1);
}

/* ---- helpers: stderr (capture_begin and capture_end are in util.c) ------------------- */

static void assert_has(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("expected \"%s\" in:\n%s", want, text);
}

/* ---- helpers: models and images --------------------------------------------------------- */

static aec_model model(int C, int H, int W, float lo, float hi)
{
    aec_model m = { 0 };
    m.name = "images";
    m.in_c = m.out_c = C, m.in_h = m.out_h = H, m.in_w = m.out_w = W;
    m.in_lo = lo, m.in_hi = hi;
    return m;
}

/* A well-mixed hash (for pixel values that no formula could guess). */
static uint32_t mix(uint32_t a)
{
    a ^= a >> 16;
    a *= 0x7feb352dU;
    a ^= a >> 15;
    a *= 0x846ca68bU;
    a ^= a >> 16;
    return a;
}

/* Sample c of pixel (x, y) of image k, in 0..maxv. */
static unsigned sample(int k, int x, int y, int c, unsigned maxv)
{
    return mix((uint32_t)(k * 7919 + y * 131071 + x * 8191 + c * 524287 + 1)) % (maxv + 1);
}

/* A PNG of w x h pixels; v holds each pixel's samples (channels of the colour
 * type; palette indices for a palette), up to 16 bits each. */
static void write_png(const char *path, int w, int h, int color, int depth, int interlace,
                      const uint16_t *v, const png_color *pal, int npal, const uint8_t *trns,
                      int ntrns)
{
    int ch = color == PNG_COLOR_TYPE_GRAY ? 1 : color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
           : color == PNG_COLOR_TYPE_RGB ? 3 : color == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : 1;
    int bytes = depth == 16 ? 2 : 1;
    size_t stride = (size_t)w * ch * bytes;
    uint8_t *buf = malloc(stride * h);
    png_bytep *rows = malloc(h * sizeof *rows);
    FILE *fp = fopen(path, "wb");
    assert_true(buf && rows && fp);
    for (int y = 0; y < h; y++) {
        rows[y] = buf + y * stride;
        for (int i = 0; i < w * ch; i++) {
            uint16_t s = v[(size_t)y * w * ch + i];
            if (bytes == 2) {
                rows[y][2 * i] = (uint8_t)(s >> 8);
                rows[y][2 * i + 1] = (uint8_t)s;
            } else
                rows[y][i] = (uint8_t)s;
        }
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_true(png && info);
    if (setjmp(png_jmpbuf(png)))
        fail_msg("libpng could not write %s", path);
    png_init_io(png, fp);
    png_set_IHDR(png, info, w, h, depth, color,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (pal)
        png_set_PLTE(png, info, pal, npal);
    if (trns)
        png_set_tRNS(png, info, trns, ntrns, NULL);
    png_write_info(png, info);
    if (depth < 8)
        png_set_packing(png);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(fp);
    free(rows);
    free(buf);
}

/* A JPEG of w x h pixels of comps (1 or 3) channels at quality 100: baseline
 * or progressive, with full-resolution colour (4:4:4), or for JPEG_420
 * libjpeg's default, baseline with colour at half resolution (4:2:0). */
enum { JPEG_BASELINE, JPEG_PROGRESSIVE, JPEG_420 };

static void write_jpeg(const char *path, int w, int h, int comps, const uint8_t *pix, int mode)
{
    struct jpeg_compress_struct j;
    struct jpeg_error_mgr err;
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    j.err = jpeg_std_error(&err);
    jpeg_create_compress(&j);
    jpeg_stdio_dest(&j, fp);
    j.image_width = w;
    j.image_height = h;
    j.input_components = comps;
    j.in_color_space = comps == 4 ? JCS_CMYK : comps == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&j);
    jpeg_set_quality(&j, 100, TRUE);
    if (mode != JPEG_420)
        j.comp_info[0].h_samp_factor = j.comp_info[0].v_samp_factor = 1;
    if (mode == JPEG_PROGRESSIVE)
        jpeg_simple_progression(&j);
    jpeg_start_compress(&j, TRUE);
    while (j.next_scanline < j.image_height) {
        JSAMPROW row = (JSAMPROW)pix + (size_t)j.next_scanline * w * comps;
        jpeg_write_scanlines(&j, &row, 1);
    }
    jpeg_finish_compress(&j);
    jpeg_destroy_compress(&j);
    fclose(fp);
}

/* A smooth w x h x comps image: JPEG keeps it to within a few levels. */
static uint8_t *smooth_image(int w, int h, int comps, double phase)
{
    uint8_t *p = malloc((size_t)w * h * comps);
    assert_non_null(p);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < comps; c++) {
                double v = 128 + 70 * sin(0.13 * x + 1.7 * c + phase)
                         + 45 * cos(0.11 * y - 0.9 * c + phase);
                p[((size_t)y * w + x) * comps + c] = (uint8_t)lround(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    return p;
}

/* ITU-R 601 luma, in double. */
static double luma(double r, double g, double b)
{
    return 0.299 * r + 0.587 * g + 0.114 * b;
}

/* The reference fit of one h x w channel to H x W: crop the centred s x s
 * square (top and left margins rounded down), cut each of its pixels into
 * H x W sub-pixels: output (i, j) is the mean of sub-rows [i*s, (i+1)*s) and
 * sub-columns [j*s, (j+1)*s), each of which belongs to pixel (r / H, c / W). */
static void ref_fit(const double *img, int h, int w, int H, int W, double *out)
{
    int s = h < w ? h : w, y0 = (h - s) / 2, x0 = (w - s) / 2;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            double sum = 0;
            for (int r = i * s; r < (i + 1) * s; r++) {
                const double *row = img + (size_t)(y0 + r / H) * w + x0;
                for (int c = j * s; c < (j + 1) * s; c++)
                    sum += row[c / W];
            }
            out[i * W + j] = sum / ((double)s * s);
        }
}

/* ---- the PNG cases ---------------------------------------------------------------------- */

typedef struct {
    const char *name;
    int w, h, color, depth, interlace;
} png_case;

/* Sorted by name: the folder lists them in this order. */
static const png_case PNGS[] = {
    { "p00_grey8.png", 7, 5, PNG_COLOR_TYPE_GRAY, 8, 0 },
    { "p01_grey16.png", 5, 9, PNG_COLOR_TYPE_GRAY, 16, 0 },
    { "p02_grey2.png", 9, 9, PNG_COLOR_TYPE_GRAY, 2, 0 },
    { "p03_greyalpha8.png", 6, 13, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0 },
    { "p04_greyalpha16.png", 4, 3, PNG_COLOR_TYPE_GRAY_ALPHA, 16, 0 },
    { "p05_rgb8.png", 13, 6, PNG_COLOR_TYPE_RGB, 8, 0 },
    { "p06_rgb16.png", 8, 11, PNG_COLOR_TYPE_RGB, 16, 0 },
    { "p07_rgba8.png", 7, 5, PNG_COLOR_TYPE_RGB_ALPHA, 8, 0 },
    { "p08_rgba16.png", 5, 7, PNG_COLOR_TYPE_RGB_ALPHA, 16, 0 },
    { "p09_palette8_trns.png", 10, 7, PNG_COLOR_TYPE_PALETTE, 8, 0 },
    { "p10_palette4.png", 5, 8, PNG_COLOR_TYPE_PALETTE, 4, 0 },
    { "p11_rgb_interlaced.png", 11, 14, PNG_COLOR_TYPE_RGB, 8, 1 },
    { "p12_rgb89x109.png", 89, 109, PNG_COLOR_TYPE_RGB, 8, 0 },
    { "p13_grey178x218.png", 178, 218, PNG_COLOR_TYPE_GRAY, 8, 0 },
};
#define N_PNGS ((int)(sizeof PNGS / sizeof PNGS[0]))

static int png_channels(int color)
{
    return color == PNG_COLOR_TYPE_GRAY ? 1 : color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
         : color == PNG_COLOR_TYPE_RGB ? 3 : color == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : 1;
}

static int png_is_colour(int color)
{
    return (color & PNG_COLOR_MASK_COLOR) != 0;
}

/* Palette entry e of case k (and its transparency). */
static png_color palette_entry(int k, int e)
{
    png_color c = { (png_byte)sample(k, e, 0, 0, 255), (png_byte)sample(k, e, 0, 1, 255),
                    (png_byte)sample(k, e, 0, 2, 255) };
    return c;
}

static int palette_size(const png_case *pc)
{
    return pc->depth == 4 ? 16 : 40;
}

/* The raw sample c of pixel (x, y) as written. */
static unsigned png_raw(const png_case *pc, int k, int x, int y, int c)
{
    unsigned maxv = pc->color == PNG_COLOR_TYPE_PALETTE ? (unsigned)palette_size(pc) - 1
                  : (1u << pc->depth) - 1;
    return sample(k, x, y, c, maxv);
}

static void make_png(const char *dir, int k)
{
    const png_case *pc = &PNGS[k];
    int ch = png_channels(pc->color);
    uint16_t *v = malloc((size_t)pc->w * pc->h * ch * sizeof *v);
    png_color pal[40];
    uint8_t trns[8];
    char path[600];
    assert_non_null(v);
    for (int y = 0; y < pc->h; y++)
        for (int x = 0; x < pc->w; x++)
            for (int c = 0; c < ch; c++)
                v[((size_t)y * pc->w + x) * ch + c] = (uint16_t)png_raw(pc, k, x, y, c);
    for (int e = 0; e < 40; e++)
        pal[e] = palette_entry(k, e);
    for (int e = 0; e < 8; e++)
        trns[e] = (uint8_t)(e * 30);
    int is_pal = pc->color == PNG_COLOR_TYPE_PALETTE;
    write_png(in_dir(path, sizeof path, dir, pc->name), pc->w, pc->h, pc->color, pc->depth,
              pc->interlace, v, is_pal ? pal : NULL, is_pal ? palette_size(pc) : 0,
              is_pal && pc->depth == 8 ? trns : NULL, 8);
    free(v);
}

/* What the decoder must give for pixel (x, y): 8-bit R, G, B (equal for grey).
 * Scaling n bits to 8 is v * 255 / (2^n - 1), rounded; alpha is dropped. */
static void png_expect(const png_case *pc, int k, int x, int y, double rgb[3])
{
    if (pc->color == PNG_COLOR_TYPE_PALETTE) {
        png_color c = palette_entry(k, (int)png_raw(pc, k, x, y, 0));
        rgb[0] = c.red, rgb[1] = c.green, rgb[2] = c.blue;
        return;
    }
    double maxv = (double)((1u << pc->depth) - 1);
    for (int c = 0; c < 3; c++) {
        int src = png_is_colour(pc->color) ? c : 0;
        rgb[c] = floor(png_raw(pc, k, x, y, src) * 255.0 / maxv + 0.5);
    }
}

/* The expected channel ch of case k for a model of C channels, as h x w
 * doubles; a colour image for a grey model becomes luma, rounded to 8 bits. */
static double *png_plane(int k, int C, int ch)
{
    const png_case *pc = &PNGS[k];
    double *p = malloc((size_t)pc->w * pc->h * sizeof *p), rgb[3];
    assert_non_null(p);
    for (int y = 0; y < pc->h; y++)
        for (int x = 0; x < pc->w; x++) {
            png_expect(pc, k, x, y, rgb);
            if (C == 3 || !png_is_colour(pc->color))
                p[y * pc->w + x] = rgb[ch];
            else
                p[y * pc->w + x] = floor(luma(rgb[0], rgb[1], rgb[2]) + 0.5);
        }
    return p;
}

static const char *png_folder(void)
{
    static char dir[512];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s", make_dir("pngs"));
        for (int k = N_PNGS - 1; k >= 0; k--)      /* written out of order on purpose */
            make_png(dir, k);
    }
    return dir;
}

/* ---- tests: decoding --------------------------------------------------------------------- */

static void test_png_decode_exact(void **state UNUSED)
{
    const char *dir = png_folder();
    char path[600];
    for (int k = 0; k < N_PNGS; k++) {
        const png_case *pc = &PNGS[k];
        for (int C = 1; C <= 3; C += 2) {
            uint8_t *pix;
            int h, w;
            double rgb[3];
            assert_int_equal(aec_image_decode(in_dir(path, sizeof path, dir, pc->name), C,
                                              &pix, &h, &w), 0);
            assert_int_equal(h, pc->h);
            assert_int_equal(w, pc->w);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    png_expect(pc, k, x, y, rgb);
                    const uint8_t *p = pix + ((size_t)y * w + x) * C;
                    if (C == 3 || !png_is_colour(pc->color)) {
                        for (int c = 0; c < C; c++)
                            if (p[c] != rgb[c])
                                fail_msg("%s (%d, %d) channel %d: %d, expected %.0f",
                                         pc->name, x, y, c, p[c], rgb[c]);
                    } else if (fabs(p[0] - luma(rgb[0], rgb[1], rgb[2])) > 0.51)
                        fail_msg("%s (%d, %d) grey: %d, expected luma %.3f",
                                 pc->name, x, y, p[0], luma(rgb[0], rgb[1], rgb[2]));
                }
            free(pix);
        }
    }
}

static void test_jpeg_decode(void **state UNUSED)
{
    const int w = 40, h = 30;
    uint8_t *rgb = smooth_image(w, h, 3, 0.0), *grey = smooth_image(w, h, 1, 1.0);
    uint8_t *base, *prog, *g3, *c1, *sub;
    int hh, ww;
    double worst = 0, worst_grey = 0, worst_420 = 0;
    write_jpeg(tp("base.jpg"), w, h, 3, rgb, JPEG_BASELINE);
    write_jpeg(tp("prog.jpg"), w, h, 3, rgb, JPEG_PROGRESSIVE);
    write_jpeg(tp("grey.jpg"), w, h, 1, grey, JPEG_BASELINE);
    write_jpeg(tp("420.jpg"), w, h, 3, rgb, JPEG_420);
    assert_int_equal(aec_image_decode(tp("base.jpg"), 3, &base, &hh, &ww), 0);
    assert_true(hh == h && ww == w);
    assert_int_equal(aec_image_decode(tp("prog.jpg"), 3, &prog, &hh, &ww), 0);
    assert_true(hh == h && ww == w);
    assert_int_equal(aec_image_decode(tp("grey.jpg"), 3, &g3, &hh, &ww), 0);
    assert_true(hh == h && ww == w);
    assert_int_equal(aec_image_decode(tp("base.jpg"), 1, &c1, &hh, &ww), 0);
    assert_true(hh == h && ww == w);
    assert_int_equal(aec_image_decode(tp("420.jpg"), 3, &sub, &hh, &ww), 0);
    assert_true(hh == h && ww == w);
    for (int i = 0; i < w * h; i++) {
        for (int c = 0; c < 3; c++) {
            worst = fmax(worst, fabs((double)base[3 * i + c] - rgb[3 * i + c]));
            worst_420 = fmax(worst_420, fabs((double)sub[3 * i + c] - rgb[3 * i + c]));
            assert_true(abs(base[3 * i + c] - prog[3 * i + c]) <= 1);
            /* grey to RGB: the one channel, copied */
            assert_int_equal(g3[3 * i + c], g3[3 * i]);
        }
        worst_grey = fmax(worst_grey, fabs((double)g3[3 * i] - grey[i]));
        /* RGB to grey: ITU-R 601 luma of the colour */
        double y = luma(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
        worst_grey = fmax(worst_grey, fabs(c1[i] - y));
    }
    print_message("JPEG at quality 100: worst error %.0f levels in colour (%.0f at 4:2:0), "
                  "%.1f in grey\n", worst, worst_420, worst_grey);
    assert_true(worst <= 5);        /* YCbCr in 8 bits and the integer DCT */
    assert_true(worst_420 <= 10);
    assert_true(worst_grey <= 2);
    free(rgb), free(grey), free(base), free(prog), free(g3), free(c1), free(sub);
}

/* ---- tests: the fit and the data set ----------------------------------------------------- */

/* Load both splits of the PNG folder for C x H x W in [lo, hi], and check
 * every value against the reference fit of the expected pixels. The images
 * smaller than H x W are refused; if there are any, the load skips them
 * (skip_bad), and must say so for each, in the split it is in. */
static void check_png_folder(int C, int H, int W, float lo, float hi)
{
    const char *dir = png_folder();
    aec_model m = model(C, H, W, lo, hi);
    aec_dataset tr, te;
    double *ref = malloc((size_t)H * W * sizeof *ref);
    int n_train = N_PNGS - N_PNGS / 10, at[N_PNGS], kept[2] = { 0, 0 }, small = 0;
    char want[800];
    assert_non_null(ref);
    for (int k = 0; k < N_PNGS; k++) {
        int split = k >= n_train, fits = PNGS[k].h >= H && PNGS[k].w >= W;
        at[k] = fits ? kept[split]++ : -1;
        small += !fits;
    }
    capture_begin();
    assert_int_equal(aec_dataset_load_skip(dir, "train", &m, 0, small > 0, &tr), 0);
    assert_int_equal(aec_dataset_load_skip(dir, "test", &m, 0, small > 0, &te), 0);
    char *err = capture_end();
    assert_int_equal(tr.n, kept[0]);
    assert_int_equal(te.n, kept[1]);
    assert_true(tr.C == C && tr.H == H && tr.W == W && te.C == C && te.H == H && te.W == W);
    assert_null(tr.labels);
    assert_null(te.labels);
    for (int k = 0; k < N_PNGS; k++) {
        snprintf(want, sizeof want, "aec: %s/%s: %dx%d pixels, smaller than the model's %dx%d "
                 "input; skipped\n", dir, PNGS[k].name, PNGS[k].w, PNGS[k].h, W, H);
        if ((at[k] < 0) != (strstr(err, want) != NULL))
            fail_msg("%s for %dx%dx%d: %s skipped; stderr:\n%s", PNGS[k].name, C, H, W,
                     at[k] < 0 ? "should be" : "should not be", err);
    }
    if (small == 0)
        assert_null(strstr(err, "skipped"));
    free(err);
    for (int k = 0; k < N_PNGS; k++) {
        const png_case *pc = &PNGS[k];
        if (at[k] < 0)
            continue;
        const float *x = (k < n_train ? tr.x : te.x) + (size_t)at[k] * C * H * W;
        /* luma rounded in double may differ by one level from the runtime's
         * fixed point right at a half; everything else must be exact */
        int slack = C == 1 && png_is_colour(pc->color);     /* palettes too */
        for (int ch = 0; ch < C; ch++) {
            double *plane = png_plane(k, C, ch);
            ref_fit(plane, pc->h, pc->w, H, W, ref);
            for (int i = 0; i < H * W; i++) {
                double p = floor(ref[i] + 0.5), want = lo + (hi - lo) * p / 255.0;
                double got = x[ch * H * W + i], tol = slack ? (hi - lo) / 255.0 + 1e-5 : 1e-5;
                if (fabs(got - want) > tol)
                    fail_msg("%s for %dx%dx%d: channel %d pixel %d is %.6f, expected %.6f "
                             "(reference %.4f)", pc->name, C, H, W, ch, i, got, want, ref[i]);
            }
            free(plane);
        }
    }
    aec_dataset_free(&tr);
    aec_dataset_free(&te);
    free(ref);
}

static void test_png_fit_rgb(void **state UNUSED)
{
    check_png_folder(3, 4, 4, -1.0f, 1.0f);     /* 7x5 -> 4x4: fractional scales; 4x3 skipped */
    check_png_folder(3, 5, 3, 0.0f, 1.0f);      /* H != W: 5x5 squares shrink to 5 x 3 */
    check_png_folder(3, 3, 3, 0.0f, 1.0f);      /* every one, nothing skipped */
}

static void test_png_fit_grey(void **state UNUSED)
{
    check_png_folder(1, 3, 3, 0.0f, 1.0f);
    check_png_folder(1, 7, 7, -1.0f, 1.0f);
}

static void test_png_fit_64(void **state UNUSED)
{
    check_png_folder(3, 64, 64, -1.0f, 1.0f);   /* 89 -> 64 and 178 -> 64; the small skipped */
}

/* aec_image_fit on hand-made cases whose answer is plain arithmetic. */
static void test_fit_by_hand(void **state UNUSED)
{
    /* 2x3 -> crop columns 0..1 (the odd column goes at the right) -> 1x1: the mean */
    const uint8_t a[6] = { 10, 20, 250, 30, 41, 250 };
    uint8_t out[9];
    assert_int_equal(aec_image_fit(a, 2, 3, 1, out, 1, 1), 0);
    assert_int_equal(out[0], 25);                   /* 101 / 4 = 25.25 */
    /* 3x2 -> rows 0..1 (the odd row goes at the bottom) */
    const uint8_t b[6] = { 0, 2, 4, 7, 255, 255 };
    assert_int_equal(aec_image_fit(b, 3, 2, 1, out, 1, 1), 0);
    assert_int_equal(out[0], 3);                    /* 13 / 4 = 3.25 */
    /* halves round up: 1 and 2 average to 1.5 -> 2 */
    const uint8_t c[4] = { 1, 2, 1, 2 };
    assert_int_equal(aec_image_fit(c, 2, 2, 1, out, 1, 1), 0);
    assert_int_equal(out[0], 2);
    /* 3 -> 2: output 0 is pixel 0 plus half of pixel 1, over 1.5 */
    const uint8_t d[9] = { 0, 90, 180, 0, 90, 180, 0, 90, 180 };
    assert_int_equal(aec_image_fit(d, 3, 3, 1, out, 1, 2), 0);
    assert_int_equal(out[0], 30);
    assert_int_equal(out[1], 150);
    /* 2 -> 3 (upscaling): the middle output straddles both pixels equally */
    const uint8_t e[4] = { 0, 100, 0, 100 };
    assert_int_equal(aec_image_fit(e, 2, 2, 1, out, 1, 3), 0);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 50);
    assert_int_equal(out[2], 100);
    /* the same size: unchanged; interleaved RGB in, planar out */
    const uint8_t f[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    const uint8_t want[12] = { 1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12 };
    uint8_t out12[12];
    assert_int_equal(aec_image_fit(f, 2, 2, 3, out12, 2, 2), 0);
    assert_memory_equal(out12, want, 12);
}

/* A JPEG folder (baseline, progressive, grey) through the whole load. */
static void test_jpeg_folder(void **state UNUSED)
{
    const char *dir = make_dir("jpegs");
    const int w = 37, h = 45, H = 16, W = 16;
    uint8_t *rgb = smooth_image(w, h, 3, 0.5), *grey = smooth_image(w, h, 1, 2.0);
    char path[600];
    write_jpeg(in_dir(path, sizeof path, dir, "a_base.jpg"), w, h, 3, rgb, JPEG_BASELINE);
    write_jpeg(in_dir(path, sizeof path, dir, "b_prog.JPEG"), w, h, 3, rgb, JPEG_PROGRESSIVE);
    write_jpeg(in_dir(path, sizeof path, dir, "c_grey.jpg"), w, h, 1, grey, JPEG_BASELINE);
    double *plane = malloc((size_t)w * h * sizeof *plane), ref[H * W], worst = 0;
    aec_model m = model(3, H, W, -1.0f, 1.0f);
    aec_dataset d;
    assert_non_null(plane);
    capture_begin();
    assert_int_equal(aec_dataset_load(dir, "train", &m, 0, &d), 0);
    free(capture_end());
    assert_int_equal(d.n, 3);
    for (int k = 0; k < 3; k++)
        for (int ch = 0; ch < 3; ch++) {
            for (int i = 0; i < w * h; i++)
                plane[i] = k < 2 ? rgb[3 * i + ch] : grey[i];
            ref_fit(plane, h, w, H, W, ref);
            for (int i = 0; i < H * W; i++) {
                double p = (d.x[((size_t)k * 3 + ch) * H * W + i] + 1.0) * 255.0 / 2.0;
                worst = fmax(worst, fabs(p - ref[i]));
            }
        }
    print_message("JPEG folder fitted to 3x16x16: worst error %.2f levels\n", worst);
    assert_true(worst <= 1.5);      /* the rounding to 8 bits, and JPEG's own error */
    aec_dataset_free(&d);
    free(plane), free(rgb), free(grey);
}

/* ---- tests: the folder, the split, limit ----------------------------------------------- */

/* 23 one-colour PNGs (image k has value 10 k + 5) under names that sort as
 * strcmp does, written out of order, among files that are not images. */
static const char *split_folder(void)
{
    static char dir[512];
    static const char *const ext[] = { ".png", ".PNG", ".Png" };
    char path[600], name[64];
    if (dir[0])
        return dir;
    snprintf(dir, sizeof dir, "%s", make_dir("split"));
    for (int i = 0; i < 23; i++) {
        int k = (i * 7) % 23;
        uint16_t v[6];
        for (int p = 0; p < 6; p++)
            v[p] = (uint16_t)(10 * k + 5);
        /* upper case sorts first: A..C, then a..t */
        snprintf(name, sizeof name, "%c%02d%s", k < 3 ? 'A' + k : 'a' + k - 3, k, ext[k % 3]);
        write_png(in_dir(path, sizeof path, dir, name), 3, 2, PNG_COLOR_TYPE_GRAY, 8, 0, v,
                  NULL, 0, NULL, 0);
    }
    write_bytes(in_dir(path, sizeof path, dir, "notes.txt"), "not an image", 12);
    write_bytes(in_dir(path, sizeof path, dir, ".hidden.png"), "not an image", 12);
    write_bytes(in_dir(path, sizeof path, dir, "png"), "not an image", 12);
    assert_int_equal(mkdir(in_dir(path, sizeof path, dir, "folder.png"), 0755), 0);
    return dir;
}

static void check_values(const aec_dataset *d, int first)
{
    for (int i = 0; i < d->n; i++)
        for (int p = 0; p < d->C * d->H * d->W; p++)
            assert_float_equal(d->x[(size_t)i * d->C * d->H * d->W + p],
                               (10.0 * (first + i) + 5) / 255.0, 1e-6);
}

static void test_split_and_limit(void **state UNUSED)
{
    const char *dir = split_folder();
    aec_model m = model(1, 2, 2, 0.0f, 1.0f);
    aec_dataset d;
    capture_begin();
    assert_int_equal(aec_dataset_load(dir, "train", &m, 0, &d), 0);
    free(capture_end());
    assert_int_equal(d.n, 21);                  /* 23 - 23/10 */
    check_values(&d, 0);
    aec_dataset_free(&d);
    assert_int_equal(aec_dataset_load(dir, "test", &m, 0, &d), 0);
    assert_int_equal(d.n, 2);
    check_values(&d, 21);
    aec_dataset_free(&d);
    assert_int_equal(aec_dataset_load(dir, "train", &m, 5, &d), 0);
    assert_int_equal(d.n, 5);
    check_values(&d, 0);
    aec_dataset_free(&d);
    assert_int_equal(aec_dataset_load(dir, "test", &m, 1, &d), 0);
    assert_int_equal(d.n, 1);
    check_values(&d, 21);
    aec_dataset_free(&d);
    assert_int_equal(aec_dataset_load(dir, "test", &m, 1000, &d), 0);
    assert_int_equal(d.n, 2);
    aec_dataset_free(&d);
    assert_int_equal(aec_images_present(dir), 1);
}

/* ---- tests: the cache ----------------------------------------------------------------------- */

static struct timespec mtime_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mtim;
}

static int same_time(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* Load the train split, returning the floats (caller frees) and stderr. */
static float *load_train(const char *dir, const aec_model *m, int *n, char **err)
{
    aec_dataset d;
    capture_begin();
    int rc = aec_dataset_load(dir, "train", m, 0, &d);
    *err = capture_end();
    if (rc != 0)
        fail_msg("load failed: %s", *err);
    *n = d.n;
    return d.x;
}

static void test_cache(void **state UNUSED)
{
    const char *dir = split_folder();
    aec_model m = model(1, 2, 2, 0.0f, 1.0f), m2 = model(1, 2, 1, 0.0f, 1.0f);
    char *err, *path = aec_images_cache_path(dir, 1, 2, 2), touched[600];
    int n, n2;
    assert_non_null(path);
    assert_non_null(strstr(path, tp("cache/split-1x2x2-")));
    float *x1 = load_train(dir, &m, &n, &err);      /* made by test_split_and_limit, or now */
    free(err);
    assert_true(exists(path));
    struct timespec t = mtime_of(path);
    size_t bytes;
    uint8_t *npy = read_bytes(path, &bytes);
    assert_int_equal(bytes, 128 + 23 * 4);         /* all 23 images, both splits */
    const char *hdr = "{'descr': '|u1', 'fortran_order': False, 'shape': (23, 1, 2, 2), }";
    assert_memory_equal(npy + 10, hdr, strlen(hdr));
    free(npy);

    /* read from the cache: no note, the file untouched, the same data */
    float *x2 = load_train(dir, &m, &n2, &err);
    assert_int_equal(n2, n);
    assert_memory_equal(x1, x2, (size_t)n * 4 * sizeof *x1);
    assert_null(strstr(err, "decoding"));
    assert_true(same_time(t, mtime_of(path)));
    free(err), free(x2);

    /* a truncated cache is rebuilt, with a note */
    assert_int_equal(truncate(path, 100), 0);
    x2 = load_train(dir, &m, &n2, &err);
    assert_memory_equal(x1, x2, (size_t)n * 4 * sizeof *x1);
    assert_has(err, "the cache could not be read");
    free(err), free(x2);
    assert_int_equal(mtime_of(path).tv_sec >= t.tv_sec, 1);
    npy = read_bytes(path, &bytes);
    assert_int_equal(bytes, 128 + 23 * 4);
    free(npy);

    /* so is one with a flipped byte (issue 20, item 9: it was used as it
     * was), naming the cache file; its sum is checked on every load */
    npy = read_bytes(path, &bytes);
    npy[128 + 5] ^= 0x10;
    write_bytes(path, npy, bytes);
    free(npy);
    x2 = load_train(dir, &m, &n2, &err);
    assert_memory_equal(x1, x2, (size_t)n * 4 * sizeof *x1);
    assert_has(err, "the cache is damaged (its CRC-32 does not match");
    assert_has(err, path);
    free(err), free(x2);
    x2 = load_train(dir, &m, &n2, &err);
    assert_null(strstr(err, "decoding"));
    free(err), free(x2);

    /* so is one of another shape */
    uint8_t zeros[23 * 6] = { 0 };
    int64_t shape[4] = { 23, 1, 3, 2 };
    assert_int_equal(aec_npy_write_u8(path, zeros, 4, shape), 0);
    x2 = load_train(dir, &m, &n2, &err);
    assert_memory_equal(x1, x2, (size_t)n * 4 * sizeof *x1);
    assert_has(err, "the cache holds images of another shape");
    free(err), free(x2);

    /* another model shape: another file */
    char *path2 = aec_images_cache_path(dir, 1, 2, 1);
    assert_string_not_equal(path, path2);
    assert_false(exists(path2));
    x2 = load_train(dir, &m2, &n2, &err);
    assert_has(err, "decoding 23 images to 1x2x1, once: there is no cache for them yet");
    assert_true(exists(path2));
    free(err), free(x2), free(path2);

    /* touch one image (its mtime changes): a new name, decoded again */
    in_dir(touched, sizeof touched, dir, "a03.png");
    struct timespec times[2] = { { 1000000000, 5 }, { 1000000000, 5 } };
    assert_int_equal(utimensat(AT_FDCWD, touched, times, 0), 0);
    char *path3 = aec_images_cache_path(dir, 1, 2, 2);
    assert_string_not_equal(path, path3);
    x2 = load_train(dir, &m, &n2, &err);
    assert_has(err, "there is no cache for them yet");
    assert_true(exists(path3));
    assert_memory_equal(x1, x2, (size_t)n * 4 * sizeof *x1);
    free(err), free(x2);
    /* only the nanoseconds */
    times[0].tv_nsec = times[1].tv_nsec = 6;
    assert_int_equal(utimensat(AT_FDCWD, touched, times, 0), 0);
    char *path4 = aec_images_cache_path(dir, 1, 2, 2);
    assert_string_not_equal(path3, path4);

    /* change its size, keeping its mtime: again a new name */
    uint16_t v[12];
    for (int p = 0; p < 12; p++)
        v[p] = 35;      /* the value it had (k = 3), at 6x2 */
    write_png(touched, 6, 2, PNG_COLOR_TYPE_GRAY, 8, 0, v, NULL, 0, NULL, 0);
    assert_int_equal(utimensat(AT_FDCWD, touched, times, 0), 0);
    char *path5 = aec_images_cache_path(dir, 1, 2, 2);
    assert_string_not_equal(path4, path5);
    assert_false(exists(path5));
    x2 = load_train(dir, &m, &n2, &err);
    assert_true(exists(path5));
    assert_memory_equal(x1, x2, (size_t)n * 4 * sizeof *x1);
    free(err), free(x2);
    free(path), free(path3), free(path4), free(path5), free(x1);
}

/* The data folder may be read-only: nothing is written into it. */
static void test_cache_read_only_folder(void **state UNUSED)
{
    const char *dir = split_folder();
    aec_model m = model(3, 2, 2, -1.0f, 1.0f);
    int before = count_entries(dir), n;
    char *err, *path = aec_images_cache_path(dir, 3, 2, 2);
    assert_int_equal(chmod(dir, 0555), 0);
    float *x = load_train(dir, &m, &n, &err);
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(n, 21);
    assert_int_equal(count_entries(dir), before);
    assert_true(exists(path));
    free(x), free(err), free(path);
}

/* An unusable cache folder costs only the cache. */
static void test_cache_unwritable(void **state UNUSED)
{
    const char *dir = split_folder();
    aec_model m = model(1, 2, 2, 0.0f, 1.0f);
    char *err;
    int n;
    write_bytes(tp("a_file"), "x", 1);
    setenv("AEC_CACHE_DIR", tp("a_file/cache"), 1);
    float *x = load_train(dir, &m, &n, &err);
    setenv("AEC_CACHE_DIR", tp("cache"), 1);
    assert_int_equal(n, 21);
    check_values(&(aec_dataset){ .n = n, .C = 1, .H = 2, .W = 2, .x = x }, 0);
    assert_has(err, "a_file/cache: cannot create the cache folder");
    assert_has(err, "there is no cache folder");
    free(x), free(err);
}

/* A cache folder that cannot be made on a read-only file system said "No
 * such file or directory" (stat's errno, not mkdir's): now mkdir's reason. */
static void test_cache_read_only_file_system(void **state UNUSED)
{
    const char *dir = split_folder();
    aec_model m = model(1, 2, 2, 0.0f, 1.0f);
    char ro[512], *err;
    int n;
    snprintf(ro, sizeof ro, "%s", tp("ro_fs"));
    if (mount_tmpfs(ro, 64, 1) != 0) {
        print_message("skipped: cannot mount a read-only tmpfs here (it needs root)\n");
        skip();
    }
    setenv("AEC_CACHE_DIR", tp("ro_fs/cache"), 1);
    aec_dataset d;
    capture_begin();
    int rc = aec_dataset_load(dir, "train", &m, 0, &d);
    err = capture_end();
    setenv("AEC_CACHE_DIR", tp("cache"), 1);
    shell("umount '%s'", ro);
    assert_int_equal(rc, 0);
    n = d.n;
    aec_dataset_free(&d);
    assert_int_equal(n, 21);
    assert_has(err, "ro_fs/cache: cannot create the cache folder: Read-only file system");
    free(err);
}

static void test_cache_folder_choice(void **state UNUSED)
{
    char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL, *dir;
    char want[600];
    unsetenv("AEC_CACHE_DIR");
    setenv("XDG_CACHE_HOME", tp("xdg/deep"), 1);
    assert_non_null(dir = aec_images_cache_dir());
    assert_string_equal(dir, in_dir(want, sizeof want, tp("xdg/deep"), "aec"));
    assert_true(exists(dir));
    free(dir);
    setenv("AEC_CACHE_DIR", "", 1);             /* empty is unset */
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", tp("home"), 1);
    assert_non_null(dir = aec_images_cache_dir());
    assert_string_equal(dir, in_dir(want, sizeof want, tp("home"), ".cache/aec"));
    assert_true(exists(dir));
    free(dir);
    unsetenv("HOME");
    capture_begin();
    assert_null(aec_images_cache_dir());
    char *err = capture_end();
    assert_has(err, "none of AEC_CACHE_DIR, XDG_CACHE_HOME and HOME is set");
    free(err);
    if (home)
        setenv("HOME", home, 1);
    free(home);
    setenv("AEC_CACHE_DIR", tp("cache"), 1);
    assert_string_equal((dir = aec_images_cache_dir()), tp("cache"));
    free(dir);
}

static void test_npy_u8(void **state UNUSED)
{
    uint8_t data[24], *back;
    int64_t shape[4] = { 2, 3, 2, 2 }, s[4];
    int ndim;
    float *f;
    for (int i = 0; i < 24; i++)
        data[i] = (uint8_t)(i * 11);
    assert_int_equal(aec_npy_write_u8(tp("u8.npy"), data, 4, shape), 0);
    assert_int_equal(aec_npy_read_u8(tp("u8.npy"), &back, &ndim, s), 0);
    assert_int_equal(ndim, 4);
    assert_memory_equal(s, shape, sizeof shape);
    assert_memory_equal(back, data, 24);
    free(back);
    capture_begin();
    assert_int_equal(aec_npy_read_f32(tp("u8.npy"), &f, &ndim, s), -1);
    assert_int_equal(aec_npy_write_f32(tp("f32.npy"), (float[2]){ 1, 2 }, 1, (int64_t[1]){ 2 }), 0);
    assert_int_equal(aec_npy_read_u8(tp("f32.npy"), &back, &ndim, s), -1);
    char *err = capture_end();
    assert_null(f);
    assert_null(back);
    assert_has(err, "dtype '|u1' is not supported; aec reads float32 ('<f4') only");
    assert_has(err, "dtype '<f4' is not supported; expected uint8 ('|u1')");
    free(err);
}

/* ---- tests: failures ------------------------------------------------------------------------ */

/* DIR with one good PNG and a bad file NAME of the given bytes: the load fails
 * naming the file (and saying want), and caches nothing. */
static void check_bad_file(const char *sub, const char *name, const void *bytes, size_t n,
                           const char *want)
{
    const char *dir = make_dir(sub);
    char path[600], msg[800];
    uint16_t v[4] = { 1, 2, 3, 4 };
    aec_model m = model(3, 2, 2, -1.0f, 1.0f);
    aec_dataset d;
    write_png(in_dir(path, sizeof path, dir, "a_good.png"), 2, 2, PNG_COLOR_TYPE_GRAY, 8, 0, v,
              NULL, 0, NULL, 0);
    write_bytes(in_dir(path, sizeof path, dir, name), bytes, n);
    int cached = count_entries(tp("cache"));
    capture_begin();
    assert_int_equal(aec_dataset_load(dir, "train", &m, 0, &d), -1);
    char *err = capture_end();
    assert_null(d.x);
    assert_int_equal(d.n, 0);
    snprintf(msg, sizeof msg, "aec: %s/%s: %s\n", dir, name, want);
    assert_has(err, msg);
    assert_int_equal(count_entries(tp("cache")), cached);
    free(err);

    /* skipped: a warning, a count, and the good image as it is */
    capture_begin();
    assert_int_equal(aec_dataset_load_skip(dir, "train", &m, 0, 1, &d), 0);
    err = capture_end();
    snprintf(msg, sizeof msg, "aec: %s/%s: %s; skipped\n", dir, name, want);
    assert_has(err, msg);
    snprintf(msg, sizeof msg, "aec: %s: train split: 1 image, 1 skipped (see the warnings "
             "above)\n", dir);
    assert_has(err, msg);
    assert_int_equal(d.n, 1);
    for (int i = 0; i < 12; i++)
        assert_float_equal(d.x[i], -1.0 + 2.0 * v[i % 4] / 255.0, 1e-6);
    aec_dataset_free(&d);
    free(err);
}

/* A copy of a PNG with chunk `type` changed by edit (which may shorten it)
 * and its CRC made right again: only the content is wrong. */
typedef void png_edit(uint8_t *data, uint32_t *len);

static uint8_t *png_with(const uint8_t *png, size_t n, const char *type, png_edit *edit,
                         size_t *out_n)
{
    uint8_t *out = malloc(n), *o = out;
    assert_non_null(out);
    memcpy(o, png, 8);
    o += 8;
    for (size_t at = 8; at + 12 <= n; ) {
        uint32_t len = (uint32_t)png[at] << 24 | png[at + 1] << 16 | png[at + 2] << 8 | png[at + 3];
        const uint8_t *chunk = png + at;
        at += 12 + (size_t)len;
        memcpy(o + 4, chunk + 4, 4 + (size_t)len + 4);
        if (!memcmp(chunk + 4, type, 4)) {
            edit(o + 8, &len);
            uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), o + 4, 4 + len);
            memcpy(o + 8 + len, (uint8_t[4]){ crc >> 24, crc >> 16, crc >> 8, crc }, 4);
        }
        memcpy(o, (uint8_t[4]){ len >> 24, len >> 16, len >> 8, len }, 4);
        o += 12 + (size_t)len;
    }
    *out_n = (size_t)(o - out);
    return out;
}

static void flip_middle(uint8_t *data, uint32_t *len)
{
    data[*len / 2] ^= 0x10;
}

static void halve(uint8_t *data, uint32_t *len)
{
    (void)data;
    *len /= 2;
}

static void test_bad_files(void **state UNUSED)
{
    uint8_t *rgb = smooth_image(40, 30, 3, 0.0), *jpg, *png, *bad;
    size_t nj, np, nb;
    uint16_t v[8 * 8 * 3];
    write_jpeg(tp("ok.jpg"), 40, 30, 3, rgb, JPEG_420);
    jpg = read_bytes(tp("ok.jpg"), &nj);
    for (int i = 0; i < 8 * 8 * 3; i++)
        v[i] = (uint16_t)sample(99, i, 0, 0, 255);
    write_png(tp("ok.png"), 8, 8, PNG_COLOR_TYPE_RGB, 8, 0, v, NULL, 0, NULL, 0);
    png = read_bytes(tp("ok.png"), &np);

    /* JPEGs cut in the coded data, in the header, and just before the end:
     * libjpeg would fill the missing rows with grey, with only a warning */
    check_bad_file("bad_jpeg_cut", "x.jpg", jpg, nj / 2,
                   "cannot decode the JPEG: Premature end of JPEG file");
    check_bad_file("bad_jpeg_cut_header", "x.jpg", jpg, 100,
                   "cannot decode the JPEG: Premature end of JPEG file");
    check_bad_file("bad_jpeg_no_eoi", "x.jpg", jpg, nj - 2,
                   "cannot decode the JPEG: Premature end of JPEG file");
    /* damage in the coded data shows as bytes left over after the scan */
    assert_non_null(bad = malloc(nj));
    memcpy(bad, jpg, nj);
    for (size_t i = nj / 2; i < nj / 2 + 40; i++)
        bad[i] = (uint8_t)sample(7, (int)i, 0, 0, 255);
    check_bad_file("bad_jpeg_noise", "x.jpg", bad, nj,
                   "cannot decode the JPEG: Corrupt JPEG data: 84 extraneous bytes before "
                   "marker 0xd9");
    free(bad);
    for (size_t i = 2; i + 1 < nj; i++)
        if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) {  /* SOF0 becomes SOF3, lossless */
            jpg[i + 1] = 0xC3;
            break;
        }
    check_bad_file("bad_jpeg_sof", "y.JPG", jpg, nj,
                   "cannot decode the JPEG: Unsupported JPEG process: SOF type 0xc3");
    check_bad_file("bad_jpeg_empty", "z.jpeg", jpg, 2,
                   "neither a JPEG nor a PNG file (by its first bytes)");
    /* a CMYK JPEG (as print workflows write): libjpeg's own words were
     * "Unsupported color conversion request" (issue 20) */
    uint8_t *cmyk = smooth_image(40, 30, 4, 0.0), *cj;
    size_t nc;
    write_jpeg(tp("cmyk.jpg"), 40, 30, 4, cmyk, JPEG_BASELINE);
    cj = read_bytes(tp("cmyk.jpg"), &nc);
    check_bad_file("bad_jpeg_cmyk", "c.jpg", cj, nc,
                   "cannot decode the JPEG: it is a CMYK JPEG, which aec does not read (grey, YCbCr "
                   "and RGB ones only); convert it to RGB");
    free(cmyk), free(cj);

    check_bad_file("bad_png_cut", "x.png", png, np / 2,
                   "cannot decode the PNG: the file is truncated");
    check_bad_file("bad_png_no_iend", "x.png", png, np - 12,
                   "cannot decode the PNG: the file is truncated");
    assert_non_null(bad = malloc(np));
    memcpy(bad, png, np);
    for (size_t i = 12; i + 4 <= np; i++)           /* the data intact, its CRC not */
        if (!memcmp(png + i, "IDAT", 4)) {
            size_t len = (size_t)png[i - 4] << 24 | png[i - 3] << 16 | png[i - 2] << 8 | png[i - 1];
            bad[i + 4 + len + 2] ^= 0x01;
            break;
        }
    check_bad_file("bad_png_crc", "y.png", bad, np, "cannot decode the PNG: IDAT: CRC error");
    free(bad);
    bad = png_with(png, np, "IDAT", flip_middle, &nb);    /* the data damaged, its CRC right */
    check_bad_file("bad_png_deflate", "y.png", bad, nb,
                   "cannot decode the PNG: IDAT: incorrect data check");
    free(bad);
    bad = png_with(png, np, "IDAT", halve, &nb);          /* the zlib stream cut short */
    check_bad_file("bad_png_short_idat", "y.png", bad, nb,
                   "cannot decode the PNG: Not enough image data");
    free(bad);
    check_bad_file("bad_png_text", "x.png", "hello, I am text\n", 17,
                   "neither a JPEG nor a PNG file (by its first bytes)");
    free(rgb), free(jpg), free(png);
}

/* Images smaller than the model's input, in both or one dimension, are
 * refused (the error gives width x height); the input's own size is not. */
static void test_small_images(void **state UNUSED)
{
    static const struct { int w, h; const char *want; } cases[] = {
        { 1, 1, "1x1 pixels, smaller than the model's 2x2 input" },
        { 5, 1, "5x1 pixels, smaller than the model's 2x2 input" },
        { 1, 7, "1x7 pixels, smaller than the model's 2x2 input" },
    };
    uint16_t v[16] = { 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9 };
    char sub[32];
    for (int k = 0; k < 3; k++) {
        size_t n;
        write_png(tp("small.png"), cases[k].w, cases[k].h, PNG_COLOR_TYPE_GRAY, 8, 0, v, NULL, 0,
                  NULL, 0);
        uint8_t *b = read_bytes(tp("small.png"), &n);
        snprintf(sub, sizeof sub, "small_%d", k);
        check_bad_file(sub, "small.png", b, n, cases[k].want);
        free(b);
    }
    /* 2x2 for 2x2, and 2x5 (cropped to 2x2) are fine */
    const char *dir = make_dir("small_ok");
    char path[600];
    aec_model m = model(1, 2, 2, 0.0f, 1.0f);
    aec_dataset d;
    write_png(in_dir(path, sizeof path, dir, "a.png"), 2, 2, PNG_COLOR_TYPE_GRAY, 8, 0, v, NULL,
              0, NULL, 0);
    write_png(in_dir(path, sizeof path, dir, "b.png"), 2, 5, PNG_COLOR_TYPE_GRAY, 8, 0, v, NULL,
              0, NULL, 0);
    capture_begin();
    assert_int_equal(aec_dataset_load(dir, "train", &m, 0, &d), 0);
    free(capture_end());
    assert_int_equal(d.n, 2);
    for (int i = 0; i < 8; i++)
        assert_float_equal(d.x[i], 9.0 / 255.0, 1e-6);
    aec_dataset_free(&d);
}

static void test_bad_folders(void **state UNUSED)
{
    const char *empty = make_dir("empty"), *none = make_dir("no_images");
    char *missing = strdup(tp("missing")), path[600], *err;
    aec_model m = model(3, 2, 2, -1.0f, 1.0f);
    aec_dataset d;
    write_bytes(in_dir(path, sizeof path, none, "readme.txt"), "x", 1);
    capture_begin();
    assert_int_equal(aec_dataset_load(empty, "train", &m, 0, &d), -1);
    assert_null(d.x);
    assert_int_equal(aec_dataset_load(none, "test", &m, 0, &d), -1);
    assert_int_equal(aec_dataset_load(missing, "train", &m, 0, &d), -1);
    assert_int_equal(aec_images_load(empty, "train", &m, 0, 0, &d), -1);
    assert_int_equal(aec_images_load(missing, "train", &m, 0, 1, &d), -1);
    err = capture_end();
    snprintf(path, sizeof path, "%s: neither train-images-idx3-ubyte.gz nor "
             "train-images-idx3-ubyte (IDX files) nor images (*.jpg, *.jpeg, *.png) are there\n",
             empty);
    assert_has(err, path);
    snprintf(path, sizeof path, "%s: neither t10k-images-idx3-ubyte.gz", none);
    assert_has(err, path);
    snprintf(path, sizeof path, "%s: neither train-images-idx3-ubyte.gz", missing);
    assert_has(err, path);
    assert_has(err, "cannot open the folder: No such file or directory");
    snprintf(path, sizeof path, "%s: no images in the folder", empty);
    assert_has(err, path);
    snprintf(path, sizeof path, "%s: cannot open the folder: No such file or directory", missing);
    assert_has(err, path);
    assert_int_equal(aec_images_present(empty), 0);
    assert_int_equal(aec_images_present(missing), -1);
    free(err), free(missing);
}

static void test_bad_requests(void **state UNUSED)
{
    const char *dir = png_folder();
    aec_model m2 = model(2, 4, 4, 0.0f, 1.0f), m = model(1, 4, 4, 0.0f, 1.0f);
    aec_dataset d;
    char *err, *few = strdup(make_dir("few")), path[600];
    uint16_t v[16] = { 0 };
    uint8_t *pix = NULL;
    int h, w;
    for (int k = 0; k < 9; k++) {
        snprintf(path, sizeof path, "%s/%d.png", few, k);
        write_png(path, 4, 4, PNG_COLOR_TYPE_GRAY, 8, 0, v, NULL, 0, NULL, 0);
    }
    capture_begin();
    assert_int_equal(aec_dataset_load(dir, "train", &m2, 0, &d), -1);
    assert_int_equal(aec_dataset_load(dir, "valid", &m, 0, &d), -1);
    assert_int_equal(aec_images_load(dir, "valid", &m, 0, 0, &d), -1);
    assert_int_equal(aec_dataset_load(few, "test", &m, 0, &d), -1);
    assert_int_equal(aec_image_decode(tp("nothing.png"), 3, &pix, &h, &w), -1);
    assert_int_equal(aec_image_decode(tp("nothing.png"), 4, &pix, &h, &w), -1);
    err = capture_end();
    assert_null(pix);
    assert_has(err, "images become 1 (grey) or 3 (RGB) channels, but the model's input is 2x4x4");
    assert_has(err, "unknown split 'valid'");
    snprintf(path, sizeof path, "%s: 9 images are too few for a test split", few);
    assert_has(err, path);
    assert_has(err, "nothing.png: cannot open: No such file or directory");
    assert_has(err, "nothing.png: cannot decode to 4 channels");
    /* 9 images have a train split of all 9 */
    capture_begin();
    assert_int_equal(aec_dataset_load(few, "train", &m, 0, &d), 0);
    free(capture_end());
    assert_int_equal(d.n, 9);
    aec_dataset_free(&d);
    free(err), free(few);
}

/* ---- tests: skipping bad images (skip_bad, the command line's --skip-bad) ------------------ */

/* The bad files of skip_folder, in the order of their names, and why. */
static const char *const SKIP_WHY[4][2] = {
    { "img03b.jpg", "cannot decode the JPEG: Premature end of JPEG file" },
    { "img07b.png", "1x1 pixels, smaller than the model's 2x2 input" },
    { "img11b.jpg", "neither a JPEG nor a PNG file (by its first bytes)" },
    { "img19b.png", "cannot decode the PNG: the file is truncated" },
};

/* 20 one-colour 3x2 PNGs img00.png .. img19.png (image k is 10 k + 5, so
 * check_values applies) and the four bad files of SKIP_WHY, made from good
 * ones. Sorted, the bad ones are files 4, 9, 14 and 23 of 24; the test split
 * is the last two, img19.png and img19b.png. The path is malloc'd. */
static char *skip_folder(const char *sub)
{
    char *dir = strdup(make_dir(sub)), path[600], name[32];
    uint8_t *rgb = smooth_image(40, 30, 3, 0.0), *b;
    uint16_t v[6];
    size_t n;
    for (int k = 0; k < 20; k++) {
        for (int p = 0; p < 6; p++)
            v[p] = (uint16_t)(10 * k + 5);
        snprintf(name, sizeof name, "img%02d.png", k);
        write_png(in_dir(path, sizeof path, dir, name), 3, 2, PNG_COLOR_TYPE_GRAY, 8, 0, v,
                  NULL, 0, NULL, 0);
    }
    write_jpeg(tp("skip.jpg"), 40, 30, 3, rgb, JPEG_BASELINE);
    b = read_bytes(tp("skip.jpg"), &n);
    write_bytes(in_dir(path, sizeof path, dir, "img03b.jpg"), b, n / 2);
    free(b);
    write_png(in_dir(path, sizeof path, dir, "img07b.png"), 1, 1, PNG_COLOR_TYPE_GRAY, 8, 0, v,
              NULL, 0, NULL, 0);
    write_bytes(in_dir(path, sizeof path, dir, "img11b.jpg"), "not a JPEG\n", 11);
    b = read_bytes(in_dir(path, sizeof path, dir, "img19.png"), &n);
    write_bytes(in_dir(path, sizeof path, dir, "img19b.png"), b, n - 20);   /* into IDAT */
    free(b), free(rgb);
    return dir;
}

static int load_split(const char *dir, const char *split, int limit, int skip, aec_dataset *d,
                      char **err)
{
    aec_model m = model(1, 2, 2, 0.0f, 1.0f);
    capture_begin();
    int rc = aec_dataset_load_skip(dir, split, &m, limit, skip, d);
    *err = capture_end();
    return rc;
}

/* err ends with a warning for each of SKIP_WHY[from, to), in order, and then
 * the summary line. */
static void expect_skips(const char *err, const char *dir, int from, int to, const char *summary)
{
    char want[4096];
    int k = 0;
    for (int i = from; i < to; i++)
        k += snprintf(want + k, sizeof want - (size_t)k, "aec: %s/%s: %s; skipped\n", dir,
                      SKIP_WHY[i][0], SKIP_WHY[i][1]);
    snprintf(want + k, sizeof want - (size_t)k, "aec: %s: %s (see the warnings above)\n", dir,
             summary);
    size_t a = strlen(err), b = strlen(want);
    if (a < b || strcmp(err + a - b, want) != 0)
        fail_msg("expected stderr to end with:\n%s\nbut it is:\n%s", want, err);
}

/* The one file in the cache folder whose name starts with prefix and ends
 * with suffix (malloc'd path). */
static char *cache_file(const char *prefix, const char *suffix)
{
    DIR *d = opendir(tp("cache"));
    struct dirent *e;
    char *found = NULL;
    assert_non_null(d);
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name), k = strlen(suffix);
        if (!strncmp(e->d_name, prefix, strlen(prefix)) && n > k
            && !strcmp(e->d_name + n - k, suffix)) {
            assert_null(found);
            found = strdup(in_dir((char[600]){ 0 }, 600, tp("cache"), e->d_name));
        }
    }
    closedir(d);
    assert_non_null(found);
    return found;
}

static void test_skip_bad(void **state UNUSED)
{
    char *dir = skip_folder("skip"), *err, want[1024], path[600];
    aec_dataset d, again;
    int cached = count_entries(tp("cache"));
    const char *list_text =
        "4\tcannot decode the JPEG: Premature end of JPEG file\n"
        "9\t1x1 pixels, smaller than the model's 2x2 input\n"
        "14\tneither a JPEG nor a PNG file (by its first bytes)\n"
        "23\tcannot decode the PNG: the file is truncated\n";

    /* without skip_bad: the first bad file by name stops it, and nothing is cached */
    assert_int_equal(load_split(dir, "train", 0, 0, &d, &err), -1);
    snprintf(want, sizeof want, "aec: %s/%s: %s\n", dir, SKIP_WHY[0][0], SKIP_WHY[0][1]);
    assert_has(err, want);
    assert_null(d.x);
    assert_int_equal(count_entries(tp("cache")), cached);
    free(err);

    /* train: 19 of its 22 files, a warning for each of the other 3, in order */
    assert_int_equal(load_split(dir, "train", 0, 1, &d, &err), 0);
    assert_has(err, "decoding 24 images to 1x2x2, once: there is no cache for them yet");
    assert_has(err, "aec: decoded 20 images in ");             /* of 24 files ... */
    assert_has(err, " s; 4 bad files skipped\n");              /* ... 4 of them bad, in both splits */
    expect_skips(err, dir, 0, 3, "train split: 19 images, 3 skipped");
    assert_null(strstr(err, "img19b.png"));     /* the test split's, told with it */
    assert_int_equal(d.n, 19);
    assert_int_equal(d.skipped, 3);
    check_values(&d, 0);                        /* the good images as they are, in order */
    free(err);

    /* test: img19.png; img19b.png skipped; now from the cache */
    assert_int_equal(load_split(dir, "test", 0, 1, &again, &err), 0);
    assert_null(strstr(err, "decoding"));
    expect_skips(err, dir, 3, 4, "test split: 1 image, 1 skipped");
    assert_int_equal(again.n, 1);
    assert_int_equal(again.skipped, 1);
    check_values(&again, 19);
    aec_dataset_free(&again);
    free(err);

    /* the cache: not the plain file (a folder whose images all load), but one
     * under another name, with zeros for the skipped, its CRC-32 and the list of them */
    char *plain = aec_images_cache_path(dir, 1, 2, 2);
    char *npy = cache_file("skip-1x2x2-", ".npy"), *list = cache_file("skip-1x2x2-", ".skipped");
    assert_false(exists(plain));
    assert_int_equal(count_entries(tp("cache")), cached + 3);
    assert_string_not_equal(npy, plain);
    size_t n;
    char *text = (char *)read_bytes(list, &n);
    text[n] = '\0';
    assert_string_equal(text, list_text);
    free(text);
    uint8_t *u8 = read_bytes(npy, &n);
    assert_int_equal(n, 128 + 24 * 4);
    for (int k = 0; k < 24; k++)
        for (int p = 0; p < 4; p++)
            assert_int_equal(u8[128 + 4 * k + p], k == 4 || k == 9 || k == 14 || k == 23 ? 0
                             : 10 * (k - (k > 4) - (k > 9) - (k > 14)) + 5);
    free(u8);

    /* read again from the cache: the same images, the same warnings */
    assert_int_equal(load_split(dir, "train", 0, 1, &again, &err), 0);
    assert_null(strstr(err, "decoding"));
    expect_skips(err, dir, 0, 3, "train split: 19 images, 3 skipped");
    assert_int_equal(again.n, d.n);
    assert_memory_equal(again.x, d.x, (size_t)d.n * 4 * sizeof *d.x);
    aec_dataset_free(&again);
    free(err);

    /* a later load without skip_bad still refuses: that cache is not for it */
    assert_int_equal(load_split(dir, "train", 0, 0, &again, &err), -1);
    assert_has(err, "decoding 24 images to 1x2x2, once: there is no cache for them yet");
    snprintf(want, sizeof want, "aec: %s/%s: %s\n", dir, SKIP_WHY[0][0], SKIP_WHY[0][1]);
    assert_has(err, want);
    free(err);

    /* a list that does not make sense is not trusted: decoded again, rewritten */
    write_bytes(list, "4\tx\n3\ty\n", 8);
    assert_int_equal(load_split(dir, "train", 0, 1, &again, &err), 0);
    assert_has(err, "decoding 24 images");
    assert_memory_equal(again.x, d.x, (size_t)d.n * 4 * sizeof *d.x);
    aec_dataset_free(&again);
    free(err);
    text = (char *)read_bytes(list, &n);
    text[n] = '\0';
    assert_string_equal(text, list_text);
    free(text);
    remove(npy);                                /* and without its images: the same */
    assert_int_equal(load_split(dir, "train", 0, 1, &again, &err), 0);
    assert_has(err, "decoding 24 images");
    assert_true(exists(npy));
    aec_dataset_free(&again);
    free(err);

    /* limit counts the images kept; the skipped are told up to the last one */
    assert_int_equal(load_split(dir, "train", 4, 1, &again, &err), 0);
    assert_int_equal(again.n, 4);
    assert_null(strstr(err, "skipped"));
    aec_dataset_free(&again);
    free(err);
    assert_int_equal(load_split(dir, "train", 5, 1, &again, &err), 0);
    assert_int_equal(again.n, 5);
    check_values(&again, 0);
    expect_skips(err, dir, 0, 1, "train split: 5 images, 1 skipped");
    aec_dataset_free(&again);
    free(err);

    /* the bad files gone: a folder like any other, with the plain cache */
    for (int i = 0; i < 4; i++)
        assert_int_equal(remove(in_dir(path, sizeof path, dir, SKIP_WHY[i][0])), 0);
    free(plain);
    plain = aec_images_cache_path(dir, 1, 2, 2);
    assert_int_equal(load_split(dir, "train", 0, 1, &again, &err), 0);
    assert_null(strstr(err, "skipped"));
    assert_int_equal(again.n, 18);
    check_values(&again, 0);
    assert_true(exists(plain));
    aec_dataset_free(&again);
    free(err);
    aec_dataset_free(&d);
    free(plain), free(npy), free(list), free(dir);
}

/* Nothing left: an error, after the warnings. */
static void test_skip_all_bad(void **state UNUSED)
{
    const char *dir = make_dir("all_bad");
    char path[600], name[8], want[800], *err;
    aec_dataset d;
    for (int k = 0; k < 3; k++) {
        snprintf(name, sizeof name, "%c.jpg", 'a' + k);
        write_bytes(in_dir(path, sizeof path, dir, name), "text", 4);
    }
    assert_int_equal(load_split(dir, "train", 0, 0, &d, &err), -1);
    snprintf(want, sizeof want, "aec: %s/a.jpg: neither a JPEG nor a PNG file (by its first "
             "bytes)\n", dir);
    assert_has(err, want);
    free(err);
    assert_int_equal(load_split(dir, "train", 0, 1, &d, &err), -1);
    assert_null(d.x);
    snprintf(want, sizeof want, "aec: %s/c.jpg: neither a JPEG nor a PNG file (by its first "
             "bytes); skipped\naec: %s: the train split has no images left: 3 skipped (see the "
             "warnings above)\n", dir, dir);
    assert_has(err, want);
    free(err);
}

/* Counts in the summary have their thousands set apart. */
static void test_skip_count(void **state UNUSED)
{
    const char *dir = make_dir("many");
    char path[600], name[32], want[800], *err;
    uint16_t v[1] = { 77 };
    aec_model m = model(1, 1, 1, 0.0f, 1.0f);
    aec_dataset d;
    for (int k = 0; k < 1111; k++) {             /* 1,113 files: 1,002 train, 111 test */
        snprintf(name, sizeof name, "p%04d.png", k);
        write_png(in_dir(path, sizeof path, dir, name), 1, 1, PNG_COLOR_TYPE_GRAY, 8, 0, v,
                  NULL, 0, NULL, 0);
    }
    write_bytes(in_dir(path, sizeof path, dir, "p0000b.png"), "x", 1);
    write_bytes(in_dir(path, sizeof path, dir, "p0001b.png"), "x", 1);
    capture_begin();
    assert_int_equal(aec_dataset_load_skip(dir, "train", &m, 0, 1, &d), 0);
    err = capture_end();
    assert_int_equal(d.n, 1000);
    snprintf(want, sizeof want, "aec: %s: train split: 1,000 images, 2 skipped (see the "
             "warnings above)\n", dir);
    assert_has(err, want);
    aec_dataset_free(&d);
    free(err);
}

/* --skip-bad on the command line reaches the loader; a command without data refuses it. */
static void test_skip_bad_cli(void **state UNUSED)
{
    char *dir = skip_folder("skip_cli"), *err;
    aec_model m = model(1, 2, 2, 0.0f, 1.0f);
    const char *weights = tp("none.safetensors");
    char *skip[] = { "images", "eval", "--data", dir, "--weights", (char *)weights, "--split",
                     "test", "--skip-bad" };
    capture_begin();
    assert_int_equal(aec_main(9, skip, &m), 1);             /* then it has no weights */
    err = capture_end();
    assert_has(err, "decoding 24 images");
    assert_has(err, "test split: 1 image, 1 skipped (see the warnings above)\n");
    assert_has(err, "none.safetensors: cannot read: No such file or directory");
    free(err);
    capture_begin();
    assert_int_equal(aec_main(8, skip, &m), 1);             /* the same without --skip-bad */
    err = capture_end();
    assert_has(err, "img03b.jpg: cannot decode the JPEG: Premature end of JPEG file\n");
    assert_null(strstr(err, "skipped"));
    assert_null(strstr(err, "none.safetensors"));
    free(err);
    char *decode[] = { "images", "decode", "--weights", (char *)weights, "--latents", "z.npy",
                       "--out", "x.png", "--skip-bad" };
    capture_begin();
    assert_int_equal(aec_main(9, decode, &m), 2);
    err = capture_end();
    assert_has(err, "decode: --skip-bad is not an option of decode");
    free(err), free(dir);
}

/* A run with --skip-bad says on its page how many bad files each split left out. */
static void test_skip_bad_report(void **state UNUSED)
{
    char *dir = strdup(make_dir("skip_report")), *out = strdup(make_dir("skip_report_run")), path[600], name[32];
    uint16_t v[64];
    for (int k = 0; k < 30; k++) {
        for (int p = 0; p < 64; p++)
            v[p] = (uint16_t)((k * 37 + p * 11) % 256);
        snprintf(name, sizeof name, "img%02d.png", k);
        write_png(in_dir(path, sizeof path, dir, name), 8, 8, PNG_COLOR_TYPE_GRAY, 8, 0, v, NULL, 0, NULL, 0);
    }
    write_bytes(in_dir(path, sizeof path, dir, "img05b.png"), "not a PNG\n", 10);   /* in the training split */
    char *argv[] = { "tiny_vae", "train", "--data", dir, "--out", out, "--epochs", "1", "--skip-bad" };
    capture_begin();
    int rc = aec_main(9, argv, &tiny_vae_model);
    char *err = capture_end();
    assert_int_equal(rc, 0);
    assert_has(err, "decoded 30 images in ");
    assert_has(err, " s; 1 bad file skipped\n");
    assert_has(err, "train split: 27 images, 1 skipped (see the warnings above)\n");
    free(err);
    char *html = slurp(in_dir(path, sizeof path, out, "report.html"), NULL);
    assert_non_null(html);
    assert_has(html, "<tr><th>images</th><td>3 validation, 27 training (1 bad file left out)</td></tr>");
    free(html), free(dir), free(out);
}

/* ---- the real data: CelebA ----------------------------------------------------------------- */

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_celeba(void **state UNUSED)
{
    aec_model m = model(3, 64, 64, -1.0f, 1.0f);
    aec_dataset d, d2, tr;
    const size_t per = 3 * 64 * 64;
    if (access(CELEBA, R_OK) != 0) {
        print_message("skipped: the CelebA sample %s is absent: %s\n", CELEBA, strerror(errno));
        skip();
    }
    setenv("AEC_CACHE_DIR", tp("celeba-cache"), 1);
    double t0 = seconds();
    assert_int_equal(aec_dataset_load(CELEBA, "test", &m, 0, &d), 0);
    double t1 = seconds();
    assert_int_equal(aec_dataset_load(CELEBA, "test", &m, 0, &d2), 0);
    double t2 = seconds();
    setenv("AEC_CACHE_DIR", tp("cache"), 1);
    assert_int_equal(d.n, 1000);
    assert_true(d.C == 3 && d.H == 64 && d.W == 64);
    assert_memory_equal(d.x, d2.x, d.n * per * sizeof *d.x);
    double sum = 0, sq = 0;
    for (size_t i = 0; i < d.n * per; i++) {
        assert_true(d.x[i] >= -1.0f && d.x[i] <= 1.0f);
        sum += d.x[i];
        sq += (double)d.x[i] * d.x[i];
    }
    double mean = sum / (d.n * per), sd = sqrt(sq / (d.n * per) - mean * mean);
    print_message("celeba-10k, test split at 3x64x64 in [-1, 1]: %d images, mean %.3f, sd %.3f\n"
                  "  first load (decoding all 10,000 JPEGs) %.2f s, second (from the cache) %.3f s\n",
                  d.n, mean, sd, t1 - t0, t2 - t1);
    assert_true(mean > -0.6 && mean < 0.4);
    assert_true(sd > 0.2 && sd < 0.8);
    assert_true(t2 - t1 < t1 - t0);

    /* the test split starts at 009001.jpg; the train split at 000001.jpg */
    setenv("AEC_CACHE_DIR", tp("celeba-cache"), 1);
    assert_int_equal(aec_dataset_load(CELEBA, "train", &m, 2, &tr), 0);
    setenv("AEC_CACHE_DIR", tp("cache"), 1);
    assert_int_equal(tr.n, 2);
    const char *names[2] = { CELEBA "/009001.jpg", CELEBA "/000001.jpg" };
    const float *rows[2] = { d.x, tr.x };
    for (int k = 0; k < 2; k++) {
        uint8_t *pix, fit[3 * 64 * 64];
        int h, w;
        assert_int_equal(aec_image_decode(names[k], 3, &pix, &h, &w), 0);
        assert_true(h == 109 && w == 89);
        assert_int_equal(aec_image_fit(pix, h, w, 3, fit, 64, 64), 0);
        for (size_t i = 0; i < per; i++)
            assert_float_equal(rows[k][i], -1.0 + 2.0 * fit[i] / 255.0, 1e-6);
        free(pix);
    }
    aec_dataset_free(&d);
    aec_dataset_free(&d2);
    aec_dataset_free(&tr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_decode_exact),
        cmocka_unit_test(test_jpeg_decode),
        cmocka_unit_test(test_fit_by_hand),
        cmocka_unit_test(test_png_fit_rgb),
        cmocka_unit_test(test_png_fit_grey),
        cmocka_unit_test(test_png_fit_64),
        cmocka_unit_test(test_jpeg_folder),
        cmocka_unit_test(test_split_and_limit),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_cache_read_only_folder),
        cmocka_unit_test(test_cache_unwritable),
        cmocka_unit_test(test_cache_read_only_file_system),
        cmocka_unit_test(test_cache_folder_choice),
        cmocka_unit_test(test_npy_u8),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_small_images),
        cmocka_unit_test(test_bad_folders),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_skip_bad),
        cmocka_unit_test(test_skip_all_bad),
        cmocka_unit_test(test_skip_count),
        cmocka_unit_test(test_skip_bad_cli),
        cmocka_unit_test(test_skip_bad_report),
        cmocka_unit_test(test_celeba),
    };
    if (getenv("AEC_TEST_SKIP"))
        cmocka_set_skip_filter(getenv("AEC_TEST_SKIP"));
    return cmocka_run_group_tests(tests, setup, tmpdir_teardown);
}
