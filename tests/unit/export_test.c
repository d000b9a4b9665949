/* export_test.c: exports end to end against table.h and a local destination, read back with
 * this file's own reader (manifests parsed with cJSON, data inflated, every line parsed and
 * re-encoded canonically) and compared with the table.
 *
 *  - codec: concatenated gzip members / zstd frames, streaming inflate fed byte by byte, the
 *    empty files, and the checksum/etag constants of AWS's 20-byte empty gzip;
 *  - names, ExportIds, hash partitions that tile the 32-bit space;
 *  - the exact texts: manifest line, full and incremental summaries, tidemark-schema.json,
 *    state file round trip;
 *  - full exports (gzip and zstd, 1 and 3 jobs, tiny file size limit => many files), items of
 *    every type, verify/describe/list;
 *  - full exports at past times (clock_set_us) equal the state then;
 *  - incremental exports: exact records, NEW_IMAGE, empty window, window errors;
 *  - fault injection (__wrap_store_writer_commit fails the Nth data file): no summary, FAILED
 *    state, --resume finishes with the same content and keeps finished partitions; resume after
 *    the table moved on (PITR rebuilds the moment; without PITR it refuses);
 *  - verify catches a flipped byte, a missing file, a wrong .md5, a wrong itemCount;
 *  - the real AWS exports in ../shared/aws-samples, only when that directory exists. */
#include "engine/clock.h"
#include "engine/err.h"
#include "engine/fsx.h"
#include "engine/item.h"
#include "engine/key.h"
#include "engine/table.h"
#include "engine/text.h"
#include "export/export.h"
#include "export/export_internal.h"
#include "export/layout.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "tests/unit/testutil.h"

#define T0  1762934400000000LL   /* 2025-11-12T08:00:00Z */
#define SEC 1000000LL

static char root[PATH_MAX];      /* per-run temp directory */

/* ================================================================ fault injection ==== */

int __real_store_writer_commit(store_writer *w, store_put_result *result);
int __wrap_store_writer_commit(store_writer *w, store_put_result *result);
static int fail_at = -1;         /* fail the Nth data-file commit (0-based); -1: never */
static int commits;

/* Only pipeline.c calls store_writer_commit in an export (manifests go through store_put),
 * so every call here is a data file. */
int __wrap_store_writer_commit(store_writer *w, store_put_result *result)
{
    if (fail_at >= 0 && commits++ == fail_at) {
        store_writer_abort(w);
        return err_set(TM_EREMOTE, "injected failure: the store went away");
    }
    return __real_store_writer_commit(w, result);
}

/* ================================================================ helpers ==== */

static void mkpath(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void mkpath(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

static table *new_table(const char *name, int pitr)
{
    key_schema ks = {0};
    snprintf(ks.hash_name, sizeof ks.hash_name, "pk");
    ks.hash_type = AV_S;
    snprintf(ks.range_name, sizeof ks.range_name, "sk");
    ks.range_type = AV_N;
    table_create_opts co = TABLE_CREATE_OPTS_INIT;
    co.durability = LOG_SYNC_NONE;
    char home[PATH_MAX];
    mkpath(home, sizeof home, "%s/home", root);
    assert_int_equal(table_create(home, name, &ks, &co, NULL), 0);
    table *t;
    assert_int_equal(table_open(home, name, 0, &t), 0);
    if (pitr) assert_int_equal(table_set_pitr(t, 1, 35), 0);
    return t;
}

static void put_json(table *t, const char *json)
{
    item *it = NULL;
    int rc = item_parse_json(json, strlen(json), 0, &it);
    if (rc) fail_msg("%s: %s", json, err_msg());
    assert_int_equal(table_put(t, it, NULL, NULL, NULL), 0);
    item_free(it);
}

/* An item of every type, varied by i. */
static void item_json(int i, int version, char *out, size_t n)
{
    snprintf(out, n,
             "{\"pk\":{\"S\":\"user#%04d \\\"q\\\" \\u00e9\"},\"sk\":{\"N\":\"%d.%d\"},"
             "\"ver\":{\"N\":\"%d\"},\"b\":{\"B\":\"%s\"},\"ss\":{\"SS\":[\"a%d\",\"b\"]},"
             "\"ns\":{\"NS\":[\"1\",\"%d\"]},\"bs\":{\"BS\":[\"AAE=\",\"/w==\"]},"
             "\"m\":{\"M\":{\"nested\":{\"L\":[{\"S\":\"x\"},{\"N\":\"-0.5\"},{\"NULL\":true},"
             "{\"BOOL\":%s}]},\"e\":{\"M\":{}}}},\"l\":{\"L\":[]},\"text\":{\"S\":\"%.*s\"}}",
             i % 997, i, i % 7, version, i % 2 ? "AQIDBA==" : "", i, i + 2,
             i % 3 ? "true" : "false", 20 + i % 200,
             "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
             "incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud "
             "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat duis aute");
}

/* A sorted list of canonical encodings (hex-free: raw bytes in bufs). */
typedef struct enc_list {
    buf *v;
    size_t n, cap;
} enc_list;

static void enc_add(enc_list *l, const void *p, size_t n)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        assert_non_null(l->v);
    }
    l->v[l->n] = (buf)BUF_INIT;
    assert_int_equal(buf_append(&l->v[l->n], p, n), 0);
    l->n++;
}

static int enc_cmp(const void *a, const void *b)
{
    const buf *x = a, *y = b;
    int c = memcmp(x->data, y->data, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static void enc_free(enc_list *l)
{
    for (size_t i = 0; i < l->n; i++) buf_free(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static void enc_equal(enc_list *a, enc_list *b)
{
    qsort(a->v, a->n, sizeof *a->v, enc_cmp);
    qsort(b->v, b->n, sizeof *b->v, enc_cmp);
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) assert_int_equal(enc_cmp(&a->v[i], &b->v[i]), 0);
}

static int scan_cb(void *ctx, const void *key, size_t kn, const void *img, size_t in)
{
    (void)key;
    (void)kn;
    enc_add(ctx, img, in);
    return 0;
}

static void table_items(table *t, enc_list *out)
{
    table_read *r;
    assert_int_equal(table_read_begin(t, &r), 0);
    assert_int_equal(table_read_scan(r, 0, UINT32_MAX, scan_cb, out), 0);
    table_read_end(r);
}

static void read_file(const char *path, buf *out)
{
    buf_reset(out);
    int rc = fsx_read_file(path, (size_t)1 << 30, out);
    if (rc) fail_msg("%s: %s", path, err_msg());
}

/* Memory as a layout_read_fn; with step > 0, in pieces of growing odd sizes from step bytes. */
typedef struct mem_src {
    const unsigned char *p;
    size_t n, off, step;
} mem_src;

static int mem_read(void *ctx, void *p, size_t n, size_t *got)
{
    mem_src *m = ctx;
    size_t k = m->n - m->off;
    if (m->step) {
        if (k > m->step) k = m->step;
        m->step = m->step * 3 + 1;
    }
    if (k > n) k = n;
    memcpy(p, m->p + m->off, k);
    m->off += k;
    *got = k;
    return 0;
}

/* Decodes p[0..n) with the layout's one decoder (what verify and import use) into out. */
static int decode_mem(const void *p, size_t n, size_t step, buf *out)
{
    mem_src m = {p, n, 0, step};
    layout_dec *d = NULL;
    buf_reset(out);
    int rc = layout_dec_open(LAYOUT_CODEC_AUTO, NULL, mem_read, &m, NULL, &d);
    while (!rc) {
        size_t got = 0;
        if ((rc = buf_reserve(out, 1 << 16))) break;
        if ((rc = layout_dec_read(d, out->data + out->len, 1 << 16, &got)) || !got) break;
        out->len += got;
    }
    layout_dec_close(d);
    return rc;
}

static void inflate_file(const char *path, buf *out)
{
    buf raw = BUF_INIT;
    read_file(path, &raw);
    assert_int_equal(decode_mem(raw.data, raw.len, 0, out), 0);
    buf_free(&raw);
}

typedef void (*line_fn)(void *ctx, const char *line, size_t n);

/* Reads an export back: manifests (one line each, the count), every data file (MD5, lines).
 * Returns the summary's itemCount. */
static uint64_t read_export(const char *dest, const char *dir, line_fn fn, void *ctx)
{
    char p[PATH_MAX];
    buf sum = BUF_INIT, files = BUF_INIT, data = BUF_INIT, raw = BUF_INIT, md5 = BUF_INIT;
    mkpath(p, sizeof p, "%s/manifest-summary.json", dir);
    read_file(p, &sum);
    mkpath(p, sizeof p, "%s/manifest-summary.md5", dir);
    read_file(p, &md5);
    char want[25];
    xp_md5_b64(sum.data, sum.len, want);
    assert_int_equal(md5.len, 24);
    assert_memory_equal(md5.data, want, 24);
    assert_true(sum.len > 0 && sum.data[sum.len - 1] == '}');
    cJSON *s = cJSON_ParseWithLength(sum.data, sum.len);
    assert_non_null(s);
    uint64_t total = (uint64_t)cJSON_GetObjectItem(s, "itemCount")->valuedouble;
    cJSON_Delete(s);
    mkpath(p, sizeof p, "%s/manifest-files.json", dir);
    read_file(p, &files);
    uint64_t sum_counts = 0;
    char *line = files.data, *nl;
    while (line < files.data + files.len && (nl = strchr(line, '\n'))) {
        cJSON *f = cJSON_ParseWithLength(line, (size_t)(nl - line));
        assert_non_null(f);
        uint64_t cnt = (uint64_t)cJSON_GetObjectItem(f, "itemCount")->valuedouble;
        const char *key = cJSON_GetObjectItem(f, "dataFileS3Key")->valuestring;
        mkpath(p, sizeof p, "%s/%s", dest, key);
        read_file(p, &raw);
        xp_md5_b64(raw.data, raw.len, want);
        assert_string_equal(want, cJSON_GetObjectItem(f, "md5Checksum")->valuestring);
        inflate_file(p, &data);
        uint64_t lines = 0;
        for (char *a = data.data, *b; a < data.data + data.len; a = b + 1) {
            b = memchr(a, '\n', (size_t)(data.data + data.len - a));
            assert_non_null(b);
            if (fn) fn(ctx, a, (size_t)(b - a));
            lines++;
        }
        assert_int_equal(lines, cnt);
        sum_counts += cnt;
        cJSON_Delete(f);
        line = nl + 1;
    }
    assert_int_equal(line - files.data, (long)files.len);   /* every line ends in '\n' */
    assert_int_equal(sum_counts, total);
    buf_free(&sum);
    buf_free(&files);
    buf_free(&data);
    buf_free(&raw);
    buf_free(&md5);
    return total;
}

static void item_line(void *ctx, const char *line, size_t n)
{
    item *it = NULL;
    buf enc = BUF_INIT;
    assert_true(n > 9 && !memcmp(line, "{\"Item\":{", 9));
    int rc = item_parse_json(line, n, ITEM_PARSE_WRAPPED, &it);
    if (rc) fail_msg("%.*s: %s", (int)n, line, err_msg());
    assert_int_equal(item_encode(it, &enc), 0);
    enc_add(ctx, enc.data, enc.len);
    buf_free(&enc);
    item_free(it);
}

static void home_of(char *out, size_t n) { mkpath(out, n, "%s/home", root); }

static export_options opts_for(const char *tname, const char *dest)
{
    static char home[PATH_MAX];
    home_of(home, sizeof home);
    export_options o = EXPORT_OPTIONS_INIT;
    o.home = home;
    o.table = tname;
    o.dest = dest;
    return o;
}

static int verify_quiet(const char *dir, export_verify_stats *st)
{
    return export_verify(dir, NULL, NULL, NULL, st);
}

static void count_problem(void *ctx, const char *what, const char *detail)
{
    (void)what;
    (void)detail;
    (*(int *)ctx)++;
}

/* ================================================================ codec ==== */

static void test_codec(void **state)
{
    (void)state;
    static const export_compression kinds[] = {EXPORT_GZIP, EXPORT_ZSTD};
    buf in = BUF_INIT, z = BUF_INIT, out = BUF_INIT;
    for (int i = 0; i < 200000; i++) buf_printf(&in, "{\"Item\":{\"n\":{\"N\":\"%d\"}}}\n", i);
    for (size_t k = 0; k < 2; k++) {
        xp_codec *c;
        assert_int_equal(xp_codec_new(kinds[k], 0, &c), 0);
        /* Three chunks, one of them empty input, between the file's head and tail. */
        size_t third = in.len / 3;
        unsigned char ht[XP_HEAD_MAX + XP_TAIL_MAX];
        uint32_t c1, c2, c3;
        buf_reset(&z);
        buf_append(&z, ht, xp_file_head(kinds[k], ht));
        assert_int_equal(xp_codec_compress(c, in.data, third, &z, &c1), 0);
        assert_int_equal(xp_codec_compress(c, in.data, 0, &z, &c2), 0);
        assert_int_equal(xp_codec_compress(c, in.data + third, in.len - third, &z, &c3), 0);
        uint32_t crc = xp_crc_combine(xp_crc_combine(c1, c2, 0), c3, in.len - third);
        buf_append(&z, ht, xp_file_tail(kinds[k], crc, in.len, ht));
        xp_codec_free(c);
        if (kinds[k] == EXPORT_GZIP) {
            /* ONE gzip member: a reader that stops after the first member gets everything. */
            assert_int_equal(crc, (uint32_t)crc32(0, (const Bytef *)in.data, (uInt)in.len));
            z_stream zs;
            memset(&zs, 0, sizeof zs);
            assert_int_equal(inflateInit2(&zs, 31), Z_OK);
            unsigned char *o = malloc(in.len + 1);
            zs.next_in = (Bytef *)z.data;
            zs.avail_in = (uInt)z.len;
            zs.next_out = o;
            zs.avail_out = (uInt)in.len + 1;
            assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
            assert_int_equal(zs.avail_in, 0);
            assert_int_equal(zs.total_out, in.len);
            assert_memory_equal(o, in.data, in.len);
            inflateEnd(&zs);
            free(o);
        }
        assert_true(z.len < in.len / 4);
        /* Fed in odd-sized pieces, from one byte up. */
        assert_int_equal(decode_mem(z.data, z.len, 1, &out), 0);
        assert_int_equal(out.len, in.len);
        assert_memory_equal(out.data, in.data, in.len);
        /* Truncated: an error at the end, not silence. */
        assert_int_equal(decode_mem(z.data, z.len - 5, 0, &out), TM_ECORRUPT);
        /* The empty file decompresses to nothing. */
        size_t en;
        const unsigned char *e = xp_empty_file(kinds[k], &en);
        assert_int_equal(decode_mem(e, en, 0, &out), 0);
        assert_int_equal(out.len, 0);
    }
    /* AWS's empty partition file: 20 bytes, and the checksums AWS lists for it; the head and
     * tail of a file of nothing are exactly those bytes. */
    size_t en;
    const unsigned char *e = xp_empty_file(EXPORT_GZIP, &en);
    assert_int_equal(en, 20);
    unsigned char ht[XP_HEAD_MAX + XP_TAIL_MAX];
    size_t hn = xp_file_head(EXPORT_GZIP, ht);
    hn += xp_file_tail(EXPORT_GZIP, 0, 0, ht + hn);
    assert_int_equal(hn, 20);
    assert_memory_equal(ht, e, 20);
    char b64[25], etag[40];
    xp_md5_b64(e, en, b64);
    assert_string_equal(b64, "OXDoJgXH0Qm7NI/JTp7swA==");
    unsigned char md5[16];
    assert_int_equal(text_b64_decode16(b64, 24, md5), 0);   /* 3970e826...: the MD5 above */
    xp_etag1(md5, etag);
    assert_string_equal(etag, "67c8121a4701556ecf2fa9dda42c0269-1");
    /* Bad levels are refused up front. */
    xp_codec *c;
    assert_int_equal(xp_codec_new(EXPORT_GZIP, 13, &c), TM_EINVAL);
    assert_null(c);
    buf_free(&in);
    buf_free(&z);
    buf_free(&out);
}

/* ================================================================ names ==== */

static void test_names(void **state)
{
    (void)state;
    char id[24], id2[24];
    xp_export_id(1605130432834123LL, id);
    assert_int_equal(strlen(id), 23);
    assert_memory_equal(id, "01605130432834-", 15);
    assert_int_equal(strspn(id + 15, "0123456789abcdef"), 8);
    xp_export_id(1605130432834123LL, id2);
    assert_string_not_equal(id, id2);
    char a[27], b[27], a2[27];
    xp_file_name(id, 3, 0, a);
    xp_file_name(id, 3, 1, b);
    xp_file_name(id, 3, 0, a2);
    assert_int_equal(strlen(a), 26);
    assert_int_equal(strspn(a, "abcdefghijklmnopqrstuvwxyz234567"), 26);
    assert_string_equal(a, a2);
    assert_string_not_equal(a, b);
    /* Partitions tile [0, 2^32) and agree with xp_part_of. */
    static const int ns[] = {1, 2, 3, 5, 7, 64, 1000, 1024};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        int n = ns[k];
        uint64_t next = 0;
        for (int i = 0; i < n; i++) {
            uint32_t lo, hi;
            xp_part_range(i, n, &lo, &hi);
            assert_int_equal(lo, next);
            assert_true(hi >= lo);
            assert_int_equal(xp_part_of(lo, n), i);
            assert_int_equal(xp_part_of(hi, n), i);
            next = (uint64_t)hi + 1;
        }
        assert_int_equal(next, (uint64_t)1 << 32);
    }
    char dest[64], did[64];
    assert_int_equal(layout_split_dir("s3://b/p/q/AWSDynamoDB/0123-ab/", dest, sizeof dest, did,
                                      sizeof did), 0);
    assert_string_equal(dest, "s3://b/p/q");
    assert_string_equal(did, "0123-ab");
    assert_int_equal(layout_split_dir("/x/AWSDynamoDB/0123-ab", dest, sizeof dest, did, sizeof did),
                     0);
    assert_string_equal(dest, "/x");
    assert_int_equal(layout_split_dir("/x/notaws/0123-ab", dest, sizeof dest, did, sizeof did),
                     -1);
}

/* ================================================================ texts ==== */

static xp_meta sample_meta(export_type type)
{
    xp_meta m;
    memset(&m, 0, sizeof m);
    snprintf(m.id, sizeof m.id, "01605130432834-8a918b87");
    m.type = type;
    snprintf(m.table, sizeof m.table, "MyTable");
    snprintf(m.table_id, sizeof m.table_id, "430ff009-d406-48ba-b83f-c927fb8b76f8");
    snprintf(m.ks.hash_name, sizeof m.ks.hash_name, "pk");
    m.ks.hash_type = AV_S;
    snprintf(m.ks.range_name, sizeof m.ks.range_name, "sk");
    m.ks.range_type = AV_N;
    snprintf(m.region, sizeof m.region, "us-east-1");
    snprintf(m.account, sizeof m.account, "529276214230");
    snprintf(m.bucket, sizeof m.bucket, "bkt");
    snprintf(m.prefix, sizeof m.prefix, "demo_prefix");
    m.start_us = 1605130432834000LL;
    m.end_us = 1605130828971000LL;
    m.export_time_us = 1605130431000000LL;
    m.from_us = 1605130000000000LL;
    m.to_us = 1605130400123456LL;
    m.parts = 4;
    return m;
}

static void test_texts(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    xp_file f = {0};
    f.items = 2;
    snprintf(f.md5_b64, sizeof f.md5_b64, "J/tzfeC42jGYz0+Lo26WKg==");
    snprintf(f.etag, sizeof f.etag, "4b8c246df7babb873e2fc91a4c45807e-1");
    snprintf(f.full_key, sizeof f.full_key, "demo_prefix/AWSDynamoDB/x/data/v.json.gz");
    assert_int_equal(xp_manifest_line(&f, &b), 0);
    assert_string_equal(b.data, "{\"itemCount\":2,\"md5Checksum\":\"J/tzfeC42jGYz0+Lo26WKg==\","
                        "\"etag\":\"4b8c246df7babb873e2fc91a4c45807e-1\",\"dataFileS3Key\":"
                        "\"demo_prefix/AWSDynamoDB/x/data/v.json.gz\"}\n");

    xp_meta m = sample_meta(EXPORT_FULL);
    buf_reset(&b);
    assert_int_equal(xp_summary_json(&m, "demo_prefix/AWSDynamoDB/01605130432834-8a918b87/"
                                     "manifest-files.json", 3, 0, &b), 0);
    assert_string_equal(b.data,
        "{\"version\":\"2020-06-30\",\"exportArn\":\"arn:aws:dynamodb:us-east-1:529276214230:"
        "table/MyTable/export/01605130432834-8a918b87\",\"startTime\":\"2020-11-11T21:33:52.834Z\","
        "\"endTime\":\"2020-11-11T21:40:28.971Z\",\"tableArn\":\"arn:aws:dynamodb:us-east-1:"
        "529276214230:table/MyTable\",\"tableId\":\"430ff009-d406-48ba-b83f-c927fb8b76f8\","
        "\"exportTime\":\"2020-11-11T21:33:51.000Z\",\"s3Bucket\":\"bkt\",\"s3Prefix\":"
        "\"demo_prefix\",\"s3SseAlgorithm\":\"AES256\",\"s3SseKmsKeyId\":null,"
        "\"manifestFilesS3Key\":\"demo_prefix/AWSDynamoDB/01605130432834-8a918b87/"
        "manifest-files.json\",\"billedSizeBytes\":0,\"itemCount\":3,\"outputFormat\":"
        "\"DYNAMODB_JSON\"}");

    m = sample_meta(EXPORT_INCREMENTAL);
    m.prefix[0] = '\0';
    m.view = EXPORT_VIEW_NEW;
    buf_reset(&b);
    assert_int_equal(xp_summary_json(&m, "AWSDynamoDB/x/manifest-files.json", 5, 77, &b), 0);
    assert_string_equal(b.data,
        "{\"version\":\"2023-08-01\",\"exportArn\":\"arn:aws:dynamodb:us-east-1:529276214230:"
        "table/MyTable/export/01605130432834-8a918b87\",\"startTime\":\"2020-11-11T21:33:52.834Z\","
        "\"endTime\":\"2020-11-11T21:40:28.971Z\",\"tableArn\":\"arn:aws:dynamodb:us-east-1:"
        "529276214230:table/MyTable\",\"tableId\":\"430ff009-d406-48ba-b83f-c927fb8b76f8\","
        "\"exportFromTime\":\"2020-11-11T21:26:40.000Z\",\"exportToTime\":"
        "\"2020-11-11T21:33:20.123Z\",\"s3Bucket\":\"bkt\",\"s3Prefix\":null,"
        "\"s3SseAlgorithm\":\"AES256\",\"s3SseKmsKeyId\":null,\"manifestFilesS3Key\":"
        "\"AWSDynamoDB/x/manifest-files.json\",\"billedSizeBytes\":77,\"itemCount\":5,"
        "\"outputFormat\":\"DYNAMODB_JSON\",\"outputView\":\"NEW_IMAGE\",\"exportType\":"
        "\"INCREMENTAL_EXPORT\"}");

    buf_reset(&b);
    assert_int_equal(xp_schema_json(&m, &b), 0);
    assert_string_equal(b.data,
        "{\"SchemaVersion\":2,\"TableName\":\"MyTable\",\"TableId\":"
        "\"430ff009-d406-48ba-b83f-c927fb8b76f8\","
        "\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},{\"AttributeName\":"
        "\"sk\",\"KeyType\":\"RANGE\"}],\"AttributeDefinitions\":[{\"AttributeName\":\"pk\","
        "\"AttributeType\":\"S\"},{\"AttributeName\":\"sk\",\"AttributeType\":\"N\"}],"
        "\"ExportFromTime\":\"2020-11-11T21:26:40.000000Z\",\"ExportToTime\":"
        "\"2020-11-11T21:33:20.123456Z\",\"ExportType\":\"INCREMENTAL_EXPORT\","
        "\"Checksum\":\"3vdM1mu/kDIb0u/9LXrmig==\"}\n");   /* base64 MD5 of the bytes before it */
    char why[256];
    assert_int_equal(layout_schema_check(b.data, b.len, why, sizeof why), 0);
    m.ks.range_type = 0;
    m.type = EXPORT_FULL;
    buf_reset(&b);
    assert_int_equal(xp_schema_json(&m, &b), 0);
    assert_non_null(strstr(b.data, "\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":"
                                   "\"HASH\"}],\"AttributeDefinitions\":[{\"AttributeName\":"
                                   "\"pk\",\"AttributeType\":\"S\"}],\"ExportTime\":"));

    /* State round trip. */
    m = sample_meta(EXPORT_INCREMENTAL);
    m.view = EXPORT_VIEW_NEW;
    m.compression = EXPORT_ZSTD;
    m.snap_seq = 123456789012ULL;
    unsigned char done[4] = {1, 0, 1, 0};
    xp_file fs[3] = {{0}, {0}, {0}};
    fs[0].part = 0;
    fs[1].part = 1;
    fs[2].part = 2;
    fs[2].index = 1;
    fs[2].items = 9;
    fs[2].size = 1234;
    snprintf(fs[2].key, sizeof fs[2].key, "AWSDynamoDB/data/abc.json.zst");
    snprintf(fs[2].md5_b64, sizeof fs[2].md5_b64, "J/tzfeC42jGYz0+Lo26WKg==");
    buf_reset(&b);
    assert_int_equal(xp_state_json(&m, "IN_PROGRESS", NULL, fs, 3, done, &b), 0);
    xp_meta m2;
    char status[32];
    xp_file *f2;
    size_t n2;
    unsigned char *d2;
    assert_int_equal(xp_state_parse(b.data, b.len, &m2, status, sizeof status, &f2, &n2, &d2), 0);
    assert_string_equal(status, "IN_PROGRESS");
    assert_string_equal(m2.id, m.id);
    assert_int_equal(m2.type, EXPORT_INCREMENTAL);
    assert_int_equal(m2.view, EXPORT_VIEW_NEW);
    assert_int_equal(m2.compression, EXPORT_ZSTD);
    assert_int_equal(m2.to_us, m.to_us);
    assert_int_equal(m2.snap_seq, m.snap_seq);
    assert_int_equal(m2.parts, 4);
    assert_int_equal(m2.ks.range_type, AV_N);
    assert_memory_equal(d2, done, 4);
    assert_int_equal(n2, 2);   /* the file of unfinished partition 1 is not recorded */
    assert_int_equal(f2[1].part, 2);
    assert_int_equal(f2[1].index, 1);
    assert_int_equal(f2[1].items, 9);
    assert_int_equal(f2[1].size, 1234);
    assert_string_equal(f2[1].key, fs[2].key);
    free(f2);
    free(d2);
    assert_int_equal(xp_state_parse("[]", 2, &m2, status, sizeof status, &f2, &n2, &d2),
                     TM_ECORRUPT);
    buf_free(&b);
}

/* ================================================================ full exports ==== */

static void full_round_trip(table *t, const char *tname, export_compression c, int jobs,
                            uint64_t max_file, const char *sub)
{
    char dest[PATH_MAX];
    mkpath(dest, sizeof dest, "%s/%s", root, sub);
    export_options o = opts_for(tname, dest);
    o.compression = c;
    o.jobs = jobs;
    o.max_file_bytes = max_file;
    export_desc d;
    int rc = export_run(&o, &d);
    if (rc) fail_msg("export: %s", err_msg());
    assert_string_equal(d.status, "COMPLETED");
    enc_list want = {0}, got = {0};
    table_items(t, &want);
    uint64_t n = read_export(dest, d.dir, item_line, &got);
    assert_int_equal(n, want.n);
    assert_int_equal(d.item_count, want.n);
    enc_equal(&want, &got);
    /* Layout: _started, both manifests, the schema file, no state file; data files named
     * 26 base32 characters + the extension. */
    char p[PATH_MAX];
    static const char *const names[] = {"_started", "manifest-files.json", "manifest-files.md5",
                                        "manifest-summary.json", "manifest-summary.md5",
                                        "tidemark-schema.json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        mkpath(p, sizeof p, "%s/%s", d.dir, names[i]);
        assert_true(fsx_exists(p));
    }
    mkpath(p, sizeof p, "%s/%s", d.dir, XP_STATE_NAME);
    assert_false(fsx_exists(p));
    mkpath(p, sizeof p, "%s/data", d.dir);
    DIR *dd = opendir(p);
    assert_non_null(dd);
    struct dirent *e;
    size_t files = 0;
    while ((e = readdir(dd))) {
        if (e->d_name[0] == '.') continue;
        files++;
        assert_int_equal(strspn(e->d_name, "abcdefghijklmnopqrstuvwxyz234567"), 26);
        assert_string_equal(e->d_name + 26, xp_ext(c));
    }
    closedir(dd);
    assert_int_equal(files, d.files);
    assert_true(files >= (size_t)jobs);
    export_verify_stats st;
    rc = verify_quiet(d.dir, &st);
    if (rc) fail_msg("verify: %s", err_msg());
    assert_int_equal(st.items, want.n);
    assert_int_equal(st.lines, want.n);
    assert_int_equal(st.files, st.files_ok);
    export_desc d2;
    assert_int_equal(export_describe(d.dir, NULL, &d2), 0);
    assert_string_equal(d2.status, "COMPLETED");
    assert_int_equal(d2.item_count, want.n);
    assert_string_equal(d2.id, d.id);
    assert_string_equal(d2.table_name, tname);
    enc_free(&want);
    enc_free(&got);
}

static void test_full(void **state)
{
    (void)state;
    clock_set_us(0);
    table *t = new_table("fulltab", 0);
    char j[2048];
    table_batch *b;
    assert_int_equal(table_batch_begin(t, &b), 0);
    for (int i = 0; i < 3000; i++) {
        item *it = NULL;
        item_json(i, 1, j, sizeof j);
        int rc = item_parse_json(j, strlen(j), 0, &it);
        if (rc) fail_msg("%s: %s", j, err_msg());
        assert_int_equal(table_batch_put(b, it), 0);
        item_free(it);
    }
    assert_int_equal(table_batch_commit(b), 0);
    full_round_trip(t, "fulltab", EXPORT_GZIP, 3, 16 << 10, "full-gz3");
    full_round_trip(t, "fulltab", EXPORT_ZSTD, 3, 16 << 10, "full-zst3");
    full_round_trip(t, "fulltab", EXPORT_GZIP, 1, 0, "full-gz1");
    full_round_trip(t, "fulltab", EXPORT_GZIP, 8, 0, "full-gz8");   /* empty partitions too */

    /* Several exports in one destination: list shows each, oldest first. */
    char dest[PATH_MAX];
    mkpath(dest, sizeof dest, "%s/full-gz3", root);
    export_options o = opts_for("fulltab", dest);
    export_desc d;
    assert_int_equal(export_run(&o, &d), 0);
    export_desc *v;
    size_t n;
    assert_int_equal(export_list(dest, NULL, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_true(strcmp(v[0].id, v[1].id) < 0);
    assert_string_equal(v[1].id, d.id);
    free(v);
    /* The ExportDescription of the export: api_backup_test (its one writer is the api's). */

    /* Errors: no such table, bad jobs, a destination that cannot be a directory. */
    o = opts_for("nosuchtable", dest);
    assert_int_equal(export_run(&o, &d), TM_ENOTFOUND);
    o = opts_for("fulltab", dest);
    o.jobs = 0;
    assert_int_equal(export_run(&o, &d), TM_EINVAL);
    table_close(t);
}

/* ================================================================ time travel ==== */

static void state_line(void *ctx, const char *line, size_t n)
{
    /* "ver" of each item, keyed by pk: the test's items are pk "k<i>" with ver N. */
    item *it = NULL;
    assert_int_equal(item_parse_json(line, n, ITEM_PARSE_WRAPPED, &it), 0);
    const av *pk = item_get(it, "pk"), *ver = item_get(it, "ver");
    int k = atoi(pk->u.bytes + 1);
    ((int *)ctx)[k] = atoi(ver->u.bytes);
    item_free(it);
}

#define TT_KEYS 20

static void test_full_at_time(void **state)
{
    (void)state;
    clock_set_us(T0);
    table *t = new_table("timetab", 1);
    /* history[s][k]: ver of key k after second s (0: absent). */
    static int history[8][TT_KEYS];
    int cur[TT_KEYS] = {0};
    char j[256];
    for (int s = 1; s <= 6; s++) {
        for (int k = 0; k < TT_KEYS; k++) {
            int op = (k * 7 + s * 3) % 5;
            clock_set_us(T0 + s * SEC + k);
            if (op == 0 && cur[k]) {
                item *key = NULL;
                snprintf(j, sizeof j, "{\"pk\":{\"S\":\"k%d\"},\"sk\":{\"N\":\"1\"}}", k);
                assert_int_equal(item_parse_json(j, strlen(j), 0, &key), 0);
                assert_int_equal(table_delete_item(t, key, NULL, NULL, NULL), 0);
                item_free(key);
                cur[k] = 0;
            } else if (op != 4) {
                snprintf(j, sizeof j, "{\"pk\":{\"S\":\"k%d\"},\"sk\":{\"N\":\"1\"},"
                         "\"ver\":{\"N\":\"%d\"}}", k, s * 100 + k);
                put_json(t, j);
                cur[k] = s * 100 + k;
            }
        }
        memcpy(history[s], cur, sizeof cur);
    }
    clock_set_us(T0 + 60 * SEC);
    char dest[PATH_MAX];
    mkpath(dest, sizeof dest, "%s/timed", root);
    for (int s = 1; s <= 6; s++) {
        export_options o = opts_for("timetab", dest);
        o.time_us = T0 + s * SEC + 500000;   /* after second s's writes, before s+1's */
        export_desc d;
        int rc = export_run(&o, &d);
        if (rc) fail_msg("export at %d: %s", s, err_msg());
        assert_int_equal(d.export_time_us, o.time_us);
        int seen[TT_KEYS] = {0};
        read_export(dest, d.dir, state_line, seen);
        assert_memory_equal(seen, history[s], sizeof seen);
        assert_int_equal(verify_quiet(d.dir, NULL), 0);
    }
    /* Just before the first write of second 3 (key 0's at T0+3s): second 2's state. */
    export_options o = opts_for("timetab", dest);
    o.time_us = T0 + 3 * SEC - 1;
    export_desc d;
    assert_int_equal(export_run(&o, &d), 0);
    int seen[TT_KEYS] = {0};
    read_export(dest, d.dir, state_line, seen);
    assert_memory_equal(seen, history[2], sizeof seen);
    /* Outside the window, in the future: clear errors, nothing complete left behind. */
    o.time_us = T0 - SEC;
    assert_int_equal(export_run(&o, &d), TM_ERANGE);
    assert_non_null(strstr(err_msg(), "outside the point-in-time window"));
    o.time_us = T0 + 3600 * SEC;
    assert_int_equal(export_run(&o, &d), TM_ERANGE);
    assert_non_null(strstr(err_msg(), "future"));
    /* Without a time: now, which is after every write. */
    o.time_us = 0;
    assert_int_equal(export_run(&o, &d), 0);
    memset(seen, 0, sizeof seen);
    read_export(dest, d.dir, state_line, seen);
    assert_memory_equal(seen, history[6], sizeof seen);
    table_close(t);
}

/* ================================================================ incremental ==== */

typedef struct lines {
    char *v[64];
    int n;
} lines;

static void keep_line(void *ctx, const char *line, size_t n)
{
    lines *l = ctx;
    assert_true(l->n < 64);
    l->v[l->n++] = strndup(line, n);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void lines_free(lines *l)
{
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    l->n = 0;
}

static void incr(const char *dest, int64_t from, int64_t to, export_view view, lines *out,
                 export_desc *d)
{
    export_options o = opts_for("inctab", dest);
    o.type = EXPORT_INCREMENTAL;
    o.from_us = from;
    o.to_us = to;
    o.view = view;
    int rc = export_run(&o, d);
    if (rc) fail_msg("incremental: %s", err_msg());
    read_export(dest, d->dir, keep_line, out);
    qsort(out->v, (size_t)out->n, sizeof *out->v, str_cmp);
    assert_int_equal(verify_quiet(d->dir, NULL), 0);
}

#define I(pk, v) "{\"pk\":{\"S\":\"" pk "\"},\"sk\":{\"N\":\"1\"},\"v\":{\"N\":\"" v "\"}}"
#define K(pk) "{\"pk\":{\"S\":\"" pk "\"},\"sk\":{\"N\":\"1\"}}"
#define MD(t) "{\"Metadata\":{\"WriteTimestampMicros\":{\"N\":\"" t "\"}},\"Keys\":"

static void del(table *t, const char *json)
{
    item *key = NULL;
    assert_int_equal(item_parse_json(json, strlen(json), 0, &key), 0);
    assert_int_equal(table_delete_item(t, key, NULL, NULL, NULL), 0);
    item_free(key);
}

static void test_incremental(void **state)
{
    (void)state;
    clock_set_us(T0);
    table *t = new_table("inctab", 1);
    clock_set_us(T0 + 10 * SEC);
    put_json(t, I("upd", "1"));
    put_json(t, I("del", "1"));
    put_json(t, I("rein", "1"));
    put_json(t, I("many", "0"));
    put_json(t, I("same", "1"));
    clock_set_us(T0 + 20 * SEC);          /* the window [20 s, 30 s) */
    put_json(t, I("upd", "2"));
    clock_set_us(T0 + 21 * SEC);
    put_json(t, I("ins", "1"));
    clock_set_us(T0 + 22 * SEC);
    del(t, K("del"));
    clock_set_us(T0 + 23 * SEC);
    put_json(t, I("insdel", "1"));
    clock_set_us(T0 + 24 * SEC);
    del(t, K("insdel"));
    clock_set_us(T0 + 25 * SEC);
    del(t, K("rein"));
    clock_set_us(T0 + 26 * SEC);
    put_json(t, I("rein", "2"));
    for (int i = 1; i <= 30; i++) {
        char j[128];
        clock_set_us(T0 + 27 * SEC + i);
        snprintf(j, sizeof j, I("many", "%d"), i);
        put_json(t, j);
    }
    clock_set_us(T0 + 28 * SEC);
    del(t, K("same"));
    clock_set_us(T0 + 29 * SEC);
    put_json(t, I("same", "1"));          /* delete + re-insert of the same item: an update */
    clock_set_us(T0 + 30 * SEC);
    put_json(t, I("upd", "3"));           /* at the end: excluded */
    clock_set_us(T0 + 60 * SEC);

    char dest[PATH_MAX];
    mkpath(dest, sizeof dest, "%s/incr", root);
    lines l = {{0}, 0};
    export_desc d;
    incr(dest, T0 + 20 * SEC, T0 + 30 * SEC, EXPORT_VIEW_NEW_AND_OLD, &l, &d);
    assert_int_equal(d.type, EXPORT_INCREMENTAL);
    assert_int_equal(d.item_count, 6);
    assert_int_equal(l.n, 6);
    const char *want[] = {
        MD("1762934420000000") K("upd") ",\"OldImage\":" I("upd", "1") ",\"NewImage\":"
            I("upd", "2") "}",
        MD("1762934421000000") K("ins") ",\"NewImage\":" I("ins", "1") "}",
        MD("1762934422000000") K("del") ",\"OldImage\":" I("del", "1") "}",
        MD("1762934426000000") K("rein") ",\"OldImage\":" I("rein", "1") ",\"NewImage\":"
            I("rein", "2") "}",
        MD("1762934427000030") K("many") ",\"OldImage\":" I("many", "0") ",\"NewImage\":"
            I("many", "30") "}",
        MD("1762934429000000") K("same") ",\"OldImage\":" I("same", "1") ",\"NewImage\":"
            I("same", "1") "}",
    };
    char *ws[6];
    for (int i = 0; i < 6; i++) ws[i] = (char *)want[i];
    qsort(ws, 6, sizeof *ws, str_cmp);
    for (int i = 0; i < 6; i++) assert_string_equal(l.v[i], ws[i]);
    lines_free(&l);
    /* Data files in the shared folder; the summary is the incremental one. */
    char p[PATH_MAX];
    buf b = BUF_INIT;
    mkpath(p, sizeof p, "%s/manifest-files.json", d.dir);
    read_file(p, &b);
    assert_non_null(strstr(b.data, "\"dataFileS3Key\":\"AWSDynamoDB/data/"));
    mkpath(p, sizeof p, "%s/manifest-summary.json", d.dir);
    read_file(p, &b);
    assert_non_null(strstr(b.data, "\"version\":\"2023-08-01\""));
    assert_non_null(strstr(b.data, "\"exportFromTime\":\"2025-11-12T08:00:20.000Z\","
                                   "\"exportToTime\":\"2025-11-12T08:00:30.000Z\""));
    assert_non_null(strstr(b.data, "\"outputView\":\"NEW_AND_OLD_IMAGES\",\"exportType\":"
                                   "\"INCREMENTAL_EXPORT\"}"));
    buf_free(&b);

    /* NEW_IMAGE: no OldImage; a delete is Metadata + Keys. */
    incr(dest, T0 + 20 * SEC, T0 + 30 * SEC, EXPORT_VIEW_NEW, &l, &d);
    assert_int_equal(l.n, 6);
    int dels = 0;
    for (int i = 0; i < l.n; i++) {
        assert_null(strstr(l.v[i], "OldImage"));
        if (!strcmp(l.v[i], MD("1762934422000000") K("del") "}")) dels++;
    }
    assert_int_equal(dels, 1);
    lines_free(&l);

    /* Empty windows: a valid export with 0 records (one empty file). */
    incr(dest, T0 + 40 * SEC, T0 + 50 * SEC, EXPORT_VIEW_NEW_AND_OLD, &l, &d);
    assert_int_equal(l.n, 0);
    assert_int_equal(d.item_count, 0);
    assert_int_equal(d.files, 1);

    /* The same window spilled through a tiny memory limit: the same records. */
    export_options o = opts_for("inctab", dest);
    o.type = EXPORT_INCREMENTAL;
    o.from_us = T0 + 20 * SEC;
    o.to_us = T0 + 30 * SEC;
    o.netchange_mem = 1;
    assert_int_equal(export_run(&o, &d), 0);
    read_export(dest, d.dir, keep_line, &l);
    qsort(l.v, (size_t)l.n, sizeof *l.v, str_cmp);
    assert_int_equal(l.n, 6);
    for (int i = 0; i < 6; i++) assert_string_equal(l.v[i], ws[i]);
    lines_free(&l);

    /* Outside the PITR window, in the future, reversed; PITR off. */
    o.netchange_mem = 0;
    o.from_us = T0 - SEC;
    assert_int_equal(export_run(&o, &d), TM_ERANGE);
    assert_non_null(strstr(err_msg(), "earliest restorable time"));
    o.from_us = T0 + 20 * SEC;
    o.to_us = T0 + 3600 * SEC;
    assert_int_equal(export_run(&o, &d), TM_ERANGE);
    o.to_us = T0 + 20 * SEC;
    assert_int_equal(export_run(&o, &d), TM_EINVAL);
    table_close(t);
    table *t2 = new_table("nopitr", 0);
    o = opts_for("nopitr", dest);
    o.type = EXPORT_INCREMENTAL;
    o.from_us = T0;
    assert_int_equal(export_run(&o, &d), TM_ENOTFOUND);
    assert_non_null(strstr(err_msg(), "not enabled"));
    table_close(t2);
}

/* ================================================================ resume ==== */

static void fill(table *t, int n, int version)
{
    char j[2048];
    table_batch *b;
    assert_int_equal(table_batch_begin(t, &b), 0);
    for (int i = 0; i < n; i++) {
        item *it = NULL;
        item_json(i, version, j, sizeof j);
        assert_int_equal(item_parse_json(j, strlen(j), 0, &it), 0);
        assert_int_equal(table_batch_put(b, it), 0);
        item_free(it);
    }
    assert_int_equal(table_batch_commit(b), 0);
}

/* Runs an export that fails at the fail_after'th data file, checks what is left, returns its
 * directory in dir. */
static void failed_export(const char *tname, const char *dest, int fail_after, char *dir,
                          size_t dn)
{
    export_options o = opts_for(tname, dest);
    o.jobs = 4;
    o.max_file_bytes = 8 << 10;
    export_desc d;
    fail_at = fail_after;
    commits = 0;
    assert_int_equal(export_run(&o, &d), TM_EREMOTE);
    fail_at = -1;
    assert_non_null(strstr(err_msg(), "injected failure"));
    export_desc *v;
    size_t n;
    assert_int_equal(export_list(dest, NULL, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].status, "FAILED");
    snprintf(dir, dn, "%s", v[0].dir);
    free(v);
    char p[PATH_MAX];
    mkpath(p, sizeof p, "%s/manifest-summary.json", dir);
    assert_false(fsx_exists(p));
    mkpath(p, sizeof p, "%s/_started", dir);
    assert_true(fsx_exists(p));
    export_desc dd;
    assert_int_equal(export_describe(dir, NULL, &dd), 0);
    assert_string_equal(dd.status, "FAILED");
    assert_non_null(strstr(dd.failure, "injected failure"));
    /* Verify says incomplete. */
    int problems = 0;
    assert_int_equal(export_verify(dir, NULL, count_problem, &problems, NULL), TM_ECORRUPT);
    assert_true(problems >= 1);
}

static void test_resume(void **state)
{
    (void)state;
    clock_set_us(0);
    table *t = new_table("restab", 0);
    fill(t, 2000, 1);
    char dest[PATH_MAX], dir[PATH_MAX], p[PATH_MAX];
    /* How many data files a whole export makes: fail at three quarters of them, so that some
     * partitions (of 4, done in order) are finished and some are not. */
    mkpath(dest, sizeof dest, "%s/resume-probe", root);
    export_options po = opts_for("restab", dest);
    po.jobs = 4;
    po.max_file_bytes = 8 << 10;
    export_desc pd;
    assert_int_equal(export_run(&po, &pd), 0);
    assert_true(pd.files >= 8);
    mkpath(dest, sizeof dest, "%s/resume", root);
    failed_export("restab", dest, (int)(pd.files * 3 / 4), dir, sizeof dir);
    /* Some partitions finished before the failure: their files must be kept as they are. */
    buf st = BUF_INIT;
    mkpath(p, sizeof p, "%s/%s", dir, XP_STATE_NAME);
    read_file(p, &st);
    cJSON *s = cJSON_Parse(st.data);
    int done_parts = cJSON_GetArraySize(cJSON_GetObjectItem(s, "partitionsDone"));
    assert_true(done_parts >= 1);
    const char *kept = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(s, "files"), 0),
                                           "key")->valuestring;
    mkpath(p, sizeof p, "%s/%s", dest, kept);
    struct stat before, after;
    assert_int_equal(stat(p, &before), 0);
    cJSON_Delete(s);
    buf_free(&st);

    export_options o = opts_for(NULL, NULL);
    o.jobs = 2;
    export_desc d;
    int rc = export_resume(dir, &o, &d);
    if (rc) fail_msg("resume: %s", err_msg());
    assert_string_equal(d.status, "COMPLETED");
    assert_int_equal(stat(p, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);   /* reused, not rewritten */
    enc_list want = {0}, got = {0};
    table_items(t, &want);
    assert_int_equal(read_export(dest, dir, item_line, &got), 2000);
    enc_equal(&want, &got);
    enc_free(&want);
    enc_free(&got);
    assert_int_equal(verify_quiet(dir, NULL), 0);
    mkpath(p, sizeof p, "%s/%s", dir, XP_STATE_NAME);
    assert_false(fsx_exists(p));
    /* Resuming a complete export is harmless. */
    assert_int_equal(export_resume(dir, &o, &d), 0);
    assert_string_equal(d.status, "COMPLETED");
    /* A finished file damaged meanwhile is regenerated. */
    table_close(t);
}

static void test_resume_moved_on(void **state)
{
    (void)state;
    clock_set_us(T0);
    table *t = new_table("movtab", 1);
    clock_set_us(T0 + SEC);
    fill(t, 1500, 1);
    enc_list want = {0}, got = {0};
    table_items(t, &want);
    clock_set_us(T0 + 10 * SEC);
    char dest[PATH_MAX], dir[PATH_MAX];
    mkpath(dest, sizeof dest, "%s/moved", root);
    failed_export("movtab", dest, 5, dir, sizeof dir);
    /* The table moves on: every item gets a new version, and new items come. */
    clock_set_us(T0 + 20 * SEC);
    fill(t, 1700, 2);
    clock_set_us(T0 + 30 * SEC);
    export_options o = opts_for(NULL, NULL);
    export_desc d;
    int rc = export_resume(dir, &o, &d);
    if (rc) fail_msg("resume: %s", err_msg());
    /* PITR rebuilt the export's moment: the old versions, 1500 items. */
    assert_int_equal(read_export(dest, dir, item_line, &got), 1500);
    enc_equal(&want, &got);
    enc_free(&want);
    enc_free(&got);
    assert_int_equal(verify_quiet(dir, NULL), 0);
    table_close(t);

    /* Without PITR the moment cannot be rebuilt: resume refuses, saying why. */
    clock_set_us(0);
    t = new_table("movtab2", 0);
    fill(t, 500, 1);
    mkpath(dest, sizeof dest, "%s/moved2", root);
    failed_export("movtab2", dest, 3, dir, sizeof dir);
    fill(t, 600, 2);
    assert_int_equal(export_resume(dir, &o, &d), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "cannot resume"));
    table_close(t);
}

/* ================================================================ verify ==== */

static void corrupt_at(const char *path, long off)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, off, SEEK_SET);
    int c = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(c ^ 0x55, f);
    fclose(f);
}

typedef struct schema_probs {
    int n, named;
} schema_probs;

static void schema_problem(void *ctx, const char *what, const char *detail)
{
    schema_probs *p = ctx;
    (void)detail;
    p->n++;
    p->named += !strcmp(what, LAYOUT_SCHEMA);
}

/* tidemark-schema.json is under its checksum: every flipped bit and every truncation is a
 * problem named after the file, in verify and in the reader import uses (layout_schema_check is
 * its twin); version 1 (no checksum) passes with the note; a tidemark export without it fails. */
static void test_verify_schema(void **state)
{
    (void)state;
    clock_set_us(0);
    table *t = new_table("schtab", 0);
    fill(t, 20, 1);
    char dest[PATH_MAX], p[PATH_MAX], why[256];
    mkpath(dest, sizeof dest, "%s/schema", root);
    export_options o = opts_for("schtab", dest);
    export_desc d;
    assert_int_equal(export_run(&o, &d), 0);
    export_verify_stats st;
    assert_int_equal(verify_quiet(d.dir, &st), 0);
    assert_int_equal(st.schema, EXPORT_SCHEMA_CHECKED);
    mkpath(p, sizeof p, "%s/%s", d.dir, LAYOUT_SCHEMA);
    buf good = BUF_INIT, bad = BUF_INIT;
    read_file(p, &good);
    assert_true(good.len > LAYOUT_SCHEMA_SUM_LEN);
    assert_int_equal(layout_schema_check(good.data, good.len, why, sizeof why), 0);
    /* Every bit of every byte, and every shorter length: the checker says damaged. */
    for (size_t i = 0; i < good.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf_reset(&bad);
            buf_append(&bad, good.data, good.len);
            bad.data[i] ^= (char)(1 << bit);
            if (layout_schema_check(bad.data, bad.len, why, sizeof why) != -1)
                fail_msg("bit %d of byte %zu flipped: not seen", bit, i);
        }
    }
    for (size_t n = 0; n < good.len; n++)
        if (layout_schema_check(good.data, n, why, sizeof why) != -1)
            fail_msg("truncated to %zu bytes: not seen", n);
    /* verify names the file: a flip in the key type, a truncation, a deletion. */
    const char *ty = strstr(good.data, "\"AttributeType\":\"S\"");
    assert_non_null(ty);
    buf_reset(&bad);
    buf_append(&bad, good.data, good.len);
    bad.data[ty - good.data + 17] = 'N';
    schema_probs pr = {0, 0};
    assert_int_equal(fsx_write_atomic(p, bad.data, bad.len), 0);
    assert_int_equal(export_verify(d.dir, NULL, schema_problem, &pr, &st), TM_ECORRUPT);
    assert_int_equal(pr.n, 1);
    assert_int_equal(pr.named, 1);
    assert_int_equal(st.schema, EXPORT_SCHEMA_BAD);
    assert_int_equal(fsx_write_atomic(p, good.data, good.len / 2), 0);
    pr.n = pr.named = 0;
    assert_int_equal(export_verify(d.dir, NULL, schema_problem, &pr, NULL), TM_ECORRUPT);
    assert_int_equal(pr.named, 1);
    assert_int_equal(unlink(p), 0);
    pr.n = pr.named = 0;
    assert_int_equal(export_verify(d.dir, NULL, schema_problem, &pr, NULL), TM_ECORRUPT);
    assert_int_equal(pr.named, 1);
    /* Version 1, as an older tidemark wrote it: valid, its checksum unchecked. */
    const char *ver = "{\"SchemaVersion\":2,";
    assert_int_equal(strncmp(good.data, ver, strlen(ver)), 0);
    buf_reset(&bad);
    buf_puts(&bad, "{");
    buf_append(&bad, good.data + strlen(ver), good.len - strlen(ver) - LAYOUT_SCHEMA_SUM_LEN);
    buf_puts(&bad, "}\n");
    assert_int_equal(layout_schema_check(bad.data, bad.len, why, sizeof why), 1);
    assert_int_equal(fsx_write_atomic(p, bad.data, bad.len), 0);
    assert_int_equal(verify_quiet(d.dir, &st), 0);
    assert_int_equal(st.schema, EXPORT_SCHEMA_UNCHECKED);
    buf_free(&good);
    buf_free(&bad);
    table_close(t);
}

static void test_verify_detects(void **state)
{
    (void)state;
    clock_set_us(0);
    table *t = new_table("vertab", 0);
    fill(t, 300, 1);
    char dest[PATH_MAX], p[PATH_MAX], p2[PATH_MAX];
    mkpath(dest, sizeof dest, "%s/verify", root);
    export_options o = opts_for("vertab", dest);
    export_desc d;
    assert_int_equal(export_run(&o, &d), 0);
    assert_int_equal(verify_quiet(d.dir, NULL), 0);
    buf files = BUF_INIT;
    mkpath(p, sizeof p, "%s/manifest-files.json", d.dir);
    read_file(p, &files);
    cJSON *f = cJSON_ParseWithLength(files.data, (size_t)(strchr(files.data, '\n') - files.data));
    mkpath(p2, sizeof p2, "%s/%s", dest, cJSON_GetObjectItem(f, "dataFileS3Key")->valuestring);
    cJSON_Delete(f);
    /* A flipped byte inside the compressed data. */
    corrupt_at(p2, 100);
    int problems = 0;
    assert_int_equal(export_verify(d.dir, NULL, count_problem, &problems, NULL), TM_ECORRUPT);
    assert_true(problems >= 1);
    corrupt_at(p2, 100);
    assert_int_equal(verify_quiet(d.dir, NULL), 0);
    /* A missing data file. */
    mkpath(p, sizeof p, "%s.away", p2);
    assert_int_equal(rename(p2, p), 0);
    problems = 0;
    assert_int_equal(export_verify(d.dir, NULL, count_problem, &problems, NULL), TM_ECORRUPT);
    assert_int_equal(problems, 1);
    assert_int_equal(rename(p, p2), 0);
    /* A wrong .md5. */
    mkpath(p, sizeof p, "%s/manifest-files.md5", d.dir);
    buf md5 = BUF_INIT;
    read_file(p, &md5);
    assert_int_equal(fsx_write_atomic(p, "AAAAAAAAAAAAAAAAAAAAAA==", 24), 0);
    assert_int_equal(verify_quiet(d.dir, NULL), TM_ECORRUPT);
    assert_int_equal(fsx_write_atomic(p, md5.data, md5.len), 0);
    /* An itemCount that is not the number of lines (manifest and its .md5 kept consistent). */
    char *ic = strstr(files.data, "\"itemCount\":");
    assert_non_null(ic);
    buf mod = BUF_INIT;
    buf_append(&mod, files.data, (size_t)(ic - files.data));
    buf_printf(&mod, "\"itemCount\":%d", atoi(ic + 12) + 1);
    const char *rest = ic + 12 + strspn(ic + 12, "0123456789");
    buf_puts(&mod, rest);
    mkpath(p, sizeof p, "%s/manifest-files.json", d.dir);
    assert_int_equal(fsx_write_atomic(p, mod.data, mod.len), 0);
    char m5[25];
    xp_md5_b64(mod.data, mod.len, m5);
    mkpath(p, sizeof p, "%s/manifest-files.md5", d.dir);
    assert_int_equal(fsx_write_atomic(p, m5, 24), 0);
    problems = 0;
    assert_int_equal(export_verify(d.dir, NULL, count_problem, &problems, NULL), TM_ECORRUPT);
    assert_int_equal(problems, 2);   /* the file's count, and the summary's total */
    /* Not an export at all. */
    assert_int_equal(verify_quiet(root, NULL), TM_ENOTFOUND);
    buf_free(&mod);
    buf_free(&md5);
    buf_free(&files);
    table_close(t);
}

typedef struct probs {
    int n;
    char text[4096];
} probs;

static void collect_problem(void *ctx, const char *what, const char *detail)
{
    probs *p = ctx;
    size_t l = strlen(p->text);
    p->n++;
    snprintf(p->text + l, sizeof p->text - l, "%s: %s\n", what, detail);
}

/* A data file that is not compressed is named as such, and its MD5 still covers every byte
 * (verify drains the rest after the decoder's error): with the manifest's md5Checksum and etag
 * made to match the plain file (larger than one read), that is the only problem. */
static void test_verify_plain(void **state)
{
    (void)state;
    clock_set_us(0);
    table *t = new_table("plaintab", 0);
    fill(t, 20, 1);
    char dest[PATH_MAX], p[PATH_MAX], p2[PATH_MAX];
    mkpath(dest, sizeof dest, "%s/verify-plain", root);
    export_options o = opts_for("plaintab", dest);
    export_desc d;
    assert_int_equal(export_run(&o, &d), 0);
    buf files = BUF_INIT, plain = BUF_INIT, mod = BUF_INIT;
    mkpath(p, sizeof p, "%s/manifest-files.json", d.dir);
    read_file(p, &files);
    size_t first = (size_t)(strchr(files.data, '\n') - files.data) + 1;
    cJSON *f = cJSON_ParseWithLength(files.data, first - 1);
    xp_file xf;
    memset(&xf, 0, sizeof xf);
    xf.items = (uint64_t)cJSON_GetObjectItem(f, "itemCount")->valuedouble;
    snprintf(xf.full_key, sizeof xf.full_key, "%s",
             cJSON_GetObjectItem(f, "dataFileS3Key")->valuestring);
    cJSON_Delete(f);
    mkpath(p2, sizeof p2, "%s/%s", dest, xf.full_key);
    while (plain.len < (size_t)600 << 10) buf_puts(&plain, "{\"Item\":{\"pk\":{\"S\":\"x\"}}}\n");
    assert_int_equal(fsx_write_atomic(p2, plain.data, plain.len), 0);
    unsigned char md5[16];
    store_md5(plain.data, plain.len, md5);
    xp_md5_b64(plain.data, plain.len, xf.md5_b64);
    xp_etag1(md5, xf.etag);
    assert_int_equal(xp_manifest_line(&xf, &mod), 0);
    buf_append(&mod, files.data + first, files.len - first);
    assert_int_equal(fsx_write_atomic(p, mod.data, mod.len), 0);
    char m5[25];
    xp_md5_b64(mod.data, mod.len, m5);
    mkpath(p, sizeof p, "%s/manifest-files.md5", d.dir);
    assert_int_equal(fsx_write_atomic(p, m5, 24), 0);
    probs pr = {0, ""};
    assert_int_equal(export_verify(d.dir, NULL, collect_problem, &pr, NULL), TM_ECORRUPT);
    if (pr.n != 1 || !strstr(pr.text, ": neither gzip nor zstd data\n")) fail_msg("%s", pr.text);
    /* Empty instead: no data, no lines; only the count (and the checksums) disagree. */
    assert_int_equal(fsx_write_atomic(p2, "", 0), 0);
    pr.n = 0;
    pr.text[0] = '\0';
    assert_int_equal(export_verify(d.dir, NULL, collect_problem, &pr, NULL), TM_ECORRUPT);
    assert_null(strstr(pr.text, "gzip"));
    assert_non_null(strstr(pr.text, "md5Checksum"));
    buf_free(&files);
    buf_free(&plain);
    buf_free(&mod);
    table_close(t);
}

/* ================================================================ AWS samples ==== */

static void test_aws_samples(void **state)
{
    (void)state;
    static const char *const roots[] = {"../shared/aws-samples", "/work/shared/aws-samples"};
    const char *base = NULL;
    for (size_t i = 0; i < 2 && !base; i++)
        if (fsx_exists(roots[i])) base = roots[i];
    if (!base) {
        print_message("aws-samples not present: nothing to compare with\n");
        return;
    }
    char p[PATH_MAX];
    export_verify_stats st;
    mkpath(p, sizeof p, "%s/full-export-with-prefix-2020/demo_prefix/AWSDynamoDB/"
           "01605130432834-8a918b87", base);
    int rc = verify_quiet(p, &st);
    if (rc) fail_msg("%s: %s", p, err_msg());
    assert_int_equal(st.files, 4);
    assert_int_equal(st.items, 3);
    assert_int_equal(st.lines, 3);
    assert_int_equal(st.schema, EXPORT_SCHEMA_NONE);   /* AWS's: no tidemark-schema.json */
    export_desc d;
    assert_int_equal(export_describe(p, NULL, &d), 0);
    assert_string_equal(d.status, "COMPLETED");
    assert_int_equal(d.item_count, 3);
    assert_string_equal(d.id, "01605130432834-8a918b87");
    mkpath(p, sizeof p, "%s/manifests-only-2022", base);
    int problems = 0;
    assert_int_equal(export_verify(p, NULL, count_problem, &problems, &st), TM_ECORRUPT);
    assert_int_equal(problems, 1);   /* only the missing data file */
    assert_int_equal(st.files, 1);
    assert_int_equal(st.files_ok, 0);
}

/* ================================================================ main ==== */

static int setup(void **state)
{
    (void)state;
    if (tu_tmpdir(root, sizeof root, "export-test")) return -1;
    char home[PATH_MAX];
    home_of(home, sizeof home);
    return fsx_mkdirs(home, 0755);
}

static int teardown(void **state)
{
    (void)state;
    fsx_rmtree(root);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_texts),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_full_at_time),
        cmocka_unit_test(test_incremental),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_resume_moved_on),
        cmocka_unit_test(test_verify_detects),
        cmocka_unit_test(test_verify_schema),
        cmocka_unit_test(test_verify_plain),
        cmocka_unit_test(test_aws_samples),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
