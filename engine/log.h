/* log.h: the change log of one table: segment files of records, recovery, readers by seq and
 * by time, forward and backward.
 *
 * Every change is a record {seq, time, op, key, old image, new image, checksum}. Sequence numbers
 * rise by exactly 1 across segments; times never go backwards (the writer ensures it). The active
 * segment is appended raw; past a size it is sealed: compressed (LZ4, or zstd for cold
 * segments) with a header holding its first/last seq and time, so readers find a time without
 * reading older segments. The byte formats are specified at the top of log.c.
 *
 * Processes: one writer at a time (the caller holds the table's write lock - LMDB's write
 * transaction - around log_begin .. log_commit); any number of readers at once. */
#ifndef TIDEMARK_LOG_H
#define TIDEMARK_LOG_H

#include <stddef.h>
#include <stdint.h>

/* Stored on disk: never renumber. */
typedef enum log_op { LOG_OP_PUT = 1, LOG_OP_UPDATE = 2, LOG_OP_DELETE = 3 } log_op;
typedef enum log_codec { LOG_CODEC_RAW = 0, LOG_CODEC_LZ4 = 1, LOG_CODEC_ZSTD = 2 } log_codec;
typedef enum log_sync_mode { LOG_SYNC_FULL = 0, LOG_SYNC_NONE = 1 } log_sync_mode;

typedef struct log_record {
    uint64_t seq;
    int64_t time_us;
    uint8_t op;                              /* log_op */
    const void *key;     uint32_t key_len;   /* encoded key (key.h) */
    const void *old_img; uint32_t old_len;   /* binary item (item.h); old_len 0: absent */
    const void *new_img; uint32_t new_len;   /* binary item; new_len 0: absent (delete) */
} log_record;

typedef struct log_options {
    log_sync_mode sync;       /* LOG_SYNC_FULL: fdatasync in log_commit; NONE: never */
    uint64_t segment_bytes;   /* seal the active segment once it is larger than this */
    log_codec seal_codec;     /* codec for newly sealed segments */
} log_options;
#define LOG_OPTIONS_INIT {LOG_SYNC_FULL, 8u << 20, LOG_CODEC_LZ4}

/* What log_begin found and repaired. */
typedef struct log_recovery {
    int truncated;            /* 1 if a torn tail was cut off */
    char segment[64];         /* the segment it was in */
    uint64_t offset;          /* where the valid data ended */
    uint64_t bytes;           /* how many bytes were cut (or, damaged: left after offset) */
    int damaged;              /* 1: the bytes after the last intact commit held records the items
                                 already have: damage, not a torn tail. Nothing was cut; the log
                                 goes on in a new segment (log_fence) and the lost seqs are a gap */
    uint64_t lost_first;      /* damaged: the first seq whose record is unreadable */
} log_recovery;

typedef struct log log;

/* Opens (creating dir if needed) the log for writing. Cheap: no scan until log_begin. */
int log_open(const char *dir, const log_options *opt, log **out);
/* Call holding the table's write lock, before appending. Catches up with what other processes
 * appended or sealed since, and truncates a torn tail of the active segment (reported in *rec,
 * which may be NULL). A bad record followed by valid ones is TM_ECORRUPT naming segment and
 * offset: the log refuses to continue. */
int log_begin(log *l, log_recovery *rec);
/* Tells recovery that the items hold every record up to seq (0: unknown). Recovery never cuts
 * those: bytes after the last intact commit that the items already hold are damage (reported
 * in log_recovery.damaged), not a torn tail. Call before log_begin. */
void log_set_applied(log *l, uint64_t seq);
/* Bulk writers: log_commit seals only a segment past 8x segment_bytes, and the caller seals with
 * log_seal at a moment it chooses (the table overlaps it with its LMDB commit, on another thread;
 * nothing else may use the log meanwhile). log_seal_due: 1 if the active segment is due. */
void log_defer_seal(log *l, int on);
int log_seal_due(const log *l);
void log_seal(log *l);
/* After log_begin, when the items hold records up to seq that the log lacks (damaged records,
 * a removed segment, writes of durability mode NONE lost in a crash): the log goes on at seq+1
 * in a new segment (an intact active segment is sealed first). The lost seqs stay a gap that
 * log_gaps and log_verify report. time: the time of the write at seq. */
int log_fence(log *l, uint64_t seq, int64_t time);
uint64_t log_last_seq(const log *l);      /* 0 for an empty log; valid after log_begin */
int64_t log_last_time(const log *l);      /* 0 for an empty log */
/* Both include records appended but not yet committed (log_abort takes them back). */
/* Buffers one record. rec->seq must be log_last_seq()+1, rec->time_us >= log_last_time().
 * TM_EINVAL for a wrong seq/time/op or an empty key; TM_ELIMIT for a key over 64 KiB, an image over 16 MiB or
 * a batch over 256 MiB. After a failed write every call fails until log_begin. */
int log_append(log *l, const log_record *rec);
/* Writes buffered records and makes them durable as the sync mode says (one fdatasync covers
 * every record since the last commit: group commit); seals the segment if it is too big. */
int log_commit(log *l);
/* Forgets buffered records not yet committed (the caller's transaction failed). */
void log_abort(log *l);
void log_close(log *l);                   /* NULL is fine; does not commit */

/* ---- readers ---- */
enum { LOG_FORWARD = 0, LOG_BACKWARD = 1 };
typedef struct log_reader log_reader;
/* Records with from_seq <= seq <= to_seq, ascending or descending. to_seq UINT64_MAX means the
 * last valid record. A gap (a missing segment) is TM_EMISSING naming the seqs; an invalid record
 * before to_seq is TM_ECORRUPT naming segment and offset. */
int log_reader_open(const char *dir, uint64_t from_seq, uint64_t to_seq, int direction,
                    log_reader **out);
/* 1: *rec holds the next record (pointers valid until the next call or close); 0: end; <0 err. */
int log_reader_next(log_reader *r, log_record *rec);
void log_reader_close(log_reader *r);

/* ---- segments (planner, lifecycle, verify) ---- */
typedef struct log_segment {
    char name[64];            /* file name inside dir */
    uint64_t first_seq, last_seq;
    int64_t first_time, last_time;
    uint64_t bytes;           /* size on disk */
    uint64_t raw_bytes;       /* uncompressed record bytes */
    int sealed;
    log_codec codec;
} log_segment;

/* Every segment, ascending by first_seq. *out is malloc'd (free()). An empty active segment is
 * omitted. */
int log_list(const char *dir, log_segment **out, size_t *n);
/* Seqs the log should hold and does not: before its oldest segment (back to the origin recorded
 * when the log began and moved by log_remove_segment), between segments (names and headers),
 * and after its end up to `through` (the items' applied seq; 0: not checked). after_us/before_us
 * bound the times whose state needs them: the time of the record before the gap (0 if none) and
 * of the record after it (through_time for a gap at the end). *out malloc'd (free()). */
typedef struct log_gap {
    uint64_t first_seq, last_seq;
    int64_t after_us, before_us;
    char why[96];
} log_gap;
int log_gaps(const char *dir, uint64_t through, int64_t through_time, log_gap **out, size_t *n);
/* The seq of the last committed record (0 for an empty log; an empty newest segment counts by
 * its name), and (newest, optional) the newest segment's file name ("" if none). Reads only the
 * newest segment: its header if sealed, its records if raw. */
int log_end(const char *dir, uint64_t *last_seq, char *newest, size_t n);
/* The seq of the last record with time <= t; 0 when there is none. Reads at most one segment. */
int log_seq_at_time(const char *dir, int64_t t_us, uint64_t *seq);
/* Checks every record and segment; calls report() for each problem with the segment, offset and
 * what is wrong. Returns 0 if all is well, TM_ECORRUPT if anything was reported. */
typedef void (*log_report_fn)(void *ctx, const char *segment, uint64_t offset, const char *what);
int log_verify(const char *dir, log_report_fn report, void *ctx, uint64_t *records);
/* Removes one sealed segment (retention); the caller has checked that no plan needs it. */
int log_remove_segment(const char *dir, const char *name);
/* Re-compresses a sealed segment with another codec (cold days: zstd). Atomic. */
int log_recompress(const char *dir, const char *name, log_codec codec);

#endif
