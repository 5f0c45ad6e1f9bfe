/* fmt.h: the command aec fmt (fmt.c). */
#ifndef FMT_H
#define FMT_H

/* aec fmt ARGS: argv are the arguments after "fmt". The exit status: 0, 1
 * (a file refused, or with --check one that would change), 2 (usage). */
int fmt_main(int argc, char **argv);

#endif
