/* exec/optim.h: the optimizer's step in parts, for the workers (optim.c). */
#ifndef AEC_EXEC_OPTIM_H
#define AEC_EXEC_OPTIM_H

#include "aec.h"

/* Count a step (before its update, as PyTorch does), then update
 * parameters [lo, hi) for it, in parts if need be. */
void aec_optim_count_step(aec_optim *o);
void aec_optim_step_part(aec_optim *o, float *params, const float *grads, size_t lo, size_t hi);

#endif
