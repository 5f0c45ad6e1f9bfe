/* lower/geometry.c: the direct, winograd and direct weight-gradient
 * kernels' geometry for the target (lower/geometry.h), and aec's tile for
 * im2col columns. */
#include <stdlib.h>
#include "base/util.h"
#include "lower/geometry.h"
#include "lower/target.h"

/* deconv2d: kernel row k adds input row m + shift to output row S*m + phase */
static int deconv_phase(const ir_conv *c, int k)
{
    int r = (k - c->pad) % c->stride;
    return r < 0 ? r + c->stride : r;
}

static int deconv_shift(const ir_conv *c, int k)
{
    return (deconv_phase(c, k) + c->pad - k) / c->stride;
}

/* The most vectors of outputs in a direct kernel's register block. */
enum { DIRECT_MAX_V = 12 };

/* The registers n broadcast values of a register block hold while it runs
 * (lower/target.h, bcast_held): n, or one for them all. */
int lower_held(int n)
{
    return aec_target_now()->bcast_held ? n : 1;
}

/* The most broadcast values, up to want, that a register block can sum
 * against `width` loaded vectors each: n x width sums, the width vectors
 * and the broadcasts' registers (lower_held), with one register to spare. */
static int fit_broadcasts(int want, int width)
{
    int regs = aec_target_now()->regs, n = want;
    while (n > 1 && n * width + width + lower_held(n) > regs - 1)
        n--;
    return n;
}

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

/* Floats between planes for planes of need floats: an odd number of cache
 * lines, as planes a multiple of 4 KiB apart would meet in the same few
 * sets of the L1 cache. */
static size_t plane_stride(size_t need)
{
    size_t line = (size_t)aec_target_now()->line, stride = round_up(need, line);
    return stride / line % 2 ? stride : stride + line;
}

int lower_winograd_fits(const ir_layer *l)
{
    return (l->kind == IR_CONV2D || l->kind == IR_DECONV2D) && l->conv.kernel <= 2 * l->conv.stride;
}

long lower_direct_base(const ir_layer *l, const lower_direct *d, int phase)
{
    int kk = l->conv.kernel * l->conv.kernel, *kidx = xmalloc(sizeof(int) * (size_t)kk);
    long *off = xmalloc(sizeof(long) * (size_t)kk), base = -1;
    int n = lower_direct_taps(l, d, phase, off, kidx);
    for (int t = 0; t < n; t++) {
        long within = l->kind == IR_CONV2D ? off[t] % (long)d->stride : off[t];    /* conv2d: within its split's plane */
        base = base < 0 || within < base ? within : base;
    }
    free(off);
    free(kidx);
    return base < 0 ? 0 : base;
}

/* The winograd lowering's extents, on the direct ones (ir.h). Tiles cover
 * each phase's flat rows from its base on: 2 * nty rows of the plane past
 * the base, so the largest base plus the output rows; a tile reads 3 x 3,
 * so the planes hold zeros a row and two past the last tile's origin. */
static void winograd_of(const ir_layer *l, lower_direct *d)
{
    size_t vec = (size_t)aec_target_now()->vec;
    long maxbase = 0;
    for (int p = 0; p < d->phases; p++) {
        long b = lower_direct_base(l, d, p);
        maxbase = b > maxbase ? b : maxbase;
    }
    d->wino = 1;
    d->K = l->in.c * d->splits;
    d->ntx = (int)((d->row + 1) / 2);
    d->nty = (int)(((size_t)d->out_rows * d->row + (size_t)maxbase + 2 * d->row - 1) / (2 * d->row));
    d->nvp = round_up((size_t)d->nty * d->ntx, vec * (size_t)d->V);
    d->nqp = round_up(2 * (size_t)d->nty * d->row + 1, vec);
    d->guard = round_up((size_t)maxbase, vec);
    size_t need = (2 * (size_t)d->nty + 1) * d->row + 2;
    d->stride = plane_stride(need > (size_t)d->rows * d->row ? need : (size_t)d->rows * d->row);
    d->src = (size_t)d->K * d->stride;
    d->wv = 9 * (size_t)d->K * d->nvp;
    d->wm = (size_t)d->phases * 9 * d->mpad * d->nvp;
    d->acc = (size_t)d->phases * d->mpad * d->nqp;
    d->pack = (size_t)d->phases * 9 * d->mpad * d->K;
    d->at_v = d->src > d->wm ? d->src : d->wm;
    d->work = d->at_v + (d->wv > d->guard + d->acc ? d->wv : d->guard + d->acc);
    d->computed = 4 * d->nvp;
}

lower_direct lower_direct_of(const ir_layer *l, const ir_sched *s, int batch)
{
    const ir_conv *c = &l->conv;
    int S = c->stride, K = c->kernel, per_axis = (K - 1) / S + 1, span;
    lower_direct d = { .max_taps = per_axis * per_axis };   /* a deconv2d phase's; a conv2d has one phase */
    if (l->kind == IR_CONV2D) {
        d.phases = 1;
        d.splits = S * S;
        d.out_rows = l->out.h;
        d.out_cols = l->out.w;
        d.rows = l->out.h + per_axis - 1;
        d.cols = l->out.w + per_axis - 1;
        d.max_taps = K * K;
        span = per_axis - 1;
    } else {
        int lo = deconv_shift(c, 0), hi = lo;
        for (int k = 1; k < K; k++) {
            int e = deconv_shift(c, k);
            lo = e < lo ? e : lo;
            hi = e > hi ? e : hi;
        }
        d.phases = S * S;
        d.splits = 1;
        d.lo = lo;
        d.out_rows = (l->out.h + S - 1) / S;
        d.out_cols = (l->out.w + S - 1) / S;
        /* rows: from input row lo to the last one a product reads, or the
         * input's last; columns likewise, except that the columns a
         * product reads past an image's are the zeros left of the next's */
        d.rows = (l->in.h > d.out_rows + hi ? l->in.h : d.out_rows + hi) - lo;
        d.cols = l->in.w - lo > d.out_cols + hi ? l->in.w - lo : d.out_cols + hi;
        span = hi - lo;
    }
    /* The register block: R x V sums, V loaded vectors and the broadcast
     * weights (lower_held), as many as the registers hold (8 x 3 of 32,
     * 4 x 3 of 16: every register; without FMA one more holds a product,
     * 4 x 2; tests/spills.sh checks that GCC keeps them there). R = a quarter of the registers in output channels, so
     * that each vector read from the planes feeds R multiply-adds: a
     * block's planes outgrow the L1 cache (celeba_vae's up1: 128 channels
     * x 11 lines), and with fewer the reads from L2 are the limit. On 16
     * registers 4 x 3 trained 2-7% faster than 4 x 2, 5 x 2 and 6 x 2
     * (bench/README.md). */
    const aec_target *t = aec_target_now();
    d.R = l->out.c < t->regs / 4 ? l->out.c : t->regs / 4;
    int fit = (t->regs - lower_held(d.R) - !t->fma) / (d.R + 1);
    d.V = s->unroll ? s->unroll : (fit < DIRECT_MAX_V ? fit : DIRECT_MAX_V);
    d.mpad = (int)round_up((size_t)l->out.c, (size_t)d.R);
    d.tile = s->tile ? s->tile : batch;
    d.row = (size_t)d.tile * d.cols;
    d.reach = (size_t)span * (d.row + 1);
    d.nqp = round_up((size_t)d.out_rows * d.row, (size_t)t->vec * (size_t)d.V);
    size_t need = d.nqp + d.reach > (size_t)d.rows * d.row ? d.nqp + d.reach : (size_t)d.rows * d.row;
    d.stride = plane_stride(need);
    d.src = (size_t)l->in.c * d.splits * d.stride;
    d.acc = (size_t)d.phases * d.mpad * d.nqp;
    d.pack = (size_t)d.phases * d.mpad * l->in.c * d.max_taps;
    d.work = d.src + d.acc;
    d.computed = d.nqp;
    if (s->lowering == LOWER_WINOGRAD)
        winograd_of(l, &d);
    return d;
}

int lower_direct_taps(const ir_layer *l, const lower_direct *d, int phase, long *off, int *kidx)
{
    const ir_conv *c = &l->conv;
    int S = c->stride, K = c->kernel, n = 0;
    for (int ky = 0; ky < K; ky++)
        for (int kx = 0; kx < K; kx++) {
            if (l->kind == IR_CONV2D) {
                off[n] = (long)(((ky % S) * S + kx % S) * d->stride + (size_t)(ky / S) * d->row) + kx / S;
            } else {
                if (deconv_phase(c, ky) * S + deconv_phase(c, kx) != phase)
                    continue;
                off[n] = (long)((size_t)(deconv_shift(c, ky) - d->lo) * d->row) + deconv_shift(c, kx) - d->lo;
            }
            kidx[n++] = ky * K + kx;
        }
    return n;
}

/* aec's tile for im2col columns where the block says nothing: tiles of the
 * batch where a whole batch's columns would outgrow the L2 cache (the
 * columns are scratch, plan.c): then memory stays small and a tile's
 * columns stay in cache. 0: the whole batch. */
int lower_gemm_tile(const ir_layer *l, int batch)
{
    double cols = ir_cols(l), budget = (double)aec_target_now()->l2 / sizeof(float);
    if (cols == 0 || cols * batch <= budget)
        return 0;
    return cols >= budget ? 1 : (int)(budget / cols);
}

/* The register block: J x ov sums, ov loaded gradient vectors and the
 * broadcast values. The sums take three quarters of the registers (24 of
 * 32, 12 of 16) either way: J x 2 where there are more output channels
 * than a vector holds (each broadcast feeds 2 multiply-adds), J x 1 for a
 * vector or fewer; fewer where each broadcast value holds a register of its
 * own (lower_held); J no more than a phase can have. */
lower_dweight lower_dweight_of(const ir_layer *l, const ir_sched *bwd, int batch)
{
    ir_sched direct = { .lowering = LOWER_DIRECT, .tile = bwd->tile };
    lower_dweight w = { .d = lower_direct_of(l, &direct, batch) };
    const aec_target *t = aec_target_now();
    int deconv = l->kind == IR_DECONV2D, taps = w.d.max_taps * l->in.c, sums = t->regs * 3 / 4;
    w.S = deconv ? l->conv.stride : 1;
    w.ov = l->out.c > t->vec ? 2 : 1;
    w.mw = (int)round_up((size_t)l->out.c, (size_t)t->vec * (size_t)w.ov);
    int J = fit_broadcasts(sums / w.ov, w.ov);
    w.J = J < taps ? J : taps;
    w.pairs = (int)round_up((size_t)taps, (size_t)w.J);
    w.grads = (size_t)w.d.tile * l->out.h * l->out.w * w.mw;
    w.sums = (size_t)w.d.phases * w.pairs * w.mw;
    w.work = w.d.src + w.grads + w.sums;
    return w;
}

int lower_dweight_direct(const ir_layer *l)
{
    return (l->kind == IR_CONV2D || l->kind == IR_DECONV2D) && l->sched[PASS_BWD].lowering != LOWER_GEMM &&
           l->runs_backward;
}

void lower_dweight_extent(const ir_layer *l, const lower_dweight *w, int p, int *rows, int *cols)
{
    *rows = (l->out.h - p / w->S + w->S - 1) / w->S;
    *cols = (l->out.w - p % w->S + w->S - 1) / w->S;
}

int lower_linear_images(void)
{
    return 2 * aec_target_now()->vec;
}

/* R outputs x 2 vectors of images: 2R sums in three quarters of the
 * registers (R = 12 of 32, 6 of 16), with the 2 image vectors and the
 * broadcast weights beside them. */
int lower_linear_rows(const ir_layer *l)
{
    int r = fit_broadcasts(aec_target_now()->regs * 3 / 8, 2);
    return l->out.c < r ? l->out.c : r;
}

/* Images a panel is multiplied into at a time: 4 x images sums, the panel
 * row's 4 vectors and the broadcast inputs, with one register to spare
 * (6 images of 32 registers, 2 of 16). */
int lower_panel_images(void)
{
    int v = lower_panel() / aec_target_now()->vec;
    return fit_broadcasts((aec_target_now()->regs - 1 - v) / v, v);
}

int lower_panel(void)
{
    return 4 * aec_target_now()->vec;
}

int lower_panel_inputs(void)
{
    return (int)(aec_target_now()->l1 / sizeof(float) / (size_t)lower_panel());
}
