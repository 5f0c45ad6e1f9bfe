/* fuzz_safetensors.c: libFuzzer target for the safetensors reader
 * (runtime/safetensors.c), as checkpoints are read by --resume and --params:
 *   - aec_safetensors_read; every tensor found again by aec_tensor_file_find
 *     and every float it claims read;
 *   - the metadata's fields through aec_meta_get (train.c's resume reads
 *     epoch, step and seed that way);
 *   - a round trip: what the reader returned, written back with
 *     aec_safetensors_write and read again, must come back the same;
 *   - aec_load_params for a small model whose tensors the seeds hold.
 * Files aec writes carry a CRC-32 of themselves (see safetensors.c), which
 * a mutation nearly always breaks; for inputs of even size it is recomputed
 * here first, so that the fuzzer gets past it to the header (odd sizes keep
 * whatever sum they have, which exercises the check itself). */
#include <zlib.h>
#include "aec.h"
#include "io/json.h"
#include "fuzz.h"

static const aec_param params[] = {
    { "enc.weight", 2, { 3, 2, 0, 0 }, 0, 6, 2 },
    { "enc.bias", 1, { 3, 0, 0, 0 }, 6, 3, 2 },
};
static const aec_model model = { .name = "fuzz", .n_params = 9, .n_tensors = 2, .params = params };

static void fix_crc(uint8_t *b, size_t n)
{
    static const char prefix[] = "{\"__metadata__\":{\"crc32\":\"";
    const size_t at = 8 + sizeof prefix - 1;
    char hex[9];
    if (n % 2 || n < at + 8 || memcmp(b + 8, prefix, sizeof prefix - 1) != 0)
        return;
    memcpy(b + at, "00000000", 8);
    snprintf(hex, sizeof hex, "%08lx", (unsigned long)crc32(0L, b, (uInt)n));
    memcpy(b + at, hex, 8);
}

static size_t numel(const aec_tensor_file *f, int i)
{
    size_t n = 1;
    for (int d = 0; d < f->ndim[i]; d++)
        n *= (size_t)f->shape[i][d];
    return n;
}

/* "{}" with any white space inside means no metadata, as NULL does. */
static int no_meta(const char *s)
{
    if (!s)
        return 1;
    s += strspn(s, " \t\r\n");
    if (*s++ != '{')
        return 0;
    s += strspn(s, " \t\r\n");
    return s[0] == '}' && s[1 + strspn(s + 1, " \t\r\n")] == '\0';
}

static void same_or_abort(const aec_tensor_file *a, const aec_tensor_file *b)
{
    if (a->n != b->n)
        abort();
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->names[i], b->names[i]) || a->ndim[i] != b->ndim[i]
            || memcmp(a->shape[i], b->shape[i], sizeof a->shape[i])
            || memcmp(a->data[i], b->data[i], numel(a, i) * sizeof(float)))
            abort();
    if (no_meta(a->metadata_json) != no_meta(b->metadata_json)
        || (!no_meta(a->metadata_json) && strcmp(a->metadata_json, b->metadata_json)))
        abort();
}

static void round_trip(const aec_tensor_file *f)
{
    aec_tensor *t = calloc((size_t)f->n + 1, sizeof *t);
    aec_tensor_file g;
    if (!t)
        return;
    for (int i = 0; i < f->n; i++) {
        t[i] = (aec_tensor){ f->names[i], f->ndim[i], { 0 }, f->data[i] };
        memcpy(t[i].shape, f->shape[i], sizeof t[i].shape);
    }
    const char *out = fuzz_second();
    if (aec_safetensors_write(out, t, f->n, f->metadata_json) != 0) {
        /* The one thing the reader takes and the writer refuses: a tensor named "". */
        int unnamed = 0;
        for (int i = 0; i < f->n; i++)
            unnamed |= f->names[i][0] == '\0';
        if (!unnamed)
            abort();
    } else if (aec_safetensors_read(out, &g) != 0) {
        abort();
    } else {
        same_or_abort(f, &g);
        aec_tensor_file_free(&g);
    }
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file_fixed(data, size, "st", fix_crc);
    if (!path)
        return 0;
    aec_tensor_file f;
    float p[9];
    char v[64];
    if (aec_safetensors_read(path, &f) != 0)
        return 0;
    for (int i = 0; i < f.n; i++) {
        const float *x = aec_tensor_file_find(&f, f.names[i], numel(&f, i));
        if (x != f.data[i])
            abort();    /* find must return the tensor of that name */
        volatile float sum = 0;
        for (size_t k = 0; k < numel(&f, i); k++)
            sum += x[k];    /* every float it claims is there must be readable */
        (void)sum;
    }
    static const char *const keys[] = { "epoch", "step", "seed", "crc32", "format", "" };
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
        aec_meta_get(f.metadata_json, keys[k], v, sizeof v);
    round_trip(&f);
    aec_tensor_file_free(&f);
    aec_load_params(path, &model, p);
    return 0;
}
