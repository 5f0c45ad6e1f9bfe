/* fuzz_idx.c: libFuzzer target for the IDX reader (runtime/idx.c). Each
 * input is read as it is (a raw IDX file, or a gzip stream if it has the
 * gzip magic, damaged or not), and then once more gzipped here, so that the
 * fuzzer's IDX bytes also reach the reader through an intact gzip stream. */
#include <zlib.h>
#include "aec.h"
#include "fuzz.h"

static void read_both(const char *path)
{
    aec_idx_images im;
    uint8_t *labels;
    int n;
    if (aec_idx_read_images(path, &im) == 0) {
        if (im.n < 1 || im.rows < 1 || im.cols < 1)
            abort();
        volatile uint8_t last = im.pixels[(size_t)im.n * im.rows * im.cols - 1];
        (void)last;
        free(im.pixels);
    }
    if (aec_idx_read_labels(path, &labels, &n) == 0) {
        if (n < 1)
            abort();
        volatile uint8_t last = labels[n - 1];
        (void)last;
        free(labels);
    }
}

/* data as a gzip stream (deflate with the gzip wrapper), or NULL. */
static uint8_t *gzip(const uint8_t *data, size_t size, size_t *out)
{
    z_stream z = { 0 };
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, size) + 32;
    uint8_t *b = malloc(cap);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)size;
    z.next_out = b;
    z.avail_out = (uInt)cap;
    int rc = b ? deflate(&z, Z_FINISH) : Z_MEM_ERROR;
    *out = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(b);
        return NULL;
    }
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_both(fuzz_file(data, size, "idx"));
    size_t n;
    uint8_t *gz = gzip(data, size, &n);
    if (gz) {
        read_both(fuzz_file(gz, n, "idx"));
        free(gz);
    }
    return 0;
}
