/* hold.c: holds on a table's history, and on exports (see hold.h).
 *
 * PURPOSE: a reader (restore, export at a time, incremental export, rollback) says what it
 * reads, so that retention (table_retain, tidemark-lifecycle run) and export rules
 * (tidemark-lifecycle apply) never delete it meanwhile; a killed reader's hold expires.
 *
 * FILE NAMING: <table dir>/holds/<pid>-<n>.hold, n counting the holds of one process (decimal);
 * the lock is holds/.lock (flock, never written). Temp files (.hold.tmp.<pid>) are never read.
 * Exports in a local destination: <dir>/AWSDynamoDB/.holds/<ExportId>/holds/, same files and
 * lock (from 0, to UINT64_MAX, snap "*"); the ".holds" folder is no export (readers of a
 * destination skip folders without a manifest; ls hides it).
 *
 * RECORD: one text line, fields separated by one space, in this order:
 *   HOLD_MAGIC HOLD_VERSION "pid" <pid> "start" <start> "expires" <epoch s> "from" <seq>
 *   "to" <seq> "snap" <name|-|*> "what" <word> "\n"
 *   pid      the holder's process id (decimal)
 *   start    its start time, field 22 of /proc/<pid>/stat (0: unknown, the pid alone decides)
 *   expires  real time (never TIDEMARK_CLOCK), taken + HOLD_TTL_S
 *   from,to  the log seqs held, inclusive (0 .. 18446744073709551615: all)
 *   snap     the snapshot held: its name, "-" none, "*" every one
 *   what     who holds: restore, export, pitr-read, netchange, rollback, ...
 *
 * VALIDITY: a hold is live if and only if
 *   1. its line parses as above with this HOLD_VERSION, and
 *   2. expires is after now, and
 *   3. process pid exists and its start time equals start (a reused pid does not keep it).
 * A file that does not parse (rule 1) holds everything until its mtime + HOLD_TTL_S (a writer
 * killed mid-rename cannot leave one: files are replaced atomically; a newer version's file is
 * honoured the same way). A hold that is not live is removed by the next hold_list.
 *
 * CRASH SAFETY: written with fsx_write_atomic (temp, fsync, rename, fsync dir), taken under the
 * lock, so that a retention that decided before it finishes deleting first; a holder killed at
 * any point leaves either no file or a whole one, which expires with its pid.
 *
 * COMPATIBILITY: HOLD_VERSION changes when a field changes meaning or is added; an older
 * reader then treats the newer file as unparsable (holds everything until its TTL): safe. */
#include "engine/hold.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/table.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct hold {
    char path[PATH_MAX];
    char dir[PATH_MAX];
    hold_info info;
};

/* "tidemark-hold" names the file's kind in any listing; version 1 is the record above. */
#define HOLD_MAGIC "tidemark-hold"
#define HOLD_VERSION 1

static unsigned hold_counter;

/* Field 22 of /proc/<pid>/stat (start time in clock ticks); 0 if the process is gone. */
static unsigned long long proc_start(long pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char *p = strrchr(line, ')');   /* the command name may hold spaces */
    if (!p) return 0;
    unsigned long long v = 0;
    int field = 2;
    for (p++; *p && field < 22; p++)
        if (*p == ' ') field++;
    if (field == 22) v = strtoull(p, NULL, 10);
    return v;
}

static void holds_dir(const char *table_dir, char *out, size_t n)
{
    snprintf(out, n, "%s/holds", table_dir);
}

int hold_lock(const char *table_dir)
{
    char dir[PATH_MAX], path[PATH_MAX + 8];
    holds_dir(table_dir, dir, sizeof dir);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) return err_sys(TM_EIO, errno, "mkdir %s", dir);
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return err_sys(TM_EIO, errno, "open %s", path);
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return err_sys(TM_EIO, e, "lock %s", path);
        }
    return fd;
}

void hold_unlock(int fd)
{
    if (fd >= 0) close(fd);   /* closing releases the flock */
}

static int hold_write(hold *h)
{
    char line[256];
    const hold_info *i = &h->info;
    int n = snprintf(line, sizeof line, HOLD_MAGIC " %d pid %ld start %llu expires %" PRId64
                     " from %" PRIu64 " to %" PRIu64 " snap %s what %s\n", HOLD_VERSION, i->pid, i->start,
                     i->expires_s, i->from_seq, i->to_seq, i->snap[0] ? i->snap : "-", i->what);
    return fsx_write_atomic(h->path, line, (size_t)n);
}

int hold_take(const char *table_dir, const char *what, hold **out)
{
    *out = NULL;
    hold *h = calloc(1, sizeof *h);
    if (!h) return err_set(TM_ENOMEM, "out of memory");
    holds_dir(table_dir, h->dir, sizeof h->dir);
    hold_info *i = &h->info;
    i->pid = (long)getpid();
    i->start = proc_start(i->pid);
    i->expires_s = (int64_t)time(NULL) + HOLD_TTL_S;
    i->from_seq = 0;
    i->to_seq = UINT64_MAX;
    snprintf(i->snap, sizeof i->snap, "*");
    snprintf(i->what, sizeof i->what, "%s", what && *what ? what : "reader");
    snprintf(i->file, sizeof i->file, "%ld-%u.hold", i->pid, __atomic_fetch_add(&hold_counter, 1, __ATOMIC_RELAXED));
    snprintf(h->path, sizeof h->path, "%s/%s", h->dir, i->file);
    int fd = hold_lock(table_dir);   /* waits for a retention that is deleting */
    int rc = fd < 0 ? fd : hold_write(h);
    hold_unlock(fd);
    if (rc) {
        free(h);
        return rc;
    }
    *out = h;
    /* Testing: the reader lingers once it holds (lock released), so that a test can stop it
     * holding however fast the machine is. */
    const char *ms = getenv("TIDEMARK_TEST_HOLD_PAUSE_MS");
    if (ms && *ms) usleep((useconds_t)strtoul(ms, NULL, 10) * 1000);
    return 0;
}

int hold_narrow(hold *h, uint64_t from_seq, uint64_t to_seq, const char *snap)
{
    h->info.from_seq = from_seq;
    h->info.to_seq = to_seq;
    snprintf(h->info.snap, sizeof h->info.snap, "%s", snap ? snap : "");
    return hold_write(h);
}

void hold_release(hold *h)
{
    if (!h) return;
    unlink(h->path);
    free(h);
}

/* Parses one hold file; -1 if it does not parse. */
static int hold_parse(const char *text, hold_info *i)
{
    char snap[40], what[40];
    int64_t from, to;
    int version = 0;
    if (sscanf(text, HOLD_MAGIC " %d pid %ld start %llu expires %" SCNd64 " from %" SCNu64
               " to %" SCNu64 " snap %31s what %31s", &version, &i->pid, &i->start, &i->expires_s,
               (uint64_t *)&from, (uint64_t *)&to, snap, what) != 8 || version != HOLD_VERSION)
        return -1;
    i->from_seq = (uint64_t)from;
    i->to_seq = (uint64_t)to;
    snprintf(i->snap, sizeof i->snap, "%s", strcmp(snap, "-") ? snap : "");
    snprintf(i->what, sizeof i->what, "%s", what);
    return 0;
}

/* 1 if the holder is alive (same pid, same start time) and the hold has not expired. */
static int hold_live(const hold_info *i, int64_t now_s)
{
    if (i->expires_s <= now_s) return 0;
    if (kill((pid_t)i->pid, 0) < 0 && errno == ESRCH) return 0;
    unsigned long long st = proc_start(i->pid);
    return st && (!i->start || st == i->start);
}

/* One entry of holds/: appended to *out when live, removed when expired. */
static int hold_read_one(const char *dir, const char *name, int64_t now_s, hold_info **out,
                         size_t *n, size_t *cap)
{
    char path[PATH_MAX];
    struct stat st;
    buf b = BUF_INIT;
    hold_info i;
    memset(&i, 0, sizeof i);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (fsx_read_file(path, 4096, &b) || stat(path, &st) < 0) {
        buf_free(&b);
        return 0;   /* released meanwhile */
    }
    if (hold_parse(b.data ? b.data : "", &i) < 0) {
        /* Unreadable: holds everything until old enough to be a leftover. */
        i.pid = 0;
        i.expires_s = (int64_t)st.st_mtime + HOLD_TTL_S;
        i.to_seq = UINT64_MAX;
        snprintf(i.snap, sizeof i.snap, "*");
        snprintf(i.what, sizeof i.what, "unknown");
        if (i.expires_s <= now_s) i.expires_s = 0;
    }
    buf_free(&b);
    snprintf(i.file, sizeof i.file, "%s", name);
    if (i.pid ? !hold_live(&i, now_s) : i.expires_s == 0) {
        unlink(path);
        return 0;
    }
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        hold_info *p = realloc(*out, nc * sizeof *p);
        if (!p) return err_set(TM_ENOMEM, "out of memory");
        *out = p;
        *cap = nc;
    }
    (*out)[(*n)++] = i;
    return 0;
}

int hold_list(const char *table_dir, hold_info **out, size_t *n)
{
    char dir[PATH_MAX];
    size_t cap = 0;
    int rc = 0;
    *out = NULL;
    *n = 0;
    holds_dir(table_dir, dir, sizeof dir);
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : err_sys(TM_EIO, errno, "opendir %s", dir);
    int64_t now_s = (int64_t)time(NULL);
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".hold")) continue;
        rc = hold_read_one(dir, e->d_name, now_s, out, n, &cap);
    }
    closedir(d);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int hold_covers_seqs(const hold_info *h, size_t n, uint64_t first, uint64_t last)
{
    for (size_t i = 0; i < n; i++)
        if (h[i].from_seq <= last && first <= h[i].to_seq) return 1;
    return 0;
}

int hold_covers_snap(const hold_info *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(h[i].snap, "*") || !strcmp(h[i].snap, name)) return 1;
    return 0;
}

size_t hold_filter(const hold_info *h, size_t n, const log_segment *segs, size_t nsegs,
                   unsigned char *drop_segs, const snap_info *snaps, size_t nsnaps,
                   unsigned char *drop_snaps)
{
    size_t kept = 0;
    int held = 0;
    for (size_t i = 0; i < nsegs; i++) {
        if (!held && hold_covers_seqs(h, n, segs[i].first_seq, segs[i].last_seq)) held = 1;
        if (held && drop_segs[i]) {
            drop_segs[i] = 0;
            kept++;
        }
    }
    for (size_t i = 0; i < nsnaps; i++)
        if (drop_snaps[i] && hold_covers_snap(h, n, snaps[i].name)) {
            drop_snaps[i] = 0;
            kept++;
        }
    return kept;
}

/* ================================================================ exports ==== */

#define EXPORT_HOLDS ".holds"
#define AWS_DIR "AWSDynamoDB"
#define BUNDLE_SUFFIX ".tar.zst"

int hold_export_dir(const char *awsdir, const char *id, int create, char *out, size_t n)
{
    if ((size_t)snprintf(out, n, "%s/%s/%s", awsdir, EXPORT_HOLDS, id) >= n)
        return err_set(TM_EINVAL, "path too long: %s", awsdir);
    return create ? fsx_mkdirs(out, 0755) : 0;
}

int hold_take_export(const char *path, const char *what, hold **out)
{
    char p[PATH_MAX], dir[PATH_MAX];
    *out = NULL;
    if (!strncmp(path, "s3://", 5) || strlen(path) + sizeof BUNDLE_SUFFIX >= sizeof p) return 0;
    snprintf(p, sizeof p, "%s", path);
    size_t n = strlen(p), bl = strlen(BUNDLE_SUFFIX);
    while (n > 1 && p[n - 1] == '/') p[--n] = '\0';
    /* a folder path whose export was bundled reads the bundle (layout_bundle_find): held too */
    if (!fsx_exists(p)) {
        snprintf(dir, sizeof dir, "%s%s", p, BUNDLE_SUFFIX);
        if (!fsx_exists(dir)) return 0;
    }
    if (n > bl && !strcmp(p + n - bl, BUNDLE_SUFFIX)) p[n - bl] = '\0';
    char *slash = strrchr(p, '/');
    const char *id = slash ? slash + 1 : p;
    if (slash) *slash = '\0';
    const char *parent = slash ? (p[0] ? p : "/") : ".";
    const char *pb = strrchr(parent, '/');
    pb = pb ? pb + 1 : parent;
    if (!*id || strcmp(pb, AWS_DIR)) return 0;   /* not <dir>/AWSDynamoDB/<id>: nothing to hold */
    int rc = hold_export_dir(parent, id, 1, dir, sizeof dir);
    return rc ? rc : hold_take(dir, what, out);
}
