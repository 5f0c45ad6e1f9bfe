/* ir/passes.h: the passes from the tree to the planned IR, in the order
 * the driver runs them (driver.c). Each returns 0, or -1 after reporting
 * through diag. */
#ifndef PASSES_H
#define PASSES_H
#include "front/ast.h"
#include "ir/ir.h"

int  sema_check(const ast_model *ast, ir_model *m);     /* front/sema.c */
/* the documented position of a call's key (conv2d: out, kernel, stride, pad), or -1 */
int  sema_arg_rank(const char *call, const char *key);  /* front/sema.c */
void fuse_activations(ir_model *m);                      /* passes/fuse.c */
void ir_mark_gradients(ir_model *m);                     /* passes/grads.c: needs_din, runs_backward */
int  schedule_layers(const ast_model *ast, ir_model *m); /* passes/schedule.c */
/* aec tune's variants (tune.c), after schedule_layers and before the plan:
 * every pass that a lowering applies to (schedule_allows) set to it, with
 * aec's tile for it; narrower: direct's register block one vector
 * narrower than aec's, where aec's is 2 or more (the other passes keep
 * theirs). A pass's lowering as a schedule line could set it, nothing else. */
typedef struct {
    ir_lowering how;
    int narrower;
} sched_force;
void schedule_force(ir_model *m, const sched_force *f);           /* passes/schedule.c */
/* Whether a schedule line may set pass p of layer l to how: 1 or 0. */
int  schedule_allows(const ir_layer *l, int p, ir_lowering how);  /* passes/schedule.c */
void plan_arena(ir_model *m);                            /* passes/plan.c */

#endif
