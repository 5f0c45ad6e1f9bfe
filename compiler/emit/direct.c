/* emit/direct.c: the direct lowering of a conv2d or deconv2d pass (the
 * forward pass, or LAYER_din's input gradient): packed weights, register
 * blocks of R channels x V vectors over shifted planes, the store; and the
 * pass itself, direct or winograd (lower/geometry.h, lower_direct). */
#include <stdio.h>
#include "emit/internal.h"

/* pack[p][o/R][c][t][o%R]: each phase's weights in the order the block reads
 * them, R output channels a tap; channels past the last are zeros. */
static void emit_direct_pack(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d)
{
    int M = l->out.c, C = l->in.c;
    char ntaps[64], kidx[64];
    kernel_ref(ntaps, sizeof ntaps, l->name, "_ntaps");
    kernel_ref(kidx, sizeof kidx, l->name, "_kidx");
    sbuf t = {0}, *out = o;
    o = &t;
    put(o, "static void %s_pack(float *restrict pack, const float *restrict weight)\n{\n", l->name);
    /* one phase: no loop over them, and p is 0 */
    const char *in = d->phases > 1 ? "    " : "", *p = d->phases > 1 ? "p" : "0";
    if (d->phases > 1)
        put(o, "    for (int p = 0; p < %d; p++)\n", d->phases);
    put(o, "%s    for (int ob = 0; ob < %d; ob += %d) {\n", in, d->mpad, d->R);
    if (d->phases > 1)
        put(o, "            float *w = pack + ((size_t)p * %d + ob) * %d;\n", d->mpad, C * d->max_taps);
    else
        put(o, "        float *w = pack + (size_t)ob * %d;\n", C * d->max_taps);
    put(o, "%s        for (int c = 0; c < %d; c++)\n", in, C);
    put(o, "%s            for (int t = 0; t < %s[%s]; t++)\n", in, ntaps, p);
    put(o, "%s                for (int r = 0; r < %d; r++, w++)\n", in, d->R);
    put(o, "%s                    *w = ob + r < %d ? weight[", in, M);
    emit_weight_at(o, l, "ob + r", "c");
    put(o, " + %s[%s][t]] : 0.0f;\n%s    }\n}\n\n", kidx, p, in);
    char stem[128], name[96];
    snprintf(stem, sizeof stem, "%s_pack", l->name);
    snprintf(name, sizeof name, "pack_%dx%d_%dphase%s", M, C, d->phases, d->phases > 1 ? "s" : "");
    kernel_close(out, &t, l, "forward", stem, NULL, name);
}

/* R output channels x V vectors of outputs of one phase, summed over every channel
 * and tap, in registers: the one loop nest where the time goes. Under
 * winograd (LAYER_wino_block) the same block sums one transformed product
 * over the planes: no taps, rows of nvp. */
static void emit_direct_block(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d)
{
    sbuf t = {0}, *out = o;
    o = &t;
    if (d->wino) {
        put(o, "/* acc[%d][%d*%d] (rows of M) = pack x V: %d channels x %d vectors of %d tiles in registers */\n",
            d->R, vec(), d->V, d->R, d->V, vec());
        put(o, "static inline AEC_FUSED void %s_wino_block(float *restrict acc, const float *restrict pack,\n"
            "        const float *restrict src)\n{\n", l->name);
    } else {
        put(o, "/* acc[%d][%d*%d] = pack x src: %d channels x %d vectors of %d in registers */\n",
            d->R, vec(), d->V, d->R, d->V, vec());
        put(o, "static inline AEC_FUSED void %s_block(float *restrict acc, const float *restrict pack, const float *restrict src,\n"
            "        const long *restrict shift, int ntaps)\n{\n", l->name);
    }
    put(o, "    aec_v%d sum[%d][%d];\n", vec(), d->R, d->V);
    put(o, "#pragma GCC unroll %d\n    for (int r = 0; r < %d; r++)\n", d->R, d->R);
    put(o, "#pragma GCC unroll %d\n        for (int v = 0; v < %d; v++)\n            sum[r][v] = (aec_v%d){0};\n",
        d->V, d->V, vec());
    if (d->wino) {
        put(o, "    for (int k = 0; k < %d; k++, src += %zu, pack += %d) {\n", d->K, d->nvp, d->R);
    } else {
        put(o, "    for (int c = 0; c < %d; c++, src += %zu)\n", l->in.c, (size_t)d->splits * d->stride);
        put(o, "        for (int t = 0; t < ntaps; t++, pack += %d) {\n", d->R);
    }
    put(o, "            aec_v%d x[%d];\n#pragma GCC unroll %d\n            for (int v = 0; v < %d; v++)\n",
        vec(), d->V, d->V, d->V);
    put(o, "                x[v] = *(const aec_v%du *)(src%s + %d * v);\n", vec(), d->wino ? "" : " + shift[t]", vec());
    put(o, "#pragma GCC unroll %d\n            for (int r = 0; r < %d; r++)\n", d->R, d->R);
    put(o, "#pragma GCC unroll %d\n                for (int v = 0; v < %d; v++)\n", d->V, d->V);
    put(o, "                    sum[r][v] += pack[r] * x[v];\n        }\n");
    put(o, "#pragma GCC unroll %d\n    for (int r = 0; r < %d; r++)\n", d->R, d->R);
    put(o, "#pragma GCC unroll %d\n        for (int v = 0; v < %d; v++)\n", d->V, d->V);
    put(o, "            *(aec_v%du *)(acc + (size_t)r * %zu + %d * v) = sum[r][v];\n}\n\n",
        vec(), d->wino ? d->nvp : d->nqp, vec());
    char stem[128], name[96];
    snprintf(stem, sizeof stem, "%s_%s", l->name, d->wino ? "wino_block" : "block");
    snprintf(name, sizeof name, "%s_%dx%d_c%d_n%zu", d->wino ? "wino_block" : "block", d->R, d->V,
             d->wino ? d->K : l->in.c, d->wino ? d->nvp : d->nqp);
    kernel_close(out, &t, l, "forward", stem, NULL, name);
}

/* out = act(acc + bias) at the output pixels (an input gradient, LAYER_din:
 * acc): conv2d's plane pixels that are outputs, deconv2d's S x S phases
 * interleaved back into the image. */
static void emit_direct_store(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d)
{
    int S = l->kind == IR_CONV2D ? 1 : l->conv.stride, H = l->out.h, W = l->out.w;
    source_comment(o, m, l->line);
    int has_bias = l->bias >= 0;
    const char *value = has_bias ? "a[%s] + bias[o]" : "a[%s]";
    char v[64];
    put(o, "static void %s_store(float *restrict out, const float *restrict acc,%s\n"
        "        int B, int b0, int nb)\n{\n", l->name, has_bias ? " const float *restrict bias," : "");
    put(o, "    for (int o = 0; o < %d; o++)\n        for (int b = 0; b < nb; b++)\n", l->out.c);
    put(o, "            for (int y = 0; y < %d; y++) {\n", H);
    put(o, "                float *row = out + (((size_t)o * B + b0 + b) * %d + y) * %d;\n", H, W);
    if (S == 1) {
        put(o, "                const float *a = acc + (size_t)o * %zu + (size_t)y * %zu + (size_t)b * %d;\n", d->nqp,
            d->row, d->cols);
        put(o, "                for (int x = 0; x < %d; x++)\n                    row[x] = ", W);
        snprintf(v, sizeof v, value, "x");
        act_call(o, l, v);
        put(o, ";\n            }\n}\n\n");
        return;
    }
    /* each output row interleaves S phase rows: pixel S*n + rx of the row is
     * pixel n of phase (y %% S, rx), written S at a time so that it vectorises */
    put(o, "                const float *a = acc + ((size_t)(y %% %d * %d) * %d + o) * %zu\n", S, S, d->mpad, d->nqp);
    put(o, "                                 + (size_t)(y / %d) * %zu + (size_t)b * %d;\n", S, d->row, d->cols);
    if (W % S)
        put(o, "                int n = 0;\n                for (; n < %d; n++) {\n", W / S);
    else
        put(o, "                for (int n = 0; n < %d; n++) {\n", W / S);
    for (int rx = 0; rx < S; rx++) {
        char at[32];
        if (rx)
            snprintf(at, sizeof at, "%zu + n", (size_t)rx * d->mpad * d->nqp);
        else
            snprintf(at, sizeof at, "n");
        snprintf(v, sizeof v, value, at);
        put(o, "                    row[n * %d + %d] = ", S, rx);
        act_call(o, l, v);
        put(o, ";\n");
    }
    put(o, "                }\n");
    if (W % S) {
        put(o, "                for (int rx = 0; rx < %d; rx++)   /* the last column's phases */\n", W % S);
        put(o, "                    row[n * %d + rx] = ", S);
        char at[48];
        snprintf(at, sizeof at, "(size_t)rx * %zu + n", (size_t)d->mpad * d->nqp);
        snprintf(v, sizeof v, value, at);
        act_call(o, l, v);
        put(o, ";\n");
    }
    put(o, "            }\n}\n\n");
}

/* The helpers of a direct or winograd pass (a forward pass, or LAYER_din's),
 * before the pass itself. */
void emit_direct_helpers(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d)
{
    emit_direct_planes(o, m, l, d);
    if (d->wino) {
        emit_wino_pack(o, m, l, d);
        emit_wino_in(o, m, l, d);
        emit_direct_block(o, m, l, d);
        emit_wino_out(o, m, l, d);
    } else {
        emit_direct_taps(o, m, l, d);
        emit_direct_pack(o, m, l, d);
        emit_direct_block(o, m, l, d);
    }
    emit_direct_store(o, m, l, d);
}

/* The products of a direct pass over one tile's planes. */
static void emit_direct_products(sbuf *o, const ir_layer *l, const lower_direct *d, const ir_sched *s)
{
    omp_for(o, s);
    put(o, "        for (size_t q = 0; q < %zu; q += %d)\n", d->nqp, vec() * d->V);
    char block[64], shift[64], ntaps[64];
    kernel_ref(block, sizeof block, l->name, "_block");
    kernel_ref(shift, sizeof shift, l->name, "_shift");
    kernel_ref(ntaps, sizeof ntaps, l->name, "_ntaps");
    if (d->phases == 1) {   /* one phase: no loop over them */
        put(o, "            for (int ob = 0; ob < %d; ob += %d)\n", d->mpad, d->R);
        put(o, "                %s(acc + (size_t)ob * %zu + q,\n", block, d->nqp);
        put(o, "                        pack + (size_t)ob * %d, src + q, %s[0], %s[0]);\n", l->in.c * d->max_taps,
            shift, ntaps);
        return;
    }
    put(o, "            for (int p = 0; p < %d; p++)\n", d->phases);
    put(o, "                for (int ob = 0; ob < %d; ob += %d)\n", d->mpad, d->R);
    put(o, "                    %s(acc + ((size_t)p * %d + ob) * %zu + q,\n", block, d->mpad, d->nqp);
    put(o, "                            pack + ((size_t)p * %d + ob) * %d, src + q, %s[p], %s[p]);\n",
        d->mpad, l->in.c * d->max_taps, shift, ntaps);
}

/* The packed weights of a direct or winograd pass, at scratch + at: where
 * the pass is prepared, only when the caller gave none (pack is NULL). */
static void emit_pack_here(sbuf *o, const ir_layer *l, const lower_direct *d, const char *scratch, size_t at,
                           int prepared)
{
    char pack[128];
    kernel_ref(pack, sizeof pack, l->name, d->wino ? "_wino_pack" : "_pack");
    if (!prepared) {
        put(o, "    float *pack = %s + %zu;\n    %s(pack, weight);\n", scratch, at, pack);
        return;
    }
    put(o, "    if (!pack) {   /* not prepared (training changes the weights every step): pack them here */\n");
    put(o, "        float *fresh = %s + %zu;\n        %s(fresh, weight);\n        pack = fresh;\n    }\n", scratch,
        at, pack);
}

/* A direct or winograd pass of layer l (a forward pass, or LAYER_din's for
 * an input gradient): out = l(in), with scratch after the arena. The
 * weights are packed once (or prepared: the argument pack), then per tile
 * of images: the planes, the products, and the store. */
void emit_direct_pass(sbuf *o, const ir_layer *l, const lower_direct *d, const ir_sched *s, const char *out,
                      const char *in, const char *scratch, int prepared)
{
    if (d->wino) {
        put(o, "    /* Winograd's weights once; per tile of images: the planes, their\n"
            "     * transforms, 9 products a phase in blocks of %d output channels x %d\n"
            "     * tiles, the outputs from them, the store */\n", d->R, vec() * d->V);
        put(o, "    /* each stage's input is dead once it has run: M over the planes, acc over V */\n");
        put(o, "    float *src = %s, *M = %s, *V = %s + %zu, *acc = V + %zu;\n", scratch, scratch, scratch, d->at_v,
            d->guard);
        emit_pack_here(o, l, d, scratch, d->work, prepared);
    } else {
        put(o, "    /* the weights packed once; per tile of images: the planes, every\n"
            "     * phase's blocks of %d output channels x %d outputs, the store */\n", d->R, vec() * d->V);
        put(o, "    float *src = %s, *acc = %s + %zu;\n", scratch, scratch, d->src);
        emit_pack_here(o, l, d, scratch, d->src + d->acc, prepared);
    }
    put(o, "    for (int b0 = 0; b0 < B; b0 += %d) {\n", d->tile);
    put(o, "        const int nb = B - b0 < %d ? B - b0 : %d;\n", d->tile, d->tile);
    char planes[64];
    put(o, "        %s(src, %s, B, b0, nb);\n", kernel_ref(planes, sizeof planes, l->name, "_planes"), in);
    if (d->wino)
        emit_wino_products(o, l, d, s);
    else
        emit_direct_products(o, l, d, s);
    put(o, "        %s_store(%s, acc,%s B, b0, nb);\n    }\n", l->name, out, l->bias >= 0 ? " bias," : "");
}
