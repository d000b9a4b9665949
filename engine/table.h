/* table.h: tables and their items: catalog, LMDB item store, the write path, reads, snapshots,
 * PITR settings, and staging builders for restore and import.
 *
 * Layout under the data directory (home):
 *   tables/<name>/table.json    key schema, tableId, creation time, PITR and durability settings
 *   tables/<name>/items/        LMDB environment: items + meta (applied log seq, count, bytes)
 *   tables/<name>/log/          the change log (log.h)
 *   tables/<name>/snapshots/<seq 16 hex>/   base snapshots (data.mdb + snap.json)
 * Names starting with '.' under tables/ are staging or trash and never listed.
 *
 * Write path, per call or per batch: LMDB write txn (the cross-process lock) -> log_begin ->
 * read old image -> build new -> log_append {seq, time, op, key, old, new} -> log_commit (durable,
 * one fsync for the batch) -> apply to LMDB with the seq -> commit -> acknowledge.
 * Times: max(clock_now_us(), last write + 1 µs): strictly increasing per table. */
#ifndef TIDEMARK_TABLE_H
#define TIDEMARK_TABLE_H

#include "engine/item.h"
#include "engine/key.h"
#include "engine/log.h"
#include <stddef.h>
#include <stdint.h>

#define TABLE_NAME_MAX 255
#define TABLE_PITR_MAX_DAYS 35
#define TABLE_ARN_MAX 512

/* Where a restored table came from (DynamoDB's RestoreSummary), kept in its table.json. */
typedef struct table_restore_summary {
    char source_table_arn[TABLE_ARN_MAX];
    char source_backup_arn[TABLE_ARN_MAX];   /* "" for a point-in-time restore */
    int64_t restore_time_us;                 /* RestoreDateTime: the point in time restored */
    int in_progress;                         /* RestoreInProgress */
} table_restore_summary;

typedef struct table_info {
    char name[TABLE_NAME_MAX + 1];
    key_schema ks;
    char table_id[40];            /* UUID, fixed at creation */
    int64_t created_us;
    uint64_t item_count;
    uint64_t size_bytes;          /* sum of item_size() */
    uint64_t applied_seq;         /* last log seq applied to the items */
    int64_t last_write_us;        /* time of that write (0 if none) */
    int pitr_enabled;
    int pitr_period_days;         /* 1..35 */
    int64_t pitr_enabled_us;      /* when PITR was last enabled */
    log_sync_mode durability;
    int64_t snapshot_every_s;     /* snapshot policy: 0 = only on demand */
    uint64_t snapshot_every_writes;
    int restored;                 /* 1: made by a restore, `restore` says from what */
    table_restore_summary restore;
} table_info;

typedef struct table table;

/* Table names: 3..255 of [A-Za-z0-9_.-] (DynamoDB's rule). TM_EINVAL naming the name. */
int table_check_name(const char *name);
/* ARNs, as AWS would name the table: arn:aws:dynamodb:<region>:<account>:table/<name>.
 * region: opt, else TIDEMARK_REGION, AWS_REGION, AWS_DEFAULT_REGION, else "us-east-1";
 * account: opt, else TIDEMARK_ACCOUNT, AWS_ACCOUNT_ID, else "000000000000". */
const char *table_arn_region(const char *opt);
const char *table_arn_account(const char *opt);
void table_arn(const char *region_opt, const char *account_opt, const char *name, char *out, size_t n);
/* Path helpers: <home>/tables/<name>[/sub]. */
void table_path(const char *home, const char *name, const char *sub, char *out, size_t n);

typedef struct table_create_opts {
    log_sync_mode durability;
    int64_t snapshot_every_s;
    uint64_t snapshot_every_writes;
} table_create_opts;
#define TABLE_CREATE_OPTS_INIT {LOG_SYNC_FULL, 86400, 0}

/* Creates an empty table atomically (staged under a '.' name, then renamed). TM_EEXIST. */
int table_create(const char *home, const char *name, const key_schema *ks,
                 const table_create_opts *opts, table_info *out);
/* Staging directories (tables/.<tag>-<pid>-...) of processes that are gone are removed by
 * table_create, table_list and table_builder_open: a killed restore or import leaves nothing. */
/* Every table name, sorted. *names is malloc'd; free each and the array with table_names_free. */
int table_list(const char *home, char ***names, size_t *n);
void table_names_free(char **names, size_t n);
/* Deletes the table and its log, snapshots and items (renamed away first, then removed). */
int table_delete(const char *home, const char *name);

#define TABLE_RDONLY 0x1   /* readers (export, restore): no recovery, no write lock */
/* Bulk loads: a batch is acknowledged once the log holds it durably, and its application to
 * LMDB joins later batches in one LMDB commit (up to TABLE_BULK_OPS writes or TABLE_BULK_MS).
 * Far fewer LMDB commits means far less page writeback; a crash replays the log. Meanwhile this
 * handle holds the table's write lock: other writers, and readers that must catch up with its
 * acknowledged batches, wait for its next LMDB commit (at most TABLE_BULK_MS). The sizes were
 * measured on 1M items (sync, batches of 1000, 2 cores): 32768 / 500 ms 9.4 s, 65536 / 1 s
 * 7.6 s, 131072 / 2 s 6.2 s; each LMDB commit syncs its pages, and every commit rewrites the
 * tree's upper pages. */
#define TABLE_BULK   0x2
#define TABLE_BULK_OPS 131072
#define TABLE_BULK_MS  2000
/* Shared handles (tidemark serve's, one per table for every connection): a writer thread runs
 * the single writes' groups (table_write1) and owns their LMDB write txn, which it keeps open
 * across groups. A group is acknowledged once its log commit is durable; the LMDB commit (a
 * page sync as long as the log's) joins the groups of up to TABLE_SHARED_MS. Reads through
 * the handle ask the writer to commit first (table_flush), so they see every acknowledged
 * write; another process's reader or writer waits for that commit (at most TABLE_SHARED_MS).
 * Batches and settings changes pause the writer and take the write lock themselves. */
#define TABLE_SHARED   0x4
/* 10 ms: with 8 and 32 PutItem clients, p99 2.6-3.1 / 6.0-6.7 ms against 4.0-4.2 / 7.7-7.9 at
 * 20 ms, for the same rate (3 rounds each); 5 ms cost 10-15% of the rate. */
#define TABLE_SHARED_MS 10
/* Opens a table. A writer open recovers: truncates a torn log tail (reported on stderr-free
 * channel: see table_recovery) and replays log records above the applied seq. */
int table_open(const char *home, const char *name, unsigned flags, table **out);
/* Opens a table by its directory (hidden temporary tables made by pitr/ for export at a time). */
int table_open_dir(const char *dir, unsigned flags, table **out);
void table_close(table *t);
/* Fresh info (counts and positions read from LMDB now). */
int table_describe(table *t, table_info *out);
const char *table_dir(const table *t);
const char *table_log_dir(const table *t);
/* What the last writer open repaired (torn tail truncated, records replayed, log fenced). */
typedef struct table_recovery {
    log_recovery log;
    uint64_t replayed;
    /* The items held seqs lost_first..lost_last that the log lacks (log.damaged: damaged
     * records; else a missing segment, or a NONE-mode tail lost in a crash): the log went on
     * after them and they stay a gap in the point-in-time window. */
    uint64_t lost_first, lost_last;
} table_recovery;
const table_recovery *table_last_recovery(const table *t);
/* Writes are acknowledged once their log records are durable. When applying them to the items
 * then failed (a disk error in LMDB's commit), the writes still stand (the next open applies
 * them from the log) and this says what failed; NULL if nothing did. */
const char *table_deferred_error(const table *t);
/* How many durable commits this handle's single writes took (group commit joins concurrent
 * writers of one handle: fewer commits than writes when threads write at once). */
uint64_t table_group_commits(const table *t);

/* ---- single writes ----
 * Safe to call from several threads on one handle: concurrent calls share one txn and one
 * durable log commit (group commit), each still seeing the writes queued before it.
 * check(ctx, old) decides a condition against the current item (old is NULL if absent): return
 * 0 to go on or TM_ECONDITION to refuse. mutate(ctx, it) edits a copy of the current item (or a
 * new item holding only the key) for update. *old_out / *new_out are optional (NULL to skip). */
typedef int (*table_check_fn)(void *ctx, const item *old);
typedef int (*table_mutate_fn)(void *ctx, item *it);

int table_get(table *t, const item *key, item **out);   /* TM_ENOTFOUND if absent */
int table_put(table *t, const item *it, table_check_fn check, void *ctx, item **old_out);
int table_delete_item(table *t, const item *key, table_check_fn check, void *ctx, item **old_out);
int table_update(table *t, const item *key, table_mutate_fn mutate, table_check_fn check,
                 void *ctx, item **new_out);

/* ---- batches: one write txn and one durable log commit for many writes ---- */
typedef struct table_batch table_batch;
int table_batch_begin(table *t, table_batch **out);
int table_batch_put(table_batch *b, const item *it);
int table_batch_delete(table_batch *b, const item *key);
/* Raw forms for callers that already hold encodings (rollback, apply of incrementals). */
int table_batch_put_bin(table_batch *b, const void *key, size_t kn, const void *img, size_t in);
int table_batch_delete_bin(table_batch *b, const void *key, size_t kn);
/* The current image of an encoded key inside the batch's write txn (the batch's own writes
 * included): *img NULL when absent, else valid until the batch's next write. A check made with
 * it and the write that follows are one transaction (rollback's check-then-write). */
int table_batch_get_bin(table_batch *b, const void *key, size_t kn, const void **img, size_t *in);
int table_batch_commit(table_batch *b);   /* frees b, whatever the outcome */
/* Applies what a TABLE_BULK handle has pending and releases the write lock (close does too). */
int table_flush(table *t);
void table_batch_abort(table_batch *b);

/* ---- reads: one consistent LMDB snapshot, while writers go on ---- */
typedef struct table_read table_read;
int table_read_begin(table *t, table_read **out);
uint64_t table_read_seq(const table_read *r);       /* log seq the snapshot reflects */
int64_t table_read_time(const table_read *r);       /* time of that write */
uint64_t table_read_count(const table_read *r);
/* fn gets each item whose key hash lies in [hash_lo, hash_hi] in key order; the pointers are
 * valid only during the call. fn returns 0 to go on, >0 to stop (returned), <0 error. */
typedef int (*table_raw_fn)(void *ctx, const void *key, size_t kn, const void *img, size_t in);
int table_read_scan(table_read *r, uint32_t hash_lo, uint32_t hash_hi, table_raw_fn fn, void *ctx);
/* Keys in [lo, hi) (hi NULL: to the end), forward or backward. */
int table_read_range(table_read *r, const void *lo, size_t lon, const void *hi, size_t hin,
                     int backward, table_raw_fn fn, void *ctx);
int table_read_get(table_read *r, const void *key, size_t kn, const void **img, size_t *in);
void table_read_end(table_read *r);

/* ---- snapshots ---- */
typedef struct snap_info {
    char name[32];           /* directory name: 16 hex digits of seq */
    uint64_t seq;            /* log position the snapshot reflects */
    int64_t time_us;         /* time of the write at seq (0 if none) */
    uint64_t item_count;
    uint64_t bytes;          /* size of data.mdb */
    uint64_t sum;            /* XXH3_64 of data.mdb (version >= 2) */
    int version;             /* snap.json's format: 1 has no checksum, is never a seed */
} snap_info;
/* 1 if s carries a checksum, so that a restore can verify it (format in table.c). */
int snap_verifiable(const snap_info *s);
/* Takes a consistent snapshot now (dense LMDB copy, checksummed), atomically. If one exists at
 * the same position and is unverifiable or damaged, the new one replaces it. */
int table_snapshot(table *t, snap_info *out);
/* Snapshots of a table directory, ascending by seq (unverifiable ones included: check
 * snap_verifiable). *out malloc'd (free()). */
int snap_list(const char *table_dir, snap_info **out, size_t *n);
int snap_remove(const char *table_dir, const char *name);
/* Path of a snapshot's LMDB data file. */
void snap_data_path(const char *table_dir, const char *name, char *out, size_t n);
/* Checks every snapshot of a table directory against its checksum (reads each data.mdb once).
 * fn gets each one, ascending, with its snap.json as far as it could be read and rc: 0
 * verified, 1 unverifiable (format 1: no checksum), or TM_ECORRUPT / TM_EIO with err_msg()
 * naming the file and what is wrong (size, checksum, snap.json). Returns 0, or the error that
 * stopped the walk (listing the directory). */
typedef void (*snap_verify_fn)(void *ctx, const snap_info *s, int rc);
int snap_verify_all(const char *table_dir, snap_verify_fn fn, void *ctx);

/* ---- PITR settings ---- */
int table_set_pitr(table *t, int enabled, int period_days);   /* TM_EINVAL outside 1..35 */
/* Earliest and latest restorable times, decided by pitr_window (engine/pitr_policy.h): latest
 * is now, to the second, while the log is current. TM_ENOTFOUND... when disabled
 * (*earliest = *latest = 0). */
int table_pitr_window(table *t, int64_t *earliest, int64_t *latest);
int table_set_durability(table *t, log_sync_mode mode);
/* Records (rs) or clears (NULL) where the table was restored from, e.g. RestoreInProgress
 * turning false once a restore finished. */
int table_set_restore_summary(table *t, const table_restore_summary *rs);
/* Seqs missing from the table's log, up to the items' applied seq (log_gaps). */
int table_log_gaps(table *t, log_gap **out, size_t *n);
/* TM_EMISSING naming the seqs when the state at some time in [from_us, to_us) needs records the
 * log lacks (a point in time T: [T, T + 1)). */
int table_pitr_check(table *t, int64_t from_us, int64_t to_us);
/* Snapshot policy, checked after each commit while PITR is on: a snapshot when every_s seconds
 * of writes or every_writes writes have passed since the last one (0 disables that rule). */
int table_set_snapshot_policy(table *t, int64_t every_s, uint64_t every_writes);
/* Applies retention as pitr_retention decides (engine/pitr_policy.h): with PITR off, log segments
 * already durable in LMDB are removed; with it on, segments and snapshots wholly before the
 * window that no plan needs. Returns removed count. */
int table_retain(table *t, int *removed);

/* ---- builders: a new table staged under a hidden name, published only when complete ---- */
typedef struct table_builder table_builder;
/* TM_EEXIST if name exists. The staging table has an empty log; PITR disabled.
 * name NULL: a hidden temporary table (tables/.tmp-<pid>-<n>); commit leaves it hidden and
 * table_builder_dir() tells where it is (open it with table_open_dir, drop it with fsx_rmtree). */
int table_builder_open(const char *home, const char *name, const key_schema *ks,
                       table_builder **out);
const char *table_builder_dir(const table_builder *b);
/* Durability and snapshot policy of the new table (default: sync, daily), written with it. */
int table_builder_set_settings(table_builder *b, log_sync_mode durability, int64_t every_s,
                               uint64_t every_writes);
/* Before a seed: about n keys will be changed after it. The builder maps the seeded file and
 * the pages the changes will add while they are applied (a hint: a wrong n costs time only). */
void table_builder_expect_changes(table_builder *b, uint64_t n);
/* Marks the new table as made by a restore (written with it; shown as RestoreSummary). */
int table_builder_set_restore_summary(table_builder *b, const table_restore_summary *rs);
/* Seeds the staging items from a snapshot's data.mdb (want: its snap_list entry) or from the
 * live table (consistent copy). *seq receives the log position of the seed. Only before any
 * put. The snapshot is verified while it is copied: TM_ECORRUPT, naming the file, when it has
 * no checksum, its size differs (found before a byte is copied) or its XXH3_64 does; TM_EMISSING
 * when it is gone. Nothing of it is mapped before it passed. */
int table_builder_seed_file(table_builder *b, const char *data_mdb, const snap_info *want,
                            uint64_t *seq);
int table_builder_seed_table(table_builder *b, table *src, uint64_t *seq, int64_t *time_us);
int table_builder_put(table_builder *b, const item *it);        /* later put of a key wins */
/* An encoded key and image (key.h, item.h) with the item's DynamoDB size (item_size). */
int table_builder_put_bin_sized(table_builder *b, const void *key, size_t kn, const void *img,
                                size_t in, uint32_t size);
int table_builder_delete_bin(table_builder *b, const void *key, size_t kn);
/* Durable, then renamed into place; frees b whatever the outcome. */
int table_builder_commit(table_builder *b, table_info *out);
void table_builder_abort(table_builder *b);                    /* removes the staging dir */

/* ---- items verify ----
 * LMDB has no page checksums and the item encoding none either: only a walk can tell. Walks
 * every item of t in one read txn and checks what the bytes allow: each value's size prefix
 * against its item (whose encoding must be valid, item.h), each key against the item's key
 * attributes, the count and the byte total against the meta db. With ref (the same table
 * rebuilt from a snapshot and the log at the same seq, pitr/materialize.h), also compares the
 * two item by item in key order: an item missing, extra or with other bytes is a problem.
 * fn gets each problem: key as DynamoDB JSON (or hex when the value cannot be decoded) and
 * what is wrong. Structural damage that liblmdb cannot survive ends the process in the crash
 * guard (exit 1, file named). Returns 0 when the walk finished (problems or not), or the error
 * that stopped it; st->seq is the items' seq (check that ref was built at the same one). */
typedef void (*table_verify_fn)(void *ctx, const char *key, const char *what);
typedef struct table_verify_stats {
    uint64_t items, bytes, problems, compared;
    uint64_t seq;
} table_verify_stats;
int table_verify_items(table *t, table *ref, table_verify_fn fn, void *ctx, table_verify_stats *st);

#endif
