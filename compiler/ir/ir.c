/* ir/ir.c: small helpers shared by the passes over the IR. */
#include <stdio.h>
#include <stdlib.h>
#include "ir/ir.h"

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

int ir_bwd_out(const ir_layer *l)
{
    return l->recompute ? l->buf_redo : l->buf_out;
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
