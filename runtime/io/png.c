/* png.c: a grid of images as one PNG, for looking at inputs and
 * reconstructions side by side.
 *
 * Like torchvision's make_grid: tiles laid out cols per row (fewer if there
 * are fewer images), a PNG_GAP-pixel gap around and between them in mid-grey,
 * which stays visible on both black and white backgrounds. */
#include "aec.h"
#include "io/files.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>

#define PNG_GAP 2
#define PNG_GAP_GREY 128
#define PNG_MAX_SIDE 1000000    /* libpng's default limit on width and height */

/* [lo, hi] -> 0..255, rounded, clamped; NaN becomes 0 rather than undefined. */
static uint8_t png_level(float v, float lo, float hi)
{
    float x = (v - lo) / (hi - lo) * 255.0f;
    if (!(x > 0.0f))
        return 0;
    if (x >= 255.0f)
        return 255;
    return (uint8_t)(x + 0.5f);
}

/* Image i (CHW floats) into its tile of the interleaved pixel buffer. */
static void png_put_tile(uint8_t *px, int width, const float *img, int i, int cols,
                         int C, int H, int W, float lo, float hi)
{
    int y0 = PNG_GAP + (i / cols) * (H + PNG_GAP);
    int x0 = PNG_GAP + (i % cols) * (W + PNG_GAP);
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                px[((size_t)(y0 + y) * width + x0 + x) * C + c] =
                    png_level(img[((size_t)c * H + y) * W + x], lo, hi);
}

/* libpng calls this on any error; it must not return, so it jumps back to
 * the setjmp in png_encode. The error pointer is the file's path. */
static void png_on_error(png_structp png, png_const_charp msg)
{
    aec_error("%s: libpng: %s", (const char *)png_get_error_ptr(png), msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    aec_error("%s: libpng warning: %s", (const char *)png_get_error_ptr(png), msg);
}

/* Encode height rows of width pixels of C channels into fp. Only png and
 * info live across the setjmp, and they are not modified after it, so they
 * keep their values when libpng jumps back. */
static int png_encode(FILE *fp, const char *path, const uint8_t *px,
                      int width, int height, int C)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, (png_voidp)path,
                                              png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        aec_error("%s: out of memory", path);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 C == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++)
        png_write_row(png, px + (size_t)y * width * C);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

static const char *png_bad_args(const float *images, int n, int cols, int C, int H, int W,
                                float lo, float hi)
{
    if (!images || n < 1 || cols < 1)
        return "no images";
    if (C != 1 && C != 3)
        return "only 1 (grey) or 3 (RGB) channels can be written";
    if (H < 1 || W < 1)
        return "bad image size";
    int64_t tiles = cols < n ? cols : n, rows = (n + tiles - 1) / tiles;
    if (tiles * ((int64_t)W + PNG_GAP) + PNG_GAP > PNG_MAX_SIDE
        || rows * ((int64_t)H + PNG_GAP) + PNG_GAP > PNG_MAX_SIDE)
        return "the grid would be too large for a PNG";
    if (!(hi > lo))
        return "empty value range";
    return NULL;
}

/* The whole grid as interleaved 8-bit pixels, cols tiles per row. */
static uint8_t *png_render(const float *images, int n, int cols, int width, int height,
                           int C, int H, int W, float lo, float hi)
{
    size_t bytes = (size_t)width * height * C;
    uint8_t *px = malloc(bytes);
    if (!px)
        return NULL;
    memset(px, PNG_GAP_GREY, bytes);
    for (int i = 0; i < n; i++)
        png_put_tile(px, width, images + (size_t)i * C * H * W, i, cols, C, H, W, lo, hi);
    return px;
}

int aec_png_write_grid(const char *path, const float *images, int n, int cols,
                       int C, int H, int W, float lo, float hi)
{
    aec_out_file o;
    const char *why = png_bad_args(images, n, cols, C, H, W, lo, hi);
    if (why) {
        aec_error("%s: cannot write a grid of %d images of %dx%dx%d in [%g, %g]: %s",
                  path, n, C, H, W, (double)lo, (double)hi, why);
        return -1;
    }
    cols = cols < n ? cols : n;
    int rows = (n + cols - 1) / cols;
    int width = cols * (W + PNG_GAP) + PNG_GAP, height = rows * (H + PNG_GAP) + PNG_GAP;
    uint8_t *px = png_render(images, n, cols, width, height, C, H, W, lo, hi);
    if (!px) {
        aec_error("%s: out of memory for a %dx%d image", path, width, height);
        return -1;
    }
    int rc = aec_out_open(&o, path);
    if (rc == 0 && png_encode(o.fp, path, px, width, height, C) != 0) {
        aec_out_abort(&o);
        rc = -1;
    } else if (rc == 0) {
        rc = aec_out_commit(&o);
    }
    free(px);
    return rc;
}
