/* log.c: the change log of one table (log.h): segment files of checksummed records, the writer
 * with group commit and crash recovery, sealing into compressed segments, readers forward and
 * backward by seq, the segment list, the time lookup, verify, removal and recompression.
 *
 * ==== FORMAT ====================================================================================
 *
 * PURPOSE
 *   Every change to a table is one record {seq, time, op, key, old image, new image}. Seqs rise by
 *   exactly 1 across the whole log, times never go backwards, so the log can be read forward
 *   (apply new images) or backward (apply old images) from any point, and a time maps to a seq.
 *
 * FILE NAMING (inside the table's log/ directory)
 *   <first seq as 16 lowercase hex digits>.<ext>, so lexical order is numeric order:
 *     00000000000000a1.log   the active segment: raw records, appended by the writer
 *     00000000000000a1.lz4   a sealed segment, one LZ4 block (LOG_CODEC_LZ4; not the LZ4 frame
 *                            format: the header below already holds the sizes and checksum)
 *     00000000000000a1.zst   a sealed segment, one zstd frame (LOG_CODEC_ZSTD)
 *     <any of these>.tmp[.<pid>]   a file being written; never read, removed by recovery
 *                            (so is origin.tmp.<pid>)
 *     origin                 the seq the log holds records from: one line
 *                            "tidemark-log-origin 1 <seq> <XXH3_64 of the text before it, 16 hex>\n",
 *                            written (atomically) before the first segment of a new log, and moved
 *                            by log_remove_segment before the oldest segment goes. Without it (a
 *                            log made by an older tidemark) the start of the log is not checked.
 *   Sealing keeps the first seq, so a segment keeps its name stem for life.
 *
 * HEADER (80 bytes at offset 0 of every segment; all integers little-endian)
 *   off size field
 *     0   4  magic         LOG_MAGIC, the bytes "TMLG"
 *     4   2  version       LOG_VERSION
 *     6   1  codec         0 raw, 1 LZ4, 2 zstd (log_codec)
 *     7   1  flags         0 (ignored by version 1)
 *     8   8  first_seq     seq of the first record (= the name)
 *    16   8  last_seq      sealed: seq of the last record; raw: 0
 *    24   8  first_time    sealed: time_us of the first record; raw: 0
 *    32   8  last_time     sealed: time_us of the last record; raw: 0
 *    40   8  count         sealed: number of records; raw: 0
 *    48   8  raw_bytes     sealed: length of the uncompressed record stream; raw: 0
 *    56   8  payload_bytes sealed: length of the compressed payload after the header; raw: 0
 *    64   8  payload_sum   sealed: XXH3_64 of the compressed payload; raw: 0
 *    72   8  header_sum    XXH3_64 of bytes 0..71
 *   A raw segment is the header followed by records. A sealed one is the header followed by the
 *   compressed record stream of the raw segment it was made from (its bytes 80..end), so an offset
 *   inside a sealed segment's records is reported as the offset the record had in the raw file.
 *
 * RECORD (37 bytes + key + images; all integers little-endian)
 *   off size field
 *     0   8  seq
 *     8   8  time_us       signed, microseconds since the epoch
 *    16   1  op            bits 0-6: log_op (1 put, 2 update, 3 delete);
 *                          bit 7 (REC_COMMIT): the last record of a committed batch
 *    17   4  key_len       >= 1
 *    21   4  old_len       0: no old image
 *    25   4  new_len       0: no new image
 *    29   .  key, old image, new image (opaque bytes, back to back)
 *   end-8 8  sum           XXH3_64 of every byte of the record before it
 *
 * VALIDITY
 *   A segment header is valid if and only if
 *     H1. the file holds at least 80 bytes, and bytes 0..3 are LOG_MAGIC;
 *     H2. version is LOG_VERSION (a larger one is refused by name: "written by a newer tidemark");
 *     H3. header_sum matches;
 *     H4. codec is 0, 1 or 2 and matches the file extension, first_seq matches the name and
 *         is >= 1;
 *     H5. sealed only: payload_bytes = file size - 80, payload_sum matches, 1 <= count,
 *         last_seq = first_seq + count - 1, first_time <= last_time, 37 * count <= raw_bytes
 *         <= 1 GiB, and the payload decompresses to exactly raw_bytes.
 *   A record at offset o is valid if and only if
 *     R1. at least 37 bytes remain, op & 0x7f is 1, 2 or 3;
 *     R2. 1 <= key_len <= 64 KiB, old_len and new_len <= 16 MiB, and the record fits in the file;
 *     R3. sum matches;
 *     R4. seq is first_seq for the first record of a segment, else the previous seq + 1 (it
 *         never wraps to 0);
 *     R5. time_us >= the previous record's time_us.
 *   A sealed segment is valid if and only if its header is, every record of its stream is, the
 *   stream ends exactly at the end of a REC_COMMIT record, and count/last_seq/times/raw_bytes match.
 *   Across segments (ascending names): first_seq = previous last_seq + 1 (an empty segment
 *   counts by its name) and first_time >= previous last_time; the oldest segment starts at the
 *   origin; otherwise seqs are missing (a gap) and readers, verify and log_gaps say which.
 *   Readers see a record of the active segment only once a REC_COMMIT record ends its batch: a
 *   batch is all or nothing.
 *
 * RECOVERY (log_begin, under the table's write lock)
 *   1. Files *.tmp and *.tmp.<pid> whose process is gone are removed.
 *   2. If a raw segment and a valid sealed segment have the same first seq, sealing finished up to
 *      the rename: the raw one is removed.
 *   3. The active (newest, raw) segment is scanned. Let V be the end of its valid prefix (R1-R5)
 *      and C the end of its last REC_COMMIT record (C <= V).
 *      - If a record of this log (R1-R3, and a seq that can come after the one due at V)
 *        starts anywhere after V, the bytes at V were written and then damaged: TM_ECORRUPT
 *        naming the segment and offset V. Nothing is changed. (A crash that persisted pages of
 *        the last batch out of order looks the same; refusing is the safe side of the doubt.)
 *      - If the items (log_set_applied) hold a seq after the last record before C, the bytes
 *        after C were acknowledged and applied: damage, not a torn tail (a torn tail is never
 *        applied: the items follow the log). Nothing is cut; the segment is kept as it is (no
 *        longer active: readers and verify report its damage) and log_recovery.damaged says so.
 *        The caller then continues the log after the items' seq (log_fence: a new segment),
 *        leaving the unreadable seqs as a gap. If valid records after the damage go past the
 *        items' seq, they are acknowledged writes the items lack: TM_ECORRUPT, nothing changed.
 *      - Otherwise everything after C is a torn tail (an interrupted batch): the file is
 *        truncated to C and log_recovery reports the segment, C and the bytes cut.
 *      A raw segment whose header is torn and which holds no valid record (a crash while it was
 *      being created with LOG_SYNC_NONE) is removed and reported the same way.
 *   A writer that already knows the active segment only reads what was added past its known end
 *   (another process wrote in between), with the same rules.
 *
 * INVARIANTS
 *   - At most one raw segment, the newest; every older segment is sealed.
 *   - A file under a segment name always has a valid header (it was renamed into place).
 *   - The active segment ends, after recovery, at the end of a REC_COMMIT record.
 *   - The newest segment is never removed (log_remove_segment refuses), so seqs always continue.
 *   - Only the oldest segment is removed (log_remove_segment refuses others), after the origin
 *     has moved past it: a removal never looks like a gap and a gap never looks like a removal.
 *   - A raw segment that is not the newest was left by log_fence: it is never sealed or
 *     removed by retention (it holds the evidence of the damage).
 *
 * CRASH SAFETY
 *   Commit: write(batch, last record flagged REC_COMMIT) -> fdatasync (LOG_SYNC_FULL only). A
 *   crash before fdatasync returns leaves at worst a torn tail, cut by recovery; a failed write or
 *   fdatasync truncates the file back to the last commit and makes the writer fail until
 *   log_begin, so a caller that was told "failed" never finds its records in the log.
 *   New active segment: write header to <name>.tmp.<pid> -> fsync -> rename -> fsync dir (the
 *   syncs only in LOG_SYNC_FULL).
 *   Seal: compress into <final>.tmp.<pid> -> fsync -> rename to <final> -> fsync dir -> unlink the
 *   raw segment. Any crash leaves either the raw segment (and a tmp file: removed), or both (the
 *   raw one is removed), or the sealed one. Sealing fsyncs even with LOG_SYNC_NONE: it replaces
 *   records that may already be durable, and losing a whole segment is not what NONE trades away.
 *   Recompress: the same order; both copies are valid in between and readers take either.
 *
 * COMPATIBILITY
 *   LOG_VERSION changes when any byte above changes meaning; a reader refuses a larger version.
 *   Op, codec values and the REC_COMMIT bit are stored on disk and never renumbered. New codecs
 *   take new numbers and extensions.
 * ============================================================================================== */
#include "engine/log.h"
#include "engine/buf.h"
#include "engine/err.h"
#include "engine/fsx.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <limits.h>
#include <lz4.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

/* "TMLG": lets a reader tell a log segment from any other file before trusting a length. */
#define LOG_MAGIC 0x474c4d54u
/* 1: the first format. Bump on any change to the bytes above. */
#define LOG_VERSION 1

#define HDR_SIZE 80
#define REC_HEAD 29
#define REC_SUM 8
#define REC_OVERHEAD (REC_HEAD + REC_SUM)
#define REC_COMMIT 0x80u
#define REC_OP_MASK 0x7fu
#define LOG_KEY_MAX (64u << 10)
#define LOG_IMAGE_MAX (16u << 20)
#define LOG_SEGMENT_MAX ((uint64_t)1 << 30)       /* a reader never allocates more for one segment */
#define LOG_SEGMENT_BYTES_MAX ((uint64_t)512 << 20) /* largest segment_bytes accepted */
#define LOG_BATCH_MAX ((uint64_t)256 << 20)         /* one commit; keeps segments under the max */
#define LOG_FLUSH_BYTES ((size_t)4 << 20)           /* buffered bytes before an early write */
#define LOG_ZSTD_LEVEL 6
#define LOG_RELIST_TRIES 16

static const char *const codec_ext[] = {"log", "lz4", "zst"};

/* ==== names and headers ======================================================================= */

typedef struct seg_hdr {
    log_codec codec;
    uint64_t first_seq, last_seq;
    int64_t first_time, last_time;
    uint64_t count, raw_bytes, payload_bytes, payload_sum;
} seg_hdr;

static void hdr_encode(const seg_hdr *h, unsigned char *p)
{
    memset(p, 0, HDR_SIZE);
    wr_u32le(p, LOG_MAGIC);
    p[4] = LOG_VERSION & 0xff;
    p[5] = LOG_VERSION >> 8;
    p[6] = (unsigned char)h->codec;
    wr_u64le(p + 8, h->first_seq);
    wr_u64le(p + 16, h->last_seq);
    wr_u64le(p + 24, (uint64_t)h->first_time);
    wr_u64le(p + 32, (uint64_t)h->last_time);
    wr_u64le(p + 40, h->count);
    wr_u64le(p + 48, h->raw_bytes);
    wr_u64le(p + 56, h->payload_bytes);
    wr_u64le(p + 64, h->payload_sum);
    wr_u64le(p + 72, XXH3_64bits(p, 72));
}

/* Rules H1-H4 and the fixed parts of H5. NULL if valid, else what is wrong; *off the field. */
static const char *hdr_decode(const unsigned char *p, uint64_t fsize, uint64_t name_first,
                              log_codec name_codec, seg_hdr *h, uint64_t *off)
{
    *off = 0;
    if (fsize < HDR_SIZE) return "file shorter than the segment header";
    if (rd_u32le(p) != LOG_MAGIC) return "bad magic: not a log segment";
    unsigned version = (unsigned)p[4] | (unsigned)p[5] << 8;
    *off = 4;
    if (version > LOG_VERSION) return "segment written by a newer tidemark (version too new)";
    if (version != LOG_VERSION) return "unknown segment version";
    *off = 72;
    if (XXH3_64bits(p, 72) != rd_u64le(p + 72)) return "header checksum mismatch";
    memset(h, 0, sizeof *h);
    h->codec = (log_codec)p[6];
    h->first_seq = rd_u64le(p + 8);
    h->last_seq = rd_u64le(p + 16);
    h->first_time = (int64_t)rd_u64le(p + 24);
    h->last_time = (int64_t)rd_u64le(p + 32);
    h->count = rd_u64le(p + 40);
    h->raw_bytes = rd_u64le(p + 48);
    h->payload_bytes = rd_u64le(p + 56);
    h->payload_sum = rd_u64le(p + 64);
    *off = 6;
    if (p[6] > LOG_CODEC_ZSTD || h->codec != name_codec) return "codec does not match the name";
    *off = 8;
    if (h->first_seq != name_first) return "first seq does not match the name";
    if (h->first_seq == 0) return "first seq is 0";
    if (h->codec == LOG_CODEC_RAW) return NULL;
    *off = 56;
    if (h->payload_bytes != fsize - HDR_SIZE) return "payload length does not match the file size";
    *off = 40;
    if (h->count < 1 || h->last_seq != h->first_seq + h->count - 1 || h->last_seq < h->first_seq)
        return "record count does not match the seq range";
    *off = 24;
    if (h->first_time > h->last_time) return "first time after last time";
    *off = 48;
    if (h->raw_bytes > LOG_SEGMENT_MAX || h->raw_bytes / REC_OVERHEAD < h->count)
        return "raw length out of bounds";
    return NULL;
}

static void name_make(char *out, uint64_t first, log_codec codec)
{
    snprintf(out, 32, "%016llx.%s", (unsigned long long)first, codec_ext[codec]);
}

/* 1 if name is "<16 hex>.<ext>" (then *first, *codec set); 2 if it is such a name followed by
 * ".tmp" or ".tmp.<pid>" (then *pid, 0 when absent); 0 otherwise. */
static int name_parse(const char *name, uint64_t *first, log_codec *codec, long *pid)
{
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return 0;
        v = v << 4 | (uint64_t)d;
    }
    if (name[16] != '.') return 0;
    int ci = -1;
    for (int i = 0; i < 3; i++)
        if (!strncmp(name + 17, codec_ext[i], 3)) ci = i;
    if (ci < 0) return 0;
    *first = v;
    *codec = (log_codec)ci;
    if (name[20] == '\0') return 1;
    if (strncmp(name + 20, ".tmp", 4)) return 0;
    *pid = 0;
    if (name[24] == '\0') return 2;
    if (name[24] != '.') return 0;
    char *end;
    long p = strtol(name + 25, &end, 10);
    if (*end || end == name + 25) return 0;
    *pid = p;
    return 2;
}

static int path_make(char *out, size_t n, const char *dir, const char *name)
{
    if ((size_t)snprintf(out, n, "%s/%s", dir, name) >= n)
        return err_set(TM_EINVAL, "path too long: %s/%s", dir, name);
    return 0;
}

/* ==== records ================================================================================== */

/* Rules R1-R3 at p with avail bytes. NULL if valid (then *len), else what is wrong. */
static const char *rec_check(const unsigned char *p, size_t avail, size_t *len)
{
    if (avail < REC_OVERHEAD) return "truncated record";
    unsigned op = p[16] & REC_OP_MASK;
    if (op < LOG_OP_PUT || op > LOG_OP_DELETE) return "bad op";
    uint32_t kl = rd_u32le(p + 17), ol = rd_u32le(p + 21), nl = rd_u32le(p + 25);
    if (kl == 0 || kl > LOG_KEY_MAX || ol > LOG_IMAGE_MAX || nl > LOG_IMAGE_MAX)
        return "length out of bounds";
    size_t n = REC_OVERHEAD + (size_t)kl + ol + nl;
    if (n > avail) return "record runs past the end of the segment";
    if (XXH3_64bits(p, n - REC_SUM) != rd_u64le(p + n - REC_SUM)) return "record checksum mismatch";
    *len = n;
    return NULL;
}

/* Decodes a record already checked by rec_check; pointers point into p. Returns its length. */
static size_t rec_decode(const unsigned char *p, log_record *r)
{
    r->seq = rd_u64le(p);
    r->time_us = (int64_t)rd_u64le(p + 8);
    r->op = p[16] & REC_OP_MASK;
    r->key_len = rd_u32le(p + 17);
    r->old_len = rd_u32le(p + 21);
    r->new_len = rd_u32le(p + 25);
    r->key = p + REC_HEAD;
    r->old_img = r->old_len ? p + REC_HEAD + r->key_len : NULL;
    r->new_img = r->new_len ? p + REC_HEAD + r->key_len + r->old_len : NULL;
    return REC_OVERHEAD + (size_t)r->key_len + r->old_len + r->new_len;
}

static size_t rec_len(const unsigned char *p)
{
    return REC_OVERHEAD + (size_t)rd_u32le(p + 17) + rd_u32le(p + 21) + rd_u32le(p + 25);
}

/* What a scan of a record stream found (offsets are within the stream). */
typedef struct scan {
    size_t valid_end;     /* V: end of the valid prefix (R1-R5) */
    size_t commit_end;    /* C: end of the last REC_COMMIT record in the prefix */
    uint64_t count;       /* records in [0, C) */
    uint64_t last_seq;    /* seq of the last record in [0, C); first_seq - 1 if none */
    int64_t first_time, last_time;
    uint64_t valid_next;  /* the seq a record at V would have */
    const char *why;      /* why the bytes at V are not a record; NULL if V is the end */
} scan;

/* Checks records from p[0] on (R1-R5), expecting first_seq and times >= min_time. With offs,
 * collects the offset of every record in [0, C) (a segment is < 4 GiB). */
static int scan_records(const unsigned char *p, size_t len, uint64_t first_seq, int64_t min_time,
                        uint32_t **offs, size_t *offs_cap, size_t *noffs, scan *s)
{
    size_t o = 0, cap = offs ? *offs_cap : 0, n = 0;
    uint64_t seq = first_seq, count = 0;
    int64_t t = min_time, ft = 0, ct = 0;
    memset(s, 0, sizeof *s);
    s->last_seq = first_seq - 1;
    while (o < len) {
        size_t rl;
        const char *why = rec_check(p + o, len - o, &rl);
        if (!why && (rd_u64le(p + o) != seq || seq == 0)) why = "seq out of order";
        if (!why && (int64_t)rd_u64le(p + o + 8) < t) why = "time goes backwards";
        if (why) {
            s->why = why;
            break;
        }
        t = (int64_t)rd_u64le(p + o + 8);
        if (seq == first_seq) ft = t;
        if (offs) {
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                uint32_t *q = realloc(*offs, cap * sizeof *q);
                if (!q) return err_set(TM_ENOMEM, "out of memory indexing a log segment");
                *offs = q;
                *offs_cap = cap;
            }
            (*offs)[n++] = (uint32_t)o;
        }
        o += rl;
        seq++;
        if (p[o - rl + 16] & REC_COMMIT) {
            s->commit_end = o;
            count = seq - first_seq;
            ct = t;
        }
    }
    s->valid_end = o;
    s->valid_next = seq;
    s->count = count;
    s->last_seq = first_seq + count - 1;
    s->first_time = count ? ft : 0;
    s->last_time = count ? ct : 0;
    if (offs) *noffs = count;
    return 0;
}

/* 1 if a record of this log starts anywhere after offset from (exclusive): R1-R3 and a seq that
 * can follow `expect`, the seq due at from. Used to tell damage (valid data after the bad bytes)
 * from a torn tail; the checksum makes a false match vanishingly unlikely, and the cheap seq
 * test first keeps the scan linear (only plausible candidates are hashed). */
static uint64_t record_after(const unsigned char *p, size_t len, size_t from, uint64_t expect,
                             int all)
{
    uint64_t max = 0;
    for (size_t o = from + 1; o + REC_OVERHEAD <= len; o++) {
        unsigned op = p[o + 16] & REC_OP_MASK;
        if (op < LOG_OP_PUT || op > LOG_OP_DELETE) continue;
        uint64_t seq = rd_u64le(p + o);
        if (seq < expect || seq - expect > (o - from) / REC_OVERHEAD + 1) continue;
        size_t rl;
        if (!rec_check(p + o, len - o, &rl)) {
            if (seq > max) max = seq;
            if (!all) break;
        }
    }
    return max;
}

static int valid_record_after(const unsigned char *p, size_t len, size_t from, uint64_t expect)
{
    return record_after(p, len, from, expect, 0) != 0;
}

/* ==== compression =============================================================================== */

static int compress_payload(log_codec c, const unsigned char *src, size_t n, unsigned char **out,
                            size_t *outn)
{
    *out = NULL;
    if (c == LOG_CODEC_LZ4) {
        int bound = LZ4_compressBound((int)n);
        unsigned char *d = malloc((size_t)bound + 1);
        if (!d) return err_set(TM_ENOMEM, "out of memory compressing a log segment");
        int w = LZ4_compress_default((const char *)src, (char *)d, (int)n, bound);
        if (w <= 0) {
            free(d);
            return err_set(TM_EIO, "LZ4 compression failed");
        }
        *out = d;
        *outn = (size_t)w;
        return 0;
    }
    size_t bound = ZSTD_compressBound(n);
    unsigned char *d = malloc(bound + 1);
    if (!d) return err_set(TM_ENOMEM, "out of memory compressing a log segment");
    size_t w = ZSTD_compress(d, bound, src, n, LOG_ZSTD_LEVEL);
    if (ZSTD_isError(w)) {
        free(d);
        return err_set(TM_EIO, "zstd compression failed: %s", ZSTD_getErrorName(w));
    }
    *out = d;
    *outn = w;
    return 0;
}

/* 0 if src decompresses to exactly rawn bytes into dst. */
static int decompress_payload(log_codec c, const unsigned char *src, size_t n, unsigned char *dst,
                              size_t rawn)
{
    if (c == LOG_CODEC_LZ4) {
        if (n > INT_MAX || rawn > INT_MAX) return -1;
        int r = LZ4_decompress_safe((const char *)src, (char *)dst, (int)n, (int)rawn);
        return r >= 0 && (size_t)r == rawn ? 0 : -1;
    }
    unsigned long long fcs = ZSTD_getFrameContentSize(src, n);
    if (fcs != rawn) return -1;
    size_t r = ZSTD_decompress(dst, rawn, src, n);
    return !ZSTD_isError(r) && r == rawn ? 0 : -1;
}

/* ==== directory listing ========================================================================= */

typedef struct seg_ent {
    uint64_t first;
    log_codec codec;
    char name[32];
} seg_ent;

static int ent_cmp(const void *a, const void *b)
{
    const seg_ent *x = a, *y = b;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return (int)x->codec - (int)y->codec;
}

/* Every segment file in dir, ascending by (first seq, codec). With tmp_dir, removes leftover
 * tmp files whose writer is gone (only the writer under the lock does this). */
static int dir_list(const char *dir, int clean_tmp, seg_ent **out, size_t *n, int *removed)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        return err_sys(TM_EIO, errno, "open log directory %s", dir);
    }
    seg_ent *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t first;
        log_codec codec;
        long pid = 0;
        int kind = name_parse(e->d_name, &first, &codec, &pid);
        if (!strncmp(e->d_name, "origin.tmp.", 11)) { /* an origin being written */
            kind = 2;
            pid = strtol(e->d_name + 11, NULL, 10);
        }
        if (kind == 2 && clean_tmp) {
            if (pid <= 0 || (pid != (long)getpid() && kill((pid_t)pid, 0) < 0 && errno == ESRCH)) {
                char path[PATH_MAX];
                if (!path_make(path, sizeof path, dir, e->d_name) && unlink(path) == 0 && removed)
                    *removed = 1;
            }
            continue;
        }
        if (kind != 1) continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            seg_ent *q = realloc(v, cap * sizeof *q);
            if (!q) {
                rc = err_set(TM_ENOMEM, "out of memory listing %s", dir);
                goto out;
            }
            v = q;
        }
        v[cnt].first = first;
        v[cnt].codec = codec;
        snprintf(v[cnt].name, sizeof v[cnt].name, "%s", e->d_name);
        cnt++;
    }
    if (cnt) qsort(v, cnt, sizeof *v, ent_cmp);
out:
    closedir(d);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return 0;
}

/* One entry per first seq, what readers use: a sealed copy wins over the raw one (sealing
 * finished up to the rename), zstd over LZ4 (recompress finished up to the rename). */
static void ents_dedupe(seg_ent *v, size_t *n)
{
    size_t w = 0;
    for (size_t i = 0; i < *n; i++) {
        if (w && v[w - 1].first == v[i].first) v[w - 1] = v[i]; /* sorted by codec: last wins */
        else v[w++] = v[i];
    }
    *n = w;
}

static int list_deduped(const char *dir, seg_ent **out, size_t *n)
{
    int rc = dir_list(dir, 0, out, n, NULL);
    if (!rc) ents_dedupe(*out, n);
    return rc;
}

/* ==== the origin ================================================================================ */

#define ORIGIN_NAME "origin"

/* 1 and *seq if the log records its origin, 0 if not (an older log), TM_ECORRUPT if damaged. */
static int origin_read(const char *dir, uint64_t *seq)
{
    char path[PATH_MAX];
    buf b = BUF_INIT;
    int rc;
    *seq = 0;
    if ((rc = path_make(path, sizeof path, dir, ORIGIN_NAME))) return rc;
    if ((rc = fsx_read_file(path, 256, &b))) {
        buf_free(&b);
        return rc == TM_ENOTFOUND ? 0 : rc;
    }
    unsigned long long v = 0, sum = 0;
    int used = 0;
    char text[256];
    snprintf(text, sizeof text, "%.*s", (int)b.len, (const char *)b.data);
    buf_free(&b);
    if (sscanf(text, "tidemark-log-origin 1 %llu %n", &v, &used) != 1 || !used ||
        sscanf(text + used, "%16llx", &sum) != 1 || v == 0 ||
        XXH3_64bits(text, (size_t)used - 1) != sum)
        return err_set(TM_ECORRUPT, "log %s: %s is damaged", dir, ORIGIN_NAME);
    *seq = v;
    return 1;
}

static int origin_write(const char *dir, uint64_t seq)
{
    char path[PATH_MAX], text[96];
    int rc;
    if ((rc = path_make(path, sizeof path, dir, ORIGIN_NAME))) return rc;
    int n = snprintf(text, sizeof text, "tidemark-log-origin 1 %llu", (unsigned long long)seq);
    snprintf(text + n, sizeof text - (size_t)n, " %016llx\n",
             (unsigned long long)XXH3_64bits(text, (size_t)n));
    return fsx_write_atomic(path, text, strlen(text));
}

/* ==== loading one segment ======================================================================= */

/* One segment in memory: its record stream (stream offset o is file offset HDR_SIZE + o in the
 * raw segment), checked. The buffers are kept from one load to the next: a reader going through
 * many segments does not map and fault in fresh memory for each. */
typedef struct seg_img {
    char name[32];
    log_codec codec;
    uint64_t first_seq;
    uint64_t file_size;
    seg_hdr h;
    const unsigned char *data;  /* the record stream: fbuf (raw) or dbuf (sealed) */
    size_t len;
    scan s;
    uint32_t *offs;        /* with want_offs: offset of each visible record */
    size_t noffs, offs_cap;
    int bad;               /* damage after the visible records: reported when they are needed */
    uint64_t bad_off;      /* file offset */
    const char *bad_why;
    unsigned char *fbuf, *dbuf; /* file bytes after the header; decompressed stream */
    size_t fcap, dcap;
} seg_img;

/* Forgets the segment, keeps the buffers. */
static void img_clear(seg_img *m)
{
    seg_img keep = *m;
    memset(m, 0, sizeof *m);
    m->offs = keep.offs;
    m->offs_cap = keep.offs_cap;
    m->fbuf = keep.fbuf;
    m->fcap = keep.fcap;
    m->dbuf = keep.dbuf;
    m->dcap = keep.dcap;
}

static void img_free(seg_img *m)
{
    free(m->offs);
    free(m->fbuf);
    free(m->dbuf);
    memset(m, 0, sizeof *m);
}

static int grow(unsigned char **p, size_t *cap, size_t n)
{
    if (n + 1 <= *cap) return 0;
    unsigned char *q = realloc(*p, n + 1);
    if (!q) return err_set(TM_ENOMEM, "out of memory for a %zu-byte log segment", n);
    *p = q;
    *cap = n + 1;
    return 0;
}

static int read_fd_all(int fd, const char *name, size_t n, unsigned char **out)
{
    unsigned char *p = malloc(n + 1);
    if (!p) return err_set(TM_ENOMEM, "out of memory reading log segment %s", name);
    if (n) {
        int rc = fsx_pread_all(fd, p, n, 0);
        if (rc) {
            free(p);
            return err_wrap(rc, "log segment %s: ", name);
        }
    }
    *out = p;
    return 0;
}

static int corrupt(const char *name, uint64_t off, const char *why)
{
    return err_set(TM_ECORRUPT, "log segment %s: offset %llu: %s", name, (unsigned long long)off,
                   why);
}

/* One decompressed sealed segment handed over by log_seq_at_time, which reads the segment
 * around a time and then drops it, to the reader that usually opens right at that time (an
 * incremental export's window start): the buffer moves, nothing is copied, and the segment is
 * decompressed once instead of twice. Keyed by path, size and payload checksum: a sealed
 * segment never changes under its name. */
static pthread_mutex_t donor_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char path[PATH_MAX];
    uint64_t size, sum, raw;
    unsigned char *buf;
    size_t cap;
} donor;

static void donor_give(const char *dir, seg_img *m)
{
    if (m->codec == LOG_CODEC_RAW || !m->dbuf) return;
    pthread_mutex_lock(&donor_mu);
    free(donor.buf);
    snprintf(donor.path, sizeof donor.path, "%s/%s", dir, m->name);
    donor.size = m->file_size;
    donor.sum = m->h.payload_sum;
    donor.raw = m->h.raw_bytes;
    donor.buf = m->dbuf;
    donor.cap = m->dcap;
    m->dbuf = NULL;
    m->dcap = 0;
    pthread_mutex_unlock(&donor_mu);
}

/* 1 if m took the donated buffer for this segment (its old one is freed). */
static int donor_take(const char *path, seg_img *m)
{
    int hit = 0;
    pthread_mutex_lock(&donor_mu);
    if (donor.buf && donor.size == m->file_size && donor.sum == m->h.payload_sum &&
        donor.raw == m->h.raw_bytes && !strcmp(donor.path, path)) {
        free(m->dbuf);
        m->dbuf = donor.buf;
        m->dcap = donor.cap;
        donor.buf = NULL;
        hit = 1;
    }
    pthread_mutex_unlock(&donor_mu);
    return hit;
}

/* Loads segment `name` of dir into m (its buffers are reused). TM_ENOTFOUND if it is gone
 * (sealed or recompressed meanwhile); TM_ECORRUPT if its header or payload is bad. Damage among
 * the records is recorded in m->bad so that the records before it can still be read.
 * min_time: R5 for the first record. */
static int seg_load(const char *dir, const char *name, int want_offs, int64_t min_time,
                    seg_img *m)
{
    char path[PATH_MAX];
    unsigned char hb[HDR_SIZE];
    int fd = -1, rc;
    long pid;
    img_clear(m);
    if (name_parse(name, &m->first_seq, &m->codec, &pid) != 1)
        return err_set(TM_EINVAL, "not a log segment name: %s", name);
    snprintf(m->name, sizeof m->name, "%s", name);
    if ((rc = path_make(path, sizeof path, dir, name))) return rc;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return err_set(TM_ENOTFOUND, "log segment %s is gone", name);
        return err_sys(TM_EIO, errno, "open log segment %s", path);
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = err_sys(TM_EIO, errno, "stat log segment %s", path);
        goto out;
    }
    m->file_size = (uint64_t)st.st_size;
    if (m->file_size > LOG_SEGMENT_MAX + HDR_SIZE) {
        rc = corrupt(name, 0, "segment larger than 1 GiB");
        goto out;
    }
    memset(hb, 0, sizeof hb);
    if (m->file_size >= HDR_SIZE && (rc = fsx_pread_all(fd, hb, HDR_SIZE, 0))) goto out;
    uint64_t off;
    const char *why = hdr_decode(hb, m->file_size, m->first_seq, m->codec, &m->h, &off);
    if (why) {
        rc = corrupt(name, off, why);
        goto out;
    }
    size_t flen = (size_t)m->file_size - HDR_SIZE;
    if ((rc = grow(&m->fbuf, &m->fcap, flen))) goto out;
    if (m->codec == LOG_CODEC_RAW) {
        /* The active segment may grow while we read (we check the prefix we got) or lose a torn
         * tail to recovery (a short read is not damage). */
        size_t got = 0;
        while (got < flen) {
            ssize_t r = pread(fd, m->fbuf + got, flen - got, (off_t)(HDR_SIZE + got));
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) {
                rc = err_sys(TM_EIO, errno, "read log segment %s", path);
                goto out;
            }
            if (r == 0) break;
            got += (size_t)r;
        }
        m->data = m->fbuf;
        m->len = got;
    } else if (donor_take(path, m)) {
        m->len = (size_t)m->h.raw_bytes;
        m->data = m->dbuf;
    } else {
        if (flen && (rc = fsx_pread_all(fd, m->fbuf, flen, HDR_SIZE))) {
            err_wrap(rc, "log segment %s: ", name);
            goto out;
        }
        if (XXH3_64bits(m->fbuf, flen) != m->h.payload_sum) {
            rc = corrupt(name, HDR_SIZE, "payload checksum mismatch");
            goto out;
        }
        m->len = (size_t)m->h.raw_bytes;
        if ((rc = grow(&m->dbuf, &m->dcap, m->len))) goto out;
        if (decompress_payload(m->codec, m->fbuf, flen, m->dbuf, m->len)) {
            rc = corrupt(name, HDR_SIZE, "payload does not decompress to raw_bytes");
            goto out;
        }
        m->data = m->dbuf;
    }
    if ((rc = scan_records(m->data, m->len, m->first_seq, min_time, want_offs ? &m->offs : NULL,
                           &m->offs_cap, &m->noffs, &m->s)))
        goto out;
    if (m->codec == LOG_CODEC_RAW) {
        /* Bytes after the valid prefix: damage if valid data follows, else a torn or
         * in-progress tail that readers do not see. */
        if (m->s.why && valid_record_after(m->data, m->len, m->s.valid_end, m->s.valid_next)) {
            m->bad = 1;
            m->bad_off = HDR_SIZE + m->s.valid_end;
            m->bad_why = m->s.why;
        }
    } else if (m->s.why || m->s.commit_end != m->len) {
        m->bad = 1;
        m->bad_off = HDR_SIZE + m->s.valid_end;
        m->bad_why = m->s.why ? m->s.why : "last record does not end a commit";
    } else if (m->s.count != m->h.count || m->s.first_time != m->h.first_time ||
               m->s.last_time != m->h.last_time) {
        rc = corrupt(name, 0, "header does not match the records");
        goto out;
    }
out:
    if (fd >= 0) close(fd);
    if (rc) img_clear(m);
    return rc;
}

static int img_bad_error(const seg_img *m)
{
    return corrupt(m->name, m->bad_off, m->bad_why);
}

/* ==== the writer ================================================================================ */

struct log {
    char *dir;
    log_options opt;
    int fd;                  /* active raw segment, -1 if none */
    char act_name[32];
    uint64_t act_first;
    uint64_t act_end;        /* file offset of the end of the last committed batch */
    uint64_t act_written;    /* file size incl. early-written records of the open batch */
    uint64_t last_seq;       /* last committed */
    int64_t last_time;
    uint64_t pend_seq;       /* last appended (committed or buffered) */
    int64_t pend_time;
    uint64_t batch_first;    /* first seq of the open batch; 0 if none */
    uint64_t batch_bytes;
    buf b;                   /* buffered records of the open batch */
    size_t last_off;         /* offset in b of the last buffered record */
    int begun;
    int failed;              /* sticky: an error code until the next log_begin */
    uint64_t applied;        /* the items hold every record up to this seq (log_set_applied) */
    int defer_seal;          /* log_defer_seal: seal on log_seal (or past SEAL_DEFER_MAX) */
};

int log_open(const char *dir, const log_options *opt, log **out)
{
    log_options def = LOG_OPTIONS_INIT;
    *out = NULL;
    if (!opt) opt = &def;
    if (opt->segment_bytes > LOG_SEGMENT_BYTES_MAX)
        return err_set(TM_EINVAL, "segment_bytes %llu is over the maximum of %llu",
                       (unsigned long long)opt->segment_bytes,
                       (unsigned long long)LOG_SEGMENT_BYTES_MAX);
    if (opt->seal_codec != LOG_CODEC_LZ4 && opt->seal_codec != LOG_CODEC_ZSTD)
        return err_set(TM_EINVAL, "seal codec must be LZ4 or zstd");
    if (opt->sync != LOG_SYNC_FULL && opt->sync != LOG_SYNC_NONE)
        return err_set(TM_EINVAL, "unknown log sync mode %d", (int)opt->sync);
    int rc = fsx_mkdirs(dir, 0755);
    if (rc) return rc;
    log *l = calloc(1, sizeof *l);
    if (!l || !(l->dir = strdup(dir))) {
        free(l);
        return err_set(TM_ENOMEM, "out of memory opening log %s", dir);
    }
    l->opt = *opt;
    if (!l->opt.segment_bytes) l->opt.segment_bytes = def.segment_bytes;
    l->fd = -1;
    l->b = (buf)BUF_INIT_MAX(LOG_FLUSH_BYTES + LOG_KEY_MAX + 2 * (size_t)LOG_IMAGE_MAX + 64);
    *out = l;
    return 0;
}

static void close_active(log *l)
{
    if (l->fd >= 0) close(l->fd);
    l->fd = -1;
    l->act_name[0] = '\0';
    l->act_first = l->act_end = l->act_written = 0;
}

static void drop_batch(log *l)
{
    buf_reset(&l->b);
    l->batch_first = 0;
    l->batch_bytes = 0;
    l->pend_seq = l->last_seq;
    l->pend_time = l->last_time;
}

/* A write or sync failed mid-batch: cut the file back to the last commit (so that a caller told
 * "failed" never finds the batch in the log), drop the batch, and fail until log_begin. */
static int fail_batch(log *l, int rc)
{
    int saved = errno;
    if (l->fd >= 0 && l->act_written > l->act_end) {
        if (ftruncate(l->fd, (off_t)l->act_end) == 0) l->act_written = l->act_end;
    }
    drop_batch(l);
    l->failed = rc;
    errno = saved;
    return rc;
}

static int sync_full(const log *l) { return l->opt.sync == LOG_SYNC_FULL; }

/* Creates the active segment for first seq `first`: header into a tmp file, synced, renamed. */
static int create_active(log *l, uint64_t first)
{
    char path[PATH_MAX], tmp[PATH_MAX + 32], name[32];
    unsigned char hdr[HDR_SIZE];
    seg_hdr h = {.codec = LOG_CODEC_RAW, .first_seq = first};
    int rc, renamed = 0;
    name_make(name, first, LOG_CODEC_RAW);
    if ((rc = path_make(path, sizeof path, l->dir, name))) return rc;
    /* A new log records where it begins, before its first segment exists. */
    uint64_t origin;
    if ((rc = origin_read(l->dir, &origin)) < 0) return rc;
    if (rc == 0) {
        seg_ent *v = NULL;
        size_t n = 0;
        if ((rc = dir_list(l->dir, 0, &v, &n, NULL))) return rc;
        free(v);
        if (n == 0 && (rc = origin_write(l->dir, first))) return rc;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    hdr_encode(&h, hdr);
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return err_sys(TM_EIO, errno, "create %s", tmp);
    if ((rc = fsx_write_all(fd, hdr, HDR_SIZE))) {
        err_wrap(rc, "%s: ", tmp);
        goto out;
    }
    if (sync_full(l) && fsync(fd) < 0) {
        rc = err_sys(TM_EIO, errno, "fsync %s", tmp);
        goto out;
    }
    if (rename(tmp, path) < 0) {
        rc = err_sys(TM_EIO, errno, "rename %s to %s", tmp, path);
        goto out;
    }
    /* From here the (empty, valid) segment exists under its name: keep it even if the
     * directory sync fails (that fails the batch, not the segment). */
    renamed = 1;
    l->fd = fd;
    snprintf(l->act_name, sizeof l->act_name, "%s", name);
    l->act_first = first;
    l->act_end = l->act_written = HDR_SIZE;
    if (sync_full(l)) rc = fsx_fsync_dir(l->dir);
out:
    if (!renamed) {
        close(fd);
        unlink(tmp);
    }
    return rc;
}

/* Writes the buffered records to the active segment (no sync). */
static int flush_buffer(log *l)
{
    int rc;
    if (!l->b.len) return 0;
    if (l->fd < 0 && (rc = create_active(l, l->batch_first))) return rc;
    if ((rc = fsx_write_all(l->fd, l->b.data, l->b.len))) {
        /* Part of it may be in the file: act_written is unknown, fail_batch cuts to act_end. */
        l->act_written = UINT64_MAX;
        return err_wrap(rc, "log segment %s: ", l->act_name);
    }
    l->act_written += l->b.len;
    buf_reset(&l->b);
    return 0;
}

/* Seals the active segment (see CRASH SAFETY). On failure the raw segment stays active. */
static int seal_active(log *l)
{
    char path[PATH_MAX], final[PATH_MAX], name[32];
    unsigned char *z = NULL, hdr[HDR_SIZE];
    const unsigned char *raw;
    size_t zn = 0, len = (size_t)(l->act_end - HDR_SIZE);
    int rc;
    scan s;
    if ((rc = path_make(path, sizeof path, l->dir, l->act_name))) return rc;
    /* Mapped rather than read: no copy and no fresh memory to fault in. Safe because only a
     * writer holding the table's lock truncates the active segment, and that is us. */
    void *map = mmap(NULL, (size_t)l->act_end, PROT_READ, MAP_SHARED, l->fd, 0);
    if (map == MAP_FAILED) return err_sys(TM_EIO, errno, "mmap %s", path);
    madvise(map, (size_t)l->act_end, MADV_SEQUENTIAL);
    raw = (const unsigned char *)map + HDR_SIZE;
    /* Re-check what is on disk: a sealed segment is trusted by its checksum from now on. */
    if ((rc = scan_records(raw, len, l->act_first, INT64_MIN, NULL, NULL, NULL, &s))) goto out;
    if (s.commit_end != len || s.count == 0) {
        rc = corrupt(l->act_name, HDR_SIZE + s.valid_end,
                     s.why ? s.why : "segment does not end with a commit");
        goto out;
    }
    if ((rc = compress_payload(l->opt.seal_codec, raw, len, &z, &zn))) goto out;
    seg_hdr h = {l->opt.seal_codec, l->act_first, s.last_seq, s.first_time, s.last_time,
                 s.count, len, zn, XXH3_64bits(z, zn)};
    hdr_encode(&h, hdr);
    name_make(name, l->act_first, l->opt.seal_codec);
    if ((rc = path_make(final, sizeof final, l->dir, name))) goto out;
    /* temp, write, fsync, rename, fsync the directory */
    if ((rc = fsx_write_atomic2(final, hdr, HDR_SIZE, z, zn))) goto out;
    /* From here the sealed segment is the truth; if the raw one survives, recovery removes it. */
    close_active(l);
    if (unlink(path) < 0 && errno != ENOENT) rc = err_sys(TM_EIO, errno, "unlink %s", path);
out:
    munmap(map, (size_t)(len + HDR_SIZE));
    free(z);
    return rc;
}

/* A deferred seal still happens at a commit past this many segment_bytes: bounds the size of a
 * sealed segment (its readers decompress it whole). */
#define SEAL_DEFER_MAX 8

int log_seal_due(const log *l)
{
    return l->fd >= 0 && !l->failed && l->act_end - HDR_SIZE > l->opt.segment_bytes;
}

void log_defer_seal(log *l, int on) { l->defer_seal = on; }

static void maybe_seal(log *l)
{
    if (l->defer_seal && l->act_end - HDR_SIZE <= SEAL_DEFER_MAX * l->opt.segment_bytes) return;
    if (l->fd >= 0 && l->act_end - HDR_SIZE > l->opt.segment_bytes) {
        int rc = seal_active(l);
        (void)rc; /* the records are durable either way; the next commit retries */
    }
}

/* Recovery's choice for the bytes after the last intact commit C of the active segment, whose
 * last committed seq is clast (RECOVERY 3): 0 a torn tail (cut it), 1 damage to records the
 * items hold (keep it, fence), or TM_ECORRUPT. */
static int tail_kind(const log *l, const char *name, const unsigned char *p, size_t len,
                     uint64_t base_off, const scan *s, uint64_t clast)
{
    if (s->commit_end >= len) return 0;
    int after = s->why && valid_record_after(p, len, s->valid_end, s->valid_next);
    if (l->applied > clast) {
        uint64_t max = after ? record_after(p, len, s->valid_end, s->valid_next, 1) : 0;
        if (max > l->applied)
            return err_set(TM_ECORRUPT, "log segment %s: offset %llu: %s, and records after it "
                           "(up to seq %llu) are not in the items (at seq %llu): refusing to go on",
                           name, (unsigned long long)(base_off + s->valid_end),
                           s->why ? s->why : "damaged record", (unsigned long long)max,
                           (unsigned long long)l->applied);
        return 1;
    }
    if (after) return corrupt(name, base_off + s->valid_end, s->why);
    return 0;
}

static void note_damage(log_recovery *rec, const char *name, uint64_t off, uint64_t bytes,
                        uint64_t lost_first)
{
    if (!rec) return;
    rec->damaged = 1;
    snprintf(rec->segment, sizeof rec->segment, "%s", name);
    rec->offset = off;
    rec->bytes = bytes;
    rec->lost_first = lost_first;
}

/* Adopts records another process appended after act_end, cutting a torn tail. */
static int catch_up(log *l, uint64_t size, log_recovery *rec)
{
    size_t len = (size_t)(size - l->act_end);
    unsigned char *p = malloc(len + 1);
    int rc;
    scan s;
    if (!p) return err_set(TM_ENOMEM, "out of memory reading log segment %s", l->act_name);
    if ((rc = fsx_pread_all(l->fd, p, len, (long long)l->act_end))) {
        err_wrap(rc, "log segment %s: ", l->act_name);
        goto out;
    }
    if ((rc = scan_records(p, len, l->last_seq + 1, l->last_time, NULL, NULL, NULL, &s))) goto out;
    /* Damage to records the items hold: recover_full keeps the segment and reports it. */
    if ((rc = tail_kind(l, l->act_name, p, len, l->act_end, &s,
                        s.count ? s.last_seq : l->last_seq)))
        goto out;
    if (s.commit_end < len) {
        uint64_t cut = l->act_end + s.commit_end;
        if (ftruncate(l->fd, (off_t)cut) < 0 || (sync_full(l) && fsync(l->fd) < 0)) {
            rc = err_sys(TM_EIO, errno, "truncate log segment %s", l->act_name);
            goto out;
        }
        if (rec) {
            rec->truncated = 1;
            snprintf(rec->segment, sizeof rec->segment, "%s", l->act_name);
            rec->offset = cut;
            rec->bytes = len - s.commit_end;
        }
    }
    if (s.count) {
        l->last_seq = s.last_seq;
        l->last_time = s.last_time;
    }
    l->act_end = l->act_written = l->act_end + s.commit_end;
out:
    free(p);
    return rc;
}

/* 1 if a sealed copy of the active segment exists (another process sealed it but could not
 * remove the raw one). */
static int sealed_exists(const log *l)
{
    char name[32], path[PATH_MAX];
    for (int c = LOG_CODEC_LZ4; c <= LOG_CODEC_ZSTD; c++) {
        name_make(name, l->act_first, (log_codec)c);
        if (!path_make(path, sizeof path, l->dir, name) && access(path, F_OK) == 0) return 1;
    }
    return 0;
}

/* Reads and checks a sealed segment's header (and with check_payload, its payload checksum). */
static int sealed_header(const char *dir, const seg_ent *e, int check_payload, seg_hdr *h,
                         uint64_t *fsize)
{
    char path[PATH_MAX];
    unsigned char hb[HDR_SIZE];
    int rc;
    if ((rc = path_make(path, sizeof path, dir, e->name))) return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return err_set(TM_ENOTFOUND, "log segment %s is gone", e->name);
        return err_sys(TM_EIO, errno, "open log segment %s", path);
    }
    struct stat st;
    unsigned char *pl = NULL;
    if (fstat(fd, &st) < 0) {
        rc = err_sys(TM_EIO, errno, "stat %s", path);
        goto out;
    }
    if (fsize) *fsize = (uint64_t)st.st_size;
    memset(hb, 0, sizeof hb);
    if ((uint64_t)st.st_size >= HDR_SIZE && (rc = fsx_pread_all(fd, hb, HDR_SIZE, 0))) goto out;
    uint64_t off;
    const char *why = hdr_decode(hb, (uint64_t)st.st_size, e->first, e->codec, h, &off);
    if (why) {
        rc = corrupt(e->name, off, why);
        goto out;
    }
    if (check_payload) {
        if ((rc = read_fd_all(fd, e->name, (size_t)st.st_size, &pl))) goto out;
        if (XXH3_64bits(pl + HDR_SIZE, (size_t)h->payload_bytes) != h->payload_sum)
            rc = corrupt(e->name, HDR_SIZE, "payload checksum mismatch");
    }
out:
    free(pl);
    close(fd);
    return rc;
}

/* Scans the newest segment when it is raw and makes it the active one (RECOVERY 3). */
static int recover_raw(log *l, const seg_ent *e, uint64_t prev_last, int64_t prev_time,
                       int has_prev, log_recovery *rec)
{
    char path[PATH_MAX];
    unsigned char *p = NULL;
    int fd = -1, rc;
    if ((rc = path_make(path, sizeof path, l->dir, e->name))) return rc;
    if ((fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC)) < 0)
        return err_sys(TM_EIO, errno, "open log segment %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = err_sys(TM_EIO, errno, "stat %s", path);
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size > LOG_SEGMENT_MAX + HDR_SIZE) {
        rc = corrupt(e->name, 0, "segment larger than 1 GiB");
        goto out;
    }
    if ((rc = read_fd_all(fd, e->name, (size_t)size, &p))) goto out;
    seg_hdr h;
    uint64_t off;
    const char *why = size >= HDR_SIZE ? hdr_decode(p, size, e->first, e->codec, &h, &off)
                                       : "file shorter than the segment header";
    if (why) {
        if (valid_record_after(p, (size_t)size, (size_t)-1, e->first)) {
            rc = corrupt(e->name, 0, why);
            goto out;
        }
        /* Torn while being created: nothing in it was ever committed. */
        if (unlink(path) < 0) {
            rc = err_sys(TM_EIO, errno, "unlink %s", path);
            goto out;
        }
        if (sync_full(l) && (rc = fsx_fsync_dir(l->dir))) goto out;
        if (rec) {
            rec->truncated = 1;
            snprintf(rec->segment, sizeof rec->segment, "%s", e->name);
            rec->offset = 0;
            rec->bytes = size;
        }
        l->last_seq = has_prev ? prev_last : e->first - 1;
        l->last_time = prev_time;
        goto out;
    }
    /* A gap before it (a fence after lost records) is reported by log_gaps and verify; only an
     * overlap would make new seqs ambiguous. */
    if (has_prev && e->first <= prev_last) {
        rc = err_set(TM_ECORRUPT, "log segment %s starts at seq %llu but the one before ends at "
                     "seq %llu", e->name, (unsigned long long)e->first,
                     (unsigned long long)prev_last);
        goto out;
    }
    size_t len = (size_t)size - HDR_SIZE;
    scan s;
    if ((rc = scan_records(p + HDR_SIZE, len, e->first, has_prev ? prev_time : INT64_MIN, NULL,
                           NULL, NULL, &s)))
        goto out;
    uint64_t clast = s.count ? s.last_seq : e->first - 1;
    int kind = tail_kind(l, e->name, p + HDR_SIZE, len, HDR_SIZE, &s, clast);
    if (kind < 0) {
        rc = kind;
        goto out;
    }
    if (kind == 1) {
        /* Kept as it is and no longer active: the caller fences (log_fence). */
        note_damage(rec, e->name, HDR_SIZE + s.commit_end, len - s.commit_end, clast + 1);
        l->last_seq = clast;
        l->last_time = s.count ? s.last_time : (has_prev ? prev_time : 0);
        goto out;
    }
    if (s.commit_end < len) {
        uint64_t cut = HDR_SIZE + s.commit_end;
        if (ftruncate(fd, (off_t)cut) < 0 || (sync_full(l) && fsync(fd) < 0)) {
            rc = err_sys(TM_EIO, errno, "truncate log segment %s", path);
            goto out;
        }
        if (rec) {
            rec->truncated = 1;
            snprintf(rec->segment, sizeof rec->segment, "%s", e->name);
            rec->offset = cut;
            rec->bytes = len - s.commit_end;
        }
    }
    l->fd = fd;
    fd = -1;
    snprintf(l->act_name, sizeof l->act_name, "%s", e->name);
    l->act_first = e->first;
    l->act_end = l->act_written = HDR_SIZE + s.commit_end;
    l->last_seq = s.count ? s.last_seq : e->first - 1;
    l->last_time = s.count ? s.last_time : (has_prev ? prev_time : 0);
out:
    free(p);
    if (fd >= 0) close(fd);
    return rc;
}

/* Full recovery from the directory (RECOVERY 1-3). */
static int recover_full(log *l, log_recovery *rec)
{
    seg_ent *v = NULL;
    size_t n = 0;
    int removed = 0, rc;
    close_active(l);
    l->last_seq = 0;
    l->last_time = 0;
    if ((rc = dir_list(l->dir, 1, &v, &n, &removed))) return rc;
    /* RECOVERY 2: a raw segment with a sealed twin. The valid sealed copy wins; a damaged one
     * (it cannot come from a crash: it was synced before its rename) goes, the raw one stays. */
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1, keep_from = i, keep_to;
        while (j < n && v[j].first == v[i].first) j++;
        keep_to = j;
        if (v[i].codec == LOG_CODEC_RAW && j > i + 1) {
            int sealed_ok = 0;
            for (size_t k = i + 1; k < j; k++) {
                seg_hdr h;
                if (!sealed_header(l->dir, &v[k], 1, &h, NULL)) sealed_ok = 1;
            }
            if (sealed_ok) keep_from = i + 1;
            else keep_to = i + 1;
            for (size_t k = i; k < j; k++) {
                char path[PATH_MAX];
                if (k >= keep_from && k < keep_to) continue;
                if ((rc = path_make(path, sizeof path, l->dir, v[k].name))) goto out;
                if (unlink(path) < 0 && errno != ENOENT) {
                    rc = err_sys(TM_EIO, errno, "unlink %s", path);
                    goto out;
                }
                removed = 1;
            }
        }
        for (size_t k = keep_from; k < keep_to; k++) v[w++] = v[k];
        i = j;
    }
    n = w;
    ents_dedupe(v, &n);
    if (removed && (rc = fsx_fsync_dir(l->dir))) goto out;
    if (n == 0) goto out;
    uint64_t prev_last = 0;
    int64_t prev_time = 0;
    int has_prev = 0;
    for (size_t k = n >= 2 ? n - 2 : 0; k < n; k++) {
        if (v[k].codec == LOG_CODEC_RAW) {
            if (k != n - 1)
                continue; /* a stray raw segment before the newest: readers judge it */
            rc = recover_raw(l, &v[k], prev_last, prev_time, has_prev, rec);
            goto out;
        }
        seg_hdr h;
        if ((rc = sealed_header(l->dir, &v[k], 0, &h, NULL))) goto out;
        prev_last = h.last_seq;
        prev_time = h.last_time;
        has_prev = 1;
    }
    l->last_seq = prev_last;
    l->last_time = prev_time;
out:
    free(v);
    return rc;
}

int log_begin(log *l, log_recovery *rec)
{
    int rc = 0;
    if (rec) memset(rec, 0, sizeof *rec);
    /* A batch left open by the caller: drop it (and what an early write put in the file). */
    if (l->batch_first && l->fd >= 0 && l->act_written != l->act_end) {
        if (ftruncate(l->fd, (off_t)l->act_end) < 0) l->failed = TM_EIO;
        l->act_written = l->act_end;
    }
    drop_batch(l);
    struct stat st;
    if (l->fd >= 0 && !l->failed && fstat(l->fd, &st) == 0 && st.st_nlink > 0 &&
        (uint64_t)st.st_size >= l->act_end && !sealed_exists(l)) {
        if ((uint64_t)st.st_size > l->act_end) rc = catch_up(l, (uint64_t)st.st_size, rec);
        if (rc == 1) rc = recover_full(l, rec);
    } else {
        rc = recover_full(l, rec);
    }
    if (rc) {
        close_active(l);
        l->failed = rc;
        l->begun = 0;
        return rc;
    }
    l->failed = 0;
    l->begun = 1;
    l->pend_seq = l->last_seq;
    l->pend_time = l->last_time;
    maybe_seal(l);
    return 0;
}

void log_set_applied(log *l, uint64_t seq) { l->applied = seq; }

void log_seal(log *l)
{
    /* Not between log_append and log_commit: the active segment must end with a commit. */
    if (!l->batch_first && log_seal_due(l)) {
        int rc = seal_active(l);
        (void)rc; /* as maybe_seal: the records are durable either way; the next commit retries */
    }
}

int log_fence(log *l, uint64_t seq, int64_t time)
{
    int rc;
    if (l->failed) return l->failed;
    if (!l->begun || l->batch_first) return err_set(TM_EINVAL, "log_fence outside log_begin");
    if (seq <= l->last_seq) return 0;
    if (l->fd >= 0) {
        /* An intact active segment that ends early (NONE lost its tail): sealed, or removed
         * when it holds nothing, so that only the newest segment is raw. */
        if (l->act_end > HDR_SIZE) {
            if ((rc = seal_active(l))) return rc;
        } else {
            char path[PATH_MAX];
            if ((rc = path_make(path, sizeof path, l->dir, l->act_name))) return rc;
            close_active(l);
            if (unlink(path) < 0 && errno != ENOENT) return err_sys(TM_EIO, errno, "unlink %s", path);
        }
    }
    if ((rc = create_active(l, seq + 1))) return rc;
    l->last_seq = l->pend_seq = seq;
    if (time > l->last_time) l->last_time = l->pend_time = time;
    return 0;
}

uint64_t log_last_seq(const log *l) { return l->pend_seq; }

int64_t log_last_time(const log *l) { return l->pend_time; }

int log_append(log *l, const log_record *r)
{
    int rc;
    if (l->failed)
        return err_set(l->failed, "log %s: an earlier write failed; log_begin recovers", l->dir);
    if (!l->begun) return err_set(TM_EINVAL, "log %s: log_append before log_begin", l->dir);
    if (r->seq != l->pend_seq + 1)
        return err_set(TM_EINVAL, "log record seq %llu, expected %llu",
                       (unsigned long long)r->seq, (unsigned long long)l->pend_seq + 1);
    if (r->time_us < l->pend_time)
        return err_set(TM_EINVAL, "log record time %lld is before the previous %lld",
                       (long long)r->time_us, (long long)l->pend_time);
    if (r->op < LOG_OP_PUT || r->op > LOG_OP_DELETE)
        return err_set(TM_EINVAL, "bad log op %u", (unsigned)r->op);
    if (r->key_len == 0) return err_set(TM_EINVAL, "log record with an empty key");
    if (r->key_len > LOG_KEY_MAX || r->old_len > LOG_IMAGE_MAX ||
        r->new_len > LOG_IMAGE_MAX)
        return err_set(TM_ELIMIT, "log record key or image length out of bounds");
    size_t n = REC_OVERHEAD + (size_t)r->key_len + r->old_len + r->new_len;
    if (l->batch_bytes + n > LOG_BATCH_MAX)
        return err_set(TM_ELIMIT, "one log commit is limited to %llu bytes",
                       (unsigned long long)LOG_BATCH_MAX);
    if (l->b.len >= LOG_FLUSH_BYTES && (rc = flush_buffer(l))) return fail_batch(l, rc);
    if ((rc = buf_reserve(&l->b, n))) return rc;
    unsigned char *p = (unsigned char *)l->b.data + l->b.len;
    wr_u64le(p, r->seq);
    wr_u64le(p + 8, (uint64_t)r->time_us);
    p[16] = r->op;
    wr_u32le(p + 17, r->key_len);
    wr_u32le(p + 21, r->old_len);
    wr_u32le(p + 25, r->new_len);
    unsigned char *q = p + REC_HEAD;
    memcpy(q, r->key, r->key_len);
    q += r->key_len;
    if (r->old_len) memcpy(q, r->old_img, r->old_len);
    q += r->old_len;
    if (r->new_len) memcpy(q, r->new_img, r->new_len);
    q += r->new_len;
    wr_u64le(q, XXH3_64bits(p, n - REC_SUM));
    l->last_off = l->b.len;
    l->b.len += n;
    if (!l->batch_first) l->batch_first = r->seq;
    l->batch_bytes += n;
    l->pend_seq = r->seq;
    l->pend_time = r->time_us;
    return 0;
}

int log_commit(log *l)
{
    int rc;
    if (l->failed)
        return err_set(l->failed, "log %s: an earlier write failed; log_begin recovers", l->dir);
    if (!l->batch_first) return 0;
    /* The last record closes the batch: flag it and re-sum it. */
    unsigned char *p = (unsigned char *)l->b.data + l->last_off;
    size_t n = rec_len(p);
    p[16] |= REC_COMMIT;
    wr_u64le(p + n - REC_SUM, XXH3_64bits(p, n - REC_SUM));
    if ((rc = flush_buffer(l))) return fail_batch(l, rc);
    if (sync_full(l) && fdatasync(l->fd) < 0) {
        rc = err_sys(TM_EIO, errno, "fdatasync log segment %s", l->act_name);
        return fail_batch(l, rc);
    }
    l->act_end = l->act_written;
    l->last_seq = l->pend_seq;
    l->last_time = l->pend_time;
    l->batch_first = 0;
    l->batch_bytes = 0;
    maybe_seal(l);
    return 0;
}

void log_abort(log *l)
{
    if (!l) return;
    if (l->batch_first && l->fd >= 0 && l->act_written != l->act_end) {
        if (ftruncate(l->fd, (off_t)l->act_end) < 0)
            l->failed = err_sys(TM_EIO, errno, "truncate log segment %s", l->act_name);
        else l->act_written = l->act_end;
    }
    drop_batch(l);
}

void log_close(log *l)
{
    if (!l) return;
    log_abort(l);
    close_active(l);
    buf_free(&l->b);
    free(l->dir);
    free(l);
}

/* ==== readers =================================================================================== */

struct log_reader {
    char *dir;
    uint64_t from, to;       /* to UINT64_MAX: to the last committed record */
    int backward;
    seg_ent *ents;
    size_t n;
    size_t idx;              /* entry of the loaded segment */
    seg_img img;
    size_t pos;              /* forward: stream offset of the next record */
    uint64_t next;           /* the seq to yield next */
    int done;
    int err;                 /* sticky */
};

static int reader_relist(log_reader *r)
{
    free(r->ents);
    r->ents = NULL;
    r->n = 0;
    return list_deduped(r->dir, &r->ents, &r->n);
}

/* Index of the entry whose first seq is `first`, or n. */
static size_t find_first(const log_reader *r, uint64_t first)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->ents[i].first == first) return i;
    return r->n;
}

/* Index of the last entry whose first seq is <= seq, or n if none. */
static size_t find_containing(const log_reader *r, uint64_t seq)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->ents[mid].first <= seq) lo = mid + 1;
        else hi = mid;
    }
    return lo ? lo - 1 : r->n;
}

/* Loads the segment whose first seq is `first`; when the listed file is gone (sealed or
 * recompressed meanwhile), re-lists and loads its new name. */
static int reader_load(log_reader *r, uint64_t first)
{
    img_clear(&r->img);
    for (int tries = 0; tries < LOG_RELIST_TRIES; tries++) {
        size_t i = find_first(r, first);
        if (i == r->n) break;
        int rc = seg_load(r->dir, r->ents[i].name, r->backward, INT64_MIN, &r->img);
        if (rc == 0) {
            r->idx = i;
            return 0;
        }
        if (rc != TM_ENOTFOUND) return rc;
        if ((rc = reader_relist(r))) return rc;
    }
    return err_set(TM_EMISSING, "log segment for seq %llu is gone", (unsigned long long)first);
}

/* Forward: positions at the first visible record with seq >= r->next. */
static void reader_seek(log_reader *r)
{
    size_t o = 0;
    uint64_t seq = r->img.first_seq;
    while (o < r->img.s.commit_end && seq < r->next) {
        o += rec_len(r->img.data + o);
        seq++;
    }
    r->pos = o;
}

static uint64_t img_last(const seg_img *m) { return m->first_seq + m->s.count - 1; }

static int missing(uint64_t a, uint64_t b, const char *why)
{
    return err_set(TM_EMISSING, "log seqs %llu..%llu are missing: %s", (unsigned long long)a,
                   (unsigned long long)b, why);
}

/* Forward: the loaded segment is used up at r->next. 1: loaded more; 0: end of the log. */
static int advance_forward(log_reader *r)
{
    int rc;
    if (r->img.bad) return img_bad_error(&r->img);
    if (r->idx + 1 < r->n && r->ents[r->idx + 1].first == r->next) {
        if ((rc = reader_load(r, r->next))) return rc;
        reader_seek(r);
        return 1;
    }
    /* The list may be stale: the segment grew, was sealed, or a new one began. */
    uint64_t cur = r->img.first_seq, size = r->img.file_size;
    log_codec codec = r->img.codec;
    if ((rc = reader_relist(r))) return rc;
    size_t j = find_first(r, cur);
    if (j < r->n) {
        int changed = r->ents[j].codec != codec;
        if (!changed && codec == LOG_CODEC_RAW) {
            char path[PATH_MAX];
            struct stat st;
            if (!path_make(path, sizeof path, r->dir, r->ents[j].name) && stat(path, &st) == 0)
                changed = (uint64_t)st.st_size != size;
            else changed = 1; /* vanished just now: reader_load re-lists */
        }
        if (changed) {
            if ((rc = reader_load(r, cur))) return rc;
            reader_seek(r);
            if (r->pos < r->img.s.commit_end) return 1;
            if (r->img.bad) return img_bad_error(&r->img);
        }
    }
    size_t k = find_first(r, r->next);
    if (k < r->n && r->ents[k].first != cur) {
        if ((rc = reader_load(r, r->next))) return rc;
        reader_seek(r);
        return 1;
    }
    for (size_t i = 0; i < r->n; i++)
        if (r->ents[i].first > r->next)
            return missing(r->next, r->ents[i].first - 1, "no log segment holds them");
    return 0;
}

int log_reader_open(const char *dir, uint64_t from_seq, uint64_t to_seq, int direction,
                    log_reader **out)
{
    int rc;
    *out = NULL;
    log_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->dir = strdup(dir))) {
        free(r);
        return err_set(TM_ENOMEM, "out of memory opening a log reader");
    }
    r->from = from_seq ? from_seq : 1;
    r->to = to_seq;
    r->backward = direction == LOG_BACKWARD;
    if (r->from > r->to) {
        r->done = 1;
        goto ok;
    }
    if ((rc = reader_relist(r))) goto fail;
    if (r->n == 0) {
        if (r->to == UINT64_MAX) {
            r->done = 1;
            goto ok;
        }
        rc = missing(r->from, r->to, "the log is empty");
        goto fail;
    }
    if (!r->backward) {
        size_t i = find_containing(r, r->from);
        if (i == r->n) {
            rc = missing(r->from, r->ents[0].first - 1, "older than the oldest log segment");
            goto fail;
        }
        r->next = r->from;
        if ((rc = reader_load(r, r->ents[i].first))) goto fail;
        reader_seek(r);
        goto ok;
    }
    /* Backward: start at the segment holding to_seq (or the newest record). */
    size_t i = r->to == UINT64_MAX ? r->n - 1 : find_containing(r, r->to);
    if (i == r->n) {
        rc = missing(r->from, r->ents[0].first - 1, "older than the oldest log segment");
        goto fail;
    }
    if ((rc = reader_load(r, r->ents[i].first))) goto fail;
    if (r->to == UINT64_MAX) {
        if (r->img.s.count == 0 && r->idx > 0) { /* an empty active segment */
            if ((rc = reader_load(r, r->ents[r->idx - 1].first))) goto fail;
        }
        if (r->img.s.count == 0) {
            r->done = 1;
            goto ok;
        }
        r->next = img_last(&r->img);
    } else {
        if (r->img.s.count == 0 || img_last(&r->img) < r->to) {
            if (r->img.bad) {
                rc = img_bad_error(&r->img);
                goto fail;
            }
            uint64_t have = r->img.first_seq + r->img.s.count;
            rc = r->idx + 1 < r->n
                     ? missing(have, r->ents[r->idx + 1].first - 1, "no log segment holds them")
                     : missing(have, r->to, "beyond the end of the log");
            goto fail;
        }
        r->next = r->to;
    }
    if (r->next < r->from) r->done = 1;
ok:
    *out = r;
    return 0;
fail:
    log_reader_close(r);
    return rc;
}

static int next_forward(log_reader *r, log_record *rec)
{
    for (;;) {
        if (r->next > r->to) return 0;
        if (r->pos < r->img.s.commit_end) {
            r->pos += rec_decode(r->img.data + r->pos, rec);
            r->next++;
            return 1;
        }
        int rc = advance_forward(r);
        if (rc < 0) return rc;
        if (rc == 0) {
            if (r->to != UINT64_MAX)
                return missing(r->next, r->to, "beyond the end of the log");
            return 0;
        }
    }
}

static int next_backward(log_reader *r, log_record *rec)
{
    int rc;
    if (r->next < r->from) return 0;
    if (r->next < r->img.first_seq) {
        /* Step to the segment before; it must end exactly at r->next. */
        if (r->idx == 0) return missing(r->from, r->next, "older than the oldest log segment");
        if ((rc = reader_load(r, r->ents[r->idx - 1].first))) return rc;
        if (r->img.s.count == 0 || img_last(&r->img) != r->next) {
            if (r->img.s.count && img_last(&r->img) > r->next)
                return corrupt(r->img.name, 0, "segment overlaps the next one");
            if (r->img.bad) return img_bad_error(&r->img);
            return missing(r->img.first_seq + r->img.s.count, r->next,
                           "no log segment holds them");
        }
    }
    rec_decode(r->img.data + r->img.offs[r->next - r->img.first_seq], rec);
    r->next--;
    if (r->next == 0) r->done = 1;
    return 1;
}

int log_reader_next(log_reader *r, log_record *rec)
{
    if (r->err) return r->err;
    if (r->done) return 0;
    int rc = r->backward ? next_backward(r, rec) : next_forward(r, rec);
    if (rc < 0) r->err = rc;
    if (rc == 0) r->done = 1;
    return rc;
}

void log_reader_close(log_reader *r)
{
    if (!r) return;
    img_free(&r->img);
    free(r->ents);
    free(r->dir);
    free(r);
}

/* ==== segments: list, time lookup, verify, remove, recompress =================================== */

/* One segment's range from its header (sealed) or its records (raw; last_seq = first_seq - 1
 * when it holds none). *bad (optional): a raw segment with damage after its records. */
static int seg_info(const char *dir, const seg_ent *e, log_segment *g, int *bad)
{
    int rc;
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", e->name);
    g->codec = e->codec;
    g->sealed = e->codec != LOG_CODEC_RAW;
    g->first_seq = e->first;
    g->last_seq = e->first - 1;
    if (bad) *bad = 0;
    if (g->sealed) {
        seg_hdr h;
        if ((rc = sealed_header(dir, e, 0, &h, &g->bytes))) return rc;
        g->last_seq = h.last_seq;
        g->first_time = h.first_time;
        g->last_time = h.last_time;
        g->raw_bytes = h.raw_bytes;
        return 0;
    }
    seg_img m = {0};
    if ((rc = seg_load(dir, e->name, 0, INT64_MIN, &m)) == 0) {
        if (m.s.count) {
            g->last_seq = img_last(&m);
            g->first_time = m.s.first_time;
            g->last_time = m.s.last_time;
            g->raw_bytes = m.s.commit_end;
        }
        g->bytes = m.file_size;
        if (bad) *bad = m.bad || m.s.commit_end < m.len;
    }
    img_free(&m);
    return rc;
}

int log_list(const char *dir, log_segment **out, size_t *n)
{
    seg_ent *v = NULL;
    size_t cnt = 0, w = 0;
    log_segment *s = NULL;
    int rc = 0;
    *out = NULL;
    *n = 0;
    for (int tries = 0;; tries++) {
        free(v);
        free(s);
        v = NULL;
        s = NULL;
        w = 0;
        if ((rc = list_deduped(dir, &v, &cnt))) return rc;
        if (cnt && !(s = calloc(cnt, sizeof *s))) {
            rc = err_set(TM_ENOMEM, "out of memory listing log %s", dir);
            goto out;
        }
        for (size_t i = 0; i < cnt && !rc; i++) {
            log_segment *g = &s[w];
            if ((rc = seg_info(dir, &v[i], g, NULL))) break;
            if (g->last_seq >= g->first_seq) w++; /* an empty active segment is omitted */
        }
        if (rc != TM_ENOTFOUND || tries >= LOG_RELIST_TRIES) break;
        rc = 0; /* a segment was sealed while we listed: list again */
    }
out:
    free(v);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    *n = w;
    return 0;
}

int log_end(const char *dir, uint64_t *last_seq, char *newest, size_t n)
{
    seg_ent *v = NULL;
    size_t cnt = 0;
    int rc;
    *last_seq = 0;
    if (newest && n) newest[0] = '\0';
    for (int tries = 0;; tries++) {
        free(v);
        v = NULL;
        if ((rc = list_deduped(dir, &v, &cnt)) || !cnt) break;
        if (newest) snprintf(newest, n, "%s", v[cnt - 1].name);
        log_segment g;
        rc = seg_info(dir, &v[cnt - 1], &g, NULL);
        if (!rc) *last_seq = g.last_seq;
        if (rc != TM_ENOTFOUND || tries >= LOG_RELIST_TRIES) break;
    }
    free(v);
    return rc;
}

static int gap_add(log_gap **v, size_t *n, uint64_t a, uint64_t b, int64_t after, int64_t before,
                   const char *why)
{
    log_gap *q = realloc(*v, (*n + 1) * sizeof *q);
    if (!q) return err_set(TM_ENOMEM, "out of memory listing log gaps");
    *v = q;
    q[*n] = (log_gap){a, b, after, before, ""};
    snprintf(q[*n].why, sizeof q[*n].why, "%s", why);
    (*n)++;
    return 0;
}

int log_gaps(const char *dir, uint64_t through, int64_t through_time, log_gap **out, size_t *n)
{
    seg_ent *v = NULL;
    size_t cnt = 0;
    log_gap *g = NULL;
    size_t ng = 0;
    uint64_t origin = 0, prev_last = 0;
    int64_t prev_time = 0;
    int rc, has_prev = 0;
    char why[96];
    *out = NULL;
    *n = 0;
    if ((rc = origin_read(dir, &origin)) < 0) return rc;
    for (int tries = 0;; tries++) {
        free(v);
        free(g);
        g = NULL;
        ng = 0;
        prev_last = 0;
        prev_time = 0;
        has_prev = 0;
        if ((rc = list_deduped(dir, &v, &cnt))) return rc;
        for (size_t i = 0; i < cnt && !rc; i++) {
            log_segment sg;
            int bad = 0;
            if ((rc = seg_info(dir, &v[i], &sg, &bad))) break;
            if (ng && !g[ng - 1].before_us && sg.last_seq >= sg.first_seq)
                g[ng - 1].before_us = sg.first_time;
            uint64_t expect = has_prev ? prev_last + 1 : origin;
            if (expect && sg.first_seq > expect) {
                if (has_prev) snprintf(why, sizeof why, "no log segment holds them");
                else snprintf(why, sizeof why, "before the oldest log segment %s, after the log's "
                              "origin", sg.name);
                rc = gap_add(&g, &ng, expect, sg.first_seq - 1, has_prev ? prev_time : 0,
                             sg.last_seq >= sg.first_seq ? sg.first_time : 0, why);
            }
            /* A raw segment that is not the newest ends at damage (log_fence kept it). */
            if (!rc && bad && i + 1 < cnt && v[i + 1].first > sg.last_seq + 1) {
                snprintf(why, sizeof why, "damaged in log segment %s", sg.name);
                has_prev = 1;
                prev_last = v[i + 1].first - 1; /* reported here, not again as "no segment" */
                rc = gap_add(&g, &ng, sg.last_seq + 1, prev_last,
                             sg.last_seq >= sg.first_seq ? sg.last_time : prev_time, 0, why);
                if (sg.last_seq >= sg.first_seq) prev_time = sg.last_time;
                continue;
            }
            if (sg.last_seq >= sg.first_seq || sg.first_seq > prev_last) {
                if (sg.last_seq >= sg.first_seq) prev_time = sg.last_time;
                prev_last = sg.last_seq;
                has_prev = 1;
            }
        }
        if (rc != TM_ENOTFOUND || tries >= LOG_RELIST_TRIES) break;
        rc = 0; /* sealed while we looked: again */
    }
    if (!rc && through) {
        uint64_t expect = has_prev ? prev_last + 1 : (origin ? origin : 1);
        if (through >= expect && (has_prev || origin))
            rc = gap_add(&g, &ng, expect, through, has_prev ? prev_time : 0, through_time,
                         "after the end of the log (the items hold them)");
    }
    /* No record after a gap: the items' time bounds it (or nothing does). */
    for (size_t k = 0; !rc && k < ng; k++)
        if (!g[k].before_us) g[k].before_us = through_time ? through_time : INT64_MAX;
    free(v);
    if (rc) {
        free(g);
        return rc;
    }
    *out = g;
    *n = ng;
    return 0;
}

/* First time of a raw segment from its first committed record, without reading the rest. 1 if
 * it has one. */
static int raw_first_time(const char *dir, const seg_ent *e, int64_t *t)
{
    char path[PATH_MAX];
    unsigned char head[HDR_SIZE + REC_HEAD];
    int rc;
    if ((rc = path_make(path, sizeof path, dir, e->name))) return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return err_set(TM_ENOTFOUND, "log segment %s is gone", e->name);
        return err_sys(TM_EIO, errno, "open %s", path);
    }
    ssize_t got = pread(fd, head, sizeof head, 0);
    rc = 0;
    if (got == (ssize_t)sizeof head) {
        /* Times only rise, so even an uncommitted first record bounds the segment. */
        *t = (int64_t)rd_u64le(head + HDR_SIZE + 8);
        rc = 1;
    } else if (got < 0) {
        rc = err_sys(TM_EIO, errno, "read %s", path);
    }
    close(fd);
    return rc;
}

int log_seq_at_time(const char *dir, int64_t t_us, uint64_t *seq)
{
    seg_ent *v = NULL;
    size_t n = 0;
    int rc;
    *seq = 0;
    for (int tries = 0;; tries++) {
        free(v);
        if ((rc = list_deduped(dir, &v, &n))) return rc;
        /* Binary search: the last segment whose first time is <= t. */
        size_t lo = 0, hi = n;
        seg_hdr h;
        while (lo < hi && !rc) {
            size_t mid = lo + (hi - lo) / 2;
            int64_t ft = 0;
            int has = 1;
            if (v[mid].codec == LOG_CODEC_RAW) {
                rc = raw_first_time(dir, &v[mid], &ft);
                if (rc < 0) break;
                has = rc;
                rc = 0;
            } else {
                if ((rc = sealed_header(dir, &v[mid], 0, &h, NULL))) break;
                ft = h.first_time;
            }
            if (has && ft <= t_us) lo = mid + 1;
            else hi = mid;
        }
        if (rc == TM_ENOTFOUND && tries < LOG_RELIST_TRIES) continue;
        if (rc || lo == 0) goto out;
        const seg_ent *e = &v[lo - 1];
        if (e->codec != LOG_CODEC_RAW) {
            if ((rc = sealed_header(dir, e, 0, &h, NULL)) == TM_ENOTFOUND &&
                tries < LOG_RELIST_TRIES)
                continue;
            if (rc) goto out;
            if (h.last_time <= t_us) {
                *seq = h.last_seq;
                goto out;
            }
        }
        seg_img m = {0};
        rc = seg_load(dir, e->name, 0, INT64_MIN, &m);
        if (rc) img_free(&m);
        if (rc == TM_ENOTFOUND && tries < LOG_RELIST_TRIES) continue;
        if (rc) goto out;
        const unsigned char *p = m.data;
        for (size_t o = 0; o < m.s.commit_end; o += rec_len(p + o)) {
            if ((int64_t)rd_u64le(p + o + 8) > t_us) break;
            *seq = rd_u64le(p + o);
        }
        if (*seq == 0 && m.s.count == 0 && lo >= 2) {
            /* An empty active segment: the answer is the end of the one before. */
            img_free(&m);
            if ((rc = sealed_header(dir, &v[lo - 2], 0, &h, NULL)) == 0) *seq = h.last_seq;
            goto out;
        }
        donor_give(dir, &m);
        img_free(&m);
        goto out;
    }
out:
    free(v);
    return rc;
}

typedef struct verify_ctx {
    log_report_fn report;
    void *ctx;
    int problems;
} verify_ctx;

static void vreport(verify_ctx *c, const char *seg, uint64_t off, const char *what)
{
    c->problems++;
    if (c->report) c->report(c->ctx, seg, off, what);
}

int log_verify(const char *dir, log_report_fn report, void *ctx, uint64_t *records)
{
    seg_ent *v = NULL;
    size_t n = 0;
    verify_ctx c = {report, ctx, 0};
    uint64_t total = 0, prev_last = 0;
    int64_t prev_time = 0;
    int has_prev = 0, rc;
    char msg[160];
    seg_img m = {0};
    uint64_t origin = 0;
    if (records) *records = 0;
    if ((rc = origin_read(dir, &origin)) < 0) {
        vreport(&c, ORIGIN_NAME, 0, "damaged");
        origin = 0;
    }
    if ((rc = dir_list(dir, 0, &v, &n, NULL))) return rc;
    for (size_t i = 0; i < n; i++) {
        /* Twins (a crash between rename and unlink) are each checked; one counts. */
        int twin = i + 1 < n && v[i + 1].first == v[i].first;
        int newest = i + 1 == n || (twin && i + 2 >= n);
        rc = seg_load(dir, v[i].name, 0, INT64_MIN, &m);
        if (rc == TM_ENOTFOUND) continue; /* sealed or recompressed while we looked */
        if (rc == TM_ENOMEM) goto out;
        if (rc) {
            /* err_msg is "log segment <name>: offset <n>: <what>"; report the what. */
            const char *what = err_msg();
            const char *s = strstr(what, ": offset ");
            uint64_t off = 0;
            if (s) {
                off = strtoull(s + 9, NULL, 10);
                const char *t = strchr(s + 9, ':');
                what = t ? t + 2 : what;
            }
            vreport(&c, v[i].name, off, what);
            rc = 0;
            continue;
        }
        if (m.bad) {
            vreport(&c, m.name, m.bad_off, m.bad_why);
        } else if (m.codec == LOG_CODEC_RAW && m.s.commit_end < m.len && !newest) {
            vreport(&c, m.name, HDR_SIZE + m.s.commit_end,
                    m.s.why ? m.s.why : "records after the last commit");
        }
        if (!twin && !m.s.count && m.first_seq > (has_prev ? prev_last + 1 : origin)) {
            /* An empty segment still says by its name where the log goes on. */
            if (has_prev || origin) {
                snprintf(msg, sizeof msg, "gap: seqs %llu..%llu are missing",
                         (unsigned long long)(has_prev ? prev_last + 1 : origin),
                         (unsigned long long)m.first_seq - 1);
                vreport(&c, m.name, 8, msg);
            }
            prev_last = m.first_seq - 1;
            has_prev = 1;
        }
        if (!twin && m.s.count) {
            /* (A segment before the origin is left by a removal a crash interrupted: fine.) */
            if (!has_prev && origin && m.first_seq > origin) {
                snprintf(msg, sizeof msg, "gap: seqs %llu..%llu are missing (the log's origin "
                         "is seq %llu)", (unsigned long long)origin,
                         (unsigned long long)m.first_seq - 1, (unsigned long long)origin);
                vreport(&c, m.name, 8, msg);
            }
            if (has_prev && m.first_seq != prev_last + 1) {
                if (m.first_seq > prev_last + 1)
                    snprintf(msg, sizeof msg, "gap: seqs %llu..%llu are missing",
                             (unsigned long long)prev_last + 1,
                             (unsigned long long)m.first_seq - 1);
                else
                    snprintf(msg, sizeof msg, "overlap: starts at seq %llu, the one before "
                             "ends at %llu", (unsigned long long)m.first_seq,
                             (unsigned long long)prev_last);
                vreport(&c, m.name, 8, msg);
            }
            if (has_prev && m.s.first_time < prev_time)
                vreport(&c, m.name, HDR_SIZE + 8, "time goes backwards from the segment before");
            total += m.s.count;
            prev_last = img_last(&m);
            prev_time = m.s.last_time;
            has_prev = 1;
        }
    }
out:
    img_free(&m);
    free(v);
    if (records) *records = total;
    if (rc) return rc;
    return c.problems ? err_set(TM_ECORRUPT, "log %s: %d problem(s) found", dir, c.problems) : 0;
}

int log_remove_segment(const char *dir, const char *name)
{
    uint64_t first;
    log_codec codec;
    long pid;
    seg_ent *v = NULL;
    size_t n = 0;
    char path[PATH_MAX];
    int rc;
    if (name_parse(name, &first, &codec, &pid) != 1 || codec == LOG_CODEC_RAW)
        return err_set(TM_EINVAL, "%s is not a sealed log segment", name);
    if ((rc = dir_list(dir, 0, &v, &n, NULL))) return rc;
    int newest = n && v[n - 1].first == first, oldest = n && v[0].first == first;
    size_t at = 0;
    while (at < n && v[at].first != first) at++;
    seg_ent e = at < n ? v[at] : (seg_ent){0};
    free(v);
    if (newest)
        return err_set(TM_EINVAL, "%s is the newest log segment: it is kept so that seqs go on",
                       name);
    if (at == n) return err_set(TM_ENOTFOUND, "log segment %s not found in %s", name, dir);
    if (!oldest)
        return err_set(TM_EINVAL, "%s is not the oldest log segment: removing it would leave a gap",
                       name);
    /* The origin moves first: a crash in between leaves a segment older than the origin, which
     * readers ignore and the next removal takes, never an unexplained gap. */
    seg_hdr h;
    snprintf(e.name, sizeof e.name, "%s", name);
    e.codec = codec;
    if ((rc = sealed_header(dir, &e, 0, &h, NULL))) return rc;
    uint64_t origin;
    if ((rc = origin_read(dir, &origin)) < 0) return rc;
    if ((rc == 0 || origin <= h.last_seq) && (rc = origin_write(dir, h.last_seq + 1))) return rc;
    if ((rc = path_make(path, sizeof path, dir, name))) return rc;
    if (unlink(path) < 0) {
        if (errno == ENOENT) return err_set(TM_ENOTFOUND, "log segment %s not found", path);
        return err_sys(TM_EIO, errno, "unlink %s", path);
    }
    return fsx_fsync_dir(dir);
}

int log_recompress(const char *dir, const char *name, log_codec codec)
{
    uint64_t first;
    log_codec from;
    long pid;
    seg_img m = {0};
    unsigned char *z = NULL, hdr[HDR_SIZE];
    size_t zn = 0;
    char src[PATH_MAX], dst[PATH_MAX], newname[32];
    int rc;
    if (name_parse(name, &first, &from, &pid) != 1 || from == LOG_CODEC_RAW)
        return err_set(TM_EINVAL, "%s is not a sealed log segment", name);
    if (codec != LOG_CODEC_LZ4 && codec != LOG_CODEC_ZSTD)
        return err_set(TM_EINVAL, "recompress codec must be LZ4 or zstd");
    if (codec == from) return 0;
    if ((rc = seg_load(dir, name, 0, INT64_MIN, &m))) goto out;
    if (m.bad) {
        rc = img_bad_error(&m);
        goto out;
    }
    if ((rc = compress_payload(codec, m.data, m.len, &z, &zn))) goto out;
    seg_hdr h = m.h;
    h.codec = codec;
    h.payload_bytes = zn;
    h.payload_sum = XXH3_64bits(z, zn);
    hdr_encode(&h, hdr);
    name_make(newname, first, codec);
    if ((rc = path_make(src, sizeof src, dir, name)) ||
        (rc = path_make(dst, sizeof dst, dir, newname)))
        goto out;
    if ((rc = fsx_write_atomic2(dst, hdr, HDR_SIZE, z, zn))) goto out;
    if (unlink(src) < 0 && errno != ENOENT) {
        rc = err_sys(TM_EIO, errno, "unlink %s", src);
        goto out;
    }
    rc = fsx_fsync_dir(dir);
out:
    free(z);
    img_free(&m);
    return rc;
}
