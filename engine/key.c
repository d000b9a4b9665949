/* key.c: key schemas, the order-preserving encoding of S/N/B key values, LMDB keys and the
 * partition hash.
 *
 * KEY ENCODING
 *
 * PURPOSE
 *   LMDB orders keys by memcmp. An item's LMDB key is built so that memcmp order groups each
 *   partition together and, inside a partition, follows DynamoDB's sort-key order (S and B by
 *   unsigned bytes, N by numeric value). These bytes are stored (LMDB keys, change-log records),
 *   so the encoding never changes for existing tables.
 *
 * LMDB KEY
 *   offset  size      field
 *   0       4         key_hash(pk), big-endian (scan segments and export partitions are
 *                     contiguous hash ranges)
 *   4       <= 64     PK FORM: enc(pk), or its long form when enc(pk) > 64 bytes
 *   ...     <= 443    SK FORM: enc(sk), or its long form when enc(sk) > 443 bytes; absent
 *                     when the table has no sort key
 *   Total <= 4 + 64 + 443 = 511 = KEY_ENC_MAX (LMDB's limit in Debian's build).
 *
 * enc(S), enc(B): the bytes with each 0x00 written as 0x00 0xFF, then the terminator 0x00 0x00.
 *   Unsigned byte order is kept ("a" < "a\0" < "ab": 61 00 00 < 61 00 FF 00 00 < 61 62 00 00)
 *   and no encoding is a prefix of another, so P | enc(sk) compares as (P, sk).
 *
 * enc(N): value = sign x 0.d1d2...dk x 10^E with d1 != 0, k <= 38 and E in -129..126
 *   (1E-130 = 0.1 x 10^-129; 9.99..E+125 = 0.999.. x 10^126), so E + 129 fits one byte.
 *     zero      0x20
 *     positive  0x30, E + 129, mantissa bytes
 *     negative  0x10, 255 - (E + 129), mantissa bytes each complemented (255 - b)
 *   Mantissa bytes: the digits in pairs (an odd count gets a trailing 0), pair value x in
 *   0..99 written 2x + 1, except the last pair written 2x. So a shorter mantissa that is a
 *   prefix of a longer one sorts first (2x < 2x + 1) and the last byte (even) ends the number.
 *   Negative numbers complement everything after the sign byte, which reverses their order.
 *   Longest: 1 + 1 + 19 = 21 bytes.
 *
 * LONG FORM (the 511-byte limit)
 *   A PK FORM longer than 64 bytes or an SK FORM longer than 443 bytes (S or B only) becomes:
 *     the first 46 (pk) or 425 (sk) bytes of enc(v), one less if that would split a 0x00 0xFF
 *     escape; then the marker 0x00 0x01; then XXH3-128 of the whole enc(v) (16 bytes,
 *     big-endian: high 64 bits first).
 *   0x00 0x01 never occurs in a short form (0x00 is always followed by 0x00 or 0xFF there), so
 *   forms stay prefix-free and keys unique: two different long values get different hashes.
 *   The pk form depends on pk alone, so key_encode_partition is an exact, unique prefix of every
 *   key of the partition; the sk form depends on sk alone, so key_encode_value gives the same
 *   bytes that stored keys hold and equality lookups work.
 *   KNOWN LIMITATION: sort keys whose encodings share their first 425 bytes are ordered by hash,
 *   not by value, among themselves and against shorter sort keys with that same prefix. Order of
 *   partition keys never matters (partitions are ordered by hash anyway).
 *
 * PARTITION HASH
 *   key_hash(pk) = low 32 bits of XXH3_64bits_withSeed(raw bytes, seed = av_type): S its UTF-8,
 *   B its raw bytes, N its canonical text. XXH3's output is frozen since xxHash 0.8.0; the hash
 *   decides stored key order, so it must never change.
 *
 * COMPATIBILITY
 *   All of the above is stored. A change needs a new table format version. */
#include "engine/key.h"
#include "engine/err.h"

#include <cjson/cJSON.h>
#include <xxhash.h>

#include <stdio.h>
#include <string.h>

/* The two budgets of the LMDB key, after the 4-byte hash. */
#define KEY_PK_FORM_MAX 64
#define KEY_SK_FORM_MAX (KEY_ENC_MAX - 4 - KEY_PK_FORM_MAX)
#define KEY_LONG_TAIL   18       /* marker 0x00 0x01 + 16-byte hash */

int key_parse_spec(const char *spec, char *name, av_type *type)
{
    const char *colon = strrchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : 0;
    if (!colon || n == 0 || strlen(colon + 1) != 1)
        return err_set(TM_EINVAL, "key spec '%s': expected NAME:TYPE with TYPE S, N or B", spec);
    if (n > KEY_NAME_MAX)
        return err_set(TM_EINVAL, "key spec '%s': name longer than %d bytes", spec, KEY_NAME_MAX);
    switch (colon[1]) {
    case 'S': *type = AV_S; break;
    case 'N': *type = AV_N; break;
    case 'B': *type = AV_B; break;
    default:
        return err_set(TM_EINVAL, "key spec '%s': type '%c' is not S, N or B", spec, colon[1]);
    }
    memcpy(name, spec, n);
    name[n] = '\0';
    return 0;
}

/* The S/N/B type AttributeDefinitions give name; 0 if none. */
static av_type def_type(const cJSON *defs, const char *name)
{
    const cJSON *d;
    cJSON_ArrayForEach(d, defs) {
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "AttributeName"));
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "AttributeType"));
        if (n && t && !strcmp(n, name))
            return !strcmp(t, "S") ? AV_S : !strcmp(t, "N") ? AV_N : !strcmp(t, "B") ? AV_B : 0;
    }
    return 0;
}

int key_schema_from_json(const cJSON *obj, key_schema *ks)
{
    const cJSON *sch = cJSON_GetObjectItemCaseSensitive(obj, "KeySchema");
    const cJSON *defs = cJSON_GetObjectItemCaseSensitive(obj, "AttributeDefinitions"), *k;
    memset(ks, 0, sizeof *ks);
    if (!cJSON_IsArray(sch) || !cJSON_GetArraySize(sch))
        return err_set(TM_EINVAL, "KeySchema is required: a HASH key, and optionally a RANGE key");
    cJSON_ArrayForEach(k, sch) {
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "AttributeName"));
        const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "KeyType"));
        int range = role && !strcmp(role, "RANGE");
        if (!n || !*n || strlen(n) > KEY_NAME_MAX || !role || (!range && strcmp(role, "HASH")))
            return err_set(TM_EINVAL, "KeySchema: each element needs an AttributeName and a KeyType of "
                           "HASH or RANGE");
        av_type t = def_type(defs, n);
        if (!t)
            return err_set(TM_EINVAL, "AttributeDefinitions: no type S, N or B for key attribute '%s'", n);
        if ((range ? ks->range_type : ks->hash_type))
            return err_set(TM_EINVAL, "KeySchema: more than one %s key", role);
        snprintf(range ? ks->range_name : ks->hash_name, KEY_NAME_MAX + 1, "%s", n);
        *(range ? &ks->range_type : &ks->hash_type) = t;
    }
    if (!ks->hash_type) return err_set(TM_EINVAL, "KeySchema: a HASH key is required");
    if (ks->range_type && !strcmp(ks->hash_name, ks->range_name))
        return err_set(TM_EINVAL, "KeySchema: '%s' is already the partition key", ks->range_name);
    return 0;
}

/* ---------- enc() ---------- */

static int enc_bytes(const av *v, buf *out)
{
    const unsigned char *s = (const unsigned char *)v->u.bytes;
    size_t zeros = 0;
    for (uint32_t i = 0; i < v->len; i++) zeros += s[i] == 0;
    int rc = buf_reserve(out, v->len + zeros + 2);
    if (rc) return rc;
    unsigned char *o = (unsigned char *)out->data + out->len;
    if (!zeros) {
        if (v->len) memcpy(o, s, v->len);
        o += v->len;
    } else {
        for (uint32_t i = 0; i < v->len; i++) {
            *o++ = s[i];
            if (!s[i]) *o++ = 0xFF;
        }
    }
    *o++ = 0;
    *o++ = 0;
    out->len = (size_t)(o - (unsigned char *)out->data);
    out->data[out->len] = '\0';
    return 0;
}

static int enc_num(const av *v, buf *out)
{
    const char *s = v->u.bytes;
    size_t n = v->len, i = 0;
    int neg = 0;
    if (n && s[0] == '-') { neg = 1; i = 1; }
    /* digits without the point; E = number of integer digits (or minus the leading
     * fractional zeros) */
    char dig[NUM_MAX_DIGITS + 2];
    int nd = 0, zeros = 0;       /* zeros: pending zero digits, significant only if more follow */
    long e = 0;
    int seen_point = 0, started = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '.') { seen_point = 1; continue; }
        if (c < '0' || c > '9')
            return err_set(TM_EINVAL, "key number \"%.*s\" is not canonical", (int)n, s);
        if (!started && c == '0') {
            if (seen_point) e--;
            continue;
        }
        started = 1;
        if (!seen_point) e++;
        if (c == '0') {          /* "100" -> digits "1", E = 3 */
            zeros++;
            continue;
        }
        if (nd + zeros + 1 > NUM_MAX_DIGITS)
            return err_set(TM_EINVAL, "key number \"%.*s\" has more than 38 digits", (int)n, s);
        while (zeros) {
            dig[nd++] = '0';
            zeros--;
        }
        dig[nd++] = c;
        if (e > 1000) e = 1000;
    }
    if (nd == 0) return buf_putc(out, 0x20);
    if (e < -129 || e > 126)
        return err_set(TM_EINVAL, "key number \"%.*s\" is out of range", (int)n, s);
    unsigned char b[2 + 20];
    size_t k = 0;
    b[k++] = neg ? 0x10 : 0x30;
    b[k++] = (unsigned char)(e + 129);
    if (nd % 2) dig[nd++] = '0';
    for (int d = 0; d < nd; d += 2) {
        unsigned x = (unsigned)(dig[d] - '0') * 10 + (unsigned)(dig[d + 1] - '0');
        b[k++] = (unsigned char)(d + 2 == nd ? 2 * x : 2 * x + 1);
    }
    if (neg)
        for (size_t j = 1; j < k; j++) b[j] = (unsigned char)(255 - b[j]);
    return buf_append(out, b, k);
}

static int enc_value(const av *v, buf *out)
{
    switch (v->type) {
    case AV_S: case AV_B: return enc_bytes(v, out);
    case AV_N: return enc_num(v, out);
    default: return err_set(TM_EINVAL, "a key value must be of type S, N or B");
    }
}

/* Appends the form of v: enc(v), or its long form when longer than max. */
static int enc_form(const av *v, size_t max, buf *out)
{
    size_t start = out->len;
    int rc = enc_value(v, out);
    if (rc) return rc;
    size_t n = out->len - start;
    if (n <= max) return 0;
    unsigned char *e = (unsigned char *)out->data + start;
    XXH128_hash_t h = XXH3_128bits(e, n);
    size_t keep = max - KEY_LONG_TAIL;
    /* do not cut a 0x00 0xFF escape in two (0x00 only starts escapes before the end) */
    for (size_t i = 0; i < keep; i++) {
        if (e[i] == 0) {
            if (i + 1 == keep) {
                keep--;
                break;
            }
            i++;
        }
    }
    unsigned char tail[KEY_LONG_TAIL];
    tail[0] = 0x00;
    tail[1] = 0x01;
    for (int i = 0; i < 8; i++) {
        tail[2 + i] = (unsigned char)(h.high64 >> (56 - 8 * i));
        tail[10 + i] = (unsigned char)(h.low64 >> (56 - 8 * i));
    }
    memcpy(e + keep, tail, KEY_LONG_TAIL);
    out->len = start + keep + KEY_LONG_TAIL;
    out->data[out->len] = '\0';
    return 0;
}

int key_encode_value(const av *v, buf *out)
{
    return enc_form(v, KEY_SK_FORM_MAX, out);
}

uint32_t key_hash(const av *pk)
{
    return (uint32_t)XXH3_64bits_withSeed(pk->len ? pk->u.bytes : "", pk->len, (XXH64_hash_t)pk->type);
}

/* ---------- key attributes ---------- */

static const char *tname(av_type t)
{
    return t == AV_S ? "S" : t == AV_N ? "N" : t == AV_B ? "B" : "not a key type";
}

static const char *vname(av_type t)
{
    static const char *names[] = {"?", "S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"};
    return (unsigned)t <= AV_BOOL ? names[t] : "?";
}

static int check_key(const char *name, av_type want, const av *v, int is_pk)
{
    const char *role = is_pk ? "partition key" : "sort key";
    size_t max = is_pk ? KEY_MAX_HASH : KEY_MAX_RANGE;
    if (!v)
        return err_set(TM_EINVAL, "key attribute '%s': missing (the %s)", name, role);
    if (v->type != want)
        return err_set(TM_EINVAL, "key attribute '%s': type %s does not match the %s type %s",
                       name, vname(v->type), role, tname(want));
    if (want != AV_N && v->len == 0)
        return err_set(TM_EINVAL, "key attribute '%s': empty value (a %s must be 1 to %zu bytes)",
                       name, role, max);
    if (want != AV_N && v->len > max)
        return err_set(TM_EINVAL, "key attribute '%s': %u bytes, more than the %s limit of %zu "
                       "bytes", name, v->len, role, max);
    return 0;
}

static int put_prefix(const key_schema *ks, const av *pk, buf *out)
{
    int rc = check_key(ks->hash_name, ks->hash_type, pk, 1);
    if (rc) return rc;
    unsigned char h[4];
    uint32_t x = key_hash(pk);
    h[0] = (unsigned char)(x >> 24);
    h[1] = (unsigned char)(x >> 16);
    h[2] = (unsigned char)(x >> 8);
    h[3] = (unsigned char)x;
    if ((rc = buf_append(out, h, 4))) return rc;
    return enc_form(pk, KEY_PK_FORM_MAX, out);
}

int key_encode_partition(const key_schema *ks, const av *pk, buf *out)
{
    size_t start = out->len;
    int rc = put_prefix(ks, pk, out);
    if (rc) out->len = start;
    return rc;
}

int key_encode(const key_schema *ks, const av *pk, const av *sk, buf *out)
{
    size_t start = out->len;
    int rc = 0;
    if (ks->range_type && (rc = check_key(ks->range_name, ks->range_type, sk, 0))) goto out;
    if (!ks->range_type && sk) {
        rc = err_set(TM_EINVAL, "the table has no sort key, but one was given");
        goto out;
    }
    if ((rc = put_prefix(ks, pk, out))) goto out;
    if (sk) rc = enc_form(sk, KEY_SK_FORM_MAX, out);
out:
    if (rc) {
        out->len = start;
        if (out->data) out->data[start] = '\0';
    }
    return rc;
}

int key_encode_item(const key_schema *ks, const item *it, buf *out)
{
    const av *pk = item_get(it, ks->hash_name);
    const av *sk = ks->range_type ? item_get(it, ks->range_name) : NULL;
    int rc = check_key(ks->hash_name, ks->hash_type, pk, 1);
    if (!rc && ks->range_type) rc = check_key(ks->range_name, ks->range_type, sk, 0);
    if (rc) return rc;
    return key_encode(ks, pk, sk, out);
}
