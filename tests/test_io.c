/* test_io.c: the runtime's file formats and data sets (error.c, safetensors.c,
 * npy.c, idx.c, png.c, dataset.c).
 *
 * Each format gets a round trip, a check of the exact bytes we write where a
 * format fixes them, and failure paths: a truncated, garbage or missing file
 * must give -1 and a message, never a crash. Run it under valgrind to make
 * the "never a crash" part mean "never an invalid read" too.
 * Every file lives in one temporary directory, removed at the end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <png.h>
#include <zlib.h>

#include "aec.h"
#include "data/dataset.h"
#include "util.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

/* ---- helpers: files in the temporary directory (more in util.c) ---------------- */

static int setup(void **state UNUSED)
{
    return tmpdir_setup("/tmp/aec_test_io.XXXXXX");
}

static void write_gz(const char *path, const void *b, size_t n)
{
    gzFile gz = gzopen(path, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, b, (unsigned)n), (int)n);
    assert_int_equal(gzclose(gz), Z_OK);
}

/* ---- helpers: stderr (capture_begin and capture_end are in util.c) -------------- */

static void quiet_end(void)
{
    free(capture_end());
}

/* ---- helpers: data -------------------------------------------------------------- */

static uint32_t rng_state = 12345;

static float frand(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) / 16777216.0f * 2.0f - 1.0f;
}

static void fill(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = frand();
}

static void put_be32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

/* ---- error.c -------------------------------------------------------------------- */

static void test_error_format(void **state UNUSED)
{
    capture_begin();
    aec_error("%s: %d things", "file.x", 42);
    char *s = capture_end();
    assert_string_equal(s, "aec: file.x: 42 things\n");
    free(s);
}

/* ---- safetensors ------------------------------------------------------------------ */

/* A file with the given header text (length prefix added) and n zero bytes of data. */
static void st_file(const char *path, const char *header, size_t n)
{
    size_t h = strlen(header);
    uint8_t *b = calloc(1, 8 + h + n);
    assert_non_null(b);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    write_bytes(path, b, 8 + h + n);
    free(b);
}

static void test_st_roundtrip(void **state UNUSED)
{
    float a[6], b[4], c[4];
    fill(a, 6), fill(b, 4), fill(c, 4);
    aec_tensor t[3] = {
        { "enc.weight", 2, { 2, 3 }, a },
        { "enc.bias", 1, { 4 }, b },
        { "conv.weight", 4, { 1, 1, 2, 2 }, c },
    };
    const char *meta = "{\"format\":\"pt\",\"note\":\"a \\\"quoted\\\" value\"}";
    const char *path = tp("rt.safetensors");
    assert_int_equal(aec_safetensors_write(path, t, 3, meta), 0);
    assert_false(exists(tp("rt.safetensors.tmp")));

    aec_tensor_file f;
    assert_int_equal(aec_safetensors_read(path, &f), 0);
    assert_int_equal(f.n, 3);
    assert_string_equal(f.metadata_json, meta);
    for (int i = 0; i < 3; i++) {
        size_t numel = 1;
        assert_string_equal(f.names[i], t[i].name);
        assert_int_equal(f.ndim[i], t[i].ndim);
        for (int d = 0; d < t[i].ndim; d++) {
            assert_int_equal(f.shape[i][d], t[i].shape[d]);
            numel *= (size_t)t[i].shape[d];
        }
        assert_memory_equal(f.data[i], t[i].data, numel * sizeof(float));
    }
    aec_tensor_file_free(&f);
    assert_null(f.names);
}

/* The on-disk layout: length, header padded to 8, then the data in order. */
static void test_st_exact_bytes(void **state UNUSED)
{
    float w[2] = { 1.5f, -2.0f }, v[1] = { 3.0f };
    aec_tensor t[2] = { { "w", 1, { 2 }, w }, { "v", 1, { 1 }, v } };
    const char *want = "{\"__metadata__\":{\"crc32\":\"00000000\"},"
                       "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
    const size_t at = 8 + strlen("{\"__metadata__\":{\"crc32\":\"");
    size_t n, hl = strlen(want);
    assert_int_equal(aec_safetensors_write(tp("exact.safetensors"), t, 2, NULL), 0);
    uint8_t *b = read_bytes(tp("exact.safetensors"), &n);
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--)
        h = h << 8 | b[i];
    assert_int_equal(h % 8, 0);
    assert_true(h >= hl && h < hl + 8);
    assert_int_equal(n, 8 + h + 12);
    /* the sum: zlib's CRC-32 of the whole file with its own digits as '0's */
    char stored[9];
    memcpy(stored, b + at, 8);
    stored[8] = '\0';
    memcpy(b + at, "00000000", 8);
    char sum[9];
    snprintf(sum, sizeof sum, "%08lx", crc32(0L, b, (uInt)n));
    assert_string_equal(stored, sum);
    assert_memory_equal(b + 8, want, hl);
    for (size_t i = hl; i < h; i++)
        assert_int_equal(b[8 + i], ' ');
    assert_memory_equal(b + 8 + h, w, 8);
    assert_memory_equal(b + 8 + h + 8, v, 4);
    free(b);
}

/* Files from elsewhere list tensors in any order, with whitespace and escapes. */
static void test_st_any_order(void **state UNUSED)
{
    const char *header = "{ \"b\" : {\"data_offsets\": [8, 16], \"shape\": [2], \"dtype\": \"F32\"},\n"
                         "  \"caf\\u00e9\\ud83d\\ude00\": {\"dtype\":\"F32\",\"shape\":[1,2],"
                         "\"data_offsets\":[0,8]},\n  \"__metadata__\": {} }   ";
    float data[4] = { 1, 2, 3, 4 };
    size_t h = strlen(header);
    uint8_t *b = calloc(1, 8 + h + sizeof data);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    memcpy(b + 8 + h, data, sizeof data);
    write_bytes(tp("order.safetensors"), b, 8 + h + sizeof data);
    free(b);

    aec_tensor_file f;
    assert_int_equal(aec_safetensors_read(tp("order.safetensors"), &f), 0);
    assert_int_equal(f.n, 2);
    assert_string_equal(f.names[0], "b");
    assert_string_equal(f.names[1], "caf\xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(f.ndim[1], 2);
    assert_int_equal(f.shape[1][1], 2);
    assert_float_equal(f.data[0][0], 3.0f, 0.0f);
    assert_float_equal(f.data[1][1], 2.0f, 0.0f);
    assert_string_equal(f.metadata_json, "{}");
    aec_tensor_file_free(&f);
}

static void test_st_find(void **state UNUSED)
{
    float a[6] = { 0, 1, 2, 3, 4, 5 };
    aec_tensor t[1] = { { "a", 2, { 2, 3 }, a } };
    aec_tensor_file f;
    assert_int_equal(aec_safetensors_write(tp("find.safetensors"), t, 1, NULL), 0);
    assert_int_equal(aec_safetensors_read(tp("find.safetensors"), &f), 0);
    assert_null(f.metadata_json);
    const float *x = aec_tensor_file_find(&f, "a", 6);
    assert_non_null(x);
    assert_float_equal(x[5], 5.0f, 0.0f);
    assert_null(aec_tensor_file_find(&f, "a", 5));
    assert_null(aec_tensor_file_find(&f, "b", 6));
    aec_tensor_file_free(&f);
}

#define ST_A "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"

static const struct {
    const char *header;
    size_t data;
} st_bad[] = {
    { "", 0 },
    { "[]", 0 },
    { "{", 0 },
    { "{\"a\"}", 0 },
    { "{\"a\":}", 0 },
    { "{\"a\":1}", 0 },
    { "{" ST_A, 8 },
    { "{" ST_A "," ST_A "}", 8 },
    { "{" ST_A "} x", 8 },
    { "{" ST_A ",}", 8 },
    { "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4 },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", 8 },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8 },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8 },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8 },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8 },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8 },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8 },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,2],\"data_offsets\":[0,8]}}", 8 },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8 },
    { "{\"a\":{}}", 8 },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8 },
    { "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8 },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,8]}}", 8 },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 8 },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551615]}}", 8 },
    { "{\"a\\q\":{}}", 0 },
    { "{\"\\ud800\":{}}", 0 },
    { "{\"\\u00\":{}}", 0 },
    { "{\"a\x01\":{}}", 0 },
    { "{\"a", 0 },
    { "{\"a\\", 0 },
    { "{\"__metadata__\":{\"k\":1}}", 0 },
    { "{\"__metadata__\":{\"k\":\"v\"},\"__metadata__\":{}}", 0 },
    { "{\"__metadata__\":[]}", 0 },
};

/* A header of n one-float tensors t0, t1, ... holding 0, 1, ... */
static void st_many_file(const char *path, int n)
{
    size_t cap = (size_t)n * 80 + 16, k = 0;
    char *h = malloc(cap);
    assert_non_null(h);
    k += (size_t)sprintf(h + k, "{");
    for (int i = 0; i < n; i++)
        k += (size_t)sprintf(h + k, "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[1],"
                             "\"data_offsets\":[%d,%d]}", i ? "," : "", i, 4 * i, 4 * i + 4);
    sprintf(h + k, "}");
    st_file(path, h, (size_t)n * 4);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 8 + (long)strlen(h), SEEK_SET), 0);
    for (int i = 0; i < n; i++) {
        float v = (float)i;
        assert_int_equal(fwrite(&v, 4, 1, fp), 1);
    }
    fclose(fp);
    free(h);
}

/* Item 14 of issue 20: 100k tensors took 24 s (a linear search per name).
 * Too many are refused; 20k load (and are found by name). */
static void test_st_many_tensors(void **state UNUSED)
{
    aec_tensor_file f;
    const char *path = tp("many.safetensors");
    st_many_file(path, 100000);
    capture_begin();
    assert_int_equal(aec_safetensors_read(path, &f), -1);
    char *msg = capture_end();
    if (!strstr(msg, "many.safetensors: the header lists more than 65536 tensors"))
        fail_msg("message: %s", msg);
    free(msg);

    st_many_file(path, 20000);
    assert_int_equal(aec_safetensors_read(path, &f), 0);
    assert_int_equal(f.n, 20000);
    for (int i = 0; i < 20000; i += 997) {
        char name[16];
        snprintf(name, sizeof name, "t%d", i);
        const float *x = aec_tensor_file_find(&f, name, 1);
        assert_non_null(x);
        assert_float_equal(x[0], (float)i, 0.0f);
    }
    assert_null(aec_tensor_file_find(&f, "t20000", 1));
    aec_tensor_file_free(&f);
}

#define ST_F32(name, n, b, e) "\"" name "\":{\"dtype\":\"F32\",\"shape\":[" #n "],\"data_offsets\":[" #b "," #e "]}"

/* Item 10 of issue 20: data_offsets must tile the data exactly, as the
 * safetensors format requires: an overlap let one tensor read another's
 * bytes, and gaps and trailing bytes were accepted. */
static void test_st_layout(void **state UNUSED)
{
    static const struct {
        const char *header;
        size_t data;
        const char *want;
    } c[] = {
        { "{" ST_F32("a", 2, 0, 8) "," ST_F32("b", 2, 4, 12) "}", 12,
          "tensors 'a' [0,8] and 'b' [4,12] overlap" },
        { "{" ST_F32("b", 2, 0, 8) "," ST_F32("a", 2, 0, 8) "}", 8,
          "tensors 'b' [0,8] and 'a' [0,8] overlap" },
        { "{" ST_F32("a", 1, 0, 4) "," ST_F32("b", 1, 8, 12) "}", 12,
          "4 bytes between tensors 'a' (ending at 4) and 'b' (starting at 8) belong to no tensor" },
        { "{" ST_F32("a", 1, 4, 8) "}", 8,
          "the data starts with 4 bytes that belong to no tensor (the first, 'a', starts at 4)" },
        { "{" ST_F32("a", 2, 0, 8) "}", 11,
          "3 trailing bytes after the last tensor 'a' (the data has 11 bytes)" },
        { "{}", 5, "5 trailing bytes after the last tensor (the data has 5 bytes)" },
    };
    aec_tensor_file f;
    char path[512];
    snprintf(path, sizeof path, "%s", tp("layout.safetensors"));   /* tp's buffer is reused */
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        st_file(path, c[i].header, c[i].data);
        capture_begin();
        int rc = aec_safetensors_read(path, &f);
        char *msg = capture_end();
        if (rc != -1 || !strstr(msg, "layout.safetensors: ") || !strstr(msg, c[i].want))
            fail_msg("case %zu: rc %d, message '%s'", i, rc, msg);
        free(msg);
    }
    /* empty tensors may share an offset; the rest still tile the data */
    st_file(path, "{" ST_F32("z", 0, 4, 4) "," ST_F32("a", 1, 0, 4) "," ST_F32("y", 0, 4, 4)
                  "," ST_F32("b", 1, 4, 8) "}", 8);
    assert_int_equal(aec_safetensors_read(path, &f), 0);
    assert_int_equal(f.n, 4);
    aec_tensor_file_free(&f);
}

static void test_st_rejects_bad_headers(void **state UNUSED)
{
    aec_tensor_file f;
    for (size_t i = 0; i < sizeof st_bad / sizeof st_bad[0]; i++) {
        st_file(tp("bad.safetensors"), st_bad[i].header, st_bad[i].data);
        capture_begin();
        int rc = aec_safetensors_read(tp("bad.safetensors"), &f);
        char *msg = capture_end();
        if (rc != -1 || !strstr(msg, "bad.safetensors"))
            fail_msg("case %zu (%s): rc %d, message '%s'", i, st_bad[i].header, rc, msg);
        assert_int_equal(f.n, 0);
        free(msg);
    }
}

static void test_st_messages(void **state UNUSED)
{
    aec_tensor_file f;
    const char *path = tp("msg.safetensors");
    st_file(path, "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4);
    capture_begin();
    assert_int_equal(aec_safetensors_read(path, &f), -1);
    char *msg = capture_end();
    assert_non_null(strstr(msg, "tensor 'a' has dtype F16; only F32 is supported"));
    free(msg);

    uint8_t big[16] = { 0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}' };
    write_bytes(path, big, sizeof big);
    capture_begin();
    assert_int_equal(aec_safetensors_read(path, &f), -1);
    msg = capture_end();
    assert_non_null(strstr(msg, "header length 65535 is larger than the file (16 bytes)"));
    free(msg);
}

static void test_st_short_and_missing_files(void **state UNUSED)
{
    aec_tensor_file f;
    write_bytes(tp("empty.safetensors"), "", 0);
    write_bytes(tp("short.safetensors"), "\x02\0\0", 3);
    capture_begin();
    assert_int_equal(aec_safetensors_read(tp("empty.safetensors"), &f), -1);
    assert_int_equal(aec_safetensors_read(tp("short.safetensors"), &f), -1);
    assert_int_equal(aec_safetensors_read(tp("missing.safetensors"), &f), -1);
    assert_int_equal(aec_safetensors_read(tmpdir, &f), -1);
    char *msg = capture_end();
    assert_non_null(strstr(msg, "missing.safetensors: cannot read: No such file or directory"));
    free(msg);
}

/* A small checkpoint at path, x.weight [2, 3] and x.bias [3] of random
 * values with the given metadata; its bytes, n of them (malloc'd). */
static uint8_t *small_checkpoint(const char *path, const char *metadata, size_t *n)
{
    float a[6], b[3];
    fill(a, 6), fill(b, 3);
    aec_tensor t[2] = { { "x.weight", 2, { 2, 3 }, a }, { "x.bias", 1, { 3 }, b } };
    assert_int_equal(aec_safetensors_write(path, t, 2, metadata), 0);
    return read_bytes(path, n);
}

/* Every prefix of a valid file, and every one-byte change to its header,
 * is read without a crash; a prefix is always an error. */
static void test_st_truncations_and_mutations(void **state UNUSED)
{
    const char *cut = tp("cut.safetensors");
    static const uint8_t subst[] = { '"', '{', '}', '[', ']', ',', ':', '0', '9', '\\', 0, 0xff };
    aec_tensor_file f;
    size_t n;
    uint8_t *full = small_checkpoint(tp("fuzz.safetensors"), "{\"k\":\"v\"}", &n);
    capture_begin();
    for (size_t len = 0; len < n; len++) {
        write_bytes(cut, full, len);
        assert_int_equal(aec_safetensors_read(cut, &f), -1);
    }
    size_t h = full[0] | (size_t)full[1] << 8;
    for (size_t i = 8; i < 8 + h; i++) {
        for (size_t k = 0; k < sizeof subst; k++) {
            uint8_t keep = full[i];
            full[i] = subst[k];
            write_bytes(cut, full, n);
            full[i] = keep;
            if (aec_safetensors_read(cut, &f) == 0)
                aec_tensor_file_free(&f);
        }
    }
    quiet_end();
    free(full);
}

/* A checkpoint aec wrote is refused, saying why, after any flipped bit or cut:
 * in the length, the header (a digit of the metadata) or the data. */
static void test_st_checksum_refuses_damage(void **state UNUSED)
{
    const char *path = tp("sum.safetensors"), *bad = tp("sum_bad.safetensors");
    aec_tensor_file f;
    size_t n;
    uint8_t *full = small_checkpoint(path, "{\"epoch\":\"3\"}", &n);
    capture_begin();
    for (size_t i = 0; i < n; i++) {
        full[i] ^= 0x10;
        write_bytes(bad, full, n);
        full[i] ^= 0x10;
        assert_int_equal(aec_safetensors_read(bad, &f), -1);
    }
    write_bytes(bad, full, n - 4);
    assert_int_equal(aec_safetensors_read(bad, &f), -1);
    char *msg = capture_end();
    assert_non_null(strstr(msg, "sum_bad.safetensors: checksum mismatch (stored "));
    assert_non_null(strstr(msg, "the file is corrupt or truncated"));
    free(msg);
    /* the metadata comes back as written, without the sum */
    assert_int_equal(aec_safetensors_read(path, &f), 0);
    assert_string_equal(f.metadata_json, "{\"epoch\":\"3\"}");
    aec_tensor_file_free(&f);
    free(full);
}

static void test_st_write_failures(void **state UNUSED)
{
    float a[2] = { 1, 2 };
    aec_tensor t[2] = { { "a", 1, { 2 }, a }, { "a", 1, { 2 }, a } };
    mkdir(tp("adir"), 0700);
    capture_begin();
    assert_int_equal(aec_safetensors_write(tp("nodir/x.safetensors"), t, 1, NULL), -1);
    assert_int_equal(aec_safetensors_write(tp("adir"), t, 1, NULL), -1);
    assert_int_equal(aec_safetensors_write(tp("dup.safetensors"), t, 2, NULL), -1);
    assert_int_equal(aec_safetensors_write(tp("meta.safetensors"), t, 1, "{\"epoch\":3}"), -1);
    assert_int_equal(aec_safetensors_write(tp("meta.safetensors"), t, 1, "{} x"), -1);
    char *msg = capture_end();
    assert_non_null(strstr(msg, "nodir/x.safetensors.tmp: cannot create: No such file or directory"));
    assert_non_null(strstr(msg, "adir: cannot rename"));
    free(msg);
    assert_false(exists(tp("adir.tmp")));
    assert_false(exists(tp("dup.safetensors")));
    assert_false(exists(tp("meta.safetensors")));
    assert_false(exists(tp("meta.safetensors.tmp")));
}

/* ---- aec_load_params -------------------------------------------------------------- */

static const aec_param tiny_params[] = {
    { "enc.weight", 2, { 3, 4 }, 0, 12, 4 },
    { "enc.bias", 1, { 3 }, 12, 3, 4 },
    { "conv1.weight", 4, { 2, 1, 3, 3 }, 15, 18, 9 },
};

static const aec_model tiny_model = {
    .name = "tiny", .in_c = 1, .in_h = 4, .in_w = 5, .in_lo = -1.0f, .in_hi = 1.0f,
    .n_params = 33, .n_tensors = 3, .params = tiny_params,
};

static void test_load_params(void **state UNUSED)
{
    float w[12], bias[3], conv[18], extra[2] = { 7, 8 }, params[34];
    fill(w, 12), fill(bias, 3), fill(conv, 18);
    aec_tensor t[4] = {
        { "conv1.weight", 4, { 2, 1, 3, 3 }, conv },
        { "unused", 1, { 2 }, extra },
        { "enc.bias", 1, { 3 }, bias },
        { "enc.weight", 2, { 3, 4 }, w },
    };
    /* a tensor the model does not have is refused, by name (issue 20, item 10) */
    assert_int_equal(aec_safetensors_write(tp("params.safetensors"), t, 4, NULL), 0);
    capture_begin();
    assert_int_equal(aec_load_params(tp("params.safetensors"), &tiny_model, params), -1);
    char *msg = capture_end();
    if (!strstr(msg, "params.safetensors: tensor 'unused' is not a parameter of model 'tiny' "
                     "(1 tensors the model does not have)"))
        fail_msg("message: %s", msg);
    free(msg);
    t[1] = t[3];
    assert_int_equal(aec_safetensors_write(tp("params.safetensors"), t, 3, NULL), 0);
    for (int i = 0; i < 34; i++)
        params[i] = -99.0f;
    assert_int_equal(aec_load_params(tp("params.safetensors"), &tiny_model, params), 0);
    assert_memory_equal(params, w, sizeof w);
    assert_memory_equal(params + 12, bias, sizeof bias);
    assert_memory_equal(params + 15, conv, sizeof conv);
    assert_float_equal(params[33], -99.0f, 0.0f);
}

static void test_load_params_errors(void **state UNUSED)
{
    float x[32] = { 0 }, params[33];
    aec_tensor t[2] = {
        { "enc.weight", 2, { 3, 4 }, x },
        { "conv1.weight", 4, { 2, 1, 4, 4 }, x },
    };
    const char *path = tp("wrong.safetensors");
    assert_int_equal(aec_safetensors_write(path, t, 2, NULL), 0);
    capture_begin();
    assert_int_equal(aec_load_params(path, &tiny_model, params), -1);
    assert_int_equal(aec_load_params(tp("nothere.safetensors"), &tiny_model, params), -1);
    char *msg = capture_end(), want[1024];
    snprintf(want, sizeof want,
             "aec: %s: no tensor 'enc.bias'\n"
             "aec: %s: tensor 'conv1.weight' has shape [2,1,4,4], the model expects [2,1,3,3]\n",
             path, path);
    assert_non_null(strstr(msg, want));
    assert_non_null(strstr(msg, "nothere.safetensors"));
    free(msg);
}

/* ---- npy ------------------------------------------------------------------------------ */

static void test_npy_roundtrip(void **state UNUSED)
{
    static const int64_t shapes[3][4] = { { 2, 3 }, { 5 }, { 1, 2, 3, 4 } };
    static const int ndims[3] = { 2, 1, 4 };
    float x[24];
    fill(x, 24);
    for (int k = 0; k < 3; k++) {
        float *y;
        int nd;
        int64_t shape[4];
        size_t numel = 1;
        for (int d = 0; d < ndims[k]; d++)
            numel *= (size_t)shapes[k][d];
        assert_int_equal(aec_npy_write_f32(tp("rt.npy"), x, ndims[k], shapes[k]), 0);
        assert_false(exists(tp("rt.npy.tmp")));
        assert_int_equal(aec_npy_read_f32(tp("rt.npy"), &y, &nd, shape), 0);
        assert_int_equal(nd, ndims[k]);
        assert_memory_equal(shape, shapes[k], sizeof(int64_t) * (size_t)nd);
        assert_memory_equal(y, x, numel * sizeof(float));
        free(y);
    }
}

/* Check magic, version, header length and text (dict, spaces, '\n'), and
 * return the offset of the data. */
static size_t check_npy_header(const uint8_t *b, size_t n, const char *dict)
{
    size_t h = b[8] | (size_t)b[9] << 8, dl = strlen(dict);
    assert_true(n >= 10 + h);
    assert_memory_equal(b, "\x93NUMPY\x01\x00", 8);
    assert_int_equal((10 + h) % 64, 0);
    assert_memory_equal(b + 10, dict, dl);
    for (size_t i = 10 + dl; i < 10 + h - 1; i++)
        assert_int_equal(b[i], ' ');
    assert_int_equal(b[10 + h - 1], '\n');
    return 10 + h;
}

static void test_npy_exact_header(void **state UNUSED)
{
    float x[6] = { 0, 1, 2, 3, 4, 5 };
    int64_t shape[2] = { 2, 3 }, labels[4] = { 9, 0, -1, 1LL << 40 };
    size_t n, off;
    assert_int_equal(aec_npy_write_f32(tp("h.npy"), x, 2, shape), 0);
    uint8_t *b = read_bytes(tp("h.npy"), &n);
    off = check_npy_header(b, n, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
    assert_int_equal(off, 128);
    assert_int_equal(n, off + sizeof x);
    assert_memory_equal(b + off, x, sizeof x);
    free(b);

    assert_int_equal(aec_npy_write_i64(tp("l.npy"), labels, 4), 0);
    b = read_bytes(tp("l.npy"), &n);
    off = check_npy_header(b, n, "{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }");
    assert_int_equal(n, off + sizeof labels);
    assert_memory_equal(b + off, labels, sizeof labels);
    free(b);
}

/* A .npy with the given version and header dict (unpadded) and data bytes. */
static void npy_file(const char *path, int major, const char *dict, const void *data, size_t n)
{
    size_t h = strlen(dict), pre = major == 1 ? 10 : 12;
    uint8_t *b = calloc(1, pre + h + n + 1);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t)major;
    b[8] = (uint8_t)h;
    b[9] = (uint8_t)(h >> 8);
    memcpy(b + pre, dict, h);
    if (n)
        memcpy(b + pre + h, data, n);
    write_bytes(path, b, pre + h + n);
    free(b);
}

/* What numpy may write besides our own form: other key order, version 2.0. */
static void test_npy_reads_variants(void **state UNUSED)
{
    float x[3] = { 1, 2, 3 }, *y;
    int nd;
    int64_t shape[4];
    npy_file(tp("v.npy"), 2, "{\"shape\": (3,),'fortran_order':False,  'descr':'<f4'}  \n", x, 12);
    assert_int_equal(aec_npy_read_f32(tp("v.npy"), &y, &nd, shape), 0);
    assert_int_equal(nd, 1);
    assert_int_equal(shape[0], 3);
    assert_memory_equal(y, x, sizeof x);
    free(y);
}

static void test_npy_rejects(void **state UNUSED)
{
    static const struct { int major; const char *dict; size_t data; const char *msg; } bad[] = {
        { 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16, "dtype '<f8' is not supported" },
        { 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8, "dtype '>f4'" },
        { 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16, "fortran_order is True" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 12, "truncated" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 12, "too long" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1), }", 4, "more than 4" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4, "0-dimensional" },
        { 1, "{'descr': '<f4', 'shape': (1,), }", 4, "needs descr" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4, "unknown key" },
        { 1, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", 4, "True or False" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1 2), }", 4, "expected ','" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 4, "too large" },
        { 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 4, "too large" },
        { 1, "{'descr: '<f4'", 0, "malformed" },
        { 9, "{}", 0, "unsupported .npy version 9.0" },
    };
    float zero[8] = { 0 }, *y = (float *)1;
    int nd;
    int64_t shape[4];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        npy_file(tp("bad.npy"), bad[i].major, bad[i].dict, zero, bad[i].data);
        capture_begin();
        int rc = aec_npy_read_f32(tp("bad.npy"), &y, &nd, shape);
        char *msg = capture_end();
        if (rc != -1 || y || !strstr(msg, bad[i].msg) || !strstr(msg, "bad.npy"))
            fail_msg("case %zu: rc %d, message '%s'", i, rc, msg);
        free(msg);
    }
    write_bytes(tp("garbage.npy"), "PK\3\4 not numpy at all", 22);
    capture_begin();
    assert_int_equal(aec_npy_read_f32(tp("garbage.npy"), &y, &nd, shape), -1);
    assert_int_equal(aec_npy_read_f32(tp("missing.npy"), &y, &nd, shape), -1);
    char *msg = capture_end();
    assert_non_null(strstr(msg, "garbage.npy: not a .npy file (bad magic)"));
    assert_non_null(strstr(msg, "missing.npy: cannot open"));
    free(msg);
}

static void test_npy_truncations(void **state UNUSED)
{
    float x[6], *y;
    int64_t shape[4] = { 3, 2 };
    int nd;
    size_t n;
    fill(x, 6);
    assert_int_equal(aec_npy_write_f32(tp("full.npy"), x, 2, shape), 0);
    uint8_t *b = read_bytes(tp("full.npy"), &n);
    capture_begin();
    for (size_t len = 0; len < n; len++) {
        write_bytes(tp("cut.npy"), b, len);
        assert_int_equal(aec_npy_read_f32(tp("cut.npy"), &y, &nd, shape), -1);
        assert_null(y);
    }
    int64_t neg[1] = { -1 };
    assert_int_equal(aec_npy_write_f32(tp("neg.npy"), x, 1, neg), -1);
    assert_int_equal(aec_npy_write_f32(tp("nodir/x.npy"), x, 2, shape), -1);
    quiet_end();
    assert_false(exists(tp("neg.npy")));
    free(b);
}

/* ---- png -------------------------------------------------------------------------------- */

/* Read a PNG back with libpng; channels is 1 or 3 as stored in the file. */
static uint8_t *png_load(const char *path, int *w, int *h, int *channels)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_file(&img, path));
    assert_true(img.format == PNG_FORMAT_GRAY || img.format == PNG_FORMAT_RGB);
    *channels = img.format == PNG_FORMAT_RGB ? 3 : 1;
    *w = (int)img.width;
    *h = (int)img.height;
    uint8_t *px = malloc(PNG_IMAGE_SIZE(img));
    assert_non_null(px);
    assert_true(png_image_finish_read(&img, NULL, px, 0, NULL));
    return px;
}

/* 5 images of 2x3 in 3 columns: 2 rows, 2-pixel gaps around and between. */
static void test_png_grey_grid(void **state UNUSED)
{
    enum { N = 5, H = 2, W = 3 };
    float x[N * H * W];
    int w, h, c;
    /* v / 8 is exact in binary, so no level sits on a rounding knife-edge
     * except 0.5, which must round up */
    for (int i = 0; i < N * H * W; i++)
        x[i] = -1.0f + 2.0f * (float)(i % 9) / 8.0f;    /* spans [lo, hi] = [-1, 1] */
    assert_int_equal(aec_png_write_grid(tp("g.png"), x, N, 3, 1, H, W, -1.0f, 1.0f), 0);
    assert_false(exists(tp("g.png.tmp")));
    uint8_t *px = png_load(tp("g.png"), &w, &h, &c);
    assert_int_equal(c, 1);
    assert_int_equal(w, 3 * (W + 2) + 2);
    assert_int_equal(h, 2 * (H + 2) + 2);
    for (int i = 0; i < N; i++)
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++) {
                int v = (i * H * W + y * W + xx) % 9;
                int want = (int)(255.0f * (float)v / 8.0f + 0.5f);
                int py = 2 + (i / 3) * (H + 2) + y, pxx = 2 + (i % 3) * (W + 2) + xx;
                assert_int_equal(px[py * w + pxx], want);
            }
    assert_int_equal(px[0], 128);                         /* border */
    assert_int_equal(px[2 * w + 2 + W], 128);             /* gap between tiles */
    assert_int_equal(px[(2 + H) * w + 3], 128);           /* gap between rows */
    assert_int_equal(px[(h - 3) * w + (w - 3)], 128);     /* the empty sixth tile */
    free(px);
}

static void test_png_rgb_and_levels(void **state UNUSED)
{
    /* one 3x1x5 image: R holds the rounding and clamping cases */
    float x[15] = { 0.5f, 1.2f, -0.1f, NAN, 0.998f,
                    0, 0, 0, 0, 0,
                    1, 1, 1, 1, 1 };
    int w, h, c;
    assert_int_equal(aec_png_write_grid(tp("rgb.png"), x, 1, 8, 3, 1, 5, 0.0f, 1.0f), 0);
    uint8_t *px = png_load(tp("rgb.png"), &w, &h, &c);
    assert_int_equal(c, 3);
    assert_int_equal(w, 5 + 4);
    assert_int_equal(h, 1 + 4);
    static const int red[5] = { 128, 255, 0, 0, 254 };
    for (int k = 0; k < 5; k++) {
        const uint8_t *p = px + (2 * w + 2 + k) * 3;
        assert_int_equal(p[0], red[k]);
        assert_int_equal(p[1], 0);
        assert_int_equal(p[2], 255);
    }
    free(px);
}

static void test_png_failures(void **state UNUSED)
{
    float x[8] = { 0 };
    capture_begin();
    assert_int_equal(aec_png_write_grid(tp("c2.png"), x, 1, 1, 2, 2, 2, 0, 1), -1);
    assert_int_equal(aec_png_write_grid(tp("n0.png"), x, 0, 1, 1, 2, 2, 0, 1), -1);
    assert_int_equal(aec_png_write_grid(tp("lohi.png"), x, 1, 1, 1, 2, 2, 1, 1), -1);
    assert_int_equal(aec_png_write_grid(tp("huge.png"), x, 1, 1, 1, 2, 2000000, 0, 1), -1);
    assert_int_equal(aec_png_write_grid(tp("nodir/x.png"), x, 1, 1, 1, 2, 2, 0, 1), -1);
    char *msg = capture_end();
    assert_non_null(strstr(msg, "c2.png: cannot write a grid"));
    free(msg);
    assert_false(exists(tp("c2.png")));
    assert_false(exists(tp("lohi.png")));
}

/* ---- idx -------------------------------------------------------------------------------- */

enum { IN = 3, IR = 4, IC = 5 };

/* An IDX image file of IN images IR x IC (pixel = 17 * index + seed), and
 * a label file; into the buffers, sizes returned. */
static size_t idx_images(uint8_t *b, int seed)
{
    put_be32(b, 0x803);
    put_be32(b + 4, IN);
    put_be32(b + 8, IR);
    put_be32(b + 12, IC);
    for (int i = 0; i < IN * IR * IC; i++)
        b[16 + i] = (uint8_t)(17 * i + seed);
    return 16 + IN * IR * IC;
}

static size_t idx_labels(uint8_t *b, int n)
{
    put_be32(b, 0x801);
    put_be32(b + 4, (uint32_t)n);
    for (int i = 0; i < n; i++)
        b[8 + i] = (uint8_t)((7 + 3 * i) % 10);
    return 8 + (size_t)n;
}

static void check_images(const aec_idx_images *im, int seed)
{
    assert_int_equal(im->n, IN);
    assert_int_equal(im->rows, IR);
    assert_int_equal(im->cols, IC);
    for (int i = 0; i < IN * IR * IC; i++)
        assert_int_equal(im->pixels[i], (uint8_t)(17 * i + seed));
}

static void test_idx_raw_and_gz(void **state UNUSED)
{
    uint8_t b[128], l[16], *lab;
    aec_idx_images im;
    int n;
    size_t ni = idx_images(b, 0), nl = idx_labels(l, IN);
    write_bytes(tp("i.idx"), b, ni);
    write_gz(tp("i.idx.gz"), b, ni);
    write_gz(tp("l.idx.gz"), l, nl);
    assert_int_equal(aec_idx_read_images(tp("i.idx"), &im), 0);
    check_images(&im, 0);
    free(im.pixels);
    assert_int_equal(aec_idx_read_images(tp("i.idx.gz"), &im), 0);
    check_images(&im, 0);
    free(im.pixels);
    assert_int_equal(aec_idx_read_labels(tp("l.idx.gz"), &lab, &n), 0);
    assert_int_equal(n, IN);
    assert_memory_equal(lab, l + 8, IN);
    free(lab);
}

/* Read path as images and as labels; both must fail and mention path. */
static void idx_expect_fail(const char *path, const char *want)
{
    aec_idx_images im;
    uint8_t *lab;
    int n;
    capture_begin();
    int a = aec_idx_read_images(path, &im), b = aec_idx_read_labels(path, &lab, &n);
    char *msg = capture_end();
    if (a != -1 || b != -1 || im.pixels || lab || !strstr(msg, want))
        fail_msg("%s: rc %d %d, message '%s'", path, a, b, msg);
    free(msg);
}

static void test_idx_rejects(void **state UNUSED)
{
    uint8_t b[160] = { 0 }, l[16];
    size_t ni = idx_images(b, 0), nl = idx_labels(l, IN), n;
    write_bytes(tp("short.idx"), b, ni - 7);
    write_gz(tp("short.idx.gz"), b, ni - 7);
    idx_expect_fail(tp("short.idx"), "truncated: expected 76 bytes, found 69");
    idx_expect_fail(tp("short.idx.gz"), "truncated: expected 76 bytes, found 69");
    write_bytes(tp("long.idx"), b, ni + 1);
    idx_expect_fail(tp("long.idx"), "more data than");
    write_bytes(tp("hdr.idx"), b, 10);
    idx_expect_fail(tp("hdr.idx"), "hdr.idx");
    write_bytes(tp("labels.idx"), l, nl);
    write_bytes(tp("images.idx"), b, ni);
    aec_idx_images im;
    uint8_t *lab;
    int nlab;
    capture_begin();
    assert_int_equal(aec_idx_read_images(tp("labels.idx"), &im), -1);
    assert_int_equal(aec_idx_read_labels(tp("images.idx"), &lab, &nlab), -1);
    char *msg = capture_end();
    assert_non_null(strstr(msg, "labels.idx: not an IDX image file (magic 0x00000801, expected 0x00000803)"));
    assert_non_null(strstr(msg, "images.idx: not an IDX label file (magic 0x00000803, expected 0x00000801)"));
    free(msg);
    put_be32(b + 4, 0xFFFFFFFFu);
    write_bytes(tp("huge.idx"), b, ni);
    idx_expect_fail(tp("huge.idx"), "implausible");
    put_be32(b + 4, 0);
    write_bytes(tp("zero.idx"), b, ni);
    idx_expect_fail(tp("zero.idx"), "implausible");
    write_bytes(tp("garbage.idx"), "hello, world, this is not idx", 29);
    idx_expect_fail(tp("garbage.idx"), "not an IDX");
    idx_expect_fail(tp("missing.idx"), "missing.idx: cannot open: No such file");

    /* a gzip stream cut in the middle, and one with its data corrupted */
    idx_images(b, 0);
    write_gz(tp("ok.idx.gz"), b, ni);
    uint8_t *gz = read_bytes(tp("ok.idx.gz"), &n);
    write_bytes(tp("cutgz.idx.gz"), gz, n / 2);
    idx_expect_fail(tp("cutgz.idx.gz"), "cutgz.idx.gz");
    for (size_t i = n / 2; i < n - 8; i++)
        gz[i] ^= 0x5a;
    write_bytes(tp("badgz.idx.gz"), gz, n);
    idx_expect_fail(tp("badgz.idx.gz"), "badgz.idx.gz");
    free(gz);
}

/* aec_idx_read_images(path) fails with exactly the line "aec: PATH: want". */
static void idx_expect_line(const char *path, const char *want)
{
    aec_idx_images im;
    char line[800];
    capture_begin();
    int rc = aec_idx_read_images(path, &im);
    char *msg = capture_end();
    snprintf(line, sizeof line, "aec: %s: %s\n", path, want);
    if (rc != -1 || im.pixels || strcmp(msg, line) != 0)
        fail_msg("rc %d, message '%s', expected '%s'", rc, msg, line);
    free(msg);
}

/* A gzipped IDX file larger than the reader's buffer (128 KiB), of bytes that
 * do not compress, so the stream crosses refills. zlib's gzread takes a gzip
 * file cut inside its 8-byte trailer (the CRC and length of the data) for a
 * whole one; the reader must not. */
static void test_idx_gzip_damage(void **state UNUSED)
{
    enum { N = 300, R = 30, C = 31 };
    size_t ni = 16 + (size_t)N * R * C, n, m;
    uint8_t *b = malloc(ni);
    aec_idx_images im;
    assert_non_null(b);
    put_be32(b, 0x803), put_be32(b + 4, N), put_be32(b + 8, R), put_be32(b + 12, C);
    for (size_t i = 16; i < ni; i++)
        b[i] = (uint8_t)(frand() * 1000.0f);
    write_gz(tp("big.idx.gz"), b, ni);
    uint8_t *gz = read_bytes(tp("big.idx.gz"), &n);
    assert_true(n > (1u << 17));
    assert_int_equal(aec_idx_read_images(tp("big.idx.gz"), &im), 0);
    assert_true(im.n == N && im.rows == R && im.cols == C);
    assert_memory_equal(im.pixels, b + 16, ni - 16);
    free(im.pixels);

    /* cut anywhere in the trailer, or in the data */
    for (size_t cut = 1; cut <= 8; cut++) {
        write_bytes(tp("cut.idx.gz"), gz, n - cut);
        idx_expect_line(tp("cut.idx.gz"), "truncated: the gzip stream stops before its end "
                        "(the data's CRC and length)");
    }
    write_bytes(tp("cut.idx.gz"), gz, n - 100);    /* deflate stores these bytes as they are */
    idx_expect_line(tp("cut.idx.gz"), "truncated: expected 279016 bytes, found 278924");
    /* any bit of the CRC or of the length */
    for (size_t k = 0; k < 8; k++) {
        gz[n - 8 + k] ^= 0x20;
        write_bytes(tp("bad.idx.gz"), gz, n);
        gz[n - 8 + k] ^= 0x20;
        idx_expect_line(tp("bad.idx.gz"), k < 4 ? "corrupt gzip data: incorrect data check"
                                                : "corrupt gzip data: incorrect length check");
    }
    /* the header's compression method, and a byte of the deflate data */
    gz[2] = 7;
    write_bytes(tp("bad.idx.gz"), gz, n);
    gz[2] = 8;
    idx_expect_line(tp("bad.idx.gz"), "corrupt gzip data: unknown compression method");
    gz[n / 2] ^= 0x01;
    write_bytes(tp("bad.idx.gz"), gz, n);
    gz[n / 2] ^= 0x01;
    capture_begin();
    assert_int_equal(aec_idx_read_images(tp("bad.idx.gz"), &im), -1);
    char *msg = capture_end();
    char want[600];
    snprintf(want, sizeof want, "aec: %s: corrupt gzip data: ", tp("bad.idx.gz"));
    assert_non_null(strstr(msg, want));
    free(msg);

    /* several members (as `cat a.gz b.gz` makes), then zeros: read as gzip does */
    write_gz(tp("m1.gz"), b, 1000);
    write_gz(tp("m2.gz"), b + 1000, ni - 1000);
    uint8_t *m1 = read_bytes(tp("m1.gz"), &m), *m2 = read_bytes(tp("m2.gz"), &n);
    uint8_t *cat = calloc(1, m + n + 5);
    assert_non_null(cat);
    memcpy(cat, m1, m);
    memcpy(cat + m, m2, n);
    write_bytes(tp("multi.idx.gz"), cat, m + n + 5);
    assert_int_equal(aec_idx_read_images(tp("multi.idx.gz"), &im), 0);
    assert_memory_equal(im.pixels, b + 16, ni - 16);
    free(im.pixels);
    write_bytes(tp("multi.idx.gz"), cat, m + n - 3);   /* the second member cut */
    idx_expect_line(tp("multi.idx.gz"), "truncated: the gzip stream stops before its end "
                    "(the data's CRC and length)");
    free(cat), free(m1), free(m2), free(gz), free(b);
}

static int have_fmnist(void)
{
    if (access(FMNIST "/train-images-idx3-ubyte.gz", R_OK) == 0)
        return 1;
    print_message("skipping: %s is absent\n", FMNIST);
    return 0;
}

/* A safetensors file with header h (under 256 bytes) and one float of data,
 * its aec checksum (the 8 characters after "crc32":") computed as the writer
 * does, over the whole file with those 8 read as '0's. */
static void st_summed_file(const char *path, const char *h)
{
    size_t hl = strlen(h), n = 8 + hl + 4;
    const size_t at = 8 + strlen("{\"__metadata__\":{\"crc32\":\"");
    uint8_t *b = calloc(1, n);
    char hex[9];
    float one = 1.0f;
    assert_true(b && hl < 256 && hl >= at + 8);
    b[0] = (uint8_t)hl;
    memcpy(b + 8, h, hl);
    memcpy(b + 8 + hl, &one, 4);
    memcpy(b + at, "00000000", 8);
    snprintf(hex, sizeof hex, "%08lx", crc32(0L, b, (uInt)n));
    memcpy(b + at, hex, 8);
    write_bytes(path, b, n);
    free(b);
}

/* The checksum must be the whole string: with more after its 8 digits the
 * file is refused, and white space after it must not leave broken metadata
 * once the sum is taken out (both found by tests/fuzz). */
static void test_st_checksum_string(void **state UNUSED)
{
    const char *x = "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    char h[256];
    aec_tensor_file f;
    snprintf(h, sizeof h, "{\"__metadata__\":{\"crc32\":\"000000001997\",\"epoch\":\"3\"},%s", x);
    st_summed_file(tp("long_sum.safetensors"), h);
    capture_begin();
    assert_int_equal(aec_safetensors_read(tp("long_sum.safetensors"), &f), -1);
    char *msg = capture_end();
    assert_non_null(strstr(msg, "long_sum.safetensors: checksum mismatch"));
    free(msg);
    snprintf(h, sizeof h, "{\"__metadata__\":{\"crc32\":\"00000000\" , \"epoch\":\"3\"},%s", x);
    st_summed_file(tp("spaced_sum.safetensors"), h);
    assert_int_equal(aec_safetensors_read(tp("spaced_sum.safetensors"), &f), 0);
    assert_string_equal(f.metadata_json, "{ \"epoch\":\"3\"}");
    aec_tensor_file_free(&f);
}

/* A 17-byte file whose header claims 2 GiB of pixels is truncated, and the
 * reader must say so without first allocating what the header claims (the
 * fuzzer, tests/fuzz, had it call malloc(2181562368) for such a file). A
 * child with its address space capped 1 GiB above its current size tells
 * the two apart: an up-front allocation fails there as out of memory. */
static void test_idx_huge_header_short_file(void **state UNUSED)
{
    uint8_t b[17] = { 0 };
    put_be32(b, 0x803);
    put_be32(b + 4, 1u << 19);      /* 2^19 x 64 x 64 bytes = 2 GiB */
    put_be32(b + 8, 64);
    put_be32(b + 12, 64);
    write_bytes(tp("huge.idx"), b, sizeof b);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        long pages = 0;
        FILE *statm = fopen("/proc/self/statm", "r");
        int fd = open(tp("huge.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (!statm || fscanf(statm, "%ld", &pages) != 1 || fd < 0 || dup2(fd, 2) < 0)
            _exit(2);
        rlim_t cap = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)1 << 30);
        struct rlimit r = { cap, cap };
        if (setrlimit(RLIMIT_AS, &r) != 0)
            _exit(3);
        aec_idx_images im;
        int rc = aec_idx_read_images(tp("huge.idx"), &im);
        _exit(rc == -1 && !im.pixels ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    size_t n;
    char *msg = (char *)read_bytes(tp("huge.txt"), &n);
    msg[n] = '\0';
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0
        || !strstr(msg, "huge.idx: truncated: expected 2147483664 bytes, found 17"))
        fail_msg("status %d, message '%s'", status, msg);
    free(msg);
}

static void test_idx_fashion_mnist(void **state UNUSED)
{
    aec_idx_images im;
    uint8_t *lab;
    int n;
    long sum = 0;
    if (!have_fmnist())
        skip();
    assert_int_equal(aec_idx_read_images(FMNIST "/train-images-idx3-ubyte.gz", &im), 0);
    assert_int_equal(im.n, 60000);
    assert_int_equal(im.rows, 28);
    assert_int_equal(im.cols, 28);
    for (int i = 0; i < 28 * 28; i++)
        sum += im.pixels[i];
    assert_int_equal(sum, 76247);       /* the first image, as Python's gzip reads it */
    free(im.pixels);
    assert_int_equal(aec_idx_read_labels(FMNIST "/train-labels-idx1-ubyte.gz", &lab, &n), 0);
    assert_int_equal(n, 60000);
    assert_int_equal(lab[0], 9);
    free(lab);
    assert_int_equal(aec_idx_read_labels(FMNIST "/t10k-labels-idx1-ubyte.gz", &lab, &n), 0);
    assert_int_equal(n, 10000);
    assert_int_equal(lab[0], 9);
    free(lab);
}

/* ---- dataset ---------------------------------------------------------------------------- */

/* DIR with train-* raw and t10k-* both gzipped (seed 1) and raw (seed 2). */
static const char *make_dataset_dir(const char *name, int n_labels)
{
    uint8_t b[128], l[16];
    char p[600];
    const char *dir = tp(name);
    size_t ni, nl = idx_labels(l, n_labels);
    mkdir(dir, 0700);
    ni = idx_images(b, 0);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir), write_bytes(p, b, ni);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", dir), write_bytes(p, l, nl);
    ni = idx_images(b, 1);
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte.gz", dir), write_gz(p, b, ni);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte.gz", dir), write_gz(p, l, nl);
    ni = idx_images(b, 2);
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", dir), write_bytes(p, b, ni);
    return dir;
}

static void test_dataset_load(void **state UNUSED)
{
    aec_dataset d;
    const char *dir = make_dataset_dir("ds", IN);
    assert_int_equal(aec_dataset_load(dir, "train", &tiny_model, 0, &d), 0);
    assert_int_equal(d.n, IN);
    assert_int_equal(d.C, 1);
    assert_int_equal(d.H, IR);
    assert_int_equal(d.W, IC);
    for (int i = 0; i < IN * IR * IC; i++) {
        float p = (float)(uint8_t)(17 * i);
        assert_float_equal(d.x[i], -1.0f + 2.0f * p / 255.0f, 1e-6f);
    }
    assert_int_equal(d.labels[0], 7);
    assert_int_equal(d.labels[2], 3);
    aec_dataset_free(&d);
    assert_null(d.x);

    /* the .gz is preferred over the raw file; limit keeps the first images */
    assert_int_equal(aec_dataset_load(dir, "test", &tiny_model, 2, &d), 0);
    assert_int_equal(d.n, 2);
    assert_float_equal(d.x[0], -1.0f + 2.0f * 1.0f / 255.0f, 1e-6f);
    assert_float_equal(d.x[2 * IR * IC - 1], -1.0f + 2.0f * (float)(uint8_t)(17 * 39 + 1) / 255.0f, 1e-6f);
    aec_dataset_free(&d);
}

static void test_dataset_errors(void **state UNUSED)
{
    aec_dataset d;
    aec_model big = tiny_model;
    big.in_c = 3, big.in_h = 64, big.in_w = 64;
    const char *dir = make_dataset_dir("ds", IN), *odd = make_dataset_dir("odd", IN - 1);
    char want[700];
    capture_begin();
    assert_int_equal(aec_dataset_load(dir, "train", &big, 0, &d), -1);
    assert_null(d.x);
    assert_int_equal(aec_dataset_load(odd, "train", &tiny_model, 0, &d), -1);
    assert_int_equal(aec_dataset_load(dir, "valid", &tiny_model, 0, &d), -1);
    assert_int_equal(aec_dataset_load(tp("nodir"), "train", &tiny_model, 0, &d), -1);
    char *msg = capture_end();
    snprintf(want, sizeof want, "%s/train-images-idx3-ubyte: images are 4x5, the model expects 3x64x64", dir);
    assert_non_null(strstr(msg, want));
    snprintf(want, sizeof want, "aec: %s/train-labels-idx1-ubyte: 2 labels, but "
             "%s/train-images-idx3-ubyte has 3 images\n", odd, odd);
    assert_non_null(strstr(msg, want));
    assert_non_null(strstr(msg, "unknown split 'valid'"));
    assert_non_null(strstr(msg, "nodir: neither train-images-idx3-ubyte.gz nor train-images-idx3-ubyte"));
    free(msg);
}

/* Split "test" of dir fails, with and without skip_bad (a split of IDX files
 * is one file: there is nothing to skip), with exactly "aec: FILE: want". */
static void dataset_expect_line(const char *dir, const char *file, const char *want)
{
    char line[1200];
    snprintf(line, sizeof line, "aec: %s/%s: %s\n", dir, file, want);
    for (int skip = 0; skip < 2; skip++) {
        aec_dataset d;
        capture_begin();
        int rc = aec_dataset_load_skip(dir, "test", &tiny_model, 0, skip, &d);
        char *msg = capture_end();
        if (rc != -1 || d.x || strcmp(msg, line) != 0)
            fail_msg("skip_bad %d: rc %d, message '%s', expected '%s'", skip, rc, msg, line);
        free(msg);
    }
}

static void test_dataset_bad_idx(void **state UNUSED)
{
    char *dir = strdup(make_dataset_dir("bad_idx", IN)), path[600], other[700];
    const char *gz_name = "t10k-images-idx3-ubyte.gz";
    uint8_t b[128], *gz;
    size_t ni = idx_images(b, 1), n;
    snprintf(path, sizeof path, "%s/%s", dir, gz_name);
    write_gz(path, b, ni);
    gz = read_bytes(path, &n);
    write_bytes(path, gz, n - 4);
    dataset_expect_line(dir, gz_name, "truncated: the gzip stream stops before its end (the "
                        "data's CRC and length)");
    gz[n - 6] ^= 0x01;
    write_bytes(path, gz, n);
    dataset_expect_line(dir, gz_name, "corrupt gzip data: incorrect data check");
    put_be32(b, 0x801);
    write_gz(path, b, ni);
    dataset_expect_line(dir, gz_name, "not an IDX image file (magic 0x00000801, expected "
                        "0x00000803)");
    put_be32(b, 0x803);
    write_gz(path, b, ni - 1);
    dataset_expect_line(dir, gz_name, "truncated: expected 76 bytes, found 75");
    /* three labels for two images */
    put_be32(b + 4, IN - 1);
    write_gz(path, b, ni - IR * IC);
    snprintf(other, sizeof other, "3 labels, but %s has 2 images", path);
    dataset_expect_line(dir, "t10k-labels-idx1-ubyte.gz", other);
    free(gz), free(dir);
}

static void test_dataset_fashion_mnist(void **state UNUSED)
{
    aec_model m = tiny_model;
    aec_dataset d;
    double sum = 0;
    if (!have_fmnist())
        skip();
    m.in_h = m.in_w = 28, m.in_lo = 0.0f, m.in_hi = 1.0f;
    assert_int_equal(aec_dataset_load(FMNIST, "train", &m, 100, &d), 0);
    assert_int_equal(d.n, 100);
    assert_int_equal(d.labels[0], 9);
    for (int i = 0; i < 28 * 28; i++) {
        assert_true(d.x[i] >= 0.0f && d.x[i] <= 1.0f);
        sum += d.x[i];
    }
    assert_float_equal(sum, 76247.0 / 255.0, 1e-3);
    aec_dataset_free(&d);
    assert_int_equal(aec_dataset_load(FMNIST, "test", &m, 0, &d), 0);
    assert_int_equal(d.n, 10000);
    assert_int_equal(d.labels[0], 9);
    aec_dataset_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_format),
        cmocka_unit_test(test_st_roundtrip),
        cmocka_unit_test(test_st_exact_bytes),
        cmocka_unit_test(test_st_any_order),
        cmocka_unit_test(test_st_find),
        cmocka_unit_test(test_st_many_tensors),
        cmocka_unit_test(test_st_layout),
        cmocka_unit_test(test_st_rejects_bad_headers),
        cmocka_unit_test(test_st_messages),
        cmocka_unit_test(test_st_short_and_missing_files),
        cmocka_unit_test(test_st_truncations_and_mutations),
        cmocka_unit_test(test_st_checksum_refuses_damage),
        cmocka_unit_test(test_st_write_failures),
        cmocka_unit_test(test_load_params),
        cmocka_unit_test(test_load_params_errors),
        cmocka_unit_test(test_npy_roundtrip),
        cmocka_unit_test(test_npy_exact_header),
        cmocka_unit_test(test_npy_reads_variants),
        cmocka_unit_test(test_npy_rejects),
        cmocka_unit_test(test_npy_truncations),
        cmocka_unit_test(test_png_grey_grid),
        cmocka_unit_test(test_png_rgb_and_levels),
        cmocka_unit_test(test_png_failures),
        cmocka_unit_test(test_idx_raw_and_gz),
        cmocka_unit_test(test_idx_rejects),
        cmocka_unit_test(test_idx_gzip_damage),
        cmocka_unit_test(test_idx_huge_header_short_file),
        cmocka_unit_test(test_st_checksum_string),
        cmocka_unit_test(test_idx_fashion_mnist),
        cmocka_unit_test(test_dataset_load),
        cmocka_unit_test(test_dataset_errors),
        cmocka_unit_test(test_dataset_bad_idx),
        cmocka_unit_test(test_dataset_fashion_mnist),
    };
    return cmocka_run_group_tests(tests, setup, tmpdir_teardown);
}
