/* test_parity.c: the generated C against PyTorch, the oracle (as llm.c's
 * test_gpt2.c is against its reference). For the same parameters and batch,
 * tests/parity/reference.py (Debian's torch, /usr/bin/python3) writes the
 * loss, every parameter's gradient and the parameters after one optimizer
 * step; each must agree with aec's within 1e-4, measured per tensor as
 * max |aec - torch| / max |torch|. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "aec.h"
#include "core/floats.h"
#include "exec/batch.h"
#include "io/params.h"
#include "celeba_vae.h"
#include "fmnist_cae.h"
#include "tiny_all.h"
#include "util.h"

static const double TOLERANCE = 1e-4;
static const char *PYTHON = "/usr/bin/python3";

static int torch_available(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s -c 'import torch' >/dev/null 2>&1", PYTHON);
    return access(PYTHON, X_OK) == 0 && system(cmd) == 0;
}

/* Compare one tensor of REF (named prefix + name) with ours. */
static void compare(const aec_tensor_file *ref, const char *prefix, const aec_param *p, const float *ours)
{
    char name[128];
    snprintf(name, sizeof name, "%s%s", prefix, p->name);
    const float *theirs = aec_tensor_file_find(ref, name, p->numel);
    assert_non_null(theirs);
    double d = rel_diff(ours, theirs, p->numel);
    print_message("  %-24s %.2e\n", name, d);
    assert_true(d <= TOLERANCE);
}

static void parity(const aec_model *m, int B)
{
    if (!torch_available())
        skip();     /* cmocka prints it; the reason: */
    char dir[] = "/tmp/aec-parity-XXXXXX";
    assert_non_null(mkdtemp(dir));
    float *p = aec_alloc_floats(m->n_params, "parameters"), *g = aec_alloc_floats(m->n_params, "grads");
    aec_init_params(m, p, 7);
    char w[256], xs[256], ref[256], es[256], eps_opt[300] = "", eps_out[300] = "";
    snprintf(w, sizeof w, "%s/w.safetensors", dir);
    snprintf(xs, sizeof xs, "%s/x.npy", dir);
    snprintf(es, sizeof es, "%s/eps.npy", dir);
    snprintf(ref, sizeof ref, "%s/ref.safetensors", dir);
    if (m->variational) {   /* both sides get the same noise */
        snprintf(eps_out, sizeof eps_out, "--eps-out %s", es);
        snprintf(eps_opt, sizeof eps_opt, "--eps %s", es);
    }
    assert_int_equal(aec_save_params(w, m, p, NULL), 0);
    assert_int_equal(shell("%s %s/tests/parity/make_input.py --model %s --batch %d --seed 3 --out %s %s 2>/dev/null",
                         PYTHON, AEC_ROOT, m->name, B, xs, eps_out), 0);
    assert_int_equal(shell("%s %s/tests/parity/reference.py --model %s --weights %s --input %s %s --out %s >/dev/null",
                         PYTHON, AEC_ROOT, m->name, w, xs, eps_opt, ref), 0);

    float *x;
    int ndim;
    int64_t shape[4];
    assert_int_equal(aec_npy_read_f32(xs, &x, &ndim, shape), 0);
    assert_int_equal(shape[0], B);
    float *arena = aec_arena_alloc(m, B), *eps = NULL;
    if (m->variational) {
        assert_int_equal(aec_npy_read_f32(es, &eps, &ndim, shape), 0);
        assert_int_equal(shape[0] * shape[1], (int64_t)B * m->latent);
        aec_put_eps(m, arena, eps, B);
    }
    float loss = aec_forward(m, p, arena, x, B);
    m->backward(p, g, arena, B);

    aec_tensor_file f;
    assert_int_equal(aec_safetensors_read(ref, &f), 0);
    const float *tloss = aec_tensor_file_find(&f, "loss", 1);
    assert_non_null(tloss);
    print_message("%s: loss aec %.8f torch %.8f\n", m->name, loss, *tloss);
    assert_true(fabs(loss - *tloss) <= TOLERANCE * fabs(*tloss));
    for (int i = 0; i < m->n_tensors; i++)
        compare(&f, "grad.", &m->params[i], g + m->params[i].offset);

    /* The step from PyTorch's own gradients: Adam's first step is lr * g /
     * (|g| + eps), proportional to g where |g| <= eps = 1e-8, so gradients that
     * small (summed in another order) would show their float noise here. The
     * gradients were compared above; this compares the optimizer. */
    for (int i = 0; i < m->n_tensors; i++) {
        char name[128];
        snprintf(name, sizeof name, "grad.%s", m->params[i].name);
        memcpy(g + m->params[i].offset, aec_tensor_file_find(&f, name, m->params[i].numel),
               m->params[i].numel * sizeof *g);
    }
    aec_optim o;
    assert_int_equal(aec_optim_init(&o, &m->defaults.optim, m->n_params), 0);
    aec_optim_step(&o, p, g);
    for (int i = 0; i < m->n_tensors; i++)
        compare(&f, "step.", &m->params[i], p + m->params[i].offset);

    aec_optim_free(&o);
    aec_tensor_file_free(&f);
    free(x);
    free(eps);
    free(arena);
    free(p);
    free(g);
    shell("rm -rf %s", dir);
}

static void fmnist_cae_matches_torch(void **state) { parity(&fmnist_cae_model, 8); }
static void tiny_all_matches_torch(void **state) { parity(&tiny_all_model, 4); }
static void celeba_vae_matches_torch(void **state) { parity(&celeba_vae_model, 4); }

int main(void)
{
    if (!torch_available())
        printf("test_parity: %s has no torch (apt-get install python3-torch): skipping\n", PYTHON);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fmnist_cae_matches_torch),
        cmocka_unit_test(tiny_all_matches_torch),
        cmocka_unit_test(celeba_vae_matches_torch),
    };
    return cmocka_run_group_tests_name("parity with PyTorch", tests, NULL, NULL);
}
