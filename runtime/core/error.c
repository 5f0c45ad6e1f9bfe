/* error.c: aec_error, the one way every runtime failure is reported. */
#include "aec.h"

#include <stdarg.h>
#include <stdio.h>

void aec_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("aec: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
