/* safetensors.c: checkpoints in the safetensors format.
 *
 * A file is an 8-byte little-endian header length N, N bytes of JSON header,
 * then the raw data. The header maps each tensor's name to
 *   {"dtype":"F32","shape":[...],"data_offsets":[begin,end]}
 * (offsets relative to the start of the data), plus an optional
 * "__metadata__" object whose values are all strings. aec writes and reads
 * F32 only. A file is untrusted input: the reader checks every length and
 * offset before it touches the data, and reports instead of crashing.
 *
 * Integrity: every file aec writes starts its header with
 *   {"__metadata__":{"crc32":"XXXXXXXX"
 * the CRC-32 (zlib's) of the whole file with those 8 hex digits read as
 * '0's. A fixed place keeps it simple to compute while writing and to check
 * before parsing anything; the reader refuses a file whose sum differs, so a
 * flipped bit or a cut-off tail anywhere (length, header, data) is caught.
 * Files from other tools have no such prefix and are read unchecked. */
#include "aec.h"
#include "io/files.h"
#include "io/json.h"
#include "io/safetensors.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* The format's own bound on the header, which also bounds our allocations. */
#define ST_MAX_HEADER (100u << 20)

/* The most tensors a header may list. An autoencoder has tens of parameter
 * tensors (and its optimizer file two per parameter); 65536 leaves room for
 * any other tool's checkpoint of a model aec could compile, while a header
 * of 100 MB could otherwise list millions of empty tensors, each costing a
 * name, an allocation and a place in the index. */
#define ST_MAX_TENSORS 65536

/* ---- a JSON reader for exactly the header's shape ----------------------- */

/* What one tensor entry says, before it is checked against the data. */
typedef struct {
    char *dtype;
    int ndim, n_off;
    uint64_t shape[4], off[2];
} st_entry;

static int st_fail(aec_json_cursor *j, const char *msg)
{
    aec_error("%s: malformed %s at byte %td: %s", j->path, j->ctx, j->p - j->start, msg);
    return -1;
}

static int st_expect(aec_json_cursor *j, char c)
{
    char msg[32];
    if (aec_json_eat(j, c))
        return 0;
    snprintf(msg, sizeof msg, "expected '%c'", c);
    return st_fail(j, msg);
}

/* The '}' after the last member of an object; anything else is a missing ','. */
static int st_close(aec_json_cursor *j)
{
    return aec_json_eat(j, '}') ? 0 : st_fail(j, "expected ',' or '}'");
}

static int st_hex4(const char *p, const char *end, unsigned *v)
{
    *v = 0;
    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        *v = *v * 16 + (unsigned)d;
    }
    return 0;
}

static size_t st_utf8(unsigned cp, char *s)
{
    if (cp < 0x80) {
        s[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        s[0] = (char)(0xC0 | cp >> 6);
        s[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        s[0] = (char)(0xE0 | cp >> 12);
        s[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        s[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    s[0] = (char)(0xF0 | cp >> 18);
    s[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    s[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    s[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A \uXXXX escape at j->p (before q, the closing quote); a UTF-16 surrogate
 * pair is two escapes that make one code point. */
static int st_unicode(aec_json_cursor *j, const char *q, unsigned *cp)
{
    unsigned lo;
    if (st_hex4(j->p + 2, q, cp) != 0)
        return st_fail(j, "bad \\u escape");
    j->p += 6;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF)
        return st_fail(j, "unpaired surrogate in \\u escape");
    if (*cp >= 0xD800 && *cp <= 0xDBFF) {
        if (q - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u'
            || st_hex4(j->p + 2, q, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
            return st_fail(j, "unpaired surrogate in \\u escape");
        *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
        j->p += 6;
    }
    if (*cp == 0)
        return st_fail(j, "NUL character in string");
    return 0;
}

/* One escape at j->p, decoded into s + *n. The decoded text is never longer
 * than the escape, so s (as long as the raw string) always has room. */
static int st_escape(aec_json_cursor *j, const char *q, char *s, size_t *n)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    char e = j->p[1];
    const char *k = e ? strchr(from, e) : NULL;
    unsigned cp;
    if (k) {
        s[(*n)++] = to[k - from];
        j->p += 2;
        return 0;
    }
    if (e != 'u')
        return st_fail(j, "bad escape in string");
    if (st_unicode(j, q, &cp) != 0)
        return -1;
    *n += st_utf8(cp, s + *n);
    return 0;
}

/* The closing quote of the string whose body starts at p, or NULL. */
static const char *st_string_end(const char *p, const char *end)
{
    while (p < end && *p != '"') {
        if (*p == '\\' && end - p < 2)
            return NULL;
        p += *p == '\\' ? 2 : 1;
    }
    return p < end ? p : NULL;
}

/* Decode the string body from j->p up to q, its closing quote, into s. */
static int st_decode(aec_json_cursor *j, const char *q, char *s)
{
    size_t n = 0;
    while (j->p < q) {
        if ((unsigned char)*j->p < 0x20)
            return st_fail(j, "control character in string");
        if (*j->p != '\\')
            s[n++] = *j->p++;
        else if (st_escape(j, q, s, &n) != 0)
            return -1;
    }
    s[n] = '\0';
    j->p++;
    return 0;
}

/* A string, decoded into *out (malloc'd), or checked and dropped if out is NULL. */
static int st_string(aec_json_cursor *j, char **out)
{
    if (out)
        *out = NULL;
    if (!aec_json_eat(j, '"'))
        return st_fail(j, "expected a string");
    const char *q = st_string_end(j->p, j->end);
    if (!q)
        return st_fail(j, "unterminated string");
    char *s = malloc((size_t)(q - j->p) + 1);
    if (!s)
        return st_fail(j, "out of memory");
    int rc = st_decode(j, q, s);
    if (rc == 0 && out)
        *out = s;
    else
        free(s);
    return rc;
}

static int st_is_digit(aec_json_cursor *j)
{
    return j->p < j->end && *j->p >= '0' && *j->p <= '9';
}

static int st_uint(aec_json_cursor *j, uint64_t *v)
{
    uint64_t x = 0;
    aec_json_ws(j);
    if (!st_is_digit(j))
        return st_fail(j, "expected a non-negative integer");
    while (st_is_digit(j)) {
        unsigned d = (unsigned)(*j->p - '0');
        if (x > (UINT64_MAX - d) / 10)
            return st_fail(j, "integer too large");
        x = x * 10 + d;
        j->p++;
    }
    if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
        return st_fail(j, "expected an integer");
    *v = x;
    return 0;
}

/* [a, b, ...] of at most max non-negative integers. */
static int st_uint_list(aec_json_cursor *j, uint64_t *v, int max, int *n)
{
    *n = 0;
    if (st_expect(j, '[') != 0)
        return -1;
    if (aec_json_eat(j, ']'))
        return 0;
    do {
        if (*n == max)
            return st_fail(j, max == 2 ? "data_offsets needs exactly 2 integers"
                                       : "more than 4 dimensions");
        if (st_uint(j, &v[(*n)++]) != 0)
            return -1;
    } while (aec_json_eat(j, ','));
    return st_expect(j, ']');
}

enum { ST_DTYPE = 1, ST_SHAPE = 2, ST_OFFSETS = 4 };

static int st_field(aec_json_cursor *j, st_entry *e, const char *key, int *seen)
{
    int bit = !strcmp(key, "dtype") ? ST_DTYPE : !strcmp(key, "shape") ? ST_SHAPE
            : !strcmp(key, "data_offsets") ? ST_OFFSETS : 0;
    if (!bit)
        return st_fail(j, "unknown key in tensor entry (expected dtype, shape, data_offsets)");
    if (*seen & bit)
        return st_fail(j, "key repeated in tensor entry");
    *seen |= bit;
    if (bit == ST_DTYPE)
        return st_string(j, &e->dtype);
    if (bit == ST_SHAPE)
        return st_uint_list(j, e->shape, 4, &e->ndim);
    if (st_uint_list(j, e->off, 2, &e->n_off) != 0)
        return -1;
    return e->n_off == 2 ? 0 : st_fail(j, "data_offsets needs exactly 2 integers");
}

/* {"dtype": ..., "shape": [...], "data_offsets": [b, e]}; the caller frees e->dtype. */
static int st_entry_parse(aec_json_cursor *j, st_entry *e)
{
    int seen = 0;
    memset(e, 0, sizeof *e);
    if (st_expect(j, '{') != 0)
        return -1;
    do {
        char *key;
        int rc = st_string(j, &key);
        rc = rc ? rc : st_expect(j, ':');
        rc = rc ? rc : st_field(j, e, key, &seen);
        free(key);
        if (rc != 0)
            return -1;
    } while (aec_json_eat(j, ','));
    if (st_close(j) != 0)
        return -1;
    if (seen != (ST_DTYPE | ST_SHAPE | ST_OFFSETS))
        return st_fail(j, "tensor entry needs dtype, shape and data_offsets");
    return 0;
}

/* {"key": "value", ...}: the one shape "__metadata__" may have. The raw text
 * is kept (in *raw, if not NULL) so that callers see exactly what was written. */
static int st_metadata(aec_json_cursor *j, char **raw)
{
    aec_json_ws(j);
    const char *begin = j->p;
    if (st_expect(j, '{') != 0)
        return -1;
    if (!aec_json_eat(j, '}')) {
        do {
            if (st_string(j, NULL) != 0 || st_expect(j, ':') != 0)
                return -1;
            aec_json_ws(j);
            if (j->p < j->end && *j->p != '"')
                return st_fail(j, "__metadata__ values must be strings");
            if (st_string(j, NULL) != 0)
                return -1;
        } while (aec_json_eat(j, ','));
        if (st_close(j) != 0)
            return -1;
    }
    if (!raw)
        return 0;
    size_t n = (size_t)(j->p - begin);
    if (!(*raw = malloc(n + 1)))
        return st_fail(j, "out of memory");
    memcpy(*raw, begin, n);
    (*raw)[n] = '\0';
    return 0;
}

/* ---- shapes ----------------------------------------------------------------- */

/* Elements in a shape, or SIZE_MAX if they would not fit in memory as floats. */
static size_t st_numel(const uint64_t *shape, int ndim)
{
    size_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] > (uint64_t)(SIZE_MAX / sizeof(float)))
            return SIZE_MAX;
        if (shape[d] != 0 && n > SIZE_MAX / sizeof(float) / shape[d])
            return SIZE_MAX;
        n *= (size_t)shape[d];
    }
    return n;
}

size_t aec_shape_numel(const int64_t *shape, int ndim)
{
    uint64_t u[4];
    for (int d = 0; d < ndim; d++)
        u[d] = shape[d] < 0 ? UINT64_MAX : (uint64_t)shape[d];
    return st_numel(u, ndim);
}

/* "[32,1,3,3]" into buf (at least 96 bytes). */
void aec_shape_str(char *buf, const int64_t *shape, int ndim)
{
    int k = sprintf(buf, "[");
    for (int d = 0; d < ndim; d++)
        k += sprintf(buf + k, d ? ",%" PRId64 : "%" PRId64, shape[d]);
    sprintf(buf + k, "]");
}

/* ---- the checksum -------------------------------------------------------------- */

static const char st_crc_prefix[] = "{\"__metadata__\":{\"crc32\":\"";
#define ST_CRC_AT (8 + sizeof st_crc_prefix - 1)    /* file offset of the 8 hex digits */

/* The sum over buf[0, len) with the stored digits counted as "00000000". */
static uLong st_file_crc(const char *buf, size_t len)
{
    uLong crc = aec_crc32(0, buf, ST_CRC_AT);
    crc = aec_crc32(crc, "00000000", 8);
    return aec_crc32(crc, buf + ST_CRC_AT + 8, len - ST_CRC_AT - 8);
}

/* A file that carries a sum must match it: 1 if it did, 0 if the file has
 * none, -1 after aec_error. */
static int st_verify(const char *path, const char *buf, size_t len)
{
    char hex[9];
    if (len < ST_CRC_AT + 8 || memcmp(buf + 8, st_crc_prefix, sizeof st_crc_prefix - 1) != 0)
        return 0;
    memcpy(hex, buf + ST_CRC_AT, 8);
    hex[8] = '\0';
    unsigned long want = strtoul(hex, NULL, 16);
    uLong have = st_file_crc(buf, len);
    /* ... and the string must end there: with more after the 8 digits
     * (which the fuzzer, tests/fuzz, found), stripping the sum from the
     * metadata would have left broken JSON behind. */
    if (strspn(hex, "0123456789abcdef") == 8 && want == have && len > ST_CRC_AT + 8
        && buf[ST_CRC_AT + 8] == '"')
        return 1;
    aec_error("%s: checksum mismatch (stored %s%s, computed %08lx): the file is corrupt or "
              "truncated (%zu bytes)", path, hex,
              len > ST_CRC_AT + 8 && buf[ST_CRC_AT + 8] != '"' ? "..." : "", (unsigned long)have, len);
    return -1;
}

/* ---- writing ---------------------------------------------------------------- */

typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} st_text;

static void st_append(st_text *t, const char *s, size_t n)
{
    if (t->oom)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = realloc(t->s, cap);
        if (!p) {
            t->oom = 1;
            return;
        }
        t->s = p;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void st_puts(st_text *t, const char *s)
{
    st_append(t, s, strlen(s));
}

static void st_put_u64(st_text *t, uint64_t v)
{
    char buf[24];
    st_append(t, buf, (size_t)snprintf(buf, sizeof buf, "%" PRIu64, v));
}

/* A JSON string literal: names are ASCII in practice, but a stray quote or
 * control character must not produce a header the reader rejects. */
static void st_put_string(st_text *t, const char *s)
{
    char esc[8];
    st_puts(t, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            st_append(t, (const char[]){'\\', (char)c}, 2);
        else if (c < 0x20)
            st_append(t, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04x", c));
        else
            st_append(t, s, 1);
    }
    st_puts(t, "\"");
}

static void st_put_tensor(st_text *h, const aec_tensor *t, uint64_t *offset)
{
    uint64_t bytes = aec_shape_numel(t->shape, t->ndim) * sizeof(float);
    st_put_string(h, t->name);
    st_puts(h, ":{\"dtype\":\"F32\",\"shape\":[");
    for (int d = 0; d < t->ndim; d++) {
        if (d)
            st_puts(h, ",");
        st_put_u64(h, (uint64_t)t->shape[d]);
    }
    st_puts(h, "],\"data_offsets\":[");
    st_put_u64(h, *offset);
    st_puts(h, ",");
    st_put_u64(h, *offset + bytes);
    st_puts(h, "]}");
    *offset += bytes;
}

static int st_check_tensor(const char *path, const aec_tensor *t, int i)
{
    const char *why = NULL;
    if (!t[i].name || !t[i].name[0] || !strcmp(t[i].name, "__metadata__"))
        why = "has no usable name";
    else if (t[i].ndim < 0 || t[i].ndim > 4)
        why = "has more than 4 dimensions";
    else if (aec_shape_numel(t[i].shape, t[i].ndim) == SIZE_MAX)
        why = "has a negative or huge shape";
    else if (!t[i].data && aec_shape_numel(t[i].shape, t[i].ndim) > 0)
        why = "has no data";
    for (int k = 0; !why && k < i; k++)
        if (!strcmp(t[k].name, t[i].name))
            why = "appears twice";
    if (why)
        aec_error("%s: tensor %d ('%s') %s", path, i, t[i].name ? t[i].name : "", why);
    return why ? -1 : 0;
}

static int st_check_metadata(const char *path, const char *meta)
{
    size_t n = strlen(meta);
    aec_json_cursor j = { meta, meta + n, meta, path, "__metadata__ text" };
    if (st_metadata(&j, NULL) != 0)
        return -1;
    aec_json_ws(&j);
    return j.p == j.end ? 0 : st_fail(&j, "text after the closing '}'");
}

/* The JSON header, padded with spaces so that the data starts 8-aligned. */
static int st_build_header(const char *path, const aec_tensor *t, int n,
                           const char *meta, st_text *h)
{
    uint64_t offset = 0;
    for (int i = 0; i < n; i++)
        if (st_check_tensor(path, t, i) != 0)
            return -1;
    if (meta && st_check_metadata(path, meta) != 0)
        return -1;
    /* the sum's digits are filled in once the whole file has been summed */
    st_puts(h, st_crc_prefix);
    st_puts(h, "00000000\"");
    if (meta) {
        const char *inner = strchr(meta, '{') + 1;
        if (inner[strspn(inner, " \t\r\n")] != '}')
            st_puts(h, ",");
        st_puts(h, inner);
    } else {
        st_puts(h, "}");
    }
    for (int i = 0; i < n; i++) {
        st_puts(h, ",");
        st_put_tensor(h, &t[i], &offset);
    }
    st_puts(h, "}");
    while (h->len % 8)
        st_puts(h, " ");
    if (h->oom)
        aec_error("%s: out of memory", path);
    return h->oom ? -1 : 0;
}

int aec_safetensors_write(const char *path, const aec_tensor *t, int n,
                          const char *metadata_json)
{
    st_text h = {0};
    aec_out_file o;
    uint8_t len8[8];
    if (st_build_header(path, t, n, metadata_json, &h) != 0 || aec_out_open(&o, path) != 0) {
        free(h.s);
        return -1;
    }
    for (int b = 0; b < 8; b++)
        len8[b] = (uint8_t)((uint64_t)h.len >> (8 * b));
    uLong crc = aec_crc32(aec_crc32(0, len8, 8), h.s, h.len);
    for (int i = 0; i < n; i++)
        crc = aec_crc32(crc, t[i].data, aec_shape_numel(t[i].shape, t[i].ndim) * sizeof(float));
    char hex[9];
    snprintf(hex, sizeof hex, "%08lx", (unsigned long)crc);
    memcpy(h.s + ST_CRC_AT - 8, hex, 8);
    aec_out_write(&o, len8, 8);
    aec_out_write(&o, h.s, h.len);
    for (int i = 0; i < n; i++)
        aec_out_write(&o, t[i].data, aec_shape_numel(t[i].shape, t[i].ndim) * sizeof(float));
    free(h.s);
    return aec_out_commit(&o);
}

/* ---- reading ---------------------------------------------------------------- */

/* A file without a sum is one from another tool, unless its metadata is
 * aec's own: then damage to the sum's first bytes hid it. */
static int st_require_sum(const char *path, aec_tensor_file *f)
{
    static const char *const ours[] = { "epoch", "step" };   /* what train writes */
    char v[256];
    for (size_t i = 0; f->metadata_json && i < sizeof ours / sizeof *ours; i++)
        if (aec_meta_get(f->metadata_json, ours[i], v, sizeof v) == 0) {
            aec_error("%s: the metadata is aec's (\"%s\") but the checksum is missing: "
                      "the file is corrupt", path, ours[i]);
            return -1;
        }
    return 0;
}

/* The sum belongs to the file, not to what the caller wrote: callers get back
 * the metadata they gave (NULL for none), so reading and writing again does
 * not repeat the key. A verified file's metadata starts {"crc32":"XXXXXXXX". */
static void st_strip_crc(aec_tensor_file *f)
{
    char *s = f->metadata_json;
    size_t key = strlen("{\"crc32\":\"XXXXXXXX\"");
    if (!s || strlen(s) < key)
        return;
    /* the key and value, any white space after them, and the comma if one follows */
    size_t skip = key - 1 + strspn(s + key, " \t\r\n");
    skip += s[1 + skip] == ',';
    memmove(s + 1, s + 1 + skip, strlen(s + 1 + skip) + 1);
    if (!strcmp(s, "{}")) {
        free(s);
        f->metadata_json = NULL;
    }
}

/* Binary search in the name order st_sort_names made (a linear search per
 * tensor made a header of 100k tensors take 24 s to parse). */
int aec_tensor_file_index(const aec_tensor_file *f, const char *name)
{
    int lo = 0, hi = f->n;
    while (f->by_name && lo < hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(f->names[f->by_name[mid]], name);
        if (c == 0)
            return f->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Is the entry F32 and do its offsets cover exactly its shape, inside the data? */
static int st_entry_check(const char *path, const char *name, const st_entry *e,
                          size_t data_len, size_t *numel)
{
    int64_t s[4];
    char shape[96];
    if (strcmp(e->dtype, "F32") != 0) {
        aec_error("%s: tensor '%s' has dtype %s; only F32 is supported", path, name, e->dtype);
        return -1;
    }
    *numel = st_numel(e->shape, e->ndim);
    if (e->off[0] > e->off[1] || e->off[1] > data_len) {
        aec_error("%s: tensor '%s' has data_offsets [%" PRIu64 ",%" PRIu64 "] outside the "
                  "%zu bytes of data", path, name, e->off[0], e->off[1], data_len);
        return -1;
    }
    if (*numel == SIZE_MAX || e->off[1] - e->off[0] != *numel * sizeof(float)) {
        for (int d = 0; d < e->ndim; d++)
            s[d] = e->shape[d] > INT64_MAX ? -1 : (int64_t)e->shape[d];
        aec_shape_str(shape, s, e->ndim);
        aec_error("%s: tensor '%s' has shape %s but data_offsets [%" PRIu64 ",%" PRIu64 "] "
                  "(%" PRIu64 " bytes, not 4 per element)", path, name, shape, e->off[0], e->off[1],
                  e->off[1] - e->off[0]);
        return -1;
    }
    return 0;
}

/* Room for one more tensor in each of f's parallel arrays. */
static int st_grow(aec_tensor_file *f, int *cap)
{
    if (f->n < *cap)
        return 0;
    int c = *cap ? *cap * 2 : 16;
    char **names = realloc(f->names, (size_t)c * sizeof *names);
    if (names)
        f->names = names;
    int *ndim = realloc(f->ndim, (size_t)c * sizeof *ndim);
    if (ndim)
        f->ndim = ndim;
    int64_t (*shape)[4] = realloc(f->shape, (size_t)c * sizeof *shape);
    if (shape)
        f->shape = shape;
    float **data = realloc(f->data, (size_t)c * sizeof *data);
    if (data)
        f->data = data;
    uint64_t (*off)[2] = realloc(f->offsets, (size_t)c * sizeof *off);
    if (off)
        f->offsets = off;
    if (!names || !ndim || !shape || !data || !off)
        return -1;
    *cap = c;
    return 0;
}

/* Append a checked entry; takes name. Data is copied out so that it is
 * float-aligned and outlives the file buffer. */
static int st_add(aec_tensor_file *f, int *cap, char *name, const st_entry *e,
                  const uint8_t *src, size_t numel)
{
    float *x = malloc(numel ? numel * sizeof(float) : 1);
    if (!x || st_grow(f, cap) != 0) {
        free(x);
        return -1;
    }
    memcpy(x, src, numel * sizeof(float));
    f->names[f->n] = name;
    f->ndim[f->n] = e->ndim;
    for (int d = 0; d < 4; d++)
        f->shape[f->n][d] = d < e->ndim ? (int64_t)e->shape[d] : 0;
    f->offsets[f->n][0] = e->off[0];
    f->offsets[f->n][1] = e->off[1];
    f->data[f->n++] = x;
    return 0;
}

/* One "name": {...} entry; takes name. */
static int st_tensor(aec_json_cursor *j, aec_tensor_file *f, int *cap, char *name,
                     const uint8_t *data, size_t data_len)
{
    st_entry e;
    size_t numel = 0;
    int rc = st_entry_parse(j, &e);
    rc = rc ? rc : st_entry_check(j->path, name, &e, data_len, &numel);
    if (rc == 0 && f->n == ST_MAX_TENSORS) {
        aec_error("%s: the header lists more than %d tensors, the most aec reads",
                  j->path, ST_MAX_TENSORS);
        rc = -1;
    }
    if (rc == 0 && st_add(f, cap, name, &e, data + e.off[0], numel) != 0) {
        aec_error("%s: out of memory", j->path);
        rc = -1;
    }
    free(e.dtype);
    if (rc != 0)
        free(name);
    return rc;
}

static int st_key_value(aec_json_cursor *j, aec_tensor_file *f, int *cap,
                        const uint8_t *data, size_t data_len)
{
    char *key;
    if (st_string(j, &key) != 0 || st_expect(j, ':') != 0) {
        free(key);
        return -1;
    }
    if (strcmp(key, "__metadata__") != 0)
        return st_tensor(j, f, cap, key, data, data_len);
    free(key);
    if (f->metadata_json)
        return st_fail(j, "__metadata__ appears twice");
    return st_metadata(j, &f->metadata_json);
}

static int st_parse(aec_json_cursor *j, aec_tensor_file *f, const uint8_t *data, size_t data_len)
{
    int cap = 0;
    if (st_expect(j, '{') != 0)
        return -1;
    if (!aec_json_eat(j, '}')) {
        do {
            if (st_key_value(j, f, &cap, data, data_len) != 0)
                return -1;
        } while (aec_json_eat(j, ','));
        if (st_close(j) != 0)
            return -1;
    }
    aec_json_ws(j);
    return j->p == j->end ? 0 : st_fail(j, "text after the closing '}'");
}

/* ---- the name index -------------------------------------------------------- */

typedef struct {
    const char *name;
    int i;
} st_named;

static int st_by_name(const void *a, const void *b)
{
    return strcmp(((const st_named *)a)->name, ((const st_named *)b)->name);
}

/* f->by_name, and a refusal of a name that appears twice (now adjacent). */
static int st_sort_names(const char *path, aec_tensor_file *f)
{
    st_named *v = malloc(((size_t)f->n + 1) * sizeof *v);
    f->by_name = malloc(((size_t)f->n + 1) * sizeof *f->by_name);
    if (!v || !f->by_name) {
        free(v);
        aec_error("%s: out of memory", path);
        return -1;
    }
    for (int i = 0; i < f->n; i++)
        v[i] = (st_named){ f->names[i], i };
    qsort(v, (size_t)f->n, sizeof *v, st_by_name);
    int dup = -1;
    for (int k = 0; k < f->n; k++) {
        f->by_name[k] = v[k].i;
        dup = dup < 0 && k > 0 && !strcmp(v[k - 1].name, v[k].name) ? k : dup;
    }
    if (dup >= 0)
        aec_error("%s: tensor '%s' appears twice in the header", path, v[dup].name);
    free(v);
    return dup >= 0 ? -1 : 0;
}

/* ---- the data's layout ------------------------------------------------------ */

typedef struct {
    uint64_t begin, end;
    int i;
} st_span;

static int st_by_offset(const void *a, const void *b)
{
    const st_span *x = a, *y = b;
    return x->begin != y->begin ? (x->begin < y->begin ? -1 : 1)
         : x->end != y->end ? (x->end < y->end ? -1 : 1) : 0;
}

/* What is wrong between span a (or the start, if NULL) and span b (or the
 * end of the data, if NULL), after aec_error; 0 if they touch. */
static int st_seam(const char *path, const aec_tensor_file *f, const st_span *a,
                   const st_span *b, uint64_t data_len)
{
    uint64_t at = a ? a->end : 0, next = b ? b->begin : data_len;
    if (at == next)
        return 0;
    if (a && b && next < at)
        aec_error("%s: tensors '%s' [%" PRIu64 ",%" PRIu64 "] and '%s' [%" PRIu64 ",%" PRIu64
                  "] overlap", path, f->names[a->i], a->begin, a->end, f->names[b->i],
                  b->begin, b->end);
    else if (a && b)
        aec_error("%s: %" PRIu64 " bytes between tensors '%s' (ending at %" PRIu64 ") and '%s' "
                  "(starting at %" PRIu64 ") belong to no tensor", path, next - at,
                  f->names[a->i], at, f->names[b->i], next);
    else if (b)
        aec_error("%s: the data starts with %" PRIu64 " bytes that belong to no tensor "
                  "(the first, '%s', starts at %" PRIu64 ")", path, next, f->names[b->i], next);
    else
        aec_error("%s: %" PRIu64 " trailing bytes after the last tensor%s%s%s (the data has %"
                  PRIu64 " bytes)", path, next - at, a ? " '" : "", a ? f->names[a->i] : "",
                  a ? "'" : "", data_len);
    return -1;
}

/* As the safetensors format requires, the tensors' data_offsets tile the
 * data exactly: no overlap (one tensor reading another's bytes), no gap, no
 * trailing bytes. */
static int st_check_layout(const char *path, const aec_tensor_file *f, uint64_t data_len)
{
    st_span *v = malloc(((size_t)f->n + 1) * sizeof *v);
    if (!v) {
        aec_error("%s: out of memory", path);
        return -1;
    }
    for (int i = 0; i < f->n; i++)
        v[i] = (st_span){ f->offsets[i][0], f->offsets[i][1], i };
    qsort(v, (size_t)f->n, sizeof *v, st_by_offset);
    int rc = 0;
    for (int k = 0; rc == 0 && k <= f->n; k++)
        rc = st_seam(path, f, k > 0 ? &v[k - 1] : NULL, k < f->n ? &v[k] : NULL, data_len);
    free(v);
    return rc;
}

static int st_read_buf(const char *path, const char *buf, size_t len, aec_tensor_file *f)
{
    uint64_t hlen = 0;
    if (len < 8) {
        aec_error("%s: truncated: %zu bytes, too short for a safetensors file", path, len);
        return -1;
    }
    for (int b = 7; b >= 0; b--)
        hlen = hlen << 8 | (uint8_t)buf[b];
    if (hlen > len - 8) {
        aec_error("%s: header length %" PRIu64 " is larger than the file (%zu bytes)",
                  path, hlen, len);
        return -1;
    }
    if (hlen > ST_MAX_HEADER) {
        aec_error("%s: header length %" PRIu64 " is over the format's 100 MB limit", path, hlen);
        return -1;
    }
    int summed = st_verify(path, buf, len);
    if (summed < 0)
        return -1;
    aec_json_cursor j = { buf + 8, buf + 8 + hlen, buf + 8, path, "safetensors header" };
    if (st_parse(&j, f, (const uint8_t *)buf + 8 + hlen, len - 8 - hlen) != 0
        || st_sort_names(path, f) != 0 || st_check_layout(path, f, len - 8 - hlen) != 0)
        return -1;
    if (summed)
        st_strip_crc(f);
    return summed ? 0 : st_require_sum(path, f);
}

int aec_safetensors_read(const char *path, aec_tensor_file *f)
{
    char *buf;
    size_t len;
    memset(f, 0, sizeof *f);
    if (aec_read_whole(path, &buf, &len) != 0)
        return -1;
    int rc = st_read_buf(path, buf, len, f);
    free(buf);
    if (rc != 0)
        aec_tensor_file_free(f);
    return rc;
}

const float *aec_tensor_file_find(const aec_tensor_file *f, const char *name, size_t numel)
{
    int i = aec_tensor_file_index(f, name);
    if (i < 0 || aec_shape_numel(f->shape[i], f->ndim[i]) != numel)
        return NULL;
    return f->data[i];
}

void aec_tensor_file_free(aec_tensor_file *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->names[i]);
        free(f->data[i]);
    }
    free(f->names);
    free(f->ndim);
    free(f->shape);
    free(f->data);
    free(f->metadata_json);
    free(f->by_name);
    free(f->offsets);
    memset(f, 0, sizeof *f);
}
