/* emit/conv.c: one conv2d or deconv2d layer's functions, LAYER_forward and
 * LAYER_backward, each pass by the lowering its schedule names (gemm.c,
 * direct.c, winograd.c, dweight.c). */
#include <stdio.h>
#include "emit/internal.h"

/* conv2d and deconv2d: the same signatures, the same direct kernels, the
 * same bias, activation and tiles; only the gemm products differ by kind.
 * A gemm backward pass is im2col + GEMM (conv2d's makes its columns again)
 * and col2im for the input gradient; a direct or winograd one makes the
 * weight gradient by the kernels of LAYER_dw and the input gradient by
 * those of LAYER_din, the transposed convolution. */
void emit_conv_layer(sbuf *o, const ir_model *m, const ir_layer *l)
{
    int conv = l->kind == IR_CONV2D;
    const char *kind = conv ? "conv2d" : "deconv2d";
    const ir_sched *fs = &l->sched[PASS_FWD], *bs = &l->sched[PASS_BWD];
    int fg = fs->lowering == LOWER_GEMM, bg = bs->lowering == LOWER_GEMM || !l->needs_din;
    int dwd = lower_dweight_direct(l);
    if ((conv && fg) || !dwd)
        emit_im2col(o, m, l, conv && fg ? fs->unroll : bs->unroll);   /* else a gemm backward pass's */
    if (conv ? bg && l->needs_din : fg)
        emit_col2im(o, m, l, conv ? bs->unroll : fs->unroll);
    lower_direct d = lower_direct_of(l, fs, m->batch);
    if (!fg)
        emit_direct_helpers(o, m, l, &d);
    lower_dweight w = dwd ? lower_dweight_of(l, bs, m->batch) : (lower_dweight){ 0 };
    if (dwd)
        emit_dweight_helpers(o, m, l, &w);
    ir_layer din = ir_din_layer(l);
    lower_direct dd = lower_direct_of(&din, bs, m->batch);
    if (!bg)
        emit_direct_helpers(o, m, &din, &dd);

    char what[32];
    snprintf(what, sizeof what, "%s forward", kind);
    layer_comment(o, m, l, what);
    put(o, "static void %s_forward(float *out, float *cols, const float *in,\n"
        "        const float *weight, const float *bias, %sint B)\n{\n", l->name,
        l->prep >= 0 ? "const float *pack, " : "");
    sched_comment(o, fs);
    if (fg) {
        emit_conv_gemm_pass(o, l, PASS_FWD, 0);
        emit_bias_act(o, l);
    } else {
        emit_direct_pass(o, l, &d, fs, "out", "in", "cols", l->prep >= 0);
    }
    put(o, "}\n\n");

    snprintf(what, sizeof what, "%s backward", kind);
    layer_comment(o, m, l, what);
    put(o, "static void %s_backward(float *din, float *dcols, float *dout, const float *out,\n"
        "        const float *in, const float *weight, float *dweight, float *dbias, int B)\n{\n", l->name);
    sched_comment(o, bs);
    emit_dbias(o, l);
    /* direct, winograd: the weight gradient by its direct kernels, then the
     * input gradient by those of LAYER_din */
    if (dwd)
        emit_dweight_pass(o, l, &w, bs);
    else
        emit_conv_gemm_pass(o, l, PASS_BWD, bg && l->needs_din);
    if (!bg) {
        put(o, "    /* din = %s_din(dout): the transposed %s, by the direct kernels */\n", l->name,
            conv ? "convolution" : "deconvolution");
        emit_direct_pass(o, &din, &dd, bs, "din", "dout", "dcols", 0);
    }
    if (!l->needs_din)
        put(o, "    (void)din, (void)weight;   /* the first layer that learns: no input gradient */\n");
    put(o, "}\n\n");
}
