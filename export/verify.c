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

#define LINE_MAX_BYTES ((size_t)16 << 20)
#define READ_BLOCK   ((size_t)1 << 20)
#define XP_STARTING_SECS 60   /* _started without a state file this long: the export died */

/* ================================================================================================
 * Describe
 * ============================================================================================== */

static const char *js(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static void after(const char *s, const char *marker, char *out, size_t n)
{
    const char *p = strstr(s, marker);
    snprintf(out, n, "%s", p ? p + strlen(marker) : "");
    char *sl = strchr(out, '/');
    if (sl) *sl = '\0';
}

static int desc_from_summary(const layout_summary *s, export_desc *d)
{
    snprintf(d->status, sizeof d->status, "COMPLETED");
    snprintf(d->export_arn, sizeof d->export_arn, "%s", s->export_arn);
    snprintf(d->table_arn, sizeof d->table_arn, "%s", s->table_arn);
    snprintf(d->table_id, sizeof d->table_id, "%s", s->table_id);
    after(d->table_arn, ":table/", d->table_name, sizeof d->table_name);
    if (s->export_id[0]) snprintf(d->id, sizeof d->id, "%s", s->export_id);
    d->start_us = xp_parse_time(s->start_time);
    d->end_us = xp_parse_time(s->end_time);
    d->export_time_us = xp_parse_time(s->export_time);
    d->from_us = xp_parse_time(s->from_time);
    d->to_us = xp_parse_time(s->to_time);
    d->type = EXPORT_FULL;
    if (s->export_type[0] && xp_type_parse(s->export_type, &d->type))
        return err_set(TM_ECORRUPT, LAYOUT_SUMMARY ": unknown exportType %s", s->export_type);
    d->view = EXPORT_VIEW_NEW_AND_OLD;
    if (s->output_view[0]) xp_view_parse(s->output_view, &d->view);
    d->item_count = s->item_count;
    d->billed_bytes = s->billed_bytes;
    snprintf(d->bucket, sizeof d->bucket, "%s", s->bucket);
    snprintf(d->prefix, sizeof d->prefix, "%s", s->prefix);
    snprintf(d->sse, sizeof d->sse, "%s", s->sse);
    snprintf(d->format, sizeof d->format, "%s", s->output_format);
    /* ExportManifest names the summary, beside the files manifest. */
    if (s->files_key[0])
        snprintf(d->manifest_key, sizeof d->manifest_key, "%s" LAYOUT_SUMMARY, s->folder);
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
    xp_desc_from_meta(&m, d);
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

static int describe_loc(layout_loc *l, export_desc *d)
{
    buf b = BUF_INIT;
    int rc = layout_loc_get(l, LAYOUT_SUMMARY, LAYOUT_SUMMARY_MAX, &b);
    memset(d, 0, sizeof *d);
    snprintf(d->id, sizeof d->id, "%s", l->id);
    snprintf(d->dir, sizeof d->dir, "%s", l->dir);
    if (!rc) {
        layout_summary s;
        if (layout_summary_parse(b.data, b.len, &s) && !s.object)
            rc = err_set(TM_ECORRUPT, "%s: manifest-summary.json is not a JSON object", l->dir);
        else rc = desc_from_summary(&s, d);
        buf_reset(&b);
        if (!rc && !layout_loc_get(l, LAYOUT_FILES, LAYOUT_FILES_MAX, &b))
            for (size_t i = 0; i < b.len; i++) d->files += b.data[i] == '\n';
        goto out;
    }
    if (rc != TM_ENOTFOUND) goto out;
    buf_reset(&b);
    rc = layout_loc_get(l, XP_STATE_NAME, LAYOUT_FILES_MAX, &b);
    if (!rc) {
        rc = desc_from_state(b.data, b.len, d);
        goto out;
    }
    if (rc != TM_ENOTFOUND) goto out;
    buf_reset(&b);
    store_object_info oi;
    char key[256];
    snprintf(key, sizeof key, "%s" LAYOUT_STARTED, l->base);
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
    layout_loc l;
    int rc = layout_loc_open(dir, so, &l);
    if (!rc) rc = describe_loc(&l, out);
    layout_loc_close(&l);
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
        layout_loc l;
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
    int ignore_summary;     /* export_verify_options.ignore_summary_checksum */
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

static void check_md5_file(vctx *v, layout_loc *l, const char *json_name, const char *md5_name,
                           const buf *json)
{
    buf m = BUF_INIT;
    int rc = layout_loc_get(l, md5_name, 1024, &m);
    if (rc == TM_ENOTFOUND) problem(v, md5_name, "missing");
    else if (rc) problem(v, md5_name, "cannot read: %s", err_msg());
    else {
        char want[25];
        xp_md5_b64(json->data, json->len, want);
        int summary = !strcmp(json_name, LAYOUT_SUMMARY);
        if (m.len == 24 && !memcmp(m.data, want, 24)) {
            /* fine */
        } else if (summary && v->ignore_summary) {
            v->st->summary_checksum_ignored = 1;
        } else {
            problem(v, md5_name, "does not match %s: file says \"%.40s\", MD5 is %s%s%s",
                    json_name, m.data, want, summary ? " (" : "",
                    summary ? LAYOUT_IGNORE_SUMMARY_HINT ")" : "");
        }
    }
    buf_free(&m);
}

/* One data line (layout_record_parse); why receives the reason when it is not valid. */
static int line_ok(vctx *v, const char *p, size_t n, char *why, size_t wn)
{
    layout_record r;
    int rc = layout_record_parse(v->type == EXPORT_INCREMENTAL, p, n, &r, why, wn);
    layout_record_clear(&r);
    return rc == 0;
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

/* The raw reader under verify's decoder: a failed read is the store's, not the data's. */
typedef struct vread {
    store_reader *r;
    int failed;
} vread;

static int vread_fn(void *ctx, void *p, size_t n, size_t *got)
{
    vread *x = ctx;
    int rc = store_reader_read(x->r, p, n, got);
    if (rc) x->failed = 1;
    return rc;
}

/* Decodes one data file (the layout's decoder) and checks each line. *lines counts them; *bad
 * the invalid ones; *broken is set when the data could not be decoded to its end (the rest is
 * drained so that the MD5 covers every byte). Returns 0, or the store's read error (reported). */
static int check_lines(vctx *v, const char *label, layout_dec *d, vread *in, uint64_t *lines,
                       uint64_t *bad, int *broken)
{
    buf out = BUF_INIT_MAX(LINE_MAX_BYTES * 2);
    char why[512];
    size_t scan = 0;
    int rc = 0;
    for (;;) {
        size_t got = 0;
        if ((rc = buf_reserve(&out, READ_BLOCK)) ||
            (rc = layout_dec_read(d, out.data + out.len, READ_BLOCK, &got)))
            break;
        if (!got) {
            if (out.len) problem(v, label, "the last line has no newline");
            break;
        }
        if (layout_dec_kind(d) == LAYOUT_CODEC_NONE) {
            rc = err_set(TM_ECORRUPT, "neither gzip nor zstd data");
            break;
        }
        out.len += got;
        /* Every complete line; the tail waits for more. */
        size_t start = 0;
        char *nl;
        while ((nl = memchr(out.data + scan, '\n', out.len - scan))) {
            size_t end = (size_t)(nl - out.data);
            ++*lines;
            if (!line_ok(v, out.data + start, end - start, why, sizeof why) && (*bad)++ < 3)
                problem(v, label, "line %llu: %s", (unsigned long long)*lines, why);
            start = scan = end + 1;
        }
        scan = out.len - start;
        memmove(out.data, out.data + start, out.len - start);
        out.len -= start;
        if (out.len > LINE_MAX_BYTES) {
            rc = err_set(TM_ECORRUPT, "a line longer than %zu bytes", LINE_MAX_BYTES);
            break;
        }
    }
    buf_free(&out);
    if (rc && !in->failed) {
        problem(v, label, "%s", err_msg());
        *broken = 1;
        rc = layout_dec_drain(d);
    }
    if (rc) problem(v, label, "read failed: %s", err_msg());
    return rc;
}

static void verify_file(vctx *v, layout_loc *l, layout_file *f, size_t lineno)
{
    char key[1200];
    const char *label = f->key;
    if (!f->aws_order || !f->have_count)
        problem(v, LAYOUT_FILES, "line %zu: not {itemCount, md5Checksum, etag, dataFileS3Key} "
                "with a count", lineno);
    if (v->id[0]) {
        char first[27];
        const char *b = strrchr(f->key, '/');
        xp_file_name(v->id, 0, 0, first);
        if (!strncmp(b ? b + 1 : f->key, first, 26)) v->tidemark_names = 1;
    }
    if (v->infer) v->type = strstr(f->key, "AWSDynamoDB/data/") ? EXPORT_INCREMENTAL : EXPORT_FULL;
    v->st->items += f->item_count;
    v->st->files++;
    /* The layout's path rule, against the summary's prefix when there is one. */
    store *st = NULL;
    if (layout_file_resolve(f, v->have_root ? v->root : NULL, v->id[0] ? v->id : NULL) ||
        layout_loc_data(l, f, &st, key, sizeof key)) {
        problem(v, label, "%s", err_msg());
        return;
    }
    vread in = {NULL, 0};
    store_object_info info;
    int rc = store_reader_open(st, key, &info, &in.r);
    if (rc == TM_ENOTFOUND) {
        problem(v, label, "missing data file");
        return;
    }
    if (rc) {
        problem(v, label, "cannot read: %s", err_msg());
        return;
    }
    /* No name: the format comes from the bytes alone, so that plain text is reported as such. */
    layout_dec *d = NULL;
    uint64_t lines = 0, bad = 0;
    int broken = 0;
    if (layout_dec_open(LAYOUT_CODEC_AUTO, NULL, vread_fn, &in, NULL, &d)) {
        problem(v, label, "%s", err_msg());
        goto out;
    }
    if (check_lines(v, label, d, &in, &lines, &bad, &broken)) goto out;
    unsigned char md5[16];
    char b64[25];
    uint64_t size = layout_dec_in_bytes(d);
    layout_dec_md5(d, md5);
    text_b64(md5, 16, b64);
    v->st->bytes += size;
    v->st->lines += lines;
    uint64_t before = v->st->problems;
    if (strcmp(b64, f->md5_b64))
        problem(v, label, "md5Checksum %s does not match the file (%s)", f->md5_b64, b64);
    else check_etag(v, st, key, f->etag, md5, size, label);
    if (!broken && lines != f->item_count)
        problem(v, label, "itemCount %llu but %llu lines", (unsigned long long)f->item_count,
                (unsigned long long)lines);
    if (v->st->problems == before && !bad && !broken) v->st->files_ok++;
out:
    layout_dec_close(d);
    store_reader_close(in.r);
}

/* tidemark-schema.json (export.c, VALIDITY 4): its checksum, or version 1's shape; missing
 * only matters in an export whose data file names say tidemark wrote it. */
static void check_schema(vctx *v, layout_loc *l)
{
    buf b = BUF_INIT;
    char why[256];
    int rc = layout_loc_get(l, LAYOUT_SCHEMA, (size_t)1 << 20, &b);
    if (rc == TM_ENOTFOUND) {
        if (v->tidemark_names) {
            v->st->schema = EXPORT_SCHEMA_BAD;
            problem(v, LAYOUT_SCHEMA, "missing: tidemark-export wrote this export (its data "
                    "file names say so) with its key schema in that file");
        }
    } else if (rc) {
        v->st->schema = EXPORT_SCHEMA_BAD;
        problem(v, LAYOUT_SCHEMA, "cannot read: %s", err_msg());
    } else {
        int r = layout_schema_check(b.data ? b.data : "", b.len, why, sizeof why);
        v->st->schema = r == 0 ? EXPORT_SCHEMA_CHECKED : r == 1 ? EXPORT_SCHEMA_UNCHECKED
                                                                : EXPORT_SCHEMA_BAD;
        if (r < 0) problem(v, LAYOUT_SCHEMA, "%s", why);
    }
    buf_free(&b);
}

/* The summary's members (the layout's one parser): where the export lived, its type, AWS's
 * member order, the count and the format. */
static void check_summary(vctx *v, const buf *sum, layout_summary *ls)
{
    if (layout_summary_parse(sum->data, sum->len, ls)) {
        if (!ls->object) {
            problem(v, LAYOUT_SUMMARY, "not a JSON object");
            return;
        }
        const char *why = err_msg();
        if (!strncmp(why, LAYOUT_SUMMARY ": ", strlen(LAYOUT_SUMMARY ": ")))
            why += strlen(LAYOUT_SUMMARY ": ");
        problem(v, LAYOUT_SUMMARY, "%s", why);
    } else {
        v->have_root = 1;
        snprintf(v->root, sizeof v->root, "%s", ls->root);
    }
    if (!v->id[0]) snprintf(v->id, sizeof v->id, "%s", ls->export_id);
    if (ls->incremental) v->type = EXPORT_INCREMENTAL;
    else if (ls->export_type[0] && strcmp(ls->export_type, "FULL_EXPORT"))
        problem(v, LAYOUT_SUMMARY, "unknown exportType %s", ls->export_type);
    if ((!strcmp(ls->version, "2020-06-30") || !strcmp(ls->version, "2023-08-01")) &&
        !ls->aws_order)
        problem(v, LAYOUT_SUMMARY, "members missing or out of AWS's order");
    if (!ls->have_item_count) problem(v, LAYOUT_SUMMARY, "no itemCount");
    if (strcmp(ls->output_format, "DYNAMODB_JSON"))
        problem(v, LAYOUT_SUMMARY, "outputFormat %s: only DYNAMODB_JSON is checked line by line",
                ls->output_format);
}

int export_verify(const char *dir, const store_options *so, export_report_fn report, void *ctx,
                  export_verify_stats *stp)
{
    return export_verify_with(dir, so, NULL, report, ctx, stp);
}

int export_verify_with(const char *dir, const store_options *so, const export_verify_options *o,
                       export_report_fn report, void *ctx, export_verify_stats *stp)
{
    export_verify_stats local;
    export_verify_stats *st = stp ? stp : &local;
    memset(st, 0, sizeof *st);
    vctx v = {report, ctx, st, EXPORT_FULL, 0, "", 0, 0, "", o && o->ignore_summary_checksum};
    layout_loc l;
    buf sum = BUF_INIT, files = BUF_INIT;
    layout_summary ls;
    memset(&ls, 0, sizeof ls);
    int rc = layout_loc_open(dir, so, &l);
    if (rc) return rc;
    snprintf(v.id, sizeof v.id, "%s", l.id);
    int have_sum = 0;
    rc = layout_loc_get(&l, LAYOUT_SUMMARY, LAYOUT_SUMMARY_MAX, &sum);
    if (rc == TM_ENOTFOUND) {
        buf_reset(&files);
        if (layout_loc_get(&l, LAYOUT_FILES, LAYOUT_FILES_MAX, &files) == TM_ENOTFOUND) {
            buf probe = BUF_INIT;
            int started = !layout_loc_get(&l, LAYOUT_STARTED, 16, &probe);
            buf_free(&probe);
            if (!started) {
                rc = err_set(TM_ENOTFOUND, "%s: no export there (no manifest-summary.json, no "
                             "manifest-files.json, no _started)", dir);
                goto out;
            }
            buf_reset(&probe);
            if (layout_loc_get(&l, XP_STATE_NAME, LAYOUT_FILES_MAX, &probe) == TM_ENOTFOUND)
                problem(&v, LAYOUT_SUMMARY, "missing: the export is still starting, or "
                        XP_UNRECORDED);
            else
                problem(&v, LAYOUT_SUMMARY, "missing: the export was started but is not "
                        "complete (tidemark-export describe tells why; --resume finishes it)");
            buf_free(&probe);
            rc = 0;
            goto done;
        }
        problem(&v, LAYOUT_SUMMARY, "missing: the export is not complete");
        v.infer = 1;
    } else if (rc) {
        goto out;
    } else {
        have_sum = 1;
        if (sum.len && sum.data[sum.len - 1] == '\n')
            problem(&v, LAYOUT_SUMMARY, "ends with a newline (AWS writes one line "
                    "without)");
        check_md5_file(&v, &l, LAYOUT_SUMMARY, LAYOUT_SUMMARY_MD5, &sum);
        check_summary(&v, &sum, &ls);
        buf_reset(&files);
        rc = layout_loc_get(&l, LAYOUT_FILES, LAYOUT_FILES_MAX, &files);
        if (rc == TM_ENOTFOUND) {
            problem(&v, LAYOUT_FILES, "missing");
            rc = 0;
            goto done;
        }
        if (rc) goto out;
    }
    rc = 0;
    check_md5_file(&v, &l, LAYOUT_FILES, LAYOUT_FILES_MD5, &files);
    if (files.len && files.data[files.len - 1] != '\n')
        problem(&v, LAYOUT_FILES, "the last line has no newline");
    size_t start = 0, lineno = 0;
    while (start < files.len) {
        char *nl = memchr(files.data + start, '\n', files.len - start);
        size_t end = nl ? (size_t)(nl - files.data) : files.len;
        lineno++;
        layout_file f;
        if (layout_file_parse(files.data + start, end - start, &f))
            problem(&v, LAYOUT_FILES, "line %zu: %s", lineno, err_msg());
        else verify_file(&v, &l, &f, lineno);
        start = end + 1;
    }
    if (have_sum && ls.have_item_count && ls.item_count != st->items)
        problem(&v, LAYOUT_SUMMARY, "itemCount %llu but the files list %llu",
                (unsigned long long)ls.item_count, (unsigned long long)st->items);
done:
    check_schema(&v, &l);
    if (st->problems)
        rc = err_set(TM_ECORRUPT, "%s: %llu problem%s found", dir,
                     (unsigned long long)st->problems, st->problems == 1 ? "" : "s");
out:
    buf_free(&sum);
    buf_free(&files);
    layout_loc_close(&l);
    return rc;
}
