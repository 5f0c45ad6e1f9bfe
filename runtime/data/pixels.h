/* data/pixels.h: 8-bit pixels into a model's input range (pixels.c). */
#ifndef AEC_DATA_PIXELS_H
#define AEC_DATA_PIXELS_H

#include "aec.h"

/* n uint8 pixels p into floats lo + (hi - lo) * p / 255 of the model's input
 * range; for [0, 1] that is p / 255, exactly what torchvision's ToTensor gives. */
void aec_pixels_to_range(const aec_model *m, const uint8_t *u8, size_t n, float *x);

#endif
