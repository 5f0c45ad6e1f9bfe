/* build.c: the emitted C compiled and linked into one executable (aec build,
 * and each variant aec tune times). */
#include <errno.h>
#include <signal.h>
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

/* SIGINT or SIGTERM during a build: passed on to the compiler, then the
 * temporary files go and aec exits 128 + the signal. */
static volatile sig_atomic_t stop_sig;
static volatile pid_t child;

static void on_stop(int sig)
{
    stop_sig = sig;
    if (child > 0)
        kill(child, sig);
}

void build_catch_stops(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int build_run_status(const char *who, char *const argv[], const char *out)
{
    if (stop_sig)
        return -1;
    fflush(stdout);     /* what aec printed goes before what argv prints */
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    child = pid;
    if (pid == 0) {
        int fd = out ? open(out, O_WRONLY | O_CREAT | O_TRUNC, 0666) : 1;
        if (fd < 0 || dup2(fd, 1) < 0) {
            say(who, "cannot write %s: %s", out, strerror(errno));
            _exit(127);
        }
        execvp(argv[0], argv);
        say(who, "cannot run %s: %s", argv[0], strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    child = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int build_run(char *const argv[], const char *out)
{
    return build_run_status("aec", argv, out) == 0 ? 0 : -1;
}

/* Split AEC_CFLAGS on spaces into argv, which has room for every word. */
static int add_flags(char **argv, int n, char *flags)
{
    for (char *tok = strtok(flags, " \t"); tok; tok = strtok(NULL, " \t"))
        argv[n++] = tok;
    return n;
}

/* -o EXE is replaced by a rename: it must be a new path or a regular file,
 * and not the .ae file itself (`-o X.ae` replaced the source; `-o` onto a
 * device or a FIFO replaced the node with a regular file). */
static int check_out_file(const char *exe, const char *src)
{
    struct stat so, ss;
    if (stat(exe, &so) != 0)
        return 0;
    if (!S_ISREG(so.st_mode)) {
        say("aec", "cannot write %s: it is not a regular file; -o names the executable "
                   "to create or replace", exe);
        return -1;
    }
    if (stat(src, &ss) == 0 && ss.st_dev == so.st_dev && ss.st_ino == so.st_ino) {
        say("aec", "-o %s is the model's source %s; name the executable otherwise", exe, src);
        return -1;
    }
    return 0;
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
        say("aec", "cannot write %s: the directory %s does not exist", exe, dir);
        return -1;
    }
    return 0;
}

/* An executable named name in a folder of PATH. */
static int on_path(const char *name)
{
    const char *path = getenv("PATH");
    char dir[4096], file[4400];
    while (path && *path) {
        size_t n = strcspn(path, ":");
        snprintf(dir, sizeof dir, "%.*s", (int)(n < sizeof dir ? n : sizeof dir - 1), path);
        snprintf(file, sizeof file, "%s/%s", dir[0] ? dir : ".", name);
        if (access(file, X_OK) == 0)
            return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

/* MPI support, when the runtime has its MPI library (libaecrt-mpi.a, built
 * where mpicc was found) beside libaecrt.a and mpicc is here to link it;
 * AEC_MPI=0 opts out. Then the model is linked with that library by mpicc
 * (running cc, the rest as before): *cc and lib are changed. */
static void use_mpi(const char **cc, char *lib, size_t size)
{
    const char *env = getenv("AEC_MPI");
    size_t n = strlen(lib) - strlen("libaecrt.a");
    if ((env && strcmp(env, "0") == 0) || n + sizeof "libaecrt-mpi.a" > size)
        return;
    char *mpi = xmalloc(n + sizeof "libaecrt-mpi.a");
    snprintf(mpi, n + sizeof "libaecrt-mpi.a", "%.*slibaecrt-mpi.a", (int)n, lib);
    if (access(mpi, R_OK) == 0 && on_path("mpicc")) {
        setenv("OMPI_CC", *cc, 0);     /* Open MPI's mpicc then runs $CC, as a build without MPI would */
        *cc = "mpicc";
        memcpy(lib, mpi, n + sizeof "libaecrt-mpi.a");
    }
    free(mpi);
}

/* The compiler's command line for the target in use (malloc'd, room for
 * every word of the flags: a word and its space are two characters at
 * least); its words live in *keep, freed by the caller. */
static char **compile_argv(char **keep, const char *src, const char *tmp_exe, char *inc[2], char *lib,
                           size_t lib_size)
{
    const aec_target *t = aec_target_now();
    const char *cc = t->cc[0] ? t->cc : getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
    use_mpi(&cc, lib, lib_size);
    const char *cf = getenv("AEC_CFLAGS") ? getenv("AEC_CFLAGS") : DEFAULT_CFLAGS;
    keep[0] = xstrdup(t->cflags);
    keep[1] = xstrdup(cf);
    char **argv = xmalloc(((strlen(t->cflags) + 1) / 2 + (strlen(cf) + 1) / 2 + 24) * sizeof *argv);
    int n = 0;
    argv[n++] = (char *)cc;
    n = add_flags(argv, n, keep[0]);
    /* the host's own target: tuned for this very CPU, as -march=native would */
    if (t == aec_target_host() && t->cflags[0])
        argv[n++] = "-mtune=native";
    n = add_flags(argv, n, keep[1]);
    /* -fopenmp: a schedule's threads=N on direct loops (schedule.c) */
    const char *rest[] = {"-std=c11", "-fopenmp", "-Wall", "-Wextra", inc[0], inc[1], src, "-o", tmp_exe, lib,
                          "-lopenblas", "-lcairo", "-ljpeg", "-lpng", "-lz", "-lm", NULL};
    for (int i = 0; rest[i]; i++)
        argv[n++] = (char *)rest[i];
    argv[n] = NULL;
    return argv;
}

int build_exe(const compiled *c, const char *exe)
{
    if (check_out_dir(exe) < 0 || check_out_file(exe, c->path) < 0)
        return -1;
    if (aec_target_now()->cc[0]) {   /* the runtime library here is this host's */
        say("aec", "cannot build a %s executable on this host: `aec emit --target %s` writes the C "
                   "to build on such a machine", aec_target_now()->name, aec_target_now()->name);
        return -1;
    }
    aec_runtime rt;
    if (aec_find_runtime(&rt) < 0)
        return -1;
    const char *tmpdir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[4096], src[4200], inc_rt[4200], inc_gen[4200], tmp_exe[4200];
    snprintf(dir, sizeof dir, "%s/aec-build-XXXXXX", tmpdir);
    if (!mkdtemp(dir)) {
        say("aec", "cannot make a temporary directory: %s", strerror(errno));
        return -1;
    }
    int rc = write_emitted(c, dir);
    snprintf(src, sizeof src, "%s/%s.c", dir, c->ir.name);
    snprintf(inc_rt, sizeof inc_rt, "-I%s", rt.include);
    snprintf(inc_gen, sizeof inc_gen, "-I%s", dir);
    snprintf(tmp_exe, sizeof tmp_exe, "%s.tmp%ld", exe, (long)getpid());
    char *keep[2], *inc[2] = {inc_rt, inc_gen};
    char **argv = compile_argv(keep, src, tmp_exe, inc, rt.lib, sizeof rt.lib);
    if (rc == 0 && (rc = build_run(argv, NULL)) != 0 && !stop_sig)
        say("aec", "compiling the generated C for %s failed (see above)", c->path);
    if (rc == 0 && !stop_sig && rename(tmp_exe, exe) != 0) {
        say("aec", "cannot write %s: %s", exe, strerror(errno));
        rc = -1;
    }
    unlink(tmp_exe);
    char path[4300];
    snprintf(path, sizeof path, "%s/%s.h", dir, c->ir.name);
    unlink(path);
    unlink(src);
    rmdir(dir);
    free(keep[0]);
    free(keep[1]);
    free(argv);
    if (stop_sig) {
        say("aec", "%s: the build of %s stopped; its temporary files are removed",
            stop_sig == SIGTERM ? "terminated" : "interrupted", exe);
        return 128 + stop_sig;
    }
    return rc;
}
