/* call.c: the operation table and tm_call, the one dispatcher every front end shares (the
 * `tidemark call` command, `tidemark serve`). One line per operation. */
#include "api/ops.h"
#include "api/backup.h"
#include "api/wire.h"
#include "api/rollback.h"

#include <string.h>

static const tm_op ops[] = {
    /* DynamoDB's */
    {"PutItem", tm_put_item},
    {"GetItem", tm_get_item},
    {"UpdateItem", tm_update_item},
    {"DeleteItem", tm_delete_item},
    {"Query", tm_query},
    {"Scan", tm_scan},
    {"BatchWriteItem", tm_batch_write_item},
    {"BatchGetItem", tm_batch_get_item},
    {"CreateTable", tm_create_table},
    {"DescribeTable", tm_describe_table},
    {"ListTables", tm_list_tables},
    {"DeleteTable", tm_delete_table},
    {"UpdateContinuousBackups", tm_update_continuous_backups},
    {"DescribeContinuousBackups", tm_describe_continuous_backups},
    {"ExportTableToPointInTime", tm_export_table_to_point_in_time},
    {"DescribeExport", tm_describe_export},
    {"ListExports", tm_list_exports},
    {"ImportTable", tm_import_table},
    {"DescribeImport", tm_describe_import},
    {"ListImports", tm_list_imports},
    {"RestoreTableToPointInTime", tm_restore_table_to_point_in_time},
    /* tidemark's own */
    {"TidemarkSnapshot", tm_snapshot},
    {"TidemarkSnapshotVerify", tm_snapshot_verify},
    {"TidemarkLogVerify", tm_log_verify},
    {"TidemarkLogList", tm_log_list},
    {"TidemarkItemsVerify", tm_items_verify},
    {"TidemarkTimeline", tm_timeline},
    {"TidemarkExportVerify", tm_export_verify},
    {"TidemarkRestorePlan", tm_restore_plan},
    {"TidemarkLifecycleRun", tm_lifecycle_run},
    {"TidemarkLifecycleApply", tm_lifecycle_apply},
    {"TidemarkLifecycleVerify", tm_lifecycle_verify},
    {"TidemarkLifecycleReport", tm_lifecycle_report},
    {"TidemarkListDeletedTables", tm_list_deleted_tables},
    {"TidemarkRollback", tm_rollback},
};

tm_op_fn tm_op_find(const char *operation)
{
    for (size_t i = 0; operation && i < sizeof ops / sizeof *ops; i++)
        if (!strcmp(ops[i].name, operation)) return ops[i].fn;
    return NULL;
}

int tm_call(tm_db *db, const char *operation, const cJSON *req, cJSON **resp, tm_error *e)
{
    tm_op_fn fn = tm_op_find(operation);
    *resp = NULL;
    if (!fn) return tm_error_set(e, TM_ERR_UNKNOWN_OPERATION, "unknown operation '%s'", operation ? operation : "");
    if (req && !cJSON_IsObject(req))
        return tm_error_set(e, TM_ERR_SERIALIZATION, "the request must be a JSON object");
    if (req && api_wire_check(req, e)) return TM_ERR_SERIALIZATION;
    cJSON *empty = req ? NULL : cJSON_CreateObject();
    int k = fn(db, req ? req : empty, resp, e);
    cJSON_Delete(empty);
    return k;
}
