/* core/blas.h: the threads of OpenBLAS and OpenMP (blas.c). */
#ifndef AEC_CORE_BLAS_H
#define AEC_CORE_BLAS_H


/* OpenBLAS's own extensions, which its cblas.h does not declare. */
char *openblas_get_corename(void);
int   openblas_get_num_threads(void);
void  openblas_set_num_threads(int n);

/* Pin OpenBLAS, and OpenMP in the calling thread, to one thread (n = 1) or lift that (n = 0). */
void aec_threads_limit(int n);
void aec_omp_limit(int n);      /* 1: one OpenMP thread in this thread's loops; 0: the default */

#endif
