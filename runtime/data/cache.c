/* cache.c: the decoded folder cached as uint8 [n, C, H, W] .npy, under a name
 * that hashes everything the pixels depend on, with its CRC-32 beside it
 * (NAME.npy.crc32: the .npy stays one numpy reads), and the list of images a
 * skip_bad decoding left out, kept beside its cache. */
#define _XOPEN_SOURCE 700    /* realpath */
#include "aec.h"
#include "core/hash.h"
#include "data/images.h"
#include "data/img.h"
#include "io/files.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

/* Part of the cache's hash: bump its version when decoding or fitting
 * changes, so that no cache of the old pixels is read. */
#define IMG_METHOD "aec images v2: centre square, area resampling, ITU-R 601 grey, never enlarged"


static uint64_t img_hash(const char *real, const img_list *L, int C, int H, int W, int skip)
{
    uint64_t h = aec_fnv_str(AEC_FNV_START, IMG_METHOD);
    if (skip)
        h = aec_fnv_str(h, "skip-bad");
    h = aec_fnv_str(h, real);
    for (int i = 0; i < L->n; i++) {
        h = aec_fnv_str(h, L->f[i].name);
        h = aec_fnv_int(h, L->f[i].size);
        h = aec_fnv_int(h, L->f[i].sec);
        h = aec_fnv_int(h, L->f[i].nsec);
    }
    h = aec_fnv_int(h, C);
    h = aec_fnv_int(h, H);
    return aec_fnv_int(h, W);
}

/* mkdir -p PATH. */
static int img_mkdirs(char *path)
{
    struct stat st;
    int why = 0;        /* mkdir's errno: stat's would be ENOENT for a read-only parent */
    for (char *p = path + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        int bad = mkdir(path, 0777) != 0 && errno != EEXIST;
        why = bad ? errno : why;
        *p = c;
        if (bad || c == '\0')
            break;
    }
    int missing = stat(path, &st) != 0;
    if (missing || !S_ISDIR(st.st_mode)) {
        aec_error("%s: cannot create the cache folder: %s", path,
                  why ? strerror(why) : missing ? strerror(errno) : "not a folder");
        return -1;
    }
    return 0;
}

char *aec_images_cache_dir(void)
{
    const char *env = getenv("AEC_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    char *dir;
    if (env && *env)
        dir = strdup(env);
    else if (xdg && *xdg)
        dir = aec_img_join(xdg, "aec");
    else if (home && *home)
        dir = aec_img_join(home, ".cache/aec");
    else {
        aec_error("no cache folder: none of AEC_CACHE_DIR, XDG_CACHE_HOME and HOME is set");
        return NULL;
    }
    if (!dir) {
        aec_error("out of memory");
        return NULL;
    }
    if (img_mkdirs(dir) != 0) {
        free(dir);
        return NULL;
    }
    return dir;
}

char *aec_img_cache_name(const char *dir, const img_list *L, int C, int H, int W, int skip)
{
    char *real = realpath(dir, NULL), *cache = real ? aec_images_cache_dir() : NULL, *path = NULL;
    if (!real)
        aec_error("%s: cannot resolve the path: %s", dir, strerror(errno));
    if (cache) {
        const char *base = strrchr(real, '/');
        base = base && base[1] ? base + 1 : "images";
        size_t n = strlen(cache) + strlen(base) + 64;
        if ((path = malloc(n)))
            snprintf(path, n, "%s/%s-%dx%dx%d-%016" PRIx64 ".npy", cache, base, C, H, W,
                     img_hash(real, L, C, H, W, skip));
        else
            aec_error("out of memory");
    }
    free(real);
    free(cache);
    return path;
}

char *aec_images_cache_path(const char *dir, int C, int H, int W)
{
    img_list L;
    if (aec_img_list_read(dir, &L) != 0)
        return NULL;
    char *path = aec_img_cache_name(dir, &L, C, H, W, 0);
    aec_img_list_free(&L);
    return path;
}

/* PATH.crc32, the file that holds the cache's CRC-32 as 8 hex digits. */
static char *img_crc_path(const char *path)
{
    size_t n = strlen(path) + sizeof ".crc32";
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s.crc32", path);
    return p;
}

/* The CRC-32 kept beside the cache at PATH, or -1 if there is none that
 * reads as 8 hex digits and a line end. */
static long img_crc_kept(const char *path)
{
    char *crc_path = img_crc_path(path), *text = NULL, *end = NULL;
    size_t len = 0;
    long kept = -1;
    if (crc_path && access(crc_path, F_OK) == 0 && aec_read_whole(crc_path, &text, &len) == 0 && len == 9
        && text[8] == '\n') {
        unsigned long v = strtoul(text, &end, 16);
        if (end == text + 8)
            kept = (long)v;
    }
    free(text);
    free(crc_path);
    return kept;
}

/* 1 if the n bytes match the CRC-32 kept beside the cache at PATH, 0 if not
 * or if there is none. zlib's crc32 takes 0.02 to 0.03 s alone over
 * celeba-10k's 123 MB cache on an AMD EPYC (Zen 5); reading it, 0.5 s. */
static int img_crc_ok(const char *path, const uint8_t *u8, size_t n)
{
    long kept = img_crc_kept(path);
    return kept >= 0 && (unsigned long)kept == aec_crc32(0, u8, n);
}

int aec_img_cache_file_ok(const char *path, FILE *fp, size_t n)
{
    long kept = img_crc_kept(path), at = ftell(fp);
    if (kept < 0 || at < 0)
        return 0;
    unsigned char buf[1 << 16];
    unsigned long crc = 0;
    size_t got = 0;
    while (got < n) {
        size_t want = n - got < sizeof buf ? n - got : sizeof buf, k = fread(buf, 1, want, fp);
        if (k == 0)
            break;
        crc = aec_crc32(crc, buf, k);
        got += k;
    }
    return fseek(fp, at, SEEK_SET) == 0 && got == n && (unsigned long)kept == crc;
}

uint8_t *aec_img_cache_read(const char *path, int n, int C, int H, int W, const char **why)
{
    uint8_t *u8 = NULL;
    int ndim = 0;
    int64_t s[4];
    if (!path) {
        *why = "there is no cache folder";
        return NULL;
    }
    if (access(path, F_OK) != 0) {
        *why = "there is no cache for them yet";
        return NULL;
    }
    if (aec_npy_read_u8(path, &u8, &ndim, s) != 0) {
        *why = "the cache could not be read";
        return NULL;
    }
    *why = "the cache holds images of another shape";
    if (ndim == 4 && s[0] == n && s[1] == C && s[2] == H && s[3] == W) {
        if (img_crc_ok(path, u8, (size_t)n * C * H * W))
            return u8;
        *why = "the cache is damaged (its CRC-32 does not match, or is missing)";
    }
    free(u8);
    return NULL;
}

/* The cache's CRC-32 into PATH.crc32, after the cache itself: a crash
 * between the two leaves a cache without a sum, which is decoded again. */
static int img_crc_write(const char *path, const uint8_t *u8, size_t n)
{
    char *crc_path = img_crc_path(path), hex[16];
    aec_out_file o;
    int rc = -1;
    if (crc_path && aec_out_open(&o, crc_path) == 0) {
        aec_out_write(&o, hex, (size_t)snprintf(hex, sizeof hex, "%08lx\n", aec_crc32(0, u8, n)));
        rc = aec_out_commit(&o);
    }
    free(crc_path);
    return rc;
}

void aec_img_cache_write(const char *path, const uint8_t *u8, int n, int C, int H, int W)
{
    int64_t shape[4] = { n, C, H, W };
    size_t len = strlen(path) + 32;
    char *mine = malloc(len);
    if (!mine)
        return;
    snprintf(mine, len, "%s.%ld", path, (long)getpid());
    if (aec_npy_write_u8(mine, u8, 4, shape) != 0)
        fprintf(stderr, "aec: going on without a cache\n");
    else if (rename(mine, path) != 0) {
        aec_error("%s: cannot rename %s to it: %s; going on without a cache", path, mine,
                  strerror(errno));
        remove(mine);
    } else if (img_crc_write(path, u8, (size_t)n * C * H * W) != 0)
        fprintf(stderr, "aec: going on without a cache\n");
    free(mine);
}


/* ---- the list of skipped images, beside a skip_bad cache ----------------------------------- */

char *aec_img_skips_path(const char *cache)
{
    size_t n = strlen(cache) - strlen(".npy");
    char *p = malloc(n + sizeof ".skipped");
    if (p) {
        memcpy(p, cache, n);
        memcpy(p + n, ".skipped", sizeof ".skipped");
    }
    return p;
}

void aec_img_skips_clear(char **skip, int n)
{
    for (int i = 0; skip && i < n; i++) {
        free(skip[i]);
        skip[i] = NULL;
    }
}

int aec_img_skips_write(const char *path, char *const *skip, int n)
{
    size_t len = strlen(path) + 32;
    char *mine = malloc(len), line[IMG_WHY + 16];
    aec_out_file o;
    int rc = -1;
    if (!mine)
        return -1;
    snprintf(mine, len, "%s.%ld", path, (long)getpid());
    if (aec_out_open(&o, mine) == 0) {
        for (int i = 0; i < n; i++)
            if (skip[i])
                aec_out_write(&o, line, (size_t)snprintf(line, sizeof line, "%d\t%.*s\n", i,
                                                         IMG_WHY - 1, skip[i]));
        rc = aec_out_commit(&o);
    }
    if (rc == 0 && rename(mine, path) != 0) {
        aec_error("%s: cannot rename %s to it: %s", path, mine, strerror(errno));
        remove(mine);
        rc = -1;
    }
    free(mine);
    return rc;
}

/* skip[] (n pointers, all NULL) from PATH; -1, with skip[] left all NULL, if
 * it is missing or not a list aec_img_skips_write could have written for n. */
static int img_skips_read(const char *path, char **skip, int n)
{
    char *buf, *p, *tab, *end = NULL;
    size_t len;
    long last = -1;
    if (access(path, F_OK) != 0 || aec_read_whole(path, &buf, &len) != 0)
        return -1;
    for (p = buf; p < buf + len; p = end + 1) {
        long i = strtol(p, &tab, 10);
        end = memchr(p, '\n', (size_t)(buf + len - p));
        if (!end || tab == p || *tab != '\t' || i <= last || i >= n || tab + 1 >= end
            || !(skip[i] = strndup(tab + 1, (size_t)(end - tab - 1))))
            break;
        last = i;
    }
    int ok = p == buf + len && last >= 0;
    free(buf);
    if (!ok)
        aec_img_skips_clear(skip, n);
    return ok ? 0 : -1;
}

uint8_t *aec_img_cache_read_skips(const char *path, int n, int C, int H, int W, char **skip)
{
    const char *why;
    char *list = aec_img_skips_path(path);
    uint8_t *u8 = list && img_skips_read(list, skip, n) == 0
                ? aec_img_cache_read(path, n, C, H, W, &why) : NULL;
    if (!u8)
        aec_img_skips_clear(skip, n);
    free(list);
    return u8;
}
