/* lower/target.h: the machine the generated C is shaped for. The only
 * place for the vector width, the register count and the cache sizes that
 * kernel geometry (lower/geometry.c) and the emitter's register blocks are
 * sized from. */
#ifndef TARGET_H
#define TARGET_H
#include <stddef.h>

typedef struct {
    const char *name;
    int vec;            /* floats per vector register */
    int regs;           /* vector registers */
    int fma;            /* fused multiply-add */
    int line;           /* floats per cache line */
    size_t l1, l2;      /* bytes of L1 data cache and of L2 a core counts on */
} aec_target;

/* x86-64-v4 (AVX-512): 32 registers of 16 floats. */
extern const aec_target aec_x86_64_v4;

/* The target the compiler shapes kernels for: aec_x86_64_v4. */
const aec_target *aec_target_now(void);

#endif
