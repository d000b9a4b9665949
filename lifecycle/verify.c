/* verify.c: tidemark-lifecycle verify: every log segment and record, every snapshot, every
 * export's checksums, incremental by default.
 *
 * STATE FILE (JSON, replaced atomically after each run): {"version":1,"objects":{KEY:{"size":n,
 * "mtime":ns,"ino":n,"sum":"..."}}} with KEY "table/<name>/log/<segment>",
 * "table/<name>/snapshots/<snapshot>" or "export/<dest>/<id>". An object verified clean is
 * recorded with its size, mtime (ns) and inode (an export: a fingerprint over its files' keys,
 * sizes and times or ETags, with the summary's size); the next run does not read it again
 * while those are unchanged. Anything whose stat changed, or that had a problem, is read again.
 * `--full` reads everything and rewrites the state. What is read is counted (BytesRead): the
 * tests hold an incremental run to it.
 *
 * The checks, the same with --full (which only skips nothing): a segment's records through the
 * log reader (each record's checksum, the segment's decompression, the count its header
 * promises), the log's continuity through log_gaps (headers only); a snapshot's size and
 * XXH3_64 against snap.json; an export through export_verify (an archive bundle is unpacked
 * to a temporary directory first). */
#include "lifecycle/lifecycle.h"
#include "lifecycle/lifecycle_internal.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/log.h"
#include "engine/table.h"
#include "export/export.h"
#include "export/layout.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

typedef struct vctx {
    const lifecycle_verify_opts *o;
    cJSON *old;                   /* objects of the previous state (borrowed from oldroot) */
    cJSON *now;                   /* objects of this run */
    cJSON *problems;
    uint64_t segs, records, snaps, exports, skipped_segs, skipped_snaps, skipped_exports;
    uint64_t bytes_read;
    char where[512];              /* the object being checked, for problems */
} vctx;

static void problem(vctx *c, const char *where, const char *what)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "Where", where);
    cJSON_AddStringToObject(p, "What", what);
    cJSON_AddItemToArray(c->problems, p);
}

/* The stat fingerprint of a file: "size:mtime_ns:ino". */
static int file_print(const char *path, char *out, size_t n, uint64_t *size)
{
    struct stat st;
    if (stat(path, &st) < 0) return -1;
    snprintf(out, n, "%lld:%lld%09ld:%llu", (long long)st.st_size, (long long)st.st_mtim.tv_sec,
             st.st_mtim.tv_nsec, (unsigned long long)st.st_ino);
    if (size) *size = (uint64_t)st.st_size;
    return 0;
}

/* 1 when key was verified clean with this fingerprint (and not --full). */
static int unchanged(vctx *c, const char *key, const char *print)
{
    if (c->o->full) return 0;
    const char *was = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c->old, key));
    return was && !strcmp(was, print);
}

static void record_clean(vctx *c, const char *key, const char *print)
{
    cJSON_DeleteItemFromObjectCaseSensitive(c->now, key);
    cJSON_AddStringToObject(c->now, key, print);
}

/* ================================================================ tables ==== */

static void log_problem(void *ctx, const char *segment, uint64_t offset, const char *what)
{
    vctx *c = ctx;
    char w[700];
    snprintf(w, sizeof w, "%s/log/%s offset %" PRIu64, c->where, segment, offset);
    problem(c, w, what);
}

/* One segment's records through the reader: all there, each checksum good. */
static int verify_segment(vctx *c, const char *log_dir, const log_segment *g)
{
    log_reader *r = NULL;
    log_record rec;
    uint64_t n = 0, want = g->last_seq - g->first_seq + 1;
    int rc = log_reader_open(log_dir, g->first_seq, g->last_seq, LOG_FORWARD, &r);
    while (!rc && (rc = log_reader_next(r, &rec)) == 1) {
        n++;
        rc = 0;
    }
    log_reader_close(r);
    c->records += n;
    if (rc < 0) return rc;
    if (n != want)
        return err_set(TM_ECORRUPT, "%" PRIu64 " records read, the header says %" PRIu64, n, want);
    return 0;
}

static void verify_log_incremental(vctx *c, table *t, const table_info *info)
{
    const char *dir = table_log_dir(t);
    log_segment *segs = NULL;
    size_t n = 0;
    char path[PATH_MAX], key[800], print[96], w[700];
    int rc = log_list(dir, &segs, &n);
    if (rc) {   /* a header that does not read: the whole log's walk names every problem */
        uint64_t recs = 0;
        log_verify(dir, log_problem, c, &recs);
        c->records += recs;
        c->bytes_read += (uint64_t)fsx_du(dir);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t size = 0;
        snprintf(path, sizeof path, "%s/%s", dir, segs[i].name);
        snprintf(key, sizeof key, "%s/log/%s", c->where, segs[i].name);
        if (file_print(path, print, sizeof print, &size)) continue;   /* gone meanwhile */
        c->segs++;
        if (segs[i].sealed && unchanged(c, key, print)) {
            c->skipped_segs++;
            c->records += segs[i].last_seq - segs[i].first_seq + 1;
            record_clean(c, key, print);
            continue;
        }
        c->bytes_read += size;
        if ((rc = verify_segment(c, dir, &segs[i]))) {
            snprintf(w, sizeof w, "%s/log/%s", c->where, segs[i].name);
            problem(c, w, err_msg());
        } else if (segs[i].sealed) {
            record_clean(c, key, print);
        }
    }
    free(segs);
    /* Continuity from the headers: a missing segment is a gap. */
    log_gap *g = NULL;
    size_t ng = 0;
    if (log_gaps(dir, info->applied_seq, info->last_write_us, &g, &ng) == 0)
        for (size_t i = 0; i < ng; i++) {
            snprintf(w, sizeof w, "gap: seqs %" PRIu64 "..%" PRIu64 " are missing (%s)",
                     g[i].first_seq, g[i].last_seq, g[i].why);
            problem(c, c->where, w);
        }
    free(g);
}

/* XXH3_64 and size of a snapshot's data.mdb against its snap.json. */
static int verify_snapshot(vctx *c, const char *tdir, const snap_info *s)
{
    char path[PATH_MAX];
    unsigned char b[1 << 16];
    snap_data_path(tdir, s->name, path, sizeof path);
    if (!snap_verifiable(s)) return 1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_set(TM_EMISSING, "%s: cannot open", path);
    XXH3_state_t *st = XXH3_createState();
    XXH3_64bits_reset(st);
    uint64_t size = 0;
    ssize_t k;
    while ((k = read(fd, b, sizeof b)) > 0) {
        XXH3_64bits_update(st, b, (size_t)k);
        size += (uint64_t)k;
    }
    close(fd);
    uint64_t sum = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    c->bytes_read += size;
    if (k < 0) return err_set(TM_EIO, "%s: read error", path);
    if (size != s->bytes)
        return err_set(TM_ECORRUPT, "%s: %" PRIu64 " bytes, snap.json says %" PRIu64, path, size, s->bytes);
    if (sum != s->sum) return err_set(TM_ECORRUPT, "%s: checksum mismatch", path);
    return 0;
}

static void verify_snaps(vctx *c, table *t)
{
    snap_info *v = NULL;
    size_t n = 0;
    char path[PATH_MAX], key[800], print[96], w[700];
    if (snap_list(table_dir(t), &v, &n)) {
        problem(c, c->where, err_msg());
        return;
    }
    for (size_t i = 0; i < n; i++) {
        snap_data_path(table_dir(t), v[i].name, path, sizeof path);
        snprintf(key, sizeof key, "%s/snapshots/%s", c->where, v[i].name);
        snprintf(w, sizeof w, "%s/snapshots/%s", c->where, v[i].name);
        c->snaps++;
        if (file_print(path, print, sizeof print, NULL)) {
            problem(c, w, "data.mdb is missing");
            continue;
        }
        if (unchanged(c, key, print)) {
            c->skipped_snaps++;
            record_clean(c, key, print);
            continue;
        }
        int rc = verify_snapshot(c, table_dir(t), &v[i]);
        if (rc < 0) problem(c, w, err_msg());
        else if (rc == 1) problem(c, w, "no checksum (written by an older tidemark): unverifiable");
        else record_clean(c, key, print);
    }
    free(v);
}

static void verify_table(vctx *c, const char *home, const char *name)
{
    table *t = NULL;
    table_info info;
    snprintf(c->where, sizeof c->where, "table/%s", name);
    if (table_open(home, name, TABLE_RDONLY, &t) || table_describe(t, &info)) {
        problem(c, c->where, err_msg());
        table_close(t);
        return;
    }
    verify_log_incremental(c, t, &info);
    verify_snaps(c, t);
    table_close(t);
}

/* ================================================================ exports ==== */

static void export_problem(void *ctx, const char *what, const char *detail)
{
    vctx *c = ctx;
    char w[700];
    snprintf(w, sizeof w, "%s", c->where);
    problem(c, w, detail && *detail ? detail : what);
    (void)what;
}

typedef struct fp_ctx {
    XXH3_state_t *h;
    uint64_t files, bytes;
    const char *root;             /* a local destination's directory; NULL on S3 */
} fp_ctx;

static int fp_fn(void *ctx, const store_entry *e)
{
    fp_ctx *f = ctx;
    XXH3_64bits_update(f->h, e->key, strlen(e->key) + 1);
    XXH3_64bits_update(f->h, &e->size, sizeof e->size);
    XXH3_64bits_update(f->h, e->etag, strlen(e->etag));
    XXH3_64bits_update(f->h, &e->last_modified, sizeof e->last_modified);
    char path[PATH_MAX];
    struct stat st;
    if (f->root && (size_t)snprintf(path, sizeof path, "%s/%s", f->root, e->key) < sizeof path &&
        stat(path, &st) == 0) {
        /* ctime moves on every write, to the ns, and no one sets it back (touch sets mtime) */
        int64_t t[3] = {(int64_t)st.st_ctim.tv_sec, (int64_t)st.st_ctim.tv_nsec, (int64_t)st.st_ino};
        XXH3_64bits_update(f->h, t, sizeof t);
    }
    f->files++;
    f->bytes += e->size;
    return 0;
}

/* The fingerprint of an export: its folder's objects and the shared data files it names are
 * listed (never read): keys, sizes, ETags and times; on a local destination also each file's
 * ctime (ns) and inode, so that a rewrite in place within the same second is seen. */
static int export_print(store *st, const char *dest, const export_desc *d, char *out, size_t n,
                        uint64_t *bytes)
{
    fp_ctx f = {XXH3_createState(), 0, 0, store_is_s3(st) ? NULL : dest};
    char pfx[256];
    XXH3_64bits_reset(f.h);
    snprintf(pfx, sizeof pfx, "%s%s/", LAYOUT_ROOT, d->id);
    int rc = store_list(st, pfx, fp_fn, &f);
    if (!rc && d->type == EXPORT_INCREMENTAL) {
        char dp[128];
        layout_data_prefix(d->id, 1, dp, sizeof dp);
        rc = store_list(st, dp, fp_fn, &f);
    }
    snprintf(out, n, "%016llx:%llu", (unsigned long long)XXH3_64bits_digest(f.h),
             (unsigned long long)f.files);
    XXH3_freeState(f.h);
    *bytes = f.bytes;
    return rc;
}

/* An archive bundle (AWSDynamoDB/<id>.tar.zst of a local destination): unpacked to a
 * temporary directory (layout_bundle_open), then verified as any export. */
static int bundle_fn(void *ctx, const store_entry *e)
{
    vctx *c = ctx;
    size_t n = strlen(e->key), rl = strlen(LAYOUT_ROOT);
    if (n <= rl + 8 || strchr(e->key + rl, '/') || strcmp(e->key + n - 8, ".tar.zst")) return 0;
    char path[PATH_MAX], tmp[PATH_MAX], key[2400], print[96], dir[PATH_MAX + 200];
    uint64_t size = 0;
    snprintf(path, sizeof path, "%s/%s", c->o->dest, e->key);
    snprintf(c->where, sizeof c->where, "export/%s/%s", c->o->dest, e->key);
    snprintf(key, sizeof key, "%s", c->where);
    c->exports++;
    if (file_print(path, print, sizeof print, &size) == 0 && unchanged(c, key, print)) {
        c->skipped_exports++;
        record_clean(c, key, print);
        return 0;
    }
    c->bytes_read += size;
    int rc = layout_bundle_open(path, tmp, sizeof tmp, dir, sizeof dir);
    export_verify_stats es;
    memset(&es, 0, sizeof es);
    if (!rc) rc = export_verify(dir, c->o->so, export_problem, c, &es);
    if (rc == 0) record_clean(c, key, print);
    else if (!es.problems) problem(c, c->where, err_msg());
    fsx_rmtree(tmp);
    return 0;
}

static void verify_dest(vctx *c, const char *dest)
{
    export_desc *v = NULL;
    size_t n = 0;
    store *st = NULL;
    char key[2400], print[64];
    int rc = export_list(dest, c->o->so, &v, &n);
    if (rc && rc != TM_ENOTFOUND) {
        problem(c, dest, err_msg());
        return;
    }
    if (store_open(dest, c->o->so, &st)) {
        problem(c, dest, err_msg());
        free(v);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t bytes = 0;
        snprintf(c->where, sizeof c->where, "export/%s/%s", dest, v[i].id);
        snprintf(key, sizeof key, "%s", c->where);
        c->exports++;
        if (export_print(st, dest, &v[i], print, sizeof print, &bytes) == 0 && unchanged(c, key, print)) {
            c->skipped_exports++;
            record_clean(c, key, print);
            continue;
        }
        c->bytes_read += bytes;
        export_verify_stats es;
        memset(&es, 0, sizeof es);
        rc = export_verify(v[i].dir, c->o->so, export_problem, c, &es);
        if (rc == 0) record_clean(c, key, print);
        else if (!es.problems) problem(c, c->where, err_msg());
    }
    if (!store_is_s3(st)) store_list(st, LAYOUT_ROOT, bundle_fn, c);
    store_close(st);
    free(v);
}

/* ================================================================ the run ==== */

static void state_path(const lifecycle_verify_opts *o, char *out, size_t n)
{
    if (o->state) snprintf(out, n, "%s", o->state);
    else if (o->home) snprintf(out, n, "%s/lifecycle/verify-state.json", o->home);
    else if (o->dest && strncmp(o->dest, "s3://", 5)) snprintf(out, n, "%s/.tidemark-verify-state.json", o->dest);
    else out[0] = '\0';
}

int lifecycle_verify(const lifecycle_verify_opts *o, cJSON **out)
{
    char path[PATH_MAX];
    buf b = BUF_INIT;
    vctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    *out = NULL;
    state_path(o, path, sizeof path);
    cJSON *oldroot = NULL;
    if (path[0] && fsx_read_file(path, 256u << 20, &b) == 0)
        oldroot = cJSON_ParseWithLength(b.data, b.len);
    buf_free(&b);
    c.old = cJSON_GetObjectItemCaseSensitive(oldroot, "objects");
    cJSON *newroot = cJSON_CreateObject();
    cJSON_AddNumberToObject(newroot, "version", 1);
    c.now = cJSON_AddObjectToObject(newroot, "objects");
    /* Objects of what this run does not look at stay as they were. */
    for (cJSON *x = c.old ? c.old->child : NULL; x; x = x->next) {
        int tabs = o->home && !strncmp(x->string, "table/", 6);
        int exps = o->dest && !strncmp(x->string, "export/", 7);
        if (!tabs && !exps) cJSON_AddItemToObject(c.now, x->string, cJSON_Duplicate(x, 1));
    }
    cJSON *res = cJSON_CreateObject();
    c.problems = cJSON_AddArrayToObject(res, "Problems");
    int rc = 0;
    if (o->home) {
        char **names = NULL;
        size_t n = 0;
        if (o->table) {
            verify_table(&c, o->home, o->table);
        } else if ((rc = table_list(o->home, &names, &n)) == 0) {
            for (size_t i = 0; i < n; i++) verify_table(&c, o->home, names[i]);
            table_names_free(names, n);
        }
    }
    if (!rc && o->dest) verify_dest(&c, o->dest);
    cJSON *ck = cJSON_AddObjectToObject(res, "Checked");
    cJSON_AddNumberToObject(ck, "Segments", (double)c.segs);
    cJSON_AddNumberToObject(ck, "Records", (double)c.records);
    cJSON_AddNumberToObject(ck, "Snapshots", (double)c.snaps);
    cJSON_AddNumberToObject(ck, "Exports", (double)c.exports);
    cJSON *sk = cJSON_AddObjectToObject(res, "Unchanged");
    cJSON_AddNumberToObject(sk, "Segments", (double)c.skipped_segs);
    cJSON_AddNumberToObject(sk, "Snapshots", (double)c.skipped_snaps);
    cJSON_AddNumberToObject(sk, "Exports", (double)c.skipped_exports);
    cJSON_AddNumberToObject(res, "BytesRead", (double)c.bytes_read);
    cJSON_AddBoolToObject(res, "Full", o->full);
    if (path[0]) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", path);
        char *sl = strrchr(dir, '/');
        if (sl) {
            *sl = '\0';
            fsx_mkdirs(dir, 0755);
        }
        char *text = cJSON_PrintUnformatted(newroot);
        if (text) fsx_write_atomic(path, text, strlen(text));
        free(text);
    }
    cJSON_Delete(newroot);
    cJSON_Delete(oldroot);
    *out = res;
    if (rc) return rc;
    int np = cJSON_GetArraySize(c.problems);
    return np ? err_set(TM_ECORRUPT, "%d problem%s found", np, np == 1 ? "" : "s") : 0;
}
