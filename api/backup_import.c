/* backup_import.c: ImportTable, DescribeImport and ListImports, and the one writer of
 * ImportTableDescription. An import is recorded IN_PROGRESS before it begins and again when it
 * ends (backup_catalog.c: a killed one reads FAILED). */
#include "api/backup_internal.h"
#include "rollback/rollback.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/key.h"
#include "engine/table.h"
#include "import/import.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ================================================================ ImportTableDescription */

static const char *type_letter(av_type t)
{
    return t == AV_N ? "N" : t == AV_B ? "B" : "S";
}

static cJSON *key_schema_json(const key_schema *ks, int defs)
{
    cJSON *a = cJSON_CreateArray();
    for (int k = 0; k < (ks->range_type ? 2 : 1); k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "AttributeName", k ? ks->range_name : ks->hash_name);
        if (defs) cJSON_AddStringToObject(o, "AttributeType", type_letter(k ? ks->range_type : ks->hash_type));
        else cJSON_AddStringToObject(o, "KeyType", k ? "RANGE" : "HASH");
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

/* AWS's members, plus tidemark's own: ErrorLog (the --error-log file), SkippedEntries
 * [{"Entry","Reason"}] and SkippedEntryCount (archive links not read: import_src.c), and the
 * Tidemark* members front ends drop (api_backup_strip): TidemarkRejected (the first rejected
 * items, "<key> item N: message"), TidemarkTableItemCount, TidemarkFiles. */
cJSON *backup_import_shape(const char *arn, const char *table_arn, const import_options *o,
                           const import_result *r, const char *status)
{
    cJSON *out = cJSON_CreateObject(), *x = cJSON_AddObjectToObject(out, "ImportTableDescription");
    cJSON_AddStringToObject(x, "ImportArn", arn);
    cJSON_AddStringToObject(x, "ImportStatus", status);
    cJSON_AddStringToObject(x, "TableArn", table_arn);
    if (r->table_id[0]) cJSON_AddStringToObject(x, "TableId", r->table_id);
    cJSON *s = cJSON_AddObjectToObject(x, "S3BucketSource");
    cJSON_AddStringToObject(s, "S3Bucket", r->bucket);
    cJSON_AddStringToObject(s, "S3KeyPrefix", r->key_prefix);
    cJSON_AddNumberToObject(x, "ErrorCount", (double)r->error_count);
    if (o->error_log) cJSON_AddStringToObject(x, "ErrorLog", o->error_log);
    cJSON_AddStringToObject(x, "InputFormat", import_format_name(r->format));
    if (r->format == IMPORT_FMT_CSV) {
        char d[2] = {o->csv_delimiter, 0};
        cJSON *c = cJSON_AddObjectToObject(cJSON_AddObjectToObject(x, "InputFormatOptions"), "Csv");
        cJSON_AddStringToObject(c, "Delimiter", d);
        if (o->csv_header) {
            cJSON *h = cJSON_AddArrayToObject(c, "HeaderList");
            for (size_t i = 0; i < o->csv_header_n; i++)
                cJSON_AddItemToArray(h, cJSON_CreateString(o->csv_header[i]));
        }
    }
    cJSON_AddStringToObject(x, "InputCompressionType", import_compression_name(r->compression));
    cJSON *tc = cJSON_AddObjectToObject(x, "TableCreationParameters");
    cJSON_AddStringToObject(tc, "TableName", o->table ? o->table : "");
    if (r->ks.hash_type) {
        cJSON_AddItemToObject(tc, "AttributeDefinitions", key_schema_json(&r->ks, 1));
        cJSON_AddItemToObject(tc, "KeySchema", key_schema_json(&r->ks, 0));
    }
    cJSON_AddStringToObject(tc, "BillingMode", "PAY_PER_REQUEST");
    tm_json_time(x, "StartTime", r->start_us);
    if (strcmp(status, "IN_PROGRESS")) tm_json_time(x, "EndTime", r->end_us);
    cJSON_AddNumberToObject(x, "ProcessedSizeBytes", (double)r->processed_bytes);
    cJSON_AddNumberToObject(x, "ProcessedItemCount", (double)r->processed_items);
    cJSON_AddNumberToObject(x, "ImportedItemCount", (double)r->imported_items);
    if (r->skipped_count) {
        cJSON *a = cJSON_AddArrayToObject(x, "SkippedEntries");
        for (uint64_t i = 0; i < r->skipped_count && i < IMPORT_MAX_SKIPPED; i++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "Entry", r->skipped[i].entry);
            cJSON_AddStringToObject(e, "Reason", r->skipped[i].reason);
            cJSON_AddItemToArray(a, e);
        }
        cJSON_AddNumberToObject(x, "SkippedEntryCount", (double)r->skipped_count);
    }
    if (!strcmp(status, "FAILED")) {
        cJSON_AddStringToObject(x, "FailureCode", r->failure_code);
        cJSON_AddStringToObject(x, "FailureMessage", r->failure_message);
    }
    cJSON *rej = cJSON_AddArrayToObject(x, "TidemarkRejected");
    for (int i = 0; i < r->nsamples; i++) cJSON_AddItemToArray(rej, cJSON_CreateString(r->samples[i]));
    cJSON_AddNumberToObject(x, "TidemarkTableItemCount", (double)r->table_items);
    cJSON_AddNumberToObject(x, "TidemarkFiles", (double)r->files);
    return out;
}

/* ================================================================ ImportTable */

/* TableCreationParameters' key schema (key_schema_from_json, CreateTable's own rules); none:
 * ks zeroed, the source's own schema is used. */
static int key_spec(const cJSON *tcp, key_schema *ks, tm_error *e)
{
    memset(ks, 0, sizeof *ks);
    if (!cJSON_GetObjectItemCaseSensitive(tcp, "KeySchema")) return 0;
    if (key_schema_from_json(tcp, ks))
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "TableCreationParameters: %s", err_msg());
    return 0;
}

/* Request: S3BucketSource {S3Bucket, S3KeyPrefix} or tidemark's TidemarkSource (a path, URL
 * or archive: import.h SOURCES), InputFormat (absent: guessed, tidemark), InputFormatOptions
 * {Csv {Delimiter, HeaderList}}, InputCompressionType, TableCreationParameters {TableName,
 * KeySchema, AttributeDefinitions} (KeySchema absent: a tidemark export's own); tidemark's
 * TidemarkErrorLog, TidemarkMaxErrors, TidemarkMaxLineBytes, TidemarkMaxDecompressed,
 * TidemarkMaxRatio, TidemarkSortMemory, TidemarkThreads, TidemarkEndpointUrl, TidemarkProfile,
 * TidemarkIgnoreSummaryChecksum (true: a summary edited by hand is accepted, layout.h),
 * and TidemarkRegion, TidemarkAccount for the ARNs (backup.h: REGION AND ACCOUNT);
 * TidemarkImportId: the id tm_import_begin chose. */
int breq_import(const cJSON *req, import_options *o, key_schema *ks, buf *from,
                const char ***hdr, tm_error *e)
{
    const cJSON *tcp = cJSON_GetObjectItemCaseSensitive(req, "TableCreationParameters");
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(req, "S3BucketSource");
    const char *s, *b;
    double v;
    int k, has;
    if (!cJSON_IsObject(tcp))
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "TableCreationParameters is required");
    if ((k = req_table_name(tcp, &o->table, e))) return k;
    if ((k = key_spec(tcp, ks, e))) return k;
    if (ks->hash_type) o->ks = ks;
    if ((k = req_str(req, "TidemarkSource", 0, &s, e))) return k;
    if (s) {
        buf_puts(from, s);
    } else if (cJSON_IsObject(src) && !req_str(src, "S3Bucket", 1, &b, e) && b) {
        const char *p = NULL;
        req_str(src, "S3KeyPrefix", 0, &p, e);
        buf_printf(from, "s3://%s/%s", b, p ? p : "");
    } else {
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "S3BucketSource.S3Bucket is required");
    }
    o->from = from->data;
    if ((k = req_str(req, "InputFormat", 0, &s, e))) return k;
    if (s && (k = import_format_parse(s)) < 0)
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "InputFormat must be DYNAMODB_JSON or CSV, "
                            "not %s%s", s, strcasecmp(s, "ION") ? "" : " (ION is not supported)");
    if (s) o->format = (import_format)k;
    if ((k = req_str(req, "InputCompressionType", 0, &s, e))) return k;
    if (s && (k = import_compression_parse(s)) < 0)
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "InputCompressionType must be GZIP, ZSTD "
                            "or NONE, not %s", s);
    if (s) o->compression = (import_compression)k;
    const cJSON *csv = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(req, "InputFormatOptions"), "Csv");
    if (csv) {
        if ((k = req_str(csv, "Delimiter", 0, &s, e))) return k;
        if (s) o->csv_delimiter = s[0];
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(csv, "HeaderList"), *c;
        if (h) {
            size_t n = (size_t)cJSON_GetArraySize(h), i = 0;
            if (!(*hdr = calloc(n ? n : 1, sizeof **hdr))) return tm_error_from(e, TM_ENOMEM, NULL);
            cJSON_ArrayForEach(c, h) if (cJSON_IsString(c)) (*hdr)[i++] = c->valuestring;
            o->csv_header = *hdr;
            o->csv_header_n = i;
        }
    }
    if ((k = req_str(req, "TidemarkErrorLog", 0, &o->error_log, e))) return k;
    if ((k = breq_num(req, "TidemarkMaxErrors", &v, &has, e))) return k;
    if (has) o->max_errors = (uint64_t)v;
    if ((k = breq_num(req, "TidemarkMaxLineBytes", &v, &has, e))) return k;
    if (has) o->max_line = (size_t)v;
    if ((k = breq_num(req, "TidemarkMaxDecompressed", &v, &has, e))) return k;
    if (has) o->max_decompressed = (uint64_t)v;
    if ((k = breq_num(req, "TidemarkMaxRatio", &v, &has, e))) return k;
    if (has) o->max_ratio = (uint64_t)v;
    if ((k = breq_num(req, "TidemarkSortMemory", &v, &has, e))) return k;
    if (has) o->sort_memory = (size_t)v;
    if ((k = breq_num(req, "TidemarkThreads", &v, &has, e))) return k;
    if (has) o->threads = (int)v;
    if ((k = req_str(req, "TidemarkEndpointUrl", 0, &o->endpoint_url, e)) ||
        (k = req_str(req, "TidemarkRegion", 0, &o->region, e)) ||
        (k = req_str(req, "TidemarkAccount", 0, &o->account, e)))
        return k;
    o->ignore_summary_checksum =
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "TidemarkIgnoreSummaryChecksum"));
    return req_str(req, "TidemarkProfile", 0, &o->profile, e);
}

/* import.c's FailureCode as the error's kind. The request's parameters are checked before the
 * run, so a ValidationException before the source was opened (no bucket yet) is the source's:
 * no credentials, a malformed URL: a failure (exit 1) as in an export, not a usage error. After
 * it, a refusal that an option fixes (no key schema, a format guessed wrong): a parameter. */
static int import_kind(int rc, const import_result *r)
{
    const char *c = r->failure_code;
    if (!strcmp(c, "ValidationException"))
        return r->bucket[0] ? TM_ERR_BAD_PARAMETER : TM_ERR_VALIDATION;
    if (!strcmp(c, "ResourceInUseException")) return TM_ERR_RESOURCE_IN_USE;
    if (rc == TM_EINVAL) return TM_ERR_VALIDATION;
    return 0;   /* by the engine code */
}

/* A source that was never opened still names the bucket and prefix given (after the error
 * was taken: store_s3_split's err_set must not replace its detail). */
static void source_named(const import_options *o, import_result *r)
{
    buf bk = BUF_INIT, pf = BUF_INIT;
    if (!r->bucket[0] && !strncmp(o->from, "s3://", 5) && !store_s3_split(o->from, &bk, &pf)) {
        snprintf(r->bucket, sizeof r->bucket, "%s", bk.data ? bk.data : "");
        snprintf(r->key_prefix, sizeof r->key_prefix, "%s", pf.data ? pf.data : "");
    }
    buf_free(&bk);
    buf_free(&pf);
}

/* A full export imported is where a chain of incremental exports applied forward starts
 * (rollback/chain.c). Not recording it (a full disk) leaves later applies unchecked: not an
 * error of the import, which is complete, but said. */
static void chain_start(tm_db *db, const import_options *o)
{
    store_options so = STORE_OPTIONS_INIT;
    so.endpoint_url = o->endpoint_url;
    so.profile = o->profile;
    if (rollback_chain_start(o->home, o->table, o->from, &so))
        api_notice(db, "warning: table %s is imported, but %s; forward applies of incremental exports "
                   "(tidemark-import --apply-incremental) to it cannot be checked for a gap or a repeat",
                   o->table, err_msg());
}

int tm_import_run(tm_db *db, const cJSON *req, tm_backup_run *run, cJSON **resp, tm_error *e)
{
    import_options o = IMPORT_OPTIONS_INIT;
    import_result r;
    key_schema ks;
    buf from = BUF_INIT;
    const char **hdr = NULL;
    char id[24], tarn[600], arn[700];
    int k, rc;
    *resp = NULL;
    if (run) run->failed = NULL;
    o.home = tm_db_home(db);
    if ((k = breq_import(req, &o, &ks, &from, &hdr, e))) goto out;
    if (run) {
        o.prog = run->prog;
        o.cancel = run->cancel;
    }
    table_arn(o.region, o.account, o.table, tarn, sizeof tarn);
    memset(&r, 0, sizeof r);
    r.start_us = clock_now_us();
    r.format = o.format == IMPORT_FMT_CSV ? IMPORT_FMT_CSV : IMPORT_FMT_DYNAMODB_JSON;
    const char *given = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "TidemarkImportId"));
    if (given && strlen(given) < sizeof id && !strchr(given, '/') && given[0] != '.') snprintf(id, sizeof id, "%s", given);
    else backup_make_id(r.start_us, id);
    snprintf(arn, sizeof arn, "%s/import/%s", tarn, id);
    /* Recorded before it begins, so that DescribeImport sees it running. */
    cJSON *d = backup_import_shape(arn, tarn, &o, &r, "IN_PROGRESS");
    k = catalog_put(db, "imports", id, "ImportTableDescription",
                    cJSON_GetObjectItemCaseSensitive(d, "ImportTableDescription"), NULL, e);
    cJSON_Delete(d);
    if (k) goto out;
    rc = import_run(&o, &r);
    if (!rc && !o.sink) chain_start(db, &o);
    if (rc) {
        k = backup_error(e, rc, import_kind(rc, &r));
        source_named(&o, &r);
    }
    d = backup_import_shape(arn, tarn, &o, &r, rc ? "FAILED" : "COMPLETED");
    tm_error ce;
    catalog_put(db, "imports", id, "ImportTableDescription",
                cJSON_GetObjectItemCaseSensitive(d, "ImportTableDescription"), NULL, &ce);
    if (rc) {
        if (run) run->failed = d;
        else cJSON_Delete(d);
    } else {
        *resp = d;
    }
out:
    free(hdr);
    buf_free(&from);
    return k;
}

int tm_import_table(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    return tm_import_run(db, req, NULL, resp, e);
}

/* ================================================================ an import answered before it runs */

int tm_import_begin(tm_db *db, const cJSON *req, cJSON **resp, cJSON **run_req, tm_error *e)
{
    import_options o = IMPORT_OPTIONS_INIT;
    import_result r;
    key_schema ks;
    buf from = BUF_INIT;
    const char **hdr = NULL, *token;
    char id[24], tarn[600], arn[700], dir[PATH_MAX], *text = NULL;
    int k;
    *resp = *run_req = NULL;
    o.home = tm_db_home(db);
    if ((k = breq_import(req, &o, &ks, &from, &hdr, e)) || (k = req_str(req, "ClientToken", 0, &token, e)))
        goto out;
    table_arn(o.region, o.account, o.table, tarn, sizeof tarn);
    memset(&r, 0, sizeof r);
    r.start_us = clock_now_us();
    r.format = o.format == IMPORT_FMT_CSV ? IMPORT_FMT_CSV : IMPORT_FMT_DYNAMODB_JSON;
    backup_make_id(r.start_us, id);
    if (token) {
        cJSON *c = cJSON_Duplicate(req, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(c, "ClientToken");
        text = cJSON_PrintUnformatted(c);
        cJSON_Delete(c);
        int t = catalog_token(db, "imports", token, text ? text : "", r.start_us / 1000000, id, sizeof id, e);
        if (t == -1)
            k = tm_error_set(e, TM_ERR_IMPORT_CONFLICT, "There was a conflict when importing from the "
                             "specified S3 source: ClientToken %s was used by another request", token);
        else if (t == -2) k = e ? e->kind : TM_ERR_IO;
        if (t == 1) {   /* the same import again */
            cJSON *q = cJSON_CreateObject();
            snprintf(arn, sizeof arn, "%s/import/%s", tarn, id);
            cJSON_AddStringToObject(q, "ImportArn", arn);
            k = tm_describe_import(db, q, resp, e);
            cJSON_Delete(q);
        }
        if (k || t == 1) goto out;
    }
    table_path(o.home, o.table, NULL, dir, sizeof dir);
    if (fsx_exists(dir)) {
        k = tm_error_set(e, TM_ERR_RESOURCE_IN_USE, "Table already exists: %s", o.table);
        goto out;
    }
    snprintf(arn, sizeof arn, "%s/import/%s", tarn, id);
    source_named(&o, &r);
    *resp = backup_import_shape(arn, tarn, &o, &r, "IN_PROGRESS");
    if ((k = catalog_put(db, "imports", id, "ImportTableDescription",
                         cJSON_GetObjectItemCaseSensitive(*resp, "ImportTableDescription"), NULL, e))) {
        cJSON_Delete(*resp);
        *resp = NULL;
        goto out;
    }
    *run_req = cJSON_Duplicate(req, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(*run_req, "TidemarkImportId");
    cJSON_AddStringToObject(*run_req, "TidemarkImportId", id);
out:
    free(text);
    free(hdr);
    buf_free(&from);
    return k;
}

/* ================================================================ DescribeImport, ListImports */

/* Request: ImportArn. */
int tm_describe_import(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    const char *arn;
    char id[64];
    cJSON *rec = NULL;
    int k;
    *resp = NULL;
    if ((k = req_str(req, "ImportArn", 1, &arn, e)) || (k = breq_arn_id(arn, "import", id, sizeof id, e)))
        return k;
    k = catalog_get(db, "imports", id, "ImportTableDescription", &rec, e);
    if (k < 0) return tm_error_set(e, TM_ERR_IMPORT_NOT_FOUND, "import %s not found", arn);
    if (k) return k;
    *resp = cJSON_CreateObject();
    cJSON_AddItemToObject(*resp, "ImportTableDescription",
                          cJSON_DetachItemFromObjectCaseSensitive(rec, "ImportTableDescription"));
    cJSON_Delete(rec);
    return 0;
}

/* An ImportSummary: ImportArn, ImportStatus, TableArn, S3BucketSource, InputFormat,
 * StartTime, EndTime of the recorded description. */
static void add_import_summary(cJSON *list, const cJSON *rec, void *ctx)
{
    static const char *const keep[] = {"ImportArn", "ImportStatus", "TableArn", "S3BucketSource",
                                       "InputFormat", "StartTime", "EndTime"};
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(rec, "ImportTableDescription");
    cJSON *s = cJSON_CreateObject();
    (void)ctx;
    for (size_t j = 0; j < sizeof keep / sizeof *keep; j++) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(d, keep[j]);
        if (m) cJSON_AddItemToObject(s, keep[j], cJSON_Duplicate(m, 1));
    }
    cJSON_AddItemToArray(list, s);
}

/* Request: TableArn (only that table's), PageSize, NextToken. */
int tm_list_imports(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    const char *tarn, *next;
    double v;
    int k, has;
    *resp = NULL;
    if ((k = req_str(req, "TableArn", 0, &tarn, e)) || (k = req_str(req, "NextToken", 0, &next, e)) ||
        (k = breq_num(req, "PageSize", &v, &has, e)))
        return k;
    cJSON *r = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(r, "ImportSummaryList");
    if ((k = catalog_page(db, "imports", "ImportTableDescription", tarn, next,
                          has && v >= 1 ? (size_t)v : SIZE_MAX, r, list, add_import_summary, NULL, e))) {
        cJSON_Delete(r);
        return k;
    }
    *resp = r;
    return 0;
}
