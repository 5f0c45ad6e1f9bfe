/* front/lexer.h: the lexer's entry points, for the parser. */
#ifndef LEXER_H
#define LEXER_H
#include <stddef.h>

void lexer_begin(const char *src, size_t len);
void lexer_end(void);
/* The next token; its value and location go to *val and *loc (the pure
 * parser's, front/parser.h). */
union AESTYPE;
struct AELTYPE;
int aelex(union AESTYPE *val, struct AELTYPE *loc);

#endif
