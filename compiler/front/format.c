/* front/format.c: aec fmt's layout, from the lexer's own tokens and the
 * comments between them (the lexer skips comments; every '#' starts one,
 * as no token holds a '#').
 *
 * The tokens are cut into statements (at line ends, after '{', around '}',
 * and before a section's keyword inside the model's braces); each statement
 * is printed on one line from its tokens alone, so the tokens, and what the
 * model means, stay as they were but for the order of keyed arguments. */
#include <stdlib.h>
#include <string.h>
#include "base/util.h"
#include "front/format.h"
#include "front/lexer.h"
#include "front/parser.h"
#include "ir/passes.h"

typedef struct {
    int kind;                   /* the parser's token kind, or the character */
    char *text;
    int line;
} token;

typedef struct {
    token *t;
    int n, cap;
    int first, last;            /* source lines of its first and last token */
    int depth;                  /* open braces before it: its indent */
    int group;                  /* the block it is in: its = align with the block's */
    char *trail;                /* the comment at the end of its last line */
    int lead_from, lead_to;     /* comment lines inside it, printed above it */
} stmt;

typedef struct {
    stmt *s;
    int n, cap;
} stmts;

/* ---- tokens and comments ------------------------------------------------- */

static const char *keyword(int kind)
{
    switch (kind) {
    case MODEL: return "model";
    case INPUT: return "input";
    case RANGE: return "range";
    case ENCODER: return "encoder";
    case DECODER: return "decoder";
    case LOSS: return "loss";
    case LATENT: return "latent";
    case OPTIMIZER: return "optimizer";
    case TRAIN: return "train";
    case SCHEDULE: return "schedule";
    default: return NULL;
    }
}

static int is_section(int kind)
{
    return kind == INPUT || kind == ENCODER || kind == DECODER || kind == LOSS || kind == LATENT ||
           kind == OPTIMIZER || kind == TRAIN || kind == SCHEDULE;
}

/* The text of one token, owned by the caller. */
static char *token_text(int kind, AESTYPE *v)
{
    if (kind == IDENT || kind == NUMBER)
        return v->str;
    if (kind == SHAPE) {
        char *t = v->value->text;
        free(v->value);
        return t;
    }
    if (keyword(kind))
        return xstrdup(keyword(kind));
    char c[2] = {(char)kind, '\0'};
    return xstrdup(c);
}

/* Every token, NEWLINE included; -1 if the lexer refuses one. */
static int lex_all(const char *src, size_t len, token **out, int *n)
{
    int cap = 64, rc = 0;
    *out = xmalloc(cap * sizeof **out);
    *n = 0;
    lexer_begin(src, len);
    for (;;) {
        AESTYPE v;
        AELTYPE l;
        int kind = aelex(&v, &l);
        if (kind == 0)
            break;
        if (kind == AEerror || kind == AEUNDEF) {
            rc = -1;
            break;
        }
        if (*n == cap)
            *out = xrealloc(*out, (size_t)(cap *= 2) * sizeof **out);
        (*out)[(*n)++] = (token){kind, kind == NEWLINE ? NULL : token_text(kind, &v), l.first_line};
    }
    lexer_end();
    return rc;
}

/* comments[line] points at the '#' of that line's comment, or is NULL;
 * ends[line] is where the comment ends, without trailing blanks. */
static int split_comments(const char *src, size_t len, const char ***comments, const char ***ends)
{
    int lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += src[i] == '\n';
    *comments = xcalloc((size_t)lines + 2, sizeof **comments);
    *ends = xcalloc((size_t)lines + 2, sizeof **ends);
    int line = 1;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\n') {
            line++;
        } else if (src[i] == '#' && !(*comments)[line]) {
            size_t j = i;
            while (j < len && src[j] != '\n')
                j++;
            while (j > i && (src[j - 1] == ' ' || src[j - 1] == '\t' || src[j - 1] == '\r'))
                j--;
            (*comments)[line] = src + i;
            (*ends)[line] = src + j;
        }
    }
    return lines;
}

/* ---- statements -------------------------------------------------------------- */

static stmt *next_stmt(stmts *ss)
{
    if (ss->n == ss->cap)
        ss->s = xrealloc(ss->s, (size_t)(ss->cap = ss->cap ? 2 * ss->cap : 16) * sizeof *ss->s);
    stmt *s = &ss->s[ss->n];
    memset(s, 0, sizeof *s);
    return s;
}

static void push_token(stmt *s, token t)
{
    if (s->n == s->cap)
        s->t = xrealloc(s->t, (size_t)(s->cap = s->cap ? 2 * s->cap : 8) * sizeof *s->t);
    if (s->n == 0)
        s->first = t.line;
    s->last = t.line;
    s->t[s->n++] = t;
}

static void end_stmt(stmts *ss, stmt *cur)
{
    if (cur->n > 0)
        ss->n++;
}

static void cut_statements(token *toks, int n, stmts *ss)
{
    int depth = 0, groups = 0, group_stack[64] = {0}, top = 0;
    stmt *cur = next_stmt(ss);
    for (int i = 0; i < n; i++) {
        token t = toks[i];
        if (t.kind == NEWLINE || t.kind == '}' || (is_section(t.kind) && depth == 1 && cur->n > 0)) {
            end_stmt(ss, cur);
            cur = next_stmt(ss);
        }
        if (t.kind == NEWLINE)
            continue;
        if (t.kind == '}') {
            depth -= depth > 0;
            top -= top > 0;
        }
        if (cur->n == 0) {
            cur->depth = depth;
            cur->group = group_stack[top];
        }
        push_token(cur, t);
        if (t.kind == '{' || t.kind == '}') {
            if (t.kind == '{') {
                depth++;
                if (top < 63)
                    group_stack[++top] = ++groups;
            }
            end_stmt(ss, cur);
            cur = next_stmt(ss);
        }
    }
    end_stmt(ss, cur);
}

/* ---- keyed arguments in their documented order ---------------------------------- */

static int arg_rank(const char *call, const char *key)
{
    static const char *const schedule_keys[] = {"threads", "unroll", "tile", "workers", NULL};
    int r = sema_arg_rank(call, key);
    if (r >= 0)
        return r;
    for (int i = 0; schedule_keys[i]; i++)
        if (strcmp(schedule_keys[i], key) == 0)
            return i;
    return 100;
}

typedef struct {
    int from, to;               /* tokens [from, to) */
    int rank;                   /* -1: positional */
} arg_span;

/* Reorder the keyed arguments of the call whose '(' is token open. */
static void sort_call(stmt *s, int open)
{
    const char *call = s->t[open - 1].kind == TRAIN ? "train" : s->t[open - 1].text;
    arg_span a[32];
    int na = 0, from = open + 1, close = open + 1;
    for (; close < s->n && s->t[close].kind != ')'; close++)
        if (s->t[close].kind == ',' && na < 31) {
            a[na++] = (arg_span){from, close, 0};
            from = close + 1;
        }
    if (close == s->n || from == close)
        return;
    a[na++] = (arg_span){from, close, 0};
    for (int i = 0; i < na; i++) {
        int keyed = a[i].to - a[i].from >= 3 && s->t[a[i].from + 1].kind == '=';
        a[i].rank = keyed ? arg_rank(call, s->t[a[i].from].text) : -1;
    }
    /* the keyed ones' slots keep their places; their contents sort (stably) */
    arg_span sorted[32];
    memcpy(sorted, a, sizeof(arg_span) * (size_t)na);
    for (int i = 1; i < na; i++)
        for (int j = i; j > 0 && sorted[j].rank >= 0 && sorted[j - 1].rank > sorted[j].rank; j--) {
            arg_span x = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = x;
        }
    token *copy = xmalloc((size_t)s->n * sizeof *copy);
    memcpy(copy, s->t, (size_t)s->n * sizeof *copy);
    int k = open + 1;
    for (int i = 0; i < na; i++) {
        for (int j = sorted[i].from; j < sorted[i].to; j++)
            s->t[k++] = copy[j];
        if (i + 1 < na)
            s->t[k++] = copy[a[i].to];      /* the comma */
    }
    free(copy);
}

static void sort_calls(stmt *s)
{
    for (int i = 1; i < s->n; i++)
        if (s->t[i].kind == '(')
            sort_call(s, i);
}

/* ---- one statement's line ------------------------------------------------------------------------ */

/* Is there a space between a and b (paren: the ( [ depth at b)? */
static int spaced(const token *a, const token *b, int paren)
{
    if (b->kind == ')' || b->kind == ']' || b->kind == ',' || b->kind == '.' || b->kind == '(')
        return 0;
    if (a->kind == '(' || a->kind == '[' || a->kind == '.')
        return 0;
    if ((a->kind == '=' || b->kind == '=') && paren > 0)
        return 0;
    return 1;
}

/* The index of the statement's = outside ( ), or -1. */
static int top_equals(const stmt *s)
{
    int paren = 0;
    for (int i = 0; i < s->n; i++) {
        int k = s->t[i].kind;
        paren += (k == '(' || k == '[') - (k == ')' || k == ']');
        if (k == '=' && paren == 0)
            return i;
    }
    return -1;
}

static void print_tokens(sbuf *b, const stmt *s, int from, int to)
{
    int paren = 0;
    for (int i = 0; i < from; i++)
        paren += (s->t[i].kind == '(' || s->t[i].kind == '[') - (s->t[i].kind == ')' || s->t[i].kind == ']');
    for (int i = from; i < to; i++) {
        int k = s->t[i].kind;
        if (k == ')' || k == ']')
            paren--;
        if (i > from && spaced(&s->t[i - 1], &s->t[i], paren))
            sb_printf(b, " ");
        sb_printf(b, "%s", s->t[i].text);
        if (k == '(' || k == '[')
            paren++;
    }
}

/* ---- the lines out --------------------------------------------------------------------------------- */

typedef struct {
    char *code;                 /* indent included; NULL for a blank line */
    const char *comment, *comment_end;
} out_line;

typedef struct {
    out_line *l;
    int n, cap;
} out_lines;

static void emit_line(out_lines *o, char *code, const char *comment, const char *end)
{
    if (o->n == o->cap)
        o->l = xrealloc(o->l, (size_t)(o->cap = o->cap ? 2 * o->cap : 32) * sizeof *o->l);
    o->l[o->n++] = (out_line){code, comment, end};
}

static char *indented(int depth, const char *text)
{
    sbuf b = {0};
    sb_printf(&b, "%*s%s", 2 * depth, "", text);
    return b.s;
}

static int ends_block(const out_lines *o)
{
    if (o->n == 0)
        return 1;
    const out_line *l = &o->l[o->n - 1];
    return l->code && !l->comment && l->code[0] && l->code[strlen(l->code) - 1] == '{';
}

/* A blank line before the next line, where the source had one, never at
 * the start, right after a '{' or right before a '}'. */
static void blank_line(out_lines *o, int had_blank, int closes)
{
    if (had_blank && !closes && !ends_block(o) && o->l[o->n - 1].code)
        emit_line(o, NULL, NULL, NULL);
}

/* The width of each block's names before their '=': its longest. */
static int *align_widths(stmts *ss, int groups)
{
    int *w = xcalloc((size_t)groups + 1, sizeof *w);
    for (int i = 0; i < ss->n; i++) {
        int eq = top_equals(&ss->s[i]);
        if (eq < 0)
            continue;
        sbuf b = {0};
        print_tokens(&b, &ss->s[i], 0, eq);
        int len = b.s ? (int)strlen(b.s) : 0;
        if (len > w[ss->s[i].group])
            w[ss->s[i].group] = len;
        sb_free(&b);
    }
    return w;
}

static char *stmt_code(const stmt *s, const int *widths)
{
    sbuf b = {0};
    sb_printf(&b, "%*s", 2 * s->depth, "");
    int eq = top_equals(s);
    if (eq < 0) {
        print_tokens(&b, s, 0, s->n);
        return b.s;
    }
    size_t start = b.len;
    print_tokens(&b, s, 0, eq);
    sb_printf(&b, "%*s = ", widths[s->group] - (int)(b.len - start), "");
    print_tokens(&b, s, eq + 1, s->n);
    return b.s;
}

/* Trailing comments of consecutive lines start in one column, two spaces
 * past the longest of those lines. */
static char *join_lines(const out_lines *o)
{
    sbuf b = {0};
    for (int i = 0; i < o->n;) {
        int j = i, col = 0;
        while (j < o->n && o->l[j].code && o->l[j].comment && o->l[j].code[strspn(o->l[j].code, " ")]) {
            int len = (int)strlen(o->l[j].code);
            col = len > col ? len : col;
            j++;
        }
        if (j == i) {
            const out_line *l = &o->l[i];
            sb_printf(&b, "%s", l->code ? l->code : "");
            if (l->comment)
                sb_printf(&b, "%.*s", (int)(l->comment_end - l->comment), l->comment);
            sb_printf(&b, "\n");
            i++;
            continue;
        }
        for (; i < j; i++)
            sb_printf(&b, "%-*s%.*s\n", col + 2, o->l[i].code, (int)(o->l[i].comment_end - o->l[i].comment),
                      o->l[i].comment);
    }
    return b.s ? b.s : xstrdup("");
}

/* Which comments belong inside or at the end of a statement: the last
 * statement touching a line takes its comment. */
static void claim_comments(stmts *ss, const char **comments, int *claimed)
{
    for (int i = ss->n - 1; i >= 0; i--) {
        stmt *s = &ss->s[i];
        s->lead_from = s->lead_to = s->last;
        for (int L = s->last; L >= s->first; L--) {
            if (!comments[L] || claimed[L])
                continue;
            claimed[L] = 1;
            if (L == s->last)
                s->trail = (char *)comments[L];
            else
                s->lead_from = L < s->lead_from ? L : s->lead_from;
        }
        if (s->lead_from == s->last)
            s->lead_from = s->lead_to = 0;
    }
}

static void layout(stmts *ss, int groups, const char **comments, const char **ends, int lines, out_lines *o)
{
    int *claimed = xcalloc((size_t)lines + 2, sizeof *claimed);
    claim_comments(ss, comments, claimed);
    int *widths = align_widths(ss, groups);
    int prev_end = 0, si = 0, cl = 1;
    for (;;) {
        while (cl <= lines && !(comments[cl] && !claimed[cl]))
            cl++;
        if (cl > lines && si >= ss->n)
            break;
        if (si >= ss->n || (cl <= lines && cl < ss->s[si].first)) {
            /* a comment on a line of its own: indented as the block it is in */
            int depth = si < ss->n ? ss->s[si].depth + (ss->s[si].t[0].kind == '}') : 0;
            blank_line(o, prev_end && cl > prev_end + 1, 0);
            emit_line(o, indented(depth, ""), comments[cl], ends[cl]);
            prev_end = cl++;
            continue;
        }
        stmt *s = &ss->s[si++];
        blank_line(o, prev_end && s->first > prev_end + 1, s->t[0].kind == '}');
        for (int k = s->lead_from; k && k < s->last; k++)
            if (comments[k] && k >= s->first)
                emit_line(o, indented(s->depth, ""), comments[k], ends[k]);
        emit_line(o, stmt_code(s, widths), s->trail, s->trail ? ends[s->last] : NULL);
        prev_end = s->last;
    }
    free(widths);
    free(claimed);
}

char *format_source(const char *src, size_t len)
{
    token *toks;
    int n;
    if (lex_all(src, len, &toks, &n) < 0) {
        for (int i = 0; i < n; i++)
            free(toks[i].text);
        free(toks);
        return NULL;
    }
    stmts ss = {0};
    cut_statements(toks, n, &ss);
    int groups = 0;
    for (int i = 0; i < ss.n; i++) {
        sort_calls(&ss.s[i]);
        groups = ss.s[i].group > groups ? ss.s[i].group : groups;
    }
    const char **comments, **ends;
    int lines = split_comments(src, len, &comments, &ends);
    out_lines o = {0};
    layout(&ss, groups, comments, ends, lines, &o);
    char *text = join_lines(&o);
    for (int i = 0; i < o.n; i++)
        free(o.l[i].code);
    free(o.l);
    free(comments);
    free(ends);
    for (int i = 0; i < ss.n; i++)
        free(ss.s[i].t);
    free(ss.s);
    for (int i = 0; i < n; i++)
        free(toks[i].text);
    free(toks);
    return text;
}
