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

int clock_parse(const char *s, int64_t *out)
{
    const char *p = s;
    if (!s || !*s) return err_set(TM_EINVAL, "empty time");
    if (!strcmp(s, "now")) {
        *out = clock_now_us();
        return 0;
    }
    if (*s == '-' || *s == '+') {
        char *end;
        double v = strtod(s + 1, &end);
        if (end == s + 1 || end[0] == '\0' || end[1] != '\0') goto bad;
        double mul;
        switch (*end) {
        case 's': mul = 1; break;
        case 'm': mul = 60; break;
        case 'h': mul = 3600; break;
        case 'd': mul = 86400; break;
        default: goto bad;
        }
        int64_t delta = (int64_t)(v * mul * CLOCK_US_PER_SEC);
        *out = clock_now_us() + (*s == '-' ? -delta : delta);
        return 0;
    }
    int y, mo, d, h = 0, mi = 0, se = 0, n = 0;
    if (sscanf(p, "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 && n == 10) {
        int64_t frac = 0;
        p += n;
        if (*p == 'T' || *p == ' ') {
            int m2 = 0;
            if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &se, &m2) != 3 || m2 != 8) goto bad;
            p += 1 + m2;
            if (parse_frac(&p, &frac)) goto bad;
        }
        if (*p == 'Z') p++;
        else if (!strncmp(p, "+00:00", 6)) p += 6;
        if (*p) goto bad;
        if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) goto bad;
        int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
        *out = ((days * 86400) + h * 3600 + mi * 60 + se) * CLOCK_US_PER_SEC + frac;
        return 0;
    }
    if (isdigit((unsigned char)*p)) {
        char *end;
        long long secs = strtoll(p, &end, 10);
        int64_t frac = 0;
        const char *q = end;
        if (parse_frac(&q, &frac) || *q) goto bad;
        *out = (int64_t)secs * CLOCK_US_PER_SEC + frac;
        return 0;
    }
bad:
    return err_set(TM_EINVAL, "cannot parse time '%s' (use 2025-11-12T10:15:00Z, epoch seconds, or -90m)", s);
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
