/* timeline.h: the activity timeline of a table's writes, as a pure accumulator: writes per
 * interval (one second up to days), the usual rate, the bursts far above it, and for each burst
 * its exact first and last write, the state just before it (the time to restore to) and what it
 * touched. No I/O and no clock: the caller feeds it records in time order (from the change log,
 * or a test's array) and prints what it computed; TidemarkTimeline (api/timeline.c) is one such
 * caller. Two passes over the records:
 *   1. pitr_timeline_add for every write from history_us to to_us (times only): intervals,
 *      bursts with their times and counts;
 *   2. after pitr_timeline_finish, pitr_timeline_touch for the writes inside each burst
 *      ([first_us, last_us], in time order, others are ignored): partition keys, key prefixes
 *      and attributes changed.
 * Memory follows the number of intervals (at most PITR_TL_MAX_INTERVALS), never the number of
 * writes or keys: the touch pass keeps bounded sketches (below).
 *
 * Rules (what timeline_test and tidemark_timeline.sh check):
 *   - intervals are whole multiples of the width since the epoch (UTC). Without a width, the
 *     smallest of 1s 2s 3s 5s 10s 15s 20s 30s 1m 2m 3m 5m 10m 15m 20m 30m 1h 2h 3h 6h 12h 1d 2d
 *     4d 7d 14d 28d that gives at most PITR_TL_AUTO_ROWS rows (a 90-minute range: 2m, 46 rows);
 *   - the trailing rate of an interval is the median writes of the non-empty, non-burst
 *     intervals among the PITR_TL_TRAILING before it (0 when there are none). The caller feeds
 *     writes from history_us, that many intervals before from_us, so the first rows are judged
 *     against the writes before them too;
 *   - an interval is a burst when the whole timeline holds at least two non-empty intervals and
 *     it holds at least max(PITR_TL_BURST_FACTOR x its trailing rate, PITR_TL_BURST_MIN) writes.
 *     Bursts stay out of later trailing rates, so a load right after a load is still judged
 *     against the quiet rate before both; when all PITR_TL_TRAILING intervals before one are
 *     bursts that have gone on for PITR_TL_RISE_US (a rise, not a load), their median is the
 *     trailing rate. The first writes of a table are judged against none before them (a load
 *     that creates the table is a burst; so are steady writes from the start, until the rise
 *     has lasted that long);
 *   - inside a burst interval the burst is its dense part: writes less than a run gap apart
 *     (width / threshold / 4, at most 1 s) form runs; the burst starts at the first run of at
 *     least max(threshold / 10, 5) writes (a run may start in the interval before) and ends with
 *     the last such run; an interval without one is dense as a whole. Good writes before and
 *     after it in the same interval stay out;
 *   - burst intervals whose dense parts lie less than PITR_TL_SPLIT_US apart are one burst; a
 *     quiet second or more between them makes two (a load, then another load);
 *   - a burst's counts are the writes in [first, last]; its last good time is one µs before its
 *     first write; its last good second is that time cut to the second, when no write outside
 *     the burst falls between the two (a restore to that second then keeps every good write);
 *   - the usual rate (shown, not used to judge) is the median of the shown non-empty intervals.
 * Kinds: a delete removes an item (no new image); an update writes over one that existed (an
 * old image); a put writes a new item (pitr_tl_kind). */
#ifndef TIDEMARK_PITR_TIMELINE_H
#define TIDEMARK_PITR_TIMELINE_H

#include "engine/log.h"

#include <stddef.h>
#include <stdint.h>

#define PITR_TL_MAX_INTERVALS 200000
#define PITR_TL_BURST_FACTOR 5       /* a burst is this many times the trailing rate ... */
#define PITR_TL_BURST_MIN 50         /* ... and at least this many writes per interval */
#define PITR_TL_TRAILING 30          /* intervals the trailing rate looks back over */
#define PITR_TL_RISE_US (600 * 1000000LL)   /* bursts this long, a window full: the new usual */
#define PITR_TL_AUTO_ROWS 60         /* without a width: at most this many rows */
#define PITR_TL_SPLIT_US 1000000     /* a pause this long between dense parts: two bursts */
#define PITR_TL_TOP 10               /* top key prefixes and attributes reported */
#define PITR_TL_SKETCH 64            /* counters per top list (Space-Saving) */
#define PITR_TL_NAME_MAX 64          /* longer attribute names are counted cut to this */
#define PITR_TL_PREFIX_MAX 32
#define PITR_TL_EXACT_KEYS (1u << 20) /* partition keys counted exactly up to this, then HLL */

/* The width of the intervals in µs; 0 chooses one for the range. Whole seconds. */
typedef int64_t pitr_tl_by;
#define PITR_TL_AUTO 0
#define PITR_TL_SECOND 1000000LL
#define PITR_TL_MINUTE (60 * PITR_TL_SECOND)
#define PITR_TL_HOUR (3600 * PITR_TL_SECOND)
#define PITR_TL_DAY (86400 * PITR_TL_SECOND)

/* A point of the write stream: a write's time, the write before it (0: none fed) and the writes
 * by kind (put, update, delete) before it (start) or through it (end). */
typedef struct pitr_tl_edge {
    int64_t us, prev_us, run_us;      /* run_us (end edges): where the write's run began */
    uint64_t count[3];
} pitr_tl_edge;

typedef struct pitr_tl_interval {
    int64_t start_us;
    uint64_t puts, updates, deletes;
    int64_t first_us, last_us;        /* first and last write in it; 0 when none */
    int burst;
    uint64_t trailing;                /* the trailing rate it was judged against */
    /* the dense part (has_dense) and the whole interval, as edges */
    int has_dense;
    pitr_tl_edge dense_start, dense_end, span_start, span_end;
} pitr_tl_interval;

typedef struct pitr_tl_top {
    char name[PITR_TL_NAME_MAX + 1];
    uint64_t writes;                  /* exact, or at most the sketch's error above */
} pitr_tl_top;

/* What a burst touched (after the touch pass, when done is 1). Partition keys: distinct values
 * of the partition key (64-bit hashes of their stored bytes) counted exactly up to
 * PITR_TL_EXACT_KEYS, past that a HyperLogLog estimate (2^14 registers, about 0.8% error) and
 * exact 0. Prefixes (pitr_tl_key_prefix) and attributes (names whose value differs between the
 * old and the new image, key attributes left out; each write counts a name once) are counted
 * with Space-Saving over PITR_TL_SKETCH counters: exact while that many names suffice, else
 * the top ones with counts that may run high (exact 0). */
typedef struct pitr_tl_touched {
    int done;
    uint64_t partition_keys;
    int partition_keys_exact;
    pitr_tl_top prefixes[PITR_TL_TOP], attributes[PITR_TL_TOP];
    size_t nprefixes, nattributes;
    int prefixes_exact, attributes_exact;
} pitr_tl_touched;

typedef struct pitr_tl_burst {
    int64_t first_us, last_us;
    uint64_t writes, puts, updates, deletes;
    uint64_t trailing;                /* the trailing rate of its first interval */
    int64_t last_before_us;           /* the last write before it; 0: none */
    int64_t last_good_us;             /* first_us - 1 */
    int has_good_second;
    int64_t last_good_second_us;      /* when has_good_second */
    pitr_tl_touched touched;
} pitr_tl_burst;

typedef struct tl_state tl_state;    /* the streaming state and the sketches (timeline.c) */

typedef struct pitr_timeline {
    int64_t from_us, to_us;           /* writes outside [from, to] are not counted */
    int64_t history_us;               /* feed writes from here: the trailing rate's history */
    pitr_tl_by by;                    /* the width chosen, = width_us */
    int64_t width_us;
    pitr_tl_interval *iv;             /* the shown intervals, iv[0] holds from_us */
    size_t niv;
    /* after pitr_timeline_finish: */
    uint64_t writes, puts, updates, deletes, max_writes;
    uint64_t usual;                   /* median writes of the shown non-empty intervals */
    pitr_tl_burst *bursts;            /* those that end at or after from_us */
    size_t nbursts;
    tl_state *st;
} pitr_timeline;

/* A timeline of [from_us, to_us] in intervals of width by (PITR_TL_AUTO: chosen). TM_EINVAL:
 * to before from ("--to is before --from"), a width that is not whole seconds, or more than
 * PITR_TL_MAX_INTERVALS intervals; TM_ENOMEM. Free with pitr_timeline_free. */
int pitr_timeline_new(int64_t from_us, int64_t to_us, pitr_tl_by by, pitr_timeline **out);
/* Counts one write of kind op (LOG_OP_PUT, LOG_OP_UPDATE, else a delete); in time order. */
void pitr_timeline_add(pitr_timeline *tl, int64_t time_us, int op);
/* Totals, the usual rate, burst intervals and bursts. Once, after the last add. TM_ENOMEM. */
int pitr_timeline_finish(pitr_timeline *tl);
/* The touch pass (after finish): the table's key attribute names (range_name NULL or "" when it
 * has none), then each record of the bursts in time order, then touch_finish. TM_ENOMEM;
 * TM_ECORRUPT for an image that does not decode. */
int pitr_timeline_touch_begin(pitr_timeline *tl, const char *hash_name, const char *range_name);
int pitr_timeline_touch(pitr_timeline *tl, const log_record *rec);
void pitr_timeline_touch_finish(pitr_timeline *tl);
void pitr_timeline_free(pitr_timeline *tl);

uint64_t pitr_tl_writes(const pitr_tl_interval *iv);
/* The kind of a logged write: LOG_OP_DELETE without a new image, LOG_OP_UPDATE with an old
 * one, else LOG_OP_PUT. */
int pitr_tl_kind(const log_record *rec);
/* The width chosen for a range (the smallest rung with at most PITR_TL_AUTO_ROWS rows). */
pitr_tl_by pitr_tl_auto_width(int64_t from_us, int64_t to_us);
/* "second", "minute", "hour", "day" or N followed by s, m, h or d ("10s", "5m"); TM_EINVAL
 * with the accepted forms. */
int pitr_tl_parse_by(const char *s, pitr_tl_by *out);
/* The name of a width: "second", "minute", "hour", "day", else "10s", "5m", "2h", "3d". */
void pitr_tl_by_name(pitr_tl_by by, char *out, size_t n);
/* The prefix of a partition-key value shown in a burst's top prefixes: up to and including its
 * first ':', '#', '|' or '/' (within PITR_TL_PREFIX_MAX bytes), else its leading non-digits
 * ("bad17" -> "bad"), else (it starts with a digit) its first 4 bytes; at most
 * PITR_TL_PREFIX_MAX bytes, cut on a UTF-8 boundary. Writes it NUL-terminated into out
 * (cap > PITR_TL_PREFIX_MAX) and returns its length. */
size_t pitr_tl_key_prefix(const char *s, size_t n, char *out, size_t cap);

#endif
