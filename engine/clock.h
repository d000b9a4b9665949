/* clock.h: the one source of time.
 *
 * Real time by default. TIDEMARK_CLOCK=<time> (testing and simulation knob) makes the process
 * take that instant as now, frozen: callers that need strictly increasing stamps (the write
 * path) add 1 µs past the last stamp themselves. Accepted forms: ISO-8601 UTC
 * (2025-11-12T10:00:00Z, with optional .ffffff), epoch seconds (1731405600, optional fraction).
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

/* Parses a user-given time. ISO-8601 UTC, epoch seconds, or relative to now ("-90m", "-2h",
 * "-7d", "-30s", "now"). TM_EINVAL with a message naming the text on failure. */
int clock_parse(const char *s, int64_t *us);
/* Formats as 2025-11-12T10:15:00.123456Z (digits = 0, 3 or 6 fractional digits). */
void clock_format(int64_t us, int digits, char *out, size_t n);

#endif
