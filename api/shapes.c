/* shapes.c: one writer per response shape (TableDescription with RestoreSummary,
 * ContinuousBackupsDescription, items), wire timestamps, and the conversion of a wire response
 * to what the aws CLI v2 prints for it.
 *
 * WIRE TIMES: epoch seconds as JSON numbers with up to 6 decimals (a double holds any
 * microsecond of this era exactly enough: its spacing near 2e9 s is 0.24 µs).
 * AWS CLI FORM: the CLI parses the response with botocore against the operation's output shape
 * and prints json.dumps(indent=4, ensure_ascii=False), timestamps as datetime.isoformat() in
 * local time. The shapes here carry timestamps only in members whose names end in "DateTime"
 * or "Time" (DynamoDB's own naming), so a member is a timestamp when its name says so and its
 * value is a number; members in the order the shape writers emit them. */
#include "api/ops.h"
#include "engine/buf.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/log.h"   /* (its `log` type hides math.h: builtins below) */
#include "engine/text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ================================================================ times */

void tm_json_time(cJSON *obj, const char *name, int64_t us)
{
    /* whole seconds + fraction, so that the double is the nearest to the exact decimal */
    double s = (double)(us / 1000000) + (double)(us % 1000000) / 1e6;
    cJSON_AddNumberToObject(obj, name, s);
}

/* As CPython's datetime.fromtimestamp: modf, the fraction's µs rounded half to even, carry. */
int64_t tm_json_time_us(double epoch_s)
{
    double ip, fp = __builtin_modf(epoch_s, &ip);
    double us = __builtin_nearbyint(fp * 1e6);   /* default rounding mode: half to even */
    if (us >= 1e6) {
        us -= 1e6;
        ip += 1;
    } else if (us < 0) {
        us += 1e6;
        ip -= 1;
    }
    return (int64_t)ip * 1000000 + (int64_t)us;
}

void tm_awscli_time(int64_t us, char *out, size_t n)
{
    time_t s = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
    int frac = (int)(us - (int64_t)s * 1000000);
    struct tm tm;
    char base[40], off[16];
    localtime_r(&s, &tm);
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    long g = tm.tm_gmtoff;
    snprintf(off, sizeof off, "%c%02ld:%02ld", g < 0 ? '-' : '+', labs(g) / 3600, labs(g) % 3600 / 60);
    if (labs(g) % 60) /* isoformat() adds seconds to an offset that has them */
        snprintf(off + strlen(off), sizeof off - strlen(off), ":%02ld", labs(g) % 60);
    if (frac) snprintf(out, n, "%s.%06d%s", base, frac, off);
    else snprintf(out, n, "%s%s", base, off);
}

/* ================================================================ shapes */

static const char *type_tag(av_type t) { return t == AV_S ? "S" : t == AV_N ? "N" : t == AV_B ? "B" : "?"; }

static void key_member(cJSON *ad, cJSON *ks, const char *name, av_type type, const char *role)
{
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "AttributeName", name);
    cJSON_AddStringToObject(x, "AttributeType", type_tag(type));
    cJSON_AddItemToArray(ad, x);
    x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "AttributeName", name);
    cJSON_AddStringToObject(x, "KeyType", role);
    cJSON_AddItemToArray(ks, x);
}

/* Members in the order of DynamoDB's TableDescription shape. */
cJSON *shape_table_description(const table_info *i, const char *status)
{
    cJSON *t = cJSON_CreateObject(), *ad = cJSON_CreateArray(), *ks = cJSON_CreateArray(), *x;
    char arn[TABLE_ARN_MAX];
    key_member(ad, ks, i->ks.hash_name, i->ks.hash_type, "HASH");
    if (i->ks.range_type) key_member(ad, ks, i->ks.range_name, i->ks.range_type, "RANGE");
    cJSON_AddItemToObject(t, "AttributeDefinitions", ad);
    cJSON_AddStringToObject(t, "TableName", i->name);
    cJSON_AddItemToObject(t, "KeySchema", ks);
    cJSON_AddStringToObject(t, "TableStatus", status);
    tm_json_time(t, "CreationDateTime", i->created_us);
    cJSON_AddNumberToObject(t, "TableSizeBytes", (double)i->size_bytes);
    cJSON_AddNumberToObject(t, "ItemCount", (double)i->item_count);
    table_arn(NULL, NULL, i->name, arn, sizeof arn);
    cJSON_AddStringToObject(t, "TableArn", arn);
    cJSON_AddStringToObject(t, "TableId", i->table_id);
    x = cJSON_AddObjectToObject(t, "BillingModeSummary");
    cJSON_AddStringToObject(x, "BillingMode", "PAY_PER_REQUEST");
    if (i->restored) {
        x = cJSON_AddObjectToObject(t, "RestoreSummary");
        if (i->restore.source_backup_arn[0])
            cJSON_AddStringToObject(x, "SourceBackupArn", i->restore.source_backup_arn);
        cJSON_AddStringToObject(x, "SourceTableArn", i->restore.source_table_arn);
        tm_json_time(x, "RestoreDateTime", i->restore.restore_time_us);
        cJSON_AddBoolToObject(x, "RestoreInProgress", i->restore.in_progress);
    }
    /* tidemark's own members, beside DynamoDB's (the aws CLI leaves them out) */
    x = cJSON_AddObjectToObject(t, "Tidemark");
    cJSON_AddStringToObject(x, "Durability", i->durability == LOG_SYNC_NONE ? "none" : "sync");
    cJSON_AddNumberToObject(x, "LogSeq", (double)i->applied_seq);
    if (i->last_write_us) tm_json_time(x, "LastWriteDateTime", i->last_write_us);
    cJSON_AddBoolToObject(x, "PointInTimeRecoveryEnabled", i->pitr_enabled);
    cJSON_AddNumberToObject(x, "SnapshotEverySeconds", (double)i->snapshot_every_s);
    cJSON_AddNumberToObject(x, "SnapshotEveryWrites", (double)i->snapshot_every_writes);
    return t;
}

static int add_gaps(tm_db *db, table *t, const table_info *i, cJSON *p, int64_t latest, tm_error *e)
{
    log_gap *g = NULL;
    size_t ng = 0;
    int rc = table_log_gaps(t, &g, &ng);
    if (rc) return tm_error_from(e, rc, NULL);
    cJSON *ga = ng ? cJSON_AddArrayToObject(p, "UnrestorableGaps") : NULL;
    for (size_t k = 0; k < ng; k++) {
        cJSON *x = cJSON_CreateObject();
        int64_t before = g[k].before_us == INT64_MAX ? latest : g[k].before_us;
        char a[64], b[64];
        cJSON_AddNumberToObject(x, "FirstMissingSeq", (double)g[k].first_seq);
        cJSON_AddNumberToObject(x, "LastMissingSeq", (double)g[k].last_seq);
        if (g[k].after_us) tm_json_time(x, "AfterDateTime", g[k].after_us);
        tm_json_time(x, "BeforeDateTime", before);
        cJSON_AddStringToObject(x, "Reason", g[k].why);
        cJSON_AddItemToArray(ga, x);
        clock_format(g[k].after_us, 6, a, sizeof a);
        clock_format(before, 6, b, sizeof b);
        api_notice(db, "pitr status: table %s: log seqs %" PRIu64 "..%" PRIu64 " are missing (%s): times after %s "
                   "and before %s cannot be restored", i->name, g[k].first_seq, g[k].last_seq, g[k].why,
                   g[k].after_us ? a : "the log's start", b);
    }
    free(g);
    return 0;
}

int shape_continuous_backups(tm_db *db, table *t, const table_info *i, cJSON **out, tm_error *e)
{
    cJSON *j = cJSON_CreateObject(), *d = cJSON_AddObjectToObject(j, "ContinuousBackupsDescription");
    int64_t early = 0, late = 0;
    int rc, k;
    *out = NULL;
    /* As AWS: continuous backups are always ENABLED; PITR is the part that is switched. */
    cJSON_AddStringToObject(d, "ContinuousBackupsStatus", "ENABLED");
    cJSON *p = cJSON_AddObjectToObject(d, "PointInTimeRecoveryDescription");
    cJSON_AddStringToObject(p, "PointInTimeRecoveryStatus", i->pitr_enabled ? "ENABLED" : "DISABLED");
    if (i->pitr_enabled) {
        if ((rc = table_pitr_window(t, &early, &late))) {
            cJSON_Delete(j);
            return tm_error_from(e, rc, NULL);
        }
        cJSON_AddNumberToObject(p, "RecoveryPeriodInDays", i->pitr_period_days);
        /* microseconds: restore takes any microsecond, and ms would cut the last writes off */
        tm_json_time(p, "EarliestRestorableDateTime", early);
        tm_json_time(p, "LatestRestorableDateTime", late);
        /* tidemark's own: times inside the window whose state needs records the log lacks */
        if ((k = add_gaps(db, t, i, p, late, e))) {
            cJSON_Delete(j);
            return k;
        }
    }
    *out = j;
    return 0;
}

cJSON *shape_item(const item *it, tm_error *e)
{
    buf b = BUF_INIT;
    if (!it) return NULL;
    int rc = item_write_json(it, &b);
    cJSON *j = rc ? NULL : cJSON_ParseWithLength((const char *)b.data, b.len);
    buf_free(&b);
    if (rc) tm_error_from(e, rc, NULL);
    else if (!j) tm_error_set(e, TM_ERR_INTERNAL, "out of memory");
    return j;
}

cJSON *shape_item_response(const char *member, const item *it, tm_error *e)
{
    cJSON *r = cJSON_CreateObject();
    if (!r) return NULL;
    if (it) {
        cJSON *x = shape_item(it, e);
        if (!x) {
            cJSON_Delete(r);
            return NULL;
        }
        cJSON_AddItemToObject(r, member, x);
    }
    return r;
}

/* ================================================================ aws CLI form */

static int is_time_member(const cJSON *c)
{
    size_t n = c->string ? strlen(c->string) : 0;
    return cJSON_IsNumber(c) && n >= 4 && !strcmp(c->string + n - 4, "Time");
}

/* A JSON string as Python's json.dumps(ensure_ascii=False) writes it: text_json_str without
 * TEXT_JSON_SAFE escapes exactly what Python does (the two-character escapes, other controls as
 * lowercase \u00xx) and passes DEL and UTF-8 through (api_test checks the bytes). */
static void put_str(buf *o, const char *s) { text_json_str(o, s, strlen(s), 0); }

/* Python's repr: integers whole, other numbers the shortest text that reads back the same. */
static void put_num(buf *o, double d)
{
    char t[40];
    if (d == __builtin_floor(d) && __builtin_fabs(d) < 9.2e18) {
        snprintf(t, sizeof t, "%lld", (long long)d);
    } else {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(t, sizeof t, "%.*g", prec, d);
            if (strtod(t, NULL) == d) break;
        }
    }
    buf_puts(o, t);
}

static void put_pretty(buf *o, const cJSON *j, int ind, int times)
{
    if (cJSON_IsObject(j) || cJSON_IsArray(j)) {
        int obj = cJSON_IsObject(j);
        if (!j->child) {
            buf_puts(o, obj ? "{}" : "[]");
            return;
        }
        buf_puts(o, obj ? "{\n" : "[\n");
        for (const cJSON *c = j->child; c; c = c->next) {
            for (int k = 0; k < ind + 4; k++) buf_putc(o, ' ');
            if (obj) {
                put_str(o, c->string);
                buf_puts(o, ": ");
            }
            if (obj && is_time_member(c)) {
                char ts[48];
                if (times == TM_TIMES_UTC) clock_format(tm_json_time_us(c->valuedouble), 6, ts, sizeof ts);
                else tm_awscli_time(tm_json_time_us(c->valuedouble), ts, sizeof ts);
                put_str(o, ts);
            } else {
                put_pretty(o, c, ind + 4, times);
            }
            buf_puts(o, c->next ? ",\n" : "\n");
        }
        for (int k = 0; k < ind; k++) buf_putc(o, ' ');
        buf_putc(o, obj ? '}' : ']');
    } else if (cJSON_IsString(j)) {
        put_str(o, j->valuestring);
    } else if (cJSON_IsNumber(j)) {
        put_num(o, j->valuedouble);
    } else if (cJSON_IsBool(j)) {
        buf_puts(o, cJSON_IsTrue(j) ? "true" : "false");
    } else if (cJSON_IsRaw(j)) {
        buf_puts(o, j->valuestring);
    } else {
        buf_puts(o, "null");
    }
}

static char *pretty(const cJSON *resp, int times, int empty_is_nothing)
{
    buf o = BUF_INIT;
    if (resp && !(empty_is_nothing && cJSON_IsObject(resp) && !resp->child)) {
        put_pretty(&o, resp, 0, times);
        buf_putc(&o, '\n');
    }
    if (buf_reserve(&o, 1)) {   /* "" for an empty response; NULL only when memory ran out */
        buf_free(&o);
        return NULL;
    }
    o.data[o.len] = '\0';
    return buf_detach(&o);
}

char *tm_awscli_json(const char *operation, const cJSON *resp)
{
    (void)operation;   /* the timestamps are known by name in every shape tidemark writes */
    return pretty(resp, TM_TIMES_AWSCLI, 1);
}

char *tm_json_text(const cJSON *resp, int times) { return pretty(resp, times, 0); }
