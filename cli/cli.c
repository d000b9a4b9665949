/* cli.c: data directory, messages, --quiet and "did you mean" shared by every
 * program (see cli.h). Progress on a terminal is in progress_tty.c. */
#include "cli/cli.h"
#include "engine/err.h"
#include "engine/text.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int quiet;
static const char *command;

void cli_set_quiet(int on) { quiet = on != 0; }
int cli_quiet(void) { return quiet; }
void cli_set_command(const char *cmd) { command = cmd; }
const char *cli_command(void) { return command; }

/* "<prog>: [<command>: ]" on stderr: the start of every message. */
static void put_prefix(const char *prog)
{
    if (command) fprintf(stderr, "%s: %s: ", prog, command);
    else fprintf(stderr, "%s: ", prog);
}

/* ---- data directory ---- */

const char *cli_home(const char *opt)
{
    static char def[4096];
    if (opt && *opt) return opt;
    const char *e = getenv("TIDEMARK_HOME");
    if (e && *e) return e;
    const char *h = getenv("HOME");
    snprintf(def, sizeof def, "%s/.tidemark", h && *h ? h : ".");
    return def;
}

const char *cli_home_existing(const char *prog, const char *opt)
{
    const char *home = cli_home(opt);
    struct stat st;
    if (stat(home, &st) == 0 && S_ISDIR(st.st_mode)) return home;
    put_prefix(prog);
    fprintf(stderr, "no tidemark data directory at %s (create one with `tidemark create-table "
            "--data %s ...`)\n", home, home);
    return NULL;
}

/* ---- messages and exit codes ---- */

int cli_usage(const char *prog, const char *fmt, ...)
{
    va_list ap;
    put_prefix(prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (command) fprintf(stderr, "\nTry '%s %s --help'.\n", prog, command);
    else fprintf(stderr, "\nTry '%s --help'.\n", prog);
    return CLI_USAGE;
}

/* n as a size people read back: "64M" when it is a whole number of a unit, else bytes. */
static void size_name(uint64_t n, char *out, size_t len)
{
    static const char units[] = "TGMK";
    for (int i = 0; i < 4; i++) {
        int shift = 10 * (4 - i);
        if (n && !(n & ((1ull << shift) - 1))) {
            snprintf(out, len, "%llu%c", (unsigned long long)(n >> shift), units[i]);
            return;
        }
    }
    snprintf(out, len, "%llu", (unsigned long long)n);
}

int cli_size_option(const char *prog, const char *opt, const char *v, uint64_t lo, uint64_t hi,
                    uint64_t *out)
{
    uint64_t n;
    if (text_parse_size(v, &n)) return cli_usage(prog, "%s: %s", opt, err_msg());
    if (n >= lo && n <= hi) {
        *out = n;
        return 0;
    }
    char a[32], b[32];
    size_name(lo, a, sizeof a);
    size_name(hi, b, sizeof b);
    if (hi == UINT64_MAX) return cli_usage(prog, "%s must be at least %s, not '%s'", opt, a, v);
    return cli_usage(prog, "%s must be from %s to %s, not '%s'", opt, a, b, v);
}

void cli_note(const char *prog, const char *fmt, ...)
{
    if (quiet) return;
    va_list ap;
    put_prefix(prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_interactive(void)
{
    if (quiet) return 0;
    const char *e = getenv("TIDEMARK_PROGRESS");
    if (e && *e) return *e == '1';
    return isatty(2);
}

/* ---- did you mean ---- */

/* Optimal string alignment distance, capped: returns cap + 1 as soon as it must exceed cap. */
static size_t osa_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return cap + 1;
    if ((la > lb ? la - lb : lb - la) > cap) return cap + 1;
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1], v = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

const char *cli_suggest(const char *word, const void *names, size_t n, size_t stride)
{
    size_t len = strlen(word), cap = len <= 4 ? 1 : len <= 8 ? 2 : 3, best_d = cap + 1;
    const char *best = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *c = *(const char *const *)(const void *)((const char *)names + i * stride);
        if (!c) continue;
        size_t dist = osa_distance(word, c, cap);
        if (dist < best_d) {
            best_d = dist;
            best = c;
        }
    }
    return best;
}

int cli_unknown_command(const char *prog, const char *cmd, const void *names, size_t n,
                        size_t stride)
{
    const char *s = cli_suggest(cmd, names, n, stride);
    if (s) return cli_usage(prog, "unknown command '%s'; did you mean '%s'?", cmd, s);
    return cli_usage(prog, "unknown command '%s'", cmd);
}

/* ---- getopt's errors ---- */

static size_t count_longopts(const struct option *lo)
{
    size_t n = 0;
    while (lo && lo[n].name) n++;
    return n;
}

static const struct option *find_long(const struct option *lo, const char *name, size_t len)
{
    for (size_t i = 0; lo && lo[i].name; i++)
        if (strlen(lo[i].name) == len && !strncmp(lo[i].name, name, len)) return &lo[i];
    return NULL;
}

/* "--name[=value]" that getopt_long refused. */
static int bad_long(const char *prog, const char *arg, const struct option *lo)
{
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const struct option *o = find_long(lo, name, len);
    if (o && o->has_arg == required_argument && !eq)
        return cli_usage(prog, "option '--%s' requires an argument", o->name);
    if (o && o->has_arg == no_argument && eq)
        return cli_usage(prog, "option '--%s' doesn't allow an argument", o->name);
    size_t nprefix = 0;
    for (size_t i = 0; lo && lo[i].name; i++) nprefix += !strncmp(lo[i].name, name, len);
    if (!o && nprefix > 1) return cli_usage(prog, "option '--%.*s' is ambiguous", (int)len, name);
    char word[128];
    snprintf(word, sizeof word, "%.*s", (int)(len < sizeof word ? len : sizeof word - 1), name);
    const char *s = cli_suggest(word, lo, count_longopts(lo), sizeof *lo);
    if (s) return cli_usage(prog, "unrecognized option '--%s'; did you mean '--%s'?", word, s);
    return cli_usage(prog, "unrecognized option '--%s'", word);
}

int cli_bad_option(const char *prog, char *const argv[], const char *shortopts,
                   const struct option *longopts)
{
    const char *arg = optind > 0 ? argv[optind - 1] : NULL;
    int is_long = arg && !strncmp(arg, "--", 2) && arg[2];
    if (is_long && optopt) {   /* a known long option (missing value), or a short one after it */
        const char *eq = strchr(arg + 2, '=');
        const struct option *o = find_long(longopts, arg + 2, eq ? (size_t)(eq - arg - 2)
                                                                 : strlen(arg + 2));
        is_long = o && o->val == optopt && !o->flag;
    }
    if (is_long) return bad_long(prog, arg, longopts);
    const char *c = optopt ? strchr(shortopts ? shortopts : "", optopt) : NULL;
    if (c && c[1] == ':') return cli_usage(prog, "option requires an argument -- '%c'", optopt);
    if (optopt) return cli_usage(prog, "invalid option -- '%c'", optopt);
    return cli_usage(prog, "unrecognized option '%s'", arg ? arg : "?");
}
