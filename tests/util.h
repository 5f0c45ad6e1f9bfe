/* tests/util.h: helpers shared by the test programs (tests/util.c), linked
 * into every one of them by tests/tests.mk. A failure in a helper fails the
 * running cmocka test. Include after <cmocka.h>. */
#ifndef AEC_TESTS_UTIL_H
#define AEC_TESTS_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "aec.h"

#define UNUSED __attribute__((unused))     /* cmocka's state, which we do not use */

/* ---- the temporary directory ----------------------------------------------------- */

/* The test program's directory, made by tmpdir_setup. */
extern char tmpdir[64];

/* Make tmpdir from a mkdtemp template ("/tmp/aec_test_io.XXXXXX"): 0, or -1. */
int tmpdir_setup(const char *pattern);
/* A cmocka group teardown: remove tmpdir and everything in it. */
int tmpdir_teardown(void **state);
/* TMPDIR/name, in one of a few rotating buffers so a test can hold several. */
const char *tp(const char *name);
/* Remove path, and everything in it if it is a directory (read-only ones too). */
void rm_rf(const char *path);

/* ---- files ------------------------------------------------------------------------ */

void write_bytes(const char *path, const void *b, size_t n);
/* The whole file into *n bytes, malloc'd with room for a NUL after them. */
uint8_t *read_bytes(const char *path, size_t *n);
int exists(const char *path);
/* The whole file, NUL-terminated, its length in *len (may be NULL); NULL if it is not there. */
char *slurp(const char *path, size_t *len);
/* The .ae files of dir, sorted; NULL-terminated, malloc'd paths, *n of them. */
char **ae_files(const char *dir, int *n);
/* Free a NULL-terminated list of malloc'd strings, and the list. */
void free_list(char **l);
/* Copy a file that must be there. */
void copy_file(const char *from, const char *to);
/* Two files that must be there hold the same bytes. */
void assert_same_file(const char *path, const char *want);
/* The tensors of a file read, as aec_safetensors_write takes them (t has room for f->n). */
void file_tensors(const aec_tensor_file *f, aec_tensor *t);
/* Two checkpoints aec wrote hold the same tensors, bit for bit, and the same metadata. */
void assert_same_safetensors(const char *path, const char *want);

/* DIR/PREFIX-images-idx3-ubyte (n images of h x w bytes px) and
 * DIR/PREFIX-labels-idx1-ubyte (labels i % 10), uncompressed. */
void write_idx(const char *dir, const char *prefix, int n, int h, int w, const uint8_t *px);
/* Skip the running test, saying why, when Fashion-MNIST's IDX files are not in dir. */
void need_fashion_mnist(const char *dir);

/* Run the tests of a program built for one target (tests/tests.mk) only
 * where this CPU runs it: each test's setup skips, saying so, where it does
 * not. set_cpu_setup gives every test of tests[] that setup, for m's target;
 * target_group_name is "NAME (TARGET)" for cmocka's group. */
void set_cpu_setup(struct CMUnitTest *tests, size_t n, const aec_model *m);
const char *target_group_name(const char *name, const aec_model *m);

/* ---- running a program ----------------------------------------------------------- */

typedef struct {
    int status;         /* the exit status, or -1 when killed by a signal */
    int signal;
    char *out, *err;    /* what it wrote */
} proc;

void proc_free(proc *p);
/* Start argv[0] with stdin from /dev/null and stdout, stderr into
 * TMPDIR/stdout.txt and TMPDIR/stderr.txt; reap waits for it and reads them. */
pid_t spawn(char *const argv[]);
proc  reap(pid_t pid);
/* spawn, then reap: run(prog, arg, ..., NULL), or from a va_list. */
proc  run_argv(char *const argv[]);
proc  run_va(const char *prog, va_list ap);
proc  run(const char *prog, ...);

/* A shell command, formatted (4 KiB at most); its exit status as system() gives it. */
int shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A tmpfs of kib KiB mounted at dir (made if need be), read-only if asked:
 * 0, or -1 where mounting is not allowed (not root, or a container without
 * the right); the caller skips, saying so, and unmounts (shell "umount"). */
int mount_tmpfs(const char *dir, long kib, int read_only);

/* ---- stderr ------------------------------------------------------------------------ */

/* Send stderr to TMPDIR/stderr.txt until capture_end, which returns what was
 * written (malloc'd, NUL-terminated). */
void capture_begin(void);
char *capture_end(void);

/* ---- numbers ----------------------------------------------------------------------- */

/* max |a - b| / max |b|, over n values (the difference itself if b is all 0). */
double rel_diff(const float *a, const float *b, size_t n);

#endif
