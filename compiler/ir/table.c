/* ir/table.c: the layer table that `aec check` prints. */
#include <stdio.h>
#include "ir/ir.h"
#include "ir/table.h"

/* 442177 -> "442,177" */
static const char *grouped(size_t v, char *buf, size_t size)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%zu", v), k = 0;
    for (int i = 0; i < n && (size_t)k + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[k++] = ',';
        buf[k++] = digits[i];
    }
    buf[k] = '\0';
    return buf;
}

static size_t layer_params(const ir_model *m, const ir_layer *l)
{
    size_t n = 0;
    const int idx[] = {l->weight, l->bias, l->weight2, l->bias2};
    for (int i = 0; i < 4; i++)
        if (idx[i] >= 0)
            n += m->params[idx[i]].numel;
    return n;
}

static void print_settings(FILE *out, const ir_model *m)
{
    char in[64];
    const ir_optim *o = &m->optim;
    fprintf(out, "model %s: input %s in [%g, %g], loss %s\n", m->name, ir_shape_str(m->input, in, sizeof in),
            m->lo, m->hi, m->loss == LOSS_MSE ? "mse" : "bce");
    if (o->kind == OPT_ADAM)
        fprintf(out, "optimizer adam(lr=%g, beta1=%g, beta2=%g, eps=%g, weight_decay=%g)", o->lr, o->beta1,
                o->beta2, o->eps, o->weight_decay);
    else
        fprintf(out, "optimizer sgd(lr=%g, momentum=%g, weight_decay=%g)", o->lr, o->momentum, o->weight_decay);
    fprintf(out, ", batch %d, epochs %d, seed %lld\n\n", m->batch, m->epochs, m->seed);
}

void print_layer_table(FILE *out, const ir_model *m)
{
    char buf[64], kind[48], num[32];
    double flops = 0;
    print_settings(out, m);
    fprintf(out, "%-5s %-16s %-22s %-12s %12s %12s\n", "line", "layer", "kind", "output", "params", "MFLOPs");
    for (int i = 0; i < m->nlayers; i++) {
        const ir_layer *l = &m->layers[i];
        if (i == m->n_encoder)
            fprintf(out, "%-5s %-16s (the latent: %zu values per image)\n", "", "", ir_numel(m->layers[i - 1].out));
        snprintf(kind, sizeof kind, "%s%s%s", l->kind == IR_ACT ? "" : ir_kind_name(l->kind),
                 l->act && l->kind != IR_ACT ? "+" : "", l->act ? ir_act_name(l->act) : "");
        fprintf(out, "%-5d %-16s %-22s %-12s %12s %12.3f\n", l->line, l->name, kind,
                ir_shape_str(l->out, buf, sizeof buf), grouped(layer_params(m, l), num, sizeof num),
                ir_layer_flops(l) / 1e6);
        flops += ir_layer_flops(l);
    }
    fprintf(out, "%-5s %-16s %-22s %-12s %12s %12.3f\n", "", "total", "", "",
            grouped(m->n_param_floats, num, sizeof num), flops / 1e6);
    fprintf(out, "\nparameters: %s (%.2f MiB)\n", grouped(m->n_param_floats, num, sizeof num),
            m->n_param_floats * 4.0 / 1048576.0);
    fprintf(out, "forward FLOPs per image: %.3f M\n", flops / 1e6);
    size_t scratch = m->scratch_per_image * (size_t)m->batch;
    if (scratch < m->scratch_fixed)
        scratch = m->scratch_fixed;
    fprintf(out, "scratch for im2col columns and direct planes: %.1f MiB at batch %d\n", scratch * 4.0 / 1048576.0, m->batch);
    fprintf(out, "arena: %s floats per image (%.1f MiB at batch %d)\n",
            grouped(m->arena_per_image, num, sizeof num), m->arena_per_image * 4.0 * m->batch / 1048576.0,
            m->batch);
    int named = 0;
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].recompute)
            fprintf(out, "%s%s", named++ ? ", " : "outputs made again in the backward pass (schedule: recompute): ",
                    m->layers[i].name);
    if (named)
        fprintf(out, "\n");
}
