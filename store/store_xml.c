/* store_xml.c: just enough XML for S3 responses and request bodies.
 *
 * Why by hand: S3 answers with flat, well-known documents (ListBucketResult, Error,
 * InitiateMultipartUploadResult, CopyObjectResult, CompleteMultipartUploadResult, DeleteResult),
 * and we read a handful of leaf elements whose text never holds markup. Finding <Tag>...</Tag>
 * and undoing the five predefined entities and numeric references covers them; a full parser
 * (libxml2) would be one more dependency for no extra correctness here. Element names we look
 * for are never nested inside themselves, and attributes on them (xmlns) are tolerated. */
#include "store/store_internal.h"
#include "engine/err.h"

#include <stdlib.h>
#include <string.h>

int store_xml_next(const char **p, const char *end, const char *tag, const char **val,
                   size_t *vlen)
{
    size_t tl = strlen(tag);
    const char *c = *p;
    while (c < end) {
        const char *lt = memchr(c, '<', (size_t)(end - c));
        if (!lt) return 0;
        c = lt + 1;
        if ((size_t)(end - c) < tl + 1 || memcmp(c, tag, tl) != 0) continue;
        char after = c[tl];
        if (after != '>' && after != ' ' && after != '/' && after != '\t' && after != '\n' &&
            after != '\r')
            continue;
        const char *gt = memchr(c, '>', (size_t)(end - c));
        if (!gt) return 0;
        if (gt[-1] == '/') {  /* <Tag/>: empty */
            *val = gt;
            *vlen = 0;
            *p = gt + 1;
            return 1;
        }
        const char *start = gt + 1;
        /* The closing tag: "</" tag ">". */
        for (const char *q = start; q < end; q++) {
            q = memchr(q, '<', (size_t)(end - q));
            if (!q) return 0;
            if ((size_t)(end - q) >= tl + 3 && q[1] == '/' && !memcmp(q + 2, tag, tl) &&
                q[2 + tl] == '>') {
                *val = start;
                *vlen = (size_t)(q - start);
                *p = q + tl + 3;
                return 1;
            }
        }
        return 0;
    }
    return 0;
}

static int put_utf8(buf *out, unsigned long cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else if (cp < 0x110000) {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    } else {
        return err_set(TM_EREMOTE, "bad character reference in an S3 response");
    }
    return buf_append(out, u, n);
}

int store_xml_unescape(buf *out, const char *s, size_t n)
{
    static const struct {
        const char *name;
        char c;
    } ents[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    int rc = buf_reserve(out, n);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '&') {
            if ((rc = buf_putc(out, s[i]))) return rc;
            continue;
        }
        const char *semi = memchr(s + i, ';', n - i);
        if (!semi) return err_set(TM_EREMOTE, "bad entity in an S3 response");
        size_t len = (size_t)(semi - (s + i)) + 1;  /* "&...;" */
        int done = 0;
        if (len > 3 && s[i + 1] == '#') {
            char num[16];
            if (len - 3 >= sizeof num) return err_set(TM_EREMOTE, "bad character reference");
            memcpy(num, s + i + 2, len - 3);
            num[len - 3] = '\0';
            char *e;
            unsigned long cp = num[0] == 'x' ? strtoul(num + 1, &e, 16) : strtoul(num, &e, 10);
            if (*e) return err_set(TM_EREMOTE, "bad character reference in an S3 response");
            if ((rc = put_utf8(out, cp))) return rc;
            done = 1;
        }
        for (size_t k = 0; !done && k < sizeof ents / sizeof ents[0]; k++) {
            if (len - 1 == strlen(ents[k].name) && !memcmp(s + i + 1, ents[k].name, len - 1)) {
                if ((rc = buf_putc(out, ents[k].c))) return rc;
                done = 1;
            }
        }
        if (!done) return err_set(TM_EREMOTE, "unknown entity in an S3 response");
        i += len - 1;
    }
    if (!out->data) return buf_puts(out, "");
    return 0;
}

int store_xml_get(const char *p, const char *end, const char *tag, buf *out)
{
    const char *v;
    size_t n;
    if (!store_xml_next(&p, end, tag, &v, &n)) return 0;
    int rc = store_xml_unescape(out, v, n);
    return rc ? rc : 1;
}

int store_xml_escape(buf *out, const char *s)
{
    int rc = 0;
    for (; *s && !rc; s++) {
        switch (*s) {
        case '&': rc = buf_puts(out, "&amp;"); break;
        case '<': rc = buf_puts(out, "&lt;"); break;
        case '>': rc = buf_puts(out, "&gt;"); break;
        case '"': rc = buf_puts(out, "&quot;"); break;
        case '\'': rc = buf_puts(out, "&apos;"); break;
        default: rc = buf_putc(out, *s);
        }
    }
    return rc;
}
