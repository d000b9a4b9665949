/* key.h: key schemas, order-preserving key encoding and partition hashing.
 *
 * The LMDB key of an item is  hash32(partition key) (4 bytes, big-endian) | enc(pk) | enc(sk).
 * The hash prefix groups a partition's items together and makes scan segments and export
 * partitions contiguous key ranges; enc() preserves DynamoDB order inside a partition
 * (S and B bytewise unsigned, N by numeric value). The exact encoding is at the top of key.c. */
#ifndef TIDEMARK_KEY_H
#define TIDEMARK_KEY_H

#include "engine/buf.h"
#include "engine/item.h"
#include <stdint.h>

#define KEY_NAME_MAX 255
#define KEY_ENC_MAX  511        /* LMDB's key limit in Debian's build */

typedef struct key_schema {
    char hash_name[KEY_NAME_MAX + 1];
    av_type hash_type;          /* AV_S, AV_N or AV_B */
    char range_name[KEY_NAME_MAX + 1];
    av_type range_type;         /* 0 when the table has no sort key */
} key_schema;

/* Parses "Name:S" into name/type. TM_EINVAL naming the text. */
int key_parse_spec(const char *spec, char *name, av_type *type);

struct cJSON;
/* The key schema of an object with KeySchema and AttributeDefinitions (a CreateTable request,
 * a DescribeTable TableDescription): one HASH key, at most one RANGE key, each typed S, N or B.
 * TM_EINVAL saying what is wrong ("KeySchema: a HASH key is required"). */
int key_schema_from_json(const struct cJSON *obj, key_schema *ks);

/* Encodes the key of an item. TM_EINVAL naming the attribute when a key attribute is missing,
 * of the wrong type, empty, or too long. */
int key_encode_item(const key_schema *ks, const item *it, buf *out);
/* Encodes from values (sk may be NULL when the schema has no sort key). */
int key_encode(const key_schema *ks, const av *pk, const av *sk, buf *out);
/* Encodes only hash prefix + enc(pk): every item of that partition starts with it. */
int key_encode_partition(const key_schema *ks, const av *pk, buf *out);
/* Appends enc(v) of one S/N/B value (order-preserving, self-delimiting). */
int key_encode_value(const av *v, buf *out);

/* The 32-bit partition hash of a partition-key value (stable across versions: stored order). */
uint32_t key_hash(const av *pk);
/* The hash prefix of an encoded key. */
static inline uint32_t key_hash_of(const void *enc)
{
    const unsigned char *c = enc;
    return (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3];
}

#endif
