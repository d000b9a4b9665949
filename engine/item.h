/* item.h: DynamoDB attribute values and items: JSON codec, canonical binary encoding, size rules.
 *
 * An item is a top-level map of attribute name -> value (FORMATS.md section 1). Parsing validates
 * every rule (types, number range and digits, base64, sets, depth 32, name length, 400 KB) and
 * every rejection names the attribute path and the reason, e.g.
 *   "attribute 'meta.tags': duplicate value \"x\" in string set".
 *
 * The binary encoding is canonical: attributes sorted by name bytes, set members sorted, numbers
 * in canonical text, so two items are equal iff their encodings are byte-equal. It is what LMDB
 * and the change log store. Its format is specified at the top of item.c.
 *
 * Memory: an item owns an arena; every av / string reached from it stays valid until item_free
 * (or until the attribute is replaced/removed with item_put/item_remove). Names and S/N/B bytes
 * in the arena are followed by a NUL (not counted in len), so they print with %s unless they hold
 * a NUL themselves. Replaced values stay in the arena until item_free.
 *
 * Depth: a top-level attribute's value is at level 1, the members of an M or L one level deeper;
 * nothing may sit deeper than ITEM_MAX_DEPTH (AWS: 31 nested maps around a leaf are accepted,
 * 32 are not). */
#ifndef TIDEMARK_ITEM_H
#define TIDEMARK_ITEM_H

#include "engine/buf.h"
#include <stddef.h>
#include <stdint.h>

/* Value types. Stored on disk (binary encoding): never renumber. */
typedef enum av_type {
    AV_S = 1, AV_N = 2, AV_B = 3, AV_SS = 4, AV_NS = 5, AV_BS = 6,
    AV_M = 7, AV_L = 8, AV_NULL = 9, AV_BOOL = 10,
} av_type;

#define ITEM_MAX_BYTES   (400 * 1024)   /* DynamoDB item size limit */
#define ITEM_MAX_DEPTH   32
#define ITEM_MAX_NAME    65535
#define KEY_MAX_HASH     2048
#define KEY_MAX_RANGE    1024
#define NUM_MAX_DIGITS   38

typedef struct av av;
typedef struct av_attr av_attr;
struct av {
    av_type type;
    uint32_t len;          /* S, N, B: bytes; SS, NS, BS, L: elements; M: attributes */
    union {
        const char *bytes; /* S: UTF-8; N: canonical decimal text; B: raw bytes (decoded) */
        av *elems;         /* SS, NS, BS (elements are S/N/B), L */
        av_attr *attrs;    /* M, sorted by name bytes */
        int boolean;       /* BOOL */
    } u;
};
struct av_attr {
    const char *name;
    uint32_t name_len;
    av value;
};

typedef struct item item;

/* Parse flags. */
#define ITEM_PARSE_WRAPPED  0x1  /* accept {"Item":{...}} as well as a bare item */
#define ITEM_PARSE_NOLIMITS 0x2  /* skip the 400 KB item-size check (expression value maps) */

/* Parses one DynamoDB-JSON item. TM_EINVAL / TM_ELIMIT with a message naming the attribute. */
int item_parse_json(const char *json, size_t len, unsigned flags, item **out);
/* Appends compact DynamoDB JSON ({"a":{"S":"x"}}), attributes in name order. */
int item_write_json(const item *it, buf *out);
/* Canonical binary encoding (appends). */
int item_encode(const item *it, buf *out);
int item_decode(const void *p, size_t n, item **out);      /* TM_ECORRUPT on bad bytes */
/* Binary -> compact JSON without building a tree (the export hot path). */
int item_bin_write_json(const void *p, size_t n, buf *out);
/* Binary -> the DynamoDB JSON of only the named attributes, in the order given (export Keys). */
int item_bin_write_keys_json(const void *p, size_t n, const char *const *names, int count, buf *out);
/* Finds a top-level attribute in a binary item without decoding all of it. NULL if absent.
 * vp and vn receive the encoded value (type byte included); decode with av_decode_bin.
 * Returns 0 whether found or not (vp NULL and vn 0 when absent), TM_ECORRUPT on bad bytes.
 * vp points into p and is valid as long as p is. */
int item_bin_find(const void *p, size_t n, const char *name, size_t name_len,
                  const void **vp, size_t *vn);
/* Decodes one encoded value (as item_bin_find returns it) into arena_owner's arena, as a
 * top-level attribute value (nesting level 1). TM_ECORRUPT on bad bytes. */
int av_decode_bin(const void *p, size_t n, item *arena_owner, av *out);

item *item_new(void);
void item_free(item *it);
item *item_dup(const item *it);
uint32_t item_count(const item *it);
const av_attr *item_attr(const item *it, uint32_t i);        /* in name order */
const av *item_get(const item *it, const char *name);       /* NULL if absent */
/* Sets name = deep copy of v (replacing). Validates depth/name, not item size. The copy is
 * canonicalised: numbers rewritten canonically, map members sorted (duplicate names rejected),
 * set members sorted with duplicates dropped (empty sets rejected); errors name the attribute. */
int item_put(item *it, const char *name, const av *v);
int item_remove(item *it, const char *name);                 /* absent is not an error */
/* DynamoDB size in bytes (FORMATS.md section 1). */
size_t item_size(const item *it);
/* The same from the binary encoding (decodes it: TM_ECORRUPT on bad bytes). */
int item_encoded_size(const void *p, size_t n, uint32_t *size);
/* Re-checks the 400 KB limit after updates; TM_ELIMIT naming the size. */
int item_check_size(const item *it);

int av_equal(const av *a, const av *b);
/* Orders two S, N or B values of the same type the DynamoDB way (S/B bytewise, N by value). */
int av_compare(const av *a, const av *b);
int av_write_json(const av *v, buf *out);
/* Parses one typed value ({"N":"5"}); name is used in error messages. */
int av_parse_json(const char *json, size_t len, const char *name, item *arena_owner, av *out);

/* Numbers: canonicalises decimal text (38 digits, range 1E-130 .. <1E126). TM_EINVAL with why. */
int num_canonical(const char *s, size_t n, buf *out);
/* Compares two canonical decimal strings by value. */
int num_compare(const char *a, size_t an, const char *b, size_t bn);

#endif
