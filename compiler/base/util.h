/* base/util.h: allocation that cannot return NULL, and a growable string. */
#ifndef UTIL_H
#define UTIL_H
#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* A string builder for the emitter and the layer table. */
typedef struct {
    char *s;
    size_t len, cap;
} sbuf;
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(sbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void sb_free(sbuf *b);

/* Line `line` (1-based) of src, without its newline, into buf; bytes that
 * would garble a terminal or a C comment become '?'. */
void source_line(const char *src, size_t len, int line, char *buf, size_t size);

/* s, malloc'd, with each control byte as a C escape (\n, \x1b): how a
 * message shows a path, so that a name with a line break cannot forge one. */
char *esc_name(const char *s);

/* "WHO: " and fmt's line on stderr, its control bytes escaped as esc_name
 * does: every compiler message that shows a path or an argument goes
 * through it, as the runtime's go through aec_error. */
void say(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Write text to path by a temporary file beside it and a rename, so that a
 * reader never sees half a file; -1 with errno set (the temporary removed). */
int write_file_atomic(const char *path, const char *text);

/* Read a whole file, but never more than max + 1 bytes (so *len > max says
 * it is too large without reading /dev/zero to the end); NULL (with errno
 * set) on failure. */
char *read_file(const char *path, size_t max, size_t *len);

#endif
