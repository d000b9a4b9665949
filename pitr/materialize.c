/* materialize.c: builds a table's state at a time T as a table: gathers the planner's input
 * from the source table, makes the plan (plan.c) and executes it with a table_builder.
 *
 * Consistency while the source takes writes: the live seed is one LMDB read transaction (a
 * consistent copy at some seq L' >= the L the plan saw), and only log records <= L' are read.
 * Snapshot seeds carry their own seq, checked against the plan. The records between seed and
 * target are applied as their net change in key order (apply_net), after checking that every
 * one of them was read, so a gap can never pass silently.
 *
 * Trust in snapshots: only checksummed ones are planned with (gather); each is verified while
 * its copy is made (table_builder_seed_file). A damaged one is named on stderr (opts->warn) and
 * the plan made again without it: forward from an older seed, or backward from a newer one or
 * the live table. When none is left, the refusal names the damaged file. */
#include "pitr/materialize.h"
#include "pitr/netchange.h"
#include "engine/progress.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/hold.h"
#include "engine/log.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define PROGRESS_EVERY 4096   /* records between progress updates */

/* ================================================================ gathering ==== */

typedef struct gathered {
    table *src;
    table_info info;
    snap_info *snaps;
    size_t nsnaps;
    unsigned char *skip;         /* per snapshot: 1 = may not seed (pitr_input.snap_skip) */
    size_t untrusted;            /* snapshots without a checksum */
    char untrusted_name[32];     /* the newest of them */
    log_segment *segs;
    size_t nsegs;
    char newest[64];             /* pitr_input.newest_seg */
    pitr_input in;
} gathered;

static void gathered_free(gathered *g)
{
    table_close(g->src);
    free(g->snaps);
    free(g->skip);
    free(g->segs);
    memset(g, 0, sizeof *g);
}

/* S_T: the last seq with time <= T. The log answers for the records it still holds; a snapshot
 * or the live position at or before T is a lower bound that holds even when older segments are
 * gone (retention), since seqs and times rise together. */
static int target_seq(gathered *g, int64_t t_us, uint64_t *out)
{
    uint64_t s = 0;
    int rc = log_seq_at_time(table_log_dir(g->src), t_us, &s);
    if (rc) return err_wrap(rc, "log of table %s: ", g->info.name);
    for (size_t i = 0; i < g->nsnaps; i++)
        if (!g->skip[i] && g->snaps[i].time_us <= t_us && g->snaps[i].seq > s) s = g->snaps[i].seq;
    if (g->info.last_write_us && g->info.last_write_us <= t_us && g->info.applied_seq > s)
        s = g->info.applied_seq;
    /* s is exact when record s+1 is known to be later than T: present in the log (the lookup
     * saw it or its segment starts after T), a snapshot's seq, or past the live position.
     * Otherwise records after s are missing and any of them may be <= T. */
    uint64_t hi = g->info.applied_seq + 1;     /* first seq known to be later than T */
    if (g->info.last_write_us <= t_us) hi = UINT64_MAX;
    size_t after = 0;                          /* index+1 of the first segment past s */
    for (size_t i = 0; i < g->nsegs; i++) {
        const log_segment *e = &g->segs[i];
        if (e->first_seq <= s + 1 && s + 1 <= e->last_seq) { *out = s; return 0; }
        if (e->first_seq > s && e->first_seq < hi) {
            hi = e->first_seq;
            if (!after) after = i + 1;
        }
    }
    for (size_t i = 0; i < g->nsnaps; i++)
        if (!g->skip[i] && g->snaps[i].time_us > t_us && g->snaps[i].seq > s && g->snaps[i].seq < hi)
            hi = g->snaps[i].seq;
    if (hi == UINT64_MAX || hi <= s + 1) {
        *out = s;
        return 0;
    }
    char t[40];
    clock_format(t_us, 6, t, sizeof t);
    return err_set(TM_EMISSING, "log records %" PRIu64 "..%" PRIu64 " of table %s are missing%s%s%s: "
                   "cannot tell which of them were written by %s", s + 1, hi - 1, g->info.name,
                   after ? " (before segment " : "", after ? g->segs[after - 1].name : "",
                   after ? ")" : "", t);
}

/* 1 if the snapshot named s is in skip (names found damaged in this run, 32 bytes each). */
static int skipped(const buf *skip, const char *s)
{
    for (size_t i = 0; skip && i + 32 <= skip->len; i += 32)
        if (!strcmp(skip->data + i, s)) return 1;
    return 0;
}

/* Flags the snapshots that may not seed: without a checksum (never trusted) or found damaged
 * earlier in this run. */
static int flag_snaps(gathered *g, const buf *skip)
{
    if (g->nsnaps && !(g->skip = calloc(g->nsnaps, 1))) return err_set(TM_ENOMEM, "out of memory");
    for (size_t i = 0; i < g->nsnaps; i++) {
        const snap_info *s = &g->snaps[i];
        if (!snap_verifiable(s)) {
            g->skip[i] = 1;
            g->untrusted++;
            snprintf(g->untrusted_name, sizeof g->untrusted_name, "%s", s->name);
        } else if (skipped(skip, s->name)) {
            g->skip[i] = 1;
        }
    }
    return 0;
}

/* Order matters: the window and the live position are read before the segment list, so the
 * listed log reaches at least the live seq (records are durable in the log before LMDB). */
static int gather(const char *home, const char *name, int64_t t_us, const buf *skip, gathered *g)
{
    char path[PATH_MAX];
    struct stat st;
    int rc;
    memset(g, 0, sizeof *g);
    pitr_input init = PITR_INPUT_INIT;
    g->in = init;
    if ((rc = table_open(home, name, TABLE_RDONLY, &g->src))) goto out;
    int64_t earliest, latest;
    if ((rc = table_pitr_window(g->src, &earliest, &latest))) goto out;
    if ((rc = table_describe(g->src, &g->info))) goto out;
    if (t_us == PITR_LATEST) t_us = latest;
    snprintf(path, sizeof path, "%s/items/data.mdb", table_dir(g->src));
    if ((rc = snap_list(table_dir(g->src), &g->snaps, &g->nsnaps))) goto out;
    if ((rc = flag_snaps(g, skip))) goto out;
    if ((rc = log_list(table_log_dir(g->src), &g->segs, &g->nsegs))) goto out;
    uint64_t end;
    if (log_end(table_log_dir(g->src), &end, g->newest, sizeof g->newest) == 0) g->in.newest_seg = g->newest;
    g->in.t_us = t_us;
    g->in.earliest_us = earliest;
    g->in.latest_us = latest;
    g->in.snaps = g->snaps;
    g->in.nsnaps = g->nsnaps;
    g->in.snap_skip = g->skip;
    g->in.segs = g->segs;
    g->in.nsegs = g->nsegs;
    g->in.has_live = 1;
    g->in.live_seq = g->info.applied_seq;
    g->in.live_time = g->info.last_write_us;
    /* Bytes the copy writes: the live file is sparse past its used pages (LMDB's WRITEMAP
     * sizes it to the map), so its allocated size, not its length, is what a copy costs. */
    if (stat(path, &st) == 0) {
        uint64_t alloc = (uint64_t)st.st_blocks * 512;
        g->in.live_bytes = alloc < (uint64_t)st.st_size ? alloc : (uint64_t)st.st_size;
    } else {
        g->in.live_bytes = g->info.size_bytes;
    }
    /* Outside the window the planner says so; S_T is not needed (nor perhaps knowable). */
    if (t_us >= earliest && t_us <= latest && (rc = target_seq(g, t_us, &g->in.target_seq)))
        goto out;
    if (g->in.target_seq > g->in.live_seq) g->in.target_seq = g->in.live_seq;
out:
    if (rc) gathered_free(g);
    return rc;
}

/* The plan; when none is complete, the refusal also says which snapshots were left out. */
static int plan(const gathered *g, pitr_dir direction, pitr_plan **out)
{
    int rc = pitr_plan_make(&g->in, direction, out);
    if (rc == TM_EMISSING && g->untrusted)
        err_wrap(rc, "%zu snapshot%s of table %s (the newest %s) %s no checksum (written by an "
                 "older tidemark) and %s not trusted; ", g->untrusted, g->untrusted == 1 ? "" : "s",
                 g->info.name, g->untrusted_name, g->untrusted == 1 ? "has" : "have",
                 g->untrusted == 1 ? "is" : "are");
    return rc;
}

int pitr_plan_table(const char *home, const char *name, int64_t t_us, pitr_dir direction,
                    pitr_plan **out)
{
    gathered g;
    *out = NULL;
    int rc = gather(home, name, t_us, NULL, &g);
    if (rc) return rc;
    rc = plan(&g, direction, out);
    gathered_free(&g);
    return rc;
}

/* ================================================================ execution ==== */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The log between the seed and the target is applied as its net change (netchange.c), in key
 * order: forward, each key's last new image (the item at T); backward, its first old image (the
 * item as it was at T). A missing image: the key did not exist then, delete. Key order touches
 * each page once and in file order, and with a snapshot seed the grouping runs while the seed
 * is copied. The netchange's counts prove that every record from..to was read: seqs arrive
 * strictly ascending, so the count and both ends together leave no room for a gap. */
static int net_open(const char *log_dir, uint64_t from, uint64_t to, const char *tmp, netchange **out)
{
    netchange_options no = NETCHANGE_OPTIONS_INIT;
    netchange_stats ns;
    no.tmp_dir = tmp;
    int rc = netchange_open_seq(log_dir, from, to, &no, out);
    if (rc) return rc;
    netchange_get_stats(*out, &ns);
    if (ns.records == to - from + 1 && ns.first_seq == from && ns.last_seq == to) return 0;
    netchange_close(*out);
    *out = NULL;
    if (!ns.records)
        return err_set(TM_EMISSING, "log %s: records %" PRIu64 "..%" PRIu64 " are missing", log_dir,
                       from, to);
    return err_set(TM_EMISSING, "log %s: %" PRIu64 " of records %" PRIu64 "..%" PRIu64 " are "
                   "missing (read %" PRIu64 "..%" PRIu64 ")", log_dir, to - from + 1 - ns.records,
                   from, to, ns.first_seq, ns.last_seq);
}

/* One entry of the net change as the apply uses it: the image for the direction (in 0: the key
 * did not exist then, delete) with its item size, and the records and bytes it stands for. */
typedef struct net_ent {
    const void *key, *img;
    uint32_t kn, in, size;
    uint64_t writes, bytes;
} net_ent;

/* 1: *x holds the next entry (pointers valid until the next call); 0: end; <0 error. */
static int net_take(netchange *nc, pitr_dir dir, net_ent *x)
{
    netchange_entry e;
    int rc = netchange_next(nc, &e);
    if (rc != 1) return rc;
    int bwd = dir == PITR_BACKWARD;
    x->key = e.key;
    x->kn = (uint32_t)e.key_len;
    x->img = bwd ? e.old_img : e.new_img;
    x->in = (uint32_t)(bwd ? e.old_len : e.new_len);
    x->size = 0;
    x->writes = e.writes;
    x->bytes = e.key_len + e.old_len + e.new_len;
    if (x->in && (rc = item_encoded_size(x->img, x->in, &x->size))) return rc;
    return 1;
}

/* Entries taken out ahead of the apply (net_take, with the size decode): the prefetch thread
 * does this while the seed is copied, so the apply after the copy only writes (taking entries
 * and decoding had been half of its time). Up to the net change's own memory bound; the apply
 * takes the rest itself. ents holds net_ent records whose key and img are offsets into mem. */
typedef struct staged {
    buf mem, ents;
} staged;

#define STAGED_INIT {BUF_INIT, BUF_INIT}

static void staged_free(staged *sg)
{
    buf_free(&sg->mem);
    buf_free(&sg->ents);
}

static int stage(netchange *nc, pitr_dir dir, staged *sg)
{
    netchange_stats ns;
    net_ent x;
    int rc = 0;
    netchange_get_stats(nc, &ns);
    while (sg->mem.len < ns.mem_limit && (rc = net_take(nc, dir, &x)) == 1) {
        const void *k = x.key, *img = x.img;
        x.key = (const void *)(uintptr_t)sg->mem.len;
        x.img = (const void *)(uintptr_t)(sg->mem.len + x.kn);
        if ((rc = buf_append(&sg->mem, k, x.kn)) || (rc = buf_append(&sg->mem, img, x.in)) ||
            (rc = buf_append(&sg->ents, &x, sizeof x)))
            return rc;
    }
    return rc < 0 ? rc : 0;
}

/* The staged entries, then the rest of the net change. */
static int apply_net(table_builder *b, netchange *nc, const staged *sg, pitr_dir dir,
                     progress *prog, pitr_stats *st)
{
    const net_ent *v = (const net_ent *)sg->ents.data;
    size_t n = sg->ents.len / sizeof *v, i = 0;
    netchange_stats ns;
    net_ent x;
    uint64_t pn = 0, pb = 0;
    int rc;
    for (;;) {
        if (i < n) {
            x = v[i++];
            x.key = sg->mem.data + (uintptr_t)x.key;
            x.img = sg->mem.data + (uintptr_t)x.img;
        } else if ((rc = net_take(nc, dir, &x)) != 1) {
            break;
        }
        rc = x.in ? table_builder_put_bin_sized(b, x.key, x.kn, x.img, x.in, x.size)
                  : table_builder_delete_bin(b, x.key, x.kn);
        if (rc) break;
        pn += x.writes;
        pb += x.bytes;
        if (pn >= PROGRESS_EVERY) {
            progress_add(prog, pn, pb);
            pn = pb = 0;
        }
    }
    progress_add(prog, pn, pb);
    netchange_get_stats(nc, &ns);
    if (st) {
        st->records += ns.records;
        st->log_bytes += ns.approx_bytes;
    }
    return rc < 0 ? rc : 0;
}

/* With a snapshot seed (forward) the range is known before the copy: a thread reads, groups and
 * stages it while the copy runs (the copy is mostly the kernel's work, on one core). */
typedef struct prefetch {
    const char *dir, *tmp;
    uint64_t from, to;
    netchange *nc;
    staged sg;
    int rc;
    char err[512];
} prefetch;

static void *prefetch_run(void *arg)
{
    prefetch *f = arg;
    f->rc = net_open(f->dir, f->from, f->to, f->tmp, &f->nc);
    if (!f->rc) f->rc = stage(f->nc, PITR_FORWARD, &f->sg);
    if (f->rc) snprintf(f->err, sizeof f->err, "%s", err_msg());
    return NULL;
}

static void warn(const pitr_opts *o, const char *line)
{
    if (o->warn) o->warn(o->warn_ctx, line);
    else fprintf(stderr, "%s: %s\n", program_invocation_short_name, line);
}

/* Executes plan p: target NULL builds a hidden temporary table whose directory goes to dir.
 * *bad_snap: set when the snapshot seed turned out damaged (the error says how). */
static int execute(const char *home, gathered *g, const pitr_plan *p, const char *target,
                   const pitr_opts *o, table_info *info, pitr_stats *st, char *dir, size_t dirn,
                   int *bad_snap)
{
    table_builder *b = NULL;
    char path[PATH_MAX];
    uint64_t seed_seq = 0;
    int64_t seed_time = 0;
    prefetch pf = {.sg = STAGED_INIT};
    pthread_t th;
    int started = 0;
    int rc = table_builder_open(home, target, &g->info.ks, &b);
    if (rc) goto out;
    if (dir) snprintf(dir, dirn, "%s", table_builder_dir(b));
    table_builder_expect_changes(b, p->records);
    if (p->seed == PITR_SEED_SNAPSHOT) {
        progress_phase(o->prog, "seed copy (snapshot)");
        snap_data_path(table_dir(g->src), p->snap.name, path, sizeof path);
        if (p->direction == PITR_FORWARD && p->snap.seq < p->target_seq) {
            pf.dir = table_log_dir(g->src);
            pf.tmp = table_builder_dir(b);
            pf.from = p->snap.seq + 1;
            pf.to = p->target_seq;
            started = pthread_create(&th, NULL, prefetch_run, &pf) == 0;
        }
        rc = table_builder_seed_file(b, path, &p->snap, &seed_seq);
        if (started) pthread_join(th, NULL);
        if (rc == TM_ECORRUPT) { /* the snapshot's own damage, found before anything was used */
            *bad_snap = 1;
            goto out;
        }
        if (rc) {
            if (rc == TM_EMISSING || !fsx_exists(path))
                rc = err_set(TM_EMISSING, "snapshot %s of table %s is gone (%s)", p->snap.name,
                             g->info.name, err_msg());
            goto out;
        }
        if (pf.rc) { /* the log's error, named as the reader gave it (missing or corrupt) */
            rc = err_set(pf.rc, "%s", pf.err);
            goto out;
        }
        if (seed_seq != p->snap.seq) {
            rc = err_set(TM_ECORRUPT, "%s holds seq %" PRIu64 ", its name says %" PRIu64, path,
                         seed_seq, p->snap.seq);
            *bad_snap = 1;
            goto out;
        }
    } else if (p->seed == PITR_SEED_LIVE) {
        progress_phase(o->prog, "seed copy (live table)");
        if ((rc = table_builder_seed_table(b, g->src, &seed_seq, &seed_time))) goto out;
        if (seed_seq < p->target_seq) {
            rc = err_set(TM_EIO, "live copy of table %s is at seq %" PRIu64 ", before the "
                         "target seq %" PRIu64, g->info.name, seed_seq, p->target_seq);
            goto out;
        }
    }
    if (st) st->seed_seq = seed_seq;
    uint64_t from, to;
    if (p->direction == PITR_FORWARD) {
        from = seed_seq + 1;
        to = p->target_seq;
    } else {
        from = p->target_seq + 1;
        to = seed_seq;
    }
    if (from <= to) {
        netchange *nc = pf.nc;
        pf.nc = NULL;
        if (!nc && (rc = net_open(table_log_dir(g->src), from, to, table_builder_dir(b), &nc)))
            goto out;
        progress_phase(o->prog, p->direction == PITR_FORWARD ? "replay" : "undo");
        rc = apply_net(b, nc, &pf.sg, p->direction, o->prog, st);
        netchange_close(nc);
        if (rc) goto out;
    }
    /* The source's settings (PITR stays off, as AWS restores), in the table as it appears. */
    if (target && o->copy_settings &&
        (rc = table_builder_set_settings(b, g->info.durability, g->info.snapshot_every_s,
                                         g->info.snapshot_every_writes)))
        goto out;
    table_info ni;
    rc = table_builder_commit(b, &ni);
    b = NULL;
    if (rc) goto out;
    if (st) {
        st->item_count = ni.item_count;
        st->size_bytes = ni.size_bytes;
    }
    if (info) *info = ni;
out:
    netchange_close(pf.nc);
    staged_free(&pf.sg);
    table_builder_abort(b);
    return rc;
}

/* A hold on the whole history of table name (a missing table: none; gather says so). */
static int hold_take_table(const char *home, const char *name, hold **h)
{
    char dir[PATH_MAX];
    *h = NULL;
    table_path(home, name, NULL, dir, sizeof dir);
    if (!fsx_exists(dir)) return 0;
    return hold_take(dir, "pitr-read", h);
}

/* Narrows h to what p reads: its snapshot seed, and its log records (a backward plan from the
 * live table may read past its planned seed: up to the log's end). */
static int hold_plan(hold *h, const pitr_plan *p)
{
    if (!h) return 0;
    uint64_t from = p->from_seq, to = p->to_seq;
    if (p->direction == PITR_BACKWARD && p->seed == PITR_SEED_LIVE) to = UINT64_MAX;
    if (p->records == 0 && to != UINT64_MAX) from = UINT64_MAX, to = 0;   /* no record */
    return hold_narrow(h, from, to, p->seed == PITR_SEED_SNAPSHOT ? p->snap.name : NULL);
}

static int materialize(const char *home, const char *source, int64_t t_us, const char *target,
                       const pitr_opts *opts, table_info *info, pitr_stats *st, char *dir,
                       size_t dirn)
{
    pitr_opts def = PITR_OPTS_INIT;
    pitr_stats local;
    double t0 = mono_s();
    int rc = 0;
    if (!opts) opts = &def;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    if (target) {
        char final[PATH_MAX];
        if ((rc = table_check_name(target))) return rc;
        table_path(home, target, NULL, final, sizeof final);
        if (fsx_exists(final)) return err_set(TM_EEXIST, "table %s already exists", target);
    }
    /* A segment or snapshot may vanish between planning and reading (retention): plan again
     * once; a second failure, or a time that left the window meanwhile, is reported. A damaged
     * snapshot: plan again without it, as often as one is found (each is left out once found). */
    buf skip = BUF_INIT, damage = BUF_INIT;   /* their names (32 bytes each); what was wrong */
    int vanished = 0;
    for (;;) {
        gathered g;
        pitr_plan *p = NULL;
        char name[32];
        int bad = 0;
        hold *h = NULL;
        /* Hold the whole history before planning (engine/hold.h), then only what the plan
         * reads: retention (lifecycle, the engine's) deletes none of it meanwhile. */
        if ((rc = hold_take_table(home, source, &h)) == 0 &&
            (rc = gather(home, source, t_us, &skip, &g)) == 0 &&
            (rc = plan(&g, opts->direction, &p)))
            gathered_free(&g);
        if (!rc) rc = hold_plan(h, p);
        if (rc && p) {
            pitr_plan_free(p);
            gathered_free(&g);
        }
        if (rc) { /* without the damaged snapshots: S_T unknown, or no complete plan */
            hold_release(h);
            if (damage.len) rc = err_wrap(TM_ECORRUPT, "%s; no other plan is left: ", damage.data);
            break;
        }
        st->t_us = p->t_us;
        st->target_seq = p->target_seq;
        st->direction = p->direction;
        st->seed = p->seed;
        st->records = st->log_bytes = 0;
        if (opts->prog) progress_set_total(opts->prog, p->records);
        snprintf(name, sizeof name, "%s", p->snap.name);
        rc = execute(home, &g, p, target, opts, info, st, dir, dirn, &bad);
        hold_release(h);
        pitr_plan_free(p);
        gathered_free(&g);
        if (bad) {
            char line[1200];
            snprintf(line, sizeof line, "snapshot %s of table %s is damaged and was skipped (%s); "
                     "planning again without it", name, source, err_msg());
            warn(opts, line);
            st->snaps_skipped++;
            if ((rc = buf_append(&skip, name, sizeof name)) ||
                (rc = buf_printf(&damage, "%s%s", damage.len ? "; " : "", err_msg())))
                break;
            continue;
        }
        if ((rc == TM_EMISSING || rc == TM_ENOTFOUND) && !vanished++) continue;
        break;
    }
    buf_free(&skip);
    buf_free(&damage);
    st->seconds = mono_s() - t0;
    return rc;
}

/* ================================================================ public ==== */

int pitr_materialize(const char *home, const char *source, int64_t t_us, const char *target,
                     const pitr_opts *opts, table_info *info, pitr_stats *st)
{
    if (!target) return err_set(TM_EINVAL, "restore: a target table name is required");
    return materialize(home, source, t_us, target, opts, info, st, NULL, 0);
}

int pitr_materialize_temp_ex(const char *home, const char *source, int64_t t_us,
                             const pitr_opts *opts, table **out, char *dir, size_t dirn,
                             pitr_stats *st)
{
    char tdir[PATH_MAX] = "";
    *out = NULL;
    if (dir && dirn) dir[0] = '\0';
    int rc = materialize(home, source, t_us, NULL, opts, NULL, st, tdir, sizeof tdir);
    if (rc) return rc;
    if ((rc = table_open_dir(tdir, TABLE_RDONLY, out))) {
        fsx_rmtree(tdir);
        return rc;
    }
    if (dir && dirn) snprintf(dir, dirn, "%s", tdir);
    return 0;
}

int pitr_materialize_temp(const char *home, const char *source, int64_t t_us, table **out,
                          char *dir, size_t dirn)
{
    return pitr_materialize_temp_ex(home, source, t_us, NULL, out, dir, dirn, NULL);
}

void pitr_temp_drop(table *t, const char *dir)
{
    table_close(t);
    if (dir && *dir) fsx_rmtree(dir);
}
