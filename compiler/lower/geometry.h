/* lower/geometry.h: kernel geometry, how the direct, winograd and direct
 * weight-gradient kernels of a convolution are laid out for the target
 * (lower/target.h): planes, taps, register blocks, scratch. Shared by the
 * emitter (which writes the kernels) and the planner and scheduler (which
 * size their scratch and tiles). The IR says what a layer computes; this
 * says how its kernels are shaped. */
#ifndef GEOMETRY_H
#define GEOMETRY_H
#include <stddef.h>
#include "ir/ir.h"

/* The direct lowering of a conv2d or deconv2d forward pass, shared by the
 * emitter (which writes it) and the planner (which sizes its scratch).
 *
 * Stride S makes a convolution S x S interleaved ones of stride 1, its
 * phases. conv2d splits its input into S x S planes (pixels S*i + py,
 * S*j + px); deconv2d's output falls into S x S phases (pixels S*m + ry,
 * S*n + rx), each a stride-1 convolution of the zero-padded input. Either
 * way every product reads a plane at a fixed shift from the output. A
 * plane holds a tile's images side by side, row by row (row i of image b
 * at i*row + b*cols), so that each product of a tile is one long row:
 * out[o][q] += w * src[c][q + shift], q over all of the tile's images,
 * vectorised over q, register-blocked R channels x V vectors. The pad
 * columns between images are computed too, and dropped on the store. */
typedef struct {
    int phases;             /* output phases: S*S for deconv2d, 1 for conv2d */
    int splits;             /* planes per input channel: S*S for conv2d, 1 for deconv2d */
    int rows, cols;         /* a plane's rows, and an image's columns in a row */
    int out_rows, out_cols; /* the rows and columns of a plane that are output pixels */
    int lo;                 /* deconv2d: plane pixel (i, j) is input pixel (i + lo, j + lo) */
    int max_taps;           /* the most kernel taps in one phase */
    int R, V, mpad;         /* the register block; output channels rounded up to R */
    int tile;               /* images per tile */
    size_t row;             /* floats in a plane's row: tile x cols */
    size_t reach;           /* the largest shift a product reads within a plane */
    size_t nqp;             /* out_rows rows, rounded up to whole blocks of V vectors
                             * (winograd: 2 nty rows and one, in whole vectors) */
    size_t stride;          /* floats between planes: the rows, or nqp plus the reach
                             * (winograd: 2 nty + 1 rows and two, at least) */
    size_t src, acc, pack;  /* floats of the planes, the products and the packed weights */
    size_t work;            /* floats a tile's pass works in: all of the scratch but pack */
    size_t computed;        /* outputs a tile computes per phase and channel, dropped ones too */
    /* winograd lowering: every phase's taps lie within 2 x 2 of its
     * base, the least shift it reads. For each 2 x 2 outputs of a plane
     * (tiles of the flat row q, two rows x two columns) the 3 x 3 planes
     * values are transformed (B'dB), multiplied by the transformed weights
     * (GgG') as 9 products summed over every input plane, and transformed
     * back (A'MA): 9 multiply-adds for every 16 of the direct products.
     * The products' sums, 2 x 2 outputs per tile, land in acc at q - base,
     * where acc has guard floats before it. Each stage's input is dead
     * once it has run, so the products share the planes' floats, and acc
     * the transformed planes': scratch is max(src, wm), max(wv, guard +
     * acc), then pack. */
    int wino;               /* 1 under winograd lowering */
    int ntx, nty;           /* tiles along a plane's row, and rows of tiles */
    int K;                  /* the planes summed over: channels x splits */
    size_t nvp;             /* tiles, rounded up to whole blocks of V vectors */
    size_t wv, wm, guard;   /* floats of the transformed planes and products; acc's guard */
    size_t at_v;            /* where V, and acc's guard, start: max(src, wm) */
} lower_direct;

lower_direct lower_direct_of(const ir_layer *l, const ir_sched *s, int batch);
/* aec's tile for a gemm pass's im2col columns (0: the whole batch). */
int lower_gemm_tile(const ir_layer *l, int batch);
/* The weight gradient of a conv2d or deconv2d whose backward pass is direct
 * or winograd (emit/dweight.c, LAYER_dw_*): the forward pass's planes of its input
 * and taps (lower_direct, in the backward pass's tile), and the output
 * gradient's pixels with every channel side by side (LAYER_dw_grads:
 * grads[b][y][x][mw]; phase p's pixels start at row p / S, column p % S,
 * and step by S). Each (channel, tap) pair of a phase is a dot product
 * over the tile's pixels of its plane, at the tap's shift, with every
 * output channel's gradient: a block of J pairs x ov vectors of output channels
 * sums J x ov vectors in registers, broadcasting one plane value per pair
 * and pixel, and adds them into sums[p][pair][mw] once a tile;
 * LAYER_backward adds those into the weight gradient at the end. */
typedef struct {
    lower_direct d;            /* the planes and taps: the layer's forward geometry */
    int S;                  /* the stride between a phase's pixels (deconv2d's; conv2d 1): d.phases = S x S */
    int ov, mw;             /* vectors of output channels a block; channels rounded up to ov vectors */
    int J;                  /* (channel, tap) pairs a block */
    int pairs;              /* a phase's rows of sums: in.c x max_taps, rounded up to J */
    size_t grads, sums;     /* floats of a tile's gathered gradients, and of the sums */
    size_t work;            /* all of its scratch: planes, grads, sums */
} lower_dweight;

lower_dweight lower_dweight_of(const ir_layer *l, const ir_sched *bwd, int batch);
/* Whether layer l's weight gradient is made this way: a conv2d or
 * deconv2d whose backward pass is direct or winograd (emit/, plan.c). */
int lower_dweight_direct(const ir_layer *l);
/* The extent of phase p of a weight gradient's pixels: rows, columns. */
void lower_dweight_extent(const ir_layer *l, const lower_dweight *w, int p, int *rows, int *cols);
/* The images a direct linear product takes at a time: 2 vectors
 * (emit/linear.c; plan.c sizes its transposed input). */
int lower_linear_images(void);
/* A linear layer's forward pass under gemm, given prepared weights
 * (inference), multiplies them as panels of lower_panel() outputs (4
 * vectors), packed input-major, where a panel of its inputs fits in the L1
 * cache: lower_panel_inputs() inputs or fewer (emit/linear.c, LAYER_panel). */
int lower_panel(void);
int lower_panel_inputs(void);
/* The register blocks of the linear products: outputs a direct product
 * sums at a time, and images a panel is multiplied into at a time. */
int lower_linear_rows(const ir_layer *l);
int lower_panel_images(void);
/* The registers n broadcast values of a register block hold while it runs:
 * n where the target keeps each in a register of its own, else 1. */
int lower_held(int n);
/* The taps of one phase, as shifts into a channel's planes (conv2d: plane
 * index x stride + shift) and kernel indices ky*K + kx; returns how many.
 * off and kidx hold K*K each. */
int lower_direct_taps(const ir_layer *l, const lower_direct *d, int phase, long *off, int *kidx);
/* A phase's base: the least shift its taps read, within a split's plane
 * for conv2d (winograd). */
long lower_direct_base(const ir_layer *l, const lower_direct *d, int phase);
/* winograd lowering fits: at most 2 x 2 taps a phase (kernel <= 2 x stride). */
int lower_winograd_fits(const ir_layer *l);

#endif
