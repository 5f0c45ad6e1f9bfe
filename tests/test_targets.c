/* test_targets.c: the CPU targets (compiler/lower/target.c). The emitted C
 * of every model compiles warning-free for every target (aarch64 with
 * Debian's cross compiler, compile only); the kernels' loops keep their
 * register blocks in registers on each (tests/spills.sh on the assembly);
 * the emitted C names its target and is the same bytes every time; a bad
 * target is refused; and an executable whose target the CPU lacks stops
 * with a message naming both. The gradient checks and the parity test run
 * per target as test_gradcheck and test_parity (tests/tests.mk). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "aec.h"
#include "fmnist_cae.h"
#include "util.h"

static const char *const TARGETS[] = {"x86-64-v4", "x86-64-v3", "generic", "aarch64", NULL};
#define AEC AEC_BUILD "/aec"

/* The .ae files of models/ and tests/models/, as paths; NULL after the last. */
static char **model_files(void)
{
    int a, b;
    char **files = ae_files(AEC_ROOT "/models", &a), **more = ae_files(AEC_ROOT "/tests/models", &b);
    files = realloc(files, (size_t)(a + b + 1) * sizeof *files);
    assert_non_null(files);
    memcpy(files + a, more, (size_t)(b + 1) * sizeof *more);
    free(more);
    assert_true(a + b >= 14);
    return files;
}

/* The model's name: the file's base name without .ae (every test model is named so). */
static void base_of(const char *path, char *name, size_t size)
{
    const char *slash = strrchr(path, '/');
    snprintf(name, size, "%s", slash ? slash + 1 : path);
    name[strlen(name) - 3] = '\0';
}

/* The C compiler for target t: Debian's cross compiler for aarch64 on an x86 host. */
static const char *cc_for(const char *t)
{
#if defined(__x86_64__)
    if (strcmp(t, "aarch64") == 0)
        return "aarch64-linux-gnu-gcc";
#endif
    (void)t;
    return "cc";
}

/* Can this machine compile for target t? Where not, say why (once). */
static int can_compile_for(const char *t)
{
    if (strcmp(cc_for(t), "cc") == 0)
        return 1;
    if (shell("command -v %s >/dev/null 2>&1", cc_for(t)) != 0) {
        print_message("no %s (apt-get install gcc-aarch64-linux-gnu): %s not compiled\n", cc_for(t), t);
        return 0;
    }
    if (access("/usr/include/aarch64-linux-gnu/cblas.h", R_OK) != 0) {
        print_message("no cblas.h for arm64 (dpkg --add-architecture arm64; apt-get install "
                      "libopenblas-dev:arm64): %s not compiled\n", t);
        return 0;
    }
    return 1;
}

/* Emit model into tmpdir/T/, then compile it for T with extra flags (-c or -S -fno-inline). */
static void emit_and_compile(const char *model, const char *t, const char *extra, const char *ext)
{
    char name[128];
    base_of(model, name, sizeof name);
    assert_int_equal(shell("mkdir -p %s/%s && %s emit --target %s %s -o %s/%s", tmpdir, t, AEC, t, model, tmpdir,
                           t), 0);
    int rc = shell("%s -std=c11 -O2 -fopenmp -Wall -Wextra -Werror $(%s targets --cflags %s) %s -DAEC_NO_MAIN "
                   "-I%s/runtime %s/%s/%s.c -o %s/%s/%s.%s",
                   cc_for(t), AEC, t, extra, AEC_ROOT, tmpdir, t, name, tmpdir, t, name, ext);
    if (rc != 0)
        fail_msg("%s, emitted for %s, does not compile warning-free (see above)", model, t);
}

static void every_model_compiles_for_every_target(void **state UNUSED)
{
    char **files = model_files();
    int targets = 0;
    for (int t = 0; TARGETS[t]; t++) {
        if (!can_compile_for(TARGETS[t]))
            continue;
        for (int i = 0; files[i]; i++)
            emit_and_compile(files[i], TARGETS[t], "-c", "o");
        targets++;
    }
    free_list(files);
    assert_true(targets >= 3);
}

/* A file whose schedule sets a register block by hand (unroll=N) is the
 * user's choice of block, and may spill: tiny_direct's unroll=4 does on 16
 * registers. Every block aec chose itself must not. */
static int sets_unroll(const char *path)
{
    char *text = slurp(path, NULL);
    assert_non_null(text);
    int yes = strstr(text, "unroll=") != NULL;
    free(text);
    return yes;
}

static void kernels_keep_their_blocks_in_registers(void **state UNUSED)
{
    char **files = model_files();
    for (int t = 0; TARGETS[t]; t++) {
        if (!can_compile_for(TARGETS[t]))
            continue;
        for (int i = 0; files[i]; i++)
            if (!sets_unroll(files[i]))
                emit_and_compile(files[i], TARGETS[t], "-S -fno-inline", "s");
        if (shell("%s/tests/spills.sh %s/%s/*.s", AEC_ROOT, tmpdir, TARGETS[t]) != 0)
            fail_msg("a kernel spills its register block on %s (see above)", TARGETS[t]);
    }
    free_list(files);
}

/* The check itself finds a spill: conv2's block at 4 x 8 vectors on 16 registers. */
static void spill_check_finds_a_spill(void **state UNUSED)
{
    char *text = slurp(AEC_ROOT "/models/fmnist_cae.ae", NULL), path[512];
    assert_non_null(text);
    char *end = strrchr(text, '}');
    assert_non_null(end);
    *end = '\0';
    snprintf(path, sizeof path, "%s/spill/fmnist_cae.ae", tmpdir);
    assert_int_equal(shell("mkdir -p %s/spill", tmpdir), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s  schedule {\n    conv2 = direct(unroll=8)\n  }\n}\n", text);
    fclose(f);
    free(text);
    assert_int_equal(shell("%s emit --target x86-64-v3 %s -o %s/spill && cc -std=c11 -O2 -fopenmp -march=x86-64-v3 "
                           "-fno-inline -DAEC_NO_MAIN -I%s/runtime -S %s/spill/fmnist_cae.c -o %s/spill/f.s",
                           AEC, path, tmpdir, AEC_ROOT, tmpdir, tmpdir), 0);
    proc p = run(AEC_ROOT "/tests/spills.sh", tp("spill/f.s"), NULL);
    assert_int_equal(p.status, 1);
    assert_non_null(strstr(p.out, "conv2_block"));
    proc_free(&p);
}

/* The first lines name the target; the same .ae and target give the same bytes. */
static void emitted_c_names_its_target_and_repeats(void **state UNUSED)
{
    const char *ae = AEC_ROOT "/models/celeba_vae.ae";
    assert_int_equal(shell("mkdir -p %s/a %s/b && %s emit --target x86-64-v3 %s -o %s/a && "
                           "%s emit --target x86-64-v3 %s -o %s/b", tmpdir, tmpdir, AEC, ae, tmpdir, AEC, ae, tmpdir), 0);
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/a/celeba_vae.c", tmpdir);
    snprintf(b, sizeof b, "%s/b/celeba_vae.c", tmpdir);
    size_t na = 0, nb = 0;
    char *ta = slurp(a, &na), *tb = slurp(b, &nb);
    assert_non_null(ta);
    assert_non_null(tb);
    assert_true(na == nb && memcmp(ta, tb, na) == 0);
    assert_non_null(strstr(ta, " * Target x86-64-v3: AVX2, 16 vector registers of 8 floats, fused multiply-add.\n"));
    assert_true(strstr(ta, "Target x86-64-v3") < strstr(ta, "#include"));
    assert_non_null(strstr(ta, "typedef float aec_v8 __attribute__((vector_size(32)));"));
    assert_non_null(strstr(ta, "__builtin_cpu_supports(\"x86-64-v3\")"));
    assert_non_null(strstr(ta, ".target = \"x86-64-v3\", .cpu_runs = cpu_runs_target,"));
    free(ta);
    free(tb);
}

static void bad_targets_are_refused(void **state UNUSED)
{
    proc p = run(AEC, "emit", "--target", "x86-64-v5", AEC_ROOT "/models/fmnist_cae.ae", "-o", tmpdir, NULL);
    assert_int_equal(p.status, 2);
    assert_non_null(strstr(p.err, "unknown target 'x86-64-v5' (known: x86-64-v4 x86-64-v3 generic aarch64)"));
    proc_free(&p);
    p = run(AEC, "build", AEC_ROOT "/models/fmnist_cae.ae", "-o", tp("m"), "--target", NULL);
    assert_int_equal(p.status, 2);
    assert_non_null(strstr(p.err, "--target needs a value"));
    proc_free(&p);
#if defined(__x86_64__)
    p = run(AEC, "build", "--target", "aarch64", AEC_ROOT "/models/fmnist_cae.ae", "-o", tp("m"), NULL);
    assert_int_equal(p.status, 1);
    assert_non_null(strstr(p.err, "cannot build a aarch64 executable on this host"));
    assert_int_equal(exists(tp("m")), 0);
    proc_free(&p);
#endif
}

static void targets_lists_each_and_the_default(void **state UNUSED)
{
    proc p = run(AEC, "targets", NULL);
    assert_int_equal(p.status, 0);
    for (int t = 0; TARGETS[t]; t++)
        assert_non_null(strstr(p.out, TARGETS[t]));
    char *d = strstr(p.out, "(the default)");
    assert_non_null(d);
    assert_null(strstr(d + 1, "(the default)"));
    proc_free(&p);
    p = run(AEC, "targets", "--cflags", "x86-64-v3", NULL);
    assert_int_equal(p.status, 0);
    assert_string_equal(p.out, "-march=x86-64-v3\n");
    proc_free(&p);
}

static int never(void) { return 0; }

/* A CPU without the target's instructions: a message naming the model,
 * the target and the CPU; a CPU with them, or a target that needs nothing
 * (cpu_runs NULL), passes. */
static void a_cpu_without_the_target_is_told(void **state UNUSED)
{
    aec_model m = fmnist_cae_model;
    assert_int_equal(aec_cpu_fits(&m, stderr), 0);  /* built for this host's target */
    m.cpu_runs = never;
    m.target = "x86-64-v4";
    char *msg = NULL;
    size_t len = 0;
    FILE *err = open_memstream(&msg, &len);
    assert_int_equal(aec_cpu_fits(&m, err), -1);
    fclose(err);
    assert_non_null(strstr(msg, "fmnist_cae: this executable was built for target x86-64-v4"));
    assert_non_null(strstr(msg, "this CPU"));
    assert_non_null(strstr(msg, "--target"));
    free(msg);
    m.cpu_runs = NULL;
    assert_int_equal(aec_cpu_fits(&m, stderr), 0);
}

int main(void)
{
    if (tmpdir_setup("/tmp/aec_test_targets.XXXXXX") < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_model_compiles_for_every_target),
        cmocka_unit_test(kernels_keep_their_blocks_in_registers),
        cmocka_unit_test(spill_check_finds_a_spill),
        cmocka_unit_test(emitted_c_names_its_target_and_repeats),
        cmocka_unit_test(bad_targets_are_refused),
        cmocka_unit_test(targets_lists_each_and_the_default),
        cmocka_unit_test(a_cpu_without_the_target_is_told),
    };
    return cmocka_run_group_tests_name("targets", tests, NULL, tmpdir_teardown);
}
