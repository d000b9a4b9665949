/* clock.c: the one source of time (see clock.h). */
#include "engine/clock.h"
#include "engine/err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t clock_override;
static int clock_env_read;
static int64_t clock_env_us;

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

int64_t clock_now_us(void)
{
    if (clock_override) return clock_override;
    if (!clock_env_read) {
        const char *e = getenv("TIDEMARK_CLOCK");
        int64_t us;
        clock_env_read = 1;
        /* A relative TIDEMARK_CLOCK would recurse: only absolute forms are taken. */
        if (e && *e && *e != '-' && clock_parse(e, &us) == 0) clock_env_us = us;
    }
    if (clock_env_us) return clock_env_us;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * CLOCK_US_PER_SEC + ts.tv_nsec / 1000;
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
