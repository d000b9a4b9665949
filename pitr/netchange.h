/* netchange.h: the net change of every item over a window of the change log (incremental
 * exports, FORMATS.md section 3; ARCHITECTURE.md "Point in time").
 *
 * The log is read forward once over the records of the window; records are grouped by encoded
 * key keeping the FIRST old image (the item as it was when the window opened), the LAST new image
 * (as it is when the window closes) and the LAST write time. The result comes out in encoded-key
 * order (hash prefix first, so export partitions are contiguous runs of it).
 *
 * Memory is bounded: past mem_limit bytes of grouped entries the group is sorted and spilled to
 * a temporary run file; at the end the runs (oldest first) and what is left in memory are merged.
 * Run files are unlinked as soon as they are created: nothing is left behind by a crash. Their
 * format is at the top of netchange.c.
 *
 * Net change rules per key (old/new "absent" = length 0):
 *   - old absent and new absent (inserted and deleted inside the window): no entry;
 *   - anything else: one entry, also when old and new are equal (the item was written: a
 *     delete + re-insert of the same item is an update, as on DynamoDB). */
#ifndef TIDEMARK_PITR_NETCHANGE_H
#define TIDEMARK_PITR_NETCHANGE_H

#include "engine/log.h"
#include <stddef.h>
#include <stdint.h>

#define NETCHANGE_MEM_DEFAULT ((size_t)64 << 20)
#define NETCHANGE_MEM_MIN     ((size_t)4096)

typedef struct netchange_options {
    size_t mem_limit;        /* 0: $TIDEMARK_NETCHANGE_MEM (bytes; tests force spills with it),
                                else NETCHANGE_MEM_DEFAULT. Never below NETCHANGE_MEM_MIN. */
    const char *tmp_dir;     /* spill runs; NULL: $TMPDIR, else /tmp */
} netchange_options;
#define NETCHANGE_OPTIONS_INIT {0, NULL}

typedef struct netchange_stats {
    uint64_t records;        /* log records grouped */
    uint64_t first_seq, last_seq;   /* the seq range read (first > last: empty window) */
    uint64_t runs;           /* spill runs written (0: it all fit in memory) */
    uint64_t spilled_bytes;
    uint64_t entries;        /* entries returned so far */
    uint64_t approx_bytes;   /* key + image bytes grouped (an upper bound of the output) */
    size_t mem_limit;        /* the memory bound in effect (options, environment or default) */
} netchange_stats;

typedef struct netchange_entry {
    const void *key;     size_t key_len;    /* encoded key (key.h) */
    const void *old_img; size_t old_len;    /* item at the window's start; 0: absent */
    const void *new_img; size_t new_len;    /* item at the window's end; 0: absent (deleted) */
    int64_t time_us;                        /* last write in the window */
    uint64_t writes;                        /* records of this key in the window */
} netchange_entry;

typedef struct netchange netchange;

/* Groups the records of log_dir with from_us <= time < to_us. Reads the whole window before
 * returning (the first netchange_next is then immediate). TM_EMISSING / TM_ECORRUPT from the
 * log; TM_EIO for the spill files. An empty window is fine (no entries). */
int netchange_open(const char *log_dir, int64_t from_us, int64_t to_us,
                   const netchange_options *opts, netchange **out);
/* The same over the records with from_seq <= seq <= to_seq. */
int netchange_open_seq(const char *log_dir, uint64_t from_seq, uint64_t to_seq,
                       const netchange_options *opts, netchange **out);

/* For feeding records by hand (tests, other readers): new, add in log order, then next. */
int netchange_new(const netchange_options *opts, netchange **out);
/* rec's pointers are copied. Records must come in ascending seq order. */
int netchange_add(netchange *nc, const log_record *rec);

/* 1: *e holds the next entry (pointers valid until the next call or close); 0: end; <0 error. */
int netchange_next(netchange *nc, netchange_entry *e);
void netchange_get_stats(const netchange *nc, netchange_stats *out);
void netchange_close(netchange *nc);   /* NULL is fine */

#endif
