/* tune.c: aec tune, lowerings chosen by measurement.
 *
 * The model is compiled once as written, then once per variant: every pass
 * that a lowering applies to set to it (schedule_force), gemm, direct,
 * direct with a register block one vector narrower, and winograd where it
 * fits. Each variant is built (two builds at a time) and run as
 * `EXE bench --only train --profile-csv FILE` at the model's batch, the
 * variants interleaved over ROUNDS rounds so that the machine's drift
 * falls on all of them alike. Each layer's pass takes the lowering with
 * the least median time, and the choices are printed as a schedule block,
 * each line with its time and the others' beside it, and the CPU and
 * target it was measured on (as Halide keeps timings beside schedules).
 * The model's own `model = split(...)` and `LAYER.output = ...` lines stay
 * in force while it is timed, and are kept in the block; its lowering
 * lines are what tuning replaces. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "base/util.h"
#include "build.h"
#include "driver.h"
#include "lower/target.h"
#include "tune.h"

enum { VARIANTS = 4, ROUNDS = 3, MAX_CELLS = 512 };

typedef struct {
    const char *label;          /* in progress lines */
    sched_force force;
    compiled c;
    char exe[4200];
    int ok;                     /* compiled and built */
} variant;

/* One layer's pass, and its time under each variant (ms, one a round). */
typedef struct {
    int layer, pass;
    double ms[VARIANTS][ROUNDS];
    int runs[VARIANTS];
    char call[VARIANTS][40];    /* the schedule line's call, "" where the variant does not apply */
} cell;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The CPU's name from /proc/cpuinfo, as lscpu shows it. */
static void cpu_name(char *out, size_t size)
{
    snprintf(out, size, "an unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || !colon)
            continue;
        colon += 1 + (colon[1] == ' ');
        colon[strcspn(colon, "\n")] = '\0';
        snprintf(out, size, "%s", colon);
        break;
    }
    if (f)
        fclose(f);
}

/* The call a schedule line would write for pass p of l as the variant set it. */
static void call_of(const ir_layer *l, int p, const sched_force *f, char *out, size_t size)
{
    const ir_sched *s = &l->sched[p];
    out[0] = '\0';
    if (!schedule_allows(l, p, f->how) || s->lowering != f->how || (f->narrower && !s->unroll))
        return;
    if (f->narrower)
        snprintf(out, size, "%s(unroll=%d)", ir_lowering_names[s->lowering], s->unroll);
    else
        snprintf(out, size, "%s()", ir_lowering_names[s->lowering]);
}

/* Build every variant that compiled, two at a time, each in a child process. */
static void build_all(variant *v, int n)
{
    pid_t pid[VARIANTS] = { 0 };
    double t0[VARIANTS];
    int running = 0, next = 0;
    while (next < n || running > 0) {
        if (next < n && running < 2) {
            int i = next++;
            if (!v[i].ok)
                continue;
            say("aec tune", "building %s", v[i].label);
            t0[i] = now();
            pid[i] = fork();
            if (pid[i] == 0)
                _exit(build_exe(&v[i].c, v[i].exe) == 0 ? 0 : 1);
            if (pid[i] < 0)
                v[i].ok = 0;
            else
                running++;
            continue;
        }
        int status;
        pid_t done = wait(&status);
        if (done < 0 && errno == EINTR)
            continue;
        if (done < 0)
            break;
        for (int i = 0; i < n; i++) {
            if (pid[i] != done)
                continue;
            running--;
            v[i].ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            say("aec tune", "built %s in %.1f s%s", v[i].label, now() - t0[i],
                    v[i].ok ? "" : " (failed: left out)");
        }
    }
}

/* EXE bench --only train --seconds S --profile-csv CSV > OUT; 0 if it exited 0. */
static int run_bench(const variant *v, double seconds, const char *csv, const char *out)
{
    char secs[32];
    snprintf(secs, sizeof secs, "%g", seconds);
    char *argv[] = { (char *)v->exe, "bench", "--only", "train", "--seconds", secs, "--profile-csv", (char *)csv, NULL };
    return build_run(argv, out);
}

/* The profile's rows into variant k's times of round r. */
static int read_csv(const char *path, const ir_model *m, cell *cells, int ncells, int k, int r)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512], name[128];
    int lineno;
    double ms[2];
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%127[^,],%d,%lf,%lf", name, &lineno, &ms[0], &ms[1]) != 4)
            continue;       /* the header */
        for (int i = 0; i < ncells; i++)
            if (!strcmp(m->layers[cells[i].layer].name, name) && cells[i].call[k][0] && cells[i].runs[k] == r)
                cells[i].ms[k][cells[i].runs[k]++] = ms[cells[i].pass];
    }
    fclose(f);
    return 0;
}

/* workers=N from bench's key=value line; 0 if it is not there. */
static int workers_of(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int w = 0;
    while (f && fgets(line, sizeof line, f)) {
        char *p = strstr(line, " workers=");
        if (p)
            w = atoi(p + 9);
    }
    if (f)
        fclose(f);
    return w;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of variant k's times for a cell, or NAN with none. */
static double median(const cell *c, int k)
{
    double t[ROUNDS];
    int n = c->runs[k];
    if (n == 0)
        return NAN;
    memcpy(t, c->ms[k], sizeof t);
    qsort(t, (size_t)n, sizeof *t, by_value);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* The passes aec tune chooses for: both of a convolution, a linear
 * layer's (or the gaussian heads') forward pass. */
static int make_cells(const ir_model *m, cell *cells)
{
    int n = 0;
    for (int i = 0; i < m->nlayers && n + 2 <= MAX_CELLS; i++) {
        const ir_layer *l = &m->layers[i];
        int conv = l->kind == IR_CONV2D || l->kind == IR_DECONV2D;
        for (int p = PASS_FWD; p <= (conv ? PASS_BWD : PASS_FWD); p++)
            if (conv || l->kind == IR_LINEAR || l->kind == IR_GAUSSIAN)
                cells[n++] = (cell){ .layer = i, .pass = p };
    }
    return n;
}

/* The schedule block: the chosen lowering a line, with the times. */
static char *block_text(const compiled *base, const variant *v, const cell *cells, int ncells,
                        const char *header)
{
    sbuf b = { 0 };
    sb_printf(&b, "schedule {   # %s\n", header);
    int width = 0, cwidth = 0;
    char lhs[MAX_CELLS][96];
    for (int i = 0; i < ncells; i++) {
        const ir_layer *l = &base->ir.layers[cells[i].layer];
        int n = snprintf(lhs[i], sizeof lhs[i], "%s.%s", l->name, cells[i].pass == PASS_FWD ? "forward" : "backward");
        width = n > width ? n : width;
        for (int k = 0; k < VARIANTS; k++)
            cwidth = (int)strlen(cells[i].call[k]) > cwidth ? (int)strlen(cells[i].call[k]) : cwidth;
    }
    for (int i = 0; i < ncells; i++) {
        const cell *c = &cells[i];
        double med[VARIANTS];
        int best = -1;
        for (int k = 0; k < VARIANTS; k++) {
            med[k] = median(c, k);
            if (c->runs[k] && (best < 0 || med[k] < med[best]))
                best = k;
        }
        if (best < 0)
            continue;       /* no variant ran: the line is left to aec's default */
        sb_printf(&b, "    %-*s = %-*s  # %.3g ms;", width, lhs[i], cwidth, c->call[best], med[best]);
        const char *sep = " ";
        int conv = base->ir.layers[c->layer].kind == IR_CONV2D || base->ir.layers[c->layer].kind == IR_DECONV2D;
        for (int k = 0; k < VARIANTS; k++) {
            const char *name = v[k].force.narrower ? c->call[k] : ir_lowering_names[v[k].force.how];
            if (k == best || (!c->call[k][0] && !(conv && v[k].force.how == LOWER_WINOGRAD)))
                continue;   /* shown: every candidate that applies, and winograd's absence on a convolution */
            char t[32] = "-";
            if (c->runs[k])
                snprintf(t, sizeof t, "%.3g", med[k]);
            sb_printf(&b, "%s%s %s", sep, name, t);
            sep = ", ";
        }
        sb_printf(&b, "\n");
    }
    /* the model's lines that tuning keeps: split, and outputs made again */
    for (int i = 0; i < base->ast.schedule.n; i++) {
        const ast_directive *d = &base->ast.schedule.items[i];
        if (d->layer && !(d->pass && !strcmp(d->pass, "output")))
            continue;
        char text[1024];
        source_line(base->source, base->len, d->pos.line, text, sizeof text);
        char *hash = strchr(text, '#');     /* its own comment gives way to ours */
        if (hash)
            *hash = '\0';
        size_t n = strlen(text);
        while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t'))
            text[--n] = '\0';
        sb_printf(&b, "    %s   # kept from the model\n", text + strspn(text, " \t"));
    }
    sb_printf(&b, "  }\n");
    return b.s;
}

/* Offset of the start of line `line` (1-based) in src. */
static size_t line_offset(const char *src, size_t len, int line)
{
    size_t off = 0;
    for (int l = 1; l < line && off < len; off++)
        if (src[off] == '\n')
            l++;
    return off;
}

/* The model file with block in place of its schedule block, or, without
 * one, before the model's closing brace. Braces in comments do not count. */
static char *splice(const compiled *c, const char *block)
{
    const char *src = c->source;
    size_t len = c->len, from, to = 0;
    if (c->ast.schedule.pos.line) {
        from = line_offset(src, len, c->ast.schedule.pos.line) + (size_t)c->ast.schedule.pos.col - 1;
        for (size_t i = from; i < len && !to; i++) {
            if (src[i] == '#')
                i += strcspn(src + i, "\n");
            else if (src[i] == '}')
                to = i + 1;
        }
        to += to < len && src[to] == '\n';
    } else {
        size_t last = 0;
        for (size_t i = 0; i < len; i++) {
            if (src[i] == '#')
                i += strcspn(src + i, "\n");
            else if (src[i] == '}')
                last = i;
        }
        while (last > 0 && src[last - 1] != '\n')
            last--;
        from = to = last;
    }
    sbuf b = { 0 };
    sb_printf(&b, "%.*s%s%s%s", (int)from, src, c->ast.schedule.pos.line ? "" : "\n  ", block, src + to);
    return b.s;
}

static int usage_error(const char *msg, const char *arg)
{
    say("aec tune", "%s%s", msg, arg ? arg : "");
    fputs("usage: aec tune FILE.ae [--target T] [--seconds S] [-o OUT.ae]\n", stderr);
    return 2;
}

typedef struct {
    const char *file, *out;
    double seconds;
} tune_args;

static int parse(int argc, char **argv, tune_args *a)
{
    *a = (tune_args){ .seconds = 1.0 };
    for (int i = 0; i < argc; i++) {
        const char *opt = argv[i];
        int takes = !strcmp(opt, "-o") || !strcmp(opt, "--target") || !strcmp(opt, "--seconds");
        if (takes && i + 1 >= argc)
            return usage_error(opt, " needs a value");
        const char *val = takes ? argv[++i] : NULL;
        if (!strcmp(opt, "-o")) {
            a->out = val;
        } else if (!strcmp(opt, "--target")) {
            const aec_target *t = aec_target_named(val);
            if (!t)
                return usage_error("unknown target (see aec targets): ", val);
            if (!aec_target_runs_here(t))
                return usage_error("this CPU cannot run the code of target ", val);
            aec_target_use(t);
        } else if (!strcmp(opt, "--seconds")) {
            char *end;
            a->seconds = strtod(val, &end);
            if (*end || !(a->seconds >= 0.1 && a->seconds <= 60))
                return usage_error("--seconds takes a number from 0.1 to 60, not ", val);
        } else if (opt[0] == '-' && opt[1]) {
            return usage_error("unknown option ", opt);
        } else if (a->file) {
            return usage_error("one .ae file at a time: ", opt);
        } else {
            a->file = opt;
        }
    }
    return a->file ? 0 : usage_error("which .ae file?", NULL);
}

/* Round r runs the variants from a different one, so that none always runs first. */
static void measure(variant *v, cell *cells, int ncells, double seconds, const char *dir, int *workers)
{
    for (int r = 0; r < ROUNDS; r++) {
        for (int j = 0; j < VARIANTS; j++) {
            int k = (j + r) % VARIANTS;
            if (!v[k].ok)
                continue;
            char csv[4300], out[4300];
            snprintf(csv, sizeof csv, "%s/%d.csv", dir, k);
            snprintf(out, sizeof out, "%s/%d.out", dir, k);
            double t0 = now();
            int rc = run_bench(&v[k], seconds, csv, out);
            if (rc == 0)
                rc = read_csv(csv, &v[k].c.ir, cells, ncells, k, r);
            if (rc == 0 && !*workers)
                *workers = workers_of(out);
            say("aec tune", "round %d/%d: %s ran in %.1f s%s", r + 1, ROUNDS, v[k].label, now() - t0,
                    rc == 0 ? "" : " (failed: left out of this round)");
            unlink(csv);
            unlink(out);
        }
    }
}

/* Write text to path by a temporary file and a rename, then check that it compiles. */
static int write_model(const char *path, const char *text)
{
    if (write_file_atomic(path, text) < 0) {
        say("aec tune", "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    compiled c;
    int rc = compile_file(path, stderr, &c);
    compiled_free(&c);
    if (rc != 0)
        say("aec tune", "%s does not compile with the tuned block (a bug in aec tune)", path);
    return rc;
}

int tune_main(int argc, char **argv)
{
    tune_args a;
    int rc = parse(argc, argv, &a);
    if (rc != 0)
        return rc;
    static const char *const labels[VARIANTS] = { "gemm", "direct", "direct, a narrower block", "winograd" };
    static const sched_force forces[VARIANTS] = {
        { LOWER_GEMM, 0 }, { LOWER_DIRECT, 0 }, { LOWER_DIRECT, 1 }, { LOWER_WINOGRAD, 0 } };
    compiled base;
    variant v[VARIANTS];
    memset(v, 0, sizeof v);
    if (compile_file(a.file, stderr, &base) != 0) {
        compiled_free(&base);
        return 1;
    }
    static cell cells[MAX_CELLS];
    int ncells = make_cells(&base.ir, cells);
    char dir[] = "/tmp/aec-tune-XXXXXX";
    if (!mkdtemp(dir)) {
        say("aec tune", "cannot make a temporary directory: %s", strerror(errno));
        compiled_free(&base);
        return 1;
    }
    double t0 = now();
    for (int k = 0; k < VARIANTS; k++) {
        v[k].label = labels[k];
        v[k].force = forces[k];
        snprintf(v[k].exe, sizeof v[k].exe, "%s/%s-%d", dir, base.ir.name, k);
        v[k].ok = compile_file_forced(a.file, stderr, &v[k].force, &v[k].c) == 0;
        int applies = 0;
        for (int i = 0; v[k].ok && i < ncells; i++) {
            call_of(&v[k].c.ir.layers[cells[i].layer], cells[i].pass, &v[k].force, cells[i].call[k],
                    sizeof cells[i].call[k]);
            applies |= cells[i].call[k][0] != '\0';
        }
        v[k].ok = v[k].ok && applies;   /* no pass it applies to: nothing to build */
    }
    build_all(v, VARIANTS);
    int workers = 0;
    measure(v, cells, ncells, a.seconds, dir, &workers);
    char cpu[256], header[512], date[32];
    time_t t = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d", localtime(&t));
    cpu_name(cpu, sizeof cpu);
    snprintf(header, sizeof header, "tuned by aec tune on %s (%s), batch %d, %d worker%s, median of %d runs, %s",
             cpu, aec_target_now()->name, base.ir.batch, workers, workers == 1 ? "" : "s", ROUNDS, date);
    char *block = block_text(&base, v, cells, ncells, header);
    printf("  %s", block);
    fflush(stdout);
    say("aec tune", "%s tuned in %.0f s", base.path, now() - t0);
    rc = 0;
    if (a.out) {
        char *text = splice(&base, block);
        rc = write_model(a.out, text) == 0 ? 0 : 1;
        free(text);
    }
    free(block);
    for (int k = 0; k < VARIANTS; k++) {
        unlink(v[k].exe);
        compiled_free(&v[k].c);
    }
    rmdir(dir);
    compiled_free(&base);
    return rc;
}
