/* base/util.c: allocation and strings. Out of memory is the one failure the
 * compiler does not recover from: it prints and exits 1. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/util.h"

static void out_of_memory(void)
{
    fputs("aec: out of memory\n", stderr);
    exit(1);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        out_of_memory();
    return p;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

void sb_vprintf(sbuf *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    if (n >= 0 && b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->s = xrealloc(b->s, b->cap);
    }
    if (n >= 0) {
        vsnprintf(b->s + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
}

void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(b, fmt, ap);
    va_end(ap);
}

void sb_free(sbuf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

char *read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    sbuf b = {0};
    char chunk[65536];
    size_t n;
    while (b.len <= max && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n + 1 > b.cap) {
            b.cap = (b.len + n + 1) * 2;
            b.s = xrealloc(b.s, b.cap);
        }
        memcpy(b.s + b.len, chunk, n);
        b.len += n;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b.s);
        return NULL;
    }
    if (!b.s)
        b.s = xcalloc(1, 1);
    b.s[b.len] = '\0';
    *len = b.len;
    return b.s;
}

int write_file_atomic(const char *path, const char *text)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int ok = f && fputs(text, f) >= 0;
    ok = f && fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) == 0)
        return 0;
    int e = errno;
    unlink(tmp);
    errno = e;
    return -1;
}

void source_line(const char *src, size_t len, int line, char *buf, size_t size)
{
    size_t i = 0, n = 0;
    for (int l = 1; l < line && i < len; i++)
        if (src[i] == '\n')
            l++;
    for (; i < len && src[i] != '\n' && n + 1 < size; i++) {
        unsigned char c = (unsigned char)src[i];
        buf[n++] = (c == '\t' || (c >= 32 && c < 127)) ? (char)c : '?';
    }
    while (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
}

char *esc_name(const char *s)
{
    sbuf b = {0};
    sb_printf(&b, "%s", "");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
        if (named)
            sb_printf(&b, "%s", named);
        else if (c < 0x20 || c == 0x7f)
            sb_printf(&b, "\\x%02x", c);
        else
            sb_printf(&b, "%c", c);
    }
    return b.s;
}

void say(const char *who, const char *fmt, ...)
{
    sbuf b = {0};
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(&b, fmt, ap);
    va_end(ap);
    char *line = esc_name(b.s ? b.s : "");
    fprintf(stderr, "%s: %s\n", who, line);
    free(line);
    sb_free(&b);
}
