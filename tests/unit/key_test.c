/* key_test.c: unit tests of engine/key (key specs, order-preserving encoding, limits, hash). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/err.h"
#include "engine/item.h"
#include "engine/key.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sign(int c) { return (c > 0) - (c < 0); }

static int mem_order(const buf *a, const buf *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->data, b->data, n);
    if (c) return sign(c);
    return a->len == b->len ? 0 : a->len < b->len ? -1 : 1;
}

/* For every pair: memcmp(enc(a), enc(b)) has the sign of av_compare(a, b), and the same holds
 * for full LMDB keys with one partition key, which also checks prefix-freeness. */
static void check_order(const av *vals, size_t n)
{
    key_schema ks = {"pk", AV_S, "sk", vals[0].type};
    av pk = {AV_S, 4, {.bytes = "part"}};
    buf *enc = calloc(n, sizeof *enc), *full = calloc(n, sizeof *full);
    for (size_t i = 0; i < n; i++) {
        enc[i].max = full[i].max = BUF_DEFAULT_MAX;
        int rc = key_encode_value(&vals[i], &enc[i]);
        if (rc) print_error("%s\n", err_msg());
        assert_int_equal(rc, 0);
        assert_int_equal(key_encode(&ks, &pk, &vals[i], &full[i]), 0);
        assert_true(full[i].len <= KEY_ENC_MAX);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int want = sign(av_compare(&vals[i], &vals[j]));
            if (mem_order(&enc[i], &enc[j]) != want || mem_order(&full[i], &full[j]) != want)
                fail_msg("pair %zu/%zu (%.*s vs %.*s): encoded order differs from DynamoDB order %d",
                         i, j, (int)(vals[i].len > 40 ? 40 : vals[i].len), vals[i].u.bytes,
                         (int)(vals[j].len > 40 ? 40 : vals[j].len), vals[j].u.bytes, want);
        }
    for (size_t i = 0; i < n; i++) {
        buf_free(&enc[i]);
        buf_free(&full[i]);
    }
    free(enc);
    free(full);
}

/* ------------------------------------------------------------------------------------- */

static void test_parse_spec(void **state)
{
    (void)state;
    static const struct { const char *spec; int rc; const char *name; av_type type; } cases[] = {
        {"pk:S", 0, "pk", AV_S},
        {"user_id:N", 0, "user_id", AV_N},
        {"blob:B", 0, "blob", AV_B},
        {"a:b:S", 0, "a:b", AV_S},          /* the last colon separates */
        {"pk", TM_EINVAL, NULL, 0},
        {":S", TM_EINVAL, NULL, 0},
        {"pk:", TM_EINVAL, NULL, 0},
        {"pk:X", TM_EINVAL, NULL, 0},
        {"pk:SS", TM_EINVAL, NULL, 0},
        {"pk:s", TM_EINVAL, NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[KEY_NAME_MAX + 1] = "";
        av_type t = 0;
        int rc = key_parse_spec(cases[i].spec, name, &t);
        if (rc != cases[i].rc) fail_msg("%s: rc %d", cases[i].spec, rc);
        if (!rc) {
            assert_string_equal(name, cases[i].name);
            assert_int_equal(t, cases[i].type);
        } else {
            assert_non_null(strstr(err_msg(), cases[i].spec));
        }
    }
    char longspec[KEY_NAME_MAX + 8], name[KEY_NAME_MAX + 1];
    av_type t;
    memset(longspec, 'n', KEY_NAME_MAX);
    strcpy(longspec + KEY_NAME_MAX, ":S");
    assert_int_equal(key_parse_spec(longspec, name, &t), 0);
    assert_int_equal(strlen(name), KEY_NAME_MAX);
    memset(longspec, 'n', KEY_NAME_MAX + 1);
    strcpy(longspec + KEY_NAME_MAX + 1, ":S");
    assert_int_equal(key_parse_spec(longspec, name, &t), TM_EINVAL);
}

/* ------------------------------------------------------------------------------------- */

static const char *const number_texts[] = {
    "-9.9999999999999999999999999999999999999E+125", "-1E100",
    "-12345678901234567890123456789012345678", "-12345678901234567890123456789012345677",
    "-1000", "-999.99", "-100.5", "-100", "-99", "-10.01", "-10", "-9.5", "-9", "-1.5",
    "-1.0000000000000000000000000000000000001", "-1", "-0.99", "-0.5", "-0.0500001", "-0.05",
    "-1E-129", "-1E-130", "0", "1E-130", "2E-130", "1E-129", "0.05", "0.0500000000000000000000000000000000001",
    "0.1", "0.12", "0.1201", "0.5", "0.99", "1", "1.0000000000000000000000000000000000001", "1.5",
    "2", "9", "10", "10.01", "11", "99", "99.5", "100", "101", "1000", "12345678901234567890123456789012345677",
    "12345678901234567890123456789012345678", "1E100", "1.5E100",
    "9.9999999999999999999999999999999999999E+125",
};

static av *canon_numbers(const char *const *texts, size_t n, buf **store)
{
    av *v = calloc(n, sizeof *v);
    *store = calloc(n, sizeof **store);
    for (size_t i = 0; i < n; i++) {
        (*store)[i].max = BUF_DEFAULT_MAX;
        assert_int_equal(num_canonical(texts[i], strlen(texts[i]), &(*store)[i]), 0);
        v[i] = (av){AV_N, (uint32_t)(*store)[i].len, {.bytes = (*store)[i].data}};
    }
    return v;
}

static void test_order_numbers(void **state)
{
    (void)state;
    size_t n = sizeof number_texts / sizeof number_texts[0];
    buf *store;
    av *v = canon_numbers(number_texts, n, &store);
    /* the table is sorted: av_compare agrees, and so do the encodings */
    for (size_t i = 0; i + 1 < n; i++)
        if (av_compare(&v[i], &v[i + 1]) >= 0) fail_msg("table not sorted at %s", number_texts[i]);
    check_order(v, n);
    for (size_t i = 0; i < n; i++) buf_free(&store[i]);
    free(store);
    free(v);
}

/* Random numbers: 1..38 digits, any exponent in range, either sign. */
static void test_order_numbers_random(void **state)
{
    (void)state;
    enum { N = 400 };
    char texts[N][64];
    const char *ptr[N];
    srand(12345);
    for (int i = 0; i < N; i++) {
        int nd = 1 + rand() % 38, e = -129 + rand() % 200;
        char *p = texts[i];
        if (rand() % 2) *p++ = '-';
        *p++ = '0';
        *p++ = '.';
        for (int d = 0; d < nd; d++) *p++ = (char)('0' + (d == 0 ? 1 + rand() % 9 : rand() % 10));
        /* nearby values share prefixes: sometimes copy a previous mantissa and change the tail */
        if (i > 0 && rand() % 3 == 0) {
            memcpy(texts[i], texts[i - 1], sizeof texts[i]);
            p = strchr(texts[i], 'E');
            if (p) *p = '\0';
            p = texts[i] + strlen(texts[i]);
            if (p - texts[i] < 40) *p++ = (char)('1' + rand() % 9);
        }
        sprintf(p, "E%d", e);
        ptr[i] = texts[i];
    }
    buf *store;
    av *v = canon_numbers(ptr, N, &store);
    check_order(v, N);
    for (int i = 0; i < N; i++) buf_free(&store[i]);
    free(store);
    free(v);
}

static void test_order_strings_and_binary(void **state)
{
    (void)state;
    /* DynamoDB: "Z" < "a" < "¿" (UTF-8 bytes), a prefix before its extensions */
    static const struct { const char *s; uint32_t n; } ss[] = {
        {"Z", 1}, {"a", 1}, {"a\0", 2}, {"a\0\0", 3}, {"a\0\x01", 3}, {"a\x01", 2}, {"ab", 2},
        {"ab\xff", 3}, {"b", 1}, {"\xc2\xbf", 2}, {"\xe2\x82\xac", 3}, {"\xf0\x9f\x98\x80", 4},
        {"\0", 1}, {"\0\xff", 2}, {"\x01", 1}, {"\xff", 1}, {"\xff\xff", 2}, {"\xff\0", 2},
    };
    size_t n = sizeof ss / sizeof ss[0];
    av v[sizeof ss / sizeof ss[0]];
    for (av_type t = AV_S; t <= AV_B; t = (av_type)(t + 2)) {   /* S then B */
        for (size_t i = 0; i < n; i++) v[i] = (av){t, ss[i].n, {.bytes = ss[i].s}};
        check_order(v, n);
    }
    /* pinned bytes: zero escaped as 00 FF, terminator 00 00 */
    buf b = BUF_INIT;
    av z = {AV_B, 3, {.bytes = "a\0b"}};
    assert_int_equal(key_encode_value(&z, &b), 0);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "a\0\xff" "b\0\0", 6);
    buf_free(&b);
}

static void test_number_bytes_pinned(void **state)
{
    (void)state;
    static const struct { const char *n; const char *enc; size_t len; } cases[] = {
        {"0", "\x20", 1},
        {"1", "\x30\x82\x14", 3},              /* E = 1: 129 + 1; pair 10 last: 20 */
        {"-1", "\x10\x7d\xeb", 3},             /* complemented */
        {"12.5", "\x30\x83\x19\x64", 4},       /* pairs 12 (2*12+1), 50 (2*50) */
        {"0.001", "\x30\x7f\x14", 3},          /* E = -2 */
        {"1E-130", "\x30\x00\x14", 3},         /* smallest exponent byte */
        {"9E125", "\x30\xff\xb4", 3},          /* largest exponent byte; pair 90 -> 180 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf c = BUF_INIT, e = BUF_INIT;
        assert_int_equal(num_canonical(cases[i].n, strlen(cases[i].n), &c), 0);
        av v = {AV_N, (uint32_t)c.len, {.bytes = c.data}};
        assert_int_equal(key_encode_value(&v, &e), 0);
        if (e.len != cases[i].len || memcmp(e.data, cases[i].enc, e.len))
            fail_msg("%s: encoding differs (len %zu)", cases[i].n, e.len);
        buf_free(&c);
        buf_free(&e);
    }
}

/* ------------------------------------------------------------------------------------- */

static char *filled(size_t n, char c)
{
    char *p = malloc(n + 1);
    memset(p, c, n);
    p[n] = '\0';
    return p;
}

static void test_key_limits(void **state)
{
    (void)state;
    key_schema ks = {"pk", AV_S, "sk", AV_B};
    char *s2048 = filled(2049, 'p'), *b1025 = filled(1025, 'q');
    buf k = BUF_INIT;
    struct { uint32_t pl, sl; int rc; const char *msg; } cases[] = {
        {2048, 1024, 0, NULL},
        {2049, 1024, TM_EINVAL, "key attribute 'pk': 2049 bytes, more than the partition key limit of 2048 bytes"},
        {2048, 1025, TM_EINVAL, "key attribute 'sk': 1025 bytes, more than the sort key limit of 1024 bytes"},
        {1, 1, 0, NULL},
        {0, 1, TM_EINVAL, "key attribute 'pk': empty value"},
        {1, 0, TM_EINVAL, "key attribute 'sk': empty value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        av pk = {AV_S, cases[i].pl, {.bytes = s2048}}, sk = {AV_B, cases[i].sl, {.bytes = b1025}};
        buf_reset(&k);
        int rc = key_encode(&ks, &pk, &sk, &k);
        if (rc != cases[i].rc) fail_msg("case %zu: rc %d (%s)", i, rc, err_msg());
        if (rc) {
            if (!strstr(err_msg(), cases[i].msg)) fail_msg("case %zu: '%s'", i, err_msg());
            assert_int_equal(k.len, 0);
        } else {
            assert_true(k.len <= KEY_ENC_MAX);
        }
        /* and the same through an item */
        item *it = item_new();
        assert_int_equal(item_put(it, "pk", &pk), 0);
        assert_int_equal(item_put(it, "sk", &sk), 0);
        buf_reset(&k);
        assert_int_equal(key_encode_item(&ks, it, &k), cases[i].rc);
        if (rc) assert_non_null(strstr(err_msg(), cases[i].msg));
        item_free(it);
    }
    /* missing, wrong type, a sort key the table does not have */
    item *it = item_new();
    av s = {AV_S, 1, {.bytes = "x"}}, n = {AV_N, 1, {.bytes = "5"}};
    assert_int_equal(item_put(it, "sk", &s), 0);
    assert_int_equal(key_encode_item(&ks, it, &k), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "key attribute 'pk': missing"));
    assert_int_equal(item_put(it, "pk", &n), 0);
    assert_int_equal(key_encode_item(&ks, it, &k), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "key attribute 'pk': type N does not match the partition key type S"));
    assert_int_equal(item_put(it, "pk", &s), 0);
    assert_int_equal(key_encode_item(&ks, it, &k), TM_EINVAL);
    assert_non_null(strstr(err_msg(), "key attribute 'sk': type S does not match the sort key type B"));
    key_schema hash_only = {"pk", AV_S, "", 0};
    buf_reset(&k);
    assert_int_equal(key_encode_item(&hash_only, it, &k), 0);   /* other attributes ignored */
    assert_int_equal(key_encode(&hash_only, &s, &s, &k), TM_EINVAL);
    item_free(it);
    free(s2048);
    free(b1025);
    buf_free(&k);
}

/* Keys past LMDB's 511 bytes: unique, bounded, partition prefix exact, lookups consistent. */
static void test_long_keys(void **state)
{
    (void)state;
    key_schema ks = {"pk", AV_S, "sk", AV_S};
    char *p1 = filled(2048, 'p'), *p2 = filled(2048, 'p'), *s1 = filled(1024, 's'), *s2 = filled(1024, 's');
    p2[2047] = 'q';
    s2[1023] = 't';
    av pk1 = {AV_S, 2048, {.bytes = p1}}, pk2 = {AV_S, 2048, {.bytes = p2}};
    av sk1 = {AV_S, 1024, {.bytes = s1}}, sk2 = {AV_S, 1024, {.bytes = s2}};
    buf k11 = BUF_INIT, k12 = BUF_INIT, k21 = BUF_INIT, part1 = BUF_INIT, e1 = BUF_INIT, e2 = BUF_INIT;
    assert_int_equal(key_encode(&ks, &pk1, &sk1, &k11), 0);
    assert_int_equal(key_encode(&ks, &pk1, &sk2, &k12), 0);
    assert_int_equal(key_encode(&ks, &pk2, &sk1, &k21), 0);
    assert_true(k11.len <= KEY_ENC_MAX && k12.len <= KEY_ENC_MAX && k21.len <= KEY_ENC_MAX);
    /* differ only at the last byte of the pk or sk, still different keys */
    assert_true(mem_order(&k11, &k12) != 0);
    assert_true(mem_order(&k11, &k21) != 0);
    /* the partition prefix starts every key of that partition and no key of the other */
    assert_int_equal(key_encode_partition(&ks, &pk1, &part1), 0);
    assert_true(part1.len < k11.len);
    assert_memory_equal(part1.data, k11.data, part1.len);
    assert_memory_equal(part1.data, k12.data, part1.len);
    assert_true(k21.len < part1.len || memcmp(part1.data, k21.data, part1.len) != 0);
    /* key_encode_value gives exactly the stored sort-key bytes (equality lookups) */
    assert_int_equal(key_encode_value(&sk1, &e1), 0);
    assert_int_equal(key_encode_value(&sk2, &e2), 0);
    assert_int_equal(part1.len + e1.len, k11.len);
    assert_memory_equal(k11.data + part1.len, e1.data, e1.len);
    assert_true(mem_order(&e1, &e2) != 0);
    /* long sort keys that differ early keep their order */
    char *s3 = filled(1024, 's');
    s3[10] = 'a';
    av sk3 = {AV_S, 1024, {.bytes = s3}};
    buf k13 = BUF_INIT;
    assert_int_equal(key_encode(&ks, &pk1, &sk3, &k13), 0);
    assert_int_equal(mem_order(&k13, &k11), -1);
    /* a short sort key still sorts against long ones by value when they differ early */
    av short_sk = {AV_S, 1, {.bytes = "t"}};
    buf ks1 = BUF_INIT;
    assert_int_equal(key_encode(&ks, &pk1, &short_sk, &ks1), 0);
    assert_int_equal(mem_order(&k11, &ks1), -1);
    free(p1); free(p2); free(s1); free(s2); free(s3);
    buf_free(&k11); buf_free(&k12); buf_free(&k21); buf_free(&k13); buf_free(&ks1);
    buf_free(&part1); buf_free(&e1); buf_free(&e2);
}

/* Zero bytes escape to two bytes; a cut must never split 00 FF, and values that differ only
 * after the cut still get different keys. Try every alignment of a zero run around the cut. */
static void test_long_form_escape_cut(void **state)
{
    (void)state;
    for (size_t zpos = 400; zpos < 440; zpos++) {
        unsigned char a[1024], b[1024];
        memset(a, 'x', sizeof a);
        for (size_t i = zpos; i < zpos + 30 && i < sizeof a; i++) a[i] = 0;
        memcpy(b, a, sizeof b);
        b[1023] = 'y';
        av va = {AV_B, 1024, {.bytes = (const char *)a}}, vb = {AV_B, 1024, {.bytes = (const char *)b}};
        buf ea = BUF_INIT, eb = BUF_INIT;
        assert_int_equal(key_encode_value(&va, &ea), 0);
        assert_int_equal(key_encode_value(&vb, &eb), 0);
        assert_true(ea.len <= KEY_ENC_MAX - 4 - 64);
        assert_true(mem_order(&ea, &eb) != 0);
        /* the marker 00 01 follows a whole escape: the byte before the marker is not a lone 00 */
        size_t m = ea.len - 18;
        assert_int_equal((unsigned char)ea.data[m], 0x00);
        assert_int_equal((unsigned char)ea.data[m + 1], 0x01);
        size_t zeros = 0;
        for (size_t i = 0; i < m; i++)
            if (ea.data[i] == 0) {
                assert_true(i + 1 < m);
                assert_int_equal((unsigned char)ea.data[i + 1], 0xff);
                i++;
                zeros++;
            }
        buf_free(&ea);
        buf_free(&eb);
    }
}

/* ------------------------------------------------------------------------------------- */

static void test_hash_stable(void **state)
{
    (void)state;
    /* stored order depends on these values: they must never change */
    av s = {AV_S, 1, {.bytes = "a"}}, n = {AV_N, 1, {.bytes = "1"}}, s1 = {AV_S, 1, {.bytes = "1"}};
    av b = {AV_B, 1, {.bytes = "a"}};
    assert_int_equal(key_hash(&s), 0x6f37a720u);
    assert_int_not_equal(key_hash(&n), key_hash(&s1));     /* the type is part of the hash */
    assert_int_not_equal(key_hash(&b), key_hash(&s));
    key_schema ks = {"pk", AV_S, "", 0};
    buf k = BUF_INIT;
    assert_int_equal(key_encode(&ks, &s, NULL, &k), 0);
    assert_int_equal(key_hash_of(k.data), 0x6f37a720u);
    assert_int_equal(k.len, 4 + 3);
    assert_memory_equal(k.data, "\x6f\x37\xa7\x20" "a\0\0", 7);
    buf_free(&k);
}

/* KeySchema + AttributeDefinitions, as CreateTable sends them and DescribeTable answers. */
static void test_schema_from_json(void **state)
{
    (void)state;
    static const struct {
        const char *keys, *defs;
        const char *err;        /* NULL: parses to pk S [, sk N] */
        int range;
    } cases[] = {
        {"[{'AttributeName':'pk','KeyType':'HASH'}]", "[{'AttributeName':'pk','AttributeType':'S'}]", NULL, 0},
        {"[{'AttributeName':'sk','KeyType':'RANGE'},{'AttributeName':'pk','KeyType':'HASH'}]",
         "[{'AttributeName':'sk','AttributeType':'N'},{'AttributeName':'pk','AttributeType':'S'}]", NULL, 1},
        {NULL, "[]", "KeySchema is required", 0},
        {"[]", "[]", "KeySchema is required", 0},
        {"[{'AttributeName':'pk','KeyType':'HASH'}]", "[{'AttributeName':'pk','AttributeType':'SS'}]",
         "no type S, N or B for key attribute 'pk'", 0},
        {"[{'AttributeName':'pk','KeyType':'HASH'}]", NULL, "no type S, N or B for key attribute 'pk'", 0},
        {"[{'AttributeName':'pk','KeyType':'PART'}]", "[{'AttributeName':'pk','AttributeType':'S'}]",
         "each element needs", 0},
        {"[{'KeyType':'HASH'}]", "[]", "each element needs", 0},
        {"[{'AttributeName':'pk','KeyType':'HASH'},{'AttributeName':'x','KeyType':'HASH'}]",
         "[{'AttributeName':'pk','AttributeType':'S'},{'AttributeName':'x','AttributeType':'S'}]",
         "more than one HASH key", 0},
        {"[{'AttributeName':'sk','KeyType':'RANGE'}]", "[{'AttributeName':'sk','AttributeType':'N'}]",
         "a HASH key is required", 0},
        {"[{'AttributeName':'pk','KeyType':'HASH'},{'AttributeName':'pk','KeyType':'RANGE'}]",
         "[{'AttributeName':'pk','AttributeType':'S'}]", "'pk' is already the partition key", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, "{%s%s%s%s%s%s}", cases[i].keys ? "'KeySchema':" : "",
                 cases[i].keys ? cases[i].keys : "", cases[i].keys && cases[i].defs ? "," : "",
                 cases[i].defs ? "'AttributeDefinitions':" : "", cases[i].defs ? cases[i].defs : "", "");
        for (char *c = text; *c; c++) if (*c == '\'') *c = '"';
        cJSON *j = cJSON_Parse(text);
        assert_non_null(j);
        key_schema ks;
        int rc = key_schema_from_json(j, &ks);
        cJSON_Delete(j);
        if (!cases[i].err) {
            assert_int_equal(rc, 0);
            assert_string_equal(ks.hash_name, "pk");
            assert_int_equal(ks.hash_type, AV_S);
            assert_string_equal(ks.range_name, cases[i].range ? "sk" : "");
            assert_int_equal(ks.range_type, cases[i].range ? AV_N : 0);
            continue;
        }
        assert_int_equal(rc, TM_EINVAL);
        if (!strstr(err_msg(), cases[i].err)) fail_msg("case %zu: '%s' lacks '%s'", i, err_msg(), cases[i].err);
    }
    /* a name longer than KEY_NAME_MAX */
    char name[KEY_NAME_MAX + 2], text[2 * KEY_NAME_MAX + 200];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    snprintf(text, sizeof text, "{\"KeySchema\":[{\"AttributeName\":\"%s\",\"KeyType\":\"HASH\"}],"
             "\"AttributeDefinitions\":[{\"AttributeName\":\"%s\",\"AttributeType\":\"S\"}]}", name, name);
    cJSON *j = cJSON_Parse(text);
    key_schema ks;
    assert_int_equal(key_schema_from_json(j, &ks), TM_EINVAL);
    name[KEY_NAME_MAX] = '\0';      /* exactly KEY_NAME_MAX: fits */
    cJSON_Delete(j);
    snprintf(text, sizeof text, "{\"KeySchema\":[{\"AttributeName\":\"%s\",\"KeyType\":\"HASH\"}],"
             "\"AttributeDefinitions\":[{\"AttributeName\":\"%s\",\"AttributeType\":\"B\"}]}", name, name);
    j = cJSON_Parse(text);
    assert_int_equal(key_schema_from_json(j, &ks), 0);
    assert_string_equal(ks.hash_name, name);
    assert_int_equal(ks.hash_type, AV_B);
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_spec),
        cmocka_unit_test(test_order_numbers),
        cmocka_unit_test(test_order_numbers_random),
        cmocka_unit_test(test_order_strings_and_binary),
        cmocka_unit_test(test_number_bytes_pinned),
        cmocka_unit_test(test_key_limits),
        cmocka_unit_test(test_long_keys),
        cmocka_unit_test(test_long_form_escape_cut),
        cmocka_unit_test(test_hash_stable),
        cmocka_unit_test(test_schema_from_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
