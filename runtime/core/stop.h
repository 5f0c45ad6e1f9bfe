/* core/stop.h: a request to stop, from SIGINT (Ctrl-C) or SIGTERM (what
 * `timeout`, schedulers and `docker stop` send) (stop.c). */
#ifndef AEC_CORE_STOP_H
#define AEC_CORE_STOP_H

/* From now until aec_stop_end, SIGINT and SIGTERM only raise a flag, which
 * the long loops (training's batches, the report's pictures) look at. A
 * second signal of the same kind kills at once. Calls nest. */
void aec_stop_begin(void);
void aec_stop_end(void);
/* The signal that asked to stop, or 0. */
int  aec_stop_signal(void);
/* The exit status for it, as a shell reports a death by that signal: 130
 * after SIGINT, 143 after SIGTERM. */
int  aec_stop_status(void);
/* "interrupted" (SIGINT) or "terminated" (SIGTERM). */
const char *aec_stop_word(void);

#endif
