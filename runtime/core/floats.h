/* core/floats.h: aligned float arrays, their finiteness, and a float's
 * shortest decimal (floats.c). */
#ifndef AEC_CORE_FLOATS_H
#define AEC_CORE_FLOATS_H

#include <stddef.h>

/* n zeroed floats, 64-byte aligned (a cache line, an AVX-512 vector); NULL,
 * after aec_error naming `what`, on overflow or out of memory. free() it. */
float *aec_alloc_floats(size_t n, const char *what);
/* No NaN or Inf among x[0 .. n). */
int aec_all_finite(const float *x, size_t n);
/* x in the fewest digits (%g, 1 to 9) that read back as x: 0.002, not
 * 0.00200000009; what a user wrote, as checkpoints record it. */
void aec_float_shortest(char *buf, size_t size, float x);

#endif
