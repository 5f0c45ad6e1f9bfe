/* files.c: files written atomically (PATH.tmp, then rename) and files read
 * whole, each failure a message naming the file. */
#include "aec.h"
#include "io/files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

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

/* ---- a folder's lock ------------------------------------------------------ */

int aec_dir_lock(const char *dir, const char *what)
{
    char path[4096], pid[32] = "";
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        aec_error("%s: cannot create the lock file: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        ssize_t n = read(fd, pid, sizeof pid - 1);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (err == EWOULDBLOCK)
            aec_error("%s: in use by another %s (pid %s, see %s); wait for it to end, or choose "
                      "another folder", dir, what, pid[0] ? pid : "unknown", path);
        else
            aec_error("%s: cannot lock: %s", path, strerror(err));
        close(fd);
        return -1;
    }
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        aec_error("%s: cannot write: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

void aec_dir_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
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

unsigned long aec_crc32(unsigned long crc, const void *p, size_t n)
{
    const Bytef *b = p;
    while (n > 0) {
        uInt k = n > (1u << 30) ? 1u << 30 : (uInt)n;
        crc = crc32(crc, b, k);
        b += k, n -= k;
    }
    return crc;
}
