/* rollback_test.c: the rollback's decision table (rollback.h THE RULE), table-driven: the
 * current item against the record's images (present, absent, equal to either, neither), in
 * both directions (undo, forward apply), and what the tidemark-table target does with each
 * (write, delete, leave alone, overwrite when forced), checked against the table afterwards;
 * a second pass over the same records is ALREADY everywhere; the chain of applied exports
 * (chain.c): start, next, gap, overlap, repeat. */
#include "rollback/rollback_internal.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/item.h"
#include "engine/key.h"
#include "engine/table.h"
#include "export/layout.h"

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

/* ---- images ---- */

static buf enc(const char *json)
{
    buf b = BUF_INIT;
    item *it = NULL;
    if (!json) return b;
    assert_int_equal(item_parse_json(json, strlen(json), 0, &it), 0);
    assert_int_equal(item_encode(it, &b), 0);
    item_free(it);
    return b;
}

#define OLD  "{\"pk\":{\"S\":\"a\"},\"v\":{\"N\":\"1\"}}"
#define NEW  "{\"pk\":{\"S\":\"a\"},\"v\":{\"N\":\"2\"}}"
#define LATE "{\"pk\":{\"S\":\"a\"},\"v\":{\"N\":\"3\"}}"
#define KEYS "{\"pk\":{\"S\":\"a\"}}"

/* A record of key "a" (undo: expect = new, target = old; apply swaps them). */
static void rec(rb_rec *r, const key_schema *ks, const char *old, const char *nw, int apply)
{
    buf k = BUF_INIT, ks_b = enc(KEYS), o = enc(old), n = enc(nw);
    item *keys = NULL;
    memset(r, 0, sizeof *r);
    assert_int_equal(item_parse_json(KEYS, strlen(KEYS), 0, &keys), 0);
    assert_int_equal(key_encode_item(ks, keys, &k), 0);
    item_free(keys);
    r->kn = (uint32_t)k.len;
    r->key = (unsigned char *)buf_detach(&k);
    r->ksn = (uint32_t)ks_b.len;
    r->keys = (unsigned char *)buf_detach(&ks_b);
    buf *ex = apply ? &o : &n, *tg = apply ? &n : &o;
    r->en = (uint32_t)ex->len;
    r->tn = (uint32_t)tg->len;
    r->expect = (unsigned char *)(ex->data ? buf_detach(ex) : NULL);
    r->target = (unsigned char *)(tg->data ? buf_detach(tg) : NULL);
    buf_free(&o);
    buf_free(&n);
}

static void rec_done(rb_rec *r)
{
    free(r->key);
    free(r->keys);
    free(r->expect);
    free(r->target);
    free(r->cur);
}

static const key_schema KS = {"pk", AV_S, "", 0};

/* ---- the decision table ---- */

typedef struct row {
    const char *old, *nw;         /* the record's images (NULL: absent) */
    const char *cur;              /* the item now (NULL: absent) */
    rollback_action undo, apply;  /* rb_classify, undoing and applying */
} row;

static const row TABLE[] = {
    /* an update */
    {OLD, NEW, NEW, ROLLBACK_RESTORE, ROLLBACK_ALREADY},
    {OLD, NEW, OLD, ROLLBACK_ALREADY, ROLLBACK_RESTORE},
    {OLD, NEW, LATE, ROLLBACK_CONFLICT, ROLLBACK_CONFLICT},
    {OLD, NEW, NULL, ROLLBACK_CONFLICT, ROLLBACK_CONFLICT},
    /* an insert (no OldImage): undo deletes */
    {NULL, NEW, NEW, ROLLBACK_DELETE, ROLLBACK_ALREADY},
    {NULL, NEW, NULL, ROLLBACK_ALREADY, ROLLBACK_RESTORE},
    {NULL, NEW, LATE, ROLLBACK_CONFLICT, ROLLBACK_CONFLICT},
    /* a delete (no NewImage): apply deletes */
    {OLD, NULL, NULL, ROLLBACK_RESTORE, ROLLBACK_ALREADY},
    {OLD, NULL, OLD, ROLLBACK_ALREADY, ROLLBACK_DELETE},
    {OLD, NULL, LATE, ROLLBACK_CONFLICT, ROLLBACK_CONFLICT},
};
#define NROWS (sizeof TABLE / sizeof TABLE[0])

static void test_classify(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROWS; i++)
        for (int apply = 0; apply < 2; apply++) {
            rb_rec r;
            buf c = enc(TABLE[i].cur);
            rec(&r, &KS, TABLE[i].old, TABLE[i].nw, apply);
            rollback_action got = rb_classify(&r, TABLE[i].cur ? c.data : NULL, c.len);
            rollback_action want = apply ? TABLE[i].apply : TABLE[i].undo;
            if (got != want) fail_msg("row %zu %s: %s, want %s", i, apply ? "apply" : "undo",
                                      rollback_action_name(got), rollback_action_name(want));
            rec_done(&r);
            buf_free(&c);
        }
}

/* An image that differs only in attribute order or set order is the same image. */
static void test_canonical(void **state)
{
    (void)state;
    rb_rec r;
    rec(&r, &KS, "{\"pk\":{\"S\":\"a\"},\"s\":{\"SS\":[\"x\",\"y\"]},\"v\":{\"N\":\"1.0\"}}", NEW, 0);
    buf c = enc("{\"v\":{\"N\":\"1\"},\"s\":{\"SS\":[\"y\",\"x\"]},\"pk\":{\"S\":\"a\"}}");
    assert_int_equal(rb_classify(&r, c.data, c.len), ROLLBACK_ALREADY);
    buf_free(&c);
    c = enc("{\"v\":{\"N\":\"1\"},\"pk\":{\"S\":\"a\"}}");   /* one attribute fewer */
    assert_int_equal(rb_classify(&r, c.data, c.len), ROLLBACK_CONFLICT);
    buf_free(&c);
    rec_done(&r);
}

/* ---- the tidemark-table target: what each case writes ---- */

static char home[256];

static void put_cur(const char *json)
{
    table *t;
    item *k = NULL, *it = NULL;
    assert_int_equal(table_open(home, "Orders", 0, &t), 0);
    assert_int_equal(item_parse_json(KEYS, strlen(KEYS), 0, &k), 0);
    int rc = table_delete_item(t, k, NULL, NULL, NULL);
    assert_true(rc == 0 || rc == TM_ENOTFOUND);
    if (json) {
        assert_int_equal(item_parse_json(json, strlen(json), 0, &it), 0);
        assert_int_equal(table_put(t, it, NULL, NULL, NULL), 0);
    }
    item_free(k);
    item_free(it);
    table_close(t);
}

/* The item now, encoded (data NULL: absent). */
static buf get_cur(void)
{
    table *t;
    item *k = NULL, *it = NULL;
    buf b = BUF_INIT;
    assert_int_equal(table_open(home, "Orders", TABLE_RDONLY, &t), 0);
    assert_int_equal(item_parse_json(KEYS, strlen(KEYS), 0, &k), 0);
    int rc = table_get(t, k, &it);
    assert_true(rc == 0 || rc == TM_ENOTFOUND);
    if (it) assert_int_equal(item_encode(it, &b), 0);
    item_free(k);
    item_free(it);
    table_close(t);
    return b;
}

static int same_as(const buf *b, const char *json)
{
    buf w = enc(json);
    int eq = (!b->data && !w.data) || (b->data && w.data && b->len == w.len &&
                                       !memcmp(b->data, w.data, b->len));
    buf_free(&w);
    return eq;
}

/* Runs one record through the target's batch write (the path of a real run). */
static rollback_action run_one(const row *rw, int apply, int force, int *wrote_target)
{
    rollback_options o = ROLLBACK_OPTIONS_INIT;
    rb_target *t;
    rb_rec r;
    o.home = home;
    o.table = "Orders";
    put_cur(rw->cur);
    rec(&r, &KS, rw->old, rw->nw, apply);
    assert_int_equal(rb_local_open(&o, &t), 0);
    assert_int_equal(t->ops->write_all(t, &r, 1, force, NULL), 0);
    t->ops->close(t);
    rollback_action a = r.action;
    buf now = get_cur();
    const char *target = apply ? rw->nw : rw->old;
    *wrote_target = same_as(&now, target);
    if (a == ROLLBACK_CONFLICT) assert_true(same_as(&now, rw->cur));   /* left alone */
    if (a == ROLLBACK_CONFLICT || a == ROLLBACK_OVERWRITTEN) {   /* the current image kept */
        assert_true(r.kept);
        assert_int_equal(r.has_cur, rw->cur != NULL);
    }
    buf_free(&now);
    rec_done(&r);
    return a;
}

static void test_target(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROWS; i++)
        for (int apply = 0; apply < 2; apply++) {
            rollback_action want = apply ? TABLE[i].apply : TABLE[i].undo;
            int wrote;
            /* skip (default) */
            rollback_action a = run_one(&TABLE[i], apply, 0, &wrote);
            if (a != want) fail_msg("row %zu %s: %s, want %s", i, apply ? "apply" : "undo",
                                    rollback_action_name(a), rollback_action_name(want));
            assert_int_equal(wrote, want != ROLLBACK_CONFLICT);
            /* overwrite: a conflict is written anyway; the rest as without it */
            a = run_one(&TABLE[i], apply, 1, &wrote);
            assert_int_equal(a, want == ROLLBACK_CONFLICT ? ROLLBACK_OVERWRITTEN : want);
            assert_true(wrote);
        }
}

/* ROLLBACK_FAIL reads first (ops->read): a conflict is found and nothing is written. */
static void test_read_only(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROWS; i++) {
        rollback_options o = ROLLBACK_OPTIONS_INIT;
        rb_target *t;
        rb_rec r;
        o.home = home;
        o.table = "Orders";
        o.dry_run = 1;
        put_cur(TABLE[i].cur);
        buf before = get_cur();
        rec(&r, &KS, TABLE[i].old, TABLE[i].nw, 0);
        assert_int_equal(rb_local_open(&o, &t), 0);
        assert_int_equal(t->ops->read(t, &r), 0);
        t->ops->close(t);
        assert_int_equal(r.action, TABLE[i].undo);
        buf after = get_cur();
        assert_int_equal(before.len, after.len);
        assert_true(!before.len || !memcmp(before.data, after.data, before.len));
        buf_free(&before);
        buf_free(&after);
        rec_done(&r);
    }
}

/* A second run over what was rolled back finds every item ALREADY. */
static void test_rerun(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROWS; i++) {
        int wrote;
        if (TABLE[i].undo == ROLLBACK_CONFLICT) continue;
        run_one(&TABLE[i], 0, 0, &wrote);
        row again = TABLE[i];
        again.cur = TABLE[i].old;   /* the table is now at the target */
        assert_int_equal(run_one(&again, 0, 0, &wrote), ROLLBACK_ALREADY);
    }
}

/* ---- the chain of applied exports ---- */

static layout_summary summary(int incremental, const char *from, const char *to, const char *arn)
{
    layout_summary s;
    memset(&s, 0, sizeof s);
    s.incremental = incremental;
    snprintf(s.export_arn, sizeof s.export_arn, "%s", arn);
    if (incremental) {
        snprintf(s.from_time, sizeof s.from_time, "%s", from);
        snprintf(s.to_time, sizeof s.to_time, "%s", to);
    } else {
        snprintf(s.export_time, sizeof s.export_time, "%s", from);
    }
    return s;
}

static void test_chain(void **state)
{
    (void)state;
    layout_summary full = summary(0, "2025-11-12T10:00:00.000Z", NULL, "arn:full");
    layout_summary i1 = summary(1, "2025-11-12T10:00:00.000Z", "2025-11-12T11:00:00.000Z", "arn:i1");
    layout_summary i2 = summary(1, "2025-11-12T11:00:00.000Z", "2025-11-12T12:00:00.000Z", "arn:i2");
    layout_summary gap = summary(1, "2025-11-12T11:30:00.000Z", "2025-11-12T13:00:00.000Z", "arn:g");
    layout_summary ovl = summary(1, "2025-11-12T10:30:00.000Z", "2025-11-12T13:00:00.000Z", "arn:o");
    assert_int_equal(rollback_chain_check(home, "Orders", &i2), 0);   /* no chain: unchecked */
    assert_int_equal(rollback_chain_record(home, "Orders", &full), 0);
    assert_int_equal(rollback_chain_check(home, "Orders", &i2), TM_EINVAL);   /* a gap */
    assert_non_null(strstr(err_msg(), "a gap"));
    assert_non_null(strstr(err_msg(), "10:00:00.000"));
    assert_non_null(strstr(err_msg(), "11:00:00.000"));
    assert_int_equal(rollback_chain_check(home, "Orders", &i1), 0);
    assert_int_equal(rollback_chain_record(home, "Orders", &i1), 0);
    assert_int_equal(rollback_chain_check(home, "Orders", &i1), TM_EINVAL);   /* a repeat */
    assert_non_null(strstr(err_msg(), "already applied"));
    assert_int_equal(rollback_chain_check(home, "Orders", &gap), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "11:30:00.000"));
    assert_int_equal(rollback_chain_check(home, "Orders", &ovl), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "an overlap"));
    assert_int_equal(rollback_chain_check(home, "Orders", &i2), 0);
    /* a damaged file is refused, not taken as no chain */
    char path[512];
    table_path(home, "Orders", "applied-exports", path, sizeof path);
    assert_int_equal(fsx_write_atomic(path, "tidemark-applied-exports 1\nBAD\n", 31), 0);
    assert_int_equal(rollback_chain_check(home, "Orders", &i2), TM_ECORRUPT);
    assert_int_equal(fsx_write_atomic(path, "tidemark-applied-exports 9\n", 27), 0);
    assert_int_equal(rollback_chain_check(home, "Orders", &i2), TM_ECORRUPT);
    unlink(path);
}

static int setup(void **state)
{
    (void)state;
    if (tu_tmpdir(home, sizeof home, "rollback_test")) return -1;
    table_create_opts co = TABLE_CREATE_OPTS_INIT;
    table_info info;
    return table_create(home, "Orders", &KS, &co, &info) ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    fsx_rmtree(home);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_target),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_rerun),
        cmocka_unit_test(test_chain),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
