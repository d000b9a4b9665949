/* buf.c: growable byte buffers with a hard maximum (see buf.h). */
#include "engine/buf.h"
#include "engine/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int buf_reserve(buf *b, size_t add)
{
    size_t need = b->len + add + 1;
    if (need <= b->cap) return 0;
    if (add > b->max || b->len + add > b->max)
        return err_set(TM_ELIMIT, "buffer would exceed its limit of %zu bytes", b->max);
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    if (cap > b->max + 1) cap = b->max + 1;
    char *p = realloc(b->data, cap);
    if (!p) return err_set(TM_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
    b->data = p;
    b->cap = cap;
    return 0;
}

int buf_append(buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_puts(buf *b, const char *s) { return buf_append(b, s, strlen(s)); }

int buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return err_set(TM_EIO, "formatting failed");
    if ((size_t)n < sizeof small) return buf_append(b, small, (size_t)n);
    int rc = buf_reserve(b, (size_t)n);
    if (rc) return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void buf_reset(buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void buf_free(buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *buf_detach(buf *b)
{
    char *p = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

int buf_put_u32le(buf *b, uint32_t v)
{
    unsigned char c[4];
    wr_u32le(c, v);
    return buf_append(b, c, 4);
}

int buf_put_u64le(buf *b, uint64_t v)
{
    unsigned char c[8];
    wr_u64le(c, v);
    return buf_append(b, c, 8);
}

int buf_put_varint(buf *b, uint64_t v)
{
    unsigned char c[10];
    int n = 0;
    do {
        c[n] = v & 0x7f;
        v >>= 7;
        if (v) c[n] |= 0x80;
        n++;
    } while (v);
    return buf_append(b, c, (size_t)n);
}

int rd_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    uint64_t r = 0;
    int shift = 0;
    const unsigned char *q = *p;
    while (q < end && shift < 64) {
        unsigned char c = *q++;
        r |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *p = q;
            *v = r;
            return 0;
        }
        shift += 7;
    }
    return -1;
}
