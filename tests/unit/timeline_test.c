/* timeline_test.c: unit tests of the write timeline (pitr/timeline.h): widths (parsed, named,
 * chosen for the range), intervals, the trailing rate and bursts (a quiet morning and a bad
 * load, a load right after a load, a burst at :37 inside a minute of steady writes, runs split
 * and joined, the thresholds), and what a burst touched (kinds, partition keys exact and past
 * the exact limit, key prefixes, attributes changed). Moved here from pitr_policy_test with the
 * timeline's issue 13 rules. */
#include "pitr/timeline.h"
#include "engine/buf.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/item.h"

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
static const int64_t T0 = 1762941600LL * SEC;   /* 2025-11-12T10:00:00Z */

static pitr_timeline *timeline(int64_t from, int64_t to, pitr_tl_by by)
{
    pitr_timeline *tl = NULL;
    assert_int_equal(pitr_timeline_new(from, to, by, &tl), 0);
    return tl;
}

static void add_n(pitr_timeline *tl, int64_t at, int n, int op)
{
    for (int i = 0; i < n; i++) pitr_timeline_add(tl, at + i, op);
}

/* ================================================================ widths ==== */

static void test_widths(void **state)
{
    (void)state;
    static const struct { const char *s; int64_t us; const char *name; } ok[] = {
        {"second", SEC, "second"}, {"minute", MIN, "minute"}, {"hour", HOUR, "hour"}, {"day", 24 * HOUR, "day"},
        {"1s", SEC, "second"},     {"10s", 10 * SEC, "10s"},  {"90s", 90 * SEC, "90s"}, {"5m", 5 * MIN, "5m"},
        {"60m", HOUR, "hour"},     {"2h", 2 * HOUR, "2h"},    {"3d", 72 * HOUR, "3d"}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        pitr_tl_by by = 0;
        char name[16];
        assert_int_equal(pitr_tl_parse_by(ok[i].s, &by), 0);
        assert_int_equal(by, ok[i].us);
        pitr_tl_by_name(by, name, sizeof name);
        assert_string_equal(name, ok[i].name);
    }
    static const char *bad[] = {"", "0s", "s", "10", "10x", "-5s", "1.5m", "10 s", "minutes", "367d", "9999999999s"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pitr_tl_by by = 0;
        assert_int_equal(pitr_tl_parse_by(bad[i], &by), TM_EINVAL);
        assert_non_null(strstr(err_msg(), "not a width"));
    }
}

/* Without a width: at most 60 rows, at least 30 once the range is a minute or more; a 90-minute
 * window is 46 rows of 2 minutes (it was 95 rows of minutes). */
static void test_auto_rows(void **state)
{
    (void)state;
    static const int64_t ranges[] = {10 * SEC, 61 * SEC, 90 * SEC, 5 * MIN, 59 * MIN, 90 * MIN, 2 * HOUR + 28 * MIN,
                                     6 * HOUR, 48 * HOUR, 7 * 24 * HOUR, 35 * 24 * HOUR, 400 * 24 * HOUR};
    for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++) {
        for (int64_t off = 0; off < MIN; off += 17 * SEC + 1) {
            pitr_timeline *tl = timeline(T0 + off, T0 + off + ranges[i], PITR_TL_AUTO);
            assert_true(tl->niv <= PITR_TL_AUTO_ROWS);
            if (ranges[i] >= MIN) assert_true(tl->niv >= 30);
            assert_int_equal(tl->iv[0].start_us % tl->width_us, 0);
            assert_true(tl->iv[0].start_us <= T0 + off && T0 + off < tl->iv[0].start_us + tl->width_us);
            assert_int_equal(tl->history_us, tl->iv[0].start_us - PITR_TL_TRAILING * tl->width_us);
            pitr_timeline_free(tl);
        }
    }
    pitr_timeline *tl = timeline(T0 + 30 * SEC, T0 + 30 * SEC + 90 * MIN, PITR_TL_AUTO);
    assert_int_equal(tl->width_us, 2 * MIN);
    assert_int_equal(tl->niv, 46);
    pitr_timeline_free(tl);
    tl = timeline(T0 + 90 * SEC, T0 + 48 * HOUR + 91 * SEC, PITR_TL_AUTO);   /* was minutes up to two days */
    assert_int_equal(tl->by, PITR_TL_HOUR);
    assert_int_equal(tl->niv, 49);
    pitr_timeline_free(tl);
}

/* Intervals: whole units, writes outside [from, to] not counted; ranges refused. */
static void test_intervals(void **state)
{
    (void)state;
    pitr_timeline *tl = timeline(T0 + 90 * SEC, T0 + 48 * HOUR + 90 * SEC, PITR_TL_MINUTE);
    assert_int_equal(tl->iv[0].start_us, T0 + MIN);
    assert_int_equal(tl->niv, 48 * 60 + 1);
    pitr_timeline_free(tl);
    tl = timeline(T0 + 90 * SEC, T0 + 48 * HOUR + 91 * SEC, PITR_TL_HOUR);
    assert_int_equal(tl->iv[0].start_us, T0);
    assert_int_equal(tl->niv, 49);
    pitr_timeline_add(tl, T0 + 90 * SEC - 1, LOG_OP_PUT);     /* before --from */
    pitr_timeline_add(tl, T0 + 90 * SEC, LOG_OP_PUT);
    pitr_timeline_add(tl, T0 + 3 * HOUR, LOG_OP_UPDATE);
    assert_int_equal(pitr_timeline_finish(tl), 0);
    assert_int_equal(tl->writes, 2);
    assert_int_equal(tl->iv[3].updates, 1);
    pitr_timeline_free(tl);
    /* --by 10s: ten-second rows from the epoch */
    tl = timeline(T0 + 37 * SEC, T0 + MIN + 5 * SEC, 10 * SEC);
    assert_int_equal(tl->niv, 4);
    assert_int_equal(tl->iv[0].start_us, T0 + 30 * SEC);
    add_n(tl, T0 + 42 * SEC, 3, LOG_OP_PUT);
    assert_int_equal(pitr_timeline_finish(tl), 0);
    assert_int_equal(tl->iv[1].puts, 3);
    pitr_timeline_free(tl);
    pitr_timeline *bad = NULL;
    assert_int_equal(pitr_timeline_new(T0, T0 - 1, PITR_TL_AUTO, &bad), TM_EINVAL);
    assert_string_equal(err_msg(), "--to is before --from");
    assert_int_equal(pitr_timeline_new(T0, T0 + (int64_t)PITR_TL_MAX_INTERVALS * MIN, PITR_TL_MINUTE, &bad),
                     TM_EINVAL);
    assert_non_null(strstr(err_msg(), "too many intervals"));
    assert_int_equal(pitr_timeline_new(T0, T0 + HOUR, SEC / 2, &bad), TM_EINVAL);
    assert_null(bad);
}

/* ================================================================ bursts ==== */

/* A quiet morning (a put and an update every 7 minutes), then a bad load at 10:15:00: the
 * usual rate, one burst, and the second to restore to. */
static void test_burst(void **state)
{
    (void)state;
    const int64_t h8 = T0 - 2 * HOUR;   /* 08:00 */
    pitr_timeline *tl = timeline(h8, T0 + 30 * MIN, PITR_TL_MINUTE);
    for (int64_t m = 0; m < 135; m += 7) {
        pitr_timeline_add(tl, h8 + m * MIN + 30 * SEC, LOG_OP_PUT);
        pitr_timeline_add(tl, h8 + m * MIN + 40 * SEC, LOG_OP_UPDATE);
    }
    pitr_timeline_add(tl, T0 + 14 * MIN + 50 * SEC, LOG_OP_DELETE);
    add_n(tl, T0 + 15 * MIN, 1500, LOG_OP_PUT);
    add_n(tl, T0 + 15 * MIN + 1500, 9, LOG_OP_UPDATE);
    pitr_timeline_add(tl, T0 + 31 * MIN, LOG_OP_PUT);   /* after --to: not counted */
    assert_int_equal(pitr_timeline_finish(tl), 0);
    assert_int_equal(tl->by, PITR_TL_MINUTE);
    assert_int_equal(tl->niv, 151);
    assert_int_equal(tl->iv[0].start_us, h8);
    assert_int_equal(tl->writes, 20 * 2 + 1 + 1509);
    assert_int_equal(tl->deletes, 1);
    assert_int_equal(tl->usual, 2);
    assert_int_equal(tl->max_writes, 1509);
    assert_int_equal(tl->nbursts, 1);
    const pitr_tl_burst *b = &tl->bursts[0];
    assert_int_equal(b->first_us, T0 + 15 * MIN);
    assert_int_equal(b->last_us, T0 + 15 * MIN + 1508);
    assert_int_equal(b->writes, 1509);
    assert_int_equal(b->puts, 1500);
    assert_int_equal(b->updates, 9);
    assert_int_equal(b->last_good_us, T0 + 15 * MIN - 1);
    assert_int_equal(b->last_before_us, T0 + 14 * MIN + 50 * SEC);
    assert_true(b->has_good_second);
    assert_int_equal(b->last_good_second_us, T0 + 14 * MIN + 59 * SEC);
    for (size_t i = 0; i < tl->niv; i++) assert_int_equal(tl->iv[i].burst, tl->iv[i].start_us == T0 + 15 * MIN);
    pitr_timeline_free(tl);
}

/* The issue's case: an initial load of 442,149 items, then a bad load of 100,000 updates the
 * next minute. The median of active minutes saw no burst; each load is judged against the
 * (empty) rate before it, and the pause between them makes them two bursts. */
static void test_load_after_load(void **state)
{
    (void)state;
    static const pitr_tl_by widths[] = {PITR_TL_MINUTE, PITR_TL_AUTO, PITR_TL_SECOND, 10 * SEC};
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
        pitr_timeline *tl = timeline(T0, T0 + 2 * MIN, widths[w]);
        for (int64_t i = 0; i < 442149; i++) pitr_timeline_add(tl, T0 + i * 100, LOG_OP_PUT);     /* ~44 s */
        for (int64_t i = 0; i < 100000; i++) pitr_timeline_add(tl, T0 + MIN + i * 100, LOG_OP_UPDATE);
        assert_int_equal(pitr_timeline_finish(tl), 0);
        assert_int_equal(tl->nbursts, 2);
        const pitr_tl_burst *a = &tl->bursts[0], *b = &tl->bursts[1];
        assert_int_equal(a->first_us, T0);
        assert_int_equal(a->last_us, T0 + 442148 * 100);
        assert_int_equal(a->puts, 442149);
        assert_int_equal(a->last_before_us, 0);
        assert_int_equal(b->first_us, T0 + MIN);
        assert_int_equal(b->last_us, T0 + MIN + 99999 * 100);
        assert_int_equal(b->writes, 100000);
        assert_int_equal(b->updates, 100000);
        assert_int_equal(b->last_before_us, a->last_us);
        assert_int_equal(b->last_good_us, T0 + MIN - 1);
        assert_true(b->has_good_second);
        assert_int_equal(b->last_good_second_us, T0 + 59 * SEC);
        pitr_timeline_free(tl);
    }
    /* the same after a steady morning: the first load is judged against it */
    pitr_timeline *tl = timeline(T0 - HOUR, T0 + 2 * MIN, PITR_TL_MINUTE);
    for (int64_t s = 0; s < 3600; s += 2) pitr_timeline_add(tl, T0 - HOUR + s * SEC, LOG_OP_UPDATE);
    add_n(tl, T0, 20000, LOG_OP_PUT);
    add_n(tl, T0 + MIN + 30 * SEC, 5000, LOG_OP_UPDATE);
    assert_int_equal(pitr_timeline_finish(tl), 0);
    assert_int_equal(tl->nbursts, 2);
    assert_int_equal(tl->bursts[1].first_us, T0 + MIN + 30 * SEC);
    assert_int_equal(tl->bursts[1].trailing, 30);
    pitr_timeline_free(tl);
}

/* Steady writes, 40 a minute (every 1.5 s), and a burst at 10:15:37 inside the minute: the
 * burst is its dense part, so the suggestion is 10:15:36.x and the good writes of
 * 10:15:00..10:15:36 are kept (the old rule said 10:14:59). Minutes, auto, seconds, 10 s. */
static void test_steady_burst_at_37(void **state)
{
    (void)state;
    const int64_t at = T0 + 15 * MIN + 37 * SEC;
    static const pitr_tl_by widths[] = {PITR_TL_MINUTE, PITR_TL_AUTO, PITR_TL_SECOND, 10 * SEC, PITR_TL_HOUR};
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
        pitr_timeline *tl = timeline(T0, T0 + 30 * MIN, widths[w]);
        int64_t good = T0 - 10 * MIN;   /* every 1.5 s: 10:15:36.0 and 10:15:37.5 among them */
        for (int i = 0; i < 1000;) {    /* 10:15:37.000, then 999 more, 1 ms apart */
            if (good <= at + i * 1000) pitr_timeline_add(tl, good, LOG_OP_UPDATE), good += 1500000;
            else pitr_timeline_add(tl, at + (i++) * 1000, LOG_OP_PUT);
        }
        for (; good <= T0 + 30 * MIN; good += 1500000) pitr_timeline_add(tl, good, LOG_OP_UPDATE);
        assert_int_equal(pitr_timeline_finish(tl), 0);
        assert_int_equal(tl->nbursts, 1);
        const pitr_tl_burst *b = &tl->bursts[0];
        assert_int_equal(b->first_us, at);
        assert_int_equal(b->last_us, at + 999 * 1000);
        assert_int_equal(b->writes, 1001);               /* 10:15:37.5 lies inside */
        assert_int_equal(b->puts, 1000);
        assert_int_equal(b->last_before_us, at - SEC);  /* 10:15:36.0 */
        assert_int_equal(b->last_good_us, at - 1);
        assert_true(b->has_good_second);
        assert_int_equal(b->last_good_second_us, at - SEC);
        pitr_timeline_free(tl);
    }
}

/* Where a burst ends, what splits it, when it is one at all, and when no whole second
 * separates it from the good writes before it. */
static void test_rules(void **state)
{
    (void)state;
    /* a quiet write or a quiet minute between two loads: two bursts (issue 13: a load after a
     * load; the old rule joined loads across empty minutes) */
    pitr_timeline *tl = timeline(T0, T0 + 10 * MIN - 1, PITR_TL_MINUTE);
    pitr_timeline_add(tl, T0, LOG_OP_PUT);                  /* quiet: 00, 04, 06 .. 09 */
    add_n(tl, T0 + 1 * MIN, 100, LOG_OP_PUT);
    add_n(tl, T0 + 3 * MIN, 100, LOG_OP_DELETE);
    pitr_timeline_add(tl, T0 + 4 * MIN, LOG_OP_PUT);
    add_n(tl, T0 + 5 * MIN + 30 * SEC, 100, LOG_OP_PUT);
    for (int m = 6; m < 10; m++) pitr_timeline_add(tl, T0 + m * MIN, LOG_OP_PUT);
    assert_int_equal(pitr_timeline_finish(tl), 0);
    assert_int_equal(tl->usual, 1);
    assert_int_equal(tl->nbursts, 3);
    assert_int_equal(tl->bursts[0].writes, 100);
    assert_int_equal(tl->bursts[1].deletes, 100);
    assert_int_equal(tl->bursts[1].last_us, T0 + 3 * MIN + 99);
    assert_int_equal(tl->bursts[1].last_before_us, T0 + MIN + 99);
    assert_int_equal(tl->bursts[2].first_us, T0 + 5 * MIN + 30 * SEC);
    assert_int_equal(tl->bursts[2].writes, 100);
    assert_true(tl->bursts[2].has_good_second);
    assert_int_equal(tl->bursts[2].last_good_second_us, T0 + 5 * MIN + 29 * SEC);
    pitr_timeline_free(tl);

    /* one load across a minute boundary is one burst; the next one in the next minute after a
     * pause of less than a second joins it, after a pause of a second it is another (inside
     * one interval dense parts join: a narrower --by tells them apart) */
    static const struct { int64_t pause; size_t bursts; } split[] = {{0, 1}, {999999, 1}, {SEC, 2}};
    for (size_t i = 0; i < 3; i++) {
        tl = timeline(T0, T0 + 10 * MIN - 1, PITR_TL_MINUTE);
        for (int m = 0; m < 3; m++) pitr_timeline_add(tl, T0 + m * MIN, LOG_OP_PUT);
        int64_t k, end = T0 + 3 * MIN + 59 * SEC;
        for (k = 0; k < (split[i].pause ? 1000 : 2000); k++) pitr_timeline_add(tl, end = T0 + 3 * MIN + 59 * SEC + k * 1000, LOG_OP_PUT);
        if (split[i].pause) add_n(tl, end + split[i].pause, 100, LOG_OP_PUT);
        pitr_timeline_add(tl, T0 + 8 * MIN, LOG_OP_PUT);
        assert_int_equal(pitr_timeline_finish(tl), 0);
        assert_int_equal(tl->nbursts, split[i].bursts);
        assert_int_equal(tl->bursts[0].first_us, T0 + 3 * MIN + 59 * SEC);
        assert_int_equal(tl->bursts[split[i].bursts - 1].last_us, split[i].pause ? end + split[i].pause + 99 : end);
        if (split[i].bursts == 2) assert_int_equal(tl->bursts[1].last_before_us, end);
        pitr_timeline_free(tl);
    }

    /* one busy interval alone is no burst: there is no usual rate to compare with */
    tl = timeline(T0, T0 + 10 * MIN, PITR_TL_MINUTE);
    add_n(tl, T0 + 2 * MIN, 1000, LOG_OP_PUT);
    assert_int_equal(pitr_timeline_finish(tl), 0);
    assert_int_equal(tl->nbursts, 0);
    assert_int_equal(tl->usual, 1000);
    pitr_timeline_free(tl);

    /* at least 50 writes, and 5 x the trailing rate */
    static const struct { int n; int burst; } th[] = {{49, 0}, {50, 1}};
    for (size_t i = 0; i < 2; i++) {
        tl = timeline(T0, T0 + 10 * MIN, PITR_TL_MINUTE);
        for (int m = 0; m < 5; m++) pitr_timeline_add(tl, T0 + m * MIN, LOG_OP_PUT);
        add_n(tl, T0 + 7 * MIN, th[i].n, LOG_OP_PUT);
        assert_int_equal(pitr_timeline_finish(tl), 0);
        assert_int_equal(tl->nbursts, (size_t)th[i].burst);
        pitr_timeline_free(tl);
    }
    tl = timeline(T0, T0 + 10 * MIN, PITR_TL_MINUTE);
    for (int m = 0; m < 5; m++) add_n(tl, T0 + m * MIN, 20, LOG_OP_PUT);
    add_n(tl, T0 + 7 * MIN, 99, LOG_OP_PUT);                 /* 99 < 5 x 20 */
    add_n(tl, T0 + 9 * MIN, 100, LOG_OP_PUT);
    assert_int_equal(pitr_timeline_finish(tl), 0);
    assert_int_equal(tl->usual, 20);
    assert_int_equal(tl->nbursts, 1);
    assert_int_equal(tl->bursts[0].first_us, T0 + 9 * MIN);
    assert_int_equal(tl->bursts[0].trailing, 20);
    pitr_timeline_free(tl);

    /* the trailing rate comes from the writes before --from too */
    tl = timeline(T0, T0 + 10 * MIN, PITR_TL_MINUTE);
    for (int64_t t = tl->history_us; t < T0 + 10 * MIN; t += MIN) add_n(tl, t, 100, LOG_OP_PUT);
    assert_int_equal(pitr_timeline_finish(tl), 0);
    assert_int_equal(tl->nbursts, 0);
    assert_int_equal(tl->writes, 1000);
    pitr_timeline_free(tl);

    /* a good write in the second before a burst that starts on the second: no whole second
     * to restore to, only the exact time */
    tl = timeline(T0, T0 + 10 * MIN, PITR_TL_MINUTE);
    pitr_timeline_add(tl, T0 + 30 * SEC, LOG_OP_PUT);
    pitr_timeline_add(tl, T0 + 2 * MIN - 500000, LOG_OP_PUT);
    add_n(tl, T0 + 2 * MIN, 60, LOG_OP_PUT);
    assert_int_equal(pitr_timeline_finish(tl), 0);
    assert_int_equal(tl->nbursts, 1);
    assert_false(tl->bursts[0].has_good_second);
    assert_int_equal(tl->bursts[0].last_good_us, T0 + 2 * MIN - 1);
    assert_int_equal(tl->bursts[0].last_before_us, T0 + 2 * MIN - 500000);
    pitr_timeline_free(tl);
}

/* ================================================================ touched ==== */

typedef struct rec_buf {
    buf old, new;
    log_record r;
} rec_buf;

static void encode(const char *json, buf *out)
{
    item *it = NULL;
    out->len = 0;
    if (!json) return;
    assert_int_equal(item_parse_json(json, strlen(json), 0, &it), 0);
    assert_int_equal(item_encode(it, out), 0);
    item_free(it);
}

static const log_record *rec_of(rec_buf *rb, int64_t t, const char *old, const char *new)
{
    encode(old, &rb->old);
    encode(new, &rb->new);
    rb->r = (log_record){0};
    rb->r.time_us = t;
    rb->r.old_img = rb->old.data;
    rb->r.old_len = (uint32_t)rb->old.len;
    rb->r.new_img = rb->new.data;
    rb->r.new_len = (uint32_t)rb->new.len;
    rb->r.op = (uint8_t)pitr_tl_kind(&rb->r);
    return &rb->r;
}

#define NWRITES 131
/* The writes of test_touched: a quiet write each minute, then at 10:05 40 new users, 30
 * orders whose status changes, 5 deletes, 45 users put again (age changed on the even ones;
 * 40..44 new), 5 keys that start with digits and one "9ab". */
static const log_record *touched_write(rec_buf *rb, int i, int64_t *t)
{
    char o[256], n[256];
    if (i < 5) {
        *t = T0 + i * MIN;
        snprintf(n, sizeof n, "{\"pk\":{\"S\":\"quiet#%d\"},\"sk\":{\"N\":\"1\"},\"x\":{\"N\":\"%d\"}}", i, i);
        return rec_of(rb, *t, NULL, n);
    }
    *t = T0 + 5 * MIN + i;
    int k = i - 5;
    if (k < 40) {
        snprintf(n, sizeof n, "{\"pk\":{\"S\":\"user#%d\"},\"sk\":{\"N\":\"1\"},\"name\":{\"S\":\"n\"},\"age\":{\"N\":\"%d\"}}", k, k);
        return rec_of(rb, *t, NULL, n);
    }
    if (k < 70) {
        snprintf(o, sizeof o, "{\"pk\":{\"S\":\"order#%d\"},\"sk\":{\"N\":\"1\"},\"status\":{\"S\":\"open\"},\"total\":{\"N\":\"5\"}}", k);
        snprintf(n, sizeof n, "{\"pk\":{\"S\":\"order#%d\"},\"sk\":{\"N\":\"1\"},\"status\":{\"S\":\"shipped\"},\"total\":{\"N\":\"5\"}}", k);
        return rec_of(rb, *t, o, n);
    }
    if (k < 75) {
        snprintf(o, sizeof o, "{\"pk\":{\"S\":\"bad%d\"},\"sk\":{\"N\":\"2\"},\"junk\":{\"S\":\"x\"}}", k);
        return rec_of(rb, *t, o, NULL);
    }
    if (k < 120) {   /* user#0..44 again (40..44 are new: puts), age changes only for even ones */
        int u = k - 75;
        snprintf(o, sizeof o, "{\"pk\":{\"S\":\"user#%d\"},\"sk\":{\"N\":\"1\"},\"name\":{\"S\":\"n\"},\"age\":{\"N\":\"%d\"}}", u, u);
        snprintf(n, sizeof n, "{\"pk\":{\"S\":\"user#%d\"},\"sk\":{\"N\":\"1\"},\"name\":{\"S\":\"n\"},\"age\":{\"N\":\"%d\"}}", u, u + (u % 2 == 0));
        return rec_of(rb, *t, u < 40 ? o : NULL, n);
    }
    if (k < 125) {
        snprintf(n, sizeof n, "{\"pk\":{\"S\":\"1000%d\"},\"sk\":{\"N\":\"1\"}}", k - 120);
        return rec_of(rb, *t, NULL, n);
    }
    snprintf(n, sizeof n, "{\"pk\":{\"S\":\"9ab\"},\"sk\":{\"N\":\"1\"}}");
    return rec_of(rb, *t, NULL, n);
}

static int64_t top_of(const pitr_tl_top *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].name, name)) return (int64_t)t[i].writes;
    return -1;
}

static void test_touched(void **state)
{
    (void)state;
    rec_buf rb = {BUF_INIT, BUF_INIT, {0}};
    int64_t t;
    pitr_timeline *tl = timeline(T0, T0 + 10 * MIN, PITR_TL_MINUTE);
    for (int i = 0; i < NWRITES; i++) {
        const log_record *r = touched_write(&rb, i, &t);
        pitr_timeline_add(tl, t, r->op);
    }
    assert_int_equal(pitr_timeline_finish(tl), 0);
    assert_int_equal(tl->nbursts, 1);
    const pitr_tl_burst *b = &tl->bursts[0];
    assert_int_equal(b->writes, 126);
    assert_int_equal(b->puts, 40 + 5 + 6);
    assert_int_equal(b->updates, 30 + 40);
    assert_int_equal(b->deletes, 5);
    assert_int_equal(pitr_timeline_touch_begin(tl, "pk", "sk"), 0);
    for (int i = 0; i < NWRITES; i++) assert_int_equal(pitr_timeline_touch(tl, touched_write(&rb, i, &t)), 0);
    pitr_timeline_touch_finish(tl);
    const pitr_tl_touched *x = &b->touched;
    assert_true(x->done);
    assert_true(x->partition_keys_exact);
    assert_int_equal(x->partition_keys, 45 + 30 + 5 + 6);   /* the quiet ones are not in it */
    assert_true(x->prefixes_exact);
    assert_int_equal(x->nprefixes, 5);
    assert_string_equal(x->prefixes[0].name, "user#");
    assert_int_equal(x->prefixes[0].writes, 85);
    assert_int_equal(top_of(x->prefixes, x->nprefixes, "order#"), 30);
    assert_int_equal(top_of(x->prefixes, x->nprefixes, "bad"), 5);
    assert_int_equal(top_of(x->prefixes, x->nprefixes, "9ab"), 1);
    assert_int_equal(top_of(x->prefixes, x->nprefixes, "1000"), 5);
    assert_int_equal(top_of(x->prefixes, x->nprefixes, "quiet#"), -1);
    assert_true(x->attributes_exact);
    /* age: 40 new + 5 new + 23 even re-puts of 0..44 that existed (0,2..38: 20); name: 45 new;
     * status 30; junk 5; keys never */
    assert_int_equal(top_of(x->attributes, x->nattributes, "age"), 40 + 5 + 20);
    assert_int_equal(top_of(x->attributes, x->nattributes, "name"), 45);
    assert_int_equal(top_of(x->attributes, x->nattributes, "status"), 30);
    assert_int_equal(top_of(x->attributes, x->nattributes, "total"), -1);
    assert_int_equal(top_of(x->attributes, x->nattributes, "junk"), 5);
    assert_int_equal(top_of(x->attributes, x->nattributes, "pk"), -1);
    assert_int_equal(top_of(x->attributes, x->nattributes, "sk"), -1);
    assert_string_equal(x->attributes[0].name, "age");
    pitr_timeline_free(tl);
    buf_free(&rb.old);
    buf_free(&rb.new);
}

/* Past PITR_TL_EXACT_KEYS partition keys the count is HyperLogLog's estimate; past
 * PITR_TL_SKETCH prefixes the top ones still come first. */
static void test_touched_sketches(void **state)
{
    (void)state;
    const int n = (int)PITR_TL_EXACT_KEYS + 100000;
    rec_buf rb = {BUF_INIT, BUF_INIT, {0}};
    char j[128];
    pitr_timeline *tl = timeline(T0, T0 + 10 * MIN, PITR_TL_MINUTE);
    pitr_timeline_add(tl, T0, LOG_OP_PUT);
    add_n(tl, T0 + 5 * MIN, n, LOG_OP_PUT);
    assert_int_equal(pitr_timeline_finish(tl), 0);
    assert_int_equal(tl->nbursts, 1);
    assert_int_equal(pitr_timeline_touch_begin(tl, "pk", NULL), 0);
    for (int i = 0; i < n; i++) {
        /* prefix p0: half of them, p1: a quarter, then 997 small ones */
        int p = i % 2 == 0 ? 0 : i % 4 == 1 ? 1 : 2 + i % 997;
        snprintf(j, sizeof j, "{\"pk\":{\"S\":\"p%d:%d\"}}", p, i);
        assert_int_equal(pitr_timeline_touch(tl, rec_of(&rb, T0 + 5 * MIN + i, NULL, j)), 0);
    }
    pitr_timeline_touch_finish(tl);
    const pitr_tl_touched *x = &tl->bursts[0].touched;
    assert_false(x->partition_keys_exact);
    double err = ((double)x->partition_keys - n) / n;
    assert_true(err > -0.03 && err < 0.03);
    assert_false(x->prefixes_exact);
    assert_string_equal(x->prefixes[0].name, "p0:");
    assert_string_equal(x->prefixes[1].name, "p1:");
    assert_true(x->prefixes[0].writes >= (uint64_t)n / 2);
    assert_true(x->attributes_exact);
    assert_int_equal(x->nattributes, 0);
    pitr_timeline_free(tl);
    buf_free(&rb.old);
    buf_free(&rb.new);
}

static void test_key_prefix(void **state)
{
    (void)state;
    static const struct { const char *in, *want; } c[] = {
        {"user#123", "user#"}, {"tenant:a:b", "tenant:"}, {"a|b", "a|"}, {"dir/file", "dir/"},
        {"bad17", "bad"}, {"u00", "u"}, {"plain", "plain"}, {"12345", "1234"}, {"9ab", "9ab"},
        {"2025-11-12#x", "2025-11-12#"}, {"", ""},
        {"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ#1", "abcdefghijklmnopqrstuvwxyzABCDEF"},
        {"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
         "\xc3\xa9\xc3\xa9x\xc3\xa9", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
         "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9x"}};
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        char out[PITR_TL_PREFIX_MAX + 1];
        size_t n = pitr_tl_key_prefix(c[i].in, strlen(c[i].in), out, sizeof out);
        assert_string_equal(out, c[i].want);
        assert_int_equal(n, strlen(c[i].want));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_widths),
        cmocka_unit_test(test_auto_rows),
        cmocka_unit_test(test_intervals),
        cmocka_unit_test(test_burst),
        cmocka_unit_test(test_load_after_load),
        cmocka_unit_test(test_steady_burst_at_37),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_touched),
        cmocka_unit_test(test_touched_sketches),
        cmocka_unit_test(test_key_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
