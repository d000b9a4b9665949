/* db.c: the database handle (a data directory), notices, and the request readers and table
 * openers every operation shares. */
#include "api/ops.h"
#include "engine/err.h"
#include "engine/fsx.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ================================================================ the handle */

int tm_db_open(const char *home, unsigned flags, tm_db **out, tm_error *e)
{
    struct stat st;
    *out = NULL;
    if (!home || !*home) return tm_error_set(e, TM_ERR_BAD_PARAMETER, "no data directory given");
    if (strlen(home) >= PATH_MAX) return tm_error_set(e, TM_ERR_BAD_PARAMETER, "data directory name too long");
    if (stat(home, &st) == 0 && !S_ISDIR(st.st_mode))
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "data directory %s is not a directory", home);
    if ((flags & TM_DB_READONLY) && stat(home, &st) != 0)
        return tm_error_set(e, TM_ERR_RESOURCE_NOT_FOUND, "no tidemark data directory at %s (create one with "
                            "`tidemark create-table --data %s ...`)", home, home);   /* as cli_home_existing */
    tm_db *db = calloc(1, sizeof *db);
    if (!db) return tm_error_set(e, TM_ERR_INTERNAL, "out of memory");
    snprintf(db->home, sizeof db->home, "%s", home);
    db->flags = flags;
    *out = db;
    return 0;
}

void tm_db_close(tm_db *db) { free(db); }
const char *tm_db_home(const tm_db *db) { return db->home; }

void tm_db_set_notice(tm_db *db, tm_notice_fn fn, void *ctx)
{
    db->notice = fn;
    db->notice_ctx = ctx;
}

void api_notice(tm_db *db, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    if (!db->notice) return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    db->notice(db->notice_ctx, line);
}

/* ================================================================ request readers */

int req_str(const cJSON *req, const char *name, int required, const char **out, tm_error *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) {
        if (required) return tm_error_set(e, TM_ERR_BAD_PARAMETER, "%s is required", name);
        return 0;
    }
    if (!cJSON_IsString(v)) return tm_error_set(e, TM_ERR_VALIDATION, "%s must be a string", name);
    *out = v->valuestring;
    return 0;
}

int req_table_name(const cJSON *req, const char **out, tm_error *e)
{
    int k = req_str(req, "TableName", 1, out, e);
    if (k) return k;
    int rc = table_check_name(*out);
    if (!rc) return 0;
    tm_error_from(e, rc, NULL);
    if (e) e->kind = TM_ERR_BAD_PARAMETER;   /* a name is a parameter: usage, not data */
    return TM_ERR_BAD_PARAMETER;
}

char *req_text(const cJSON *req, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
    return v && !cJSON_IsNull(v) ? cJSON_PrintUnformatted(v) : NULL;
}

int req_item(const cJSON *req, const char *name, unsigned flags, item **out, tm_error *e)
{
    *out = NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
    if (!v || cJSON_IsNull(v)) return 0;
    /* Raw: JSON text given as it is (a front end's argument), parsed here by the item codec */
    if (!cJSON_IsObject(v) && !cJSON_IsRaw(v))
        return tm_error_set(e, TM_ERR_VALIDATION, "%s: must be an object of attribute values", name);
    char *text = cJSON_PrintUnformatted(v);
    if (!text) return tm_error_set(e, TM_ERR_INTERNAL, "out of memory");
    int rc = item_parse_json(text, strlen(text), flags, out);
    free(text);
    return rc ? tm_error_from(e, rc, "%s: ", name) : 0;
}

int req_key(const cJSON *req, const char *name, const key_schema *ks, item **out, tm_error *e)
{
    int k = req_item(req, name, ITEM_PARSE_NOLIMITS, out, e);
    if (k) return k;
    if (!*out) return tm_error_set(e, TM_ERR_VALIDATION, "%s is required", name);
    buf b = BUF_INIT;
    int rc = key_encode_item(ks, *out, &b);
    buf_free(&b);
    if (!rc && item_count(*out) != (ks->range_type ? 2u : 1u))
        rc = err_set(TM_EINVAL, "The provided key element does not match the schema: the key is %s%s%s",
                     ks->hash_name, ks->range_type ? " and " : "", ks->range_type ? ks->range_name : "");
    if (!rc) return 0;
    item_free(*out);
    *out = NULL;
    if (rc == TM_EINVAL && strstr(err_msg(), name)) return tm_error_from(e, rc, NULL);
    return tm_error_from(e, rc, "%s: ", name);
}

/* ================================================================ tables */

static void notice_recovery(tm_db *db, const char *name, const table_recovery *r)
{
    if (r->log.truncated)
        api_notice(db, "recovery: table %s: cut a torn log tail in segment %s at offset %llu (%llu bytes of an "
                   "unacknowledged write)", name, r->log.segment, (unsigned long long)r->log.offset,
                   (unsigned long long)r->log.bytes);
    if (r->replayed)
        api_notice(db, "recovery: table %s: replayed %llu logged write%s into the items", name,
                   (unsigned long long)r->replayed, r->replayed == 1 ? "" : "s");
    if (r->log.damaged)
        api_notice(db, "recovery: table %s: log segment %s is damaged at offset %llu (%llu bytes from seq %llu "
                   "on); the items hold those writes, so nothing was cut: the segment is kept as it is and the "
                   "log goes on in a new one", name, r->log.segment, (unsigned long long)r->log.offset,
                   (unsigned long long)r->log.bytes, (unsigned long long)r->log.lost_first);
    if (r->lost_last)
        api_notice(db, "recovery: table %s: log seqs %llu..%llu are missing from the log (the items hold those "
                   "writes); the log goes on at seq %llu, and the point-in-time window has a gap there "
                   "(tidemark pitr status)", name, (unsigned long long)r->lost_first,
                   (unsigned long long)r->lost_last, (unsigned long long)r->lost_last + 1);
}

int api_open_table(tm_db *db, const char *name, unsigned flags, table **t, table_info *info, tm_error *e)
{
    int rc = table_open(db->home, name, flags, t);
    if (rc) {
        *t = NULL;
        return tm_error_from(e, rc, NULL);
    }
    notice_recovery(db, name, table_last_recovery(*t));
    if (info && (rc = table_describe(*t, info))) {
        api_close_table(db, name, *t);
        *t = NULL;
        return tm_error_from(e, rc, NULL);
    }
    return 0;
}

void api_close_table(tm_db *db, const char *name, table *t)
{
    const char *d = t ? table_deferred_error(t) : NULL;
    if (d)
        api_notice(db, "warning: table %s: the writes are durable in the log, but applying them to the items "
                   "failed (the next open applies them): %s", name, d);
    table_close(t);
}

/* The table's directory, or ResourceNotFoundException (verify works on damaged tables: it
 * does not open them). */
int api_table_dir(tm_db *db, const cJSON *req, const char **name, char *dir, size_t n, tm_error *e)
{
    int k = req_table_name(req, name, e);
    if (k) return k;
    table_path(db->home, *name, NULL, dir, n);
    if (access(dir, F_OK))
        return tm_error_set(e, TM_ERR_RESOURCE_NOT_FOUND, "table %s not found (data directory %s)", *name, db->home);
    return 0;
}
