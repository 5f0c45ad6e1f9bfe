/* core/ranks.h: the processes of a data-parallel job, on MPI (ranks.c).
 *
 * Built with -DAEC_MPI (build/libaecrt-mpi.a, when mpicc is found) these
 * are a few MPI calls; without it, or when the executable was not started
 * by a launcher (mpirun, srun), there is one rank and every call is a no-op
 * that leaves the data as it is. R = the rank count. */
#ifndef AEC_CORE_RANKS_H
#define AEC_CORE_RANKS_H

#include <stddef.h>
#include <stdint.h>

/* Join the job when a launcher started this process; 0, or -1 after
 * aec_error. From then on aec_error names this rank when R > 1. */
int  aec_ranks_begin(void);
/* Leave the job (MPI_Finalize). Every rank's last collective must have
 * been the others' too: the runtime decides to stop together. */
void aec_ranks_end(void);
int  aec_rank(void);
int  aec_rank_count(void);
/* The ranks on this machine (they share its cores). */
int  aec_rank_local_count(void);
/* "Open MPI 4.1.4" (the library linked), or "no". */
const char *aec_ranks_mpi(void);

/* Collectives: every rank calls them, in the same order. */
/* The lowest rank whose bad is non-zero, or -1 when none is. */
int  aec_ranks_first_bad(int bad);
/* 1 when any rank's bad is set, 0 when none is: the ranks stop together.
 * Those whose bad is not set say "stopped with the others: rank K what". */
int  aec_ranks_agree(int bad, const char *what);
/* all[r] = rank r's v, for all R ranks. */
void aec_ranks_gather(uint64_t v, uint64_t *all);
/* Rank 0's bytes into every rank's buf. */
void aec_ranks_broadcast(void *buf, size_t bytes);
/* buf = the sum over the ranks of their buf, elementwise, in place. */
void aec_ranks_sum(float *buf, size_t n);

#endif
