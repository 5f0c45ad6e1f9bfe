/* emit/internal.h: what the emitter's files share: the output text
 * (put, appending to an sbuf passed to every function; an indent, where a
 * body's depth varies, is passed too), and each file's functions that
 * another calls. The emitter reads the planned IR (ir/ir.h) and the kernel
 * geometry (lower/geometry.h); only the driver calls it (emit/emit.h). */
#ifndef EMIT_INTERNAL_H
#define EMIT_INTERNAL_H
#include <stddef.h>
#include "base/util.h"
#include "ir/ir.h"
#include "lower/geometry.h"
#include "lower/target.h"

/* The geometry shared by a convolution and its transpose: an image of C x H
 * x W seen through a K x K window at stride S and padding P, giving a grid
 * of GH x GW window positions. Column (b, gh, gw) of row (c, kh, kw) holds
 * img[c][b][gh*S - P + kh][gw*S - P + kw], 0 outside the image. */
typedef struct {
    int C, H, W, K, S, P, GH, GW;
} window;

#define NT "CblasNoTrans"
#define TR "CblasTrans"

/* text.c */
void put(sbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *flit(float v, char *buf, size_t size);
void source_comment(sbuf *o, const ir_model *m, int line);
void layer_comment(sbuf *o, const ir_model *m, const ir_layer *l, const char *what);
const char *buf_name(const ir_model *m, int b);
void gemm(sbuf *o, const char *ind, const char *ta, const char *tb, const char *M, const char *N,
          const char *K, const char *A, const char *lda, const char *Bm, const char *ldb, const char *beta,
          const char *C, const char *ldc);
void sched_comment(sbuf *o, const ir_sched *s);
void blas_threads(sbuf *o, const ir_sched *s);
const char *tile_open(sbuf *o, const ir_sched *s);
void tile_close(sbuf *o, const ir_sched *s);
void omp_for(sbuf *o, const ir_sched *s);
const char *plus(int k, char *buf, size_t size);
void emit_weight_at(sbuf *o, const ir_layer *l, const char *out, const char *in);
/* The target's vector (lower/target.h) in the emitted C: floats and bytes.
 * Its types are aec_vN and aec_vNu, N = vec(). */
int vec(void);
int vec_bytes(void);

/* kernels.c */
void kernels_reset(void);
void kernel_close(sbuf *o, sbuf *text, const ir_layer *l, const char *role, const char *stem,
                  const char *const *suffixes, const char *name);
const char *kernel_ref(char *buf, size_t size, const char *stem, const char *suffix);
char *kernels_finish(const ir_model *m, char *text);

/* act.c */
void act_call(sbuf *o, const ir_layer *l, const char *v);
void dact_call(sbuf *o, const ir_layer *l, const char *y, const char *g);
void emit_act_helpers(sbuf *o, const ir_model *m);
void emit_bias_act(sbuf *o, const ir_layer *l);
void emit_dbias(sbuf *o, const ir_layer *l);

/* planes.c */
window conv_window(const ir_layer *l);
void window_range(window g, int axis, int k, int *lo, int *hi);
void emit_direct_planes(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d);
void emit_direct_taps(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d);

/* gemm.c */
void emit_im2col(sbuf *o, const ir_model *m, const ir_layer *l, int unroll);
void emit_col2im(sbuf *o, const ir_model *m, const ir_layer *l, int unroll);
void emit_conv_gemm_pass(sbuf *o, const ir_layer *l, int pass, int din);

/* direct.c */
void emit_direct_helpers(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d);
void emit_direct_pass(sbuf *o, const ir_layer *l, const lower_direct *d, const ir_sched *s, const char *out,
                      const char *in, const char *scratch, int prepared);

/* winograd.c */
void emit_wino_pack(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d);
void emit_wino_in(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d);
void emit_wino_out(sbuf *o, const ir_model *m, const ir_layer *l, const lower_direct *d);
void emit_wino_products(sbuf *o, const ir_layer *l, const lower_direct *d, const ir_sched *s);

/* dweight.c */
void emit_transpose16(sbuf *o);
void emit_dweight_helpers(sbuf *o, const ir_model *m, const ir_layer *l, const lower_dweight *w);
void emit_dweight_pass(sbuf *o, const ir_layer *l, const lower_dweight *w, const ir_sched *s);

/* conv.c */
void emit_conv_layer(sbuf *o, const ir_model *m, const ir_layer *l);

/* linear.c */
void emit_linear_direct_helpers(sbuf *o, const ir_model *m, const ir_layer *l);
void emit_linear_products(sbuf *o, const ir_layer *l, const char *F, const char *O, const char *const *outs,
                          const char *const *weights, int n, const char *only_if);
void emit_linear(sbuf *o, const ir_model *m, const ir_layer *l);

/* layers.c */
void emit_layer(sbuf *o, const ir_model *m, const ir_layer *l);

/* descriptor.c */
void emit_enums(sbuf *o, const ir_model *m);
void emit_descriptor(sbuf *o, const ir_model *m);

#endif
