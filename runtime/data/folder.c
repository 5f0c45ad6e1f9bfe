/* folder.c: the image files of a folder (*.jpg, *.jpeg, *.png), sorted by
 * name, with the size and mtime the cache's name depends on. */
#include "aec.h"
#include "data/images.h"
#include "data/img.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <dirent.h>

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

char *aec_img_join(const char *dir, const char *name)
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

void aec_img_list_free(img_list *L)
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
    char *path = aec_img_join(dir, name);
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

int aec_img_list_read(const char *dir, img_list *L)
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
        aec_img_list_free(L);
    else
        qsort(L->f, (size_t)L->n, sizeof *L->f, img_by_name);
    return rc;
}
