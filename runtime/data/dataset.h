/* data/dataset.h: loading a split beyond aec.h (dataset.c). */
#ifndef AEC_DATA_DATASET_H
#define AEC_DATA_DATASET_H

#include "aec.h"

/* What aec_dataset_load_skip and aec_images_load do beyond loading: leave
 * a folder's bad images out of its splits (1, so that a yes or no reads as
 * this flag), keep a folder's file names in d->names (which training has no
 * use for: only the report's scores.csv asks). */
enum { AEC_LOAD_SKIP_BAD = 1, AEC_LOAD_NAMES = 2 };

/* aec_dataset_load, with flags passed to aec_images_load for a folder of
 * images. IDX files are one file per split, so a bad one cannot be skipped,
 * and they have labels, not names: flags change nothing for them. */
int aec_dataset_load_skip(const char *dir, const char *split, const aec_model *m,
                          int limit, int flags, aec_dataset *d);

/* 1 if DIR holds IDX images of either split (raw or gzipped), else 0. */
int aec_dataset_has_idx(const char *dir);

/* The split's IDX files in DIR, the .gz if there is one (malloc'd); -1 after
 * a message naming what is missing (or an unknown split). */
int aec_dataset_idx_paths(const char *dir, const char *split, char **ipath, char **lpath);

/* n images of rows x cols fit the model, and there are as many labels. */
int aec_dataset_idx_check(const char *ipath, int n, int rows, int cols, const char *lpath, int n_labels,
                          const aec_model *m);

#endif
