/* data/dataset.h: loading a split beyond aec.h (dataset.c). */
#ifndef AEC_DATA_DATASET_H
#define AEC_DATA_DATASET_H

#include "aec.h"

/* aec_dataset_load, with skip_bad passed to aec_images_load for a folder of
 * images. IDX files are one file per split, so a bad one cannot be skipped:
 * skip_bad changes nothing for them. */
int aec_dataset_load_skip(const char *dir, const char *split, const aec_model *m,
                          int limit, int skip_bad, aec_dataset *d);

#endif
