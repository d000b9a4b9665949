/* manifest.c: the JSON texts of an export: manifest-files.json lines, manifest-summary.json
 * (full and incremental), tidemark-schema.json and the resume state file (the
 * ExportDescription is the api layer's, api/backup.c). Member order is part of the format
 * (FORMATS.md 2-3), so the AWS texts are written by hand in that order; the state file, which
 * only tidemark reads, goes through cJSON. The files themselves are specified at the top of
 * export.c. */
#include "export/export_internal.h"
#include "export/layout.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/text.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ================================================================================================
 * Small helpers
 * ============================================================================================== */

/* ,"name":"value"  (first: no comma) */
static int member_str(buf *b, int first, const char *name, const char *value)
{
    int rc = buf_printf(b, "%s\"%s\":", first ? "" : ",", name);
    if (rc) return rc;
    /* keys and names pass as they are (no U+FFFD): they must match the objects */
    return value ? text_json_str(b, value, strlen(value), 0) : buf_puts(b, "null");
}

void xp_time(int64_t us, char out[32])
{
    clock_format(us, 3, out, 32);
}

int64_t xp_parse_time(const char *s)
{
    int64_t us;
    if (!s || !*s || s[0] == '-' || clock_parse(s, &us)) return 0;
    return us;
}

const char *xp_type_text(export_type t)
{
    return t == EXPORT_INCREMENTAL ? "INCREMENTAL_EXPORT" : "FULL_EXPORT";
}

const char *export_type_name(export_type t) { return xp_type_text(t); }

const char *export_view_name(export_view v)
{
    return v == EXPORT_VIEW_NEW ? "NEW_IMAGE" : "NEW_AND_OLD_IMAGES";
}

int xp_type_parse(const char *s, export_type *t)
{
    if (!strcmp(s, "FULL_EXPORT")) *t = EXPORT_FULL;
    else if (!strcmp(s, "INCREMENTAL_EXPORT")) *t = EXPORT_INCREMENTAL;
    else return -1;
    return 0;
}

int xp_view_parse(const char *s, export_view *v)
{
    if (!strcmp(s, "NEW_AND_OLD_IMAGES")) *v = EXPORT_VIEW_NEW_AND_OLD;
    else if (!strcmp(s, "NEW_IMAGE")) *v = EXPORT_VIEW_NEW;
    else return -1;
    return 0;
}

void xp_table_arn(const xp_meta *m, char *out, size_t n)
{
    snprintf(out, n, "arn:aws:dynamodb:%s:%s:table/%s", m->region, m->account, m->table);
}

void xp_export_arn(const xp_meta *m, char *out, size_t n)
{
    snprintf(out, n, "arn:aws:dynamodb:%s:%s:table/%s/export/%s", m->region, m->account,
             m->table, m->id);
}

void xp_desc_from_meta(const xp_meta *m, export_desc *d)
{
    snprintf(d->id, sizeof d->id, "%s", m->id);
    xp_export_arn(m, d->export_arn, sizeof d->export_arn);
    xp_table_arn(m, d->table_arn, sizeof d->table_arn);
    snprintf(d->table_id, sizeof d->table_id, "%s", m->table_id);
    snprintf(d->table_name, sizeof d->table_name, "%s", m->table);
    d->type = m->type;
    d->view = m->view;
    d->start_us = m->start_us;
    d->export_time_us = m->export_time_us;
    d->from_us = m->from_us;
    d->to_us = m->to_us;
    snprintf(d->bucket, sizeof d->bucket, "%s", m->bucket);
    snprintf(d->prefix, sizeof d->prefix, "%s", m->prefix);
    snprintf(d->sse, sizeof d->sse, "AES256");
    snprintf(d->format, sizeof d->format, "DYNAMODB_JSON");
}

/* The keys come from the layout's one key scheme (export/layout.h), which the readers share. */
void xp_export_key(const xp_meta *m, const char *name, char *out, size_t n)
{
    layout_export_key(m->id, name, out, n);
}

void xp_data_prefix(const xp_meta *m, char *out, size_t n)
{
    layout_data_prefix(m->id, m->type == EXPORT_INCREMENTAL, out, n);
}

int xp_set_location(xp_meta *m, const store *st, const char *bucket, const char *prefix)
{
    char p[sizeof m->prefix];
    const char *s = prefix ? prefix : "";
    while (*s == '/') s++;
    snprintf(p, sizeof p, "%s", s);
    for (size_t l = strlen(p); l > 0 && p[l - 1] == '/'; l--) p[l - 1] = '\0';
    if (store_is_s3(st)) {
        /* An S3 destination is where the export lives: nothing else may be recorded. */
        if ((bucket && strcmp(bucket, store_bucket(st))) || (prefix && strcmp(p, store_prefix(st))))
            return err_set(TM_EINVAL, "--s3-bucket/--s3-prefix are for a local export that will "
                           "be copied to S3; an s3:// destination records its own bucket and "
                           "prefix (s3://%s/%s)", store_bucket(st), store_prefix(st));
        bucket = prefix = NULL;
    }
    if (bucket && (!*bucket || strchr(bucket, '/') || strlen(bucket) >= sizeof m->bucket))
        return err_set(TM_EINVAL, "--s3-bucket '%s': not a bucket name", bucket);
    if (prefix && *p && !layout_path_safe(p))
        return err_set(TM_EINVAL, "--s3-prefix '%s': an empty, '.' or '..' segment", prefix);
    snprintf(m->bucket, sizeof m->bucket, "%s", bucket ? bucket : store_bucket(st));
    snprintf(m->prefix, sizeof m->prefix, "%s", prefix ? p : store_prefix(st));
    return 0;
}

int xp_full_key(const xp_meta *m, const char *key, buf *out)
{
    if (m->prefix[0]) return buf_printf(out, "%s/%s", m->prefix, key);
    return buf_puts(out, key);
}

void xp_part_range(int part, int n, uint32_t *lo, uint32_t *hi)
{
    /* Partition i holds the hashes h with floor(h * n / 2^32) == i. */
    uint64_t a = (((uint64_t)part << 32) + (uint64_t)n - 1) / (uint64_t)n;
    uint64_t b = ((((uint64_t)part + 1) << 32) + (uint64_t)n - 1) / (uint64_t)n;
    *lo = (uint32_t)a;
    *hi = (uint32_t)(b - 1);
}

/* ================================================================================================
 * AWS texts
 * ============================================================================================== */

int xp_files_add(xp_file **files, size_t *n, size_t *cap, const xp_file *f)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        xp_file *nf = realloc(*files, c * sizeof *nf);
        if (!nf) return err_set(TM_ENOMEM, "out of memory");
        *files = nf;
        *cap = c;
    }
    (*files)[(*n)++] = *f;
    return 0;
}

int xp_manifest_line(const xp_file *f, buf *out)
{
    int rc = buf_printf(out, "{\"itemCount\":%llu", (unsigned long long)f->items);
    if (!rc) rc = member_str(out, 0, "md5Checksum", f->md5_b64);
    if (!rc) rc = member_str(out, 0, "etag", f->etag);
    if (!rc) rc = member_str(out, 0, "dataFileS3Key", f->full_key);
    if (!rc) rc = buf_puts(out, "}\n");
    return rc;
}

int xp_summary_json(const xp_meta *m, const char *manifest_key, uint64_t items, uint64_t billed,
                    buf *out)
{
    char arn[600], tarn[560], st[32], et[32], t1[32], t2[32];
    int inc = m->type == EXPORT_INCREMENTAL;
    xp_export_arn(m, arn, sizeof arn);
    xp_table_arn(m, tarn, sizeof tarn);
    xp_time(m->start_us, st);
    xp_time(m->end_us, et);
    int rc = buf_puts(out, "{");
    if (!rc) rc = member_str(out, 1, "version", inc ? "2023-08-01" : "2020-06-30");
    if (!rc) rc = member_str(out, 0, "exportArn", arn);
    if (!rc) rc = member_str(out, 0, "startTime", st);
    if (!rc) rc = member_str(out, 0, "endTime", et);
    if (!rc) rc = member_str(out, 0, "tableArn", tarn);
    if (!rc) rc = member_str(out, 0, "tableId", m->table_id);
    if (inc) {
        xp_time(m->from_us, t1);
        xp_time(m->to_us, t2);
        if (!rc) rc = member_str(out, 0, "exportFromTime", t1);
        if (!rc) rc = member_str(out, 0, "exportToTime", t2);
    } else {
        xp_time(m->export_time_us, t1);
        if (!rc) rc = member_str(out, 0, "exportTime", t1);
    }
    if (!rc) rc = member_str(out, 0, "s3Bucket", m->bucket);
    if (!rc) rc = member_str(out, 0, "s3Prefix", m->prefix[0] ? m->prefix : NULL);
    if (!rc) rc = member_str(out, 0, "s3SseAlgorithm", "AES256");
    if (!rc) rc = member_str(out, 0, "s3SseKmsKeyId", NULL);
    if (!rc) rc = member_str(out, 0, "manifestFilesS3Key", manifest_key);
    if (!rc) rc = buf_printf(out, ",\"billedSizeBytes\":%llu,\"itemCount\":%llu",
                             (unsigned long long)billed, (unsigned long long)items);
    if (!rc) rc = member_str(out, 0, "outputFormat", "DYNAMODB_JSON");
    if (inc) {
        if (!rc) rc = member_str(out, 0, "outputView", export_view_name(m->view));
        if (!rc) rc = member_str(out, 0, "exportType", "INCREMENTAL_EXPORT");
    }
    if (!rc) rc = buf_puts(out, "}");
    return rc;
}

static const char *type_letter(av_type t)
{
    return t == AV_S ? "S" : t == AV_N ? "N" : t == AV_B ? "B" : "?";
}

static int letter_type(const char *s, av_type *t)
{
    if (!strcmp(s, "S")) *t = AV_S;
    else if (!strcmp(s, "N")) *t = AV_N;
    else if (!strcmp(s, "B")) *t = AV_B;
    else return -1;
    return 0;
}

int xp_schema_json(const xp_meta *m, buf *out)
{
    char t1[40], t2[40];
    const key_schema *ks = &m->ks;
    size_t start = out->len;
    int rc = buf_printf(out, "{\"SchemaVersion\":%d", XP_SCHEMA_VERSION);
    if (!rc) rc = member_str(out, 0, "TableName", m->table);
    if (!rc) rc = member_str(out, 0, "TableId", m->table_id);
    if (!rc) rc = buf_puts(out, ",\"KeySchema\":[{");
    if (!rc) rc = member_str(out, 1, "AttributeName", ks->hash_name);
    if (!rc) rc = buf_puts(out, ",\"KeyType\":\"HASH\"}");
    if (ks->range_type) {
        if (!rc) rc = buf_puts(out, ",{");
        if (!rc) rc = member_str(out, 1, "AttributeName", ks->range_name);
        if (!rc) rc = buf_puts(out, ",\"KeyType\":\"RANGE\"}");
    }
    if (!rc) rc = buf_puts(out, "],\"AttributeDefinitions\":[{");
    if (!rc) rc = member_str(out, 1, "AttributeName", ks->hash_name);
    if (!rc) rc = member_str(out, 0, "AttributeType", type_letter(ks->hash_type));
    if (!rc) rc = buf_puts(out, "}");
    if (ks->range_type) {
        if (!rc) rc = buf_puts(out, ",{");
        if (!rc) rc = member_str(out, 1, "AttributeName", ks->range_name);
        if (!rc) rc = member_str(out, 0, "AttributeType", type_letter(ks->range_type));
        if (!rc) rc = buf_puts(out, "}");
    }
    if (!rc) rc = buf_puts(out, "]");
    if (m->type == EXPORT_INCREMENTAL) {
        clock_format(m->from_us, 6, t1, sizeof t1);
        clock_format(m->to_us, 6, t2, sizeof t2);
        if (!rc) rc = member_str(out, 0, "ExportFromTime", t1);
        if (!rc) rc = member_str(out, 0, "ExportToTime", t2);
    } else {
        clock_format(m->export_time_us, 6, t1, sizeof t1);
        if (!rc) rc = member_str(out, 0, "ExportTime", t1);
    }
    if (!rc) rc = member_str(out, 0, "ExportType", xp_type_text(m->type));
    if (!rc) {
        char md5[25];
        xp_md5_b64(out->data + start, out->len - start, md5);
        rc = buf_printf(out, "%s%s%s", LAYOUT_SCHEMA_SUM_HEAD, md5, LAYOUT_SCHEMA_SUM_TAIL);
    }
    return rc;
}

/* ================================================================================================
 * Resume state (tidemark only; cJSON)
 * ============================================================================================== */

static void add_i64(cJSON *o, const char *name, int64_t v)
{
    /* Doubles hold integers exactly up to 2^53: µs times (2^51 today) and seqs fit; text keeps
     * them exact whatever they are. */
    char t[32];
    snprintf(t, sizeof t, "%lld", (long long)v);
    cJSON_AddStringToObject(o, name, t);
}

static void add_u64(cJSON *o, const char *name, uint64_t v)
{
    char t[32];
    snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    cJSON_AddStringToObject(o, name, t);
}

static const char *get_s(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int64_t get_i64(const cJSON *o, const char *name)
{
    return strtoll(get_s(o, name), NULL, 10);
}

static uint64_t get_u64(const cJSON *o, const char *name)
{
    return strtoull(get_s(o, name), NULL, 10);
}

static void copy_s(char *dst, size_t n, const cJSON *o, const char *name)
{
    snprintf(dst, n, "%s", get_s(o, name));
}

int xp_state_json(const xp_meta *m, const char *status, const char *failure,
                  const xp_file *files, size_t nfiles, const unsigned char *done, buf *out)
{
    cJSON *o = cJSON_CreateObject(), *a, *d;
    if (!o) return err_set(TM_ENOMEM, "out of memory");
    cJSON_AddNumberToObject(o, "stateVersion", 1);
    cJSON_AddStringToObject(o, "status", status);
    if (failure) cJSON_AddStringToObject(o, "failure", failure);
    cJSON_AddStringToObject(o, "exportId", m->id);
    cJSON_AddStringToObject(o, "exportType", xp_type_text(m->type));
    cJSON_AddStringToObject(o, "outputView", export_view_name(m->view));
    cJSON_AddStringToObject(o, "compression", m->compression == EXPORT_GZIP ? "GZIP" : "ZSTD");
    cJSON_AddNumberToObject(o, "level", m->level);
    cJSON_AddStringToObject(o, "table", m->table);
    cJSON_AddStringToObject(o, "tableId", m->table_id);
    cJSON_AddStringToObject(o, "hashName", m->ks.hash_name);
    cJSON_AddStringToObject(o, "hashType", type_letter(m->ks.hash_type));
    cJSON_AddStringToObject(o, "rangeName", m->ks.range_name);
    cJSON_AddStringToObject(o, "rangeType", m->ks.range_type ? type_letter(m->ks.range_type) : "");
    cJSON_AddStringToObject(o, "region", m->region);
    cJSON_AddStringToObject(o, "account", m->account);
    cJSON_AddStringToObject(o, "bucket", m->bucket);
    cJSON_AddStringToObject(o, "prefix", m->prefix);
    add_i64(o, "startUs", m->start_us);
    add_i64(o, "endUs", m->end_us);
    add_i64(o, "exportTimeUs", m->export_time_us);
    add_i64(o, "fromUs", m->from_us);
    add_i64(o, "toUs", m->to_us);
    add_u64(o, "snapSeq", m->snap_seq);
    add_i64(o, "snapTimeUs", m->snap_time_us);
    cJSON_AddBoolToObject(o, "timed", m->timed);
    cJSON_AddNumberToObject(o, "partitions", m->parts);
    add_u64(o, "maxFileBytes", m->max_file_bytes);
    cJSON_AddNumberToObject(o, "pid", (double)getpid());
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    cJSON_AddStringToObject(o, "host", host);
    d = cJSON_AddArrayToObject(o, "partitionsDone");
    for (int i = 0; done && i < m->parts; i++)
        if (done[i]) cJSON_AddItemToArray(d, cJSON_CreateNumber(i));
    a = cJSON_AddArrayToObject(o, "files");
    for (size_t i = 0; i < nfiles; i++) {
        const xp_file *f = &files[i];
        if (done && !done[f->part]) continue;   /* only files of finished partitions count */
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "part", f->part);
        cJSON_AddNumberToObject(e, "index", f->index);
        cJSON_AddStringToObject(e, "key", f->key);
        cJSON_AddStringToObject(e, "fullKey", f->full_key);
        add_u64(e, "items", f->items);
        add_u64(e, "size", f->size);
        add_u64(e, "jsonBytes", f->json_bytes);
        cJSON_AddStringToObject(e, "md5", f->md5_b64);
        cJSON_AddStringToObject(e, "etag", f->etag);
        cJSON_AddItemToArray(a, e);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return err_set(TM_ENOMEM, "out of memory");
    int rc = buf_puts(out, s);
    free(s);
    return rc;
}

int xp_state_parse(const char *json, size_t n, xp_meta *m, char *status, size_t sn,
                   xp_file **files, size_t *nfiles, unsigned char **done)
{
    int rc = 0;
    *files = NULL;
    *nfiles = 0;
    *done = NULL;
    memset(m, 0, sizeof *m);
    cJSON *o = cJSON_ParseWithLength(json, n);
    if (!o || !cJSON_IsObject(o)) {
        rc = err_set(TM_ECORRUPT, "%s: not a JSON object", XP_STATE_NAME);
        goto out;
    }
    snprintf(status, sn, "%s", get_s(o, "status"));
    copy_s(m->id, sizeof m->id, o, "exportId");
    if (xp_type_parse(get_s(o, "exportType"), &m->type) ||
        xp_view_parse(get_s(o, "outputView"), &m->view)) {
        rc = err_set(TM_ECORRUPT, "%s: bad exportType or outputView", XP_STATE_NAME);
        goto out;
    }
    m->compression = !strcmp(get_s(o, "compression"), "ZSTD") ? EXPORT_ZSTD : EXPORT_GZIP;
    const cJSON *lv = cJSON_GetObjectItemCaseSensitive(o, "level");
    m->level = cJSON_IsNumber(lv) ? lv->valueint : 0;
    copy_s(m->table, sizeof m->table, o, "table");
    copy_s(m->table_id, sizeof m->table_id, o, "tableId");
    copy_s(m->ks.hash_name, sizeof m->ks.hash_name, o, "hashName");
    copy_s(m->ks.range_name, sizeof m->ks.range_name, o, "rangeName");
    if (letter_type(get_s(o, "hashType"), &m->ks.hash_type)) {
        rc = err_set(TM_ECORRUPT, "%s: bad hashType", XP_STATE_NAME);
        goto out;
    }
    if (*get_s(o, "rangeType") && letter_type(get_s(o, "rangeType"), &m->ks.range_type)) {
        rc = err_set(TM_ECORRUPT, "%s: bad rangeType", XP_STATE_NAME);
        goto out;
    }
    copy_s(m->region, sizeof m->region, o, "region");
    copy_s(m->account, sizeof m->account, o, "account");
    copy_s(m->bucket, sizeof m->bucket, o, "bucket");
    copy_s(m->prefix, sizeof m->prefix, o, "prefix");
    m->start_us = get_i64(o, "startUs");
    m->end_us = get_i64(o, "endUs");
    m->export_time_us = get_i64(o, "exportTimeUs");
    m->from_us = get_i64(o, "fromUs");
    m->to_us = get_i64(o, "toUs");
    m->snap_seq = get_u64(o, "snapSeq");
    m->snap_time_us = get_i64(o, "snapTimeUs");
    m->timed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "timed"));
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "partitions");
    m->parts = cJSON_IsNumber(p) ? p->valueint : 0;
    m->max_file_bytes = get_u64(o, "maxFileBytes");
    if (m->parts < 1 || m->parts > (1 << 20) || !m->id[0] || !m->table[0]) {
        rc = err_set(TM_ECORRUPT, "%s: missing exportId, table or partitions", XP_STATE_NAME);
        goto out;
    }
    *done = calloc((size_t)m->parts, 1);
    if (!*done) {
        rc = err_set(TM_ENOMEM, "out of memory");
        goto out;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(o, "partitionsDone")) {
        if (cJSON_IsNumber(e) && e->valueint >= 0 && e->valueint < m->parts)
            (*done)[e->valueint] = 1;
    }
    const cJSON *fa = cJSON_GetObjectItemCaseSensitive(o, "files");
    int nf = cJSON_GetArraySize(fa);
    if (nf > 0) {
        *files = calloc((size_t)nf, sizeof **files);
        if (!*files) {
            rc = err_set(TM_ENOMEM, "out of memory");
            goto out;
        }
    }
    cJSON_ArrayForEach(e, fa) {
        xp_file *f = &(*files)[*nfiles];
        const cJSON *pp = cJSON_GetObjectItemCaseSensitive(e, "part");
        const cJSON *ii = cJSON_GetObjectItemCaseSensitive(e, "index");
        if (!cJSON_IsNumber(pp) || !cJSON_IsNumber(ii) || pp->valueint < 0 ||
            pp->valueint >= m->parts) {
            rc = err_set(TM_ECORRUPT, "%s: bad file entry", XP_STATE_NAME);
            goto out;
        }
        f->part = pp->valueint;
        f->index = ii->valueint;
        copy_s(f->key, sizeof f->key, e, "key");
        copy_s(f->full_key, sizeof f->full_key, e, "fullKey");
        f->items = get_u64(e, "items");
        f->size = get_u64(e, "size");
        f->json_bytes = get_u64(e, "jsonBytes");
        copy_s(f->md5_b64, sizeof f->md5_b64, e, "md5");
        copy_s(f->etag, sizeof f->etag, e, "etag");
        (*nfiles)++;
    }
out:
    cJSON_Delete(o);
    if (rc) {
        free(*files);
        free(*done);
        *files = NULL;
        *done = NULL;
        *nfiles = 0;
    }
    return rc;
}
