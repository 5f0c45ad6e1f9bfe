/* emit/linear.c: a linear layer's functions, and the forward products it
 * shares with the latent heads: gemm, gemm from prepared panels
 * (inference), or direct. */
#include <stdio.h>
#include "emit/internal.h"

/* out[b][o] = in[b] . weight[o] with no packing of the weights, which the
 * GEMM copies on every call (8 MB for celeba_vae's heads): the images go
 * into the vectors, ni() (2 vectors) a block, transposed into xt; each
 * weight is read once a block and multiplied into both vectors. R outputs
 * at a time (lower_linear_rows): 2 x R sums in registers. */
static int ni(void) { return lower_linear_images(); }

static int linear_r(const ir_layer *l) { return lower_linear_rows(l); }

void emit_linear_direct_helpers(sbuf *o, const ir_model *m, const ir_layer *l)
{
    int K = l->in.c, R = linear_r(l);
    source_comment(o, m, l->line);
    put(o, "/* xt[%d][%d] <- in[b0 .. b0+nb-1][%d], zeros for the images past nb */\n", K, ni(), K);
    put(o, "static void %s_transpose(float *restrict xt, const float *restrict in, int b0, int nb)\n{\n", l->name);
    put(o, "    for (int k0 = 0; k0 < %d; k0 += %d)   /* %d x %d at a time: both sides in the L1 cache */\n",
        K, vec(), vec(), ni());
    put(o, "        for (int b = 0; b < %d; b++)\n", ni());
    put(o, "            for (int k = k0; k < k0 + %d && k < %d; k++)\n", vec(), K);
    put(o, "                xt[(size_t)k * %d + b] = b < nb ? in[(size_t)(b0 + b) * %d + k] : 0.0f;\n}\n\n", ni(), K);
    source_comment(o, m, l->line);
    put(o, "/* acc[%d][%d] = weight rows x xt: %d outputs x 2 vectors of %d images in registers */\n", R, ni(), R, vec());
    put(o, "static inline AEC_FUSED void %s_rows(float *restrict acc, const float *restrict w, const float *restrict xt)\n{\n",
        l->name);
    put(o, "    aec_v%d sum[%d][2];\n#pragma GCC unroll %d\n    for (int r = 0; r < %d; r++)\n", vec(), R, R, R);
    put(o, "        sum[r][0] = sum[r][1] = (aec_v%d){0};\n", vec());
    put(o, "    for (int k = 0; k < %d; k++, xt += %d, w++) {\n", K, ni());
    put(o, "        const aec_v%d x0 = *(const aec_v%du *)xt, x1 = *(const aec_v%du *)(xt + %d);\n",
        vec(), vec(), vec(), vec());
    put(o, "#pragma GCC unroll %d\n        for (int r = 0; r < %d; r++) {\n", R, R);
    put(o, "            const float a = w[(size_t)r * %d];\n", K);
    put(o, "            sum[r][0] += a * x0;\n            sum[r][1] += a * x1;\n        }\n    }\n");
    put(o, "#pragma GCC unroll %d\n    for (int r = 0; r < %d; r++) {\n", R, R);
    put(o, "        *(aec_v%du *)(acc + r * %d) = sum[r][0];\n        *(aec_v%du *)(acc + r * %d + %d) = sum[r][1];\n"
        "    }\n}\n\n",
        vec(), ni(), vec(), ni(), vec());
}

/* out[B][N] = in x weight^T by the direct product, in the current block of
 * ni() images (xt made), its loop indented by in: the last R outputs may be
 * computed twice, alike. */
static void emit_linear_direct_product(sbuf *o, const ir_layer *l, const char *out, const char *weight,
                                       const char *in)
{
    int N = l->out.c, R = linear_r(l);
    put(o, "%sfor (int o0 = 0; o0 < %d; o0 += %d) {\n", in, N, R);
    if (N % R)
        put(o, "%s    const int o = o0 + %d <= %d ? o0 : %d;   /* the last block: the last %d outputs */\n", in, R, N,
            N - R, R);
    else
        put(o, "%s    const int o = o0;\n", in);
    put(o, "%s    float acc[%d];\n", in, R * ni());
    put(o, "%s    %s_rows(acc, %s + (size_t)o * %d, xt);\n", in, l->name, weight, l->in.c);
    put(o, "%s    for (int r = 0; r < %d; r++)\n%s        for (int b = 0; b < nb; b++)\n", in, R, in);
    put(o, "%s            %s[(size_t)(b0 + b) * %d + o + r] = acc[r * %d + b];\n%s}\n", in, out, N, ni(), in);
}

/* With prepared weights, the GEMM's copy of the weights is made once
 * (LAYER_pack: panels of lower_panel() outputs, input-major, so that a
 * panel's row is 4 vectors) and LAYER_panel multiplies one panel into pi()
 * images at a time (lower_panel_images): 4 x pi() sums in registers.
 * OpenBLAS would copy the weights on every call. */
static int pi(void) { return lower_panel_images(); }

static int panels(const ir_layer *l) { return (l->out.c + lower_panel() - 1) / lower_panel(); }

/* The last panel's first rem outputs of image i: whole vectors, then the
 * lanes of the last one by constant index, so that the sums stay in
 * registers (through a buffer in memory, GCC keeps them all there). */
static void emit_panel_tail(sbuf *o, int rem)
{
    int whole = rem / vec();
    put(o, "        if (n < %d) {   /* the last panel: its first %d outputs */\n", lower_panel(), rem);
    if (whole)
        put(o, "#pragma GCC unroll %d\n            for (int v = 0; v < %d; v++)\n"
            "                *(aec_v%du *)(y + %d * v) = sum[i][v];\n", whole, whole, vec(), vec());
    for (int r = 0; r < rem % vec(); r++)
        put(o, "            y[%d] = sum[i][%d][%d];\n", whole * vec() + r, whole, r);
    put(o, "            continue;\n        }\n");
}

static void emit_linear_panel_helpers(sbuf *o, const ir_model *m, const ir_layer *l)
{
    int K = l->in.c, N = l->out.c, P = panels(l), V = lower_panel() / vec();
    source_comment(o, m, l->line);
    put(o, "/* pack[%d panels][%d][%d] <- weight[%d][%d]: %d outputs a panel, input-major, zeros past %d */\n", P, K,
        lower_panel(), N, K, lower_panel(), N);
    put(o, "static void %s_pack(float *restrict pack, const float *restrict weight)\n{\n", l->name);
    if (P == 1) {   /* one panel: no loop over them */
        put(o, "    for (int k = 0; k < %d; k++)\n        for (int o = 0; o < %d; o++)\n", K, lower_panel());
        put(o, "            pack[(size_t)k * %d + o] = o < %d ? weight[(size_t)o * %d + k] : 0.0f;\n}\n\n", lower_panel(),
            N, K);
    } else {
        put(o, "    for (int p = 0; p < %d; p++)\n        for (int k = 0; k < %d; k++)\n", P, K);
        put(o, "            for (int r = 0; r < %d; r++) {\n                const int o = p * %d + r;\n", lower_panel(),
            lower_panel());
        put(o, "                pack[((size_t)p * %d + k) * %d + r] = o < %d ? weight[(size_t)o * %d + k] : 0.0f;\n"
            "            }\n}\n\n", K, lower_panel(), N, K);
    }
    source_comment(o, m, l->line);
    put(o, "/* out[img[i]][0 .. n-1] = in[img[i]] x one panel, for %d images (repeats allowed):\n"
        " * %d images x %d vectors of %d outputs in registers */\n",
        pi(), pi(), V, vec());
    put(o, "static inline AEC_FUSED void %s_panel(float *restrict out, const float *restrict in,\n"
        "        const float *restrict pack, const int *img, int n)\n{\n", l->name);
    put(o, "    aec_v%d sum[%d][%d];\n    const float *x[%d];\n#pragma GCC unroll %d\n", vec(), pi(), V, pi(), pi());
    put(o, "    for (int i = 0; i < %d; i++) {\n        x[i] = in + (size_t)img[i] * %d;\n", pi(), K);
    put(o, "#pragma GCC unroll %d\n        for (int v = 0; v < %d; v++)\n            sum[i][v] = (aec_v%d){0};\n    }\n",
        V, V, vec());
    put(o, "    for (int k = 0; k < %d; k++, pack += %d) {\n        aec_v%d w[%d];\n", K, lower_panel(), vec(), V);
    put(o, "#pragma GCC unroll %d\n        for (int v = 0; v < %d; v++)\n            w[v] = *(const aec_v%du *)(pack + %d * v);\n",
        V, V, vec(), vec());
    put(o, "#pragma GCC unroll %d\n        for (int i = 0; i < %d; i++) {\n            const float a = x[i][k];\n", pi(), pi());
    put(o, "#pragma GCC unroll %d\n            for (int v = 0; v < %d; v++)\n                sum[i][v] += a * w[v];\n"
        "        }\n    }\n", V, V);
    if (N % lower_panel() == 0)
        put(o, "    (void)n;   /* every panel whole */\n");
    /* unrolled, so that sum[i][v] names registers, never an array in memory */
    put(o, "#pragma GCC unroll %d\n    for (int i = 0; i < %d; i++) {\n        float *y = out + (size_t)img[i] * %d;\n",
        pi(), pi(), N);
    if (N % lower_panel())
        emit_panel_tail(o, N % lower_panel());
    put(o, "#pragma GCC unroll %d\n        for (int v = 0; v < %d; v++)\n            *(aec_v%du *)(y + %d * v) = sum[i][v];\n"
        "    }\n}\n\n",
        V, V, vec(), vec());
}

/* out[B][N] = in x weight^T from the prepared panels: each panel into
 * blocks of pi() images, the last block ending at the last image (repeating
 * images, with the same results, where B is not a multiple of pi()). */
static void emit_linear_panel_products(sbuf *o, const ir_layer *l)
{
    int K = l->in.c, N = l->out.c;
    char n[64];
    if (N % lower_panel() && panels(l) > 1)
        snprintf(n, sizeof n, "p < %d ? %d : %d", panels(l) - 1, lower_panel(), N % lower_panel());
    else
        snprintf(n, sizeof n, "%d", N % lower_panel() ? N % lower_panel() : lower_panel());
    omp_for(o, &l->sched[PASS_FWD]);
    if (panels(l) == 1) {   /* one panel: no loop over them */
        put(o, "        for (int b0 = 0; b0 < B; b0 += %d) {\n", pi());
        put(o, "            int img[%d];\n            for (int i = 0; i < %d; i++)\n", pi(), pi());
        put(o, "                img[i] = b0 + i < B ? b0 + i : B - 1;\n");
        put(o, "            %s_panel(out, in, pack, img, %s);\n        }\n", l->name, n);
        return;
    }
    put(o, "        for (int p = 0; p < %d; p++)\n            for (int b0 = 0; b0 < B; b0 += %d) {\n", panels(l), pi());
    put(o, "                int img[%d];\n                for (int i = 0; i < %d; i++)\n", pi(), pi());
    put(o, "                    img[i] = b0 + i < B ? b0 + i : B - 1;\n");
    put(o, "                %s_panel(out + (size_t)p * %d, in, pack + (size_t)p * %d, img, %s);\n", l->name, lower_panel(),
        K * lower_panel(), n);
    put(o, "            }\n");
}

/* The forward products of a linear layer or the latent heads (F inputs, O
 * outputs, as literals): gemm (from prepared panels when the layer has them
 * and is given them), or direct. Where only_if is given, the products after
 * the first are computed only when it holds. */
void emit_linear_products(sbuf *o, const ir_layer *l, const char *F, const char *O, const char *const *outs,
                          const char *const *weights, int n, const char *only_if)
{
    if (l->sched[PASS_FWD].lowering == LOWER_GEMM) {
        put(o, "    (void)cols;\n");
        for (int i = 0; i < n; i++) {
            /* a prepared layer (one product, plan.c) has the panels, when given them */
            int prepared = l->prep >= 0, guard = i > 0 && only_if;
            if (prepared) {
                put(o, "    if (pack) {   /* prepared (inference): the product from the panels */\n");
                emit_linear_panel_products(o, l);
                put(o, "    } else {   /* OpenBLAS copies the weights itself, on every call */\n");
            } else if (guard) {
                put(o, "    if (%s) {\n", only_if);
            }
            const char *ind = prepared || guard ? "        " : "    ";
            gemm(o, ind, NT, TR, "B", O, F, "in", F, weights[i], F, "0.0f", outs[i], O);
            if (prepared || guard)
                put(o, "    }\n");
        }
        return;
    }
    put(o, "    float *xt = cols;\n    for (int b0 = 0; b0 < B; b0 += %d) {\n", ni());
    put(o, "        const int nb = B - b0 < %d ? B - b0 : %d;\n        %s_transpose(xt, in, b0, nb);\n", ni(), ni(), l->name);
    for (int i = 0; i < n; i++) {
        int guard = i > 0 && only_if;
        if (guard)
            put(o, "        if (%s) {\n", only_if);
        emit_linear_direct_product(o, l, outs[i], weights[i], guard ? "            " : "        ");
        if (guard)
            put(o, "        }\n");
    }
    put(o, "    }\n");
}

void emit_linear(sbuf *o, const ir_model *m, const ir_layer *l)
{
    char F[16], O[16];
    snprintf(F, sizeof F, "%d", l->in.c);
    snprintf(O, sizeof O, "%d", l->out.c);
    if (l->sched[PASS_FWD].lowering != LOWER_GEMM)
        emit_linear_direct_helpers(o, m, l);
    if (l->prep >= 0)
        emit_linear_panel_helpers(o, m, l);
    layer_comment(o, m, l, "linear forward");
    put(o, "static void %s_forward(float *out, float *cols, const float *in, const float *weight, const float *bias,\n"
        "        %sint B)\n{\n", l->name, l->prep >= 0 ? "const float *pack, " : "");
    sched_comment(o, &l->sched[PASS_FWD]);
    blas_threads(o, &l->sched[PASS_FWD]);
    put(o, "    /* out[B][%s] = in[B][%s] x weight^T[%s][%s] */\n", O, F, F, O);
    emit_linear_products(o, l, F, O, (const char *const[]){ "out" }, (const char *const[]){ "weight" }, 1, NULL);
    emit_bias_act(o, l);
    put(o, "}\n\n");

    layer_comment(o, m, l, "linear backward");
    put(o, "static void %s_backward(float *din, float *dout, const float *out, const float *in,\n"
        "        const float *weight, float *dweight, float *dbias, int B)\n{\n", l->name);
    sched_comment(o, &l->sched[PASS_BWD]);
    blas_threads(o, &l->sched[PASS_BWD]);
    emit_dbias(o, l);
    put(o, "    /* dweight[%s][%s] += dout^T[%s][B] x in[B][%s] */\n", O, F, O, F);
    gemm(o, "    ", TR, NT, O, F, "B", "dout", O, "in", F, "1.0f", "dweight", F);
    if (l->needs_din) {
        put(o, "    /* din[B][%s] = dout[B][%s] x weight[%s][%s] */\n", F, O, O, F);
        gemm(o, "    ", NT, NT, "B", F, O, "dout", O, "weight", F, "0.0f", "din", F);
    } else {
        put(o, "    (void)din, (void)weight;   /* the first layer that learns: no input gradient */\n");
    }
    put(o, "}\n\n");
}
