/* passes/grads.c: which layers pass a gradient on and which run backward
 * at all, read by the schedule, the plan and the emitter. A layer needs
 * its input gradient only where a layer with weights lies below it. */
#include "ir/passes.h"

void ir_mark_gradients(ir_model *m)
{
    int weights_below = 0;
    for (int i = 0; i < m->nlayers; i++) {
        ir_layer *l = &m->layers[i];
        l->needs_din = weights_below;
        weights_below |= l->weight >= 0;
        l->runs_backward = l->weight >= 0 || l->needs_din;
    }
}
