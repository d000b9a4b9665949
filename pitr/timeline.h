/* timeline.h: the activity timeline of a table's writes, as a pure accumulator: writes per
 * interval (minute or hour), the usual rate, the bursts far above it, and for each burst the
 * state just before it (the time to restore to). No I/O and no clock: the caller feeds it
 * {time, op} records in time order (from the change log, or a test's array) and prints what it
 * computed; `tidemark timeline` is one such caller.
 *
 * Rules (what tidemark_timeline.sh and pitr_policy_test check):
 *   - intervals are aligned to whole minutes or hours (UTC); without a choice, minutes unless
 *     the range is longer than two days;
 *   - the usual rate is the median of the non-empty intervals' writes;
 *   - an interval is a burst when there are at least two non-empty intervals and it holds at
 *     least max(5 x usual, 50) writes;
 *   - a burst is a run of burst intervals; empty intervals inside a run do not split it;
 *   - its last good time is one µs before its first write; its last good second is that time
 *     cut to the second, when no write outside the burst falls between the two (a restore to
 *     that second then keeps every good write).
 * The structure is open: records carry their op, and intervals keep first and last write
 * times, so that later questions (per key, per writer) add fields, not a new pass. */
#ifndef TIDEMARK_PITR_TIMELINE_H
#define TIDEMARK_PITR_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

#define PITR_TL_MAX_INTERVALS 200000
#define PITR_TL_BURST_FACTOR 5       /* a burst is this many times the usual rate ... */
#define PITR_TL_BURST_MIN 50         /* ... and at least this many writes per interval */

typedef enum pitr_tl_by { PITR_TL_AUTO = 0, PITR_TL_MINUTE = 1, PITR_TL_HOUR = 2 } pitr_tl_by;

typedef struct pitr_tl_interval {
    int64_t start_us;
    uint64_t puts, updates, deletes;
    int64_t first_us, last_us;        /* first and last write in it; 0 when none */
    int burst;
} pitr_tl_interval;

typedef struct pitr_tl_burst {
    int64_t first_us, last_us;
    uint64_t writes, puts, updates, deletes;
    int64_t last_good_us;             /* first_us - 1 */
    int has_good_second;
    int64_t last_good_second_us;      /* when has_good_second */
} pitr_tl_burst;

typedef struct pitr_timeline {
    int64_t from_us, to_us;           /* records outside [from, to] are not counted */
    pitr_tl_by by;                    /* PITR_TL_MINUTE or PITR_TL_HOUR, once chosen */
    int64_t width_us;
    pitr_tl_interval *iv;
    size_t niv;
    /* after pitr_timeline_finish: */
    uint64_t writes, puts, updates, deletes, max_writes;
    uint64_t usual;                   /* median writes of the non-empty intervals */
    pitr_tl_burst *bursts;
    size_t nbursts;
} pitr_timeline;

/* A timeline of [from_us, to_us]. TM_EINVAL: to before from ("--to is before --from"), or more
 * than PITR_TL_MAX_INTERVALS intervals; TM_ENOMEM. Free with pitr_timeline_free. */
int pitr_timeline_new(int64_t from_us, int64_t to_us, pitr_tl_by by, pitr_timeline **out);
/* Counts one write (op: LOG_OP_PUT, LOG_OP_UPDATE, else a delete); records in time order. */
void pitr_timeline_add(pitr_timeline *tl, int64_t time_us, int op);
/* Totals, the usual rate, burst intervals and bursts. Once, after the last add. TM_ENOMEM. */
int pitr_timeline_finish(pitr_timeline *tl);
void pitr_timeline_free(pitr_timeline *tl);
uint64_t pitr_tl_writes(const pitr_tl_interval *iv);

#endif
