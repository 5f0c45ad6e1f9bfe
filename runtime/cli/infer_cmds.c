/* infer_cmds.c: the commands that run a trained model: eval, reconstruct,
 * encode, decode, sample, interpolate. */
#include "aec.h"
#include "cli/cli.h"
#include "core/floats.h"
#include "exec/synth.h"
#include "io/params.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

int aec_cmd_eval(const aec_model *m, const cli_opts *o)
{
    aec_dataset d = { 0 };
    if (aec_cli_load_data(m, o, o->split, o->limit, NULL, &d) != 0)
        return 1;
    float *params = aec_cli_load_weights(m, o->weights);
    double loss = params ? aec_evaluate(m, params, &d, o->batch) : NAN;
    if (params && !isnan(loss))
        printf("loss %.8g\n", loss);
    free(params);
    aec_dataset_free(&d);
    return params && !isnan(loss) ? 0 : 1;
}

/* Originals in the top row, their reconstructions under them. */
int aec_cmd_reconstruct(const aec_model *m, const cli_opts *o)
{
    aec_dataset d = { 0 };
    if (aec_cli_load_data(m, o, o->split, o->n, NULL, &d) != 0)
        return 1;
    size_t chw = aec_cli_image_floats(m);
    float *params = aec_cli_load_weights(m, o->weights);
    float *grid = params ? aec_alloc_floats(2 * (size_t)d.n * chw, "images") : NULL;
    int rc = grid ? 0 : 1;
    if (rc == 0) {
        memcpy(grid, d.x, (size_t)d.n * chw * sizeof(float));
        rc = aec_run(m, params, AEC_RUN_RECONSTRUCT, d.x, d.n, grid + (size_t)d.n * chw) != 0
          || aec_png_write_grid(o->out, grid, 2 * d.n, d.n, m->in_c, m->in_h, m->in_w,
                                m->in_lo, m->in_hi) != 0;
    }
    free(grid);
    free(params);
    aec_dataset_free(&d);
    return rc;
}

static int write_labels(const char *path, const aec_dataset *d)
{
    if (!d->labels) {
        aec_error("%s: the data set has no labels to write", path);
        return -1;
    }
    return aec_npy_write_i64(path, d->labels, d->n);
}

int aec_cmd_encode(const aec_model *m, const cli_opts *o)
{
    aec_dataset d = { 0 };
    if (aec_cli_load_data(m, o, o->split, o->limit, NULL, &d) != 0)
        return 1;
    float *params = aec_cli_load_weights(m, o->weights);
    float *z = params ? aec_alloc_floats((size_t)d.n * m->latent, "latents") : NULL;
    int64_t shape[2] = { d.n, m->latent };
    int rc = !z
          || aec_run(m, params, AEC_RUN_ENCODE, d.x, d.n, z) != 0
          || aec_npy_write_f32(o->out, z, 2, shape) != 0
          || (o->labels && write_labels(o->labels, &d) != 0);
    free(z);
    free(params);
    aec_dataset_free(&d);
    return rc;
}

/* Z.npy must be float32 [N, Z] with the model's Z. */
static int read_latents(const aec_model *m, const char *path, float **z, int *n)
{
    int ndim = 0;
    int64_t s[4] = { 0, 0, 0, 0 };
    if (aec_npy_read_f32(path, z, &ndim, s) != 0)
        return -1;
    if (ndim == 2 && s[1] == m->latent && s[0] >= 1 && s[0] <= INT_MAX / 2) {
        *n = (int)s[0];
        if (aec_check_finite(path, "the latents", *z, (size_t)*n * m->latent) == 0)
            return 0;
    } else if (ndim == 2)
        aec_error("%s: latents of shape [%" PRId64 ", %" PRId64 "]; the model's are [N, %d]",
                  path, s[0], s[1], m->latent);
    else
        aec_error("%s: latents with %d dimension%s; the model's are [N, %d]", path, ndim,
                  ndim == 1 ? "" : "s", m->latent);
    free(*z);
    *z = NULL;
    return -1;
}

int aec_cmd_decode(const aec_model *m, const cli_opts *o)
{
    float *z = NULL;
    int n = 0;
    if (read_latents(m, o->latents, &z, &n) != 0)
        return 1;
    float *params = aec_cli_load_weights(m, o->weights);
    float *y = params ? aec_alloc_floats((size_t)n * aec_cli_image_floats(m), "images") : NULL;
    int cols = o->cols < n ? o->cols : n;
    int rc = !y
          || aec_run(m, params, AEC_RUN_DECODE, z, n, y) != 0
          || aec_png_write_grid(o->out, y, n, cols, m->in_c, m->in_h, m->in_w,
                                m->in_lo, m->in_hi) != 0;
    free(y);
    free(params);
    free(z);
    return rc;
}

/* z [n, Z] through the decoder into a PNG grid. */
static int decode_to_png(const aec_model *m, const float *params, const float *z, int n, int cols,
                         const char *path)
{
    float *y = aec_alloc_floats((size_t)n * aec_cli_image_floats(m), "images");
    int rc = !y
          || aec_run(m, params, AEC_RUN_DECODE, z, n, y) != 0
          || aec_png_write_grid(path, y, n, cols < n ? cols : n, m->in_c, m->in_h, m->in_w,
                                m->in_lo, m->in_hi) != 0;
    free(y);
    return rc;
}

int aec_cmd_sample(const aec_model *m, const cli_opts *o)
{
    if (!m->variational) {
        aec_error("sample: model '%s' has no variational latent (latent gaussian(Z)), so no prior to "
                  "sample from; try interpolate", m->name);
        return 1;
    }
    float *params = aec_cli_load_weights(m, o->weights);
    float *z = params ? aec_alloc_floats((size_t)o->n * m->latent, "latents") : NULL;
    int rc = 1;
    if (z) {
        aec_prior_latents(m, o->seed, o->n, z);
        rc = decode_to_png(m, params, z, o->n, o->cols, o->out);
    }
    free(z);
    free(params);
    return rc;
}

/* Rows from and to of src (n rows of Z) into a and b. */
static int pick_rows(const aec_model *m, const cli_opts *o, const float *src, int n, float *a, float *b)
{
    if (o->from >= n || o->to >= n) {
        aec_error("interpolate: --from %d --to %d, but there are only %d %s", o->from, o->to, n,
                  o->latents ? "latents" : "images");
        return -1;
    }
    memcpy(a, src + (size_t)o->from * m->latent, (size_t)m->latent * sizeof *a);
    memcpy(b, src + (size_t)o->to * m->latent, (size_t)m->latent * sizeof *b);
    return 0;
}

/* The two ends: rows of --latents, or the encodings (mu of a VAE) of two images. */
static int interp_ends(const aec_model *m, const cli_opts *o, const float *params, float *a, float *b)
{
    float *src = NULL;
    int n = 0, rc = -1;
    if (o->latents) {
        if (read_latents(m, o->latents, &src, &n) == 0)
            rc = pick_rows(m, o, src, n, a, b);
        free(src);
        return rc;
    }
    if (!o->data) {
        aec_error("interpolate: give --data DIR (and --from, --to) or --latents Z.npy");
        return -1;
    }
    aec_dataset d;
    int last = o->from > o->to ? o->from : o->to;
    int limit = last < INT_MAX ? last + 1 : INT_MAX;   /* --to 2147483647 overflowed */
    if (aec_cli_load_data(m, o, o->split, limit, NULL, &d) != 0)
        return -1;
    src = aec_alloc_floats((size_t)d.n * m->latent, "latents");
    if (src && aec_run(m, params, AEC_RUN_ENCODE, d.x, d.n, src) == 0)
        rc = pick_rows(m, o, src, d.n, a, b);
    free(src);
    aec_dataset_free(&d);
    return rc;
}

int aec_cmd_interpolate(const aec_model *m, const cli_opts *o)
{
    float *params = aec_cli_load_weights(m, o->weights);
    float *ends = params ? aec_alloc_floats(2 * (size_t)m->latent, "latents") : NULL;
    float *z = ends ? aec_alloc_floats((size_t)o->steps * m->latent, "latents") : NULL;
    int rc = 1;
    if (z && interp_ends(m, o, params, ends, ends + m->latent) == 0) {
        aec_interpolate_latents(ends, ends + m->latent, m->latent, o->steps, strcmp(o->mode, "slerp") == 0, z);
        rc = decode_to_png(m, params, z, o->steps, o->steps, o->out);
    }
    free(z);
    free(ends);
    free(params);
    return rc;
}
