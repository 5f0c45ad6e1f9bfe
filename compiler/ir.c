/* ir.c: small helpers shared by the passes over the IR. */
#include <stdio.h>
#include <stdlib.h>
#include "ir.h"
#include "util.h"

size_t ir_numel(ir_shape s)
{
    return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

void ir_free(ir_model *m)
{
    free(m->layers);
    free(m->params);
    free(m->bufs);
    m->layers = NULL;
    m->params = NULL;
    m->bufs = NULL;
}

const char *ir_kind_name(ir_kind k)
{
    static const char *const names[] = {"conv2d", "deconv2d", "linear", "flatten", "unflatten", "act", "gaussian"};
    return names[k];
}

const char *const ir_lowering_names[] = { [LOWER_GEMM] = "gemm", [LOWER_DIRECT] = "direct",
                                          [LOWER_WINOGRAD] = "winograd", NULL };

const char *ir_act_name(ir_act a)
{
    static const char *const names[] = {"none", "relu", "leaky_relu", "sigmoid", "tanh"};
    return names[a];
}

const char *ir_shape_str(ir_shape s, char *buf, size_t size)
{
    if (s.flat)
        snprintf(buf, size, "%d", s.c);
    else
        snprintf(buf, size, "%dx%dx%d", s.c, s.h, s.w);
    return buf;
}

double ir_layer_flops(const ir_layer *l)
{
    double k2 = (double)l->conv.kernel * l->conv.kernel;
    switch (l->kind) {
    case IR_CONV2D:
        return 2.0 * (double)ir_numel(l->out) * l->in.c * k2;
    case IR_DECONV2D:
        return 2.0 * (double)ir_numel(l->in) * l->out.c * k2;
    case IR_LINEAR:
        return 2.0 * (double)l->in.c * l->out.c;
    case IR_GAUSSIAN:
        return 4.0 * (double)l->in.c * l->out.c;
    case IR_ACT:
        return (double)ir_numel(l->out);
    default:
        return 0.0;
    }
}

double ir_cols(const ir_layer *l)
{
    if (l->kind != IR_CONV2D && l->kind != IR_DECONV2D)
        return 0;
    double k2 = (double)l->conv.kernel * l->conv.kernel;
    return l->kind == IR_CONV2D ? k2 * l->in.c * l->out.h * l->out.w : k2 * l->out.c * l->in.h * l->in.w;
}

void ir_mark_gradients(ir_model *m)
{
    int weights_below = 0;
    for (int i = 0; i < m->nlayers; i++) {
        ir_layer *l = &m->layers[i];
        l->needs_din = weights_below;
        weights_below |= l->weight >= 0;
        l->runs_backward = l->weight >= 0 || l->needs_din;
    }
}

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

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

/* Floats between planes for planes of need floats: an odd number of cache
 * lines, as planes a multiple of 4 KiB apart would meet in the same few
 * sets of the L1 cache. */
static size_t plane_stride(size_t need)
{
    size_t stride = round_up(need, 16);
    return stride / 16 % 2 ? stride : stride + 16;
}

int ir_bwd_out(const ir_layer *l)
{
    return l->recompute ? l->buf_redo : l->buf_out;
}

int ir_winograd_fits(const ir_layer *l)
{
    return (l->kind == IR_CONV2D || l->kind == IR_DECONV2D) && l->conv.kernel <= 2 * l->conv.stride;
}

long ir_direct_base(const ir_layer *l, const ir_direct *d, int phase)
{
    int kk = l->conv.kernel * l->conv.kernel, *kidx = xmalloc(sizeof(int) * (size_t)kk);
    long *off = xmalloc(sizeof(long) * (size_t)kk), base = -1;
    int n = ir_direct_taps(l, d, phase, off, kidx);
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
static void winograd_of(const ir_layer *l, ir_direct *d)
{
    long maxbase = 0;
    for (int p = 0; p < d->phases; p++) {
        long b = ir_direct_base(l, d, p);
        maxbase = b > maxbase ? b : maxbase;
    }
    d->wino = 1;
    d->K = l->in.c * d->splits;
    d->ntx = (int)((d->row + 1) / 2);
    d->nty = (int)(((size_t)d->out_rows * d->row + (size_t)maxbase + 2 * d->row - 1) / (2 * d->row));
    d->nvp = round_up((size_t)d->nty * d->ntx, 16 * (size_t)d->V);
    d->nqp = round_up(2 * (size_t)d->nty * d->row + 1, 16);
    d->guard = round_up((size_t)maxbase, 16);
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

ir_direct ir_direct_of(const ir_layer *l, const ir_sched *s, int batch)
{
    const ir_conv *c = &l->conv;
    int S = c->stride, K = c->kernel, per_axis = (K - 1) / S + 1, span;
    ir_direct d = { .max_taps = per_axis * per_axis };   /* a deconv2d phase's; a conv2d has one phase */
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
    /* 32 vector registers: R x V sums and V loaded vectors, within 30.
     * R = 8 output channels, so each vector read from the planes feeds 8
     * multiply-adds: a block's planes outgrow the L1 cache (celeba_vae's
     * up1: 128 channels x 11 lines), and with 4 the reads from L2 were the
     * limit (up1 forward 4.3 ms a slice against 3.7 at 8). */
    d.R = l->out.c < 8 ? l->out.c : 8;
    d.V = s->unroll ? s->unroll : (30 / (d.R + 1) < 12 ? 30 / (d.R + 1) : 12);
    d.mpad = (int)round_up((size_t)l->out.c, (size_t)d.R);
    d.tile = s->tile ? s->tile : batch;
    d.row = (size_t)d.tile * d.cols;
    d.reach = (size_t)span * (d.row + 1);
    d.nqp = round_up((size_t)d.out_rows * d.row, 16 * (size_t)d.V);
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

int ir_direct_taps(const ir_layer *l, const ir_direct *d, int phase, long *off, int *kidx)
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
 * batch where a whole batch's columns would pass SCRATCH_MIB (the columns
 * are scratch, plan.c): then memory stays small and a tile's columns stay
 * in cache. 0: the whole batch. */
enum { SCRATCH_MIB = 2 };

int ir_gemm_tile(const ir_layer *l, int batch)
{
    double cols = ir_cols(l), budget = SCRATCH_MIB * 1048576.0 / sizeof(float);
    if (cols == 0 || cols * batch <= budget)
        return 0;
    return cols >= budget ? 1 : (int)(budget / cols);
}

/* 32 vector registers: J x ov sums, ov loaded gradient vectors and the
 * broadcast value. 24 sums either way: 2 x 12 where there are more than
 * 16 output channels (each broadcast feeds 2 multiply-adds), 1 x 24 for
 * 16 or fewer; J no more than a phase can have. */
ir_dweight ir_dweight_of(const ir_layer *l, const ir_sched *bwd, int batch)
{
    ir_sched direct = { .lowering = LOWER_DIRECT, .tile = bwd->tile };
    ir_dweight w = { .d = ir_direct_of(l, &direct, batch) };
    int deconv = l->kind == IR_DECONV2D, taps = w.d.max_taps * l->in.c;
    w.S = deconv ? l->conv.stride : 1;
    w.ov = l->out.c > 16 ? 2 : 1;
    w.mw = (int)round_up((size_t)l->out.c, 16 * (size_t)w.ov);
    w.J = 24 / w.ov < taps ? 24 / w.ov : taps;
    w.pairs = (int)round_up((size_t)taps, (size_t)w.J);
    w.grads = (size_t)w.d.tile * l->out.h * l->out.w * w.mw;
    w.sums = (size_t)w.d.phases * w.pairs * w.mw;
    w.work = w.d.src + w.grads + w.sums;
    return w;
}

int ir_dweight_direct(const ir_layer *l)
{
    return (l->kind == IR_CONV2D || l->kind == IR_DECONV2D) && l->sched[PASS_BWD].lowering != LOWER_GEMM &&
           l->runs_backward;
}

void ir_dweight_extent(const ir_layer *l, const ir_dweight *w, int p, int *rows, int *cols)
{
    *rows = (l->out.h - p / w->S + w->S - 1) / w->S;
    *cols = (l->out.w - p % w->S + w->S - 1) / w->S;
}

ir_layer ir_din_layer(const ir_layer *l)
{
    ir_layer g = *l;
    snprintf(g.name, sizeof g.name, "%.40s_din", l->name);  /* names: at most 40 (sema), never ending in _din */
    g.kind = l->kind == IR_CONV2D ? IR_DECONV2D : IR_CONV2D;
    g.in = l->out;
    g.out = l->in;
    g.conv.out = l->in.c;
    g.act = ACT_NONE;
    g.bias = -1;
    return g;
}
