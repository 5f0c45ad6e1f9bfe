/* io/json.h: the little JSON the runtime reads and writes (json.c). */
#ifndef AEC_IO_JSON_H
#define AEC_IO_JSON_H

#include <stddef.h>

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

/* s as the inside of a JSON string (no quotes), cut to fit size. */
void aec_json_string(char *out, size_t size, const char *s);
/* The value of string field `key` in a flat JSON object such as safetensors'
 * __metadata__; 0 and the unescaped value in out, or -1 if absent or too long. */
int aec_meta_get(const char *json, const char *key, char *out, size_t size);

#endif
