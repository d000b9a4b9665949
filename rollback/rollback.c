/* rollback.c: undo (or forward-apply) an incremental export's records on a table: read and
 * filter the records, keep the latest per key, check and write them through a target
 * (target_local.c, target_ddb.c) from several threads, report each item's outcome. The rule
 * and the order of work are in rollback.h. */
#include "rollback/rollback_internal.h"
#include "engine/err.h"
#include "engine/expr.h"
#include "engine/hold.h"
#include "export/layout.h"

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *rollback_action_name(rollback_action a)
{
    switch (a) {
    case ROLLBACK_RESTORE: return "RESTORE";
    case ROLLBACK_DELETE: return "DELETE";
    case ROLLBACK_ALREADY: return "ALREADY_ROLLED_BACK";
    case ROLLBACK_CONFLICT: return "CONFLICT";
    case ROLLBACK_OVERWRITTEN: return "OVERWRITTEN";
    }
    return "UNKNOWN";
}

/* ================================================================ images */

static int same(const unsigned char *img, uint32_t n, const void *p, size_t pn)
{
    if (!img || !p) return !img && !p;
    return n == pn && !memcmp(img, p, n);
}

rollback_action rb_classify(const rb_rec *r, const void *p, size_t n)
{
    if (same(r->target, r->tn, p, n)) return ROLLBACK_ALREADY;
    if (same(r->expect, r->en, p, n)) return r->target ? ROLLBACK_RESTORE : ROLLBACK_DELETE;
    return ROLLBACK_CONFLICT;
}

static unsigned char *dup_bytes(const void *p, size_t n)
{
    unsigned char *d = malloc(n ? n : 1);
    if (d && n) memcpy(d, p, n);
    return d;
}

int rb_keep_current(rb_rec *r, const void *p, size_t n)
{
    free(r->cur);
    r->cur = NULL;
    r->cn = 0;
    r->kept = 1;
    r->has_cur = p != NULL;
    if (p && !(r->cur = dup_bytes(p, n))) return err_set(TM_ENOMEM, "out of memory");
    r->cn = (uint32_t)n;
    return 0;
}

void rollback_changes(const item *a, const item *b, rollback_change_fn fn, void *ctx)
{
    uint32_t na = a ? item_count(a) : 0, nb = b ? item_count(b) : 0, i = 0, j = 0;
    while (i < na || j < nb) {
        const av_attr *x = i < na ? item_attr(a, i) : NULL, *y = j < nb ? item_attr(b, j) : NULL;
        int c;
        if (!x) c = 1;
        else if (!y) c = -1;
        else {
            uint32_t m = x->name_len < y->name_len ? x->name_len : y->name_len;
            c = memcmp(x->name, y->name, m);
            if (!c) c = x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
        }
        if (c < 0) fn(ctx, x->name, &x->value, NULL), i++;
        else if (c > 0) fn(ctx, y->name, NULL, &y->value), j++;
        else {
            if (!av_equal(&x->value, &y->value)) fn(ctx, x->name, &x->value, &y->value);
            i++, j++;
        }
    }
}

/* ================================================================ filters */

typedef struct filter {
    const rollback_filter *f;
    const key_schema *ks;
    char **values;                /* key values, N canonical */
    expr_env *env;
    expr_cond *cond;
} filter;

static void filter_free(filter *fl)
{
    for (size_t i = 0; fl->values && i < fl->f->nkey_values; i++) free(fl->values[i]);
    free(fl->values);
    expr_cond_free(fl->cond);
    expr_env_free(fl->env);
}

static int filter_init(filter *fl, const rollback_filter *f, const key_schema *ks)
{
    memset(fl, 0, sizeof *fl);
    fl->f = f;
    fl->ks = ks;
    int rc = 0;
    if (f->nkey_values && !(fl->values = calloc(f->nkey_values, sizeof *fl->values)))
        return err_set(TM_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < f->nkey_values; i++) {
        buf b = BUF_INIT;
        const char *v = f->key_values[i];
        if (ks->hash_type == AV_N && num_canonical(v, strlen(v), &b))
            rc = err_wrap(TM_EINVAL, "key value '%s' is not a number (%s is N): ", v,
                          ks->hash_name);
        else if (ks->hash_type != AV_N) rc = buf_puts(&b, v);
        if (!rc) rc = buf_putc(&b, 0);
        fl->values[i] = rc ? NULL : buf_detach(&b);
        buf_free(&b);
    }
    if (!rc && f->condition) {
        rc = expr_env_new(f->names_json, f->values_json, &fl->env);
        if (!rc) rc = expr_cond_parse(f->condition, fl->env, &fl->cond);
        if (!rc) rc = expr_env_check_unused(fl->env);
    }
    if (rc) filter_free(fl);
    return rc;
}

/* The partition key's text: S and N as they are, B as base64. */
static int pk_text(const av *v, buf *out)
{
    if (v->type != AV_B) return buf_append(out, v->u.bytes, v->len);
    buf j = BUF_INIT;
    int rc = av_write_json(v, &j);   /* {"B":"..."} */
    if (!rc && j.len >= 8) rc = buf_append(out, j.data + 6, j.len - 8);
    buf_free(&j);
    return rc;
}

/* 1 if the record is chosen. */
static int filter_pass(const filter *fl, const layout_record *r, int *pass)
{
    const rollback_filter *f = fl->f;
    *pass = 0;
    if (f->since_us && r->write_us < f->since_us) return 0;
    if (f->until_us && r->write_us >= f->until_us) return 0;
    if (fl->values || f->key_prefix) {
        const av *pk = item_get(r->keys, fl->ks->hash_name);
        buf t = BUF_INIT;
        int rc = pk ? pk_text(pk, &t) : 0, hit = !fl->values;
        if (rc) return rc;
        for (size_t i = 0; !hit && i < f->nkey_values; i++)
            hit = strlen(fl->values[i]) == t.len && !memcmp(fl->values[i], t.data, t.len);
        if (hit && f->key_prefix)
            hit = t.len >= strlen(f->key_prefix) && !memcmp(t.data, f->key_prefix,
                                                             strlen(f->key_prefix));
        buf_free(&t);
        if (!pk || !hit) return 0;
    }
    if (fl->cond) return expr_cond_eval(fl->cond, r->new_image, pass);
    *pass = 1;
    return 0;
}

/* ================================================================ records */

#define RECS_BLOCK (1u << 20)

typedef struct recs {
    rb_rec *v;
    size_t n, cap;
    buf scratch;                  /* one record's encodings, reused */
    unsigned char **blocks;       /* the records' bytes, packed: no malloc/free per record */
    size_t nblocks, used, avail;
} recs;

static void rec_free(rb_rec *r)
{
    free(r->cur);
}

static void recs_free(recs *rs)
{
    for (size_t i = 0; i < rs->n; i++) rec_free(&rs->v[i]);
    for (size_t i = 0; i < rs->nblocks; i++) free(rs->blocks[i]);
    free(rs->blocks);
    free(rs->v);
    buf_free(&rs->scratch);
}

/* n bytes that live until recs_free; a record larger than a block gets its own. */
static unsigned char *recs_alloc(recs *rs, size_t n)
{
    if (n > rs->avail - rs->used) {
        size_t sz = n > RECS_BLOCK ? n : RECS_BLOCK;
        unsigned char **nb = realloc(rs->blocks, (rs->nblocks + 1) * sizeof *nb);
        if (!nb) return NULL;
        rs->blocks = nb;
        if (!(nb[rs->nblocks] = malloc(sz))) return NULL;
        rs->nblocks++;
        rs->used = 0;
        rs->avail = sz;
    }
    rs->used += n;
    return rs->blocks[rs->nblocks - 1] + rs->used - n;
}

/* Appends its encoding to b (nothing when absent); *off and *n say where. */
static int encode_at(const item *it, buf *b, size_t *off, uint32_t *n)
{
    *off = b->len;
    *n = 0;
    if (!it) return 0;
    int rc = item_encode(it, b);
    *n = (uint32_t)(b->len - *off);
    return rc;
}

static int recs_add(recs *rs, const layout_record *lr, const key_schema *ks, int apply,
                    uint64_t order)
{
    if (rs->n == rs->cap) {
        size_t nc = rs->cap ? rs->cap * 2 : 1024;
        rb_rec *nv = realloc(rs->v, nc * sizeof *nv);
        if (!nv) return err_set(TM_ENOMEM, "out of memory (records)");
        rs->v = nv;
        rs->cap = nc;
    }
    rb_rec *r = &rs->v[rs->n];
    buf *b = &rs->scratch;
    size_t kso, eo, to;
    memset(r, 0, sizeof *r);
    buf_reset(b);
    int rc = key_encode_item(ks, lr->keys, b);
    if (rc) return err_wrap(rc, "Keys do not match the table's key: ");
    r->kn = (uint32_t)b->len;
    const item *ex = apply ? lr->old_image : lr->new_image;
    const item *tg = apply ? lr->new_image : lr->old_image;
    rc = encode_at(lr->keys, b, &kso, &r->ksn);
    if (!rc) rc = encode_at(ex, b, &eo, &r->en);
    if (!rc) rc = encode_at(tg, b, &to, &r->tn);
    if (!rc && !(r->key = recs_alloc(rs, b->len)))
        rc = err_set(TM_ENOMEM, "out of memory (records)");
    if (rc) return rc;
    memcpy(r->key, b->data, b->len);
    r->keys = r->key + kso;
    r->expect = ex ? r->key + eo : NULL;
    r->target = tg ? r->key + to : NULL;
    r->write_us = lr->write_us;
    r->order = order;
    rs->n++;
    return 0;
}

static int by_key_then_time(const void *a, const void *b)
{
    const rb_rec *x = a, *y = b;
    size_t m = x->kn < y->kn ? x->kn : y->kn;
    int c = memcmp(x->key, y->key, m);
    if (c) return c;
    if (x->kn != y->kn) return x->kn < y->kn ? -1 : 1;
    if (x->write_us != y->write_us) return x->write_us < y->write_us ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Sorted by key; of equal keys the latest stays. An export written in key order is not
 * sorted again. */
static void recs_dedupe(recs *rs)
{
    size_t k = 1;
    while (k < rs->n && by_key_then_time(&rs->v[k - 1], &rs->v[k]) <= 0) k++;
    if (k < rs->n) qsort(rs->v, rs->n, sizeof *rs->v, by_key_then_time);
    size_t w = 0;
    for (size_t i = 0; i < rs->n; i++) {
        if (i + 1 < rs->n && rs->v[i].kn == rs->v[i + 1].kn &&
            !memcmp(rs->v[i].key, rs->v[i + 1].key, rs->v[i].kn)) {
            rec_free(&rs->v[i]);
            continue;
        }
        rs->v[w++] = rs->v[i];
    }
    rs->n = w;
}

/* A NEW_IMAGE export has no OldImage to go back to; a full export no change at all. */
static int check_export(const layout_summary *s, const char *from, int apply)
{
    if (!s->incremental)
        return err_set(TM_EINVAL, "%s is a full export: rollback needs an INCREMENTAL_EXPORT "
                       "(tidemark-export --incremental --view NEW_AND_OLD_IMAGES)", from);
    if (!apply && strcmp(s->output_view, "NEW_AND_OLD_IMAGES"))
        return err_set(TM_EINVAL, "%s has outputView %s: its records carry no OldImage, so "
                       "there is nothing to roll back to (export the window again with "
                       "--view NEW_AND_OLD_IMAGES)", from, s->output_view[0] ? s->output_view
                                                                              : "(none)");
    return 0;
}

static int read_records(const rollback_options *o, const key_schema *ks, recs *rs,
                        rollback_stats *st, layout_summary *sum)
{
    layout_reader *lr = NULL;
    store_options dso = STORE_OPTIONS_INIT;
    filter fl;
    int rc = filter_init(&fl, &o->filter, ks);
    if (rc) return rc;
    progress_phase(o->prog, "reading the export");
    /* Held while read, so that tidemark-lifecycle apply does not expire or bundle it meanwhile. */
    hold *h = NULL;
    rc = hold_take_export(o->from, "rollback", &h);
    layout_reader_options ro = LAYOUT_READER_OPTIONS_INIT;
    ro.ignore_summary_checksum = o->ignore_summary_checksum;
    if (!rc) rc = layout_reader_open_with(o->from, o->so ? o->so : &dso, &ro, &lr);
    if (!rc) {
        const layout_summary *s = layout_reader_summary(lr);
        rc = check_export(s, o->from, o->direction == ROLLBACK_APPLY);
        if (!rc && o->direction == ROLLBACK_APPLY && !o->endpoint_url)
            rc = rollback_chain_check(o->home, o->table, s);
        *sum = *s;
        snprintf(st->export_arn, sizeof st->export_arn, "%s", s->export_arn);
        snprintf(st->export_from, sizeof st->export_from, "%s", s->from_time);
        snprintf(st->export_to, sizeof st->export_to, "%s", s->to_time);
    }
    layout_record r;
    while (!rc && (rc = layout_reader_next(lr, &r)) == 1) {
        int pass;
        st->records++;
        progress_add(o->prog, 1, 0);
        rc = filter_pass(&fl, &r, &pass);
        if (!rc && pass) rc = recs_add(rs, &r, ks, o->direction == ROLLBACK_APPLY, st->records);
        if (rc) rc = err_wrap(rc, "record %llu: ", (unsigned long long)st->records);
    }
    layout_reader_close(lr);
    hold_release(h);
    filter_free(&fl);
    if (rc) return rc;
    recs_dedupe(rs);
    st->chosen = rs->n;
    return 0;
}

/* ================================================================ workers */

typedef struct pool {
    rb_target *t;
    recs *rs;
    int write, force;
    progress *prog;
    atomic_size_t next;
    atomic_int rc;
    pthread_mutex_t mu;
    char msg[1024];
} pool;

static void *worker(void *arg)
{
    pool *p = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->rs->n || atomic_load(&p->rc)) break;
        rb_rec *r = &p->rs->v[i];
        int rc = p->write ? p->t->ops->write(p->t, r, p->force) : p->t->ops->read(p->t, r);
        if (rc) {
            int zero = 0;
            pthread_mutex_lock(&p->mu);
            if (atomic_compare_exchange_strong(&p->rc, &zero, rc))
                snprintf(p->msg, sizeof p->msg, "%s", err_msg());
            pthread_mutex_unlock(&p->mu);
            break;
        }
        progress_add(p->prog, 1, 0);
    }
    return NULL;
}

/* Every record through read (write 0) or write, from jobs threads. */
static int run_pool(rb_target *t, recs *rs, int write, int force, int jobs, progress *prog)
{
    pool p = {.t = t, .rs = rs, .write = write, .force = force, .prog = prog};
    pthread_t th[ROLLBACK_MAX_JOBS];
    int started = 0;
    atomic_init(&p.next, 0);
    atomic_init(&p.rc, 0);
    pthread_mutex_init(&p.mu, NULL);
    if ((size_t)jobs > rs->n) jobs = rs->n ? (int)rs->n : 1;
    for (int i = 1; i < jobs; i++)
        if (!pthread_create(&th[started], NULL, worker, &p)) started++;
    worker(&p);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&p.mu);
    int rc = atomic_load(&p.rc);
    return rc ? err_set(rc, "%s", p.msg) : 0;
}

/* ================================================================ reports */

static int decode_opt(const unsigned char *p, uint32_t n, item **out)
{
    *out = NULL;
    return p ? item_decode(p, n, out) : 0;
}

static int report(const rollback_options *o, const rb_rec *r)
{
    item *keys = NULL, *ex = NULL, *tg = NULL, *cur = NULL;
    int rc = decode_opt(r->keys, r->ksn, &keys);
    if (!rc) rc = decode_opt(r->expect, r->en, &ex);
    if (!rc) rc = decode_opt(r->target, r->tn, &tg);
    if (!rc && r->has_cur) rc = decode_opt(r->cur, r->cn, &cur);
    if (!rc) {
        int apply = o->direction == ROLLBACK_APPLY;
        rollback_event ev = {r->action, o->dry_run, keys, NULL, apply ? ex : tg, apply ? tg : ex,
                             tg, r->write_us};
        ev.current = r->kept ? cur : r->action == ROLLBACK_ALREADY ? tg : ex;
        rc = o->on_item(o->ctx, &ev);
    }
    item_free(keys);
    item_free(ex);
    item_free(tg);
    item_free(cur);
    return rc;
}

static void count(rollback_stats *st, rollback_action a)
{
    switch (a) {
    case ROLLBACK_RESTORE: st->restored++; break;
    case ROLLBACK_DELETE: st->deleted++; break;
    case ROLLBACK_ALREADY: st->already++; break;
    case ROLLBACK_CONFLICT: st->conflicts++; break;
    case ROLLBACK_OVERWRITTEN: st->overwritten++; break;
    }
}

static int report_all(const rollback_options *o, const recs *rs, rollback_stats *st, int only_conflicts)
{
    int rc = 0;
    st->restored = st->deleted = st->already = st->conflicts = st->overwritten = 0;
    for (size_t i = 0; i < rs->n; i++) count(st, rs->v[i].action);
    for (size_t i = 0; !rc && o->on_item && i < rs->n; i++) {
        rollback_action a = rs->v[i].action;
        if (only_conflicts && a != ROLLBACK_CONFLICT) continue;
        if (o->conflicts_only && a != ROLLBACK_CONFLICT && a != ROLLBACK_OVERWRITTEN) continue;
        rc = report(o, &rs->v[i]);
    }
    return rc;
}

/* ================================================================ the run */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_target(const rollback_options *o, rb_target *t, recs *rs, rollback_stats *st,
                      layout_summary *sum)
{
    int jobs = o->jobs > 0 ? (o->jobs > ROLLBACK_MAX_JOBS ? ROLLBACK_MAX_JOBS : o->jobs) : 8;
    int rc = read_records(o, &t->ks, rs, st, sum);
    if (rc) return rc;
    progress_set_total(o->prog, rs->n);
    if (o->dry_run || o->on_conflict == ROLLBACK_FAIL) {
        progress_phase(o->prog, "checking the current items");
        rc = t->ops->read_all ? t->ops->read_all(t, rs->v, rs->n, o->prog)
                              : run_pool(t, rs, 0, 0, jobs, o->prog);
        if (rc) return rc;
        if (o->dry_run) return report_all(o, rs, st, 0);
        for (size_t i = 0; i < rs->n; i++)
            if (rs->v[i].action == ROLLBACK_CONFLICT) {
                int r2 = report_all(o, rs, st, 1);
                if (r2) return r2;
                return err_set(TM_ECONFLICT, "%llu of %llu items were written after the export's "
                               "window (conflicts): nothing was written (--on-conflict fail)",
                               (unsigned long long)st->conflicts, (unsigned long long)rs->n);
            }
    }
    progress_phase(o->prog, o->direction == ROLLBACK_APPLY ? "applying" : "rolling back");
    int force = o->on_conflict == ROLLBACK_OVERWRITE;
    rc = t->ops->write_all ? t->ops->write_all(t, rs->v, rs->n, force, o->prog)
                           : run_pool(t, rs, 1, force, jobs, o->prog);
    if (rc) {
        report_all(o, rs, st, 0);   /* counts what was done before the error */
        return rc;
    }
    return report_all(o, rs, st, 0);
}

int rollback_run(const rollback_options *o, rollback_stats *st)
{
    rb_target *t = NULL;
    recs rs = {NULL, 0, 0, BUF_INIT, NULL, 0, 0, 0};
    double t0 = mono_s();
    memset(st, 0, sizeof *st);
    if (!o->from || !o->table) return err_set(TM_EINVAL, "an export and a table are needed");
    int rc = o->endpoint_url ? rb_ddb_open(o, &t) : rb_local_open(o, &t);
    if (rc) return rc;
    if (!o->endpoint_url) rc = rb_local_seq(t, &st->seq_before);
    layout_summary *sum = calloc(1, sizeof *sum);   /* large: not on the stack */
    if (!sum) rc = err_set(TM_ENOMEM, "out of memory");
    if (!rc) rc = run_target(o, t, &rs, st, sum);
    /* A forward apply that left nothing behind moves the table's chain to the export's end. */
    if (!rc && o->direction == ROLLBACK_APPLY && !o->endpoint_url && !o->dry_run &&
        !st->conflicts)
        rc = rollback_chain_record(o->home, o->table, sum);
    free(sum);
    if (!o->endpoint_url) {   /* keeps the run's error detail */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", err_msg());
        if (rb_local_seq(t, &st->seq_after)) st->seq_after = 0;
        if (rc) err_set(rc, "%s", msg);
    }
    t->ops->close(t);
    recs_free(&rs);
    st->seconds = mono_s() - t0;
    return rc;
}
