/* cli_test.c: unit tests of the front-end toolkit (cli/) and the progress counters under it
 * (engine/progress): did-you-mean, getopt's errors in GNU's words with a suggestion, the
 * read-only data directory check, --quiet, the progress line's width, phases, and rates from
 * the recent past rather than the whole run; messages naming the sub-command. What needs the
 * api's error table (cli_report, cli_fail) is tested in cli_report_test.
 *
 * Time: clock_gettime is wrapped (--wrap, collected by the Makefile); while fake_now >= 0 the
 * monotonic clock reads fake_now, so rates are tested without sleeping. stderr is captured
 * into a temp file around the calls that print. */
#include "cli/cli.h"
#include "engine/err.h"
#include "engine/progress.h"

#include <fcntl.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testutil.h"

/* ---- fake time ---- */

static double fake_now = -1;

int __real_clock_gettime(clockid_t clk, struct timespec *ts);
int __wrap_clock_gettime(clockid_t clk, struct timespec *ts);
int __wrap_clock_gettime(clockid_t clk, struct timespec *ts)
{
    if (fake_now < 0 || clk != CLOCK_MONOTONIC) return __real_clock_gettime(clk, ts);
    ts->tv_sec = (time_t)fake_now;
    ts->tv_nsec = (long)((fake_now - (double)ts->tv_sec) * 1e9);
    return 0;
}

/* ---- did you mean ---- */

static void test_suggest(void **state)
{
    (void)state;
    static const char *const cmds[] = {"create-table", "describe-table", "list-tables",
                                       "delete-table", "put-item", "get-item", "scan", NULL};
    size_t n = sizeof cmds / sizeof *cmds;
    static const struct {
        const char *word, *want;
    } cases[] = {
        {"describe-tabel", "describe-table"},   /* a swap costs one */
        {"lst-tables", "list-tables"},
        {"get-iten", "get-item"},
        {"scna", "scan"},
        {"scan", "scan"},
        {"sca", "scan"},
        {"frobnicate", NULL},
        {"put", NULL},                           /* 5 edits from put-item */
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *got = cli_suggest(cases[i].word, cmds, n, sizeof *cmds);
        if (!cases[i].want) assert_null(got);
        else assert_string_equal(got, cases[i].want);
    }
}

/* ---- getopt's errors ---- */

static const struct option longopts[] = {
    {"table", required_argument, NULL, 't'},
    {"target", required_argument, NULL, 'T'},
    {"json", no_argument, NULL, 'j'},
    {"dry-run", no_argument, NULL, 'n'},
    {NULL, 0, NULL, 0},
};

/* Parses argv as a program would and returns what cli_bad_option printed ("" if nothing). */
static const char *bad_option(int argc, char **argv, int *code)
{
    const char *shortopts = ":t:T:jn";
    int c;
    *code = -1;
    optind = 0;
    opterr = 0;
    tu_capture_begin();
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (c == '?' || c == ':') {
            *code = cli_bad_option("prog", argv, shortopts, longopts);
            break;
        }
    }
    return tu_capture_end();
}

static void test_bad_option(void **state)
{
    (void)state;
    static const struct {
        const char *args[4];
        const char *want;
    } cases[] = {
        {{"--tabel", "x"}, "prog: unrecognized option '--tabel'; did you mean '--table'?\n"
                           "Try 'prog --help'.\n"},
        {{"--tabel=x"}, "prog: unrecognized option '--tabel'; did you mean '--table'?\n"},
        {{"--jsno"}, "prog: unrecognized option '--jsno'; did you mean '--json'?\n"},
        {{"--frobnicate"}, "prog: unrecognized option '--frobnicate'\nTry 'prog --help'.\n"},
        {{"--ta", "x"}, "prog: option '--ta' is ambiguous\n"},
        {{"--table"}, "prog: option '--table' requires an argument\n"},
        {{"--json=1"}, "prog: option '--json' doesn't allow an argument\n"},
        {{"-t"}, "prog: option requires an argument -- 't'\n"},
        {{"-x"}, "prog: invalid option -- 'x'\n"},
        {{"-jx"}, "prog: invalid option -- 'x'\n"},
        {{"--table", "a", "-x"}, "prog: invalid option -- 'x'\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *argv[6] = {"prog"};
        int argc = 1, code;
        for (int j = 0; j < 4 && cases[i].args[j]; j++) argv[argc++] = (char *)cases[i].args[j];
        const char *out = bad_option(argc, argv, &code);
        assert_int_equal(code, CLI_USAGE);
        if (!strstr(out, cases[i].want)) fail_msg("case %zu: got '%s'", i, out);
        assert_non_null(strstr(out, "Try 'prog --help'.\n"));
    }
}

static void test_unknown_command(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int x;
    } table[] = {{"list", 0}, {"describe", 1}, {"verify", 2}};
    tu_capture_begin();
    int code = cli_unknown_command("tidemark-export", "lsit", table, 3, sizeof *table);
    const char *out = tu_capture_end();
    assert_int_equal(code, CLI_USAGE);
    assert_string_equal(out, "tidemark-export: unknown command 'lsit'; did you mean 'list'?\n"
                             "Try 'tidemark-export --help'.\n");
}

/* ---- messages, data directory, quiet ---- */

/* A program with sub-commands names the command in every message and in the help hint. */
static void test_command_context(void **state)
{
    (void)state;
    tu_capture_begin();
    cli_set_command("put-item");
    int code = cli_usage("tidemark", "--item is required");
    const char *h = cli_home_existing("tidemark", "/tmp/cli_test_no_such_home");
    cli_set_command(NULL);
    cli_usage("tidemark", "no command given");
    const char *out = tu_capture_end();
    assert_int_equal(code, CLI_USAGE);
    assert_null(h);
    assert_string_equal(out, "tidemark: put-item: --item is required\n"
                             "Try 'tidemark put-item --help'.\n"
                             "tidemark: put-item: no tidemark data directory at /tmp/cli_test_no_such_home "
                             "(create one with `tidemark create-table --data /tmp/cli_test_no_such_home ...`)\n"
                             "tidemark: no command given\n"
                             "Try 'tidemark --help'.\n");
}

static void test_home_existing(void **state)
{
    (void)state;
    char dir[] = "/tmp/cli_test_home_XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_string_equal(cli_home_existing("tidemark", dir), dir);
    char missing[64];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    tu_capture_begin();
    const char *h = cli_home_existing("tidemark", missing);
    const char *out = tu_capture_end();
    assert_null(h);
    assert_non_null(strstr(out, "tidemark: no tidemark data directory at "));
    assert_non_null(strstr(out, "/nope (create one with `tidemark create-table --data "));
    struct stat st;
    assert_int_not_equal(stat(missing, &st), 0);   /* not created */
    rmdir(dir);
}

static void test_quiet(void **state)
{
    (void)state;
    setenv("TIDEMARK_PROGRESS", "1", 1);
    cli_set_quiet(1);
    assert_int_equal(cli_interactive(), 0);   /* quiet draws nothing, even on a terminal */
    tu_capture_begin();
    progress *p = cli_progress_new("tidemark", "loading", 10);
    progress_add(p, 10, 100);
    cli_progress_done(p, "loaded %d items", 10);
    cli_note("tidemark", "created table %s", "Chat");
    cli_usage("tidemark", "--table is required");
    const char *out = tu_capture_end();
    /* errors still show (an api error under quiet: cli_report_test) */
    assert_string_equal(out, "tidemark: --table is required\nTry 'tidemark --help'.\n");
    cli_set_quiet(0);
    tu_capture_begin();
    cli_progress_done(cli_progress_new("tidemark", "loading", 0), "loaded %d items", 3);
    cli_note("tidemark", "created table %s", "Chat");
    out = tu_capture_end();
    assert_string_equal(out, "tidemark: loaded 3 items\ntidemark: created table Chat\n");
    unsetenv("TIDEMARK_PROGRESS");
}

/* ---- progress ---- */

static void test_line_width(void **state)
{
    (void)state;
    progress_view v;
    memset(&v, 0, sizeof v);
    strcpy(v.prog, "tidemark-restore");
    strcpy(v.what, "restoring");
    strcpy(v.phase, "seed copy");
    v.items = 123456789;
    v.total_items = 987654321;
    v.bytes = 5ull << 30;
    v.item_rate = 12345;
    v.elapsed = 75;
    v.percent = 12.5;
    v.eta = 3725;
    char line[512];
    size_t n = cli_progress_line(&v, 200, line, sizeof line);
    assert_int_equal(n, strlen(line));
    assert_string_equal(line, "tidemark-restore: restoring, seed copy: 123456789/987654321 items, "
                              "5.0 GiB (12%), 12345 items/s, 1m15s, ETA 1h02m");
    for (int w = 1; w <= 100; w++) {   /* never reaches the last column, never wraps */
        n = cli_progress_line(&v, w, line, sizeof line);
        assert_true(n <= (size_t)(w > 1 ? w - 1 : 1));
        assert_null(strchr(line, '\n'));
    }
    /* narrow: the least needed fields go first, the percentage and the ETA stay */
    n = cli_progress_line(&v, 80, line, sizeof line);
    assert_string_equal(line, "tidemark-restore: restoring, seed copy: 5.0 GiB (12%), ETA 1h02m");
    n = cli_progress_line(&v, 50, line, sizeof line);
    assert_string_equal(line, "tidemark-restore: restoring, seed copy:");
    n = cli_progress_line(&v, 20, line, sizeof line);   /* the head alone, cut */
    assert_string_equal(line, "tidemark-restore: r");
    n = cli_progress_line(&v, 80, line, 10);   /* a small buffer is respected */
    assert_int_equal(n, 9);
}

static void test_line_bytes_total(void **state)
{
    (void)state;
    progress_view v;
    memset(&v, 0, sizeof v);
    strcpy(v.prog, "tidemark");
    strcpy(v.what, "batch-write");
    v.items = 1000;
    v.bytes = 25 << 20;
    v.total_bytes = 100 << 20;
    v.byte_rate = 5 << 20;
    v.item_rate = 200;
    v.elapsed = 5;
    v.percent = 25;
    v.eta = 15;
    char line[512];
    cli_progress_line(&v, 200, line, sizeof line);
    assert_string_equal(line, "tidemark: batch-write: 1000 items, 25.0 MiB/100.0 MiB (25%), "
                              "5.0 MiB/s, 5s, ETA 15s");
}

typedef struct seen {
    int draws, closes;
    char phase[64];
    progress_view last;
} seen;

static void seen_draw(void *ctx, const progress_view *v)
{
    seen *s = ctx;
    s->draws++;
    s->last = *v;
    snprintf(s->phase, sizeof s->phase, "%s", v->phase);
}

static void seen_close(void *ctx) { ((seen *)ctx)->closes++; }

static void test_recent_rate(void **state)
{
    (void)state;
    fake_now = 1000;
    progress *p = progress_new("tidemark", "batch-write", 0);
    progress_set_total_bytes(p, 30000 + 6000);
    /* 1000 items (bytes) a second for 30 s, then 100 a second */
    for (int i = 0; i < 300; i++) {
        fake_now += 0.1;
        progress_add(p, 100, 100);
    }
    for (int i = 0; i < 100; i++) {
        fake_now += 0.1;
        progress_add(p, 10, 10);
    }
    progress_view v;
    progress_get(p, &v);
    assert_int_equal(v.items, 31000);
    assert_true(v.elapsed > 39.9 && v.elapsed < 40.1);
    /* the whole run's average is 775/s; the last 8 s ran at 100/s */
    if (v.item_rate < 95 || v.item_rate > 105) fail_msg("recent rate %.1f", v.item_rate);
    assert_true(v.byte_rate > 95 && v.byte_rate < 105);
    assert_true(v.percent > 86 && v.percent < 86.2);   /* of the byte total */
    assert_true(v.eta > 47 && v.eta < 53);             /* 5000 bytes at 100/s */
    /* a stall longer than the window: rate 0, no ETA */
    fake_now += 30;
    progress_get(p, &v);
    assert_true(v.item_rate == 0);
    assert_true(v.eta < 0);
    progress_free(p);
    fake_now = -1;
}

static void test_phases_and_sink(void **state)
{
    (void)state;
    fake_now = 50;
    seen s;
    memset(&s, 0, sizeof s);
    progress *p = progress_new("tidemark-restore", "restoring", 0);
    progress_sink sink = {seen_draw, seen_close, &s, 0.1};
    progress_set_sink(p, &sink);
    progress_phase(p, "seed copy");   /* shown at once, before any item */
    assert_int_equal(s.draws, 1);
    assert_string_equal(s.phase, "seed copy");
    fake_now += 5;
    progress_flush(p);                /* a ticker's redraw: elapsed moves on */
    assert_int_equal(s.draws, 2);
    assert_true(s.last.phase_elapsed > 4.9);
    progress_phase(p, "replay");
    progress_set_total(p, 1000);
    fake_now += 0.01;
    progress_add(p, 10, 0);
    progress_add(p, 10, 0);           /* within 0.1 s of the last draw: not drawn */
    assert_int_equal(s.draws, 3);
    fake_now += 0.2;
    progress_add(p, 10, 0);
    assert_int_equal(s.draws, 4);
    assert_string_equal(s.phase, "replay");
    assert_int_equal(s.last.items, 30);
    assert_true(s.last.percent > 2.9 && s.last.percent < 3.1);
    assert_int_equal(s.closes, 0);
    progress_free(p);
    assert_int_equal(s.closes, 1);
    /* NULL is fine everywhere */
    progress_add(NULL, 1, 1);
    progress_phase(NULL, "x");
    progress_free(NULL);
    fake_now = -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_bad_option),
        cmocka_unit_test(test_unknown_command),
        cmocka_unit_test(test_command_context),
        cmocka_unit_test(test_home_existing),
        cmocka_unit_test(test_quiet),
        cmocka_unit_test(test_line_width),
        cmocka_unit_test(test_line_bytes_total),
        cmocka_unit_test(test_recent_rate),
        cmocka_unit_test(test_phases_and_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
