/* layout.c: the AWS export layout's one reader (and the writer's key scheme): names and keys,
 * the .md5 files, manifest-summary.json, manifest-files.json and the path rule for data files,
 * where an export is found, record lines, and the record reader rollback uses. The format is
 * FORMATS.md sections 2 and 3; what tidemark adds (tidemark-schema.json, the state file) is
 * specified in export.c.
 *
 * What is trusted: nothing until checked. A dataFileS3Key is a key from the bucket root; it must
 * lie in the export's own folder "<root>AWSDynamoDB/<ExportId>/" (the folder of
 * manifestFilesS3Key) or, for incremental exports, in the shared "<root>AWSDynamoDB/data/",
 * with no "." / ".." / empty segment; a reader never reads a file a manifest points at
 * elsewhere. Keys are then taken relative to where the manifests were found, which is how an
 * export moved to another prefix or copied to a local directory is still read. */
#include "export/layout.h"
#include "engine/err.h"
#include "engine/text.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================================================
 * Names and keys
 * ============================================================================================== */

void layout_export_key(const char *id, const char *name, char *out, size_t n)
{
    snprintf(out, n, LAYOUT_ROOT "%s/%s", id, name);
}

void layout_data_prefix(const char *id, int incremental, char *out, size_t n)
{
    if (incremental) snprintf(out, n, LAYOUT_ROOT "data/");
    else snprintf(out, n, LAYOUT_ROOT "%s/data/", id);
}

void layout_md5_name(const char *name, char *out, size_t n)
{
    size_t l = strlen(name);
    if (l > 5 && !strcmp(name + l - 5, ".json")) snprintf(out, n, "%.*s.md5", (int)(l - 5), name);
    else snprintf(out, n, "%s.md5", name);
}

int layout_split_dir(const char *dir, char *dest, size_t dn, char *id, size_t in)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", dir);
    size_t l = strlen(tmp);
    while (l > 1 && tmp[l - 1] == '/') tmp[--l] = '\0';
    char *slash = strrchr(tmp, '/');
    if (!slash || strlen(slash + 1) >= in || !slash[1]) return -1;
    snprintf(id, in, "%s", slash + 1);
    *slash = '\0';
    const char *aws = "AWSDynamoDB";
    size_t al = strlen(aws);
    l = strlen(tmp);
    if (l < al || strcmp(tmp + l - al, aws) || (l > al && tmp[l - al - 1] != '/')) return -1;
    tmp[l - al] = '\0';
    l = strlen(tmp);
    if (l > 1 && tmp[l - 1] == '/') tmp[--l] = '\0';
    if (!l) snprintf(tmp, sizeof tmp, ".");
    snprintf(dest, dn, "%s", tmp);
    return 0;
}

int layout_path_safe(const char *path)
{
    if (!*path || path[0] == '/' || path[0] == '\\') return 0;
    if (strchr(path, '\\')) return 0;   /* "..\\x" means ".." to some unpackers */
    const char *s = path;
    for (;;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return 0;
        if (!e) return 1;
        s = e + 1;
    }
}

/* ================================================================================================
 * Checksums
 * ============================================================================================== */

int layout_check_md5(const char *name, const char *text, size_t n, const char *md5, size_t md5n)
{
    unsigned char want[16], got[16];
    char md5name[256];
    layout_md5_name(name, md5name, sizeof md5name);
    while (md5n > 0 && (md5[md5n - 1] == '\n' || md5[md5n - 1] == '\r' || md5[md5n - 1] == ' '))
        md5n--;
    if (text_b64_decode16(md5, md5n, want))
        return err_set(TM_ECORRUPT, "%s is not a base64 MD5", md5name);
    store_md5(text, n, got);
    if (memcmp(want, got, 16) != 0)
        return err_set(TM_ECORRUPT, "%s does not match its MD5 in %s (altered or truncated)", name,
                       md5name);
    return 0;
}

int layout_schema_check(const char *t, size_t n, char *why, size_t wn)
{
    const size_t hl = strlen(LAYOUT_SCHEMA_SUM_HEAD), tl = strlen(LAYOUT_SCHEMA_SUM_TAIL);
    if (n > LAYOUT_SCHEMA_SUM_LEN && t[0] == '{' && !memcmp(t + n - LAYOUT_SCHEMA_SUM_LEN,
                                                        LAYOUT_SCHEMA_SUM_HEAD, hl) &&
        !memcmp(t + n - tl, LAYOUT_SCHEMA_SUM_TAIL, tl)) {
        unsigned char d[16];
        char md5[25];
        store_md5(t, n - LAYOUT_SCHEMA_SUM_LEN, d);
        text_b64(d, 16, md5);
        if (!memcmp(md5, t + n - tl - 24, 24)) return 0;
        snprintf(why, wn, "damaged: its Checksum %.24s does not match its bytes (MD5 %s)",
                 t + n - tl - 24, md5);
        return -1;
    }
    /* No checksum where version 2 puts it: version 1 only if nothing says version 2 (one
     * damaged byte cannot take away both its SchemaVersion and its Checksum). */
    if (memmem(t, n, "\"SchemaVersion\"", 15) || memmem(t, n, "\"Checksum\"", 10)) {
        snprintf(why, wn, "damaged or truncated: no valid Checksum at its end (%zu bytes)", n);
        return -1;
    }
    cJSON *j = cJSON_ParseWithLength(t, n);
    int ok = cJSON_IsObject(j) && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "KeySchema"));
    cJSON_Delete(j);
    if (!ok) {
        snprintf(why, wn, "damaged or truncated: not a JSON object with a KeySchema (%zu bytes)",
                 n);
        return -1;
    }
    return 1;
}

int layout_check_summary_md5(const char *text, size_t n, const char *md5, size_t md5n)
{
    int rc = layout_check_md5(LAYOUT_SUMMARY, text, n, md5, md5n);
    if (!rc) return 0;
    char why[512];
    snprintf(why, sizeof why, "%s", err_msg());   /* err_set reuses err_msg's buffer */
    return err_set(rc, "%s (%s)", why, LAYOUT_IGNORE_SUMMARY_HINT);
}

/* ================================================================================================
 * Manifests
 * ============================================================================================== */

static void copy_str(const cJSON *o, const char *name, char *out, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    snprintf(out, n, "%s", cJSON_IsString(v) && v->valuestring ? v->valuestring : "");
}

/* A JSON number that is a non-negative integer. */
static int get_count(const cJSON *o, const char *name, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740992.0 ||
        v->valuedouble != (double)(uint64_t)v->valuedouble)
        return -1;
    *out = (uint64_t)v->valuedouble;
    return 0;
}

/* Member names of an object, in order, must be exactly `want` (NULL-terminated). */
static int members_are(const cJSON *o, const char *const *want)
{
    const cJSON *e = o->child;
    for (; *want; want++, e = e->next)
        if (!e || !e->string || strcmp(e->string, *want)) return 0;
    return e == NULL;
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

/* folder and root from manifestFilesS3Key, else from s3Prefix and the ExportId. */
static int summary_folder(const cJSON *j, layout_summary *s)
{
    if (s->files_key[0]) {
        const char *slash = strrchr(s->files_key, '/');
        if (!slash || strcmp(slash + 1, LAYOUT_FILES) != 0)
            return err_set(TM_ECORRUPT, LAYOUT_SUMMARY ": manifestFilesS3Key does not name a "
                           LAYOUT_FILES);
        snprintf(s->folder, sizeof s->folder, "%.*s", (int)(slash + 1 - s->files_key),
                 s->files_key);
    } else if (s->export_id[0]) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "s3Prefix");
        int pre = cJSON_IsString(p) && p->valuestring[0];
        snprintf(s->folder, sizeof s->folder, "%s%s" LAYOUT_ROOT "%s/",
                 pre ? p->valuestring : "", pre ? "/" : "", s->export_id);
    } else {
        return err_set(TM_ECORRUPT, LAYOUT_SUMMARY ": neither manifestFilesS3Key nor exportArn "
                       "tells where the export lives");
    }
    /* root: what stands before "AWSDynamoDB/<id>/" (the folder's last two segments) */
    size_t l = strlen(s->folder);
    size_t cut = l - 1;
    while (cut > 0 && s->folder[cut - 1] != '/') cut--;          /* start of "<id>/" */
    size_t root_end = cut >= strlen(LAYOUT_ROOT) ? cut - strlen(LAYOUT_ROOT) : 0;
    if (cut < strlen(LAYOUT_ROOT) || strncmp(s->folder + root_end, LAYOUT_ROOT,
                                             strlen(LAYOUT_ROOT)) ||
        (root_end > 0 && s->folder[root_end - 1] != '/'))
        return err_set(TM_ECORRUPT, LAYOUT_SUMMARY ": the export's folder %s is not "
                       "<prefix>/AWSDynamoDB/<ExportId>/", s->folder);
    snprintf(s->root, sizeof s->root, "%.*s", (int)root_end, s->folder);
    if (!s->export_id[0])
        snprintf(s->export_id, sizeof s->export_id, "%.*s", (int)(l - 1 - cut), s->folder + cut);
    return 0;
}

int layout_summary_parse(const char *text, size_t n, layout_summary *s)
{
    memset(s, 0, sizeof *s);
    cJSON *j = cJSON_ParseWithLength(text, n);
    int rc = 0;
    if (!cJSON_IsObject(j)) {
        rc = err_set(TM_ECORRUPT, LAYOUT_SUMMARY ": not a JSON object");
        goto out;
    }
    s->object = 1;
    copy_str(j, "version", s->version, sizeof s->version);
    copy_str(j, "exportArn", s->export_arn, sizeof s->export_arn);
    copy_str(j, "tableArn", s->table_arn, sizeof s->table_arn);
    copy_str(j, "tableId", s->table_id, sizeof s->table_id);
    copy_str(j, "startTime", s->start_time, sizeof s->start_time);
    copy_str(j, "endTime", s->end_time, sizeof s->end_time);
    copy_str(j, "exportTime", s->export_time, sizeof s->export_time);
    copy_str(j, "exportFromTime", s->from_time, sizeof s->from_time);
    copy_str(j, "exportToTime", s->to_time, sizeof s->to_time);
    copy_str(j, "s3Bucket", s->bucket, sizeof s->bucket);
    copy_str(j, "s3Prefix", s->prefix, sizeof s->prefix);
    s->prefix_null = !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "s3Prefix"));
    copy_str(j, "s3SseAlgorithm", s->sse, sizeof s->sse);
    copy_str(j, "manifestFilesS3Key", s->files_key, sizeof s->files_key);
    copy_str(j, "outputFormat", s->output_format, sizeof s->output_format);
    copy_str(j, "outputView", s->output_view, sizeof s->output_view);
    copy_str(j, "exportType", s->export_type, sizeof s->export_type);
    s->incremental = !strcmp(s->export_type, "INCREMENTAL_EXPORT");
    s->have_item_count = !get_count(j, "itemCount", &s->item_count);
    get_count(j, "billedSizeBytes", &s->billed_bytes);
    const char *id = strstr(s->export_arn, "/export/");
    if (id) {
        snprintf(s->export_id, sizeof s->export_id, "%s", id + 8);
        char *sl = strchr(s->export_id, '/');
        if (sl) *sl = '\0';
    }
    s->aws_order = members_are(j, s->incremental ? incr_members : full_members);
    rc = summary_folder(j, s);
out:
    cJSON_Delete(j);
    return rc;
}

int layout_file_parse(const char *line, size_t n, layout_file *f)
{
    static const char *const order[] = {"itemCount", "md5Checksum", "etag", "dataFileS3Key", NULL};
    memset(f, 0, sizeof *f);
    cJSON *j = cJSON_ParseWithLength(line, n);
    int rc = 0;
    copy_str(j, "dataFileS3Key", f->key, sizeof f->key);
    if (!cJSON_IsObject(j) || !f->key[0]) {
        rc = err_set(TM_ECORRUPT, "not an object with a dataFileS3Key");
        goto out;
    }
    f->have_count = !get_count(j, "itemCount", &f->item_count);
    copy_str(j, "md5Checksum", f->md5_b64, sizeof f->md5_b64);
    f->have_md5 = !text_b64_decode16(f->md5_b64, strlen(f->md5_b64), f->md5);
    copy_str(j, "etag", f->etag, sizeof f->etag);
    f->aws_order = members_are(j, order);
out:
    cJSON_Delete(j);
    return rc;
}

/* The last "AWSDynamoDB/" that starts a segment of key, or NULL. */
static const char *last_root(const char *key)
{
    const char *p = NULL, *s = key;
    while ((s = strstr(s, LAYOUT_ROOT))) {
        if (s == key || s[-1] == '/') p = s;
        s++;
    }
    return p;
}

int layout_file_resolve(layout_file *f, const char *root, const char *id)
{
    const char *rest;
    f->where = 0;
    if (root) {
        size_t rl = strlen(root);
        if (strncmp(f->key, root, rl) || strncmp(f->key + rl, LAYOUT_ROOT, strlen(LAYOUT_ROOT)))
            goto outside;
        rest = f->key + rl + strlen(LAYOUT_ROOT);
    } else {
        const char *p = last_root(f->key);
        if (!p) return err_set(TM_ECORRUPT, "dataFileS3Key %s has no AWSDynamoDB/ folder", f->key);
        rest = p + strlen(LAYOUT_ROOT);
    }
    size_t il = id ? strlen(id) : 0;
    if (!strncmp(rest, "data/", 5)) {
        f->where = LAYOUT_IN_SHARED;
        rest += 5;
    } else if (il ? !strncmp(rest, id, il) && rest[il] == '/' : strchr(rest, '/') != NULL) {
        f->where = LAYOUT_IN_EXPORT;
        rest = il ? rest + il + 1 : strchr(rest, '/') + 1;
    } else {
        goto outside;
    }
    if (!layout_path_safe(rest)) goto outside;
    snprintf(f->rel, sizeof f->rel, "%s", rest);
    return 0;
outside:
    f->where = 0;
    return err_set(TM_ECORRUPT, "dataFileS3Key \"%s\" points outside the export (%s" LAYOUT_ROOT
                   "%s/): refused", f->key, root ? root : "", id && *id ? id : "<ExportId>");
}

/* ================================================================================================
 * Where an export is
 * ============================================================================================== */

int layout_loc_open(const char *dir, const store_options *so, layout_loc *l)
{
    char dest[PATH_MAX];
    memset(l, 0, sizeof *l);
    l->so = so;
    snprintf(l->dir, sizeof l->dir, "%s", dir);
    int rc;
    if (!layout_split_dir(dir, dest, sizeof dest, l->id, sizeof l->id)) {
        snprintf(l->base, sizeof l->base, LAYOUT_ROOT "%s/", l->id);
        rc = store_open(dest, so, &l->st);
    } else {
        l->id[0] = '\0';   /* the folder's name is not known to be the ExportId */
        rc = store_open(dir, so, &l->st);
    }
    return rc ? err_wrap(rc, "%s: ", dir) : 0;
}

void layout_loc_at(store *st, const store_options *so, const char *id, layout_loc *l)
{
    memset(l, 0, sizeof *l);
    l->st = st;
    l->so = so;
    l->borrowed = 1;
    snprintf(l->id, sizeof l->id, "%s", id);
    snprintf(l->base, sizeof l->base, LAYOUT_ROOT "%s/", id);
    snprintf(l->dir, sizeof l->dir, "%s/" LAYOUT_ROOT "%s", store_root(st), id);
}

void layout_loc_close(layout_loc *l)
{
    if (!l->borrowed) store_close(l->st);
    store_close(l->parent);
    l->st = l->parent = NULL;
}

int layout_loc_get(layout_loc *l, const char *name, size_t max, buf *out)
{
    char key[256];
    snprintf(key, sizeof key, "%s%s", l->base, name);
    return store_get_all(l->st, key, max, out);
}

/* The directory above l->dir, for the shared data/ of an export opened at its folder. */
static int open_parent(layout_loc *l)
{
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", l->dir);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/') parent[--n] = '\0';
    char *sl = strrchr(parent, '/');
    if (sl && sl != parent) *sl = '\0';
    else snprintf(parent, sizeof parent, "%s", sl ? "/" : "..");
    return store_open(parent, l->so, &l->parent);
}

int layout_loc_data(layout_loc *l, const layout_file *f, store **st, char *key, size_t kn)
{
    if (f->where == LAYOUT_IN_EXPORT) {
        *st = l->st;
        snprintf(key, kn, "%s%s", l->base, f->rel);
        return 0;
    }
    if (f->where != LAYOUT_IN_SHARED) return err_set(TM_EINVAL, "%s: not resolved", f->key);
    if (l->base[0]) {
        *st = l->st;
        snprintf(key, kn, LAYOUT_ROOT "data/%s", f->rel);
        return 0;
    }
    /* opened at the folder itself: data/ is beside it */
    if (!l->parent) {
        int rc = open_parent(l);
        if (rc) return rc;
    }
    *st = l->parent;
    snprintf(key, kn, "data/%s", f->rel);
    return 0;
}

/* ================================================================================================
 * Record lines
 * ============================================================================================== */

/* Incremental record lines are read without a JSON tree (the rollback's hot path: a tree per
 * line, printed again per image, was most of a no-op rollback's time): the members are found
 * by their spans and each image goes straight to item_parse_json. Whitespace between members
 * is allowed, as a JSON parser would; member names are compared as written. */

static const char *ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
    return p;
}

/* The end of the JSON object starting at p ('{'), or NULL: strings and nesting are followed,
 * everything else is left to the parser of the span. */
static const char *object_end(const char *p, const char *e)
{
    int depth = 0, in_str = 0;
    if (p >= e || *p != '{') return NULL;
    for (; p < e; p++) {
        char c = *p;
        if (in_str) {
            if (c == '\\') p++;
            else if (c == '"') in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && --depth == 0) {
            return p + 1;
        }
    }
    return NULL;
}

/* One member "name":{...} at p: its name (unescaped only) and its object's span. */
static const char *member(const char *p, const char *e, const char **name, size_t *nn,
                          const char **v, const char **ve)
{
    p = ws(p, e);
    if (p >= e || *p != '"') return NULL;
    const char *q = memchr(p + 1, '"', (size_t)(e - p - 1));
    if (!q || memchr(p + 1, '\\', (size_t)(q - p - 1))) return NULL;
    *name = p + 1;
    *nn = (size_t)(q - p - 1);
    p = ws(q + 1, e);
    if (p >= e || *p != ':') return NULL;
    *v = ws(p + 1, e);
    return (*ve = object_end(*v, e));
}

static int name_is(const char *n, size_t nn, const char *want)
{
    return strlen(want) == nn && !memcmp(n, want, nn);
}

/* Metadata: {"WriteTimestampMicros":{"N":"<digits>"}} (other members allowed). */
static int metadata(const char *p, size_t n, int64_t *us)
{
    cJSON *md = cJSON_ParseWithLength(p, n);
    const cJSON *tn = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(md, "WriteTimestampMicros"), "N");
    int ok = cJSON_IsString(tn) && *tn->valuestring && strlen(tn->valuestring) <= 18 &&
             strspn(tn->valuestring, "0123456789") == strlen(tn->valuestring);
    if (ok) *us = strtoll(tn->valuestring, NULL, 10);
    cJSON_Delete(md);
    return ok ? 0 : -1;
}

/* The common metadata as AWS and tidemark write it, without a parser; else metadata(). */
static int metadata_fast(const char *p, size_t n, int64_t *us)
{
    static const char head[] = "{\"WriteTimestampMicros\":{\"N\":\"";
    size_t h = sizeof head - 1, d = 0;
    if (n > h + 4 && !memcmp(p, head, h)) {
        while (h + d < n && p[h + d] >= '0' && p[h + d] <= '9') d++;
        if (d && d <= 18 && n == h + d + 3 && !memcmp(p + h + d, "\"}}", 3)) {
            *us = strtoll(p + h, NULL, 10);
            return 0;
        }
    }
    return metadata(p, n, us);
}

static int incremental_record(const char *p, size_t n, layout_record *r, char *why, size_t wn)
{
    static const char *const order_msg =
        "members are not Metadata, Keys[, OldImage][, NewImage] in that order";
    const char *e = p + n, *q = ws(p, e), *name, *v, *ve;
    size_t nn;
    int i = 0, rc = 0;
    if (q >= e || *q != '{') {
        snprintf(why, wn, "not a JSON object");
        return TM_EINVAL;
    }
    q = ws(q + 1, e);
    while (!rc && q < e && *q != '}') {
        if (i && *q != ',') break;
        if (i) q++;
        const char *end = member(q, e, &name, &nn, &v, &ve);
        item **dst = NULL;
        if (!end) {
            snprintf(why, wn, "not a JSON object of objects");
            return TM_EINVAL;
        }
        if (i == 0 && name_is(name, nn, "Metadata")) {
            if (metadata_fast(v, (size_t)(ve - v), &r->write_us)) {
                snprintf(why, wn, "Metadata.WriteTimestampMicros is not {\"N\":\"<digits>\"}");
                return TM_EINVAL;
            }
        } else if (i == 1 && name_is(name, nn, "Keys")) {
            dst = &r->keys;
        } else if (i >= 2 && !r->old_image && !r->new_image && name_is(name, nn, "OldImage")) {
            dst = &r->old_image;
        } else if (i >= 2 && !r->new_image && name_is(name, nn, "NewImage")) {
            dst = &r->new_image;
        } else {
            snprintf(why, wn, "%s", order_msg);
            return TM_EINVAL;
        }
        if (dst && (rc = item_parse_json(v, (size_t)(ve - v), ITEM_PARSE_NOLIMITS, dst)))
            snprintf(why, wn, "%.*s: %s", (int)nn, name, err_msg());
        q = ws(end, e);
        i++;
    }
    if (rc) return rc;
    if (q >= e || *q != '}' || ws(q + 1, e) != e) {
        snprintf(why, wn, "not a JSON object");
        return TM_EINVAL;
    }
    if (i < 2) {
        snprintf(why, wn, "%s", order_msg);
        return TM_EINVAL;
    }
    return 0;
}

int layout_record_parse(int incremental, const char *p, size_t n, layout_record *r, char *why,
                        size_t wn)
{
    memset(r, 0, sizeof *r);
    int rc;
    if (incremental) {
        rc = incremental_record(p, n, r, why, wn);
    } else if (n < 9 || memcmp(p, "{\"Item\":", 8)) {
        snprintf(why, wn, "does not start with {\"Item\":");
        rc = TM_EINVAL;
    } else if ((rc = item_parse_json(p, n, ITEM_PARSE_WRAPPED, &r->new_image))) {
        snprintf(why, wn, "%s", err_msg());
    }
    if (rc) {
        layout_record_clear(r);
        return err_set(rc == TM_ENOMEM ? rc : TM_EINVAL, "%s", why);
    }
    return 0;
}

void layout_record_clear(layout_record *r)
{
    item_free(r->keys);
    item_free(r->old_image);
    item_free(r->new_image);
    memset(r, 0, sizeof *r);
}
