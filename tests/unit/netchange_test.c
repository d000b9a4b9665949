/* netchange_test.c: net change per key over a log window (pitr/netchange.h).
 *
 * 1. The rules on hand-fed records: insert, update, delete, insert+delete inside the window
 *    (no entry), delete + re-insert (an update), many changes to one key, key order.
 * 2. Spilling: random histories grouped with a tiny memory limit (hundreds of runs, so the
 *    intermediate merges run too) give exactly what the in-memory grouping and an independent
 *    brute-force model give.
 * 3. Reading a real table's log by time: window edges (from inclusive, to exclusive), empty
 *    windows, the same through the environment knob TIDEMARK_NETCHANGE_MEM. */
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/item.h"
#include "engine/key.h"
#include "engine/log.h"
#include "engine/table.h"
#include "pitr/netchange.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testutil.h"

/* ================================================================ helpers ==== */

typedef struct got {
    char key[64], old[64], nw[64];   /* "" = absent */
    int64_t t;
    uint64_t writes;
} got;

static int collect(netchange *nc, got *out, int max)
{
    netchange_entry e;
    int n = 0, rc;
    while ((rc = netchange_next(nc, &e)) == 1) {
        assert_true(n < max);
        got *g = &out[n++];
        memset(g, 0, sizeof *g);
        assert_true(e.key_len < sizeof g->key && e.old_len < sizeof g->old &&
                    e.new_len < sizeof g->nw);
        memcpy(g->key, e.key, e.key_len);
        if (e.old_len) memcpy(g->old, e.old_img, e.old_len);
        if (e.new_len) memcpy(g->nw, e.new_img, e.new_len);
        assert_true(e.old_len ? e.old_img != NULL : e.old_img == NULL);
        assert_true(e.new_len ? e.new_img != NULL : e.new_img == NULL);
        g->t = e.time_us;
        g->writes = e.writes;
    }
    assert_int_equal(rc, 0);
    return n;
}

static void add(netchange *nc, uint64_t seq, int64_t t, const char *key, const char *old,
                const char *nw)
{
    log_record r = {seq, t, LOG_OP_PUT, key, (uint32_t)strlen(key), old,
                    (uint32_t)(old ? strlen(old) : 0), nw, (uint32_t)(nw ? strlen(nw) : 0)};
    if (!nw) r.op = LOG_OP_DELETE;
    assert_int_equal(netchange_add(nc, &r), 0);
}

/* ================================================================ 1. rules ==== */

static void test_rules(void **state)
{
    (void)state;
    netchange *nc;
    netchange_options o = NETCHANGE_OPTIONS_INIT;
    o.mem_limit = (size_t)1 << 30;
    assert_int_equal(netchange_new(&o, &nc), 0);
    uint64_t s = 100;
    add(nc, s++, 10, "k-update", "u0", "u1");
    add(nc, s++, 11, "k-insert", NULL, "i1");
    add(nc, s++, 12, "k-delete", "d0", NULL);
    add(nc, s++, 13, "k-insdel", NULL, "x1");
    add(nc, s++, 14, "k-insdel", "x1", NULL);
    add(nc, s++, 15, "k-reins", "r0", NULL);
    add(nc, s++, 16, "k-reins", NULL, "r1");
    add(nc, s++, 17, "k-many", "m0", "m1");
    for (int i = 2; i <= 50; i++) {
        char a[16], b[16];
        snprintf(a, sizeof a, "m%d", i - 1);
        snprintf(b, sizeof b, "m%d", i);
        add(nc, s++, 17 + i, "k-many", a, b);
    }
    add(nc, s++, 90, "k-update", "u1", "u2");
    /* Out of order is refused. */
    log_record bad = {s - 1, 91, LOG_OP_PUT, "z", 1, NULL, 0, "z", 1};
    assert_int_equal(netchange_add(nc, &bad), TM_EINVAL);

    got g[16];
    int n = collect(nc, g, 16);
    assert_int_equal(n, 5);   /* k-insdel has no entry */
    /* Key order (bytes). */
    assert_string_equal(g[0].key, "k-delete");
    assert_string_equal(g[0].old, "d0");
    assert_string_equal(g[0].nw, "");
    assert_int_equal(g[0].t, 12);
    assert_string_equal(g[1].key, "k-insert");
    assert_string_equal(g[1].old, "");
    assert_string_equal(g[1].nw, "i1");
    assert_string_equal(g[2].key, "k-many");
    assert_string_equal(g[2].old, "m0");
    assert_string_equal(g[2].nw, "m50");
    assert_int_equal(g[2].t, 67);
    assert_int_equal(g[2].writes, 50);
    assert_string_equal(g[3].key, "k-reins");
    assert_string_equal(g[3].old, "r0");
    assert_string_equal(g[3].nw, "r1");
    assert_int_equal(g[3].t, 16);
    assert_string_equal(g[4].key, "k-update");
    assert_string_equal(g[4].old, "u0");
    assert_string_equal(g[4].nw, "u2");
    assert_int_equal(g[4].t, 90);
    assert_int_equal(g[4].writes, 2);
    netchange_stats st;
    netchange_get_stats(nc, &st);
    assert_int_equal(st.records, s - 100);
    assert_int_equal(st.first_seq, 100);
    assert_int_equal(st.last_seq, s - 1);
    assert_int_equal(st.runs, 0);
    netchange_close(nc);

    /* Nothing added: no entry. */
    assert_int_equal(netchange_new(&o, &nc), 0);
    assert_int_equal(collect(nc, g, 16), 0);
    netchange_close(nc);
}

/* ================================================================ 2. spilling ==== */

#define NK 3000

typedef struct model {
    int seen;
    int had_old;                 /* the key existed when the window opened */
    int old_v, cur_v;            /* current value; -1 = absent */
    int64_t t;
    uint64_t writes;
} model;

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void key_of(int k, char *out, size_t n) { snprintf(out, n, "key-%05d", k); }
static void img_of(int k, int v, char *out, size_t n)
{
    /* Images of varied length, so that the new-image buffers grow and shrink. */
    snprintf(out, n, "img-%d-%d-%.*s", k, v, (int)(v % 23), "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

/* Runs one random history through netchange with the given memory limit; checks against the
 * model; returns the entries (caller frees). */
static got *run_history(size_t mem_limit, int records, uint64_t seed, int *n_out,
                        netchange_stats *st)
{
    static model m[NK];
    rng_state = seed;
    for (int k = 0; k < NK; k++) {
        m[k] = (model){0, 0, -1, -1, 0, 0};
        if (rnd() % 2) m[k].old_v = m[k].cur_v = 0;   /* existed before the window */
        m[k].had_old = m[k].cur_v >= 0;
    }
    netchange *nc;
    netchange_options o = NETCHANGE_OPTIONS_INIT;
    o.mem_limit = mem_limit;
    assert_int_equal(netchange_new(&o, &nc), 0);
    char key[32], old[64], nw[64];
    for (int i = 0; i < records; i++) {
        /* Skewed: a few hot keys get many writes. */
        int k = rnd() % 4 == 0 ? (int)(rnd() % 20) : (int)(rnd() % NK);
        model *x = &m[k];
        key_of(k, key, sizeof key);
        int del = x->cur_v >= 0 && rnd() % 5 == 0;
        int v = del ? -1 : (int)(rnd() % 100000) + 1;
        if (x->cur_v >= 0) img_of(k, x->cur_v, old, sizeof old);
        if (v >= 0) img_of(k, v, nw, sizeof nw);
        add(nc, 1000 + (uint64_t)i, 5000 + i, key, x->cur_v >= 0 ? old : NULL, v >= 0 ? nw : NULL);
        if (!x->seen) x->old_v = x->cur_v;
        x->seen = 1;
        x->cur_v = v;
        x->t = 5000 + i;
        x->writes++;
    }
    got *g = calloc(NK, sizeof *g);
    assert_non_null(g);
    int n = collect(nc, g, NK);
    netchange_get_stats(nc, st);
    netchange_close(nc);
    /* The model, in key order (the keys are zero-padded: text order is numeric order). */
    int j = 0;
    for (int k = 0; k < NK; k++) {
        model *x = &m[k];
        if (!x->seen || (x->old_v < 0 && x->cur_v < 0)) continue;
        assert_true(j < n);
        key_of(k, key, sizeof key);
        assert_string_equal(g[j].key, key);
        if (x->old_v >= 0) img_of(k, x->old_v, old, sizeof old);
        else old[0] = '\0';
        if (x->cur_v >= 0) img_of(k, x->cur_v, nw, sizeof nw);
        else nw[0] = '\0';
        assert_string_equal(g[j].old, old);
        assert_string_equal(g[j].nw, nw);
        assert_int_equal(g[j].t, x->t);
        assert_int_equal(g[j].writes, x->writes);
        j++;
    }
    assert_int_equal(j, n);
    *n_out = n;
    return g;
}

static void test_spill_equals_memory(void **state)
{
    (void)state;
    int n1, n2, n3;
    netchange_stats s1, s2, s3;
    got *a = run_history((size_t)1 << 30, 40000, 42, &n1, &s1);
    got *b = run_history(NETCHANGE_MEM_MIN, 40000, 42, &n2, &s2);
    got *c = run_history(64 * 1024, 40000, 42, &n3, &s3);
    assert_int_equal(s1.runs, 0);
    assert_true(s2.runs > 64);        /* more than one merge fan-in: intermediate merges ran */
    assert_true(s3.runs > 1 && s3.runs < s2.runs);
    assert_true(s2.spilled_bytes > 0);
    assert_int_equal(n1, n2);
    assert_int_equal(n1, n3);
    assert_memory_equal(a, b, (size_t)n1 * sizeof *a);
    assert_memory_equal(a, c, (size_t)n1 * sizeof *a);
    free(a);
    free(b);
    free(c);
    /* Other seeds, smaller: every limit agrees with the model (checked inside). */
    for (uint64_t seed = 1; seed <= 4; seed++) {
        got *d = run_history(8192 * seed, 5000, seed * 7919, &n1, &s1);
        free(d);
    }
}

/* ================================================================ 3. a real log ==== */

#define T0 1762934400000000LL   /* 2025-11-12T08:00:00Z */
#define SEC 1000000LL

static char home[PATH_MAX];

static item *mk(const char *pk, int v)
{
    char j[128];
    snprintf(j, sizeof j, "{\"pk\":{\"S\":\"%s\"},\"v\":{\"N\":\"%d\"}}", pk, v);
    return tu_item(j);
}

static void put_at(table *t, int64_t us, const char *pk, int v)
{
    clock_set_us(us);
    item *it = mk(pk, v);
    assert_int_equal(table_put(t, it, NULL, NULL, NULL), 0);
    item_free(it);
}

static void del_at(table *t, int64_t us, const char *pk)
{
    clock_set_us(us);
    item *it = mk(pk, 0);
    item *key = item_new();
    item_put(key, "pk", item_get(it, "pk"));
    assert_int_equal(table_delete_item(t, key, NULL, NULL, NULL), 0);
    item_free(key);
    item_free(it);
}

/* The value of "v" in a binary image, or -1 if absent. */
static int v_of(const void *img, size_t n)
{
    if (!n) return -1;
    item *it = NULL;
    assert_int_equal(item_decode(img, n, &it), 0);
    const av *v = item_get(it, "v");
    int r = v ? atoi(v->u.bytes) : -2;
    item_free(it);
    return r;
}

static int window(table *t, int64_t from, int64_t to, int *olds, int *news, int64_t *times)
{
    netchange *nc;
    netchange_entry e;
    int n = 0, rc;
    assert_int_equal(netchange_open(table_log_dir(t), from, to, NULL, &nc), 0);
    while ((rc = netchange_next(nc, &e)) == 1) {
        olds[n] = v_of(e.old_img, e.old_len);
        news[n] = v_of(e.new_img, e.new_len);
        times[n] = e.time_us;
        n++;
    }
    assert_int_equal(rc, 0);
    netchange_close(nc);
    return n;
}

static void test_real_log(void **state)
{
    (void)state;
    assert_int_equal(tu_tmpdir(home, sizeof home, "netchange-test"), 0);
    key_schema ks = {0};
    snprintf(ks.hash_name, sizeof ks.hash_name, "pk");
    ks.hash_type = AV_S;
    table_create_opts co = TABLE_CREATE_OPTS_INIT;
    co.durability = LOG_SYNC_NONE;
    clock_set_us(T0);
    assert_int_equal(table_create(home, "nctab", &ks, &co, NULL), 0);
    table *t;
    assert_int_equal(table_open(home, "nctab", 0, &t), 0);
    assert_int_equal(table_set_pitr(t, 1, 35), 0);
    put_at(t, T0 + 10 * SEC, "a", 1);
    put_at(t, T0 + 20 * SEC, "a", 2);   /* window [20, 30) starts here: inclusive */
    put_at(t, T0 + 25 * SEC, "b", 7);
    del_at(t, T0 + 26 * SEC, "b");      /* inserted and deleted inside: no entry */
    put_at(t, T0 + 29 * SEC, "a", 3);
    put_at(t, T0 + 30 * SEC, "a", 4);   /* window end: exclusive */
    int olds[8], news[8];
    int64_t times[8];
    int n = window(t, T0 + 20 * SEC, T0 + 30 * SEC, olds, news, times);
    assert_int_equal(n, 1);
    assert_int_equal(olds[0], 1);
    assert_int_equal(news[0], 3);
    assert_int_equal(times[0], T0 + 29 * SEC);
    /* One µs later the first write is outside: the old image is then 2. */
    n = window(t, T0 + 20 * SEC + 1, T0 + 30 * SEC + 1, olds, news, times);
    assert_int_equal(n, 1);
    assert_int_equal(olds[0], 2);
    assert_int_equal(news[0], 4);
    /* Empty windows: between writes, after the last, before the first. */
    assert_int_equal(window(t, T0 + 11 * SEC, T0 + 19 * SEC, olds, news, times), 0);
    assert_int_equal(window(t, T0 + 31 * SEC, T0 + 40 * SEC, olds, news, times), 0);
    assert_int_equal(window(t, T0, T0 + 10 * SEC, olds, news, times), 0);
    assert_int_equal(window(t, T0 + 10 * SEC, T0 + 10 * SEC, olds, news, times), 0);
    /* Everything, spilled through the environment knob: same answer as in memory. */
    setenv("TIDEMARK_NETCHANGE_MEM", "1", 1);
    n = window(t, T0, T0 + 60 * SEC, olds, news, times);
    unsetenv("TIDEMARK_NETCHANGE_MEM");
    assert_int_equal(n, 1);
    assert_int_equal(olds[0], -1);
    assert_int_equal(news[0], 4);
    table_close(t);
    fsx_rmtree(home);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_spill_equals_memory),
        cmocka_unit_test(test_real_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
