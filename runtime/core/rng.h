/* core/rng.h: what the runtime draws from aec_rng beyond aec.h (rng.c). */
#ifndef AEC_CORE_RNG_H
#define AEC_CORE_RNG_H

#include "aec.h"

/* Uniform in [0, n), n > 0, unbiased. */
uint64_t aec_rng_below(aec_rng *r, uint64_t n);
/* A seed for stream `stream` of run `seed` (e.g. the shuffle of one epoch):
 * a function of both alone, so a resumed run draws what an uninterrupted one
 * would, and unrelated to the stream aec_rng_seed(seed) itself gives. */
uint64_t aec_rng_seed_mix(uint64_t seed, uint64_t stream);

#endif
