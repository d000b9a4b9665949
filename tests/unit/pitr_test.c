/* pitr_test.c: the restore planner alone (pure function), table-driven: the choice between
 * forward and backward, the seeds, the segments named, missing log reported exactly, and the
 * edges of the window. */
#include "engine/err.h"
#include "pitr/plan.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Seq n was written at BASE + n seconds. */
#define BASE 1700000000000000LL
#define TS(n) (BASE + (int64_t)(n) * 1000000LL)

typedef struct seg_spec { uint64_t first, last; uint64_t bytes; int sealed; } seg_spec;
typedef struct snap_spec { uint64_t seq; uint64_t bytes; } snap_spec;

typedef struct row {
    const char *what;
    seg_spec segs[8];               /* terminated by first == 0 */
    snap_spec snaps[6];             /* terminated by seq == 0 */
    uint64_t live_seq, live_bytes;  /* live_seq 0: no live table */
    uint64_t s_t;                   /* S_T */
    int64_t t_off;                  /* T = TS(s_t) + t_off (µs) */
    int64_t earliest_seq;           /* window: [TS(earliest_seq), TS(live_seq)] */
    pitr_dir force;
    /* expected */
    int rc;
    pitr_dir dir;
    int seed;
    uint64_t seed_seq, from, to;
    const char *segs_named;         /* comma-separated names of the segments in the plan */
    const char *msg_has[3];         /* substrings of the error detail */
} row;

#define KB 1024ull
#define MB (1024ull * 1024)

static const row rows[] = {
    {.what = "early target: forward from empty beats copying the live table",
     .segs = {{1, 1000, 1 * MB, 1}, {1001, 2000, 1 * MB, 1}},
     .live_seq = 2000, .live_bytes = 500 * MB, .s_t = 100, .earliest_seq = 0,
     .dir = PITR_FORWARD, .seed = PITR_SEED_EMPTY, .seed_seq = 0, .from = 1, .to = 100,
     .segs_named = "s1"},
    {.what = "recent target: backward from the live table",
     .segs = {{1, 1000, 10 * MB, 1}, {1001, 2000, 10 * MB, 1}},
     .live_seq = 2000, .live_bytes = 1 * MB, .s_t = 1990, .earliest_seq = 0,
     .dir = PITR_BACKWARD, .seed = PITR_SEED_LIVE, .seed_seq = 2000, .from = 1991, .to = 2000,
     .segs_named = "s1001"},
    {.what = "just after a snapshot: forward from it",
     .segs = {{1, 1000, 10 * MB, 1}, {1001, 2000, 10 * MB, 1}, {2001, 3000, 10 * MB, 1}},
     .snaps = {{500, 1 * MB}, {1500, 1 * MB}},
     .live_seq = 3000, .live_bytes = 1 * MB, .s_t = 1510, .earliest_seq = 0,
     .dir = PITR_FORWARD, .seed = PITR_SEED_SNAPSHOT, .seed_seq = 1500, .from = 1501,
     .to = 1510, .segs_named = "s1001"},
    {.what = "just before a snapshot: backward from it",
     .segs = {{1, 1000, 10 * MB, 1}, {1001, 2000, 10 * MB, 1}, {2001, 3000, 10 * MB, 1}},
     .snaps = {{500, 1 * MB}, {1500, 1 * MB}},
     .live_seq = 3000, .live_bytes = 1 * MB, .s_t = 1490, .earliest_seq = 0,
     .dir = PITR_BACKWARD, .seed = PITR_SEED_SNAPSHOT, .seed_seq = 1500, .from = 1491,
     .to = 1500, .segs_named = "s1001"},
    {.what = "forced forward from the newest snapshot before T",
     .segs = {{1, 1000, 10 * MB, 1}, {1001, 2000, 10 * MB, 1}, {2001, 3000, 10 * MB, 1}},
     .snaps = {{500, 1 * MB}, {1500, 1 * MB}},
     .live_seq = 3000, .live_bytes = 1 * MB, .s_t = 1490, .earliest_seq = 0,
     .force = PITR_FORWARD,
     .dir = PITR_FORWARD, .seed = PITR_SEED_SNAPSHOT, .seed_seq = 500, .from = 501,
     .to = 1490, .segs_named = "s1,s1001"},
    {.what = "forced backward far from the end: from the next snapshot, not the live table",
     .segs = {{1, 1000, 10 * MB, 1}, {1001, 2000, 10 * MB, 1}, {2001, 3000, 10 * MB, 1}},
     .snaps = {{500, 1 * MB}, {1500, 1 * MB}},
     .live_seq = 3000, .live_bytes = 1 * MB, .s_t = 510, .earliest_seq = 0,
     .force = PITR_BACKWARD,
     .dir = PITR_BACKWARD, .seed = PITR_SEED_SNAPSHOT, .seed_seq = 1500, .from = 511,
     .to = 1500, .segs_named = "s1,s1001"},
    {.what = "target exactly on a snapshot: nothing to apply, no segment",
     .segs = {{1, 1000, 10 * MB, 1}, {1001, 2000, 10 * MB, 1}},
     .snaps = {{1000, 1 * MB}},
     .live_seq = 2000, .live_bytes = 1 * MB, .s_t = 1000, .earliest_seq = 0,
     .dir = PITR_FORWARD, .seed = PITR_SEED_SNAPSHOT, .seed_seq = 1000, .from = 1001,
     .to = 1000, .segs_named = ""},
    {.what = "latest second: the live table as is",
     .segs = {{1, 1000, 10 * MB, 1}, {1001, 2000, 10 * MB, 1}},
     .live_seq = 2000, .live_bytes = 1 * MB, .s_t = 2000, .earliest_seq = 0,
     .dir = PITR_BACKWARD, .seed = PITR_SEED_LIVE, .seed_seq = 2000, .from = 2001, .to = 2000,
     .segs_named = ""},
    {.what = "before every write: the empty table",
     .segs = {{1, 1000, 10 * MB, 1}},
     .live_seq = 1000, .live_bytes = 1 * MB, .s_t = 0, .t_off = -5 * 1000000LL,
     .earliest_seq = -10,
     .dir = PITR_FORWARD, .seed = PITR_SEED_EMPTY, .seed_seq = 0, .from = 1, .to = 0,
     .segs_named = ""},
    {.what = "target on a segment's last record: that segment only",
     .segs = {{1, 1000, 10 * MB, 1}, {1001, 2000, 10 * MB, 1}, {2001, 3000, 10 * MB, 1}},
     .snaps = {{100, 10 * KB}},
     .live_seq = 3000, .live_bytes = 100 * MB, .s_t = 1000, .earliest_seq = 0,
     .dir = PITR_FORWARD, .seed = PITR_SEED_SNAPSHOT, .seed_seq = 100, .from = 101, .to = 1000,
     .segs_named = "s1"},
    {.what = "target on a segment's first record",
     .segs = {{1, 1000, 10 * MB, 1}, {1001, 2000, 10 * MB, 1}, {2001, 3000, 10 * MB, 1}},
     .snaps = {{100, 10 * KB}},
     .live_seq = 3000, .live_bytes = 100 * MB, .s_t = 1001, .earliest_seq = 0,
     .dir = PITR_FORWARD, .seed = PITR_SEED_SNAPSHOT, .seed_seq = 100, .from = 101, .to = 1001,
     .segs_named = "s1,s1001"},
    {.what = "active segment read only in part: backward from live is cheap",
     .segs = {{1, 1000, 10 * MB, 1}, {1001, 100000, 100 * MB, 0}},
     .snaps = {{1000, 1 * MB}},
     .live_seq = 100000, .live_bytes = 1 * MB, .s_t = 99990, .earliest_seq = 0,
     .dir = PITR_BACKWARD, .seed = PITR_SEED_LIVE, .seed_seq = 100000, .from = 99991,
     .to = 100000, .segs_named = "s1001"},
    {.what = "gap before T: forward impossible, backward from live",
     .segs = {{301, 1000, 10 * MB, 1}, {1001, 2000, 10 * MB, 1}},
     .live_seq = 2000, .live_bytes = 1 * MB, .s_t = 350, .earliest_seq = 0,
     .dir = PITR_BACKWARD, .seed = PITR_SEED_LIVE, .seed_seq = 2000, .from = 351, .to = 2000,
     .segs_named = "s301,s1001"},
    {.what = "gap after T: backward impossible, forward from a snapshot",
     .segs = {{1, 1000, 10 * MB, 1}, {1501, 2000, 10 * MB, 1}},
     .snaps = {{200, 10 * KB}},
     .live_seq = 2000, .live_bytes = 1 * MB, .s_t = 1000, .t_off = 500000, .earliest_seq = 0,
     .dir = PITR_FORWARD, .seed = PITR_SEED_SNAPSHOT, .seed_seq = 200, .from = 201,
     .to = 1000, .segs_named = "s1"},
    {.what = "gaps on both sides: missing seqs named for each direction",
     .segs = {{1, 300, 10 * MB, 1}, {401, 1000, 10 * MB, 1}, {1101, 2000, 10 * MB, 1}},
     .live_seq = 2000, .live_bytes = 1 * MB, .s_t = 500, .earliest_seq = 0,
     .rc = TM_EMISSING,
     .msg_has = {"records 301..400 are missing (between segments s1 and s401)",
                 "records 1001..1100 are missing (between segments s401 and s1101)",
                 "forward from the empty table"}},
    {.what = "forced forward into a gap: only the forward gap is named",
     .segs = {{1, 300, 10 * MB, 1}, {401, 2000, 10 * MB, 1}},
     .live_seq = 2000, .live_bytes = 1 * MB, .s_t = 500, .earliest_seq = 0,
     .force = PITR_FORWARD, .rc = TM_EMISSING,
     .msg_has = {"forward from the empty table (seq 0) needs log records 1..500; records "
                 "301..400 are missing (between segments s1 and s401)", NULL, NULL}},
    {.what = "missing head of the log and no snapshot: forward names what is before s101",
     .segs = {{101, 2000, 10 * MB, 1}},
     .live_seq = 2000, .live_bytes = 1 * MB, .s_t = 50, .earliest_seq = 0,
     .force = PITR_FORWARD, .rc = TM_EMISSING,
     .msg_has = {"records 1..50 are missing (before segment s101)", NULL, NULL}},
    {.what = "missing tail (segment deleted by hand): backward names what is after s1",
     .segs = {{1, 1000, 10 * MB, 1}},
     .snaps = {{1500, 1 * MB}},
     .live_seq = 2000, .live_bytes = 1 * MB, .s_t = 1200, .earliest_seq = 0,
     .force = PITR_BACKWARD, .rc = TM_EMISSING,
     .msg_has = {"backward from snapshot s1500 (seq 1500) needs log records 1201..1500; "
                 "records 1201..1500 are missing (after segment s1)", NULL, NULL}},
    {.what = "window edge: the earliest microsecond",
     .segs = {{1, 1000, 10 * MB, 1}},
     .snaps = {{400, 10 * KB}},
     .live_seq = 1000, .live_bytes = 100 * MB, .s_t = 500, .earliest_seq = 500,
     .dir = PITR_FORWARD, .seed = PITR_SEED_SNAPSHOT, .seed_seq = 400, .from = 401, .to = 500,
     .segs_named = "s1"},
    {.what = "window edge: one microsecond before the earliest",
     .segs = {{1, 1000, 10 * MB, 1}},
     .live_seq = 1000, .live_bytes = 1 * MB, .s_t = 499, .t_off = 999999, .earliest_seq = 500,
     .rc = TM_ERANGE,
     .msg_has = {"2023-11-14T22:21:39.999999Z is outside the restorable "
                 "window [2023-11-14T22:21:40.000000Z, 2023-11-14T22:30:00.000000Z]", NULL,
                 NULL}},
    {.what = "window edge: one microsecond after the latest",
     .segs = {{1, 1000, 10 * MB, 1}},
     .live_seq = 1000, .live_bytes = 1 * MB, .s_t = 1000, .t_off = 1, .earliest_seq = 0,
     .rc = TM_ERANGE, .msg_has = {"2023-11-14T22:30:00.000001Z is outside", NULL, NULL}},
    {.what = "no live table, no later snapshot: forced backward has no seed",
     .segs = {{1, 1000, 10 * MB, 1}},
     .live_seq = 0, .s_t = 500, .earliest_seq = 0, .force = PITR_BACKWARD, .rc = TM_EMISSING,
     .msg_has = {"no seed for that direction", NULL, NULL}},
};

/* ---- building the input ---- */

typedef struct built {
    log_segment segs[8];
    snap_info snaps[6];
    pitr_input in;
} built;

static void build(const row *r, built *b)
{
    memset(b, 0, sizeof *b);
    pitr_input init = PITR_INPUT_INIT;
    b->in = init;
    size_t n = 0;
    for (; n < 8 && r->segs[n].first; n++) {
        log_segment *s = &b->segs[n];
        snprintf(s->name, sizeof s->name, "s%llu", (unsigned long long)r->segs[n].first);
        s->first_seq = r->segs[n].first;
        s->last_seq = r->segs[n].last;
        s->first_time = TS(s->first_seq);
        s->last_time = TS(s->last_seq);
        s->bytes = r->segs[n].bytes;
        s->raw_bytes = s->bytes * 3;
        s->sealed = r->segs[n].sealed;
        s->codec = s->sealed ? LOG_CODEC_LZ4 : LOG_CODEC_RAW;
    }
    b->in.segs = b->segs;
    b->in.nsegs = n;
    for (n = 0; n < 6 && r->snaps[n].seq; n++) {
        snap_info *s = &b->snaps[n];
        snprintf(s->name, sizeof s->name, "s%llu", (unsigned long long)r->snaps[n].seq);
        s->seq = r->snaps[n].seq;
        s->time_us = TS(s->seq);
        s->bytes = r->snaps[n].bytes;
    }
    b->in.snaps = b->snaps;
    b->in.nsnaps = n;
    uint64_t last = r->live_seq;
    if (!last && b->in.nsegs) last = b->segs[b->in.nsegs - 1].last_seq;
    b->in.has_live = r->live_seq != 0;
    b->in.live_seq = r->live_seq;
    b->in.live_time = TS(r->live_seq);
    b->in.live_bytes = r->live_bytes;
    b->in.target_seq = r->s_t;
    b->in.t_us = TS(r->s_t) + r->t_off;
    b->in.earliest_us = TS(r->earliest_seq);
    b->in.latest_us = TS(last);
}

static void names_of(const pitr_plan *p, char *out, size_t n)
{
    out[0] = '\0';
    size_t len = 0;
    for (size_t i = 0; i < p->nsegs; i++)
        len += (size_t)snprintf(out + len, n - len, "%s%s", i ? "," : "", p->segs[i].name);
}

static void test_rows(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const row *r = &rows[i];
        built b;
        build(r, &b);
        pitr_plan *p = (pitr_plan *)0x1;
        err_clear();
        int rc = pitr_plan_make(&b.in, r->force, &p);
        print_message("row %zu: %s -> rc %d %s\n", i, r->what, rc, rc ? err_msg() : "");
        assert_int_equal(rc, r->rc);
        if (rc) {
            assert_null(p);
            for (int k = 0; k < 3; k++)
                if (r->msg_has[k] && !strstr(err_msg(), r->msg_has[k]))
                    fail_msg("row %zu: detail \"%s\" lacks \"%s\"", i, err_msg(), r->msg_has[k]);
            continue;
        }
        assert_non_null(p);
        if (p->direction != r->dir || p->seed != r->seed || p->seed_seq != r->seed_seq)
            fail_msg("row %zu: %s from %s at %llu, expected %s from %s at %llu", i,
                     pitr_dir_name(p->direction), pitr_seed_name(p->seed),
                     (unsigned long long)p->seed_seq, pitr_dir_name(r->dir),
                     pitr_seed_name(r->seed), (unsigned long long)r->seed_seq);
        assert_int_equal(p->direction, r->dir);
        assert_int_equal(p->seed, r->seed);
        assert_int_equal(p->seed_seq, r->seed_seq);
        assert_int_equal(p->from_seq, r->from);
        assert_int_equal(p->to_seq, r->to);
        assert_int_equal(p->records, r->from <= r->to ? r->to - r->from + 1 : 0);
        assert_int_equal(p->target_seq, r->s_t);
        char names[256];
        names_of(p, names, sizeof names);
        if (strcmp(names, r->segs_named))
            fail_msg("row %zu: segments \"%s\", expected \"%s\"", i, names, r->segs_named);
        uint64_t lb = 0;
        for (size_t k = 0; k < p->nsegs; k++) lb += p->segs[k].bytes;
        assert_int_equal(p->log_bytes, lb);
        if (p->seed == PITR_SEED_SNAPSHOT) assert_int_equal(p->snap.seq, p->seed_seq);
        /* The printed plan names the direction, the seed and every segment. */
        buf d = BUF_INIT, j = BUF_INIT;
        assert_int_equal(pitr_plan_describe(p, &d), 0);
        assert_int_equal(pitr_plan_json(p, &j), 0);
        assert_non_null(strstr(d.data, pitr_dir_name(p->direction)));
        for (size_t k = 0; k < p->nsegs; k++) {
            assert_non_null(strstr(d.data, p->segs[k].name));
            assert_non_null(strstr(j.data, p->segs[k].name));
        }
        buf_free(&d);
        buf_free(&j);
        pitr_plan_free(p);
    }
}

/* Every forced direction that succeeds covers exactly the records between its seed and S_T,
 * for every S_T of a log with snapshots; auto is never costlier than either forced plan. */
static void test_sweep(void **state)
{
    (void)state;
    row r = {.segs = {{1, 100, 1 * MB, 1}, {101, 250, 2 * MB, 1}, {251, 400, 2 * MB, 1},
                      {401, 420, 100 * KB, 0}},
             .snaps = {{90, 1 * MB}, {260, 1 * MB}},
             .live_seq = 420, .live_bytes = 2 * MB};
    for (uint64_t s = 0; s <= 420; s++) {
        r.s_t = s;
        built b;
        build(&r, &b);
        b.in.earliest_us = TS(0);
        pitr_plan *pa = NULL, *pf = NULL, *pb = NULL;
        assert_int_equal(pitr_plan_make(&b.in, PITR_AUTO, &pa), 0);
        assert_int_equal(pitr_plan_make(&b.in, PITR_FORWARD, &pf), 0);
        assert_int_equal(pitr_plan_make(&b.in, PITR_BACKWARD, &pb), 0);
        assert_true(pf->direction == PITR_FORWARD && pf->seed_seq <= s && pf->to_seq == s);
        assert_true(pb->direction == PITR_BACKWARD && pb->seed_seq >= s && pb->from_seq == s + 1);
        assert_true(pa->est_seconds <= pf->est_seconds && pa->est_seconds <= pb->est_seconds);
        for (pitr_plan *p = pf; p; p = p == pf ? pb : NULL) {
            if (!p->records) continue;
            assert_true(p->segs[0].first_seq <= p->from_seq);
            assert_true(p->segs[p->nsegs - 1].last_seq >= p->to_seq);
            for (size_t k = 1; k < p->nsegs; k++)
                assert_int_equal(p->segs[k].first_seq, p->segs[k - 1].last_seq + 1);
        }
        pitr_plan_free(pa);
        pitr_plan_free(pf);
        pitr_plan_free(pb);
    }
}

/* A table built with items (import, restore) starts its log at seq 0 with those items; PITR
 * enable snapshots it. The empty table is no seed for it, however cheap: forward from the
 * snapshot (the planner used to pick "forward from empty" and lose every imported item). The
 * empty table seeds only when no snapshot at or before S_T exists. */
static void test_built_table_not_empty_at_zero(void **state)
{
    (void)state;
    static const struct {
        uint64_t snap_seq, snap_items, s_t;
        int empty_ok;
    } cases[] = {
        {0, 3000, 1, 0},    /* imported, PITR enabled, one write */
        {1, 3001, 1, 0},    /* imported, one write, then PITR enabled */
        {8, 5, 9, 0},       /* imported 5, updated 8 times, PITR enabled: nothing tells */
        {5, 3, 1, 1},       /* no snapshot at or before S_T: the empty table seeds */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        log_segment seg;
        snap_info snap;
        memset(&seg, 0, sizeof seg);
        memset(&snap, 0, sizeof snap);
        snprintf(seg.name, sizeof seg.name, "s1");
        seg.first_seq = 1;
        seg.last_seq = 10;
        seg.first_time = TS(1);
        seg.last_time = TS(10);
        seg.bytes = 2 * KB;
        seg.codec = LOG_CODEC_RAW;
        snprintf(snap.name, sizeof snap.name, "snap");
        snap.seq = cases[i].snap_seq;
        snap.time_us = TS(snap.seq);
        snap.item_count = cases[i].snap_items;
        snap.bytes = 100 * MB;   /* costlier than the log: only correctness keeps it */
        pitr_input in = PITR_INPUT_INIT;
        in.segs = &seg;
        in.nsegs = 1;
        in.snaps = &snap;
        in.nsnaps = 1;
        in.has_live = 1;
        in.live_seq = 10;
        in.live_time = TS(10);
        in.live_bytes = 100 * MB;
        in.target_seq = cases[i].s_t;
        in.t_us = TS(cases[i].s_t);
        in.earliest_us = TS(0);
        in.latest_us = TS(10);
        pitr_plan *p = NULL;
        assert_int_equal(pitr_plan_make(&in, PITR_FORWARD, &p), 0);
        if (cases[i].empty_ok) {
            assert_int_equal(p->seed, PITR_SEED_EMPTY);
        } else {
            assert_int_equal(p->seed, PITR_SEED_SNAPSHOT);
            assert_int_equal(p->seed_seq, cases[i].snap_seq);
        }
        pitr_plan_free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_built_table_not_empty_at_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
