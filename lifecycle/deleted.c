/* deleted.c: deleted tables whose history is kept for their PITR period (lifecycle.h).
 *
 * LAYOUT: <home>/deleted/<name>@<deletion µs, 16 lowercase hex>/
 *           deleted.json    {"TableName":..., "DeletionTime":µs, "RecoveryPeriodInDays":n}
 *           tables/<name>/  the table directory as it was, moved by one rename
 * CRASH SAFETY: the entry is staged as deleted/.<name>@<hex>.tmp (deleted.json written, then the
 * table directory renamed into it), then renamed to its name. A crash before the last rename
 * leaves the table either in place or inside the staging entry, which the next listing
 * finishes (a staging entry with its table inside is published; an empty one removed). */
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
    if (!nm) {
        cJSON_Delete(j);
        return err_set(TM_ECORRUPT, "%s: not a deleted table's record", path);
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
        if (!dry_run && fsx_rmtree(v[i].home))
            cJSON_AddStringToObject(j, "Error", err_msg());
        cJSON_AddItemToArray(a, j);
    }
    free(v);
}
