/* core/floats.h: aligned float arrays and their finiteness (floats.c). */
#ifndef AEC_CORE_FLOATS_H
#define AEC_CORE_FLOATS_H

#include <stddef.h>

/* n zeroed floats, 64-byte aligned (a cache line, an AVX-512 vector); NULL,
 * after aec_error naming `what`, on overflow or out of memory. free() it. */
float *aec_alloc_floats(size_t n, const char *what);
/* No NaN or Inf among x[0 .. n). */
int aec_all_finite(const float *x, size_t n);

#endif
