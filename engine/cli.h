/* cli.h: what every program in bin/ shares: the data directory, error printing, exit codes,
 * progress on a terminal and a one-line summary otherwise.
 *
 * Exit codes (ARCHITECTURE.md): 0 success, 1 failure, 2 usage error, 3 done with item-level
 * errors or conflicts. */
#ifndef TIDEMARK_CLI_H
#define TIDEMARK_CLI_H

#include <stdint.h>

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_PARTIAL = 3 };

/* --data DIR, else $TIDEMARK_HOME, else $HOME/.tidemark. Returned string is static or opt. */
const char *cli_home(const char *opt);
/* Prints "<prog>: <what>: <err_msg()>" to stderr and returns the exit code for rc. */
int cli_fail(const char *prog, const char *what, int rc);
/* Prints "<prog>: <message>\nTry '<prog> --help'." and returns CLI_USAGE. */
int cli_usage(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The exit code for a module return code (0 -> 0, TM_EINVAL from arguments is the caller's). */
int cli_exit_code(int rc);
/* 1 if stderr is a terminal (progress bars); TIDEMARK_PROGRESS=1/0 forces it. */
int cli_interactive(void);

/* Progress of long work: redraws at most 10 times a second on a terminal, silent otherwise;
 * progress_done prints the one-line summary in both cases. Thread-safe updates. */
typedef struct progress progress;
progress *progress_new(const char *prog, const char *what, uint64_t total_items);
void progress_add(progress *p, uint64_t items, uint64_t bytes);
void progress_set_total(progress *p, uint64_t total_items);
/* Prints "<prog>: <summary>" (one line, to stderr) and frees p. NULL p is fine. */
void progress_done(progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void progress_free(progress *p);
/* Seconds since p was made. */
double progress_elapsed(const progress *p);

#endif
