/* exec/profile.h: the per-layer profile's recording side (profile.c). */
#ifndef AEC_EXEC_PROFILE_H
#define AEC_EXEC_PROFILE_H

#include "aec.h"

/* Begin, then aec_profile_step after each training step with its seconds
 * and the optimizer's, then print. */
int  aec_profile_begin(const aec_model *m);
void aec_profile_step(double step_secs, double optim_secs);
/* A data-parallel step's allreduce (with its wait for the slowest rank). */
void aec_profile_allreduce(double secs);
void aec_profile_print(FILE *f, int B, int workers);
/* The same rows for scripts: a header, then layer,line,forward_ms,backward_ms
 * a layer (the loss, optimizer and other rows left out). 0, or -1 (reported). */
int  aec_profile_csv(const char *path);
void aec_profile_end(void);

#endif
