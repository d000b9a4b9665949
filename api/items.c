/* items.c: the data-plane operations: PutItem, GetItem, UpdateItem, DeleteItem, Query, Scan,
 * BatchWriteItem and BatchGetItem, with their expressions (engine/expr.h). */
#include "api/ops.h"
#include "engine/err.h"
#include "engine/expr.h"

#include <stdlib.h>
#include <string.h>

/* ================================================================ expressions */

/* The expressions of one request, parsed against one env. */
typedef struct exprs {
    expr_env *env;
    expr_cond *cond, *filter;
    expr_update *update;
    expr_proj *proj;
    expr_keycond keycond;
    expr_write w;
} exprs;

static void exprs_free(exprs *x)
{
    expr_cond_free(x->cond);
    expr_cond_free(x->filter);
    expr_update_free(x->update);
    expr_proj_free(x->proj);
    expr_env_free(x->env);
    memset(x, 0, sizeof *x);
}

/* The members exprs_parse reads: a request with none of them (most GetItem and PutItem) has
 * no expression to parse, and skips building an empty environment. */
static const char *const expr_members[] = {"ConditionExpression", "FilterExpression", "UpdateExpression",
                                           "KeyConditionExpression", "ProjectionExpression",
                                           "ExpressionAttributeNames", "ExpressionAttributeValues"};

static int has_expr_member(const cJSON *req)
{
    for (const cJSON *c = req->child; c; c = c->next)
        for (size_t i = 0; i < sizeof expr_members / sizeof *expr_members; i++)
            if (c->string && !strcmp(c->string, expr_members[i])) return 1;
    return 0;
}

/* Parses the request's expressions (keycond needs ks); e names the member. */
static int exprs_parse(const cJSON *req, const key_schema *ks, exprs *x, tm_error *e)
{
    const char *cond, *filter, *update, *keycond, *proj;
    if (!has_expr_member(req)) {
        memset(x, 0, sizeof *x);
        return 0;
    }
    char *names = req_text(req, "ExpressionAttributeNames"), *values = req_text(req, "ExpressionAttributeValues");
    int k, rc;
    memset(x, 0, sizeof *x);
    if ((k = req_str(req, "ConditionExpression", 0, &cond, e)) || (k = req_str(req, "FilterExpression", 0, &filter, e)) ||
        (k = req_str(req, "UpdateExpression", 0, &update, e)) ||
        (k = req_str(req, "KeyConditionExpression", 0, &keycond, e)) ||
        (k = req_str(req, "ProjectionExpression", 0, &proj, e)))
        goto out;
    if ((rc = expr_env_new(names, values, &x->env))) goto fail;
    if (cond && (rc = expr_cond_parse(cond, x->env, &x->cond))) goto fail;
    if (filter && (rc = expr_cond_parse(filter, x->env, &x->filter))) {
        k = tm_error_from(e, rc, "FilterExpression: ");
        goto out;
    }
    if (update && ((rc = expr_update_parse(update, x->env, &x->update)) ||
                   (rc = expr_update_check_keys(x->update, ks))))
        goto fail;
    if (keycond && (rc = expr_keycond_parse(keycond, x->env, ks, &x->keycond))) goto fail;
    if (proj && (rc = expr_proj_parse(proj, x->env, &x->proj))) goto fail;
    if ((names || values) && (rc = expr_env_check_unused(x->env))) goto fail;
    x->w.cond = x->cond;
    x->w.update = x->update;
    goto out;
fail:
    k = tm_error_from(e, rc, NULL);
out:
    free(names);
    free(values);
    return k;
}

/* An item as ProjectionExpression keeps it (it itself without one); *out NULL for NULL. */
static int project(const exprs *x, item **it, tm_error *e)
{
    item *p;
    if (!x->proj || !*it) return 0;
    int rc = expr_proj_apply(x->proj, *it, &p);
    if (rc) return tm_error_from(e, rc, NULL);
    item_free(*it);
    *it = p;
    return 0;
}

/* ReturnValues, as DynamoDB defines them: PutItem and DeleteItem take NONE and ALL_OLD,
 * UpdateItem all five. */
enum { RV_NONE, RV_ALL_OLD, RV_UPDATED_OLD, RV_ALL_NEW, RV_UPDATED_NEW };
static const char *const rv_names[] = {"NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"};

static int return_values(const cJSON *req, int update, int *want, tm_error *e)
{
    const char *v;
    int k = req_str(req, "ReturnValues", 0, &v, e);
    *want = RV_NONE;
    if (k || !v) return k;
    for (int i = 0; i < (update ? 5 : 2); i++)
        if (!strcmp(v, rv_names[i])) {
            *want = i;
            return 0;
        }
    if (update)
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "ReturnValues must be NONE, ALL_OLD, UPDATED_OLD, "
                            "ALL_NEW or UPDATED_NEW, not '%s'", v);
    return tm_error_set(e, TM_ERR_BAD_PARAMETER, "ReturnValues must be NONE or ALL_OLD here, not '%s'", v);
}

/* ================================================================ single items */

/* What PutItem, UpdateItem and DeleteItem share: the table open for writing, the key or
 * item, the expressions. */
typedef struct write_req {
    const char *name;
    table *t;
    table_info info;
    item *it;                    /* Item (put) or Key */
    exprs x;
    int want;                    /* ReturnValues asked for the image */
} write_req;

static int write_begin(tm_db *db, const cJSON *req, const char *member, int update, write_req *w, tm_error *e)
{
    int k;
    memset(w, 0, sizeof *w);
    if ((k = req_table_name(req, &w->name, e)) || (k = return_values(req, update, &w->want, e))) return k;
    if (!strcmp(member, "Item") && !cJSON_GetObjectItemCaseSensitive(req, "Item"))
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "Item is required");
    if ((k = api_open_table(db, w->name, API_KEEP_OPEN, &w->t, &w->info, e))) return k;
    if (!strcmp(member, "Item")) k = req_item(req, "Item", 0, &w->it, e);
    else k = req_key(req, "Key", &w->info.ks, &w->it, e);
    if (!k) k = exprs_parse(req, &w->info.ks, &w->x, e);
    return k;
}

static void write_end(tm_db *db, write_req *w)
{
    exprs_free(&w->x);
    item_free(w->it);
    api_close_table(db, w->name, w->t);
}

/* The response: {"Attributes": image} when asked for, else {}. */
static int write_done(int rc, const item *img, int want, cJSON **resp, tm_error *e)
{
    if (rc) return tm_error_from(e, rc, NULL);
    *resp = want ? shape_item_response("Attributes", img, e) : cJSON_CreateObject();
    return *resp ? 0 : (e && e->kind ? e->kind : tm_error_set(e, TM_ERR_INTERNAL, "out of memory"));
}

int tm_put_item(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    write_req w;
    item *old = NULL;
    *resp = NULL;
    int k = write_begin(db, req, "Item", 0, &w, e);
    if (!k) {
        int rc = table_put(w.t, w.it, w.x.cond ? expr_write_check : NULL, &w.x.w, w.want ? &old : NULL);
        k = write_done(rc, old, w.want, resp, e);
    }
    item_free(old);
    write_end(db, &w);
    return k;
}

/* UpdateItem's callbacks: the condition, and a copy of the item as it was before (ALL_OLD,
 * UPDATED_OLD), both inside the write's transaction. */
typedef struct update_ctx {
    expr_write w;
    int keep_old;
    item *old;
} update_ctx;

static int update_check(void *ctx, const item *old)
{
    update_ctx *u = ctx;
    item_free(u->old);
    u->old = NULL;
    if (u->keep_old && old && !(u->old = item_dup(old))) return err_set(TM_ENOMEM, "out of memory");
    return u->w.cond ? expr_write_check(&u->w, old) : 0;
}

static int update_mutate(void *ctx, item *it) { return expr_write_mutate(&((update_ctx *)ctx)->w, it); }

/* UPDATED_OLD / UPDATED_NEW: only the attributes the update names, from img (it NULL: none). */
static int updated_only(const expr_update *u, const item *img, item **out)
{
    *out = NULL;
    if (!img) return 0;
    if (!(*out = item_new())) return err_set(TM_ENOMEM, "out of memory");
    for (int i = 0; i < expr_update_count(u); i++) {
        const av *v = item_get(img, expr_update_name(u, i));
        int rc = v ? item_put(*out, expr_update_name(u, i), v) : 0;
        if (rc) return rc;
    }
    return 0;
}

int tm_update_item(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    write_req w;
    item *nw = NULL, *ret = NULL;
    update_ctx u;
    *resp = NULL;
    memset(&u, 0, sizeof u);
    int k = write_begin(db, req, "Key", 1, &w, e);
    if (!k && !w.x.update) k = tm_error_set(e, TM_ERR_BAD_PARAMETER, "UpdateExpression is required");
    if (!k) {
        u.w = w.x.w;
        u.keep_old = w.want == RV_ALL_OLD || w.want == RV_UPDATED_OLD;
        int rc = table_update(w.t, w.it, update_mutate, update_check, &u, w.want >= RV_ALL_NEW ? &nw : NULL);
        if (!rc && w.want == RV_UPDATED_OLD) rc = updated_only(w.x.update, u.old, &ret);
        if (!rc && w.want == RV_UPDATED_NEW) rc = updated_only(w.x.update, nw, &ret);
        const item *img = w.want == RV_ALL_OLD ? u.old : w.want == RV_ALL_NEW ? nw : ret;
        /* an image with no attribute left (UPDATED_OLD of attributes that were not there) is none */
        if (img && !item_count(img)) img = NULL;
        k = write_done(rc, img, w.want != RV_NONE, resp, e);
    }
    item_free(nw);
    item_free(ret);
    item_free(u.old);
    write_end(db, &w);
    return k;
}

int tm_delete_item(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    write_req w;
    item *old = NULL;
    *resp = NULL;
    int k = write_begin(db, req, "Key", 0, &w, e);
    if (!k) {
        int rc = table_delete_item(w.t, w.it, w.x.cond ? expr_write_check : NULL, &w.x.w, w.want ? &old : NULL);
        k = write_done(rc, old, w.want, resp, e);
    }
    item_free(old);
    write_end(db, &w);
    return k;
}

int tm_get_item(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    const char *name;
    table *t = NULL;
    table_info info;
    item *key = NULL, *it = NULL;
    exprs x;
    int k, rc;
    *resp = NULL;
    if ((k = req_table_name(req, &name, e))) return k;
    if (!cJSON_GetObjectItemCaseSensitive(req, "Key")) return tm_error_set(e, TM_ERR_BAD_PARAMETER, "Key is required");
    memset(&x, 0, sizeof x);
    if (!(k = api_open_table(db, name, TABLE_RDONLY | API_KEEP_OPEN, &t, &info, e)) &&
        !(k = req_key(req, "Key", &info.ks, &key, e)) && !(k = exprs_parse(req, &info.ks, &x, e))) {
        rc = table_get(t, key, &it);
        if (rc && rc != TM_ENOTFOUND) k = tm_error_from(e, rc, NULL);
        else if (!(k = project(&x, &it, e)) && !(*resp = shape_item_response("Item", it, e)))
            k = e && e->kind ? e->kind : TM_ERR_INTERNAL;
    }
    exprs_free(&x);
    item_free(key);
    item_free(it);
    api_close_table(db, name, t);
    return k;
}

/* ================================================================ Query and Scan */

typedef struct read_ctx {
    const expr_cond *filter;
    const expr_proj *proj;
    tm_item_fn fn;
    void *ctx;
    uint64_t count;
    buf line;
} read_ctx;

/* The filter sees the whole item, the response only what the projection keeps. */
static int read_item(void *c, const void *key, size_t kn, const void *img, size_t in)
{
    read_ctx *rc_ = c;
    item *it = NULL, *p = NULL;
    int ok = 1, rc = 0;
    (void)key;
    (void)kn;
    buf_reset(&rc_->line);
    if (rc_->filter || rc_->proj) rc = item_decode(img, in, &it);
    if (!rc && rc_->filter) rc = expr_cond_eval(rc_->filter, it, &ok);
    if (!rc && ok && rc_->proj && !(rc = expr_proj_apply(rc_->proj, it, &p))) rc = item_write_json(p, &rc_->line);
    else if (!rc && ok) rc = item_bin_write_json(img, in, &rc_->line);
    item_free(it);
    item_free(p);
    if (rc || !ok) return rc;
    rc_->count++;
    return rc_->fn(rc_->ctx, rc_->line.data, rc_->line.len);
}

/* Limit, Segment, TotalSegments: numbers in range, or absent (0 / 0 / 0). */
static int req_uint(const cJSON *req, const char *name, double min, double max, uint64_t *out, int *given, tm_error *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
    *out = 0;
    *given = v != NULL;
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max || v->valuedouble != (double)(uint64_t)v->valuedouble)
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "%s must be an integer from %.0f to %.0f", name, min, max);
    *out = (uint64_t)v->valuedouble;
    return 0;
}

static int page_args(const cJSON *req, int is_query, expr_page *pg, uint64_t *seg, uint64_t *total, tm_error *e)
{
    const cJSON *fwd = cJSON_GetObjectItemCaseSensitive(req, "ScanIndexForward");
    int g1, g2, k;
    if ((k = req_uint(req, "Limit", 1, UINT32_MAX, &pg->limit, &g1, e))) return k;
    if (fwd && !cJSON_IsBool(fwd)) return tm_error_set(e, TM_ERR_BAD_PARAMETER, "ScanIndexForward must be a boolean");
    pg->backward = fwd && cJSON_IsFalse(fwd);
    if (is_query) return 0;
    if ((k = req_uint(req, "Segment", 0, 999999, seg, &g1, e)) ||
        (k = req_uint(req, "TotalSegments", 1, 1000000, total, &g2, e)))
        return k;
    if (g1 != g2) return tm_error_set(e, TM_ERR_BAD_PARAMETER, "Segment and TotalSegments go together");
    if (!g2) *total = 1;
    if (*seg >= *total)
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "Segment must be less than TotalSegments (got %llu)",
                            (unsigned long long)*seg);
    return 0;
}

/* max_bytes: where a page ends (EXPR_PAGE_BYTES for the wire's pages, held in memory whole; 0
 * for a front end that streams every item, the CLI's scan). */
static int read_each(tm_db *db, const cJSON *req, int is_query, uint64_t max_bytes, tm_item_fn fn, void *ctx,
                     cJSON **resp, tm_error *e)
{
    const char *name;
    table *t = NULL;
    table_info info;
    table_read *r = NULL;
    item *esk = NULL;
    exprs x;
    expr_page pg = EXPR_PAGE_INIT;
    pg.max_bytes = max_bytes;
    buf last = BUF_INIT;
    read_ctx rc_ = {NULL, NULL, fn, ctx, 0, BUF_INIT};
    uint64_t scanned = 0, seg = 0, total = 1;
    int k, rc = 0;
    *resp = NULL;
    memset(&x, 0, sizeof x);
    if ((k = req_table_name(req, &name, e)) || (k = page_args(req, is_query, &pg, &seg, &total, e))) return k;
    if (is_query && !cJSON_GetObjectItemCaseSensitive(req, "KeyConditionExpression"))
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "KeyConditionExpression is required");
    if ((k = api_open_table(db, name, TABLE_RDONLY | API_KEEP_OPEN, &t, &info, e)) || (k = exprs_parse(req, &info.ks, &x, e)) ||
        (k = req_item(req, "ExclusiveStartKey", ITEM_PARSE_NOLIMITS, &esk, e)))
        goto out;
    pg.start = esk;
    rc_.filter = x.filter;
    rc_.proj = x.proj;
    if ((rc = table_read_begin(t, &r))) goto out;
    if (is_query) rc = expr_query_run(r, &info.ks, &x.keycond, &pg, read_item, &rc_, &last, &scanned);
    else rc = expr_scan_run(r, &info.ks, (uint32_t)seg, (uint32_t)total, &pg, read_item, &rc_, &last, &scanned);
    if (rc) goto out;
    *resp = cJSON_CreateObject();
    cJSON_AddNumberToObject(*resp, "Count", (double)rc_.count);
    cJSON_AddNumberToObject(*resp, "ScannedCount", (double)scanned);
    if (last.len) cJSON_AddItemToObject(*resp, "LastEvaluatedKey", cJSON_ParseWithLength(last.data, last.len));
out:
    if (rc) k = tm_error_from(e, rc, NULL);
    table_read_end(r);
    exprs_free(&x);
    item_free(esk);
    buf_free(&last);
    buf_free(&rc_.line);
    api_close_table(db, name, t);
    return k;
}

int tm_query_each(tm_db *db, const cJSON *req, tm_item_fn fn, void *ctx, cJSON **resp, tm_error *e)
{
    return read_each(db, req, 1, 0, fn, ctx, resp, e);
}

int tm_scan_each(tm_db *db, const cJSON *req, tm_item_fn fn, void *ctx, cJSON **resp, tm_error *e)
{
    return read_each(db, req, 0, 0, fn, ctx, resp, e);
}

static int collect(void *ctx, const char *json, size_t len)
{
    cJSON *x = cJSON_ParseWithLength(json, len);
    if (!x) return err_set(TM_ENOMEM, "out of memory");
    cJSON_AddItemToArray(ctx, x);
    return 0;
}

static int count_only(void *ctx, const char *json, size_t len)
{
    (void)ctx;
    (void)json;
    (void)len;
    return 0;
}

/* Select: ALL_ATTRIBUTES, SPECIFIC_ATTRIBUTES (with ProjectionExpression) or COUNT (no Items). */
static int select_count(const cJSON *req, int *count, tm_error *e)
{
    const char *sel;
    int k = req_str(req, "Select", 0, &sel, e);
    *count = sel && !strcmp(sel, "COUNT");
    if (k || !sel || *count || !strcmp(sel, "ALL_ATTRIBUTES") || !strcmp(sel, "SPECIFIC_ATTRIBUTES")) return k;
    return tm_error_set(e, TM_ERR_BAD_PARAMETER, "Select must be ALL_ATTRIBUTES, SPECIFIC_ATTRIBUTES or COUNT, "
                        "not '%s'", sel);
}

/* Items first, as DynamoDB's response shape orders them. A page ends after 1 MB read, with
 * LastEvaluatedKey, as DynamoDB's does (a caller pages on). */
static int read_all(tm_db *db, const cJSON *req, int is_query, cJSON **resp, tm_error *e)
{
    cJSON *items = NULL, *rest = NULL;
    int count, k = select_count(req, &count, e);
    *resp = NULL;
    if (k) return k;
    items = cJSON_CreateArray();
    if ((k = read_each(db, req, is_query, EXPR_PAGE_BYTES, count ? count_only : collect, items, &rest, e))) {
        cJSON_Delete(items);
        return k;
    }
    *resp = cJSON_CreateObject();
    if (count) cJSON_Delete(items);
    else cJSON_AddItemToObject(*resp, "Items", items);
    while (rest->child) {
        cJSON *c = cJSON_DetachItemViaPointer(rest, rest->child);
        cJSON_AddItemToObject(*resp, c->string, c);
    }
    cJSON_Delete(rest);
    return 0;
}

int tm_query(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e) { return read_all(db, req, 1, resp, e); }
int tm_scan(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e) { return read_all(db, req, 0, resp, e); }

/* ================================================================ batches */

#define BATCH_WRITE_MAX 25
#define BATCH_GET_MAX 100

static int request_items(const cJSON *req, int max, const char *op, tm_error *e)
{
    const cJSON *ri = cJSON_GetObjectItemCaseSensitive(req, "RequestItems"), *tb;
    int n = 0;
    if (!cJSON_IsObject(ri) || !ri->child)
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "RequestItems is required: {\"<table>\": [...]}");
    cJSON_ArrayForEach(tb, ri) {
        const cJSON *list = cJSON_IsObject(tb) ? cJSON_GetObjectItemCaseSensitive(tb, "Keys") : tb;
        n += cJSON_GetArraySize(list);
        if (table_check_name(tb->string)) {
            tm_error_from(e, TM_EINVAL, NULL);
            if (e) e->kind = TM_ERR_BAD_PARAMETER;
            return TM_ERR_BAD_PARAMETER;
        }
    }
    if (n > max) return tm_error_set(e, TM_ERR_VALIDATION, "Too many items requested for the %s call (%d; at most %d)", op, n, max);
    return 0;
}

/* One table's writes, in one batch: atomic and durable together. */
static int batch_write_table(tm_db *db, const cJSON *tb, tm_error *e)
{
    table *t = NULL;
    table_info info;
    table_batch *b = NULL;
    const cJSON *w;
    int k, rc = 0;
    if ((k = api_open_table(db, tb->string, API_KEEP_OPEN, &t, &info, e))) return k;
    if ((rc = table_batch_begin(t, &b))) goto out;
    cJSON_ArrayForEach(w, tb) {
        const cJSON *put = cJSON_GetObjectItemCaseSensitive(w, "PutRequest");
        const cJSON *del = cJSON_GetObjectItemCaseSensitive(w, "DeleteRequest");
        item *it = NULL;
        if (!put == !del) {
            k = tm_error_set(e, TM_ERR_VALIDATION, "each write request needs a PutRequest or a DeleteRequest");
            break;
        }
        if (put) k = req_item(put, "Item", 0, &it, e);
        else k = req_key(del, "Key", &info.ks, &it, e);
        if (!k && !it) k = tm_error_set(e, TM_ERR_VALIDATION, "PutRequest needs an Item");
        if (!k && (rc = put ? table_batch_put(b, it) : table_batch_delete(b, it))) k = tm_error_from(e, rc, NULL);
        item_free(it);
        if (k) break;
    }
    if (k) table_batch_abort(b);
    else if ((rc = table_batch_commit(b))) k = tm_error_from(e, rc, NULL);
    b = NULL;
out:
    if (rc && !k) k = tm_error_from(e, rc, NULL);
    api_close_table(db, tb->string, t);
    return k;
}

int tm_batch_write_item(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    const cJSON *tb;
    int k;
    *resp = NULL;
    if ((k = request_items(req, BATCH_WRITE_MAX, "BatchWriteItem", e))) return k;
    cJSON_ArrayForEach(tb, cJSON_GetObjectItemCaseSensitive(req, "RequestItems")) {
        if (!cJSON_IsArray(tb)) return tm_error_set(e, TM_ERR_VALIDATION, "RequestItems.%s must be a list", tb->string);
        if ((k = batch_write_table(db, tb, e))) return k;
    }
    *resp = cJSON_CreateObject();
    cJSON_AddObjectToObject(*resp, "UnprocessedItems");
    return 0;
}

/* One table's keys, read from one snapshot. */
static int batch_get_table(tm_db *db, const cJSON *tb, cJSON *out, tm_error *e)
{
    table *t = NULL;
    table_info info;
    const cJSON *kj;
    exprs x;
    int k;
    memset(&x, 0, sizeof x);
    if ((k = api_open_table(db, tb->string, TABLE_RDONLY | API_KEEP_OPEN, &t, &info, e))) return k;
    if ((k = exprs_parse(tb, &info.ks, &x, e))) {
        api_close_table(db, tb->string, t);
        return k;
    }
    cJSON *arr = cJSON_AddArrayToObject(out, tb->string);
    cJSON_ArrayForEach(kj, cJSON_GetObjectItemCaseSensitive(tb, "Keys")) {
        item *key = NULL, *it = NULL;
        cJSON *wrap = cJSON_CreateObject();   /* {"Key": kj}, kj referenced, not copied */
        cJSON_AddItemReferenceToObject(wrap, "Key", (cJSON *)kj);
        k = req_key(wrap, "Key", &info.ks, &key, e);
        cJSON_Delete(wrap);
        if (k) break;
        int rc = table_get(t, key, &it);
        item_free(key);
        if (rc && rc != TM_ENOTFOUND) {
            k = tm_error_from(e, rc, NULL);
            break;
        }
        if ((k = project(&x, &it, e))) {
            item_free(it);
            break;
        }
        if (it) {
            cJSON *j = shape_item(it, e);
            item_free(it);
            if (!j) {
                k = e && e->kind ? e->kind : TM_ERR_INTERNAL;
                break;
            }
            cJSON_AddItemToArray(arr, j);
        }
    }
    exprs_free(&x);
    api_close_table(db, tb->string, t);
    return k;
}

int tm_batch_get_item(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    const cJSON *tb;
    int k;
    *resp = NULL;
    if ((k = request_items(req, BATCH_GET_MAX, "BatchGetItem", e))) return k;
    cJSON *r = cJSON_CreateObject(), *res = cJSON_AddObjectToObject(r, "Responses");
    cJSON_ArrayForEach(tb, cJSON_GetObjectItemCaseSensitive(req, "RequestItems")) {
        if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(tb, "Keys"))) {
            cJSON_Delete(r);
            return tm_error_set(e, TM_ERR_VALIDATION, "RequestItems.%s needs Keys: a list of keys", tb->string);
        }
        if ((k = batch_get_table(db, tb, res, e))) {
            cJSON_Delete(r);
            return k;
        }
    }
    cJSON_AddObjectToObject(r, "UnprocessedKeys");
    *resp = r;
    return 0;
}
