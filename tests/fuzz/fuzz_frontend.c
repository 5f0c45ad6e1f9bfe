/* fuzz_frontend.c: libFuzzer target for the compiler's front end. The input
 * is a .ae source; it goes through every pass `aec check` and `aec emit` run
 * (lexer, parser, sema, fuse, plan), then the layer table and the emitter,
 * both into memory or /dev/null. Diagnostics go to /dev/null. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "driver.h"
#include "emit/emit.h"
#include "ir/table.h"

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        abort();
    /* compile_file turns these away before compile_source sees them (a file
     * with a NUL byte is not a .ae file), so aec can never pass them on. */
    if (memchr(data, '\0', size))
        return -1;
    compiled c;
    if (compile_source("fuzz.ae", (const char *)data, size, devnull, &c) == 0) {
        char *ctext, *htext;
        print_layer_table(devnull, &c.ir);
        emit_model(&c.ir, &ctext, &htext);
        free(ctext);
        free(htext);
    }
    compiled_free(&c);
    return 0;
}
