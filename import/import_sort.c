/* import_sort.c: external sort of (key, value) records for the bulk loader.
 *
 * Why: LMDB builds a table fastest when keys arrive in order (pages fill and append, nothing
 * splits), and an import's input is in no useful order. Sorting in memory would make memory grow
 * with the table; so records collect in one fixed arena, and when it is full they are sorted and
 * spilled as a "run" to a temp file that is unlinked at once (nothing is left behind by a crash
 * or kill). At the end the runs and what is still in memory are merged k-way. Memory is the
 * arena (mem bytes) plus one read buffer per run, whatever the input size.
 *
 * Duplicate keys: every record carries a seq; the record with the highest seq wins (the later
 * line of the later file), so "last write wins" holds across runs and producers.
 *
 * RUN FILE (private to one process, never kept): records back to back, each
 *   offset 0   u32 LE  key length
 *          4   u32 LE  value length
 *          8   u64 LE  seq
 *         16   key bytes, then value bytes
 * sorted by (key, seq), with duplicates already dropped inside the run. */
#include "import/import_internal.h"
#include "engine/err.h"
#include "engine/fsx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RUN_WBUF (1u << 20)
#define RUN_RBUF (128u << 10)
#define REC_HDR 16

typedef struct ent {
    uint64_t pfx;      /* first 8 key bytes, big-endian, zero padded: most compares end here */
    uint64_t seq;
    uint64_t off;      /* of the key in the arena; the value follows it */
    uint32_t kn, vn;
} ent;

typedef struct run {
    int fd;
    uint64_t size;
} run;

struct import_sorter {
    char *tmpdir;
    char *arena;       /* records grow up from the start, entries grow down from the end */
    size_t mem, used;
    size_t nents;
    int sorted;        /* the in-memory entries are sorted (no add since) */
    run *runs;
    size_t nruns, runs_cap;
    char *wbuf;        /* the spill's write buffer, kept: one allocation for every run */
    uint64_t spilled;
};

static inline uint64_t key_pfx(const unsigned char *k, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++) v = v << 8 | (i < n ? k[i] : 0);
    return v;
}

static inline int key_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c) return c;
    return an < bn ? -1 : an > bn;
}

int import_sorter_new(const char *tmpdir, size_t mem, import_sorter **out)
{
    *out = NULL;
    if (mem < (1u << 20)) mem = 1u << 20;
    import_sorter *s = calloc(1, sizeof *s);
    if (!s || !(s->tmpdir = strdup(tmpdir ? tmpdir : "/tmp"))) {
        free(s);
        return err_set(TM_ENOMEM, "out of memory (sorter)");
    }
    s->mem = mem & ~(size_t)7;
    /* Untouched pages cost nothing: the arena's RSS grows only as far as it is filled. */
    if (!(s->arena = malloc(s->mem))) {
        import_sorter_free(s);
        return err_set(TM_ENOMEM, "out of memory (sorter arena of %zu bytes)", mem);
    }
    *out = s;
    return 0;
}

static ent *ents_of(const import_sorter *s) { return (ent *)(s->arena + s->mem) - s->nents; }

static int ent_cmp(const void *pa, const void *pb, void *arena)
{
    const ent *a = pa, *b = pb;
    if (a->pfx != b->pfx) return a->pfx < b->pfx ? -1 : 1;
    if (a->kn > 8 || b->kn > 8) {
        int c = key_cmp((char *)arena + a->off, a->kn, (char *)arena + b->off, b->kn);
        if (c) return c;
    } else if (a->kn != b->kn) {
        return a->kn < b->kn ? -1 : 1;
    }
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void sort_mem(import_sorter *s)
{
    if (!s->sorted) qsort_r(ents_of(s), s->nents, sizeof(ent), ent_cmp, s->arena);
    s->sorted = 1;
}

void import_sorter_seal(import_sorter *s)
{
    sort_mem(s);
}

/* Buffered writer of one run. */
typedef struct wbuf {
    int fd;
    char *b;
    size_t len;
    uint64_t total;
} wbuf;

static int wbuf_put(wbuf *w, const void *p, size_t n)
{
    if (w->len + n > RUN_WBUF) {
        int rc = fsx_write_all(w->fd, w->b, w->len);
        if (rc) return rc;
        w->len = 0;
        if (n > RUN_WBUF) {
            w->total += n;
            return fsx_write_all(w->fd, p, n);
        }
    }
    memcpy(w->b + w->len, p, n);
    w->len += n;
    w->total += n;
    return 0;
}

static int spill(import_sorter *s)
{
    int rc = 0, fd = -1;
    wbuf w = {-1, NULL, 0, 0};
    char path[4096];
    if (s->nents == 0) return 0;
    sort_mem(s);
    snprintf(path, sizeof path, "%s/.import-run-XXXXXX", s->tmpdir);
    fd = mkstemp(path);
    if (fd < 0) return err_sys(TM_EIO, errno, "sorter temp file in %s", s->tmpdir);
    unlink(path);   /* gone from the namespace: a crash leaves nothing */
    if (!s->wbuf && !(s->wbuf = malloc(RUN_WBUF))) {
        rc = err_set(TM_ENOMEM, "out of memory (run buffer)");
        goto out;
    }
    w.b = s->wbuf;
    w.fd = fd;
    ent *e = ents_of(s);
    for (size_t i = 0; i < s->nents; i++) {
        if (i + 1 < s->nents && e[i].pfx == e[i + 1].pfx && e[i].kn == e[i + 1].kn &&
            memcmp(s->arena + e[i].off, s->arena + e[i + 1].off, e[i].kn) == 0)
            continue;   /* a later record with the same key follows */
        unsigned char h[REC_HDR];
        wr_u32le(h, e[i].kn);
        wr_u32le(h + 4, e[i].vn);
        wr_u64le(h + 8, e[i].seq);
        if ((rc = wbuf_put(&w, h, REC_HDR)) ||
            (rc = wbuf_put(&w, s->arena + e[i].off, (size_t)e[i].kn + e[i].vn)))
            goto out;
    }
    if (w.len && (rc = fsx_write_all(fd, w.b, w.len))) goto out;
    if (s->nruns == s->runs_cap) {
        size_t nc = s->runs_cap ? s->runs_cap * 2 : 8;
        run *nr = realloc(s->runs, nc * sizeof *nr);
        if (!nr) { rc = err_set(TM_ENOMEM, "out of memory (runs)"); goto out; }
        s->runs = nr;
        s->runs_cap = nc;
    }
    s->runs[s->nruns].fd = fd;
    s->runs[s->nruns].size = w.total;
    s->nruns++;
    s->spilled += w.total;
    fd = -1;
    s->nents = 0;
    s->used = 0;
    s->sorted = 0;
out:
    if (rc && fd >= 0) err_wrap(rc, "sorter run in %s: ", s->tmpdir);
    if (fd >= 0) close(fd);
    return rc;
}

int import_sorter_add(import_sorter *s, const void *key, size_t kn, const void *val, size_t vn,
                      uint64_t seq)
{
    size_t need = (kn + vn + 7) & ~(size_t)7;
    if (need + sizeof(ent) > s->mem)
        return err_set(TM_ELIMIT, "record of %zu bytes larger than the sort memory", kn + vn);
    if (s->used + need + (s->nents + 1) * sizeof(ent) > s->mem) {
        int rc = spill(s);
        if (rc) return rc;
    }
    memcpy(s->arena + s->used, key, kn);
    memcpy(s->arena + s->used + kn, val, vn);
    s->nents++;
    s->sorted = 0;
    ent *e = ents_of(s);
    e->pfx = key_pfx(key, kn);
    e->seq = seq;
    e->off = s->used;
    e->kn = (uint32_t)kn;
    e->vn = (uint32_t)vn;
    s->used += need;
    return 0;
}

/* ---- merge -------------------------------------------------------------------------------- */

/* One sorted input of the merge: a run file or a sorter's in-memory entries. */
typedef struct cursor {
    /* current record */
    const char *key, *val;
    uint32_t kn, vn;
    uint64_t seq;
    int done;
    /* run file */
    int fd;
    uint64_t off, size;
    char *rb;
    size_t rpos, rlen, rcap;
    /* memory */
    const import_sorter *mem;
    size_t mi;
} cursor;

static int cursor_next(cursor *c)
{
    if (c->mem) {
        const ent *e = ents_of(c->mem);
        /* skip to the last of equal keys (seq ascending inside equal keys) */
        while (c->mi + 1 < c->mem->nents && e[c->mi].pfx == e[c->mi + 1].pfx &&
               e[c->mi].kn == e[c->mi + 1].kn &&
               memcmp(c->mem->arena + e[c->mi].off, c->mem->arena + e[c->mi + 1].off,
                      e[c->mi].kn) == 0)
            c->mi++;
        if (c->mi >= c->mem->nents) { c->done = 1; return 0; }
        const ent *x = &e[c->mi++];
        c->key = c->mem->arena + x->off;
        c->val = c->key + x->kn;
        c->kn = x->kn;
        c->vn = x->vn;
        c->seq = x->seq;
        return 0;
    }
    for (;;) {
        size_t avail = c->rlen - c->rpos;
        size_t need = REC_HDR;
        if (avail >= REC_HDR) {
            need += (size_t)rd_u32le(c->rb + c->rpos) + rd_u32le(c->rb + c->rpos + 4);
            if (avail >= need) break;
        } else if (avail == 0 && c->off >= c->size) {
            c->done = 1;
            return 0;
        }
        if (c->off >= c->size) return err_set(TM_ECORRUPT, "sorter run truncated");
        memmove(c->rb, c->rb + c->rpos, avail);
        c->rpos = 0;
        c->rlen = avail;
        if (need > c->rcap) {
            char *nb = realloc(c->rb, need);
            if (!nb) return err_set(TM_ENOMEM, "out of memory (merge buffer)");
            c->rb = nb;
            c->rcap = need;
        }
        size_t want = c->rcap - c->rlen;
        if (want > c->size - c->off) want = (size_t)(c->size - c->off);
        if (fsx_pread_all(c->fd, c->rb + c->rlen, want, (long long)c->off))
            return err_wrap(TM_EIO, "sorter run: ");
        c->off += want;
        c->rlen += want;
    }
    const char *h = c->rb + c->rpos;
    c->kn = rd_u32le(h);
    c->vn = rd_u32le(h + 4);
    c->seq = rd_u64le(h + 8);
    c->key = h + REC_HDR;
    c->val = c->key + c->kn;
    c->rpos += REC_HDR + (size_t)c->kn + c->vn;
    return 0;
}

/* a sorts before b (key, then seq) */
static int cur_less(const cursor *a, const cursor *b)
{
    int c = key_cmp(a->key, a->kn, b->key, b->kn);
    if (c) return c < 0;
    return a->seq < b->seq;
}

static void heap_down(cursor **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && cur_less(h[l], h[m])) m = l;
        if (r < n && cur_less(h[r], h[m])) m = r;
        if (m == i) return;
        cursor *t = h[i]; h[i] = h[m]; h[m] = t;
        i = m;
    }
}

/* Merges every run and in-memory tail of sorters[0..n). */
static int merge(import_sorter **sorters, size_t n, import_sorter_fn fn, void *ctx)
{
    int rc = 0;
    size_t nc = 0, hn = 0, k = 0;
    for (size_t i = 0; i < n; i++) nc += sorters[i]->nruns + 1;
    cursor *cs = calloc(nc ? nc : 1, sizeof *cs);
    cursor **heap = calloc(nc ? nc : 1, sizeof *heap);
    if (!cs || !heap) { rc = err_set(TM_ENOMEM, "out of memory (merge)"); goto out; }
    for (size_t i = 0; i < n; i++) {
        import_sorter *s = sorters[i];
        sort_mem(s);
        for (size_t r = 0; r < s->nruns; r++, k++) {
            cs[k].fd = s->runs[r].fd;
            cs[k].size = s->runs[r].size;
            cs[k].rcap = RUN_RBUF;
            if (!(cs[k].rb = malloc(RUN_RBUF))) { rc = err_set(TM_ENOMEM, "out of memory"); goto out; }
        }
        cs[k].mem = s;
        k++;
    }
    for (size_t i = 0; i < k; i++) {
        if ((rc = cursor_next(&cs[i]))) goto out;
        if (!cs[i].done) heap[hn++] = &cs[i];
    }
    for (size_t i = hn; i-- > 0;) heap_down(heap, hn, i);
    while (hn > 0) {
        cursor *top = heap[0];
        /* Equal keys come out in seq order; the last of them wins. The common case (no
         * duplicate) hands the cursor's bytes straight to fn without a copy. */
        for (;;) {
            cursor *c = heap[0];
            cursor *next = NULL;
            /* the smallest of the rest is one of heap[0]'s children after c advances; look
             * at the children instead of advancing first */
            if (hn > 1) next = heap[1];
            if (hn > 2 && cur_less(heap[2], heap[1])) next = heap[2];
            if (next && key_cmp(next->key, next->kn, c->key, c->kn) == 0) {
                if ((rc = cursor_next(c))) goto out;
                if (c->done) heap[0] = heap[--hn];
                heap_down(heap, hn, 0);
                continue;
            }
            top = c;
            break;
        }
        if ((rc = fn(ctx, top->key, top->kn, top->val, top->vn))) goto out;
        if ((rc = cursor_next(top))) goto out;
        if (top->done) heap[0] = heap[--hn];
        heap_down(heap, hn, 0);
    }
out:
    for (size_t i = 0; i < k && cs; i++) free(cs[i].rb);
    free(cs);
    free(heap);
    return rc;
}

int import_sorter_finish(import_sorter *s, import_sorter_fn fn, void *ctx)
{
    return merge(&s, 1, fn, ctx);
}

int import_sorter_merge(import_sorter **s, size_t n, import_sorter_fn fn, void *ctx)
{
    return merge(s, n, fn, ctx);
}

uint64_t import_sorter_runs(const import_sorter *s) { return s->nruns; }
uint64_t import_sorter_spilled(const import_sorter *s) { return s->spilled; }

void import_sorter_free(import_sorter *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nruns; i++) close(s->runs[i].fd);
    free(s->runs);
    free(s->wbuf);
    free(s->arena);
    free(s->tmpdir);
    free(s);
}
