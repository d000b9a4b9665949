/* import_lines.c: splits a decoded stream into lines, each at most max_line bytes, and drops
 * a UTF-8 byte order mark at the stream's start (import_bom, shared with import_csv.c).
 *
 * The buffer is allocated once (max_line + one read chunk) and never grows: a line longer than
 * max_line is reported (IMPORT_LINE_TOO_LONG) and skipped up to its "\n" without being kept, so
 * a file of one 10 GB "line" costs no more memory than a file of short ones. */
#include "import/import_internal.h"
#include "engine/err.h"

#include <stdlib.h>
#include <string.h>

#define LINES_CHUNK (256u << 10)

/* ---- UTF-8 byte order mark ----------------------------------------------------------------- */

const unsigned char import_utf8_bom[IMPORT_BOM_LEN] = {0xEF, 0xBB, 0xBF};

size_t import_bom_take(import_bom *b, const void *p, size_t n, size_t *back)
{
    const unsigned char *s = p;
    size_t i = 0;
    *back = 0;
    while (b->matched >= 0 && i < n) {
        if (s[i] != import_utf8_bom[b->matched]) {
            *back = (size_t)b->matched;
            b->matched = -1;
            break;
        }
        i++;
        if (++b->matched == IMPORT_BOM_LEN) b->matched = -1;
    }
    return i;
}

size_t import_bom_end(import_bom *b)
{
    size_t back = b->matched > 0 ? (size_t)b->matched : 0;
    b->matched = -1;
    return back;
}

/* ---- lines --------------------------------------------------------------------------------- */

struct import_lines {
    char *b;
    size_t cap, max_line;
    size_t pos, len, scan;   /* unread data is b[pos, len); no "\n" in b[pos, scan) */
    int eof;
    uint64_t count;
    import_bom bom;
};

int import_lines_new(size_t max_line, import_lines **out)
{
    *out = NULL;
    if (max_line == 0) max_line = 1;
    import_lines *l = calloc(1, sizeof *l);
    if (!l) return err_set(TM_ENOMEM, "out of memory (line buffer)");
    l->max_line = max_line;
    l->cap = max_line + 1 + LINES_CHUNK + IMPORT_BOM_LEN;
    if (!(l->b = malloc(l->cap))) {
        free(l);
        return err_set(TM_ENOMEM, "out of memory (line buffer of %zu bytes)", max_line);
    }
    *out = l;
    return 0;
}

void import_lines_free(import_lines *l)
{
    if (!l) return;
    free(l->b);
    free(l);
}

void import_lines_reset(import_lines *l)
{
    l->pos = l->len = l->scan = 0;
    l->eof = 0;
    l->count = 0;
    l->bom = (import_bom)IMPORT_BOM_INIT;
}

uint64_t import_lines_count(const import_lines *l) { return l->count; }

/* Reads more after moving the unread part to the front. */
static int lines_fill(import_lines *l, import_read_fn rd, void *ctx)
{
    if (l->pos > 0) {
        memmove(l->b, l->b + l->pos, l->len - l->pos);
        l->len -= l->pos;
        l->scan -= l->pos;
        l->pos = 0;
    }
    size_t got = 0, back = 0;
    char *p = l->b + l->len;
    /* room is kept to give back a partial BOM's bytes in front of what is read */
    int rc = rd(ctx, p, l->cap - l->len - IMPORT_BOM_LEN, &got);
    if (rc) return rc;
    if (got == 0) {
        l->eof = 1;
        back = import_bom_end(&l->bom);
    } else if (l->bom.matched >= 0) {
        size_t took = import_bom_take(&l->bom, p, got, &back);
        memmove(p + back, p + took, got - took);
        got -= took;
    }
    memcpy(p, import_utf8_bom, back);
    l->len += got + back;
    return 0;
}

static void strip_cr(const char *line, size_t *len)
{
    if (*len > 0 && line[*len - 1] == '\r') (*len)--;
}

int import_lines_next(import_lines *l, import_read_fn rd, void *ctx, const char **line,
                      size_t *len)
{
    int rc;
    for (;;) {
        char *nl = l->scan < l->len ? memchr(l->b + l->scan, '\n', l->len - l->scan) : NULL;
        if (nl) {
            *line = l->b + l->pos;
            *len = (size_t)(nl - *line);
            l->pos = l->scan = (size_t)(nl - l->b) + 1;
            l->count++;
            strip_cr(*line, len);
            if (*len > l->max_line) {   /* fits the buffer, but longer than allowed */
                *line = NULL;
                return IMPORT_LINE_TOO_LONG;
            }
            return 1;
        }
        l->scan = l->len;
        if (l->len - l->pos > l->max_line) {
            /* Too long: drop what we have and skip to the next "\n". */
            size_t seen = l->len - l->pos;
            l->pos = l->len = l->scan = 0;
            for (;;) {
                if (l->eof) break;
                if ((rc = lines_fill(l, rd, ctx))) return rc;
                nl = memchr(l->b, '\n', l->len);
                if (nl) {
                    seen += (size_t)(nl - l->b);
                    l->pos = l->scan = (size_t)(nl - l->b) + 1;
                    break;
                }
                seen += l->len;
                l->len = l->scan = 0;
            }
            l->count++;
            *line = NULL;
            *len = seen;
            return IMPORT_LINE_TOO_LONG;
        }
        if (l->eof) {
            if (l->pos == l->len) return 0;
            *line = l->b + l->pos;
            *len = l->len - l->pos;
            l->pos = l->scan = l->len;
            l->count++;
            strip_cr(*line, len);
            return 1;
        }
        if ((rc = lines_fill(l, rd, ctx))) return rc;
    }
}
