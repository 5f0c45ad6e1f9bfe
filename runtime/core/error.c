/* error.c: aec_error, the one way every runtime failure is reported. */
#include "aec.h"
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int named_rank = -1;

void aec_error_name_rank(int rank)
{
    named_rank = rank;
}

/* The line is made whole, then written at once: the ranks of a job share
 * one stderr (mpirun's), where pieces written apart interleave. */
void aec_error(const char *fmt, ...)
{
    char line[8192];
    int n = named_rank >= 0 ? snprintf(line, sizeof line, "aec: rank %d: ", named_rank)
                            : snprintf(line, sizeof line, "aec: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    strcat(line, "\n");
    fputs(line, stderr);
}
