/* driver.h: the whole pipeline, .ae file to planned IR, and writing the C. */
#ifndef DRIVER_H
#define DRIVER_H
#include <stdio.h>
#include "front/ast.h"
#include "ir/ir.h"
#include "ir/passes.h"

typedef struct {
    char *path;         /* as given */
    char *base;         /* its last component: what generated comments name */
    char *source;
    size_t len;
    ast_model ast;
    ir_model ir;
} compiled;

/* Read, parse, check, fuse and plan. Diagnostics go to err (stderr if NULL).
 * 0 on success; -1 on any error. Free with compiled_free either way. */
int  compile_file(const char *path, FILE *err, compiled *c);
int  compile_source(const char *path, const char *src, size_t len, FILE *err, compiled *c);
/* The same, with every pass that force's lowering applies to set to it
 * after the schedule block (aec tune's variants); force NULL: as written. */
int  compile_file_forced(const char *path, FILE *err, const sched_force *force, compiled *c);
void compiled_free(compiled *c);

/* Write DIR/MODEL.c and DIR/MODEL.h (creating DIR), each atomically. */
int write_emitted(const compiled *c, const char *dir);

#endif
