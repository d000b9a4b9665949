/* restore_test.c: point-in-time restore end to end against table.h, compared item by item with
 * a reference model: an independent in-memory replay of the same history.
 *
 * The history: puts, updates, deletes and batches at chosen times over a simulated 35 days
 * (clock_set_us), small log segments, daily snapshots. Restore points: random times, the
 * earliest and the latest restorable time, every snapshot's time and every segment's first and
 * last record time (and one µs either side). Both planner directions are forced on a share of
 * them and must agree with the model. Then the errors (outside the window, existing target, PITR
 * off, a segment deleted by hand, a corrupt segment: clear errors, nothing created) and a
 * restore racing with a writer and retention in another process.
 * SOAK=1 makes the history and the number of random points bigger. */
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/item.h"
#include "engine/key.h"
#include "engine/log.h"
#include "engine/table.h"
#include "pitr/materialize.h"
#include "pitr/netchange.h"
#include "pitr/plan.h"
#include "restore/restore.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testutil.h"

#define DAY_US (86400LL * CLOCK_US_PER_SEC)
#define HOUR_US (3600LL * CLOCK_US_PER_SEC)
#define T0 1762934400000000LL   /* 2025-11-12T08:00:00Z: PITR enabled here */

#define NPK 40
#define NSK 10
#define NKEYS (NPK * NSK)

/* ================================================================ the model ==== */

/* One version of one key: its state from time t on. */
typedef struct ver {
    int64_t t;
    int exists;
    int64_t v;          /* "v" N */
    int has_s;          /* "s" S: text made from (seed, len) */
    uint32_t seed, len;
    int has_u;          /* "u" N */
    int64_t u;
} ver;

typedef struct key_hist {
    ver *v;
    size_t n, cap;
} key_hist;

static struct {
    char home[PATH_MAX];
    key_schema ks;
    key_hist keys[NKEYS];
    int64_t now;             /* the clock after the history */
    int64_t last_t;          /* time of the last effective write */
    uint64_t writes;         /* effective writes (log records) */
    uint64_t rng;
    unsigned compared;       /* restore results compared with the model */
    unsigned fwd, bwd;       /* results by direction taken */
    int small;               /* running under valgrind: fewer points */
} M;

static uint64_t rnd(void)
{
    M.rng ^= M.rng >> 12;
    M.rng ^= M.rng << 25;
    M.rng ^= M.rng >> 27;
    return M.rng * 2685821657736338717ULL;
}
static uint64_t rndn(uint64_t n) { return rnd() % n; }

static const ver *state_at(int k, int64_t t)
{
    const key_hist *h = &M.keys[k];
    const ver *best = NULL;
    size_t lo = 0, hi = h->n;   /* versions ascend by t: last with t <= T */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (h->v[mid].t <= t) lo = mid + 1;
        else hi = mid;
    }
    if (lo) best = &h->v[lo - 1];
    return best && best->exists ? best : NULL;
}

static const ver *current(int k)
{
    const key_hist *h = &M.keys[k];
    return h->n && h->v[h->n - 1].exists ? &h->v[h->n - 1] : NULL;
}

static void record(int k, const ver *v)
{
    key_hist *h = &M.keys[k];
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 8;
        h->v = realloc(h->v, h->cap * sizeof *h->v);
        assert_non_null(h->v);
    }
    h->v[h->n++] = *v;
}

static void text(uint32_t seed, uint32_t len, char *out)
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (uint32_t i = 0; i < len; i++) {
        x ^= x >> 13; x ^= x << 7; x ^= x >> 17;
        out[i] = al[x % (sizeof al - 1)];
    }
    out[len] = '\0';
}

static void key_json(int k, buf *b)
{
    buf_printf(b, "{\"pk\":{\"S\":\"user#%03d\"},\"sk\":{\"N\":\"%d\"}", k / NSK, k % NSK);
}

/* The DynamoDB JSON of key k in state v (v NULL: only the key). */
static void item_json(int k, const ver *v, buf *b)
{
    char s[400];
    buf_reset(b);
    key_json(k, b);
    if (v) {
        buf_printf(b, ",\"v\":{\"N\":\"%" PRId64 "\"}", v->v);
        if (v->has_s) {
            text(v->seed, v->len, s);
            buf_printf(b, ",\"s\":{\"S\":\"%s\"}", s);
        }
        if (v->has_u) buf_printf(b, ",\"u\":{\"N\":\"%" PRId64 "\"}", v->u);
    }
    buf_putc(b, '}');
}

static item *make_item(int k, const ver *v)
{
    buf b = BUF_INIT;
    item_json(k, v, &b);
    item *it = tu_item(b.data);
    buf_free(&b);
    return it;
}

/* ================================================================ the history ==== */

typedef struct upd_ctx { int64_t v, u; } upd_ctx;

static int mutate(void *ctx, item *it)
{
    upd_ctx *c = ctx;
    char num[32];
    av a;
    memset(&a, 0, sizeof a);
    a.type = AV_N;
    snprintf(num, sizeof num, "%" PRId64, c->v);
    a.len = (uint32_t)strlen(num);
    a.u.bytes = num;
    int rc = item_put(it, "v", &a);
    if (rc) return rc;
    snprintf(num, sizeof num, "%" PRId64, c->u);
    a.len = (uint32_t)strlen(num);
    return item_put(it, "u", &a);
}

static ver new_version(void)
{
    ver v;
    memset(&v, 0, sizeof v);
    v.exists = 1;
    v.v = (int64_t)rndn(1000000) - 500000;
    v.has_s = rndn(10) != 0;
    v.seed = (uint32_t)rnd();
    v.len = 10 + (uint32_t)rndn(250);
    return v;
}

static void one_put(table *t, int k, int64_t at)
{
    ver v = new_version();
    item *it = make_item(k, &v);
    clock_set_us(at);
    int rc = table_put(t, it, NULL, NULL, NULL);
    if (rc) fail_msg("put: %s", err_msg());
    item_free(it);
    v.t = at;
    record(k, &v);
    M.writes++;
    M.last_t = at;
}

static void one_update(table *t, int k, int64_t at)
{
    const ver *cur = current(k);
    ver v;
    if (cur) v = *cur;
    else { memset(&v, 0, sizeof v); v.exists = 1; }
    upd_ctx c = {(int64_t)rndn(1000), (int64_t)rndn(100000)};
    v.v = c.v;
    v.u = c.u;
    v.has_u = 1;
    item *key = make_item(k, NULL);
    clock_set_us(at);
    int rc = table_update(t, key, mutate, NULL, &c, NULL);
    if (rc) fail_msg("update: %s", err_msg());
    item_free(key);
    v.t = at;
    record(k, &v);
    M.writes++;
    M.last_t = at;
}

static void one_delete(table *t, int k, int64_t at)
{
    int existed = current(k) != NULL;
    item *key = make_item(k, NULL);
    clock_set_us(at);
    int rc = table_delete_item(t, key, NULL, NULL, NULL);
    if (rc) fail_msg("delete: %s", err_msg());
    item_free(key);
    if (!existed) return;   /* a delete of an absent key writes nothing */
    ver v;
    memset(&v, 0, sizeof v);
    v.t = at;
    record(k, &v);
    M.writes++;
    M.last_t = at;
}

/* A batch at clock `at`: its effective writes are stamped at, at+1, ... (strictly rising). */
static void one_batch(table *t, int64_t at)
{
    table_batch *b;
    clock_set_us(at);
    assert_int_equal(table_batch_begin(t, &b), 0);
    int n = 2 + (int)rndn(19);
    int64_t stamp = at;
    for (int i = 0; i < n; i++) {
        int k = (int)rndn(NKEYS);
        if (rndn(4) == 0) {
            int existed = current(k) != NULL;
            item *key = make_item(k, NULL);
            assert_int_equal(table_batch_delete(b, key), 0);
            item_free(key);
            if (!existed) continue;
            ver v;
            memset(&v, 0, sizeof v);
            v.t = stamp++;
            record(k, &v);
        } else {
            ver v = new_version();
            item *it = make_item(k, &v);
            assert_int_equal(table_batch_put(b, it), 0);
            item_free(it);
            v.t = stamp++;
            record(k, &v);
        }
        M.writes++;
        M.last_t = stamp - 1;
    }
    if (table_batch_commit(b)) fail_msg("batch: %s", err_msg());
}

static int setup(void **state)
{
    (void)state;
    const char *soak = getenv("SOAK"), *pre = getenv("LD_PRELOAD");
    int big = soak && *soak == '1';
    /* Under valgrind (make check) a shorter history keeps the run within minutes. */
    M.small = pre && strstr(pre, "vgpreload") != NULL;
    if (tu_tmpdir(M.home, sizeof M.home, "tm-restore-test")) return -1;
    M.rng = 0x5eed1234abcdULL;
    /* Small segments: many segment boundaries to restore to. */
    setenv("TIDEMARK_SEGMENT_BYTES", "32768", 1);
    memset(&M.ks, 0, sizeof M.ks);
    snprintf(M.ks.hash_name, sizeof M.ks.hash_name, "pk");
    M.ks.hash_type = AV_S;
    snprintf(M.ks.range_name, sizeof M.ks.range_name, "sk");
    M.ks.range_type = AV_N;
    table_create_opts co = TABLE_CREATE_OPTS_INIT;
    co.durability = LOG_SYNC_NONE;   /* speed; durability is not what this test is about */
    if (M.small) co.snapshot_every_s = 3 * 86400;
    clock_set_us(T0 - 2 * HOUR_US);
    if (table_create(M.home, "hist", &M.ks, &co, NULL)) { print_error("create: %s\n", err_msg()); return -1; }
    table *t;
    if (table_open(M.home, "hist", 0, &t)) return -1;
    /* A few writes before PITR is enabled: part of every restored state. */
    int64_t at = T0 - HOUR_US;
    for (int i = 0; i < 30; i++) one_put(t, (int)rndn(NKEYS), at += 1000003);
    clock_set_us(T0);
    if (table_set_pitr(t, 1, 35)) { print_error("pitr: %s\n", err_msg()); table_close(t); return -1; }
    int n = big ? 40000 : M.small ? 400 : 6000;
    int64_t span = 35 * DAY_US - 2 * HOUR_US, step = span / n;
    at = T0 + 1000;
    for (int i = 0; i < n; i++) {
        /* Times keep a fraction >= 1 ms so that no write falls on a whole second. */
        at += 1 + (int64_t)rndn((uint64_t)(2 * step));
        if (at % CLOCK_US_PER_SEC < 1000) at += 1000;
        if (at % CLOCK_US_PER_SEC > 998000) at += 3000;
        int k = (int)rndn(NKEYS);
        uint64_t op = rndn(100);
        if (op < 45) one_put(t, k, at);
        else if (op < 70) one_update(t, k, at);
        else if (op < 90) one_delete(t, k, at);
        else { one_batch(t, at); at += 100; }
    }
    table_close(t);
    M.now = T0 + 35 * DAY_US + HOUR_US;
    clock_set_us(M.now);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    print_message("restore results compared with the model: %u (forward %u, backward %u)\n",
                  M.compared, M.fwd, M.bwd);
    if (!getenv("KEEP")) fsx_rmtree(M.home);
    for (int k = 0; k < NKEYS; k++) free(M.keys[k].v);
    return 0;
}

/* ================================================================ comparing ==== */

static uint64_t model_count(int64_t t)
{
    uint64_t n = 0;
    for (int k = 0; k < NKEYS; k++) n += state_at(k, t) != NULL;
    return n;
}

/* Every item of t equals the model at time T, and nothing else is there. extra: items the
 * table may hold beyond the model (race keys), counted by the caller. */
static void compare(table *t, int64_t T, uint64_t extra, const char *what)
{
    table_read *r;
    buf kb = BUF_INIT, vb = BUF_INIT;
    assert_int_equal(table_read_begin(t, &r), 0);
    uint64_t want = model_count(T);
    if (table_read_count(r) != want + extra) {
        char ts[40];
        clock_format(T, 6, ts, sizeof ts);
        fail_msg("%s at %s: %" PRIu64 " items, model has %" PRIu64, what, ts,
                 table_read_count(r), want + extra);
    }
    for (int k = 0; k < NKEYS; k++) {
        const ver *v = state_at(k, T);
        buf_reset(&kb);
        buf_reset(&vb);
        item *it = make_item(k, v);
        assert_int_equal(key_encode_item(&M.ks, it, &kb), 0);
        const void *img;
        size_t in;
        int rc = table_read_get(r, kb.data, kb.len, &img, &in);
        char ts[40];
        clock_format(T, 6, ts, sizeof ts);
        if (!v) {
            if (rc != TM_ENOTFOUND) fail_msg("%s at %s: key %d present, model: absent", what, ts, k);
        } else {
            assert_int_equal(item_encode(it, &vb), 0);
            if (rc) fail_msg("%s at %s: key %d absent, model: present", what, ts, k);
            if (in != vb.len || memcmp(img, vb.data, in)) {
                buf j = BUF_INIT, mj = BUF_INIT;
                item_bin_write_json(img, in, &j);
                item_json(k, v, &mj);
                fail_msg("%s at %s: key %d differs:\n  table %s\n  model %s", what, ts, k,
                         j.data, mj.data);
            }
        }
        item_free(it);
    }
    table_read_end(r);
    buf_free(&kb);
    buf_free(&vb);
}

/* No directory under tables/ other than the expected tables (no staging left behind). */
static void no_leftovers(void)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/tables", M.home);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (e->d_name[0] == '.') fail_msg("left behind: tables/%s", e->d_name);
    }
    closedir(d);
}

static int counter;

/* Restores source at T with direction dir into a fresh table, compares, drops it. Returns the
 * restore's code (0 checked against the model). */
static int restore_check(const char *source, int64_t T, pitr_dir dir, const char *what)
{
    char name[64];
    snprintf(name, sizeof name, "r%06d", counter++);
    restore_options o = RESTORE_OPTIONS_INIT;
    o.home = M.home;
    o.source = source;
    o.target = name;
    o.time_us = T;
    o.direction = dir;
    restore_result res;
    int rc = restore_run(&o, &res);
    if (rc) return rc;
    if (dir != PITR_AUTO) assert_int_equal(res.stats.direction, dir);
    if (res.stats.direction == PITR_FORWARD) M.fwd++;
    else M.bwd++;
    table *t;
    assert_int_equal(table_open(M.home, name, TABLE_RDONLY, &t), 0);
    table_info ti;
    assert_int_equal(table_describe(t, &ti), 0);
    assert_int_equal(ti.pitr_enabled, 0);
    assert_int_equal(ti.durability, LOG_SYNC_NONE);            /* the source's settings */
    assert_int_equal(ti.snapshot_every_s, M.small ? 3 * 86400 : 86400);
    assert_string_equal(ti.ks.hash_name, "pk");
    assert_string_equal(ti.ks.range_name, "sk");
    assert_int_equal(ti.item_count, res.table.item_count);
    compare(t, res.stats.t_us, 0, what);
    table_close(t);
    M.compared++;
    assert_int_equal(table_delete(M.home, name), 0);
    return 0;
}

static void must_restore(const char *source, int64_t T, pitr_dir dir, const char *what)
{
    int rc = restore_check(source, T, dir, what);
    if (rc) {
        char ts[40];
        clock_format(T, 6, ts, sizeof ts);
        fail_msg("%s at %s (%s): %s", what, ts, pitr_dir_name(dir), err_msg());
    }
}

static void window(const char *name, int64_t *e, int64_t *l)
{
    table *t;
    assert_int_equal(table_open(M.home, name, TABLE_RDONLY, &t), 0);
    assert_int_equal(table_pitr_window(t, e, l), 0);
    table_close(t);
}

/* Reading the log between seed and target fails when set (the Makefile links with
 * --wrap=netchange_open_seq): as a segment removed after planning would. */
int __real_netchange_open_seq(const char *log_dir, uint64_t from_seq, uint64_t to_seq,
                              const netchange_options *opts, netchange **out);
int __wrap_netchange_open_seq(const char *log_dir, uint64_t from_seq, uint64_t to_seq,
                              const netchange_options *opts, netchange **out);
static int fail_log_read;
int __wrap_netchange_open_seq(const char *log_dir, uint64_t from_seq, uint64_t to_seq,
                              const netchange_options *opts, netchange **out)
{
    if (fail_log_read) {
        *out = NULL;
        return err_set(TM_EMISSING, "injected: log records %" PRIu64 "..%" PRIu64 " are gone",
                       from_seq, to_seq);
    }
    return __real_netchange_open_seq(log_dir, from_seq, to_seq, opts, out);
}

/* ================================================================ tests ==== */

static void test_history_sane(void **state)
{
    (void)state;
    /* The model's times are the log's: every record's time is a model version's time. */
    table *t;
    assert_int_equal(table_open(M.home, "hist", TABLE_RDONLY, &t), 0);
    table_info ti;
    assert_int_equal(table_describe(t, &ti), 0);
    assert_int_equal(ti.applied_seq, M.writes);
    assert_int_equal(ti.last_write_us, M.last_t);
    assert_int_equal(ti.item_count, model_count(INT64_MAX));
    compare(t, INT64_MAX, 0, "live table");
    log_segment *segs;
    snap_info *snaps;
    size_t ns, nn;
    assert_int_equal(log_list(table_log_dir(t), &segs, &ns), 0);
    assert_int_equal(snap_list(table_dir(t), &snaps, &nn), 0);
    print_message("history: %" PRIu64 " writes, %zu segments, %zu snapshots\n", M.writes, ns, nn);
    assert_true(ns >= (M.small ? 3 : 20));
    assert_true(nn >= (M.small ? 10u : 30u));
    free(segs);
    free(snaps);
    table_close(t);
}

static void test_window_edges(void **state)
{
    (void)state;
    int64_t e, l;
    window("hist", &e, &l);
    assert_int_equal(e, M.now - 35 * DAY_US);
    assert_int_equal(l, M.last_t);
    must_restore("hist", e, PITR_AUTO, "earliest");
    must_restore("hist", e, PITR_FORWARD, "earliest forward");
    must_restore("hist", e, PITR_BACKWARD, "earliest backward");
    must_restore("hist", l, PITR_AUTO, "latest");
    must_restore("hist", l, PITR_FORWARD, "latest forward");
    must_restore("hist", l, PITR_BACKWARD, "latest backward");
    must_restore("hist", PITR_LATEST, PITR_AUTO, "--latest");
    /* The earliest and latest whole seconds inside the window. */
    int64_t es = (e + CLOCK_US_PER_SEC - 1) / CLOCK_US_PER_SEC * CLOCK_US_PER_SEC;
    int64_t ls = l / CLOCK_US_PER_SEC * CLOCK_US_PER_SEC;
    must_restore("hist", es, PITR_AUTO, "earliest second");
    must_restore("hist", ls, PITR_AUTO, "latest second");
}

static void test_random_points(void **state)
{
    (void)state;
    int64_t e, l;
    window("hist", &e, &l);
    const char *soak = getenv("SOAK");
    int n = soak && *soak == '1' ? 400 : M.small ? 12 : 60;
    for (int i = 0; i < n; i++) {
        /* A whole second, as a person would type it. */
        int64_t T = e + (int64_t)rndn((uint64_t)(l - e));
        T = T / CLOCK_US_PER_SEC * CLOCK_US_PER_SEC;
        if (T < e) T += CLOCK_US_PER_SEC;
        must_restore("hist", T, PITR_AUTO, "random second");
        /* Every third point: both forced directions must agree with the model too. */
        if (i % 3 == 0) {
            must_restore("hist", T, PITR_FORWARD, "random second, forward");
            must_restore("hist", T, PITR_BACKWARD, "random second, backward");
        }
        /* Every sixth: the net change spilled to run files (4 KiB of memory) and merged. */
        if (i % 6 == 0) {
            setenv("TIDEMARK_NETCHANGE_MEM", "4096", 1);
            must_restore("hist", T, PITR_FORWARD, "random second, forward, spilled");
            must_restore("hist", T, PITR_BACKWARD, "random second, backward, spilled");
            unsetenv("TIDEMARK_NETCHANGE_MEM");
        }
    }
}

static void test_boundaries(void **state)
{
    (void)state;
    int64_t e, l;
    window("hist", &e, &l);
    table *t;
    assert_int_equal(table_open(M.home, "hist", TABLE_RDONLY, &t), 0);
    log_segment *segs;
    snap_info *snaps;
    size_t ns, nn;
    assert_int_equal(log_list(table_log_dir(t), &segs, &ns), 0);
    assert_int_equal(snap_list(table_dir(t), &snaps, &nn), 0);
    table_close(t);
    int done = 0;
    for (size_t i = 0; i < nn; i++)
        for (int d = -1; d <= 1; d++) {
            int64_t T = snaps[i].time_us + d;
            if (T < e || T > l) continue;
            if (M.small && done % 8) { done++; continue; }
            must_restore("hist", T, (pitr_dir)(done % 3), "snapshot boundary");
            done++;
        }
    for (size_t i = 0; i < ns; i++) {
        int64_t ts[4] = {segs[i].first_time - 1, segs[i].first_time, segs[i].last_time,
                         segs[i].last_time + 1};
        for (int k = 0; k < 4; k++) {
            if (ts[k] < e || ts[k] > l) continue;
            if (!M.small || done % 8 == 0)
                must_restore("hist", ts[k], (pitr_dir)(done % 3), "segment boundary");
            done++;
        }
    }
    print_message("boundary points: %d\n", done);
    assert_true(done > (M.small ? 30 : 100));
    free(segs);
    free(snaps);
}

static void test_plan_and_temp(void **state)
{
    (void)state;
    int64_t e, l;
    window("hist", &e, &l);
    /* One hour before the latest: at most about an hour of log (backward from the live
     * table, or forward from a snapshot taken within the hour), never days of it. */
    pitr_plan *p;
    assert_int_equal(pitr_plan_table(M.home, "hist", l - HOUR_US, PITR_AUTO, &p), 0);
    assert_true(p->records < 60);
    assert_true(p->seed != PITR_SEED_EMPTY);
    pitr_plan_free(p);
    /* One µs before the latest, backward: nothing but the last write to undo. */
    assert_int_equal(pitr_plan_table(M.home, "hist", l - 1, PITR_BACKWARD, &p), 0);
    assert_int_equal(p->direction, PITR_BACKWARD);
    assert_int_equal(p->seed, PITR_SEED_LIVE);
    assert_int_equal(p->records, 1);
    pitr_plan_free(p);
    /* The middle of a day: forward from that day's snapshot. */
    assert_int_equal(pitr_plan_table(M.home, "hist", e + 17 * DAY_US + 2 * HOUR_US, PITR_AUTO,
                                     &p), 0);
    assert_int_equal(p->seed, PITR_SEED_SNAPSHOT);
    assert_true(p->records < 400);
    buf d = BUF_INIT;
    assert_int_equal(pitr_plan_describe(p, &d), 0);
    assert_non_null(strstr(d.data, p->snap.name));
    buf_free(&d);
    pitr_plan_free(p);
    /* The hidden temporary table (what export at a time uses). */
    for (int i = 0; i < 5; i++) {
        int64_t T = e + (int64_t)rndn((uint64_t)(l - e));
        table *t;
        char dir[PATH_MAX];
        assert_int_equal(pitr_materialize_temp(M.home, "hist", T, &t, dir, sizeof dir), 0);
        assert_non_null(strstr(dir, "/tables/."));
        assert_true(fsx_exists(dir));
        compare(t, T, 0, "temporary table");
        M.compared++;
        char **names;
        size_t nn;
        assert_int_equal(table_list(M.home, &names, &nn), 0);
        for (size_t k = 0; k < nn; k++) assert_null(strstr(dir, names[k]));
        table_names_free(names, nn);
        pitr_temp_drop(t, dir);
        assert_false(fsx_exists(dir));
    }
    no_leftovers();
}

static void test_errors(void **state)
{
    (void)state;
    int64_t e, l;
    window("hist", &e, &l);
    restore_options o = RESTORE_OPTIONS_INIT;
    o.home = M.home;
    o.source = "hist";
    o.target = "never";
    char path[PATH_MAX];
    table_path(M.home, "never", NULL, path, sizeof path);
    /* Outside the window, on both sides. */
    o.time_us = e - 1;
    assert_int_equal(restore_run(&o, NULL), TM_ERANGE);
    assert_non_null(strstr(err_msg(), "is outside the restorable window"));
    assert_non_null(strstr(err_msg(), "outside the restorable window"));
    o.time_us = l + 1;
    assert_int_equal(restore_run(&o, NULL), TM_ERANGE);
    pitr_plan *p;
    assert_int_equal(restore_plan(&o, &p), TM_ERANGE);
    assert_false(fsx_exists(path));
    /* An existing target: refused, and left as it was. */
    o.time_us = l;
    o.target = "hist";
    assert_int_equal(restore_run(&o, NULL), TM_EEXIST);
    assert_non_null(strstr(err_msg(), "already exists"));
    table_create_opts co = TABLE_CREATE_OPTS_INIT;
    assert_int_equal(table_create(M.home, "taken", &M.ks, &co, NULL), 0);
    o.target = "taken";
    assert_int_equal(restore_run(&o, NULL), TM_EEXIST);
    table *t;
    table_info ti;
    assert_int_equal(table_open(M.home, "taken", TABLE_RDONLY, &t), 0);
    assert_int_equal(table_describe(t, &ti), 0);
    assert_int_equal(ti.item_count, 0);
    table_close(t);
    assert_int_equal(table_delete(M.home, "taken"), 0);
    /* No such source; PITR disabled; bad target name. */
    o.source = "nosuch";
    o.target = "never";
    assert_int_equal(restore_run(&o, NULL), TM_ENOTFOUND);
    assert_non_null(strstr(err_msg(), "nosuch"));
    assert_int_equal(table_create(M.home, "nopitr", &M.ks, &co, NULL), 0);
    o.source = "nopitr";
    assert_int_equal(restore_run(&o, NULL), TM_ENOTFOUND);
    assert_non_null(strstr(err_msg(), "not enabled"));
    assert_int_equal(table_delete(M.home, "nopitr"), 0);
    o.source = "hist";
    o.target = "x";
    assert_int_equal(restore_run(&o, NULL), TM_EINVAL);
    assert_false(fsx_exists(path));
    no_leftovers();
}

/* 1 if the detail names a seq range a..b that meets [lo, hi]. */
static int names_range(const char *msg, uint64_t lo, uint64_t hi)
{
    for (const char *p = msg; (p = strstr(p, "..")); p += 2) {
        const char *q = p;
        while (q > msg && q[-1] >= '0' && q[-1] <= '9') q--;
        if (q == p || p[2] < '0' || p[2] > '9') continue;
        uint64_t a = strtoull(q, NULL, 10), b = strtoull(p + 2, NULL, 10);
        if (a <= hi && b >= lo) return 1;
    }
    return 0;
}

/* A copy of hist's directory under another name (items, log, snapshots), for damage. */
static void copy_table(const char *to)
{
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "cp -r '%s/tables/hist' '%s/tables/%s' && rm -f '%s/tables/%s/items/lock.mdb'",
             M.home, M.home, to, M.home, to);
    assert_int_equal(system(cmd), 0);
}

static void test_missing_segment(void **state)
{
    (void)state;
    copy_table("gap");
    char logdir[PATH_MAX], path[PATH_MAX];
    table_path(M.home, "gap", "log", logdir, sizeof logdir);
    log_segment *segs;
    size_t ns;
    assert_int_equal(log_list(logdir, &segs, &ns), 0);
    /* A sealed segment in the middle, deleted by hand. */
    log_segment g = segs[ns / 2];
    assert_true(g.sealed);
    snprintf(path, sizeof path, "%s/%s", logdir, g.name);
    assert_int_equal(unlink(path), 0);
    int64_t e, l;
    window("gap", &e, &l);
    char target[PATH_MAX];
    table_path(M.home, "never", NULL, target, sizeof target);
    restore_options o = RESTORE_OPTIONS_INIT;
    o.home = M.home;
    o.source = "gap";
    o.target = "never";
    /* Inside the missing segment: no plan, and the detail names the missing records. */
    o.time_us = (g.first_time + g.last_time) / 2;
    assert_int_equal(restore_run(&o, NULL), TM_EMISSING);
    print_message("inside the gap: %s\n", err_msg());
    assert_true(names_range(err_msg(), g.first_seq, g.last_seq));
    assert_false(fsx_exists(target));
    /* Just after it, forward only, with no snapshot in between: the gap is named. */
    o.time_us = g.last_time + 1;
    o.direction = PITR_FORWARD;
    int rc = restore_run(&o, NULL);
    if (rc) {
        assert_int_equal(rc, TM_EMISSING);
        print_message("forward over the gap: %s\n", err_msg());
        assert_non_null(strstr(err_msg(), "missing"));
    }
    assert_false(fsx_exists(target));
    /* Far from it: plans that avoid the gap still work, and are right. */
    must_restore("gap", l - HOUR_US, PITR_AUTO, "after a deleted segment");
    must_restore("gap", e + HOUR_US, PITR_FORWARD, "before a deleted segment");
    /* A forced direction through the gap fails cleanly. */
    o.direction = PITR_BACKWARD;
    o.time_us = g.first_time - 1;
    assert_int_equal(restore_run(&o, NULL), TM_EMISSING);
    print_message("backward through the gap: %s\n", err_msg());
    assert_true(names_range(err_msg(), g.first_seq, g.last_seq));
    assert_false(fsx_exists(target));
    /* The log failing while a snapshot seed is copied (read in a second thread): the error is
     * the log's, not the snapshot's, and nothing is created. */
    fail_log_read = 1;
    o.direction = PITR_FORWARD;
    o.time_us = l - HOUR_US;
    rc = restore_run(&o, NULL);
    fail_log_read = 0;
    print_message("log read failing: %s\n", err_msg());
    assert_int_equal(rc, TM_EMISSING);
    assert_non_null(strstr(err_msg(), "injected: log records"));
    assert_null(strstr(err_msg(), "snapshot"));
    assert_false(fsx_exists(target));
    no_leftovers();
    free(segs);
    assert_int_equal(table_delete(M.home, "gap"), 0);
}

static void test_corrupt_segment(void **state)
{
    (void)state;
    copy_table("bad");
    char logdir[PATH_MAX], path[PATH_MAX];
    table_path(M.home, "bad", "log", logdir, sizeof logdir);
    log_segment *segs;
    size_t ns;
    assert_int_equal(log_list(logdir, &segs, &ns), 0);
    log_segment g = segs[ns / 3];
    assert_true(g.sealed);
    snprintf(path, sizeof path, "%s/%s", logdir, g.name);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, 200), 1);
    c ^= 0x5a;
    assert_int_equal(pwrite(fd, &c, 1, 200), 1);
    close(fd);
    char target[PATH_MAX];
    table_path(M.home, "never", NULL, target, sizeof target);
    restore_options o = RESTORE_OPTIONS_INIT;
    o.home = M.home;
    o.source = "bad";
    o.target = "never";
    int64_t e, l;
    window("bad", &e, &l);
    /* Through the corrupt segment, in either direction: the error names it. */
    pitr_dir dirs[3] = {PITR_AUTO, PITR_FORWARD, PITR_BACKWARD};
    for (int i = 0; i < 3; i++) {
        o.direction = dirs[i];
        o.time_us = (g.first_time + g.last_time) / 2;
        int rc = restore_run(&o, NULL);
        print_message("corrupt (%s): %d %s\n", pitr_dir_name(dirs[i]), rc, err_msg());
        assert_true(rc == TM_ECORRUPT);
        assert_non_null(strstr(err_msg(), g.name));
        assert_false(fsx_exists(target));
    }
    no_leftovers();
    free(segs);
    assert_int_equal(table_delete(M.home, "bad"), 0);
}

/* ---- damaged snapshots ---- */

static int warned;
static char warning[1200];

static void warn_fn(void *ctx, const char *line)
{
    (void)ctx;
    warned++;
    snprintf(warning, sizeof warning, "%s", line);
}

/* kind 0: one byte of an item in the middle of the file changed (the '#' of a "user#" key
 * text); 1: a page there overwritten with random bytes; 2: truncated to half. */
static void damage(const char *path, int kind, uint64_t bytes)
{
    off_t page = (off_t)(bytes / 4096 / 2) * 4096;
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    if (kind == 0) {
        static char b[65536];
        ssize_t n = pread(fd, b, sizeof b, page);
        assert_true(n > 0);
        const char *u = memmem(b, (size_t)n, "user#", 5);
        assert_non_null(u);
        assert_int_equal(pwrite(fd, "$", 1, page + (u - b) + 4), 1);
    } else if (kind == 1) {
        unsigned char b[4096];
        for (size_t i = 0; i < sizeof b; i++) b[i] = (unsigned char)rnd();
        assert_int_equal(pwrite(fd, b, sizeof b, page), (ssize_t)sizeof b);
    } else {
        assert_int_equal(ftruncate(fd, (off_t)bytes / 2), 0);
    }
    close(fd);
}

static void test_damaged_snapshot(void **state)
{
    (void)state;
    static const char *kinds[] = {"one byte", "a random page", "truncated"};
    int64_t e, l;
    window("hist", &e, &l);
    const int64_t T = e + 17 * DAY_US + 2 * HOUR_US;   /* forward from that day's snapshot */
    char name[32], target[32], tdir[PATH_MAX], path[PATH_MAX];
    for (int kind = 0; kind < 4; kind++) {
        snprintf(name, sizeof name, "dmg%d", kind);
        copy_table(name);
        table_path(M.home, name, NULL, tdir, sizeof tdir);
        pitr_plan *p;
        assert_int_equal(pitr_plan_table(M.home, name, T, PITR_AUTO, &p), 0);
        assert_int_equal(p->seed, PITR_SEED_SNAPSHOT);
        snap_info bad = p->snap;
        pitr_plan_free(p);
        snap_data_path(tdir, bad.name, path, sizeof path);
        damage(path, kind % 3, bad.bytes);
        pitr_opts po = PITR_OPTS_INIT;
        pitr_stats st;
        po.warn = warn_fn;
        warned = 0;
        snprintf(target, sizeof target, "dmgr%d", kind);
        if (kind == 3) {
            /* No plan left: forward only, and a segment between the older snapshot and the
             * damaged one gone. The refusal names the damaged file; nothing is created. */
            snap_info *snaps;
            log_segment *segs;
            size_t nn, ns, k = 0;
            assert_int_equal(snap_list(tdir, &snaps, &nn), 0);
            while (k < nn && strcmp(snaps[k].name, bad.name)) k++;
            assert_true(k > 0 && k < nn);
            uint64_t prev = snaps[k - 1].seq;
            free(snaps);
            char logdir[PATH_MAX], seg[PATH_MAX];
            table_path(M.home, name, "log", logdir, sizeof logdir);
            assert_int_equal(log_list(logdir, &segs, &ns), 0);
            /* Any segment holding a record in (prev, bad.seq] (how records fall into segments
             * depends on the run's timing): forward from prev needs it. */
            for (k = 0; k < ns && !(segs[k].last_seq > prev && segs[k].first_seq <= bad.seq); k++) {}
            int found = k + 1 < ns;
            if (found) snprintf(seg, sizeof seg, "%s/%s", logdir, segs[k].name);
            free(segs);
            assert_true(found);
            assert_int_equal(unlink(seg), 0);
            po.direction = PITR_FORWARD;
            int rc = pitr_materialize(M.home, name, T, target, &po, NULL, &st);
            print_message("no plan left: %s\n", err_msg());
            assert_int_equal(rc, TM_ECORRUPT);
            assert_non_null(strstr(err_msg(), path));
            assert_non_null(strstr(err_msg(), "no other plan is left"));
            assert_int_equal(warned, 1);
            table_path(M.home, target, NULL, path, sizeof path);
            assert_false(fsx_exists(path));
        } else {
            table_info ti;
            int rc = pitr_materialize(M.home, name, T, target, &po, &ti, &st);
            if (rc) fail_msg("%s: %s", kinds[kind], err_msg());
            print_message("%s: %s\n", kinds[kind], warning);
            assert_int_equal(warned, 1);
            assert_non_null(strstr(warning, path));
            assert_non_null(strstr(warning, bad.name));
            assert_int_equal(st.snaps_skipped, 1);
            assert_false(st.seed == PITR_SEED_SNAPSHOT && st.seed_seq == bad.seq);
            table *t;
            assert_int_equal(table_open(M.home, target, TABLE_RDONLY, &t), 0);
            compare(t, T, 0, kinds[kind]);
            table_close(t);
            M.compared++;
            assert_int_equal(table_delete(M.home, target), 0);
            /* Both forced directions: right too (the warning goes to stderr). */
            must_restore(name, T, PITR_FORWARD, "forward past a damaged snapshot");
            must_restore(name, T, PITR_BACKWARD, "backward past a damaged snapshot");
        }
        no_leftovers();
        assert_int_equal(table_delete(M.home, name), 0);
    }
}

/* ---- racing with a writer and retention in another process ---- */

static void race_child(int rfd, int64_t now)
{
    table *t;
    clock_set_us(now);
    if (table_open(M.home, "hist", 0, &t)) _exit(3);
    for (int k = 1;; k++) {
        struct pollfd pf = {rfd, POLLIN, 0};
        if (poll(&pf, 1, 0) > 0) break;      /* the parent closed the pipe: stop */
        char js[128];
        int n = snprintf(js, sizeof js, "{\"pk\":{\"S\":\"race#%06d\"},\"sk\":{\"N\":\"0\"},"
                         "\"v\":{\"N\":\"%d\"}}", k, k);
        item *it;
        if (item_parse_json(js, (size_t)n, 0, &it)) _exit(4);
        if (table_put(t, it, NULL, NULL, NULL)) _exit(5);
        item_free(it);
        if (k == 1 || k % 25 == 0) {
            int removed;
            if (table_retain(t, &removed)) _exit(6);
        }
        if (k % 400 == 0) {
            snap_info s;
            if (table_snapshot(t, &s)) _exit(7);
        }
    }
    table_close(t);
    _exit(0);
}

/* Race items in a restored table: they must be exactly race#1..m for some m. */
typedef struct race_scan { uint64_t n, max; } race_scan;

static int race_fn(void *ctx, const void *key, size_t kn, const void *img, size_t in)
{
    (void)key;
    (void)kn;
    race_scan *s = ctx;
    item *it;
    if (item_decode(img, in, &it)) return -1;
    const av *pk = item_get(it, "pk");
    if (pk && pk->len > 5 && !memcmp(pk->u.bytes, "race#", 5)) {
        uint64_t k = strtoull(pk->u.bytes + 5, NULL, 10);
        s->n++;
        if (k > s->max) s->max = k;
    }
    item_free(it);
    return 0;
}

static void test_race(void **state)
{
    (void)state;
    int64_t e, l;
    window("hist", &e, &l);
    const int64_t orig_latest = l;
    /* Both processes four days later (past a snapshot in either snapshot policy): retention
     * now removes what lies before the new window. */
    int64_t now = M.now + 4 * DAY_US;
    clock_set_us(now);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[1]);
        race_child(pfd[0], now);
    }
    close(pfd[0]);
    usleep(100000);
    int64_t lo = now - 35 * DAY_US + HOUR_US;
    for (int i = 0; i < (M.small ? 6 : 24); i++) {
        int64_t T = lo + (int64_t)rndn((uint64_t)(orig_latest - lo));
        if (i == 0) T = orig_latest;
        if (i == 1) T = orig_latest - HOUR_US;
        if (i == 2) T = lo;
        must_restore("hist", T, (pitr_dir)(i % 3), "racing with a writer");
        if (i % 4 == 3) {
            /* The latest state, while writes go on: the history plus a prefix of the race. */
            char name[32];
            snprintf(name, sizeof name, "race%02d", i);
            restore_options o = RESTORE_OPTIONS_INIT;
            o.home = M.home;
            o.source = "hist";
            o.target = name;
            o.time_us = PITR_LATEST;
            restore_result res;
            if (restore_run(&o, &res)) fail_msg("latest while racing: %s", err_msg());
            table *t;
            assert_int_equal(table_open(M.home, name, TABLE_RDONLY, &t), 0);
            table_read *r;
            race_scan rs = {0, 0};
            assert_int_equal(table_read_begin(t, &r), 0);
            assert_int_equal(table_read_scan(r, 0, UINT32_MAX, race_fn, &rs), 0);
            table_read_end(r);
            assert_int_equal(rs.n, rs.max);
            compare(t, orig_latest, rs.n, "latest while racing");
            print_message("latest while racing: %" PRIu64 " race writes included\n", rs.n);
            table_close(t);
            M.compared++;
            assert_int_equal(table_delete(M.home, name), 0);
        }
    }
    close(pfd[1]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* Retention really ran: the oldest snapshot (at the enable time) is gone. */
    char sdir[PATH_MAX];
    table_path(M.home, "hist", NULL, sdir, sizeof sdir);
    snap_info *snaps;
    size_t nn;
    assert_int_equal(snap_list(sdir, &snaps, &nn), 0);
    int retained = nn > 0 && snaps[0].time_us > T0;
    free(snaps);
    assert_true(retained);
    no_leftovers();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_sane),
        cmocka_unit_test(test_window_edges),
        cmocka_unit_test(test_random_points),
        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_plan_and_temp),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_missing_segment),
        cmocka_unit_test(test_corrupt_segment),
        cmocka_unit_test(test_damaged_snapshot),
        cmocka_unit_test(test_race),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
