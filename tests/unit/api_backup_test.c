/* api_backup_test.c: unit tests of the backup operations (api/backup.h): per operation a wire
 * request in and the response out (ExportTableToPointInTime, DescribeExport, ListExports,
 * TidemarkExportVerify, ImportTable, DescribeImport, ListImports, RestoreTableToPointInTime,
 * TidemarkRestorePlan), and per error kind its exit status: a missing table, a bad table name,
 * a bad time, an export or import that does not exist, the import of a missing file, no
 * credentials, an existing target. The ExportDescription assertions of export_test's
 * export_desc_json live here (one writer: shape_export_description). */
#include "api/backup.h"
#include "engine/clock.h"
#include "engine/fsx.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testutil.h"

#define ITEMS 40

typedef tu_api fx;

static int setup(void **state) { return tu_api_setup(state, "tm-api-backup-test", 0); }

/* The ARNs' defaults (backup.h: REGION AND ACCOUNT) and the aws CLI's local time. */
static int group_setup(void **state)
{
    (void)state;
    static const char *const vars[] = {"TIDEMARK_REGION", "AWS_REGION", "AWS_DEFAULT_REGION",
                                       "TIDEMARK_ACCOUNT", "AWS_ACCOUNT_ID", "TIDEMARK_CLOCK"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) unsetenv(vars[i]);
    setenv("TZ", "UTC", 1);
    return 0;
}

/* Calls op with the request text (printf-formatted); returns the kind; *resp (may be NULL)
 * gets the response. */
static int call(fx *f, const char *op, cJSON **resp, tm_error *e, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int call(fx *f, const char *op, cJSON **resp, tm_error *e, const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return tu_call(f->db, op, text, resp, e);
}

static const cJSON *get(const cJSON *j, const char *a)
{
    return cJSON_GetObjectItemCaseSensitive(j, a);
}

static const char *str(const cJSON *j, const char *a)
{
    const char *s = cJSON_GetStringValue(get(j, a));
    if (!s) fail_msg("no string member %s", a);
    return s;
}

static double num(const cJSON *j, const char *a)
{
    const cJSON *v = get(j, a);
    if (!cJSON_IsNumber(v)) fail_msg("no number member %s", a);
    return v->valuedouble;
}

/* Table Src (pk S, sk N) with ITEMS items; pitr: with point-in-time recovery. */
static void source(fx *f, int pitr)
{
    tm_error e;
    assert_int_equal(call(f, "CreateTable", NULL, &e, "{\"TableName\":\"Src\",\"KeySchema\":["
                          "{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"sk\","
                          "\"KeyType\":\"RANGE\"}],\"AttributeDefinitions\":[{\"AttributeName\":\"pk\","
                          "\"AttributeType\":\"S\"},{\"AttributeName\":\"sk\",\"AttributeType\":\"N\"}]}"), 0);
    if (pitr)
        assert_int_equal(call(f, "UpdateContinuousBackups", NULL, &e, "{\"TableName\":\"Src\","
                              "\"PointInTimeRecoverySpecification\":{\"PointInTimeRecoveryEnabled\":true}}"), 0);
    for (int i = 0; i < ITEMS; i++)
        assert_int_equal(call(f, "PutItem", NULL, &e, "{\"TableName\":\"Src\",\"Item\":{\"pk\":{\"S\":"
                              "\"k%d\"},\"sk\":{\"N\":\"%d\"},\"v\":{\"S\":\"value %d\"}}}", i % 7, i, i), 0);
}

/* A full export of Src to f->dest; *resp is the response. */
static void export_src(fx *f, cJSON **resp)
{
    tm_error e;
    int k = call(f, "ExportTableToPointInTime", resp, &e, "{\"TableName\":\"Src\","
                 "\"TidemarkDestination\":\"%s\"}", f->dest);
    if (k) fail_msg("export: %s", e.message);
}

/* ================================================================ exports */

static void test_export(void **state)
{
    fx *f = *state;
    tm_error e;
    cJSON *r, *d;
    source(f, 0);
    export_src(f, &r);
    const cJSON *x = get(r, "ExportDescription");
    assert_string_equal(str(x, "ExportStatus"), "COMPLETED");
    assert_string_equal(str(x, "ExportType"), "FULL_EXPORT");
    assert_string_equal(str(x, "ExportFormat"), "DYNAMODB_JSON");
    assert_int_equal((int)num(x, "ItemCount"), ITEMS);
    assert_non_null(strstr(str(x, "ExportArn"), "arn:aws:dynamodb:us-east-1:000000000000:table/Src/export/"));
    assert_string_equal(str(x, "TableArn"), "arn:aws:dynamodb:us-east-1:000000000000:table/Src");
    assert_true(num(x, "EndTime") >= num(x, "StartTime"));   /* epoch numbers on the wire */
    char arn[512], dir[1024];
    snprintf(arn, sizeof arn, "%s", str(x, "ExportArn"));
    snprintf(dir, sizeof dir, "%s", str(x, "TidemarkLocation"));
    assert_non_null(strstr(dir, "/AWSDynamoDB/"));
    assert_int_equal((int)num(x, "TidemarkDataFiles") > 0, 1);
    /* the front end's form: no Tidemark* members */
    api_backup_strip(r);
    assert_null(get(get(r, "ExportDescription"), "TidemarkLocation"));
    assert_non_null(get(get(r, "ExportDescription"), "ExportArn"));
    cJSON_Delete(r);

    /* DescribeExport by ARN (the catalog) and by directory (the files) */
    assert_int_equal(call(f, "DescribeExport", &d, &e, "{\"ExportArn\":\"%s\"}", arn), 0);
    assert_string_equal(str(get(d, "ExportDescription"), "ExportStatus"), "COMPLETED");
    assert_int_equal((int)num(get(d, "ExportDescription"), "ItemCount"), ITEMS);
    cJSON_Delete(d);
    assert_int_equal(call(f, "DescribeExport", &d, &e, "{\"TidemarkExportDir\":\"%s\"}", dir), 0);
    assert_string_equal(str(get(d, "ExportDescription"), "ExportArn"), arn);
    cJSON_Delete(d);

    /* ListExports: the catalog, a table's, a destination's (with the text form's members) */
    assert_int_equal(call(f, "ListExports", &d, &e, "{}"), 0);
    assert_int_equal(cJSON_GetArraySize(get(d, "ExportSummaries")), 1);
    assert_string_equal(str(cJSON_GetArrayItem(get(d, "ExportSummaries"), 0), "ExportArn"), arn);
    cJSON_Delete(d);
    assert_int_equal(call(f, "ListExports", &d, &e, "{\"TableArn\":\"arn:aws:dynamodb:us-east-1:"
                          "000000000000:table/Other\"}"), 0);
    assert_int_equal(cJSON_GetArraySize(get(d, "ExportSummaries")), 0);
    cJSON_Delete(d);
    assert_int_equal(call(f, "ListExports", &d, &e, "{\"TidemarkDestination\":\"%s\"}", f->dest), 0);
    const cJSON *s = cJSON_GetArrayItem(get(d, "ExportSummaries"), 0);
    assert_string_equal(str(s, "ExportStatus"), "COMPLETED");
    assert_string_equal(str(s, "TidemarkTableName"), "Src");
    assert_int_equal((int)num(s, "TidemarkItemCount"), ITEMS);
    assert_true(num(s, "TidemarkTime") > 0);
    api_backup_strip(d);   /* from each summary of a list too */
    s = cJSON_GetArrayItem(get(d, "ExportSummaries"), 0);
    assert_null(get(s, "TidemarkTableName"));
    assert_non_null(get(s, "ExportType"));
    cJSON_Delete(d);

    /* TidemarkExportVerify */
    assert_int_equal(call(f, "TidemarkExportVerify", &d, &e, "{\"TidemarkExportDir\":\"%s\"}", dir), 0);
    assert_true(cJSON_IsTrue(get(d, "Valid")));
    assert_int_equal((int)num(d, "Lines"), ITEMS);
    assert_string_equal(str(d, "Schema"), "CHECKED");
    assert_int_equal(cJSON_GetArraySize(get(d, "Problems")), 0);
    cJSON_Delete(d);

    /* an export still starting (its folder holds only _started, its state not yet written):
     * DescribeExport by ARN gives the record's ARN with the files' IN_PROGRESS (it gave an
     * empty ARN, and a repeated ClientToken then looked like another export) */
    char rq[1024], started[1200];
    snprintf(rq, sizeof rq, "{\"TableName\":\"Src\",\"TidemarkDestination\":\"%s\"}", f->dest);
    cJSON *req = cJSON_Parse(rq), *b = NULL, *run = NULL;
    assert_int_equal(tm_export_begin(f->db, req, &b, &run, &e), 0);
    snprintf(arn, sizeof arn, "%s", str(get(b, "ExportDescription"), "ExportArn"));
    snprintf(dir, sizeof dir, "%s", str(get(b, "ExportDescription"), "TidemarkLocation"));
    assert_int_equal(fsx_mkdirs(dir, 0755), 0);
    snprintf(started, sizeof started, "%s/_started", dir);
    assert_int_equal(fsx_write_atomic(started, "", 0), 0);
    assert_int_equal(call(f, "DescribeExport", &d, &e, "{\"ExportArn\":\"%s\"}", arn), 0);
    assert_string_equal(str(get(d, "ExportDescription"), "ExportArn"), arn);
    assert_string_equal(str(get(d, "ExportDescription"), "ExportStatus"), "IN_PROGRESS");
    assert_string_equal(str(get(d, "ExportDescription"), "TableArn"),
                        "arn:aws:dynamodb:us-east-1:000000000000:table/Src");
    cJSON_Delete(d);
    cJSON_Delete(b);
    cJSON_Delete(run);
    cJSON_Delete(req);
}

static void test_export_region(void **state)
{
    fx *f = *state;
    tm_error e;
    cJSON *r;
    source(f, 0);
    assert_int_equal(call(f, "ExportTableToPointInTime", &r, &e, "{\"TableName\":\"Src\",\"TidemarkRegion\":"
                          "\"eu-west-1\",\"TidemarkAccount\":\"123456789012\",\"TidemarkDestination\":\"%s\"}",
                          f->dest), 0);
    assert_string_equal(str(get(r, "ExportDescription"), "TableArn"),
                        "arn:aws:dynamodb:eu-west-1:123456789012:table/Src");
    cJSON_Delete(r);
}

static void test_export_errors(void **state)
{
    fx *f = *state;
    tm_error e;
    cJSON *r;
    source(f, 0);
    /* a missing table: TableNotFoundException, exit 1 */
    assert_int_equal(call(f, "ExportTableToPointInTime", NULL, &e, "{\"TableName\":\"Nope\","
                          "\"TidemarkDestination\":\"%s\"}", f->dest), TM_ERR_TABLE_NOT_FOUND);
    assert_int_equal(tm_err_exit(e.kind), 1);
    /* a bad table name, by name or in an ARN: a parameter, exit 2 */
    assert_int_equal(call(f, "ExportTableToPointInTime", NULL, &e, "{\"TableName\":\"x\","
                          "\"TidemarkDestination\":\"%s\"}", f->dest), TM_ERR_BAD_PARAMETER);
    assert_int_equal(tm_err_exit(e.kind), 2);
    assert_int_equal(call(f, "ExportTableToPointInTime", NULL, &e, "{\"TableArn\":\"arn:aws:dynamodb:"
                          "us-east-1:1:table/a/b\",\"S3Bucket\":\"b\"}"), TM_ERR_BAD_PARAMETER);
    /* no destination; a window that ends before it begins; a time that is not a number */
    assert_int_equal(call(f, "ExportTableToPointInTime", NULL, &e, "{\"TableName\":\"Src\"}"),
                     TM_ERR_BAD_PARAMETER);
    assert_int_equal(call(f, "ExportTableToPointInTime", NULL, &e, "{\"TableName\":\"Src\","
                          "\"TidemarkDestination\":\"%s\",\"ExportType\":\"INCREMENTAL_EXPORT\","
                          "\"IncrementalExportSpecification\":{\"ExportFromTime\":1700000100,"
                          "\"ExportToTime\":1700000000}}", f->dest), TM_ERR_BAD_PARAMETER);
    assert_int_equal(call(f, "ExportTableToPointInTime", NULL, &e, "{\"TableName\":\"Src\","
                          "\"TidemarkDestination\":\"%s\",\"ExportTime\":\"yesterday\"}", f->dest),
                     TM_ERR_BAD_PARAMETER);
    /* an export at a time on a table without PITR fails as AWS says (it was
     * ResourceNotFoundException); with a run, its FAILED description */
    tm_backup_run run = TM_BACKUP_RUN_INIT;
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "TableName", "Src");
    cJSON_AddStringToObject(req, "TidemarkDestination", f->dest);
    cJSON_AddNumberToObject(req, "ExportTime", 1000000000);
    assert_int_equal(tm_export_run(f->db, req, &run, &r, &e), TM_ERR_PITR_UNAVAILABLE);
    assert_null(r);
    assert_int_equal(tm_err_exit(e.kind), 1);
    assert_non_null(run.failed);
    const cJSON *x = get(run.failed, "ExportDescription");
    assert_string_equal(str(x, "ExportStatus"), "FAILED");
    assert_string_equal(str(x, "FailureCode"), "PointInTimeRecoveryUnavailableException");
    assert_string_equal(str(x, "TableArn"), "arn:aws:dynamodb:us-east-1:000000000000:table/Src");
    assert_int_equal((int)num(x, "ExportTime"), 1000000000);
    cJSON_Delete(run.failed);
    cJSON_Delete(req);
    /* ... a second ago, and an incremental export: the same */
    assert_int_equal(call(f, "ExportTableToPointInTime", NULL, &e, "{\"TableName\":\"Src\","
                          "\"TidemarkDestination\":\"%s\",\"ExportTime\":%.6f}", f->dest,
                          (double)clock_now_us() / 1e6 - 1), TM_ERR_PITR_UNAVAILABLE);
    assert_int_equal(call(f, "ExportTableToPointInTime", NULL, &e, "{\"TableName\":\"Src\","
                          "\"TidemarkDestination\":\"%s\",\"ExportType\":\"INCREMENTAL_EXPORT\","
                          "\"IncrementalExportSpecification\":{\"ExportFromTime\":%.6f,"
                          "\"ExportToTime\":%.6f}}", f->dest, (double)clock_now_us() / 1e6 - 3600,
                          (double)clock_now_us() / 1e6 - 60), TM_ERR_PITR_UNAVAILABLE);
    assert_non_null(strstr(e.message, "point-in-time recovery is not enabled"));
    /* with PITR, a time before the window is InvalidExportTime */
    assert_int_equal(call(f, "UpdateContinuousBackups", NULL, &e, "{\"TableName\":\"Src\","
                          "\"PointInTimeRecoverySpecification\":{\"PointInTimeRecoveryEnabled\":true}}"), 0);
    assert_int_equal(call(f, "ExportTableToPointInTime", NULL, &e, "{\"TableName\":\"Src\","
                          "\"TidemarkDestination\":\"%s\",\"ExportTime\":1000000000}", f->dest),
                     TM_ERR_INVALID_EXPORT_TIME);

    /* an export that does not exist */
    assert_int_equal(call(f, "DescribeExport", NULL, &e, "{\"ExportArn\":\"arn:aws:dynamodb:us-east-1:"
                          "000000000000:table/Src/export/01700000000000-00000000\"}"),
                     TM_ERR_EXPORT_NOT_FOUND);
    assert_int_equal(tm_err_exit(e.kind), 1);
    assert_int_equal(call(f, "DescribeExport", NULL, &e, "{\"TidemarkExportDir\":\"%s/AWSDynamoDB/"
                          "01700000000000-00000000\"}", f->dest), TM_ERR_EXPORT_NOT_FOUND);
    assert_int_equal(call(f, "TidemarkExportVerify", NULL, &e, "{\"TidemarkExportDir\":\"%s/AWSDynamoDB/"
                          "01700000000000-00000000\"}", f->dest), TM_ERR_EXPORT_NOT_FOUND);
    assert_int_equal(call(f, "DescribeExport", NULL, &e, "{\"ExportArn\":\"not-an-arn\"}"),
                     TM_ERR_BAD_PARAMETER);
    assert_int_equal(call(f, "DescribeExport", NULL, &e, "{}"), TM_ERR_BAD_PARAMETER);
}

/* List* pages: MaxResults/PageSize, then NextToken for the rest. */
static void test_list_pages(void **state)
{
    fx *f = *state;
    tm_error e;
    cJSON *r, *r2;
    source(f, 0);
    export_src(f, &r);
    cJSON_Delete(r);
    export_src(f, &r);
    cJSON_Delete(r);
    assert_int_equal(call(f, "ListExports", &r, &e, "{\"MaxResults\":1}"), 0);
    assert_int_equal(cJSON_GetArraySize(get(r, "ExportSummaries")), 1);
    assert_int_equal(call(f, "ListExports", &r2, &e, "{\"MaxResults\":1,\"NextToken\":\"%s\"}",
                          str(r, "NextToken")), 0);
    assert_int_equal(cJSON_GetArraySize(get(r2, "ExportSummaries")), 1);
    assert_null(get(r2, "NextToken"));
    assert_string_not_equal(str(cJSON_GetArrayItem(get(r, "ExportSummaries"), 0), "ExportArn"),
                            str(cJSON_GetArrayItem(get(r2, "ExportSummaries"), 0), "ExportArn"));
    cJSON_Delete(r);
    cJSON_Delete(r2);
    assert_int_equal(call(f, "ListExports", NULL, &e, "{\"MaxResults\":0}"), TM_ERR_BAD_PARAMETER);
    char path[512];
    snprintf(path, sizeof path, "%s/items.jsonl", f->home);
    tu_write_file(path, "{\"Item\":{\"id\":{\"S\":\"1\"}}}\n");
    for (int i = 0; i < 3; i++)
        assert_int_equal(call(f, "ImportTable", NULL, &e, "{\"TidemarkSource\":\"%s\",\"TableCreationParameters\":"
                              "{\"TableName\":\"Imp%d\",\"KeySchema\":[{\"AttributeName\":\"id\",\"KeyType\":"
                              "\"HASH\"}],\"AttributeDefinitions\":[{\"AttributeName\":\"id\",\"AttributeType\":"
                              "\"S\"}]}}", path, i), 0);
    assert_int_equal(call(f, "ListImports", &r, &e, "{\"PageSize\":2}"), 0);
    assert_int_equal(cJSON_GetArraySize(get(r, "ImportSummaryList")), 2);
    assert_int_equal(call(f, "ListImports", &r2, &e, "{\"PageSize\":2,\"NextToken\":\"%s\"}",
                          str(r, "NextToken")), 0);
    assert_int_equal(cJSON_GetArraySize(get(r2, "ImportSummaryList")), 1);
    assert_null(get(r2, "NextToken"));
    cJSON_Delete(r);
    cJSON_Delete(r2);
    assert_int_equal(call(f, "ListImports", &r, &e, "{\"TableArn\":\"arn:aws:dynamodb:us-east-1:"
                          "000000000000:table/Imp1\"}"), 0);
    assert_int_equal(cJSON_GetArraySize(get(r, "ImportSummaryList")), 1);
    cJSON_Delete(r);
}

/* ================================================================ imports */

static void test_import(void **state)
{
    fx *f = *state;
    tm_error e;
    cJSON *r, *d;
    source(f, 0);
    export_src(f, &r);
    char dir[1024], arn[512];
    snprintf(dir, sizeof dir, "%s", str(get(r, "ExportDescription"), "TidemarkLocation"));
    cJSON_Delete(r);
    /* a tidemark export carries its key schema */
    assert_int_equal(call(f, "ImportTable", &r, &e, "{\"TidemarkSource\":\"%s\",\"TableCreationParameters\":"
                          "{\"TableName\":\"Copy\"}}", dir), 0);
    const cJSON *x = get(r, "ImportTableDescription");
    assert_string_equal(str(x, "ImportStatus"), "COMPLETED");
    assert_int_equal((int)num(x, "ImportedItemCount"), ITEMS);
    assert_int_equal((int)num(x, "ProcessedItemCount"), ITEMS);
    assert_int_equal((int)num(x, "ErrorCount"), 0);
    assert_string_equal(str(x, "InputFormat"), "DYNAMODB_JSON");
    assert_string_equal(str(x, "TableArn"), "arn:aws:dynamodb:us-east-1:000000000000:table/Copy");
    assert_string_equal(str(get(x, "TableCreationParameters"), "TableName"), "Copy");
    assert_int_equal(cJSON_GetArraySize(get(get(x, "TableCreationParameters"), "KeySchema")), 2);
    assert_true(num(x, "EndTime") >= num(x, "StartTime"));
    snprintf(arn, sizeof arn, "%s", str(x, "ImportArn"));
    assert_non_null(strstr(arn, ":table/Copy/import/"));
    api_backup_strip(r);
    assert_null(get(get(r, "ImportTableDescription"), "TidemarkFiles"));
    cJSON_Delete(r);
    assert_int_equal(call(f, "DescribeTable", &r, &e, "{\"TableName\":\"Copy\"}"), 0);
    assert_int_equal((int)num(get(r, "Table"), "ItemCount"), ITEMS);
    cJSON_Delete(r);

    /* DescribeImport and ListImports read the catalog */
    assert_int_equal(call(f, "DescribeImport", &d, &e, "{\"ImportArn\":\"%s\"}", arn), 0);
    assert_string_equal(str(get(d, "ImportTableDescription"), "ImportStatus"), "COMPLETED");
    assert_int_equal((int)num(get(d, "ImportTableDescription"), "ImportedItemCount"), ITEMS);
    cJSON_Delete(d);
    assert_int_equal(call(f, "ListImports", &d, &e, "{}"), 0);
    const cJSON *s = cJSON_GetArrayItem(get(d, "ImportSummaryList"), 0);
    assert_string_equal(str(s, "ImportArn"), arn);
    assert_string_equal(str(s, "ImportStatus"), "COMPLETED");
    assert_null(get(s, "ImportedItemCount"));   /* a summary's members only */
    cJSON_Delete(d);

    /* JSON lines with a key schema, ARNs in the request's region and account */
    char path[512];
    snprintf(path, sizeof path, "%s/items.jsonl", f->home);
    tu_write_file(path, "{\"Item\":{\"id\":{\"N\":\"1\"}}}\n{\"Item\":{\"id\":{\"N\":\"2\"}}}\n"
                     "{\"Item\":{\"nokey\":{\"N\":\"3\"}}}\n");
    assert_int_equal(call(f, "ImportTable", &r, &e, "{\"TidemarkSource\":\"%s\",\"TidemarkRegion\":"
                          "\"eu-west-1\",\"TidemarkAccount\":\"123456789012\",\"TableCreationParameters\":"
                          "{\"TableName\":\"Lines\",\"KeySchema\":[{\"AttributeName\":\"id\",\"KeyType\":"
                          "\"HASH\"}],\"AttributeDefinitions\":[{\"AttributeName\":\"id\",\"AttributeType\":"
                          "\"N\"}]}}", path), 0);
    x = get(r, "ImportTableDescription");
    assert_int_equal((int)num(x, "ImportedItemCount"), 2);
    assert_int_equal((int)num(x, "ErrorCount"), 1);   /* an item-level error: the front end's exit 3 */
    assert_int_equal(cJSON_GetArraySize(get(x, "TidemarkRejected")), 1);
    assert_string_equal(str(x, "TableArn"), "arn:aws:dynamodb:eu-west-1:123456789012:table/Lines");
    cJSON_Delete(r);
}

static void test_import_errors(void **state)
{
    fx *f = *state;
    tm_error e;
    cJSON *r;
    source(f, 0);
    char path[512];
    snprintf(path, sizeof path, "%s/items.jsonl", f->home);
    tu_write_file(path, "{\"Item\":{\"id\":{\"S\":\"1\"}}}\n");
    const char *keys = "\"KeySchema\":[{\"AttributeName\":\"id\",\"KeyType\":\"HASH\"}],"
                       "\"AttributeDefinitions\":[{\"AttributeName\":\"id\",\"AttributeType\":\"S\"}]";
    /* a missing file: a failure (exit 1), FAILED with DataFileNotFound, no table */
    tm_backup_run run = TM_BACKUP_RUN_INIT;
    char text[1024];
    snprintf(text, sizeof text, "{\"TidemarkSource\":\"%s/missing.jsonl\",\"TableCreationParameters\":"
             "{\"TableName\":\"Gone\",%s}}", f->home, keys);
    cJSON *req = cJSON_Parse(text);
    assert_int_not_equal(tm_import_run(f->db, req, &run, &r, &e), 0);
    assert_null(r);
    assert_int_equal(tm_err_exit(e.kind), 1);
    assert_non_null(run.failed);
    assert_string_equal(str(get(run.failed, "ImportTableDescription"), "ImportStatus"), "FAILED");
    assert_string_equal(str(get(run.failed, "ImportTableDescription"), "FailureCode"), "DataFileNotFound");
    cJSON_Delete(run.failed);
    cJSON_Delete(req);
    assert_int_equal(call(f, "DescribeTable", NULL, &e, "{\"TableName\":\"Gone\"}"), TM_ERR_RESOURCE_NOT_FOUND);
    /* ... recorded FAILED: ListImports has it */
    assert_int_equal(call(f, "ListImports", &r, &e, "{}"), 0);
    assert_string_equal(str(cJSON_GetArrayItem(get(r, "ImportSummaryList"), 0), "ImportStatus"), "FAILED");
    cJSON_Delete(r);

    /* an existing target: ResourceInUseException, exit 1 */
    assert_int_equal(call(f, "ImportTable", NULL, &e, "{\"TidemarkSource\":\"%s\",\"TableCreationParameters\":"
                          "{\"TableName\":\"Src\",%s}}", path, keys), TM_ERR_RESOURCE_IN_USE);
    assert_int_equal(tm_err_exit(e.kind), 1);
    /* a bad table name, no TableCreationParameters, no source, a bad InputFormat: exit 2 */
    assert_int_equal(call(f, "ImportTable", NULL, &e, "{\"TidemarkSource\":\"%s\",\"TableCreationParameters\":"
                          "{\"TableName\":\"a/b\",%s}}", path, keys), TM_ERR_BAD_PARAMETER);
    assert_int_equal(tm_err_exit(e.kind), 2);
    assert_int_equal(call(f, "ImportTable", NULL, &e, "{\"TidemarkSource\":\"%s\"}", path), TM_ERR_BAD_PARAMETER);
    assert_int_equal(call(f, "ImportTable", NULL, &e, "{\"TableCreationParameters\":{\"TableName\":\"Imp\",%s}}",
                          keys), TM_ERR_BAD_PARAMETER);
    assert_int_equal(call(f, "ImportTable", NULL, &e, "{\"TidemarkSource\":\"%s\",\"InputFormat\":\"ION\","
                          "\"TableCreationParameters\":{\"TableName\":\"Imp\",%s}}", path, keys),
                     TM_ERR_BAD_PARAMETER);
    /* no key schema for plain lines: an option fixes it, exit 2 */
    assert_int_equal(call(f, "ImportTable", NULL, &e, "{\"TidemarkSource\":\"%s\",\"TableCreationParameters\":"
                          "{\"TableName\":\"Imp\"}}", path), TM_ERR_BAD_PARAMETER);
    assert_non_null(strstr(e.message, "carries no key schema"));
    /* no credentials for an S3 source: a failure (exit 1) as in an export, the bucket named */
    const char *cred[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"};
    for (size_t i = 0; i < 4; i++) unsetenv(cred[i]);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent", 1);
    snprintf(text, sizeof text, "{\"TidemarkSource\":\"s3://no-credentials/dump\",\"TableCreationParameters\":"
             "{\"TableName\":\"S3imp\",%s}}", keys);
    req = cJSON_Parse(text);
    assert_int_not_equal(tm_import_run(f->db, req, &run, &r, &e), 0);
    assert_int_equal(tm_err_exit(e.kind), 1);
    assert_non_null(strstr(e.message, "no AWS credentials"));
    /* ... a source it cannot read, as AWS's S3 codes go (was ValidationException) */
    assert_string_equal(str(get(run.failed, "ImportTableDescription"), "FailureCode"), "S3AccessDenied");
    assert_non_null(strstr(str(get(run.failed, "ImportTableDescription"), "FailureMessage"),
                           "no AWS credentials"));
    const cJSON *src = get(get(run.failed, "ImportTableDescription"), "S3BucketSource");
    assert_string_equal(str(src, "S3Bucket"), "no-credentials");
    assert_string_equal(str(src, "S3KeyPrefix"), "dump");
    cJSON_Delete(run.failed);
    cJSON_Delete(req);
    /* an import that does not exist */
    assert_int_equal(call(f, "DescribeImport", NULL, &e, "{\"ImportArn\":\"arn:aws:dynamodb:us-east-1:"
                          "000000000000:table/Src/import/01700000000000-00000000\"}"),
                     TM_ERR_IMPORT_NOT_FOUND);
    assert_int_equal(tm_err_exit(e.kind), 1);
    assert_int_equal(call(f, "DescribeImport", NULL, &e, "{}"), TM_ERR_BAD_PARAMETER);
}

/* ================================================================ restores */

static void test_restore(void **state)
{
    fx *f = *state;
    tm_error e;
    cJSON *r;
    source(f, 1);
    assert_int_equal(call(f, "RestoreTableToPointInTime", &r, &e, "{\"SourceTableName\":\"Src\","
                          "\"TargetTableName\":\"Back\",\"UseLatestRestorableTime\":true}"), 0);
    const cJSON *t = get(r, "TableDescription");
    assert_string_equal(str(t, "TableName"), "Back");
    assert_int_equal((int)num(t, "ItemCount"), ITEMS);
    assert_string_equal(str(get(t, "RestoreSummary"), "SourceTableArn"),
                        "arn:aws:dynamodb:us-east-1:000000000000:table/Src");
    assert_true(cJSON_IsNumber(get(get(t, "RestoreSummary"), "RestoreDateTime")));
    assert_non_null(get(t, "TidemarkRestoreStats"));
    api_backup_strip(r);
    assert_null(get(get(r, "TableDescription"), "TidemarkRestoreStats"));
    cJSON_Delete(r);
    /* the plan, for the same request; writes nothing */
    assert_int_equal(call(f, "TidemarkRestorePlan", &r, &e, "{\"SourceTableName\":\"Src\","
                          "\"TargetTableName\":\"Plan\",\"UseLatestRestorableTime\":true}"), 0);
    assert_non_null(get(get(r, "Plan"), "Direction"));
    assert_true(strlen(str(r, "Text")) > 0);
    cJSON_Delete(r);
    assert_int_equal(call(f, "DescribeTable", NULL, &e, "{\"TableName\":\"Plan\"}"), TM_ERR_RESOURCE_NOT_FOUND);
}

static void test_restore_errors(void **state)
{
    fx *f = *state;
    tm_error e;
    source(f, 1);
    assert_int_equal(call(f, "RestoreTableToPointInTime", NULL, &e, "{\"SourceTableName\":\"Nope\","
                          "\"TargetTableName\":\"Back\",\"UseLatestRestorableTime\":true}"),
                     TM_ERR_TABLE_NOT_FOUND);
    assert_int_equal(tm_err_exit(e.kind), 1);
    /* a time outside the window (1 Jan 2001) */
    assert_int_equal(call(f, "RestoreTableToPointInTime", NULL, &e, "{\"SourceTableName\":\"Src\","
                          "\"TargetTableName\":\"Back\",\"RestoreDateTime\":978307200}"),
                     TM_ERR_INVALID_RESTORE_TIME);
    assert_int_equal(tm_err_exit(e.kind), 1);
    /* both times, neither, a bad target name: parameters, exit 2 */
    assert_int_equal(call(f, "RestoreTableToPointInTime", NULL, &e, "{\"SourceTableName\":\"Src\","
                          "\"TargetTableName\":\"Back\",\"RestoreDateTime\":978307200,"
                          "\"UseLatestRestorableTime\":true}"), TM_ERR_BAD_PARAMETER);
    assert_int_equal(tm_err_exit(e.kind), 2);
    assert_int_equal(call(f, "RestoreTableToPointInTime", NULL, &e, "{\"SourceTableName\":\"Src\","
                          "\"TargetTableName\":\"Back\"}"), TM_ERR_BAD_PARAMETER);
    assert_int_equal(call(f, "RestoreTableToPointInTime", NULL, &e, "{\"SourceTableName\":\"Src\","
                          "\"TargetTableName\":\"b\",\"UseLatestRestorableTime\":true}"), TM_ERR_BAD_PARAMETER);
    assert_int_equal(tm_err_exit(e.kind), 2);
    /* an existing target */
    assert_int_equal(call(f, "RestoreTableToPointInTime", NULL, &e, "{\"SourceTableName\":\"Src\","
                          "\"TargetTableName\":\"Src\",\"UseLatestRestorableTime\":true}"),
                     TM_ERR_TABLE_ALREADY_EXISTS);
    assert_int_equal(tm_err_exit(e.kind), 1);
}

/* ================================================================ the aws CLI's form */

static void test_awscli_form(void **state)
{
    fx *f = *state;
    cJSON *r;
    source(f, 0);
    export_src(f, &r);
    api_backup_strip(r);
    cJSON *x = cJSON_GetObjectItemCaseSensitive(r, "ExportDescription");
    cJSON_ReplaceItemInObjectCaseSensitive(x, "StartTime", cJSON_CreateNumber(1796528968.55));
    char *t = tm_awscli_json("DescribeExport", r);
    assert_non_null(strstr(t, "\n    \"ExportDescription\": {\n"));
    assert_non_null(strstr(t, "\"StartTime\": \"2026-12-06T03:49:28.550000+00:00\""));
    assert_null(strstr(t, "Tidemark"));
    free(t);
    cJSON_Delete(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_export, setup, tu_api_teardown),
        cmocka_unit_test_setup_teardown(test_export_region, setup, tu_api_teardown),
        cmocka_unit_test_setup_teardown(test_export_errors, setup, tu_api_teardown),
        cmocka_unit_test_setup_teardown(test_list_pages, setup, tu_api_teardown),
        cmocka_unit_test_setup_teardown(test_import, setup, tu_api_teardown),
        cmocka_unit_test_setup_teardown(test_import_errors, setup, tu_api_teardown),
        cmocka_unit_test_setup_teardown(test_restore, setup, tu_api_teardown),
        cmocka_unit_test_setup_teardown(test_restore_errors, setup, tu_api_teardown),
        cmocka_unit_test_setup_teardown(test_awscli_form, setup, tu_api_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
