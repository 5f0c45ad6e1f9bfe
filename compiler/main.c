/* main.c: the aec command.
 *   aec check FILE.ae            validate, print the layer table
 *   aec emit FILE.ae -o DIR      write DIR/MODEL.c and DIR/MODEL.h
 *   aec build FILE.ae -o EXE     emit, compile, link with the runtime and OpenBLAS
 *   aec targets                  the CPU targets, and which this CPU runs
 * emit and build take --target NAME (default: the host's, lower/target.c). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "base/util.h"
#include "driver.h"
#include "fmt.h"
#include "home.h"
#include "ir/table.h"
#include "lower/target.h"

/* The generated C's flags, after the target's own (-march=...). -O2 with
 * the vectoriser's full cost model (-O3's) compiles faster than -O3, with
 * kernels as fast or faster. -flto=auto with 8 partitions lets GCC
 * generate code for the one file on every core. GCC's default minimum
 * partition is larger than our whole file, hence the last flag. Build and
 * run times: bench/README.md. */
#define DEFAULT_CFLAGS                                                                             \
    "-O2 -fvect-cost-model=dynamic -flto=auto --param lto-partitions=8 --param lto-min-partition=100"

static const char usage[] =
    "usage: aec check FILE.ae                     validate the model and print its layer table\n"
    "       aec emit FILE.ae -o DIR [--target T]  write the generated C: DIR/MODEL.c and DIR/MODEL.h\n"
    "       aec build FILE.ae -o EXE [--target T] emit, compile and link one executable for the model\n"
    "       aec targets [--cflags T]              list the targets (T) and which this CPU runs,\n"
    "                                             or print one target's C compiler flags\n"
    "       aec fmt [--check] [--diff] FILE.ae... rewrite the files in the canonical layout\n"
    "       aec --version                         the version and the commit aec was built from\n"
    "\n"
    "--target: x86-64-v4, x86-64-v3, generic or aarch64; default: this CPU's (aec targets)\n"
    "environment: CC (default cc), AEC_CFLAGS (after the target's -march; default " DEFAULT_CFLAGS "),\n"
    "             AEC_HOME (a checkout with runtime/ and build/libaecrt.a; default: beside aec)\n"
    "see man aec, man aec-language\n";

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

static void catch_stops(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Run argv, wait, 0 if it exited 0. */
static int run(char *const argv[])
{
    if (stop_sig)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    child = pid;
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "aec: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    child = 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
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
        fprintf(stderr, "aec: cannot write %s: it is not a regular file; -o names the executable "
                        "to create or replace\n", exe);
        return -1;
    }
    if (stat(src, &ss) == 0 && ss.st_dev == so.st_dev && ss.st_ino == so.st_ino) {
        fprintf(stderr, "aec: -o %s is the model's source %s; name the executable otherwise\n", exe,
                src);
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
        fprintf(stderr, "aec: cannot write %s: the directory %s does not exist\n", exe, dir);
        return -1;
    }
    return 0;
}

static int compile_exe(const compiled *c, const char *exe)
{
    if (check_out_dir(exe) < 0 || check_out_file(exe, c->path) < 0)
        return -1;
    if (aec_target_now()->cc[0]) {   /* the runtime library here is this host's */
        fprintf(stderr, "aec: cannot build a %s executable on this host: `aec emit --target %s` writes the C "
                "to build on such a machine\n", aec_target_now()->name, aec_target_now()->name);
        return -1;
    }
    aec_runtime rt;
    if (aec_find_runtime(&rt) < 0)
        return -1;
    const char *tmpdir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[4096], src[4200], inc_rt[4200], inc_gen[4200], *lib = rt.lib, tmp_exe[4200];
    snprintf(dir, sizeof dir, "%s/aec-build-XXXXXX", tmpdir);
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
    char *tflags = xstrdup(t->cflags), *flags = xstrdup(cf);
    char **argv = xmalloc((strlen(t->cflags) / 2 + strlen(cf) / 2 + 40) * sizeof *argv);
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
    if (rc == 0 && (rc = run(argv)) != 0 && !stop_sig)
        fprintf(stderr, "aec: compiling the generated C for %s failed (see above)\n", c->path);
    if (rc == 0 && !stop_sig && rename(tmp_exe, exe) != 0) {
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
    free(argv);
    if (stop_sig) {
        fprintf(stderr, "aec: %s: the build of %s stopped; its temporary files are removed\n",
                stop_sig == SIGTERM ? "terminated" : "interrupted", exe);
        return 128 + stop_sig;
    }
    return rc;
}

/* --target NAME: the target kernels are shaped for from now on. */
static int use_target(const char *name)
{
    const aec_target *t = aec_target_named(name);
    if (!t) {
        fprintf(stderr, "aec: unknown target '%s' (known:", name);
        for (int i = 0; aec_targets[i]; i++)
            fprintf(stderr, " %s", aec_targets[i]->name);
        fprintf(stderr, ")\n");
        return -1;
    }
    aec_target_use(t);
    return 0;
}

/* aec targets: one line each, and whether this CPU runs it. */
static int list_targets(void)
{
    printf("target      vector    registers  FMA  C flags           this CPU\n");
    for (int i = 0; aec_targets[i]; i++) {
        const aec_target *t = aec_targets[i];
        char vec[32];
        snprintf(vec, sizeof vec, "%d x f32", t->vec);
        printf("%-11s %-9s %9d  %-3s  %-17s %s\n", t->name, vec, t->regs, t->fma ? "yes" : "no",
               t->cflags[0] ? t->cflags : "(none)",
               t == aec_target_host() ? "runs it (the default)" : aec_target_runs_here(t) ? "runs it" : "-");
    }
    return 0;
}

/* aec targets --cflags NAME: the C compiler's flags for a target, for
 * makefiles that compile emitted C themselves (tests/tests.mk). */
static int print_cflags(const char *name)
{
    const aec_target *t = aec_target_named(name);
    if (!t) {
        use_target(name);   /* says it is unknown, naming the known ones */
        return 2;
    }
    printf("%s\n", t->cflags);
    return 0;
}

/* An option's value, or NULL after a message. */
static const char *value_of(int argc, char **argv, int i)
{
    if (i + 1 >= argc) {
        fprintf(stderr, "aec: %s needs a value\n", argv[i]);
        return NULL;
    }
    return argv[i + 1];
}

/* aec CMD FILE [-o OUT] [--target NAME] */
static int parse_args(int argc, char **argv, const char **file, const char **out, int need_out)
{
    *file = *out = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0) {
            if (!(*out = value_of(argc, argv, i++)))
                return -1;
        } else if (strcmp(argv[i], "--target") == 0 && need_out) {
            const char *name = value_of(argc, argv, i++);
            if (!name || use_target(name) < 0)
                return -1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "aec: unknown option '%s'\n%s", argv[i], usage);
            return -1;
        } else if (*file) {
            fprintf(stderr, "aec: one .ae file at a time ('%s' and '%s')\n", *file, argv[i]);
            return -1;
        } else {
            *file = argv[i];
        }
    }
    if (!*file || (need_out && !*out) || (!need_out && *out)) {
        fprintf(stderr, "%s", usage);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        puts(aec_version());
        return 0;
    }
    if (strcmp(argv[1], "fmt") == 0)
        return fmt_main(argc - 2, argv + 2);
    const char *cmd = argv[1], *file, *out;
    if (strcmp(cmd, "targets") == 0 && argc == 2)
        return list_targets();
    if (strcmp(cmd, "targets") == 0 && argc == 4 && strcmp(argv[2], "--cflags") == 0)
        return print_cflags(argv[3]);
    int is_check = strcmp(cmd, "check") == 0;
    if (!is_check && strcmp(cmd, "emit") != 0 && strcmp(cmd, "build") != 0) {
        fprintf(stderr, "aec: unknown command '%s'\n%s", cmd, usage);
        return 2;
    }
    if (parse_args(argc, argv, &file, &out, !is_check) < 0)
        return 2;
    compiled c;
    int rc = compile_file(file, stderr, &c);
    if (rc == 0) {
        if (is_check)
            print_layer_table(stdout, &c.ir);
        else if (strcmp(cmd, "emit") == 0)
            rc = write_emitted(&c, out);
        else {
            catch_stops();
            rc = compile_exe(&c, out);
        }
    }
    compiled_free(&c);
    return rc == 0 ? 0 : rc > 128 ? rc : 1;
}
