/* clock.h: the one source of time.
 *
 * Real time by default. TIDEMARK_CLOCK=<time> (testing and simulation knob) makes the process
 * take that instant as now, frozen: callers that need strictly increasing stamps (the write
 * path) add 1 µs past the last stamp themselves. Accepted forms: the absolute ones of
 * clock_parse (2025-11-12T10:00:00Z, an offset, epoch seconds 1731405600).
 *
 * A TIDEMARK_CLOCK more than CLOCK_FUTURE_MAX_US ahead of the real clock is not taken (unless
 * TIDEMARK_CLOCK_ALLOW_FUTURE=1): a table's write times only go forward (max(now, last + 1 µs)),
 * so one write stamped in the future would drag every later real-clock write on that table to
 * just after it, and point-in-time restores would place them there. Such a value, like one
 * that does not parse, leaves the real clock in use and says so once on stderr. Past instants
 * (the tests' 35 days of history) are taken as they are. */
#ifndef TIDEMARK_CLOCK_H
#define TIDEMARK_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define CLOCK_US_PER_SEC 1000000LL

/* How far ahead of the real clock TIDEMARK_CLOCK may be: 5 minutes, room for clock skew
 * between machines, far less than any simulation of the future needs. */
#define CLOCK_FUTURE_MAX_US (300 * CLOCK_US_PER_SEC)

int64_t clock_now_us(void);
/* The time of a write to table that must come after last_us: max(now, last_us + 1 µs). When
 * that is more than CLOCK_FUTURE_MAX_US ahead of now (an earlier write was stamped in the
 * future), the first such write of the process says so on stderr, naming the table. */
int64_t clock_stamp_after(int64_t last_us, const char *table);
/* Overrides now for this process (tests); 0 returns to TIDEMARK_CLOCK or real time. */
void clock_set_us(int64_t us);

/* Parses a user-given time:
 *   ISO-8601: 2025-11-12T10:15:00Z, 'T' or a space before the time of day, seconds and a
 *     fraction optional (2025-11-12 10:15, 2025-11-12T10:15:00.250Z), a date alone is its
 *     midnight; Z, an offset (+01:00, -0530, +01) or no zone at all, which is UTC;
 *   epoch seconds, optional fraction (1762941600.5);
 *   relative to now: "-90m", "-1h30m", "-2d", "-45s" (units s, m, h, d; '+' for ahead), "now".
 * TM_EINVAL with a message naming the text, what is wrong with it (an impossible date says
 * "February 2025 has 28 days") and the accepted forms. */
int clock_parse(const char *s, int64_t *us);
/* Formats as 2025-11-12T10:15:00.123456Z (digits = 0, 3 or 6 fractional digits). */
void clock_format(int64_t us, int digits, char *out, size_t n);

#endif
