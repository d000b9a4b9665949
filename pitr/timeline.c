/* timeline.c: the activity timeline as a pure accumulator (see timeline.h for the rules). */
#include "pitr/timeline.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/log.h"

#include <stdlib.h>

#define TL_MINUTE (60 * CLOCK_US_PER_SEC)
#define TL_HOUR (3600 * CLOCK_US_PER_SEC)
#define TL_AUTO_HOURS_AFTER (48 * TL_HOUR)   /* minutes make too many rows past two days */

uint64_t pitr_tl_writes(const pitr_tl_interval *iv) { return iv->puts + iv->updates + iv->deletes; }

int pitr_timeline_new(int64_t from_us, int64_t to_us, pitr_tl_by by, pitr_timeline **out)
{
    *out = NULL;
    if (to_us < from_us) return err_set(TM_EINVAL, "--to is before --from");
    if (by == PITR_TL_AUTO) by = to_us - from_us > TL_AUTO_HOURS_AFTER ? PITR_TL_HOUR : PITR_TL_MINUTE;
    int64_t width = by == PITR_TL_HOUR ? TL_HOUR : TL_MINUTE;
    int64_t start = from_us - ((from_us % width) + width) % width;
    uint64_t n = (uint64_t)((to_us - start) / width) + 1;
    if (n > PITR_TL_MAX_INTERVALS)
        return err_set(TM_EINVAL, "the range holds too many intervals: narrow --from/--to or use --by hour");
    pitr_timeline *tl = calloc(1, sizeof *tl);
    if (!tl || !(tl->iv = calloc(n, sizeof *tl->iv))) {
        free(tl);
        return err_set(TM_ENOMEM, "out of memory");
    }
    tl->from_us = from_us;
    tl->to_us = to_us;
    tl->by = by;
    tl->width_us = width;
    tl->niv = n;
    for (size_t i = 0; i < n; i++) tl->iv[i].start_us = start + (int64_t)i * width;
    *out = tl;
    return 0;
}

void pitr_timeline_add(pitr_timeline *tl, int64_t time_us, int op)
{
    if (time_us < tl->from_us || time_us > tl->to_us) return;
    pitr_tl_interval *b = &tl->iv[(time_us - tl->iv[0].start_us) / tl->width_us];
    if (op == LOG_OP_PUT) b->puts++;
    else if (op == LOG_OP_UPDATE) b->updates++;
    else b->deletes++;
    if (!b->first_us) b->first_us = time_us;
    b->last_us = time_us;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Totals, and the usual rate: the median of the non-empty intervals. */
static int tl_usual(pitr_timeline *tl, uint64_t *nonempty)
{
    uint64_t *nz = malloc((tl->niv ? tl->niv : 1) * sizeof *nz), n = 0;
    if (!nz) return err_set(TM_ENOMEM, "out of memory");
    for (size_t i = 0; i < tl->niv; i++) {
        const pitr_tl_interval *b = &tl->iv[i];
        uint64_t w = pitr_tl_writes(b);
        if (w) nz[n++] = w;
        if (w > tl->max_writes) tl->max_writes = w;
        tl->writes += w;
        tl->puts += b->puts;
        tl->updates += b->updates;
        tl->deletes += b->deletes;
    }
    qsort(nz, n, sizeof *nz, cmp_u64);
    tl->usual = n ? nz[n / 2] : 0;
    *nonempty = n;
    free(nz);
    return 0;
}

/* The end (exclusive) of the burst run starting at interval i: burst intervals, and empty ones
 * that another burst interval follows. */
static size_t run_end(const pitr_timeline *tl, size_t i)
{
    size_t k = i;
    while (k < tl->niv && (tl->iv[k].burst || !pitr_tl_writes(&tl->iv[k]))) {
        if (!pitr_tl_writes(&tl->iv[k])) {
            size_t q = k;
            while (q < tl->niv && !pitr_tl_writes(&tl->iv[q])) q++;
            if (q == tl->niv || !tl->iv[q].burst) break;
        }
        k++;
    }
    return k;
}

/* One burst over intervals [i, k); last_before is the last write before it. */
static void burst_of(const pitr_timeline *tl, size_t i, size_t k, int64_t last_before, pitr_tl_burst *x)
{
    *x = (pitr_tl_burst){0};
    x->first_us = tl->iv[i].first_us;
    for (size_t q = i; q < k; q++) {
        const pitr_tl_interval *b = &tl->iv[q];
        if (!pitr_tl_writes(b)) continue;
        x->writes += pitr_tl_writes(b);
        x->puts += b->puts;
        x->updates += b->updates;
        x->deletes += b->deletes;
        x->last_us = b->last_us;
    }
    x->last_good_us = x->first_us - 1;
    int64_t sec = x->last_good_us - x->last_good_us % CLOCK_US_PER_SEC;
    x->has_good_second = last_before <= sec;
    x->last_good_second_us = x->has_good_second ? sec : 0;
}

int pitr_timeline_finish(pitr_timeline *tl)
{
    uint64_t nonempty = 0;
    int rc = tl_usual(tl, &nonempty);
    if (rc) return rc;
    uint64_t threshold = tl->usual * PITR_TL_BURST_FACTOR;
    if (threshold < PITR_TL_BURST_MIN) threshold = PITR_TL_BURST_MIN;
    for (size_t i = 0; i < tl->niv; i++)
        tl->iv[i].burst = nonempty > 1 && pitr_tl_writes(&tl->iv[i]) >= threshold;
    int64_t last_before = 0;   /* time of the last write before the current interval */
    for (size_t i = 0; i < tl->niv;) {
        if (!tl->iv[i].burst) {
            if (tl->iv[i].last_us) last_before = tl->iv[i].last_us;
            i++;
            continue;
        }
        size_t k = run_end(tl, i);
        pitr_tl_burst *nb = realloc(tl->bursts, (tl->nbursts + 1) * sizeof *nb);
        if (!nb) return err_set(TM_ENOMEM, "out of memory");
        tl->bursts = nb;
        burst_of(tl, i, k, last_before, &tl->bursts[tl->nbursts]);
        last_before = tl->bursts[tl->nbursts++].last_us;
        i = k;
    }
    return 0;
}

void pitr_timeline_free(pitr_timeline *tl)
{
    if (!tl) return;
    free(tl->iv);
    free(tl->bursts);
    free(tl);
}
