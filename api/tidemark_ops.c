/* tidemark_ops.c: tidemark's own operations, in the style of DynamoDB's: TidemarkSnapshot
 * (take one, or set the policy), TidemarkSnapshotVerify, TidemarkLogVerify, TidemarkLogList,
 * TidemarkItemsVerify, and the streaming bulk load (tm_batch_load, not a JSON operation).
 *
 * Reports (verify, log list) are responses, not errors: a check that found problems succeeded
 * in checking; the front end says what an exit status a finding gets. Log list's times are
 * ISO-8601 strings (…Z, µs): a tidemark report read by scripts, with no aws CLI twin. */
#include "api/ops.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/log.h"
#include "pitr/materialize.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ snapshots */

static int set_policy(tm_db *db, const char *name, const cJSON *pol, cJSON **resp, tm_error *e)
{
    table *t = NULL;
    table_info info;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(pol, "EverySeconds");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(pol, "EveryWrites");
    int k, rc;
    if ((s && (!cJSON_IsNumber(s) || s->valuedouble < 0)) || (w && (!cJSON_IsNumber(w) || w->valuedouble < 0)))
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "SnapshotPolicy: EverySeconds and EveryWrites are numbers >= 0");
    if ((k = api_open_table(db, name, 0, &t, &info, e))) return k;
    int64_t every_s = s ? (int64_t)s->valuedouble : info.snapshot_every_s;
    uint64_t every_w = w ? (uint64_t)w->valuedouble : info.snapshot_every_writes;
    if ((rc = table_set_snapshot_policy(t, every_s, every_w))) {
        k = tm_error_from(e, rc, NULL);
    } else {
        *resp = cJSON_CreateObject();
        cJSON *x = cJSON_AddObjectToObject(*resp, "SnapshotPolicy");
        cJSON_AddStringToObject(x, "TableName", name);
        cJSON_AddNumberToObject(x, "EverySeconds", (double)every_s);
        cJSON_AddNumberToObject(x, "EveryWrites", (double)every_w);
    }
    api_close_table(db, name, t);
    return k;
}

/* {"TableName"[, "SnapshotPolicy":{"EverySeconds","EveryWrites"}]} -> {"Snapshot":{...}} or
 * {"SnapshotPolicy":{...}} */
int tm_snapshot(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    const char *name;
    const cJSON *pol = cJSON_GetObjectItemCaseSensitive(req, "SnapshotPolicy");
    table *t = NULL;
    snap_info s;
    int k, rc;
    *resp = NULL;
    if ((k = req_table_name(req, &name, e))) return k;
    if (pol) return set_policy(db, name, pol, resp, e);
    if ((k = api_open_table(db, name, 0, &t, NULL, e))) return k;
    if ((rc = table_snapshot(t, &s))) {
        k = tm_error_from(e, rc, NULL);
    } else {
        char sum[17];
        *resp = cJSON_CreateObject();
        cJSON *x = cJSON_AddObjectToObject(*resp, "Snapshot");
        cJSON_AddStringToObject(x, "TableName", name);
        cJSON_AddStringToObject(x, "Name", s.name);
        cJSON_AddNumberToObject(x, "LogSeq", (double)s.seq);
        if (s.time_us) tm_json_time(x, "DateTime", s.time_us);
        cJSON_AddNumberToObject(x, "ItemCount", (double)s.item_count);
        cJSON_AddNumberToObject(x, "Bytes", (double)s.bytes);
        snprintf(sum, sizeof sum, "%016" PRIx64, s.sum);
        cJSON_AddStringToObject(x, "Xxh3", sum);
    }
    api_close_table(db, name, t);
    return k;
}

static void snapv_report(void *c, const snap_info *s, int rc)
{
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "Name", s->name);
    cJSON_AddStringToObject(x, "Status", rc == 0 ? "VERIFIED" : rc == 1 ? "UNVERIFIABLE" : "DAMAGED");
    if (rc < 0) cJSON_AddStringToObject(x, "Problem", err_msg());
    cJSON_AddItemToArray(c, x);
}

/* -> {"TableName","Snapshots":[{"Name","Status":VERIFIED|UNVERIFIABLE|DAMAGED[,"Problem"]}]} */
int tm_snapshot_verify(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    char dir[PATH_MAX];
    const char *name;
    int k, rc;
    *resp = NULL;
    if ((k = api_table_dir(db, req, &name, dir, sizeof dir, e))) return k;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "TableName", name);
    if ((rc = snap_verify_all(dir, snapv_report, cJSON_AddArrayToObject(r, "Snapshots")))) {
        cJSON_Delete(r);
        return tm_error_from(e, rc, NULL);
    }
    *resp = r;
    return 0;
}

/* ================================================================ the log */

static void add_problem(cJSON *arr, const char *segment, uint64_t offset, const char *what)
{
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "Segment", segment);
    cJSON_AddNumberToObject(x, "Offset", (double)offset);
    cJSON_AddStringToObject(x, "Problem", what);
    cJSON_AddItemToArray(arr, x);
}

static void logv_report(void *c, const char *segment, uint64_t offset, const char *what)
{
    add_problem(c, segment, offset, what);
}

/* -> {"TableName","Problems":[{"Segment","Offset","Problem"}],"Records","Segments","LastSeq",
 * "ItemsSeq"}. A reader's open applies what a crashed writer acknowledged first, so the log is
 * checked as every reader will see it, and against the items' seq. */
int tm_log_verify(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    char tdir[PATH_MAX], dir[PATH_MAX], last_seg[80] = "";
    const char *name;
    table *t = NULL;
    table_info info;
    log_gap *g = NULL;
    log_segment *segs = NULL;
    size_t ng = 0, nseg = 0;
    uint64_t end = 0, records = 0;
    int k, rc;
    *resp = NULL;
    if ((k = api_table_dir(db, req, &name, tdir, sizeof tdir, e))) return k;
    table_path(db->home, name, "log", dir, sizeof dir);
    if ((k = api_open_table(db, name, TABLE_RDONLY, &t, &info, e))) return k;
    /* a missing tail is reported at the newest segment, the one it follows */
    if (((rc = table_log_gaps(t, &g, &ng)) && rc != TM_ECORRUPT) ||
        ((rc = log_end(dir, &end, last_seg, sizeof last_seg)) && rc != TM_ECORRUPT)) {
        api_close_table(db, name, t);
        free(g);
        return tm_error_from(e, rc, NULL);
    }
    api_close_table(db, name, t);   /* (damaged segments: log_verify below names each) */
    log_list(dir, &segs, &nseg);
    free(segs);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "TableName", name);
    cJSON *probs = cJSON_AddArrayToObject(r, "Problems");
    rc = log_verify(dir, logv_report, probs, &records);
    for (size_t i = 0; i < ng; i++)
        if (g[i].first_seq > end) { /* the ones inside the log, log_verify reported */
            char what[200];
            snprintf(what, sizeof what, "seqs %" PRIu64 "..%" PRIu64 " are missing after it: %s", g[i].first_seq,
                     g[i].last_seq, g[i].why);
            add_problem(probs, last_seg[0] ? last_seg : "(no segment)", 0, what);
        }
    free(g);
    if (rc && rc != TM_ECORRUPT) {
        cJSON_Delete(r);
        return tm_error_from(e, rc, NULL);
    }
    if (rc == TM_ECORRUPT && !cJSON_GetArraySize(probs)) add_problem(probs, "(log)", 0, err_msg());
    cJSON_AddNumberToObject(r, "Records", (double)records);
    cJSON_AddNumberToObject(r, "Segments", (double)nseg);
    cJSON_AddNumberToObject(r, "LastSeq", (double)end);
    cJSON_AddNumberToObject(r, "ItemsSeq", (double)info.applied_seq);
    *resp = r;
    return 0;
}

/* -> {"Segments":[{"Name","FirstSeq","LastSeq","FirstTime","LastTime","Bytes","RawBytes",
 * "Sealed","Codec"}]} */
int tm_log_list(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    char tdir[PATH_MAX], dir[PATH_MAX], a[64], b[64];
    static const char *codec[] = {"raw", "lz4", "zstd"};
    const char *name;
    log_segment *segs = NULL;
    size_t n = 0;
    int k, rc;
    *resp = NULL;
    if ((k = api_table_dir(db, req, &name, tdir, sizeof tdir, e))) return k;
    table_path(db->home, name, "log", dir, sizeof dir);
    if ((rc = log_list(dir, &segs, &n))) return tm_error_from(e, rc, NULL);
    cJSON *r = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(r, "Segments");
    for (size_t i = 0; i < n; i++) {
        const log_segment *s = &segs[i];
        cJSON *x = cJSON_CreateObject();
        clock_format(s->first_time, 6, a, sizeof a);
        clock_format(s->last_time, 6, b, sizeof b);
        cJSON_AddStringToObject(x, "Name", s->name);
        cJSON_AddNumberToObject(x, "FirstSeq", (double)s->first_seq);
        cJSON_AddNumberToObject(x, "LastSeq", (double)s->last_seq);
        cJSON_AddStringToObject(x, "FirstTime", a);
        cJSON_AddStringToObject(x, "LastTime", b);
        cJSON_AddNumberToObject(x, "Bytes", (double)s->bytes);
        cJSON_AddNumberToObject(x, "RawBytes", (double)s->raw_bytes);
        cJSON_AddBoolToObject(x, "Sealed", s->sealed);
        cJSON_AddStringToObject(x, "Codec", (unsigned)s->codec <= LOG_CODEC_ZSTD ? codec[s->codec] : "?");
        cJSON_AddItemToArray(arr, x);
    }
    free(segs);
    *resp = r;
    return 0;
}

/* ================================================================ items verify */

#define ITEMS_VERIFY_SHOW 20

typedef struct itemsv_ctx {
    cJSON *arr;
    uint64_t shown;
} itemsv_ctx;

static void itemsv_report(void *c, const char *key, const char *what)
{
    itemsv_ctx *v = c;
    if (++v->shown > ITEMS_VERIFY_SHOW) return;
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "Key", key);
    cJSON_AddStringToObject(x, "Problem", what);
    cJSON_AddItemToArray(v->arr, x);
}

/* The items against their rebuild from snapshot + log (forward only: a live seed would copy
 * the very file under test), at the newest time, which is the items' seq unless a writer came
 * in between. -> {"TableName","Items","Seq","ProblemCount","Problems":[{"Key","Problem"}] (the
 * first 20),"Compared":bool, then "RebuildSeq","RebuildSeed":"SNAPSHOT"|"EMPTY","RebuildRecords"
 * when compared, else "NotCompared" (why) and "RebuildFailed"} */
int tm_items_verify(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    const char *name;
    table *t = NULL, *ref = NULL;
    char tmp[PATH_MAX] = "", why[1100] = "";
    table_info info;
    table_verify_stats st;
    pitr_stats ps;
    int k, rc, failed = 0;
    *resp = NULL;
    if ((k = req_table_name(req, &name, e)) || (k = api_open_table(db, name, TABLE_RDONLY, &t, &info, e))) return k;
    if (!info.pitr_enabled) {
        snprintf(why, sizeof why, "point-in-time recovery is off for this table (no snapshot + log to rebuild it from)");
    } else {
        pitr_opts po = PITR_OPTS_INIT;
        po.direction = PITR_FORWARD;
        po.copy_settings = 0;
        if (pitr_materialize_temp_ex(db->home, name, PITR_LATEST, &po, &ref, tmp, sizeof tmp, &ps)) {
            snprintf(why, sizeof why, "the rebuild from snapshot + log failed: %s", err_msg());
            failed = 1;
        }
    }
    cJSON *r = cJSON_CreateObject();
    itemsv_ctx v = {NULL, 0};
    cJSON_AddStringToObject(r, "TableName", name);
    v.arr = cJSON_AddArrayToObject(r, "Problems");
    if ((rc = table_verify_items(t, ref, itemsv_report, &v, &st))) {
        k = tm_error_from(e, rc, NULL);
        cJSON_Delete(r);
        r = NULL;
        goto out;
    }
    if (ref && ps.target_seq != st.seq) {
        char what[200];
        snprintf(what, sizeof what, "the rebuild is at seq %" PRIu64 ", the items at seq %" PRIu64
                 " (the table took writes meanwhile: run it again)", ps.target_seq, st.seq);
        st.problems++;
        v.shown = ITEMS_VERIFY_SHOW;   /* shown in any case */
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "Problem", what);
        cJSON_AddItemToArray(v.arr, x);
    }
    cJSON_AddNumberToObject(r, "ProblemCount", (double)st.problems);
    cJSON_AddNumberToObject(r, "Items", (double)st.items);
    cJSON_AddNumberToObject(r, "Seq", (double)st.seq);
    cJSON_AddBoolToObject(r, "Compared", ref != NULL);
    if (ref) {
        cJSON_AddNumberToObject(r, "RebuildSeq", (double)ps.target_seq);
        cJSON_AddStringToObject(r, "RebuildSeed", ps.seed == PITR_SEED_SNAPSHOT ? "SNAPSHOT" : "EMPTY");
        cJSON_AddNumberToObject(r, "RebuildRecords", (double)ps.records);
    } else {
        cJSON_AddStringToObject(r, "NotCompared", why);
        cJSON_AddBoolToObject(r, "RebuildFailed", failed);
    }
    char file[PATH_MAX + 64];
    snprintf(file, sizeof file, "%s/tables/%s/items/data.mdb", db->home, name);
    cJSON_AddStringToObject(r, "File", file);
out:
    pitr_temp_drop(ref, tmp);
    api_close_table(db, name, t);
    *resp = r;
    return k;
}

/* ================================================================ bulk load */

/* The lines before a bad one are good: commit them, so that the load resumes at the bad one. */
static int load_finish(table_batch *b, int bad, uint64_t last_good, tm_load_stats *st, const tm_batch_load_opts *o)
{
    if (!b) return bad;
    if (!st->batch_items) {
        table_batch_abort(b);
        return bad;
    }
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", err_msg());
    int rc = table_batch_commit(b);
    if (!rc) {
        st->batches++;
        st->acked_line = last_good;
        if (o->ack) o->ack(o->ctx, st);
    } else {
        st->items -= st->batch_items;
    }
    if (bad) err_set(bad, "%s", saved);
    return bad ? bad : rc;
}

int tm_batch_load(tm_db *db, const tm_batch_load_opts *o, tm_load_stats *st, tm_error *e)
{
    table *t = NULL;
    table_batch *b = NULL;
    uint64_t size = o->batch_size ? o->batch_size : 1000;
    const char *src = o->source ? o->source : "input", *p = NULL;
    size_t n = 0;
    int k, rc = 0, lr;
    memset(st, 0, sizeof *st);
    if (!o->table || table_check_name(o->table)) {
        tm_error_from(e, table_check_name(o->table ? o->table : ""), NULL);
        if (e) e->kind = TM_ERR_BAD_PARAMETER;
        return TM_ERR_BAD_PARAMETER;
    }
    /* TABLE_BULK: each batch is acknowledged once durable in the log; LMDB commits are joined. */
    if ((k = api_open_table(db, o->table, TABLE_BULK, &t, NULL, e))) return k;
    while ((lr = o->next(o->ctx, &p, &n)) > 0) {
        st->lines++;
        size_t i = 0;
        while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r')) i++;
        if (i == n) continue;
        item *it = NULL;
        rc = item_parse_json(p, n, ITEM_PARSE_WRAPPED, &it);
        if (!rc && !b) rc = table_batch_begin(t, &b);
        if (!rc) rc = table_batch_put(b, it);
        item_free(it);
        if (rc) {
            err_wrap(rc, "%s:%" PRIu64 ": ", src, st->lines);
            break;
        }
        st->items++;
        st->batch_items++;
        st->bytes += n + 1;
        if (st->batch_items >= size) {
            rc = table_batch_commit(b);
            b = NULL;
            if (rc) break;
            st->batches++;
            st->acked_line = st->lines;
            if (o->ack) o->ack(o->ctx, st);
            st->batch_items = st->bytes = 0;
        }
    }
    if (lr < 0) {
        rc = lr;
        err_wrap(rc, "%s:%" PRIu64 ": ", src, st->lines + 1);
    }
    rc = load_finish(b, rc, rc ? st->lines - 1 : st->lines, st, o);
    b = NULL;
    if (rc) k = tm_error_from(e, rc, NULL);
    api_close_table(db, o->table, t);
    return k;
}
