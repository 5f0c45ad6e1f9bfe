/* emit/winograd.c: Winograd's F(2x2, 2x2) on each phase's 2 x 2 taps: the
 * transformed weights, the planes' transform, the products and the
 * transform back (lower/geometry.h, lower_direct's wino). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include "emit/internal.h"

/* Each phase's 2 x 2 taps on each split of a channel, as kernel indices
 * (-1: no tap there), and pack[p][xi][o/R][k][o%R] = (G g G')[xi] of them,
 * k = c x splits + split: Winograd's weights, in the order the block reads
 * them. G = [1 0; 1 1; 0 1]. */
void emit_wino_pack(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d)
{
    int M = l->out.c, kk = l->conv.kernel * l->conv.kernel, *kidx = xmalloc(sizeof(int) * (size_t)kk);
    long *off = xmalloc(sizeof(long) * (size_t)kk);
    sbuf t = {0}, *out = o;
    o = &t;
    put(o, "/* phase p's tap (a, b) on split s: kernel index ky*%d + kx at [p][s][2a + b], or -1 */\n", l->conv.kernel);
    put(o, "static const int %s_wino_taps[%d][%d][4] = {", l->name, d->phases, d->splits);
    for (int p = 0; p < d->phases; p++) {
        int n = lower_direct_taps(l, d, p, off, kidx), (*slot)[4] = xmalloc(sizeof *slot * (size_t)d->splits);
        long base = lower_direct_base(l, d, p);
        for (int sp = 0; sp < d->splits; sp++)
            for (int t = 0; t < 4; t++)
                slot[sp][t] = -1;
        for (int t = 0; t < n; t++) {
            long sp = l->kind == IR_CONV2D ? off[t] / (long)d->stride : 0, r = off[t] - sp * (long)d->stride - base;
            long a = r / (long)d->row, b = r % (long)d->row;
            assert(a >= 0 && a <= 1 && b >= 0 && b <= 1);     /* lower_winograd_fits, schedule.c */
            slot[sp][a * 2 + b] = kidx[t];
        }
        put(o, "%s{", p ? ", " : "");
        for (int sp = 0; sp < d->splits; sp++)
            put(o, "%s{%d, %d, %d, %d}", sp ? ", " : "", slot[sp][0], slot[sp][1], slot[sp][2], slot[sp][3]);
        put(o, "}");
        free(slot);
    }
    put(o, "};\n\n");
    free(off);
    free(kidx);
    char stem[128], name[96], taps[128];
    snprintf(stem, sizeof stem, "%s_wino_taps", l->name);
    snprintf(name, sizeof name, "wino_taps_k%d_s%d_%dphase%s", l->conv.kernel, l->conv.stride, d->phases,
             d->phases > 1 ? "s" : "");
    o = out;
    kernel_close(o, &t, l, "forward", stem, NULL, name);
    kernel_ref(taps, sizeof taps, l->name, "_wino_taps");
    o = &t;
    put(o, "static void %s_wino_pack(float *restrict pack, const float *restrict weight)\n{\n", l->name);
    put(o, "    for (int p = 0; p < %d; p++)\n        for (int ob = 0; ob < %d; ob += %d)\n", d->phases, d->mpad, d->R);
    put(o, "            for (int k = 0; k < %d; k++)\n                for (int r = 0; r < %d; r++) {\n", d->K, d->R);
    put(o, "                    const int c = k / %d, *tap = %s[p][k %% %d];\n", d->splits, taps, d->splits);
    put(o, "                    float g[4];\n                    for (int t = 0; t < 4; t++)\n");
    put(o, "                        g[t] = tap[t] >= 0 && ob + r < %d ? weight[", M);
    emit_weight_at(o, l, "ob + r", "c");
    put(o, " + tap[t]] : 0.0f;\n");
    put(o, "                    const float u[9] = { g[0], g[0] + g[1], g[1],\n"
        "                                         g[0] + g[2], g[0] + g[1] + g[2] + g[3], g[1] + g[3],\n"
        "                                         g[2], g[2] + g[3], g[3] };\n");
    put(o, "                    float *w = pack + ((size_t)p * %d + ob) * %d + (size_t)k * %d + r;\n", 9 * d->mpad, d->K,
        d->R);
    put(o, "                    for (int x = 0; x < 9; x++)\n                        w[(size_t)x * %zu] = u[x];\n",
        (size_t)d->mpad * d->K);
    put(o, "                }\n}\n\n");
    snprintf(stem, sizeof stem, "%s_wino_pack", l->name);
    snprintf(name, sizeof name, "wino_pack_%dx%d_%dphase%s", l->out.c, l->in.c, d->phases, d->phases > 1 ? "s" : "");
    kernel_close(out, &t, l, "forward", stem, NULL, name);
}

/* V[xi][k][n] = (B'dB)[xi], d the 3 x 3 plane values from tile n's origin
 * q = 2 ty row + 2 tx (n = ty ntx + tx); B' = [1 -1 0; 0 1 0; 0 -1 1]. */
void emit_wino_in(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d)
{
    size_t tiles = (size_t)d->nty * d->ntx, kn = (size_t)d->K * d->nvp;
    sbuf t = {0}, *out = o;
    o = &t;
    put(o, "static void %s_wino_in(float *restrict V, const float *restrict src)\n{\n", l->name);
    put(o, "    for (int k = 0; k < %d; k++) {\n", d->K);
    put(o, "        const float *s = src + (size_t)k * %zu;\n        float *v = V + (size_t)k * %zu;\n", d->stride, d->nvp);
    put(o, "        for (int ty = 0; ty < %d; ty++) {\n", d->nty);
    put(o, "            const float *r0 = s + (size_t)ty * %zu, *r1 = r0 + %zu, *r2 = r1 + %zu;\n", 2 * d->row, d->row,
        d->row);
    put(o, "            float *w = v + (size_t)ty * %d;\n", d->ntx);
    put(o, "            for (int tx = 0; tx < %d; tx++) {\n", d->ntx);
    put(o, "                const int j = 2 * tx;   /* B'd: rows d0 - d1, d1, d2 - d1; then the columns likewise */\n");
    put(o, "                const float a0 = r0[j] - r1[j], a1 = r0[j + 1] - r1[j + 1], a2 = r0[j + 2] - r1[j + 2];\n");
    put(o, "                const float b0 = r1[j], b1 = r1[j + 1], b2 = r1[j + 2];\n");
    put(o, "                const float c0 = r2[j] - r1[j], c1 = r2[j + 1] - r1[j + 1], c2 = r2[j + 2] - r1[j + 2];\n");
    const char *rows[3] = { "a", "b", "c" };
    for (int u = 0; u < 3; u++)
        put(o, "                w[%zu + tx] = %s0 - %s1;\n                w[%zu + tx] = %s1;\n"
            "                w[%zu + tx] = %s2 - %s1;\n", (size_t)(3 * u) * kn, rows[u], rows[u],
            (size_t)(3 * u + 1) * kn, rows[u], (size_t)(3 * u + 2) * kn, rows[u], rows[u]);
    put(o, "            }\n        }\n");
    if (d->nvp > tiles)
        put(o, "        for (int x = 0; x < 9; x++)   /* the last block's tiles past the plane */\n"
            "            memset(v + (size_t)x * %zu + %zu, 0, sizeof(float) * %zu);\n", kn, tiles, d->nvp - tiles);
    put(o, "    }\n}\n\n");
    char stem[128], name[96];
    snprintf(stem, sizeof stem, "%s_wino_in", l->name);
    snprintf(name, sizeof name, "wino_in_%dx%dx%d", d->K, d->nty, d->ntx);
    kernel_close(out, &t, l, "forward", stem, NULL, name);
}

/* acc[p][o][q - base] = (A'MA) of tile n's 9 sums: its 2 x 2 outputs at q,
 * q + 1, q + row, q + row + 1 from its origin q; A' = [1 1 0; 0 1 1]. With
 * an odd row, a row's last tile also writes column 0 of the next two flat
 * rows, the same sums as the tiles there up to rounding: the last write
 * stands, the same one every run. */
void emit_wino_out(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d)
{
    size_t mn = (size_t)d->mpad * d->nvp;
    sbuf t = {0};
    put(&t, "static const long %s_wino_base[%d] = {", l->name, d->phases);
    for (int p = 0; p < d->phases; p++)
        put(&t, "%s%ld", p ? ", " : "", lower_direct_base(l, d, p));
    put(&t, "};\n\n");
    char stem[128], name[96], base[128];
    snprintf(stem, sizeof stem, "%s_wino_base", l->name);
    snprintf(name, sizeof name, "wino_base_%dphase%s_%zu", d->phases, d->phases > 1 ? "s" : "", d->row);
    kernel_close(o, &t, l, "forward", stem, NULL, name);
    kernel_ref(base, sizeof base, l->name, "_wino_base");
    sbuf *out = o;
    t = (sbuf){0};
    o = &t;
    put(o, "static void %s_wino_out(float *restrict acc, const float *restrict M)\n{\n", l->name);
    put(o, "    for (int p = 0; p < %d; p++)\n        for (int o = 0; o < %d; o++) {\n", d->phases, l->out.c);
    put(o, "            const float *mo = M + ((size_t)p * %d + o) * %zu;\n", 9 * d->mpad, d->nvp);
    put(o, "            float *a = acc + ((size_t)p * %d + o) * %zu - %s[p];\n", d->mpad, d->nqp, base);
    put(o, "            for (int ty = 0; ty < %d; ty++) {\n", d->nty);
    put(o, "                const float *mt = mo + (size_t)ty * %d;\n", d->ntx);
    put(o, "                float *y0 = a + (size_t)ty * %zu, *y1 = y0 + %zu;\n", 2 * d->row, d->row);
    put(o, "                for (int tx = 0; tx < %d; tx++) {\n", d->ntx);
    put(o, "                    /* A'M: rows m0 + m1, m1 + m2; then the columns likewise */\n");
    for (int u = 0; u < 3; u++)
        put(o, "                    const float m%d0 = mt[%zu + tx], m%d1 = mt[%zu + tx], m%d2 = mt[%zu + tx];\n", u,
            (size_t)(3 * u) * mn, u, (size_t)(3 * u + 1) * mn, u, (size_t)(3 * u + 2) * mn);
    put(o, "                    const float z00 = m00 + m10, z01 = m01 + m11, z02 = m02 + m12;\n");
    put(o, "                    const float z10 = m10 + m20, z11 = m11 + m21, z12 = m12 + m22;\n");
    put(o, "                    y0[2 * tx] = z00 + z01;\n                    y0[2 * tx + 1] = z01 + z02;\n");
    put(o, "                    y1[2 * tx] = z10 + z11;\n                    y1[2 * tx + 1] = z11 + z12;\n");
    put(o, "                }\n            }\n        }\n}\n\n");
    snprintf(stem, sizeof stem, "%s_wino_out", l->name);
    snprintf(name, sizeof name, "wino_out_%dx%zu_%dphase%s", l->out.c, d->nqp, d->phases, d->phases > 1 ? "s" : "");
    kernel_close(out, &t, l, "forward", stem, NULL, name);
}

/* The products of a winograd pass over one tile's planes: the transform,
 * every phase's 9 products of every block of V vectors of tiles, and back. */
void emit_wino_products(sbuf *o, const ir_layer *l, const lower_direct *d, const ir_sched *s)
{
    char in[64], block[64];
    put(o, "        %s(V, src);\n", kernel_ref(in, sizeof in, l->name, "_wino_in"));
    omp_for(o, s);
    put(o, "        for (size_t n = 0; n < %zu; n += %d)\n", d->nvp, vec() * d->V);
    put(o, "            for (int x = 0; x < %d; x++)   /* phase x / 9, product x %% 9 */\n", 9 * d->phases);
    put(o, "                for (int ob = 0; ob < %d; ob += %d)\n", d->mpad, d->R);
    put(o, "                    %s(M + ((size_t)x * %d + ob) * %zu + n, pack + ((size_t)x * %d + ob) * %d,\n",
        kernel_ref(block, sizeof block, l->name, "_wino_block"), d->mpad, d->nvp, d->mpad, d->K);
    put(o, "                            V + (size_t)(x %% 9) * %zu + n);\n", (size_t)d->K * d->nvp);
    char wout[128];
    put(o, "        %s(acc, M);\n", kernel_ref(wout, sizeof wout, l->name, "_wino_out"));
}
