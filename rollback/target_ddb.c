/* target_ddb.c: rollback's target on a table of a DynamoDB-API endpoint (Amazon DynamoDB,
 * DynamoDB Local, ScyllaDB Alternator, dynalite), through remote/ddb.h: SigV4, the AWS
 * configuration chain, a pool of `jobs` connections, retries with backoff.
 *
 * READING FIRST (dry runs, --on-conflict fail): BatchGetItem, ConsistentRead, 100 keys per
 * call (the service's limit), UnprocessedKeys asked again with a growing pause (throttling
 * answers are retried inside ddb_call); one round trip per 100 records instead of 100.
 *
 * THE CHECK TRAVELS WITH THE WRITE. Per record: GetItem (ConsistentRead) classifies the item
 * (rollback.h). To restore, PutItem (or DeleteItem) carries a ConditionExpression built from the
 * expected image: `#a0 = :v0 AND #a1 = :v1 ...` over every attribute of it, or
 * `attribute_not_exists(#pk)` when the item must be absent; a write that changed any of those
 * attributes after the GetItem fails the condition and is a conflict (its current image comes
 * back with ReturnValuesOnConditionCheckFailure ALL_OLD).
 *
 * WHAT DYNAMODB CANNOT SAY: "and no other attribute". The GetItem saw exactly the expected
 * attributes (else it was a conflict already), so the one write the condition does not catch
 * is one that, between the GetItem and the PutItem (one round trip), adds a NEW attribute and
 * leaves every expected attribute as it was. So the checked write asks for the image it
 * replaced (ReturnValues ALL_OLD): when that is not exactly the expected image, the rollback
 * puts it back at once, on the condition that the item is still what the rollback wrote (a
 * later write stands), and reports a conflict. The other writer's change is kept; a reader
 * may see the rolled-back image for that one round trip. Deletes are handled the same way.
 *
 * LIMITS: a ConditionExpression is at most 4 KB and 300 operators (EXPR_MAX_*): an expected
 * image of more than about 150 attributes is refused by the service (the run stops with its
 * message).
 *
 * --on-conflict overwrite: one unconditional PutItem/DeleteItem with ReturnValues ALL_OLD, its
 * answer classified after the fact (reported as OVERWRITTEN when it was neither image). */
#include "rollback/rollback_internal.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "remote/ddb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct remote {
    rb_target base;
    ddb_client *c;
    const char *table;
} remote;

/* ---- JSON <-> images ---------------------------------------------------------------------- */

static cJSON *img_json(const unsigned char *p, uint32_t n)
{
    buf b = BUF_INIT;
    cJSON *j = NULL;
    if (!item_bin_write_json(p, n, &b) && !buf_putc(&b, 0)) j = cJSON_Parse(b.data);
    buf_free(&b);
    return j;
}

/* The encoding of a JSON item (NULL j: absent -> *out NULL). */
static int json_img(const cJSON *j, buf *out, int *present)
{
    *present = 0;
    if (!cJSON_IsObject(j)) return 0;
    char *t = cJSON_PrintUnformatted(j);
    item *it = NULL;
    int rc = t ? item_parse_json(t, strlen(t), 0, &it) : err_set(TM_ENOMEM, "out of memory");
    if (!rc) rc = item_encode(it, out);
    if (!rc) *present = 1;
    item_free(it);
    free(t);
    return rc;
}

/* Classifies the item j (a GetItem's Item, an ALL_OLD answer; NULL: absent). */
static int classify_json(rb_rec *r, const cJSON *j, int force)
{
    buf b = BUF_INIT;
    int present;
    int rc = json_img(j, &b, &present);
    if (rc) return err_wrap(rc, "the endpoint's item: ");
    r->action = rb_classify(r, present ? b.data : NULL, b.len);
    if (r->action == ROLLBACK_CONFLICT) {
        rc = rb_keep_current(r, present ? b.data : NULL, b.len);
        if (force) r->action = ROLLBACK_OVERWRITTEN;
    }
    buf_free(&b);
    return rc;
}

/* ---- requests ----------------------------------------------------------------------------- */

static cJSON *base_request(remote *m, const rb_rec *r, int put)
{
    cJSON *q = cJSON_CreateObject();
    cJSON_AddStringToObject(q, "TableName", m->table);
    cJSON_AddItemToObject(q, put ? "Item" : "Key", put ? img_json(r->target, r->tn)
                                                       : img_json(r->keys, r->ksn));
    return q;
}

/* The condition that the item is exactly r->expect (as far as DynamoDB can say: see above). */
static int add_condition(remote *m, const rb_rec *r, cJSON *q)
{
    buf c = BUF_INIT;
    cJSON *names = cJSON_AddObjectToObject(q, "ExpressionAttributeNames");
    char nm[24], vm[24];
    int rc = 0;
    if (!r->expect) {
        cJSON_AddStringToObject(names, "#k", m->base.ks.hash_name);
        rc = buf_puts(&c, "attribute_not_exists(#k)");
    } else {
        cJSON *ex = img_json(r->expect, r->en), *a;
        cJSON *vals = cJSON_AddObjectToObject(q, "ExpressionAttributeValues");
        int i = 0;
        cJSON_ArrayForEach(a, ex) {
            snprintf(nm, sizeof nm, "#a%d", i);
            snprintf(vm, sizeof vm, ":v%d", i);
            cJSON_AddStringToObject(names, nm, a->string);
            cJSON_AddItemToObject(vals, vm, cJSON_Duplicate(a, 1));
            if (!rc) rc = buf_printf(&c, "%s%s = %s", i ? " AND " : "", nm, vm);
            i++;
        }
        cJSON_Delete(ex);
    }
    if (!rc) rc = buf_putc(&c, 0);
    if (!rc) cJSON_AddStringToObject(q, "ConditionExpression", c.data);
    cJSON_AddStringToObject(q, "ReturnValuesOnConditionCheckFailure", "ALL_OLD");
    buf_free(&c);
    return rc;
}

static int remote_read(rb_target *bt, rb_rec *r)
{
    remote *m = (remote *)bt;
    cJSON *q = base_request(m, r, 0), *resp = NULL;
    cJSON_AddBoolToObject(q, "ConsistentRead", 1);
    int rc = ddb_call(m->c, "GetItem", q, &resp, NULL);
    if (!rc) rc = classify_json(r, cJSON_GetObjectItemCaseSensitive(resp, "Item"), 0);
    cJSON_Delete(q);
    cJSON_Delete(resp);
    return rc;
}

/* ---- BatchGetItem ------------------------------------------------------------------------- */

#define BATCH_GET_MAX 100           /* keys per BatchGetItem: the service's limit */
#define BATCH_GET_TRIES 12          /* rounds for UnprocessedKeys before giving up */

/* The record of v[0..n) whose key is the item j's (NULL: none). */
static rb_rec *match(remote *m, rb_rec *v, size_t n, const cJSON *j, buf *k)
{
    buf b = BUF_INIT;
    int present;
    item *it = NULL;
    rb_rec *hit = NULL;
    buf_reset(k);
    if (json_img(j, &b, &present) || !present || item_decode(b.data, b.len, &it) ||
        key_encode_item(&m->base.ks, it, k))
        goto out;
    for (size_t i = 0; i < n && !hit; i++)
        if (v[i].kn == k->len && !memcmp(v[i].key, k->data, k->len)) hit = &v[i];
out:
    item_free(it);
    buf_free(&b);
    return hit;
}

/* One BatchGetItem round over the keys of req; classifies what came back (found[i] set) and
 * hands back the UnprocessedKeys request (NULL when none). */
static int batch_round(remote *m, rb_rec *v, size_t n, char *found, cJSON *req, cJSON **again)
{
    cJSON *resp = NULL;
    buf k = BUF_INIT;
    *again = NULL;
    int rc = ddb_call(m->c, "BatchGetItem", req, &resp, NULL);
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(
                               cJSON_GetObjectItemCaseSensitive(resp, "Responses"), m->table)) {
        rb_rec *r = rc ? NULL : match(m, v, n, it, &k);
        if (!r) continue;
        found[r - v] = 1;
        rc = classify_json(r, it, 0);
    }
    cJSON *un = cJSON_GetObjectItemCaseSensitive(resp, "UnprocessedKeys");
    if (!rc && cJSON_GetArraySize(un) > 0) {
        *again = cJSON_CreateObject();
        cJSON_AddItemToObject(*again, "RequestItems", cJSON_DetachItemViaPointer(resp, un));
    }
    buf_free(&k);
    cJSON_Delete(resp);
    return rc;
}

/* The current images of up to 100 records. */
static int batch_get(remote *m, rb_rec *v, size_t n)
{
    char found[BATCH_GET_MAX] = {0};
    cJSON *req = cJSON_CreateObject(), *again = NULL;
    cJSON *t = cJSON_AddObjectToObject(cJSON_AddObjectToObject(req, "RequestItems"), m->table);
    cJSON *keys = cJSON_AddArrayToObject(t, "Keys");
    cJSON_AddBoolToObject(t, "ConsistentRead", 1);
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(keys, img_json(v[i].keys, v[i].ksn));
    int rc = 0, tries = 0;
    while (!rc && req) {
        if (tries && tries >= BATCH_GET_TRIES) {
            rc = err_set(TM_EREMOTE, "BatchGetItem: keys still unprocessed after %d rounds", tries);
            break;
        }
        if (tries) usleep((useconds_t)(10000u << (tries < 8 ? tries : 8)));   /* 20 ms .. 2.5 s */
        rc = batch_round(m, v, n, found, req, &again);
        cJSON_Delete(req);
        req = again;
        again = NULL;
        tries++;
    }
    cJSON_Delete(req);
    for (size_t i = 0; !rc && i < n; i++)   /* not returned: absent */
        if (!found[i]) rc = classify_json(&v[i], NULL, 0);
    return rc ? err_wrap(rc, "BatchGetItem: ") : 0;
}

static int remote_read_all(rb_target *bt, rb_rec *v, size_t n, progress *prog)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i += BATCH_GET_MAX) {
        size_t k = n - i < BATCH_GET_MAX ? n - i : BATCH_GET_MAX;
        rc = batch_get((remote *)bt, v + i, k);
        progress_add(prog, k, 0);
    }
    return rc;
}

/* The checked write replaced old, which was not the expected image: old goes back where the
 * item is still what the write left (r->target, or absent after a delete). */
static int put_back(remote *m, const rb_rec *r, const cJSON *old)
{
    rb_rec wrote = *r;
    wrote.expect = r->target;
    wrote.en = r->tn;
    cJSON *q = cJSON_CreateObject(), *resp = NULL;
    cJSON_AddStringToObject(q, "TableName", m->table);
    cJSON_AddItemToObject(q, "Item", cJSON_Duplicate(old, 1));
    int rc = add_condition(m, &wrote, q);
    if (!rc) rc = ddb_call(m->c, "PutItem", q, &resp, NULL);
    if (rc == TM_ECONDITION) rc = 0;   /* written again since: that write stands */
    cJSON_Delete(q);
    cJSON_Delete(resp);
    return rc;
}

/* Testing knobs for the window between the read and the write: TIDEMARK_TEST_ROLLBACK_PAUSED
 * names a file made when it opens; then the write waits until the file named by
 * TIDEMARK_TEST_ROLLBACK_RESUME exists (60 s at most), or TIDEMARK_TEST_ROLLBACK_PAUSE_MS. */
static void test_pause(void)
{
    const char *mark = getenv("TIDEMARK_TEST_ROLLBACK_PAUSED"), *resume = getenv("TIDEMARK_TEST_ROLLBACK_RESUME");
    const char *ms = getenv("TIDEMARK_TEST_ROLLBACK_PAUSE_MS");
    if (mark && *mark) fsx_write_atomic(mark, "", 0);
    for (int i = 0; resume && *resume && !fsx_exists(resume) && i < 6000; i++) usleep(10000);
    if (ms && *ms) usleep((useconds_t)strtoul(ms, NULL, 10) * 1000);
}

static int remote_write(rb_target *bt, rb_rec *r, int force)
{
    remote *m = (remote *)bt;
    int rc;
    if (!force) {
        if ((rc = remote_read(bt, r))) return rc;
        if (r->action != ROLLBACK_RESTORE && r->action != ROLLBACK_DELETE) return 0;
        test_pause();
    }
    rollback_action planned = r->action;
    const char *op = r->target ? "PutItem" : "DeleteItem";
    cJSON *q = base_request(m, r, r->target != NULL), *resp = NULL;
    cJSON_AddStringToObject(q, "ReturnValues", "ALL_OLD");
    rc = force ? 0 : add_condition(m, r, q);
    if (!rc) rc = ddb_call(m->c, op, q, &resp, NULL);
    if (rc == TM_ECONDITION && !force) {   /* written after the GetItem: a conflict */
        rc = classify_json(r, cJSON_GetObjectItemCaseSensitive(resp, "Item"), 0);
        if (!rc && r->action == planned) r->action = ROLLBACK_CONFLICT;   /* unseen change */
    } else if (!rc && !force) {
        /* the condition held: was the replaced image exactly the expected one? */
        const cJSON *old = cJSON_GetObjectItemCaseSensitive(resp, "Attributes");
        buf b = BUF_INIT;
        int present;
        rc = json_img(cJSON_GetArraySize(old) ? old : NULL, &b, &present);
        if (!rc && rb_classify(r, present ? b.data : NULL, b.len) != planned) {
            rc = put_back(m, r, old);
            if (!rc) rc = classify_json(r, old, 0);
            if (!rc) r->action = ROLLBACK_CONFLICT;
        }
        buf_free(&b);
    } else if (!rc && force) {
        rc = classify_json(r, cJSON_GetObjectItemCaseSensitive(resp, "Attributes"), 1);
    }
    if (rc) rc = err_wrap(rc, "%s: ", op);
    cJSON_Delete(q);
    cJSON_Delete(resp);
    return rc;
}

static void remote_close(rb_target *bt)
{
    remote *m = (remote *)bt;
    ddb_client_close(m->c);
    free(m);
}

static const rb_target_ops remote_ops = {remote_read, remote_write, NULL, remote_close,
                                         remote_read_all};

int rb_ddb_open(const rollback_options *o, rb_target **out)
{
    ddb_config cfg = DDB_CONFIG_INIT;
    cJSON *desc = NULL;
    remote *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m) return err_set(TM_ENOMEM, "out of memory");
    cfg.endpoint_url = o->endpoint_url;
    cfg.region = o->region;
    cfg.profile = o->profile;
    cfg.max_connections = o->jobs > 0 ? o->jobs : 8;
    m->table = o->table;
    int rc = ddb_client_open(&cfg, &m->c);
    if (!rc) rc = ddb_describe_table(m->c, o->table, &desc, NULL);
    if (!rc) rc = ddb_key_schema(desc, &m->base.ks);
    cJSON_Delete(desc);
    if (rc) {
        ddb_client_close(m->c);
        free(m);
        return rc;
    }
    m->base.ops = &remote_ops;
    *out = &m->base;
    return 0;
}
