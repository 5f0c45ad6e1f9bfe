/* front/diag.h: compiler diagnostics in the form
 *     FILE:LINE:COL: error: message
 *       <the source line>
 *       <caret under the column>
 * Every pass reports through here; the count decides the exit status. */
#ifndef DIAG_H
#define DIAG_H
#include <stdio.h>
#include "front/ast.h"

/* Start a new source: later messages quote lines of src (len bytes). */
void diag_begin(const char *path, const char *src, size_t len, FILE *out);
void diag_error(ast_pos pos, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int  diag_errors(void);

/* The candidate closest to word by edit distance, if close enough to be a
 * plausible typo; NULL otherwise. cands ends with NULL. */
const char *diag_closest(const char *word, const char *const *cands);

#endif
