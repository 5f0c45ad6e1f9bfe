/* passes/schedule.c: how each layer's kernels are computed, never what.
 *
 * Like Halide's split of algorithm and schedule: the encoder and decoder
 * blocks say what a model computes; the optional schedule block says how,
 * per layer and per pass:
 *
 *   schedule {
 *     conv1 = direct(threads=2)         both passes of conv1
 *     up1.backward = gemm(threads=1)    one pass
 *   }
 *
 * lowering  gemm: im2col/col2im around one cblas_sgemm per product;
 *           direct (a linear layer's or the latent heads' forward pass):
 *           the weights read as they are, 2 vectors of images a block;
 *           direct (conv2d and deconv2d only): products of shifted planes
 *           summed in registers (lower/geometry.h, lower_direct), for the forward pass and
 *           for the backward pass's input gradient (the transposed
 *           convolution, ir_din_layer); the weight gradient by the direct
 *           kernels LAYER_dw_* (lower/geometry.h, lower_dweight) where
 *           there are a vector's worth of output channels, else im2col +
 *           GEMM;
 *           winograd (the same, where kernel <= 2 x stride): direct's planes
 *           and stores, with each phase's 2 x 2 taps as Winograd's F(2x2,
 *           2x2) in between: 9 multiply-adds for every 16 (lower/geometry.h)
 * threads=N 0: every core (OpenBLAS's threads for gemm, OpenMP's for
 *           direct); 1: none; N: N threads. Under split, each slice's
 *           thread keeps its kernels to itself (the runtime)
 * unroll=N  gemm: #pragma GCC unroll N on the innermost loops of im2col and
 *           col2im; direct, winograd: N vectors of outputs (winograd:
 *           tiles) in a register block;
 *           0: the C compiler's choice, or aec's block
 * tile=N    the batch in tiles of N images: a gemm pass's im2col columns, or
 *           a direct pass's planes, used while still in cache; 0: the
 *           whole batch at once (direct: the model's batch)
 *
 *   conv1.output = recompute()        conv1's output made again in the
 *                                     backward pass instead of kept from the
 *                                     forward pass (keep(): kept); a
 *                                     conv2d, deconv2d or linear layer
 *                                     (cannot_recompute says which)
 *
 *   model = split(workers=N)          the whole step: each batch as N slices,
 *                                     each slice's forward and backward on
 *                                     one thread (runtime/workers.c); 0: one
 *                                     slice per core, 1: the batch whole
 *
 * First every layer gets aec's default from its shapes, then each line of
 * the block overrides one layer's passes. A schedule changes float
 * rounding at most, and only the functions of the layer it names: the arena
 * plan does not depend on it (see plan.c), so `diff` of two emissions shows
 * exactly what a directive does. An output line is the exception: it
 * changes the plan (the arena's offsets, and its size) and the backward
 * entry point, never a layer's functions, nor any result: the output made
 * again is the same, bit for bit. */
#include <stdlib.h>
#include <string.h>
#include "front/diag.h"
#include "ir/ir.h"
#include "ir/passes.h"
#include "lower/geometry.h"
#include "lower/target.h"

/* A setting's value, a whole number from 0 to max, into *out; -1 after a
 * message. Bounds first: (long) of a number out of its range (1e40) is
 * undefined (found by tests/fuzz). */
static int whole_number(const ast_value *v, const char *key, int max, int *out)
{
    if (v->kind != VAL_NUMBER || v->num < 0 || v->num > max || v->num != (double)(long)v->num) {
        diag_error(v->pos, "%s must be a whole number from 0 to %d, not '%s'", key, max, v->text);
        return -1;
    }
    *out = (int)v->num;
    return 0;
}

static int is_conv(const ir_layer *l)
{
    return l->kind == IR_CONV2D || l->kind == IR_DECONV2D;
}

/* A direct pass's tile: of the tiles whose planes and products fit in
 * DIRECT_KIB (winograd: WINOGRAD_KIB), so that they stay in the core's
 * cache, the one that computes the fewest outputs it then drops, per image: a tile's products
 * run in whole blocks of V vectors of outputs, so a small plane can waste most of
 * its last block (celeba_vae's conv3: 8 x 9 outputs a plane, a third of a
 * block lost at tiles of 1 to 3 images, an eighth at 4), and a last tile
 * with fewer images computes the missing ones too. The smallest tile
 * where it is a tie. */
enum { DIRECT_KIB = 1024 };
/* Winograd's tiles hold more: the transformed planes are 9/4 of the
 * planes, and the products 9 a tile (lower/geometry.h; the stages share
 * their floats where one's input is dead). Of 1, 2 and 3 MiB, 2 gave the
 * tiles that measured best on celeba_vae (bench/README.md), and more would
 * raise the peak memory of training by the scratch of each worker. */
enum { WINOGRAD_KIB = 2048 };

static double direct_waste(const ir_model *m, const ir_layer *l, const ir_sched *s, int tile, size_t *floats)
{
    ir_sched t = *s;
    t.tile = tile;
    lower_direct d = lower_direct_of(l, &t, tile);
    *floats = d.work;
    /* and the images a last, partial tile adds: for the batch whole, and
     * split in 2 or 4 slices (one slice per core) */
    double partial = 0;
    for (int split = 1; split <= 4; split *= 2) {
        int slice = (m->batch + split - 1) / split;
        partial += (double)((slice + tile - 1) / tile * tile) / slice / 3;
    }
    return partial * (double)d.computed / ((double)tile * d.out_rows * d.out_cols);
}

static int best_direct_tile(const ir_model *m, const ir_layer *l, const ir_sched *s)
{
    size_t floats, budget = (s->lowering == LOWER_WINOGRAD ? WINOGRAD_KIB : DIRECT_KIB) * 1024 / sizeof(float);
    int best = 1;
    double least = direct_waste(m, l, s, 1, &floats);
    for (int tile = 2; tile <= m->batch; tile++) {
        double waste = direct_waste(m, l, s, tile, &floats);
        if (floats > budget)
            break;
        if (waste < least - 0.01)
            best = tile, least = waste;
    }
    return best;
}

/* The tile of pass p of layer l under direct lowering: its kernels run the
 * layer itself forward, and its input gradient's layer backward. */
static int default_direct_tile(const ir_model *m, const ir_layer *l, int p, const ir_sched *s)
{
    ir_layer din = ir_din_layer(l);
    return best_direct_tile(m, p == PASS_FWD ? l : &din, s);
}

/* aec's tile for pass p of layer l under the lowering s names. */
static int default_tile(const ir_model *m, const ir_layer *l, int p, const ir_sched *s)
{
    if (s->lowering == LOWER_GEMM)
        return lower_gemm_tile(l, m->batch);
    return is_conv(l) ? default_direct_tile(m, l, p, s) : 0;
}

/* Where the direct forward pass beats im2col + GEMM: everywhere in the seed
 * models (bench/README.md), except for one output channel, where a
 * register block of one row loads a vector for every multiply-add
 * (fmnist_cae's up2), and one input channel, where a block sums over the
 * taps alone, too few to pay for its loads and stores (fmnist_cae's
 * conv1: on x86-64-v3 23% slower than gemm, on x86-64-v4 even). */
static int direct_forward_wins(const ir_layer *l)
{
    return l->out.c != 1 && l->in.c != 1;
}

/* Where Winograd's F(2x2, 2x2) beats the direct products: a kernel of
 * twice the stride, so that every phase has its full 2 x 2 taps (with
 * fewer, it computes as many products as the direct kernels do, and
 * transforms besides), and 8 channels or more on both sides, so that the
 * transforms stay small beside the products (measured on celeba_vae, a
 * layer at a time on one core, README.md). */
static int winograd_wins(const ir_layer *l)
{
    return l->conv.kernel == 2 * l->conv.stride && l->in.c >= 8 && l->out.c >= 8;
}

/* Where the direct product of a linear layer (or the latent heads) beats
 * the GEMM, which copies the weights on every call: long inputs and more
 * than 2 MiB of weights (celeba_vae's heads, 8192 x 128 each). Not for
 * short inputs, where the products' stores cost as much as their sums
 * (celeba_vae's fc, 128 x 8192), nor for smaller weights (fmnist_cae's
 * code, 3136 x 64). Measurements: bench/README.md. */
static int direct_linear_wins(const ir_layer *l)
{
    return l->in.c >= 1024 && (double)l->in.c * l->out.c * sizeof(float) > 2.0 * 1048576;
}

/* The forward lowering that wins for a convolution's shapes. */
static ir_lowering conv_lowering(const ir_layer *l)
{
    return winograd_wins(l) ? LOWER_WINOGRAD : direct_forward_wins(l) ? LOWER_DIRECT : LOWER_GEMM;
}

/* A pass is direct or winograd where those kernels win. The forward pass:
 * by the layer's own shapes. The backward pass: by the shapes of the layer
 * that makes its input gradient (LAYER_din, the transposed convolution),
 * which spares a GEMM and col2im or im2col; the first layer that learns has
 * no input gradient, and is direct. Either way its weight gradient is then
 * the direct kernels of LAYER_dw, which broadcast a plane value into
 * vectors of output channels: they win where a vector's worth of output
 * channels or more fills them (bench/README.md). With fewer (fmnist_cae's
 * up2, celeba_vae's up3) most of each vector would be padding: gemm. Under
 * split (the default) every kernel runs on its worker's thread: the
 * runtime holds OpenBLAS and OpenMP to one thread each. */
static void set_defaults(const ir_model *m, ir_layer *l)
{
    l->recompute = l->output_line = 0;      /* kept, unless default_outputs says otherwise */
    for (int p = PASS_FWD; p <= PASS_BWD; p++) {
        l->sched[p] = (ir_sched){ .lowering = LOWER_GEMM, .unroll = 0, .threads = 0, .line = 0 };
        l->sched[p].tile = default_tile(m, l, p, &l->sched[p]);
    }
    if (l->kind == IR_LINEAR || l->kind == IR_GAUSSIAN) {
        if (direct_linear_wins(l))
            l->sched[PASS_FWD].lowering = LOWER_DIRECT;
        return;
    }
    if (!is_conv(l))
        return;
    ir_layer din = ir_din_layer(l);
    for (int p = PASS_FWD; p <= PASS_BWD; p++) {
        ir_lowering how = p == PASS_FWD ? conv_lowering(l)
                        : l->out.c < aec_target_now()->vec ? LOWER_GEMM
                        : l->needs_din  ? conv_lowering(&din)
                                        : LOWER_DIRECT;
        if (how == LOWER_GEMM)
            continue;
        ir_sched *s = &l->sched[p];
        *s = (ir_sched){ .lowering = how, .unroll = 0, .threads = 0, .line = 0 };
        s->tile = default_tile(m, l, p, s);
    }
}

/* model = split(workers=N) */
static int apply_model(ir_model *m, const ast_directive *d)
{
    const ast_call *c = &d->call;
    if (strcmp(c->name, "split") != 0) {
        diag_error(c->pos, "the model's line is split(workers=N), not '%s'", c->name);
        return -1;
    }
    if (m->workers_line) {
        diag_error(d->pos, "a second 'model' line in the schedule (the first is on line %d)", m->workers_line);
        return -1;
    }
    for (int i = 0; i < c->nargs; i++) {
        const ast_arg *a = &c->args[i];
        if (!a->key || strcmp(a->key, "workers") != 0 || i > 0) {
            diag_error(a->pos, "split takes one setting, workers=N");
            return -1;
        }
        if (whole_number(&a->val, "workers", 256, &m->workers) != 0)
            return -1;
    }
    m->workers_line = d->pos.line;
    return 0;
}

static ir_layer *find_layer(ir_model *m, const char *name)
{
    for (int i = 0; i < m->nlayers; i++)
        if (!strcmp(m->layers[i].name, name))
            return &m->layers[i];
    return NULL;
}

static int no_such_layer(const ir_model *m, const ast_directive *d)
{
    const char **names = calloc((size_t)m->nlayers + 1, sizeof *names);
    for (int i = 0; names && i < m->nlayers; i++)
        names[i] = m->layers[i].name;
    const char *near = names ? diag_closest(d->layer, names) : NULL;
    if (near)
        diag_error(d->pos, "no layer '%s' to schedule; did you mean '%s'?", d->layer, near);
    else
        diag_error(d->pos, "no layer '%s' to schedule", d->layer);
    free(names);
    return -1;
}

/* ---- a layer's output: kept for the backward pass, or made again there ---- */

/* Why layer i's output cannot be made again in the backward pass, into
 * why; NULL if it can. It can for a conv2d, deconv2d or linear layer (its
 * input is kept for its weight gradient, so it can run again), not the last
 * (the loss reads that output), not one whose output no backward pass
 * reads (no activation, and no weights after it: nothing to spare), and not
 * next to another one made again (the one below would not be there yet to
 * make it from). Two neighbours can only both be a schedule's lines:
 * default_outputs runs after them and avoids both. */
static const char *cannot_recompute(const ir_model *m, int i, char *why, size_t size)
{
    const ir_layer *l = &m->layers[i], *next = i + 1 < m->nlayers ? &m->layers[i + 1] : NULL;
    if (!next)
        snprintf(why, size, "%s's output cannot be made again: it is the last layer, and the loss reads its "
                 "output", l->name);
    else if (l->act == ACT_NONE && next->weight < 0)
        snprintf(why, size, "%s's output cannot be made again: no backward pass reads it (it has no activation, "
                 "and %s has no weights), so it is not kept", l->name, next->name);
    else if (i > 0 && m->layers[i - 1].recompute)
        snprintf(why, size, "%s's output cannot be made again: its input, %s's output, is made again too "
                 "(line %d; keep one of the two)", l->name, m->layers[i - 1].name, m->layers[i - 1].output_line);
    else if (next->recompute)
        snprintf(why, size, "%s's output cannot be made again: %s, which reads it, makes its own output "
                 "again too (line %d; keep one of the two)", l->name, next->name, next->output_line);
    else
        return NULL;
    return why;
}

/* Where making an output again beats keeping it: a convolution (conv2d or
 * deconv2d) of 64 multiply-adds an output or fewer, whose output at the
 * model's batch is 4 MiB or more. Every output kept from the forward pass
 * is in the arena when the backward pass starts, where training's memory
 * peaks. celeba_vae's conv1 (48 multiply-adds an output, 8 MiB at batch 64)
 * costs little to make again and lowers training's peak (bench/README.md).
 * Not fmnist_cae's conv1 (3.1 MiB): that model is short of time, not of
 * memory. */
static int recompute_wins(const ir_model *m, const ir_layer *l)
{
    double out = (double)ir_numel(l->out);
    return is_conv(l) && ir_layer_flops(l) / 2 / out <= 64 && out * m->batch * sizeof(float) >= 4.0 * 1048576;
}

/* After the schedule's lines: aec's choice for each output no line set. */
static void default_outputs(ir_model *m)
{
    for (int i = 0; i < m->nlayers; i++) {
        ir_layer *l = &m->layers[i];
        char why[256];
        if (!l->output_line && recompute_wins(m, l) && !cannot_recompute(m, i, why, sizeof why))
            l->recompute = 1;
    }
}

/* LAYER.output = recompute() or keep() */
static int apply_output(ir_model *m, ir_layer *l, const ast_directive *d)
{
    static const char *const known[] = { "recompute", "keep", NULL };
    const ast_call *c = &d->call;
    if (!is_conv(l) && l->kind != IR_LINEAR) {
        diag_error(d->pos, "'%s' is a %s: only a conv2d's, deconv2d's or linear layer's output is kept or made "
                   "again", l->name, ir_kind_name(l->kind));
        return -1;
    }
    if (l->output_line) {
        diag_error(d->pos, "a second schedule line for %s's output (the first is on line %d)", l->name,
                   l->output_line);
        return -1;
    }
    if (strcmp(c->name, known[0]) != 0 && strcmp(c->name, known[1]) != 0) {
        const char *near = diag_closest(c->name, known);
        diag_error(c->pos, "an output is recompute() or keep(), not '%s'%s%s%s", c->name,
                   near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
        return -1;
    }
    if (c->nargs > 0) {
        diag_error(c->args[0].pos, "%s() takes no settings", c->name);
        return -1;
    }
    char why[256];
    int again = strcmp(c->name, known[0]) == 0;
    if (again && cannot_recompute(m, (int)(l - m->layers), why, sizeof why)) {
        diag_error(c->pos, "%s", why);
        return -1;
    }
    l->recompute = again;
    l->output_line = d->pos.line;
    return 0;
}

/* Which passes the line sets: 1 << PASS_FWD, 1 << PASS_BWD or both; 0 on error. */
static int passes(const ast_directive *d)
{
    if (!d->pass)
        return 1 << PASS_FWD | 1 << PASS_BWD;
    if (!strcmp(d->pass, "forward"))
        return 1 << PASS_FWD;
    if (!strcmp(d->pass, "backward"))
        return 1 << PASS_BWD;
    diag_error(d->pass_pos, "unknown pass '%s': a schedule line names 'forward' or 'backward' "
               "(or neither, for both), or a layer's 'output'", d->pass);
    return 0;
}

static int lowering(const ast_directive *d, const ir_layer *l, ir_lowering *out)
{
    const ast_call *c = &d->call;
    for (int k = 0; ir_lowering_names[k]; k++) {
        if (strcmp(c->name, ir_lowering_names[k]) != 0)
            continue;
        *out = (ir_lowering)k;
        if (*out == LOWER_WINOGRAD && !is_conv(l)) {
            diag_error(c->pos, "winograd lowering is for conv2d and deconv2d; '%s' is a %s", l->name,
                       ir_kind_name(l->kind));
            return -1;
        }
        if (*out == LOWER_DIRECT && !is_conv(l) && (d->pass == NULL || strcmp(d->pass, "forward") != 0)) {
            diag_error(c->pos, "direct lowering of a %s is for its forward pass (its backward pass is gemm): "
                       "write %s.forward = direct()", ir_kind_name(l->kind), l->name);
            return -1;
        }
        if (*out == LOWER_WINOGRAD && !lower_winograd_fits(l)) {
            diag_error(c->pos, "winograd lowering needs at most 2 x 2 taps a phase (kernel <= 2 x stride); "
                       "'%s' has kernel %d, stride %d", l->name, l->conv.kernel, l->conv.stride);
            return -1;
        }
        return 0;
    }
    const char *near = diag_closest(c->name, ir_lowering_names);
    diag_error(c->pos, "unknown lowering '%s'%s%s%s: use gemm(...), direct(...) or winograd(...)", c->name,
               near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
    return -1;
}

/* unroll=N, threads=N and tile=N, whole numbers within bounds, each at most once. */
static int settings(const ast_call *c, ir_sched *s, const ast_arg **tile)
{
    static const char *const keys[] = { "unroll", "threads", "tile", NULL };
    static const int max[] = { 64, 256, 65536 };
    int seen[3] = { 0, 0, 0 };
    for (int i = 0; i < c->nargs; i++) {
        const ast_arg *a = &c->args[i];
        int k = -1;
        for (int j = 0; a->key && keys[j]; j++)
            if (!strcmp(a->key, keys[j]))
                k = j;
        if (!a->key) {
            diag_error(a->pos, "a schedule setting needs a name: unroll=N, threads=N or tile=N");
            return -1;
        }
        if (k < 0) {
            const char *near = diag_closest(a->key, keys);
            diag_error(a->pos, "unknown schedule setting '%s' (they are unroll, threads and tile)%s%s%s",
                       a->key, near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
            return -1;
        }
        if (seen[k]++) {
            diag_error(a->pos, "'%s' is given twice", a->key);
            return -1;
        }
        if (whole_number(&a->val, a->key, max[k], k == 0 ? &s->unroll : k == 1 ? &s->threads : &s->tile) != 0)
            return -1;
        if (k == 2)
            *tile = a;
    }
    return 0;
}

static int apply(ir_model *m, const ast_directive *d, int *line_of)
{
    if (!d->layer)
        return apply_model(m, d);
    ir_layer *l = find_layer(m, d->layer);
    if (!l)
        return no_such_layer(m, d);
    if (d->pass && strcmp(d->pass, "output") == 0)
        return apply_output(m, l, d);
    if (!is_conv(l) && l->kind != IR_LINEAR && l->kind != IR_GAUSSIAN) {
        diag_error(d->pos, "'%s' is a %s: only conv2d, deconv2d, linear and gaussian layers have kernels to "
                   "schedule", l->name, ir_kind_name(l->kind));
        return -1;
    }
    int which = passes(d);
    ir_sched s = { .line = d->pos.line };
    const ast_arg *tile = NULL;
    if (!which || lowering(d, l, &s.lowering) != 0 || settings(&d->call, &s, &tile) != 0)
        return -1;
    if (!is_conv(l) && s.lowering == LOWER_DIRECT && d->call.nargs > 0) {
        diag_error(d->call.args[0].pos, "the direct product of a %s takes no settings: write %s.forward = direct()",
                   ir_kind_name(l->kind), l->name);
        return -1;
    }
    for (int p = PASS_FWD; p <= PASS_BWD; p++) {
        if (!(which & 1 << p))
            continue;
        int *first = &line_of[(l - m->layers) * 2 + p];
        if (*first) {
            diag_error(d->pos, "a second schedule line for %s's %s pass (the first is on line %d)",
                       l->name, p == PASS_FWD ? "forward" : "backward", *first);
            return -1;
        }
        *first = d->pos.line;
        l->sched[p] = s;
        if (!tile)      /* a setting the line leaves out keeps aec's choice for its lowering */
            l->sched[p].tile = default_tile(m, l, p, &s);
    }
    return 0;
}

int schedule_allows(const ir_layer *l, int p, ir_lowering how)
{
    if (is_conv(l))
        return how != LOWER_WINOGRAD || lower_winograd_fits(l);
    if (l->kind == IR_LINEAR || l->kind == IR_GAUSSIAN)
        return how == LOWER_GEMM || (how == LOWER_DIRECT && p == PASS_FWD);
    return 0;
}

/* aec's register block (V) for pass p of l under direct lowering. */
static int direct_block(const ir_model *m, const ir_layer *l, int p, const ir_sched *s)
{
    ir_layer din = ir_din_layer(l);
    return lower_direct_of(p == PASS_FWD ? l : &din, s, m->batch).V;
}

void schedule_force(ir_model *m, const sched_force *f)
{
    for (int i = 0; i < m->nlayers; i++) {
        ir_layer *l = &m->layers[i];
        for (int p = PASS_FWD; p <= PASS_BWD; p++) {
            if (!schedule_allows(l, p, f->how))
                continue;
            ir_sched s = { .lowering = f->how, .line = 0 };
            if (f->narrower) {
                /* a backward pass with no input gradient is the weight gradient's kernels alone: no V */
                int din = p == PASS_FWD || l->needs_din;
                int v = is_conv(l) && f->how == LOWER_DIRECT && din ? direct_block(m, l, p, &s) : 0;
                if (v < 2)
                    continue;
                s.unroll = v - 1;
            }
            s.tile = default_tile(m, l, p, &s);
            l->sched[p] = s;
        }
    }
}

int schedule_layers(const ast_model *ast, ir_model *m)
{
    for (int i = 0; i < m->nlayers; i++)
        set_defaults(m, &m->layers[i]);
    /* one slice of the batch per core (workers 0): both seed models train
     * and infer faster split than whole with threads in each kernel
     * (bench/README.md). The slices meet once a step; threads in a kernel
     * meet in every kernel, and leave the loops between them to one. */
    m->workers = m->workers_line = 0;
    int *line_of = calloc((size_t)m->nlayers * 2 + 1, sizeof *line_of);
    int rc = line_of ? 0 : -1;
    for (int i = 0; rc == 0 && i < ast->schedule.n; i++)
        rc = apply(m, &ast->schedule.items[i], line_of);
    free(line_of);
    if (rc == 0)
        default_outputs(m);
    return rc;
}
