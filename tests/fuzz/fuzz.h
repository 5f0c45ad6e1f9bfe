/* tests/fuzz/fuzz.h: what the loader targets share. The runtime's readers
 * take paths, so each input is written to one scratch file of this process:
 * $AEC_FUZZ_TMPDIR (tests/fuzz/run makes one on tmpfs), else /dev/shm, else
 * $TMPDIR, else /tmp. The file is removed at exit. */
#ifndef AEC_FUZZ_H
#define AEC_FUZZ_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_path[4096], fuzz_path2[4200];

static inline void fuzz_remove(void)
{
    if (fuzz_path[0])
        unlink(fuzz_path);
    if (fuzz_path2[0])
        unlink(fuzz_path2);
}

static inline const char *fuzz_dir(void)
{
    const char *d = getenv("AEC_FUZZ_TMPDIR");
    if (d && *d)
        return d;
    if (access("/dev/shm", W_OK) == 0)
        return "/dev/shm";
    d = getenv("TMPDIR");
    return d && *d ? d : "/tmp";
}

/* The scratch file, holding data[0..size). Aborts if it cannot be written:
 * every later input would be a silent no-op otherwise. */
static inline const char *fuzz_file(const uint8_t *data, size_t size, const char *tag)
{
    if (!fuzz_path[0]) {
        snprintf(fuzz_path, sizeof fuzz_path, "%s/aec-fuzz-%ld-%s", fuzz_dir(), (long)getpid(), tag);
        atexit(fuzz_remove);
    }
    int fd = open(fuzz_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(fuzz_path);
        abort();
    }
    for (size_t done = 0; done < size;) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) {
            perror(fuzz_path);
            abort();
        }
        done += (size_t)n;
    }
    close(fd);
    return fuzz_path;
}

/* The scratch file, holding data[0..size) after fix(copy, size) has mended
 * it (the checksums a loader would refuse at once); NULL, a no-op input,
 * when there is no memory for the copy. */
static inline const char *fuzz_file_fixed(const uint8_t *data, size_t size, const char *tag,
                                          void (*fix)(uint8_t *, size_t))
{
    uint8_t *b = malloc(size ? size : 1);
    if (!b)
        return NULL;
    memcpy(b, data, size);
    fix(b, size);
    const char *path = fuzz_file(b, size, tag);
    free(b);
    return path;
}

/* A second scratch path beside the first (call fuzz_file first), for what a
 * target writes; also removed at exit. */
static inline const char *fuzz_second(void)
{
    snprintf(fuzz_path2, sizeof fuzz_path2, "%s.out", fuzz_path);
    return fuzz_path2;
}

#endif
