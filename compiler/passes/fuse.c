/* passes/fuse.c: fold a bare activation line into the layer before it.
 *
 *     up2 = deconv2d(1, kernel=3)       up2 = deconv2d(1, kernel=3) sigmoid
 *     sigmoid                      =>
 *
 * so that the bias and the activation are applied in the pass that writes
 * the layer's output, and the output needs no second buffer. Only a layer
 * with weights and no activation of its own takes one, and never across the
 * encoder/decoder boundary, which would change what the latent is. */
#include <string.h>
#include "ir/ir.h"
#include "ir/passes.h"

static int can_fuse(const ir_layer *prev, const ir_layer *act)
{
    int has_weights = prev->kind == IR_CONV2D || prev->kind == IR_DECONV2D || prev->kind == IR_LINEAR;
    return act->kind == IR_ACT && !act->named && has_weights && prev->act == ACT_NONE &&
           prev->in_decoder == act->in_decoder;
}

void fuse_activations(ir_model *m)
{
    int kept = 0, n_encoder = m->n_encoder, gaussian = m->gaussian;
    for (int i = 0; i < m->nlayers; i++) {
        ir_layer *l = &m->layers[i];
        if (kept > 0 && can_fuse(&m->layers[kept - 1], l)) {
            ir_layer *prev = &m->layers[kept - 1];
            prev->act = l->act;
            prev->slope = l->slope;
            prev->act_line = l->line;
            if (i < m->n_encoder)
                n_encoder--;
            continue;
        }
        /* The latent moves down with the layers: an activation line fused
         * in the encoder moves the gaussian layer's index down by one
         * (tests/models/tiny_vae_fused.ae). */
        if (i == m->gaussian)
            gaussian = kept;
        m->layers[kept++] = *l;
    }
    m->nlayers = kept;
    m->n_encoder = n_encoder;
    m->gaussian = gaussian;
}
