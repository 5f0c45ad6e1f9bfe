/* io/npy.h: .npy beyond aec.h (npy.c). */
#ifndef AEC_IO_NPY_H
#define AEC_IO_NPY_H

#include <stdint.h>
#include <stdio.h>

/* A uint8 .npy opened, its header checked as aec_npy_read_u8 checks it and
 * its shape in ndim and shape: the file is left at the first byte of the
 * data, for reading it a part at a time. NULL after a message. */
FILE *aec_npy_open_u8(const char *path, int *ndim, int64_t shape[4]);

#endif
