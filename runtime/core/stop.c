/* stop.c: SIGINT and SIGTERM as a flag (see stop.h). The handler only
 * stores the signal's number; SA_RESETHAND makes a second one fatal, and the
 * atomic writes keep the last checkpoint whole even then. */
#include "core/stop.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t stop_sig;
static int depth;
static struct sigaction old_int, old_term;

static void on_signal(int sig)
{
    stop_sig = sig;
}

void aec_stop_begin(void)
{
    if (depth++ > 0)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    stop_sig = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
}

void aec_stop_end(void)
{
    if (depth == 0 || --depth > 0)
        return;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
}

int aec_stop_signal(void)
{
    return stop_sig;
}

int aec_stop_status(void)
{
    return stop_sig ? 128 + stop_sig : 0;
}

const char *aec_stop_word(void)
{
    return stop_sig == SIGTERM ? "terminated" : "interrupted";
}
