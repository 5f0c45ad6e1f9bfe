/* emit.c: write the generated C for a planned model: MODEL.h and MODEL.c.
 *
 * Every .ae layer becomes NAME_forward and NAME_backward (plus NAME_im2col
 * or NAME_col2im where a convolution needs them), each under a comment that
 * quotes its .ae line. All per-image extents are literals; B, the batch, is
 * the one run-time extent. The output depends only on the .ae text and the
 * file's base name, so the same .ae always gives the same bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "emit.h"
#include "ir.h"
#include "table.h"
#include "util.h"

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
    case ACT_TANH: OUT("tanhf(%s)", v); break;
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

static void emit_act_helpers(sbuf *o, const ir_model *m)
{
    int used[5] = {0};
    for (int i = 0; i < m->nlayers; i++)
        used[m->layers[i].act] = 1;
    if (used[ACT_RELU])
        OUT("static inline float relu(float v) { return v > 0.0f ? v : 0.0f; }\n");
    if (used[ACT_LEAKY_RELU])
        OUT("static inline float leaky_relu(float v, float slope) { return v > 0.0f ? v : slope * v; }\n");
    if (used[ACT_SIGMOID])
        OUT("static inline float sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }\n");
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

/* When no window position reaches outside the image, skip the bounds test. */
static int window_inside(window g)
{
    return g.P == 0 && (g.GH - 1) * g.S + g.K <= g.H && (g.GW - 1) * g.S + g.K <= g.W;
}

/* The loops over every (c, kh, kw) row and (b, gh, gw) column. scatter = 0
 * gathers image values into cols (im2col); scatter = 1 adds cols back into
 * the image (col2im). */
static void emit_window_loops(sbuf *o, window g, int scatter)
{
    const char *img_t = scatter ? "float" : "const float", *col_t = scatter ? "const float" : "float";
    OUT("    const size_t n = (size_t)B * %d;\n", g.GH * g.GW);
    OUT("    for (int c = 0; c < %d; c++)\n", g.C);
    OUT("        for (int kh = 0; kh < %d; kh++)\n", g.K);
    OUT("#pragma GCC unroll %d\n", g.K);
    OUT("            for (int kw = 0; kw < %d; kw++) {\n", g.K);
    OUT("                %s *row = cols + ((size_t)(c * %d + kh) * %d + kw) * n;\n", col_t, g.K, g.K);
    OUT("                for (int b = 0; b < B; b++) {\n");
    OUT("                    %s *im = img + ((size_t)c * B + b) * %d;\n", img_t, g.H * g.W);
    OUT("                    %s *col = row + (size_t)b * %d;\n", col_t, g.GH * g.GW);
    OUT("                    for (int gh = 0; gh < %d; gh++) {\n", g.GH);
    OUT("                        const int ih = gh * %d - %d + kh;\n", g.S, g.P);
    OUT("                        for (int gw = 0; gw < %d; gw++) {\n", g.GW);
    OUT("                            const int iw = gw * %d - %d + kw;\n", g.S, g.P);
    const char *pad = "                            ";
    if (!window_inside(g)) {
        OUT("%sif (ih >= 0 && ih < %d && iw >= 0 && iw < %d)\n", pad, g.H, g.W);
        pad = "                                ";
    }
    if (scatter)
        OUT("%sim[ih * %d + iw] += col[gh * %d + gw];\n", pad, g.W, g.GW);
    else
        OUT("%scol[gh * %d + gw] = im[ih * %d + iw];\n", pad, g.GW, g.W);
    if (!scatter && !window_inside(g))
        OUT("                            else\n                                col[gh * %d + gw] = 0.0f;\n", g.GW);
    OUT("                        }\n                    }\n                }\n            }\n");
}

static void emit_im2col(sbuf *o, const ir_model *m, const ir_layer *l)
{
    window g = conv_window(l);
    source_comment(o, m, l->line);
    OUT("/* cols[%d][B*%d] <- windows of img[%d][B][%d][%d]: kernel %d, stride %d, pad %d */\n",
        g.C * g.K * g.K, g.GH * g.GW, g.C, g.H, g.W, g.K, g.S, g.P);
    OUT("static void %s_im2col(float *restrict cols, const float *restrict img, int B)\n{\n", l->name);
    emit_window_loops(o, g, 0);
    OUT("}\n\n");
}

static void emit_col2im(sbuf *o, const ir_model *m, const ir_layer *l)
{
    window g = conv_window(l);
    source_comment(o, m, l->line);
    OUT("/* img[%d][B][%d][%d] = the sum of the windows in cols[%d][B*%d] (im2col's transpose) */\n",
        g.C, g.H, g.W, g.C * g.K * g.K, g.GH * g.GW);
    OUT("static void %s_col2im(float *restrict img, const float *restrict cols, int B)\n{\n", l->name);
    OUT("    memset(img, 0, sizeof(float) * (size_t)B * %zu);\n", (size_t)g.C * g.H * g.W);
    emit_window_loops(o, g, 1);
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

/* dout <- dout * act'(out) in place, and dbias[o] += its sum over B and pixels. */
static void emit_dbias(sbuf *o, const ir_layer *l)
{
    int C = l->out.c, HW = l->out.h * l->out.w;
    if (l->act == ACT_NONE)
        OUT("    (void)out;   /* no activation: the gradient passes unchanged */\n");
    OUT("    for (int o = 0; o < %d; o++) {\n        double sum = 0.0;\n", C);
    if (l->out.flat)
        OUT("        for (int b = 0; b < B; b++) {\n            const size_t i = (size_t)b * %d + o;\n", C);
    else
        OUT("        for (size_t i = (size_t)o * B * %d; i < (size_t)(o + 1) * B * %d; i++) {\n", HW, HW);
    OUT("            dout[i] = ");
    dact_call(o, l, "out[i]", "dout[i]");
    OUT(";\n            sum += dout[i];\n        }\n        dbias[o] += (float)sum;\n    }\n");
}

/* ---- one function pair per layer kind ------------------------------------------ */

static void gemm(sbuf *o, const char *ta, const char *tb, const char *M, const char *N, const char *K,
                 const char *A, const char *lda, const char *Bm, const char *ldb, const char *beta,
                 const char *C, const char *ldc)
{
    OUT("    cblas_sgemm(CblasRowMajor, %s, %s, %s, %s, %s,\n", ta, tb, M, N, K);
    OUT("                1.0f, %s, %s, %s, %s, %s, %s, %s);\n", A, lda, Bm, ldb, beta, C, ldc);
}

#define NT "CblasNoTrans"
#define TR "CblasTrans"

static void emit_conv2d(sbuf *o, const ir_model *m, const ir_layer *l)
{
    window g = conv_window(l);
    char OC[16], CKK[16], N[32];
    snprintf(OC, sizeof OC, "%d", l->out.c);
    snprintf(CKK, sizeof CKK, "%d", g.C * g.K * g.K);
    snprintf(N, sizeof N, "B * %d", g.GH * g.GW);
    emit_im2col(o, m, l);
    if (l->needs_din)
        emit_col2im(o, m, l);

    layer_comment(o, m, l, "conv2d forward");
    OUT("static void %s_forward(float *out, float *cols, const float *in,\n"
        "        const float *weight, const float *bias, int B)\n{\n", l->name);
    OUT("    %s_im2col(cols, in, B);\n    /* out[%s][B*%d] = weight[%s][%s] x cols[%s][B*%d] */\n",
        l->name, OC, g.GH * g.GW, OC, CKK, CKK, g.GH * g.GW);
    gemm(o, NT, NT, OC, N, CKK, "weight", CKK, "cols", N, "0.0f", "out", N);
    emit_bias_act(o, l);
    OUT("}\n\n");

    layer_comment(o, m, l, "conv2d backward");
    OUT("static void %s_backward(float *din, float *dcols, float *dout, const float *out,\n"
        "        const float *cols, const float *weight, float *dweight, float *dbias, int B)\n{\n", l->name);
    emit_dbias(o, l);
    OUT("    /* dweight[%s][%s] += dout[%s][B*%d] x cols^T */\n", OC, CKK, OC, g.GH * g.GW);
    gemm(o, NT, TR, OC, CKK, N, "dout", N, "cols", N, "1.0f", "dweight", CKK);
    if (l->needs_din) {
        OUT("    /* dcols[%s][B*%d] = weight^T x dout, then back to the image */\n", CKK, g.GH * g.GW);
        gemm(o, TR, NT, CKK, N, OC, "weight", CKK, "dout", N, "0.0f", "dcols", N);
        OUT("    %s_col2im(din, dcols, B);\n", l->name);
    } else {
        OUT("    (void)din, (void)dcols, (void)weight;   /* the first layer that learns: no input gradient */\n");
    }
    OUT("}\n\n");
}

static void emit_deconv2d(sbuf *o, const ir_model *m, const ir_layer *l)
{
    window g = conv_window(l);
    char IC[16], OKK[16], N[32];
    snprintf(IC, sizeof IC, "%d", l->in.c);
    snprintf(OKK, sizeof OKK, "%d", g.C * g.K * g.K);
    snprintf(N, sizeof N, "B * %d", g.GH * g.GW);
    emit_im2col(o, m, l);
    emit_col2im(o, m, l);

    layer_comment(o, m, l, "deconv2d forward");
    OUT("static void %s_forward(float *out, float *cols, const float *in,\n"
        "        const float *weight, const float *bias, int B)\n{\n", l->name);
    OUT("    /* cols[%s][B*%d] = weight^T[%s][%s] x in[%s][B*%d], scattered into out */\n",
        OKK, g.GH * g.GW, OKK, IC, IC, g.GH * g.GW);
    gemm(o, TR, NT, OKK, N, IC, "weight", OKK, "in", N, "0.0f", "cols", N);
    OUT("    %s_col2im(out, cols, B);\n", l->name);
    emit_bias_act(o, l);
    OUT("}\n\n");

    layer_comment(o, m, l, "deconv2d backward");
    OUT("static void %s_backward(float *din, float *dcols, float *dout, const float *out,\n"
        "        const float *in, const float *weight, float *dweight, float *dbias, int B)\n{\n", l->name);
    emit_dbias(o, l);
    OUT("    %s_im2col(dcols, dout, B);\n", l->name);
    OUT("    /* dweight[%s][%s] += in[%s][B*%d] x dcols^T */\n", IC, OKK, IC, g.GH * g.GW);
    gemm(o, NT, TR, IC, OKK, N, "in", N, "dcols", N, "1.0f", "dweight", OKK);
    if (l->needs_din) {
        OUT("    /* din[%s][B*%d] = weight[%s][%s] x dcols */\n", IC, g.GH * g.GW, IC, OKK);
        gemm(o, NT, NT, IC, N, OKK, "weight", OKK, "dcols", N, "0.0f", "din", N);
    } else {
        OUT("    (void)din, (void)weight;   /* the first layer that learns: no input gradient */\n");
    }
    OUT("}\n\n");
}

static void emit_linear(sbuf *o, const ir_model *m, const ir_layer *l)
{
    char F[16], O[16];
    snprintf(F, sizeof F, "%d", l->in.c);
    snprintf(O, sizeof O, "%d", l->out.c);
    layer_comment(o, m, l, "linear forward");
    OUT("static void %s_forward(float *out, const float *in, const float *weight, const float *bias, int B)\n{\n",
        l->name);
    OUT("    /* out[B][%s] = in[B][%s] x weight^T[%s][%s] */\n", O, F, F, O);
    gemm(o, NT, TR, "B", O, F, "in", F, "weight", F, "0.0f", "out", O);
    emit_bias_act(o, l);
    OUT("}\n\n");

    layer_comment(o, m, l, "linear backward");
    OUT("static void %s_backward(float *din, float *dout, const float *out, const float *in,\n"
        "        const float *weight, float *dweight, float *dbias, int B)\n{\n", l->name);
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
    layer_comment(o, m, l, "gaussian latent forward");
    OUT("/* mu and logvar [B][%s] = in[B][%s] x weight^T + bias; z = mu + eps * exp(logvar / 2) */\n", Z, F);
    OUT("static void latent_forward(float *z, float *mu, float *logvar, const float *eps, const float *in,\n"
        "        const float *mu_weight, const float *mu_bias, const float *logvar_weight,\n"
        "        const float *logvar_bias, int B)\n{\n");
    gemm(o, NT, TR, "B", Z, F, "in", F, "mu_weight", F, "0.0f", "mu", Z);
    gemm(o, NT, TR, "B", Z, F, "in", F, "logvar_weight", F, "0.0f", "logvar", Z);
    OUT("    for (int b = 0; b < B; b++)\n        for (int o = 0; o < %s; o++) {\n", Z);
    OUT("            const size_t i = (size_t)b * %s + o;\n", Z);
    OUT("            mu[i] += mu_bias[o];\n            logvar[i] += logvar_bias[o];\n");
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
    case IR_CONV2D: emit_conv2d(o, m, l); break;
    case IR_DECONV2D: emit_deconv2d(o, m, l); break;
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
    OUT("float %s_loss(float *arena, int B)\n{\n", m->name);
    OUT("    const float *y = AT(%s), *x = AT(%s);\n    const size_t n = (size_t)B * %zu;\n", y, x, n);
    OUT("    double sum = 0.0;\n    for (size_t i = 0; i < n; i++) {\n");
    if (bce)
        OUT("        /* PyTorch clamps each log at -100 */\n"
            "        sum -= x[i] * fmaxf(logf(y[i]), -100.0f) + (1.0f - x[i]) * fmaxf(logf(1.0f - y[i]), -100.0f);\n");
    else
        OUT("        const double d = (double)y[i] - x[i];\n        sum += d * d;\n");
    OUT("    }\n");
    if (!g) {
        OUT("    return (float)(sum / %s);\n}\n\n", denom);
    } else {
        OUT("    const float *mu = AT(%s), *logvar = AT(%s);\n    double kl = 0.0;\n", buf_name(m, g->buf_mu),
            buf_name(m, g->buf_logvar));
        OUT("    for (size_t i = 0; i < (size_t)B * %d; i++)\n", g->out.c);
        OUT("        kl -= 0.5 * (1.0 + logvar[i] - (double)mu[i] * mu[i] - exp(logvar[i]));\n");
        OUT("    return (float)(sum / %s + %s * kl / (double)B);\n}\n\n", denom, flit(g->beta, beta, sizeof beta));
    }

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

static void emit_forward_call(sbuf *o, const ir_model *m, int i)
{
    const ir_layer *l = &m->layers[i];
    if (l->kind == IR_GAUSSIAN) {
        OUT("    latent_forward(AT(%s), AT(%s), AT(%s), AT(%s), AT(%s),\n", buf_name(m, l->buf_out),
            buf_name(m, l->buf_mu), buf_name(m, l->buf_logvar), buf_name(m, l->buf_eps), in_buf(m, i));
        OUT("        params + P_mu_weight, params + P_mu_bias, params + P_logvar_weight, params + P_logvar_bias, B);\n");
        return;
    }
    OUT("    %s_forward(AT(%s), ", l->name, buf_name(m, l->buf_out));
    if (l->buf_cols >= 0)
        OUT("AT(%s), ", buf_name(m, l->buf_cols));
    OUT("AT(%s)", in_buf(m, i));
    if (l->weight >= 0)
        OUT(", params + P_%s_weight, params + P_%s_bias", l->name, l->name);
    OUT(", B);\n");
}

static void emit_backward_call(sbuf *o, const ir_model *m, int i)
{
    const ir_layer *l = &m->layers[i];
    const char *din = l->needs_din ? buf_name(m, m->layers[i - 1].buf_dout) : NULL;
    if (l->kind == IR_GAUSSIAN) {
        OUT("    latent_backward(%s%s%s, AT(%s), AT(%s), AT(%s),\n", din ? "AT(" : "NULL", din ? din : "",
            din ? ")" : "", buf_name(m, l->buf_dmu), buf_name(m, l->buf_dlogvar), buf_name(m, l->buf_dout));
        OUT("        AT(%s), AT(%s), AT(%s), AT(%s),\n", buf_name(m, l->buf_mu), buf_name(m, l->buf_logvar),
            buf_name(m, l->buf_eps), in_buf(m, i));
        OUT("        params + P_mu_weight, params + P_logvar_weight, grads + P_mu_weight, grads + P_mu_bias,\n"
            "        grads + P_logvar_weight, grads + P_logvar_bias, B);\n");
        return;
    }
    OUT("    %s_backward(", l->name);
    if (din)
        OUT("AT(%s), ", din);
    else
        OUT("NULL, ");
    if (l->kind == IR_CONV2D || l->kind == IR_DECONV2D) {
        if (l->buf_dcols >= 0)
            OUT("AT(%s), ", buf_name(m, l->buf_dcols));
        else
            OUT("NULL, ");
    }
    OUT("AT(%s)", buf_name(m, l->buf_dout));
    if (l->kind == IR_FLATTEN || l->kind == IR_UNFLATTEN) {
        OUT(", B);\n");
        return;
    }
    OUT(", AT(%s)", buf_name(m, l->buf_out));
    if (l->kind == IR_CONV2D)
        OUT(", AT(%s)", buf_name(m, l->buf_cols));
    else if (l->kind != IR_ACT)
        OUT(", AT(%s)", in_buf(m, i));
    if (l->weight >= 0)
        OUT(",\n        params + P_%s_weight, grads + P_%s_weight, grads + P_%s_bias", l->name, l->name, l->name);
    OUT(", B);\n");
}

static void emit_entry_points(sbuf *o, const ir_model *m)
{
    source_comment(o, m, m->encoder_line);
    OUT("/* input -> latent (%s) */\n", buf_name(m, m->layers[m->n_encoder - 1].buf_out));
    OUT("void %s_encode(const float *params, float *arena, int B)\n{\n", m->name);
    for (int i = 0; i < m->n_encoder; i++)
        emit_forward_call(o, m, i);
    OUT("}\n\n");
    source_comment(o, m, m->decoder_line);
    OUT("/* latent -> output (%s) */\n", buf_name(m, m->layers[m->nlayers - 1].buf_out));
    OUT("void %s_decode(const float *params, float *arena, int B)\n{\n", m->name);
    for (int i = m->n_encoder; i < m->nlayers; i++)
        emit_forward_call(o, m, i);
    OUT("}\n\n");
    source_comment(o, m, m->model_line);
    OUT("/* After encode, decode and loss: grads += d loss / d params, last layer first. */\n");
    OUT("void %s_backward(const float *params, float *grads, float *arena, int B)\n{\n", m->name);
    OUT("    loss_backward(arena, B);\n");
    for (int i = m->nlayers - 1; i >= 0; i--)
        if (m->layers[i].runs_backward)
            emit_backward_call(o, m, i);
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
    OUT("    %-28s = %zu\n};\n#define AT(buf) (arena + (size_t)B * A_##buf)\n\n", "A_TOTAL", m->arena_per_image);
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

static void emit_descriptor(sbuf *o, const ir_model *m)
{
    OUT("static const aec_param param_table[] = {\n");
    for (int i = 0; i < m->nparams; i++) {
        const ir_param *p = &m->params[i];
        OUT("    {\"%s\", %d, {%d, %d, %d, %d}, %zu, %zu, %d},\n", p->name, p->ndim, p->shape[0],
            p->ndim > 1 ? p->shape[1] : 0, p->ndim > 2 ? p->shape[2] : 0, p->ndim > 3 ? p->shape[3] : 0,
            p->offset, p->numel, p->fan_in);
    }
    OUT("};\n\nstatic const char source_text[] =\n");
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
    OUT("    .arena_per_image = A_TOTAL, .input_offset = A_%s,\n", buf_name(m, m->buf_input));
    OUT("    .latent_offset = A_%s, .decode_offset = A_%s, .output_offset = A_%s,\n",
        buf_name(m, lat->kind == IR_GAUSSIAN ? lat->buf_mu : lat->buf_out), buf_name(m, lat->buf_out),
        buf_name(m, m->layers[m->nlayers - 1].buf_out));
    if (lat->kind == IR_GAUSSIAN)
        OUT("    .variational = 1, .eps_offset = A_%s, .kl_beta = %s,\n", buf_name(m, lat->buf_eps),
            flit(lat->beta, f[6], 32));
    OUT("    .encode = %s_encode, .decode = %s_decode,\n", m->name, m->name);
    OUT("    .loss_fn = %s_loss, .backward = %s_backward,\n};\n\n", m->name, m->name);
    OUT("#ifndef AEC_NO_MAIN\nint main(int argc, char **argv)\n{\n    aec_select_blas_kernels(argv);\n    return aec_main(argc, argv, &%s_model);\n}\n#endif\n",
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
    OUT("void  %s_encode(const float *params, float *arena, int B);\n", m->name);
    OUT("void  %s_decode(const float *params, float *arena, int B);\n", m->name);
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
    emit_enums(o, m);
    emit_act_helpers(o, m);
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
