/* plan.h: the restore planner, a pure function.
 *
 * Given a time T (already resolved to S_T, the last log seq with time <= T), the snapshots, the
 * log segments present, the live table's position and the PITR window, it returns the cheapest
 * way to build the table's state at T:
 *   forward:  seed from a snapshot with seq <= S_T (or from the empty table, seq 0), then apply
 *             the NEW images of records (seed, S_T]: each key's last one;
 *   backward: seed from a snapshot with seq > S_T or from the live table (consistent copy at
 *             seq L), then apply the OLD images of records (S_T, seed]: each key's first one.
 * (materialize.c applies them as the net change of the range, in key order: the same result as
 * replaying the images one by one in log order, forward or in reverse.)
 * The cost is the estimated time: seed copy + log bytes to read (whole sealed segments, since
 * they are decompressed whole) + records to apply. The plan names every segment and snapshot it
 * needs; when no seed has a complete log range, TM_EMISSING says exactly which seqs are missing
 * for the best candidates of each direction.
 *
 * No I/O, no clock: the same input gives the same plan (pitr_test.c drives it with tables). */
#ifndef TIDEMARK_PITR_PLAN_H
#define TIDEMARK_PITR_PLAN_H

#include "engine/buf.h"
#include "engine/log.h"
#include "engine/table.h"
#include <stddef.h>
#include <stdint.h>

typedef enum pitr_dir { PITR_AUTO = 0, PITR_FORWARD = 1, PITR_BACKWARD = 2 } pitr_dir;
enum { PITR_SEED_EMPTY = 0, PITR_SEED_SNAPSHOT = 1, PITR_SEED_LIVE = 2 };

/* Throughputs behind the cost and time estimate (bytes or records per second). Measured on the
 * benchmark machine; only their ratios decide between plans. */
typedef struct pitr_rates {
    double copy_bps;         /* seed copy (LMDB data file copy) */
    double read_bps;         /* log bytes on disk read + decompressed */
    double apply_rps;        /* records applied to the staging table */
} pitr_rates;
#define PITR_RATES_INIT {1.0e9, 400.0e6, 150.0e3}  /* apply: measured ~130k/s on a 1M-item table */

/* The planner's whole input. Arrays are borrowed; snaps ascending by seq, segs ascending by
 * first_seq (as snap_list / log_list return them). */
typedef struct pitr_input {
    int64_t t_us;                   /* T */
    uint64_t target_seq;            /* S_T: last seq with time <= T (0: before every write) */
    int64_t earliest_us, latest_us; /* PITR window */
    const snap_info *snaps; size_t nsnaps;
    const log_segment *segs; size_t nsegs;
    int has_live;                   /* the live table can seed (it always can for restore) */
    uint64_t live_seq;              /* L: applied seq of the live table */
    int64_t live_time;
    uint64_t live_bytes;            /* size of the live items file */
    pitr_rates rates;
    /* Optional, nsnaps flags: 1 = this snapshot may not seed (no checksum, or found damaged);
     * it still tells what the table held at its seq (a seq-0 snapshot with items). */
    const unsigned char *snap_skip;
    /* Optional: the newest segment file, even one holding no readable record (log_list leaves
     * those out), so that records missing at the end are placed where they should be. */
    const char *newest_seg;
} pitr_input;
#define PITR_INPUT_INIT {0, 0, 0, 0, NULL, 0, NULL, 0, 0, 0, 0, 0, PITR_RATES_INIT, NULL, NULL}

typedef struct pitr_plan {
    int64_t t_us;
    uint64_t target_seq;            /* S_T */
    pitr_dir direction;             /* PITR_FORWARD or PITR_BACKWARD */
    int seed;                       /* PITR_SEED_* */
    snap_info snap;                 /* the snapshot when seed == PITR_SEED_SNAPSHOT */
    uint64_t seed_seq;              /* position of the seed (live: L when planned) */
    int64_t seed_time;
    uint64_t seed_bytes;
    uint64_t from_seq, to_seq;      /* records to apply, inclusive; none when from > to */
    log_segment *segs;              /* segments holding [from, to], ascending; owned */
    size_t nsegs;
    uint64_t log_bytes;             /* on-disk bytes of those segments */
    uint64_t records;               /* to_seq - from_seq + 1, or 0 */
    double est_seconds;             /* estimated time (the cost) */
    /* The best plan of the other direction, for --dry-run (alt_ok 0: none possible). */
    int alt_ok;
    pitr_dir alt_direction;
    int alt_seed;
    uint64_t alt_seed_seq, alt_records, alt_log_bytes;
    double alt_est_seconds;
} pitr_plan;

/* Makes the cheapest plan, restricted to one direction unless dir is PITR_AUTO.
 * TM_ERANGE: T outside [earliest, latest] ("InvalidRestoreTime: ..."). TM_EMISSING: no seed
 * has a complete log range; the detail names the missing seqs and the segments around them.
 * TM_EINVAL: inconsistent input (S_T beyond the live position). *out: free with pitr_plan_free. */
int pitr_plan_make(const pitr_input *in, pitr_dir dir, pitr_plan **out);
void pitr_plan_free(pitr_plan *p);

/* Human-readable plan (what --dry-run prints), several lines ending in '\n'. */
int pitr_plan_describe(const pitr_plan *p, buf *out);
/* The plan as one JSON object. */
int pitr_plan_json(const pitr_plan *p, buf *out);
const char *pitr_dir_name(pitr_dir d);   /* "forward", "backward", "auto" */
const char *pitr_seed_name(int seed);    /* "empty", "snapshot", "live" */

#endif
