/* fit.c: an image to the model's C x H x W: its centred square, area-resampled. */
#include "aec.h"
#include "data/images.h"
#include "data/img.h"

#include <stdint.h>
#include <stdlib.h>

/* Area resampling along one axis, from s input pixels to n outputs. Output j
 * covers input [j*s/n, (j+1)*s/n); in units of 1/n of an input pixel that is
 * [j*s, (j+1)*s), and input pixel i is [i*n, (i+1)*n), so every overlap is a
 * whole number, and the overlaps under one output sum to s. Output j reads
 * inputs first[j] .. first[j] + count[j] - 1 with weights wt[j*k + t], at most
 * k = s/n + 2 of them. */
typedef struct {
    int *first, *count;
    uint32_t *wt;
    int k;
} img_axis;

static int img_axis_make(img_axis *a, int s, int n)
{
    a->k = s / n + 2;
    a->first = malloc((size_t)n * sizeof *a->first);
    a->count = malloc((size_t)n * sizeof *a->count);
    a->wt = malloc((size_t)n * a->k * sizeof *a->wt);
    if (!a->first || !a->count || !a->wt)
        return -1;
    for (int j = 0; j < n; j++) {
        int64_t lo = (int64_t)j * s, hi = lo + s;
        int i0 = (int)(lo / n), i1 = (int)((hi - 1) / n);
        a->first[j] = i0;
        a->count[j] = i1 - i0 + 1;
        for (int i = i0; i <= i1; i++) {
            int64_t a0 = (int64_t)i * n > lo ? (int64_t)i * n : lo;
            int64_t a1 = (int64_t)(i + 1) * n < hi ? (int64_t)(i + 1) * n : hi;
            a->wt[(size_t)j * a->k + (i - i0)] = (uint32_t)(a1 - a0);
        }
    }
    return 0;
}

static void img_axis_free(img_axis *a)
{
    free(a->first);
    free(a->count);
    free(a->wt);
}

int aec_img_fit(const img_image *im, uint8_t *dst, int H, int W)
{
    int C = im->c, s = im->h < im->w ? im->h : im->w;
    int y0 = (im->h - s) / 2, x0 = (im->w - s) / 2;
    img_axis ax = { 0 }, ay = { 0 };
    uint32_t *row = malloc((size_t)s * W * C * sizeof *row);
    int rc = -1;
    if (row && img_axis_make(&ax, s, W) == 0 && img_axis_make(&ay, s, H) == 0) {
        for (int y = 0; y < s; y++) {
            const uint8_t *in = im->pix + ((size_t)(y0 + y) * im->w + x0) * C;
            for (int j = 0; j < W; j++)
                for (int c = 0; c < C; c++) {
                    uint32_t sum = 0;
                    for (int t = 0; t < ax.count[j]; t++)
                        sum += ax.wt[(size_t)j * ax.k + t] * in[(size_t)(ax.first[j] + t) * C + c];
                    row[((size_t)y * W + j) * C + c] = sum;
                }
        }
        uint64_t ss = (uint64_t)s * s;
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++)
                for (int c = 0; c < C; c++) {
                    uint64_t sum = 0;
                    for (int t = 0; t < ay.count[i]; t++)
                        sum += (uint64_t)ay.wt[(size_t)i * ay.k + t]
                             * row[((size_t)(ay.first[i] + t) * W + j) * C + c];
                    dst[((size_t)c * H + i) * W + j] = (uint8_t)((sum + ss / 2) / ss);
                }
        rc = 0;
    }
    free(row);
    img_axis_free(&ax);
    img_axis_free(&ay);
    return rc;
}

int aec_image_fit(const uint8_t *src, int h, int w, int C, uint8_t *dst, int H, int W)
{
    img_image im = { (uint8_t *)src, h, w, C };
    if (aec_img_fit(&im, dst, H, W) == 0)
        return 0;
    aec_error("out of memory to resize a %dx%d image to %dx%d", h, w, H, W);
    return -1;
}
