/* core/clock.h: the runtime's clock (clock.c). */
#ifndef AEC_CORE_CLOCK_H
#define AEC_CORE_CLOCK_H


/* Seconds on a monotonic clock, for timings and progress lines. */
double aec_seconds(void);

#endif
