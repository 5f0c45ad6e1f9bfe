/* io/safetensors.h: what params.c shares with the safetensors reader beyond aec.h (safetensors.c). */
#ifndef AEC_IO_SAFETENSORS_H
#define AEC_IO_SAFETENSORS_H

#include "aec.h"

/* The index of tensor `name` in f, or -1. */
int aec_tensor_file_index(const aec_tensor_file *f, const char *name);
/* Elements in a shape, or SIZE_MAX if they would not fit in memory as floats. */
size_t aec_shape_numel(const int64_t *shape, int ndim);
/* "[32,1,3,3]" into buf (at least 96 bytes). */
void aec_shape_str(char *buf, const int64_t *shape, int ndim);

#endif
