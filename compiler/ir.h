/* ir.h: the static graph, from the semantic pass to the emitter.
 *
 * sema.c builds one ir_layer per layer line of the .ae file, with its kind,
 * settings and inferred shapes; fuse.c folds a bare activation line into the
 * layer before it; plan.c lays out the arena; emit.c writes the C. A layer's
 * name is the thread through all of them: `conv1` on a .ae line is the
 * ir_layer named conv1, whose C is conv1_forward and conv1_backward. */
#ifndef IR_H
#define IR_H
#include <stddef.h>

typedef enum { IR_CONV2D, IR_DECONV2D, IR_LINEAR, IR_FLATTEN, IR_UNFLATTEN, IR_ACT, IR_GAUSSIAN } ir_kind;
typedef enum { ACT_NONE, ACT_RELU, ACT_LEAKY_RELU, ACT_SIGMOID, ACT_TANH } ir_act;
typedef enum { LOSS_MSE, LOSS_BCE } ir_loss;
typedef enum { REDUCE_MEAN, REDUCE_SUM } ir_reduce;     /* over pixels; always mean over images */
typedef enum { OPT_ADAM, OPT_SGD } ir_opt;

/* One image (C x H x W, stored CBHW in the arena) or a flat vector
 * (F = c, stored [B, F]). */
typedef struct {
    int c, h, w;
    int flat;
} ir_shape;

size_t ir_numel(ir_shape s);

/* conv2d and deconv2d settings */
typedef struct {
    int out, kernel, stride, pad, out_pad;
} ir_conv;

/* How one pass of a layer is computed (schedule.c): never what it computes.
 * gemm: im2col (or col2im) around cblas_sgemm; direct: the direct kernels
 * (ir_direct below) for the forward pass, or for the backward pass's input
 * gradient; winograd: the same planes and stores, with each phase's 2 x 2
 * taps computed by Winograd's F(2x2, 2x2) in between (ir_direct's wino),
 * for conv2d and deconv2d; and direct for the forward pass of a linear
 * layer or the gaussian latent's heads, a product that does not copy the
 * weights (emit.c, LAYER_rows). */
typedef enum { LOWER_GEMM, LOWER_DIRECT, LOWER_WINOGRAD } ir_lowering;
/* Their names in a schedule line, by ir_lowering, then NULL. */
extern const char *const ir_lowering_names[];
enum { PASS_FWD, PASS_BWD };

typedef struct {
    ir_lowering lowering;
    int unroll;         /* gemm: #pragma GCC unroll N in im2col/col2im; direct, winograd: V; 0: the default */
    int threads;        /* 0: every core; 1: this thread only; N: N threads */
    int tile;           /* images per tile of the batch; 0: the whole batch at once */
    int line;           /* the schedule line that set it; 0 when aec chose */
} ir_sched;

typedef struct {
    ir_kind kind;
    char name[64];
    int line, col;      /* where on its .ae line it starts */
    int named;          /* the user gave its name (a named activation stays a layer) */
    int act_line;       /* the line of a bare activation fused into it, or 0 */
    int in_decoder;
    ir_shape in, out;
    ir_conv conv;       /* IR_CONV2D, IR_DECONV2D */
    int features;       /* IR_LINEAR, IR_GAUSSIAN: output features */
    float beta;         /* IR_GAUSSIAN: the weight of the KL term */
    ir_act act;         /* the activation applied to the output (fused) */
    float slope;        /* leaky_relu's negative slope */
    int weight, bias;   /* indices into ir_model.params, or -1 (IR_GAUSSIAN: mu's) */
    int weight2, bias2; /* IR_GAUSSIAN: logvar's */
    /* schedule.c: the output made again in the backward pass instead of
     * kept from the forward pass (LAYER.output = recompute()), and the line
     * that said so or kept it (0 when aec chose) */
    int recompute, output_line;
    /* plan.c: arena buffers (indices into ir_model.bufs, -1 if none);
     * buf_redo: the output made again, for the backward passes (recompute) */
    int buf_out, buf_cols, buf_dout, buf_dcols, buf_redo;
    int buf_mu, buf_logvar, buf_eps, buf_dmu, buf_dlogvar;    /* IR_GAUSSIAN */
    /* plan.c: where the forward pass's packed weights start in the
     * prepared weights (inference: MODEL_prepare), or -1 if it packs none */
    long prep;
    /* ir_mark_gradients, before schedule.c and plan.c read them: */
    int needs_din;      /* a layer with weights lies below: pass d loss / d input on */
    int runs_backward;  /* it has weights or needs_din: else nothing to do */
    ir_sched sched[2];  /* schedule.c: [PASS_FWD], [PASS_BWD] */
} ir_layer;

typedef struct {
    char name[80];      /* state_dict name, e.g. conv1.weight */
    int ndim, shape[4];
    size_t numel, offset;
    int fan_in;
} ir_param;

/* An arena buffer: floats per image, live from step first to step last. */
typedef struct {
    char name[80];
    size_t size;
    int first, last;
    size_t offset;
} ir_buf;

typedef struct {
    float lr, beta1, beta2, eps, weight_decay, momentum;
    ir_opt kind;
} ir_optim;

typedef struct {
    char name[64];
    const char *path;       /* the .ae file */
    const char *source;     /* its text */
    ir_shape input;
    float lo, hi;
    int model_line, encoder_line, decoder_line, loss_line;   /* for comments */
    int nlayers, n_encoder; /* layers[0 .. n_encoder-1] make the encoder */
    ir_layer *layers;
    int nparams;
    ir_param *params;
    size_t n_param_floats;
    ir_loss loss;
    ir_reduce reduce;
    int gaussian;           /* index of the IR_GAUSSIAN layer, or -1 */
    ir_optim optim;
    int batch, epochs;
    long long seed;
    int workers;            /* schedule.c: slices of a batch run at once; 0: one per core */
    int workers_line;       /* the schedule line that set it; 0 when aec chose */
    int nbufs;
    ir_buf *bufs;
    int buf_input;
    size_t arena_per_image;
    /* plan.c: the convolutions' im2col columns and direct planes, after
     * the arena: B * scratch_per_image floats (untiled gemm passes), or
     * scratch_fixed (tiled and direct passes) */
    size_t scratch_per_image, scratch_fixed;
    /* plan.c: floats of the prepared weights, each layer's at its prep */
    size_t prep_floats;
} ir_model;

void ir_free(ir_model *m);

/* The buffer the backward passes read layer l's output from (plan.c): the
 * output made again where it is recomputed, else the forward pass's. */
int ir_bwd_out(const ir_layer *l);

/* Passes, in order. Each returns 0, or -1 after reporting through diag. */
#include "ast.h"
int  sema_check(const ast_model *ast, ir_model *m);   /* sema.c */
void fuse_activations(ir_model *m);                    /* fuse.c */
void ir_mark_gradients(ir_model *m);                   /* ir.c: needs_din, runs_backward */
int  schedule_layers(const ast_model *ast, ir_model *m); /* schedule.c */
void plan_arena(ir_model *m);                          /* plan.c */

/* Names of kinds, for messages, tables and comments. */
const char *ir_kind_name(ir_kind k);
const char *ir_act_name(ir_act a);
/* "32x14x14" or "3136" */
const char *ir_shape_str(ir_shape s, char *buf, size_t size);
/* Floats per image in a convolution's im2col columns (C x K x K rows of
 * the strided grid's positions); 0 for other kinds. In double: sema uses it
 * to refuse sizes before any of them is computed in size_t. */
double ir_cols(const ir_layer *l);
/* Forward multiply-adds x 2 per image. */
double ir_layer_flops(const ir_layer *l);

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
    size_t nqp;             /* out_rows rows, rounded up to whole blocks of 16 x V
                             * (winograd: 2 nty rows and one, in whole 16s) */
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
    size_t nvp;             /* tiles, rounded up to whole blocks of 16 x V */
    size_t wv, wm, guard;   /* floats of the transformed planes and products; acc's guard */
    size_t at_v;            /* where V, and acc's guard, start: max(src, wm) */
} ir_direct;

ir_direct ir_direct_of(const ir_layer *l, const ir_sched *s, int batch);
/* The input gradient of a conv2d is the deconv2d of its output gradient
 * with the same weights, kernel, stride and padding, and the other way
 * round: the layer that computes it (named LAYER_din, no bias, no
 * activation), for the direct kernels of a backward pass. */
ir_layer ir_din_layer(const ir_layer *l);
/* aec's tile for a gemm pass's im2col columns (0: the whole batch). */
int ir_gemm_tile(const ir_layer *l, int batch);
/* The weight gradient of a conv2d or deconv2d whose backward pass is direct
 * or winograd (emit.c, LAYER_dw_*): the forward pass's planes of its input
 * and taps (ir_direct, in the backward pass's tile), and the output
 * gradient's pixels with every channel side by side (LAYER_dw_grads:
 * grads[b][y][x][mw]; phase p's pixels start at row p / S, column p % S,
 * and step by S). Each (channel, tap) pair of a phase is a dot product
 * over the tile's pixels of its plane, at the tap's shift, with every
 * output channel's gradient: a block of J pairs x 16 ov output channels
 * sums J x ov vectors in registers, broadcasting one plane value per pair
 * and pixel, and adds them into sums[p][pair][mw] once a tile;
 * LAYER_backward adds those into the weight gradient at the end. */
typedef struct {
    ir_direct d;            /* the planes and taps: the layer's forward geometry */
    int S;                  /* the stride between a phase's pixels (deconv2d's; conv2d 1): d.phases = S x S */
    int ov, mw;             /* vectors of 16 output channels a block; channels rounded up to 16 ov */
    int J;                  /* (channel, tap) pairs a block */
    int pairs;              /* a phase's rows of sums: in.c x max_taps, rounded up to J */
    size_t grads, sums;     /* floats of a tile's gathered gradients, and of the sums */
    size_t work;            /* all of its scratch: planes, grads, sums */
} ir_dweight;

ir_dweight ir_dweight_of(const ir_layer *l, const ir_sched *bwd, int batch);
/* Whether layer l's weight gradient is made this way: a conv2d or
 * deconv2d whose backward pass is direct or winograd (emit.c, plan.c). */
int ir_dweight_direct(const ir_layer *l);
/* The extent of phase p of a weight gradient's pixels: rows, columns. */
void ir_dweight_extent(const ir_layer *l, const ir_dweight *w, int p, int *rows, int *cols);
/* The images a direct linear product takes at a time, in 2 vectors of 16
 * (emit.c; plan.c sizes its transposed input). */
enum { IR_LINEAR_IMAGES = 32 };
/* A linear layer's forward pass under gemm, given prepared weights
 * (inference), multiplies them as panels of IR_PANEL outputs, packed
 * input-major, where a panel of its inputs fits in the L1 cache:
 * IR_PANEL_INPUTS inputs or fewer (emit.c, LAYER_panel). */
enum { IR_PANEL = 64, IR_PANEL_INPUTS = 128 };
/* The taps of one phase, as shifts into a channel's planes (conv2d: plane
 * index x stride + shift) and kernel indices ky*K + kx; returns how many.
 * off and kidx hold K*K each. */
int ir_direct_taps(const ir_layer *l, const ir_direct *d, int phase, long *off, int *kidx);
/* A phase's base: the least shift its taps read, within a split's plane
 * for conv2d (winograd). */
long ir_direct_base(const ir_layer *l, const ir_direct *d, int phase);
/* winograd lowering fits: at most 2 x 2 taps a phase (kernel <= 2 x stride). */
int ir_winograd_fits(const ir_layer *l);

#endif
