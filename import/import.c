/* import.c: one import, start to end: resolve the source, read every data file (in parallel
 * when there are several), validate items, sort them by key, build the new table in key order
 * and publish it. The outcome's ImportTableDescription is written by the api layer
 * (api/backup_import.c), from import_result.
 *
 * Atomicity: the table is a table_builder under a hidden name until table_builder_commit; any
 * failure (a bad file, a checksum, --max-errors, a signal) aborts the builder, which removes
 * it. A kill leaves only a hidden staging directory (never listed as a table).
 *
 * Why sorted: the builder appends (MDB_APPEND) when keys arrive in order, which is several
 * times faster than random inserts and keeps LMDB's pages full. Items are never replayed as
 * single puts, so the new table's change log stays empty and PITR starts disabled (as AWS
 * creates imported tables). Two ways to get key order:
 *   SORTED (any input): workers parse files in parallel into external sorters (import_sort.c:
 *     memory flat whatever the input size); then one k-way merge feeds the builder.
 *   ORDERED (a tidemark export imported with its own key schema): tidemark-export writes each
 *     partition's files in key order and partitions are ascending ranges of the key hash, in
 *     manifest order; so files in manifest order are already sorted. Workers parse files
 *     (worker w takes files w, w+N, ...) into bounded queues of record batches, and this thread
 *     writes them to the builder in file order while they parse: no sort, no spill, and the
 *     build overlaps the parsing. A key out of order (a tampered export) is still written
 *     correctly, as a plain put, only slower; later lines still win.
 * Sorting ourselves beats letting LMDB sort (random inserts), measured on 1M chat items in 4
 * unsorted gzip files, 2 cores: sorted 5.3 s CPU, 330 MB peak RSS (the sort arena, flat), a
 * 285 MB table; random inserts 9.2 s CPU, 758 MB RSS (growing with the table) and a 577 MB
 * table of half-empty pages. (TIDEMARK_IMPORT_DIRECT=1 reproduces the latter.) */
#include "import/import.h"
#include "import/import_internal.h"
#include "import/import_src.h"
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/item.h"
#include "engine/text.h"
#include "engine/table.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define DEC_CHUNK (256u << 10)
#define PROGRESS_EVERY 2048
#define AWS_INVALID "One or more parameter values were invalid: "

/* ---- names ---------------------------------------------------------------------------------- */

const char *import_format_name(import_format f)
{
    return f == IMPORT_FMT_CSV ? "CSV" : "DYNAMODB_JSON";
}

const char *import_compression_name(import_compression c)
{
    switch (c) {
    case IMPORT_COMP_GZIP: return "GZIP";
    case IMPORT_COMP_ZSTD: return "ZSTD";
    case IMPORT_COMP_NONE: return "NONE";
    default: return "AUTO";
    }
}

static int ends_with_ci(const char *s, size_t n, const char *suf)
{
    size_t k = strlen(suf);
    return n >= k && !strncasecmp(s + n - k, suf, k);
}

import_format import_guess_format(const char *name)
{
    size_t n = strlen(name);
    static const char *const comp[] = {".gz", ".gzip", ".zst", ".zstd"};
    for (size_t i = 0; i < sizeof comp / sizeof *comp; i++)
        if (ends_with_ci(name, n, comp[i])) { n -= strlen(comp[i]); break; }
    return ends_with_ci(name, n, ".csv") ? IMPORT_FMT_CSV : IMPORT_FMT_DYNAMODB_JSON;
}

int import_format_parse(const char *s)
{
    if (!strcasecmp(s, "DYNAMODB_JSON") || !strcasecmp(s, "json")) return IMPORT_FMT_DYNAMODB_JSON;
    if (!strcasecmp(s, "CSV")) return IMPORT_FMT_CSV;
    return -1;
}

int import_compression_parse(const char *s)
{
    if (!strcasecmp(s, "auto")) return IMPORT_COMP_AUTO;
    if (!strcasecmp(s, "none")) return IMPORT_COMP_NONE;
    if (!strcasecmp(s, "gzip") || !strcasecmp(s, "gz")) return IMPORT_COMP_GZIP;
    if (!strcasecmp(s, "zstd") || !strcasecmp(s, "zst")) return IMPORT_COMP_ZSTD;
    return -1;
}

static const char *type_name(av_type t)
{
    static const char *const n[] = {"?", "S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"};
    return (unsigned)t <= AV_BOOL ? n[t] : "?";
}

/* ---- the import's shared state ------------------------------------------------------------ */

typedef struct imp {
    const import_options *opt;
    import_result *res;
    import_source src;
    key_schema ks;
    import_dec_budget budget;
    import_errlog *elog;
    pthread_mutex_t mu;            /* elog, samples, failure, compression */
    size_t next_file;              /* store mode: the next input to take (atomic) */
    uint64_t processed, imported, errors, bytes, raw, files;   /* atomic */
    uint64_t unparsed;             /* atomic: lines that are not JSON at all (format guess) */
    import_options eff;            /* opt with the format decided (guessed when AUTO) */
    const char *guessed_from;      /* the name the format was guessed from; NULL: given */
    int failed;                    /* atomic: stop every worker */
    int ordered;                   /* ORDERED mode (see the top) */
    struct worker *ws;             /* to wake their queues on failure */
    int nw;
    int fail_rc;
    char fail_code[48];
    char fail_msg[1024];
} imp;

static void wake_queues(imp *im);

/* The first failure's code, read from any thread (0: none yet). */
static int fail_rc(imp *im) { return __atomic_load_n(&im->fail_rc, __ATOMIC_ACQUIRE); }

/* Records the first fatal failure (rc with err_msg(), which is thread-local) and stops all. */
static int imp_fail(imp *im, int rc, const char *code)
{
    pthread_mutex_lock(&im->mu);
    if (!fail_rc(im)) {
        __atomic_store_n(&im->fail_rc, rc, __ATOMIC_RELEASE);
        snprintf(im->fail_code, sizeof im->fail_code, "%s", code);
        snprintf(im->fail_msg, sizeof im->fail_msg, "%s", err_msg());
    }
    pthread_mutex_unlock(&im->mu);
    __atomic_store_n(&im->failed, 1, __ATOMIC_RELAXED);
    wake_queues(im);
    return rc;
}

static int imp_stopped(imp *im)
{
    if (__atomic_load_n(&im->failed, __ATOMIC_RELAXED)) return 1;
    if (im->opt->cancel && *im->opt->cancel) {
        err_set(TM_EIO, "interrupted");
        imp_fail(im, TM_EIO, "Cancelled");
        return 1;
    }
    return 0;
}

/* The FailureCode for a fatal error of a data file. */
static const char *file_fail_code(int rc)
{
    switch (rc) {
    case TM_ELIMIT: return "DecompressionLimitExceeded";
    case TM_ECORRUPT: return "InvalidDataFile";
    case TM_ENOTFOUND: return "DataFileNotFound";
    case TM_EREMOTE: return "S3AccessError";
    default: return "InternalError";
    }
}

/* ---- one worker: reads files, validates items, feeds its sorter or queue --------------- */

/* ORDERED mode: records of one file, [u32 LE key len][u32 LE value len][key][value]... */
#define BATCH_BYTES (256u << 10)
#define QUEUE_BYTES ((size_t)2 << 20)    /* per worker: how far parsing may run ahead */

typedef struct rbatch {
    struct rbatch *next;
    size_t file;
    int eof;                 /* the last batch of its file */
    size_t len, cap;
    char data[];
} rbatch;

typedef struct worker {
    imp *im;
    import_sorter *sorter;
    /* ORDERED mode: the batch being filled and the queue to the writer */
    rbatch *cur;
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    rbatch *qhead, *qtail;
    size_t qbytes;
    rbatch *spare;           /* batches the writer gave back (1 MiB mallocs are mmaps: reuse) */
    import_lines *lines;
    import_csv *csv;
    char *chunk;
    buf key, val, tmp;
    /* the current file */
    const import_input *in;
    uint64_t file_no, items, pending_items, pending_bytes;
    /* CSV header of the current file */
    char **hdr;
    size_t nhdr;
    int have_hdr;
    int rc;
} worker;

static void worker_free(worker *w)
{
    if (!w || !w->im) return;
    free(w->cur);
    while (w->qhead) {
        rbatch *b = w->qhead;
        w->qhead = b->next;
        free(b);
    }
    while (w->spare) {
        rbatch *b = w->spare;
        w->spare = b->next;
        free(b);
    }
    pthread_mutex_destroy(&w->qmu);
    pthread_cond_destroy(&w->qcv);
    import_sorter_free(w->sorter);
    import_lines_free(w->lines);
    import_csv_free(w->csv);
    free(w->chunk);
    buf_free(&w->key);
    buf_free(&w->val);
    buf_free(&w->tmp);
    for (size_t i = 0; i < w->nhdr; i++) free(w->hdr[i]);
    free(w->hdr);
}

static int worker_init(worker *w, imp *im, const char *tmpdir, size_t mem)
{
    const import_options *o = im->opt;
    memset(w, 0, sizeof *w);
    w->im = im;
    w->key = (buf)BUF_INIT;
    w->val = (buf)BUF_INIT;
    w->tmp = (buf)BUF_INIT;
    pthread_mutex_init(&w->qmu, NULL);
    pthread_cond_init(&w->qcv, NULL);
    int rc = im->ordered ? 0 : import_sorter_new(tmpdir, mem, &w->sorter);
    if (!rc && o->format == IMPORT_FMT_DYNAMODB_JSON) rc = import_lines_new(o->max_line, &w->lines);
    if (!rc && o->format == IMPORT_FMT_CSV) rc = import_csv_new(o->csv_delimiter, o->max_line, &w->csv);
    if (!rc && !(w->chunk = malloc(DEC_CHUNK))) rc = err_set(TM_ENOMEM, "out of memory");
    return rc;
}

static void flush_progress(worker *w)
{
    imp *im = w->im;
    if (im->opt->prog && (w->pending_items || w->pending_bytes))
        progress_add(im->opt->prog, w->pending_items, w->pending_bytes);
    w->pending_items = w->pending_bytes = 0;
}

static void wake_queues(imp *im)
{
    for (int i = 0; im->ws && i < im->nw; i++) {
        pthread_mutex_lock(&im->ws[i].qmu);
        pthread_cond_broadcast(&im->ws[i].qcv);
        pthread_mutex_unlock(&im->ws[i].qmu);
    }
}

/* Hands the current batch to the writer, waiting while the queue is full. */
static int queue_push(worker *w, size_t file, int eof)
{
    imp *im = w->im;
    rbatch *b = w->cur;
    if (!b && !(b = calloc(1, sizeof *b))) return imp_fail(im, err_set(TM_ENOMEM, "out of memory"), "InternalError");
    w->cur = NULL;
    b->file = file;
    b->eof = eof;
    pthread_mutex_lock(&w->qmu);
    while (w->qbytes > QUEUE_BYTES && !__atomic_load_n(&im->failed, __ATOMIC_RELAXED))
        pthread_cond_wait(&w->qcv, &w->qmu);
    if (w->qtail) w->qtail->next = b;
    else w->qhead = b;
    w->qtail = b;
    w->qbytes += b->len;
    pthread_cond_broadcast(&w->qcv);
    pthread_mutex_unlock(&w->qmu);
    return 0;
}

/* The writer's side: the next batch of w, or NULL once the import failed. */
static rbatch *queue_pop(worker *w)
{
    imp *im = w->im;
    for (;;) {
        pthread_mutex_lock(&w->qmu);
        if (!w->qhead && !__atomic_load_n(&im->failed, __ATOMIC_RELAXED)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000000;   /* wake now and then to notice a signal */
            if (ts.tv_nsec >= 1000000000) { ts.tv_sec++; ts.tv_nsec -= 1000000000; }
            pthread_cond_timedwait(&w->qcv, &w->qmu, &ts);
        }
        if (w->qhead && !__atomic_load_n(&im->failed, __ATOMIC_RELAXED)) {
            rbatch *b = w->qhead;
            w->qhead = b->next;
            if (!w->qhead) w->qtail = NULL;
            w->qbytes -= b->len;
            pthread_cond_broadcast(&w->qcv);
            pthread_mutex_unlock(&w->qmu);
            return b;
        }
        pthread_mutex_unlock(&w->qmu);
        if (imp_stopped(im)) return NULL;   /* outside the lock: imp_fail wakes the queues */
    }
}

static int batch_add(worker *w, const void *key, size_t kn, const void *val, size_t vn)
{
    size_t need = 8 + kn + vn;
    if (w->cur && w->cur->len + need > w->cur->cap) {
        int rc = queue_push(w, w->file_no, 0);
        if (rc) return rc;
    }
    if (!w->cur && need <= BATCH_BYTES) {
        pthread_mutex_lock(&w->qmu);
        if ((w->cur = w->spare)) w->spare = w->cur->next;
        pthread_mutex_unlock(&w->qmu);
        if (w->cur) {
            w->cur->next = NULL;
            w->cur->len = 0;
            w->cur->eof = 0;
        }
    }
    if (!w->cur) {
        size_t cap = need > BATCH_BYTES ? need : BATCH_BYTES;
        if (!(w->cur = malloc(sizeof *w->cur + cap)))
            return imp_fail(w->im, err_set(TM_ENOMEM, "out of memory"), "InternalError");
        memset(w->cur, 0, sizeof *w->cur);
        w->cur->cap = cap;
    }
    char *p = w->cur->data + w->cur->len;
    wr_u32le(p, (uint32_t)kn);
    wr_u32le(p + 4, (uint32_t)vn);
    memcpy(p + 8, key, kn);
    memcpy(p + 8 + kn, val, vn);
    w->cur->len += need;
    return 0;
}

/* A rejected item: counted, logged, maybe the last straw (--max-errors). */
static int item_error(worker *w, uint64_t index, const char *msg)
{
    imp *im = w->im;
    uint64_t n = __atomic_add_fetch(&im->errors, 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&im->mu);
    int rc = import_errlog_add(im->elog, im->src.bucket, w->in->ptr_key, index, msg);
    import_result *res = im->res;
    if (res->nsamples < IMPORT_MAX_ERROR_SAMPLES)
        snprintf(res->samples[res->nsamples++], sizeof res->samples[0], "%s item %llu: %s",
                 w->in->ptr_key, (unsigned long long)index, msg);
    pthread_mutex_unlock(&im->mu);
    if (rc) return imp_fail(im, rc, "ErrorLogWriteFailed");
    if (im->opt->max_errors != UINT64_MAX && n > im->opt->max_errors) {
        err_set(TM_ELIMIT, "more than %llu item errors (--max-errors); the last: %s item %llu: %s",
                (unsigned long long)im->opt->max_errors, w->in->ptr_key,
                (unsigned long long)index, msg);
        return imp_fail(im, TM_ELIMIT, "ItemValidationError");
    }
    return 0;
}

/* A wrong format, seen early: the first `at_least` lines (or every line, at the end) were not
 * DynamoDB JSON and nothing was accepted. Fails naming the option that fixes the guess, rather
 * than leaving an empty table behind. 0: not (yet) the case. */
static int wrong_format(imp *im, uint64_t at_least)
{
    uint64_t bad = __atomic_load_n(&im->unparsed, __ATOMIC_RELAXED);
    if (bad < at_least || bad != __atomic_load_n(&im->processed, __ATOMIC_RELAXED) ||
        __atomic_load_n(&im->imported, __ATOMIC_RELAXED))
        return 0;
    char why[600];
    if (im->guessed_from)
        snprintf(why, sizeof why, "DYNAMODB_JSON was guessed from the name %s", im->guessed_from);
    else
        snprintf(why, sizeof why, "--input-format DYNAMODB_JSON");
    err_set(TM_EINVAL, "%s: none of the first %llu lines is DynamoDB JSON (%s): if the data is "
            "CSV, give --input-format CSV (with --key)", im->opt->from, (unsigned long long)bad,
            why);
    return imp_fail(im, TM_EINVAL, "InvalidInputFormat");
}

/* Checks the key the AWS way (their messages), encodes key and item, and hands them over. */
static int accept_item(worker *w, item *it, uint64_t index)
{
    imp *im = w->im;
    const key_schema *ks = &im->ks;
    char msg[1024];
    for (int k = 0; k < (ks->range_type ? 2 : 1); k++) {
        const char *name = k ? ks->range_name : ks->hash_name;
        av_type want = k ? ks->range_type : ks->hash_type;
        const av *v = item_get(it, name);
        if (!v) {
            snprintf(msg, sizeof msg, AWS_INVALID "Missing the key %s in the item", name);
            return item_error(w, index, msg);
        }
        if (v->type != want) {
            snprintf(msg, sizeof msg, AWS_INVALID "Type mismatch for key %s expected: %s "
                     "actual: %s", name, type_name(want), type_name(v->type));
            return item_error(w, index, msg);
        }
        if (v->len == 0) {
            snprintf(msg, sizeof msg, "One or more parameter values are not valid. The "
                     "AttributeValue for a key attribute cannot contain an empty %s value. "
                     "Key: %s", want == AV_B ? "binary" : "string", name);
            return item_error(w, index, msg);
        }
    }
    buf_reset(&w->key);
    buf_reset(&w->val);
    int rc = key_encode_item(ks, it, &w->key);
    if (rc == TM_EINVAL || rc == TM_ELIMIT) {
        snprintf(msg, sizeof msg, AWS_INVALID "%s", err_msg());
        return item_error(w, index, msg);
    }
    /* The value carries the item's DynamoDB size ahead of its encoding, so that the builder
     * need not decode it again (table_builder_put_bin_sized). */
    if (rc || (rc = buf_put_u32le(&w->val, (uint32_t)item_size(it))) || (rc = item_encode(it, &w->val)))
        return imp_fail(im, rc, "InternalError");
    if (im->ordered) {
        if ((rc = batch_add(w, w->key.data, w->key.len, w->val.data, w->val.len))) return rc;
    } else if ((rc = import_sorter_add(w->sorter, w->key.data, w->key.len, w->val.data,
                                       w->val.len, w->file_no << 40 | index))) {
        return imp_fail(im, rc, rc == TM_ELIMIT ? "ItemValidationError" : "InternalError");
    }
    __atomic_add_fetch(&im->imported, 1, __ATOMIC_RELAXED);
    return 0;
}

static void count_item(worker *w, size_t bytes)
{
    w->items++;
    w->pending_items++;
    w->pending_bytes += bytes;
    __atomic_add_fetch(&w->im->processed, 1, __ATOMIC_RELAXED);
    if (w->pending_items >= PROGRESS_EVERY) flush_progress(w);
}

/* One line of DynamoDB JSON. */
static int json_line(worker *w, const char *line, size_t len, uint64_t index)
{
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
    if (i == len) return 0;   /* blank */
    count_item(w, len + 1);
    item *it = NULL;
    int rc = item_parse_json(line, len, ITEM_PARSE_WRAPPED, &it);
    if (rc == TM_ENOMEM) return imp_fail(w->im, rc, "InternalError");
    if (rc) {
        char msg[1024];
        snprintf(msg, sizeof msg, "Invalid DynamoDB JSON item: %s", err_msg());
        __atomic_add_fetch(&w->im->unparsed, 1, __ATOMIC_RELAXED);
        return (rc = item_error(w, index, msg)) ? rc : wrong_format(w->im, IMPORT_GUESS_LINES);
    }
    rc = accept_item(w, it, index);
    item_free(it);
    return rc;
}

/* ---- CSV ------------------------------------------------------------------------------------ */

static int set_header(worker *w, const char *const *names, const size_t *lens, size_t n)
{
    imp *im = w->im;
    for (size_t i = 0; i < w->nhdr; i++) free(w->hdr[i]);
    free(w->hdr);
    w->nhdr = 0;
    if (!(w->hdr = calloc(n ? n : 1, sizeof *w->hdr))) return err_set(TM_ENOMEM, "out of memory");
    int has_hash = 0, has_range = !im->ks.range_type;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] == 0)
            return err_set(TM_ECORRUPT, "CSV header column %zu has no name", i + 1);
        if (!text_utf8_valid(names[i], lens[i]))
            return err_set(TM_ECORRUPT, "CSV header column %zu is not UTF-8", i + 1);
        for (size_t j = 0; j < i; j++)
            if (lens[j] == lens[i] && !memcmp(names[j], names[i], lens[i]))
                return err_set(TM_ECORRUPT, "CSV header names column \"%s\" twice", names[i]);
        if (!(w->hdr[i] = strndup(names[i], lens[i]))) return err_set(TM_ENOMEM, "out of memory");
        w->nhdr = i + 1;
        has_hash |= !strcmp(w->hdr[i], im->ks.hash_name);
        if (im->ks.range_type) has_range |= !strcmp(w->hdr[i], im->ks.range_name);
    }
    if (!has_hash || !has_range)
        return err_set(TM_ECORRUPT, "the CSV header has no column %s (the %s key)%s",
                       has_hash ? im->ks.range_name : im->ks.hash_name,
                       has_hash ? "sort" : "partition", im->guessed_from ?
                       " (CSV was guessed from the name: if the data is DynamoDB JSON, give "
                       "--input-format DYNAMODB_JSON)" : "");
    w->have_hdr = 1;
    return 0;
}

static int csv_record(void *ctx, const import_csv_rec *r)
{
    worker *w = ctx;
    imp *im = w->im;
    int rc = 0;
    char msg[1024];
    if (imp_stopped(im)) return TM_EIO;
    if (!w->have_hdr) {
        if (r->error) return err_set(TM_ECORRUPT, "CSV header line: %s", r->error);
        if ((rc = set_header(w, r->fields, r->lens, r->nfields)) == 0) return 0;
        return rc;
    }
    uint64_t index = im->opt->csv_header ? r->index : r->index - 1;
    size_t bytes = 0;
    for (size_t i = 0; i < r->nfields; i++) bytes += r->lens[i] + 1;
    count_item(w, bytes);
    if (r->error) {
        snprintf(msg, sizeof msg, "Malformed CSV record (line %llu): %s",
                 (unsigned long long)r->line, r->error);
        return item_error(w, index, msg);
    }
    if (r->nfields > w->nhdr) {
        snprintf(msg, sizeof msg, "CSV record has %zu fields, the header %zu", r->nfields, w->nhdr);
        return item_error(w, index, msg);
    }
    item *it = item_new();
    if (!it) return imp_fail(im, err_set(TM_ENOMEM, "out of memory"), "InternalError");
    for (size_t i = 0; i < r->nfields && !rc; i++) {
        if (r->lens[i] == 0) continue;   /* empty cell: no attribute */
        const char *name = w->hdr[i];
        av v;
        memset(&v, 0, sizeof v);
        av_type t = AV_S;
        if (!strcmp(name, im->ks.hash_name)) t = im->ks.hash_type;
        else if (im->ks.range_type && !strcmp(name, im->ks.range_name)) t = im->ks.range_type;
        buf_reset(&w->tmp);
        if (t == AV_N) {
            if (num_canonical(r->fields[i], r->lens[i], &w->tmp)) {
                snprintf(msg, sizeof msg, AWS_INVALID "key %s: %s", name, err_msg());
                rc = 1;
                break;
            }
            v.type = AV_N;
            v.len = (uint32_t)w->tmp.len;
            v.u.bytes = w->tmp.data;
        } else if (t == AV_B) {
            if (text_b64_decode(r->fields[i], r->lens[i], &w->tmp)) {
                snprintf(msg, sizeof msg, AWS_INVALID "key %s: not base64", name);
                rc = 1;
                break;
            }
            v.type = AV_B;
            v.len = (uint32_t)w->tmp.len;
            v.u.bytes = w->tmp.data ? w->tmp.data : "";
        } else {
            if (!text_utf8_valid(r->fields[i], r->lens[i])) {
                snprintf(msg, sizeof msg, "Column %s: value is not UTF-8", name);
                rc = 1;
                break;
            }
            v.type = AV_S;
            v.len = (uint32_t)r->lens[i];
            v.u.bytes = r->fields[i];
        }
        int prc = item_put(it, name, &v);
        if (prc == TM_ENOMEM) { item_free(it); return imp_fail(im, prc, "InternalError"); }
        if (prc) {
            snprintf(msg, sizeof msg, AWS_INVALID "%s", err_msg());
            rc = 1;
        }
    }
    if (!rc && item_check_size(it)) {
        snprintf(msg, sizeof msg, AWS_INVALID "%s", err_msg());
        rc = 1;
    }
    rc = rc ? item_error(w, index, msg) : accept_item(w, it, index);
    item_free(it);
    return rc;
}

/* ---- one data file -------------------------------------------------------------------------- */

static int dec_read(void *ctx, void *p, size_t n, size_t *got)
{
    return layout_dec_read(ctx, p, n, got);
}

static int read_json(worker *w, layout_dec *d)
{
    int rc;
    const char *line;
    size_t len;
    import_lines_reset(w->lines);
    for (;;) {
        if ((w->items & 1023) == 0 && imp_stopped(w->im)) return TM_EIO;
        rc = import_lines_next(w->lines, dec_read, d, &line, &len);
        if (rc == 0) return 0;
        if (rc < 0) return rc;
        uint64_t index = import_lines_count(w->lines) - 1;
        if (rc == IMPORT_LINE_TOO_LONG) {
            char msg[256];
            count_item(w, len + 1);
            snprintf(msg, sizeof msg, "Item line of %zu bytes is longer than the limit of %zu "
                     "bytes", len, w->im->opt->max_line);
            if ((rc = item_error(w, index, msg))) return rc;
            continue;
        }
        if ((rc = json_line(w, line, len, index))) return rc;
    }
}

static int read_csv(worker *w, layout_dec *d)
{
    imp *im = w->im;
    int rc;
    import_csv_reset(w->csv);
    w->have_hdr = 0;
    if (im->opt->csv_header) {
        size_t *lens = calloc(im->opt->csv_header_n ? im->opt->csv_header_n : 1, sizeof *lens);
        if (!lens) return err_set(TM_ENOMEM, "out of memory");
        for (size_t i = 0; i < im->opt->csv_header_n; i++) lens[i] = strlen(im->opt->csv_header[i]);
        rc = set_header(w, im->opt->csv_header, lens, im->opt->csv_header_n);
        free(lens);
        if (rc) return err_wrap(rc, "--csv-header: ");
    }
    for (;;) {
        size_t got;
        if ((rc = layout_dec_read(d, w->chunk, DEC_CHUNK, &got))) return rc;
        if (got == 0) break;
        if ((rc = import_csv_feed(w->csv, w->chunk, got, csv_record, w))) return rc;
    }
    return import_csv_finish(w->csv, csv_record, w);
}

/* Reads one input through rd. Fatal problems of the file are returned (and recorded). */
static int read_file(worker *w, size_t idx, import_read_fn rd, void *rctx)
{
    imp *im = w->im;
    layout_dec *d = NULL;
    w->in = &im->src.inputs[idx];
    w->file_no = idx;
    w->items = 0;
    int rc = layout_dec_open((layout_codec)im->opt->compression, w->in->key, rd, rctx, &im->budget, &d);
    if (rc) return imp_fail(im, rc, "InternalError");
    rc = im->opt->format == IMPORT_FMT_CSV ? read_csv(w, d) : read_json(w, d);
    if (imp_stopped(im)) goto out;   /* someone else's failure, or our own recorded one */
    if (rc) {
        err_wrap(rc, "%s: ", w->in->ptr_key);
        imp_fail(im, rc, file_fail_code(rc));
        goto out;
    }
    import_compression kind = (import_compression)layout_dec_kind(d);
    pthread_mutex_lock(&im->mu);
    if (im->res->compression == IMPORT_COMP_AUTO || im->res->compression == IMPORT_COMP_NONE)
        im->res->compression = kind;
    pthread_mutex_unlock(&im->mu);
    __atomic_add_fetch(&im->bytes, layout_dec_out_bytes(d), __ATOMIC_RELAXED);
    __atomic_add_fetch(&im->raw, layout_dec_in_bytes(d), __ATOMIC_RELAXED);
    __atomic_add_fetch(&im->files, 1, __ATOMIC_RELAXED);
    if (w->in->mi >= 0) {
        /* What the manifest promised: checked before the table can appear. */
        const import_mfile *mf = &im->src.man.files[w->in->mi];
        unsigned char md5[16];
        layout_dec_md5(d, md5);
        if (memcmp(md5, mf->md5, 16) != 0) {
            char want[25], got[25];
            text_b64(mf->md5, 16, want);
            text_b64(md5, 16, got);
            rc = err_set(TM_ECORRUPT, "%s: MD5 %s does not match md5Checksum %s in "
                         "manifest-files.json (altered or truncated)", w->in->ptr_key, got, want);
            imp_fail(im, rc, "ChecksumMismatch");
            goto out;
        }
        if (w->items != mf->item_count) {
            rc = err_set(TM_ECORRUPT, "%s: %llu items, manifest-files.json says %llu",
                         w->in->ptr_key, (unsigned long long)w->items,
                         (unsigned long long)mf->item_count);
            imp_fail(im, rc, "ItemCountMismatch");
            goto out;
        }
    }
    if (im->ordered) rc = queue_push(w, idx, 1);
out:
    flush_progress(w);
    layout_dec_close(d);
    return fail_rc(im) ? fail_rc(im) : rc;
}

static int store_rd(void *ctx, void *p, size_t n, size_t *got)
{
    return store_reader_read(ctx, p, n, got);
}

static int archive_entry_cb(void *ctx, size_t index, import_archive *x)
{
    worker *w = ctx;
    if (imp_stopped(w->im)) return fail_rc(w->im);
    return read_file(w, index, import_archive_read, x);
}

/* Reads input file i through worker w; a file that cannot be opened fails the import. */
static int read_input(worker *w, size_t i)
{
    imp *im = w->im;
    store_reader *r = NULL;
    int rc = store_reader_open(im->src.st, im->src.inputs[i].key, NULL, &r);
    if (rc) {
        err_wrap(rc, "%s: ", im->src.inputs[i].ptr_key);
        return imp_fail(im, rc, file_fail_code(rc));
    }
    rc = read_file(w, i, store_rd, r);
    store_reader_close(r);
    return rc;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    imp *im = w->im;
    for (;;) {
        if (imp_stopped(im)) break;
        size_t i = __atomic_fetch_add(&im->next_file, 1, __ATOMIC_RELAXED);
        if (i >= im->src.n) break;
        if (read_input(w, i)) break;
    }
    /* The merge runs on one thread: sort this worker's tail while the others still read. */
    if (!imp_stopped(im)) import_sorter_seal(w->sorter);
    return NULL;
}

/* ORDERED mode: worker w reads files w, w + N, ... in order. */
static void *worker_ordered(void *arg)
{
    worker *w = arg;
    imp *im = w->im;
    size_t me = (size_t)(w - im->ws);
    for (size_t i = me; i < im->src.n; i += (size_t)im->nw) {
        if (imp_stopped(im)) break;
        if (read_input(w, i)) break;
    }
    return NULL;
}

static void *worker_archive(void *arg)
{
    worker *w = arg;
    imp *im = w->im;
    int rc = import_source_archive_each(&im->src, &im->budget, archive_entry_cb, w);
    if (rc && !fail_rc(im)) imp_fail(im, rc, file_fail_code(rc));
    if (!im->ordered && !imp_stopped(im)) import_sorter_seal(w->sorter);
    return NULL;
}

/* ORDERED mode, the writer: every file's batches in file order into the builder. */
/* Writes the batches of file i from w's queue (up to its eof batch) into the builder. */
/* One item (val: its u32 size, then the image) into the builder, or the sink. */
static int put_item(const imp *im, table_builder *tb, const void *key, size_t kn, const char *val,
                    size_t vn)
{
    const import_sink *sk = im->opt->sink;
    if (sk) return sk->put(sk->ctx, key, kn, val + 4, vn - 4);
    return table_builder_put_bin_sized(tb, key, kn, val + 4, vn - 4, rd_u32le(val));
}

static int write_file(imp *im, worker *w, size_t i, table_builder *tb)
{
    int rc = 0;
    for (;;) {
        rbatch *b = queue_pop(w);
        if (!b) return fail_rc(im) ? fail_rc(im) : err_set(TM_EIO, "interrupted");
        const char *p = b->data, *end = b->data + b->len;
        while (p < end && !rc) {
            uint32_t kn = rd_u32le(p), vn = rd_u32le(p + 4);
            rc = put_item(im, tb, p + 8, kn, p + 8 + kn, vn);
            p += 8 + (size_t)kn + vn;
        }
        int eof = b->eof;
        assert(b->file == i);
        (void)i;
        if (b->cap == BATCH_BYTES) {   /* back to its worker for reuse */
            pthread_mutex_lock(&w->qmu);
            b->next = w->spare;
            w->spare = b;
            pthread_mutex_unlock(&w->qmu);
        } else {
            free(b);
        }
        if (rc) return imp_fail(im, rc, "InternalError");
        if (eof) return 0;
    }
}

static int write_ordered(imp *im, table_builder *tb)
{
    int rc = 0;
    for (size_t i = 0; i < im->src.n && !rc; i++)
        rc = write_file(im, &im->ws[i % (size_t)im->nw], i, tb);
    return rc;
}

/* SORTED mode, after the reading: one thread merges the sorters into worker 0's queue (as if
 * it were one file, index 0) while this one writes the batches: the merge's heap and reads
 * and the builder's work overlap. */
typedef struct merge_job {
    imp *im;
    import_sorter **ss;
    size_t n;
} merge_job;

static int merge_cb(void *ctx, const void *key, size_t kn, const void *val, size_t vn)
{
    worker *w = ctx;
    if (__atomic_load_n(&w->im->failed, __ATOMIC_RELAXED)) return fail_rc(w->im) ? fail_rc(w->im) : TM_EIO;
    return batch_add(w, key, kn, val, vn);
}

static void *merge_main(void *arg)
{
    merge_job *j = arg;
    worker *w = &j->im->ws[0];
    w->file_no = 0;
    int rc = import_sorter_merge(j->ss, j->n, merge_cb, w);
    if (!rc) rc = queue_push(w, 0, 1);
    else if (!fail_rc(j->im)) imp_fail(j->im, rc, "InternalError");
    return NULL;
}

/* ---- building the table --------------------------------------------------------------------- */

typedef struct put_ctx {
    table_builder *tb;
    progress *prog;
    uint64_t n;
    imp *im;
} put_ctx;

static int put_cb(void *ctx, const void *key, size_t kn, const void *val, size_t vn)
{
    put_ctx *p = ctx;
    if ((++p->n & 8191) == 0 && imp_stopped(p->im)) return fail_rc(p->im);
    return put_item(p->im, p->tb, key, kn, val, vn);
}

/* TIDEMARK_IMPORT_TRACE=1: phase times on stderr (benchmarks). */
static void trace(const char *what, int64_t since_us)
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("TIDEMARK_IMPORT_TRACE");
        on = e && *e == '1';
    }
    if (on) fprintf(stderr, "tidemark-import: trace: %s %.3f s\n", what,
                    (double)(clock_now_us() - since_us) / 1e6);
}

static int ks_equal(const key_schema *a, const key_schema *b)
{
    return a->hash_type == b->hash_type && a->range_type == b->range_type &&
           !strcmp(a->hash_name, b->hash_name) &&
           (!a->range_type || !strcmp(a->range_name, b->range_name));
}

static const char *sink_tmp(const import_options *o)
{
    const char *t = o->sink->tmp_dir ? o->sink->tmp_dir : getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

static int nthreads(const import_options *o, size_t files)
{
    long n = o->threads > 0 ? o->threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (o->threads <= 0 && n > 4) n = 4;
    if (n < 1) n = 1;
    if ((size_t)n > files) n = (long)(files ? files : 1);
    return (int)n;
}

static int check_options(const import_options *o)
{
    int rc;
    if ((!o->home && !o->sink) || !o->from || !o->table)
        return err_set(TM_EINVAL, "--from and --table are required");
    if ((rc = table_check_name(o->table))) return rc;
    if (o->format != IMPORT_FMT_DYNAMODB_JSON) {
        if (!import_csv_delim_ok(o->csv_delimiter))
            return err_set(TM_EINVAL, "--csv-delimiter must be one of , ; : | tab space");
        if (o->csv_header && o->csv_header_n == 0)
            return err_set(TM_EINVAL, "--csv-header needs at least one column name");
    } else if (o->csv_header) {
        return err_set(TM_EINVAL, "--csv-header is for --input-format CSV");
    }
    if (o->max_line < 16) return err_set(TM_EINVAL, "the maximum line length is too small");
    return 0;
}

/* IMPORT_FMT_AUTO: an export is DynamoDB JSON; else the first data file's name decides
 * (import_guess_format). The options CSV needs are checked here when CSV was guessed. */
static int decide_format(imp *im)
{
    im->eff = *im->opt;
    im->opt = &im->eff;
    if (im->eff.format != IMPORT_FMT_AUTO) return 0;
    im->eff.format = IMPORT_FMT_DYNAMODB_JSON;
    if (!im->src.have_manifest && im->src.n > 0) {
        im->guessed_from = im->src.inputs[0].key;
        im->eff.format = import_guess_format(im->guessed_from);
    }
    int rc = 0;
    if (im->eff.format == IMPORT_FMT_CSV && !im->eff.ks)
        rc = err_set(TM_EINVAL, "%s looks like CSV (by its name): CSV needs --key NAME:TYPE "
                     "(and --sort-key if the table has one); if it is DynamoDB JSON, give "
                     "--input-format DYNAMODB_JSON", im->eff.from);
    else if (im->eff.format != IMPORT_FMT_CSV && im->eff.csv_header)
        rc = err_set(TM_EINVAL, "--csv-header is for --input-format CSV");
    return rc ? imp_fail(im, rc, "ValidationException") : 0;
}

/* The FailureCode of a source that did not open. AWS's for S3 are "S3" + S3's error code
 * (S3NoSuchBucket in the DynamoDB guide's import troubleshooting); a source that cannot be
 * signed for (no credentials, a profile not found) gets what S3 answers an unsigned request,
 * S3AccessDenied, not ValidationException. Looked at after the failure (its detail kept). */
static const char *source_failure(const char *from, const store_options *so, int rc)
{
    if (rc == TM_ENOTFOUND) return "DataFileNotFound";
    if (rc == TM_EREMOTE) return "S3AccessError";
    if (rc == TM_ELIMIT) return "DecompressionLimitExceeded";
    if (rc != TM_EINVAL) return "InvalidSource";
    if (strncmp(from, "s3://", 5)) return "ValidationException";
    char why[1024];
    snprintf(why, sizeof why, "%s", err_msg());
    int unsigned_source = store_aws_credentials_check(so) != 0;
    err_set(rc, "%s", why);
    return unsigned_source ? "S3AccessDenied" : "ValidationException";
}

int import_run(const import_options *opt, import_result *res)
{
    int rc = 0;
    imp im;
    worker *ws = NULL;
    int nw = 0;
    pthread_t *th = NULL;
    table_builder *tb = NULL;
    char path[4096];

    memset(res, 0, sizeof *res);
    memset(&im, 0, sizeof im);
    pthread_mutex_init(&im.mu, NULL);
    im.opt = opt;
    im.res = res;
    res->start_us = clock_now_us();
    res->format = opt->format;
    res->compression = opt->compression;
    if (opt->ks) res->ks = *opt->ks;
    im.budget.max_total = opt->max_decompressed;
    im.budget.max_ratio = opt->max_ratio;
    im.budget.ratio_grace = (uint64_t)64 << 20;

    if ((rc = check_options(opt))) { imp_fail(&im, rc, "ValidationException"); goto out; }
    if (!opt->sink) table_path(opt->home, opt->table, NULL, path, sizeof path);
    if (!opt->sink && fsx_exists(path)) {
        rc = err_set(TM_EEXIST, "table %s already exists", opt->table);
        imp_fail(&im, rc, "ResourceInUseException");
        goto out;
    }
    store_options so = STORE_OPTIONS_INIT;
    so.endpoint_url = opt->endpoint_url;
    so.profile = opt->profile;
    if ((rc = import_source_open(opt->from, &so, &im.budget, opt->ignore_summary_checksum,
                                 &im.src))) {
        imp_fail(&im, rc, source_failure(opt->from, &so, rc));
        goto out;
    }
    snprintf(res->bucket, sizeof res->bucket, "%s", im.src.bucket);
    snprintf(res->key_prefix, sizeof res->key_prefix, "%s", im.src.key_prefix);
    res->skipped_count = im.src.nskipped;
    for (size_t i = 0; i < im.src.nskipped && i < IMPORT_MAX_SKIPPED; i++) {
        snprintf(res->skipped[i].entry, sizeof res->skipped[i].entry, "%s", im.src.skipped[i].entry);
        snprintf(res->skipped[i].reason, sizeof res->skipped[i].reason, "%s",
                 im.src.skipped[i].reason);
    }
    if ((rc = decide_format(&im))) goto out;
    opt = im.opt;
    res->format = opt->format;
    if (opt->ks) {
        im.ks = *opt->ks;
    } else if (im.src.have_schema) {
        im.ks = im.src.schema;
    } else {
        rc = err_set(TM_EINVAL, "%s carries no key schema (%s): give --key NAME:TYPE "
                     "[--sort-key NAME:TYPE]", opt->from, im.src.have_manifest ?
                     "an AWS export has no tidemark-schema.json" : "no tidemark-schema.json");
        imp_fail(&im, rc, "ValidationException");
        goto out;
    }
    res->ks = im.ks;
    if (im.src.have_manifest && opt->format == IMPORT_FMT_CSV) {
        rc = err_set(TM_EINVAL, "%s is a DynamoDB JSON export, not CSV", opt->from);
        imp_fail(&im, rc, "ValidationException");
        goto out;
    }
    if (opt->prog && im.src.have_manifest) progress_set_total(opt->prog, im.src.man.item_count);

    if (opt->sink && (rc = opt->sink->begin(opt->sink->ctx, &im.ks))) {
        imp_fail(&im, rc, rc == TM_EREMOTE ? "RemoteTableError" : "ValidationException");
        goto out;
    }
    if (!opt->sink && (rc = table_builder_open(opt->home, opt->table, &im.ks, &tb))) {
        imp_fail(&im, rc, rc == TM_EEXIST ? "ResourceInUseException" : "InternalError");
        goto out;
    }
    if ((rc = import_errlog_open(opt->error_log, &im.elog))) {
        imp_fail(&im, rc, "ValidationException");
        goto out;
    }

    /* A tidemark export read with its own key schema is in key order already. */
    im.ordered = im.src.have_manifest && im.src.have_schema &&
                 opt->format == IMPORT_FMT_DYNAMODB_JSON && ks_equal(&im.ks, &im.src.schema) &&
                 !getenv("TIDEMARK_IMPORT_SORT");
    /* Benchmark knobs: TIDEMARK_IMPORT_SORT=1 sorts a tidemark export anyway;
     * TIDEMARK_IMPORT_DIRECT=1 writes any input in file order (LMDB sorts: random inserts). */
    if (getenv("TIDEMARK_IMPORT_DIRECT")) im.ordered = 1;
    nw = im.src.archive ? 1 : nthreads(opt, im.src.n);
    ws = calloc((size_t)nw, sizeof *ws);
    th = calloc((size_t)nw, sizeof *th);
    if (!ws || !th) { rc = imp_fail(&im, err_set(TM_ENOMEM, "out of memory"), "InternalError"); goto out; }
    for (int i = 0; i < nw; i++)
        if ((rc = worker_init(&ws[i], &im, tb ? table_builder_dir(tb) : sink_tmp(opt),
                              opt->sort_memory / (size_t)nw))) {
            imp_fail(&im, rc, "InternalError");
            goto out;
        }
    im.ws = ws;
    im.nw = nw;
    {
        void *(*fn)(void *) = im.src.archive ? worker_archive : im.ordered ? worker_ordered : worker_main;
        int started = 0;
        if (nw == 1 && !im.ordered) {
            fn(&ws[0]);   /* no writer to overlap with: read on this thread */
        } else {
            for (; started < nw; started++)
                if (pthread_create(&th[started], NULL, fn, &ws[started])) break;
            if (started < nw) {
                rc = imp_fail(&im, err_set(TM_EIO, "cannot start reader threads"), "InternalError");
            } else if (im.ordered) {
                write_ordered(&im, tb);
            }
            for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
        }
    }
    if (!im.fail_rc) wrong_format(&im, 1);   /* fewer lines than IMPORT_GUESS_LINES, all bad */
    if (im.fail_rc || imp_stopped(&im)) goto out;
    trace(im.ordered ? "read and build (ordered)" : "read", res->start_us);
    int64_t t_merge = clock_now_us();

    /* Merge in key order into the builder, then publish. */
    if (!im.ordered) {
        import_sorter **ss = calloc((size_t)nw, sizeof *ss);
        if (!ss) { rc = imp_fail(&im, err_set(TM_ENOMEM, "out of memory"), "InternalError"); goto out; }
        for (int i = 0; i < nw; i++) ss[i] = ws[i].sorter;
        merge_job job = {&im, ss, (size_t)nw};
        pthread_t mt;
        if (pthread_create(&mt, NULL, merge_main, &job) == 0) {
            write_file(&im, &ws[0], 0, tb);
            pthread_join(mt, NULL);
        } else {   /* no second thread: merge straight into the builder */
            put_ctx pc = {tb, opt->prog, 0, &im};
            rc = import_sorter_merge(ss, (size_t)nw, put_cb, &pc);
            if (rc && !im.fail_rc) imp_fail(&im, rc, "InternalError");
        }
        free(ss);
        if (im.fail_rc) goto out;
    }
    im.ws = NULL;
    for (int i = 0; i < nw; i++) { worker_free(&ws[i]); memset(&ws[i], 0, sizeof ws[i]); }
    if (opt->cancel && *opt->cancel) {
        rc = imp_fail(&im, err_set(TM_EIO, "interrupted"), "Cancelled");
        goto out;
    }
    if ((rc = import_errlog_close(im.elog))) {
        im.elog = NULL;
        imp_fail(&im, rc, "ErrorLogWriteFailed");
        goto out;
    }
    im.elog = NULL;
    trace("merge and build", t_merge);
    int64_t t_commit = clock_now_us();
    table_info info;
    memset(&info, 0, sizeof info);
    if (opt->sink) {
        rc = opt->sink->commit(opt->sink->ctx);
        info.item_count = im.imported;
    } else {
        rc = table_builder_commit(tb, &info);
        tb = NULL;
    }
    trace("commit", t_commit);
    if (rc) { imp_fail(&im, rc, rc == TM_EEXIST ? "ResourceInUseException" : "InternalError"); goto out; }
    snprintf(res->table_id, sizeof res->table_id, "%s", info.table_id);
    res->table_items = info.item_count;
    res->completed = 1;
out:
    im.ws = NULL;
    if (ws)
        for (int i = 0; i < nw; i++) worker_free(&ws[i]);
    free(ws);
    free(th);
    table_builder_abort(tb);
    if (im.elog) import_errlog_close(im.elog);
    res->processed_items = im.processed;
    res->imported_items = im.imported;
    res->error_count = im.errors;
    res->processed_bytes = im.bytes;
    res->source_bytes = im.raw;
    res->files = im.files;
    res->end_us = clock_now_us();
    if (res->compression == IMPORT_COMP_AUTO) res->compression = IMPORT_COMP_NONE;
    if (im.fail_rc) {
        res->completed = 0;
        rc = im.fail_rc;
        snprintf(res->failure_code, sizeof res->failure_code, "%s", im.fail_code);
        snprintf(res->failure_message, sizeof res->failure_message, "%s", im.fail_msg);
        err_set(rc, "%s", im.fail_msg);   /* the detail, on the caller's thread */
    }
    import_source_close(&im.src);
    pthread_mutex_destroy(&im.mu);
    return rc;
}
