/* test_corpus.c: the corpus of malformed models in tests/bad/.
 *
 * Each file there is a small, realistic model with exactly one mistake.
 * tests/bad/EXPECT gives, for every file, the first line the compiler must
 * print without the leading "PATH:" (one table for all files, since the empty
 * file and files whose first bytes are the mistake cannot carry a comment).
 * compile_file must fail on each one, and its first diagnostic line must be
 * exactly PATH ":" EXPECTED, with PATH as passed. A line marked "# BUG" holds
 * what the compiler should say; today it says something else. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "util.h"

#define BAD AEC_ROOT "/tests/bad"

typedef struct {
    char *file;
    char *want;
    int bug;        /* marked "# BUG" */
    int seen;
} expectation;

typedef struct {
    expectation *e;
    int n;
} table;

/* tests/bad/EXPECT: FILE<TAB>EXPECTED[<TAB># BUG: why]; '#' lines and blank
 * lines are comments. */
static table read_table(void)
{
    size_t len;
    char *text = (char *)read_bytes(BAD "/EXPECT", &len);
    text[len] = '\0';
    table t = {NULL, 0};
    for (char *line = text, *next; line && *line; line = next) {
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *tab = strchr(line, '\t');
        if (!tab)
            fail_msg("tests/bad/EXPECT: no tab in the line '%s'", line);
        *tab = '\0';
        char *want = tab + 1, *note = strchr(want, '\t');
        int bug = 0;
        if (note) {
            *note++ = '\0';
            if (strncmp(note, "# BUG", 5) != 0)
                fail_msg("tests/bad/EXPECT: %s: a third field must start with '# BUG', not '%s'", line, note);
            bug = 1;
        }
        for (int i = 0; i < t.n; i++)
            if (strcmp(t.e[i].file, line) == 0)
                fail_msg("tests/bad/EXPECT: %s is listed twice", line);
        t.e = realloc(t.e, (size_t)(t.n + 1) * sizeof *t.e);
        assert_non_null(t.e);
        t.e[t.n++] = (expectation){strdup(line), strdup(want), bug, 0};
    }
    free(text);
    return t;
}

static void free_table(table *t)
{
    for (int i = 0; i < t->n; i++) {
        free(t->e[i].file);
        free(t->e[i].want);
    }
    free(t->e);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The corpus's files (every entry of tests/bad/ but EXPECT), sorted by name. */
static char **list_corpus(int *n)
{
    DIR *d = opendir(BAD);
    assert_non_null(d);
    char **names = NULL;
    *n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "EXPECT") == 0)
            continue;
        names = realloc(names, (size_t)(*n + 1) * sizeof *names);
        assert_non_null(names);
        names[(*n)++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)*n, sizeof *names, by_name);
    return names;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Compile one file; 0 if it fails with the expected first line, else 1
 * (reported). */
static int check_file(const char *name, expectation *e)
{
    char path[512], want[1024];
    snprintf(path, sizeof path, "%s/%s", BAD, name);
    if (!e) {
        print_error("%s: not in tests/bad/EXPECT\n", name);
        return 1;
    }
    e->seen = 1;
    snprintf(want, sizeof want, "%s:%s", path, e->want);

    char *err = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&err, &len);
    assert_non_null(f);
    compiled c;
    int rc = compile_file(path, f, &c);
    assert_int_equal(fclose(f), 0);
    compiled_free(&c);

    size_t first = strcspn(err, "\n");
    int ok = rc == -1 && first == strlen(want) && strncmp(err, want, first) == 0;
    if (!ok) {
        if (rc != -1)
            print_error("%s%s: compiled (rc %d); want it to fail with\n    %s\n", name,
                        e->bug ? " (marked BUG)" : "", rc, want);
        else
            print_error("%s%s:\n    got:  %.*s\n    want: %s\n", name, e->bug ? " (marked BUG)" : "",
                        (int)first, err, want);
    }
    free(err);
    return !ok;
}

static void test_corpus_messages(void **state)
{
    table t = read_table();
    int n, bad = 0, bad_bugs = 0;
    char **names = list_corpus(&n);
    for (int i = 0; i < n; i++) {
        expectation *e = NULL;
        for (int j = 0; j < t.n && !e; j++)
            if (strcmp(t.e[j].file, names[i]) == 0)
                e = &t.e[j];
        if (check_file(names[i], e)) {
            bad++;
            bad_bugs += e && e->bug;
        }
    }
    for (int j = 0; j < t.n; j++)
        if (!t.e[j].seen) {
            print_error("%s: in tests/bad/EXPECT, but there is no such file\n", t.e[j].file);
            bad++;
        }
    if (bad)
        print_error("%d of %d files mismatch (%d of them marked BUG in tests/bad/EXPECT)\n", bad, n, bad_bugs);
    free_names(names, n);
    free_table(&t);
    assert_int_equal(bad, 0);
}

static void test_corpus_size(void **state)
{
    int n;
    char **names = list_corpus(&n);
    free_names(names, n);
    if (n < 50)
        fail_msg("tests/bad/ has %d files; the corpus needs at least 50", n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_size),
        cmocka_unit_test(test_corpus_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
