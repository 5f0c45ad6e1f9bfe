/* hash.c: 64-bit FNV-1a (core/hash.h). */
#include "core/hash.h"

#include <string.h>

uint64_t aec_fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n--)
        h = (h ^ *b++) * 0x100000001b3ULL;
    return h;
}

uint64_t aec_fnv_str(uint64_t h, const char *s)
{
    return aec_fnv(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

uint64_t aec_fnv_int(uint64_t h, int64_t v)
{
    uint8_t b[8];
    for (int k = 0; k < 8; k++)
        b[k] = (uint8_t)((uint64_t)v >> (8 * k));
    return aec_fnv(h, b, 8);
}
