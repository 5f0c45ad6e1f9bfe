/* idx.c: IDX files (the MNIST family), raw or gzipped.
 *
 * An IDX file is a big-endian magic 0x000008DD (08: unsigned bytes, DD: the
 * number of dimensions), one big-endian uint32 size per dimension, then the
 * bytes. A file that starts with gzip's magic (1f 8b) is inflated as it is
 * read, otherwise read as it is. The caller frees what it gets with free(). */
#include "aec.h"
#include "io/idx.h"

#include <errno.h>
#include <stdio.h>
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
#define IDX_FIRST_CHUNK ((size_t)1 << 20)

#define IDX_BUF (1u << 17)  /* compressed bytes read at a time */

/* A file being read. zlib's gzread would serve both kinds, but it takes a
 * gzip file that stops inside its 8-byte trailer (the CRC and length of the
 * data) for a complete one, so gzip streams go through inflate here. */
typedef struct {
    FILE *fp;
    const char *path;
    size_t pos;         /* uncompressed bytes read so far */
    int gz;             /* gzipped: read through z */
    int ended;          /* gzip: past the last member's trailer, which checked out */
    int cut;            /* gzip: the file stopped before that */
    z_stream z;
    uint8_t *in;        /* IDX_BUF bytes of compressed input */
} idx_file;

static uint32_t idx_be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Refill the input after the keep bytes not yet inflated; 0, or -1 after a message. */
static int idx_fill(idx_file *f, uInt keep)
{
    if (keep)
        memmove(f->in, f->z.next_in, keep);
    f->z.next_in = f->in;
    f->z.avail_in = keep + (uInt)fread(f->in + keep, 1, IDX_BUF - keep, f->fp);
    if (!ferror(f->fp))
        return 0;
    aec_error("%s: cannot read: %s", f->path, strerror(errno));
    return -1;
}

/* At the end of a gzip member: another member follows (gzip's magic), or the
 * stream has ended; bytes after the last member are ignored, as by gzip. */
static int idx_next_member(idx_file *f)
{
    if (f->z.avail_in < 2 && idx_fill(f, f->z.avail_in) != 0)
        return -1;
    if (f->z.avail_in >= 2 && f->z.next_in[0] == 0x1f && f->z.next_in[1] == 0x8b)
        inflateReset(&f->z);
    else
        f->ended = 1;
    return 0;
}

/* Up to n (at most 2^30) bytes of the gzip stream into out: fewer only where
 * it ended or the file stopped (f->cut). The count, or -1 after a message. */
static long idx_inflate(idx_file *f, uint8_t *out, size_t n)
{
    f->z.next_out = out;
    f->z.avail_out = (uInt)n;
    while (f->z.avail_out > 0 && !f->ended && !f->cut) {
        if (f->z.avail_in == 0 && idx_fill(f, 0) != 0)
            return -1;
        if (f->z.avail_in == 0) {
            f->cut = 1;
            break;
        }
        int r = inflate(&f->z, Z_NO_FLUSH);
        if (r == Z_STREAM_END && idx_next_member(f) != 0)
            return -1;
        if (r != Z_STREAM_END && r != Z_OK) {
            aec_error("%s: corrupt gzip data: %s", f->path, f->z.msg ? f->z.msg : "inflate failed");
            return -1;
        }
    }
    return (long)(n - f->z.avail_out);
}

/* Read n bytes; total is the file's expected size, for the truncation message.
 * A gzip stream that ends early is reported as truncated, like a raw one. */
static int idx_read(idx_file *f, void *buf, size_t n, size_t total)
{
    size_t got = 0;
    if (!f->gz) {
        got = fread(buf, 1, n, f->fp);
        if (ferror(f->fp)) {
            aec_error("%s: cannot read: %s", f->path, strerror(errno));
            return -1;
        }
    }
    while (f->gz && got < n) {
        size_t chunk = n - got > (1u << 30) ? 1u << 30 : n - got;
        long r = idx_inflate(f, (uint8_t *)buf + got, chunk);
        if (r < 0)
            return -1;
        got += (size_t)r;
        if ((size_t)r < chunk)
            break;
    }
    f->pos += got;
    if (got < n) {
        aec_error("%s: truncated: expected %zu bytes, found %zu", f->path, total, f->pos);
        return -1;
    }
    return 0;
}

static void idx_close(idx_file *f)
{
    if (f->gz)
        inflateEnd(&f->z);
    if (f->fp)
        fclose(f->fp);
    free(f->in);
    f->fp = NULL;
    f->in = NULL;
    f->gz = 0;
}

static int idx_fail(idx_file *f)
{
    idx_close(f);
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
    memset(f, 0, sizeof *f);
    f->path = path;
    if (!(f->fp = fopen(path, "rb"))) {
        aec_error("%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (!(f->in = malloc(IDX_BUF))) {
        aec_error("%s: out of memory", path);
        return idx_fail(f);
    }
    if (idx_fill(f, 0) != 0)
        return idx_fail(f);
    if (f->z.avail_in >= 2 && f->in[0] == 0x1f && f->in[1] == 0x8b) {
        if (inflateInit2(&f->z, 15 + 16) != Z_OK) {     /* + 16: gzip's wrapper */
            aec_error("%s: out of memory", path);
            return idx_fail(f);
        }
        f->gz = 1;
    } else if (fseek(f->fp, 0, SEEK_SET) != 0) {
        aec_error("%s: cannot read: %s", path, strerror(errno));
        return idx_fail(f);
    }
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

/* After the last item: one more byte must not be there. For a gzip file
 * this read also goes on to the stream's end: its trailer, where the data's
 * CRC and length are checked, may not have been reached yet, or may be
 * missing. 0, or -1 after a message. */
static int idx_end(idx_file *f)
{
    char extra;
    long more = f->gz ? idx_inflate(f, (uint8_t *)&extra, 1) : getc(f->fp) != EOF;
    if (more > 0)
        aec_error("%s: more data than the header's sizes describe (%zu bytes)", f->path, f->pos);
    else if (more == 0 && f->gz && f->cut)
        aec_error("%s: truncated: the gzip stream stops before its end (the data's CRC and "
                  "length)", f->path);
    return more != 0 || (f->gz && f->cut) ? -1 : 0;
}

/* The n bytes after the header, which must be the last bytes of the file:
 * extra data means the header does not describe what is there. The buffer
 * grows as the bytes arrive (doubling from IDX_FIRST_CHUNK), so a short file
 * whose header claims gigabytes costs what it holds, not what it claims: the
 * fuzzer (tests/fuzz) made this reader allocate 2 GB for a 17-byte file. */
static int idx_body(idx_file *f, size_t n, uint8_t **out)
{
    size_t total = f->pos + n, cap = n < IDX_FIRST_CHUNK ? n : IDX_FIRST_CHUNK, got = 0;
    uint8_t *b = malloc(cap);
    *out = NULL;
    for (;;) {
        if (!b) {
            aec_error("%s: out of memory for %zu bytes", f->path, cap);
            return -1;
        }
        if (idx_read(f, b + got, cap - got, total) != 0) {
            free(b);
            return -1;
        }
        got = cap;
        if (got == n)
            break;
        cap = n - got < got ? n : 2 * got;
        uint8_t *grown = realloc(b, cap);
        if (!grown)
            free(b);
        b = grown;
    }
    if (idx_end(f) != 0) {
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
    idx_close(&f);
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
    idx_close(&f);
    if (rc != 0)
        return -1;
    *n = (int)count;
    return 0;
}

/* ---- item by item (io/idx.h) ------------------------------------------------------ */

struct aec_idx_reader {
    idx_file f;
    char *path;         /* f's, kept for messages after the caller's copy is gone */
    size_t item;        /* bytes per item: rows * cols, or 1 for a label */
    int left;           /* items not read yet */
};

aec_idx_reader *aec_idx_open(const char *path, int images, int *n, int *rows, int *cols)
{
    uint32_t dims[3] = { 0, 1, 1 };
    aec_idx_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        aec_error("%s: out of memory", path);
        free(r);
        return NULL;
    }
    if (idx_open(&r->f, r->path, images ? IDX_IMAGES : IDX_LABELS, images ? 3 : 1, dims) != 0) {
        free(r->path);
        free(r);
        return NULL;
    }
    r->item = (size_t)dims[1] * dims[2];
    r->left = (int)dims[0];
    *n = (int)dims[0];
    if (rows)
        *rows = (int)dims[1];
    if (cols)
        *cols = (int)dims[2];
    return r;
}

int aec_idx_next(aec_idx_reader *r, uint8_t *out, int count)
{
    size_t total = r->f.pos + (size_t)r->left * r->item;
    if (count > r->left) {
        aec_error("%s: asked for %d items, %d are left", r->f.path, count, r->left);
        return -1;
    }
    if (idx_read(&r->f, out, (size_t)count * r->item, total) != 0)
        return -1;
    r->left -= count;
    return r->left == 0 ? idx_end(&r->f) : 0;
}

void aec_idx_close(aec_idx_reader *r)
{
    if (!r)
        return;
    idx_close(&r->f);
    free(r->path);
    free(r);
}
