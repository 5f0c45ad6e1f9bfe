/* home.h: where aec's runtime is (AEC_HOME, or beside the aec executable), and aec's version. */
#ifndef HOME_H
#define HOME_H

typedef struct {
    char include[4096];         /* the folder of aec.h: -I */
    char lib[4200];             /* libaecrt.a */
} aec_runtime;

/* 0 and rt filled, or -1 after saying on stderr where it looked. */
int aec_find_runtime(aec_runtime *rt);

/* "aec VERSION (commit HASH)" */
const char *aec_version(void);

#endif
