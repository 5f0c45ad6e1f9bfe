/* idx.c: IDX files (the MNIST family), raw or gzipped.
 *
 * An IDX file is a big-endian magic 0x000008DD (08: unsigned bytes, DD: the
 * number of dimensions), one big-endian uint32 size per dimension, then the
 * bytes. zlib's gzread passes a file that is not gzipped through as it is,
 * so one reader serves both kinds. The caller frees what it gets with free(). */
#include "aec.h"

#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <zlib.h>

#define IDX_IMAGES 0x00000803u
#define IDX_LABELS 0x00000801u
/* Bounds on a header's sizes: far above any real data set, far below what a
 * corrupt header could otherwise make us try to allocate. */
#define IDX_MAX_ITEMS (1u << 26)
#define IDX_MAX_SIDE  (1u << 14)
#define IDX_MAX_BYTES ((uint64_t)1 << 32)

typedef struct {
    gzFile gz;
    const char *path;
    size_t pos;     /* uncompressed bytes read so far */
} idx_file;

static uint32_t idx_be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* zlib's message for the last error, without the "path: " it puts in front. */
static const char *idx_gz_message(idx_file *f, int *err)
{
    const char *msg = gzerror(f->gz, err);
    size_t k = strlen(f->path);
    if (!strncmp(msg, f->path, k) && !strncmp(msg + k, ": ", 2))
        msg += k + 2;
    return msg;
}

/* Read n bytes; total is the file's expected size, for the truncation message.
 * A gzip stream that ends early is reported as truncated, like a raw one. */
static int idx_read(idx_file *f, void *buf, size_t n, size_t total)
{
    size_t got = 0;
    int err = Z_OK;
    while (got < n) {
        unsigned chunk = n - got > (1u << 30) ? 1u << 30 : (unsigned)(n - got);
        int r = gzread(f->gz, (char *)buf + got, chunk);
        const char *msg = r < 0 ? idx_gz_message(f, &err) : NULL;
        if (r < 0 && err != Z_BUF_ERROR) {
            aec_error("%s: cannot read: %s", f->path, msg);
            return -1;
        }
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    f->pos += got;
    if (got < n) {
        aec_error("%s: truncated: expected %zu bytes, found %zu", f->path, total, f->pos);
        return -1;
    }
    return 0;
}

static int idx_fail(idx_file *f)
{
    gzclose(f->gz);
    f->gz = NULL;
    return -1;
}

static int idx_check_sizes(const char *path, const uint32_t *dims, int nd)
{
    uint64_t bytes = 1;
    int ok = dims[0] >= 1 && dims[0] <= IDX_MAX_ITEMS;
    for (int d = 0; d < nd; d++) {
        ok = ok && dims[d] >= 1 && (d == 0 || dims[d] <= IDX_MAX_SIDE);
        bytes *= dims[d];
    }
    if (ok && bytes <= IDX_MAX_BYTES)
        return 0;
    if (nd == 3)
        aec_error("%s: implausible sizes in the header: %u x %u x %u", path,
                  dims[0], dims[1], dims[2]);
    else
        aec_error("%s: implausible size in the header: %u", path, dims[0]);
    return -1;
}

/* Open, check the magic, and read the nd sizes into dims. */
static int idx_open(idx_file *f, const char *path, uint32_t magic, int nd, uint32_t *dims)
{
    uint8_t b[16];
    size_t hdr = 4 + 4 * (size_t)nd;
    f->path = path;
    f->pos = 0;
    errno = 0;
    if (!(f->gz = gzopen(path, "rb"))) {
        aec_error("%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
        return -1;
    }
    gzbuffer(f->gz, 1u << 17);
    if (idx_read(f, b, 4, hdr) != 0)
        return idx_fail(f);
    if (idx_be32(b) != magic) {
        aec_error("%s: not an IDX %s file (magic 0x%08x, expected 0x%08x)", path,
                  nd == 3 ? "image" : "label", idx_be32(b), magic);
        return idx_fail(f);
    }
    if (idx_read(f, b + 4, 4 * (size_t)nd, hdr) != 0)
        return idx_fail(f);
    for (int d = 0; d < nd; d++)
        dims[d] = idx_be32(b + 4 + 4 * d);
    return idx_check_sizes(path, dims, nd) == 0 ? 0 : idx_fail(f);
}

/* The n bytes after the header, which must be the last bytes of the file:
 * extra data means the header does not describe what is there. */
static int idx_body(idx_file *f, size_t n, uint8_t **out)
{
    char extra;
    uint8_t *b = malloc(n);
    *out = NULL;
    if (!b) {
        aec_error("%s: out of memory for %zu bytes", f->path, n);
        return -1;
    }
    if (idx_read(f, b, n, f->pos + n) != 0) {
        free(b);
        return -1;
    }
    if (gzread(f->gz, &extra, 1) > 0) {
        aec_error("%s: more data than the header's sizes describe (%zu bytes)", f->path, f->pos);
        free(b);
        return -1;
    }
    *out = b;
    return 0;
}

int aec_idx_read_images(const char *path, aec_idx_images *out)
{
    idx_file f;
    uint32_t dims[3];
    uint8_t *px;
    memset(out, 0, sizeof *out);
    if (idx_open(&f, path, IDX_IMAGES, 3, dims) != 0)
        return -1;
    int rc = idx_body(&f, (size_t)dims[0] * dims[1] * dims[2], &px);
    gzclose(f.gz);
    if (rc != 0)
        return -1;
    out->n = (int)dims[0];
    out->rows = (int)dims[1];
    out->cols = (int)dims[2];
    out->pixels = px;
    return 0;
}

int aec_idx_read_labels(const char *path, uint8_t **labels, int *n)
{
    idx_file f;
    uint32_t count;
    *labels = NULL;
    *n = 0;
    if (idx_open(&f, path, IDX_LABELS, 1, &count) != 0)
        return -1;
    int rc = idx_body(&f, count, labels);
    gzclose(f.gz);
    if (rc != 0)
        return -1;
    *n = (int)count;
    return 0;
}
