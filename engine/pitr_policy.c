/* pitr_policy.c: the restorable window and retention as pure functions (see pitr_policy.h). */
#include "engine/pitr_policy.h"
#include "engine/clock.h"
#include "engine/err.h"

#include <string.h>
#include <sys/types.h>

#define DAY_US (86400 * CLOCK_US_PER_SEC)

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

int pitr_window(const pitr_window_in *in, int64_t *earliest, int64_t *latest)
{
    const pitr_settings *p = &in->pitr;
    *earliest = *latest = 0;
    if (!p->enabled) return TM_ENOTFOUND;
    int64_t e = max64(p->enabled_since_us, in->now_us - (int64_t)p->period_days * DAY_US);
    /* A log that lost its head cannot rebuild the times before its first remaining record. */
    if (in->ngaps) {
        const log_gap *g = &in->gaps[0];
        if (g->after_us == 0 && g->before_us != INT64_MAX && g->before_us > e) e = g->before_us;
    }
    /* Nor before what retention kept (a raised period does not bring back what went). */
    e = max64(e, in->floor_us);
    int64_t l = max64(in->log.last_us, p->enabled_since_us);
    if (in->log.current) l = max64(l, in->now_us);
    /* No write for longer than the period (or the head lost past the last write): the state
     * has not changed since, so the window is the one instant of it that is still covered. */
    *earliest = e;
    *latest = max64(l, e);
    return 0;
}

int64_t pitr_floor(const log_segment *segs, size_t nsegs, const snap_info *snaps, size_t nsnaps,
                   int64_t last_us)
{
    size_t i = 0;
    while (i < nsegs && segs[i].last_seq < segs[i].first_seq) i++;     /* empty: no time */
    if (i == nsegs || segs[i].first_seq <= 1) return 0;
    int64_t f = segs[i].first_time;
    if (last_us && last_us < f) f = last_us;
    for (size_t k = 0; k < nsnaps; k++)
        if (snap_verifiable(&snaps[k]) && snaps[k].seq + 1 >= segs[i].first_seq && snaps[k].time_us < f)
            f = snaps[k].time_us;
    return f;
}

/* The newest snapshot that can seed a forward plan at the window's start, or -1. */
static ssize_t base_snapshot(const pitr_retention_in *in)
{
    ssize_t base = -1;
    for (size_t i = 0; i < in->nsnaps; i++)
        if (in->snaps[i].time_us <= in->earliest_us && snap_verifiable(&in->snaps[i])) base = (ssize_t)i;
    return base;
}

size_t pitr_retention(const pitr_retention_in *in, unsigned char *drop_segs,
                      unsigned char *drop_snaps)
{
    size_t n = 0;
    if (in->nsegs) memset(drop_segs, 0, in->nsegs);
    if (in->nsnaps) memset(drop_snaps, 0, in->nsnaps);
    /* The newest segment stays: it carries the position the next seq follows. */
    if (!in->pitr.enabled) {
        for (size_t i = 0; i + 1 < in->nsegs; i++)
            if (in->segs[i].sealed && in->segs[i].last_seq <= in->applied_seq) {
                drop_segs[i] = 1;
                n++;
            }
        return n;
    }
    ssize_t base = base_snapshot(in);
    for (ssize_t i = 0; i < base; i++) {
        drop_snaps[i] = 1;
        n++;
    }
    uint64_t keep_from = base >= 0 ? in->snaps[base].seq : UINT64_MAX;
    for (size_t i = 0; i + 1 < in->nsegs; i++) {
        const log_segment *s = &in->segs[i];
        if (!s->sealed || s->last_time >= in->earliest_us) continue;
        if (s->last_seq > keep_from || s->last_seq > in->applied_seq) continue;
        drop_segs[i] = 1;
        n++;
    }
    return n;
}
