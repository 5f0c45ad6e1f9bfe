/* front/sema.c: the semantic pass, from the syntax tree to the IR.
 *
 * It gives every call its meaning: which layer kind, activation, loss or
 * optimizer it names, which arguments it takes and of what type and range
 * (one table, `specs`, and one binder, bind_args, serve all of them), the
 * layer names, and every shape. Errors carry the position of the token that
 * caused them and, for unknown words, the closest known one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/util.h"
#include "front/diag.h"
#include "ir/ir.h"
#include "ir/passes.h"

/* ---- what every call may say ---------------------------------------------- */

typedef enum { ARG_INT, ARG_REAL, ARG_SHAPE, ARG_WORD } arg_type;

typedef struct {
    const char *key;
    arg_type type;
    int required;
    double def, min, max;   /* for ARG_INT and ARG_REAL; ARG_WORD: the word's index */
    const char *words[3];   /* ARG_WORD: the words it may be */
} arg_spec;

enum { MAX_ARGS = 6 };

typedef enum { ROLE_LAYER, ROLE_ACT, ROLE_LOSS, ROLE_OPTIM, ROLE_TRAIN, ROLE_LATENT } call_role;

typedef struct {
    const char *name;
    call_role role;
    int code;               /* ir_kind, ir_act, ir_loss or ir_opt */
    int positional;         /* how many leading args may omit their key */
    arg_spec args[MAX_ARGS];
} call_spec;

/* One argument: a whole number, a real, a shape or a word, with its
 * default and range (REQ: required, OPT: optional with a default). */
#define REQ 1
#define OPT 0
#define INT(key, req, def, lo, hi) {key, ARG_INT, req, def, lo, hi, {0}}
#define REAL(key, req, def, lo, hi) {key, ARG_REAL, req, def, lo, hi, {0}}
#define SHAPE(key) {key, ARG_SHAPE, REQ, 0, 0, 0, {0}}
#define WORD(key, w0, w1) {key, ARG_WORD, OPT, 0, 0, 0, {w0, w1, 0}}

static const call_spec specs[] = {
    {"conv2d", ROLE_LAYER, IR_CONV2D, 1,
     {INT("out", REQ, 0, 1, 65536), INT("kernel", REQ, 0, 1, 64), INT("stride", OPT, 1, 1, 64),
      INT("pad", OPT, 0, 0, 64)}},
    {"deconv2d", ROLE_LAYER, IR_DECONV2D, 1,
     {INT("out", REQ, 0, 1, 65536), INT("kernel", REQ, 0, 1, 64), INT("stride", OPT, 1, 1, 64),
      INT("pad", OPT, 0, 0, 64), INT("out_pad", OPT, 0, 0, 63)}},
    {"linear", ROLE_LAYER, IR_LINEAR, 1, {INT("out", REQ, 0, 1, 16777216)}},
    {"flatten", ROLE_LAYER, IR_FLATTEN, 0, {{0}}},
    {"unflatten", ROLE_LAYER, IR_UNFLATTEN, 1, {SHAPE("shape")}},
    {"relu", ROLE_ACT, ACT_RELU, 0, {{0}}},
    {"leaky_relu", ROLE_ACT, ACT_LEAKY_RELU, 1, {REAL("slope", OPT, 0.01, 0, 1)}},
    {"sigmoid", ROLE_ACT, ACT_SIGMOID, 0, {{0}}},
    {"tanh", ROLE_ACT, ACT_TANH, 0, {{0}}},
    {"mse", ROLE_LOSS, LOSS_MSE, 0, {WORD("reduction", "mean", "sum")}},
    {"bce", ROLE_LOSS, LOSS_BCE, 0, {WORD("reduction", "mean", "sum")}},
    {"gaussian", ROLE_LATENT, IR_GAUSSIAN, 1, {INT("out", REQ, 0, 1, 65536), REAL("beta", OPT, 1, 0, 1e6)}},
    {"adam", ROLE_OPTIM, OPT_ADAM, 0,
     {REAL("lr", OPT, 1e-3, 1e-12, 10), REAL("beta1", OPT, 0.9, 0, 0.999999),
      REAL("beta2", OPT, 0.999, 0, 0.999999), REAL("eps", OPT, 1e-8, 1e-30, 1),
      REAL("weight_decay", OPT, 0, 0, 1)}},
    {"sgd", ROLE_OPTIM, OPT_SGD, 0,
     {REAL("lr", REQ, 0, 1e-12, 10), REAL("momentum", OPT, 0, 0, 0.999999), REAL("weight_decay", OPT, 0, 0, 1)}},
    {"train", ROLE_TRAIN, 0, 0,
     {INT("batch", OPT, 64, 1, 65536), INT("epochs", OPT, 10, 1, 1000000),
      INT("seed", OPT, 1, 0, 9007199254740991.0)}},
};
#define NSPECS (int)(sizeof specs / sizeof specs[0])

/* Words PyTorch users reach for, and the .ae word that means the same. */
static const char *const synonyms[][2] = {
    {"padding", "pad"}, {"output_padding", "out_pad"}, {"kernel_size", "kernel"},
    {"out_channels", "out"}, {"out_features", "out"}, {"negative_slope", "slope"},
    {"conv", "conv2d"}, {"conv_transpose2d", "deconv2d"}, {"convtranspose2d", "deconv2d"},
    {"dense", "linear"}, {"reshape", "unflatten"}, {"batch_size", "batch"},
    {"learning_rate", "lr"}, {"mse_loss", "mse"}, {"binary_cross_entropy", "bce"},
};

static const char *role_noun(call_role r)
{
    static const char *const nouns[] = {"layer kind", "activation", "loss", "optimizer", "setting", "latent kind"};
    return nouns[r];
}

/* "did you mean" from the synonym table first, then by spelling. */
static const char *suggest(const char *word, const char *const *cands)
{
    for (size_t i = 0; i < sizeof synonyms / sizeof synonyms[0]; i++)
        if (strcmp(word, synonyms[i][0]) == 0)
            for (const char *const *c = cands; *c; c++)
                if (strcmp(*c, synonyms[i][1]) == 0)
                    return *c;
    return diag_closest(word, cands);
}

/* Names of the specs that may fill a role, NULL-terminated, and "a, b or c". */
static int role_names(call_role role, const char **out, char *list, size_t size)
{
    int n = 0;
    list[0] = '\0';
    for (int i = 0; i < NSPECS; i++)
        if (specs[i].role == role || (role == ROLE_LAYER && specs[i].role == ROLE_ACT))
            out[n++] = specs[i].name;
    out[n] = NULL;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(list);
        snprintf(list + len, size - len, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", out[i]);
    }
    return n;
}

static const call_spec *find_spec(const ast_call *c, call_role role)
{
    const char *names[NSPECS + 1];
    char list[256];
    role_names(role, names, list, sizeof list);
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], c->name) == 0)
            for (int j = 0; j < NSPECS; j++)
                if (strcmp(specs[j].name, c->name) == 0)
                    return &specs[j];
    const char *near = suggest(c->name, names);
    if (near)
        diag_error(c->pos, "unknown %s '%s'; did you mean '%s'?", role_noun(role), c->name, near);
    else
        diag_error(c->pos, "unknown %s '%s'; expected %s", role_noun(role), c->name, list);
    return NULL;
}

/* Where key stands in the documented order of call's arguments (the table's
 * order above), or -1: aec fmt puts keyed arguments in this order. */
int sema_arg_rank(const char *call, const char *key)
{
    for (int i = 0; i < NSPECS; i++)
        if (strcmp(specs[i].name, call) == 0)
            for (int k = 0; k < MAX_ARGS && specs[i].args[k].key; k++)
                if (strcmp(specs[i].args[k].key, key) == 0)
                    return k;
    return -1;
}

/* ---- binding arguments ------------------------------------------------------ */

typedef struct {
    double num[MAX_ARGS];
    const ast_value *shape[MAX_ARGS];
} bound_args;

static int nkeys(const call_spec *s)
{
    int n = 0;
    while (n < MAX_ARGS && s->args[n].key)
        n++;
    return n;
}

static int key_index(const call_spec *s, const ast_arg *a)
{
    const char *keys[MAX_ARGS + 1];
    int n = nkeys(s);
    for (int i = 0; i < n; i++) {
        keys[i] = s->args[i].key;
        if (strcmp(keys[i], a->key) == 0)
            return i;
    }
    keys[n] = NULL;
    const char *near = n ? suggest(a->key, keys) : NULL;
    if (near)
        diag_error(a->pos, "%s has no argument '%s'; did you mean '%s'?", s->name, a->key, near);
    else if (n == 0)
        diag_error(a->pos, "%s takes no arguments", s->name);
    else
        diag_error(a->pos, "%s has no argument '%s'", s->name, a->key);
    return -1;
}

static int check_value(const call_spec *s, const arg_spec *as, const ast_value *v, double *out)
{
    if (as->type == ARG_WORD) {
        for (int i = 0; i < 3 && as->words[i]; i++)
            if (v->kind == VAL_IDENT && strcmp(v->ident, as->words[i]) == 0) {
                *out = i;
                return 0;
            }
        diag_error(v->pos, "%s: '%s' must be %s or %s, not '%s'", s->name, as->key, as->words[0], as->words[1],
                   v->text);
        return -1;
    }
    if (as->type == ARG_SHAPE) {
        if (v->kind != VAL_SHAPE || v->ndims != 3) {
            diag_error(v->pos, "%s: '%s' must be a shape CxHxW, like 64x7x7, not '%s'",
                       s->name, as->key, v->text);
            return -1;
        }
        return 0;
    }
    if (v->kind != VAL_NUMBER) {
        diag_error(v->pos, "%s: '%s' must be a number, not '%s'", s->name, as->key, v->text);
        return -1;
    }
    if (as->type == ARG_INT && v->num != floor(v->num)) {    /* 1e6 is whole, 2.5 is not */
        diag_error(v->pos, "%s: '%s' must be a whole number, not '%s'", s->name, as->key, v->text);
        return -1;
    }
    if (!(v->num >= as->min && v->num <= as->max)) {
        if (as->type == ARG_INT)
            diag_error(v->pos, "%s: '%s' must be from %.0f to %.0f, not %s", s->name, as->key, as->min,
                       as->max, v->text);
        else
            diag_error(v->pos, "%s: '%s' must be from %g to %g, not %s", s->name, as->key, as->min,
                       as->max, v->text);
        return -1;
    }
    *out = v->num;
    return 0;
}

/* The position of the i-th argument that a call gives, by key or position. */
static int arg_slot(const call_spec *s, const ast_arg *a, int i)
{
    if (a->key)
        return key_index(s, a);
    if (i < s->positional)
        return i;
    if (nkeys(s) == 0)
        diag_error(a->pos, "%s takes no arguments", s->name);
    else if (i >= nkeys(s))
        diag_error(a->pos, "%s takes at most %d argument%s", s->name, nkeys(s), nkeys(s) == 1 ? "" : "s");
    else
        diag_error(a->pos, "%s: give this argument with its name, as %s=%s", s->name, s->args[i].key,
                   a->val.text);
    return -1;
}

static int bind_args(const ast_call *c, const call_spec *s, bound_args *b)
{
    int given[MAX_ARGS] = {0}, rc = 0;
    for (int i = 0; i < MAX_ARGS; i++)
        b->num[i] = s->args[i].def;
    for (int i = 0; i < c->nargs; i++) {
        int k = arg_slot(s, &c->args[i], i);
        if (k < 0) {
            rc = -1;
            continue;
        }
        if (given[k]++) {
            diag_error(c->args[i].pos, "%s: '%s' is given twice", s->name, s->args[k].key);
            rc = -1;
            continue;
        }
        b->shape[k] = &c->args[i].val;
        if (check_value(s, &s->args[k], &c->args[i].val, &b->num[k]) < 0)
            rc = -1;
    }
    for (int k = 0; k < nkeys(s) && rc == 0; k++)
        if (s->args[k].required && !given[k]) {
            diag_error(c->pos, "%s needs '%s'", s->name, s->args[k].key);
            rc = -1;
        }
    return rc;
}

/* ---- layers and shapes ------------------------------------------------------ */

typedef struct {
    ir_model *m;
    int counts[NSPECS];     /* per kind, for default names */
} sema_state;

static int spec_index(const call_spec *s) { return (int)(s - specs); }

/* An activation named after a layer on the same line. */
static int bind_activation(const ast_call *c, ir_layer *l)
{
    const call_spec *s = find_spec(c, ROLE_ACT);
    bound_args b;
    if (!s || bind_args(c, s, &b) < 0)
        return -1;
    l->act = (ir_act)s->code;
    l->slope = (float)b.num[0];
    return 0;
}

static const char *const reserved[] = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch",
    "typedef", "union", "unsigned", "void", "volatile", "while", "main", "input", "params",
    "grads", "arena", "B",
    /* PREP_TOTAL, the last of the enum whose members are PREP_LAYER, like
     * P_TOTAL and A_TOTAL: a layer TOTAL passed check and did not compile.
     * Every other generated name has a prefix or suffix no layer name can
     * give it (L_loss: loss is a keyword; LAYER_din_*: see below). */
    "TOTAL", NULL};

static int check_name(const char *name, ast_pos pos, const ir_model *m, int given)
{
    if (strlen(name) > 40 || name[0] == '_') {
        diag_error(pos, "layer name '%s' must be at most 40 characters and not start with '_'", name);
        return -1;
    }
    for (const char *const *r = reserved; *r; r++)
        if (strcmp(name, *r) == 0) {
            diag_error(pos, "'%s' is reserved in the generated C; choose another layer name", name);
            return -1;
        }
    /* LAYER_din_*, LAYER_dw_* and LAYER_wino_* are a convolution's own
     * kernels: a layer named X_din, X_dw or X_wino would define X's
     * functions a second time */
    static const char *const suffixes[][2] = { { "_din", "input-gradient kernels LAYER_din_*" },
                                               { "_dw", "weight-gradient kernels LAYER_dw_*" },
                                               { "_wino", "Winograd kernels LAYER_wino_*" } };
    size_t n = strlen(name);
    for (size_t k = 0; k < sizeof suffixes / sizeof suffixes[0]; k++) {
        size_t len = strlen(suffixes[k][0]);
        if (n >= len && strcmp(name + n - len, suffixes[k][0]) == 0) {
            diag_error(pos, "layer names ending in '%s' are reserved: aec names a convolution's "
                       "%s; choose another layer name", suffixes[k][0], suffixes[k][1]);
            return -1;
        }
    }
    if (m->gaussian >= 0 && (strcmp(name, "mu") == 0 || strcmp(name, "logvar") == 0)) {
        diag_error(pos, "'%s' names a head of the gaussian latent; choose another layer name", name);
        return -1;
    }
    if (strcmp(name, m->name) == 0) {
        diag_error(pos, "layer '%s' has the model's name, which its generated functions use; rename it", name);
        return -1;
    }
    for (int i = 0; i < m->nlayers; i++)
        if (strcmp(m->layers[i].name, name) == 0) {
            if (given)
                diag_error(pos, "a second layer named '%s' (the first is on line %d)", name, m->layers[i].line);
            else
                diag_error(pos, "this layer's default name '%s' is taken (line %d); give it a name", name,
                           m->layers[i].line);
            return -1;
        }
    return 0;
}

static void name_layer(sema_state *st, ir_layer *l, const ast_layer *al, const call_spec *s)
{
    if (al->name) {
        snprintf(l->name, sizeof l->name, "%s", al->name);
        return;
    }
    int n = ++st->counts[spec_index(s)];
    snprintf(l->name, sizeof l->name, "%s_%s%d", l->in_decoder ? "dec" : "enc", s->name, n);
}

/* "KIND 'NAME' needs NEED, but its input is SHAPE[; HINT]" */
static int shape_error(const ir_layer *l, ast_pos pos, const char *need, const char *hint)
{
    char in[64];
    diag_error(pos, "%s '%s' needs %s, but its input is %s%s%s", ir_kind_name(l->kind), l->name, need,
               ir_shape_str(l->in, in, sizeof in), hint ? "; " : "", hint ? hint : "");
    return -1;
}

/* (size + 2*pad - kernel) / stride + 1, and its transpose. */
static int conv_extent(int size, const ir_conv *c) { return (size + 2 * c->pad - c->kernel) / c->stride + 1; }
static long long deconv_extent(int size, const ir_conv *c)
{
    return (long long)(size - 1) * c->stride - 2 * c->pad + c->kernel + c->out_pad;
}

static int infer_conv(ir_layer *l, ast_pos pos)
{
    ir_conv *c = &l->conv;
    if (l->in.flat)
        return shape_error(l, pos, "an image input (CxHxW)", "add unflatten before it");
    int h, w;
    if (l->kind == IR_CONV2D) {
        if (c->kernel > l->in.h + 2 * c->pad || c->kernel > l->in.w + 2 * c->pad)
            return shape_error(l, pos, "an input at least as large as its kernel (with padding)", NULL);
        h = conv_extent(l->in.h, c);
        w = conv_extent(l->in.w, c);
    } else {
        if (c->out_pad >= c->stride) {
            diag_error(pos, "deconv2d '%s': out_pad (%d) must be smaller than stride (%d), as in PyTorch",
                       l->name, c->out_pad, c->stride);
            return -1;
        }
        long long hh = deconv_extent(l->in.h, c), ww = deconv_extent(l->in.w, c);
        if (hh >= 1 && ww >= 1 && (double)hh * ww * c->out > 1 << 26) {
            diag_error(pos, "layer '%s' is too large (more than 2^26 outputs or 2^28 weights per image)", l->name);
            return -1;
        }
        if (hh < 1 || ww < 1)
            return shape_error(l, pos, "less padding", "its output would be empty");
        h = (int)hh;
        w = (int)ww;
    }
    l->out = (ir_shape){c->out, h, w, 0};
    return 0;
}

static int infer_shape(ir_layer *l, const bound_args *b, ast_pos pos)
{
    switch (l->kind) {
    case IR_CONV2D:
    case IR_DECONV2D:
        l->conv = (ir_conv){(int)b->num[0], (int)b->num[1], (int)b->num[2], (int)b->num[3],
                            l->kind == IR_DECONV2D ? (int)b->num[4] : 0};
        return infer_conv(l, pos);
    case IR_LINEAR:
        if (!l->in.flat)
            return shape_error(l, pos, "a flat input", "add flatten before it");
        l->features = (int)b->num[0];
        l->out = (ir_shape){l->features, 1, 1, 1};
        return 0;
    case IR_FLATTEN:
        if (l->in.flat)
            return shape_error(l, pos, "an image input", "it is already flat");
        l->out = (ir_shape){(int)ir_numel(l->in), 1, 1, 1};
        return 0;
    case IR_UNFLATTEN: {
        const ast_value *v = b->shape[0];
        ir_shape s = {v->dims[0], v->dims[1], v->dims[2], 0};
        if (!l->in.flat || ir_numel(s) != ir_numel(l->in)) {
            char need[96];
            snprintf(need, sizeof need, "a flat input of %zu features for %s", ir_numel(s), v->text);
            return shape_error(l, pos, need, NULL);
        }
        l->out = s;
        return 0;
    }
    case IR_ACT:
        l->out = l->in;
        return 0;
    case IR_GAUSSIAN:   /* made by add_gaussian, never from a layer line */
        break;
    }
    return -1;
}

/* what: "weight" or "bias" (named after the layer), or a gaussian head's
 * "mu.weight" ... (named after the head alone, as PyTorch's submodules). */
static void add_param(ir_model *m, ir_layer *l, const char *what, int ndim, const int *shape, int fan_in)
{
    ir_param *p = &m->params[m->nparams];
    if (strchr(what, '.'))
        snprintf(p->name, sizeof p->name, "%s", what);
    else
        snprintf(p->name, sizeof p->name, "%s.%s", l->name, what);
    p->ndim = ndim;
    p->numel = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = shape[i];
        p->numel *= (size_t)shape[i];
    }
    p->fan_in = fan_in;
    p->offset = m->n_param_floats;
    m->n_param_floats += p->numel;
    int *slot = strstr(what, "logvar.") ? (strstr(what, "weight") ? &l->weight2 : &l->bias2)
                                         : (strstr(what, "weight") ? &l->weight : &l->bias);
    *slot = m->nparams++;
}

/* Parameters in PyTorch's layouts: Conv2d [out, in, k, k], ConvTranspose2d
 * [in, out, k, k] (its fan_in is out*k*k, as torch computes it), Linear
 * [out, in]. Biases share their weight's fan_in. */
static void add_params(ir_model *m, ir_layer *l)
{
    int k = l->conv.kernel, fan_in, ws[4];
    m->params = xrealloc(m->params, (size_t)(m->nparams + 2) * sizeof *m->params);
    l->weight2 = l->bias2 = -1;
    if (l->kind == IR_CONV2D) {
        ws[0] = l->out.c, ws[1] = l->in.c, ws[2] = ws[3] = k;
        fan_in = l->in.c * k * k;
    } else if (l->kind == IR_DECONV2D) {
        ws[0] = l->in.c, ws[1] = l->out.c, ws[2] = ws[3] = k;
        fan_in = l->out.c * k * k;
    } else {
        ws[0] = l->out.c, ws[1] = l->in.c;
        fan_in = l->in.c;
    }
    if (l->kind == IR_GAUSSIAN) {
        m->params = xrealloc(m->params, (size_t)(m->nparams + 4) * sizeof *m->params);
        add_param(m, l, "mu.weight", 2, ws, fan_in);
        add_param(m, l, "mu.bias", 1, &l->out.c, fan_in);
        add_param(m, l, "logvar.weight", 2, ws, fan_in);
        add_param(m, l, "logvar.bias", 1, &l->out.c, fan_in);
        return;
    }
    add_param(m, l, "weight", l->kind == IR_LINEAR ? 2 : 4, ws, fan_in);
    add_param(m, l, "bias", 1, &l->out.c, fan_in);
}

/* Keep every buffer and GEMM extent well inside int and size_t arithmetic. */
static int check_size(const ir_layer *l, ast_pos pos)
{
    double cols = ir_cols(l);
    double k2 = (double)l->conv.kernel * l->conv.kernel;
    double weights = l->kind == IR_LINEAR || l->kind == IR_GAUSSIAN ? (double)l->in.c * l->out.c
                     : l->kind == IR_CONV2D || l->kind == IR_DECONV2D ? (double)l->in.c * l->out.c * k2 : 0;
    if ((double)ir_numel(l->out) > 1 << 26 || cols > 1 << 28 || weights > 1 << 28) {
        diag_error(pos, "layer '%s' is too large (more than 2^26 outputs or 2^28 weights per image)", l->name);
        return -1;
    }
    return 0;
}

static int add_layer(sema_state *st, const ast_layer *al, int in_decoder, ir_shape *cur)
{
    ir_model *m = st->m;
    const call_spec *s = find_spec(&al->call, ROLE_LAYER);
    bound_args b;
    if (!s || bind_args(&al->call, s, &b) < 0)
        return -1;
    ir_layer l = {.line = al->pos.line, .col = al->pos.col, .named = al->name != NULL, .in_decoder = in_decoder,
                  .in = *cur, .weight = -1, .bias = -1, .weight2 = -1, .bias2 = -1,
                  .kind = s->role == ROLE_ACT ? IR_ACT : (ir_kind)s->code};
    name_layer(st, &l, al, s);
    if (check_name(l.name, al->name ? al->name_pos : al->pos, m, al->name != NULL) < 0)
        return -1;
    if (s->role == ROLE_ACT) {
        l.act = (ir_act)s->code;
        l.slope = (float)b.num[0];
    }
    if (al->act && s->role == ROLE_ACT) {
        if (find_spec(al->act, ROLE_ACT))   /* else find_spec said what it is not */
            diag_error(al->act->pos, "an activation follows a layer, not another activation");
        return -1;
    }
    if (al->act && bind_activation(al->act, &l) < 0)
        return -1;
    if (infer_shape(&l, &b, al->call.pos) < 0 || check_size(&l, al->call.pos) < 0)
        return -1;
    if (l.kind == IR_CONV2D || l.kind == IR_DECONV2D || l.kind == IR_LINEAR)
        add_params(m, &l);
    m->layers = xrealloc(m->layers, (size_t)(m->nlayers + 1) * sizeof *m->layers);
    m->layers[m->nlayers++] = l;
    *cur = l.out;
    return 0;
}

static int add_block(sema_state *st, const ast_block *blk, int in_decoder, const char *what, ast_pos at,
                     ir_shape *cur)
{
    if (blk->nlayers == 0) {
        diag_error(blk->pos.line ? blk->pos : at, "the model needs a non-empty %s block", what);
        return -1;
    }
    memset(st->counts, 0, sizeof st->counts);     /* enc_relu1 and dec_relu1 */
    for (int i = 0; i < blk->nlayers; i++)
        if (add_layer(st, &blk->layers[i], in_decoder, cur) < 0)
            return -1;
    return 0;
}

/* latent gaussian(Z): the heads mu and logvar (PyTorch: nn.Linear each,
 * named mu and logvar) read the encoder's flat output; z = mu + eps *
 * exp(logvar / 2) feeds the decoder. One IR layer, named latent. */
static int add_gaussian(sema_state *st, const ast_call *c, ir_shape *cur)
{
    ir_model *m = st->m;
    const call_spec *s = find_spec(c, ROLE_LATENT);
    bound_args b;
    if (!s || bind_args(c, s, &b) < 0)
        return -1;
    ir_layer l = {.kind = IR_GAUSSIAN, .line = c->pos.line, .col = c->pos.col, .in = *cur, .weight = -1,
                  .bias = -1, .weight2 = -1, .bias2 = -1, .features = (int)b.num[0], .beta = (float)b.num[1]};
    snprintf(l.name, sizeof l.name, "latent");
    if (!cur->flat)
        return shape_error(&l, c->pos, "a flat input", "end the encoder with flatten");
    for (int i = 0; i < m->nlayers; i++)
        if (strcmp(m->layers[i].name, "mu") == 0 || strcmp(m->layers[i].name, "logvar") == 0) {
            diag_error(c->pos, "the gaussian latent's heads are named mu and logvar, but line %d has a layer "
                       "named '%s'; rename it", m->layers[i].line, m->layers[i].name);
            return -1;
        }
    l.out = (ir_shape){l.features, 1, 1, 1};
    if (check_size(&l, c->pos) < 0)
        return -1;
    add_params(m, &l);
    m->gaussian = m->nlayers;
    m->layers = xrealloc(m->layers, (size_t)(m->nlayers + 1) * sizeof *m->layers);
    m->layers[m->nlayers++] = l;
    *cur = l.out;
    return 0;
}

/* ---- the model's sections ----------------------------------------------------- */

static int check_input(const ast_model *a, ir_model *m)
{
    if (!a->input_pos.line) {
        diag_error(a->pos, "model '%s' has no input line (e.g. input 1x28x28 range [0, 1])", a->name);
        return -1;
    }
    const ast_value *s = &a->input_shape;
    if (s->ndims != 3) {
        diag_error(s->pos, "input must be an image shape CxHxW, like 1x28x28, not '%s'", s->text);
        return -1;
    }
    m->input = (ir_shape){s->dims[0], s->dims[1], s->dims[2], 0};
    m->lo = (float)a->range_lo.num;
    m->hi = (float)a->range_hi.num;
    if (!(a->range_lo.num < a->range_hi.num)) {
        diag_error(a->range_lo.pos, "input range [%s, %s] must have its low end below its high end",
                   a->range_lo.text, a->range_hi.text);
        return -1;
    }
    if (fabs(a->range_lo.num) > 1e6 || fabs(a->range_hi.num) > 1e6) {
        diag_error(a->range_lo.pos, "input range [%s, %s] must lie within [-1e6, 1e6]", a->range_lo.text,
                   a->range_hi.text);
        return -1;
    }
    if (ir_numel(m->input) > 1 << 24) {
        diag_error(s->pos, "input %s is too large (more than 2^24 values per image)", s->text);
        return -1;
    }
    return 0;
}

static int check_loss(const ast_model *a, ir_model *m)
{
    if (!a->loss.name) {
        diag_error(a->pos, "model '%s' has no loss line (loss mse or loss bce)", a->name);
        return -1;
    }
    const call_spec *s = find_spec(&a->loss, ROLE_LOSS);
    bound_args b;
    if (!s || bind_args(&a->loss, s, &b) < 0)
        return -1;
    m->loss = (ir_loss)s->code;
    m->reduce = (ir_reduce)b.num[0];
    /* flatten and unflatten only move values: look through them */
    const ir_layer *last = &m->layers[m->nlayers - 1];
    while (last > m->layers && (last->kind == IR_FLATTEN || last->kind == IR_UNFLATTEN))
        last--;
    if (m->loss == LOSS_BCE && (m->lo < 0 || m->hi > 1)) {
        diag_error(a->loss.pos, "loss bce needs the input range within [0, 1], not [%g, %g]", m->lo, m->hi);
        return -1;
    }
    if (m->loss == LOSS_BCE && last->act != ACT_SIGMOID) {
        diag_error(a->loss.pos, "loss bce needs outputs in (0, 1): end the decoder with sigmoid "
                                "(its last layer '%s' is not)", last->name);
        return -1;
    }
    return 0;
}

static int check_optimizer(const ast_model *a, ir_model *m)
{
    ast_call dflt = {.name = "adam", .pos = a->pos};
    const ast_call *c = a->optimizer.name ? &a->optimizer : &dflt;
    const call_spec *s = find_spec(c, ROLE_OPTIM);
    bound_args b;
    if (!s || bind_args(c, s, &b) < 0)
        return -1;
    ir_optim *o = &m->optim;
    o->kind = (ir_opt)s->code;
    o->lr = (float)b.num[0];
    if (o->kind == OPT_ADAM) {
        o->beta1 = (float)b.num[1], o->beta2 = (float)b.num[2];
        o->eps = (float)b.num[3], o->weight_decay = (float)b.num[4];
    } else {
        o->momentum = (float)b.num[1], o->weight_decay = (float)b.num[2];
    }
    return 0;
}

static int check_train(const ast_model *a, ir_model *m)
{
    ast_call dflt = {.name = "train", .pos = a->pos};
    const ast_call *c = a->train.name ? &a->train : &dflt;
    bound_args b;
    if (bind_args(c, find_spec(c, ROLE_TRAIN), &b) < 0)
        return -1;
    m->batch = (int)b.num[0];
    m->epochs = (int)b.num[1];
    m->seed = (long long)b.num[2];
    return 0;
}

static int check_model_name(const ast_model *a, ir_model *m)
{
    if (strlen(a->name) > 40 || a->name[0] == '_') {
        diag_error(a->pos, "model name '%s' must be at most 40 characters and not start with '_'", a->name);
        return -1;
    }
    if (strcmp(a->name, "aec") == 0 || strncmp(a->name, "aec_", 4) == 0) {
        diag_error(a->pos, "model name '%s' is taken by the runtime (aec.h, aec_*); choose another", a->name);
        return -1;
    }
    snprintf(m->name, sizeof m->name, "%s", a->name);
    return 0;
}

static int check_output(const ast_model *a, const ir_model *m)
{
    const ir_layer *last = &m->layers[m->nlayers - 1];
    ir_shape o = last->out, i = m->input;
    if (!o.flat && o.c == i.c && o.h == i.h && o.w == i.w)
        return 0;
    char os[64], is[64];
    diag_error((ast_pos){last->line, last->col}, "the decoder ends in %s here, but the input is %s; "
               "an autoencoder's output must have the input's shape",
               ir_shape_str(o, os, sizeof os), ir_shape_str(i, is, sizeof is));
    return -1;
}

int sema_check(const ast_model *a, ir_model *m)
{
    memset(m, 0, sizeof *m);
    sema_state st = {.m = m};
    m->gaussian = -1;
    m->model_line = a->pos.line;
    m->encoder_line = a->encoder.pos.line;
    m->decoder_line = a->decoder.pos.line;
    m->loss_line = a->loss.pos.line;
    if (check_model_name(a, m) < 0 || check_input(a, m) < 0)
        return -1;
    ir_shape cur = m->input;
    if (add_block(&st, &a->encoder, 0, "encoder", a->pos, &cur) < 0)
        return -1;
    if (a->latent.name && add_gaussian(&st, &a->latent, &cur) < 0)
        return -1;
    m->n_encoder = m->nlayers;
    if (add_block(&st, &a->decoder, 1, "decoder", a->pos, &cur) < 0)
        return -1;
    if (m->nparams == 0) {
        diag_error(a->pos, "model '%s' has no layer with weights (conv2d, deconv2d, linear or a gaussian "
                   "latent); there is nothing to train", m->name);
        return -1;
    }
    if (check_output(a, m) < 0 || check_loss(a, m) < 0)
        return -1;
    return check_optimizer(a, m) < 0 || check_train(a, m) < 0 ? -1 : 0;
}
