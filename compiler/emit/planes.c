/* emit/planes.c: a convolution's window and the planes the direct,
 * winograd and direct weight-gradient kernels read (LAYER_planes), with
 * each phase's taps into them (LAYER_shift, LAYER_ntaps). Geometry:
 * lower/geometry.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "emit/internal.h"

window conv_window(const ir_layer *l)
{
    const ir_conv *c = &l->conv;
    if (l->kind == IR_CONV2D)
        return (window){l->in.c, l->in.h, l->in.w, c->kernel, c->stride, c->pad, l->out.h, l->out.w};
    return (window){l->out.c, l->out.h, l->out.w, c->kernel, c->stride, c->pad, l->in.h, l->in.w};
}

/* The grid positions lo <= i < hi whose window offset k lies inside the
 * image, along rows (axis 0) or columns (axis 1). */
void window_range(window g, int axis, int k, int *lo, int *hi)
{
    int G = axis ? g.GW : g.GH, H = axis ? g.W : g.H;
    /* i*S - P + k in [0, H): i >= ceil((P - k) / S), i <= floor((H - 1 + P - k) / S) */
    int a = g.P - k > 0 ? (g.P - k + g.S - 1) / g.S : 0;
    int b = H - 1 + g.P - k < 0 ? 0 : (H - 1 + g.P - k) / g.S + 1;
    *lo = a < G ? a : G;
    *hi = b < G ? b : G;
    if (*hi < *lo)
        *hi = *lo;
}

/* p[j] for lo <= j < hi: input pixel xr[S*j] (S = 0: zeros), a loop
 * unless there are fewer than two. */
static void put_run(sbuf *o, int lo, int hi, int S)
{
    char v[32];
    if (S > 1)
        snprintf(v, sizeof v, "xr[%d * j]", S);
    else
        snprintf(v, sizeof v, S ? "xr[j]" : "0.0f");
    if (hi - lo == 1) {
        if (S > 1)
            snprintf(v, sizeof v, "xr[%d]", S * lo);
        else if (S)
            snprintf(v, sizeof v, "xr[%d]", lo);
        put(o, "                p[%d] = %s;\n", lo, v);
    } else if (hi > lo) {
        put(o, "                for (int j = %d; j < %d; j++)\n                    p[j] = %s;\n", lo, hi, v);
    }
}

/* The planes a tile of images is read through: conv2d's S x S planes of
 * each channel, plane (py, px) holding input pixel (S*i + py - P, S*j +
 * px - P) at (i, j); deconv2d's one, holding input pixel (i + lo, j + lo).
 * Zero outside the input and for the images past nb; a tile's images side
 * by side in each row; zeros to the end of the stride. Each plane's loops
 * have literal bounds (im2col's window geometry, with the plane offsets for
 * the kernel offsets), so that the C compiler vectorises the copies whole. */
void emit_direct_planes(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d)
{
    int conv = l->kind == IR_CONV2D, S = conv ? l->conv.stride : 1, H = l->in.h, W = l->in.w;
    int first = conv ? -l->conv.pad : d->lo;    /* the input pixel at plane pixel 0 (py = px = 0) */
    window g = { l->in.c, H, W, S, S, -first, d->rows, d->cols };
    size_t tail = d->stride - (size_t)d->rows * d->row;
    char f[32], stem[128], name[96];
    sbuf t = {0}, *out = o;
    o = &t;
    put(o, "/* src[%d][%d][%d rows][%d images][%d] <- images b0 .. b0+nb-1 of in[%d][B][%d][%d] */\n",
        l->in.c, d->splits, d->rows, d->tile, d->cols, l->in.c, H, W);
    put(o, "static void %s_planes(float *restrict src, const float *restrict in, int B, int b0, int nb)\n{\n",
        l->name);
    put(o, "    for (int c = 0; c < %d; c++) {\n", l->in.c);
    put(o, "        const float *x = in + ((size_t)c * B + b0) * %d;\n", H * W);
    put(o, "        float *p = src + (size_t)c * %zu;\n", (size_t)d->splits * d->stride);
    for (int py = 0; py < S; py++)
        for (int px = 0; px < S; px++) {
            int i0, i1, j0, j1;
            window_range(g, 0, py, &i0, &i1);
            window_range(g, 1, px, &j0, &j1);
            if (S > 1)
                put(o, "        /* plane (%d, %d): rows %d .. %d, columns %d .. %d inside */\n", py, px, i0, i1 - 1, j0,
                    j1 - 1);
            put(o, "        for (int i = 0; i < %d; i++)\n", d->rows);
            put(o, "            for (int b = 0; b < %d; b++, p += %d) {\n", d->tile, d->cols);
            char inside[64] = "";
            if (i0 > 0)
                snprintf(inside, sizeof inside, " || i < %d", i0);
            if (i1 < d->rows)
                snprintf(inside + strlen(inside), sizeof inside - strlen(inside), " || i >= %d", i1);
            put(o, "                if (b >= nb%s) {\n", inside);
            put(o, "                    memset(p, 0, sizeof(float) * %d);\n                    continue;\n"
                "                }\n", d->cols);
            if (S > 1)
                put(o, "                const float *xr = x + ((size_t)b * %d + %d * i%s) * %d%s;\n", H, S,
                    plus(py + first, f, 16), W, plus(px + first, f + 16, sizeof f - 16));
            else
                put(o, "                const float *xr = x + ((size_t)b * %d + i%s) * %d%s;\n", H,
                    plus(py + first, f, 16), W, plus(px + first, f + 16, sizeof f - 16));
            put_run(o, 0, j0, 0);
            put_run(o, j0, j1, S);
            put_run(o, j1, d->cols, 0);
            put(o, "            }\n");
            if (tail)
                put(o, "        memset(p, 0, sizeof(float) * %zu);\n        p += %zu;\n", tail, tail);
        }
    put(o, "    }\n}\n\n");
    snprintf(stem, sizeof stem, "%s_planes", l->name);
    snprintf(name, sizeof name, "planes_%dx%dx%d_s%d", l->in.c, H, W, S);
    kernel_close(out, &t, l, "forward", stem, NULL, name);
}

/* The taps of each phase: shifts into a channel's planes and kernel indices. */
void emit_direct_taps(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d)
{
    int kk = l->conv.kernel * l->conv.kernel, *kidx = xmalloc(sizeof(int) * (size_t)kk);
    long *off = xmalloc(sizeof(long) * (size_t)kk);
    sbuf counts = {0}, idx = {0}, t = {0}, *out = o;
    o = &t;
    put(o, "/* phase p's taps: src shifts, kernel indices ky*%d + kx */\n", l->conv.kernel);
    put(o, "static const long %s_shift[%d][%d] = {", l->name, d->phases, d->max_taps);
    for (int p = 0; p < d->phases; p++) {
        int n = lower_direct_taps(l, d, p, off, kidx);
        put(o, "%s{", p ? ", " : "");
        sb_printf(&idx, "%s{", p ? ", " : "");
        for (int t = 0; t < n; t++) {
            put(o, "%s%ld", t ? ", " : "", off[t]);
            sb_printf(&idx, "%s%d", t ? ", " : "", kidx[t]);
        }
        if (n == 0) {       /* a phase no tap reaches (kernel < stride): bias only; ISO C has no {} */
            put(o, "0");
            sb_printf(&idx, "0");
        }
        put(o, "}");
        sb_printf(&idx, "}");
        sb_printf(&counts, "%s%d", p ? ", " : "", n);
    }
    put(o, "};\nstatic const int %s_kidx[%d][%d] = {%s};\n", l->name, d->phases, d->max_taps, idx.s);
    put(o, "static const int %s_ntaps[%d] = {%s};\n\n", l->name, d->phases, counts.s);
    free(counts.s);
    free(idx.s);
    free(off);
    free(kidx);
    static const char *const tables[] = { "_shift", "_kidx", "_ntaps", NULL };
    char name[96];
    snprintf(name, sizeof name, "taps_k%d_s%d_%dphase%s", l->conv.kernel, l->conv.stride, d->phases,
             d->phases > 1 ? "s" : "");
    kernel_close(out, &t, l, "forward", l->name, tables, name);
}
