/* hold.h: holds on a table's history. A process that reads log segments or a snapshot of a
 * table for longer than an instant (a restore, an export, a rollback) holds them: retention
 * (the engine's after a seal, and tidemark-lifecycle run) never deletes a held segment or
 * snapshot. Litestream's users lost restores to retention deleting what a restore still read
 * ("missing initial wal segment"); this is the rule that prevents it.
 *
 * A hold is a file <table dir>/holds/<pid>-<n>.hold (format in hold.c) naming the holder's pid,
 * its process start time (so a reused pid does not keep a dead holder's hold), an expiry, and
 * what it holds: a seq range of the log and optionally one snapshot, or everything. A hold
 * whose process is gone, or whose expiry passed (a hung holder), is expired: removed by the
 * next hold_list. Holds are taken and checked under one lock (holds/.lock, flock), so that a
 * retention that decided while no hold existed finishes deleting before a new hold is taken:
 * the new holder then plans with what is left. */
#ifndef TIDEMARK_HOLD_H
#define TIDEMARK_HOLD_H

#include <stddef.h>
#include <stdint.h>

/* A hold expires this long after it was taken even if its process lives (a hung holder);
 * real time, not TIDEMARK_CLOCK (a simulated day must not expire a running restore). */
#define HOLD_TTL_S (24 * 3600)

typedef struct hold_info {
    char file[64];           /* name in holds/ */
    long pid;
    unsigned long long start; /* the process's start time (/proc/<pid>/stat field 22) */
    int64_t expires_s;       /* real time, epoch seconds */
    uint64_t from_seq, to_seq;  /* log seqs held, inclusive (0..UINT64_MAX: the whole log) */
    char snap[32];           /* a snapshot held ("*": every snapshot, "": none) */
    char what[32];           /* who holds: "restore", "export", ... */
} hold_info;

typedef struct hold hold;

/* Takes a hold on the whole history of the table at table_dir (every seq and snapshot), as
 * the first step of a reader that has not planned yet. TM_EIO if the file cannot be written. */
int hold_take(const char *table_dir, const char *what, hold **out);
/* Narrows a hold to what a plan reads: seqs [from, to] and a snapshot (NULL: none). */
int hold_narrow(hold *h, uint64_t from_seq, uint64_t to_seq, const char *snap);
/* Removes the hold (NULL is fine). */
void hold_release(hold *h);

/* The live holds of a table (expired ones are removed on the way). *out malloc'd (free()). */
int hold_list(const char *table_dir, hold_info **out, size_t *n);
/* 1 if a hold covers a segment of seqs [first, last], or the snapshot named name. */
int hold_covers_seqs(const hold_info *h, size_t n, uint64_t first, uint64_t last);
int hold_covers_snap(const hold_info *h, size_t n, const char *name);

/* Clears the drop flags of what the holds keep: every held snapshot, and every segment from
 * the first held one on (segments go oldest first, so the log never gets a hole in its middle).
 * segs ascending (log_list), snaps as snap_list gives them. Returns how many flags it cleared. */
struct log_segment;
struct snap_info;
size_t hold_filter(const hold_info *h, size_t n, const struct log_segment *segs, size_t nsegs,
                   unsigned char *drop_segs, const struct snap_info *snaps, size_t nsnaps,
                   unsigned char *drop_snaps);

/* Exports in a local directory: a reader of an export (a rollback, a forward apply) holds it,
 * so that tidemark-lifecycle apply neither expires nor bundles it meanwhile. path is the
 * export's folder <dir>/AWSDynamoDB/<ExportId> or its bundle <ExportId>.tar.zst; the holds of
 * an export live in <dir>/AWSDynamoDB/.holds/<ExportId>/holds/ (the files and lock above, so
 * apply checks and acts under hold_lock of that directory). *out NULL and 0 when path is not a
 * local export (an s3:// export is not held: apply runs elsewhere). */
int hold_take_export(const char *path, const char *what, hold **out);
/* The directory (for hold_lock, hold_list) of export id's holds; awsdir: <dir>/AWSDynamoDB.
 * Created when create is set. */
int hold_export_dir(const char *awsdir, const char *id, int create, char *out, size_t n);

/* Retention's side of the lock: held while deciding and deleting, so that no hold is taken in
 * between. Returns an fd for hold_unlock, or a negative code. */
int hold_lock(const char *table_dir);
void hold_unlock(int fd);

#endif
