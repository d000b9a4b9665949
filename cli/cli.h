/* cli.h: the terminal side that every program in bin/ shares: the data directory, messages,
 * exit codes, "did you mean", --quiet, and progress drawn on a terminal. Nothing below the api
 * layer includes this: modules report progress through engine/progress.h only.
 *
 * MESSAGES all read "<prog>: [<command>: ]<what failed>: <detail>" on stderr, one line;
 * usage errors add "Try '<prog> [<command> ]--help'." on a second line. The command part is
 * there once a program with sub-commands has called cli_set_command.
 *
 * EXIT CODES (ARCHITECTURE.md): 0 success, 1 failure, 2 usage error, 3 done with item-level
 * errors or conflicts. The error table of the api layer (api/errors.c) is their one source:
 * cli_report and cli_fail (report.c, which links the api) take them from it.
 *
 * QUIET: after cli_set_quiet(1) a success prints nothing on stderr (no progress, no summary,
 * no notes); errors and warnings still do. Output asked for on stdout is not affected. */
#ifndef TIDEMARK_CLI_H
#define TIDEMARK_CLI_H

#include "engine/progress.h"

#include <stddef.h>
#include <stdint.h>

struct option;
struct tm_error;

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_PARTIAL = 3 };

/* ---- data directory ---------------------------------------------------------------------- */

/* --data DIR, else $TIDEMARK_HOME, else $HOME/.tidemark. Returned string is static or opt. */
const char *cli_home(const char *opt);
/* As cli_home, for commands that only read: when that directory does not exist, prints
 * "<prog>: [<command>: ]no tidemark data directory at DIR (create one with `tidemark
 * create-table --data DIR ...`)" and returns NULL; the caller exits CLI_FAIL. */
const char *cli_home_existing(const char *prog, const char *opt);

/* ---- messages and exit codes -------------------------------------------------------------- */

/* The sub-command that messages name after the program ("put-item", "pitr enable"; NULL:
 * none). The string is borrowed until the next call. */
void cli_set_command(const char *cmd);
const char *cli_command(void);

/* report.c: an api error for people: "<prog>: [<command>: ][<what>: ][<Exception>: ]<message>"
 * (the exception's name when the error table says people act on it; no "<what>: " when what
 * is NULL or ""). Returns the kind's exit status from the error table. */
int cli_report(const char *prog, const char *what, const struct tm_error *e);
/* report.c: the same for an engine code (engine/err.h) and its err_msg() (the code's name
 * when there is no detail), mapped to its kind by the api (tm_error_from). */
int cli_fail(const char *prog, const char *what, int rc);
/* Prints "<prog>: [<command>: ]<message>\nTry '<prog> [<command> ]--help'." and returns
 * CLI_USAGE. */
int cli_usage(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A size option's value (engine/text.h text_parse_size: "64M", "8KiB") within lo..hi: 0 with
 * *out set, or the usage error "<opt>: bad size 'v': <reason>" or "<opt> must be from LO to
 * HI, not 'v'" (LO and HI as sizes) and CLI_USAGE. Every program's size options go through
 * it, so the same bad value gets the same message and exit status everywhere. */
int cli_size_option(const char *prog, const char *opt, const char *v, uint64_t lo, uint64_t hi,
                    uint64_t *out);
/* "<prog>: [<command>: ]<message>" on stderr unless quiet: for what a success has to say. */
void cli_note(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void cli_set_quiet(int on);
int cli_quiet(void);
/* 1 if stderr is a terminal and not quiet (progress is drawn); TIDEMARK_PROGRESS=1/0 forces
 * the terminal test either way (tests). */
int cli_interactive(void);

/* The time forms every program takes (engine/clock.c clock_parse), for the --help texts: one
 * wording everywhere. */
#define CLI_HELP_TIME                                                                              \
    "TIME: ISO-8601 with 'T' or a space, seconds and a fraction optional, 'Z' or an offset (no\n"  \
    "zone is UTC): 2025-11-12T10:14:59Z, '2025-11-12 10:15', 2025-11-12T11:14:59.5+01:00; epoch\n" \
    "seconds (1762942499); now; or relative to now: -90m, -1h30m, -2d.\n"

/* ---- typos --------------------------------------------------------------------------------- */

/* The candidate closest to word (optimal string alignment distance: a swap of two neighbours
 * costs 1) if it is close enough to be a likely typo (<= 1 for words up to 4 characters, <= 2
 * up to 8, <= 3 beyond), else NULL. Candidates are read as n strings `stride` bytes apart from
 * names (an array of structs with a `const char *` first field, or a plain array of strings
 * with stride sizeof(char *)); NULL entries are skipped. The first of equally close wins. */
const char *cli_suggest(const char *word, const void *names, size_t n, size_t stride);

/* For getopt_long's '?' and ':' returns (set opterr = 0 before parsing, so that getopt itself
 * prints nothing): prints what went wrong in GNU's words, for an unknown long option with the
 * closest one ("<prog>: unrecognized option '--tabel'; did you mean '--table'?"), then
 * "Try '<prog> --help'.", and returns CLI_USAGE. Reads optind and optopt; shortopts and
 * longopts are what was given to getopt_long. */
int cli_bad_option(const char *prog, char *const argv[], const char *shortopts,
                   const struct option *longopts);
/* "<prog>: unknown command 'x'; did you mean 'y'?\nTry '<prog> --help'." (names as for
 * cli_suggest); returns CLI_USAGE. */
int cli_unknown_command(const char *prog, const char *cmd, const void *names, size_t n,
                        size_t stride);

/* ---- progress on a terminal ---------------------------------------------------------------- */

/* A progress (engine/progress.h) that, when cli_interactive(), redraws one line in place on
 * stderr at the terminal's width (truncated, never wrapped) at most 10 times a second, and
 * every half second while a phase runs without updates. Silent otherwise. Pass it to the
 * modules; end it with cli_progress_done, or progress_free on failure (which clears the line). */
progress *cli_progress_new(const char *prog, const char *what, uint64_t total_items);
/* Clears the line, prints "<prog>: <summary>" unless quiet, and frees p (NULL p is fine). */
void cli_progress_done(progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The line drawn for v, at most width - 1 characters (the last column would wrap), into out
 * (n bytes). Returns its length. */
size_t cli_progress_line(const progress_view *v, int width, char *out, size_t n);
/* The terminal's width: TIOCGWINSZ on stderr, else $COLUMNS, else 80. */
int cli_term_width(void);

#endif
