/* emit/dweight.c: the direct weight gradient of a conv2d or deconv2d
 * (LAYER_dw_*): the output gradient gathered channel-last, register blocks
 * of (channel, tap) pairs x output channels, the sums added into dweight
 * (lower/geometry.h, lower_dweight). */
#include <stdio.h>
#include <stdlib.h>
#include "emit/internal.h"

/* LAYER_dw: the weight gradient's planes and taps, the forward pass's
 * geometry in the backward pass's tile, under names of its own. */
static ir_layer dweight_layer(const ir_layer *l)
{
    ir_layer w = *l;
    snprintf(w.name, sizeof w.name, "%.40s_dw", l->name);  /* names: at most 40 (sema), never ending in _dw */
    return w;
}

/* grads[b][y][x][mw] <- the output gradient of each image of the tile,
 * every output channel of a pixel side by side (zeros past the last): what
 * a block reads as ov vectors a pixel. Square blocks of a vector's channels
 * x as many pixels, read as rows and transposed in registers
 * (aec_transpose16 on x86-64-v4); a partial block one value at a time. */
static void emit_dweight_grads(sbuf *o, const ir_model *m, const ir_layer *l, const lower_dweight *w)
{
    int HW = l->out.h * l->out.w, M = l->out.c;
    put(o, "/* grads[b][%d][%d][%d] <- images b0 .. b0+nb-1 of dout[%d][B][%d][%d] */\n", l->out.h, l->out.w, w->mw, M,
        l->out.h, l->out.w);
    put(o, "static void %s_dw_grads(float *restrict grads, const float *restrict dout, int B, int b0, int nb)\n{\n",
        l->name);
    put(o, "    for (int b = 0; b < nb; b++)\n        for (int o0 = 0; o0 < %d; o0 += %d)\n", w->mw, vec());
    put(o, "            for (int i0 = 0; i0 < %d; i0 += %d) {\n", HW, vec());
    put(o, "                float *g = grads + ((size_t)b * %d + i0) * %d + o0;\n", HW, w->mw);
    put(o, "                const float *d = dout + ((size_t)o0 * B + b0 + b) * %d + i0;\n", HW);
    put(o, "                if (i0 + %d > %d || o0 + %d > %d) {   /* a partial block */\n", vec(), HW, vec(), M);
    put(o, "                    for (int k = 0; k < %d && i0 + k < %d; k++)\n", vec(), HW);
    put(o, "                        for (int r = 0; r < %d; r++)\n", vec());
    put(o, "                            g[(size_t)k * %d + r] = o0 + r < %d ? d[(size_t)r * B * %d + k] : 0.0f;\n", w->mw,
        M, HW);
    put(o, "                    continue;\n                }\n");
    put(o, "                aec_v%d r[%d];\n#pragma GCC unroll %d\n                for (int k = 0; k < %d; k++)\n",
        vec(), vec(), vec(), vec());
    put(o, "                    r[k] = *(const aec_v%du *)(d + (size_t)k * B * %d);\n", vec(), HW);
    put(o, "                aec_transpose%d(r);\n#pragma GCC unroll %d\n                for (int k = 0; k < %d; k++)\n",
        vec(), vec(), vec());
    put(o, "                    *(aec_v%du *)(g + (size_t)k * %d) = r[k];\n            }\n}\n\n", vec(), w->mw);
}

/* aec_transpose16, once per file that has a direct weight gradient; the
 * comment it is emitted with says how it works. Its shuffle masks are made
 * here from that rule. */
void emit_transpose16(sbuf *o)
{
    put(o, "/* r[k][i] <- r[i][k]: %d x %d floats transposed in registers (LAYER_dw_grads). Stage j\n"
        " * swaps bit j of the row index with bit j of the column's: rows a and a | 2^j trade\n"
        " * the values where their columns' bit j differs, one two-register shuffle each. */\n",
        vec(), vec());
    put(o, "typedef int aec_i%d __attribute__((vector_size(%d)));\n", vec(), vec_bytes());
    put(o, "static inline void aec_transpose%d(aec_v%d r[%d])\n{\n", vec(), vec(), vec());
    int stages = 0;     /* log2 of the vector's floats */
    while (1 << stages < vec())
        stages++;
    for (int half = 0; half < 2; half++) {
        put(o, "    static const aec_i%d %s[%d] = {", vec(), half ? "hi" : "lo", stages);
        for (int j = 0; j < stages; j++) {
            int bit = 1 << j;
            put(o, "%s{", j ? ",\n        " : "\n        ");
            for (int c = 0; c < vec(); c++) {
                int v = half ? (c & bit ? vec() + c : c | bit) : (c & bit ? vec() + (c ^ bit) : c);
                put(o, "%s%d", c ? ", " : "", v);
            }
            put(o, "}");
        }
        put(o, "};\n");
    }
    put(o, "#pragma GCC unroll %d\n    for (int j = 0; j < %d; j++)\n#pragma GCC unroll %d\n", stages, stages, vec());
    put(o, "        for (int a = 0; a < %d; a++)\n            if (!(a & 1 << j)) {\n", vec());
    put(o, "                const aec_v%d x = r[a], y = r[a | 1 << j];\n", vec());
    put(o, "                r[a] = __builtin_shuffle(x, y, lo[j]);\n");
    put(o, "                r[a | 1 << j] = __builtin_shuffle(x, y, hi[j]);\n            }\n}\n\n");
}

/* J (channel, tap) pairs x ov vectors of output channels of one phase, summed over
 * the tile's pixels in registers: each pixel's ov gradient vectors times
 * each pair's plane value at the tap's shift, broadcast. */
static void emit_dweight_block(sbuf *o, const ir_model *m, const ir_layer *l, const lower_dweight *w)
{
    int J = w->J, V = w->ov;
    put(o, "/* sums[%d][%d] += grads x the planes at %d shifts: %d pairs x %d vectors of %d channels in registers */\n",
        J, w->mw, J, J, V, vec());
    put(o, "static inline AEC_FUSED void %s_dw_block(float *restrict sums, const float *restrict grads,\n"
        "        const float *restrict src, const long *restrict off, int nb, int rows, int cols)\n{\n", l->name);
    put(o, "    aec_v%d sum[%d][%d];\n    const float *s[%d];\n", vec(), J, V, J);
    put(o, "#pragma GCC unroll %d\n    for (int j = 0; j < %d; j++) {\n", J, J);
    put(o, "        s[j] = src + off[j];\n");
    put(o, "#pragma GCC unroll %d\n        for (int v = 0; v < %d; v++)\n            sum[j][v] = (aec_v%d){0};\n    }\n",
        V, V, vec());
    put(o, "    for (int b = 0; b < nb; b++)\n        for (int y = 0; y < rows; y++) {\n");
    put(o, "            const size_t q = (size_t)y * %zu + (size_t)b * %d;\n", w->d.row, w->d.cols);
    if (w->S > 1)
        put(o, "            const float *gp = grads + ((size_t)b * %d + %d * y) * %d;\n", l->out.h, w->S,
            l->out.w * w->mw);
    else
        put(o, "            const float *gp = grads + ((size_t)b * %d + y) * %d;\n", l->out.h, l->out.w * w->mw);
    put(o, "            for (int x = 0; x < cols; x++, gp += %d) {\n", w->S * w->mw);
    put(o, "                aec_v%d g[%d];\n#pragma GCC unroll %d\n                for (int v = 0; v < %d; v++)\n",
        vec(), V, V, V);
    put(o, "                    g[v] = *(const aec_v%du *)(gp + %d * v);\n", vec(), vec());
    put(o, "#pragma GCC unroll %d\n                for (int j = 0; j < %d; j++) {\n", J, J);
    put(o, "                    const float a = s[j][q + x];\n");
    put(o, "#pragma GCC unroll %d\n                    for (int v = 0; v < %d; v++)\n", V, V);
    put(o, "                        sum[j][v] += a * g[v];\n                }\n            }\n        }\n");
    put(o, "#pragma GCC unroll %d\n    for (int j = 0; j < %d; j++)\n", J, J);
    put(o, "#pragma GCC unroll %d\n        for (int v = 0; v < %d; v++)\n", V, V);
    put(o, "            *(aec_v%du *)(sums + (size_t)j * %d + %d * v) += sum[j][v];\n}\n\n", vec(), w->mw, vec());
}

/* Each phase's pixels: rows, columns, and where its grads start. */
static void emit_dweight_phases(sbuf *o, const ir_model *m, const ir_layer *l, const lower_dweight *w)
{
    sbuf ext = {0};
    for (int p = 0; p < w->d.phases; p++) {
        int rows, cols;
        lower_dweight_extent(l, w, p, &rows, &cols);
        size_t at = ((size_t)(p / w->S) * l->out.w + (size_t)(p % w->S)) * w->mw;   /* its first pixel */
        sb_printf(&ext, "%s{%d, %d, %zu}", p ? ", " : "", rows, cols, at);
    }
    put(o, "/* phase p's pixels: rows, columns, and where its first is in an image's grads */\n");
    put(o, "static const long %s_dw_phase[%d][3] = {%s};\n\n", l->name, w->d.phases, ext.s);
    free(ext.s);
}

void emit_dweight_helpers(sbuf *o, const ir_model *m, const ir_layer *l, const lower_dweight *w)
{
    ir_layer dw = dweight_layer(l);
    emit_direct_planes(o, m, &dw, &w->d);
    emit_direct_taps(o, m, &dw, &w->d);
    static const struct {
        void (*emit)(sbuf *, const ir_model *, const ir_layer *, const lower_dweight *);
        const char *what;
    } parts[] = { {emit_dweight_phases, "phase"}, {emit_dweight_grads, "grads"}, {emit_dweight_block, "block"} };
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        sbuf t = {0};
        char stem[128], name[96];
        parts[i].emit(&t, m, l, w);
        snprintf(stem, sizeof stem, "%s_%s", dw.name, parts[i].what);
        snprintf(name, sizeof name, "dw_%s_%dx%dx%d_%dx%d", parts[i].what, l->out.c, l->out.h, l->out.w, w->J, w->ov);
        kernel_close(o, &t, &dw, "", stem, NULL, name);
    }
}

/* The weight gradient of a direct backward pass: per tile of images, the
 * input's planes, the output gradient's pixels, and every phase's blocks
 * of pairs and output channels; then the sums into dweight, in its own
 * order ([out][in][K][K] for conv2d, [in][out][K][K] for deconv2d). */
void emit_dweight_pass(sbuf *o, const ir_layer *l, const lower_dweight *w, const ir_sched *s)
{
    const char *n = l->name;
    int C = l->in.c, M = l->out.c;
    size_t cstride = (size_t)w->d.splits * w->d.stride;
    char dw[64], planes[64], shift[64], ntaps[64], kidx[64];
    snprintf(dw, sizeof dw, "%.40s_dw", n);
    kernel_ref(planes, sizeof planes, dw, "_planes");
    kernel_ref(shift, sizeof shift, dw, "_shift");
    kernel_ref(ntaps, sizeof ntaps, dw, "_ntaps");
    kernel_ref(kidx, sizeof kidx, dw, "_kidx");
    put(o, "    /* dweight: per tile, the planes of in and the pixels of dout; blocks of %d\n"
        "     * (channel, tap) pairs x %d output channels, summed over the tile's pixels */\n", w->J, vec() * w->ov);
    put(o, "    float *planes = dcols, *grads = dcols + %zu, *sums = grads + %zu;\n", w->d.src, w->grads);
    put(o, "    memset(sums, 0, sizeof(float) * %zu);\n", w->sums);
    put(o, "    for (int b0 = 0; b0 < B; b0 += %d) {\n", w->d.tile);
    put(o, "        const int nb = B - b0 < %d ? B - b0 : %d;\n", w->d.tile, w->d.tile);
    char grads[128], block[128], phase[128];
    kernel_ref(grads, sizeof grads, dw, "_grads");
    kernel_ref(block, sizeof block, dw, "_block");
    kernel_ref(phase, sizeof phase, dw, "_phase");
    put(o, "        %s(planes, in, B, b0, nb);\n        %s(grads, dout, B, b0, nb);\n", planes, grads);
    omp_for(o, s);
    put(o, "        for (int k = 0; k < %d; k += %d) {   /* phase k / %d, its pairs from k %% %d */\n",
        w->d.phases * w->pairs, w->J, w->pairs, w->pairs);
    put(o, "            const int p = k / %d, j0 = k %% %d, ntaps = %s[p], last = %d * ntaps - 1;\n",
        w->pairs, w->pairs, ntaps, C);
    put(o, "            if (j0 > last)\n                continue;\n");
    put(o, "            long off[%d];   /* pair j0 + j: channel / ntaps, tap %% ntaps (past the last: the last again) */\n",
        w->J);
    put(o, "            for (int j = 0; j < %d; j++) {\n", w->J);
    put(o, "                const int pair = j0 + j < last ? j0 + j : last;\n");
    put(o, "                off[j] = (long)(pair / ntaps) * %zu + %s[p][pair %% ntaps];\n", cstride, shift);
    put(o, "            }\n");
    put(o, "            for (int ob = 0; ob < %d; ob += %d)\n", w->mw, vec() * w->ov);
    put(o, "                %s(sums + (size_t)k * %d + ob, grads + %s[p][2] + ob, planes, off, nb,\n"
        "                        (int)%s[p][0], (int)%s[p][1]);\n", block, w->mw, phase, phase, phase);
    put(o, "        }\n    }\n");
    /* one phase: no loop over them, and p is 0 */
    const char *in = w->d.phases > 1 ? "    " : "", *p = w->d.phases > 1 ? "p" : "0";
    if (w->d.phases > 1)
        put(o, "    for (int p = 0; p < %d; p++)\n", w->d.phases);
    put(o, "%s    for (int pair = 0; pair < %d * %s[%s]; pair++) {\n", in, C, ntaps, p);
    put(o, "%s        const int c = pair / %s[%s], k = %s[%s][pair %% %s[%s]];\n", in, ntaps, p, kidx, p, ntaps, p);
    if (w->d.phases > 1)
        put(o, "            const float *sum = sums + ((size_t)p * %d + pair) * %d;\n", w->pairs, w->mw);
    else
        put(o, "        const float *sum = sums + (size_t)pair * %d;\n", w->mw);
    put(o, "%s        for (int o = 0; o < %d; o++)\n%s            dweight[", in, M, in);
    emit_weight_at(o, l, "o", "c");
    put(o, " + k] += sum[o];\n%s    }\n", in);
}
