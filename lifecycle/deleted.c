/* deleted.c: deleted tables whose history is kept for their PITR period (lifecycle.h).
 *
 * PURPOSE: DynamoDB keeps one backup of a table deleted with PITR on; tidemark keeps its whole
 * history, so that tidemark-restore brings it back at any second of [earliest, deletion] until
 * deletion + RecoveryPeriodInDays, when tidemark-lifecycle run removes it.
 *
 * FILE NAMING: <home>/deleted/<name>@<deletion time, µs since the epoch, 16 lowercase hex>/
 *   (hex, zero-padded: lexical order is deletion order; a name deleted twice has two entries)
 *     deleted.json    the record below
 *     tables/<name>/  the table directory as it was (items, log, snapshots), moved by one
 *                     rename: the entry is a data directory of its own, which the planner and
 *                     the materializer read as any table
 *   deleted/.<name>@<hex>.tmp    an entry being staged (never read as an entry)
 *   deleted/.<name>@<hex>.purge  an entry being purged (removed by the next listing)
 *
 * RECORD (deleted.json, one JSON object):
 *   "Version"               LIFECYCLE_DELETED_VERSION (absent: 1, the first entries)
 *   "TableName"             the table's name
 *   "DeletionTime"          µs since the epoch (the entry's hex)
 *   "RecoveryPeriodInDays"  the table's period when it was deleted
 *
 * VALIDITY: an entry is valid if and only if its deleted.json parses, has TableName and a
 * Version this code knows. An invalid entry is skipped by the listing (and never purged: a
 * person looks at it).
 *
 * CRASH SAFETY: deleted.json is written into the staging entry (fsx_write_atomic), the table
 * directory renamed into it, the parent fsynced, the staging entry renamed to its name and
 * deleted/ fsynced. A crash before the last rename leaves the table either in place or inside
 * the staging entry, which the next listing finishes (a staging entry with its table inside is
 * published; an empty one removed). Purging renames the entry to a staging name first, so a
 * half-removed entry is never listed.
 *
 * COMPATIBILITY: the Version goes up when a member changes meaning; a reader refuses a version
 * it does not know (the entry is skipped, not purged). Members may be added without a change. */
#include "lifecycle/lifecycle.h"
#include "lifecycle/lifecycle_internal.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/table.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DAY_US (86400 * CLOCK_US_PER_SEC)

/* Version 1: the record above. */
#define LIFECYCLE_DELETED_VERSION 1

void lc_add_time(cJSON *obj, const char *name, int64_t us)
{
    char t[40];
    clock_format(us, 6, t, sizeof t);
    cJSON_AddStringToObject(obj, name, t);
}

int lifecycle_delete_table(const char *home, const char *name, int *kept)
{
    char dir[PATH_MAX], area[PATH_MAX], stage[PATH_MAX], final[PATH_MAX], sub[PATH_MAX + 16];
    table *t = NULL;
    table_info info;
    int rc;
    *kept = 0;
    if ((rc = table_check_name(name))) return rc;
    table_path(home, name, NULL, dir, sizeof dir);
    if (!fsx_exists(dir)) return err_set(TM_ENOTFOUND, "table %s not found", name);
    if ((rc = table_open(home, name, TABLE_RDONLY, &t))) return rc;
    rc = table_describe(t, &info);
    table_close(t);
    if (rc) return rc;
    if (!info.pitr_enabled) return table_delete(home, name);
    int64_t now = clock_now_us();
    snprintf(area, sizeof area, "%s/deleted", home);
    snprintf(stage, sizeof stage, "%s/.%s@%016" PRIx64 ".tmp", area, name, (uint64_t)now);
    snprintf(final, sizeof final, "%s/%s@%016" PRIx64, area, name, (uint64_t)now);
    snprintf(sub, sizeof sub, "%s/tables", stage);
    if ((rc = fsx_mkdirs(sub, 0755))) return rc;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "Version", LIFECYCLE_DELETED_VERSION);
    cJSON_AddStringToObject(j, "TableName", name);
    cJSON_AddNumberToObject(j, "DeletionTime", (double)now);
    cJSON_AddNumberToObject(j, "RecoveryPeriodInDays", info.pitr_period_days);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    snprintf(sub, sizeof sub, "%s/deleted.json", stage);
    rc = text ? fsx_write_atomic(sub, text, strlen(text)) : err_set(TM_ENOMEM, "out of memory");
    free(text);
    if (rc) goto fail;
    snprintf(sub, sizeof sub, "%s/tables/%s", stage, name);
    if (rename(dir, sub) < 0) {
        rc = err_sys(errno == ENOENT ? TM_ENOTFOUND : TM_EIO, errno, "rename %s", dir);
        goto fail;
    }
    fsx_fsync_parent(dir);
    if (rename(stage, final) < 0) return err_sys(TM_EIO, errno, "rename %s", stage);
    fsx_fsync_dir(area);
    *kept = 1;
    return 0;
fail:
    fsx_rmtree(stage);
    return rc;
}

/* Reads one entry's deleted.json into d. */
static int read_entry(const char *area, const char *ent, lifecycle_deleted *d)
{
    char path[PATH_MAX];
    buf b = BUF_INIT;
    memset(d, 0, sizeof *d);
    snprintf(path, sizeof path, "%s/%s/deleted.json", area, ent);
    int rc = fsx_read_file(path, 65536, &b);
    if (rc) return rc;
    cJSON *j = cJSON_ParseWithLength(b.data, b.len);
    buf_free(&b);
    const char *nm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "TableName"));
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "Version");
    int version = cJSON_IsNumber(v) ? v->valueint : 1;
    if (!nm || version != LIFECYCLE_DELETED_VERSION) {
        cJSON_Delete(j);
        return err_set(TM_ECORRUPT, nm ? "%s: Version %d, this tidemark reads %d" : "%s: not a "
                       "deleted table's record", path, version, LIFECYCLE_DELETED_VERSION);
    }
    snprintf(d->name, sizeof d->name, "%s", nm);
    d->deleted_us = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "DeletionTime"));
    d->period_days = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "RecoveryPeriodInDays"));
    cJSON_Delete(j);
    snprintf(d->home, sizeof d->home, "%s/%s", area, ent);
    d->keep_until_us = d->deleted_us + (int64_t)d->period_days * DAY_US;
    d->earliest_us = clock_now_us() - (int64_t)d->period_days * DAY_US;
    table *t = NULL;
    int64_t e, l;
    if (table_open(d->home, d->name, TABLE_RDONLY, &t) == 0 && table_pitr_window(t, &e, &l) == 0 &&
        e > d->earliest_us)
        d->earliest_us = e;
    table_close(t);
    return 0;
}

/* A staging entry left by a crash: published when its table is inside, else removed. */
static void finish_stage(const char *area, const char *ent)
{
    char path[PATH_MAX], final[PATH_MAX], tables[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/%s", area, ent);
    snprintf(tables, sizeof tables, "%s/tables", path);
    DIR *d = opendir(tables);
    int has = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') has = 1;
    if (d) closedir(d);
    size_t n = strlen(ent);
    if (has && n > 5) {
        snprintf(final, sizeof final, "%s/%.*s", area, (int)(n - 5), ent + 1);
        if (rename(path, final) == 0) return;
    }
    fsx_rmtree(path);
}

static int cmp_deleted(const void *a, const void *b)
{
    const lifecycle_deleted *x = a, *y = b;
    return x->deleted_us < y->deleted_us ? -1 : x->deleted_us > y->deleted_us;
}

int lifecycle_deleted_list(const char *home, lifecycle_deleted **out, size_t *n)
{
    char area[PATH_MAX];
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    snprintf(area, sizeof area, "%s/deleted", home);
    DIR *d = opendir(area);
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.') {
            if (len > 5 && !strcmp(e->d_name + len - 4, ".tmp")) finish_stage(area, e->d_name);
            if (len > 7 && !strcmp(e->d_name + len - 6, ".purge")) {
                char p[PATH_MAX + 256];
                snprintf(p, sizeof p, "%s/%s", area, e->d_name);
                fsx_rmtree(p);   /* a purge a crash interrupted */
            }
            continue;
        }
        lifecycle_deleted x;
        if (read_entry(area, e->d_name, &x)) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            lifecycle_deleted *p = realloc(*out, cap * sizeof *p);
            if (!p) {
                closedir(d);
                free(*out);
                *out = NULL;
                *n = 0;
                return err_set(TM_ENOMEM, "out of memory");
            }
            *out = p;
        }
        (*out)[(*n)++] = x;
    }
    closedir(d);
    if (*n) qsort(*out, *n, sizeof **out, cmp_deleted);
    return 0;
}

int lifecycle_deleted_find(const char *home, const char *name, lifecycle_deleted *out)
{
    lifecycle_deleted *v = NULL;
    size_t n = 0;
    int rc = lifecycle_deleted_list(home, &v, &n), found = 0;
    for (size_t i = 0; !rc && i < n; i++)
        if (!strcmp(v[i].name, name) && v[i].keep_until_us > clock_now_us()) {
            *out = v[i];
            found = 1;
        }
    free(v);
    if (rc) return rc;
    return found ? 0 : err_set(TM_ENOTFOUND, "no deleted table %s is kept", name);
}

static cJSON *deleted_json(const lifecycle_deleted *d)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "TableName", d->name);
    lc_add_time(j, "DeletionTime", d->deleted_us);
    cJSON_AddNumberToObject(j, "RecoveryPeriodInDays", d->period_days);
    lc_add_time(j, "EarliestRestorableDateTime", d->earliest_us);
    lc_add_time(j, "LatestRestorableDateTime", d->deleted_us);
    lc_add_time(j, "KeptUntil", d->keep_until_us);
    return j;
}

void lifecycle_deleted_json(const char *home, cJSON *res)
{
    lifecycle_deleted *v = NULL;
    size_t n = 0;
    if (lifecycle_deleted_list(home, &v, &n)) return;
    cJSON *a = cJSON_AddArrayToObject(res, "DeletedTables");
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, deleted_json(&v[i]));
    free(v);
}

/* Renamed out of the listing first, so that a half-removed entry is never listed. */
static int purge_one(const char *entry)
{
    char gone[PATH_MAX + 16];
    const char *slash = strrchr(entry, '/');
    if (!slash) return err_set(TM_EINVAL, "%s: not a deleted table's entry", entry);
    snprintf(gone, sizeof gone, "%.*s/.%s.purge", (int)(slash - entry), entry, slash + 1);
    if (rename(entry, gone) < 0) return err_sys(TM_EIO, errno, "rename %s", entry);
    fsx_fsync_parent(entry);
    return fsx_rmtree(gone);
}

void lc_purge_deleted(const char *home, int dry_run, cJSON *res)
{
    lifecycle_deleted *v = NULL;
    size_t n = 0;
    if (lifecycle_deleted_list(home, &v, &n)) return;
    cJSON *a = cJSON_AddArrayToObject(res, "DeletedTablesPurged");
    int64_t now = clock_now_us();
    for (size_t i = 0; i < n; i++) {
        if (v[i].keep_until_us > now) continue;
        cJSON *j = deleted_json(&v[i]);
        if (!dry_run && purge_one(v[i].home))
            cJSON_AddStringToObject(j, "Error", err_msg());
        cJSON_AddItemToArray(a, j);
    }
    free(v);
}
