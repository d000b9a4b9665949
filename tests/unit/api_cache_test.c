/* api_cache_test.c: the open-table cache of a TM_DB_KEEP_OPEN handle (api/db.c), as tidemark
 * serve uses it: one handle per table across operations, single writes of many threads joined
 * in its group commit, and a table changed, deleted or made again behind its back (by another
 * process) opened again, never served from the old handle. */
#include "include/tidemark.h"
#include "api/ops.h"
#include "engine/fsx.h"
#include "engine/table.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testutil.h"

typedef tu_api fx;

static int setup(void **state) { return tu_api_setup(state, "tm-api-cache-test", TM_DB_KEEP_OPEN); }

static int call(tm_db *db, const char *op, const char *req, cJSON **resp)
{
    return tu_call(db, op, req, resp, NULL);
}

static void create(fx *f, const char *hash)
{
    char spec[64];
    snprintf(spec, sizeof spec, "%s:S", hash);
    tu_create_table(f->db, "Tbl", spec, NULL);
}

static int scan_count(fx *f)
{
    cJSON *r = NULL;
    assert_int_equal(call(f->db, "Scan", "{\"TableName\":\"Tbl\",\"Select\":\"COUNT\"}", &r), 0);
    assert_null(cJSON_GetObjectItem(r, "Items"));   /* Select COUNT: no Items */
    int n = cJSON_GetObjectItem(r, "Count")->valueint;
    cJSON_Delete(r);
    return n;
}

/* One handle for every operation on the table while table.json stays the same. */
static void test_kept_open(void **state)
{
    fx *f = *state;
    table *a, *b;
    table_info ia;
    tm_error e;
    create(f, "pk");
    assert_int_equal(api_open_table(f->db, "Tbl", API_KEEP_OPEN, &a, &ia, &e), 0);
    assert_int_equal(api_open_table(f->db, "Tbl", TABLE_RDONLY | API_KEEP_OPEN, &b, NULL, &e), 0);
    assert_ptr_equal(a, b);
    assert_string_equal(ia.ks.hash_name, "pk");
    api_close_table(f->db, "Tbl", b);
    assert_int_equal(call(f->db, "PutItem", "{\"TableName\":\"Tbl\",\"Item\":{\"pk\":{\"S\":\"a\"}}}", NULL), 0);
    assert_int_equal(api_open_table(f->db, "Tbl", API_KEEP_OPEN, &b, NULL, &e), 0);
    assert_ptr_equal(a, b);
    api_close_table(f->db, "Tbl", b);
    api_close_table(f->db, "Tbl", a);
    assert_int_equal(scan_count(f), 1);
}

/* Another process turns PITR on (table.json replaced): the next operation sees the setting. */
static void test_settings_changed(void **state)
{
    fx *f = *state;
    table *t, *other;
    table_info info;
    tm_error e;
    create(f, "pk");
    assert_int_equal(api_open_table(f->db, "Tbl", API_KEEP_OPEN, &t, &info, &e), 0);
    assert_int_equal(info.pitr_enabled, 0);
    api_close_table(f->db, "Tbl", t);
    assert_int_equal(table_open(f->home, "Tbl", 0, &other), 0);
    assert_int_equal(table_set_pitr(other, 1, 7), 0);
    table_close(other);
    assert_int_equal(api_open_table(f->db, "Tbl", API_KEEP_OPEN, &t, &info, &e), 0);
    assert_int_equal(info.pitr_enabled, 1);
    assert_int_equal(info.pitr_period_days, 7);
    api_close_table(f->db, "Tbl", t);
}

/* Another process deletes the table and makes one of the same name with another key: the old
 * handle (nor its LMDB environment) must not serve it. */
static void test_made_again(void **state)
{
    fx *f = *state;
    create(f, "pk");
    assert_int_equal(call(f->db, "PutItem", "{\"TableName\":\"Tbl\",\"Item\":{\"pk\":{\"S\":\"old\"}}}", NULL), 0);
    assert_int_equal(scan_count(f), 1);
    assert_int_equal(table_delete(f->home, "Tbl"), 0);
    assert_int_equal(call(f->db, "GetItem", "{\"TableName\":\"Tbl\",\"Key\":{\"pk\":{\"S\":\"old\"}}}", NULL),
                     TM_ERR_RESOURCE_NOT_FOUND);
    create(f, "id");
    assert_int_equal(call(f->db, "PutItem", "{\"TableName\":\"Tbl\",\"Item\":{\"id\":{\"S\":\"new\"}}}", NULL), 0);
    assert_int_equal(scan_count(f), 1);
    cJSON *r = NULL;
    assert_int_equal(call(f->db, "GetItem", "{\"TableName\":\"Tbl\",\"Key\":{\"id\":{\"S\":\"new\"}}}", &r), 0);
    assert_non_null(cJSON_GetObjectItem(r, "Item"));
    cJSON_Delete(r);
}

/* Held while DeleteTable runs (a request in flight): it stays usable until given back, and a
 * table made again under the name is a new one. */
static void test_deleted_while_held(void **state)
{
    fx *f = *state;
    table *held;
    item *it = NULL;
    tm_error e;
    create(f, "pk");
    assert_int_equal(call(f->db, "PutItem", "{\"TableName\":\"Tbl\",\"Item\":{\"pk\":{\"S\":\"a\"}}}", NULL), 0);
    assert_int_equal(api_open_table(f->db, "Tbl", TABLE_RDONLY | API_KEEP_OPEN, &held, NULL, &e), 0);
    assert_int_equal(call(f->db, "DeleteTable", "{\"TableName\":\"Tbl\"}", NULL), 0);
    create(f, "pk");
    assert_int_equal(scan_count(f), 0);
    assert_int_equal(item_parse_json("{\"pk\":{\"S\":\"a\"}}", 16, 0, &it), 0);
    item *got = NULL;
    assert_int_equal(table_get(held, it, &got), 0);   /* the old table, as it was */
    item_free(got);
    item_free(it);
    api_close_table(f->db, "Tbl", held);
    assert_int_equal(scan_count(f), 0);
}

#define THREADS 8
#define PUTS 40

typedef struct worker {
    tm_db *db;
    int id, failed;
} worker;

static void *put_many(void *arg)
{
    worker *w = arg;
    char req[128];
    for (int i = 0; i < PUTS; i++) {
        snprintf(req, sizeof req, "{\"TableName\":\"Tbl\",\"Item\":{\"pk\":{\"S\":\"w%d-%d\"}}}", w->id, i);
        if (call(w->db, "PutItem", req, NULL)) w->failed++;
    }
    return NULL;
}

/* Single writes of many threads (serve's connections) meet in one handle's group commit. */
static void test_group_commit(void **state)
{
    fx *f = *state;
    pthread_t th[THREADS];
    worker w[THREADS];
    table *t;
    tm_error e;
    create(f, "pk");
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){f->db, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, put_many, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failed, 0);
    }
    assert_int_equal(scan_count(f), THREADS * PUTS);
    assert_int_equal(api_open_table(f->db, "Tbl", API_KEEP_OPEN, &t, NULL, &e), 0);
    uint64_t commits = table_group_commits(t);
    api_close_table(f->db, "Tbl", t);
    assert_true(commits > 0);                    /* the writes went through this handle */
    assert_true(commits < THREADS * PUTS);       /* and were joined */
}

/* Without TM_DB_KEEP_OPEN (the CLI), every operation opens and closes its table. */
static void test_cli_not_cached(void **state)
{
    fx *f = *state;
    tm_db *db;
    table *a;
    tm_error e;
    create(f, "pk");
    assert_int_equal(tm_db_open(f->home, 0, &db, &e), 0);
    assert_int_equal(api_open_table(db, "Tbl", API_KEEP_OPEN, &a, NULL, &e), 0);
    assert_null(db->tables);
    api_close_table(db, "Tbl", a);
    tm_db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kept_open, setup, tu_api_teardown),
        cmocka_unit_test_setup_teardown(test_settings_changed, setup, tu_api_teardown),
        cmocka_unit_test_setup_teardown(test_made_again, setup, tu_api_teardown),
        cmocka_unit_test_setup_teardown(test_deleted_while_held, setup, tu_api_teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, tu_api_teardown),
        cmocka_unit_test_setup_teardown(test_cli_not_cached, setup, tu_api_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
