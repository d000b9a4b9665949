/* import_errlog.c: the import's error log, and the small text helpers it and the manifests need
 * (JSON string escaping, UTF-8 check, base64 of MD5s).
 *
 * FORMAT (one line per rejected item, FORMATS.md section 4, the way AWS ImportTable logs to
 * CloudWatch):
 *   {"itemS3Pointer":{"bucket":"<bucket>","key":"<key>","itemIndex":<n>},"errorMessages":["<why>"]}
 * The file is written as the import goes (it is a log, not a result), then fsync'd at the end,
 * so that what was rejected can be read even when the import fails part way. */
#include "engine/item.h"
#include "import/import_internal.h"
#include "engine/err.h"
#include "engine/fsx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- text helpers ----------------------------------------------------------------------- */


int import_b64_decode16(const char *s, size_t n, unsigned char out[16])
{
    buf b = BUF_INIT_MAX(64);
    char enc[25];
    /* 16 bytes have exactly one canonical 24-character encoding: re-encode to insist on it. */
    int ok = n == 24 && b64_decode(s, n, &b) == 0 && b.len == 16;
    if (ok) {
        store_base64((const unsigned char *)b.data, 16, enc);
        ok = memcmp(enc, s, 24) == 0;
    }
    if (ok) memcpy(out, b.data, 16);
    buf_free(&b);
    return ok ? 0 : -1;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    if (c < 0x80) return 1;
    size_t k;
    unsigned min;
    if (c >= 0xc2 && c <= 0xdf) { k = 2; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { k = 3; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { k = 4; min = 0x10000; }
    else return 0;
    if (n < k) return 0;
    unsigned v = c & (0x7f >> k);
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        v = v << 6 | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    return k;
}

int import_utf8_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (p[i] < 0x80) { i++; continue; }
        size_t k = utf8_seq(p + i, n - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

int import_json_str(buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    int rc = buf_putc(b, '"');
    for (size_t i = 0; i < n && !rc;) {
        unsigned c = p[i];
        if (c == '"' || c == '\\') { rc = buf_putc(b, '\\'); if (!rc) rc = buf_putc(b, (char)c); i++; }
        else if (c == '\n') { rc = buf_puts(b, "\\n"); i++; }
        else if (c == '\r') { rc = buf_puts(b, "\\r"); i++; }
        else if (c == '\t') { rc = buf_puts(b, "\\t"); i++; }
        else if (c < 0x20 || c == 0x7f) { rc = buf_printf(b, "\\u%04x", c); i++; }
        else if (c < 0x80) { rc = buf_putc(b, (char)c); i++; }
        else {
            size_t k = utf8_seq(p + i, n - i);
            if (k) { rc = buf_append(b, p + i, k); i += k; }
            else { rc = buf_puts(b, "\\ufffd"); i++; }
        }
    }
    if (!rc) rc = buf_putc(b, '"');
    return rc;
}

/* ---- the log ---------------------------------------------------------------------------- */

struct import_errlog {
    int fd;
    char *path;
    buf line;
    int err;        /* sticky */
};

int import_errlog_open(const char *path, import_errlog **out)
{
    *out = NULL;
    import_errlog *l = calloc(1, sizeof *l);
    if (!l) return err_set(TM_ENOMEM, "out of memory (error log)");
    l->fd = -1;
    buf init = BUF_INIT_MAX(1 << 20);
    l->line = init;
    if (path) {
        l->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (l->fd < 0) {
            int e = errno;
            free(l);
            return err_sys(TM_EIO, e, "error log %s", path);
        }
        if (!(l->path = strdup(path))) {
            close(l->fd);
            free(l);
            return err_set(TM_ENOMEM, "out of memory (error log)");
        }
    }
    *out = l;
    return 0;
}

int import_errlog_add(import_errlog *l, const char *bucket, const char *key, uint64_t index,
                      const char *msg)
{
    if (!l || l->fd < 0) return 0;
    if (l->err) return l->err;
    buf *b = &l->line;
    buf_reset(b);
    int rc = buf_puts(b, "{\"itemS3Pointer\":{\"bucket\":");
    if (!rc) rc = import_json_str(b, bucket, strlen(bucket));
    if (!rc) rc = buf_puts(b, ",\"key\":");
    if (!rc) rc = import_json_str(b, key, strlen(key));
    if (!rc) rc = buf_printf(b, ",\"itemIndex\":%llu},\"errorMessages\":[", (unsigned long long)index);
    if (!rc) rc = import_json_str(b, msg, strnlen(msg, 4096));
    if (!rc) rc = buf_puts(b, "]}\n");
    if (!rc && (rc = fsx_write_all(l->fd, b->data, b->len)))
        err_wrap(rc, "error log %s: ", l->path);
    if (rc) l->err = rc;
    return rc;
}

int import_errlog_close(import_errlog *l)
{
    if (!l) return 0;
    int rc = l->err;
    if (l->fd >= 0) {
        if (!rc && fsync(l->fd) != 0) rc = err_sys(TM_EIO, errno, "fsync of error log %s", l->path);
        if (close(l->fd) != 0 && !rc) rc = err_sys(TM_EIO, errno, "closing error log %s", l->path);
    }
    buf_free(&l->line);
    free(l->path);
    free(l);
    return rc;
}
