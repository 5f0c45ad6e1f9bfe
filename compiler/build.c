/* build.c: the emitted C compiled and linked into one executable (aec build,
 * and each variant aec tune times). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "base/util.h"
#include "build.h"
#include "home.h"
#include "lower/target.h"

int build_run(char *const argv[], const char *out)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = out ? open(out, O_WRONLY | O_CREAT | O_TRUNC, 0666) : 1;
        if (fd < 0 || dup2(fd, 1) < 0) {
            fprintf(stderr, "aec: cannot write %s: %s\n", out, strerror(errno));
            _exit(127);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "aec: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Split AEC_CFLAGS on spaces into argv. */
static int add_flags(char **argv, int n, char *flags)
{
    for (char *tok = strtok(flags, " \t"); tok && n < 60; tok = strtok(NULL, " \t"))
        argv[n++] = tok;
    return n;
}

/* The folder EXE goes into must exist before compiling, not fail after. */
static int check_out_dir(const char *exe)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", exe);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    struct stat st;
    if (dir[0] && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "aec: cannot write %s: the directory %s does not exist\n", exe, dir);
        return -1;
    }
    return 0;
}

int build_exe(const compiled *c, const char *exe)
{
    if (check_out_dir(exe) < 0)
        return -1;
    if (aec_target_now()->cc[0]) {   /* the runtime library here is this host's */
        fprintf(stderr, "aec: cannot build a %s executable on this host: `aec emit --target %s` writes the C "
                "to build on such a machine\n", aec_target_now()->name, aec_target_now()->name);
        return -1;
    }
    aec_runtime rt;
    if (aec_find_runtime(&rt) < 0)
        return -1;
    char dir[] = "/tmp/aec-build-XXXXXX", src[4200], inc_rt[4200], inc_gen[4200], *lib = rt.lib, tmp_exe[4200];
    if (!mkdtemp(dir)) {
        fprintf(stderr, "aec: cannot make a temporary directory: %s\n", strerror(errno));
        return -1;
    }
    int rc = write_emitted(c, dir);
    snprintf(src, sizeof src, "%s/%s.c", dir, c->ir.name);
    snprintf(inc_rt, sizeof inc_rt, "-I%s", rt.include);
    snprintf(inc_gen, sizeof inc_gen, "-I%s", dir);
    snprintf(tmp_exe, sizeof tmp_exe, "%s.tmp%ld", exe, (long)getpid());
    const aec_target *t = aec_target_now();
    const char *cc = t->cc[0] ? t->cc : getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
    const char *cf = getenv("AEC_CFLAGS") ? getenv("AEC_CFLAGS") : DEFAULT_CFLAGS;
    char *tflags = xstrdup(t->cflags), *flags = xstrdup(cf), *argv[80];
    int n = 0;
    argv[n++] = (char *)cc;
    n = add_flags(argv, n, tflags);
    /* the host's own target: tuned for this very CPU, as -march=native would */
    if (t == aec_target_host() && t->cflags[0])
        argv[n++] = "-mtune=native";
    n = add_flags(argv, n, flags);
    /* -fopenmp: a schedule's threads=N on direct loops (schedule.c) */
    char *rest[] = {"-std=c11", "-fopenmp", "-Wall", "-Wextra", inc_rt, inc_gen, src, "-o", tmp_exe, lib,
                    "-lopenblas", "-lcairo", "-ljpeg", "-lpng", "-lz", "-lm", NULL};
    for (int i = 0; rest[i]; i++)
        argv[n++] = rest[i];
    argv[n] = NULL;
    if (rc == 0 && (rc = build_run(argv, NULL)) != 0)
        fprintf(stderr, "aec: compiling the generated C for %s failed (see above)\n", c->path);
    if (rc == 0 && rename(tmp_exe, exe) != 0) {
        fprintf(stderr, "aec: cannot write %s: %s\n", exe, strerror(errno));
        rc = -1;
    }
    unlink(tmp_exe);
    char path[4300];
    snprintf(path, sizeof path, "%s/%s.h", dir, c->ir.name);
    unlink(path);
    unlink(src);
    rmdir(dir);
    free(tflags);
    free(flags);
    return rc;
}

