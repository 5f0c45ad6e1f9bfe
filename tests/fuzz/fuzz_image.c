/* fuzz_image.c: libFuzzer target for the JPEG and PNG decoding of image-folder
 * data sets (runtime/images.c): aec_image_decode to RGB, then to grey, each
 * fitted (centre crop, area resize) as aec_images_load does, to a smaller and
 * a larger size than most inputs. A mutated PNG nearly always fails libpng's
 * chunk CRC before reaching our code, so the CRCs are recomputed here first:
 * the fuzzer then explores the chunks themselves. */
#include <zlib.h>
#include "aec.h"
#include "data/images.h"
#include "fuzz.h"

/* Rewrite each complete chunk's CRC (over type and data) after the signature. */
static void png_fix_crcs(uint8_t *b, size_t n)
{
    static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    if (n < 8 || memcmp(b, sig, 8) != 0)
        return;
    for (size_t p = 8; n - p >= 12;) {
        uint32_t len = (uint32_t)b[p] << 24 | (uint32_t)b[p + 1] << 16 | (uint32_t)b[p + 2] << 8 | b[p + 3];
        if (len > n - p - 12)
            return;
        uLong crc = crc32(0L, b + p + 4, (uInt)len + 4);
        uint8_t *c = b + p + 8 + len;
        c[0] = (uint8_t)(crc >> 24), c[1] = (uint8_t)(crc >> 16), c[2] = (uint8_t)(crc >> 8), c[3] = (uint8_t)crc;
        p += 12 + (size_t)len;
    }
}

static void decode_fit(const char *path, int C)
{
    static uint8_t small[3 * 7 * 5], large[3 * 40 * 40];
    uint8_t *pix;
    int h, w;
    if (aec_image_decode(path, C, &pix, &h, &w) != 0)
        return;
    if (h < 1 || w < 1 || !pix)
        abort();
    aec_image_fit(pix, h, w, C, small, 7, 5);
    aec_image_fit(pix, h, w, C, large, 40, 40);
    free(pix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file_fixed(data, size, "img", png_fix_crcs);
    if (!path)
        return 0;
    decode_fit(path, 3);
    decode_fit(path, 1);
    return 0;
}
