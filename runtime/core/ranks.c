/* ranks.c: the processes of a data-parallel job (see ranks.h): the only file
 * that calls MPI. Without AEC_MPI it is one rank and no MPI at all, so
 * build/libaecrt.a needs no MPI to build or to run.
 *
 * MPI starts only when a launcher started the process (its variables are
 * set): a model executable run by hand does not pay MPI_Init's start-up, nor
 * depend on the MPI runtime working on the machine. */
#include "aec.h"
#include "core/error.h"
#include "core/ranks.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef AEC_MPI
#include <mpi.h>

static int rank, count = 1, local = 1, joined;

/* Open MPI's mpirun, PMIx (srun, prterun), PMI-1/2 (srun, MPICH's hydra). */
static int launched(void)
{
    static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", NULL };
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

static int count_local(void)
{
    MPI_Comm node;
    int n = 1;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_size(node, &n);
        MPI_Comm_free(&node);
    }
    return n;
}

int aec_ranks_begin(void)
{
    if (joined || !launched())
        return 0;
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
        aec_error("MPI_Init failed: cannot join the job mpirun or srun started");
        return -1;
    }
    joined = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &count);
    local = count_local();
    if (count > 1)
        aec_error_name_rank(rank);
    return 0;
}

/* The barrier first: a rank that ends with a non-zero status makes mpirun
 * end the job, and a slower rank's last message would be lost with it. */
void aec_ranks_end(void)
{
    if (joined) {
        fflush(stdout);
        fflush(stderr);
        MPI_Barrier(MPI_COMM_WORLD);
        MPI_Finalize();
    }
    joined = 0;
}

const char *aec_ranks_mpi(void)
{
    static char name[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (!name[0] && MPI_Get_library_version(name, &len) == MPI_SUCCESS) {
        /* "Open MPI v4.1.4, package: ...": the name and version only */
        char *comma = strchr(name, ',');
        if (comma)
            *comma = '\0';
    }
    return name[0] ? name : "yes";
}

int aec_ranks_first_bad(int bad)
{
    int mine = bad ? rank : INT_MAX, first = mine;
    if (count > 1)
        MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return first == INT_MAX ? -1 : first;
}

void aec_ranks_gather(uint64_t v, uint64_t *all)
{
    all[0] = v;
    if (count > 1)
        MPI_Allgather(&v, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD);
}

/* MPI counts are ints: large buffers go in parts of at most 1 GiB. */
enum { PART = 1 << 30 };

void aec_ranks_broadcast(void *buf, size_t bytes)
{
    for (size_t at = 0; count > 1 && at < bytes; at += PART) {
        size_t n = bytes - at < PART ? bytes - at : PART;
        MPI_Bcast((char *)buf + at, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD);
    }
}

void aec_ranks_sum(float *buf, size_t n)
{
    for (size_t at = 0; count > 1 && at < n; at += PART / sizeof(float)) {
        size_t k = n - at < PART / sizeof(float) ? n - at : PART / sizeof(float);
        MPI_Allreduce(MPI_IN_PLACE, buf + at, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
}

#else   /* one process: the collectives of one rank */

static const int rank = 0, count = 1, local = 1;

int aec_ranks_begin(void)
{
    return 0;
}

void aec_ranks_end(void)
{
}

const char *aec_ranks_mpi(void)
{
    return "no";
}

int aec_ranks_first_bad(int bad)
{
    return bad ? 0 : -1;
}

void aec_ranks_gather(uint64_t v, uint64_t *all)
{
    all[0] = v;
}

void aec_ranks_broadcast(void *buf, size_t bytes)
{
    (void)buf, (void)bytes;
}

void aec_ranks_sum(float *buf, size_t n)
{
    (void)buf, (void)n;
}

#endif

int aec_ranks_agree(int bad, const char *what)
{
    int first = aec_ranks_first_bad(bad);
    if (first >= 0 && !bad)
        aec_error("stopped with the others: rank %d %s (see its message)", first, what);
    return first >= 0;
}

int aec_rank(void)
{
    return rank;
}

int aec_rank_count(void)
{
    return count;
}

int aec_rank_local_count(void)
{
    return local;
}
