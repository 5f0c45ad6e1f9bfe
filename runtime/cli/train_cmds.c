/* train_cmds.c: the commands that train and report: train, report, latent-map. */
#include "aec.h"
#include "cli/cli.h"
#include "data/classes.h"
#include "core/ranks.h"
#include "data/dataset.h"
#include "core/stop.h"
#include "io/files.h"
#include "report/report.h"
#include "train/train.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

/* The pictures and the page, from the checkpoint training just wrote: read
 * back from disk (aec_train keeps its parameters to itself), so the report
 * shows exactly what was saved. When the report fails or is stopped, the
 * checkpoint is still whole: say so, and how to make the report again. */
static int report_after_training(const aec_model *m, const cli_opts *o, const aec_dataset *train,
                                 const aec_dataset *val, char *const *names, const unsigned char *normal)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", o->out);
    float *params = aec_cli_load_weights(m, path);
    aec_report_opts r = aec_cli_report_opts(m, o, o->out, val, train);
    r.normal = normal;
    r.names = names;
    int rc = params ? aec_report(m, params, val, &r) : -1;
    free(params);
    if (rc != 0)
        fprintf(stderr, "train: the checkpoint %s is saved; the report is not complete. To make it:\n"
                        "  %s report --data '%s' --weights '%s' --out '%s'\n",
                aec_esc(path), aec_esc(o->argv[0]), aec_esc(o->data), aec_esc(path), aec_esc(o->out));
    return rc < 0 ? 1 : rc;
}

/* The files of a run in OUT, which train without --resume would replace. */
static const char *const run_files[] = {
    "model.safetensors", "optim.safetensors", "optim.safetensors.new", "loss.csv", NULL,
};

/* A run in OUT is kept unless --overwrite says to start over (then it goes,
 * report and all); forgetting --resume must not destroy a run. */
static int check_fresh_out(const cli_opts *o)
{
    char path[4096], found[256] = "";
    size_t k = 0;
    for (int i = 0; run_files[i] && !o->resume; i++) {
        snprintf(path, sizeof path, "%s/%s", o->out, run_files[i]);
        if (access(path, F_OK) != 0)
            continue;
        if (o->overwrite && remove(path) != 0) {
            aec_error("%s: cannot remove: %s", path, strerror(errno));
            return -1;
        }
        if (k < sizeof found)
            k += (size_t)snprintf(found + k, sizeof found - k, "%s%s", k ? ", " : "", run_files[i]);
    }
    if (o->overwrite)
        aec_report_clear(o->out);
    else if (k) {
        aec_error("train: %s already holds a run (%s); add --resume to go on from it, or "
                  "--overwrite to start over and delete it", o->out, found);
        return -1;
    }
    return 0;
}

static int train_locked(const aec_model *m, const cli_opts *o)
{
    aec_dataset train = { 0 }, val = { 0 };
    char **names = NULL;        /* val's, for the report's scores.csv */
    aec_train_opts t = {
        .out_dir = o->out, .cfg = m->defaults, .resume = o->resume,
        .seed_given = aec_cli_given(o, "seed"),
        .batch_given = aec_cli_given(o, "batch"), .lr_given = aec_cli_given(o, "lr"), .quiet = 0, .profile = o->profile, .workers = o->workers,
    };
    t.cfg.epochs = o->epochs;
    t.cfg.batch = o->batch;
    t.cfg.seed = o->seed;
    t.cfg.optim.lr = o->lr;
    unsigned char normal[256];
    char classes[AEC_CLASSES_TEXT];
    int lead = aec_rank() == 0;     /* only rank 0 writes under OUT */
    if (aec_cli_classes(o, normal) != 0 || aec_cli_load_ranks(m, o, "train", o->limit, NULL, &train) != 0)
        return 1;
    aec_classes_format(normal, classes, sizeof classes);
    t.classes = o->classes ? classes : NULL;
    if (aec_ranks_agree(o->classes && aec_dataset_keep_classes(&train, normal, o->data) != 0,
                      "cannot keep the classes")
        || aec_cli_load_ranks(m, o, "test", o->limit, &names, &val) != 0
        || aec_ranks_agree(lead && check_fresh_out(o) != 0, "cannot train in OUT")) {
        aec_names_free(names, val.n);
        aec_dataset_free(&train);
        aec_dataset_free(&val);
        return 1;
    }
    if (o->classes && lead)
        fprintf(stderr, "train: classes %s only: %d training images; validation keeps all %d\n", aec_esc(o->classes),
                train.n, val.n);
    char *cmdline = aec_cli_resume_command(o);
    t.resume_cmd = cmdline;
    int rc = aec_train(m, &t, &train, &val);
    free(cmdline);
    if (rc == 0 && !o->no_report && lead)
        rc = report_after_training(m, o, &train, &val, names, o->classes ? normal : NULL);
    aec_names_free(names, val.n);
    aec_dataset_free(&train);
    aec_dataset_free(&val);
    return rc;
}

/* One training at a time in OUT (a lock file, rank 0's in a data-parallel
 * job: parallel.c), and SIGINT or SIGTERM, from loading the data to the end
 * of the report, stop it cleanly. */
static int train_in(const aec_model *m, const cli_opts *o)
{
    int lead = aec_rank() == 0, lock = -1;
    int bad = lead && aec_cli_make_dirs(o->out) != 0;
    if (lead && !bad)
        bad = (lock = aec_dir_lock(o->out, "train")) < 0;
    if (aec_ranks_agree(bad, "cannot use OUT"))
        return 1;
    aec_stop_begin();
    int rc = train_locked(m, o);
    aec_stop_end();
    if (lead)
        aec_dir_unlock(lock);
    return rc;
}

int aec_cmd_train(const aec_model *m, const cli_opts *o)
{
    int rc = aec_cli_join(m, o) != 0 ? 1 : train_in(m, o);
    aec_ranks_end();
    return rc;
}

int aec_cmd_report(const aec_model *m, const cli_opts *o)
{
    aec_dataset d = { 0 };
    char **names = NULL;
    if (aec_cli_make_dirs(o->out) != 0 || aec_cli_load_data(m, o, o->split, o->limit, &names, &d) != 0)
        return 1;
    unsigned char normal[256];
    int one_class;
    float *params = aec_cli_normal_weights(m, o, "report", normal, &one_class);
    aec_report_opts r = aec_cli_report_opts(m, o, o->out, &d, NULL);
    r.normal = one_class ? normal : NULL;
    r.names = names;
    int rc = params ? aec_report(m, params, &d, &r) : -1;
    rc = rc < 0 ? 1 : rc;
    free(params);
    aec_names_free(names, d.n);
    aec_dataset_free(&d);
    return rc;
}

int aec_cmd_latent_map(const aec_model *m, const cli_opts *o)
{
    aec_dataset d = { 0 };
    if (aec_cli_load_data(m, o, o->split, o->limit, NULL, &d) != 0)
        return 1;
    float *params = aec_cli_load_weights(m, o->weights);
    aec_report_opts r = aec_cli_report_opts(m, o, NULL, &d, NULL);
    r.coords = o->coords;
    int rc = !params || aec_latent_map(m, params, &d, &r, strcmp(o->method, "tsne") == 0, o->out) != 0;
    free(params);
    aec_dataset_free(&d);
    return rc;
}
