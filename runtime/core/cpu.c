/* cpu.c: whether this CPU runs the model's target, asked before anything
 * else runs, and its name for the message when it does not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "aec.h"

/* "model name" from /proc/cpuinfo, or "this CPU" where there is none. */
static void cpu_name(char *buf, size_t size)
{
    snprintf(buf, size, "this CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || !colon)
            continue;
        colon += 1 + strspn(colon + 1, " \t");
        colon[strcspn(colon, "\n")] = '\0';
        snprintf(buf, size, "this CPU (%s)", colon);
        break;
    }
    fclose(f);
}

int aec_cpu_fits(const aec_model *m, FILE *err)
{
    if (!m->cpu_runs || m->cpu_runs())
        return 0;
    char cpu[300];
    cpu_name(cpu, sizeof cpu);
    fprintf(err, "%s: this executable was built for target %s, whose instructions %s lacks;\n"
            "  build the model for this CPU: `aec build MODEL.ae -o EXE` (the target is the host's by "
            "default), or name one with --target (see `aec targets`)\n", m->name, m->target, cpu);
    return -1;
}

void aec_require_cpu(const aec_model *m)
{
    if (aec_cpu_fits(m, stderr) != 0)
        exit(1);
}
