/* chain.c: which exports were applied to a tidemark table, and up to when, so that forward
 * apply (tidemark-import --apply-incremental) refuses a gap or a repeat in a chain of exports.
 *
 * PURPOSE. A full export imported with tidemark-import is the table at its ExportTime; each
 * incremental export applied after it moves the table to its ExportToTime. The next export of
 * the chain must start (ExportFromTime) exactly where the table is: later is a gap (writes in
 * between were never applied), earlier a repeat or an overlap (applied twice).
 *
 * FILE. <home>/tables/<name>/applied-exports, text, one record per line, '\n'-terminated:
 *   line 1     "tidemark-applied-exports 1"               (CHAIN_MAGIC, CHAIN_VERSION)
 *   each next  "<kind> <from_us> <to_us> <export arn>"
 *              kind FULL (from_us = to_us = ExportTime) or INCREMENTAL (ExportFromTime,
 *              ExportToTime); times in µs since the epoch as the summary gives them (ms), in
 *              decimal; the ARN as in the summary (no spaces: ARNs have none).
 * VALIDITY. Valid iff line 1 is the header and every next line has the four fields with
 * kind FULL or INCREMENTAL and from_us <= to_us. The table is at the last line's to_us.
 * CRASH SAFETY. Rewritten whole (the old lines plus one) to a temp file in the same directory,
 * fsync, rename, fsync of the directory (fsx_write_atomic): a crash leaves the old or the new
 * file. A crash between the apply's last write and the rename leaves the export applied but
 * not recorded: running it again is then a no-op (every item ALREADY) that records it.
 * COMPATIBILITY. A reader refuses a higher version; a new field would be version 2. */
#include "rollback/rollback.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/table.h"
#include "export/layout.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN_FILE    "applied-exports"
#define CHAIN_MAGIC   "tidemark-applied-exports"
#define CHAIN_VERSION 1
#define CHAIN_MAX     ((size_t)64 << 20)

/* The export's kind and times from its summary (ms text -> µs). */
static int export_times(const layout_summary *s, int *incremental, int64_t *from, int64_t *to)
{
    *incremental = s->incremental;
    const char *f = s->incremental ? s->from_time : s->export_time;
    const char *t = s->incremental ? s->to_time : s->export_time;
    if (!f[0] || !t[0] || clock_parse(f, from) || clock_parse(t, to))
        return err_set(TM_EINVAL, "%s has no %s in its " LAYOUT_SUMMARY, s->export_arn,
                       s->incremental ? "exportFromTime/exportToTime" : "exportTime");
    return 0;
}

/* The last record of the file: *have 0 when there is no file. */
typedef struct chain_last {
    int have;
    int64_t to_us;
    char kind[16];
    int repeat;                   /* the export's ARN is already in the file */
} chain_last;

static int chain_read(const char *path, const char *arn, chain_last *l, buf *text)
{
    memset(l, 0, sizeof *l);
    int rc = fsx_read_file(path, CHAIN_MAX, text);
    if (rc == TM_ENOTFOUND) return 0;
    if (rc) return rc;
    int version = 0;
    const char *p = text->data, *e = p + text->len;
    if (sscanf(p ? p : "", CHAIN_MAGIC " %d", &version) != 1 || version < 1)
        return err_set(TM_ECORRUPT, "%s: not a list of applied exports", path);
    if (version > CHAIN_VERSION)
        return err_set(TM_ECORRUPT, "%s: version %d (this tidemark reads %d)", path, version,
                       CHAIN_VERSION);
    for (p = memchr(p, '\n', (size_t)(e - p)); p && ++p < e; p = memchr(p, '\n', (size_t)(e - p))) {
        char kind[16], a[1024];
        int64_t f, t;
        if (sscanf(p, "%15s %" SCNd64 " %" SCNd64 " %1023s", kind, &f, &t, a) != 4 || f > t ||
            (strcmp(kind, "FULL") && strcmp(kind, "INCREMENTAL")))
            return err_set(TM_ECORRUPT, "%s: a damaged line", path);
        l->have = 1;
        l->to_us = t;
        snprintf(l->kind, sizeof l->kind, "%s", kind);
        if (arn && !strcmp(a, arn)) l->repeat = 1;
    }
    return 0;
}

static void fmt(int64_t us, char *out, size_t n) { clock_format(us, 3, out, n); }

int rollback_chain_check(const char *home, const char *name, const layout_summary *s)
{
    char path[4096], a[40], b[40];
    chain_last l;
    buf text = BUF_INIT;
    int inc;
    int64_t from, to;
    table_path(home, name, CHAIN_FILE, path, sizeof path);
    int rc = export_times(s, &inc, &from, &to);
    if (!rc) rc = chain_read(path, s->export_arn, &l, &text);
    buf_free(&text);
    if (rc || !l.have) return rc;   /* no chain recorded: nothing to meet */
    fmt(l.to_us, a, sizeof a);
    fmt(from, b, sizeof b);
    if (l.repeat)
        return err_set(TM_EINVAL, "%s was already applied to %s (the table is at %s): a "
                       "repeat", s->export_arn, name, a);
    if (from > l.to_us)
        return err_set(TM_EINVAL, "a gap: %s is at %s (its last export ends there) but this "
                       "export starts at %s: the writes of [%s, %s) were never applied (apply "
                       "the export of that window first)", name, a, b, a, b);
    if (from < l.to_us)
        return err_set(TM_EINVAL, "an overlap: %s is at %s but this export starts earlier, at "
                       "%s: the writes of [%s, %s) would be applied twice", name, a, b, b, a);
    return 0;
}

int rollback_chain_record(const char *home, const char *name, const layout_summary *s)
{
    char path[4096], line[1200];
    chain_last l;
    buf text = BUF_INIT;
    int inc;
    int64_t from, to;
    table_path(home, name, CHAIN_FILE, path, sizeof path);
    int rc = export_times(s, &inc, &from, &to);
    if (!rc) rc = chain_read(path, NULL, &l, &text);
    if (!rc && !text.len) rc = buf_printf(&text, CHAIN_MAGIC " %d\n", CHAIN_VERSION);
    snprintf(line, sizeof line, "%s %" PRId64 " %" PRId64 " %s\n", inc ? "INCREMENTAL" : "FULL",
             from, to, s->export_arn[0] ? s->export_arn : "-");
    if (!rc) rc = buf_puts(&text, line);
    if (!rc) rc = fsx_write_atomic(path, text.data, text.len);
    buf_free(&text);
    return rc ? err_wrap(rc, "recording the applied export in %s: ", path) : 0;
}

int rollback_chain_start(const char *home, const char *name, const char *from,
                         const store_options *so)
{
    layout_loc loc;
    layout_summary s;
    buf b = BUF_INIT;
    store_options dso = STORE_OPTIONS_INIT;
    if (layout_loc_open(from, so ? so : &dso, &loc)) return 0;   /* not an export folder */
    int rc = layout_loc_get(&loc, LAYOUT_SUMMARY, LAYOUT_SUMMARY_MAX, &b);
    if (!rc) rc = layout_summary_parse(b.data, b.len, &s);
    layout_loc_close(&loc);
    buf_free(&b);
    if (rc || s.incremental) return 0;   /* only a full export starts a chain */
    return rollback_chain_record(home, name, &s);
}
