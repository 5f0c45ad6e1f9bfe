/* build.h: compiling the emitted C into a model's executable (build.c). */
#ifndef BUILD_H
#define BUILD_H
#include "driver.h"

/* The generated C's flags, after the target's own (-march=...). -O2 with
 * the vectoriser's full cost model (-O3's) compiles faster than -O3, with
 * kernels as fast or faster. -flto=auto with 8 partitions lets GCC
 * generate code for the one file on every core. GCC's default minimum
 * partition is larger than our whole file, hence the last flag. Build and
 * run times: bench/README.md. */
#define DEFAULT_CFLAGS                                                                             \
    "-O2 -fvect-cost-model=dynamic -flto=auto --param lto-partitions=8 --param lto-min-partition=100"

/* Emit c into a temporary folder, compile it for the target in use
 * (aec_target_now) and link it with the runtime into exe. 0; -1 after a
 * message; 128 + the signal after SIGINT or SIGTERM (build_catch_stops),
 * with the temporary files removed. */
int build_exe(const compiled *c, const char *exe);

/* From now on, SIGINT and SIGTERM stop a build cleanly (build_exe). */
void build_catch_stops(void);

/* Run argv (its standard output into the file out, unless out is NULL),
 * wait, 0 if it exited 0. */
int build_run(char *const argv[], const char *out);

/* The same, but its exit status, or -1 when it did not exit; a failure to
 * start it is said as WHO's, and it exits 127. */
int build_run_status(const char *who, char *const argv[], const char *out);

#endif
