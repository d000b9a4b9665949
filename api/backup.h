/* backup.h: the backup operations of the api layer: ExportTableToPointInTime, DescribeExport,
 * ListExports, ImportTable, DescribeImport, ListImports, RestoreTableToPointInTime, and
 * tidemark's TidemarkExportVerify and TidemarkRestorePlan.
 *
 * Requests and responses are the DynamoDB API's wire shapes (timestamps: epoch-second numbers).
 * What the API cannot say, a request says in members named "Tidemark..." (a local destination,
 * compression, jobs, limits: each op's comment lists them); a response's "Tidemark..." members
 * carry what a front end shows besides the shape (rejected-item samples, restore statistics):
 * front ends drop them before printing the shape (api_backup_strip).
 *
 * REGION AND ACCOUNT in every ARN: as tidemark writes them into export manifests
 * (table_arn_region/table_arn_account: TIDEMARK_REGION, AWS_REGION, AWS_DEFAULT_REGION, else
 * us-east-1; TIDEMARK_ACCOUNT, AWS_ACCOUNT_ID, else 000000000000), or those of the request's
 * TableArn. ExportArn: <TableArn>/export/<ExportId>; ImportArn: <TableArn>/import/<ImportId>,
 * ids as AWS makes them (14-digit epoch ms, '-', 8 hex digits).
 *
 * THE CATALOG (api/backup_catalog.c) keeps a record per export and import in the data
 * directory, so that Describe* and List* work after the run; the format and the rule for a run
 * that was killed are at the top of that file. */
#ifndef TIDEMARK_API_BACKUP_H
#define TIDEMARK_API_BACKUP_H

#include "include/tidemark.h"
#include "engine/progress.h"

#include <signal.h>

/* What a front end adds to a run (all optional). */
typedef struct tm_backup_run {
    progress *prog;                  /* items and bytes as they go */
    volatile sig_atomic_t *cancel;   /* ImportTable: set non-zero to stop (FAILED, no table) */
    cJSON *failed;                   /* out: on failure after the run began, the FAILED
                                        {"ExportDescription"|"ImportTableDescription":{...}}
                                        (caller frees); NULL otherwise */
} tm_backup_run;
#define TM_BACKUP_RUN_INIT {NULL, NULL, NULL}

int tm_export_table_to_point_in_time(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_describe_export(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_list_exports(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_import_table(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_describe_import(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_list_imports(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_restore_table_to_point_in_time(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);
int tm_export_verify(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);   /* TidemarkExportVerify */
int tm_restore_plan(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);    /* TidemarkRestorePlan */

/* The same three with a front end's run (NULL: none). */
int tm_export_run(tm_db *db, const cJSON *req, tm_backup_run *run, cJSON **resp, tm_error *e);
int tm_import_run(tm_db *db, const cJSON *req, tm_backup_run *run, cJSON **resp, tm_error *e);
int tm_restore_run(tm_db *db, const cJSON *req, tm_backup_run *run, cJSON **resp, tm_error *e);

/* For a front end that answers before the run (tidemark serve, as AWS answers IN_PROGRESS):
 * checks the request as AWS does before it answers (the table, the times against its window,
 * the ClientToken), chooses the ExportId and records the export IN_PROGRESS in the catalog.
 * *resp: the IN_PROGRESS ExportDescription (or, for a ClientToken seen with the same request
 * within 8 hours, that export's description now, and *run_req NULL: nothing to run);
 * *run_req: the request to hand to tm_export_run (in any thread), with the chosen id and time.
 * Both the caller's. A token seen with another request: TM_ERR_EXPORT_CONFLICT. */
int tm_export_begin(tm_db *db, const cJSON *req, cJSON **resp, cJSON **run_req, tm_error *e);
/* The same for ImportTable (TM_ERR_IMPORT_CONFLICT), and for RestoreTableToPointInTime, whose
 * *resp is the target's TableDescription with TableStatus CREATING and RestoreInProgress. */
int tm_import_begin(tm_db *db, const cJSON *req, cJSON **resp, cJSON **run_req, tm_error *e);
int tm_restore_begin(tm_db *db, const cJSON *req, cJSON **resp, cJSON **run_req, tm_error *e);

/* ExportTableToPointInTime (full, of the table now) and ImportTable on a table behind a
 * DynamoDB-API endpoint, the request's TidemarkTableEndpointUrl (api/backup_remote.c says
 * what else they take). db may be NULL: nothing local is read or recorded. */
int tm_export_remote_run(tm_db *db, const cJSON *req, tm_backup_run *run, cJSON **resp,
                         tm_error *e);
int tm_import_remote_run(tm_db *db, const cJSON *req, tm_backup_run *run, cJSON **resp,
                         tm_error *e);

/* Removes the "Tidemark..." members of a response's top-level shape object, or of each
 * summary in its top-level list (ListExports), in place. */
void api_backup_strip(cJSON *resp);

#endif
