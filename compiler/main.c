/* main.c: the aec command.
 *   aec check FILE.ae            validate, print the layer table
 *   aec emit FILE.ae -o DIR      write DIR/MODEL.c and DIR/MODEL.h
 *   aec build FILE.ae -o EXE     emit, compile, link with the runtime and OpenBLAS
 *   aec tune FILE.ae             time each pass's lowerings here, print the fastest as a schedule (tune.c)
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
#include "build.h"
#include "driver.h"
#include "fmt.h"
#include "tune.h"
#include "home.h"
#include "ir/table.h"
#include "lower/target.h"

static const char usage[] =
    "usage: aec check FILE.ae                     validate the model and print its layer table\n"
    "       aec emit FILE.ae -o DIR [--target T]  write the generated C: DIR/MODEL.c and DIR/MODEL.h\n"
    "       aec build FILE.ae -o EXE [--target T] emit, compile and link one executable for the model\n"
    "       aec tune FILE.ae [--target T] [--seconds S] [-o OUT.ae]\n"
    "                                             time each layer's lowerings on this CPU and print\n"
    "                                             the fastest as a schedule block (-o: the model with it)\n"
    "       aec targets [--cflags T]              list the targets (T) and which this CPU runs,\n"
    "                                             or print one target's C compiler flags\n"
    "       aec fmt [--check] [--diff] FILE.ae... rewrite the files in the canonical layout\n"
    "       aec --version                         the version and the commit aec was built from\n"
    "\n"
    "--target: x86-64-v4, x86-64-v3, generic or aarch64; default: this CPU's (aec targets)\n"
    "environment: CC (default cc), AEC_MPI=0 (no MPI even where libaecrt-mpi.a and mpicc are), AEC_CFLAGS (after the target's -march; default " DEFAULT_CFLAGS "),\n"
    "             AEC_HOME (a checkout with runtime/ and build/libaecrt.a; default: beside aec)\n"
    "see man aec, man aec-language\n";

/* --target NAME: the target kernels are shaped for from now on. */
static int use_target(const char *name)
{
    const aec_target *t = aec_target_named(name);
    if (!t) {
        sbuf known = {0};
        for (int i = 0; aec_targets[i]; i++)
            sb_printf(&known, " %s", aec_targets[i]->name);
        say("aec", "unknown target '%s' (known:%s)", name, known.s);
        sb_free(&known);
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
        say("aec", "%s needs a value", argv[i]);
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
            say("aec", "unknown option '%s'", argv[i]);
            fputs(usage, stderr);
            return -1;
        } else if (*file) {
            say("aec", "one .ae file at a time ('%s' and '%s')", *file, argv[i]);
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
    if (strcmp(argv[1], "tune") == 0)
        return tune_main(argc - 2, argv + 2);
    const char *cmd = argv[1], *file, *out;
    if (strcmp(cmd, "targets") == 0 && argc == 2)
        return list_targets();
    if (strcmp(cmd, "targets") == 0 && argc == 4 && strcmp(argv[2], "--cflags") == 0)
        return print_cflags(argv[3]);
    int is_check = strcmp(cmd, "check") == 0;
    if (!is_check && strcmp(cmd, "emit") != 0 && strcmp(cmd, "build") != 0) {
        say("aec", "unknown command '%s'", cmd);
        fputs(usage, stderr);
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
            build_catch_stops();
            rc = build_exe(&c, out);
        }
    }
    compiled_free(&c);
    return rc == 0 ? 0 : rc > 128 ? rc : 1;
}
