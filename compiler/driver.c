/* driver.c: run the passes in order (ir/passes.h), then the emitter, and
 * write its two files. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/util.h"
#include "driver.h"
#include "emit/emit.h"
#include "front/diag.h"
#include "front/parse.h"
#include "ir/passes.h"

enum { MAX_SOURCE = 1 << 24 };

/* The source as every pass sees it (the lexer, quoted lines, fmt, tune): a
 * UTF-8 byte-order mark, which some editors write, dropped, and a lone CR
 * (classic Mac line ends) made LF, so that lines are counted alike
 * everywhere. CRLF stays as it is; the lexer reads it as one line end. */
static char *source_text(const char *src, size_t *len)
{
    if (*len >= 3 && memcmp(src, "\xef\xbb\xbf", 3) == 0)
        src += 3, *len -= 3;
    char *s = xmalloc(*len + 1);
    for (size_t i = 0; i < *len; i++)
        s[i] = src[i] == '\r' && (i + 1 == *len || src[i + 1] != '\n') ? '\n' : src[i];
    s[*len] = '\0';
    return s;
}

static int compile_forced(const char *path, const char *src, size_t len, FILE *err, const sched_force *force,
                          compiled *c)
{
    memset(c, 0, sizeof *c);
    c->path = xstrdup(path);
    const char *slash = strrchr(path, '/');
    c->base = xstrdup(slash ? slash + 1 : path);
    c->source = source_text(src, &len);
    c->len = len;
    /* diagnostics name the file as given; generated comments, its base name */
    if (parse_source(c->path, c->source, len, &c->ast, err) < 0)
        return -1;
    if (sema_check(&c->ast, &c->ir) < 0)
        return -1;
    c->ir.path = c->base;
    c->ir.source = c->source;
    fuse_activations(&c->ir);
    ir_mark_gradients(&c->ir);
    if (schedule_layers(&c->ast, &c->ir) < 0)
        return -1;
    if (force)
        schedule_force(&c->ir, force);
    plan_arena(&c->ir);
    return 0;
}

int compile_source(const char *path, const char *src, size_t len, FILE *err, compiled *c)
{
    return compile_forced(path, src, len, err, NULL, c);
}

int compile_file(const char *path, FILE *err, compiled *c)
{
    return compile_file_forced(path, err, NULL, c);
}

/* "PATH: error: WHY" on err, the path escaped (esc_name); c left empty. */
static int refuse_file(const char *path, FILE *err, const char *why, compiled *c)
{
    memset(c, 0, sizeof *c);
    char *shown = esc_name(path);
    fprintf(err ? err : stderr, "%s: error: %s\n", shown, why);
    free(shown);
    return -1;
}

int compile_file_forced(const char *path, FILE *err, const sched_force *force, compiled *c)
{
    size_t len = 0;
    char *src = read_file(path, MAX_SOURCE, &len), why[256];
    if (!src) {
        snprintf(why, sizeof why, "cannot read: %s", strerror(errno));
        return refuse_file(path, err, why, c);
    }
    if (len > MAX_SOURCE || memchr(src, '\0', len)) {
        free(src);
        return refuse_file(path, err, len > MAX_SOURCE ? "not a .ae text file (larger than 16 MiB)"
                                                       : "not a .ae text file (it contains NUL bytes)", c);
    }
    int rc = compile_forced(path, src, len, err, force, c);
    free(src);
    return rc;
}

void compiled_free(compiled *c)
{
    ast_free_model(&c->ast);
    ir_free(&c->ir);
    free(c->path);
    free(c->base);
    free(c->source);
    memset(c, 0, sizeof *c);
}

/* tmp file, then rename: a reader never sees half a file. */
static int write_atomic(const char *dir, const char *name, const char *ext, const char *text)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, ext);
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        say("aec", "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    int ok = fputs(text, f) >= 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        say("aec", "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* mkdir -p: every missing folder on the way. */
static int make_dirs(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1;; p++) {
        char saved = *p;
        if (saved != '/' && saved != '\0')
            continue;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            say("aec", "cannot create %s: %s", path, strerror(errno));
            return -1;
        }
        *p = saved;
        if (!saved)
            return 0;
    }
}

int write_emitted(const compiled *c, const char *dir)
{
    if (make_dirs(dir) < 0)
        return -1;
    char *ctext, *htext;
    emit_model(&c->ir, &ctext, &htext);
    int rc = write_atomic(dir, c->ir.name, ".c", ctext);
    if (rc == 0)
        rc = write_atomic(dir, c->ir.name, ".h", htext);
    free(ctext);
    free(htext);
    return rc;
}
