/* sgemm_peak.c: the BLAS's single-precision matrix product rate on this
 * machine, now: C = A B with square n x n float matrices (default 2048) on
 * T threads (default 2), repeated for about S seconds (default 2) after one
 * untimed call. Prints one key=value line; bench/run uses it as the peak
 * that aec's GFLOP/s are a share of.
 *
 *   build/bench/sgemm_peak [--n N] [--threads T] [--seconds S]
 *
 * The kernels are chosen like aec's executables choose them
 * (aec_setup_libraries: OPENBLAS_CORETYPE when OpenBLAS would fall back
 * to Prescott), unless OPENBLAS_CORETYPE is set already. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cblas.h>
#include "aec.h"

char *openblas_get_corename(void);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void usage(void)
{
    fprintf(stderr, "usage: sgemm_peak [--n N] [--threads T] [--seconds S]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    aec_setup_libraries(argv);
    int n = 2048, threads = 2;
    double seconds = 2;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        char *end;
        if (strcmp(argv[i], "--n") == 0)
            n = (int)strtol(argv[++i], &end, 10);
        else if (strcmp(argv[i], "--threads") == 0)
            threads = (int)strtol(argv[++i], &end, 10);
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = strtod(argv[++i], &end);
        else
            usage();
        if (*end || n < 1 || threads < 1 || !(seconds > 0))
            usage();
    }
    openblas_set_num_threads(threads);
    size_t count = (size_t)n * n;
    float *a = malloc(count * sizeof *a), *b = malloc(count * sizeof *b), *c = malloc(count * sizeof *c);
    if (!a || !b || !c) {
        fprintf(stderr, "sgemm_peak: out of memory for %d x %d matrices\n", n, n);
        return 1;
    }
    unsigned s = 1;
    for (size_t i = 0; i < count; i++) {
        s = s * 1664525u + 1013904223u;
        a[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
        s = s * 1664525u + 1013904223u;
        b[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    int calls = 0;
    double t0 = now(), t;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        calls++;
    } while ((t = now() - t0) < seconds || calls < 2);
    printf("sgemm_n=%d threads=%d core=%s calls=%d sgemm_gflops=%.1f\n", n, threads, openblas_get_corename(),
           calls, 2.0 * n * n * (double)n * calls / t / 1e9);
    free(a), free(b), free(c);
    return 0;
}
