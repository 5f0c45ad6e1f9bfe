/* data/img.h: what the files that read a folder of images share (folder.c,
 * decode.c, fit.c, cache.c, images.c): a file of the folder, a decoded image,
 * and each file's functions the others call. */
#ifndef AEC_DATA_IMG_H
#define AEC_DATA_IMG_H

#include <stdint.h>
#include <stdio.h>

#define IMG_MAX_PIXELS (1L << 26)   /* h * w of one image: 8192 x 8192 */
#define IMG_WHY 256                 /* a decoding failure, without the path */

typedef struct {
    char *name;
    int64_t size, sec, nsec;    /* st_size, st_mtim */
} img_file;

typedef struct {
    img_file *f;
    int n, cap;
} img_list;

typedef struct {
    uint8_t *pix;       /* h x w x c */
    int h, w, c;
} img_image;

/* folder.c */
/* DIR/NAME, malloc'd; NULL after a message. */
char *aec_img_join(const char *dir, const char *name);
/* The folder's images, sorted by name; -1 after a message, also if none. */
int aec_img_list_read(const char *dir, img_list *L);
void aec_img_list_free(img_list *L);

/* decode.c */
/* Decode by content, not by name: a .png may hold a JPEG. 0; IMG_BAD for a
 * file whose content is no image we can use; IMG_IO when it could not be
 * read (that is no fault of the image, and never skipped). */
enum { IMG_BAD = -1, IMG_IO = -2 };
int aec_img_decode(const char *path, const img_file *f, int C, img_image *im, char *why);

/* fit.c */
/* Rows first (each of the square's s rows to W sums, at most 255 * s), then
 * columns (H x W sums of at most 255 * s * s): both exact in integers, so the
 * mean, sum / (s * s), is rounded once, half up. */
int aec_img_fit(const img_image *im, uint8_t *dst, int H, int W);

/* images.c */
/* One image of the folder decoded and fitted into dst (C x H x W): 0, or
 * IMG_BAD or IMG_IO with why (without the path). */
int aec_img_load_one(const char *path, const img_file *f, int C, int H, int W, uint8_t *dst, char *why);
struct aec_model;
/* The split's images of a folder of n: [*first, *first + *count) by name.
 * -1 after a message (an unknown split, a model whose input is no image, too
 * few images for a test split). */
int aec_img_split(const char *dir, const char *split, const struct aec_model *m, int n, int *first, int *count);

/* cache.c */
/* CACHE/BASE-CxHxW-HASH.npy, BASE being the folder's last name, so a user
 * looking in the cache can tell what each file holds; skip: the name for a
 * decoding that skipped bad images. */
char *aec_img_cache_name(const char *dir, const img_list *L, int C, int H, int W, int skip);
/* The cached [n, C, H, W], or NULL with *why saying what was wrong. */
uint8_t *aec_img_cache_read(const char *path, int n, int C, int H, int W, const char **why);
/* 1 if the n bytes fp holds from where it stands match the CRC-32 kept
 * beside the cache at PATH, read 64 KiB at a time (score streams, and its
 * memory must not grow with the cache); fp is left where it stood. */
int aec_img_cache_file_ok(const char *path, FILE *fp, size_t n);
/* Write PATH by way of a name of this process's own (PATH.PID, itself
 * written atomically), so two runs caching the same folder at once each
 * rename a whole file into place. */
void aec_img_cache_write(const char *path, const uint8_t *u8, int n, int C, int H, int W);
/* CACHE.skipped for CACHE.npy (malloc'd; NULL if out of memory). */
char *aec_img_skips_path(const char *cache);
void aec_img_skips_clear(char **skip, int n);
/* One line per skipped image: its index in the sorted listing, a tab, why.
 * Written as aec_img_cache_write writes, by way of PATH.PID. */
int aec_img_skips_write(const char *path, char *const *skip, int n);
/* The skip_bad cache at PATH with its list into skip[], or NULL. */
uint8_t *aec_img_cache_read_skips(const char *path, int n, int C, int H, int W, char **skip);

#endif
