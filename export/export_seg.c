/* export_seg.c: a full export fed segment by segment from outside (a remote table's parallel
 * Scan), through the export pipeline, with the resume rules of export_seg.h.
 *
 * STATE FILE: tidemark-export-state.json as export.c writes it (xp_state_json: the meta and
 * every committed file; "partitions" is S * units-per-segment, the partition numbers in use)
 * plus two members of its own:
 *   "remoteSource": "<what is read, e.g. http://host:port>"
 *   "segments": [{"unit":<next unit>,"position":"<JSON text>"|null,"done":true|false}, ...]
 * The state is replaced (atomically, by the store) each time a unit's files are committed;
 * it lists only committed files, each with the position after the unit's last page. */
#include "export/export_seg.h"
#include "export/export_internal.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/table.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEG_PARTS_CAP   (1 << 20)              /* xp_state_parse's limit on partitions */
#define SEG_UNIT_BYTES  ((uint64_t)32 << 20)
#define SEG_UNIT_MS     10000

/* A unit ended by the producer, waiting for its files to be committed. */
typedef struct cut {
    int unit;
    char *pos;                    /* position after its last page; NULL with last */
    int last;
} cut;

typedef struct seg {
    xp_pipe *pipe;
    /* producer side (the segment's thread) */
    int unit;                     /* the unit being filled */
    uint64_t unit_items, unit_bytes;
    int64_t unit_t0;
    int has_files;                /* some unit of this segment holds files */
    /* committed side (under mu) */
    int next_unit;                /* the first unit not committed */
    char *pos;                    /* where that unit starts (NULL: the start) */
    int done;
    cut *q;                       /* FIFO of ended units */
    size_t qhead, qn, qcap;
} seg;

struct export_seg {
    export_seg_options o;
    store *st;
    xp_meta m;
    int nseg, units_max;
    int resumed, finished;
    pthread_mutex_t mu;
    seg *segs;
    xp_file *files;
    size_t nfiles, capfiles;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ================================================================================================
 * The state file
 * ============================================================================================== */

static int add_segments(const export_seg *x, cJSON *o)
{
    cJSON *a = cJSON_AddArrayToObject(o, "segments");
    if (!a || !cJSON_AddStringToObject(o, XP_STATE_REMOTE, x->o.source))
        return err_set(TM_ENOMEM, "out of memory");
    for (int i = 0; i < x->nseg; i++) {
        const seg *s = &x->segs[i];
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddItemToArray(a, e)) {
            cJSON_Delete(e);
            return err_set(TM_ENOMEM, "out of memory");
        }
        cJSON_AddNumberToObject(e, "unit", s->next_unit);
        if (s->pos) cJSON_AddStringToObject(e, "position", s->pos);
        else cJSON_AddNullToObject(e, "position");
        cJSON_AddBoolToObject(e, "done", s->done);
    }
    return 0;
}

/* Under mu (or before any thread runs). */
static int write_state(export_seg *x, const char *status, const char *failure)
{
    buf b = BUF_INIT;
    int rc = xp_state_json(&x->m, status, failure, x->files, x->nfiles, NULL, &b);
    cJSON *o = rc ? NULL : cJSON_ParseWithLength(b.data, b.len);
    char *text = NULL;
    if (!rc && !o) rc = err_set(TM_ENOMEM, "out of memory");
    if (!rc) rc = add_segments(x, o);
    if (!rc && !(text = cJSON_PrintUnformatted(o))) rc = err_set(TM_ENOMEM, "out of memory");
    if (!rc) rc = xp_put_text(x->st, &x->m, XP_STATE_NAME, text, strlen(text));
    free(text);
    cJSON_Delete(o);
    buf_free(&b);
    return rc;
}

static int add_file(export_seg *x, const xp_file *f)
{
    return xp_files_add(&x->files, &x->nfiles, &x->capfiles, f);
}

/* Reads the segments member of a state; the counts must be the export's. */
static int parse_segments(export_seg *x, const cJSON *state)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(state, "segments"), *e;
    if (cJSON_GetArraySize(a) != x->nseg)
        return err_set(TM_ECORRUPT, "%s: %d segments listed, not %d", XP_STATE_NAME,
                       cJSON_GetArraySize(a), x->nseg);
    int i = 0;
    cJSON_ArrayForEach(e, a) {
        seg *s = &x->segs[i++];
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(e, "unit");
        const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "position"));
        if (!cJSON_IsNumber(u) || u->valueint < 0 || u->valueint > x->units_max)
            return err_set(TM_ECORRUPT, "%s: bad unit of segment %d", XP_STATE_NAME, i - 1);
        s->next_unit = s->unit = u->valueint;
        s->done = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "done"));
        if (p && !(s->pos = strdup(p))) return err_set(TM_ENOMEM, "out of memory");
    }
    return 0;
}

/* ================================================================================================
 * Finding the export to continue
 * ============================================================================================== */

typedef struct found {
    export_seg *x;
    buf state;                    /* the last matching state */
    int rc;
} found;

static int ks_same(const key_schema *a, const key_schema *b)
{
    return a->hash_type == b->hash_type && a->range_type == b->range_type &&
           !strcmp(a->hash_name, b->hash_name) &&
           (!a->range_type || !strcmp(a->range_name, b->range_name));
}

/* store_list_dirs callback: "AWSDynamoDB/<id>/" with a state of the same source and table. */
static int look_dir(void *ctx, const store_entry *e)
{
    found *f = ctx;
    char key[300];
    buf b = BUF_INIT;
    snprintf(key, sizeof key, "%s%s", e->key, XP_STATE_NAME);
    if (store_get_all(f->x->st, key, (size_t)64 << 20, &b)) {
        buf_free(&b);
        return 0;   /* no state (a finished or a local export), or unreadable: not ours */
    }
    cJSON *o = cJSON_ParseWithLength(b.data, b.len);
    const char *src = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, XP_STATE_REMOTE));
    const char *tn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "table"));
    if (src && tn && !strcmp(src, f->x->o.source) && !strcmp(tn, f->x->o.table)) {
        buf_free(&f->state);
        f->state = b;   /* listing order is time order: the last one wins */
        b = (buf)BUF_INIT;
    }
    cJSON_Delete(o);
    buf_free(&b);
    return 0;
}

/* Deletes the files of units from `unit` on that a killed run may have committed unrecorded
 * (the names are fixed, so probing stops at the first unit without its first file). */
static int drop_later_units(export_seg *x, int sg, int unit)
{
    char prefix[64], name[27], key[200];
    store_object_info oi;
    xp_data_prefix(&x->m, prefix, sizeof prefix);
    for (int u = unit; u < x->units_max; u++) {
        int part = sg + x->nseg * u, idx = 0;
        for (;; idx++) {
            xp_file_name(x->m.id, part, idx, name);
            snprintf(key, sizeof key, "%s%s%s", prefix, name, xp_ext(x->m.compression));
            if (store_head(x->st, key, &oi)) break;
            int rc = store_delete(x->st, key);
            if (rc) return err_wrap(rc, "%s: ", key);
        }
        if (!idx) break;
    }
    return 0;
}

static int resume_from(export_seg *x, const buf *state)
{
    char status[32];
    xp_file *files = NULL;
    size_t n = 0;
    unsigned char *done = NULL;
    cJSON *o = NULL;
    key_schema ks = x->m.ks;
    int rc = xp_state_parse(state->data, state->len, &x->m, status, sizeof status, &files, &n,
                            &done);
    if (rc) goto out;
    free(done);
    if (!ks_same(&ks, &x->m.ks)) {
        rc = err_set(TM_EINVAL, "the unfinished export %s of table %s has another key schema "
                     "than the table now: delete it to start again", x->m.id, x->m.table);
        goto out;
    }
    x->nseg = 0;
    o = cJSON_ParseWithLength(state->data, state->len);
    x->nseg = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "segments"));
    if (x->nseg < 1 || x->nseg > EXPORT_SEG_MAX) {
        rc = err_set(TM_ECORRUPT, "%s: bad segments", XP_STATE_NAME);
        goto out;
    }
    x->units_max = x->m.parts / x->nseg;
    if (!(x->segs = calloc((size_t)x->nseg, sizeof *x->segs))) {
        rc = err_set(TM_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = parse_segments(x, o))) goto out;
    for (size_t i = 0; !rc && i < n; i++) {
        x->segs[files[i].part % x->nseg].has_files = 1;
        rc = add_file(x, &files[i]);
    }
    for (int i = 0; !rc && i < x->nseg; i++)
        if (!x->segs[i].done) rc = drop_later_units(x, i, x->segs[i].next_unit);
    x->resumed = 1;
out:
    cJSON_Delete(o);
    free(files);
    return rc;
}

/* ================================================================================================
 * Opening
 * ============================================================================================== */

static int start_new(export_seg *x)
{
    const export_seg_options *o = &x->o;
    xp_meta *m = &x->m;
    m->start_us = clock_now_us();
    xp_export_id(m->start_us, m->id);
    m->type = EXPORT_FULL;
    m->compression = o->compression;
    m->level = o->level;
    snprintf(m->table, sizeof m->table, "%s", o->table);
    snprintf(m->table_id, sizeof m->table_id, "%s", o->table_id ? o->table_id : "");
    snprintf(m->region, sizeof m->region, "%s", table_arn_region(o->region));
    snprintf(m->account, sizeof m->account, "%s", table_arn_account(o->account));
    m->max_file_bytes = o->max_file_bytes ? o->max_file_bytes : EXPORT_DEFAULT_MAX_FILE_BYTES;
    m->export_time_us = m->start_us;   /* a Scan is not one moment: its start stands for it */
    x->nseg = o->segments;
    x->units_max = SEG_PARTS_CAP / x->nseg;
    m->parts = x->nseg * x->units_max;
    if (!(x->segs = calloc((size_t)x->nseg, sizeof *x->segs)))
        return err_set(TM_ENOMEM, "out of memory");
    int rc = xp_set_location(m, x->st, o->s3_bucket, o->s3_prefix);
    if (!rc) rc = xp_put_text(x->st, m, "_started", "", 0);
    if (!rc) rc = write_state(x, "IN_PROGRESS", NULL);
    return rc;
}

int export_seg_open(const export_seg_options *o, export_seg **out)
{
    *out = NULL;
    if (!o->dest || !o->source || !o->table || !o->ks.hash_type)
        return err_set(TM_EINVAL, "export_seg: destination, source, table and key schema are "
                       "required");
    if (o->segments < 1 || o->segments > EXPORT_SEG_MAX)
        return err_set(TM_EINVAL, "--segments %d: must be 1..%d", o->segments, EXPORT_SEG_MAX);
    xp_codec *probe;
    int rc = xp_codec_new(o->compression, o->level, &probe);
    if (rc) return rc;
    xp_codec_free(probe);
    export_seg *x = calloc(1, sizeof *x);
    if (!x) return err_set(TM_ENOMEM, "out of memory");
    x->o = *o;
    x->m.ks = o->ks;
    pthread_mutex_init(&x->mu, NULL);
    if ((rc = store_open(o->dest, o->store, &x->st))) {
        rc = err_wrap(rc, "destination %s: ", o->dest);
        goto fail;
    }
    found f = {x, BUF_INIT, 0};
    rc = store_list_dirs(x->st, "AWSDynamoDB/", look_dir, &f);
    if (rc == TM_ENOTFOUND) rc = 0;   /* a new destination */
    if (!rc) rc = f.state.len ? resume_from(x, &f.state) : start_new(x);
    buf_free(&f.state);
    if (rc) goto fail;
    for (int i = 0; i < x->nseg; i++) x->segs[i].unit_t0 = mono_ms();
    *out = x;
    return 0;
fail:
    x->finished = 1;   /* nothing to record */
    export_seg_close(x);
    return rc;
}

int export_seg_resumed(const export_seg *x, const char **id)
{
    if (id) *id = x->m.id;
    return x->resumed;
}

int export_seg_count(const export_seg *x)
{
    return x->nseg;
}

/* ================================================================================================
 * Feeding a segment
 * ============================================================================================== */

/* Writer thread of a segment's pipeline: a unit's files are committed; record them with the
 * position after the unit. */
static int on_part(void *ctx, int part, const xp_file *files, size_t n)
{
    export_seg *x = ctx;
    seg *s = &x->segs[part % x->nseg];
    int rc = 0;
    pthread_mutex_lock(&x->mu);
    for (size_t i = 0; !rc && i < n; i++) rc = add_file(x, &files[i]);
    if (!rc && (!s->qn || s->q[s->qhead].unit != part / x->nseg))
        rc = err_set(TM_EIO, "export: unit %d of segment %d ended out of order", part / x->nseg,
                     part % x->nseg);
    if (!rc) {
        cut *c = &s->q[s->qhead];
        free(s->pos);
        s->pos = c->pos;
        s->next_unit = c->unit + 1;
        s->done = c->last;
        s->qhead++;
        s->qn--;
        rc = write_state(x, "IN_PROGRESS", NULL);
    }
    pthread_mutex_unlock(&x->mu);
    return rc;
}

int export_seg_start(export_seg *x, int sg, const char **pos)
{
    *pos = NULL;
    if (sg < 0 || sg >= x->nseg) return err_set(TM_EINVAL, "segment %d of %d", sg, x->nseg);
    seg *s = &x->segs[sg];
    if (s->done) return 1;
    if (!s->pipe) {
        xp_config c = {x->st, &x->m, 1, x->o.prog, on_part, x};
        int rc = xp_open(&c, &s->pipe);
        if (rc) return rc;
    }
    *pos = s->pos;
    return 0;
}

int export_seg_item(export_seg *x, int sg, const void *bin, size_t n)
{
    seg *s = &x->segs[sg];
    if (s->unit >= x->units_max)
        return err_set(TM_ELIMIT, "segment %d: more than %d units (use more segments)", sg,
                       x->units_max);
    s->unit_items++;
    s->unit_bytes += n;
    return xp_item(s->pipe, sg + x->nseg * s->unit, bin, n);
}

/* Ends the unit being filled at pos (NULL: the segment's last). */
static int end_unit(export_seg *x, int sg, const char *pos)
{
    seg *s = &x->segs[sg];
    char *p = pos ? strdup(pos) : NULL;
    if (pos && !p) return err_set(TM_ENOMEM, "out of memory");
    pthread_mutex_lock(&x->mu);
    if (s->qhead + s->qn == s->qcap) {
        if (s->qhead) {   /* slide the live entries to the front */
            memmove(s->q, s->q + s->qhead, s->qn * sizeof *s->q);
            s->qhead = 0;
        } else {
            size_t c = s->qcap ? s->qcap * 2 : 8;
            cut *nq = realloc(s->q, c * sizeof *nq);
            if (!nq) {
                pthread_mutex_unlock(&x->mu);
                free(p);
                return err_set(TM_ENOMEM, "out of memory");
            }
            s->q = nq;
            s->qcap = c;
        }
    }
    s->q[s->qhead + s->qn++] = (cut){s->unit, p, pos == NULL};
    pthread_mutex_unlock(&x->mu);
    /* Queued before the end goes down the pipe: its writer may record it at once. */
    int rc = xp_end_part(s->pipe, sg + x->nseg * s->unit);
    s->unit++;
    s->has_files = 1;
    return rc;
}

int export_seg_mark(export_seg *x, int sg, const char *pos)
{
    seg *s = &x->segs[sg];
    int64_t now = mono_ms();
    uint64_t ub = x->o.unit_bytes ? x->o.unit_bytes : SEG_UNIT_BYTES;
    int64_t ums = x->o.unit_ms > 0 ? x->o.unit_ms : SEG_UNIT_MS;
    if (pos && s->unit_bytes < ub && now - s->unit_t0 < ums) return 0;
    int rc = 0;
    /* An empty unit is not ended (no empty file), except as a segment's only one. */
    if (s->unit_items || (!pos && !s->has_files)) rc = end_unit(x, sg, pos);
    s->unit_items = s->unit_bytes = 0;
    s->unit_t0 = now;
    if (rc || pos) return rc;
    /* The segment's last mark: wait for its writer, then it is done. */
    xp_file *files = NULL;
    size_t n = 0;
    rc = xp_close(s->pipe, 1, &files, &n);
    s->pipe = NULL;
    free(files);   /* on_part copied them */
    if (rc) return rc;
    pthread_mutex_lock(&x->mu);
    if (!s->done) {
        s->done = 1;
        rc = write_state(x, "IN_PROGRESS", NULL);
    }
    pthread_mutex_unlock(&x->mu);
    return rc;
}

/* ================================================================================================
 * Ending
 * ============================================================================================== */

int export_seg_finish(export_seg *x, export_desc *res)
{
    for (int i = 0; i < x->nseg; i++)
        if (!x->segs[i].done)
            return err_set(TM_EINVAL, "export_seg_finish: segment %d is not complete", i);
    int rc = xp_finish(x->st, &x->m, x->files, x->nfiles, res);
    if (!rc) x->finished = 1;
    return rc;
}

void export_seg_close(export_seg *x)
{
    if (!x) return;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", err_msg());
    for (int i = 0; x->segs && i < x->nseg; i++)
        if (x->segs[i].pipe) xp_close(x->segs[i].pipe, 0, NULL, NULL);
    if (!x->finished && x->st) write_state(x, "FAILED", msg);   /* best effort */
    err_set(TM_EIO, "%s", msg);   /* the caller's detail, not the state file's */
    for (int i = 0; x->segs && i < x->nseg; i++) {
        seg *s = &x->segs[i];
        for (size_t k = 0; k < s->qn; k++) free(s->q[s->qhead + k].pos);
        free(s->q);
        free(s->pos);
    }
    free(x->segs);
    free(x->files);
    store_close(x->st);
    pthread_mutex_destroy(&x->mu);
    free(x);
}
