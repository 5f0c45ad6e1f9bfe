/* floats.c: aligned float arrays, and the finiteness test run over every
 * gradient of every training step. */
#include "aec.h"
#include "core/floats.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

float *aec_alloc_floats(size_t n, const char *what)
{
    void *p = NULL;
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX / sizeof(float)) {
        aec_error("%s: %zu floats is more than memory can address", what, n);
        return NULL;
    }
    if (posix_memalign(&p, 64, n * sizeof(float)) != 0) {
        aec_error("%s: out of memory (%zu MB)", what, n * sizeof(float) >> 20);
        return NULL;
    }
    memset(p, 0, n * sizeof(float));
    return p;
}

/* By the bits (a NaN or an Inf has every exponent bit set), so the loop is
 * an integer OR that the compiler vectorises: it runs over every gradient
 * each training step. */
static uint32_t not_finite(const float *x)
{
    uint32_t u;
    memcpy(&u, x, sizeof u);
    return (u & 0x7f800000u) == 0x7f800000u;
}

int aec_all_finite(const float *x, size_t n)
{
    uint32_t bad = 0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16)        /* 16 at a time: vectorised even at -O2 */
        for (int k = 0; k < 16; k++)
            bad |= not_finite(x + i + k);
    for (; i < n; i++)
        bad |= not_finite(x + i);
    return !bad;
}

void aec_float_shortest(char *buf, size_t size, float x)
{
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, size, "%.*g", digits, (double)x);
        if (strtof(buf, NULL) == x)
            return;
    }
}
