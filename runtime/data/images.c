/* images.c: a folder of JPEG and PNG images (CelebA's img_align_celeba, say)
 * as a data set.
 *
 * Glossary: n = image files in the folder; h x w = one decoded image, c its
 * channels; s = the side of its centred square; C x H x W = the model's input.
 *
 * Each image is decoded to 8-bit grey or RGB as the model's C asks, cropped to
 * its largest centred square and area-resized to H x W. One that does not
 * decode, or is smaller than H x W (it would have to be enlarged), is a bad
 * image: an error naming it, or with skip_bad a warning, and it is left out.
 *
 * Decoding is the slow part (seconds for 10,000 small JPEGs, minutes for all
 * of CelebA), so the fitted images of the whole folder, both splits, are kept
 * as one uint8 [n, C, H, W] .npy in the cache folder. Its name carries a hash
 * of all they depend on: the folder's real path, every file's name, size and
 * mtime, C, H, W and the method (IMG_METHOD). Change any of these and the
 * name changes, so a stale cache is never read (old ones are left for the
 * user to delete).
 *
 * A decoding that skipped bad images is cached under another name (the hash
 * also takes "skip-bad"), with zeros in their places and, beside it, the list
 * of what was skipped and why (.skipped). Only a skip_bad load looks there,
 * so a load without it never finds a skipped image as a blank: it decodes the
 * folder and stops at the bad image. A skip_bad load of a clean folder reads
 * and writes the plain cache. Caching the skips, rather than decoding again,
 * matters because a train run loads the folder twice (train, then test). */
#define _XOPEN_SOURCE 700    /* realpath */
#include "aec.h"
#include "core/clock.h"
#include "data/images.h"
#include "data/pixels.h"
#include "io/files.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

/* Part of the cache's hash: bump it when decoding or fitting changes. v2
 * refuses images smaller than the input, which v1 enlarged and cached. */
#define IMG_METHOD "aec images v2: centre square, area resampling, ITU-R 601 grey, never enlarged"
#define IMG_MAX_PIXELS (1L << 26)   /* h * w of one image: 8192 x 8192 */
#define IMG_WHY 256                 /* a decoding failure, without the path */

/* ---- the folder ------------------------------------------------------------------ */

typedef struct {
    char *name;
    int64_t size, sec, nsec;    /* st_size, st_mtim */
} img_file;

typedef struct {
    img_file *f;
    int n, cap;
} img_list;

/* *.jpg, *.jpeg, *.png in any case. Hidden files (._000001.jpg, which macOS
 * leaves beside copied files) are not images. */
static int img_is_image(const char *name)
{
    static const char *const ext[] = { ".jpg", ".jpeg", ".png" };
    size_t n = strlen(name);
    if (name[0] == '.')
        return 0;
    for (int k = 0; k < 3; k++) {
        size_t e = strlen(ext[k]);
        if (n > e && !strcasecmp(name + n - e, ext[k]))
            return 1;
    }
    return 0;
}

/* DIR/NAME, malloc'd; NULL after a message. */
static char *img_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) {
        aec_error("%s: out of memory", dir);
        return NULL;
    }
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

int aec_images_present(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    if (!d)
        return -1;
    while (!found && (e = readdir(d)))
        found = img_is_image(e->d_name);
    closedir(d);
    return found;
}

static void img_list_free(img_list *L)
{
    for (int i = 0; i < L->n; i++)
        free(L->f[i].name);
    free(L->f);
    memset(L, 0, sizeof *L);
}

/* Add NAME if it is a regular file (or a link to one). */
static int img_list_add(const char *dir, img_list *L, const char *name)
{
    struct stat st;
    char *path = img_join(dir, name);
    if (!path)
        return -1;
    if (stat(path, &st) != 0) {
        aec_error("%s: cannot stat: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    free(path);
    if (!S_ISREG(st.st_mode))
        return 0;
    if (L->n == L->cap) {
        int cap = !L->cap ? 1024 : L->cap <= INT_MAX / 2 ? L->cap * 2 : 0;
        img_file *f = cap > 0 ? realloc(L->f, (size_t)cap * sizeof *f) : NULL;
        if (!f) {
            aec_error("%s: out of memory for the list of images", dir);
            return -1;
        }
        L->f = f;
        L->cap = cap;
    }
    img_file *f = &L->f[L->n];
    if (!(f->name = strdup(name))) {
        aec_error("%s: out of memory for the list of images", dir);
        return -1;
    }
    f->size = st.st_size;
    f->sec = st.st_mtim.tv_sec;
    f->nsec = st.st_mtim.tv_nsec;
    L->n++;
    return 0;
}

static int img_by_name(const void *a, const void *b)
{
    return strcmp(((const img_file *)a)->name, ((const img_file *)b)->name);
}

/* The folder's images, sorted by name; -1 after a message, also if none. */
static int img_list_read(const char *dir, img_list *L)
{
    struct dirent *e;
    int rc = 0;
    memset(L, 0, sizeof *L);
    DIR *d = opendir(dir);
    if (!d) {
        aec_error("%s: cannot open the folder: %s", dir, strerror(errno));
        return -1;
    }
    for (errno = 0; rc == 0 && (e = readdir(d)); errno = 0)
        if (img_is_image(e->d_name))
            rc = img_list_add(dir, L, e->d_name);
    if (rc == 0 && errno != 0) {
        aec_error("%s: cannot read the folder: %s", dir, strerror(errno));
        rc = -1;
    }
    closedir(d);
    if (rc == 0 && L->n == 0) {
        aec_error("%s: no images in the folder (looked for *.jpg, *.jpeg and *.png files)", dir);
        rc = -1;
    }
    if (rc != 0)
        img_list_free(L);
    else
        qsort(L->f, (size_t)L->n, sizeof *L->f, img_by_name);
    return rc;
}

/* ---- the cache's name ---------------------------------------------------------------- */

/* 64-bit FNV-1a. */
static uint64_t img_fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n--) {
        h ^= *b++;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* A string with its NUL, so that "ab", "c" and "a", "bc" hash apart. */
static uint64_t img_fnv_str(uint64_t h, const char *s)
{
    return img_fnv(h, s, strlen(s) + 1);
}

/* An integer as 8 little-endian bytes, the same on every host. */
static uint64_t img_fnv_int(uint64_t h, int64_t v)
{
    uint8_t b[8];
    for (int k = 0; k < 8; k++)
        b[k] = (uint8_t)((uint64_t)v >> (8 * k));
    return img_fnv(h, b, 8);
}

static uint64_t img_hash(const char *real, const img_list *L, int C, int H, int W, int skip)
{
    uint64_t h = img_fnv_str(0xcbf29ce484222325ULL, IMG_METHOD);
    if (skip)
        h = img_fnv_str(h, "skip-bad");
    h = img_fnv_str(h, real);
    for (int i = 0; i < L->n; i++) {
        h = img_fnv_str(h, L->f[i].name);
        h = img_fnv_int(h, L->f[i].size);
        h = img_fnv_int(h, L->f[i].sec);
        h = img_fnv_int(h, L->f[i].nsec);
    }
    h = img_fnv_int(h, C);
    h = img_fnv_int(h, H);
    return img_fnv_int(h, W);
}

/* mkdir -p PATH. */
static int img_mkdirs(char *path)
{
    struct stat st;
    for (char *p = path + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        int bad = mkdir(path, 0777) != 0 && errno != EEXIST;
        *p = c;
        if (bad || c == '\0')
            break;
    }
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        aec_error("%s: cannot create the cache folder: %s", path,
                  errno ? strerror(errno) : "not a folder");
        return -1;
    }
    return 0;
}

char *aec_images_cache_dir(void)
{
    const char *env = getenv("AEC_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    char *dir;
    if (env && *env)
        dir = strdup(env);
    else if (xdg && *xdg)
        dir = img_join(xdg, "aec");
    else if (home && *home)
        dir = img_join(home, ".cache/aec");
    else {
        aec_error("no cache folder: none of AEC_CACHE_DIR, XDG_CACHE_HOME and HOME is set");
        return NULL;
    }
    if (!dir) {
        aec_error("out of memory");
        return NULL;
    }
    errno = 0;
    if (img_mkdirs(dir) != 0) {
        free(dir);
        return NULL;
    }
    return dir;
}

/* CACHE/BASE-CxHxW-HASH.npy, BASE being the folder's last name, so a user
 * looking in the cache can tell what each file holds; skip: the name for a
 * decoding that skipped bad images. */
static char *img_cache_name(const char *dir, const img_list *L, int C, int H, int W, int skip)
{
    char *real = realpath(dir, NULL), *cache = real ? aec_images_cache_dir() : NULL, *path = NULL;
    if (!real)
        aec_error("%s: cannot resolve the path: %s", dir, strerror(errno));
    if (cache) {
        const char *base = strrchr(real, '/');
        base = base && base[1] ? base + 1 : "images";
        size_t n = strlen(cache) + strlen(base) + 64;
        if ((path = malloc(n)))
            snprintf(path, n, "%s/%s-%dx%dx%d-%016" PRIx64 ".npy", cache, base, C, H, W,
                     img_hash(real, L, C, H, W, skip));
        else
            aec_error("out of memory");
    }
    free(real);
    free(cache);
    return path;
}

char *aec_images_cache_path(const char *dir, int C, int H, int W)
{
    img_list L;
    if (img_list_read(dir, &L) != 0)
        return NULL;
    char *path = img_cache_name(dir, &L, C, H, W, 0);
    img_list_free(&L);
    return path;
}

/* ---- decoding ---------------------------------------------------------------------- */

typedef struct {
    uint8_t *pix;       /* h x w x c */
    int h, w, c;
} img_image;

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

/* Decode by content, not by name: a .png may hold a JPEG. 0; IMG_BAD for a
 * file whose content is no image we can use; IMG_IO when it could not be
 * read (that is no fault of the image, and never skipped). */
enum { IMG_BAD = -1, IMG_IO = -2 };

static int img_decode(const char *path, const img_file *f, int C, img_image *im, char *why)
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
    if (img_decode(path, NULL, C, &im, why) != 0) {
        aec_error("%s: %s", path, why);
        return -1;
    }
    *pix = im.pix;
    *h = im.h;
    *w = im.w;
    return 0;
}

/* ---- fitting: centre square, area resampling -------------------------------------------- */

/* Area resampling along one axis, from s input pixels to n outputs. Output j
 * covers input [j*s/n, (j+1)*s/n); in units of 1/n of an input pixel that is
 * [j*s, (j+1)*s), and input pixel i is [i*n, (i+1)*n), so every overlap is a
 * whole number, and the overlaps under one output sum to s. Output j reads
 * inputs first[j] .. first[j] + count[j] - 1 with weights wt[j*k + t], at most
 * k = s/n + 2 of them. */
typedef struct {
    int *first, *count;
    uint32_t *wt;
    int k;
} img_axis;

static int img_axis_make(img_axis *a, int s, int n)
{
    a->k = s / n + 2;
    a->first = malloc((size_t)n * sizeof *a->first);
    a->count = malloc((size_t)n * sizeof *a->count);
    a->wt = malloc((size_t)n * a->k * sizeof *a->wt);
    if (!a->first || !a->count || !a->wt)
        return -1;
    for (int j = 0; j < n; j++) {
        int64_t lo = (int64_t)j * s, hi = lo + s;
        int i0 = (int)(lo / n), i1 = (int)((hi - 1) / n);
        a->first[j] = i0;
        a->count[j] = i1 - i0 + 1;
        for (int i = i0; i <= i1; i++) {
            int64_t a0 = (int64_t)i * n > lo ? (int64_t)i * n : lo;
            int64_t a1 = (int64_t)(i + 1) * n < hi ? (int64_t)(i + 1) * n : hi;
            a->wt[(size_t)j * a->k + (i - i0)] = (uint32_t)(a1 - a0);
        }
    }
    return 0;
}

static void img_axis_free(img_axis *a)
{
    free(a->first);
    free(a->count);
    free(a->wt);
}

/* Rows first (each of the square's s rows to W sums, at most 255 * s), then
 * columns (H x W sums of at most 255 * s * s): both exact in integers, so the
 * mean, sum / (s * s), is rounded once, half up. */
static int img_fit(const img_image *im, uint8_t *dst, int H, int W)
{
    int C = im->c, s = im->h < im->w ? im->h : im->w;
    int y0 = (im->h - s) / 2, x0 = (im->w - s) / 2;
    img_axis ax = { 0 }, ay = { 0 };
    uint32_t *row = malloc((size_t)s * W * C * sizeof *row);
    int rc = -1;
    if (row && img_axis_make(&ax, s, W) == 0 && img_axis_make(&ay, s, H) == 0) {
        for (int y = 0; y < s; y++) {
            const uint8_t *in = im->pix + ((size_t)(y0 + y) * im->w + x0) * C;
            for (int j = 0; j < W; j++)
                for (int c = 0; c < C; c++) {
                    uint32_t sum = 0;
                    for (int t = 0; t < ax.count[j]; t++)
                        sum += ax.wt[(size_t)j * ax.k + t] * in[(size_t)(ax.first[j] + t) * C + c];
                    row[((size_t)y * W + j) * C + c] = sum;
                }
        }
        uint64_t ss = (uint64_t)s * s;
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++)
                for (int c = 0; c < C; c++) {
                    uint64_t sum = 0;
                    for (int t = 0; t < ay.count[i]; t++)
                        sum += (uint64_t)ay.wt[(size_t)i * ay.k + t]
                             * row[((size_t)(ay.first[i] + t) * W + j) * C + c];
                    dst[((size_t)c * H + i) * W + j] = (uint8_t)((sum + ss / 2) / ss);
                }
        rc = 0;
    }
    free(row);
    img_axis_free(&ax);
    img_axis_free(&ay);
    return rc;
}

int aec_image_fit(const uint8_t *src, int h, int w, int C, uint8_t *dst, int H, int W)
{
    img_image im = { (uint8_t *)src, h, w, C };
    if (img_fit(&im, dst, H, W) == 0)
        return 0;
    aec_error("out of memory to resize a %dx%d image to %dx%d", h, w, H, W);
    return -1;
}

/* ---- progress ---------------------------------------------------------------------------- */

/* On a terminal, one line redrawn at most 10 times a second; elsewhere (a
 * log file) the note before decoding and one line at the end. */
typedef struct {
    int tty, n, drawn;
    double t0, last;
} img_progress;

static img_progress img_progress_start(int n)
{
    img_progress p = { .tty = isatty(STDERR_FILENO), .n = n };
    p.t0 = aec_seconds();
    p.last = p.t0 - 1.0;
    return p;
}

static void img_progress_step(img_progress *p, int done)
{
    double t = aec_seconds();
    if (!p->tty || t - p->last < 0.1)
        return;
    fprintf(stderr, "\raec: decoding %d/%d images\033[K", done, p->n);
    fflush(stderr);
    p->last = t;
    p->drawn = 1;
}

/* Clear the line for a message, or (ok) end it with the time taken and
 * how many of the files were bad, skipped. */
static void img_progress_end(img_progress *p, int ok, int bad)
{
    double secs = aec_seconds() - p->t0;
    if (p->tty && p->drawn)
        fputs("\r\033[K", stderr);
    if (ok && bad)
        fprintf(stderr, "aec: decoded %d images in %.1f s; %d bad file%s skipped\n", p->n - bad, secs, bad,
                bad == 1 ? "" : "s");
    else if (ok)
        fprintf(stderr, "aec: decoded %d images in %.1f s\n", p->n, secs);
}

/* ---- loading ------------------------------------------------------------------------------ */

/* One image of the folder, fitted into dst: 0, IMG_BAD or IMG_IO with why.
 * An image smaller than H x W is bad: enlarging it would invent detail, and
 * it is likely a thumbnail or an icon that strayed into the folder. */
static int img_decode_one(const char *path, const img_file *f, int C, int H, int W,
                          uint8_t *dst, char *why)
{
    img_image im;
    int rc = img_decode(path, f, C, &im, why);
    if (rc == 0 && (im.h < H || im.w < W)) {
        /* width x height, as image viewers give sizes (CelebA's are 178x218) */
        snprintf(why, IMG_WHY, "%dx%d pixels, smaller than the model's %dx%d input",
                 im.w, im.h, W, H);
        rc = IMG_BAD;
    }
    if (rc == 0 && img_fit(&im, dst, H, W) != 0) {
        snprintf(why, IMG_WHY, "out of memory to resize it");
        rc = IMG_IO;
    }
    free(im.pix);
    return rc;
}

/* Decode and fit every image of the folder into u8 [n, C, H, W]. A bad image
 * stops it with an error naming the file; given skip (n pointers, all NULL)
 * it is left as zeros instead, and skip[i] gets why (malloc'd). A file that
 * cannot be read stops it either way. The number of images skipped, or -1. */
static int img_decode_all(const char *dir, const img_list *L, int C, int H, int W, uint8_t *u8,
                          char **skip)
{
    size_t per = (size_t)C * H * W;
    char why[IMG_WHY];
    img_progress p = img_progress_start(L->n);
    int bad = 0;
    for (int i = 0; i < L->n; i++) {
        uint8_t *dst = u8 + (size_t)i * per;
        char *path = img_join(dir, L->f[i].name);
        int rc = !path ? IMG_IO : img_decode_one(path, &L->f[i], C, H, W, dst, why);
        if (rc == IMG_BAD && skip) {
            memset(dst, 0, per);
            rc = (skip[i] = strdup(why)) ? 0 : IMG_IO;
            if (rc != 0)
                snprintf(why, sizeof why, "out of memory");
            bad++;
        }
        if (rc != 0) {
            img_progress_end(&p, 0, 0);
            if (path)
                aec_error("%s: %s", path, why);
            free(path);
            return -1;
        }
        free(path);
        img_progress_step(&p, i + 1);
    }
    img_progress_end(&p, 1, bad);
    return bad;
}

/* The cached [n, C, H, W], or NULL with *why saying what was wrong. */
static uint8_t *img_cache_read(const char *path, int n, int C, int H, int W, const char **why)
{
    uint8_t *u8 = NULL;
    int ndim = 0;
    int64_t s[4];
    if (!path) {
        *why = "there is no cache folder";
        return NULL;
    }
    if (access(path, F_OK) != 0) {
        *why = "there is no cache for them yet";
        return NULL;
    }
    if (aec_npy_read_u8(path, &u8, &ndim, s) != 0) {
        *why = "the cache could not be read";
        return NULL;
    }
    if (ndim == 4 && s[0] == n && s[1] == C && s[2] == H && s[3] == W)
        return u8;
    free(u8);
    *why = "the cache holds images of another shape";
    return NULL;
}

/* Write PATH by way of a name of this process's own (PATH.PID, itself
 * written atomically), so two runs caching the same folder at once each
 * rename a whole file into place. */
static void img_cache_write(const char *path, const uint8_t *u8, int n, int C, int H, int W)
{
    int64_t shape[4] = { n, C, H, W };
    size_t len = strlen(path) + 32;
    char *mine = malloc(len);
    if (!mine)
        return;
    snprintf(mine, len, "%s.%ld", path, (long)getpid());
    if (aec_npy_write_u8(mine, u8, 4, shape) != 0)
        fprintf(stderr, "aec: going on without a cache\n");
    else if (rename(mine, path) != 0) {
        aec_error("%s: cannot rename %s to it: %s; going on without a cache", path, mine,
                  strerror(errno));
        remove(mine);
    }
    free(mine);
}

/* ---- the list of skipped images, beside a skip_bad cache ----------------------------------- */

/* CACHE.skipped for CACHE.npy (malloc'd; NULL if out of memory). */
static char *img_skips_path(const char *cache)
{
    size_t n = strlen(cache) - strlen(".npy");
    char *p = malloc(n + sizeof ".skipped");
    if (p) {
        memcpy(p, cache, n);
        memcpy(p + n, ".skipped", sizeof ".skipped");
    }
    return p;
}

static void img_skips_clear(char **skip, int n)
{
    for (int i = 0; skip && i < n; i++) {
        free(skip[i]);
        skip[i] = NULL;
    }
}

/* One line per skipped image: its index in the sorted listing, a tab, why.
 * Written as img_cache_write writes, by way of PATH.PID. */
static int img_skips_write(const char *path, char *const *skip, int n)
{
    size_t len = strlen(path) + 32;
    char *mine = malloc(len), line[IMG_WHY + 16];
    aec_out_file o;
    int rc = -1;
    if (!mine)
        return -1;
    snprintf(mine, len, "%s.%ld", path, (long)getpid());
    if (aec_out_open(&o, mine) == 0) {
        for (int i = 0; i < n; i++)
            if (skip[i])
                aec_out_write(&o, line, (size_t)snprintf(line, sizeof line, "%d\t%.*s\n", i,
                                                         IMG_WHY - 1, skip[i]));
        rc = aec_out_commit(&o);
    }
    if (rc == 0 && rename(mine, path) != 0) {
        aec_error("%s: cannot rename %s to it: %s", path, mine, strerror(errno));
        remove(mine);
        rc = -1;
    }
    free(mine);
    return rc;
}

/* skip[] (n pointers, all NULL) from PATH; -1, with skip[] left all NULL, if
 * it is missing or not a list img_skips_write could have written for n. */
static int img_skips_read(const char *path, char **skip, int n)
{
    char *buf, *p, *tab, *end = NULL;
    size_t len;
    long last = -1;
    if (access(path, F_OK) != 0 || aec_read_whole(path, &buf, &len) != 0)
        return -1;
    for (p = buf; p < buf + len; p = end + 1) {
        long i = strtol(p, &tab, 10);
        end = memchr(p, '\n', (size_t)(buf + len - p));
        if (!end || tab == p || *tab != '\t' || i <= last || i >= n || tab + 1 >= end
            || !(skip[i] = strndup(tab + 1, (size_t)(end - tab - 1))))
            break;
        last = i;
    }
    int ok = p == buf + len && last >= 0;
    free(buf);
    if (!ok)
        img_skips_clear(skip, n);
    return ok ? 0 : -1;
}

/* The skip_bad cache at PATH with its list into skip[], or NULL. */
static uint8_t *img_cache_read_skips(const char *path, int n, int C, int H, int W, char **skip)
{
    const char *why;
    char *list = img_skips_path(path);
    uint8_t *u8 = list && img_skips_read(list, skip, n) == 0
                ? img_cache_read(path, n, C, H, W, &why) : NULL;
    if (!u8)
        img_skips_clear(skip, n);
    free(list);
    return u8;
}

/* Decode the folder (img_decode_all) after a note saying why; cache it in
 * CACHE if nothing was skipped, else in SKIPPED with its list. The images,
 * or NULL after a message. */
static uint8_t *img_decode_folder(const char *dir, const img_list *L, int C, int H, int W,
                                  const char *why, const char *cache, const char *skipped,
                                  char **skip)
{
    size_t per = (size_t)C * H * W;
    /* with skip, which file depends on what the decoding finds: name the folder */
    int shown = !cache ? 0 : skip ? (int)(strrchr(cache, '/') - cache) : (int)strlen(cache);
    fprintf(stderr, "aec: %s: decoding %d images to %dx%dx%d, once: %s%s%.*s\n", dir, L->n,
            C, H, W, why, cache ? "; caching them in " : "", shown, cache ? cache : "");
    uint8_t *u8 = malloc((size_t)L->n * per);
    if (!u8) {
        aec_error("%s: out of memory for %d images of %dx%dx%d", dir, L->n, C, H, W);
        return NULL;
    }
    int any = img_decode_all(dir, L, C, H, W, u8, skip);
    if (any < 0) {
        free(u8);
        return NULL;
    }
    if (!any && cache)
        img_cache_write(cache, u8, L->n, C, H, W);
    else if (any && skipped) {
        char *list = img_skips_path(skipped);
        if (list && img_skips_write(list, skip, L->n) == 0)
            img_cache_write(skipped, u8, L->n, C, H, W);
        else
            fprintf(stderr, "aec: going on without a cache\n");
        free(list);
    }
    return u8;
}

/* ---- one split -------------------------------------------------------------------------------- */

/* Floats lo + (hi - lo) * p / 255, as dataset.c makes them for IDX files. */
static int img_fill(aec_dataset *d, const uint8_t *u8, int n, const aec_model *m)
{
    size_t per = (size_t)m->in_c * m->in_h * m->in_w, all = (size_t)n * per;
    if (!(d->x = malloc((all ? all : 1) * sizeof *d->x))) {
        aec_error("out of memory for %d images", n);
        return -1;
    }
    aec_pixels_to_range(m, u8, all, d->x);
    d->n = n;
    d->C = m->in_c;
    d->H = m->in_h;
    d->W = m->in_w;
    d->labels = NULL;
    return 0;
}

static int img_check(const char *dir, const char *split, const aec_model *m, int n,
                     int *first, int *count)
{
    int C = m->in_c, H = m->in_h, W = m->in_w, n_train = n - n / 10;
    if (strcmp(split, "train") != 0 && strcmp(split, "test") != 0) {
        aec_error("unknown split '%s' (expected train or test)", split);
        return -1;
    }
    if ((C != 1 && C != 3) || H < 1 || W < 1) {
        aec_error("%s: images become 1 (grey) or 3 (RGB) channels, but the model's input is "
                  "%dx%dx%d", dir, C, H, W);
        return -1;
    }
    if ((size_t)n > SIZE_MAX / sizeof(float) / ((size_t)C * H * W)) {
        aec_error("%s: %d images of %dx%dx%d do not fit in memory", dir, n, C, H, W);
        return -1;
    }
    *first = !strcmp(split, "train") ? 0 : n_train;
    *count = !strcmp(split, "train") ? n_train : n - n_train;
    if (*count == 0) {
        aec_error("%s: %d images are too few for a test split (the last tenth by name): "
                  "it needs 10 or more", dir, n);
        return -1;
    }
    return 0;
}

/* v with its thousands set apart by commas: 9,998. */
static const char *img_count(char *buf, size_t size, int v)
{
    char digits[16];
    int n = snprintf(digits, sizeof digits, "%d", v), k = 0;
    for (int i = 0; i < n && (size_t)k + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[k++] = ',';
        buf[k++] = digits[i];
    }
    buf[k] = '\0';
    return buf;
}

/* Images [first, first + count) of the folder, the split, into d: at most
 * limit (if > 0) of them, the skipped ones (skip[i] set) left out, each named
 * in a warning, and then counted in one line. u8 is compacted in place. */
static int img_take(aec_dataset *d, const char *dir, const char *split, const img_list *L,
                    uint8_t *u8, char *const *skip, int first, int count, int limit,
                    const aec_model *m)
{
    size_t per = (size_t)m->in_c * m->in_h * m->in_w;
    int want = limit > 0 && limit < count ? limit : count, kept = 0, skipped = 0;
    char a[32], b[32];
    uint8_t *out = u8 + (size_t)first * per;
    for (int i = first; i < first + count && kept < want; i++) {
        if (skip && skip[i]) {
            fprintf(stderr, "aec: %s/%s: %s; skipped\n", dir, L->f[i].name, skip[i]);
            skipped++;
            continue;
        }
        if (first + kept != i)
            memmove(out + (size_t)kept * per, u8 + (size_t)i * per, per);
        kept++;
    }
    if (kept == 0) {
        aec_error("%s: the %s split has no images left: %s skipped (see the warnings above)",
                  dir, split, img_count(a, sizeof a, skipped));
        return -1;
    }
    if (skipped > 0)
        fprintf(stderr, "aec: %s: %s split: %s image%s, %s skipped (see the warnings above)\n",
                dir, split, img_count(a, sizeof a, kept), kept == 1 ? "" : "s",
                img_count(b, sizeof b, skipped));
    if (img_fill(d, out, kept, m) != 0)
        return -1;
    d->skipped = skipped;
    return 0;
}

int aec_images_load(const char *dir, const char *split, const aec_model *m,
                    int limit, int skip_bad, aec_dataset *d)
{
    img_list L;
    int first = 0, count = 0, rc = -1;
    const char *why = NULL;
    memset(d, 0, sizeof *d);
    if (img_list_read(dir, &L) != 0)
        return -1;
    if (img_check(dir, split, m, L.n, &first, &count) != 0) {
        img_list_free(&L);
        return -1;
    }
    int C = m->in_c, H = m->in_h, W = m->in_w;
    char *cache = img_cache_name(dir, &L, C, H, W, 0);
    char *skipped = skip_bad && cache ? img_cache_name(dir, &L, C, H, W, 1) : NULL;
    char **skip = skip_bad ? calloc((size_t)L.n, sizeof *skip) : NULL;
    uint8_t *u8 = NULL;
    if (skip_bad && !skip)
        aec_error("%s: out of memory for the list of images", dir);
    else if (!(u8 = img_cache_read(cache, L.n, C, H, W, &why))
             && !(skipped && (u8 = img_cache_read_skips(skipped, L.n, C, H, W, skip))))
        u8 = img_decode_folder(dir, &L, C, H, W, why, cache, skipped, skip);
    if (u8)
        rc = img_take(d, dir, split, &L, u8, skip, first, count, limit, m);
    img_skips_clear(skip, L.n);
    free(skip);
    free(u8);
    free(cache);
    free(skipped);
    img_list_free(&L);
    return rc;
}
