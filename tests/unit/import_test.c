/* import_test.c: unit tests of import/: CSV parser, line reader, decoder limits, manifests,
 * error log, external sorter, path safety. The whole program is covered by tests/cli/import_*. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engine/err.h"
#include "engine/key.h"
#include "engine/text.h"
#include "import/import_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

/* ---- helpers ------------------------------------------------------------------------------ */

typedef struct memsrc {
    const unsigned char *p;
    size_t n, pos, step;   /* step: at most this many bytes per read (0: all) */
} memsrc;

static int mem_read(void *ctx, void *p, size_t n, size_t *got)
{
    memsrc *m = ctx;
    size_t k = m->n - m->pos;
    if (k > n) k = n;
    if (m->step && k > m->step) k = m->step;
    memcpy(p, m->p + m->pos, k);
    m->pos += k;
    *got = k;
    return 0;
}

static unsigned char *gzip_of(const void *p, size_t n, size_t *out_n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, n) + 64;
    unsigned char *o = malloc(cap);
    z.next_in = (unsigned char *)p;
    z.avail_in = (uInt)n;
    z.next_out = o;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_n = cap - z.avail_out;
    deflateEnd(&z);
    return o;
}

/* Reads a whole decoder into a buf; returns the decoder's code. */
static int dec_all(import_compression want, const char *name, const void *p, size_t n,
                   import_dec_budget *bud, buf *out, import_compression *kind)
{
    memsrc m = {p, n, 0, 7};
    layout_dec *d = NULL;
    int rc = layout_dec_open((layout_codec)want, name, mem_read, &m, bud, &d);
    assert_int_equal(rc, 0);
    char tmp[333];
    for (;;) {
        size_t got = 0;
        rc = layout_dec_read(d, tmp, sizeof tmp, &got);
        if (rc || got == 0) break;
        buf_append(out, tmp, got);
    }
    if (kind) *kind = (import_compression)layout_dec_kind(d);
    layout_dec_close(d);
    return rc;
}

/* ---- CSV ---------------------------------------------------------------------------------- */

/* Renders records as "[a|b|c]" lines, errors as "!why", to compare against expectations. */
static int csv_render(void *ctx, const import_csv_rec *r)
{
    buf *b = ctx;
    if (r->error) return buf_printf(b, "!%s@%llu\n", r->error, (unsigned long long)r->line);
    buf_putc(b, '[');
    for (size_t i = 0; i < r->nfields; i++) {
        if (i) buf_putc(b, '|');
        assert_int_equal(strlen(r->fields[i]), r->lens[i]);
        buf_append(b, r->fields[i], r->lens[i]);
    }
    return buf_printf(b, "]@%llu#%llu\n", (unsigned long long)r->line,
                      (unsigned long long)r->index);
}

static void csv_check(char delim, const char *in, const char *want)
{
    /* every split point must give the same result: feed in 1-byte, 2-byte and whole chunks */
    size_t n = strlen(in);
    size_t steps[] = {1, 2, 3, n ? n : 1};
    for (size_t s = 0; s < sizeof steps / sizeof *steps; s++) {
        import_csv *c = NULL;
        buf got = BUF_INIT;
        assert_int_equal(import_csv_new(delim, 64, &c), 0);
        for (size_t i = 0; i < n; i += steps[s]) {
            size_t k = n - i < steps[s] ? n - i : steps[s];
            assert_int_equal(import_csv_feed(c, in + i, k, csv_render, &got), 0);
        }
        assert_int_equal(import_csv_finish(c, csv_render, &got), 0);
        if (strcmp(got.data ? got.data : "", want) != 0)
            fail_msg("delim '%c' input \"%s\" step %zu:\n got: %s\nwant: %s", delim, in,
                     steps[s], got.data ? got.data : "", want);
        buf_free(&got);
        import_csv_free(c);
    }
}

static void test_csv_basic(void **state)
{
    (void)state;
    csv_check(',', "a,b,c\n1,2,3\n", "[a|b|c]@1#0\n[1|2|3]@2#1\n");
    csv_check(',', "a,b\r\n1,2\r\n", "[a|b]@1#0\n[1|2]@2#1\n");
    csv_check(',', "a,b\r1,2", "[a|b]@1#0\n[1|2]@2#1\n");           /* lone CR, no final EOL */
    csv_check(',', "a,,c\n,\n", "[a||c]@1#0\n[|]@2#1\n");
    csv_check(',', "a,b,\n", "[a|b|]@1#0\n");
    csv_check(',', "a,b,", "[a|b|]@1#0\n");
    csv_check(',', "\n\na\n\n", "[a]@3#0\n");                         /* blank lines */
    csv_check(',', "", "");
    csv_check(',', "x", "[x]@1#0\n");
}

static void test_csv_quotes(void **state)
{
    (void)state;
    csv_check(',', "\"a,b\",c\n", "[a,b|c]@1#0\n");
    csv_check(',', "\"say \"\"hi\"\"\",x\n", "[say \"hi\"|x]@1#0\n");
    csv_check(',', "\"line1\nline2\",z\nnext,1\n", "[line1\nline2|z]@1#0\n[next|1]@3#1\n");
    csv_check(',', "\"\"\n", "[]@1#0\n");
    csv_check(',', "\"\",\"\"\n", "[|]@1#0\n");
    csv_check(',', "ab\"c,d\n", "[ab\"c|d]@1#0\n");                  /* lenient inner quote */
    csv_check(',', "\"a\"x,b\nok,1\n",
              "!unexpected character after a closing quote@1\n[ok|1]@2#1\n");
    csv_check(',', "ok\n\"open,", "[ok]@1#0\n!unterminated quoted field at the end of the input@2\n");
    csv_check(',', "\"a\r\nb\"\r\n", "[a\r\nb]@1#0\n");
}

/* A UTF-8 BOM at the start is not part of the first column's name (issue 11: "header has no
 * column id"); anywhere else, or half of one, it is data. */
static void test_csv_bom(void **state)
{
    (void)state;
    csv_check(',', "\xef\xbb\xbfid,name\n1,a\n", "[id|name]@1#0\n[1|a]@2#1\n");
    csv_check(',', "\xef\xbb\xbf\"id\",name\n", "[id|name]@1#0\n");
    csv_check(',', "\xef\xbb\xbf", "");
    csv_check(',', "id,\xef\xbb\xbf\n", "[id|\xef\xbb\xbf]@1#0\n");       /* not at the start */
    csv_check(',', "\xef\xbbx,y\n", "[\xef\xbbx|y]@1#0\n");                 /* half a BOM: data */
    csv_check(',', "\xef\xbb", "[\xef\xbb]@1#0\n");
    csv_check(',', "\xef\xbb\xbf\xef\xbb\xbf" "a\n", "[\xef\xbb\xbf" "a]@1#0\n");   /* only one */
}

/* Line ends: LF and CRLF always; a lone CR ends records only in a file whose first line break
 * is a lone CR. Elsewhere it is data and never splits a record into a phantom item (issue 11). */
static void test_csv_cr(void **state)
{
    (void)state;
    csv_check(',', "id,note\n1,a\rb\n2,c\n", "[id|note]@1#0\n[1|a\rb]@2#1\n[2|c]@3#2\n");
    csv_check(',', "id,note\r\n1,a\rb\r\n2,c\r\n",
              "[id|note]@1#0\n[1|a\rb]@2#1\n[2|c]@3#2\n");
    csv_check(',', "id,note\n1,\rb\n", "[id|note]@1#0\n[1|\rb]@2#1\n");      /* CR first in a field */
    csv_check(',', "id,note\n1,b\r", "[id|note]@1#0\n[1|b]@2#1\n");           /* CR at the end */
    csv_check(',', "id\r\n\r\n1\r\n", "[id]@1#0\n[1]@3#1\n");              /* CRLF blank line */
    csv_check(',', "a\rb\r\rc\r", "[a]@1#0\n[b]@2#1\n[c]@4#2\n");            /* a CR file */
    csv_check(',', "a\rb\nc\r\nd", "[a]@1#0\n[b]@2#1\n[c]@3#2\n[d]@4#3\n"); /* CR file, mixed */
    csv_check(',', "id\n\"x\"\ry\n", "[id]@1#0\n!unexpected character after a closing quote@2\n");
    csv_check(',', "id\n\"x\"\r\ny\n", "[id]@1#0\n[x]@2#1\n[y]@3#2\n");
}

static void test_csv_delims(void **state)
{
    (void)state;
    const char ds[] = {',', ';', ':', '|', '\t', ' '};
    for (size_t i = 0; i < sizeof ds; i++) {
        char in[64], want[64];
        snprintf(in, sizeof in, "a%cb\n\"x%cy\"%cz\n", ds[i], ds[i], ds[i]);
        snprintf(want, sizeof want, "[a|b]@1#0\n[x%cy|z]@2#1\n", ds[i]);
        csv_check(ds[i], in, want);
        assert_true(import_csv_delim_ok(ds[i]));
    }
    import_csv *c = NULL;
    assert_int_equal(import_csv_new('x', 64, &c), TM_EINVAL);
    assert_null(c);
    assert_false(import_csv_delim_ok('"'));
    assert_false(import_csv_delim_ok('\n'));
}

static void test_csv_limits(void **state)
{
    (void)state;
    /* max_record is 64 in csv_check: a 100-byte field is an error record, then we resync */
    char in[256], want[256];
    memset(in, 'x', 100);
    snprintf(in + 100, sizeof in - 100, ",y\nnext\n");
    snprintf(want, sizeof want, "!record longer than the maximum line length@1\n[next]@2#1\n");
    csv_check(',', in, want);
    /* the same inside quotes, with a newline inside: resync must respect the quotes */
    in[0] = '"';
    memset(in + 1, 'x', 99);
    snprintf(in + 100, sizeof in - 100, "\n,\",y\nnext\n");
    snprintf(want, sizeof want, "!record longer than the maximum line length@1\n[next]@3#1\n");
    csv_check(',', in, want);
    /* too many fields */
    import_csv *c = NULL;
    buf got = BUF_INIT;
    assert_int_equal(import_csv_new(',', 1 << 20, &c), 0);
    for (int i = 0; i < IMPORT_CSV_MAX_FIELDS + 5; i++)
        assert_int_equal(import_csv_feed(c, ",", 1, csv_render, &got), 0);
    assert_int_equal(import_csv_feed(c, "\nok\n", 4, csv_render, &got), 0);
    assert_int_equal(import_csv_finish(c, csv_render, &got), 0);
    assert_string_equal(got.data, "!more than 4096 fields@1\n[ok]@2#1\n");
    buf_free(&got);
    import_csv_free(c);
}

/* ---- lines -------------------------------------------------------------------------------- */

static void test_lines(void **state)
{
    (void)state;
    const char *in = "one\r\ntwo\n\nthree-is-too-long-for-ten\nfour\nfive";
    for (size_t step = 1; step <= 64; step *= 4) {
        memsrc m = {(const unsigned char *)in, strlen(in), 0, step};
        import_lines *l = NULL;
        assert_int_equal(import_lines_new(10, &l), 0);
        const char *line;
        size_t n;
        assert_int_equal(import_lines_next(l, mem_read, &m, &line, &n), 1);
        assert_int_equal(n, 3);
        assert_memory_equal(line, "one", 3);
        assert_int_equal(import_lines_next(l, mem_read, &m, &line, &n), 1);
        assert_memory_equal(line, "two", 3);
        assert_int_equal(import_lines_next(l, mem_read, &m, &line, &n), 1);
        assert_int_equal(n, 0);
        assert_int_equal(import_lines_next(l, mem_read, &m, &line, &n), IMPORT_LINE_TOO_LONG);
        assert_int_equal(import_lines_count(l), 4);
        assert_true(n > 10);
        assert_int_equal(import_lines_next(l, mem_read, &m, &line, &n), 1);
        assert_int_equal(n, 4);
        assert_memory_equal(line, "four", 4);
        assert_int_equal(import_lines_next(l, mem_read, &m, &line, &n), 1);
        assert_memory_equal(line, "five", 4);
        assert_int_equal(import_lines_count(l), 6);
        assert_int_equal(import_lines_next(l, mem_read, &m, &line, &n), 0);
        import_lines_free(l);
    }
}

/* Reads every line of in (fed step bytes a read) as "[line]" per line, "!" for a too-long one. */
static void lines_check(const char *in, size_t n, const char *want)
{
    size_t steps[] = {1, 2, 3, 4, n ? n : 1};
    for (size_t s = 0; s < sizeof steps / sizeof *steps; s++) {
        memsrc m = {(const unsigned char *)in, n, 0, steps[s]};
        import_lines *l = NULL;
        buf got = BUF_INIT;
        assert_int_equal(import_lines_new(16, &l), 0);
        for (int pass = 0; pass < 2; pass++) {   /* a reset stream takes a BOM again */
            const char *line;
            size_t k;
            int rc;
            m.pos = 0;
            import_lines_reset(l);
            while ((rc = import_lines_next(l, mem_read, &m, &line, &k)) > 0) {
                if (rc == IMPORT_LINE_TOO_LONG) buf_puts(&got, "!\n");
                else buf_printf(&got, "[%.*s]\n", (int)k, line);
            }
            assert_int_equal(rc, 0);
            buf_putc(&got, '|');
        }
        buf want2 = BUF_INIT;
        buf_printf(&want2, "%s|%s|", want, want);
        if (strcmp(got.data ? got.data : "", want2.data))
            fail_msg("input \"%s\" step %zu:\n got: %s\nwant: %s", in, steps[s],
                     got.data ? got.data : "", want2.data);
        buf_free(&want2);
        buf_free(&got);
        import_lines_free(l);
    }
}

/* A UTF-8 BOM at the start of a JSON-lines file is not part of its first line (issue 11, as for
 * CSV: it failed as "invalid JSON at offset 0"); anywhere else, or half of one, it is data. */
static void test_lines_bom(void **state)
{
    (void)state;
    const char *bom_json = "\xef\xbb\xbf{\"Item\":1}\r\n{}\n";
    lines_check(bom_json, strlen(bom_json), "[{\"Item\":1}]\n[{}]\n");
    lines_check("\xef\xbb\xbf", 3, "");
    lines_check("\xef\xbb\xbf\n", 4, "[]\n");
    lines_check("a\n\xef\xbb\xbf" "b\n", 6, "[a]\n[\xef\xbb\xbf" "b]\n");      /* not at the start */
    lines_check("\xef\xbbx\n", 4, "[\xef\xbbx]\n");                             /* half a BOM: data */
    lines_check("\xef\xbb", 2, "[\xef\xbb]\n");
    lines_check("\xef\n", 2, "[\xef]\n");
    lines_check("\xef\xbb\xbf\xef\xbb\xbf" "a\n", 7, "[\xef\xbb\xbf" "a]\n");   /* only one */
    lines_check("\xef\xbb\xbf" "0123456789abcdefg\nok\n", 24, "!\n[ok]\n");     /* too long */
    lines_check("\xef\xbb\xbf" "0123456789abcdef\n", 20, "[0123456789abcdef]\n");   /* BOM not counted */
}

static void test_lines_huge(void **state)
{
    (void)state;
    /* 3 MiB without a newline, then a short line: memory stays at max_line + a chunk */
    size_t big = 3u << 20;
    char *in = malloc(big + 16);
    memset(in, 'a', big);
    memcpy(in + big, "\nok\n", 4);
    memsrc m = {(unsigned char *)in, big + 4, 0, 0};
    import_lines *l = NULL;
    assert_int_equal(import_lines_new(1 << 20, &l), 0);
    const char *line;
    size_t n;
    assert_int_equal(import_lines_next(l, mem_read, &m, &line, &n), IMPORT_LINE_TOO_LONG);
    assert_int_equal(n, big);
    assert_int_equal(import_lines_next(l, mem_read, &m, &line, &n), 1);
    assert_int_equal(n, 2);
    assert_int_equal(import_lines_next(l, mem_read, &m, &line, &n), 0);
    import_lines_free(l);
    free(in);
}

/* ---- decoder ------------------------------------------------------------------------------ */

static void test_dec_formats(void **state)
{
    (void)state;
    const char *text = "{\"Item\":{\"pk\":{\"S\":\"a\"}}}\n";
    size_t gn, tn = strlen(text);
    unsigned char *gz = gzip_of(text, tn, &gn);
    buf out = BUF_INIT;
    import_compression kind;
    assert_int_equal(dec_all(IMPORT_COMP_AUTO, "x.json.gz", gz, gn, NULL, &out, &kind), 0);
    assert_int_equal(kind, IMPORT_COMP_GZIP);
    assert_string_equal(out.data, text);

    /* two gzip members back to back are one stream */
    unsigned char *two = malloc(2 * gn);
    memcpy(two, gz, gn);
    memcpy(two + gn, gz, gn);
    buf_reset(&out);
    assert_int_equal(dec_all(IMPORT_COMP_AUTO, "x", two, 2 * gn, NULL, &out, NULL), 0);
    assert_int_equal(out.len, 2 * tn);

    /* truncated gzip */
    buf_reset(&out);
    assert_int_equal(dec_all(IMPORT_COMP_AUTO, "x", gz, gn - 5, NULL, &out, NULL), TM_ECORRUPT);
    assert_non_null(strstr(err_msg(), "truncated gzip"));
    /* garbage after a member */
    memcpy(two + gn, "junk", 4);
    buf_reset(&out);
    assert_int_equal(dec_all(IMPORT_COMP_AUTO, "x", two, gn + 4, NULL, &out, NULL), TM_ECORRUPT);
    assert_non_null(strstr(err_msg(), "garbage after gzip"));
    /* not gzip: plain text under a .gz name, or forced */
    buf_reset(&out);
    assert_int_equal(dec_all(IMPORT_COMP_AUTO, "a.json.gz", text, tn, NULL, &out, NULL),
                     TM_ECORRUPT);
    assert_string_equal(err_msg(), "not gzip (no gzip magic bytes)");
    buf_reset(&out);
    assert_int_equal(dec_all(IMPORT_COMP_GZIP, "a", text, tn, NULL, &out, NULL), TM_ECORRUPT);
    /* plain text */
    buf_reset(&out);
    assert_int_equal(dec_all(IMPORT_COMP_AUTO, "a.json", text, tn, NULL, &out, &kind), 0);
    assert_int_equal(kind, IMPORT_COMP_NONE);
    assert_string_equal(out.data, text);
    /* empty file: fine as none, an error as gzip */
    buf_reset(&out);
    assert_int_equal(dec_all(IMPORT_COMP_AUTO, "a.json", "", 0, NULL, &out, NULL), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(dec_all(IMPORT_COMP_AUTO, "a.gz", "", 0, NULL, &out, NULL), TM_ECORRUPT);

    /* zstd, whole and truncated */
    size_t zcap = ZSTD_compressBound(tn);
    unsigned char *zs = malloc(zcap);
    size_t zn = ZSTD_compress(zs, zcap, text, tn, 3);
    assert_false(ZSTD_isError(zn));
    buf_reset(&out);
    assert_int_equal(dec_all(IMPORT_COMP_AUTO, "x", zs, zn, NULL, &out, &kind), 0);
    assert_int_equal(kind, IMPORT_COMP_ZSTD);
    assert_string_equal(out.data, text);
    buf_reset(&out);
    assert_int_equal(dec_all(IMPORT_COMP_AUTO, "x", zs, zn - 3, NULL, &out, NULL), TM_ECORRUPT);
    assert_non_null(strstr(err_msg(), "truncated zstd"));
    buf_reset(&out);
    assert_int_equal(dec_all(IMPORT_COMP_ZSTD, "x", gz, gn, NULL, &out, NULL), TM_ECORRUPT);
    assert_non_null(strstr(err_msg(), "not zstd"));

    /* the MD5 is of the raw bytes */
    memsrc m = {gz, gn, 0, 0};
    layout_dec *d = NULL;
    assert_int_equal(layout_dec_open(LAYOUT_CODEC_AUTO, "x", mem_read, &m, NULL, &d), 0);
    char tmp[4096];
    size_t got;
    while (layout_dec_read(d, tmp, sizeof tmp, &got) == 0 && got) {}
    unsigned char a[16], b[16];
    layout_dec_md5(d, a);
    store_md5(gz, gn, b);
    assert_memory_equal(a, b, 16);
    assert_int_equal(layout_dec_in_bytes(d), gn);
    assert_int_equal(layout_dec_out_bytes(d), tn);
    layout_dec_close(d);

    buf_free(&out);
    free(gz);
    free(two);
    free(zs);
}

static void test_dec_bomb(void **state)
{
    (void)state;
    size_t n = 64u << 20, gn;
    char *zeros = calloc(1, n);
    unsigned char *gz = gzip_of(zeros, n, &gn);   /* about 64 KiB: a 1000:1 ratio */
    free(zeros);
    buf out = BUF_INIT_MAX((size_t)1 << 31);
    import_dec_budget bud = {0, 100, 1u << 20, 0};
    /* dec_all keeps the output: use a counting reader instead */
    memsrc m = {gz, gn, 0, 0};
    layout_dec *d = NULL;
    assert_int_equal(layout_dec_open(LAYOUT_CODEC_AUTO, "bomb.gz", mem_read, &m, &bud, &d), 0);
    char *tmp = malloc(1 << 16);
    size_t got;
    int rc;
    while ((rc = layout_dec_read(d, tmp, 1 << 16, &got)) == 0 && got) {}
    assert_int_equal(rc, TM_ELIMIT);
    assert_non_null(strstr(err_msg(), "compression bomb"));
    assert_true(layout_dec_out_bytes(d) < (16u << 20));   /* ~100 x the 64 KiB read at once */
    /* sticky */
    assert_int_equal(layout_dec_read(d, tmp, 1 << 16, &got), TM_ELIMIT);
    layout_dec_close(d);

    /* the total cap, across decoders */
    import_dec_budget tot = {1u << 20, 0, 0, 0};
    m.pos = 0;
    assert_int_equal(layout_dec_open(LAYOUT_CODEC_AUTO, "x.gz", mem_read, &m, &tot, &d), 0);
    while ((rc = layout_dec_read(d, tmp, 1 << 16, &got)) == 0 && got) {}
    assert_int_equal(rc, TM_ELIMIT);
    assert_non_null(strstr(err_msg(), "--max-decompressed"));
    layout_dec_close(d);
    free(tmp);
    free(gz);
    buf_free(&out);
}

/* ---- manifests ---------------------------------------------------------------------------- */

static const char SUMMARY[] =
    "{\"version\":\"2020-06-30\",\"exportArn\":\"arn:aws:dynamodb:us-east-1:1:table/T/export/"
    "01605130432834-8a918b87\",\"tableArn\":\"arn:aws:dynamodb:us-east-1:1:table/T\","
    "\"s3Bucket\":\"b\",\"s3Prefix\":\"pre\",\"manifestFilesS3Key\":\"pre/AWSDynamoDB/"
    "01605130432834-8a918b87/manifest-files.json\",\"itemCount\":3,"
    "\"outputFormat\":\"DYNAMODB_JSON\"}";

static void test_manifest(void **state)
{
    (void)state;
    import_manifest m;
    memset(&m, 0, sizeof m);
    assert_int_equal(import_manifest_parse_summary(&m, SUMMARY, strlen(SUMMARY)), 0);
    assert_string_equal(m.export_prefix, "pre/AWSDynamoDB/01605130432834-8a918b87/");
    assert_string_equal(m.export_id, "01605130432834-8a918b87");
    assert_int_equal(m.item_count, 3);
    const char *files =
        "{\"itemCount\":0,\"md5Checksum\":\"OXDoJgXH0Qm7NI/JTp7swA==\",\"etag\":\"x-1\","
        "\"dataFileS3Key\":\"pre/AWSDynamoDB/01605130432834-8a918b87/data/a.json.gz\"}\n"
        "{\"itemCount\":3,\"md5Checksum\":\"J/tzfeC42jGYz0+Lo26WKg==\",\"etag\":\"x-1\","
        "\"dataFileS3Key\":\"pre/AWSDynamoDB/01605130432834-8a918b87/data/b.json.gz\"}\n";
    assert_int_equal(import_manifest_parse_files(&m, files, strlen(files)), 0);
    assert_int_equal(m.nfiles, 2);
    assert_string_equal(m.files[1].rel, "data/b.json.gz");
    assert_int_equal(m.files[1].item_count, 3);
    assert_int_equal(import_manifest_find(&m, "data/a.json.gz"), 0);
    assert_int_equal(import_manifest_find(&m, "data/c.json.gz"), -1);
    import_manifest_free(&m);

    /* keys outside the export are refused */
    const char *bad[] = {
        "pre/AWSDynamoDB/01605130432834-8a918b87/../../etc/passwd",
        "other/AWSDynamoDB/01605130432834-8a918b87/data/a.json.gz",
        "pre/AWSDynamoDB/01605130432834-8a918b87//a.json.gz",
        "pre/AWSDynamoDB/01605130432834-8a918b87/data/./a.json.gz",
        "/pre/AWSDynamoDB/01605130432834-8a918b87/data/a.json.gz",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char line[512];
        snprintf(line, sizeof line, "{\"itemCount\":3,\"md5Checksum\":"
                 "\"J/tzfeC42jGYz0+Lo26WKg==\",\"dataFileS3Key\":\"%s\"}\n", bad[i]);
        memset(&m, 0, sizeof m);
        assert_int_equal(import_manifest_parse_summary(&m, SUMMARY, strlen(SUMMARY)), 0);
        assert_int_equal(import_manifest_parse_files(&m, line, strlen(line)), TM_ECORRUPT);
        assert_non_null(strstr(err_msg(), "outside the export"));
        import_manifest_free(&m);
    }
    /* counts must add up; md5 must be there */
    memset(&m, 0, sizeof m);
    import_manifest_parse_summary(&m, SUMMARY, strlen(SUMMARY));
    const char *short_ = "{\"itemCount\":2,\"md5Checksum\":\"J/tzfeC42jGYz0+Lo26WKg==\","
                         "\"dataFileS3Key\":\"pre/AWSDynamoDB/01605130432834-8a918b87/d\"}";
    assert_int_equal(import_manifest_parse_files(&m, short_, strlen(short_)), TM_ECORRUPT);
    assert_non_null(strstr(err_msg(), "says 3"));
    import_manifest_free(&m);
    memset(&m, 0, sizeof m);
    import_manifest_parse_summary(&m, SUMMARY, strlen(SUMMARY));
    const char *nomd5 = "{\"itemCount\":3,\"dataFileS3Key\":\"pre/AWSDynamoDB/"
                        "01605130432834-8a918b87/d\"}";
    assert_int_equal(import_manifest_parse_files(&m, nomd5, strlen(nomd5)), TM_ECORRUPT);
    assert_non_null(strstr(err_msg(), "md5Checksum"));
    import_manifest_free(&m);
    /* incremental exports are not for new tables */
    memset(&m, 0, sizeof m);
    const char *inc = "{\"manifestFilesS3Key\":\"AWSDynamoDB/x/manifest-files.json\","
                      "\"itemCount\":1,\"exportType\":\"INCREMENTAL_EXPORT\"}";
    assert_int_equal(import_manifest_parse_summary(&m, inc, strlen(inc)), TM_EINVAL);
    import_manifest_free(&m);
    /* .md5 files */
    unsigned char d[16];
    char b64[25];
    store_md5(SUMMARY, strlen(SUMMARY), d);
    text_b64(d, 16, b64);
    assert_int_equal(layout_check_md5(LAYOUT_SUMMARY, SUMMARY, strlen(SUMMARY), b64, 24), 0);
    b64[3] ^= 1;
    assert_int_equal(layout_check_md5(LAYOUT_SUMMARY, SUMMARY, strlen(SUMMARY), b64, 24),
                     TM_ECORRUPT);
}

static void test_schema(void **state)
{
    (void)state;
    key_schema ks;
    buf name = BUF_INIT;
    const char *s = "{\"TableName\":\"t1\",\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":"
                    "\"HASH\"},{\"AttributeName\":\"n\",\"KeyType\":\"RANGE\"}],"
                    "\"AttributeDefinitions\":[{\"AttributeName\":\"n\",\"AttributeType\":\"N\"},"
                    "{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"}],\"ExportType\":"
                    "\"FULL_EXPORT\"}";
    assert_int_equal(import_schema_parse(s, strlen(s), &ks, &name), 0);
    assert_string_equal(ks.hash_name, "pk");
    assert_int_equal(ks.hash_type, AV_S);
    assert_string_equal(ks.range_name, "n");
    assert_int_equal(ks.range_type, AV_N);
    assert_string_equal(name.data, "t1");
    const char *bad = "{\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"RANGE\"}],"
                      "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"}]}";
    assert_int_equal(import_schema_parse(bad, strlen(bad), &ks, NULL), TM_ECORRUPT);
    assert_int_equal(import_schema_parse("[]", 2, &ks, NULL), TM_ECORRUPT);
    buf_free(&name);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(import_is_marker("_started"));
    assert_true(import_is_marker("x/AWSDynamoDB/1/manifest-files.json"));
    assert_true(import_is_marker("manifest-summary.md5"));
    assert_true(import_is_marker("tidemark-schema.json"));
    assert_true(import_is_marker("data/.tmp"));
    assert_false(import_is_marker("data/abc.json.gz"));
    assert_false(import_is_marker("items.csv"));
    assert_true(layout_path_safe("data/a.json.gz"));
    assert_true(layout_path_safe("a..b/c"));
    assert_false(layout_path_safe("../a"));
    assert_false(layout_path_safe("a/../../b"));
    assert_false(layout_path_safe("/etc/passwd"));
    assert_false(layout_path_safe("a//b"));
    assert_false(layout_path_safe("a/./b"));
    assert_false(layout_path_safe("..\\x"));
    assert_false(layout_path_safe(""));
}

/* ---- error log ---------------------------------------------------------------------------- */

static void test_errlog(void **state)
{
    (void)state;
    char path[] = "/tmp/import_test_errlog_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    import_errlog *l = NULL;
    assert_int_equal(import_errlog_open(path, &l), 0);
    assert_int_equal(import_errlog_add(l, "bkt", "dir/a \"q\".json", 7,
                                       "One or more parameter values were invalid: Missing the "
                                       "key pk in the item"), 0);
    assert_int_equal(import_errlog_add(l, "b", "k", 0, "bad \xff byte\n"), 0);
    assert_int_equal(import_errlog_close(l), 0);
    FILE *f = fopen(path, "r");
    char text[1024] = {0};
    assert_true(fread(text, 1, sizeof text - 1, f) > 0);
    fclose(f);
    unlink(path);
    assert_string_equal(text,
        "{\"itemS3Pointer\":{\"bucket\":\"bkt\",\"key\":\"dir/a \\\"q\\\".json\",\"itemIndex\":7},"
        "\"errorMessages\":[\"One or more parameter values were invalid: Missing the key pk in "
        "the item\"]}\n"
        "{\"itemS3Pointer\":{\"bucket\":\"b\",\"key\":\"k\",\"itemIndex\":0},"
        "\"errorMessages\":[\"bad \\ufffd byte\\n\"]}\n");
    /* no path: a no-op log */
    assert_int_equal(import_errlog_open(NULL, &l), 0);
    assert_int_equal(import_errlog_add(l, "b", "k", 0, "x"), 0);
    assert_int_equal(import_errlog_close(l), 0);
    assert_int_equal(import_errlog_open("/nonexistent-dir/x.log", &l), TM_EIO);
    assert_null(l);
    assert_true(text_utf8_valid("h\xc3\xa9", 3));
    assert_false(text_utf8_valid("\xc3", 1));
    assert_false(text_utf8_valid("\xed\xa0\x80", 3));   /* surrogate */
}

/* ---- sorter ------------------------------------------------------------------------------- */

typedef struct sort_check {
    buf prev;
    uint64_t n;
    int have_prev;
    /* expected value of key i: the seq of its last add */
    uint64_t *last_seq;
} sort_check;

static int sort_cb(void *ctx, const void *key, size_t kn, const void *val, size_t vn)
{
    sort_check *c = ctx;
    if (c->have_prev) {
        int cmp = memcmp(c->prev.data, key, c->prev.len < kn ? c->prev.len : kn);
        if (cmp == 0) cmp = c->prev.len < kn ? -1 : c->prev.len > kn;
        assert_true(cmp < 0);   /* strictly increasing: no duplicate */
    }
    buf_reset(&c->prev);
    buf_append(&c->prev, key, kn);
    c->have_prev = 1;
    unsigned id;
    uint64_t seq;
    assert_int_equal(vn, 8 + 300);
    memcpy(&seq, val, 8);
    char kz[64];
    assert_true(kn < sizeof kz);
    memcpy(kz, key, kn);
    kz[kn] = '\0';
    assert_int_equal(sscanf(kz, "k%u", &id), 1);
    assert_int_equal(c->last_seq[id], seq);
    c->n++;
    return 0;
}

static void sorter_case(size_t mem, unsigned nkeys, unsigned nadds)
{
    char tmp[] = "/tmp/import_test_sort_XXXXXX";
    assert_non_null(mkdtemp(tmp));
    import_sorter *s = NULL;
    assert_int_equal(import_sorter_new(tmp, mem, &s), 0);
    sort_check c = {BUF_INIT, 0, 0, calloc(nkeys, sizeof(uint64_t))};
    srand(7);
    unsigned distinct = 0;
    char *seen = calloc(nkeys, 1);
    for (unsigned i = 0; i < nadds; i++) {
        unsigned id = (unsigned)rand() % nkeys;
        char key[32];
        /* variable lengths, shared prefixes longer than 8 bytes */
        int kn = snprintf(key, sizeof key, "k%u%s", id, id % 3 ? "-long-suffix" : "");
        unsigned char val[8 + 300];
        uint64_t seq = i + 1;
        memcpy(val, &seq, 8);
        memset(val + 8, (int)id, 300);
        assert_int_equal(import_sorter_add(s, key, (size_t)kn, val, sizeof val, seq), 0);
        c.last_seq[id] = seq;
        if (!seen[id]) { seen[id] = 1; distinct++; }
    }
    assert_int_equal(import_sorter_finish(s, sort_cb, &c), 0);
    assert_int_equal(c.n, distinct);
    if ((size_t)nadds * 330 > 3 * mem) assert_true(import_sorter_runs(s) > 2);
    import_sorter_free(s);
    assert_int_equal(rmdir(tmp), 0);   /* runs were unlinked: the directory is empty */
    buf_free(&c.prev);
    free(c.last_seq);
    free(seen);
}

static void test_sorter(void **state)
{
    (void)state;
    sorter_case(64u << 20, 1000, 5000);     /* in memory */
    sorter_case(1u << 20, 20000, 30000);    /* several runs, duplicates across runs */
    sorter_case(1u << 20, 10, 20000);       /* heavy duplicates */
    sorter_case(1u << 20, 1, 1);
}

static void test_sorter_merge_many(void **state)
{
    (void)state;
    /* two producers with interleaved seqs: the highest seq wins across sorters */
    char tmp[] = "/tmp/import_test_sort2_XXXXXX";
    assert_non_null(mkdtemp(tmp));
    import_sorter *s[2] = {NULL, NULL};
    assert_int_equal(import_sorter_new(tmp, 1u << 20, &s[0]), 0);
    assert_int_equal(import_sorter_new(tmp, 1u << 20, &s[1]), 0);
    sort_check c = {BUF_INIT, 0, 0, calloc(5000, sizeof(uint64_t))};
    for (unsigned i = 0; i < 20000; i++) {
        unsigned id = (i * 7919u) % 5000;
        char key[32];
        int kn = snprintf(key, sizeof key, "k%u", id);
        unsigned char val[8 + 300] = {0};
        uint64_t seq = i + 1;
        memcpy(val, &seq, 8);
        assert_int_equal(import_sorter_add(s[i % 2], key, (size_t)kn, val, sizeof val, seq), 0);
        c.last_seq[id] = seq;
    }
    assert_int_equal(import_sorter_merge(s, 2, sort_cb, &c), 0);
    assert_int_equal(c.n, 5000);
    import_sorter_free(s[0]);
    import_sorter_free(s[1]);
    rmdir(tmp);
    buf_free(&c.prev);
    free(c.last_seq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_basic),
        cmocka_unit_test(test_csv_quotes),
        cmocka_unit_test(test_csv_bom), cmocka_unit_test(test_csv_cr),
        cmocka_unit_test(test_csv_delims),
        cmocka_unit_test(test_csv_limits),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_lines_bom),
        cmocka_unit_test(test_lines_huge),
        cmocka_unit_test(test_dec_formats),
        cmocka_unit_test(test_dec_bomb),
        cmocka_unit_test(test_manifest),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_errlog),
        cmocka_unit_test(test_sorter),
        cmocka_unit_test(test_sorter_merge_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
