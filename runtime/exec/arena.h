/* exec/arena.h: the arena beyond aec.h (arena.c). */
#ifndef AEC_EXEC_ARENA_H
#define AEC_EXEC_ARENA_H

#include "aec.h"

/* Copy images idx[0..B) of d into x as one contiguous NCHW batch. */
void aec_gather(const aec_dataset *d, const int *idx, int B, float *x);
/* A variational model's eps for B images, [B, Z] N(0, 1) draws from r, into
 * eps (nothing for other models): what aec_draw_eps puts in an arena. */
void aec_draw_normals(const aec_model *m, float *eps, int B, aec_rng *r);

#endif
