/* tests/test_train.c: the runtime's training side (rng.c, init.c, optim.c,
 * run.c, train.c, cli.c), on a model written by hand in this file, so that a
 * failure here points at the runtime and never at the compiler.
 *
 * The fixture: a linear autoencoder on 1x2x2 images, Z = 2, mse loss.
 *   encode: z = We x + be    (We [2, 4])      decode: y = Wd z + bd   (Wd [4, 2])
 * F = 4 features per image; with C = 1 the arena's CBHW is [B, F], like NCHW.
 * Optimizer numbers come from torch 1.13 (script lines quoted where used).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aec.h"
#include "fmnist_cae.h"
#include "core/floats.h"
#include "core/rng.h"
#include "exec/batch.h"
#include "exec/workers.h"
#include "io/json.h"
#include "train/train.h"
#include "util.h"

/* ---- the fixture model ------------------------------------------------------ */

enum { F = 4, Z = 2 };
/* Per-image arena offsets: input, latent, output, d loss/d output, d loss/d z. */
enum { OFF_IN = 0, OFF_Z = 4, OFF_OUT = 6, OFF_DY = 10, OFF_DZ = 14, PER_IMAGE = 16 };
enum { WE = 0, BE = 8, WD = 10, BD = 18, N_PARAMS = 22 };

static const aec_param lin_params[] = {
    { "enc.weight", 2, { 2, 4 }, WE, 8, 4 },
    { "enc.bias", 1, { 2 }, BE, 2, 4 },
    { "dec.weight", 2, { 4, 2 }, WD, 8, 2 },
    { "dec.bias", 1, { 4 }, BD, 4, 2 },
};

/* SIGINT from inside training, at the interrupt_at-th backward pass (0: never). */
static int backward_calls, interrupt_at;

/* nothing to prepare: no packed weights */
static void lin_prepare(const float *p, float *prep)
{
    (void)p, (void)prep;
}

static void lin_encode(const float *p, const float *prep, float *a, int B, int for_loss)
{
    (void)prep, (void)for_loss;     /* no packed weights; not variational */
    const float *x = a + (size_t)B * OFF_IN;
    float *z = a + (size_t)B * OFF_Z;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < Z; j++) {
            float s = p[BE + j];
            for (int f = 0; f < F; f++)
                s += p[WE + j * F + f] * x[b * F + f];
            z[b * Z + j] = s;
        }
}

static void lin_decode(const float *p, const float *prep, float *a, int B)
{
    (void)prep;
    const float *z = a + (size_t)B * OFF_Z;
    float *y = a + (size_t)B * OFF_OUT;
    for (int b = 0; b < B; b++)
        for (int f = 0; f < F; f++) {
            float s = p[BD + f];
            for (int j = 0; j < Z; j++)
                s += p[WD + f * Z + j] * z[b * Z + j];
            y[b * F + f] = s;
        }
}

static float lin_loss(float *a, int B)
{
    const float *x = a + (size_t)B * OFF_IN, *y = a + (size_t)B * OFF_OUT;
    double s = 0.0;
    for (int i = 0; i < B * F; i++)
        s += (double)(y[i] - x[i]) * (y[i] - x[i]);
    return (float)(s / (B * F));
}

static void lin_backward(const float *p, float *g, float *a, int B)
{
    const float *x = a + (size_t)B * OFF_IN, *z = a + (size_t)B * OFF_Z;
    const float *y = a + (size_t)B * OFF_OUT;
    float *dy = a + (size_t)B * OFF_DY, *dz = a + (size_t)B * OFF_DZ;
    for (int i = 0; i < B * F; i++)
        dy[i] = 2.0f * (y[i] - x[i]) / (float)(B * F);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < Z; j++) {
            dz[b * Z + j] = 0.0f;
            for (int f = 0; f < F; f++) {
                g[WD + f * Z + j] += dy[b * F + f] * z[b * Z + j];
                dz[b * Z + j] += p[WD + f * Z + j] * dy[b * F + f];
            }
        }
    for (int b = 0; b < B; b++) {
        for (int f = 0; f < F; f++)
            g[BD + f] += dy[b * F + f];
        for (int j = 0; j < Z; j++) {
            g[BE + j] += dz[b * Z + j];
            for (int f = 0; f < F; f++)
                g[WE + j * F + f] += dz[b * Z + j] * x[b * F + f];
        }
    }
    if (interrupt_at && ++backward_calls == interrupt_at)
        raise(SIGINT);
}

static const aec_model lin_model = {
    .name = "lin", .source = "(written by hand in tests/test_train.c)",
    .in_c = 1, .in_h = 2, .in_w = 2, .in_lo = 0.0f, .in_hi = 1.0f,
    .out_c = 1, .out_h = 2, .out_w = 2, .latent = Z,
    .loss = AEC_LOSS_MSE,
    .defaults = {
        .optim = { AEC_OPT_ADAM, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f, 0.0f },
        .batch = 8, .epochs = 3, .seed = 7,
    },
    .n_params = N_PARAMS, .n_tensors = 4, .params = lin_params,
    .arena_per_image = PER_IMAGE, .input_offset = OFF_IN, .latent_offset = OFF_Z, .decode_offset = OFF_Z,
    .output_offset = OFF_OUT,
    .prepare = lin_prepare, .encode = lin_encode, .decode = lin_decode, .loss_fn = lin_loss, .backward = lin_backward,
};

/* ---- helpers ------------------------------------------------------------------ */

/* n images of rank 2 plus a mean (so the fixture can fit them exactly), as
 * bytes: the same set can go to IDX files or straight into an aec_dataset. */
static uint8_t *make_pixels(int n, uint64_t seed)
{
    static const float u[F] = { 0.5f, -0.5f, 0.5f, -0.5f }, v[F] = { 0.5f, 0.5f, -0.5f, -0.5f };
    uint8_t *px = malloc((size_t)n * F);
    aec_rng r;
    aec_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        float a = 2.0f * aec_rng_uniform(&r) - 1.0f, b = 2.0f * aec_rng_uniform(&r) - 1.0f;
        for (int f = 0; f < F; f++)
            px[i * F + f] = (uint8_t)lrintf(127.5f + 120.0f * a * u[f] + 100.0f * b * v[f]);
    }
    return px;
}

static void make_set(aec_dataset *d, int n, uint64_t seed)
{
    uint8_t *px = make_pixels(n, seed);
    d->n = n;
    d->C = 1;
    d->H = d->W = 2;
    d->x = malloc((size_t)n * F * sizeof(float));
    d->labels = malloc((size_t)n * sizeof(int64_t));
    for (int i = 0; i < n * F; i++)
        d->x[i] = px[i] / 255.0f;
    for (int i = 0; i < n; i++)
        d->labels[i] = i % 10;
    free(px);
}

/* DIR/PREFIX-images-idx3-ubyte and DIR/PREFIX-labels-idx1-ubyte, uncompressed. */
static void write_lin_idx(const char *dir, const char *prefix, int n, uint64_t seed)
{
    uint8_t *px = make_pixels(n, seed);
    write_idx(dir, prefix, n, 2, 2, px);
    free(px);
}

static char *make_tmpdir(void)
{
    char *dir = strdup("/tmp/aec_test_train.XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int file_exists(const char *dir, const char *name)
{
    char *p = join(dir, name);
    int ok = access(p, F_OK) == 0;
    free(p);
    return ok;
}

typedef struct {
    int epoch;
    double train, val, secs;
} row;

/* loss.csv's rows; the header is checked. */
static int read_loss_csv(const char *dir, row *rows, int max)
{
    char line[256], *path = join(dir, "loss.csv");
    FILE *fp = fopen(path, "r");
    int n = 0;
    assert_non_null(fp);
    assert_non_null(fgets(line, sizeof line, fp));
    assert_string_equal(line, "epoch,train_loss,val_loss,seconds\n");
    while (n < max && fgets(line, sizeof line, fp)) {
        row *r = &rows[n++];
        assert_int_equal(sscanf(line, "%d,%lf,%lf,%lf", &r->epoch, &r->train, &r->val, &r->secs), 4);
    }
    fclose(fp);
    free(path);
    return n;
}

/* a and b within `ulps` units in the last place of b. */
static void assert_close_ulps(float a, float b, int ulps)
{
    float tol = ulps * (nextafterf(fabsf(b), INFINITY) - fabsf(b));
    if (!(fabsf(a - b) <= tol)) {
        print_error("%.9g (%a) is not within %d ulp of %.9g (%a)\n",
                    (double)a, (double)a, ulps, (double)b, (double)b);
        fail();
    }
}

/* ---- rng ------------------------------------------------------------------------ */

/* Expected values from an independent Python transcription of splitmix64 and
 * xoshiro256** (splitmix64(0) gives the published 0xe220a8397b1dcdaf). */
static void test_rng_reference_stream(void **state)
{
    static const uint64_t seed0[] = { 0x99ec5f36cb75f2b4ULL, 0xbf6e1f784956452aULL,
                                      0x1a5f849d4933e6e0ULL };
    static const uint64_t seed42[] = { 0x15780b2e0c2ec716ULL, 0x6104d9866d113a7eULL,
                                       0xae17533239e499a1ULL };
    aec_rng r;
    aec_rng_seed(&r, 0);
    for (int i = 0; i < 3; i++)
        assert_true(aec_rng_next(&r) == seed0[i]);
    aec_rng_seed(&r, 42);
    for (int i = 0; i < 3; i++)
        assert_true(aec_rng_next(&r) == seed42[i]);
}

static void test_rng_determinism(void **state)
{
    aec_rng a, b, c;
    aec_rng_seed(&a, 123);
    aec_rng_seed(&b, 123);
    aec_rng_seed(&c, 124);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = aec_rng_next(&a);
        assert_true(x == aec_rng_next(&b));
        differ += x != aec_rng_next(&c);
    }
    assert_true(differ > 990);
    assert_true(aec_rng_seed_mix(1, 1) != aec_rng_seed_mix(1, 2));
    assert_true(aec_rng_seed_mix(1, 1) != aec_rng_seed_mix(2, 1));
    assert_true(aec_rng_seed_mix(5, 3) == aec_rng_seed_mix(5, 3));
}

static void test_rng_uniform_range(void **state)
{
    aec_rng r;
    double sum = 0.0;
    float lo = 1.0f, hi = 0.0f;
    aec_rng_seed(&r, 9);
    for (int i = 0; i < 200000; i++) {
        float u = aec_rng_uniform(&r);
        assert_true(u >= 0.0f && u < 1.0f);
        assert_true(u * 16777216.0f == floorf(u * 16777216.0f));     /* k / 2^24 */
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
        sum += u;
    }
    assert_true(fabs(sum / 200000 - 0.5) < 0.005);
    assert_true(lo < 0.001f && hi > 0.999f);
}

static void test_rng_normal_moments(void **state)
{
    aec_rng r;
    double s1 = 0.0, s2 = 0.0;
    int n = 200000, tails = 0;
    aec_rng_seed(&r, 10);
    for (int i = 0; i < n; i++) {
        double x = aec_rng_normal(&r);
        assert_true(isfinite(x));
        s1 += x;
        s2 += x * x;
        tails += fabs(x) > 3.0;
    }
    assert_true(fabs(s1 / n) < 0.01);
    assert_true(fabs(s2 / n - 1.0) < 0.02);
    assert_true(tails > 400 && tails < 700);        /* P(|x| > 3) = 0.0027: 540 expected */
}

static void test_rng_shuffle(void **state)
{
    enum { N = 50 };
    int a[N], b[N], seen[N] = { 0 }, moved = 0;
    aec_rng r1, r2;
    for (int i = 0; i < N; i++)
        a[i] = b[i] = i;
    aec_rng_seed(&r1, 77);
    aec_rng_seed(&r2, 77);
    aec_rng_shuffle(&r1, a, N);
    aec_rng_shuffle(&r2, b, N);
    assert_memory_equal(a, b, sizeof a);
    for (int i = 0; i < N; i++) {
        assert_true(a[i] >= 0 && a[i] < N);
        seen[a[i]]++;
        moved += a[i] != i;
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    assert_true(moved > N / 2);
    aec_rng_shuffle(&r1, a, 1);         /* n = 1 and n = 0 are no-ops */
    aec_rng_shuffle(&r1, a, 0);
}

/* Every position gets every value about equally often (bias check). */
static void test_rng_shuffle_uniform(void **state)
{
    enum { N = 4, T = 48000 };
    int count[N][N] = { { 0 } };
    aec_rng r;
    aec_rng_seed(&r, 5);
    for (int t = 0; t < T; t++) {
        int a[N] = { 0, 1, 2, 3 };
        aec_rng_shuffle(&r, a, N);
        for (int i = 0; i < N; i++)
            count[i][a[i]]++;
    }
    for (int i = 0; i < N; i++)
        for (int v = 0; v < N; v++)
            assert_true(abs(count[i][v] - T / N) < 400);   /* sd is about 95 */
}

/* ---- init ------------------------------------------------------------------------ */

static void test_init_bounds(void **state)
{
    float p[N_PARAMS], q[N_PARAMS], s[N_PARAMS];
    aec_init_params(&lin_model, p, 3);
    aec_init_params(&lin_model, q, 3);
    aec_init_params(&lin_model, s, 4);
    assert_memory_equal(p, q, sizeof p);
    assert_memory_not_equal(p, s, sizeof p);
    for (int i = 0; i < lin_model.n_tensors; i++) {
        const aec_param *t = &lin_params[i];
        float bound = (float)(1.0 / sqrt(t->fan_in));
        int neg = 0, pos = 0, same = 1;
        for (size_t k = 0; k < t->numel; k++) {
            float w = p[t->offset + k];
            assert_true(w >= -bound && w <= bound);
            neg += w < 0;
            pos += w > 0;
            same &= w == p[t->offset];
        }
        assert_false(same);
        assert_true(neg + pos > 0);
    }
}

/* A large tensor fills its range evenly: uniform(-b, b) has variance b^2 / 3. */
static void test_init_distribution(void **state)
{
    enum { N = 100000 };
    static float w[N];
    aec_param big = { "big.weight", 2, { 1000, 100 }, 0, N, 100 };
    aec_model m = { .name = "big", .n_params = N, .n_tensors = 1, .params = &big };
    aec_init_params(&m, w, 1);
    double s1 = 0.0, s2 = 0.0, mx = 0.0;
    for (int i = 0; i < N; i++) {
        s1 += w[i];
        s2 += (double)w[i] * w[i];
        mx = fabs(w[i]) > mx ? fabs(w[i]) : mx;
    }
    assert_true(fabs(s1 / N) < 0.002);
    assert_true(fabs(s2 / N - 0.01 / 3.0) < 0.0001);
    assert_true(mx <= 0.1 && mx > 0.0999);
}

/* ---- optimizers ------------------------------------------------------------------- */

static const float optim_p0[5] = { 0.5f, -1.0f, 2.0f, 0.0f, -0.25f };
static const float optim_grads[3][5] = {
    { 0.1f, -0.2f, 0.3f, 0.0f, 1.5f },
    { -0.05f, 0.4f, 0.3f, 0.01f, -2.0f },
    { 0.2f, 0.2f, -0.1f, -0.01f, 0.5f },
};

static void run_optim(const aec_optim_cfg *cfg, float p[5], aec_optim *o)
{
    memcpy(p, optim_p0, sizeof optim_p0);
    assert_int_equal(aec_optim_init(o, cfg, 5), 0);
    for (int s = 0; s < 3; s++)
        aec_optim_step(o, p, optim_grads[s]);
    assert_int_equal(o->step, 3);
}

/* From torch 1.13:
 *   p = torch.nn.Parameter(torch.tensor([0.5, -1.0, 2.0, 0.0, -0.25]))
 *   opt = torch.optim.Adam([p], lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
 *   for g in optim_grads: p.grad = torch.tensor(g); opt.step()
 *   print([float.hex(float(x)) for x in p.detach()])     # and opt.state[p][...]
 */
static void test_adam_matches_torch(void **state)
{
    static const float want_p[5] = { 0x1.e6a1p-2f, -0x1.fc1f9cp-1f, 0x1.f8b1fcp+0f,
                                     -0x1.b5eaep-8f, -0x1.07b82ap-2f };
    static const float want_m[5] = { 0x1.2e3b44p-5f, 0x1.a6339cp-7f, 0x1.85faeap-4f,
                                     -0x1.6dc59p-13f, -0x1.fa13c8p-7f };
    static const float want_v[5] = { 0x1.60d9e4p-14f, 0x1.8f8cf2p-13f, 0x1.0a4352p-11f,
                                     0x1.ce6e78p-23f, 0x1.a9c4ep-8f };
    aec_optim_cfg cfg = { AEC_OPT_ADAM, 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, 0.0f };
    aec_optim o;
    float p[5];
    run_optim(&cfg, p, &o);
    for (int i = 0; i < 5; i++) {
        assert_close_ulps(p[i], want_p[i], 1);
        assert_close_ulps(o.m[i], want_m[i], 1);
        assert_close_ulps(o.v[i], want_v[i], 1);
    }
    aec_optim_free(&o);
}

/* From torch 1.13, as above with
 *   opt = torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)
 */
static void test_sgd_matches_torch(void **state)
{
    static const float want_p[5] = { 0x1.d6a958p-2f, -0x1.09466ap+0f, 0x1.dc527cp+0f,
                                     -0x1.d755cp-11f, -0x1.4c85b6p-2f };
    static const float want_buf[5] = { 0x1.fe9194p-3f, 0x1.7c011p-2f, 0x1.dd2bp-2f,
                                       -0x1.08c3fp-10f, -0x1.80e08p-4f };
    aec_optim_cfg cfg = { AEC_OPT_SGD, 0.1f, 0.0f, 0.0f, 0.0f, 0.01f, 0.9f };
    aec_optim o;
    float p[5];
    run_optim(&cfg, p, &o);
    assert_null(o.v);
    for (int i = 0; i < 5; i++) {
        assert_close_ulps(p[i], want_p[i], 1);
        assert_close_ulps(o.m[i], want_buf[i], 1);
    }
    aec_optim_free(&o);
}

/* Plain SGD: p -= lr * g, no state. */
static void test_sgd_plain(void **state)
{
    aec_optim_cfg cfg = { AEC_OPT_SGD, 0.5f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f };
    aec_optim o;
    float p[2] = { 1.0f, -2.0f }, g[2] = { 0.25f, -1.0f };
    assert_int_equal(aec_optim_init(&o, &cfg, 2), 0);
    assert_null(o.m);
    aec_optim_step(&o, p, g);
    assert_true(p[0] == 0.875f && p[1] == -1.5f);
    aec_optim_free(&o);
}

/* ---- layouts ------------------------------------------------------------------------ */

/* NCHW in, CBHW in the arena at B * input_offset, and back out at B * output_offset. */
static void test_put_input_get_output(void **state)
{
    enum { B = 3, C = 2, HW = 6, N = B * C * HW };
    aec_model m = { .in_c = C, .in_h = 2, .in_w = 3, .out_c = C, .out_h = 2, .out_w = 3,
                    .input_offset = 5, .output_offset = 5 + C * HW, .arena_per_image = 40 };
    float x[N], y[N], arena[B * 40] = { 0 };
    for (int i = 0; i < N; i++)
        x[i] = (float)i;
    aec_put_input(&m, arena, x, B);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < HW; p++)
                assert_true(arena[B * 5 + (c * B + b) * HW + p] == x[(b * C + c) * HW + p]);
    assert_true(arena[B * 5 - 1] == 0.0f && arena[B * 5 + N] == 0.0f);  /* nothing outside */
    memcpy(arena + B * m.output_offset, arena + B * m.input_offset, sizeof x);
    aec_get_output(&m, arena, y, B);
    assert_memory_equal(x, y, sizeof x);
}

/* Rows of Z = C*HW, feature c*HW + p (nn.Flatten's order), to CBHW and back. */
static void test_latent_image_layout(void **state)
{
    enum { B = 2, C = 3, HW = 4, ZZ = C * HW };
    aec_model m = { .latent = ZZ, .latent_is_image = 1, .lat_c = C, .lat_hw = HW,
                    .latent_offset = 7, .decode_offset = 7, .arena_per_image = 30 };
    float z[B * ZZ], back[B * ZZ], arena[B * 30] = { 0 };
    for (int i = 0; i < B * ZZ; i++)
        z[i] = 1.0f + i;
    aec_put_latent(&m, arena, z, B);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < HW; p++)
                assert_true(arena[B * 7 + (c * B + b) * HW + p] == z[b * ZZ + c * HW + p]);
    aec_get_latent(&m, arena, back, B);
    assert_memory_equal(z, back, sizeof z);
}

static void test_latent_flat_layout(void **state)
{
    enum { B = 3 };
    aec_model m = { .latent = 5, .latent_offset = 2, .decode_offset = 2, .arena_per_image = 10 };
    float z[B * 5], back[B * 5], arena[B * 10] = { 0 };
    for (int i = 0; i < B * 5; i++)
        z[i] = (float)i - 4.0f;
    aec_put_latent(&m, arena, z, B);
    assert_memory_equal(arena + B * 2, z, sizeof z);
    aec_get_latent(&m, arena, back, B);
    assert_memory_equal(z, back, sizeof z);
}

/* ---- forward, evaluation, gradients --------------------------------------------------- */

/* The fixture's hand-written backward agrees with central differences, so
 * the tests below rest on a correct model. The loss is quadratic in each
 * parameter, so the difference is exact up to rounding for any h. */
static void test_fixture_gradient(void **state)
{
    aec_dataset d;
    float p[N_PARAMS], g[N_PARAMS] = { 0 }, arena[5 * PER_IMAGE];
    make_set(&d, 5, 1);
    aec_init_params(&lin_model, p, 2);
    aec_forward(&lin_model, p, arena, d.x, d.n);
    lin_backward(p, g, arena, d.n);
    for (int k = 0; k < N_PARAMS; k++) {
        float saved = p[k], h = 0.0625f;
        p[k] = saved + h;
        double up = aec_forward(&lin_model, p, arena, d.x, d.n);
        p[k] = saved - h;
        double down = aec_forward(&lin_model, p, arena, d.x, d.n);
        p[k] = saved;
        double numeric = (up - down) / (2.0 * h);
        assert_true(fabs(numeric - g[k]) < 1e-4 + 1e-3 * fabs(numeric));
    }
    aec_dataset_free(&d);
}

/* Batch means weighted by batch size: the mean over all images, whatever B. */
static void test_evaluate_weights_batches(void **state)
{
    aec_dataset d;
    float p[N_PARAMS], arena[PER_IMAGE];
    make_set(&d, 10, 2);
    aec_init_params(&lin_model, p, 5);
    double sum = 0.0;
    for (int i = 0; i < d.n; i++)
        sum += aec_forward(&lin_model, p, arena, d.x + i * F, 1);
    double l3 = aec_evaluate(&lin_model, p, &d, 3), l100 = aec_evaluate(&lin_model, p, &d, 100);
    assert_true(fabs(l3 - sum / d.n) < 1e-6 * sum / d.n);
    assert_true(fabs(l100 - sum / d.n) < 1e-6 * sum / d.n);
    aec_dataset empty = { .n = 0, .C = 1, .H = 2, .W = 2 };
    assert_true(isnan(aec_evaluate(&lin_model, p, &empty, 4)));
    aec_dataset_free(&d);
}

/* ---- training ---------------------------------------------------------------------- */

static aec_train_opts quiet_opts(const char *out, int epochs, int batch)
{
    aec_train_opts o = { .out_dir = out, .cfg = lin_model.defaults, .quiet = 1 };
    o.cfg.epochs = epochs;
    o.cfg.batch = batch;
    return o;
}

static void test_training_lowers_loss(void **state)
{
    aec_dataset train, val;
    float p0[N_PARAMS], p[N_PARAMS];
    row rows[40];
    char *dir = make_tmpdir(), *model = join(dir, "model.safetensors");
    make_set(&train, 64, 11);
    make_set(&val, 16, 12);
    aec_train_opts o = quiet_opts(dir, 30, 8);
    aec_init_params(&lin_model, p0, o.cfg.seed);
    double before = aec_evaluate(&lin_model, p0, &val, 8);
    assert_int_equal(aec_train(&lin_model, &o, &train, &val), 0);
    assert_int_equal(aec_load_params(model, &lin_model, p), 0);
    double after = aec_evaluate(&lin_model, p, &val, 8);
    assert_true(after < 0.1 * before);
    assert_int_equal(read_loss_csv(dir, rows, 40), 30);
    for (int i = 0; i < 30; i++) {
        assert_int_equal(rows[i].epoch, i + 1);
        assert_true(rows[i].secs >= 0.0);
    }
    assert_true(rows[29].train < rows[0].train && rows[29].val < rows[0].val);
    assert_true(fabs(rows[29].val - after) < 1e-6 * after);
    assert_true(file_exists(dir, "optim.safetensors"));
    assert_false(file_exists(dir, "model.safetensors.tmp"));
    aec_dataset_free(&train);
    aec_dataset_free(&val);
    free(model);
    rm_rf(dir);
    free(dir);
}

/* Train `epochs` in one go into dir a; into dir b, `first` epochs, then
 * --resume up to `epochs` (interrupting at backward call `stop_at` if set).
 * Both must end with identical checkpoints and losses. */
static void check_resume(const aec_optim_cfg *cfg, int epochs, int first, int stop_at)
{
    aec_dataset train, val;
    row ra[10], rb[10];
    char *a = make_tmpdir(), *b = make_tmpdir();
    make_set(&train, 30, 21);           /* batches of 8: 8, 8, 8, 6 */
    make_set(&val, 7, 22);
    aec_train_opts o = quiet_opts(a, epochs, 8);
    o.cfg.optim = *cfg;
    assert_int_equal(aec_train(&lin_model, &o, &train, &val), 0);
    o.out_dir = b;
    o.cfg.epochs = first;
    backward_calls = 0;
    interrupt_at = stop_at;
    int rc = aec_train(&lin_model, &o, &train, &val);
    interrupt_at = 0;
    assert_int_equal(rc, stop_at ? AEC_INTERRUPTED : 0);
    o.cfg.epochs = epochs;
    o.resume = 1;
    assert_int_equal(aec_train(&lin_model, &o, &train, &val), 0);

    char *ma = join(a, "model.safetensors"), *mb = join(b, "model.safetensors");
    char *oa = join(a, "optim.safetensors"), *ob = join(b, "optim.safetensors");
    assert_same_safetensors(ma, mb);
    assert_same_safetensors(oa, ob);
    assert_int_equal(read_loss_csv(a, ra, 10), epochs);
    assert_int_equal(read_loss_csv(b, rb, 10), epochs);
    for (int i = 0; i < epochs; i++) {
        assert_int_equal(ra[i].epoch, rb[i].epoch);
        assert_true(ra[i].train == rb[i].train && ra[i].val == rb[i].val);
    }
    free(ma), free(mb), free(oa), free(ob);
    aec_dataset_free(&train);
    aec_dataset_free(&val);
    rm_rf(a), rm_rf(b);
    free(a), free(b);
}

static void test_resume_adam(void **state)
{
    aec_optim_cfg adam = { AEC_OPT_ADAM, 0.01f, 0.9f, 0.999f, 1e-8f, 1e-3f, 0.0f };
    check_resume(&adam, 5, 2, 0);
}

static void test_resume_sgd_momentum(void **state)
{
    aec_optim_cfg sgd = { AEC_OPT_SGD, 0.05f, 0.0f, 0.0f, 0.0f, 1e-4f, 0.9f };
    check_resume(&sgd, 4, 1, 0);
}

/* SIGINT in the middle of epoch 3 (4 batches an epoch: call 10 is its 2nd):
 * training stops, OUT keeps epoch 2, and resuming gives the uninterrupted run. */
static void test_interrupt_then_resume(void **state)
{
    aec_optim_cfg adam = lin_model.defaults.optim;
    check_resume(&adam, 5, 5, 10);
}

static void test_resume_refusals(void **state)
{
    aec_dataset train, val;
    char *dir = make_tmpdir();
    make_set(&train, 12, 31);
    make_set(&val, 4, 32);
    aec_train_opts o = quiet_opts(dir, 2, 4);
    o.resume = 1;
    assert_int_equal(aec_train(&lin_model, &o, &train, &val), 1);     /* no checkpoint */
    o.resume = 0;
    assert_int_equal(aec_train(&lin_model, &o, &train, &val), 0);
    o.resume = 1;
    assert_int_equal(aec_train(&lin_model, &o, &train, &val), 0);     /* nothing to do */
    o.cfg.epochs = 3;
    o.seed_given = 1;
    o.cfg.seed = 99;
    assert_int_equal(aec_train(&lin_model, &o, &train, &val), 1);     /* another seed */
    aec_model other = lin_model;
    other.name = "other";
    o.seed_given = 0;
    assert_int_equal(aec_train(&other, &o, &train, &val), 1);         /* another model */
    o.cfg.optim.kind = AEC_OPT_SGD;
    assert_int_equal(aec_train(&lin_model, &o, &train, &val), 1);     /* another optimizer */
    o.cfg.optim.kind = AEC_OPT_ADAM;
    assert_int_equal(aec_train(&lin_model, &o, &train, &val), 0);     /* seed from the file */
    o.resume = 0;
    o.cfg.batch = 0;
    assert_int_equal(aec_train(&lin_model, &o, &train, &val), 1);
    aec_dataset_free(&train);
    aec_dataset_free(&val);
    rm_rf(dir);
    free(dir);
}

static void test_meta_get(void **state)
{
    char v[32];
    const char *j = " { \"model\" : \"lin\", \"epoch\":\"12\", \"q\":\"a\\\"b\\u0041\" } ";
    assert_int_equal(aec_meta_get(j, "epoch", v, sizeof v), 0);
    assert_string_equal(v, "12");
    assert_int_equal(aec_meta_get(j, "model", v, sizeof v), 0);
    assert_string_equal(v, "lin");
    assert_int_equal(aec_meta_get(j, "q", v, sizeof v), 0);
    assert_string_equal(v, "a\"bA");
    assert_int_equal(aec_meta_get(j, "missing", v, sizeof v), -1);
    assert_int_equal(aec_meta_get(j, "model", v, 3), -1);              /* too long */
    assert_int_equal(aec_meta_get("{\"a\":1}", "a", v, sizeof v), -1);  /* not a string */
    assert_int_equal(aec_meta_get("{\"a\":\"b\"", "c", v, sizeof v), -1);
    assert_int_equal(aec_meta_get(NULL, "a", v, sizeof v), -1);
    assert_int_equal(aec_meta_get("{}", "a", v, sizeof v), -1);
}

/* ---- the command line ---------------------------------------------------------------- */

/* aec_main with stdout and stderr sent to /dev/null (unless AEC_TEST_VERBOSE
 * is set), so that the expected errors do not clutter the test's output. */
static int run_cli(int argc, const char **argv)
{
    int quiet = !getenv("AEC_TEST_VERBOSE"), out = -1, err = -1;
    if (quiet) {
        fflush(stdout);
        fflush(stderr);
        out = dup(1);
        err = dup(2);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        close(null);
    }
    int rc = aec_main(argc, (char **)argv, &lin_model);
    if (quiet) {
        fflush(stdout);
        fflush(stderr);
        dup2(out, 1);
        dup2(err, 2);
        close(out);
        close(err);
    }
    return rc;
}

#define CLI(...) run_cli((int)(sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(char *)), \
                         (const char *[]){ __VA_ARGS__ })

static void test_cli_usage(void **state)
{
    assert_int_equal(CLI("lin"), 2);
    assert_int_equal(CLI("lin", "--help"), 0);
    assert_int_equal(CLI("lin", "-h"), 0);
    assert_int_equal(CLI("lin", "help"), 0);
    assert_int_equal(CLI("lin", "train", "--help"), 0);
    assert_int_equal(CLI("lin", "bogus"), 2);
    assert_int_equal(CLI("lin", "--bogus"), 2);
}

static void test_cli_bad_arguments(void **state)
{
    const char *base[] = { "lin", "train", "--data", "/nonexistent", "--out", "/tmp/x" };
    assert_int_equal(CLI("lin", "train"), 2);                                   /* no --data */
    assert_int_equal(CLI("lin", "train", "--data", "d"), 2);                    /* no --out */
    assert_int_equal(CLI("lin", "train", "--data", "d", "--out"), 2);           /* no value */
    assert_int_equal(CLI("lin", "train", "--data", "d", "--out", "--resume"), 2);
    assert_int_equal(CLI("lin", "train", "--data", "", "--out", "o"), 2);
    static const char *bad[][2] = {
        { "--batch", "0" }, { "--batch", "-3" }, { "--batch", "abc" }, { "--batch", "4x" },
        { "--batch", "99999999999" }, { "--epochs", "0" }, { "--epochs", "1.5" },
        { "--lr", "abc" }, { "--lr", "-0.1" }, { "--lr", "0" }, { "--lr", "inf" },
        { "--lr", "nan" }, { "--seed", "-1" }, { "--seed", "x" }, { "--limit", "0" },
        { "--bogus", "1" }, { "--n", "3" }, { "--split", "test" }, { "--resume=1", "x" },
        { "stray", "x" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *argv[8];
        memcpy(argv, base, sizeof base);
        argv[6] = bad[i][0];
        argv[7] = bad[i][1];
        int rc = run_cli(8, argv);
        if (rc != 2)
            print_error("train %s %s: exit %d, not 2\n", bad[i][0], bad[i][1], rc);
        assert_int_equal(rc, 2);
    }
    assert_int_equal(CLI("lin", "eval", "--data", "d", "--weights", "w", "--split", "val"), 2);
    assert_int_equal(CLI("lin", "eval", "--data", "d", "--weights", "w", "--epochs", "3"), 2);
    assert_int_equal(CLI("lin", "decode", "--weights", "w", "--out", "o.png"), 2);
    assert_int_equal(CLI("lin", "grad", "--weights", "w", "--input", "x.npy"), 2);
    assert_int_equal(CLI("lin", "init"), 2);
    /* runtime failures: the arguments are fine, the files are not */
    assert_int_equal(CLI("lin", "eval", "--data", "/nonexistent", "--weights", "w"), 1);
    assert_int_equal(CLI("lin", "grad", "--weights", "/nonexistent.safetensors",
                         "--input", "x.npy", "--out", "g.safetensors"), 1);
}

/* Writes X.npy [3, 1, 2, 2] and an initial W.safetensors into dir. */
static void write_batch_and_weights(const char *dir, float x[3 * F])
{
    aec_dataset d;
    int64_t shape[4] = { 3, 1, 2, 2 };
    char *xp = join(dir, "x.npy"), *wp = join(dir, "w.safetensors");
    make_set(&d, 3, 41);
    memcpy(x, d.x, 3 * F * sizeof(float));
    assert_int_equal(aec_npy_write_f32(xp, x, 4, shape), 0);
    assert_int_equal(CLI("lin", "init", "--seed", "5", "--out", wp), 0);
    aec_dataset_free(&d);
    free(xp);
    free(wp);
}

static void test_cli_init(void **state)
{
    char *dir = make_tmpdir(), *wp = join(dir, "w.safetensors");
    float p[N_PARAMS], want[N_PARAMS];
    assert_int_equal(CLI("lin", "init", "--seed", "5", "--out", wp), 0);
    assert_int_equal(aec_load_params(wp, &lin_model, p), 0);
    aec_init_params(&lin_model, want, 5);
    assert_memory_equal(p, want, sizeof p);
    free(wp);
    rm_rf(dir);
    free(dir);
}

/* grad writes the loss as a 0-dim tensor and each parameter's gradient,
 * exactly what forward + backward give here. */
static void test_cli_grad(void **state)
{
    char *dir = make_tmpdir(), *wp = join(dir, "w.safetensors"), *xp = join(dir, "x.npy");
    char *gp = join(dir, "g.safetensors");
    float x[3 * F], p[N_PARAMS], g[N_PARAMS] = { 0 }, arena[3 * PER_IMAGE];
    aec_tensor_file f;
    write_batch_and_weights(dir, x);
    assert_int_equal(CLI("lin", "grad", "--weights", wp, "--input", xp, "--out", gp), 0);
    assert_int_equal(aec_load_params(wp, &lin_model, p), 0);
    float loss = aec_forward(&lin_model, p, arena, x, 3);
    lin_backward(p, g, arena, 3);
    assert_int_equal(aec_safetensors_read(gp, &f), 0);
    assert_int_equal(f.n, 5);
    assert_string_equal(f.names[0], "loss");
    assert_int_equal(f.ndim[0], 0);
    assert_true(f.data[0][0] == loss);
    for (int i = 0; i < lin_model.n_tensors; i++) {
        const float *t = aec_tensor_file_find(&f, lin_params[i].name, lin_params[i].numel);
        assert_non_null(t);
        assert_memory_equal(t, g + lin_params[i].offset, lin_params[i].numel * sizeof(float));
    }
    aec_tensor_file_free(&f);
    free(wp), free(xp), free(gp);
    rm_rf(dir);
    free(dir);
}

static void test_cli_step(void **state)
{
    char *dir = make_tmpdir(), *wp = join(dir, "w.safetensors"), *xp = join(dir, "x.npy");
    char *sp = join(dir, "s.safetensors");
    float x[3 * F], p[N_PARAMS], got[N_PARAMS], g[N_PARAMS] = { 0 }, arena[3 * PER_IMAGE];
    aec_optim o;
    aec_optim_cfg cfg = lin_model.defaults.optim;
    write_batch_and_weights(dir, x);
    assert_int_equal(CLI("lin", "step", "--weights", wp, "--input", xp, "--out", sp,
                         "--lr", "0.25"), 0);
    assert_int_equal(aec_load_params(wp, &lin_model, p), 0);
    assert_int_equal(aec_load_params(sp, &lin_model, got), 0);
    aec_forward(&lin_model, p, arena, x, 3);
    lin_backward(p, g, arena, 3);
    cfg.lr = 0.25f;
    assert_int_equal(aec_optim_init(&o, &cfg, N_PARAMS), 0);
    aec_optim_step(&o, p, g);
    assert_memory_equal(p, got, sizeof p);
    aec_optim_free(&o);
    free(wp), free(xp), free(sp);
    rm_rf(dir);
    free(dir);
}

/* Inputs and latents of the wrong shape are runtime errors (1) naming both shapes. */
static void test_cli_bad_shapes(void **state)
{
    char *dir = make_tmpdir(), *wp = join(dir, "w.safetensors"), *xp = join(dir, "x.npy");
    char *zp = join(dir, "z.npy"), *out = join(dir, "out");
    float x[3 * F], z[15] = { 0 };
    int64_t xs[4] = { 3, 2, 2, 1 }, zs[2] = { 3, 5 }, z1[1] = { 15 };
    write_batch_and_weights(dir, x);
    assert_int_equal(aec_npy_write_f32(xp, x, 4, xs), 0);
    assert_int_equal(CLI("lin", "grad", "--weights", wp, "--input", xp, "--out", out), 1);
    assert_int_equal(CLI("lin", "step", "--weights", wp, "--input", xp, "--out", out), 1);
    assert_int_equal(aec_npy_write_f32(zp, z, 2, zs), 0);
    assert_int_equal(CLI("lin", "decode", "--weights", wp, "--latents", zp, "--out", out), 1);
    assert_int_equal(aec_npy_write_f32(zp, z, 1, z1), 0);
    assert_int_equal(CLI("lin", "decode", "--weights", wp, "--latents", zp, "--out", out), 1);
    assert_false(file_exists(dir, "out"));
    free(wp), free(xp), free(zp), free(out);
    rm_rf(dir);
    free(dir);
}

/* The whole round on IDX files: train, resume, eval, encode, decode, reconstruct. */
static void test_cli_round_trip(void **state)
{
    char *data = make_tmpdir(), *dir = make_tmpdir();
    char *out = join(dir, "run/a"), *w = join(out, "model.safetensors");
    char *zp = join(dir, "z.npy"), *lp = join(dir, "l.npy");
    char *dec = join(dir, "dec.png"), *rec = join(dir, "rec.png");
    row rows[5];
    write_lin_idx(data, "train", 40, 51);
    write_lin_idx(data, "t10k", 12, 52);
    assert_int_equal(CLI("lin", "train", "--data", data, "--out", out, "--epochs", "2",
                         "--batch", "8", "--lr", "0.02", "--seed", "3", "--limit", "30"), 0);
    assert_int_equal(CLI("lin", "train", "--data", data, "--out", out, "--epochs", "3",
                         "--batch", "8", "--limit", "30", "--resume"), 0);
    assert_int_equal(read_loss_csv(out, rows, 5), 3);
    assert_int_equal(rows[2].epoch, 3);
    assert_int_equal(CLI("lin", "eval", "--data", data, "--weights", w), 0);
    assert_int_equal(CLI("lin", "eval", "--data", data, "--weights", w, "--split", "train",
                         "--batch", "7", "--limit", "9"), 0);
    assert_int_equal(CLI("lin", "encode", "--data", data, "--weights", w, "--out", zp,
                         "--labels", lp, "--limit", "5"), 0);
    float *z = NULL;
    int ndim = 0;
    int64_t shape[4];
    assert_int_equal(aec_npy_read_f32(zp, &z, &ndim, shape), 0);
    assert_int_equal(ndim, 2);
    assert_true(shape[0] == 5 && shape[1] == Z);
    free(z);
    assert_int_equal(CLI("lin", "decode", "--weights", w, "--latents", zp, "--out", dec,
                         "--cols", "2"), 0);
    assert_int_equal(CLI("lin", "reconstruct", "--data", data, "--weights", w, "--out", rec,
                         "--n", "4"), 0);
    assert_true(access(dec, F_OK) == 0 && access(rec, F_OK) == 0 && access(lp, F_OK) == 0);
    free(out), free(w), free(zp), free(lp), free(dec), free(rec);
    char *run = join(dir, "run");
    rm_rf(run);
    free(run);
    rm_rf(data), rm_rf(dir);
    free(data), free(dir);
}

/* A NaN that starts in fmnist_cae's last layer (its bias) is named there,
 * with one slice or two: the outputs are looked at right after the forward
 * pass. Looked at after the backward pass, they named up1, whose memory
 * the backward pass had reused for NaN gradients by then. A finite loss
 * names nothing, and a slice whose loss is not finite gives NaN gradients. */
static void test_bad_layer_is_found_before_the_backward_pass(void **state)
{
    (void)state;
    const aec_model *m = &fmnist_cae_model;
    enum { B = 16 };
    float *p = aec_alloc_floats(m->n_params, "params"), *g = aec_alloc_floats(m->n_params, "grads");
    float *x = aec_alloc_floats((size_t)B * 784, "images");
    assert_true(p && g && x);
    aec_init_params(m, p, 1);
    for (int i = 0; i < B * 784; i++)
        x[i] = (float)(i % 251) / 251.0f;
    size_t bias = 0;
    for (int t = 0; t < m->n_tensors; t++)
        if (strcmp(m->params[t].name, "up2.bias") == 0)
            bias = m->params[t].offset;
    assert_true(bias > 0);
    for (int workers = 1; workers <= 2; workers++) {
        aec_workers *w = aec_workers_open(m, workers, B, 1);
        assert_non_null(w);
        p[bias] = 0.0f;
        assert_true(isfinite(aec_workers_grad(w, p, g, x, NULL, B)));
        assert_null(aec_workers_bad_layer(w));
        p[bias] = NAN;
        assert_true(isnan(aec_workers_grad(w, p, g, x, NULL, B)));
        const aec_layer *L = aec_workers_bad_layer(w);
        assert_non_null(L);
        assert_string_equal(L->name, "up2");
        assert_true(isnan(g[0]) && isnan(g[m->n_params - 1]));
        aec_workers_close(w);
    }
    free(p), free(g), free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_reference_stream),
        cmocka_unit_test(test_rng_determinism),
        cmocka_unit_test(test_rng_uniform_range),
        cmocka_unit_test(test_rng_normal_moments),
        cmocka_unit_test(test_rng_shuffle),
        cmocka_unit_test(test_rng_shuffle_uniform),
        cmocka_unit_test(test_init_bounds),
        cmocka_unit_test(test_init_distribution),
        cmocka_unit_test(test_adam_matches_torch),
        cmocka_unit_test(test_sgd_matches_torch),
        cmocka_unit_test(test_sgd_plain),
        cmocka_unit_test(test_put_input_get_output),
        cmocka_unit_test(test_latent_image_layout),
        cmocka_unit_test(test_latent_flat_layout),
        cmocka_unit_test(test_fixture_gradient),
        cmocka_unit_test(test_evaluate_weights_batches),
        cmocka_unit_test(test_training_lowers_loss),
        cmocka_unit_test(test_resume_adam),
        cmocka_unit_test(test_resume_sgd_momentum),
        cmocka_unit_test(test_interrupt_then_resume),
        cmocka_unit_test(test_resume_refusals),
        cmocka_unit_test(test_meta_get),
        cmocka_unit_test(test_cli_usage),
        cmocka_unit_test(test_cli_bad_arguments),
        cmocka_unit_test(test_cli_init),
        cmocka_unit_test(test_cli_grad),
        cmocka_unit_test(test_cli_step),
        cmocka_unit_test(test_cli_bad_shapes),
        cmocka_unit_test(test_cli_round_trip),
        cmocka_unit_test(test_bad_layer_is_found_before_the_backward_pass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
