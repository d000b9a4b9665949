/* import_manifest.c: an export's manifests as import needs them, read by the one reader of the
 * layout (export/layout.h: its path rule, checksums and parsers), and tidemark's
 * tidemark-schema.json.
 *
 * What is trusted: nothing until checked. A dataFileS3Key must lie inside the export's own
 * folder "<prefix>/AWSDynamoDB/<ExportId>/" (a full export has no shared data folder), or the
 * manifest is refused: an import never reads a file a manifest points at elsewhere. Counts must add up to the summary's
 * itemCount. The MD5 and the item count of each file are checked by the importer as it reads.
 * tidemark-schema.json's own Checksum (version 2) is checked before its key schema is used. */
#include "import/import_internal.h"
#include "engine/err.h"
#include "engine/key.h"

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

/* ---- manifests ---------------------------------------------------------------------------- */

void import_manifest_free(import_manifest *m)
{
    if (!m) return;
    free(m->export_prefix);
    free(m->export_root);
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

static int dup_into(char **dst, const char *s)
{
    *dst = s[0] ? strdup(s) : NULL;
    return s[0] && !*dst ? err_set(TM_ENOMEM, "out of memory") : 0;
}

int import_manifest_parse_summary(import_manifest *m, const char *text, size_t n)
{
    layout_summary *s = malloc(sizeof *s);
    if (!s) return err_set(TM_ENOMEM, "out of memory");
    int rc = layout_summary_parse(text, n, s);
    if (!rc && !s->have_item_count) rc = err_set(TM_ECORRUPT, LAYOUT_SUMMARY ": no itemCount");
    if (!rc) {
        m->item_count = s->item_count;
        rc = dup_into(&m->table_arn, s->table_arn);
        if (!rc) rc = dup_into(&m->output_format, s->output_format);
        if (!rc) rc = dup_into(&m->export_type, s->export_type);
        if (!rc) rc = dup_into(&m->export_id, s->export_id);
        if (!rc) rc = dup_into(&m->export_prefix, s->folder);
        if (!rc) rc = dup_into(&m->export_root, s->root);
        if (!rc && !m->export_root && !(m->export_root = strdup("")))
            rc = err_set(TM_ENOMEM, "out of memory");
    }
    if (!rc && m->export_type && strcmp(m->export_type, "FULL_EXPORT") != 0)
        rc = err_set(TM_EINVAL, "this is an %s: only full exports can be imported into a new "
                     "table", m->export_type);
    if (!rc && m->output_format && strcmp(m->output_format, "DYNAMODB_JSON") != 0)
        rc = err_set(TM_EINVAL, "export format %s is not supported (DYNAMODB_JSON only)",
                     m->output_format);
    free(s);
    return rc;
}

/* One line: its file must lie in the export's own folder (a full export has no shared data). */
static int add_file(import_manifest *m, const char *line, size_t n, uint64_t lineno, size_t *cap)
{
    layout_file *f = malloc(sizeof *f);
    import_mfile mf;
    memset(&mf, 0, sizeof mf);
    int rc = f ? layout_file_parse(line, n, f) : err_set(TM_ENOMEM, "out of memory");
    if (rc == TM_ECORRUPT)
        rc = err_set(TM_ECORRUPT, LAYOUT_FILES " line %llu: not an object with a dataFileS3Key",
                     (unsigned long long)lineno);
    else if (!rc && !f->have_count)
        rc = err_set(TM_ECORRUPT, LAYOUT_FILES " line %llu: no itemCount",
                     (unsigned long long)lineno);
    else if (!rc && !f->have_md5)
        rc = err_set(TM_ECORRUPT, LAYOUT_FILES " line %llu: missing or malformed md5Checksum",
                     (unsigned long long)lineno);
    else if (!rc && (layout_file_resolve(f, m->export_root, m->export_id) ||
                     f->where != LAYOUT_IN_EXPORT))
        rc = err_set(TM_ECORRUPT, LAYOUT_FILES " line %llu: dataFileS3Key \"%s\" points outside "
                     "the export (%s): refused", (unsigned long long)lineno, f->key,
                     m->export_prefix ? m->export_prefix : "");
    else if (!rc && import_manifest_find(m, f->rel) >= 0)
        rc = err_set(TM_ECORRUPT, LAYOUT_FILES " line %llu: %s is listed twice",
                     (unsigned long long)lineno, f->key);
    if (!rc && m->nfiles == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        import_mfile *nf = realloc(m->files, nc * sizeof *nf);
        if (!nf) rc = err_set(TM_ENOMEM, "out of memory (manifest)");
        else { m->files = nf; *cap = nc; }
    }
    if (!rc) {
        mf.item_count = f->item_count;
        memcpy(mf.md5, f->md5, 16);
        mf.have_md5 = 1;
        if (!(mf.key = strdup(f->key)) || !(mf.rel = strdup(f->rel))) {
            free(mf.key);
            rc = err_set(TM_ENOMEM, "out of memory (manifest)");
        } else {
            m->files[m->nfiles++] = mf;
        }
    }
    free(f);
    return rc;
}

int import_manifest_parse_files(import_manifest *m, const char *text, size_t n)
{
    int rc = 0;
    size_t cap = 0;
    uint64_t sum = 0, lineno = 0;
    const char *p = text, *end = text + n;
    while (p < end && !rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        lineno++;
        const char *q = p;
        while (q < le && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (q != le && !(rc = add_file(m, p, (size_t)(le - p), lineno, &cap)))
            sum += m->files[m->nfiles - 1].item_count;
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

/* ---- tidemark-schema.json --------------------------------------------------------------- */

int import_schema_parse(const char *text, size_t n, key_schema *ks, buf *table_name)
{
    int rc = 0;
    char why[256];
    memset(ks, 0, sizeof *ks);
    if (layout_schema_check(text, n, why, sizeof why) < 0)
        return err_set(TM_ECORRUPT, LAYOUT_SCHEMA " is %s", why);
    cJSON *j = cJSON_ParseWithLength(text, n);
    if (!cJSON_IsObject(j) || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "KeySchema")) ||
        !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "AttributeDefinitions"))) {
        rc = err_set(TM_ECORRUPT, "tidemark-schema.json: no KeySchema and AttributeDefinitions "
                     "(damaged or truncated?)");
        goto out;
    }
    if (key_schema_from_json(j, ks)) {   /* CreateTable's rules (engine/key.h) */
        rc = err_set(TM_ECORRUPT, "tidemark-schema.json: %s", err_msg());
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
