/* clock.h: the one source of time.
 *
 * Real time by default. TIDEMARK_CLOCK=<time> (testing and simulation knob) makes the process
 * take that instant as now, frozen: callers that need strictly increasing stamps (the write
 * path) add 1 µs past the last stamp themselves. Accepted forms: ISO-8601 UTC
 * (2025-11-12T10:00:00Z, with optional .ffffff), epoch seconds (1731405600, optional fraction). */
#ifndef TIDEMARK_CLOCK_H
#define TIDEMARK_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define CLOCK_US_PER_SEC 1000000LL

int64_t clock_now_us(void);
/* Overrides now for this process (tests); 0 returns to TIDEMARK_CLOCK or real time. */
void clock_set_us(int64_t us);

/* Parses a user-given time. ISO-8601 UTC, epoch seconds, or relative to now ("-90m", "-2h",
 * "-7d", "-30s", "now"). TM_EINVAL with a message naming the text on failure. */
int clock_parse(const char *s, int64_t *us);
/* Formats as 2025-11-12T10:15:00.123456Z (digits = 0, 3 or 6 fractional digits). */
void clock_format(int64_t us, int digits, char *out, size_t n);

#endif
