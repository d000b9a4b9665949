/* item.c: DynamoDB attribute values and items: the DynamoDB-JSON parser and writer, the
 * canonical binary encoding that LMDB, the change log and snapshots store, number
 * canonicalisation, base64, and the item size rules (FORMATS.md section 1).
 *
 * ITEM BINARY ENCODING
 *
 * PURPOSE
 *   The stored form of one item: the value under an item key in LMDB, the old and new images
 *   of a change-log record, the items of a snapshot. It is canonical (attributes sorted by name
 *   bytes, set members sorted, numbers in canonical text, minimal varints), so two items are
 *   equal (av_equal) if and only if their encodings are byte-equal: images compare with memcmp
 *   and hash stably. It turns back into DynamoDB JSON without building a tree
 *   (item_bin_write_json, the export hot path) and finds one top-level attribute without
 *   decoding the rest (item_bin_find; maps and lists carry their body size so they are skipped
 *   in O(1)).
 *
 * RECORD (one item)
 *   offset  size  field
 *   0       1     version, ITEM_VERSION (0x01)
 *   1       v     attribute count (varint)
 *   ...           that many ATTRs, strictly increasing by name
 *
 *   varint: unsigned LEB128, 7 bits per byte, least significant group first, high bit set on
 *           every byte but the last; minimal (the last byte of a multi-byte varint is not 0);
 *           at most 5 bytes; value < 2^32.
 *   u32:    4 bytes, little-endian.
 *
 * ATTR
 *   size  field
 *   v     name length n, 1..65535
 *   n     name, UTF-8
 *   ...   VALUE
 *
 * VALUE: one type byte (enum av_type in item.h; stored, never renumbered), then a body:
 *   type      body
 *   1  S      varint len, len bytes of UTF-8
 *   2  N      varint len, len bytes of canonical decimal text (num_canonical)
 *   3  B      varint len, len raw bytes
 *   4  SS     varint count >= 1, then count x (varint len, len bytes UTF-8)
 *   5  NS     as SS, members canonical decimal text
 *   6  BS     as SS, members raw bytes
 *   7  M      u32 body size, then body = varint count, count x ATTR
 *   8  L      u32 body size, then body = varint count, count x VALUE
 *   9  NULL   nothing
 *   10 BOOL   1 byte: 0 false, 1 true
 *
 * VALIDITY: a byte string is a valid item if and only if
 *   1. its first byte is ITEM_VERSION, every field lies inside it and no byte is left over;
 *   2. every varint is minimal and < 2^32;
 *   3. names are 1..65535 bytes of valid UTF-8 and strictly increasing inside each map
 *      (memcmp order, a prefix before the longer name);
 *   4. type bytes are 1..10; S values and SS members are valid UTF-8; N values and NS members
 *      are canonical numbers in range (num_canonical returns them unchanged); BOOL is 0 or 1;
 *   5. set members are strictly increasing (SS, BS: memcmp order; NS: numeric value), which
 *      makes them unique; count >= 1;
 *   6. an M or L body size equals the bytes its count and members take;
 *   7. a top-level attribute's value is at level 1 and the members of an M or L at level + 1;
 *      no value is deeper than ITEM_MAX_DEPTH (32) (AWS's rule: 31 nested maps around a leaf
 *      are accepted, 32 are not).
 *   The 400 KB limit is not part of validity: it is checked where items come in (parse, put).
 *
 * INVARIANTS
 *   item_encode(x) is valid; item_decode(b) succeeds iff b is valid, and then
 *   item_encode(item_decode(b)) == b byte for byte.
 *
 * COMPATIBILITY
 *   These bytes live as long as the data (LMDB, log segments, snapshots). Any layout change
 *   bumps ITEM_VERSION and readers keep decoding every older version.
 *
 * WHY A HAND-WRITTEN JSON PARSER
 *   Bulk load and import parse millions of items. cJSON would build a generic tree (a malloc
 *   per node and per string) that we would then walk again to build ours. This parser goes
 *   straight from the text into the item's arena (one malloc for a typical item), validating
 *   the DynamoDB rules as it goes. It accepts a subset of what cJSON accepts; the fuzzer in
 *   tests/fuzz/item_fuzz.c checks exactly that, and the round trips, on every input.
 *
 * MEMORY
 *   An item is one malloc holding the struct and a first arena block; more blocks chain when
 *   it fills. item_put/item_remove leave replaced values in the arena until item_free. */
#include "engine/item.h"
#include "engine/err.h"
#include "engine/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* First byte of every encoded item; bumped when the layout above changes. */
#define ITEM_VERSION 0x01

/* Longest canonical number text: "-0." + 129 zeros + 38 digits = 170 (room to spare). */
#define NUM_TEXT_MAX 192

/* ================================================================================= */
/* Arena                                                                             */
/* ================================================================================= */

typedef struct ablk {
    struct ablk *prev;
    size_t cap, used;
    unsigned char data[];    /* offset 24: 8-aligned */
} ablk;

struct item {
    av root;                  /* AV_M; root.u.attrs sorted by name */
    uint32_t cap;             /* room in root.u.attrs (item_put grows it) */
    ablk *cur;                /* newest block */
    ablk *inl;                /* the first block, in the same malloc as the item */
};

#define ARENA_FIRST_MAX ((size_t)1 << 20)

static item *item_alloc(size_t cap)
{
    if (cap < 64) cap = 64;
    if (cap > ARENA_FIRST_MAX) cap = ARENA_FIRST_MAX;
    cap = (cap + 7) & ~(size_t)7;
    item *it = malloc(sizeof *it + sizeof(ablk) + cap);
    if (!it) return NULL;
    it->root.type = AV_M;
    it->root.len = 0;
    it->root.u.attrs = NULL;
    it->cap = 0;
    it->inl = (ablk *)(void *)(it + 1);
    it->inl->prev = NULL;
    it->inl->cap = cap;
    it->inl->used = 0;
    it->cur = it->inl;
    return it;
}

static void *arena_alloc(item *it, size_t n)
{
    if (n > ((size_t)1 << 40)) return NULL;
    n = (n + 7) & ~(size_t)7;
    ablk *b = it->cur;
    if (b->cap - b->used < n) {
        size_t cap = b->cap * 2;
        if (cap < 4096) cap = 4096;
        if (cap > ARENA_FIRST_MAX) cap = ARENA_FIRST_MAX;
        if (cap < n) cap = n;
        ablk *nb = malloc(sizeof *nb + cap);
        if (!nb) return NULL;
        nb->prev = b;
        nb->cap = cap;
        nb->used = 0;
        it->cur = b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

static void arena_reset(item *it)
{
    while (it->cur != it->inl) {
        ablk *p = it->cur->prev;
        free(it->cur);
        it->cur = p;
    }
    it->inl->used = 0;
    it->root.len = 0;
    it->root.u.attrs = NULL;
    it->cap = 0;
}

/* Copies n bytes into the arena with a NUL after them (callers may print S/N/names). */
static char *arena_str(item *it, const void *p, size_t n)
{
    char *d = arena_alloc(it, n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

/* ================================================================================= */
/* Numbers                                                                           */
/* ================================================================================= */

/* Canonicalises the decimal text s[0..n) into out (NUM_TEXT_MAX bytes). Returns the length,
 * or -1 with *why set. Accepts [+-]digits[.digits][(e|E)[+-]digits], ".5" and "5." too. */
static int num_canon(const char *s, size_t n, char *out, const char **why)
{
    char sig[NUM_MAX_DIGITS];
    int nsig = 0, neg = 0, seen_point = 0, ndigits = 0;
    long point = 0, zeros = 0;   /* value = 0.sig x 10^point; zeros = pending inner zeros */
    size_t i = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    for (; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (seen_point) { *why = "more than one decimal point"; return -1; }
            seen_point = 1;
            continue;
        }
        if (c < '0' || c > '9') break;
        ndigits++;
        if (nsig == 0 && c == '0') {     /* leading zero */
            if (seen_point) point--;
            continue;
        }
        if (!seen_point) point++;
        if (c == '0') {
            zeros++;
            continue;
        }
        if (nsig + zeros + 1 > NUM_MAX_DIGITS) {
            *why = "more than 38 significant digits";
            return -1;
        }
        while (zeros) { sig[nsig++] = '0'; zeros--; }
        sig[nsig++] = c;
        if (point > 1000000000L) point = 1000000000L;
    }
    if (ndigits == 0) { *why = "not a number"; return -1; }
    long ex = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0, edigits = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            if (ex < 1000000000L) ex = ex * 10 + (s[i] - '0');
            edigits++;
        }
        if (!edigits) { *why = "exponent without digits"; return -1; }
        if (eneg) ex = -ex;
    }
    if (i != n) { *why = "not a number"; return -1; }
    if (nsig == 0) {
        out[0] = '0';
        return 1;
    }
    if (point < -1000000000L) point = -1000000000L;
    long e = point + ex;
    if (e > 126) {
        *why = "magnitude larger than the supported range (9.9999999999999999999999999999999999999E+125)";
        return -1;
    }
    if (e < -129) {
        *why = "magnitude smaller than the supported range (1E-130)";
        return -1;
    }
    int o = 0;
    if (neg) out[o++] = '-';
    if (e <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (long k = 0; k < -e; k++) out[o++] = '0';
        memcpy(out + o, sig, (size_t)nsig);
        o += nsig;
    } else if (e >= nsig) {
        memcpy(out + o, sig, (size_t)nsig);
        o += nsig;
        for (long k = nsig; k < e; k++) out[o++] = '0';
    } else {
        memcpy(out + o, sig, (size_t)e);
        o += (int)e;
        out[o++] = '.';
        memcpy(out + o, sig + e, (size_t)(nsig - e));
        o += nsig - (int)e;
    }
    return o;
}

int num_canonical(const char *s, size_t n, buf *out)
{
    char tmp[NUM_TEXT_MAX];
    const char *why = NULL;
    int k = num_canon(s, n, tmp, &why);
    if (k < 0)
        return err_set(TM_EINVAL, "invalid number \"%.*s\": %s", n > 64 ? 64 : (int)n, s, why);
    return buf_append(out, tmp, (size_t)k);
}

/* Compares two non-negative canonical magnitudes. */
static int num_mag_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    const char *pa = memchr(a, '.', an), *pb = memchr(b, '.', bn);
    size_t ia = pa ? (size_t)(pa - a) : an, ib = pb ? (size_t)(pb - b) : bn;
    size_t ila = (ia == 1 && a[0] == '0') ? 0 : ia;   /* "0.x" has no integer digits */
    size_t ilb = (ib == 1 && b[0] == '0') ? 0 : ib;
    if (ila != ilb) return ila < ilb ? -1 : 1;
    int c = memcmp(a, b, ila);
    if (c) return c < 0 ? -1 : 1;
    const char *fa = pa ? pa + 1 : a + an, *fb = pb ? pb + 1 : b + bn;
    size_t fla = (size_t)(a + an - fa), flb = (size_t)(b + bn - fb);
    c = memcmp(fa, fb, fla < flb ? fla : flb);
    if (c) return c < 0 ? -1 : 1;
    return fla == flb ? 0 : (fla < flb ? -1 : 1);
}

int num_compare(const char *a, size_t an, const char *b, size_t bn)
{
    int na = an > 0 && a[0] == '-', nb = bn > 0 && b[0] == '-';
    if (na != nb) return na ? -1 : 1;
    int c = num_mag_cmp(a + na, an - (size_t)na, b + nb, bn - (size_t)nb);
    return na ? -c : c;
}

/* DynamoDB's size of a number: 1 byte per 2 significant digits, + 1. */
static size_t num_size(const char *s, size_t n)
{
    size_t first = n, last = 0, sig = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] >= '1' && s[i] <= '9') {
            if (first == n) first = i;
            last = i;
        }
    if (first != n)
        for (size_t i = first; i <= last; i++) sig += s[i] != '.';
    return (sig + 1) / 2 + 1;
}

/* ================================================================================= */
/* Ordering, equality, sorting                                                       */
/* ================================================================================= */

static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c) return c < 0 ? -1 : 1;
    return an == bn ? 0 : (an < bn ? -1 : 1);
}

int av_compare(const av *a, const av *b)
{
    if (a->type != b->type) return a->type < b->type ? -1 : 1;
    if (a->type == AV_N) return num_compare(a->u.bytes, a->len, b->u.bytes, b->len);
    if (a->type == AV_S || a->type == AV_B) return bytes_cmp(a->u.bytes, a->len, b->u.bytes, b->len);
    return av_equal(a, b) ? 0 : 1;
}

int av_equal(const av *a, const av *b)
{
    if (a->type != b->type) return 0;
    switch (a->type) {
    case AV_S: case AV_N: case AV_B:
        return a->len == b->len && (!a->len || !memcmp(a->u.bytes, b->u.bytes, a->len));
    case AV_SS: case AV_NS: case AV_BS: case AV_L:
        if (a->len != b->len) return 0;
        for (uint32_t i = 0; i < a->len; i++)
            if (!av_equal(&a->u.elems[i], &b->u.elems[i])) return 0;
        return 1;
    case AV_M:
        if (a->len != b->len) return 0;
        for (uint32_t i = 0; i < a->len; i++) {
            const av_attr *x = &a->u.attrs[i], *y = &b->u.attrs[i];
            if (x->name_len != y->name_len || memcmp(x->name, y->name, x->name_len) ||
                !av_equal(&x->value, &y->value))
                return 0;
        }
        return 1;
    case AV_NULL:
        return 1;
    case AV_BOOL:
        return !a->u.boolean == !b->u.boolean;
    }
    return 0;
}

static int attr_cmp(const void *x, const void *y)
{
    const av_attr *a = x, *b = y;
    return bytes_cmp(a->name, a->name_len, b->name, b->name_len);
}

static int member_cmp(const void *x, const void *y)
{
    const av *a = x, *b = y;
    if (a->type == AV_N) return num_compare(a->u.bytes, a->len, b->u.bytes, b->len);
    return bytes_cmp(a->u.bytes, a->len, b->u.bytes, b->len);
}

/* Insertion sort for the usual handful of attributes, qsort beyond. */
static void sort_attrs(av_attr *a, size_t n)
{
    if (n > 16) {
        qsort(a, n, sizeof *a, attr_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        av_attr t = a[i];
        size_t j = i;
        while (j > 0 && attr_cmp(&a[j - 1], &t) > 0) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = t;
    }
}

static void sort_members(av *a, size_t n)
{
    if (n > 16) {
        qsort(a, n, sizeof *a, member_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        av t = a[i];
        size_t j = i;
        while (j > 0 && member_cmp(&a[j - 1], &t) > 0) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = t;
    }
}

/* ================================================================================= */
/* Attribute paths for error messages                                                */
/* ================================================================================= */

typedef struct pseg {
    const char *name;        /* NULL: a list index */
    uint32_t len;
    uint32_t idx;
} pseg;

typedef struct path {
    pseg seg[ITEM_MAX_DEPTH + 4];
    int n;
} path;

static void path_push(path *pa, const char *name, uint32_t len, uint32_t idx)
{
    if (pa->n < (int)(sizeof pa->seg / sizeof pa->seg[0])) {
        pa->seg[pa->n].name = name;
        pa->seg[pa->n].len = len;
        pa->seg[pa->n].idx = idx;
    }
    pa->n++;
}

static void path_pop(path *pa) { pa->n--; }

/* "meta.tags[2].x"; long names are cut with "...". */
static void path_format(const path *pa, char *o, size_t cap)
{
    size_t k = 0;
    int n = pa->n < (int)(sizeof pa->seg / sizeof pa->seg[0]) ? pa->n
                                                               : (int)(sizeof pa->seg / sizeof pa->seg[0]);
    o[0] = '\0';
    for (int i = 0; i < n && k + 1 < cap; i++) {
        const pseg *s = &pa->seg[i];
        int w;
        if (s->name) {
            int cut = s->len > 80;
            w = snprintf(o + k, cap - k, "%s%.*s%s", i ? "." : "", cut ? 80 : (int)s->len, s->name,
                         cut ? "..." : "");
        } else {
            w = snprintf(o + k, cap - k, "[%u]", s->idx);
        }
        if (w < 0) break;
        k += (size_t)w;
        if (k >= cap) { k = cap - 1; break; }
    }
}

/* Quotes a member value for a message: printable ASCII kept, the rest as \xNN, cut at 60. */
static void quote_bytes(const char *s, size_t n, char *o, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 60) {
            k += (size_t)snprintf(o + k, cap - k, "...");
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') o[k++] = (char)c;
        else k += (size_t)snprintf(o + k, cap - k, "\\x%02x", c);
    }
    o[k] = '\0';
}

static int path_err(const path *pa, int code, const char *fmt, va_list ap)
{
    char msg[600], ps[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (pa && pa->n > 0) {
        path_format(pa, ps, sizeof ps);
        return err_set(code, "attribute '%s': %s", ps, msg);
    }
    return err_set(code, "%s", msg);
}

static int path_fail(const path *pa, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int path_fail(const path *pa, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = path_err(pa, code, fmt, ap);
    va_end(ap);
    return rc;
}

/* ================================================================================= */
/* DynamoDB JSON parser                                                              */
/* ================================================================================= */

/* String scan classes: 0 plain ASCII, 1 '"', 2 '\\', 3 control, 4 non-ASCII. */
static const unsigned char scan_cls[256] = {
    3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3, 3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,
    0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,2,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4, 4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4, 4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4, 4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
    4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4, 4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,
};

typedef struct jp {
    const unsigned char *s, *p, *end;
    item *it;
    path pa;
    int code;                 /* first error (0: none) */
    char msg[1024];           /* its detail; err_set only once, at the end */
    av_attr *as;              /* attribute stack of the maps being parsed */
    size_t an, acap;
    av *vs;                   /* element stack of the lists and sets being parsed */
    size_t vn, vcap;
    av_attr as_inl[32];
    av vs_inl[32];
} jp;

static int jp_fail(jp *j, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int jp_fail(jp *j, int code, const char *fmt, ...)
{
    if (j->code) return j->code;
    char m[600], ps[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    if (j->pa.n > 0) {
        path_format(&j->pa, ps, sizeof ps);
        snprintf(j->msg, sizeof j->msg, "attribute '%s': %s", ps, m);
    } else {
        snprintf(j->msg, sizeof j->msg, "%s", m);
    }
    j->code = code;
    return code;
}

static int jp_syntax(jp *j, const unsigned char *at, const char *what)
{
    if (at >= j->end)
        return jp_fail(j, TM_EINVAL, "invalid JSON: unexpected end of input, %s", what);
    return jp_fail(j, TM_EINVAL, "invalid JSON at offset %zu: %s", (size_t)(at - j->s), what);
}

static int jp_nomem(jp *j) { return jp_fail(j, TM_ENOMEM, "out of memory parsing an item"); }

static inline void jp_ws(jp *j)
{
    const unsigned char *p = j->p, *end = j->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    j->p = p;
}

static inline int jp_at(jp *j, unsigned char c) { return j->p < j->end && *j->p == c; }

static int jp_expect(jp *j, unsigned char c, const char *what)
{
    jp_ws(j);
    if (!jp_at(j, c)) return jp_syntax(j, j->p, what);
    j->p++;
    return 0;
}

static int hex4(const unsigned char *p, unsigned *v)
{
    unsigned r = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        r = r << 4 | d;
    }
    *v = r;
    return 0;
}

/* Parses the JSON string at j->p (a '"'). out and outlen receive its decoded bytes: pointing into
 * the input when it has no escapes and !own, else a NUL-terminated arena copy. */
static int jp_string(jp *j, int own, const char **out, uint32_t *outlen)
{
    const unsigned char *start = j->p + 1, *p = start, *end = j->end;
    int esc = 0;
    for (;;) {
        while (p < end && scan_cls[*p] == 0) p++;
        if (p >= end) return jp_syntax(j, end, "unterminated string");
        unsigned char c = *p;
        if (c == '"') break;
        if (c == '\\') {
            if (p + 1 >= end) return jp_syntax(j, end, "unterminated string");
            if (!strchr("\"\\/bfnrtu", p[1]) || !p[1])
                return jp_syntax(j, p, "invalid escape in string");
            esc = 1;
            p += 2;
            continue;
        }
        if (c < 0x20) return jp_syntax(j, p, "control character in string (must be escaped)");
        size_t k = text_utf8_seq(p, (size_t)(end - p));
        if (!k)
            return jp_fail(j, TM_EINVAL, "invalid UTF-8 at offset %zu", (size_t)(p - j->s));
        p += k;
    }
    size_t n = (size_t)(p - start);
    j->p = p + 1;
    if (n > UINT32_MAX) return jp_fail(j, TM_ELIMIT, "string longer than 4 GB");
    if (!esc) {
        if (!own) {
            *out = (const char *)start;
        } else if (!(*out = arena_str(j->it, start, n))) {
            return jp_nomem(j);
        }
        *outlen = (uint32_t)n;
        return 0;
    }
    unsigned char *w0 = arena_alloc(j->it, n + 1), *w = w0;
    if (!w0) return jp_nomem(j);
    const unsigned char *q = start;
    while (q < p) {
        if (*q != '\\') {
            *w++ = *q++;
            continue;
        }
        unsigned char e = q[1];
        q += 2;
        switch (e) {
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (p - q < 4 || hex4(q, &cp)) return jp_syntax(j, q - 2, "invalid \\u escape");
            q += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return jp_syntax(j, q - 6, "unpaired surrogate in \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p - q < 6 || q[0] != '\\' || q[1] != 'u' || hex4(q + 2, &lo) || lo < 0xDC00 ||
                    lo > 0xDFFF)
                    return jp_syntax(j, q - 6, "unpaired surrogate in \\u escape");
                q += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp < 0x80) {
                *w++ = (unsigned char)cp;
            } else if (cp < 0x800) {
                *w++ = (unsigned char)(0xC0 | cp >> 6);
                *w++ = (unsigned char)(0x80 | (cp & 63));
            } else if (cp < 0x10000) {
                *w++ = (unsigned char)(0xE0 | cp >> 12);
                *w++ = (unsigned char)(0x80 | ((cp >> 6) & 63));
                *w++ = (unsigned char)(0x80 | (cp & 63));
            } else {
                *w++ = (unsigned char)(0xF0 | cp >> 18);
                *w++ = (unsigned char)(0x80 | ((cp >> 12) & 63));
                *w++ = (unsigned char)(0x80 | ((cp >> 6) & 63));
                *w++ = (unsigned char)(0x80 | (cp & 63));
            }
            break;
        }
        default: *w++ = e; break;   /* " \ / */
        }
    }
    *w = '\0';
    *out = (const char *)w0;
    *outlen = (uint32_t)(w - w0);
    return 0;
}

static int tag_type(const char *t, uint32_t n)
{
    switch (n) {
    case 1:
        switch (t[0]) {
        case 'S': return AV_S;
        case 'N': return AV_N;
        case 'B': return AV_B;
        case 'M': return AV_M;
        case 'L': return AV_L;
        }
        return 0;
    case 2:
        if (t[1] != 'S') return 0;
        switch (t[0]) {
        case 'S': return AV_SS;
        case 'N': return AV_NS;
        case 'B': return AV_BS;
        }
        return 0;
    case 4:
        if (!memcmp(t, "NULL", 4)) return AV_NULL;
        if (!memcmp(t, "BOOL", 4)) return AV_BOOL;
        return 0;
    }
    return 0;
}

static const char *type_name(int t)
{
    switch (t) {
    case AV_S: return "S";
    case AV_N: return "N";
    case AV_B: return "B";
    case AV_SS: return "SS";
    case AV_NS: return "NS";
    case AV_BS: return "BS";
    case AV_M: return "M";
    case AV_L: return "L";
    case AV_NULL: return "NULL";
    case AV_BOOL: return "BOOL";
    }
    return "?";
}

static const char *set_name(int t)
{
    return t == AV_SS ? "string set" : t == AV_NS ? "number set" : "binary set";
}

static int grow(void **arr, size_t *cap, size_t elem, void *inl)
{
    size_t nc = *cap * 2;
    void *p;
    if (*arr == inl) {
        p = malloc(nc * elem);
        if (p) memcpy(p, *arr, *cap * elem);
    } else {
        p = realloc(*arr, nc * elem);
    }
    if (!p) return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

static int jp_push_attr(jp *j, const av_attr *a)
{
    if (j->an == j->acap && grow((void **)&j->as, &j->acap, sizeof *a, j->as_inl)) return jp_nomem(j);
    j->as[j->an++] = *a;
    return 0;
}

static int jp_push_val(jp *j, const av *v)
{
    if (j->vn == j->vcap && grow((void **)&j->vs, &j->vcap, sizeof *v, j->vs_inl)) return jp_nomem(j);
    j->vs[j->vn++] = *v;
    return 0;
}

/* A scalar (S, N or B) from a JSON string; t is the scalar type. */
static int jp_scalar(jp *j, int t, av *out)
{
    const char *s;
    uint32_t n;
    out->type = (av_type)t;
    if (t == AV_S) return jp_string(j, 1, &out->u.bytes, &out->len);
    const unsigned char *at = j->p;
    int rc = jp_string(j, 0, &s, &n);
    if (rc) return rc;
    if (t == AV_N) {
        char tmp[NUM_TEXT_MAX];
        const char *why = NULL;
        int k = num_canon(s, n, tmp, &why);
        if (k < 0) {
            char q[300];
            quote_bytes(s, n, q, sizeof q);
            return jp_fail(j, TM_EINVAL, "invalid number \"%s\": %s", q, why);
        }
        if (!(out->u.bytes = arena_str(j->it, tmp, (size_t)k))) return jp_nomem(j);
        out->len = (uint32_t)k;
        return 0;
    }
    unsigned char *d = arena_alloc(j->it, n / 4 * 3 + 1);
    if (!d) return jp_nomem(j);
    const char *why;
    size_t bad;
    long k = text_b64_decode_raw(s, n, d, &why, &bad);
    if (k < 0)
        return jp_fail(j, TM_EINVAL, "invalid base64 in binary value (string at offset %zu, "
                       "character %zu): %s", (size_t)(at - j->s), bad, why);
    d[k] = '\0';
    out->u.bytes = (const char *)d;
    out->len = (uint32_t)k;
    return 0;
}

static int jp_literal(jp *j, int *val)
{
    size_t left = (size_t)(j->end - j->p);
    if (left >= 4 && !memcmp(j->p, "true", 4)) { j->p += 4; *val = 1; return 0; }
    if (left >= 5 && !memcmp(j->p, "false", 5)) { j->p += 5; *val = 0; return 0; }
    return -1;
}

static int jp_map(jp *j, int level, av *out);

/* One typed value {"T": ...} at nesting level `level`. */
static int jp_value(jp *j, int level, av *out)
{
    int rc;
    jp_ws(j);
    if (!jp_at(j, '{'))
        return j->p >= j->end ? jp_syntax(j, j->p, "expected a typed value")
                              : jp_fail(j, TM_EINVAL, "expected a typed value like {\"S\":\"x\"} "
                                        "at offset %zu", (size_t)(j->p - j->s));
    j->p++;
    jp_ws(j);
    if (jp_at(j, '}'))
        return jp_fail(j, TM_EINVAL, "value has no type (expected one of S, N, B, SS, NS, BS, "
                       "M, L, NULL, BOOL)");
    if (!jp_at(j, '"')) return jp_syntax(j, j->p, "expected a string");
    const char *tag;
    uint32_t tlen;
    if ((rc = jp_string(j, 0, &tag, &tlen))) return rc;
    int t = tag_type(tag, tlen);
    if (!t) {
        char q[300];
        quote_bytes(tag, tlen, q, sizeof q);
        return jp_fail(j, TM_EINVAL, "unknown type \"%s\" (expected one of S, N, B, SS, NS, BS, "
                       "M, L, NULL, BOOL)", q);
    }
    if ((rc = jp_expect(j, ':', "expected ':'"))) return rc;
    jp_ws(j);
    out->type = (av_type)t;
    switch (t) {
    case AV_S: case AV_N: case AV_B:
        if (!jp_at(j, '"'))
            return jp_fail(j, TM_EINVAL, "%s value must be a JSON string", type_name(t));
        if ((rc = jp_scalar(j, t, out))) return rc;
        break;
    case AV_BOOL: {
        int v;
        if (jp_literal(j, &v)) return jp_fail(j, TM_EINVAL, "BOOL value must be true or false");
        out->u.boolean = v;
        out->len = 0;
        break;
    }
    case AV_NULL: {
        int v;
        if (jp_literal(j, &v) || !v) return jp_fail(j, TM_EINVAL, "NULL value must be true");
        out->len = 0;
        out->u.bytes = NULL;
        break;
    }
    case AV_SS: case AV_NS: case AV_BS: {
        int et = t == AV_SS ? AV_S : t == AV_NS ? AV_N : AV_B;
        if (!jp_at(j, '['))
            return jp_fail(j, TM_EINVAL, "%s value must be a JSON array of strings", type_name(t));
        j->p++;
        jp_ws(j);
        if (jp_at(j, ']'))
            return jp_fail(j, TM_EINVAL, "empty %s (a set needs at least one element)", set_name(t));
        size_t base = j->vn;
        for (;;) {
            av e;
            jp_ws(j);
            if (!jp_at(j, '"'))
                return jp_fail(j, TM_EINVAL, "%s elements must be JSON strings", set_name(t));
            if ((rc = jp_scalar(j, et, &e)) || (rc = jp_push_val(j, &e))) return rc;
            jp_ws(j);
            if (jp_at(j, ',')) { j->p++; continue; }
            if (jp_at(j, ']')) { j->p++; break; }
            return jp_syntax(j, j->p, "expected ',' or ']'");
        }
        size_t n = j->vn - base;
        av *arr = arena_alloc(j->it, n * sizeof *arr);
        if (!arr) return jp_nomem(j);
        memcpy(arr, j->vs + base, n * sizeof *arr);
        j->vn = base;
        sort_members(arr, n);
        for (size_t i = 1; i < n; i++)
            if (member_cmp(&arr[i - 1], &arr[i]) == 0) {
                char q[300], bq[400];
                if (t == AV_BS) {
                    size_t m = arr[i].len > 150 ? 150 : arr[i].len;
                    text_b64(arr[i].u.bytes, m, bq);
                    quote_bytes(bq, strlen(bq), q, sizeof q);
                } else {
                    quote_bytes(arr[i].u.bytes, arr[i].len, q, sizeof q);
                }
                return jp_fail(j, TM_EINVAL, "duplicate value \"%s\" in %s", q, set_name(t));
            }
        out->u.elems = arr;
        out->len = (uint32_t)n;
        break;
    }
    case AV_L: {
        if (!jp_at(j, '[')) return jp_fail(j, TM_EINVAL, "L value must be a JSON array");
        j->p++;
        jp_ws(j);
        size_t base = j->vn;
        if (jp_at(j, ']')) {
            j->p++;
        } else {
            if (level + 1 > ITEM_MAX_DEPTH)
                return jp_fail(j, TM_ELIMIT, "nesting deeper than %d levels", ITEM_MAX_DEPTH);
            for (uint32_t i = 0;; i++) {
                av e;
                path_push(&j->pa, NULL, 0, i);
                if ((rc = jp_value(j, level + 1, &e))) return rc;
                path_pop(&j->pa);
                if ((rc = jp_push_val(j, &e))) return rc;
                jp_ws(j);
                if (jp_at(j, ',')) { j->p++; continue; }
                if (jp_at(j, ']')) { j->p++; break; }
                return jp_syntax(j, j->p, "expected ',' or ']'");
            }
        }
        size_t n = j->vn - base;
        av *arr = NULL;
        if (n && !(arr = arena_alloc(j->it, n * sizeof *arr))) return jp_nomem(j);
        if (n) memcpy(arr, j->vs + base, n * sizeof *arr);
        j->vn = base;
        out->u.elems = arr;
        out->len = (uint32_t)n;
        break;
    }
    case AV_M:
        if (!jp_at(j, '{')) return jp_fail(j, TM_EINVAL, "M value must be a JSON object");
        if ((rc = jp_map(j, level + 1, out))) return rc;
        break;
    }
    jp_ws(j);
    if (jp_at(j, ','))
        return jp_fail(j, TM_EINVAL, "value has more than one type member");
    if (!jp_at(j, '}')) return jp_syntax(j, j->p, "expected '}'");
    j->p++;
    return 0;
}

/* An object of name -> typed value whose values sit at `level` (top-level item: 1). */
static int jp_map(jp *j, int level, av *out)
{
    int rc;
    if ((rc = jp_expect(j, '{', "expected '{'"))) return rc;
    jp_ws(j);
    size_t base = j->an;
    if (jp_at(j, '}')) {
        j->p++;
    } else {
        if (level > ITEM_MAX_DEPTH)
            return jp_fail(j, TM_ELIMIT, "nesting deeper than %d levels", ITEM_MAX_DEPTH);
        for (;;) {
            av_attr a;
            jp_ws(j);
            if (!jp_at(j, '"')) return jp_syntax(j, j->p, "expected an attribute name");
            if ((rc = jp_string(j, 1, &a.name, &a.name_len))) return rc;
            if (a.name_len == 0) return jp_fail(j, TM_EINVAL, "empty attribute name");
            path_push(&j->pa, a.name, a.name_len, 0);
            if (a.name_len > ITEM_MAX_NAME)
                return jp_fail(j, TM_ELIMIT, "attribute name longer than %d bytes", ITEM_MAX_NAME);
            if ((rc = jp_expect(j, ':', "expected ':'"))) return rc;
            if ((rc = jp_value(j, level, &a.value))) return rc;
            path_pop(&j->pa);
            if ((rc = jp_push_attr(j, &a))) return rc;
            jp_ws(j);
            if (jp_at(j, ',')) { j->p++; continue; }
            if (jp_at(j, '}')) { j->p++; break; }
            return jp_syntax(j, j->p, "expected ',' or '}'");
        }
    }
    size_t n = j->an - base;
    av_attr *arr = NULL;
    if (n && !(arr = arena_alloc(j->it, n * sizeof *arr))) return jp_nomem(j);
    if (n) memcpy(arr, j->as + base, n * sizeof *arr);
    j->an = base;
    sort_attrs(arr, n);
    for (size_t i = 1; i < n; i++)
        if (attr_cmp(&arr[i - 1], &arr[i]) == 0) {
            path_push(&j->pa, arr[i].name, arr[i].name_len, 0);
            return jp_fail(j, TM_EINVAL, "duplicate attribute name");
        }
    out->type = AV_M;
    out->u.attrs = arr;
    out->len = (uint32_t)n;
    return 0;
}

static void jp_init(jp *j, const char *s, size_t n, item *it)
{
    j->s = j->p = (const unsigned char *)s;
    j->end = j->s + n;
    j->it = it;
    j->pa.n = 0;
    j->code = 0;
    j->msg[0] = '\0';
    j->as = j->as_inl;
    j->acap = sizeof j->as_inl / sizeof j->as_inl[0];
    j->an = 0;
    j->vs = j->vs_inl;
    j->vcap = sizeof j->vs_inl / sizeof j->vs_inl[0];
    j->vn = 0;
}

static void jp_restart(jp *j)
{
    j->p = j->s;
    j->pa.n = 0;
    j->code = 0;
    j->msg[0] = '\0';
    j->an = j->vn = 0;
    arena_reset(j->it);
}

static void jp_done(jp *j)
{
    if (j->as != j->as_inl) free(j->as);
    if (j->vs != j->vs_inl) free(j->vs);
}

/* Parses a whole item (a map at level 1) followed only by whitespace. */
static int jp_item(jp *j, av *root, int wrapped)
{
    int rc = jp_map(j, 1, root);
    if (!rc && wrapped) rc = jp_expect(j, '}', "expected '}' closing the Item wrapper");
    if (rc) return rc;
    jp_ws(j);
    if (j->p != j->end) return jp_syntax(j, j->p, "trailing characters after the item");
    return 0;
}

/* If the text starts with {"Item": returns where the value starts, else NULL. */
static const unsigned char *wrapper_value(jp *j)
{
    jp_ws(j);
    if (!jp_at(j, '{')) return NULL;
    j->p++;
    jp_ws(j);
    if ((size_t)(j->end - j->p) < 6 || memcmp(j->p, "\"Item\"", 6)) return NULL;
    j->p += 6;
    jp_ws(j);
    if (!jp_at(j, ':')) return NULL;
    j->p++;
    jp_ws(j);
    return j->p;
}

/* Whether the object at p starts with a type tag member ({"S": ...). */
static int starts_with_tag(const unsigned char *p, const unsigned char *end)
{
    if (p >= end || *p != '{') return 0;
    p++;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    if (p >= end || *p != '"') return 0;
    const unsigned char *q = ++p;
    while (q < end && *q != '"' && *q != '\\') q++;
    return q < end && *q == '"' && tag_type((const char *)p, (uint32_t)(q - p));
}

static size_t av_size(const av *v);

/* The 400 KB check, naming the biggest attribute so the message says what to shrink. */
static int check_size_named(const item *it)
{
    size_t total = item_size(it);
    if (total <= ITEM_MAX_BYTES) return 0;
    const av_attr *big = NULL;
    size_t bigsz = 0;
    for (uint32_t i = 0; i < it->root.len; i++) {
        size_t s = it->root.u.attrs[i].name_len + av_size(&it->root.u.attrs[i].value);
        if (s > bigsz) {
            bigsz = s;
            big = &it->root.u.attrs[i];
        }
    }
    return err_set(TM_ELIMIT, "item size %zu bytes exceeds the limit of %d bytes "
                   "(largest: attribute '%.*s', %zu bytes)", total, ITEM_MAX_BYTES,
                   big ? (int)(big->name_len > 80 ? 80 : big->name_len) : 0,
                   big ? big->name : "", bigsz);
}

int item_parse_json(const char *json, size_t len, unsigned flags, item **out)
{
    *out = NULL;
    item *it = item_alloc(len * 2 + 256);
    if (!it) return err_set(TM_ENOMEM, "out of memory parsing an item");
    jp jstate, *j = &jstate;     /* ~3 KB on the stack: no second malloc per item */
    jp_init(j, json, len, it);
    int rc;
    const unsigned char *inner;
    if ((flags & ITEM_PARSE_WRAPPED) && (inner = wrapper_value(j))) {
        /* {"Item":X} is the wrapper unless X is itself a typed value; at most one reading
         * of X can be valid, so try the wrapper first (the export format) and fall back. */
        rc = jp_item(j, &it->root, 1);
        if (rc) {
            int wcode = j->code;
            char *wmsg = strdup(j->msg);
            jp_restart(j);
            rc = jp_item(j, &it->root, 0);
            if (rc && !starts_with_tag(inner, j->end) && wmsg) {
                j->code = wcode;
                snprintf(j->msg, sizeof j->msg, "%s", wmsg);
                rc = wcode;
            }
            free(wmsg);
        }
    } else {
        j->p = j->s;
        rc = jp_item(j, &it->root, 0);
    }
    if (rc) {
        err_set(j->code, "%s", j->msg);
        goto out;
    }
    it->cap = it->root.len;
    if (!(flags & ITEM_PARSE_NOLIMITS) && (rc = check_size_named(it))) goto out;
    *out = it;
    it = NULL;
out:
    jp_done(j);
    item_free(it);
    return rc;
}

int av_parse_json(const char *json, size_t len, const char *name, item *arena_owner, av *out)
{
    jp jstate, *j = &jstate;
    jp_init(j, json, len, arena_owner);
    if (name) path_push(&j->pa, name, (uint32_t)strlen(name), 0);
    int rc = jp_value(j, 1, out);
    if (!rc) {
        jp_ws(j);
        if (j->p != j->end) rc = jp_syntax(j, j->p, "trailing characters after the value");
    }
    if (rc) err_set(j->code, "%s", j->msg);
    jp_done(j);
    return rc;
}

/* ================================================================================= */
/* JSON writer                                                                       */
/* ================================================================================= */

/* A sticky appender: after the first failure it does nothing and rc keeps the code. The
 * NUL after the data is written once at the end (jw_finish). */
typedef struct jw {
    buf *b;
    size_t start;
    int rc;
} jw;

static inline int jw_need(jw *w, size_t n)
{
    if (w->rc) return 0;
    if (w->b->len + n + 1 > w->b->cap && (w->rc = buf_reserve(w->b, n))) return 0;
    return 1;
}

static inline void jw_put(jw *w, const void *s, size_t n)
{
    if (jw_need(w, n)) {
        memcpy(w->b->data + w->b->len, s, n);
        w->b->len += n;
    }
}

#define JW_LIT(w, s) jw_put((w), (s), sizeof(s) - 1)

static inline void jw_c(jw *w, char c)
{
    if (jw_need(w, 1)) w->b->data[w->b->len++] = c;
}

static int jw_finish(jw *w)
{
    if (w->rc) {
        w->b->len = w->start;
    } else if (!w->b->data && !jw_need(w, 0)) {
        w->b->len = w->start;
    }
    if (w->b->data) w->b->data[w->b->len] = '\0';
    return w->rc;
}

/* A JSON string: " and \ escaped, \b \f \n \r \t as such, other controls as \u00XX,
 * everything else (UTF-8 included, validated when parsed) as is. */
static void jw_str(jw *w, const void *s, size_t n)
{
    if (!w->rc) w->rc = text_json_str(w->b, s, n, 0);
}

static void jw_b64(jw *w, const void *p, size_t n)
{
    size_t m = (n + 2) / 3 * 4;
    if (!jw_need(w, m + 2)) return;
    char *o = w->b->data + w->b->len;
    o[0] = '"';
    text_b64(p, n, o + 1);
    o[m + 1] = '"';
    w->b->len += m + 2;
}

static void jw_value(jw *w, const av *v);

static void jw_attrs(jw *w, const av_attr *a, uint32_t n)
{
    jw_c(w, '{');
    for (uint32_t i = 0; i < n; i++) {
        if (i) jw_c(w, ',');
        jw_str(w, a[i].name, a[i].name_len);
        jw_c(w, ':');
        jw_value(w, &a[i].value);
    }
    jw_c(w, '}');
}

static void jw_value(jw *w, const av *v)
{
    switch (v->type) {
    case AV_S: JW_LIT(w, "{\"S\":"); jw_str(w, v->u.bytes, v->len); break;
    case AV_N: JW_LIT(w, "{\"N\":"); jw_str(w, v->u.bytes, v->len); break;
    case AV_B: JW_LIT(w, "{\"B\":"); jw_b64(w, v->u.bytes, v->len); break;
    case AV_SS: case AV_NS: case AV_BS:
        JW_LIT(w, "{\"");
        jw_put(w, type_name(v->type), 2);
        JW_LIT(w, "\":[");
        for (uint32_t i = 0; i < v->len; i++) {
            if (i) jw_c(w, ',');
            if (v->type == AV_BS) jw_b64(w, v->u.elems[i].u.bytes, v->u.elems[i].len);
            else jw_str(w, v->u.elems[i].u.bytes, v->u.elems[i].len);
        }
        jw_c(w, ']');
        break;
    case AV_M: JW_LIT(w, "{\"M\":"); jw_attrs(w, v->u.attrs, v->len); break;
    case AV_L:
        JW_LIT(w, "{\"L\":[");
        for (uint32_t i = 0; i < v->len; i++) {
            if (i) jw_c(w, ',');
            jw_value(w, &v->u.elems[i]);
        }
        jw_c(w, ']');
        break;
    case AV_NULL: JW_LIT(w, "{\"NULL\":true"); break;
    case AV_BOOL:
        if (v->u.boolean) JW_LIT(w, "{\"BOOL\":true");
        else JW_LIT(w, "{\"BOOL\":false");
        break;
    default:
        if (!w->rc) w->rc = err_set(TM_EINVAL, "value of unknown type %d", (int)v->type);
        return;
    }
    jw_c(w, '}');
}

int item_write_json(const item *it, buf *out)
{
    jw w = {out, out->len, 0};
    jw_attrs(&w, it->root.u.attrs, it->root.len);
    return jw_finish(&w);
}

int av_write_json(const av *v, buf *out)
{
    jw w = {out, out->len, 0};
    jw_value(&w, v);
    return jw_finish(&w);
}

/* ================================================================================= */
/* Binary encoding                                                                   */
/* ================================================================================= */

static inline void jw_varint(jw *w, uint32_t v)
{
    if (!jw_need(w, 5)) return;
    unsigned char *o = (unsigned char *)w->b->data + w->b->len;
    size_t k = 0;
    while (v >= 0x80) {
        o[k++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    o[k++] = (unsigned char)v;
    w->b->len += k;
}

static void enc_value(jw *w, const av *v);

static void enc_attrs(jw *w, const av_attr *a, uint32_t n)
{
    jw_varint(w, n);
    for (uint32_t i = 0; i < n; i++) {
        jw_varint(w, a[i].name_len);
        jw_put(w, a[i].name, a[i].name_len);
        enc_value(w, &a[i].value);
    }
}

static void enc_value(jw *w, const av *v)
{
    jw_c(w, (char)v->type);
    switch (v->type) {
    case AV_S: case AV_N: case AV_B:
        jw_varint(w, v->len);
        jw_put(w, v->u.bytes, v->len);
        break;
    case AV_SS: case AV_NS: case AV_BS:
        jw_varint(w, v->len);
        for (uint32_t i = 0; i < v->len; i++) {
            jw_varint(w, v->u.elems[i].len);
            jw_put(w, v->u.elems[i].u.bytes, v->u.elems[i].len);
        }
        break;
    case AV_M: case AV_L: {
        if (!jw_need(w, 4)) return;
        size_t at = w->b->len;
        w->b->len += 4;
        if (v->type == AV_M) {
            enc_attrs(w, v->u.attrs, v->len);
        } else {
            jw_varint(w, v->len);
            for (uint32_t i = 0; i < v->len; i++) enc_value(w, &v->u.elems[i]);
        }
        if (!w->rc) {
            size_t body = w->b->len - at - 4;
            if (body > UINT32_MAX) w->rc = err_set(TM_ELIMIT, "map or list larger than 4 GB");
            else wr_u32le(w->b->data + at, (uint32_t)body);
        }
        break;
    }
    case AV_NULL:
        break;
    case AV_BOOL:
        jw_c(w, v->u.boolean ? 1 : 0);
        break;
    default:
        if (!w->rc) w->rc = err_set(TM_EINVAL, "value of unknown type %d", (int)v->type);
    }
}

int item_encode(const item *it, buf *out)
{
    jw w = {out, out->len, 0};
    jw_c(&w, ITEM_VERSION);
    enc_attrs(&w, it->root.u.attrs, it->root.len);
    return jw_finish(&w);
}

/* ---------- reading ---------- */

typedef struct rd {
    const unsigned char *p, *end;
} rd;

/* Minimal LEB128 < 2^32; -1 when truncated, overlong or too big. */
static inline int rd_len(rd *r, uint32_t *v)
{
    const unsigned char *p = r->p;
    if (p < r->end && *p < 0x80) {
        *v = *p;
        r->p = p + 1;
        return 0;
    }
    uint64_t x = 0;
    for (int i = 0; i < 5; i++) {
        if (p + i >= r->end) return -1;
        unsigned c = p[i];
        x |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            if (c == 0 || x > UINT32_MAX) return -1;
            *v = (uint32_t)x;
            r->p = p + i + 1;
            return 0;
        }
    }
    return -1;
}

/* A length-prefixed byte string. */
static inline int rd_bytes(rd *r, const unsigned char **s, uint32_t *n)
{
    if (rd_len(r, n) || (size_t)(r->end - r->p) < *n) return -1;
    *s = r->p;
    r->p += *n;
    return 0;
}

static int corrupt(const rd *r, const unsigned char *base, const char *what)
{
    return err_set(TM_ECORRUPT, "corrupt item encoding at byte %zu: %s",
                   (size_t)(r->p - base), what);
}

/* ---------- decode to a tree (validates every rule) ---------- */

typedef struct dc {
    item *it;
    const unsigned char *base;
} dc;

static int dec_attrs(dc *d, rd *r, int level, av *out);

static int dec_value(dc *d, rd *r, int level, av *out)
{
    if (r->p >= r->end) return corrupt(r, d->base, "truncated value");
    int t = *r->p++;
    const unsigned char *s;
    uint32_t n;
    out->type = (av_type)t;
    switch (t) {
    case AV_S: case AV_N: case AV_B:
        if (rd_bytes(r, &s, &n)) return corrupt(r, d->base, "bad string length");
        if (t == AV_S && !text_utf8_valid(s, n)) return corrupt(r, d->base, "invalid UTF-8 in S");
        if (t == AV_N) {
            char tmp[NUM_TEXT_MAX];
            const char *why;
            int k = num_canon((const char *)s, n, tmp, &why);
            if (k < 0 || (uint32_t)k != n || memcmp(tmp, s, n))
                return corrupt(r, d->base, "number not in canonical form");
        }
        if (!(out->u.bytes = arena_str(d->it, s, n)))
            return err_set(TM_ENOMEM, "out of memory decoding an item");
        out->len = n;
        return 0;
    case AV_SS: case AV_NS: case AV_BS: {
        if (rd_len(r, &n) || n == 0 || n > (size_t)(r->end - r->p))
            return corrupt(r, d->base, "bad set count");
        av *arr = arena_alloc(d->it, (size_t)n * sizeof *arr);
        if (!arr) return err_set(TM_ENOMEM, "out of memory decoding an item");
        int et = t == AV_SS ? AV_S : t == AV_NS ? AV_N : AV_B;
        for (uint32_t i = 0; i < n; i++) {
            const unsigned char *ms;
            uint32_t mn;
            if (rd_bytes(r, &ms, &mn)) return corrupt(r, d->base, "bad set member length");
            if (et == AV_S && !text_utf8_valid(ms, mn))
                return corrupt(r, d->base, "invalid UTF-8 in SS member");
            if (et == AV_N) {
                char tmp[NUM_TEXT_MAX];
                const char *why;
                int k = num_canon((const char *)ms, mn, tmp, &why);
                if (k < 0 || (uint32_t)k != mn || memcmp(tmp, ms, mn))
                    return corrupt(r, d->base, "number not in canonical form");
            }
            arr[i].type = (av_type)et;
            arr[i].len = mn;
            if (!(arr[i].u.bytes = arena_str(d->it, ms, mn)))
                return err_set(TM_ENOMEM, "out of memory decoding an item");
            if (i && member_cmp(&arr[i - 1], &arr[i]) >= 0)
                return corrupt(r, d->base, "set members not strictly increasing");
        }
        out->u.elems = arr;
        out->len = n;
        return 0;
    }
    case AV_M: case AV_L: {
        if ((size_t)(r->end - r->p) < 4) return corrupt(r, d->base, "truncated container");
        uint32_t body = rd_u32le(r->p);
        r->p += 4;
        if (body > (size_t)(r->end - r->p)) return corrupt(r, d->base, "container size too big");
        rd sub = {r->p, r->p + body};
        if (t == AV_M) {
            if (dec_attrs(d, &sub, level + 1, out)) return TM_ECORRUPT;
            out->type = AV_M;
        } else {
            if (rd_len(&sub, &n) || n > (size_t)(sub.end - sub.p))
                return corrupt(&sub, d->base, "bad list count");
            if (n && level + 1 > ITEM_MAX_DEPTH)
                return corrupt(&sub, d->base, "nesting deeper than 32 levels");
            av *arr = NULL;
            if (n && !(arr = arena_alloc(d->it, (size_t)n * sizeof *arr)))
                return err_set(TM_ENOMEM, "out of memory decoding an item");
            for (uint32_t i = 0; i < n; i++) {
                int rc = dec_value(d, &sub, level + 1, &arr[i]);
                if (rc) return rc;
            }
            out->u.elems = arr;
            out->len = n;
        }
        if (sub.p != sub.end) return corrupt(&sub, d->base, "container size mismatch");
        r->p = sub.end;
        return 0;
    }
    case AV_NULL:
        out->len = 0;
        out->u.bytes = NULL;
        return 0;
    case AV_BOOL:
        if (r->p >= r->end || *r->p > 1) return corrupt(r, d->base, "bad BOOL byte");
        out->len = 0;
        out->u.boolean = *r->p++;
        return 0;
    }
    r->p--;
    return corrupt(r, d->base, "unknown type byte");
}

static int dec_attrs(dc *d, rd *r, int level, av *out)
{
    uint32_t n;
    if (rd_len(r, &n) || n > (size_t)(r->end - r->p) / 3)
        return corrupt(r, d->base, "bad attribute count");
    if (n && level > ITEM_MAX_DEPTH) return corrupt(r, d->base, "nesting deeper than 32 levels");
    av_attr *arr = NULL;
    if (n && !(arr = arena_alloc(d->it, (size_t)n * sizeof *arr)))
        return err_set(TM_ENOMEM, "out of memory decoding an item");
    for (uint32_t i = 0; i < n; i++) {
        const unsigned char *s;
        uint32_t len;
        if (rd_bytes(r, &s, &len) || len == 0 || len > ITEM_MAX_NAME)
            return corrupt(r, d->base, "bad attribute name length");
        if (!text_utf8_valid(s, len)) return corrupt(r, d->base, "invalid UTF-8 in attribute name");
        if (!(arr[i].name = arena_str(d->it, s, len)))
            return err_set(TM_ENOMEM, "out of memory decoding an item");
        arr[i].name_len = len;
        if (i && attr_cmp(&arr[i - 1], &arr[i]) >= 0)
            return corrupt(r, d->base, "attribute names not strictly increasing");
        int rc = dec_value(d, r, level, &arr[i].value);
        if (rc) return rc;
    }
    out->type = AV_M;
    out->u.attrs = arr;
    out->len = n;
    return 0;
}

int item_decode(const void *p, size_t n, item **out)
{
    *out = NULL;
    item *it = item_alloc(n * 3 + 128);
    if (!it) return err_set(TM_ENOMEM, "out of memory decoding an item");
    dc d = {it, p};
    rd r = {p, (const unsigned char *)p + n};
    int rc;
    if (n < 1 || r.p[0] != ITEM_VERSION) {
        rc = corrupt(&r, d.base, n ? "unknown version byte" : "empty");
        goto out;
    }
    r.p++;
    if ((rc = dec_attrs(&d, &r, 1, &it->root))) goto out;
    if (r.p != r.end) {
        rc = corrupt(&r, d.base, "trailing bytes");
        goto out;
    }
    it->cap = it->root.len;
    *out = it;
    it = NULL;
out:
    item_free(it);
    return rc;
}

int av_decode_bin(const void *p, size_t n, item *arena_owner, av *out)
{
    dc d = {arena_owner, p};
    rd r = {p, (const unsigned char *)p + n};
    int rc = dec_value(&d, &r, 1, out);
    if (!rc && r.p != r.end) rc = corrupt(&r, d.base, "trailing bytes");
    return rc;
}

/* ---------- binary -> JSON without a tree (export hot path) ---------- */

static int bw_value(rd *r, jw *w, int level, const unsigned char *base);

static int bw_attrs(rd *r, jw *w, int level, const unsigned char *base)
{
    uint32_t n;
    if (rd_len(r, &n)) return corrupt(r, base, "bad attribute count");
    if (n && level > ITEM_MAX_DEPTH) return corrupt(r, base, "nesting deeper than 32 levels");
    jw_c(w, '{');
    for (uint32_t i = 0; i < n; i++) {
        const unsigned char *s;
        uint32_t len;
        if (rd_bytes(r, &s, &len)) return corrupt(r, base, "bad attribute name length");
        if (i) jw_c(w, ',');
        jw_str(w, s, len);
        jw_c(w, ':');
        int rc = bw_value(r, w, level, base);
        if (rc) return rc;
    }
    jw_c(w, '}');
    return 0;
}

static int bw_value(rd *r, jw *w, int level, const unsigned char *base)
{
    if (r->p >= r->end) return corrupt(r, base, "truncated value");
    int t = *r->p++;
    const unsigned char *s;
    uint32_t n;
    switch (t) {
    case AV_S: case AV_N:
        if (rd_bytes(r, &s, &n)) return corrupt(r, base, "bad string length");
        if (t == AV_S) JW_LIT(w, "{\"S\":");
        else JW_LIT(w, "{\"N\":");
        jw_str(w, s, n);
        break;
    case AV_B:
        if (rd_bytes(r, &s, &n)) return corrupt(r, base, "bad string length");
        JW_LIT(w, "{\"B\":");
        jw_b64(w, s, n);
        break;
    case AV_SS: case AV_NS: case AV_BS:
        if (rd_len(r, &n) || n == 0) return corrupt(r, base, "bad set count");
        JW_LIT(w, "{\"");
        jw_put(w, type_name(t), 2);
        JW_LIT(w, "\":[");
        for (uint32_t i = 0; i < n; i++) {
            uint32_t mn;
            if (rd_bytes(r, &s, &mn)) return corrupt(r, base, "bad set member length");
            if (i) jw_c(w, ',');
            if (t == AV_BS) jw_b64(w, s, mn);
            else jw_str(w, s, mn);
        }
        jw_c(w, ']');
        break;
    case AV_M: case AV_L: {
        if ((size_t)(r->end - r->p) < 4) return corrupt(r, base, "truncated container");
        uint32_t body = rd_u32le(r->p);
        r->p += 4;
        if (body > (size_t)(r->end - r->p)) return corrupt(r, base, "container size too big");
        rd sub = {r->p, r->p + body};
        int rc;
        if (t == AV_M) {
            JW_LIT(w, "{\"M\":");
            if ((rc = bw_attrs(&sub, w, level + 1, base))) return rc;
        } else {
            if (rd_len(&sub, &n)) return corrupt(&sub, base, "bad list count");
            if (n && level + 1 > ITEM_MAX_DEPTH)
                return corrupt(&sub, base, "nesting deeper than 32 levels");
            JW_LIT(w, "{\"L\":[");
            for (uint32_t i = 0; i < n; i++) {
                if (i) jw_c(w, ',');
                if ((rc = bw_value(&sub, w, level + 1, base))) return rc;
            }
            jw_c(w, ']');
        }
        if (sub.p != sub.end) return corrupt(&sub, base, "container size mismatch");
        r->p = sub.end;
        break;
    }
    case AV_NULL:
        JW_LIT(w, "{\"NULL\":true");
        break;
    case AV_BOOL:
        if (r->p >= r->end || *r->p > 1) return corrupt(r, base, "bad BOOL byte");
        if (*r->p++) JW_LIT(w, "{\"BOOL\":true");
        else JW_LIT(w, "{\"BOOL\":false");
        break;
    default:
        r->p--;
        return corrupt(r, base, "unknown type byte");
    }
    jw_c(w, '}');
    return 0;
}

int item_bin_write_json(const void *p, size_t n, buf *out)
{
    rd r = {p, (const unsigned char *)p + n};
    jw w = {out, out->len, 0};
    int rc;
    if (n < 1 || r.p[0] != ITEM_VERSION) {
        rc = corrupt(&r, p, n ? "unknown version byte" : "empty");
        goto out;
    }
    r.p++;
    if ((rc = bw_attrs(&r, &w, 1, p))) goto out;
    if (r.p != r.end) rc = corrupt(&r, p, "trailing bytes");
out:
    if (rc && !w.rc) w.rc = rc;
    return jw_finish(&w);
}

/* Skips one encoded value. */
static int skip_value(rd *r)
{
    if (r->p >= r->end) return -1;
    int t = *r->p++;
    const unsigned char *s;
    uint32_t n, mn;
    switch (t) {
    case AV_S: case AV_N: case AV_B:
        return rd_bytes(r, &s, &n);
    case AV_SS: case AV_NS: case AV_BS:
        if (rd_len(r, &n)) return -1;
        for (uint32_t i = 0; i < n; i++)
            if (rd_bytes(r, &s, &mn)) return -1;
        return 0;
    case AV_M: case AV_L:
        if ((size_t)(r->end - r->p) < 4) return -1;
        n = rd_u32le(r->p);
        r->p += 4;
        if (n > (size_t)(r->end - r->p)) return -1;
        r->p += n;
        return 0;
    case AV_NULL:
        return 0;
    case AV_BOOL:
        if (r->p >= r->end) return -1;
        r->p++;
        return 0;
    }
    return -1;
}

int item_bin_find(const void *p, size_t n, const char *name, size_t name_len,
                  const void **vp, size_t *vn)
{
    rd r = {p, (const unsigned char *)p + n};
    uint32_t cnt;
    *vp = NULL;
    *vn = 0;
    if (n < 1 || r.p[0] != ITEM_VERSION) return corrupt(&r, p, n ? "unknown version byte" : "empty");
    r.p++;
    if (rd_len(&r, &cnt)) return corrupt(&r, p, "bad attribute count");
    for (uint32_t i = 0; i < cnt; i++) {
        const unsigned char *s;
        uint32_t len;
        if (rd_bytes(&r, &s, &len)) return corrupt(&r, p, "bad attribute name length");
        int c = bytes_cmp(s, len, name, name_len);
        const unsigned char *v = r.p;
        if (skip_value(&r)) return corrupt(&r, p, "bad value");
        if (c == 0) {
            *vp = v;
            *vn = (size_t)(r.p - v);
            return 0;
        }
        if (c > 0) return 0;     /* names are sorted: it is absent */
    }
    return 0;
}

int item_bin_write_keys_json(const void *p, size_t n, const char *const *names, int count, buf *out)
{
    jw w = {out, out->len, 0};
    jw_c(&w, '{');
    int first = 1;
    for (int i = 0; i < count && !w.rc; i++) {
        const void *vp;
        size_t vn;
        int rc = item_bin_find(p, n, names[i], strlen(names[i]), &vp, &vn);
        if (rc) { w.rc = rc; break; }
        if (!vp) continue;
        if (!first) jw_c(&w, ',');
        first = 0;
        jw_str(&w, names[i], strlen(names[i]));
        jw_c(&w, ':');
        rd r = {vp, (const unsigned char *)vp + vn};
        rc = bw_value(&r, &w, 1, p);
        if (rc && !w.rc) w.rc = rc;
    }
    jw_c(&w, '}');
    return jw_finish(&w);
}

/* ================================================================================= */
/* Items                                                                             */
/* ================================================================================= */

item *item_new(void) { return item_alloc(256); }

void item_free(item *it)
{
    if (!it) return;
    while (it->cur != it->inl) {
        ablk *p = it->cur->prev;
        free(it->cur);
        it->cur = p;
    }
    free(it);
}

uint32_t item_count(const item *it) { return it->root.len; }

const av_attr *item_attr(const item *it, uint32_t i)
{
    return i < it->root.len ? &it->root.u.attrs[i] : NULL;
}

/* Index of name in the sorted attrs, or -(insertion point) - 1. */
static long attr_find(const av *m, const char *name, size_t len)
{
    long lo = 0, hi = (long)m->len - 1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        const av_attr *a = &m->u.attrs[mid];
        int c = bytes_cmp(a->name, a->name_len, name, len);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -lo - 1;
}

const av *item_get(const item *it, const char *name)
{
    long i = attr_find(&it->root, name, strlen(name));
    return i >= 0 ? &it->root.u.attrs[i].value : NULL;
}

static size_t av_size(const av *v)
{
    size_t s = 0;
    switch (v->type) {
    case AV_S: case AV_B: return v->len;
    case AV_N: return num_size(v->u.bytes, v->len);
    case AV_SS: case AV_BS:
        for (uint32_t i = 0; i < v->len; i++) s += v->u.elems[i].len;
        return s;
    case AV_NS:
        for (uint32_t i = 0; i < v->len; i++) s += num_size(v->u.elems[i].u.bytes, v->u.elems[i].len);
        return s;
    case AV_M:
        s = 3;
        for (uint32_t i = 0; i < v->len; i++)
            s += v->u.attrs[i].name_len + av_size(&v->u.attrs[i].value) + 1;
        return s;
    case AV_L:
        s = 3;
        for (uint32_t i = 0; i < v->len; i++) s += av_size(&v->u.elems[i]) + 1;
        return s;
    case AV_NULL: case AV_BOOL: return 1;
    }
    return 0;
}

size_t item_size(const item *it)
{
    size_t s = 0;
    for (uint32_t i = 0; i < it->root.len; i++)
        s += it->root.u.attrs[i].name_len + av_size(&it->root.u.attrs[i].value);
    return s;
}

int item_encoded_size(const void *p, size_t n, uint32_t *size)
{
    item *it;
    int rc = item_decode(p, n, &it);
    if (rc) return rc;
    *size = (uint32_t)item_size(it);
    item_free(it);
    return 0;
}

int item_check_size(const item *it) { return check_size_named(it); }

/* Deep copy into it's arena. With check, validates and canonicalises what the caller built by
 * hand: UTF-8, numbers, depth, names; maps sorted (duplicate names rejected), sets sorted with
 * duplicates dropped (empty sets rejected). */
static int av_copy(item *it, const av *src, av *dst, int level, int check, path *pa)
{
    *dst = *src;
    switch (src->type) {
    case AV_S: case AV_B: case AV_N:
        if (check && src->len && !src->u.bytes)
            return path_fail(pa, TM_EINVAL, "%s value with NULL bytes", type_name(src->type));
        if (check && src->type == AV_S && !text_utf8_valid(src->u.bytes, src->len))
            return path_fail(pa, TM_EINVAL, "invalid UTF-8 in string");
        if (check && src->type == AV_N) {
            char tmp[NUM_TEXT_MAX];
            const char *why;
            int k = num_canon(src->u.bytes, src->len, tmp, &why);
            if (k < 0) {
                char q[300];
                quote_bytes(src->u.bytes, src->len, q, sizeof q);
                return path_fail(pa, TM_EINVAL, "invalid number \"%s\": %s", q, why);
            }
            dst->u.bytes = arena_str(it, tmp, (size_t)k);
            dst->len = (uint32_t)k;
        } else {
            dst->u.bytes = arena_str(it, src->u.bytes, src->len);
        }
        if (!dst->u.bytes) return err_set(TM_ENOMEM, "out of memory copying a value");
        return 0;
    case AV_SS: case AV_NS: case AV_BS: case AV_L: {
        int set = src->type != AV_L;
        if (set && src->len == 0)
            return path_fail(pa, TM_EINVAL, "empty %s (a set needs at least one element)",
                             set_name(src->type));
        if (!set && src->len && check && level + 1 > ITEM_MAX_DEPTH)
            return path_fail(pa, TM_ELIMIT, "nesting deeper than %d levels", ITEM_MAX_DEPTH);
        av *arr = NULL;
        if (src->len && !(arr = arena_alloc(it, (size_t)src->len * sizeof *arr)))
            return err_set(TM_ENOMEM, "out of memory copying a value");
        av_type et = src->type == AV_SS ? AV_S : src->type == AV_NS ? AV_N : AV_B;
        for (uint32_t i = 0; i < src->len; i++) {
            if (set && check && src->u.elems[i].type != et)
                return path_fail(pa, TM_EINVAL, "%s member of type %s", set_name(src->type),
                                 type_name(src->u.elems[i].type));
            if (!set) path_push(pa, NULL, 0, i);
            int rc = av_copy(it, &src->u.elems[i], &arr[i], level + 1, check, pa);
            if (rc) return rc;
            if (!set) path_pop(pa);
        }
        uint32_t n = src->len;
        if (set && check) {
            sort_members(arr, n);
            uint32_t k = 0;
            for (uint32_t i = 0; i < n; i++)
                if (!k || member_cmp(&arr[k - 1], &arr[i])) arr[k++] = arr[i];
            n = k;
        }
        dst->u.elems = arr;
        dst->len = n;
        return 0;
    }
    case AV_M: {
        if (src->len && check && level + 1 > ITEM_MAX_DEPTH)
            return path_fail(pa, TM_ELIMIT, "nesting deeper than %d levels", ITEM_MAX_DEPTH);
        av_attr *arr = NULL;
        if (src->len && !(arr = arena_alloc(it, (size_t)src->len * sizeof *arr)))
            return err_set(TM_ENOMEM, "out of memory copying a value");
        for (uint32_t i = 0; i < src->len; i++) {
            const av_attr *a = &src->u.attrs[i];
            if (check && (a->name_len == 0 || a->name_len > ITEM_MAX_NAME || !a->name ||
                          !text_utf8_valid(a->name, a->name_len)))
                return path_fail(pa, TM_EINVAL, "invalid attribute name (empty, longer than %d "
                                 "bytes or not UTF-8)", ITEM_MAX_NAME);
            arr[i].name_len = a->name_len;
            if (!(arr[i].name = arena_str(it, a->name, a->name_len)))
                return err_set(TM_ENOMEM, "out of memory copying a value");
            path_push(pa, a->name, a->name_len, 0);
            int rc = av_copy(it, &a->value, &arr[i].value, level + 1, check, pa);
            if (rc) return rc;
            path_pop(pa);
        }
        if (check) {
            sort_attrs(arr, src->len);
            for (uint32_t i = 1; i < src->len; i++)
                if (!attr_cmp(&arr[i - 1], &arr[i])) {
                    path_push(pa, arr[i].name, arr[i].name_len, 0);
                    return path_fail(pa, TM_EINVAL, "duplicate attribute name");
                }
        }
        dst->u.attrs = arr;
        return 0;
    }
    case AV_NULL:
        return 0;
    case AV_BOOL:
        dst->u.boolean = !!src->u.boolean;
        return 0;
    }
    return path_fail(pa, TM_EINVAL, "value of unknown type %d", (int)src->type);
}

item *item_dup(const item *it)
{
    if (!it) return NULL;
    size_t used = 0;
    for (const ablk *b = it->cur; b; b = b->prev) used += b->used;
    item *d = item_alloc(used + 64);
    if (!d) return NULL;
    path pa = {.n = 0};
    if (av_copy(d, &it->root, &d->root, 0, 0, &pa)) {
        item_free(d);
        return NULL;
    }
    d->cap = d->root.len;
    return d;
}

int item_put(item *it, const char *name, const av *v)
{
    size_t len = strlen(name);
    path pa = {.n = 0};
    path_push(&pa, name, (uint32_t)(len > UINT32_MAX ? UINT32_MAX : len), 0);
    if (len == 0) return err_set(TM_EINVAL, "empty attribute name");
    if (len > ITEM_MAX_NAME)
        return path_fail(&pa, TM_ELIMIT, "attribute name longer than %d bytes", ITEM_MAX_NAME);
    if (!text_utf8_valid(name, len)) return path_fail(&pa, TM_EINVAL, "attribute name is not UTF-8");
    av copy;
    int rc = av_copy(it, v, &copy, 1, 1, &pa);
    if (rc) return rc;
    long i = attr_find(&it->root, name, len);
    if (i >= 0) {
        it->root.u.attrs[i].value = copy;
        return 0;
    }
    const char *nm = arena_str(it, name, len);
    if (!nm) return err_set(TM_ENOMEM, "out of memory adding an attribute");
    size_t at = (size_t)(-i - 1);
    if (it->root.len == it->cap) {
        uint32_t nc = it->cap ? it->cap * 2 : 8;
        av_attr *arr = arena_alloc(it, (size_t)nc * sizeof *arr);
        if (!arr) return err_set(TM_ENOMEM, "out of memory adding an attribute");
        if (it->root.len) memcpy(arr, it->root.u.attrs, it->root.len * sizeof *arr);
        it->root.u.attrs = arr;
        it->cap = nc;
    }
    av_attr *a = it->root.u.attrs;
    memmove(a + at + 1, a + at, (it->root.len - at) * sizeof *a);
    a[at].name = nm;
    a[at].name_len = (uint32_t)len;
    a[at].value = copy;
    it->root.len++;
    return 0;
}

int item_remove(item *it, const char *name)
{
    long i = attr_find(&it->root, name, strlen(name));
    if (i < 0) return 0;
    av_attr *a = it->root.u.attrs;
    memmove(a + i, a + i + 1, (it->root.len - (size_t)i - 1) * sizeof *a);
    it->root.len--;
    return 0;
}
