/* emit/layers.c: the layers without kernels of their own (flatten,
 * unflatten, a named activation), the gaussian latent, and emit_layer,
 * which picks a layer kind's emitter. */
#include <stdio.h>
#include "emit/internal.h"

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
            put(o, "static void %s_forward(float *out, const float *in, int B)\n{\n", l->name);
        else
            put(o, "static void %s_backward(float *din, const float *dout, int B)\n{\n", l->name);
        const char *dst = pass == 0 ? "out" : "din", *src = pass == 0 ? "in" : "dout";
        put(o, "    float *%s = %s;\n    const float *%s = %s;\n", to_flat ? "flat" : "img", dst,
            to_flat ? "img" : "flat", src);
        put(o, "    for (int c = 0; c < %d; c++)\n        for (int b = 0; b < B; b++)\n            ", C);
        if (to_flat)
            put(o, cbhw_to_flat, C * HW, HW, HW, HW);
        else
            put(o, flat_to_cbhw, HW, C * HW, HW, HW);
        put(o, "}\n\n");
    }
}

static void emit_act_layer(sbuf *o, const ir_model *m, const ir_layer *l)
{
    size_t n = ir_numel(l->out);
    layer_comment(o, m, l, "activation forward");
    put(o, "static void %s_forward(float *out, const float *in, int B)\n{\n", l->name);
    put(o, "    for (size_t i = 0; i < (size_t)B * %zu; i++)\n        out[i] = ", n);
    act_call(o, l, "in[i]");
    put(o, ";\n}\n\n");
    if (!l->runs_backward)
        return;     /* nothing below it learns */
    layer_comment(o, m, l, "activation backward");
    put(o, "static void %s_backward(float *din, const float *dout, const float *out, int B)\n{\n", l->name);
    put(o, "    for (size_t i = 0; i < (size_t)B * %zu; i++)\n        din[i] = ", n);
    dact_call(o, l, "out[i]", "dout[i]");
    put(o, ";\n}\n\n");
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
    put(o, "/* mu and logvar [B][%s] = in[B][%s] x weight^T + bias; z = mu + eps * exp(logvar / 2).\n"
        " * Unless for_loss, mu alone and z = mu: only the loss's KL term and the\n"
        " * backward pass read logvar, and inference would spend half the layer on it. */\n", Z, F);
    put(o, "static void latent_forward(float *z, float *mu, float *logvar, const float *eps, float *cols,\n"
        "        const float *in, const float *mu_weight, const float *mu_bias, const float *logvar_weight,\n"
        "        const float *logvar_bias, int for_loss, int B)\n{\n");
    sched_comment(o, &l->sched[PASS_FWD]);
    emit_linear_products(o, l, F, Z, (const char *const[]){ "mu", "logvar" },
                         (const char *const[]){ "mu_weight", "logvar_weight" }, 2, "for_loss");
    put(o, "    for (int b = 0; b < B; b++)\n        for (int o = 0; o < %s; o++) {\n", Z);
    put(o, "            const size_t i = (size_t)b * %s + o;\n", Z);
    put(o, "            mu[i] += mu_bias[o];\n            if (!for_loss) {\n                z[i] = mu[i];\n"
        "                continue;\n            }\n");
    put(o, "            logvar[i] += logvar_bias[o];\n");
    put(o, "            z[i] = mu[i] + eps[i] * expf(0.5f * logvar[i]);\n        }\n}\n\n");

    layer_comment(o, m, l, "gaussian latent backward");
    put(o, "/* With KL = -1/2 sum(1 + logvar - mu^2 - exp(logvar)) in the loss at weight beta / B:\n"
        " * d/dmu = dz + beta/B * mu; d/dlogvar = dz * eps * exp(logvar/2) / 2 + beta/B * (exp(logvar) - 1) / 2 */\n");
    put(o, "static void latent_backward(float *din, float *dmu, float *dlogvar, const float *dz,\n"
        "        const float *mu, const float *logvar, const float *eps, const float *in,\n"
        "        const float *mu_weight, const float *logvar_weight, float *dmu_weight, float *dmu_bias,\n"
        "        float *dlogvar_weight, float *dlogvar_bias, int B)\n{\n");
    put(o, "    const float kl = %s / (float)B;\n", flit(l->beta, beta, sizeof beta));
    put(o, "    for (size_t i = 0; i < (size_t)B * %s; i++) {\n", Z);
    put(o, "        dmu[i] = dz[i] + kl * mu[i];\n");
    put(o, "        dlogvar[i] = 0.5f * dz[i] * eps[i] * expf(0.5f * logvar[i]) + 0.5f * kl * (expf(logvar[i]) - 1.0f);\n    }\n");
    put(o, "    for (int o = 0; o < %s; o++) {\n        double sum_mu = 0.0, sum_logvar = 0.0;\n", Z);
    put(o, "        for (int b = 0; b < B; b++) {\n            sum_mu += dmu[(size_t)b * %s + o];\n", Z);
    put(o, "            sum_logvar += dlogvar[(size_t)b * %s + o];\n        }\n", Z);
    put(o, "        dmu_bias[o] += (float)sum_mu;\n        dlogvar_bias[o] += (float)sum_logvar;\n    }\n");
    gemm(o, "    ", TR, NT, Z, F, "B", "dmu", Z, "in", F, "1.0f", "dmu_weight", F);
    gemm(o, "    ", TR, NT, Z, F, "B", "dlogvar", Z, "in", F, "1.0f", "dlogvar_weight", F);
    if (l->needs_din) {
        put(o, "    /* din[B][%s] = dmu x mu_weight + dlogvar x logvar_weight */\n", F);
        gemm(o, "    ", NT, NT, "B", F, Z, "dmu", Z, "mu_weight", F, "0.0f", "din", F);
        gemm(o, "    ", NT, NT, "B", F, Z, "dlogvar", Z, "logvar_weight", F, "1.0f", "din", F);
    } else {
        put(o, "    (void)din;   /* the first layer that learns: no input gradient */\n");
    }
    put(o, "}\n\n");
}

void emit_layer(sbuf *o, const ir_model *m, const ir_layer *l)
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
