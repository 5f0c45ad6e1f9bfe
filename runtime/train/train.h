/* train/train.h: the training loop's interface (train.c). */
#ifndef AEC_TRAIN_TRAIN_H
#define AEC_TRAIN_TRAIN_H

#include "aec.h"

/* aec_train's result when SIGINT stopped it (128 + SIGINT, as a shell says);
 * after SIGTERM it is 143 (128 + SIGTERM). */
#define AEC_INTERRUPTED 130

typedef struct {
    const char *out_dir;        /* checkpoints and loss.csv go here; must exist */
    aec_train_cfg cfg;          /* epochs, batch, seed, optimizer */
    int resume;                 /* continue from out_dir's checkpoints */
    int seed_given;             /* cfg.seed was asked for: on resume it must match */
    int batch_given, lr_given;  /* the same for cfg.batch and cfg.optim.lr */
    int quiet;                  /* no progress or epoch lines (tests) */
    int profile;                /* time each layer; print the table at the end */
    int workers;                /* slices of each batch run at once; 0: one per core */
    const char *resume_cmd;     /* printed after SIGINT; may be NULL */
    const char *classes;        /* train --classes, as aec_classes_format writes it, or NULL: in
                                 * the checkpoint's metadata ("classes"), for score and report */
} aec_train_opts;

/* Train on `train`, validating on `val` after each epoch. The data sets are
 * loaded by the caller: the loop knows nothing about files of images.
 * 0 on success, 128 + the signal after SIGINT or SIGTERM (AEC_INTERRUPTED
 * after Ctrl-C), 1 on failure (reported). */
int aec_train(const aec_model *m, const aec_train_opts *o,
              const aec_dataset *train, const aec_dataset *val);

#endif
