/* progress_tty.c: progress drawn on a terminal as one line redrawn in place, and the one-line
 * summary at the end (see cli.h). The line is cut to the terminal's width less one column: a
 * line that reaches the last column wraps on many terminals, and then every "\r" redraw
 * starts a new line (the 80-column bug). */
#include "cli/cli.h"
#include "engine/text.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define DRAW_EVERY 0.1   /* seconds between redraws */
#define TICK_MS 500      /* redraw while nothing is added (a seed copy, elapsed time ticks) */

int cli_term_width(void)
{
    struct winsize ws;
    if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int w = c ? atoi(c) : 0;
    return w > 0 ? w : 80;
}

/* ---- the line ---- */

static void human_time(double s, char *out, size_t n)
{
    long t = (long)(s + 0.5);
    if (t < 60) snprintf(out, n, "%lds", t);
    else if (t < 3600) snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(out, n, "%ldh%02ldm", t / 3600, t % 3600 / 60);
}

/* The line's fields, most needed first when the terminal is narrow: the head always, then
 * how far (percent), how long still (ETA), counts, speed, time so far. */
enum { F_HEAD, F_ITEMS, F_BYTES, F_RATE, F_ELAPSED, F_ETA, NFIELDS };
static const int keep_rank[NFIELDS] = {[F_HEAD] = 0, [F_BYTES] = 1, [F_ETA] = 2, [F_ITEMS] = 3,
                                       [F_RATE] = 4, [F_ELAPSED] = 5};

static void fields(const progress_view *v, char f[NFIELDS][160])
{
    char b[32], tb[32], t[32];
    snprintf(f[F_HEAD], 160, "%s: %s%s%s:", v->prog, v->what, v->what[0] && v->phase[0] ? ", " : "",
             v->phase);
    if (v->total_items && !v->total_bytes)
        snprintf(f[F_ITEMS], 160, "%llu/%llu items", (unsigned long long)v->items,
                 (unsigned long long)v->total_items);
    else
        snprintf(f[F_ITEMS], 160, "%llu items", (unsigned long long)v->items);
    text_human_bytes((double)v->bytes, b, sizeof b);
    text_human_bytes((double)v->total_bytes, tb, sizeof tb);
    char pct[16] = "";
    if (v->percent >= 0) snprintf(pct, sizeof pct, " (%.0f%%)", v->percent);
    snprintf(f[F_BYTES], 160, "%s%s%s%s", b, v->total_bytes ? "/" : "", v->total_bytes ? tb : "", pct);
    f[F_RATE][0] = '\0';
    if (v->total_bytes && v->byte_rate > 0) {
        text_human_bytes(v->byte_rate, b, sizeof b);
        snprintf(f[F_RATE], 160, "%s/s", b);
    } else if (v->item_rate > 0) {
        snprintf(f[F_RATE], 160, "%.0f items/s", v->item_rate);
    }
    human_time(v->elapsed, t, sizeof t);
    snprintf(f[F_ELAPSED], 160, "%s", t);
    f[F_ETA][0] = '\0';
    if (v->eta >= 0) {
        human_time(v->eta, t, sizeof t);
        snprintf(f[F_ETA], 160, "ETA %s", t);
    }
}

/* The fields ranked below `keep` joined into line; returns the length. */
static size_t join(char f[NFIELDS][160], int keep, char *line, size_t n)
{
    size_t len = 0;
    for (int i = 0, nth = 0; i < NFIELDS; i++) {
        if (keep_rank[i] >= keep || !f[i][0]) continue;
        int w = snprintf(line + len, n - len, "%s%s", nth == 0 ? "" : nth == 1 ? " " : ", ", f[i]);
        nth++;
        if (w < 0 || (size_t)w >= n - len) return n - 1;
        len += (size_t)w;
    }
    return len;
}

size_t cli_progress_line(const progress_view *v, int width, char *out, size_t n)
{
    char f[NFIELDS][160], line[1024];
    size_t max = width > 1 ? (size_t)width - 1 : 1, len = 0;
    fields(v, f);
    for (int keep = NFIELDS; keep >= 1; keep--) {   /* drop the least needed until it fits */
        len = join(f, keep, line, sizeof line);
        if (len <= max) break;
    }
    if (len > max) len = max;
    if (n == 0) return 0;
    if (len >= n) len = n - 1;
    memcpy(out, line, len);
    out[len] = '\0';
    return len;
}

/* ---- the sink ---- */

typedef struct tty {
    progress *p;
    pthread_t ticker;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, drawn, have_ticker;
} tty;

static void tty_draw(void *ctx, const progress_view *v)
{
    tty *t = ctx;
    char line[512];
    cli_progress_line(v, cli_term_width(), line, sizeof line);
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    t->drawn = 1;
}

static void *tick(void *arg)
{
    tty *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&t->cv, &t->mu, &ts);
        if (t->stop) break;
        pthread_mutex_unlock(&t->mu);
        progress_flush(t->p);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* progress_free's hook: stop the ticker, clear the line. */
static void tty_close(void *ctx)
{
    tty *t = ctx;
    if (t->have_ticker) {
        pthread_mutex_lock(&t->mu);
        t->stop = 1;
        pthread_cond_signal(&t->cv);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->ticker, NULL);
    }
    if (t->drawn) fputs("\r\033[K", stderr);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

progress *cli_progress_new(const char *prog, const char *what, uint64_t total_items)
{
    progress *p = progress_new(prog, what, total_items);
    if (!p || !cli_interactive()) return p;
    tty *t = calloc(1, sizeof *t);
    if (!t) return p;   /* counting still works; the drawing is a nicety */
    t->p = p;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    t->have_ticker = pthread_create(&t->ticker, NULL, tick, t) == 0;
    progress_sink s = {tty_draw, tty_close, t, DRAW_EVERY};
    progress_set_sink(p, &s);
    return p;
}

void cli_progress_done(progress *p, const char *fmt, ...)
{
    char prog[64];
    progress_view v;
    progress_get(p, &v);
    snprintf(prog, sizeof prog, "%s", p ? v.prog : "tidemark");
    progress_free(p);   /* clears the line first */
    if (cli_quiet()) return;
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
