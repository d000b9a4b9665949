/* rollback.h (api): TidemarkRollback, the operation of tidemark-rollback: undo what an
 * incremental export recorded, on a tidemark table or a DynamoDB-API endpoint's table
 * (rollback/rollback.h has the rule).
 *
 * Request:
 *   ExportDir            the export: DEST/AWSDynamoDB/<ID> or s3://bucket/prefix/AWSDynamoDB/<ID>
 *   TableName            the table to roll back (in the data directory, or at EndpointUrl)
 *   EndpointUrl, Region, Profile    a DynamoDB-API endpoint instead of the data directory
 *   ExportEndpointUrl, ExportProfile   the S3 store the export is read from (else the AWS chain)
 *   KeyValues [..]       partition-key values (strings; N by value, B as base64)
 *   KeyPrefix            the partition key's text starts with it
 *   WriteTimeFrom/WriteTimeTo         [from, to) on WriteTimestampMicros, epoch seconds; or
 *   WriteTimeFromMicros/WriteTimeToMicros  the same in µs (exact)
 *   ConditionExpression, ExpressionAttributeNames, ExpressionAttributeValues   on the NewImage
 *   DryRun (bool), OnConflict (SKIP | OVERWRITE | FAIL), Jobs (1..256),
 *   Direction (UNDO | APPLY: forward apply, the images swapped)
 *   TidemarkIgnoreSummaryChecksum (bool): read an export whose manifest-summary.json no longer
 *     matches manifest-summary.md5 (edited by hand); manifest-files and data files still checked
 * Response: {"RollbackSummary":{TableName, ExportArn, ExportFromTime, ExportToTime, DryRun,
 *   Records, Chosen, Restored, Deleted, AlreadyRolledBack, Conflicts, Overwritten,
 *   LogSeqBefore, LogSeqAfter (tidemark table), Seconds}}; tm_rollback also adds "Items": every
 *   chosen item's report, in key order.
 * An item's report: {"Action": RESTORE | DELETE | ALREADY_ROLLED_BACK | CONFLICT | OVERWRITTEN,
 *   "DryRun", "Keys", "WriteTimestampMicros", "Current" (conflicts: the item as found; absent
 *   when there is none), "NewImage", "OldImage" (as in the export; absent when absent),
 *   "Changes": [{"Attribute", "From", "To"}] (what the write does or would do to the current
 *   item; From/To absent where the attribute is)}.
 * Errors: a conflict with OnConflict FAIL is WriteConflictException (exit 3), nothing written,
 *   the conflicts reported first; a NEW_IMAGE or full export, Keys not the table's, a bad
 *   filter value: ValidationException; a bad parameter (table name, expression, OnConflict):
 *   exit 2; a damaged export: DataCorruptedException before any write. Conflicts skipped are
 *   not an error: the front end exits 3 when RollbackSummary.Conflicts > 0. */
#ifndef TIDEMARK_API_ROLLBACK_H
#define TIDEMARK_API_ROLLBACK_H

#include "include/tidemark.h"
#include "engine/progress.h"

/* Gets each item's report (borrowed for the call); returns 0, or a negative engine code to
 * stop. */
typedef int (*tm_rollback_item_fn)(void *ctx, const cJSON *report);

typedef struct tm_rollback_each {
    tm_rollback_item_fn fn;         /* may be NULL */
    void *ctx;
    progress *prog;                 /* may be NULL */
    int conflicts_only;             /* fn gets only CONFLICT and OVERWRITTEN reports (the others
                                       are not even built: a quiet run's cost) */
} tm_rollback_each;

int tm_rollback(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e);   /* TidemarkRollback */
int tm_rollback_run(tm_db *db, const cJSON *req, const tm_rollback_each *each, cJSON **resp,
                    tm_error *e);

#endif
