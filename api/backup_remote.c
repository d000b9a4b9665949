/* backup_remote.c: ExportTableToPointInTime and ImportTable on a table behind any DynamoDB-API
 * endpoint (Amazon DynamoDB, ScyllaDB Alternator, dynalite, `tidemark serve`) over the same
 * protocol (remote/ddb.h), for tidemark-export and tidemark-import --endpoint-url.
 *
 * EXPORT: a full export by parallel Scan (Segment/TotalSegments), one thread per segment (at
 * most SCAN_THREADS, each taking segments w, w + T, ...), each page's items converted to the
 * canonical binary encoding and written by export_seg (the same pipeline, manifests and schema
 * file as a local export; the key schema, TableId and ARN from DescribeTable). Memory: per
 * segment in flight one Scan page and one pipeline (export_seg.h). Resumable: run the same
 * request again (export_seg.h RESUME). A Scan is not a snapshot: writes during the export may or
 * may not be in it, as with AWS's own Scan-based tools; ExportTime is the first run's start.
 *
 * IMPORT: import_run with an import_sink: the table is created when missing (PAY_PER_REQUEST,
 * the key schema from the request, else the export's tidemark-schema.json; an existing table's
 * own key schema is used when none is given) and waited ACTIVE; items go in key order, equal
 * keys merged (the later wins), by ddb_batch_write in groups of SINK_GROUP (chunks of 25 sent by
 * TidemarkThreads connections; UnprocessedItems and throttling retried with backoff). A remote
 * table is not atomic, so a failure (a bad item past MaxErrors, the source, the endpoint, a
 * signal) is undone as far as AWS ImportTable's is: a table the import created is deleted
 * (waited gone); in a table that existed, what was written stays, and the error says how much.
 * A SIGKILL (or a lost endpoint) leaves the table: the error says so when it knows.
 *
 * REQUEST MEMBERS besides the local ops' (backup.c, backup_import.c):
 *   TidemarkTableEndpointUrl  the DynamoDB-API endpoint (required); TidemarkRegion also picks
 *                             its region, TidemarkProfile its credentials
 *   TidemarkSegments          export: TotalSegments (default 4, 1..EXPORT_SEG_MAX)
 *   TidemarkScanLimit         export: Limit per Scan page (default DEFAULT_LIMIT)
 *   TidemarkCheckpointBytes   export: item bytes per segment between saved positions (32 MiB)
 * RESPONSE: the description, plus TidemarkResumed (export) and TidemarkRetries. */
#include "api/backup_internal.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/item.h"
#include "engine/table.h"
#include "export/export_seg.h"
#include "remote/ddb.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCAN_THREADS     32
#define DEFAULT_SEGMENTS 4
#define SINK_GROUP       1000        /* items handed to one ddb_batch_write */
#define ACTIVE_WAIT_MS   120000
/* Items per Scan page when the request names no Limit. DynamoDB stops a page at 1 MB anyway;
 * this bounds a page (and the memory of a segment in flight) on servers that do not (tidemark
 * serve answered a 4-segment Scan of 80,000 items with 20,000-item pages: peak RSS grew with
 * the table, 69 -> 213 MB from 20,000 to 80,000 items; 66 MB flat with 1000). */
#define DEFAULT_LIMIT    1000

/* ================================================================================================
 * The remote table
 * ============================================================================================== */

static const char *desc_str(const cJSON *desc, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(desc, name));
}

/* A client for the request's endpoint, conns calls in flight. */
static int open_client(const cJSON *req, int conns, ddb_client **c, const char **url, tm_error *e)
{
    ddb_config cfg = DDB_CONFIG_INIT;
    int k;
    if ((k = req_str(req, "TidemarkTableEndpointUrl", 1, url, e)) ||
        (k = req_str(req, "TidemarkRegion", 0, &cfg.region, e)) ||
        (k = req_str(req, "TidemarkProfile", 0, &cfg.profile, e)))
        return k;
    cfg.endpoint_url = *url;
    cfg.max_connections = conns;
    int rc = ddb_client_open(&cfg, c);
    return rc ? backup_error(e, rc, TM_ERR_BAD_PARAMETER) : 0;
}

/* An optional whole-number member in [lo, hi] (0 when absent). */
static int req_int(const cJSON *req, const char *name, double lo, double hi, double *v,
                   tm_error *e)
{
    int has, k = breq_num(req, name, v, &has, e);
    if (k) return k;
    if (has && (*v < lo || *v > hi || *v != (double)(long long)*v))
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "%s must be a whole number %.0f..%.0f", name,
                            lo, hi);
    return 0;
}

/* ================================================================================================
 * Export: one thread per segment
 * ============================================================================================== */

typedef struct rx {
    ddb_client *c;
    export_seg *x;
    const char *table;
    int nseg, limit, nthreads;
    atomic_int stop;
    pthread_mutex_t mu;
    int rc;                      /* the first failure and its detail */
    char detail[1024];
} rx;

typedef struct rx_worker {
    rx *r;
    int first;
    pthread_t th;
} rx_worker;

/* A Scan item (DynamoDB JSON) in the canonical binary encoding. */
static int item_bin(const cJSON *it, buf *bin)
{
    char *json = cJSON_PrintUnformatted(it);
    item *im = NULL;
    if (!json) return err_set(TM_ENOMEM, "out of memory");
    int rc = item_parse_json(json, strlen(json), 0, &im);
    free(json);
    buf_reset(bin);
    if (!rc) rc = item_encode(im, bin);
    item_free(im);
    return rc ? err_wrap(rc, "an item the Scan returned: ") : 0;
}

static int scan_page(rx *r, int sg, const cJSON *items, const cJSON *pos, buf *bin)
{
    const cJSON *it;
    int rc = 0;
    cJSON_ArrayForEach(it, items) {
        if ((rc = item_bin(it, bin)) || (rc = export_seg_item(r->x, sg, bin->data, bin->len)))
            return rc;
    }
    char *p = pos ? cJSON_PrintUnformatted(pos) : NULL;
    if (pos && !p) return err_set(TM_ENOMEM, "out of memory");
    rc = export_seg_mark(r->x, sg, p);
    free(p);
    return rc;
}

static int scan_segment(rx *r, int sg, buf *bin)
{
    const char *pos;
    int rc = export_seg_start(r->x, sg, &pos);
    if (rc) return rc > 0 ? 0 : rc;   /* 1: done by an earlier run */
    ddb_scan_options so = DDB_SCAN_OPTIONS_INIT;
    cJSON *start = pos ? cJSON_Parse(pos) : NULL;
    if (pos && !start) return err_set(TM_ECORRUPT, "segment %d: a saved position that is not JSON", sg);
    so.segment = sg;
    so.total_segments = r->nseg;
    so.limit = r->limit;
    so.start_key = start;
    ddb_scan *s = NULL;
    const cJSON *items;
    rc = ddb_scan_open(r->c, r->table, &so, &s);
    cJSON_Delete(start);
    while (!rc && !atomic_load(&r->stop) && (rc = ddb_scan_next(s, &items, NULL)) == 1)
        rc = scan_page(r, sg, items, ddb_scan_position(s), bin);
    ddb_scan_close(s);
    return rc;
}

static void *rx_main(void *arg)
{
    rx_worker *w = arg;
    rx *r = w->r;
    buf bin = BUF_INIT;
    for (int sg = w->first; sg < r->nseg && !atomic_load(&r->stop); sg += r->nthreads) {
        int rc = scan_segment(r, sg, &bin);
        if (!rc) continue;
        atomic_store(&r->stop, 1);
        pthread_mutex_lock(&r->mu);
        if (!r->rc) {   /* the detail is this thread's: carry it to the caller's */
            r->rc = rc;
            snprintf(r->detail, sizeof r->detail, "segment %d: %s", sg, err_msg());
        }
        pthread_mutex_unlock(&r->mu);
    }
    buf_free(&bin);
    return NULL;
}

static int run_segments(rx *r)
{
    rx_worker w[SCAN_THREADS];
    int started = 0;
    r->nthreads = r->nseg < SCAN_THREADS ? r->nseg : SCAN_THREADS;
    pthread_mutex_init(&r->mu, NULL);
    for (; started < r->nthreads; started++) {
        w[started] = (rx_worker){r, started, 0};
        if (pthread_create(&w[started].th, NULL, rx_main, &w[started])) break;
    }
    if (started < r->nthreads) {
        atomic_store(&r->stop, 1);
        r->rc = err_set(TM_EIO, "cannot start the scan threads");
        snprintf(r->detail, sizeof r->detail, "%s", err_msg());
    }
    for (int i = 0; i < started; i++) pthread_join(w[i].th, NULL);
    pthread_mutex_destroy(&r->mu);
    return r->rc ? err_set(r->rc, "%s", r->detail) : 0;
}

int tm_export_remote_run(tm_db *db, const cJSON *req, tm_backup_run *run, cJSON **resp,
                         tm_error *e)
{
    export_options o = EXPORT_OPTIONS_INIT;
    store_options so = STORE_OPTIONS_INIT;
    export_seg_options xo = EXPORT_SEG_OPTIONS_INIT;
    char region[256], account[256], name[256], ar[256], aa[256], an[256];
    const char *url, *rg, *ac;
    double segs = 0, limit = 0, unit = 0;
    buf dest = BUF_INIT;
    cJSON *desc = NULL;
    rx r;
    export_desc d;
    int k, rc;
    (void)db;
    *resp = NULL;
    if (run) run->failed = NULL;
    memset(&r, 0, sizeof r);
    if ((k = breq_export(req, &o, &so, &dest, region, account, name, e))) goto out;
    if (o.type != EXPORT_FULL || o.time_us) {
        k = tm_error_set(e, TM_ERR_BAD_PARAMETER, "an export of a remote table is a full export "
                         "of the table now (its Scan): no ExportTime, no incremental export");
        goto out;
    }
    if ((k = req_int(req, "TidemarkSegments", 1, EXPORT_SEG_MAX, &segs, e)) ||
        (k = req_int(req, "TidemarkScanLimit", 1, 1e9, &limit, e)) ||
        (k = req_int(req, "TidemarkCheckpointBytes", 1, 1e15, &unit, e)) ||
        (k = req_str(req, "TidemarkRegion", 0, &rg, e)) ||
        (k = req_str(req, "TidemarkAccount", 0, &ac, e)))
        goto out;
    xo.segments = segs ? (int)segs : DEFAULT_SEGMENTS;
    if ((k = open_client(req, xo.segments < SCAN_THREADS ? xo.segments : SCAN_THREADS, &r.c,
                         &url, e)))
        goto out;
    if ((rc = ddb_describe_table(r.c, name, &desc, NULL)) || (rc = ddb_key_schema(desc, &xo.ks))) {
        k = backup_error(e, rc, rc == TM_ENOTFOUND ? TM_ERR_TABLE_NOT_FOUND : 0);
        goto out;
    }
    /* The ARN's region and account: given, else the table's own ARN, else the defaults. */
    const char *tarn = desc_str(desc, "TableArn");
    tm_error ignored;
    int arn_ok = tarn && !breq_table_arn(tarn, ar, aa, an, &ignored);
    xo.region = rg ? region : arn_ok ? ar : region;
    xo.account = ac ? account : arn_ok ? aa : account;
    xo.dest = o.dest;
    xo.store = &so;
    xo.source = url;
    xo.table = name;
    xo.table_id = desc_str(desc, "TableId");
    xo.compression = o.compression;
    xo.level = o.level;
    xo.max_file_bytes = o.max_file_bytes;
    xo.unit_bytes = (uint64_t)unit;
    xo.s3_bucket = o.s3_bucket;
    xo.s3_prefix = o.s3_prefix;
    xo.prog = run ? run->prog : NULL;
    const cJSON *cnt = cJSON_GetObjectItemCaseSensitive(desc, "ItemCount");
    if (cJSON_IsNumber(cnt) && xo.prog) progress_set_total(xo.prog, (uint64_t)cnt->valuedouble);
    if ((rc = export_seg_open(&xo, &r.x))) {
        k = backup_error(e, rc, 0);
        goto out;
    }
    r.table = name;
    r.nseg = export_seg_count(r.x);
    r.limit = limit ? (int)limit : DEFAULT_LIMIT;
    if ((rc = run_segments(&r)) || (rc = export_seg_finish(r.x, &d))) {
        k = backup_error(e, rc, 0);
        goto out;
    }
    *resp = backup_export_shape(&d);
    cJSON *x = cJSON_GetObjectItemCaseSensitive(*resp, "ExportDescription");
    cJSON_AddBoolToObject(x, "TidemarkResumed", export_seg_resumed(r.x, NULL));
    uint64_t calls, retries;
    ddb_client_counts(r.c, &calls, &retries);
    cJSON_AddNumberToObject(x, "TidemarkRetries", (double)retries);
    k = 0;
out:
    export_seg_close(r.x);   /* unfinished: its state says FAILED, and how to go on */
    ddb_client_close(r.c);
    cJSON_Delete(desc);
    buf_free(&dest);
    return k;
}

/* ================================================================================================
 * Import: the sink
 * ============================================================================================== */

typedef struct rsink {
    ddb_client *c;
    const char *table;
    int threads;
    cJSON **items;               /* pending, distinct keys, in key order */
    size_t n;
    buf last_key, json;
    ddb_batch_stats st;
    int created;                 /* CreateTable succeeded: a failed import deletes the table */
    int began;                   /* an existing table's schema matched: writes may have begun */
    char table_id[64], table_arn[600];
} rsink;

static int sink_flush(rsink *s)
{
    ddb_batch_options bo = DDB_BATCH_OPTIONS_INIT;
    ddb_batch_stats st;
    bo.threads = s->threads;
    int rc = s->n ? ddb_batch_write(s->c, s->table, (const cJSON *const *)s->items, s->n, &bo,
                                    &st, NULL)
                  : 0;
    if (s->n) {
        s->st.written += st.written;
        s->st.requests += st.requests;
        s->st.unprocessed += st.unprocessed;
    }
    for (size_t i = 0; i < s->n; i++) cJSON_Delete(s->items[i]);
    s->n = 0;
    return rc;
}

static int sink_put(void *ctx, const void *key, size_t kn, const void *img, size_t n)
{
    rsink *s = ctx;
    buf_reset(&s->json);
    int rc = item_bin_write_json(img, n, &s->json);
    if (rc) return rc;
    cJSON *it = cJSON_ParseWithLength(s->json.data, s->json.len);
    if (!it) return err_set(TM_ENOMEM, "out of memory");
    if (s->n && s->last_key.len == kn && !memcmp(s->last_key.data, key, kn)) {
        cJSON_Delete(s->items[s->n - 1]);   /* the same key again: the later item wins */
        s->items[s->n - 1] = it;
        return 0;
    }
    buf_reset(&s->last_key);
    if ((rc = buf_append(&s->last_key, key, kn))) {
        cJSON_Delete(it);
        return rc;
    }
    s->items[s->n++] = it;
    return s->n == SINK_GROUP ? sink_flush(s) : 0;
}

static int sink_commit(void *ctx)
{
    return sink_flush(ctx);
}

static cJSON *create_request(const char *name, const key_schema *ks)
{
    static const char *const letter[] = {[AV_S] = "S", [AV_N] = "N", [AV_B] = "B"};
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "TableName", name);
    cJSON *kss = cJSON_AddArrayToObject(r, "KeySchema");
    cJSON *defs = cJSON_AddArrayToObject(r, "AttributeDefinitions");
    for (int i = 0; i < (ks->range_type ? 2 : 1); i++) {
        const char *n = i ? ks->range_name : ks->hash_name;
        cJSON *k = cJSON_CreateObject(), *d = cJSON_CreateObject();
        cJSON_AddStringToObject(k, "AttributeName", n);
        cJSON_AddStringToObject(k, "KeyType", i ? "RANGE" : "HASH");
        cJSON_AddStringToObject(d, "AttributeName", n);
        cJSON_AddStringToObject(d, "AttributeType", letter[i ? ks->range_type : ks->hash_type]);
        cJSON_AddItemToArray(kss, k);
        cJSON_AddItemToArray(defs, d);
    }
    cJSON_AddStringToObject(r, "BillingMode", "PAY_PER_REQUEST");
    return r;
}

static void sink_note(rsink *s, const cJSON *desc)
{
    const char *id = desc_str(desc, "TableId"), *arn = desc_str(desc, "TableArn");
    snprintf(s->table_id, sizeof s->table_id, "%s", id ? id : "");
    snprintf(s->table_arn, sizeof s->table_arn, "%s", arn ? arn : "");
}

/* The key schema is known: the table must have it, or is created with it. */
static int sink_begin(void *ctx, const key_schema *ks)
{
    rsink *s = ctx;
    cJSON *desc = NULL, *resp = NULL;
    key_schema have;
    int rc = ddb_describe_table(s->c, s->table, &desc, NULL);
    if (rc == TM_ENOTFOUND) {
        cJSON *req = create_request(s->table, ks);
        rc = req ? ddb_call(s->c, "CreateTable", req, &resp, NULL) : err_set(TM_ENOMEM, "out of memory");
        cJSON_Delete(req);
        cJSON_Delete(resp);
        s->created = !rc;
        if (!rc) rc = ddb_wait_active(s->c, s->table, ACTIVE_WAIT_MS, NULL);
        if (!rc) rc = ddb_describe_table(s->c, s->table, &desc, NULL);
    } else if (!rc && !(rc = ddb_key_schema(desc, &have)) &&
               (have.hash_type != ks->hash_type || have.range_type != ks->range_type ||
                strcmp(have.hash_name, ks->hash_name) || strcmp(have.range_name, ks->range_name))) {
        rc = err_set(TM_EINVAL, "table %s at %s has another key schema (%s%s%s) than the import's "
                     "(%s%s%s)", s->table, ddb_client_endpoint(s->c), have.hash_name,
                     have.range_type ? ", " : "", have.range_name, ks->hash_name,
                     ks->range_type ? ", " : "", ks->range_name);
    }
    if (!rc) sink_note(s, desc);
    s->began = !rc && !s->created;
    cJSON_Delete(desc);
    return rc;
}

/* ================================================================================================
 * Import: a failure leaves no table the import created (as AWS ImportTable: a failed import's
 * table is not left behind), and what it wrote into an existing table stays (it cannot be told
 * from what was there, and a Scan to find it would be another failure's chance)
 * ============================================================================================== */

/* DeleteTable and wait until it is gone. A table still CREATING refuses DeleteTable
 * (ResourceInUseException): it is waited ACTIVE and asked once more. */
static int delete_created(rsink *s)
{
    cJSON *req = cJSON_CreateObject(), *resp = NULL;
    if (!req || !cJSON_AddStringToObject(req, "TableName", s->table)) {
        cJSON_Delete(req);
        return err_set(TM_ENOMEM, "out of memory");
    }
    int rc = ddb_call(s->c, "DeleteTable", req, &resp, NULL);
    if (rc && rc != TM_ENOTFOUND && !ddb_wait_active(s->c, s->table, ACTIVE_WAIT_MS, NULL)) {
        cJSON_Delete(resp);
        resp = NULL;
        rc = ddb_call(s->c, "DeleteTable", req, &resp, NULL);
    }
    cJSON_Delete(req);
    cJSON_Delete(resp);
    return rc == TM_ENOTFOUND ? 0 : rc ? rc : ddb_wait_deleted(s->c, s->table, ACTIVE_WAIT_MS, NULL);
}

/* After a failure: deletes the table the import created, and says in note what became of the
 * target ("" when the import failed before it touched one). */
static void sink_undo(rsink *s, char *note, size_t n)
{
    note[0] = 0;
    if (s->created) {
        if (delete_created(s))
            snprintf(note, n, "; the table %s this import created could not be deleted (%s): "
                     "delete it (aws dynamodb delete-table --table-name %s)", s->table,
                     err_msg(), s->table);
        else
            snprintf(note, n, "; the table %s this import created was deleted", s->table);
    } else if (s->began && s->st.written) {
        snprintf(note, n, "; %llu items were written to the existing table %s and stay there",
                 (unsigned long long)s->st.written, s->table);
    } else if (s->began) {
        snprintf(note, n, "; no items were written to the existing table %s", s->table);
    }
}

/* Appends note to a message of size n, cutting the message (not the note) when it is full. */
static void append_note(char *msg, size_t n, const char *note)
{
    size_t l = strlen(msg), nl = strlen(note);
    if (nl >= n) nl = n - 1;
    if (l + nl >= n) l = n - 1 - nl;
    memcpy(msg + l, note, nl);
    msg[l + nl] = 0;
}

int tm_import_remote_run(tm_db *db, const cJSON *req, tm_backup_run *run, cJSON **resp,
                         tm_error *e)
{
    import_options o = IMPORT_OPTIONS_INIT;
    import_result r;
    key_schema ks, have;
    buf from = BUF_INIT;
    const char **hdr = NULL, *url;
    char id[24], tarn[600], arn[700];
    rsink s;
    import_sink sk = {sink_begin, sink_put, sink_commit, &s, NULL};
    cJSON *desc = NULL;
    int k, rc;
    (void)db;
    *resp = NULL;
    if (run) run->failed = NULL;
    memset(&s, 0, sizeof s);
    memset(&r, 0, sizeof r);
    if ((k = breq_import(req, &o, &ks, &from, &hdr, e))) goto out;
    s.threads = o.threads > 0 ? o.threads : 8;
    s.table = o.table;
    s.last_key = (buf)BUF_INIT;
    s.json = (buf)BUF_INIT;
    if (!(s.items = calloc(SINK_GROUP, sizeof *s.items))) {
        k = tm_error_from(e, TM_ENOMEM, NULL);
        goto out;
    }
    if ((k = open_client(req, s.threads, &s.c, &url, e))) goto out;
    /* An existing table's own key schema serves when the request gives none. */
    rc = ddb_describe_table(s.c, o.table, &desc, NULL);
    if (rc && rc != TM_ENOTFOUND) {
        k = backup_error(e, rc, 0);
        goto out;
    }
    if (!rc && !o.ks && !ddb_key_schema(desc, &have)) o.ks = &have;
    if (!rc) sink_note(&s, desc);
    o.sink = &sk;
    o.home = NULL;
    if (run) {
        o.prog = run->prog;
        o.cancel = run->cancel;
    }
    rc = import_run(&o, &r);
    if (s.table_arn[0]) snprintf(tarn, sizeof tarn, "%s", s.table_arn);
    else table_arn(o.region, o.account, o.table, tarn, sizeof tarn);
    snprintf(r.table_id, sizeof r.table_id, "%s", s.table_id);
    r.table_items = s.st.written;
    backup_make_id(r.start_us ? r.start_us : clock_now_us(), id);
    snprintf(arn, sizeof arn, "%s/import/%s", tarn, id);
    if (rc) {
        char note[1024];
        k = backup_error(e, rc, rc == TM_EEXIST ? TM_ERR_RESOURCE_IN_USE : 0);
        sink_undo(&s, note, sizeof note);   /* after backup_error: it reads err_msg() */
        if (e) append_note(e->message, sizeof e->message, note);
        append_note(r.failure_message, sizeof r.failure_message, note);
    }
    cJSON *d = backup_import_shape(arn, tarn, &o, &r, rc ? "FAILED" : "COMPLETED");
    cJSON *x = cJSON_GetObjectItemCaseSensitive(d, "ImportTableDescription");
    cJSON_AddNumberToObject(x, "TidemarkWritten", (double)s.st.written);
    cJSON_AddNumberToObject(x, "TidemarkUnprocessedRetried", (double)s.st.unprocessed);
    if (rc) {
        if (run) run->failed = d;
        else cJSON_Delete(d);
    } else {
        *resp = d;
    }
out:
    for (size_t i = 0; i < s.n; i++) cJSON_Delete(s.items[i]);
    free(s.items);
    buf_free(&s.last_key);
    buf_free(&s.json);
    ddb_client_close(s.c);
    cJSON_Delete(desc);
    free(hdr);
    buf_free(&from);
    return k;
}
