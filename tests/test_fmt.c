/* test_fmt.c: aec fmt (compiler/front/format.c, compiler/fmt.c).
 *
 * Every .ae file of the repository but the malformed corpus is formatted.
 * Each model, mangled (indents, spaces, keyed arguments reversed, lines
 * kept), formats back to itself; formatting is idempotent; and the C
 * emitted from the mangled and the formatted file is identical but for the
 * comments quoting source lines. tests/fmt/messy.in (one-line blocks,
 * calls over lines, comments everywhere) formats to tests/fmt/messy.ae.
 * The command: --check names and fails, --diff prints, plain rewrites, and
 * every file of tests/bad/ is refused with the compiler's first error and
 * left byte for byte as it was. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "front/format.h"
#include "util.h"

#define AEC AEC_BUILD "/aec"

static const char *const model_dirs[] = {AEC_ROOT "/models", AEC_ROOT "/tests/models", AEC_ROOT "/tests/fmt", NULL};

static char *format_file(const char *path)
{
    char *src = slurp(path, NULL);
    assert_non_null(src);
    char *out = format_source(src, strlen(src));
    assert_non_null(out);
    free(src);
    return out;
}

static void every_repo_model_is_formatted(void **state UNUSED)
{
    int total = 0;
    for (int d = 0; model_dirs[d]; d++) {
        int n;
        char **files = ae_files(model_dirs[d], &n);
        for (int i = 0; i < n; i++) {
            char *src = slurp(files[i], NULL), *out = format_file(files[i]);
            if (strcmp(src, out) != 0)
                fail_msg("%s is not formatted: run aec fmt %s", files[i], files[i]);
            free(src);
            free(out);
            proc p = run(AEC, "fmt", "--check", files[i], NULL);
            assert_int_equal(p.status, 0);
            assert_string_equal(p.out, "");
            proc_free(&p);
            total++;
        }
        free_list(files);
    }
    assert_true(total >= 15);      /* 2 models, 12 test models, messy.ae */
}

/* Reverse the keyed arguments inside each ( ), keep the positional ones first. */
static void reverse_keys(const char *in, size_t n, char *out, size_t *k)
{
    char *args[16];
    int na = 0;
    char *copy = strndup(in, n);
    for (char *a = strtok(copy, ","); a && na < 16; a = strtok(NULL, ","))
        args[na++] = a;
    for (int i = 0; i < na; i++)
        if (!strchr(args[i], '='))
            *k += (size_t)sprintf(out + *k, "%s%s", *k && out[*k - 1] != '(' ? "," : "", args[i]);
    for (int i = na - 1; i >= 0; i--)
        if (strchr(args[i], '='))
            *k += (size_t)sprintf(out + *k, "%s%s", out[*k - 1] != '(' ? "," : "", args[i]);
    free(copy);
}

/* A model as a careless hand would write it, on the same lines: tabs for
 * indents, no spaces after commas, spaces around an argument's = and inside
 * parentheses, the keyed arguments reversed, comments moved. Comments
 * themselves are left as they are. */
static char *mangle(const char *src)
{
    size_t len = strlen(src);
    char *out = calloc(len * 4 + 64, 1);
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        if (src[i] == '#') {                    /* a comment, to its line's end */
            while (i < len && src[i] != '\n')
                out[k++] = src[i++];
        } else if (src[i] == '\n') {
            out[k++] = src[i++];
            while (i < len && src[i] == ' ')
                i++;
            out[k++] = '\t';
        } else if (src[i] == '(') {
            size_t j = i + 1;
            while (j < len && src[j] != ')')
                j++;
            out[k++] = '(';
            size_t start = k;
            reverse_keys(src + i + 1, j - i - 1, out, &k);
            /* spaces: none after commas, around = */
            char *t = strndup(out + start, k - start);
            k = start;
            for (char *p = t; *p; p++) {
                if (*p == ' ')
                    continue;
                if (*p == '=')
                    k += (size_t)sprintf(out + k, " = ");
                else
                    out[k++] = *p;
            }
            free(t);
            out[k++] = ' ';
            i = j;
        } else if (src[i] == ' ' && src[i + 1] == '#') {
            out[k++] = '\t';
            i++;
        } else {
            out[k++] = src[i++];
        }
    }
    return out;
}

/* The emitted C of src (as name.ae) into dir/, without the comments that
 * quote the source lines and the copy of the source (source_text): they hold
 * the lines as written. */
static char *emitted_c(const char *name, const char *src, const char *dir)
{
    char path[512], file[600];
    snprintf(path, sizeof path, "%s/%s.ae", dir, name);
    compiled c;
    if (compile_source(path, src, strlen(src), NULL, &c) != 0)
        fail_msg("%s does not compile:\n%s", name, src);
    assert_int_equal(write_emitted(&c, dir), 0);
    char *out = calloc(1, 1 << 24);
    size_t k = 0;
    const char *ext[] = {".c", ".h"};
    for (int e = 0; e < 2; e++) {
        snprintf(file, sizeof file, "%s/%s%s", dir, c.ir.name, ext[e]);
        char *text = slurp(file, NULL);
        assert_non_null(text);
        char quote[128];
        snprintf(quote, sizeof quote, "/* %s.ae:", name);
        int in_source = 0;      /* the .ae file itself, as a string: source_text */
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
            if (strstr(line, "source_text[] ="))
                in_source = 1;
            if (!in_source && !strstr(line, quote) && k + strlen(line) + 2 < (1 << 24))
                k += (size_t)sprintf(out + k, "%s\n", line);
            if (in_source && strlen(line) >= 2 && strcmp(line + strlen(line) - 2, "\";") == 0)
                in_source = 0;
        }
        free(text);
    }
    compiled_free(&c);
    return out;
}

static void mangled_models_format_back_and_mean_the_same(void **state UNUSED)
{
    int checked = 0;
    for (int d = 0; d < 2; d++) {
        int n;
        char **files = ae_files(model_dirs[d], &n);
        for (int i = 0; i < n; i++) {
            char *src = slurp(files[i], NULL), *bad = mangle(src);
            assert_string_not_equal(bad, src);
            char *once = format_source(bad, strlen(bad));
            assert_non_null(once);
            if (strcmp(once, src) != 0)
                fail_msg("%s, mangled, formats to\n%s", files[i], once);
            char *twice = format_source(once, strlen(once));
            assert_string_equal(twice, once);
            char name[128];
            const char *base = strrchr(files[i], '/') + 1;
            snprintf(name, sizeof name, "%.*s", (int)(strlen(base) - 3), base);
            char *c_bad = emitted_c(name, bad, tp("bad")), *c_good = emitted_c(name, once, tp("good"));
            assert_true(strlen(c_good) > 1000);
            if (strcmp(c_bad, c_good) != 0)
                fail_msg("%s: the C emitted before and after formatting differs", files[i]);
            free(c_bad), free(c_good), free(src), free(bad), free(once), free(twice);
            checked++;
        }
        free_list(files);
    }
    assert_true(checked >= 14);     /* 2 models, 12 test models */
}

static void messy_file_formats_to_its_golden(void **state UNUSED)
{
    char *out = format_file(AEC_ROOT "/tests/fmt/messy.in");
    char *want = slurp(AEC_ROOT "/tests/fmt/messy.ae", NULL);
    assert_string_equal(out, want);
    char *again = format_source(out, strlen(out));
    assert_string_equal(again, out);
    /* the command agrees, and refuses nothing here */
    copy_file(AEC_ROOT "/tests/fmt/messy.in", tp("messy.ae"));
    proc p = run(AEC, "fmt", tp("messy.ae"), NULL);
    assert_int_equal(p.status, 0);
    proc_free(&p);
    char *written = slurp(tp("messy.ae"), NULL);
    assert_string_equal(written, want);
    free(out), free(want), free(again), free(written);
}

static void check_and_diff_name_what_would_change(void **state UNUSED)
{
    char *src = slurp(AEC_ROOT "/models/fmnist_cae.ae", NULL), *bad = mangle(src);
    write_bytes(tp("fmnist_cae.ae"), bad, strlen(bad));
    proc p = run(AEC, "fmt", "--check", tp("fmnist_cae.ae"), NULL);
    assert_int_equal(p.status, 1);
    char want[300];
    snprintf(want, sizeof want, "%s\n", tp("fmnist_cae.ae"));
    assert_string_equal(p.out, want);
    proc_free(&p);
    p = run(AEC, "fmt", "--diff", tp("fmnist_cae.ae"), NULL);
    assert_int_equal(p.status, 0);
    assert_non_null(strstr(p.out, "+++ b/"));
    assert_non_null(strstr(p.out, "+    conv1 = conv2d(32, kernel=3, stride=2, pad=1) relu\n"));
    assert_non_null(strstr(p.out, "-\tconv1 = conv2d("));
    proc_free(&p);
    char *still = slurp(tp("fmnist_cae.ae"), NULL);
    assert_string_equal(still, bad);            /* --check and --diff write nothing */
    p = run(AEC, "fmt", tp("fmnist_cae.ae"), NULL);
    assert_int_equal(p.status, 0);
    proc_free(&p);
    char *now = slurp(tp("fmnist_cae.ae"), NULL);
    assert_string_equal(now, src);
    p = run(AEC, "fmt", "--check", tp("fmnist_cae.ae"), NULL);
    assert_int_equal(p.status, 0);
    proc_free(&p);
    p = run(AEC, "fmt", "--sort", tp("fmnist_cae.ae"), NULL);
    assert_int_equal(p.status, 2);
    assert_non_null(strstr(p.err, "unknown option '--sort'"));
    proc_free(&p);
    p = run(AEC, "fmt", NULL);
    assert_int_equal(p.status, 2);
    proc_free(&p);
    free(src), free(bad), free(still), free(now);
}

/* Each malformed file: refused with the error aec check gives first, and
 * left as it was, with or without --check. */
static void malformed_corpus_is_refused(void **state UNUSED)
{
    int n;
    char **files = ae_files(AEC_ROOT "/tests/bad", &n);
    assert_true(n >= 100);
    for (int i = 0; i < n; i++) {
        size_t len, len2;
        uint8_t *before = read_bytes(files[i], &len);
        proc want = run(AEC, "check", files[i], NULL);
        assert_int_equal(want.status, 1);
        char *eol = strchr(want.err, '\n');
        assert_non_null(eol);
        *eol = '\0';
        assert_true(strstr(want.err, "error:") != NULL);
        for (int check = 0; check < 2; check++) {
            proc p = check ? run(AEC, "fmt", "--check", files[i], NULL) : run(AEC, "fmt", files[i], NULL);
            assert_int_equal(p.status, 1);
            if (strncmp(p.err, want.err, strlen(want.err)) != 0)
                fail_msg("aec fmt %s said\n%s\nnot first\n%s", files[i], p.err, want.err);
            assert_non_null(strstr(p.err, "not formatted: it does not compile"));
            assert_string_equal(p.out, "");
            proc_free(&p);
        }
        uint8_t *after = read_bytes(files[i], &len2);
        assert_int_equal(len, len2);
        assert_memory_equal(before, after, len);
        free(before), free(after);
        proc_free(&want);
    }
    free_list(files);
}

int main(void)
{
    if (tmpdir_setup("/tmp/aec_test_fmt.XXXXXX") < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_repo_model_is_formatted),
        cmocka_unit_test(mangled_models_format_back_and_mean_the_same),
        cmocka_unit_test(messy_file_formats_to_its_golden),
        cmocka_unit_test(check_and_diff_name_what_would_change),
        cmocka_unit_test(malformed_corpus_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, tmpdir_teardown);
}
