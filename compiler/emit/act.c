/* emit/act.c: activations and their gradients: the inline helpers, the
 * bias + activation after a product, and the bias gradient. */
#include "emit/internal.h"

/* act(v): the expression applied to a pre-activation v. */
void act_call(sbuf *o, const ir_layer *l, const char *v)
{
    char f[32];
    switch (l->act) {
    case ACT_NONE: put(o, "%s", v); break;
    case ACT_RELU: put(o, "relu(%s)", v); break;
    case ACT_LEAKY_RELU: put(o, "leaky_relu(%s, %s)", v, flit(l->slope, f, sizeof f)); break;
    case ACT_SIGMOID: put(o, "sigmoid(%s)", v); break;
    case ACT_TANH: put(o, "aec_tanh(%s)", v); break;
    }
}

/* d act / d v times g, written from the activation's output y. relu's is
 * PyTorch's threshold_backward, `y <= 0 ? 0 : g`: a NaN output passes g on
 * (`y > 0 ? g : 0` gave 0, hiding it from the NaN stop). leaky_relu's
 * already took the slope for NaN, as PyTorch's does. */
void dact_call(sbuf *o, const ir_layer *l, const char *y, const char *g)
{
    char f[32];
    switch (l->act) {
    case ACT_NONE: put(o, "%s", g); break;
    case ACT_RELU: put(o, "(%s <= 0.0f ? 0.0f : %s)", y, g); break;
    case ACT_LEAKY_RELU: put(o, "(%s > 0.0f ? %s : %s * %s)", y, g, flit(l->slope, f, sizeof f), g); break;
    case ACT_SIGMOID: put(o, "%s * %s * (1.0f - %s)", g, y, y); break;
    case ACT_TANH: put(o, "%s * (1.0f - %s * %s)", g, y, y); break;
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
    put(o, "static inline float aec_exp(float t)\n{\n"
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
    put(o, "static inline float aec_tanh(float v)\n{\n"
        "    const float a = fabsf(v) > 9.1f ? 9.1f : fabsf(v), z = a * a;\n"
        "    const float poly = a + a * z * (-0.33333287f + z * (0.13331513f + z * (-0.05374466f\n"
        "                       + z * (0.020653125f + z * -0.0057189628f))));\n"
        "    const float y = a >= 0.625f ? 1.0f - 2.0f / (aec_exp(2.0f * a) + 1.0f) : poly;\n"
        "    return copysignf(y, v);\n}\n");
}

void emit_act_helpers(sbuf *o, const ir_model *m)
{
    int used[5] = {0};
    for (int i = 0; i < m->nlayers; i++)
        used[m->layers[i].act] = 1;
    /* NaN stays NaN, as in PyTorch: the comparison that fails for NaN
     * picks v itself (`v > 0 ? v : 0` made it 0). Still one compare and
     * blend (or max) a vector: the loops vectorise as before. */
    if (used[ACT_RELU])
        put(o, "static inline float relu(float v) { return v < 0.0f ? 0.0f : v; }\n");
    if (used[ACT_LEAKY_RELU])
        put(o, "static inline float leaky_relu(float v, float slope) { return v < 0.0f ? slope * v : v; }\n");
    if (used[ACT_SIGMOID] || used[ACT_TANH])
        emit_exp(o);
    if (used[ACT_SIGMOID])
        put(o, "/* NaN stays NaN (aec_exp clamps it away) */\n"
            "static inline float sigmoid(float v)\n{\n"
            "    float s = 1.0f / (1.0f + aec_exp(-v));\n    return v == v ? s : v;\n}\n");
    if (used[ACT_TANH])
        emit_tanh(o);
    put(o, "\n");
}

/* out[o][...] = act(out[o][...] + bias[o]) for CBHW outputs; [B][o] for flat. */
void emit_bias_act(sbuf *o, const ir_layer *l)
{
    int C = l->out.c, HW = l->out.h * l->out.w;
    if (l->out.flat) {
        put(o, "    for (int b = 0; b < B; b++)\n        for (int o = 0; o < %d; o++) {\n", C);
        put(o, "            float *y = out + (size_t)b * %d + o;\n            *y = ", C);
    } else {
        put(o, "    for (int o = 0; o < %d; o++)\n        for (size_t i = 0; i < (size_t)B * %d; i++) {\n", C, HW);
        put(o, "            float *y = out + (size_t)o * B * %d + i;\n            *y = ", HW);
    }
    act_call(o, l, "*y + bias[o]");
    put(o, ";\n        }\n");
}

/* dout <- dout * act'(out) in place, and dbias[o] += its sum over B and pixels.
 * The sums are what keeps this loop from being a plain elementwise pass, so
 * they are laid out for vectors: a vector of running sums per channel of a CBHW
 * tensor (one per lane; the tail and the lanes then summed in double), and
 * for [B][F] a row at a time into dbias. Fixed orders: the same bits run to run. */
void emit_dbias(sbuf *o, const ir_layer *l)
{
    int C = l->out.c, HW = l->out.h * l->out.w;
    if (l->act == ACT_NONE)
        put(o, "    (void)out;   /* no activation: the gradient passes unchanged */\n");
    if (l->out.flat) {
        put(o, "    for (int b = 0; b < B; b++)\n        for (int o = 0; o < %d; o++) {\n", C);
        put(o, "            const size_t i = (size_t)b * %d + o;\n            dout[i] = ", C);
        dact_call(o, l, "out[i]", "dout[i]");
        put(o, ";\n            dbias[o] += dout[i];\n        }\n");
        return;
    }
    put(o, "    const size_t n = (size_t)B * %d;\n", HW);
    put(o, "    for (int o = 0; o < %d; o++) {\n", C);
    put(o, "        float *restrict d = dout + (size_t)o * n;\n");
    if (l->act != ACT_NONE)
        put(o, "        const float *restrict y = out + (size_t)o * n;\n");
    put(o, "        float lane[%d] = {0};\n        size_t i = 0;\n", vec());
    put(o, "        for (; i + %d <= n; i += %d)\n            for (int k = 0; k < %d; k++) {\n", vec(), vec(), vec());
    put(o, "                d[i + k] = ");
    dact_call(o, l, "y[i + k]", "d[i + k]");
    put(o, ";\n                lane[k] += d[i + k];\n            }\n");
    put(o, "        double sum = 0.0;\n        for (; i < n; i++) {\n            d[i] = ");
    dact_call(o, l, "y[i]", "d[i]");
    put(o, ";\n            sum += d[i];\n        }\n");
    put(o, "        for (int k = 0; k < %d; k++)\n            sum += lane[k];\n", vec());
    put(o, "        dbias[o] += (float)sum;\n    }\n");
}
