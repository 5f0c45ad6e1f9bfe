/* io_internal.h: checked file helpers shared by the runtime's file formats
 * (safetensors.c, npy.c, png.c), and the cursor their header parsers share.
 * The file helpers are in error.c, beside aec_error, because every one exists
 * to turn a failure into a message that names the file; the cursor is in
 * json.c. Not part of the
 * public interface (aec.h). */
#ifndef AEC_IO_INTERNAL_H
#define AEC_IO_INTERNAL_H

#include <stddef.h>
#include <stdio.h>

/* safetensors, .npy and the float data in them are little-endian; the runtime
 * writes and reads float arrays straight from memory, so it needs a host of
 * the same byte order. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "aec's runtime assumes a little-endian host"
#endif

/* An output file written atomically: everything goes to PATH.tmp, which
 * becomes PATH only when aec_out_commit succeeds, so a crash or a full disk
 * never leaves a half-written checkpoint under the real name. */
typedef struct {
    FILE *fp;
    const char *path;
    char *tmp;          /* PATH.tmp */
    int failed;         /* a write failed (already reported) */
} aec_out_file;

int  aec_out_open(aec_out_file *o, const char *path);
/* Sticky: after a failure further writes do nothing; commit then fails. */
void aec_out_write(aec_out_file *o, const void *buf, size_t n);
/* fflush + fsync + fclose + rename; on any failure removes PATH.tmp. */
int  aec_out_commit(aec_out_file *o);
/* Give up: close and remove PATH.tmp. */
void aec_out_abort(aec_out_file *o);

/* Read a whole file into a malloc'd buffer with a NUL after the last byte. */
int  aec_read_whole(const char *path, char **buf, size_t *len);

/* A cursor over a file's header text: safetensors' JSON and the .npy dict (a
 * Python literal with the same white space and punctuation). Each format
 * reports its own errors, naming path and, for safetensors, ctx and the byte
 * offset p - start. */
typedef struct {
    const char *p, *end, *start;    /* cursor, end and start of the text */
    const char *path, *ctx;         /* for messages: file, and what we parse */
} aec_json_cursor;

/* Skip spaces, tabs, newlines and carriage returns. */
void aec_json_ws(aec_json_cursor *j);
/* Skip white space; then 1 and step past c if it is next, else 0. */
int  aec_json_eat(aec_json_cursor *j, char c);

#endif
