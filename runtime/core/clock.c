/* clock.c: the runtime's one clock, for timings, profiles and progress lines. */
#include "aec.h"
#include "core/clock.h"

#include <time.h>

double aec_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
