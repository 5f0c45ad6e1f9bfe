/* test_gradcheck.c: the generated backward passes against finite
 * differences of the generated forward passes, for every layer kind
 * (tests/models/tiny_all.ae has each one, models/fmnist_cae.ae is the seed
 * model), and a check that the check itself catches a wrong gradient. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "aec.h"
#include "exec/batch.h"
#include "exec/synth.h"
#include "fmnist_cae.h"
#include "tiny_all.h"
#include "tiny_direct.h"
#include "tiny_gemm.h"
#include "tiny_vae.h"
#include "tiny_vae_fused.h"
#include "tiny_phases.h"
#include "tiny_phases_gemm.h"
#include "tiny_panels.h"
#include "tiny_recompute.h"
#include "tiny_vae_recompute.h"
#include "tiny_wino.h"
#include "tiny_wino_gemm.h"
#include "util.h"

enum { PROBES = 32 };
static const float H = 1e-2f;
static const double FLOOR = 1e-3, TOLERANCE = 0.05;

/* A batch of B images in (lo, hi), away from the ends. */
static float *random_batch(const aec_model *m, int B, uint64_t seed)
{
    size_t n = (size_t)B * m->in_c * m->in_h * m->in_w;
    float *x = malloc(n * sizeof *x);
    aec_rng r;
    aec_rng_seed(&r, seed);
    aec_random_images(m, &r, B, x);
    return x;
}

static void check_model(const aec_model *m, int B)
{
    float *p = malloc(m->n_params * sizeof *p), *x = random_batch(m, B, 9);
    aec_init_params(m, p, 5);
    aec_gradcheck_result per[64], all;
    assert_true(m->n_tensors <= 64);
    assert_int_equal(aec_gradcheck(m, p, x, B, PROBES, H, FLOOR, 1, per, &all), 0);
    for (int i = 0; i < m->n_tensors; i++) {
        print_message("%-12s %-16s worst %.2e, %d of %d probes at a kink\n", m->name, m->params[i].name,
                      per[i].worst, per[i].skipped, per[i].probes);
        if (!per[i].inconclusive)
            assert_true(per[i].worst < TOLERANCE);
    }
    /* Only a bias before a relu may be inconclusive (it shifts a whole
     * channel across its kinks); every weight tensor is really tested. */
    for (int i = 0; i < m->n_tensors; i++) {
        if (m->params[i].ndim > 1)
            assert_false(per[i].inconclusive);
    }
    assert_true(all.worst < TOLERANCE);
    assert_true(all.skipped * 4 <= all.probes);
    free(p);
    free(x);
}

static void every_layer_kind_tiny_all(void **state) { check_model(&tiny_all_model, 3); }
static void linear_layers_tiny_panels(void **state) { check_model(&tiny_panels_model, 5); }
/* every schedule is held to the same check (tiny_gemm tiles by 3: B = 5
 * ends in a partial tile) */
static void gemm_schedule_tiny_gemm(void **state) { check_model(&tiny_gemm_model, 5); }
static void direct_schedule_tiny_direct(void **state) { check_model(&tiny_direct_model, 5); }
/* the direct kernels, forward and for input gradients, on odd sizes,
 * stride 3, stride 1 and partial register blocks */
static void direct_forward_phases_tiny_phases(void **state) { check_model(&tiny_phases_model, 5); }
/* the winograd kernels, forward and for input gradients: odd planes, kernels
 * under twice the stride, stride 1, phases of different bases, partial
 * register blocks and tiles */
static void winograd_phases_tiny_wino(void **state) { check_model(&tiny_wino_model, 5); }

/* The loss and every gradient of model m at the parameters of seed 5 and a
 * batch of B; grads is malloc'd. The arena starts as NaNs: a pass that
 * reads a buffer before it is written (or after its memory went to
 * another) shows. */
static float loss_and_grads(const aec_model *m, int B, float **grads)
{
    float *p = malloc(m->n_params * sizeof *p), *x = random_batch(m, B, 9);
    float *arena = aec_arena_alloc(m, B);
    assert_non_null(arena);
    for (size_t i = 0; i < (size_t)B * m->arena_per_image; i++)
        arena[i] = NAN;
    *grads = calloc(m->n_params, sizeof **grads);
    aec_init_params(m, p, 5);
    float loss = aec_forward(m, p, arena, x, B);
    m->backward(p, *grads, arena, B);
    free(p), free(x), free(arena);
    return loss;
}

/* m's loss and gradients match ref's (the same network, another schedule) */
static void agree(const aec_model *ref, const aec_model *m, int B)
{
    float *want, *got;
    float loss = loss_and_grads(ref, B, &want);
    assert_int_equal(m->n_params, ref->n_params);
    float l = loss_and_grads(m, B, &got);
    print_message("%-12s loss %.8f (%s %.8f)\n", m->name, l, ref->name, loss);
    assert_true(fabsf(l - loss) <= 1e-5f * fabsf(loss));
    for (int i = 0; i < m->n_tensors; i++) {
        const aec_param *q = &m->params[i];
        double d = rel_diff(got + q->offset, want + q->offset, q->numel);
        print_message("  %-12s %.2e\n", q->name, d);
        assert_true(d < 1e-4);
    }
    free(got);
    free(want);
}

/* A schedule says how, never what: the same network under other schedules
 * gives the same loss and gradients, up to float rounding. */
static void schedules_agree(void **state)
{
    agree(&tiny_all_model, &tiny_gemm_model, 5);
    agree(&tiny_all_model, &tiny_direct_model, 5);
    agree(&tiny_phases_gemm_model, &tiny_phases_model, 5);
    agree(&tiny_wino_gemm_model, &tiny_wino_model, 5);
    agree(&tiny_all_model, &tiny_direct_model, 37);   /* the linear products: two blocks of 32 images */
}

/* m, which makes outputs again in the backward pass (schedule: recompute),
 * against ref, the same network keeping them: the same loss and gradients,
 * bit for bit, in a smaller arena, and the gradient check besides. */
static void same_as_kept(const aec_model *ref, const aec_model *m, int B)
{
    check_model(m, B);
    float *want, *got;
    float loss = loss_and_grads(ref, B, &want);
    float l = loss_and_grads(m, B, &got);
    assert_int_equal(m->n_params, ref->n_params);
    assert_memory_equal(&l, &loss, sizeof l);
    assert_memory_equal(got, want, ref->n_params * sizeof *got);
    assert_true(m->arena_per_image < ref->arena_per_image);
    free(got);
    free(want);
}

static void recompute_tiny_recompute(void **state)
{
    same_as_kept(&tiny_all_model, &tiny_recompute_model, 3);
    same_as_kept(&tiny_all_model, &tiny_recompute_model, 5);
}

/* the gaussian latent's input made again: its heads' weight gradients read it */
static void recompute_before_latent_tiny_vae_recompute(void **state)
{
    same_as_kept(&tiny_vae_fused_model, &tiny_vae_recompute_model, 3);
}

/* Model m's reconstruction of B images by encode(for_loss) and decode, with
 * prepared weights or without (prep NULL), in an arena of NaNs, with eps,
 * when for_loss, all zeros; y is malloc'd. */
static float *reconstruct(const aec_model *m, const float *p, const float *prep, const float *x, int B,
                          int for_loss)
{
    size_t n = (size_t)B * m->out_c * m->out_h * m->out_w;
    float *arena = aec_arena_alloc(m, B), *y = malloc(n * sizeof *y);
    assert_non_null(arena);
    for (size_t i = 0; i < (size_t)B * m->arena_per_image; i++)
        arena[i] = NAN;
    aec_put_input(m, arena, x, B);
    if (for_loss)
        aec_put_eps(m, arena, NULL, B);
    m->encode(p, prep, arena, B, for_loss);
    m->decode(p, prep, arena, B);
    aec_get_output(m, arena, y, B);
    free(arena);
    return y;
}

/* Inference's encode (for_loss 0) leaves the logvar head out and takes
 * z = mu: the same reconstruction, bit for bit, as the whole forward pass
 * with eps = 0, without reading eps (NaN) or the logvar head's weights
 * (NaN too). */
static void mean_only_encode(const aec_model *m, int B)
{
    float *p = malloc(m->n_params * sizeof *p), *x = random_batch(m, B, 9);
    aec_init_params(m, p, 5);
    float *want = reconstruct(m, p, NULL, x, B, 1);
    for (int i = 0; i < m->n_tensors; i++)
        if (strncmp(m->params[i].name, "logvar.", 7) == 0)
            for (size_t j = 0; j < m->params[i].numel; j++)
                p[m->params[i].offset + j] = NAN;
    float *got = reconstruct(m, p, NULL, x, B, 0);
    size_t n = (size_t)B * m->out_c * m->out_h * m->out_w;
    for (size_t i = 0; i < n; i++)
        assert_true(isfinite(want[i]));
    assert_memory_equal(got, want, n * sizeof *got);
    free(p), free(x), free(want), free(got);
}

static void inference_leaves_out_logvar(void **state)
{
    mean_only_encode(&tiny_vae_model, 5);          /* the heads direct: a partial block of 32 images */
    mean_only_encode(&tiny_vae_model, 37);         /* two blocks */
    mean_only_encode(&tiny_vae_fused_model, 5);    /* the heads gemm */
}

/* Weights prepared once (MODEL_prepare) give the reconstruction that the
 * passes packing their own give: bit for bit where only convolutions are
 * prepared (the same packs, the same kernels), to float rounding where a
 * linear layer's product comes from its panels instead of OpenBLAS. A
 * stale prep would show, as prepare is given other weights first. */
static void prepared_as_packed(const aec_model *m, int B, int bitwise)
{
    float *p = malloc(m->n_params * sizeof *p), *x = random_batch(m, B, 9);
    assert_true(m->prep_floats > 0);
    aec_init_params(m, p, 6);
    float *prep = aec_prepare(m, p);
    assert_non_null(prep);
    aec_init_params(m, p, 5);
    float *want = reconstruct(m, p, NULL, x, B, 0);
    float *stale = reconstruct(m, p, prep, x, B, 0);
    size_t n = (size_t)B * m->out_c * m->out_h * m->out_w;
    double d_stale = rel_diff(stale, want, n);
    m->prepare(p, prep);
    float *got = reconstruct(m, p, prep, x, B, 0);
    double d = rel_diff(got, want, n);
    print_message("%-12s prepared against packed per call: %.2e (stale: %.2e)\n", m->name, d, d_stale);
    assert_true(d_stale > 1e3 * d && d_stale > 1e-5);
    if (bitwise)
        assert_memory_equal(got, want, n * sizeof *got);
    assert_true(d < 1e-6);
    free(p), free(x), free(prep), free(want), free(stale), free(got);
}

static void prepared_weights(void **state)
{
    prepared_as_packed(&tiny_direct_model, 5, 1);      /* direct convolutions, direct linear products */
    prepared_as_packed(&tiny_phases_model, 5, 1);
    prepared_as_packed(&tiny_gemm_model, 5, 0);        /* linear panels: 5 and 48 outputs, partial */
    prepared_as_packed(&tiny_panels_model, 13, 0);     /* whole panels and a partial last one */
    prepared_as_packed(&tiny_all_model, 3, 0);
    prepared_as_packed(&tiny_wino_model, 5, 0);
    prepared_as_packed(&tiny_vae_model, 5, 0);
    prepared_as_packed(&tiny_vae_model, 13, 0);        /* two blocks of 6 images and a repeating one */
    prepared_as_packed(&fmnist_cae_model, 2, 0);
}

static void seed_model_fmnist_cae(void **state) { check_model(&fmnist_cae_model, 2); }
/* the gaussian latent: both heads, the reparameterisation, the KL term, a summed loss */
static void gaussian_latent_tiny_vae(void **state) { check_model(&tiny_vae_model, 3); }
/* the same with each activation on its own line, fused before the latent
 * (the fuzzer found the latent's index left behind by the fusing) */
static void fused_before_latent_tiny_vae_fused(void **state) { check_model(&tiny_vae_fused_model, 3); }

/* A backward pass 10% off everywhere must fail the check. */
static void wrong_backward(const float *params, float *grads, float *arena, int B)
{
    float *g = calloc(tiny_all_model.n_params, sizeof *g);
    tiny_all_backward(params, g, arena, B);
    for (size_t i = 0; i < tiny_all_model.n_params; i++)
        grads[i] += 1.1f * g[i];
    free(g);
}

static void check_catches_wrong_gradient(void **state)
{
    aec_model bad = tiny_all_model;
    bad.backward = wrong_backward;
    float *p = malloc(bad.n_params * sizeof *p), *x = random_batch(&bad, 3, 9);
    aec_init_params(&bad, p, 5);
    aec_gradcheck_result all;
    assert_int_equal(aec_gradcheck(&bad, p, x, 3, PROBES, H, FLOOR, 1, NULL, &all), 0);
    assert_true(all.worst > TOLERANCE);
    free(p);
    free(x);
}

int main(void)
{
    struct CMUnitTest tests[] = {
        cmocka_unit_test(every_layer_kind_tiny_all),
        cmocka_unit_test(linear_layers_tiny_panels),
        cmocka_unit_test(gemm_schedule_tiny_gemm),
        cmocka_unit_test(direct_schedule_tiny_direct),
        cmocka_unit_test(direct_forward_phases_tiny_phases),
        cmocka_unit_test(winograd_phases_tiny_wino),
        cmocka_unit_test(schedules_agree),
        cmocka_unit_test(recompute_tiny_recompute),
        cmocka_unit_test(recompute_before_latent_tiny_vae_recompute),
        cmocka_unit_test(seed_model_fmnist_cae),
        cmocka_unit_test(gaussian_latent_tiny_vae),
        cmocka_unit_test(fused_before_latent_tiny_vae_fused),
        cmocka_unit_test(inference_leaves_out_logvar),
        cmocka_unit_test(prepared_weights),
        cmocka_unit_test(check_catches_wrong_gradient),
    };
    set_cpu_setup(tests, sizeof tests / sizeof tests[0], &tiny_all_model);
    return _cmocka_run_group_tests(target_group_name("gradcheck", &tiny_all_model), tests,
                                   sizeof tests / sizeof tests[0], NULL, NULL);
}
