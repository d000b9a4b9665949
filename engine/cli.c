/* cli.c: data directory, error printing, exit codes and progress shared by every program. */
#include "engine/cli.h"
#include "engine/err.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *cli_home(const char *opt)
{
    static char def[4096];
    if (opt && *opt) return opt;
    const char *e = getenv("TIDEMARK_HOME");
    if (e && *e) return e;
    const char *h = getenv("HOME");
    snprintf(def, sizeof def, "%s/.tidemark", h && *h ? h : ".");
    return def;
}

int cli_exit_code(int rc)
{
    if (rc == 0) return CLI_OK;
    if (rc == TM_ECONFLICT) return CLI_PARTIAL;
    return CLI_FAIL;
}

int cli_fail(const char *prog, const char *what, int rc)
{
    const char *m = err_msg();
    if (m && *m) fprintf(stderr, "%s: %s: %s\n", prog, what, m);
    else fprintf(stderr, "%s: %s: %s\n", prog, what, err_name(rc));
    return cli_exit_code(rc);
}

int cli_usage(const char *prog, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    return CLI_USAGE;
}

int cli_interactive(void)
{
    const char *e = getenv("TIDEMARK_PROGRESS");
    if (e && *e) return *e == '1';
    return isatty(2);
}

/* ---- progress ---- */

struct progress {
    pthread_mutex_t mu;
    char prog[64], what[64];
    uint64_t items, bytes, total;
    double start, last_draw;
    int tty, drawn;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

progress *progress_new(const char *prog, const char *what, uint64_t total_items)
{
    progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    snprintf(p->prog, sizeof p->prog, "%s", prog);
    snprintf(p->what, sizeof p->what, "%s", what);
    p->total = total_items;
    p->start = now_s();
    p->tty = cli_interactive();
    return p;
}

double progress_elapsed(const progress *p) { return p ? now_s() - p->start : 0; }

void progress_set_total(progress *p, uint64_t total_items)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->total = total_items;
    pthread_mutex_unlock(&p->mu);
}

static void human_bytes(double b, char *out, size_t n)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4) { b /= 1024; i++; }
    snprintf(out, n, "%.1f %s", b, u[i]);
}

void progress_add(progress *p, uint64_t items, uint64_t bytes)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->items += items;
    p->bytes += bytes;
    double t = now_s();
    if (p->tty && t - p->last_draw >= 0.1) {
        double el = t - p->start, rate = el > 0 ? (double)p->items / el : 0;
        char hb[32], eta[32] = "";
        human_bytes((double)p->bytes, hb, sizeof hb);
        if (p->total && rate > 0 && p->items <= p->total)
            snprintf(eta, sizeof eta, ", ETA %.0fs", (double)(p->total - p->items) / rate);
        if (p->total)
            fprintf(stderr, "\r%s: %s %llu/%llu items (%.0f%%), %s, %.0f items/s%s   ", p->prog,
                    p->what, (unsigned long long)p->items, (unsigned long long)p->total,
                    100.0 * (double)p->items / (double)p->total, hb, rate, eta);
        else
            fprintf(stderr, "\r%s: %s %llu items, %s, %.0f items/s   ", p->prog, p->what,
                    (unsigned long long)p->items, hb, rate);
        p->last_draw = t;
        p->drawn = 1;
    }
    pthread_mutex_unlock(&p->mu);
}

void progress_free(progress *p)
{
    if (!p) return;
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void progress_done(progress *p, const char *fmt, ...)
{
    va_list ap;
    if (p && p->drawn) fprintf(stderr, "\r\033[K");
    fprintf(stderr, "%s: ", p ? p->prog : "tidemark");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    progress_free(p);
}
