/* data/images.h: folders of JPEG and PNG images as data sets, for dataset.c
 * and the tests. Not part of the public interface (aec.h).
 *
 * Pixel layouts: a decoded image is HWC (rows of W pixels of C interleaved
 * 8-bit channels, as the decoders give them); a fitted one is CHW, one image
 * of the NCHW tensors of aec.h. */
#ifndef AEC_DATA_IMAGES_H
#define AEC_DATA_IMAGES_H

#include "aec.h"

/* 1 if DIR holds at least one *.jpg, *.jpeg or *.png (any case), 0 if none;
 * -1, with errno set and nothing reported, if DIR cannot be read. */
int aec_images_present(const char *dir);

/* aec_dataset_load for a folder of images: sorted by name (strcmp), "train"
 * is the first n - n/10, "test" the last n/10; limit > 0 keeps the first
 * limit of the split. Every image of the folder is decoded once, fitted to
 * the model's C x H x W, and cached as uint8 [N, C, H, W] in
 * aec_images_cache_dir(); later loads read the cache while the folder is
 * unchanged. Labels are NULL. 0, or -1 after a message.
 *
 * A bad image (one that does not decode, or is smaller than H x W) is an
 * error naming it; with skip_bad it is left out of its split instead, with a
 * warning naming it on stderr, and a line counting the skipped ones. A file
 * that cannot be read at all is an error either way. */
int aec_images_load(const char *dir, const char *split, const aec_model *m,
                    int limit, int skip_bad, aec_dataset *d);

/* aec_images_load, and the kept images' file names (relative to DIR, in the
 * order of d's images) into *names (malloc'd, d->n of them; free them with
 * aec_names_free, data/dataset.h); names NULL: not wanted. */
int aec_images_load_named(const char *dir, const char *split, const aec_model *m, int limit, int skip_bad,
                          aec_dataset *d, char ***names);

/* The cache folder, created if missing: $AEC_CACHE_DIR, else
 * $XDG_CACHE_HOME/aec, else $HOME/.cache/aec. NULL after a message. free() it. */
char *aec_images_cache_dir(void);

/* The cache file for DIR fitted to C x H x W (malloc'd path inside the cache
 * folder; it may not exist yet), or NULL after a message. */
char *aec_images_cache_path(const char *dir, int C, int H, int W);

/* Decode a JPEG or PNG file (told apart by content, not name) to C = 1 (grey)
 * or 3 (RGB) 8-bit channels: *pix (malloc'd) is h x w x C. 0, or -1 after a
 * message naming the file. */
int aec_image_decode(const char *path, int C, uint8_t **pix, int *h, int *w);

/* Fit an h x w x C image to C x H x W: crop the largest centred square (when
 * h - w is odd the extra row or column is cut at the bottom or right), then
 * resize it with area resampling (see fit.c). 0, or -1 after a message. */
int aec_image_fit(const uint8_t *src, int h, int w, int C, uint8_t *dst, int H, int W);

#endif
