/* front/parser.y: the grammar of a .ae file, building the tree in ast.h.
 *
 *   model NAME {
 *     input CxHxW range [LO, HI]
 *     encoder { LAYER... }          LAYER:  [name =] kind[(args)] [activation[(args)]]
 *     latent gaussian(Z)            (optional: a variational latent)
 *     decoder { LAYER... }
 *     loss KIND
 *     optimizer KIND(args)
 *     train(key=value, ...)
 *     schedule { LAYER[.PASS] = LOWERING(args)...  model = split(workers=N) }
 *                                   (optional: how, not what)
 *   }
 *
 * The parser checks only the form; what the words mean is sema.c's job. */
%define api.prefix {ae}
%define api.pure full
%define parse.error custom
%locations

%code requires {
#include "front/ast.h"
}

%code {
#include <stdlib.h>
#include <string.h>
#include "front/diag.h"
#include "front/lexer.h"
#include "front/parse.h"
#include "base/util.h"

static ast_model *M;            /* the tree being built */
static ast_block *block;        /* the encoder or decoder being filled */

static ast_pos P(AELTYPE l) { return (ast_pos){l.first_line, l.first_column}; }
static void aeerror(AELTYPE *loc, const char *msg) { diag_error(P(*loc), "%s", msg); }

static ast_value number(char *text, AELTYPE l);
static ast_value ident_value(char *text, AELTYPE l);
static void set_call(ast_call *slot, ast_call *c, const char *what);
static void set_block(ast_block *slot, AELTYPE l);
}

%union {
    char *str;
    ast_value *value;
    ast_call *call;
    ast_arg arg;
    ast_value val;
}

%token MODEL "'model'" INPUT "'input'" RANGE "'range'" ENCODER "'encoder'"
%token DECODER "'decoder'" LOSS "'loss'" OPTIMIZER "'optimizer'" TRAIN "'train'" LATENT "'latent'"
%token SCHEDULE "'schedule'"
%token NEWLINE "end of line"
%token <str> IDENT "name" NUMBER "number"
%token <value> SHAPE "shape (like 1x28x28)"

%type <call> call args opt_act
%type <arg> arg
%type <val> value
%type <str> sched_layer

%destructor { free($$); } <str>
%destructor { if ($$) { free($$->text); free($$); } } <value>
%destructor { if ($$) { ast_free_call($$); free($$); } } <call>
%destructor { free($$.key); free($$.val.ident); free($$.val.text); } <arg>
%destructor { free($$.ident); free($$.text); } <val>

%%

file
    : opt_nl MODEL IDENT '{' opt_nl sections '}' opt_nl
        { M->name = $3; M->pos = P(@3); }
    ;

opt_nl : %empty | nl ;
nl : NEWLINE | nl NEWLINE ;

sections
    : %empty
    | sections section nl
    | sections section
    ;

section
    : INPUT SHAPE RANGE '[' NUMBER ',' NUMBER ']'
        {
          if (M->input_pos.line) {
              diag_error(P(@1), "a second 'input' line; a model has one input");
              free($2->text); free($2); free($5); free($7); YYABORT;
          }
          M->input_pos = P(@1);
          M->input_shape = *$2; free($2);
          M->range_lo = number($5, @5);
          M->range_hi = number($7, @7);
        }
    | ENCODER { set_block(&M->encoder, @1); block = &M->encoder; if (!block->pos.line) YYABORT; } layer_block
    | DECODER { set_block(&M->decoder, @1); block = &M->decoder; if (!block->pos.line) YYABORT; } layer_block
    | LOSS call        { set_call(&M->loss, $2, "loss"); if (!M->loss.name) YYABORT; }
    | LATENT call      { set_call(&M->latent, $2, "latent"); if (!M->latent.name) YYABORT; }
    | OPTIMIZER call   { set_call(&M->optimizer, $2, "optimizer"); if (!M->optimizer.name) YYABORT; }
    | TRAIN args_paren { }
    | SCHEDULE
        {
          if (M->schedule.pos.line) {
              diag_error(P(@1), "a second 'schedule' block; put all its lines in one");
              YYABORT;
          }
          M->schedule.pos = P(@1);
        }
      schedule_block
    ;
schedule_block
    : '{' opt_nl '}'
    | '{' opt_nl directives opt_nl '}'
    ;
directives
    : directive
    | directives nl directive
    ;
/* a layer a schedule line names: the gaussian latent is named by its keyword */
sched_layer
    : IDENT
    | LATENT            { $$ = xstrdup("latent"); }
    ;
directive
    : sched_layer '=' call
        {
          ast_directive d = {.pos = P(@1), .layer = $1, .call = *$3};
          free($3);
          ast_push_directive(&M->schedule, d);
        }
    | sched_layer '.' IDENT '=' call
        {
          ast_directive d = {.pos = P(@1), .layer = $1, .pass = $3, .pass_pos = P(@3), .call = *$5};
          free($5);
          ast_push_directive(&M->schedule, d);
        }
    | MODEL '=' call
        {
          ast_directive d = {.pos = P(@1), .layer = NULL, .call = *$3};
          free($3);
          ast_push_directive(&M->schedule, d);
        }
    ;

args_paren
    : '(' args ')'
        {
          $2->name = xstrdup("train"); $2->pos = P(@$); $2->has_parens = 1;
          set_call(&M->train, $2, "train");
          if (!M->train.name) YYABORT;
        }
    ;

layer_block
    : '{' opt_nl '}'
    | '{' opt_nl layers opt_nl '}'
    ;

layers
    : layer
    | layers nl layer
    ;

layer
    : IDENT '=' call opt_act
        {
          ast_layer l = {.pos = P(@1), .name = $1, .name_pos = P(@1), .call = *$3, .act = $4};
          free($3);
          ast_push_layer(block, l);
        }
    | call opt_act
        {
          ast_layer l = {.pos = P(@1), .call = *$1, .act = $2};
          free($1);
          ast_push_layer(block, l);
        }
    ;

opt_act
    : %empty    { $$ = NULL; }
    | call      { $$ = $1; }
    ;

call
    : IDENT                 { $$ = xcalloc(1, sizeof *$$); $$->name = $1; $$->pos = P(@1); }
    | IDENT '(' ')'         { $$ = xcalloc(1, sizeof *$$); $$->name = $1; $$->pos = P(@1); $$->has_parens = 1; }
    | IDENT '(' args ')'    { $$ = $3; $$->name = $1; $$->pos = P(@1); $$->has_parens = 1; }
    ;

args
    : arg               { $$ = xcalloc(1, sizeof *$$); ast_push_arg($$, $1); }
    | args ',' arg      { $$ = $1; ast_push_arg($$, $3); }
    ;

arg
    : value             { $$ = (ast_arg){.pos = $1.pos, .val = $1}; }
    | IDENT '=' value   { $$ = (ast_arg){.pos = P(@1), .key = $1, .val = $3}; }
    ;

value
    : NUMBER            { $$ = number($1, @1); }
    | SHAPE             { $$ = *$1; free($1); }
    | IDENT             { $$ = ident_value($1, @1); }
    ;

%%

/* "'model'" as written in %token, without bison's double quotes. */
static const char *token_name(yysymbol_kind_t t)
{
    static char buf[64];
    const char *n = yysymbol_name(t);
    size_t len = strlen(n);
    if (len >= 2 && n[0] == '"' && n[len - 1] == '"' && len - 2 < sizeof buf) {
        memcpy(buf, n + 1, len - 2);
        buf[len - 2] = '\0';
        return buf;
    }
    return n;
}

/* "syntax error, unexpected X, expecting A, B or C" (the expectations only
 * when there are few enough to help). */
static int yyreport_syntax_error(const yypcontext_t *ctx)
{
    enum { MAX_EXPECTED = 5 };
    yysymbol_kind_t expected[MAX_EXPECTED];
    char msg[512];
    int n = yypcontext_expected_tokens(ctx, expected, MAX_EXPECTED);
    int len = snprintf(msg, sizeof msg, "syntax error, unexpected %s", token_name(yypcontext_token(ctx)));
    for (int i = 0; i < n && len > 0 && (size_t)len < sizeof msg; i++)
        len += snprintf(msg + len, sizeof msg - (size_t)len, "%s%s",
                        i == 0 ? ", expecting " : i == n - 1 ? " or " : ", ", token_name(expected[i]));
    diag_error(P(*yypcontext_location(ctx)), "%s", msg);
    return 0;
}

static ast_value number(char *text, AELTYPE l)
{
    ast_value v = {.kind = VAL_NUMBER, .pos = P(l), .text = text};
    v.num = strtod(text, NULL);
    return v;
}

static ast_value ident_value(char *text, AELTYPE l)
{
    return (ast_value){.kind = VAL_IDENT, .pos = P(l), .ident = text, .text = xstrdup(text)};
}

/* loss, optimizer and train appear once each; the call moves into the tree. */
static void set_call(ast_call *slot, ast_call *c, const char *what)
{
    if (slot->name) {
        diag_error(c->pos, "a second '%s' line; give it once", what);
        ast_free_call(c);
    } else {
        *slot = *c;
    }
    free(c);
}

static void set_block(ast_block *slot, AELTYPE l)
{
    if (slot->pos.line) {
        diag_error(P(l), "a second '%s' block; put all its layers in one",
                   slot == &M->encoder ? "encoder" : "decoder");
        slot->pos.line = 0;     /* tells the caller to stop */
        return;
    }
    slot->pos = P(l);
}

int parse_source(const char *path, const char *src, size_t len, ast_model *out, FILE *err)
{
    memset(out, 0, sizeof *out);
    diag_begin(path, src, len, err);
    M = out;
    lexer_begin(src, len);
    int rc = aeparse();
    lexer_end();
    M = NULL;
    block = NULL;
    return rc == 0 && diag_errors() == 0 ? 0 : -1;
}
