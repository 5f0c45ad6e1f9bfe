/* classes.c: training on some classes only (train --classes): the list
 * parsed, and a split cut down to the images of those classes. */
#include "aec.h"
#include "data/classes.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A class number at *s, moving *s past it; -1 if there is none or it is too large. */
static long class_number(const char **s)
{
    if (!isdigit((unsigned char)**s))
        return -1;
    char *end;
    errno = 0;
    long v = strtol(*s, &end, 10);
    *s = end;
    return errno || v > AEC_MAX_CLASS ? -1 : v;
}

int aec_classes_parse(const char *list, unsigned char in[AEC_MAX_CLASS + 1])
{
    memset(in, 0, AEC_MAX_CLASS + 1);
    const char *s = list;
    for (;;) {
        const char *at = s;
        long lo = class_number(&s), hi = lo;
        if (lo >= 0 && *s == '-') {
            s++;
            hi = class_number(&s);
        }
        if (lo < 0 || hi < 0 || hi < lo || (*s && *s != ',')) {
            aec_error("--classes '%s': '%.*s' is not a class (0 to %d) or a range of them (LO-HI, "
                      "LO <= HI); give e.g. 0-8 or 1,3,5", list, (int)strcspn(at, ","), at, AEC_MAX_CLASS);
            return -1;
        }
        memset(in + lo, 1, (size_t)(hi - lo + 1));
        if (!*s)
            return 0;
        s++;
    }
}

/* "0..9" or "0..9 but 4": the labels d has, for a message. */
static void labels_present(const aec_dataset *d, char *out, size_t size)
{
    unsigned char has[AEC_MAX_CLASS + 1] = { 0 };
    for (int i = 0; i < d->n; i++)
        if (d->labels[i] >= 0 && d->labels[i] <= AEC_MAX_CLASS)
            has[d->labels[i]] = 1;
    size_t k = 0;
    out[0] = '\0';
    for (int c = 0; c <= AEC_MAX_CLASS && k + 8 < size; c++)
        if (has[c])
            k += (size_t)snprintf(out + k, size - k, "%s%d", k ? "," : "", c);
}

int aec_dataset_keep_classes(aec_dataset *d, const unsigned char in[AEC_MAX_CLASS + 1], const char *what)
{
    if (!d->labels) {
        aec_error("%s: --classes needs labelled data (IDX files); these images have no labels", what);
        return -1;
    }
    int count[AEC_MAX_CLASS + 1] = { 0 }, kept = 0;
    for (int i = 0; i < d->n; i++)
        if (d->labels[i] >= 0 && d->labels[i] <= AEC_MAX_CLASS)
            count[d->labels[i]]++;
    for (int c = 0; c <= AEC_MAX_CLASS; c++)
        if (in[c] && count[c] == 0) {
            char have[1024];
            labels_present(d, have, sizeof have);
            aec_error("%s: --classes lists class %d, which has no images here (the labels are %s)",
                      what, c, have);
            return -1;
        }
    size_t chw = (size_t)d->C * d->H * d->W;
    for (int i = 0; i < d->n; i++) {
        int64_t c = d->labels[i];
        if (c < 0 || c > AEC_MAX_CLASS || !in[c])
            continue;
        memmove(d->x + (size_t)kept * chw, d->x + (size_t)i * chw, chw * sizeof *d->x);
        d->labels[kept++] = c;
    }
    d->n = kept;
    return 0;
}

void aec_classes_format(const unsigned char in[AEC_MAX_CLASS + 1], char *out, size_t size)
{
    size_t k = 0;
    out[0] = '\0';
    for (int c = 0; c <= AEC_MAX_CLASS; c++) {
        if (!in[c])
            continue;
        int hi = c;
        while (hi < AEC_MAX_CLASS && in[hi + 1])
            hi++;
        int w = hi == c ? snprintf(out + k, size - k, "%s%d", k ? "," : "", c)
                        : snprintf(out + k, size - k, "%s%d-%d", k ? "," : "", c, hi);
        if (w < 0 || (size_t)w >= size - k)
            return;
        k += (size_t)w;
        c = hi;
    }
}
