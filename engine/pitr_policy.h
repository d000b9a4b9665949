/* pitr_policy.h: the point-in-time policy as pure functions: the restorable window and what
 * retention may delete. No I/O, no clock, no table handle: the inputs are plain values (the PITR
 * settings, now, the items' position, the log's segments and gaps, the snapshots), so the same
 * input gives the same answer and pitr_policy_test.c drives them with tables.
 *
 * They live in engine/ because the engine applies them itself (table_pitr_window, and retention
 * after a commit that sealed a segment); pitr/window.h and pitr/retention.h are their public
 * names beside the planner (why: see pitr/window.h). */
#ifndef TIDEMARK_PITR_POLICY_H
#define TIDEMARK_PITR_POLICY_H

#include "engine/log.h"
#include "engine/table.h"
#include <stddef.h>
#include <stdint.h>

/* A table's PITR settings (table.json). */
typedef struct pitr_settings {
    int enabled;
    int64_t enabled_since_us;     /* when PITR was last enabled */
    int period_days;              /* RecoveryPeriodInDays, 1..35 */
} pitr_settings;

/* Where the table's history ends: the items' last applied seq and its write time, and whether
 * the log is current: it holds every record up to that seq (no gap at its end), so the state
 * from the last write to now is the live table's and is restorable. */
typedef struct pitr_log_state {
    uint64_t last_seq;
    int64_t last_us;              /* 0: no write yet */
    int current;
} pitr_log_state;

typedef struct pitr_window_in {
    pitr_settings pitr;
    int64_t now_us;
    pitr_log_state log;
    const log_gap *gaps;          /* log_gaps up to last_seq, ascending; borrowed */
    size_t ngaps;
    int64_t floor_us;             /* pitr_floor: the oldest time a plan still covers; 0: none */
} pitr_window_in;

/* The restorable window [earliest, latest] (FORMATS.md section 5):
 *   earliest = max(enabled_since, now - period), moved past a log that lost its head (the
 *              times before its first remaining record cannot be rebuilt), and never before
 *              floor_us (what retention left: raising the period does not bring back what a
 *              shorter one let go);
 *   latest   = now, to the microsecond (AWS reports whole seconds, about 5 minutes behind;
 *              tidemark reports now: its log is durable before a write is acknowledged, so
 *              nothing between the last write and now can be lost, and a time earlier in the
 *              current second, such as an export's end, is restorable), when the log is
 *              current; else the last write, never beyond a gap at the log's end. The last
 *              write is always inside, and latest >= earliest.
 * Gaps inside the window are the planner's to refuse (table_pitr_check). TM_ENOTFOUND (no
 * message: the caller names the table) when PITR is disabled; *earliest = *latest = 0 then. */
int pitr_window(const pitr_window_in *in, int64_t *earliest, int64_t *latest);

/* The oldest time a restore plan still covers once retention has removed the log's head
 * (segs ascending, oldest first_seq > 1): the oldest verifiable snapshot that the kept log
 * continues (seq >= first_seq - 1), else the first kept record; the last write (last_us) bounds
 * it too (the live table holds that state). 0 when the log still starts at seq 1 (nothing was
 * removed: the enable time is the floor) or is empty. */
int64_t pitr_floor(const log_segment *segs, size_t nsegs, const snap_info *snaps, size_t nsnaps,
                   int64_t last_us);

typedef struct pitr_retention_in {
    pitr_settings pitr;
    int64_t earliest_us;          /* the window's start (pitr_window), when enabled */
    uint64_t applied_seq;         /* what the items (LMDB) hold durably */
    const log_segment *segs;      /* ascending by first_seq (log_list); borrowed */
    size_t nsegs;
    const snap_info *snaps;       /* ascending by seq (snap_list); borrowed */
    size_t nsnaps;
} pitr_retention_in;

/* Which segments and snapshots may be deleted: drop_segs[i] / drop_snaps[i] (nsegs and nsnaps
 * flags, written by the call) are set to 1 for those that may go. Returns how many.
 *   PITR off: the log is only the write-ahead log: every sealed segment the items hold durably
 *             goes; snapshots stay (they are taken on demand and removed on demand).
 *   PITR on:  every second of [earliest, latest] keeps a plan: the newest verifiable snapshot at
 *             or before earliest stays as the base of forward plans, with every segment after
 *             it; older snapshots go, and sealed segments wholly before the window that the base
 *             covers. Backward plans from the live table need only records after earliest.
 * The newest segment never goes (it carries the position the next seq follows), nor one holding
 * a record the items lack. */
size_t pitr_retention(const pitr_retention_in *in, unsigned char *drop_segs,
                      unsigned char *drop_snaps);

#endif
