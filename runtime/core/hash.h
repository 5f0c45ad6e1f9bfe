/* core/hash.h: 64-bit FNV-1a, the one hash of the runtime: the decoded-image
 * cache's name (data/cache.c) and the model a data-parallel job's ranks
 * must share (cli/parallel.c). */
#ifndef AEC_CORE_HASH_H
#define AEC_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define AEC_FNV_START 0xcbf29ce484222325ULL

uint64_t aec_fnv(uint64_t h, const void *p, size_t n);
/* A string with its NUL, so that "ab", "c" and "a", "bc" hash apart; NULL
 * hashes as "". */
uint64_t aec_fnv_str(uint64_t h, const char *s);
/* An integer as 8 little-endian bytes, the same on every host. */
uint64_t aec_fnv_int(uint64_t h, int64_t v);

#endif
