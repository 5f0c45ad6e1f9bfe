/* data/stream.h: a split read batch by batch (stream.c), for score: memory
 * for one batch, whatever the size of the data set. */
#ifndef AEC_DATA_STREAM_H
#define AEC_DATA_STREAM_H

#include "aec.h"

typedef struct aec_stream aec_stream;

/* One batch: n images (NCHW floats in the model's range), their labels (IDX)
 * or NULL, and their file names relative to the folder (a folder of images)
 * or NULL. The stream's memory, until its next batch. */
typedef struct {
    int n;
    const float *x;
    const int64_t *labels;
    const char *const *names;
} aec_stream_batch;

/* The split of DIR as aec_dataset_load_skip would load it (the same images
 * in the same order, limit and skip_bad alike), opened for reading in
 * batches of at most max. IDX files are read item by item; a folder of
 * images from its decoded cache (data/images.c) when there is one, a batch
 * of rows at a time, else decoded image by image (the cache is not made
 * here: that would need the whole folder in memory). NULL after a message. */
aec_stream *aec_stream_open(const char *dir, const char *split, const aec_model *m, int limit, int skip_bad,
                            int max);

/* How many images the split gives at most (fewer if bad ones are skipped). */
int aec_stream_size(const aec_stream *s);
/* 1 if the images have labels (IDX files). */
int aec_stream_labelled(const aec_stream *s);

/* The next batch of at most max images into *b; b->n is 0 at the end. 0, or
 * -1 after a message naming the file. */
int aec_stream_next(aec_stream *s, int max, aec_stream_batch *b);

/* Close it; with skip_bad, a line counting the images it skipped. */
void aec_stream_close(aec_stream *s);

#endif
