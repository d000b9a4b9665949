/* lifecycle.c: tidemark's lifecycle operations (lifecycle/lifecycle.h does the work):
 *   TidemarkLifecycleRun     {TableName?, DryRun?, TidemarkReplayBudgetBytes?,
 *                             TidemarkRecompressDays?}            -> lifecycle_run's result
 *   TidemarkLifecycleApply   {Destination, Rules (the S3 lifecycle configuration, an object or
 *                             its text), DryRun?}                  -> {"Exports":[...]}
 *   TidemarkLifecycleVerify  {TableName? | Destination?, Tables? (bool), Full?, StateFile?}
 *   TidemarkLifecycleReport  {TableName?, Destination?}
 *   TidemarkListDeletedTables {}                                   -> {"DeletedTables":[...]}
 * A refused retention (a second would lose its plan) is TM_ERR_WRITE_CONFLICT (exit 3, "done
 * with conflicts": the rest of the run went on); damage found by verify is
 * TM_ERR_DATA_CORRUPTED (exit 1). Either way the response is returned too (*resp), so that a
 * front end prints the report beside the error. */
#include "api/ops.h"
#include "lifecycle/lifecycle.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/fsx.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>

#include <stdlib.h>
#include <string.h>

static int flag(const cJSON *req, const char *name)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, name));
}

static double num(const cJSON *req, const char *name)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(req, name);
    return cJSON_IsNumber(x) ? x->valuedouble : 0;
}

/* The result goes back even with an error: it says what was done and what was refused. */
static int finish(int rc, cJSON *res, cJSON **resp, tm_error *e)
{
    *resp = res;
    return rc ? tm_error_from(e, rc, NULL) : 0;
}

int tm_lifecycle_run(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    lifecycle_run_opts o = LIFECYCLE_RUN_OPTS_INIT;
    cJSON *res = NULL;
    int k;
    *resp = NULL;
    if ((k = req_str(req, "TableName", 0, &o.table, e))) return k;
    o.home = db->home;
    o.dry_run = flag(req, "DryRun");
    o.replay_budget = (uint64_t)num(req, "TidemarkReplayBudgetBytes");
    o.recompress_days = (int)num(req, "TidemarkRecompressDays");
    int rc = lifecycle_run(&o, &res);
    return finish(rc, res, resp, e);
}

int tm_lifecycle_apply(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    lifecycle_apply_opts o = {NULL, NULL, NULL, 0, 0};
    cJSON *res = NULL;
    int k;
    (void)db;
    *resp = NULL;
    if ((k = req_str(req, "Destination", 1, &o.dest, e))) return k;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(req, "Rules");
    char *text = cJSON_IsString(r) ? strdup(r->valuestring) : cJSON_PrintUnformatted(r);
    if (!r || !text) {
        free(text);
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "Rules is required (the S3 lifecycle configuration)");
    }
    o.rules_json = text;
    o.dry_run = flag(req, "DryRun");
    int rc = lifecycle_apply(&o, &res);
    free(text);
    if (rc == TM_EINVAL && !res) return tm_error_set(e, TM_ERR_BAD_PARAMETER, "%s", err_msg());
    return finish(rc, res, resp, e);
}

int tm_lifecycle_verify(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    lifecycle_verify_opts o = {NULL, NULL, NULL, NULL, 0, NULL};
    cJSON *res = NULL;
    int k;
    *resp = NULL;
    if ((k = req_str(req, "TableName", 0, &o.table, e))) return k;
    if ((k = req_str(req, "Destination", 0, &o.dest, e))) return k;
    if ((k = req_str(req, "StateFile", 0, &o.state, e))) return k;
    if (o.table || !o.dest || flag(req, "Tables")) o.home = db->home;
    o.full = flag(req, "Full");
    int rc = lifecycle_verify(&o, &res);
    return finish(rc, res, resp, e);
}

int tm_lifecycle_report(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    const char *tname = NULL, *dest = NULL;
    cJSON *res = NULL, *d = NULL;
    int k, rc = 0;
    *resp = NULL;
    if ((k = req_str(req, "TableName", 0, &tname, e))) return k;
    if ((k = req_str(req, "Destination", 0, &dest, e))) return k;
    if (tname || !dest) rc = lifecycle_report(db->home, tname, &res);
    if (!res) res = cJSON_CreateObject();
    if (!rc && dest && (rc = lifecycle_report_dest(dest, NULL, &d)) == 0)
        cJSON_AddItemToObject(res, "Destinations", cJSON_CreateArray()),
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(res, "Destinations"), d);
    return finish(rc, res, resp, e);
}

int tm_list_deleted_tables(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    (void)req;
    (void)e;
    *resp = cJSON_CreateObject();
    lifecycle_deleted_json(db->home, *resp);
    return 0;
}

/* ================================================================ deleted tables' restore */

int api_restore_deleted_source(tm_db *db, const char *source, const char *target,
                               int64_t *t_us, char *dhome, size_t dn, tm_error *e)
{
    char dir[PATH_MAX];
    lifecycle_deleted d;
    dhome[0] = '\0';
    table_path(db->home, source, NULL, dir, sizeof dir);
    if (table_check_name(source) || fsx_exists(dir)) return 0;
    if (lifecycle_deleted_find(db->home, source, &d)) return 0;   /* not found: restore says so */
    char a[40], b[40];
    clock_format(d.deleted_us, 6, a, sizeof a);
    if (*t_us == INT64_MAX) *t_us = d.deleted_us;
    if (*t_us > d.deleted_us) {
        clock_format(*t_us, 6, b, sizeof b);
        return tm_error_set(e, TM_ERR_INVALID_RESTORE_TIME, "table %s was deleted at %s: %s is "
                            "after its deletion", source, a, b);
    }
    table_path(db->home, target, NULL, dir, sizeof dir);
    if (fsx_exists(dir)) return tm_error_set(e, TM_ERR_TABLE_ALREADY_EXISTS, "table %s already exists", target);
    snprintf(dhome, dn, "%s", d.home);
    return 0;
}

int api_restore_deleted_publish(tm_db *db, const char *dhome, const char *target)
{
    char from[PATH_MAX], to[PATH_MAX];
    table_path(dhome, target, NULL, from, sizeof from);
    table_path(db->home, target, NULL, to, sizeof to);
    if (rename(from, to) < 0) {
        int rc = err_sys(errno == ENOTEMPTY || errno == EEXIST ? TM_EEXIST : TM_EIO, errno,
                         "rename %s to %s", from, to);
        fsx_rmtree(from);
        return rc;
    }
    fsx_fsync_parent(to);
    return 0;
}
