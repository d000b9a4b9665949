/* timeline.c: the activity timeline as a pure accumulator (see timeline.h for the rules):
 * widths, the streaming first pass (intervals, trailing rates, dense runs), bursts, and the
 * touch pass with its bounded sketches. */
#include "pitr/timeline.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/item.h"
#include "engine/key.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define TL_HLL_BITS 14
#define TL_HLL_M (1u << TL_HLL_BITS)

/* Space-Saving counters (Metwally et al.): a full table replaces its smallest counter. */
typedef struct tl_ss {
    struct { char name[PITR_TL_NAME_MAX + 1]; size_t len; uint64_t n; } slot[PITR_TL_SKETCH];
    size_t used;
    int evicted;
} tl_ss;

struct tl_state {
    /* pass 1 */
    pitr_tl_interval *all;            /* history intervals, then the shown ones */
    size_t nall, nhist, closed;       /* intervals [0, closed) are judged */
    size_t cur;                       /* the interval being filled (when open) */
    int open;
    int64_t gap_us;                   /* the run gap of the current interval */
    uint64_t dense_n;                 /* writes that make a run dense there */
    pitr_tl_edge run;                 /* the current run: its start; n below */
    uint64_t run_n, cum[3];
    int64_t last_us;                  /* the last write fed */
    int64_t rise_since;               /* the start of the bursts up to now; INT64_MAX: none */
    /* pass 2 */
    char hash[KEY_NAME_MAX + 1], range[KEY_NAME_MAX + 1];
    size_t burst;                     /* the burst being touched */
    int touching;
    uint64_t *set;                    /* partition-key hashes, open addressing, 0 = empty */
    size_t set_cap, set_n;
    int set_full;
    uint8_t hll[TL_HLL_M];
    tl_ss prefixes, attributes;
};

uint64_t pitr_tl_writes(const pitr_tl_interval *iv) { return iv->puts + iv->updates + iv->deletes; }

int pitr_tl_kind(const log_record *rec)
{
    return !rec->new_len ? LOG_OP_DELETE : rec->old_len ? LOG_OP_UPDATE : LOG_OP_PUT;
}

/* ================================================================ widths */

static const int32_t rungs_s[] = {1,    2,     3,     5,     10,    15,    20,     30,     60,     120,
                                  180,  300,   600,   900,   1200,  1800,  3600,   7200,   10800,  21600,
                                  43200, 86400, 172800, 345600, 604800, 1209600, 2419200};

static int64_t align_down(int64_t t, int64_t w) { return t - ((t % w) + w) % w; }

static uint64_t rows_of(int64_t from, int64_t to, int64_t w) { return (uint64_t)((to - align_down(from, w)) / w) + 1; }

pitr_tl_by pitr_tl_auto_width(int64_t from_us, int64_t to_us)
{
    size_t n = sizeof rungs_s / sizeof *rungs_s;
    for (size_t i = 0; i < n; i++)
        if (rows_of(from_us, to_us, rungs_s[i] * PITR_TL_SECOND) <= PITR_TL_AUTO_ROWS) return rungs_s[i] * PITR_TL_SECOND;
    return rungs_s[n - 1] * PITR_TL_SECOND;
}

int pitr_tl_parse_by(const char *s, pitr_tl_by *out)
{
    static const struct { const char *word; int64_t us; } words[] = {
        {"second", PITR_TL_SECOND}, {"minute", PITR_TL_MINUTE}, {"hour", PITR_TL_HOUR}, {"day", PITR_TL_DAY}};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (!strcmp(s, words[i].word)) return *out = words[i].us, 0;
    char *end;
    long n = strtol(s, &end, 10);
    const char *units = "smhd";
    static const int64_t unit_us[] = {PITR_TL_SECOND, PITR_TL_MINUTE, PITR_TL_HOUR, PITR_TL_DAY};
    const char *u = *end ? strchr(units, *end) : NULL;
    if (s[0] < '1' || s[0] > '9' || !u || end[1] || n > 366 * 86400 || n * unit_us[u - units] > 366 * PITR_TL_DAY)
        return err_set(TM_EINVAL, "'%s' is not a width: second, minute, hour, day, or a count with s, m, h or d "
                       "(10s, 5m, 2h; at most 366d)", s);
    *out = n * unit_us[u - units];
    return 0;
}

void pitr_tl_by_name(pitr_tl_by by, char *out, size_t n)
{
    int64_t s = by / PITR_TL_SECOND;
    if (s == 1) snprintf(out, n, "second");
    else if (s == 60) snprintf(out, n, "minute");
    else if (s == 3600) snprintf(out, n, "hour");
    else if (s == 86400) snprintf(out, n, "day");
    else if (s % 86400 == 0) snprintf(out, n, "%lldd", (long long)(s / 86400));
    else if (s % 3600 == 0) snprintf(out, n, "%lldh", (long long)(s / 3600));
    else if (s % 60 == 0) snprintf(out, n, "%lldm", (long long)(s / 60));
    else snprintf(out, n, "%llds", (long long)s);
}

/* ================================================================ first pass */

int pitr_timeline_new(int64_t from_us, int64_t to_us, pitr_tl_by by, pitr_timeline **out)
{
    *out = NULL;
    if (to_us < from_us) return err_set(TM_EINVAL, "--to is before --from");
    if (by == PITR_TL_AUTO) by = pitr_tl_auto_width(from_us, to_us);
    if (by <= 0 || by % PITR_TL_SECOND) return err_set(TM_EINVAL, "the width must be whole seconds");
    uint64_t n = rows_of(from_us, to_us, by);
    if (n > PITR_TL_MAX_INTERVALS)
        return err_set(TM_EINVAL, "the range holds too many intervals: narrow --from/--to or use a wider --by");
    pitr_timeline *tl = calloc(1, sizeof *tl);
    tl_state *st = tl ? calloc(1, sizeof *st) : NULL;
    size_t nall = (size_t)n + PITR_TL_TRAILING;
    if (!st || !(st->all = calloc(nall, sizeof *st->all))) {
        free(st);
        free(tl);
        return err_set(TM_ENOMEM, "out of memory");
    }
    tl->st = st;
    st->nall = nall;
    st->nhist = PITR_TL_TRAILING;
    st->rise_since = INT64_MAX;
    int64_t start = align_down(from_us, by) - PITR_TL_TRAILING * by;
    for (size_t i = 0; i < nall; i++) st->all[i].start_us = start + (int64_t)i * by;
    tl->from_us = from_us;
    tl->to_us = to_us;
    tl->history_us = start;
    tl->by = tl->width_us = by;
    tl->iv = st->all + st->nhist;
    tl->niv = (size_t)n;
    *out = tl;
    return 0;
}

static uint64_t threshold(uint64_t trailing)
{
    uint64_t t = trailing * PITR_TL_BURST_FACTOR;
    return t < PITR_TL_BURST_MIN ? PITR_TL_BURST_MIN : t;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The median of the non-empty, non-burst intervals among the PITR_TL_TRAILING before i (all
 * judged by now); when every one of them is a burst and the bursts have gone on for
 * PITR_TL_RISE_US, the rise is the new usual rate and their median is it (no endless burst). */
static uint64_t trailing(const tl_state *st, size_t i)
{
    /* rise_since is INT64_MAX without bursts: the difference stays negative */
    uint64_t v[PITR_TL_TRAILING], all[PITR_TL_TRAILING];
    size_t n = 0, na = 0;
    for (size_t k = i; k > 0 && i - k < PITR_TL_TRAILING; k--) {
        const pitr_tl_interval *b = &st->all[k - 1];
        if (!b->burst && pitr_tl_writes(b)) v[n++] = pitr_tl_writes(b);
        if (b->burst) all[na++] = pitr_tl_writes(b);
    }
    if (!n && na == PITR_TL_TRAILING && st->all[i].start_us - st->rise_since >= PITR_TL_RISE_US) {
        memcpy(v, all, sizeof v);
        n = na;
    }
    if (!n) return 0;
    qsort(v, n, sizeof *v, cmp_u64);
    return v[n / 2];
}

/* Judges the intervals before j (each against the ones judged before it). */
static void judge_upto(tl_state *st, size_t j)
{
    for (; st->closed < j; st->closed++) {
        pitr_tl_interval *b = &st->all[st->closed];
        b->trailing = trailing(st, st->closed);
        b->burst = pitr_tl_writes(b) >= threshold(b->trailing);
        if (!b->burst) st->rise_since = INT64_MAX;
        else if (st->rise_since == INT64_MAX) st->rise_since = b->start_us;
    }
}

/* Judges the intervals before j, then makes j the current one. */
static void enter(tl_state *st, pitr_timeline *tl, size_t j)
{
    judge_upto(st, j);
    uint64_t thr = threshold(st->all[j].trailing = trailing(st, j));
    st->gap_us = tl->width_us / (int64_t)thr / 4;
    if (st->gap_us > PITR_TL_SECOND) st->gap_us = PITR_TL_SECOND;
    if (st->gap_us < 1) st->gap_us = 1;
    st->dense_n = thr / 10 < 5 ? 5 : thr / 10;
    st->cur = j;
    st->open = 1;
}

/* The write at t (kind k) extends the current run or starts one; dense runs mark b (NULL: a
 * write before --from in the first shown interval, which only the runs see). */
static void run_add(tl_state *st, pitr_tl_interval *b, int64_t t, int k)
{
    pitr_tl_edge *r = &st->run;
    if (!st->run_n || t - st->last_us >= st->gap_us) {
        r->us = t;
        r->prev_us = st->last_us;
        memcpy(r->count, st->cum, sizeof r->count);
        st->run_n = 0;
    }
    st->run_n++;
    if (!b) {
        st->cum[k]++;
        st->last_us = t;
        return;
    }
    if (!b->first_us) {
        b->span_start = (pitr_tl_edge){t, st->last_us, 0, {st->cum[0], st->cum[1], st->cum[2]}};
        b->first_us = t;
    }
    st->cum[k]++;
    st->last_us = t;
    b->last_us = t;
    pitr_tl_edge end = {t, 0, r->us, {st->cum[0], st->cum[1], st->cum[2]}};
    b->span_end = end;
    if (st->run_n < st->dense_n) return;
    if (!b->has_dense) b->dense_start = *r;
    b->has_dense = 1;
    b->dense_end = end;
}

void pitr_timeline_add(pitr_timeline *tl, int64_t time_us, int op)
{
    tl_state *st = tl->st;
    if (time_us < tl->history_us || time_us > tl->to_us || time_us < st->last_us) return;
    size_t j = (size_t)((time_us - tl->history_us) / tl->width_us);
    if (!st->open || j != st->cur) enter(st, tl, j);
    pitr_tl_interval *b = &st->all[j];
    int k = op == LOG_OP_PUT ? 0 : op == LOG_OP_UPDATE ? 1 : 2;
    if (time_us < tl->from_us && j >= st->nhist) {
        run_add(st, NULL, time_us, k);
        return;
    }
    if (k == 0) b->puts++;
    else if (k == 1) b->updates++;
    else b->deletes++;
    run_add(st, b, time_us, k);
}

/* ================================================================ bursts */

/* Totals and the usual rate over the shown intervals. */
static int tl_totals(pitr_timeline *tl)
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
    free(nz);
    return 0;
}

static int push_burst(pitr_timeline *tl, const pitr_tl_edge *s, const pitr_tl_edge *e, uint64_t trail)
{
    if (e->us < tl->from_us) return 0;   /* all of it before the range: history only */
    pitr_tl_burst *nb = realloc(tl->bursts, (tl->nbursts + 1) * sizeof *nb);
    if (!nb) return err_set(TM_ENOMEM, "out of memory");
    tl->bursts = nb;
    pitr_tl_burst *x = &nb[tl->nbursts++];
    *x = (pitr_tl_burst){0};
    x->first_us = s->us;
    x->last_us = e->us;
    x->puts = e->count[0] - s->count[0];
    x->updates = e->count[1] - s->count[1];
    x->deletes = e->count[2] - s->count[2];
    x->writes = x->puts + x->updates + x->deletes;
    x->trailing = trail;
    x->last_before_us = s->prev_us;
    x->last_good_us = s->us - 1;
    int64_t sec = align_down(x->last_good_us, CLOCK_US_PER_SEC);
    x->has_good_second = s->prev_us <= sec;
    x->last_good_second_us = x->has_good_second ? sec : 0;
    return 0;
}

/* Burst intervals into bursts: dense parts less than PITR_TL_SPLIT_US apart join; a run that
 * goes on into the next intervals carries the end along. */
static int tl_bursts(pitr_timeline *tl)
{
    tl_state *st = tl->st;
    pitr_tl_edge s = {0}, e = {0};
    uint64_t trail = 0;
    int open = 0, rc;
    for (size_t i = 0; i < st->nall; i++) {
        const pitr_tl_interval *b = &st->all[i];
        if (!b->burst) {
            if (open && b->has_dense && b->dense_end.run_us == e.run_us) e = b->dense_end;
            continue;
        }
        const pitr_tl_edge *bs = b->has_dense ? &b->dense_start : &b->span_start;
        const pitr_tl_edge *be = b->has_dense ? &b->dense_end : &b->span_end;
        if (open && bs->us - e.us < PITR_TL_SPLIT_US) {
            if (be->us > e.us) e = *be;
            continue;
        }
        if (open && (rc = push_burst(tl, &s, &e, trail))) return rc;
        s = *bs;
        e = *be;
        trail = b->trailing;
        open = 1;
    }
    return open ? push_burst(tl, &s, &e, trail) : 0;
}

int pitr_timeline_finish(pitr_timeline *tl)
{
    tl_state *st = tl->st;
    size_t nonempty = 0;
    int rc;
    judge_upto(st, st->nall);
    for (size_t i = 0; i < st->nall; i++) nonempty += pitr_tl_writes(&st->all[i]) > 0;
    if (nonempty < 2)   /* one busy interval alone: nothing to compare it with */
        for (size_t i = 0; i < st->nall; i++) st->all[i].burst = 0;
    if ((rc = tl_totals(tl))) return rc;
    return tl_bursts(tl);
}

/* ================================================================ touch pass */

size_t pitr_tl_key_prefix(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0, lim = n < PITR_TL_PREFIX_MAX ? n : PITR_TL_PREFIX_MAX;
    while (k < lim && !strchr(":#|/", s[k])) k++;
    if (k < lim && s[k]) {
        k++;   /* the delimiter belongs to the prefix */
    } else {
        k = 0;
        while (k < lim && (s[k] < '0' || s[k] > '9')) k++;
        if (!k) k = lim < 4 ? lim : 4;
    }
    while (k < n && k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;   /* not inside a character */
    if (k >= cap) k = cap - 1;
    memcpy(out, s, k);
    out[k] = 0;
    return k;
}

static void ss_add(tl_ss *ss, const char *name, size_t len)
{
    if (len > PITR_TL_NAME_MAX) len = PITR_TL_NAME_MAX;
    size_t min = 0;
    for (size_t i = 0; i < ss->used; i++) {
        if (ss->slot[i].len == len && !memcmp(ss->slot[i].name, name, len)) {
            ss->slot[i].n++;
            return;
        }
        if (ss->slot[i].n < ss->slot[min].n) min = i;
    }
    uint64_t base = 0;
    size_t i = ss->used;
    if (ss->used < PITR_TL_SKETCH) {
        ss->used++;
    } else {   /* the smallest counter gives way; its count stays as the new name's error */
        i = min;
        base = ss->slot[min].n;
        ss->evicted = 1;
    }
    memcpy(ss->slot[i].name, name, len);
    ss->slot[i].name[len] = 0;
    ss->slot[i].len = len;
    ss->slot[i].n = base + 1;
}

static int top_cmp(const void *a, const void *b)
{
    const pitr_tl_top *x = a, *y = b;
    if (x->writes != y->writes) return x->writes < y->writes ? 1 : -1;
    return strcmp(x->name, y->name);
}

/* The PITR_TL_TOP largest counters, largest first. */
static size_t ss_top(const tl_ss *ss, pitr_tl_top *out)
{
    pitr_tl_top all[PITR_TL_SKETCH];
    for (size_t i = 0; i < ss->used; i++) {
        memcpy(all[i].name, ss->slot[i].name, sizeof all[i].name);
        all[i].writes = ss->slot[i].n;
    }
    qsort(all, ss->used, sizeof *all, top_cmp);
    size_t n = ss->used < PITR_TL_TOP ? ss->used : PITR_TL_TOP;
    memcpy(out, all, n * sizeof *out);
    return n;
}

static int set_grow(tl_state *st)
{
    size_t cap = st->set_cap ? st->set_cap * 2 : 1024;
    uint64_t *s = calloc(cap, sizeof *s);
    if (!s) return err_set(TM_ENOMEM, "out of memory");
    for (size_t i = 0; i < st->set_cap; i++)
        if (st->set[i]) {
            size_t k = st->set[i] & (cap - 1);
            while (s[k]) k = (k + 1) & (cap - 1);
            s[k] = st->set[i];
        }
    free(st->set);
    st->set = s;
    st->set_cap = cap;
    return 0;
}

/* Counts one partition-key hash: in the exact set while it holds fewer than
 * PITR_TL_EXACT_KEYS, and always in the HyperLogLog. */
static int keys_add(tl_state *st, uint64_t h)
{
    unsigned idx = (unsigned)(h >> (64 - TL_HLL_BITS));
    uint64_t rest = h << TL_HLL_BITS | (1ull << (TL_HLL_BITS - 1));   /* a stop bit bounds the rank */
    uint8_t rank = (uint8_t)(__builtin_clzll(rest) + 1);
    if (rank > st->hll[idx]) st->hll[idx] = rank;
    if (st->set_full) return 0;
    if (!h) h = 1;
    if (2 * (st->set_n + 1) > st->set_cap) {
        int rc;
        if (st->set_n >= PITR_TL_EXACT_KEYS) return st->set_full = 1, 0;
        if ((rc = set_grow(st))) return rc;
    }
    size_t k = h & (st->set_cap - 1);
    while (st->set[k] && st->set[k] != h) k = (k + 1) & (st->set_cap - 1);
    if (!st->set[k]) st->set[k] = h, st->set_n++;
    return 0;
}

static uint64_t hll_estimate(const uint8_t *reg)
{
    double m = TL_HLL_M, sum = 0;
    unsigned zeros = 0;
    for (unsigned i = 0; i < TL_HLL_M; i++) {
        sum += 1.0 / (double)(1ull << reg[i]);
        zeros += !reg[i];
    }
    double e = 0.7213 / (1 + 1.079 / m) * m * m / sum;
    if (e <= 2.5 * m && zeros) e = m * __builtin_log(m / zeros);   /* linear counting for small sets */
    return (uint64_t)(e + 0.5);
}

static void sketch_reset(tl_state *st)
{
    if (st->set) memset(st->set, 0, st->set_cap * sizeof *st->set);
    st->set_n = 0;
    st->set_full = 0;
    memset(st->hll, 0, sizeof st->hll);
    memset(&st->prefixes, 0, sizeof st->prefixes);
    memset(&st->attributes, 0, sizeof st->attributes);
}

static void sketch_store(tl_state *st, pitr_tl_burst *x)
{
    pitr_tl_touched *t = &x->touched;
    t->done = 1;
    t->partition_keys_exact = !st->set_full;
    t->partition_keys = st->set_full ? hll_estimate(st->hll) : st->set_n;
    t->nprefixes = ss_top(&st->prefixes, t->prefixes);
    t->prefixes_exact = !st->prefixes.evicted;
    t->nattributes = ss_top(&st->attributes, t->attributes);
    t->attributes_exact = !st->attributes.evicted;
}

int pitr_timeline_touch_begin(pitr_timeline *tl, const char *hash_name, const char *range_name)
{
    tl_state *st = tl->st;
    snprintf(st->hash, sizeof st->hash, "%s", hash_name);
    snprintf(st->range, sizeof st->range, "%s", range_name ? range_name : "");
    st->burst = 0;
    st->touching = 1;
    sketch_reset(st);
    return 0;
}

static int is_key(const tl_state *st, const char *name) { return !strcmp(name, st->hash) || !strcmp(name, st->range); }

static int name_cmp(const av_attr *a, const av_attr *b)
{
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(a->name, b->name, n);
    return c ? c : (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

/* Names whose value differs between the images (absent on one side counts), keys left out. */
static void touch_attributes(tl_state *st, const item *old, const item *new)
{
    uint32_t i = 0, j = 0, no = old ? item_count(old) : 0, nn = new ? item_count(new) : 0;
    while (i < no || j < nn) {
        const av_attr *a = i < no ? item_attr(old, i) : NULL, *b = j < nn ? item_attr(new, j) : NULL;
        int c = !a ? 1 : !b ? -1 : name_cmp(a, b);
        const av_attr *x = c <= 0 ? a : b;
        if ((c || !av_equal(&a->value, &b->value)) && !is_key(st, x->name)) ss_add(&st->attributes, x->name, x->name_len);
        i += c <= 0;
        j += c >= 0;
    }
}

/* The partition key: its hash into the key counts, its prefix into the prefix counts. */
static int touch_key(tl_state *st, const item *img)
{
    const av *pk = img ? item_get(img, st->hash) : NULL;
    char text[2 * 4 + 1], pre[PITR_TL_PREFIX_MAX + 1];
    if (!pk || (pk->type != AV_S && pk->type != AV_N && pk->type != AV_B)) return 0;
    if (pk->type == AV_B) {   /* bytes: the first 4 in hex */
        size_t n = 0;
        for (uint32_t i = 0; i < pk->len && i < 4; i++) n += (size_t)snprintf(text + n, sizeof text - n, "%02x", (unsigned char)pk->u.bytes[i]);
        ss_add(&st->prefixes, text, n);
    } else {
        ss_add(&st->prefixes, pre, pitr_tl_key_prefix(pk->u.bytes, pk->len, pre, sizeof pre));
    }
    return keys_add(st, XXH3_64bits_withSeed(pk->u.bytes, pk->len, (XXH64_hash_t)pk->type));   /* the type seeds it: "1" != 1 */
}

int pitr_timeline_touch(pitr_timeline *tl, const log_record *rec)
{
    tl_state *st = tl->st;
    item *old = NULL, *new = NULL;
    int rc = 0;
    while (st->burst < tl->nbursts && rec->time_us > tl->bursts[st->burst].last_us) {
        sketch_store(st, &tl->bursts[st->burst++]);
        sketch_reset(st);
    }
    if (st->burst >= tl->nbursts || rec->time_us < tl->bursts[st->burst].first_us) return 0;
    if ((rec->old_len && (rc = item_decode(rec->old_img, rec->old_len, &old))) ||
        (rec->new_len && (rc = item_decode(rec->new_img, rec->new_len, &new))))
        goto out;
    touch_attributes(st, old, new);
    rc = touch_key(st, new ? new : old);
out:
    item_free(old);
    item_free(new);
    return rc;
}

void pitr_timeline_touch_finish(pitr_timeline *tl)
{
    tl_state *st = tl->st;
    while (st->touching && st->burst < tl->nbursts) {
        sketch_store(st, &tl->bursts[st->burst++]);
        sketch_reset(st);
    }
    st->touching = 0;
}

void pitr_timeline_free(pitr_timeline *tl)
{
    if (!tl) return;
    if (tl->st) {
        free(tl->st->all);
        free(tl->st->set);
        free(tl->st);
    }
    free(tl->bursts);
    free(tl);
}
