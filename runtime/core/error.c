/* error.c: aec_error, the one way every runtime failure is reported, and
 * aec_esc, the one way a message shows a name it did not make (a path, a
 * file in a folder): neither can put a line break or a terminal control
 * into the output, so a file named "x\naec: done" cannot forge a line. */
#include "aec.h"
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* s into out (cap bytes, at least 9) with each control byte as a C escape
 * (\n, \r, \t, else \xNN); cut short, with "...", if it does not fit. */
static void esc_into(char *out, size_t cap, const char *s)
{
    static const char named[] = "\n\r\t";
    size_t k = 0;
    for (; *s && k + 8 < cap; s++) {    /* each byte takes at most 4 */
        unsigned char c = (unsigned char)*s;
        const char *n = strchr(named, c);
        if (n)
            k += (size_t)snprintf(out + k, cap - k, "\\%c", "nrt"[n - named]);
        else if (c < 0x20 || c == 0x7f)
            k += (size_t)snprintf(out + k, cap - k, "\\x%02x", c);
        else
            out[k++] = (char)c;
    }
    if (*s)
        k += (size_t)snprintf(out + k, cap - k, "...");
    out[k] = '\0';
}

static int needs_esc(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

const char *aec_esc(const char *s)
{
    enum { SLOTS = 8, SIZE = 4 * 4096 + 8 };
    static _Thread_local char buf[SLOTS][SIZE];
    static _Thread_local int next;
    if (!s || !needs_esc(s))
        return s;
    char *out = buf[next++ % SLOTS];
    esc_into(out, SIZE, s);
    return out;
}

static int named_rank = -1;

void aec_error_name_rank(int rank)
{
    named_rank = rank;
}

/* The line is made whole, then written at once: the ranks of a job share
 * one stderr (mpirun's), where pieces written apart interleave. */
void aec_error(const char *fmt, ...)
{
    char msg[8192], out[4 * sizeof msg + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int n = named_rank >= 0 ? snprintf(out, sizeof out, "aec: rank %d: ", named_rank)
                            : snprintf(out, sizeof out, "aec: ");
    /* one line, whatever a name in it holds */
    esc_into(out + n, sizeof out - (size_t)n - 1, msg);
    strcat(out, "\n");
    fputs(out, stderr);
}
