/* clock.c: the one source of time (see clock.h). */
#include "engine/clock.h"
#include "engine/err.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t clock_override;
static pthread_once_t clock_env_once = PTHREAD_ONCE_INIT;
static int64_t clock_env_us;
static atomic_int clock_drag_said;

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's algorithm: days since 1970-01-01 in the proleptic Gregorian calendar. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int64_t real_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * CLOCK_US_PER_SEC + ts.tv_nsec / 1000;
}

/* "3 days", "2 hours", "7 minutes", "40 seconds": how far apart two instants are. */
static void format_span(int64_t us, char *out, size_t n)
{
    static const struct { int64_t secs; const char *unit; } u[] = {
        {365 * 86400LL, "year"}, {86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"},
    };
    int64_t s = us / CLOCK_US_PER_SEC;
    size_t i = 0;
    while (i + 1 < sizeof u / sizeof *u && s < u[i].secs) i++;
    long long k = (long long)(s / u[i].secs);
    snprintf(out, n, "%lld %s%s", k, u[i].unit, k == 1 ? "" : "s");
}

/* Reads TIDEMARK_CLOCK once per process (see clock.h for what is taken). */
static void clock_env_init(void)
{
    const char *e = getenv("TIDEMARK_CLOCK");
    const char *allow = getenv("TIDEMARK_CLOCK_ALLOW_FUTURE");
    int64_t us;
    if (!e || !*e || !strcmp(e, "now")) return;
    /* A relative TIDEMARK_CLOCK would recurse (clock_parse reads now): only absolute forms. */
    if (*e == '-' || *e == '+' || clock_parse(e, &us) != 0) {
        fprintf(stderr, "%s: TIDEMARK_CLOCK='%s' is ignored: not an absolute time (use "
                "2025-11-12T10:00:00Z or epoch seconds); the real clock is used\n",
                program_invocation_short_name, e);
        return;
    }
    int64_t real = real_now_us();
    if (us - real > CLOCK_FUTURE_MAX_US && !(allow && !strcmp(allow, "1"))) {
        char span[48];
        format_span(us - real, span, sizeof span);
        fprintf(stderr, "%s: TIDEMARK_CLOCK=%s is ignored: it is %s ahead of the real clock (at most "
                "5 minutes are taken), and a write stamped then would drag the time of every later "
                "write on its table to after it; the real clock is used "
                "(TIDEMARK_CLOCK_ALLOW_FUTURE=1 takes it anyway)\n",
                program_invocation_short_name, e, span);
        return;
    }
    clock_env_us = us;
}

int64_t clock_now_us(void)
{
    if (clock_override) return clock_override;
    pthread_once(&clock_env_once, clock_env_init);
    if (clock_env_us) return clock_env_us;
    return real_now_us();
}

int64_t clock_stamp_after(int64_t last_us, const char *table)
{
    int64_t now = clock_now_us();
    int64_t t = now > last_us ? now : last_us + 1;
    if (t - now > CLOCK_FUTURE_MAX_US && !atomic_exchange(&clock_drag_said, 1)) {
        char at[40], span[48];
        clock_format(t, 6, at, sizeof at);
        format_span(t - now, span, sizeof span);
        fprintf(stderr, "%s: warning: table %s: this write is stamped %s, %s ahead of the clock: "
                "an earlier write was stamped in the future and a table's write times only go "
                "forward, so restores and exports place this write there\n",
                program_invocation_short_name, table ? table : "?", at, span);
    }
    return t;
}

void clock_set_us(int64_t us) { clock_override = us; }

static int parse_frac(const char **p, int64_t *us)
{
    const char *s = *p;
    int64_t v = 0, scale = 100000;
    if (*s != '.') return 0;
    s++;
    if (!isdigit((unsigned char)*s)) return -1;
    while (isdigit((unsigned char)*s)) {
        v += (*s - '0') * scale;
        scale /= 10;
        s++;
    }
    *us = v;
    *p = s;
    return 0;
}

/* ---- parsing user-given times ----
 * Forms (clock.h): now; relative [-+]N<unit>... (units s, m, h, d; "-1h30m", "-1.5h");
 * ISO-8601 dates with 'T' or ' ' before an optional HH:MM[:SS[.f]], then Z, an offset
 * (+01:00, -0530, +01) or nothing (UTC); epoch seconds with an optional fraction. A text that
 * looks like one form but breaks its rules is refused with what was wrong. */

#define CLOCK_FORMS "accepted: 2025-11-12T10:15:00Z, 2025-11-12 10:15, .ffffff fractions, " \
                    "+01:00 offsets (none: UTC), epoch seconds, now, or relative -90m, -1h30m, -2d"

static int bad_time(const char *s, const char *why)
{
    return err_set(TM_EINVAL, "cannot parse time '%s': %s (%s)", s, why, CLOCK_FORMS);
}

/* Exactly n digits at *p: their value, or -1. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return v;
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int month_days(int64_t y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

static const char *const month_names[12] = {"January", "February", "March",     "April",
                                            "May",     "June",     "July",      "August",
                                            "September", "October", "November", "December"};

/* "-1h30m", "+2d", "-1.5h": the signed sum in µs. */
static int parse_relative(const char *s, int64_t *delta)
{
    const char *p = s + 1;
    double total = 0;
    if (!*p) return bad_time(s, "a relative time needs an amount and a unit");
    while (*p) {
        char *end = (char *)p;
        double v = isdigit((unsigned char)*p) || *p == '.' ? strtod(p, &end) : 0;
        if (end == p) return bad_time(s, "a relative time is amounts with units: -90m, -1h30m, -2d");
        switch (*end) {
        case 's': total += v; break;
        case 'm': total += v * 60; break;
        case 'h': total += v * 3600; break;
        case 'd': total += v * 86400; break;
        case '\0': return bad_time(s, "the last amount has no unit (s, m, h or d)");
        default: return bad_time(s, "unknown unit (use s, m, h or d)");
        }
        p = end + 1;
    }
    if (total > 1e11) return bad_time(s, "too far from now");
    int64_t d = (int64_t)(total * CLOCK_US_PER_SEC);
    *delta = *s == '-' ? -d : d;
    return 0;
}

/* Z, z, +HH:MM, +HHMM, +HH (or -): seconds east of UTC; nothing is UTC. */
static int parse_zone(const char *s, const char **pp, int64_t *east)
{
    const char *p = *pp;
    *east = 0;
    if (*p == 'Z' || *p == 'z') {
        *pp = p + 1;
        return 0;
    }
    if (*p != '+' && *p != '-') return 0;
    int sign = *p == '-' ? -1 : 1, hh, mm = 0;
    p++;
    if ((hh = digits(&p, 2)) < 0) return bad_time(s, "an offset is +HH:MM, +HHMM or +HH");
    if (*p == ':') {
        p++;
        if ((mm = digits(&p, 2)) < 0) return bad_time(s, "an offset is +HH:MM, +HHMM or +HH");
    } else if (isdigit((unsigned char)*p) && (mm = digits(&p, 2)) < 0) {
        return bad_time(s, "an offset is +HH:MM, +HHMM or +HH");
    }
    if (hh > 23 || mm > 59) return bad_time(s, "the offset's hours are 00..23 and minutes 00..59");
    *east = sign * (hh * 3600 + mm * 60);
    *pp = p;
    return 0;
}

/* Checks the fields and says which one is impossible. */
static int check_fields(const char *s, int64_t y, int mo, int d, int h, int mi, int se)
{
    char why[96];
    if (mo < 1 || mo > 12) {
        snprintf(why, sizeof why, "month %02d does not exist (01..12)", mo);
        return bad_time(s, why);
    }
    if (d < 1 || d > month_days(y, mo)) {
        snprintf(why, sizeof why, "%s%s %lld has %d days", d < 1 ? "day 00 does not exist: " : "", month_names[mo - 1], (long long)y,
                 month_days(y, mo));
        return bad_time(s, why);
    }
    if (h > 23) return bad_time(s, "hours are 00..23");
    if (mi > 59) return bad_time(s, "minutes are 00..59");
    if (se > 59) return bad_time(s, "seconds are 00..59 (leap seconds are not taken)");
    return 0;
}

/* YYYY-MM-DD[(T| )HH:MM[:SS[.f]]][zone]. */
static int parse_iso(const char *s, int64_t *out)
{
    const char *p = s;
    int y = digits(&p, 4), mo, d, h = 0, mi = 0, se = 0, rc;
    int64_t frac = 0, east = 0;
    if (y < 0 || *p++ != '-' || (mo = digits(&p, 2)) < 0 || *p++ != '-' || (d = digits(&p, 2)) < 0)
        return bad_time(s, "a date is YYYY-MM-DD");
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if ((h = digits(&p, 2)) < 0 || *p++ != ':' || (mi = digits(&p, 2)) < 0)
            return bad_time(s, "a time of day is HH:MM or HH:MM:SS");
        if (*p == ':') {
            p++;
            if ((se = digits(&p, 2)) < 0) return bad_time(s, "seconds are two digits");
            if (parse_frac(&p, &frac)) return bad_time(s, "a fraction needs digits after the '.'");
        }
    }
    if ((rc = parse_zone(s, &p, &east))) return rc;
    if (*p) return bad_time(s, "unexpected text after the time");
    if ((rc = check_fields(s, y, mo, d, h, mi, se))) return rc;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    *out = (days * 86400 + h * 3600 + mi * 60 + se - east) * CLOCK_US_PER_SEC + frac;
    return 0;
}

int clock_parse(const char *s, int64_t *out)
{
    int rc;
    if (!s || !*s) return err_set(TM_EINVAL, "empty time (%s)", CLOCK_FORMS);
    if (!strcmp(s, "now")) {
        *out = clock_now_us();
        return 0;
    }
    if (*s == '-' || *s == '+') {
        int64_t delta = 0;
        if ((rc = parse_relative(s, &delta))) return rc;
        *out = clock_now_us() + delta;
        return 0;
    }
    size_t nd = strspn(s, "0123456789");
    if (nd == 4 && s[4] == '-') return parse_iso(s, out);
    if (nd > 0 && (s[nd] == '\0' || s[nd] == '.')) {
        const char *q = s + nd;
        int64_t frac = 0;
        if (nd > 12) return bad_time(s, "epoch seconds too large");
        if (parse_frac(&q, &frac) || *q)
            return bad_time(s, "epoch seconds are digits with an optional .fraction");
        *out = strtoll(s, NULL, 10) * CLOCK_US_PER_SEC + frac;
        return 0;
    }
    return bad_time(s, "not a time");
}

void clock_format(int64_t us, int digits, char *out, size_t n)
{
    int64_t secs = us >= 0 ? us / CLOCK_US_PER_SEC : (us - CLOCK_US_PER_SEC + 1) / CLOCK_US_PER_SEC;
    int64_t frac = us - secs * CLOCK_US_PER_SEC;
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    if (digits == 3) snprintf(out, n, "%s.%03dZ", base, (int)(frac / 1000));
    else if (digits == 6) snprintf(out, n, "%s.%06dZ", base, (int)frac);
    else snprintf(out, n, "%sZ", base);
}
