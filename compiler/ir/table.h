/* ir/table.h: the layer table of `aec check`. */
#ifndef TABLE_H
#define TABLE_H
#include <stdio.h>
#include "ir/ir.h"

void print_layer_table(FILE *out, const ir_model *m);

#endif
