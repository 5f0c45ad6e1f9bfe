/* passes/plan.c: lay out the arena that holds every activation, gradient and
 * scratch buffer of one training step.
 *
 * A step runs in numbered stages: 0 writes the input; stage 1+i runs layer
 * i forward; then the loss (nlayers + 1), its gradient (nlayers + 2), and layer i backward at
 * bwd_stage(i), last layer first. Each buffer lives from the stage that
 * writes it to the last stage that reads it, and two buffers may share
 * memory when their lives do not overlap. An output made again in the
 * backward pass (schedule.c, recompute) is two buffers: the forward pass's,
 * and the backward pass's (LAYER_redo). Sizes are floats per image: the
 * generated code multiplies every offset by the batch size B. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/util.h"
#include "ir/ir.h"
#include "ir/passes.h"
#include "lower/geometry.h"
#include "lower/target.h"

static int fwd_stage(int i) { return 1 + i; }
static int dloss_stage(const ir_model *m) { return m->nlayers + 2; }
static int bwd_stage(const ir_model *m, int i) { return m->nlayers + 3 + (m->nlayers - 1 - i); }

static int add_buf(ir_model *m, const char *layer, const char *what, size_t size, int first, int last)
{
    m->bufs = xrealloc(m->bufs, (size_t)(m->nbufs + 1) * sizeof *m->bufs);
    ir_buf *b = &m->bufs[m->nbufs];
    memset(b, 0, sizeof *b);
    snprintf(b->name, sizeof b->name, "%s%s%s", layer, *layer ? "_" : "", what);
    size_t line = (size_t)aec_target_now()->line;   /* each buffer on a cache line of its own, for any B */
    b->size = (size + line - 1) / line * line;
    b->first = first;
    b->last = last;
    return m->nbufs++;
}

static void extend(ir_model *m, int buf, int stage)
{
    if (m->bufs[buf].last < stage)
        m->bufs[buf].last = stage;
}

static int last_stage(const ir_model *m) { return bwd_stage(m, 0); }

/* mu and logvar live until the layer's backward (the loss reads them for
 * the KL term on the way); eps, written by the runtime before a step, lives
 * the whole step so that repeated forward passes (gradcheck) see the same. */
static void gaussian_buffers(ir_model *m, ir_layer *l, int i)
{
    size_t z = ir_numel(l->out);
    l->buf_mu = add_buf(m, "latent", "mu", z, fwd_stage(i), bwd_stage(m, i));
    l->buf_logvar = add_buf(m, "latent", "logvar", z, fwd_stage(i), bwd_stage(m, i));
    l->buf_eps = add_buf(m, "latent", "eps", z, 0, last_stage(m));
    l->buf_dmu = add_buf(m, "latent", "dmu", z, bwd_stage(m, i), bwd_stage(m, i));
    l->buf_dlogvar = add_buf(m, "latent", "dlogvar", z, bwd_stage(m, i), bwd_stage(m, i));
}

static void make_buffers(ir_model *m)
{
    int n = m->nlayers;
    m->buf_input = add_buf(m, "", "input", ir_numel(m->input), 0, dloss_stage(m));
    int in = m->buf_input, in_bwd = m->buf_input;     /* the input the forward and backward passes read */
    for (int i = 0; i < n; i++) {
        ir_layer *l = &m->layers[i];
        extend(m, in, fwd_stage(i));
        /* a layer with weights reads its input for their gradient (conv2d
         * through columns it makes again, gemm, or directly): kept whatever
         * the lowering, so of the schedule only the outputs made again
         * (recompute) change the plan */
        if (l->weight >= 0)
            extend(m, in_bwd, bwd_stage(m, i));
        int last = l->act != ACT_NONE ? bwd_stage(m, i) : fwd_stage(i);
        l->buf_out = add_buf(m, l->name, "out", ir_numel(l->out), fwd_stage(i), l->recompute ? fwd_stage(i) : last);
        /* an output made again (schedule.c): the forward pass's lives until
         * the next layer has read it; the backward pass's is made at the
         * start of the next layer's backward stage, for it and this one's */
        l->buf_redo = l->recompute ? add_buf(m, l->name, "redo", ir_numel(l->out), bwd_stage(m, i + 1),
                                             l->act != ACT_NONE ? bwd_stage(m, i) : bwd_stage(m, i + 1))
                                   : -1;
        l->buf_cols = l->buf_dcols = -1;
        l->buf_mu = l->buf_logvar = l->buf_eps = l->buf_dmu = l->buf_dlogvar = -1;
        if (l->kind == IR_GAUSSIAN)
            gaussian_buffers(m, l, i);
        /* conv2d's and deconv2d's columns live in the scratch (below) */
        int grad_from = i == n - 1 ? dloss_stage(m) : bwd_stage(m, i + 1);
        l->buf_dout = l->runs_backward
                          ? add_buf(m, l->name, "dout", ir_numel(l->out), grad_from, bwd_stage(m, i)) : -1;
        in = l->buf_out;
        in_bwd = ir_bwd_out(l);
    }
    extend(m, in, dloss_stage(m));      /* the output: read by the loss and its gradient */
}

static int overlaps(const ir_buf *a, const ir_buf *b)
{
    return a->first <= b->last && b->first <= a->last;
}

/* Largest first, each at the lowest offset that clashes with no placed
 * buffer alive at the same time. Ties go by creation order: deterministic. */
static int by_size(const void *pa, const void *pb, void *ctx)
{
    const ir_buf *bufs = ctx;
    int a = *(const int *)pa, b = *(const int *)pb;
    if (bufs[a].size != bufs[b].size)
        return bufs[a].size < bufs[b].size ? 1 : -1;
    return a - b;
}

static size_t lowest_free(const ir_model *m, const int *placed, int np, const ir_buf *b)
{
    size_t off = 0;
    for (int moved = 1; moved;) {
        moved = 0;
        for (int j = 0; j < np; j++) {
            const ir_buf *o = &m->bufs[placed[j]];
            if (overlaps(o, b) && off < o->offset + o->size && o->offset < off + b->size) {
                off = o->offset + o->size;
                moved = 1;
            }
        }
    }
    return off;
}

static void sort_indices(int *idx, int n, const ir_buf *bufs)
{
    /* insertion sort: a few dozen buffers, and qsort_r is not portable */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && by_size(&idx[j - 1], &idx[j], (void *)bufs) > 0; j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
}

/* At least need floats: B times need per image (untiled) or need whole. */
static void reserve(ir_model *m, size_t need, int per_image)
{
    size_t *slot = per_image ? &m->scratch_per_image : &m->scratch_fixed;
    if (need > *slot)
        *slot = need;
}

/* im2col columns for tiles of tile images (0: per image of the batch) */
static void reserve_cols(ir_model *m, const ir_layer *l, int tile)
{
    reserve(m, (size_t)ir_cols(l) * (tile ? (size_t)tile : 1), tile == 0);
}

static void reserve_direct(ir_model *m, const ir_layer *l, const ir_sched *s)
{
    lower_direct d = lower_direct_of(l, s, m->batch);
    reserve(m, d.work + d.pack, 0);
}

/* The columns of a convolution (im2col) are scratch of one pass: conv2d's
 * backward makes them again from its input, kept for it. So they need not
 * be in the arena, whose buffers live across stages, but in one scratch
 * area after it, as large as the largest pass needs: cols floats per image
 * of an untiled gemm pass, or cols x tile floats for a tiled one; a direct
 * pass's planes, products and packed weights for its tile. That is
 * the one thing in the plan a schedule changes, and only in the
 * descriptor: no buffer moves. */
static void plan_scratch(ir_model *m)
{
    m->scratch_per_image = m->scratch_fixed = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const ir_layer *l = &m->layers[i];
        if ((l->kind == IR_LINEAR || l->kind == IR_GAUSSIAN) && l->sched[PASS_FWD].lowering != LOWER_GEMM)
            reserve(m, (size_t)l->in.c * lower_linear_images(), 0);    /* the direct product's images, transposed */
        if (l->kind != IR_CONV2D && l->kind != IR_DECONV2D)
            continue;
        const ir_sched *f = &l->sched[PASS_FWD], *b = &l->sched[PASS_BWD];
        if (f->lowering == LOWER_GEMM)
            reserve_cols(m, l, f->tile);
        else
            reserve_direct(m, l, f);
        if (!l->runs_backward)
            continue;
        /* the weight gradient is direct (LAYER_dw) under a direct backward
         * pass, else im2col + GEMM; a direct or winograd backward pass's
         * input gradient is the kernels of LAYER_din after it */
        if (lower_dweight_direct(l))
            reserve(m, lower_dweight_of(l, b, m->batch).work, 0);
        else
            reserve_cols(m, l, b->tile);
        if (b->lowering != LOWER_GEMM && l->needs_din) {
            ir_layer din = ir_din_layer(l);
            reserve_direct(m, &din, b);
        }
    }
}

/* Floats of layer l's prepared weights (0: none): a direct or winograd
 * convolution's packed weights, or a gemm linear layer's panels (ir.h). */
static size_t prepared_floats(const ir_model *m, const ir_layer *l)
{
    const ir_sched *f = &l->sched[PASS_FWD];
    if ((l->kind == IR_CONV2D || l->kind == IR_DECONV2D) && f->lowering != LOWER_GEMM)
        return lower_direct_of(l, f, m->batch).pack;
    if (l->kind == IR_LINEAR && f->lowering == LOWER_GEMM && l->in.c <= lower_panel_inputs())
        return (size_t)(l->out.c + lower_panel() - 1) / lower_panel() * lower_panel() * l->in.c;
    return 0;
}

/* Inference's prepared weights (MODEL_prepare): the weights as the
 * forward passes read them, made once for weights that no longer change
 * instead of on every call (a call of celeba_vae's forward passes spent 4%
 * of its time packing, and OpenBLAS 5% copying fc's). Training changes the
 * weights every step, so its passes pack them into scratch as they go (or
 * OpenBLAS copies them). */
static void plan_prepared(ir_model *m)
{
    m->prep_floats = 0;
    for (int i = 0; i < m->nlayers; i++) {
        ir_layer *l = &m->layers[i];
        size_t n = prepared_floats(m, l);
        l->prep = n ? (long)m->prep_floats : -1;
        m->prep_floats += n;
    }
}

void plan_arena(ir_model *m)
{
    make_buffers(m);
    plan_scratch(m);
    plan_prepared(m);
    int *order = xmalloc((size_t)m->nbufs * sizeof *order);
    for (int i = 0; i < m->nbufs; i++)
        order[i] = i;
    sort_indices(order, m->nbufs, m->bufs);
    m->arena_per_image = 0;
    for (int k = 0; k < m->nbufs; k++) {
        ir_buf *b = &m->bufs[order[k]];
        b->offset = lowest_free(m, order, k, b);
        if (b->offset + b->size > m->arena_per_image)
            m->arena_per_image = b->offset + b->size;
    }
    free(order);
}
