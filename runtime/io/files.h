/* io/files.h: files written atomically and files read whole, for every file
 * format of the runtime (files.c). Each failure is a message naming the file. */
#ifndef AEC_IO_FILES_H
#define AEC_IO_FILES_H

#include <stddef.h>
#include <stdio.h>

/* safetensors, .npy and the float data in them are little-endian; the runtime
 * writes and reads float arrays straight from memory, so it needs a host of
 * the same byte order. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "aec's runtime assumes a little-endian host"
#endif

/* An output file written atomically: everything goes to PATH.tmp, which
 * becomes PATH only when aec_out_commit succeeds, so a crash or a full disk
 * never leaves a half-written checkpoint under the real name. */
typedef struct {
    FILE *fp;
    const char *path;
    char *tmp;          /* PATH.tmp */
    int failed;         /* a write failed (already reported) */
} aec_out_file;

int  aec_out_open(aec_out_file *o, const char *path);
/* Sticky: after a failure further writes do nothing; commit then fails. */
void aec_out_write(aec_out_file *o, const void *buf, size_t n);
/* fflush + fsync + fclose + rename; on any failure removes PATH.tmp. */
int  aec_out_commit(aec_out_file *o);
/* Give up: close and remove PATH.tmp. */
void aec_out_abort(aec_out_file *o);

/* An exclusive lock on DIR/.lock (flock), which holds the locker's pid: the
 * second process to ask is refused, naming the first's pid and `what` it
 * does ("train"). The fd to pass to aec_dir_unlock, or -1 after a message. */
int  aec_dir_lock(const char *dir, const char *what);
void aec_dir_unlock(int fd);

/* zlib's CRC-32 of n bytes after crc (0 to start), for any n (zlib's
 * crc32() takes at most UINT_MAX bytes at once). */
unsigned long aec_crc32(unsigned long crc, const void *p, size_t n);

/* Read a whole file into a malloc'd buffer with a NUL after the last byte. */
int  aec_read_whole(const char *path, char **buf, size_t *len);

#endif
