/* lower/target.h: the machine the generated C is shaped for. The only
 * place for the vector width, the register count and the cache sizes that
 * kernel geometry (lower/geometry.c) and the emitter's register blocks are
 * sized from, and for the C compiler flags and CPU features that go with
 * them. */
#ifndef TARGET_H
#define TARGET_H
#include <stddef.h>

typedef struct {
    const char *name;       /* what --target takes: x86-64-v4, x86-64-v3, generic, aarch64 */
    const char *isa;        /* what one vector register is, for comments: "AVX-512" */
    const char *cflags;     /* the C compiler's flags that select it ("" for none) */
    const char *cc;         /* the C compiler that builds for it, where not the host's ("" for CC) */
    const char *level;      /* the name GCC's __builtin_cpu_supports knows the ISA level by, that
                             * the executable checks at start ("" where the base ISA is all it needs) */
    int vec;                /* floats per vector register */
    int regs;               /* vector registers */
    int fma;                /* fused multiply-add */
    int bcast_held;         /* 1: every value a register block broadcasts holds a register of its
                             * own while the block runs (GCC on AArch64 multiplies by a lane);
                             * 0: one register serves them all (AVX2), or none (AVX-512 reads them
                             * from memory) */
    int line;               /* floats per cache line */
    size_t l1, l2;          /* bytes of L1 data cache and of L2 a core counts on */
} aec_target;

/* The targets aec knows, in the order `aec targets` lists them; then NULL. */
extern const aec_target *const aec_targets[];

/* The target named name, or NULL. */
const aec_target *aec_target_named(const char *name);

/* The best target this CPU runs, detected at run time: x86-64-v4 where it
 * has AVX-512 (F, BW, CD, DQ, VL), x86-64-v3 where it has AVX2 and FMA,
 * aarch64 on ARM, generic elsewhere. */
const aec_target *aec_target_host(void);

/* Whether this CPU has every feature target t needs (1), or not (0). */
int aec_target_runs_here(const aec_target *t);

/* The target kernels are shaped for from now on (the host's until set). */
void aec_target_use(const aec_target *t);
const aec_target *aec_target_now(void);

#endif
