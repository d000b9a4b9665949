/* import_src.h: resolving an import's SOURCE into data files, and reading archive entries.
 * Internal to import/ (see import_src.c for the why). */
#ifndef TIDEMARK_IMPORT_SRC_H
#define TIDEMARK_IMPORT_SRC_H

#include "engine/key.h"
#include "import/import_internal.h"
#include "store/store.h"

/* One data file (or archive entry) to read. */
typedef struct import_input {
    char *key;          /* key in the store (relative to its prefix), or the entry path */
    char *ptr_key;      /* itemS3Pointer.key (see import.h ITEM ERRORS) */
    long mi;            /* index in the manifest, -1 when there is none */
    uint64_t size;      /* raw bytes when known (0: unknown) */
} import_input;

/* An archive entry that was not read (a link: see import_src.c), for the result. */
typedef struct import_skip {
    char *entry;        /* its path in the archive */
    char *reason;       /* "hard link of d/a.json: its data is read once, under ..." */
} import_skip;

typedef struct import_source {
    char *display;              /* SOURCE as given, for messages */
    store *st;
    int archive;                /* 1: the data are the entries of archive_key */
    char *archive_key, *archive_ptr;
    char *export_sub;           /* where the manifests were: "" or "x/AWSDynamoDB/<id>/" */
    const char *prefix_filter;  /* during resolution only */
    int have_manifest;
    import_manifest man;
    int have_schema;
    key_schema schema;
    buf schema_table;           /* TableName in tidemark-schema.json */
    import_input *inputs;
    size_t n, cap;
    char bucket[256];           /* S3BucketSource */
    char key_prefix[1024];
    import_skip *skipped;       /* archive entries skipped, in archive order */
    size_t nskipped;
    int ignore_summary_checksum;/* import_options' */
} import_source;

/* Resolves from (see import.h SOURCES); lists and checks manifests (every listed file must be
 * there); for archives, runs the first pass. so may be NULL. budget bounds archive expansion. */
int import_source_open(const char *from, const store_options *so, import_dec_budget *budget,
                       int ignore_summary_checksum, import_source *src);
void import_source_close(import_source *src);
int import_is_archive_name(const char *name);

/* The second pass over an archive: fn is called for each chosen entry, in order, with its
 * index in src->inputs; read its bytes with import_archive_read(x, ...). */
typedef struct import_archive import_archive;
typedef int (*import_entry_fn)(void *ctx, size_t index, import_archive *x);
int import_source_archive_each(import_source *src, import_dec_budget *budget,
                               import_entry_fn fn, void *ctx);
int import_archive_read(void *x, void *p, size_t n, size_t *got);   /* an import_read_fn */
const char *import_archive_path(const import_archive *x);

#endif
