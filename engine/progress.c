/* progress.c: counters, phases and recent rates of long work, handed to a front end's sink.
 * Nothing here prints: see progress.h, and cli/progress_tty.c for the terminal. */
#include "engine/progress.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The rate's history: one sample per PROGRESS_WINDOW_S / NSAMPLES seconds. */
#define NSAMPLES 16

typedef struct sample {
    double t;
    uint64_t items, bytes;
} sample;

struct progress {
    pthread_mutex_t mu;
    char prog[64], what[64], phase[64];
    uint64_t items, bytes, total_items, total_bytes;
    double start, phase_start;
    sample ring[NSAMPLES];
    int nring, head;             /* head: where the next sample goes */
    sample base;                 /* the phase's start, used while the ring is empty */
    progress_sink sink;
    double last_sink;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

progress *progress_new(const char *prog, const char *what, uint64_t total_items)
{
    progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    snprintf(p->prog, sizeof p->prog, "%s", prog ? prog : "tidemark");
    snprintf(p->what, sizeof p->what, "%s", what ? what : "");
    p->total_items = total_items;
    p->start = p->phase_start = p->base.t = now_s();
    return p;
}

void progress_free(progress *p)
{
    if (!p) return;
    if (p->sink.close) p->sink.close(p->sink.ctx);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

double progress_elapsed(const progress *p) { return p ? now_s() - p->start : 0; }

/* ---- rates (under the lock) ---- */

static void take_sample(progress *p, double t)
{
    const sample *last = &p->ring[(p->head + NSAMPLES - 1) % NSAMPLES];
    if (p->nring && t - last->t < PROGRESS_WINDOW_S / NSAMPLES) return;
    p->ring[p->head] = (sample){t, p->items, p->bytes};
    p->head = (p->head + 1) % NSAMPLES;
    if (p->nring < NSAMPLES) p->nring++;
}

/* The oldest point inside the window: the phase's start while it is recent, else the oldest
 * sample within it; NULL after a stall longer than the window (rate 0). */
static const sample *rate_base(const progress *p, double t)
{
    if (t - p->base.t <= PROGRESS_WINDOW_S || !p->nring) return &p->base;
    for (int i = p->nring; i > 0; i--) {
        const sample *s = &p->ring[(p->head + NSAMPLES - i) % NSAMPLES];
        if (t - s->t <= PROGRESS_WINDOW_S) return s;
    }
    return NULL;
}

static double left_over(uint64_t total, uint64_t done, double rate)
{
    if (!total || rate <= 0) return -1;
    return done >= total ? 0 : (double)(total - done) / rate;
}

static void view_locked(const progress *p, double t, progress_view *v)
{
    memset(v, 0, sizeof *v);
    memcpy(v->prog, p->prog, sizeof v->prog);
    memcpy(v->what, p->what, sizeof v->what);
    memcpy(v->phase, p->phase, sizeof v->phase);
    v->items = p->items;
    v->bytes = p->bytes;
    v->total_items = p->total_items;
    v->total_bytes = p->total_bytes;
    v->elapsed = t - p->start;
    v->phase_elapsed = t - p->phase_start;
    const sample *b = rate_base(p, t);
    double dt = b ? t - b->t : 0;
    if (dt >= 0.5) {   /* less than half a second says little about a rate */
        v->item_rate = (double)(p->items - b->items) / dt;
        v->byte_rate = (double)(p->bytes - b->bytes) / dt;
    }
    v->percent = -1;
    v->eta = -1;
    if (p->total_bytes) {
        v->percent = 100.0 * (double)(p->bytes < p->total_bytes ? p->bytes : p->total_bytes) /
                     (double)p->total_bytes;
        v->eta = left_over(p->total_bytes, p->bytes, v->byte_rate);
    } else if (p->total_items) {
        v->percent = 100.0 * (double)(p->items < p->total_items ? p->items : p->total_items) /
                     (double)p->total_items;
        v->eta = left_over(p->total_items, p->items, v->item_rate);
    }
}

static void notify_locked(progress *p, double t, int force)
{
    if (!p->sink.draw || (!force && t - p->last_sink < p->sink.min_interval)) return;
    progress_view v;
    view_locked(p, t, &v);
    p->last_sink = t;
    p->sink.draw(p->sink.ctx, &v);
}

/* ---- updates ---- */

void progress_set_sink(progress *p, const progress_sink *sink)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    if (sink) p->sink = *sink;
    else memset(&p->sink, 0, sizeof p->sink);
    pthread_mutex_unlock(&p->mu);
}

void progress_add(progress *p, uint64_t items, uint64_t bytes)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    double t = now_s();
    p->items += items;
    p->bytes += bytes;
    take_sample(p, t);
    notify_locked(p, t, 0);
    pthread_mutex_unlock(&p->mu);
}

void progress_set_total(progress *p, uint64_t total_items)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->total_items = total_items;
    pthread_mutex_unlock(&p->mu);
}

void progress_set_total_bytes(progress *p, uint64_t total_bytes)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->total_bytes = total_bytes;
    pthread_mutex_unlock(&p->mu);
}

void progress_phase(progress *p, const char *phase)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    double t = now_s();
    snprintf(p->phase, sizeof p->phase, "%s", phase ? phase : "");
    p->phase_start = t;
    p->base = (sample){t, p->items, p->bytes};
    p->nring = p->head = 0;
    notify_locked(p, t, 1);
    pthread_mutex_unlock(&p->mu);
}

void progress_flush(progress *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    notify_locked(p, now_s(), 1);
    pthread_mutex_unlock(&p->mu);
}

void progress_get(progress *p, progress_view *out)
{
    if (!p) {
        memset(out, 0, sizeof *out);
        out->percent = out->eta = -1;
        return;
    }
    pthread_mutex_lock(&p->mu);
    view_locked(p, now_s(), out);
    pthread_mutex_unlock(&p->mu);
}
