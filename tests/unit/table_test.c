/* table_test.c: tables end to end against real LMDB and the real log: catalog, writes, batches,
 * conditional writes, consistent reads, snapshots, PITR window, retention and builders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engine/clock.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/key.h"
#include "engine/table.h"

#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char home[PATH_MAX];

/* Counts the log's durable commits (the Makefile links with --wrap=fdatasync). */
int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);
static long fdatasyncs;
int __wrap_fdatasync(int fd)
{
    __atomic_add_fetch(&fdatasyncs, 1, __ATOMIC_RELAXED);
    return __real_fdatasync(fd);
}

/* Fails the n-th mdb_put from now when fail_put_in is n (the Makefile links with --wrap=mdb_put). */
int __real_mdb_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data, unsigned flags);
int __wrap_mdb_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data, unsigned flags);
static int fail_put_in;
int __wrap_mdb_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data, unsigned flags)
{
    if (fail_put_in > 0 && --fail_put_in == 0) return MDB_PANIC;
    return __real_mdb_put(txn, dbi, key, data, flags);
}

/* Fails the next LMDB commit when fail_commit is set (--wrap=mdb_txn_commit). */
int __real_mdb_txn_commit(MDB_txn *txn);
int __wrap_mdb_txn_commit(MDB_txn *txn);
static int fail_commit;
int __wrap_mdb_txn_commit(MDB_txn *txn)
{
    if (fail_commit) {
        fail_commit = 0;
        mdb_txn_abort(txn);
        return EIO;
    }
    return __real_mdb_txn_commit(txn);
}

static int setup(void **state)
{
    (void)state;
    snprintf(home, sizeof home, "/tmp/tm-table-test-XXXXXX");
    assert_non_null(mkdtemp(home));
    clock_set_us(1762941600000000LL); /* 2025-11-12T10:00:00Z */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!getenv("KEEP")) fsx_rmtree(home);
    clock_set_us(0);
    return 0;
}

static item *parse(const char *json)
{
    item *it = NULL;
    int rc = item_parse_json(json, strlen(json), 0, &it);
    if (rc) fail_msg("parse %s: %s", json, err_msg());
    return it;
}

static key_schema schema(const char *pk, av_type pt, const char *sk, av_type st)
{
    key_schema ks;
    memset(&ks, 0, sizeof ks);
    snprintf(ks.hash_name, sizeof ks.hash_name, "%s", pk);
    ks.hash_type = pt;
    if (sk) {
        snprintf(ks.range_name, sizeof ks.range_name, "%s", sk);
        ks.range_type = st;
    }
    return ks;
}

static table *make_table(const char *name)
{
    key_schema ks = schema("pk", AV_S, "sk", AV_N);
    table *t = NULL;
    assert_int_equal(table_create(home, name, &ks, NULL, NULL), 0);
    assert_int_equal(table_open(home, name, 0, &t), 0);
    return t;
}

static void put(table *t, const char *json)
{
    item *it = parse(json);
    int rc = table_put(t, it, NULL, NULL, NULL);
    if (rc) fail_msg("put %s: %s", json, err_msg());
    item_free(it);
}

/* One batch of items {pk: prefix<i>, sk: i <extra>} for i in [from, to); extra is JSON members
 * after sk, starting with a comma (or ""). */
static void batch_fill(table *t, const char *prefix, int from, int to, const char *extra)
{
    char json[512];
    table_batch *b;
    assert_int_equal(table_batch_begin(t, &b), 0);
    for (int i = from; i < to; i++) {
        snprintf(json, sizeof json, "{\"pk\":{\"S\":\"%s%d\"},\"sk\":{\"N\":\"%d\"}%s}", prefix, i, i, extra);
        item *it = parse(json);
        assert_int_equal(table_batch_put(b, it), 0);
        item_free(it);
    }
    assert_int_equal(table_batch_commit(b), 0);
}

static char *get_json(table *t, const char *keyjson)
{
    item *k = parse(keyjson), *it = NULL;
    int rc = table_get(t, k, &it);
    item_free(k);
    if (rc == TM_ENOTFOUND) return NULL;
    assert_int_equal(rc, 0);
    buf b = BUF_INIT;
    assert_int_equal(item_write_json(it, &b), 0);
    item_free(it);
    return buf_detach(&b);
}

static void test_catalog(void **state)
{
    (void)state;
    key_schema ks = schema("id", AV_S, NULL, 0);
    table_info info;
    assert_int_equal(table_create(home, "Orders", &ks, NULL, &info), 0);
    assert_string_equal(info.name, "Orders");
    assert_int_equal(strlen(info.table_id), 36);
    assert_int_equal(table_create(home, "Orders", &ks, NULL, NULL), TM_EEXIST);
    assert_int_equal(table_create(home, "ab", &ks, NULL, NULL), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "3 to 255"));
    assert_int_equal(table_create(home, "bad name", &ks, NULL, NULL), TM_EINVAL);
    assert_int_equal(table_create(home, "Alpha", &ks, NULL, NULL), 0);
    char **names;
    size_t n;
    assert_int_equal(table_list(home, &names, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "Alpha");
    assert_string_equal(names[1], "Orders");
    table_names_free(names, n);
    assert_int_equal(table_delete(home, "Alpha"), 0);
    assert_int_equal(table_delete(home, "Alpha"), TM_ENOTFOUND);
    table *t;
    assert_int_equal(table_open(home, "Alpha", 0, &t), TM_ENOTFOUND);
}

static void test_put_get_delete_update(void **state)
{
    (void)state;
    table *t = make_table("Items1");
    put(t, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"v\":{\"S\":\"one\"}}");
    char *j = get_json(t, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1.0\"}}");
    assert_non_null(j);
    assert_non_null(strstr(j, "\"v\":{\"S\":\"one\"}"));
    free(j);
    /* overwrite: old image returned */
    item *it = parse("{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"v\":{\"S\":\"two\"}}"), *old = NULL;
    assert_int_equal(table_put(t, it, NULL, NULL, &old), 0);
    assert_non_null(old);
    assert_string_equal(item_get(old, "v")->u.bytes, "one");
    item_free(old);
    item_free(it);
    /* missing key attribute */
    it = parse("{\"pk\":{\"S\":\"a\"}}");
    assert_int_equal(table_put(t, it, NULL, NULL, NULL), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "sk"));
    item_free(it);
    table_info info;
    assert_int_equal(table_describe(t, &info), 0);
    assert_int_equal(info.item_count, 1);
    assert_int_equal(info.applied_seq, 2);
    assert_true(info.size_bytes > 0);
    /* delete, then delete again is a no-op that writes nothing */
    item *k = parse("{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}");
    assert_int_equal(table_delete_item(t, k, NULL, NULL, NULL), 0);
    assert_int_equal(table_delete_item(t, k, NULL, NULL, NULL), 0);
    assert_int_equal(table_describe(t, &info), 0);
    assert_int_equal(info.item_count, 0);
    assert_int_equal(info.applied_seq, 3);
    assert_int_equal(info.size_bytes, 0);
    item_free(k);
    assert_null(get_json(t, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}"));
    table_close(t);
}

static int must_not_exist(void *ctx, const item *old)
{
    (void)ctx;
    return old ? err_set(TM_ECONDITION, "The conditional request failed") : 0;
}

static int set_v(void *ctx, item *it)
{
    av v = {.type = AV_S, .len = (uint32_t)strlen(ctx), .u.bytes = ctx};
    return item_put(it, "v", &v);
}

static void test_conditions_and_update(void **state)
{
    (void)state;
    table *t = make_table("Items2");
    item *it = parse("{\"pk\":{\"S\":\"x\"},\"sk\":{\"N\":\"-5\"}}");
    assert_int_equal(table_put(t, it, must_not_exist, NULL, NULL), 0);
    assert_int_equal(table_put(t, it, must_not_exist, NULL, NULL), TM_ECONDITION);
    item *nw = NULL;
    assert_int_equal(table_update(t, it, set_v, NULL, "hello", &nw), 0);
    assert_string_equal(item_get(nw, "v")->u.bytes, "hello");
    item_free(nw);
    /* update of an absent item creates it from its key */
    item *k2 = parse("{\"pk\":{\"S\":\"y\"},\"sk\":{\"N\":\"7\"}}");
    assert_int_equal(table_update(t, k2, set_v, NULL, "new", NULL), 0);
    char *j = get_json(t, "{\"pk\":{\"S\":\"y\"},\"sk\":{\"N\":\"7\"}}");
    assert_non_null(strstr(j, "\"v\":{\"S\":\"new\"}"));
    free(j);
    table_info info;
    assert_int_equal(table_describe(t, &info), 0);
    assert_int_equal(info.applied_seq, 3); /* the refused put wrote nothing */
    item_free(it);
    item_free(k2);
    table_close(t);
}

typedef struct scan_ctx { int n; uint32_t last_hash; int ordered; } scan_ctx;

static int count_fn(void *ctx, const void *key, size_t kn, const void *img, size_t in)
{
    scan_ctx *c = ctx;
    (void)kn; (void)img; (void)in;
    uint32_t h = key_hash_of(key);
    if (c->n && h < c->last_hash) c->ordered = 0;
    c->last_hash = h;
    c->n++;
    return 0;
}

static void test_batch_read_snapshot(void **state)
{
    (void)state;
    table *t = make_table("Items3");
    table_batch *b;
    char json[256];
    assert_int_equal(table_batch_begin(t, &b), 0);
    for (int i = 0; i < 1000; i++) {
        snprintf(json, sizeof json, "{\"pk\":{\"S\":\"u%d\"},\"sk\":{\"N\":\"%d\"},\"n\":{\"N\":\"%d\"}}", i % 37, i, i);
        item *it = parse(json);
        assert_int_equal(table_batch_put(b, it), 0);
        item_free(it);
    }
    assert_int_equal(table_batch_commit(b), 0);
    /* a read snapshot does not see later writes */
    table_read *r;
    assert_int_equal(table_read_begin(t, &r), 0);
    assert_int_equal(table_read_seq(r), 1000);
    put(t, "{\"pk\":{\"S\":\"late\"},\"sk\":{\"N\":\"1\"}}");
    scan_ctx c = {0, 0, 1};
    assert_int_equal(table_read_scan(r, 0, UINT32_MAX, count_fn, &c), 0);
    assert_int_equal(c.n, 1000);
    assert_true(c.ordered);
    /* hash segments partition the table */
    int total = 0;
    for (uint64_t s = 0; s < 4; s++) {
        scan_ctx cs = {0, 0, 1};
        uint32_t lo = (uint32_t)(s << 30), hi = (uint32_t)(((s + 1) << 30) - 1);
        assert_int_equal(table_read_scan(r, lo, hi, count_fn, &cs), 0);
        total += cs.n;
    }
    assert_int_equal(total, 1000);
    table_read_end(r);
    /* an aborted batch leaves nothing */
    assert_int_equal(table_batch_begin(t, &b), 0);
    item *it = parse("{\"pk\":{\"S\":\"gone\"},\"sk\":{\"N\":\"1\"}}");
    assert_int_equal(table_batch_put(b, it), 0);
    item_free(it);
    table_batch_abort(b);
    assert_null(get_json(t, "{\"pk\":{\"S\":\"gone\"},\"sk\":{\"N\":\"1\"}}"));
    /* snapshot reflects one position, and a builder seeded from it holds the same items */
    snap_info s;
    assert_int_equal(table_snapshot(t, &s), 0);
    assert_int_equal(s.seq, 1001);
    assert_int_equal(s.item_count, 1001);
    snap_info *list;
    size_t n;
    assert_int_equal(snap_list(table_dir(t), &list, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].seq, 1001);
    char path[PATH_MAX];
    snap_data_path(table_dir(t), list[0].name, path, sizeof path);
    free(list);
    table_builder *tb;
    key_schema ks = schema("pk", AV_S, "sk", AV_N);
    assert_int_equal(table_builder_open(home, "Copy3", &ks, &tb), 0);
    uint64_t seq;
    assert_int_equal(table_builder_seed_file(tb, path, &s, &seq), 0);
    assert_int_equal(seq, 1001);
    table_info ci;
    assert_int_equal(table_builder_commit(tb, &ci), 0);
    assert_int_equal(ci.item_count, 1001);
    table *t2;
    assert_int_equal(table_open(home, "Copy3", 0, &t2), 0);
    assert_int_equal(table_describe(t2, &ci), 0);
    assert_int_equal(ci.applied_seq, 0);
    assert_int_equal(ci.pitr_enabled, 0);
    char *j = get_json(t2, "{\"pk\":{\"S\":\"late\"},\"sk\":{\"N\":\"1\"}}");
    assert_non_null(j);
    free(j);
    /* the copy takes writes on its own new log */
    put(t2, "{\"pk\":{\"S\":\"c\"},\"sk\":{\"N\":\"1\"}}");
    assert_int_equal(table_describe(t2, &ci), 0);
    assert_int_equal(ci.applied_seq, 1);
    assert_int_equal(ci.item_count, 1002);
    table_close(t2);
    table_close(t);
}

static void test_builder(void **state)
{
    (void)state;
    key_schema ks = schema("pk", AV_S, NULL, 0);
    table_builder *b;
    assert_int_equal(table_builder_open(home, "Built", &ks, &b), 0);
    item *x = parse("{\"pk\":{\"S\":\"k1\"},\"v\":{\"N\":\"1\"}}");
    item *y = parse("{\"pk\":{\"S\":\"k1\"},\"v\":{\"N\":\"2\"}}");
    assert_int_equal(table_builder_put(b, x), 0);
    assert_int_equal(table_builder_put(b, y), 0); /* later wins */
    /* not visible before commit */
    table *t;
    assert_int_equal(table_open(home, "Built", 0, &t), TM_ENOTFOUND);
    table_info info;
    assert_int_equal(table_builder_commit(b, &info), 0);
    assert_int_equal(info.item_count, 1);
    assert_int_equal(table_open(home, "Built", 0, &t), 0);
    char *j = get_json(t, "{\"pk\":{\"S\":\"k1\"}}");
    assert_non_null(strstr(j, "\"N\":\"2\""));
    free(j);
    table_close(t);
    /* an existing name is refused up front; an aborted builder leaves nothing */
    assert_int_equal(table_builder_open(home, "Built", &ks, &b), TM_EEXIST);
    assert_int_equal(table_builder_open(home, "Aborted", &ks, &b), 0);
    assert_int_equal(table_builder_put(b, x), 0);
    table_builder_abort(b);
    char **names;
    size_t n;
    assert_int_equal(table_list(home, &names, &n), 0);
    for (size_t i = 0; i < n; i++) assert_string_not_equal(names[i], "Aborted");
    table_names_free(names, n);
    item_free(x);
    item_free(y);
    /* a killed builder's staging dir is swept; a live process's is left alone */
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    waitpid(dead, NULL, 0);
    char stale[PATH_MAX], live[PATH_MAX];
    snprintf(stale, sizeof stale, "%s/tables/.build-%d-1-1", home, (int)dead);
    snprintf(live, sizeof live, "%s/tables/.build-%d-1-1", home, (int)getppid());
    assert_int_equal(fsx_mkdirs(stale, 0755), 0);
    assert_int_equal(fsx_mkdirs(live, 0755), 0);
    assert_int_equal(table_list(home, &names, &n), 0);
    table_names_free(names, n);
    assert_false(fsx_exists(stale));
    assert_true(fsx_exists(live));
}

static void test_pitr_window(void **state)
{
    (void)state;
    table *t = make_table("Pitr1");
    int64_t e, l, t0 = clock_now_us();
    assert_int_equal(table_pitr_window(t, &e, &l), TM_ENOTFOUND);
    assert_int_equal(table_set_pitr(t, 1, 0), 0);
    assert_int_equal(table_set_pitr(t, 1, 36), TM_EINVAL);
    assert_int_equal(table_set_pitr(t, 1, 0 - 1), TM_EINVAL);
    assert_int_equal(table_pitr_window(t, &e, &l), 0);
    assert_int_equal(e, t0);
    clock_set_us(t0 + 3600 * CLOCK_US_PER_SEC);
    put(t, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}");
    assert_int_equal(table_pitr_window(t, &e, &l), 0);
    assert_int_equal(e, t0);
    assert_int_equal(l, t0 + 3600 * CLOCK_US_PER_SEC);
    /* past the period the earliest moves with the clock */
    clock_set_us(t0 + 40LL * 86400 * CLOCK_US_PER_SEC);
    assert_int_equal(table_pitr_window(t, &e, &l), 0);
    assert_int_equal(e, t0 + 5LL * 86400 * CLOCK_US_PER_SEC);
    /* disable + enable resets the earliest time */
    assert_int_equal(table_set_pitr(t, 0, 0), 0);
    assert_int_equal(table_set_pitr(t, 1, 7), 0);
    assert_int_equal(table_pitr_window(t, &e, &l), 0);
    assert_int_equal(e, t0 + 40LL * 86400 * CLOCK_US_PER_SEC);
    table_info info;
    assert_int_equal(table_describe(t, &info), 0);
    assert_int_equal(info.pitr_period_days, 7);
    table_close(t);
}

static void test_times_strictly_increase(void **state)
{
    (void)state;
    table *t = make_table("Times1");
    put(t, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}");
    put(t, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"2\"}}");
    clock_set_us(clock_now_us() - 1000000); /* the clock steps back: clamped */
    put(t, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"3\"}}");
    log_reader *r;
    log_record rec;
    int64_t prev = 0;
    int n = 0;
    assert_int_equal(log_reader_open(table_log_dir(t), 1, UINT64_MAX, LOG_FORWARD, &r), 0);
    while (log_reader_next(r, &rec) == 1) {
        assert_true(rec.time_us > prev);
        prev = rec.time_us;
        n++;
    }
    log_reader_close(r);
    assert_int_equal(n, 3);
    table_close(t);
}

static void test_retention_without_pitr(void **state)
{
    (void)state;
    setenv("TIDEMARK_SEGMENT_BYTES", "4096", 1);
    table *t = make_table("Retain1");
    unsetenv("TIDEMARK_SEGMENT_BYTES");
    char json[256];
    for (int round = 0; round < 20; round++) {
        table_batch *b;
        assert_int_equal(table_batch_begin(t, &b), 0);
        for (int i = 0; i < 50; i++) {
            snprintf(json, sizeof json, "{\"pk\":{\"S\":\"r%d\"},\"sk\":{\"N\":\"%d\"},\"pad\":{\"S\":\"%0100d\"}}", round, i, i);
            item *it = parse(json);
            assert_int_equal(table_batch_put(b, it), 0);
            item_free(it);
        }
        assert_int_equal(table_batch_commit(b), 0);
    }
    /* With PITR off, sealed segments are dropped once LMDB holds them. */
    log_segment *segs;
    size_t n;
    assert_int_equal(log_list(table_log_dir(t), &segs, &n), 0);
    assert_true(n >= 1);
    for (size_t i = 0; i + 1 < n; i++) assert_false(segs[i].sealed);
    assert_true(segs[0].first_seq > 900); /* everything older is gone */
    free(segs);
    table_info info;
    assert_int_equal(table_describe(t, &info), 0);
    assert_int_equal(info.item_count, 1000);
    table_close(t);
    /* reopening continues the sequence */
    assert_int_equal(table_open(home, "Retain1", 0, &t), 0);
    put(t, "{\"pk\":{\"S\":\"z\"},\"sk\":{\"N\":\"1\"}}");
    assert_int_equal(table_describe(t, &info), 0);
    assert_int_equal(info.applied_seq, 1001);
    table_close(t);
}

/* A bulk handle acknowledges batches before LMDB has them: a process killed then must lose
 * none of them (the next writer open replays the log) and apply no part of an unacknowledged one. */
static void test_bulk_crash_replays(void **state)
{
    (void)state;
    key_schema ks = schema("pk", AV_S, "sk", AV_N);
    assert_int_equal(table_create(home, "Bulk1", &ks, NULL, NULL), 0);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        table *t;
        char json[128];
        close(fds[0]);
        if (table_open(home, "Bulk1", TABLE_BULK, &t)) _exit(2);
        for (int bno = 0; bno < 7; bno++) {
            table_batch *b;
            if (table_batch_begin(t, &b)) _exit(3);
            for (int i = 0; i < 100; i++) {
                snprintf(json, sizeof json, "{\"pk\":{\"S\":\"b%d\"},\"sk\":{\"N\":\"%d\"}}", bno, i);
                item *it = NULL;
                if (item_parse_json(json, strlen(json), 0, &it) || table_batch_put(b, it)) _exit(4);
                item_free(it);
            }
            if (bno == 6) _exit(0); /* killed mid-batch: never acknowledged */
            if (table_batch_commit(b)) _exit(5);
            if (write(fds[1], "a", 1) != 1) _exit(6); /* acknowledged */
        }
        _exit(7);
    }
    close(fds[1]);
    char acks[16];
    ssize_t n = read(fds[0], acks, sizeof acks), m;
    while (n >= 0 && (m = read(fds[0], acks + n, sizeof acks - (size_t)n)) > 0) n += m;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(n, 6);
    /* LMDB had no commit (all within TABLE_BULK_OPS/MS), the log has six durable batches */
    table *t;
    assert_int_equal(table_open(home, "Bulk1", 0, &t), 0);
    assert_int_equal(table_last_recovery(t)->replayed, 600);
    table_info info;
    assert_int_equal(table_describe(t, &info), 0);
    assert_int_equal(info.item_count, 600);
    assert_int_equal(info.applied_seq, 600);
    assert_null(get_json(t, "{\"pk\":{\"S\":\"b6\"},\"sk\":{\"N\":\"0\"}}"));
    char *j = get_json(t, "{\"pk\":{\"S\":\"b5\"},\"sk\":{\"N\":\"99\"}}");
    assert_non_null(j);
    free(j);
    table_close(t);
}

typedef struct gc_arg { table *t; int id; int errors; } gc_arg;

static void *gc_writer(void *p)
{
    gc_arg *a = p;
    char json[128];
    for (int i = 0; i < 100; i++) {
        item *it = NULL;
        snprintf(json, sizeof json, "{\"pk\":{\"S\":\"w%d\"},\"sk\":{\"N\":\"%d\"}}", a->id, i);
        if (item_parse_json(json, strlen(json), 0, &it) || table_put(a->t, it, NULL, NULL, NULL)) a->errors++;
        item_free(it);
    }
    return NULL;
}

/* Eight threads putting at once through one handle share commits: fewer fsyncs than writes,
 * every write present, sequence numbers dense. */
static void test_group_commit(void **state)
{
    (void)state;
    table *t = make_table("Group1");
    pthread_t th[8];
    gc_arg args[8];
    long before = fdatasyncs;
    for (int i = 0; i < 8; i++) {
        args[i] = (gc_arg){t, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, gc_writer, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].errors, 0);
    }
    long syncs = fdatasyncs - before;
    table_info info;
    assert_int_equal(table_describe(t, &info), 0);
    assert_int_equal(info.item_count, 800);
    assert_int_equal(info.applied_seq, 800);
    uint64_t commits = table_group_commits(t);
    print_message("group commit: 800 writes from 8 threads in %llu commits, %ld log fdatasyncs\n",
                  (unsigned long long)commits, syncs);
    assert_true(commits < 800);
    assert_true(syncs < 800);
    /* a refused condition in a group fails alone */
    item *it = parse("{\"pk\":{\"S\":\"w0\"},\"sk\":{\"N\":\"0\"}}");
    assert_int_equal(table_put(t, it, must_not_exist, NULL, NULL), TM_ECONDITION);
    assert_non_null(strstr(err_msg(), "conditional"));
    item_free(it);
    table_close(t);
}

typedef struct sh_arg { table *t; int id; int errors, unseen; } sh_arg;

/* A writer thread of a shared handle: each put is read back at once through the same handle. */
static void *sh_writer(void *p)
{
    sh_arg *a = p;
    char json[128], key[128];
    for (int i = 0; i < 100; i++) {
        item *it = NULL;
        snprintf(json, sizeof json, "{\"pk\":{\"S\":\"s%d\"},\"sk\":{\"N\":\"%d\"},\"v\":{\"N\":\"1\"}}", a->id, i);
        snprintf(key, sizeof key, "{\"pk\":{\"S\":\"s%d\"},\"sk\":{\"N\":\"%d\"}}", a->id, i);
        if (item_parse_json(json, strlen(json), 0, &it) || table_put(a->t, it, NULL, NULL, NULL)) a->errors++;
        item_free(it);
        item *k = NULL, *got = NULL;
        if (item_parse_json(key, strlen(key), 0, &k) || table_get(a->t, k, &got)) a->unseen++;
        item_free(k);
        item_free(got);
    }
    return NULL;
}

/* TABLE_SHARED: the writer thread keeps acknowledged groups in an open LMDB txn, yet a read
 * through the handle, a batch, a settings change, another handle's open and a failed group
 * never miss an acknowledged write. */
static void test_shared_writer(void **state)
{
    (void)state;
    key_schema ks = schema("pk", AV_S, "sk", AV_N);
    table *t = NULL, *r = NULL;
    assert_int_equal(table_create(home, "Shared1", &ks, NULL, NULL), 0);
    assert_int_equal(table_open(home, "Shared1", TABLE_SHARED, &t), 0);
    pthread_t th[8];
    sh_arg args[8];
    long before = fdatasyncs;
    for (int i = 0; i < 8; i++) {
        args[i] = (sh_arg){t, i, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, sh_writer, &args[i]), 0);
    }
    /* batches and a settings change meanwhile: they pause the writer thread */
    for (int i = 0; i < 5; i++) {
        table_batch *b;
        char json[128];
        assert_int_equal(table_batch_begin(t, &b), 0);
        snprintf(json, sizeof json, "{\"pk\":{\"S\":\"batch\"},\"sk\":{\"N\":\"%d\"}}", i);
        item *it = parse(json);
        assert_int_equal(table_batch_put(b, it), 0);
        assert_int_equal(table_batch_commit(b), 0);
        item_free(it);
        if (i == 2) assert_int_equal(table_set_snapshot_policy(t, 3600, 0), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].errors, 0);
        assert_int_equal(args[i].unseen, 0);
    }
    table_info info;
    assert_int_equal(table_describe(t, &info), 0);
    assert_int_equal(info.item_count, 805);
    assert_int_equal(info.applied_seq, 805);
    assert_true(table_group_commits(t) < 800);
    assert_true(fdatasyncs - before < 805);
    /* another handle (another process's reader) opened while the writer holds an acknowledged
     * write in its txn finds it: it waits for the writer's LMDB commit */
    put(t, "{\"pk\":{\"S\":\"late\"},\"sk\":{\"N\":\"1\"}}");
    assert_int_equal(table_open(home, "Shared1", TABLE_RDONLY, &r), 0);
    char *j = get_json(r, "{\"pk\":{\"S\":\"late\"},\"sk\":{\"N\":\"1\"}}");
    assert_non_null(j);
    free(j);
    table_close(r);
    /* a group that fails in LMDB after earlier groups were acknowledged in the same txn: those
     * are replayed from the log, and the failed one is nowhere */
    put(t, "{\"pk\":{\"S\":\"acked\"},\"sk\":{\"N\":\"1\"}}");
    item *bad = parse("{\"pk\":{\"S\":\"failed\"},\"sk\":{\"N\":\"1\"}}");
    fail_put_in = 1;
    assert_true(table_put(t, bad, NULL, NULL, NULL) != 0);
    fail_put_in = 0;
    item_free(bad);
    j = get_json(t, "{\"pk\":{\"S\":\"acked\"},\"sk\":{\"N\":\"1\"}}");
    assert_non_null(j);
    free(j);
    assert_null(get_json(t, "{\"pk\":{\"S\":\"failed\"},\"sk\":{\"N\":\"1\"}}"));
    put(t, "{\"pk\":{\"S\":\"after\"},\"sk\":{\"N\":\"1\"}}");
    /* a batch joins the writer's groups: one group, no txn of its own */
    uint64_t groups = table_group_commits(t);
    table_batch *jb;
    assert_int_equal(table_batch_begin(t, &jb), 0);
    item *j1 = parse("{\"pk\":{\"S\":\"joined\"},\"sk\":{\"N\":\"1\"}}");
    item *j2 = parse("{\"pk\":{\"S\":\"joined\"},\"sk\":{\"N\":\"2\"}}");
    assert_int_equal(table_batch_put(jb, j1), 0);
    assert_int_equal(table_batch_put(jb, j2), 0);
    assert_int_equal(table_batch_commit(jb), 0);
    assert_int_equal(table_group_commits(t), groups + 1);
    j = get_json(t, "{\"pk\":{\"S\":\"joined\"},\"sk\":{\"N\":\"2\"}}");
    assert_non_null(j);
    free(j);
    assert_int_equal(table_batch_begin(t, &jb), 0);
    assert_int_equal(table_batch_delete(jb, j1), 0);
    assert_int_equal(table_batch_commit(jb), 0);
    assert_null(get_json(t, "{\"pk\":{\"S\":\"joined\"},\"sk\":{\"N\":\"1\"}}"));
    item_free(j1);
    item_free(j2);
    table_close(t);
    assert_int_equal(table_open(home, "Shared1", 0, &t), 0);
    assert_int_equal(table_describe(t, &info), 0);
    assert_int_equal(info.item_count, 809);
    assert_int_equal(info.applied_seq, 811);
    table_close(t);
}

typedef struct rd_arg { table *t; const char *key; int found; } rd_arg;

static void *sh_reader(void *p)
{
    rd_arg *a = p;
    char *j = get_json(a->t, a->key);
    a->found = j != NULL;
    free(j);
    return NULL;
}

/* A shared handle's read waits for another writer's acknowledged batch (a bulk writer holds it
 * between its joined LMDB commits) instead of missing it: LOGEND tells it the log is ahead. */
static void test_shared_sees_other_writer(void **state)
{
    (void)state;
    key_schema ks = schema("pk", AV_S, "sk", AV_N);
    table *s = NULL, *b = NULL;
    assert_int_equal(table_create(home, "Shared2", &ks, NULL, NULL), 0);
    assert_int_equal(table_open(home, "Shared2", TABLE_SHARED, &s), 0);
    put(s, "{\"pk\":{\"S\":\"mine\"},\"sk\":{\"N\":\"1\"}}");
    assert_int_equal(table_open(home, "Shared2", TABLE_BULK, &b), 0);
    table_batch *bt;
    assert_int_equal(table_batch_begin(b, &bt), 0);
    item *it = parse("{\"pk\":{\"S\":\"bulk\"},\"sk\":{\"N\":\"1\"}}");
    assert_int_equal(table_batch_put(bt, it), 0);
    item_free(it);
    assert_int_equal(table_batch_commit(bt), 0);   /* acknowledged: in the log, not in LMDB */
    rd_arg a = {s, "{\"pk\":{\"S\":\"bulk\"},\"sk\":{\"N\":\"1\"}}", -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, sh_reader, &a), 0);
    usleep(100000);
    assert_int_equal(a.found, -1);                 /* still waiting for the bulk writer's commit */
    assert_int_equal(table_flush(b), 0);
    pthread_join(th, NULL);
    assert_int_equal(a.found, 1);
    table_close(b);
    char *j = get_json(s, "{\"pk\":{\"S\":\"mine\"},\"sk\":{\"N\":\"1\"}}");
    assert_non_null(j);
    free(j);
    table_close(s);
    /* a damaged hint (a huge seq, then a file cut to 3 bytes) is no data: reads answer, and a
     * recovery puts the log's seq back */
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/tables/Shared2/logend", home);
    assert_int_equal(fsx_write_atomic(path, "\xff\xff\xff\xff\xff\xff\xff\x7f", 8), 0);
    assert_int_equal(table_open(home, "Shared2", TABLE_SHARED, &s), 0);
    j = get_json(s, "{\"pk\":{\"S\":\"bulk\"},\"sk\":{\"N\":\"1\"}}");
    assert_non_null(j);
    free(j);
    table_close(s);
    buf hint = BUF_INIT;
    assert_int_equal(fsx_read_file(path, 64, &hint), 0);
    assert_int_equal(hint.len, 8);
    assert_true(((unsigned char *)hint.data)[7] == 0);   /* 2 now, not 2^63-1 */
    assert_true(((unsigned char *)hint.data)[0] == 2);
    buf_free(&hint);
    assert_int_equal(fsx_write_atomic(path, "abc", 3), 0);
    assert_int_equal(table_open(home, "Shared2", TABLE_SHARED, &s), 0);
    put(s, "{\"pk\":{\"S\":\"after\"},\"sk\":{\"N\":\"1\"}}");
    j = get_json(s, "{\"pk\":{\"S\":\"after\"},\"sk\":{\"N\":\"1\"}}");
    assert_non_null(j);
    free(j);
    table_close(s);
}

/* Leaf pages of the items db of the LMDB environment in dir (read-only, no lock). */
static size_t leaf_pages(const char *dir, size_t *entries)
{
    MDB_env *e;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st;
    assert_int_equal(mdb_env_create(&e), 0);
    mdb_env_set_maxdbs(e, 4);
    mdb_env_set_mapsize(e, (size_t)1 << 30);
    assert_int_equal(mdb_env_open(e, dir, MDB_RDONLY | MDB_NOLOCK, 0644), 0);
    assert_int_equal(mdb_txn_begin(e, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "items", 0, &dbi), 0);
    assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    mdb_txn_abort(txn);
    mdb_env_close(e);
    *entries = st.ms_entries;
    return st.ms_leaf_pages;
}

/* Snapshots are dense: the same items in fewer leaf pages than the live tree, which random
 * inserts leave partly empty. */
static void test_snapshot_dense(void **state)
{
    (void)state;
    table *t = make_table("Dense");
    char json[512], pad[201];
    memset(pad, 'x', 200);
    pad[200] = '\0';
    snprintf(json, sizeof json, ",\"p\":{\"S\":\"%s\"}", pad);
    for (int k = 0; k < 4; k++) batch_fill(t, "u", k * 5000, (k + 1) * 5000, json);
    snap_info s;
    assert_int_equal(table_snapshot(t, &s), 0);
    assert_int_equal(s.item_count, 20000);
    char live[PATH_MAX], snap[PATH_MAX];
    snprintf(live, sizeof live, "%s/items", table_dir(t));
    snprintf(snap, sizeof snap, "%s/snapshots/%s", table_dir(t), s.name);
    table_close(t); /* the live environment is read below through a second LMDB handle */
    size_t ln, sn;
    size_t lp = leaf_pages(live, &ln), sp = leaf_pages(snap, &sn);
    assert_int_equal(ln, 20000);
    assert_int_equal(sn, 20000);
    /* about 15 of these entries fit a 4 KiB page: a dense copy needs ~1,350 leaves */
    if (sp * 10 > lp * 8) fail_msg("snapshot has %zu leaf pages, live %zu: not dense", sp, lp);
    assert_true(sp < 20000 / 13);
}

/* A seeded builder writes its changes in place (WRITEMAP, warmed in a thread) across several of
 * its commits (more than BUILDER_TXN_OPS changes), trims the file to its used pages, and keeps
 * TableSizeBytes exact; an aborted one (thread still running) leaves nothing. */
static void test_builder_seeded_changes(void **state)
{
    (void)state;
    table *t = make_table("SeedSrc");
    char json[256];
    batch_fill(t, "s", 0, 3000, ",\"v\":{\"S\":\"seed\"}");
    snap_info s;
    assert_int_equal(table_snapshot(t, &s), 0);
    table_info si;
    assert_int_equal(table_describe(t, &si), 0);
    char path[PATH_MAX];
    snap_data_path(table_dir(t), s.name, path, sizeof path);
    table_close(t);

    key_schema ks = schema("pk", AV_S, "sk", AV_N);
    table_builder *tb;
    uint64_t seq, bytes = si.size_bytes;
    assert_int_equal(table_builder_open(home, "SeedDst", &ks, &tb), 0);
    table_builder_expect_changes(tb, 46000);
    assert_int_equal(table_builder_seed_file(tb, path, &s, &seq), 0);
    /* seed keys 0..999 updated, 1000..1499 deleted, 45,000 new keys */
    for (int i = 0; i < 1500; i++) {
        snprintf(json, sizeof json, "{\"pk\":{\"S\":\"s%d\"},\"sk\":{\"N\":\"%d\"},\"v\":{\"S\":\"seed\"}}", i, i);
        item *old = parse(json);
        bytes -= item_size(old);
        if (i < 1000) {
            snprintf(json, sizeof json, "{\"pk\":{\"S\":\"s%d\"},\"sk\":{\"N\":\"%d\"},\"v\":{\"S\":\"changed!\"}}", i, i);
            item *it = parse(json);
            bytes += item_size(it);
            assert_int_equal(table_builder_put(tb, it), 0);
            item_free(it);
        } else {
            buf k = BUF_INIT;
            assert_int_equal(key_encode_item(&ks, old, &k), 0);
            assert_int_equal(table_builder_delete_bin(tb, k.data, k.len), 0);
            buf_free(&k);
        }
        item_free(old);
    }
    for (int i = 0; i < 45000; i++) {
        snprintf(json, sizeof json, "{\"pk\":{\"S\":\"n%d\"},\"sk\":{\"N\":\"%d\"}}", i, i);
        item *it = parse(json);
        bytes += item_size(it);
        assert_int_equal(table_builder_put(tb, it), 0);
        item_free(it);
    }
    assert_int_equal(table_builder_set_settings(tb, LOG_SYNC_FULL, -1, 0), TM_EINVAL);
    assert_int_equal(table_builder_set_settings(tb, LOG_SYNC_NONE, 3600, 500), 0);
    table_info ci;
    assert_int_equal(table_builder_commit(tb, &ci), 0);
    assert_int_equal(ci.item_count, 3000 - 500 + 45000);
    assert_int_equal(ci.durability, LOG_SYNC_NONE);
    assert_int_equal(ci.size_bytes, bytes);
    /* cut to its used pages: not the length of its map (at least 256 MiB) */
    struct stat st;
    snprintf(path, sizeof path, "%s/tables/SeedDst/items/data.mdb", home);
    assert_int_equal(stat(path, &st), 0);
    if (st.st_size > (off_t)32 << 20 || st.st_size % 4096) fail_msg("data.mdb is %lld bytes", (long long)st.st_size);
    assert_int_equal(table_open(home, "SeedDst", 0, &t), 0);
    char *j = get_json(t, "{\"pk\":{\"S\":\"s7\"},\"sk\":{\"N\":\"7\"}}");
    assert_non_null(j);
    assert_non_null(strstr(j, "changed!"));
    free(j);
    assert_null(get_json(t, "{\"pk\":{\"S\":\"s1200\"},\"sk\":{\"N\":\"1200\"}}"));
    j = get_json(t, "{\"pk\":{\"S\":\"s2999\"},\"sk\":{\"N\":\"2999\"}}");
    assert_non_null(j);
    assert_non_null(strstr(j, "seed"));
    free(j);
    j = get_json(t, "{\"pk\":{\"S\":\"n44999\"},\"sk\":{\"N\":\"44999\"}}");
    assert_non_null(j);
    free(j);
    assert_int_equal(table_describe(t, &ci), 0);
    assert_int_equal(ci.item_count, 47500);
    assert_int_equal(ci.size_bytes, bytes);
    assert_int_equal(ci.durability, LOG_SYNC_NONE);             /* settings came with the table */
    assert_int_equal(ci.snapshot_every_s, 3600);
    assert_int_equal(ci.snapshot_every_writes, 500);
    put(t, "{\"pk\":{\"S\":\"after\"},\"sk\":{\"N\":\"1\"}}"); /* writable as a live table */
    table_close(t);

    /* aborted while its warming thread may still run: nothing is left */
    char src[PATH_MAX];
    snprintf(src, sizeof src, "%s/tables/SeedSrc", home);
    snap_data_path(src, s.name, path, sizeof path);
    assert_int_equal(table_builder_open(home, "SeedAbort", &ks, &tb), 0);
    char staged[PATH_MAX];
    snprintf(staged, sizeof staged, "%s", table_builder_dir(tb));
    table_builder_expect_changes(tb, 20000);
    assert_int_equal(table_builder_seed_file(tb, path, &s, &seq), 0);
    item *it = parse("{\"pk\":{\"S\":\"x\"},\"sk\":{\"N\":\"1\"}}");
    assert_int_equal(table_builder_put(tb, it), 0);
    item_free(it);
    table_builder_abort(tb);
    assert_false(fsx_exists(staged));
    assert_int_equal(table_open(home, "SeedAbort", 0, &t), TM_ENOTFOUND);
}

/* Snapshots carry their data.mdb's size and XXH3_64; a seed is verified while it is copied: one
 * changed byte, a truncated file, no checksum at all are refused (TM_ECORRUPT naming the file)
 * before anything is mapped; snap_verify_all finds the same; a snapshot taken again at the same
 * position replaces a damaged one. */
typedef struct verify_count { int ok, unverifiable, damaged; } verify_count;

static void verify_fn(void *ctx, const snap_info *s, int rc)
{
    verify_count *c = ctx;
    (void)s;
    if (rc == 0) c->ok++;
    else if (rc == 1) c->unverifiable++;
    else c->damaged++;
}

static int seed_once(const char *path, const snap_info *s)
{
    key_schema ks = schema("pk", AV_S, "sk", AV_N);
    table_builder *tb;
    uint64_t seq;
    assert_int_equal(table_builder_open(home, NULL, &ks, &tb), 0);
    int rc = table_builder_seed_file(tb, path, s, &seq);
    table_builder_abort(tb);
    return rc;
}

static void flip(const char *path, off_t off)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseeko(f, off, SEEK_SET), 0);
    int c = fgetc(f);
    assert_int_equal(fseeko(f, off, SEEK_SET), 0);
    fputc(c ^ 0x20, f);
    fclose(f);
}

static void test_snapshot_checksum(void **state)
{
    (void)state;
    table *t = make_table("Sums");
    batch_fill(t, "c", 0, 3000, ",\"v\":{\"S\":\"checksummed\"}");
    snap_info s, *list;
    size_t n;
    struct stat st;
    char path[PATH_MAX];
    assert_int_equal(table_snapshot(t, &s), 0);
    assert_int_equal(s.version, 2);
    snap_data_path(table_dir(t), s.name, path, sizeof path);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(s.bytes, (uint64_t)st.st_size);
    assert_int_equal(snap_list(table_dir(t), &list, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].sum, s.sum);
    assert_int_equal(list[0].bytes, s.bytes);
    assert_true(snap_verifiable(&list[0]));
    free(list);
    assert_int_equal(seed_once(path, &s), 0);
    verify_count vc = {0, 0, 0};
    assert_int_equal(snap_verify_all(table_dir(t), verify_fn, &vc), 0);
    assert_int_equal(vc.ok, 1);

    /* one byte: found by the hash, named */
    flip(path, (off_t)s.bytes / 2);
    assert_int_equal(seed_once(path, &s), TM_ECORRUPT);
    assert_non_null(strstr(err_msg(), path));
    assert_non_null(strstr(err_msg(), "checksum mismatch"));
    memset(&vc, 0, sizeof vc);
    assert_int_equal(snap_verify_all(table_dir(t), verify_fn, &vc), 0);
    assert_int_equal(vc.damaged, 1);
    flip(path, (off_t)s.bytes / 2);
    assert_int_equal(seed_once(path, &s), 0);

    /* truncated: refused by its size, before a byte is copied */
    assert_int_equal(truncate(path, 8192), 0);
    assert_int_equal(seed_once(path, &s), TM_ECORRUPT);
    assert_non_null(strstr(err_msg(), "8192 bytes, snap.json says"));

    /* taken again at the same position: the damaged one is replaced */
    snap_info s2;
    assert_int_equal(table_snapshot(t, &s2), 0);
    assert_string_equal(s2.name, s.name);
    assert_int_equal(s2.sum, s.sum);          /* the same bytes as before the damage */
    assert_int_equal(seed_once(path, &s2), 0);

    /* no checksum (format 1): never trusted */
    snap_info old = s2;
    old.version = 1;
    assert_int_equal(seed_once(path, &old), TM_ECORRUPT);
    assert_non_null(strstr(err_msg(), "without a checksum"));
    char json[PATH_MAX];
    snprintf(json, sizeof json, "%s/snapshots/%s/snap.json", table_dir(t), s.name);
    const char *v1 = "{\"Seq\":3000,\"Time\":1,\"ItemCount\":3000,\"Bytes\":8192}";
    assert_int_equal(fsx_write_atomic(json, v1, strlen(v1)), 0);
    assert_int_equal(snap_list(table_dir(t), &list, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].version, 1);
    assert_false(snap_verifiable(&list[0]));
    free(list);
    memset(&vc, 0, sizeof vc);
    assert_int_equal(snap_verify_all(table_dir(t), verify_fn, &vc), 0);
    assert_int_equal(vc.unverifiable, 1);
    /* a version 2 snap.json whose checksum is not 16 hex digits is damaged, not unverifiable */
    const char *bad = "{\"Version\":2,\"Seq\":3000,\"Time\":1,\"ItemCount\":3000,\"Bytes\":8192,\"Xxh3\":\"12zz\"}";
    assert_int_equal(fsx_write_atomic(json, bad, strlen(bad)), 0);
    memset(&vc, 0, sizeof vc);
    assert_int_equal(snap_verify_all(table_dir(t), verify_fn, &vc), 0);
    assert_int_equal(vc.damaged, 1);
    assert_int_equal(table_snapshot(t, &s2), 0);
    assert_int_equal(s2.version, 2);
    memset(&vc, 0, sizeof vc);
    assert_int_equal(snap_verify_all(table_dir(t), verify_fn, &vc), 0);
    assert_int_equal(vc.ok, 1);
    table_close(t);
}

/* The last used page and the page size of an LMDB file, from its newer meta page (the layout
 * env_check_file reads: page size at byte 40, last page at 136, txnid at 144 of each meta). */
static void lmdb_used(const char *path, uint64_t *used, uint64_t *psize)
{
    unsigned char m[2][152];
    uint32_t ps;
    uint64_t last[2], txn[2];
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(m[0], 1, 152, f), 152);
    memcpy(&ps, m[0] + 40, 4);
    assert_int_equal(fseek(f, ps, SEEK_SET), 0);
    assert_int_equal(fread(m[1], 1, 152, f), 152);
    fclose(f);
    for (int i = 0; i < 2; i++) {
        memcpy(&last[i], m[i] + 136, 8);
        memcpy(&txn[i], m[i] + 144, 8);
    }
    *used = (last[txn[1] > txn[0]] + 1) * ps;
    *psize = ps;
}

/* Writes through the shared map land on blocks reserved ahead (a full disk is ENOSPC at the
 * reservation, never a SIGBUS in the map): past LMDB's last used page the file holds real
 * blocks, at least the pages a put and a commit may add. Without it the file is sparse there. */
static void test_items_reserved_ahead(void **state)
{
    (void)state;
    table *t = make_table("Reserve");
    for (int k = 0; k < 4; k++) batch_fill(t, "r", k * 2000, (k + 1) * 2000, ",\"p\":{\"S\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/items/data.mdb", table_dir(t));
    uint64_t used, ps;
    struct stat st;
    lmdb_used(path, &used, &ps);
    assert_int_equal(stat(path, &st), 0);
    if ((uint64_t)st.st_blocks * 512 < used + 16 * ps)
        fail_msg("%s: %llu bytes of blocks for %llu used bytes: nothing reserved ahead", path,
                 (unsigned long long)st.st_blocks * 512, (unsigned long long)used);
    table_close(t);
}

/* A missing or truncated items file is refused at open, naming it; nothing creates it anew or
 * extends it (a WRITEMAP open would have filled the cut with zero pages). */
static void test_items_file_refused(void **state)
{
    (void)state;
    table *t = make_table("Cut");
    batch_fill(t, "c", 0, 3000, "");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/items/data.mdb", table_dir(t));
    table_close(t);
    assert_int_equal(truncate(path, 65536), 0);
    unsigned modes[] = {TABLE_RDONLY, 0};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(table_open(home, "Cut", modes[i], &t), TM_ECORRUPT);
        assert_null(t);
        assert_non_null(strstr(err_msg(), path));
        assert_non_null(strstr(err_msg(), "truncated: 65536 bytes, needs at least"));
    }
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 65536);
    assert_int_equal(unlink(path), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(table_open(home, "Cut", modes[i], &t), TM_ECORRUPT);
        assert_non_null(strstr(err_msg(), "missing"));
        assert_non_null(strstr(err_msg(), path));
    }
    assert_int_equal(stat(path, &st), -1);
}

typedef struct problems {
    int n;
    char keys[4][128], what[4][160];
} problems;

static void note_problem(void *ctx, const char *key, const char *what)
{
    problems *p = ctx;
    if (p->n < 4) {
        snprintf(p->keys[p->n], sizeof p->keys[0], "%s", key);
        snprintf(p->what[p->n], sizeof p->what[0], "%s", what);
    }
    p->n++;
}

/* table_verify_items compares two tables item by item: a value that differs, an item only in
 * one of them; and with no reference it still checks counts and each item's own bytes. */
static void test_verify_items(void **state)
{
    (void)state;
    table *a = make_table("VerA"), *b = make_table("VerB");
    batch_fill(a, "v", 0, 500, ",\"x\":{\"S\":\"same\"}");
    batch_fill(b, "v", 0, 500, ",\"x\":{\"S\":\"same\"}");
    table_verify_stats st;
    problems p = {0};
    assert_int_equal(table_verify_items(a, b, note_problem, &p, &st), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(st.items, 500);
    assert_int_equal(st.compared, 500);
    put(a, "{\"pk\":{\"S\":\"v7\"},\"sk\":{\"N\":\"7\"},\"x\":{\"S\":\"sama\"}}");   /* same length */
    put(b, "{\"pk\":{\"S\":\"only-b\"},\"sk\":{\"N\":\"1\"}}");
    assert_int_equal(table_verify_items(a, b, note_problem, &p, &st), 0);
    assert_int_equal(p.n, 2);
    assert_int_equal(st.problems, 2);
    int diff = 0, missing = 0;
    for (int i = 0; i < 2; i++) {
        if (strstr(p.keys[i], "\"v7\"") && strstr(p.what[i], "differs")) diff++;
        if (strstr(p.keys[i], "\"only-b\"") && strstr(p.what[i], "missing")) missing++;
    }
    assert_int_equal(diff, 1);
    assert_int_equal(missing, 1);
    p.n = 0;
    assert_int_equal(table_verify_items(a, NULL, note_problem, &p, &st), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(st.items, 500);
    table_close(a);
    table_close(b);
}

/* A write that fails after its log record was buffered fails its whole batch: the log must not
 * hold (and a later writer replay) a write the caller was told failed. */
static void test_failed_put_fails_batch(void **state)
{
    (void)state;
    table *t = make_table("PutFail");
    put(t, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}");
    table_batch *b;
    assert_int_equal(table_batch_begin(t, &b), 0);
    item *x = parse("{\"pk\":{\"S\":\"b\"},\"sk\":{\"N\":\"1\"}}");
    item *y = parse("{\"pk\":{\"S\":\"c\"},\"sk\":{\"N\":\"1\"}}");
    assert_int_equal(table_batch_put(b, x), 0);
    fail_put_in = 1;
    assert_true(table_batch_put(b, y) != 0);
    fail_put_in = 0;
    assert_true(table_batch_commit(b) != 0);
    item_free(x);
    item_free(y);
    table_close(t);
    /* A fresh open (recovery replays whatever the log holds past the items) sees only "a". */
    assert_int_equal(table_open(home, "PutFail", 0, &t), 0);
    table_info i;
    assert_int_equal(table_describe(t, &i), 0);
    assert_int_equal(i.item_count, 1);
    assert_int_equal(i.applied_seq, 1);
    assert_int_equal(table_last_recovery(t)->replayed, 0);
    put(t, "{\"pk\":{\"S\":\"d\"},\"sk\":{\"N\":\"1\"}}");
    assert_int_equal(table_describe(t, &i), 0);
    assert_int_equal(i.item_count, 2);
    assert_int_equal(i.applied_seq, 2);
    table_close(t);
}

/* A write whose log record is durable is acknowledged: when the LMDB commit after it fails, the
 * write still succeeds (the next open applies it) and table_deferred_error says what failed. A
 * caller told "failed" must never find its write afterwards. */
static void test_failed_apply_stands(void **state)
{
    (void)state;
    table *t = make_table("ApplyFail");
    put(t, "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}");
    assert_null(table_deferred_error(t));
    fail_commit = 1;
    put(t, "{\"pk\":{\"S\":\"b\"},\"sk\":{\"N\":\"1\"}}");   /* fails the test unless rc 0 */
    assert_non_null(table_deferred_error(t));
    table_close(t);
    assert_int_equal(table_open(home, "ApplyFail", TABLE_RDONLY, &t), 0);  /* a reader catches up */
    char *j = get_json(t, "{\"pk\":{\"S\":\"b\"},\"sk\":{\"N\":\"1\"}}");
    assert_non_null(j);
    free(j);
    table_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_catalog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_get_delete_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conditions_and_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_read_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_builder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pitr_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_times_strictly_increase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_without_pitr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bulk_crash_replays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_sees_other_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_dense, setup, teardown),
        cmocka_unit_test_setup_teardown(test_builder_seeded_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_checksum, setup, teardown),
        cmocka_unit_test_setup_teardown(test_items_reserved_ahead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_items_file_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_items, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_put_fails_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_apply_stands, setup, teardown),
    };
    return cmocka_run_group_tests_name("table", tests, NULL, NULL);
}
