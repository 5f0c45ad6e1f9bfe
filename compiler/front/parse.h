/* front/parse.h: from .ae source text to the tree in ast.h. */
#ifndef PARSE_H
#define PARSE_H
#include <stdio.h>
#include "front/ast.h"

/* Parse src (len bytes, the contents of path). Errors go to err (stderr
 * when NULL) as FILE:LINE:COL diagnostics. 0 on success; -1 on any error,
 * with out holding whatever was built (free it with ast_free_model). */
int parse_source(const char *path, const char *src, size_t len, ast_model *out, FILE *err);

#endif
