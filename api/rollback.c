/* rollback.c (api): TidemarkRollback: request -> rollback_run -> item reports and the summary.
 * Shapes in api/rollback.h. */
#include "api/rollback.h"
#include "api/ops.h"
#include "engine/err.h"
#include "engine/expr.h"
#include "rollback/rollback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ the request */

typedef struct rb_req {
    rollback_options o;
    store_options so;
    const char **values;
    char *names_json, *values_json;
} rb_req;

static void req_free(rb_req *r)
{
    free(r->values);
    free(r->names_json);
    free(r->values_json);
}

static int bad(tm_error *e, const char *fmt, const char *what)
{
    return tm_error_set(e, TM_ERR_BAD_PARAMETER, fmt, what);
}

static int time_member(const cJSON *req, const char *name, int64_t *us, tm_error *e)
{
    char micros[64];
    snprintf(micros, sizeof micros, "%sMicros", name);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(req, name);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(req, micros);
    if ((s && !cJSON_IsNumber(s)) || (m && !cJSON_IsNumber(m)))
        return bad(e, "%s must be a number", s && !cJSON_IsNumber(s) ? name : micros);
    if (m) *us = (int64_t)m->valuedouble;
    else if (s) *us = tm_json_time_us(s->valuedouble);
    return 0;
}

static int key_values(const cJSON *req, rb_req *r, tm_error *e)
{
    const cJSON *kv = cJSON_GetObjectItemCaseSensitive(req, "KeyValues"), *v;
    if (!kv) return 0;
    int n = cJSON_GetArraySize(kv), i = 0;
    if (!cJSON_IsArray(kv) || !n) return bad(e, "%s must be a non-empty list of strings", "KeyValues");
    if (!(r->values = calloc((size_t)n, sizeof *r->values)))
        return tm_error_set(e, TM_ERR_INTERNAL, "out of memory");
    cJSON_ArrayForEach(v, kv) {
        if (!cJSON_IsString(v)) return bad(e, "%s must be a non-empty list of strings", "KeyValues");
        r->values[i++] = v->valuestring;
    }
    r->o.filter.key_values = r->values;
    r->o.filter.nkey_values = (size_t)n;
    return 0;
}

/* The condition parses (a bad expression is the caller's parameter: exit 2). */
static int check_condition(const rollback_filter *f, tm_error *e)
{
    expr_env *env = NULL;
    expr_cond *c = NULL;
    int rc = expr_env_new(f->names_json, f->values_json, &env);
    if (!rc) rc = expr_cond_parse(f->condition, env, &c);
    if (!rc) rc = expr_env_check_unused(env);
    expr_cond_free(c);
    expr_env_free(env);
    return rc ? tm_error_set(e, TM_ERR_BAD_PARAMETER, "ConditionExpression: %s", err_msg()) : 0;
}

static int enum_member(const cJSON *req, const char *name, const char *const *names, int n,
                       int *out, tm_error *e)
{
    const char *s;
    int k = req_str(req, name, 0, &s, e);
    if (k || !s) return k;
    for (int i = 0; i < n; i++)
        if (!strcasecmp(s, names[i])) {
            *out = i;
            return 0;
        }
    return tm_error_set(e, TM_ERR_BAD_PARAMETER, "%s must be one of %s%s%s, not '%s'", name,
                        names[0], n > 2 ? ", " : " or ", n > 2 ? "OVERWRITE or FAIL" : names[1], s);
}

static int parse(tm_db *db, const cJSON *req, rb_req *r, tm_error *e)
{
    static const char *const conflict[] = {"SKIP", "OVERWRITE", "FAIL"};
    static const char *const direction[] = {"UNDO", "APPLY"};
    rollback_options *o = &r->o;
    const cJSON *dry = cJSON_GetObjectItemCaseSensitive(req, "DryRun");
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(req, "Jobs");
    const cJSON *ign = cJSON_GetObjectItemCaseSensitive(req, "TidemarkIgnoreSummaryChecksum");
    int k, oc = 0, dir = 0;
    o->home = tm_db_home(db);
    o->so = &r->so;
    if ((k = req_str(req, "ExportDir", 1, &o->from, e)) || (k = req_table_name(req, &o->table, e)) ||
        (k = req_str(req, "EndpointUrl", 0, &o->endpoint_url, e)) ||
        (k = req_str(req, "Region", 0, &o->region, e)) ||
        (k = req_str(req, "Profile", 0, &o->profile, e)) ||
        (k = req_str(req, "ExportEndpointUrl", 0, &r->so.endpoint_url, e)) ||
        (k = req_str(req, "ExportProfile", 0, &r->so.profile, e)) ||
        (k = req_str(req, "KeyPrefix", 0, &o->filter.key_prefix, e)) ||
        (k = req_str(req, "ConditionExpression", 0, &o->filter.condition, e)) ||
        (k = key_values(req, r, e)) ||
        (k = time_member(req, "WriteTimeFrom", &o->filter.since_us, e)) ||
        (k = time_member(req, "WriteTimeTo", &o->filter.until_us, e)) ||
        (k = enum_member(req, "OnConflict", conflict, 3, &oc, e)) ||
        (k = enum_member(req, "Direction", direction, 2, &dir, e)))
        return k;
    if (dry && !cJSON_IsBool(dry)) return bad(e, "%s must be a boolean", "DryRun");
    if (ign && !cJSON_IsBool(ign))
        return bad(e, "%s must be a boolean", "TidemarkIgnoreSummaryChecksum");
    o->ignore_summary_checksum = cJSON_IsTrue(ign);
    if (jobs && (!cJSON_IsNumber(jobs) || jobs->valuedouble < 1 || jobs->valuedouble > ROLLBACK_MAX_JOBS))
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "Jobs must be a number from 1 to %d", ROLLBACK_MAX_JOBS);
    if (o->filter.until_us && o->filter.since_us >= o->filter.until_us)
        return bad(e, "%s must be after WriteTimeFrom", "WriteTimeTo");
    o->dry_run = cJSON_IsTrue(dry);
    o->jobs = jobs ? (int)jobs->valuedouble : 0;
    o->on_conflict = (rollback_on_conflict)oc;
    o->direction = (rollback_direction)dir;
    o->filter.names_json = r->names_json = req_text(req, "ExpressionAttributeNames");
    o->filter.values_json = r->values_json = req_text(req, "ExpressionAttributeValues");
    if (!o->filter.condition && (r->names_json || r->values_json))
        return bad(e, "%s need a ConditionExpression", "ExpressionAttributeNames/Values");
    return o->filter.condition ? check_condition(&o->filter, e) : 0;
}

/* ================================================================ reports */

typedef struct rb_ctx {
    const tm_rollback_each *each;
    tm_error *e;
} rb_ctx;

static void add_image(cJSON *o, const char *name, const item *it)
{
    if (!it) return;
    cJSON *j = shape_item(it, NULL);
    if (j) cJSON_AddItemToObject(o, name, j);
}

static cJSON *av_json(const av *v)
{
    buf b = BUF_INIT;
    cJSON *j = NULL;
    if (!av_write_json(v, &b) && !buf_putc(&b, 0)) j = cJSON_Parse(b.data);
    buf_free(&b);
    return j;
}

static void add_change(void *ctx, const char *name, const av *from, const av *to)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "Attribute", name);
    if (from) cJSON_AddItemToObject(c, "From", av_json(from));
    if (to) cJSON_AddItemToObject(c, "To", av_json(to));
    cJSON_AddItemToArray(ctx, c);
}

static cJSON *event_json(const rollback_event *ev)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "Action", rollback_action_name(ev->action));
    cJSON_AddBoolToObject(o, "DryRun", ev->dry_run);
    add_image(o, "Keys", ev->keys);
    cJSON_AddNumberToObject(o, "WriteTimestampMicros", (double)ev->write_us);
    if (ev->action == ROLLBACK_CONFLICT || ev->action == ROLLBACK_OVERWRITTEN) {
        if (ev->current) add_image(o, "Current", ev->current);
        else cJSON_AddNullToObject(o, "Current");
    }
    add_image(o, "NewImage", ev->new_image);
    add_image(o, "OldImage", ev->old_image);
    cJSON *ch = cJSON_AddArrayToObject(o, "Changes");
    if (ev->action != ROLLBACK_ALREADY) rollback_changes(ev->current, ev->target, add_change, ch);
    return o;
}

static int on_item(void *ctx, const rollback_event *ev)
{
    rb_ctx *c = ctx;
    if (!c->each || !c->each->fn) return 0;
    cJSON *o = event_json(ev);
    if (!o) return err_set(TM_ENOMEM, "out of memory");
    int rc = c->each->fn(c->each->ctx, o);
    cJSON_Delete(o);
    return rc;
}

static cJSON *summary(const rollback_options *o, const rollback_stats *st)
{
    cJSON *r = cJSON_CreateObject(), *s = cJSON_AddObjectToObject(r, "RollbackSummary");
    cJSON_AddStringToObject(s, "TableName", o->table);
    if (o->endpoint_url) cJSON_AddStringToObject(s, "EndpointUrl", o->endpoint_url);
    cJSON_AddStringToObject(s, "ExportArn", st->export_arn);
    cJSON_AddStringToObject(s, "ExportFromTime", st->export_from);
    cJSON_AddStringToObject(s, "ExportToTime", st->export_to);
    cJSON_AddStringToObject(s, "Direction", o->direction == ROLLBACK_APPLY ? "APPLY" : "UNDO");
    cJSON_AddBoolToObject(s, "DryRun", o->dry_run);
    cJSON_AddNumberToObject(s, "Records", (double)st->records);
    cJSON_AddNumberToObject(s, "Chosen", (double)st->chosen);
    cJSON_AddNumberToObject(s, "Restored", (double)st->restored);
    cJSON_AddNumberToObject(s, "Deleted", (double)st->deleted);
    cJSON_AddNumberToObject(s, "AlreadyRolledBack", (double)st->already);
    cJSON_AddNumberToObject(s, "Conflicts", (double)st->conflicts);
    cJSON_AddNumberToObject(s, "Overwritten", (double)st->overwritten);
    if (!o->endpoint_url) {
        cJSON_AddNumberToObject(s, "LogSeqBefore", (double)st->seq_before);
        cJSON_AddNumberToObject(s, "LogSeqAfter", (double)st->seq_after);
    }
    cJSON_AddNumberToObject(s, "Seconds", st->seconds);
    return r;
}

/* ================================================================ the operation */

int tm_rollback_run(tm_db *db, const cJSON *req, const tm_rollback_each *each, cJSON **resp,
                    tm_error *e)
{
    rb_req r;
    rollback_stats st;
    rb_ctx c = {each, e};
    memset(&r, 0, sizeof r);
    r.o = (rollback_options)ROLLBACK_OPTIONS_INIT;
    r.so = (store_options)STORE_OPTIONS_INIT;
    *resp = NULL;
    int k = parse(db, req, &r, e);
    if (!k) {
        r.o.on_item = on_item;
        r.o.ctx = &c;
        r.o.prog = each ? each->prog : NULL;
        r.o.conflicts_only = each && each->conflicts_only;
        int rc = rollback_run(&r.o, &st);
        if (rc) k = tm_error_from(e, rc, NULL);
        else *resp = summary(&r.o, &st);
    }
    req_free(&r);
    return k;
}

static int collect(void *ctx, const cJSON *report)
{
    cJSON_AddItemToArray(ctx, cJSON_Duplicate(report, 1));
    return 0;
}

int tm_rollback(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    cJSON *items = cJSON_CreateArray();
    tm_rollback_each each = {collect, items, NULL, 0};
    int k = tm_rollback_run(db, req, &each, resp, e);
    if (k) cJSON_Delete(items);
    else cJSON_AddItemToObject(*resp, "Items", items);
    return k;
}
