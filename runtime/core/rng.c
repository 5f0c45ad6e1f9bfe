/* rng.c: the runtime's one random number generator.
 *
 * xoshiro256** (Blackman and Vigna), seeded through splitmix64. Everything is
 * integer arithmetic on uint64_t, so a seed gives the same stream on every
 * platform and compiler: a run can be repeated, and resumed, bit for bit.
 */
#include "aec.h"
#include "core/rng.h"

#include <math.h>

/* M_PI is not in C11 or POSIX proper. */
static const double two_pi = 6.283185307179586476925286766559;

/* splitmix64: spreads any seed, even 0 or 1, over all 64 bits, so that the
 * xoshiro state is never all zero and nearby seeds give unrelated streams. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void aec_rng_seed(aec_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

uint64_t aec_rng_seed_mix(uint64_t seed, uint64_t stream)
{
    uint64_t x = seed;
    uint64_t a = splitmix64(&x);
    x = a ^ (stream * 0xd1b54a32d192ed03ULL);
    return splitmix64(&x);
}

uint64_t aec_rng_next(aec_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* The top 24 bits: exactly the floats k / 2^24, evenly spaced, never 1. */
float aec_rng_uniform(aec_rng *r)
{
    return (float)(aec_rng_next(r) >> 40) * 0x1p-24f;
}

/* 53 bits for Box-Muller: with only 24, log(u) would cut the tails at 5.8. */
static double uniform53(aec_rng *r)
{
    return (double)(aec_rng_next(r) >> 11) * 0x1p-53;
}

/* Box-Muller, keeping one of the pair: a cached second value would have to
 * live in aec_rng, and then a copied generator would not replay the same. */
float aec_rng_normal(aec_rng *r)
{
    double u1 = 1.0 - uniform53(r);         /* (0, 1]: log(u1) is finite */
    double u2 = uniform53(r);
    return (float)(sqrt(-2.0 * log(u1)) * cos(two_pi * u2));
}

/* Uniform in [0, n) without the bias of a bare `% n`: draws from the last,
 * incomplete block of n values (below 2^64 mod n) are rejected. */
uint64_t aec_rng_below(aec_rng *r, uint64_t n)
{
    uint64_t threshold = (0 - n) % n;       /* 2^64 mod n */
    for (;;) {
        uint64_t x = aec_rng_next(r);
        if (x >= threshold)
            return x % n;
    }
}

/* Fisher-Yates: every permutation of idx is equally likely. */
void aec_rng_shuffle(aec_rng *r, int *idx, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)aec_rng_below(r, (uint64_t)i + 1);
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}
