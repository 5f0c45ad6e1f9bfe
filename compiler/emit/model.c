/* emit/model.c: the model around the layers: the loss, the entry points
 * (MODEL_prepare, _encode, _decode, _loss, _backward) that call each
 * layer's functions on its arena buffers, and the two files, MODEL.c and
 * MODEL.h.
 *
 * Every .ae layer becomes NAME_forward and NAME_backward, each under a
 * comment that quotes its .ae line. All per-image extents are literals; B,
 * the batch, is the one run-time extent. The output depends only on the
 * .ae text and the file's base name, so the same .ae always gives the same
 * bytes. */
#include <stdio.h>
#include "emit/emit.h"
#include "emit/internal.h"

/* The reconstruction term: its mean over B x N values, or (reduction=sum)
 * its sum over each image's N values, averaged over the B images. */
/* The profile's clock: what ran since the last lap is charged to the layer
 * (a no-op unless the runtime is profiling; see aec.h). */
static void emit_lap(sbuf *o, const char *layer, const char *pass)
{
    put(o, "    aec_lap(L_%s, %s);\n", layer, pass);
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
    put(o, "/* %s of the output against the input, %s%s */\n", bce ? "binary cross-entropy" : "squared error",
        sum ? "summed over each image's values and averaged over the batch" : "the mean over all values",
        g ? ", plus beta * KL(q(z|x) || N(0, I)) averaged over the batch" : "");
    put(o, "float %s_loss(float *arena, int B)\n{\n    aec_lap_start();\n", m->name);
    put(o, "    const float *y = AT(%s), *x = AT(%s);\n    const size_t n = (size_t)B * %zu;\n", y, x, n);
    put(o, "    double sum = 0.0;\n    for (size_t i = 0; i < n; i++) {\n");
    if (bce)
        put(o, "        /* PyTorch clamps each log at -100 */\n"
            "        sum -= x[i] * fmaxf(logf(y[i]), -100.0f) + (1.0f - x[i]) * fmaxf(logf(1.0f - y[i]), -100.0f);\n");
    else
        put(o, "        const double d = (double)y[i] - x[i];\n        sum += d * d;\n");
    put(o, "    }\n");
    if (!g) {
        put(o, "    const float loss = (float)(sum / %s);\n", denom);
    } else {
        put(o, "    const float *mu = AT(%s), *logvar = AT(%s);\n    double kl = 0.0;\n", buf_name(m, g->buf_mu),
            buf_name(m, g->buf_logvar));
        put(o, "    for (size_t i = 0; i < (size_t)B * %d; i++)\n", g->out.c);
        put(o, "        kl -= 0.5 * (1.0 + logvar[i] - (double)mu[i] * mu[i] - exp(logvar[i]));\n");
        put(o, "    const float loss = (float)(sum / %s + %s * kl / (double)B);\n", denom,
            flit(g->beta, beta, sizeof beta));
    }
    emit_lap(o, "loss", "AEC_FWD");
    put(o, "    return loss;\n}\n\n");

    source_comment(o, m, m->loss_line);
    put(o, "static void loss_backward(float *arena, int B)\n{\n");
    put(o, "    const float *y = AT(%s), *x = AT(%s);\n    float *dy = AT(%s);\n", y, x, dy);
    put(o, "    const size_t n = (size_t)B * %zu;\n    const float scale = (float)(1.0 / %s);\n", n, denom);
    if (bce)
        put(o, "    for (size_t i = 0; i < n; i++)   /* PyTorch's eps: 1e-12 */\n"
            "        dy[i] = scale * (y[i] - x[i]) / fmaxf((1.0f - y[i]) * y[i], 1e-12f);\n");
    else
        put(o, "    for (size_t i = 0; i < n; i++)\n        dy[i] = 2.0f * scale * (y[i] - x[i]);\n");
    if (g)
        put(o, "    /* the KL term's gradient is added in latent_backward */\n");
    put(o, "}\n\n");
}

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
    put(o, "    %s_forward(AT(%s), ", l->name, buf_name(m, out));
    if (l->kind == IR_CONV2D || l->kind == IR_DECONV2D || l->kind == IR_LINEAR)
        put(o, "SCRATCH, ");
    put(o, "AT(%s)", in_buf(m, i));
    if (l->weight >= 0)
        put(o, ", params + P_%s_weight, params + P_%s_bias", l->name, l->name);
    if (l->prep >= 0 && prepared)
        put(o, ", PREP(%s)", l->name);
    else if (l->prep >= 0)
        put(o, ", NULL");
    put(o, ", B);\n");
}

static void emit_forward_call(sbuf *o, const ir_model *m, int i)
{
    const ir_layer *l = &m->layers[i];
    if (l->kind == IR_GAUSSIAN) {
        put(o, "    latent_forward(AT(%s), AT(%s), AT(%s), AT(%s), SCRATCH, AT(%s),\n", buf_name(m, l->buf_out),
            buf_name(m, l->buf_mu), buf_name(m, l->buf_logvar), buf_name(m, l->buf_eps), in_buf(m, i));
        put(o, "        params + P_mu_weight, params + P_mu_bias, params + P_logvar_weight, params + P_logvar_bias, for_loss,\n"
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
    put(o, "    /* %s's output again, for %s's backward pass and its own: ", l->name, m->layers[i + 1].name);
    if (l->output_line)
        put(o, "the schedule's line %d */\n", l->output_line);
    else
        put(o, "aec's default for these shapes */\n");
    emit_layer_forward(o, m, i, l->buf_redo, 0);
    emit_lap(o, l->name, "AEC_BWD");
}

static void emit_backward_call(sbuf *o, const ir_model *m, int i)
{
    const ir_layer *l = &m->layers[i];
    const char *din = l->needs_din ? buf_name(m, m->layers[i - 1].buf_dout) : NULL;
    if (l->kind == IR_GAUSSIAN) {
        put(o, "    latent_backward(%s%s%s, AT(%s), AT(%s), AT(%s),\n", din ? "AT(" : "NULL", din ? din : "",
            din ? ")" : "", buf_name(m, l->buf_dmu), buf_name(m, l->buf_dlogvar), buf_name(m, l->buf_dout));
        put(o, "        AT(%s), AT(%s), AT(%s), AT(%s),\n", buf_name(m, l->buf_mu), buf_name(m, l->buf_logvar),
            buf_name(m, l->buf_eps), bwd_in_buf(m, i));
        put(o, "        params + P_mu_weight, params + P_logvar_weight, grads + P_mu_weight, grads + P_mu_bias,\n"
            "        grads + P_logvar_weight, grads + P_logvar_bias, B);\n");
        emit_lap(o, l->name, "AEC_BWD");
        return;
    }
    put(o, "    %s_backward(", l->name);
    if (din)
        put(o, "AT(%s), ", din);
    else
        put(o, "NULL, ");
    if (l->kind == IR_CONV2D || l->kind == IR_DECONV2D)
        put(o, "SCRATCH, ");
    put(o, "AT(%s)", buf_name(m, l->buf_dout));
    if (l->kind == IR_FLATTEN || l->kind == IR_UNFLATTEN) {
        put(o, ", B);\n");
        emit_lap(o, l->name, "AEC_BWD");
        return;
    }
    if (l->act == ACT_NONE)     /* no activation to differentiate: its output is not kept (plan.c) */
        put(o, ", NULL");
    else
        put(o, ", AT(%s)", buf_name(m, ir_bwd_out(l)));
    if (l->kind != IR_ACT)
        put(o, ", AT(%s)", bwd_in_buf(m, i));
    if (l->weight >= 0)
        put(o, ",\n        params + P_%s_weight, grads + P_%s_weight, grads + P_%s_bias", l->name, l->name, l->name);
    put(o, ", B);\n");
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
    put(o, "/* Inference's prepared weights: the packed weights of each direct and\n"
        " * winograd convolution and the panels of each gemm linear layer, made\n"
        " * once into prep (PREP_TOTAL floats) for encode and decode to read,\n"
        " * instead of on every call. */\n");
    put(o, "void %s_prepare(const float *params, float *prep)\n{\n", m->name);
    if (!any_prepared(m, 0, m->nlayers))
        put(o, "    (void)params, (void)prep;   /* no forward pass here reads prepared weights */\n");
    for (int i = 0; i < m->nlayers; i++) {
        const ir_layer *l = &m->layers[i];
        if (l->prep < 0)
            continue;
        int wino = l->sched[PASS_FWD].lowering == LOWER_WINOGRAD;
        char pack[128];
        kernel_ref(pack, sizeof pack, l->name, wino ? "_wino_pack" : "_pack");   /* linear's: its own name */
        put(o, "    %s(prep + PREP_%s, params + P_%s_weight);\n", pack, l->name, l->name);
    }
    put(o, "}\n\n");
}

/* The signature of encode or decode, over layers lo .. hi-1. */
static void entry_signature(sbuf *o, const ir_model *m, const char *what, int lo, int hi)
{
    put(o, "void %s_%s(const float *params, const float *prep, float *arena, int B%s)\n{\n    aec_lap_start();\n",
        m->name, what, lo == 0 ? ", int for_loss" : "");
    if (!any_prepared(m, lo, hi))
        put(o, "    (void)prep;   /* no forward pass here reads prepared weights */\n");
}

static void emit_entry_points(sbuf *o, const ir_model *m)
{
    emit_prepare(o, m);
    source_comment(o, m, m->encoder_line);
    put(o, "/* input -> latent (%s); prep: MODEL_prepare's, or NULL; for_loss: also\n"
        " * what only the loss and backward read */\n", buf_name(m, m->layers[m->n_encoder - 1].buf_out));
    entry_signature(o, m, "encode", 0, m->n_encoder);
    if (m->gaussian < 0)
        put(o, "    (void)for_loss;   /* no gaussian latent: the loss reads nothing encode may leave out */\n");
    for (int i = 0; i < m->n_encoder; i++)
        emit_forward_call(o, m, i);
    put(o, "}\n\n");
    source_comment(o, m, m->decoder_line);
    put(o, "/* latent -> output (%s); prep: MODEL_prepare's, or NULL */\n",
        buf_name(m, m->layers[m->nlayers - 1].buf_out));
    entry_signature(o, m, "decode", m->n_encoder, m->nlayers);
    for (int i = m->n_encoder; i < m->nlayers; i++)
        emit_forward_call(o, m, i);
    put(o, "}\n\n");
    source_comment(o, m, m->model_line);
    put(o, "/* After encode, decode and loss: grads += d loss / d params, last layer first. */\n");
    put(o, "void %s_backward(const float *params, float *grads, float *arena, int B)\n{\n", m->name);
    put(o, "    aec_lap_start();\n    loss_backward(arena, B);\n");
    emit_lap(o, "loss", "AEC_BWD");
    for (int i = m->nlayers - 1; i >= 0; i--) {
        if (i > 0 && m->layers[i - 1].recompute)
            emit_recompute(o, m, i - 1);
        if (m->layers[i].runs_backward)
            emit_backward_call(o, m, i);
    }
    put(o, "}\n\n");
}

static void emit_header(sbuf *o, const ir_model *m)
{
    put(o, "/* %s.h: generated by aec from %s. Edit the .ae file, not this. */\n", m->name, m->path);
    put(o, "#ifndef AEC_MODEL_%s_H\n#define AEC_MODEL_%s_H\n#include \"aec.h\"\n\n", m->name, m->name);
    put(o, "/* The descriptor the runtime trains and runs the model through. */\n");
    put(o, "extern const aec_model %s_model;\n\n", m->name);
    put(o, "/* One training step: encode, decode, loss, backward. Buffers live in an\n"
        " * arena of B * %s_model.arena_per_image floats; see aec.h. */\n", m->name);
    put(o, "void  %s_prepare(const float *params, float *prep);\n", m->name);
    put(o, "void  %s_encode(const float *params, const float *prep, float *arena, int B, int for_loss);\n", m->name);
    put(o, "void  %s_decode(const float *params, const float *prep, float *arena, int B);\n", m->name);
    put(o, "float %s_loss(float *arena, int B);\n", m->name);
    put(o, "void  %s_backward(const float *params, float *grads, float *arena, int B);\n\n#endif\n", m->name);
}

/* cpu_runs_target, where the target needs more than the base ISA: main
 * asks it before anything else runs, so that a CPU without the target's
 * instructions gets a message instead of SIGILL. It is compiled for the
 * x86-64 base whatever -march says, and never inlined into code that is not. */
static void emit_cpu_check(sbuf *o, const aec_target *t)
{
    if (!t->level[0])
        return;
    put(o, "/* Whether this CPU runs %s code (aec_require_cpu asks, before anything else runs). */\n"
        "#if defined(__GNUC__) && defined(__x86_64__)\n"
        "__attribute__((target(\"arch=x86-64\"), noinline))\n#endif\n"
        "static int cpu_runs_target(void)\n{\n    __builtin_cpu_init();\n"
        "    return __builtin_cpu_supports(\"%s\");\n}\n\n", t->name, t->level);
}

static void emit_source(sbuf *o, const ir_model *m)
{
    const aec_target *t = aec_target_now();
    put(o, "/* %s.c: generated by aec from %s. Edit the .ae file, not this.\n", m->name, m->path);
    put(o, " * Target %s: %s, %d vector registers of %d floats%s.\n *\n", t->name, t->isa, t->regs, t->vec,
        t->fma ? ", fused multiply-add" : "");
    put(o, " * B = images in the batch, the one extent known only at run time; every\n"
        " * other extent is a literal. Image tensors in the arena are CBHW (channel,\n"
        " * batch, row, column) so that a convolution over the batch is one GEMM;\n"
        " * flat tensors are [B][F]. Backward functions ADD into weight gradients.\n */\n");
    put(o, "#include <math.h>\n#include <stddef.h>\n#include <string.h>\n#include <cblas.h>\n#include \"%s.h\"\n\n",
        m->name);
    put(o, "/* %d floats: one %s register, for the direct kernels; the u type loads\n"
        " * and stores at any float's address. */\n"
        "typedef float aec_v%d __attribute__((vector_size(%d)));\n"
        "typedef float aec_v%du __attribute__((vector_size(%d), aligned(4)));\n"
        "/* Their sums are fused multiply-adds: ISO C mode (-std=c11) turns off\n"
        " * GCC's contraction of a * b + c, and FMA does both in one instruction. */\n"
        "#if defined(__GNUC__) && !defined(__clang__)\n"
        "#define AEC_FUSED __attribute__((optimize(\"fp-contract=fast\")))\n"
        "#else\n#define AEC_FUSED\n#endif\n\n",
        vec(), t->isa, vec(), vec_bytes(), vec(), vec_bytes());
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
    emit_cpu_check(o, t);
    emit_descriptor(o, m);
}

void emit_model(const ir_model *m, char **c_text, char **h_text)
{
    sbuf c = {0}, h = {0};
    kernels_reset();
    emit_source(&c, m);
    emit_header(&h, m);
    *c_text = kernels_finish(m, c.s);
    *h_text = h.s;
}
