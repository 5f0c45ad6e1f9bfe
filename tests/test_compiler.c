/* test_compiler.c: the .ae compiler, from source text to planned IR and C.
 *
 * Written from the outside: every expected value comes from the language as
 * the models and PyTorch define it, not from reading the output back. The
 * diagnostics are checked as whole texts (header, quoted line, caret), so a
 * wrong line or column fails a test. Inputs that are garbage must give an
 * error and never a crash; run under valgrind to make that mean "never an
 * invalid read" too.
 *
 * Tests marked "was a bug" were written, failing, against bugs this file
 * found; they stay as regression tests. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <glob.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver.h"
#include "emit/emit.h"
#include "ir/ir.h"
#include "lower/geometry.h"
#include "lower/target.h"
#include "ir/table.h"
#include "util.h"

#define FMNIST AEC_ROOT "/models/fmnist_cae.ae"
#define TINY   AEC_ROOT "/tests/models/tiny_all.ae"
#define CELEBA AEC_ROOT "/models/celeba_vae.ae"
#define AEC    AEC_BUILD "/aec"    /* build/, or build-san/ under SAN=1 */

/* ---- helpers -------------------------------------------------------------- */

/* Compile src as "t.ae"; diagnostics into *err (malloc'd, "" if none). */
static int compile_text(const char *src, size_t len, compiled *c, char **err)
{
    size_t n = 0;
    FILE *f = open_memstream(err, &n);
    assert_non_null(f);
    int rc = compile_source("t.ae", src, len, f, c);
    assert_int_equal(fclose(f), 0);
    return rc;
}

/* Compile a file's text under the given path name; expect no diagnostics. */
static void compile_ok_as(const char *file, const char *as, compiled *c)
{
    size_t len, n = 0;
    char *src = slurp(file, &len), *err = NULL;
    assert_non_null(src);
    FILE *f = open_memstream(&err, &n);
    int rc = compile_source(as, src, len, f, c);
    fclose(f);
    assert_string_equal(err, "");
    assert_int_equal(rc, 0);
    free(err);
    free(src);
}

/* The compiler must fail with exactly this diagnostic text. */
static void expect_errors_(const char *src, const char *want, const char *file, int line)
{
    compiled c;
    char *err = NULL;
    int rc = compile_text(src, strlen(src), &c, &err);
    if (strcmp(err, want) != 0)
        print_error("%s:%d: source:\n%s\n--- got:\n%s--- want:\n%s", file, line, src, err, want);
    assert_string_equal(err, want);
    assert_int_equal(rc, -1);
    compiled_free(&c);
    free(err);
}
#define expect_errors(src, want) expect_errors_(src, want, __FILE__, __LINE__)

/* Compile src; return its diagnostics (caller frees) and the return code. */
static char *diagnose(const char *src, int *rc)
{
    compiled c;
    char *err = NULL;
    *rc = compile_text(src, strlen(src), &c, &err);
    compiled_free(&c);
    return err;
}

/* A small valid model; the sema tests change one piece of it. Its lines:
 *  4 conv1,  5 flatten,  6 code,  9 fc,  10 unflatten,  11 up,  13 loss. */
static const char BASE[] =
    "model m {\n"
    "  input 1x28x28 range [0, 1]\n"
    "  encoder {\n"
    "    conv1 = conv2d(32, kernel=3, stride=2, pad=1) relu\n"
    "    flatten\n"
    "    code = linear(16)\n"
    "  }\n"
    "  decoder {\n"
    "    fc = linear(6272) relu\n"
    "    unflatten(32x14x14)\n"
    "    up = deconv2d(1, kernel=3, stride=2, pad=1, out_pad=1) sigmoid\n"
    "  }\n"
    "  loss mse\n"
    "  optimizer adam(lr=1e-3)\n"
    "  train(batch=8, epochs=1, seed=2)\n"
    "}\n";

/* BASE with the first `from` replaced by `to` (static buffer). */
static const char *with(const char *from, const char *to)
{
    static char buf[4096];
    const char *at = strstr(BASE, from);
    assert_non_null(at);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - BASE), BASE, to, at + strlen(from));
    return buf;
}

static const ir_layer *layer_named(const ir_model *m, const char *name)
{
    for (int i = 0; i < m->nlayers; i++)
        if (strcmp(m->layers[i].name, name) == 0)
            return &m->layers[i];
    fail_msg("no layer named %s", name);
    return NULL;
}

static void assert_shape(ir_shape s, int c, int h, int w, int flat)
{
    assert_int_equal(s.c, c);
    assert_int_equal(s.h, h);
    assert_int_equal(s.w, w);
    assert_int_equal(s.flat, flat);
}

static void assert_param(const ir_param *p, const char *name, int ndim, int s0, int s1, int s2, int s3,
                         int fan_in)
{
    int want[4] = {s0, s1, s2, s3};
    assert_string_equal(p->name, name);
    assert_int_equal(p->ndim, ndim);
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        assert_int_equal(p->shape[i], want[i]);
        numel *= (size_t)want[i];
    }
    assert_int_equal(p->numel, numel);
    assert_int_equal(p->fan_in, fan_in);
}

/* The text of emitted MODEL.c and MODEL.h. */
static void emit(const compiled *c, char **ctext, char **htext)
{
    emit_model(&c->ir, ctext, htext);
    assert_non_null(*ctext);
    assert_non_null(*htext);
}

/* The body of `static void NAME(` up to its closing brace (malloc'd). */
static char *function_text(const char *ctext, const char *name)
{
    char head[160];
    snprintf(head, sizeof head, "static void %s(", name);
    const char *at = strstr(ctext, head);
    if (!at)
        fail_msg("no function %s in the generated C", name);
    const char *end = strstr(at, "\n}\n");
    assert_non_null(end);
    return strndup(at, (size_t)(end - at + 3));
}

/* Arena planning: buffers alive at the same time never share memory. */
static void check_plan(const ir_model *m)
{
    size_t largest = 0;
    assert_true(m->nbufs > 0);
    for (int i = 0; i < m->nbufs; i++) {
        const ir_buf *a = &m->bufs[i];
        assert_int_equal(a->offset % 16, 0);
        assert_true(a->first <= a->last);
        assert_true(a->offset + a->size <= m->arena_per_image);
        if (a->size > largest)
            largest = a->size;
        for (int j = i + 1; j < m->nbufs; j++) {
            const ir_buf *b = &m->bufs[j];
            int live_together = a->first <= b->last && b->first <= a->last;
            int share = a->offset < b->offset + b->size && b->offset < a->offset + a->size;
            if (live_together && share)
                fail_msg("%s [%d..%d] at %zu+%zu overlaps %s [%d..%d] at %zu+%zu", a->name, a->first, a->last,
                         a->offset, a->size, b->name, b->first, b->last, b->offset, b->size);
        }
    }
    assert_true(m->arena_per_image >= largest);
}

/* ---- the good models -------------------------------------------------------- */

static void test_fmnist_compiles_cleanly(void **state)
{
    compiled c;
    compile_ok_as(FMNIST, FMNIST, &c);
    assert_string_equal(c.ir.name, "fmnist_cae");
    assert_string_equal(c.base, "fmnist_cae.ae");
    assert_int_equal(c.ir.loss, LOSS_MSE);
    assert_int_equal(c.ir.optim.kind, OPT_ADAM);
    assert_true(c.ir.optim.lr == 1e-3f);
    assert_true(c.ir.optim.weight_decay == 1e-5f);
    assert_int_equal(c.ir.batch, 128);
    assert_int_equal(c.ir.epochs, 40);
    assert_int_equal(c.ir.seed, 1);
    assert_shape(c.ir.input, 1, 28, 28, 0);
    assert_true(c.ir.lo == 0.0f && c.ir.hi == 1.0f);
    compiled_free(&c);
}

static void test_fmnist_parameter_count(void **state)
{
    compiled c;
    compile_ok_as(FMNIST, FMNIST, &c);
    assert_int_equal(c.ir.n_param_floats, 442177);
    assert_int_equal(c.ir.nparams, 12);
    size_t sum = 0;
    for (int i = 0; i < c.ir.nparams; i++) {
        assert_int_equal(c.ir.params[i].offset, sum);   /* packed, in order */
        sum += c.ir.params[i].numel;
    }
    assert_int_equal(sum, 442177);
    compiled_free(&c);
}

/* state_dict names and shapes of the PyTorch twin, and torch's fan_in
 * (Conv2d: in*k*k; ConvTranspose2d: weight.size(1)*k*k = out*k*k; Linear: in;
 * a bias uses its weight's). */
static void test_fmnist_state_dict(void **state)
{
    compiled c;
    compile_ok_as(FMNIST, FMNIST, &c);
    const ir_param *p = c.ir.params;
    assert_param(&p[0], "conv1.weight", 4, 32, 1, 3, 3, 9);
    assert_param(&p[1], "conv1.bias", 1, 32, 0, 0, 0, 9);
    assert_param(&p[2], "conv2.weight", 4, 64, 32, 3, 3, 288);
    assert_param(&p[3], "conv2.bias", 1, 64, 0, 0, 0, 288);
    assert_param(&p[4], "code.weight", 2, 64, 3136, 0, 0, 3136);
    assert_param(&p[5], "code.bias", 1, 64, 0, 0, 0, 3136);
    assert_param(&p[6], "fc.weight", 2, 3136, 64, 0, 0, 64);
    assert_param(&p[7], "fc.bias", 1, 3136, 0, 0, 0, 64);
    assert_param(&p[8], "up1.weight", 4, 64, 32, 3, 3, 288);
    assert_param(&p[9], "up1.bias", 1, 32, 0, 0, 0, 288);
    assert_param(&p[10], "up2.weight", 4, 32, 1, 3, 3, 9);
    assert_param(&p[11], "up2.bias", 1, 1, 0, 0, 0, 9);
    compiled_free(&c);
}

static void test_fmnist_layer_shapes(void **state)
{
    compiled c;
    compile_ok_as(FMNIST, FMNIST, &c);
    const ir_model *m = &c.ir;
    static const char *const names[] = {"conv1", "conv2", "enc_flatten1", "code",
                                        "fc", "dec_unflatten1", "up1", "up2"};
    static const int lines[] = {6, 7, 8, 9, 13, 14, 15, 16};
    assert_int_equal(m->nlayers, 8);
    assert_int_equal(m->n_encoder, 4);
    for (int i = 0; i < 8; i++) {
        assert_string_equal(m->layers[i].name, names[i]);
        assert_int_equal(m->layers[i].line, lines[i]);
        assert_int_equal(m->layers[i].in_decoder, i >= 4);
    }
    assert_shape(m->layers[0].out, 32, 14, 14, 0);
    assert_shape(m->layers[1].out, 64, 7, 7, 0);
    assert_shape(m->layers[2].out, 3136, 1, 1, 1);
    assert_shape(m->layers[3].out, 64, 1, 1, 1);
    assert_shape(m->layers[4].out, 3136, 1, 1, 1);
    assert_shape(m->layers[5].out, 64, 7, 7, 0);
    assert_shape(m->layers[6].out, 32, 14, 14, 0);
    assert_shape(m->layers[7].out, 1, 28, 28, 0);
    for (int i = 1; i < 8; i++)     /* each layer reads the one before */
        assert_memory_equal(&m->layers[i].in, &m->layers[i - 1].out, sizeof(ir_shape));
    assert_shape(m->layers[0].in, 1, 28, 28, 0);
    compiled_free(&c);
}

static void test_fmnist_settings_and_activations(void **state)
{
    compiled c;
    compile_ok_as(FMNIST, FMNIST, &c);
    const ir_model *m = &c.ir;
    static const ir_act acts[] = {ACT_RELU, ACT_RELU, ACT_NONE, ACT_NONE,
                                  ACT_RELU, ACT_NONE, ACT_RELU, ACT_SIGMOID};
    for (int i = 0; i < 8; i++) {
        assert_int_equal(m->layers[i].act, acts[i]);
        assert_int_equal(m->layers[i].act_line, 0);     /* all on their layer's line */
    }
    const ir_layer *up1 = layer_named(m, "up1");
    assert_int_equal(up1->kind, IR_DECONV2D);
    assert_int_equal(up1->conv.out, 32);
    assert_int_equal(up1->conv.kernel, 3);
    assert_int_equal(up1->conv.stride, 2);
    assert_int_equal(up1->conv.pad, 1);
    assert_int_equal(up1->conv.out_pad, 1);
    assert_int_equal(layer_named(m, "conv1")->conv.out_pad, 0);
    assert_int_equal(layer_named(m, "code")->features, 64);
    assert_int_equal(layer_named(m, "conv1")->weight, 0);
    assert_int_equal(layer_named(m, "conv1")->bias, 1);
    assert_int_equal(layer_named(m, "enc_flatten1")->weight, -1);
    compiled_free(&c);
}

static void test_tiny_all_fuses_trailing_sigmoid(void **state)
{
    compiled c;
    compile_ok_as(TINY, TINY, &c);
    const ir_model *m = &c.ir;
    static const char *const names[] = {"c1", "c2", "enc_flatten1", "z", "d1",
                                        "dec_unflatten1", "dec_relu1", "u1", "u2"};
    assert_int_equal(m->nlayers, 9);
    assert_int_equal(m->n_encoder, 4);
    for (int i = 0; i < 9; i++)
        assert_string_equal(m->layers[i].name, names[i]);
    const ir_layer *u2 = layer_named(m, "u2");
    assert_int_equal(u2->act, ACT_SIGMOID);     /* the bare sigmoid on line 16 */
    assert_int_equal(u2->line, 15);
    assert_int_equal(u2->act_line, 16);
    assert_shape(u2->out, 2, 8, 8, 0);
    assert_int_equal(m->loss, LOSS_BCE);
    assert_int_equal(m->optim.kind, OPT_SGD);
    assert_true(m->optim.lr == 0.1f && m->optim.momentum == 0.9f);
    assert_int_equal(m->batch, 4);
    assert_int_equal(m->seed, 3);
    compiled_free(&c);
}

/* A bare relu after unflatten has no weighted layer to join: its own layer. */
static void test_tiny_all_keeps_relu_after_unflatten(void **state)
{
    compiled c;
    compile_ok_as(TINY, TINY, &c);
    const ir_layer *r = layer_named(&c.ir, "dec_relu1");
    assert_int_equal(r->kind, IR_ACT);
    assert_int_equal(r->act, ACT_RELU);
    assert_int_equal(r->line, 13);
    assert_int_equal(r->weight, -1);
    assert_shape(r->in, 3, 4, 4, 0);
    assert_shape(r->out, 3, 4, 4, 0);
    assert_int_equal(layer_named(&c.ir, "dec_unflatten1")->act, ACT_NONE);
    compiled_free(&c);
}

static void test_tiny_all_shapes_and_params(void **state)
{
    compiled c;
    compile_ok_as(TINY, TINY, &c);
    const ir_model *m = &c.ir;
    const ir_layer *c1 = layer_named(m, "c1");
    assert_int_equal(c1->act, ACT_LEAKY_RELU);
    assert_true(c1->slope == 0.2f);
    assert_int_equal(layer_named(m, "c2")->act, ACT_TANH);
    assert_shape(c1->out, 4, 4, 4, 0);
    assert_shape(layer_named(m, "c2")->out, 6, 3, 3, 0);
    assert_shape(layer_named(m, "enc_flatten1")->out, 54, 1, 1, 1);
    assert_shape(layer_named(m, "z")->out, 5, 1, 1, 1);
    assert_shape(layer_named(m, "d1")->out, 48, 1, 1, 1);
    assert_shape(layer_named(m, "u1")->out, 4, 8, 8, 0);
    assert_int_equal(m->nparams, 12);
    assert_param(&m->params[0], "c1.weight", 4, 4, 2, 3, 3, 18);
    assert_param(&m->params[2], "c2.weight", 4, 6, 4, 2, 2, 16);
    assert_param(&m->params[4], "z.weight", 2, 5, 54, 0, 0, 54);
    assert_param(&m->params[6], "d1.weight", 2, 48, 5, 0, 0, 5);
    assert_param(&m->params[8], "u1.weight", 4, 3, 4, 3, 3, 36);
    assert_param(&m->params[10], "u2.weight", 4, 4, 2, 3, 3, 18);
    assert_param(&m->params[11], "u2.bias", 1, 2, 0, 0, 0, 18);
    assert_int_equal(m->n_param_floats, 76 + 102 + 275 + 288 + 112 + 74);
    compiled_free(&c);
}

static void test_base_model_compiles(void **state)
{
    int rc;
    char *err = diagnose(BASE, &rc);
    assert_string_equal(err, "");
    assert_int_equal(rc, 0);
    free(err);
}

/* ---- lexer and parser errors --------------------------------------------- */

static void test_unexpected_character(void **state)
{
    expect_errors("model m {\n  input 1x28x28 range [0, 1] @\n}\n",
                  "t.ae:2:30: error: unexpected character '@'\n"
                  "    input 1x28x28 range [0, 1] @\n"
                  "                               ^\n");
}

static void test_unexpected_byte(void **state)
{
    expect_errors("model m {\n  \xc3\xa9\n}\n",
                  "t.ae:2:3: error: unexpected byte 0xc3\n"
                  "    ??\n"
                  "    ^\n");
}

static void test_bad_shape_zero(void **state)
{
    expect_errors("model m {\n  input 0x28x28 range [0, 1]\n}\n",
                  "t.ae:2:9: error: bad shape '0x28x28': at most 4 dimensions, each from 1 to 1000000\n"
                  "    input 0x28x28 range [0, 1]\n"
                  "          ^\n");
}

static void test_bad_shape_five_dims(void **state)
{
    expect_errors("model m {\n  input 1x1x1x1x1 range [0, 1]\n}\n",
                  "t.ae:2:9: error: bad shape '1x1x1x1x1': at most 4 dimensions, each from 1 to 1000000\n"
                  "    input 1x1x1x1x1 range [0, 1]\n"
                  "          ^\n");
}

/* A call spans lines: the missing ')' shows at the next token. */
static void test_missing_paren(void **state)
{
    expect_errors(with("pad=1) relu", "pad=1 relu"),
                  "t.ae:4:50: error: syntax error, unexpected name, expecting ',' or ')'\n"
                  "      conv1 = conv2d(32, kernel=3, stride=2, pad=1 relu\n"
                  "                                                   ^\n");
}

static void test_extra_paren(void **state)
{
    expect_errors(with("pad=1) relu", "pad=1)) relu"),
                  "t.ae:4:50: error: syntax error, unexpected ')', expecting '}'\n"
                  "      conv1 = conv2d(32, kernel=3, stride=2, pad=1)) relu\n"
                  "                                                   ^\n");
}

/* Was a bug, now fixed (a regression test): the same end-of-file position bug: 3:29, a column line 3 lacks. */
static void test_missing_close_brace_at_eof(void **state)
{
    expect_errors("model m {\n  input 1x28x28 range [0, 1]\n",
                  "t.ae:3:1: error: syntax error, unexpected end of file\n"
                  "  \n"
                  "  ^\n");
}

/* Was a bug, now fixed (a regression test): at end of file the position is the last line end's column on the
 * next (empty) line, e.g. 5:12 for this source, where the caret is at 1. */
static void test_eof_inside_encoder(void **state)
{
    expect_errors("model m {\n  input 1x28x28 range [0, 1]\n  encoder {\n    flatten\n",
                  "t.ae:5:1: error: syntax error, unexpected end of file, expecting '}'\n"
                  "  \n"
                  "  ^\n");
}

/* Was a bug, now fixed (a regression test): an unexpected line end is reported on the line after it (3:16 here):
 * the NEWLINE token takes yylineno after flex has counted it. */
static void test_unexpected_end_of_line(void **state)
{
    expect_errors("model m {\n  input 1x28x28\n  loss mse\n}\n",
                  "t.ae:2:16: error: syntax error, unexpected end of line, expecting 'range'\n"
                  "    input 1x28x28\n"
                  "                 ^\n");
}

static void test_stray_token_after_model(void **state)
{
    expect_errors("model m {\n  input 1x28x28 range [0, 1]\n}\n} extra\n",
                  "t.ae:4:1: error: syntax error, unexpected '}', expecting end of file\n"
                  "  } extra\n"
                  "  ^\n");
}

static void test_stray_number(void **state)
{
    expect_errors("model m {\n  input 1x28x28 range [0, 1] 5\n}\n",
                  "t.ae:2:30: error: syntax error, unexpected number\n"
                  "    input 1x28x28 range [0, 1] 5\n"
                  "                               ^\n");
}

static void test_second_input(void **state)
{
    expect_errors("model m {\n  input 1x28x28 range [0, 1]\n  input 1x28x28 range [0, 1]\n}\n",
                  "t.ae:3:3: error: a second 'input' line; a model has one input\n"
                  "    input 1x28x28 range [0, 1]\n"
                  "    ^\n");
}

static void test_second_encoder(void **state)
{
    expect_errors("model m {\n  input 1x28x28 range [0, 1]\n  encoder { flatten }\n  encoder { flatten }\n}\n",
                  "t.ae:4:3: error: a second 'encoder' block; put all its layers in one\n"
                  "    encoder { flatten }\n"
                  "    ^\n");
}

static void test_second_loss(void **state)
{
    expect_errors(with("  loss mse\n", "  loss mse\n  loss bce\n"),
                  "t.ae:14:8: error: a second 'loss' line; give it once\n"
                  "    loss bce\n"
                  "         ^\n");
}

/* Was a bug, now fixed (a regression test): the end-of-file token keeps the location of the last token lexed,
 * even from the previous compile_source in the same process: an empty file
 * compiled after another model is reported at that model's last line. */
static void test_empty_file(void **state)
{
    expect_errors("",
                  "t.ae:1:1: error: syntax error, unexpected end of file, expecting 'model'\n"
                  "  \n"
                  "  ^\n");
}

static void test_keyword_as_layer_name(void **state)
{
    expect_errors(with("code = linear(16)", "input = linear(16)"),
                  "t.ae:6:5: error: syntax error, unexpected 'input', expecting '}'\n"
                  "      input = linear(16)\n"
                  "      ^\n");
}

/* The source handed to compile_source may hold NUL bytes (compile_file
 * rejects them; compile_source must still not crash or stop early). */
static void test_nul_bytes(void **state)
{
    static const char src[] = "model m {\n  \0\0\0 input\n}\n";
    compiled c;
    char *err = NULL;
    int rc = compile_text(src, sizeof src - 1, &c, &err);
    assert_int_equal(rc, -1);
    assert_string_equal(err, "t.ae:2:3: error: unexpected byte 0x00\n"
                             "    ??? input\n"
                             "    ^\n");
    compiled_free(&c);
    free(err);
}

static void test_only_nul_bytes(void **state)
{
    char src[1000] = {0};
    compiled c;
    char *err = NULL;
    assert_int_equal(compile_text(src, sizeof src, &c, &err), -1);
    assert_non_null(strstr(err, "t.ae:1:1: error: unexpected byte 0x00\n"));
    compiled_free(&c);
    free(err);
}

/* Random bytes and random token soup: an error or a model, never a crash,
 * and an error message exactly when compile_source says it failed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void compile_any(const char *src, size_t len)
{
    compiled c;
    char *err = NULL;
    int rc = compile_text(src, len, &c, &err);
    if (rc == 0) {
        assert_string_equal(err, "");
        check_plan(&c.ir);
        char *ct, *ht;
        emit(&c, &ct, &ht);
        free(ct);
        free(ht);
    } else {
        assert_int_equal(rc, -1);
        assert_true(strncmp(err, "t.ae:", 5) == 0);
        assert_non_null(strstr(err, " error: "));
    }
    compiled_free(&c);
    free(err);
}

static void test_random_bytes(void **state)
{
    char buf[2048];
    for (int iter = 0; iter < 300; iter++) {
        size_t n = rnd() % sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)rnd();
        compile_any(buf, n);
    }
}

static void test_random_tokens(void **state)
{
    static const char *const toks[] = {
        "model ", "m ", "{", "}", "(", ")", "[", "]", "=", ",", "\n", "\n", "\n", "input ", "range ",
        "encoder ", "decoder ", "loss ", "optimizer ", "train", "1x28x28 ", "64x7x7 ", "0 ", "1 ", "3 ",
        "-1 ", "2.5 ", "1e-3 ", "conv2d", "deconv2d", "linear", "flatten ", "unflatten", "relu ",
        "sigmoid ", "leaky_relu", "tanh ", "kernel", "stride", "pad", "out_pad", "slope", "mse ", "bce ",
        "adam", "sgd", "lr", "batch", "x ", "int ", "# c\n"};
    enum { NT = sizeof toks / sizeof toks[0] };
    char buf[4096];
    for (int iter = 0; iter < 2000; iter++) {
        size_t n = 0;
        int k = (int)(rnd() % 120);
        if (rnd() % 2)
            n += (size_t)snprintf(buf, sizeof buf, "model m {\n");
        for (int t = 0; t < k && n + 32 < sizeof buf; t++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", toks[rnd() % NT]);
        compile_any(buf, n);
    }
}

/* Every one-byte deletion and every one-line deletion of the real model. */
static void test_mutations_of_fmnist(void **state)
{
    size_t len;
    char *src = slurp(FMNIST, &len), *buf = malloc(len + 1);
    assert_non_null(src);
    for (size_t i = 0; i < len; i++) {
        memcpy(buf, src, i);
        memcpy(buf + i, src + i + 1, len - i - 1);
        compile_any(buf, len - 1);
    }
    for (size_t start = 0; start < len;) {
        const char *nl = memchr(src + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - src) + 1 : len;
        memcpy(buf, src, start);
        memcpy(buf + start, src + end, len - end);
        compile_any(buf, start + len - end);
        start = end;
    }
    free(buf);
    free(src);
}

static void test_very_long_line(void **state)
{
    size_t n = 200000;
    char *src = malloc(n + 64);
    int k = sprintf(src, "model m {\n");
    memset(src + k, ' ', n);
    strcpy(src + k + n, "@\n}\n");
    compiled c;
    char *err = NULL;
    assert_int_equal(compile_text(src, strlen(src), &c, &err), -1);
    char want[64];
    snprintf(want, sizeof want, "t.ae:2:%zu: error: unexpected character '@'\n", n + 1);
    assert_true(strncmp(err, want, strlen(want)) == 0);
    assert_true(strlen(err) < 2000);    /* the quote is cut short */
    compiled_free(&c);
    free(err);
    free(src);
}

static void test_very_long_identifier(void **state)
{
    size_t n = 100000;
    char *src = malloc(n + 64);
    int k = sprintf(src, "model ");
    memset(src + k, 'a', n);
    strcpy(src + k + n, " {\n}\n");
    compiled c;
    char *err = NULL;
    assert_int_equal(compile_text(src, strlen(src), &c, &err), -1);
    assert_non_null(strstr(err, "t.ae:1:7: error: model name 'aaaa"));
    assert_non_null(strstr(err, "' must be at most 40 characters and not start with '_'\n"));
    compiled_free(&c);
    free(err);
    free(src);
}

static void test_deep_parentheses(void **state)
{
    size_t n = 100000;
    char *src = malloc(2 * n + 64);
    int k = sprintf(src, "model m {\n  train");
    memset(src + k, '(', n);
    memset(src + k + n, ')', n);
    strcpy(src + k + 2 * n, "\n}\n");
    compiled c;
    char *err = NULL;
    assert_int_equal(compile_text(src, strlen(src), &c, &err), -1);
    assert_non_null(strstr(err, "t.ae:2:9: error: syntax error, unexpected '('"));
    compiled_free(&c);
    free(err);
    /* and only opening ones, to the end of the file */
    src[k + n] = '\0';
    assert_int_equal(compile_text(src, strlen(src), &c, &err), -1);
    assert_non_null(strstr(err, " error: "));
    compiled_free(&c);
    free(err);
    free(src);
}

/* ---- semantic errors ---------------------------------------------------------- */

static void test_unknown_kind_did_you_mean(void **state)
{
    expect_errors(with("conv2d(32", "conv2(32"),
                  "t.ae:4:13: error: unknown layer kind 'conv2'; did you mean 'conv2d'?\n"
                  "      conv1 = conv2(32, kernel=3, stride=2, pad=1) relu\n"
                  "              ^\n");
}

static void test_unknown_kind_no_suggestion(void **state)
{
    expect_errors(with("flatten", "batchnorm"),
                  "t.ae:5:5: error: unknown layer kind 'batchnorm'; expected conv2d, deconv2d, linear, "
                  "flatten, unflatten, relu, leaky_relu, sigmoid or tanh\n"
                  "      batchnorm\n"
                  "      ^\n");
}

static void test_pytorch_key_synonym(void **state)
{
    expect_errors(with("pad=1)", "padding=1)"),
                  "t.ae:4:44: error: conv2d has no argument 'padding'; did you mean 'pad'?\n"
                  "      conv1 = conv2d(32, kernel=3, stride=2, padding=1) relu\n"
                  "                                             ^\n");
}

static void test_misspelt_key(void **state)
{
    expect_errors(with("kernel=3", "kernal=3"),
                  "t.ae:4:24: error: conv2d has no argument 'kernal'; did you mean 'kernel'?\n"
                  "      conv1 = conv2d(32, kernal=3, stride=2, pad=1) relu\n"
                  "                         ^\n");
}

static void test_unknown_activation(void **state)
{
    expect_errors(with(") relu", ") relux"),
                  "t.ae:4:51: error: unknown activation 'relux'; did you mean 'relu'?\n"
                  "      conv1 = conv2d(32, kernel=3, stride=2, pad=1) relux\n"
                  "                                                    ^\n");
}

static void test_layer_kind_as_activation(void **state)
{
    expect_errors(with(") relu", ") linear(3)"),
                  "t.ae:4:51: error: unknown activation 'linear'; expected relu, leaky_relu, sigmoid or tanh\n"
                  "      conv1 = conv2d(32, kernel=3, stride=2, pad=1) linear(3)\n"
                  "                                                    ^\n");
}

static void test_activation_after_activation(void **state)
{
    expect_errors(with("    flatten\n", "    flatten\n    relu sigmoid\n"),
                  "t.ae:6:10: error: an activation follows a layer, not another activation\n"
                  "      relu sigmoid\n"
                  "           ^\n");
}

static void test_non_integer_kernel(void **state)
{
    expect_errors(with("kernel=3", "kernel=2.5"),
                  "t.ae:4:31: error: conv2d: 'kernel' must be a whole number, not '2.5'\n"
                  "      conv1 = conv2d(32, kernel=2.5, stride=2, pad=1) relu\n"
                  "                                ^\n");
}

static void test_kernel_not_a_number(void **state)
{
    expect_errors(with("kernel=3", "kernel=big"),
                  "t.ae:4:31: error: conv2d: 'kernel' must be a number, not 'big'\n"
                  "      conv1 = conv2d(32, kernel=big, stride=2, pad=1) relu\n"
                  "                                ^\n");
}

static void test_stride_zero(void **state)
{
    expect_errors(with("stride=2", "stride=0"),
                  "t.ae:4:41: error: conv2d: 'stride' must be from 1 to 64, not 0\n"
                  "      conv1 = conv2d(32, kernel=3, stride=0, pad=1) relu\n"
                  "                                          ^\n");
}

static void test_negative_pad(void **state)
{
    expect_errors(with("pad=1)", "pad=-1)"),
                  "t.ae:4:48: error: conv2d: 'pad' must be from 0 to 64, not -1\n"
                  "      conv1 = conv2d(32, kernel=3, stride=2, pad=-1) relu\n"
                  "                                                 ^\n");
}

static void test_out_pad_not_below_stride(void **state)
{
    expect_errors(with("out_pad=1", "out_pad=2"),
                  "t.ae:11:10: error: deconv2d 'up': out_pad (2) must be smaller than stride (2), as in PyTorch\n"
                  "      up = deconv2d(1, kernel=3, stride=2, pad=1, out_pad=2) sigmoid\n"
                  "           ^\n");
}

static void test_missing_required_argument(void **state)
{
    expect_errors(with(", kernel=3, stride=2, pad=1)", ", stride=2, pad=1)"),
                  "t.ae:4:13: error: conv2d needs 'kernel'\n"
                  "      conv1 = conv2d(32, stride=2, pad=1) relu\n"
                  "              ^\n");
}

static void test_argument_given_twice(void **state)
{
    expect_errors(with("pad=1)", "pad=1, pad=1)"),
                  "t.ae:4:51: error: conv2d: 'pad' is given twice\n"
                  "      conv1 = conv2d(32, kernel=3, stride=2, pad=1, pad=1) relu\n"
                  "                                                    ^\n");
}

static void test_positional_then_same_key(void **state)
{
    expect_errors(with("linear(16)", "linear(16, out=8)"),
                  "t.ae:6:23: error: linear: 'out' is given twice\n"
                  "      code = linear(16, out=8)\n"
                  "                        ^\n");
}

static void test_second_positional_needs_name(void **state)
{
    expect_errors(with("kernel=3", "3"),
                  "t.ae:4:24: error: conv2d: give this argument with its name, as kernel=3\n"
                  "      conv1 = conv2d(32, 3, stride=2, pad=1) relu\n"
                  "                         ^\n");
}

/* Was a bug, now fixed (a regression test): linear takes one argument; the message for a second one says
 * "name this argument (out=...)", suggesting the key already given. */
static void test_too_many_positional_arguments(void **state)
{
    int rc;
    char *err = diagnose(with("linear(16)", "linear(16, 3)"), &rc);
    assert_int_equal(rc, -1);
    assert_true(strncmp(err, "t.ae:6:23: error: ", 18) == 0);
    assert_null(strstr(err, "(out=...)"));
    free(err);
}

static void test_arguments_to_argless_call(void **state)
{
    expect_errors(with("    flatten\n", "    flatten(2)\n"),
                  "t.ae:5:13: error: flatten takes no arguments\n"
                  "      flatten(2)\n"
                  "              ^\n");
    expect_errors(with(") relu", ") relu(slope=1)"),
                  "t.ae:4:56: error: relu takes no arguments\n"
                  "      conv1 = conv2d(32, kernel=3, stride=2, pad=1) relu(slope=1)\n"
                  "                                                         ^\n");
}

static void test_duplicate_layer_name(void **state)
{
    expect_errors(with("code = linear", "conv1 = linear"),
                  "t.ae:6:5: error: a second layer named 'conv1' (the first is on line 4)\n"
                  "      conv1 = linear(16)\n"
                  "      ^\n");
}

static void test_reserved_layer_name(void **state)
{
    expect_errors(with("conv1 =", "int ="),
                  "t.ae:4:5: error: 'int' is reserved in the generated C; choose another layer name\n"
                  "      int = conv2d(32, kernel=3, stride=2, pad=1) relu\n"
                  "      ^\n");
}

static void test_layer_name_too_long(void **state)
{
    expect_errors(with("code =", "_code ="),
                  "t.ae:6:5: error: layer name '_code' must be at most 40 characters and not start with '_'\n"
                  "      _code = linear(16)\n"
                  "      ^\n");
}

static void test_linear_on_image(void **state)
{
    expect_errors(with("    flatten\n", ""),
                  "t.ae:5:12: error: linear 'code' needs a flat input, but its input is 32x14x14; add flatten before it\n"
                  "      code = linear(16)\n"
                  "             ^\n");
}

static void test_conv_on_flat(void **state)
{
    expect_errors(with("    unflatten(32x14x14)\n", ""),
                  "t.ae:10:10: error: deconv2d 'up' needs an image input (CxHxW), "
                  "but its input is 6272; add unflatten before it\n"
                  "      up = deconv2d(1, kernel=3, stride=2, pad=1, out_pad=1) sigmoid\n"
                  "           ^\n");
}

static void test_flatten_twice(void **state)
{
    expect_errors(with("    flatten\n", "    flatten\n    flatten\n"),
                  "t.ae:6:5: error: flatten 'enc_flatten2' needs an image input, but its input is 6272; it is already flat\n"
                  "      flatten\n"
                  "      ^\n");
}

static void test_unflatten_wrong_count(void **state)
{
    expect_errors(with("32x14x14", "32x14x15"),
                  "t.ae:10:5: error: unflatten 'dec_unflatten1' needs a flat input of 6720 features for 32x14x15, "
                  "but its input is 6272\n"
                  "      unflatten(32x14x15)\n"
                  "      ^\n");
}

static void test_unflatten_needs_three_dims(void **state)
{
    expect_errors(with("32x14x14", "32x196"),
                  "t.ae:10:15: error: unflatten: 'shape' must be a shape CxHxW, like 64x7x7, not '32x196'\n"
                  "      unflatten(32x196)\n"
                  "                ^\n");
}

static void test_kernel_larger_than_input(void **state)
{
    expect_errors(with("kernel=3, stride=2, pad=1", "kernel=31"),
                  "t.ae:4:13: error: conv2d 'conv1' needs an input at least as large as its kernel (with padding), "
                  "but its input is 1x28x28\n"
                  "      conv1 = conv2d(32, kernel=31) relu\n"
                  "              ^\n");
}

static void test_kernel_fits_only_with_padding(void **state)
{
    compiled c;
    char *err = NULL;
    const char *src = with("kernel=3, stride=2, pad=1", "kernel=30, stride=2, pad=1");
    assert_int_equal(compile_text(src, strlen(src), &c, &err), 0);   /* 28 + 2*1 = 30 */
    assert_string_equal(err, "");
    assert_shape(layer_named(&c.ir, "conv1")->out, 32, 1, 1, 0);
    assert_int_equal(layer_named(&c.ir, "code")->in.c, 32);
    compiled_free(&c);
    free(err);
}

static void test_output_shape_differs(void **state)
{
    expect_errors(with("deconv2d(1,", "deconv2d(2,"),
                  "t.ae:11:5: error: the decoder ends in 2x28x28 here, but the input is 1x28x28; "
                  "an autoencoder's output must have the input's shape\n"
                  "      up = deconv2d(2, kernel=3, stride=2, pad=1, out_pad=1) sigmoid\n"
                  "      ^\n");
}

static void test_bce_needs_sigmoid(void **state)
{
    const char *src = with(") sigmoid\n", ")\n");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", src);
    char *at = strstr(buf, "loss mse");
    memcpy(at, "loss bce", 8);
    expect_errors(buf,
                  "t.ae:13:8: error: loss bce needs outputs in (0, 1): end the decoder with sigmoid "
                  "(its last layer 'up' is not)\n"
                  "    loss bce\n"
                  "         ^\n");
}

/* Was a bug, now fixed (a regression test): unflatten only moves values, so sigmoid -> unflatten
 * still ends in (0, 1); the classic MLP autoencoder is rejected for bce. */
static void test_bce_accepts_sigmoid_then_unflatten(void **state)
{
    int rc;
    char *err = diagnose("model mlp {\n  input 1x28x28 range [0, 1]\n"
                         "  encoder {\n    flatten\n    code = linear(32) relu\n  }\n"
                         "  decoder {\n    out = linear(784) sigmoid\n    unflatten(1x28x28)\n  }\n"
                         "  loss bce\n}\n", &rc);
    assert_string_equal(err, "");
    assert_int_equal(rc, 0);
    free(err);
}

static void test_missing_input_line(void **state)
{
    expect_errors("model m {\n  loss mse\n}\n",
                  "t.ae:1:7: error: model 'm' has no input line (e.g. input 1x28x28 range [0, 1])\n"
                  "  model m {\n"
                  "        ^\n");
}

static void test_input_not_an_image(void **state)
{
    expect_errors(with("1x28x28 range", "28x28 range"),
                  "t.ae:2:9: error: input must be an image shape CxHxW, like 1x28x28, not '28x28'\n"
                  "    input 28x28 range [0, 1]\n"
                  "          ^\n");
}

static void test_missing_loss_line(void **state)
{
    expect_errors(with("  loss mse\n", ""),
                  "t.ae:1:7: error: model 'm' has no loss line (loss mse or loss bce)\n"
                  "  model m {\n"
                  "        ^\n");
}

static void test_unknown_loss(void **state)
{
    expect_errors(with("loss mse", "loss l1"),
                  "t.ae:13:8: error: unknown loss 'l1'; expected mse or bce\n"
                  "    loss l1\n"
                  "         ^\n");
}

static void test_unknown_optimizer(void **state)
{
    expect_errors(with("adam(lr=1e-3)", "adamw(lr=1e-3)"),
                  "t.ae:14:13: error: unknown optimizer 'adamw'; did you mean 'adam'?\n"
                  "    optimizer adamw(lr=1e-3)\n"
                  "              ^\n");
}

static void test_sgd_needs_lr(void **state)
{
    expect_errors(with("adam(lr=1e-3)", "sgd"),
                  "t.ae:14:13: error: sgd needs 'lr'\n"
                  "    optimizer sgd\n"
                  "              ^\n");
}

static void test_train_setting_errors(void **state)
{
    expect_errors(with("batch=8", "batch_size=8"),
                  "t.ae:15:9: error: train has no argument 'batch_size'; did you mean 'batch'?\n"
                  "    train(batch_size=8, epochs=1, seed=2)\n"
                  "          ^\n");
    expect_errors(with("batch=8", "batch=0"),
                  "t.ae:15:15: error: train: 'batch' must be from 1 to 65536, not 0\n"
                  "    train(batch=0, epochs=1, seed=2)\n"
                  "                ^\n");
}

static void test_defaults_without_optimizer_and_train(void **state)
{
    compiled c;
    char *err = NULL;
    const char *src = with("  optimizer adam(lr=1e-3)\n  train(batch=8, epochs=1, seed=2)\n", "");
    assert_int_equal(compile_text(src, strlen(src), &c, &err), 0);
    assert_string_equal(err, "");
    assert_int_equal(c.ir.optim.kind, OPT_ADAM);
    assert_true(c.ir.optim.lr == 1e-3f && c.ir.optim.beta1 == 0.9f && c.ir.optim.beta2 == 0.999f);
    assert_int_equal(c.ir.batch, 64);
    assert_int_equal(c.ir.epochs, 10);
    assert_int_equal(c.ir.seed, 1);
    compiled_free(&c);
    free(err);
}

static void test_range_low_not_below_high(void **state)
{
    expect_errors(with("[0, 1]", "[1, 1]"),
                  "t.ae:2:24: error: input range [1, 1] must have its low end below its high end\n"
                  "    input 1x28x28 range [1, 1]\n"
                  "                         ^\n");
    expect_errors(with("[0, 1]", "[2, -1]"),
                  "t.ae:2:24: error: input range [2, -1] must have its low end below its high end\n"
                  "    input 1x28x28 range [2, -1]\n"
                  "                         ^\n");
}

/* Was a bug, now fixed (a regression test): a range beyond +-1e6 is rejected with a message that says the low
 * end is not below the high end, which is false for [0, 2e6]. */
static void test_range_too_wide_message(void **state)
{
    int rc;
    char *err = diagnose(with("[0, 1]", "[0, 2e6]"), &rc);
    assert_int_equal(rc, -1);
    assert_true(strncmp(err, "t.ae:2:", 7) == 0);
    assert_null(strstr(err, "must have its low end below its high end"));
    free(err);
}

static void test_empty_encoder(void **state)
{
    const char *src = "model m {\n  input 1x28x28 range [0, 1]\n  encoder {\n  }\n"
                      "  decoder {\n    flatten\n  }\n  loss mse\n}\n";
    expect_errors(src,
                  "t.ae:3:3: error: the model needs a non-empty encoder block\n"
                  "    encoder {\n"
                  "    ^\n");
}

static void test_missing_decoder(void **state)
{
    const char *src = "model m {\n  input 1x28x28 range [0, 1]\n  encoder {\n    flatten\n  }\n  loss mse\n}\n";
    expect_errors(src,
                  "t.ae:1:7: error: the model needs a non-empty decoder block\n"
                  "  model m {\n"
                  "        ^\n");
}

/* Was a bug, now fixed (a regression test): conv2d/deconv2d weights are not size-checked (linear's are, at
 * 2^28): this model has two 2^29-float weights, 4 GiB of parameters. */
static void test_huge_conv_weights_rejected(void **state)
{
    int rc;
    char *err = diagnose("model m {\n  input 2x64x64 range [0, 1]\n"
                         "  encoder {\n    big = conv2d(65536, kernel=64)\n  }\n"
                         "  decoder {\n    up = deconv2d(2, kernel=64)\n  }\n  loss mse\n}\n", &rc);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "too large"));
    free(err);
}

static void test_huge_linear_rejected(void **state)
{
    expect_errors(with("code = linear(16)", "code = linear(65536)"),
                  "t.ae:6:12: error: layer 'code' is too large (more than 2^26 outputs or 2^28 weights per image)\n"
                  "      code = linear(65536)\n"
                  "             ^\n");
}

/* ---- naming and the generated C's identifiers ------------------------------- */

/* Was a bug, now fixed (a regression test): a layer named like the model gives two functions CODE_backward (the
 * layer's and the model's); the generated C does not compile. */
static void test_layer_named_like_model(void **state)
{
    int rc;
    char *err = diagnose(with("model m {", "model code {"), &rc);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "'code'"));
    free(err);
}

/* Was a bug, now fixed (a regression test): a model named aec writes aec.h, which shadows the runtime's aec.h
 * (and aec_model is the runtime's type name); the C does not compile. */
static void test_model_named_aec(void **state)
{
    int rc;
    char *err = diagnose(with("model m {", "model aec {"), &rc);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "t.ae:1:7: error: "));
    free(err);
}

static void test_fused_activation_line(void **state)
{
    compiled c;
    char *err = NULL;
    const char *src = with(") sigmoid\n", ")\n    sigmoid\n");
    assert_int_equal(compile_text(src, strlen(src), &c, &err), 0);
    const ir_layer *up = layer_named(&c.ir, "up");
    assert_int_equal(up->act, ACT_SIGMOID);
    assert_int_equal(up->act_line, 12);
    assert_int_equal(c.ir.nlayers, 6);
    compiled_free(&c);
    free(err);
}

/* A bare activation is never fused across the encoder/decoder boundary. */
static void test_no_fusion_across_latent(void **state)
{
    compiled c;
    char *err = NULL;
    const char *src = with("    fc = linear", "    tanh\n    fc = linear");
    assert_int_equal(compile_text(src, strlen(src), &c, &err), 0);
    assert_string_equal(err, "");
    assert_int_equal(c.ir.n_encoder, 3);
    assert_int_equal(c.ir.layers[2].act, ACT_NONE);     /* code */
    assert_string_equal(c.ir.layers[3].name, "dec_tanh1");
    assert_int_equal(c.ir.layers[3].kind, IR_ACT);
    compiled_free(&c);
    free(err);
}

static void test_bare_activation_in_encoder_fused(void **state)
{
    compiled c;
    char *err = NULL;
    const char *src = with("    code = linear(16)\n", "    code = linear(16)\n    leaky_relu(0.3)\n");
    assert_int_equal(compile_text(src, strlen(src), &c, &err), 0);
    assert_int_equal(c.ir.n_encoder, 3);
    const ir_layer *code = layer_named(&c.ir, "code");
    assert_int_equal(code->act, ACT_LEAKY_RELU);
    assert_true(code->slope == 0.3f);
    assert_int_equal(code->act_line, 7);
    compiled_free(&c);
    free(err);
}

/* ---- emission --------------------------------------------------------------------- */

/* ---- schedules ------------------------------------------------------------- */

/* BASE with a schedule block of the given lines after the train line (line 16 on). */
static const char *scheduled(const char *lines)
{
    static char buf[4096];
    char block[1024];
    snprintf(block, sizeof block, "  train(batch=8, epochs=1, seed=2)\n  schedule {\n%s  }\n", lines);
    snprintf(buf, sizeof buf, "%s", with("  train(batch=8, epochs=1, seed=2)\n", block));
    return buf;
}

/* BASE with these schedule lines, compiled: no error allowed. */
static void compile_scheduled(const char *lines, compiled *c)
{
    char *err = NULL;
    const char *src = scheduled(lines);
    assert_int_equal(compile_text(src, strlen(src), c, &err), 0);
    assert_string_equal(err, "");
    free(err);
}

static void test_schedule_defaults_and_overrides(void **state)
{
    compiled c;
    char *err = NULL;
    const char *src = scheduled("    conv1 = direct(threads=2, unroll=4)\n"
                                "    up.backward = gemm(tile=4, threads=1)\n");
    assert_int_equal(compile_text(src, strlen(src), &c, &err), 0);
    assert_string_equal(err, "");
    const ir_layer *conv1 = layer_named(&c.ir, "conv1"), *up = layer_named(&c.ir, "up");
    for (int p = PASS_FWD; p <= PASS_BWD; p++) {
        assert_int_equal(conv1->sched[p].lowering, LOWER_DIRECT);
        assert_int_equal(conv1->sched[p].threads, 2);
        assert_int_equal(conv1->sched[p].unroll, 4);
        assert_int_equal(conv1->sched[p].line, 17);
    }
    assert_int_equal(up->sched[PASS_BWD].lowering, LOWER_GEMM);
    assert_int_equal(up->sched[PASS_BWD].tile, 4);
    assert_int_equal(up->sched[PASS_BWD].threads, 1);
    assert_int_equal(up->sched[PASS_BWD].line, 18);
    assert_int_equal(up->sched[PASS_FWD].line, 0);     /* the forward pass keeps aec's choice */
    assert_int_equal(c.ir.workers, 0);                  /* a light model: one slice per core */
    assert_int_equal(c.ir.workers_line, 0);
    free(err);
    compiled_free(&c);
    src = scheduled("    model = split(workers=1)\n");
    assert_int_equal(compile_text(src, strlen(src), &c, &err), 0);
    assert_string_equal(err, "");
    assert_int_equal(c.ir.workers, 1);
    assert_int_equal(c.ir.workers_line, 17);
    free(err);
    compiled_free(&c);
}

/* Where the block says nothing, aec picks from the shapes: a direct pass
 * where the direct kernels' shapes win (the layer's own forward, and for a
 * conv2d's backward pass its transposed convolution, the input gradient):
 * more than one output channel; gemm everywhere else, and for a first
 * layer's and a deconv2d's backward pass. */
static void expect_lowering(const compiled *c, const char *name, ir_lowering fwd, int ftile, ir_lowering bwd,
                            int btile)
{
    const ir_layer *l = layer_named(&c->ir, name);
    assert_non_null(l);
    assert_int_equal(l->sched[PASS_FWD].lowering, fwd);
    assert_int_equal(l->sched[PASS_BWD].lowering, bwd);
    for (int p = PASS_FWD; p <= PASS_BWD; p++) {
        assert_int_equal(l->sched[p].line, 0);
        assert_int_equal(l->sched[p].threads, 0);
    }
    assert_int_equal(l->sched[PASS_FWD].tile, ftile);
    assert_int_equal(l->sched[PASS_BWD].tile, btile);
}

#define D LOWER_DIRECT
#define G LOWER_GEMM
#define W LOWER_WINOGRAD

static void test_schedule_defaults_from_shapes(void **state)
{
    compiled c;
    compile_ok_as(CELEBA, CELEBA, &c);
    /* kernel 4, stride 2 and 8 channels or more: winograd; direct tiles: the
     * fewest outputs computed and dropped per image, in blocks of 16 x 3,
     * within 1 MiB (winograd: 2 MiB); gemm tiles: columns within 2 MiB */
    expect_lowering(&c, "conv1", D, 1, D, 2);          /* 3 input channels; the first layer: its weight gradient */
    expect_lowering(&c, "conv2", W, 2, W, 3);
    expect_lowering(&c, "conv3", W, 8, W, 2);          /* din: a deconv2d */
    expect_lowering(&c, "up1", W, 2, W, 8);            /* din: a conv2d of kernel 4, stride 2 */
    expect_lowering(&c, "up2", W, 3, W, 2);
    expect_lowering(&c, "up3", D, 2, G, 10);           /* 3 output channels: the weight gradient's vectors */
    expect_lowering(&c, "fc", G, 0, G, 0);
    const ir_layer *up1 = layer_named(&c.ir, "up1");
    ir_sched direct = { .lowering = LOWER_DIRECT, .tile = 2 };
    lower_direct d = lower_direct_of(up1, &direct, 64);
    assert_int_equal(d.phases, 4);                     /* stride 2: four output phases */
    assert_int_equal(d.R, 8);
    assert_int_equal(d.V, 3);
    assert_int_equal(d.cols, 9);                       /* 8 input columns, one zero between images */
    assert_int_equal(d.nqp, 144);                      /* 8 rows of 2 images x 9: three blocks of 48 */
    assert_int_equal(d.wino, 0);
    d = lower_direct_of(up1, &up1->sched[PASS_FWD], 64);
    assert_int_equal(d.wino, 1);
    assert_int_equal(d.K, 128);                        /* every input channel's one plane */
    assert_int_equal(d.ntx, 9);                        /* a row of 2 x 9 columns */
    assert_int_equal(d.nty, 5);                        /* 8 output rows from the largest base, row + 1 */
    assert_int_equal(d.nvp, 48);                       /* 45 tiles: one block */
    assert_int_equal(d.guard, 32);                     /* that base, 19, in whole 16s */
    ir_layer din = ir_din_layer(layer_named(&c.ir, "conv2"));
    assert_string_equal(din.name, "conv2_din");
    assert_int_equal(din.kind, IR_DECONV2D);           /* 64x16x16 -> 32x32x32 */
    assert_int_equal(din.in.c, 64);
    assert_int_equal(din.out.h, 32);
    compiled_free(&c);
    compile_ok_as(FMNIST, FMNIST, &c);
    expect_lowering(&c, "conv1", G, 0, D, 32);         /* one input channel: gemm; its weight gradient direct */
    expect_lowering(&c, "conv2", D, 16, D, 16);        /* 7 x 7 outputs: rows padded to 8, still direct */
    expect_lowering(&c, "up1", D, 16, D, 16);
    expect_lowering(&c, "up2", G, 0, G, 0);            /* one output channel */
    compiled_free(&c);
}

#undef D
#undef G
#undef W

static void test_schedule_errors(void **state)
{
    expect_errors(scheduled("    conv2 = gemm()\n"),
                  "t.ae:17:5: error: no layer 'conv2' to schedule; did you mean 'conv1'?\n"
                  "      conv2 = gemm()\n      ^\n");
    expect_errors(scheduled("    conv1.forwrd = gemm()\n"),
                  "t.ae:17:11: error: unknown pass 'forwrd': a schedule line names 'forward' or "
                  "'backward' (or neither, for both), or a layer's 'output'\n      conv1.forwrd = gemm()\n"
                  "            ^\n");
    expect_errors(scheduled("    code = direct()\n"),
                  "t.ae:17:12: error: direct lowering of a linear is for its forward pass (its backward pass "
                  "is gemm): write code.forward = direct()\n      code = direct()\n             ^\n");
    expect_errors(scheduled("    code.forward = direct(tile=4)\n"),
                  "t.ae:17:27: error: the direct product of a linear takes no settings: write "
                  "code.forward = direct()\n      code.forward = direct(tile=4)\n                            ^\n");
    expect_errors(scheduled("    code.forward = winograd()\n"),
                  "t.ae:17:20: error: winograd lowering is for conv2d and deconv2d; 'code' is a linear\n"
                  "      code.forward = winograd()\n                     ^\n");
    expect_errors(scheduled("    conv1 = gem()\n"),
                  "t.ae:17:13: error: unknown lowering 'gem'; did you mean 'gemm'?: use gemm(...), "
                  "direct(...) or winograd(...)\n      conv1 = gem()\n              ^\n");
    char strided[4096];      /* conv1 with stride 1: 3 x 3 taps in its one phase */
    snprintf(strided, sizeof strided, "%s", scheduled("    conv1 = winograd()\n"));
    memcpy(strstr(strided, "stride=2"), "stride=1", 8);
    expect_errors(strided, "t.ae:17:13: error: winograd lowering needs at most 2 x 2 taps a phase (kernel <= "
                  "2 x stride); 'conv1' has kernel 3, stride 1\n      conv1 = winograd()\n              ^\n");
    expect_errors(scheduled("    conv1 = gemm(thread=2)\n"),
                  "t.ae:17:18: error: unknown schedule setting 'thread' (they are unroll, threads and "
                  "tile); did you mean 'threads'?\n      conv1 = gemm(thread=2)\n                   ^\n");
    expect_errors(scheduled("    conv1 = gemm(threads=1.5)\n"),
                  "t.ae:17:26: error: threads must be a whole number from 0 to 256, not '1.5'\n"
                  "      conv1 = gemm(threads=1.5)\n                           ^\n");
    expect_errors(scheduled("    conv1 = gemm(unroll=4, unroll=2)\n"),
                  "t.ae:17:28: error: 'unroll' is given twice\n"
                  "      conv1 = gemm(unroll=4, unroll=2)\n                             ^\n");
    expect_errors(scheduled("    conv1 = gemm(4)\n"),
                  "t.ae:17:18: error: a schedule setting needs a name: unroll=N, threads=N or tile=N\n"
                  "      conv1 = gemm(4)\n                   ^\n");
    expect_errors(scheduled("    conv1.forward = gemm()\n    conv1 = direct()\n"),
                  "t.ae:18:5: error: a second schedule line for conv1's forward pass (the first is on "
                  "line 17)\n      conv1 = direct()\n      ^\n");
    expect_errors(scheduled("    model = gemm()\n"),
                  "t.ae:17:13: error: the model's line is split(workers=N), not 'gemm'\n"
                  "      model = gemm()\n              ^\n");
    expect_errors(scheduled("    model = split(threads=2)\n"),
                  "t.ae:17:19: error: split takes one setting, workers=N\n"
                  "      model = split(threads=2)\n                    ^\n");
    expect_errors(scheduled("    model = split(workers=2)\n    model = split(workers=1)\n"),
                  "t.ae:18:5: error: a second 'model' line in the schedule (the first is on line 17)\n"
                  "      model = split(workers=1)\n      ^\n");
    expect_errors(scheduled("    up.output = recompute()\n"),
                  "t.ae:17:17: error: up's output cannot be made again: it is the last layer, and the loss reads "
                  "its output\n      up.output = recompute()\n                  ^\n");
    expect_errors(scheduled("    code.output = recompute()\n    fc.output = recompute()\n"),
                  "t.ae:18:17: error: fc's output cannot be made again: its input, code's output, is made again "
                  "too (line 17; keep one of the two)\n      fc.output = recompute()\n                  ^\n");
    expect_errors(scheduled("    fc.output = recompute()\n    code.output = recompute()\n"),
                  "t.ae:18:19: error: code's output cannot be made again: fc, which reads it, makes its own "
                  "output again too (line 17; keep one of the two)\n      code.output = recompute()\n"
                  "                    ^\n");
    expect_errors(scheduled("    enc_flatten1.output = keep()\n"),
                  "t.ae:17:5: error: 'enc_flatten1' is a flatten: only a conv2d's, deconv2d's or linear "
                  "layer's output is kept or made again\n      enc_flatten1.output = keep()\n      ^\n");
    char unread[4096];       /* conv1 without its relu: only the flatten, which has no weights, reads it */
    const char *src = scheduled("    conv1.output = recompute()\n"), *relu = strstr(src, " relu\n    flatten");
    snprintf(unread, sizeof unread, "%.*s%s", (int)(relu - src), src, relu + strlen(" relu"));
    expect_errors(unread, "t.ae:17:20: error: conv1's output cannot be made again: no backward pass reads it "
                  "(it has no activation, and enc_flatten1 has no weights), so it is not kept\n"
                  "      conv1.output = recompute()\n                     ^\n");
    expect_errors(scheduled("    conv1.output = recomput()\n"),
                  "t.ae:17:20: error: an output is recompute() or keep(), not 'recomput'; did you mean "
                  "'recompute'?\n      conv1.output = recomput()\n                     ^\n");
    expect_errors(scheduled("    conv1.output = keep(now=1)\n"),
                  "t.ae:17:25: error: keep() takes no settings\n      conv1.output = keep(now=1)\n"
                  "                          ^\n");
    expect_errors(scheduled("    conv1.output = keep()\n    conv1.output = recompute()\n"),
                  "t.ae:18:5: error: a second schedule line for conv1's output (the first is on line 17)\n"
                  "      conv1.output = recompute()\n      ^\n");
    expect_errors(scheduled("    enc_flatten1 = gemm()\n"),
                  "t.ae:17:5: error: 'enc_flatten1' is a flatten: only conv2d, deconv2d, linear and gaussian "
                  "layers have kernels to schedule\n      enc_flatten1 = gemm()\n      ^\n");
}

/* The stage at which statement stmt of an entry point runs (plan.c's
 * numbering): a layer's forward call at its forward stage, its backward call
 * at its backward stage, and a forward call in the backward entry point (an
 * output made again) at the next layer's backward stage. -1: no layer call. */
static int call_stage(const ir_model *m, const char *stmt, int in_backward)
{
    int n = m->nlayers;
    for (int i = 0; i < n; i++) {
        const char *name = m->layers[i].kind == IR_GAUSSIAN ? "latent" : m->layers[i].name;
        char fwd[96], bwd[96];
        snprintf(fwd, sizeof fwd, "%s_forward(", name);
        snprintf(bwd, sizeof bwd, "%s_backward(", name);
        if (strncmp(stmt, bwd, strlen(bwd)) == 0)
            return n + 3 + (n - 1 - i);
        if (strncmp(stmt, fwd, strlen(fwd)) == 0)
            return in_backward ? n + 3 + (n - 1 - (i + 1)) : 1 + i;
    }
    return -1;
}

/* Every buffer a call in the entry point `void MODEL_<entry>(` passes
 * (AT(name)) is alive, in the plan, at the stage the call runs: the
 * emitter and the planner agree on who reads what, when. */
static void check_entry_reads(const ir_model *m, const char *ctext, const char *entry)
{
    char head[160];
    snprintf(head, sizeof head, "void %s_%s(", m->name, entry);
    const char *at = strstr(ctext, head), *end = at ? strstr(at, "\n}\n") : NULL;
    assert_non_null(end);
    int calls = 0;
    for (const char *p = strchr(at, '{') + 1; p < end;) {
        const char *semi = strchr(p, ';');
        while (*p == ' ' || *p == '\n')
            p++;
        int stage = call_stage(m, p, strcmp(entry, "backward") == 0);
        for (const char *a = strstr(p, "AT("); stage >= 0 && a && a < semi; a = strstr(a + 3, "AT(")) {
            const char *close = strchr(a, ')');
            int k = 0;
            while (k < m->nbufs && (strlen(m->bufs[k].name) != (size_t)(close - a - 3)
                                    || strncmp(m->bufs[k].name, a + 3, (size_t)(close - a - 3)) != 0))
                k++;
            assert_true(k < m->nbufs);
            if (m->bufs[k].first > stage || m->bufs[k].last < stage)
                fail_msg("%s at stage %d passes %s, alive at stages %d-%d", entry, stage, m->bufs[k].name,
                         m->bufs[k].first, m->bufs[k].last);
        }
        calls += stage >= 0;
        p = semi + 1;
    }
    assert_true(calls > 0);
}

/* The entry points of the model in FILE against its plan. */
static void check_reads_of(const char *file)
{
    compiled c;
    char *ctext, *htext;
    compile_ok_as(file, file, &c);
    emit(&c, &ctext, &htext);
    check_entry_reads(&c.ir, ctext, "encode");
    check_entry_reads(&c.ir, ctext, "decode");
    check_entry_reads(&c.ir, ctext, "backward");
    free(ctext);
    free(htext);
    compiled_free(&c);
}

static void test_entry_points_read_live_buffers(void **state)
{
    static const char *const files[] = {
        CELEBA, FMNIST, TINY, AEC_ROOT "/tests/models/tiny_recompute.ae",
        AEC_ROOT "/tests/models/tiny_vae_recompute.ae", AEC_ROOT "/tests/models/tiny_vae_fused.ae",
        AEC_ROOT "/tests/models/tiny_wino.ae", NULL,
    };
    for (int i = 0; files[i]; i++)
        check_reads_of(files[i]);
}

/* An output made again in the backward pass (LAYER.output = recompute()):
 * the forward pass's buffer lives until the next layer has read it, the
 * backward pass's (LAYER_redo) from the next layer's backward stage to the
 * layer's own; the backward entry point makes it first, and the kernels
 * are the same. aec makes celeba_vae's conv1 again by default, and no
 * output of fmnist_cae. */
static void test_schedule_recompute(void **state)
{
    compiled a, b;
    char *ca, *ha, *cb, *hb;
    compile_scheduled("    conv1.forward = direct()\n    conv1.output = keep()\n", &a);
    compile_scheduled("    conv1.forward = direct()\n    conv1.output = recompute()\n", &b);
    const ir_layer *k = layer_named(&a.ir, "conv1"), *r = layer_named(&b.ir, "conv1");
    assert_int_equal(k->recompute, 0);
    assert_int_equal(k->output_line, 18);              /* after the forward line */
    assert_int_equal(k->buf_redo, -1);
    assert_int_equal(r->recompute, 1);
    assert_int_equal(r->output_line, 18);
    int n = b.ir.nlayers;
    const ir_buf *out = &b.ir.bufs[r->buf_out], *redo = &b.ir.bufs[r->buf_redo];
    assert_string_equal(redo->name, "conv1_redo");
    assert_int_equal(out->first, 1);                   /* conv1's forward stage .. */
    assert_int_equal(out->last, 2);                    /* .. the flatten's, which reads it */
    assert_int_equal(redo->first, n + 3 + (n - 2));    /* the flatten's backward stage (plan.c) .. */
    assert_int_equal(redo->last, n + 3 + (n - 1));     /* .. conv1's own, for its relu */
    check_plan(&b.ir);
    assert_int_equal(a.ir.arena_per_image - b.ir.arena_per_image, 32 * 14 * 14);
    emit(&a, &ca, &ha);
    emit(&b, &cb, &hb);
    static const char *const same[] = { "conv1_forward", "conv1_backward", "code_backward", NULL };
    for (int i = 0; same[i]; i++) {
        char *fa = function_text(ca, same[i]), *fb = function_text(cb, same[i]);
        assert_string_equal(fa, fb);
        free(fa);
        free(fb);
    }
    assert_null(strstr(ca, "conv1_redo"));
    const char *bwd = strstr(cb, "void m_backward(");
    assert_non_null(bwd);
    const char *make = strstr(bwd, "    /* conv1's output again, for enc_flatten1's backward pass and its own: the "
                                   "schedule's line 18 */\n"
                                   "    conv1_forward(AT(conv1_redo), SCRATCH, AT(input), params + P_conv1_weight, "
                                   "params + P_conv1_bias, NULL, B);\n    aec_lap(L_conv1, AEC_BWD);\n");
    const char *flat = strstr(bwd, "    enc_flatten1_backward("), *own = strstr(bwd, "    conv1_backward(");
    assert_non_null(make);
    assert_true(flat && own && make < flat && flat < own);
    assert_non_null(strstr(own, "AT(conv1_dout), AT(conv1_redo), AT(input)"));
    free(ca), free(ha), free(cb), free(hb);
    compiled_free(&a);
    compiled_free(&b);

    compile_ok_as(CELEBA, CELEBA, &a);
    for (int i = 0; i < a.ir.nlayers; i++)
        assert_int_equal(a.ir.layers[i].recompute, strcmp(a.ir.layers[i].name, "conv1") == 0);
    assert_int_equal(layer_named(&a.ir, "conv1")->output_line, 0);
    assert_int_equal(a.ir.arena_per_image, 164352);    /* 197,120 with conv1's output kept */
    check_plan(&a.ir);
    compiled_free(&a);
    compile_ok_as(FMNIST, FMNIST, &a);
    for (int i = 0; i < a.ir.nlayers; i++)
        assert_int_equal(a.ir.layers[i].recompute, 0);  /* conv1's output is 3.1 MiB at batch 128 */
    compiled_free(&a);
}

/* Within two blocks of emitted C, the lines that differ are about the
 * scratch for im2col columns (its size in the descriptor and the table). */
static void assert_only_scratch_differs(const char *a, size_t la, const char *b, size_t lb)
{
    while (la > 0 && lb > 0) {
        const char *ea = memchr(a, '\n', la), *eb = memchr(b, '\n', lb);
        size_t na = ea ? (size_t)(ea - a) + 1 : la, nb = eb ? (size_t)(eb - b) + 1 : lb;
        if (na != nb || memcmp(a, b, na) != 0) {
            char *line = strndup(a, na);
            if (!strstr(line, "scratch"))
                fail_msg("a line outside the scheduled layer changed: %s", line);
            free(line);
        }
        a += na, la -= na, b += nb, lb -= nb;
    }
    assert_true(la == 0 && lb == 0);
}

/* Changing one directive changes only that layer's functions, the quoted
 * .ae source and, for a tile, the size of the columns' scratch: the arena
 * plan and every other kernel stay as they were, so a diff of the two
 * emissions shows exactly its effect. */
static void test_schedule_diff_is_local(void **state)
{
    compiled a, b;
    char *ca, *ha, *cb, *hb;
    compile_scheduled("    up = gemm()\n", &a);
    compile_scheduled("    up = gemm(tile=4)\n", &b);
    emit(&a, &ca, &ha);
    emit(&b, &cb, &hb);
    assert_string_equal(ha, hb);
    /* blocks are separated by blank lines; those that differ must be up's */
    int differing = 0;
    char *sa = ca, *sb = cb;
    for (;;) {
        char *ea = strstr(sa, "\n\n"), *eb = strstr(sb, "\n\n");
        if (!ea || !eb) {
            assert_true(!ea && !eb);
            break;
        }
        size_t la = (size_t)(ea - sa), lb = (size_t)(eb - sb);
        if (la != lb || memcmp(sa, sb, la) != 0) {
            differing++;
            if (strncmp(sa, "/* t.ae:11: up = deconv2d", 25) != 0
                && strncmp(sa, "static const char source_text[]", 31) != 0)
                assert_only_scratch_differs(sa, la, sb, lb);
        }
        sa = ea + 2, sb = eb + 2;
    }
    assert_true(differing >= 2);    /* up's forward and backward, and the source */
    free(ca), free(ha), free(cb), free(hb);
    compiled_free(&a);
    compiled_free(&b);
}

static void test_emit_twice_identical(void **state)
{
    compiled c;
    compile_ok_as(FMNIST, FMNIST, &c);
    char *c1, *h1, *c2, *h2;
    emit(&c, &c1, &h1);
    emit(&c, &c2, &h2);
    assert_string_equal(c1, c2);
    assert_string_equal(h1, h2);
    free(c1), free(h1), free(c2), free(h2);
    compiled_free(&c);
}

static void test_emit_depends_on_base_name_only(void **state)
{
    compiled a, b;
    char *ca, *ha, *cb, *hb;
    compile_ok_as(FMNIST, "models/fmnist_cae.ae", &a);
    emit(&a, &ca, &ha);
    compile_ok_as(FMNIST, "./some/other/dir/fmnist_cae.ae", &b);
    emit(&b, &cb, &hb);
    assert_string_equal(ca, cb);
    assert_string_equal(ha, hb);
    assert_non_null(strstr(ca, "/* fmnist_cae.c: generated by aec from fmnist_cae.ae."));
    assert_null(strstr(ca, "some/other"));
    assert_null(strstr(ha, "some/other"));
    free(ca), free(ha), free(cb), free(hb);
    compiled_free(&a);
    compiled_free(&b);
}

static void test_emit_layer_functions_and_comments(void **state)
{
    compiled c;
    compile_ok_as(FMNIST, FMNIST, &c);
    char *ct, *ht;
    emit(&c, &ct, &ht);
    assert_non_null(strstr(ct, "/* fmnist_cae.ae:6: conv1 = conv2d(32, kernel=3, stride=2, pad=1) relu */\n"));
    assert_non_null(strstr(ct, "/* fmnist_cae.ae:16: up2 = deconv2d(1, kernel=3, stride=2, pad=1, out_pad=1) sigmoid */\n"));
    assert_non_null(strstr(ct, "/* fmnist_cae.ae:19: loss mse */\n"));
    static const char *const fns[] = {"conv1_forward", "conv1_backward", "conv2_forward", "conv2_backward",
                                      "code_forward", "code_backward", "fc_backward", "up1_forward",
                                      "up2_forward", "up2_backward", "enc_flatten1_forward",
                                      "dec_unflatten1_backward"};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        free(function_text(ct, fns[i]));
    assert_non_null(strstr(ct, "cblas_sgemm(CblasRowMajor"));
    assert_non_null(strstr(ct, "#include <cblas.h>\n#include \"fmnist_cae.h\"\n"));
    assert_non_null(strstr(ct, "const aec_model fmnist_cae_model = {\n"));
    assert_non_null(strstr(ct, "    P_TOTAL                      = 442177\n"));
    assert_non_null(strstr(ct, "{\"conv1.weight\", 4, {32, 1, 3, 3}, 0, 288, 9},"));
    assert_non_null(strstr(ct, "{\"up1.weight\", 4, {64, 32, 3, 3}, 423424, 18432, 288},"));
    assert_non_null(strstr(ht, "extern const aec_model fmnist_cae_model;\n"));
    assert_non_null(strstr(ht, "void  fmnist_cae_backward(const float *params, float *grads, float *arena, int B);\n"));
    free(ct), free(ht);
    compiled_free(&c);
}

/* A top-level definition of emitted C: a function up to its closing brace,
 * or a run of table lines; its text with the names it defines as @. */
typedef struct {
    char name[96];
    char *text;
} emitted_unit;

static int ident_at(const char *s, const char *line)
{
    return s > line && (isalnum((unsigned char)s[-1]) || s[-1] == '_');
}

/* The units of ctext, at most max; returns how many. */
static int emitted_units(const char *ctext, emitted_unit *u, int max)
{
    int n = 0;
    for (const char *s = ctext; *s && n < max;) {
        const char *eol = strchr(s, '\n');
        if (!eol)
            break;
        if (strncmp(s, "static ", 7) != 0 || strstr(s, "static inline float") == s) {
            s = eol + 1;
            continue;
        }
        const char *end = eol + 1, *names[8];
        int nnames = 0;
        if (strncmp(s, "static const ", 13) == 0 && memchr(s, '{', (size_t)(eol - s)) && eol[-1] == ';') {
            while (strncmp(end, "static const ", 13) == 0)   /* a table's siblings: shift, kidx, ntaps */
                end = strchr(end, '\n') + 1;
        } else {
            const char *close = strstr(s, "\n}\n");
            assert_non_null(close);
            end = close + 3;
        }
        /* the names: the identifier before each line's first ( or [ */
        for (const char *l = s; l < end && nnames < 8; l = strchr(l, '\n') + 1) {
            if (strncmp(l, "static ", 7) != 0)
                continue;
            const char *b = strpbrk(l, "([");
            const char *a = b;
            while (a > l && (isalnum((unsigned char)a[-1]) || a[-1] == '_'))
                a--;
            names[nnames++] = a;
            if (nnames == 1)
                snprintf(u[n].name, sizeof u[n].name, "%.*s", (int)(b - a), a);
        }
        size_t len = (size_t)(end - s);
        char *t = malloc(len + 1), *w = t;
        for (const char *c = s; c < end;) {
            int hit = 0;
            for (int k = 0; k < nnames && !hit; k++) {
                size_t m = strcspn(names[k], "([");
                if (strncmp(c, names[k], m) == 0 && !ident_at(c, s) && !(isalnum((unsigned char)c[m]) || c[m] == '_')) {
                    *w++ = '@';
                    c += m;
                    hit = 1;
                }
            }
            if (!hit)
                *w++ = *c++;
        }
        *w = '\0';
        u[n++].text = t;
        s = end;
    }
    return n;
}

/* Every model's emitted C: no two helpers with the same text but for their
 * names (one per geometry, emit/kernels.c), and no loop of one pass, no
 * always-false bound test, no product by 1 (the emitter prints the simpler
 * form). */
static void test_emit_no_repeats_no_degenerate_code(void **state)
{
    (void)state;
    glob_t g;
    assert_int_equal(glob(AEC_ROOT "/models/*.ae", 0, NULL, &g), 0);
    assert_int_equal(glob(AEC_ROOT "/tests/models/*.ae", GLOB_APPEND, NULL, &g), 0);
    assert_true(g.gl_pathc >= 14);
    static const char *const degenerate[] = {
        "for (int j = 0; j < 1; j++)", " i < 0 ||", "* 1 + c)", "(size_t)o * 1 ", " 1 * i", "p += 0;",
    };
    for (size_t f = 0; f < g.gl_pathc; f++) {
        compiled c;
        compile_ok_as(g.gl_pathv[f], g.gl_pathv[f], &c);
        char *ct, *ht;
        emit(&c, &ct, &ht);
        for (size_t k = 0; k < sizeof degenerate / sizeof *degenerate; k++)
            if (strstr(ct, degenerate[k]))
                fail_msg("%s: emitted \"%s\"", g.gl_pathv[f], degenerate[k]);
        /* one phase: no loop over phases (but Winograd's pack and out, still to do) */
        for (const char *p = strstr(ct, "for (int p = 0; p < 1; p++)"); p; p = strstr(p + 1, "for (int p = 0; p < 1; p++)")) {
            const char *fn = p;
            while (fn > ct && strncmp(fn, "\nstatic ", 8) != 0)
                fn--;
            char head[200];
            snprintf(head, sizeof head, "%.*s", (int)strcspn(fn + 1, "\n"), fn + 1);
            if (!strstr(head, "wino_"))
                fail_msg("%s: a loop over one phase in %s", g.gl_pathv[f], head);
        }
        emitted_unit *u = malloc(sizeof *u * 1000);
        int n = emitted_units(ct, u, 1000);
        assert_true(n > 10);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++)
                if (strcmp(u[i].text, u[j].text) == 0)
                    fail_msg("%s: %s and %s have the same text", g.gl_pathv[f], u[j].name, u[i].name);
        for (int i = 0; i < n; i++)
            free(u[i].text);
        free(u);
        free(ct), free(ht);
        compiled_free(&c);
    }
    globfree(&g);
}

/* The first layer's backward computes no input gradient: no col2im, and
 * the call passes NULL for din and dcols. Its weight gradient, like
 * conv2's, is the direct kernels' (LAYER_dw): no im2col, no GEMM. */
static void test_emit_first_layer_has_no_input_gradient(void **state)
{
    compiled c;
    compile_ok_as(FMNIST, FMNIST, &c);
    char *ct, *ht;
    emit(&c, &ct, &ht);
    char *body = function_text(ct, "conv1_backward");
    assert_non_null(strstr(body, "(void)din, (void)weight;   /* the first layer that learns: no input gradient */"));
    assert_non_null(strstr(body, "conv1_dw_planes(planes, in, B, b0, nb);"));
    assert_non_null(strstr(body, "dweight[((size_t)o + c) * 9 + k] += sum[o];"));
    assert_null(strstr(body, "col2im"));
    assert_null(strstr(body, "cblas_sgemm"));
    free(body);
    assert_null(strstr(ct, "conv1_col2im"));
    assert_null(strstr(ct, "conv1_im2col"));
    assert_null(strstr(ct, "conv1_din"));
    body = function_text(ct, "conv2_backward");     /* conv2's input gradient: direct */
    assert_non_null(strstr(body, "conv2_din_store(din, acc, B, b0, nb);"));
    assert_non_null(strstr(body, "conv2_dw_grads(grads, dout, B, b0, nb);"));
    free(body);
    body = function_text(ct, "up2_backward");       /* one output channel: gemm */
    assert_non_null(strstr(body, "im2col_1x28x28_k3_s2_p1(dcols, dout, B, b0, nb);"));   /* conv1's forward's too */
    free(body);
    assert_non_null(strstr(ct, "    conv1_backward(NULL, SCRATCH, AT(conv1_dout), AT(conv1_out), AT(input),"));
    free(ct), free(ht);
    compiled_free(&c);
}

/* A backward that is passed NULL for din must not write through it. */
static void check_first_backward_ignores_null(const char *src, const char *first)
{
    compiled c;
    char *err = NULL, *ct, *ht;
    assert_int_equal(compile_text(src, strlen(src), &c, &err), 0);
    assert_string_equal(err, "");
    emit(&c, &ct, &ht);
    char call[128], fn[128];
    snprintf(call, sizeof call, "    %s_backward(NULL, ", first);
    snprintf(fn, sizeof fn, "%s_backward", first);
    if (strstr(ct, call)) {
        char *body = function_text(ct, fn);
        if (!strstr(body, "(void)din"))
            fail_msg("%s is called with din = NULL but writes it:\n%s", fn, body);
        free(body);
    }
    free(ct), free(ht);
    compiled_free(&c);
    free(err);
}

/* Was a bug, now fixed (a regression test): flatten as the first layer (an MLP autoencoder) emits a backward that
 * memcpy's into din, and the call passes din = NULL: training segfaults. */
static void test_emit_flatten_first_no_null_write(void **state)
{
    check_first_backward_ignores_null("model mlp {\n  input 1x28x28 range [0, 1]\n"
                                      "  encoder {\n    flatten\n    code = linear(32) relu\n  }\n"
                                      "  decoder {\n    out = linear(784) sigmoid\n    unflatten(1x28x28)\n  }\n"
                                      "  loss mse\n}\n",
                                      "enc_flatten1");
}

/* Was a bug, now fixed (a regression test): the same for a bare activation as the first layer. */
static void test_emit_activation_first_no_null_write(void **state)
{
    check_first_backward_ignores_null(with("    conv1 =", "    tanh\n    conv1 ="), "enc_tanh1");
}

static void test_emit_deconv_first_no_null_write(void **state)
{
    check_first_backward_ignores_null(
        "model d {\n  input 1x8x8 range [0, 1]\n  encoder {\n    u = deconv2d(2, kernel=3, stride=2, pad=1, out_pad=1)\n"
        "  }\n  decoder {\n    c = conv2d(1, kernel=3, stride=2, pad=1)\n  }\n  loss mse\n}\n",
        "u");
}

/* Was a bug, now fixed (a regression test): emit_model quotes source lines through diag's global "current
 * source", i.e. the LAST file compiled, not the model it is given (and reads
 * freed memory if that compiled was freed). */
static void test_emit_quotes_its_own_source(void **state)
{
    compiled a, b;
    char *ct, *ht;
    compile_ok_as(FMNIST, FMNIST, &a);
    compile_ok_as(TINY, TINY, &b);
    emit(&a, &ct, &ht);
    const char *at = strstr(ct, "/* fmnist_cae.ae:6: ");
    assert_non_null(at);
    const char *want = "/* fmnist_cae.ae:6: conv1 = conv2d(32, kernel=3, stride=2, pad=1) relu */\n";
    if (strncmp(at, want, strlen(want)) != 0)
        fail_msg("quoted: %.*s", (int)(strchr(at, '\n') - at), at);
    free(ct), free(ht);
    compiled_free(&a);
    compiled_free(&b);
}

static void test_emit_comment_cannot_close_early(void **state)
{
    compiled c;
    char *err = NULL, *ct, *ht;
    const char *src = with("code = linear(16)", "code = linear(16) # a */ comment");
    assert_int_equal(compile_text(src, strlen(src), &c, &err), 0);
    emit(&c, &ct, &ht);
    assert_non_null(strstr(ct, "/* t.ae:6: code = linear(16) # a * / comment */\n"));
    free(ct), free(ht);
    compiled_free(&c);
    free(err);
}

/* ---- arena planning ----------------------------------------------------------------- */

static void test_plan_fmnist(void **state)
{
    compiled c;
    compile_ok_as(FMNIST, FMNIST, &c);
    check_plan(&c.ir);
    assert_string_equal(c.ir.bufs[c.ir.buf_input].name, "input");
    assert_int_equal(c.ir.bufs[c.ir.buf_input].size, 784);
    compiled_free(&c);
}

static void test_plan_tiny_all(void **state)
{
    compiled c;
    compile_ok_as(TINY, TINY, &c);
    check_plan(&c.ir);
    compiled_free(&c);
}

/* Every layer's buffers are in the plan, sized for its shapes. */
static void test_plan_layer_buffers(void **state)
{
    compiled c;
    compile_ok_as(FMNIST, FMNIST, &c);
    const ir_model *m = &c.ir;
    for (int i = 0; i < m->nlayers; i++) {
        const ir_layer *l = &m->layers[i];
        size_t n = ir_numel(l->out), rounded = (n + 15) / 16 * 16;
        assert_int_equal(m->bufs[l->buf_out].size, rounded);
        assert_int_equal(m->bufs[l->buf_dout].size, rounded);
        assert_int_equal(l->needs_din, i > 0);
    }
    /* the columns are scratch after the arena: up2's (9 x 196 an image),
     * whole; the direct passes' planes, products and weight-gradient
     * pixels in tiles, the largest conv1's weight gradient: its 32
     * images' 196 pixels x 32 channels, and its planes and sums */
    const ir_layer *conv2 = layer_named(m, "conv2"), *conv1 = layer_named(m, "conv1");
    assert_int_equal(conv2->buf_cols, -1);
    assert_int_equal(layer_named(m, "up2")->sched[PASS_BWD].tile, 0);
    lower_dweight w = lower_dweight_of(conv1, &conv1->sched[PASS_BWD], m->batch);
    assert_int_equal(w.grads, 32 * 196 * 32);
    assert_int_equal(w.sums, 9 * 32);
    assert_int_equal(m->scratch_per_image, 9 * 14 * 14);
    assert_int_equal(m->scratch_fixed, w.work);
    assert_true(w.work > lower_dweight_of(conv2, &conv2->sched[PASS_BWD], m->batch).work);
    compiled_free(&c);
}

/* ---- the layer table -------------------------------------------------------------- */

static void test_layer_table(void **state)
{
    compiled c;
    compile_ok_as(FMNIST, FMNIST, &c);
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    print_layer_table(f, &c.ir);
    fclose(f);
    assert_non_null(strstr(text, "442,177"));
    assert_non_null(strstr(text, "parameters: 442,177 (1.69 MiB)\n"));
    assert_non_null(strstr(text, "model fmnist_cae: input 1x28x28 in [0, 1], loss mse\n"));
    assert_non_null(strstr(text, "(the latent: 64 values per image)"));
    assert_non_null(strstr(text, "conv2d+relu"));
    assert_non_null(strstr(text, "200,768"));      /* code: 64*3136 + 64 */
    free(text);
    compiled_free(&c);
}

/* ---- the command line --------------------------------------------------------------- */

/* Run a shell command; its exit status and combined output (malloc'd). */
static int run_cmd(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 4096, n = 0, k;
    *out = malloc(cap);
    while ((k = fread(*out + n, 1, cap - n - 1, p)) > 0) {
        n += k;
        if (cap - n < 2)
            *out = realloc(*out, cap *= 2);
    }
    (*out)[n] = '\0';
    int st = pclose(p);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void test_cli_missing_file(void **state)
{
    char *out;
    assert_int_equal(run_cmd(AEC " check /nonexistent.ae 2>&1", &out), 1);
    assert_string_equal(out, "/nonexistent.ae: error: cannot read: No such file or directory\n");
    free(out);
}

static void test_cli_no_arguments(void **state)
{
    char *out;
    assert_int_equal(run_cmd(AEC " 2>&1", &out), 2);
    assert_true(strncmp(out, "usage: aec check FILE.ae", 24) == 0);
    free(out);
}

static void test_cli_emit_needs_output(void **state)
{
    char *out;
    assert_int_equal(run_cmd(AEC " emit x.ae 2>&1", &out), 2);
    assert_true(strncmp(out, "usage: ", 7) == 0);
    free(out);
    assert_int_equal(run_cmd(AEC " frobnicate x.ae 2>&1", &out), 2);
    assert_true(strncmp(out, "aec: unknown command 'frobnicate'\n", 34) == 0);
    free(out);
}

static void test_cli_check_prints_table(void **state)
{
    char *out;
    assert_int_equal(run_cmd(AEC " check " FMNIST " 2>&1", &out), 0);
    assert_non_null(strstr(out, "parameters: 442,177"));
    free(out);
}

static void test_cli_rejects_nul_bytes(void **state)
{
    char path[] = "/tmp/aec-test-nul-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "model\0m", 7), 7);
    close(fd);
    char cmd[256], *out, want[128];
    snprintf(cmd, sizeof cmd, AEC " check %s 2>&1", path);
    assert_int_equal(run_cmd(cmd, &out), 1);
    snprintf(want, sizeof want, "%s: error: not a .ae text file (it contains NUL bytes)\n", path);
    assert_string_equal(out, want);
    free(out);
    unlink(path);
}

static void test_cli_syntax_error_exit(void **state)
{
    char path[] = "/tmp/aec-test-bad-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "model m {\n  @\n}\n", 16), 16);
    close(fd);
    char cmd[256], *out;
    snprintf(cmd, sizeof cmd, AEC " check %s 2>&1", path);
    assert_int_equal(run_cmd(cmd, &out), 1);
    char want[256];     /* the file as the user named it, so editors can jump to it */
    snprintf(want, sizeof want, "%s:2:3: error: unexpected character '@'\n    @\n    ^\n", path);
    assert_string_equal(out, want);
    free(out);
    unlink(path);
}

int main(void)
{
    /* the geometry and text these tests expect are x86-64-v4's, whatever the host */
    aec_target_use(aec_target_named("x86-64-v4"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmnist_compiles_cleanly),
        cmocka_unit_test(test_fmnist_parameter_count),
        cmocka_unit_test(test_fmnist_state_dict),
        cmocka_unit_test(test_fmnist_layer_shapes),
        cmocka_unit_test(test_fmnist_settings_and_activations),
        cmocka_unit_test(test_tiny_all_fuses_trailing_sigmoid),
        cmocka_unit_test(test_tiny_all_keeps_relu_after_unflatten),
        cmocka_unit_test(test_tiny_all_shapes_and_params),
        cmocka_unit_test(test_base_model_compiles),

        cmocka_unit_test(test_unexpected_character),
        cmocka_unit_test(test_unexpected_byte),
        cmocka_unit_test(test_bad_shape_zero),
        cmocka_unit_test(test_bad_shape_five_dims),
        cmocka_unit_test(test_missing_paren),
        cmocka_unit_test(test_extra_paren),
        cmocka_unit_test(test_missing_close_brace_at_eof),
        cmocka_unit_test(test_eof_inside_encoder),
        cmocka_unit_test(test_unexpected_end_of_line),
        cmocka_unit_test(test_stray_token_after_model),
        cmocka_unit_test(test_stray_number),
        cmocka_unit_test(test_second_input),
        cmocka_unit_test(test_second_encoder),
        cmocka_unit_test(test_second_loss),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_keyword_as_layer_name),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_only_nul_bytes),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_random_tokens),
        cmocka_unit_test(test_mutations_of_fmnist),
        cmocka_unit_test(test_very_long_line),
        cmocka_unit_test(test_very_long_identifier),
        cmocka_unit_test(test_deep_parentheses),

        cmocka_unit_test(test_unknown_kind_did_you_mean),
        cmocka_unit_test(test_unknown_kind_no_suggestion),
        cmocka_unit_test(test_pytorch_key_synonym),
        cmocka_unit_test(test_misspelt_key),
        cmocka_unit_test(test_unknown_activation),
        cmocka_unit_test(test_layer_kind_as_activation),
        cmocka_unit_test(test_activation_after_activation),
        cmocka_unit_test(test_non_integer_kernel),
        cmocka_unit_test(test_kernel_not_a_number),
        cmocka_unit_test(test_stride_zero),
        cmocka_unit_test(test_negative_pad),
        cmocka_unit_test(test_out_pad_not_below_stride),
        cmocka_unit_test(test_missing_required_argument),
        cmocka_unit_test(test_argument_given_twice),
        cmocka_unit_test(test_positional_then_same_key),
        cmocka_unit_test(test_second_positional_needs_name),
        cmocka_unit_test(test_too_many_positional_arguments),
        cmocka_unit_test(test_arguments_to_argless_call),
        cmocka_unit_test(test_duplicate_layer_name),
        cmocka_unit_test(test_reserved_layer_name),
        cmocka_unit_test(test_layer_name_too_long),
        cmocka_unit_test(test_linear_on_image),
        cmocka_unit_test(test_conv_on_flat),
        cmocka_unit_test(test_flatten_twice),
        cmocka_unit_test(test_unflatten_wrong_count),
        cmocka_unit_test(test_unflatten_needs_three_dims),
        cmocka_unit_test(test_kernel_larger_than_input),
        cmocka_unit_test(test_kernel_fits_only_with_padding),
        cmocka_unit_test(test_output_shape_differs),
        cmocka_unit_test(test_bce_needs_sigmoid),
        cmocka_unit_test(test_bce_accepts_sigmoid_then_unflatten),
        cmocka_unit_test(test_missing_input_line),
        cmocka_unit_test(test_input_not_an_image),
        cmocka_unit_test(test_missing_loss_line),
        cmocka_unit_test(test_unknown_loss),
        cmocka_unit_test(test_unknown_optimizer),
        cmocka_unit_test(test_sgd_needs_lr),
        cmocka_unit_test(test_train_setting_errors),
        cmocka_unit_test(test_defaults_without_optimizer_and_train),
        cmocka_unit_test(test_range_low_not_below_high),
        cmocka_unit_test(test_range_too_wide_message),
        cmocka_unit_test(test_empty_encoder),
        cmocka_unit_test(test_missing_decoder),
        cmocka_unit_test(test_huge_conv_weights_rejected),
        cmocka_unit_test(test_huge_linear_rejected),

        cmocka_unit_test(test_layer_named_like_model),
        cmocka_unit_test(test_model_named_aec),
        cmocka_unit_test(test_fused_activation_line),
        cmocka_unit_test(test_no_fusion_across_latent),
        cmocka_unit_test(test_bare_activation_in_encoder_fused),

        cmocka_unit_test(test_schedule_defaults_and_overrides),
        cmocka_unit_test(test_schedule_defaults_from_shapes),
        cmocka_unit_test(test_schedule_errors),
        cmocka_unit_test(test_schedule_recompute),
        cmocka_unit_test(test_entry_points_read_live_buffers),
        cmocka_unit_test(test_schedule_diff_is_local),
        cmocka_unit_test(test_emit_twice_identical),
        cmocka_unit_test(test_emit_depends_on_base_name_only),
        cmocka_unit_test(test_emit_layer_functions_and_comments),
        cmocka_unit_test(test_emit_first_layer_has_no_input_gradient),
        cmocka_unit_test(test_emit_no_repeats_no_degenerate_code),
        cmocka_unit_test(test_emit_flatten_first_no_null_write),
        cmocka_unit_test(test_emit_activation_first_no_null_write),
        cmocka_unit_test(test_emit_deconv_first_no_null_write),
        cmocka_unit_test(test_emit_quotes_its_own_source),
        cmocka_unit_test(test_emit_comment_cannot_close_early),

        cmocka_unit_test(test_plan_fmnist),
        cmocka_unit_test(test_plan_tiny_all),
        cmocka_unit_test(test_plan_layer_buffers),
        cmocka_unit_test(test_layer_table),

        cmocka_unit_test(test_cli_missing_file),
        cmocka_unit_test(test_cli_no_arguments),
        cmocka_unit_test(test_cli_emit_needs_output),
        cmocka_unit_test(test_cli_check_prints_table),
        cmocka_unit_test(test_cli_rejects_nul_bytes),
        cmocka_unit_test(test_cli_syntax_error_exit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
