/* log_test.c: unit tests of the change log (engine/log.c): append/commit/read in both directions
 * across many segments, time lookup, reopen and two writers taking turns, torn tails at every
 * offset, damage in sealed and active segments, gaps, recompression, crash points of sealing, and
 * write/fsync/rename/unlink failures injected with --wrap.
 *
 * Environment: LOG_TEST_FILTER=<glob> runs only matching tests; LOG_BENCH=1 instead times 1M
 * appends and reads; LOG_WRITE_SEEDS=<dir> writes fuzz seeds and LOG_WRITE_FIXTURES=<dir> the
 * tests/data/log fixtures (both then exit). */
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testutil.h"
#include <xxhash.h>

/* ==== fault injection ========================================================================= */

/* Fail the Nth call from now (1 = the next one); 0 = never. Counters count every call. */
static int fail_write_at, fail_fdatasync_at, fail_rename_at, fail_unlink_at, write_fail_next;
static long n_fdatasync;
/* Crash simulation: kill the process at the Nth write/fsync/fdatasync/rename/unlink (a write
 * first writes half). fake_sync: syncs do nothing (a killed process's page cache survives). */
static int crash_at, fake_sync;

ssize_t __real_write(int fd, const void *p, size_t n);
int __real_fdatasync(int fd);
int __real_fsync(int fd);
int __real_rename(const char *a, const char *b);
int __real_unlink(const char *p);
ssize_t __wrap_write(int fd, const void *p, size_t n);
int __wrap_fdatasync(int fd);
int __wrap_fsync(int fd);
int __wrap_rename(const char *a, const char *b);
int __wrap_unlink(const char *p);

static int trip(int *at)
{
    if (*at > 0 && --*at == 0) return 1;
    return 0;
}

ssize_t __wrap_write(int fd, const void *p, size_t n)
{
    if (trip(&crash_at)) {
        __real_write(fd, p, n / 2);
        raise(SIGKILL);
    }
    if (write_fail_next || trip(&fail_write_at)) {
        /* A short write first, as a full disk does, then the error. */
        if (!write_fail_next && n > 10) {
            write_fail_next = 1;
            return __real_write(fd, p, n / 2);
        }
        write_fail_next = 0;
        errno = ENOSPC;
        return -1;
    }
    return __real_write(fd, p, n);
}

int __wrap_fdatasync(int fd)
{
    n_fdatasync++;
    if (trip(&crash_at)) raise(SIGKILL);
    if (trip(&fail_fdatasync_at)) {
        errno = EIO;
        return -1;
    }
    return fake_sync ? 0 : __real_fdatasync(fd);
}

int __wrap_fsync(int fd)
{
    if (trip(&crash_at)) raise(SIGKILL);
    return fake_sync ? 0 : __real_fsync(fd);
}

int __wrap_rename(const char *a, const char *b)
{
    if (trip(&crash_at)) raise(SIGKILL);
    if (trip(&fail_rename_at)) {
        errno = EIO;
        return -1;
    }
    return __real_rename(a, b);
}

int __wrap_unlink(const char *p)
{
    if (trip(&crash_at)) raise(SIGKILL);
    if (trip(&fail_unlink_at)) {
        errno = EIO;
        return -1;
    }
    return __real_unlink(p);
}

static void faults_off(void)
{
    fail_write_at = fail_fdatasync_at = fail_rename_at = fail_unlink_at = write_fail_next = 0;
}

/* ==== records and helpers ===================================================================== */

#define T0 1700000000000000LL

static int64_t time_of(uint64_t seq) { return T0 + (int64_t)(seq / 3) * 1000; } /* 3 per ms */

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

typedef struct genrec {
    log_record r;
    char key[32];
    unsigned char old_img[400], new_img[400];
} genrec;

/* The record with seq `seq`: deterministic, so a read can be checked without keeping them. */
static void gen(uint64_t seq, genrec *g, uint32_t img_max)
{
    uint64_t h = mix(seq);
    memset(&g->r, 0, sizeof g->r);
    g->r.seq = seq;
    g->r.time_us = time_of(seq);
    g->r.op = (uint8_t)(1 + h % 3);
    g->r.key_len = (uint32_t)snprintf(g->key, sizeof g->key, "key-%llu", (unsigned long long)seq);
    g->r.key = g->key;
    g->r.old_len = g->r.op == LOG_OP_PUT ? 0 : (uint32_t)(1 + (h >> 8) % img_max);
    g->r.new_len = g->r.op == LOG_OP_DELETE ? 0 : (uint32_t)(1 + (h >> 24) % img_max);
    for (uint32_t i = 0; i < g->r.old_len; i++) g->old_img[i] = (unsigned char)(seq * 31 + i * 7);
    for (uint32_t i = 0; i < g->r.new_len; i++) g->new_img[i] = (unsigned char)(seq * 17 + i * 3);
    g->r.old_img = g->r.old_len ? g->old_img : NULL;
    g->r.new_img = g->r.new_len ? g->new_img : NULL;
}

static void check_rec(const log_record *r, uint64_t seq)
{
    genrec g;
    gen(seq, &g, 300);
    assert_int_equal(r->seq, seq);
    assert_int_equal(r->time_us, g.r.time_us);
    assert_int_equal(r->op, g.r.op);
    assert_int_equal(r->key_len, g.r.key_len);
    assert_memory_equal(r->key, g.r.key, g.r.key_len);
    assert_int_equal(r->old_len, g.r.old_len);
    assert_int_equal(r->new_len, g.r.new_len);
    if (g.r.old_len) assert_memory_equal(r->old_img, g.r.old_img, g.r.old_len);
    else assert_null(r->old_img);
    if (g.r.new_len) assert_memory_equal(r->new_img, g.r.new_img, g.r.new_len);
    else assert_null(r->new_img);
}

static int has_str(const char *s, const char *sub) { return strstr(s, sub) != NULL; }

static char *tmpdir(void)
{
    char *d = strdup("/tmp/tm-log-test-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void rmdir_free(char *d)
{
    fsx_rmtree(d);
    free(d);
}

static log_options opts(uint64_t seg, log_sync_mode sync, log_codec codec)
{
    log_options o = LOG_OPTIONS_INIT;
    o.segment_bytes = seg;
    o.sync = sync;
    o.seal_codec = codec;
    return o;
}

#define CHECK(expr)                                                                   \
    do {                                                                              \
        int rc_ = (expr);                                                             \
        if (rc_) fail_msg("%s: %s (%s)", #expr, err_name(rc_), err_msg());            \
    } while (0)

/* Appends seqs last+1 .. upto in commits of `batch`. */
static void append_upto(log *l, uint64_t upto, uint64_t batch)
{
    genrec g;
    uint64_t seq = log_last_seq(l) + 1, k = 0;
    for (; seq <= upto; seq++) {
        gen(seq, &g, 300);
        CHECK(log_append(l, &g.r));
        if (++k % batch == 0) CHECK(log_commit(l));
    }
    CHECK(log_commit(l));
}

static void write_log(const char *dir, const log_options *o, uint64_t n, uint64_t batch)
{
    log *l;
    CHECK(log_open(dir, o, &l));
    CHECK(log_begin(l, NULL));
    append_upto(l, n, batch);
    log_close(l);
}

/* Reads [from, to] in a direction, checking every record; returns the count or an error code. */
static long long read_range(const char *dir, uint64_t from, uint64_t to, int direction)
{
    log_reader *r;
    log_record rec;
    int rc = log_reader_open(dir, from, to, direction, &r);
    if (rc) return rc;
    long long n = 0;
    uint64_t expect = direction == LOG_FORWARD ? (from ? from : 1) : to;
    int first = 1;
    while ((rc = log_reader_next(r, &rec)) == 1) {
        if (first && direction == LOG_BACKWARD && to == UINT64_MAX) expect = rec.seq;
        first = 0;
        check_rec(&rec, expect);
        expect = direction == LOG_FORWARD ? expect + 1 : expect - 1;
        n++;
    }
    log_reader_close(r);
    return rc < 0 ? rc : n;
}

static size_t list_names(const char *dir, const char *ext, char names[][64], size_t max)
{
    log_segment *s;
    size_t n, k = 0;
    CHECK(log_list(dir, &s, &n));
    for (size_t i = 0; i < n && k < max; i++)
        if (!ext || strstr(s[i].name, ext)) snprintf(names[k++], 64, "%s", s[i].name);
    free(s);
    return k;
}

static void path_of(char *out, const char *dir, const char *name)
{
    snprintf(out, PATH_MAX, "%s/%s", dir, name);
}

static long long file_size(const char *dir, const char *name)
{
    char p[PATH_MAX];
    struct stat st;
    path_of(p, dir, name);
    return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

static void flip_byte(const char *dir, const char *name, long long off)
{
    char p[PATH_MAX];
    unsigned char c;
    path_of(p, dir, name);
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= 0x5a;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

static void truncate_to(const char *dir, const char *name, long long size)
{
    char p[PATH_MAX];
    path_of(p, dir, name);
    assert_int_equal(truncate(p, size), 0);
}

static const char *active_name(const char *dir, char *out)
{
    log_segment *s;
    size_t n;
    out[0] = '\0';
    CHECK(log_list(dir, &s, &n));
    if (n && !s[n - 1].sealed) snprintf(out, 64, "%s", s[n - 1].name);
    free(s);
    return out;
}

/* ==== append and read ========================================================================= */

typedef struct range_case {
    uint64_t from, to;
    long long want;   /* records, or a negative code */
} range_case;

static void test_forward_backward(void **state)
{
    (void)state;
    static const struct {
        log_codec codec;
        uint64_t seg, batch;
    } logs[] = {{LOG_CODEC_LZ4, 4096, 7}, {LOG_CODEC_ZSTD, 20000, 100}, {LOG_CODEC_LZ4, 1, 25}};
    const uint64_t N = 2000;
    static const range_case ranges[] = {
        {1, UINT64_MAX, 2000}, {0, UINT64_MAX, 2000}, {1, 2000, 2000}, {500, 1500, 1001},
        {1999, UINT64_MAX, 2}, {2000, 2000, 1}, {2001, UINT64_MAX, 0}, {7, 6, 0},
        {1, 2001, TM_EMISSING}, {2500, 2600, TM_EMISSING},
    };
    for (size_t li = 0; li < sizeof logs / sizeof logs[0]; li++) {
        char *d = tmpdir();
        log_options o = opts(logs[li].seg, LOG_SYNC_NONE, logs[li].codec);
        write_log(d, &o, N, logs[li].batch);
        log_segment *s;
        size_t n;
        CHECK(log_list(d, &s, &n));
        assert_true(n > 3);
        uint64_t expect = 1;
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(s[i].first_seq, expect);
            assert_true(s[i].last_seq >= s[i].first_seq);
            assert_int_equal(s[i].first_time, time_of(s[i].first_seq));
            assert_int_equal(s[i].last_time, time_of(s[i].last_seq));
            assert_int_equal(s[i].sealed, i + 1 < n || s[i].codec != LOG_CODEC_RAW);
            if (s[i].sealed) assert_int_equal(s[i].codec, logs[li].codec);
            expect = s[i].last_seq + 1;
        }
        assert_int_equal(expect, N + 1);
        free(s);
        for (size_t ri = 0; ri < sizeof ranges / sizeof ranges[0]; ri++) {
            const range_case *c = &ranges[ri];
            long long f = read_range(d, c->from, c->to, LOG_FORWARD);
            long long b = read_range(d, c->from, c->to, LOG_BACKWARD);
            if (f != c->want || b != c->want)
                fail_msg("log %zu range %llu..%llu: forward %lld backward %lld, want %lld (%s)",
                         li, (unsigned long long)c->from, (unsigned long long)c->to, f, b,
                         c->want, err_msg());
        }
        uint64_t count = 0;
        CHECK(log_verify(d, NULL, NULL, &count));
        assert_int_equal(count, N);
        rmdir_free(d);
    }
}

static void test_empty_log(void **state)
{
    (void)state;
    char *d = tmpdir();
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_FORWARD), 0);
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_BACKWARD), 0);
    assert_int_equal(read_range(d, 1, 5, LOG_FORWARD), TM_EMISSING);
    log *l;
    log_options o = opts(4096, LOG_SYNC_FULL, LOG_CODEC_LZ4);
    CHECK(log_open(d, &o, &l));
    CHECK(log_begin(l, NULL));
    assert_int_equal(log_last_seq(l), 0);
    assert_int_equal(log_last_time(l), 0);
    CHECK(log_commit(l)); /* nothing buffered: nothing written */
    log_close(l);
    uint64_t seq = 99;
    CHECK(log_seq_at_time(d, T0, &seq));
    assert_int_equal(seq, 0);
    log_segment *s;
    size_t n;
    CHECK(log_list(d, &s, &n));
    assert_int_equal(n, 0);
    free(s);
    rmdir_free(d);
}

static void test_append_rules(void **state)
{
    (void)state;
    char *d = tmpdir();
    log *l;
    genrec g;
    log_options o = opts(4096, LOG_SYNC_NONE, LOG_CODEC_LZ4);
    CHECK(log_open(d, &o, &l));
    gen(1, &g, 300);
    assert_int_equal(log_append(l, &g.r), TM_EINVAL); /* before log_begin */
    CHECK(log_begin(l, NULL));
    gen(2, &g, 300);
    assert_int_equal(log_append(l, &g.r), TM_EINVAL); /* seq must be 1 */
    gen(1, &g, 300);
    CHECK(log_append(l, &g.r));
    assert_int_equal(log_last_seq(l), 1);
    gen(2, &g, 300);
    g.r.time_us = time_of(1) - 1;
    assert_int_equal(log_append(l, &g.r), TM_EINVAL); /* time goes back */
    gen(2, &g, 300);
    g.r.op = 9;
    assert_int_equal(log_append(l, &g.r), TM_EINVAL);
    gen(2, &g, 300);
    g.r.key_len = 0;
    assert_int_equal(log_append(l, &g.r), TM_EINVAL);
    gen(2, &g, 300);
    g.r.new_len = (16u << 20) + 1;
    assert_int_equal(log_append(l, &g.r), TM_ELIMIT);
    /* Abort forgets the batch: seq 1 is free again. */
    log_abort(l);
    assert_int_equal(log_last_seq(l), 0);
    append_upto(l, 10, 3);
    assert_int_equal(log_last_seq(l), 10);
    assert_int_equal(log_last_time(l), time_of(10));
    log_close(l);
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_FORWARD), 10);
    assert_int_equal(log_open(d, &(log_options){LOG_SYNC_FULL, 1ull << 40, LOG_CODEC_LZ4}, &l),
                     TM_EINVAL);
    assert_int_equal(log_open(d, &(log_options){LOG_SYNC_FULL, 4096, LOG_CODEC_RAW}, &l),
                     TM_EINVAL);
    rmdir_free(d);
}

/* A batch bigger than the in-memory buffer goes to the file early, and abort takes it back. */
static void test_big_batch(void **state)
{
    (void)state;
    char *d = tmpdir();
    log *l;
    genrec g;
    log_options o = opts(64 << 20, LOG_SYNC_FULL, LOG_CODEC_LZ4);
    CHECK(log_open(d, &o, &l));
    CHECK(log_begin(l, NULL));
    append_upto(l, 5, 5);
    char act[64];
    long long before = file_size(d, active_name(d, act));
    for (uint64_t s = 6; s <= 40000; s++) { /* ~8 MB */
        gen(s, &g, 300);
        CHECK(log_append(l, &g.r));
    }
    assert_true(file_size(d, act) > before); /* written early, not yet committed */
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_FORWARD), 5); /* readers do not see it */
    log_abort(l);
    assert_int_equal(file_size(d, act), before);
    assert_int_equal(log_last_seq(l), 5);
    append_upto(l, 40000, 40000);
    log_close(l);
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_FORWARD), 40000);
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_BACKWARD), 40000);
    rmdir_free(d);
}

/* ==== time lookup ============================================================================= */

static void test_seq_at_time(void **state)
{
    (void)state;
    static const uint64_t segs[] = {2048, 1};
    const uint64_t N = 900;
    for (size_t si = 0; si < 2; si++) {
        char *d = tmpdir();
        log_options o = opts(segs[si], LOG_SYNC_NONE, LOG_CODEC_LZ4);
        write_log(d, &o, N, 15);
        /* Every ms boundary and its neighbours, plus before and after the log. */
        for (int64_t t = time_of(1) - 2000; t <= time_of(N) + 2000; t += 500) {
            for (int64_t dt = -1; dt <= 1; dt++) {
                uint64_t want = 0, got = 77;
                for (uint64_t s = 1; s <= N; s++)
                    if (time_of(s) <= t + dt) want = s;
                CHECK(log_seq_at_time(d, t + dt, &got));
                if (got != want)
                    fail_msg("seg %llu t %lld: got %llu want %llu",
                             (unsigned long long)segs[si], (long long)(t + dt - T0),
                             (unsigned long long)got, (unsigned long long)want);
            }
        }
        rmdir_free(d);
    }
}

/* log_seq_at_time hands its decompressed segment to the next reader of that segment: what that
 * reader yields must be exactly the records (every one checked), at every start in the log. */
static void test_seq_at_time_then_read(void **state)
{
    (void)state;
    const uint64_t N = 600;
    char *d = tmpdir();
    log_options o = opts(2048, LOG_SYNC_NONE, LOG_CODEC_LZ4);
    write_log(d, &o, N, 10);
    for (int64_t t = time_of(1); t <= time_of(N); t += 700) {
        uint64_t seq = 0;
        CHECK(log_seq_at_time(d, t, &seq));
        long long n = read_range(d, seq + 1, N, LOG_FORWARD);
        if (n != (long long)(N - seq))
            fail_msg("from seq %llu: read %lld records, want %llu", (unsigned long long)seq + 1, n,
                     (unsigned long long)(N - seq));
    }
    /* a recompressed segment under a new name is not confused with the donated one */
    char names[64][64];
    size_t k = list_names(d, ".lz4", names, 64);
    assert_true(k >= 2);
    uint64_t seq = 0;
    CHECK(log_seq_at_time(d, time_of(N / 2), &seq));
    for (size_t i = 0; i < k; i++) CHECK(log_recompress(d, names[i], LOG_CODEC_ZSTD));
    assert_int_equal(read_range(d, seq + 1, N, LOG_FORWARD), (long long)(N - seq));
    rmdir_free(d);
}

/* ==== reopen and two writers ================================================================== */

static void test_reopen_and_turns(void **state)
{
    (void)state;
    /* Small segments: turns seal and start segments; big ones: a handle finds records another
     * appended to the segment it already knows (its catch-up path). */
    static const uint64_t segs[] = {3000, 1 << 20};
    for (size_t si = 0; si < 2; si++) {
        char *d = tmpdir();
        log_options o = opts(segs[si], LOG_SYNC_NONE, LOG_CODEC_LZ4);
        write_log(d, &o, 100, 10);
        log *a, *b;
        CHECK(log_open(d, &o, &a));
        CHECK(log_begin(a, NULL));
        assert_int_equal(log_last_seq(a), 100);
        assert_int_equal(log_last_time(a), time_of(100));
        CHECK(log_open(d, &o, &b));
        /* Two handles take turns, as two processes would under the table's lock. */
        for (int turn = 0; turn < 40; turn++) {
            log *w = turn % 2 ? b : a;
            log_recovery rec;
            CHECK(log_begin(w, &rec));
            assert_int_equal(rec.truncated, 0);
            uint64_t want = 100 + (uint64_t)turn * 37;
            assert_int_equal(log_last_seq(w), want);
            assert_int_equal(log_last_time(w), time_of(want));
            append_upto(w, want + 37, 1 + (uint64_t)turn % 5);
        }
        /* A torn tail left by one is cut by the other's begin. */
        char act[64];
        active_name(d, act);
        if (segs[si] == 1 << 20) {
            assert_true(act[0] != '\0');
            genrec g;
            CHECK(log_begin(a, NULL));
            for (uint64_t q = 1581; q <= 1583; q++) {
                gen(q, &g, 300);
                CHECK(log_append(a, &g.r));
            }
            long long before = file_size(d, act);
            CHECK(log_commit(a));
            truncate_to(d, act, file_size(d, act) - 1);
            log_recovery rec;
            CHECK(log_begin(b, &rec));
            assert_int_equal(rec.truncated, 1);
            assert_int_equal(rec.offset, before);
            assert_int_equal(log_last_seq(b), 1580);
            CHECK(log_begin(a, NULL));
            assert_int_equal(log_last_seq(a), 1580);
        }
        log_close(a);
        log_close(b);
        uint64_t n = 0;
        CHECK(log_verify(d, NULL, NULL, &n));
        assert_int_equal(n, 100 + 40 * 37);
        assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_FORWARD), 100 + 40 * 37);
        assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_BACKWARD), 100 + 40 * 37);
        rmdir_free(d);
    }
}

/* A reader open while the writer appends (and, with small segments, seals) keeps going. */
static void test_reader_during_writes(void **state)
{
    (void)state;
    static const uint64_t segs[] = {2500, 1 << 20};
    for (size_t si = 0; si < 2; si++) {
        char *d = tmpdir();
        log_options o = opts(segs[si], LOG_SYNC_NONE, LOG_CODEC_LZ4);
        log *l;
        CHECK(log_open(d, &o, &l));
        CHECK(log_begin(l, NULL));
        append_upto(l, 20, 20);
        log_reader *r;
        log_record rec;
        CHECK(log_reader_open(d, 1, 400, LOG_FORWARD, &r));
        uint64_t seq = 1;
        while (seq <= 400) {
            int rc = log_reader_next(r, &rec);
            if (rc != 1) fail_msg("seq %llu: rc %d: %s", (unsigned long long)seq, rc, err_msg());
            check_rec(&rec, seq);
            if (seq == log_last_seq(l) && seq < 400) append_upto(l, seq + 30, 7);
            seq++;
        }
        assert_int_equal(log_reader_next(r, &rec), 0);
        log_reader_close(r);
        log_close(l);
        rmdir_free(d);
    }
}

/* Two writer processes take turns under a file lock (standing in for LMDB's write lock) while
 * this process follows the log with readers: seqs stay continuous and every record reads back. */
static int child_writer(const char *dir, const char *lockpath, uint64_t target, int id)
{
    log_options o = opts(6000, LOG_SYNC_NONE, LOG_CODEC_LZ4);
    log *l;
    genrec g;
    if (log_open(dir, &o, &l)) return 1;
    int lk = open(lockpath, O_RDWR | O_CREAT, 0644);
    if (lk < 0) return 2;
    for (;;) {
        if (flock(lk, LOCK_EX)) return 3;
        if (log_begin(l, NULL)) {
            fprintf(stderr, "child %d: begin: %s\n", id, err_msg());
            return 4;
        }
        uint64_t last = log_last_seq(l);
        if (last >= target) break;
        uint64_t n = 1 + (last + (uint64_t)id) % 13;
        for (uint64_t s = last + 1; s <= last + n && s <= target; s++) {
            gen(s, &g, 300);
            if (log_append(l, &g.r)) return 5;
        }
        if (log_commit(l)) return 6;
        flock(lk, LOCK_UN);
        if (id) usleep(50); /* let the other one in now and then */
    }
    flock(lk, LOCK_UN);
    log_close(l);
    return 0;
}

static void test_processes(void **state)
{
    (void)state;
    char *d = tmpdir();
    char lockpath[PATH_MAX];
    const uint64_t target = 3000;
    snprintf(lockpath, sizeof lockpath, "%s.lock", d);
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0) { /* the child frees what it inherited: valgrind follows it */
            char dir[PATH_MAX];
            snprintf(dir, sizeof dir, "%s", d);
            free(d);
            _exit(child_writer(dir, lockpath, target, i));
        }
    }
    uint64_t next = 1;
    int rounds = 0;
    while (next <= target && rounds++ < 200000) {
        log_reader *r;
        log_record rec;
        int rc = log_reader_open(d, next, UINT64_MAX, LOG_FORWARD, &r);
        if (rc == TM_EMISSING && next == 1) continue; /* nothing written yet */
        if (rc) fail_msg("reader open at %llu: %s", (unsigned long long)next, err_msg());
        while ((rc = log_reader_next(r, &rec)) == 1) {
            check_rec(&rec, next);
            next++;
        }
        if (rc < 0) fail_msg("reader at %llu: %s", (unsigned long long)next, err_msg());
        log_reader_close(r);
    }
    for (int i = 0; i < 2; i++) {
        int st;
        assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
        if (!WIFEXITED(st) || WEXITSTATUS(st)) fail_msg("writer %d failed: status %d", i, st);
    }
    assert_int_equal(next, target + 1);
    uint64_t cnt;
    CHECK(log_verify(d, NULL, NULL, &cnt));
    assert_int_equal(cnt, target);
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_BACKWARD), (long long)target);
    unlink(lockpath);
    rmdir_free(d);
}

/* Times stored out of order (written by hand, checksum made right) are refused. */
static void test_time_backwards(void **state)
{
    (void)state;
    char *d = tmpdir();
    log_options o = opts(1 << 20, LOG_SYNC_NONE, LOG_CODEC_LZ4);
    write_log(d, &o, 10, 1);
    char act[64], p[PATH_MAX];
    active_name(d, act);
    path_of(p, d, act);
    buf b = BUF_INIT;
    CHECK(fsx_read_file(p, 1 << 20, &b));
    unsigned char *c = (unsigned char *)b.data;
    size_t off = 80;
    for (int i = 1; i < 5; i++) off += 37 + rd_u32le(c + off + 17) + rd_u32le(c + off + 21) +
                                       rd_u32le(c + off + 25);
    size_t len = 37 + rd_u32le(c + off + 17) + rd_u32le(c + off + 21) + rd_u32le(c + off + 25);
    assert_int_equal(rd_u64le(c + off), 5);
    wr_u64le(c + off + 8, (uint64_t)(T0 - 1));
    wr_u64le(c + off + len - 8, XXH3_64bits(c + off, len - 8));
    CHECK(fsx_write_atomic(p, b.data, b.len));
    buf_free(&b);
    assert_int_equal(read_range(d, 1, 4, LOG_FORWARD), 4);
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_FORWARD), TM_ECORRUPT);
    assert_true(has_str(err_msg(), "time goes backwards"));
    char want[64];
    snprintf(want, sizeof want, "offset %zu", off);
    assert_true(has_str(err_msg(), want));
    rmdir_free(d);
}

/* ==== torn tails and damage =================================================================== */

static void test_torn_tail_every_offset(void **state)
{
    (void)state;
    char *d = tmpdir();
    log_options o = opts(1 << 20, LOG_SYNC_NONE, LOG_CODEC_LZ4); /* same recovery, no waits */
    log *l;
    char act[64];
    CHECK(log_open(d, &o, &l));
    CHECK(log_begin(l, NULL));
    append_upto(l, 50, 4);
    long long start = file_size(d, active_name(d, act));
    append_upto(l, 51, 1); /* the last record, a batch of its own */
    long long end = file_size(d, act);
    log_close(l);
    assert_true(end - start > 37);
    for (long long cut = start; cut < end; cut++) {
        truncate_to(d, act, cut);
        log_recovery rec;
        CHECK(log_open(d, &o, &l));
        CHECK(log_begin(l, &rec));
        assert_int_equal(rec.truncated, cut > start);
        if (cut > start) {
            assert_string_equal(rec.segment, act);
            assert_int_equal(rec.offset, start);
            assert_int_equal(rec.bytes, cut - start);
        }
        assert_int_equal(log_last_seq(l), 50);
        assert_int_equal(file_size(d, act), start);
        append_upto(l, 51, 1); /* put it back for the next cut */
        log_close(l);
        assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_FORWARD), 51);
    }
    /* A cut inside a batch of several records removes the whole batch. */
    CHECK(log_open(d, &o, &l));
    CHECK(log_begin(l, NULL));
    append_upto(l, 60, 9);
    log_close(l);
    long long all = file_size(d, act);
    truncate_to(d, act, all - 3);
    /* Readers stop before a torn batch, even before recovery. */
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_FORWARD), 51);
    assert_int_equal(read_range(d, 1, 55, LOG_FORWARD), TM_EMISSING);
    log_recovery rec;
    CHECK(log_open(d, &o, &l));
    CHECK(log_begin(l, &rec));
    assert_int_equal(rec.truncated, 1);
    assert_int_equal(rec.offset, end);
    assert_int_equal(log_last_seq(l), 51);
    log_close(l);
    rmdir_free(d);
}

typedef struct reports {
    int n;
    char seg[8][64];
    uint64_t off[8];
    char what[8][128];
} reports;

static void on_report(void *ctx, const char *seg, uint64_t off, const char *what)
{
    reports *r = ctx;
    if (r->n < 8) {
        snprintf(r->seg[r->n], 64, "%s", seg);
        r->off[r->n] = off;
        snprintf(r->what[r->n], 128, "%s", what);
    }
    r->n++;
}

static void test_damage_sealed(void **state)
{
    (void)state;
    static const long long where[] = {100, 8, 72, -1}; /* payload, header field, header sum, end */
    for (size_t wi = 0; wi < sizeof where / sizeof where[0]; wi++) {
        char *d = tmpdir();
        log_options o = opts(3000, LOG_SYNC_NONE, LOG_CODEC_LZ4);
        write_log(d, &o, 300, 10);
        char names[64][64];
        size_t n = list_names(d, ".lz4", names, 64);
        assert_true(n >= 3);
        const char *victim = names[1];
        long long off = where[wi] >= 0 ? where[wi] : file_size(d, victim) - 1;
        flip_byte(d, victim, off);
        long long f = read_range(d, 1, UINT64_MAX, LOG_FORWARD);
        assert_int_equal(f, TM_ECORRUPT);
        assert_true(has_str(err_msg(), victim));
        assert_true(has_str(err_msg(), "offset"));
        assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_BACKWARD), TM_ECORRUPT);
        assert_true(has_str(err_msg(), victim));
        /* Segments before the damaged one still read. */
        log_segment *s;
        size_t sn;
        assert_int_equal(log_list(d, &s, &sn), where[wi] == 100 || where[wi] < 0 ? 0 : TM_ECORRUPT);
        if (where[wi] == 100 || where[wi] < 0) free(s);
        reports rp = {0};
        uint64_t cnt;
        assert_int_equal(log_verify(d, on_report, &rp, &cnt), TM_ECORRUPT);
        assert_true(rp.n >= 1);
        assert_string_equal(rp.seg[0], victim);
        if (where[wi] == 100 || where[wi] < 0) assert_int_equal(rp.off[0], 80);
        else assert_true(rp.off[0] <= 72);
        rmdir_free(d);
    }
    /* The first segment's damage does not stop a reader that starts after it. */
    char *d = tmpdir();
    log_options o = opts(3000, LOG_SYNC_NONE, LOG_CODEC_LZ4);
    write_log(d, &o, 300, 10);
    char names[64][64];
    list_names(d, ".lz4", names, 64);
    flip_byte(d, names[0], 100);
    log_segment *s;
    size_t n;
    CHECK(log_list(d, &s, &n));
    assert_true(read_range(d, s[1].first_seq, UINT64_MAX, LOG_FORWARD) > 0);
    assert_int_equal(read_range(d, s[1].first_seq - 1, UINT64_MAX, LOG_FORWARD), TM_ECORRUPT);
    free(s);
    rmdir_free(d);
}

static void test_damage_active(void **state)
{
    (void)state;
    char *d = tmpdir();
    log_options o = opts(1 << 20, LOG_SYNC_FULL, LOG_CODEC_LZ4);
    write_log(d, &o, 100, 3);
    char act[64];
    active_name(d, act);
    long long size = file_size(d, act);
    long long off = size / 2;
    flip_byte(d, act, off);
    /* Readers see the records before the damage, then the error. */
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_FORWARD), TM_ECORRUPT);
    assert_true(has_str(err_msg(), act));
    assert_true(read_range(d, 1, 10, LOG_FORWARD) == 10);
    log *l;
    log_recovery rec;
    CHECK(log_open(d, &o, &l));
    assert_int_equal(log_begin(l, &rec), TM_ECORRUPT);
    assert_true(has_str(err_msg(), act));
    assert_true(has_str(err_msg(), "offset"));
    assert_int_equal(rec.truncated, 0);
    genrec g;
    gen(101, &g, 300);
    assert_int_equal(log_append(l, &g.r), TM_ECORRUPT); /* refuses to go on */
    log_close(l);
    assert_int_equal(file_size(d, act), size); /* nothing was cut */
    reports rp = {0};
    assert_int_equal(log_verify(d, on_report, &rp, NULL), TM_ECORRUPT);
    assert_string_equal(rp.seg[0], act);
    assert_true(rp.off[0] <= (uint64_t)off && rp.off[0] + 800 > (uint64_t)off);
    /* The reported offset is where the damaged record starts. */
    char msg[256];
    snprintf(msg, sizeof msg, "offset %llu", (unsigned long long)rp.off[0]);
    CHECK(log_open(d, &o, &l));
    assert_int_equal(log_begin(l, NULL), TM_ECORRUPT);
    assert_true(has_str(err_msg(), msg));
    log_close(l);
    rmdir_free(d);
}

static void test_bad_header(void **state)
{
    (void)state;
    char *d = tmpdir();
    log_options o = opts(1 << 20, LOG_SYNC_FULL, LOG_CODEC_LZ4);
    write_log(d, &o, 20, 3);
    char act[64];
    active_name(d, act);
    flip_byte(d, act, 0); /* magic */
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_FORWARD), TM_ECORRUPT);
    assert_true(has_str(err_msg(), "magic"));
    log *l;
    CHECK(log_open(d, &o, &l));
    assert_int_equal(log_begin(l, NULL), TM_ECORRUPT); /* valid records follow: not torn */
    log_close(l);
    /* A segment cut inside its header with nothing committed (a crash while creating it with
     * LOG_SYNC_NONE) is removed by recovery. */
    truncate_to(d, act, 40);
    log_recovery rec;
    CHECK(log_open(d, &o, &l));
    CHECK(log_begin(l, &rec));
    assert_int_equal(rec.truncated, 1);
    assert_int_equal(rec.bytes, 40);
    assert_int_equal(log_last_seq(l), 0);
    append_upto(l, 5, 5);
    log_close(l);
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_FORWARD), 5);
    rmdir_free(d);
}

static void test_missing_segment(void **state)
{
    (void)state;
    char *d = tmpdir();
    log_options o = opts(3000, LOG_SYNC_NONE, LOG_CODEC_LZ4);
    write_log(d, &o, 400, 10);
    log_segment *s;
    size_t n;
    CHECK(log_list(d, &s, &n));
    assert_true(n >= 4);
    log_segment gone = s[2];
    free(s);
    char p[PATH_MAX];
    path_of(p, d, gone.name);
    assert_int_equal(unlink(p), 0);
    char want[128];
    snprintf(want, sizeof want, "%llu..%llu", (unsigned long long)gone.first_seq,
             (unsigned long long)gone.last_seq);
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_FORWARD), TM_EMISSING);
    assert_true(has_str(err_msg(), want));
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_BACKWARD), TM_EMISSING);
    assert_true(has_str(err_msg(), want));
    assert_int_equal(read_range(d, gone.first_seq + 1, gone.last_seq, LOG_FORWARD), TM_EMISSING);
    assert_int_equal(read_range(d, gone.first_seq + 1, gone.last_seq, LOG_BACKWARD), TM_EMISSING);
    /* Ranges that do not need it still read. */
    assert_int_equal(read_range(d, gone.last_seq + 1, UINT64_MAX, LOG_FORWARD),
                     (long long)(400 - gone.last_seq));
    assert_int_equal(read_range(d, 1, gone.first_seq - 1, LOG_BACKWARD),
                     (long long)gone.first_seq - 1);
    reports rp = {0};
    assert_int_equal(log_verify(d, on_report, &rp, NULL), TM_ECORRUPT);
    assert_int_equal(rp.n, 1);
    assert_true(has_str(rp.what[0], want));
    /* Retention: removing the oldest is fine, the newest is refused. */
    CHECK(log_list(d, &s, &n));
    CHECK(log_remove_segment(d, s[0].name));
    assert_int_equal(log_remove_segment(d, s[0].name), TM_ENOTFOUND);
    assert_int_equal(log_remove_segment(d, s[n - 1].name), TM_EINVAL); /* raw */
    assert_int_equal(log_remove_segment(d, "nonsense"), TM_EINVAL);
    assert_int_equal(read_range(d, 1, 5, LOG_FORWARD), TM_EMISSING);
    free(s);
    rmdir_free(d);
}

/* Damage after the last intact commit of records the items hold is not a torn tail: nothing is
 * cut, the log fences into a new segment, and the lost seqs are a gap (log_gaps, verify). */
static void test_damage_applied_tail(void **state)
{
    (void)state;
    char *d = tmpdir();
    log_options o = opts(1 << 20, LOG_SYNC_FULL, LOG_CODEC_LZ4);
    write_log(d, &o, 100, 10);
    char act[64];
    active_name(d, act);
    long long size = file_size(d, act);
    flip_byte(d, act, size - 12); /* the last record's image: its batch loses its commit */
    log *l;
    log_recovery rec;
    CHECK(log_open(d, &o, &l));
    log_set_applied(l, 100); /* the items hold all 100 */
    CHECK(log_begin(l, &rec));
    assert_int_equal(rec.damaged, 1);
    assert_int_equal(rec.truncated, 0);
    assert_int_equal(rec.lost_first, 91);
    assert_string_equal(rec.segment, act);
    assert_int_equal(file_size(d, act), size); /* nothing cut */
    assert_int_equal(log_last_seq(l), 90);
    CHECK(log_fence(l, 100, time_of(100)));
    assert_int_equal(log_last_seq(l), 100);
    append_upto(l, 120, 5);
    log_close(l);
    log_gap *g;
    size_t ng;
    CHECK(log_gaps(d, 120, time_of(120), &g, &ng));
    assert_int_equal(ng, 1);
    assert_int_equal(g[0].first_seq, 91);
    assert_int_equal(g[0].last_seq, 100);
    assert_true(has_str(g[0].why, act));
    assert_true(g[0].after_us == time_of(90) && g[0].before_us == time_of(101));
    free(g);
    reports rp = {0};
    assert_int_equal(log_verify(d, on_report, &rp, NULL), TM_ECORRUPT);
    assert_true(rp.n >= 1);
    assert_string_equal(rp.seg[0], act);
    /* Readers: the records before the damage and after the fence read; across it, an error. */
    assert_int_equal(read_range(d, 1, 90, LOG_FORWARD), 90);
    assert_int_equal(read_range(d, 101, UINT64_MAX, LOG_FORWARD), 20);
    assert_true(read_range(d, 1, UINT64_MAX, LOG_FORWARD) < 0);
    /* The next writer finds a clean active segment: no second report, seqs go on. */
    CHECK(log_open(d, &o, &l));
    log_set_applied(l, 120);
    CHECK(log_begin(l, &rec));
    assert_int_equal(rec.damaged + rec.truncated, 0);
    assert_int_equal(log_last_seq(l), 120);
    log_close(l);
    rmdir_free(d);

    /* The same bytes when the items do not hold them: a torn tail, cut as before. */
    d = tmpdir();
    write_log(d, &o, 100, 10);
    active_name(d, act);
    size = file_size(d, act);
    flip_byte(d, act, size - 12);
    CHECK(log_open(d, &o, &l));
    log_set_applied(l, 90);
    CHECK(log_begin(l, &rec));
    assert_int_equal(rec.truncated, 1);
    assert_int_equal(rec.damaged, 0);
    assert_int_equal(log_last_seq(l), 90);
    log_close(l);
    rmdir_free(d);
}

/* A log records its origin; only the oldest segment is removed, after the origin moves; a lost
 * head, a lost last sealed segment and a tail the items hold beyond the log are gaps. */
static void test_origin_and_gaps(void **state)
{
    (void)state;
    char *d = tmpdir();
    log_options o = opts(3000, LOG_SYNC_NONE, LOG_CODEC_LZ4);
    write_log(d, &o, 400, 10);
    log_segment *s;
    size_t n;
    log_gap *g;
    size_t ng;
    CHECK(log_list(d, &s, &n));
    assert_true(n >= 5);
    CHECK(log_gaps(d, 400, time_of(400), &g, &ng));
    assert_int_equal(ng, 0);
    free(g);
    assert_int_equal(log_remove_segment(d, s[1].name), TM_EINVAL); /* not the oldest */
    CHECK(log_remove_segment(d, s[0].name));
    CHECK(log_gaps(d, 400, time_of(400), &g, &ng));
    assert_int_equal(ng, 0); /* a removal is not a gap */
    free(g);
    CHECK(log_verify(d, NULL, NULL, NULL));
    /* Deleting the (new) oldest by hand is a gap from the origin. */
    char p[PATH_MAX];
    path_of(p, d, s[1].name);
    assert_int_equal(unlink(p), 0);
    CHECK(log_gaps(d, 400, time_of(400), &g, &ng));
    assert_int_equal(ng, 1);
    assert_int_equal(g[0].first_seq, s[1].first_seq);
    assert_int_equal(g[0].last_seq, s[1].last_seq);
    free(g);
    reports rp = {0};
    assert_int_equal(log_verify(d, on_report, &rp, NULL), TM_ECORRUPT);
    assert_true(has_str(rp.what[0], "origin"));
    /* The tail: the items at seq 450, the log at 400. */
    CHECK(log_gaps(d, 450, time_of(450), &g, &ng));
    assert_int_equal(ng, 2);
    assert_int_equal(g[1].first_seq, 401);
    assert_int_equal(g[1].last_seq, 450);
    assert_true(g[1].after_us == time_of(400) && g[1].before_us == time_of(450));
    free(g);
    free(s);
    rmdir_free(d);
}

/* ==== recompress and sealing crash points ===================================================== */

static void test_recompress(void **state)
{
    (void)state;
    char *d = tmpdir();
    log_options o = opts(5000, LOG_SYNC_NONE, LOG_CODEC_LZ4);
    write_log(d, &o, 600, 10);
    char names[64][64];
    size_t n = list_names(d, ".lz4", names, 64);
    assert_true(n >= 3);
    long long lz4_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        lz4_bytes += file_size(d, names[i]);
        CHECK(log_recompress(d, names[i], LOG_CODEC_ZSTD));
        assert_int_equal(file_size(d, names[i]), -1);
    }
    log_segment *s;
    size_t sn;
    CHECK(log_list(d, &s, &sn));
    long long zst_bytes = 0;
    for (size_t i = 0; i + 1 < sn; i++) {
        assert_int_equal(s[i].codec, LOG_CODEC_ZSTD);
        assert_true(has_str(s[i].name, ".zst"));
        zst_bytes += (long long)s[i].bytes;
    }
    assert_true(zst_bytes < lz4_bytes);
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_FORWARD), 600);
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_BACKWARD), 600);
    uint64_t cnt;
    CHECK(log_verify(d, NULL, NULL, &cnt));
    assert_int_equal(cnt, 600);
    CHECK(log_recompress(d, s[0].name, LOG_CODEC_LZ4)); /* and back */
    CHECK(log_recompress(d, s[1].name, LOG_CODEC_ZSTD)); /* same codec: nothing to do */
    if (!s[sn - 1].sealed)
        assert_int_equal(log_recompress(d, s[sn - 1].name, LOG_CODEC_ZSTD), TM_EINVAL);
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_FORWARD), 600);
    /* The writer goes on after the cold segments changed under it. */
    log *l;
    CHECK(log_open(d, &o, &l));
    CHECK(log_begin(l, NULL));
    append_upto(l, 700, 10);
    log_close(l);
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_BACKWARD), 700);
    free(s);
    rmdir_free(d);
}

/* A bulk writer defers sealing to log_seal (which the table runs beside its LMDB commit), up to
 * 8x segment_bytes, past which a commit seals as before; the records read back whole. */
static void test_deferred_seal(void **state)
{
    (void)state;
    char *d = tmpdir();
    char names[64][64];
    log_options o = opts(5000, LOG_SYNC_NONE, LOG_CODEC_LZ4);
    log *l;
    CHECK(log_open(d, &o, &l));
    CHECK(log_begin(l, NULL));
    log_defer_seal(l, 1);
    append_upto(l, 100, 10);               /* > 5000 bytes, < 40000 */
    assert_int_equal(list_names(d, ".lz4", names, 64), 0);
    assert_true(log_seal_due(l));
    log_seal(l);
    assert_false(log_seal_due(l));
    assert_int_equal(list_names(d, ".lz4", names, 64), 1);
    append_upto(l, 1000, 10);              /* past 8x: commits seal on their own */
    size_t sealed = list_names(d, ".lz4", names, 64);
    assert_true(sealed >= 2);
    for (size_t i = 1; i < sealed; i++) {
        long long sz = file_size(d, names[i]);
        assert_true(sz > 0);
    }
    log_seal(l);
    log_close(l);
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_FORWARD), 1000);
    uint64_t cnt;
    CHECK(log_verify(d, NULL, NULL, &cnt));
    assert_int_equal(cnt, 1000);
    rmdir_free(d);
}

static void copy_file(const char *dir, const char *from, const char *to)
{
    char a[PATH_MAX], b[PATH_MAX];
    buf data = BUF_INIT;
    path_of(a, dir, from);
    path_of(b, dir, to);
    CHECK(fsx_read_file(a, 1 << 30, &data));
    int fd = open(b, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(__real_write(fd, data.data, data.len), (ssize_t)data.len);
    close(fd);
    buf_free(&data);
}

static void test_seal_crash_points(void **state)
{
    (void)state;
    char *d = tmpdir();
    log_options big = opts(1 << 20, LOG_SYNC_FULL, LOG_CODEC_LZ4);
    log_options small = opts(2000, LOG_SYNC_FULL, LOG_CODEC_LZ4);
    write_log(d, &big, 30, 30);
    char act[64], keep[64];
    active_name(d, act);
    snprintf(keep, sizeof keep, "%s.copy", act);
    copy_file(d, act, keep);
    /* Seal it, then put the raw one back: a crash between rename and unlink. */
    log *l;
    CHECK(log_open(d, &small, &l));
    CHECK(log_begin(l, NULL)); /* it is over 2000 bytes: sealed here */
    log_close(l);
    assert_int_equal(file_size(d, act), -1);
    copy_file(d, keep, act);
    char p[PATH_MAX];
    path_of(p, d, keep);
    unlink(p);
    /* Leftover tmp files of a dead writer. */
    static const char *const tmps[] = {"0000000000000001.lz4.tmp.999999999",
                                       "0000000000000001.lz4.tmp", "0000000000000020.log.tmp.1"};
    for (size_t i = 0; i < 3; i++) {
        path_of(p, d, tmps[i]);
        int fd = open(p, O_WRONLY | O_CREAT, 0644);
        assert_true(fd >= 0);
        assert_int_equal(__real_write(fd, "junk", 4), 4);
        close(fd);
    }
    /* Readers take the sealed copy meanwhile. */
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_FORWARD), 30);
    char sealed[64];
    snprintf(sealed, sizeof sealed, "%.16s.lz4", act);
    long long sealed_size = file_size(d, sealed);
    CHECK(log_open(d, &big, &l)); /* big: no sealing to hide which copy was kept */
    CHECK(log_begin(l, NULL));
    assert_int_equal(log_last_seq(l), 30);
    assert_int_equal(file_size(d, act), -1);     /* the raw twin is gone */
    assert_int_equal(file_size(d, sealed), sealed_size);
    assert_int_equal(file_size(d, tmps[0]), -1); /* pid 999999999 cannot exist */
    assert_int_equal(file_size(d, tmps[1]), -1);
    assert_int_equal(file_size(d, tmps[2]), 4);  /* pid 1 is alive: not ours to remove */
    path_of(p, d, tmps[2]);
    unlink(p);
    append_upto(l, 60, 7);
    log_close(l);
    assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_FORWARD), 60);

    /* A damaged sealed twin loses to the raw copy. */
    write_log(d, &big, 90, 30);
    active_name(d, act);
    snprintf(keep, sizeof keep, "%s.copy", act);
    copy_file(d, act, keep);
    CHECK(log_open(d, &small, &l));
    CHECK(log_begin(l, NULL));
    log_close(l);
    snprintf(sealed, sizeof sealed, "%.16s.lz4", act);
    flip_byte(d, sealed, 90);
    copy_file(d, keep, act);
    path_of(p, d, keep);
    unlink(p);
    CHECK(log_open(d, &big, &l));
    CHECK(log_begin(l, NULL)); /* keeps the raw one */
    assert_int_equal(log_last_seq(l), 90);
    assert_int_equal(file_size(d, sealed), -1);
    assert_true(file_size(d, act) > 0);
    log_close(l);
    uint64_t cnt;
    CHECK(log_verify(d, NULL, NULL, &cnt));
    assert_int_equal(cnt, 90);
    rmdir_free(d);
}

/* ==== injected failures ======================================================================= */

typedef struct fault_case {
    const char *what;
    int *counter;
    int at;               /* fail the Nth call during the commit */
    int commit_fails;     /* 1 if the commit must report it */
} fault_case;

static void test_faults(void **state)
{
    (void)state;
    fault_case cases[] = {
        {"write", &fail_write_at, 1, 1},
        {"fdatasync", &fail_fdatasync_at, 1, 1},
        /* The commit that seals: a failed seal does not fail the commit (records are durable). */
        {"rename during seal", &fail_rename_at, 1, 0},
        {"unlink during seal", &fail_unlink_at, 1, 0},
        {"write during seal", &fail_write_at, 2, 0},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        fault_case *c = &cases[ci];
        char *d = tmpdir();
        /* 5 records stay under 4000 bytes, 20 go over: the second commit seals. */
        log_options o = opts(c->commit_fails ? 1 << 20 : 4000, LOG_SYNC_FULL, LOG_CODEC_LZ4);
        log *l;
        genrec g;
        CHECK(log_open(d, &o, &l));
        CHECK(log_begin(l, NULL));
        append_upto(l, 5, 5);
        for (uint64_t s = 6; s <= 20; s++) {
            gen(s, &g, 300);
            CHECK(log_append(l, &g.r));
        }
        *c->counter = c->at;
        int rc = log_commit(l);
        faults_off();
        if (c->commit_fails) {
            assert_int_equal(rc, TM_EIO);
            assert_true(has_str(err_msg(), c->what));
            /* Sticky until log_begin. */
            gen(21, &g, 300);
            assert_int_equal(log_append(l, &g.r), TM_EIO);
            assert_int_equal(log_commit(l), TM_EIO);
            /* The failed batch is not in the log, for readers or the next writer. */
            assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_FORWARD), 5);
            log_recovery rec;
            CHECK(log_begin(l, &rec));
            assert_int_equal(rec.truncated, 0);
            assert_int_equal(log_last_seq(l), 5);
        } else {
            if (rc) fail_msg("%s: commit failed: %s", c->what, err_msg());
            char sealed[8][64];
            if (!strstr(c->what, "unlink")) /* else sealed, with the raw twin left */
                assert_int_equal(list_names(d, ".lz4", sealed, 8), 0);
            CHECK(log_begin(l, NULL));
            assert_int_equal(log_last_seq(l), 20);
        }
        append_upto(l, 100, 10);
        log_close(l);
        assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_FORWARD), 100);
        assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_BACKWARD), 100);
        uint64_t cnt;
        CHECK(log_verify(d, NULL, NULL, &cnt));
        assert_int_equal(cnt, 100);
        DIR *dd = opendir(d);
        struct dirent *e;
        while ((e = readdir(dd)))
            if (strstr(e->d_name, ".tmp")) fail_msg("%s: leftover %s", c->what, e->d_name);
        closedir(dd);
        rmdir_free(d);
    }
}

/* Kills a writer at every write, sync, rename and unlink of a workload (commits, seals, segment
 * creation, reopen, recompress) and checks after each crash: readers read the log before any
 * recovery, nothing acknowledged is lost, recovery leaves a log that verifies and can go on. */
static void crash_workload(const char *d, int ack_fd)
{
    log_options o = opts(3000, LOG_SYNC_FULL, LOG_CODEC_LZ4);
    log *l = NULL;
    genrec g;
    for (int batch = 0; batch < 24; batch++) {
        if (batch % 8 == 0) {
            log_close(l);
            if (log_open(d, &o, &l)) _exit(10);
        }
        if (log_begin(l, NULL)) _exit(11);
        uint64_t last = log_last_seq(l), n = 1 + (uint64_t)batch % 7;
        for (uint64_t s = last + 1; s <= last + n; s++) {
            gen(s, &g, 300);
            if (log_append(l, &g.r)) _exit(12);
        }
        if (log_commit(l)) _exit(13);
        uint64_t acked = last + n;
        if (__real_write(ack_fd, &acked, sizeof acked) != sizeof acked) _exit(14);
        if (batch == 12) {
            log_segment *s;
            size_t sn;
            if (log_list(d, &s, &sn) || sn < 2) _exit(15);
            if (log_recompress(d, s[0].name, LOG_CODEC_ZSTD)) _exit(16);
            free(s);
        }
    }
    log_close(l);
    _exit(0);
}

static void test_crash_points(void **state)
{
    (void)state;
    fake_sync = 1;
    int points = 0;
    for (int at = 1; at < 2000; at++) {
        char *d = tmpdir();
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            char dir[PATH_MAX];
            snprintf(dir, sizeof dir, "%s", d);
            free(d);
            close(p[0]);
            crash_at = at;
            crash_workload(dir, p[1]);
        }
        close(p[1]);
        uint64_t acked = 0, v;
        while (read(p[0], &v, sizeof v) == sizeof v) acked = v;
        close(p[0]);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (WIFEXITED(st)) {
            if (WEXITSTATUS(st)) fail_msg("crash point %d: workload failed with %d", at, WEXITSTATUS(st));
            rmdir_free(d);
            break; /* ran to the end: every point was tried */
        }
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        points++;
        /* Before recovery: readable, and nothing acknowledged is missing. */
        long long seen = read_range(d, 1, UINT64_MAX, LOG_FORWARD);
        if (seen < (long long)acked || seen > (long long)acked + 7)
            fail_msg("crash point %d: readers see %lld records, %llu acknowledged (%s)", at, seen,
                     (unsigned long long)acked, err_msg());
        assert_int_equal(read_range(d, 1, UINT64_MAX, LOG_BACKWARD), seen);
        log *l;
        log_options o = opts(3000, LOG_SYNC_FULL, LOG_CODEC_LZ4);
        CHECK(log_open(d, &o, &l));
        if (log_begin(l, NULL)) fail_msg("crash point %d: recovery: %s", at, err_msg());
        uint64_t last = log_last_seq(l);
        assert_int_equal(last, (uint64_t)seen);
        append_upto(l, last + 5, 5);
        log_close(l);
        uint64_t cnt;
        if (log_verify(d, NULL, NULL, &cnt)) fail_msg("crash point %d: verify: %s", at, err_msg());
        assert_int_equal(cnt, last + 5);
        DIR *dd = opendir(d);
        struct dirent *e;
        while ((e = readdir(dd)))
            if (strstr(e->d_name, ".tmp")) fail_msg("crash point %d: leftover %s", at, e->d_name);
        closedir(dd);
        rmdir_free(d);
    }
    fake_sync = 0;
    assert_true(points > 50);
    printf("crash points tried: %d\n", points);
}

/* One fdatasync per commit with LOG_SYNC_FULL, none with LOG_SYNC_NONE. */
static void test_group_commit(void **state)
{
    (void)state;
    static const struct {
        log_sync_mode mode;
        long per_commit;
    } modes[] = {{LOG_SYNC_FULL, 1}, {LOG_SYNC_NONE, 0}};
    for (size_t i = 0; i < 2; i++) {
        char *d = tmpdir();
        log_options o = opts(1 << 20, modes[i].mode, LOG_CODEC_LZ4);
        log *l;
        CHECK(log_open(d, &o, &l));
        CHECK(log_begin(l, NULL));
        append_upto(l, 1, 1); /* creates the segment */
        n_fdatasync = 0;
        append_upto(l, 1001, 100); /* 10 commits of 100 */
        assert_int_equal(n_fdatasync, 10 * modes[i].per_commit);
        log_close(l);
        rmdir_free(d);
    }
}

/* ==== fixtures (tests/data/log) =============================================================== */

static char *copy_fixture(const char *scenario)
{
    const char *root = getenv("TM_ROOT");
    char src[PATH_MAX], cmd[3 * PATH_MAX];
    snprintf(src, sizeof src, "%s/tests/data/log/%s", root ? root : ".", scenario);
    if (!fsx_exists(src)) return NULL;
    char *d = tmpdir();
    snprintf(cmd, sizeof cmd, "cp -r '%s'/. '%s'/", src, d);
    assert_int_equal(system(cmd), 0);
    return d;
}

/* The committed fixtures pin the on-disk format: if they stop reading, LOG_VERSION must change. */
static void test_fixtures(void **state)
{
    (void)state;
    static const struct {
        const char *scenario;
        long long forward;  /* records read forward, or the code */
        int verify;
        int begin;
    } cases[] = {
        {"ok", 65, 0, 0},
        {"torn-tail", 60, 0, 0},
        {"bad-checksum", TM_ECORRUPT, TM_ECORRUPT, 0},
        {"wrong-magic", TM_ECORRUPT, TM_ECORRUPT, 0},
        {"gap", TM_EMISSING, TM_ECORRUPT, 0},
    };
    int found = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *d = copy_fixture(cases[i].scenario);
        if (!d) continue;
        found++;
        long long f = read_range(d, 1, UINT64_MAX, LOG_FORWARD);
        if (f != cases[i].forward)
            fail_msg("%s: forward %lld, want %lld (%s)", cases[i].scenario, f, cases[i].forward,
                     err_msg());
        assert_int_equal(log_verify(d, NULL, NULL, NULL), cases[i].verify);
        log *l;
        log_options o = opts(1 << 20, LOG_SYNC_NONE, LOG_CODEC_LZ4);
        CHECK(log_open(d, &o, &l));
        assert_int_equal(log_begin(l, NULL), cases[i].begin);
        log_close(l);
        rmdir_free(d);
    }
    if (getenv("TM_ROOT")) assert_int_equal(found, 5);
}

/* Writes the fixtures: small logs of 65 records in a few sealed segments and the active one. */
static void write_fixtures(const char *root)
{
    static const char *const names[] = {"ok", "torn-tail", "bad-checksum", "wrong-magic", "gap"};
    for (int i = 0; i < 5; i++) {
        char d[PATH_MAX];
        snprintf(d, sizeof d, "%s/%s", root, names[i]);
        fsx_rmtree(d);
        log_options o = opts(4000, LOG_SYNC_NONE, i == 2 ? LOG_CODEC_ZSTD : LOG_CODEC_LZ4);
        log_options big = opts(1 << 20, LOG_SYNC_NONE, LOG_CODEC_LZ4);
        write_log(d, &o, 60, 10);
        write_log(d, &big, 65, 10); /* and an active segment of one batch */
        char act[64], s[8][64];
        active_name(d, act);
        size_t n = list_names(d, NULL, s, 8);
        if (i == 1) truncate_to(d, act, file_size(d, act) - 5);
        if (i == 2) flip_byte(d, s[1], 120);
        if (i == 3) flip_byte(d, s[0], 1);
        if (i == 4) {
            char p[PATH_MAX];
            path_of(p, d, s[1]);
            unlink(p);
        }
        printf("%s: %zu segments\n", d, n);
    }
}

/* Fuzz seeds: a raw segment, sealed ones, a torn one, each a few records. */
static void write_seeds(const char *out)
{
    static const struct {
        const char *name;
        log_codec codec;
        uint64_t n;
        int cut;
    } seeds[] = {{"raw", LOG_CODEC_LZ4, 4, 0}, {"lz4", LOG_CODEC_LZ4, 6, 0},
                 {"zst", LOG_CODEC_ZSTD, 6, 0}, {"torn", LOG_CODEC_LZ4, 3, 7}};
    for (size_t i = 0; i < 4; i++) {
        char *d = tmpdir();
        log_options o = opts(i == 1 || i == 2 ? 200 : 1 << 20, LOG_SYNC_NONE, seeds[i].codec);
        log *l;
        genrec g;
        CHECK(log_open(d, &o, &l));
        CHECK(log_begin(l, NULL));
        for (uint64_t s = 1; s <= seeds[i].n; s++) {
            gen(s, &g, 24);
            CHECK(log_append(l, &g.r));
            CHECK(log_commit(l));
        }
        log_close(l);
        char names[8][64], from[PATH_MAX], to[PATH_MAX];
        list_names(d, NULL, names, 8);
        if (seeds[i].cut) truncate_to(d, names[0], file_size(d, names[0]) - seeds[i].cut);
        path_of(from, d, names[0]);
        snprintf(to, sizeof to, "%s/%s", out, seeds[i].name);
        buf b = BUF_INIT;
        CHECK(fsx_read_file(from, 1 << 20, &b));
        CHECK(fsx_write_atomic(to, b.data, b.len));
        buf_free(&b);
        rmdir_free(d);
    }
}

/* ==== benchmark =============================================================================== */

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* 1M records of ~310 bytes, a commit every 1000, LOG_SYNC_FULL; then read forward. The floor is
 * the same bytes and fdatasyncs with no log at all, measured in the same run. */
static void test_bench(void **state)
{
    (void)state;
    char *d = tmpdir();
    const uint64_t N = 1000000;
    log_options o = LOG_OPTIONS_INIT;
    log *l;
    static unsigned char img[300], chunk[310000];
    for (size_t i = 0; i < sizeof img; i++) img[i] = (unsigned char)(i * 7 % 61 + 'A');
    char key[32], p[PATH_MAX];
    path_of(p, d, "floor");
    int fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0644);
    double f0 = tu_now_s();
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(__real_write(fd, chunk, sizeof chunk), (ssize_t)sizeof chunk);
        assert_int_equal(fdatasync(fd), 0);
    }
    double floor_s = tu_now_s() - f0;
    close(fd);
    unlink(p);
    double t0 = tu_now_s(), c0 = cpu_s();
    CHECK(log_open(d, &o, &l));
    CHECK(log_begin(l, NULL));
    for (uint64_t s = 1; s <= N; s++) {
        log_record r = {s, T0 + (int64_t)s, LOG_OP_UPDATE, key, 0, img, 120, img + 120, 140};
        r.key_len = (uint32_t)snprintf(key, sizeof key, "user#%08llu", (unsigned long long)s);
        CHECK(log_append(l, &r));
        if (s % 1000 == 0) CHECK(log_commit(l));
    }
    CHECK(log_commit(l));
    log_close(l);
    double t1 = tu_now_s(), c1 = cpu_s();
    log_reader *r;
    log_record rec;
    uint64_t cnt = 0;
    int rc;
    CHECK(log_reader_open(d, 1, UINT64_MAX, LOG_FORWARD, &r));
    while ((rc = log_reader_next(r, &rec)) == 1) cnt++;
    log_reader_close(r);
    double t2 = tu_now_s(), c2 = cpu_s();
    assert_int_equal(rc, 0);
    assert_int_equal(cnt, N);
    long long disk = fsx_du(d);
    printf("floor (1000 x 310 KB write + fdatasync, no log): %.2f s\n", floor_s);
    printf("append 1M x 310 B, commit/1000, FULL: %.2f s wall, %.2f s cpu (%.0f rec/s)\n",
           t1 - t0, c1 - c0, N / (t1 - t0));
    printf("read forward: %.2f s wall, %.2f s cpu (%.0f rec/s); on disk %.1f B/rec\n", t2 - t1,
           c2 - c1, N / (t2 - t1), (double)disk / N);
    rmdir_free(d);
}

int main(void)
{
    const char *seeds = getenv("LOG_WRITE_SEEDS"), *fixtures = getenv("LOG_WRITE_FIXTURES");
    if (getenv("LOG_BENCH")) { /* a measurement, not a test: run on demand only */
        const struct CMUnitTest bench[] = {cmocka_unit_test(test_bench)};
        return cmocka_run_group_tests(bench, NULL, NULL);
    }
    if (seeds || fixtures) {
        if (seeds) write_seeds(seeds);
        if (fixtures) write_fixtures(fixtures);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_backward),
        cmocka_unit_test(test_empty_log),
        cmocka_unit_test(test_seq_at_time_then_read),
        cmocka_unit_test(test_append_rules),
        cmocka_unit_test(test_big_batch),
        cmocka_unit_test(test_seq_at_time),
        cmocka_unit_test(test_reopen_and_turns),
        cmocka_unit_test(test_reader_during_writes),
        cmocka_unit_test(test_processes),
        cmocka_unit_test(test_time_backwards),
        cmocka_unit_test(test_torn_tail_every_offset),
        cmocka_unit_test(test_damage_sealed),
        cmocka_unit_test(test_damage_active),
        cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_missing_segment),
        cmocka_unit_test(test_recompress),
        cmocka_unit_test(test_deferred_seal),
        cmocka_unit_test(test_damage_applied_tail),
        cmocka_unit_test(test_origin_and_gaps),
        cmocka_unit_test(test_seal_crash_points),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_crash_points),
        cmocka_unit_test(test_group_commit),
        cmocka_unit_test(test_fixtures),
    };
    if (getenv("LOG_TEST_FILTER")) cmocka_set_test_filter(getenv("LOG_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
