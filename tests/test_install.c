/* test_install.c: aec as an installed tool (install.mk, compiler/home.c, man/, editors/).
 *
 * make install into a temporary PREFIX; from a folder with no checkout, the
 * installed aec builds fmnist_cae and the model trains on Fashion-MNIST; the
 * prefix, moved, still works; aec.pc links a program of one's own; make
 * uninstall leaves no file. DESTDIR stages the same tree. The man pages
 * render without warnings; both editor grammars name every keyword of the
 * lexer and every layer kind, activation, loss, optimizer and latent of
 * sema's table; bash completes aec's commands and a model's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

/* The files install writes, below PREFIX. */
static const char *const installed[] = {
    "bin/aec", "lib/libaecrt.a", "include/aec/aec.h", "lib/pkgconfig/aec.pc",
    "share/man/man1/aec.1", "share/man/man1/aec-model.1", "share/man/man5/aec-language.5",
    "share/vim/vimfiles/syntax/ae.vim", "share/vim/vimfiles/ftdetect/ae.vim",
    "share/aec/editors/vscode/package.json", "share/aec/editors/vscode/syntaxes/ae.tmLanguage.json",
    "share/bash-completion/completions/aec", NULL};

/* ... and lib/libaecrt-mpi.a, where make built it (it found mpicc). */
static int n_installed(void)
{
    return 13 + exists(AEC_BUILD "/libaecrt-mpi.a");
}

/* make -C the checkout TARGET VAR=VALUE..., outside the make that runs the
 * tests (no inherited MAKEFLAGS: no SAN=1, no jobserver). */
static proc make(const char *target, const char *var1, const char *var2)
{
    unsetenv("MAKEFLAGS");
    unsetenv("MFLAGS");
    unsetenv("MAKELEVEL");
    return run("/usr/bin/env", "make", "-s", "-C", AEC_ROOT, target, var1, var2, NULL);
}

static void expect_ok(proc p, const char *what)
{
    if (p.status != 0)
        fail_msg("%s: exit %d\n%s%s", what, p.status, p.out, p.err);
    proc_free(&p);
}

/* Regular files below dir, counted (find). */
static int count_files(const char *dir)
{
    proc p = run("/usr/bin/env", "find", dir, "-type", "f", NULL);
    int n = 0;
    for (char *c = p.out; c && *c; c++)
        n += *c == '\n';
    proc_free(&p);
    return n;
}

static void install_build_train_uninstall(void **state UNUSED)
{
    need_fashion_mnist(FMNIST);
    char prefix[256], var[300], path[512];
    snprintf(prefix, sizeof prefix, "%s", tp("prefix"));
    snprintf(var, sizeof var, "PREFIX=%s", prefix);
    expect_ok(make("install", var, NULL), "make install");
    for (int i = 0; installed[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", prefix, installed[i]);
        if (!exists(path))
            fail_msg("make install did not write %s", path);
    }
    assert_int_equal(count_files(prefix), n_installed());
    char aec[512];
    snprintf(aec, sizeof aec, "%s/bin/aec", prefix);
    proc p = run(aec, "--version", NULL);
    assert_int_equal(p.status, 0);
    assert_true(strncmp(p.out, "aec 0.1.0 (commit ", 18) == 0);
    assert_null(strstr(p.out, "unknown"));
    proc_free(&p);

    /* a folder with no checkout, and no AEC_HOME */
    unsetenv("AEC_HOME");
    char work[256];
    snprintf(work, sizeof work, "%s", tp("work"));
    assert_int_equal(mkdir(work, 0755), 0);
    snprintf(path, sizeof path, "%s/m.ae", work);
    copy_file(AEC_ROOT "/models/fmnist_cae.ae", path);
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(work), 0);
    expect_ok(run(aec, "build", "m.ae", "-o", "m", NULL), "installed aec build");
    p = run("./m", "train", "--data", FMNIST, "--out", "run", "--epochs", "1", "--limit", "512",
            "--batch", "64", "--no-report", NULL);
    if (p.status != 0)
        fail_msg("./m train: exit %d\n%s", p.status, p.err);
    proc_free(&p);
    assert_true(exists("run/model.safetensors"));
    char *csv = slurp("run/loss.csv", NULL);
    assert_non_null(csv);
    int epoch = 0;
    double train_loss = 0, val_loss = 0;
    char *row = strchr(csv, '\n');
    assert_non_null(row);
    assert_int_equal(sscanf(row + 1, "%d,%lf,%lf", &epoch, &train_loss, &val_loss), 3);
    assert_int_equal(epoch, 1);
    assert_true(train_loss > 0.001 && train_loss < 0.5);      /* mse of [0, 1] pixels */
    assert_true(val_loss > 0.001 && val_loss < 0.5);
    free(csv);

    /* aec.pc: a program of one's own links the emitted model and the runtime */
    expect_ok(run(aec, "emit", "m.ae", "-o", "gen", NULL), "installed aec emit");
    char pcpath[600], cmd[2048];
    snprintf(pcpath, sizeof pcpath, "%s/lib/pkgconfig", prefix);
    setenv("PKG_CONFIG_PATH", pcpath, 1);
    p = run("/usr/bin/env", "pkg-config", "--cflags", "--libs", "aec", NULL);
    assert_int_equal(p.status, 0);
    snprintf(path, sizeof path, "-I%s/include/aec", prefix);
    assert_non_null(strstr(p.out, path));
    assert_non_null(strstr(p.out, "-laecrt"));
    proc_free(&p);
    /* under make test SAN=1 the installed library is the sanitized one (SAN=1
     * reaches make install through the environment): link as aec build does,
     * with $AEC_CFLAGS (the sanitizers then; empty otherwise) */
    snprintf(cmd, sizeof cmd, "cc -O0 -std=c11 ${AEC_CFLAGS:-} $(pkg-config --cflags aec) gen/fmnist_cae.c "
                              "-o own $(pkg-config --libs aec) && ./own --help | grep -q 'fmnist_cae'");
    expect_ok(run("/usr/bin/env", "sh", "-c", cmd, NULL), "cc with pkg-config aec");

    /* the prefix moved: aec finds its runtime beside itself */
    char moved[256];
    snprintf(moved, sizeof moved, "%s", tp("moved"));
    assert_int_equal(rename(prefix, moved), 0);
    snprintf(aec, sizeof aec, "%s/bin/aec", moved);
    expect_ok(run(aec, "build", "m.ae", "-o", "m2", NULL), "moved aec build");
    assert_true(exists("m2"));
    /* with the runtime gone, it says where it looked */
    snprintf(path, sizeof path, "%s/lib/libaecrt.a", moved);
    unlink(path);
    p = run(aec, "build", "m.ae", "-o", "m3", NULL);
    assert_int_equal(p.status, 1);
    assert_non_null(strstr(p.err, "the runtime (aec.h and libaecrt.a) is neither in"));
    assert_false(exists("m3"));
    proc_free(&p);
    assert_int_equal(rename(moved, prefix), 0);
    assert_int_equal(chdir(cwd), 0);

    expect_ok(make("uninstall", var, NULL), "make uninstall");
    assert_int_equal(count_files(prefix), 0);
    snprintf(path, sizeof path, "%s/include/aec", prefix);
    assert_false(exists(path));
}

static void destdir_stages_the_same_tree(void **state UNUSED)
{
    char dest[300];
    snprintf(dest, sizeof dest, "DESTDIR=%s", tp("stage"));
    expect_ok(make("install", dest, "PREFIX=/usr"), "make install DESTDIR");
    char path[512];
    for (int i = 0; installed[i]; i++) {
        snprintf(path, sizeof path, "%s/usr/%s", tp("stage"), installed[i]);
        if (!exists(path))
            fail_msg("make install DESTDIR did not stage %s", path);
    }
    assert_int_equal(count_files(tp("stage")), n_installed());
    snprintf(path, sizeof path, "%s/usr/lib/pkgconfig/aec.pc", tp("stage"));
    char *pc = slurp(path, NULL);
    assert_non_null(strstr(pc, "\nprefix=/usr\n"));
    assert_non_null(strstr(pc, "\nincludedir=/usr/include\n"));
    assert_null(strstr(pc, tp("stage")));           /* DESTDIR is never written into a file */
    free(pc);
    snprintf(path, sizeof path, "%s/usr/bin/aec", tp("stage"));
    proc p = run("/usr/bin/env", "grep", "-c", "-F", tp("stage"), path, NULL);  /* 1: no line has it */
    assert_int_equal(p.status, 1);
    proc_free(&p);
    expect_ok(make("uninstall", dest, "PREFIX=/usr"), "make uninstall DESTDIR");
    assert_int_equal(count_files(tp("stage")), 0);
}

static void man_pages_render_without_warnings(void **state UNUSED)
{
    const char *pages[][2] = {{"man/aec.1", "aec - compile an autoencoder"},
                              {"man/aec-model.1", "aec-model - train, evaluate"},
                              {"man/aec-language.5", "aec-language - the .ae language"}};
    setenv("MANWIDTH", "80", 1);
    for (int i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", AEC_ROOT, pages[i][0]);
        proc p = run("/usr/bin/env", "groff", "-ww", "-z", "-man", path, NULL);
        assert_int_equal(p.status, 0);
        if (p.err[0])
            fail_msg("groff -ww -z %s warns:\n%s", path, p.err);
        proc_free(&p);
        p = run("/usr/bin/env", "man", "-l", path, NULL);
        assert_int_equal(p.status, 0);
        assert_string_equal(p.err, "");
        /* man justifies lines: one space for each run of them */
        char *q = p.out;
        for (char *c = p.out; *c; c++)
            if (!(isspace((unsigned char)*c) && q > p.out && q[-1] == ' '))
                *q++ = isspace((unsigned char)*c) ? ' ' : *c;
        *q = '\0';
        if (!strstr(p.out, pages[i][1]))
            fail_msg("man -l %s renders no NAME line '%s':\n%.400s", path, pages[i][1], p.out);
        assert_non_null(strstr(p.out, "SEE ALSO"));
        proc_free(&p);
    }
    /* aec(1) documents every command and option of aec's usage */
    char *page = slurp(AEC_ROOT "/man/aec.1", NULL);
    const char *words[] = {"check", "emit", "build", "targets", "\\-\\-cflags", "fmt", "\\-\\-check",
                           "\\-\\-diff", "\\-\\-version",
                           "\\-\\-target", "x86\\-64\\-v4", "AEC_HOME", "AEC_CFLAGS", "EXIT STATUS", NULL};
    for (int i = 0; words[i]; i++)
        if (!strstr(page, words[i]))
            fail_msg("man/aec.1 does not mention %s", words[i]);
    free(page);
}

/* s with each '-' as groff's "\\-", as the man pages write options. */
static void man_dashes(const char *s, char *out, size_t size)
{
    size_t k = 0;
    for (; *s && k + 3 < size; s++) {
        if (*s == '-')
            out[k++] = '\\';
        out[k++] = *s;
    }
    out[k] = '\0';
}

/* aec-model(1) documents every command and option a model's --help lists
 * (score and --classes, --coords, --eps and --seconds were once missing). */
static void model_page_knows_every_command_and_option(void **state UNUSED)
{
    proc p = run(AEC_ROOT "/build/fmnist_cae", "--help", NULL);
    assert_int_equal(p.status, 0);
    char *page = slurp(AEC_ROOT "/man/aec-model.1", NULL);
    char word[64], want[160];
    int n_cmds = 0, n_opts = 0;
    for (const char *line = p.out; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        /* a command's line: two spaces, its name, two spaces or more */
        if (strncmp(line, "  ", 2) == 0 && islower((unsigned char)line[2])
            && sscanf(line + 2, "%63[a-z-]", word) == 1
            && strncmp(line + 2 + strlen(word), "  ", 2) == 0) {
            man_dashes(word, want, sizeof want - 4);
            char entry[200];
            snprintf(entry, sizeof entry, ".B %s", want);
            if (!strstr(page, entry))
                fail_msg("man/aec-model.1 has no entry for the command %s", word);
            n_cmds++;
        }
    }
    for (const char *o = strstr(p.out, "--"); o; o = strstr(o + 2, "--")) {
        if (sscanf(o, "%63[a-z-]", word) != 1 || strlen(word) < 3)
            continue;
        man_dashes(word, want, sizeof want);
        if (!strstr(page, want))
            fail_msg("man/aec-model.1 does not mention %s", word);
        n_opts++;
    }
    assert_true(n_cmds >= 16);
    assert_true(n_opts >= 30);
    free(page);
    proc_free(&p);
}

/* Does text hold word with no word character on either side? */
static int has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
        int before = p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_');
        int after = isalnum((unsigned char)p[n]) || p[n] == '_';
        if (!before && !after)
            return 1;
    }
    return 0;
}

/* The words the compiler knows: lexer.l's keywords ("model" return MODEL;)
 * and sema.c's table of calls ({"conv2d", ROLE_LAYER, ...). */
static int known_words(char words[][32], int max)
{
    int n = 0;
    char *lexer = slurp(AEC_ROOT "/compiler/front/lexer.l", NULL);
    for (char *line = strtok(lexer, "\n"); line && n < max; line = strtok(NULL, "\n"))
        if (sscanf(line, "\"%31[a-z_]\" return", words[n]) == 1 && strstr(line, "return"))
            n++;
    free(lexer);
    assert_int_equal(n, 10);
    char *sema = slurp(AEC_ROOT "/compiler/front/sema.c", NULL);
    for (char *p = strstr(sema, "{\""); p && n < max; p = strstr(p + 1, "{\"")) {
        char role[32];
        if (sscanf(p, "{\"%31[a-z0-9_]\", ROLE_%31[A-Z]", words[n], role) == 2 && strcmp(role, "TRAIN") != 0)
            n++;
    }
    free(sema);
    return n;
}

static void editor_grammars_know_every_word(void **state UNUSED)
{
    char words[64][32];
    int n = known_words(words, 64);
    assert_int_equal(n, 10 + 14);      /* 5 layers, 4 activations, 2 losses, 2 optimizers, 1 latent */
    char *vim = slurp(AEC_ROOT "/editors/vim/syntax/ae.vim", NULL);
    char *tm = slurp(AEC_ROOT "/editors/vscode/syntaxes/ae.tmLanguage.json", NULL);
    char *bash = slurp(AEC_ROOT "/editors/bash/aec", NULL);
    assert_non_null(vim);
    assert_non_null(tm);
    for (int i = 0; i < n; i++) {
        if (!has_word(vim, words[i]))
            fail_msg("editors/vim/syntax/ae.vim lacks '%s'", words[i]);
        if (!has_word(tm, words[i]))
            fail_msg("editors/vscode/syntaxes/ae.tmLanguage.json lacks '%s'", words[i]);
    }
    /* the check itself can fail */
    assert_false(has_word(vim, "conv3d"));
    assert_false(has_word(tm, "conv"));
    /* the JSON files parse, and the manifest points at the grammar */
    expect_ok(run("/usr/bin/env", "python3", "-c",
                  "import json,sys; d=[json.load(open(f)) for f in sys.argv[1:]];"
                  "assert d[1]['contributes']['grammars'][0]['path']=='./syntaxes/ae.tmLanguage.json';"
                  "assert d[0]['scopeName']=='source.ae'",
                  AEC_ROOT "/editors/vscode/syntaxes/ae.tmLanguage.json", AEC_ROOT "/editors/vscode/package.json",
                  AEC_ROOT "/editors/vscode/language-configuration.json", NULL),
              "editors/vscode JSON");
    free(vim), free(tm), free(bash);
}

static void bash_completes_aec_and_a_model(void **state UNUSED)
{
    const char *script =
        "source " AEC_ROOT "/editors/bash/aec;"
        "COMP_WORDS=(aec b); COMP_CWORD=1; _aec; echo \"1:${COMPREPLY[*]}\";"
        "COMP_WORDS=(aec fmt --); COMP_CWORD=2; _aec; echo \"2:${COMPREPLY[*]}\";"
        "COMP_WORDS=(aec build --target x86-64-v); COMP_CWORD=3; _aec; echo \"3:${COMPREPLY[*]}\";"
        "COMP_WORDS=(" AEC_BUILD "/fmnist_cae re); COMP_CWORD=1; _aec_model; echo \"4:${COMPREPLY[*]}\";"
        "COMP_WORDS=(" AEC_BUILD "/fmnist_cae train --re); COMP_CWORD=2; _aec_model; echo \"5:${COMPREPLY[*]}\";"
        "COMP_WORDS=(" AEC_BUILD "/fmnist_cae eval --split t); COMP_CWORD=3; _aec_model; echo \"6:${COMPREPLY[*]}\"";
    proc p = run("/usr/bin/env", "bash", "-c", script, NULL);
    assert_int_equal(p.status, 0);
    assert_string_equal(p.out, "1:build\n2:--check --diff\n3:x86-64-v4 x86-64-v3\n4:reconstruct report\n"
                               "5:--resume\n6:test train\n");
    proc_free(&p);
}

int main(void)
{
    if (tmpdir_setup("/tmp/aec_test_install.XXXXXX") < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(install_build_train_uninstall),
        cmocka_unit_test(destdir_stages_the_same_tree),
        cmocka_unit_test(man_pages_render_without_warnings),
        cmocka_unit_test(model_page_knows_every_command_and_option),
        cmocka_unit_test(editor_grammars_know_every_word),
        cmocka_unit_test(bash_completes_aec_and_a_model),
    };
    return cmocka_run_group_tests(tests, NULL, tmpdir_teardown);
}
