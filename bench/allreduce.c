/* allreduce.c: the time of one training step's allreduce between the ranks
 * of this job, for each model's gradient (make bench-allreduce, see
 * bench/README.md). The buffer is what runtime/train/train.c sums each
 * step: the model's parameters' gradients and 3 floats more (loss, fault,
 * stop), MPI_FLOAT, MPI_SUM, in place. Each size is timed REPS times after
 * WARM untimed calls, each call after a barrier, so that it times the
 * collective rather than waiting for a late rank; rank 0 prints the median
 * and the 10th and 90th percentiles, and the bus bandwidth of the median,
 * 2 (N - 1) / N x bytes / time, as NCCL's tests define it.
 *
 *   mpirun -np 2 build/bench/allreduce [REPS]
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

enum { WARM = 20 };

static const struct { const char *model; long floats; } sizes[] = {
    { "fmnist_cae", 442177 + 3 },       /* build/fmnist_cae info: parameters */
    { "celeba_vae", 3485251 + 3 },      /* build/celeba_vae info */
};

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Seconds of each of reps allreduces of n floats, sorted. */
static void time_allreduce(float *buf, long n, int reps, double *secs)
{
    for (int i = 0; i < WARM + reps; i++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double t = MPI_Wtime() - t0, worst;
        /* the collective ends when its slowest rank is done */
        MPI_Allreduce(&t, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (i >= WARM)
            secs[i - WARM] = worst;
    }
    qsort(secs, (size_t)reps, sizeof *secs, by_value);
}

int main(int argc, char **argv)
{
    int rank, ranks, reps = argc > 1 ? atoi(argv[1]) : 200;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    double *secs = malloc((size_t)(reps > 0 ? reps : 1) * sizeof *secs);
    for (size_t s = 0; secs && reps > 0 && s < sizeof sizes / sizeof sizes[0]; s++) {
        float *buf = calloc((size_t)sizes[s].floats, sizeof *buf);
        if (!buf)
            MPI_Abort(MPI_COMM_WORLD, 1);
        time_allreduce(buf, sizes[s].floats, reps, secs);
        double mib = sizes[s].floats * 4.0 / 1048576.0, med = secs[reps / 2];
        if (rank == 0)
            printf("%s: %.2f MiB on %d ranks: median %.3f ms, p10 %.3f ms, p90 %.3f ms, "
                   "bus %.2f GB/s (%d calls)\n", sizes[s].model, mib, ranks, med * 1e3,
                   secs[reps / 10] * 1e3, secs[reps * 9 / 10] * 1e3,
                   2.0 * (ranks - 1) / ranks * sizes[s].floats * 4.0 / med / 1e9, reps);
        free(buf);
    }
    free(secs);
    MPI_Finalize();
    return 0;
}
