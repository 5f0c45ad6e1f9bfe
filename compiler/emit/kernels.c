/* emit/kernels.c: one emitted helper per distinct text. Layers of the same
 * geometry (conv2's planes, its weight gradient's planes, up1's input
 * gradient's planes) print the same function; kernel_close keeps the first
 * and points the others at it. A helper with one user keeps its layer's
 * name (conv1_planes); one with several is named for what it computes
 * (planes_32x14x14_s2) under a comment that lists its users by layer, pass
 * and .ae line, so that `grep conv2` still finds it.
 *
 * While a model is emitted, a helper's name stands in the text as @K<n>@
 * (kernel n) and its place as @D<n>@; kernels_finish writes the names and
 * the helpers' text once every user is known. The table lives from
 * emit_model's kernels_reset to its kernels_finish. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "emit/internal.h"

typedef struct {
    char *stem;         /* the user's name for it: conv2_dw_planes, or conv2_dw for the taps tables */
    int line;           /* its .ae line */
    char label[96];     /* "conv2 weight gradient" */
} kernel_user;

typedef struct {
    char *key;          /* its text, its own name as @@ */
    char *name;         /* named for what it computes, unique in the model */
    const char *const *suffixes;    /* what it defines: each user's stem + each of these */
    kernel_user *users;
    int nusers;
} kernel;

static struct {
    kernel *k;
    int n;
} table;

void kernels_reset(void)
{
    for (int i = 0; i < table.n; i++) {
        kernel *k = &table.k[i];
        for (int u = 0; u < k->nusers; u++)
            free(k->users[u].stem);
        free(k->users);
        free(k->key);
        free(k->name);
    }
    free(table.k);
    table.k = NULL;
    table.n = 0;
}

static int ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* text with every identifier that is stem + one of the suffixes written as
 * to + that suffix. */
static char *replace_stem(const char *text, const char *stem, const char *const *suffixes, const char *to)
{
    sbuf b = {0};
    size_t n = strlen(stem);
    sb_printf(&b, "%s", "");
    for (const char *s = text; *s;) {
        if (strncmp(s, stem, n) == 0 && (s == text || !ident_char(s[-1]))) {
            const char *rest = s + n;
            for (int i = 0; suffixes[i]; i++) {
                size_t m = strlen(suffixes[i]);
                if (strncmp(rest, suffixes[i], m) == 0 && !ident_char(rest[m])) {
                    sb_printf(&b, "%s%s", to, suffixes[i]);
                    s = rest + m;
                    goto next;
                }
            }
        }
        sb_printf(&b, "%c", *s++);
    next:;
    }
    return b.s;
}

static const char *const just_the_name[] = { "", NULL };

/* The user's label: which layer and which of its passes. */
static void user_label(char *buf, size_t size, const char *layer, const char *role)
{
    size_t n = strlen(layer);
    if (n > 4 && strcmp(layer + n - 4, "_din") == 0)
        snprintf(buf, size, "%.*s input gradient", (int)(n - 4), layer);
    else if (n > 3 && strcmp(layer + n - 3, "_dw") == 0)
        snprintf(buf, size, "%.*s weight gradient", (int)(n - 3), layer);
    else
        snprintf(buf, size, "%s%s%s", layer, *role ? " " : "", role);
}

void kernel_close(sbuf *o, sbuf *text, const ir_layer *l, const char *role, const char *stem,
                  const char *const *suffixes, const char *name)
{
    if (!suffixes)
        suffixes = just_the_name;
    char *key = replace_stem(text->s, stem, suffixes, "@@");
    sb_free(text);
    int i = 0;
    while (i < table.n && strcmp(table.k[i].key, key) != 0)
        i++;
    if (i == table.n) {
        table.k = xrealloc(table.k, sizeof *table.k * (size_t)(table.n + 1));
        kernel *k = &table.k[table.n++];
        *k = (kernel){ .key = key, .suffixes = suffixes };
        /* a name no other kernel has: planes_32x14x14_s2, planes_32x14x14_s2_2 */
        char unique[160];
        snprintf(unique, sizeof unique, "%s", name);
        for (int again = 2;; again++) {
            int taken = 0;
            for (int j = 0; j < table.n - 1; j++)
                taken |= strcmp(table.k[j].name, unique) == 0;
            if (!taken)
                break;
            snprintf(unique, sizeof unique, "%s_%d", name, again);
        }
        k->name = xstrdup(unique);
        put(o, "@D%d@", i);
    } else {
        free(key);
    }
    kernel *k = &table.k[i];
    k->users = xrealloc(k->users, sizeof *k->users * (size_t)(k->nusers + 1));
    kernel_user *u = &k->users[k->nusers++];
    u->stem = xstrdup(stem);
    u->line = l->line;
    user_label(u->label, sizeof u->label, l->name, role);
}

/* The name to call stem + suffix by, as it stands in the text until
 * kernels_finish: @K<n>@suffix, or stem + suffix when no kernel has it. */
const char *kernel_ref(char *buf, size_t size, const char *stem, const char *suffix)
{
    char want[128], have[128];
    snprintf(want, sizeof want, "%s%s", stem, suffix);
    for (int i = 0; i < table.n; i++)
        for (int u = 0; u < table.k[i].nusers; u++)
            for (const char *const *s = table.k[i].suffixes; *s; s++) {
                snprintf(have, sizeof have, "%s%s", table.k[i].users[u].stem, *s);
                if (strcmp(have, want) == 0) {
                    snprintf(buf, size, "@K%d@%s", i, *s);
                    return buf;
                }
            }
    snprintf(buf, size, "%s", want);
    return buf;
}

static const char *kernel_name(const kernel *k)
{
    return k->nusers > 1 ? k->name : k->users[0].stem;
}

/* The comment over a kernel: each .ae line it comes from; with several
 * users, its users. */
static void kernel_comment(sbuf *o, const ir_model *m, const kernel *k)
{
    for (int u = 0; u < k->nusers; u++) {
        int seen = 0;
        for (int v = 0; v < u; v++)
            seen |= k->users[v].line == k->users[u].line;
        if (!seen)
            source_comment(o, m, k->users[u].line);
    }
    if (k->nusers < 2)
        return;
    put(o, "/* %s: ", k->name);
    int col = (int)strlen(k->name) + 5;
    for (int u = 0; u < k->nusers; u++) {
        int n = (int)strlen(k->users[u].label) + 2;
        if (u && col + n > 100) {
            put(o, "\n *");
            col = 2;
        }
        put(o, "%s%s", u ? (col == 2 ? " " : ", ") : "", k->users[u].label);
        col += n;
    }
    put(o, " */\n");
}

/* The text with each kernel's name and, at its first user, its comment and text. */
static void expand(sbuf *out, const ir_model *m, const char *text)
{
    for (const char *s = text; *s;) {
        int i, n;
        if (s[0] == '@' && (s[1] == 'K' || s[1] == 'D') && sscanf(s + 2, "%d@%n", &i, &n) == 1 && i >= 0 &&
            i < table.n) {
            const kernel *k = &table.k[i];
            if (s[1] == 'K') {
                sb_printf(out, "%s", kernel_name(k));
            } else {
                kernel_comment(out, m, k);
                char at[32];
                snprintf(at, sizeof at, "@K%d@", i);
                /* the key's "@@" stands before a suffix: write the kernel's name there */
                sbuf named = {0};
                sb_printf(&named, "%s", "");
                for (const char *t = k->key; *t; t++) {
                    if (t[0] == '@' && t[1] == '@') {
                        sb_printf(&named, "%s", at);
                        t++;
                    } else {
                        sb_printf(&named, "%c", *t);
                    }
                }
                expand(out, m, named.s);
                sb_free(&named);
            }
            s += 2 + n;
            continue;
        }
        sb_printf(out, "%c", *s++);
    }
}

char *kernels_finish(const ir_model *m, char *text)
{
    sbuf out = {0};
    sb_printf(&out, "%s", "");
    expand(&out, m, text);
    free(text);
    kernels_reset();
    return out.s;
}
