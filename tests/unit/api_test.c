/* api_test.c: unit tests of the operations layer: per operation, a wire request in and the
 * response out (tm_call, as a front end or an HTTP endpoint calls it), and per error kind the
 * __type and exit status (a missing table, a failed condition, a bad parameter, a bad request,
 * an unknown operation); the aws CLI time form; RestoreSummary from table.json. */
#include "include/tidemark.h"
#include "engine/clock.h"
#include "engine/fsx.h"
#include "engine/table.h"

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

static int setup(void **state) { return tu_api_setup(state, "tm-api-test", 0); }

/* Calls op on the JSON text req; returns the kind; *resp (may be NULL) gets the response. */
static int call(fx *f, const char *op, const char *req, cJSON **resp, tm_error *e)
{
    return tu_call(f->db, op, req, resp, e);
}

static const cJSON *path(const cJSON *j, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItem(j, a);
    return b ? cJSON_GetObjectItem(x, b) : x;
}

static void create(fx *f) { tu_create_table(f->db, "Tbl", "pk:S", "sk:N"); }

static void test_tables(void **state)
{
    fx *f = *state;
    tm_error e;
    cJSON *r;
    create(f);
    assert_int_equal(call(f, "DescribeTable", "{\"TableName\":\"Tbl\"}", &r, &e), 0);
    assert_string_equal(cJSON_GetStringValue(path(path(r, "Table", NULL), "TableName", NULL)), "Tbl");
    assert_true(cJSON_IsNumber(path(path(r, "Table", NULL), "CreationDateTime", NULL)));   /* epoch on the wire */
    assert_null(path(path(r, "Table", NULL), "RestoreSummary", NULL));
    cJSON_Delete(r);
    assert_int_equal(call(f, "ListTables", "{}", &r, &e), 0);
    assert_int_equal(cJSON_GetArraySize(path(r, "TableNames", NULL)), 1);
    cJSON_Delete(r);
    /* a second create: ResourceInUseException, exit 1 */
    assert_int_equal(call(f, "CreateTable", "{\"TableName\":\"Tbl\",\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":"
                          "\"HASH\"}],\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"}]}",
                          NULL, &e), TM_ERR_RESOURCE_IN_USE);
    assert_int_equal(tm_err_exit(e.kind), 1);
    assert_int_equal(call(f, "DeleteTable", "{\"TableName\":\"Tbl\"}", &r, &e), 0);
    assert_string_equal(cJSON_GetStringValue(path(path(r, "TableDescription", NULL), "TableStatus", NULL)), "DELETING");
    cJSON_Delete(r);
}

static void test_items(void **state)
{
    fx *f = *state;
    tm_error e;
    cJSON *r;
    create(f);
    assert_int_equal(call(f, "PutItem", "{\"TableName\":\"Tbl\",\"Item\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},"
                          "\"v\":{\"N\":\"10\"}}}", &r, &e), 0);
    assert_null(r->child);   /* {} */
    cJSON_Delete(r);
    assert_int_equal(call(f, "GetItem", "{\"TableName\":\"Tbl\",\"Key\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}}", &r, &e), 0);
    assert_string_equal(cJSON_GetStringValue(path(path(path(r, "Item", NULL), "v", NULL), "N", NULL)), "10");
    cJSON_Delete(r);
    assert_int_equal(call(f, "UpdateItem", "{\"TableName\":\"Tbl\",\"Key\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},"
                          "\"UpdateExpression\":\"SET v = v + :d\",\"ExpressionAttributeValues\":{\":d\":{\"N\":\"5\"}},"
                          "\"ReturnValues\":\"ALL_NEW\"}", &r, &e), 0);
    assert_string_equal(cJSON_GetStringValue(path(path(path(r, "Attributes", NULL), "v", NULL), "N", NULL)), "15");
    cJSON_Delete(r);
    assert_int_equal(call(f, "BatchWriteItem", "{\"RequestItems\":{\"Tbl\":[{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"a\"},"
                          "\"sk\":{\"N\":\"2\"}}}},{\"PutRequest\":{\"Item\":{\"pk\":{\"S\":\"b\"},\"sk\":{\"N\":\"1\"}}}}]}}",
                          NULL, &e), 0);
    assert_int_equal(call(f, "Query", "{\"TableName\":\"Tbl\",\"KeyConditionExpression\":\"pk = :p\","
                          "\"ExpressionAttributeValues\":{\":p\":{\"S\":\"a\"}},\"Limit\":1}", &r, &e), 0);
    assert_int_equal(cJSON_GetArraySize(path(r, "Items", NULL)), 1);
    assert_int_equal((int)cJSON_GetNumberValue(path(r, "Count", NULL)), 1);
    assert_non_null(path(r, "LastEvaluatedKey", NULL));
    cJSON_Delete(r);
    assert_int_equal(call(f, "Scan", "{\"TableName\":\"Tbl\"}", &r, &e), 0);
    assert_int_equal((int)cJSON_GetNumberValue(path(r, "Count", NULL)), 3);
    cJSON_Delete(r);
    assert_int_equal(call(f, "BatchGetItem", "{\"RequestItems\":{\"Tbl\":{\"Keys\":[{\"pk\":{\"S\":\"b\"},\"sk\":{\"N\":\"1\"}},"
                          "{\"pk\":{\"S\":\"zz\"},\"sk\":{\"N\":\"1\"}}]}}}", &r, &e), 0);
    assert_int_equal(cJSON_GetArraySize(path(path(r, "Responses", NULL), "Tbl", NULL)), 1);
    cJSON_Delete(r);
    assert_int_equal(call(f, "DeleteItem", "{\"TableName\":\"Tbl\",\"Key\":{\"pk\":{\"S\":\"b\"},\"sk\":{\"N\":\"1\"}},"
                          "\"ReturnValues\":\"ALL_OLD\"}", &r, &e), 0);
    assert_non_null(path(r, "Attributes", NULL));
    cJSON_Delete(r);
}

/* ReturnValues (all five of UpdateItem) and ProjectionExpression (GetItem, Query, Scan,
 * BatchGetItem), request -> response text. */
static void test_return_values_projection(void **state)
{
    static const char *const K = "{\"TableName\":\"Tbl\",\"Key\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}";
    static const struct { const char *op, *req, *want; } steps[] = {
        {"PutItem", "{\"TableName\":\"Tbl\",\"Item\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"v\":{\"N\":\"1\"},"
                    "\"gone\":{\"S\":\"g\"},\"m\":{\"M\":{\"x\":{\"N\":\"1\"},\"y\":{\"L\":[{\"S\":\"y0\"},{\"S\":\"y1\"}]}}}}}",
         "{}"},
        {"UpdateItem", "%s,\"UpdateExpression\":\"SET v = v + :d REMOVE gone\",\"ExpressionAttributeValues\":"
                       "{\":d\":{\"N\":\"1\"}},\"ReturnValues\":\"UPDATED_OLD\"}",
         "{\"Attributes\":{\"gone\":{\"S\":\"g\"},\"v\":{\"N\":\"1\"}}}"},
        {"UpdateItem", "%s,\"UpdateExpression\":\"SET v = v + :d, w = :d\",\"ExpressionAttributeValues\":"
                       "{\":d\":{\"N\":\"1\"}},\"ReturnValues\":\"UPDATED_NEW\"}",
         "{\"Attributes\":{\"v\":{\"N\":\"3\"},\"w\":{\"N\":\"1\"}}}"},
        {"UpdateItem", "%s,\"UpdateExpression\":\"REMOVE w\",\"ReturnValues\":\"ALL_OLD\"}",
         "{\"Attributes\":{\"m\":{\"M\":{\"x\":{\"N\":\"1\"},\"y\":{\"L\":[{\"S\":\"y0\"},{\"S\":\"y1\"}]}}},"
         "\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"v\":{\"N\":\"3\"},\"w\":{\"N\":\"1\"}}}"},
        {"UpdateItem", "%s,\"UpdateExpression\":\"SET n = :d\",\"ExpressionAttributeValues\":{\":d\":{\"N\":\"1\"}},"
                       "\"ReturnValues\":\"UPDATED_OLD\"}", "{}"},   /* n was not there: no Attributes */
        {"UpdateItem", "{\"TableName\":\"Tbl\",\"Key\":{\"pk\":{\"S\":\"new\"},\"sk\":{\"N\":\"1\"}},"
                       "\"UpdateExpression\":\"SET n = :d\",\"ExpressionAttributeValues\":{\":d\":{\"N\":\"1\"}},"
                       "\"ReturnValues\":\"ALL_OLD\"}", "{}"},      /* no item before */
        {"UpdateItem", "%s,\"UpdateExpression\":\"SET n = :d\",\"ExpressionAttributeValues\":{\":d\":{\"N\":\"2\"}},"
                       "\"ReturnValues\":\"NONE\"}", "{}"},
        {"GetItem", "%s,\"ProjectionExpression\":\"#v, m.y[1], nope\",\"ExpressionAttributeNames\":{\"#v\":\"v\"}}",
         "{\"Item\":{\"m\":{\"M\":{\"y\":{\"L\":[{\"S\":\"y1\"}]}}},\"v\":{\"N\":\"3\"}}}"},
        {"Query", "{\"TableName\":\"Tbl\",\"KeyConditionExpression\":\"pk = :p\",\"ExpressionAttributeValues\":"
                  "{\":p\":{\"S\":\"a\"}},\"ProjectionExpression\":\"n, sk\"}",
         "{\"Items\":[{\"n\":{\"N\":\"2\"},\"sk\":{\"N\":\"1\"}}],\"Count\":1,\"ScannedCount\":1}"},
        {"Scan", "{\"TableName\":\"Tbl\",\"ProjectionExpression\":\"pk\",\"FilterExpression\":\"v = :v\","
                 "\"ExpressionAttributeValues\":{\":v\":{\"N\":\"3\"}}}",
         "{\"Items\":[{\"pk\":{\"S\":\"a\"}}],\"Count\":1,\"ScannedCount\":2}"},
        {"Scan", "{\"TableName\":\"Tbl\",\"Select\":\"COUNT\"}", "{\"Count\":2,\"ScannedCount\":2}"},
        {"BatchGetItem", "{\"RequestItems\":{\"Tbl\":{\"Keys\":[{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}],"
                         "\"ProjectionExpression\":\"m.x\"}}}",
         "{\"Responses\":{\"Tbl\":[{\"m\":{\"M\":{\"x\":{\"N\":\"1\"}}}}]},\"UnprocessedKeys\":{}}"},
    };
    fx *f = *state;
    tm_error e;
    create(f);
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        char req[1024];
        cJSON *r = NULL;
        snprintf(req, sizeof req, steps[i].req, K);
        if (call(f, steps[i].op, req, &r, &e)) fail_msg("step %zu %s: %s", i, steps[i].op, e.message);
        char *got = cJSON_PrintUnformatted(r);
        if (strcmp(got, steps[i].want)) fail_msg("step %zu %s: got %s, want %s", i, steps[i].op, got, steps[i].want);
        free(got);
        cJSON_Delete(r);
    }
    /* PutItem and DeleteItem take NONE and ALL_OLD only; UpdateItem no other word */
    assert_int_equal(call(f, "PutItem", "{\"TableName\":\"Tbl\",\"Item\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},"
                          "\"ReturnValues\":\"ALL_NEW\"}", NULL, &e), TM_ERR_BAD_PARAMETER);
    assert_int_equal(call(f, "GetItem", "{\"TableName\":\"Tbl\",\"Key\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},"
                          "\"ProjectionExpression\":\"m, m.x\"}", NULL, &e), TM_ERR_VALIDATION);
}

static void test_errors(void **state)
{
    fx *f = *state;
    tm_error e;
    cJSON *j;
    create(f);
    /* a missing table */
    assert_int_equal(call(f, "DescribeTable", "{\"TableName\":\"Nope\"}", NULL, &e), TM_ERR_RESOURCE_NOT_FOUND);
    assert_string_equal(tm_err_type(e.kind), "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException");
    assert_int_equal(tm_err_http(e.kind), 400);
    /* a failed condition: a conflict, exit 3, the message without the name */
    assert_int_equal(call(f, "PutItem", "{\"TableName\":\"Tbl\",\"Item\":{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}},"
                          "\"ConditionExpression\":\"attribute_exists(pk)\"}", NULL, &e), TM_ERR_CONDITIONAL_CHECK_FAILED);
    assert_int_equal(tm_err_exit(e.kind), 3);
    assert_null(strstr(e.message, "Exception"));
    j = tm_error_json(&e);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "__type")),
                        "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException");
    cJSON_Delete(j);
    /* a bad parameter (the table name): usage, 2 */
    assert_int_equal(call(f, "DescribeTable", "{\"TableName\":\"a/b\"}", NULL, &e), TM_ERR_BAD_PARAMETER);
    assert_int_equal(tm_err_exit(e.kind), 2);
    assert_string_equal(tm_err_name(e.kind), "ValidationException");
    /* a bad request (an item off the key schema): ValidationException, failed (1), naming it */
    assert_int_equal(call(f, "PutItem", "{\"TableName\":\"Tbl\",\"Item\":{\"pk\":{\"S\":\"a\"}}}", NULL, &e), TM_ERR_VALIDATION);
    assert_int_equal(tm_err_exit(e.kind), 1);
    assert_non_null(strstr(e.message, "sk"));
    assert_int_equal(call(f, "Frobnicate", "{}", NULL, &e), TM_ERR_UNKNOWN_OPERATION);
    assert_int_equal(tm_err_kind_of("com.amazonaws.dynamodb.v20120810#InvalidRestoreTimeException"),
                     TM_ERR_INVALID_RESTORE_TIME);
    assert_string_equal(tm_err_type(TM_ERR_DATA_CORRUPTED), "tidemark#DataCorruptedException");
}

static void test_continuous_backups(void **state)
{
    fx *f = *state;
    tm_error e;
    cJSON *r;
    create(f);
    assert_int_equal(call(f, "UpdateContinuousBackups", "{\"TableName\":\"Tbl\",\"PointInTimeRecoverySpecification\":"
                          "{\"PointInTimeRecoveryEnabled\":true,\"RecoveryPeriodInDays\":7}}", &r, &e), 0);
    const cJSON *p = path(path(r, "ContinuousBackupsDescription", NULL), "PointInTimeRecoveryDescription", NULL);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(p, "PointInTimeRecoveryStatus")), "ENABLED");
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "RecoveryPeriodInDays")), 7);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(p, "EarliestRestorableDateTime")));
    cJSON_Delete(r);
    assert_int_equal(call(f, "UpdateContinuousBackups", "{\"TableName\":\"Tbl\",\"PointInTimeRecoverySpecification\":"
                          "{\"PointInTimeRecoveryEnabled\":true,\"RecoveryPeriodInDays\":36}}", NULL, &e),
                     TM_ERR_BAD_PARAMETER);
    assert_int_equal(call(f, "DescribeContinuousBackups", "{\"TableName\":\"Tbl\"}", &r, &e), 0);
    cJSON_Delete(r);
}

static void test_times(void **state)
{
    (void)state;
    char ts[64];
    setenv("TZ", "UTC", 1);
    tm_awscli_time(1796528968550000LL, ts, sizeof ts);
    assert_string_equal(ts, "2026-12-06T03:49:28.550000+00:00");
    tm_awscli_time(1796528968000000LL, ts, sizeof ts);
    assert_string_equal(ts, "2026-12-06T03:49:28+00:00");
    /* botocore's reading: the fraction's microseconds rounded half to even */
    assert_int_equal(tm_json_time_us(1796528968.1234565), 1796528968123456LL);
    assert_int_equal(tm_json_time_us(1796528968.999999), 1796528968999999LL);
    cJSON *o = cJSON_CreateObject();
    tm_json_time(o, "StartTime", 1796528968123456LL);
    assert_int_equal(tm_json_time_us(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "StartTime"))), 1796528968123456LL);
    char *s = tm_awscli_json("X", o);
    assert_string_equal(s, "{\n    \"StartTime\": \"2026-12-06T03:49:28.123456+00:00\"\n}\n");
    free(s);
    cJSON_Delete(o);
    o = cJSON_CreateObject();
    s = tm_awscli_json("GetItem", o);   /* the CLI prints nothing for {} */
    assert_string_equal(s, "");
    free(s);
    cJSON_Delete(o);
}

/* Strings print byte for byte as Python's json.dumps(indent=4, ensure_ascii=False), as the aws
 * CLI prints them: two-character escapes, other controls as lowercase \u00xx, DEL and UTF-8
 * as they are (the one JSON quoter, engine/text, without TEXT_JSON_SAFE). */
static void test_text_form(void **state)
{
    (void)state;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "K\"1", "q\"b\\ nl\n cr\r tab\t bs\b ff\f c1\x01 c1f\x1f del\x7f \xc3\xa9 "
                                     "\xe2\x9c\x93 \xf0\x9f\x98\x80");
    char *s = tm_awscli_json("X", o);
    assert_string_equal(s, "{\n    \"K\\\"1\": \"q\\\"b\\\\ nl\\n cr\\r tab\\t bs\\b ff\\f c1\\u0001 "
                           "c1f\\u001f del\x7f \xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80\"\n}\n");
    free(s);
    cJSON_Delete(o);
}

static void test_restore_summary(void **state)
{
    fx *f = *state;
    tm_error e;
    cJSON *r;
    key_schema ks = {0};
    table_builder *b;
    table_restore_summary rs = {0};
    snprintf(ks.hash_name, sizeof ks.hash_name, "pk");
    ks.hash_type = AV_S;
    snprintf(rs.source_table_arn, sizeof rs.source_table_arn, "arn:aws:dynamodb:us-east-1:000000000000:table/Src");
    rs.restore_time_us = 1796528968500000LL;
    assert_int_equal(table_builder_open(f->home, "Rst", &ks, &b), 0);
    assert_int_equal(table_builder_set_restore_summary(b, &rs), 0);
    assert_int_equal(table_builder_commit(b, NULL), 0);
    assert_int_equal(call(f, "DescribeTable", "{\"TableName\":\"Rst\"}", &r, &e), 0);
    const cJSON *s = path(path(r, "Table", NULL), "RestoreSummary", NULL);
    assert_non_null(s);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(s, "SourceTableArn")), rs.source_table_arn);
    assert_null(cJSON_GetObjectItem(s, "SourceBackupArn"));
    assert_int_equal(tm_json_time_us(cJSON_GetNumberValue(cJSON_GetObjectItem(s, "RestoreDateTime"))), rs.restore_time_us);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(s, "RestoreInProgress")));
    cJSON_Delete(r);
}

static const char *str_at(const cJSON *j, const char *a, int i, const char *b)
{
    return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, a), i), b));
}

static void put_at(fx *f, int64_t us, int n)
{
    char req[160];
    tm_error e;
    clock_set_us(us);
    snprintf(req, sizeof req, "{\"TableName\":\"Tbl\",\"Item\":{\"pk\":{\"S\":\"t\"},\"sk\":{\"N\":\"%d\"}}}", n);
    assert_int_equal(call(f, "PutItem", req, NULL, &e), 0);
}

/* TidemarkTimeline: a quiet start, then a load of 60 writes at 10:02:05 is the one burst, with
 * the second to restore to; From/To as wire times and By choose the intervals; a bad By, a
 * range that ends before it begins and a time that is not a number are parameters (exit 2). */
static void test_timeline(void **state)
{
    fx *f = *state;
    tm_error e;
    cJSON *r;
    const int64_t t0 = 1762941600LL * 1000000;   /* 2025-11-12T10:00:00Z */
    create(f);
    assert_int_equal(call(f, "TidemarkTimeline", "{\"TableName\":\"Tbl\"}", &r, &e), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "Intervals")), 0);   /* no writes yet */
    assert_null(cJSON_GetObjectItem(r, "From"));
    cJSON_Delete(r);
    put_at(f, t0 + 30000000, 1);
    put_at(f, t0 + 40000000, 1);   /* an update of the same item */
    put_at(f, t0 + 70000000, 2);
    for (int i = 0; i < 60; i++) put_at(f, t0 + 125000000, 100 + i);
    clock_set_us(0);
    /* without By: a width for the range (95 s: 2 s, 48 rows; was minutes, issue 13) */
    assert_int_equal(call(f, "TidemarkTimeline", "{\"TableName\":\"Tbl\"}", &r, &e), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(r, "By")), "2s");
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "BucketSeconds")), 2);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "Intervals")), 48);
    assert_string_equal(str_at(r, "Bursts", 0, "FirstWrite"), "2025-11-12T10:02:05.000000Z");
    cJSON_Delete(r);
    assert_int_equal(call(f, "TidemarkTimeline", "{\"TableName\":\"Tbl\",\"By\":\"minute\"}", &r, &e), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(r, "By")), "minute");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(r, "From")), "2025-11-12T10:00:30.000000Z");
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "Writes")), 63);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "Updates")), 1);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "UsualWritesPerInterval")), 2);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "Intervals")), 3);
    assert_string_equal(str_at(r, "Intervals", 1, "Start"), "2025-11-12T10:01:00Z");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "Intervals"), 2), "Burst")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "Bursts")), 1);
    assert_string_equal(str_at(r, "Bursts", 0, "FirstWrite"), "2025-11-12T10:02:05.000000Z");
    assert_string_equal(str_at(r, "Bursts", 0, "LastGoodTime"), "2025-11-12T10:02:04.999999Z");
    assert_string_equal(str_at(r, "Bursts", 0, "LastGoodSecond"), "2025-11-12T10:02:04Z");
    /* issue 13: the write before it, the export window, what it touched */
    assert_string_equal(str_at(r, "Bursts", 0, "RestoreTo"), "2025-11-12T10:01:10.000000Z");
    assert_string_equal(str_at(r, "Bursts", 0, "ExportUntil"), "2025-11-12T10:02:05.000060Z");
    const cJSON *t = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "Bursts"), 0), "Touched");
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(t, "PartitionKeys")), 1);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(t, "PartitionKeysExact")));
    assert_string_equal(str_at(t, "KeyPrefixes", 0, "Prefix"), "t");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(t, "Attributes")), 0);
    cJSON_Delete(r);
    /* the minute 10:01 alone, as wire times; then by hour */
    assert_int_equal(call(f, "TidemarkTimeline", "{\"TableName\":\"Tbl\",\"From\":1762941660,\"To\":1762941719.999999,"
                          "\"By\":\"minute\"}",
                          &r, &e), 0);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "Writes")), 1);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(r, "To")), "2025-11-12T10:01:59.999999Z");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "Intervals")), 1);
    cJSON_Delete(r);
    assert_int_equal(call(f, "TidemarkTimeline", "{\"TableName\":\"Tbl\",\"By\":\"hour\"}", &r, &e), 0);
    assert_string_equal(str_at(r, "Intervals", 0, "Start"), "2025-11-12T10:00:00Z");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "Intervals")), 1);
    cJSON_Delete(r);
    static const char *const bad[] = {
        "{\"TableName\":\"Tbl\",\"By\":\"fortnight\"}",   /* day is a width now (issue 13) */
        "{\"TableName\":\"Tbl\",\"From\":1762941700,\"To\":1762941600}",
        "{\"TableName\":\"Tbl\",\"From\":\"yesterday\"}",
        "{\"TableName\":\"a/b\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(call(f, "TidemarkTimeline", bad[i], NULL, &e), TM_ERR_BAD_PARAMETER);
        assert_int_equal(tm_err_exit(e.kind), 2);
    }
    assert_int_equal(call(f, "TidemarkTimeline", "{\"TableName\":\"Nope\"}", NULL, &e), TM_ERR_RESOURCE_NOT_FOUND);
    assert_int_equal(tm_err_exit(e.kind), 1);
}

static void test_readonly_home(void **state)
{
    (void)state;
    tm_db *db = NULL;
    tm_error e;
    assert_int_equal(tm_db_open("/tmp/tm-api-test-no-such-dir", TM_DB_READONLY, &db, &e), TM_ERR_RESOURCE_NOT_FOUND);
    assert_null(db);
    assert_non_null(strstr(e.message, "/tmp/tm-api-test-no-such-dir"));
    /* the words of every program's read-only check (cli_home_existing) */
    assert_non_null(strstr(e.message, "no tidemark data directory at /tmp/tm-api-test-no-such-dir (create one with "
                                      "`tidemark create-table --data /tmp/tm-api-test-no-such-dir ...`)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tables, setup, tu_api_teardown),
        cmocka_unit_test_setup_teardown(test_items, setup, tu_api_teardown),
        cmocka_unit_test_setup_teardown(test_return_values_projection, setup, tu_api_teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, tu_api_teardown),
        cmocka_unit_test_setup_teardown(test_continuous_backups, setup, tu_api_teardown),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_text_form),
        cmocka_unit_test_setup_teardown(test_restore_summary, setup, tu_api_teardown),
        cmocka_unit_test(test_readonly_home),
        cmocka_unit_test_setup_teardown(test_timeline, setup, tu_api_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
