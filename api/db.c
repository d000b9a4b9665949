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
#include <time.h>
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
    pthread_mutex_init(&db->mu, NULL);
    *out = db;
    return 0;
}

static void cache_close(tm_db *db);

void tm_db_close(tm_db *db)
{
    if (!db) return;
    cache_close(db);
    pthread_mutex_destroy(&db->mu);
    free(db);
}
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

static int open_table(tm_db *db, const char *name, unsigned flags, table **t, table_info *info, tm_error *e)
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

static void close_table(tm_db *db, const char *name, table *t)
{
    const char *d = t ? table_deferred_error(t) : NULL;
    if (d)
        api_notice(db, "warning: table %s: the writes are durable in the log, but applying them to the items "
                   "failed (the next open applies them): %s", name, d);
    table_close(t);
}

/* ================================================================ the table cache
 *
 * A TM_DB_KEEP_OPEN handle keeps the data plane's tables open: each request of tidemark serve
 * opened its table again before (an LMDB environment open and a recovery check per request, and
 * no group commit across connections, since each had its own handle). One writer handle per
 * table serves every thread: reads take their own LMDB read txn (MDB_NOTLS), single writes join
 * the handle's group commit, run by its writer thread (TABLE_SHARED), batches pause that thread
 * and take the write lock as ever. Never a
 * TABLE_BULK handle: its write lock outlives the call, and a reader of the same thread that
 * must catch up with it would wait for itself.
 *
 * Reads through the cached handle see another process's acknowledged writes that are in the
 * log but not yet in the items (a bulk load between its joined LMDB commits, or a writer killed
 * between its log commit and its LMDB commit): the table's LOGEND hint says the log is ahead,
 * and the read waits for the handle's writer to catch up (engine/table.c, read_txn_begin).
 *
 * table.json is replaced atomically by every change of settings, by a delete and by a new
 * table of the same name, so its identity (device, inode, size, mtime) says whether the open
 * handle still is the table of that name with those settings: checked at each use, and for
 * every entry once a second (so that a table deleted by another process is closed and its files
 * freed). An entry that no longer matches is stale: never found again, closed when its last
 * user gives it back. */

typedef struct db_table {
    char name[TABLE_NAME_MAX + 1];
    table *t;
    table_info info;             /* described at the open */
    struct stat id;              /* table.json before the open */
    int refs;                    /* users, and the cache's own while not stale */
    int stale;
    struct db_table *next;
} db_table;

#define SWEEP_US 1000000

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int conf_stat(tm_db *db, const char *name, struct stat *st)
{
    char path[PATH_MAX];
    table_path(db->home, name, "table.json", path, sizeof path);
    return stat(path, st);
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Under db->mu: one user fewer; the last one closes. */
static void entry_put(tm_db *db, db_table *d)
{
    if (--d->refs) return;
    for (db_table **p = &db->tables; *p; p = &(*p)->next)
        if (*p == d) {
            *p = d->next;
            break;
        }
    close_table(db, d->name, d->t);
    free(d);
}

static void entry_retire(tm_db *db, db_table *d)
{
    if (d->stale) return;
    d->stale = 1;
    entry_put(db, d);
}

static void cache_sweep(tm_db *db)
{
    struct stat st;
    int64_t now = mono_us();
    if (now - db->swept_us < SWEEP_US) return;
    db->swept_us = now;
    for (db_table *d = db->tables, *next; d; d = next) {
        next = d->next;
        if (!d->stale && (conf_stat(db, d->name, &st) || !same_file(&d->id, &st))) entry_retire(db, d);
    }
}

static void cache_close(tm_db *db)
{
    while (db->tables) {
        db_table *d = db->tables;
        db->tables = d->next;
        close_table(db, d->name, d->t);
        free(d);
    }
}

/* The cached entry of name whose table.json is still id, with one more user; NULL if none. */
static db_table *cache_find(tm_db *db, const char *name, const struct stat *id, int have)
{
    db_table *d;
    for (d = db->tables; d; d = d->next)
        if (!d->stale && !strcmp(d->name, name)) break;
    if (d && have && same_file(&d->id, id)) {
        d->refs++;
        return d;
    }
    if (d) entry_retire(db, d);
    return NULL;
}

static int cache_open(tm_db *db, const char *name, table **t, table_info *info, tm_error *e)
{
    struct stat id;
    int have = conf_stat(db, name, &id) == 0;
    pthread_mutex_lock(&db->mu);
    cache_sweep(db);
    db_table *d = cache_find(db, name, &id, have);
    pthread_mutex_unlock(&db->mu);
    if (!d) {
        table *nt;
        int k;
        if (!(d = calloc(1, sizeof *d))) return tm_error_set(e, TM_ERR_INTERNAL, "out of memory");
        if ((k = open_table(db, name, TABLE_SHARED, &nt, &d->info, e))) {
            free(d);
            return k;
        }
        snprintf(d->name, sizeof d->name, "%s", name);
        d->t = nt;
        d->id = id;
        d->refs = 2;
        pthread_mutex_lock(&db->mu);
        db_table *other = cache_find(db, name, &id, have);   /* another thread was quicker */
        if (!other) {
            d->next = db->tables;
            db->tables = d;
        }
        pthread_mutex_unlock(&db->mu);
        if (other) {
            close_table(db, name, nt);
            free(d);
            d = other;
        }
    }
    *t = d->t;
    if (info) *info = d->info;
    return 0;
}

/* Gives a cached table back: 1, or 0 when t is not one of the cache's. */
static int cache_give_back(tm_db *db, table *t)
{
    int found = 0;
    pthread_mutex_lock(&db->mu);
    for (db_table *d = db->tables; d; d = d->next)
        if (d->t == t) {
            entry_put(db, d);
            found = 1;
            break;
        }
    pthread_mutex_unlock(&db->mu);
    return found;
}

void api_forget_table(tm_db *db, const char *name)
{
    pthread_mutex_lock(&db->mu);
    for (db_table *d = db->tables, *next; d; d = next) {
        next = d->next;
        if (!d->stale && !strcmp(d->name, name)) entry_retire(db, d);
    }
    pthread_mutex_unlock(&db->mu);
}

/* ================================================================ opening tables */

int api_open_table(tm_db *db, const char *name, unsigned flags, table **t, table_info *info, tm_error *e)
{
    *t = NULL;
    if ((flags & API_KEEP_OPEN) && (db->flags & TM_DB_KEEP_OPEN) && !(flags & TABLE_BULK)) {
        int k = cache_open(db, name, t, info, e);
        /* a table a writer cannot open (its log damaged past what recovery does) may still be read */
        if (!k || !(flags & TABLE_RDONLY) || k == TM_ERR_RESOURCE_NOT_FOUND) return k;
    }
    return open_table(db, name, flags & ~(unsigned)API_KEEP_OPEN, t, info, e);
}

void api_close_table(tm_db *db, const char *name, table *t)
{
    if (t && (db->flags & TM_DB_KEEP_OPEN) && cache_give_back(db, t)) return;
    close_table(db, name, t);
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
