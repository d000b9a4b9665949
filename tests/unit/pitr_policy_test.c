/* pitr_policy_test.c: unit tests of the PITR policy's pure functions (pitr/window.h,
 * pitr/retention.h): the restorable window, table-driven (latest = now while the log is current,
 * issue 12), what retention may delete with PITR off and on, and the property retention keeps:
 * after it, the planner still finds a plan for every second of the window. The timeline's tests
 * are in timeline_test.c. */
#include "pitr/plan.h"
#include "pitr/retention.h"
#include "pitr/window.h"
#include "engine/clock.h"
#include "engine/err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SEC CLOCK_US_PER_SEC
#define MIN (60 * SEC)
#define HOUR (3600 * SEC)
#define DAY (86400 * SEC)
static const int64_t T0 = 1762941600LL * SEC;   /* 2025-11-12T10:00:00Z */

/* ================================================================ window ==== */

typedef struct window_case {
    const char *what;
    int enabled, period_days;
    int64_t since, now, last_us;
    int current;
    log_gap gap;                 /* used when gap.last_seq != 0 */
    int64_t want_e, want_l;
} window_case;

static void test_window(void **state)
{
    (void)state;
    static const window_case cases[] = {
        {"fresh: from the enable time to now", 1, 35, T0, T0 + 20 * MIN, 0, 1, {0}, T0, T0 + 20 * MIN},
        {"now to the microsecond", 1, 35, T0, T0 + 20 * MIN + 750000, 0, 1, {0}, T0, T0 + 20 * MIN + 750000},
        {"idle: now, not the last write", 1, 35, T0, T0 + 20 * MIN, T0 + 7 * MIN + 250000, 1, {0}, T0,
         T0 + 20 * MIN},
        {"a write within this second: latest is now, after it", 1, 35, T0, T0 + 20 * MIN + 900000,
         T0 + 20 * MIN + 400000, 1, {0}, T0, T0 + 20 * MIN + 900000},
        {"a write stamped ahead of the clock stays inside", 1, 35, T0, T0 + MIN, T0 + 2 * MIN, 1, {0}, T0,
         T0 + 2 * MIN},
        {"enabled within this second", 1, 35, T0 + 500000, T0 + 800000, 0, 1, {0}, T0 + 500000,
         T0 + 800000},
        {"the period moves the earliest", 1, 1, T0, T0 + 3 * DAY, T0 + 2 * DAY, 1, {0}, T0 + 2 * DAY,
         T0 + 3 * DAY},
        {"idle past the period: still now", 1, 1, T0, T0 + 10 * DAY, T0 + HOUR, 1, {0}, T0 + 9 * DAY,
         T0 + 10 * DAY},
        {"a log that lost its head starts after it", 1, 35, T0, T0 + DAY, T0 + HOUR, 1,
         {1, 40, 0, T0 + 30 * MIN, ""}, T0 + 30 * MIN, T0 + DAY},
        {"a head gap not past the earliest changes nothing", 1, 1, T0, T0 + 3 * DAY, T0 + 2 * DAY, 1,
         {1, 40, 0, T0 + HOUR, ""}, T0 + 2 * DAY, T0 + 3 * DAY},
        {"a gap inside the window is the planner's", 1, 35, T0, T0 + DAY, T0 + HOUR, 1,
         {10, 20, T0 + MIN, T0 + 2 * MIN, ""}, T0, T0 + DAY},
        {"not current: the last write, never beyond the gap at the end", 1, 35, T0, T0 + DAY,
         T0 + HOUR, 0, {90, 100, T0 + 50 * MIN, T0 + HOUR, ""}, T0, T0 + HOUR},
        {"not current, no write since the enable", 1, 35, T0, T0 + DAY, 0, 0, {0}, T0, T0},
        {"a clock behind the enable time", 1, 35, T0, T0 - MIN, 0, 1, {0}, T0, T0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const window_case *c = &cases[i];
        pitr_window_in in = {{c->enabled, c->since, c->period_days}, c->now, {100, c->last_us, c->current},
                             c->gap.last_seq ? &c->gap : NULL, c->gap.last_seq ? 1 : 0, 0};
        int64_t e = -1, l = -1;
        if (pitr_window(&in, &e, &l) != 0) fail_msg("%s: refused", c->what);
        if (e != c->want_e || l != c->want_l)
            fail_msg("%s: [%lld, %lld], want [%lld, %lld] (offsets from T0 in s: [%lld, %lld] vs [%lld, %lld])",
                     c->what, (long long)e, (long long)l, (long long)c->want_e, (long long)c->want_l,
                     (long long)((e - T0) / SEC), (long long)((l - T0) / SEC),
                     (long long)((c->want_e - T0) / SEC), (long long)((c->want_l - T0) / SEC));
        assert_true(e <= l);
    }
    /* disabled: no window */
    pitr_window_in off = {{0, T0, 35}, T0 + HOUR, {5, T0 + MIN, 1}, NULL, 0, 0};
    int64_t e = 1, l = 1;
    assert_int_equal(pitr_window(&off, &e, &l), TM_ENOTFOUND);
    assert_int_equal(e, 0);
    assert_int_equal(l, 0);
}

/* ================================================================ retention ==== */

static log_segment seg(uint64_t first, uint64_t last, int64_t t_first, int64_t t_last, int sealed)
{
    log_segment s;
    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "%016llx.%s", (unsigned long long)first, sealed ? "lz4" : "log");
    s.first_seq = first;
    s.last_seq = last;
    s.first_time = t_first;
    s.last_time = t_last;
    s.sealed = sealed;
    s.bytes = s.raw_bytes = (last - first + 1) * 100;
    return s;
}

static snap_info snap(uint64_t seq, int64_t t, int version)
{
    snap_info s;
    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "%016llx", (unsigned long long)seq);
    s.seq = seq;
    s.time_us = t;
    s.version = version;
    s.bytes = 4096;
    return s;
}

/* Segments of 10 records each, record k at T0 + k minutes; the last one active. */
static void ten_segments(log_segment *segs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t a = i * 10 + 1, b = a + 9;
        segs[i] = seg(a, b, T0 + (int64_t)a * MIN, T0 + (int64_t)b * MIN, i + 1 < n);
    }
}

static void test_retention_off(void **state)
{
    (void)state;
    log_segment segs[6];
    unsigned char ds[6], dn[1];
    ten_segments(segs, 6);
    segs[2].sealed = 0;   /* a raw segment kept by log_fence: not sealed, stays */
    pitr_retention_in in = {{0, 0, 35}, 0, 45, segs, 6, NULL, 0};
    /* PITR off: sealed segments the items hold (last seq <= 45) go: 1..10, 11..20, 31..40 */
    assert_int_equal(pitr_retention(&in, ds, dn), 3);
    static const unsigned char want[6] = {1, 1, 0, 1, 0, 0};
    assert_memory_equal(ds, want, 6);
    /* the items hold everything: every sealed one, never the newest */
    in.applied_seq = 60;
    segs[2].sealed = 1;
    assert_int_equal(pitr_retention(&in, ds, dn), 5);
    assert_int_equal(ds[5], 0);
    /* nothing listed, nothing to say */
    in.nsegs = 0;
    assert_int_equal(pitr_retention(&in, ds, dn), 0);
}

static void test_retention_on(void **state)
{
    (void)state;
    log_segment segs[8];
    unsigned char ds[8], dn[5];
    ten_segments(segs, 8);   /* records 1..80 at T0 + 1..80 min */
    snap_info snaps[5] = {snap(0, 0, 2), snap(15, T0 + 15 * MIN, 2), snap(32, T0 + 32 * MIN, 2),
                          snap(47, T0 + 47 * MIN, 1), snap(70, T0 + 70 * MIN, 2)};
    /* window from T0 + 50 min: the base is the snapshot at 32 (47 cannot seed: no checksum) */
    pitr_retention_in in = {{1, T0, 1}, T0 + 50 * MIN, 80, segs, 8, snaps, 5};
    size_t n = pitr_retention(&in, ds, dn);
    static const unsigned char want_sn[5] = {1, 1, 0, 0, 0};
    static const unsigned char want_sg[8] = {1, 1, 1, 0, 0, 0, 0, 0};   /* ..30 go; 31..40 holds 32.. */
    assert_memory_equal(dn, want_sn, 5);
    assert_memory_equal(ds, want_sg, 8);
    assert_int_equal(n, 5);
    /* with the checksummed snapshot at 47 the base moves up, and with it what may go */
    snaps[3].version = 2;
    n = pitr_retention(&in, ds, dn);
    static const unsigned char want_sn2[5] = {1, 1, 1, 0, 0};
    static const unsigned char want_sg2[8] = {1, 1, 1, 1, 0, 0, 0, 0};
    assert_memory_equal(dn, want_sn2, 5);
    assert_memory_equal(ds, want_sg2, 8);
    assert_int_equal(n, 7);
    /* no snapshot before the window: segments wholly before it still go (backward plans from
     * the live table need only records after earliest), no snapshot does */
    in.nsnaps = 0;
    n = pitr_retention(&in, ds, dn);
    static const unsigned char want_sg3[8] = {1, 1, 1, 1, 0, 0, 0, 0};
    assert_memory_equal(ds, want_sg3, 8);
    assert_int_equal(n, 4);
    /* a segment the items do not hold yet stays (its records are only in the log) */
    in.applied_seq = 25;
    n = pitr_retention(&in, ds, dn);
    static const unsigned char want_sg4[8] = {1, 1, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(ds, want_sg4, 8);
    assert_int_equal(n, 2);
}

/* ---- the property: every second of the window keeps a plan ---- */

#define NREC 3000
#define PER_SEG 40
#define STEP (45 * SEC)          /* record k at T0 + k * STEP: 37.5 hours */

static int64_t rec_time(uint64_t k) { return T0 + (int64_t)k * STEP; }

/* S_T: the last record with time <= T. */
static uint64_t seq_at(int64_t t)
{
    if (t < rec_time(1)) return 0;
    uint64_t k = (uint64_t)((t - T0) / STEP);
    return k > NREC ? NREC : k;
}

/* Seconds of [e, l] without a plan from what is kept; *first_bad the first of them. */
static long plans_missing(const log_segment *segs, size_t ns, const snap_info *snaps, size_t nn,
                          int64_t e, int64_t l, int64_t *first_bad)
{
    long bad = 0;
    *first_bad = 0;
    for (int64_t t = e; t <= l; t += SEC) {
        pitr_input in = PITR_INPUT_INIT;
        in.t_us = t;
        in.target_seq = seq_at(t);
        in.earliest_us = e;
        in.latest_us = l;
        in.snaps = snaps;
        in.nsnaps = nn;
        in.segs = segs;
        in.nsegs = ns;
        in.has_live = 1;
        in.live_seq = NREC;
        in.live_time = rec_time(NREC);
        in.live_bytes = 1 << 20;
        pitr_plan *p = NULL;
        if (pitr_plan_make(&in, PITR_AUTO, &p) != 0) {
            if (!bad) *first_bad = t;
            bad++;
        }
        pitr_plan_free(p);
    }
    return bad;
}

static void test_retention_keeps_plans(void **state)
{
    (void)state;
    size_t ns = NREC / PER_SEG, nn = 0;
    log_segment *segs = calloc(ns, sizeof *segs);
    snap_info *snaps = calloc(NREC / 250 + 2, sizeof *snaps);
    assert_non_null(segs);
    assert_non_null(snaps);
    for (size_t i = 0; i < ns; i++) {
        uint64_t a = i * PER_SEG + 1, b = a + PER_SEG - 1;
        segs[i] = seg(a, b, rec_time(a), rec_time(b), i + 1 < ns);
    }
    snaps[nn++] = snap(0, 0, 2);
    for (uint64_t k = 250; k <= NREC; k += 250) snaps[nn++] = snap(k, rec_time(k), k % 1000 ? 2 : 1);
    /* PITR of one day, enabled at the start, now ten minutes after the last write */
    pitr_window_in wi = {{1, T0, 1}, rec_time(NREC) + 10 * MIN, {NREC, rec_time(NREC), 1}, NULL, 0, 0};
    int64_t e, l;
    assert_int_equal(pitr_window(&wi, &e, &l), 0);
    assert_int_equal(l, rec_time(NREC) + 10 * MIN);
    pitr_retention_in ri = {wi.pitr, e, NREC, segs, ns, snaps, nn};
    unsigned char *ds = calloc(ns, 1), *dn = calloc(nn, 1);
    assert_non_null(ds);
    assert_non_null(dn);
    size_t removed = pitr_retention(&ri, ds, dn);
    /* what is left, in order */
    log_segment *ks = calloc(ns, sizeof *ks);
    snap_info *kn = calloc(nn, sizeof *kn);
    size_t nks = 0, nkn = 0, dseg = 0, dsnap = 0;
    for (size_t i = 0; i < ns; i++) {
        if (ds[i]) dseg++;
        else ks[nks++] = segs[i];
    }
    for (size_t i = 0; i < nn; i++) {
        if (dn[i]) dsnap++;
        else kn[nkn++] = snaps[i];
    }
    assert_int_equal(removed, dseg + dsnap);
    assert_true(dseg > 10);    /* the test means something: much went */
    assert_true(dsnap > 2);
    int64_t bad_t;
    long bad = plans_missing(ks, nks, kn, nkn, e, l, &bad_t);
    if (bad) {
        char ts[40];
        clock_format(bad_t, 0, ts, sizeof ts);
        fail_msg("after retention %ld seconds of the window have no plan, the first at %s: %s", bad, ts, err_msg());
    }
    /* the check can fail: one more segment gone, the one holding the first record after the
     * window's start (every plan for the earliest second reads it), and seconds go unplanned */
    size_t k = 0;
    while (k < nks && ks[k].last_seq <= seq_at(e)) k++;
    assert_true(k < nks && ks[k].first_seq <= seq_at(e) + 1);
    memmove(&ks[k], &ks[k + 1], (nks - k - 1) * sizeof *ks);
    assert_true(plans_missing(ks, nks - 1, kn, nkn, e, l, &bad_t) > 0);
    assert_int_equal(bad_t, e);
    free(ks);
    free(kn);
    free(ds);
    free(dn);
    free(segs);
    free(snaps);
}

/* ---- the window's floor: what retention kept bounds it (issue 15) ---- */

static void test_floor(void **state)
{
    (void)state;
    log_segment segs[4];
    ten_segments(segs, 4);   /* records 1..40 at T0 + 1..40 min */
    snap_info snaps[3] = {snap(0, 0, 2), snap(20, T0 + 20 * MIN, 2), snap(25, T0 + 25 * MIN, 2)};
    /* nothing removed: no floor (the enable time is) */
    assert_int_equal(pitr_floor(segs, 4, snaps, 3, T0 + 40 * MIN), 0);
    assert_int_equal(pitr_floor(segs, 0, snaps, 3, 0), 0);
    /* head removed through 20: the snapshot at 20 continues the kept log (21..) */
    assert_int_equal(pitr_floor(segs + 2, 2, snaps, 3, T0 + 40 * MIN), T0 + 20 * MIN);
    /* ... unless it has no checksum: then the first kept record */
    snaps[1].version = 1;
    assert_int_equal(pitr_floor(segs + 2, 2, snaps, 3, T0 + 40 * MIN), T0 + 21 * MIN);
    /* a snapshot older than the kept log's start cannot seed it (seqs between are gone) */
    assert_int_equal(pitr_floor(segs + 3, 1, snaps, 3, T0 + 40 * MIN), T0 + 31 * MIN);
    /* the live table holds the state since the last write */
    assert_int_equal(pitr_floor(segs + 3, 1, snaps, 3, T0 + 30 * MIN), T0 + 30 * MIN);
    /* with the floor in the window's input: a raised period starts there, not at the enable */
    pitr_window_in wi = {{1, T0, 35}, T0 + DAY, {40, T0 + 40 * MIN, 1}, NULL, 0,
                         pitr_floor(segs + 2, 2, snaps, 3, T0 + 40 * MIN)};
    int64_t e, l;
    assert_int_equal(pitr_window(&wi, &e, &l), 0);
    assert_int_equal(e, T0 + 21 * MIN);
    assert_int_equal(l, T0 + DAY);
    /* a floor before the period's start changes nothing */
    wi.pitr.period_days = 1;
    wi.now_us = T0 + 2 * DAY;
    assert_int_equal(pitr_window(&wi, &e, &l), 0);
    assert_int_equal(e, T0 + DAY);
}

/* Retention at a period of one day, then the period raised to 35: without the floor the window
 * would start at the enable time, where no plan is left; with it every second has a plan. */
static void test_raised_period_keeps_plans(void **state)
{
    (void)state;
    size_t ns = NREC / PER_SEG, nn = 0;
    log_segment *segs = calloc(ns, sizeof *segs);
    snap_info *snaps = calloc(NREC / 250 + 2, sizeof *snaps);
    assert_non_null(segs);
    assert_non_null(snaps);
    for (size_t i = 0; i < ns; i++) {
        uint64_t a = i * PER_SEG + 1, b = a + PER_SEG - 1;
        segs[i] = seg(a, b, rec_time(a), rec_time(b), i + 1 < ns);
    }
    snaps[nn++] = snap(0, 0, 2);
    for (uint64_t k = 250; k <= NREC; k += 250) snaps[nn++] = snap(k, rec_time(k), 2);
    pitr_window_in wi = {{1, T0, 1}, rec_time(NREC) + 10 * MIN, {NREC, rec_time(NREC), 1}, NULL, 0, 0};
    int64_t e, l;
    assert_int_equal(pitr_window(&wi, &e, &l), 0);
    pitr_retention_in ri = {wi.pitr, e, NREC, segs, ns, snaps, nn};
    unsigned char *ds = calloc(ns, 1), *dn = calloc(nn, 1);
    assert_non_null(ds);
    assert_non_null(dn);
    assert_true(pitr_retention(&ri, ds, dn) > 10);
    size_t nks = 0, nkn = 0;
    for (size_t i = 0; i < ns; i++)
        if (!ds[i]) segs[nks++] = segs[i];
    for (size_t i = 0; i < nn; i++)
        if (!dn[i]) snaps[nkn++] = snaps[i];
    wi.pitr.period_days = 35;
    int64_t bad_t, e35, l35;
    assert_int_equal(pitr_window(&wi, &e35, &l35), 0);
    assert_int_equal(e35, T0);   /* no floor: the enable time, and seconds without a plan */
    assert_true(plans_missing(segs, nks, snaps, nkn, e35, e35 + HOUR, &bad_t) > 0);
    wi.floor_us = pitr_floor(segs, nks, snaps, nkn, rec_time(NREC));
    assert_int_equal(pitr_window(&wi, &e35, &l35), 0);
    assert_true(e35 <= e);         /* the kept base's time: at or before the old start */
    assert_true(e35 > T0);
    long bad = plans_missing(segs, nks, snaps, nkn, e35, l35, &bad_t);
    if (bad) fail_msg("%ld seconds of the raised window have no plan: %s", bad, err_msg());
    free(ds);
    free(dn);
    free(segs);
    free(snaps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_retention_off),
        cmocka_unit_test(test_retention_on),
        cmocka_unit_test(test_retention_keeps_plans),
        cmocka_unit_test(test_floor),
        cmocka_unit_test(test_raised_period_keeps_plans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
