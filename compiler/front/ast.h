/* front/ast.h: the syntax tree the parser builds from a .ae file.
 *
 * The tree is deliberately generic: every layer, activation, loss, optimizer
 * and train setting is a `call` (an identifier with optional arguments), and
 * the semantic pass (sema.c) gives each its meaning. That keeps the grammar
 * small and lets sema report unknown kinds and keys with a did-you-mean. */
#ifndef AST_H
#define AST_H

typedef struct {
    int line, col;              /* 1-based, of the token that starts the thing */
} ast_pos;

typedef enum { VAL_NUMBER, VAL_SHAPE, VAL_IDENT } ast_val_kind;

#define AST_MAX_DIMS 4

typedef struct {
    ast_val_kind kind;
    ast_pos pos;
    double num;                 /* VAL_NUMBER */
    int ndims, dims[AST_MAX_DIMS];  /* VAL_SHAPE: 64x7x7 */
    char *ident;                /* VAL_IDENT */
    char *text;                 /* the literal as written, for messages */
} ast_value;

typedef struct {
    ast_pos pos;
    char *key;                  /* NULL for a positional argument */
    ast_value val;
} ast_arg;

typedef struct {
    ast_pos pos;
    char *name;                 /* conv2d, relu, adam, mse, train, ... */
    int has_parens;
    int nargs;
    ast_arg *args;
} ast_call;

/* One line of an encoder or decoder block: [name =] call [activation] */
typedef struct {
    ast_pos pos;
    char *name;                 /* NULL when not given */
    ast_pos name_pos;
    ast_call call;
    ast_call *act;              /* NULL when no activation follows */
} ast_layer;

typedef struct {
    ast_pos pos;
    int nlayers;
    ast_layer *layers;
} ast_block;

/* One line of a schedule block: LAYER[.PASS] = LOWERING(key=value, ...),
 * or model = split(workers=N) for the whole step (layer NULL). */
typedef struct {
    ast_pos pos;
    char *layer;
    char *pass;                 /* "forward", "backward" or NULL for both */
    ast_pos pass_pos;
    ast_call call;              /* gemm(...) or direct(...) */
} ast_directive;

typedef struct {
    ast_pos pos;                /* line 0: no schedule block */
    int n;
    ast_directive *items;
} ast_schedule;

typedef struct {
    char *name;
    ast_pos pos;
    /* each section may appear once; pos.line == 0 means absent */
    ast_pos input_pos;
    ast_value input_shape;
    ast_value range_lo, range_hi;
    ast_block encoder, decoder;
    ast_call latent, loss, optimizer, train;   /* latent: name NULL if absent */
    ast_schedule schedule;      /* how, not what: see schedule.c */
} ast_model;

/* Growing arrays for the parser's lists. */
void ast_push_arg(ast_call *c, ast_arg a);
void ast_push_layer(ast_block *b, ast_layer l);
void ast_push_directive(ast_schedule *s, ast_directive d);
void ast_free_model(ast_model *m);
void ast_free_call(ast_call *c);

#endif
