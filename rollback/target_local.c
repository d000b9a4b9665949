/* target_local.c: rollback's target on a tidemark table. Records go in batches of
 * BATCH_RECORDS: in each batch's write transaction the current item is read
 * (table_batch_get_bin), compared, and the old image written or the item deleted, so nothing
 * can land between check and write; one durable log commit per batch, as a bulk load (the
 * handle is TABLE_BULK: the write lock is held between batches, LMDB commits are joined). The
 * writes go through the change log like any other: a rollback can be exported and rolled back
 * in turn. local_write (table_put / table_delete_item with a table_check_fn, one item per
 * call) is the same rule for single items. */
#include "rollback/rollback_internal.h"
#include "engine/err.h"
#include "engine/table.h"

#include <stdlib.h>

#define BATCH_RECORDS 1000

typedef struct local {
    rb_target base;
    table *t;
} local;

typedef struct check_ctx {
    rb_rec *r;
    int force;
} check_ctx;

/* Classifies the item as it is inside the write txn; refuses (TM_ECONDITION) what must not be
 * written. */
static int check(void *ctx, const item *old)
{
    check_ctx *c = ctx;
    buf b = BUF_INIT;
    int rc = old ? item_encode(old, &b) : 0;
    if (rc) return rc;
    rollback_action a = rb_classify(c->r, old ? b.data : NULL, b.len);
    if (a == ROLLBACK_CONFLICT) {
        rc = rb_keep_current(c->r, old ? b.data : NULL, b.len);
        if (!rc && c->force) a = ROLLBACK_OVERWRITTEN;
        else if (!rc) rc = err_set(TM_ECONDITION, "conflict");
    } else if (a == ROLLBACK_ALREADY) {
        rc = err_set(TM_ECONDITION, "already rolled back");
    }
    c->r->action = a;
    buf_free(&b);
    return rc;
}

static int local_write(rb_target *bt, rb_rec *r, int force)
{
    local *l = (local *)bt;
    item *it = NULL;
    check_ctx c = {r, force};
    int rc = r->target ? item_decode(r->target, r->tn, &it) : item_decode(r->keys, r->ksn, &it);
    if (!rc) rc = r->target ? table_put(l->t, it, check, &c, NULL)
                            : table_delete_item(l->t, it, check, &c, NULL);
    item_free(it);
    if (rc == TM_ECONDITION && (r->action == ROLLBACK_ALREADY || r->action == ROLLBACK_CONFLICT))
        rc = 0;
    return rc;
}

static int local_read(rb_target *bt, rb_rec *r)
{
    local *l = (local *)bt;
    item *k = NULL, *cur = NULL;
    buf b = BUF_INIT;
    int rc = item_decode(r->keys, r->ksn, &k);
    if (!rc && (rc = table_get(l->t, k, &cur)) == TM_ENOTFOUND) rc = 0;
    if (!rc && cur) rc = item_encode(cur, &b);
    if (!rc) {
        r->action = rb_classify(r, cur ? b.data : NULL, b.len);
        if (r->action == ROLLBACK_CONFLICT) rc = rb_keep_current(r, cur ? b.data : NULL, b.len);
    }
    buf_free(&b);
    item_free(k);
    item_free(cur);
    return rc;
}

/* One record inside the batch's txn: classify, then write, delete or leave alone. */
static int batch_one(table_batch *b, rb_rec *r, int force)
{
    const void *cur;
    size_t cn;
    int rc = table_batch_get_bin(b, r->key, r->kn, &cur, &cn);
    if (rc) return rc;
    r->action = rb_classify(r, cur, cn);
    if (r->action == ROLLBACK_CONFLICT) {
        if ((rc = rb_keep_current(r, cur, cn))) return rc;
        if (!force) return 0;
        r->action = ROLLBACK_OVERWRITTEN;
    }
    if (r->action == ROLLBACK_ALREADY) return 0;
    return r->target ? table_batch_put_bin(b, r->key, r->kn, r->target, r->tn)
                     : table_batch_delete_bin(b, r->key, r->kn);
}

static int local_write_all(rb_target *bt, rb_rec *v, size_t n, int force, progress *prog)
{
    local *l = (local *)bt;
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i += BATCH_RECORDS) {
        size_t end = i + BATCH_RECORDS < n ? i + BATCH_RECORDS : n;
        table_batch *b;
        if ((rc = table_batch_begin(l->t, &b))) break;
        for (size_t j = i; !rc && j < end; j++) rc = batch_one(b, &v[j], force);
        if (rc) {
            table_batch_abort(b);
            for (size_t j = i; j < end; j++) v[j].action = 0;   /* nothing of it was written */
        } else {
            rc = table_batch_commit(b);
        }
        progress_add(prog, end - i, 0);
    }
    if (!rc) rc = table_flush(l->t);
    return rc;
}

static void local_close(rb_target *bt)
{
    local *l = (local *)bt;
    table_close(l->t);
    free(l);
}

static const rb_target_ops local_ops = {local_read, local_write, local_write_all, local_close,
                                        NULL};

int rb_local_open(const rollback_options *o, rb_target **out)
{
    table_info info;
    local *l = calloc(1, sizeof *l);
    *out = NULL;
    if (!l) return err_set(TM_ENOMEM, "out of memory");
    int rc = table_open(o->home, o->table, o->dry_run ? TABLE_RDONLY : TABLE_BULK, &l->t);
    if (!rc) rc = table_describe(l->t, &info);
    if (rc) {
        table_close(l->t);
        free(l);
        return rc;
    }
    l->base.ops = &local_ops;
    l->base.ks = info.ks;
    *out = &l->base;
    return 0;
}

int rb_local_seq(rb_target *t, uint64_t *seq)
{
    table_info info;
    int rc = table_describe(((local *)t)->t, &info);
    *seq = rc ? 0 : info.applied_seq;
    return rc;
}
