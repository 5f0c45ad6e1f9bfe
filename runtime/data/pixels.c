/* pixels.c: 8-bit pixels into the model's input range, for every kind of
 * data set (IDX files in dataset.c, folders of images in images.c). */
#include "aec.h"
#include "data/pixels.h"

void aec_pixels_to_range(const aec_model *m, const uint8_t *u8, size_t n, float *x)
{
    float lut[256];
    for (int p = 0; p < 256; p++)
        lut[p] = m->in_lo + (m->in_hi - m->in_lo) * (float)p / 255.0f;
    for (size_t i = 0; i < n; i++)
        x[i] = lut[u8[i]];
}
