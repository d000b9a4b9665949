/* tables.c: the control-plane operations: CreateTable, DescribeTable, ListTables, DeleteTable,
 * UpdateContinuousBackups and DescribeContinuousBackups. */
#include "api/ops.h"
#include "lifecycle/lifecycle.h"
#include "engine/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ CreateTable */

/* KeySchema + AttributeDefinitions -> ks. */
static int req_key_schema(const cJSON *req, key_schema *ks, tm_error *e)
{
    return key_schema_from_json(req, ks) ? tm_error_set(e, TM_ERR_BAD_PARAMETER, "%s", err_msg()) : 0;
}

/* TidemarkSettings: {"Durability":"sync"|"none","SnapshotEverySeconds":N,"SnapshotEveryWrites":N} */
static int req_settings(const cJSON *req, table_create_opts *co, tm_error *e)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(req, "TidemarkSettings"), *v;
    if (!s) return 0;
    const char *d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "Durability"));
    if (d && !strcmp(d, "sync")) co->durability = LOG_SYNC_FULL;
    else if (d && !strcmp(d, "none")) co->durability = LOG_SYNC_NONE;
    else if (d || cJSON_GetObjectItemCaseSensitive(s, "Durability"))
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "Durability must be sync or none, not '%s'", d ? d : "?");
    if ((v = cJSON_GetObjectItemCaseSensitive(s, "SnapshotEverySeconds"))) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0)
            return tm_error_set(e, TM_ERR_BAD_PARAMETER, "SnapshotEverySeconds must be a number >= 0");
        co->snapshot_every_s = (int64_t)v->valuedouble;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(s, "SnapshotEveryWrites"))) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0)
            return tm_error_set(e, TM_ERR_BAD_PARAMETER, "SnapshotEveryWrites must be a number >= 0");
        co->snapshot_every_writes = (uint64_t)v->valuedouble;
    }
    return 0;
}

int tm_create_table(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    key_schema ks;
    table_create_opts co = TABLE_CREATE_OPTS_INIT;
    table_info info;
    const char *name;
    int k, rc;
    *resp = NULL;
    if ((k = req_table_name(req, &name, e)) || (k = req_key_schema(req, &ks, e)) || (k = req_settings(req, &co, e)))
        return k;
    if ((rc = table_create(db->home, name, &ks, &co, &info))) return tm_error_from(e, rc, NULL);
    *resp = cJSON_CreateObject();
    cJSON_AddItemToObject(*resp, "TableDescription", shape_table_description(&info, "ACTIVE"));
    return 0;
}

/* ================================================================ Describe, List, Delete */

static int describe(tm_db *db, const cJSON *req, table_info *info, const char **name, tm_error *e)
{
    table *t = NULL;
    int k = req_table_name(req, name, e);
    if (k || (k = api_open_table(db, *name, TABLE_RDONLY, &t, info, e))) return k;
    api_close_table(db, *name, t);
    return 0;
}

int tm_describe_table(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    table_info info;
    const char *name;
    int k;
    *resp = NULL;
    if ((k = describe(db, req, &info, &name, e))) return k;
    *resp = cJSON_CreateObject();
    cJSON_AddItemToObject(*resp, "Table", shape_table_description(&info, "ACTIVE"));
    return 0;
}

int tm_list_tables(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    char **names = NULL;
    size_t n = 0, limit = 100, shown = 0;
    const char *start = NULL;
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(req, "Limit");
    int k, rc;
    *resp = NULL;
    if ((k = req_str(req, "ExclusiveStartTableName", 0, &start, e))) return k;
    if (l && (!cJSON_IsNumber(l) || l->valuedouble < 1 || l->valuedouble > 100))
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "Limit must be 1..100");
    if (l) limit = (size_t)l->valuedouble;
    if ((rc = table_list(db->home, &names, &n))) return tm_error_from(e, rc, NULL);
    cJSON *j = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(j, "TableNames");
    size_t i = 0;
    while (i < n && start && strcmp(names[i], start) <= 0) i++;
    for (; i < n && shown < limit; i++, shown++) cJSON_AddItemToArray(a, cJSON_CreateString(names[i]));
    if (i < n && shown) cJSON_AddStringToObject(j, "LastEvaluatedTableName", names[i - 1]);
    table_names_free(names, n);
    *resp = j;
    return 0;
}

int tm_delete_table(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    table_info info;
    const char *name;
    int k, rc;
    *resp = NULL;
    if ((k = describe(db, req, &info, &name, e))) return k;
    /* With PITR on the history stays for the period (lifecycle/deleted.c). */
    int kept = 0;
    api_forget_table(db, name);
    if ((rc = lifecycle_delete_table(db->home, name, &kept))) return tm_error_from(e, rc, NULL);
    if (kept)
        api_notice(db, "table %s: its point-in-time history is kept for %d days (tidemark "
                   "list-tables --deleted; tidemark-restore brings it back)", name,
                   info.pitr_period_days);
    *resp = cJSON_CreateObject();
    cJSON_AddItemToObject(*resp, "TableDescription", shape_table_description(&info, "DELETING"));
    return 0;
}

/* ================================================================ continuous backups */

static int backups_response(tm_db *db, const char *name, unsigned flags, int set, int enable, int days,
                            cJSON **resp, tm_error *e)
{
    table *t = NULL;
    table_info info;
    int k, rc;
    if ((k = api_open_table(db, name, flags, &t, NULL, e))) return k;
    if (set && (rc = table_set_pitr(t, enable, days))) k = tm_error_from(e, rc, NULL);
    else if ((rc = table_describe(t, &info))) k = tm_error_from(e, rc, NULL);
    else k = shape_continuous_backups(db, t, &info, resp, e);
    api_close_table(db, name, t);
    return k;
}

int tm_describe_continuous_backups(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    const char *name;
    int k;
    *resp = NULL;
    if ((k = req_table_name(req, &name, e))) return k;
    return backups_response(db, name, TABLE_RDONLY, 0, 0, 0, resp, e);
}

int tm_update_continuous_backups(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(req, "PointInTimeRecoverySpecification"), *en, *d;
    const char *name;
    int k, days = 0;
    *resp = NULL;
    if ((k = req_table_name(req, &name, e))) return k;
    en = cJSON_GetObjectItemCaseSensitive(spec, "PointInTimeRecoveryEnabled");
    if (!cJSON_IsBool(en))
        return tm_error_set(e, TM_ERR_BAD_PARAMETER,
                            "PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled is required");
    if ((d = cJSON_GetObjectItemCaseSensitive(spec, "RecoveryPeriodInDays"))) {
        if (!cJSON_IsNumber(d) || d->valuedouble < 1 || d->valuedouble > TABLE_PITR_MAX_DAYS ||
            d->valuedouble != (int)d->valuedouble)
            return tm_error_set(e, TM_ERR_BAD_PARAMETER, "RecoveryPeriodInDays must be between 1 and %d",
                                TABLE_PITR_MAX_DAYS);
        days = (int)d->valuedouble;
    }
    /* enabling without a period: the default (35); disabling keeps the period */
    if (cJSON_IsTrue(en) && !days) days = TABLE_PITR_MAX_DAYS;
    return backups_response(db, name, 0, 1, cJSON_IsTrue(en), days, resp, e);
}
