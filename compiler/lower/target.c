/* lower/target.c: the targets aec knows, which one this CPU is, and the one
 * kernels are shaped for. Each register count is the ISA's. The L1 size is
 * the least of the cores each target is found on; the "L2" is the budget
 * for a gemm pass's im2col columns (lower_gemm_tile), 2 MiB everywhere
 * until a target's own is measured. */
#include <string.h>
#include "lower/target.h"

static const aec_target x86_64_v4 = {
    .name = "x86-64-v4", .isa = "AVX-512", .cflags = "-march=x86-64-v4", .cc = "", .level = "x86-64-v4",
    .vec = 16, .regs = 32, .fma = 1, .bcast_held = 0, .line = 16, .l1 = 32 * 1024, .l2 = 2 * 1024 * 1024,
};

static const aec_target x86_64_v3 = {
    .name = "x86-64-v3", .isa = "AVX2", .cflags = "-march=x86-64-v3", .cc = "", .level = "x86-64-v3",
    .vec = 8, .regs = 16, .fma = 1, .bcast_held = 0, .line = 16, .l1 = 32 * 1024, .l2 = 2 * 1024 * 1024,
};

/* x86-64's baseline (SSE2) on an x86 host; elsewhere the C compiler's own. */
static const aec_target generic = {
    .name = "generic", .isa = "SSE2", .cflags = "", .cc = "", .level = "",
    .vec = 4, .regs = 16, .fma = 0, .bcast_held = 0, .line = 16, .l1 = 32 * 1024, .l2 = 2 * 1024 * 1024,
};

/* ARMv8-A: NEON is part of the base ISA. Built by Debian's cross compiler
 * on any other host. */
static const aec_target aarch64 = {
    .name = "aarch64", .isa = "NEON", .cflags = "-march=armv8-a", .level = "",
#if defined(__aarch64__)
    .cc = "",
#else
    .cc = "aarch64-linux-gnu-gcc",
#endif
    .vec = 4, .regs = 32, .fma = 1, .bcast_held = 1, .line = 16, .l1 = 32 * 1024, .l2 = 2 * 1024 * 1024,
};

const aec_target *const aec_targets[] = { &x86_64_v4, &x86_64_v3, &generic, &aarch64, NULL };

static const aec_target *in_use;

const aec_target *aec_target_named(const char *name)
{
    for (int i = 0; aec_targets[i]; i++)
        if (strcmp(aec_targets[i]->name, name) == 0)
            return aec_targets[i];
    return NULL;
}

#if defined(__x86_64__) && defined(__clang__)
/* clang 14 (the fuzz build, tests/fuzz) knows the levels' features but not
 * their names, which GCC takes: the features that set v3 and v4 apart. */
#define CPU_V3() (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") \
                  && __builtin_cpu_supports("bmi2"))
#define CPU_V4() (CPU_V3() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") \
                  && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") \
                  && __builtin_cpu_supports("avx512vl"))
#else
#define CPU_V3() __builtin_cpu_supports("x86-64-v3")
#define CPU_V4() __builtin_cpu_supports("x86-64-v4")
#endif

const aec_target *aec_target_host(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (CPU_V4())
        return &x86_64_v4;
    if (CPU_V3())
        return &x86_64_v3;
    return &generic;
#elif defined(__aarch64__)
    return &aarch64;
#else
    return &generic;
#endif
}

/* A target runs here when it is the host's or below it on the host's line
 * (v4 runs v3 and generic code; aarch64 runs generic code). */
int aec_target_runs_here(const aec_target *t)
{
    const aec_target *h = aec_target_host();
    if (t == h || t == &generic)
        return 1;
    return h == &x86_64_v4 && t == &x86_64_v3;
}

void aec_target_use(const aec_target *t)
{
    in_use = t;
}

const aec_target *aec_target_now(void)
{
    if (!in_use)
        in_use = aec_target_host();
    return in_use;
}
