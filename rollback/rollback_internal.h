/* rollback_internal.h: what rollback.c shares with its two targets (target_local.c: a tidemark
 * table; target_ddb.c: a DynamoDB-API endpoint). */
#ifndef TIDEMARK_ROLLBACK_INTERNAL_H
#define TIDEMARK_ROLLBACK_INTERNAL_H

#include "rollback/rollback.h"
#include "engine/key.h"

/* One chosen record, its images in the canonical encoding (item.h). expect and target are the
 * images of the direction (undo: NewImage and OldImage). */
typedef struct rb_rec {
    unsigned char *key;           /* the table's encoded key (key.h): sort order, duplicates;
                                     the one block (in the records' arena) that keys, expect and
                                     target point into */
    uint32_t kn;
    unsigned char *keys, *expect, *target;   /* NULL when absent (keys never) */
    uint32_t ksn, en, tn;
    int64_t write_us;
    uint64_t order;               /* position in the export (the later of equal times wins) */
    rollback_action action;       /* 0 until decided */
    unsigned char *cur;           /* the current image when it is reported (conflicts) */
    uint32_t cn;
    int kept;                     /* cur was kept (rb_keep_current) */
    int has_cur;                  /* ... and the item existed (else cur is NULL: absent) */
} rb_rec;

/* What the current image (NULL p: absent) is for r, before any force: ALREADY, RESTORE (or
 * DELETE when the target is absent), or CONFLICT. */
rollback_action rb_classify(const rb_rec *r, const void *p, size_t n);
/* Keeps a copy of the current image in r (for the report). */
int rb_keep_current(rb_rec *r, const void *p, size_t n);

typedef struct rb_target rb_target;
typedef struct rb_target_ops {
    /* The current image of r's item: r->action set by rb_classify, the image kept when it is a
     * conflict. No write. */
    int (*read)(rb_target *t, rb_rec *r);
    /* The checked write: sets r->action (RESTORE, DELETE, ALREADY, CONFLICT, or OVERWRITTEN
     * when force), keeping the current image of a conflict. Atomic with its check. */
    int (*write)(rb_target *t, rb_rec *r, int force);
    /* Optional: every record through write's rule in batches, instead of write from a pool
     * of threads (a tidemark table: one write txn and one durable log commit per batch). */
    int (*write_all)(rb_target *t, rb_rec *v, size_t n, int force, progress *prog);
    void (*close)(rb_target *t);
    /* Optional: read for every record, in batches (an endpoint: BatchGetItem), instead of
     * read from a pool of threads. */
    int (*read_all)(rb_target *t, rb_rec *v, size_t n, progress *prog);
} rb_target_ops;

struct rb_target {
    const rb_target_ops *ops;
    key_schema ks;
    uint64_t seq;                 /* tidemark table: its log's last seq (target_local) */
};

/* Opens the target of o (a dry run opens a tidemark table read-only). */
int rb_local_open(const rollback_options *o, rb_target **out);
int rb_local_seq(rb_target *t, uint64_t *seq);
int rb_ddb_open(const rollback_options *o, rb_target **out);

#endif
