/* emit/gemm.c: the gemm lowering of conv2d and deconv2d: im2col and col2im
 * and the cblas_sgemm products around them, in tiles of the batch. */
#include <stdio.h>
#include "emit/internal.h"

/* The rows i of the GH x GW grid whose window row kh lies inside the
 * image, as two literal tables: i0[kh] <= i < i1[kh]; the same for columns.
 * With them the direct loops need no bounds test. */
static void emit_ranges(sbuf *o, window g)
{
    const char *names[2][2] = { { "i0", "i1" }, { "j0", "j1" } };
    for (int axis = 0; axis < 2; axis++) {
        for (int end = 0; end < 2; end++) {
            put(o, "%s%s[%d] = {", end ? ", " : "    static const int ", names[axis][end], g.K);
            for (int k = 0; k < g.K; k++) {
                int lo, hi;
                window_range(g, axis, k, &lo, &hi);
                put(o, "%s%d", k ? ", " : "", end ? hi : lo);
            }
            put(o, "}");
        }
        put(o, ";\n");
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
    put(o, "    const size_t n = (size_t)nb * %d;\n", g.GH * g.GW);
    put(o, "    for (int c = 0; c < %d; c++)\n", g.C);
    put(o, "        for (int kh = 0; kh < %d; kh++)\n", g.K);
    put(o, "#pragma GCC unroll %d\n", g.K);
    put(o, "            for (int kw = 0; kw < %d; kw++) {\n", g.K);
    put(o, "                %s *row = cols + ((size_t)(c * %d + kh) * %d + kw) * n;\n", col_t, g.K, g.K);
    put(o, "                for (int b = 0; b < nb; b++) {\n");
    put(o, "                    %s *im = img + ((size_t)c * B + b0 + b) * %d;\n", img_t, g.H * g.W);
    put(o, "                    %s *col = row + (size_t)b * %d;\n", col_t, g.GH * g.GW);
    put(o, "                    for (int gh = 0; gh < %d; gh++) {\n", g.GH);
    put(o, "                        %s *cr = col + gh * %d;\n", col_t, g.GW);
    put(o, "                        const int base = (gh * %d - %d + kh) * %d - %d + kw;\n", g.S, g.P, g.W, g.P);
    if (scatter) {
        put(o, "                        if (gh < i0[kh] || gh >= i1[kh])\n                            continue;\n");
    } else {
        put(o, "                        if (gh < i0[kh] || gh >= i1[kh]) {\n");
        put(o, "                            memset(cr, 0, sizeof(float) * %d);\n", g.GW);
        put(o, "                            continue;\n                        }\n");
        put(o, "                        for (int gw = 0; gw < j0[kw]; gw++)\n                            cr[gw] = 0.0f;\n");
    }
    if (unroll)
        put(o, "#pragma GCC unroll %d\n", unroll);
    put(o, "                        for (int gw = j0[kw]; gw < j1[kw]; gw++)\n");
    if (scatter)
        put(o, "                            im[base + gw * %d] += cr[gw];\n", g.S);
    else
        put(o, "                            cr[gw] = im[base + gw * %d];\n", g.S);
    if (!scatter)
        put(o, "                        for (int gw = j1[kw]; gw < %d; gw++)\n                            cr[gw] = 0.0f;\n",
            g.GW);
    put(o, "                    }\n                }\n            }\n");
}

void emit_im2col(sbuf *o, const ir_model *m, const ir_layer *l, int unroll)
{
    window g = conv_window(l);
    sbuf t = {0}, *out = o;
    o = &t;
    put(o, "/* cols[%d][nb*%d] <- windows of images b0 .. b0+nb-1 of img[%d][B][%d][%d]:\n"
        " * kernel %d, stride %d, pad %d */\n",
        g.C * g.K * g.K, g.GH * g.GW, g.C, g.H, g.W, g.K, g.S, g.P);
    put(o, "static void %s_im2col(float *restrict cols, const float *restrict img, int B, int b0, int nb)\n{\n",
        l->name);
    emit_window_loops(o, g, 0, unroll);
    put(o, "}\n\n");
    char stem[128], name[96];
    snprintf(stem, sizeof stem, "%s_im2col", l->name);
    snprintf(name, sizeof name, "im2col_%dx%dx%d_k%d_s%d_p%d", g.C, g.H, g.W, g.K, g.S, g.P);
    kernel_close(out, &t, l, "", stem, NULL, name);
}

void emit_col2im(sbuf *o, const ir_model *m, const ir_layer *l, int unroll)
{
    window g = conv_window(l);
    source_comment(o, m, l->line);
    put(o, "/* images b0 .. b0+nb-1 of img[%d][B][%d][%d] = the sum of the windows in\n"
        " * cols[%d][nb*%d] (im2col's transpose) */\n", g.C, g.H, g.W, g.C * g.K * g.K, g.GH * g.GW);
    put(o, "static void %s_col2im(float *restrict img, const float *restrict cols, int B, int b0, int nb)\n{\n",
        l->name);
    put(o, "    for (int c = 0; c < %d; c++)\n", g.C);
    put(o, "        memset(img + ((size_t)c * B + b0) * %d, 0, sizeof(float) * (size_t)nb * %d);\n",
        g.H * g.W, g.H * g.W);
    emit_window_loops(o, g, 1, unroll);
    put(o, "}\n\n");
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
static void conv2d_gemm_forward(sbuf *o, const char *ind, const ir_layer *l, const conv_gemm *c)
{
    char im2col[64];
    put(o, "%s%s(cols, in, B, b0, nb);\n", ind, kernel_ref(im2col, sizeof im2col, l->name, "_im2col"));
    put(o, "%s/* out[%s][b0*%d ...] = weight[%s][%s] x cols[%s][nb*%d] */\n", ind, c->OC, c->ghw, c->OC, c->CKK,
        c->CKK, c->ghw);
    gemm(o, ind, NT, NT, c->OC, c->t.n, c->CKK, "weight", c->CKK, "cols", c->t.n, "0.0f", c->t.out, c->N);
}

/* deconv2d forward: columns = weight^T x in, summed into the image */
static void deconv2d_gemm_forward(sbuf *o, const char *ind, const ir_layer *l, const conv_gemm *c)
{
    put(o, "%s/* cols[%s][nb*%d] = weight^T[%s][%s] x in[%s][b0*%d ...], scattered into out */\n",
        ind, c->CKK, c->ghw, c->CKK, c->IC, c->IC, c->ghw);
    gemm(o, ind, TR, NT, c->CKK, c->t.n, c->IC, "weight", c->CKK, c->t.in, c->N, "0.0f", "cols", c->t.n);
    put(o, "%s%s_col2im(out, cols, B, b0, nb);\n", ind, l->name);
}

/* dweight[G][C x K x K] += grid side x the columns of the image side, made
 * in dcols: conv2d's dout with its input's columns, deconv2d's input with
 * its dout's (both store weights [grid][image][K][K]). */
static void dweight_product(sbuf *o, const char *ind, const ir_layer *l, const conv_gemm *c, const char *grid,
                            const char *G, const char *image)
{
    char im2col[64];
    put(o, "%s%s(dcols, %s, B, b0, nb);\n", ind, kernel_ref(im2col, sizeof im2col, l->name, "_im2col"), image);
    put(o, "%s/* dweight[%s][%s] += %s[%s][b0*%d ...] x dcols^T */\n", ind, G, c->CKK, grid, G, c->ghw);
    char at[48];
    snprintf(at, sizeof at, "%s + (size_t)b0 * %d", grid, c->ghw);
    gemm(o, ind, NT, TR, G, c->CKK, c->t.n, at, c->N, "dcols", c->t.n, "1.0f", "dweight", c->CKK);
}

static void conv2d_gemm_backward(sbuf *o, const char *ind, const ir_layer *l, const conv_gemm *c)
{
    /* the forward pass's columns were scratch: make them again, in dcols */
    dweight_product(o, ind, l, c, "dout", c->OC, "in");
    if (c->din) {
        put(o, "%s/* dcols[%s][nb*%d] = weight^T x dout, then back to the image */\n", ind, c->CKK, c->ghw);
        gemm(o, ind, TR, NT, c->CKK, c->t.n, c->OC, "weight", c->CKK, c->t.dout, c->N, "0.0f", "dcols", c->t.n);
        put(o, "%s%s_col2im(din, dcols, B, b0, nb);\n", ind, l->name);
    }
}

static void deconv2d_gemm_backward(sbuf *o, const char *ind, const ir_layer *l, const conv_gemm *c)
{
    dweight_product(o, ind, l, c, "in", c->IC, "dout");
    if (c->din) {
        put(o, "%s/* din[%s][b0*%d ...] = weight[%s][%s] x dcols */\n", ind, c->IC, c->ghw, c->IC, c->CKK);
        gemm(o, ind, NT, NT, c->IC, c->t.n, c->CKK, "weight", c->CKK, "dcols", c->t.n, "0.0f", c->t.din, c->N);
    }
}

/* A pass's body under gemm lowering: the products, in tiles of the batch. */
static void emit_gemm_pass(sbuf *o, const ir_layer *l, const ir_sched *s, const conv_gemm *c,
                           void (*products)(sbuf *, const char *, const ir_layer *, const conv_gemm *))
{
    blas_threads(o, s);
    const char *ind = tile_open(o, s);
    products(o, ind, l, c);
    tile_close(o, s);
}

/* A conv2d or deconv2d pass under gemm lowering: the forward pass, or the
 * backward pass, with the input gradient too where din. */
void emit_conv_gemm_pass(sbuf *o, const ir_layer *l, int pass, int din)
{
    int conv = l->kind == IR_CONV2D;
    conv_gemm c = conv_gemm_of(l, conv_window(l));
    c.din = din;
    if (pass == PASS_FWD)
        emit_gemm_pass(o, l, &l->sched[pass], &c, conv ? conv2d_gemm_forward : deconv2d_gemm_forward);
    else
        emit_gemm_pass(o, l, &l->sched[pass], &c, conv ? conv2d_gemm_backward : deconv2d_gemm_backward);
}
