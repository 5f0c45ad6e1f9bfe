/* error.c: aec_error, the one way every runtime failure is reported. */
#include "aec.h"
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

static int named_rank = -1;

void aec_error_name_rank(int rank)
{
    named_rank = rank;
}

void aec_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("aec: ", stderr);
    if (named_rank >= 0)
        fprintf(stderr, "rank %d: ", named_rank);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
