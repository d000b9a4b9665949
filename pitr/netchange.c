/* netchange.c: net change per key over a window of the change log, with bounded memory
 * (see netchange.h for the rules).
 *
 * GROUPING: an open-addressing hash table (XXH3 of the encoded key) of entries
 * {key, first old image, last new image, last time, writes}. Memory counted: entry + key + images
 * + table slots. Past mem_limit the entries are sorted by key and written as one RUN; the table
 * starts empty again. Runs are therefore ordered by time: run i holds only records older than
 * those of run i+1, and the in-memory rest is the newest.
 *
 * MERGE: a k-way merge by key over the runs and the sorted in-memory rest. For a key present in
 * several sources the OLD image comes from the oldest source, the NEW image, time from the newest,
 * writes are summed. More than NC_FANIN runs are first merged, oldest first, NC_FANIN at a time
 * into one longer run (which keeps the time order), so the final merge holds at most NC_FANIN
 * open files and buffers.
 *
 * RUN FILE (temporary, private, unlinked at creation; so never found after a crash):
 * a sequence of records sorted by key bytes (memcmp, then length), keys unique in a run,
 *   offset size  field (little-endian)
 *      0    4    key_len (1 .. KEY_ENC_MAX-ish; > 0)
 *      4    4    old_len (0: absent)
 *      8    4    new_len (0: absent)
 *     12    4    reserved, 0
 *     16    8    time_us (signed)
 *     24    8    writes
 *     32    key_len + old_len + new_len bytes: key, old image, new image
 * The run ends at end of file. A short record is an I/O error (the file is ours: only a full disk
 * or a failing device cuts it). */
#include "pitr/netchange.h"
#include "engine/buf.h"
#include "engine/err.h"
#include "engine/hold.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define NC_FANIN     64
#define NC_REC_HDR   32
#define NC_RUN_BUF   ((size_t)256 << 10)
#define NC_IMG_MAX   ((size_t)64 << 20)     /* ceiling for one record's images from a run */

typedef struct ent {
    uint64_t h;
    uint32_t kn, on, nn, ncap;
    int64_t t;
    uint64_t writes;
    unsigned char *newp;
    unsigned char data[];    /* key, then old image */
} ent;

typedef struct run {
    FILE *f;
    uint64_t count, bytes;
} run;

/* A merge source: a run being read, or the sorted in-memory entries. */
typedef struct src {
    run *r;                  /* NULL: memory */
    ent **mem;
    size_t mem_n, mem_pos;
    int valid;
    buf rec;                 /* current record of a run (header + data) */
    const unsigned char *key, *old, *nw;
    uint32_t kn, on, nn;
    int64_t t;
    uint64_t writes;
} src;

struct netchange {
    size_t mem_limit, mem;
    char tmp_dir[PATH_MAX];
    ent **tab;
    size_t cap, count;
    run *runs;
    size_t nruns, capruns;
    uint64_t last_seq;
    int any;
    int finished;
    src *srcs;
    int nsrc;
    int *pending;
    int npending;
    ent **sorted;            /* the in-memory rest, sorted, owned */
    size_t nsorted;
    netchange_stats st;
};

/* ================================================================================================
 * Grouping in memory
 * ============================================================================================== */

static size_t ent_mem(const ent *e)
{
    /* + malloc's own overhead, roughly, so that many small entries are not undercounted. */
    return sizeof *e + e->kn + e->on + e->ncap + 32;
}

static int key_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c) return c;
    return an < bn ? -1 : an > bn;
}

static int ent_cmp(const void *a, const void *b)
{
    const ent *x = *(ent *const *)a, *y = *(ent *const *)b;
    return key_cmp(x->data, x->kn, y->data, y->kn);
}

static int tab_grow(netchange *nc)
{
    size_t ncap = nc->cap ? nc->cap * 2 : 64;
    ent **nt = calloc(ncap, sizeof *nt);
    if (!nt) return err_set(TM_ENOMEM, "netchange: out of memory (%zu slots)", ncap);
    for (size_t i = 0; i < nc->cap; i++) {
        ent *e = nc->tab[i];
        if (!e) continue;
        size_t j = e->h & (ncap - 1);
        while (nt[j]) j = (j + 1) & (ncap - 1);
        nt[j] = e;
    }
    free(nc->tab);
    nc->mem += (ncap - nc->cap) * sizeof *nt;
    nc->tab = nt;
    nc->cap = ncap;
    return 0;
}

static void free_entries(ent **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!v[i]) continue;
        free(v[i]->newp);
        free(v[i]);
    }
}

/* Moves the table's entries to the front of the table and sorts them; returns their count. */
static size_t tab_sort(netchange *nc)
{
    size_t n = 0;
    for (size_t i = 0; i < nc->cap; i++)
        if (nc->tab[i]) nc->tab[n++] = nc->tab[i];
    qsort(nc->tab, n, sizeof *nc->tab, ent_cmp);
    return n;
}

/* ================================================================================================
 * Runs
 * ============================================================================================== */

static int run_new(netchange *nc, run *out)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/tidemark-netchange-XXXXXX", nc->tmp_dir);
    int fd = mkstemp(path);
    if (fd < 0) return err_sys(TM_EIO, errno, "netchange: create a spill file in %s", nc->tmp_dir);
    unlink(path);   /* private and gone with the process, whatever happens */
    FILE *f = fdopen(fd, "w+b");
    if (!f) {
        close(fd);
        return err_sys(TM_EIO, errno, "netchange: spill file");
    }
    setvbuf(f, NULL, _IOFBF, NC_RUN_BUF);
    memset(out, 0, sizeof *out);
    out->f = f;
    return 0;
}

static int run_put(run *r, const void *key, uint32_t kn, const void *old, uint32_t on,
                   const void *nw, uint32_t nn, int64_t t, uint64_t writes)
{
    unsigned char h[NC_REC_HDR];
    wr_u32le(h, kn);
    wr_u32le(h + 4, on);
    wr_u32le(h + 8, nn);
    wr_u32le(h + 12, 0);
    wr_u64le(h + 16, (uint64_t)t);
    wr_u64le(h + 24, writes);
    if (fwrite(h, 1, sizeof h, r->f) != sizeof h || fwrite(key, 1, kn, r->f) != kn ||
        (on && fwrite(old, 1, on, r->f) != on) || (nn && fwrite(nw, 1, nn, r->f) != nn))
        return err_sys(TM_EIO, errno, "netchange: write spill file");
    r->count++;
    r->bytes += sizeof h + kn + on + nn;
    return 0;
}

/* Flushes a finished run and rewinds it for reading. */
static int run_seal(run *r)
{
    if (fflush(r->f) || fseek(r->f, 0, SEEK_SET))
        return err_sys(TM_EIO, errno, "netchange: spill file");
    return 0;
}

static int add_run(netchange *nc, run *r)
{
    if (nc->nruns == nc->capruns) {
        size_t c = nc->capruns ? nc->capruns * 2 : 16;
        run *nr = realloc(nc->runs, c * sizeof *nr);
        if (!nr) return err_set(TM_ENOMEM, "netchange: out of memory");
        nc->runs = nr;
        nc->capruns = c;
    }
    nc->runs[nc->nruns++] = *r;
    return 0;
}

static int spill(netchange *nc)
{
    run r;
    size_t n = tab_sort(nc);
    int rc = run_new(nc, &r);
    for (size_t i = 0; !rc && i < n; i++) {
        ent *e = nc->tab[i];
        rc = run_put(&r, e->data, e->kn, e->data + e->kn, e->on, e->newp, e->nn, e->t, e->writes);
    }
    if (!rc) rc = run_seal(&r);
    if (!rc) rc = add_run(nc, &r);
    if (rc) {
        if (r.f) fclose(r.f);
        return rc;
    }
    nc->st.runs++;
    nc->st.spilled_bytes += r.bytes;
    free_entries(nc->tab, n);
    free(nc->tab);
    nc->tab = NULL;
    nc->cap = nc->count = 0;
    nc->mem = 0;
    return 0;
}

/* ================================================================================================
 * Public: feeding
 * ============================================================================================== */

int netchange_new(const netchange_options *opts, netchange **out)
{
    *out = NULL;
    netchange *nc = calloc(1, sizeof *nc);
    if (!nc) return err_set(TM_ENOMEM, "out of memory");
    size_t lim = opts ? opts->mem_limit : 0;
    if (!lim) {
        const char *e = getenv("TIDEMARK_NETCHANGE_MEM");
        lim = e && *e ? (size_t)strtoull(e, NULL, 10) : NETCHANGE_MEM_DEFAULT;
    }
    nc->mem_limit = lim < NETCHANGE_MEM_MIN ? NETCHANGE_MEM_MIN : lim;
    const char *td = opts && opts->tmp_dir ? opts->tmp_dir : getenv("TMPDIR");
    snprintf(nc->tmp_dir, sizeof nc->tmp_dir, "%s", td && *td ? td : "/tmp");
    nc->st.first_seq = 1;
    *out = nc;
    return 0;
}

int netchange_add(netchange *nc, const log_record *rec)
{
    if (nc->finished) return err_set(TM_EINVAL, "netchange: add after next");
    if (nc->any && rec->seq <= nc->last_seq)
        return err_set(TM_EINVAL, "netchange: record seq %llu after %llu",
                       (unsigned long long)rec->seq, (unsigned long long)nc->last_seq);
    if (!nc->any) nc->st.first_seq = rec->seq;
    nc->any = 1;
    nc->last_seq = rec->seq;
    nc->st.last_seq = rec->seq;
    nc->st.records++;
    if (!nc->cap) {
        int rc = tab_grow(nc);
        if (rc) return rc;
    }
    uint64_t h = XXH3_64bits(rec->key, rec->key_len);
    size_t j = h & (nc->cap - 1);
    ent *e;
    while ((e = nc->tab[j])) {
        if (e->h == h && e->kn == rec->key_len && !memcmp(e->data, rec->key, e->kn)) break;
        j = (j + 1) & (nc->cap - 1);
    }
    if (e) {
        /* A later write of a key already seen: keep its first old image. */
        if (rec->new_len > e->ncap) {
            unsigned char *np = realloc(e->newp, rec->new_len);
            if (!np) return err_set(TM_ENOMEM, "netchange: out of memory");
            nc->mem += rec->new_len - e->ncap;
            nc->st.approx_bytes += rec->new_len - e->ncap;
            e->newp = np;
            e->ncap = rec->new_len;
        }
        if (rec->new_len) memcpy(e->newp, rec->new_img, rec->new_len);
        e->nn = rec->new_len;
        e->t = rec->time_us;
        e->writes++;
    } else {
        e = malloc(sizeof *e + rec->key_len + rec->old_len);
        unsigned char *np = rec->new_len ? malloc(rec->new_len) : NULL;
        if (!e || (rec->new_len && !np)) {
            free(e);
            free(np);
            return err_set(TM_ENOMEM, "netchange: out of memory");
        }
        e->h = h;
        e->kn = rec->key_len;
        e->on = rec->old_len;
        e->nn = e->ncap = rec->new_len;
        e->t = rec->time_us;
        e->writes = 1;
        e->newp = np;
        memcpy(e->data, rec->key, rec->key_len);
        if (rec->old_len) memcpy(e->data + rec->key_len, rec->old_img, rec->old_len);
        if (rec->new_len) memcpy(np, rec->new_img, rec->new_len);
        nc->tab[j] = e;
        nc->count++;
        nc->mem += ent_mem(e);
        nc->st.approx_bytes += (uint64_t)e->kn + e->on + e->nn;
        if (nc->count * 2 > nc->cap) {
            int rc = tab_grow(nc);
            if (rc) return rc;
        }
    }
    if (nc->mem > nc->mem_limit) return spill(nc);
    return 0;
}

/* ================================================================================================
 * Merging
 * ============================================================================================== */

/* Loads the next record of a source; valid = 0 at its end. */
static int src_next(src *s)
{
    if (!s->r) {
        if (s->mem_pos >= s->mem_n) {
            s->valid = 0;
            return 0;
        }
        ent *e = s->mem[s->mem_pos++];
        s->key = e->data;
        s->kn = e->kn;
        s->old = e->data + e->kn;
        s->on = e->on;
        s->nw = e->newp;
        s->nn = e->nn;
        s->t = e->t;
        s->writes = e->writes;
        s->valid = 1;
        return 0;
    }
    unsigned char h[NC_REC_HDR];
    size_t got = fread(h, 1, sizeof h, s->r->f);
    if (got == 0 && feof(s->r->f)) {
        s->valid = 0;
        return 0;
    }
    if (got != sizeof h) return err_sys(TM_EIO, errno, "netchange: read spill file");
    s->kn = rd_u32le(h);
    s->on = rd_u32le(h + 4);
    s->nn = rd_u32le(h + 8);
    s->t = (int64_t)rd_u64le(h + 16);
    s->writes = rd_u64le(h + 24);
    size_t n = (size_t)s->kn + s->on + s->nn;
    if (n > NC_IMG_MAX) return err_set(TM_EIO, "netchange: spill record of %zu bytes", n);
    buf_reset(&s->rec);
    int rc = buf_reserve(&s->rec, n);
    if (rc) return rc;
    if (fread(s->rec.data, 1, n, s->r->f) != n)
        return err_sys(TM_EIO, errno, "netchange: spill file cut short");
    s->rec.len = n;
    s->key = (const unsigned char *)s->rec.data;
    s->old = s->key + s->kn;
    s->nw = s->old + s->on;
    s->valid = 1;
    return 0;
}

/* The sources with the smallest key: their indexes into idx (ascending = oldest first). */
static int pick_min(src *s, int n, int *idx)
{
    int k = 0, best = -1;
    for (int i = 0; i < n; i++) {
        if (!s[i].valid) continue;
        int c = best < 0 ? -1 : key_cmp(s[i].key, s[i].kn, s[best].key, s[best].kn);
        if (c < 0) {
            best = i;
            k = 0;
            idx[k++] = i;
        } else if (c == 0) {
            idx[k++] = i;
        }
    }
    return k;
}

static void free_srcs(src *s, int n)
{
    for (int i = 0; s && i < n; i++) buf_free(&s[i].rec);
    free(s);
}

/* Merges runs[a .. a+n) (time order) into one new run that replaces them. */
static int merge_runs(netchange *nc, size_t a, size_t n)
{
    src *s = calloc(n, sizeof *s);
    int *idx = malloc(n * sizeof *idx);
    run out = {0};
    int rc = 0;
    if (!s || !idx) {
        rc = err_set(TM_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; !rc && i < n; i++) {
        s[i].r = &nc->runs[a + i];
        s[i].rec = (buf)BUF_INIT_MAX(NC_IMG_MAX + 1);
        rc = src_next(&s[i]);
    }
    if (!rc) rc = run_new(nc, &out);
    while (!rc) {
        int k = pick_min(s, (int)n, idx);
        if (!k) break;
        src *o = &s[idx[0]], *w = &s[idx[k - 1]];
        uint64_t writes = 0;
        for (int i = 0; i < k; i++) writes += s[idx[i]].writes;
        rc = run_put(&out, o->key, o->kn, o->old, o->on, w->nw, w->nn, w->t, writes);
        for (int i = 0; !rc && i < k; i++) rc = src_next(&s[idx[i]]);
    }
    if (!rc) rc = run_seal(&out);
    if (!rc) {
        for (size_t i = 0; i < n; i++) fclose(nc->runs[a + i].f);
        nc->runs[a] = out;
        memmove(&nc->runs[a + 1], &nc->runs[a + n], (nc->nruns - a - n) * sizeof *nc->runs);
        nc->nruns -= n - 1;
        out.f = NULL;
    }
out:
    if (out.f) fclose(out.f);
    free_srcs(s, s ? (int)n : 0);
    free(idx);
    return rc;
}

static int finish(netchange *nc)
{
    int rc = 0;
    nc->finished = 1;
    /* At most NC_FANIN - 1 runs + memory in the final merge. */
    while (!rc && nc->nruns > NC_FANIN - 1) {
        size_t n = nc->nruns - (NC_FANIN - 2) < NC_FANIN ? nc->nruns - (NC_FANIN - 2) : NC_FANIN;
        rc = merge_runs(nc, 0, n);
    }
    if (rc) return rc;
    nc->nsorted = nc->cap ? tab_sort(nc) : 0;
    nc->sorted = nc->tab;
    nc->tab = NULL;
    nc->cap = 0;
    nc->nsrc = (int)nc->nruns + 1;
    nc->srcs = calloc((size_t)nc->nsrc, sizeof *nc->srcs);
    nc->pending = malloc((size_t)nc->nsrc * sizeof *nc->pending);
    if (!nc->srcs || !nc->pending) return err_set(TM_ENOMEM, "out of memory");
    for (int i = 0; !rc && i < nc->nsrc; i++) {
        src *s = &nc->srcs[i];
        s->rec = (buf)BUF_INIT_MAX(NC_IMG_MAX + 1);
        if (i < (int)nc->nruns) {
            s->r = &nc->runs[i];
        } else {
            s->mem = nc->sorted;
            s->mem_n = nc->nsorted;
        }
        rc = src_next(s);
    }
    return rc;
}

int netchange_next(netchange *nc, netchange_entry *e)
{
    int rc = 0;
    if (!nc->finished && (rc = finish(nc))) return rc;
    for (;;) {
        for (int i = 0; i < nc->npending; i++)
            if ((rc = src_next(&nc->srcs[nc->pending[i]]))) return rc;
        nc->npending = pick_min(nc->srcs, nc->nsrc, nc->pending);
        int k = nc->npending;
        if (!k) return 0;
        src *o = &nc->srcs[nc->pending[0]], *w = &nc->srcs[nc->pending[k - 1]];
        if (!o->on && !w->nn) continue;   /* inserted and deleted inside the window */
        e->key = o->key;
        e->key_len = o->kn;
        e->old_img = o->on ? o->old : NULL;
        e->old_len = o->on;
        e->new_img = w->nn ? w->nw : NULL;
        e->new_len = w->nn;
        e->time_us = w->t;
        e->writes = 0;
        for (int i = 0; i < k; i++) e->writes += nc->srcs[nc->pending[i]].writes;
        nc->st.entries++;
        return 1;
    }
}

void netchange_get_stats(const netchange *nc, netchange_stats *out)
{
    *out = nc->st;
    out->mem_limit = nc->mem_limit;
}

void netchange_close(netchange *nc)
{
    if (!nc) return;
    if (nc->tab) free_entries(nc->tab, nc->cap);
    free(nc->tab);
    free_entries(nc->sorted, nc->nsorted);
    free(nc->sorted);
    for (size_t i = 0; i < nc->nruns; i++) fclose(nc->runs[i].f);
    free(nc->runs);
    free_srcs(nc->srcs, nc->nsrc);
    free(nc->pending);
    free(nc);
}

/* ================================================================================================
 * Reading the log
 * ============================================================================================== */

/* A hold (engine/hold.h) on seqs [from, to] of the table whose log is log_dir (<table>/log),
 * while they are read: retention deletes none of them meanwhile. */
static int hold_log(const char *log_dir, uint64_t from_seq, uint64_t to_seq, hold **h)
{
    char dir[PATH_MAX];
    *h = NULL;
    snprintf(dir, sizeof dir, "%s", log_dir);
    char *slash = strrchr(dir, '/');
    if (!slash || strcmp(slash, "/log")) return 0;
    *slash = '\0';
    int rc = hold_take(dir, "log-read", h);
    return rc ? rc : hold_narrow(*h, from_seq, to_seq, NULL);
}

static int read_log(netchange *nc, const char *log_dir, uint64_t from_seq, uint64_t to_seq,
                    int64_t from_us, int64_t to_us)
{
    log_reader *r = NULL;
    hold *h = NULL;
    int rc = hold_log(log_dir, from_seq, to_seq, &h);
    if (!rc) rc = log_reader_open(log_dir, from_seq, to_seq, LOG_FORWARD, &r);
    if (rc) {
        hold_release(h);
        return rc;
    }
    log_record rec;
    while ((rc = log_reader_next(r, &rec)) == 1) {
        if (rec.time_us >= to_us) {   /* times never go backwards: the window is over */
            rc = 0;
            break;
        }
        if (rec.time_us < from_us) continue;
        if ((rc = netchange_add(nc, &rec))) break;
    }
    log_reader_close(r);
    hold_release(h);
    return rc < 0 ? rc : 0;
}

int netchange_open_seq(const char *log_dir, uint64_t from_seq, uint64_t to_seq,
                       const netchange_options *opts, netchange **out)
{
    netchange *nc;
    int rc = netchange_new(opts, &nc);
    if (rc) return rc;
    nc->st.first_seq = from_seq;
    nc->st.last_seq = from_seq - 1;
    if (from_seq <= to_seq) rc = read_log(nc, log_dir, from_seq, to_seq, INT64_MIN, INT64_MAX);
    if (rc) {
        netchange_close(nc);
        return rc;
    }
    *out = nc;
    return 0;
}

int netchange_open(const char *log_dir, int64_t from_us, int64_t to_us,
                   const netchange_options *opts, netchange **out)
{
    *out = NULL;
    uint64_t before = 0;
    int rc = 0;
    if (to_us > from_us) {
        /* first = the first seq with time >= from. The end is found by reading: the first
         * record with time >= to stops the reader (one segment lookup fewer than asking
         * log_seq_at_time for it: what costs is decompressing segments). */
        if ((rc = log_seq_at_time(log_dir, from_us - 1, &before))) return rc;
    }
    netchange *nc;
    if ((rc = netchange_new(opts, &nc))) return rc;
    nc->st.first_seq = before + 1;
    nc->st.last_seq = before;
    if (to_us > from_us) rc = read_log(nc, log_dir, before + 1, UINT64_MAX, from_us, to_us);
    if (rc) {
        netchange_close(nc);
        return rc;
    }
    *out = nc;
    return 0;
}
