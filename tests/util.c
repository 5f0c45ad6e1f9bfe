/* tests/util.c: helpers shared by the test programs (see util.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aec.h"
#include "util.h"

/* ---- the temporary directory ----------------------------------------------------- */

char tmpdir[64];

int tmpdir_setup(const char *pattern)
{
    snprintf(tmpdir, sizeof tmpdir, "%s", pattern);
    return mkdtemp(tmpdir) ? 0 : -1;
}

int tmpdir_teardown(void **state UNUSED)
{
    rm_rf(tmpdir);
    return 0;
}

const char *tp(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

void rm_rf(const char *path)
{
    struct stat st;
    struct dirent *e;
    char sub[1024];
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode))
        chmod(path, 0755);
    DIR *d = S_ISDIR(st.st_mode) ? opendir(path) : NULL;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_rf(sub);
        }
    }
    if (d)
        closedir(d);
    remove(path);
}

/* ---- files ------------------------------------------------------------------------ */

void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

uint8_t *read_bytes(const char *path, size_t *n)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    uint8_t *b = malloc((size_t)st.st_size + 1);
    FILE *fp = fopen(path, "rb");
    assert_non_null(b);
    assert_non_null(fp);
    *n = fread(b, 1, (size_t)st.st_size, fp);
    assert_int_equal(*n, (size_t)st.st_size);
    fclose(fp);
    return b;
}

int exists(const char *path)
{
    return access(path, F_OK) == 0;
}

char *slurp(const char *path, size_t *len)
{
    size_t n = 0;
    if (!exists(path))
        return NULL;
    char *b = (char *)read_bytes(path, &n);
    b[n] = '\0';
    if (len)
        *len = n;
    return b;
}

static void put_be32(FILE *fp, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    fwrite(b, 1, 4, fp);
}

void write_idx(const char *dir, const char *prefix, int n, int h, int w, const uint8_t *px)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, prefix);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    put_be32(fp, 0x803);
    put_be32(fp, (uint32_t)n);
    put_be32(fp, (uint32_t)h);
    put_be32(fp, (uint32_t)w);
    fwrite(px, 1, (size_t)n * h * w, fp);
    assert_int_equal(fclose(fp), 0);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", dir, prefix);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    put_be32(fp, 0x801);
    put_be32(fp, (uint32_t)n);
    for (int i = 0; i < n; i++)
        fputc(i % 10, fp);
    assert_int_equal(fclose(fp), 0);
}

void need_fashion_mnist(const char *dir)
{
    char gz[512], raw[512];
    snprintf(gz, sizeof gz, "%s/train-images-idx3-ubyte.gz", dir);
    snprintf(raw, sizeof raw, "%s/train-images-idx3-ubyte", dir);
    if (!exists(gz) && !exists(raw)) {
        print_message("no Fashion-MNIST in %s (apt-get install dataset-fashion-mnist): skipping\n", dir);
        skip();
    }
}

static const aec_model *cpu_model;

static int cpu_setup(void **state)
{
    (void)state;
    if (aec_cpu_fits(cpu_model, stdout) != 0) {
        print_message("this CPU does not run target %s: skipping\n", cpu_model->target);
        skip();
    }
    return 0;
}

void set_cpu_setup(struct CMUnitTest *tests, size_t n, const aec_model *m)
{
    cpu_model = m;
    for (size_t i = 0; i < n; i++)
        tests[i].setup_func = cpu_setup;
}

const char *target_group_name(const char *name, const aec_model *m)
{
    static char buf[128];
    snprintf(buf, sizeof buf, "%s (%s)", name, m->target ? m->target : "unknown target");
    return buf;
}

void assert_same_file(const char *path, const char *want)
{
    size_t n = 0, m = 0;
    char *a = slurp(path, &n), *b = slurp(want, &m);
    assert_non_null(a);
    assert_non_null(b);
    if (n != m || memcmp(a, b, n) != 0)
        fail_msg("%s (%zu bytes) differs from %s (%zu bytes)", path, n, want, m);
    free(a);
    free(b);
}

char **ae_files(const char *dir, int *n)
{
    struct dirent **list;
    int m = scandir(dir, &list, NULL, alphasort);
    assert_true(m > 0);
    char **out = calloc((size_t)m + 1, sizeof *out);
    assert_non_null(out);
    *n = 0;
    for (int i = 0; i < m; i++) {
        size_t len = strlen(list[i]->d_name);
        if (len > 3 && strcmp(list[i]->d_name + len - 3, ".ae") == 0) {
            out[*n] = malloc(strlen(dir) + len + 2);
            sprintf(out[(*n)++], "%s/%s", dir, list[i]->d_name);
        }
        free(list[i]);
    }
    free(list);
    return out;
}

void free_list(char **l)
{
    for (int i = 0; l[i]; i++)
        free(l[i]);
    free(l);
}

void file_tensors(const aec_tensor_file *f, aec_tensor *t)
{
    for (int i = 0; i < f->n; i++) {
        t[i] = (aec_tensor){ f->names[i], f->ndim[i], { 0 }, f->data[i] };
        memcpy(t[i].shape, f->shape[i], sizeof t[i].shape);
    }
}

void copy_file(const char *from, const char *to)
{
    size_t n = 0;
    char *b = slurp(from, &n);
    if (!b)
        fail_msg("%s is missing", from);
    write_bytes(to, b, n);
    free(b);
}

void assert_same_safetensors(const char *path, const char *want)
{
    aec_tensor_file a, b;
    assert_int_equal(aec_safetensors_read(path, &a), 0);
    assert_int_equal(aec_safetensors_read(want, &b), 0);
    assert_int_equal(a.n, b.n);
    for (int i = 0; i < a.n; i++) {
        assert_string_equal(a.names[i], b.names[i]);
        assert_int_equal(a.ndim[i], b.ndim[i]);
        assert_memory_equal(a.shape[i], b.shape[i], sizeof a.shape[i]);
        size_t n = 1;
        for (int d = 0; d < a.ndim[i]; d++)
            n *= (size_t)a.shape[i][d];
        if (memcmp(a.data[i], b.data[i], n * sizeof(float)) != 0)
            fail_msg("%s: tensor %s differs from %s's", path, a.names[i], want);
    }
    assert_non_null(a.metadata_json);
    assert_non_null(b.metadata_json);
    assert_string_equal(a.metadata_json, b.metadata_json);
    aec_tensor_file_free(&a);
    aec_tensor_file_free(&b);
}

/* ---- running a program ----------------------------------------------------------- */

extern char **environ;

void proc_free(proc *p)
{
    free(p->out);
    free(p->err);
    memset(p, 0, sizeof *p);
}

pid_t spawn(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, tp("stdout.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, tp("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        fail_msg("cannot run %s: %s", argv[0], strerror(rc));
    return pid;
}

proc reap(pid_t pid)
{
    proc p = { -1, 0, NULL, NULL };
    int status;
    while (waitpid(pid, &status, 0) < 0)
        assert_int_equal(errno, EINTR);
    if (WIFEXITED(status))
        p.status = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        p.signal = WTERMSIG(status);
    p.out = slurp(tp("stdout.txt"), NULL);
    p.err = slurp(tp("stderr.txt"), NULL);
    assert_non_null(p.out);
    assert_non_null(p.err);
    return p;
}

int shell(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

int mount_tmpfs(const char *dir, long kib, int read_only)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return -1;
    if (shell("mount -t tmpfs -o size=%ldk tmpfs '%s' 2>/dev/null", kib, dir) != 0)
        return -1;
    if (read_only && shell("mount -o remount,ro '%s' 2>/dev/null", dir) != 0) {
        shell("umount '%s'", dir);
        return -1;
    }
    return 0;
}

proc run_argv(char *const argv[])
{
    return reap(spawn(argv));
}

proc run_va(const char *prog, va_list ap)
{
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)prog;
    for (char *a; n < 31 && (a = va_arg(ap, char *));)
        argv[n++] = a;
    argv[n] = NULL;
    return run_argv(argv);
}

proc run(const char *prog, ...)
{
    va_list ap;
    va_start(ap, prog);
    proc p = run_va(prog, ap);
    va_end(ap);
    return p;
}

/* ---- stderr ------------------------------------------------------------------------ */

static int saved_stderr = -1;

void capture_begin(void)
{
    fflush(stderr);
    saved_stderr = dup(2);
    int fd = open(tp("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved_stderr >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
}

char *capture_end(void)
{
    size_t n;
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    uint8_t *b = read_bytes(tp("stderr.txt"), &n);
    b[n] = '\0';
    return (char *)b;
}

/* ---- numbers ----------------------------------------------------------------------- */

double rel_diff(const float *a, const float *b, size_t n)
{
    double diff = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return diff / (scale > 0 ? scale : 1.0);
}
