/* diag.h: compiler diagnostics in the form
 *     FILE:LINE:COL: error: message
 *       <the source line>
 *       <caret under the column>
 * Every pass reports through here; the count decides the exit status. */
#ifndef DIAG_H
#define DIAG_H
#include <stdio.h>
#include "ast.h"

/* Start a new source: later messages quote lines of src (len bytes). */
void diag_begin(const char *path, const char *src, size_t len, FILE *out);
void diag_error(ast_pos pos, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A note under the last error, without a source quote. */
void diag_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int  diag_errors(void);
const char *diag_path(void);

/* Line `line` (1-based) of the source, without its newline, into buf. */
void diag_source_line(int line, char *buf, size_t size);

/* The candidate closest to word by edit distance, if close enough to be a
 * plausible typo; NULL otherwise. cands ends with NULL. */
const char *diag_closest(const char *word, const char *const *cands);

#endif
