/* lexer.h: the lexer's entry points, for the parser. */
#ifndef LEXER_H
#define LEXER_H
#include <stddef.h>

void lexer_begin(const char *src, size_t len);
void lexer_end(void);
int aelex(void);

#endif
