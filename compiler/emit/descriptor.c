/* emit/descriptor.c: the tables of MODEL.c: the parameter and buffer
 * enums, the layer table and the aec_model descriptor the runtime reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "emit/internal.h"
#include "ir/table.h"

void emit_enums(sbuf *o, const ir_model *m)
{
    put(o, "/* Parameters (and their gradients): offsets into one float array. */\nenum {\n");
    for (int i = 0; i < m->nparams; i++) {
        const ir_param *p = &m->params[i];
        char id[96];
        snprintf(id, sizeof id, "P_%s", p->name);
        *strchr(id, '.') = '_';
        put(o, "    %-28s = %zu,\n", id, p->offset);
    }
    put(o, "    %-28s = %zu\n};\n\n", "P_TOTAL", m->n_param_floats);
    put(o, "/* The arena, in floats per image: a buffer starts at arena + B * offset.\n"
        " * Buffers alive at different stages of a step share memory. */\nenum {\n");
    for (int i = 0; i < m->nbufs; i++) {
        char id[96];
        snprintf(id, sizeof id, "A_%s", m->bufs[i].name);
        put(o, "    %-28s = %zu,   /* %zu floats, stages %d-%d */\n", id, m->bufs[i].offset, m->bufs[i].size,
            m->bufs[i].first, m->bufs[i].last);
    }
    put(o, "    %-28s = %zu\n};\n#define AT(buf) (arena + (size_t)B * A_##buf)\n", "A_TOTAL", m->arena_per_image);
    put(o, "/* The convolutions' im2col columns and direct planes: scratch of one pass\n"
        " * each, after the arena. */\n"
        "#define SCRATCH (arena + (size_t)B * A_TOTAL)\n\n");
    put(o, "/* Inference's prepared weights (MODEL_prepare), in floats: a layer's start\n"
        " * at prep + PREP_layer, NULL where there are none (training). */\nenum {\n");
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i].prep >= 0) {
            char id[96];
            snprintf(id, sizeof id, "PREP_%s", m->layers[i].name);
            put(o, "    %-28s = %ld,\n", id, m->layers[i].prep);
        }
    put(o, "    %-28s = %zu\n};\n#define PREP(layer) (prep ? prep + PREP_##layer : NULL)\n\n", "PREP_TOTAL",
        m->prep_floats);
    put(o, "/* Layers, in the order of the .ae file: rows of the layer table and the profile. */\nenum {\n");
    for (int i = 0; i < m->nlayers; i++)
        put(o, "    L_%s,\n", m->layers[i].name);
    put(o, "    L_loss\n};\n\n");
}

static void emit_c_string(sbuf *o, const char *s)
{
    put(o, "    \"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n' && s[1])
            put(o, "\\n\"\n    \"");
        else if (c == '\n')
            put(o, "\\n");
        else if (c == '"' || c == '\\')
            put(o, "\\%c", c);
        else if (c >= 32 && c < 127)
            put(o, "%c", c);
        else
            put(o, "\\%03o", c);
    }
    put(o, "\"");
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
    put(o, "static const aec_layer layer_infos[] = {\n");
    for (int i = 0; i < m->nlayers; i++) {
        const ir_layer *l = &m->layers[i];
        const ir_buf *b = &m->bufs[l->buf_out];
        put(o, "    {\"%s\", %d, A_%s, %zu, %d, %d, %d},\n", l->name, l->line, b->name, ir_numel(l->out),
            b->last >= m->nlayers + 1, l->weight, param_count(l));
    }
    put(o, "};\n\n");
}

void emit_descriptor(sbuf *o, const ir_model *m)
{
    put(o, "static const aec_param param_table[] = {\n");
    for (int i = 0; i < m->nparams; i++) {
        const ir_param *p = &m->params[i];
        put(o, "    {\"%s\", %d, {%d, %d, %d, %d}, %zu, %zu, %d},\n", p->name, p->ndim, p->shape[0],
            p->ndim > 1 ? p->shape[1] : 0, p->ndim > 2 ? p->shape[2] : 0, p->ndim > 3 ? p->shape[3] : 0,
            p->offset, p->numel, p->fan_in);
    }
    put(o, "};\n\n");
    emit_layer_infos(o, m);
    put(o, "static const char source_text[] =\n");
    emit_c_string(o, m->source);
    put(o, ";\n\n/* the table `aec check` prints, for reports */\nstatic const char layer_table[] =\n");
    char *table = NULL;
    size_t table_len = 0;
    FILE *t = open_memstream(&table, &table_len);
    if (t) {
        print_layer_table(t, m);
        fclose(t);
    }
    emit_c_string(o, table ? table : "");
    free(table);
    put(o, ";\n\n");
    const ir_layer *lat = &m->layers[m->n_encoder - 1];
    const ir_optim *op = &m->optim;
    put(o, "const aec_model %s_model = {\n", m->name);
    put(o, "    .name = \"%s\",\n    .source = source_text,\n    .layer_table = layer_table,\n", m->name);
    const aec_target *target = aec_target_now();
    put(o, "    .target = \"%s\",%s\n", target->name, target->level[0] ? " .cpu_runs = cpu_runs_target," : "");
    char f[7][32];
    put(o, "    .in_c = %d, .in_h = %d, .in_w = %d, .in_lo = %s, .in_hi = %s,\n", m->input.c, m->input.h,
        m->input.w, flit(m->lo, f[0], 32), flit(m->hi, f[1], 32));
    put(o, "    .out_c = %d, .out_h = %d, .out_w = %d,\n", m->input.c, m->input.h, m->input.w);
    put(o, "    .latent = %zu, .latent_is_image = %d, .lat_c = %d, .lat_hw = %d,\n", ir_numel(lat->out),
        !lat->out.flat, lat->out.c, lat->out.h * lat->out.w);
    put(o, "    .loss = %s, .loss_sum = %d,\n", m->loss == LOSS_BCE ? "AEC_LOSS_BCE" : "AEC_LOSS_MSE",
        m->reduce == REDUCE_SUM);
    put(o, "    .defaults = {{%s, %s, %s, %s, %s, %s, %s}, %d, %d, %lluu},\n",
        op->kind == OPT_ADAM ? "AEC_OPT_ADAM" : "AEC_OPT_SGD", flit(op->lr, f[0], 32), flit(op->beta1, f[1], 32),
        flit(op->beta2, f[2], 32), flit(op->eps, f[3], 32), flit(op->weight_decay, f[4], 32),
        flit(op->momentum, f[5], 32), m->batch, m->epochs, (unsigned long long)m->seed);
    double flops = 0;
    for (int i = 0; i < m->nlayers; i++)
        flops += ir_layer_flops(&m->layers[i]);
    put(o, "    .forward_flops = %.0f,\n", flops);
    put(o, "    .n_params = P_TOTAL, .n_tensors = %d, .params = param_table,\n", m->nparams);
    put(o, "    .n_layers = %d, .layers = layer_infos,\n", m->nlayers);
    put(o, "    .arena_per_image = A_TOTAL, .input_offset = A_%s,\n", buf_name(m, m->buf_input));
    put(o, "    .scratch_per_image = %zu, .scratch_fixed = %zu,\n", m->scratch_per_image, m->scratch_fixed);
    put(o, "    .latent_offset = A_%s, .decode_offset = A_%s, .output_offset = A_%s,\n",
        buf_name(m, lat->kind == IR_GAUSSIAN ? lat->buf_mu : lat->buf_out), buf_name(m, lat->buf_out),
        buf_name(m, m->layers[m->nlayers - 1].buf_out));
    if (lat->kind == IR_GAUSSIAN)
        put(o, "    .variational = 1, .eps_offset = A_%s, .logvar_offset = A_%s, .kl_beta = %s,\n",
            buf_name(m, lat->buf_eps), buf_name(m, lat->buf_logvar), flit(lat->beta, f[6], 32));
    if (m->workers_line)
        put(o, "    /* schedule: split(workers=%d), from line %d of the .ae file */\n", m->workers, m->workers_line);
    else
        put(o, "    /* schedule: split(workers=%d), aec's default (0: one slice per core) */\n", m->workers);
    put(o, "    .workers = %d,\n", m->workers);
    put(o, "    .prep_floats = PREP_TOTAL, .prepare = %s_prepare,\n", m->name);
    put(o, "    .encode = %s_encode, .decode = %s_decode,\n", m->name, m->name);
    put(o, "    .loss_fn = %s_loss, .backward = %s_backward,\n};\n\n", m->name, m->name);
    put(o, "#ifndef AEC_NO_MAIN\nint main(int argc, char **argv)\n{\n    aec_require_cpu(&%s_model);\n    aec_setup_libraries(argv);\n    return aec_main(argc, argv, &%s_model);\n}\n#endif\n",
        m->name, m->name);
}
