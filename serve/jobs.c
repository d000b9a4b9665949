/* jobs.c: ExportTableToPointInTime, ImportTable and RestoreTableToPointInTime in the background,
 * as AWS runs them: the request is checked and answered at once (IN_PROGRESS, or CREATING for a
 * restore's table) by the api's tm_*_begin, which also records exports and imports in the
 * catalog; a thread then runs the operation (tm_*_run), whose end the catalog records
 * (COMPLETED or FAILED with FailureCode and FailureMessage).
 *
 * KILLED SERVERS: an export or import left IN_PROGRESS by a server that is gone reads FAILED
 * (api/backup_catalog.c: KILLED RUNS). A restore has no record of its own in AWS's API (its
 * table appears when done), so the server keeps one:
 *
 * FILE NAMING: <home>/serve-jobs/restore-<TargetTableName>.json, the run's request (wire shape,
 * RestoreDateTime fixed when it was answered), written atomically before the answer and removed
 * when the run ends. At start, every journal left is run again (the target is built under a
 * temporary name and appears only when whole: restore/), or removed when the target exists. */
#include "serve/serve_internal.h"
#include "api/backup.h"
#include "engine/err.h"
#include "engine/fsx.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define JOBS_DIR "serve-jobs"

struct serve_jobs {
    tm_db *db;
    void (*log)(void *, const char *);
    void *log_ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned running;
    volatile sig_atomic_t cancel;      /* imports stop (FAILED) when the server stops */
    char targets[64][256];             /* restores running, by target: one at a time each */
    size_t ntargets;
};

typedef struct job {
    serve_jobs *j;
    char op[40];
    cJSON *req;                        /* the run's request */
    char target[256];                  /* restore */
    char journal[PATH_MAX];            /* restore */
} job;

static void jlog(serve_jobs *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jlog(serve_jobs *j, const char *fmt, ...)
{
    char line[1400];
    va_list ap;
    if (!j->log) return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    j->log(j->log_ctx, line);
}

int jobs_handles(const char *operation)
{
    return !strcmp(operation, "ExportTableToPointInTime") || !strcmp(operation, "ImportTable") ||
           !strcmp(operation, "RestoreTableToPointInTime");
}

/* ================================================================ the runs */

static const char *shape_member(const cJSON *resp, const char *member)
{
    const cJSON *d = resp ? resp->child : NULL;
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, member));
}

static void run_one(job *b)
{
    serve_jobs *j = b->j;
    tm_backup_run run = TM_BACKUP_RUN_INIT;
    cJSON *resp = NULL;
    tm_error e = {0, ""};
    int k;
    run.cancel = &j->cancel;
    if (!strcmp(b->op, "ExportTableToPointInTime")) k = tm_export_run(j->db, b->req, &run, &resp, &e);
    else if (!strcmp(b->op, "ImportTable")) k = tm_import_run(j->db, b->req, &run, &resp, &e);
    else k = tm_restore_run(j->db, b->req, &run, &resp, &e);
    const char *id = shape_member(resp ? resp : run.failed, !strcmp(b->op, "ImportTable") ? "ImportArn"
                                  : !strcmp(b->op, "ExportTableToPointInTime") ? "ExportArn" : "TableArn");
    if (k) jlog(j, "%s %s: FAILED: %s: %s", b->op, id ? id : b->target, tm_err_name(k), e.message);
    else jlog(j, "%s %s: COMPLETED", b->op, id ? id : b->target);
    cJSON_Delete(resp);
    cJSON_Delete(run.failed);
}

static void *job_main(void *arg)
{
    job *b = arg;
    serve_jobs *j = b->j;
    run_one(b);
    if (b->journal[0]) unlink(b->journal);
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < j->ntargets; i++)
        if (b->target[0] && !strcmp(j->targets[i], b->target)) {
            memmove(j->targets[i], j->targets[j->ntargets - 1], sizeof j->targets[i]);
            j->ntargets--;
            break;
        }
    j->running--;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    cJSON_Delete(b->req);
    free(b);
    return NULL;
}

/* Takes b (and b->req); on failure frees them. */
static int spawn(serve_jobs *j, job *b, tm_error *e)
{
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&j->mu);
    j->running++;
    pthread_mutex_unlock(&j->mu);
    int rc = pthread_create(&th, &at, job_main, b);
    pthread_attr_destroy(&at);
    if (!rc) return 0;
    pthread_mutex_lock(&j->mu);
    j->running--;
    pthread_mutex_unlock(&j->mu);
    cJSON_Delete(b->req);
    free(b);
    return tm_error_set(e, TM_ERR_INTERNAL, "cannot start a thread: %s", strerror(rc));
}

/* Claims target for a restore; 0 if another restore builds it now. */
static int claim(serve_jobs *j, const char *target)
{
    int ok = 1;
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < j->ntargets; i++) ok &= strcmp(j->targets[i], target) != 0;
    if (ok && j->ntargets < sizeof j->targets / sizeof *j->targets)
        snprintf(j->targets[j->ntargets++], sizeof j->targets[0], "%s", target);
    else
        ok = 0;
    pthread_mutex_unlock(&j->mu);
    return ok;
}

static void journal_path(serve_jobs *j, const char *target, char *out, size_t n)
{
    snprintf(out, n, "%s/" JOBS_DIR "/restore-%s.json", tm_db_home(j->db), target);
}

static int journal_write(serve_jobs *j, job *b, tm_error *e)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/" JOBS_DIR, tm_db_home(j->db));
    journal_path(j, b->target, b->journal, sizeof b->journal);
    char *text = cJSON_PrintUnformatted(b->req);
    int rc = text ? fsx_mkdirs(dir, 0755) : TM_ENOMEM;
    if (!rc) rc = fsx_write_atomic(b->journal, text, strlen(text));
    free(text);
    if (!rc) return 0;
    int k = tm_error_from(e, rc, "restore journal %s: ", b->journal);
    b->journal[0] = '\0';
    return k;
}

int jobs_start(serve_jobs *j, const char *operation, const cJSON *req, cJSON **resp, tm_error *e)
{
    cJSON *run_req = NULL;
    int k, restore = !strcmp(operation, "RestoreTableToPointInTime");
    const char *target = restore ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "TargetTableName")) : NULL;
    *resp = NULL;
    if (restore && target && !claim(j, target))
        return tm_error_set(e, TM_ERR_TABLE_ALREADY_EXISTS, "Table already exists: %s (a restore "
                            "is creating it)", target);
    if (!strcmp(operation, "ExportTableToPointInTime")) k = tm_export_begin(j->db, req, resp, &run_req, e);
    else if (!strcmp(operation, "ImportTable")) k = tm_import_begin(j->db, req, resp, &run_req, e);
    else k = tm_restore_begin(j->db, req, resp, &run_req, e);
    job *b = k || !run_req ? NULL : calloc(1, sizeof *b);
    if (b) {
        b->j = j;
        b->req = run_req;
        snprintf(b->op, sizeof b->op, "%s", operation);
        if (target) snprintf(b->target, sizeof b->target, "%s", target);
        if (restore) k = journal_write(j, b, e);
        if (!k) return spawn(j, b, e);
        free(b);
    } else if (!k && run_req) {
        k = tm_error_set(e, TM_ERR_INTERNAL, "out of memory");
    }
    cJSON_Delete(run_req);
    if (k) {
        cJSON_Delete(*resp);
        *resp = NULL;
    }
    if (restore && target) {   /* not started: release the claim */
        pthread_mutex_lock(&j->mu);
        for (size_t i = 0; i < j->ntargets; i++)
            if (!strcmp(j->targets[i], target)) {
                memmove(j->targets[i], j->targets[j->ntargets - 1], sizeof j->targets[i]);
                j->ntargets--;
                break;
            }
        pthread_mutex_unlock(&j->mu);
    }
    return k;
}

/* ================================================================ open, close */

/* A journal left by a killed server: run it again, or drop it when its table exists. */
static void resume_one(serve_jobs *j, const char *path)
{
    buf b = BUF_INIT;
    cJSON *req = NULL;
    if (fsx_read_file(path, (size_t)1 << 20, &b) || !(req = cJSON_ParseWithLength(b.data, b.len))) {
        jlog(j, "restore journal %s: unreadable, removed", path);
        unlink(path);
        buf_free(&b);
        return;
    }
    buf_free(&b);
    const char *target = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "TargetTableName"));
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/tables/%s", tm_db_home(j->db), target ? target : "");
    if (!target || fsx_exists(dir) || !claim(j, target)) {
        unlink(path);
        cJSON_Delete(req);
        return;
    }
    job *jb = calloc(1, sizeof *jb);
    tm_error e;
    if (!jb) {
        cJSON_Delete(req);
        return;
    }
    jb->j = j;
    jb->req = req;
    snprintf(jb->op, sizeof jb->op, "RestoreTableToPointInTime");
    snprintf(jb->target, sizeof jb->target, "%s", target);
    snprintf(jb->journal, sizeof jb->journal, "%s", path);
    jlog(j, "RestoreTableToPointInTime %s: interrupted by a stop, running it again", target);
    if (spawn(j, jb, &e)) jlog(j, "RestoreTableToPointInTime %s: %s", target, e.message);
}

int jobs_open(tm_db *db, void (*log)(void *, const char *), void *log_ctx, serve_jobs **out,
              tm_error *e)
{
    serve_jobs *j = calloc(1, sizeof *j);
    char dir[PATH_MAX], path[PATH_MAX + 256];
    *out = NULL;
    if (!j) return tm_error_set(e, TM_ERR_INTERNAL, "out of memory");
    j->db = db;
    j->log = log;
    j->log_ctx = log_ctx;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    snprintf(dir, sizeof dir, "%s/" JOBS_DIR, tm_db_home(db));
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (strncmp(de->d_name, "restore-", 8) || n < 6 || strcmp(de->d_name + n - 5, ".json")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        resume_one(j, path);
    }
    if (d) closedir(d);
    *out = j;
    return 0;
}

void jobs_close(serve_jobs *j)
{
    if (!j) return;
    j->cancel = 1;
    pthread_mutex_lock(&j->mu);
    if (j->running) jlog(j, "waiting for %u background job%s", j->running, j->running == 1 ? "" : "s");
    while (j->running) pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}
