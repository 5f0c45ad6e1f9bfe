/* data/dataset.h: loading a split beyond aec.h (dataset.c). */
#ifndef AEC_DATA_DATASET_H
#define AEC_DATA_DATASET_H

#include "aec.h"

/* aec_dataset_load, with skip_bad passed to aec_images_load for a folder of
 * images. IDX files are one file per split, so a bad one cannot be skipped:
 * skip_bad changes nothing for them. */
int aec_dataset_load_skip(const char *dir, const char *split, const aec_model *m,
                          int limit, int skip_bad, aec_dataset *d);

/* aec_dataset_load_skip, and for a folder of images the file names of d's
 * images into *names (aec_images_load_named; NULL for IDX files, which have
 * labels instead). Training has no use for them: the report's scores.csv
 * asks. */
int aec_dataset_load_named(const char *dir, const char *split, const aec_model *m, int limit, int skip_bad,
                           aec_dataset *d, char ***names);

/* n names and the array that holds them (NULL: nothing). */
void aec_names_free(char **names, int n);

/* 1 if DIR holds IDX images of either split (raw or gzipped), else 0. */
int aec_dataset_has_idx(const char *dir);

/* The split's IDX files in DIR, the .gz if there is one (malloc'd); -1 after
 * a message naming what is missing (or an unknown split). */
int aec_dataset_idx_paths(const char *dir, const char *split, char **ipath, char **lpath);

/* n images of rows x cols fit the model, and there are as many labels. */
int aec_dataset_idx_check(const char *ipath, int n, int rows, int cols, const char *lpath, int n_labels,
                          const aec_model *m);

#endif
