/* front/ast.c: building and freeing the syntax tree. */
#include <stdlib.h>
#include <string.h>
#include "base/util.h"
#include "front/ast.h"

void ast_push_arg(ast_call *c, ast_arg a)
{
    c->args = xrealloc(c->args, (size_t)(c->nargs + 1) * sizeof *c->args);
    c->args[c->nargs++] = a;
}

void ast_push_layer(ast_block *b, ast_layer l)
{
    b->layers = xrealloc(b->layers, (size_t)(b->nlayers + 1) * sizeof *b->layers);
    b->layers[b->nlayers++] = l;
}

void ast_push_directive(ast_schedule *s, ast_directive d)
{
    s->items = xrealloc(s->items, (size_t)(s->n + 1) * sizeof *s->items);
    s->items[s->n++] = d;
}

static void free_value(ast_value *v)
{
    free(v->ident);
    free(v->text);
}

void ast_free_call(ast_call *c)
{
    for (int i = 0; i < c->nargs; i++) {
        free(c->args[i].key);
        free_value(&c->args[i].val);
    }
    free(c->args);
    free(c->name);
    memset(c, 0, sizeof *c);
}

static void free_block(ast_block *b)
{
    for (int i = 0; i < b->nlayers; i++) {
        ast_layer *l = &b->layers[i];
        free(l->name);
        ast_free_call(&l->call);
        if (l->act) {
            ast_free_call(l->act);
            free(l->act);
        }
    }
    free(b->layers);
}

void ast_free_model(ast_model *m)
{
    free(m->name);
    free_value(&m->input_shape);
    free_value(&m->range_lo);
    free_value(&m->range_hi);
    free_block(&m->encoder);
    free_block(&m->decoder);
    ast_free_call(&m->latent);
    ast_free_call(&m->loss);
    ast_free_call(&m->optimizer);
    ast_free_call(&m->train);
    for (int i = 0; i < m->schedule.n; i++) {
        free(m->schedule.items[i].layer);
        free(m->schedule.items[i].pass);
        ast_free_call(&m->schedule.items[i].call);
    }
    free(m->schedule.items);
}
