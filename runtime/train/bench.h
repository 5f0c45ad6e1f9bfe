/* train/bench.h: training and inference timed on synthetic batches (bench.c). */
#ifndef AEC_TRAIN_BENCH_H
#define AEC_TRAIN_BENCH_H

#include "aec.h"

typedef struct {
    int B;
    double seconds;         /* for each of training and inference */
    uint64_t seed;
    int train, infer;       /* which to measure */
    int workers;            /* slices of each batch at once; 0: one per core */
    int profile;            /* then a per-layer profile of training */
    const char *profile_csv;   /* and its rows into this file as CSV (aec_profile_csv); NULL: none */
} aec_bench_opts;

/* Train and/or infer on synthetic batches; print one line of key=value
 * results (and the profile). 0, or -1 (reported). */
int aec_bench(const aec_model *m, const aec_bench_opts *o);

#endif
