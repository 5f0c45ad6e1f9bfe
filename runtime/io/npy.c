/* npy.c: NumPy .npy files.
 *
 * A file is the magic "\x93NUMPY", a version (major, minor), a little-endian
 * header length (2 bytes in version 1.x, 4 in 2.x and 3.x), then a Python
 * dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and ended by '\n' so that the data starts at a multiple
 * of 64 bytes, then the data in C order. We write version 1.0 exactly as
 * numpy does, so numpy.load and hexdumps agree; we read float32 and uint8
 * (the decoded-image cache of data/cache.c). */
#include "aec.h"
#include "io/files.h"
#include "io/json.h"
#include "io/npy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_ALIGN 64
#define NPY_MAX_HEADER (1u << 20)   /* numpy's own headers are < 1 KB */

/* ---- writing ---------------------------------------------------------------- */

/* Elements in a shape, or SIZE_MAX if negative or too large for memory. */
static size_t npy_numel(const int64_t *shape, int ndim, size_t elem)
{
    size_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || (uint64_t)shape[d] > SIZE_MAX / elem)
            return SIZE_MAX;
        if (shape[d] != 0 && n > SIZE_MAX / elem / (size_t)shape[d])
            return SIZE_MAX;
        n *= (size_t)shape[d];
    }
    return n;
}

/* The header text (dict, spaces, '\n') into h (at least 256 bytes); its length. */
static int npy_header(char *h, const char *descr, int ndim, const int64_t *shape)
{
    int k = sprintf(h, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int d = 0; d < ndim; d++)
        k += sprintf(h + k, d ? ", %" PRId64 : "%" PRId64, shape[d]);
    /* Python writes a 1-tuple as (n,) */
    k += sprintf(h + k, ndim == 1 ? ",), }" : "), }");
    while ((10 + k + 1) % NPY_ALIGN)
        h[k++] = ' ';
    h[k++] = '\n';
    return k;
}

static int npy_write(const char *path, const char *descr, const void *data, size_t elem,
                     int ndim, const int64_t *shape)
{
    char h[256];
    aec_out_file o;
    size_t numel = ndim >= 1 && ndim <= 4 ? npy_numel(shape, ndim, elem) : SIZE_MAX;
    if (numel == SIZE_MAX || (!data && numel > 0)) {
        aec_error("%s: cannot write a .npy of %d dimensions with this shape", path, ndim);
        return -1;
    }
    int len = npy_header(h, descr, ndim, shape);
    uint8_t pre[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                        (uint8_t)(len & 0xFF), (uint8_t)(len >> 8) };
    if (aec_out_open(&o, path) != 0)
        return -1;
    aec_out_write(&o, pre, sizeof pre);
    aec_out_write(&o, h, (size_t)len);
    aec_out_write(&o, data, numel * elem);
    return aec_out_commit(&o);
}

int aec_npy_write_f32(const char *path, const float *data, int ndim, const int64_t *shape)
{
    return npy_write(path, "<f4", data, sizeof(float), ndim, shape);
}

int aec_npy_write_i64(const char *path, const int64_t *data, int64_t n)
{
    return npy_write(path, "<i8", data, sizeof(int64_t), 1, &n);
}

int aec_npy_write_u8(const char *path, const uint8_t *data, int ndim, const int64_t *shape)
{
    return npy_write(path, "|u1", data, 1, ndim, shape);
}

/* ---- reading the header dict ------------------------------------------------- */

typedef struct {
    char descr[16];
    int fortran, ndim;
    int64_t shape[4];
} npy_info;

/* A dtype we read: its descr as numpy writes it, another spelling numpy
 * accepts (or NULL), the element size, and the end of the message for others. */
typedef struct {
    const char *descr, *alias;
    size_t elem;
    const char *expect;
} npy_dtype;

static const npy_dtype NPY_F32 = { "<f4", NULL, sizeof(float), "aec reads float32 ('<f4') only" };
static const npy_dtype NPY_U8 = { "|u1", "<u1", 1, "expected uint8 ('|u1')" };

static int npy_fail(aec_json_cursor *d, const char *msg)
{
    aec_error("%s: malformed .npy header: %s", d->path, msg);
    return -1;
}

/* 'text' or "text" into out (cap bytes with the NUL). */
static int npy_quoted(aec_json_cursor *d, char *out, size_t cap)
{
    size_t n = 0;
    aec_json_ws(d);
    if (d->p >= d->end || (*d->p != '\'' && *d->p != '"'))
        return npy_fail(d, "expected a quoted string");
    char q = *d->p++;
    while (d->p < d->end && *d->p != q) {
        if (n + 1 >= cap)
            return npy_fail(d, "string too long");
        out[n++] = *d->p++;
    }
    if (d->p >= d->end)
        return npy_fail(d, "unterminated string");
    d->p++;
    out[n] = '\0';
    return 0;
}

static int npy_bool(aec_json_cursor *d, int *v)
{
    aec_json_ws(d);
    size_t left = (size_t)(d->end - d->p);
    if (left >= 4 && !memcmp(d->p, "True", 4)) {
        *v = 1;
        d->p += 4;
        return 0;
    }
    if (left >= 5 && !memcmp(d->p, "False", 5)) {
        *v = 0;
        d->p += 5;
        return 0;
    }
    return npy_fail(d, "expected True or False");
}

static int npy_int(aec_json_cursor *d, int64_t *v)
{
    aec_json_ws(d);
    if (d->p >= d->end || *d->p < '0' || *d->p > '9')
        return npy_fail(d, "expected a non-negative integer in the shape");
    for (*v = 0; d->p < d->end && *d->p >= '0' && *d->p <= '9'; d->p++) {
        if (*v > (INT64_MAX - 9) / 10)
            return npy_fail(d, "dimension too large");
        *v = *v * 10 + (*d->p - '0');
    }
    return 0;
}

/* (a, b, ...) with an optional trailing comma, as Python writes tuples. */
static int npy_shape(aec_json_cursor *d, int *ndim, int64_t shape[4])
{
    *ndim = 0;
    if (!aec_json_eat(d, '('))
        return npy_fail(d, "expected '(' for the shape");
    if (aec_json_eat(d, ')'))
        return 0;
    for (;;) {
        if (*ndim == 4)
            return npy_fail(d, "more than 4 dimensions (aec reads 1 to 4)");
        if (npy_int(d, &shape[(*ndim)++]) != 0)
            return -1;
        if (aec_json_eat(d, ')'))
            return 0;
        if (!aec_json_eat(d, ','))
            return npy_fail(d, "expected ',' or ')' in the shape");
        if (aec_json_eat(d, ')'))
            return 0;
    }
}

static int npy_key(aec_json_cursor *d, npy_info *h, int *seen)
{
    char key[32];
    if (npy_quoted(d, key, sizeof key) != 0)
        return -1;
    if (!aec_json_eat(d, ':'))
        return npy_fail(d, "expected ':'");
    int bit = !strcmp(key, "descr") ? 1 : !strcmp(key, "fortran_order") ? 2
            : !strcmp(key, "shape") ? 4 : 0;
    if (!bit || (*seen & bit))
        return npy_fail(d, bit ? "key repeated" : "unknown key");
    *seen |= bit;
    if (bit == 1)
        return npy_quoted(d, h->descr, sizeof h->descr);
    if (bit == 2)
        return npy_bool(d, &h->fortran);
    return npy_shape(d, &h->ndim, h->shape);
}

static int npy_parse(aec_json_cursor *d, npy_info *h)
{
    int seen = 0;
    if (!aec_json_eat(d, '{'))
        return npy_fail(d, "expected '{'");
    while (!aec_json_eat(d, '}')) {
        if (npy_key(d, h, &seen) != 0)
            return -1;
        if (aec_json_eat(d, '}'))
            break;
        if (!aec_json_eat(d, ','))
            return npy_fail(d, "expected ',' or '}'");
    }
    if (seen != 7)
        return npy_fail(d, "needs descr, fortran_order and shape");
    aec_json_ws(d);
    return d->p == d->end ? 0 : npy_fail(d, "text after the closing '}'");
}

/* ---- reading the file ------------------------------------------------------------ */

/* Magic, version, length, then the header text into *text (malloc'd). */
static int npy_read_header(FILE *fp, const char *path, char **text, size_t *len)
{
    uint8_t pre[12];
    size_t got = fread(pre, 1, 8, fp), lsize;
    *text = NULL;
    if (got < 6 || memcmp(pre, NPY_MAGIC, 6) != 0) {
        aec_error("%s: not a .npy file (bad magic)", path);
        return -1;
    }
    lsize = got < 8 ? 0 : pre[6] == 1 ? 2 : pre[6] == 2 || pre[6] == 3 ? 4 : 0;
    if (got == 8 && !lsize) {
        aec_error("%s: unsupported .npy version %d.%d", path, pre[6], pre[7]);
        return -1;
    }
    if (!lsize || fread(pre + 8, 1, lsize, fp) != lsize) {
        aec_error("%s: truncated .npy header", path);
        return -1;
    }
    *len = pre[8] | (size_t)pre[9] << 8;
    if (lsize == 4)
        *len |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    if (*len > NPY_MAX_HEADER || !(*text = malloc(*len + 1))) {
        aec_error("%s: .npy header of %zu bytes is too large", path, *len);
        return -1;
    }
    if (fread(*text, 1, *len, fp) != *len) {
        aec_error("%s: truncated .npy header", path);
        return -1;
    }
    return 0;
}

static int npy_check(const char *path, const npy_info *h, const npy_dtype *dt)
{
    if (strcmp(h->descr, dt->descr) != 0 && (!dt->alias || strcmp(h->descr, dt->alias) != 0))
        aec_error("%s: dtype '%s' is not supported; %s", path, h->descr, dt->expect);
    else if (h->fortran)
        aec_error("%s: fortran_order is True; aec reads C-order arrays only", path);
    else if (h->ndim < 1)
        aec_error("%s: a 0-dimensional array; aec reads 1 to 4 dimensions", path);
    else
        return 0;
    return -1;
}

/* The data must be exactly what the shape says: a shorter file is truncated,
 * a longer one was written with a different shape. Its size in *bytes. */
static int npy_check_size(FILE *fp, const char *path, const npy_info *h, size_t elem, size_t *bytes)
{
    struct stat st;
    long pos = ftell(fp);
    size_t numel = npy_numel(h->shape, h->ndim, elem);
    *bytes = numel * elem;
    if (numel == SIZE_MAX || pos < 0 || fstat(fileno(fp), &st) != 0) {
        aec_error("%s: cannot read: %s", path, numel == SIZE_MAX ? "shape too large" : strerror(errno));
        return -1;
    }
    uint64_t have = (uint64_t)st.st_size > (uint64_t)pos ? (uint64_t)st.st_size - (uint64_t)pos : 0;
    if (S_ISREG(st.st_mode) && have != *bytes) {
        aec_error("%s: %s: the shape needs %zu bytes of data, found %" PRIu64, path,
                  have < *bytes ? "truncated" : "too long", *bytes, have);
        return -1;
    }
    return 0;
}

static int npy_read_data(FILE *fp, const char *path, size_t bytes, void **data)
{
    if (!(*data = malloc(bytes ? bytes : 1))) {
        aec_error("%s: out of memory for %zu bytes", path, bytes);
        return -1;
    }
    if (fread(*data, 1, bytes, fp) != bytes) {
        aec_error("%s: truncated: the shape needs %zu bytes of data", path, bytes);
        free(*data);
        *data = NULL;
        return -1;
    }
    return 0;
}

/* PATH opened and its header read and checked: the file is left at its
 * data, which is *bytes long. NULL after a message. */
static FILE *npy_open(const char *path, const npy_dtype *dt, int *ndim, int64_t shape[4], size_t *bytes)
{
    npy_info h = {0};
    char *text = NULL;
    size_t len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        aec_error("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    int rc = npy_read_header(fp, path, &text, &len);
    if (rc == 0) {
        aec_json_cursor d = { text, text + len, text, path, ".npy header" };
        rc = npy_parse(&d, &h);
    }
    rc = rc ? rc : npy_check(path, &h, dt);
    rc = rc ? rc : npy_check_size(fp, path, &h, dt->elem, bytes);
    free(text);
    if (rc != 0) {
        fclose(fp);
        return NULL;
    }
    *ndim = h.ndim;
    for (int k = 0; k < 4; k++)
        shape[k] = k < h.ndim ? h.shape[k] : 0;
    return fp;
}

static int npy_read(const char *path, const npy_dtype *dt, void **data, int *ndim,
                    int64_t shape[4])
{
    size_t bytes;
    *data = NULL;
    FILE *fp = npy_open(path, dt, ndim, shape, &bytes);
    if (!fp)
        return -1;
    int rc = npy_read_data(fp, path, bytes, data);
    fclose(fp);
    return rc;
}

int aec_npy_read_f32(const char *path, float **data, int *ndim, int64_t shape[4])
{
    void *p = NULL;
    int rc = npy_read(path, &NPY_F32, &p, ndim, shape);
    *data = p;
    return rc;
}

int aec_npy_read_u8(const char *path, uint8_t **data, int *ndim, int64_t shape[4])
{
    void *p = NULL;
    int rc = npy_read(path, &NPY_U8, &p, ndim, shape);
    *data = p;
    return rc;
}

FILE *aec_npy_open_u8(const char *path, int *ndim, int64_t shape[4])
{
    size_t bytes;
    return npy_open(path, &NPY_U8, ndim, shape, &bytes);
}
