/* decode.c: a JPEG (libjpeg) or PNG (libpng) file, told apart by content,
 * to 8-bit grey or RGB; damaged files fail rather than decode in part. */
#include "aec.h"
#include "data/images.h"
#include "data/img.h"

#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

static int img_alloc(img_image *im, long h, long w, int c)
{
    if (h < 1 || w < 1 || h > IMG_MAX_PIXELS / w)
        return -1;
    im->h = (int)h, im->w = (int)w, im->c = c;
    im->pix = malloc((size_t)h * (size_t)w * (size_t)c);
    return im->pix ? 0 : -1;
}

/* libjpeg reports damaged data it can decode around (a truncated file ends in
 * grey) as warnings; a training set should not hold such images, so those
 * fail too. So do bytes left over after a scan's data ("extraneous bytes
 * before marker"), which is how damage inside the coded data usually shows.
 * Other warnings (an unknown JFIF version, stray bytes between the markers of
 * the header, a bad ICC profile) leave the pixels intact and are ignored. */
typedef struct {
    struct jpeg_error_mgr mgr;  /* first: libjpeg sees only this */
    jmp_buf jump;
    int scanning;               /* the header has been read */
    char msg[JMSG_LENGTH_MAX];
} img_jpeg_err;

static void img_jpeg_fail(j_common_ptr j)
{
    img_jpeg_err *e = (img_jpeg_err *)j->err;
    j->err->format_message(j, e->msg);
    longjmp(e->jump, 1);
}

static void img_jpeg_message(j_common_ptr j, int level)
{
    int code = j->err->msg_code;
    if (level < 0 && (code == JWRN_JPEG_EOF || code == JWRN_HUFF_BAD_CODE
                      || code == JWRN_ARITH_BAD_CODE || code == JWRN_HIT_MARKER
                      || code == JWRN_MUST_RESYNC || code == JWRN_NOT_SEQUENTIAL
                      || (code == JWRN_EXTRANEOUS_DATA && ((img_jpeg_err *)j->err)->scanning)))
        img_jpeg_fail(j);
}

/* Baseline or progressive; libjpeg converts to what we ask: YCbCr to RGB, or
 * to grey by keeping Y (ITU-R 601 luma), and grey to RGB by copying. */
static int img_jpeg(const uint8_t *buf, size_t len, int C, img_image *im, char *why)
{
    struct jpeg_decompress_struct j;
    img_jpeg_err err;
    j.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = img_jpeg_fail;
    err.mgr.emit_message = img_jpeg_message;
    err.scanning = 0;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&j);
        free(im->pix);
        im->pix = NULL;
        snprintf(why, IMG_WHY, "cannot decode the JPEG: %s", err.msg);
        return -1;
    }
    jpeg_create_decompress(&j);
    jpeg_mem_src(&j, buf, (unsigned long)len);
    jpeg_read_header(&j, TRUE);
    err.scanning = 1;
    /* libjpeg would say only "Unsupported color conversion request" */
    if (j.jpeg_color_space == JCS_CMYK || j.jpeg_color_space == JCS_YCCK) {
        snprintf(err.msg, sizeof err.msg, "it is a CMYK JPEG, which aec does not read (grey, "
                 "YCbCr and RGB ones only); convert it to RGB");
        longjmp(err.jump, 1);
    }
    j.out_color_space = C == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_start_decompress(&j);
    if (j.output_components != C
        || img_alloc(im, j.output_height, j.output_width, C) != 0) {
        snprintf(err.msg, sizeof err.msg, "%ux%u pixels of %d channels is too large",
                 j.output_width, j.output_height, j.output_components);
        longjmp(err.jump, 1);
    }
    while (j.output_scanline < j.output_height) {
        JSAMPROW row = im->pix + (size_t)j.output_scanline * im->w * C;
        jpeg_read_scanlines(&j, &row, 1);
    }
    jpeg_finish_decompress(&j);
    jpeg_destroy_decompress(&j);
    return 0;
}

/* libpng reads from memory; a short read is a truncated file. */
typedef struct {
    const uint8_t *p;
    size_t left;
    png_bytep *rows;
    char msg[200];
} img_png_io;

static void img_png_read(png_structp png, png_bytep out, size_t n)
{
    img_png_io *io = png_get_io_ptr(png);
    if (n > io->left)
        png_error(png, "the file is truncated");
    memcpy(out, io->p, n);
    io->p += n;
    io->left -= n;
}

static void img_png_fail(png_structp png, png_const_charp msg)
{
    img_png_io *io = png_get_error_ptr(png);
    snprintf(io->msg, sizeof io->msg, "%s", msg);
    png_longjmp(png, 1);
}

/* Warnings are about ancillary chunks (an sRGB profile, a text chunk) and
 * leave the pixels intact. */
static void img_png_warn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* libpng's transforms give 8-bit grey or RGB: palettes expand to RGB, grey
 * below 8 bits to 8, 16 bits scale to 8 (rounded), and grey becomes RGB when
 * the model wants colour. Alpha (and tRNS transparency) is dropped: the
 * colour stored under a transparent pixel is kept as it is, not composited.
 * Colour for a grey model stays RGB here; img_to_grey converts it. */
static void img_png_body(png_structp png, png_infop info, int C, img_image *im, img_png_io *io)
{
    png_read_info(png, info);
    int color = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16)
        png_set_scale_16(png);
    png_set_strip_alpha(png);
    if (C == 3 && !(color & PNG_COLOR_MASK_COLOR))
        png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    png_uint_32 h = png_get_image_height(png, info), w = png_get_image_width(png, info);
    int c = png_get_channels(png, info);
    if (png_get_bit_depth(png, info) != 8 || (c != 1 && c != 3))
        png_error(png, "an unexpected pixel format after conversion to 8 bits");
    if (img_alloc(im, h, w, c) != 0 || png_get_rowbytes(png, info) != (size_t)w * c)
        png_error(png, "the image is too large");
    if (!(io->rows = malloc(h * sizeof *io->rows)))
        png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++)
        io->rows[y] = im->pix + (size_t)y * w * c;
    png_read_image(png, io->rows);
    png_read_end(png, NULL);
}

static int img_png(const uint8_t *buf, size_t len, int C, img_image *im, char *why)
{
    img_png_io io = { buf, len, NULL, "" };
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &io, img_png_fail,
                                             img_png_warn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(why, IMG_WHY, "out of memory");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(io.rows);
        free(im->pix);
        im->pix = NULL;
        snprintf(why, IMG_WHY, "cannot decode the PNG: %s", io.msg);
        return -1;
    }
    png_set_read_fn(png, &io, img_png_read);
    img_png_body(png, info, C, im, &io);
    png_destroy_read_struct(&png, &info, NULL);
    free(io.rows);
    return 0;
}

/* RGB to grey in place with libjpeg's ITU-R 601 luma, in its fixed point:
 * Y = 0.299 R + 0.587 G + 0.114 B, rounded (the weights sum to 1 exactly). */
static void img_to_grey(img_image *im)
{
    size_t n = (size_t)im->h * im->w;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = im->pix + 3 * i;
        im->pix[i] = (uint8_t)((19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 32768u) >> 16);
    }
    im->c = 1;
}

/* The whole file into *buf; if f is given, it must still have the size and
 * mtime it was listed with (else the cache's name would not match it). */
static int img_read_file(const char *path, const img_file *f, uint8_t **buf, size_t *len,
                         char *why)
{
    struct stat st;
    FILE *fp = fopen(path, "rb");
    *buf = NULL;
    if (!fp || fstat(fileno(fp), &st) != 0) {
        snprintf(why, IMG_WHY, "cannot open: %s", strerror(errno));
        if (fp)
            fclose(fp);
        return -1;
    }
    if (f && (st.st_size != f->size || st.st_mtim.tv_sec != f->sec
              || st.st_mtim.tv_nsec != f->nsec))
        snprintf(why, IMG_WHY, "the file changed while the folder was being read; try again");
    else if (!S_ISREG(st.st_mode))
        snprintf(why, IMG_WHY, "not a regular file");
    else if (!(*buf = malloc((size_t)st.st_size + 1)))
        snprintf(why, IMG_WHY, "out of memory for %lld bytes", (long long)st.st_size);
    else if ((*len = fread(*buf, 1, (size_t)st.st_size, fp)) != (size_t)st.st_size)
        snprintf(why, IMG_WHY, "cannot read: %s", ferror(fp) ? strerror(errno) : "it shrank");
    else {
        fclose(fp);
        return 0;
    }
    free(*buf);
    *buf = NULL;
    fclose(fp);
    return -1;
}

int aec_img_decode(const char *path, const img_file *f, int C, img_image *im, char *why)
{
    uint8_t *buf;
    size_t len;
    int rc;
    memset(im, 0, sizeof *im);
    if (img_read_file(path, f, &buf, &len, why) != 0)
        return IMG_IO;
    if (len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF)
        rc = img_jpeg(buf, len, C, im, why);
    else if (len >= 8 && !png_sig_cmp(buf, 0, 8))
        rc = img_png(buf, len, C, im, why);
    else {
        snprintf(why, IMG_WHY, "neither a JPEG nor a PNG file (by its first bytes)");
        rc = -1;
    }
    free(buf);
    if (rc == 0 && C == 1 && im->c == 3)
        img_to_grey(im);
    return rc;
}

int aec_image_decode(const char *path, int C, uint8_t **pix, int *h, int *w)
{
    char why[IMG_WHY];
    img_image im;
    *pix = NULL;
    if (C != 1 && C != 3) {
        aec_error("%s: cannot decode to %d channels (1 grey or 3 RGB)", path, C);
        return -1;
    }
    if (aec_img_decode(path, NULL, C, &im, why) != 0) {
        aec_error("%s: %s", path, why);
        return -1;
    }
    *pix = im.pix;
    *h = im.h;
    *w = im.w;
    return 0;
}
