/* lower/target.c: the targets aec knows, and the one it shapes kernels for. */
#include "lower/target.h"

const aec_target aec_x86_64_v4 = {
    .name = "x86-64-v4",
    .vec = 16,
    .regs = 32,
    .fma = 1,
    .line = 16,
    .l1 = 32 * 1024,
    .l2 = 2 * 1024 * 1024,
};

const aec_target *aec_target_now(void)
{
    return &aec_x86_64_v4;
}
