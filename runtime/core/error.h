/* core/error.h: what error.c offers beyond aec_error (aec.h). */
#ifndef AEC_CORE_ERROR_H
#define AEC_CORE_ERROR_H

/* From now on every message says "aec: rank R: ..." (a job of several
 * ranks, whose messages meet in one terminal). */
void aec_error_name_rank(int rank);

#endif
