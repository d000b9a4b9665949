/* backup_catalog.c: the records of exports and imports in the data directory, so that
 * DescribeExport, ListExports, DescribeImport and ListImports answer after the run.
 *
 * PURPOSE: AWS keeps a description of every export and import; tidemark keeps one JSON file
 * each. The export's files stay the truth about the export itself (a record says where they
 * are); an import has no files of its own, so its record is its description.
 *
 * FILE NAMING: <home>/exports/<ExportId>.json, <home>/imports/<ImportId>.json; ids begin with
 * the 14-digit start time in epoch ms, so lexical order is time order.
 *
 * RECORD (one JSON object, written whole):
 *   "Version"        BACKUP_CATALOG_VERSION
 *   "Pid"            the process that runs it (a number)
 *   "Location"       exports: where the export is (DEST/AWSDynamoDB/<ExportId>)
 *   "ExportDescription" | "ImportTableDescription"   the wire shape (epoch-number times)
 *
 * VALIDITY: a record is valid if and only if (1) it parses as a JSON object, (2) Version is a
 * number <= BACKUP_CATALOG_VERSION, (3) it holds its description object. An invalid record is
 * skipped by the lists and is an error naming the file for Describe*.
 *
 * KILLED RUNS: an import's record is written IN_PROGRESS before the import begins, and again
 * when it ends. A record still IN_PROGRESS whose Pid is no longer alive (kill(pid, 0) fails
 * with ESRCH) is read as FAILED, FailureCode "ImportInterrupted": the import left no table
 * (import.h: a killed import publishes nothing). An export's record is written when the run
 * ends; while it runs, and when it was killed, the export's own files say what it is
 * (export_describe: IN_PROGRESS while its state moves, FAILED after a minute without progress,
 * and --resume finishes it). Nothing stays IN_PROGRESS forever.
 *
 * A FULL DISK: a record that cannot be written leaves the one before it in place (atomic
 * replace), and a long-lived process (tidemark serve) would read its own run IN_PROGRESS for
 * as long as it lives. So the process remembers which of its runs it recorded IN_PROGRESS and
 * has not ended; one of its own records IN_PROGRESS that is not among them reads FAILED
 * ("RecordNotWritten"). A final record (COMPLETED, FAILED) that could not be written is kept
 * in memory, read in place of the file, and written again at each later catalog call, so it
 * lands once space is freed (lost only if the process ends first: then KILLED RUNS applies).
 *
 * CLIENT TOKENS: <home>/<kind>-tokens/<hex of the token>.json {"Id","Request","Time"}: the
 * run a ClientToken started, the request (compact, without the token) and when (epoch s).
 * AWS: the same token with the same request within 8 hours is that run again; with another
 * request it is a conflict; after 8 hours the token is new.
 *
 * CRASH SAFETY: fsx_write_atomic (temp file, fsync, rename, fsync the directory).
 * COMPATIBILITY: a newer Version is refused, never misread; members are only ever added. */
#include "api/backup_internal.h"
#include "engine/buf.h"
#include "engine/err.h"
#include "engine/fsx.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BACKUP_CATALOG_VERSION 1   /* the first: no older records exist */
#define RECORD_MAX ((size_t)1 << 20)

static void record_path(tm_db *db, const char *kind, const char *id, char *out, size_t n)
{
    snprintf(out, n, "%s/%s/%s.json", tm_db_home(db), kind, id);
}

/* ================================================================ records not yet written */

/* By record path: text NULL, a run this process recorded IN_PROGRESS and has not ended; else
 * its final record, not yet written (A FULL DISK above). */
typedef struct unsettled {
    char *path;
    char *text;
} unsettled;

#define UNSETTLED_MAX 1024   /* beyond: not remembered, and the run reads FAILED meanwhile */

static pthread_mutex_t unsettled_mu = PTHREAD_MUTEX_INITIALIZER;
static unsettled unsettled_v[UNSETTLED_MAX];
static size_t unsettled_n;

static unsettled *unsettled_find(const char *path)
{
    for (size_t i = 0; i < unsettled_n; i++)
        if (!strcmp(unsettled_v[i].path, path)) return &unsettled_v[i];
    return NULL;
}

static void unsettled_drop(unsettled *u)
{
    free(u->path);
    free(u->text);
    *u = unsettled_v[--unsettled_n];
}

/* After a put of path: running (IN_PROGRESS written), pending (a final record not written:
 * text kept), or neither (ended, or a run that could not record its start and so never runs). */
static void unsettled_note(const char *path, const char *text, int running, int pending)
{
    pthread_mutex_lock(&unsettled_mu);
    unsettled *u = unsettled_find(path);
    if (!running && !pending) {
        if (u) unsettled_drop(u);
    } else if (u || unsettled_n < UNSETTLED_MAX) {
        char *t = pending ? strdup(text) : NULL;
        if (!u) {
            u = &unsettled_v[unsettled_n];
            if ((u->path = strdup(path))) unsettled_n++;
            u->text = NULL;
        }
        if (u->path) {
            free(u->text);
            u->text = t;
        } else {
            free(t);
        }
    }
    pthread_mutex_unlock(&unsettled_mu);
}

/* Writes the final records kept; those that land are forgotten. */
static void unsettled_flush(void)
{
    pthread_mutex_lock(&unsettled_mu);
    for (size_t i = 0; i < unsettled_n;) {
        unsettled *u = &unsettled_v[i];
        if (u->text && !fsx_write_atomic(u->path, u->text, strlen(u->text))) unsettled_drop(u);
        else i++;
    }
    pthread_mutex_unlock(&unsettled_mu);
}

/* path's state in this process: 1 running, 0 not (pending: *text, malloc'd, else NULL). */
static int unsettled_get(const char *path, char **text)
{
    pthread_mutex_lock(&unsettled_mu);
    unsettled *u = unsettled_find(path);
    int running = u && !u->text;
    *text = u && u->text ? strdup(u->text) : NULL;
    pthread_mutex_unlock(&unsettled_mu);
    return running;
}

/* ================================================================ records */

int catalog_put(tm_db *db, const char *kind, const char *id, const char *shape, cJSON *desc,
                const char *location, tm_error *e)
{
    char path[PATH_MAX], dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", tm_db_home(db), kind);
    record_path(db, kind, id, path, sizeof path);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "Version", BACKUP_CATALOG_VERSION);
    cJSON_AddNumberToObject(r, "Pid", (double)getpid());
    if (location) cJSON_AddStringToObject(r, "Location", location);
    cJSON_AddItemReferenceToObject(r, shape, desc);
    char *text = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        desc, cJSON_HasObjectItem(desc, "ImportStatus") ? "ImportStatus" : "ExportStatus"));
    int running = st && !strcmp(st, "IN_PROGRESS");
    unsettled_flush();
    int rc = text ? fsx_mkdirs(dir, 0755) : err_set(TM_ENOMEM, "out of memory");
    if (!rc) rc = fsx_write_atomic(path, text, strlen(text));
    if (text) unsettled_note(path, text, running && !rc, !running && rc);
    free(text);
    return rc ? tm_error_from(e, rc, "catalog record %s: ", path) : 0;
}

/* A killed run's record: IN_PROGRESS, its process gone (an export recorded before its run by
 * tm_export_begin reads FAILED too when its files do not say more); or this process's, of a
 * run that is not running (its end could not be recorded). */
static void settle(cJSON *r, cJSON *desc, int running)
{
    int imp = cJSON_HasObjectItem(desc, "ImportStatus");
    const char *sname = imp ? "ImportStatus" : "ExportStatus";
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(desc, sname);
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(r, "Pid");
    if (!cJSON_IsString(st) || strcmp(st->valuestring, "IN_PROGRESS") || !cJSON_IsNumber(pid))
        return;
    char msg[200];
    if ((pid_t)pid->valuedouble == getpid()) {
        if (running) return;
        snprintf(msg, sizeof msg, "the %s ended, but its record could not be written (see the "
                 "log of process %d)", imp ? "import" : "export", (int)getpid());
        cJSON_ReplaceItemInObjectCaseSensitive(desc, sname, cJSON_CreateString("FAILED"));
        cJSON_AddStringToObject(desc, "FailureCode", "RecordNotWritten");
        cJSON_AddStringToObject(desc, "FailureMessage", msg);
        return;
    }
    if (kill((pid_t)pid->valuedouble, 0) == 0 || errno != ESRCH) return;
    if (imp)
        snprintf(msg, sizeof msg, "the importing process (pid %d) ended before the import finished; "
                 "no table was created", (int)pid->valuedouble);
    else
        snprintf(msg, sizeof msg, "the exporting process (pid %d) ended before the export finished",
                 (int)pid->valuedouble);
    cJSON_ReplaceItemInObjectCaseSensitive(desc, sname, cJSON_CreateString("FAILED"));
    cJSON_AddStringToObject(desc, "FailureCode", imp ? "ImportInterrupted" : "ExportInterrupted");
    cJSON_AddStringToObject(desc, "FailureMessage", msg);
}

int catalog_get(tm_db *db, const char *kind, const char *id, const char *shape, cJSON **record,
                tm_error *e)
{
    char path[PATH_MAX];
    buf b = BUF_INIT;
    *record = NULL;
    if (!*id || strchr(id, '/') || id[0] == '.')
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "%s: not an id", id);
    record_path(db, kind, id, path, sizeof path);
    unsettled_flush();
    char *kept;
    int running = unsettled_get(path, &kept), rc = 0;
    if (kept) rc = buf_puts(&b, kept);
    else rc = fsx_read_file(path, RECORD_MAX, &b);
    free(kept);
    if (rc == TM_ENOTFOUND) {
        buf_free(&b);
        return -1;   /* the caller names the kind (ExportNotFound, ImportNotFound) */
    }
    if (rc) {
        buf_free(&b);
        return tm_error_from(e, rc, "catalog record %s: ", path);
    }
    cJSON *r = cJSON_ParseWithLength(b.data, b.len);
    buf_free(&b);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "Version");
    cJSON *desc = cJSON_GetObjectItemCaseSensitive(r, shape);
    if (!cJSON_IsNumber(v) || v->valuedouble > BACKUP_CATALOG_VERSION || !cJSON_IsObject(desc)) {
        cJSON_Delete(r);
        return tm_error_set(e, TM_ERR_DATA_CORRUPTED, "catalog record %s: not a version %d "
                            "record (damaged, or written by a newer tidemark)", path,
                            BACKUP_CATALOG_VERSION);
    }
    settle(r, desc, running);
    *record = r;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int catalog_ids(tm_db *db, const char *kind, char ***ids, size_t *n)
{
    char dir[PATH_MAX];
    *ids = NULL;
    *n = 0;
    snprintf(dir, sizeof dir, "%s/%s", tm_db_home(db), kind);
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : err_sys(TM_EIO, errno, "%s", dir);
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json")) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(*ids, cap * sizeof *nv);
            if (!nv) break;
            *ids = nv;
        }
        (*ids)[(*n)++] = strndup(de->d_name, len - 5);
    }
    closedir(d);
    if (*n) qsort(*ids, *n, sizeof **ids, cmp_str);
    return 0;
}

void catalog_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++) free(ids[i]);
    free(ids);
}

/* ================================================================ client tokens */

#define TOKEN_TTL_S (8 * 3600)   /* AWS: a ClientToken is valid for 8 hours */

static pthread_mutex_t token_mu = PTHREAD_MUTEX_INITIALIZER;

static void token_path(tm_db *db, const char *kind, const char *token, char *dir, char *path)
{
    char hex[2 * 64 + 1] = "";
    for (size_t i = 0; token[i] && i < 64; i++) snprintf(hex + 2 * i, 3, "%02x", (unsigned char)token[i]);
    snprintf(dir, PATH_MAX, "%s/%s-tokens", tm_db_home(db), kind);
    snprintf(path, PATH_MAX, "%s/%s.json", dir, hex);
}

int catalog_token(tm_db *db, const char *kind, const char *token, const char *request,
                  int64_t now_s, char *id, size_t n, tm_error *e)
{
    char dir[PATH_MAX], path[PATH_MAX];
    buf b = BUF_INIT;
    int ret = 0;
    if (strlen(token) > 64) return tm_error_set(e, TM_ERR_BAD_PARAMETER, "ClientToken: at most 64 characters");
    token_path(db, kind, token, dir, path);
    pthread_mutex_lock(&token_mu);
    if (!fsx_read_file(path, RECORD_MAX, &b)) {
        cJSON *r = cJSON_ParseWithLength(b.data, b.len);
        const char *rid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "Id"));
        const char *rq = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "Request"));
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "Time");
        if (rid && rq && cJSON_IsNumber(t) && now_s - (int64_t)t->valuedouble < TOKEN_TTL_S) {
            if (strcmp(rq, request)) ret = -1;
            else snprintf(id, n, "%s", rid), ret = 1;
        }
        cJSON_Delete(r);
    }
    buf_free(&b);
    if (!ret) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "Id", id);
        cJSON_AddStringToObject(r, "Request", request);
        cJSON_AddNumberToObject(r, "Time", (double)now_s);
        char *text = cJSON_PrintUnformatted(r);
        cJSON_Delete(r);
        int rc = text ? fsx_mkdirs(dir, 0755) : TM_ENOMEM;
        if (!rc) rc = fsx_write_atomic(path, text, strlen(text));
        free(text);
        if (rc) ret = -2, tm_error_from(e, rc, "client token %s: ", path);
    }
    pthread_mutex_unlock(&token_mu);
    return ret;
}

int catalog_page(tm_db *db, const char *kind, const char *shape, const char *tarn,
                 const char *next, size_t max, cJSON *resp, cJSON *list, catalog_add_fn add,
                 void *ctx, tm_error *e)
{
    char **ids;
    size_t nid, n = 0;
    const char *last = NULL;
    if (catalog_ids(db, kind, &ids, &nid)) return tm_error_from(e, TM_EIO, NULL);
    for (size_t i = 0; i < nid; i++) {
        cJSON *rec = NULL;
        tm_error skip;
        if ((next && strcmp(ids[i], next) <= 0) || catalog_get(db, kind, ids[i], shape, &rec, &skip))
            continue;
        const char *ta = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(rec, shape), "TableArn"));
        int mine = !tarn || (ta && !strcmp(ta, tarn));
        if (mine && n == max) {
            cJSON_AddStringToObject(resp, "NextToken", last);
            cJSON_Delete(rec);
            break;
        }
        if (mine) {
            add(list, rec, ctx);
            last = ids[i];
            n++;
        }
        cJSON_Delete(rec);
    }
    catalog_ids_free(ids, nid);
    return 0;
}
