/* test_mpi.c: data-parallel training under mpirun (issue 19).
 *
 * build/fmnist_cae, where it was linked with MPI (make found mpicc), trains
 * on 2 ranks of this machine (mpirun --oversubscribe -np 2; as root also
 * --allow-run-as-root) on a few hundred Fashion-MNIST images:
 *   - against one process of 2 workers, which takes the same two slices of
 *     each batch: the loss of each epoch within 1e-5 relative, and the same
 *     run again on 2 ranks gives the same bits;
 *   - killed (rank 1, SIGKILL; mpirun then ends rank 0) after the first
 *     checkpoint, then resumed on 2 ranks: the final checkpoint is byte for
 *     byte the unkilled 2-rank run's;
 *   - two different models in one job (mpirun's MPMD `A : B`): a clear
 *     error naming the rank, before any data is read;
 *   - a rank whose --data path holds nothing: it says so, naming itself,
 *     and the other stops with it, naming it;
 *   - a NaN: every rank stops before the step, and the last checkpoint
 *     stays.
 * Each test skips, saying why, without mpirun, without an MPI build of the
 * model, or without the data set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#ifndef AEC_BUILD
#define AEC_BUILD AEC_ROOT "/build"
#endif
#define EXE     AEC_BUILD "/fmnist_cae"
#define OTHER   AEC_BUILD "/celeba_vae"
#define DATA    "/usr/share/datasets/fashion-mnist"
#define LIMIT   "600"
#define TMP_PREFIX "/tmp/aec_test_mpi."

static char mpirun[4096];

/* mpirun's path, from PATH; "" when there is none. */
static void find_mpirun(void)
{
    const char *path = getenv("PATH");
    mpirun[0] = '\0';
    while (path && *path && !mpirun[0]) {
        size_t n = strcspn(path, ":");
        snprintf(mpirun, sizeof mpirun, "%.*s/mpirun", (int)n, path);
        if (access(mpirun, X_OK) != 0)
            mpirun[0] = '\0';
        path += n + (path[n] == ':');
    }
}

/* Skip, saying why, where a 2-rank job cannot run. */
static void need_mpi(void)
{
    need_fashion_mnist(DATA);
    if (!mpirun[0]) {
        print_message("no mpirun (apt-get install openmpi-bin libopenmpi-dev): skipping\n");
        skip();
    }
    proc p = run(EXE, "info", NULL);
    int linked = p.status == 0 && strstr(p.out, "mpi: ") && !strstr(p.out, "mpi: no");
    proc_free(&p);
    if (!linked) {
        print_message("%s was built without MPI (`info` says mpi: no): skipping\n", EXE);
        skip();
    }
}

/* mpirun [--allow-run-as-root] --oversubscribe, then args (NULL-ended), as argv. */
static proc mpi_run(const char *const *args, pid_t *started)
{
    char *argv[64];
    int n = 0;
    argv[n++] = mpirun;
    if (geteuid() == 0)
        argv[n++] = "--allow-run-as-root";
    argv[n++] = "--oversubscribe";
    while (*args && n < 63)
        argv[n++] = (char *)*args++;
    argv[n] = NULL;
    if (started) {
        *started = spawn(argv);
        return (proc){ 0 };
    }
    return run_argv(argv);
}

/* train into out on 2 ranks of a worker each, or (ranks 0) in one process
 * of 2 workers; extra: one more option, or NULL. */
static void train(const char *out, int ranks, const char *epochs, const char *extra)
{
    const char *args[] = { "-np", "2", EXE, "train", "--data", DATA, "--out", out, "--limit", LIMIT,
                           "--epochs", epochs, "--no-report", "--workers", ranks ? "1" : "2", extra, NULL };
    proc p = ranks ? mpi_run(args, NULL) : run_argv((char *const *)args + 2);
    if (p.status != 0)
        fail_msg("train on %s: status %d\n%s%s", ranks ? "2 ranks" : "one process", p.status, p.out, p.err);
    proc_free(&p);
}

/* loss.csv's train and val columns, epochs 1..n. */
static void read_losses(const char *dir, double (*loss)[2], int n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/loss.csv", dir);
    char *csv = slurp(path, NULL), *line = csv ? strchr(csv, '\n') : NULL;
    assert_non_null(line);
    for (int e = 0; e < n; e++) {
        int epoch;
        assert_int_equal(sscanf(line + 1, "%d,%lf,%lf", &epoch, &loss[e][0], &loss[e][1]), 3);
        assert_int_equal(epoch, e + 1);
        line = strchr(line + 1, '\n');
        assert_non_null(line);
    }
    free(csv);
}

/* Only rank 0 writes in OUT: the checkpoint, loss.csv and the lock. */
static void assert_only_rank0_files(const char *dir)
{
    static const char *const ok[] = { ".", "..", ".lock", "loss.csv", "model.safetensors",
                                      "optim.safetensors", NULL };
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        int known = 0;
        for (int i = 0; ok[i]; i++)
            known |= strcmp(e->d_name, ok[i]) == 0;
        if (!known)
            fail_msg("%s/%s: not a file of the run", dir, e->d_name);
    }
    closedir(d);
}

static void two_ranks_match_one_process(void **state UNUSED)
{
    need_mpi();
    double one[2][2], two[2][2];
    train(tp("one"), 0, "2", NULL);
    train(tp("two"), 1, "2", NULL);
    train(tp("again"), 1, "2", NULL);
    read_losses(tp("one"), one, 2);
    read_losses(tp("two"), two, 2);
    for (int e = 0; e < 2; e++)
        for (int k = 0; k < 2; k++) {
            print_message("epoch %d %s loss: one process %.8g, 2 ranks %.8g\n", e + 1, k ? "val" : "train",
                          one[e][k], two[e][k]);
            assert_true(fabs(two[e][k] - one[e][k]) <= 1e-5 * fabs(one[e][k]));
        }
    assert_same_file(tp("two/model.safetensors"), tp("again/model.safetensors"));
    assert_same_file(tp("two/optim.safetensors"), tp("again/optim.safetensors"));
    assert_only_rank0_files(tp("two"));
}

/* A process's environment, its strings one after another; NULL if it
 * is gone (or not ours). */
static char *read_environ(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    char *buf = f ? malloc(1 << 20) : NULL;
    *n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    if (buf)
        buf[*n] = '\0';
    if (f)
        fclose(f);
    return buf;
}

/* The pid of rank r, a child of mpirun (its environment says its rank); 0
 * while there is none. */
static pid_t rank_pid(pid_t parent, int r)
{
    char path[64], want[64], *buf;
    size_t n;
    pid_t found = 0;
    DIR *d = opendir("/proc");
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", r);
    for (struct dirent *e; d && !found && (e = readdir(d));) {
        int ppid = 0;
        pid_t pid = (pid_t)atoi(e->d_name);
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *f = pid > 0 ? fopen(path, "r") : NULL;
        if (!f)
            continue;
        int got = fscanf(f, "%*d (%*[^)]) %*c %d", &ppid);
        fclose(f);
        snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
        if (got != 1 || ppid != parent || !(buf = read_environ(path, &n)))
            continue;
        for (size_t i = 0; i < n && !found; i += strlen(buf + i) + 1)
            if (strcmp(buf + i, want) == 0)
                found = pid;
        free(buf);
    }
    if (d)
        closedir(d);
    return found;
}

/* Wait for path to exist: the first checkpoint's last rename. */
static void wait_for(const char *path, pid_t job)
{
    struct timespec tick = { 0, 2000000 };
    for (int i = 0; i < 120 * 500 && !exists(path); i++)
        nanosleep(&tick, NULL);
    if (!exists(path)) {
        kill(job, SIGKILL);
        fail_msg("%s never came", path);
    }
}

static void killed_job_resumes_to_same_bits(void **state UNUSED)
{
    need_mpi();
    train(tp("whole"), 1, "4", NULL);
    const char *args[] = { "-np", "2", EXE, "train", "--data", DATA, "--out", tp("killed"), "--limit", LIMIT,
                           "--epochs", "4", "--no-report", "--workers", "1", NULL };
    pid_t job;
    mpi_run(args, &job);
    wait_for(tp("killed/optim.safetensors"), job);
    pid_t rank1 = 0;
    for (int i = 0; i < 1000 && !(rank1 = rank_pid(job, 1)); i++)
        ;
    assert_true(rank1 > 0);
    assert_int_equal(kill(rank1, SIGKILL), 0);
    proc p = reap(job);
    assert_int_not_equal(p.status, 0);      /* mpirun ended the job: it did not finish */
    proc_free(&p);
    train(tp("killed"), 1, "4", "--resume");
    assert_same_file(tp("killed/model.safetensors"), tp("whole/model.safetensors"));
    assert_same_file(tp("killed/optim.safetensors"), tp("whole/optim.safetensors"));
}

static void different_models_are_refused_naming_the_rank(void **state UNUSED)
{
    need_mpi();
    const char *args[] = { "-np", "1", EXE, "train", "--data", DATA, "--out", tp("mixed"), ":",
                           "-np", "1", OTHER, "train", "--data", DATA, "--out", tp("mixed"), NULL };
    proc p = mpi_run(args, NULL);
    assert_int_equal(p.status, 1);
    assert_non_null(strstr(p.err, "aec: rank 0: rank 1 runs another model than rank 0's 'fmnist_cae'"));
    assert_non_null(strstr(p.err, "aec: rank 1: this rank runs model 'celeba_vae'"));
    assert_false(exists(tp("mixed")));      /* refused before anything was written */
    proc_free(&p);
}

/* A diverging learning rate: the loss goes NaN at the second step, the
 * first of epoch 2, on both ranks at once (they hold the same parameters);
 * both stop there, before the step, and epoch 1's checkpoint stays. */
static void a_nan_stops_every_rank_keeping_the_checkpoint(void **state UNUSED)
{
    need_mpi();
    const char *args[] = { "-np", "2", EXE, "train", "--data", DATA, "--out", tp("nan"), "--limit", "64",
                           "--batch", "64", "--epochs", "3", "--lr", "1e9", "--no-report", "--workers", "1", NULL };
    proc p = mpi_run(args, NULL);
    assert_int_equal(p.status, 1);
    assert_non_null(strstr(p.err, "aec: rank 0: the loss is nan at step 2 (epoch 2, batch 1)"));
    assert_non_null(strstr(p.err, "aec: rank 0: " TMP_PREFIX));
    assert_non_null(strstr(p.err, "/nan/model.safetensors keeps epoch 1, the last good one"));
    proc_free(&p);
    char *csv = slurp(tp("nan/loss.csv"), NULL);
    assert_non_null(csv);
    assert_non_null(strstr(csv, "\n1,"));
    assert_null(strstr(csv, "\n2,"));
    free(csv);
}

/* The same relative --data from two folders (mpirun -wdir), only one of
 * which has it: as a node without the data at that path. */
static void a_rank_without_the_data_is_named(void **state UNUSED)
{
    need_mpi();
    assert_int_equal(shell("mkdir -p %s %s && ln -sfn %s %s/data", tp("has"), tp("lacks"), DATA, tp("has")), 0);
    const char *args[] = { "-np", "1", "-wdir", tp("has"), EXE, "train", "--data", "data", "--out", tp("nodata"),
                           ":", "-np", "1", "-wdir", tp("lacks"), EXE, "train", "--data", "data", "--out",
                           tp("nodata"), NULL };
    proc p = mpi_run(args, NULL);
    assert_int_equal(p.status, 1);
    assert_non_null(strstr(p.err, "aec: rank 1: data: neither train-images-idx3-ubyte.gz"));
    assert_non_null(strstr(p.err, "aec: rank 0: stopped with the others: rank 1 cannot read its data"));
    proc_free(&p);
}

int main(void)
{
    if (tmpdir_setup(TMP_PREFIX "XXXXXX") != 0)
        return 1;
    find_mpirun();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_ranks_match_one_process),
        cmocka_unit_test(killed_job_resumes_to_same_bits),
        cmocka_unit_test(different_models_are_refused_naming_the_rank),
        cmocka_unit_test(a_rank_without_the_data_is_named),
        cmocka_unit_test(a_nan_stops_every_rank_keeping_the_checkpoint),
    };
    return cmocka_run_group_tests_name("mpi", tests, NULL, tmpdir_teardown);
}
