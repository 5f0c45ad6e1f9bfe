/* test_tune.c: aec tune (compiler/tune.c). On a tiny model with a schedule
 * block of its own: the block it prints has a line for every pass of every
 * convolution and for the linear layers' forward passes, each with its time
 * and the others'; its header names the CPU and the target; the model's
 * split line is kept; -o writes the model with the tuned block in place of
 * its own, which aec check accepts and whose emitted C carries each line's
 * lowering. Bad arguments are refused with a message. Timings are never
 * asserted: they are the machine's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "aec.h"
#include "util.h"

#define AEC AEC_BUILD "/aec"

/* The tiny model with every layer kind, and a schedule block of its own. */
static void write_model(const char *path)
{
    size_t len;
    char *src = slurp(AEC_ROOT "/tests/models/tiny_all.ae", &len);
    char *end = strrchr(src, '}');
    assert_non_null(end);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%.*s  schedule {  # hand-written }\n    c1 = gemm()\n    model = split(workers=1)\n  }\n}\n",
            (int)(end - src), src);
    fclose(f);
    free(src);
}

/* The host's default target, from aec targets. */
static void host_target(char *name, size_t size)
{
    proc p = run(AEC, "targets", NULL);
    assert_int_equal(p.status, 0);
    char *line = strstr(p.out, "(the default)");
    assert_non_null(line);
    while (line > p.out && line[-1] != '\n')
        line--;
    snprintf(name, size, "%.*s", (int)strcspn(line, " "), line);
    proc_free(&p);
}

/* The CPU's name as /proc/cpuinfo gives it (read by lines: its size is 0). */
static void cpu_model(char *name, size_t size)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512], *p;
    snprintf(name, size, "an unknown CPU");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && (p = strchr(line, ':'))) {
            snprintf(name, size, "%.*s", (int)strcspn(p + 2, "\n"), p + 2);
            break;
        }
    if (f)
        fclose(f);
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

static void tuned_block_has_every_pass_and_parses_back(void **state)
{
    (void)state;
    write_model(tp("tiny.ae"));
    proc p = run(AEC, "tune", tp("tiny.ae"), "--seconds", "0.1", "-o", tp("tuned.ae"), NULL);
    assert_int_equal(p.status, 0);
    char target[64], cpu[256], want[400];
    host_target(target, sizeof target);
    cpu_model(cpu, sizeof cpu);
    snprintf(want, sizeof want, "schedule {   # tuned by aec tune on %s (%s), batch 4, 1 worker,", cpu, target);
    assert_non_null(strstr(p.out, want));
    /* every convolution's two passes, the linear layers' forward passes */
    static const char *const passes[] = { "c1.forward ", "c1.backward ", "c2.forward ", "c2.backward ", "z.forward ",
                                          "d1.forward ", "u1.forward ", "u1.backward ", "u2.forward ",
                                          "u2.backward ", NULL };
    int lines = 0;
    for (int i = 0; passes[i]; i++, lines++) {
        const char *line = strstr(p.out, passes[i]);
        assert_non_null(line);
        size_t n = strcspn(line, "\n");
        char text[512];
        snprintf(text, sizeof text, "%.*s", (int)n, line);
        assert_non_null(strstr(text, " ms; "));          /* its time, then the others' */
        assert_non_null(strstr(text, "gemm"));
        assert_non_null(strstr(text, "direct"));
        if (text[0] != 'z' && text[0] != 'd')
            assert_non_null(strstr(text, "winograd"));
    }
    assert_null(strstr(p.out, "d1.backward"));          /* a linear layer's backward pass is gemm only */
    assert_non_null(strstr(p.out, "    model = split(workers=1)   # kept from the model\n"));
    assert_non_null(strstr(p.err, "aec tune: building gemm"));
    assert_non_null(strstr(p.err, "aec tune: round 3/3"));
    /* -o: the model with the tuned block instead of its own, and it compiles */
    char *out = slurp(tp("tuned.ae"), NULL);
    assert_int_equal(count(out, "schedule {"), 1);
    assert_null(strstr(out, "hand-written"));
    assert_non_null(strstr(out, want));
    free(out);
    proc c = run(AEC, "check", tp("tuned.ae"), NULL);
    assert_int_equal(c.status, 0);
    proc e = run(AEC, "emit", tp("tuned.ae"), "-o", tp("gen"), NULL);
    assert_int_equal(e.status, 0);
    char *gen = slurp(tp("gen/tiny_all.c"), NULL);
    assert_int_equal(count(gen, "), from the schedule block */"), lines);
    for (const char *l = strstr(p.out, "= "); l; l = strstr(l + 1, "= ")) {
        char lowering[64], comment[96];
        if (sscanf(l + 2, "%63[a-z]", lowering) != 1 || strcmp(lowering, "split") == 0)
            continue;
        snprintf(comment, sizeof comment, "/* schedule: %s(", lowering);
        assert_non_null(strstr(gen, comment));
    }
    free(gen);
    proc_free(&p), proc_free(&c), proc_free(&e);
}

static void bad_arguments_are_refused(void **state)
{
    (void)state;
    proc p = run(AEC, "tune", AEC_ROOT "/tests/models/tiny_all.ae", "--target", "pdp11", NULL);
    assert_int_equal(p.status, 2);
    assert_non_null(strstr(p.err, "unknown target"));
    proc_free(&p);
    p = run(AEC, "tune", tp("no-such.ae"), NULL);
    assert_int_equal(p.status, 1);
    assert_non_null(strstr(p.err, "no-such.ae: error: cannot read"));
    proc_free(&p);
    p = run(AEC, "tune", AEC_ROOT "/tests/models/tiny_all.ae", "--seconds", "0", NULL);
    assert_int_equal(p.status, 2);
    proc_free(&p);
    p = run(AEC, "tune", AEC_ROOT "/tests/models/tiny_all.ae", "--frobnicate", NULL);
    assert_int_equal(p.status, 2);
    assert_non_null(strstr(p.err, "unknown option --frobnicate"));
    proc_free(&p);
    const char *bad = "model bad {\n  input 1x8x8 range [0, 1]\n  encoder {\n    c1 = conv2d(4, kernel=3\n  }\n}\n";
    write_bytes(tp("bad.ae"), bad, strlen(bad));
    p = run(AEC, "tune", tp("bad.ae"), NULL);
    assert_int_equal(p.status, 1);
    char want[128];
    snprintf(want, sizeof want, "%s:5:", tp("bad.ae"));  /* the compiler's positioned error */
    assert_non_null(strstr(p.err, want));
    assert_null(strstr(p.err, "building"));
    proc_free(&p);
}

int main(void)
{
    if (tmpdir_setup("/tmp/aec_test_tune.XXXXXX") < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tuned_block_has_every_pass_and_parses_back),
        cmocka_unit_test(bad_arguments_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, tmpdir_teardown);
}
