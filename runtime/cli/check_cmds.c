/* check_cmds.c: the commands that check and measure the compiled model:
 * init, grad, step (the parity tests' oracles), info, gradcheck, bench. */
#include "aec.h"
#include "cli/cli.h"
#include "core/ranks.h"
#include "core/blas.h"
#include "core/floats.h"
#include "core/rng.h"
#include "exec/batch.h"
#include "exec/synth.h"
#include "io/params.h"
#include "train/bench.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

int aec_cmd_init(const aec_model *m, const cli_opts *o)
{
    char extra[64], meta[512];
    float *params = aec_alloc_floats(m->n_params, "parameters");
    if (!params)
        return 1;
    aec_init_params(m, params, o->seed);
    snprintf(extra, sizeof extra, ",\"epoch\":\"0\",\"seed\":\"%" PRIu64 "\"", o->seed);
    aec_cli_model_meta(m, extra, meta, sizeof meta);
    int rc = aec_save_params(o->out, m, params, meta) != 0;
    free(params);
    return rc;
}

/* E.npy into the arena: a VAE's noise must be given, so that the result is
 * comparable (with PyTorch's, say); other models take none. */
static int put_given_eps(const aec_model *m, const char *path, float *arena, int B)
{
    if (!m->variational) {
        if (path)
            aec_error("--eps: model '%s' has no variational latent", m->name);
        return path ? -1 : 0;
    }
    if (!path) {
        aec_error("model '%s' samples its latent: give the noise with --eps E.npy, float32 [%d, %d]",
                  m->name, B, m->latent);
        return -1;
    }
    float *eps = NULL;
    int ndim = 0;
    int64_t s[4] = {0, 0, 0, 0};
    if (aec_npy_read_f32(path, &eps, &ndim, s) != 0)
        return -1;
    int ok = ndim == 2 && s[0] == B && s[1] == m->latent;
    if (!ok)
        aec_error("%s: eps must be float32 [%d, %d], one row per input image", path, B, m->latent);
    else if ((ok = aec_check_finite(path, "eps", eps, (size_t)B * m->latent) == 0))
        aec_put_eps(m, arena, eps, B);
    free(eps);
    return ok ? 0 : -1;
}

/* Forward, loss and backward on X.npy: the loss, and the gradients in grads. */
static int batch_gradient(const aec_model *m, const float *params, const char *input,
                          const char *eps, float *grads, float *loss)
{
    float *x = NULL, *arena = NULL;
    int B = 0;
    if (aec_cli_read_batch(m, input, &x, &B) != 0 || !(arena = aec_arena_alloc(m, B))
        || put_given_eps(m, eps, arena, B) != 0) {
        free(x);
        free(arena);
        return -1;
    }
    *loss = aec_forward(m, params, arena, x, B);
    memset(grads, 0, m->n_params * sizeof(float));
    m->backward(params, grads, arena, B);
    free(arena);
    free(x);
    return 0;
}

/* `loss` is a 0-dim tensor, as PyTorch's loss.item()'s tensor is. */
static int write_grads(const aec_model *m, const char *path, const float *grads, const float *loss)
{
    char meta[512];
    aec_tensor *t = malloc(((size_t)m->n_tensors + 1) * sizeof *t);
    if (!t) {
        aec_error("%s: out of memory", path);
        return -1;
    }
    t[0] = (aec_tensor){ .name = "loss", .ndim = 0, .data = loss };
    aec_param_tensors(m, grads, t + 1);
    aec_cli_model_meta(m, NULL, meta, sizeof meta);
    int rc = aec_safetensors_write(path, t, m->n_tensors + 1, meta);
    free(t);
    return rc;
}

int aec_cmd_grad(const aec_model *m, const cli_opts *o)
{
    float loss = 0.0f;
    float *params = aec_cli_load_weights(m, o->weights);
    float *grads = params ? aec_alloc_floats(m->n_params, "gradients") : NULL;
    int rc = !grads
          || batch_gradient(m, params, o->input, o->eps, grads, &loss) != 0
          || write_grads(m, o->out, grads, &loss) != 0;
    free(grads);
    free(params);
    return rc;
}

/* One step of the model's optimizer from fresh state: for parity tests. */
int aec_cmd_step(const aec_model *m, const cli_opts *o)
{
    char meta[512];
    float loss = 0.0f;
    aec_optim opt = { 0 };
    aec_optim_cfg cfg = m->defaults.optim;
    cfg.lr = o->lr;
    float *params = aec_cli_load_weights(m, o->weights);
    float *grads = params ? aec_alloc_floats(m->n_params, "gradients") : NULL;
    int rc = !grads
          || batch_gradient(m, params, o->input, o->eps, grads, &loss) != 0
          || aec_optim_init(&opt, &cfg, m->n_params) != 0;
    if (rc == 0) {
        aec_optim_step(&opt, params, grads);
        aec_cli_model_meta(m, NULL, meta, sizeof meta);
        rc = aec_save_params(o->out, m, params, meta) != 0;
    }
    aec_optim_free(&opt);
    free(grads);
    free(params);
    return rc;
}

int aec_cmd_info(const aec_model *m, const cli_opts *o)
{
    printf("model: %s, input %dx%dx%d in [%g, %g], latent %d, loss %s\n", m->name, m->in_c, m->in_h,
           m->in_w, m->in_lo, m->in_hi, m->latent, m->loss == AEC_LOSS_MSE ? "mse" : "bce");
    printf("parameters: %zu in %d tensors\n", m->n_params, m->n_tensors);
    printf("arena: %zu floats per image (%.1f MiB at batch %d)\n", m->arena_per_image,
           m->arena_per_image * 4.0 * m->defaults.batch / 1048576.0, m->defaults.batch);
    printf("target: %s\n", m->target ? m->target : "unknown");
    printf("blas: OpenBLAS %s, %d threads\n", openblas_get_corename(), openblas_get_num_threads());
    printf("mpi: %s\n", aec_ranks_mpi());     /* "no": this executable trains in one process */
    return 0;
}

/* Random parameters (as init makes them) and a random batch in the input
 * range; every tensor probed at 16 entries. */
int aec_cmd_gradcheck(const aec_model *m, const cli_opts *o)
{
    int B = aec_cli_given(o, "batch") ? o->batch : 2;   /* small: each probe is 3 forward passes */
    size_t n = (size_t)B * m->in_c * m->in_h * m->in_w;
    float *p = aec_alloc_floats(m->n_params, "parameters"), *x = aec_alloc_floats(n, "input");
    aec_gradcheck_result per[256], all;
    int rc = 1;
    if (p && x && m->n_tensors <= 256) {
        aec_rng r;
        aec_init_params(m, p, o->seed);
        aec_rng_seed(&r, aec_rng_seed_mix(o->seed, 1));
        aec_random_images(m, &r, B, x);
        rc = aec_gradcheck(m, p, x, B, 16, 1e-2f, 1e-3, o->seed, per, &all) != 0;
    }
    for (int i = 0; rc == 0 && i < m->n_tensors; i++)
        printf("%-28s worst relative error %.2e, %2d of %d probes at a relu kink%s\n", m->params[i].name,
               per[i].worst, per[i].skipped, per[i].probes, per[i].inconclusive ? ": inconclusive" : "");
    if (rc == 0)
        printf("worst: %.2e over %d probes, %d tensor(s) inconclusive: %s\n", all.worst,
               all.probes - all.skipped, all.inconclusive,
               all.worst < 0.05 ? "ok" : "the backward pass looks wrong");
    free(p);
    free(x);
    return rc || all.worst >= 0.05;
}

int aec_cmd_bench(const aec_model *m, const cli_opts *o)
{
    aec_bench_opts b = { .B = o->batch, .seconds = o->seconds, .seed = o->seed, .profile = o->profile || o->profile_csv,
                         .profile_csv = o->profile_csv, .workers = o->workers,
                         .train = !o->only || !strcmp(o->only, "train"),
                         .infer = !o->only || !strcmp(o->only, "infer") };
    return aec_bench(m, &b) != 0;
}
