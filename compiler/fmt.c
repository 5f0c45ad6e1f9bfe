/* fmt.c: the command `aec fmt [--check] [--diff] FILE.ae...`.
 *
 * Each file is compiled first (driver.c): a file the compiler refuses is
 * refused here with the compiler's own positioned errors, never laid out.
 * Then front/format.c lays it out. Without options a file that changes is
 * rewritten atomically (a temporary file, then rename); --check only names
 * the files that would change, --diff prints `diff -u` of each. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/util.h"
#include "build.h"
#include "driver.h"
#include "fmt.h"
#include "front/format.h"

static const char fmt_usage[] = "usage: aec fmt [--check] [--diff] FILE.ae...\n";

static int write_whole(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* diff -u of path against text, labelled as the file before and after. */
static int show_diff(const char *path, const char *text)
{
    char tmp[] = "/tmp/aec-fmt-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0 || (close(fd), write_whole(tmp, text)) < 0) {
        say("aec: fmt", "cannot write a temporary file: %s", strerror(errno));
        return -1;
    }
    char before[4200], after[4200];
    snprintf(before, sizeof before, "a/%s", path);
    snprintf(after, sizeof after, "b/%s", path);
    char *argv[] = { "diff", "-u", "--label", before, "--label", after, (char *)path, tmp, NULL };
    int rc = build_run_status("aec: fmt", argv, NULL);
    unlink(tmp);
    /* diff exits 1 when the files differ, as they do here */
    return rc == 0 || rc == 1 ? 0 : -1;
}

/* 0 formatted already, 1 changed (or would), -1 refused or failed. */
static int format_one(const char *path, int check, int diff)
{
    compiled c;
    if (compile_file(path, stderr, &c) < 0) {
        compiled_free(&c);
        say("aec: fmt", "%s not formatted: it does not compile", path);
        return -1;
    }
    char *text = format_source(c.source, c.len);
    int rc = 0;
    if (!text) {
        say("aec: fmt", "%s: the lexer refused a token", path);
        rc = -1;
    } else if (strlen(text) != c.len || memcmp(text, c.source, c.len) != 0) {
        rc = 1;
        if (check)
            printf("%s\n", path);
        if (diff && show_diff(path, text) < 0)
            rc = -1;
        if (!check && !diff && write_file_atomic(path, text) < 0) {
            say("aec: fmt", "cannot write %s: %s", path, strerror(errno));
            rc = -1;
        }
    }
    free(text);
    compiled_free(&c);
    return rc;
}

int fmt_main(int argc, char **argv)
{
    int check = 0, diff = 0, files = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--check") == 0)
            check = 1;
        else if (strcmp(argv[i], "--diff") == 0)
            diff = 1;
        else if (argv[i][0] == '-' && argv[i][1]) {
            say("aec: fmt", "unknown option '%s'", argv[i]);
            fputs(fmt_usage, stderr);
            return 2;
        } else
            files++;
    }
    if (files == 0) {
        fputs(fmt_usage, stderr);
        return 2;
    }
    int failed = 0, changed = 0;
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1])
            continue;
        int rc = format_one(argv[i], check, diff);
        failed |= rc < 0;
        changed |= rc > 0;
    }
    return failed || (check && changed) ? 1 : 0;
}
