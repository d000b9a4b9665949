/* ddb_ops.c: what the remote tools build on top of ddb_call -- DescribeTable, waiting for a
 * table, BatchWriteItem of any number of items from several threads, and a Scan iterator over
 * one segment of a parallel scan. */
#include "remote/ddb_internal.h"
#include "engine/err.h"
#include "engine/key.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH_MAX 25             /* BatchWriteItem's limit per request */
#define DEFAULT_ROUNDS 12
#define MAX_THREADS 256
#define MAX_SEGMENTS 1000000     /* DynamoDB's TotalSegments limit */

/* ================================================================================================
 * Tables
 * ============================================================================================== */

static cJSON *table_request(const char *table)
{
    cJSON *r = cJSON_CreateObject();
    if (r && !cJSON_AddStringToObject(r, "TableName", table)) {
        cJSON_Delete(r);
        r = NULL;
    }
    return r;
}

int ddb_describe_table(ddb_client *c, const char *table, cJSON **desc, ddb_error *err)
{
    *desc = NULL;
    cJSON *req = table_request(table), *resp = NULL;
    int rc = req ? ddb_call(c, "DescribeTable", req, &resp, err)
                 : err_set(TM_ENOMEM, "out of memory");
    if (!rc && !(*desc = cJSON_DetachItemFromObjectCaseSensitive(resp, "Table")))
        rc = err_set(TM_EREMOTE, "DynamoDB DescribeTable %s: answer without Table", table);
    cJSON_Delete(req);
    cJSON_Delete(resp);
    return rc;
}

int ddb_key_schema(const cJSON *desc, key_schema *ks)
{
    return key_schema_from_json(desc, ks) ? err_wrap(TM_EREMOTE, "DescribeTable: ") : 0;
}

/* Polls DescribeTable every 50 ms until the table is ACTIVE, or gone when gone is 1. */
static int wait_for(ddb_client *c, const char *table, int gone, int timeout_ms, ddb_error *err)
{
    struct timespec t0, now, nap = {0, 50 * 1000000L};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        cJSON *d = NULL;
        int rc = ddb_describe_table(c, table, &d, err);
        if (rc == TM_ENOTFOUND && gone) return 0;
        if (rc) return rc;
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "TableStatus"));
        char status[32];
        snprintf(status, sizeof status, "%s", st ? st : "(none)");
        cJSON_Delete(d);
        if (!gone && !strcmp(status, "ACTIVE")) return 0;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - t0.tv_sec) * 1000L + (now.tv_nsec - t0.tv_nsec) / 1000000L;
        if (ms >= timeout_ms)
            return err_set(TM_ELIMIT, "DynamoDB table %s %s after %d ms (%s)", table,
                           gone ? "still exists" : "is not ACTIVE", timeout_ms, status);
        nanosleep(&nap, NULL);
    }
}

int ddb_wait_active(ddb_client *c, const char *table, int timeout_ms, ddb_error *err)
{
    return wait_for(c, table, 0, timeout_ms, err);
}

int ddb_wait_deleted(ddb_client *c, const char *table, int timeout_ms, ddb_error *err)
{
    return wait_for(c, table, 1, timeout_ms, err);
}

/* ================================================================================================
 * BatchWriteItem
 * ============================================================================================== */

struct batch {
    ddb_client *c;
    const char *table;
    const cJSON *const *items;
    size_t n;
    int deletes, max_rounds;
    _Atomic size_t next;         /* the next chunk to take */
    _Atomic int stop;            /* a chunk failed: take no more */
    pthread_mutex_t mu;
    int rc;                      /* the first failure, with its detail and answer */
    char detail[1024];
    ddb_error err;
    ddb_batch_stats st;
};

/* {"RequestItems": {table: [{"PutRequest": {"Item": <reference>}}, ...]}}: the items are not
 * copied. */
static cJSON *chunk_request(const struct batch *b, size_t first, size_t cnt)
{
    cJSON *req = cJSON_CreateObject();
    cJSON *ri = req ? cJSON_AddObjectToObject(req, "RequestItems") : NULL;
    cJSON *arr = ri ? cJSON_AddArrayToObject(ri, b->table) : NULL;
    for (size_t i = first; arr && i < first + cnt; i++) {
        cJSON *w = cJSON_CreateObject();
        cJSON *r = w ? cJSON_AddObjectToObject(w, b->deletes ? "DeleteRequest" : "PutRequest")
                     : NULL;
        /* cJSON's object reference points at the first member, not the object. */
        cJSON *ref = r ? cJSON_CreateObjectReference(b->items[i]->child) : NULL;
        if (ref) cJSON_AddItemToObject(r, b->deletes ? "Key" : "Item", ref);
        if (!ref || !cJSON_AddItemToArray(arr, w)) {
            cJSON_Delete(w);
            arr = NULL;
        }
    }
    if (!arr) {
        cJSON_Delete(req);
        return NULL;
    }
    return req;
}

/* Write requests left in an UnprocessedItems map (every table's array). */
static size_t count_unprocessed(const cJSON *un)
{
    size_t n = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, un) n += (size_t)cJSON_GetArraySize(t);
    return n;
}

/* Sends one chunk until the server has taken every item of it. */
static int send_chunk(struct batch *b, size_t first, size_t cnt, ddb_batch_stats *st,
                      ddb_error *e)
{
    cJSON *req = chunk_request(b, first, cnt), *resp = NULL;
    if (!req) return err_set(TM_ENOMEM, "out of memory");
    int rc = 0;
    size_t sent = cnt;
    for (int round = 1;; round++) {
        if ((rc = ddb_call(b->c, "BatchWriteItem", req, &resp, e))) break;
        st->requests++;
        cJSON *un = cJSON_DetachItemFromObjectCaseSensitive(resp, "UnprocessedItems");
        size_t left = count_unprocessed(un);
        cJSON_Delete(resp);
        resp = NULL;
        st->written += sent - (left < sent ? left : sent);
        if (!left) {
            cJSON_Delete(un);
            break;
        }
        if (round >= b->max_rounds) {
            cJSON_Delete(un);
            rc = err_set(TM_EREMOTE, "DynamoDB BatchWriteItem %s: %zu items still unprocessed "
                                     "after %d rounds", b->table, left, round);
            break;
        }
        st->unprocessed += left;
        cJSON_Delete(req);
        if (!(req = cJSON_CreateObject())) {
            cJSON_Delete(un);
            rc = err_set(TM_ENOMEM, "out of memory");
            break;
        }
        cJSON_AddItemToObject(req, "RequestItems", un);
        sent = left;
        ddb_backoff(b->c, round);
    }
    cJSON_Delete(req);
    return rc;
}

static void *batch_worker(void *arg)
{
    struct batch *b = arg;
    size_t nchunks = (b->n + BATCH_MAX - 1) / BATCH_MAX;
    ddb_batch_stats st = {0, 0, 0};
    ddb_error e;
    while (!atomic_load(&b->stop)) {
        size_t k = atomic_fetch_add(&b->next, 1);
        if (k >= nchunks) break;
        size_t first = k * BATCH_MAX, cnt = b->n - first < BATCH_MAX ? b->n - first : BATCH_MAX;
        int rc = send_chunk(b, first, cnt, &st, &e);
        if (rc) {
            atomic_store(&b->stop, 1);
            pthread_mutex_lock(&b->mu);
            if (!b->rc) {  /* the detail is per thread: carry it to the caller's */
                b->rc = rc;
                b->err = e;
                snprintf(b->detail, sizeof b->detail, "%s", err_msg());
            }
            pthread_mutex_unlock(&b->mu);
            break;
        }
    }
    pthread_mutex_lock(&b->mu);
    b->st.written += st.written;
    b->st.requests += st.requests;
    b->st.unprocessed += st.unprocessed;
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

int ddb_batch_write(ddb_client *c, const char *table, const cJSON *const *items, size_t n,
                    const ddb_batch_options *o, ddb_batch_stats *stats, ddb_error *err)
{
    static const ddb_batch_options defaults = DDB_BATCH_OPTIONS_INIT;
    if (!o) o = &defaults;
    if (o->threads < 0 || o->threads > MAX_THREADS || o->max_rounds < 0)
        return err_set(TM_EINVAL, "ddb_batch_write: threads must be 0..%d, max_rounds >= 0",
                       MAX_THREADS);
    struct batch b = {.c = c, .table = table, .items = items, .n = n, .deletes = o->deletes,
                      .max_rounds = o->max_rounds ? o->max_rounds : DEFAULT_ROUNDS};
    pthread_mutex_init(&b.mu, NULL);
    size_t nchunks = (n + BATCH_MAX - 1) / BATCH_MAX;
    size_t nt = o->threads ? (size_t)o->threads : 1;
    if (nt > nchunks) nt = nchunks ? nchunks : 1;
    pthread_t tid[MAX_THREADS];
    size_t started = 0;
    for (; nt > 1 && started < nt; started++)
        if (pthread_create(&tid[started], NULL, batch_worker, &b)) break;
    if (!started) batch_worker(&b);  /* one thread, or none could start: this one */
    for (size_t i = 0; i < started; i++) pthread_join(tid[i], NULL);
    pthread_mutex_destroy(&b.mu);
    if (stats) *stats = b.st;
    if (err) {
        if (b.rc) *err = b.err;
        else memset(err, 0, sizeof *err);
    }
    return b.rc ? err_set(b.rc, "%s", b.detail) : 0;
}

/* ================================================================================================
 * Scan of one segment
 * ============================================================================================== */

struct ddb_scan {
    ddb_client *c;
    cJSON *req;                  /* the next page's request (with its ExclusiveStartKey) */
    cJSON *resp;                 /* the last page */
    int done;
};

static int scan_request(const char *table, const ddb_scan_options *o, cJSON **out)
{
    cJSON *r = table_request(table);
    int ok = r != NULL;
    if (ok && o->total_segments) {
        ok = cJSON_AddNumberToObject(r, "Segment", o->segment) &&
             cJSON_AddNumberToObject(r, "TotalSegments", o->total_segments);
    }
    if (ok && o->limit) ok = cJSON_AddNumberToObject(r, "Limit", o->limit) != NULL;
    if (ok && o->consistent_read) ok = cJSON_AddTrueToObject(r, "ConsistentRead") != NULL;
    if (ok && o->start_key) {
        cJSON *k = cJSON_Duplicate(o->start_key, 1);
        ok = k && cJSON_AddItemToObject(r, "ExclusiveStartKey", k);
        if (!ok) cJSON_Delete(k);
    }
    if (!ok) {
        cJSON_Delete(r);
        return err_set(TM_ENOMEM, "out of memory");
    }
    *out = r;
    return 0;
}

int ddb_scan_open(ddb_client *c, const char *table, const ddb_scan_options *o, ddb_scan **out)
{
    static const ddb_scan_options defaults = DDB_SCAN_OPTIONS_INIT;
    *out = NULL;
    if (!o) o = &defaults;
    if (o->total_segments < 0 || o->total_segments > MAX_SEGMENTS || o->segment < 0 ||
        (o->total_segments && o->segment >= o->total_segments) ||
        (!o->total_segments && o->segment) || o->limit < 0)
        return err_set(TM_EINVAL, "Scan of %s: segment %d of %d, limit %d: out of range", table,
                       o->segment, o->total_segments, o->limit);
    ddb_scan *s = calloc(1, sizeof *s);
    if (!s) return err_set(TM_ENOMEM, "out of memory");
    s->c = c;
    int rc = scan_request(table, o, &s->req);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int ddb_scan_next(ddb_scan *s, const cJSON **items, ddb_error *err)
{
    *items = NULL;
    if (s->done) return 0;
    cJSON *resp;
    int rc = ddb_call(s->c, "Scan", s->req, &resp, err);
    if (rc) return rc;
    cJSON_Delete(s->resp);
    s->resp = resp;
    const cJSON *its = cJSON_GetObjectItemCaseSensitive(resp, "Items");
    if (!cJSON_IsArray(its))
        return err_set(TM_EREMOTE, "DynamoDB Scan %s: answer without an Items array",
                       ddb_client_endpoint(s->c));
    const cJSON *lek = cJSON_GetObjectItemCaseSensitive(resp, "LastEvaluatedKey");
    cJSON_DeleteItemFromObjectCaseSensitive(s->req, "ExclusiveStartKey");
    if (lek) {
        cJSON *k = cJSON_Duplicate(lek, 1);
        if (!k || !cJSON_AddItemToObject(s->req, "ExclusiveStartKey", k)) {
            cJSON_Delete(k);
            return err_set(TM_ENOMEM, "out of memory");
        }
    } else {
        s->done = 1;
    }
    *items = its;
    return 1;
}

const cJSON *ddb_scan_position(const ddb_scan *s)
{
    return cJSON_GetObjectItemCaseSensitive(s->req, "ExclusiveStartKey");
}

void ddb_scan_close(ddb_scan *s)
{
    if (!s) return;
    cJSON_Delete(s->req);
    cJSON_Delete(s->resp);
    free(s);
}
