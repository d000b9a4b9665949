/* progress.h: how long work reports how far it got, without knowing who watches.
 *
 * Modules (export, import, pitr, restore) add items and bytes as they go and name their phase
 * ("seed copy", "replay"); they never print. A front end attaches a sink: cli/ draws one line
 * on a terminal, an HTTP endpoint could fill a Describe* response. With no sink a progress only
 * counts (tests, cron). All functions accept NULL p and are thread-safe.
 *
 * Rates are RECENT: items and bytes per second over the last PROGRESS_WINDOW_S seconds of the
 * current phase (the whole phase while it is younger), so an ETA follows the current speed
 * instead of the run's average. */
#ifndef TIDEMARK_PROGRESS_H
#define TIDEMARK_PROGRESS_H

#include <stdint.h>

#define PROGRESS_WINDOW_S 8.0   /* seconds of history behind a rate */

typedef struct progress progress;

/* What a sink sees: a copy, taken under the lock. */
typedef struct progress_view {
    char prog[64], what[64], phase[64];   /* phase "" until progress_phase */
    uint64_t items, bytes;                /* since progress_new (phases do not reset them) */
    uint64_t total_items, total_bytes;    /* 0: unknown */
    double elapsed;                       /* seconds since progress_new */
    double phase_elapsed;                 /* seconds since the current phase began */
    double item_rate, byte_rate;          /* per second, recent (see above); 0: not yet known */
    double percent;                       /* 0..100 from the byte total, else the item total;
                                             < 0: no total */
    double eta;                           /* seconds left at the recent rate; < 0: unknown */
} progress_view;

/* Who watches. draw is called after changes, at most once per min_interval seconds, and at
 * once on a phase change or progress_flush; it runs under p's lock and must not call back into
 * p. close (may be NULL) is called by progress_free, before p goes, without the lock: it may
 * stop a thread that calls progress_flush. */
typedef struct progress_sink {
    void (*draw)(void *ctx, const progress_view *v);
    void (*close)(void *ctx);
    void *ctx;
    double min_interval;
} progress_sink;

/* A silent progress (counts only). prog and what name it in messages ("tidemark-export",
 * "exporting"); total_items 0: unknown. NULL only when out of memory. */
progress *progress_new(const char *prog, const char *what, uint64_t total_items);
/* Calls the sink's close, then frees p. Accepts NULL. */
void progress_free(progress *p);
/* Attaches a copy of *sink (NULL detaches, without calling close). */
void progress_set_sink(progress *p, const progress_sink *sink);

void progress_add(progress *p, uint64_t items, uint64_t bytes);
void progress_set_total(progress *p, uint64_t total_items);
/* A byte total (a file's size): percent and ETA then follow the bytes. */
void progress_set_total_bytes(progress *p, uint64_t total_bytes);
/* Starts a named phase: the sink is told at once, the recent rate starts afresh. */
void progress_phase(progress *p, const char *phase);
/* Calls the sink now, whatever the interval (a timer's redraw). */
void progress_flush(progress *p);

void progress_get(progress *p, progress_view *out);   /* NULL p: all zero */
/* Seconds since p was made. */
double progress_elapsed(const progress *p);

#endif
