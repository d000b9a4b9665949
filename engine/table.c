/* table.c: tables and their items: catalog, the LMDB item store, the write path, consistent
 * reads, snapshots, PITR settings and retention, and staging builders (see table.h).
 *
 * ITEMS ENVIRONMENT (tables/<name>/items/, LMDB, one per table)
 *   named db "items":  key = encoded key (key.h)
 *                      value = u32le DynamoDB item size | canonical binary item (item.h)
 *                      (the size prefix keeps TableSizeBytes exact without decoding old images)
 *   named db "meta":   "applied_seq" u64le  last log seq applied to the items
 *                      "last_time"   i64le  time of that write (µs)
 *                      "bytes"       u64le  sum of item sizes
 *   Opened with MDB_NOMETASYNC: data pages are flushed at commit, the meta page is not, so a
 *   system crash may undo the last commits but never corrupts; the change log, made durable
 *   before each commit, replays them (recovery in txn_begin).
 *   Live tables use MDB_WRITEMAP: pages are changed in the shared map instead of being copied
 *   into private memory and written with pwrite (about a third of a bulk load's time otherwise).
 *   So do builders seeded from a copy (see warm_start); a builder's file is cut to its used
 *   pages at commit.
 *   With it LMDB sizes the file to the map, so the map starts small and grows before a write
 *   transaction when the free room runs low; the file is sparse beyond the used pages.
 *
 * TABLE.JSON (tables/<name>/table.json), format TABLE_JSON_VERSION
 *   PURPOSE: a table's configuration: what LMDB's counts do not say.
 *   RECORD: one line of JSON, members in this order: {"Version":3,"TableName","TableId",
 *     "CreationTime"(µs),"KeySchema":{"HashName","HashType"[,"RangeName","RangeType"]},
 *     "Pitr":{"Enabled","RecoveryPeriodInDays","EnabledTime"(µs)},"Durability":"sync"|"none",
 *     "SnapshotEverySeconds","SnapshotEveryWrites","LogSegmentBytes",
 *     ["RestoreSummary":{"SourceTableArn","SourceBackupArn"?,"RestoreDateTime"(µs),
 *     "RestoreInProgress"},] "Xxh3":"<16 hex>"}. Xxh3 is the XXH3_64 of the same text with
 *     the last member (,"Xxh3":…) taken out, i.e. of <text up to that comma> + "}".
 *     RestoreSummary is there only for a table made by a restore; SourceBackupArn only when
 *     restored from a backup rather than a point in time.
 *   VALIDITY: valid if and only if (1) it parses as JSON, (2) TableName and the hash key's
 *     name and type are there, (3) Xxh3 is there and matches, or there is no Xxh3 and no
 *     "Version" >= 2 (version 1). A damaged table.json is an error naming it: its settings
 *     (PITR, durability) are never guessed.
 *   CRASH SAFETY: written whole to a temp file, synced and renamed (fsx_write_atomic), under
 *     the table's write lock (conf_update), so two processes never interleave.
 *   COMPATIBILITY: version 1 had no Xxh3, version 2 no RestoreSummary; both still open (and
 *     are rewritten as the current version by the next settings change). Older readers ignore
 *     RestoreSummary.
 *
 * SNAPSHOTS (tables/<name>/snapshots/<seq as 16 hex>/), format SNAP_VERSION
 *   PURPOSE: seeds for restores (pitr/plan.h), one log position each.
 *   data.mdb: an LMDB environment with the items and meta dbs, copied in key order from one
 *     read txn, so it reflects exactly one log position, with every leaf page full (dense_copy).
 *   snap.json: {"Version":2,"Seq","Time"(µs),"ItemCount","Bytes","Xxh3"}: Seq the log position
 *     (also in data.mdb's meta "applied_seq"), Bytes the length of data.mdb, Xxh3 the XXH3_64
 *     (xxHash, as the log's checksums) of those Bytes bytes, as 16 lowercase hex digits (a JSON
 *     number cannot hold 64 bits).
 *   VALIDITY: a snapshot may seed a restore if and only if (1) its directory has the final name
 *     and snap.json parses, (2) Version >= 2 with a well-formed Xxh3, (3) data.mdb is Bytes long
 *     (checked before a byte is copied or mapped: a short file would SIGBUS a map), (4) the
 *     XXH3_64 of its bytes equals Xxh3 (computed while the restore copies it, before anything
 *     is published), (5) the copy's applied_seq equals Seq. A seed failing (3)-(5) is damaged:
 *     the restore plans again without it and says so (pitr/materialize.c).
 *   CRASH SAFETY: data.mdb is written and synced, read back once to hash it, snap.json written
 *     atomically, then the ".tmp-" directory renamed to its final name and the parent synced: a
 *     directory with the final name is complete.
 *   COMPATIBILITY: version 1 (no "Version", no "Xxh3") cannot be verified, so it is not trusted:
 *     listed (retention still removes it) but never a restore seed; `tidemark snapshot` taken
 *     at the same position replaces it, as it does a damaged one.
 *
 * LOGEND (tables/<name>/logend), format 1
 *   PURPOSE: tells a long-lived reader (tidemark serve's shared handle) that another process has
 *     acknowledged writes its items do not have yet (a bulk writer between its joined LMDB
 *     commits), without reading the log on every request.
 *   RECORD: 8 bytes, u64le: the last log seq a writer of the table has committed (made durable,
 *     or written for durability "none"). Stored through a shared map after each log commit and
 *     at each recovery (then the log's last seq, or the items' if they are ahead); the file has
 *     real blocks (fallocate) before it is mapped, so a full disk cannot fault a store.
 *   VALIDITY: a hint, never data: a reader that finds it above the items' applied seq catches
 *     up through the log (its writer's recovery), which also corrects a stale or damaged hint;
 *     one below only skips that catch-up. Mapped by writer handles only (read-only ones never
 *     consult it); a short file is extended to 8 bytes. Absent or unmappable: no hint (a
 *     shared handle then sees other processes' writes once they are applied).
 *
 * LMDB may not be opened twice in one process (its POSIX locks would break), so environments are
 * shared through a small registry keyed by directory. */
#include "engine/table.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/hold.h"
#include "engine/pitr_policy.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <xxhash.h>

/* 2: snap.json carries data.mdb's length and XXH3_64 (version 1 had neither). */
#define SNAP_VERSION 2

#define TABLE_MAPSIZE ((size_t)1 << 40)  /* address space only; the file grows as needed */

/* TIDEMARK_MAPSIZE (bytes) lowers the reservation where address space is short (valgrind). */
static size_t table_mapsize(void)
{
    const char *e = getenv("TIDEMARK_MAPSIZE");
    size_t v = e && *e ? (size_t)strtoull(e, NULL, 10) : 0;
    return v ? v : TABLE_MAPSIZE;
}

#define MAP_MIN   ((size_t)256 << 20)
#define MAP_ROOM  ((size_t)512 << 20)   /* > what one joined bulk commit can add (see BULK_BYTES) */
#define BULK_BYTES ((size_t)128 << 20)

/* The map a WRITEMAP environment wants for used bytes: room for the next commits. */
static size_t map_want(size_t used)
{
    size_t want = used + used / 2 + MAP_ROOM;
    if (want < MAP_MIN) want = MAP_MIN;
    return (want + ((size_t)64 << 20) - 1) & ~(((size_t)64 << 20) - 1);
}
#define TABLE_JSON_MAX (1 << 20)
/* 2: table.json carries its Xxh3 (a flipped bit could turn PITR off unseen).
 * 3: RestoreSummary, for tables made by a restore. */
#define TABLE_JSON_VERSION 3
#define BUILDER_TXN_OPS 20000

/* ================================================================ environments ==== */

typedef struct env_ref {
    char dir[PATH_MAX];
    MDB_env *env;
    MDB_dbi items, meta;
    int refs;
    dev_t dev;               /* data.mdb's identity: a table deleted and made again under the */
    ino_t ino;               /* same name while a handle holds the old one is another file */
    struct env_ref *next;
    /* disk reservation (env_reserve): blocks given up to `reserved` (bytes) by this process */
    int writemap;
    size_t reserved;
    size_t res_txn, res_writes, res_bytes;   /* the current write txn's puts (txn_bound) */
} env_ref;

static pthread_mutex_t env_mu = PTHREAD_MUTEX_INITIALIZER;
static env_ref *env_list;

/* 1 if the file system holding path has no block left for this process. */
static int disk_full(const char *path)
{
    struct statvfs sv;
    if (statvfs(path, &sv) < 0) return 0;
    return (geteuid() == 0 ? sv.f_bfree : sv.f_bavail) < 16;
}

/* The items file of dir (a table's directory, its items/, or a snapshot's directory). */
static void items_file(const char *dir, char *out, size_t n)
{
    snprintf(out, n, "%s/data.mdb", dir);
    if (!fsx_exists(out)) snprintf(out, n, "%s/items/data.mdb", dir);
}

/* An encoded key for a message: printable bytes as they are, others as \xNN. */
static void key_text(const void *key, size_t kn, char *out, size_t n)
{
    const unsigned char *k = key;
    size_t o = 0;
    for (size_t i = 0; i < kn && o + 8 < n; i++)
        o += (size_t)snprintf(out + o, n - o, k[i] >= 32 && k[i] < 127 && k[i] != '\\' ? "%c" : "\\x%02x", k[i]);
    out[o] = '\0';
}

/* memcmp order of two LMDB keys (LMDB's default). */
static int val_cmp(const MDB_val *a, const MDB_val *b)
{
    size_t m = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
    int c = memcmp(a->mv_data, b->mv_data, m);
    return c ? c : a->mv_size < b->mv_size ? -1 : a->mv_size > b->mv_size;
}

/* A value that failed to decode: TM_ECORRUPT naming the items file and the key. */
static int items_corrupt(const char *dir, const void *key, size_t kn, int rc)
{
    char file[PATH_MAX], kt[160];
    if (rc != TM_ECORRUPT) return rc;
    items_file(dir, file, sizeof file);
    key_text(key, kn, kt, sizeof kt);
    return err_wrap(rc, "%s: item under key \"%s\": ", file, kt);
}

static int lmdb_err(int rc, const char *what, const char *dir)
{
    if (rc == MDB_MAP_FULL) return err_set(TM_ELIMIT, "%s: %s: %s", dir, what, mdb_strerror(rc));
    if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID) {
        char file[PATH_MAX];
        items_file(dir, file, sizeof file);
        return err_set(TM_ECORRUPT, "%s: damaged (%s: %s); run tidemark items verify", file, what,
                       mdb_strerror(rc));
    }
    /* LMDB turns a short write (what a full disk gives) into EIO: name the cause. */
    if (rc == EIO && disk_full(dir)) rc = ENOSPC;
    return err_set(TM_EIO, "%s: %s: %s", dir, what, mdb_strerror(rc));
}

/* ---- the file before LMDB maps it ----
 * LMDB trusts its file: a data.mdb shorter than its last used page is mapped all the same
 * (reads past the end are a SIGBUS; a WRITEMAP open first extends the file with zeros, which
 * LMDB then reads as pages), and a missing one is created empty. env_check_file reads the two
 * meta pages itself, as liblmdb 0.9 lays them out in host byte order: at offset 0 and at the
 * page size, a 16-byte page header, then magic u32 (0xBEEFC0DE), version u32, address, mapsize,
 * two 48-byte db records (the first one's leading u32 is the page size), last used page number
 * u64, txnid u64. LMDB uses the meta with the larger txnid. */
#define LMDB_MAGIC     0xBEEFC0DEu
#define META_MAGIC     16
#define META_PSIZE     40
#define META_LAST_PG   136
#define META_TXNID     144
#define META_END       152

static int env_check_file(const char *dir)
{
    char path[PATH_MAX];
    unsigned char m[2][META_END];
    struct stat st;
    int fd, rc = 0;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        if (errno == ENOENT)
            return err_set(TM_ECORRUPT, "%s: missing: the table's items file is gone (restore the "
                           "table from a snapshot or an export)", path);
        return err_sys(TM_EIO, errno, "open %s", path);
    }
    if (fstat(fd, &st) < 0) {
        rc = err_sys(TM_EIO, errno, "stat %s", path);
        goto out;
    }
    uint32_t psize = 0;
    if (st.st_size >= META_END && (rc = fsx_pread_all(fd, m[0], META_END, 0)) == 0)
        memcpy(&psize, m[0] + META_PSIZE, 4);
    if (rc) goto out;
    if (psize < 512 || psize > (1u << 20) || (psize & (psize - 1))) psize = 0;
    if (st.st_size < (off_t)psize + META_END || !psize) {
        rc = err_set(TM_ECORRUPT, "%s: truncated: %lld bytes, needs at least %lld (two meta pages)",
                     path, (long long)st.st_size, psize ? 2LL * psize : 8192LL);
        goto out;
    }
    if ((rc = fsx_pread_all(fd, m[1], META_END, psize))) goto out;
    uint32_t magic[2];
    uint64_t last[2], txnid[2];
    for (int i = 0; i < 2; i++) {
        memcpy(&magic[i], m[i] + META_MAGIC, 4);
        memcpy(&last[i], m[i] + META_LAST_PG, 8);
        memcpy(&txnid[i], m[i] + META_TXNID, 8);
        if (magic[i] != LMDB_MAGIC) {
            rc = err_set(TM_ECORRUPT, "%s: damaged: meta page %d has no LMDB magic", path, i);
            goto out;
        }
    }
    int cur = txnid[1] > txnid[0];
    long long need = ((long long)last[cur] + 1) * psize;
    if (last[cur] >= (uint64_t)1 << 40 || st.st_size < need)
        rc = err_set(TM_ECORRUPT, "%s: truncated: %lld bytes, needs at least %lld (its last used "
                     "page is %llu)", path, (long long)st.st_size, need, (unsigned long long)last[cur]);
out:
    close(fd);
    return rc;
}

/* ---- last line of defence: crash signals in mapped items ----
 * LMDB has no page checksums and follows the page numbers it finds in its pages: damage in a
 * data.mdb can make liblmdb fault (SIGSEGV) or fail one of its assertions (abort), and a load
 * or store through the map past a truncated file's end, or into a hole that a full disk cannot
 * back, is a SIGBUS. None of them can become an error code: a fault in the middle of LMDB's
 * work leaves nothing safe to unwind to. So once a process opens an environment:
 *   - LMDB's assert callback names the file and exits 1 (its assertions are structural checks
 *     such as IS_LEAF; the default would abort with no file named);
 *   - SIGBUS and SIGSEGV, unless someone else handles them (cmocka, sanitizers), go to
 *     guard_signal: a fault at an address inside a mapped data.mdb, or at an instruction inside
 *     liblmdb, prints "<prog>: <file>: <what>; run tidemark items verify" and _exits 1. Any other
 *     fault keeps its default action (SA_RESETHAND): a bug stays a crash with a core.
 * The handler uses only async-signal-safe calls (open, read, stat, statfs, write, _exit). The
 * reservation (env_reserve) keeps a full disk from ever getting here; this is for a file
 * truncated or damaged while a process has it mapped, and for what the open checks cannot see. */
static char guard_line[PATH_MAX + 256];

static void guard_cat(char **p, const char *end, const char *s)
{
    while (*s && *p < end) *(*p)++ = *s++;
}

static void guard_num(char **p, const char *end, unsigned long long v)
{
    char d[24];
    int n = 0;
    do d[n++] = (char)('0' + v % 10); while ((v /= 10));
    while (n && *p < end) *(*p)++ = d[--n];
}

static unsigned long long guard_hex(const char **s)
{
    unsigned long long v = 0;
    for (;; (*s)++) {
        char c = **s;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return v;
        v = v * 16 + (unsigned)d;
    }
}

/* Walks /proc/self/maps: the data.mdb (or lock.mdb) mapping holding addr (its path in file,
 * offset in *off), whether pc lies in liblmdb's code, and the first data.mdb mapped (in any). */
static void guard_scan(uintptr_t addr, uintptr_t pc, char *file, unsigned long long *off, int *in_lmdb,
                       char *any)
{
    char chunk[4096];
    size_t n = 0;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    ssize_t r;
    if (fd < 0) return;
    while ((r = read(fd, chunk, sizeof chunk)) > 0)
        for (ssize_t i = 0; i < r; i++) {
            if (chunk[i] != '\n') {
                if (n + 1 < sizeof guard_line) guard_line[n++] = chunk[i];
                continue;
            }
            guard_line[n] = '\0';
            n = 0;
            const char *s = guard_line, *path = strchr(guard_line, '/');
            unsigned long long lo = guard_hex(&s), hi, fo;
            if (*s++ != '-') continue;
            hi = guard_hex(&s);
            if (strlen(s) < 7) continue;
            s += 6;
            fo = guard_hex(&s);
            if (!path) continue;
            size_t pl = strlen(path);
            int mdb = pl >= 9 && !strcmp(path + pl - 9, "/data.mdb");
            int lck = pl >= 9 && !strcmp(path + pl - 9, "/lock.mdb");   /* reader slots: a hole too */
            if (mdb && !any[0] && pl < PATH_MAX) memcpy(any, path, pl + 1);
            if ((mdb || lck) && addr >= lo && addr < hi && pl < PATH_MAX) {
                memcpy(file, path, pl + 1);
                *off = fo + (addr - lo);
            }
            if (pc >= lo && pc < hi && strstr(path, "/liblmdb")) *in_lmdb = 1;
        }
    close(fd);
}

static void guard_signal(int sig, siginfo_t *si, void *ucv)
{
    static char file[PATH_MAX], any[PATH_MAX], msg[2 * PATH_MAX];
    uintptr_t pc = 0;
    unsigned long long off = 0;
    int in_lmdb = 0, saved = errno;
    ucontext_t *uc = ucv;
#if defined(__x86_64__)
    pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    pc = (uintptr_t)uc->uc_mcontext.pc;
#else
    (void)uc;
#endif
    if (si->si_code <= 0) return;   /* sent by kill(): the default action (reset) follows */
    file[0] = any[0] = '\0';
    guard_scan((uintptr_t)si->si_addr, pc, file, &off, &in_lmdb, any);
    if (!file[0] && !in_lmdb) {
        errno = saved;
        return;   /* not ours: the faulting instruction runs again, now with the default action */
    }
    char *p = msg;
    const char *end = msg + sizeof msg - 1;
    guard_cat(&p, end, program_invocation_short_name);
    guard_cat(&p, end, ": ");
    guard_cat(&p, end, file[0] ? file : any[0] ? any : "an items file (data.mdb)");
    struct stat st;
    struct statvfs sv;
    if (sig == SIGBUS && file[0] && stat(file, &st) == 0 && off >= (unsigned long long)st.st_size) {
        guard_cat(&p, end, ": truncated: ");
        guard_num(&p, end, (unsigned long long)st.st_size);
        guard_cat(&p, end, " bytes, a page at offset ");
        guard_num(&p, end, off);
        guard_cat(&p, end, " lies past its end (signal SIGBUS); run tidemark items verify");
    } else if (sig == SIGBUS && file[0] && statvfs(file, &sv) == 0 && sv.f_bfree < 16) {
        guard_cat(&p, end, ": No space left on device (no block for the page at offset ");
        guard_num(&p, end, off);
        guard_cat(&p, end, ", signal SIGBUS)");
    } else {
        guard_cat(&p, end, sig == SIGBUS ? ": damaged or unreadable (signal SIGBUS" : ": damaged (signal SIGSEGV");
        guard_cat(&p, end, in_lmdb ? " in liblmdb)" : ")");
        guard_cat(&p, end, "; run tidemark items verify");
    }
    guard_cat(&p, end, "\n");
    ssize_t w = write(2, msg, (size_t)(p - msg));
    (void)w;
    _exit(1);
}

static void guard_assert(MDB_env *env, const char *what)
{
    const char *dir = NULL;
    mdb_env_get_path(env, &dir);
    fprintf(stderr, "%s: %s/data.mdb: damaged (LMDB: %s); run tidemark items verify\n",
            program_invocation_short_name, dir ? dir : "?", what);
    _exit(1);
}

static void guard_install(void)
{
    static const int sigs[] = {SIGBUS, SIGSEGV};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old, sa;
        if (sigaction(sigs[i], NULL, &old) < 0 || (old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL)
            continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = guard_signal;
        sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

static int env_open_raw(const char *dir, unsigned extra, env_ref **out)
{
    size_t mapsize = table_mapsize();
    if (extra & MDB_WRITEMAP) {
        char path[PATH_MAX];
        struct stat st;
        size_t used = 0;
        snprintf(path, sizeof path, "%s/data.mdb", dir);
        if (stat(path, &st) == 0) used = (size_t)st.st_blocks * 512;
        size_t want = map_want(used);
        if (want < mapsize) mapsize = want;
    }
    env_ref *e = calloc(1, sizeof *e);
    MDB_txn *txn = NULL;
    int rc;
    if (!e) return err_set(TM_ENOMEM, "out of memory");
    pthread_once(&guard_once, guard_install);
    char data[PATH_MAX];
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    if (fsx_exists(data) && (rc = env_check_file(dir))) {
        free(e);
        return rc;
    }
    snprintf(e->dir, sizeof e->dir, "%s", dir);
    e->writemap = !!(extra & MDB_WRITEMAP);
    if ((rc = mdb_env_create(&e->env))) goto lmdb_fail;
    mdb_env_set_assert(e->env, guard_assert);
    mdb_env_set_maxdbs(e->env, 4);
    mdb_env_set_mapsize(e->env, mapsize);
    mdb_env_set_maxreaders(e->env, 254);
    if ((rc = mdb_env_open(e->env, dir, MDB_NOTLS | MDB_NOMETASYNC | extra, 0644))) goto lmdb_fail;
    int dead;
    mdb_reader_check(e->env, &dead);
    if ((rc = mdb_txn_begin(e->env, NULL, 0, &txn))) goto lmdb_fail;
    if ((rc = mdb_dbi_open(txn, "items", MDB_CREATE, &e->items))) goto lmdb_fail;
    if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &e->meta))) goto lmdb_fail;
    if ((rc = mdb_txn_commit(txn))) {
        txn = NULL;
        goto lmdb_fail;
    }
    struct stat st;
    if (stat(data, &st) == 0) {
        e->dev = st.st_dev;
        e->ino = st.st_ino;
    }
    e->refs = 1;
    *out = e;
    return 0;
lmdb_fail:
    if (txn) mdb_txn_abort(txn);
    if (e->env) mdb_env_close(e->env);
    free(e);
    return lmdb_err(rc, "open items", dir);
}

/* Readers (TABLE_RDONLY) map read-only without readahead; writers use WRITEMAP. The first
 * handle of a process decides for the ones that share its environment. */
static int env_acquire(const char *dir, unsigned flags, env_ref **out)
{
    char real[PATH_MAX], data[PATH_MAX];
    struct stat st;
    if (!realpath(dir, real)) return err_sys(TM_EIO, errno, "%s", dir);
    snprintf(data, sizeof data, "%s/data.mdb", real);
    int known = stat(data, &st) == 0;
    pthread_mutex_lock(&env_mu);
    for (env_ref *e = env_list; e; e = e->next)
        if (!strcmp(e->dir, real) && known && e->dev == st.st_dev && e->ino == st.st_ino) {
            e->refs++;
            *out = e;
            pthread_mutex_unlock(&env_mu);
            return 0;
        }
    /* Only table_create and builders make an items file: a table without one is damaged. */
    int rc = env_check_file(real);
    if (!rc) rc = env_open_raw(real, (flags & TABLE_RDONLY) ? MDB_NORDAHEAD : MDB_WRITEMAP, out);
    if (!rc) {
        (*out)->next = env_list;
        env_list = *out;
    }
    pthread_mutex_unlock(&env_mu);
    return rc;
}

static void env_release(env_ref *e)
{
    if (!e) return;
    pthread_mutex_lock(&env_mu);
    if (--e->refs == 0) {
        for (env_ref **p = &env_list; *p; p = &(*p)->next)
            if (*p == e) {
                *p = e->next;
                break;
            }
        mdb_env_close(e->env);
        free(e);
    }
    pthread_mutex_unlock(&env_mu);
}

/* Begins a txn, adopting a map that another process grew meanwhile. */
static int env_txn_begin(env_ref *e, unsigned flags, MDB_txn **txn)
{
    int rc = mdb_txn_begin(e->env, NULL, flags, txn);
    if (rc == MDB_MAP_RESIZED) {
        mdb_env_set_mapsize(e->env, 0);
        rc = mdb_txn_begin(e->env, NULL, flags, txn);
    }
    return rc;
}

/* Drops [lo, hi] of the map from this process's resident set; the pages stay in the page cache
 * and fault back in with the same contents (a shared mapping keeps dirty data), so pointers into
 * the map stay valid. Keeps a scan of a large table from counting the whole data file as its
 * memory. lo and hi are addresses the scan read, so the range lies inside the one mapping
 * (mdb_env_info gives the map's address only with MDB_FIXEDMAP). */
static void map_drop(uintptr_t lo, uintptr_t hi)
{
    long ps = sysconf(_SC_PAGESIZE);
    uintptr_t mask = (uintptr_t)(ps > 0 ? ps : 4096) - 1;
    lo &= ~mask;
    hi = (hi + mask) & ~mask;
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* This process's mapping of e's data file, found by device and inode in /proc/self/maps (LMDB
 * gives the map's address only with MDB_FIXEDMAP). 0 if found. */
static int env_map_range(const env_ref *e, char **addr, size_t *len)
{
    char path[PATH_MAX], line[PATH_MAX + 256];
    struct stat st;
    FILE *f;
    int rc = -1;
    snprintf(path, sizeof path, "%s/data.mdb", e->dir);
    if (stat(path, &st) < 0 || !(f = fopen("/proc/self/maps", "re"))) return -1;
    while (rc && fgets(line, sizeof line, f)) {
        unsigned long lo, hi, ino;
        unsigned maj, mn;
        if (sscanf(line, "%lx-%lx %*s %*x %x:%x %lu", &lo, &hi, &maj, &mn, &ino) != 5) continue;
        if (ino != st.st_ino || makedev(maj, mn) != st.st_dev) continue;
        *addr = (char *)lo;
        *len = hi - lo;
        rc = 0;
    }
    fclose(f);
    return rc;
}

/* Drops all of e's map from this process's resident set (see map_drop). */
static void env_map_drop(const env_ref *e)
{
    char *addr;
    size_t len;
    if (env_map_range(e, &addr, &len) == 0) map_drop((uintptr_t)addr, (uintptr_t)addr + len);
}

#define READ_DROP_BYTES ((size_t)1 << 20)

/* Grows the map ahead of a write txn (only possible while this process has no txn open on the
 * environment; if one is open, the next write tries again). */
static void env_make_room(env_ref *e)
{
    MDB_envinfo ei;
    MDB_stat st;
    if (mdb_env_info(e->env, &ei) || mdb_env_stat(e->env, &st)) return;
    size_t used = ((size_t)ei.me_last_pgno + 1) * st.ms_psize;
    if (ei.me_mapsize >= used + MAP_ROOM) return;
    size_t want = map_want(used);
    if (want > ei.me_mapsize) mdb_env_set_mapsize(e->env, want);
}

/* ---- disk reservation ----
 * A WRITEMAP environment changes its pages through a shared map of a sparse file: on a full
 * disk the first store into a page with no block behind it is a SIGBUS, in the middle of
 * mdb_put or mdb_txn_commit. (Without WRITEMAP, LMDB's pwrite at commit comes short and LMDB
 * calls that EIO.) So before each put of a write txn, ws_change (before the put's log
 * record), replay and the builders call env_reserve, which gives the file real blocks
 * (fsx_allocate) up to past anything the txn can touch; a full disk is then an ENOSPC error
 * naming data.mdb, found before the batch's log commit: a refused write is never acknowledged,
 * nor replayed. (A 1M-item bulk load makes 129 fallocate calls, 2 ms in all.)
 * What the txn can touch: pages below its next new page (LMDB 0.9's txn->mt_next_pgno, see
 * txn_next_pgno), plus what the coming put can add: its path copied and split (2 x (depth +
 * 1)), its value's overflow pages, the free list's own pages when the put takes free pages
 * (8), and what the commit adds when it saves the free list (8 bytes per freed page: at most a
 * 64th of the file). Where the next page cannot be read, a bound from the txn's work so far
 * stands in (txn_bound): far more than LMDB uses, but safe. The reservation runs a little
 * ahead (a 32nd), so that a bulk load calls fallocate now and then, not per put, and LMDB's
 * later commits use it up; it is never punched back (another process may count on it). */
#define RESERVE_MIN ((size_t)1 << 20)

/* LMDB 0.9's MDB_txn begins {MDB_txn *mt_parent, *mt_child; pgno_t mt_next_pgno; txnid_t
 * mt_txnid;}: no API gives the next page a write txn will allocate. Trusted only while that
 * mt_txnid reads as mdb_txn_id() and the page lies in [first, max]: otherwise 0 (another LMDB),
 * and the caller falls back to a bound. */
static size_t txn_next_pgno(MDB_txn *txn, size_t first, size_t max)
{
    size_t f[4];
    memcpy(f, txn, sizeof f);
    if (f[3] != mdb_txn_id(txn) || f[2] < first || f[2] > max) return 0;
    return f[2];
}

/* Pages a txn can have added after `writes` puts of `bytes`, without knowing its next page:
 * each put copies its leaf and may split it (never more than the leaves there are), copies
 * the branch pages above (at most all of them, twice with splits), and its bytes add pages
 * (twice the bytes, since splits leave pages half full; over half a page a value takes
 * overflow pages: 3 bytes of page per byte at most), 32 bytes of node per put, the depth. */
static size_t txn_bound(const MDB_stat *st, size_t writes, size_t bytes)
{
    size_t leaves = st->ms_leaf_pages + st->ms_overflow_pages;
    return 2 * (writes < leaves ? writes : leaves) + 2 * st->ms_branch_pages +
           (4 * bytes + 32 * writes) / st->ms_psize + st->ms_depth + 8;
}

static int env_reserve(env_ref *e, MDB_txn *txn, size_t bytes)
{
    MDB_envinfo ei;
    MDB_stat st;
    int rc, fd;
    size_t id = mdb_txn_id(txn);
    if ((rc = mdb_env_info(e->env, &ei)) || (rc = mdb_stat(txn, e->items, &st)))
        return lmdb_err(rc, "stat", e->dir);
    size_t ps = st.ms_psize, first = (size_t)ei.me_last_pgno + 1;
    if (id != e->res_txn) { /* a new write txn */
        e->res_txn = id;
        e->res_writes = e->res_bytes = 0;
    }
    e->res_writes++;
    e->res_bytes += bytes;
    size_t next = txn_next_pgno(txn, first, e->writemap ? ei.me_mapsize / ps : (size_t)1 << 40);
    size_t pages = next ? next + 2 * (st.ms_depth + 1) + 8 + (bytes + ps - 1) / ps
                        : first + txn_bound(&st, e->res_writes, e->res_bytes);
    size_t need = (pages + first / 64 + 8) * ps;
    if (e->writemap && need > ei.me_mapsize) need = ei.me_mapsize;   /* LMDB says MAP_FULL */
    if (need <= e->reserved) return 0;
    size_t from = e->reserved > first * ps ? e->reserved : first * ps;
    size_t ahead = need + (need / 32 > RESERVE_MIN ? need / 32 : RESERVE_MIN);
    if (e->writemap && ahead > ei.me_mapsize) ahead = ei.me_mapsize;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/data.mdb", e->dir);
    if ((rc = mdb_env_get_fd(e->env, &fd))) return lmdb_err(rc, "reserve", e->dir);
    if ((rc = fsx_allocate(fd, (long long)from, (long long)(ahead - from), path))) {
        /* The bare need may still fit. */
        if (need == ahead || fsx_allocate(fd, (long long)from, (long long)(need - from), path)) return rc;
        err_clear();
        ahead = need;
    }
    e->reserved = ahead;
    return 0;
}

/* ---- meta values ---- */

static uint64_t meta_get_u64(MDB_txn *txn, MDB_dbi meta, const char *name)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    if (mdb_get(txn, meta, &k, &v) || v.mv_size != 8) return 0;
    return rd_u64le(v.mv_data);
}

static int meta_put_u64(MDB_txn *txn, MDB_dbi meta, const char *name, uint64_t val)
{
    unsigned char b[8];
    wr_u64le(b, val);
    MDB_val k = {strlen(name), (void *)name}, v = {8, b};
    return mdb_put(txn, meta, &k, &v, 0);
}

/* ================================================================ catalog ==== */

int table_check_name(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 3 || n > TABLE_NAME_MAX)
        return err_set(TM_EINVAL, "table name '%s': must be 3 to 255 characters", name ? name : "");
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return err_set(TM_EINVAL, "table name '%s': only A-Z a-z 0-9 _ - . are allowed", name);
    }
    if (name[0] == '.') return err_set(TM_EINVAL, "table name '%s': must not start with '.'", name);
    return 0;
}

static const char *env_first(const char *opt, const char *const *names, const char *def)
{
    if (opt && *opt) return opt;
    for (; *names; names++) {
        const char *v = getenv(*names);
        if (v && *v) return v;
    }
    return def;
}

const char *table_arn_region(const char *opt)
{
    static const char *const names[] = {"TIDEMARK_REGION", "AWS_REGION", "AWS_DEFAULT_REGION", NULL};
    return env_first(opt, names, "us-east-1");
}

const char *table_arn_account(const char *opt)
{
    static const char *const names[] = {"TIDEMARK_ACCOUNT", "AWS_ACCOUNT_ID", NULL};
    return env_first(opt, names, "000000000000");
}

void table_arn(const char *region_opt, const char *account_opt, const char *name, char *out, size_t n)
{
    snprintf(out, n, "arn:aws:dynamodb:%s:%s:table/%s", table_arn_region(region_opt),
             table_arn_account(account_opt), name);
}

void table_path(const char *home, const char *name, const char *sub, char *out, size_t n)
{
    if (sub) snprintf(out, n, "%s/tables/%s/%s", home, name, sub);
    else snprintf(out, n, "%s/tables/%s", home, name);
}

static const char *type_letter(av_type t)
{
    return t == AV_S ? "S" : t == AV_N ? "N" : t == AV_B ? "B" : "?";
}

static av_type type_of_letter(const char *s)
{
    if (!s) return 0;
    return !strcmp(s, "S") ? AV_S : !strcmp(s, "N") ? AV_N : !strcmp(s, "B") ? AV_B : 0;
}

/* The configuration part of table_info lives in table.json; counts live in LMDB. */
typedef struct table_conf {
    table_info info;
    uint64_t segment_bytes;
} table_conf;

static void conf_write_restore(cJSON *o, const table_restore_summary *r)
{
    cJSON *rs = cJSON_AddObjectToObject(o, "RestoreSummary");
    cJSON_AddStringToObject(rs, "SourceTableArn", r->source_table_arn);
    if (r->source_backup_arn[0]) cJSON_AddStringToObject(rs, "SourceBackupArn", r->source_backup_arn);
    cJSON_AddNumberToObject(rs, "RestoreDateTime", (double)r->restore_time_us);
    cJSON_AddBoolToObject(rs, "RestoreInProgress", r->in_progress);
}

static void conf_read_restore(const cJSON *o, table_info *i)
{
    const cJSON *rs = cJSON_GetObjectItem(o, "RestoreSummary");
    const char *s;
    if (!cJSON_IsObject(rs)) return;
    i->restored = 1;
    s = cJSON_GetStringValue(cJSON_GetObjectItem(rs, "SourceTableArn"));
    snprintf(i->restore.source_table_arn, sizeof i->restore.source_table_arn, "%s", s ? s : "");
    s = cJSON_GetStringValue(cJSON_GetObjectItem(rs, "SourceBackupArn"));
    snprintf(i->restore.source_backup_arn, sizeof i->restore.source_backup_arn, "%s", s ? s : "");
    i->restore.restore_time_us = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(rs, "RestoreDateTime"));
    i->restore.in_progress = cJSON_IsTrue(cJSON_GetObjectItem(rs, "RestoreInProgress"));
}

static int conf_write(const char *dir, const table_conf *c)
{
    const table_info *i = &c->info;
    cJSON *o = cJSON_CreateObject(), *ks, *p;
    char path[PATH_MAX];
    int rc = 0;
    if (!o) return err_set(TM_ENOMEM, "out of memory");
    cJSON_AddNumberToObject(o, "Version", TABLE_JSON_VERSION);
    cJSON_AddStringToObject(o, "TableName", i->name);
    cJSON_AddStringToObject(o, "TableId", i->table_id);
    cJSON_AddNumberToObject(o, "CreationTime", (double)i->created_us);
    ks = cJSON_AddObjectToObject(o, "KeySchema");
    cJSON_AddStringToObject(ks, "HashName", i->ks.hash_name);
    cJSON_AddStringToObject(ks, "HashType", type_letter(i->ks.hash_type));
    if (i->ks.range_type) {
        cJSON_AddStringToObject(ks, "RangeName", i->ks.range_name);
        cJSON_AddStringToObject(ks, "RangeType", type_letter(i->ks.range_type));
    }
    p = cJSON_AddObjectToObject(o, "Pitr");
    cJSON_AddBoolToObject(p, "Enabled", i->pitr_enabled);
    cJSON_AddNumberToObject(p, "RecoveryPeriodInDays", i->pitr_period_days);
    cJSON_AddNumberToObject(p, "EnabledTime", (double)i->pitr_enabled_us);
    cJSON_AddStringToObject(o, "Durability", i->durability == LOG_SYNC_NONE ? "none" : "sync");
    cJSON_AddNumberToObject(o, "SnapshotEverySeconds", (double)i->snapshot_every_s);
    cJSON_AddNumberToObject(o, "SnapshotEveryWrites", (double)i->snapshot_every_writes);
    cJSON_AddNumberToObject(o, "LogSegmentBytes", (double)c->segment_bytes);
    if (i->restored) conf_write_restore(o, &i->restore);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) return err_set(TM_ENOMEM, "out of memory");
    size_t n = strlen(text);
    char *full = malloc(n + 40);
    if (!full) {
        free(text);
        return err_set(TM_ENOMEM, "out of memory");
    }
    /* {...} -> {...,"Xxh3":"<hash of {...}>"} */
    snprintf(full, n + 40, "%.*s,\"Xxh3\":\"%016llx\"}", (int)(n - 1), text,
             (unsigned long long)XXH3_64bits(text, n));
    free(text);
    snprintf(path, sizeof path, "%s/table.json", dir);
    rc = fsx_write_atomic(path, full, strlen(full));
    free(full);
    return rc;
}

/* Checks table.json's Xxh3 (see the format above). */
static int conf_check(const char *path, const char *text, size_t n, const cJSON *o)
{
    static const char key[] = ",\"Xxh3\":\"";
    const char *at = NULL;
    for (const char *p = text; (p = memmem(p, n - (size_t)(p - text), key, sizeof key - 1)); p++) at = p;
    const cJSON *v = cJSON_GetObjectItem(o, "Version");
    if (!at || !cJSON_GetObjectItem(o, "Xxh3")) {
        if (cJSON_IsNumber(v) && v->valuedouble >= 2)
            return err_set(TM_ECORRUPT, "%s: damaged (no checksum)", path);
        return 0; /* version 1 */
    }
    size_t pre = (size_t)(at - text);
    char *body = malloc(pre + 2);
    if (!body) return err_set(TM_ENOMEM, "out of memory");
    memcpy(body, text, pre);
    body[pre] = '}';
    uint64_t h = XXH3_64bits(body, pre + 1);
    free(body);
    const char *x = cJSON_GetStringValue(cJSON_GetObjectItem(o, "Xxh3"));
    char want[17];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)h);
    if (!x || strcmp(x, want)) return err_set(TM_ECORRUPT, "%s: damaged (checksum mismatch)", path);
    return 0;
}

static int conf_read(const char *dir, table_conf *c)
{
    char path[PATH_MAX];
    buf b = BUF_INIT;
    int rc;
    snprintf(path, sizeof path, "%s/table.json", dir);
    if ((rc = fsx_read_file(path, TABLE_JSON_MAX, &b))) return rc;
    cJSON *o = cJSON_ParseWithLength(b.data, b.len), *ks, *p;
    if (!o) {
        buf_free(&b);
        return err_set(TM_ECORRUPT, "%s: damaged (not valid JSON)", path);
    }
    rc = conf_check(path, (const char *)b.data, b.len, o);
    buf_free(&b);
    if (rc) {
        cJSON_Delete(o);
        return rc;
    }
    memset(c, 0, sizeof *c);
    table_info *i = &c->info;
    const char *s;
    s = cJSON_GetStringValue(cJSON_GetObjectItem(o, "TableName"));
    snprintf(i->name, sizeof i->name, "%s", s ? s : "");
    s = cJSON_GetStringValue(cJSON_GetObjectItem(o, "TableId"));
    snprintf(i->table_id, sizeof i->table_id, "%s", s ? s : "");
    i->created_us = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "CreationTime"));
    ks = cJSON_GetObjectItem(o, "KeySchema");
    s = cJSON_GetStringValue(cJSON_GetObjectItem(ks, "HashName"));
    snprintf(i->ks.hash_name, sizeof i->ks.hash_name, "%s", s ? s : "");
    i->ks.hash_type = type_of_letter(cJSON_GetStringValue(cJSON_GetObjectItem(ks, "HashType")));
    s = cJSON_GetStringValue(cJSON_GetObjectItem(ks, "RangeName"));
    snprintf(i->ks.range_name, sizeof i->ks.range_name, "%s", s ? s : "");
    i->ks.range_type = type_of_letter(cJSON_GetStringValue(cJSON_GetObjectItem(ks, "RangeType")));
    p = cJSON_GetObjectItem(o, "Pitr");
    i->pitr_enabled = cJSON_IsTrue(cJSON_GetObjectItem(p, "Enabled"));
    i->pitr_period_days = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "RecoveryPeriodInDays"));
    i->pitr_enabled_us = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "EnabledTime"));
    s = cJSON_GetStringValue(cJSON_GetObjectItem(o, "Durability"));
    i->durability = s && !strcmp(s, "none") ? LOG_SYNC_NONE : LOG_SYNC_FULL;
    i->snapshot_every_s = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "SnapshotEverySeconds"));
    i->snapshot_every_writes =
        (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "SnapshotEveryWrites"));
    c->segment_bytes = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "LogSegmentBytes"));
    conf_read_restore(o, i);
    cJSON_Delete(o);
    if (!i->ks.hash_type || !i->name[0]) return err_set(TM_ECORRUPT, "%s: missing key schema", path);
    if (i->pitr_period_days < 1) i->pitr_period_days = TABLE_PITR_MAX_DAYS;
    return 0;
}

static void make_uuid(char *out, size_t n)
{
    unsigned char r[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, r, sizeof r) != (ssize_t)sizeof r) {
        uint64_t x = (uint64_t)clock_now_us() ^ ((uint64_t)getpid() << 32);
        for (int i = 0; i < 16; i++) r[i] = (unsigned char)(x >> (i % 8 * 8)) ^ (unsigned char)(i * 37);
    }
    if (fd >= 0) close(fd);
    r[6] = (r[6] & 0x0f) | 0x40;
    r[8] = (r[8] & 0x3f) | 0x80;
    snprintf(out, n, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

static uint64_t segment_bytes_default(void)
{
    const char *e = getenv("TIDEMARK_SEGMENT_BYTES"); /* testing knob: tiny segments */
    if (e && *e) return strtoull(e, NULL, 10);
    log_options lo = LOG_OPTIONS_INIT;
    return lo.segment_bytes;
}

/* Creates a table's directories, table.json and items env under dir (not yet published). */
static int table_init_dir(const char *dir, const table_conf *c)
{
    char sub[PATH_MAX];
    int rc;
    const char *subs[] = {"items", "log", "snapshots"};
    for (int i = 0; i < 3; i++) {
        snprintf(sub, sizeof sub, "%s/%s", dir, subs[i]);
        if ((rc = fsx_mkdirs(sub, 0755))) return rc;
    }
    if ((rc = conf_write(dir, c))) return rc;
    return 0;
}

static unsigned long stage_counter;

static void stage_name(const char *home, const char *tag, char *out, size_t n)
{
    unsigned long k = __atomic_add_fetch(&stage_counter, 1, __ATOMIC_RELAXED);
    snprintf(out, n, "%s/tables/.%s-%d-%lu-%" PRId64, home, tag, (int)getpid(), k, clock_now_us() % 1000000);
}

/* Removes tables/.<tag>-<pid>-... directories whose process is gone (killed restores, imports,
 * creates, deletes). A live pid, even a reused one, keeps its directory: the safe side. */
static void sweep_stale(const char *home)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/tables", home);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        static const char *const tags[] = {".create-", ".build-", ".tmp-", ".trash-"};
        const char *rest = NULL;
        for (size_t i = 0; i < sizeof tags / sizeof *tags; i++)
            if (!strncmp(e->d_name, tags[i], strlen(tags[i]))) rest = e->d_name + strlen(tags[i]);
        if (!rest) continue;
        char *end;
        long pid = strtol(rest, &end, 10);
        if (end == rest || *end != '-' || pid <= 0) continue;
        if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        fsx_rmtree(sub);
    }
    closedir(d);
}

static int publish_dir(const char *from, const char *to)
{
    /* RENAME_NOREPLACE: two creators racing for one name cannot both win. */
    if (syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, 1 /* RENAME_NOREPLACE */) < 0) {
        if (errno == EEXIST || errno == ENOTEMPTY) return err_set(TM_EEXIST, "table %s already exists", to);
        if (errno != EINVAL && errno != ENOSYS) return err_sys(TM_EIO, errno, "rename %s to %s", from, to);
        if (fsx_exists(to)) return err_set(TM_EEXIST, "table %s already exists", to);
        if (rename(from, to) < 0) return err_sys(TM_EIO, errno, "rename %s to %s", from, to);
    }
    return fsx_fsync_parent(to);
}

int table_create(const char *home, const char *name, const key_schema *ks,
                 const table_create_opts *opts, table_info *out)
{
    table_create_opts def = TABLE_CREATE_OPTS_INIT;
    table_conf c;
    char stage[PATH_MAX], final[PATH_MAX], tables[PATH_MAX], items[PATH_MAX];
    env_ref *e = NULL;
    int rc;
    if (!opts) opts = &def;
    if ((rc = table_check_name(name))) return rc;
    if (!ks->hash_type || !ks->hash_name[0]) return err_set(TM_EINVAL, "a partition key is required");
    table_path(home, name, NULL, final, sizeof final);
    if (fsx_exists(final)) return err_set(TM_EEXIST, "table %s already exists", name);
    snprintf(tables, sizeof tables, "%s/tables", home);
    if ((rc = fsx_mkdirs(tables, 0755))) return rc;
    sweep_stale(home);
    memset(&c, 0, sizeof c);
    snprintf(c.info.name, sizeof c.info.name, "%s", name);
    c.info.ks = *ks;
    make_uuid(c.info.table_id, sizeof c.info.table_id);
    c.info.created_us = clock_now_us();
    c.info.pitr_period_days = TABLE_PITR_MAX_DAYS;
    c.info.durability = opts->durability;
    c.info.snapshot_every_s = opts->snapshot_every_s;
    c.info.snapshot_every_writes = opts->snapshot_every_writes;
    c.segment_bytes = segment_bytes_default();
    stage_name(home, "create", stage, sizeof stage);
    if ((rc = table_init_dir(stage, &c))) goto out;
    snprintf(items, sizeof items, "%s/items", stage);
    if ((rc = env_open_raw(items, 0, &e))) goto out;
    mdb_env_sync(e->env, 1);
    mdb_env_close(e->env);
    free(e);
    if ((rc = publish_dir(stage, final))) goto out;
    if (out) *out = c.info;
out:
    if (rc) fsx_rmtree(stage);
    return rc;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int table_list(const char *home, char ***names, size_t *n)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/tables", home);
    *names = NULL;
    *n = 0;
    sweep_stale(home);
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : err_sys(TM_EIO, errno, "open %s", dir);
    size_t cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **p = realloc(*names, cap * sizeof *p);
            if (!p) { rc = err_set(TM_ENOMEM, "out of memory"); break; }
            *names = p;
        }
        if (!((*names)[(*n)++] = strdup(e->d_name))) { rc = err_set(TM_ENOMEM, "out of memory"); break; }
    }
    closedir(d);
    if (rc) {
        table_names_free(*names, *n);
        *names = NULL;
        *n = 0;
        return rc;
    }
    if (*n) qsort(*names, *n, sizeof **names, name_cmp);
    return 0;
}

void table_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

int table_delete(const char *home, const char *name)
{
    char dir[PATH_MAX], trash[PATH_MAX];
    int rc;
    if ((rc = table_check_name(name))) return rc;
    table_path(home, name, NULL, dir, sizeof dir);
    if (!fsx_exists(dir)) return err_set(TM_ENOTFOUND, "table %s not found", name);
    stage_name(home, "trash", trash, sizeof trash);
    if (rename(dir, trash) < 0) return err_sys(TM_EIO, errno, "rename %s", dir);
    fsx_fsync_parent(dir);
    return fsx_rmtree(trash);
}

/* ================================================================ open / close ==== */

struct table {
    char dir[PATH_MAX];
    char log_dir[PATH_MAX];
    table_conf conf;
    env_ref *env;
    log *lg;                 /* writers only */
    unsigned flags;
    table_recovery recovery;
    struct wstate *pend;     /* TABLE_BULK: acknowledged batches not yet committed to LMDB */
    /* group commit of single writes from several threads */
    pthread_mutex_t gc_mu;
    pthread_cond_t gc_cv;
    struct wreq *gc_head, *gc_tail;
    int gc_leader;
    uint64_t group_commits;
    double pend_since;
    /* TABLE_SHARED: the writer thread (writer_main); the fields below, but for wpend (the
     * writer's own), are under gc_mu */
    pthread_t wt;
    int wt_on, wt_stop, wt_flush, wt_pause, wt_paused;
    int wdirty;              /* acknowledged groups wait in wpend for their LMDB commit */
    uint64_t wapplies;       /* LMDB commits of wpend so far */
    pthread_cond_t wt_cv;    /* wakes the writer */
    int wt_recover;          /* a reader asks the writer to catch up with the log */
    struct wstate *wpend;
    uint64_t *logend;        /* the LOGEND map, NULL if none */
    /* snapshot policy state */
    uint64_t snap_seq;
    int64_t snap_time;
    int have_snap;           /* a snapshot exists (seq and time may both be 0: an empty table) */
    unsigned commits;
    char deferred[320];      /* an apply to LMDB that failed after its writes were durable */
};

static int table_txn_begin(table *t, MDB_txn **txn);

/* Maps LOGEND (see the top) for a writer handle. Best effort: without it, t->logend stays NULL. */
static void logend_open(table *t)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/logend", t->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_size >= 8 || fsx_allocate(fd, 0, 8, path) == 0)) {
        void *m = mmap(NULL, 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m != MAP_FAILED) t->logend = m;
    }
    close(fd);
}

static void logend_store(table *t, uint64_t seq)
{
    if (t->logend) __atomic_store_n(t->logend, seq, __ATOMIC_RELEASE);
}

static uint64_t logend_load(const table *t)
{
    return t->logend ? __atomic_load_n(t->logend, __ATOMIC_ACQUIRE) : 0;
}

/* A write txn's begin, for what it does first: it waits for any other writer's LMDB commit,
 * then log_begin (torn tail, damage) and the replay of what LMDB lacks, committed. */
static int catch_up(table *t)
{
    MDB_txn *txn;
    int rc = table_txn_begin(t, &txn);
    if (rc) return rc;
    mdb_txn_abort(txn);
    log_abort(t->lg);
    return 0;
}

/* Opens the log for writing and recovers (catch_up). */
static int table_recover(table *t)
{
    log_options lo = LOG_OPTIONS_INIT;
    int rc;
    lo.sync = t->conf.info.durability;
    if (t->conf.segment_bytes) lo.segment_bytes = t->conf.segment_bytes;
    if (!t->lg && (rc = log_open(t->log_dir, &lo, &t->lg))) return rc;
    /* A bulk writer seals while its LMDB commit syncs (ws_apply_commit): about 9% of a load. */
    if (t->flags & TABLE_BULK) log_defer_seal(t->lg, 1);
    return catch_up(t);
}

/* A reader never sees less than was acknowledged. A writer acknowledges once its log commit is
 * durable, before its LMDB commit: one killed in between (or a bulk writer between its joined
 * LMDB commits) leaves acknowledged writes only in the log. When the log ends past the items'
 * seq, this read-only handle recovers as a writer would (waiting for a live writer's commit,
 * which takes the same lock) before it reads. */
static int reader_catch_up(table *t)
{
    MDB_txn *txn;
    uint64_t last, applied;
    int rc;
    if ((rc = log_end(t->log_dir, &last, NULL, 0))) return rc;
    if ((rc = env_txn_begin(t->env, MDB_RDONLY, &txn))) return lmdb_err(rc, "begin read", t->dir);
    applied = meta_get_u64(txn, t->env->meta, "applied_seq");
    mdb_txn_abort(txn);
    if (last <= applied) return 0;
    rc = table_recover(t);
    log_close(t->lg);
    t->lg = NULL;
    if (rc)
        err_wrap(rc, "table %s: the log holds acknowledged writes up to seq %" PRIu64 " that the "
                 "items (at seq %" PRIu64 ") lack, and they could not be applied: ",
                 t->conf.info.name, last, applied);
    return rc;
}

static void writer_start(table *t);
static void writer_stop(table *t);

int table_open_dir(const char *dir, unsigned flags, table **out)
{
    table *t = calloc(1, sizeof *t);
    char items[PATH_MAX];
    int rc;
    *out = NULL;
    if (!t) return err_set(TM_ENOMEM, "out of memory");
    snprintf(t->dir, sizeof t->dir, "%s", dir);
    snprintf(t->log_dir, sizeof t->log_dir, "%s/log", dir);
    t->flags = flags;
    pthread_mutex_init(&t->gc_mu, NULL);
    pthread_cond_init(&t->gc_cv, NULL);
    if ((rc = conf_read(dir, &t->conf))) goto out;
    snprintf(items, sizeof items, "%s/items", dir);
    if ((rc = env_acquire(items, flags, &t->env))) goto out;
    if (!(flags & TABLE_RDONLY)) logend_open(t);   /* readers never consult it */
    snap_info *snaps = NULL;
    size_t nsnap = 0;
    if (snap_list(dir, &snaps, &nsnap) == 0 && nsnap) {
        t->snap_seq = snaps[nsnap - 1].seq;
        t->snap_time = snaps[nsnap - 1].time_us;
        t->have_snap = 1;
    }
    free(snaps);
    if (!(flags & TABLE_RDONLY)) {
        if ((rc = table_recover(t))) goto out;
    } else if ((rc = reader_catch_up(t))) {
        goto out;
    }
    if ((flags & TABLE_SHARED) && !(flags & (TABLE_RDONLY | TABLE_BULK))) writer_start(t);
    *out = t;
    return 0;
out:
    table_close(t);
    return rc;
}

int table_open(const char *home, const char *name, unsigned flags, table **out)
{
    char dir[PATH_MAX];
    int rc;
    *out = NULL;
    if ((rc = table_check_name(name))) return rc;
    table_path(home, name, NULL, dir, sizeof dir);
    if (!fsx_exists(dir)) return err_set(TM_ENOTFOUND, "table %s not found (data directory %s)", name, home);
    return table_open_dir(dir, flags, out);
}

void table_close(table *t)
{
    if (!t) return;
    writer_stop(t);
    table_flush(t);
    log_close(t->lg);
    env_release(t->env);
    if (t->logend) munmap(t->logend, 8);
    pthread_mutex_destroy(&t->gc_mu);
    pthread_cond_destroy(&t->gc_cv);
    free(t);
}

const char *table_dir(const table *t) { return t->dir; }
const char *table_log_dir(const table *t) { return t->log_dir; }
const table_recovery *table_last_recovery(const table *t) { return &t->recovery; }
const char *table_deferred_error(const table *t) { return t->deferred[0] ? t->deferred : NULL; }
uint64_t table_group_commits(const table *t) { return t->group_commits; }

/* table_describe without the reader's catch-up (which reads the log's newest segment), for the
 * window and gap queries: their callers opened or read the table just before, which caught up. */
static int describe(table *t, table_info *out, int catch_up)
{
    MDB_txn *txn;
    MDB_stat st;
    int rc;
    table_conf c;
    if ((rc = table_flush(t))) return rc;
    if (catch_up && (t->flags & TABLE_RDONLY) && (rc = reader_catch_up(t))) return rc;
    /* table.json may have been changed by another process (pitr enable). */
    if (conf_read(t->dir, &c) == 0) t->conf.info = c.info;
    *out = t->conf.info;
    if ((rc = env_txn_begin(t->env, MDB_RDONLY, &txn))) return lmdb_err(rc, "read", t->dir);
    mdb_stat(txn, t->env->items, &st);
    out->item_count = st.ms_entries;
    out->size_bytes = meta_get_u64(txn, t->env->meta, "bytes");
    out->applied_seq = meta_get_u64(txn, t->env->meta, "applied_seq");
    out->last_write_us = (int64_t)meta_get_u64(txn, t->env->meta, "last_time");
    mdb_txn_abort(txn);
    return 0;
}

int table_describe(table *t, table_info *out) { return describe(t, out, 1); }

/* ================================================================ write path ==== */

typedef struct wstate {
    table *t;
    MDB_txn *txn;
    uint64_t seq;
    int64_t time;
    uint64_t bytes;
    buf val;
    int writes;
    size_t payload;          /* bytes of keys and images written in this txn */
    int failed;              /* sticky: a write failed after its log record was buffered */
} wstate;

/* Applies one change to LMDB inside txn (no log). new_img NULL: delete. */
static int apply_change(table *t, MDB_txn *txn, uint64_t *bytes, const void *key, size_t kn,
                        const void *new_img, size_t nn, uint32_t new_size, buf *val)
{
    MDB_val k = {kn, (void *)key}, v;
    int rc = mdb_get(txn, t->env->items, &k, &v);
    if (rc == 0 && v.mv_size >= 4) *bytes -= rd_u32le(v.mv_data);
    else if (rc && rc != MDB_NOTFOUND) return lmdb_err(rc, "get", t->dir);
    if (!new_img) {
        if (rc == 0 && (rc = mdb_del(txn, t->env->items, &k, NULL))) return lmdb_err(rc, "delete", t->dir);
        return 0;
    }
    buf_reset(val);
    if ((rc = buf_put_u32le(val, new_size)) || (rc = buf_append(val, new_img, nn))) return rc;
    v.mv_size = val->len;
    v.mv_data = val->data;
    if ((rc = mdb_put(txn, t->env->items, &k, &v, 0))) return lmdb_err(rc, "put", t->dir);
    *bytes += new_size;
    return 0;
}

/* Replays log records (applied, last] into txn: what a crash left durable but unapplied. */
static int replay(table *t, MDB_txn *txn, uint64_t applied, uint64_t last, uint64_t *replayed)
{
    log_reader *r = NULL;
    log_record rec;
    buf val = BUF_INIT;
    uint64_t bytes = meta_get_u64(txn, t->env->meta, "bytes"), n = 0;
    int64_t time = 0;
    int rc = log_reader_open(t->log_dir, applied + 1, last, LOG_FORWARD, &r);
    if (rc) goto out;
    while ((rc = log_reader_next(r, &rec)) == 1) {
        uint32_t size = 0;
        if (rec.new_len && (rc = item_encoded_size(rec.new_img, rec.new_len, &size))) goto out;
        if ((rc = env_reserve(t->env, txn, rec.key_len + rec.new_len))) goto out;
        if ((rc = apply_change(t, txn, &bytes, rec.key, rec.key_len, rec.new_len ? rec.new_img : NULL,
                               rec.new_len, size, &val)))
            goto out;
        time = rec.time_us;
        n++;
    }
    if (rc < 0) goto out;
    rc = 0;
    if (n != last - applied) {
        rc = err_set(TM_ECORRUPT, "%s: replay found %" PRIu64 " records, expected %" PRIu64, t->log_dir, n,
                     last - applied);
        goto out;
    }
    if ((rc = meta_put_u64(txn, t->env->meta, "applied_seq", last)) ||
        (rc = meta_put_u64(txn, t->env->meta, "last_time", (uint64_t)time)) ||
        (rc = meta_put_u64(txn, t->env->meta, "bytes", bytes))) {
        rc = lmdb_err(rc, "meta", t->dir);
        goto out;
    }
    *replayed += n;
out:
    log_reader_close(r);
    buf_free(&val);
    return rc;
}

/* Takes the write lock (LMDB write txn), catches the log up and recovers. */
static int table_txn_begin(table *t, MDB_txn **out)
{
    MDB_txn *txn;
    log_recovery lr;
    int rc;
    if (!t->lg) return err_set(TM_EINVAL, "table %s was opened read-only", t->conf.info.name);
    env_make_room(t->env);
    if ((rc = env_txn_begin(t->env, 0, &txn))) return lmdb_err(rc, "begin write", t->dir);
    memset(&lr, 0, sizeof lr);
    uint64_t applied = meta_get_u64(txn, t->env->meta, "applied_seq");
    log_set_applied(t->lg, applied);   /* recovery never cuts what the items hold */
    if ((rc = log_begin(t->lg, &lr))) goto fail;
    if (lr.truncated || lr.damaged) t->recovery.log = lr;
    uint64_t last = log_last_seq(t->lg);
    if (last > applied) {
        if ((rc = replay(t, txn, applied, last, &t->recovery.replayed))) goto fail;
        /* Commit the replay on its own so that the caller's work starts from a clean state. */
        if ((rc = mdb_txn_commit(txn))) {
            rc = lmdb_err(rc, "commit replay", t->dir);
            return rc;
        }
        if ((rc = env_txn_begin(t->env, 0, &txn))) return lmdb_err(rc, "begin write", t->dir);
    } else if (last < applied) {
        /* The items hold writes the log lacks (damaged records, a removed segment, or a NONE
         * tail lost in a crash). Refusing every later write would not bring them back: the log
         * goes on after them, and log_gaps reports them as a gap in the window. */
        if ((rc = log_fence(t->lg, applied, (int64_t)meta_get_u64(txn, t->env->meta, "last_time"))))
            goto fail;
        t->recovery.lost_first = last + 1;
        t->recovery.lost_last = applied;
    }
    logend_store(t, last > applied ? last : applied);
    *out = txn;
    return 0;
fail:
    mdb_txn_abort(txn);
    return rc;
}

static int ws_begin(table *t, wstate *w)
{
    int rc;
    memset(w, 0, sizeof *w);
    w->t = t;
    w->val = (buf)BUF_INIT;
    if ((rc = table_txn_begin(t, &w->txn))) return rc;
    w->seq = log_last_seq(t->lg);
    w->time = log_last_time(t->lg);
    int64_t mt = (int64_t)meta_get_u64(w->txn, t->env->meta, "last_time");
    if (mt > w->time) w->time = mt;
    w->bytes = meta_get_u64(w->txn, t->env->meta, "bytes");
    return 0;
}

static void ws_abort(wstate *w)
{
    if (w->txn) mdb_txn_abort(w->txn);
    w->txn = NULL;
    if (w->t && w->t->lg) log_abort(w->t->lg);
    buf_free(&w->val);
}

/* One change: log record (buffered) + LMDB update in the open txn. new_img NULL: delete.
 * A delete of an absent key writes nothing (as DynamoDB). */
static int ws_change(wstate *w, const void *key, size_t kn, const void *new_img, size_t nn,
                     uint32_t new_size, const void *old_img_hint, size_t old_hint_n, int have_old)
{
    table *t = w->t;
    MDB_val k = {kn, (void *)key}, v;
    const void *old = NULL;
    size_t on = 0;
    int rc;
    if (have_old) {
        old = old_img_hint;
        on = old_hint_n;
    } else {
        rc = mdb_get(w->txn, t->env->items, &k, &v);
        if (rc == 0) {
            old = (const char *)v.mv_data + 4;
            on = v.mv_size - 4;
        } else if (rc != MDB_NOTFOUND) {
            return lmdb_err(rc, "get", t->dir);
        }
    }
    if (!new_img && !old) return 0;
    log_record rec = {0};
    rec.seq = w->seq + 1;
    rec.time_us = clock_stamp_after(w->time, t->conf.info.name);   /* says so when far ahead */
    rec.op = !new_img ? LOG_OP_DELETE : old ? LOG_OP_UPDATE : LOG_OP_PUT;
    rec.key = key;
    rec.key_len = (uint32_t)kn;
    rec.old_img = old;
    rec.old_len = (uint32_t)on;
    rec.new_img = new_img;
    rec.new_len = (uint32_t)nn;
    /* Blocks before the record: a write refused for want of space is not in the log. */
    if ((rc = env_reserve(t->env, w->txn, kn + nn))) return rc;
    if ((rc = log_append(t->lg, &rec))) return rc;
    /* old points into LMDB's map: it stays valid until the put below, which is after append. */
    if ((rc = apply_change(t, w->txn, &w->bytes, key, kn, new_img, nn, new_size, &w->val))) {
        /* The record is in the log's batch but not in the txn (which LMDB now refuses to
         * commit): the whole batch must fail, or the log would hold a write nobody got. */
        w->failed = rc;
        return rc;
    }
    w->seq = rec.seq;
    w->time = rec.time_us;
    w->writes++;
    w->payload += kn + nn;
    return 0;
}

static void maybe_housekeep(table *t);

/* Makes the batch's records durable in the log: from here on it is acknowledged. */
static int ws_log_commit(wstate *w)
{
    if (w->failed) {
        ws_abort(w);
        return err_set(w->failed, "table %s: the batch failed at an earlier write: nothing of it was "
                       "written", w->t->conf.info.name);
    }
    int rc = log_commit(w->t->lg);
    if (rc) ws_abort(w);
    else logend_store(w->t, w->seq);
    return rc;
}

static void *seal_thread(void *lg)
{
    log_seal(lg);
    return NULL;
}

/* Applies to LMDB what the log already holds, and releases the write lock. */
static int ws_apply_commit(wstate *w)
{
    table *t = w->t;
    int rc;
    if ((rc = meta_put_u64(w->txn, t->env->meta, "applied_seq", w->seq)) ||
        (rc = meta_put_u64(w->txn, t->env->meta, "last_time", (uint64_t)w->time)) ||
        (rc = meta_put_u64(w->txn, t->env->meta, "bytes", w->bytes))) {
        lmdb_err(rc, "meta", t->dir);
        snprintf(t->deferred, sizeof t->deferred, "%s", err_msg());
        ws_abort(w);
        return 0;   /* durable in the log all the same: see below */
    }
    /* A bulk writer's due seal (CPU) runs beside the commit's page sync (I/O); the write lock
     * keeps every other user of the log out meanwhile. */
    pthread_t sealer;
    int sealing = (t->flags & TABLE_BULK) && log_seal_due(t->lg) &&
                  pthread_create(&sealer, NULL, seal_thread, t->lg) == 0;
    rc = mdb_txn_commit(w->txn);
    if (sealing) pthread_join(sealer, NULL);
    else if (t->flags & TABLE_BULK) log_seal(t->lg);
    w->txn = NULL;
    buf_free(&w->val);
    /* The writes are acknowledged: their log records are durable, and the next open (a reader's
     * too) applies them. So a failed apply does not fail them (a caller told "failed" must never
     * find its write); it is kept for table_deferred_error. */
    if (rc) {
        lmdb_err(rc, "commit", t->dir);
        snprintf(t->deferred, sizeof t->deferred, "%s", err_msg());
        return 0;
    }
    maybe_housekeep(t);
    return 0;
}

static int ws_commit(wstate *w)
{
    int rc;
    if (!w->writes) {
        ws_abort(w);
        return 0;
    }
    if ((rc = ws_log_commit(w))) return rc;
    return ws_apply_commit(w);
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int on_writer(const table *t) { return t->wt_on && pthread_equal(pthread_self(), t->wt); }

int table_flush(table *t)
{
    if (t && t->wt_on && !on_writer(t) && __atomic_load_n(&t->wdirty, __ATOMIC_ACQUIRE)) {
        /* any LMDB commit the writer makes after this request holds every group it had
         * acknowledged before it */
        pthread_mutex_lock(&t->gc_mu);
        uint64_t gen = t->wapplies;
        while (t->wdirty && t->wapplies == gen) {
            t->wt_flush = 1;
            pthread_cond_signal(&t->wt_cv);
            pthread_cond_wait(&t->gc_cv, &t->gc_mu);
        }
        pthread_mutex_unlock(&t->gc_mu);
        return 0;
    }
    if (!t || !t->pend) return 0;
    wstate *w = t->pend;
    t->pend = NULL;
    int rc = w->writes ? ws_apply_commit(w) : (ws_abort(w), 0);
    free(w);
    return rc;
}

static int encode_item(const table *t, const item *it, buf *key, buf *val, uint32_t *size)
{
    int rc;
    if ((rc = key_encode_item(&t->conf.info.ks, it, key))) return rc;
    if ((rc = item_check_size(it))) return rc;
    *size = (uint32_t)item_size(it);
    return item_encode(it, val);
}

static int old_item(const void *img, size_t n, item **out)
{
    *out = NULL;
    return img ? item_decode(img, n, out) : 0;
}

/* ---- single writes, with group commit ----
 * Threads writing through one table handle queue their requests; the first becomes the leader,
 * runs every queued request in one write txn (in arrival order, so each sees the ones before)
 * and makes them durable with one log commit; the others wait for its word. A request that fails
 * its own checks (condition, validation) fails alone; an I/O failure fails the whole group. */

typedef struct wreq {
    const item *key_item, *new_item;
    int is_update;
    table_mutate_fn mutate;
    table_check_fn check;
    void *ctx;
    const buf *ops;           /* a joined batch's changes (batch_queue), instead of the above */
    item *old, *upd;          /* results, handed over only if the group commits */
    int rc, done;
    pthread_cond_t cv;        /* writer thread: its own wake-up (a broadcast woke every waiter
                                 of every group: a quarter of serve's CPU at 32 clients) */
    char msg[512];            /* the error detail travels to the waiting thread */
    struct wreq *next;
} wreq;

/* One request inside the leader's txn. *fatal is set when the txn itself is damaged. */
static int batch_run(wstate *w, const buf *ops, int *fatal);

static int wreq_run(table *t, wstate *w, wreq *r, buf *key, buf *key2, buf *val, int *fatal)
{
    uint32_t size = 0;
    int rc;
    if (r->ops) return batch_run(w, r->ops, fatal);
    buf_reset(key);
    buf_reset(key2);
    buf_reset(val);
    if ((rc = key_encode_item(&t->conf.info.ks, r->key_item, key))) return rc;
    MDB_val k = {key->len, key->data}, v;
    const void *oimg = NULL;
    size_t on = 0;
    rc = mdb_get(w->txn, t->env->items, &k, &v);
    if (rc == 0) {
        oimg = (const char *)v.mv_data + 4;
        on = v.mv_size - 4;
    } else if (rc != MDB_NOTFOUND) {
        *fatal = 1;
        return lmdb_err(rc, "get", t->dir);
    }
    if ((rc = old_item(oimg, on, &r->old))) return rc;
    if (r->check && (rc = r->check(r->ctx, r->old))) return rc;
    const item *to_write = r->new_item;
    if (r->is_update) {
        const key_schema *ks = &t->conf.info.ks;
        if (r->old) {
            r->upd = item_dup(r->old);
        } else if ((r->upd = item_new())) {
            const av *pk = item_get(r->key_item, ks->hash_name);
            const av *sk = ks->range_type ? item_get(r->key_item, ks->range_name) : NULL;
            if (pk) rc = item_put(r->upd, ks->hash_name, pk);
            if (!rc && sk) rc = item_put(r->upd, ks->range_name, sk);
        }
        if (!r->upd) return err_set(TM_ENOMEM, "out of memory");
        if (rc || (rc = r->mutate(r->ctx, r->upd))) return rc;
        if ((rc = key_encode_item(ks, r->upd, key2))) return rc;
        if (key2->len != key->len || memcmp(key2->data, key->data, key->len))
            return err_set(TM_EINVAL, "an update must not change the key attributes");
        to_write = r->upd;
    }
    if (to_write) {
        buf_reset(key2);
        if ((rc = encode_item(t, to_write, key2, val, &size))) return rc;
    }
    if ((rc = ws_change(w, key->data, key->len, to_write ? val->data : NULL, val->len, size, oimg, on, 1)))
        *fatal = 1;
    return rc;
}

static void wreq_fail(wreq *r, int rc)
{
    r->rc = rc;
    snprintf(r->msg, sizeof r->msg, "%s", err_msg());
    item_free(r->old);
    item_free(r->upd);
    r->old = r->upd = NULL;
}

/* The leader's work: every request of the group in one txn and one durable commit. */
static void group_run(table *t, wreq *group)
{
    buf key = BUF_INIT, key2 = BUF_INIT, val = BUF_INIT;
    wstate w;
    int rc = table_flush(t), fatal = 0;
    if (!rc) rc = ws_begin(t, &w);
    if (rc) {
        for (wreq *r = group; r; r = r->next) wreq_fail(r, rc);
        return;
    }
    for (wreq *r = group; r && !fatal; r = r->next) {
        if ((r->rc = wreq_run(t, &w, r, &key, &key2, &val, &fatal)) && !fatal) wreq_fail(r, r->rc);
        if (fatal) rc = r->rc;
    }
    if (!fatal) rc = ws_commit(&w);
    else ws_abort(&w);
    if (rc)
        for (wreq *r = group; r; r = r->next)
            if (!r->rc || fatal) wreq_fail(r, rc);
    buf_free(&key);
    buf_free(&key2);
    buf_free(&val);
}

/* ---- the writer thread of a TABLE_SHARED handle (see table.h) ----
 * LMDB binds a write txn to the thread that began it (its lock is a thread's mutex), so one
 * thread runs every group of the handle and owns wpend, the txn they share. */

static int snapshot_due(const table *t, uint64_t seq, int64_t time);

/* One group in wpend (begun if need be) and one log commit. A failure aborts wpend: its
 * earlier groups are durable in the log, and the next txn replays them (table_txn_begin). */
static void writer_group(table *t, wreq *group)
{
    buf key = BUF_INIT, key2 = BUF_INIT, val = BUF_INIT;
    wstate *w = t->wpend;
    int rc = 0, fatal = 0;
    if (!w) {
        if (!(w = malloc(sizeof *w))) rc = err_set(TM_ENOMEM, "out of memory");
        else if ((rc = ws_begin(t, w))) free(w);
        if (rc) {
            for (wreq *r = group; r; r = r->next) wreq_fail(r, rc);
            return;
        }
        t->wpend = w;
        t->pend_since = mono_ms();
    }
    int before = w->writes;
    for (wreq *r = group; r && !fatal; r = r->next) {
        if ((r->rc = wreq_run(t, w, r, &key, &key2, &val, &fatal)) && !fatal) wreq_fail(r, r->rc);
        if (fatal) rc = r->rc;
    }
    if (fatal) ws_abort(w);
    else if (w->writes > before) rc = ws_log_commit(w);   /* aborts w when it fails */
    if (rc) {
        free(w);
        t->wpend = NULL;
        for (wreq *r = group; r; r = r->next)
            if (!r->rc || fatal) wreq_fail(r, rc);
        if (before) catch_up(t);   /* its replay commits them */
    }
    buf_free(&key);
    buf_free(&key2);
    buf_free(&val);
}

/* Commits wpend to LMDB (its writes are durable already: a failure is kept as deferred). */
static void writer_apply(table *t)
{
    wstate *w = t->wpend;
    t->wpend = NULL;
    if (w->writes) ws_apply_commit(w);
    else ws_abort(w);
    free(w);
}

static void *writer_main(void *arg)
{
    table *t = arg;
    pthread_mutex_lock(&t->gc_mu);
    for (;;) {
        if (t->wt_pause && !t->wpend) {
            t->wt_paused = 1;
            pthread_cond_broadcast(&t->gc_cv);
            while (t->wt_pause && !t->wt_stop) pthread_cond_wait(&t->wt_cv, &t->gc_mu);
            t->wt_paused = 0;
            if (t->wt_stop && !t->gc_head) break;
            continue;
        }
        if (t->wt_recover && !t->wt_pause) {
            /* a reader found the log ahead of the items: commit what waits, then the
             * recovery of a txn's begin (waiting for another process's commit) */
            pthread_mutex_unlock(&t->gc_mu);
            if (t->wpend) writer_apply(t);
            catch_up(t);
            pthread_mutex_lock(&t->gc_mu);
            t->wt_recover = 0;
            __atomic_store_n(&t->wdirty, 0, __ATOMIC_RELEASE);
            t->wapplies++;
            pthread_cond_broadcast(&t->gc_cv);
            continue;
        }
        wreq *group = t->wt_pause ? NULL : t->gc_head;
        int apply = t->wpend && (t->wt_flush || t->wt_pause || t->wt_stop ||
                                 mono_ms() - t->pend_since >= TABLE_SHARED_MS);
        if (!group && !apply) {
            if (t->wt_stop) break;
            if (t->wpend) {
                double wait_ms = t->pend_since + TABLE_SHARED_MS - mono_ms();
                long long ns = wait_ms > 0 ? (long long)(wait_ms * 1e6) : 0;
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ns += ts.tv_nsec;
                ts.tv_sec += (time_t)(ns / 1000000000LL);
                ts.tv_nsec = (long)(ns % 1000000000LL);
                pthread_cond_timedwait(&t->wt_cv, &t->gc_mu, &ts);
            } else {
                pthread_cond_wait(&t->wt_cv, &t->gc_mu);
            }
            continue;
        }
        if (group) t->gc_head = t->gc_tail = NULL;
        if (apply) t->wt_flush = 0;
        pthread_mutex_unlock(&t->gc_mu);
        if (group) {
            writer_group(t, group);
            t->group_commits++;
            wstate *w = t->wpend;
            if (w && (w->writes >= TABLE_BULK_OPS || w->payload >= BULK_BYTES || snapshot_due(t, w->seq, w->time)))
                apply = 1;
            pthread_mutex_lock(&t->gc_mu);
            for (wreq *g = group, *next; g; g = next) {
                next = g->next;
                g->done = 1;
                pthread_cond_signal(&g->cv);   /* g may be gone once gc_mu is released */
            }
            __atomic_store_n(&t->wdirty, t->wpend != NULL, __ATOMIC_RELEASE);
            pthread_mutex_unlock(&t->gc_mu);
        }
        if (apply && t->wpend) writer_apply(t);
        pthread_mutex_lock(&t->gc_mu);
        if (!t->wpend && t->wdirty) {
            __atomic_store_n(&t->wdirty, 0, __ATOMIC_RELEASE);
            t->wapplies++;
            pthread_cond_broadcast(&t->gc_cv);
        }
    }
    pthread_mutex_unlock(&t->gc_mu);
    return NULL;
}

static void writer_start(table *t)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);   /* its timed waits count mono_ms */
    pthread_cond_init(&t->wt_cv, &a);
    pthread_condattr_destroy(&a);
    t->wt_on = pthread_create(&t->wt, NULL, writer_main, t) == 0;
    if (!t->wt_on) pthread_cond_destroy(&t->wt_cv);   /* the leaders' group commit, as before */
}

/* Commits what waits and ends the thread; the handle goes on without it. */
static void writer_stop(table *t)
{
    if (!t->wt_on) return;
    pthread_mutex_lock(&t->gc_mu);
    t->wt_stop = 1;
    pthread_cond_signal(&t->wt_cv);
    pthread_mutex_unlock(&t->gc_mu);
    pthread_join(t->wt, NULL);
    t->wt_on = 0;
    pthread_cond_destroy(&t->wt_cv);
}

/* Before a caller takes the write lock itself (a batch, a settings change): the writer commits
 * what waits and starts no txn until writer_resume. */
static void writer_pause(table *t)
{
    if (!t->wt_on || on_writer(t)) return;
    pthread_mutex_lock(&t->gc_mu);
    t->wt_pause++;
    pthread_cond_signal(&t->wt_cv);
    while (!t->wt_paused) pthread_cond_wait(&t->gc_cv, &t->gc_mu);
    pthread_mutex_unlock(&t->gc_mu);
}

/* A reader's catch-up through the writer thread (see writer_main). */
static void writer_recover(table *t)
{
    pthread_mutex_lock(&t->gc_mu);
    uint64_t gen = t->wapplies;
    t->wt_recover = 1;
    pthread_cond_signal(&t->wt_cv);
    while (t->wapplies == gen) pthread_cond_wait(&t->gc_cv, &t->gc_mu);
    pthread_mutex_unlock(&t->gc_mu);
}

/* A read txn of a handle that has every write acknowledged before the call: its own writer's
 * (table_flush) and, on a shared handle, other processes' (LOGEND, then one catch-up). */
static int read_txn_begin(table *t, MDB_txn **txn)
{
    uint64_t need = t->wt_on ? logend_load(t) : 0;
    int rc = table_flush(t);
    if (rc) return rc;
    for (int caught_up = 0;; caught_up = 1) {
        if ((rc = env_txn_begin(t->env, MDB_RDONLY, txn))) return lmdb_err(rc, "begin read", t->dir);
        if (!need || caught_up || meta_get_u64(*txn, t->env->meta, "applied_seq") >= need) return 0;
        mdb_txn_abort(*txn);
        *txn = NULL;
        writer_recover(t);
    }
}

static void writer_resume(table *t)
{
    if (!t->wt_on || on_writer(t)) return;
    pthread_mutex_lock(&t->gc_mu);
    if (--t->wt_pause == 0) pthread_cond_signal(&t->wt_cv);
    pthread_mutex_unlock(&t->gc_mu);
}

static int wreq_submit(table *t, wreq *rq);

static int table_write1(table *t, const item *key_item, const item *new_item, int is_update,
                        table_mutate_fn mutate, table_check_fn check, void *ctx, item **old_out,
                        item **new_out)
{
    wreq r;
    memset(&r, 0, sizeof r);
    r.key_item = key_item;
    r.new_item = new_item;
    r.is_update = is_update;
    r.mutate = mutate;
    r.check = check;
    r.ctx = ctx;
    if (old_out) *old_out = NULL;
    if (new_out) *new_out = NULL;
    int rc = wreq_submit(t, &r);
    if (rc) return rc;
    if (old_out) *old_out = r.old;
    else item_free(r.old);
    if (new_out) *new_out = r.upd;
    else item_free(r.upd);
    return 0;
}

/* Queues r and waits until its group is done (led by this thread, another, or the writer). */
static int wreq_submit(table *t, wreq *rq)
{
    pthread_mutex_lock(&t->gc_mu);
    if (t->gc_tail) t->gc_tail->next = rq;
    else t->gc_head = rq;
    t->gc_tail = rq;
    if (t->wt_on) {
        pthread_cond_init(&rq->cv, NULL);
        pthread_cond_signal(&t->wt_cv);
        while (!rq->done) pthread_cond_wait(&rq->cv, &t->gc_mu);
        pthread_mutex_unlock(&t->gc_mu);
        pthread_cond_destroy(&rq->cv);
        if (rq->rc) {
            err_set(rq->rc, "%s", rq->msg);
            return rq->rc;
        }
        return 0;
    }
    while (!rq->done) {
        if (t->gc_leader || t->wt_on) {
            pthread_cond_wait(&t->gc_cv, &t->gc_mu);
            continue;
        }
        wreq *group = t->gc_head;
        t->gc_head = t->gc_tail = NULL;
        t->gc_leader = 1;
        pthread_mutex_unlock(&t->gc_mu);
        group_run(t, group);
        t->group_commits++;
        pthread_mutex_lock(&t->gc_mu);
        for (wreq *g = group, *next; g; g = next) {
            next = g->next;
            g->done = 1;
        }
        t->gc_leader = 0;
        pthread_cond_broadcast(&t->gc_cv);
    }
    pthread_mutex_unlock(&t->gc_mu);
    if (rq->rc) {
        err_set(rq->rc, "%s", rq->msg);
        return rq->rc;
    }
    return 0;
}

int table_get(table *t, const item *key_item, item **out)
{
    buf key = BUF_INIT;
    MDB_txn *txn = NULL;
    int rc;
    *out = NULL;
    if ((rc = key_encode_item(&t->conf.info.ks, key_item, &key))) goto out;
    if ((rc = read_txn_begin(t, &txn))) goto out;
    MDB_val k = {key.len, key.data}, v;
    rc = mdb_get(txn, t->env->items, &k, &v);
    if (rc == MDB_NOTFOUND) rc = err_set(TM_ENOTFOUND, "item not found");
    else if (rc) rc = lmdb_err(rc, "get", t->dir);
    else rc = items_corrupt(t->dir, key.data, key.len, item_decode((const char *)v.mv_data + 4, v.mv_size - 4, out));
out:
    if (txn) mdb_txn_abort(txn);
    buf_free(&key);
    return rc;
}

int table_put(table *t, const item *it, table_check_fn check, void *ctx, item **old_out)
{
    return table_write1(t, it, it, 0, NULL, check, ctx, old_out, NULL);
}

int table_delete_item(table *t, const item *key, table_check_fn check, void *ctx, item **old_out)
{
    return table_write1(t, key, NULL, 0, NULL, check, ctx, old_out, NULL);
}

int table_update(table *t, const item *key, table_mutate_fn mutate, table_check_fn check, void *ctx,
                 item **new_out)
{
    return table_write1(t, key, NULL, 1, mutate, check, ctx, NULL, new_out);
}

/* ---- batches ---- */

struct table_batch {
    wstate w;
    buf key, val;
    int paused;              /* it paused the handle's writer thread */
    /* on a shared handle the batch joins the writer's groups: its changes are queued here and
     * run in the writer's txn, made durable by the group's log commit */
    int queued;
    buf q;                   /* per change: u32le kn, u32le in, u32le size, u8 delete, key, image */
    size_t nq;
};

/* A queued batch's changes in the writer's txn; a failure fails the group (*fatal). */
static int batch_run(wstate *w, const buf *ops, int *fatal)
{
    const unsigned char *p = (const unsigned char *)ops->data, *end = p + ops->len;
    while (p < end) {
        uint32_t kn = rd_u32le(p), in = rd_u32le(p + 4), size = rd_u32le(p + 8);
        int del = p[12];
        const unsigned char *key = p + 13, *img = key + kn;
        int rc = ws_change(w, key, kn, del ? NULL : img, in, size, NULL, 0, 0);
        if (rc) {
            *fatal = 1;
            return rc;
        }
        p = img + in;
    }
    return 0;
}

/* One change of a batch: queued (shared handle) or into its own txn. */
static int batch_change(table_batch *b, const void *key, size_t kn, const void *img, size_t in, uint32_t size)
{
    if (!b->queued) return ws_change(&b->w, key, kn, img, in, size, NULL, 0, 0);
    int rc;
    unsigned char del = img == NULL;
    if ((rc = buf_put_u32le(&b->q, (uint32_t)kn)) || (rc = buf_put_u32le(&b->q, (uint32_t)(img ? in : 0))) ||
        (rc = buf_put_u32le(&b->q, size)) || (rc = buf_append(&b->q, &del, 1)) ||
        (rc = buf_append(&b->q, key, kn)) || (img && (rc = buf_append(&b->q, img, in))))
        return rc;
    b->nq++;
    return 0;
}

int table_batch_begin(table *t, table_batch **out)
{
    table_batch *b = calloc(1, sizeof *b);
    int rc;
    *out = NULL;
    if (!b) return err_set(TM_ENOMEM, "out of memory");
    b->key = (buf)BUF_INIT;
    b->val = (buf)BUF_INIT;
    b->q = (buf)BUF_INIT;
    if (t->wt_on && !on_writer(t)) {
        b->w.t = t;
        b->queued = 1;
        *out = b;
        return 0;
    }
    if (t->pend) { /* a bulk handle goes on in the txn it already holds */
        b->w = *t->pend;
        free(t->pend);
        t->pend = NULL;
        b->w.val = (buf)BUF_INIT;
        *out = b;
        return 0;
    }
    writer_pause(t);
    b->paused = t->wt_on;
    if ((rc = ws_begin(t, &b->w))) {
        if (b->paused) writer_resume(t);
        free(b);
        return rc;
    }
    if (t->flags & TABLE_BULK) t->pend_since = mono_ms();
    *out = b;
    return 0;
}

int table_batch_put(table_batch *b, const item *it)
{
    uint32_t size;
    int rc;
    buf_reset(&b->key);
    buf_reset(&b->val);
    if ((rc = encode_item(b->w.t, it, &b->key, &b->val, &size))) return rc;
    return batch_change(b, b->key.data, b->key.len, b->val.data, b->val.len, size);
}

int table_batch_delete(table_batch *b, const item *key)
{
    int rc;
    buf_reset(&b->key);
    if ((rc = key_encode_item(&b->w.t->conf.info.ks, key, &b->key))) return rc;
    return batch_change(b, b->key.data, b->key.len, NULL, 0, 0);
}

int table_batch_put_bin(table_batch *b, const void *key, size_t kn, const void *img, size_t in)
{
    uint32_t size;
    int rc = item_encoded_size(img, in, &size);
    if (rc) return rc;
    return batch_change(b, key, kn, img, in, size);
}

int table_batch_delete_bin(table_batch *b, const void *key, size_t kn)
{
    return batch_change(b, key, kn, NULL, 0, 0);
}

int table_batch_get_bin(table_batch *b, const void *key, size_t kn, const void **img, size_t *in)
{
    table *t = b->w.t;
    MDB_val k = {kn, (void *)key}, v;
    *img = NULL;
    *in = 0;
    if (b->queued) return err_set(TM_EINVAL, "table %s: a batch of a shared handle cannot read", t->conf.info.name);
    int rc = mdb_get(b->w.txn, t->env->items, &k, &v);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc) return lmdb_err(rc, "get", t->dir);
    *img = (const char *)v.mv_data + 4;   /* after the stored size, as wreq_run reads it */
    *in = v.mv_size - 4;
    return 0;
}

/* 1 if the snapshot policy is due after a write at seq, time: a bulk writer then commits to
 * LMDB at once, since the policy runs at LMDB commits (a daily snapshot is taken that day, not
 * at the next joined commit, which may be days of history later). */
static int snapshot_due(const table *t, uint64_t seq, int64_t time)
{
    const table_info *i = &t->conf.info;
    if (!i->pitr_enabled || !(i->snapshot_every_s || i->snapshot_every_writes)) return 0;
    if (!t->have_snap) return 1;
    int64_t since = t->snap_time ? t->snap_time : i->pitr_enabled_us;
    return (i->snapshot_every_s && time - since >= i->snapshot_every_s * CLOCK_US_PER_SEC) ||
           (i->snapshot_every_writes && seq - t->snap_seq >= i->snapshot_every_writes);
}

int table_batch_commit(table_batch *b)
{
    table *t = b->w.t;
    int rc = 0;
    if (b->queued) {
        wreq r;
        memset(&r, 0, sizeof r);
        r.ops = &b->q;
        if (b->nq) rc = wreq_submit(t, &r);
    } else if ((t->flags & TABLE_BULK) && b->w.writes) {
        if (!(rc = ws_log_commit(&b->w))) {
            if (b->w.writes >= TABLE_BULK_OPS || b->w.payload >= BULK_BYTES ||
                mono_ms() - t->pend_since >= TABLE_BULK_MS ||
                snapshot_due(t, b->w.seq, b->w.time)) {
                rc = ws_apply_commit(&b->w);
            } else if (!(t->pend = malloc(sizeof *t->pend))) {
                rc = ws_apply_commit(&b->w);
            } else {
                buf_free(&b->w.val);
                *t->pend = b->w;
                b->w.txn = NULL;
            }
        }
    } else {
        rc = ws_commit(&b->w);
    }
    if (b->paused) writer_resume(t);
    buf_free(&b->key);
    buf_free(&b->val);
    buf_free(&b->q);
    free(b);
    return rc;
}

void table_batch_abort(table_batch *b)
{
    if (!b) return;
    if (!b->queued) ws_abort(&b->w);
    if (b->paused) writer_resume(b->w.t);
    buf_free(&b->q);
    buf_free(&b->key);
    buf_free(&b->val);
    free(b);
}

/* ================================================================ reads ==== */

struct table_read {
    table *t;
    MDB_txn *txn;
    size_t since_drop;       /* bytes read since the map's pages were last dropped */
    uintptr_t seen_lo, seen_hi;  /* map addresses read since then */
    uint64_t seq, count;
    int64_t time;
};

int table_read_begin(table *t, table_read **out)
{
    int rc;
    *out = NULL;
    if ((t->flags & TABLE_RDONLY) && (rc = reader_catch_up(t))) return rc;
    table_read *r = calloc(1, sizeof *r);
    if (!r) return err_set(TM_ENOMEM, "out of memory");
    r->t = t;
    if ((rc = read_txn_begin(t, &r->txn))) {
        free(r);
        return rc;
    }
    MDB_stat st;
    mdb_stat(r->txn, t->env->items, &st);
    r->count = st.ms_entries;
    r->seq = meta_get_u64(r->txn, t->env->meta, "applied_seq");
    r->time = (int64_t)meta_get_u64(r->txn, t->env->meta, "last_time");
    *out = r;
    return 0;
}

uint64_t table_read_seq(const table_read *r) { return r->seq; }
int64_t table_read_time(const table_read *r) { return r->time; }
uint64_t table_read_count(const table_read *r) { return r->count; }

void table_read_end(table_read *r)
{
    if (!r) return;
    mdb_txn_abort(r->txn);
    free(r);
}

int table_read_range(table_read *r, const void *lo, size_t lon, const void *hi, size_t hin, int backward,
                     table_raw_fn fn, void *ctx)
{
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(r->txn, r->t->env->items, &c);
    if (rc) return lmdb_err(rc, "cursor", r->t->dir);
    if (!backward) {
        k.mv_size = lon;
        k.mv_data = (void *)lo;
        rc = lon ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(c, &k, &v, MDB_FIRST);
    } else if (hi) {
        /* Last key < hi. */
        k.mv_size = hin;
        k.mv_data = (void *)hi;
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND) rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
        else if (rc == 0) rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
    } else {
        rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    }
    int ret = 0;
    MDB_val prev = {0, NULL};   /* keys come strictly ordered, or a damaged page led elsewhere */
    uint64_t n = 0;
    while (rc == 0) {
        if (prev.mv_data && (val_cmp(&k, &prev) > 0) == !!backward) {
            char file[PATH_MAX], kt[160];
            items_file(r->t->dir, file, sizeof file);
            key_text(k.mv_data, k.mv_size, kt, sizeof kt);
            ret = err_set(TM_ECORRUPT, "%s: damaged: key \"%s\" comes out of order; run tidemark items "
                          "verify", file, kt);
            break;
        }
        prev = k;
        n++;
        if (!backward && hi) {
            size_t m = k.mv_size < hin ? k.mv_size : hin;
            int cmp = memcmp(k.mv_data, hi, m);
            if (cmp > 0 || (cmp == 0 && k.mv_size >= hin)) break;
        }
        if (backward && lo) {
            size_t m = k.mv_size < lon ? k.mv_size : lon;
            int cmp = memcmp(k.mv_data, lo, m);
            if (cmp < 0 || (cmp == 0 && k.mv_size < lon)) break;
        }
        /* Sizes no item can have: a damaged node (an encoded item is at most a few times its
         * DynamoDB size, which is at most ITEM_MAX_BYTES). */
        if (v.mv_size < 5 || v.mv_size > 4 + 4 * (size_t)ITEM_MAX_BYTES || rd_u32le(v.mv_data) > ITEM_MAX_BYTES) {
            ret = items_corrupt(r->t->dir, k.mv_data, k.mv_size,
                                err_set(TM_ECORRUPT, "value of %zu bytes, item size %u: no item has them",
                                        v.mv_size, v.mv_size >= 4 ? (unsigned)rd_u32le(v.mv_data) : 0u));
            break;
        }
        if ((ret = fn(ctx, k.mv_data, k.mv_size, (const char *)v.mv_data + 4, v.mv_size - 4))) {
            items_corrupt(r->t->dir, k.mv_data, k.mv_size, ret);   /* H1: name file and key */
            break;
        }
        uintptr_t a = (uintptr_t)k.mv_data < (uintptr_t)v.mv_data ? (uintptr_t)k.mv_data : (uintptr_t)v.mv_data;
        uintptr_t z = (uintptr_t)v.mv_data + v.mv_size;
        if (!r->seen_lo || a < r->seen_lo) r->seen_lo = a;
        if (z > r->seen_hi) r->seen_hi = z;
        if ((r->since_drop += k.mv_size + v.mv_size) >= READ_DROP_BYTES) {
            map_drop(r->seen_lo, r->seen_hi);
            r->since_drop = 0;
            r->seen_lo = r->seen_hi = 0;
        }
        rc = mdb_cursor_get(c, &k, &v, backward ? MDB_PREV : MDB_NEXT);
    }
    if (rc && rc != MDB_NOTFOUND && !ret) ret = lmdb_err(rc, "cursor", r->t->dir);
    MDB_stat ms;
    if (rc == MDB_NOTFOUND && !ret && !lon && !hi && mdb_stat(r->txn, r->t->env->items, &ms) == 0 &&
        ms.ms_entries != n) { /* a whole walk: the tree's own count must agree */
        char file[PATH_MAX];
        items_file(r->t->dir, file, sizeof file);
        ret = err_set(TM_ECORRUPT, "%s: damaged: a walk found %" PRIu64 " items, the tree counts %zu; "
                      "run tidemark items verify", file, n, ms.ms_entries);
    }
    mdb_cursor_close(c);
    return ret;
}

int table_read_scan(table_read *r, uint32_t hash_lo, uint32_t hash_hi, table_raw_fn fn, void *ctx)
{
    unsigned char lo[4], hi[4];
    lo[0] = (unsigned char)(hash_lo >> 24); lo[1] = (unsigned char)(hash_lo >> 16);
    lo[2] = (unsigned char)(hash_lo >> 8);  lo[3] = (unsigned char)hash_lo;
    if (hash_hi == UINT32_MAX) return table_read_range(r, lo, 4, NULL, 0, 0, fn, ctx);
    uint32_t h = hash_hi + 1;
    hi[0] = (unsigned char)(h >> 24); hi[1] = (unsigned char)(h >> 16);
    hi[2] = (unsigned char)(h >> 8);  hi[3] = (unsigned char)h;
    return table_read_range(r, lo, 4, hi, 4, 0, fn, ctx);
}

int table_read_get(table_read *r, const void *key, size_t kn, const void **img, size_t *in)
{
    MDB_val k = {kn, (void *)key}, v;
    int rc = mdb_get(r->txn, r->t->env->items, &k, &v);
    if (rc == MDB_NOTFOUND) return TM_ENOTFOUND;
    if (rc) return lmdb_err(rc, "get", r->t->dir);
    *img = (const char *)v.mv_data + 4;
    *in = v.mv_size - 4;
    return 0;
}

/* ================================================================ snapshots ==== */

void snap_data_path(const char *table_dir_, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/snapshots/%s/data.mdb", table_dir_, name);
}

int snap_verifiable(const snap_info *s)
{
    return s->version >= 2;
}

static int snap_read_json(const char *dir, snap_info *s)
{
    char path[PATH_MAX];
    buf b = BUF_INIT;
    int rc = 0;
    snprintf(path, sizeof path, "%s/snap.json", dir);
    if ((rc = fsx_read_file(path, 65536, &b))) return rc;
    cJSON *o = cJSON_ParseWithLength(b.data, b.len);
    buf_free(&b);
    if (!o) return err_set(TM_ECORRUPT, "%s: not valid JSON", path);
    s->seq = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "Seq"));
    s->time_us = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "Time"));
    s->item_count = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "ItemCount"));
    s->bytes = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "Bytes"));
    const cJSON *v = cJSON_GetObjectItem(o, "Version");
    s->version = cJSON_IsNumber(v) ? (int)v->valuedouble : 1;
    s->sum = 0;
    if (s->version >= 2) {
        const char *x = cJSON_GetStringValue(cJSON_GetObjectItem(o, "Xxh3"));
        char *end = NULL;
        if (x && strlen(x) == 16 && strspn(x, "0123456789abcdef") == 16)
            s->sum = strtoull(x, &end, 16);
        if (!end || *end)
            rc = err_set(TM_ECORRUPT, "%s: version %d without a valid \"Xxh3\"", path, s->version);
    }
    cJSON_Delete(o);
    return rc;
}

/* Calls fn with each snapshot directory's path and name (16 hex digits: others are staging or
 * trash), in directory order; stops at fn's first nonzero return. */
static int snap_scan(const char *tdir, int (*fn)(void *ctx, const char *sdir, const char *name),
                     void *ctx)
{
    char dir[PATH_MAX], sdir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/snapshots", tdir);
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : err_sys(TM_EIO, errno, "open %s", dir);
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.' || strlen(e->d_name) != 16) continue;
        snprintf(sdir, sizeof sdir, "%s/%s", dir, e->d_name);
        rc = fn(ctx, sdir, e->d_name);
    }
    closedir(d);
    return rc;
}

typedef struct snap_vec {
    snap_info *v;
    size_t n, cap;
    int all;                 /* keep those whose snap.json cannot be read (verify) */
} snap_vec;

static int snap_collect(void *ctx, const char *sdir, const char *name)
{
    snap_vec *sv = ctx;
    snap_info s;
    memset(&s, 0, sizeof s);
    if (snap_read_json(sdir, &s) && !sv->all) return 0; /* not complete: ignored */
    snprintf(s.name, sizeof s.name, "%s", name);
    if (sv->n == sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 8;
        snap_info *p = realloc(sv->v, cap * sizeof *p);
        if (!p) return err_set(TM_ENOMEM, "out of memory");
        sv->v = p;
        sv->cap = cap;
    }
    sv->v[sv->n++] = s;
    return 0;
}

/* By name: 16 zero-padded hex digits of the seq, so also by seq. */
static int snap_cmp(const void *a, const void *b)
{
    return strcmp(((const snap_info *)a)->name, ((const snap_info *)b)->name);
}

static int snap_gather(const char *tdir, int all, snap_info **out, size_t *n)
{
    snap_vec sv = {NULL, 0, 0, all};
    int rc = snap_scan(tdir, snap_collect, &sv);
    *out = NULL;
    *n = 0;
    if (rc) { free(sv.v); return rc; }
    if (sv.n) qsort(sv.v, sv.n, sizeof *sv.v, snap_cmp);
    *out = sv.v;
    *n = sv.n;
    return 0;
}

int snap_list(const char *tdir, snap_info **out, size_t *n)
{
    return snap_gather(tdir, 0, out, n);
}

int snap_remove(const char *tdir, const char *name)
{
    char dir[PATH_MAX], trash[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/snapshots/%s", tdir, name);
    snprintf(trash, sizeof trash, "%s/snapshots/.rm-%s", tdir, name);
    if (rename(dir, trash) < 0) return err_sys(TM_EIO, errno, "remove snapshot %s", dir);
    fsx_fsync_parent(dir);
    return fsx_rmtree(trash);
}

/* Copies through the page cache; each 16 MiB written starts its writeback at once, so the disk
 * works during the rest of the copy and whatever follows it, and the final sync finds little
 * left to do. */
#define COPY_CHUNK ((size_t)16 << 20)
/* Read size: small enough that the bytes are still in the CPU cache when they are hashed and
 * written. Measured on the restore bench's 284 MiB snapshot (2 cores under load, 15 runs):
 * copy_file_range 0.148 s min / 0.222 s median; read + XXH3 + write with 1 MiB 0.149 / 0.247,
 * 256 KiB 0.193 / 0.250, 64 KiB 0.210 / 0.325; hashing the copy through a map, or the source in
 * a second thread, cost more. */
#define SUM_READ ((size_t)1 << 20)

/* Reads file `from` once, hashing it (XXH3_64) and, when to is given, copying it there.
 * want (a snapshot's entry): a file of another length is refused before a byte is read, a
 * checksum mismatch after the last one; both, and a read error, are TM_ECORRUPT naming `from`.
 * *bytes and *sum (optional) receive what was read. */
static int sum_copy(const char *from, const char *to, const snap_info *want, uint64_t *bytes,
                    uint64_t *sum)
{
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
    int bad = want ? TM_ECORRUPT : TM_EIO;
    char *b = NULL;
    XXH3_state_t *h = NULL;
    struct stat st;
    uint64_t done = 0, flushed = 0;
    if (in < 0) return err_sys(errno == ENOENT ? TM_EMISSING : TM_EIO, errno, "open %s", from);
    if (fstat(in, &st) < 0) { rc = err_sys(TM_EIO, errno, "stat %s", from); goto out; }
    if (want && (uint64_t)st.st_size != want->bytes) {
        rc = err_set(TM_ECORRUPT, "%s: %lld bytes, snap.json says %" PRIu64 ": truncated or "
                     "damaged", from, (long long)st.st_size, want->bytes);
        goto out;
    }
    if (!(b = malloc(SUM_READ)) || !(h = XXH3_createState())) {
        rc = err_set(TM_ENOMEM, "out of memory");
        goto out;
    }
    XXH3_64bits_reset(h);
    if (to && (out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
        rc = err_sys(TM_EIO, errno, "create %s", to);
        goto out;
    }
    for (;;) {
        ssize_t n = read(in, b, SUM_READ);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { rc = err_sys(bad, errno, "read %s", from); goto out; }
        if (n == 0) break;
        XXH3_64bits_update(h, b, (size_t)n);
        done += (uint64_t)n;
        if (out < 0) continue;
        if ((rc = fsx_write_all(out, b, (size_t)n))) { /* a full disk: name the file */
            err_wrap(rc, "%s: ", to);
            goto out;
        }
        if (done - flushed >= COPY_CHUNK) {
            sync_file_range(out, (off_t)flushed, (off_t)(done - flushed), SYNC_FILE_RANGE_WRITE);
            flushed = done;
        }
    }
    if (out >= 0 && done > flushed)
        sync_file_range(out, (off_t)flushed, (off_t)(done - flushed), SYNC_FILE_RANGE_WRITE);
    if (done != (uint64_t)st.st_size) {
        rc = err_set(bad, "%s: %" PRIu64 " bytes read, %lld expected: changed while read", from,
                     done, (long long)st.st_size);
        goto out;
    }
    uint64_t s = XXH3_64bits_digest(h);
    if (want && s != want->sum) {
        rc = err_set(TM_ECORRUPT, "%s: checksum mismatch (XXH3_64 %016" PRIx64 ", snap.json says "
                     "%016" PRIx64 "): damaged", from, s, want->sum);
        goto out;
    }
    if (bytes) *bytes = done;
    if (sum) *sum = s;
out:
    XXH3_freeState(h);
    free(b);
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    return rc;
}

/* Verifies one snapshot: 0, 1 (unverifiable), or sum_copy's TM_ECORRUPT. */
static int snap_check(const char *tdir, const snap_info *s)
{
    char path[PATH_MAX];
    snap_data_path(tdir, s->name, path, sizeof path);
    if (!snap_verifiable(s)) return 1;
    char name[32];
    snprintf(name, sizeof name, "%016" PRIx64, s->seq);
    if (strcmp(name, s->name))
        return err_set(TM_ECORRUPT, "%s/snapshots/%s/snap.json: Seq %" PRIu64 " does not match "
                       "the directory's name", tdir, s->name, s->seq);
    return sum_copy(path, NULL, s, NULL, NULL);
}

int snap_verify_all(const char *tdir, snap_verify_fn fn, void *ctx)
{
    snap_info *v;
    size_t n;
    char sdir[PATH_MAX];
    int rc = snap_gather(tdir, 1, &v, &n);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        /* Read again: snap_gather kept those whose snap.json failed, without its error. */
        snprintf(sdir, sizeof sdir, "%s/snapshots/%s", tdir, v[i].name);
        rc = snap_read_json(sdir, &v[i]);
        if (!rc) rc = snap_check(tdir, &v[i]);
        fn(ctx, &v[i], rc);
    }
    free(v);
    return 0;
}

/* Reads the log position recorded inside an LMDB copy (its own meta db). */
static int copy_position(const char *items_dir, uint64_t *seq, int64_t *time, uint64_t *count,
                         uint64_t *bytes)
{
    env_ref *e;
    MDB_txn *txn;
    int rc = env_open_raw(items_dir, 0, &e);
    if (rc) return rc;
    if ((rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn))) {
        rc = lmdb_err(rc, "read copy", items_dir);
    } else {
        MDB_stat st;
        mdb_stat(txn, e->items, &st);
        *seq = meta_get_u64(txn, e->meta, "applied_seq");
        if (time) *time = (int64_t)meta_get_u64(txn, e->meta, "last_time");
        if (count) *count = st.ms_entries;
        if (bytes) *bytes = meta_get_u64(txn, e->meta, "bytes");
        mdb_txn_abort(txn);
    }
    mdb_env_close(e->env);
    free(e);
    return rc;
}

/* Snapshots are written dense: one read txn walked in key order and appended (MDB_APPEND) into
 * a fresh environment fills every leaf page, where the live tree, grown by random inserts, runs
 * about two thirds full. Measured on 1M items: 298 MB against 440 MB for LMDB's compacting copy
 * (0.85 s against about 0.4 s to take). A snapshot is taken once a day, and every restore seeded
 * from one copies and syncs a third less, and 35 days of them take a third less disk. */
static int copy_db(MDB_txn *from, MDB_dbi fdbi, env_ref *to, MDB_dbi tdbi, MDB_txn **txn)
{
    MDB_cursor *c;
    MDB_val k, v;
    unsigned n = 0;
    int rc = mdb_cursor_open(from, fdbi, &c);
    if (rc) return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if ((rc = mdb_put(*txn, tdbi, &k, &v, MDB_APPEND))) break;
        if (++n % BUILDER_TXN_OPS == 0) {
            if ((rc = mdb_txn_commit(*txn))) { *txn = NULL; break; }
            if ((rc = mdb_txn_begin(to->env, NULL, 0, txn))) { *txn = NULL; break; }
        }
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int dense_copy(env_ref *src, const char *dir)
{
    env_ref *d;
    MDB_txn *rtxn = NULL, *wtxn = NULL;
    int rc = env_open_raw(dir, MDB_NOSYNC, &d);
    if (rc) return rc;
    if ((rc = env_txn_begin(src, MDB_RDONLY, &rtxn)) || (rc = mdb_txn_begin(d->env, NULL, 0, &wtxn)) ||
        (rc = copy_db(rtxn, src->meta, d, d->meta, &wtxn)) ||
        (rc = copy_db(rtxn, src->items, d, d->items, &wtxn))) {
        rc = lmdb_err(rc, "snapshot copy", dir);
    } else {
        rc = mdb_txn_commit(wtxn);
        wtxn = NULL;
        if (!rc) rc = mdb_env_sync(d->env, 1);
        if (rc) rc = lmdb_err(rc, "snapshot commit", dir);
    }
    if (wtxn) mdb_txn_abort(wtxn);
    if (rtxn) mdb_txn_abort(rtxn);
    env_map_drop(src);   /* the walk read all of it */
    mdb_env_close(d->env);
    free(d);
    return rc;
}

int table_snapshot(table *t, snap_info *out)
{
    char tmp[PATH_MAX], final[PATH_MAX], path[PATH_MAX];
    snap_info s;
    int rc;
    memset(&s, 0, sizeof s);
    if ((rc = table_flush(t))) return rc;
    snprintf(tmp, sizeof tmp, "%s/snapshots/.tmp-%d-%" PRId64, t->dir, (int)getpid(), clock_now_us());
    if ((rc = fsx_mkdirs(tmp, 0755))) return rc;
    /* The copy runs in one read txn: it reflects exactly one log position, read back below. */
    if ((rc = dense_copy(t->env, tmp))) goto out;
    if ((rc = copy_position(tmp, &s.seq, &s.time_us, &s.item_count, NULL))) goto out;
    snprintf(path, sizeof path, "%s/lock.mdb", tmp);
    unlink(path);
    /* Hashed once written and synced (LMDB wrote it): read back from the page cache. */
    snprintf(path, sizeof path, "%s/data.mdb", tmp);
    if ((rc = sum_copy(path, NULL, NULL, &s.bytes, &s.sum))) goto out;
    s.version = SNAP_VERSION;
    snprintf(s.name, sizeof s.name, "%016" PRIx64, s.seq);
    char json[320];
    snprintf(json, sizeof json, "{\"Version\":%d,\"Seq\":%" PRIu64 ",\"Time\":%" PRId64
             ",\"ItemCount\":%" PRIu64 ",\"Bytes\":%" PRIu64 ",\"Xxh3\":\"%016" PRIx64 "\"}",
             s.version, s.seq, s.time_us, s.item_count, s.bytes, s.sum);
    snprintf(path, sizeof path, "%s/snap.json", tmp);
    if ((rc = fsx_write_atomic(path, json, strlen(json)))) goto out;
    snprintf(final, sizeof final, "%s/snapshots/%s", t->dir, s.name);
    if (fsx_exists(final)) {
        /* Nothing written since the last one: kept if it verifies, else this one replaces it. */
        snap_info old;
        memset(&old, 0, sizeof old);
        snprintf(old.name, sizeof old.name, "%s", s.name);
        if (snap_read_json(final, &old) == 0 && snap_check(t->dir, &old) == 0) {
            fsx_rmtree(tmp);
            s = old;
            goto done;
        }
        if ((rc = snap_remove(t->dir, s.name))) goto out;
    }
    if (rename(tmp, final) < 0) {
        rc = err_sys(TM_EIO, errno, "rename %s", tmp);
        goto out;
    }
    fsx_fsync_parent(final);
done:
    t->snap_seq = s.seq;
    t->snap_time = s.time_us;
    t->have_snap = 1;
    if (out) *out = s;
    return rc;
out:
    fsx_rmtree(tmp);
    return rc;
}

/* ================================================================ PITR ==== */

/* Changes table.json under the write lock, so that two processes cannot interleave. */
static int conf_update(table *t, int (*fn)(table_conf *c, void *ctx), void *ctx)
{
    MDB_txn *txn;
    table_conf c;
    int rc = table_flush(t);
    if (rc) return rc;
    writer_pause(t);
    if ((rc = env_txn_begin(t->env, 0, &txn))) {
        writer_resume(t);
        return lmdb_err(rc, "lock", t->dir);
    }
    if (!(rc = conf_read(t->dir, &c)) && !(rc = fn(&c, ctx)) && !(rc = conf_write(t->dir, &c))) t->conf = c;
    mdb_txn_abort(txn);
    writer_resume(t);
    return rc;
}

typedef struct pitr_args { int enabled, days; int snap; } pitr_args;

static int pitr_fn(table_conf *c, void *ctx)
{
    pitr_args *a = ctx;
    if (a->enabled && !c->info.pitr_enabled) {
        c->info.pitr_enabled_us = clock_now_us();
        a->snap = 1;
    }
    c->info.pitr_enabled = a->enabled;
    if (a->days) c->info.pitr_period_days = a->days;
    return 0;
}

int table_set_pitr(table *t, int enabled, int period_days)
{
    pitr_args a = {enabled, period_days, 0};
    int rc;
    if (period_days && (period_days < 1 || period_days > TABLE_PITR_MAX_DAYS))
        return err_set(TM_EINVAL, "RecoveryPeriodInDays must be between 1 and %d, got %d", TABLE_PITR_MAX_DAYS,
                       period_days);
    if ((rc = conf_update(t, pitr_fn, &a))) return rc;
    /* A base at the enable time gives forward plans a start without any earlier log. */
    if (a.snap && t->lg) {
        snap_info s;
        rc = table_snapshot(t, &s);
    }
    return rc;
}

static int durability_fn(table_conf *c, void *ctx)
{
    c->info.durability = *(log_sync_mode *)ctx;
    return 0;
}

int table_set_durability(table *t, log_sync_mode mode)
{
    return conf_update(t, durability_fn, &mode);
}

static int restore_fn(table_conf *c, void *ctx)
{
    const table_restore_summary *rs = ctx;
    c->info.restored = rs != NULL;
    memset(&c->info.restore, 0, sizeof c->info.restore);
    if (rs) c->info.restore = *rs;
    return 0;
}

int table_set_restore_summary(table *t, const table_restore_summary *rs)
{
    return conf_update(t, restore_fn, (void *)rs);
}

typedef struct snap_policy { int64_t every_s; uint64_t every_writes; } snap_policy;

static int snap_policy_fn(table_conf *c, void *ctx)
{
    snap_policy *p = ctx;
    c->info.snapshot_every_s = p->every_s;
    c->info.snapshot_every_writes = p->every_writes;
    return 0;
}

int table_set_snapshot_policy(table *t, int64_t every_s, uint64_t every_writes)
{
    snap_policy p = {every_s, every_writes};
    if (every_s < 0) return err_set(TM_EINVAL, "a snapshot interval cannot be negative");
    return conf_update(t, snap_policy_fn, &p);
}

/* pitr_floor of t's log and snapshots: what retention left bounds the window's start. */
static int history_floor(table *t, int64_t last_us, int64_t *floor_us)
{
    log_segment *segs = NULL;
    snap_info *snaps = NULL;
    size_t nseg = 0, nsnap = 0;
    int rc = log_list(t->log_dir, &segs, &nseg);
    if (!rc) rc = snap_list(t->dir, &snaps, &nsnap);
    *floor_us = rc ? 0 : pitr_floor(segs, nseg, snaps, nsnap, last_us);
    free(segs);
    free(snaps);
    return rc;
}

/* The window of t now: its settings, position and gaps, decided by pitr_window. The log is
 * current when no gap reaches the items' position. */
int table_pitr_window(table *t, int64_t *earliest, int64_t *latest)
{
    table_info i;
    log_gap *g = NULL;
    size_t ng = 0;
    int rc = describe(t, &i, 0);
    *earliest = *latest = 0;
    if (rc) return rc;
    if (!i.pitr_enabled)
        return err_set(TM_ENOTFOUND, "point-in-time recovery is not enabled for table %s", i.name);
    if ((rc = log_gaps(t->log_dir, i.applied_seq, i.last_write_us, &g, &ng))) return rc;
    pitr_window_in in = {{i.pitr_enabled, i.pitr_enabled_us, i.pitr_period_days}, clock_now_us(),
                         {i.applied_seq, i.last_write_us, 1}, g, ng, 0};
    if (ng && g[ng - 1].last_seq >= i.applied_seq) in.log.current = 0;
    if (!(rc = history_floor(t, i.last_write_us, &in.floor_us))) rc = pitr_window(&in, earliest, latest);
    free(g);
    return rc;
}

int table_log_gaps(table *t, log_gap **out, size_t *n)
{
    table_info i;
    int rc;
    *out = NULL;
    *n = 0;
    if ((rc = describe(t, &i, 0))) return rc;
    return log_gaps(t->log_dir, i.applied_seq, i.last_write_us, out, n);
}

int table_pitr_check(table *t, int64_t from_us, int64_t to_us)
{
    log_gap *g = NULL;
    size_t n = 0;
    int rc = table_log_gaps(t, &g, &n);
    for (size_t k = 0; !rc && k < n; k++) {
        /* The gap's records have times strictly between after_us and before_us. */
        if (!(g[k].after_us + 1 < to_us && g[k].before_us > from_us)) continue;
        char a[40], b[40];
        clock_format(g[k].after_us, 6, a, sizeof a);
        clock_format(g[k].before_us, 6, b, sizeof b);
        rc = err_set(TM_EMISSING, "table %s: log seqs %" PRIu64 "..%" PRIu64 " are missing (%s): the "
                     "state between %s and %s cannot be rebuilt", t->conf.info.name, g[k].first_seq,
                     g[k].last_seq, g[k].why, g[k].after_us ? a : "the log's start",
                     g[k].before_us == INT64_MAX ? "now" : b);
    }
    free(g);
    return rc;
}

/* ================================================================ retention ==== */

static int count_sealed(const char *log_dir)
{
    DIR *d = opendir(log_dir);
    int n = 0;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *dot = strrchr(e->d_name, '.');
        if (dot && e->d_name[0] != '.' && (!strcmp(dot, ".lz4") || !strcmp(dot, ".zst"))) n++;
    }
    closedir(d);
    return n;
}

/* Lists, asks pitr_retention what may go, removes it. */
int table_retain(table *t, int *removed)
{
    log_segment *segs = NULL;
    snap_info *snaps = NULL;
    unsigned char *drop = NULL;
    size_t nseg = 0, nsnap = 0;
    table_info info;
    hold_info *holds = NULL;
    size_t nholds = 0;
    int rc, n = 0, lockfd = -1;
    if (removed) *removed = 0;
    if ((rc = table_describe(t, &info))) return rc;
    if ((rc = log_list(t->log_dir, &segs, &nseg))) return rc;
    pitr_retention_in in = {{info.pitr_enabled, info.pitr_enabled_us, info.pitr_period_days}, 0,
                            info.applied_seq, segs, nseg, NULL, 0};
    if (info.pitr_enabled) {
        int64_t latest;
        if ((rc = table_pitr_window(t, &in.earliest_us, &latest))) goto out;
        if ((rc = snap_list(t->dir, &snaps, &nsnap))) goto out;
        in.snaps = snaps;
        in.nsnaps = nsnap;
    } else {
        /* The log is only the write-ahead log: what goes must be durable in LMDB. */
        mdb_env_sync(t->env->env, 1);
    }
    if (!(drop = calloc(nseg + nsnap + 1, 1))) {
        rc = err_set(TM_ENOMEM, "out of memory");
        goto out;
    }
    pitr_retention(&in, drop, drop + nseg);
    /* Holds (engine/hold.h): under their lock, nothing a running reader holds goes. */
    if ((lockfd = hold_lock(t->dir)) < 0) {
        rc = lockfd;
        goto out;
    }
    if ((rc = hold_list(t->dir, &holds, &nholds))) goto out;
    hold_filter(holds, nholds, segs, nseg, drop, snaps, nsnap, drop + nseg);
    for (size_t i = 0; i < nsnap; i++)
        if (drop[nseg + i]) {
            if ((rc = snap_remove(t->dir, snaps[i].name))) goto out;
            n++;
        }
    for (size_t i = 0; i < nseg; i++)
        if (drop[i]) {
            if ((rc = log_remove_segment(t->log_dir, segs[i].name))) goto out;
            n++;
        }
out:
    hold_unlock(lockfd);
    free(holds);
    free(drop);
    free(segs);
    free(snaps);
    if (removed) *removed = n;
    return rc;
}

/* After a commit: snapshot policy, and retention when segments were sealed. Failures here
 * never fail the write (it is already durable); the next commit tries again. */
static void maybe_housekeep(table *t)
{
    const table_info *i = &t->conf.info;
    t->commits++;
    if (i->snapshot_every_s || i->snapshot_every_writes) {
        MDB_txn *txn;
        uint64_t seq = 0;
        int64_t time = 0;
        if (env_txn_begin(t->env, MDB_RDONLY, &txn) == 0) {
            seq = meta_get_u64(txn, t->env->meta, "applied_seq");
            time = (int64_t)meta_get_u64(txn, t->env->meta, "last_time");
            mdb_txn_abort(txn);
        }
        int due = 0;
        /* An empty table's base snapshot has time 0: it stands for the state when PITR was
         * enabled, so its age counts from then. */
        int64_t since = t->snap_time ? t->snap_time : i->pitr_enabled_us;
        if (i->pitr_enabled && i->snapshot_every_s && time - since >= i->snapshot_every_s * CLOCK_US_PER_SEC)
            due = 1;
        if (i->pitr_enabled && i->snapshot_every_writes && seq - t->snap_seq >= i->snapshot_every_writes)
            due = 1;
        if (i->pitr_enabled && !t->have_snap) due = 1;
        if (due) {
            snap_info s;
            table_snapshot(t, &s);
        }
    }
    /* Without PITR the log is only the WAL: trim at once; with it, retention can wait. */
    if (count_sealed(t->log_dir) > 0 && (!i->pitr_enabled || t->commits % 64 == 0)) {
        int removed;
        table_retain(t, &removed);
    }
}

/* ================================================================ builders ==== */

/* ---- seeded builders: first-touch costs off the apply's path ----
 * After a seed, a builder changes a few pages all over a file it has just copied (a restore's
 * net change). It opens the seeded environment with WRITEMAP, as live tables are, so LMDB
 * writes the changed pages' copies straight into the file's pages instead of into pages it
 * mallocs and then writes at commit. What is left is page faults: on the seeded pages as they
 * are read (16 pages per fault) and on each new page at the end of the file. warm_start takes
 * both in a thread while the apply runs: it maps the seeded part (MADV_POPULATE_READ), front to
 * back as the apply goes (key order is file order in a dense snapshot), then the pages the
 * expected changes will add (MADV_POPULATE_WRITE). Commit cuts the file back to its used pages
 * before the sync, so pages populated beyond them are never written. Measured on the 1M-item
 * restore bench (17,500 changes after a 298 MB seed): faults had been half of the apply's time.
 * Best effort: where populating fails (an old kernel, no thread), the faults happen as before. */
typedef struct warm {
    pthread_t th;
    void *addr;
    size_t len;              /* seeded bytes: mapped for reading if read */
    int read;
    size_t grow;             /* bytes after them: mapped for writing */
    atomic_int stop;         /* the apply is done: what is left would only be waited for */
} warm;

/* Both parts in step, as the apply reaches them: so many seeded bytes, then the share of new
 * ones that the changes so far will have added. */
#define WARM_STEP ((size_t)4 << 20)

static void *warm_run(void *arg)
{
    warm *w = arg;
    char *base = w->addr;
    size_t r = w->read ? 0 : w->len, g = 0;
    while ((r < w->len || g < w->grow) && !atomic_load(&w->stop)) {
        size_t gt;
        if (r < w->len) {
            size_t rn = w->len - r < WARM_STEP ? w->len - r : WARM_STEP;
            madvise(base + r, rn, MADV_POPULATE_READ);
            r += rn;
            gt = (size_t)((double)w->grow * r / w->len) & ~(size_t)4095;
        } else {
            gt = w->grow - g < WARM_STEP ? w->grow : g + WARM_STEP;
        }
        if (gt > g) {
            madvise(base + w->len + g, gt - g, MADV_POPULATE_WRITE);
            g = gt;
        }
    }
    return NULL;
}

/* Starts the thread over e's map: len seeded bytes (mapped if read), then grow more. */
static warm *warm_start(const env_ref *e, size_t len, int read, size_t grow)
{
    char *addr;
    size_t maplen;
    warm *w;
    if (env_map_range(e, &addr, &maplen) || !(w = calloc(1, sizeof *w))) return NULL;
    len &= ~(size_t)4095;
    if (len > maplen) len = maplen;
    w->addr = addr;
    w->len = len;
    w->read = read;
    w->grow = grow < maplen - len ? grow : maplen - len;
    if (pthread_create(&w->th, NULL, warm_run, w)) {
        free(w);
        return NULL;
    }
    return w;
}

static void warm_end(warm *w)
{
    if (!w) return;
    atomic_store(&w->stop, 1);
    pthread_join(w->th, NULL);
    free(w);
}

struct table_builder {
    char home[PATH_MAX];
    char name[TABLE_NAME_MAX + 1];
    char dir[PATH_MAX];
    table_conf conf;
    env_ref *env;
    MDB_txn *txn;
    unsigned ops;
    uint64_t bytes;
    buf last_key, val;
    int seeded;
    int cached;              /* the seed was copied through the page cache */
    uint64_t expect;         /* changes expected after the seed (table_builder_expect_changes) */
    warm *warm;              /* maps the seeded file while the changes are applied */
};

int table_builder_open(const char *home, const char *name, const key_schema *ks, table_builder **out)
{
    table_builder *b;
    char final[PATH_MAX], tables[PATH_MAX];
    int rc;
    *out = NULL;
    if (name) {
        if ((rc = table_check_name(name))) return rc;
        table_path(home, name, NULL, final, sizeof final);
        if (fsx_exists(final)) return err_set(TM_EEXIST, "table %s already exists", name);
    }
    snprintf(tables, sizeof tables, "%s/tables", home);
    if ((rc = fsx_mkdirs(tables, 0755))) return rc;
    sweep_stale(home);
    if (!(b = calloc(1, sizeof *b))) return err_set(TM_ENOMEM, "out of memory");
    snprintf(b->home, sizeof b->home, "%s", home);
    snprintf(b->name, sizeof b->name, "%s", name ? name : "");
    stage_name(home, name ? "build" : "tmp", b->dir, sizeof b->dir);
    b->last_key = (buf)BUF_INIT;
    b->val = (buf)BUF_INIT;
    snprintf(b->conf.info.name, sizeof b->conf.info.name, "%s", name ? name : strrchr(b->dir, '/') + 1);
    b->conf.info.ks = *ks;
    make_uuid(b->conf.info.table_id, sizeof b->conf.info.table_id);
    b->conf.info.created_us = clock_now_us();
    b->conf.info.pitr_period_days = TABLE_PITR_MAX_DAYS;
    b->conf.info.durability = LOG_SYNC_FULL;
    b->conf.info.snapshot_every_s = 86400;
    b->conf.segment_bytes = segment_bytes_default();
    if ((rc = table_init_dir(b->dir, &b->conf))) {
        table_builder_abort(b);
        return rc;
    }
    *out = b;
    return 0;
}

const char *table_builder_dir(const table_builder *b) { return b->dir; }

int table_builder_set_settings(table_builder *b, log_sync_mode durability, int64_t every_s,
                               uint64_t every_writes)
{
    if (every_s < 0) return err_set(TM_EINVAL, "a snapshot interval cannot be negative");
    b->conf.info.durability = durability;
    b->conf.info.snapshot_every_s = every_s;
    b->conf.info.snapshot_every_writes = every_writes;
    return conf_write(b->dir, &b->conf);
}

int table_builder_set_restore_summary(table_builder *b, const table_restore_summary *rs)
{
    restore_fn(&b->conf, (void *)rs);
    return conf_write(b->dir, &b->conf);
}

void table_builder_expect_changes(table_builder *b, uint64_t n)
{
    /* Only the first txn is warmed: its commit (after BUILDER_TXN_OPS changes) ends the thread. */
    b->expect = n < BUILDER_TXN_OPS ? n : BUILDER_TXN_OPS;
}

static int builder_env(table_builder *b)
{
    char items[PATH_MAX];
    int rc;
    if (b->env) return 0;
    snprintf(items, sizeof items, "%s/items", b->dir);
    /* No sync while building: the whole table is synced once at commit. A seeded build
     * writes in place (WRITEMAP, see warm_start); appends from empty need no such help. */
    if ((rc = env_open_raw(items, MDB_NOSYNC | (b->seeded ? MDB_WRITEMAP : 0), &b->env))) return rc;
    MDB_txn *txn;
    if ((rc = mdb_txn_begin(b->env->env, NULL, MDB_RDONLY, &txn))) return lmdb_err(rc, "read", items);
    b->bytes = meta_get_u64(txn, b->env->meta, "bytes");
    mdb_txn_abort(txn);
    MDB_envinfo ei;
    if (!b->seeded || !b->expect || mdb_env_info(b->env->env, &ei)) return 0;
    /* Mapping the seeded part reads from disk what is not in the page cache: only a seed
     * copied through the cache (not mdb_env_copy2's O_DIRECT one) that fits well in memory. */
    size_t seed = ((size_t)ei.me_last_pgno + 1) * 4096;
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    size_t mem = pages > 0 && psz > 0 ? (size_t)pages * (size_t)psz : 0;
    b->warm = warm_start(b->env, seed, b->cached && seed <= mem / 4,
                         (size_t)(b->expect + b->expect / 8) * 4096);
    return 0;
}

int table_builder_seed_file(table_builder *b, const char *data_mdb, const snap_info *want,
                            uint64_t *seq)
{
    char to[PATH_MAX], items[PATH_MAX];
    int rc;
    if (b->env || b->seeded) return err_set(TM_EINVAL, "a builder can be seeded only once, before any put");
    if (!snap_verifiable(want))
        return err_set(TM_ECORRUPT, "%s: snapshot without a checksum (format %d): not trusted",
                       data_mdb, want->version);
    snprintf(items, sizeof items, "%s/items", b->dir);
    snprintf(to, sizeof to, "%s/data.mdb", items);
    /* Verified as it is copied: the copy is mapped (copy_position, the builder) only after. */
    if ((rc = sum_copy(data_mdb, to, want, NULL, NULL))) return rc;
    b->seeded = b->cached = 1;
    if ((rc = copy_position(items, seq, NULL, NULL, NULL))) return rc;
    return builder_env(b);
}

int table_builder_seed_table(table_builder *b, table *src, uint64_t *seq, int64_t *time_us)
{
    char items[PATH_MAX];
    int rc;
    if (b->env || b->seeded) return err_set(TM_EINVAL, "a builder can be seeded only once, before any put");
    snprintf(items, sizeof items, "%s/items", b->dir);
    /* A plain (not compacting) copy in one read txn: consistent. mdb_env_copy2 writes it with
     * O_DIRECT, so it is on disk when the copy returns; measured on a quiet machine (1M items,
     * 660 MB file) it beat a copy through the page cache plus the fsync that a durable restore
     * needs (0.55-0.64 s vs 0.86-0.96 s per restore; cp + sync of the file: 0.47-0.54 s). */
    if ((rc = mdb_env_copy2(src->env->env, items, 0))) return lmdb_err(rc, "copy", items);
    b->seeded = 1;
    if ((rc = copy_position(items, seq, time_us, NULL, NULL))) return rc;
    return builder_env(b);
}

static int builder_txn(table_builder *b)
{
    int rc;
    if ((rc = builder_env(b))) return rc;
    if (b->txn && b->ops >= BUILDER_TXN_OPS) {
        if ((rc = meta_put_u64(b->txn, b->env->meta, "bytes", b->bytes)) || (rc = mdb_txn_commit(b->txn))) {
            b->txn = NULL;
            return lmdb_err(rc, "commit", b->dir);
        }
        b->txn = NULL;
        env_map_drop(b->env);   /* an import's RSS does not grow with the table */
        if (b->seeded) { /* WRITEMAP: the map may have to grow, with no thread in it */
            warm_end(b->warm);
            b->warm = NULL;
            env_make_room(b->env);
        }
    }
    if (!b->txn) {
        b->ops = 0;
        if ((rc = mdb_txn_begin(b->env->env, NULL, 0, &b->txn))) return lmdb_err(rc, "begin", b->dir);
    }
    b->ops++;
    return 0;
}

static int builder_put_sized(table_builder *b, const void *key, size_t kn, const void *img, size_t in,
                             uint32_t size)
{
    int rc;
    if ((rc = builder_txn(b)) || (rc = env_reserve(b->env, b->txn, kn + in))) return rc;
    MDB_val k = {kn, (void *)key}, v;
    unsigned flags = 0;
    /* Keys arriving in order (sorted import) are appended: no page splits, no searches. */
    if (b->last_key.len) {
        size_t m = kn < b->last_key.len ? kn : b->last_key.len;
        int c = memcmp(key, b->last_key.data, m);
        if (c > 0 || (c == 0 && kn > b->last_key.len)) flags = MDB_APPEND;
    } else if (!b->seeded) {
        flags = MDB_APPEND;
    }
    if (!flags) {
        rc = mdb_get(b->txn, b->env->items, &k, &v);
        if (rc == 0 && v.mv_size >= 4) b->bytes -= rd_u32le(v.mv_data);
        else if (rc && rc != MDB_NOTFOUND) return lmdb_err(rc, "get", b->dir);
    }
    buf_reset(&b->val);
    if ((rc = buf_put_u32le(&b->val, size)) || (rc = buf_append(&b->val, img, in))) return rc;
    v.mv_size = b->val.len;
    v.mv_data = b->val.data;
    if ((rc = mdb_put(b->txn, b->env->items, &k, &v, flags))) return lmdb_err(rc, "put", b->dir);
    b->bytes += size;
    if (flags) {
        buf_reset(&b->last_key);
        if ((rc = buf_append(&b->last_key, key, kn))) return rc;
    }
    return 0;
}

int table_builder_put(table_builder *b, const item *it)
{
    buf key = BUF_INIT, val = BUF_INIT;
    uint32_t size;
    int rc;
    table_conf *c = &b->conf;
    if ((rc = key_encode_item(&c->info.ks, it, &key))) goto out;
    if ((rc = item_check_size(it))) goto out;
    size = (uint32_t)item_size(it);
    if ((rc = item_encode(it, &val))) goto out;
    rc = builder_put_sized(b, key.data, key.len, val.data, val.len, size);
out:
    buf_free(&key);
    buf_free(&val);
    return rc;
}

int table_builder_put_bin_sized(table_builder *b, const void *key, size_t kn, const void *img,
                                size_t in, uint32_t size)
{
    return builder_put_sized(b, key, kn, img, in, size);
}

int table_builder_delete_bin(table_builder *b, const void *key, size_t kn)
{
    int rc;
    if ((rc = builder_txn(b)) || (rc = env_reserve(b->env, b->txn, kn))) return rc;
    MDB_val k = {kn, (void *)key}, v;
    rc = mdb_get(b->txn, b->env->items, &k, &v);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc) return lmdb_err(rc, "get", b->dir);
    if (v.mv_size >= 4) b->bytes -= rd_u32le(v.mv_data);
    if ((rc = mdb_del(b->txn, b->env->items, &k, NULL))) return lmdb_err(rc, "delete", b->dir);
    return 0;
}

/* A WRITEMAP environment's file is as long as its map; a new table's is cut to its used pages
 * (which also drops any page warm_start populated beyond them, unwritten). A live open sizes it
 * back to its map. */
static int builder_trim(table_builder *b)
{
    MDB_envinfo ei;
    MDB_stat st;
    char data[PATH_MAX];
    int rc;
    if ((rc = mdb_env_info(b->env->env, &ei)) || (rc = mdb_env_stat(b->env->env, &st)))
        return lmdb_err(rc, "stat", b->dir);
    snprintf(data, sizeof data, "%s/items/data.mdb", b->dir);
    if (truncate(data, (off_t)(ei.me_last_pgno + 1) * st.ms_psize) < 0)
        return err_sys(TM_EIO, errno, "truncate %s", data);
    return 0;
}

int table_builder_commit(table_builder *b, table_info *out)
{
    char final[PATH_MAX];
    int rc;
    if ((rc = builder_txn(b))) goto out;
    /* A new table starts a new log: position 0, PITR disabled (as AWS restores). */
    if ((rc = meta_put_u64(b->txn, b->env->meta, "bytes", b->bytes)) ||
        (rc = meta_put_u64(b->txn, b->env->meta, "applied_seq", 0)) ||
        (rc = meta_put_u64(b->txn, b->env->meta, "last_time", 0))) {
        rc = lmdb_err(rc, "meta", b->dir);
        goto out;
    }
    rc = mdb_txn_commit(b->txn);
    b->txn = NULL;
    if (rc) {
        rc = lmdb_err(rc, "commit", b->dir);
        goto out;
    }
    warm_end(b->warm);
    b->warm = NULL;
    /* Seeded or not, the file is cut to its used pages: it may hold a reservation past them. */
    if ((rc = builder_trim(b))) goto out;
    if ((rc = mdb_env_sync(b->env->env, 1))) {
        rc = lmdb_err(rc, "sync", b->dir);
        goto out;
    }
    if (out) {
        MDB_txn *txn;
        MDB_stat st;
        *out = b->conf.info;
        if (mdb_txn_begin(b->env->env, NULL, MDB_RDONLY, &txn) == 0) {
            mdb_stat(txn, b->env->items, &st);
            out->item_count = st.ms_entries;
            out->size_bytes = b->bytes;
            mdb_txn_abort(txn);
        }
    }
    mdb_env_close(b->env->env);
    free(b->env);
    b->env = NULL;
    if (b->name[0]) {
        table_path(b->home, b->name, NULL, final, sizeof final);
        if ((rc = publish_dir(b->dir, final))) goto out;
        b->dir[0] = '\0';
    }
out:
    if (rc) table_builder_abort(b);
    else {
        buf_free(&b->last_key);
        buf_free(&b->val);
        free(b);
    }
    return rc;
}

void table_builder_abort(table_builder *b)
{
    if (!b) return;
    warm_end(b->warm);
    if (b->txn) mdb_txn_abort(b->txn);
    if (b->env) {
        mdb_env_close(b->env->env);
        free(b->env);
    }
    if (b->dir[0]) fsx_rmtree(b->dir);
    buf_free(&b->last_key);
    buf_free(&b->val);
    free(b);
}

/* ================================================================ items verify ==== */

/* The key of an item for a message: its key attributes as DynamoDB JSON, or the encoded key
 * (key_text) when the value cannot be decoded. */
static void verify_key_text(const table *t, const MDB_val *k, const MDB_val *v, buf *out)
{
    const key_schema *ks = &t->conf.info.ks;
    const char *names[2] = {ks->hash_name, ks->range_name};
    buf_reset(out);
    if (v && v->mv_size > 4 &&
        item_bin_write_keys_json((const char *)v->mv_data + 4, v->mv_size - 4, names,
                                 ks->range_type ? 2 : 1, out) == 0 && buf_append(out, "", 1) == 0)
        return;
    char kt[160];
    buf_reset(out);
    key_text(k->mv_data, k->mv_size, kt, sizeof kt);
    buf_append(out, "key \"", 5);
    buf_append(out, kt, strlen(kt));
    buf_append(out, "\"", 2);
}

/* One live value on its own: size prefix, encoding, key. NULL if sound. */
static const char *verify_value(const table *t, const MDB_val *k, const MDB_val *v, buf *key)
{
    uint32_t size;
    item *it = NULL;
    if (v->mv_size < 5) return "value shorter than its size prefix and item";
    if (item_decode((const char *)v->mv_data + 4, v->mv_size - 4, &it)) return "item encoding damaged";
    buf_reset(key);
    int bad = item_encoded_size((const char *)v->mv_data + 4, v->mv_size - 4, &size) ||
              size != rd_u32le(v->mv_data);
    int badkey = key_encode_item(&t->conf.info.ks, it, key) || key->len != k->mv_size ||
                 memcmp(key->data, k->mv_data, k->mv_size);
    item_free(it);
    return bad ? "size prefix differs from the item's size" : badkey ? "stored under another key than its own" : NULL;
}

int table_verify_items(table *t, table *ref, table_verify_fn fn, void *ctx, table_verify_stats *st)
{
    MDB_txn *txn = NULL, *rtxn = NULL;
    MDB_cursor *c = NULL, *rc_ = NULL;
    MDB_val k, v, rk, rv;
    MDB_stat ms;
    buf key = BUF_INIT, text = BUF_INIT;
    int rc, a, b;
    char what[160];
    memset(st, 0, sizeof *st);
    if ((rc = env_txn_begin(t->env, MDB_RDONLY, &txn)) || (rc = mdb_cursor_open(txn, t->env->items, &c))) {
        rc = lmdb_err(rc, "begin read", t->dir);
        goto out;
    }
    st->seq = meta_get_u64(txn, t->env->meta, "applied_seq");
    if (ref) {
        if ((rc = env_txn_begin(ref->env, MDB_RDONLY, &rtxn)) ||
            (rc = mdb_cursor_open(rtxn, ref->env->items, &rc_))) {
            rc = lmdb_err(rc, "begin read", ref->dir);
            goto out;
        }
    }
    a = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    b = ref ? mdb_cursor_get(rc_, &rk, &rv, MDB_FIRST) : MDB_NOTFOUND;
    MDB_val prev = {0, NULL};
    while (a == 0 || b == 0) {
        if (a == 0 && prev.mv_data && val_cmp(&k, &prev) <= 0) {
            verify_key_text(t, &k, &v, &text);
            snprintf(what, sizeof what, "comes out of key order: a damaged page led the walk elsewhere; "
                     "stopped here");
            st->problems++;
            fn(ctx, text.data, what);
            break;
        }
        int cmp = a ? 1 : b ? -1 : val_cmp(&k, &rk);
        const char *bad = NULL;
        if (cmp <= 0) {   /* a live item */
            prev = k;
            st->items++;
            if (v.mv_size >= 4) st->bytes += rd_u32le(v.mv_data);
            if ((bad = verify_value(t, &k, &v, &key))) {
                verify_key_text(t, &k, NULL, &text);
                snprintf(what, sizeof what, "%s", bad);
            } else if (ref && cmp < 0) {
                bad = what;
                snprintf(what, sizeof what, "not in the snapshot + log rebuild (an extra item)");
            } else if (ref && (v.mv_size != rv.mv_size || memcmp(v.mv_data, rv.mv_data, v.mv_size))) {
                bad = what;
                snprintf(what, sizeof what, "differs from the snapshot + log rebuild (%zu bytes here, %zu there)",
                         v.mv_size, rv.mv_size);
            }
            if (bad && !text.len) verify_key_text(t, &k, &v, &text);
            if (!bad && ref) st->compared++;
        } else {          /* only in the rebuild */
            bad = what;
            snprintf(what, sizeof what, "missing here, present in the snapshot + log rebuild");
            verify_key_text(ref, &rk, &rv, &text);
        }
        if (bad) {
            st->problems++;
            fn(ctx, text.data, what);
        }
        buf_reset(&text);
        if (cmp <= 0) a = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        if (cmp >= 0 && ref) b = mdb_cursor_get(rc_, &rk, &rv, MDB_NEXT);
    }
    if (a && a != MDB_NOTFOUND) {
        rc = lmdb_err(a, "walk items", t->dir);
        goto out;
    }
    if (ref && b && b != MDB_NOTFOUND) {
        rc = lmdb_err(b, "walk items", ref->dir);
        goto out;
    }
    rc = 0;
    mdb_stat(txn, t->env->items, &ms);
    uint64_t meta_bytes = meta_get_u64(txn, t->env->meta, "bytes");
    if (ms.ms_entries != st->items) {
        st->problems++;
        snprintf(what, sizeof what, "the items db counts %zu entries, the walk found %" PRIu64, ms.ms_entries, st->items);
        fn(ctx, "(table)", what);
    }
    if (meta_bytes != st->bytes) {
        st->problems++;
        snprintf(what, sizeof what, "the meta db says %" PRIu64 " item bytes, the items add up to %" PRIu64,
                 meta_bytes, st->bytes);
        fn(ctx, "(table)", what);
    }
out:
    if (c) mdb_cursor_close(c);
    if (rc_) mdb_cursor_close(rc_);
    if (txn) mdb_txn_abort(txn);
    if (rtxn) mdb_txn_abort(rtxn);
    buf_free(&key);
    buf_free(&text);
    return rc;
}
