/* emit.c: write the generated C for a planned model: MODEL.h and MODEL.c.
 *
 * Every .ae layer becomes NAME_forward and NAME_backward (plus NAME_im2col
 * or NAME_col2im where a convolution needs them), each under a comment that
 * quotes its .ae line. All per-image extents are literals; B, the batch, is
 * the one run-time extent. The output depends only on the .ae text and the
 * file's base name, so the same .ae always gives the same bytes. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "emit/emit.h"
#include "ir/ir.h"
#include "lower/geometry.h"
#include "lower/target.h"
#include "ir/table.h"
#include "base/util.h"

#define OUT(...) sb_printf(o, __VA_ARGS__)

/* A float as the shortest C literal that reads back as the same float. */
static const char *flit(float v, char *buf, size_t size)
{
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, size, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".eEn"))
        strncat(buf, ".0", size - strlen(buf) - 1);
    strncat(buf, "f", size - strlen(buf) - 1);
    return buf;
}

/* ---- comments and names ------------------------------------------------------ */

/* The .ae line, safe inside a C comment. */
static void source_comment(sbuf *o, const ir_model *m, int line)
{
    char text[512], clean[600];
    source_line(m->source, strlen(m->source), line, text, sizeof text);
    size_t n = 0;
    const char *s = text;
    while (*s == ' ' || *s == '\t')
        s++;
    for (; *s && n + 3 < sizeof clean; s++) {
        clean[n++] = *s == '\t' ? ' ' : *s;
        if (*s == '*' && s[1] == '/')
            clean[n++] = ' ';   /* never close the comment early */
    }
    clean[n] = '\0';
    OUT("/* %s:%d: %s */\n", m->path, line, clean);
}

static void layer_comment(sbuf *o, const ir_model *m, const ir_layer *l, const char *what)
{
    char in[64], out[64];
    source_comment(o, m, l->line);
    if (l->act_line)
        source_comment(o, m, l->act_line);
    OUT("/* %s: %s -> %s%s%s */\n", what, ir_shape_str(l->in, in, sizeof in),
        ir_shape_str(l->out, out, sizeof out), l->act ? ", then " : "", l->act ? ir_act_name(l->act) : "");
}

static const char *buf_name(const ir_model *m, int b) { return m->bufs[b].name; }

/* ---- activations --------------------------------------------------------------- */

/* act(v): the expression applied to a pre-activation v. */
static void act_call(sbuf *o, const ir_layer *l, const char *v)
{
    char f[32];
    switch (l->act) {
    case ACT_NONE: OUT("%s", v); break;
    case ACT_RELU: OUT("relu(%s)", v); break;
    case ACT_LEAKY_RELU: OUT("leaky_relu(%s, %s)", v, flit(l->slope, f, sizeof f)); break;
    case ACT_SIGMOID: OUT("sigmoid(%s)", v); break;
    case ACT_TANH: OUT("aec_tanh(%s)", v); break;
    }
}

/* d act / d v times g, written from the activation's output y. */
static void dact_call(sbuf *o, const ir_layer *l, const char *y, const char *g)
{
    char f[32];
    switch (l->act) {
    case ACT_NONE: OUT("%s", g); break;
    case ACT_RELU: OUT("(%s > 0.0f ? %s : 0.0f)", y, g); break;
    case ACT_LEAKY_RELU: OUT("(%s > 0.0f ? %s : %s * %s)", y, g, flit(l->slope, f, sizeof f), g); break;
    case ACT_SIGMOID: OUT("%s * %s * (1.0f - %s)", g, y, y); break;
    case ACT_TANH: OUT("%s * (1.0f - %s * %s)", g, y, y); break;
    }
}

/* e^t to 1.2 ulp, branch-free so that loops calling it vectorise (libm's
 * expf and tanhf are calls, one value at a time, and took most of a
 * tanh layer's time): t = n ln2 + r, |r| <= ln2/2, e^r by its Taylor
 * series to r^7 (error below 5e-9), times 2^n built in the exponent bits.
 * t is clamped to [-87, 88], where 2^n is a normal float; NaN to -87. So
 * sigmoid(v) = 1 / (1 + e^-v) stops at 6e-39 for v <= -87 (true: smaller). */
static void emit_exp(sbuf *o)
{
    OUT("static inline float aec_exp(float t)\n{\n"
        "    t = t > -87.0f ? t : -87.0f;\n"
        "    t = t < 88.0f ? t : 88.0f;\n"
        "    const float n = __builtin_rintf(t * 1.44269504f);\n"
        "    const float r = t - n * 0.693145751953125f - n * 1.42860677e-06f;\n"
        "    float p = 1.0f / 5040.0f;\n"
        "    p = p * r + 1.0f / 720.0f;\n    p = p * r + 1.0f / 120.0f;\n    p = p * r + 1.0f / 24.0f;\n"
        "    p = p * r + 1.0f / 6.0f;\n    p = p * r + 0.5f;\n    p = p * r + 1.0f;\n    p = p * r + 1.0f;\n"
        "    const int bits = ((int)n + 127) << 23;\n"
        "    float scale;\n    memcpy(&scale, &bits, sizeof scale);\n"
        "    return p * scale;\n}\n");
}

/* tanh to 1.3 ulp, branch-free: below |v| = 0.625 an odd polynomial
 * v + v^3 P(v^2) (P fitted by least squares, 0.9 ulp); above it
 * 1 - 2 / (e^2|v| + 1), with no cancellation there; |v| is clamped to 9.1,
 * where that is 1 in float (at 9 it is still 0.99999994). NaN stays NaN
 * (it takes the polynomial). */
static void emit_tanh(sbuf *o)
{
    OUT("static inline float aec_tanh(float v)\n{\n"
        "    const float a = fabsf(v) > 9.1f ? 9.1f : fabsf(v), z = a * a;\n"
        "    const float poly = a + a * z * (-0.33333287f + z * (0.13331513f + z * (-0.05374466f\n"
        "                       + z * (0.020653125f + z * -0.0057189628f))));\n"
        "    const float y = a >= 0.625f ? 1.0f - 2.0f / (aec_exp(2.0f * a) + 1.0f) : poly;\n"
        "    return copysignf(y, v);\n}\n");
}

static void emit_act_helpers(sbuf *o, const ir_model *m)
{
    int used[5] = {0};
    for (int i = 0; i < m->nlayers; i++)
        used[m->layers[i].act] = 1;
    if (used[ACT_RELU])
        OUT("static inline float relu(float v) { return v > 0.0f ? v : 0.0f; }\n");
    if (used[ACT_LEAKY_RELU])
        OUT("static inline float leaky_relu(float v, float slope) { return v > 0.0f ? v : slope * v; }\n");
    if (used[ACT_SIGMOID] || used[ACT_TANH])
        emit_exp(o);
    if (used[ACT_SIGMOID])
        OUT("/* NaN stays NaN (aec_exp clamps it away) */\n"
            "static inline float sigmoid(float v)\n{\n"
            "    float s = 1.0f / (1.0f + aec_exp(-v));\n    return v == v ? s : v;\n}\n");
    if (used[ACT_TANH])
        emit_tanh(o);
    OUT("\n");
}

/* ---- im2col and col2im ------------------------------------------------------- */

/* The geometry shared by a convolution and its transpose: an image of C x H
 * x W seen through a K x K window at stride S and padding P, giving a grid
 * of GH x GW window positions. Column (b, gh, gw) of row (c, kh, kw) holds
 * img[c][b][gh*S - P + kh][gw*S - P + kw], 0 outside the image. */
typedef struct {
    int C, H, W, K, S, P, GH, GW;
} window;

static window conv_window(const ir_layer *l)
{
    const ir_conv *c = &l->conv;
    if (l->kind == IR_CONV2D)
        return (window){l->in.c, l->in.h, l->in.w, c->kernel, c->stride, c->pad, l->out.h, l->out.w};
    return (window){l->out.c, l->out.h, l->out.w, c->kernel, c->stride, c->pad, l->in.h, l->in.w};
}

/* The grid positions lo <= i < hi whose window offset k lies inside the
 * image, along rows (axis 0) or columns (axis 1). */
static void window_range(window g, int axis, int k, int *lo, int *hi)
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

/* The rows i of the GH x GW grid whose window row kh lies inside the
 * image, as two literal tables: i0[kh] <= i < i1[kh]; the same for columns.
 * With them the direct loops need no bounds test. */
static void emit_ranges(sbuf *o, window g)
{
    const char *names[2][2] = { { "i0", "i1" }, { "j0", "j1" } };
    for (int axis = 0; axis < 2; axis++) {
        for (int end = 0; end < 2; end++) {
            OUT("%s%s[%d] = {", end ? ", " : "    static const int ", names[axis][end], g.K);
            for (int k = 0; k < g.K; k++) {
                int lo, hi;
                window_range(g, axis, k, &lo, &hi);
                OUT("%s%d", k ? ", " : "", end ? hi : lo);
            }
            OUT("}");
        }
        OUT(";\n");
    }
}

/* The loops over every (c, kh, kw) row and (b, gh, gw) column. scatter = 0
 * gathers image values into cols (im2col); scatter = 1 adds cols back into
 * the image (col2im). The window positions that fall outside the image are
 * known for each kh and kw (emit_ranges), so the inner loop runs over the
 * inside ones only, with no test, and im2col writes the zeros around it. */
static void emit_window_loops(sbuf *o, window g, int scatter, int unroll)
{
    const char *img_t = scatter ? "float" : "const float", *col_t = scatter ? "const float" : "float";
    emit_ranges(o, g);
    OUT("    const size_t n = (size_t)nb * %d;\n", g.GH * g.GW);
    OUT("    for (int c = 0; c < %d; c++)\n", g.C);
    OUT("        for (int kh = 0; kh < %d; kh++)\n", g.K);
    OUT("#pragma GCC unroll %d\n", g.K);
    OUT("            for (int kw = 0; kw < %d; kw++) {\n", g.K);
    OUT("                %s *row = cols + ((size_t)(c * %d + kh) * %d + kw) * n;\n", col_t, g.K, g.K);
    OUT("                for (int b = 0; b < nb; b++) {\n");
    OUT("                    %s *im = img + ((size_t)c * B + b0 + b) * %d;\n", img_t, g.H * g.W);
    OUT("                    %s *col = row + (size_t)b * %d;\n", col_t, g.GH * g.GW);
    OUT("                    for (int gh = 0; gh < %d; gh++) {\n", g.GH);
    OUT("                        %s *cr = col + gh * %d;\n", col_t, g.GW);
    OUT("                        const int base = (gh * %d - %d + kh) * %d - %d + kw;\n", g.S, g.P, g.W, g.P);
    if (scatter) {
        OUT("                        if (gh < i0[kh] || gh >= i1[kh])\n                            continue;\n");
    } else {
        OUT("                        if (gh < i0[kh] || gh >= i1[kh]) {\n");
        OUT("                            memset(cr, 0, sizeof(float) * %d);\n", g.GW);
        OUT("                            continue;\n                        }\n");
        OUT("                        for (int gw = 0; gw < j0[kw]; gw++)\n                            cr[gw] = 0.0f;\n");
    }
    if (unroll)
        OUT("#pragma GCC unroll %d\n", unroll);
    OUT("                        for (int gw = j0[kw]; gw < j1[kw]; gw++)\n");
    if (scatter)
        OUT("                            im[base + gw * %d] += cr[gw];\n", g.S);
    else
        OUT("                            cr[gw] = im[base + gw * %d];\n", g.S);
    if (!scatter)
        OUT("                        for (int gw = j1[kw]; gw < %d; gw++)\n                            cr[gw] = 0.0f;\n",
            g.GW);
    OUT("                    }\n                }\n            }\n");
}

static void emit_im2col(sbuf *o, const ir_model *m, const ir_layer *l, int unroll)
{
    window g = conv_window(l);
    source_comment(o, m, l->line);
    OUT("/* cols[%d][nb*%d] <- windows of images b0 .. b0+nb-1 of img[%d][B][%d][%d]:\n"
        " * kernel %d, stride %d, pad %d */\n",
        g.C * g.K * g.K, g.GH * g.GW, g.C, g.H, g.W, g.K, g.S, g.P);
    OUT("static void %s_im2col(float *restrict cols, const float *restrict img, int B, int b0, int nb)\n{\n",
        l->name);
    emit_window_loops(o, g, 0, unroll);
    OUT("}\n\n");
}

static void emit_col2im(sbuf *o, const ir_model *m, const ir_layer *l, int unroll)
{
    window g = conv_window(l);
    source_comment(o, m, l->line);
    OUT("/* images b0 .. b0+nb-1 of img[%d][B][%d][%d] = the sum of the windows in\n"
        " * cols[%d][nb*%d] (im2col's transpose) */\n", g.C, g.H, g.W, g.C * g.K * g.K, g.GH * g.GW);
    OUT("static void %s_col2im(float *restrict img, const float *restrict cols, int B, int b0, int nb)\n{\n",
        l->name);
    OUT("    for (int c = 0; c < %d; c++)\n", g.C);
    OUT("        memset(img + ((size_t)c * B + b0) * %d, 0, sizeof(float) * (size_t)nb * %d);\n",
        g.H * g.W, g.H * g.W);
    emit_window_loops(o, g, 1, unroll);
    OUT("}\n\n");
}

/* ---- bias + activation, and their gradients ----------------------------------- */

/* out[o][...] = act(out[o][...] + bias[o]) for CBHW outputs; [B][o] for flat. */
static void emit_bias_act(sbuf *o, const ir_layer *l)
{
    int C = l->out.c, HW = l->out.h * l->out.w;
    if (l->out.flat) {
        OUT("    for (int b = 0; b < B; b++)\n        for (int o = 0; o < %d; o++) {\n", C);
        OUT("            float *y = out + (size_t)b * %d + o;\n            *y = ", C);
    } else {
        OUT("    for (int o = 0; o < %d; o++)\n        for (size_t i = 0; i < (size_t)B * %d; i++) {\n", C, HW);
        OUT("            float *y = out + (size_t)o * B * %d + i;\n            *y = ", HW);
    }
    act_call(o, l, "*y + bias[o]");
    OUT(";\n        }\n");
}

/* dout <- dout * act'(out) in place, and dbias[o] += its sum over B and pixels.
 * The sums are what keeps this loop from being a plain elementwise pass, so
 * they are laid out for vectors: 16 running sums per channel of a CBHW
 * tensor (one per lane; the tail and the lanes then summed in double), and
 * for [B][F] a row at a time into dbias. Fixed orders: the same bits run to run. */
static void emit_dbias(sbuf *o, const ir_layer *l)
{
    int C = l->out.c, HW = l->out.h * l->out.w;
    if (l->act == ACT_NONE)
        OUT("    (void)out;   /* no activation: the gradient passes unchanged */\n");
    if (l->out.flat) {
        OUT("    for (int b = 0; b < B; b++)\n        for (int o = 0; o < %d; o++) {\n", C);
        OUT("            const size_t i = (size_t)b * %d + o;\n            dout[i] = ", C);
        dact_call(o, l, "out[i]", "dout[i]");
        OUT(";\n            dbias[o] += dout[i];\n        }\n");
        return;
    }
    OUT("    const size_t n = (size_t)B * %d;\n", HW);
    OUT("    for (int o = 0; o < %d; o++) {\n", C);
    OUT("        float *restrict d = dout + (size_t)o * n;\n");
    if (l->act != ACT_NONE)
        OUT("        const float *restrict y = out + (size_t)o * n;\n");
    OUT("        float lane[16] = {0};\n        size_t i = 0;\n");
    OUT("        for (; i + 16 <= n; i += 16)\n            for (int k = 0; k < 16; k++) {\n");
    OUT("                d[i + k] = ");
    dact_call(o, l, "y[i + k]", "d[i + k]");
    OUT(";\n                lane[k] += d[i + k];\n            }\n");
    OUT("        double sum = 0.0;\n        for (; i < n; i++) {\n            d[i] = ");
    dact_call(o, l, "y[i]", "d[i]");
    OUT(";\n            sum += d[i];\n        }\n");
    OUT("        for (int k = 0; k < 16; k++)\n            sum += lane[k];\n");
    OUT("        dbias[o] += (float)sum;\n    }\n");
}

/* ---- one function pair per layer kind ------------------------------------------ */

/* The indent of the body of a pass: one level deeper inside a tile loop. */
static const char *ind = "    ";

static void gemm(sbuf *o, const char *ta, const char *tb, const char *M, const char *N, const char *K,
                 const char *A, const char *lda, const char *Bm, const char *ldb, const char *beta,
                 const char *C, const char *ldc)
{
    OUT("%scblas_sgemm(CblasRowMajor, %s, %s, %s, %s, %s,\n", ind, ta, tb, M, N, K);
    OUT("%s            1.0f, %s, %s, %s, %s, %s, %s, %s);\n", ind, A, lda, Bm, ldb, beta, C, ldc);
}

#define NT "CblasNoTrans"
#define TR "CblasTrans"

/* ---- schedules: how a pass runs ------------------------------------------------- */

/* The schedule's line, first in the function, so the reader sees how and why. */
static void sched_comment(sbuf *o, const ir_sched *s)
{
    char tile[32] = "";
    if (s->lowering == LOWER_GEMM || s->tile)
        snprintf(tile, sizeof tile, ", tile=%d", s->tile);
    OUT("    /* schedule: %s(threads=%d, unroll=%d%s), %s */\n", ir_lowering_names[s->lowering],
        s->threads, s->unroll, tile, s->line ? "from the schedule block" : "aec's default for these shapes");
    if (s->line)
        OUT("    /* (line %d of the .ae file) */\n", s->line);
}

/* gemm lowering: OpenBLAS's threads for this pass's products (0: all). */
static void blas_threads(sbuf *o, const ir_sched *s)
{
    OUT("    aec_blas_threads(%d);\n", s->threads);
}

/* gemm lowering, tile=T: the batch in tiles of T images, so that one tile's
 * columns stay in cache between im2col and the GEMM that reads them. The
 * body uses b0 (the tile's first image) and nb (its images) either way. */
static void tile_open(sbuf *o, const ir_sched *s)
{
    if (!s->tile) {
        OUT("    const int b0 = 0, nb = B;\n");
        return;
    }
    OUT("    for (int b0 = 0; b0 < B; b0 += %d) {\n", s->tile);
    OUT("        const int nb = B - b0 < %d ? B - b0 : %d;\n", s->tile, s->tile);
    ind = "        ";
}

static void tile_close(sbuf *o, const ir_sched *s)
{
    if (s->tile)
        OUT("    }\n");
    ind = "    ";
}

/* direct lowering: the loop over channels is shared among threads. */
static void omp_for(sbuf *o, const ir_sched *s)
{
    if (s->threads == 1)
        return;
    if (s->threads > 1)
        OUT("#pragma omp parallel for schedule(static) num_threads(%d)\n", s->threads);
    else
        OUT("#pragma omp parallel for schedule(static)\n");
}

/* ---- conv2d and deconv2d ------------------------------------------------------------ */

/* ---- direct kernels: polyphase products (ir.h, lower_direct) ----------------------------- */

/* " + k", " - k" or nothing, for literal offsets in index expressions */
static const char *plus(int k, char *buf, size_t size)
{
    if (k == 0)
        buf[0] = '\0';
    else
        snprintf(buf, size, " %c %d", k < 0 ? '-' : '+', k < 0 ? -k : k);
    return buf;
}

/* The planes a tile of images is read through: conv2d's S x S planes of
 * each channel, plane (py, px) holding input pixel (S*i + py - P, S*j +
 * px - P) at (i, j); deconv2d's one, holding input pixel (i + lo, j + lo).
 * Zero outside the input and for the images past nb; a tile's images side
 * by side in each row; zeros to the end of the stride. Each plane's loops
 * have literal bounds (im2col's window geometry, with the plane offsets for
 * the kernel offsets), so that the C compiler vectorises the copies whole. */
static void emit_direct_planes(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d)
{
    int conv = l->kind == IR_CONV2D, S = conv ? l->conv.stride : 1, H = l->in.h, W = l->in.w;
    int first = conv ? -l->conv.pad : d->lo;    /* the input pixel at plane pixel 0 (py = px = 0) */
    window g = { l->in.c, H, W, S, S, -first, d->rows, d->cols };
    size_t tail = d->stride - (size_t)d->rows * d->row;
    char f[32];
    source_comment(o, m, l->line);
    OUT("/* src[%d][%d][%d rows][%d images][%d] <- images b0 .. b0+nb-1 of in[%d][B][%d][%d] */\n",
        l->in.c, d->splits, d->rows, d->tile, d->cols, l->in.c, H, W);
    OUT("static void %s_planes(float *restrict src, const float *restrict in, int B, int b0, int nb)\n{\n",
        l->name);
    OUT("    for (int c = 0; c < %d; c++) {\n", l->in.c);
    OUT("        const float *x = in + ((size_t)c * B + b0) * %d;\n", H * W);
    OUT("        float *p = src + (size_t)c * %zu;\n", (size_t)d->splits * d->stride);
    for (int py = 0; py < S; py++)
        for (int px = 0; px < S; px++) {
            int i0, i1, j0, j1;
            window_range(g, 0, py, &i0, &i1);
            window_range(g, 1, px, &j0, &j1);
            if (S > 1)
                OUT("        /* plane (%d, %d): rows %d .. %d, columns %d .. %d inside */\n", py, px, i0, i1 - 1, j0,
                    j1 - 1);
            OUT("        for (int i = 0; i < %d; i++)\n", d->rows);
            OUT("            for (int b = 0; b < %d; b++, p += %d) {\n", d->tile, d->cols);
            OUT("                if (b >= nb || i < %d || i >= %d) {\n", i0, i1);
            OUT("                    memset(p, 0, sizeof(float) * %d);\n                    continue;\n"
                "                }\n", d->cols);
            OUT("                const float *xr = x + ((size_t)b * %d + %d * i%s) * %d%s;\n", H, S,
                plus(py + first, f, 16), W, plus(px + first, f + 16, sizeof f - 16));
            if (j0 > 0)
                OUT("                for (int j = 0; j < %d; j++)\n                    p[j] = 0.0f;\n", j0);
            if (S > 1)
                OUT("                for (int j = %d; j < %d; j++)\n                    p[j] = xr[%d * j];\n", j0, j1, S);
            else
                OUT("                for (int j = %d; j < %d; j++)\n                    p[j] = xr[j];\n", j0, j1);
            if (j1 < d->cols)
                OUT("                for (int j = %d; j < %d; j++)\n                    p[j] = 0.0f;\n", j1, d->cols);
            OUT("            }\n");
            if (tail)
                OUT("        memset(p, 0, sizeof(float) * %zu);\n", tail);
            OUT("        p += %zu;\n", tail);
        }
    OUT("    }\n}\n\n");
}

/* The taps of each phase: shifts into a channel's planes and kernel indices. */
static void emit_direct_taps(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d)
{
    int kk = l->conv.kernel * l->conv.kernel, *kidx = xmalloc(sizeof(int) * (size_t)kk);
    long *off = xmalloc(sizeof(long) * (size_t)kk);
    sbuf counts = {0}, idx = {0};
    source_comment(o, m, l->line);
    OUT("/* phase p's taps: src shifts, kernel indices ky*%d + kx */\n", l->conv.kernel);
    OUT("static const long %s_shift[%d][%d] = {", l->name, d->phases, d->max_taps);
    for (int p = 0; p < d->phases; p++) {
        int n = lower_direct_taps(l, d, p, off, kidx);
        OUT("%s{", p ? ", " : "");
        sb_printf(&idx, "%s{", p ? ", " : "");
        for (int t = 0; t < n; t++) {
            OUT("%s%ld", t ? ", " : "", off[t]);
            sb_printf(&idx, "%s%d", t ? ", " : "", kidx[t]);
        }
        if (n == 0) {       /* a phase no tap reaches (kernel < stride): bias only; ISO C has no {} */
            OUT("0");
            sb_printf(&idx, "0");
        }
        OUT("}");
        sb_printf(&idx, "}");
        sb_printf(&counts, "%s%d", p ? ", " : "", n);
    }
    OUT("};\nstatic const int %s_kidx[%d][%d] = {%s};\n", l->name, d->phases, d->max_taps, idx.s);
    OUT("static const int %s_ntaps[%d] = {%s};\n\n", l->name, d->phases, counts.s);
    free(counts.s);
    free(idx.s);
    free(off);
    free(kidx);
}

/* The index of weight (output channel out, input channel in) in a
 * convolution's weight array, as C text, before its kernel offset: conv2d
 * stores [out][in][K][K], deconv2d [in][out][K][K]. */
static void emit_weight_at(sbuf *o, const ir_layer *l, const char *out, const char *in)
{
    int kk = l->conv.kernel * l->conv.kernel, wrap = strchr(out, ' ') != NULL;
    if (l->kind == IR_CONV2D)
        OUT("((size_t)%s%s%s * %d + %s) * %d", wrap ? "(" : "", out, wrap ? ")" : "", l->in.c, in, kk);
    else
        OUT("((size_t)%s * %d + %s) * %d", in, l->out.c, out, kk);
}

/* pack[p][o/R][c][t][o%R]: each phase's weights in the order the block reads
 * them, R output channels a tap; channels past the last are zeros. */
static void emit_direct_pack(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d)
{
    int M = l->out.c, C = l->in.c;
    source_comment(o, m, l->line);
    OUT("static void %s_pack(float *restrict pack, const float *restrict weight)\n{\n", l->name);
    OUT("    for (int p = 0; p < %d; p++)\n        for (int ob = 0; ob < %d; ob += %d) {\n", d->phases, d->mpad, d->R);
    OUT("            float *w = pack + ((size_t)p * %d + ob) * %d;\n", d->mpad, C * d->max_taps);
    OUT("            for (int c = 0; c < %d; c++)\n", C);
    OUT("                for (int t = 0; t < %s_ntaps[p]; t++)\n", l->name);
    OUT("                    for (int r = 0; r < %d; r++, w++)\n", d->R);
    OUT("                        *w = ob + r < %d ? weight[", M);
    emit_weight_at(o, l, "ob + r", "c");
    OUT(" + %s_kidx[p][t]] : 0.0f;\n        }\n}\n\n", l->name);
}

/* R output channels x 16*V outputs of one phase, summed over every channel
 * and tap, in registers: the one loop nest where the time goes. Under
 * winograd (LAYER_wino_block) the same block sums one transformed product
 * over the planes: no taps, rows of nvp. */
static void emit_direct_block(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d)
{
    source_comment(o, m, l->line);
    if (d->wino) {
        OUT("/* acc[%d][16*%d] (rows of M) = pack x V: %d channels x %d vectors of 16 tiles in registers */\n",
            d->R, d->V, d->R, d->V);
        OUT("static inline AEC_FUSED void %s_wino_block(float *restrict acc, const float *restrict pack,\n"
            "        const float *restrict src)\n{\n", l->name);
    } else {
        OUT("/* acc[%d][16*%d] = pack x src: %d channels x %d vectors of 16 in registers */\n", d->R, d->V, d->R,
            d->V);
        OUT("static inline AEC_FUSED void %s_block(float *restrict acc, const float *restrict pack, const float *restrict src,\n"
            "        const long *restrict shift, int ntaps)\n{\n", l->name);
    }
    OUT("    aec_v16 sum[%d][%d];\n", d->R, d->V);
    OUT("#pragma GCC unroll %d\n    for (int r = 0; r < %d; r++)\n", d->R, d->R);
    OUT("#pragma GCC unroll %d\n        for (int v = 0; v < %d; v++)\n            sum[r][v] = (aec_v16){0};\n",
        d->V, d->V);
    if (d->wino) {
        OUT("    for (int k = 0; k < %d; k++, src += %zu, pack += %d) {\n", d->K, d->nvp, d->R);
    } else {
        OUT("    for (int c = 0; c < %d; c++, src += %zu)\n", l->in.c, (size_t)d->splits * d->stride);
        OUT("        for (int t = 0; t < ntaps; t++, pack += %d) {\n", d->R);
    }
    OUT("            aec_v16 x[%d];\n#pragma GCC unroll %d\n            for (int v = 0; v < %d; v++)\n", d->V, d->V,
        d->V);
    OUT("                x[v] = *(const aec_v16u *)(src%s + 16 * v);\n", d->wino ? "" : " + shift[t]");
    OUT("#pragma GCC unroll %d\n            for (int r = 0; r < %d; r++)\n", d->R, d->R);
    OUT("#pragma GCC unroll %d\n                for (int v = 0; v < %d; v++)\n", d->V, d->V);
    OUT("                    sum[r][v] += pack[r] * x[v];\n        }\n");
    OUT("#pragma GCC unroll %d\n    for (int r = 0; r < %d; r++)\n", d->R, d->R);
    OUT("#pragma GCC unroll %d\n        for (int v = 0; v < %d; v++)\n", d->V, d->V);
    OUT("            *(aec_v16u *)(acc + (size_t)r * %zu + 16 * v) = sum[r][v];\n}\n\n", d->wino ? d->nvp : d->nqp);
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
    OUT("static void %s_store(float *restrict out, const float *restrict acc,%s\n"
        "        int B, int b0, int nb)\n{\n", l->name, has_bias ? " const float *restrict bias," : "");
    OUT("    for (int o = 0; o < %d; o++)\n        for (int b = 0; b < nb; b++)\n", l->out.c);
    OUT("            for (int y = 0; y < %d; y++) {\n", H);
    OUT("                float *row = out + (((size_t)o * B + b0 + b) * %d + y) * %d;\n", H, W);
    if (S == 1) {
        OUT("                const float *a = acc + (size_t)o * %zu + (size_t)y * %zu + (size_t)b * %d;\n", d->nqp,
            d->row, d->cols);
        OUT("                for (int x = 0; x < %d; x++)\n                    row[x] = ", W);
        snprintf(v, sizeof v, value, "x");
        act_call(o, l, v);
        OUT(";\n            }\n}\n\n");
        return;
    }
    /* each output row interleaves S phase rows: pixel S*n + rx of the row is
     * pixel n of phase (y %% S, rx), written S at a time so that it vectorises */
    OUT("                const float *a = acc + ((size_t)(y %% %d * %d) * %d + o) * %zu\n", S, S, d->mpad, d->nqp);
    OUT("                                 + (size_t)(y / %d) * %zu + (size_t)b * %d;\n", S, d->row, d->cols);
    if (W % S)
        OUT("                int n = 0;\n                for (; n < %d; n++) {\n", W / S);
    else
        OUT("                for (int n = 0; n < %d; n++) {\n", W / S);
    for (int rx = 0; rx < S; rx++) {
        char at[32];
        if (rx)
            snprintf(at, sizeof at, "%zu + n", (size_t)rx * d->mpad * d->nqp);
        else
            snprintf(at, sizeof at, "n");
        snprintf(v, sizeof v, value, at);
        OUT("                    row[n * %d + %d] = ", S, rx);
        act_call(o, l, v);
        OUT(";\n");
    }
    OUT("                }\n");
    if (W % S) {
        OUT("                for (int rx = 0; rx < %d; rx++)   /* the last column's phases */\n", W % S);
        OUT("                    row[n * %d + rx] = ", S);
        char at[48];
        snprintf(at, sizeof at, "(size_t)rx * %zu + n", (size_t)d->mpad * d->nqp);
        snprintf(v, sizeof v, value, at);
        act_call(o, l, v);
        OUT(";\n");
    }
    OUT("            }\n}\n\n");
}

/* ---- winograd: F(2x2, 2x2) on each phase's 2 x 2 taps (ir.h, lower_direct's wino) ------ */

/* Each phase's 2 x 2 taps on each split of a channel, as kernel indices
 * (-1: no tap there), and pack[p][xi][o/R][k][o%R] = (G g G')[xi] of them,
 * k = c x splits + split: Winograd's weights, in the order the block reads
 * them. G = [1 0; 1 1; 0 1]. */
static void emit_wino_pack(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d)
{
    int M = l->out.c, kk = l->conv.kernel * l->conv.kernel, *kidx = xmalloc(sizeof(int) * (size_t)kk);
    long *off = xmalloc(sizeof(long) * (size_t)kk);
    source_comment(o, m, l->line);
    OUT("/* phase p's tap (a, b) on split s: kernel index ky*%d + kx at [p][s][2a + b], or -1 */\n", l->conv.kernel);
    OUT("static const int %s_wino_taps[%d][%d][4] = {", l->name, d->phases, d->splits);
    for (int p = 0; p < d->phases; p++) {
        int n = lower_direct_taps(l, d, p, off, kidx), (*slot)[4] = xmalloc(sizeof *slot * (size_t)d->splits);
        long base = lower_direct_base(l, d, p);
        for (int sp = 0; sp < d->splits; sp++)
            for (int t = 0; t < 4; t++)
                slot[sp][t] = -1;
        for (int t = 0; t < n; t++) {
            long sp = l->kind == IR_CONV2D ? off[t] / (long)d->stride : 0, r = off[t] - sp * (long)d->stride - base;
            long a = r / (long)d->row, b = r % (long)d->row;
            assert(a >= 0 && a <= 1 && b >= 0 && b <= 1);     /* lower_winograd_fits, schedule.c */
            slot[sp][a * 2 + b] = kidx[t];
        }
        OUT("%s{", p ? ", " : "");
        for (int sp = 0; sp < d->splits; sp++)
            OUT("%s{%d, %d, %d, %d}", sp ? ", " : "", slot[sp][0], slot[sp][1], slot[sp][2], slot[sp][3]);
        OUT("}");
        free(slot);
    }
    OUT("};\n\n");
    free(off);
    free(kidx);
    source_comment(o, m, l->line);
    OUT("static void %s_wino_pack(float *restrict pack, const float *restrict weight)\n{\n", l->name);
    OUT("    for (int p = 0; p < %d; p++)\n        for (int ob = 0; ob < %d; ob += %d)\n", d->phases, d->mpad, d->R);
    OUT("            for (int k = 0; k < %d; k++)\n                for (int r = 0; r < %d; r++) {\n", d->K, d->R);
    OUT("                    const int c = k / %d, *tap = %s_wino_taps[p][k %% %d];\n", d->splits, l->name, d->splits);
    OUT("                    float g[4];\n                    for (int t = 0; t < 4; t++)\n");
    OUT("                        g[t] = tap[t] >= 0 && ob + r < %d ? weight[", M);
    emit_weight_at(o, l, "ob + r", "c");
    OUT(" + tap[t]] : 0.0f;\n");
    OUT("                    const float u[9] = { g[0], g[0] + g[1], g[1],\n"
        "                                         g[0] + g[2], g[0] + g[1] + g[2] + g[3], g[1] + g[3],\n"
        "                                         g[2], g[2] + g[3], g[3] };\n");
    OUT("                    float *w = pack + ((size_t)p * %d + ob) * %d + (size_t)k * %d + r;\n", 9 * d->mpad, d->K,
        d->R);
    OUT("                    for (int x = 0; x < 9; x++)\n                        w[(size_t)x * %zu] = u[x];\n",
        (size_t)d->mpad * d->K);
    OUT("                }\n}\n\n");
}

/* V[xi][k][n] = (B'dB)[xi], d the 3 x 3 plane values from tile n's origin
 * q = 2 ty row + 2 tx (n = ty ntx + tx); B' = [1 -1 0; 0 1 0; 0 -1 1]. */
static void emit_wino_in(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d)
{
    size_t tiles = (size_t)d->nty * d->ntx, kn = (size_t)d->K * d->nvp;
    source_comment(o, m, l->line);
    OUT("static void %s_wino_in(float *restrict V, const float *restrict src)\n{\n", l->name);
    OUT("    for (int k = 0; k < %d; k++) {\n", d->K);
    OUT("        const float *s = src + (size_t)k * %zu;\n        float *v = V + (size_t)k * %zu;\n", d->stride, d->nvp);
    OUT("        for (int ty = 0; ty < %d; ty++) {\n", d->nty);
    OUT("            const float *r0 = s + (size_t)ty * %zu, *r1 = r0 + %zu, *r2 = r1 + %zu;\n", 2 * d->row, d->row,
        d->row);
    OUT("            float *w = v + (size_t)ty * %d;\n", d->ntx);
    OUT("            for (int tx = 0; tx < %d; tx++) {\n", d->ntx);
    OUT("                const int j = 2 * tx;   /* B'd: rows d0 - d1, d1, d2 - d1; then the columns likewise */\n");
    OUT("                const float a0 = r0[j] - r1[j], a1 = r0[j + 1] - r1[j + 1], a2 = r0[j + 2] - r1[j + 2];\n");
    OUT("                const float b0 = r1[j], b1 = r1[j + 1], b2 = r1[j + 2];\n");
    OUT("                const float c0 = r2[j] - r1[j], c1 = r2[j + 1] - r1[j + 1], c2 = r2[j + 2] - r1[j + 2];\n");
    const char *rows[3] = { "a", "b", "c" };
    for (int u = 0; u < 3; u++)
        OUT("                w[%zu + tx] = %s0 - %s1;\n                w[%zu + tx] = %s1;\n"
            "                w[%zu + tx] = %s2 - %s1;\n", (size_t)(3 * u) * kn, rows[u], rows[u],
            (size_t)(3 * u + 1) * kn, rows[u], (size_t)(3 * u + 2) * kn, rows[u], rows[u]);
    OUT("            }\n        }\n");
    if (d->nvp > tiles)
        OUT("        for (int x = 0; x < 9; x++)   /* the last block's tiles past the plane */\n"
            "            memset(v + (size_t)x * %zu + %zu, 0, sizeof(float) * %zu);\n", kn, tiles, d->nvp - tiles);
    OUT("    }\n}\n\n");
}

/* acc[p][o][q - base] = (A'MA) of tile n's 9 sums: its 2 x 2 outputs at q,
 * q + 1, q + row, q + row + 1 from its origin q; A' = [1 1 0; 0 1 1]. With
 * an odd row, a row's last tile also writes column 0 of the next two flat
 * rows, the same sums as the tiles there up to rounding: the last write
 * stands, the same one every run. */
static void emit_wino_out(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d)
{
    size_t mn = (size_t)d->mpad * d->nvp;
    source_comment(o, m, l->line);
    OUT("static const long %s_wino_base[%d] = {", l->name, d->phases);
    for (int p = 0; p < d->phases; p++)
        OUT("%s%ld", p ? ", " : "", lower_direct_base(l, d, p));
    OUT("};\n\n");
    OUT("static void %s_wino_out(float *restrict acc, const float *restrict M)\n{\n", l->name);
    OUT("    for (int p = 0; p < %d; p++)\n        for (int o = 0; o < %d; o++) {\n", d->phases, l->out.c);
    OUT("            const float *mo = M + ((size_t)p * %d + o) * %zu;\n", 9 * d->mpad, d->nvp);
    OUT("            float *a = acc + ((size_t)p * %d + o) * %zu - %s_wino_base[p];\n", d->mpad, d->nqp, l->name);
    OUT("            for (int ty = 0; ty < %d; ty++) {\n", d->nty);
    OUT("                const float *mt = mo + (size_t)ty * %d;\n", d->ntx);
    OUT("                float *y0 = a + (size_t)ty * %zu, *y1 = y0 + %zu;\n", 2 * d->row, d->row);
    OUT("                for (int tx = 0; tx < %d; tx++) {\n", d->ntx);
    OUT("                    /* A'M: rows m0 + m1, m1 + m2; then the columns likewise */\n");
    for (int u = 0; u < 3; u++)
        OUT("                    const float m%d0 = mt[%zu + tx], m%d1 = mt[%zu + tx], m%d2 = mt[%zu + tx];\n", u,
            (size_t)(3 * u) * mn, u, (size_t)(3 * u + 1) * mn, u, (size_t)(3 * u + 2) * mn);
    OUT("                    const float z00 = m00 + m10, z01 = m01 + m11, z02 = m02 + m12;\n");
    OUT("                    const float z10 = m10 + m20, z11 = m11 + m21, z12 = m12 + m22;\n");
    OUT("                    y0[2 * tx] = z00 + z01;\n                    y0[2 * tx + 1] = z01 + z02;\n");
    OUT("                    y1[2 * tx] = z10 + z11;\n                    y1[2 * tx + 1] = z11 + z12;\n");
    OUT("                }\n            }\n        }\n}\n\n");
}

/* The helpers of a direct or winograd pass (a forward pass, or LAYER_din's),
 * before the pass itself. */
static void emit_direct_helpers(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d)
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

/* The products of a winograd pass over one tile's planes: the transform,
 * every phase's 9 products of every block of 16 x V tiles, and back. */
static void emit_wino_products(sbuf *o, const ir_layer *l, const lower_direct *d, const ir_sched *s)
{
    OUT("        %s_wino_in(V, src);\n", l->name);
    omp_for(o, s);
    OUT("        for (size_t n = 0; n < %zu; n += %d)\n", d->nvp, 16 * d->V);
    OUT("            for (int x = 0; x < %d; x++)   /* phase x / 9, product x %% 9 */\n", 9 * d->phases);
    OUT("                for (int ob = 0; ob < %d; ob += %d)\n", d->mpad, d->R);
    OUT("                    %s_wino_block(M + ((size_t)x * %d + ob) * %zu + n, pack + ((size_t)x * %d + ob) * %d,\n",
        l->name, d->mpad, d->nvp, d->mpad, d->K);
    OUT("                            V + (size_t)(x %% 9) * %zu + n);\n", (size_t)d->K * d->nvp);
    OUT("        %s_wino_out(acc, M);\n", l->name);
}

/* The products of a direct pass over one tile's planes. */
static void emit_direct_products(sbuf *o, const ir_layer *l, const lower_direct *d, const ir_sched *s)
{
    omp_for(o, s);
    OUT("        for (size_t q = 0; q < %zu; q += %d)\n", d->nqp, 16 * d->V);
    OUT("            for (int p = 0; p < %d; p++)\n", d->phases);
    OUT("                for (int ob = 0; ob < %d; ob += %d)\n", d->mpad, d->R);
    OUT("                    %s_block(acc + ((size_t)p * %d + ob) * %zu + q,\n", l->name, d->mpad, d->nqp);
    OUT("                            pack + ((size_t)p * %d + ob) * %d, src + q, %s_shift[p], %s_ntaps[p]);\n",
        d->mpad, l->in.c * d->max_taps, l->name, l->name);
}

/* The packed weights of a direct or winograd pass, at scratch + at: where
 * the pass is prepared, only when the caller gave none (pack is NULL). */
static void emit_pack_here(sbuf *o, const ir_layer *l, const lower_direct *d, const char *scratch, size_t at,
                           int prepared)
{
    const char *pack = d->wino ? "wino_pack" : "pack";
    if (!prepared) {
        OUT("    float *pack = %s + %zu;\n    %s_%s(pack, weight);\n", scratch, at, l->name, pack);
        return;
    }
    OUT("    if (!pack) {   /* not prepared (training changes the weights every step): pack them here */\n");
    OUT("        float *fresh = %s + %zu;\n        %s_%s(fresh, weight);\n        pack = fresh;\n    }\n", scratch,
        at, l->name, pack);
}

/* A direct or winograd pass of layer l (a forward pass, or LAYER_din's for
 * an input gradient): out = l(in), with scratch after the arena. The
 * weights are packed once (or prepared: the argument pack), then per tile
 * of images: the planes, the products, and the store. */
static void emit_direct_pass(sbuf *o, const ir_layer *l, const lower_direct *d, const ir_sched *s, const char *out,
                             const char *in, const char *scratch, int prepared)
{
    if (d->wino) {
        OUT("    /* Winograd's weights once; per tile of images: the planes, their\n"
            "     * transforms, 9 products a phase in blocks of %d output channels x %d\n"
            "     * tiles, the outputs from them, the store */\n", d->R, 16 * d->V);
        OUT("    /* each stage's input is dead once it has run: M over the planes, acc over V */\n");
        OUT("    float *src = %s, *M = %s, *V = %s + %zu, *acc = V + %zu;\n", scratch, scratch, scratch, d->at_v,
            d->guard);
        emit_pack_here(o, l, d, scratch, d->work, prepared);
    } else {
        OUT("    /* the weights packed once; per tile of images: the planes, every\n"
            "     * phase's blocks of %d output channels x %d outputs, the store */\n", d->R, 16 * d->V);
        OUT("    float *src = %s, *acc = %s + %zu;\n", scratch, scratch, d->src);
        emit_pack_here(o, l, d, scratch, d->src + d->acc, prepared);
    }
    OUT("    for (int b0 = 0; b0 < B; b0 += %d) {\n", d->tile);
    OUT("        const int nb = B - b0 < %d ? B - b0 : %d;\n", d->tile, d->tile);
    OUT("        %s_planes(src, %s, B, b0, nb);\n", l->name, in);
    if (d->wino)
        emit_wino_products(o, l, d, s);
    else
        emit_direct_products(o, l, d, s);
    OUT("        %s_store(%s, acc,%s B, b0, nb);\n    }\n", l->name, out, l->bias >= 0 ? " bias," : "");
}

/* ---- direct weight gradient (ir.h, lower_dweight) ------------------------------------- */

/* LAYER_dw: the weight gradient's planes and taps, the forward pass's
 * geometry in the backward pass's tile, under names of its own. */
static ir_layer dweight_layer(const ir_layer *l)
{
    ir_layer w = *l;
    snprintf(w.name, sizeof w.name, "%.40s_dw", l->name);  /* names: at most 40 (sema), never ending in _dw */
    return w;
}

/* grads[b][y][x][mw] <- the output gradient of each image of the tile,
 * every output channel of a pixel side by side (zeros past the last): what
 * a block reads as ov vectors a pixel. Blocks of 16 channels x 16 pixels,
 * read as 16 rows and transposed in registers (aec_transpose16); a partial
 * block one value at a time. */
static void emit_dweight_grads(sbuf *o, const ir_model *m, const ir_layer *l, const lower_dweight *w)
{
    int HW = l->out.h * l->out.w, M = l->out.c;
    source_comment(o, m, l->line);
    OUT("/* grads[b][%d][%d][%d] <- images b0 .. b0+nb-1 of dout[%d][B][%d][%d] */\n", l->out.h, l->out.w, w->mw, M,
        l->out.h, l->out.w);
    OUT("static void %s_dw_grads(float *restrict grads, const float *restrict dout, int B, int b0, int nb)\n{\n",
        l->name);
    OUT("    for (int b = 0; b < nb; b++)\n        for (int o0 = 0; o0 < %d; o0 += 16)\n", w->mw);
    OUT("            for (int i0 = 0; i0 < %d; i0 += 16) {\n", HW);
    OUT("                float *g = grads + ((size_t)b * %d + i0) * %d + o0;\n", HW, w->mw);
    OUT("                const float *d = dout + ((size_t)o0 * B + b0 + b) * %d + i0;\n", HW);
    OUT("                if (i0 + 16 > %d || o0 + 16 > %d) {   /* a partial block */\n", HW, M);
    OUT("                    for (int k = 0; k < 16 && i0 + k < %d; k++)\n", HW);
    OUT("                        for (int r = 0; r < 16; r++)\n");
    OUT("                            g[(size_t)k * %d + r] = o0 + r < %d ? d[(size_t)r * B * %d + k] : 0.0f;\n", w->mw,
        M, HW);
    OUT("                    continue;\n                }\n");
    OUT("                aec_v16 r[16];\n#pragma GCC unroll 16\n                for (int k = 0; k < 16; k++)\n");
    OUT("                    r[k] = *(const aec_v16u *)(d + (size_t)k * B * %d);\n", HW);
    OUT("                aec_transpose16(r);\n#pragma GCC unroll 16\n                for (int k = 0; k < 16; k++)\n");
    OUT("                    *(aec_v16u *)(g + (size_t)k * %d) = r[k];\n            }\n}\n\n", w->mw);
}

/* aec_transpose16, once per file that has a direct weight gradient; the
 * comment it is emitted with says how it works. Its shuffle masks are made
 * here from that rule. */
static void emit_transpose16(sbuf *o)
{
    OUT("/* r[k][i] <- r[i][k]: 16 x 16 floats transposed in registers (LAYER_dw_grads). Stage j\n"
        " * swaps bit j of the row index with bit j of the column's: rows a and a | 2^j trade\n"
        " * the values where their columns' bit j differs, one two-register shuffle each. */\n");
    OUT("typedef int aec_i16 __attribute__((vector_size(64)));\n");
    OUT("static inline void aec_transpose16(aec_v16 r[16])\n{\n");
    for (int half = 0; half < 2; half++) {
        OUT("    static const aec_i16 %s[4] = {", half ? "hi" : "lo");
        for (int j = 0; j < 4; j++) {
            int bit = 1 << j;
            OUT("%s{", j ? ",\n        " : "\n        ");
            for (int c = 0; c < 16; c++) {
                int v = half ? (c & bit ? 16 + c : c | bit) : (c & bit ? 16 + (c ^ bit) : c);
                OUT("%s%d", c ? ", " : "", v);
            }
            OUT("}");
        }
        OUT("};\n");
    }
    OUT("#pragma GCC unroll 4\n    for (int j = 0; j < 4; j++)\n#pragma GCC unroll 16\n");
    OUT("        for (int a = 0; a < 16; a++)\n            if (!(a & 1 << j)) {\n");
    OUT("                const aec_v16 x = r[a], y = r[a | 1 << j];\n");
    OUT("                r[a] = __builtin_shuffle(x, y, lo[j]);\n");
    OUT("                r[a | 1 << j] = __builtin_shuffle(x, y, hi[j]);\n            }\n}\n\n");
}

/* J (channel, tap) pairs x 16 ov output channels of one phase, summed over
 * the tile's pixels in registers: each pixel's ov gradient vectors times
 * each pair's plane value at the tap's shift, broadcast. */
static void emit_dweight_block(sbuf *o, const ir_model *m, const ir_layer *l, const lower_dweight *w)
{
    int J = w->J, V = w->ov;
    source_comment(o, m, l->line);
    OUT("/* sums[%d][%d] += grads x the planes at %d shifts: %d pairs x %d vectors of 16 channels in registers */\n",
        J, w->mw, J, J, V);
    OUT("static inline AEC_FUSED void %s_dw_block(float *restrict sums, const float *restrict grads,\n"
        "        const float *restrict src, const long *restrict off, int nb, int rows, int cols)\n{\n", l->name);
    OUT("    aec_v16 sum[%d][%d];\n    const float *s[%d];\n", J, V, J);
    OUT("#pragma GCC unroll %d\n    for (int j = 0; j < %d; j++) {\n", J, J);
    OUT("        s[j] = src + off[j];\n");
    OUT("#pragma GCC unroll %d\n        for (int v = 0; v < %d; v++)\n            sum[j][v] = (aec_v16){0};\n    }\n", V, V);
    OUT("    for (int b = 0; b < nb; b++)\n        for (int y = 0; y < rows; y++) {\n");
    OUT("            const size_t q = (size_t)y * %zu + (size_t)b * %d;\n", w->d.row, w->d.cols);
    if (w->S > 1)
        OUT("            const float *gp = grads + ((size_t)b * %d + %d * y) * %d;\n", l->out.h, w->S,
            l->out.w * w->mw);
    else
        OUT("            const float *gp = grads + ((size_t)b * %d + y) * %d;\n", l->out.h, l->out.w * w->mw);
    OUT("            for (int x = 0; x < cols; x++, gp += %d) {\n", w->S * w->mw);
    OUT("                aec_v16 g[%d];\n#pragma GCC unroll %d\n                for (int v = 0; v < %d; v++)\n", V, V, V);
    OUT("                    g[v] = *(const aec_v16u *)(gp + 16 * v);\n");
    OUT("#pragma GCC unroll %d\n                for (int j = 0; j < %d; j++) {\n", J, J);
    OUT("                    const float a = s[j][q + x];\n");
    OUT("#pragma GCC unroll %d\n                    for (int v = 0; v < %d; v++)\n", V, V);
    OUT("                        sum[j][v] += a * g[v];\n                }\n            }\n        }\n");
    OUT("#pragma GCC unroll %d\n    for (int j = 0; j < %d; j++)\n", J, J);
    OUT("#pragma GCC unroll %d\n        for (int v = 0; v < %d; v++)\n", V, V);
    OUT("            *(aec_v16u *)(sums + (size_t)j * %d + 16 * v) += sum[j][v];\n}\n\n", w->mw);
}

/* Each phase's pixels: rows, columns, and where its grads start. */
static void emit_dweight_phases(sbuf *o, const ir_model *m, const ir_layer *l, const lower_dweight *w)
{
    sbuf ext = {0};
    for (int p = 0; p < w->d.phases; p++) {
        int rows, cols;
        lower_dweight_extent(l, w, p, &rows, &cols);
        size_t at = ((size_t)(p / w->S) * l->out.w + (size_t)(p % w->S)) * w->mw;   /* its first pixel */
        sb_printf(&ext, "%s{%d, %d, %zu}", p ? ", " : "", rows, cols, at);
    }
    source_comment(o, m, l->line);
    OUT("/* phase p's pixels: rows, columns, and where its first is in an image's grads */\n");
    OUT("static const long %s_dw_phase[%d][3] = {%s};\n\n", l->name, w->d.phases, ext.s);
    free(ext.s);
}

static void emit_dweight_helpers(sbuf *o, const ir_model *m, const ir_layer *l, const lower_dweight *w)
{
    ir_layer dw = dweight_layer(l);
    emit_direct_planes(o, m, &dw, &w->d);
    emit_direct_taps(o, m, &dw, &w->d);
    emit_dweight_phases(o, m, l, w);
    emit_dweight_grads(o, m, l, w);
    emit_dweight_block(o, m, l, w);
}

/* The weight gradient of a direct backward pass: per tile of images, the
 * input's planes, the output gradient's pixels, and every phase's blocks
 * of pairs and output channels; then the sums into dweight, in its own
 * order ([out][in][K][K] for conv2d, [in][out][K][K] for deconv2d). */
static void emit_dweight_pass(sbuf *o, const ir_layer *l, const lower_dweight *w, const ir_sched *s)
{
    const char *n = l->name;
    int C = l->in.c, M = l->out.c;
    size_t cstride = (size_t)w->d.splits * w->d.stride;
    OUT("    /* dweight: per tile, the planes of in and the pixels of dout; blocks of %d\n"
        "     * (channel, tap) pairs x %d output channels, summed over the tile's pixels */\n", w->J, 16 * w->ov);
    OUT("    float *planes = dcols, *grads = dcols + %zu, *sums = grads + %zu;\n", w->d.src, w->grads);
    OUT("    memset(sums, 0, sizeof(float) * %zu);\n", w->sums);
    OUT("    for (int b0 = 0; b0 < B; b0 += %d) {\n", w->d.tile);
    OUT("        const int nb = B - b0 < %d ? B - b0 : %d;\n", w->d.tile, w->d.tile);
    OUT("        %s_dw_planes(planes, in, B, b0, nb);\n        %s_dw_grads(grads, dout, B, b0, nb);\n", n, n);
    omp_for(o, s);
    OUT("        for (int k = 0; k < %d; k += %d) {   /* phase k / %d, its pairs from k %% %d */\n",
        w->d.phases * w->pairs, w->J, w->pairs, w->pairs);
    OUT("            const int p = k / %d, j0 = k %% %d, ntaps = %s_dw_ntaps[p], last = %d * ntaps - 1;\n",
        w->pairs, w->pairs, n, C);
    OUT("            if (j0 > last)\n                continue;\n");
    OUT("            long off[%d];   /* pair j0 + j: channel / ntaps, tap %% ntaps (past the last: the last again) */\n",
        w->J);
    OUT("            for (int j = 0; j < %d; j++) {\n", w->J);
    OUT("                const int pair = j0 + j < last ? j0 + j : last;\n");
    OUT("                off[j] = (long)(pair / ntaps) * %zu + %s_dw_shift[p][pair %% ntaps];\n", cstride, n);
    OUT("            }\n");
    OUT("            for (int ob = 0; ob < %d; ob += %d)\n", w->mw, 16 * w->ov);
    OUT("                %s_dw_block(sums + (size_t)k * %d + ob, grads + %s_dw_phase[p][2] + ob, planes, off, nb,\n"
        "                        (int)%s_dw_phase[p][0], (int)%s_dw_phase[p][1]);\n", n, w->mw, n, n, n);
    OUT("        }\n    }\n");
    OUT("    for (int p = 0; p < %d; p++)\n", w->d.phases);
    OUT("        for (int pair = 0; pair < %d * %s_dw_ntaps[p]; pair++) {\n", C, n);
    OUT("            const int c = pair / %s_dw_ntaps[p], k = %s_dw_kidx[p][pair %% %s_dw_ntaps[p]];\n", n, n, n);
    OUT("            const float *sum = sums + ((size_t)p * %d + pair) * %d;\n", w->pairs, w->mw);
    OUT("            for (int o = 0; o < %d; o++)\n                dweight[", M);
    emit_weight_at(o, l, "o", "c");
    OUT(" + k] += sum[o];\n        }\n");
}

/* A tile's extent, and where it starts in each CBHW operand (row stride B*GH*GW). */
typedef struct {
    char n[32], out[48], dout[48], in[48], din[48];
} tile_args;

static tile_args tile_args_of(window g)
{
    tile_args t;
    int ghw = g.GH * g.GW;
    snprintf(t.n, sizeof t.n, "nb * %d", ghw);
    snprintf(t.out, sizeof t.out, "out + (size_t)b0 * %d", ghw);
    snprintf(t.dout, sizeof t.dout, "dout + (size_t)b0 * %d", ghw);
    snprintf(t.in, sizeof t.in, "in + (size_t)b0 * %d", ghw);
    snprintf(t.din, sizeof t.din, "din + (size_t)b0 * %d", ghw);
    return t;
}

/* The extents of a convolution's gemm products, as the C text they are
 * written with: channels out and in, rows of the columns (C x K x K), the
 * full batch's columns, the grid per image, and the tile's operands. */
typedef struct {
    char OC[16], IC[16], CKK[16], N[32];
    int ghw;
    int din;            /* backward: the input gradient too (else the direct kernels make it) */
    tile_args t;
} conv_gemm;

static conv_gemm conv_gemm_of(const ir_layer *l, window g)
{
    conv_gemm c;
    snprintf(c.OC, sizeof c.OC, "%d", l->out.c);
    snprintf(c.IC, sizeof c.IC, "%d", l->in.c);
    snprintf(c.CKK, sizeof c.CKK, "%d", g.C * g.K * g.K);
    snprintf(c.N, sizeof c.N, "B * %d", g.GH * g.GW);
    c.ghw = g.GH * g.GW;
    c.din = l->needs_din;
    c.t = tile_args_of(g);
    return c;
}

/* conv2d forward: out = weight x the input's columns */
static void conv2d_gemm_forward(sbuf *o, const ir_layer *l, const conv_gemm *c)
{
    OUT("%s%s_im2col(cols, in, B, b0, nb);\n", ind, l->name);
    OUT("%s/* out[%s][b0*%d ...] = weight[%s][%s] x cols[%s][nb*%d] */\n", ind, c->OC, c->ghw, c->OC, c->CKK,
        c->CKK, c->ghw);
    gemm(o, NT, NT, c->OC, c->t.n, c->CKK, "weight", c->CKK, "cols", c->t.n, "0.0f", c->t.out, c->N);
}

/* deconv2d forward: columns = weight^T x in, summed into the image */
static void deconv2d_gemm_forward(sbuf *o, const ir_layer *l, const conv_gemm *c)
{
    OUT("%s/* cols[%s][nb*%d] = weight^T[%s][%s] x in[%s][b0*%d ...], scattered into out */\n",
        ind, c->CKK, c->ghw, c->CKK, c->IC, c->IC, c->ghw);
    gemm(o, TR, NT, c->CKK, c->t.n, c->IC, "weight", c->CKK, c->t.in, c->N, "0.0f", "cols", c->t.n);
    OUT("%s%s_col2im(out, cols, B, b0, nb);\n", ind, l->name);
}

/* dweight[G][C x K x K] += grid side x the columns of the image side, made
 * in dcols: conv2d's dout with its input's columns, deconv2d's input with
 * its dout's (both store weights [grid][image][K][K]). */
static void dweight_product(sbuf *o, const ir_layer *l, const conv_gemm *c, const char *grid, const char *G,
                            const char *image)
{
    OUT("%s%s_im2col(dcols, %s, B, b0, nb);\n", ind, l->name, image);
    OUT("%s/* dweight[%s][%s] += %s[%s][b0*%d ...] x dcols^T */\n", ind, G, c->CKK, grid, G, c->ghw);
    char at[48];
    snprintf(at, sizeof at, "%s + (size_t)b0 * %d", grid, c->ghw);
    gemm(o, NT, TR, G, c->CKK, c->t.n, at, c->N, "dcols", c->t.n, "1.0f", "dweight", c->CKK);
}

static void conv2d_gemm_backward(sbuf *o, const ir_layer *l, const conv_gemm *c)
{
    /* the forward pass's columns were scratch: make them again, in dcols */
    dweight_product(o, l, c, "dout", c->OC, "in");
    if (c->din) {
        OUT("%s/* dcols[%s][nb*%d] = weight^T x dout, then back to the image */\n", ind, c->CKK, c->ghw);
        gemm(o, TR, NT, c->CKK, c->t.n, c->OC, "weight", c->CKK, c->t.dout, c->N, "0.0f", "dcols", c->t.n);
        OUT("%s%s_col2im(din, dcols, B, b0, nb);\n", ind, l->name);
    }
}

static void deconv2d_gemm_backward(sbuf *o, const ir_layer *l, const conv_gemm *c)
{
    dweight_product(o, l, c, "in", c->IC, "dout");
    if (c->din) {
        OUT("%s/* din[%s][b0*%d ...] = weight[%s][%s] x dcols */\n", ind, c->IC, c->ghw, c->IC, c->CKK);
        gemm(o, NT, NT, c->IC, c->t.n, c->CKK, "weight", c->CKK, "dcols", c->t.n, "0.0f", c->t.din, c->N);
    }
}

/* A pass's body under gemm lowering: the products, in tiles of the batch. */
static void emit_gemm_pass(sbuf *o, const ir_layer *l, const ir_sched *s, const conv_gemm *c,
                           void (*products)(sbuf *, const ir_layer *, const conv_gemm *))
{
    blas_threads(o, s);
    tile_open(o, s);
    products(o, l, c);
    tile_close(o, s);
}

/* conv2d and deconv2d: the same signatures, the same direct kernels, the
 * same bias, activation and tiles; only the gemm products differ by kind.
 * A gemm backward pass is im2col + GEMM (conv2d's makes its columns again)
 * and col2im for the input gradient; a direct or winograd one makes the
 * weight gradient by the kernels of LAYER_dw and the input gradient by
 * those of LAYER_din, the transposed convolution. */
static void emit_conv_layer(sbuf *o, const ir_model *m, const ir_layer *l)
{
    window g = conv_window(l);
    int conv = l->kind == IR_CONV2D;
    const char *kind = conv ? "conv2d" : "deconv2d";
    const ir_sched *fs = &l->sched[PASS_FWD], *bs = &l->sched[PASS_BWD];
    int fg = fs->lowering == LOWER_GEMM, bg = bs->lowering == LOWER_GEMM || !l->needs_din;
    int dwd = lower_dweight_direct(l);
    conv_gemm c = conv_gemm_of(l, g);
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
    OUT("static void %s_forward(float *out, float *cols, const float *in,\n"
        "        const float *weight, const float *bias, %sint B)\n{\n", l->name,
        l->prep >= 0 ? "const float *pack, " : "");
    sched_comment(o, fs);
    if (fg) {
        emit_gemm_pass(o, l, fs, &c, conv ? conv2d_gemm_forward : deconv2d_gemm_forward);
        emit_bias_act(o, l);
    } else {
        emit_direct_pass(o, l, &d, fs, "out", "in", "cols", l->prep >= 0);
    }
    OUT("}\n\n");

    snprintf(what, sizeof what, "%s backward", kind);
    layer_comment(o, m, l, what);
    OUT("static void %s_backward(float *din, float *dcols, float *dout, const float *out,\n"
        "        const float *in, const float *weight, float *dweight, float *dbias, int B)\n{\n", l->name);
    sched_comment(o, bs);
    emit_dbias(o, l);
    /* direct, winograd: the weight gradient by its direct kernels, then the
     * input gradient by those of LAYER_din */
    c.din = bg && l->needs_din;
    if (dwd)
        emit_dweight_pass(o, l, &w, bs);
    else
        emit_gemm_pass(o, l, bs, &c, conv ? conv2d_gemm_backward : deconv2d_gemm_backward);
    if (!bg) {
        OUT("    /* din = %s_din(dout): the transposed %s, by the direct kernels */\n", l->name,
            conv ? "convolution" : "deconvolution");
        emit_direct_pass(o, &din, &dd, bs, "din", "dout", "dcols", 0);
    }
    if (!l->needs_din)
        OUT("    (void)din, (void)weight;   /* the first layer that learns: no input gradient */\n");
    OUT("}\n\n");
}

/* ---- linear products, direct (a linear layer's or the latent heads' forward pass) -- */

/* out[b][o] = in[b] . weight[o] with no packing of the weights, which the
 * GEMM copies on every call (8 MB for celeba_vae's heads): the images go
 * into the vectors, NI (32) a block, transposed into xt; each weight is read
 * once a block and multiplied into 2 vectors of 16 images. LINEAR_R
 * outputs at a time: 2 x LINEAR_R sums in registers. */
enum { LINEAR_R = 12 };
#define NI lower_linear_images()

static int linear_r(const ir_layer *l) { return l->out.c < LINEAR_R ? l->out.c : LINEAR_R; }

static void emit_linear_direct_helpers(sbuf *o, const ir_model *m, const ir_layer *l)
{
    int K = l->in.c, R = linear_r(l);
    source_comment(o, m, l->line);
    OUT("/* xt[%d][%d] <- in[b0 .. b0+nb-1][%d], zeros for the images past nb */\n", K, NI, K);
    OUT("static void %s_transpose(float *restrict xt, const float *restrict in, int b0, int nb)\n{\n", l->name);
    OUT("    for (int k0 = 0; k0 < %d; k0 += 16)   /* 16 x %d at a time: both sides in the L1 cache */\n", K, NI);
    OUT("        for (int b = 0; b < %d; b++)\n", NI);
    OUT("            for (int k = k0; k < k0 + 16 && k < %d; k++)\n", K);
    OUT("                xt[(size_t)k * %d + b] = b < nb ? in[(size_t)(b0 + b) * %d + k] : 0.0f;\n}\n\n", NI, K);
    source_comment(o, m, l->line);
    OUT("/* acc[%d][%d] = weight rows x xt: %d outputs x 2 vectors of 16 images in registers */\n", R, NI, R);
    OUT("static inline AEC_FUSED void %s_rows(float *restrict acc, const float *restrict w, const float *restrict xt)\n{\n",
        l->name);
    OUT("    aec_v16 sum[%d][2];\n#pragma GCC unroll %d\n    for (int r = 0; r < %d; r++)\n", R, R, R);
    OUT("        sum[r][0] = sum[r][1] = (aec_v16){0};\n");
    OUT("    for (int k = 0; k < %d; k++, xt += %d, w++) {\n", K, NI);
    OUT("        const aec_v16 x0 = *(const aec_v16u *)xt, x1 = *(const aec_v16u *)(xt + 16);\n");
    OUT("#pragma GCC unroll %d\n        for (int r = 0; r < %d; r++) {\n", R, R);
    OUT("            const float a = w[(size_t)r * %d];\n", K);
    OUT("            sum[r][0] += a * x0;\n            sum[r][1] += a * x1;\n        }\n    }\n");
    OUT("#pragma GCC unroll %d\n    for (int r = 0; r < %d; r++) {\n", R, R);
    OUT("        *(aec_v16u *)(acc + r * %d) = sum[r][0];\n        *(aec_v16u *)(acc + r * %d + 16) = sum[r][1];\n"
        "    }\n}\n\n", NI, NI);
}

/* out[B][N] = in x weight^T by the direct product, in the current block of
 * NI images (xt made), its loop indented by in: the last R outputs may be
 * computed twice, alike. */
static void emit_linear_direct_product(sbuf *o, const ir_layer *l, const char *out, const char *weight,
                                       const char *in)
{
    int N = l->out.c, R = linear_r(l);
    OUT("%sfor (int o0 = 0; o0 < %d; o0 += %d) {\n", in, N, R);
    if (N % R)
        OUT("%s    const int o = o0 + %d <= %d ? o0 : %d;   /* the last block: the last %d outputs */\n", in, R, N,
            N - R, R);
    else
        OUT("%s    const int o = o0;\n", in);
    OUT("%s    float acc[%d];\n", in, R * NI);
    OUT("%s    %s_rows(acc, %s + (size_t)o * %d, xt);\n", in, l->name, weight, l->in.c);
    OUT("%s    for (int r = 0; r < %d; r++)\n%s        for (int b = 0; b < nb; b++)\n", in, R, in);
    OUT("%s            %s[(size_t)(b0 + b) * %d + o + r] = acc[r * %d + b];\n%s}\n", in, out, N, NI, in);
}

/* ---- linear products from prepared panels (a gemm linear layer's forward pass, inference) -- */

/* With prepared weights, the GEMM's copy of the weights is made once
 * (LAYER_pack: panels of lower_panel() outputs, input-major, so that a panel's
 * row is 4 vectors) and LAYER_panel multiplies one panel into PI images
 * at a time, 4 x PI sums in registers, each input broadcast. OpenBLAS
 * would copy the weights on every call: 5% of celeba_vae's inference. */
enum { PI = 6 };

static int panels(const ir_layer *l) { return (l->out.c + lower_panel() - 1) / lower_panel(); }

static void emit_linear_panel_helpers(sbuf *o, const ir_model *m, const ir_layer *l)
{
    int K = l->in.c, N = l->out.c, P = panels(l), V = lower_panel() / 16;
    source_comment(o, m, l->line);
    OUT("/* pack[%d panels][%d][%d] <- weight[%d][%d]: %d outputs a panel, input-major, zeros past %d */\n", P, K,
        lower_panel(), N, K, lower_panel(), N);
    OUT("static void %s_pack(float *restrict pack, const float *restrict weight)\n{\n", l->name);
    OUT("    for (int p = 0; p < %d; p++)\n        for (int k = 0; k < %d; k++)\n", P, K);
    OUT("            for (int r = 0; r < %d; r++) {\n                const int o = p * %d + r;\n", lower_panel(), lower_panel());
    OUT("                pack[((size_t)p * %d + k) * %d + r] = o < %d ? weight[(size_t)o * %d + k] : 0.0f;\n"
        "            }\n}\n\n", K, lower_panel(), N, K);
    source_comment(o, m, l->line);
    OUT("/* out[img[i]][0 .. n-1] = in[img[i]] x one panel, for %d images (repeats allowed):\n"
        " * %d images x %d vectors of 16 outputs in registers */\n", PI, PI, V);
    OUT("static inline AEC_FUSED void %s_panel(float *restrict out, const float *restrict in,\n"
        "        const float *restrict pack, const int *img, int n)\n{\n", l->name);
    OUT("    aec_v16 sum[%d][%d];\n    const float *x[%d];\n#pragma GCC unroll %d\n", PI, V, PI, PI);
    OUT("    for (int i = 0; i < %d; i++) {\n        x[i] = in + (size_t)img[i] * %d;\n", PI, K);
    OUT("#pragma GCC unroll %d\n        for (int v = 0; v < %d; v++)\n            sum[i][v] = (aec_v16){0};\n    }\n",
        V, V);
    OUT("    for (int k = 0; k < %d; k++, pack += %d) {\n        aec_v16 w[%d];\n", K, lower_panel(), V);
    OUT("#pragma GCC unroll %d\n        for (int v = 0; v < %d; v++)\n            w[v] = *(const aec_v16u *)(pack + 16 * v);\n",
        V, V);
    OUT("#pragma GCC unroll %d\n        for (int i = 0; i < %d; i++) {\n            const float a = x[i][k];\n", PI, PI);
    OUT("#pragma GCC unroll %d\n            for (int v = 0; v < %d; v++)\n                sum[i][v] += a * w[v];\n"
        "        }\n    }\n", V, V);
    if (N % lower_panel() == 0)
        OUT("    (void)n;   /* every panel whole */\n");
    OUT("    for (int i = 0; i < %d; i++) {\n        float *y = out + (size_t)img[i] * %d;\n", PI, N);
    if (N % lower_panel()) {
        OUT("        if (n < %d) {   /* the last panel: its first n outputs */\n            float t[%d];\n", lower_panel(),
            lower_panel());
        OUT("            for (int v = 0; v < %d; v++)\n                *(aec_v16u *)(t + 16 * v) = sum[i][v];\n", V);
        OUT("            for (int r = 0; r < n; r++)\n                y[r] = t[r];\n            continue;\n        }\n");
    }
    OUT("#pragma GCC unroll %d\n        for (int v = 0; v < %d; v++)\n            *(aec_v16u *)(y + 16 * v) = sum[i][v];\n"
        "    }\n}\n\n", V, V);
}

/* out[B][N] = in x weight^T from the prepared panels: each panel into
 * blocks of PI images, the last block ending at the last image (repeating
 * images, with the same results, where B is not a multiple of PI). */
static void emit_linear_panel_products(sbuf *o, const ir_layer *l)
{
    int K = l->in.c, N = l->out.c;
    char n[64];
    if (N % lower_panel())
        snprintf(n, sizeof n, "p < %d ? %d : %d", panels(l) - 1, lower_panel(), N % lower_panel());
    else
        snprintf(n, sizeof n, "%d", lower_panel());
    omp_for(o, &l->sched[PASS_FWD]);
    OUT("        for (int p = 0; p < %d; p++)\n            for (int b0 = 0; b0 < B; b0 += %d) {\n", panels(l), PI);
    OUT("                int img[%d];\n                for (int i = 0; i < %d; i++)\n", PI, PI);
    OUT("                    img[i] = b0 + i < B ? b0 + i : B - 1;\n");
    OUT("                %s_panel(out + (size_t)p * %d, in, pack + (size_t)p * %d, img, %s);\n", l->name, lower_panel(),
        K * lower_panel(), n);
    OUT("            }\n");
}

/* The forward products of a linear layer or the latent heads (F inputs, O
 * outputs, as literals): gemm (from prepared panels when the layer has them
 * and is given them), or direct. Where only_if is given, the products after
 * the first are computed only when it holds. */
static void emit_linear_products(sbuf *o, const ir_layer *l, const char *F, const char *O, const char *const *outs,
                                 const char *const *weights, int n, const char *only_if)
{
    if (l->sched[PASS_FWD].lowering == LOWER_GEMM) {
        OUT("    (void)cols;\n");
        for (int i = 0; i < n; i++) {
            /* a prepared layer (one product, plan.c) has the panels, when given them */
            int prepared = l->prep >= 0, guard = i > 0 && only_if;
            if (prepared) {
                OUT("    if (pack) {   /* prepared (inference): the product from the panels */\n");
                emit_linear_panel_products(o, l);
                OUT("    } else {   /* OpenBLAS copies the weights itself, on every call */\n");
            } else if (guard) {
                OUT("    if (%s) {\n", only_if);
            }
            ind = prepared || guard ? "        " : "    ";
            gemm(o, NT, TR, "B", O, F, "in", F, weights[i], F, "0.0f", outs[i], O);
            ind = "    ";
            if (prepared || guard)
                OUT("    }\n");
        }
        return;
    }
    OUT("    float *xt = cols;\n    for (int b0 = 0; b0 < B; b0 += %d) {\n", NI);
    OUT("        const int nb = B - b0 < %d ? B - b0 : %d;\n        %s_transpose(xt, in, b0, nb);\n", NI, NI, l->name);
    for (int i = 0; i < n; i++) {
        int guard = i > 0 && only_if;
        if (guard)
            OUT("        if (%s) {\n", only_if);
        emit_linear_direct_product(o, l, outs[i], weights[i], guard ? "            " : "        ");
        if (guard)
            OUT("        }\n");
    }
    OUT("    }\n");
}

static void emit_linear(sbuf *o, const ir_model *m, const ir_layer *l)
{
    char F[16], O[16];
    snprintf(F, sizeof F, "%d", l->in.c);
    snprintf(O, sizeof O, "%d", l->out.c);
    if (l->sched[PASS_FWD].lowering != LOWER_GEMM)
        emit_linear_direct_helpers(o, m, l);
    if (l->prep >= 0)
        emit_linear_panel_helpers(o, m, l);
    layer_comment(o, m, l, "linear forward");
    OUT("static void %s_forward(float *out, float *cols, const float *in, const float *weight, const float *bias,\n"
        "        %sint B)\n{\n", l->name, l->prep >= 0 ? "const float *pack, " : "");
    sched_comment(o, &l->sched[PASS_FWD]);
    blas_threads(o, &l->sched[PASS_FWD]);
    OUT("    /* out[B][%s] = in[B][%s] x weight^T[%s][%s] */\n", O, F, F, O);
    emit_linear_products(o, l, F, O, (const char *const[]){ "out" }, (const char *const[]){ "weight" }, 1, NULL);
    emit_bias_act(o, l);
    OUT("}\n\n");

    layer_comment(o, m, l, "linear backward");
    OUT("static void %s_backward(float *din, float *dout, const float *out, const float *in,\n"
        "        const float *weight, float *dweight, float *dbias, int B)\n{\n", l->name);
    sched_comment(o, &l->sched[PASS_BWD]);
    blas_threads(o, &l->sched[PASS_BWD]);
    emit_dbias(o, l);
    OUT("    /* dweight[%s][%s] += dout^T[%s][B] x in[B][%s] */\n", O, F, O, F);
    gemm(o, TR, NT, O, F, "B", "dout", O, "in", F, "1.0f", "dweight", F);
    if (l->needs_din) {
        OUT("    /* din[B][%s] = dout[B][%s] x weight[%s][%s] */\n", F, O, O, F);
        gemm(o, NT, NT, "B", F, O, "dout", O, "weight", F, "0.0f", "din", F);
    } else {
        OUT("    (void)din, (void)weight;   /* the first layer that learns: no input gradient */\n");
    }
    OUT("}\n\n");
}

/* flatten: in[C][B][HW] -> out[B][C*HW] (PyTorch's per-image order);
 * unflatten is the same copy the other way. */
static void emit_reshape(sbuf *o, const ir_model *m, const ir_layer *l)
{
    int flatten = l->kind == IR_FLATTEN;
    ir_shape img = flatten ? l->in : l->out;
    int C = img.c, HW = img.h * img.w;
    const char *cbhw_to_flat = "memcpy(flat + ((size_t)b * %d + c * %d), img + ((size_t)c * B + b) * %d, sizeof(float) * %d);\n";
    const char *flat_to_cbhw = "memcpy(img + ((size_t)c * B + b) * %d, flat + ((size_t)b * %d + c * %d), sizeof(float) * %d);\n";
    for (int pass = 0; pass < (l->runs_backward ? 2 : 1); pass++) {
        int to_flat = flatten == (pass == 0);
        layer_comment(o, m, l, pass == 0 ? (flatten ? "flatten forward" : "unflatten forward")
                                         : (flatten ? "flatten backward" : "unflatten backward"));
        if (pass == 0)
            OUT("static void %s_forward(float *out, const float *in, int B)\n{\n", l->name);
        else
            OUT("static void %s_backward(float *din, const float *dout, int B)\n{\n", l->name);
        const char *dst = pass == 0 ? "out" : "din", *src = pass == 0 ? "in" : "dout";
        OUT("    float *%s = %s;\n    const float *%s = %s;\n", to_flat ? "flat" : "img", dst,
            to_flat ? "img" : "flat", src);
        OUT("    for (int c = 0; c < %d; c++)\n        for (int b = 0; b < B; b++)\n            ", C);
        if (to_flat)
            OUT(cbhw_to_flat, C * HW, HW, HW, HW);
        else
            OUT(flat_to_cbhw, HW, C * HW, HW, HW);
        OUT("}\n\n");
    }
}

static void emit_act_layer(sbuf *o, const ir_model *m, const ir_layer *l)
{
    size_t n = ir_numel(l->out);
    layer_comment(o, m, l, "activation forward");
    OUT("static void %s_forward(float *out, const float *in, int B)\n{\n", l->name);
    OUT("    for (size_t i = 0; i < (size_t)B * %zu; i++)\n        out[i] = ", n);
    act_call(o, l, "in[i]");
    OUT(";\n}\n\n");
    if (!l->runs_backward)
        return;     /* nothing below it learns */
    layer_comment(o, m, l, "activation backward");
    OUT("static void %s_backward(float *din, const float *dout, const float *out, int B)\n{\n", l->name);
    OUT("    for (size_t i = 0; i < (size_t)B * %zu; i++)\n        din[i] = ", n);
    dact_call(o, l, "out[i]", "dout[i]");
    OUT(";\n}\n\n");
}

/* The gaussian latent: two linear heads and the reparameterisation. */
static void emit_gaussian(sbuf *o, const ir_model *m, const ir_layer *l)
{
    char F[16], Z[16], beta[32];
    snprintf(F, sizeof F, "%d", l->in.c);
    snprintf(Z, sizeof Z, "%d", l->out.c);
    if (l->sched[PASS_FWD].lowering != LOWER_GEMM)
        emit_linear_direct_helpers(o, m, l);
    layer_comment(o, m, l, "gaussian latent forward");
    OUT("/* mu and logvar [B][%s] = in[B][%s] x weight^T + bias; z = mu + eps * exp(logvar / 2).\n"
        " * Unless for_loss, mu alone and z = mu: only the loss's KL term and the\n"
        " * backward pass read logvar, and inference would spend half the layer on it. */\n", Z, F);
    OUT("static void latent_forward(float *z, float *mu, float *logvar, const float *eps, float *cols,\n"
        "        const float *in, const float *mu_weight, const float *mu_bias, const float *logvar_weight,\n"
        "        const float *logvar_bias, int for_loss, int B)\n{\n");
    sched_comment(o, &l->sched[PASS_FWD]);
    emit_linear_products(o, l, F, Z, (const char *const[]){ "mu", "logvar" },
                         (const char *const[]){ "mu_weight", "logvar_weight" }, 2, "for_loss");
    OUT("    for (int b = 0; b < B; b++)\n        for (int o = 0; o < %s; o++) {\n", Z);
    OUT("            const size_t i = (size_t)b * %s + o;\n", Z);
    OUT("            mu[i] += mu_bias[o];\n            if (!for_loss) {\n                z[i] = mu[i];\n"
        "                continue;\n            }\n");
    OUT("            logvar[i] += logvar_bias[o];\n");
    OUT("            z[i] = mu[i] + eps[i] * expf(0.5f * logvar[i]);\n        }\n}\n\n");

    layer_comment(o, m, l, "gaussian latent backward");
    OUT("/* With KL = -1/2 sum(1 + logvar - mu^2 - exp(logvar)) in the loss at weight beta / B:\n"
        " * d/dmu = dz + beta/B * mu; d/dlogvar = dz * eps * exp(logvar/2) / 2 + beta/B * (exp(logvar) - 1) / 2 */\n");
    OUT("static void latent_backward(float *din, float *dmu, float *dlogvar, const float *dz,\n"
        "        const float *mu, const float *logvar, const float *eps, const float *in,\n"
        "        const float *mu_weight, const float *logvar_weight, float *dmu_weight, float *dmu_bias,\n"
        "        float *dlogvar_weight, float *dlogvar_bias, int B)\n{\n");
    OUT("    const float kl = %s / (float)B;\n", flit(l->beta, beta, sizeof beta));
    OUT("    for (size_t i = 0; i < (size_t)B * %s; i++) {\n", Z);
    OUT("        dmu[i] = dz[i] + kl * mu[i];\n");
    OUT("        dlogvar[i] = 0.5f * dz[i] * eps[i] * expf(0.5f * logvar[i]) + 0.5f * kl * (expf(logvar[i]) - 1.0f);\n    }\n");
    OUT("    for (int o = 0; o < %s; o++) {\n        double sum_mu = 0.0, sum_logvar = 0.0;\n", Z);
    OUT("        for (int b = 0; b < B; b++) {\n            sum_mu += dmu[(size_t)b * %s + o];\n", Z);
    OUT("            sum_logvar += dlogvar[(size_t)b * %s + o];\n        }\n", Z);
    OUT("        dmu_bias[o] += (float)sum_mu;\n        dlogvar_bias[o] += (float)sum_logvar;\n    }\n");
    gemm(o, TR, NT, Z, F, "B", "dmu", Z, "in", F, "1.0f", "dmu_weight", F);
    gemm(o, TR, NT, Z, F, "B", "dlogvar", Z, "in", F, "1.0f", "dlogvar_weight", F);
    if (l->needs_din) {
        OUT("    /* din[B][%s] = dmu x mu_weight + dlogvar x logvar_weight */\n", F);
        gemm(o, NT, NT, "B", F, Z, "dmu", Z, "mu_weight", F, "0.0f", "din", F);
        gemm(o, NT, NT, "B", F, Z, "dlogvar", Z, "logvar_weight", F, "1.0f", "din", F);
    } else {
        OUT("    (void)din;   /* the first layer that learns: no input gradient */\n");
    }
    OUT("}\n\n");
}

static void emit_layer(sbuf *o, const ir_model *m, const ir_layer *l)
{
    switch (l->kind) {
    case IR_CONV2D:
    case IR_DECONV2D: emit_conv_layer(o, m, l); break;
    case IR_LINEAR: emit_linear(o, m, l); break;
    case IR_FLATTEN:
    case IR_UNFLATTEN: emit_reshape(o, m, l); break;
    case IR_ACT: emit_act_layer(o, m, l); break;
    case IR_GAUSSIAN: emit_gaussian(o, m, l); break;
    }
}

/* ---- the loss --------------------------------------------------------------------- */

/* The reconstruction term: its mean over B x N values, or (reduction=sum)
 * its sum over each image's N values, averaged over the B images. */
/* The profile's clock: what ran since the last lap is charged to the layer
 * (a no-op unless the runtime is profiling; see aec.h). */
static void emit_lap(sbuf *o, const char *layer, const char *pass)
{
    OUT("    aec_lap(L_%s, %s);\n", layer, pass);
}

static void emit_loss(sbuf *o, const ir_model *m)
{
    size_t n = ir_numel(m->input);
    const char *y = buf_name(m, m->layers[m->nlayers - 1].buf_out), *x = buf_name(m, m->buf_input);
    const char *dy = buf_name(m, m->layers[m->nlayers - 1].buf_dout);
    const ir_layer *g = m->gaussian >= 0 ? &m->layers[m->gaussian] : NULL;
    int bce = m->loss == LOSS_BCE, sum = m->reduce == REDUCE_SUM;
    char denom[48], beta[32];
    snprintf(denom, sizeof denom, sum ? "(double)B" : "((double)B * %zu)", n);
    source_comment(o, m, m->loss_line);
    OUT("/* %s of the output against the input, %s%s */\n", bce ? "binary cross-entropy" : "squared error",
        sum ? "summed over each image's values and averaged over the batch" : "the mean over all values",
        g ? ", plus beta * KL(q(z|x) || N(0, I)) averaged over the batch" : "");
    OUT("float %s_loss(float *arena, int B)\n{\n    aec_lap_start();\n", m->name);
    OUT("    const float *y = AT(%s), *x = AT(%s);\n    const size_t n = (size_t)B * %zu;\n", y, x, n);
    OUT("    double sum = 0.0;\n    for (size_t i = 0; i < n; i++) {\n");
    if (bce)
        OUT("        /* PyTorch clamps each log at -100 */\n"
            "        sum -= x[i] * fmaxf(logf(y[i]), -100.0f) + (1.0f - x[i]) * fmaxf(logf(1.0f - y[i]), -100.0f);\n");
    else
        OUT("        const double d = (double)y[i] - x[i];\n        sum += d * d;\n");
    OUT("    }\n");
    if (!g) {
        OUT("    const float loss = (float)(sum / %s);\n", denom);
    } else {
        OUT("    const float *mu = AT(%s), *logvar = AT(%s);\n    double kl = 0.0;\n", buf_name(m, g->buf_mu),
            buf_name(m, g->buf_logvar));
        OUT("    for (size_t i = 0; i < (size_t)B * %d; i++)\n", g->out.c);
        OUT("        kl -= 0.5 * (1.0 + logvar[i] - (double)mu[i] * mu[i] - exp(logvar[i]));\n");
        OUT("    const float loss = (float)(sum / %s + %s * kl / (double)B);\n", denom,
            flit(g->beta, beta, sizeof beta));
    }
    emit_lap(o, "loss", "AEC_FWD");
    OUT("    return loss;\n}\n\n");

    source_comment(o, m, m->loss_line);
    OUT("static void loss_backward(float *arena, int B)\n{\n");
    OUT("    const float *y = AT(%s), *x = AT(%s);\n    float *dy = AT(%s);\n", y, x, dy);
    OUT("    const size_t n = (size_t)B * %zu;\n    const float scale = (float)(1.0 / %s);\n", n, denom);
    if (bce)
        OUT("    for (size_t i = 0; i < n; i++)   /* PyTorch's eps: 1e-12 */\n"
            "        dy[i] = scale * (y[i] - x[i]) / fmaxf((1.0f - y[i]) * y[i], 1e-12f);\n");
    else
        OUT("    for (size_t i = 0; i < n; i++)\n        dy[i] = 2.0f * scale * (y[i] - x[i]);\n");
    if (g)
        OUT("    /* the KL term's gradient is added in latent_backward */\n");
    OUT("}\n\n");
}

/* ---- the model's entry points ------------------------------------------------------ */

static const char *in_buf(const ir_model *m, int i)
{
    return buf_name(m, i == 0 ? m->buf_input : m->layers[i - 1].buf_out);
}

/* The input layer i's backward pass reads: the output below it made again
 * where that is recomputed (plan.c). */
static const char *bwd_in_buf(const ir_model *m, int i)
{
    return buf_name(m, i == 0 ? m->buf_input : ir_bwd_out(&m->layers[i - 1]));
}

/* The call of layer i's forward function, writing buffer out; prepared:
 * the entry point has prepared weights to pass on (or NULL). */
static void emit_layer_forward(sbuf *o, const ir_model *m, int i, int out, int prepared)
{
    const ir_layer *l = &m->layers[i];
    OUT("    %s_forward(AT(%s), ", l->name, buf_name(m, out));
    if (l->kind == IR_CONV2D || l->kind == IR_DECONV2D || l->kind == IR_LINEAR)
        OUT("SCRATCH, ");
    OUT("AT(%s)", in_buf(m, i));
    if (l->weight >= 0)
        OUT(", params + P_%s_weight, params + P_%s_bias", l->name, l->name);
    if (l->prep >= 0 && prepared)
        OUT(", PREP(%s)", l->name);
    else if (l->prep >= 0)
        OUT(", NULL");
    OUT(", B);\n");
}

static void emit_forward_call(sbuf *o, const ir_model *m, int i)
{
    const ir_layer *l = &m->layers[i];
    if (l->kind == IR_GAUSSIAN) {
        OUT("    latent_forward(AT(%s), AT(%s), AT(%s), AT(%s), SCRATCH, AT(%s),\n", buf_name(m, l->buf_out),
            buf_name(m, l->buf_mu), buf_name(m, l->buf_logvar), buf_name(m, l->buf_eps), in_buf(m, i));
        OUT("        params + P_mu_weight, params + P_mu_bias, params + P_logvar_weight, params + P_logvar_bias, for_loss,\n"
            "        B);\n");
        emit_lap(o, l->name, "AEC_FWD");
        return;
    }
    emit_layer_forward(o, m, i, l->buf_out, 1);
    emit_lap(o, l->name, "AEC_FWD");
}

/* Layer i's output made again (schedule: recompute), at the start of the
 * next layer's backward stage: its forward pass, from its input, which is
 * kept for its weight gradient (plan.c). The time counts as its backward
 * pass's. */
static void emit_recompute(sbuf *o, const ir_model *m, int i)
{
    const ir_layer *l = &m->layers[i];
    OUT("    /* %s's output again, for %s's backward pass and its own: ", l->name, m->layers[i + 1].name);
    if (l->output_line)
        OUT("the schedule's line %d */\n", l->output_line);
    else
        OUT("aec's default for these shapes */\n");
    emit_layer_forward(o, m, i, l->buf_redo, 0);
    emit_lap(o, l->name, "AEC_BWD");
}

static void emit_backward_call(sbuf *o, const ir_model *m, int i)
{
    const ir_layer *l = &m->layers[i];
    const char *din = l->needs_din ? buf_name(m, m->layers[i - 1].buf_dout) : NULL;
    if (l->kind == IR_GAUSSIAN) {
        OUT("    latent_backward(%s%s%s, AT(%s), AT(%s), AT(%s),\n", din ? "AT(" : "NULL", din ? din : "",
            din ? ")" : "", buf_name(m, l->buf_dmu), buf_name(m, l->buf_dlogvar), buf_name(m, l->buf_dout));
        OUT("        AT(%s), AT(%s), AT(%s), AT(%s),\n", buf_name(m, l->buf_mu), buf_name(m, l->buf_logvar),
            buf_name(m, l->buf_eps), bwd_in_buf(m, i));
        OUT("        params + P_mu_weight, params + P_logvar_weight, grads + P_mu_weight, grads + P_mu_bias,\n"
            "        grads + P_logvar_weight, grads + P_logvar_bias, B);\n");
        emit_lap(o, l->name, "AEC_BWD");
        return;
    }
    OUT("    %s_backward(", l->name);
    if (din)
        OUT("AT(%s), ", din);
    else
        OUT("NULL, ");
    if (l->kind == IR_CONV2D || l->kind == IR_DECONV2D)
        OUT("SCRATCH, ");
    OUT("AT(%s)", buf_name(m, l->buf_dout));
    if (l->kind == IR_FLATTEN || l->kind == IR_UNFLATTEN) {
        OUT(", B);\n");
        emit_lap(o, l->name, "AEC_BWD");
        return;
    }
    if (l->act == ACT_NONE)     /* no activation to differentiate: its output is not kept (plan.c) */
        OUT(", NULL");
    else
        OUT(", AT(%s)", buf_name(m, ir_bwd_out(l)));
    if (l->kind != IR_ACT)
        OUT(", AT(%s)", bwd_in_buf(m, i));
    if (l->weight >= 0)
        OUT(",\n        params + P_%s_weight, grads + P_%s_weight, grads + P_%s_bias", l->name, l->name, l->name);
    OUT(", B);\n");
    emit_lap(o, l->name, "AEC_BWD");
}

/* Whether any of layers lo .. hi-1 reads prepared weights. */
static int any_prepared(const ir_model *m, int lo, int hi)
{
    for (int i = lo; i < hi; i++)
        if (m->layers[i].prep >= 0)
            return 1;
    return 0;
}

/* MODEL_prepare: every prepared forward pass's weights, packed (plan.c). */
static void emit_prepare(sbuf *o, const ir_model *m)
{
    source_comment(o, m, m->model_line);
    OUT("/* Inference's prepared weights: the packed weights of each direct and\n"
        " * winograd convolution and the panels of each gemm linear layer, made\n"
        " * once into prep (PREP_TOTAL floats) for encode and decode to read,\n"
        " * instead of on every call. */\n");
    OUT("void %s_prepare(const float *params, float *prep)\n{\n", m->name);
    if (!any_prepared(m, 0, m->nlayers))
        OUT("    (void)params, (void)prep;   /* no forward pass here reads prepared weights */\n");
    for (int i = 0; i < m->nlayers; i++) {
        const ir_layer *l = &m->layers[i];
        if (l->prep < 0)
            continue;
        int wino = l->sched[PASS_FWD].lowering == LOWER_WINOGRAD;
        OUT("    %s_%s(prep + PREP_%s, params + P_%s_weight);\n", l->name, wino ? "wino_pack" : "pack", l->name,
            l->name);
    }
    OUT("}\n\n");
}

/* The signature of encode or decode, over layers lo .. hi-1. */
static void entry_signature(sbuf *o, const ir_model *m, const char *what, int lo, int hi)
{
    OUT("void %s_%s(const float *params, const float *prep, float *arena, int B%s)\n{\n    aec_lap_start();\n",
        m->name, what, lo == 0 ? ", int for_loss" : "");
    if (!any_prepared(m, lo, hi))
        OUT("    (void)prep;   /* no forward pass here reads prepared weights */\n");
}

static void emit_entry_points(sbuf *o, const ir_model *m)
{
    emit_prepare(o, m);
    source_comment(o, m, m->encoder_line);
    OUT("/* input -> latent (%s); prep: MODEL_prepare's, or NULL; for_loss: also\n"
        " * what only the loss and backward read */\n", buf_name(m, m->layers[m->n_encoder - 1].buf_out));
    entry_signature(o, m, "encode", 0, m->n_encoder);
    if (m->gaussian < 0)
        OUT("    (void)for_loss;   /* no gaussian latent: the loss reads nothing encode may leave out */\n");
    for (int i = 0; i < m->n_encoder; i++)
        emit_forward_call(o, m, i);
    OUT("}\n\n");
    source_comment(o, m, m->decoder_line);
    OUT("/* latent -> output (%s); prep: MODEL_prepare's, or NULL */\n",
        buf_name(m, m->layers[m->nlayers - 1].buf_out));
    entry_signature(o, m, "decode", m->n_encoder, m->nlayers);
    for (int i = m->n_encoder; i < m->nlayers; i++)
        emit_forward_call(o, m, i);
    OUT("}\n\n");
    source_comment(o, m, m->model_line);
    OUT("/* After encode, decode and loss: grads += d loss / d params, last layer first. */\n");
    OUT("void %s_backward(const float *params, float *grads, float *arena, int B)\n{\n", m->name);
    OUT("    aec_lap_start();\n    loss_backward(arena, B);\n");
    emit_lap(o, "loss", "AEC_BWD");
    for (int i = m->nlayers - 1; i >= 0; i--) {
        if (i > 0 && m->layers[i - 1].recompute)
            emit_recompute(o, m, i - 1);
        if (m->layers[i].runs_backward)
            emit_backward_call(o, m, i);
    }
    OUT("}\n\n");
}

/* ---- tables: parameters, arena, descriptor ---------------------------------------- */

static void emit_enums(sbuf *o, const ir_model *m)
{
    OUT("/* Parameters (and their gradients): offsets into one float array. */\nenum {\n");
    for (int i = 0; i < m->nparams; i++) {
        const ir_param *p = &m->params[i];
        char id[96];
        snprintf(id, sizeof id, "P_%s", p->name);
        *strchr(id, '.') = '_';
        OUT("    %-28s = %zu,\n", id, p->offset);
    }
    OUT("    %-28s = %zu\n};\n\n", "P_TOTAL", m->n_param_floats);
    OUT("/* The arena, in floats per image: a buffer starts at arena + B * offset.\n"
        " * Buffers alive at different stages of a step share memory. */\nenum {\n");
    for (int i = 0; i < m->nbufs; i++) {
        char id[96];
        snprintf(id, sizeof id, "A_%s", m->bufs[i].name);
        OUT("    %-28s = %zu,   /* %zu floats, stages %d-%d */\n", id, m->bufs[i].offset, m->bufs[i].size,
            m->bufs[i].first, m->bufs[i].last);
    }
    OUT("    %-28s = %zu\n};\n#define AT(buf) (arena + (size_t)B * A_##buf)\n", "A_TOTAL", m->arena_per_image);
    OUT("/* The convolutions' im2col columns and direct planes: scratch of one pass\n"
        " * each, after the arena. */\n"
        "#define SCRATCH (arena + (size_t)B * A_TOTAL)\n\n");
    OUT("/* Inference's prepared weights (MODEL_prepare), in floats: a layer's start\n"
        " * at prep + PREP_layer, NULL where there are none (training). */\nenum {\n");
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].prep >= 0) {
            char id[96];
            snprintf(id, sizeof id, "PREP_%s", m->layers[i].name);
            OUT("    %-28s = %ld,\n", id, m->layers[i].prep);
        }
    OUT("    %-28s = %zu\n};\n#define PREP(layer) (prep ? prep + PREP_##layer : NULL)\n\n", "PREP_TOTAL",
        m->prep_floats);
    OUT("/* Layers, in the order of the .ae file: rows of the layer table and the profile. */\nenum {\n");
    for (int i = 0; i < m->nlayers; i++)
        OUT("    L_%s,\n", m->layers[i].name);
    OUT("    L_loss\n};\n\n");
}

static void emit_c_string(sbuf *o, const char *s)
{
    OUT("    \"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n' && s[1])
            OUT("\\n\"\n    \"");
        else if (c == '\n')
            OUT("\\n");
        else if (c == '"' || c == '\\')
            OUT("\\%c", c);
        else if (c >= 32 && c < 127)
            OUT("%c", c);
        else
            OUT("\\%03o", c);
    }
    OUT("\"");
}

static int param_count(const ir_layer *l)
{
    return l->weight < 0 ? 0 : l->kind == IR_GAUSSIAN ? 4 : 2;
}

/* Each layer's name, line, output and parameters, for the profile and for
 * naming the layer where a NaN first shows. An output is "live at the loss"
 * when nothing has reused its memory by the time the loss is computed. */
static void emit_layer_infos(sbuf *o, const ir_model *m)
{
    OUT("static const aec_layer layer_infos[] = {\n");
    for (int i = 0; i < m->nlayers; i++) {
        const ir_layer *l = &m->layers[i];
        const ir_buf *b = &m->bufs[l->buf_out];
        OUT("    {\"%s\", %d, A_%s, %zu, %d, %d, %d},\n", l->name, l->line, b->name, ir_numel(l->out),
            b->last >= m->nlayers + 1, l->weight, param_count(l));
    }
    OUT("};\n\n");
}

static void emit_descriptor(sbuf *o, const ir_model *m)
{
    OUT("static const aec_param param_table[] = {\n");
    for (int i = 0; i < m->nparams; i++) {
        const ir_param *p = &m->params[i];
        OUT("    {\"%s\", %d, {%d, %d, %d, %d}, %zu, %zu, %d},\n", p->name, p->ndim, p->shape[0],
            p->ndim > 1 ? p->shape[1] : 0, p->ndim > 2 ? p->shape[2] : 0, p->ndim > 3 ? p->shape[3] : 0,
            p->offset, p->numel, p->fan_in);
    }
    OUT("};\n\n");
    emit_layer_infos(o, m);
    OUT("static const char source_text[] =\n");
    emit_c_string(o, m->source);
    OUT(";\n\n/* the table `aec check` prints, for reports */\nstatic const char layer_table[] =\n");
    char *table = NULL;
    size_t table_len = 0;
    FILE *t = open_memstream(&table, &table_len);
    if (t) {
        print_layer_table(t, m);
        fclose(t);
    }
    emit_c_string(o, table ? table : "");
    free(table);
    OUT(";\n\n");
    const ir_layer *lat = &m->layers[m->n_encoder - 1];
    const ir_optim *op = &m->optim;
    OUT("const aec_model %s_model = {\n", m->name);
    OUT("    .name = \"%s\",\n    .source = source_text,\n    .layer_table = layer_table,\n", m->name);
    char f[7][32];
    OUT("    .in_c = %d, .in_h = %d, .in_w = %d, .in_lo = %s, .in_hi = %s,\n", m->input.c, m->input.h,
        m->input.w, flit(m->lo, f[0], 32), flit(m->hi, f[1], 32));
    OUT("    .out_c = %d, .out_h = %d, .out_w = %d,\n", m->input.c, m->input.h, m->input.w);
    OUT("    .latent = %zu, .latent_is_image = %d, .lat_c = %d, .lat_hw = %d,\n", ir_numel(lat->out),
        !lat->out.flat, lat->out.c, lat->out.h * lat->out.w);
    OUT("    .loss = %s,\n", m->loss == LOSS_BCE ? "AEC_LOSS_BCE" : "AEC_LOSS_MSE");
    OUT("    .defaults = {{%s, %s, %s, %s, %s, %s, %s}, %d, %d, %lluu},\n",
        op->kind == OPT_ADAM ? "AEC_OPT_ADAM" : "AEC_OPT_SGD", flit(op->lr, f[0], 32), flit(op->beta1, f[1], 32),
        flit(op->beta2, f[2], 32), flit(op->eps, f[3], 32), flit(op->weight_decay, f[4], 32),
        flit(op->momentum, f[5], 32), m->batch, m->epochs, (unsigned long long)m->seed);
    double flops = 0;
    for (int i = 0; i < m->nlayers; i++)
        flops += ir_layer_flops(&m->layers[i]);
    OUT("    .forward_flops = %.0f,\n", flops);
    OUT("    .n_params = P_TOTAL, .n_tensors = %d, .params = param_table,\n", m->nparams);
    OUT("    .n_layers = %d, .layers = layer_infos,\n", m->nlayers);
    OUT("    .arena_per_image = A_TOTAL, .input_offset = A_%s,\n", buf_name(m, m->buf_input));
    OUT("    .scratch_per_image = %zu, .scratch_fixed = %zu,\n", m->scratch_per_image, m->scratch_fixed);
    OUT("    .latent_offset = A_%s, .decode_offset = A_%s, .output_offset = A_%s,\n",
        buf_name(m, lat->kind == IR_GAUSSIAN ? lat->buf_mu : lat->buf_out), buf_name(m, lat->buf_out),
        buf_name(m, m->layers[m->nlayers - 1].buf_out));
    if (lat->kind == IR_GAUSSIAN)
        OUT("    .variational = 1, .eps_offset = A_%s, .kl_beta = %s,\n", buf_name(m, lat->buf_eps),
            flit(lat->beta, f[6], 32));
    if (m->workers_line)
        OUT("    /* schedule: split(workers=%d), from line %d of the .ae file */\n", m->workers, m->workers_line);
    else
        OUT("    /* schedule: split(workers=%d), aec's default (0: one slice per core) */\n", m->workers);
    OUT("    .workers = %d,\n", m->workers);
    OUT("    .prep_floats = PREP_TOTAL, .prepare = %s_prepare,\n", m->name);
    OUT("    .encode = %s_encode, .decode = %s_decode,\n", m->name, m->name);
    OUT("    .loss_fn = %s_loss, .backward = %s_backward,\n};\n\n", m->name, m->name);
    OUT("#ifndef AEC_NO_MAIN\nint main(int argc, char **argv)\n{\n    aec_setup_libraries(argv);\n    return aec_main(argc, argv, &%s_model);\n}\n#endif\n",
        m->name);
}

/* ---- the two files ------------------------------------------------------------------- */

static void emit_header(sbuf *o, const ir_model *m)
{
    OUT("/* %s.h: generated by aec from %s. Edit the .ae file, not this. */\n", m->name, m->path);
    OUT("#ifndef AEC_MODEL_%s_H\n#define AEC_MODEL_%s_H\n#include \"aec.h\"\n\n", m->name, m->name);
    OUT("/* The descriptor the runtime trains and runs the model through. */\n");
    OUT("extern const aec_model %s_model;\n\n", m->name);
    OUT("/* One training step: encode, decode, loss, backward. Buffers live in an\n"
        " * arena of B * %s_model.arena_per_image floats; see aec.h. */\n", m->name);
    OUT("void  %s_prepare(const float *params, float *prep);\n", m->name);
    OUT("void  %s_encode(const float *params, const float *prep, float *arena, int B, int for_loss);\n", m->name);
    OUT("void  %s_decode(const float *params, const float *prep, float *arena, int B);\n", m->name);
    OUT("float %s_loss(float *arena, int B);\n", m->name);
    OUT("void  %s_backward(const float *params, float *grads, float *arena, int B);\n\n#endif\n", m->name);
}

static void emit_source(sbuf *o, const ir_model *m)
{
    OUT("/* %s.c: generated by aec from %s. Edit the .ae file, not this.\n *\n", m->name, m->path);
    OUT(" * B = images in the batch, the one extent known only at run time; every\n"
        " * other extent is a literal. Image tensors in the arena are CBHW (channel,\n"
        " * batch, row, column) so that a convolution over the batch is one GEMM;\n"
        " * flat tensors are [B][F]. Backward functions ADD into weight gradients.\n */\n");
    OUT("#include <math.h>\n#include <stddef.h>\n#include <string.h>\n#include <cblas.h>\n#include \"%s.h\"\n\n",
        m->name);
    OUT("/* 16 floats: one AVX-512 register (or two AVX, four SSE), for the direct\n"
        " * kernels; the u type loads and stores at any float's address. */\n"
        "typedef float aec_v16 __attribute__((vector_size(64)));\n"
        "typedef float aec_v16u __attribute__((vector_size(64), aligned(4)));\n"
        "/* Their sums are fused multiply-adds: ISO C mode (-std=c11) turns off\n"
        " * GCC's contraction of a * b + c, and FMA does both in one instruction. */\n"
        "#if defined(__GNUC__) && !defined(__clang__)\n"
        "#define AEC_FUSED __attribute__((optimize(\"fp-contract=fast\")))\n"
        "#else\n#define AEC_FUSED\n#endif\n\n");
    emit_enums(o, m);
    emit_act_helpers(o, m);
    for (int i = 0; i < m->nlayers; i++)
        if (lower_dweight_direct(&m->layers[i])) {
            emit_transpose16(o);
            break;
        }
    for (int i = 0; i < m->nlayers; i++)
        emit_layer(o, m, &m->layers[i]);
    emit_loss(o, m);
    emit_entry_points(o, m);
    emit_descriptor(o, m);
}

void emit_model(const ir_model *m, char **c_text, char **h_text)
{
    sbuf c = {0}, h = {0};
    emit_source(&c, m);
    emit_header(&h, m);
    *c_text = c.s;
    *h_text = h.s;
}
