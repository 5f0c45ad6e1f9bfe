/* tune.h: aec tune FILE.ae [--target T] [--seconds S] [-o OUT.ae] (tune.c). */
#ifndef TUNE_H
#define TUNE_H

/* argv: the words after "tune". 0; 1 when tuning failed; 2 on bad arguments. */
int tune_main(int argc, char **argv);

#endif
