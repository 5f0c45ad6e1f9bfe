/* params.c: a model's parameters as safetensors tensors: saved with the
 * names and shapes of its table, loaded with every name and shape checked. */
#include "aec.h"
#include "io/params.h"
#include "io/safetensors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One parameter-shaped tensor: the parameter itself, its gradient, or an
 * optimizer moment, whichever array `base` is. */
aec_tensor aec_param_tensor(const aec_param *p, const float *base, const char *name)
{
    aec_tensor t = { .name = name, .ndim = p->ndim, .data = base + p->offset };
    for (int d = 0; d < p->ndim && d < 4; d++)
        t.shape[d] = p->shape[d];
    return t;
}

void aec_param_tensors(const aec_model *m, const float *params, aec_tensor *t)
{
    for (int i = 0; i < m->n_tensors; i++)
        t[i] = aec_param_tensor(&m->params[i], params, m->params[i].name);
}

int aec_save_params(const char *path, const aec_model *m, const float *params,
                    const char *metadata_json)
{
    aec_tensor *t = malloc(((size_t)m->n_tensors + 1) * sizeof *t);
    if (!t) {
        aec_error("%s: out of memory", path);
        return -1;
    }
    aec_param_tensors(m, params, t);
    int rc = aec_safetensors_write(path, t, m->n_tensors, metadata_json);
    free(t);
    return rc;
}

static int load_one(const char *path, const aec_tensor_file *f, const aec_param *p,
                       float *params)
{
    int64_t want[4];
    char have_s[96], want_s[96];
    int i = aec_tensor_file_index(f, p->name), same;
    if (i < 0) {
        aec_error("%s: no tensor '%s'", path, p->name);
        return -1;
    }
    same = f->ndim[i] == p->ndim;
    for (int d = 0; d < p->ndim && d < 4; d++) {
        want[d] = p->shape[d];
        same = same && f->shape[i][d] == want[d];
    }
    if (!same) {
        aec_shape_str(have_s, f->shape[i], f->ndim[i]);
        aec_shape_str(want_s, want, p->ndim < 4 ? p->ndim : 4);
        aec_error("%s: tensor '%s' has shape %s, the model expects %s",
                  path, p->name, have_s, want_s);
        return -1;
    }
    if (aec_shape_numel(f->shape[i], f->ndim[i]) != p->numel) {
        aec_error("%s: tensor '%s': the model's numel %zu does not match its shape "
                  "(a compiler bug)", path, p->name, p->numel);
        return -1;
    }
    return aec_check_finite(path, p->name, f->data[i], p->numel) != 0 ? -1
         : (memcpy(params + p->offset, f->data[i], p->numel * sizeof(float)), 0);
}

/* A NaN weight evaluated to a plausible loss while relu hid it; now that
 * NaN propagates it would only give NaN everywhere, so it is named here. */
int aec_check_finite(const char *path, const char *what, const float *x, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (!isfinite(x[k])) {
            aec_error("%s: %s holds %s at index %zu (of %zu values)", path, what,
                      isnan(x[k]) ? "a NaN" : "an Inf", k, n);
            return -1;
        }
    return 0;
}

/* A tensor the model does not have means the file is another model's (or a
 * layer was renamed): ignoring it silently hid that. With every parameter
 * found and names unique, there is one iff the file has more tensors. */
static int no_extra(const char *path, const aec_tensor_file *f, const aec_model *m)
{
    if (f->n <= m->n_tensors)
        return 0;
    for (int i = 0; i < f->n; i++) {
        int k = 0;
        while (k < m->n_tensors && strcmp(f->names[i], m->params[k].name) != 0)
            k++;
        if (k == m->n_tensors) {
            aec_error("%s: tensor '%s' is not a parameter of model '%s' (%d tensors the "
                      "model does not have)", path, f->names[i], m->name, f->n - m->n_tensors);
            return -1;
        }
    }
    return 0;
}

/* Every mismatch is reported, not just the first, so one run shows them all. */
int aec_params_from_file(const char *path, const aec_tensor_file *f, const aec_model *m, float *params)
{
    int bad = 0;
    for (int i = 0; i < m->n_tensors; i++)
        bad |= load_one(path, f, &m->params[i], params) != 0;
    return bad || no_extra(path, f, m) != 0 ? -1 : 0;
}

int aec_load_params(const char *path, const aec_model *m, float *params)
{
    aec_tensor_file f;
    if (aec_safetensors_read(path, &f) != 0)
        return -1;
    int rc = aec_params_from_file(path, &f, m, params);
    aec_tensor_file_free(&f);
    return rc;
}
