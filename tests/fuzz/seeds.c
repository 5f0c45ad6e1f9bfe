/* seeds.c: small valid inputs for the loader fuzz targets, written with the
 * runtime's own writers where it has one (safetensors, .npy, the PNG grid)
 * and with libpng, libjpeg and zlib for the variants it never writes (other
 * PNG colour types and depths, interlacing, JPEG, gzipped IDX).
 *   seeds DIR      writes DIR/fuzz_safetensors/..., DIR/fuzz_npy/..., ... */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jpeglib.h>
#include <png.h>
#include <zlib.h>
#include "aec.h"

static char dir[4096];

static const char *at(const char *target, const char *name)
{
    static char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, target);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", dir, target, name);
    return path;
}

static void must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "seeds: cannot write %s\n", what);
        exit(1);
    }
}

static void put(const char *path, const void *b, size_t n, int gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb9");
        must(g && gzwrite(g, b, (unsigned)n) == (int)n && gzclose(g) == Z_OK, path);
        return;
    }
    FILE *f = fopen(path, "wb");
    must(f && fwrite(b, 1, n, f) == n && fclose(f) == 0, path);
}

static void safetensors(void)
{
    static const float w[6] = { 0.5f, -1, 2, 0.25f, -0.125f, 3 }, b[3] = { 1, 2, 3 };
    aec_tensor t[] = {
        { "enc.weight", 2, { 3, 2 }, w },
        { "enc.bias", 1, { 3 }, b },
    };
    must(aec_safetensors_write(at("fuzz_safetensors", "model.safetensors"), t, 2,
                               "{\"epoch\":\"1\",\"format\":\"pt\"}") == 0, "model.safetensors");
    aec_tensor odd[] = {
        { "conv\"1\\.w\n", 4, { 1, 1, 2, 3 }, w },
        { "empty", 1, { 0 }, NULL },
    };
    must(aec_safetensors_write(at("fuzz_safetensors", "odd.safetensors"), odd, 2, NULL) == 0,
         "odd.safetensors");
    static const char esc[] = "{\"__metadata__\":{\"a\\u00e9\\ud83d\\ude00\":\"\\t\"},"
                              "\"x\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}";
    uint8_t buf[256] = { sizeof esc - 1 };
    memcpy(buf + 8, esc, sizeof esc - 1);
    put(at("fuzz_safetensors", "escapes.safetensors"), buf, 8 + sizeof esc - 1 + 4, 0);
}

static void npy(void)
{
    static const float x[6] = { 1, 2, 3, 4, 5, 6 };
    static const uint8_t u[12] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255 };
    static const int64_t l[3] = { 7, 8, 9 };
    must(aec_npy_write_f32(at("fuzz_npy", "f32_2d.npy"), x, 2, (int64_t[]){ 2, 3 }) == 0, "npy");
    must(aec_npy_write_f32(at("fuzz_npy", "f32_1d.npy"), x, 1, (int64_t[]){ 6 }) == 0, "npy");
    must(aec_npy_write_u8(at("fuzz_npy", "u8_4d.npy"), u, 4, (int64_t[]){ 1, 3, 2, 2 }) == 0, "npy");
    must(aec_npy_write_i64(at("fuzz_npy", "i64.npy"), l, 3) == 0, "npy");
    /* version 2.0: a 4-byte header length, and the other spellings numpy accepts */
    static const char d[] = "{\"descr\": \"<u1\", \"shape\": (2,), \"fortran_order\": False}\n";
    uint8_t b[128] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, sizeof d - 1 };
    memcpy(b + 12, d, sizeof d - 1);
    put(at("fuzz_npy", "v2.npy"), b, 12 + sizeof d - 1 + 2, 0);
}

static void be32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24), b[1] = (uint8_t)(v >> 16), b[2] = (uint8_t)(v >> 8), b[3] = (uint8_t)v;
}

static void idx(void)
{
    uint8_t im[16 + 2 * 3 * 4], lab[8 + 2];
    be32(im, 0x803), be32(im + 4, 2), be32(im + 8, 3), be32(im + 12, 4);
    for (int i = 0; i < 24; i++)
        im[16 + i] = (uint8_t)(11 * i);
    be32(lab, 0x801), be32(lab + 4, 2);
    lab[8] = 3, lab[9] = 9;
    put(at("fuzz_idx", "images-idx3-ubyte"), im, sizeof im, 0);
    put(at("fuzz_idx", "images-idx3-ubyte.gz"), im, sizeof im, 1);
    put(at("fuzz_idx", "labels-idx1-ubyte"), lab, sizeof lab, 0);
    put(at("fuzz_idx", "labels-idx1-ubyte.gz"), lab, sizeof lab, 1);
}

/* A W x H PNG of the given colour type and depth, made of a gradient. */
static void png(const char *name, int W, int H, int color, int depth, int interlace)
{
    const char *path = at("fuzz_image", name);
    FILE *f = fopen(path, "wb");
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    must(f && info && !setjmp(png_jmpbuf(p)), path);
    png_init_io(p, f);
    png_set_IHDR(p, info, W, H, depth, color, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = { { 0, 0, 0 }, { 255, 0, 0 }, { 0, 255, 0 }, { 0, 0, 255 } };
        png_byte trns[2] = { 0, 128 };
        png_set_PLTE(p, info, pal, 4);
        png_set_tRNS(p, info, trns, 2, NULL);
    }
    png_write_info(p, info);
    size_t rb = png_get_rowbytes(p, info);
    png_bytep row = malloc(rb);
    int passes = png_set_interlace_handling(p);
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < H; y++) {
            for (size_t k = 0; k < rb; k++)
                row[k] = (png_byte)(23 * k + 41 * y);   /* any byte is 4 valid 2-bit indices */
            png_write_row(p, row);
        }
    png_write_end(p, info);
    png_destroy_write_struct(&p, &info);
    free(row);
    must(fclose(f) == 0, path);
}

static void jpeg(const char *name, int W, int H, int C, int progressive)
{
    const char *path = at("fuzz_image", name);
    struct jpeg_compress_struct j;
    struct jpeg_error_mgr err;
    FILE *f = fopen(path, "wb");
    must(f != NULL, path);
    j.err = jpeg_std_error(&err);
    jpeg_create_compress(&j);
    jpeg_stdio_dest(&j, f);
    j.image_width = (JDIMENSION)W;
    j.image_height = (JDIMENSION)H;
    j.input_components = C;
    j.in_color_space = C == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&j);
    jpeg_set_quality(&j, 75, TRUE);
    if (progressive)
        jpeg_simple_progression(&j);
    jpeg_start_compress(&j, TRUE);
    JSAMPLE *row = malloc((size_t)W * C);
    while (j.next_scanline < j.image_height) {
        for (int k = 0; k < W * C; k++)
            row[k] = (JSAMPLE)(13 * k + 29 * (int)j.next_scanline);
        jpeg_write_scanlines(&j, &row, 1);
    }
    jpeg_finish_compress(&j);
    jpeg_destroy_compress(&j);
    free(row);
    must(fclose(f) == 0, path);
}

static void images(void)
{
    float x[2 * 3 * 4 * 5];
    for (int i = 0; i < 2 * 3 * 4 * 5; i++)
        x[i] = (float)(i % 7) / 6.0f;
    must(aec_png_write_grid(at("fuzz_image", "grid_rgb.png"), x, 2, 2, 3, 4, 5, 0, 1) == 0, "grid");
    must(aec_png_write_grid(at("fuzz_image", "grid_grey.png"), x, 3, 2, 1, 5, 4, 0, 1) == 0, "grid");
    png("grey1.png", 9, 5, PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE);
    png("grey16_alpha.png", 4, 6, PNG_COLOR_TYPE_GRAY_ALPHA, 16, PNG_INTERLACE_NONE);
    png("rgba16_interlaced.png", 7, 7, PNG_COLOR_TYPE_RGB_ALPHA, 16, PNG_INTERLACE_ADAM7);
    png("palette2_trns.png", 6, 3, PNG_COLOR_TYPE_PALETTE, 2, PNG_INTERLACE_NONE);
    png("rgb8_interlaced.png", 10, 3, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_ADAM7);
    jpeg("rgb.jpg", 12, 9, 3, 0);
    jpeg("grey.jpg", 8, 17, 1, 0);
    jpeg("rgb_progressive.jpg", 16, 16, 3, 1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seeds DIR\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "%s", argv[1]);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        perror(dir);
        return 1;
    }
    safetensors();
    npy();
    idx();
    images();
    return 0;
}
