/* io/params.h: a model's parameters as safetensors files (params.c). */
#ifndef AEC_IO_PARAMS_H
#define AEC_IO_PARAMS_H

#include "aec.h"

/* aec_load_params from a file already read (path for messages). */
int aec_params_from_file(const char *path, const aec_tensor_file *f, const aec_model *m, float *params);

/* One parameter-shaped tensor: the parameter itself, its gradient, or an
 * optimizer moment, whichever array `base` is. */
aec_tensor aec_param_tensor(const aec_param *p, const float *base, const char *name);
/* The parameters as safetensors tensors named as in the table, in its order. */
void aec_param_tensors(const aec_model *m, const float *params, aec_tensor *t);
/* Save the parameters as train does (a state_dict for PyTorch). */
int aec_save_params(const char *path, const aec_model *m, const float *params,
                    const char *metadata_json);

/* Every x[k] finite; else -1 after a message naming path, what and k. */
int aec_check_finite(const char *path, const char *what, const float *x, size_t n);

#endif
