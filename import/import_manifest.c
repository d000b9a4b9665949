/* import_manifest.c: reading an export's manifests (FORMATS.md section 2) and tidemark's
 * tidemark-schema.json, for import.
 *
 * What is trusted: nothing until checked. A dataFileS3Key is a key from the bucket root; it must
 * lie inside the export's own directory "<prefix>/AWSDynamoDB/<ExportId>/" (the directory of
 * manifestFilesS3Key) and have no "." / ".." / empty segment, or the manifest is refused: an
 * import never reads a file a manifest points at elsewhere. Counts must add up to the summary's
 * itemCount. The MD5 and the item count of each file are checked by the importer as it reads.
 * tidemark-schema.json's own Checksum (version 2) is checked before its key schema is used. */
#include "import/import_internal.h"
#include "engine/err.h"
#include "engine/key.h"
#include "engine/text.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- names -------------------------------------------------------------------------------- */

int import_is_marker(const char *key)
{
    const char *base = strrchr(key, '/');
    base = base ? base + 1 : key;
    size_t n = strlen(base);
    if (n == 0 || base[0] == '.' || base[0] == '_') return 1;      /* _started, .tmp files */
    if (strncmp(base, "manifest-", 9) == 0) return 1;
    if (n >= 4 && strcmp(base + n - 4, ".md5") == 0) return 1;
    /* tidemark-schema.json, tidemark-export-state.json (an export in progress) */
    return strncmp(base, "tidemark-", 9) == 0 && n >= 5 && strcmp(base + n - 5, ".json") == 0;
}

int import_path_safe(const char *path)
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

/* ---- manifests ---------------------------------------------------------------------------- */

void import_manifest_free(import_manifest *m)
{
    if (!m) return;
    free(m->export_prefix);
    free(m->export_id);
    free(m->table_arn);
    free(m->output_format);
    free(m->export_type);
    for (size_t i = 0; i < m->nfiles; i++) {
        free(m->files[i].key);
        free(m->files[i].rel);
    }
    free(m->files);
    memset(m, 0, sizeof *m);
}

static char *dup_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && v->valuestring ? strdup(v->valuestring) : NULL;
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

int import_manifest_parse_summary(import_manifest *m, const char *text, size_t n)
{
    int rc = 0;
    cJSON *j = cJSON_ParseWithLength(text, n);
    if (!cJSON_IsObject(j)) {
        rc = err_set(TM_ECORRUPT, "manifest-summary.json: not a JSON object");
        goto out;
    }
    m->table_arn = dup_str(j, "tableArn");
    m->output_format = dup_str(j, "outputFormat");
    m->export_type = dup_str(j, "exportType");
    if (get_count(j, "itemCount", &m->item_count)) {
        rc = err_set(TM_ECORRUPT, "manifest-summary.json: no itemCount");
        goto out;
    }
    char *arn = dup_str(j, "exportArn");
    const char *id = arn ? strstr(arn, "/export/") : NULL;
    if (id) m->export_id = strdup(id + 8);
    free(arn);
    char *mkey = dup_str(j, "manifestFilesS3Key");
    if (mkey) {
        char *slash = strrchr(mkey, '/');
        if (!slash || strcmp(slash + 1, "manifest-files.json") != 0) {
            free(mkey);
            rc = err_set(TM_ECORRUPT, "manifest-summary.json: manifestFilesS3Key does not name "
                         "a manifest-files.json");
            goto out;
        }
        slash[1] = '\0';
        m->export_prefix = mkey;
    } else if (m->export_id) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "s3Prefix");
        buf b = BUF_INIT;
        if (cJSON_IsString(p) && p->valuestring[0]) buf_printf(&b, "%s/", p->valuestring);
        buf_printf(&b, "AWSDynamoDB/%s/", m->export_id);
        m->export_prefix = buf_detach(&b);
    } else {
        rc = err_set(TM_ECORRUPT, "manifest-summary.json: neither manifestFilesS3Key nor "
                     "exportArn tells where the export lives");
        goto out;
    }
    if (!m->export_prefix) rc = err_set(TM_ENOMEM, "out of memory");
    if (!rc && m->export_type && strcmp(m->export_type, "FULL_EXPORT") != 0)
        rc = err_set(TM_EINVAL, "this is an %s: only full exports can be imported into a new "
                     "table", m->export_type);
    if (!rc && m->output_format && strcmp(m->output_format, "DYNAMODB_JSON") != 0)
        rc = err_set(TM_EINVAL, "export format %s is not supported (DYNAMODB_JSON only)",
                     m->output_format);
out:
    cJSON_Delete(j);
    return rc;
}

int import_manifest_parse_files(import_manifest *m, const char *text, size_t n)
{
    int rc = 0;
    size_t cap = 0;
    uint64_t sum = 0, lineno = 0;
    const char *p = text, *end = text + n;
    const char *pre = m->export_prefix ? m->export_prefix : "";
    size_t pre_n = strlen(pre);
    while (p < end && !rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        lineno++;
        const char *q = p;
        while (q < le && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (q == le) { p = le + 1; continue; }
        cJSON *j = cJSON_ParseWithLength(p, (size_t)(le - p));
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "dataFileS3Key");
        const cJSON *md5 = cJSON_GetObjectItemCaseSensitive(j, "md5Checksum");
        import_mfile f;
        memset(&f, 0, sizeof f);
        if (!cJSON_IsObject(j) || !cJSON_IsString(k) || !k->valuestring[0]) {
            rc = err_set(TM_ECORRUPT, "manifest-files.json line %llu: not an object with a "
                         "dataFileS3Key", (unsigned long long)lineno);
        } else if (get_count(j, "itemCount", &f.item_count)) {
            rc = err_set(TM_ECORRUPT, "manifest-files.json line %llu: no itemCount",
                         (unsigned long long)lineno);
        } else if (!cJSON_IsString(md5) ||
                   text_b64_decode16(md5->valuestring, strlen(md5->valuestring), f.md5)) {
            rc = err_set(TM_ECORRUPT, "manifest-files.json line %llu: missing or malformed "
                         "md5Checksum", (unsigned long long)lineno);
        } else if (strncmp(k->valuestring, pre, pre_n) != 0 ||
                   !import_path_safe(k->valuestring + pre_n)) {
            rc = err_set(TM_ECORRUPT, "manifest-files.json line %llu: dataFileS3Key \"%s\" "
                         "points outside the export (%s): refused", (unsigned long long)lineno,
                         k->valuestring, pre);
        } else if (import_manifest_find(m, k->valuestring + pre_n) >= 0) {
            rc = err_set(TM_ECORRUPT, "manifest-files.json line %llu: %s is listed twice",
                         (unsigned long long)lineno, k->valuestring);
        } else {
            f.have_md5 = 1;
            f.key = strdup(k->valuestring);
            f.rel = strdup(k->valuestring + pre_n);
            if (m->nfiles == cap) {
                cap = cap ? cap * 2 : 16;
                import_mfile *nf = realloc(m->files, cap * sizeof *nf);
                if (!nf) { free(f.key); free(f.rel); f.key = f.rel = NULL; }
                else m->files = nf;
            }
            if (!f.key || !f.rel) {
                free(f.key);
                free(f.rel);
                rc = err_set(TM_ENOMEM, "out of memory (manifest)");
            } else {
                m->files[m->nfiles++] = f;
                sum += f.item_count;
            }
        }
        cJSON_Delete(j);
        p = le + 1;
    }
    if (!rc && sum != m->item_count)
        rc = err_set(TM_ECORRUPT, "manifest-files.json lists %llu items in all, "
                     "manifest-summary.json says %llu", (unsigned long long)sum,
                     (unsigned long long)m->item_count);
    return rc;
}

long import_manifest_find(const import_manifest *m, const char *rel)
{
    for (size_t i = 0; i < m->nfiles; i++)
        if (strcmp(m->files[i].rel, rel) == 0) return (long)i;
    return -1;
}

int import_manifest_check_md5(const char *name, const char *text, size_t n, const char *md5,
                              size_t md5n)
{
    unsigned char want[16], got[16];
    char md5name[256];   /* manifest-summary.json -> manifest-summary.md5, as AWS names it */
    size_t l = strlen(name);
    if (l > 5 && !strcmp(name + l - 5, ".json"))
        snprintf(md5name, sizeof md5name, "%.*s.md5", (int)(l - 5), name);
    else
        snprintf(md5name, sizeof md5name, "%s.md5", name);
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

/* ---- tidemark-schema.json --------------------------------------------------------------- */

static av_type attr_type(const cJSON *defs, const char *name)
{
    const cJSON *d;
    cJSON_ArrayForEach(d, defs) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(d, "AttributeName");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "AttributeType");
        if (!cJSON_IsString(n) || !cJSON_IsString(t) || strcmp(n->valuestring, name) != 0)
            continue;
        if (strcmp(t->valuestring, "S") == 0) return AV_S;
        if (strcmp(t->valuestring, "N") == 0) return AV_N;
        if (strcmp(t->valuestring, "B") == 0) return AV_B;
        return 0;
    }
    return 0;
}

/* The checksum of a version 2 file (export/export.c: P + ',"Checksum":"' + base64(MD5(P)) +
 * '"}\n'); a file without one is version 1 only if nothing in it says version 2. */
static int schema_checksum(const char *t, size_t n)
{
    static const char head[] = ",\"Checksum\":\"", tail[] = "\"}\n";
    const size_t hl = sizeof head - 1, tl = sizeof tail - 1, sl = hl + 24 + tl;
    if (n > sl && !memcmp(t + n - sl, head, hl) && !memcmp(t + n - tl, tail, tl)) {
        unsigned char d[16];
        char b64[25];
        store_md5(t, n - sl, d);
        text_b64(d, 16, b64);
        if (!memcmp(b64, t + n - tl - 24, 24)) return 0;
        return err_set(TM_ECORRUPT, "tidemark-schema.json is damaged: its Checksum %.24s does "
                       "not match its bytes (MD5 %s)", t + n - tl - 24, b64);
    }
    if (memmem(t, n, "\"SchemaVersion\"", 15) || memmem(t, n, "\"Checksum\"", 10))
        return err_set(TM_ECORRUPT, "tidemark-schema.json is damaged or truncated: no valid "
                       "Checksum at its end (%zu bytes)", n);
    return 0;
}

int import_schema_parse(const char *text, size_t n, key_schema *ks, buf *table_name)
{
    int rc = 0;
    memset(ks, 0, sizeof *ks);
    if ((rc = schema_checksum(text, n))) return rc;
    cJSON *j = cJSON_ParseWithLength(text, n);
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(j, "KeySchema");
    const cJSON *defs = cJSON_GetObjectItemCaseSensitive(j, "AttributeDefinitions");
    const cJSON *k;
    int nh = 0, nr = 0;
    if (!cJSON_IsObject(j) || !cJSON_IsArray(keys) || !cJSON_IsArray(defs)) {
        rc = err_set(TM_ECORRUPT, "tidemark-schema.json: no KeySchema and AttributeDefinitions "
                     "(damaged or truncated?)");
        goto out;
    }
    cJSON_ArrayForEach(k, keys) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(k, "AttributeName");
        const cJSON *kt = cJSON_GetObjectItemCaseSensitive(k, "KeyType");
        if (!cJSON_IsString(name) || !cJSON_IsString(kt) || !name->valuestring[0] ||
            strlen(name->valuestring) > KEY_NAME_MAX) {
            rc = err_set(TM_ECORRUPT, "tidemark-schema.json: bad KeySchema element");
            goto out;
        }
        av_type t = attr_type(defs, name->valuestring);
        if (!t) {
            rc = err_set(TM_ECORRUPT, "tidemark-schema.json: key %s has no S, N or B type in "
                         "AttributeDefinitions", name->valuestring);
            goto out;
        }
        if (strcmp(kt->valuestring, "HASH") == 0 && !nh++) {
            snprintf(ks->hash_name, sizeof ks->hash_name, "%s", name->valuestring);
            ks->hash_type = t;
        } else if (strcmp(kt->valuestring, "RANGE") == 0 && !nr++) {
            snprintf(ks->range_name, sizeof ks->range_name, "%s", name->valuestring);
            ks->range_type = t;
        } else {
            rc = err_set(TM_ECORRUPT, "tidemark-schema.json: KeySchema needs one HASH and at "
                         "most one RANGE key");
            goto out;
        }
    }
    if (!nh) {
        rc = err_set(TM_ECORRUPT, "tidemark-schema.json: no HASH key in KeySchema");
        goto out;
    }
    if (table_name) {
        const cJSON *tn = cJSON_GetObjectItemCaseSensitive(j, "TableName");
        if (cJSON_IsString(tn)) rc = buf_puts(table_name, tn->valuestring);
    }
out:
    cJSON_Delete(j);
    return rc;
}
