/* lifecycle_test.c: the lifecycle module (lifecycle/lifecycle.h) and the holds it respects
 * (engine/hold.h), on real tables in a temporary directory with the clock set:
 *   1. run: a dry run deletes nothing and lists what would go; a run deletes it and the window
 *      is the period's; a second run has nothing left; a log with a hole refuses (TM_ECONFLICT,
 *      naming the second) and deletes nothing;
 *   2. apply: rules that do not parse are refused naming the member; valid rules on an empty
 *      destination do nothing;
 *   3. holds: taken, narrowed, listed, released; a dead holder's hold expires; hold_filter
 *      keeps from the first held segment on; export holds live beside the exports;
 *   4. deleted tables: kept with PITR on (listed, found, purged after the period), gone at
 *      once with PITR off. */
#include "lifecycle/lifecycle.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/hold.h"
#include "engine/item.h"
#include "engine/table.h"

#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testutil.h"

#define SEC CLOCK_US_PER_SEC
#define HOUR (3600 * SEC)
#define DAY (86400 * SEC)
static const int64_t T0 = 1735689600LL * SEC;   /* 2025-01-01T00:00:00Z */
static int nkeys = 20;                           /* keys written a day (fewer under valgrind) */

static void new_home(char *home, size_t n)
{
    assert_int_equal(tu_tmpdir(home, n, "tm-lifecycle"), 0);
}

static void make_table(const char *home, const char *name, int period)
{
    key_schema ks;
    memset(&ks, 0, sizeof ks);
    snprintf(ks.hash_name, sizeof ks.hash_name, "k");
    ks.hash_type = AV_N;
    table_create_opts o = TABLE_CREATE_OPTS_INIT;
    clock_set_us(T0);
    assert_int_equal(table_create(home, name, &ks, &o, NULL), 0);
    if (!period) return;
    table *t = NULL;
    assert_int_equal(table_open(home, name, 0, &t), 0);
    assert_int_equal(table_set_pitr(t, 1, period), 0);
    table_close(t);
}

/* Keys 1..n get "day<d>" at noon of day d. */
static void write_day(const char *home, const char *name, int d, int n)
{
    table *t = NULL;
    clock_set_us(T0 + d * DAY + 12 * HOUR);
    assert_int_equal(table_open(home, name, 0, &t), 0);
    for (int k = 1; k <= n; k++) {
        char js[256];
        int len = snprintf(js, sizeof js, "{\"k\":{\"N\":\"%d\"},\"v\":{\"S\":\"day%d-%060d\"}}", k, d, 0);
        item *it = NULL;
        assert_int_equal(item_parse_json(js, (size_t)len, 0, &it), 0);
        assert_int_equal(table_put(t, it, NULL, NULL, NULL), 0);
        item_free(it);
    }
    table_close(t);
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static double num(const cJSON *o, const char *name)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static const cJSON *first_table(const cJSON *res)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(res, "Tables"), 0);
}

/* ================================================================ 1. run ==== */

static void test_run(void **state)
{
    (void)state;
    char home[PATH_MAX], log_dir[PATH_MAX + 32];
    new_home(home, sizeof home);
    make_table(home, "Life", 2);
    for (int d = 0; d < 10; d++) write_day(home, "Life", d, nkeys);
    snprintf(log_dir, sizeof log_dir, "%s/tables/Life/log", home);
    int before = count_files(log_dir);
    clock_set_us(T0 + 9 * DAY + 23 * HOUR);
    lifecycle_run_opts o = LIFECYCLE_RUN_OPTS_INIT;
    o.home = home;
    o.dry_run = 1;
    cJSON *res = NULL;
    assert_int_equal(lifecycle_run(&o, &res), 0);
    int planned = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(first_table(res), "Actions"));
    assert_true(planned > 2);
    assert_int_equal(num(res, "Deleted"), 0);
    assert_int_equal(count_files(log_dir), before);
    cJSON_Delete(res);
    /* the run deletes; the window is the period's */
    o.dry_run = 0;
    assert_int_equal(lifecycle_run(&o, &res), 0);
    assert_true(num(res, "Deleted") > 2);
    assert_true(count_files(log_dir) < before);
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(first_table(res), "Window");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(w, "EarliestRestorableDateTime")),
                        "2025-01-08T23:00:00.000000Z");
    cJSON_Delete(res);
    assert_int_equal(lifecycle_run(&o, &res), 0);
    assert_int_equal(num(res, "Deleted"), 0);
    cJSON_Delete(res);
    /* a hole in the log inside the window and no snapshot to start after it: seconds before
     * the hole have no plan; the run refuses, names the second, deletes nothing */
    for (int d = 10; d < 13; d++) write_day(home, "Life", d, nkeys);
    log_segment *segs = NULL;
    size_t ns = 0;
    assert_int_equal(log_list(log_dir, &segs, &ns), 0);
    assert_true(ns >= 4);
    char victim[PATH_MAX + 128];
    snprintf(victim, sizeof victim, "%s/%s", log_dir, segs[ns - 2].name);
    free(segs);
    assert_int_equal(unlink(victim), 0);
    snprintf(victim, sizeof victim, "%s/tables/Life/snapshots", home);
    assert_int_equal(fsx_rmtree(victim), 0);
    assert_int_equal(mkdir(victim, 0755), 0);
    before = count_files(log_dir);
    clock_set_us(T0 + 12 * DAY + 23 * HOUR);
    int rc = lifecycle_run(&o, &res);
    if (rc != TM_ECONFLICT) fail_msg("run with a hole: %d, %s", rc, err_msg());
    assert_int_equal(num(res, "Refused"), 1);
    const char *why = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first_table(res), "Refused"));
    assert_non_null(why);
    assert_non_null(strstr(why, "without a restore plan"));
    assert_non_null(strstr(why, "2025-01-1"));
    assert_int_equal(num(res, "Deleted"), 0);
    assert_int_equal(count_files(log_dir), before);
    cJSON_Delete(res);
    fsx_rmtree(home);
}

/* ================================================================ 2. apply ==== */

static void test_apply_rules(void **state)
{
    (void)state;
    static const struct { const char *rules, *says; } bad[] = {
        {"not json", "Rules array"},
        {"{\"Rules\":{}}", "Rules array"},
        {"{\"Rules\":[{\"ID\":\"a\",\"Status\":\"On\"}]}", "Status"},
        {"{\"Rules\":[{\"ID\":\"b\",\"Status\":\"Enabled\",\"Transitions\":[{\"Days\":3}]}]}", "StorageClass"},
        {"{\"Rules\":[{\"ID\":\"c\",\"Status\":\"Enabled\",\"Transitions\":[{\"Days\":-1,\"StorageClass\":\"GLACIER\"}]}]}", "Days"},
        {"{\"Rules\":[{\"ID\":\"d\",\"Status\":\"Enabled\",\"Expiration\":{\"Days\":0}}]}", "Expiration.Days"},
    };
    char dest[PATH_MAX];
    new_home(dest, sizeof dest);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        lifecycle_apply_opts o = {dest, NULL, bad[i].rules, 0, T0};
        cJSON *res = NULL;
        if (lifecycle_apply(&o, &res) != TM_EINVAL) fail_msg("rules %zu (%s) accepted", i, bad[i].rules);
        if (!strstr(err_msg(), bad[i].says)) fail_msg("rules %zu: '%s' does not name %s", i, err_msg(), bad[i].says);
        assert_null(res);
    }
    lifecycle_apply_opts o = {dest, NULL, "{\"Rules\":[{\"ID\":\"e\",\"Status\":\"Enabled\",\"Prefix\":\"\","
                              "\"Expiration\":{\"Days\":1}}]}", 0, T0};
    cJSON *res = NULL;
    assert_int_equal(lifecycle_apply(&o, &res), 0);
    assert_int_equal(num(res, "Actions"), 0);
    cJSON_Delete(res);
    fsx_rmtree(dest);
}

/* ================================================================ 3. holds ==== */

static void test_holds(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    new_home(dir, sizeof dir);
    hold *h = NULL;
    assert_int_equal(hold_take(dir, "restore", &h), 0);
    hold_info *v = NULL;
    size_t n = 0;
    assert_int_equal(hold_list(dir, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].what, "restore");
    assert_true(hold_covers_seqs(v, n, 1, 2));
    assert_true(hold_covers_snap(v, n, "0000000000000010"));
    free(v);
    assert_int_equal(hold_narrow(h, 11, 20, "000000000000000a"), 0);
    assert_int_equal(hold_list(dir, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_false(hold_covers_seqs(v, n, 1, 10));
    assert_true(hold_covers_seqs(v, n, 5, 11));
    assert_true(hold_covers_seqs(v, n, 20, 30));
    assert_false(hold_covers_seqs(v, n, 21, 30));
    assert_true(hold_covers_snap(v, n, "000000000000000a"));
    assert_false(hold_covers_snap(v, n, "0000000000000010"));
    /* hold_filter: from the first held segment on, nothing goes; held snapshots stay */
    log_segment segs[4];
    memset(segs, 0, sizeof segs);
    for (int i = 0; i < 4; i++) segs[i].first_seq = (uint64_t)i * 10 + 1, segs[i].last_seq = (uint64_t)i * 10 + 10;
    snap_info snaps[2];
    memset(snaps, 0, sizeof snaps);
    snprintf(snaps[0].name, sizeof snaps[0].name, "0000000000000005");
    snprintf(snaps[1].name, sizeof snaps[1].name, "000000000000000a");
    unsigned char ds[4] = {1, 1, 1, 1}, dn[2] = {1, 1};
    assert_int_equal(hold_filter(v, n, segs, 4, ds, snaps, 2, dn), 4);   /* segs 1..3 (11.. held), snap 0a */
    static const unsigned char want_s[4] = {1, 0, 0, 0}, want_n[2] = {1, 0};
    assert_memory_equal(ds, want_s, 4);
    assert_memory_equal(dn, want_n, 2);
    free(v);
    hold_release(h);
    assert_int_equal(hold_list(dir, &v, &n), 0);
    assert_int_equal(n, 0);
    free(v);
    /* a holder that is gone: its hold expires at the next listing, and the file goes */
    pid_t pid = fork();
    if (pid == 0) {
        hold *c = NULL;
        _exit(hold_take(dir, "export", &c) ? 1 : 0);   /* exits holding it */
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(WEXITSTATUS(st), 0);
    char holds[PATH_MAX + 8];
    snprintf(holds, sizeof holds, "%s/holds", dir);
    assert_int_equal(count_files(holds), 1);
    assert_int_equal(hold_list(dir, &v, &n), 0);
    assert_int_equal(n, 0);
    free(v);
    assert_int_equal(count_files(holds), 0);
    /* exports: s3:// and paths that are no export folder hold nothing; a bundle's hold lives in
     * AWSDynamoDB/.holds/<id>/ */
    assert_int_equal(hold_take_export("s3://bucket/p/AWSDynamoDB/01-x", "rollback", &h), 0);
    assert_null(h);
    assert_int_equal(hold_take_export(dir, "rollback", &h), 0);
    assert_null(h);
    char aws[PATH_MAX + 16], bundle[PATH_MAX + 64], edir[PATH_MAX + 64];
    snprintf(aws, sizeof aws, "%s/AWSDynamoDB", dir);
    assert_int_equal(fsx_mkdirs(aws, 0755), 0);
    snprintf(bundle, sizeof bundle, "%s/01735689600000-abcd.tar.zst", aws);
    assert_int_equal(fsx_write_atomic(bundle, "x", 1), 0);
    assert_int_equal(hold_take_export(bundle, "rollback", &h), 0);
    assert_non_null(h);
    assert_int_equal(hold_export_dir(aws, "01735689600000-abcd", 0, edir, sizeof edir), 0);
    assert_int_equal(hold_list(edir, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].what, "rollback");
    free(v);
    hold_release(h);
    /* the folder path of an export that was bundled is held as its bundle (the reader opens it) */
    char folder[PATH_MAX + 64];
    snprintf(folder, sizeof folder, "%s/01735689600000-abcd", aws);
    assert_int_equal(hold_take_export(folder, "rollback", &h), 0);
    assert_non_null(h);
    assert_int_equal(hold_list(edir, &v, &n), 0);
    assert_int_equal(n, 1);
    free(v);
    hold_release(h);
    snprintf(folder, sizeof folder, "%s/01735689600000-none", aws);   /* neither: nothing */
    assert_int_equal(hold_take_export(folder, "rollback", &h), 0);
    assert_null(h);
    fsx_rmtree(dir);
}

/* ================================================================ 4. deleted tables ==== */

static void test_deleted(void **state)
{
    (void)state;
    char home[PATH_MAX], tdir[PATH_MAX + 32];
    new_home(home, sizeof home);
    make_table(home, "Kept", 3);
    make_table(home, "Plain", 0);
    write_day(home, "Kept", 0, 5);
    write_day(home, "Plain", 0, 5);
    int kept = -1;
    clock_set_us(T0 + DAY);
    assert_int_equal(lifecycle_delete_table(home, "Kept", &kept), 0);
    assert_int_equal(kept, 1);
    assert_int_equal(lifecycle_delete_table(home, "Plain", &kept), 0);
    assert_int_equal(kept, 0);
    assert_int_equal(lifecycle_delete_table(home, "Nothing", &kept), TM_ENOTFOUND);
    snprintf(tdir, sizeof tdir, "%s/tables/Kept", home);
    assert_false(fsx_exists(tdir));
    lifecycle_deleted *v = NULL;
    size_t n = 0;
    assert_int_equal(lifecycle_deleted_list(home, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].name, "Kept");
    assert_int_equal(v[0].deleted_us, T0 + DAY);
    assert_int_equal(v[0].period_days, 3);
    assert_int_equal(v[0].keep_until_us, T0 + 4 * DAY);
    assert_true(v[0].earliest_us <= T0 + 12 * HOUR);
    free(v);
    lifecycle_deleted d;
    assert_int_equal(lifecycle_deleted_find(home, "Kept", &d), 0);
    assert_true(fsx_exists(d.home));
    assert_int_equal(lifecycle_deleted_find(home, "Plain", &d), TM_ENOTFOUND);
    /* before the period ends a run keeps it; after, it is purged */
    lifecycle_run_opts o = LIFECYCLE_RUN_OPTS_INIT;
    o.home = home;
    cJSON *res = NULL;
    clock_set_us(T0 + 3 * DAY);
    assert_int_equal(lifecycle_run(&o, &res), 0);
    cJSON_Delete(res);
    assert_int_equal(lifecycle_deleted_list(home, &v, &n), 0);
    assert_int_equal(n, 1);
    free(v);
    clock_set_us(T0 + 4 * DAY + SEC);
    assert_int_equal(lifecycle_run(&o, &res), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(res, "DeletedTablesPurged")), 1);
    cJSON_Delete(res);
    assert_int_equal(lifecycle_deleted_list(home, &v, &n), 0);
    assert_int_equal(n, 0);
    free(v);
    /* an entry of a newer format is skipped (and kept); a purge a crash cut short is finished */
    char ent[PATH_MAX + 64], js[PATH_MAX + 96];
    snprintf(ent, sizeof ent, "%s/deleted/Future@0000000000000001", home);
    assert_int_equal(fsx_mkdirs(ent, 0755), 0);
    snprintf(js, sizeof js, "%s/deleted.json", ent);
    const char *rec = "{\"Version\":2,\"TableName\":\"Future\",\"DeletionTime\":1,\"RecoveryPeriodInDays\":1}";
    assert_int_equal(fsx_write_atomic(js, rec, strlen(rec)), 0);
    snprintf(ent, sizeof ent, "%s/deleted/.Old@0000000000000002.purge/tables", home);
    assert_int_equal(fsx_mkdirs(ent, 0755), 0);
    assert_int_equal(lifecycle_deleted_list(home, &v, &n), 0);
    assert_int_equal(n, 0);
    free(v);
    assert_true(fsx_exists(js));
    snprintf(ent, sizeof ent, "%s/deleted/.Old@0000000000000002.purge", home);
    assert_false(fsx_exists(ent));
    fsx_rmtree(home);
}

int main(void)
{
    const char *pre = getenv("LD_PRELOAD");
    if (pre && strstr(pre, "vgpreload")) nkeys = 6;
    setenv("TIDEMARK_SEGMENT_BYTES", nkeys < 20 ? "700" : "2048", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run),
        cmocka_unit_test(test_apply_rules),
        cmocka_unit_test(test_holds),
        cmocka_unit_test(test_deleted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
