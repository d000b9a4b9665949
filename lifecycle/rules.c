/* rules.c: tidemark-lifecycle apply: S3 lifecycle rules applied to whole exports, and archive
 * bundles.
 *
 * RULES: the S3 lifecycle configuration's JSON ({"Rules":[{"ID","Status":"Enabled"|"Disabled",
 * "Prefix" | "Filter":{"Prefix"}, "Transitions":[{"Days","StorageClass"}],
 * "Expiration":{"Days"}}]}). A rule's prefix is matched against the key of the export's folder
 * from the bucket root ("<prefix>/AWSDynamoDB/<ExportId>/"; a local directory has no prefix);
 * an empty prefix matches every export. Unlike S3, which ages each object by its own creation,
 * an export is aged by its export time (an incremental: the end of its window) and acted on
 * whole: never half-transitioned or half-expired. Of the enabled rules that match, expiration
 * wins; else the transition with the most Days not above the age (of all the rules).
 *
 * CHAINS: a full export and the incremental exports of the same table after it (up to the next
 * full one) form a chain: restoring the newest needs them all. A chain expires only when every
 * member has expired (its newest member's age decides); until then each member is kept, and
 * the result says why.
 *
 * ACTIONS: a transition on S3 is a CopyObject of every object of the export onto itself with
 * the new class (store_copy; metadata directive REPLACE). On a local directory a class that is
 * not an archive class is the same copy (the local store keeps the class in an xattr); GLACIER,
 * DEEP_ARCHIVE and GLACIER_IR bundle the export into AWSDynamoDB/<ExportId>.tar.zst (libarchive,
 * zstd), which tidemark-import reads as it is, and then remove the folder: the summary first,
 * so that a half-removed folder never looks complete. Expiration deletes the summary (and its
 * .md5) first, then everything else of the export, a bundle too. */
#include "lifecycle/lifecycle.h"
#include "lifecycle/lifecycle_internal.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/hold.h"
#include "export/export.h"
#include "export/layout.h"

#include <archive.h>
#include <archive_entry.h>
#include <inttypes.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY_US (86400 * CLOCK_US_PER_SEC)
#define BUNDLE_EXT LAYOUT_BUNDLE_EXT

/* ================================================================ rules ==== */

typedef struct rule {
    char id[256];
    int enabled;
    char prefix[1024];
    int ntr;
    struct { int days; char cls[32]; } tr[8];
    int expire_days;              /* -1: none */
} rule;

static int parse_rule(const cJSON *r, int idx, rule *out)
{
    memset(out, 0, sizeof *out);
    out->expire_days = -1;
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "ID"));
    snprintf(out->id, sizeof out->id, "%s", id ? id : "");
    if (!id) snprintf(out->id, sizeof out->id, "rule %d", idx + 1);
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "Status"));
    if (!st || (strcmp(st, "Enabled") && strcmp(st, "Disabled")))
        return err_set(TM_EINVAL, "Rules[%d] (%s): Status must be Enabled or Disabled", idx, out->id);
    out->enabled = !strcmp(st, "Enabled");
    const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "Prefix"));
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(r, "Filter");
    if (!p && f) p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "Prefix"));
    snprintf(out->prefix, sizeof out->prefix, "%s", p ? p : "");
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(r, "Transitions")) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(t, "Days");
        const char *c = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "StorageClass"));
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || !c || !*c)
            return err_set(TM_EINVAL, "Rules[%d] (%s): a transition needs Days (>= 0) and a StorageClass",
                           idx, out->id);
        if (out->ntr == 8) return err_set(TM_EINVAL, "Rules[%d] (%s): at most 8 transitions", idx, out->id);
        out->tr[out->ntr].days = d->valueint;
        snprintf(out->tr[out->ntr].cls, sizeof out->tr[0].cls, "%s", c);
        out->ntr++;
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "Expiration");
    if (e) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "Days");
        if (!cJSON_IsNumber(d) || d->valuedouble < 1)
            return err_set(TM_EINVAL, "Rules[%d] (%s): Expiration.Days must be a number >= 1", idx, out->id);
        out->expire_days = d->valueint;
    }
    return 0;
}

static int parse_rules(const char *text, rule **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    cJSON *j = cJSON_Parse(text);
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(j, "Rules");
    if (!cJSON_IsArray(rs)) {
        cJSON_Delete(j);
        return err_set(TM_EINVAL, "the rules must be a JSON object with a Rules array (the S3 "
                       "lifecycle configuration's shape)");
    }
    int k = cJSON_GetArraySize(rs), rc = 0;
    *out = calloc((size_t)k + 1, sizeof **out);
    for (int i = 0; !rc && i < k; i++) rc = parse_rule(cJSON_GetArrayItem(rs, i), i, &(*out)[i]);
    cJSON_Delete(j);
    if (rc) {
        free(*out);
        *out = NULL;
        return rc;
    }
    *n = (size_t)k;
    return 0;
}

static int archive_class(const char *c)
{
    return !strcmp(c, "GLACIER") || !strcmp(c, "DEEP_ARCHIVE") || !strcmp(c, "GLACIER_IR");
}

/* ================================================================ exports at a destination ==== */

typedef struct exp {
    char id[64];
    char table_arn[560];
    int incremental;
    int64_t time_us;              /* what it is aged by */
    int bundled;                  /* only a bundle is left */
    char cls[32];                 /* current storage class */
    char key[1400];               /* its folder from the bucket root */
    int chain;                    /* index of its chain's head */
    int action;                   /* 0 keep, 1 transition, 2 expire */
    char to_cls[32], rule_id[256], why[512];
    char held[96];                /* a running reader's hold (local), "" if none */
} exp;

typedef struct dest_ctx {
    store *st;
    char awsdir[PATH_MAX];        /* local: <dest>/AWSDynamoDB (export holds); "" on S3 */
    exp *v;
    size_t n, cap;
} dest_ctx;

static exp *exp_add(dest_ctx *d)
{
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 16;
        exp *p = realloc(d->v, nc * sizeof *p);
        if (!p) return NULL;
        d->v = p;
        d->cap = nc;
    }
    exp *e = &d->v[d->n++];
    memset(e, 0, sizeof *e);
    return e;
}

/* Bundles: AWSDynamoDB/<id>.tar.zst; their time comes from the id (14-digit epoch ms). */
static int bundle_fn(void *ctx, const store_entry *e)
{
    dest_ctx *d = ctx;
    size_t n = strlen(e->key), rl = strlen(LAYOUT_ROOT), bl = strlen(BUNDLE_EXT);
    if (n <= rl + bl || strchr(e->key + rl, '/') || strcmp(e->key + n - bl, BUNDLE_EXT)) return 0;
    exp *x = exp_add(d);
    if (!x) return err_set(TM_ENOMEM, "out of memory");
    snprintf(x->id, sizeof x->id, "%.*s", (int)(n - rl - bl), e->key + rl);
    x->bundled = 1;
    x->time_us = (int64_t)strtoll(x->id, NULL, 10) * 1000;
    snprintf(x->cls, sizeof x->cls, "GLACIER");
    return 0;
}

static void summary_class(dest_ctx *d, exp *x)
{
    char k[200];
    store_object_info info;
    layout_export_key(x->id, LAYOUT_SUMMARY, k, sizeof k);
    snprintf(x->cls, sizeof x->cls, "STANDARD");
    if (store_head(d->st, k, &info) == 0 && info.storage_class[0])
        snprintf(x->cls, sizeof x->cls, "%s", info.storage_class);
}

static int list_exports(const char *dest, const store_options *so, dest_ctx *d)
{
    export_desc *v = NULL;
    size_t n = 0;
    int rc = export_list(dest, so, &v, &n);
    if (rc && rc != TM_ENOTFOUND) return rc;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].status, "COMPLETED")) continue;   /* a running or failed export */
        exp *x = exp_add(d);
        if (!x) {
            free(v);
            return err_set(TM_ENOMEM, "out of memory");
        }
        snprintf(x->id, sizeof x->id, "%s", v[i].id);
        snprintf(x->table_arn, sizeof x->table_arn, "%s", v[i].table_arn);
        x->incremental = v[i].type == EXPORT_INCREMENTAL;
        x->time_us = x->incremental ? v[i].to_us : v[i].export_time_us;
        if (!x->time_us) x->time_us = v[i].start_us;
        summary_class(d, x);
    }
    free(v);
    rc = store_list(d->st, LAYOUT_ROOT, bundle_fn, d);
    return rc == TM_ENOTFOUND ? 0 : rc;
}

static int by_time(const void *a, const void *b)
{
    const exp *x = a, *y = b;
    return x->time_us < y->time_us ? -1 : x->time_us > y->time_us;
}

/* Chains: each incremental joins the newest earlier full export of its table. */
static void find_chains(dest_ctx *d)
{
    qsort(d->v, d->n, sizeof *d->v, by_time);
    for (size_t i = 0; i < d->n; i++) {
        exp *x = &d->v[i];
        x->chain = (int)i;
        if (!x->incremental) continue;
        for (size_t j = i; j-- > 0;)
            if (!d->v[j].incremental && !strcmp(d->v[j].table_arn, x->table_arn)) {
                x->chain = (int)j;
                break;
            }
    }
}

/* ================================================================ deciding ==== */

static void decide_one(exp *x, const rule *rs, size_t nr, int64_t now)
{
    int age = (int)((now - x->time_us) / DAY_US), best = -1;
    for (size_t i = 0; i < nr; i++) {
        const rule *r = &rs[i];
        if (!r->enabled || strncmp(x->key, r->prefix, strlen(r->prefix))) continue;
        if (r->expire_days >= 0 && age >= r->expire_days) {
            x->action = 2;
            snprintf(x->rule_id, sizeof x->rule_id, "%s", r->id);
            snprintf(x->why, sizeof x->why, "%d days old, Expiration.Days %d", age, r->expire_days);
            return;
        }
        for (int k = 0; k < r->ntr; k++)
            if (r->tr[k].days <= age && r->tr[k].days > best) {
                best = r->tr[k].days;
                snprintf(x->to_cls, sizeof x->to_cls, "%s", r->tr[k].cls);
                snprintf(x->rule_id, sizeof x->rule_id, "%s", r->id);
            }
    }
    if (best >= 0 && strcmp(x->to_cls, x->cls) && !(x->bundled && archive_class(x->to_cls))) {
        x->action = 1;
        snprintf(x->why, sizeof x->why, "%d days old, transition at %d days to %s", age, best, x->to_cls);
    }
}

/* A chain expires whole or not at all. */
static void chains_together(dest_ctx *d)
{
    for (size_t i = 0; i < d->n; i++) {
        int all = 1, head = d->v[i].chain;
        for (size_t j = 0; j < d->n; j++)
            if (d->v[j].chain == head && d->v[j].action != 2) all = 0;
        if (all || d->v[i].action != 2) continue;
        exp *x = &d->v[i];
        x->action = 0;
        snprintf(x->why, sizeof x->why, "kept with its chain (full export %s and its "
                 "incrementals): a newer member has not expired", d->v[head].id);
    }
}

/* ================================================================ holds ==== */

/* x->held from the export's live holds (engine/hold.h); call under its lock to act on it. */
static int check_held(const dest_ctx *d, exp *x)
{
    char dir[PATH_MAX];
    hold_info *h = NULL;
    size_t n = 0;
    x->held[0] = '\0';
    if (!d->awsdir[0]) return 0;
    int rc = hold_export_dir(d->awsdir, x->id, 0, dir, sizeof dir);
    if (!rc) rc = hold_list(dir, &h, &n);
    if (!rc && n) snprintf(x->held, sizeof x->held, "a running %s (pid %ld)", h[0].what, h[0].pid);
    free(h);
    return rc;
}

/* A held export is left as it is, and so is every member of its chain that would expire. */
static int keep_held(dest_ctx *d)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < d->n; i++) rc = check_held(d, &d->v[i]);
    for (size_t i = 0; i < d->n; i++) {
        exp *x = &d->v[i];
        if (x->held[0] && x->action) {
            x->action = 0;
            snprintf(x->why, sizeof x->why, "held by %s that reads it", x->held);
        }
    }
    for (size_t i = 0; i < d->n; i++)
        for (size_t j = 0; j < d->n; j++) {
            exp *x = &d->v[i], *y = &d->v[j];
            if (x->action != 2 || y->chain != x->chain || !y->held[0]) continue;
            x->action = 0;
            snprintf(x->why, sizeof x->why, "kept with its chain: export %s is held by %s",
                     y->id, y->held);
        }
    return rc;
}

/* ================================================================ acting ==== */

typedef struct keys { char **k; size_t n, cap; uint64_t bytes; } keys;

static int keys_fn(void *ctx, const store_entry *e)
{
    keys *k = ctx;
    if (k->n == k->cap) {
        size_t nc = k->cap ? k->cap * 2 : 32;
        char **p = realloc(k->k, nc * sizeof *p);
        if (!p) return err_set(TM_ENOMEM, "out of memory");
        k->k = p;
        k->cap = nc;
    }
    if (!(k->k[k->n] = strdup(e->key))) return err_set(TM_ENOMEM, "out of memory");
    k->n++;
    k->bytes += e->size;
    return 0;
}

static void keys_free(keys *k)
{
    for (size_t i = 0; i < k->n; i++) free(k->k[i]);
    free(k->k);
    memset(k, 0, sizeof *k);
}

/* Every object of an export: its folder, and (incremental) the data files its manifest names. */
static int export_keys(store *st, const char *id, int incremental, keys *k)
{
    char pfx[128];
    snprintf(pfx, sizeof pfx, "%s%s/", LAYOUT_ROOT, id);
    int rc = store_list(st, pfx, keys_fn, k);
    if (rc || !incremental) return rc;
    buf m = BUF_INIT;
    char mk[200];
    layout_export_key(id, LAYOUT_FILES, mk, sizeof mk);
    if ((rc = store_get_all(st, mk, LAYOUT_FILES_MAX, &m))) return rc;
    char *save = NULL;
    for (char *line = strtok_r(m.data, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
        layout_file f;
        if (layout_file_parse(line, strlen(line), &f) || layout_file_resolve(&f, NULL, id)) continue;
        if (f.where != LAYOUT_IN_SHARED) continue;
        char key[1400];
        store_object_info info;
        snprintf(key, sizeof key, "%sdata/%s", LAYOUT_ROOT, f.rel);
        if (store_head(st, key, &info) == 0) {
            store_entry e = {key, info.size, "", "", 0};
            rc = keys_fn(k, &e);
        }
    }
    buf_free(&m);
    return rc;
}

/* Deletes an export: the summary and its .md5 first, then the rest. */
static int expire(store *st, const exp *x)
{
    char k[200];
    int rc;
    if (x->bundled) {
        snprintf(k, sizeof k, "%s%s%s", LAYOUT_ROOT, x->id, BUNDLE_EXT);
        return store_delete(st, k);
    }
    keys ks = {0};
    if ((rc = export_keys(st, x->id, x->incremental, &ks))) goto out;
    layout_export_key(x->id, LAYOUT_SUMMARY, k, sizeof k);
    if ((rc = store_delete(st, k))) goto out;
    layout_export_key(x->id, LAYOUT_SUMMARY_MD5, k, sizeof k);
    if ((rc = store_delete(st, k))) goto out;
    rc = store_delete_many(st, (const char *const *)ks.k, ks.n);
out:
    keys_free(&ks);
    return rc;
}

static int transition_copy(store *st, const exp *x)
{
    keys ks = {0};
    store_copy_options co = STORE_COPY_OPTIONS_INIT;
    co.storage_class = x->to_cls;
    int rc = export_keys(st, x->id, x->incremental, &ks);
    /* The summary last: it says "complete", and its class is what a listing reports. */
    char sk[200];
    layout_export_key(x->id, LAYOUT_SUMMARY, sk, sizeof sk);
    for (size_t i = 0; !rc && i < ks.n; i++)
        if (strcmp(ks.k[i], sk)) rc = store_copy(st, ks.k[i], ks.k[i], &co);
    if (!rc) rc = store_copy(st, sk, sk, &co);
    keys_free(&ks);
    return rc;
}

/* libarchive's writer over a store writer. */
static la_ssize_t bundle_write(struct archive *a, void *ctx, const void *p, size_t n)
{
    (void)a;
    return store_writer_write(ctx, p, n) ? -1 : (la_ssize_t)n;
}

static int bundle_entry(struct archive *a, store *st, const char *key, uint64_t size)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, key);
    archive_entry_set_size(e, (la_int64_t)size);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, clock_now_us() / CLOCK_US_PER_SEC, 0);
    int rc = archive_write_header(a, e) == ARCHIVE_OK ? 0 : err_set(TM_EIO, "archive %s: %s", key,
                                                                    archive_error_string(a));
    archive_entry_free(e);
    store_reader *r = NULL;
    if (!rc) rc = store_reader_open(st, key, NULL, &r);
    char b[1 << 16];
    size_t got;
    uint64_t done = 0;
    while (!rc && (rc = store_reader_read(r, b, sizeof b, &got)) == 0 && got) {
        if (archive_write_data(a, b, got) < 0) rc = err_set(TM_EIO, "archive %s: %s", key, archive_error_string(a));
        done += got;
    }
    store_reader_close(r);
    if (!rc && done != size) rc = err_set(TM_EIO, "%s changed while it was bundled", key);
    return rc;
}

int lifecycle_bundle(store *st, const char *id, int incremental, uint64_t *bytes)
{
    keys ks = {0};
    char bk[200];
    store_writer *w = NULL;
    store_put_result res;
    int rc = export_keys(st, id, incremental, &ks);
    if (rc) goto out;
    snprintf(bk, sizeof bk, "%s%s%s", LAYOUT_ROOT, id, BUNDLE_EXT);
    if ((rc = store_writer_open(st, bk, NULL, &w))) goto out;
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (archive_write_add_filter_zstd(a) != ARCHIVE_OK)
        rc = err_set(TM_EIO, "archive %s: zstd: %s", bk, archive_error_string(a));
    archive_write_set_bytes_in_last_block(a, 1);
    if (!rc && archive_write_open2(a, w, NULL, bundle_write, NULL, NULL) != ARCHIVE_OK)
        rc = err_set(TM_EIO, "archive %s: %s", bk, archive_error_string(a));
    for (size_t i = 0; !rc && i < ks.n; i++) {
        store_object_info info;
        if ((rc = store_head(st, ks.k[i], &info))) break;
        rc = bundle_entry(a, st, ks.k[i], info.size);
    }
    if (archive_write_close(a) != ARCHIVE_OK && !rc) rc = err_set(TM_EIO, "archive %s: %s", bk, archive_error_string(a));
    archive_write_free(a);
    if (rc) {
        store_writer_abort(w);
        goto out;
    }
    if ((rc = store_writer_commit(w, &res))) goto out;
    if (bytes) *bytes = res.size;
    /* The bundle is complete: now the folder goes, summary first. */
    exp x;
    memset(&x, 0, sizeof x);
    snprintf(x.id, sizeof x.id, "%s", id);
    x.incremental = incremental;
    rc = expire(st, &x);
out:
    keys_free(&ks);
    return rc;
}

/* ================================================================ apply ==== */

static cJSON *exp_json(const exp *x, const dest_ctx *d, int64_t now, int done, const char *err)
{
    static const char *names[] = {"keep", "transition", "expire"};
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "ExportId", x->id);
    lc_add_time(j, "Time", x->time_us);
    cJSON_AddNumberToObject(j, "AgeDays", (double)((now - x->time_us) / DAY_US));
    cJSON_AddStringToObject(j, "Type", x->incremental ? "INCREMENTAL_EXPORT" : "FULL_EXPORT");
    cJSON_AddStringToObject(j, "StorageClass", x->cls);
    if (x->bundled) cJSON_AddStringToObject(j, "Bundle", BUNDLE_EXT);
    if (x->chain != (int)(x - d->v)) cJSON_AddStringToObject(j, "Chain", d->v[x->chain].id);
    cJSON_AddStringToObject(j, "Action", names[x->action]);
    if (x->held[0]) cJSON_AddStringToObject(j, "HeldBy", x->held);
    if (x->action == 1) cJSON_AddStringToObject(j, "ToStorageClass", x->to_cls);
    if (x->rule_id[0]) cJSON_AddStringToObject(j, "Rule", x->rule_id);
    if (x->why[0]) cJSON_AddStringToObject(j, "Reason", x->why);
    if (x->action) cJSON_AddBoolToObject(j, "Done", done);
    if (err) cJSON_AddStringToObject(j, "Error", err);
    return j;
}

static int act_now(dest_ctx *d, exp *x)
{
    if (x->action == 2) return expire(d->st, x);
    if (x->action != 1) return 0;
    if (!store_is_s3(d->st) && archive_class(x->to_cls)) return lifecycle_bundle(d->st, x->id, x->incremental, NULL);
    if (x->bundled) return err_set(TM_EINVAL, "export %s is bundled: unbundle it to change its class", x->id);
    return transition_copy(d->st, x);
}

/* Acts under the export's hold lock (local), so that no reader takes a hold meanwhile and a
 * hold taken since the decision keeps the export. */
static int act(dest_ctx *d, exp *x)
{
    char dir[PATH_MAX];
    if (!x->action) return 0;
    if (!d->awsdir[0]) return act_now(d, x);
    int rc = hold_export_dir(d->awsdir, x->id, 1, dir, sizeof dir);
    int fd = rc ? rc : hold_lock(dir);
    if (fd < 0) return fd;
    rc = check_held(d, x);
    if (!rc && x->held[0]) {
        x->action = 0;
        snprintf(x->why, sizeof x->why, "held by %s that reads it", x->held);
    } else if (!rc) {
        rc = act_now(d, x);
    }
    hold_unlock(fd);
    if (!rc && x->action == 2) fsx_rmtree(dir);
    return rc;
}

static int load_dest(const char *dest, const store_options *so, dest_ctx *d, int64_t now,
                     const rule *rs, size_t nr)
{
    int rc = store_open(dest, so, &d->st);
    if (!rc) rc = list_exports(dest, so, d);
    if (rc) return rc;
    if (!store_is_s3(d->st)) snprintf(d->awsdir, sizeof d->awsdir, "%s/AWSDynamoDB", dest);
    find_chains(d);
    for (size_t i = 0; i < d->n; i++) {
        buf k = BUF_INIT;
        char rel[128];
        snprintf(rel, sizeof rel, "%s%s", LAYOUT_ROOT, d->v[i].id);
        store_full_key(d->st, rel, &k);   /* (a key, so without the folder's '/') */
        snprintf(d->v[i].key, sizeof d->v[i].key, "%s/", k.data ? k.data : rel);
        buf_free(&k);
        if (rs) decide_one(&d->v[i], rs, nr, now);
    }
    if (rs) chains_together(d);
    return keep_held(d);
}

int lifecycle_apply(const lifecycle_apply_opts *o, cJSON **out)
{
    rule *rs = NULL;
    size_t nr = 0;
    dest_ctx d;
    memset(&d, 0, sizeof d);
    *out = NULL;
    int64_t now = o->now_us ? o->now_us : clock_now_us();
    int rc = parse_rules(o->rules_json ? o->rules_json : "", &rs, &nr);
    if (!rc) rc = load_dest(o->dest, o->so, &d, now, rs, nr);
    if (rc) goto out;
    cJSON *res = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(res, "Exports");
    cJSON_AddBoolToObject(res, "DryRun", o->dry_run);
    int acts = 0, first = 0;
    for (size_t i = 0; i < d.n; i++) {
        exp *x = &d.v[i];
        int r = o->dry_run ? 0 : act(&d, x);
        if (x->action) acts++;
        if (r && !first) first = r;
        cJSON_AddItemToArray(list, exp_json(x, &d, now, !o->dry_run && !r, r ? err_msg() : NULL));
    }
    cJSON_AddNumberToObject(res, "Actions", acts);
    *out = res;
    rc = first;
out:
    store_close(d.st);
    free(d.v);
    free(rs);
    return rc;
}

int lifecycle_report_dest(const char *dest, const store_options *so, cJSON **out)
{
    dest_ctx d;
    memset(&d, 0, sizeof d);
    *out = NULL;
    int64_t now = clock_now_us();
    int rc = load_dest(dest, so, &d, now, NULL, 0);
    if (!rc) {
        cJSON *res = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(res, "Exports");
        cJSON_AddStringToObject(res, "Destination", dest);
        for (size_t i = 0; i < d.n; i++) cJSON_AddItemToArray(list, exp_json(&d.v[i], &d, now, 0, NULL));
        *out = res;
    }
    store_close(d.st);
    free(d.v);
    return rc;
}
