/* layout_dec.c: the one decoder of export data files, for import, verify and rollback: gzip
 * (zlib, multi-member), zstd (streaming) or nothing, detected by magic bytes, with bounds on
 * what comes out. (Export writes with libdeflate, one-shot per chunk: codec.c says why.)
 *
 * Why bounds: a 1 MB gzip of zeros inflates to 1 GB, a zstd frame even further. Nothing here
 * buffers the output (it streams into the caller's buffer), so a bomb cannot exhaust memory,
 * but it could keep an import busy for hours and fill the sorter's disk. So the total output
 * of a run is capped, and so is the output/input ratio of each file once past a grace
 * amount (real DynamoDB JSON compresses about 5-15:1; gzip cannot exceed ~1032:1, zstd can).
 * The raw bytes are also hashed (MD5) on the way, so that a manifest's md5Checksum is checked
 * without reading the file twice. */
#include "export/layout.h"
#include "engine/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define DEC_IN_SIZE (256u << 10)

struct layout_dec {
    layout_codec want, kind;
    char name[256];
    layout_read_fn rd;
    void *ctx;
    layout_dec_budget *budget;
    store_md5_ctx *md5;
    unsigned char *in;          /* raw input buffer */
    size_t in_pos, in_len;
    int in_eof;
    uint64_t in_bytes, out_bytes;
    int started, finished, err;
    z_stream z;
    int z_init, z_member_done;
    ZSTD_DStream *zs;
    size_t zs_ret;              /* last ZSTD_decompressStream result: 0 = frame complete */
};

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Pulls more raw input into d->in (after moving what is left to the front). */
static int dec_fill(layout_dec *d)
{
    if (d->in_eof) return 0;
    if (d->in_pos > 0) {
        memmove(d->in, d->in + d->in_pos, d->in_len - d->in_pos);
        d->in_len -= d->in_pos;
        d->in_pos = 0;
    }
    if (d->in_len == DEC_IN_SIZE) return 0;
    size_t got = 0;
    int rc = d->rd(d->ctx, d->in + d->in_len, DEC_IN_SIZE - d->in_len, &got);
    if (rc) return rc;
    if (got == 0) { d->in_eof = 1; return 0; }
    store_md5_update(d->md5, d->in + d->in_len, got);
    d->in_len += got;
    d->in_bytes += got;
    return 0;
}

int layout_dec_open(layout_codec want, const char *name, layout_read_fn rd, void *ctx,
                    layout_dec_budget *budget, layout_dec **out)
{
    int rc = 0;
    *out = NULL;
    layout_dec *d = calloc(1, sizeof *d);
    if (!d || !(d->in = malloc(DEC_IN_SIZE)) || !(d->md5 = store_md5_new())) {
        rc = err_set(TM_ENOMEM, "out of memory (decoder)");
        goto out;
    }
    d->want = want;
    snprintf(d->name, sizeof d->name, "%s", name ? name : "");
    d->rd = rd;
    d->ctx = ctx;
    d->budget = budget;
    d->kind = LAYOUT_CODEC_NONE;
    *out = d;
    d = NULL;
out:
    layout_dec_close(d);
    return rc;
}

/* Decides the format from the first bytes. */
static int dec_start(layout_dec *d)
{
    int rc;
    while (d->in_len < 4 && !d->in_eof)
        if ((rc = dec_fill(d))) return rc;
    const unsigned char *m = d->in;
    int is_gz = d->in_len >= 2 && m[0] == 0x1f && m[1] == 0x8b;
    int is_zst = d->in_len >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd;
    layout_codec k = d->want;
    if (k == LAYOUT_CODEC_AUTO) {
        if (is_gz) k = LAYOUT_CODEC_GZIP;
        else if (is_zst) k = LAYOUT_CODEC_ZSTD;
        else if (ends_with(d->name, ".gz") || ends_with(d->name, ".gzip")) k = LAYOUT_CODEC_GZIP;
        else if (ends_with(d->name, ".zst") || ends_with(d->name, ".zstd")) k = LAYOUT_CODEC_ZSTD;
        else k = LAYOUT_CODEC_NONE;
    }
    if (k == LAYOUT_CODEC_GZIP && !is_gz)
        return err_set(TM_ECORRUPT, d->in_len == 0 ? "empty file, not gzip" :
                       "not gzip (no gzip magic bytes)");
    if (k == LAYOUT_CODEC_ZSTD && !is_zst)
        return err_set(TM_ECORRUPT, d->in_len == 0 ? "empty file, not zstd" :
                       "not zstd (no zstd magic bytes)");
    d->kind = k;
    if (k == LAYOUT_CODEC_GZIP) {
        if (inflateInit2(&d->z, 15 + 16) != Z_OK) return err_set(TM_ENOMEM, "inflateInit2 failed");
        d->z_init = 1;
    } else if (k == LAYOUT_CODEC_ZSTD) {
        if (!(d->zs = ZSTD_createDStream())) return err_set(TM_ENOMEM, "ZSTD_createDStream failed");
        ZSTD_DCtx_setParameter(d->zs, ZSTD_d_windowLogMax, 27);   /* 128 MiB window at most */
        d->zs_ret = 1;
    }
    d->started = 1;
    return 0;
}

static int dec_account(layout_dec *d, size_t n)
{
    d->out_bytes += n;
    layout_dec_budget *b = d->budget;
    if (!b) return 0;
    uint64_t total = __atomic_add_fetch(&b->total, (uint64_t)n, __ATOMIC_RELAXED);
    if (b->max_total && total > b->max_total)
        return err_set(TM_ELIMIT, "decompressed data exceeds the limit of %llu bytes "
                       "(--max-decompressed)", (unsigned long long)b->max_total);
    if (b->max_ratio && d->kind != LAYOUT_CODEC_NONE && d->out_bytes > b->ratio_grace &&
        d->out_bytes / (d->in_bytes ? d->in_bytes : 1) > b->max_ratio)
        return err_set(TM_ELIMIT, "decompression ratio above %llu:1 after %llu bytes out of "
                       "%llu in: a compression bomb? (--max-ratio)",
                       (unsigned long long)b->max_ratio, (unsigned long long)d->out_bytes,
                       (unsigned long long)d->in_bytes);
    return 0;
}

static int dec_gzip(layout_dec *d, void *p, size_t n, size_t *got)
{
    int rc;
    *got = 0;
    while (*got == 0) {
        if (d->z_member_done) {
            /* Another gzip member may follow (concatenated .gz files are valid gzip). */
            if (d->in_len - d->in_pos < 2 && (rc = dec_fill(d))) return rc;
            if (d->in_len == d->in_pos) { d->finished = 1; return 0; }
            const unsigned char *m = d->in + d->in_pos;
            if (d->in_len - d->in_pos < 2 || m[0] != 0x1f || m[1] != 0x8b)
                return err_set(TM_ECORRUPT, "garbage after gzip data at byte %llu",
                               (unsigned long long)(d->in_bytes - (d->in_len - d->in_pos)));
            inflateReset(&d->z);
            d->z_member_done = 0;
        }
        if (d->in_pos == d->in_len) {
            if ((rc = dec_fill(d))) return rc;
            if (d->in_pos == d->in_len)
                return err_set(TM_ECORRUPT, "truncated gzip data (ends at byte %llu)",
                               (unsigned long long)d->in_bytes);
        }
        d->z.next_in = d->in + d->in_pos;
        d->z.avail_in = (uInt)(d->in_len - d->in_pos);
        d->z.next_out = p;
        d->z.avail_out = (uInt)(n > (1u << 30) ? (1u << 30) : n);
        uInt avail_out0 = d->z.avail_out;
        int zr = inflate(&d->z, Z_NO_FLUSH);
        d->in_pos = d->in_len - d->z.avail_in;
        *got = avail_out0 - d->z.avail_out;
        if (zr == Z_STREAM_END) d->z_member_done = 1;
        else if (zr == Z_BUF_ERROR && d->in_eof && d->in_pos == d->in_len)
            return err_set(TM_ECORRUPT, "truncated gzip data (ends at byte %llu)",
                           (unsigned long long)d->in_bytes);
        else if (zr != Z_OK && zr != Z_BUF_ERROR)
            return err_set(TM_ECORRUPT, "bad gzip data near byte %llu: %s",
                           (unsigned long long)(d->in_bytes - (d->in_len - d->in_pos)),
                           d->z.msg ? d->z.msg : "inflate failed");
        if (*got == 0 && !d->z_member_done && d->in_pos == d->in_len && d->in_eof)
            return err_set(TM_ECORRUPT, "truncated gzip data (ends at byte %llu)",
                           (unsigned long long)d->in_bytes);
    }
    return 0;
}

static int dec_zstd(layout_dec *d, void *p, size_t n, size_t *got)
{
    int rc;
    *got = 0;
    while (*got == 0) {
        if (d->in_pos == d->in_len) {
            if ((rc = dec_fill(d))) return rc;
            if (d->in_pos == d->in_len) {
                if (d->zs_ret != 0)
                    return err_set(TM_ECORRUPT, "truncated zstd data (ends at byte %llu)",
                                   (unsigned long long)d->in_bytes);
                d->finished = 1;
                return 0;
            }
        }
        ZSTD_inBuffer ib = {d->in, d->in_len, d->in_pos};
        ZSTD_outBuffer ob = {p, n, 0};
        size_t r = ZSTD_decompressStream(d->zs, &ob, &ib);
        if (ZSTD_isError(r))
            return err_set(TM_ECORRUPT, "bad zstd data near byte %llu: %s",
                           (unsigned long long)(d->in_bytes - (d->in_len - ib.pos)),
                           ZSTD_getErrorName(r));
        d->zs_ret = r;
        d->in_pos = ib.pos;
        *got = ob.pos;
    }
    return 0;
}

int layout_dec_read(layout_dec *d, void *p, size_t n, size_t *got)
{
    int rc = 0;
    *got = 0;
    if (d->err) return d->err;
    if (!d->started && (rc = dec_start(d))) goto out;
    if (d->finished || n == 0) return 0;
    if (d->kind == LAYOUT_CODEC_GZIP) rc = dec_gzip(d, p, n, got);
    else if (d->kind == LAYOUT_CODEC_ZSTD) rc = dec_zstd(d, p, n, got);
    else {
        if (d->in_pos == d->in_len && (rc = dec_fill(d))) goto out;
        size_t k = d->in_len - d->in_pos;   /* 0 only at the end */
        if (k == 0) { d->finished = 1; return 0; }
        if (k > n) k = n;
        memcpy(p, d->in + d->in_pos, k);
        d->in_pos += k;
        *got = k;
    }
    if (!rc && *got) rc = dec_account(d, *got);
out:
    if (rc) { d->err = rc; *got = 0; }
    return rc;
}

int layout_dec_drain(layout_dec *d)
{
    int rc;
    d->in_pos = d->in_len = 0;
    while (!d->in_eof)
        if ((rc = dec_fill(d))) return rc;
        else d->in_pos = d->in_len = 0;
    return 0;
}

layout_codec layout_dec_kind(const layout_dec *d) { return d->kind; }
uint64_t layout_dec_in_bytes(const layout_dec *d) { return d->in_bytes; }
uint64_t layout_dec_out_bytes(const layout_dec *d) { return d->out_bytes; }

void layout_dec_md5(layout_dec *d, unsigned char out[16])
{
    store_md5_final(d->md5, out);   /* frees the context */
    d->md5 = NULL;
}

void layout_dec_close(layout_dec *d)
{
    if (!d) return;
    if (d->z_init) inflateEnd(&d->z);
    ZSTD_freeDStream(d->zs);
    store_md5_free(d->md5);
    free(d->in);
    free(d);
}

int layout_store_read(void *ctx, void *p, size_t n, size_t *got)
{
    return store_reader_read(ctx, p, n, got);
}
