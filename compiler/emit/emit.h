/* emit/emit.h: the C emitter, called by the driver alone. */
#ifndef EMIT_H
#define EMIT_H
#include "ir/ir.h"

/* The text of MODEL.c and MODEL.h for a planned model (malloc'd). */
void emit_model(const ir_model *m, char **c_text, char **h_text);

#endif
