/* images.c: a folder of JPEG and PNG images (CelebA's img_align_celeba, say)
 * as a data set: decoded (decode.c), fitted (fit.c) and cached (cache.c).
 *
 * Glossary: n = image files in the folder; h x w = one decoded image, c its
 * channels; s = the side of its centred square; C x H x W = the model's input.
 *
 * Each image is decoded to 8-bit grey or RGB as the model's C asks, cropped to
 * its largest centred square and area-resized to H x W. One that does not
 * decode, or is smaller than H x W (it would have to be enlarged), is a bad
 * image: an error naming it, or with skip_bad a warning, and it is left out.
 *
 * Decoding is by far the slowest part of loading, so the fitted images of the whole folder, both splits, are kept
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
#include "aec.h"
#include "core/clock.h"
#include "data/images.h"
#include "data/img.h"
#include "data/pixels.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* An image smaller than H x W is bad: enlarging it would invent detail, and
 * it is likely a thumbnail or an icon that strayed into the folder. */
int aec_img_load_one(const char *path, const img_file *f, int C, int H, int W, uint8_t *dst, char *why)
{
    img_image im;
    int rc = aec_img_decode(path, f, C, &im, why);
    if (rc == 0 && (im.h < H || im.w < W)) {
        /* width x height, as image viewers give sizes (CelebA's are 178x218) */
        snprintf(why, IMG_WHY, "%dx%d pixels, smaller than the model's %dx%d input",
                 im.w, im.h, W, H);
        rc = IMG_BAD;
    }
    if (rc == 0 && aec_img_fit(&im, dst, H, W) != 0) {
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
        char *path = aec_img_join(dir, L->f[i].name);
        int rc = !path ? IMG_IO : aec_img_load_one(path, &L->f[i], C, H, W, dst, why);
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
    char where[4096];
    snprintf(where, sizeof where, "%.*s", shown, cache ? cache : "");
    fprintf(stderr, "aec: %s: decoding %d images to %dx%dx%d, once: %s%s%s\n", aec_esc(dir), L->n,
            C, H, W, why, cache ? "; caching them in " : "", aec_esc(where));
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
        aec_img_cache_write(cache, u8, L->n, C, H, W);
    else if (any && skipped) {
        char *list = aec_img_skips_path(skipped);
        if (list && aec_img_skips_write(list, skip, L->n) == 0)
            aec_img_cache_write(skipped, u8, L->n, C, H, W);
        else
            fprintf(stderr, "aec: going on without a cache\n");
        free(list);
    }
    return u8;
}

/* ---- one split -------------------------------------------------------------------------------- */

/* The split's pixels into d, as floats in the model's input range. */
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

int aec_img_split(const char *dir, const char *split, const aec_model *m, int n, int *first, int *count)
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

/* The names of the first kept images from first on (skip[i] unset), taken
 * from L, which holds NULL in their place after. NULL after a message. */
static char **img_names(img_list *L, char *const *skip, int first, int kept)
{
    char **names = malloc((size_t)kept * sizeof *names);
    if (!names) {
        aec_error("out of memory for the names of %d images", kept);
        return NULL;
    }
    for (int i = first, k = 0; k < kept; i++)
        if (!(skip && skip[i])) {
            names[k++] = L->f[i].name;
            L->f[i].name = NULL;
        }
    return names;
}

/* Images [first, first + count) of the folder, the split, into d: at most
 * limit (if > 0) of them, the skipped ones (skip[i] set) left out, each named
 * in a warning, and then counted in one line; their file names into *names
 * (names NULL: not wanted). u8 is compacted in place. */
static int img_take(aec_dataset *d, const char *dir, const char *split, img_list *L,
                    uint8_t *u8, char *const *skip, int first, int count, int limit,
                    char ***names, const aec_model *m)
{
    size_t per = (size_t)m->in_c * m->in_h * m->in_w;
    int want = limit > 0 && limit < count ? limit : count, kept = 0, skipped = 0;
    char a[32], b[32];
    uint8_t *out = u8 + (size_t)first * per;
    for (int i = first; i < first + count && kept < want; i++) {
        if (skip && skip[i]) {
            fprintf(stderr, "aec: %s/%s: %s; skipped\n", aec_esc(dir), aec_esc(L->f[i].name), skip[i]);
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
                aec_esc(dir), split, img_count(a, sizeof a, kept), kept == 1 ? "" : "s",
                img_count(b, sizeof b, skipped));
    if (img_fill(d, out, kept, m) != 0)
        return -1;
    if (names && !(*names = img_names(L, skip, first, kept))) {
        aec_dataset_free(d);
        return -1;
    }
    d->skipped = skipped;
    return 0;
}

int aec_images_load(const char *dir, const char *split, const aec_model *m,
                    int limit, int skip_bad, aec_dataset *d)
{
    return aec_images_load_named(dir, split, m, limit, skip_bad, d, NULL);
}

int aec_images_load_named(const char *dir, const char *split, const aec_model *m, int limit, int skip_bad,
                          aec_dataset *d, char ***names)
{
    img_list L;
    int first = 0, count = 0, rc = -1;
    const char *why = NULL;
    memset(d, 0, sizeof *d);
    if (aec_img_list_read(dir, &L) != 0)
        return -1;
    if (aec_img_split(dir, split, m, L.n, &first, &count) != 0) {
        aec_img_list_free(&L);
        return -1;
    }
    int C = m->in_c, H = m->in_h, W = m->in_w;
    char *cache = aec_img_cache_name(dir, &L, C, H, W, 0);
    char *skipped = skip_bad && cache ? aec_img_cache_name(dir, &L, C, H, W, 1) : NULL;
    char **skip = skip_bad ? calloc((size_t)L.n, sizeof *skip) : NULL;
    uint8_t *u8 = NULL;
    if (skip_bad && !skip)
        aec_error("%s: out of memory for the list of images", dir);
    else if (!(u8 = aec_img_cache_read(cache, L.n, C, H, W, &why))
             && !(skipped && (u8 = aec_img_cache_read_skips(skipped, L.n, C, H, W, skip))))
        u8 = img_decode_folder(dir, &L, C, H, W, why, cache, skipped, skip);
    if (u8)
        rc = img_take(d, dir, split, &L, u8, skip, first, count, limit, names, m);
    aec_img_skips_clear(skip, L.n);
    free(skip);
    free(u8);
    free(cache);
    free(skipped);
    aec_img_list_free(&L);
    return rc;
}
