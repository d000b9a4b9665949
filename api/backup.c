/* backup.c: the export and restore operations of the api layer (ExportTableToPointInTime,
 * DescribeExport, ListExports, TidemarkExportVerify, RestoreTableToPointInTime,
 * TidemarkRestorePlan), the one writer of ExportDescription, and what the backup operations
 * share (request readers, error mapping). Imports are in backup_import.c, the catalog in
 * backup_catalog.c; shapes and naming in backup.h. */
#include "api/backup_internal.h"
#include "engine/buf.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/table.h"
#include "export/export.h"
#include "pitr/plan.h"
#include "restore/restore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* ================================================================ shared */

int breq_num(const cJSON *req, const char *name, double *out, int *present, tm_error *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
    *out = 0;
    if (present) *present = 0;
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v)) return tm_error_set(e, TM_ERR_BAD_PARAMETER, "%s must be a number", name);
    *out = v->valuedouble;
    if (present) *present = 1;
    return 0;
}

static int64_t req_time_us(double s) { return tm_json_time_us(s); }

int breq_arn_id(const char *arn, const char *what, char *id, size_t n, tm_error *e)
{
    char pat[32];
    snprintf(pat, sizeof pat, "/%s/", what);
    const char *p = strstr(arn, pat), *q;
    while (p && (q = strstr(p + 1, pat))) p = q;
    if (!p || !p[strlen(pat)] || strchr(p + strlen(pat), '/') ||
        strlen(p + strlen(pat)) >= n)
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "%s is not an %s ARN (arn:aws:dynamodb:"
                            "<region>:<account>:table/<name>/%s/<id>)", arn,
                            what[0] == 'e' ? "export" : "import", what);
    snprintf(id, n, "%s", p + strlen(pat));
    return 0;
}

int breq_table_arn(const char *arn, char *region, char *account, char *name, tm_error *e)
{
    /* arn:aws:dynamodb:<region>:<account>:table/<name> */
    if (sscanf(arn, "arn:%*[^:]:dynamodb:%255[^:]:%255[^:]:table/%255[^/]", region, account,
               name) != 3 || strchr(strstr(arn, ":table/") + 7, '/'))
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "%s is not a table ARN (arn:aws:dynamodb:"
                            "<region>:<account>:table/<name>)", arn);
    int rc = table_check_name(name);
    if (!rc) return 0;
    tm_error_from(e, rc, NULL);
    if (e) e->kind = TM_ERR_BAD_PARAMETER;   /* a name is a parameter: usage */
    return TM_ERR_BAD_PARAMETER;
}

int backup_error(tm_error *e, int rc, int kind_default)
{
    const char *m = err_msg();
    int kind = tm_error_from(e, rc, NULL);
    if (kind_default) kind = kind_default;
    if (e) e->kind = kind;
    if (e && m && strstr(m, "no such bucket")) {
        size_t l = strlen(e->message);
        snprintf(e->message + l, sizeof e->message - l, " (create the bucket first, e.g. `aws "
                 "s3 mb s3://BUCKET`, or point --endpoint-url (AWS_ENDPOINT_URL_S3) at the S3 "
                 "server that has it)");
    }
    return kind;
}

void backup_make_id(int64_t us, char *out)
{
    unsigned char r[4] = {0};
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        uint32_t v = (uint32_t)us ^ (uint32_t)getpid() * 2654435761u;
        memcpy(r, &v, 4);
    }
    snprintf(out, 24, "%014lld-%02x%02x%02x%02x", (long long)(us / 1000), r[0], r[1], r[2], r[3]);
}

static void strip_members(cJSON *obj)
{
    for (cJSON *c = obj->child; c;) {
        cJSON *next = c->next;
        if (c->string && !strncmp(c->string, "Tidemark", 8))
            cJSON_Delete(cJSON_DetachItemViaPointer(obj, c));
        c = next;
    }
}

void api_backup_strip(cJSON *resp)
{
    cJSON *shape = resp ? resp->child : NULL, *c;
    if (cJSON_IsObject(shape)) strip_members(shape);
    else if (cJSON_IsArray(shape))   /* a list's summaries */
        cJSON_ArrayForEach(c, shape) if (cJSON_IsObject(c)) strip_members(c);
}

/* A store's options from the request's TidemarkEndpointUrl / TidemarkProfile. */
static int req_store(const cJSON *req, store_options *so, tm_error *e)
{
    int k = req_str(req, "TidemarkEndpointUrl", 0, &so->endpoint_url, e);
    return k ? k : req_str(req, "TidemarkProfile", 0, &so->profile, e);
}

/* ================================================================ ExportDescription */

/* An export's times in milliseconds, as its manifest-summary.json (and AWS) keeps them: the
 * response of the run and DescribeExport from the files say the same. */
static void export_time(cJSON *x, const char *name, int64_t us)
{
    tm_json_time(x, name, us - us % 1000);
}

cJSON *backup_export_shape(const export_desc *d)
{
    cJSON *o = cJSON_CreateObject(), *x = cJSON_AddObjectToObject(o, "ExportDescription");
    cJSON_AddStringToObject(x, "ExportArn", d->export_arn);
    cJSON_AddStringToObject(x, "ExportStatus", d->status);
    if (d->start_us) export_time(x, "StartTime", d->start_us);
    if (d->end_us) export_time(x, "EndTime", d->end_us);
    if (d->manifest_key[0]) cJSON_AddStringToObject(x, "ExportManifest", d->manifest_key);
    cJSON_AddStringToObject(x, "TableArn", d->table_arn);
    cJSON_AddStringToObject(x, "TableId", d->table_id);
    if (d->type == EXPORT_FULL && d->export_time_us) export_time(x, "ExportTime", d->export_time_us);
    cJSON_AddStringToObject(x, "S3Bucket", d->bucket);
    if (d->prefix[0]) cJSON_AddStringToObject(x, "S3Prefix", d->prefix);
    cJSON_AddStringToObject(x, "S3SseAlgorithm", d->sse[0] ? d->sse : "AES256");
    if (d->failure[0]) {
        cJSON_AddStringToObject(x, "FailureCode", "ExportInterrupted");
        cJSON_AddStringToObject(x, "FailureMessage", d->failure);
    }
    cJSON_AddStringToObject(x, "ExportFormat", d->format[0] ? d->format : "DYNAMODB_JSON");
    cJSON_AddNumberToObject(x, "BilledSizeBytes", (double)d->billed_bytes);
    cJSON_AddNumberToObject(x, "ItemCount", (double)d->item_count);
    cJSON_AddStringToObject(x, "ExportType", export_type_name(d->type));
    if (d->type == EXPORT_INCREMENTAL) {
        cJSON *s = cJSON_AddObjectToObject(x, "IncrementalExportSpecification");
        export_time(s, "ExportFromTime", d->from_us);
        export_time(s, "ExportToTime", d->to_us);
        cJSON_AddStringToObject(s, "ExportViewType", export_view_name(d->view));
    }
    /* tidemark's: what the text form shows besides the shape */
    cJSON_AddStringToObject(x, "TidemarkExportId", d->id);
    cJSON_AddStringToObject(x, "TidemarkTableName", d->table_name);
    cJSON_AddStringToObject(x, "TidemarkLocation", d->dir);
    cJSON_AddNumberToObject(x, "TidemarkDataFiles", (double)d->files);
    return o;
}

/* A FAILED ExportDescription for a run that failed before the export described itself. */
static cJSON *failed_export(const export_options *o, const char *table_arn, int64_t start_us,
                            const tm_error *e)
{
    cJSON *r = cJSON_CreateObject(), *x = cJSON_AddObjectToObject(r, "ExportDescription");
    cJSON_AddStringToObject(x, "ExportStatus", "FAILED");
    export_time(x, "StartTime", start_us);
    export_time(x, "EndTime", clock_now_us());
    cJSON_AddStringToObject(x, "TableArn", table_arn);
    if (o->type == EXPORT_FULL && o->time_us) export_time(x, "ExportTime", o->time_us);
    buf bk = BUF_INIT, pf = BUF_INIT;
    if (o->dest && !strncmp(o->dest, "s3://", 5) && !store_s3_split(o->dest, &bk, &pf)) {
        cJSON_AddStringToObject(x, "S3Bucket", bk.data ? bk.data : "");
        if (pf.len) cJSON_AddStringToObject(x, "S3Prefix", pf.data);
    }
    buf_free(&bk);
    buf_free(&pf);
    cJSON_AddStringToObject(x, "FailureCode", tm_err_name(e->kind));
    cJSON_AddStringToObject(x, "FailureMessage", e->message);
    cJSON_AddStringToObject(x, "ExportFormat", "DYNAMODB_JSON");
    cJSON_AddStringToObject(x, "ExportType", export_type_name(o->type));
    if (o->type == EXPORT_INCREMENTAL) {
        cJSON *s = cJSON_AddObjectToObject(x, "IncrementalExportSpecification");
        export_time(s, "ExportFromTime", o->from_us);
        if (o->to_us) export_time(s, "ExportToTime", o->to_us);
        cJSON_AddStringToObject(s, "ExportViewType", export_view_name(o->view));
    }
    return r;
}

/* ================================================================ ExportTableToPointInTime */

/* Request: TableArn (or tidemark's TableName), S3Bucket + S3Prefix or TidemarkDestination (a
 * directory or s3://bucket/prefix; with S3Bucket/S3Prefix too, where a directory's export will
 * be copied, recorded in its manifests), ExportTime, ExportType, IncrementalExportSpecification
 * {ExportFromTime, ExportToTime, ExportViewType}; tidemark's TidemarkRegion and TidemarkAccount
 * (with TableName: the ARNs' region and account), TidemarkCompression (GZIP, ZSTD),
 * TidemarkCompressionLevel, TidemarkJobs, TidemarkMaxFileBytes, TidemarkNetchangeMemory,
 * TidemarkTmpDir, TidemarkEndpointUrl, TidemarkProfile, TidemarkExportId (the id
 * tm_export_begin chose), and TidemarkResume (an export
 * directory to finish: the other members are then the export's own). */
int breq_export(const cJSON *req, export_options *o, store_options *so, buf *dest,
                char *region, char *account, char *name, tm_error *e)
{
    const char *arn, *tn, *bucket, *prefix, *d, *s, *rg, *ac;
    double v;
    int k, has;
    if ((k = req_str(req, "TableArn", 0, &arn, e)) || (k = req_str(req, "TableName", 0, &tn, e)) ||
        (k = req_str(req, "TidemarkRegion", 0, &rg, e)) || (k = req_str(req, "TidemarkAccount", 0, &ac, e)))
        return k;
    if (arn) {
        if ((k = breq_table_arn(arn, region, account, name, e))) return k;
    } else if (tn) {
        if ((k = req_table_name(req, &tn, e))) return k;
        snprintf(name, 256, "%s", tn);
        snprintf(region, 256, "%s", table_arn_region(rg));
        snprintf(account, 256, "%s", table_arn_account(ac));
    } else {
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "TableArn is required");
    }
    o->table = name;
    o->region = region;
    o->account = account;
    if ((k = req_str(req, "TidemarkDestination", 0, &d, e)) ||
        (k = req_str(req, "S3Bucket", 0, &bucket, e)) || (k = req_str(req, "S3Prefix", 0, &prefix, e)))
        return k;
    if (d) {
        /* A directory with S3Bucket/S3Prefix: where the export will be copied (recorded). */
        buf_puts(dest, d);
        o->s3_bucket = bucket;
        o->s3_prefix = prefix;
    } else if (bucket) buf_printf(dest, "s3://%s/%s", bucket, prefix ? prefix : "");
    else return tm_error_set(e, TM_ERR_BAD_PARAMETER, "S3Bucket is required");
    o->dest = dest->data;
    if ((k = req_str(req, "ExportType", 0, &s, e))) return k;
    if (s && !strcmp(s, "INCREMENTAL_EXPORT")) o->type = EXPORT_INCREMENTAL;
    else if (s && strcmp(s, "FULL_EXPORT"))
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "ExportType must be FULL_EXPORT or "
                            "INCREMENTAL_EXPORT, not %s", s);
    if ((k = breq_num(req, "ExportTime", &v, &has, e))) return k;
    if (has && o->type == EXPORT_INCREMENTAL)
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "ExportTime is for full exports; an "
                            "incremental export takes IncrementalExportSpecification");
    if (has && (o->time_us = req_time_us(v)) <= 0)
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "ExportTime: before 1970");
    const cJSON *inc = cJSON_GetObjectItemCaseSensitive(req, "IncrementalExportSpecification");
    if (o->type == EXPORT_INCREMENTAL) {
        if (!cJSON_IsObject(inc) || (k = breq_num(inc, "ExportFromTime", &v, &has, e)) || !has)
            return k ? k : tm_error_set(e, TM_ERR_BAD_PARAMETER, "an incremental export needs "
                                        "IncrementalExportSpecification.ExportFromTime");
        o->from_us = req_time_us(v);
        if ((k = breq_num(inc, "ExportToTime", &v, &has, e))) return k;
        if (has) o->to_us = req_time_us(v);
        if (has && o->to_us <= o->from_us)
            return tm_error_set(e, TM_ERR_BAD_PARAMETER, "ExportToTime must be after ExportFromTime");
        if ((k = req_str(inc, "ExportViewType", 0, &s, e))) return k;
        if (s && !strcmp(s, "NEW_IMAGE")) o->view = EXPORT_VIEW_NEW;
        else if (s && strcmp(s, "NEW_AND_OLD_IMAGES"))
            return tm_error_set(e, TM_ERR_BAD_PARAMETER, "ExportViewType must be "
                                "NEW_AND_OLD_IMAGES or NEW_IMAGE, not %s", s);
    } else if (inc) {
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "IncrementalExportSpecification needs "
                            "ExportType INCREMENTAL_EXPORT");
    }
    if ((k = req_str(req, "TidemarkCompression", 0, &s, e))) return k;
    if (s && !strcasecmp(s, "ZSTD")) o->compression = EXPORT_ZSTD;
    else if (s && strcasecmp(s, "GZIP"))
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "TidemarkCompression must be GZIP or ZSTD");
    if ((k = breq_num(req, "TidemarkCompressionLevel", &v, NULL, e))) return k;
    o->level = (int)v;
    if ((k = breq_num(req, "TidemarkJobs", &v, &has, e))) return k;
    if (has) o->jobs = (int)v;
    if ((k = breq_num(req, "TidemarkMaxFileBytes", &v, NULL, e))) return k;
    o->max_file_bytes = (uint64_t)v;
    if ((k = breq_num(req, "TidemarkNetchangeMemory", &v, NULL, e))) return k;
    o->netchange_mem = (size_t)v;
    if ((k = req_str(req, "TidemarkTmpDir", 0, &o->tmp_dir, e)) ||
        (k = req_str(req, "TidemarkExportId", 0, &o->id, e)))
        return k;
    return req_store(req, so, e);
}

/* The record of a finished export, and its response. */
static int export_done(tm_db *db, const export_desc *d, cJSON **resp, tm_error *e)
{
    cJSON *r = backup_export_shape(d);
    int k = catalog_put(db, "exports", d->id, "ExportDescription",
                        cJSON_GetObjectItemCaseSensitive(r, "ExportDescription"), d->dir, e);
    if (k) {   /* the export is whole at its destination: only its record is missing */
        if (e) {
            char m[sizeof e->message];
            snprintf(m, sizeof m, "%s (the export itself is complete at %s; only the data directory's "
                     "record of it, for list-exports and describe-export, was not written)", e->message, d->dir);
            snprintf(e->message, sizeof e->message, "%s", m);
        }
        cJSON_Delete(r);
        return k;
    }
    *resp = r;
    return 0;
}

/* The kind of export_run's failure rc where the engine code alone does not say it (0: as
 * tm_error_from maps it). A time needs the change log: with PITR off, export_run's
 * TM_ENOTFOUND is AWS's PointInTimeRecoveryUnavailableException, not a missing table. Looked
 * up only after a failure. */
/* TM_ERR_PITR_UNAVAILABLE when table name exists with PITR off, else 0: what a TM_ENOTFOUND
 * from a job that needs the change log (an export at a time, a restore) means. */
static int pitr_off_kind(tm_db *db, const char *name)
{
    table *t = NULL;
    table_info info;
    tm_error ignored;
    if (api_open_table(db, name, TABLE_RDONLY, &t, &info, &ignored)) return 0;
    api_close_table(db, name, t);
    return info.pitr_enabled ? 0 : TM_ERR_PITR_UNAVAILABLE;
}

static int export_fail_kind(tm_db *db, const export_options *o, const char *name, int rc)
{
    if (rc == TM_ERANGE) return TM_ERR_INVALID_EXPORT_TIME;
    if (rc != TM_ENOTFOUND || (!o->time_us && o->type != EXPORT_INCREMENTAL)) return 0;
    return pitr_off_kind(db, name);
}

int tm_export_run(tm_db *db, const cJSON *req, tm_backup_run *run, cJSON **resp, tm_error *e)
{
    export_options o = EXPORT_OPTIONS_INIT;
    store_options so = STORE_OPTIONS_INIT;
    char region[256], account[256], name[256], tarn[1024];
    buf dest = BUF_INIT;
    export_desc d;
    const char *resume;
    int k, rc;
    *resp = NULL;
    if (run) run->failed = NULL;
    o.home = tm_db_home(db);
    o.store = &so;
    o.prog = run ? run->prog : NULL;
    if ((k = req_str(req, "TidemarkResume", 0, &resume, e))) return k;
    if (resume) {
        double v;
        if ((k = breq_num(req, "TidemarkJobs", &v, NULL, e)) || (k = req_store(req, &so, e))) return k;
        if (v) o.jobs = (int)v;
        if ((rc = export_resume(resume, &o, &d))) return backup_error(e, rc, 0);
        return export_done(db, &d, resp, e);
    }
    if ((k = breq_export(req, &o, &so, &dest, region, account, name, e))) {
        buf_free(&dest);
        return k;
    }
    table_arn(region, account, name, tarn, sizeof tarn);
    int64_t start = clock_now_us();
    char dir[PATH_MAX];
    table_path(o.home, name, NULL, dir, sizeof dir);
    if (!fsx_exists(dir)) {
        k = tm_error_set(e, TM_ERR_TABLE_NOT_FOUND, "table %s not found (data directory %s)",
                         name, o.home);
    } else if ((rc = export_run(&o, &d))) {
        k = backup_error(e, rc, export_fail_kind(db, &o, name, rc));
    } else {
        k = export_done(db, &d, resp, e);
    }
    if (k && run && e) run->failed = failed_export(&o, tarn, start, e);
    if (k && o.id && e) {   /* begun by tm_export_begin: its record says FAILED */
        cJSON *f = run && run->failed ? run->failed : failed_export(&o, tarn, start, e);
        cJSON *x = cJSON_GetObjectItemCaseSensitive(f, "ExportDescription");
        char earn[1200];
        tm_error ignored;
        snprintf(earn, sizeof earn, "%s/export/%s", tarn, o.id);
        cJSON_AddStringToObject(x, "ExportArn", earn);
        catalog_put(db, "exports", o.id, "ExportDescription", x, NULL, &ignored);
        if (f != (run ? run->failed : NULL)) cJSON_Delete(f);
    }
    buf_free(&dest);
    return k;
}

int tm_export_table_to_point_in_time(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    return tm_export_run(db, req, NULL, resp, e);
}

/* ================================================================ an export answered before it runs */

/* The request without its ClientToken, compact: what a token stands for. */
static char *token_request(const cJSON *req)
{
    cJSON *c = cJSON_Duplicate(req, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(c, "ClientToken");
    char *text = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    return text;
}

/* What AWS checks before it answers: the table, and the times against its window. */
static int export_check(tm_db *db, const export_options *o, table_info *info, tm_error *e)
{
    table *t = NULL;
    int64_t earliest, latest, now = clock_now_us();
    int k = api_open_table(db, o->table, TABLE_RDONLY, &t, info, e);
    if (k == TM_ERR_RESOURCE_NOT_FOUND)
        return tm_error_set(e, TM_ERR_TABLE_NOT_FOUND, "table %s not found (data directory %s)",
                            o->table, tm_db_home(db));
    if (k) return k;
    int rc = table_pitr_window(t, &earliest, &latest);
    api_close_table(db, o->table, t);
    int64_t lo = o->type == EXPORT_FULL ? o->time_us : o->from_us;
    int64_t hi = o->type == EXPORT_FULL ? o->time_us : o->to_us;
    if (!lo) return 0;   /* a full export now needs no window */
    if (rc == TM_ENOTFOUND)
        return tm_error_set(e, TM_ERR_PITR_UNAVAILABLE, "Point in time recovery is not enabled "
                            "for table '%s'", o->table);
    if (rc) return tm_error_from(e, rc, NULL);
    if (lo < earliest || hi > now || (o->type == EXPORT_FULL && hi > latest))
        return tm_error_set(e, TM_ERR_INVALID_EXPORT_TIME, "%s is outside the point-in-time "
                            "window of table %s", o->type == EXPORT_FULL ? "ExportTime" :
                            "the export window", o->table);
    return 0;
}

int tm_export_begin(tm_db *db, const cJSON *req, cJSON **resp, cJSON **run_req, tm_error *e)
{
    export_options o = EXPORT_OPTIONS_INIT;
    store_options so = STORE_OPTIONS_INIT;
    char region[256], account[256], name[256];
    const char *token;
    buf dest = BUF_INIT, bk = BUF_INIT, pf = BUF_INIT;
    table_info info;
    export_desc d;
    char *text = NULL;
    int k;
    *resp = *run_req = NULL;
    memset(&d, 0, sizeof d);
    if ((k = breq_export(req, &o, &so, &dest, region, account, name, e)) ||
        (k = req_str(req, "ClientToken", 0, &token, e)) || (k = export_check(db, &o, &info, e)))
        goto out;
    d.start_us = clock_now_us();
    backup_make_id(d.start_us, d.id);
    if (token) {
        text = token_request(req);
        int t = catalog_token(db, "exports", token, text ? text : "", d.start_us / 1000000, d.id,
                              sizeof d.id, e);
        if (t == -1)
            k = tm_error_set(e, TM_ERR_EXPORT_CONFLICT, "There was a conflict when writing to the "
                             "specified S3 bucket: ClientToken %s was used by another request", token);
        else if (t == -2) k = e ? e->kind : TM_ERR_IO;
        if (t == 1) {   /* the same export again */
            char arn[1024];
            cJSON *q = cJSON_CreateObject();
            table_arn(region, account, name, arn, sizeof arn);
            snprintf(arn + strlen(arn), sizeof arn - strlen(arn), "/export/%s", d.id);
            cJSON_AddStringToObject(q, "ExportArn", arn);
            k = tm_describe_export(db, q, resp, e);
            cJSON_Delete(q);
        }
        if (k || t == 1) goto out;
    }
    snprintf(d.status, sizeof d.status, "IN_PROGRESS");
    table_arn(region, account, name, d.table_arn, sizeof d.table_arn);
    snprintf(d.export_arn, sizeof d.export_arn, "%s/export/%s", d.table_arn, d.id);
    snprintf(d.table_id, sizeof d.table_id, "%s", info.table_id);
    snprintf(d.table_name, sizeof d.table_name, "%s", name);
    d.type = o.type;
    d.view = o.view;
    d.export_time_us = o.time_us ? o.time_us : d.start_us;
    d.from_us = o.from_us;
    d.to_us = o.to_us ? o.to_us : d.start_us;
    if (!strncmp(o.dest, "s3://", 5) && !store_s3_split(o.dest, &bk, &pf)) {
        snprintf(d.bucket, sizeof d.bucket, "%s", bk.data ? bk.data : "");
        snprintf(d.prefix, sizeof d.prefix, "%s", pf.data ? pf.data : "");
    }
    size_t dl = strlen(o.dest);
    while (dl > 1 && o.dest[dl - 1] == '/') dl--;
    snprintf(d.dir, sizeof d.dir, "%.*s/AWSDynamoDB/%s", (int)dl, o.dest, d.id);
    *resp = backup_export_shape(&d);
    if ((k = catalog_put(db, "exports", d.id, "ExportDescription",
                         cJSON_GetObjectItemCaseSensitive(*resp, "ExportDescription"), d.dir, e))) {
        cJSON_Delete(*resp);
        *resp = NULL;
        goto out;
    }
    *run_req = cJSON_Duplicate(req, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(*run_req, "TidemarkExportId");
    cJSON_AddStringToObject(*run_req, "TidemarkExportId", d.id);
    if (!o.time_us && o.type == EXPORT_FULL)   /* the moment asked for is now, not when it runs */
        cJSON_AddNumberToObject(*run_req, "ExportTime", (double)d.start_us / 1e6);
out:
    free(text);
    buf_free(&dest);
    buf_free(&bk);
    buf_free(&pf);
    return k;
}

/* ================================================================ DescribeExport, ListExports */

/* The export at dir, described from its files. */
static int describe_dir(const char *dir, const store_options *so, cJSON **resp, tm_error *e)
{
    export_desc d;
    int rc = export_describe(dir, so, &d);
    if (rc) return backup_error(e, rc, rc == TM_ENOTFOUND ? TM_ERR_EXPORT_NOT_FOUND : 0);
    *resp = backup_export_shape(&d);
    return 0;
}

/* Request: ExportArn, or tidemark's TidemarkExportDir (any export directory, AWS's too);
 * TidemarkEndpointUrl, TidemarkProfile. A recorded export is described from its files when
 * they can be read (its status moves on: see backup_catalog.c), else from its record. */
int tm_describe_export(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    store_options so = STORE_OPTIONS_INIT;
    const char *arn, *dir;
    char id[64];
    int k;
    *resp = NULL;
    if ((k = req_store(req, &so, e)) || (k = req_str(req, "TidemarkExportDir", 0, &dir, e)))
        return k;
    if (dir) return describe_dir(dir, &so, resp, e);
    if ((k = req_str(req, "ExportArn", 1, &arn, e)) || (k = breq_arn_id(arn, "export", id, sizeof id, e)))
        return k;
    cJSON *rec = NULL;
    k = catalog_get(db, "exports", id, "ExportDescription", &rec, e);
    if (k < 0) return tm_error_set(e, TM_ERR_EXPORT_NOT_FOUND, "export %s not found", arn);
    if (k) return k;
    const cJSON *loc = cJSON_GetObjectItemCaseSensitive(rec, "Location");
    tm_error ignored;
    cJSON *files = NULL;
    if (cJSON_IsString(loc) && !describe_dir(loc->valuestring, &so, &files, &ignored)) {
        cJSON *fd = cJSON_GetObjectItemCaseSensitive(files, "ExportDescription");
        const char *farn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fd, "ExportArn"));
        if (farn && *farn) {
            *resp = files;
            cJSON_Delete(rec);
            return 0;
        }
        /* an export still starting (_started, no state yet) says only its status: the rest is
         * the record's */
        cJSON *rd = cJSON_GetObjectItemCaseSensitive(rec, "ExportDescription");
        static const char *const moving[] = {"ExportStatus", "FailureCode", "FailureMessage"};
        for (size_t i = 0; rd && i < sizeof moving / sizeof *moving; i++) {
            cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(fd, moving[i]);
            if (!v) continue;
            cJSON_DeleteItemFromObjectCaseSensitive(rd, moving[i]);
            cJSON_AddItemToObject(rd, moving[i], v);
        }
        cJSON_Delete(files);
    }
    *resp = cJSON_CreateObject();
    cJSON_AddItemToObject(*resp, "ExportDescription",
                          cJSON_DetachItemFromObjectCaseSensitive(rec, "ExportDescription"));
    cJSON_Delete(rec);
    return 0;
}

/* An ExportSummary of an ExportDescription d, with what a listing for people shows besides
 * (TidemarkExportId, TidemarkTableName, TidemarkItemCount, TidemarkTime: the export time of a
 * full export, the window's end of an incremental one). */
static void add_summary(cJSON *list, const cJSON *d)
{
    static const char *const keep[] = {"ExportArn", "ExportStatus", "ExportType",
                                       "TidemarkExportId", "TidemarkTableName"};
    const cJSON *inc = cJSON_GetObjectItemCaseSensitive(d, "IncrementalExportSpecification");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(inc ? inc : d, inc ? "ExportToTime" : "ExportTime");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(d, "ItemCount");
    cJSON *s = cJSON_CreateObject();
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(d, keep[i]);
        if (m) cJSON_AddItemToObject(s, keep[i], cJSON_Duplicate(m, 1));
    }
    if (n) cJSON_AddNumberToObject(s, "TidemarkItemCount", n->valuedouble);
    if (t) cJSON_AddNumberToObject(s, "TidemarkTime", t->valuedouble);
    cJSON_AddItemToArray(list, s);
}

/* A recorded export's summary: from its files when they can be read (its status moves on:
 * backup_catalog.c), else from its record. */
static void add_recorded(cJSON *list, const cJSON *rec, void *ctx)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(rec, "ExportDescription");
    const cJSON *loc = cJSON_GetObjectItemCaseSensitive(rec, "Location");
    cJSON *one = NULL;
    tm_error skip;
    if (cJSON_IsString(loc) && !describe_dir(loc->valuestring, ctx, &one, &skip))
        d = cJSON_GetObjectItemCaseSensitive(one, "ExportDescription");
    add_summary(list, d);
    cJSON_Delete(one);
}

/* Paging: NextToken is the last id returned; MaxResults 1..25 (AWS), default all. */
static int page_args(const cJSON *req, const char *max_name, const char **next, size_t *max,
                     tm_error *e)
{
    double v;
    int has, k;
    if ((k = req_str(req, "NextToken", 0, next, e)) || (k = breq_num(req, max_name, &v, &has, e)))
        return k;
    if (has && (v < 1 || v != (double)(uint64_t)v))
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "%s must be a positive integer", max_name);
    *max = has ? (size_t)v : SIZE_MAX;
    return 0;
}

/* Request: TableArn (only that table's), MaxResults, NextToken; tidemark's TidemarkDestination
 * lists the exports under a destination (a directory or s3://bucket/prefix) instead of the
 * catalog. Each summary carries add_summary's Tidemark* members too. */
int tm_list_exports(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    store_options so = STORE_OPTIONS_INIT;
    const char *dest, *tarn, *next;
    size_t max = SIZE_MAX;
    int k;
    *resp = NULL;
    if ((k = req_store(req, &so, e)) || (k = req_str(req, "TidemarkDestination", 0, &dest, e)) ||
        (k = req_str(req, "TableArn", 0, &tarn, e)) || (k = page_args(req, "MaxResults", &next, &max, e)))
        return k;
    cJSON *r = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(r, "ExportSummaries");
    size_t n = 0;
    const char *last = NULL;
    if (dest) {
        export_desc *v = NULL;
        size_t nv = 0;
        int rc = export_list(dest, &so, &v, &nv);
        if (rc) {
            cJSON_Delete(r);
            return backup_error(e, rc, 0);
        }
        for (size_t i = 0; i < nv; i++) {
            if ((next && strcmp(v[i].id, next) <= 0) || (tarn && strcmp(v[i].table_arn, tarn))) continue;
            if (n == max) {
                cJSON_AddStringToObject(r, "NextToken", last);
                break;
            }
            cJSON *one = backup_export_shape(&v[i]);
            add_summary(list, cJSON_GetObjectItemCaseSensitive(one, "ExportDescription"));
            cJSON_Delete(one);
            last = v[i].id;
            n++;
        }
        free(v);
    } else if ((k = catalog_page(db, "exports", "ExportDescription", tarn, next, max, r, list,
                                 add_recorded, &so, e))) {
        cJSON_Delete(r);
        return k;
    }
    *resp = r;
    return 0;
}

/* ================================================================ TidemarkExportVerify */

typedef struct vctx {
    cJSON *problems;
} vctx;

static void on_problem(void *ctx, const char *what, const char *detail)
{
    vctx *v = ctx;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "What", what);
    cJSON_AddStringToObject(p, "Detail", detail);
    cJSON_AddItemToArray(v->problems, p);
}

/* Request: TidemarkExportDir; TidemarkEndpointUrl, TidemarkProfile, TidemarkIgnoreSummaryChecksum
 * (true: a summary that no longer matches its .md5 is no problem). Response: {"Valid",
 * "DataFiles", "DataFilesOk", "ItemCount", "Lines", "Bytes", "Schema" (NONE, CHECKED,
 * UNCHECKED: an older tidemark's schema without checksum, BAD), "Problems":[{"What","Detail"}],
 * "SummaryChecksumIgnored" (only when true)}.
 * Problems found are a response (Valid false), not an error. */
int tm_export_verify(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    (void)db;
    store_options so = STORE_OPTIONS_INIT;
    const char *dir;
    export_verify_stats st;
    int k;
    *resp = NULL;
    if ((k = req_store(req, &so, e)) || (k = req_str(req, "TidemarkExportDir", 1, &dir, e))) return k;
    export_verify_options vo = EXPORT_VERIFY_OPTIONS_INIT;
    vo.ignore_summary_checksum =
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(req, "TidemarkIgnoreSummaryChecksum"));
    cJSON *r = cJSON_CreateObject();
    vctx v = {cJSON_CreateArray()};
    int rc = export_verify_with(dir, &so, &vo, on_problem, &v, &st);
    if (rc && rc != TM_ECORRUPT) {
        cJSON_Delete(v.problems);
        cJSON_Delete(r);
        return backup_error(e, rc, rc == TM_ENOTFOUND ? TM_ERR_EXPORT_NOT_FOUND : 0);
    }
    static const char *const schema[] = {"NONE", "CHECKED", "UNCHECKED", "BAD"};
    cJSON_AddBoolToObject(r, "Valid", !rc);
    cJSON_AddNumberToObject(r, "DataFiles", (double)st.files);
    cJSON_AddNumberToObject(r, "DataFilesOk", (double)st.files_ok);
    cJSON_AddNumberToObject(r, "ItemCount", (double)st.items);
    cJSON_AddNumberToObject(r, "Lines", (double)st.lines);
    cJSON_AddNumberToObject(r, "Bytes", (double)st.bytes);
    cJSON_AddStringToObject(r, "Schema", schema[st.schema]);
    cJSON_AddNumberToObject(r, "ProblemCount", (double)st.problems);
    if (st.summary_checksum_ignored) cJSON_AddTrueToObject(r, "SummaryChecksumIgnored");
    cJSON_AddItemToObject(r, "Problems", v.problems);
    *resp = r;
    return 0;
}

/* ================================================================ RestoreTableToPointInTime */

/* Request: SourceTableArn or SourceTableName, TargetTableName, RestoreDateTime or
 * UseLatestRestorableTime; tidemark's TidemarkDirection (forward, backward, auto: tests and
 * benchmarks). */
static int restore_request(tm_db *db, const cJSON *req, restore_options *o, char *region,
                           char *account, char *name, tm_error *e)
{
    const char *arn, *src, *s;
    double v;
    int k, has;
    o->home = tm_db_home(db);
    if ((k = req_str(req, "SourceTableArn", 0, &arn, e)) ||
        (k = req_str(req, "SourceTableName", 0, &src, e)) ||
        (k = req_str(req, "TargetTableName", 1, &o->target, e)))
        return k;
    if (arn) {
        if ((k = breq_table_arn(arn, region, account, name, e))) return k;
        o->source = name;
        o->region = region;
        o->account = account;
    } else if (!(o->source = src)) {
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "SourceTableArn or SourceTableName is required");
    }
    const cJSON *latest = cJSON_GetObjectItemCaseSensitive(req, "UseLatestRestorableTime");
    if ((k = breq_num(req, "RestoreDateTime", &v, &has, e))) return k;
    if (has == cJSON_IsTrue(latest))
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "give exactly one of RestoreDateTime and "
                            "UseLatestRestorableTime");
    o->time_us = has ? req_time_us(v) : PITR_LATEST;
    if ((k = req_str(req, "TidemarkDirection", 0, &s, e))) return k;
    if (s && !strcmp(s, "forward")) o->direction = PITR_FORWARD;
    else if (s && !strcmp(s, "backward")) o->direction = PITR_BACKWARD;
    else if (s && strcmp(s, "auto"))
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "TidemarkDirection must be forward, "
                            "backward or auto");
    return 0;
}

/* restore/ and pitr/ codes as the restore's kinds. */
static int restore_error(tm_error *e, int rc)
{
    switch (rc) {
    case TM_ENOTFOUND: return backup_error(e, rc, TM_ERR_TABLE_NOT_FOUND);
    case TM_EEXIST: return backup_error(e, rc, TM_ERR_TABLE_ALREADY_EXISTS);
    case TM_ERANGE: return backup_error(e, rc, TM_ERR_INVALID_RESTORE_TIME);
    case TM_EINVAL: return backup_error(e, rc, TM_ERR_BAD_PARAMETER);
    default: return backup_error(e, rc, 0);
    }
}

int tm_restore_run(tm_db *db, const cJSON *req, tm_backup_run *run, cJSON **resp, tm_error *e)
{
    restore_options o = RESTORE_OPTIONS_INIT;
    restore_result r;
    char region[256], account[256], name[256];
    int k, rc;
    *resp = NULL;
    if (run) run->failed = NULL;
    if ((k = restore_request(db, req, &o, region, account, name, e))) return k;
    o.prog = run ? run->prog : NULL;
    /* A deleted table whose history is kept (lifecycle): restored in its own directory. */
    char dhome[PATH_MAX];
    if ((k = api_restore_deleted_source(db, o.source, o.target, &o.time_us, dhome, sizeof dhome, e)))
        return k;
    if (dhome[0]) o.home = dhome;
    if ((rc = restore_run(&o, &r))) {
        if (rc == TM_ENOTFOUND && !dhome[0] && (k = pitr_off_kind(db, o.source)))
            return backup_error(e, rc, k);
        return restore_error(e, rc);
    }
    if (dhome[0] && (rc = api_restore_deleted_publish(db, dhome, o.target))) return restore_error(e, rc);
    o.home = tm_db_home(db);
    /* Where it came from, in the new table's table.json (describe-table shows it). */
    table_restore_summary rs;
    memset(&rs, 0, sizeof rs);
    snprintf(rs.source_table_arn, sizeof rs.source_table_arn, "%s", r.source_arn);
    rs.restore_time_us = r.stats.t_us;
    table *t = NULL;
    table_info info;
    if ((rc = table_open(o.home, o.target, 0, &t)) || (rc = table_set_restore_summary(t, &rs)) ||
        (rc = table_describe(t, &info))) {
        /* The table was published without its summary (a full disk): a failed restore leaves
         * no table, so this one goes (the error is taken first: the delete may set another). */
        k = restore_error(e, rc);
        table_close(t);
        table_delete(o.home, o.target);
        return k;
    }
    table_close(t);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "TableDescription", shape_table_description(&info, "ACTIVE"));
    cJSON *x = cJSON_AddObjectToObject(cJSON_GetObjectItemCaseSensitive(out, "TableDescription"),
                                       "TidemarkRestoreStats");
    cJSON_AddStringToObject(x, "Direction", pitr_dir_name(r.stats.direction));
    cJSON_AddStringToObject(x, "Seed", pitr_seed_name(r.stats.seed));
    cJSON_AddNumberToObject(x, "SeedSeq", (double)r.stats.seed_seq);
    cJSON_AddNumberToObject(x, "LogRecords", (double)r.stats.records);
    cJSON_AddNumberToObject(x, "Seconds", r.stats.seconds);
    *resp = out;
    return 0;
}

int tm_restore_table_to_point_in_time(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    return tm_restore_run(db, req, NULL, resp, e);
}

/* The plan (pitr/) decides what AWS checks before it answers: the source, the time against its
 * window, the target's name; the target must not exist. */
int tm_restore_begin(tm_db *db, const cJSON *req, cJSON **resp, cJSON **run_req, tm_error *e)
{
    restore_options o = RESTORE_OPTIONS_INIT;
    char region[256], account[256], name[256], dir[PATH_MAX];
    pitr_plan *p = NULL;
    table *t = NULL;
    table_info info;
    int k, rc;
    *resp = *run_req = NULL;
    if ((k = restore_request(db, req, &o, region, account, name, e))) return k;
    table_path(o.home, o.target, NULL, dir, sizeof dir);
    if (!table_check_name(o.target) && fsx_exists(dir))
        return tm_error_set(e, TM_ERR_TABLE_ALREADY_EXISTS, "Table already exists: %s", o.target);
    if ((k = api_open_table(db, o.source, TABLE_RDONLY, &t, &info, e))) {
        if (k == TM_ERR_RESOURCE_NOT_FOUND) k = TM_ERR_TABLE_NOT_FOUND;   /* AWS's for a source */
        if (e) e->kind = k;
        return k;
    }
    int64_t lo, hi;
    rc = table_pitr_window(t, &lo, &hi);
    api_close_table(db, o.source, t);
    if (rc == TM_ENOTFOUND)
        return tm_error_set(e, TM_ERR_PITR_UNAVAILABLE, "Point in time recovery is not enabled for "
                            "table '%s'", o.source);
    if ((rc = restore_plan(&o, &p))) return restore_error(e, rc);
    int64_t at = p->t_us;
    pitr_plan_free(p);
    char src_arn[TABLE_ARN_MAX];
    table_arn(o.region, o.account, o.source, src_arn, sizeof src_arn);
    snprintf(info.name, sizeof info.name, "%s", o.target);
    info.item_count = info.size_bytes = 0;
    info.created_us = clock_now_us();
    info.restored = 1;
    memset(&info.restore, 0, sizeof info.restore);
    snprintf(info.restore.source_table_arn, sizeof info.restore.source_table_arn, "%s", src_arn);
    info.restore.restore_time_us = at;
    info.restore.in_progress = 1;
    cJSON *d = shape_table_description(&info, "CREATING");
    cJSON_DeleteItemFromObjectCaseSensitive(d, "TableId");   /* the new table's is not made yet */
    cJSON_DeleteItemFromObjectCaseSensitive(d, "Tidemark");
    *resp = cJSON_CreateObject();
    cJSON_AddItemToObject(*resp, "TableDescription", d);
    *run_req = cJSON_Duplicate(req, 1);
    if (o.time_us == PITR_LATEST) {   /* the latest time when asked, not when it runs */
        cJSON_DeleteItemFromObjectCaseSensitive(*run_req, "UseLatestRestorableTime");
        cJSON_AddNumberToObject(*run_req, "RestoreDateTime", (double)at / 1e6);
    }
    return 0;
}

/* TidemarkRestorePlan: the request of RestoreTableToPointInTime; writes nothing. Response:
 * {"Plan":{pitr_plan_json's members}, "Text": the plan for people (pitr_plan_describe)}. */
int tm_restore_plan(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    restore_options o = RESTORE_OPTIONS_INIT;
    char region[256], account[256], name[256];
    pitr_plan *p = NULL;
    buf js = BUF_INIT, tx = BUF_INIT;
    int k, rc;
    *resp = NULL;
    if ((k = restore_request(db, req, &o, region, account, name, e))) return k;
    if ((rc = restore_plan(&o, &p))) return restore_error(e, rc);
    rc = pitr_plan_json(p, &js);
    if (!rc) rc = pitr_plan_describe(p, &tx);
    pitr_plan_free(p);
    cJSON *plan = rc ? NULL : cJSON_ParseWithLength(js.data, js.len);
    if (plan) {
        *resp = cJSON_CreateObject();
        cJSON_AddItemToObject(*resp, "Plan", plan);
        cJSON_AddStringToObject(*resp, "Text", tx.data ? tx.data : "");
    }
    buf_free(&js);
    buf_free(&tx);
    return plan ? 0 : tm_error_set(e, TM_ERR_INTERNAL, "the plan could not be written");
}
