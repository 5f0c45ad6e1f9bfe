/* front/format.h: the canonical layout of a .ae file (aec fmt). */
#ifndef FORMAT_H
#define FORMAT_H
#include <stddef.h>

/* src (len bytes) laid out canonically: one statement a line, two spaces an
 * indent per block, one space between words, none inside ( ) and [ ] or
 * around an argument's =, ", " between arguments, keyed arguments in their
 * documented order, the = of a block's named lines aligned, one blank line
 * at most where there were any, every comment kept on its line or above its
 * statement, trailing comments of consecutive lines aligned two spaces past
 * the longest. src must have compiled (driver.c's compile_source): the
 * formatter trusts the form and reports nothing. A new string, or NULL if
 * the lexer refuses a token. */
char *format_source(const char *src, size_t len);

#endif
