/* run.c: tidemark-lifecycle run and the table half of report: retention that never breaks a
 * restore plan, new base snapshots past a replay budget, LZ4 -> zstd recompression of cold
 * segments.
 *
 * What may go is pitr_retention's answer (pitr/retention.h), less what running readers hold
 * (engine/hold.h). Before anything goes, the planner (pitr/plan.h) is asked for a plan, without
 * it, at every second where a plan could change: the window's ends and both sides of every
 * snapshot and segment boundary in the window (between two such events the same seeds and the
 * same segments serve, so a plan found at the events is found everywhere). One refusal and
 * nothing of that table is deleted; the result names the second.
 *
 * Order, so that a run killed at any point leaves every second restorable: decide and delete
 * under the holds lock (no reader's hold can appear meanwhile); snapshots older than the base
 * first, then segments oldest first (the base and every segment after it stay to the end). */
#include "lifecycle/lifecycle.h"
#include "lifecycle/lifecycle_internal.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/hold.h"
#include "engine/text.h"
#include "engine/table.h"
#include "pitr/plan.h"
#include "pitr/retention.h"
#include "pitr/window.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY_US (86400 * CLOCK_US_PER_SEC)

/* ================================================================ one table's state ==== */

typedef struct tstate {
    table *t;
    table_info info;
    int pitr;
    int64_t earliest, latest, now;
    log_segment *segs;
    size_t nsegs;
    snap_info *snaps;
    size_t nsnaps;
    unsigned char *drop;          /* nsegs + nsnaps flags */
    hold_info *holds;
    size_t nholds;
    size_t held;                  /* drops cancelled by holds */
    int base;                     /* index of the base snapshot kept, -1 */
} tstate;

static void tstate_free(tstate *s)
{
    table_close(s->t);
    free(s->segs);
    free(s->snaps);
    free(s->drop);
    free(s->holds);
    memset(s, 0, sizeof *s);
}

static int tstate_load(const char *home, const char *name, tstate *s)
{
    int rc;
    memset(s, 0, sizeof *s);
    s->base = -1;
    s->now = clock_now_us();
    if ((rc = table_open(home, name, 0, &s->t))) return rc;
    if ((rc = table_describe(s->t, &s->info))) return rc;
    s->pitr = s->info.pitr_enabled;
    if (s->pitr && (rc = table_pitr_window(s->t, &s->earliest, &s->latest))) return rc;
    if ((rc = log_list(table_log_dir(s->t), &s->segs, &s->nsegs))) return rc;
    if ((rc = snap_list(table_dir(s->t), &s->snaps, &s->nsnaps))) return rc;
    if (!(s->drop = calloc(s->nsegs + s->nsnaps + 1, 1))) return err_set(TM_ENOMEM, "out of memory");
    return 0;
}

/* pitr_retention's answer, less what is held (call under the holds lock). */
static int decide(tstate *s)
{
    pitr_retention_in in = {{s->pitr, s->info.pitr_enabled_us, s->info.pitr_period_days},
                            s->earliest, s->info.applied_seq, s->segs, s->nsegs, s->snaps,
                            s->nsnaps};
    pitr_retention(&in, s->drop, s->drop + s->nsegs);
    for (size_t i = 0; i < s->nsnaps; i++)
        if (s->snaps[i].time_us <= s->earliest && snap_verifiable(&s->snaps[i])) s->base = (int)i;
    int rc = hold_list(table_dir(s->t), &s->holds, &s->nholds);
    if (rc) return rc;
    s->held = hold_filter(s->holds, s->nholds, s->segs, s->nsegs, s->drop, s->snaps, s->nsnaps,
                          s->drop + s->nsegs);
    return 0;
}

/* ================================================================ the plan check ==== */

/* S_T for a time in the window, from what the table has now (before anything goes). Exact at
 * the events (write times rise strictly per table); elsewhere one segment is read. */
static int seq_at(const tstate *s, int64_t t, uint64_t *out)
{
    uint64_t q = 0;
    for (size_t i = 0; i < s->nsegs; i++) {
        const log_segment *g = &s->segs[i];
        if (g->last_time <= t) {
            if (g->last_seq > q) q = g->last_seq;
        } else if (g->first_time == t) {
            if (g->first_seq > q) q = g->first_seq;
        } else if (g->first_time == t + 1) {
            if (g->first_seq - 1 > q) q = g->first_seq - 1;
        } else if (g->last_time == t + 1) {
            if (g->last_seq - 1 > q) q = g->last_seq - 1;
        } else if (g->first_time < t) {
            uint64_t x = 0;
            int rc = log_seq_at_time(table_log_dir(s->t), t, &x);
            if (rc) return rc;
            if (x > q) q = x;
        }
    }
    for (size_t i = 0; i < s->nsnaps; i++)
        if (s->snaps[i].time_us <= t && s->snaps[i].seq > q) q = s->snaps[i].seq;
    if (s->info.last_write_us <= t && s->info.applied_seq > q) q = s->info.applied_seq;
    if (q > s->info.applied_seq) q = s->info.applied_seq;
    *out = q;
    return 0;
}

typedef struct kept {
    log_segment *segs;
    size_t nsegs;
    snap_info *snaps;
    unsigned char *skip;
    size_t nsnaps;
} kept;

static void kept_free(kept *k)
{
    free(k->segs);
    free(k->snaps);
    free(k->skip);
}

static int kept_make(const tstate *s, kept *k)
{
    memset(k, 0, sizeof *k);
    k->segs = malloc((s->nsegs + 1) * sizeof *k->segs);
    k->snaps = malloc((s->nsnaps + 1) * sizeof *k->snaps);
    k->skip = calloc(s->nsnaps + 1, 1);
    if (!k->segs || !k->snaps || !k->skip) return err_set(TM_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->nsegs; i++)
        if (!s->drop[i]) k->segs[k->nsegs++] = s->segs[i];
    for (size_t i = 0; i < s->nsnaps; i++)
        if (!s->drop[s->nsegs + i]) {
            k->skip[k->nsnaps] = !snap_verifiable(&s->snaps[i]);
            k->snaps[k->nsnaps++] = s->snaps[i];
        }
    return 0;
}

/* 0 if a plan exists at t without what is dropped; else TM_EMISSING with the planner's why. */
static int plan_at(const tstate *s, const kept *k, int64_t t)
{
    if (t < s->earliest || t > s->latest) return 0;
    pitr_input in = PITR_INPUT_INIT;
    int rc = seq_at(s, t, &in.target_seq);
    if (rc) return rc;
    in.t_us = t;
    in.earliest_us = s->earliest;
    in.latest_us = s->latest;
    in.snaps = k->snaps;
    in.nsnaps = k->nsnaps;
    in.snap_skip = k->skip;
    in.segs = k->segs;
    in.nsegs = k->nsegs;
    in.has_live = 1;
    in.live_seq = s->info.applied_seq;
    in.live_time = s->info.last_write_us;
    in.live_bytes = s->info.size_bytes;
    pitr_plan *p = NULL;
    rc = pitr_plan_make(&in, PITR_AUTO, &p);
    pitr_plan_free(p);
    return rc;
}

/* Every event second of the window keeps a plan; *bad: the first that would not. */
static int check_plans(const tstate *s, int64_t *bad)
{
    kept k;
    int rc = kept_make(s, &k);
    *bad = 0;
    int64_t ev[4];
    if (!rc) rc = plan_at(s, &k, s->earliest);
    if (rc) *bad = s->earliest;
    if (!rc && (rc = plan_at(s, &k, s->latest))) *bad = s->latest;
    for (size_t i = 0; !rc && i < s->nsegs; i++) {
        ev[0] = s->segs[i].first_time - 1, ev[1] = s->segs[i].first_time;
        ev[2] = s->segs[i].last_time - 1, ev[3] = s->segs[i].last_time;
        for (int j = 0; !rc && j < 4; j++)
            if ((rc = plan_at(s, &k, ev[j]))) *bad = ev[j];
    }
    for (size_t i = 0; !rc && i < s->nsnaps; i++) {
        if (!s->snaps[i].time_us) continue;
        ev[0] = s->snaps[i].time_us - 1, ev[1] = s->snaps[i].time_us;
        for (int j = 0; !rc && j < 2; j++)
            if ((rc = plan_at(s, &k, ev[j]))) *bad = ev[j];
    }
    kept_free(&k);
    return rc;
}

/* ================================================================ actions ==== */

static void action(cJSON *list, const char *what, const char *object, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void action(cJSON *list, const char *what, const char *object, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "Action", what);
    cJSON_AddStringToObject(a, "Object", object);
    cJSON_AddStringToObject(a, "Reason", why);
    cJSON_AddItemToArray(list, a);
}

/* What the drop flags say, with the reasons, into list. */
static void describe_drops(const tstate *s, cJSON *list)
{
    char e[40], t[40], obj[128];
    clock_format(s->earliest, 0, e, sizeof e);
    const char *base = s->base >= 0 ? s->snaps[s->base].name : "";
    for (size_t i = 0; i < s->nsnaps; i++) {
        if (!s->drop[s->nsegs + i]) continue;
        clock_format(s->snaps[i].time_us, 0, t, sizeof t);
        snprintf(obj, sizeof obj, "snapshot %s", s->snaps[i].name);
        action(list, "delete", obj, "taken at %s, older than the base snapshot %s that serves "
               "the window's start %s", t, base, e);
    }
    for (size_t i = 0; i < s->nsegs; i++) {
        if (!s->drop[i]) continue;
        const log_segment *g = &s->segs[i];
        clock_format(g->last_time, 0, t, sizeof t);
        snprintf(obj, sizeof obj, "segment %s", g->name);
        if (!s->pitr)
            action(list, "delete", obj, "point-in-time recovery is off: the items hold records "
                   "%" PRIu64 "..%" PRIu64 " durably and no history is kept", g->first_seq, g->last_seq);
        else
            action(list, "delete", obj, "records %" PRIu64 "..%" PRIu64 " end at %s, before the "
                   "window's start %s; the base snapshot %s covers them", g->first_seq,
                   g->last_seq, t, e, base);
    }
}

static int test_kill_point(unsigned *left)
{
    if (*left && --*left == 0) _exit(137);   /* tests: a run killed mid-way */
    return 0;
}

static int delete_drops(tstate *s, unsigned *kill_left, unsigned *deleted)
{
    int rc;
    for (size_t i = 0; i < s->nsnaps; i++)
        if (s->drop[s->nsegs + i]) {
            if ((rc = snap_remove(table_dir(s->t), s->snaps[i].name))) return rc;
            (*deleted)++;
            test_kill_point(kill_left);
        }
    for (size_t i = 0; i < s->nsegs; i++)
        if (s->drop[i]) {
            if ((rc = log_remove_segment(table_log_dir(s->t), s->segs[i].name))) return rc;
            (*deleted)++;
            test_kill_point(kill_left);
        }
    return 0;
}

/* Log bytes (uncompressed records) after the newest verifiable snapshot that stays. */
static uint64_t replay_bytes(const tstate *s, char *from, size_t fn)
{
    uint64_t seq = 0, n = 0;
    snprintf(from, fn, "the empty table");
    for (size_t i = 0; i < s->nsnaps; i++)
        if (!s->drop[s->nsegs + i] && snap_verifiable(&s->snaps[i]) && s->snaps[i].seq >= seq) {
            seq = s->snaps[i].seq;
            snprintf(from, fn, "snapshot %s", s->snaps[i].name);
        }
    for (size_t i = 0; i < s->nsegs; i++)
        if (!s->drop[i] && s->segs[i].last_seq > seq) n += s->segs[i].raw_bytes;
    return n;
}

static void snapshot_step(tstate *s, const lifecycle_run_opts *o, cJSON *acts)
{
    char from[64], hb[32], bb[32];
    uint64_t budget = o->replay_budget ? o->replay_budget : LIFECYCLE_REPLAY_BUDGET;
    uint64_t n = replay_bytes(s, from, sizeof from);
    if (!s->pitr || n <= budget) return;
    text_human_bytes((double)n, hb, sizeof hb);
    text_human_bytes((double)budget, bb, sizeof bb);
    if (o->dry_run) {
        action(acts, "snapshot", "new base snapshot", "%s of log lies after %s, over the "
               "replay budget of %s", hb, from, bb);
        return;
    }
    snap_info si;
    int rc = table_snapshot(s->t, &si);
    char obj[64];
    snprintf(obj, sizeof obj, "snapshot %s", rc ? "(failed)" : si.name);
    action(acts, rc ? "failed" : "snapshot", obj, "%s of log lay after %s, over the replay "
           "budget of %s%s%s", hb, from, bb, rc ? ": " : "", rc ? err_msg() : "");
}

static void recompress_step(tstate *s, const lifecycle_run_opts *o, cJSON *acts)
{
    int days = o->recompress_days ? o->recompress_days : LIFECYCLE_RECOMPRESS_DAYS;
    if (days < 0) return;
    int64_t before = s->now - (int64_t)days * DAY_US;
    char t[40], obj[96];
    for (size_t i = 0; i < s->nsegs; i++) {
        const log_segment *g = &s->segs[i];
        if (s->drop[i] || !g->sealed || g->codec != LOG_CODEC_LZ4 || g->last_time >= before) continue;
        if (hold_covers_seqs(s->holds, s->nholds, g->first_seq, g->last_seq)) continue;
        clock_format(g->last_time, 0, t, sizeof t);
        snprintf(obj, sizeof obj, "segment %s", g->name);
        int rc = o->dry_run ? 0 : log_recompress(table_log_dir(s->t), g->name, LOG_CODEC_ZSTD);
        action(acts, rc ? "failed" : "recompress", obj, "sealed, last record at %s, older than "
               "%d days: LZ4 -> zstd%s%s", t, days, rc ? ": " : "", rc ? err_msg() : "");
    }
}

static cJSON *window_json(const tstate *s)
{
    cJSON *w = cJSON_CreateObject();
    cJSON_AddStringToObject(w, "PointInTimeRecoveryStatus", s->pitr ? "ENABLED" : "DISABLED");
    if (!s->pitr) return w;
    cJSON_AddNumberToObject(w, "RecoveryPeriodInDays", s->info.pitr_period_days);
    lc_add_time(w, "EarliestRestorableDateTime", s->earliest);
    lc_add_time(w, "LatestRestorableDateTime", s->latest);
    return w;
}

/* One table: decide, check, delete (or say what would go), snapshot, recompress. */
static int run_table(const lifecycle_run_opts *o, const char *name, unsigned *kill_left,
                     cJSON *tables, unsigned *deleted, unsigned *refused)
{
    tstate s;
    cJSON *tj = cJSON_CreateObject(), *acts = cJSON_CreateArray();
    cJSON_AddStringToObject(tj, "TableName", name);
    cJSON_AddItemToArray(tables, tj);
    int lockfd = -1, rc = tstate_load(o->home, name, &s);
    if (!rc && (lockfd = hold_lock(table_dir(s.t))) < 0) rc = lockfd;
    if (!rc) rc = decide(&s);
    if (rc) goto out;
    cJSON_AddItemToObject(tj, "Window", window_json(&s));
    describe_drops(&s, acts);
    int64_t bad = 0;
    if (s.pitr && (rc = check_plans(&s, &bad))) {
        char t[40];
        clock_format(bad, 6, t, sizeof t);
        cJSON_AddStringToObject(tj, "Refused", "");
        char why[1400];
        snprintf(why, sizeof why, "deleting would leave %s without a restore plan: %s", t, err_msg());
        cJSON_ReplaceItemInObject(tj, "Refused", cJSON_CreateString(why));
        (*refused)++;
        rc = 0;
        memset(s.drop, 0, s.nsegs + s.nsnaps);
        cJSON_Delete(acts);
        acts = cJSON_CreateArray();
    } else if (!o->dry_run) {
        rc = delete_drops(&s, kill_left, deleted);
    }
    if (s.held) cJSON_AddNumberToObject(tj, "KeptForHolds", (double)s.held);
    hold_unlock(lockfd);
    lockfd = -1;
    if (!rc) snapshot_step(&s, o, acts);
    if (!rc) recompress_step(&s, o, acts);
out:
    hold_unlock(lockfd);
    if (rc) cJSON_AddStringToObject(tj, "Error", err_msg());
    cJSON_AddItemToObject(tj, "Actions", acts);
    tstate_free(&s);
    return rc;
}

int lifecycle_run(const lifecycle_run_opts *o, cJSON **out)
{
    char **names = NULL;
    size_t n = 0;
    unsigned deleted = 0, refused = 0, kill_left = o->kill_after;
    int rc = 0;
    const char *k = getenv("TIDEMARK_TEST_LIFECYCLE_KILL_AFTER");
    if (k && *k) kill_left = (unsigned)strtoul(k, NULL, 10);
    *out = NULL;
    if (o->table) {
        if ((rc = table_check_name(o->table))) return rc;
    } else if ((rc = table_list(o->home, &names, &n))) {
        return rc;
    }
    cJSON *res = cJSON_CreateObject(), *tables = cJSON_AddArrayToObject(res, "Tables");
    cJSON_AddBoolToObject(res, "DryRun", o->dry_run);
    int first = 0;
    for (size_t i = 0; i < (o->table ? 1 : n); i++) {
        rc = run_table(o, o->table ? o->table : names[i], &kill_left, tables, &deleted, &refused);
        if (rc && !first) first = rc;
        if (rc && o->table) break;
    }
    table_names_free(names, n);
    lc_purge_deleted(o->home, o->dry_run, res);
    cJSON_AddNumberToObject(res, "Deleted", deleted);
    cJSON_AddNumberToObject(res, "Refused", refused);
    *out = res;
    if (first) return o->table ? err_set(first, "%s", err_msg()) : first;
    return refused ? err_set(TM_ECONFLICT, "%u table%s kept what retention would delete: a "
                             "second of the window would lose its restore plan", refused,
                             refused == 1 ? "" : "s") : 0;
}

/* ================================================================ report ==== */

static cJSON *per_day(const tstate *s)
{
    cJSON *days = cJSON_CreateArray();
    int64_t cur = -1;
    cJSON *d = NULL;
    uint64_t bytes = 0, nseg = 0;
    for (size_t i = 0; i <= s->nsegs; i++) {
        int64_t day = i < s->nsegs ? s->segs[i].first_time / DAY_US : -2;
        if (day != cur && d) {
            cJSON_AddNumberToObject(d, "Bytes", (double)bytes);
            cJSON_AddNumberToObject(d, "Segments", (double)nseg);
            cJSON_AddItemToArray(days, d);
            d = NULL;
        }
        if (i == s->nsegs) break;
        if (day != cur) {
            char t[40];
            clock_format(day * DAY_US, 0, t, sizeof t);
            t[10] = '\0';
            d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "Day", t);
            cur = day;
            bytes = nseg = 0;
        }
        bytes += s->segs[i].bytes;
        nseg++;
    }
    return days;
}

static cJSON *snaps_json(const tstate *s)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < s->nsnaps; i++) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "Name", s->snaps[i].name);
        cJSON_AddNumberToObject(j, "Seq", (double)s->snaps[i].seq);
        lc_add_time(j, "Time", s->snaps[i].time_us);
        cJSON_AddNumberToObject(j, "Bytes", (double)s->snaps[i].bytes);
        cJSON_AddNumberToObject(j, "Items", (double)s->snaps[i].item_count);
        cJSON_AddItemToArray(a, j);
    }
    return a;
}

static int report_table(const char *home, const char *name, cJSON *tables)
{
    tstate s;
    cJSON *tj = cJSON_CreateObject(), *next = cJSON_CreateArray();
    cJSON_AddStringToObject(tj, "TableName", name);
    cJSON_AddItemToArray(tables, tj);
    int rc = tstate_load(home, name, &s);
    if (!rc) rc = decide(&s);
    if (rc) {
        cJSON_AddStringToObject(tj, "Error", err_msg());
        cJSON_Delete(next);
        tstate_free(&s);
        return rc;
    }
    cJSON_AddItemToObject(tj, "Window", window_json(&s));
    uint64_t total = 0;
    for (size_t i = 0; i < s.nsegs; i++) total += s.segs[i].bytes;
    cJSON_AddNumberToObject(tj, "LogBytes", (double)total);
    cJSON_AddNumberToObject(tj, "LogSegments", (double)s.nsegs);
    cJSON_AddItemToObject(tj, "LogBytesPerDay", per_day(&s));
    cJSON_AddItemToObject(tj, "Snapshots", snaps_json(&s));
    describe_drops(&s, next);
    int64_t bad = 0;
    if (s.pitr && check_plans(&s, &bad)) {
        char t[40], why[1400];
        clock_format(bad, 6, t, sizeof t);
        snprintf(why, sizeof why, "the next run would refuse: deleting would leave %s without a "
                 "restore plan: %s", t, err_msg());
        cJSON_AddStringToObject(tj, "Refused", why);
    }
    if (s.held) cJSON_AddNumberToObject(tj, "KeptForHolds", (double)s.held);
    cJSON_AddNumberToObject(tj, "Holds", (double)s.nholds);
    lifecycle_run_opts o = LIFECYCLE_RUN_OPTS_INIT;
    o.dry_run = 1;
    snapshot_step(&s, &o, next);
    recompress_step(&s, &o, next);
    cJSON_AddItemToObject(tj, "NextRun", next);
    tstate_free(&s);
    return 0;
}

int lifecycle_report(const char *home, const char *only, cJSON **out)
{
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    *out = NULL;
    if (only) {
        if ((rc = table_check_name(only))) return rc;
    } else if ((rc = table_list(home, &names, &n))) {
        return rc;
    }
    cJSON *res = cJSON_CreateObject(), *tables = cJSON_AddArrayToObject(res, "Tables");
    for (size_t i = 0; i < (only ? 1 : n); i++) {
        int r = report_table(home, only ? only : names[i], tables);
        if (r && only) rc = r;
    }
    table_names_free(names, n);
    lifecycle_deleted_json(home, res);
    *out = res;
    return rc;
}
