/* home.c: where an aec finds the runtime it links models with, and its version.
 *
 * The runtime is aec.h (the generated C includes it) and libaecrt.a. aec looks
 * for them, in order:
 *   1. $AEC_HOME/runtime/aec.h and $AEC_HOME/build/libaecrt.a, when AEC_HOME is set;
 *   2. relative to its own executable, as `make install` laid them out:
 *      BINDIR/AEC_INCLUDE_REL/aec.h and BINDIR/AEC_LIB_REL/libaecrt.a
 *      (the Makefile computes both from BINDIR, INCLUDEDIR and LIBDIR);
 *   3. relative to its own executable in a checkout: build/aec beside
 *      build/libaecrt.a, and ../runtime/aec.h.
 * Nothing absolute is compiled in, so a moved prefix or checkout still works. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "home.h"
#include "base/util.h"

#ifndef AEC_VERSION
#define AEC_VERSION "unknown"
#endif
#ifndef AEC_COMMIT
#define AEC_COMMIT "unknown"
#endif
#ifndef AEC_INCLUDE_REL
#define AEC_INCLUDE_REL "../include/aec"
#endif
#ifndef AEC_LIB_REL
#define AEC_LIB_REL "../lib"
#endif

const char *aec_version(void)
{
    return "aec " AEC_VERSION " (commit " AEC_COMMIT ")";
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* inc/aec.h and lib/libaecrt.a both there: fill rt. */
static int try_layout(aec_runtime *rt, const char *inc, const char *lib)
{
    char h[sizeof rt->include + 16], a[sizeof rt->lib];
    snprintf(h, sizeof h, "%s/aec.h", inc);
    snprintf(a, sizeof a, "%s/libaecrt.a", lib);
    if (!is_file(h) || !is_file(a))
        return -1;
    snprintf(rt->include, sizeof rt->include, "%s", inc);
    snprintf(rt->lib, sizeof rt->lib, "%s", a);
    return 0;
}

/* The folder of the running executable (Linux: /proc/self/exe). */
static int exe_dir(char *dir, size_t size)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0)
        return -1;
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    snprintf(dir, size, "%s", path[0] ? path : "/");
    return 0;
}

int aec_find_runtime(aec_runtime *rt)
{
    char inc[PATH_MAX + 64], lib[PATH_MAX + 64], dir[PATH_MAX];
    const char *home = getenv("AEC_HOME");
    if (home && *home) {
        snprintf(inc, sizeof inc, "%s/runtime", home);
        snprintf(lib, sizeof lib, "%s/build", home);
        if (try_layout(rt, inc, lib) == 0)
            return 0;
        say("aec", "AEC_HOME is %s, but %s/aec.h or %s/libaecrt.a is missing: run make there, "
                   "or unset AEC_HOME", home, inc, lib);
        return -1;
    }
    if (exe_dir(dir, sizeof dir) < 0) {
        say("aec", "cannot tell where aec is (/proc/self/exe): %s; set AEC_HOME", strerror(errno));
        return -1;
    }
    snprintf(inc, sizeof inc, "%s/%s", dir, AEC_INCLUDE_REL);
    snprintf(lib, sizeof lib, "%s/%s", dir, AEC_LIB_REL);
    if (try_layout(rt, inc, lib) == 0)
        return 0;
    snprintf(inc, sizeof inc, "%s/../runtime", dir);
    if (try_layout(rt, inc, dir) == 0)
        return 0;
    say("aec", "the runtime (aec.h and libaecrt.a) is neither in %s/%s and %s/%s (installed) "
               "nor in %s/../runtime and %s (a checkout's build/): reinstall, run make, or set AEC_HOME",
        dir, AEC_INCLUDE_REL, dir, AEC_LIB_REL, dir, dir);
    return -1;
}
