/* errors.c: the one error table: each kind's short name, wire __type, HTTP status and exit
 * status, and the mapping from engine codes (engine/err.h) to kinds.
 *
 * Exit statuses are the same in every program: 0 done, 1 failed, 2 usage (a parameter that is
 * malformed, e.g. a table name or an option value), 3 done with item-level errors or conflicts
 * (a failed condition is a conflict: the request was fine, the data said no). */
#include "api/ops.h"
#include "engine/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define AWS "com.amazonaws.dynamodb.v20120810#"
#define AWS_COMMON "com.amazon.coral.service#"

#define TIDEMARK "tidemark#"

/* A row: its __type is the namespace prefix and its name, written once. */
#define ROW(prefix, name, http, exit, named) {name, prefix name, http, exit, named}

typedef struct err_row {
    const char *name, *type;
    int http, exit, named;
} err_row;

static const err_row rows[TM_ERR__COUNT] = {
    [TM_ERR_NONE] = {"", "", 200, 0, 0},
    [TM_ERR_VALIDATION] = ROW(AWS_COMMON, "ValidationException", 400, 1, 0),
    [TM_ERR_BAD_PARAMETER] = ROW(AWS_COMMON, "ValidationException", 400, 2, 0),
    [TM_ERR_SERIALIZATION] = ROW(AWS_COMMON, "SerializationException", 400, 2, 1),
    [TM_ERR_RESOURCE_NOT_FOUND] = ROW(AWS, "ResourceNotFoundException", 400, 1, 0),
    [TM_ERR_RESOURCE_IN_USE] = ROW(AWS, "ResourceInUseException", 400, 1, 0),
    [TM_ERR_CONDITIONAL_CHECK_FAILED] = ROW(AWS, "ConditionalCheckFailedException", 400, 3, 1),
    [TM_ERR_TRANSACTION_CONFLICT] = ROW(AWS, "TransactionConflictException", 400, 3, 1),
    [TM_ERR_THROUGHPUT_EXCEEDED] = ROW(AWS, "ProvisionedThroughputExceededException", 400, 1, 1),
    [TM_ERR_ITEM_COLLECTION_SIZE] = ROW(AWS, "ItemCollectionSizeLimitExceededException", 400, 1, 1),
    [TM_ERR_PITR_UNAVAILABLE] = ROW(AWS, "PointInTimeRecoveryUnavailableException", 400, 1, 1),
    [TM_ERR_CONTINUOUS_BACKUPS_UNAVAILABLE] =
        ROW(AWS, "ContinuousBackupsUnavailableException", 400, 1, 1),
    [TM_ERR_INVALID_RESTORE_TIME] = ROW(AWS, "InvalidRestoreTimeException", 400, 1, 1),
    [TM_ERR_TABLE_ALREADY_EXISTS] = ROW(AWS, "TableAlreadyExistsException", 400, 1, 1),
    [TM_ERR_TABLE_NOT_FOUND] = ROW(AWS, "TableNotFoundException", 400, 1, 1),
    [TM_ERR_TABLE_IN_USE] = ROW(AWS, "TableInUseException", 400, 1, 1),
    [TM_ERR_INVALID_EXPORT_TIME] = ROW(AWS, "InvalidExportTimeException", 400, 1, 1),
    [TM_ERR_EXPORT_CONFLICT] = ROW(AWS, "ExportConflictException", 400, 1, 1),
    [TM_ERR_EXPORT_NOT_FOUND] = ROW(AWS, "ExportNotFoundException", 400, 1, 1),
    [TM_ERR_IMPORT_CONFLICT] = ROW(AWS, "ImportConflictException", 400, 1, 1),
    [TM_ERR_IMPORT_NOT_FOUND] = ROW(AWS, "ImportNotFoundException", 400, 1, 1),
    [TM_ERR_LIMIT_EXCEEDED] = ROW(AWS, "LimitExceededException", 400, 1, 1),
    [TM_ERR_UNKNOWN_OPERATION] = ROW(AWS_COMMON, "UnknownOperationException", 400, 2, 1),
    [TM_ERR_MISSING_AUTH_TOKEN] = ROW(AWS_COMMON, "MissingAuthenticationTokenException", 400, 1, 1),
    [TM_ERR_UNRECOGNIZED_CLIENT] = ROW(AWS_COMMON, "UnrecognizedClientException", 400, 1, 1),
    [TM_ERR_INVALID_SIGNATURE] = ROW(AWS_COMMON, "InvalidSignatureException", 400, 1, 1),
    [TM_ERR_ACCESS_DENIED] = ROW(AWS_COMMON, "AccessDeniedException", 400, 1, 1),
    [TM_ERR_INTERNAL] = ROW(AWS, "InternalServerError", 500, 1, 0),
    [TM_ERR_IO] = ROW(TIDEMARK, "IOException", 500, 1, 0),
    [TM_ERR_DATA_CORRUPTED] = ROW(TIDEMARK, "DataCorruptedException", 500, 1, 0),
    [TM_ERR_LOG_MISSING] = ROW(TIDEMARK, "MissingLogSegmentException", 500, 1, 0),
    [TM_ERR_BUSY] = ROW(TIDEMARK, "BusyException", 503, 1, 0),
    [TM_ERR_WRITE_CONFLICT] = ROW(TIDEMARK, "WriteConflictException", 409, 3, 0),
    [TM_ERR_REMOTE] = ROW(TIDEMARK, "RemoteStoreException", 502, 1, 0),
};

static const err_row *row(int kind)
{
    return kind > 0 && kind < TM_ERR__COUNT ? &rows[kind] : kind == 0 ? &rows[0] : &rows[TM_ERR_INTERNAL];
}

const char *tm_err_name(int kind) { return row(kind)->name; }
const char *tm_err_type(int kind) { return row(kind)->type; }
int tm_err_http(int kind) { return row(kind)->http; }
int tm_err_exit(int kind) { return row(kind)->exit; }
int tm_err_named(int kind) { return row(kind)->named; }

int tm_err_kind_of(const char *name)
{
    const char *h = name ? strchr(name, '#') : NULL;
    if (h) name = h + 1;
    for (int k = 1; name && k < TM_ERR__COUNT; k++)
        if (!strcmp(rows[k].name, name)) return k;
    return TM_ERR_NONE;
}

static int error_vset(tm_error *e, int kind, const char *prefix, const char *fmt, va_list ap)
{
    if (!e) return kind;
    e->kind = kind;
    int n = snprintf(e->message, sizeof e->message, "%s", prefix ? prefix : "");
    if (n < 0) n = 0;
    if (fmt && (size_t)n < sizeof e->message) vsnprintf(e->message + n, sizeof e->message - (size_t)n, fmt, ap);
    return kind;
}

int tm_error_set(tm_error *e, int kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_vset(e, kind, NULL, fmt, ap);
    va_end(ap);
    return kind;
}

/* The kind an engine code stands for. */
static int kind_of_code(int code)
{
    switch (code) {
    case TM_OK: return TM_ERR_NONE;
    case TM_EINVAL: return TM_ERR_VALIDATION;
    case TM_ELIMIT: return TM_ERR_VALIDATION;          /* DynamoDB: item size, depth: 400 */
    case TM_ENOTFOUND: return TM_ERR_RESOURCE_NOT_FOUND;
    case TM_EEXIST: return TM_ERR_RESOURCE_IN_USE;
    case TM_ECORRUPT: return TM_ERR_DATA_CORRUPTED;
    case TM_ECONDITION: return TM_ERR_CONDITIONAL_CHECK_FAILED;
    case TM_ERANGE: return TM_ERR_INVALID_RESTORE_TIME;
    case TM_EMISSING: return TM_ERR_LOG_MISSING;
    case TM_EREMOTE: return TM_ERR_REMOTE;
    case TM_EBUSY: return TM_ERR_BUSY;
    case TM_ECONFLICT: return TM_ERR_WRITE_CONFLICT;
    case TM_ENOMEM: return TM_ERR_INTERNAL;
    default: return TM_ERR_IO;
    }
}

int tm_error_from(tm_error *e, int tm_code, const char *fmt, ...)
{
    char prefix[512] = "";
    int kind = kind_of_code(tm_code);
    if (!kind) return kind;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
    }
    const char *m = err_msg();
    return tm_error_set(e, kind, "%s%s", prefix, m && *m ? m : err_name(tm_code));
}

cJSON *tm_error_json(const tm_error *e)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "__type", tm_err_type(e->kind));
    cJSON_AddStringToObject(o, "message", e->message);
    return o;
}
