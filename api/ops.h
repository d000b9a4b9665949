/* ops.h: what the files of api/ share: the database handle's body, request readers, the shape
 * writers, and the operation table (api/call.c) that tm_call dispatches through.
 *
 * To add an operation: write `int tm_<op>(tm_db*, const cJSON*, cJSON**, tm_error*)` (declared
 * in include/tidemark.h, or below for one only tm_call reaches) and add one line to the table
 * in call.c. */
#ifndef TIDEMARK_API_OPS_H
#define TIDEMARK_API_OPS_H

#include "include/tidemark.h"
#include "engine/item.h"
#include "engine/table.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

struct db_table;

struct tm_db {
    char home[PATH_MAX];
    unsigned flags;
    tm_notice_fn notice;
    void *notice_ctx;
    /* TM_DB_KEEP_OPEN: the data plane's tables stay open between operations (db.c) */
    pthread_mutex_t mu;
    struct db_table *tables;
    int64_t swept_us;
};

/* ---- notices: what a front end may show (recovery repairs, deferred errors, gaps) ---- */
void api_notice(tm_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- request readers: each sets e (a ValidationException naming the member) on failure ---- */
/* A string member; NULL when absent. TM_ERR_VALIDATION when present but not a string. */
int req_str(const cJSON *req, const char *name, int required, const char **out, tm_error *e);
/* TableName: present, a string, and a valid name (TM_ERR_BAD_PARAMETER otherwise). */
int req_table_name(const cJSON *req, const char **out, tm_error *e);
/* A member holding DynamoDB JSON (an item, a key) parsed into an item; *out NULL if absent. */
int req_item(const cJSON *req, const char *name, unsigned flags, item **out, tm_error *e);
/* A key: exactly the key attributes of ks. */
int req_key(const cJSON *req, const char *name, const key_schema *ks, item **out, tm_error *e);
/* A member as compact JSON text (caller frees); NULL if absent. */
char *req_text(const cJSON *req, const char *name);

/* Opens the table named by the request (flags: TABLE_RDONLY, TABLE_BULK, API_KEEP_OPEN) and
 * describes it; notices what recovery repaired.
 * API_KEEP_OPEN (the data plane's operations): on a TM_DB_KEEP_OPEN handle, the table comes
 * from the handle's cache of open tables (one writer handle per table, shared by every thread:
 * reads run in parallel, single writes meet in its group commit), and info holds the schema and
 * settings as of table.json but counts and positions of when it was opened. */
#define API_KEEP_OPEN 0x100
int api_open_table(tm_db *db, const char *name, unsigned flags, table **t, table_info *info, tm_error *e);
/* Closes t (or gives a cached table back), noticing writes that are durable but not yet applied. */
void api_close_table(tm_db *db, const char *name, table *t);
/* Drops name from the cache (DeleteTable): closed once its last user gives it back. */
void api_forget_table(tm_db *db, const char *name);
/* The directory of the table named by the request (TableName), or ResourceNotFoundException;
 * for what reads a table's files without opening it (verify works on damaged tables). */
int api_table_dir(tm_db *db, const cJSON *req, const char **name, char *dir, size_t n, tm_error *e);

/* ---- shapes (shapes.c): one writer each ---- */
cJSON *shape_table_description(const table_info *i, const char *status);
/* ContinuousBackupsDescription of an open table: window, gaps (noticed too). */
int shape_continuous_backups(tm_db *db, table *t, const table_info *i, cJSON **out, tm_error *e);
/* An item as a cJSON object in DynamoDB JSON (NULL it: NULL). */
cJSON *shape_item(const item *it, tm_error *e);
/* The response {member: item} or {} for NULL. */
cJSON *shape_item_response(const char *member, const item *it, tm_error *e);

/* ---- deleted tables (lifecycle.c) ----
 * When source is not a table but a deleted one is kept, dhome (dn bytes) receives its own data
 * directory and *t_us its deletion time if PITR_LATEST (INT64_MAX); a time after the deletion is
 * InvalidRestoreTime. dhome "" otherwise. After the restore into dhome, publish moves target
 * into db's home. */
int api_restore_deleted_source(tm_db *db, const char *source, const char *target,
                               int64_t *t_us, char *dhome, size_t dn, tm_error *e);
int api_restore_deleted_publish(tm_db *db, const char *dhome, const char *target);

/* ---- the operation table ---- */
typedef struct tm_op {
    const char *name;        /* as on the wire: "PutItem" */
    tm_op_fn fn;
} tm_op;

#endif
