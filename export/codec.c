/* codec.c: compression of export data chunks, MD5 and the small encodings the manifests use
 * (base64, hex, etags, base32 file names, ExportIds). Data files are read back by the layout's
 * one decoder (layout_dec.c), for verify and import alike.
 *
 * Why ONE gzip member per data file: Java's GZIPInputStream before JDK 23 (OpenSearch Data
 * Prepper, the ScyllaDB migrator) and Python's zlib.decompressobj(31) idiom stop silently after
 * the first member of a concatenation, as AWS's own exports never have more than one
 * (FORMATS.md 2). So chunks are compressed in parallel like pigz does and joined into one
 * member: each chunk is a run of raw deflate blocks, none final, ending on a byte boundary with
 * an empty stored block (a sync flush marker, 00 00 ff ff); the writer puts the gzip header
 * before the first chunk and, after the last, an empty final block and the trailer whose CRC-32
 * is combined from the chunks' (crc32_combine). zstd frames stay independent: every zstd reader
 * reads concatenated frames.
 *
 * How a chunk is made joinable: libdeflate compresses it whole (it cannot flush or continue a
 * stream, so its last block is final); zlib's inflate(Z_BLOCK) then walks the blocks to find
 * where the final block's header bit is, which is cleared, and the empty stored block is
 * appended after its last bit. Measured on bench/gen_items.py lines (91 MB), 1 MiB chunks, one
 * core, best of 3 on the shared 2-core machine:
 *   libdeflate 6, independent members (before)   81 MB/s   13.03 MB
 *   libdeflate 6 + this join                       75 MB/s   13.03 MB   <- chosen
 *   zlib 6 with Z_SYNC_FLUSH (pigz's way)          42 MB/s   12.20 MB
 *   ISA-L igzip level 3 / 1 with SYNC_FLUSH       313 / 740  17.55 / 18.11 MB
 * zlib is too slow to stay under `pigz -p 2 -6` once JSON encoding is added; ISA-L is far
 * faster but its files are 35% larger and it has 4 levels, not 1..12. The join costs ~8%.
 * zstd: ZSTD_compress2 per chunk at level 3 (~370 MB/s); 4 MiB chunks compress as well as
 * one stream does on this data. */
#include "export/export_internal.h"
#include "engine/err.h"
#include "engine/text.h"

#include <libdeflate.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* ================================================================================================
 * Compression
 * ============================================================================================== */

struct xp_codec {
    export_compression kind;
    int level;
    struct libdeflate_compressor *gz;
    z_stream walk;              /* gzip: finds the final block of libdeflate's output */
    int walk_init;
    unsigned char *scratch;     /* the walk's output, thrown away */
    ZSTD_CCtx *zs;
};

#define WALK_SCRATCH (256 * 1024)

int xp_codec_new(export_compression c, int level, xp_codec **out)
{
    *out = NULL;
    xp_codec *x = calloc(1, sizeof *x);
    if (!x) return err_set(TM_ENOMEM, "out of memory");
    x->kind = c;
    if (c == EXPORT_GZIP) {
        x->level = level ? level : 6;
        if (x->level < 1 || x->level > 12) {
            free(x);
            return err_set(TM_EINVAL, "gzip level %d: must be 1..12", level);
        }
        x->gz = libdeflate_alloc_compressor(x->level);
        x->scratch = malloc(WALK_SCRATCH);
        x->walk_init = x->gz && x->scratch && inflateInit2(&x->walk, -15) == Z_OK;
        if (!x->walk_init) {
            xp_codec_free(x);
            return err_set(TM_ENOMEM, "libdeflate: cannot allocate a compressor");
        }
    } else {
        x->level = level ? level : 3;
        if (x->level < 1 || x->level > ZSTD_maxCLevel()) {
            free(x);
            return err_set(TM_EINVAL, "zstd level %d: must be 1..%d", level, ZSTD_maxCLevel());
        }
        x->zs = ZSTD_createCCtx();
        if (!x->zs) {
            free(x);
            return err_set(TM_ENOMEM, "zstd: cannot allocate a context");
        }
        ZSTD_CCtx_setParameter(x->zs, ZSTD_c_compressionLevel, x->level);
        ZSTD_CCtx_setParameter(x->zs, ZSTD_c_checksumFlag, 1);
    }
    *out = x;
    return 0;
}

/* Makes d[0..*n) (one whole raw deflate stream) joinable: clears the final block's BFINAL
 * bit and appends an empty stored block after its last bit. d has room for 5 more bytes. */
static int make_joinable(xp_codec *c, unsigned char *d, size_t *n)
{
    z_stream *z = &c->walk;
    if (inflateReset(z) != Z_OK) return err_set(TM_EIO, "zlib: reset failed");
    z->next_in = d;
    z->avail_in = (uInt)*n;
    size_t hdr = 0;             /* the byte and bit where the current block's header starts */
    int bit = 0, unused = -1, zr;
    do {
        z->next_out = c->scratch;
        z->avail_out = WALK_SCRATCH;
        zr = inflate(z, Z_BLOCK);
        if (zr != Z_OK && zr != Z_STREAM_END)
            return err_set(TM_EIO, "libdeflate output does not inflate: %s",
                           z->msg ? z->msg : "bad data");
        /* data_type: bits left unused in the last byte read (+64 last block, +128 at a block
         * boundary). At a boundary after a block that is not the last, the next header is
         * right there. */
        int dt = z->data_type, left = dt & 7;
        size_t at = (size_t)(z->next_in - d);
        if ((dt & 128) && !(dt & 64)) {
            hdr = left ? at - 1 : at;
            bit = left ? 8 - left : 0;
        }
        if ((dt & 128) && (dt & 64)) unused = left;
    } while (zr != Z_STREAM_END);
    if (z->avail_in || unused < 0) return err_set(TM_EIO, "libdeflate output: bytes after its end");
    d[hdr] &= (unsigned char)~(1u << bit);
    if (unused) d[*n - 1] &= (unsigned char)((1u << (8 - unused)) - 1);  /* padding: zeros */
    /* Stored block header (3 zero bits) in the padding if it fits, then LEN 0, NLEN ffff. */
    static const unsigned char stored[5] = {0, 0, 0, 0xff, 0xff};
    size_t k = unused >= 3 ? 4 : 5;
    memcpy(d + *n, stored + 5 - k, k);
    *n += k;
    return 0;
}

int xp_codec_compress(xp_codec *c, const void *in, size_t n, buf *out, uint32_t *crc)
{
    if (crc) *crc = 0;
    if (c->kind == EXPORT_GZIP && n == 0) return 0;    /* nothing to add to the member */
    size_t bound = c->kind == EXPORT_GZIP ? libdeflate_deflate_compress_bound(c->gz, n) + 5
                                          : ZSTD_compressBound(n);
    int rc = buf_reserve(out, bound);
    if (rc) return rc;
    size_t got;
    if (c->kind == EXPORT_GZIP) {
        unsigned char *d = (unsigned char *)out->data + out->len;
        got = libdeflate_deflate_compress(c->gz, in, n, d, bound - 5);
        if (!got) return err_set(TM_EIO, "libdeflate: compression failed");
        if ((rc = make_joinable(c, d, &got))) return rc;
        if (crc) *crc = libdeflate_crc32(0, in, n);
    } else {
        got = ZSTD_compress2(c->zs, out->data + out->len, bound, in, n);
        if (ZSTD_isError(got)) return err_set(TM_EIO, "zstd: %s", ZSTD_getErrorName(got));
    }
    out->len += got;
    out->data[out->len] = '\0';
    return 0;
}

void xp_codec_free(xp_codec *c)
{
    if (!c) return;
    if (c->gz) libdeflate_free_compressor(c->gz);
    if (c->walk_init) inflateEnd(&c->walk);
    free(c->scratch);
    if (c->zs) ZSTD_freeCCtx(c->zs);
    free(c);
}

/* Byte for byte what AWS writes for an empty partition (aws-samples: 20 bytes): header with
 * mtime 0 and OS 0, an empty final fixed block, CRC 0, size 0. */
static const unsigned char empty_gz[20] = {0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0,
                                           0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0};
/* An empty zstd frame: magic, descriptor (single segment, content size 0), one empty last raw
 * block. */
static const unsigned char empty_zst[9] = {0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x00, 0x01, 0x00, 0x00};

const unsigned char *xp_empty_file(export_compression c, size_t *n)
{
    if (c == EXPORT_GZIP) {
        *n = sizeof empty_gz;
        return empty_gz;
    }
    *n = sizeof empty_zst;
    return empty_zst;
}

/* gzip header as AWS's data files have it: deflate, no flags, mtime 0, no extra flags, OS 0. */
static const unsigned char gz_head[10] = {0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0};

size_t xp_file_head(export_compression c, unsigned char out[XP_HEAD_MAX])
{
    if (c != EXPORT_GZIP) return 0;
    memcpy(out, gz_head, sizeof gz_head);
    return sizeof gz_head;
}

size_t xp_file_tail(export_compression c, uint32_t crc, uint64_t len,
                    unsigned char out[XP_TAIL_MAX])
{
    if (c != EXPORT_GZIP) return 0;
    /* An empty final block with fixed codes (BFINAL 1, BTYPE 01, end-of-block): 03 00. */
    out[0] = 0x03;
    out[1] = 0x00;
    for (int i = 0; i < 4; i++) {
        out[2 + i] = (unsigned char)(crc >> (8 * i));
        out[6 + i] = (unsigned char)(len >> (8 * i));   /* ISIZE: the length mod 2^32 */
    }
    return 10;
}

uint32_t xp_crc_combine(uint32_t a, uint32_t b, uint64_t blen)
{
    return (uint32_t)crc32_combine(a, b, (z_off_t)blen);
}

const char *xp_ext(export_compression c) { return c == EXPORT_GZIP ? ".json.gz" : ".json.zst"; }

/* ================================================================================================
 * MD5, base64, hex, names
 * ============================================================================================== */

void xp_md5_b64(const void *p, size_t n, char out[25])
{
    unsigned char d[16];
    store_md5(p, n, d);
    text_b64(d, 16, out);
}

void xp_etag1(const unsigned char md5[16], char out[40])
{
    unsigned char d[16];
    store_md5(md5, 16, d);
    store_hex(d, 16, out);
    memcpy(out + 32, "-1", 3);
}

void xp_file_name(const char *id, int part, int index, char out[27])
{
    static const char a[] = "abcdefghijklmnopqrstuvwxyz234567";
    char in[96];
    unsigned char d[32];
    unsigned int len = sizeof d;
    int n = snprintf(in, sizeof in, "tidemark-export/%s/%d/%d", id, part, index);
    EVP_Digest(in, (size_t)n, d, &len, EVP_sha256(), NULL);
    /* 26 characters of 5 bits: the first 130 bits of the digest. */
    for (int i = 0; i < 26; i++) {
        int bit = i * 5, v = 0;
        for (int b = 0; b < 5; b++, bit++) v = v << 1 | ((d[bit / 8] >> (7 - bit % 8)) & 1);
        out[i] = a[v];
    }
    out[26] = '\0';
}

void xp_export_id(int64_t start_us, char out[24])
{
    unsigned char r[4];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        /* No entropy source: time and pid still make collisions unlikely. */
        uint32_t v = (uint32_t)start_us ^ (uint32_t)getpid() * 2654435761u;
        memcpy(r, &v, 4);
    }
    snprintf(out, 24, "%014lld-%02x%02x%02x%02x", (long long)(start_us / 1000), r[0], r[1], r[2],
             r[3]);
}
