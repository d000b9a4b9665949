/* text.c: the one copy of the small text helpers (JSON string quoting, base64, UTF-8, sizes)
 * that the item codec, manifests, error logs, the store and the programs share. */
#include "engine/text.h"
#include "engine/err.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ================================================================================= */
/* JSON strings                                                                      */
/* ================================================================================= */

/* 1 for bytes that need escaping in a JSON string. */
static const unsigned char esc_tab[256] = {
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
    0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,
};

/* Offset of the first byte from i on that is < 0x20, '"' or '\\' (or n). Eight bytes at a time
 * (exact word tests), then byte by byte: text attributes are the export's bulk. */
static size_t plain_run(const unsigned char *s, size_t i, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    while (i + 8 <= n) {
        uint64_t x, q, b;
        memcpy(&x, s + i, 8);
        q = x ^ (ones * 0x22);
        b = x ^ (ones * 0x5C);
        if (((x - ones * 0x20) & ~x & high) | ((q - ones) & ~q & high) | ((b - ones) & ~b & high))
            break;
        i += 8;
    }
    while (i < n && !esc_tab[s[i]]) i++;
    return i;
}

/* The same for TEXT_JSON_SAFE: also stops at DEL and every byte >= 0x80. */
static size_t plain_run_safe(const unsigned char *s, size_t i, size_t n)
{
    while (i < n && !esc_tab[s[i]] && s[i] < 0x7f) i++;
    return i;
}

/* The escape for byte c into e; returns its length. */
static size_t escape_byte(unsigned char c, char e[6])
{
    static const char hex[] = "0123456789abcdef";
    e[0] = '\\';
    switch (c) {
    case '"': e[1] = '"'; return 2;
    case '\\': e[1] = '\\'; return 2;
    case '\b': e[1] = 'b'; return 2;
    case '\f': e[1] = 'f'; return 2;
    case '\n': e[1] = 'n'; return 2;
    case '\r': e[1] = 'r'; return 2;
    case '\t': e[1] = 't'; return 2;
    default:
        e[1] = 'u'; e[2] = '0'; e[3] = '0';
        e[4] = hex[c >> 4];
        e[5] = hex[c & 15];
        return 6;
    }
}

int text_json_str(buf *b, const void *sv, size_t n, unsigned flags)
{
    const unsigned char *s = sv;
    size_t len0 = b->len;
    int safe = (flags & TEXT_JSON_SAFE) != 0;
    /* Room for the plain case (quotes + NUL); escapes reserve their extra bytes as they come. */
    int rc = buf_reserve(b, n + 2);
    if (rc) return rc;
    b->data[b->len++] = '"';
    size_t i = 0;
    while (i < n) {
        size_t k = safe ? plain_run_safe(s, i, n) : plain_run(s, i, n);
        memcpy(b->data + b->len, s + i, k - i);
        b->len += k - i;
        if (k == n) break;
        char e[6];
        size_t m, used = 1;
        if (s[k] < 0x7f || (!safe && s[k] >= 0x80)) {
            m = escape_byte(s[k], e);
        } else if (s[k] == 0x7f) {
            memcpy(e, "\\u007f", 6);
            m = 6;
        } else if ((used = text_utf8_seq(s + k, n - k)) != 0) {
            memcpy(b->data + b->len, s + k, used);   /* room: counted in n */
            b->len += used;
            i = k + used;
            continue;
        } else {
            memcpy(e, "\\ufffd", 6);
            m = 6;
            used = 1;
        }
        /* the escape, the rest of the input and the closing quote */
        if ((rc = buf_reserve(b, m + (n - k - used) + 1))) {
            b->len = len0;
            b->data[len0] = '\0';
            return rc;
        }
        memcpy(b->data + b->len, e, m);
        b->len += m;
        i = k + used;
    }
    b->data[b->len++] = '"';
    b->data[b->len] = '\0';
    return 0;
}

int text_json_cstr(buf *b, const char *s)
{
    return s ? text_json_str(b, s, strlen(s), TEXT_JSON_SAFE) : buf_puts(b, "null");
}

/* ================================================================================= */
/* Base64                                                                            */
/* ================================================================================= */

static const char b64_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63 for alphabet characters, 64 for '=', 255 otherwise. */
static const unsigned char b64_val[256] = {
#define X 255
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,62,X,X,X,63, 52,53,54,55,56,57,58,59,60,61,X,X,X,64,X,X,
    X,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14, 15,16,17,18,19,20,21,22,23,24,25,X,X,X,X,X,
    X,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40, 41,42,43,44,45,46,47,48,49,50,51,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
    X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X, X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,X,
#undef X
};

size_t text_b64(const void *pv, size_t n, char *o)
{
    const unsigned char *p = pv;
    char *o0 = o;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        o[0] = b64_alpha[v >> 18];
        o[1] = b64_alpha[(v >> 12) & 63];
        o[2] = b64_alpha[(v >> 6) & 63];
        o[3] = b64_alpha[v & 63];
        o += 4;
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        o[0] = b64_alpha[v >> 18];
        o[1] = b64_alpha[(v >> 12) & 63];
        o[2] = o[3] = '=';
        o += 4;
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        o[0] = b64_alpha[v >> 18];
        o[1] = b64_alpha[(v >> 12) & 63];
        o[2] = b64_alpha[(v >> 6) & 63];
        o[3] = '=';
        o += 4;
    }
    *o = '\0';
    return (size_t)(o - o0);
}

int text_b64_encode(const void *p, size_t n, buf *out)
{
    int rc = buf_reserve(out, TEXT_B64_LEN(n));
    if (rc) return rc;
    out->len += text_b64(p, n, out->data + out->len);
    return 0;
}

long text_b64_decode_raw(const void *sv, size_t n, unsigned char *o, const char **why, size_t *at)
{
    const unsigned char *s = sv;
    if (n % 4) {
        *why = "length is not a multiple of 4";
        *at = n;
        return -1;
    }
    unsigned char *o0 = o;
    for (size_t i = 0; i < n; i += 4) {
        unsigned a = b64_val[s[i]], b = b64_val[s[i + 1]], c = b64_val[s[i + 2]],
                 d = b64_val[s[i + 3]];
        int last = i + 4 == n;
        if ((a | b | c | d) < 64) {
            uint32_t v = a << 18 | b << 12 | c << 6 | d;
            o[0] = (unsigned char)(v >> 16);
            o[1] = (unsigned char)(v >> 8);
            o[2] = (unsigned char)v;
            o += 3;
            continue;
        }
        /* padding: only "xx==" or "xxx=" in the last quad */
        size_t bad = a > 63 ? i : b > 63 ? i + 1 : c > 64 ? i + 2 : d > 64 ? i + 3 : n;
        if (bad == n && last) {
            if (c == 64 && d == 64) {
                o[0] = (unsigned char)(a << 2 | b >> 4);
                o += 1;
                continue;
            }
            if (c < 64 && d == 64) {
                uint32_t v = a << 18 | b << 12 | c << 6;
                o[0] = (unsigned char)(v >> 16);
                o[1] = (unsigned char)(v >> 8);
                o += 2;
                continue;
            }
        }
        if (bad == n) bad = c == 64 ? i + 2 : i + 3;
        *why = (b64_val[s[bad]] == 64) ? "misplaced '=' padding" : "invalid character";
        *at = bad;
        return -1;
    }
    return (long)(o - o0);
}

int text_b64_decode(const char *s, size_t n, buf *out)
{
    int rc = buf_reserve(out, n / 4 * 3);
    if (rc) return rc;
    const char *why;
    size_t at;
    long k = text_b64_decode_raw(s, n, (unsigned char *)out->data + out->len, &why, &at);
    if (k < 0) {
        out->data[out->len] = '\0';
        return err_set(TM_EINVAL, "invalid base64 at offset %zu: %s", at, why);
    }
    out->len += (size_t)k;
    out->data[out->len] = '\0';
    return 0;
}

int text_b64_decode16(const char *s, size_t n, unsigned char out[16])
{
    unsigned char d[18];
    char enc[25];
    const char *why;
    size_t at;
    if (n != 24 || text_b64_decode_raw(s, n, d, &why, &at) != 16) return -1;
    /* 16 bytes have exactly one canonical encoding: re-encode to insist on it */
    text_b64(d, 16, enc);
    if (memcmp(enc, s, 24) != 0) return -1;
    memcpy(out, d, 16);
    return 0;
}

/* ================================================================================= */
/* UTF-8                                                                             */
/* ================================================================================= */

int text_utf8_valid(const void *sv, size_t n)
{
    const unsigned char *s = sv;
    size_t i = 0;
    while (i < n) {
        /* ASCII eight bytes at a time */
        uint64_t x;
        while (i + 8 <= n && (memcpy(&x, s + i, 8), !(x & 0x8080808080808080ULL))) i += 8;
        if (i == n) break;
        size_t k = text_utf8_seq(s + i, n - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

/* ================================================================================= */
/* Sizes                                                                             */
/* ================================================================================= */

void text_human_bytes(double b, char *out, size_t n)
{
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4) { b /= 1024; i++; }
    snprintf(out, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

int text_parse_size(const char *s, uint64_t *out)
{
    static const char units[] = "KMGT";
    const char *p = s;
    uint64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) goto big;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    int digits = p > s, c = *p & ~0x20, shift = 0;
    const char *u = c ? strchr(units, c) : NULL;
    if (u) {
        shift = 10 * (int)(u - units + 1);
        if (*++p == 'i' || *p == 'I') p++;
    }
    if (*p == 'b' || *p == 'B') p++;
    if (!digits || *p)
        return err_set(TM_EINVAL, "bad size '%s': a number of bytes with an optional K, M, G or"
                                  " T suffix (1K = 1024)", s);
    if (shift && v > UINT64_MAX >> shift) goto big;
    *out = v << shift;
    return 0;
big:
    return err_set(TM_EINVAL, "bad size '%s': too large", s);
}
