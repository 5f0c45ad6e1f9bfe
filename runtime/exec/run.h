/* exec/run.h: a model over a data set, on workers (run.c). */
#ifndef AEC_EXEC_RUN_H
#define AEC_EXEC_RUN_H

#include "aec.h"
#include "exec/workers.h"

/* aec_evaluate on the workers w, which take batches of B; eps holds [B, Z]
 * (scratch). NAN if d is empty. */
double aec_evaluate_with(aec_workers *w, const aec_model *m, const float *params,
                         const aec_dataset *d, int B, float *eps);

#endif
