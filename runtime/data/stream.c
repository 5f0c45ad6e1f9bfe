/* stream.c: a split read batch by batch, so that score's memory does not
 * grow with the data set: IDX files item by item (io/idx.h), a folder of
 * images from its decoded cache a batch of rows at a time (the cache is one
 * uint8 [n, C, H, W] .npy, so a batch is one read at a known offset), or,
 * without a cache, decoded image by image.
 *
 * Glossary: per = C * H * W, the pixels of one image; max = the largest
 * batch asked for, which sizes the buffers. */
#include "aec.h"
#include "data/dataset.h"
#include "data/images.h"
#include "data/img.h"
#include "data/pixels.h"
#include "data/stream.h"
#include "io/idx.h"
#include "io/npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct aec_stream {
    const aec_model *m;
    const char *dir, *split;
    int n, given, max;          /* images of the split to give (at most), given so far */
    size_t per;
    aec_idx_reader *images, *labels;    /* IDX files */
    img_list L;                 /* a folder: its files, sorted by name */
    int next, end;              /* the folder's next file of the split, and past its last */
    FILE *cache;                /* the folder's cache, at the split's next row; NULL: decode */
    int skip_bad, skipped;
    uint8_t *u8, *lab8;         /* one batch as read */
    float *x;
    int64_t *lab;
    const char **names;
};

/* Buffers for one batch: of max images, or of the whole split if that is
 * smaller (a --batch far above the data set's size costs nothing). */
static int stream_buffers(aec_stream *s, int labelled, int named)
{
    if (s->n > 0 && s->n < s->max)
        s->max = s->n;
    size_t B = (size_t)s->max;
    s->u8 = malloc(B * s->per);
    s->x = malloc(B * s->per * sizeof *s->x);
    s->lab8 = labelled ? malloc(B) : NULL;
    s->lab = labelled ? malloc(B * sizeof *s->lab) : NULL;
    s->names = named ? malloc(B * sizeof *s->names) : NULL;
    if (s->u8 && s->x && (!labelled || (s->lab8 && s->lab)) && (!named || s->names))
        return 0;
    aec_error("%s: out of memory for a batch of %d images", s->dir, s->max);
    return -1;
}

static int stream_open_idx(aec_stream *s, int limit)
{
    char *ipath, *lpath;
    int n = 0, rows = 0, cols = 0, n_labels = 0, rc = -1;
    if (aec_dataset_idx_paths(s->dir, s->split, &ipath, &lpath) != 0)
        return -1;
    if ((s->images = aec_idx_open(ipath, 1, &n, &rows, &cols))
        && (s->labels = aec_idx_open(lpath, 0, &n_labels, NULL, NULL))
        && aec_dataset_idx_check(ipath, n, rows, cols, lpath, n_labels, s->m) == 0) {
        s->n = limit > 0 && limit < n ? limit : n;
        rc = stream_buffers(s, 1, 0);
    }
    free(ipath);
    free(lpath);
    return rc;
}

/* The folder's cache, if there is one of the right shape, at row first. */
static FILE *stream_cache(aec_stream *s, int first)
{
    const aec_model *m = s->m;
    char *path = aec_img_cache_name(s->dir, &s->L, m->in_c, m->in_h, m->in_w, 0);
    int ndim = 0;
    int64_t sh[4];
    FILE *fp = path && access(path, F_OK) == 0 ? aec_npy_open_u8(path, &ndim, sh) : NULL;
    int shaped = fp && ndim == 4 && sh[0] == s->L.n && sh[1] == m->in_c && sh[2] == m->in_h && sh[3] == m->in_w;
    int sound = shaped && aec_img_cache_file_ok(path, fp, (size_t)s->L.n * s->per);
    if (fp && !(sound && fseek(fp, (long)((size_t)first * s->per), SEEK_CUR) == 0)) {
        fclose(fp);
        fp = NULL;
    }
    if (shaped && !sound)
        fprintf(stderr, "aec: %s: the cache of the decoded images is damaged (its CRC-32 does not match, or is "
                "missing); decoding the %s split's batch by batch\n", aec_esc(path), s->split);
    else if (!fp)
        fprintf(stderr, "aec: %s: no cache of the decoded images; decoding the %s split's batch by batch\n",
                aec_esc(s->dir), s->split);
    free(path);
    return fp;
}

static int stream_open_folder(aec_stream *s, int limit)
{
    int first, count;
    if (aec_img_list_read(s->dir, &s->L) != 0
        || aec_img_split(s->dir, s->split, s->m, s->L.n, &first, &count) != 0)
        return -1;
    s->next = first;
    s->end = first + count;
    s->n = limit > 0 && limit < count ? limit : count;
    s->cache = stream_cache(s, first);
    return stream_buffers(s, 0, 1);
}

aec_stream *aec_stream_open(const char *dir, const char *split, const aec_model *m, int limit, int skip_bad,
                            int max)
{
    aec_stream *s = calloc(1, sizeof *s);
    if (!s) {
        aec_error("%s: out of memory", dir);
        return NULL;
    }
    *s = (aec_stream){ .m = m, .dir = dir, .split = split, .skip_bad = skip_bad, .max = max > 0 ? max : 1,
                       .per = (size_t)m->in_c * m->in_h * m->in_w };
    int idx = aec_dataset_has_idx(dir), images = idx ? 0 : aec_images_present(dir), rc = -1;
    if (idx)
        rc = stream_open_idx(s, limit);
    else if (images > 0)
        rc = stream_open_folder(s, limit);
    else {                      /* neither: the loader says so, as for any command */
        aec_dataset d;
        aec_dataset_load_skip(dir, split, m, 1, skip_bad, &d);
        aec_dataset_free(&d);
    }
    if (rc != 0) {
        aec_stream_close(s);
        return NULL;
    }
    return s;
}

int aec_stream_size(const aec_stream *s)
{
    return s->n;
}

int aec_stream_labelled(const aec_stream *s)
{
    return s->lab != NULL;
}

/* Decode the folder's next images into u8 until k reach want or the split
 * ends; a bad one is an error naming it, or with skip_bad a warning. */
static int stream_decode(aec_stream *s, int want, int *k)
{
    const aec_model *m = s->m;
    char why[IMG_WHY];
    for (*k = 0; *k < want && s->next < s->end; s->next++) {
        const img_file *f = &s->L.f[s->next];
        char *path = aec_img_join(s->dir, f->name);
        int rc = !path ? IMG_IO : aec_img_load_one(path, f, m->in_c, m->in_h, m->in_w,
                                                   s->u8 + (size_t)*k * s->per, why);
        if (rc == IMG_BAD && s->skip_bad) {
            fprintf(stderr, "aec: %s: %s; skipped\n", aec_esc(path), why);
            s->skipped++;
        } else if (rc != 0) {
            if (path)
                aec_error("%s: %s", path, why);
            free(path);
            return -1;
        } else {
            s->names[(*k)++] = f->name;
        }
        free(path);
    }
    return 0;
}

/* The folder's next want rows of its cache, all of them good images (a
 * cache with bad ones is a skip_bad cache, which is never read here). */
static int stream_rows(aec_stream *s, int want, int *k)
{
    if (fread(s->u8, s->per, (size_t)want, s->cache) != (size_t)want) {
        aec_error("%s: the cache of %s stops early: %s", s->dir, s->split,
                  ferror(s->cache) ? strerror(errno) : "truncated");
        return -1;
    }
    for (int i = 0; i < want; i++)
        s->names[i] = s->L.f[s->next + i].name;
    s->next += want;
    *k = want;
    return 0;
}

int aec_stream_next(aec_stream *s, int max, aec_stream_batch *b)
{
    int want = s->n - s->given, k = 0;
    want = want < max ? want : max;
    want = want < s->max ? want : s->max;
    memset(b, 0, sizeof *b);
    if (want <= 0)
        return 0;
    if (s->images) {
        if (aec_idx_next(s->images, s->u8, want) != 0 || aec_idx_next(s->labels, s->lab8, want) != 0)
            return -1;
        for (int i = 0; i < want; i++)
            s->lab[i] = s->lab8[i];
        k = want;
    } else if ((s->cache ? stream_rows(s, want, &k) : stream_decode(s, want, &k)) != 0) {
        return -1;
    }
    aec_pixels_to_range(s->m, s->u8, (size_t)k * s->per, s->x);
    s->given += k;
    *b = (aec_stream_batch){ k, s->x, s->lab, s->names };
    return 0;
}

void aec_stream_close(aec_stream *s)
{
    if (!s)
        return;
    if (s->skipped > 0)
        fprintf(stderr, "aec: %s: %s split: %d image%s given, %d skipped (see the warnings above)\n", aec_esc(s->dir),
                s->split, s->given, s->given == 1 ? "" : "s", s->skipped);
    aec_idx_close(s->images);
    aec_idx_close(s->labels);
    if (s->cache)
        fclose(s->cache);
    aec_img_list_free(&s->L);
    free(s->u8), free(s->lab8), free(s->x), free(s->lab), free(s->names);
    free(s);
}
