/* emit/text.c: the emitter's shared text: put (append to the output),
 * float literals, the comments that quote .ae lines, buffer names, one
 * cblas_sgemm call, and the lines a schedule adds to a pass (its comment,
 * threads, tiles). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "emit/internal.h"

/* Append to the text being emitted. */
void put(sbuf *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(o, fmt, ap);
    va_end(ap);
}

/* A float as the shortest C literal that reads back as the same float. */
const char *flit(float v, char *buf, size_t size)
{
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, size, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".eEn"))
        strncat(buf, ".0", size - strlen(buf) - 1);
    strncat(buf, "f", size - strlen(buf) - 1);
    return buf;
}

/* The .ae line, safe inside a C comment. */
void source_comment(sbuf *o, const ir_model *m, int line)
{
    char text[512], clean[600];
    source_line(m->source, strlen(m->source), line, text, sizeof text);
    size_t n = 0;
    const char *s = text;
    while (*s == ' ' || *s == '\t')
        s++;
    for (; *s && n + 3 < sizeof clean; s++) {
        clean[n++] = *s == '\t' ? ' ' : *s;
        if (*s == '*' && s[1] == '/')
            clean[n++] = ' ';   /* never close the comment early */
    }
    clean[n] = '\0';
    put(o, "/* %s:%d: %s */\n", m->path, line, clean);
}

void layer_comment(sbuf *o, const ir_model *m, const ir_layer *l, const char *what)
{
    char in[64], out[64];
    source_comment(o, m, l->line);
    if (l->act_line)
        source_comment(o, m, l->act_line);
    put(o, "/* %s: %s -> %s%s%s */\n", what, ir_shape_str(l->in, in, sizeof in),
        ir_shape_str(l->out, out, sizeof out), l->act ? ", then " : "", l->act ? ir_act_name(l->act) : "");
}

const char *buf_name(const ir_model *m, int b) { return m->bufs[b].name; }

/* One cblas_sgemm call, each line indented by ind. */
void gemm(sbuf *o, const char *ind, const char *ta, const char *tb, const char *M, const char *N,
          const char *K, const char *A, const char *lda, const char *Bm, const char *ldb, const char *beta,
          const char *C, const char *ldc)
{
    put(o, "%scblas_sgemm(CblasRowMajor, %s, %s, %s, %s, %s,\n", ind, ta, tb, M, N, K);
    put(o, "%s            1.0f, %s, %s, %s, %s, %s, %s, %s);\n", ind, A, lda, Bm, ldb, beta, C, ldc);
}

/* The schedule's line, first in the function, so the reader sees how and why. */
void sched_comment(sbuf *o, const ir_sched *s)
{
    char tile[32] = "";
    if (s->lowering == LOWER_GEMM || s->tile)
        snprintf(tile, sizeof tile, ", tile=%d", s->tile);
    put(o, "    /* schedule: %s(threads=%d, unroll=%d%s), %s */\n", ir_lowering_names[s->lowering],
        s->threads, s->unroll, tile, s->line ? "from the schedule block" : "aec's default for these shapes");
    if (s->line)
        put(o, "    /* (line %d of the .ae file) */\n", s->line);
}

/* gemm lowering: OpenBLAS's threads for this pass's products (0: all). */
void blas_threads(sbuf *o, const ir_sched *s)
{
    put(o, "    aec_blas_threads(%d);\n", s->threads);
}

/* gemm lowering, tile=T: the batch in tiles of T images, so that one tile's
 * columns stay in cache between im2col and the GEMM that reads them. The
 * body uses b0 (the tile's first image) and nb (its images) either way.
 * Returns the indent of the body: one level deeper inside a tile loop. */
const char *tile_open(sbuf *o, const ir_sched *s)
{
    if (!s->tile) {
        put(o, "    const int b0 = 0, nb = B;\n");
        return "    ";
    }
    put(o, "    for (int b0 = 0; b0 < B; b0 += %d) {\n", s->tile);
    put(o, "        const int nb = B - b0 < %d ? B - b0 : %d;\n", s->tile, s->tile);
    return "        ";
}

void tile_close(sbuf *o, const ir_sched *s)
{
    if (s->tile)
        put(o, "    }\n");
}

/* direct lowering: the loop over channels is shared among threads. */
void omp_for(sbuf *o, const ir_sched *s)
{
    if (s->threads == 1)
        return;
    if (s->threads > 1)
        put(o, "#pragma omp parallel for schedule(static) num_threads(%d)\n", s->threads);
    else
        put(o, "#pragma omp parallel for schedule(static)\n");
}

/* " + k", " - k" or nothing, for literal offsets in index expressions */
const char *plus(int k, char *buf, size_t size)
{
    if (k == 0)
        buf[0] = '\0';
    else
        snprintf(buf, size, " %c %d", k < 0 ? '-' : '+', k < 0 ? -k : k);
    return buf;
}

/* The index of weight (output channel out, input channel in) in a
 * convolution's weight array, as C text, before its kernel offset: conv2d
 * stores [out][in][K][K], deconv2d [in][out][K][K]. */
void emit_weight_at(sbuf *o, const ir_layer *l, const char *out, const char *in)
{
    int kk = l->conv.kernel * l->conv.kernel, wrap = strchr(out, ' ') != NULL;
    if (l->kind == IR_CONV2D && l->in.c == 1)
        put(o, "((size_t)%s + %s) * %d", out, in, kk);
    else if (l->kind == IR_CONV2D)
        put(o, "((size_t)%s%s%s * %d + %s) * %d", wrap ? "(" : "", out, wrap ? ")" : "", l->in.c, in, kk);
    else if (l->out.c == 1)
        put(o, "((size_t)%s + %s) * %d", in, out, kk);
    else
        put(o, "((size_t)%s * %d + %s) * %d", in, l->out.c, out, kk);
}

int vec(void)
{
    return aec_target_now()->vec;
}

int vec_bytes(void)
{
    return aec_target_now()->vec * (int)sizeof(float);
}
