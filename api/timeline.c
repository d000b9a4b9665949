/* timeline.c: TidemarkTimeline, the write activity of a table from its change log: writes per
 * interval (a second up to days) split by kind, the usual rate and the bursts far above the rate
 * before them, each with its exact first and last write, the last good time to restore to and
 * what it touched (the computation is pitr/timeline.c's; this file reads the log into it, twice
 * over the bursts, and writes the response).
 *
 * REQUEST  {"TableName", "From"?, "To"? (wire times: epoch seconds; default: the log's first and
 *          last write), "By"?: "second"|"minute"|"hour"|"day"|"10s"|"5m"|"2h"|"1d"... (default:
 *          chosen for at most 60 rows)}
 * RESPONSE {"TableName", "By" (its name: "minute", "10s"), "BucketSeconds", "From", "To",
 *          "Writes", "Puts", "Updates", "Deletes", "UsualWritesPerInterval",
 *          "Intervals": [{"Start", "Writes", "Puts", "Updates", "Deletes", "FirstWrite"?,
 *                         "LastWrite"?, "Burst", "UsualWritesBefore"? (bursts: the trailing
 *                         rate it was judged against)}],
 *          "Bursts": [{"FirstWrite", "LastWrite", "Writes", "Puts", "Updates", "Deletes",
 *                      "LastGoodTime", "LastGoodSecond" (null when no whole second fits),
 *                      "LastWriteBefore" (null: none), "RestoreTo" (the suggestion: the last
 *                      write before it, else LastGoodTime), "UsualWritesBefore" (the trailing
 *                      rate it was judged against),
 *                      "ExportFrom", "ExportUntil" (the window [first, last + 1 µs) for
 *                      tidemark-export --incremental --from --until and the rollback),
 *                      "Touched": {"PartitionKeys", "PartitionKeysExact", "KeyPrefixes":
 *                      [{"Prefix", "Writes"}], "KeyPrefixesExact", "Attributes": [{"Name",
 *                      "Writes"}], "AttributesExact"}}]}
 *          A table whose log is empty: {"TableName", "Intervals": [], "Bursts": []}.
 * Times in the response are ISO-8601 UTC strings, as TidemarkLogList's (a report read by
 * scripts and people, with no aws CLI twin): µs for writes and the range ("…:00.000000Z"),
 * whole seconds for interval starts and LastGoodSecond. `tidemark timeline --json` prints it as
 * it is; its chart and --svg are drawn from it. Touched's counts are exact while its *Exact
 * member is true (timeline.h: the sketches and their limits).
 *
 * EXTENDING: a new question about the writes (per key, per writer) is a field in the pitr
 * accumulator and a member added here, in interval_json, burst_json or the top level; members
 * are only ever added, so scripts reading the old ones keep working. */
#include "api/ops.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/log.h"
#include "pitr/timeline.h"

#include <stdlib.h>
#include <string.h>

static void add_time(cJSON *o, const char *name, int64_t us, int digits)
{
    char ts[64];
    clock_format(us, digits, ts, sizeof ts);
    cJSON_AddStringToObject(o, name, ts);
}

static void add_counts(cJSON *o, uint64_t writes, uint64_t puts, uint64_t updates, uint64_t deletes)
{
    cJSON_AddNumberToObject(o, "Writes", (double)writes);
    cJSON_AddNumberToObject(o, "Puts", (double)puts);
    cJSON_AddNumberToObject(o, "Updates", (double)updates);
    cJSON_AddNumberToObject(o, "Deletes", (double)deletes);
}

static cJSON *interval_json(const pitr_tl_interval *b)
{
    cJSON *x = cJSON_CreateObject();
    add_time(x, "Start", b->start_us, 0);
    add_counts(x, pitr_tl_writes(b), b->puts, b->updates, b->deletes);
    if (b->first_us) {
        add_time(x, "FirstWrite", b->first_us, 6);
        add_time(x, "LastWrite", b->last_us, 6);
    }
    cJSON_AddBoolToObject(x, "Burst", b->burst);
    if (b->burst) cJSON_AddNumberToObject(x, "UsualWritesBefore", (double)b->trailing);   /* what it was judged against */
    return x;
}

static cJSON *tops_json(const pitr_tl_top *t, size_t n, const char *what)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, what, t[i].name);
        cJSON_AddNumberToObject(x, "Writes", (double)t[i].writes);
        cJSON_AddItemToArray(arr, x);
    }
    return arr;
}

static cJSON *touched_json(const pitr_tl_touched *t)
{
    cJSON *x = cJSON_CreateObject();
    cJSON_AddNumberToObject(x, "PartitionKeys", (double)t->partition_keys);
    cJSON_AddBoolToObject(x, "PartitionKeysExact", t->partition_keys_exact);
    cJSON_AddItemToObject(x, "KeyPrefixes", tops_json(t->prefixes, t->nprefixes, "Prefix"));
    cJSON_AddBoolToObject(x, "KeyPrefixesExact", t->prefixes_exact);
    cJSON_AddItemToObject(x, "Attributes", tops_json(t->attributes, t->nattributes, "Name"));
    cJSON_AddBoolToObject(x, "AttributesExact", t->attributes_exact);
    return x;
}

static cJSON *burst_json(const pitr_tl_burst *b)
{
    cJSON *x = cJSON_CreateObject();
    add_time(x, "FirstWrite", b->first_us, 6);
    add_time(x, "LastWrite", b->last_us, 6);
    add_counts(x, b->writes, b->puts, b->updates, b->deletes);
    /* The state just before the burst: exact, and as a whole second when one exists that no
     * earlier write follows (a restore to that second then keeps every good write). */
    add_time(x, "LastGoodTime", b->last_good_us, 6);
    if (b->has_good_second) add_time(x, "LastGoodSecond", b->last_good_second_us, 0);
    else cJSON_AddNullToObject(x, "LastGoodSecond");
    if (b->last_before_us) add_time(x, "LastWriteBefore", b->last_before_us, 6);
    else cJSON_AddNullToObject(x, "LastWriteBefore");
    add_time(x, "RestoreTo", b->last_before_us ? b->last_before_us : b->last_good_us, 6);
    cJSON_AddNumberToObject(x, "UsualWritesBefore", (double)b->trailing);
    add_time(x, "ExportFrom", b->first_us, 6);
    add_time(x, "ExportUntil", b->last_us + 1, 6);
    if (b->touched.done) cJSON_AddItemToObject(x, "Touched", touched_json(&b->touched));
    return x;
}

static cJSON *timeline_json(const char *name, const pitr_timeline *tl)
{
    char by[16];
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "TableName", name);
    pitr_tl_by_name(tl->by, by, sizeof by);
    cJSON_AddStringToObject(j, "By", by);
    cJSON_AddNumberToObject(j, "BucketSeconds", (double)(tl->width_us / 1000000));
    add_time(j, "From", tl->from_us, 6);
    add_time(j, "To", tl->to_us, 6);
    add_counts(j, tl->writes, tl->puts, tl->updates, tl->deletes);
    cJSON_AddNumberToObject(j, "UsualWritesPerInterval", (double)tl->usual);
    cJSON *arr = cJSON_AddArrayToObject(j, "Intervals");
    for (size_t i = 0; i < tl->niv; i++) cJSON_AddItemToArray(arr, interval_json(&tl->iv[i]));
    arr = cJSON_AddArrayToObject(j, "Bursts");
    for (size_t i = 0; i < tl->nbursts; i++) cJSON_AddItemToArray(arr, burst_json(&tl->bursts[i]));
    return j;
}

/* The records with times in [from, to], forward: the first pass (every write since the trailing
 * rate's history) or the touch pass (one burst). */
static int read_span(const char *dir, uint64_t first_seq, int64_t from, int64_t to, pitr_timeline *tl, int touch)
{
    uint64_t from_seq = 0, to_seq = 0;
    log_reader *rd = NULL;
    log_record rec;
    int rc;
    if ((rc = log_seq_at_time(dir, from - 1, &from_seq)) || (rc = log_seq_at_time(dir, to, &to_seq))) return rc;
    from_seq++;
    if (from_seq < first_seq) from_seq = first_seq;
    if (to_seq < from_seq) return 0;
    if ((rc = log_reader_open(dir, from_seq, to_seq, LOG_FORWARD, &rd))) return rc;
    while ((rc = log_reader_next(rd, &rec)) > 0) {
        if (!touch) pitr_timeline_add(tl, rec.time_us, pitr_tl_kind(&rec));
        else if ((rc = pitr_timeline_touch(tl, &rec))) break;
    }
    log_reader_close(rd);
    return rc < 0 ? rc : 0;
}

/* Both passes; the touch pass needs the key schema (the table is opened for it only when a
 * burst was found). */
static int feed(tm_db *db, const char *name, const char *dir, uint64_t first_seq, pitr_timeline *tl, tm_error *e)
{
    table *t = NULL;
    table_info info;
    int k, rc;
    if ((rc = read_span(dir, first_seq, tl->history_us, tl->to_us, tl, 0)) || (rc = pitr_timeline_finish(tl)))
        return tm_error_from(e, rc, NULL);
    if (!tl->nbursts) return 0;
    if ((k = api_open_table(db, name, TABLE_RDONLY, &t, &info, e))) return k;
    api_close_table(db, name, t);
    pitr_timeline_touch_begin(tl, info.ks.hash_name, info.ks.range_name);
    for (size_t i = 0; i < tl->nbursts; i++)
        if ((rc = read_span(dir, first_seq, tl->bursts[i].first_us, tl->bursts[i].last_us, tl, 1)))
            return tm_error_from(e, rc, NULL);
    pitr_timeline_touch_finish(tl);
    return 0;
}

/* From, To (wire times) and By of the request. */
static int read_range(const cJSON *req, int64_t *from, int *has_from, int64_t *to, int *has_to, pitr_tl_by *by,
                      tm_error *e)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(req, "From"), *t = cJSON_GetObjectItemCaseSensitive(req, "To");
    const char *b;
    int k;
    if ((f && !cJSON_IsNumber(f)) || (t && !cJSON_IsNumber(t)))
        return tm_error_set(e, TM_ERR_BAD_PARAMETER, "From and To are times (epoch seconds)");
    if ((k = req_str(req, "By", 0, &b, e))) return k;
    *by = PITR_TL_AUTO;
    if (b && pitr_tl_parse_by(b, by)) return tm_error_set(e, TM_ERR_BAD_PARAMETER, "By: %s", err_msg());
    if ((*has_from = f != NULL)) *from = tm_json_time_us(f->valuedouble);
    if ((*has_to = t != NULL)) *to = tm_json_time_us(t->valuedouble);
    return 0;
}

int tm_timeline(tm_db *db, const cJSON *req, cJSON **resp, tm_error *e)
{
    char dir[PATH_MAX];
    const char *name;
    log_segment *segs = NULL;
    size_t nseg = 0;
    pitr_timeline *tl = NULL;
    int64_t from = 0, to = 0;
    int has_from = 0, has_to = 0, k, rc;
    pitr_tl_by by = PITR_TL_AUTO;
    *resp = NULL;
    if ((k = api_table_dir(db, req, &name, dir, sizeof dir, e)) ||
        (k = read_range(req, &from, &has_from, &to, &has_to, &by, e)))
        return k;
    table_path(db->home, name, "log", dir, sizeof dir);
    if ((rc = log_list(dir, &segs, &nseg))) return tm_error_from(e, rc, NULL);
    if (!nseg) {
        free(segs);
        *resp = cJSON_CreateObject();
        cJSON_AddStringToObject(*resp, "TableName", name);
        cJSON_AddArrayToObject(*resp, "Intervals");
        cJSON_AddArrayToObject(*resp, "Bursts");
        return 0;
    }
    if (!has_from) from = segs[0].first_time;
    if (!has_to) to = segs[nseg - 1].last_time;
    if ((rc = pitr_timeline_new(from, to, by, &tl)) == TM_EINVAL) {
        k = tm_error_set(e, TM_ERR_BAD_PARAMETER, "%s", err_msg());   /* the range asked for */
    } else if (rc) {
        k = tm_error_from(e, rc, NULL);
    } else if (!(k = feed(db, name, dir, segs[0].first_seq, tl, e))) {
        *resp = timeline_json(name, tl);
    }
    pitr_timeline_free(tl);
    free(segs);
    return k;
}
