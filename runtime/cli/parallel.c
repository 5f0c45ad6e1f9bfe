/* parallel.c: the train command's part in a data-parallel job (core/ranks.c):
 * every rank checks that all run the same model with the same command line,
 * and the data is loaded by rank 0 before the others.
 *
 * Every decision here is collective (aec_ranks_agree): when one rank
 * cannot go on, all stop together, with status 1, and the rank that failed
 * says why; none is left waiting in a collective for a rank that left. */
#include "aec.h"
#include "cli/cli.h"
#include "core/hash.h"
#include "core/ranks.h"

#include <stdlib.h>
#include <string.h>

/* What ranks must agree on to sum each other's gradients: the model's name,
 * target, shapes, every tensor's name, shape and place, every layer. */
static uint64_t model_hash(const aec_model *m)
{
    uint64_t h = aec_fnv_str(AEC_FNV_START, m->name);
    h = aec_fnv_str(h, m->target);
    int dims[] = { m->in_c, m->in_h, m->in_w, m->latent, m->loss, m->variational, m->n_tensors, m->n_layers };
    h = aec_fnv(h, dims, sizeof dims);
    h = aec_fnv_int(h, (int64_t)m->n_params);
    h = aec_fnv_int(h, (int64_t)m->arena_per_image);
    for (int i = 0; i < m->n_tensors; i++) {
        const aec_param *p = &m->params[i];
        h = aec_fnv_str(h, p->name);
        h = aec_fnv(h, p->shape, sizeof p->shape);
        h = aec_fnv_int(h, (int64_t)p->offset);
    }
    for (int i = 0; i < m->n_layers; i++)
        h = aec_fnv_int(aec_fnv_str(h, m->layers[i].name), m->layers[i].line);
    return h;
}

/* The command line after the executable's name. */
static uint64_t args_hash(const cli_opts *o)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 1; i < o->argc; i++)
        h = aec_fnv_str(h, o->argv[i]);
    return h;
}

/* The first rank whose value is not rank 0's, or -1. */
static int first_other(uint64_t v, uint64_t *all)
{
    aec_ranks_gather(v, all);
    for (int r = 1; r < aec_rank_count(); r++)
        if (all[r] != all[0])
            return r;
    return -1;
}

static int check_same(const aec_model *m, const cli_opts *o)
{
    uint64_t *all = malloc((size_t)aec_rank_count() * sizeof *all);
    if (aec_ranks_first_bad(!all) >= 0) {
        free(all);
        return 1;
    }
    int me = aec_rank(), model = first_other(model_hash(m), all);
    if (model >= 0 && all[me] != all[0])
        aec_error("this rank runs model '%s' (%s), whose descriptor differs from rank 0's: start every "
                  "rank with the same executable", m->name, o->argv[0]);
    else if (model >= 0 && me == 0)
        aec_error("rank %d runs another model than rank 0's '%s' (%s): start every rank with the same "
                  "executable", model, m->name, o->argv[0]);
    int args = model >= 0 ? -1 : first_other(args_hash(o), all);
    if (args >= 0 && me == 0)
        aec_error("rank %d was started with another command line than rank 0's: every rank must train "
                  "with the same options", args);
    free(all);
    return model >= 0 || args >= 0;
}

int aec_cli_join(const aec_model *m, const cli_opts *o)
{
    if (aec_ranks_begin() != 0)
        return 1;
    if (aec_rank_count() == 1)
        return 0;
    if (check_same(m, o) != 0)
        return 1;
    if (aec_rank() == 0)
        printf("data-parallel: %d ranks (%s), each batch of %d split over them\n", aec_rank_count(),
               aec_ranks_mpi(), o->batch);
    return 0;
}

/* Rank 0 loads first, so that a folder's decoded-image cache is written
 * once, by it; the others then read that cache (on a shared file system)
 * rather than each decode the folder and race to write the same file. */
int aec_cli_load_ranks(const aec_model *m, const cli_opts *o, const char *split, int limit, char ***names,
                       aec_dataset *d)
{
    int rc = 0;
    if (aec_rank() == 0)
        rc = aec_cli_load_data(m, o, split, limit, names, d) != 0;
    if (aec_ranks_agree(rc, "cannot read its data"))
        return 1;
    if (aec_rank() != 0)
        rc = aec_cli_load_data(m, o, split, limit, names, d) != 0;
    return aec_ranks_agree(rc, "cannot read its data");
}
