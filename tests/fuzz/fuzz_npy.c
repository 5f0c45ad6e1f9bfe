/* fuzz_npy.c: libFuzzer target for the .npy reader (runtime/npy.c): each
 * input is read as float32 (latents, eps, inputs for the CLI) and as uint8
 * (the decoded-image cache of images.c). */
#include "aec.h"
#include "fuzz.h"

static void check(const void *data, size_t elem, int ndim, const int64_t shape[4])
{
    size_t n = 1;
    if (ndim < 1 || ndim > 4)
        abort();
    for (int d = 0; d < ndim; d++)
        n *= (size_t)shape[d];
    volatile uint8_t x = 0;
    for (size_t k = 0; k < n * elem; k++)
        x ^= ((const uint8_t *)data)[k];  /* every byte the shape claims must be readable */
    (void)x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, "npy");
    float *f;
    uint8_t *u;
    int ndim;
    int64_t shape[4];
    if (aec_npy_read_f32(path, &f, &ndim, shape) == 0) {
        check(f, sizeof *f, ndim, shape);
        free(f);
    }
    if (aec_npy_read_u8(path, &u, &ndim, shape) == 0) {
        check(u, 1, ndim, shape);
        free(u);
    }
    return 0;
}
