/* pipeline.c: turns a stream of items (full export) or net changes (incremental) into data
 * files: one producer -> N compressor threads -> one writer thread.
 *
 * Why this shape: an LMDB read transaction must not be used by two threads at once, and only
 * ONE transaction sees the export's moment while writers go on, so one thread (the producer,
 * the caller) reads and copies raw binary items into chunks of about a MiB. N workers turn each
 * chunk into JSON lines and compress it (gzip: joinable deflate blocks; zstd: a frame; codec.c);
 * the writer appends finished chunks IN ORDER to the current data file through the store, so
 * the bytes of a file do not depend on thread timing (resume regenerates the same files). A gzip
 * file is ONE member: the writer adds the header before the first chunk and the final block and
 * trailer (the chunks' CRCs combined) at commit.
 *
 * Memory: a ring of 2*jobs+2 chunk slots, each holding one raw chunk and its compressed form,
 * plus one JSON buffer per worker: bounded by jobs x chunk size, never by the table.
 *
 * Files: a partition (a range of the key-hash space) gets one or more files; a new file starts
 * when the current one reaches max_file_bytes; an empty partition gets the empty file. Names are
 * xp_file_name(id, partition, index). */
#include "export/export_internal.h"
#include "engine/progress.h"
#include "engine/err.h"
#include "engine/item.h"
#include "engine/text.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SLOT_FREE = 0, SLOT_FILLED, SLOT_BUSY, SLOT_DONE };

#define CHUNK_GZIP  ((size_t)1 << 20)   /* raw bytes per chunk compressed by one thread */
#define CHUNK_ZSTD  ((size_t)4 << 20)   /* zstd's window is larger: bigger frames compress better */
#define JSON_MAX    ((size_t)1 << 30)

typedef struct slot {
    int state;
    uint64_t seq;
    int part, end_part;
    uint32_t n;
    buf raw;                /* entries, see put_entry */
    buf out;                /* compressed */
    uint32_t crc;           /* gzip: CRC-32 of the chunk's JSON */
    uint64_t json_bytes;
} slot;

struct xp_pipe {
    xp_config c;
    xp_meta meta;
    char data_prefix[64];
    size_t chunk_target;
    pthread_mutex_t mu;
    pthread_cond_t cv_free, cv_work, cv_done;
    slot *slots;
    int nslots;
    uint64_t next_fill, next_work, next_write;
    int closing;
    int err;
    char errmsg[1024];
    pthread_t *workers;
    int nworkers;
    pthread_t writer;
    int writer_started;
    slot *cur;              /* the producer's slot being filled */
    /* writer state */
    store_writer *w;
    xp_file curf;
    uint32_t curf_crc;      /* gzip: CRC-32 of the current file's JSON so far */
    int part_nfiles;
    size_t part_first;
    xp_file *files;
    size_t nfiles, capfiles;
};

static void set_err(xp_pipe *p, int rc)
{
    pthread_mutex_lock(&p->mu);
    if (!p->err) {
        p->err = rc;
        snprintf(p->errmsg, sizeof p->errmsg, "%s", err_msg());
    }
    pthread_cond_broadcast(&p->cv_free);
    pthread_cond_broadcast(&p->cv_work);
    pthread_cond_broadcast(&p->cv_done);
    pthread_mutex_unlock(&p->mu);
}

int xp_failed(xp_pipe *p)
{
    pthread_mutex_lock(&p->mu);
    int rc = p->err;
    if (rc) err_set(rc, "%s", p->errmsg);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* ================================================================================================
 * Workers: raw entries -> JSON lines -> one compressed member
 * ============================================================================================== */

static int encode_full(const slot *s, buf *json)
{
    const unsigned char *c = (const unsigned char *)s->raw.data, *end = c + s->raw.len;
    int rc = 0;
    while (!rc && c < end) {
        uint32_t n = rd_u32le(c);
        c += 4;
        rc = buf_append(json, "{\"Item\":", 8);
        if (!rc) rc = item_bin_write_json(c, n, json);
        if (!rc) rc = buf_append(json, "}\n", 2);
        c += n;
    }
    return rc;
}

static int encode_changes(const xp_pipe *p, const slot *s, buf *json)
{
    const unsigned char *c = (const unsigned char *)s->raw.data, *end = c + s->raw.len;
    const char *names[2] = {p->meta.ks.hash_name, p->meta.ks.range_name};
    int nnames = p->meta.ks.range_type ? 2 : 1;
    int rc = 0;
    while (!rc && c < end) {
        uint32_t kn = rd_u32le(c), on = rd_u32le(c + 4), nn = rd_u32le(c + 8);
        int64_t t = (int64_t)rd_u64le(c + 12);
        const unsigned char *old = c + 20 + kn, *nw = old + on;
        c = nw + nn;
        rc = buf_printf(json, "{\"Metadata\":{\"WriteTimestampMicros\":{\"N\":\"%lld\"}},\"Keys\":",
                        (long long)t);
        if (!rc) rc = nn ? item_bin_write_keys_json(nw, nn, names, nnames, json)
                         : item_bin_write_keys_json(old, on, names, nnames, json);
        if (!rc && on && p->meta.view == EXPORT_VIEW_NEW_AND_OLD) {
            rc = buf_append(json, ",\"OldImage\":", 12);
            if (!rc) rc = item_bin_write_json(old, on, json);
        }
        if (!rc && nn) {
            rc = buf_append(json, ",\"NewImage\":", 12);
            if (!rc) rc = item_bin_write_json(nw, nn, json);
        }
        if (!rc) rc = buf_append(json, "}\n", 2);
    }
    return rc;
}

static void *worker_main(void *arg)
{
    xp_pipe *p = arg;
    xp_codec *codec = NULL;
    buf json = BUF_INIT_MAX(JSON_MAX);
    int rc = xp_codec_new(p->meta.compression, p->meta.level, &codec);
    if (rc) {
        set_err(p, rc);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&p->mu);
        slot *s = NULL;
        while (!p->err) {
            slot *c = &p->slots[p->next_work % (uint64_t)p->nslots];
            if (p->next_work < p->next_fill && c->state == SLOT_FILLED && c->seq == p->next_work) {
                s = c;
                break;
            }
            if (p->closing && p->next_work == p->next_fill) break;
            pthread_cond_wait(&p->cv_work, &p->mu);
        }
        if (!s) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        s->state = SLOT_BUSY;
        p->next_work++;
        pthread_mutex_unlock(&p->mu);

        buf_reset(&json);
        buf_reset(&s->out);
        rc = 0;
        if (s->n) {
            rc = p->meta.type == EXPORT_FULL ? encode_full(s, &json) : encode_changes(p, s, &json);
            if (!rc) rc = xp_codec_compress(codec, json.data, json.len, &s->out, &s->crc);
        }
        s->json_bytes = json.len;
        if (rc) {
            set_err(p, rc);
            break;
        }
        pthread_mutex_lock(&p->mu);
        s->state = SLOT_DONE;
        pthread_cond_broadcast(&p->cv_done);
        pthread_mutex_unlock(&p->mu);
        /* Do not keep a huge buffer after a rare huge chunk. */
        if (json.cap > ((size_t)64 << 20)) buf_free(&json);
    }
    buf_free(&json);
    xp_codec_free(codec);
    return NULL;
}

/* ================================================================================================
 * Writer: finished chunks, in order, into data files
 * ============================================================================================== */

static int open_file(xp_pipe *p, int part)
{
    char name[27];
    memset(&p->curf, 0, sizeof p->curf);
    p->curf.part = part;
    p->curf.index = p->part_nfiles;
    xp_file_name(p->meta.id, part, p->curf.index, name);
    snprintf(p->curf.key, sizeof p->curf.key, "%s%s%s", p->data_prefix, name,
             xp_ext(p->meta.compression));
    p->curf_crc = 0;
    int rc = store_writer_open(p->c.st, p->curf.key, NULL, &p->w);
    unsigned char head[XP_HEAD_MAX];
    size_t hn = xp_file_head(p->meta.compression, head);
    if (!rc && hn) rc = store_writer_write(p->w, head, hn);
    p->curf.size = hn;
    return rc;
}

static int commit_file(xp_pipe *p)
{
    store_put_result res;
    unsigned char tail[XP_TAIL_MAX];
    size_t tn = xp_file_tail(p->meta.compression, p->curf_crc, p->curf.json_bytes, tail);
    int rc = tn ? store_writer_write(p->w, tail, tn) : 0;
    store_writer *w = p->w;
    p->w = NULL;
    if (rc) {
        store_writer_abort(w);
        return err_wrap(rc, "data file %s: ", p->curf.key);
    }
    rc = store_writer_commit(w, &res);
    if (rc) return err_wrap(rc, "data file %s: ", p->curf.key);
    xp_file *f = &p->curf;
    f->size = res.size;
    snprintf(f->md5_b64, sizeof f->md5_b64, "%s", res.md5_base64);
    if (store_is_s3(p->c.st)) {
        /* The object's real ETag as S3 answered it: a PUT's (its MD5 hex), or a multipart
         * upload's "<hex>-<parts>". */
        snprintf(f->etag, sizeof f->etag, "%s", res.etag);
    } else {
        /* A local directory has no ETag: what S3 gives the one-part multipart upload AWS
         * makes of each data file, so that a copy to S3 in one part lists what AWS lists. */
        unsigned char md5[16];
        if (text_b64_decode16(res.md5_base64, strlen(res.md5_base64), md5))
            return err_set(TM_EIO, "store returned a bad MD5");
        xp_etag1(md5, f->etag);
    }
    buf fk = BUF_INIT;
    rc = xp_full_key(&p->meta, f->key, &fk);
    if (!rc) snprintf(f->full_key, sizeof f->full_key, "%s", fk.data);
    buf_free(&fk);
    if (rc) return rc;
    if (p->nfiles == p->capfiles) {
        size_t nc = p->capfiles ? p->capfiles * 2 : 64;
        xp_file *nf = realloc(p->files, nc * sizeof *nf);
        if (!nf) return err_set(TM_ENOMEM, "out of memory");
        p->files = nf;
        p->capfiles = nc;
    }
    p->files[p->nfiles++] = *f;
    p->part_nfiles++;
    return 0;
}

static int write_slot(xp_pipe *p, slot *s)
{
    int rc = 0;
    if (s->n) {
        if (!p->w) rc = open_file(p, s->part);
        if (!rc) rc = store_writer_write(p->w, s->out.data, s->out.len);
        if (rc) return rc;
        p->curf.size += s->out.len;
        p->curf_crc = xp_crc_combine(p->curf_crc, s->crc, s->json_bytes);
        p->curf.items += s->n;
        p->curf.json_bytes += s->json_bytes;
        progress_add(p->c.prog, s->n, s->json_bytes);
        if (p->curf.size >= p->meta.max_file_bytes) rc = commit_file(p);
        if (rc) return rc;
    }
    if (s->end_part) {
        if (p->w) rc = commit_file(p);
        if (!rc && p->part_nfiles == 0) {
            /* gzip: head and tail of nothing are AWS's 20-byte empty file; zstd: a frame. */
            size_t en;
            const unsigned char *e = xp_empty_file(p->meta.compression, &en);
            rc = open_file(p, s->part);
            if (!rc && p->meta.compression != EXPORT_GZIP) rc = store_writer_write(p->w, e, en);
            if (!rc) rc = commit_file(p);
        }
        if (!rc && p->c.on_part)
            rc = p->c.on_part(p->c.ctx, s->part, p->files + p->part_first,
                              p->nfiles - p->part_first);
        p->part_nfiles = 0;
        p->part_first = p->nfiles;
    }
    return rc;
}

static void *writer_main(void *arg)
{
    xp_pipe *p = arg;
    /* Test knob: TIDEMARK_EXPORT_DELAY_MS slows the writer down by that much per chunk, so
     * that a test can kill an export in the middle for sure (tests/cli/export_resume.sh). */
    const char *dv = getenv("TIDEMARK_EXPORT_DELAY_MS");
    long delay_ms = dv ? atol(dv) : 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        slot *s = NULL;
        while (!p->err) {
            slot *c = &p->slots[p->next_write % (uint64_t)p->nslots];
            if (p->next_write < p->next_fill && c->state == SLOT_DONE && c->seq == p->next_write) {
                s = c;
                break;
            }
            if (p->closing && p->next_write == p->next_fill) break;
            pthread_cond_wait(&p->cv_done, &p->mu);
        }
        pthread_mutex_unlock(&p->mu);
        if (!s) break;
        int rc = write_slot(p, s);
        if (delay_ms > 0) {
            struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (rc) {
            set_err(p, rc);
            break;
        }
        pthread_mutex_lock(&p->mu);
        s->state = SLOT_FREE;
        p->next_write++;
        pthread_cond_broadcast(&p->cv_free);
        pthread_mutex_unlock(&p->mu);
        if (s->out.cap > ((size_t)64 << 20)) buf_free(&s->out);
    }
    return NULL;
}

/* ================================================================================================
 * Producer side
 * ============================================================================================== */

int xp_open(const xp_config *c, xp_pipe **out)
{
    *out = NULL;
    xp_pipe *p = calloc(1, sizeof *p);
    if (!p) return err_set(TM_ENOMEM, "out of memory");
    p->c = *c;
    p->meta = *c->meta;
    if (!p->meta.max_file_bytes) p->meta.max_file_bytes = EXPORT_DEFAULT_MAX_FILE_BYTES;
    xp_data_prefix(&p->meta, p->data_prefix, sizeof p->data_prefix);
    p->chunk_target = p->meta.compression == EXPORT_GZIP ? CHUNK_GZIP : CHUNK_ZSTD;
    /* Files can only be cut between chunks: small file limits need small chunks. */
    if (p->chunk_target > p->meta.max_file_bytes) p->chunk_target = p->meta.max_file_bytes;
    int jobs = c->jobs < 1 ? 1 : c->jobs > EXPORT_JOBS_MAX ? EXPORT_JOBS_MAX : c->jobs;
    p->nslots = 2 * jobs + 2;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_free, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    p->slots = calloc((size_t)p->nslots, sizeof *p->slots);
    p->workers = calloc((size_t)jobs, sizeof *p->workers);
    if (!p->slots || !p->workers) {
        free(p->slots);
        free(p->workers);
        free(p);
        return err_set(TM_ENOMEM, "out of memory");
    }
    for (int i = 0; i < p->nslots; i++) {
        p->slots[i].raw = (buf)BUF_INIT_MAX(JSON_MAX);
        p->slots[i].out = (buf)BUF_INIT_MAX(JSON_MAX);
    }
    /* A check that fails here fails every chunk: find out before any thread starts. */
    xp_codec *probe;
    int rc = xp_codec_new(p->meta.compression, p->meta.level, &probe);
    if (rc) goto fail;
    xp_codec_free(probe);
    for (int i = 0; i < jobs; i++) {
        if (pthread_create(&p->workers[i], NULL, worker_main, p)) {
            rc = err_set(TM_EIO, "cannot start a compression thread");
            goto fail;
        }
        p->nworkers++;
    }
    if (pthread_create(&p->writer, NULL, writer_main, p)) {
        rc = err_set(TM_EIO, "cannot start the writer thread");
        goto fail;
    }
    p->writer_started = 1;
    *out = p;
    return 0;
fail:
    xp_close(p, 0, NULL, NULL);
    return rc;
}

static int get_cur(xp_pipe *p, slot **out)
{
    if (!p->cur) {
        pthread_mutex_lock(&p->mu);
        slot *s = &p->slots[p->next_fill % (uint64_t)p->nslots];
        while (!p->err && s->state != SLOT_FREE) pthread_cond_wait(&p->cv_free, &p->mu);
        int rc = p->err;
        if (rc) err_set(rc, "%s", p->errmsg);   /* the detail was found on another thread */
        pthread_mutex_unlock(&p->mu);
        if (rc) return rc;
        buf_reset(&s->raw);
        s->n = 0;
        s->part = -1;
        s->end_part = 0;
        p->cur = s;
    }
    *out = p->cur;
    return 0;
}

static void submit(xp_pipe *p, int end_part)
{
    slot *s = p->cur;
    p->cur = NULL;
    pthread_mutex_lock(&p->mu);
    s->end_part = end_part;
    s->seq = p->next_fill++;
    s->state = SLOT_FILLED;
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
}

int xp_item(xp_pipe *p, int part, const void *img, size_t n)
{
    slot *s;
    int rc = get_cur(p, &s);
    if (rc) return rc;
    if (s->part < 0) s->part = part;
    if (s->part != part) return err_set(TM_EIO, "export: partition %d not ended", s->part);
    if (n > UINT32_MAX) return err_set(TM_ELIMIT, "item of %zu bytes", n);
    rc = buf_put_u32le(&s->raw, (uint32_t)n);
    if (!rc) rc = buf_append(&s->raw, img, n);
    if (rc) return rc;
    s->n++;
    if (s->raw.len >= p->chunk_target) submit(p, 0);
    return 0;
}

int xp_change(xp_pipe *p, int part, const void *key, size_t kn, const void *old, size_t on,
              const void *nw, size_t nn, int64_t t_us)
{
    slot *s;
    int rc = get_cur(p, &s);
    if (rc) return rc;
    if (s->part < 0) s->part = part;
    if (s->part != part) return err_set(TM_EIO, "export: partition %d not ended", s->part);
    unsigned char h[20];
    wr_u32le(h, (uint32_t)kn);
    wr_u32le(h + 4, (uint32_t)on);
    wr_u32le(h + 8, (uint32_t)nn);
    wr_u64le(h + 12, (uint64_t)t_us);
    rc = buf_append(&s->raw, h, sizeof h);
    if (!rc) rc = buf_append(&s->raw, key, kn);
    if (!rc && on) rc = buf_append(&s->raw, old, on);
    if (!rc && nn) rc = buf_append(&s->raw, nw, nn);
    if (rc) return rc;
    s->n++;
    if (s->raw.len >= p->chunk_target) submit(p, 0);
    return 0;
}

int xp_end_part(xp_pipe *p, int part)
{
    slot *s;
    int rc = get_cur(p, &s);
    if (rc) return rc;
    if (s->part < 0) s->part = part;
    if (s->part != part) return err_set(TM_EIO, "export: partition %d not ended", s->part);
    submit(p, 1);
    return 0;
}

int xp_close(xp_pipe *p, int ok, xp_file **files, size_t *n)
{
    if (files) *files = NULL;
    if (n) *n = 0;
    if (!p) return 0;
    pthread_mutex_lock(&p->mu);
    if (!ok && !p->err) {
        /* The producer failed: stop at once; its error is already recorded on its thread. */
        p->err = TM_EIO;
        p->errmsg[0] = '\0';
    }
    p->closing = 1;
    pthread_cond_broadcast(&p->cv_work);
    pthread_cond_broadcast(&p->cv_done);
    pthread_cond_broadcast(&p->cv_free);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nworkers; i++) pthread_join(p->workers[i], NULL);
    if (p->writer_started) pthread_join(p->writer, NULL);
    int rc = p->err;
    if (p->w) store_writer_abort(p->w);
    if (rc && ok) err_set(rc, "%s", p->errmsg);
    for (int i = 0; i < p->nslots; i++) {
        buf_free(&p->slots[i].raw);
        buf_free(&p->slots[i].out);
    }
    if (!rc && files) {
        *files = p->files;
        *n = p->nfiles;
        p->files = NULL;
    }
    free(p->files);
    free(p->slots);
    free(p->workers);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_free);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_done);
    free(p);
    return rc;
}
