/* ddb.h: a client of any DynamoDB-API endpoint (Amazon DynamoDB, DynamoDB Local, ScyllaDB
 * Alternator, dynalite, `tidemark serve`) over the DynamoDB JSON 1.0 protocol.
 *
 * PROTOCOL
 *   Every call is POST / with X-Amz-Target: DynamoDB_20120810.<Operation> and Content-Type
 *   application/x-amz-json-1.0; requests and responses are the DynamoDB API's JSON shapes.
 *   libcurl signs with SigV4 (service "dynamodb"); credentials, region, endpoint, CA bundle and
 *   max attempts come from the AWS configuration chain the store reads (store.h CONFIGURATION,
 *   with AWS_ENDPOINT_URL_DYNAMODB for the endpoint; default https://dynamodb.REGION.amazonaws.com).
 *
 * RETRIES
 *   Retried, up to max_attempts tries in all, sleeping base * 2^(n-1) ms (capped) with equal
 *   jitter: transport failures (connect, reset, timeout, empty reply), a body whose x-amz-crc32
 *   does not match, HTTP 5xx and 429, and the throttling errors
 *   ProvisionedThroughputExceededException, ThrottlingException, RequestLimitExceeded.
 *   Never retried: any other 4xx (ConditionalCheckFailedException, ValidationException, ...).
 *   A write retried after a 5xx may have been applied by the failed try (as in the AWS SDKs): a
 *   conditional write may then fail its condition on the retry.
 *
 * ERRORS
 *   0, or a negative TM_E* code (engine/err.h), the detail in err_msg() ("DynamoDB PutItem
 *   http://host:port: HTTP 400 ConditionalCheckFailedException: The conditional request failed"),
 *   and, when err is not NULL, the HTTP status, the short error type and the message in it:
 *   TM_ECONDITION  ConditionalCheckFailedException
 *   TM_ENOTFOUND   ResourceNotFoundException
 *   TM_EREMOTE     any other error answer, or the transport error after the last try
 *   TM_EINVAL      bad configuration or argument (ddb_client_open, the helpers)
 *   Secrets never appear in an error.
 *
 * THREADS
 *   A client may be used by many threads at once. At most max_connections calls are in flight;
 *   more wait for a free connection. Idle connections are kept open (keep-alive) and reused. An
 *   iterator (ddb_scan) is used by one thread at a time. */
#ifndef TIDEMARK_DDB_H
#define TIDEMARK_DDB_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ddb_client ddb_client;
typedef struct ddb_scan ddb_scan;

/* ---- the client ------------------------------------------------------------------------- */

typedef struct ddb_config {
    const char *endpoint_url;    /* "http://127.0.0.1:8000"; NULL: the AWS chain, else AWS */
    const char *region;          /* NULL: the AWS chain ("us-east-1" at last) */
    const char *profile;         /* NULL: AWS_PROFILE, else "default" */
    const char *ca_bundle;       /* NULL: the AWS chain, else the system's */
    int max_connections;         /* calls in flight (and connections kept), >= 1; 0: 32 */
    int max_attempts;            /* tries per call, >= 1; 0: the AWS chain (5 at last) */
    int retry_base_ms;           /* first backoff step; 0: 50 ms */
    int retry_cap_ms;            /* longest backoff step; 0: 20000 ms */
    long timeout_s;              /* a call that moves no byte for this long fails; 0: 60 */
} ddb_config;

#define DDB_CONFIG_INIT {NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0}

/* What the last try of a call answered. */
typedef struct ddb_error {
    long status;                 /* HTTP status; 0: no answer (transport failure) */
    char type[96];               /* "ConditionalCheckFailedException" ("" if none) */
    char message[512];           /* the server's message, or the transport error */
    int attempts;                /* tries made */
} ddb_error;

/* Contacts nothing yet. On failure *out is NULL. */
int ddb_client_open(const ddb_config *cfg, ddb_client **out);
void ddb_client_close(ddb_client *c);  /* accepts NULL; no call may be in flight */
/* "http://127.0.0.1:8000" (no trailing '/'); valid until ddb_client_close. */
const char *ddb_client_endpoint(const ddb_client *c);
/* Counters since open: calls, tries beyond the first (retries). */
void ddb_client_counts(const ddb_client *c, uint64_t *calls, uint64_t *retries);

/* One operation ("PutItem", "DescribeTable", ...) with its request shape. On success *response
 * is the parsed answer, owned by the caller (cJSON_Delete); on failure it is NULL, except for
 * TM_ECONDITION, where it is the error answer (with "Item" when the request asked for
 * ReturnValuesOnConditionCheckFailure ALL_OLD), also the caller's. err may be NULL. */
int ddb_call(ddb_client *c, const char *operation, const cJSON *request, cJSON **response,
             ddb_error *err);

/* ---- helpers ---------------------------------------------------------------------------- */

/* The table's TableDescription ("Table" of DescribeTable), owned by the caller. */
int ddb_describe_table(ddb_client *c, const char *table, cJSON **desc, ddb_error *err);
struct key_schema;
/* A TableDescription's KeySchema and AttributeDefinitions as a key_schema (key.h
 * key_schema_from_json). TM_EREMOTE, "DescribeTable: <what is wrong>", when they are not one. */
int ddb_key_schema(const cJSON *desc, struct key_schema *ks);
/* Polls DescribeTable until TableStatus is ACTIVE; TM_ELIMIT after timeout_ms. */
int ddb_wait_active(ddb_client *c, const char *table, int timeout_ms, ddb_error *err);
/* Polls DescribeTable until the table is gone (ResourceNotFoundException); TM_ELIMIT after
 * timeout_ms ("DynamoDB table T still exists after N ms (DELETING)"). */
int ddb_wait_deleted(ddb_client *c, const char *table, int timeout_ms, ddb_error *err);

typedef struct ddb_batch_options {
    int deletes;                 /* 0: items are Items (PutRequest); 1: Keys (DeleteRequest) */
    int threads;                 /* chunks in flight at once, >= 1; 0: 1 */
    int max_rounds;              /* sends of one chunk's UnprocessedItems; 0: 12 */
} ddb_batch_options;

#define DDB_BATCH_OPTIONS_INIT {0, 0, 0}

typedef struct ddb_batch_stats {
    uint64_t written;            /* items the server accepted */
    uint64_t requests;           /* BatchWriteItem calls that succeeded */
    uint64_t unprocessed;        /* items sent again because they came back unprocessed */
} ddb_batch_stats;

/* Writes n items (or deletes n keys) by BatchWriteItem in chunks of 25, sending each chunk's
 * UnprocessedItems again with backoff until none are left or max_rounds; TM_EREMOTE naming how
 * many items were left. Keys must be distinct within each chunk (DynamoDB refuses duplicates).
 * The items are borrowed for the call. stats and err may be NULL; stats counts also on failure. */
int ddb_batch_write(ddb_client *c, const char *table, const cJSON *const *items, size_t n,
                    const ddb_batch_options *o, ddb_batch_stats *stats, ddb_error *err);

typedef struct ddb_scan_options {
    int segment, total_segments; /* a parallel scan's part; total_segments 0: the whole table */
    int limit;                   /* items per page asked for; 0: the server's (1 MB) */
    int consistent_read;
    const cJSON *start_key;      /* ExclusiveStartKey to resume from (copied); NULL: the start */
} ddb_scan_options;

#define DDB_SCAN_OPTIONS_INIT {0, 0, 0, 0, NULL}

/* An iterator over the Scan pages of one segment. */
int ddb_scan_open(ddb_client *c, const char *table, const ddb_scan_options *o, ddb_scan **out);
/* The next page: 1 with *items its Items array (borrowed until the next call or close; it may
 * be empty), 0 when the segment is done, or < 0. */
int ddb_scan_next(ddb_scan *s, const cJSON **items, ddb_error *err);
/* Where the next page starts (save it to resume): the LastEvaluatedKey of the last page, before
 * the first page the start_key given (or NULL), NULL once the segment is done. Borrowed until
 * the next call or close. */
const cJSON *ddb_scan_position(const ddb_scan *s);
void ddb_scan_close(ddb_scan *s);  /* accepts NULL */

#endif
