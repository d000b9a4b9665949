/* text.h: the small text helpers every module shares, one copy each: JSON string quoting,
 * base64 (standard alphabet, '=' padding), UTF-8 validation and human-readable sizes.
 *
 * The DynamoDB JSON codec (item.c) writes and parses through these, so they are on the export
 * and import hot paths: the JSON quoter scans eight bytes at a time, and the UTF-8 sequence
 * check is inline for the parser's per-character loop. */
#ifndef TIDEMARK_TEXT_H
#define TIDEMARK_TEXT_H

#include "engine/buf.h"

#include <stddef.h>
#include <stdint.h>

/* ---- JSON strings ---------------------------------------------------------------------- */

/* Flags for text_json_str. */
enum {
    /* For untrusted bytes (log lines, messages): invalid UTF-8 becomes \ufffd and DEL \u007f,
     * so the output is valid JSON whatever the input. Without it, bytes >= 0x80 pass as they
     * are (the caller has validated them, as the item codec does). */
    TEXT_JSON_SAFE = 1,
};

/* Appends s[0..n) as a quoted JSON string: '"' and '\\' escaped, \b \f \n \r \t as such, other
 * controls as \u00XX. 0, or TM_ENOMEM / TM_ELIMIT from the buffer (b keeps what it had). */
int text_json_str(buf *b, const void *s, size_t n, unsigned flags);

/* The same for a NUL-terminated string, TEXT_JSON_SAFE; NULL is written as null. */
int text_json_cstr(buf *b, const char *s);

/* ---- base64 ---------------------------------------------------------------------------- */

/* Encoded length of n bytes: 4 ceil(n / 3). */
#define TEXT_B64_LEN(n) (((n) + 2) / 3 * 4)

/* Writes the encoding of p[0..n) and a NUL to out (TEXT_B64_LEN(n) + 1 bytes); returns the
 * encoded length. */
size_t text_b64(const void *p, size_t n, char *out);

/* Appends the encoding to out. 0 or the buffer's error. */
int text_b64_encode(const void *p, size_t n, buf *out);

/* Decodes strict padded base64 s[0..n) into o (room for n / 4 * 3 bytes). Returns the byte
 * count, or -1 with *why (a static string) and *at (the offending offset) set. */
long text_b64_decode_raw(const void *s, size_t n, unsigned char *o, const char **why, size_t *at);

/* Appends the decoding to out. TM_EINVAL (with the offset and reason) on bad input. */
int text_b64_decode(const char *s, size_t n, buf *out);

/* Decodes the 24-character canonical encoding of exactly 16 bytes (an MD5). 0, or -1. */
int text_b64_decode16(const char *s, size_t n, unsigned char out[16]);

/* ---- UTF-8 ----------------------------------------------------------------------------- */

/* Length (1..4) of the valid UTF-8 sequence at p, with left > 0 bytes available, or 0 if it is
 * invalid (stray continuation, overlong, surrogate, above U+10FFFF, truncated). */
static inline size_t text_utf8_seq(const void *pv, size_t left)
{
    const unsigned char *p = pv;
    unsigned c = p[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        if (left < 2 || (p[1] & 0xC0) != 0x80) return 0;
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && p[1] < 0xA0) return 0;
        if (c == 0xED && p[1] > 0x9F) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && p[1] < 0x90) return 0;
        if (c == 0xF4 && p[1] > 0x8F) return 0;
        return 4;
    }
    return 0;
}

/* 1 if s[0..n) is valid UTF-8, else 0. */
int text_utf8_valid(const void *s, size_t n);

/* ---- sizes ----------------------------------------------------------------------------- */

/* A byte count for people: "512 B", "1.5 KiB", "3.2 GiB" (binary units, up to TiB). */
void text_human_bytes(double bytes, char *out, size_t n);

/* A size as people write it on a command line: decimal digits, then an optional binary unit
 * K, M, G or T (either case; 1K = 1024), an optional 'i' after the unit and an optional 'B':
 * "4096", "64M", "8KiB", "1gb". No sign, space, fraction or overflow. 0 with *out set, or
 * TM_EINVAL with the reason as the error detail (*out untouched). Zero is a size: callers
 * check their own range. */
int text_parse_size(const char *s, uint64_t *out);

#endif
