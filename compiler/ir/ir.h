/* ir/ir.h: the static graph, from the semantic pass to the emitter: layers,
 * parameters, arena buffers, names and FLOPs. What a layer computes and how
 * each pass is scheduled, never how its kernels are shaped (that is
 * lower/geometry.h).
 *
 * front/sema.c builds one ir_layer per layer line of the .ae file, with its
 * kind, settings and inferred shapes; the passes (ir/passes.h) fuse, mark
 * gradients, schedule and plan; emit/ writes the C. A layer's name is the
 * thread through all of them: `conv1` on a .ae line is the ir_layer named
 * conv1, whose C is conv1_forward and conv1_backward. */
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
 * (lower/geometry.h, lower_direct) for the forward pass, or for the backward pass's input
 * gradient; winograd: the same planes and stores, with each phase's 2 x 2
 * taps computed by Winograd's F(2x2, 2x2) in between (lower_direct's wino),
 * for conv2d and deconv2d; and direct for the forward pass of a linear
 * layer or the gaussian latent's heads, a product that does not copy the
 * weights (emit/linear.c, LAYER_rows). */
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

/* The input gradient of a conv2d is the deconv2d of its output gradient
 * with the same weights, kernel, stride and padding, and the other way
 * round: the layer that computes it (named LAYER_din, no bias, no
 * activation), for the direct kernels of a backward pass. */
ir_layer ir_din_layer(const ir_layer *l);

#endif
