/* json.c: the little JSON the runtime reads and writes: the header cursor of
 * the safetensors and .npy parsers, string escaping for metadata, and reading
 * one string field of a flat object (a checkpoint's __metadata__). */
#include "aec.h"
#include "io/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void aec_json_ws(aec_json_cursor *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

int aec_json_eat(aec_json_cursor *j, char c)
{
    aec_json_ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return 1;
    }
    return 0;
}

/* Names in .ae files are identifiers, but a descriptor is only C: escape
 * anything that could break the JSON string rather than trust it. */
void aec_json_string(char *out, size_t size, const char *s)
{
    size_t k = 0;
    for (; *s && k + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == '"' || c == '\\')
            k += (size_t)snprintf(out + k, size - k, "\\u%04x", c);
        else
            out[k++] = (char)c;
    }
    out[k] = '\0';
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    return s;
}

/* Read the JSON string at s (at its '"') into out; the text after it, or NULL
 * if it is malformed or longer than size. \uXXXX beyond ASCII becomes '?':
 * metadata here are numbers and identifiers. */
static const char *json_read_string(const char *s, char *out, size_t size)
{
    static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
    size_t k = 0;
    if (*s++ != '"')
        return NULL;
    for (; *s && *s != '"'; s++) {
        char c = *s;
        if (c == '\\') {
            const char *e = *++s ? strchr(esc_in, *s) : NULL;
            if (*s == 'u' && strlen(s) >= 5) {
                char hex[5] = { s[1], s[2], s[3], s[4], '\0' };
                unsigned long v = strtoul(hex, NULL, 16);
                c = v < 0x80 ? (char)v : '?';
                s += 4;
            } else if (e) {
                c = esc_out[e - esc_in];
            } else {
                return NULL;
            }
        }
        if (k + 1 >= size)
            return NULL;
        out[k++] = c;
    }
    out[k] = '\0';
    return *s == '"' ? s + 1 : NULL;
}

int aec_meta_get(const char *json, const char *key, char *out, size_t size)
{
    char k[128];
    const char *s = json ? skip_ws(json) : NULL;
    if (!s || *s++ != '{')
        return -1;
    for (;;) {
        s = skip_ws(s);
        if (!(s = json_read_string(s, k, sizeof k)))
            return -1;
        s = skip_ws(s);
        if (*s++ != ':')
            return -1;
        s = json_read_string(skip_ws(s), out, size);
        if (!s)
            return -1;      /* not a string: safetensors allows no other */
        if (strcmp(k, key) == 0)
            return 0;
        s = skip_ws(s);
        if (*s++ != ',')
            return -1;
    }
}
