/* verify.c: the readers of exports, tidemark's and AWS's alike: describe (ExportDescription),
 * list, and verify (every checksum, ETag, item count and line; rules in export.c, VALIDITY).
 *
 * Where an export is: "DEST/AWSDynamoDB/<ID>" (the store is opened at DEST), or any directory
 * holding the manifests themselves (an AWS export copied somewhere: the store is opened at that
 * directory). Manifests name data files by their key from the bucket root, prefix included
 * ("demo_prefix/AWSDynamoDB/<ID>/data/x.json.gz"); the part from the last "AWSDynamoDB/" on is
 * the key relative to DEST, which is how files are found whatever the prefix was. */
#include "export/export_internal.h"
#include "export/layout.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/item.h"
#include "engine/text.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MANIFEST_MAX ((size_t)256 << 20)
#define SUMMARY_MAX  ((size_t)1 << 20)
#define LINE_MAX_BYTES ((size_t)16 << 20)
#define READ_BLOCK   ((size_t)1 << 20)
#define XP_STARTING_SECS 60   /* _started without a state file this long: the export died */

/* Where an export is found, and the path rule for its data files: export/layout.h. */
typedef layout_loc xp_loc;
#define loc_open layout_loc_open
#define loc_close layout_loc_close
#define loc_get layout_loc_get

/* ================================================================================================
 * Describe
 * ============================================================================================== */

static const char *js(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static uint64_t jn(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

static void after(const char *s, const char *marker, char *out, size_t n)
{
    const char *p = strstr(s, marker);
    snprintf(out, n, "%s", p ? p + strlen(marker) : "");
    char *sl = strchr(out, '/');
    if (sl) *sl = '\0';
}

static int desc_from_summary(const cJSON *o, export_desc *d)
{
    snprintf(d->status, sizeof d->status, "COMPLETED");
    snprintf(d->export_arn, sizeof d->export_arn, "%s", js(o, "exportArn"));
    snprintf(d->table_arn, sizeof d->table_arn, "%s", js(o, "tableArn"));
    snprintf(d->table_id, sizeof d->table_id, "%s", js(o, "tableId"));
    after(d->table_arn, ":table/", d->table_name, sizeof d->table_name);
    char id[64];
    after(d->export_arn, "/export/", id, sizeof id);
    if (id[0]) snprintf(d->id, sizeof d->id, "%s", id);
    d->start_us = xp_parse_time(js(o, "startTime"));
    d->end_us = xp_parse_time(js(o, "endTime"));
    d->export_time_us = xp_parse_time(js(o, "exportTime"));
    d->from_us = xp_parse_time(js(o, "exportFromTime"));
    d->to_us = xp_parse_time(js(o, "exportToTime"));
    d->type = EXPORT_FULL;
    if (*js(o, "exportType") && xp_type_parse(js(o, "exportType"), &d->type))
        return err_set(TM_ECORRUPT, "manifest-summary.json: unknown exportType %s",
                       js(o, "exportType"));
    d->view = EXPORT_VIEW_NEW_AND_OLD;
    if (*js(o, "outputView")) xp_view_parse(js(o, "outputView"), &d->view);
    d->item_count = jn(o, "itemCount");
    d->billed_bytes = jn(o, "billedSizeBytes");
    snprintf(d->bucket, sizeof d->bucket, "%s", js(o, "s3Bucket"));
    snprintf(d->prefix, sizeof d->prefix, "%s", js(o, "s3Prefix"));
    snprintf(d->sse, sizeof d->sse, "%s", js(o, "s3SseAlgorithm"));
    snprintf(d->format, sizeof d->format, "%s", js(o, "outputFormat"));
    const char *mk = js(o, "manifestFilesS3Key");
    /* ExportManifest names the summary, beside the files manifest. */
    const char *sl = strrchr(mk, '/');
    if (*mk) snprintf(d->manifest_key, sizeof d->manifest_key, "%.*smanifest-summary.json",
                      sl ? (int)(sl - mk + 1) : 0, mk);
    return 0;
}

/* Whether the process that wrote a state file still runs (same host only). */
static int writer_alive(const cJSON *o)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(o, "pid");
    if (strcmp(js(o, "host"), host) || !cJSON_IsNumber(pid)) return 1;   /* cannot tell */
    return kill((pid_t)pid->valuedouble, 0) == 0 || errno == EPERM;
}

static int desc_from_state(const char *json, size_t n, export_desc *d)
{
    xp_meta m;
    char status[32];
    xp_file *files;
    size_t nfiles;
    unsigned char *done;
    int rc = xp_state_parse(json, n, &m, status, sizeof status, &files, &nfiles, &done);
    if (rc) return rc;
    snprintf(d->id, sizeof d->id, "%s", m.id);
    xp_export_arn(&m, d->export_arn, sizeof d->export_arn);
    xp_table_arn(&m, d->table_arn, sizeof d->table_arn);
    snprintf(d->table_id, sizeof d->table_id, "%s", m.table_id);
    snprintf(d->table_name, sizeof d->table_name, "%s", m.table);
    d->type = m.type;
    d->view = m.view;
    d->start_us = m.start_us;
    d->export_time_us = m.export_time_us;
    d->from_us = m.from_us;
    d->to_us = m.to_us;
    snprintf(d->bucket, sizeof d->bucket, "%s", m.bucket);
    snprintf(d->prefix, sizeof d->prefix, "%s", m.prefix);
    snprintf(d->sse, sizeof d->sse, "AES256");
    snprintf(d->format, sizeof d->format, "DYNAMODB_JSON");
    for (size_t i = 0; i < nfiles; i++) {
        d->item_count += files[i].items;
        d->billed_bytes += files[i].json_bytes;
    }
    d->files = nfiles;
    cJSON *o = cJSON_ParseWithLength(json, n);
    if (!strcmp(status, "FAILED")) {
        snprintf(d->status, sizeof d->status, "FAILED");
        snprintf(d->failure, sizeof d->failure, "%s", o ? js(o, "failure") : "");
    } else if (o && !writer_alive(o)) {
        snprintf(d->status, sizeof d->status, "FAILED");
        snprintf(d->failure, sizeof d->failure, "interrupted: the exporting process (pid %.0f) "
                 "is gone; continue it with tidemark-export --resume",
                 cJSON_GetObjectItemCaseSensitive(o, "pid")->valuedouble);
    } else {
        snprintf(d->status, sizeof d->status, "IN_PROGRESS");
    }
    cJSON_Delete(o);
    free(files);
    free(done);
    return 0;
}

static int describe_loc(xp_loc *l, export_desc *d)
{
    buf b = BUF_INIT;
    int rc = loc_get(l, "manifest-summary.json", SUMMARY_MAX, &b);
    memset(d, 0, sizeof *d);
    snprintf(d->id, sizeof d->id, "%s", l->id);
    snprintf(d->dir, sizeof d->dir, "%s", l->dir);
    if (!rc) {
        cJSON *o = cJSON_ParseWithLength(b.data, b.len);
        if (!o || !cJSON_IsObject(o)) rc = err_set(TM_ECORRUPT, "%s: manifest-summary.json is "
                                                   "not a JSON object", l->dir);
        else rc = desc_from_summary(o, d);
        cJSON_Delete(o);
        buf_reset(&b);
        if (!rc && !loc_get(l, "manifest-files.json", MANIFEST_MAX, &b))
            for (size_t i = 0; i < b.len; i++) d->files += b.data[i] == '\n';
        goto out;
    }
    if (rc != TM_ENOTFOUND) goto out;
    buf_reset(&b);
    rc = loc_get(l, XP_STATE_NAME, MANIFEST_MAX, &b);
    if (!rc) {
        rc = desc_from_state(b.data, b.len, d);
        goto out;
    }
    if (rc != TM_ENOTFOUND) goto out;
    buf_reset(&b);
    store_object_info oi;
    char key[256];
    snprintf(key, sizeof key, "%s_started", l->base);
    rc = store_head(l->st, key, &oi);
    if (!rc) {
        /* Not finished: still starting (the state file follows _started within moments), or
         * killed before its state was recorded: a minute on, the latter. */
        if (oi.last_modified && time(NULL) - oi.last_modified > XP_STARTING_SECS) {
            snprintf(d->status, sizeof d->status, "FAILED");
            snprintf(d->failure, sizeof d->failure, "the export %s", XP_UNRECORDED);
        } else {
            snprintf(d->status, sizeof d->status, "IN_PROGRESS");
        }
        goto out;
    }
    if (rc == TM_ENOTFOUND) rc = err_set(TM_ENOTFOUND, "%s: no export there (no manifests, no "
                                         "_started)", l->dir);
out:
    buf_free(&b);
    return rc;
}

int export_describe(const char *dir, const store_options *so, export_desc *out)
{
    xp_loc l;
    int rc = loc_open(dir, so, &l);
    if (!rc) rc = describe_loc(&l, out);
    loc_close(&l);
    return rc;
}

/* ================================================================================================
 * List
 * ============================================================================================== */

typedef struct list_ctx {
    char **names;
    size_t n, cap;
} list_ctx;

static int list_cb(void *ctx, const store_entry *e)
{
    list_ctx *c = ctx;
    const char *k = e->key + strlen("AWSDynamoDB/");
    size_t kl = strlen(k);
    if (kl < 2 || !strcmp(k, "data/")) return 0;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 16;
        char **nn = realloc(c->names, nc * sizeof *nn);
        if (!nn) return err_set(TM_ENOMEM, "out of memory");
        c->names = nn;
        c->cap = nc;
    }
    c->names[c->n] = strndup(k, kl - 1);
    if (!c->names[c->n]) return err_set(TM_ENOMEM, "out of memory");
    c->n++;
    return 0;
}

int export_list(const char *dest, const store_options *so, export_desc **out, size_t *n)
{
    store *st = NULL;
    list_ctx c = {0};
    export_desc *v = NULL;
    size_t k = 0;
    *out = NULL;
    *n = 0;
    int rc = store_open(dest, so, &st);
    if (rc) return err_wrap(rc, "%s: ", dest);
    rc = store_list_dirs(st, "AWSDynamoDB/", list_cb, &c);
    if (rc == TM_ENOTFOUND) rc = 0;   /* nothing exported there yet */
    if (!rc && c.n) {
        v = calloc(c.n, sizeof *v);
        if (!v) rc = err_set(TM_ENOMEM, "out of memory");
    }
    for (size_t i = 0; !rc && i < c.n; i++) {
        xp_loc l;
        layout_loc_at(st, so, c.names[i], &l);
        int r = describe_loc(&l, &v[k]);
        if (r == TM_ENOTFOUND) continue;   /* a folder that holds no export */
        if (r) rc = r;
        else k++;
    }
    for (size_t i = 0; i < c.n; i++) free(c.names[i]);
    free(c.names);
    store_close(st);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n = k;
    return 0;
}

/* ================================================================================================
 * Verify
 * ============================================================================================== */

typedef struct vctx {
    export_report_fn report;
    void *ctx;
    export_verify_stats *st;
    export_type type;
    int infer;              /* no summary: the type follows each file's folder */
    char id[64];            /* ExportId, "" when unknown */
    int tidemark_names;     /* a data file has the name tidemark-export gives partition 0 */
    int have_root;          /* the summary says where the export lived: */
    char root[1024];        /* its bucket-root prefix before AWSDynamoDB/ */
} vctx;

static void problem(vctx *v, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void problem(vctx *v, const char *what, const char *fmt, ...)
{
    char d[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d, sizeof d, fmt, ap);
    va_end(ap);
    v->st->problems++;
    if (v->report) v->report(v->ctx, what, d);
}

/* Member names of an object, in order, must be exactly `want` (NULL-terminated). */
static int members_are(const cJSON *o, const char *const *want)
{
    const cJSON *e = o->child;
    for (; *want; want++, e = e->next)
        if (!e || !e->string || strcmp(e->string, *want)) return 0;
    return e == NULL;
}

static void check_md5_file(vctx *v, xp_loc *l, const char *json_name, const char *md5_name,
                           const buf *json)
{
    buf m = BUF_INIT;
    int rc = loc_get(l, md5_name, 1024, &m);
    if (rc == TM_ENOTFOUND) problem(v, md5_name, "missing");
    else if (rc) problem(v, md5_name, "cannot read: %s", err_msg());
    else {
        char want[25];
        xp_md5_b64(json->data, json->len, want);
        if (m.len != 24 || memcmp(m.data, want, 24))
            problem(v, md5_name, "does not match %s: file says \"%.40s\", MD5 is %s", json_name,
                    m.data, want);
    }
    buf_free(&m);
}

static const char *const full_members[] = {
    "version", "exportArn", "startTime", "endTime", "tableArn", "tableId", "exportTime",
    "s3Bucket", "s3Prefix", "s3SseAlgorithm", "s3SseKmsKeyId", "manifestFilesS3Key",
    "billedSizeBytes", "itemCount", "outputFormat", NULL};
static const char *const incr_members[] = {
    "version", "exportArn", "startTime", "endTime", "tableArn", "tableId", "exportFromTime",
    "exportToTime", "s3Bucket", "s3Prefix", "s3SseAlgorithm", "s3SseKmsKeyId",
    "manifestFilesS3Key", "billedSizeBytes", "itemCount", "outputFormat", "outputView",
    "exportType", NULL};

/* One data line (layout_record_parse); why receives the reason when it is not valid. */
static int line_ok(vctx *v, const char *p, size_t n, char *why, size_t wn)
{
    layout_record r;
    int rc = layout_record_parse(v->type == EXPORT_INCREMENTAL, p, n, &r, why, wn);
    layout_record_clear(&r);
    return rc == 0;
}

/* The store and key of a data file named by its key from the bucket root (the layout's path
 * rule, against the summary's prefix when there is one). */
static int loc_data(vctx *v, xp_loc *l, const char *full, store **st, char *key, size_t kn)
{
    layout_file f;
    memset(&f, 0, sizeof f);
    snprintf(f.key, sizeof f.key, "%s", full);
    int rc = layout_file_resolve(&f, v->have_root ? v->root : NULL, v->id[0] ? v->id : NULL);
    return rc ? rc : layout_loc_data(l, &f, st, key, kn);
}

/* S3's ETag of a multipart upload with parts of ps bytes. */
static int multipart_etag(store *st, const char *key, uint64_t ps, char *out, size_t on)
{
    store_reader *r = NULL;
    unsigned char *blk = malloc(READ_BLOCK), d[16];
    buf mds = BUF_INIT;
    store_md5_ctx *m = NULL;
    uint64_t in_part = 0;
    int parts = 0, rc = blk ? store_reader_open(st, key, NULL, &r) : TM_ENOMEM;
    while (!rc) {
        size_t got;
        if ((rc = store_reader_read(r, blk, READ_BLOCK, &got)) || !got) break;
        for (size_t off = 0; off < got;) {
            if (!m && !(m = store_md5_new())) {
                rc = TM_ENOMEM;
                break;
            }
            size_t take = got - off;
            if (take > ps - in_part) take = (size_t)(ps - in_part);
            store_md5_update(m, blk + off, take);
            off += take;
            in_part += take;
            if (in_part == ps) {
                store_md5_final(m, d);
                m = NULL;
                buf_append(&mds, d, 16);
                parts++;
                in_part = 0;
            }
        }
    }
    if (!rc && m) {
        store_md5_final(m, d);
        m = NULL;
        buf_append(&mds, d, 16);
        parts++;
    }
    if (!rc) {
        char hex[33];
        unsigned char dd[16];
        store_md5_ctx *mm = store_md5_new();
        if (!mm) rc = TM_ENOMEM;
        else {
            store_md5_update(mm, mds.data, mds.len);
            store_md5_final(mm, dd);
            store_hex(dd, 16, hex);
            snprintf(out, on, "%s-%d", hex, parts);
        }
    }
    store_md5_free(m);
    store_reader_close(r);
    buf_free(&mds);
    free(blk);
    return rc;
}

static void check_etag(vctx *v, store *st, const char *key, const char *etag,
                       const unsigned char md5[16], uint64_t size, const char *label)
{
    char want[80];
    const char *dash = strrchr(etag, '-');
    if (!dash) {
        store_hex(md5, 16, want);
        if (strcmp(etag, want)) problem(v, label, "etag %s is not the file's MD5 %s", etag, want);
        return;
    }
    long parts = strtol(dash + 1, NULL, 10);
    if (parts <= 1) {
        xp_etag1(md5, want);
        if (strcmp(etag, want)) problem(v, label, "etag %s does not match the file (%s)", etag,
                                        want);
        return;
    }
    /* Several parts: the store may still know the object's ETag; else try the usual part sizes
     * that give that many parts. */
    store_object_info info;
    if (!store_head(st, key, &info) && !strcmp(info.etag, etag)) return;
    static const uint64_t mib[] = {8, 5, 16, 10, 15, 32, 50, 64, 100, 128, 256, 512};
    for (size_t i = 0; i < sizeof mib / sizeof mib[0]; i++) {
        uint64_t ps = mib[i] << 20;
        if ((size + ps - 1) / ps != (uint64_t)parts) continue;
        if (!multipart_etag(st, key, ps, want, sizeof want) && !strcmp(want, etag)) return;
    }
    problem(v, label, "etag %s matches neither the object's ETag nor any usual part size", etag);
}

static void verify_file(vctx *v, xp_loc *l, const cJSON *line, size_t lineno)
{
    char label[1300], key[1200], why[512];
    const char *full = js(line, "dataFileS3Key");
    const char *md5s = js(line, "md5Checksum");
    const char *etag = js(line, "etag");
    const cJSON *ic = cJSON_GetObjectItemCaseSensitive(line, "itemCount");
    snprintf(label, sizeof label, "%s", *full ? full : "manifest-files.json");
    static const char *const mline[] = {"itemCount", "md5Checksum", "etag", "dataFileS3Key", NULL};
    if (!members_are(line, mline) || !cJSON_IsNumber(ic) || ic->valuedouble < 0) {
        problem(v, "manifest-files.json", "line %zu: not {itemCount, md5Checksum, etag, "
                "dataFileS3Key} with a count", lineno);
        if (!*full) return;
    }
    uint64_t want_items = cJSON_IsNumber(ic) ? (uint64_t)ic->valuedouble : 0;
    if (v->id[0]) {
        char first[27];
        const char *b = strrchr(full, '/');
        xp_file_name(v->id, 0, 0, first);
        if (!strncmp(b ? b + 1 : full, first, 26)) v->tidemark_names = 1;
    }
    if (v->infer) v->type = strstr(full, "AWSDynamoDB/data/") ? EXPORT_INCREMENTAL : EXPORT_FULL;
    v->st->items += want_items;
    v->st->files++;
    store *st = NULL;
    if (loc_data(v, l, full, &st, key, sizeof key)) {
        problem(v, label, "%s", err_msg());
        return;
    }
    store_reader *r = NULL;
    store_object_info info;
    int rc = store_reader_open(st, key, &info, &r);
    if (rc == TM_ENOTFOUND) {
        problem(v, label, "missing data file");
        return;
    }
    if (rc) {
        problem(v, label, "cannot read: %s", err_msg());
        return;
    }
    store_md5_ctx *m = store_md5_new();
    xp_inflate *z = NULL;
    buf out = BUF_INIT_MAX(LINE_MAX_BYTES * 2);
    unsigned char *blk = malloc(READ_BLOCK);
    uint64_t size = 0, lines = 0, bad = 0;
    size_t scan = 0;
    int zerr = 0;
    if (!m || !blk || xp_inflate_new(&z)) {
        problem(v, label, "out of memory");
        goto out;
    }
    for (;;) {
        size_t got;
        if ((rc = store_reader_read(r, blk, READ_BLOCK, &got))) {
            problem(v, label, "read failed: %s", err_msg());
            goto out;
        }
        if (!got) break;
        size += got;
        store_md5_update(m, blk, got);
        if (zerr) continue;
        if ((rc = xp_inflate_feed(z, blk, got, &out))) {
            problem(v, label, "%s", err_msg());
            zerr = 1;
            continue;
        }
        /* Every complete line; the tail waits for more. */
        size_t start = 0;
        char *nl;
        while ((nl = memchr(out.data + scan, '\n', out.len - scan))) {
            size_t end = (size_t)(nl - out.data);
            lines++;
            if (!line_ok(v, out.data + start, end - start, why, sizeof why) && bad++ < 3)
                problem(v, label, "line %llu: %s", (unsigned long long)lines, why);
            start = scan = end + 1;
        }
        scan = out.len - start;
        memmove(out.data, out.data + start, out.len - start);
        out.len -= start;
        if (out.len > LINE_MAX_BYTES) {
            problem(v, label, "a line longer than %zu bytes", LINE_MAX_BYTES);
            zerr = 1;
        }
    }
    if (!zerr && xp_inflate_end(z)) problem(v, label, "%s", err_msg());
    else if (!zerr && out.len) problem(v, label, "the last line has no newline");
    unsigned char d[16];
    char b64[25];
    store_md5_final(m, d);
    m = NULL;
    text_b64(d, 16, b64);
    v->st->bytes += size;
    v->st->lines += lines;
    uint64_t before = v->st->problems;
    if (strcmp(b64, md5s)) problem(v, label, "md5Checksum %s does not match the file (%s)", md5s,
                                   b64);
    else check_etag(v, st, key, etag, d, size, label);
    if (!zerr && lines != want_items)
        problem(v, label, "itemCount %llu but %llu lines", (unsigned long long)want_items,
                (unsigned long long)lines);
    if (v->st->problems == before && !bad && !zerr) v->st->files_ok++;
out:
    store_md5_free(m);
    xp_inflate_free(z);
    store_reader_close(r);
    buf_free(&out);
    free(blk);
}

/* tidemark-schema.json (export.c, VALIDITY 4): its checksum, or version 1's shape; missing
 * only matters in an export whose data file names say tidemark wrote it. */
static void check_schema(vctx *v, xp_loc *l)
{
    buf b = BUF_INIT;
    char why[256];
    int rc = loc_get(l, XP_SCHEMA_NAME, (size_t)1 << 20, &b);
    if (rc == TM_ENOTFOUND) {
        if (v->tidemark_names) {
            v->st->schema = EXPORT_SCHEMA_BAD;
            problem(v, XP_SCHEMA_NAME, "missing: tidemark-export wrote this export (its data "
                    "file names say so) with its key schema in that file");
        }
    } else if (rc) {
        v->st->schema = EXPORT_SCHEMA_BAD;
        problem(v, XP_SCHEMA_NAME, "cannot read: %s", err_msg());
    } else {
        int r = xp_schema_check(b.data ? b.data : "", b.len, why, sizeof why);
        v->st->schema = r == 0 ? EXPORT_SCHEMA_CHECKED : r == 1 ? EXPORT_SCHEMA_UNCHECKED
                                                                : EXPORT_SCHEMA_BAD;
        if (r < 0) problem(v, XP_SCHEMA_NAME, "%s", why);
    }
    buf_free(&b);
}

int export_verify(const char *dir, const store_options *so, export_report_fn report, void *ctx,
                  export_verify_stats *stp)
{
    export_verify_stats local;
    export_verify_stats *st = stp ? stp : &local;
    memset(st, 0, sizeof *st);
    vctx v = {report, ctx, st, EXPORT_FULL, 0, "", 0, 0, ""};
    xp_loc l;
    buf sum = BUF_INIT, files = BUF_INIT;
    cJSON *so_json = NULL;
    int rc = loc_open(dir, so, &l);
    if (rc) return rc;
    snprintf(v.id, sizeof v.id, "%s", l.id);
    int have_sum = 0;
    uint64_t sum_items = 0;
    rc = loc_get(&l, "manifest-summary.json", SUMMARY_MAX, &sum);
    if (rc == TM_ENOTFOUND) {
        buf_reset(&files);
        if (loc_get(&l, "manifest-files.json", MANIFEST_MAX, &files) == TM_ENOTFOUND) {
            buf probe = BUF_INIT;
            int started = !loc_get(&l, "_started", 16, &probe);
            buf_free(&probe);
            if (!started) {
                rc = err_set(TM_ENOTFOUND, "%s: no export there (no manifest-summary.json, no "
                             "manifest-files.json, no _started)", dir);
                goto out;
            }
            buf_reset(&probe);
            if (loc_get(&l, XP_STATE_NAME, MANIFEST_MAX, &probe) == TM_ENOTFOUND)
                problem(&v, "manifest-summary.json", "missing: the export is still starting, or "
                        XP_UNRECORDED);
            else
                problem(&v, "manifest-summary.json", "missing: the export was started but is not "
                        "complete (tidemark-export describe tells why; --resume finishes it)");
            buf_free(&probe);
            rc = 0;
            goto done;
        }
        problem(&v, "manifest-summary.json", "missing: the export is not complete");
        v.infer = 1;
    } else if (rc) {
        goto out;
    } else {
        have_sum = 1;
        if (sum.len && sum.data[sum.len - 1] == '\n')
            problem(&v, "manifest-summary.json", "ends with a newline (AWS writes one line "
                    "without)");
        check_md5_file(&v, &l, "manifest-summary.json", "manifest-summary.md5", &sum);
        so_json = cJSON_ParseWithLength(sum.data, sum.len);
        layout_summary *ls = malloc(sizeof *ls);
        if (ls && !layout_summary_parse(sum.data, sum.len, ls)) {
            v.have_root = 1;
            snprintf(v.root, sizeof v.root, "%s", ls->root);
        }
        free(ls);
        if (!so_json || !cJSON_IsObject(so_json)) {
            problem(&v, "manifest-summary.json", "not a JSON object");
        } else {
            const char *ver = js(so_json, "version");
            if (!v.id[0]) after(js(so_json, "exportArn"), "/export/", v.id, sizeof v.id);
            const char *type = js(so_json, "exportType");
            if (!strcmp(type, "INCREMENTAL_EXPORT")) v.type = EXPORT_INCREMENTAL;
            else if (*type && strcmp(type, "FULL_EXPORT"))
                problem(&v, "manifest-summary.json", "unknown exportType %s", type);
            const char *const *want = v.type == EXPORT_INCREMENTAL ? incr_members : full_members;
            if ((!strcmp(ver, "2020-06-30") || !strcmp(ver, "2023-08-01")) &&
                !members_are(so_json, want))
                problem(&v, "manifest-summary.json", "members missing or out of AWS's order");
            const cJSON *ic = cJSON_GetObjectItemCaseSensitive(so_json, "itemCount");
            if (!cJSON_IsNumber(ic)) problem(&v, "manifest-summary.json", "no itemCount");
            else sum_items = (uint64_t)ic->valuedouble;
            if (strcmp(js(so_json, "outputFormat"), "DYNAMODB_JSON"))
                problem(&v, "manifest-summary.json", "outputFormat %s: only DYNAMODB_JSON is "
                        "checked line by line", js(so_json, "outputFormat"));
        }
        buf_reset(&files);
        rc = loc_get(&l, "manifest-files.json", MANIFEST_MAX, &files);
        if (rc == TM_ENOTFOUND) {
            problem(&v, "manifest-files.json", "missing");
            rc = 0;
            goto done;
        }
        if (rc) goto out;
    }
    rc = 0;
    check_md5_file(&v, &l, "manifest-files.json", "manifest-files.md5", &files);
    if (files.len && files.data[files.len - 1] != '\n')
        problem(&v, "manifest-files.json", "the last line has no newline");
    size_t start = 0, lineno = 0;
    while (start < files.len) {
        char *nl = memchr(files.data + start, '\n', files.len - start);
        size_t end = nl ? (size_t)(nl - files.data) : files.len;
        lineno++;
        cJSON *line = cJSON_ParseWithLength(files.data + start, end - start);
        if (!line || !cJSON_IsObject(line))
            problem(&v, "manifest-files.json", "line %zu is not a JSON object", lineno);
        else verify_file(&v, &l, line, lineno);
        cJSON_Delete(line);
        start = end + 1;
    }
    if (have_sum && so_json && sum_items != st->items)
        problem(&v, "manifest-summary.json", "itemCount %llu but the files list %llu",
                (unsigned long long)sum_items, (unsigned long long)st->items);
done:
    check_schema(&v, &l);
    if (st->problems)
        rc = err_set(TM_ECORRUPT, "%s: %llu problem%s found", dir,
                     (unsigned long long)st->problems, st->problems == 1 ? "" : "s");
out:
    cJSON_Delete(so_json);
    buf_free(&sum);
    buf_free(&files);
    loc_close(&l);
    return rc;
}
