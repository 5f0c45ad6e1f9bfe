/* dataset.c: one split of a data set as NCHW floats in the model's input
 * range: IDX files (MNIST, Fashion-MNIST) with their labels, read here, or a
 * folder of images (CelebA), read by images.c. */
#include "aec.h"
#include "data/dataset.h"
#include "data/images.h"
#include "data/pixels.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *ds_prefix(const char *split)
{
    if (!strcmp(split, "train"))
        return "train";
    if (!strcmp(split, "test"))
        return "t10k";
    return NULL;
}

/* DIR/PREFIX-KIND.gz if it exists, else DIR/PREFIX-KIND (malloc'd), else NULL. */
static char *ds_find(const char *dir, const char *prefix, const char *kind)
{
    size_t n = strlen(dir) + strlen(prefix) + strlen(kind) + 6;
    char *p = malloc(n);
    if (!p) {
        aec_error("%s: out of memory", dir);
        return NULL;
    }
    snprintf(p, n, "%s/%s-%s.gz", dir, prefix, kind);
    if (access(p, F_OK) == 0)
        return p;
    p[strlen(p) - 3] = '\0';
    if (access(p, F_OK) == 0)
        return p;
    aec_error("%s: neither %s-%s.gz nor %s-%s exists", dir, prefix, kind, prefix, kind);
    free(p);
    return NULL;
}

int aec_dataset_idx_check(const char *ipath, int n, int rows, int cols, const char *lpath, int n_labels,
                          const aec_model *m)
{
    if (m->in_c != 1 || rows != m->in_h || cols != m->in_w) {
        aec_error("%s: images are %dx%d, the model expects %dx%dx%d",
                  ipath, rows, cols, m->in_c, m->in_h, m->in_w);
        return -1;
    }
    if (n_labels != n) {
        aec_error("%s: %d labels, but %s has %d images", lpath, n_labels, ipath, n);
        return -1;
    }
    return 0;
}

static int ds_fill(aec_dataset *d, const aec_idx_images *img, const uint8_t *labels,
                   int limit, const aec_model *m)
{
    int n = limit > 0 && limit < img->n ? limit : img->n;
    size_t pixels = (size_t)n * img->rows * img->cols;
    d->x = malloc(pixels * sizeof *d->x);
    d->labels = malloc((size_t)n * sizeof *d->labels);
    if (!d->x || !d->labels) {
        aec_error("out of memory for %d images", n);
        aec_dataset_free(d);
        return -1;
    }
    aec_pixels_to_range(m, img->pixels, pixels, d->x);
    for (int i = 0; i < n; i++)
        d->labels[i] = labels[i];
    d->n = n;
    d->C = 1;
    d->H = img->rows;
    d->W = img->cols;
    return 0;
}

int aec_dataset_idx_paths(const char *dir, const char *split, char **ipath, char **lpath)
{
    const char *prefix = ds_prefix(split);
    *lpath = NULL;
    *ipath = prefix ? ds_find(dir, prefix, "images-idx3-ubyte") : NULL;
    if (!prefix)
        aec_error("unknown split '%s' (expected train or test)", split);
    if (*ipath && !(*lpath = ds_find(dir, prefix, "labels-idx1-ubyte"))) {
        free(*ipath);
        *ipath = NULL;
    }
    return *lpath ? 0 : -1;
}

static int ds_load_idx(const char *dir, const char *split, const aec_model *m,
                       int limit, aec_dataset *d)
{
    aec_idx_images img = {0};
    uint8_t *labels = NULL;
    int n_labels = 0, rc = -1;
    char *ipath, *lpath;
    if (aec_dataset_idx_paths(dir, split, &ipath, &lpath) == 0 && aec_idx_read_images(ipath, &img) == 0
        && aec_idx_read_labels(lpath, &labels, &n_labels) == 0
        && aec_dataset_idx_check(ipath, img.n, img.rows, img.cols, lpath, n_labels, m) == 0)
        rc = ds_fill(d, &img, labels, limit, m);
    free(ipath);
    free(lpath);
    free(img.pixels);
    free(labels);
    return rc;
}

/* DIR holds IDX images of either split, raw or gzipped. */
int aec_dataset_has_idx(const char *dir)
{
    static const char *const names[] = {
        "train-images-idx3-ubyte.gz", "train-images-idx3-ubyte",
        "t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte",
    };
    char p[4096];
    for (int k = 0; k < 4; k++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[k]);
        if (access(p, F_OK) == 0)
            return 1;
    }
    return 0;
}

/* IDX files if DIR has any, else the images in it. */
int aec_dataset_load(const char *dir, const char *split, const aec_model *m,
                     int limit, aec_dataset *d)
{
    return aec_dataset_load_skip(dir, split, m, limit, 0, d);
}

int aec_dataset_load_skip(const char *dir, const char *split, const aec_model *m,
                          int limit, int skip_bad, aec_dataset *d)
{
    return aec_dataset_load_named(dir, split, m, limit, skip_bad, d, NULL);
}

int aec_dataset_load_named(const char *dir, const char *split, const aec_model *m, int limit, int skip_bad,
                           aec_dataset *d, char ***names)
{
    memset(d, 0, sizeof *d);
    if (names)
        *names = NULL;
    const char *prefix = ds_prefix(split);
    if (!prefix) {
        aec_error("unknown split '%s' (expected train or test)", split);
        return -1;
    }
    if (aec_dataset_has_idx(dir))
        return ds_load_idx(dir, split, m, limit, d);
    int images = aec_images_present(dir);
    if (images > 0)
        return aec_images_load_named(dir, split, m, limit, skip_bad, d, names);
    aec_error("%s: neither %s-images-idx3-ubyte.gz nor %s-images-idx3-ubyte (IDX files) "
              "nor images (*.jpg, *.jpeg, *.png) are there%s%s", dir, prefix, prefix,
              images < 0 ? ": cannot open the folder: " : "", images < 0 ? strerror(errno) : "");
    return -1;
}

void aec_names_free(char **names, int n)
{
    for (int i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

void aec_dataset_free(aec_dataset *d)
{
    free(d->x);
    free(d->labels);
    memset(d, 0, sizeof *d);
}
