/* front/diag.c: positions, source quotes, carets and did-you-mean. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "base/util.h"
#include "front/diag.h"

static struct {
    const char *path;
    const char *src;
    size_t len;
    FILE *out;
    int errors;
} D;

void diag_begin(const char *path, const char *src, size_t len, FILE *out)
{
    static char *shown;         /* the path as messages show it (esc_name) */
    free(shown);
    D.path = shown = esc_name(path);
    D.src = src;
    D.len = len;
    D.out = out ? out : stderr;
    D.errors = 0;
}

int diag_errors(void) { return D.errors; }

static void quote(ast_pos pos)
{
    char line[512];
    if (pos.line <= 0)
        return;
    source_line(D.src, D.len, pos.line, line, sizeof line);
    fprintf(D.out, "  %s\n  ", line);
    /* Keep tabs so the caret lines up under a tab-indented source line. */
    for (int i = 0; i + 1 < pos.col && line[i]; i++)
        fputc(line[i] == '\t' ? '\t' : ' ', D.out);
    fputs("^\n", D.out);
}

void diag_error(ast_pos pos, const char *fmt, ...)
{
    va_list ap;
    D.errors++;
    if (pos.line > 0)
        fprintf(D.out, "%s:%d:%d: error: ", D.path, pos.line, pos.col);
    else
        fprintf(D.out, "%s: error: ", D.path);
    va_start(ap, fmt);
    vfprintf(D.out, fmt, ap);
    va_end(ap);
    fputc('\n', D.out);
    quote(pos);
}

static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    int row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int cost = a[i - 1] != b[j - 1];
            int best = diag + cost;
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *diag_closest(const char *word, const char *const *cands)
{
    const char *best = NULL;
    int best_d = 99;
    for (; *cands; cands++) {
        int d = edit_distance(word, *cands);
        if (d < best_d) {
            best_d = d;
            best = *cands;
        }
    }
    /* A third of the word's length (at least one edit) still reads as a typo. */
    int limit = (int)strlen(word) / 3;
    return best_d <= (limit < 1 ? 1 : limit) ? best : NULL;
}
