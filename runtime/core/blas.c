/* blas.c: make OpenBLAS use the kernels this CPU can run and OpenMP's
 * threads wait without spinning; the threads of both per kernel.
 *
 * Debian 12's OpenBLAS (0.3.21, built for every x86 core type) does not
 * recognise some newer or virtualised Xeons and falls back to its Prescott
 * (SSE3) kernels, much slower than the AVX-512 or AVX2 ones the CPU runs.
 * libgomp, which runs the direct kernels' loops, spins while its threads
 * wait, on the cores OpenBLAS's threads need (with one worker: --workers 1,
 * and the commands that run no workers); OMP_WAIT_POLICY=PASSIVE makes them
 * sleep. Both libraries read their
 * settings once, when they load, so the only fix from inside a program is
 * to set them and execute the program again. A value the user set is
 * always kept: some machines set it on purpose. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "aec.h"
#include "core/blas.h"

static const char *better_core(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "Haswell";
    return NULL;
}

void aec_setup_libraries(char **argv)
{
    int again = 0;
    if (!getenv("OPENBLAS_CORETYPE")) {
        const char *core = better_core(), *now = openblas_get_corename();
        if (core && now && strcmp(now, "Prescott") == 0) {
            setenv("OPENBLAS_CORETYPE", core, 1);
            again = 1;
        }
    }
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        again = 1;
    }
    if (again)
        execv("/proc/self/exe", argv);
    /* exec failed: run on, with the slower kernels or spinning waits */
}

/* ---- threads per kernel -------------------------------------------------------- */

/* A schedule's threads=N for the GEMMs of one pass (see compiler/schedule.c):
 * N = 0 restores the count OpenBLAS started with (all cores, or
 * OPENBLAS_NUM_THREADS). The library is told only when the count changes.
 * Called from the thread that runs the kernels; under a limit of 1 (set
 * before worker threads start) it does nothing. */
static int all = 0, now = 0, cap = 0;

static void blas_threads_init(void)
{
    if (all == 0)
        all = now = openblas_get_num_threads();
}

void aec_blas_threads(int n)
{
    if (cap == 1)
        return;             /* workers (workers.c): one thread each, set once */
    blas_threads_init();
    int want = n > 0 ? n : all;
    if (want != now) {
        openblas_set_num_threads(want);
        now = want;
    }
}

/* Workers run a slice each with one BLAS thread: limit 1 pins OpenBLAS to
 * one thread until aec_threads_limit(0) lifts it. The same for OpenMP (the
 * direct kernels' loops, threads=0), in the calling thread. */
void aec_threads_limit(int n)
{
    blas_threads_init();
    cap = n;
    now = n == 1 ? 1 : all;
    openblas_set_num_threads(now);
    aec_omp_limit(n);
}

/* OpenMP's team size is a setting of each thread: every worker thread sets
 * its own (workers.c). libgomp is linked only into programs built with
 * -fopenmp (the model executables), hence the weak symbols. */
extern void omp_set_num_threads(int n) __attribute__((weak));
extern int omp_get_max_threads(void) __attribute__((weak));

void aec_omp_limit(int n)
{
    static int initial = 0;
    if (!omp_set_num_threads || !omp_get_max_threads)
        return;
    if (initial == 0)
        initial = omp_get_max_threads();
    omp_set_num_threads(n == 1 ? 1 : initial);
}
