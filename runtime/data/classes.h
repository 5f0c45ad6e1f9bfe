/* data/classes.h: a list of classes, and a split cut down to them (classes.c). */
#ifndef AEC_DATA_CLASSES_H
#define AEC_DATA_CLASSES_H

#include "aec.h"

#include <stddef.h>

enum { AEC_MAX_CLASS = 255 };   /* IDX labels are bytes */

/* "0-8", "1,3,5", "0-2,7": classes 0..AEC_MAX_CLASS into in[c] = 1 (the
 * rest 0). 0, or -1 after a message naming what is wrong in the list. */
int aec_classes_parse(const char *list, unsigned char in[AEC_MAX_CLASS + 1]);

/* in[] as the shortest list aec_classes_parse reads back: "0-2,7". At
 * most AEC_CLASSES_TEXT bytes with its NUL (every other class: "0,2,...,254"). */
enum { AEC_CLASSES_TEXT = 512 };
void aec_classes_format(const unsigned char in[AEC_MAX_CLASS + 1], char *out, size_t size);

/* Keep only d's images whose label is in in[], in their order. Every listed
 * class must have images: -1, after a message naming the first that has
 * none (and what labels d has), or naming d as unlabelled (what is the data
 * folder, for messages). */
int aec_dataset_keep_classes(aec_dataset *d, const unsigned char in[AEC_MAX_CLASS + 1], const char *what);

#endif
