/* plan.c: the restore planner (pure: no I/O, no clock). Picks the cheapest seed and log range
 * to rebuild a table's state at T, or says exactly what is missing. See plan.h. */
#include "pitr/plan.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- candidates ---- */

/* One way to build the state at T: a seed and the records between it and S_T. */
typedef struct cand {
    pitr_dir dir;
    int seed;
    const snap_info *snap;
    uint64_t seed_seq;
    int64_t seed_time;
    uint64_t seed_bytes;
    uint64_t from, to;             /* records [from, to]; none when from > to */
    /* coverage */
    int ok;
    size_t seg_lo, seg_n;          /* segments used: segs[seg_lo .. seg_lo + seg_n) */
    uint64_t miss_lo, miss_hi;     /* first missing range when !ok */
    size_t miss_after;             /* index+1 of the segment before the gap (0: none) */
    size_t miss_before;            /* index+1 of the segment after the gap (0: none) */
    uint64_t log_bytes;
    double cost;
} cand;

/* Finds the segments holding [c->from, c->to], contiguous, or the first gap. */
static void cover(const pitr_input *in, cand *c)
{
    c->ok = 1;
    c->seg_n = 0;
    c->log_bytes = 0;
    if (c->from > c->to) return;
    uint64_t pos = c->from;
    size_t i = 0;
    while (i < in->nsegs && in->segs[i].last_seq < pos) i++;
    c->seg_lo = i;
    for (; i < in->nsegs && pos <= c->to; i++) {
        const log_segment *s = &in->segs[i];
        if (s->first_seq > pos) break;            /* gap before s */
        c->seg_n++;
        c->log_bytes += s->bytes;
        pos = s->last_seq + 1;
    }
    if (pos > c->to) return;
    c->ok = 0;
    c->miss_lo = pos;
    c->miss_hi = c->to;
    c->miss_after = i > 0 && in->segs[i - 1].last_seq < pos ? i : 0;
    c->miss_before = 0;
    if (i < in->nsegs) {
        c->miss_before = i + 1;
        if (in->segs[i].first_seq - 1 < c->miss_hi) c->miss_hi = in->segs[i].first_seq - 1;
    }
}

/* Estimated seconds: seed copy + segment bytes read + records applied. A sealed segment is
 * decompressed whole; of the raw active one only the needed share is read. */
static double cost_of(const pitr_input *in, const cand *c)
{
    const pitr_rates *r = &in->rates;
    double read = 0;
    for (size_t k = 0; k < c->seg_n; k++) {
        const log_segment *s = &in->segs[c->seg_lo + k];
        double b = (double)s->bytes;
        if (!s->sealed && s->last_seq >= s->first_seq) {
            uint64_t lo = c->from > s->first_seq ? c->from : s->first_seq;
            uint64_t hi = c->to < s->last_seq ? c->to : s->last_seq;
            b = b * (double)(hi - lo + 1) / (double)(s->last_seq - s->first_seq + 1);
        }
        read += b;
    }
    uint64_t recs = c->from <= c->to ? c->to - c->from + 1 : 0;
    return (double)c->seed_bytes / r->copy_bps + read / r->read_bps + (double)recs / r->apply_rps;
}

static void cand_forward(const pitr_input *in, cand *c, const snap_info *s)
{
    memset(c, 0, sizeof *c);
    c->dir = PITR_FORWARD;
    c->seed = s ? PITR_SEED_SNAPSHOT : PITR_SEED_EMPTY;
    c->snap = s;
    c->seed_seq = s ? s->seq : 0;
    c->seed_time = s ? s->time_us : 0;
    c->seed_bytes = s ? s->bytes : 0;
    c->from = c->seed_seq + 1;
    c->to = in->target_seq;
    cover(in, c);
    c->cost = cost_of(in, c);
}

static void cand_backward(const pitr_input *in, cand *c, const snap_info *s)
{
    memset(c, 0, sizeof *c);
    c->dir = PITR_BACKWARD;
    c->seed = s ? PITR_SEED_SNAPSHOT : PITR_SEED_LIVE;
    c->snap = s;
    c->seed_seq = s ? s->seq : in->live_seq;
    c->seed_time = s ? s->time_us : in->live_time;
    c->seed_bytes = s ? s->bytes : in->live_bytes;
    c->from = in->target_seq + 1;
    c->to = c->seed_seq;
    cover(in, c);
    c->cost = cost_of(in, c);
}

/* 1 if c's seed is a snapshot the caller ruled out (pitr_input.snap_skip). */
static int seed_skipped(const pitr_input *in, const cand *c)
{
    return c->snap && in->snap_skip && in->snap_skip[c->snap - in->snaps];
}

/* The empty table is the state at seq 0 only for a table created empty: one built with items
 * (an import, a restore) starts its log at 0 too, and nothing records which it was. So the
 * empty table seeds a plan only when no snapshot at or before S_T (nf of them) could: PITR
 * enable takes one, which holds the built items. And not even then when a snapshot proves the
 * table was built: a log record writes one item, so a snapshot holding more items than its seq
 * had items before the log began. */
static int empty_seed_ok(const pitr_input *in, size_t nf)
{
    if (nf) return 0;
    for (size_t i = 0; i < in->nsnaps; i++)
        if (in->snaps[i].item_count > in->snaps[i].seq) return 0;
    return 1;
}

/* Better: cheaper; on a tie fewer records, then forward (it reads the log in its natural
 * order), then the older seed. Deterministic. */
static int better(const cand *a, const cand *b)
{
    if (a->cost != b->cost) return a->cost < b->cost;
    uint64_t ra = a->from <= a->to ? a->to - a->from + 1 : 0;
    uint64_t rb = b->from <= b->to ? b->to - b->from + 1 : 0;
    if (ra != rb) return ra < rb;
    if (a->dir != b->dir) return a->dir == PITR_FORWARD;
    return a->seed_seq < b->seed_seq;
}

/* ---- errors ---- */

static void seed_text(const cand *c, char *out, size_t n)
{
    if (c->seed == PITR_SEED_SNAPSHOT)
        snprintf(out, n, "snapshot %s (seq %" PRIu64 ")", c->snap->name, c->seed_seq);
    else if (c->seed == PITR_SEED_LIVE)
        snprintf(out, n, "the live table (seq %" PRIu64 ")", c->seed_seq);
    else
        snprintf(out, n, "the empty table (seq 0)");
}

static void missing_text(const pitr_input *in, const cand *c, buf *b)
{
    char seed[96];
    seed_text(c, seed, sizeof seed);
    buf_printf(b, "%s from %s needs log records %" PRIu64 "..%" PRIu64 "; records %" PRIu64
               "..%" PRIu64 " are missing", pitr_dir_name(c->dir), seed, c->from, c->to,
               c->miss_lo, c->miss_hi);
    if (c->miss_after && c->miss_before)
        buf_printf(b, " (between segments %s and %s)", in->segs[c->miss_after - 1].name,
                   in->segs[c->miss_before - 1].name);
    else if (c->miss_after && in->newest_seg && in->newest_seg[0] &&
             strcmp(in->newest_seg, in->segs[c->miss_after - 1].name))
        buf_printf(b, " (after segment %s; the newest segment, %s, holds no readable record of "
                   "them)", in->segs[c->miss_after - 1].name, in->newest_seg);
    else if (c->miss_after)
        buf_printf(b, " (after segment %s)", in->segs[c->miss_after - 1].name);
    else if (c->miss_before)
        buf_printf(b, " (before segment %s)", in->segs[c->miss_before - 1].name);
    else
        buf_printf(b, " (no log segments)");
}

/* ---- the planner ---- */

/* Candidate k of the planner's seeds: the nf snapshots at or before the target (newest first
 * or oldest first), the empty table, the later snapshots oldest first, the live table. 0 when
 * that seed cannot serve (no empty seed, the live table behind the target, a skipped seed). */
static int cand_at(const pitr_input *in, size_t k, size_t nf, int newest_first, cand *c)
{
    if (k < nf) cand_forward(in, c, &in->snaps[newest_first ? nf - 1 - k : k]);
    else if (k == nf) {
        if (!empty_seed_ok(in, nf)) return 0;
        cand_forward(in, c, NULL);
    } else if (k < in->nsnaps + 1) cand_backward(in, c, &in->snaps[k - 1]);
    else {
        cand_backward(in, c, NULL);
        if (in->live_seq < in->target_seq) return 0;
    }
    return !seed_skipped(in, c);
}


int pitr_plan_make(const pitr_input *in, pitr_dir dir, pitr_plan **out)
{
    int rc = 0;
    pitr_plan *p = NULL;
    buf msg = BUF_INIT;
    *out = NULL;

    if (in->t_us < in->earliest_us || in->t_us > in->latest_us) {
        char t[40], e[40], l[40];
        clock_format(in->t_us, 6, t, sizeof t);
        clock_format(in->earliest_us, 6, e, sizeof e);
        clock_format(in->latest_us, 6, l, sizeof l);
        rc = err_set(TM_ERANGE, "%s is outside the restorable window "
                     "[%s, %s]", t, e, l);
        goto out;
    }
    if (in->has_live && in->target_seq > in->live_seq) {
        rc = err_set(TM_EINVAL, "restore plan: target seq %" PRIu64 " is beyond the live "
                     "table's seq %" PRIu64, in->target_seq, in->live_seq);
        goto out;
    }

    cand best = {0}, best_alt = {0}, fwd_first = {0}, bwd_first = {0};
    int have = 0, have_alt = 0, have_fwd = 0, have_bwd = 0;
    const uint64_t S = in->target_seq;
    /* Forward seeds: every snapshot at or before S_T, newest first (the newest is the one
     * reported when all are missing log), else the empty table (empty_seed_ok). Backward
     * seeds: every snapshot after S_T, oldest first, then the live table. */
    size_t nf = 0;
    while (nf < in->nsnaps && in->snaps[nf].seq <= S) nf++;
    size_t total = in->nsnaps + 1 + (in->has_live ? 1 : 0);
    for (size_t k = 0; k < total; k++) {
        cand c;
        if (!cand_at(in, k, nf, 1, &c)) continue;
        if (c.dir == PITR_FORWARD && !have_fwd) { fwd_first = c; have_fwd = 1; }
        if (c.dir == PITR_BACKWARD && !have_bwd) { bwd_first = c; have_bwd = 1; }
        if (!c.ok) continue;
        if (dir == PITR_AUTO || dir == c.dir) {
            if (!have || better(&c, &best)) { best = c; have = 1; }
        } else if (!have_alt || better(&c, &best_alt)) {
            best_alt = c;
            have_alt = 1;
        }
    }
    if (!have) {
        char t[40];
        clock_format(in->t_us, 6, t, sizeof t);
        buf_printf(&msg, "no complete restore plan for %s (log seq %" PRIu64 "): ", t, S);
        int n = 0;
        if (have_fwd && (dir == PITR_AUTO || dir == PITR_FORWARD)) {
            missing_text(in, &fwd_first, &msg);
            n++;
        }
        if (have_bwd && (dir == PITR_AUTO || dir == PITR_BACKWARD)) {
            if (n) buf_puts(&msg, "; ");
            missing_text(in, &bwd_first, &msg);
            n++;
        }
        if (!n) buf_puts(&msg, "no seed for that direction (no snapshot after the time, and "
                         "the live table is not available)");
        rc = err_set(TM_EMISSING, "%s", msg.data ? msg.data : "");
        goto out;
    }
    /* In auto mode the alternative is the best plan of the other direction. */
    if (dir == PITR_AUTO) {
        for (size_t k = 0; k < total; k++) {
            cand c;
            if (!cand_at(in, k, nf, 0, &c) || !c.ok || c.dir == best.dir) continue;
            if (!have_alt || better(&c, &best_alt)) { best_alt = c; have_alt = 1; }
        }
    }

    p = calloc(1, sizeof *p);
    if (!p) { rc = err_set(TM_ENOMEM, "restore plan: out of memory"); goto out; }
    p->t_us = in->t_us;
    p->target_seq = S;
    p->direction = best.dir;
    p->seed = best.seed;
    if (best.snap) p->snap = *best.snap;
    p->seed_seq = best.seed_seq;
    p->seed_time = best.seed_time;
    p->seed_bytes = best.seed_bytes;
    p->from_seq = best.from;
    p->to_seq = best.to;
    p->records = best.from <= best.to ? best.to - best.from + 1 : 0;
    p->log_bytes = best.log_bytes;
    p->est_seconds = best.cost;
    if (best.seg_n) {
        p->segs = malloc(best.seg_n * sizeof *p->segs);
        if (!p->segs) { rc = err_set(TM_ENOMEM, "restore plan: out of memory"); goto out; }
        memcpy(p->segs, &in->segs[best.seg_lo], best.seg_n * sizeof *p->segs);
        p->nsegs = best.seg_n;
    }
    if (have_alt) {
        p->alt_ok = 1;
        p->alt_direction = best_alt.dir;
        p->alt_seed = best_alt.seed;
        p->alt_seed_seq = best_alt.seed_seq;
        p->alt_records = best_alt.from <= best_alt.to ? best_alt.to - best_alt.from + 1 : 0;
        p->alt_log_bytes = best_alt.log_bytes;
        p->alt_est_seconds = best_alt.cost;
    }
    *out = p;
    p = NULL;
out:
    pitr_plan_free(p);
    buf_free(&msg);
    return rc;
}

void pitr_plan_free(pitr_plan *p)
{
    if (!p) return;
    free(p->segs);
    free(p);
}

const char *pitr_dir_name(pitr_dir d)
{
    return d == PITR_FORWARD ? "forward" : d == PITR_BACKWARD ? "backward" : "auto";
}

const char *pitr_seed_name(int seed)
{
    return seed == PITR_SEED_SNAPSHOT ? "snapshot" : seed == PITR_SEED_LIVE ? "live" : "empty";
}

/* ---- output ---- */

static const char *codec_name(log_codec c)
{
    return c == LOG_CODEC_LZ4 ? "lz4" : c == LOG_CODEC_ZSTD ? "zstd" : "raw";
}

int pitr_plan_describe(const pitr_plan *p, buf *o)
{
    char t[40], st[40], hb[32], t1[40], t2[40];
    clock_format(p->t_us, 6, t, sizeof t);
    buf_printf(o, "restore plan for %s (every write up to log seq %" PRIu64 ")\n", t,
               p->target_seq);
    buf_printf(o, "  direction:  %s\n", pitr_dir_name(p->direction));
    text_human_bytes((double)p->seed_bytes, hb, sizeof hb);
    if (p->seed_time) clock_format(p->seed_time, 6, st, sizeof st);
    else snprintf(st, sizeof st, "-");
    if (p->seed == PITR_SEED_SNAPSHOT)
        buf_printf(o, "  seed:       snapshot %s at seq %" PRIu64 " (%s), %s to copy\n",
                   p->snap.name, p->seed_seq, st, hb);
    else if (p->seed == PITR_SEED_LIVE)
        buf_printf(o, "  seed:       consistent copy of the live table at seq %" PRIu64
                   " or later (%s), %s to copy\n", p->seed_seq, st, hb);
    else
        buf_printf(o, "  seed:       the empty table\n");
    if (p->records)
        buf_printf(o, "  log:        records %" PRIu64 "..%" PRIu64 " (%" PRIu64 "), %s\n",
                   p->from_seq, p->to_seq, p->records,
                   p->direction == PITR_FORWARD ? "net change: each key's last new image"
                                                : "net change: each key's first old image");
    else
        buf_printf(o, "  log:        nothing to apply\n");
    buf_printf(o, "  segments:   %zu\n", p->nsegs);
    for (size_t i = 0; i < p->nsegs; i++) {
        const log_segment *s = &p->segs[i];
        text_human_bytes((double)s->bytes, hb, sizeof hb);
        clock_format(s->first_time, 0, t1, sizeof t1);
        clock_format(s->last_time, 0, t2, sizeof t2);
        buf_printf(o, "    %-28s seqs %" PRIu64 "..%" PRIu64 "  %s .. %s  %s (%s)\n", s->name,
                   s->first_seq, s->last_seq, t1, t2, hb,
                   s->sealed ? codec_name(s->codec) : "active");
    }
    text_human_bytes((double)(p->seed_bytes + p->log_bytes), hb, sizeof hb);
    buf_printf(o, "  estimate:   %s to read, about %.1f s\n", hb, p->est_seconds);
    if (p->alt_ok) {
        text_human_bytes((double)p->alt_log_bytes, hb, sizeof hb);
        buf_printf(o, "  instead of: %s from %s at seq %" PRIu64 ", %" PRIu64 " records, %s of "
                   "log, about %.1f s\n", pitr_dir_name(p->alt_direction),
                   pitr_seed_name(p->alt_seed), p->alt_seed_seq, p->alt_records, hb,
                   p->alt_est_seconds);
    }
    return o->len > o->max ? TM_ELIMIT : 0;
}

int pitr_plan_json(const pitr_plan *p, buf *o)
{
    char t[40], st[40];
    clock_format(p->t_us, 6, t, sizeof t);
    if (p->seed_time) clock_format(p->seed_time, 6, st, sizeof st);
    else st[0] = '\0';
    buf_printf(o, "{\"RestoreDateTime\":\"%s\",\"TargetSeq\":%" PRIu64 ",\"Direction\":\"%s\","
               "\"Seed\":{\"Kind\":\"%s\"", t, p->target_seq, pitr_dir_name(p->direction),
               pitr_seed_name(p->seed));
    if (p->seed == PITR_SEED_SNAPSHOT) buf_printf(o, ",\"Snapshot\":\"%s\"", p->snap.name);
    buf_printf(o, ",\"Seq\":%" PRIu64 ",\"Time\":\"%s\",\"Bytes\":%" PRIu64 "},", p->seed_seq,
               st, p->seed_bytes);
    buf_printf(o, "\"Log\":{\"FromSeq\":%" PRIu64 ",\"ToSeq\":%" PRIu64 ",\"Records\":%" PRIu64
               ",\"Bytes\":%" PRIu64 "},\"Segments\":[", p->from_seq, p->to_seq, p->records,
               p->log_bytes);
    for (size_t i = 0; i < p->nsegs; i++) {
        const log_segment *s = &p->segs[i];
        char t1[40], t2[40];
        clock_format(s->first_time, 6, t1, sizeof t1);
        clock_format(s->last_time, 6, t2, sizeof t2);
        buf_printf(o, "%s{\"Name\":\"%s\",\"FirstSeq\":%" PRIu64 ",\"LastSeq\":%" PRIu64
                   ",\"FirstTime\":\"%s\",\"LastTime\":\"%s\",\"Bytes\":%" PRIu64
                   ",\"Sealed\":%s}", i ? "," : "", s->name, s->first_seq, s->last_seq, t1, t2,
                   s->bytes, s->sealed ? "true" : "false");
    }
    buf_printf(o, "],\"EstimatedBytes\":%" PRIu64 ",\"EstimatedSeconds\":%.3f",
               p->seed_bytes + p->log_bytes, p->est_seconds);
    if (p->alt_ok)
        buf_printf(o, ",\"Alternative\":{\"Direction\":\"%s\",\"Seed\":\"%s\",\"Seq\":%" PRIu64
                   ",\"Records\":%" PRIu64 ",\"LogBytes\":%" PRIu64 ",\"EstimatedSeconds\":%.3f}",
                   pitr_dir_name(p->alt_direction), pitr_seed_name(p->alt_seed), p->alt_seed_seq,
                   p->alt_records, p->alt_log_bytes, p->alt_est_seconds);
    return buf_puts(o, "}");
}
