/* files.c: files written atomically (PATH.tmp, then rename) and files read
 * whole, each failure a message naming the file. */
#include "aec.h"
#include "io/files.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- atomic output files ------------------------------------------------ */

int aec_out_open(aec_out_file *o, const char *path)
{
    size_t n = strlen(path);
    o->path = path;
    o->failed = 0;
    o->fp = NULL;
    o->tmp = malloc(n + 5);
    if (!o->tmp) {
        aec_error("%s: out of memory", path);
        return -1;
    }
    memcpy(o->tmp, path, n);
    memcpy(o->tmp + n, ".tmp", 5);
    o->fp = fopen(o->tmp, "wb");
    if (!o->fp) {
        aec_error("%s: cannot create: %s", o->tmp, strerror(errno));
        free(o->tmp);
        o->tmp = NULL;
        return -1;
    }
    return 0;
}

void aec_out_write(aec_out_file *o, const void *buf, size_t n)
{
    if (o->failed || n == 0)
        return;
    if (fwrite(buf, 1, n, o->fp) != n) {
        aec_error("%s: cannot write: %s", o->tmp, strerror(errno));
        o->failed = 1;
    }
}

void aec_out_abort(aec_out_file *o)
{
    if (o->fp)
        fclose(o->fp);
    if (o->tmp)
        remove(o->tmp);
    free(o->tmp);
    o->fp = NULL;
    o->tmp = NULL;
}

/* The data must be on disk before the rename makes it visible under the real
 * name; otherwise a power cut can leave PATH pointing at an empty file. */
static int out_sync_close(aec_out_file *o)
{
    FILE *fp = o->fp;
    int bad = fflush(fp) != 0 || ferror(fp) || fsync(fileno(fp)) != 0;
    int err = errno;
    o->fp = NULL;
    if (fclose(fp) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    if (bad)
        aec_error("%s: cannot write: %s", o->tmp, strerror(err));
    return bad ? -1 : 0;
}

int aec_out_commit(aec_out_file *o)
{
    if (o->failed || out_sync_close(o) != 0) {
        aec_out_abort(o);
        return -1;
    }
    if (rename(o->tmp, o->path) != 0) {
        aec_error("%s: cannot rename %s to it: %s", o->path, o->tmp, strerror(errno));
        aec_out_abort(o);
        return -1;
    }
    free(o->tmp);
    o->tmp = NULL;
    return 0;
}

/* ---- whole-file input ----------------------------------------------------- */

static int read_fail(const char *path, FILE *fp, char *buf, const char *why)
{
    aec_error("%s: cannot read: %s", path, why);
    free(buf);
    if (fp)
        fclose(fp);
    return -1;
}

int aec_read_whole(const char *path, char **buf, size_t *len)
{
    struct stat st;
    char *b = NULL;
    *buf = NULL;
    *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return read_fail(path, NULL, NULL, strerror(errno));
    if (fstat(fileno(fp), &st) != 0)
        return read_fail(path, fp, NULL, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return read_fail(path, fp, NULL, "not a regular file");
    size_t n = (size_t)st.st_size;
    b = malloc(n + 1);
    if (!b)
        return read_fail(path, fp, NULL, "out of memory");
    if (fread(b, 1, n, fp) != n)
        return read_fail(path, fp, b, ferror(fp) ? strerror(errno) : "file shrank while reading");
    fclose(fp);
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}
