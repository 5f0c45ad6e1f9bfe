/* profile.c: where a training step's time goes, layer by layer.
 *
 * The generated entry points lap a clock after each layer (aec_lap in
 * aec.h); the caller of a step (train --profile, bench --profile) times
 * the whole step and the optimizer and reports them here. Each row is the
 * mean per step, and its share of the step; what no row covers (gathering
 * the batch, zeroing the gradients) is shown as "other". Timing a layer
 * means reading the clock between layers, nothing more: the kernels run as
 * they do unprofiled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include "aec.h"
#include "core/clock.h"
#include "exec/profile.h"

int aec_profiling;

static struct {
    const aec_model *m;
    double (*t)[2];         /* [n_layers + 1][AEC_FWD, AEC_BWD] seconds */
    double step, optim;     /* seconds in all */
    double allreduce;       /* a data-parallel step's sum over the ranks (train.c) */
    long steps;
} P;

/* Only the thread that began the profile laps: with workers (workers.c) that
 * is worker 0, and the layer times are those of its slice of the batch. */
static _Thread_local int timing;
static _Thread_local double last;      /* the clock at this thread's last lap */

int aec_profile_begin(const aec_model *m)
{
    P.m = m;
    P.t = calloc((size_t)m->n_layers + 1, sizeof *P.t);
    P.step = P.optim = P.allreduce = 0.0;
    P.steps = 0;
    if (!P.t) {
        aec_error("profile: out of memory");
        return -1;
    }
    aec_profiling = 1;
    timing = 1;
    return 0;
}

void aec_profile_end(void)
{
    aec_profiling = 0;
    timing = 0;
    free(P.t);
    P.t = NULL;
}

void aec_profile_restart(void)
{
    if (timing)
        last = aec_seconds();
}

void aec_profile_lap(int row, int pass)
{
    if (!timing)
        return;
    double t = aec_seconds();
    if (P.t && row >= 0 && row <= P.m->n_layers)
        P.t[row][pass] += t - last;
    last = t;
}

void aec_profile_allreduce(double secs)
{
    P.allreduce += secs;
}

void aec_profile_step(double step_secs, double optim_secs)
{
    P.step += step_secs;
    P.optim += optim_secs;
    P.steps++;
}

static void row(FILE *f, const char *name, int line, double fwd, double bwd, double step)
{
    char ln[16] = "";
    if (line > 0)
        snprintf(ln, sizeof ln, "%d", line);
    fprintf(f, "  %-16s %5s %11.3f %11.3f %10.3f %6.1f%%\n", name, ln, fwd * 1e3, bwd * 1e3,
            (fwd + bwd) * 1e3, 100.0 * (fwd + bwd) / step);
}

int aec_profile_csv(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        aec_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    double n = P.steps ? (double)P.steps : 1.0;
    fprintf(f, "layer,line,forward_ms,backward_ms\n");
    for (int i = 0; P.t && i < P.m->n_layers; i++)
        fprintf(f, "%s,%d,%.6f,%.6f\n", P.m->layers[i].name, P.m->layers[i].line, P.t[i][AEC_FWD] / n * 1e3,
                P.t[i][AEC_BWD] / n * 1e3);
    if (fclose(f) != 0) {
        aec_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Means per step over the steps since aec_profile_begin. */
void aec_profile_print(FILE *f, int B, int workers)
{
    const aec_model *m = P.m;
    if (!P.t || P.steps == 0)
        return;
    double n = (double)P.steps, step = P.step / n, covered = P.optim / n;
    fprintf(f, "profile: %s, %ld steps of batch %d, %.3f ms a step (%.0f img/s)\n", m->name, P.steps,
            B, step * 1e3, B / step);
    if (workers > 1)
        fprintf(f, "(%d workers: a layer's times are the first worker's, on its %d images; \"other\" "
                   "includes waiting for the rest and summing their gradients)\n", workers, (B + workers - 1) / workers);
    fprintf(f, "  %-16s %5s %11s %11s %10s %7s\n", "layer", "line", "forward ms", "backward ms",
            "total ms", "share");
    for (int i = 0; i <= m->n_layers; i++) {
        double fwd = P.t[i][AEC_FWD] / n, bwd = P.t[i][AEC_BWD] / n;
        row(f, i < m->n_layers ? m->layers[i].name : "loss", i < m->n_layers ? m->layers[i].line : 0,
            fwd, bwd, step);
        covered += fwd + bwd;
    }
    row(f, "optimizer", 0, 0.0, P.optim / n, step);
    if (P.allreduce > 0.0)
        row(f, "allreduce", 0, 0.0, P.allreduce / n, step);
    covered += P.allreduce / n;
    row(f, "other", 0, 0.0, step - covered, step);
    fflush(f);
}
