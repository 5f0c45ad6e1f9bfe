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
 * 90/10 split, limit, the cache, the failure paths, and the real CelebA
 * sample when it is there (skipped, saying why, when it is not).
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

#include "aec.h"
#include "images.h"
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
    j.in_color_space = comps == 3 ? JCS_RGB : JCS_GRAYSCALE;
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
 * every value against the reference fit of the expected pixels. */
static void check_png_folder(int C, int H, int W, float lo, float hi)
{
    const char *dir = png_folder();
    aec_model m = model(C, H, W, lo, hi);
    aec_dataset tr, te;
    double *ref = malloc((size_t)H * W * sizeof *ref);
    int n_train = N_PNGS - N_PNGS / 10;
    assert_non_null(ref);
    capture_begin();
    assert_int_equal(aec_dataset_load(dir, "train", &m, 0, &tr), 0);
    assert_int_equal(aec_dataset_load(dir, "test", &m, 0, &te), 0);
    free(capture_end());
    assert_int_equal(tr.n, n_train);
    assert_int_equal(te.n, N_PNGS - n_train);
    assert_true(tr.C == C && tr.H == H && tr.W == W && te.C == C && te.H == H && te.W == W);
    assert_null(tr.labels);
    assert_null(te.labels);
    for (int k = 0; k < N_PNGS; k++) {
        const png_case *pc = &PNGS[k];
        const float *x = k < n_train ? tr.x + (size_t)k * C * H * W
                                     : te.x + (size_t)(k - n_train) * C * H * W;
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
    check_png_folder(3, 4, 4, -1.0f, 1.0f);     /* 7x5 -> 4x4: fractional scales */
    check_png_folder(3, 5, 3, 0.0f, 1.0f);      /* H != W; 4x4 crops grow to 5x3 */
}

static void test_png_fit_grey(void **state UNUSED)
{
    check_png_folder(1, 3, 3, 0.0f, 1.0f);
    check_png_folder(1, 7, 7, -1.0f, 1.0f);
}

static void test_png_fit_64(void **state UNUSED)
{
    check_png_folder(3, 64, 64, -1.0f, 1.0f);   /* 89 -> 64 and 178 -> 64 among others */
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
    aec_model m = model(1, 2, 2, 0.0f, 1.0f), m2 = model(1, 3, 2, 0.0f, 1.0f);
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

    /* so is one of another shape */
    uint8_t zeros[23 * 6] = { 0 };
    int64_t shape[4] = { 23, 1, 3, 2 };
    assert_int_equal(aec_npy_write_u8(path, zeros, 4, shape), 0);
    x2 = load_train(dir, &m, &n2, &err);
    assert_memory_equal(x1, x2, (size_t)n * 4 * sizeof *x1);
    assert_has(err, "the cache holds images of another shape");
    free(err), free(x2);

    /* another model shape: another file */
    char *path2 = aec_images_cache_path(dir, 1, 3, 2);
    assert_string_not_equal(path, path2);
    assert_false(exists(path2));
    x2 = load_train(dir, &m2, &n2, &err);
    assert_has(err, "decoding 23 images to 1x3x2, once: there is no cache for them yet");
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
    aec_model m = model(3, 5, 5, -1.0f, 1.0f);
    int before = count_entries(dir), n;
    char *err, *path = aec_images_cache_path(dir, 3, 5, 5);
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
    snprintf(msg, sizeof msg, "%s/%s: %s", dir, name, want);
    assert_has(err, msg);
    assert_int_equal(count_entries(tp("cache")), cached);
    free(err);
}

static void test_bad_files(void **state UNUSED)
{
    uint8_t *rgb = smooth_image(40, 30, 3, 0.0), *jpg, *png;
    size_t nj, np;
    uint16_t v[8 * 8 * 3];
    write_jpeg(tp("ok.jpg"), 40, 30, 3, rgb, JPEG_420);
    jpg = read_bytes(tp("ok.jpg"), &nj);
    for (int i = 0; i < 8 * 8 * 3; i++)
        v[i] = (uint16_t)sample(99, i, 0, 0, 255);
    write_png(tp("ok.png"), 8, 8, PNG_COLOR_TYPE_RGB, 8, 0, v, NULL, 0, NULL, 0);
    png = read_bytes(tp("ok.png"), &np);

    check_bad_file("bad_jpeg_cut", "x.jpg", jpg, nj / 2,
                   "cannot decode the JPEG: Premature end of JPEG file");
    for (size_t i = 2; i + 1 < nj; i++)
        if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) {  /* SOF0 becomes SOF3, lossless */
            jpg[i + 1] = 0xC3;
            break;
        }
    check_bad_file("bad_jpeg_sof", "y.JPG", jpg, nj,
                   "cannot decode the JPEG: Unsupported JPEG process: SOF type 0xc3");
    /* damage in the entropy-coded data may or may not be detected: no crash */
    write_jpeg(tp("ok.jpg"), 40, 30, 3, rgb, JPEG_420);
    free(jpg);
    jpg = read_bytes(tp("ok.jpg"), &nj);
    for (size_t i = nj / 2; i < nj / 2 + 40; i++)
        jpg[i] = (uint8_t)sample(7, (int)i, 0, 0, 255);
    write_bytes(tp("noisy.jpg"), jpg, nj);
    uint8_t *pix = NULL;
    int h, w;
    capture_begin();
    if (aec_image_decode(tp("noisy.jpg"), 3, &pix, &h, &w) == 0)
        assert_true(h == 30 && w == 40);
    free(capture_end());
    free(pix);
    check_bad_file("bad_jpeg_empty", "z.jpeg", jpg, 2, "neither a JPEG nor a PNG file");
    check_bad_file("bad_png_cut", "x.png", png, np / 2,
                   "cannot decode the PNG: the file is truncated");
    png[40] ^= 0x55;                     /* inside IHDR or IDAT: the CRC fails */
    check_bad_file("bad_png_crc", "y.png", png, np, "cannot decode the PNG: ");
    check_bad_file("bad_png_text", "x.png", "hello, I am text\n", 17,
                   "neither a JPEG nor a PNG file");
    free(rgb), free(jpg), free(png);
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
    assert_int_equal(aec_images_load(empty, "train", &m, 0, &d), -1);
    assert_int_equal(aec_images_load(missing, "train", &m, 0, &d), -1);
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
    uint16_t v[4] = { 0 };
    uint8_t *pix = NULL;
    int h, w;
    for (int k = 0; k < 9; k++) {
        snprintf(path, sizeof path, "%s/%d.png", few, k);
        write_png(path, 2, 2, PNG_COLOR_TYPE_GRAY, 8, 0, v, NULL, 0, NULL, 0);
    }
    capture_begin();
    assert_int_equal(aec_dataset_load(dir, "train", &m2, 0, &d), -1);
    assert_int_equal(aec_dataset_load(dir, "valid", &m, 0, &d), -1);
    assert_int_equal(aec_images_load(dir, "valid", &m, 0, &d), -1);
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
        cmocka_unit_test(test_cache_folder_choice),
        cmocka_unit_test(test_npy_u8),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_bad_folders),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_celeba),
    };
    if (getenv("AEC_TEST_SKIP"))
        cmocka_set_skip_filter(getenv("AEC_TEST_SKIP"));
    return cmocka_run_group_tests(tests, setup, tmpdir_teardown);
}
