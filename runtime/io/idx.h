/* io/idx.h: an IDX file read item by item (idx.c), so that a data set
 * streams through in batches: memory for one batch, not for the file. */
#ifndef AEC_IO_IDX_H
#define AEC_IO_IDX_H

#include "aec.h"

typedef struct aec_idx_reader aec_idx_reader;

/* Open an IDX file of images (images != 0: [n, rows, cols]) or of labels
 * ([n]), raw or gzipped, checking its magic and sizes as aec_idx_read_images
 * does. rows and cols may be NULL. NULL after a message naming the file. */
aec_idx_reader *aec_idx_open(const char *path, int images, int *n, int *rows, int *cols);

/* The next count items (rows * cols bytes each, or 1 for a label) into out.
 * Reading the file's last item also checks that nothing follows it (and a
 * gzip file's trailer). 0, or -1 after a message naming the file. */
int aec_idx_next(aec_idx_reader *r, uint8_t *out, int count);

void aec_idx_close(aec_idx_reader *r);

#endif
