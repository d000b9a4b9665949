/* clock_test.c: unit tests of the clock: parsing and formatting, TIDEMARK_CLOCK (past instants
 * taken, far-future ones refused with a line on stderr unless TIDEMARK_CLOCK_ALLOW_FUTURE=1),
 * and the write stamps that say so when an earlier future stamp drags them.
 *
 * TIDEMARK_CLOCK is read once per process, so each environment runs in a child process; the
 * child reports what clock_now_us gave and what it wrote on stderr through a pipe. */
#include "engine/clock.h"
#include "engine/err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static int64_t real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * CLOCK_US_PER_SEC + ts.tv_nsec / 1000;
}

typedef struct child_out {
    int64_t now;             /* clock_now_us() in the child */
    int64_t stamps[3];       /* clock_stamp_after of the child's lasts */
    char err[2048];          /* what the child wrote on stderr */
} child_out;

/* Runs clock_now_us (and clock_stamp_after for each of lasts) with TIDEMARK_CLOCK=clock and
 * TIDEMARK_CLOCK_ALLOW_FUTURE=allow (NULL: unset) in a child. */
static void in_child(const char *clock, const char *allow, const int64_t *lasts, int nlasts,
                     child_out *out)
{
    int res[2], errp[2];
    memset(out, 0, sizeof *out);
    assert_int_equal(pipe(res), 0);
    assert_int_equal(pipe(errp), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_out o;
        memset(&o, 0, sizeof o);
        dup2(errp[1], 2);
        if (clock) setenv("TIDEMARK_CLOCK", clock, 1);
        else unsetenv("TIDEMARK_CLOCK");
        if (allow) setenv("TIDEMARK_CLOCK_ALLOW_FUTURE", allow, 1);
        else unsetenv("TIDEMARK_CLOCK_ALLOW_FUTURE");
        o.now = clock_now_us();
        for (int i = 0; i < nlasts; i++) o.stamps[i] = clock_stamp_after(lasts[i], "Chat");
        fflush(stderr);
        ssize_t w = write(res[1], &o, sizeof o);
        _exit(w == (ssize_t)sizeof o ? 0 : 1);
    }
    close(res[1]);
    close(errp[1]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(read(res[0], out, sizeof *out), (ssize_t)sizeof *out);
    ssize_t n = read(errp[0], out->err, sizeof out->err - 1);
    out->err[n > 0 ? n : 0] = '\0';
    memset(&out->stamps[nlasts], 0, sizeof out->stamps - (size_t)nlasts * sizeof *out->stamps);
    close(res[0]);
    close(errp[0]);
}

static void test_parse_format(void **state)
{
    (void)state;
    int64_t us;
    char txt[40];
    assert_int_equal(clock_parse("2025-11-12T10:00:00Z", &us), 0);
    assert_int_equal(us, 1762941600LL * CLOCK_US_PER_SEC);
    assert_int_equal(clock_parse("1762941600.5", &us), 0);
    assert_int_equal(us, 1762941600LL * CLOCK_US_PER_SEC + 500000);
    clock_format(us, 3, txt, sizeof txt);
    assert_string_equal(txt, "2025-11-12T10:00:00.500Z");
    assert_int_equal(clock_parse("yesterday", &us), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "cannot parse time 'yesterday'"));
}

/* Every accepted form (issue 12): ISO-8601 with 'T' or a space, optional seconds and fraction,
 * Z, an offset or no zone (UTC); epoch seconds; relative to now. */
static void test_parse_forms(void **state)
{
    (void)state;
    const int64_t T = 1762942500LL * CLOCK_US_PER_SEC;   /* 2025-11-12T10:15:00Z */
    const int64_t H = 3600 * CLOCK_US_PER_SEC, M = 60 * CLOCK_US_PER_SEC;
    static const struct { const char *in; int64_t off; } abs_forms[] = {
        {"2025-11-12T10:15:00Z", 0},
        {"2025-11-12T10:15Z", 0},
        {"2025-11-12 10:15", 0},
        {"2025-11-12 10:15:00", 0},
        {"2025-11-12t10:15:00z", 0},
        {"2025-11-12T10:15:00.25Z", 250000},
        {"2025-11-12 10:15:07.000001", 7000001},
        {"2025-11-12T10:15:00.1234567Z", 123456},        /* beyond µs: cut */
        {"2025-11-12T11:15:00+01:00", 0},
        {"2025-11-12T11:15+0100", 0},
        {"2025-11-12T11:15:00+01", 0},
        {"2025-11-12T04:45:00-0530", 0},
        {"2025-11-12T10:15:00+00:00", 0},
        {"2025-11-12T10:15:00-00:00", 0},
        {"2025-11-12", -(10 * 3600 + 15 * 60) * CLOCK_US_PER_SEC},
        {"2025-11-12Z", -(10 * 3600 + 15 * 60) * CLOCK_US_PER_SEC},
        {"1762942500", 0},
        {"1762942500.5", 500000},
        {"1762942500.000001", 1},
    };
    for (size_t i = 0; i < sizeof abs_forms / sizeof *abs_forms; i++) {
        int64_t us = -1;
        if (clock_parse(abs_forms[i].in, &us) != 0)
            fail_msg("'%s' refused: %s", abs_forms[i].in, err_msg());
        if (us != T + abs_forms[i].off)
            fail_msg("'%s' gave %lld, want %lld", abs_forms[i].in, (long long)us,
                     (long long)(T + abs_forms[i].off));
    }
    /* leap years: 29 February exists in 2024 and 2000, not in 2025 or 1900 */
    int64_t us;
    assert_int_equal(clock_parse("2024-02-29T00:00:00Z", &us), 0);
    assert_int_equal(clock_parse("2000-02-29", &us), 0);
    assert_int_equal(us, 951782400LL * CLOCK_US_PER_SEC);
    assert_int_equal(clock_parse("2025-12-31T23:59:59.999999Z", &us), 0);
    assert_int_equal(us, 1767225599999999LL);
    static const struct { const char *in; int64_t delta; } rel[] = {
        {"-90m", -90 * M},   {"-1h30m", -90 * M},  {"-2d", -48 * H},   {"-45s", -45 * CLOCK_US_PER_SEC},
        {"-1.5h", -90 * M},  {"-1d2h3m4s", -(26 * H + 3 * M + 4 * CLOCK_US_PER_SEC)},
        {"+10m", 10 * M},    {"now", 0},
    };
    clock_set_us(T);
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
        us = -1;
        if (clock_parse(rel[i].in, &us) != 0) fail_msg("'%s' refused: %s", rel[i].in, err_msg());
        if (us != T + rel[i].delta)
            fail_msg("'%s' gave %lld, want %lld", rel[i].in, (long long)us, (long long)(T + rel[i].delta));
    }
    clock_set_us(0);
}

/* Impossible dates and malformed texts are refused, each with what was wrong and the forms
 * that are accepted; nothing is silently moved (2025-02-31 was taken as 2025-03-03). */
static void test_parse_refusals(void **state)
{
    (void)state;
    static const struct { const char *in, *why; } bad[] = {
        {"2025-02-31T10:00:00Z", "February 2025 has 28 days"},
        {"2025-02-29", "February 2025 has 28 days"},
        {"1900-02-29T00:00Z", "February 1900 has 28 days"},
        {"2025-04-31 10:00", "April 2025 has 30 days"},
        {"2025-11-00T10:00Z", "day 00 does not exist: November 2025 has 30 days"},
        {"2025-13-01T10:00:00Z", "month 13 does not exist"},
        {"2025-00-10", "month 00 does not exist"},
        {"2025-11-12T24:00:00Z", "hours are 00..23"},
        {"2025-11-12T10:60Z", "minutes are 00..59"},
        {"2025-11-12T10:15:60Z", "seconds are 00..59"},
        {"2025-11-12T10:15:00+24:00", "offset's hours are 00..23"},
        {"2025-11-12T10:15:00+01:75", "minutes 00..59"},
        {"2025-11-12T10:15:00+1", "an offset is +HH:MM"},
        {"2025-11-12T10:15:00 UTC", "unexpected text after the time"},
        {"2025-11-12T10", "a time of day is HH:MM"},
        {"2025-11-12T10:15:00.Z", "a fraction needs digits"},
        {"2025-1-12", "a date is YYYY-MM-DD"},
        {"-90", "the last amount has no unit"},
        {"-90x", "unknown unit"},
        {"-1h30", "the last amount has no unit"},
        {"-", "needs an amount and a unit"},
        {"-h", "amounts with units"},
        {"1762942500.", "epoch seconds are digits"},
        {"1762942500abc", "not a time"},
        {"yesterday", "not a time"},
        {"", "empty time"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t us = 0;
        if (clock_parse(bad[i].in, &us) != TM_EINVAL) fail_msg("'%s' taken as %lld", bad[i].in, (long long)us);
        if (!strstr(err_msg(), bad[i].why)) fail_msg("'%s': message '%s' lacks '%s'", bad[i].in, err_msg(), bad[i].why);
        if (!strstr(err_msg(), "2025-11-12 10:15") || !strstr(err_msg(), "-1h30m"))
            fail_msg("'%s': message '%s' does not name the accepted forms", bad[i].in, err_msg());
    }
    int64_t us;
    assert_int_equal(clock_parse("2025-02-31T10:00:00Z", &us), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "cannot parse time '2025-02-31T10:00:00Z': February 2025 has 28 days"));
}

/* Past instants are taken as they are, silently: the tests' simulated history. */
static void test_env_past(void **state)
{
    (void)state;
    child_out o;
    in_child("2025-11-12T10:00:00Z", NULL, NULL, 0, &o);
    assert_int_equal(o.now, 1762941600LL * CLOCK_US_PER_SEC);
    assert_string_equal(o.err, "");
    /* a little ahead (clock skew between machines) is taken too */
    char near[32];
    int64_t ahead = real_us() + 120 * CLOCK_US_PER_SEC;
    snprintf(near, sizeof near, "%lld", (long long)(ahead / CLOCK_US_PER_SEC));
    in_child(near, NULL, NULL, 0, &o);
    assert_int_equal(o.now, ahead / CLOCK_US_PER_SEC * CLOCK_US_PER_SEC);
    assert_string_equal(o.err, "");
}

/* A clock far ahead is not taken (issue 11: its writes dragged every later real-clock write
 * on the table after them); TIDEMARK_CLOCK_ALLOW_FUTURE=1 takes it. */
static void test_env_future(void **state)
{
    (void)state;
    child_out o;
    char future[32];
    int64_t f = real_us() + (3 * 86400 + 10) * CLOCK_US_PER_SEC;
    snprintf(future, sizeof future, "%lld", (long long)(f / CLOCK_US_PER_SEC));
    int64_t before = real_us();
    in_child(future, NULL, NULL, 0, &o);
    if (o.now < before || o.now > real_us())
        fail_msg("TIDEMARK_CLOCK 3 days ahead gave %lld, not the real clock (%lld)", (long long)o.now,
                 (long long)before);
    if (!strstr(o.err, "TIDEMARK_CLOCK=") || !strstr(o.err, "is ignored: it is 3 days ahead of the "
                                                            "real clock") ||
        !strstr(o.err, "TIDEMARK_CLOCK_ALLOW_FUTURE=1"))
        fail_msg("stderr: '%s'", o.err);
    in_child(future, "1", NULL, 0, &o);
    assert_int_equal(o.now, f / CLOCK_US_PER_SEC * CLOCK_US_PER_SEC);
    assert_string_equal(o.err, "");
    /* one that does not parse is named too */
    in_child("next tuesday", NULL, NULL, 0, &o);
    assert_non_null(strstr(o.err, "TIDEMARK_CLOCK='next tuesday' is ignored: not an absolute time"));
}

/* Stamps are max(now, last + 1 µs); the first one dragged far past the clock says so. */
static void test_stamp_after(void **state)
{
    (void)state;
    const int64_t t = 1762941600LL * CLOCK_US_PER_SEC;
    const int64_t h = 3600 * CLOCK_US_PER_SEC;
    child_out o;
    int64_t near[3] = {t - 5, t, t + 60 * CLOCK_US_PER_SEC};
    in_child("2025-11-12T10:00:00Z", NULL, near, 3, &o);
    assert_int_equal(o.stamps[0], t);
    assert_int_equal(o.stamps[1], t + 1);
    assert_int_equal(o.stamps[2], t + 60 * CLOCK_US_PER_SEC + 1);
    assert_string_equal(o.err, "");   /* a minute ahead: skew, not worth a word */
    int64_t far[3] = {t + 2 * h, t + 2 * h + 1, t - 1};
    in_child("2025-11-12T10:00:00Z", NULL, far, 3, &o);
    assert_int_equal(o.stamps[0], t + 2 * h + 1);
    assert_int_equal(o.stamps[1], t + 2 * h + 2);
    assert_int_equal(o.stamps[2], t);
    assert_string_equal(o.err, "clock_test: warning: table Chat: this write is stamped "
                               "2025-11-12T12:00:00.000001Z, 2 hours ahead of the clock: an earlier "
                               "write was stamped in the future and a table's write times only go "
                               "forward, so restores and exports place this write there\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_format), cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_parse_refusals), cmocka_unit_test(test_env_past),
        cmocka_unit_test(test_env_future),   cmocka_unit_test(test_stamp_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
