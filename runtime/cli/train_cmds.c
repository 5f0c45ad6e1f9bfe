/* train_cmds.c: the commands that train and report: train, report, latent-map. */
#include "aec.h"
#include "cli/cli.h"
#include "data/classes.h"
#include "report/report.h"
#include "train/train.h"

#include <stdlib.h>
#include <string.h>
#include <stdio.h>

/* The pictures and the page, from the checkpoint training just wrote: read
 * back from disk (aec_train keeps its parameters to itself), so the report
 * shows exactly what was saved. */
static int report_after_training(const aec_model *m, const cli_opts *o, const aec_dataset *train,
                                 const aec_dataset *val, const unsigned char *normal)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", o->out);
    float *params = aec_cli_load_weights(m, path);
    aec_report_opts r = aec_cli_report_opts(m, o, o->out, val, train);
    r.normal = normal;
    int rc = !params || aec_report(m, params, val, &r) != 0;
    free(params);
    return rc;
}

int aec_cmd_train(const aec_model *m, const cli_opts *o)
{
    aec_dataset train = { 0 }, val = { 0 };
    aec_train_opts t = {
        .out_dir = o->out, .cfg = m->defaults, .resume = o->resume,
        .seed_given = aec_cli_given(o, "seed"), .quiet = 0, .profile = o->profile, .workers = o->workers,
    };
    t.cfg.epochs = o->epochs;
    t.cfg.batch = o->batch;
    t.cfg.seed = o->seed;
    t.cfg.optim.lr = o->lr;
    unsigned char normal[256];
    if (aec_cli_classes(o, normal) != 0 || aec_cli_make_dirs(o->out) != 0
        || aec_cli_load_data(m, o, "train", o->limit, &train) != 0)
        return 1;
    if ((o->classes && aec_dataset_keep_classes(&train, normal, o->data) != 0)
        || aec_cli_load_data(m, o, "test", o->limit, &val) != 0) {
        aec_dataset_free(&train);
        return 1;
    }
    if (o->classes)
        fprintf(stderr, "train: classes %s only: %d training images; validation keeps all %d\n", o->classes,
                train.n, val.n);
    char *cmdline = aec_cli_resume_command(o);
    t.resume_cmd = cmdline;
    int rc = aec_train(m, &t, &train, &val);
    free(cmdline);
    if (rc == 0 && !o->no_report)
        rc = report_after_training(m, o, &train, &val, o->classes ? normal : NULL);
    aec_dataset_free(&train);
    aec_dataset_free(&val);
    return rc;
}

int aec_cmd_report(const aec_model *m, const cli_opts *o)
{
    aec_dataset d = { 0 };
    if (aec_cli_make_dirs(o->out) != 0 || aec_cli_load_data(m, o, o->split, o->limit, &d) != 0)
        return 1;
    unsigned char normal[256];
    float *params = aec_cli_classes(o, normal) == 0 ? aec_cli_load_weights(m, o->weights) : NULL;
    aec_report_opts r = aec_cli_report_opts(m, o, o->out, &d, NULL);
    r.normal = o->classes ? normal : NULL;
    int rc = !params || aec_report(m, params, &d, &r) != 0;
    free(params);
    aec_dataset_free(&d);
    return rc;
}

int aec_cmd_latent_map(const aec_model *m, const cli_opts *o)
{
    aec_dataset d = { 0 };
    if (aec_cli_load_data(m, o, o->split, o->limit, &d) != 0)
        return 1;
    float *params = aec_cli_load_weights(m, o->weights);
    aec_report_opts r = aec_cli_report_opts(m, o, NULL, &d, NULL);
    r.coords = o->coords;
    int rc = !params || aec_latent_map(m, params, &d, &r, strcmp(o->method, "tsne") == 0, o->out) != 0;
    free(params);
    aec_dataset_free(&d);
    return rc;
}
